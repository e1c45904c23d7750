"""Exact empirical optimal scale vs the baselines people use (MSE excess and time).

Run:  /work/venv/bin/python benchmarks/bench_empirical.py [--quick | --full] [--seed 0]

For each synthetic tensor (Normal, Laplace, Student-t(3), ReLU'd Normal on an
unsigned grid, and a "real-looking" mixture: a narrow Gaussian bulk, a wider
Gaussian shoulder and 0.01% large outliers), each size n and bit width b it
prints

* ``opt x``   the time of :func:`quanttheory.risk.data.optimal_scale_data`
  relative to ONE NumPy pass over the same data, and
* for each baseline, ``MSE(s_baseline) / MSE(s*) - 1`` in percent (exact MSE of
  both scales) and its own time relative to the NumPy pass.

Units.  A *NumPy pass* is the median of the times of four plain reductions over
the float64 data, each the minimum of 5 runs: ``x.sum()``, ``x.min()``,
``x.max()`` and ``np.abs(x).max()`` (the last allocates a temporary and is the
slowest: counting in it alone made every ratio look ~2x smaller).  Our optimum
and every baseline: minimum of 3 runs.  All wall-clock, timed in the same run
(the machine is shared; the minimum is the least noisy).

A negative excess would mean a baseline beat the "optimum": the script
asserts that never happens.  Timings are wall-clock on a shared machine; the
first call of each kernel (numba compilation / cache load) is excluded by a
warm-up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quanttheory.risk import baselines as B  # noqa: E402
from quanttheory.risk.data import mse_sums, optimal_scale_data  # noqa: E402
from quanttheory.formats.grid import Grid  # noqa: E402


def make(name: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Data and whether the grid is signed."""
    if name == "normal":
        return rng.normal(0.0, 1.0, n), True
    if name == "laplace":
        return rng.laplace(0.0, 1.0, n), True
    if name == "student3":
        return rng.standard_t(3, n), True
    if name == "relu":
        return np.maximum(rng.normal(0.0, 1.0, n), 0.0), False
    if name == "mixture":
        x = rng.normal(0.0, 0.02, n)
        m = rng.random(n)
        x[m < 0.1] = rng.normal(0.0, 0.1, int((m < 0.1).sum()))
        x[m < 1e-4] = rng.normal(0.0, 1.5, int((m < 1e-4).sum()))
        return x, True
    raise ValueError(name)


def timed(f, reps: int = 1):
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        out = f()
        ts.append(time.perf_counter() - t)
    return out, min(ts)


def numpy_pass(x: np.ndarray) -> float:
    """Seconds of ONE NumPy pass over ``x``: the median of four plain reductions
    (``sum``, ``min``, ``max``, ``abs().max()``), each the minimum of 5 runs."""
    reductions = (lambda: x.sum(), lambda: x.min(), lambda: x.max(), lambda: np.abs(x).max())
    return float(np.median([timed(f, 5)[1] for f in reductions]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 1e4, 1e5 only (a few seconds)")
    ap.add_argument("--full", action="store_true", help="every distribution up to n = 1e7 (several minutes)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--large-only", action="store_true", help="only the n = 1e7 rows (normal, mixture)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    dists = ["normal", "laplace", "student3", "relu", "mixture"]
    if args.quick:
        plan = [(d, n) for n in (10**4, 10**5) for d in dists]
    elif args.full:
        plan = [(d, n) for n in (10**4, 10**5, 10**6, 10**7) for d in dists]
    else:
        plan = [(d, n) for n in (10**4, 10**6) for d in dists] + [("normal", 10**7), ("mixture", 10**7)]
    if args.large_only:
        plan = [("normal", 10**7), ("mixture", 10**7)]
    bits_list = (2, 4, 8)
    names = list(B.BASELINES)
    # warm-up (numba compilation or cache load)
    w, _ = make("normal", 70000, rng)
    for b in bits_list:
        optimal_scale_data(w, b)
        optimal_scale_data(w, Grid(b, False))
        B.sweep(w[:1000], b)
    print(f"# numpy {np.__version__}; times are multiples of one NumPy pass (median of sum, min, max, "
          "abs().max(); each min of 5); ours and baselines min of 3")
    head = f"{'data':>9} {'n':>8} {'b':>2} {'np ms':>7} {'opt x':>7} | " + " | ".join(f"{k[:12]:>12}" for k in names)
    print("# cells: MSE excess over the exact optimum [%] / time [x NumPy pass]")
    print(head)
    worst = {k: 0.0 for k in names}
    t_start = time.perf_counter()
    for dist, n in plan:
        x, signed = make(dist, n, rng)
        t_np = numpy_pass(x)
        for b in bits_list:
            g = Grid(b, signed)
            res, t_opt = timed(lambda: optimal_scale_data(x, g), 3)
            f_opt = float(mse_sums(x, np.array([res.scale]), g)[0])
            cells = []
            for k in names:
                s, t_b = timed(lambda: B.BASELINES[k](x, g), 3)
                f_b = float(mse_sums(x, np.array([s]), g)[0])
                ex = f_b / f_opt - 1 if f_opt > 0 else 0.0
                assert ex >= -1e-9, (dist, n, b, k, ex)
                worst[k] = max(worst[k], ex)
                cells.append(f"{100 * ex:6.2f}/{t_b / t_np:5.1f}")
            print(f"{dist:>9} {n:>8} {b:>2} {1e3 * t_np:7.2f} {t_opt / t_np:7.1f} | " + " | ".join(cells), flush=True)
    print("# worst excess [%]: " + ", ".join(f"{k} {100 * v:.3g}" for k, v in worst.items()))
    print(f"# total {time.perf_counter() - t_start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
