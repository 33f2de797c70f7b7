"""Reference values for Reins' cost-model loss (Safe RLHF, Dai et al. 2024, Eq. 6), written independently in PyTorch.

For pairs whose more harmful response has cost h and the other l, with s = +1 for an unsafe response and -1 for a safe
one: L = mean(-logsigmoid(h - l) - logsigmoid(s_l * l) - logsigmoid(s_h * h)) + r * mean(stack([l, h]) ** 2), as
safe-rlhf's sequence-wise cost loss with its regularisation; and for single labelled responses mean(-logsigmoid(s * c)).
Output: tests/fixtures/cost_model_loss.json. Run from the repository root with Debian's PyTorch:
    /usr/bin/python3 tools/make_cost_loss_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(5)
N = 6
higher = (torch.rand(N, dtype=torch.float64) - 0.4) * 4
lower = (torch.rand(N, dtype=torch.float64) - 0.6) * 4
higher_sign = torch.tensor([1, 1, -1, 1, 1, -1], dtype=torch.float64)
lower_sign = torch.tensor([-1, -1, -1, 1, -1, -1], dtype=torch.float64)
single = (torch.rand(N, dtype=torch.float64) - 0.5) * 4
single_sign = torch.tensor([1, -1, 1, -1, -1, 1], dtype=torch.float64)
REG = 0.01


def pairwise(h, l):
    loss = (-F.logsigmoid(h - l) - F.logsigmoid(lower_sign * l) - F.logsigmoid(higher_sign * h)).mean()
    return loss + REG * torch.stack([l, h]).square().mean()


h, l, c = higher.clone().requires_grad_(), lower.clone().requires_grad_(), single.clone().requires_grad_()
pair_loss = pairwise(h, l)
gh, gl = torch.autograd.grad(pair_loss, [h, l])
single_loss = (-F.logsigmoid(single_sign * c)).mean()
(gc,) = torch.autograd.grad(single_loss, [c])

out = {"higher": higher.tolist(), "lower": lower.tolist(), "higher_sign": higher_sign.tolist(), "lower_sign": lower_sign.tolist(),
       "regularization": REG, "pairwise_loss": pair_loss.item(), "grad_higher": gh.tolist(), "grad_lower": gl.tolist(),
       "single": single.tolist(), "single_sign": single_sign.tolist(), "single_loss": single_loss.item(), "grad_single": gc.tolist()}
path = os.path.join("tests", "fixtures", "cost_model_loss.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print(f"{path}: pairwise {pair_loss.item():.6f}, single {single_loss.item():.6f}")
