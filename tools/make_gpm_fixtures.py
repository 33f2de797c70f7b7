"""Reference values for Reins' general preference model (Zhang et al. 2024), written independently in PyTorch.

Each case draws value-head outputs u for the chosen and the rejected responses of B pairs ([B, 2k] each) and, with a
prompt head, gate logits g [B, k]. The embeddings are centred (on the mean of all 2B rows, or on a given vector), L2
normalised (torch.nn.functional.normalize), and scored as the paper's code does: R is the block-diagonal matrix with
R[2i, 2i+1] = -lambda_i and R[2i+1, 2i] = lambda_i, lambda = k * softmax(g) (all 1 without gates), and
s = (v_c R^T) . v_r by batched matrix products; the loss is mean(-logsigmoid((s - margin) / tau)).
Output: tests/fixtures/general_preference.json. Run from the repository root with Debian's PyTorch:
    /usr/bin/python3 tools/make_gpm_fixtures.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(11)
D = torch.float64


def operator(lam, dim):
    batch = lam.shape[0]
    r = torch.zeros((batch, dim, dim), dtype=D)
    for i in range(0, dim, 2):
        r[:, i, i + 1] = -lam[:, i // 2]
        r[:, i + 1, i] = lam[:, i // 2]
    return r


def case(pairs, dim, tau, gates, center, margins):
    uc = (torch.randn(pairs, dim, dtype=D) + 0.8).requires_grad_()
    ur = (torch.randn(pairs, dim, dtype=D) + 0.8).requires_grad_()
    g = torch.randn(pairs, dim // 2, dtype=D).requires_grad_() if gates else None
    m = (torch.rand(pairs, dtype=D) - 0.5) if margins else None
    u = torch.cat([uc, ur])
    if center == "batch":
        u = u - u.mean(dim=0, keepdim=True)
    elif center is not None:
        u = u - torch.tensor(center, dtype=D)
    v = F.normalize(u, p=2, dim=-1)
    vc, vr = v[:pairs], v[pairs:]
    lam = dim // 2 * torch.softmax(g, dim=-1) if gates else torch.ones(pairs, dim // 2, dtype=D)
    s = torch.bmm(torch.bmm(vc.view(pairs, 1, dim), operator(lam, dim).transpose(1, 2)), vr.view(pairs, dim, 1)).view(pairs)
    z = (s - m) / tau if margins else s / tau
    loss = (-F.logsigmoid(z)).mean()
    grads = torch.autograd.grad(loss, [uc, ur] + ([g] if gates else []))
    out = {"pairs": pairs, "dim": dim, "tau": tau, "center": center, "chosen": uc.detach().flatten().tolist(), "rejected": ur.detach().flatten().tolist(),
           "vectors": v.detach().flatten().tolist(), "scores": s.detach().tolist(), "loss": loss.item(),
           "grad_chosen": grads[0].flatten().tolist(), "grad_rejected": grads[1].flatten().tolist()}
    if gates:
        out |= {"gates": g.detach().flatten().tolist(), "eigenvalues": lam.detach().flatten().tolist(), "grad_gates": grads[2].flatten().tolist()}
    if margins:
        out["margins"] = m.tolist()
    return out


cases = [case(5, 2, 0.1, False, "batch", False), case(4, 6, 0.1, True, "batch", True), case(3, 4, 1.0, False, [0.3, -0.2, 0.5, 0.1], False),
         case(4, 4, 0.5, True, None, False)]
path = os.path.join("tests", "fixtures", "general_preference.json")
with open(path, "w") as f:
    json.dump(cases, f, indent=1)
print(f"{path}: losses " + ", ".join(f"{c['loss']:.6f}" for c in cases))
