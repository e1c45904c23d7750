"""Interleaved A/B of the data optimum's s-histogram kernel, in one process (not a test; prints a table).

    python benchmarks/bench_data_shist_ab.py --old DIR [--n 1e7] [--bits 2 4 8] [--repeat 6]

``DIR`` is an exported copy of an older version (e.g. ``git -C /work/main archive c812034 | tar -x
-C DIR``): its ``quanttheory/risk/_kernels/data.py`` is loaded as a separate module, and the
optimum ``optimal_scale_data(x, Grid(bits))`` (n standard normal values, float64 and float32) is
computed alternately with the old and this package's ``shist_chunk`` (every other stage is this
package's code), so both see the same load.  Reports, per case, the minimum CPU time
(``time.process_time``) of the whole call and of the s-histogram kernel calls alone over
``--repeat`` alternations, in NumPy passes (the CPU-time ``benchmarks._timing.numpy_pass`` of the
same array, measured in the same run), their ratios, and whether the results are identical.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from _timing import numpy_pass  # noqa: E402

import quanttheory.risk.data as D  # noqa: E402
from quanttheory import Grid  # noqa: E402
from quanttheory.risk._kernels import data as K  # noqa: E402


def _old_kernels(old_dir):
    path = os.path.join(old_dir, "quanttheory", "risk", "_kernels", "data.py")
    spec = importlib.util.spec_from_file_location("_old_risk_kernels_data", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--n", type=float, default=1e7)
    ap.add_argument("--bits", type=int, nargs="*", default=[2, 4, 8])
    ap.add_argument("--repeat", type=int, default=6)
    a = ap.parse_args()
    new_f = K.shist_chunk
    old_f = _old_kernels(a.old).shist_chunk
    spent = [0.0]

    def timed(f):
        def g(*args):
            t = time.process_time()
            f(*args)
            spent[0] += time.process_time() - t
        return g

    kern = {"old": timed(old_f), "new": timed(new_f)}
    for dt in (np.float64, np.float32):
        x = np.random.default_rng(0).standard_normal(int(a.n)).astype(dt)
        p = numpy_pass(x, 5, time.process_time)
        for bits in a.bits:
            g = Grid(bits)
            best = {w: np.inf for w in kern}
            bk = {w: np.inf for w in kern}
            res = {}
            for w in kern:  # compile / load outside the timing
                K.shist_chunk = kern[w]
                D.optimal_scale_data(x[:200000], g)
            for _ in range(a.repeat):
                for w in ("old", "new"):
                    K.shist_chunk = kern[w]
                    spent[0] = 0.0
                    t = time.process_time()
                    res[w] = D.optimal_scale_data(x, g)
                    best[w] = min(best[w], time.process_time() - t)
                    bk[w] = min(bk[w], spent[0])
            K.shist_chunk = new_f
            ro, rn = res["old"], res["new"]
            same = ro.scale == rn.scale and ro.extra["mse"] == rn.extra["mse"]
            print(f"{np.dtype(dt).name:>7} bits={bits}: whole call old {best['old'] / p:5.1f} / new {best['new'] / p:5.1f} "
                  f"passes (ratio {best['old'] / best['new']:.2f}); s-histogram kernel old {bk['old'] / p:5.1f} / new "
                  f"{bk['new'] / p:5.1f} passes (ratio {bk['old'] / bk['new']:.2f}); pass {p * 1e3:.2f} ms CPU; "
                  f"results {'identical' if same else 'DIFFER'}", flush=True)


if __name__ == "__main__":
    main()
