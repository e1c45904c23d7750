"""Benchmark the SQR checker (plain script, not collected by pytest).

Reports, per grid size, the wall time of check() and the ratio against a baseline measured in the same
run: one vectorized evaluation of phi on the same number of points (the irreducible cost).

    python benchmarks/bench_sqr.py [--bits 4 8 12 16]
"""

import argparse
import time

import numpy as np

from quanttheory import Grid
from quanttheory.regularizers import QSIN
from quanttheory.sqr import check


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", type=int, nargs="+", default=[4, 8, 12, 16])
    ap.add_argument("--name", default="qsin")
    args = ap.parse_args()
    print(f"{'bits':>4} {'cells':>7} {'evals':>10} {'check [s]':>10} {'baseline [s]':>12} {'ratio':>7}")
    for b in args.bits:
        g = Grid(b, True)
        t0 = time.perf_counter()
        r = check(args.name, g)
        t1 = time.perf_counter()
        u = np.linspace(g.r_b - 4, g.r_t + 4, r.coverage.n_evaluations)
        t2 = time.perf_counter()
        QSIN.evaluate(u, g.r_b, g.r_t)
        t3 = time.perf_counter()
        print(f"{b:>4} {r.coverage.cells_checked:>7} {r.coverage.n_evaluations:>10} {t1 - t0:>10.2f} "
              f"{t3 - t2:>12.3f} {(t1 - t0) / (t3 - t2):>7.1f}   passed={r.passed}")


if __name__ == "__main__":
    main()
