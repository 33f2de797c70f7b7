"""PyTorch CPU anchor for `reins bench rm`: reward-model training throughput.

The model is the GPT-2-style decoder of ../shared/anchors/pytorch_cpu_anchor.py (loaded from
there, relative to the repository root) with its position table extended to 512 and its LM head
replaced by a scalar score head (nn.Linear(d, 1, bias=False), transformers'
GPT2ForSequenceClassification) read at each sequence's last token. One step = the config's batch
of pairs, chosen and rejected sequences of 512 random tokens each in one forward pass, the
Bradley-Terry loss -log sigmoid(r_chosen - r_rejected), backward and AdamW (lr 3e-4, weight decay
0.1), timed after 2 warm-up steps for at least 8 s and 3 steps. Prints one JSON line per thread
setting, then the best as the anchor does:
    {"bench":"rm","config":"small","threads":T,"pairs_per_s":X,"peak_rss_mb":Y,...}
peak_rss_mb is ru_maxrss of this process (interpreter and torch import included), which is a
high-water mark, so each thread setting runs in a fresh process.
Run with Debian's PyTorch:  /usr/bin/python3 tools/torch_rm_bench.py [config] [threads|best]
"""
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from anchor_peak_rss import load_anchor, run_best_of_threads  # tools/ is this script's directory, so it is on sys.path

LENGTH = 512


class RewardGPT(nn.Module):
    """The anchor's GPT trunk with a scalar head on the last position instead of the tied LM head."""

    def __init__(self, anchor, c):
        super().__init__()
        trunk = anchor.GPT(dict(c, ctx=max(c["ctx"], LENGTH)))
        self.wte, self.wpe, self.blocks, self.ln = trunk.wte, trunk.wpe, trunk.blocks, trunk.ln
        self.score = nn.Linear(c["d"], 1, bias=False)

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for b in self.blocks:
            x = b(x)
        return self.score(self.ln(x)[:, -1]).squeeze(-1)


def bench(name, threads):
    anchor = load_anchor()
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c = anchor.CONFIGS[name]
    m = RewardGPT(anchor, c)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-4, weight_decay=0.1)
    pairs = c["batch"]
    x = torch.randint(0, c["vocab"], (2 * pairs, LENGTH))

    def step():
        r = m(x)
        loss = -F.logsigmoid(r[:pairs] - r[pairs:]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    first = step()
    step()
    t = time.perf_counter()
    n = 0
    while time.perf_counter() - t < 8 or n < 3:
        last = step()
        n += 1
    elapsed = time.perf_counter() - t
    return dict(bench="rm", engine=f"pytorch-{torch.__version__}-cpu", config=name, threads=threads,
                params=sum(p.numel() for p in m.parameters()), pairs=pairs, length=LENGTH,
                pairs_per_s=round(pairs * n / elapsed, 3), s_per_step=round(elapsed / n, 3),
                peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                loss_first=round(first, 4), loss_last=round(last, 4), steps=n + 2)


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "small"
    th = sys.argv[2] if len(sys.argv) > 2 else "best"
    if th == "best":
        run_best_of_threads(__file__, name, "pairs_per_s")
    else:
        print(json.dumps(bench(name, int(th))))
