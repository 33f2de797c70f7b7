"""PyTorch anchor for `reins bench dpo`: one DPO step on the anchor's GPT-2-style `small` model.

Same model code as ../shared/anchors/pytorch_cpu_anchor.py (imported from there), with the context raised
to 512 so a pair holds a 256-token prompt and a 256-token completion. One step: reference log-probs of
4 chosen + 4 rejected sequences under no_grad, the policy's with grad, DPO's sigmoid loss (beta 0.1),
backward, AdamW. Prints {"bench":"dpo","engine":…,"config":"small","threads":T,"pairs_per_s":X,"peak_rss_mb":Y}
for 1 and 2 threads and a last line with the best.
Run: /usr/bin/python3 tools/torch_dpo_bench.py
"""
import copy
import json
import resource
import sys
import time

import torch
import torch.nn.functional as F

from anchor_peak_rss import load_anchor  # tools/ is this script's directory, so it is on sys.path

PAIRS, PROMPT, COMPLETION = 4, 256, 256


def sequence_logps(model, x, mask):
    logits = model(x)[:, :-1]
    lp = torch.log_softmax(logits, -1).gather(-1, x[:, 1:, None]).squeeze(-1)
    return (lp * mask[:, 1:]).sum(-1)


def bench(anchor, threads, seconds=8.0):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c = dict(anchor.CONFIGS["small"], ctx=PROMPT + COMPLETION)
    policy = anchor.GPT(c)
    reference = copy.deepcopy(policy).requires_grad_(False)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-6, weight_decay=0.0)
    x = torch.randint(0, c["vocab"], (2 * PAIRS, PROMPT + COMPLETION))
    mask = torch.zeros_like(x, dtype=torch.float32)
    mask[:, PROMPT:] = 1

    def step():
        with torch.no_grad():
            r = sequence_logps(reference, x, mask)
        p = sequence_logps(policy, x, mask)
        h = (p[:PAIRS] - r[:PAIRS]) - (p[PAIRS:] - r[PAIRS:])
        loss = -F.logsigmoid(0.1 * h).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    t, n = time.perf_counter(), 0
    while time.perf_counter() - t < seconds or n < 3:
        step()
        n += 1
    return PAIRS * n / (time.perf_counter() - t)


def main():
    anchor = load_anchor()
    rows = []
    for threads in (1, 2):
        pps = bench(anchor, threads)
        row = {"bench": "dpo", "engine": f"pytorch-{torch.__version__}-cpu", "config": "small", "threads": threads,
               "pairs_per_s": round(pps, 3), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    best = max(rows, key=lambda r: r["pairs_per_s"])
    print(json.dumps(dict(best, threads="best of 1,2", best_threads=best["threads"])))


if __name__ == "__main__":
    sys.exit(main())
