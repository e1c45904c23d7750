"""Benchmark: Student t / generalized Gaussian risk curves and optima against the Normal's (issue 15).

Run from the worktree root (plain script, not collected by pytest):

    .venv/bin/python benchmarks/bench_heavy.py [--repeat 3] [--bits 4 8 12 16] [--slow 10]

Curves.  Unit: wall time of one 1000-point MSQE risk curve (``quanttheory.risk_curve``, signed
grid, scales log-spaced over 1e-2x .. 10x of 8 rms / 2^b), minimum of ``--repeat`` runs after a
warm-up call (numba compilation excluded); a law/bit width whose first run takes more than
``--slow`` seconds is run once (marked ``*``).  Ratios: law / Normal(0, 1) at the same bit width
(Normal = its bit-independent fast path, measured in the same run), and each bit width / 8 bits for
the same law.  CPU time (time.process_time) is printed beside the wall time: the machine is shared.

Optima.  ``optimal_scale(law, Grid(b))`` wall and CPU time (minimum of ``--repeat`` runs after a
warm-up), its method (certified or not), relative scale error and the relative gap of its
``risk_lower_bound``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from quanttheory import Grid, Normal, ReLU, optimal_scale, risk_curve
from quanttheory.laws import GenNormal, StudentT


def best_time(fn, repeat, slow):
    fn()  # warm-up (compilation, caches)
    wall, cpu, runs = math.inf, math.inf, 0
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
        runs += 1
        if wall > slow:
            break
    return wall, cpu, runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bits", type=int, nargs="+", default=[4, 8, 12, 16])
    ap.add_argument("--slow", type=float, default=10.0, help="run once when a run takes longer (s)")
    ap.add_argument("--no-gennorm", action="store_true", help="skip the (per-cell, slow) generalized Gaussian")
    ap.add_argument("--no-optimum", action="store_true")
    ap.add_argument("--opt-bits", type=int, nargs="+", default=None, help="bit widths of the optimum table")
    args = ap.parse_args()
    laws = [Normal()] + [StudentT(nu) for nu in (3.0, 4.0, 5.0, 8.0, 16.0, 30.0)]
    if not args.no_gennorm:
        laws += [GenNormal(0.5), GenNormal(1.5)]
    times = {}
    for bits in args.bits:
        for law in laws:
            s = np.geomspace(0.01, 10, 1000) * 8 * math.sqrt(law.second_moment()) / 2**bits
            # warm-up on 3 scales only (the slow per-cell laws would double the run time)
            risk_curve(law, s[:3], Grid(bits))
            times[bits, str(law)] = best_time(lambda: risk_curve(law, s, Grid(bits)), args.repeat, args.slow)
    ref = 8 if 8 in args.bits else args.bits[0]
    print("1000-point MSQE curve: wall s (cpu s) [runs], ratio to Normal at the same bits, ratio to 8 bits")
    head = f"{'law':<24}" + "".join(f" {f'{b} bits':>22} {'/N':>7} {f'/{ref}b':>6}" for b in args.bits)
    print(head)
    for law in laws:
        line = f"{str(law):<24}"
        for b in args.bits:
            w, c, r = times[b, str(law)]
            star = "*" if r < args.repeat else " "
            line += f" {w:9.4f} ({c:7.4f}){star}[{r}] {w / times[b, str(laws[0])][0]:7.1f} {w / times[ref, str(law)][0]:6.2f}"
        print(line)
    if args.no_optimum:
        return
    print("\noptimal_scale (MSQE): wall s (cpu s, min of runs), method, scale_rel_error, "
          "bound gap (risk - risk_lower_bound) / risk")
    for law, signed in [(StudentT(3.0), True), (StudentT(4.0), True), (StudentT(30.0), True),
                        (GenNormal(0.5), True), (ReLU(StudentT(4.0, 0.2)), False), (Normal(), True)]:
        if args.no_gennorm and isinstance(law, GenNormal):
            continue
        for b in args.opt_bits or args.bits:
            g = Grid(b, signed=signed)
            w, c, r = best_time(lambda: optimal_scale(law, g), args.repeat, args.slow)
            res = optimal_scale(law, g)
            cert = "certified" if "certified" in res.method and "not certified" not in res.method else "NOT certified"
            gap = (res.risk - res.risk_lower_bound) / res.risk
            print(f"{str(law):<24} {b:>3} bits {w:9.3f} s ({c:8.3f} cpu) [{r}] {cert:<14} "
                  f"{res.scale_rel_error:.2e} {gap:.2e}")


if __name__ == "__main__":
    main()
