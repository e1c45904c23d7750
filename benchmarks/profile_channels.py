"""Stage profile of the per-channel rows kernel (``risk/_kernels/direct.py exact_rows_window``),
not a test; prints one line per bit width.

    python benchmarks/profile_channels.py [--rows 200] [--cols 10000] [--bits 2 4 8]
        [--dtype float64] [--repeat 3] [--baseline DIR]

``--baseline DIR`` runs the same script and options first on the package in ``DIR``
(``PYTHONPATH=DIR``, e.g. main exported with ``git archive 337afb3 | tar -x -C DIR``) in a
subprocess, then on this one (a same-session comparison, as in bench_channels.py).

The rows are those of bench_channels.py (``N(0, 1)`` times ``exp(N(0, 1/2))`` per row, seed 0;
the first ``--rows`` of the 1000-row array).  Stages, each timed over all rows (CPU seconds of
this process, ``time.process_time``, min of ``--repeat`` runs), in *passes*: one pass =
:func:`_timing.numpy_pass` over the whole 1000-row array (median of ``x.sum()``, ``x.max()``,
``(x > 1).sum()``) times ``rows / 1000``, the unit of bench_channels.py:

* ``stats``: ``_row_stats`` (extrema, bracket) per row;
* ``hist``: ``_hist_row`` + ``_prefix_dw`` (histogram of ``|x|`` and its prefix sums);
* ``window``: the exact solution of the window ``[A, B]`` the kernel chose (its diagnostics
  ``out[:, 8:10]``): ``_solve_buckets`` when it holds more than ``ROW_BUCKET_MIN_NE``
  breakpoints, else ``_sweep_window_fast`` (``_sweep_window`` before 2026-11-30, second morning);
* ``B&B``: the rest of the whole kernel's time (the branch and bound over s-intervals on the
  histogram, bounds evaluated per row: ``bounds``).

The per-row stage calls go through Python (about 1 us per call, measured with an empty call and
subtracted); the whole kernel is one call.  On a loaded machine the stage times carry a few
passes of noise; ``B&B`` collects all of it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

from _timing import numpy_pass

from quanttheory import Grid
from quanttheory.risk._kernels import direct as D


def data(rows, cols, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, cols)) * np.exp(0.5 * rng.normal(size=(rows, 1)))
    return np.ascontiguousarray(x.astype(dtype))


def tm(f, rep):
    """Min CPU seconds of ``rep`` runs of ``f`` after one untimed run (compilation, caches)."""
    f()
    best = float("inf")
    for _ in range(max(1, rep)):
        c = time.process_time()
        f()
        best = min(best, time.process_time() - c)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--cols", type=int, default=10000)
    ap.add_argument("--bits", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", default=None, metavar="DIR")
    a = ap.parse_args(argv)
    if a.baseline:  # the same script and options on the package in DIR first (subprocess), then this one
        args = list(argv if argv is not None else sys.argv[1:])
        i = args.index("--baseline")
        del args[i:i + 2]
        env = dict(os.environ, PYTHONPATH=os.path.abspath(a.baseline))
        out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], env=env, capture_output=True,
                             text=True, cwd=os.path.abspath(a.baseline))
        print(f"--- baseline: {a.baseline}")
        print(out.stdout.rstrip() or out.stderr.strip())
        print("--- this package")
        sys.stdout.flush()
    import quanttheory

    print(f"quanttheory from {os.path.dirname(quanttheory.__file__)}")
    R = a.rows
    full = data(max(R, 1000), a.cols, a.dtype)
    X = full[:R].copy()
    n = X.shape[1]
    # the unit of bench_channels.py: a pass over the whole (1000-row) array, per row, times R
    # (a pass over a few rows alone would run from cache, about twice as fast)
    unit = numpy_pass(full, 5, time.process_time) * R / full.shape[0]
    del full
    print(f"rows kernel stages, {R} x {n} {a.dtype}; unit: one NumPy pass over the 1000-row array "
          f"scaled to {R} rows ({1e3 * unit:.3f} ms CPU); CPU min of {a.repeat}")
    for b in a.bits:
        g = Grid(b)
        Tp, Tn = int(g.r_t), int(-g.r_b)
        Tm = max(Tp, Tn)
        out = np.zeros((R, 10))
        D.exact_rows_window(X[:2], Tp, Tn, out[:2])
        tot = tm(lambda: D.exact_rows_window(X, Tp, Tn, out), a.repeat)

        def nop():
            for r in range(R):
                D._const_sum(X[r, :1], Tp, Tn)

        t_nop = tm(nop, a.repeat)

        def stats():
            for r in range(R):
                D._row_stats(X[r], Tp, Tn)

        t_st = tm(stats, a.repeat) - t_nop
        mside = min(max(D.ROW_HIST_MIN, n // 2), D.ROW_HIST_PER_T * Tm + D.ROW_HIST_MIN)
        H = np.empty((2 * mside, 3))
        HMN = np.empty(2 * mside)
        HMX = np.empty(2 * mside)
        P = np.empty((2 * mside + 1, 6))
        J = np.empty(n, np.int32)  # int64 before 2026-11-30 (second morning); either works
        pars = []
        for r in range(R):
            mp, mn, npos, lo, hi = D._row_stats(X[r], Tp, Tn)
            Mp = min(max(D.ROW_HIST_MIN, npos // 2), D.ROW_HIST_PER_T * Tp + D.ROW_HIST_MIN)
            Mn = min(max(D.ROW_HIST_MIN, (n - npos) // 2), D.ROW_HIST_PER_T * Tn + D.ROW_HIST_MIN)
            pars.append((Mp, Mp / mp, Mn / mn, Mn))

        def hist():
            for r in range(R):
                Mp, iwp, iwn, Mn = pars[r]
                D._hist_row(X[r], Tp, Tn, Mp, iwp, iwn, Mn, H, HMN, HMX, J)
                D._prefix_dw(H, Mp + Mn, P)

        t_h = tm(hist, a.repeat) - t_nop
        A = out[:, 8].copy()
        B = out[:, 9].copy()
        ne = np.array([D.count_breakpoints(X[r], Tp, Tn, A[r], B[r]) for r in range(R)])
        cap = int(ne.max()) + 2
        bufs = [np.empty(cap) for _ in range(3)] + [np.empty(cap + 1) for _ in range(3)]
        tmp = np.zeros(6)
        ndb = np.empty(n)
        gb = np.empty(n, np.int32)
        fast = getattr(D, "_sweep_window_fast", None)

        def window():
            for r in range(R):
                if ne[r] > D.ROW_BUCKET_MIN_NE:
                    D._solve_buckets(X[r], Tp, Tn, A[r], B[r], ne[r], tmp)
                else:
                    if fast is None:  # an older package (baseline)
                        D._sweep_window(X[r], Tp, Tn, A[r], B[r], *bufs, tmp)
                    else:
                        fast(X[r], Tp, Tn, A[r], B[r], *bufs, ndb, gb, tmp)

        t_w = tm(window, a.repeat) - t_nop
        print(f"{b} bits: total {tot / unit:6.1f} passes ({1e6 * tot / R:7.1f} us/row) | stats {t_st / unit:5.1f}"
              f" | hist {t_h / unit:5.1f} | B&B {(tot - t_st - t_h - t_w) / unit:6.1f} | window {t_w / unit:6.1f}"
              f" | bounds/row {out[:, 7].mean():.0f}, window breakpoints/row {ne.mean():.0f}, "
              f"window width B/A - 1 {np.mean(B / A - 1):.3f}", flush=True)


if __name__ == "__main__":
    main()
