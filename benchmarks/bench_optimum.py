"""Benchmark of the certified optimum ``optimal_scale`` of parametric laws (not a test; prints a table).

    python benchmarks/bench_optimum.py [--bits 1 2 4 8 12 16 20 24] [--laws normal laplace relu-normal]
                                       [--regs msqe qsin] [--repeat 5] [--budget 20]

For each law, bit width and regularizer it reports, warm (numba cache and kernels loaded by a
first call that is not timed):

* ``cpu``/``wall``: ``optimal_scale(law, Grid(b), reg, with_msqe_excess=False)``, the minimum over
  ``--repeat`` runs of the CPU time of this process (``time.process_time``) and of the wall time
  (``time.perf_counter``); ms;
* ``err/s``: the certified relative width ``scale_error / scale``;
* the baseline measured in the same run: what a user would write, scipy's
  ``minimize_scalar(method="bounded")`` on ``log s`` over ``[log(s*/4), log(4 s*)]`` with
  ``xatol=1e-10``, each step one ``risk_curve`` call (no certificate), CPU ms, and the ratio
  ``cpu / baseline cpu``; ``|ds|/s`` the agreement of the two scales;
* ``path``: ``closed`` (the bit-independent certificate of ``risk/_normal_cert.py``) or ``cells``
  (per-cell branch and bound, whose cost grows as 2^b).

A first, untimed call per law and regularizer loads (or compiles) its kernels.  A case whose first
call takes longer than ``--budget`` seconds (wall) is timed once (that call)
and marked ``*``; cases after it for the same law and regularizer at more bits are skipped
(the per-cell certificate takes ~100 s at 20 bits and ~20 min at 24 bits).  Single-threaded
(threads pinned to 1 below).
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from scipy.optimize import minimize_scalar  # noqa: E402

from _timing import best_time  # noqa: E402

from quanttheory import Grid, Laplace, Normal, ReLU  # noqa: E402
from quanttheory.risk import optimal_scale, risk_curve  # noqa: E402

LAWS = {"normal": Normal(), "laplace": Laplace(), "relu-normal": ReLU(Normal())}


def baseline(d, g, reg, s_guess):
    f = lambda u: float(risk_curve(d, [math.exp(u)], g, reg)[0])
    r = minimize_scalar(f, bounds=(math.log(s_guess / 4), math.log(s_guess * 4)), method="bounded",
                        options={"xatol": 1e-10})
    return math.exp(r.x)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", type=int, nargs="*", default=[1, 2, 4, 8, 12, 16, 20, 24])
    ap.add_argument("--laws", nargs="*", default=list(LAWS), choices=list(LAWS))
    ap.add_argument("--regs", nargs="*", default=["msqe", "qsin"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds: longer warm-up calls are timed once")
    a = ap.parse_args(argv)
    print(f"warm; times: minimum of {a.repeat} runs (CPU = time.process_time, wall = time.perf_counter), ms")
    print(f"{'law':>12} {'bits':>4} {'reg':>5} {'path':>6} {'cpu':>9} {'wall':>9} {'err/s':>8} "
          f"{'scipy cpu':>9} {'ratio':>7} {'|ds|/s':>8}")
    for name in a.laws:
        d = LAWS[name]
        for reg in a.regs:
            skip = False
            for b in a.bits:
                g = Grid(b, not d.relu)
                if skip:
                    print(f"{name:>12} {b:>4} {reg:>5}   (skipped: over the budget at fewer bits)")
                    continue
                if b == a.bits[0]:  # warm-up, not timed: compiles / loads the kernels of this law
                    optimal_scale(d, Grid(min(a.bits), not d.relu), reg, with_msqe_excess=False)
                t0 = time.perf_counter()
                c0 = time.process_time()
                res = optimal_scale(d, g, reg, with_msqe_excess=False)
                first_wall, first_cpu = time.perf_counter() - t0, time.process_time() - c0
                mark = " "
                if first_wall > a.budget:
                    t_cpu, t_wall, mark, skip = first_cpu, first_wall, "*", True
                else:
                    run = lambda: optimal_scale(d, g, reg, with_msqe_excess=False)
                    t_cpu, res = best_time(run, a.repeat, time.process_time)
                    t_wall, _ = best_time(run, a.repeat, time.perf_counter)
                t_base, s_b = best_time(lambda: baseline(d, g, reg, res.scale), max(1, min(a.repeat, 3)),
                                        time.process_time)
                path = "closed" if res.method.startswith("bit-independent") else "cells"
                print(f"{name:>12} {b:>4} {reg:>5} {path:>6} {t_cpu * 1e3:>8.2f}{mark} {t_wall * 1e3:>9.2f} "
                      f"{res.scale_error / res.scale:>8.1e} {t_base * 1e3:>9.2f} {t_cpu / t_base:>7.2f} "
                      f"{abs(res.scale - s_b) / res.scale:>8.1e}", flush=True)


if __name__ == "__main__":
    main()
