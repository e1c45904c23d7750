"""Affine quantization: exact joint optima vs baselines (MSE left on the table, time).

Run:  .venv/bin/python benchmarks/bench_affine.py [--quick] [--rows 64] [--full] [--seed 0]

Units.  A "pass" is measured in the same run on the same array: the median of
three plain NumPy reductions ``x.sum()``, ``x.max()``, ``(x > 1).sum()`` (each the
minimum of 5 runs).  Every time is the minimum of several runs after a warm-up
(numba compilation / cache load excluded); the machine is shared, the minimum
is the least noisy statistic.

Sections
0. Parametric laws, 2..8 bits: CPU time of one (s, z) optimum against the previous search
   (zero-point ranges off) in the same run, and of one (s, m) optimum.
1. Parametric laws, 4 bits: time of the certified (s, z) optimum (goal: 20 ms
   warm) and of the real-offset (s, m) branch and bound; the certificate gap
   ``(mse - mse_lower_bound) / mse``; the naive alternative (the risk engine's
   certified 1-D optimum for each of the 16 zero-points) for comparison.
2. Baselines on the laws: each baseline is run on a seeded sample of 10^5 values,
   its (s, z) / (s, m) is then scored by the EXACT MSE under the law; excess over
   the certified optimum of the same form (integer z for z-baselines; real offset for
   HQQ / llama.cpp, also reported against the integer optimum).
3. Baselines on data rows of 4096 values (shifted Laplace, ReLU mixture): exact
   optimum, excess and time in passes of that row.
4. Per-channel optimum of a 4096 x 4096 float32 matrix at 2, 4 and 8 bits (``--matrix-bits``; goal
   at 4 bits: 30 passes of the whole matrix; 8 bits on ``--sample8`` rows, extrapolated and labelled):
   the fused kernel on all 4096 rows, wall and CPU
   time (each against the pass measured with the same clock), with the mean
   work per row; the same with ``threads=None`` (numba prange over row chunks: the
   NumPy pass is single-threaded, so its wall passes use all cores against one); the reference path on the first ``--rows`` rows, extrapolated
   linearly to 4096 rows (``--full``: all rows, minutes).
4b. ``--baseline REF``: the fused kernel of commit REF (e.g. main's a8eaa3e) against the working tree's, both
   called directly and alternately on the same matrix rows in one run (CPU and wall, min of 3; ratios in the run;
   answers compared: MSE to 1e-12 relative).  ``--only baseline --baseline REF`` runs only that.
The script asserts that no baseline beats an optimum (beyond 1e-12 relative).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from quanttheory.affine import baselines as BL  # noqa: E402
from quanttheory.affine.data import optimal_affine_data, optimal_offset_data  # noqa: E402
from quanttheory.affine.grid import ShiftedGrid  # noqa: E402
from quanttheory.affine.parametric import optimal_affine, optimal_offset, _Law, _offset_mse_exact  # noqa: E402
from _timing import best_time, numpy_pass  # noqa: E402

from quanttheory.laws import Laplace, Normal, ReLU  # noqa: E402
from quanttheory.risk import mse as engine_mse, optimal_scale  # noqa: E402


def tmin(f, reps=5):
    return best_time(f, reps)


def one_pass(x) -> float:
    return numpy_pass(x)


def law_mse_of(dist, bits, setting):
    """Exact MSE under the law of a baseline's (s, z) or (s, m)."""
    if setting.zero_point is not None:
        return float(engine_mse(dist, np.array([setting.scale]), ShiftedGrid(bits, False, setting.zero_point))[0])
    return _offset_mse_exact(dist, _Law(dist), bits, setting.scale, setting.offset)


def section_laws(bits, quick, rng):
    laws = [Normal(0.0, 1.0), Laplace(1.0, 1.0), ReLU(Normal(0.0, 1.0)), ReLU(Laplace(0.5, 1.0))]
    print(f"\n## 1-2. Parametric laws, {bits} bits")
    print("law | (s,z) opt ms | z* | MSE* | cert gap | naive 16x1-D s | (s,m) opt ms | MSE*(m) | cert gap(m) "
          "| baselines: excess % (vs same-form optimum)")
    for d in laws:
        optimal_affine(d, bits)
        ta, a = tmin(lambda: optimal_affine(d, bits), 5)
        to, o = tmin(lambda: optimal_offset(d, bits), 1 if quick else 2)
        if quick:
            tn = float("nan")
        else:
            t0 = time.perf_counter()
            for z in range(2**bits):
                try:
                    optimal_scale(d, ShiftedGrid(bits, False, z))
                except ValueError:
                    pass
            tn = time.perf_counter() - t0
        x = d.sample(rng, 100_000)
        cells = []
        for f in BL.ALL:
            st = f(x, bits)
            v = law_mse_of(d, bits, st)
            ref = a.mse if st.zero_point is not None else o.mse
            assert v >= a.mse_lower_bound * (1 - 1e-12) if st.zero_point is not None else v >= o.mse_lower_bound
            cells.append(f"{f.__name__} {100 * (v / ref - 1):+.2f}")
        print(f"{d} | {ta * 1e3:.1f} | {a.zero_point} | {a.mse:.6g} | {(a.mse - a.mse_lower_bound) / a.mse:.1e} | "
              f"{tn:.2f} | {to * 1e3:.0f} | {o.mse:.6g} | {(o.mse - o.mse_lower_bound) / o.mse:.1e} | "
              + "; ".join(cells))


def section_speed(bits_list=(2, 3, 4, 5, 6, 7, 8), offset=True, offset_max_bits=5):
    """CPU time (``time.process_time``, min of 7 warm runs) of one certified (s, z) optimum per law and
    bit width, and the same search with the zero-point ranges switched off (``USE_ZP_RANGES = False``:
    every zero-point on every scale, the previous algorithm; min of 3), measured in the same run; the
    two must return the same zero-point and the same MSE to 1e-12.  Then the real-offset (s, m) optimum
    (min of 3)."""
    from quanttheory.affine import parametric as PM

    laws = [Normal(0.0, 1.0), Laplace(1.0, 1.0), Normal(2.0, 1.0), ReLU(Normal(0.0, 1.0)), ReLU(Laplace(0.5, 1.0))]
    print("\n## 0. One parametric (s, z) optimum, warm, CPU ms (min of 7) (goal 20 ms); "
          "in brackets: without the zero-point ranges (previous search, min of 3) and the ratio; "
          "z* and the surviving zero-points")
    print("law | " + " | ".join(f"{b} bits" for b in bits_list))
    for d in laws:
        cells = []
        for b in bits_list:
            optimal_affine(d, b)
            t, r = best_time(lambda: optimal_affine(d, b), 7, clock=time.process_time)
            PM.USE_ZP_RANGES = False
            try:
                t0, r0 = best_time(lambda: optimal_affine(d, b), 3, clock=time.process_time)
            finally:
                PM.USE_ZP_RANGES = True
            assert abs(r.mse / r0.mse - 1) <= 1e-12 and r.zero_point == r0.zero_point, (d, b, r.mse, r0.mse)
            cells.append(f"{t * 1e3:.1f} ({t0 * 1e3:.1f}, x{t0 / t:.1f}) z*={r.zero_point} "
                         f"{r.extra['surviving_zero_points']}")
        print(f"{d} | " + " | ".join(cells))
    if not offset:
        return
    ob = tuple(b for b in bits_list if b <= offset_max_bits)
    print("\n## 0b. One parametric real-offset (s, m) optimum, warm, CPU ms (min of 3); in brackets without the "
          f"centre wedge (previous search, min of 2) and the ratio; gap = (mse - bound) / mse; bits <= "
          f"{offset_max_bits} (above, seconds per optimum and the 20,000-box cap: see docs/affine.md)")
    print("law | " + " | ".join(f"{b} bits" for b in ob))
    for d in laws:
        cells = []
        for b in ob:
            optimal_offset(d, b)
            t, r = best_time(lambda: optimal_offset(d, b), 3, clock=time.process_time)
            PM.USE_ZP_RANGES = False
            try:
                t0, r0 = best_time(lambda: optimal_offset(d, b), 2, clock=time.process_time)
            finally:
                PM.USE_ZP_RANGES = True
            assert r.mse <= r0.mse * (1 + 1e-12) and r0.mse <= r.mse * (1 + 1e-12) or \
                not (r.extra["convexity_certified"] and r0.extra["convexity_certified"]), (d, b, r.mse, r0.mse)
            cells.append(f"{t * 1e3:.1f} ({t0 * 1e3:.1f}, x{t0 / t:.1f}) gap {(r.mse - r.mse_lower_bound) / r.mse:.0e}")
        print(f"{d} | " + " | ".join(cells))


def section_rows(bits, rng):
    print(f"\n## 3. Data rows of 4096 values, {bits} bits (time in passes of the row)")
    rows = {"laplace+0.5": rng.laplace(size=4096) + 0.5,
            "relu-mixture": np.maximum(rng.normal(size=4096), 0.0) + 0.05 * rng.normal(size=4096)}
    for name, x in rows.items():
        p = one_pass(x)
        optimal_affine_data(x, bits)
        optimal_offset_data(x, bits)
        ta, a = tmin(lambda: optimal_affine_data(x, bits), 3)
        to, o = tmin(lambda: optimal_offset_data(x, bits), 2)
        print(f"{name}: (s,z) opt MSE {a.mse:.6g} z={a.zero_point} in {ta / p:.0f} passes ({ta * 1e3:.1f} ms); "
              f"(s,m) opt MSE {o.mse:.6g} in {to / p:.0f} passes ({to * 1e3:.0f} ms)")
        for f in BL.ALL:
            t, st = tmin(lambda: f(x, bits), 3)
            ref = a.mse if st.zero_point is not None else o.mse
            assert st.mse >= ref * (1 - 1e-12), (st.name, st.mse, ref)
            print(f"   {st.name:40s} excess {100 * (st.mse / ref - 1):7.2f} %  (vs (s,m) opt "
                  f"{100 * (st.mse / o.mse - 1):7.2f} %)  time {t / p:8.1f} passes")


def _kernel_at(ref):
    """The fused row kernel module ``quanttheory/affine/_rows.py`` of the commit ``ref`` (``git show``), loaded
    under another name with numba ``cache=False`` (so it never reads or writes the working tree's cache)."""
    import importlib.util
    import subprocess
    import tempfile

    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(["git", "show", f"{ref}:quanttheory/affine/_rows.py"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    d = Path(tempfile.mkdtemp(prefix="bench_affine_base_"))
    f = d / "rows_baseline.py"
    f.write_text(src.replace("cache=True", "cache=False"))
    spec = importlib.util.spec_from_file_location("rows_baseline", f)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def _run_kernel(m, X, bits):
    """One call of ``m.solve_rows`` on the rows X (the parameters of :func:`~quanttheory.affine.data._fast_params`);
    returns (zero-points, MSE per row)."""
    from quanttheory.affine.data import _fast_params

    R, n = X.shape
    N = 2**bits - 1
    nb, T, G, ni = _fast_params(n, N)
    o = [np.zeros(R), np.zeros(R, np.int64), np.zeros(R), np.zeros(R), np.zeros(R), np.zeros(R, np.int64),
         np.zeros((R, 3))]
    m.solve_rows(X, N, nb, T, G, ni, *o)
    return o[1], o[2]


def section_baseline(ref, rng, bits_list=(2, 4, 8), sample8=32, reps=3):
    """The fused kernel of the working tree against the one of commit ``ref``, both called directly on the same
    rows of the benchmark matrix, alternately (CPU time, min of ``reps``; above 6 bits on ``sample8`` rows,
    extrapolated to 4096 and labelled), with the pass measured in the same run; checks that the optima agree
    (MSE to 1e-12 relative; zero-points may differ only on exact MSE ties)."""
    from quanttheory.affine import _rows as new

    print(f"\n## 4b. Fused row kernel: working tree against {ref} (same run, same rows, CPU time)")
    w = rng.standard_normal((4096, 4096), dtype=np.float32) * np.float32(0.02) + \
        rng.uniform(-0.01, 0.01, size=(4096, 1)).astype(np.float32)
    base = _kernel_at(ref)
    p_cpu = numpy_pass(w, clock=time.process_time)
    p_wall = numpy_pass(w)
    print(f"pass = {p_wall * 1e3:.2f} ms wall, {p_cpu * 1e3:.2f} ms CPU")
    for b in bits_list:
        k = 4096 if b <= 6 else sample8
        X = np.ascontiguousarray(w[:k])
        f = 4096 / k
        _run_kernel(base, X[:2], b)
        _run_kernel(new, X[:2], b)
        tc = {"base": np.inf, "new": np.inf}
        tw = {"base": np.inf, "new": np.inf}
        out = {}
        for _ in range(reps):
            for name, m in (("base", base), ("new", new)):
                c0, w0 = time.process_time(), time.perf_counter()
                out[name] = _run_kernel(m, X, b)
                tc[name] = min(tc[name], time.process_time() - c0)
                tw[name] = min(tw[name], time.perf_counter() - w0)
        rel = float(np.max(np.abs(out["new"][1] / out["base"][1] - 1)))
        nz = int(np.sum(out["new"][0] != out["base"][0]))
        lab = "4096 rows" if k == 4096 else f"first {k} rows, extrapolated to 4096"
        for name in ("base", "new"):
            print(f"{b} bits, {ref if name == 'base' else 'working tree':12s} ({lab}, min of {reps}): "
                  f"{tc[name] * f:.3f} s CPU = {tc[name] * f / p_cpu:6.1f} CPU passes "
                  f"({tc[name] / k * 1e6:.1f} us/row); "
                  f"{tw[name] * f:.3f} s wall = {tw[name] * f / p_wall:6.1f} passes")
        print(f"   ratio {ref} / working tree: CPU {tc['base'] / tc['new']:.2f}x, wall {tw['base'] / tw['new']:.2f}x; "
              f"max relative MSE difference {rel:.1e}; zero-points differing {nz} (ties only)")
        assert rel <= 1e-12


def section_matrix(bits, rows, full, rng, bits_list=(2, 4, 8), sample8=32):
    """Per-channel optimum of the 4096 x 4096 float32 matrix at each of ``bits_list`` (min of 3, wall and CPU,
    each against the pass measured with the same clock).  Above 6 bits (~ms per row) only the first
    ``sample8`` rows are solved (min of 2) and the time is extrapolated linearly to 4096 rows (labelled).
    The parallel kernel and the reference path run at ``bits`` only."""
    print(f"\n## 4. Per-channel (s,z) optimum, 4096 x 4096 float32, bits {list(bits_list)}")
    w = rng.standard_normal((4096, 4096), dtype=np.float32) * np.float32(0.02) + \
        rng.uniform(-0.01, 0.01, size=(4096, 1)).astype(np.float32)
    p_wall = numpy_pass(w)
    p_cpu = numpy_pass(w, clock=time.process_time)
    print(f"pass (median of sum/max/(x>1).sum over the matrix, min of 5 each) = {p_wall * 1e3:.2f} ms wall, "
          f"{p_cpu * 1e3:.2f} ms CPU")
    r = None
    for b in bits_list:
        k = 4096 if b <= 6 else sample8
        sub = w[:k]
        optimal_affine_data(w[:2], b, axis=0)
        reps = 3 if k == 4096 else 2
        tw, rb = best_time(lambda: optimal_affine_data(sub, b, axis=0), reps)
        tc, _ = best_time(lambda: optimal_affine_data(sub, b, axis=0), reps, clock=time.process_time)
        f = 4096 / k
        ex = rb.extra
        lab = "all 4096 rows" if k == 4096 else f"first {k} rows, extrapolated to 4096"
        print(f"{b} bits, fused row kernel, {lab} (min of {reps}): {tw * f:.3f} s wall = {tw * f / p_wall:.0f} "
              f"passes; {tc * f:.3f} s CPU = {tc * f / p_cpu:.0f} CPU passes (goal at 4 bits: 30); "
              f"{tc / k * 1e6:.0f} us CPU per row; {len(ex['reference_rows'])} rows sent to the reference path; "
              f"mean MSE {float(np.mean(rb.mse)):.6g}")
        print(f"   per row (mean): {np.mean(ex['rounds']):.1f} rounds, {np.mean(ex['bound_evaluations']):.0f} "
              f"(z, s-interval) bounds, {np.mean(ex['exact_solves']):.1f} exact sweeps")
        if b == bits:
            r, tw_b = rb, tw
    if r is None:
        return
    tw = tw_b
    import numba

    nt = numba.get_num_threads()
    optimal_affine_data(w[:64], bits, axis=0, threads=None)  # compile / load the parallel kernel
    tpw, rp = best_time(lambda: optimal_affine_data(w, bits, axis=0, threads=None), 3)
    tpc, _ = best_time(lambda: optimal_affine_data(w, bits, axis=0, threads=None), 3, clock=time.process_time)
    same = bool(np.array_equal(rp.mse, r.mse) and np.array_equal(rp.zero_point, r.zero_point))
    print(f"parallel kernel, threads=None ({nt} numba threads; CPU time summed over threads, min of 3): "
          f"{tpw:.3f} s wall = {tpw / p_wall:.0f} passes ({tw / tpw:.2f}x the serial wall time); {tpc:.3f} s CPU = "
          f"{tpc / p_cpu:.0f} CPU passes; results identical to the serial kernel: {same}")
    k = 4096 if full else rows
    t0 = time.perf_counter()
    ref = optimal_affine_data(w[:k], bits, axis=0, fast=False)
    t = (time.perf_counter() - t0) * 4096 / k
    rel = float(np.max(np.abs(ref.mse / r.mse[:k] - 1)))
    print(f"reference path (exact 1-D engine per surviving z): {k} rows, {'measured' if full else 'extrapolated'} "
          f"4096 rows = {t:.1f} s wall = {t / p_wall:.0f} passes; max relative MSE difference fused vs reference "
          f"{rel:.1e}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--matrix-bits", default="2,4,8", help="bit widths of the matrix section (comma-separated)")
    ap.add_argument("--sample8", type=int, default=32, help="rows solved above 6 bits (time extrapolated)")
    ap.add_argument("--baseline", default=None, metavar="REF",
                    help="also time the fused row kernel of git commit REF against the working tree's, same run "
                         "(e.g. a8eaa3e); with --only baseline only that")
    ap.add_argument("--only", choices=["laws", "rows", "matrix", "speed", "baseline"], default=None,
                    help="run one section (speed: the parametric speed table only)")
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    print(f"# numpy {np.__version__}; pass = median of x.sum(), x.max(), (x > 1).sum() on the same array")
    if a.only in (None, "speed"):
        section_speed()
    if a.only in (None, "laws"):
        section_laws(4, a.quick, rng)
    if a.only in (None, "rows"):
        section_rows(4, rng)
    if a.only in (None, "matrix"):
        section_matrix(4, a.rows, a.full, rng, tuple(int(b) for b in a.matrix_bits.split(",")), a.sample8)
    if a.baseline and a.only in (None, "matrix", "baseline"):
        section_baseline(a.baseline, np.random.default_rng(a.seed), tuple(int(b) for b in a.matrix_bits.split(",")),
                         a.sample8)


if __name__ == "__main__":
    main()
