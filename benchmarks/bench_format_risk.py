"""Benchmark: 1000-point risk curves of FP8 formats against the 8-bit integer curve.

    python benchmarks/bench_format_risk.py [--repeat 60] [--chunk 1000]
    BENCH_FORMATS=e4m3,e5m2 python benchmarks/bench_format_risk.py   (a subset of the formats)

For each law, a 1000-point curve (scales log-spaced from 1e-2x to 10x the format's own
MSE-optimal scale, the range of ``bench_risk.py``) of

* the baseline: ``quanttheory.risk.risk_curve`` on the signed 8-bit integer grid
  (default: the integer engine's bit-independent fast path, ~1 us per scale), and, for
  reference, the same curve by the per-cell path (``method="cells"``), and
* ``format_risk_curve`` on int8 (as a level set), E4M3, E5M2, E3M2, NF4,

timed in the same run, interleaved (baseline, then each format, repeated), the minimum
of ``--repeat`` runs reported.  Unit: milliseconds per 1000-point curve (warm: numba
compiled beforehand); ``ratio`` = format time / baseline time of the same law,
``vs cells`` = time / the per-cell integer curve's time.

``--chunk K`` (default 1000: whole curves): with K < 1000 each curve is timed as 1000/K
calls of K consecutive scales, each call's time the minimum over ``--repeat`` runs,
summed -- robust to preemption on a loaded machine, but it adds 1000/K times the
per-call Python overhead (larger for ``risk_curve``, ~40 us, than for the format curve),
so it flatters the ratios; the documented numbers use whole curves.
Single-threaded (numba kernels are serial).
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from quanttheory import Grid, Laplace, Normal, ReLU  # noqa: E402
from quanttheory.risk.levels import format_mse, format_risk_curve  # noqa: E402
from quanttheory.risk import optimal_scale, risk_curve  # noqa: E402

LAWS = [("N(0,1)", Normal()), ("Laplace", Laplace()), ("N+ReLU", ReLU(Normal())), ("Laplace+ReLU", ReLU(Laplace()))]
FORMATS = os.environ.get("BENCH_FORMATS", "int8,e4m3,e5m2,e3m2,nf4").split(",")


def argmin_scale(d, name):
    rms = math.sqrt(d.second_moment())
    s = np.geomspace(rms * 1e-7, rms * 1e2, 4000)
    return float(s[int(np.argmin(format_mse(d, s, name)))])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=60)
    ap.add_argument("--chunk", type=int, default=1000)
    args = ap.parse_args()
    g = Grid(8)
    print(f"{'law':14s} {'curve':10s} {'ms/1000 pts':>12s} {'ratio':>7s} {'vs cells':>9s}")
    for label, d in LAWS:
        base_sc = np.geomspace(1e-2, 10, 1000) * optimal_scale(d, g).scale
        scs = {n: np.geomspace(1e-2, 10, 1000) * argmin_scale(d, n) for n in FORMATS}
        risk_curve(d, base_sc, g)
        for n in FORMATS:
            format_risk_curve(d, scs[n], n)
        k = max(1, min(args.chunk, 1000))
        parts = lambda a: [a[i:i + k] for i in range(0, a.size, k)]  # noqa: E731
        jobs = {"base": [(lambda x=x: risk_curve(d, x, g)) for x in parts(base_sc)],
                "cells": [(lambda x=x: risk_curve(d, x, g, method="cells")) for x in parts(base_sc)]}
        for n in FORMATS:
            jobs[n] = [(lambda x=x, n=n: format_risk_curve(d, x, n)) for x in parts(scs[n])]
        best = {key: [math.inf] * len(v) for key, v in jobs.items()}
        for _ in range(args.repeat):
            for key, fs in jobs.items():
                for i, f in enumerate(fs):
                    t0 = time.perf_counter()
                    f()
                    best[key][i] = min(best[key][i], time.perf_counter() - t0)
        best = {key: sum(v) for key, v in best.items()}
        c = best["cells"]
        print(f"{label:14s} {'int8 grid':10s} {1e3 * best['base']:12.3f} {1.0:7.2f} {best['base'] / c:9.3f}"
              "   (risk_curve default, the baseline)")
        print(f"{label:14s} {'int8 cells':10s} {1e3 * c:12.3f} {c / best['base']:7.2f} {1.0:9.3f}"
              "   (risk_curve method='cells')")
        for n in FORMATS:
            print(f"{label:14s} {n:10s} {1e3 * best[n]:12.3f} {best[n] / best['base']:7.2f} {best[n] / c:9.3f}")


if __name__ == "__main__":
    main()
