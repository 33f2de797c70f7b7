"""PyTorch CPU matmul throughput, the GEMM anchor for Reins' own kernels.

Times torch.mm on square float32 matrices (n = 256, 512, 1024, 2048) with 1 and 2
threads and prints one JSON line per (n, threads):
    {"bench":"gemm","engine":"pytorch-<version>-cpu","n":N,"threads":T,"gflops":X}
gflops = 2 n^3 / best wall time over several repetitions (best, not mean, because the
machine is shared and the minimum is the least noisy estimate of what the kernel can do).
Run with Debian's PyTorch:  /usr/bin/python3 tools/torch_gemm_bench.py [n ...]
"""
import json
import sys
import time

import torch


def best_seconds(a, b, out, min_reps=5, min_total=1.0):
    torch.mm(a, b, out=out)  # warm-up: first call pays for allocation and page faults
    best, total, reps = float("inf"), 0.0, 0
    while reps < min_reps or total < min_total:
        t = time.perf_counter()
        torch.mm(a, b, out=out)
        dt = time.perf_counter() - t
        best, total, reps = min(best, dt), total + dt, reps + 1
    return best


def main():
    sizes = [int(s) for s in sys.argv[1:]] or [256, 512, 1024, 2048]
    engine = f"pytorch-{torch.__version__}-cpu"
    torch.manual_seed(0)
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        out = torch.empty(n, n)
        for threads in (1, 2):
            torch.set_num_threads(threads)
            s = best_seconds(a, b, out)
            print(json.dumps({"bench": "gemm", "engine": engine, "n": n, "threads": threads,
                              "gflops": round(2 * n ** 3 / s / 1e9, 2)}), flush=True)


if __name__ == "__main__":
    main()
