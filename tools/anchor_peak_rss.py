"""Peak resident memory of the PyTorch anchor's training step, for the memory comparison.

Loads ../shared/anchors/pytorch_cpu_anchor.py (relative to the repository root) and runs
only its training loop (forward, cross-entropy, backward, AdamW; tied embeddings) for a
few steps, then prints
    {"config":"small","peak_rss_mb":X, ...}
where peak_rss_mb is ru_maxrss of this process, so it includes the Python interpreter and
the torch import (rss_after_import_mb says how much of the peak that baseline is).
Run with Debian's PyTorch:  /usr/bin/python3 tools/anchor_peak_rss.py [config] [threads] [steps]
"""
import importlib.util
import json
import os
import resource
import subprocess
import sys

import torch
import torch.nn.functional as F


def current_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load_anchor():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(repo, "..", "shared", "anchors", "pytorch_cpu_anchor.py")
    spec = importlib.util.spec_from_file_location("pytorch_cpu_anchor", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run_best_of_threads(script, name, key):
    """Runs `script name T` for T = 1 and 2, each in a fresh process (peak RSS is a high-water mark), prints each
    JSON line and then the one with the highest `key`, labelled as the anchor labels its best."""
    rows = []
    for t in (1, 2):
        out = subprocess.run([sys.executable, script, name, str(t)], check=True, capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]))
    best = dict(max(rows, key=lambda r: r[key]))
    best["best_threads"], best["threads"] = best["threads"], "best of 1,2"
    print(json.dumps(best))


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "small"
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    anchor = load_anchor()
    baseline = current_rss_mb()

    # Mirrors the training half of anchor.bench() exactly; generation is left out so the
    # peak reflects training only.
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    c = anchor.CONFIGS[name]
    m = anchor.GPT(c)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-4, weight_decay=0.1)
    B, T = c["batch"], c["ctx"]
    x = torch.randint(0, c["vocab"], (B, T))
    y = torch.randint(0, c["vocab"], (B, T))
    for _ in range(steps):
        loss = F.cross_entropy(m(x).view(-1, c["vocab"]), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    print(json.dumps({"config": name, "peak_rss_mb": round(peak, 1),
                      "rss_after_import_mb": round(baseline, 1), "threads": threads,
                      "steps": steps, "params": sum(p.numel() for p in m.parameters()),
                      "engine": f"pytorch-{torch.__version__}-cpu"}))


if __name__ == "__main__":
    main()
