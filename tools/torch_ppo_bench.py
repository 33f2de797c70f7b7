"""PyTorch CPU anchor for `reins bench ppo`: where the time of one PPO step goes.

Four models of the config's size, all the GPT-2-style decoder of ../shared/anchors/pytorch_cpu_anchor.py (loaded
from there, relative to the repository root): the policy (tied LM head), a frozen reference (the policy's initial
weights), a critic (the policy's trunk with nn.Linear(d, 1, bias=False) read at every position) and a reward model
(a fresh trunk with the same scalar head read at each sequence's last token). One step, as PpoTrainer takes it:
  generation  8 prompts of 64 random tokens, up to 64 new tokens sampled at temperature 1 with the KV cache, per-token
              log-probs kept; a row ends at EOS (the last id), and decoding stops when every row has ended
  reward      the reward model over prompt + completion
  reference   the reference's log-probs of the completion tokens
  critic      the critic's values before each completion token
  advantages  token rewards -kl_coef * k1 with the score at the last token, GAE (gamma 1, lambda 0.95), whitened
  update      one epoch of one mini-batch of 8: policy forward (LM head on the completion positions only), clipped
              surrogate (0.2), entropy without gradient; critic forward, clipped value loss (0.2) times vf_coef 0.1;
              backward, gradient norms clipped to 1, one AdamW step each (lr 1e-5, no weight decay)
One warm-up step, then 3 timed ones. Prints one JSON line per thread setting, then the best (by steps_per_s):
    {"bench":"ppo","config":"small","threads":T,"rollout_tokens_per_s":X,"train_tokens_per_s":Y,"share_generation":…}
rollout_tokens_per_s is generated tokens per second of generation; train_tokens_per_s is prompt + completion tokens
per second of update. Run with Debian's PyTorch:  /usr/bin/python3 tools/torch_ppo_bench.py [config] [threads|best]
"""
import copy
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from anchor_peak_rss import load_anchor, run_best_of_threads  # tools/ is this script's directory, so it is on sys.path

PROMPTS, PROMPT_TOKENS, NEW_TOKENS, STEPS = 8, 64, 64, 3
KL_COEF, GAMMA, LAM, CLIP, CLIP_VALUE, VF_COEF, LR = 0.05, 1.0, 0.95, 0.2, 0.2, 0.1, 1e-5


def trunk(gpt, idx):
    """The decoder's final hidden states [B, T, d] (the anchor's forward without its LM head)."""
    x = gpt.wte(idx) + gpt.wpe(torch.arange(idx.shape[1]))
    for b in gpt.blocks:
        x = b(x)
    return gpt.ln(x)


class ScalarHead(nn.Module):
    """A trunk with a scalar score head (transformers' GPT2ForSequenceClassification): critic and reward model."""

    def __init__(self, gpt, d):
        super().__init__()
        self.gpt = gpt
        self.score = nn.Linear(d, 1, bias=False)

    def forward(self, idx):
        return self.score(trunk(self.gpt, idx)).squeeze(-1)


def generate(policy, prompts, eos):
    caches = [dict() for _ in policy.blocks]
    logits = policy(prompts, caches, 0)[:, -1]
    pos, tokens, logps = prompts.shape[1], [], []
    done = torch.zeros(prompts.shape[0], dtype=torch.bool)
    for _ in range(NEW_TOKENS):
        logp = F.log_softmax(logits, -1)
        nxt = torch.multinomial(logp.exp(), 1).squeeze(-1)
        tokens.append(nxt)
        logps.append(logp.gather(-1, nxt[:, None]).squeeze(-1))
        done = done | (nxt == eos)
        if done.all() or len(tokens) == NEW_TOKENS:
            break
        logits = policy(nxt[:, None], caches, pos)[:, -1]
        pos += 1
    tokens, logps = torch.stack(tokens, 1), torch.stack(logps, 1)
    # A row's tokens after its first EOS are padding: masked out of every loss.
    after_eos = (tokens == eos).long().cumsum(1) - (tokens == eos).long()
    mask = (after_eos == 0).float()
    return tokens, logps, mask


def completion_logprobs(gpt, ids, width):
    hidden = trunk(gpt, ids)[:, PROMPT_TOKENS - 1:PROMPT_TOKENS - 1 + width]
    logits = F.linear(hidden, gpt.wte.weight)
    return F.log_softmax(logits, -1).gather(-1, ids[:, PROMPT_TOKENS:, None]).squeeze(-1), logits


def whiten(x, mask):
    mean = (x * mask).sum() / mask.sum()
    var = ((x - mean) ** 2 * mask).sum() / (mask.sum() - 1)
    return (x - mean) * torch.rsqrt(var + 1e-8) * mask


def bench(name, threads):
    anchor = load_anchor()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c = anchor.CONFIGS[name]
    eos = c["vocab"] - 1
    policy = anchor.GPT(c)
    reference = copy.deepcopy(policy).requires_grad_(False)
    critic = ScalarHead(copy.deepcopy(policy), c["d"])
    reward_model = ScalarHead(anchor.GPT(c), c["d"]).requires_grad_(False)
    policy_opt = torch.optim.AdamW(policy.parameters(), lr=LR, weight_decay=0.0)
    critic_opt = torch.optim.AdamW(critic.parameters(), lr=LR, weight_decay=0.0)
    prompts = torch.randint(0, eos, (PROMPTS, PROMPT_TOKENS))
    phases = {}

    def timed(phase, fn):
        t = time.perf_counter()
        out = fn()
        phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - t
        return out

    def step():
        with torch.no_grad():
            tokens, logps, mask = timed("generation", lambda: generate(policy, prompts, eos))
            width = tokens.shape[1]
            ids = torch.cat([prompts, tokens], 1)
            lengths = mask.sum(1).long()
            scores = timed("reward", lambda: reward_model(ids)[torch.arange(PROMPTS), PROMPT_TOKENS + lengths - 1])
            ref_logps = timed("reference", lambda: completion_logprobs(reference, ids, width)[0])
            values = timed("critic", lambda: critic(ids)[:, PROMPT_TOKENS - 1:PROMPT_TOKENS - 1 + width])

            def advantages():
                rewards = -KL_COEF * (logps - ref_logps) * mask
                rewards[torch.arange(PROMPTS), lengths - 1] += scores
                adv, last = torch.zeros_like(rewards), torch.zeros(PROMPTS)
                v = values * mask
                for t in reversed(range(width)):
                    next_v = v[:, t + 1] if t + 1 < width else torch.zeros(PROMPTS)
                    delta = rewards[:, t] + GAMMA * next_v - v[:, t]
                    last = (delta + GAMMA * LAM * last) * mask[:, t]
                    adv[:, t] = last
                return whiten(adv, mask), adv + v
            adv, returns = timed("advantages", advantages)

        def update():
            new_logps, logits = completion_logprobs(policy, ids, width)
            with torch.no_grad():
                p = F.softmax(logits, -1)
                (-(p * F.log_softmax(logits, -1)).sum(-1) * mask).sum() / mask.sum()
            ratio = torch.exp(new_logps - logps)
            pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - CLIP, 1 + CLIP))
            pg_loss = (pg * mask).sum() / mask.sum()
            vpred = critic(ids)[:, PROMPT_TOKENS - 1:PROMPT_TOKENS - 1 + width]
            vclipped = values + (vpred - values).clamp(-CLIP_VALUE, CLIP_VALUE)
            vf = 0.5 * torch.max((vpred - returns) ** 2, (vclipped - returns) ** 2)
            loss = pg_loss + VF_COEF * (vf * mask).sum() / mask.sum()
            policy_opt.zero_grad(set_to_none=True)
            critic_opt.zero_grad(set_to_none=True)
            loss.backward()
            for model, opt in ((policy, policy_opt), (critic, critic_opt)):
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
        timed("update", update)
        return lengths.float().mean().item()

    step()
    phases.clear()
    t = time.perf_counter()
    lengths = [step() for _ in range(STEPS)]
    elapsed = time.perf_counter() - t
    mean_length = sum(lengths) / len(lengths)
    generated, trained = mean_length * PROMPTS * STEPS, (PROMPT_TOKENS + mean_length) * PROMPTS * STEPS
    return dict(bench="ppo", engine=f"pytorch-{torch.__version__}-cpu", config=name, threads=threads,
                params=sum(p.numel() for p in policy.parameters()), prompts=PROMPTS, prompt_tokens=PROMPT_TOKENS,
                new_tokens=NEW_TOKENS, mean_completion_tokens=round(mean_length, 2), s_per_step=round(elapsed / STEPS, 3),
                steps_per_s=round(STEPS / elapsed, 4),
                rollout_tokens_per_s=round(generated / phases["generation"], 1),
                train_tokens_per_s=round(trained / phases["update"], 1),
                **{f"share_{k}": round(phases[k] / elapsed, 3) for k in ("generation", "reward", "reference", "critic", "update")},
                peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), steps=STEPS + 1)


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "small"
    th = sys.argv[2] if len(sys.argv) > 2 else "best"
    if th == "best":
        run_best_of_threads(__file__, name, "steps_per_s")
    else:
        print(json.dumps(bench(name, int(th))))
