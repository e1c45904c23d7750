"""Benchmark: one parametric real-offset (s, m) optimum (x_hat = s q + m), warm.

For each law and bit width: this tree's search, and optionally a baseline tree (``--baseline DIR``, e.g.
main exported with ``git -C /work/main archive a8eaa3e | tar -x -C /tmp/base``) run in a subprocess of
the same process group *in the same run*, interleaved law by law.  Units: milliseconds of CPU time
(``time.process_time``) and of wall time (``time.perf_counter``), each the minimum over ``--reps`` warm
runs (baseline: ``--base-reps``).  Also: the certificate gap ``(mse - lower bound) / mse``, ``rel`` =
(new - baseline) / baseline MSE, and the new search's work counters (branch-and-bound rounds, boxes
given the second-order bound, point / box evaluations).  Goal (issue 16): 20 ms (results in
docs/affine_offset.md; CPU time itself varies ~1.5x with the machine's load).

    python benchmarks/bench_affine_offset.py [--bits 2,3,4,5,6,7,8] [--reps 5] [--laws 0,3]
                                             [--baseline DIR] [--base-reps 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

LAW_SPECS = ["Normal(0.0, 1.0)", "Laplace(1.0, 1.0)", "Normal(2.0, 1.0)", "ReLU(Normal(0.0, 1.0))",
             "ReLU(Laplace(0.5, 1.0))"]


def timed(f, reps):
    """(min CPU seconds, min wall seconds, last result) over reps runs."""
    cpu, wall, r = float("inf"), float("inf"), None
    for _ in range(reps):
        c0, w0 = time.process_time(), time.perf_counter()
        r = f()
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return cpu, wall, r


def measure(law_idx, bits, reps):
    """{bits: {...}} for one law, in this interpreter (whatever quanttheory is first on sys.path)."""
    from quanttheory.affine import parametric as PM
    from quanttheory.laws import Laplace, Normal, ReLU  # noqa: F401

    d = eval(LAW_SPECS[law_idx])  # a fixed table of constructors
    out = {}
    for b in bits:
        PM.optimal_offset(d, b)  # warm (numba compile, caches)
        c, w, r = timed(lambda: PM.optimal_offset(d, b), reps)
        ex = r.extra
        out[b] = {"cpu": c, "wall": w, "mse": float(r.mse), "lb": float(r.mse_lower_bound),
                  "rounds": ex.get("rounds"), "taylor": ex.get("taylor_boxes"),
                  "evals": ex.get("bound_evaluations"), "fast": "Newton" in r.method}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", default="2,3,4,5,6,7,8")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--base-reps", type=int, default=2)
    ap.add_argument("--laws", default=None, help="indices into the law list (comma-separated)")
    ap.add_argument("--baseline", default=None, help="root of a baseline source tree (same run, subprocess)")
    ap.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    bits = [int(b) for b in a.bits.split(",")]
    laws = range(len(LAW_SPECS)) if a.laws is None else [int(i) for i in a.laws.split(",")]
    if a._child is not None:  # baseline child: quanttheory from the baseline tree
        print(json.dumps(measure(int(a._child), bits, a.reps)))
        return
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    print(f"# One parametric real-offset (s, m) optimum, warm; ms CPU / ms wall (min of {a.reps}"
          + (f"; baseline {a.baseline}, min of {a.base_reps}, same run" if a.baseline else "") + ")")
    print("law | bits | new CPU | new wall | gap | rounds | Taylor boxes | evals | base CPU | base wall | "
          "base gap | CPU ratio | rel MSE")
    print("---|---|---|---|---|---|---|---|---|---|---|---|---")
    for li in laws:
        base = {}
        if a.baseline:
            env = dict(os.environ, PYTHONPATH=os.path.abspath(a.baseline))
            res = subprocess.run([sys.executable, os.path.abspath(__file__), "--_child", str(li), "--bits", a.bits,
                                  "--reps", str(a.base_reps)], env=env, capture_output=True, text=True,
                                 cwd=os.path.abspath(a.baseline), check=True)
            base = {int(k): v for k, v in json.loads(res.stdout.strip().splitlines()[-1]).items()}
        new = measure(li, bits, a.reps)
        for b in bits:
            n = new[b]
            gap = (n["mse"] - n["lb"]) / n["mse"]
            row = (f"{LAW_SPECS[li]} | {b} | {n['cpu'] * 1e3:.1f} | {n['wall'] * 1e3:.1f} | {gap:.1e} | "
                   f"{n['rounds']} | {n['taylor'] if n['fast'] else 'fallback'} | {n['evals']}")
            if b in base:
                o = base[b]
                row += (f" | {o['cpu'] * 1e3:.1f} | {o['wall'] * 1e3:.1f} | {(o['mse'] - o['lb']) / o['mse']:.1e} | "
                        f"x{o['cpu'] / n['cpu']:.1f} | {(n['mse'] - o['mse']) / o['mse']:.1e}")
            else:
                row += " | - | - | - | - | -"
            print(row, flush=True)


if __name__ == "__main__":
    main()
