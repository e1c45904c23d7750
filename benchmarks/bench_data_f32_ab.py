"""Interleaved in-process A/B of the data optimum's two data passes (not a test; prints a table).

    python benchmarks/bench_data_f32_ab.py --old DIR [--n 1e7] [--bits 2 3 4 6 8] [--repeat 7]
        [--dist normal student3 lattice]

``DIR`` is an exported copy of an older version (``git -C /work/main archive main | tar -x -C DIR``).
Its histogram kernel file (``risk/_kernels/data_hist.py``) and data kernel file
(``risk/_kernels/data.py``) are loaded side by side with this package's (numba cache off for the
copies) and ``optimal_scale_data`` is timed alternately with the old kernels (``hist_cs`` for float32
too: ``CI32_MAX_N = 0``; the old ``shist_chunk``) and with this package's, on the same array, so
both see the same load.  Every other stage is this package's code.  Reports the minimum CPU time
(``time.process_time``) of each over ``--repeat`` alternations in NumPy passes of the same run
(:func:`_timing.numpy_pass`), their ratio, and whether the scale and MSE agree.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import quanttheory.risk._kernels.data as K  # noqa: E402
import quanttheory.risk._kernels.data_hist as KH  # noqa: E402
import quanttheory.risk.data_search as S  # noqa: E402
from _timing import load_source_copy, numpy_pass  # noqa: E402
from quanttheory import Grid  # noqa: E402
from quanttheory.risk.data import optimal_scale_data  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True)
    ap.add_argument("--n", type=float, default=1e7)
    ap.add_argument("--bits", type=int, nargs="*", default=[2, 3, 4, 6, 8])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--dist", nargs="*", default=["normal"], choices=["normal", "student3", "lattice"])
    ap.add_argument("--dtypes", nargs="*", default=["float32", "float64"])
    ap.add_argument("--only", choices=["hist", "shist"], default=None,
                    help="swap only the histogram kernels (hist) or only shist_chunk (shist)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    kd = os.path.join(a.old, "quanttheory", "risk", "_kernels")
    old_h = load_source_copy(open(os.path.join(kd, "data_hist.py")).read(), "old_data_hist", tmp)
    old_k = load_source_copy(open(os.path.join(kd, "data.py")).read().replace("from .", "from quanttheory.risk._kernels."),
                             "old_data", tmp)
    new = {"hist_cs": KH.hist_cs, "shist_chunk": K.shist_chunk, "ci": S.CI32_MAX_N}

    def use(which):
        old = which == "old"
        if a.only != "shist":
            KH.hist_cs, S.CI32_MAX_N = (old_h.hist_cs, 0) if old else (new["hist_cs"], new["ci"])
        if a.only != "hist":
            K.shist_chunk = old_k.shist_chunk if old else new["shist_chunk"]

    n = int(a.n)
    for dist in a.dist:
        rng = np.random.default_rng(0)
        x0 = {"normal": lambda: rng.standard_normal(n), "student3": lambda: rng.standard_t(3, n),
              "lattice": lambda: np.round(rng.standard_normal(n) * 16) / 16}[dist]()
        for dt in a.dtypes:
            x = x0.astype(dt)
            p = numpy_pass(x, a.repeat, time.process_time)
            for b in a.bits:
                g = Grid(b)
                best, res = {"old": np.inf, "new": np.inf}, {}
                for w in ("old", "new"):
                    use(w)
                    optimal_scale_data(x[:100000], g)
                for _ in range(a.repeat):
                    for w in ("old", "new"):
                        use(w)
                        t = time.process_time()
                        res[w] = optimal_scale_data(x, g)
                        best[w] = min(best[w], time.process_time() - t)
                use("new")
                ro, rn = res["old"], res["new"]
                dm = abs(rn.extra["mse"] - ro.extra["mse"]) / (ro.extra["mse"] or 1.0)
                print(f"{dist:8s} {dt:7s} bits={b}: old {best['old'] / p:5.1f} passes, new {best['new'] / p:5.1f} "
                      f"passes, ratio old/new {best['old'] / best['new']:.2f} (pass {p * 1e3:.2f} ms); "
                      f"scale {'same' if rn.scale == ro.scale else f'|ds|/s {abs(rn.scale - ro.scale) / ro.scale:.1e}'}, "
                      f"MSE rel. diff {dm:.1e}", flush=True)


if __name__ == "__main__":
    main()
