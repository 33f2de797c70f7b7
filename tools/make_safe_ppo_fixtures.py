"""Reference values for Reins' Safe RLHF (PPO-Lagrangian) advantage stage, written independently in PyTorch.

As safe-rlhf's ppo_lag trainer builds it: the per-token KL estimate k1 = logp - logp_ref; the reward's token signal is
-beta/2 * k1 with the reward model's score added at each response's last token, the cost's is +beta/2 * k1 with the
cost added there; GAE(gamma, lambda) runs backwards over each padded row against its own critic's values (masked to the
response, so the value after the last token is 0), returns = advantages + values; the policy's advantage is
(A_r - l * A_c) / (1 + l) for the multiplier l. Reins then whitens it over the response tokens as TRL's masked_whiten
does (mean and unbiased variance over the mask, rsqrt(var + 1e-8)), which the script does last.

Output: tests/fixtures/safe_ppo.json. Run from the repository root with Debian's PyTorch:
    /usr/bin/python3 tools/make_safe_ppo_fixtures.py
"""
import json
import os

import torch

torch.manual_seed(23)
ROWS, WIDTH = 3, 5
LENGTHS = [5, 3, 4]
BETA, GAMMA, LAM, MULTIPLIER = 0.2, 0.9, 0.95, 1.7

mask = torch.tensor([[1.0 if t < n else 0.0 for t in range(WIDTH)] for n in LENGTHS], dtype=torch.float64)
logp = -(torch.rand(ROWS, WIDTH, dtype=torch.float64) * 2 + 0.05) * mask
ref = (logp + (torch.rand(ROWS, WIDTH, dtype=torch.float64) - 0.5)) * mask
reward_values = torch.randn(ROWS, WIDTH, dtype=torch.float64) * mask
cost_values = torch.randn(ROWS, WIDTH, dtype=torch.float64) * mask
scores = torch.tensor([0.8, -0.3, 1.2], dtype=torch.float64)
costs = torch.tensor([-0.5, 1.1, 0.4], dtype=torch.float64)

kl = (logp - ref) * mask
end = torch.tensor([n - 1 for n in LENGTHS])
rewards = torch.scatter_add(-0.5 * BETA * kl, -1, end.unsqueeze(-1), scores.unsqueeze(-1))
cost_rewards = torch.scatter_add(0.5 * BETA * kl, -1, end.unsqueeze(-1), costs.unsqueeze(-1))


def gae(values, signal):
    values, signal = values * mask, signal * mask
    last, reversed_advantages = 0.0, []
    for t in reversed(range(WIDTH)):
        next_values = values[:, t + 1] if t < WIDTH - 1 else torch.zeros(ROWS, dtype=torch.float64)
        delta = signal[:, t] + GAMMA * next_values - values[:, t]
        last = delta + GAMMA * LAM * last
        reversed_advantages.append(last)
    advantages = torch.stack(reversed_advantages[::-1], dim=1) * mask
    return advantages, (advantages + values) * mask


reward_advantages, reward_returns = gae(reward_values, rewards)
cost_advantages, cost_returns = gae(cost_values, cost_rewards)
combined = (reward_advantages - MULTIPLIER * cost_advantages) / (1 + MULTIPLIER)
count = mask.sum()
mean = (combined * mask).sum() / count
variance = (((combined - mean) ** 2) * mask).sum() / count * count / (count - 1)
whitened = (combined - mean) * torch.rsqrt(variance + 1e-8) * mask


def flat(x):
    return x.reshape(-1).tolist()


out = {"lengths": LENGTHS, "width": WIDTH, "beta": BETA, "gamma": GAMMA, "lam": LAM, "lambda": MULTIPLIER,
       "logprobs": flat(logp), "ref_logprobs": flat(ref), "reward_values": flat(reward_values), "cost_values": flat(cost_values),
       "scores": scores.tolist(), "costs": costs.tolist(),
       "reward_returns": flat(reward_returns), "cost_returns": flat(cost_returns), "advantages": flat(whitened),
       "non_score_reward": (-0.5 * BETA * kl.sum(-1)).mean().item()}
path = os.path.join("tests", "fixtures", "safe_ppo.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print(f"{path}: advantages {[round(x, 4) for x in flat(whitened)]}")
