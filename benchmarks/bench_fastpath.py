"""Benchmark: fast path (O(1) per scale) vs the per-cell path, per 1000-point risk curve.

Run from the worktree root (plain script, not collected by pytest):

    PYTHONPATH=. /work/venv/bin/python benchmarks/bench_fastpath.py [--quick]

For each bit width the curve is 1000 scales log-spaced over 1e-4x .. 100x the
optimum estimate 8 rms / 2^b, Normal(0, 1) and Laplace(0, 1), signed grid, MSQE
and QSin.  "fast" = quanttheory.risk.fastpath.hybrid_expected_phi (automatic
selection: fast formulas where certified and worthwhile, per-cell path for the
rest, i.e. everything a user gets); "cells" = quanttheory.risk._kernels.cells.curve_builtin
on all points.  At 16 and 24 bits the per-cell path is timed on an evenly spaced
subset of the 1000 points (every 20th at 16 bits, every 200th at 24 bits) and
extrapolated linearly to 1000 points (marked "*").  Units: wall-clock ms per
1000-point curve, the minimum of 3 runs (the per-cell subsets at 16/24 bits: 2
runs); ratios are of those minima.  Then optimal_scale at 12 and 16 bits with
risk._builtin forced to the per-cell path ("cells", min of 2 runs after a warm
call) vs the default path (min of 3): seconds per call.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from quanttheory.risk import fastpath as fp
from quanttheory.risk._kernels import cells
from quanttheory.risk.curve import _tables


def best(f, repeat=3):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip 24 bits and optimal_scale")
    ap.add_argument("--only-opt", action="store_true", help="only the optimal_scale timings")
    args = ap.parse_args(argv)
    ns, nodes, weights, amax = _tables()
    # warm up (compile / load numba caches)
    w = np.array([0.01, 0.1, 1.0])
    for law in (0, 1):
        for code in (0, 1):
            fp.hybrid_expected_phi(law, 0.0, 1.0, False, -8, 7, code, w)
            cells.curve_builtin(law, 0.0, 1.0, False, -8, 7, code, w, ns, nodes, weights, amax)
    print(f"{'law':8s} {'reg':5s} {'bits':>4s} {'fast ms':>9s} {'handled':>8s} {'cells ms':>11s} "
          f"{'cells/fast':>10s} {'fast/fast8':>10s}")
    rows = []
    for law, lname in (() if args.only_opt else ((0, "Normal"), (1, "Laplace"))):
        for code, rname in ((0, "msqe"), (1, "qsin")):
            fast8 = None
            for bits in (2, 4, 8, 12, 16, 24):
                if args.quick and bits == 24:
                    continue
                r_b, r_t = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
                rms = 1.0 if law == 0 else math.sqrt(2.0)
                s = np.geomspace(1e-4, 100, 1000) * 8 * rms / 2**bits
                tf = best(lambda: fp.hybrid_expected_phi(law, 0.0, 1.0, False, r_b, r_t, code, s))
                handled = fp.fast_is_better(law, 0.0, 1.0, False, r_b, r_t, code, s).mean()
                step = {16: 20, 24: 200}.get(bits, 1)
                sub = np.ascontiguousarray(s[::step])
                run = lambda: cells.curve_builtin(law, 0.0, 1.0, False, r_b, r_t, code, sub, ns, nodes, weights, amax)
                tc = (best(run) if step == 1 else best(run, 2)) * s.size / sub.size
                if bits == 8:
                    fast8 = tf
                mark = "*" if step > 1 else " "
                ratio8 = f"{tf / fast8:10.2f}" if fast8 else f"{'':10s}"
                print(f"{lname:8s} {rname:5s} {bits:4d} {tf * 1e3:9.2f} {handled:8.2f} {tc * 1e3:10.1f}{mark} "
                      f"{tc / tf:10.1f} {ratio8}", flush=True)
                rows.append((lname, rname, bits, tf, tc))
    if args.quick:
        return 0
    print("\noptimal_scale (signed grid): per-cell risk curves (risk._builtin forced to method='cells') "
          "vs the default path")
    from quanttheory.risk import curve as risk
    from quanttheory.laws.parametric import Laplace, Normal

    orig = risk._builtin

    def cells_only(law, mu, sig, relu, grid, code, flat, method="auto"):
        return orig(law, mu, sig, relu, grid, code, flat, "cells")

    for dist, bits, reg in ((Normal(0.0, 1.0), 12, "msqe"), (Normal(0.0, 1.0), 12, "qsin"),
                            (Laplace(0.0, 1.0), 12, "msqe"), (Normal(0.0, 1.0), 16, "msqe")):
        risk._builtin = cells_only
        try:
            a = risk.optimal_scale(dist, bits, reg, with_msqe_excess=False)
            t_before = best(lambda: risk.optimal_scale(dist, bits, reg, with_msqe_excess=False), 2)
        finally:
            risk._builtin = orig
        b = risk.optimal_scale(dist, bits, reg, with_msqe_excess=False)
        t_after = best(lambda: risk.optimal_scale(dist, bits, reg, with_msqe_excess=False), 3)
        print(f"{dist!s:18s} {bits:2d} bits {reg:5s} cells {t_before:7.2f} s  default {t_after:7.2f} s  "
              f"ratio {t_before / t_after:5.1f}  |ds|/s {abs(a.scale - b.scale) / a.scale:.1e}  "
              f"|dR|/R {abs(a.risk - b.risk) / a.risk:.1e}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
