"""Benchmark of the certified optimum ``optimal_scale`` of parametric laws (not a test; prints a table).

    python benchmarks/bench_optimum.py [--bits 1 2 ... 16] [--laws normal laplace relu-normal relu-laplace]
                                       [--grids signed unsigned] [--regs msqe qsin] [--repeat 5]
                                       [--budget 2] [--json out.json] [--baseline]
    python benchmarks/bench_optimum.py --compare old.json new.json

For each law, grid kind, bit width and regularizer it reports, warm (numba cache and kernels
loaded by a first call that is not timed):

* ``cpu``/``wall``: ``optimal_scale(law, Grid(b, signed), reg, with_msqe_excess=False)``, the minimum
  over ``--repeat`` runs of the CPU time of this process (``time.process_time``) and of the wall time
  (``time.perf_counter``); ms;
* ``gap``: the certificate ``(risk - risk_lower_bound) / risk`` (no scale has a lower risk than
  ``risk_lower_bound``), and ``err/s`` = ``scale_error / scale`` (the certified relative width);
* ``path``: ``closed`` (the bit-independent certificate of ``risk/_normal_cert.py``), ``few``
  (the few-cell certificate of ``risk/_lowbit_cert.py``) or ``cells`` (per-cell branch and bound);
* with ``--baseline``: what a user would write, scipy's ``minimize_scalar(method="bounded")`` on
  ``log s`` over ``[log(s*/4), log(4 s*)]`` with ``xatol=1e-10``, each step one ``risk_curve`` call
  (no certificate), CPU ms, measured in the same run, and the ratio ``cpu / baseline cpu``.

``--json`` writes the rows (strict JSON); ``--compare`` prints two such files side by side (e.g. main
run with main's interpreter, then this branch, in the same session) with the speed-up ``old cpu /
new cpu`` and the relative distance of the two scales.  A case whose first call takes longer than
``--budget`` seconds (wall) is timed once (that call) and marked ``*``; the cases after it for the same
law, grid and regularizer at more bits are skipped (the per-cell certificate's cost grows as 2^b).
Single-threaded (threads pinned to 1 below).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _timing import best_time  # noqa: E402

LAWS = ("normal", "laplace", "relu-normal", "relu-laplace")


def make_law(name):
    from quanttheory import Laplace, Normal, ReLU

    base = Normal() if "normal" in name else Laplace()
    return ReLU(base) if name.startswith("relu") else base


def baseline(d, g, reg, s_guess):
    from scipy.optimize import minimize_scalar

    from quanttheory.risk import risk_curve

    f = lambda u: float(risk_curve(d, [math.exp(u)], g, reg)[0])
    r = minimize_scalar(f, bounds=(math.log(s_guess / 4), math.log(s_guess * 4)), method="bounded",
                        options={"xatol": 1e-10})
    return math.exp(r.x)


def _path(method):
    if method.startswith("bit-independent"):
        return "closed"
    if method.startswith("few-cell"):
        return "few"
    return "cells"


def _finite(x):
    return x if math.isfinite(x) else None


def run(a):
    from quanttheory import Grid
    from quanttheory.risk import optimal_scale

    rows = []
    print(f"warm; times: minimum of {a.repeat} runs (CPU = time.process_time, wall = time.perf_counter), ms; "
          "gap = (risk - risk_lower_bound)/risk")
    head = f"{'law':>12} {'grid':>8} {'bits':>4} {'reg':>5} {'path':>6} {'cpu':>9} {'wall':>9} {'gap':>8} {'err/s':>8}"
    if a.baseline:
        head += f" {'scipy cpu':>9} {'ratio':>7} {'|ds|/s':>8}"
    print(head)
    for name in a.laws:
        d = make_law(name)
        for kind in a.grids:
            signed = kind == "signed"
            for reg in a.regs:
                skip = False
                for wb in sorted({min(a.bits), 4}):  # warm-up, not timed: loads the kernels of both paths
                    if d.relu and signed and wb == 1:
                        continue
                    optimal_scale(d, Grid(wb, signed), reg, with_msqe_excess=False)
                for b in a.bits:
                    g = Grid(b, signed)
                    if d.relu and g.r_t == 0:
                        print(f"{name:>12} {kind:>8} {b:>4} {reg:>5}   (no positive grid point: ValueError by design)")
                        continue
                    if skip:
                        print(f"{name:>12} {kind:>8} {b:>4} {reg:>5}   (skipped: over the budget at fewer bits)")
                        continue
                    t0, c0 = time.perf_counter(), time.process_time()
                    res = optimal_scale(d, g, reg, with_msqe_excess=False)
                    first_wall, first_cpu = time.perf_counter() - t0, time.process_time() - c0
                    mark = " "
                    if first_wall > a.budget:
                        t_cpu, t_wall, mark, skip = first_cpu, first_wall, "*", True
                    else:
                        f = lambda: optimal_scale(d, g, reg, with_msqe_excess=False)
                        t_cpu, res = best_time(f, a.repeat, time.process_time)
                        t_wall, _ = best_time(f, a.repeat, time.perf_counter)
                    gap = (res.risk - res.risk_lower_bound) / res.risk
                    row = dict(law=name, grid=kind, bits=b, reg=reg, path=_path(res.method), cpu_ms=t_cpu * 1e3,
                               wall_ms=t_wall * 1e3, gap=_finite(gap), err_rel=_finite(res.scale_error / res.scale),
                               scale=res.scale, risk=res.risk, timed_once=mark == "*")
                    line = (f"{name:>12} {kind:>8} {b:>4} {reg:>5} {row['path']:>6} {t_cpu * 1e3:>8.2f}{mark} "
                            f"{t_wall * 1e3:>9.2f} {gap:>8.1e} {res.scale_error / res.scale:>8.1e}")
                    if a.baseline:
                        t_base, s_b = best_time(lambda: baseline(d, g, reg, res.scale), 3, time.process_time)
                        line += (f" {t_base * 1e3:>9.2f} {t_cpu / t_base:>7.2f} "
                                 f"{abs(res.scale - s_b) / res.scale:>8.1e}")
                        row.update(baseline_cpu_ms=t_base * 1e3)
                    rows.append(row)
                    print(line, flush=True)
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(rows, fh, indent=0, allow_nan=False)


def compare(old_file, new_file):
    def load(p):
        with open(p) as fh:
            return {(r["law"], r["grid"], r["bits"], r["reg"]): r for r in json.load(fh)}

    old, new = load(old_file), load(new_file)
    print("old = first file, new = second; CPU ms (min of runs); gap = (risk - risk_lower_bound)/risk; "
          "speed-up = old cpu / new cpu; |ds|/s between the two scales")
    print(f"{'law':>12} {'grid':>8} {'bits':>4} {'reg':>5} | {'old path':>8} {'old cpu':>9} {'old gap':>8} | "
          f"{'new path':>8} {'new cpu':>9} {'new wall':>9} {'new gap':>8} | {'speed-up':>8} {'|ds|/s':>8}")
    fmt = lambda x: "   -    " if x is None else f"{x:>8.1e}"
    for key, n in new.items():
        o = old.get(key)
        if o is None:
            ocol = f"{'-':>8} {'-':>9} {'-':>8}"
            sp = ds = "-"
        else:
            ocol = f"{o['path']:>8} {o['cpu_ms']:>8.2f}{'*' if o['timed_once'] else ' '} {fmt(o['gap'])}"
            sp = f"{o['cpu_ms'] / max(n['cpu_ms'], 1e-6):.1f}"
            ds = "-" if o.get("scale") is None else f"{abs(o['scale'] - n['scale']) / n['scale']:.1e}"
        print(f"{key[0]:>12} {key[1]:>8} {key[2]:>4} {key[3]:>5} | {ocol} | {n['path']:>8} {n['cpu_ms']:>8.2f}"
              f"{'*' if n['timed_once'] else ' '} {n['wall_ms']:>9.2f} {fmt(n['gap'])} | {sp:>8} {ds:>8}")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", type=int, nargs="*", default=list(range(1, 17)))
    ap.add_argument("--laws", nargs="*", default=list(LAWS), choices=list(LAWS))
    ap.add_argument("--grids", nargs="*", default=["signed", "unsigned"], choices=["signed", "unsigned"])
    ap.add_argument("--regs", nargs="*", default=["msqe", "qsin"])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--budget", type=float, default=2.0, help="seconds: longer first calls are timed once")
    ap.add_argument("--json", default=None, help="write the rows to this file (strict JSON)")
    ap.add_argument("--baseline", action="store_true", help="also time a scipy minimize_scalar baseline")
    ap.add_argument("--compare", nargs=2, metavar=("OLD", "NEW"), help="print two --json files side by side")
    a = ap.parse_args(argv)
    if a.compare:
        compare(*a.compare)
    else:
        run(a)


if __name__ == "__main__":
    main()
