"""Reference values for Reins' preference and reward losses, written independently in PyTorch.

For one random batch of per-sequence log-probabilities it evaluates every loss the C# side
implements (DPO and its variants, IPO, hinge, SimPO, ORPO, RPO, SPPO, KTO, Bradley-Terry) straight
from the papers' formulas (with TRL's conventions where the papers leave a choice, e.g. IPO on
length-averaged log-probs), together with the gradient of each loss with respect to every input.
Output: tests/fixtures/preference_losses.json. Run from the repository root with Debian's PyTorch:
    /usr/bin/python3 tools/make_loss_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(7)
B = 6
inputs = {
    "policy_chosen": -torch.rand(B, dtype=torch.float64) * 20 - 5,
    "policy_rejected": -torch.rand(B, dtype=torch.float64) * 20 - 5,
    "reference_chosen": -torch.rand(B, dtype=torch.float64) * 20 - 5,
    "reference_rejected": -torch.rand(B, dtype=torch.float64) * 20 - 5,
    "chosen_nll": torch.rand(1, dtype=torch.float64) + 0.5,
}
chosen_len = torch.tensor([5., 9., 12., 7., 20., 3.], dtype=torch.float64)
rejected_len = torch.tensor([8., 4., 15., 7., 11., 6.], dtype=torch.float64)


def dpo_family(kind, beta, eps, average, rpo_alpha=0.0):
    def f(x):
        pw, pl, rw, rl = x["policy_chosen"], x["policy_rejected"], x["reference_chosen"], x["reference_rejected"]
        if average:
            pw, pl, rw, rl = pw / chosen_len, pl / rejected_len, rw / chosen_len, rl / rejected_len
        h = (pw - rw) - (pl - rl)
        if kind == "sigmoid":
            losses = -(1 - eps) * F.logsigmoid(beta * h) - eps * F.logsigmoid(-beta * h)
        elif kind == "robust":
            losses = (-(1 - eps) * F.logsigmoid(beta * h) + eps * F.logsigmoid(-beta * h)) / (1 - 2 * eps)
        elif kind == "hinge":
            losses = torch.relu(1 - beta * h)
        elif kind == "ipo":
            losses = (h - 1 / (2 * beta)) ** 2
        loss = losses.mean()
        if rpo_alpha:
            loss = loss + rpo_alpha * x["chosen_nll"][0]
        return loss
    return f


def simpo(beta, gamma, eps):
    def f(x):
        h = beta * (x["policy_chosen"] / chosen_len - x["policy_rejected"] / rejected_len) - gamma
        return (-(1 - eps) * F.logsigmoid(h) - eps * F.logsigmoid(-h)).mean()
    return f


def orpo(beta):
    def f(x):
        w, l = x["policy_chosen"] / chosen_len, x["policy_rejected"] / rejected_len
        log_odds = (w - l) - (torch.log1p(-torch.exp(w)) - torch.log1p(-torch.exp(l)))
        return x["chosen_nll"][0] - beta * F.logsigmoid(log_odds).mean()
    return f


# SPPO (Wu et al. 2024): each response's log-ratio regressed on (1/beta)(P(y > pi_t) - 1/2), as the SPPO code's "sppo"
# loss (the mean of the chosen and the rejected terms) with the pairs' estimated win-rates; TRL's "sppo_hard" sets
# them to 1 and 0 and sums the two terms.
win_chosen = torch.tensor([0.9, 0.75, 0.6, 1.0, 0.55, 0.8], dtype=torch.float64)
win_rejected = torch.tensor([0.1, 0.3, 0.45, 0.0, 0.5, 0.35], dtype=torch.float64)


def sppo(beta, hard):
    def f(x):
        a = x["policy_chosen"] - x["reference_chosen"]
        b = x["policy_rejected"] - x["reference_rejected"]
        if hard:
            return ((a - 0.5 / beta) ** 2 + (b + 0.5 / beta) ** 2).mean()
        return (0.5 * ((a - (win_chosen - 0.5) / beta) ** 2 + (b - (win_rejected - 0.5) / beta) ** 2)).mean()
    return f


labels = torch.tensor([True, False, True, True, False, False])
kl_policy = -torch.rand(B, dtype=torch.float64) * 20 - 5
kl_reference = kl_policy - torch.rand(B, dtype=torch.float64)  # mean KL term positive, so z > 0


def kto(beta, wd, wu):
    def f(x):
        z = torch.clamp((kl_policy - kl_reference).mean(), min=0).detach()
        r = x["policy_chosen"] - x["reference_chosen"]
        desirable = wd * (1 - torch.sigmoid(beta * (r - z)))
        undesirable = wu * (1 - torch.sigmoid(beta * (z - r)))
        return torch.where(labels, desirable, undesirable).mean()
    return f


margins = torch.tensor([0.0, 0.5, 1.0, 0.0, 2.0, 0.25], dtype=torch.float64)


def bradley_terry(use_margin, eps, center):
    def f(x):
        d = x["policy_chosen"] / 10 - x["policy_rejected"] / 10  # rewards of a reasonable scale
        if use_margin:
            d = d - margins
        loss = -(1 - eps) * F.logsigmoid(d).mean() - eps * F.logsigmoid(-d).mean()
        if center:
            loss = loss + center * ((x["policy_chosen"] / 10 + x["policy_rejected"] / 10) ** 2).mean()
        return loss
    return f


cases = {
    "dpo": dpo_family("sigmoid", 0.1, 0.0, False),
    "cdpo": dpo_family("sigmoid", 0.1, 0.1, False),
    "robust": dpo_family("robust", 0.1, 0.1, False),
    "hinge": dpo_family("hinge", 0.1, 0.0, False),
    "ipo": dpo_family("ipo", 0.1, 0.0, True),
    "dpo_length_normalized": dpo_family("sigmoid", 0.5, 0.0, True),
    "rpo": dpo_family("sigmoid", 0.1, 0.0, False, rpo_alpha=0.5),
    "simpo": simpo(2.0, 0.5, 0.0),
    "simpo_smoothed": simpo(2.0, 0.5, 0.1),
    "orpo": orpo(0.1),
    "sppo": sppo(0.1, False),
    "sppo_hard": sppo(0.1, True),
    "kto": kto(0.1, 1.0, 1.33),
    "bradley_terry": bradley_terry(False, 0.0, 0.0),
    "bradley_terry_margin_smoothing_center": bradley_terry(True, 0.1, 0.01),
}

out = {"inputs": {k: v.tolist() for k, v in inputs.items()},
       "chosen_lengths": chosen_len.tolist(), "rejected_lengths": rejected_len.tolist(),
       "labels": labels.tolist(), "kl_policy": kl_policy.tolist(), "kl_reference": kl_reference.tolist(),
       "margins": margins.tolist(), "win_chosen": win_chosen.tolist(), "win_rejected": win_rejected.tolist(), "cases": {}}
for name, fn in cases.items():
    x = {k: v.clone().requires_grad_() for k, v in inputs.items()}
    loss = fn(x)
    grads = torch.autograd.grad(loss, list(x.values()), allow_unused=True)
    out["cases"][name] = {"loss": loss.item(),
                          "grads": {k: (g.tolist() if g is not None else [0.0] * v.numel()) for (k, v), g in zip(x.items(), grads)}}

path = os.path.join("tests", "fixtures", "preference_losses.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print(f"{path}: {len(cases)} cases")
