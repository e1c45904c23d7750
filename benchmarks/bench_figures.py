"""Benchmark: regeneration time of the risk-curve figures, cold and warm, and the table's optimizer.

Plain script (not collected by pytest, never pass/fail):

    /work/venv/bin/python benchmarks/bench_figures.py

1. ``quanttheory figures --only eccv_fig2 optimal_scales`` in fresh processes, with an empty
   numba cache (``NUMBA_CACHE_DIR`` pointed at a new temporary directory: cold, kernels compiled),
   then with that cache filled (warm).  Units: seconds of wall-clock and of child CPU time per
   run, the minimum over ``--repeat`` runs (default 3; each cold run gets its own empty cache).
2. Baseline in the same run: the optimal-scale table for bits 2..8 computed with the certified
   ``quanttheory.risk.optimal_scale`` (MSQE and QSin, excess computed from the MSQE optimum)
   versus the figures' scan + Brent optimizer (``quanttheory.figures._optima``); ratio reported
   (seconds of process CPU time, minimum of ``--repeat`` runs each).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(env, out) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "quanttheory", "figures", "--only", "eccv_fig2", "optimal_scales",
                          "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, res.stdout


def table_baseline(repeat: int = 3) -> None:
    sys.path.insert(0, str(ROOT))
    import numpy as np

    from quanttheory.figures import _optima
    from quanttheory.figures.optimal_scales import LAW_ORDER, QUICK_BITS
    from quanttheory.formats.grid import Grid
    from quanttheory.risk import optimal_scale, risk_curve

    risk_curve(_optima.LAWS["normal"][0], np.array([1.0]), 4, "qsin")  # compile / load outside timings
    risk_curve(_optima.LAWS["normal"][0], np.array([1.0]), 4, "msqe")
    optimal_scale(_optima.LAWS["normal"][0], Grid(4), "qsin")
    cases = [(law, b, s) for law in LAW_ORDER for s in (True, False) for b in QUICK_BITS]
    t_cert = t_fast = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for law, b, s in cases:
            d, g = _optima.LAWS[law][0], Grid(b, s)
            m = optimal_scale(d, g, "msqe")
            q = optimal_scale(d, g, "qsin", with_msqe_excess=False)
            float(risk_curve(d, np.array([q.scale]), g, "msqe")[0]) / m.risk - 1
        t_cert = min(t_cert, time.process_time() - t0)
        _optima.optimum.cache_clear()
        t0 = time.process_time()
        for law, b, s in cases:
            _optima.optimum_pair(law, b, s)
        t_fast = min(t_fast, time.process_time() - t0)
    print(f"table bits 2..8 ({len(cases)} law/grid/bits cases, MSQE + QSin optima):")
    print(f"  certified optimal_scale (baseline) {t_cert:7.2f} s CPU")
    print(f"  scan + Brent (_optima)             {t_fast:7.2f} s CPU   ratio {t_cert / t_fast:5.1f}x faster")


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser(description="figure regeneration time, cold and warm")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the minimum is printed")
    args = ap.parse_args()
    best = {}
    with tempfile.TemporaryDirectory() as out:
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as cache:
                env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
                for label in ("cold (empty numba cache)", "warm"):
                    wall, cpu, _stdout = run_cli(env, out)
                    w0, c0 = best.get(label, (float("inf"), float("inf")))
                    best[label] = (min(w0, wall), min(c0, cpu))
    for label, (wall, cpu) in best.items():
        print(f"{label:26s} wall {wall:6.2f} s   CPU {cpu:6.2f} s   (min of {args.repeat} runs)")
    print(f"load average: {os.getloadavg()[0]:.2f} (2 cores shared: wall > CPU when loaded)")
    table_baseline(args.repeat)


if __name__ == "__main__":
    main()
