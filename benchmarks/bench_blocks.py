"""Block-format benchmarks (ratios measured in one run; minimum of --repeat runs).

1. One exact expectation ``block_mse(law, fmt, rule)`` (warm) against a Monte Carlo run
   reaching the same accuracy: the MC time per element is measured on ``--mc`` elements and
   extrapolated to the element count whose standard error equals the exact result's error
   bound (``n = (sd_block / err)^2 * k``), and to 1e-6 relative (what a long MC run gives).
2. Per-block optimal scale of a ``rows x 4096`` float32 matrix (NVFP4: E4M3 codes; MXFP4,
   MXFP8: E8M0; INT4 groups of 32/64/128: fp16 values): the package's compiled oracle
   (:func:`quanttheory.blocks.data.oracle_scales`) in units of one NumPy pass
   (:func:`_timing.numpy_pass`, wall and CPU), and for NVFP4 against a NumPy sweep of the 126
   positive E4M3 codes (each: one quantization with ml_dtypes casts), timed on ``--sweep-rows``
   rows and scaled linearly to ``rows`` (the sweep is ~10^4 passes; stated in the output).
   With ``--base DIR`` (a source tree of another commit, e.g. ``git -C /work/main archive a8eaa3e |
   tar -x -C /tmp/base``) that tree's ``oracle_scales`` is imported in the same process (package
   ``qtbase``) and timed alternately with this one (CPU and wall, min of ``--repeat`` each): the
   same-run baseline; also checks that both give the same scale and SSE on every block.

3. (``--ab``) the dominance window of the oracle (docs/blocks.md, sections 3 and 7b): the same
   compiled kernel with the earlier threshold (``T = 3`` for E2M1) and the extended one (3.5),
   alternating in one process (the fairest comparison on a loaded machine).

    python benchmarks/bench_blocks.py [--rows 4096] [--repeat 3] [--mc 1000000] [--sweep-rows 256] [--oracle-only]
                                      [--skip-oracle] [--ab] [--ab-only] [--base DIR] [--formats nvfp4,mxfp4]
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import best_time, numpy_pass


def tmin(f, repeat):
    return best_time(f, repeat)


def bench_expectation(repeat, n_mc):
    from quanttheory.blocks.expectation import block_mse, monte_carlo_block_mse
    from quanttheory.laws import Laplace, Normal

    print("1. exact expectation vs Monte Carlo (same accuracy)")
    for law, lname in ((Normal(), "normal"), (Laplace(), "laplace")):
        for fmt, rule in (("mxfp4", "floor"), ("nvfp4", "round"), ("mxfp8_e4m3", "floor")):
            block_mse(law, fmt, rule)  # warm
            t_ex, r = tmin(lambda: block_mse(law, fmt, rule), repeat)
            t_mc, (mean, se, _) = tmin(lambda: monte_carlo_block_mse(law, fmt, rule, n=n_mc, rng=1), 1)
            per_el = t_mc / n_mc
            # se ~ sd / sqrt(n): elements for a target absolute error e: n = n_mc (se / e)^2
            n_same = n_mc * (se / max(r.error_estimate, 1e-300)) ** 2
            n_1e6 = n_mc * (se / (1e-6 * r.mse)) ** 2
            print(f"  {lname:8s} {fmt:11s} {rule:6s} exact {t_ex * 1e3:8.1f} ms (mse {r.mse:.12g}, err "
                  f"{r.error_estimate:.1e}) | MC {per_el * 1e9:.0f} ns/element, MC({n_mc:.0e}) = {mean:.6g} +- "
                  f"{se:.1e} | MC to 1e-6 rel: {n_1e6:.1e} el = {n_1e6 * per_el:.3g} s (ratio "
                  f"{n_1e6 * per_el / t_ex:.2e}); to the exact error: ratio {n_same * per_el / t_ex:.1e}")


def bench_4over6():
    """One exact 4over6 expectation (NVFP4, N(0,1); characteristic-function route, single run:
    it takes tens of seconds) against the package Monte Carlo per element."""
    import time

    from quanttheory.blocks.expectation import monte_carlo_block_mse
    from quanttheory.blocks.expectation_min import block_mse_4over6
    from quanttheory.laws import Normal

    t0 = time.process_time()
    r = block_mse_4over6(Normal(), "nvfp4")
    t_ex = time.process_time() - t0
    t0 = time.process_time()
    mean, se, _ = monte_carlo_block_mse(Normal(), "nvfp4", "4over6", n=1 << 20, rng=1)
    t_mc = time.process_time() - t0
    n_1e6 = (1 << 20) * (se / (1e-6 * r.mse)) ** 2
    print(f"1b. 4over6 NVFP4 N(0,1): exact {t_ex:.1f} s CPU (mse {r.mse:.12g}, err {r.error_estimate:.1e}) | "
          f"MC(2^20) {mean:.6g} +- {se:.1e} in {t_mc:.2f} s CPU | MC to 1e-6 rel: {n_1e6 * t_mc / (1 << 20):.3g} s "
          f"(ratio {n_1e6 * t_mc / (1 << 20) / t_ex:.2e})")


def load_base(root):
    """``quanttheory.blocks.data`` of another source tree (e.g. ``git archive a8eaa3e``), imported
    under the package name ``qtbase`` (its relative imports resolve inside that tree; its numba
    cache lives next to its sources), so both versions run in this process."""
    import importlib
    import os
    import sys
    import types

    if "qtbase" not in sys.modules:
        pkg = types.ModuleType("qtbase")
        pkg.__path__ = [os.path.join(root, "quanttheory")]
        sys.modules["qtbase"] = pkg
    return importlib.import_module("qtbase.blocks.data")


def _both_clocks(f, repeat):
    """(min wall, min CPU, last result) over ``repeat`` runs, both clocks read around each run."""
    import time

    bw = bc = np.inf
    out = None
    for _ in range(max(1, repeat)):
        w0, c0 = time.perf_counter(), time.process_time()
        out = f()
        bc = min(bc, time.process_time() - c0)
        bw = min(bw, time.perf_counter() - w0)
    return bw, bc, out


def bench_oracle(rows, repeat, sweep_rows, base=None, names=None):
    import time

    import ml_dtypes

    from quanttheory.blocks import get_block_format
    from quanttheory.blocks.data import oracle_scales
    from quanttheory.formats import get_format

    print(f"2. per-block optimal scale of a {rows} x 4096 float32 N(0,1) matrix (min of {repeat} runs, wall and "
          f"CPU = time.process_time); unit: one NumPy pass = numpy_pass(x) (median of x.sum(), x.max(), "
          f"(x > 1).sum()), measured with the same clock in this run")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 4096), dtype=np.float32)
    p_wall = numpy_pass(x, repeat)
    p_cpu = numpy_pass(x, repeat, time.process_time)
    print(f"  NumPy pass: {p_wall * 1e3:.2f} ms wall, {p_cpu * 1e3:.2f} ms CPU")
    S = float(np.max(np.abs(x))) / (448 * 6)
    bdata = load_base(base) if base else None
    if bdata is not None:
        print(f"  base = {bdata.__file__} (same process; runs alternate base / new, min of {repeat} each)")
    res = {}
    for name in names or ("nvfp4", "mxfp4", "mxfp8_e4m3", "int4_g32", "int4_g64", "int4_g128"):
        bf = get_block_format(name)
        xb = x.reshape(rows, -1, bf.block)
        oracle_scales(xb[:1], bf, tensor_scale=S)  # compile / load the cache
        _, cnt = oracle_scales(xb, bf, tensor_scale=S, return_counts=True)
        what = {"e4m3": "E4M3 codes", "e8m0": "E8M0 exponents", "fp16": "fp16 values (pieces)"}[bf.scale_format]
        if bdata is None:
            t_w, t_c, X = _both_clocks(lambda: oracle_scales(xb, bf, tensor_scale=S), repeat)
            res[name] = X
            print(f"  {name:10s} oracle {t_w * 1e3:8.1f} ms wall = {t_w / p_wall:6.1f} passes | {t_c * 1e3:8.1f} ms "
                  f"CPU = {t_c / p_cpu:6.1f} CPU passes | {what} tried per block: {np.mean(cnt):.2f}")
            continue
        bbf = bdata.get_block_format(name)
        bdata.oracle_scales(xb[:1], bbf, tensor_scale=S)
        tb, tn = [np.inf, np.inf], [np.inf, np.inf]
        for _ in range(max(1, repeat)):
            w, c, Xb = _both_clocks(lambda: bdata.oracle_scales(xb, bbf, tensor_scale=S), 1)
            tb = [min(tb[0], w), min(tb[1], c)]
            w, c, X = _both_clocks(lambda: oracle_scales(xb, bf, tensor_scale=S), 1)
            tn = [min(tn[0], w), min(tn[1], c)]
        res[name] = X
        _, sn = oracle_scales(xb, bf, tensor_scale=S, return_sse=True)
        _, sb = bdata.oracle_scales(xb, bbf, tensor_scale=S, return_sse=True)
        same = float(np.mean(X == Xb))
        rel = float(np.max(np.abs(sn - sb) / np.maximum(sb, 1e-300)))
        print(f"  {name:10s} base {tb[1] / p_cpu:6.1f} CPU passes ({tb[0] / p_wall:6.1f} wall) | new "
              f"{tn[1] / p_cpu:6.1f} CPU passes ({tn[0] / p_wall:6.1f} wall) | speed-up {tb[1] / tn[1]:.2f}x CPU, "
              f"{tb[0] / tn[0]:.2f}x wall | same scale on {same * 100:.3f}% of blocks, max rel. SSE diff {rel:.1e} "
              f"| {what} tried per block: {np.mean(cnt):.2f}")
    if "nvfp4" not in res or sweep_rows <= 0:
        return
    # NumPy 126-code sweep (the baseline), on the first sweep_rows rows (it is slow), scaled to rows
    e = np.asarray(get_format("e4m3").levels)
    cands = S * e[e > 0]
    r = min(rows, sweep_rows)
    xf = x[:r].reshape(r, -1, 16)

    def sweep():
        best = np.sum(xf.astype(np.float64) ** 2, axis=-1)
        bx = np.zeros(best.shape)
        for c in cands:
            c32 = np.float32(c)
            q = np.clip(xf / c32, -6, 6).astype(ml_dtypes.float4_e2m1fn).astype(np.float32) * c32
            sse = np.sum((xf - q).astype(np.float64) ** 2, axis=-1)
            upd = sse < best
            best = np.where(upd, sse, best)
            bx = np.where(upd, c, bx)
        return bx

    t_sw, Xs = best_time(sweep, 1)
    t_swc, _ = best_time(sweep, 1, time.process_time)
    t_sw_full, t_swc_full = t_sw * rows / r, t_swc * rows / r
    bf = get_block_format("nvfp4")
    xb = x.reshape(rows, -1, 16)
    t_or, _ = best_time(lambda: oracle_scales(xb, bf, tensor_scale=S), repeat)
    t_orc, _ = best_time(lambda: oracle_scales(xb, bf, tensor_scale=S), repeat, time.process_time)
    agree = float(np.mean(np.isclose(res["nvfp4"][:r], Xs, rtol=1e-6) | (res["nvfp4"][:r] == Xs)))
    print(f"  NVFP4: 126-code NumPy sweep {t_sw:.2f} s wall / {t_swc:.2f} s CPU on {r} rows -> {t_sw_full:.1f} s wall "
          f"/ {t_swc_full:.1f} s CPU for {rows} rows = {t_sw_full / p_wall:.0f} passes wall, {t_swc_full / p_cpu:.0f} "
          f"CPU | oracle/sweep speedup {t_sw_full / t_or:.0f}x wall, {t_swc_full / t_orc:.0f}x CPU | same code on "
          f"{agree * 100:.2f}% of blocks (the sweep's float32 casts can tie-break differently)")


def bench_dominance_ab(rows, repeat):
    """In-process A/B of the dominance threshold: the same compiled kernel with the contained-range
    threshold (``T = 3`` for E2M1, the earlier window) and the extended one (3.5), alternating
    runs, minimum CPU time of each; the picks must be identical."""
    import time

    from quanttheory.blocks import _kernels as K
    from quanttheory.blocks import get_block_format
    from quanttheory.blocks.data import _code_table, _dominance_threshold, _oracle_tables

    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 4096), dtype=np.float32)
    S = float(np.max(np.abs(x))) / (448 * 6)
    p_cpu = numpy_pass(x, repeat, time.process_time)
    print(f"3. dominance window A/B (same kernel, same process, min CPU of {repeat} alternating runs; NumPy pass "
          f"{p_cpu * 1e3:.2f} ms CPU)")
    for name in ("nvfp4", "mxfp4"):
        bf = get_block_format(name)
        flat = x.reshape(-1, bf.block)
        nb = flat.shape[0]
        codes, _, half, allhalf, zero, fine, inv32, ok32 = _code_table(bf.scale_format,
                                                                        S if bf.scale_format == "e4m3" else 1.0)
        quant, bounds, _ = _oracle_tables(bf.element)
        _, lv, _, _, th, s0, lo, hi, _ = quant
        T_new, *rest = bounds
        T_old = _dominance_threshold(lv, extend=False)
        best, picks, tried = {}, {}, {}
        for _ in range(repeat):
            for T in (T_old, T_new):
                outX, outS, cnt = np.empty(nb), np.empty(nb), np.empty(nb, np.int64)
                t0 = time.process_time()
                K.oracle_f32(flat, codes, inv32, ok32, fine, half, allhalf, zero, bf.scale_format == "e4m3", s0,
                             float(th[0]), float(th[1]), lo, hi, (1.0 + 2e-12) / T, rest[0], rest[1], rest[4], False, True,
                             outX, outS, cnt)
                best[T] = min(best.get(T, np.inf), time.process_time() - t0)
                picks[T], tried[T] = outX, float(np.mean(cnt))
        print(f"  {name:6s} T = {T_old:g}: {best[T_old] / p_cpu:5.1f} CPU passes ({tried[T_old]:.2f} tried) | T = {T_new:g}: "
              f"{best[T_new] / p_cpu:5.1f} CPU passes ({tried[T_new]:.2f} tried) | speed-up {best[T_old] / best[T_new]:.2f}x | "
              f"same picks: {np.array_equal(picks[T_old], picks[T_new])}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--mc", type=int, default=10 ** 6)
    ap.add_argument("--sweep-rows", type=int, default=256)
    ap.add_argument("--skip-oracle", action="store_true")
    ap.add_argument("--oracle-only", action="store_true", help="only part 2 (the per-block optimum)")
    ap.add_argument("--ab", action="store_true", help="part 3: in-process A/B of the dominance window")
    ap.add_argument("--ab-only", action="store_true", help="skip parts 1 and 2 (with --ab)")
    ap.add_argument("--base", default=None, help="part 2: also time the oracle of this source tree (e.g. "
                    "`git -C /work/main archive a8eaa3e | tar -x -C /tmp/base`) in the same process")
    ap.add_argument("--formats", default=None, help="part 2: comma-separated block formats (default: all six)")
    a = ap.parse_args()
    if not (a.oracle_only or a.ab_only):
        bench_expectation(a.repeat, a.mc)
        bench_4over6()
    if not (a.skip_oracle or a.ab_only):
        bench_oracle(a.rows, a.repeat, a.sweep_rows, a.base, a.formats.split(",") if a.formats else None)
    if a.ab:
        bench_dominance_ab(a.rows, max(a.repeat, 5))


if __name__ == "__main__":
    main()
