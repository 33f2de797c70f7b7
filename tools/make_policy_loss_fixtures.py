"""Reference values for Reins' Critique-GRPO policy loss, written independently in PyTorch.

Critique-GRPO (Zhang et al. 2025, arXiv 2506.03106, Eq. 2-4) trains on a group of the policy's own responses and
critique-guided refinements. Per token: the policy's own tokens take the clipped surrogate
-min(r*A, clip(r, 1-eps, 1+eps)*A) with r = exp(logp - logp_old); refinement tokens take the shaped objective
-A * p / (p + gamma), p = exp(logp), with no old policy and no clipping (as the authors' released code). Token losses
are averaged over the kept tokens. The script writes the inputs, the loss and its gradient with respect to every
token's log-prob.

Output: tests/fixtures/critique_grpo_loss.json. Run from the repository root with Debian's PyTorch:
    /usr/bin/python3 tools/make_policy_loss_fixtures.py
"""
import json
import os

import torch

torch.manual_seed(11)
N, EPS, GAMMA = 12, 0.2, 0.1
logp = -(torch.rand(N, dtype=torch.float64) * 3 + 0.02)
# Old log-probs off by up to +-0.5, so some ratios leave [0.8, 1.2] on either side.
old = logp + (torch.rand(N, dtype=torch.float64) - 0.5)
advantages = torch.tensor([1.0, -0.5, 0.75, -1.25, 0.3, -0.2, 1.5, -0.9, 0.6, -0.4, 0.8, 0.0], dtype=torch.float64)
off_policy = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0], dtype=torch.float64)
mask = torch.tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], dtype=torch.float64)


def loss_of(lp):
    ratio = torch.exp(lp - old)
    surrogate = -torch.minimum(ratio * advantages, torch.clamp(ratio, 1 - EPS, 1 + EPS) * advantages)
    p = torch.exp(lp)
    shaped = -advantages * p / (p + GAMMA)
    per_token = torch.where(off_policy > 0, shaped, surrogate)
    return (per_token * mask).sum() / mask.sum()


x = logp.clone().requires_grad_()
loss = loss_of(x)
(grad,) = torch.autograd.grad(loss, x)
# Independent check of the shaped term's derivative: d/dlogp [-A p/(p+g)] = -A g p / (p+g)^2.
p = torch.exp(logp)
analytic = -advantages * GAMMA * p / (p + GAMMA) ** 2 / mask.sum()
assert torch.allclose(grad[off_policy.bool()], analytic[off_policy.bool()]), "shaped gradient"

out = {"epsilon": EPS, "gamma": GAMMA, "log_probs": logp.tolist(), "old_log_probs": old.tolist(),
       "advantages": advantages.tolist(), "off_policy": off_policy.tolist(), "mask": mask.tolist(),
       "loss": loss.item(), "grad": grad.tolist()}
path = os.path.join("tests", "fixtures", "critique_grpo_loss.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print(f"{path}: loss {loss.item():.6f}, self-check passed")
