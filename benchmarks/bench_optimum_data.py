"""Benchmark of the exact data optimum ``optimal_scale_data`` (not a test; prints a table).

    python benchmarks/bench_optimum_data.py [--n 1e7] [--bits 2 4 8] [--repeat 3] [--rows 30000 --cols 384]
        [--channels 1000x10000] [--channel-bits 4 8] [--mem-bits 16 20 24] [--no-stages] [--baseline DIR]
        [--dist normal|student3|lattice]
    python benchmarks/bench_optimum_data.py --laws-dump OUT.json [--n 1e6] [--bits 2 4 8]
    python benchmarks/bench_optimum_data.py --laws-compare MAIN.json BRANCH.json

``--laws-dump`` writes the scale, MSE and ``scale_error`` of the optimum for five laws (normal,
Laplace, Student-t(3), uniform(-1, 1), ReLU of a normal; float64 and float32; seed 123) instead
of timing; run it with two versions of the package and ``--laws-compare`` the files: the scales
must agree within the sum of the two ``scale_error`` certificates and the MSEs to 1e-12 relative.

Unit: one *pass* = the median of the warm times of ``x.sum()``, ``x.max()`` and
``(x > 1).sum()`` on the same array (min of ``--repeat`` runs each), measured in the
same run; the optimum's time (min of ``--repeat`` runs) is reported in passes, as CPU time
(``time.process_time``, against a CPU-time pass) and as wall time (against a wall-time pass).

Per channel (``--rows`` x ``--cols`` float32, one scale per row, INT4) the baseline
is a 100-candidate NumPy sweep of the same rows (``s = c * max|x_row| / 7`` for 100
values of ``c`` in (0.3, 1]; vectorized over rows, 64 rows at a time), and the
report gives both times and the mean risk gap of the sweep in dB.

``--baseline DIR`` first runs the same script on another copy of the package (e.g. main exported
with ``git archive main | tar -x -C DIR``) in a subprocess, for before/after numbers in one session.

The stages (default; ``--no-stages`` skips them) split each one-array call (CPU time of the best of
``--repeat`` calls, in passes): ``scan`` (validation, extrema, moments; 0 when fused into the
histogram pass), ``hist`` (the |x| histogram pass, with the validation when fused, + prefix sums), ``search`` (branch and bound on the histogram, no data pass),
``cluster`` (the s-histogram passes and exact sweeps of the surviving clusters) and ``final``
(the direct exact MSE at the chosen scale, one pass).  Small arrays take the direct path
(breakpoint enumeration) and show no hist/search/cluster stages.
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
from _timing import best_time as _best_time, numpy_pass  # noqa: E402

from quanttheory import Grid  # noqa: E402
from quanttheory.risk.data import optimal_scale_data  # noqa: E402


def best_time(f, repeat):
    return _best_time(f, repeat, time.process_time)  # CPU time of this process


def one_pass(x, repeat):
    return numpy_pass(x, repeat, time.process_time)


def best_both(f, repeat):
    """(min CPU seconds, min wall seconds, last result) over ``repeat`` runs."""
    cpu = wall = float("inf")
    out = None
    for _ in range(max(1, repeat)):
        t0, w0 = time.process_time(), time.perf_counter()
        out = f()
        cpu, wall = min(cpu, time.process_time() - t0), min(wall, time.perf_counter() - w0)
    return cpu, wall, out

class _Stages:
    """Wraps the stage functions of :mod:`quanttheory.risk.data` to time them (CPU seconds)."""

    def __init__(self):
        import quanttheory.risk.data as D
        import quanttheory.risk.data_search as S

        self.t = {}
        self.depth = {}
        for mod, name, label in ((D, "scan", "scan"), (S._Hist, "__init__", "hist"), (S._Hist, "fused", "hist"),
                                 (S, "_exact_cluster", "cluster"), (D, "mse_sums", "final"),
                                 (D, "_bb_exact", "_bb")):
            self._wrap(mod, name, label)

    def _wrap(self, mod, name, label):
        f = getattr(mod, name)
        depth = self.depth.setdefault(label, [0])  # shared by the functions of one label

        def g(*a, **k):  # only the outermost call is timed (_exact_cluster recurses to zoom)
            depth[0] += 1
            t0 = time.process_time()
            try:
                return f(*a, **k)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    self.t[label] = self.t.get(label, 0.0) + time.process_time() - t0

        setattr(mod, name, g)

    def run(self, f, repeat):
        best = None
        for _ in range(max(1, repeat)):
            self.t = {}
            t0 = time.process_time()
            f()
            tot = time.process_time() - t0
            if best is None or tot < best[0]:
                best = (tot, dict(self.t))
        tot, t = best
        # branch and bound on the histogram and bookkeeping: what the timed stages leave
        t["search"] = tot - sum(t.get(k, 0.0) for k in ("scan", "hist", "cluster", "final"))
        return tot, t


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=float, default=1e7)
    ap.add_argument("--bits", type=int, nargs="*", default=[2, 4, 8])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dist", choices=("normal", "student3", "lattice"), default="normal",
                    help="one-array data: standard normal (default), Student-t(3) (heavy tails) or a "
                         "lattice (normal rounded to multiples of 1/16: many ties)")
    ap.add_argument("--rows", type=int, default=0)
    ap.add_argument("--cols", type=int, default=384)
    ap.add_argument("--channels", type=lambda t: tuple(int(v) for v in t.split("x")), nargs="*", default=[],
                    help="ROWSxCOLS arrays for the per-channel pass count, e.g. 1000x10000")
    ap.add_argument("--channel-bits", type=int, nargs="*", default=[4, 8])
    ap.add_argument("--mem-bits", type=int, nargs="*", default=[],
                    help="bit widths for the peak-RSS measurement (n = 1e5, fresh process), e.g. 16 20 24")
    ap.add_argument("--stages", action=argparse.BooleanOptionalAction, default=True,
                    help="time each stage of the one-array calls (default on; --no-stages to skip)")
    ap.add_argument("--baseline", default=None, metavar="DIR",
                    help="first run this script on the package in DIR (PYTHONPATH=DIR, e.g. an export of "
                         "main: git archive main | tar -x -C DIR) in a subprocess, then on this one")
    ap.add_argument("--laws-dump", default=None, help="write scale/MSE for five laws to this JSON file")
    ap.add_argument("--laws-compare", nargs=2, default=None, help="compare two --laws-dump files")
    a = ap.parse_args(argv)
    if a.laws_compare:
        return _laws_compare(*a.laws_compare)
    if a.laws_dump:
        return _laws_dump(a.laws_dump, int(a.n), a.bits)
    if a.baseline:
        args = [v for v in (argv if argv is not None else sys.argv[1:])]
        i = args.index("--baseline")
        del args[i:i + 2]
        env = dict(os.environ, PYTHONPATH=os.path.abspath(a.baseline))
        out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], env=env, capture_output=True,
                             text=True, cwd=os.path.abspath(a.baseline))
        print(f"--- baseline: {a.baseline}")
        print(out.stdout.rstrip() or out.stderr.strip())
        print("--- this package")
    stages = _Stages() if a.stages else None
    rng = np.random.default_rng(0)
    n = int(a.n)
    for dt in (np.float64, np.float32):
        x = {"normal": lambda: rng.standard_normal(n), "student3": lambda: rng.standard_t(3, n),
             "lattice": lambda: np.round(rng.standard_normal(n) * 16) / 16}[a.dist]().astype(dt)
        p = one_pass(x, a.repeat)
        pw = numpy_pass(x, a.repeat, time.perf_counter)
        for b in a.bits:
            optimal_scale_data(x[:100000], Grid(b))  # kernels loaded
            t, tw, r = best_both(lambda: optimal_scale_data(x, Grid(b)), a.repeat)
            print(f"{a.dist} n={n:.0e} {np.dtype(dt).name:>7} bits={b:>2}: CPU {t * 1e3:8.1f} ms = {t / p:6.1f} passes "
                  f"(pass {p * 1e3:.1f} ms), wall {tw * 1e3:8.1f} ms = {tw / pw:6.1f} passes (pass {pw * 1e3:.1f} ms), "
                  f"scale {r.scale!r}, mse {r.extra['mse']!r}, scale_error/s {r.scale_error / r.scale:.1e}")
            if stages is not None:
                tot, st = stages.run(lambda: optimal_scale_data(x, Grid(b)), a.repeat)
                print("    stages [passes]: " + " ".join(f"{k}={st.get(k, 0.0) / p:.1f}" for k in
                                                         ("scan", "hist", "search", "cluster", "final"))
                      + f" | total {tot / p:.1f}")
    for rows, cols in a.channels:
        # per channel, in passes over the whole (rows x cols) float32 array
        w = rng.standard_normal((rows, cols)).astype(np.float32)
        p = one_pass(w, a.repeat)
        for b in a.channel_bits:
            optimal_scale_data(w[:2], Grid(b), axis=0)
            t, r = best_time(lambda: optimal_scale_data(w, Grid(b), axis=0), a.repeat)
            print(f"per-channel {rows}x{cols} float32 bits={b}: {t:.3f} s = {t / p:7.1f} passes (pass {p * 1e3:.2f} ms)")
    if a.rows:
        w = rng.standard_normal((a.rows, a.cols)).astype(np.float32) * rng.uniform(0.5, 2, (a.rows, 1)).astype(np.float32)
        g = Grid(4)
        optimal_scale_data(w[:4], g, axis=0)
        t_opt, r = best_time(lambda: optimal_scale_data(w, g, axis=0), a.repeat)
        t_sw, (s_sw, e_sw) = best_time(lambda: sweep(w), a.repeat)
        gap = 10 * np.log10(np.mean(e_sw / r.extra["mse"]))
        print(f"per-channel {a.rows}x{a.cols} float32 INT4: optimal_scale_data {t_opt:.2f} s, "
              f"100-candidate NumPy sweep {t_sw:.2f} s, ratio {t_opt / t_sw:.2f}, sweep risk gap {gap:.4f} dB")
    for b in a.mem_bits:
        out = subprocess.run([sys.executable, "-c", _RSS, str(b), "100000"], capture_output=True, text=True)
        print(out.stdout.strip() or out.stderr.strip().splitlines()[-1])


def _laws_dump(path, n, bits):
    import json

    rng = np.random.default_rng(123)
    laws = {"normal": rng.standard_normal(n), "laplace": rng.laplace(size=n), "student3": rng.standard_t(3, n),
            "uniform": rng.uniform(-1, 1, n), "relu": np.maximum(rng.standard_normal(n), 0.0)}
    out = {}
    for name, x0 in laws.items():
        for dt in (np.float64, np.float32):
            x = x0.astype(dt)
            for b in bits:
                r = optimal_scale_data(x, Grid(b))
                out[f"{name}/{np.dtype(dt).name}/{b}"] = [r.scale, r.extra["mse"], r.scale_error]
    with open(path, "w") as f:
        json.dump(out, f)


def _laws_compare(path_a, path_b):
    import json

    with open(path_a) as f:
        a = json.load(f)
    with open(path_b) as f:
        b = json.load(f)
    worst, ok = 0.0, True
    for k in a:
        (sa, ma, ea), (sb, mb, eb) = a[k], b[k]
        rel = abs(mb - ma) / ma if ma > 0 else abs(mb)
        within = abs(sb - sa) <= ea + eb
        worst, ok = max(worst, rel), ok and within and rel <= 1e-12
        print(f"{k:20s} scale {sa!r:>22} vs {sb!r:>22}: |ds|/s {abs(sb - sa) / sa:.1e} "
              f"(certificates {(ea + eb) / sa:.1e}{'' if within else ' EXCEEDED'}), MSE rel. diff {rel:.1e}")
    print(f"worst MSE relative difference {worst:.1e}; all within the certificates and 1e-12: {ok}")


_RSS = r"""
import resource, sys, time
import numpy as np
from quanttheory import Grid
from quanttheory.risk.data import optimal_scale_data
b, n = int(sys.argv[1]), int(sys.argv[2])
x = np.random.default_rng(b).standard_normal(n)
optimal_scale_data(x[:3000], Grid(b))
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
r = optimal_scale_data(x, Grid(b))
t = time.perf_counter() - t
r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"memory n=1e5 bits={b}: peak RSS growth {(r1 - r0) / 1024:.0f} MB, {t:.2f} s wall, "
      f"certificate gap {(r.risk - r.risk_lower_bound) / r.risk:.1e}")
"""


if __name__ == "__main__":
    main()
