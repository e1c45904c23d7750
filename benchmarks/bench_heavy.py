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
    ap.add_argument("--bits", type=int, nargs="+", default=[8, 16], help="bit widths (8 first; default 8 16)")
    args = ap.parse_args()
    laws = [Normal(), StudentT(4.0), StudentT(30.0), GenNormal(0.5), GenNormal(1.5)]
    times = {}
    for bits in args.bits:
        for law in laws:
            s = np.geomspace(0.01, 10, 1000) * 8 * math.sqrt(law.second_moment()) / 2**bits
            times[bits, str(law)] = best_time(law, s, Grid(bits), args.repeat)
    b0 = args.bits[0]
    print(f"{'law':<28}" + "".join(f" {f'{b} bits (s)':>12} {'/Normal':>8}" for b in args.bits)
          + (f" {f'{args.bits[-1]}b/{b0}b':>8}" if len(args.bits) > 1 else ""))
    for law in laws:
        line = f"{str(law):<28}"
        for b in args.bits:
            line += f" {times[b, str(law)]:12.4f} {times[b, str(law)] / times[b, str(laws[0])]:8.2f}"
        if len(args.bits) > 1:
            line += f" {times[args.bits[-1], str(law)] / times[b0, str(law)]:8.2f}"
        print(line)


if __name__ == "__main__":
    main()
