"""Benchmark of the exact risk engine (not a test; prints a table).

    python benchmarks/bench_risk.py [--quick]

For a 1000-point curve (scales 1e-2x..10x the optimum, log-spaced) of each law it
reports the warm time per curve and, measured in the same run:

* ``scipy.integrate.quad`` cell by cell (every grid breakpoint, epsrel=1e-13):
  timed on a subset of the scales and scaled to 1000 points; its accuracy is
  measured against the engine's values (which agree with mpmath to 7e-14);
* a NumPy Monte Carlo: the time of 1e6 samples, the relative standard error it
  achieves, and the extrapolated time for a Monte Carlo of the engine's accuracy
  (1e-13 relative: N = (rel. std / 1e-13)^2 samples).

Single-threaded: numba kernels are serial; run with OMP/MKL/OPENBLAS threads = 1
for fairness (set below).

Units: every time is wall-clock, the minimum over repeated runs (engine: 5, or 2
with --quick; quad: 3 runs of its subset; 16-bit rows: 2), in ms per 1000-point
curve; ``quad/eng`` and ``MC@1e-13 / eng`` are ratios of those per-curve times.
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from scipy import integrate  # noqa: E402

from quanttheory import Grid, Laplace, Normal, ReLU, qsin  # noqa: E402
from quanttheory.formats.grid import msqe  # noqa: E402
from quanttheory.risk import optimal_scale, risk_curve  # noqa: E402

LAWS = [("N(0,1)", Normal()), ("N+ReLU", ReLU(Normal())), ("Laplace", Laplace()), ("Laplace+ReLU", ReLU(Laplace()))]


def best_time(f, repeat=5):
    t = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        t = min(t, time.perf_counter() - t0)
    return t


def quad_curve(d, g, scales, fn):
    out = []
    for s in scales:
        span = 13 if (d.base if d.relu else d).law == 0 else 50
        lo = 0.0 if d.relu else d.loc - span * d.scale
        hi = d.loc + span * d.scale
        pts = {lo, hi}
        kmin = max(2 * g.r_b, math.floor(2 * lo / s))
        kmax = min(2 * g.r_t, math.ceil(2 * hi / s))
        pts.update(k * s / 2 for k in range(kmin, kmax + 1) if lo < k * s / 2 < hi)
        if lo < d.loc < hi:
            pts.add(d.loc)
        pts = sorted(pts)
        tot = 0.0
        for a, b in zip(pts[:-1], pts[1:]):
            tot += integrate.quad(lambda x: fn(x / s, g) * d.pdf(x), a, b, epsabs=0, epsrel=1e-13, limit=200)[0]
        out.append(math.pi**2 * s * s * tot)
    return np.array(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats and quad points")
    args = ap.parse_args()
    rep = 2 if args.quick else 5
    nquad = 3 if args.quick else 10
    rng = np.random.default_rng(0)
    print("8-bit signed grid (unsigned for the ReLU laws), 1000-point MSQE curve, warm, one core")
    print(f"{'law':13s} {'engine ms':>10s} {'quad ms':>12s} {'quad/eng':>10s} {'quad rel err':>13s} "
          f"{'MC 1e6 ms':>10s} {'MC rel se':>10s} {'MC@1e-13 / eng':>15s}")
    for name, d in LAWS:
        g = Grid(8, not d.relu)
        s_opt = optimal_scale(d, g, "msqe", with_msqe_excess=False).scale
        scales = s_opt * np.geomspace(1e-2, 10, 1000)
        risk_curve(d, scales[:3], g)  # compile / warm
        t_eng = best_time(lambda: risk_curve(d, scales, g), rep)
        sub = scales[:: 1000 // nquad][:nquad]
        q = quad_curve(d, g, sub, msqe)
        t_quad = best_time(lambda: quad_curve(d, g, sub, msqe), 3) / len(sub) * 1000
        qerr = np.max(np.abs(q / risk_curve(d, sub, g) - 1))
        # Monte Carlo at the optimum
        n = 1_000_000
        t_mc = best_time(lambda: np.mean((lambda x: (x - s_opt * np.clip(np.rint(x / s_opt), g.r_b, g.r_t)) ** 2)(
            d.sample(rng, n))), rep)
        x = d.sample(rng, n)
        e = (x - s_opt * np.clip(np.rint(x / s_opt), g.r_b, g.r_t)) ** 2
        rse = e.std() / e.mean() / math.sqrt(n)
        n_needed = (e.std() / e.mean() / 1e-13) ** 2
        t_mc_eq = t_mc / n * n_needed * 1000  # for 1000 curve points
        print(f"{name:13s} {t_eng * 1e3:10.2f} {t_quad * 1e3:12.0f} {t_quad / t_eng:10.0f} {qerr:13.1e} "
              f"{t_mc * 1e3:10.1f} {rse:10.1e} {t_mc_eq / t_eng:15.1e}")
    print()
    print("time per 1000-point curve (ms) vs bit width, N(0,1) signed grid; auto = default path")
    print("(bit-independent fast path where certified), cells = per-cell reference path")
    print(f"{'bits':>4s} {'msqe auto':>10s} {'msqe cells':>11s} {'qsin auto':>10s} {'qsin cells':>11s}")
    for bits in (4, 8, 12, 16):
        g = Grid(bits)
        s_opt = 8.0 / 2**bits * (1.0 if bits < 8 else 0.5)
        scales = s_opt * np.geomspace(1e-2, 10, 1000)
        row = []
        for reg in ("msqe", "qsin"):
            for method in ("auto", "cells"):
                risk_curve(Normal(), scales[:2], g, reg, method=method)
                row.append(best_time(lambda: risk_curve(Normal(), scales, g, reg, method=method),
                                     2 if bits >= 16 else rep))
        print(f"{bits:4d} {row[0] * 1e3:10.2f} {row[1] * 1e3:11.1f} {row[2] * 1e3:10.2f} {row[3] * 1e3:11.1f}")
    _ = qsin


if __name__ == "__main__":
    main()
