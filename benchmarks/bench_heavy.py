"""Benchmark: Student t / generalized Gaussian risk curves against the Normal's (issue 15).

Run from the worktree root (plain script, not collected by pytest):

    .venv/bin/python benchmarks/bench_heavy.py [--repeat 3]

Unit: wall time of one 1000-point MSQE risk curve (``quanttheory.risk_curve``, signed grid,
scales log-spaced over 1e-2x .. 10x the optimum estimate 8 rms / 2^b), best of ``--repeat`` runs
after a warm-up call (numba compilation excluded).  Ratios: law / Normal(0, 1) at the same bit
width (same run), and 16 bits / 8 bits for the same law.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from quanttheory import Grid, Normal, risk_curve
from quanttheory.laws import GenNormal, StudentT


def best_time(law, scales, grid, repeat):
    risk_curve(law, scales[:3], grid)
    out = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        risk_curve(law, scales, grid)
        out = min(out, time.perf_counter() - t)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    laws = [Normal(), StudentT(4.0), StudentT(30.0), GenNormal(0.5), GenNormal(1.5)]
    times = {}
    for bits in (8, 16):
        for law in laws:
            s = np.geomspace(0.01, 10, 1000) * 8 * math.sqrt(law.second_moment()) / 2**bits
            times[bits, str(law)] = best_time(law, s, Grid(bits), args.repeat)
    print(f"{'law':<28} {'8 bits (s)':>11} {'/Normal':>8} {'16 bits (s)':>12} {'/Normal':>8} {'16b/8b':>7}")
    n8, n16 = times[8, str(laws[0])], times[16, str(laws[0])]
    for law in laws:
        a, b = times[8, str(law)], times[16, str(law)]
        print(f"{str(law):<28} {a:11.4f} {a / n8:8.2f} {b:12.4f} {b / n16:8.2f} {b / a:7.2f}")


if __name__ == "__main__":
    main()
