"""Reference values for Reins' Nash-MD (Munos et al. 2024), written independently in PyTorch after TRL's NashMDTrainer.

Two parts: the opponent's geometric mixture of a policy and a reference, log_softmax(alpha * ref_logits + (1 - alpha)
* policy_logits) over the vocabulary (TRL's GeometricMixtureWrapper), for two rows and three coefficients; and the loss
for completions with padding (log-probs 0 there, as TRL masks them): score = (P - 1/2) * sum_t logp_t,
kl_loss = sum_t (logp_t - ref_t).detach() * logp_t, loss = mean(beta * kl_loss - score), with its gradient with respect
to the policy's token log-probs. Output: tests/fixtures/nash_md.json. Run from the repository root with Debian's PyTorch:
    /usr/bin/python3 tools/make_nash_md_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(3)
D = torch.float64
V = 7
policy_logits = torch.randn(2, V, dtype=D) * 2
ref_logits = torch.randn(2, V, dtype=D) * 2
mixtures = {str(a): F.log_softmax(a * ref_logits + (1 - a) * policy_logits, dim=-1).flatten().tolist() for a in (0.0, 0.5, 0.8)}

B, T = 3, 4
lengths = [4, 2, 3]
mask = torch.tensor([[1.0 if t < n else 0.0 for t in range(T)] for n in lengths], dtype=D)
logp = (-torch.rand(B, T, dtype=D) * 3) * mask
ref = (-torch.rand(B, T, dtype=D) * 3) * mask
probability = torch.tensor([0.9, 0.2, 0.5], dtype=D)
beta = 0.1

x = logp.clone().requires_grad_()
score = (probability - 0.5) * x.sum(1)
with torch.no_grad():
    log_ratio = x - ref
    kl = log_ratio.sum(1)
kl_loss = (log_ratio * x).sum(1)
loss = (beta * kl_loss - score).mean()
(grad,) = torch.autograd.grad(loss, [x])

out = {"vocab": V, "policy_logits": policy_logits.flatten().tolist(), "ref_logits": ref_logits.flatten().tolist(), "mixtures": mixtures,
       "completion_length": T, "logp": logp.flatten().tolist(), "ref": ref.flatten().tolist(), "probability": probability.tolist(), "beta": beta,
       "loss": loss.item(), "score": score.detach().tolist(), "kl": kl.tolist(), "grad": grad.flatten().tolist()}
path = os.path.join("tests", "fixtures", "nash_md.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print(f"{path}: loss {loss.item():.6f}")
