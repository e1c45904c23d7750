"""Benchmark: one parametric real-offset (s, m) optimum (x_hat = s q + m), warm.

For each law and bit width: the new search (Newton incumbent, convex rectangle from the second-order
interval Hessian, branch and bound outside it; ``parametric.USE_FAST_OFFSET = True``) and the
previous search (``USE_FAST_OFFSET = False``, the code on main) in the same process.  Units:
milliseconds of CPU time (``time.process_time``) and of wall time (``time.perf_counter``), each the
minimum over ``--reps`` warm runs (baseline: ``--base-reps`` runs; above ``--base-max-bits`` the
baseline is skipped: seconds per call).  Also: the certificate gap ``(mse - lower bound) / mse``
of both, ``rel`` = (new - previous) / previous MSE, and the work counters of the new search
(branch-and-bound rounds, boxes given the second-order bound, closed-form evaluations of the
union-distance kernel = "risk evaluations", one per box or point).  Goal (issue 16): 20 ms.

    python benchmarks/bench_affine_offset.py [--bits 2,3,4,5,6,7,8] [--reps 5] [--base-reps 2]
                                             [--base-max-bits 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from quanttheory.affine import parametric as PM  # noqa: E402
from quanttheory.laws import Laplace, Normal, ReLU  # noqa: E402

LAWS = [Normal(0.0, 1.0), Laplace(1.0, 1.0), Normal(2.0, 1.0), ReLU(Normal(0.0, 1.0)), ReLU(Laplace(0.5, 1.0))]


def timed(f, reps):
    """(min CPU seconds, min wall seconds, last result) over reps runs."""
    cpu, wall, r = float("inf"), float("inf"), None
    for _ in range(reps):
        c0, w0 = time.process_time(), time.perf_counter()
        r = f()
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return cpu, wall, r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", default="2,3,4,5,6,7,8")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--base-reps", type=int, default=2)
    ap.add_argument("--base-max-bits", type=int, default=5)
    ap.add_argument("--laws", default=None, help="indices into the law list (comma-separated)")
    a = ap.parse_args()
    bits = [int(b) for b in a.bits.split(",")]
    laws = LAWS if a.laws is None else [LAWS[int(i)] for i in a.laws.split(",")]
    print("# One parametric real-offset (s, m) optimum, warm; ms CPU / ms wall (min of "
          f"{a.reps}); previous search min of {a.base_reps} (bits <= {a.base_max_bits})")
    print("law | bits | new CPU | new wall | gap | rounds | Taylor boxes | risk evals | previous CPU | "
          "previous wall | previous gap | ratio CPU | rel MSE")
    print("---|---|---|---|---|---|---|---|---|---|---|---|---")
    for d in laws:
        for b in bits:
            PM.USE_FAST_OFFSET = True
            PM.optimal_offset(d, b)  # warm (numba compile, caches)
            c, w, r = timed(lambda: PM.optimal_offset(d, b), a.reps)
            fast = "Newton" in r.method
            gap = (r.mse - r.mse_lower_bound) / r.mse
            ex = r.extra
            row = (f"{d} | {b} | {c * 1e3:.1f} | {w * 1e3:.1f} | {gap:.1e} | {ex.get('rounds')} | "
                   f"{ex.get('taylor_boxes', '-') if fast else 'fallback'} | {ex.get('bound_evaluations')}")
            if b <= a.base_max_bits:
                PM.USE_FAST_OFFSET = False
                try:
                    c0, w0, r0 = timed(lambda: PM.optimal_offset(d, b), a.base_reps)
                finally:
                    PM.USE_FAST_OFFSET = True
                gap0 = (r0.mse - r0.mse_lower_bound) / r0.mse
                row += (f" | {c0 * 1e3:.1f} | {w0 * 1e3:.1f} | {gap0:.1e} | x{c0 / c:.1f} | "
                        f"{(r.mse - r0.mse) / r0.mse:.1e}")
            else:
                row += " | - | - | - | - | -"
            print(row, flush=True)


if __name__ == "__main__":
    main()
