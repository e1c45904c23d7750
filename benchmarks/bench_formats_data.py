"""Exact optimal scale of data for FP8/FP6/FP4/NF4 formats vs the candidate sweeps toolkits run.

Run:  .venv/bin/python benchmarks/bench_formats_data.py [--n 1000000] [--repeats 3] [--formats e4m3,nf4] [--seed 0]
      .venv/bin/python benchmarks/bench_formats_data.py --passes [--sizes 1e6,1e7] [--repeats 2]

Data: float32 tensors of ``n`` values: a Student-t(4) "weight-like" tensor and a
Normal(0, 1) tensor.  For each format it times, in the same run and on the same
data (minimum of ``--repeats`` runs; the machine is shared, the minimum is the
least noisy):

* ``exact``: :func:`quanttheory.risk.format_data.optimal_scale_format_data`
  (global, certified; after one warm-up call);
* ``amax``: the absmax rule ``s = max|x| / level_max`` (one cast);
* ``sweep N`` for N = 39, 126, 1000: the candidate search toolkits run — the
  scales ``s_k = max|x| / level_max * r_k``, ``r_k = linspace(0.5, 1, N)``
  (shrinking the clipping range from amax to amax/2), keeping the candidate of
  least MSE.  Each candidate costs one cast of ``x / s_k`` computed in float32
  through the ml_dtypes type (``float8_e4m3fn`` ...; clipped to +-max first, the
  saturating cast) and one float64 reduction ``mean((x - s q)**2)``.  NF4 has no
  ml_dtypes type: its "cast" is numpy's nearest-level lookup (``searchsorted`` on
  the 15 midpoints), which is what bitsandbytes' kernels compute.

``--passes``: instead, the cost of the exact optimum in the package's data unit: time / one
NumPy pass over the same float32 tensor (``benchmarks/_timing.py``: median of the best times of
``x.sum()``, ``x.max()``, ``(x > 1).sum()``), min of ``--repeats`` runs, and the peak of the
memory traced by ``tracemalloc`` during one call (NumPy buffers included) in bytes per value,
for ``--sizes`` (default 1e6,1e7) x ``--formats`` (default for this mode: e4m3,nf4), and for
reference the integer engine's exact data optimum on ``Grid(8)`` (row ``int8*``).

Columns: ``time`` in seconds and ``x sweep39`` (time / time of the 39-candidate
sweep); ``MSE left`` = ``MSE(s_method) / MSE(s*) - 1`` in percent, with both
MSEs computed the toolkit way (float32 division + ml_dtypes cast), so the
comparison is the one a user sees.  The script asserts that no candidate beats
the exact optimum (beyond 1e-9 relative: float32 rounding of ``x / s``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from quanttheory.formats import get_format  # noqa: E402
from quanttheory.risk.format_data import optimal_scale_format_data  # noqa: E402

ML_NAMES = {"e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2", "e2m3": "float6_e2m3fn",
            "e3m2": "float6_e3m2fn", "e2m1": "float4_e2m1fn"}


def caster(name: str):
    """Toolkit-style quantizer in grid units: float32 in, float64 levels out."""
    fmt = get_format(name)
    if name in ML_NAMES:
        import ml_dtypes

        T = getattr(ml_dtypes, ML_NAMES[name])
        mx = np.float32(fmt.level_max)
        return lambda u: np.clip(u, -mx, mx).astype(T).astype(np.float64)
    mids = fmt.midpoints.astype(np.float32)
    lv = fmt.levels
    return lambda u: lv[np.searchsorted(mids, u)]


def mse_toolkit(x32: np.ndarray, x64: np.ndarray, s: float, cast) -> float:
    q = cast(x32 / np.float32(s))
    return float(np.mean((x64 - s * q) ** 2))


def sweep(x32, x64, amax, level_max, N, cast):
    best = (np.inf, None)
    for r in np.linspace(0.5, 1.0, N):
        s = amax / level_max * r
        m = mse_toolkit(x32, x64, s, cast)
        if m < best[0]:
            best = (m, s)
    return best


def timed(fn, repeats):
    out = None
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t0)
    return min(ts), out


def passes(sizes, formats, repeats, seed, data="t4") -> None:
    """Exact optimum cost in NumPy passes and traced peak memory per value."""
    import tracemalloc

    from _timing import best_time, numpy_pass

    rng = np.random.default_rng(seed)
    optimal_scale_format_data(rng.normal(size=1000), "e4m3")  # warm-up
    print(f"{'n':>9s} {'format':6s} {'time s':>8s} {'NumPy pass ms':>14s} {'passes':>8s} "
          f"{'peak MB':>8s} {'bytes/value':>12s} {'n x K x 8 MB':>13s}")
    for n in sizes:
        x = (rng.standard_t(4, size=n) if data == "t4" else rng.standard_normal(n)).astype(np.float32)
        tp = numpy_pass(x, repeat=max(5, repeats))
        from quanttheory import Grid, optimal_scale

        runs = [(name, get_format(name), (lambda f=get_format(name): optimal_scale_format_data(x, f)))
                for name in formats]
        # reference: the integer engine on the 8-bit grid (quanttheory.optimal_scale, histogram search)
        runs.append(("int8*", get_format("int8"), lambda: optimal_scale(x, Grid(8))))
        for name, fmt, fn in runs:
            t, _ = best_time(fn, repeats)
            tracemalloc.start()
            try:
                fn()
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            print(f"{n:9.0e} {name:6s} {t:8.3f} {1e3 * tp:14.3f} {t / tp:8.0f} {peak / 2**20:8.1f} "
                  f"{peak / n:12.1f} {n * fmt.size * 8 / 2**20:13.0f}")
            sys.stdout.flush()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", action="store_true", help="cost in NumPy passes and traced memory (see docstring)")
    ap.add_argument("--sizes", default="1e6,1e7")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--formats", default="e4m3,e5m2,e2m3,e3m2,e2m1,nf4")
    ap.add_argument("--data", default="t4,normal")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.passes:
        fmts = a.formats.split(",") if a.formats != ap.get_default("formats") else ["e4m3", "nf4"]
        passes([int(float(v)) for v in a.sizes.split(",")], fmts, a.repeats, a.seed, a.data.split(",")[0])
        return 0
    rng = np.random.default_rng(a.seed)
    optimal_scale_format_data(rng.normal(size=1000), "e2m1")  # warm-up (numba cache load of the scan)
    print(f"n = {a.n}, repeats = {a.repeats} (min reported), seed = {a.seed}")
    print(f"{'data':7s} {'format':6s} {'method':9s} {'time s':>9s} {'x sweep39':>10s} {'MSE left %':>12s}  scale")
    for dname in a.data.split(","):
        x64 = {"t4": rng.standard_t(4, size=a.n), "normal": rng.standard_normal(a.n)}[dname]
        x32 = x64.astype(np.float32)
        x64 = x32.astype(np.float64)
        amax = float(np.max(np.abs(x64)))
        for name in a.formats.split(","):
            fmt = get_format(name)
            cast = caster(name)
            t_ex, r = timed(lambda: optimal_scale_format_data(x32, fmt), a.repeats)
            m_ex = mse_toolkit(x32, x64, r.scale, cast)
            rows = [("exact", t_ex, m_ex, r.scale)]
            t_am, m_am = timed(lambda: mse_toolkit(x32, x64, amax / fmt.level_max, cast), a.repeats)
            rows.append(("amax", t_am, m_am, amax / fmt.level_max))
            for N in (39, 126, 1000):
                t_sw, (m_sw, s_sw) = timed(lambda: sweep(x32, x64, amax, fmt.level_max, N, cast),
                                           a.repeats if N < 1000 else 1)
                rows.append((f"sweep{N}", t_sw, m_sw, s_sw))
            t39 = rows[2][1]
            for meth, t, m, s in rows:
                left = 100 * (m / m_ex - 1)
                assert left >= -1e-7, f"{meth} beat the exact optimum: {m} < {m_ex}"
                print(f"{dname:7s} {name:6s} {meth:9s} {t:9.3f} {t / t39:10.2f} {left:12.4f}  {s:.6g}")
            near = r.near_optimal_scales
            print(f"{'':7s} {name:6s} exact: {len(near)} near-optimal scale(s) within 1e-9: "
                  f"{', '.join(f'{v:.6g}' for v in near[:6])}{' ...' if len(near) > 6 else ''}; "
                  f"certificate gap {(r.risk - r.risk_lower_bound) / r.risk:.1e}; "
                  f"swept {r.extra['breakpoints_swept']} breakpoints")
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
