"""Benchmark the SQR checker (plain script, not collected by pytest).

Per grid size: wall time of check() with the numba jump-scan kernel, the same check with the numpy
reference implementation of that scan, and a baseline measured in the same run: one vectorized
evaluation of QSin on as many points as the check evaluates (the irreducible cost).

    python benchmarks/bench_sqr.py [--bits 4 8 12 16]
"""

import argparse
import time

import numpy as np

from quanttheory import Grid
from quanttheory import sqr
from quanttheory.formats.regularizers import QSIN
from quanttheory.sqr import smoothness


def timed(name, g, use_numba):
    smoothness.USE_NUMBA = use_numba
    t0 = time.perf_counter()
    r = sqr.check(name, g)
    return r, time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", type=int, nargs="+", default=[4, 8, 12, 16])
    ap.add_argument("--name", default="qsin")
    args = ap.parse_args()
    timed(args.name, Grid(2), True)  # load/compile the kernel outside the timings
    print(f"{'bits':>4} {'cells':>7} {'evals':>10} {'numba [s]':>9} {'numpy [s]':>9} {'np/nb':>6} "
          f"{'eval [s]':>8} {'nb/eval':>7}")
    for b in args.bits:
        g = Grid(b, True)
        r, t_nb = timed(args.name, g, True)
        _, t_np = timed(args.name, g, False)
        u = np.linspace(g.r_b - 4, g.r_t + 4, r.coverage.n_evaluations)
        t2 = time.perf_counter()
        QSIN.evaluate(u, g.r_b, g.r_t)
        t_ev = time.perf_counter() - t2
        print(f"{b:>4} {r.coverage.cells_checked:>7} {r.coverage.n_evaluations:>10} {t_nb:>9.2f} {t_np:>9.2f} "
              f"{t_np / t_nb:>6.1f} {t_ev:>8.3f} {t_nb / t_ev:>7.1f}   passed={r.passed}")
    smoothness.USE_NUMBA = True


if __name__ == "__main__":
    main()
