"""Interleaved A/B of the data optimum's histogram pass, in one process (not a test; prints a table).

    python benchmarks/bench_data_hist_ab.py --old DIR [--n 1e7] [--bits 2 4 8] [--repeat 6]

``DIR`` is an exported copy of an older version (e.g. ``git -C /work/main archive a8eaa3e | tar -x
-C DIR``): its ``_Hist.fused`` (the (count, sum, sum of squares) histogram pass, kernel
``hist_stats`` of this package) is bound to this package's ``_Hist`` and the optimum is computed
alternately with the old and the current fused pass (every other stage is this package's code), so
both see the same load.  Reports the minimum CPU time (``time.process_time``) of each over
``--repeat`` alternations, their ratio, the straddler counts (points with a breakpoint in the
surviving cluster) and whether the results agree (scale, relative MSE difference).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import quanttheory.risk.data as D  # noqa: E402
import quanttheory.risk.data_search as S  # noqa: E402
from quanttheory import Grid  # noqa: E402


def _old_fused(old_dir):
    src = open(os.path.join(old_dir, "quanttheory", "risk", "data_search.py")).read()
    a = src.index("    @classmethod\n    def fused(cls")
    b = src.index("    def interval_lb(self")
    code = ("import math\nimport numpy as np\nfrom quanttheory.laws.atoms import DataStats, iter_chunks\n"
            "from quanttheory.risk.data_search import _hist_layout, BLOCK, HIST_OCTAVES\nclass Old:\n" + src[a:b])
    ns = {}
    exec(compile(code.replace("from ._kernels import data as K", "from quanttheory.risk._kernels import data as K"),
                 "old_fused", "exec"), ns)
    return ns["Old"].fused.__func__


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--n", type=float, default=1e7)
    ap.add_argument("--bits", type=int, nargs="*", default=[2, 4, 8])
    ap.add_argument("--repeat", type=int, default=6)
    a = ap.parse_args()
    fused = {"old": _old_fused(a.old), "new": S._Hist.fused.__func__}
    for dt in (np.float64, np.float32):
        x = np.random.default_rng(0).standard_normal(int(a.n)).astype(dt)
        for bits in a.bits:
            g = Grid(bits)
            best, res = {"old": np.inf, "new": np.inf}, {}
            for _ in range(a.repeat):
                for w in ("old", "new"):
                    S._Hist.fused = classmethod(fused[w])
                    t = time.process_time()
                    res[w] = D.optimal_scale_data(x, g)
                    best[w] = min(best[w], time.process_time() - t)
            S._Hist.fused = classmethod(fused["new"])
            ro, rn = res["old"], res["new"]
            print(f"{np.dtype(dt).name:>7} bits={bits}: old {best['old'] * 1e3:7.1f} ms, new {best['new'] * 1e3:7.1f} ms "
                  f"(CPU), ratio old/new {best['old'] / best['new']:.2f}; straddlers {ro.extra['straddlers']} -> "
                  f"{rn.extra['straddlers']}; scale {'equal' if ro.scale == rn.scale else f'|ds|/s {abs(ro.scale / rn.scale - 1):.1e}'}"
                  f", MSE rel. diff {abs(ro.extra['mse'] / rn.extra['mse'] - 1):.1e}", flush=True)


if __name__ == "__main__":
    main()
