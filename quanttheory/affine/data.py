"""Exact joint optima of affine quantizers for data (per tensor, per channel, per group).

Integer zero-point form: for data ``x_1..x_n`` and ``N = 2**bits - 1``,

    MSE(s, z) = (1/n) sum_i (x_i - s (clip(rint(x_i/s) + z, 0, N) - z))^2

is, for each fixed ``z``, the empirical MSE of the integer grid ``[-z, N - z]``
(:class:`~quanttheory.affine.grid.ShiftedGrid`): per sign the grid has
``Tp = N - z`` positive and ``Tn = z`` negative levels.  The joint optimum is the
minimum over the ``N + 1`` zero-points of exact one-dimensional problems, which
the exact data engine (:mod:`quanttheory.risk.data`) solves with a certificate.
To avoid solving all of them:

1. one pass (validation, extrema, moments) and one histogram pass of ``|x|`` per
   sign are shared by every ``z`` (the histogram does not depend on the grid);
2. branch and bound over boxes ``(z, [s1, s2])`` with the engine's rigorous
   histogram bounds (lower bound over an interval, upper bound at a scale) for the
   tops ``(N - z, z)``; zero-points all of whose boxes exceed the best upper bound
   cannot hold a global minimizer and are dropped (``extra["pruned_zero_points"]``);
3. the surviving zero-points, in order of their lower bound, get the exact
   one-dimensional optimum (breakpoint sweep, certified); a zero-point is skipped
   when its lower bound already exceeds the best exact MSE found.

The result is exact: the returned MSE is the global minimum over ``(s, z)`` up to
the engine's rounding bound (``mse_lower_bound``).
"""

from __future__ import annotations

import math
import time

import numpy as np

from .grid import ShiftedGrid, _check_bits
from .parametric import AffineOptimum

MAX_DATA_BITS = 8


def _bits(bits) -> int:
    b = _check_bits(bits)
    if b > MAX_DATA_BITS:
        raise ValueError(f"the affine data optimizers support bits 1..{MAX_DATA_BITS}, got {b}")
    return b


def _constant_result(c: float, n: int, bits: int, name: str, allow_constant: bool) -> AffineOptimum:
    N = 2**bits - 1
    if not allow_constant:
        raise ValueError(
            f"{name} is constant (every value is {c!r}): the MSE is 0 for every (s, z) that puts a level on it "
            f"(any s with {c!r}/s an integer in [-z, {N}-z]; for c = 0 every s and z), so no scale is 'the' "
            "optimum; pass allow_constant=True to get one of them (flagged in extra['degenerate'])")
    if c == 0.0:
        s, z = 1.0, 0
    elif c > 0:
        s, z = c / N, 0
    else:
        s, z = -c / N, N
    return AffineOptimum(bits, "zero_point", s, z, -s * z, 0.0, 0.0, math.inf, math.inf,
                         "degenerate: constant data, MSE 0 for a continuum of (s, z); one of them returned",
                         extra={"degenerate": True, "n": n})


def _same_layout(hist, st, tops, arr):
    """``hist`` when its bins are those the 1-D engine would build for the grid tops ``(Tp, Tn)``
    (then the engine's histogram would be the same array: reusing it saves a data pass and a
    second histogram in memory, ~11 MB at 2^12 sub-bins), else None."""
    from ..risk.data_search import _hist_bits, _hist_layout

    if hist is None:
        return None
    lay = _hist_layout(st.n, _hist_bits(*tops), math.frexp(max(st.max_pos, st.max_neg))[1],
                       arr.dtype == np.float32)
    return hist if lay == (hist.m, hist.e_lo, hist.nb) else None


def _solve_one(arr, bits, name="data", allow_constant=False, prune=True):
    from ..risk import data as E
    from ..risk.data_search import _Hist
    from ..laws.atoms import scan

    t0 = time.perf_counter()
    N = 2**bits - 1
    st = scan(arr, name)
    n = st.n
    lo_v = -st.max_neg if st.n_neg else st.min_pos  # smallest value
    hi_v = st.max_pos if st.n_pos else -st.min_neg
    if st.n_neg == 0:
        lo_v = 0.0 if st.min_pos == math.inf else st.min_pos
        if st.n_pos and st.max_pos == 0.0:
            lo_v = 0.0
    if lo_v != hi_v:
        # not constant: tiny magnitudes are reported as such (their sum of squares underflows to 0, which
        # used to be read as all-zero data: "constant (every value is 0.0)")
        E.check_not_tiny(max(st.max_pos, st.max_neg), name)
    if lo_v == hi_v or (st.sum_sq == 0.0):
        c = float(hi_v)  # lo_v == hi_v here (sum_sq == 0 with lo_v != hi_v is tiny data, raised above)
        # constant: every value equal (sum_sq = n c^2 and mean = c)
        if st.sum_sq == 0.0 or abs(st.sum_sq - n * c * c) <= 4 * 2.0**-52 * st.sum_sq * max(1, math.log2(n)):
            if st.sum_sq == 0.0 or float(np.min(arr)) == float(np.max(arr)):
                return _constant_result(c, n, bits, name, allow_constant)
    zs = np.arange(N + 1)
    tops = [(N - int(z), int(z)) for z in zs]
    brackets = []
    for tp, tn in tops:
        try:
            brackets.append(E._bracket(st, tp, tn, name))
        except ValueError:
            if max(st.max_pos, st.max_neg) < E.TINY_DATA:
                raise
            # the sides with levels hold only values below TINY_DATA: their squared errors underflow, the
            # MSE is mean(x^2) up to < 1e-295 for every s: this z cannot beat the others
            brackets.append(None)
    hist = _Hist(arr, st, bits + 1) if prune and n * N > 64 else None
    best_ub = st.sum_sq  # n * MSE as s -> inf, for every z
    live = {}
    for z, br in zip(zs, brackets):
        if br is not None:
            a, b = br
            k = max(8, int(math.ceil(2 * math.log2(b / a))))
            e = a * (b / a) ** (np.arange(k + 1) / k)
            live[int(z)] = [e[:-1].copy(), e[1:].copy(), np.zeros(k)]
    pruned = []
    if hist is not None:
        for _ in range(12):
            for z in list(live):
                s1, s2, _ = live[z]
                tp, tn = tops[z]
                mid = np.sqrt(s1 * s2)
                _, ub = hist.fixed(mid, tp, tn)
                best_ub = min(best_ub, float(ub.min()))
            wide_any = False
            for z in list(live):
                s1, s2, _ = live[z]
                tp, tn = tops[z]
                lb = hist.interval_lb(s1, s2, tp, tn)
                keep = lb <= best_ub * (1 + 1e-12)
                if not keep.any():
                    pruned.append(z)
                    del live[z]
                    continue
                s1, s2, lb = s1[keep], s2[keep], lb[keep]
                wide = (s2 - s1) > 2.0**-6 * s2
                if wide.any():
                    wide_any = True
                    m = np.sqrt(s1[wide] * s2[wide])
                    s1 = np.concatenate([s1[~wide], s1[wide], m])
                    s2 = np.concatenate([s2[~wide], m, s2[wide]])
                    lb = np.concatenate([lb[~wide], lb[wide], lb[wide]])
                live[z] = [s1, s2, lb]
            if not wide_any:
                break
    order = sorted(live, key=lambda z: float(live[z][2].min()))
    best = None
    solved = []
    lbs = []
    for z in order:
        zlb = float(live[z][2].min())
        if best is not None and zlb > best.extra["mse"] * n * (1 + 1e-12):
            pruned.append(z)
            lbs.append(zlb / n)
            continue
        try:
            r = E._optimal_msqe(arr, ShiftedGrid(bits, False, z), st, hist=_same_layout(hist, st, tops[z], arr))
        except ZeroDivisionError as exc:  # the 1-D engine underflows on magnitudes ~1e-38 next to ~1
            raise ValueError(f"{name}: the exact 1-D engine failed for zero-point {z} (values spanning more than "
                             "~1e30 in magnitude underflow); rescale or drop the negligible values") from exc
        solved.append((z, r.scale, r.extra["mse"]))
        lbs.append(r.risk_lower_bound / math.pi**2)
        if best is None or r.extra["mse"] < best.extra["mse"]:
            best, zb = r, z
    # zero-points without a bracket have MSE(s) = mean x^2 for every s: never better than sum_sq / n
    if best is None or best.extra["mse"] >= st.sum_sq / n:
        raise ValueError(f"{name}: no affine grid improves on quantizing everything to 0; please report")
    F = best.extra["mse"]
    ties = sorted(z for z, _, v in solved if v <= F * (1 + 1e-12))
    lb_all = min([F] + lbs)
    method = ("exact: branch and bound over (zero-point, scale interval) boxes on the |x| histogram, exact "
              "one-dimensional optimum (quanttheory.risk.data) for every zero-point not excluded")
    return AffineOptimum(bits, "zero_point", float(best.scale), int(zb), -float(best.scale) * zb, F, lb_all,
                         float(best.scale_error), float(best.scale_error) * zb, method,
                         extra={"n": n, "solved_zero_points": [s[0] for s in solved],
                                "pruned_zero_points": sorted(pruned), "tied_zero_points": ties,
                                "per_zero_point": solved, "seconds": time.perf_counter() - t0})


def _stack(results, bits, method_prefix, extra):
    def arr(field, dtype=float):
        return np.array([getattr(r, field) for r in results], dtype=dtype)

    methods = sorted({r.method for r in results})
    ex = dict(extra)
    ex["degenerate"] = np.array([bool((r.extra or {}).get("degenerate", False)) for r in results])
    return AffineOptimum(bits, "zero_point", arr("scale"), arr("zero_point", np.int64), arr("offset"), arr("mse"),
                         arr("mse_lower_bound"), arr("scale_error"), arr("offset_error"),
                         method_prefix + " | ".join(methods), extra=ex)


def optimal_affine_data(data, bits, *, axis=None, group=None, allow_constant=False, fast=True,
                        threads=1) -> AffineOptimum:
    """Exact global minimizer of the affine MSE ``mean (x - s (clip(rint(x/s) + z, 0, N) - z))^2``
    over ``s > 0`` and integer ``z in 0..N`` (``N = 2**bits - 1``).

    Parameters
    ----------
    data : real array-like (NaN/inf, complex, bool, empty rejected).
    bits : int, 1..8.
    axis : int or None
        Per-channel: one ``(s, z)`` per index along ``axis``.
    group : int or None
        Per-group: the data (flattened in C order, or each channel's slice when ``axis`` is
        given) is cut into consecutive groups of ``group`` elements (the size must divide).
    allow_constant : bool
        Constant data (or a constant channel/group) has MSE 0 for a continuum of ``(s, z)``:
        raise (default) or return one of them flagged in ``extra["degenerate"]``.
    fast : bool
        Per-channel / per-group rows of at most 65536 values use the fused numba kernel
        (:mod:`quanttheory.affine._rows`, same exact optimum, ~15x faster); ``False`` forces the
        reference path (one exact 1-D engine call per surviving zero-point and row).
    threads : int or None
        Threads of the fused kernel (rows are independent: the result is identical for every
        value).  ``1`` (default) runs in the calling thread; ``None`` uses numba's thread count
        (all cores unless ``NUMBA_NUM_THREADS`` says otherwise); ``k > 1`` at most ``k`` threads.
    """
    from ..laws.atoms import as_data_array

    bits = _bits(bits)
    threads = _threads(threads)
    arr = as_data_array(data)
    if axis is None and group is None:
        if fast and arr.size <= FAST_MAX_ROW:
            r = _solve_rows_fast(arr.reshape(1, -1), bits, "tensor", allow_constant, {}, 1)
            ex = {k: (v[0] if isinstance(v, np.ndarray) and v.ndim == 1 and v.size == 1 else v)
                  for k, v in r.extra.items()}
            return AffineOptimum(bits, "zero_point", float(r.scale[0]), int(r.zero_point[0]), float(r.offset[0]),
                                 float(r.mse[0]), float(r.mse_lower_bound[0]), float(r.scale_error[0]),
                                 float(r.offset_error[0]), r.method.replace("per-tensor: ", ""), extra=ex)
        return _solve_one(arr, bits, allow_constant=allow_constant)
    rows, kind = _rows(arr, axis, group)
    if fast and rows.shape[1] <= FAST_MAX_ROW:
        return _solve_rows_fast(rows, bits, kind, allow_constant, {"axis": axis, "group": group}, threads)
    res = [_solve_one(rows[i], bits, name=f"{kind} {i}", allow_constant=allow_constant)
           for i in range(rows.shape[0])]
    return _stack(res, bits, f"per-{kind}: ", {"axis": axis, "group": group, "count": len(res)})


FAST_MAX_ROW = 1 << 16


def _threads(threads):
    """Validated thread count: an int >= 1, or None (numba's current thread count)."""
    if threads is None:
        return None
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)):
        raise TypeError(f"threads must be a positive int or None, got {threads!r}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1 (or None for numba's thread count), got {threads}")
    return int(threads)


def _fast_params(n: int, N: int):
    """(bins, zone-value threshold T, zone groups G, initial intervals) of the fused kernel for rows of n."""
    return int(min(max(n // 4, 4), 4096)), 48, 2, 3


def _solve_rows_fast(rows, bits, kind, allow_constant, extra, threads=1):
    """All rows at once with the fused kernel (:mod:`quanttheory.affine._rows`, which also does the
    finiteness checks); rows it flags (buffers, constant rows) go to the reference solver / the
    constant-data rule."""
    from ._rows import solve_rows, solve_rows_parallel

    t0 = time.perf_counter()
    X = rows if rows.dtype in (np.float32, np.float64) and rows.flags.c_contiguous else \
        np.ascontiguousarray(rows, dtype=np.float64 if rows.dtype != np.float32 else np.float32)
    if not X.dtype.isnative:
        X = X.astype(X.dtype.newbyteorder("="))
    R, n = X.shape
    N = 2**bits - 1
    s = np.zeros(R)
    z = np.zeros(R, dtype=np.int64)
    mse = np.zeros(R)
    lb = np.zeros(R)
    tot = np.zeros(R)
    status = np.zeros(R, dtype=np.int64)
    info = np.zeros((R, 3))
    nb, T, G, ni = _fast_params(n, N)
    nt = 1
    if threads != 1 and R > 1:
        import numba

        nt = min(numba.get_num_threads() if threads is None else min(threads, numba.config.NUMBA_NUM_THREADS), R)
    if nt > 1:
        import numba

        prev = numba.get_num_threads()
        numba.set_num_threads(nt)
        try:  # 4 chunks per thread: prange splits the chunks statically, rows differ in cost
            solve_rows_parallel(X, N, nb, T, G, ni, s, z, mse, lb, tot, status, info, min(4 * nt, R))
        finally:
            numba.set_num_threads(prev)
    else:
        solve_rows(X, N, nb, T, G, ni, s, z, mse, lb, tot, status, info)
    bad = np.flatnonzero(status == 5)
    if bad.size:
        i = int(bad[0])
        j = int(info[i, 0])
        raise ValueError(f"data contains a non-finite value ({X[i, j]} at position {j} of {kind} {i}); "
                         "remove or replace NaN/inf before computing a scale")
    if np.any(status == 6):
        raise ValueError("data has values too large to square in float64 (|x| > 1e154); rescale the data")
    s_err = 4 * 2.0**-52 * s
    degenerate = np.zeros(R, dtype=bool)
    fallback = []
    for i in np.flatnonzero(status != 0):
        r = _solve_one(X[i], bits, name=f"{kind} {i}", allow_constant=allow_constant)
        s[i], z[i], mse[i], lb[i], s_err[i] = r.scale, r.zero_point, r.mse, r.mse_lower_bound, r.scale_error
        degenerate[i] = bool((r.extra or {}).get("degenerate", False))
        if status[i] != 2:
            fallback.append(int(i))
    ex = dict(extra)
    ex.update(count=R, threads=nt, degenerate=degenerate, reference_rows=fallback, seconds=time.perf_counter() - t0,
              rounds=info[:, 0].copy(), bound_evaluations=info[:, 1].copy(), exact_solves=info[:, 2].copy())
    method = (f"per-{kind}: exact, fused row kernel: bucket-sorted histogram, branch and bound over "
              "(zero-point, scale interval) boxes with prefix-sum bounds, exact breakpoint sweep of the "
              "small boxes on the raw values")
    off_err = np.where(np.isinf(s_err), np.inf, np.where(np.isinf(s_err), 0.0, s_err) * z)
    return AffineOptimum(bits, "zero_point", s, z, -s * z, mse, np.minimum(lb, mse), s_err, off_err, method,
                         extra=ex)


def _rows(arr, axis, group):
    """2-D view: one row per channel (``axis``) or per group of ``group`` consecutive elements."""
    if axis is not None:
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"axis must be an int or None, got {type(axis).__name__}")
        if not -arr.ndim <= axis < arr.ndim:
            raise ValueError(f"axis {axis} is out of range for data of shape {arr.shape}")
        rows = np.moveaxis(arr, int(axis), 0).reshape(arr.shape[int(axis)], -1)
    else:
        rows = arr.reshape(1, -1)
    if group is not None:
        if isinstance(group, bool) or not isinstance(group, (int, np.integer)) or group < 1:
            raise ValueError(f"group must be a positive integer, got {group!r}")
        if rows.shape[1] % group:
            raise ValueError(f"group size {group} does not divide the {rows.shape[1]} elements per "
                             f"{'channel' if axis is not None else 'tensor'}; pad the data or pick a divisor")
        rows = rows.reshape(-1, int(group))
    if rows.shape[1] == 0:
        raise ValueError(f"data of shape {arr.shape} has empty channels")
    return rows, ("group" if group is not None else "channel")


def optimal_offset_data(data, bits, *, axis=None, group=None, allow_constant=False) -> AffineOptimum:
    """Exact global minimizer of ``mean (x - s clip(rint((x - m)/s), 0, N) - m)^2`` over ``s > 0`` and real
    ``m`` (the "scale and min" form), per tensor, per channel (``axis``) or per group of ``group`` elements.

    Algorithm and certificate: :mod:`quanttheory.affine.offset_data`.  Cost: O(n) per box of a
    two-dimensional branch and bound (~10^3-10^4 boxes): meant for groups and channels (n <= ~10^4);
    constant data raises unless ``allow_constant`` (every s is then optimal).
    """
    from ..laws.atoms import as_data_array, scan
    from .offset_data import optimal_offset_1d

    bits = _bits(bits)
    arr = as_data_array(data)
    scan(arr)  # NaN / inf / overflow checks with the engine's messages
    if axis is None and group is None:
        return optimal_offset_1d(arr, bits, allow_constant=allow_constant)
    rows, kind = _rows(arr, axis, group)
    res = [optimal_offset_1d(rows[i], bits, name=f"{kind} {i}", allow_constant=allow_constant)
           for i in range(rows.shape[0])]

    def col(field):
        return np.array([getattr(r, field) for r in res], dtype=float)

    return AffineOptimum(bits, "offset", col("scale"), None, col("offset"), col("mse"), col("mse_lower_bound"),
                         col("scale_error"), col("offset_error"),
                         f"per-{kind}: " + " | ".join(sorted({r.method for r in res})),
                         extra={"axis": axis, "group": group, "count": len(res),
                                "degenerate": np.array([bool((r.extra or {}).get("degenerate", False))
                                                        for r in res])})
