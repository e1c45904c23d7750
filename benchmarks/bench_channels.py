"""Benchmark of the exact per-channel data optimum ``optimal_scale_data(x, Grid(b), axis=0)``
(not a test; prints a table).

    python benchmarks/bench_channels.py [--channels 1000x10000] [--bits 2 4 8] [--dtypes float64 float32]
        [--short 30000x384] [--short-bits 2 4 8] [--repeat 3] [--no-short] [--baseline DIR]

Unit: one *pass* = :func:`_timing.numpy_pass` on the whole array (median of the best times of
``x.sum()``, ``x.max()``, ``(x > 1).sum()``), measured in the same run with the same clock.  Each
timing is the minimum of ``--repeat`` runs, in CPU seconds of this process (``time.process_time``)
and in wall seconds (``time.perf_counter``); the machine may be shared, CPU time is the steadier.

Short rows (``--short``, float32, one scale per row): the baseline is a 100-candidate NumPy sweep
of the same rows (``s = c * max|x_row| / T`` for 100 values of ``c`` in [0.3, 1]; vectorized over
rows, 64 rows at a time, as in bench_optimum_data.py); the report gives both times, their ratio and
the mean gap of the sweep's MSE above the exact optimum, in dB.

Data: rows ``N(0, 1)`` times a per-row scale ``exp(N(0, 1/2))`` (seed 0).  Run the same script
with another checkout's interpreter (e.g. ``/work/main/.venv/bin/python``) for an old-vs-new
comparison in one session; the first line says which package is imported.  ``--baseline DIR``
does that in the same run: the same script, same options, first on the package in ``DIR``
(``PYTHONPATH=DIR``, e.g. main exported with ``git archive a8eaa3e | tar -x -C DIR``) in a
subprocess, then on this one; ``--dump FILE`` writes the per-row MSEs (``.npz``) and
``--compare FILE`` reports the largest relative MSE difference against such a dump (with
``--baseline``, ``--dump FILE`` also compares against the baseline's dump ``FILE.base.npz``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from _baselines import sweep  # noqa: E402
from _timing import numpy_pass  # noqa: E402

import quanttheory  # noqa: E402
from quanttheory import Grid  # noqa: E402
from quanttheory.risk.data import optimal_scale_data  # noqa: E402


def data(rows, cols, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, cols)) * np.exp(0.5 * rng.normal(size=(rows, 1)))
    return np.ascontiguousarray(x.astype(dtype))

def timed(f, repeat):
    """(min CPU seconds, min wall seconds, last result) over ``repeat`` runs, both clocks read
    around the same runs."""
    cpu = wall = float("inf")
    out = None
    for _ in range(max(1, int(repeat))):
        c0, w0 = time.process_time(), time.perf_counter()
        out = f()
        cpu, wall = min(cpu, time.process_time() - c0), min(wall, time.perf_counter() - w0)
    return cpu, wall, out


def shape(s):
    r, c = s.lower().split("x")
    return int(float(r)), int(float(c))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--channels", default="1000x10000")
    ap.add_argument("--bits", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    ap.add_argument("--short", default="30000x384")
    ap.add_argument("--short-bits", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--no-short", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", default=None, metavar="DIR")
    ap.add_argument("--dump", default=None, metavar="FILE")
    ap.add_argument("--compare", default=None, metavar="FILE")
    a = ap.parse_args(argv)
    if a.baseline:
        args = list(argv if argv is not None else sys.argv[1:])
        i = args.index("--baseline")
        del args[i:i + 2]
        if a.dump:  # the baseline's MSEs beside, compared below
            i = args.index("--dump")
            args[i + 1] = a.compare = os.path.abspath(a.dump) + ".base.npz"
        env = dict(os.environ, PYTHONPATH=os.path.abspath(a.baseline))
        out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], env=env, capture_output=True,
                             text=True, cwd=os.path.abspath(a.baseline))
        print(f"--- baseline: {a.baseline}")
        print(out.stdout.rstrip() or out.stderr.strip())
        print("--- this package")
        sys.stdout.flush()
    mses = {}
    print(f"quanttheory from {os.path.dirname(quanttheory.__file__)}")
    rows, cols = shape(a.channels)
    print(f"\nper channel, {rows} x {cols}, one scale per row (min of {a.repeat} runs)")
    print(f"{'dtype':>8} {'bits':>4} {'pass ms cpu/wall':>18} {'optimum s cpu/wall':>20} {'passes cpu/wall':>16}")
    for dt in a.dtypes:
        x = data(rows, cols, dt)
        p_cpu = numpy_pass(x, 5, time.process_time)
        p_wall = numpy_pass(x, 5, time.perf_counter)
        for b in a.bits:
            g = Grid(b)
            optimal_scale_data(x[:2], g, axis=0)  # compile / load the kernels outside the timing
            cpu, wall, r = timed(lambda: optimal_scale_data(x, g, axis=0), a.repeat)
            print(f"{dt:>8} {b:>4} {1e3 * p_cpu:8.2f}/{1e3 * p_wall:<8.2f} {cpu:9.3f}/{wall:<9.3f} "
                  f"{cpu / p_cpu:7.1f}/{wall / p_wall:<7.1f}")
            mses[f"long_{dt}_{b}"] = np.asarray(r.extra["mse"], dtype=np.float64)
            sys.stdout.flush()
    if not a.no_short:
        short(a, mses)
    if a.dump:
        np.savez(a.dump, **mses)
    if a.compare and not os.path.exists(a.compare):
        print(f"--compare: {a.compare} does not exist (run the baseline with --dump first)")
    elif a.compare:
        ref = np.load(a.compare)
        for k, v in mses.items():
            if k in ref:
                d = float(np.max(np.abs(v - ref[k]) / np.maximum(ref[k], 1e-300)))
                print(f"{k}: max relative MSE difference against {a.compare}: {d:.2e}")


def short(a, mses):
    rows, cols = shape(a.short)
    x = data(rows, cols, "float32", seed=1)
    print(f"\nshort rows, {rows} x {cols} float32, vs a 100-candidate NumPy sweep (min of {a.repeat} runs)")
    print(f"{'bits':>4} {'exact s cpu/wall':>18} {'sweep s cpu/wall':>18} {'sweep/exact cpu':>16} {'sweep gap dB':>13}")
    for b in a.short_bits:
        g = Grid(b)
        optimal_scale_data(x[:2], g, axis=0)
        cpu, wall, r = timed(lambda: optimal_scale_data(x, g, axis=0), a.repeat)
        scpu, swall, (bs, be) = timed(lambda: sweep(x, b), a.repeat)
        gap = float(np.mean(10 * np.log10(be / np.asarray(r.extra["mse"]))))
        mses[f"short_{b}"] = np.asarray(r.extra["mse"], dtype=np.float64)
        print(f"{b:>4} {cpu:8.3f}/{wall:<9.3f} {scpu:8.3f}/{swall:<9.3f} {scpu / cpu:16.2f} {gap:13.4f}")


if __name__ == "__main__":
    main()
