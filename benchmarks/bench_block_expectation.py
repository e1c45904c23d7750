"""Exact block expectations: every (format, rule, law) preset, timed, with accuracy and MC ratio.

For each law (N(0,1), Laplace(0,1)), preset block format (its own block size k) and absmax rule
(floor, ceil, round, clip):

* ``exact``: :func:`quanttheory.blocks.expectation.block_mse` (telescoped, warm), the minimum of
  ``--repeat`` runs, CPU seconds (``time.process_time``) and wall seconds;
* ``base``: the m-quadrature formulation (``method="quadrature"``, the algorithm on main before
  the telescoped form), CPU seconds, one run, same process -> ``speed-up = base / exact``;
* ``err``: the returned error estimate relative to the MSE, and ``|exact - base| / base``;
* ``MC``: :func:`monte_carlo_block_mse` on ``--mc`` elements (CPU seconds -> seconds per
  element); the elements a Monte Carlo run needs for the exact result's accuracy ``err`` is
  ``n = n_mc (se / err)^2`` (se ~ n^-1/2), and for 1e-9 relative ``n_9 = n_mc (se / 1e-9 mse)^2``;
  ``MC ratio = n_9 * (seconds per element) / exact`` (how many times longer a Monte Carlo run
  reaching 1e-9 relative would take; extrapolated, not run).

    python benchmarks/bench_block_expectation.py [--repeat 5] [--mc 262144] [--no-base] [--formats nvfp4,mxfp4]
    python benchmarks/bench_block_expectation.py --fourover6 [--laws normal,laplace] [--blocks 16,32]
        [--repeat 3] [--base DIR] [--base-repeat 3] [--integral] [--no-rates]

``--fourover6``: ``4over6`` (E2M1 elements, E4M3 scales, block sizes ``--blocks``): the telescoped
exact MSE (numba kernel, no rates) and with its rates, min of ``--repeat`` runs (CPU and wall),
against main's code exported at ``--base DIR`` (subprocess, same run, CPU and wall), and the MC
ratio as above (see :func:`bench_4over6`).

    python benchmarks/bench_block_expectation.py --audit [--repeat 5] [--base DIR] [--base-repeat 3]
        [--slow] [--limit-ms 50]

``--audit``: issue 14 item 6 ("one exact expectation (format, rule, law, k) in <= 50 ms warm") for
every case ``block_mse`` computes exactly: N(0,1) and Laplace(0,1); every preset format at its own
block size (MXFP8 E4M3/E5M2, MXFP6 E2M3/E3M2, MXFP4, MXINT8, NVFP4, INT4 groups of 32/64/128) with
the rules floor, ceil, round, clip (c = 1) and, for E2M1 elements, 4over6 (with its exact rates);
plus NVFP4 4over6 at k = 32.  Each case: one warm-up call, then the minimum of ``--repeat`` calls,
CPU (``time.process_time``) and wall; ``--base DIR``: the same calls with the code exported at DIR,
in a subprocess started in this run (same load).  MXFP4 4over6 (E8M0 scales) has no telescoped
path: the m-quadrature (``block_mse_4over6``, ~1 min) is timed once with ``--slow`` only.  Cases
above ``--limit-ms`` CPU are listed at the end.  The oracle rule: see ``--oracle``.

    python benchmarks/bench_block_expectation.py --generic46 --base DIR [--laws t:10,t:6,t:3,gennorm:0.5,mix]
        [--blocks 16,32] [--tol 1e-7] [--repeat 3] [--base-repeat 3]

``--generic46``: NVFP4 ``block_mse_4over6(law, "nvfp4", block=k, tol=tol)`` on the telescoped path for laws
off the compiled kernel (docs/blocks.md §2i, §2i2, §2i3): ``t:NU`` (Student t), ``gennorm:BETA``, ``mix`` (0.7 N(0,1)
+ 0.3 Laplace(0,2)), ``normal``.  This tree and the tree exported at ``--base DIR`` each in a subprocess started
one after the other for every case (same load): one warm-up call, then the min CPU seconds of ``--repeat``
(``--base-repeat``) calls; ``speed-up`` = base / new, ``|d|/bounds`` = |new - base| / (the two error estimates
summed).

    python benchmarks/bench_block_expectation.py --oracle [--repeat 5] [--mc 2097152] [--formats mxfp4,...]

``--oracle``: the exact per-block-optimum expectation of the MX formats
(:func:`quanttheory.blocks.expectation_oracle.block_mse_oracle`, ``block_mse(law, fmt, "oracle")``,
docs/blocks.md §2f), N(0,1) and Laplace(0,1), each format at k = 32: one warm-up call (the
candidate check is cached per element and k; the numba kernel is loaded), then the min of
``--repeat`` calls, CPU and wall; the baseline is the Monte Carlo with the compiled per-block
oracle (``monte_carlo_block_mse(..., "oracle")``) on ``--mc`` elements in the same run: ``z`` =
(MC - exact) / se, and ``MC ratio`` = the CPU time a Monte Carlo run would need to reach the exact
value's accuracy (``error_estimate``; and 1e-9 relative) over the exact time (extrapolated with
``se ~ n^-1/2``, not run).  Also the exact saturation rate and its bound (``block_mse_oracle(...,
full=True)``), the MSE alone (``rates=False``) CPU time, and the saturation of a Monte Carlo run
(``--mc`` elements, seed 15: per-block clipped fraction under ``oracle_scales``, mean +- se, ``z``).
``--blocks 2,8,32``: block sizes (default 32 with ``--oracle``).  ``--base DIR`` with ``--oracle``: the same
``block_mse(law, fmt, "oracle", block=k)`` with the code exported at ``DIR`` (``git -C /work/main archive 7d66dd9 |
tar -x -C DIR``), min of ``--base-repeat`` warm calls, CPU, in a subprocess started right after each case
(same load): ``base ms``, ``speed-up`` = base / exact CPU, ``|d|/bounds`` = |exact - base| / (the two error
estimates summed).  ``--laws`` with ``--oracle``: ``normal``, ``laplace`` or ``normal:LOC:SCALE`` /
``laplace:LOC:SCALE`` (shifted / rescaled laws, e.g. ``--laws normal,laplace,normal:0:1.7,laplace:0.3:0.7``;
default N(0,1) and Laplace(0,1)).
"""

from __future__ import annotations

import argparse
import time

from _timing import best_time


def main():
    from quanttheory.blocks.expectation import block_mse, monte_carlo_block_mse
    from quanttheory.blocks.spec import block_format_names, get_block_format
    from quanttheory.laws import Laplace, Normal

    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--mc", type=int, default=1 << 18)
    ap.add_argument("--no-base", action="store_true")
    ap.add_argument("--formats", default=",".join(block_format_names()))
    ap.add_argument("--fourover6", action="store_true")
    ap.add_argument("--laws", default="normal,laplace")
    ap.add_argument("--blocks", default="16,32")
    ap.add_argument("--base-repeat", type=int, default=3)
    ap.add_argument("--base", default=None, help="--fourover6: main's exported tree (baseline, same run)")
    ap.add_argument("--integral", action="store_true", help="--fourover6: also the t-integral inversion")
    ap.add_argument("--no-rates", action="store_true", help="--fourover6: skip the timing with rates")
    ap.add_argument("--audit", action="store_true", help="time every (format, rule, law, k) against 50 ms")
    ap.add_argument("--slow", action="store_true", help="--audit: also the MXFP4 4over6 m-quadrature (~1 min)")
    ap.add_argument("--limit-ms", type=float, default=50.0)
    ap.add_argument("--oracle", action="store_true", help="exact MX oracle expectations against Monte Carlo")
    ap.add_argument("--generic46", action="store_true",
                    help="telescoped 4over6 for t / GenNormal / mixtures (docs/blocks.md §2i2) against --base")
    ap.add_argument("--tol", type=float, default=1e-7, help="--generic46: tol of block_mse_4over6")
    a = ap.parse_args()
    if a.generic46:
        return bench_generic46(a)
    if a.oracle:
        return bench_oracle(a)
    if a.audit:
        return bench_audit(a)
    if a.fourover6:
        return bench_4over6(a)
    print(f"{'law':8s} {'format':11s} {'k':>4s} {'rule':6s} {'exact CPU ms':>12s} {'wall ms':>8s} "
          f"{'base CPU ms':>11s} {'speed-up':>8s} {'mse':>20s} {'err/mse':>8s} {'|d|/mse':>8s} "
          f"{'MC ns/el':>8s} {'MC ratio(1e-9)':>14s}")
    worst = 0.0
    for law, lname in ((Normal(), "normal"), (Laplace(), "laplace")):
        for fmt in a.formats.split(","):
            k = get_block_format(fmt).block
            for rule in ("floor", "ceil", "round", "clip"):
                block_mse(law, fmt, rule)  # warm (compile / load the kernel cache)
                t_cpu, r = best_time(lambda: block_mse(law, fmt, rule), a.repeat, time.process_time)
                t_wall, _ = best_time(lambda: block_mse(law, fmt, rule), a.repeat)
                worst = max(worst, t_cpu)
                if a.no_base:
                    t_base, d = float("nan"), float("nan")
                else:
                    t_base, q = best_time(lambda: block_mse(law, fmt, rule, method="quadrature"), 1,
                                          time.process_time)
                    d = abs(r.mse - q.mse) / q.mse
                t_mc, (mean, se, _) = best_time(lambda: monte_carlo_block_mse(law, fmt, rule, n=a.mc, rng=1), 1,
                                                time.process_time)
                per_el = t_mc / a.mc
                n9 = a.mc * (se / (1e-9 * r.mse)) ** 2
                print(f"{lname:8s} {fmt:11s} {k:4d} {rule:6s} {t_cpu * 1e3:12.2f} {t_wall * 1e3:8.2f} "
                      f"{t_base * 1e3:11.1f} {t_base / t_cpu:8.0f} {r.mse:20.15g} {r.error_estimate / r.mse:8.1e} "
                      f"{d:8.1e} {per_el * 1e9:8.0f} {n9 * per_el / t_cpu:14.2e}", flush=True)
    print(f"slowest exact expectation: {worst * 1e3:.1f} ms CPU (min of {a.repeat})")


def _mc_oracle_saturation(law, fmt, k, n, seed):
    """Mean and standard error of the per-block clipped fraction under the compiled per-block oracle
    (``oracle_scales``; blocks iid, so the per-block fractions are iid), ``n`` elements."""
    import math

    import numpy as np

    from quanttheory.blocks import get_block_format
    from quanttheory.blocks.data import oracle_scales

    bf = get_block_format(fmt, block=k)
    lo, hi = float(bf.fmt.levels[0]), float(bf.fmt.levels[-1])
    rng = np.random.default_rng(seed)
    nb = n // k
    s1 = s2 = 0.0
    done = 0
    while done < nb:
        m = min((1 << 20) // k, nb - done)
        xb = np.asarray(law.sample(rng, m * k), float).reshape(m, k)
        u = xb / oracle_scales(xb, bf)[:, None]
        c = np.count_nonzero((u > hi) | (u < lo), axis=1) / k
        s1, s2, done = s1 + float(c.sum()), s2 + float((c * c).sum()), done + m
    mean = s1 / nb
    return mean, math.sqrt(max(s2 / nb - mean * mean, 0.0) / nb)


def bench_oracle(a):
    from quanttheory.blocks.expectation import block_mse, monte_carlo_block_mse
    from quanttheory.blocks.expectation_oracle import block_mse_oracle

    fmts = a.formats.split(",") if a.formats != ",".join(_all_formats()) else [
        "mxfp4", "mxfp6_e2m3", "mxfp6_e3m2", "mxint8", "mxfp8_e4m3", "mxfp8_e5m2"]
    mc = a.mc if a.mc != 1 << 18 else 1 << 21
    ks = [32] if a.blocks == "16,32" else [int(v) for v in a.blocks.split(",")]   # (16,32: --fourover6's default)
    print(f"{'law':15s} {'format':11s} {'k':>3s} {'exact CPU ms':>12s} {'wall ms':>8s} {'no-rates ms':>11s} "
          f"{'mse':>22s} {'err/mse':>8s} {'MC CPU s':>8s} {'MC mean':>14s} {'se':>8s} {'z':>6s} "
          f"{'MC ratio(err)':>13s} {'MC ratio(1e-9)':>14s} {'saturation':>18s} {'rate err':>8s} {'MC sat':>12s} "
          f"{'se':>8s} {'z':>6s}")
    for lname in a.laws.split(","):
        law = _oracle_law(lname)
        for fmt in fmts:
            for k in ks:
                try:
                    block_mse(law, fmt, "oracle", block=k)  # warm
                except ValueError as e:
                    print(f"{lname:15s} {fmt:11s} {k:3d} not exact here: {str(e)[:110]}", flush=True)
                    continue
                t_cpu, r = best_time(lambda: block_mse(law, fmt, "oracle", block=k), a.repeat, time.process_time)
                t_wall, _ = best_time(lambda: block_mse(law, fmt, "oracle", block=k), a.repeat)
                t_nr, _ = best_time(lambda: block_mse_oracle(law, fmt, block=k, rates=False), a.repeat,
                                    time.process_time)
                _, R = block_mse_oracle(law, fmt, block=k, full=True)
                t_mc, (mean, se, _) = best_time(lambda: monte_carlo_block_mse(law, fmt, "oracle", n=mc, rng=14,
                                                                              block=k), 1, time.process_time)
                smc, sse = _mc_oracle_saturation(law, fmt, k, mc, 15)
                per_el = t_mc / mc
                n_err = mc * (se / r.error_estimate) ** 2
                n9 = mc * (se / (1e-9 * r.mse)) ** 2
                zs = (smc - r.saturation_rate) / sse if r.saturation_rate == r.saturation_rate else float("nan")
                base = ""
                if a.base:
                    b = _base_oracle(a.base, lname, fmt, k, a.base_repeat)
                    base = (f" base {b['cpu'] * 1e3:8.1f} ms  speed-up {b['cpu'] / t_cpu:6.1f}  |d|/bounds "
                            f"{abs(b['mse'] - r.mse) / (b['err'] + r.error_estimate):.3f}")
                print(f"{lname:15s} {fmt:11s} {k:3d} {t_cpu * 1e3:12.1f} {t_wall * 1e3:8.1f} {t_nr * 1e3:11.1f} "
                      f"{r.mse:22.16g} {r.error_estimate / r.mse:8.1e} {t_mc:8.1f} {mean:14.10g} {se:8.1e} "
                      f"{(mean - r.mse) / se:6.2f} {n_err * per_el / t_cpu:13.1e} {n9 * per_el / t_cpu:14.1e} "
                      f"{r.saturation_rate:18.15g} {R.error:8.1e} {smc:12.8f} {sse:8.1e} {zs:6.2f}{base}", flush=True)


def _oracle_law(spec):
    """``normal`` / ``laplace`` (standard) or ``normal:LOC:SCALE`` / ``laplace:LOC:SCALE``."""
    from quanttheory.laws import Laplace, Normal

    name, *par = spec.split(":")
    cls = {"normal": Normal, "laplace": Laplace}[name]
    if not par:
        return cls()
    loc, scale = (float(v) for v in par)
    return cls(loc, scale)


_BASE_ORACLE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from quanttheory.blocks.expectation import block_mse
from quanttheory.laws import Laplace, Normal
name, *par = sys.argv[2].split(":")
law = {"normal": Normal, "laplace": Laplace}[name](*(float(v) for v in par))
run = lambda: block_mse(law, sys.argv[3], "oracle", block=int(sys.argv[4]))
r = run()  # warm
best = float("inf")
for _ in range(int(sys.argv[5])):
    t0 = time.process_time(); r = run(); best = min(best, time.process_time() - t0)
print(json.dumps({"cpu": best, "mse": float(r.mse), "err": float(r.error_estimate)}))
"""


def _base_oracle(base, lname, fmt, k, repeat):
    """``block_mse(law, fmt, "oracle", block=k)`` with the exported tree ``base`` in a subprocess: min CPU
    seconds of ``repeat`` warm calls, its mse and error estimate."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _BASE_ORACLE, base, lname, fmt, str(k), str(repeat)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1], parse_constant=_no_constant)


def _all_formats():
    from quanttheory.blocks.spec import block_format_names

    return block_format_names()


_BASE_SNIPPET = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from quanttheory.blocks import get_block_format
from quanttheory.blocks.expectation import default_tensor_scale
from quanttheory.blocks.expectation_min import _telescoped_4over6
from quanttheory.laws import Laplace, Normal
law = {"normal": Normal(), "laplace": Laplace()}[sys.argv[2]]
bf = get_block_format("nvfp4", block=int(sys.argv[3]))
S = default_tensor_scale(law, bf)
run = lambda: _telescoped_4over6(law, bf, 1.0, S, 1e-10, 1e-9, False, "series")
r = run()  # warm
best = float("inf"); bw = float("inf")
for _ in range(int(sys.argv[4])):
    t0 = time.process_time(); w0 = time.perf_counter(); r = run()
    best = min(best, time.process_time() - t0); bw = min(bw, time.perf_counter() - w0)
print(json.dumps({"cpu": best, "wall": bw, "mse": float(r[0]), "err": float(r[1]), "nodes": int(r[4])}))
"""


def _base_4over6(base, law, k, repeat):
    """main's telescoped 4over6 (``_telescoped_4over6``, series inversion, no rates) from the exported
    tree ``base``, in a subprocess (the same package name cannot be imported twice): min CPU / wall
    seconds of ``repeat`` warm runs, its mse, error estimate and node count."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _BASE_SNIPPET, base, law, str(k), str(repeat)], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1], parse_constant=_no_constant)


def _no_constant(c):
    raise ValueError(f"non-finite number {c} in the baseline's JSON")


def bench_4over6(a):
    """``--fourover6``: NVFP4-type 4over6 (E2M1 elements, E4M3 block scales), block sizes
    ``--blocks``.  ``exact`` = the telescoped MSE (numba kernel for ``E|S|``, ``rates=False``),
    min of ``--repeat`` warm runs, CPU (``time.process_time``) and wall; ``+rates`` = the same with
    the three rates (:func:`block_mse_4over6_fast`, default), min of ``--repeat`` runs, CPU;
    ``base`` (``--base DIR``) = main's code exported at ``DIR`` (e.g. ``git -C /work/main archive
    c812034 | tar -x -C DIR``), the same call, min of ``--base-repeat`` warm runs in a subprocess
    started in this run -> ``speed-up = base CPU / exact CPU``, ``|d|/mse`` the difference of the
    two values; ``--integral``: also the Gil-Pelaez t-integral inversion (slow, one run).  ``MC
    ratio`` as for the absmax rules: how many times longer a Monte Carlo run reaching 1e-9
    relative would take (extrapolated from ``--mc`` elements, seconds per element, CPU)."""
    import math

    from quanttheory.blocks import get_block_format
    from quanttheory.blocks.expectation import default_tensor_scale, monte_carlo_block_mse
    from quanttheory.blocks.expectation_min import _telescoped_4over6, block_mse_4over6_fast
    from quanttheory.laws import Laplace, Normal

    laws = {"normal": Normal(), "laplace": Laplace()}
    print(f"{'law':8s} {'k':>3s} {'exact CPU ms':>12s} {'wall ms':>8s} {'+rates CPU ms':>13s} "
          f"{'base CPU ms':>11s} {'base wall':>9s} {'speed-up':>8s} {'mse':>22s} {'err/mse':>8s} "
          f"{'base err/mse':>12s} {'|d|/mse':>8s} {'nodes':>7s} {'base nodes':>10s} {'MC ns/el':>8s} "
          f"{'MC ratio(1e-9)':>14s}")
    for name in a.laws.split(","):
        law = laws[name]
        for k in (int(v) for v in a.blocks.split(",")):
            bf = get_block_format("nvfp4", block=k)
            S = default_tensor_scale(law, bf)

            def run(inv="series", rates=False):
                return _telescoped_4over6(law, bf, 1.0, S, 1e-10, 1e-9, rates, inv)

            run()  # warm (kernel cache)
            t_cpu, r = best_time(run, a.repeat, time.process_time)
            t_wall, _ = best_time(run, a.repeat)
            if a.no_rates:
                t_rt = math.nan
            else:
                t_rt, _ = best_time(lambda: block_mse_4over6_fast(law, bf), a.repeat, time.process_time)
            if a.base:
                bs = _base_4over6(a.base, name, k, a.base_repeat)
                t_base, t_bw, d, nb, be = (bs["cpu"], bs["wall"], abs(r[0] - bs["mse"]) / bs["mse"], bs["nodes"],
                                           bs["err"] / bs["mse"])
            else:
                t_base = t_bw = d = be = math.nan
                nb = 0
            if a.integral:
                _, q = best_time(lambda: run("integral"), 1, time.process_time)
                print(f"  t-integral inversion: |d|/mse = {abs(r[0] - q[0]) / q[0]:.1e}", flush=True)
            t_mc, (mean, se, _) = best_time(lambda: monte_carlo_block_mse(law, bf, "4over6", n=a.mc, rng=1), 1,
                                            time.process_time)
            per_el = t_mc / a.mc
            n9 = a.mc * (se / (1e-9 * r[0])) ** 2
            print(f"{name:8s} {k:3d} {t_cpu * 1e3:12.1f} {t_wall * 1e3:8.1f} {t_rt * 1e3:13.1f} {t_base * 1e3:11.1f} "
                  f"{t_bw * 1e3:9.1f} {t_base / t_cpu:8.1f} {r[0]:22.17g} {r[1] / r[0]:8.1e} {be:12.1e} {d:8.1e} "
                  f"{r[4]:7d} {nb:10d} {per_el * 1e9:8.0f} {n9 * per_el / t_cpu:14.2e}", flush=True)


_AUDIT_SNIPPET = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from quanttheory.blocks.expectation import block_mse
from quanttheory.laws import Laplace, Normal
cases = json.loads(sys.argv[2])
rep = int(sys.argv[3])
out = []
for law, fmt, k, rule in cases:
    dist = {"normal": Normal(), "laplace": Laplace()}[law]
    run = lambda: block_mse(dist, fmt, rule, block=k)
    r = run()  # warm
    best = float("inf"); bw = float("inf")
    for _ in range(rep):
        t0 = time.process_time(); w0 = time.perf_counter(); r = run()
        best = min(best, time.process_time() - t0); bw = min(bw, time.perf_counter() - w0)
    out.append({"cpu": best, "wall": bw, "mse": float(r.mse), "sat": float(r.saturation_rate)})
print(json.dumps(out, allow_nan=True))
"""


def _audit_cases(slow):
    """(law, format, k, rule) of every exact ``block_mse`` case of issue 14 item 6 (module doc)."""
    from quanttheory.blocks.spec import block_format_names, get_block_format

    cases = []
    for law in ("normal", "laplace"):
        for fmt in block_format_names():
            bf = get_block_format(fmt)
            rules = ["floor", "ceil", "round", "clip"]
            if bf.element == "e2m1" and (bf.scale_format == "e4m3" or slow):
                rules.append("4over6")
            cases += [(law, fmt, bf.block, r) for r in rules]
        cases.append((law, "nvfp4", 32, "4over6"))
    return cases


def bench_audit(a):
    """``--audit`` (module doc): every exact (format, rule, law, k), warm, min of ``--repeat`` runs,
    CPU and wall ms, against ``--base DIR`` in the same run; the cases above ``--limit-ms`` CPU."""
    import json
    import math
    import subprocess
    import sys

    from quanttheory.blocks.expectation import block_mse
    from quanttheory.laws import Laplace, Normal

    cases = _audit_cases(a.slow)
    base = None
    if a.base:
        # the slow m-quadrature case (MXFP4 4over6) once in the base too
        out = subprocess.run([sys.executable, "-c", _AUDIT_SNIPPET, a.base, json.dumps(cases), str(a.base_repeat)],
                             check=True, capture_output=True, text=True).stdout
        base = json.loads(out.strip().splitlines()[-1])
    print(f"{'law':8s} {'format':11s} {'k':>4s} {'rule':7s} {'CPU ms':>9s} {'wall ms':>9s} {'base CPU':>9s} "
          f"{'base wall':>9s} {'speed-up':>8s} {'|d|/mse':>8s} {'mse':>20s} {'saturation':>12s}")
    over = []
    for i, (law, fmt, k, rule) in enumerate(cases):
        dist = {"normal": Normal(), "laplace": Laplace()}[law]
        rep = 1 if (fmt == "mxfp4" and rule == "4over6") else a.repeat

        def run():
            return block_mse(dist, fmt, rule, block=k)

        run()  # warm
        t_cpu, r = best_time(run, rep, time.process_time)
        t_wall, _ = best_time(run, rep)
        if base is not None:
            b = base[i]
            bc, bw, d = b["cpu"], b["wall"], abs(r.mse - b["mse"]) / b["mse"]
        else:
            bc = bw = d = math.nan
        print(f"{law:8s} {fmt:11s} {k:4d} {rule:7s} {t_cpu * 1e3:9.2f} {t_wall * 1e3:9.2f} {bc * 1e3:9.2f} "
              f"{bw * 1e3:9.2f} {bc / t_cpu:8.2f} {d:8.1e} {r.mse:20.15g} {r.saturation_rate:12.6g}", flush=True)
        if t_cpu * 1e3 > a.limit_ms:
            over.append((law, fmt, k, rule, t_cpu * 1e3))
    print(f"cases above {a.limit_ms:g} ms CPU (min of {a.repeat}): {len(over)} of {len(cases)}")
    for law, fmt, k, rule, ms in over:
        print(f"  {law} {fmt} k={k} {rule}: {ms:.1f} ms CPU")


_GENERIC46_SNIPPET = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import quanttheory as qt
from quanttheory.blocks.expectation_min import block_mse_4over6
spec, k, tol, rep = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
assert qt.__file__.startswith(sys.argv[1]), qt.__file__
if spec == "mix":
    law = qt.Mixture([qt.Normal(), qt.Laplace(0, 2)], [0.7, 0.3])
elif spec == "normal":
    law = qt.Normal()
else:
    kind, par = spec.split(":")
    law = qt.StudentT(float(par)) if kind == "t" else qt.GenNormal(float(par))
f = lambda: block_mse_4over6(law, "nvfp4", block=k, tol=tol)
t0 = time.process_time(); r = f(); first = time.process_time() - t0
best = float("inf")
for _ in range(rep):
    t0 = time.process_time(); r = f(); best = min(best, time.process_time() - t0)
print(json.dumps({"cpu": best, "first": first, "mse": r.mse, "err": r.error_estimate}))
"""


def _run_generic46(tree, spec, k, tol, repeat):
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _GENERIC46_SNIPPET, tree, spec, str(k), repr(tol), str(repeat)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1], parse_constant=_no_constant)


def bench_generic46(a):
    """``--generic46`` (module doc)."""
    import os

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    laws = a.laws if a.laws != "normal,laplace" else "t:10,t:6,t:3,gennorm:0.5,mix"
    print(f"tol {a.tol:g}; new = {here}; base = {a.base}")
    print(f"{'law':12s} {'k':>3s} {'new CPU ms':>10s} {'base CPU ms':>11s} {'speed-up':>8s} {'mse (new)':>20s} "
          f"{'err/mse':>8s} {'base err/mse':>12s} {'|d|/bounds':>10s} {'new 1st s':>9s} {'base mse':>20s} "
          f"{'base err':>9s} {'new err':>9s}")
    for spec in laws.split(","):
        for k in (int(b) for b in a.blocks.split(",")):
            n = _run_generic46(here, spec, k, a.tol, a.repeat)
            b = _run_generic46(a.base, spec, k, a.tol, a.base_repeat) if a.base else None
            bc = b["cpu"] if b else float("nan")
            be = b["err"] / b["mse"] if b else float("nan")
            dd = abs(n["mse"] - b["mse"]) / (n["err"] + b["err"]) if b else float("nan")
            print(f"{spec:12s} {k:3d} {n['cpu'] * 1e3:10.1f} {bc * 1e3:11.1f} {bc / n['cpu']:8.2f} "
                  f"{n['mse']:20.17g} {n['err'] / n['mse']:8.1e} {be:12.1e} {dd:10.2e} {n['first']:9.2f} "
                  f"{(b['mse'] if b else float('nan')):20.17g} {(b['err'] if b else float('nan')):9.3e} "
                  f"{n['err']:9.3e}", flush=True)


if __name__ == "__main__":
    main()
