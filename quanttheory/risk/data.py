"""Exact MSE sums and the exact optimal scale factor of real tensors (atomic laws).

For data ``x_1..x_n`` and a ``b``-bit grid ``[r_b, r_t]`` the empirical MSQE is

    MSE(s) = (1/n) sum_i (x_i - s clip(rint(x_i / s), r_b, r_t))**2      (data units**2)

and, in the paper's convention shared with :mod:`quanttheory.risk`, the risk
curve is ``R(s) = pi**2 MSE(s)`` (``curve_factor * s**2 * mean(phi(x/s))``).
``MSE`` is continuous and piecewise quadratic in ``s`` with up to
``n (2**(b-1))`` breakpoints ``s = |x_i| / (k + 1/2)``.
:func:`optimal_scale_data` returns its **global** minimizer with a certificate,
without evaluating ``MSE`` at every breakpoint:

1. one pass: validation (NaN/inf rejected), extrema, moments, fused (from
   ``FUSED_MIN`` values) with
2. a floating-point histogram of ``|x|`` per sign (relative bin width
   ``2**-m``, ``m <= 12``) with per-bin count, sum and sum of squares (the
   fused pass keeps count and sum only and bounds a bin's sum of squares by
   ``S**2/c`` below and ``(lo + hi) S - c lo hi`` above; its extrema are bin
   edges, outward);
3. branch and bound over ``s``-intervals on the histogram: for ``s`` in
   ``[s1, s2]`` every grid point ``k s`` lies in ``k [s1, s2]``, so
   ``MSE(s) >= mean dist(|x|, {0} U k[s1, s2])**2`` (clipped side: distance to
   ``T s2``); on narrow intervals the points whose grid index cannot change
   are summed as one exact quadratic in ``s`` minimized jointly (see
   :func:`quanttheory.risk._kernels.data.interval_lower_bounds_joint`).  Bins
   inside one piece are summed exactly from prefix sums, bins containing a
   breakpoint contribute ``count * min`` over the bin; rounding errors are
   bounded and subtracted.  Upper bounds come from the histogram at fixed
   ``s``.  Intervals whose lower bound exceeds the best upper bound are discarded;
4. one pass per surviving cluster ``[A, B]``: points whose grid index is the
   same at ``A`` and ``B`` are summed into one quadratic in ``s`` (centred at
   ``s0 = (A+B)/2`` against cancellation); the few "straddlers" give the
   breakpoints, which are sorted and swept; on each piece the quadratic is
   minimized exactly.

Small arrays skip steps 1-4: up to ``n max(T) = 2**20`` breakpoints, or ``2**22`` on grids with
tops above 255 (9+ bits, where the histogram's bins are coarser than the grid step), every
breakpoint is enumerated by the rows kernel (:func:`quanttheory.risk._kernels.direct.exact_rows`);
so are tiny arrays (``n <= 64``) on those grids up to ``n max(T) = 2**29`` (its bucketed window
sweeps at most ``2**19`` breakpoints at a time: memory O(n)).

Outside ``[s_lo, s_hi]`` nothing is lost: for ``s <= s_lo = min_side
min|x|/(T + 1/2)`` every point is clipped and ``MSE`` is strictly decreasing;
for ``s >= 2 max|x|`` every point rounds to 0 and ``MSE = mean x**2``.

Input conventions (see ``docs/empirical.md``): any float dtype (float16 and
longdouble are converted to float64), integer arrays are accepted and converted
to float64 (exact for ``|x| <= 2**53``), booleans, complex, object arrays,
NaN/inf and empty arrays are rejected.  When ``MSE(s)`` does not depend on
``s`` (all-zero data, or no data on a side of the grid with a non-zero level,
e.g. all-negative data on an unsigned grid) every ``s > 0`` is optimal; the
result then has ``scale = 1.0`` by convention, ``scale_error = inf`` and says so
in ``method``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .._validate import check_scales
from ..formats.grid import Grid, as_grid
from ..formats.regularizers import Regularizer, get_regularizer
from ..laws.atoms import DataStats, as_data_array, iter_chunks, scan as _scan_laws
from .results import OptimalScale

from .data_search import BLOCK, EPS, _bb_exact

DIRECT_LIMIT = 1 << 16  # per channel: n * max(T) (breakpoints, 56 bytes each, one channel at a time)
DIRECT_ONE_FACTOR = 16  # one array: up to 16 DIRECT_LIMIT breakpoints (~60 MB), faster than the histogram path
# one array on grids with tops above 255 (9+ bits): up to this many breakpoints n * max(T) the rows
# kernel (narrowed bracket + bucketed window) replaces the histogram search, which degrades there
# (40 values at 16 bits: 2.9 s in ~900 clusters -> 0.06-0.09 s; peak RSS growth <= ~50 MB)
DIRECT_HIGH_NT = 1 << 22
# tiny arrays on 9+ bit grids (n <= DIRECT_SMALL_N): up to DIRECT_SMALL_NT breakpoints the rows
# kernel too (its bucketed window sweeps at most BUCKET_RUN_MAX breakpoints at a time: memory
# O(n), ~30 MB); the histogram search degrades there (5 values at 21 bits: > 150 s in ~1200
# clusters and O(T) interval bounds; 2 values at 24 bits: > 900 s) -> 0.2-6 s (2026-12-01)
DIRECT_SMALL_N = 64
DIRECT_SMALL_NT = 1 << 29
DEGENERATE_SCALE = 1.0
TINY_DATA = 2.0**-490
S_FLOOR = 2.0**-1000


def scan(arr: np.ndarray, name: str = "data") -> DataStats:
    """:func:`quanttheory.laws.atoms.scan` (same statistics, checks and messages), float32 chunks
    through the branchless :func:`quanttheory.risk._kernels.data.scan_stats` (2-3x faster there)."""
    if arr.dtype != np.float32 or not arr.dtype.isnative:
        return _scan_laws(arr, name)
    from ._kernels.data import scan_stats

    st = np.array([0.0, 0.0, np.inf, np.inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    pos = 0
    for c in iter_chunks(arr):
        bad = scan_stats(c, st)
        if bad == -2:
            raise ValueError(f"{name} has values too large to square in float64 (|x| > 1e154); rescale the data")
        if bad >= 0:
            raise ValueError(
                f"{name} contains a non-finite value ({c[bad]} at position {pos + bad} in memory order); "
                "remove or replace NaN/inf before computing a scale")
        pos += c.size
    return DataStats(int(st[4] + st[5]), float(st[0]), float(st[1]), float(st[2]), float(st[3]),
                     int(st[4]), int(st[5]), float(st[6]), float(st[7]))


# --------------------------------------------------------------------------- exact MSE evaluation
def _tops(grid: Grid) -> tuple[int, int]:
    """Grid tops per side: ``Tp = r_t`` for x >= 0, ``Tn = -r_b`` for x < 0 (0 if unsigned)."""
    return int(grid.r_t), int(-grid.r_b)


def mse_sums(arr: np.ndarray, scales: np.ndarray, grid: Grid) -> np.ndarray:
    """``sum_i (x_i - Q(x_i; s))**2`` for every scale (one data pass per chunk, exact)."""
    from ._kernels import data as K

    Tp, Tn = _tops(grid)
    ss = np.ascontiguousarray(scales, dtype=np.float64).ravel()
    out = np.zeros(ss.size)
    for c in iter_chunks(arr):
        K.msqe_sums(c, ss, Tp, Tn, out)
    return out


def empirical_mse(data, scale, grid) -> np.ndarray | float:
    """Exact empirical ``MSE(s) = mean (x - Q_U(x; s))**2`` (data units squared), any shape of ``scale``."""
    grid = as_grid(grid)
    arr = as_data_array(data)
    st = scan(arr)
    s = check_scales(scale)
    vals = mse_sums(arr, s, grid) / st.n
    return float(vals[0]) if np.ndim(scale) == 0 else vals.reshape(np.shape(scale))


def check_not_tiny(amax: float, name: str = "data", what: str = "magnitudes") -> None:
    """Raise ValueError when ``amax < TINY_DATA`` (2**-490 ~ 3.13e-148): squared errors of such values
    underflow in float64 (``TINY_DATA**2 ~ 1e-295`` is the smallest square kept with full relative
    accuracy), so no search on them can be trusted.  Shared by every exact data optimizer (``amax`` is
    the largest magnitude the search squares: ``max |x|``, or ``max |x - mean|`` for the real-offset form)."""
    if amax < TINY_DATA:
        who = "the data's" if name == "data" else f"{name}:"
        raise ValueError(f"{who} {what} are all below {TINY_DATA:.3g}: squared errors underflow in "
                         "float64; rescale the data by a power of 2 (the optimal scale scales with it)")


def _bracket(st: DataStats, Tp: int, Tn: int, name: str = "data") -> tuple[float, float] | None:
    """``[s_lo, s_hi]`` containing every global minimizer, or None if MSE is constant in s."""
    lo = math.inf
    hi = 0.0
    if Tp > 0 and st.max_pos > 0:
        lo = min(lo, st.min_pos / (Tp + 0.5))
        hi = max(hi, st.max_pos)
    if Tn > 0 and st.max_neg > 0:
        lo = min(lo, st.min_neg / (Tn + 0.5))
        hi = max(hi, st.max_neg)
    if hi == 0.0:
        return None
    check_not_tiny(hi, name)
    # below S_FLOOR only points with |x| < (T + 1/2) S_FLOOR ~ 1e-298 are not clipped; their squared
    # errors (< 1e-596) underflow to 0 in float64, so MSE is non-increasing there as well
    return max(lo, S_FLOOR), 2.0 * hi


def _flat_side(st: DataStats, Tp: int, Tn: int) -> str | None:
    """Why ``MSE(s)`` is flat in ``s`` to float64 rounding although a side with levels holds
    non-zero data (audit F3), or None.  The values on the sides with levels (``T > 0``) are all
    below ``TINY_DATA`` while a side without levels (``T = 0``: x < 0 on an unsigned grid, x > 0 on
    the signed 1-bit grid, whose top level is 0) holds a value ``w`` with ``w**2 eps >= 4 n hi**2``:
    those values change ``n MSE(s) >= w**2`` by at most ``n hi**2`` (their squared errors are at most
    ``v**2``), below the rounding of the sum.  Rescaling keeps the ratios, so it cannot help;
    ``check_not_tiny`` (rescale advice) is for data that are tiny on every side."""
    hi = max(st.max_pos if Tp > 0 else 0.0, st.max_neg if Tn > 0 else 0.0)
    w = max(st.max_pos if Tp == 0 else 0.0, st.max_neg if Tn == 0 else 0.0)
    if not 0.0 < hi < TINY_DATA or w <= 2.0 * hi * math.sqrt(st.n / EPS):
        return None
    side = "x > 0" if Tp == 0 else "x < 0"
    return (f"all of the data's mass is where the grid has no non-zero level ({side}: max |x| = {w:.3g}), "
            f"and the values on the side with levels (|x| <= {hi:.3g}) are too small to change the MSE "
            "(their squared errors are below the float64 rounding of the rest), so MSE(s) is flat in s to "
            "rounding; rescaling cannot change this (it keeps the ratios): use a grid with levels on that side "
            "(a signed grid with a positive top, or negate the data)")


FUSED_MIN = 1 << 16  # from this size the validation scan is fused into the histogram pass
FINAL_RTOL = 1e-9  # from FUSED_MIN values the best piece's value is the returned MSE when its rounding
# bound is below this (relative; in practice its error is ~1e-15, tested against mse_sums at 1e-13)


def _direct_one(n: int, Tm: int) -> bool:
    """True when one array of ``n`` values (largest grid top ``Tm``) takes the exact enumeration of
    the rows kernel: ``n Tm <= DIRECT_ONE_FACTOR * DIRECT_LIMIT``, or ``Tm > 255`` (9+ bits) and
    ``n Tm <= DIRECT_HIGH_NT`` or ``n <= DIRECT_SMALL_N`` and ``n Tm <= DIRECT_SMALL_NT`` (not when ``DIRECT_ONE_FACTOR * DIRECT_LIMIT`` is 0: the tests'
    switch that sends every array to the histogram search)."""
    lim = DIRECT_ONE_FACTOR * DIRECT_LIMIT
    return n * Tm <= lim or (lim > 0 and Tm > 255 and (
        n * Tm <= DIRECT_HIGH_NT or (n <= DIRECT_SMALL_N and n * Tm <= DIRECT_SMALL_NT)))


def _optimal_msqe(arr: np.ndarray, grid: Grid, st: DataStats | None = None, name: str = "data",
                  hist=None) -> OptimalScale:
    # ``hist``: a ``data_search._Hist`` of ``arr`` with this grid's layout (reused, e.g. by
    # ``affine.data._solve_one`` for every zero-point: one histogram pass and one copy in memory)
    t0 = time.perf_counter()
    Tp, Tn = _tops(grid)
    fused = False
    if st is None:
        Tm = max(Tp, Tn)
        nn = arr.size
        if (nn >= FUSED_MIN and not _direct_one(nn, Tm)
                and not (Tm >= WINDOW_T and nn * Tm > WINDOW_NT)):
            from .data_search import _Hist, _hist_bits

            got = _Hist.fused(arr, _hist_bits(Tp, Tn))
            if got is not None:
                (hist, st), fused = got, True
                if max(st.max_pos, st.max_neg) <= 2 * TINY_DATA:
                    st = scan(arr, name)  # the fused extrema are bin edges: exact ones for the tiny-data check
        if st is None:
            st = scan(arr, name)
    n = st.n
    cf = math.pi**2
    flat = _flat_side(st, Tp, Tn)
    br = None if flat else _bracket(st, Tp, Tn)
    if br is None and fused:
        st = scan(arr, name)  # the exact blocked sum of squares for the degenerate result
    if br is None:
        risk = cf * st.sum_sq / n
        if flat:
            # the MSE at s = 1 (every value on the sides with levels is below 1/2: rounds to 0, error
            # v**2): sum_sq / n; the minimum is within n hi**2 <= eps w**2 / 4 of it, below the blocked
            # sum's rounding, which the lower bound subtracts
            lb = risk * (1 - 4 * EPS * (BLOCK + n / BLOCK + 16) - EPS)
            return OptimalScale(DEGENERATE_SCALE, risk, "msqe", grid,
                                f"degenerate: MSE(s) is flat in s to float64 rounding ({flat}); scale=1.0 by "
                                "convention", math.inf, lb,
                                extra={"mse": st.sum_sq / n, "n": n, "degenerate": True, "flat_to_rounding": True})
        why = "all-zero data" if st.sum_sq == 0 else "no non-zero data on a side of the grid with non-zero levels"
        return OptimalScale(DEGENERATE_SCALE, risk, "msqe", grid,
                            f"degenerate: MSE(s) is the same for every s > 0 ({why}); scale=1.0 by convention",
                            math.inf, risk, extra={"mse": st.sum_sq / n, "n": n, "degenerate": True})
    s_lo, s_hi = br

    info = {"n": n, "bracket": (s_lo, s_hi)}
    if _direct_one(n, max(Tp, Tn)):
        from ._kernels.direct import exact_rows

        row = np.concatenate([c.astype(np.float64) for c in iter_chunks(arr)]).reshape(1, -1)
        out = np.zeros((1, 6))
        exact_rows(row, Tp, Tn, out)
        _refine_direct(row[0], out[0], grid)
        return _direct_result(out[0], n, grid, info, t0)
    elif max(Tp, Tn) >= WINDOW_T and n * max(Tp, Tn) > WINDOW_NT:
        return _optimal_windowed(arr, grid, st, s_lo, s_hi, info, t0)
    else:
        ps, pv, pt, info2 = _bb_exact(arr, st, Tp, Tn, s_lo, s_hi, hist)
        info2["fused_scan"] = fused
        info2["data_passes"] -= hist is not None  # validation fused into / histogram pass saved by `hist`
        info.update(info2)
        method = ("exact: histogram branch-and-bound + s-histogram bounds + exact sweep of the remaining "
                  "breakpoints (global, certified)")
    # pieces that may hold the minimum (value within rounding of the best), re-evaluated exactly
    lo_all = pv - pt
    thr = float(np.min(pv + pt))
    cand = np.flatnonzero(lo_all <= thr)
    cand = cand[np.argsort(pv[cand])]
    i0 = int(cand[0])
    if n >= FUSED_MIN and pt[i0] <= FINAL_RTOL * pv[i0]:
        # the piece's value is n MSE(s*) from the exact per-point sums of the s-histogram pass
        # (the same blocked sums as mse_sums, centred at the cluster's middle), rounding bounded
        # by pt: no separate pass for the exact MSE at the chosen scale
        F, s_star = float(pv[i0]) + info2["const"], float(ps[i0])
        info["data_passes"] -= 1
        info["final_from_pieces"] = True
    else:
        F, s_star = float(mse_sums(arr, ps[i0:i0 + 1], grid)[0]), float(ps[i0])
    rt_eval = 4 * EPS * (BLOCK + n / BLOCK + 16)
    # the pieces leave out the constant sum over sides with T = 0 (blocked sum, same rounding as F)
    const = info2["const"] * (1 - rt_eval)
    cert = max(0.0, min(F * (1 - rt_eval), const + float(np.min(lo_all))))
    ties = ps[cand]
    scale_err = max(float(np.max(np.abs(ties - s_star))), 4 * EPS * s_star)
    mse = F / n
    info.update(mse=mse, seconds=time.perf_counter() - t0)
    return OptimalScale(s_star, cf * mse, "msqe", grid, method, scale_err, cf * cert / n, extra=info)


DIRECT_METHOD = "exact: every breakpoint enumerated and each quadratic piece minimized (global)"
DIRECT_WINDOW_METHOD = ("exact: histogram lower bounds on s-intervals exclude all but a window, every "
                        "breakpoint in it enumerated and each quadratic piece minimized (global)")

# the histogram search degrades when the grid step is finer than its bins (14 bits, n = 1e5: 39 s and
# 250 MB; 15 bits: 185 s and 2.4 GB): from these grid tops and sizes the windowed search replaces it
WINDOW_T = 1 << 13
WINDOW_NT = 1 << 26
WINDOW_BREAKPOINTS = 1 << 20  # breakpoints enumerated exactly by the windowed search (~60 MB)
WINDOW_SCAN = 65  # scales per zoom step of the windowed search
WINDOW_DENSE = 2049  # scales of its second (dense) step


def _flat(arr):
    """``arr`` as one 1-D float32/float64 array (no copy for contiguous float input)."""
    if arr.dtype in (np.float32, np.float64) and arr.dtype.isnative and arr.flags.c_contiguous:
        return arr.reshape(-1)
    return np.concatenate([c for c in iter_chunks(arr)])


def _optimal_windowed(arr, grid, st, s_lo, s_hi, info, t0):
    """High bit widths (``max T >= WINDOW_T``) with ``n T`` beyond the direct enumeration.

    The exact global search needs the ``~ n T`` breakpoints of ``MSE`` (the histogram bounds are
    blind once the grid step is finer than a histogram bin), so it is not attempted: a log-scale
    zoom (``WINDOW_SCAN`` exact MSE evaluations per step, ``WINDOW_DENSE`` in the second step) around the best
    scale in ``[s_c/4, 2 s_c]`` (``s_c``: the smallest scale clipping no point) picks a window
    ``[A, B]`` holding at most ``WINDOW_BREAKPOINTS`` breakpoints, where the minimum is exact
    (every breakpoint enumerated).  Outside the window only rigorous but weak bounds hold: for
    ``s <= A`` the clipping error ``sum_{v >= T A} (v - T A)^2``, for ``s >= B`` the points
    rounding to 0, ``sum_{v < B/2} v^2``; ``risk_lower_bound`` is their minimum with the
    window's bound, ``scale_error`` the distance to the bracket's ends when that bound is below
    the risk.  Memory: O(n) for the data view plus ``WINDOW_BREAKPOINTS`` * 56 bytes.
    """
    from ._kernels.direct import count_breakpoints, exact_window

    Tp, Tn = _tops(grid)
    n = st.n
    cf = math.pi**2
    x = _flat(arr)
    s_c = max(st.max_pos / (Tp + 0.5) if Tp > 0 else 0.0, st.max_neg / (Tn + 0.5) if Tn > 0 else 0.0)
    lo, hi = max(s_lo, s_c / 4), min(s_hi, 2 * s_c)
    if not lo < hi:
        lo, hi = s_lo, s_hi
    evals = 0
    # zoom until the window holds few enough breakpoints; the second step is a dense scan (the MSE
    # is rugged at the scale of the grid step: a sparse zoom picks a basin of the noise)
    for it in range(40):
        m = WINDOW_DENSE if it == 1 else WINDOW_SCAN
        ss = lo * (hi / lo) ** (np.arange(m) / (m - 1))
        vals = mse_sums(arr, ss, grid)
        evals += ss.size
        i = int(np.argmin(vals))
        lo, hi = float(ss[max(i - 1, 0)]), float(ss[min(i + 1, ss.size - 1)])
        if count_breakpoints(x, Tp, Tn, lo, hi) <= WINDOW_BREAKPOINTS:
            break
    A, B = lo, hi
    cap = int(count_breakpoints(x, Tp, Tn, A, B))
    out = np.zeros(8)
    exact_window(x, Tp, Tn, A, B, cap, out)
    s_star, F, cert_w, err_w, nev = (float(v) for v in out[:5])
    rt = 2 * EPS * (n + 16)
    outside = min(out[6], out[7]) * (1 - rt)
    cert = max(0.0, min(cert_w, outside))
    err = err_w if outside >= F else max(err_w, s_star - s_lo, s_hi - s_star)
    mse = F / n
    info.update(window=(A, B), breakpoints=int(nev), scale_evaluations=evals, mse=mse,
                seconds=time.perf_counter() - t0, certified_outside_window=bool(outside >= F))
    method = (f"windowed (high bit width, max T = {max(Tp, Tn)}, n = {n}): exact over [{A:.6g}, {B:.6g}] "
              f"({int(nev)} breakpoints enumerated) around the best of {evals} exact MSE evaluations; "
              + ("global (the clipping/zero bounds exclude the rest)" if outside >= F else
                 "NOT certified globally: outside the window only the weak clipping/zero bounds hold "
                 "(the exact global search needs ~n*T breakpoints)"))
    return OptimalScale(s_star, cf * mse, "msqe", grid, method, err, cf * cert / n, extra=info)


REFINE_COND = 1e6  # ill-conditioning above which the rows kernel's value is recomputed directly


def _refine_direct(x, row, grid):
    """Recompute ``row[1] = F(s*)`` of an ``exact_rows`` output row by one direct pass over ``x``
    (:func:`mse_sums`: residuals ``v - k s`` with one rounding, blocked sums) when the sweep's value
    is ill-conditioned: the sweep sums ``(v - k s0)^2`` centred quadratics whose product roundings
    cost ``~ eps sqrt(cond)`` relative, ``cond = n (s* T)^2 / F`` (1.9e-13 at 16 bits with n = 50,
    1e-7 on data within 1e-9 of a lattice).  Below ``REFINE_COND`` (e.g. normal data up to ~10 bits)
    the kernel's value is kept (its error is below ~1e-14 there).  The certificate ``row[2]`` is
    kept below the value."""
    F = float(row[1])
    # the test n (s* T)^2 <= REFINE_COND F, in a form that cannot overflow (audit finding 14b: s* T
    # ~ 2^511, valid data below scan's 1e154 bound, overflowed the square: OverflowError)
    if F > 0 and float(row[0]) * max(_tops(grid)) <= math.sqrt(REFINE_COND * (F / x.size)):
        return  # well conditioned (a zero F is always checked directly)
    F = float(mse_sums(x, np.asarray(row[:1], dtype=np.float64), grid)[0])
    row[1] = F
    row[2] = min(row[2], F)


def _direct_result(row, n, grid, info, t0=None, windowed=None):
    """OptimalScale from one row of :func:`quanttheory.risk._kernels.direct.exact_rows` (``windowed``:
    whether the row took the windowed kernel, computed here when None)."""
    cf = math.pi**2
    s_star, F, cert, err, nev = (float(v) for v in row[:5])
    mse = F / n
    if windowed is None:
        from ._kernels.direct import ROW_MIN_N, ROW_T_BIG

        windowed = max(_tops(grid)) <= ROW_T_BIG and n >= ROW_MIN_N
    method = DIRECT_METHOD
    if windowed:
        method = DIRECT_WINDOW_METHOD
    info = dict(info, breakpoints=int(nev), data_passes=4 if windowed else 3, mse=mse)
    if t0 is not None:
        info["seconds"] = time.perf_counter() - t0
    return OptimalScale(s_star, cf * mse, "msqe", grid, method, err, cf * cert / n, extra=info)


CONVERT_BLOCK = 1 << 20  # float32 values converted to float64 per call of the rows kernel (8 MB)


def _per_channel_direct(moved, grid):
    """Every channel of ``moved`` (channels first) in one kernel call when each is small
    (``n * max(T) <= DIRECT_LIMIT``, or grid tops up to ``ROW_T_BIG`` (2-8 bits) and rows of up to
    ``ROWS_MAX_N`` values); None when this does not apply.  float64 data are read as they are,
    float32 data converted to float64 ``CONVERT_BLOCK`` values at a time (exact).  Returns the
    stacked fields of :func:`optimal_scale_data` (``scale, risk, scale_error, risk_lower_bound,
    msqe_excess, msqe_scale, mse`` arrays or None, ``methods`` the sorted method strings)."""
    from ._kernels.direct import ROW_MIN_N, ROW_T_BIG, ROWS_MAX_N, exact_rows_checked, rows_ok

    Tp, Tn = _tops(grid)
    Tm = max(Tp, Tn)
    rows = moved.shape[0]
    n = moved[0].size
    if n * Tm > DIRECT_LIMIT and not (DIRECT_LIMIT > 0 and Tm <= ROW_T_BIG and n <= ROWS_MAX_N):
        return None
    X = moved.reshape(rows, n)
    if X.dtype not in (np.float32, np.float64) or not X.dtype.isnative:
        X = X.astype(np.float64)
    # validation: finite and |x| <= ROW_BIG (2^500; stricter than scan's bound, so every row's sums
    # of squares are finite); otherwise the per-channel loop (it validates each channel and names an
    # offending one).  The windowed kernel checks each row in its extrema pass (status -2 from the
    # first offending row on: no separate pass); the short-row kernel needs rows_ok first (one
    # vectorized pass over the whole array)
    windowed = Tm <= ROW_T_BIG and n >= ROW_MIN_N
    if not windowed and not rows_ok(X):
        return None
    out = np.zeros((rows, 6))
    if X.dtype == np.float32:
        # float32 rows are converted to float64 a block of rows at a time (exact; every kernel
        # works in float64): the kernels' loops over float32 rows compile to slower code (the
        # extrema pass of the rows kernel: 65 us per row of 10,000 against 11 us in float64, whole
        # kernel 252 vs 163 us), and the conversion costs about one pass; memory O(CONVERT_BLOCK)
        step = max(1, CONVERT_BLOCK // n)
        buf = np.empty((min(step, rows), n))
        for i0 in range(0, rows, step):
            i1 = min(rows, i0 + step)
            b = buf[:i1 - i0]
            np.copyto(b, X[i0:i1])
            exact_rows_checked(b, Tp, Tn, out[i0:i1])
            if windowed and out[i1 - 1, 5] == -2:
                return None
    else:
        exact_rows_checked(np.ascontiguousarray(X), Tp, Tn, out)
        if windowed and out[-1, 5] == -2:
            return None
    # the per-channel fields as arrays (the same floating-point operations as _direct_result, per
    # row: no OptimalScale per channel; ~6 us per row, 1.3 NumPy passes at 1000 x 10,000, before)
    method = DIRECT_WINDOW_METHOD if windowed else DIRECT_METHOD
    status = out[:, 5]
    # _refine_direct's test, vectorized: rows whose value is recomputed by a direct pass
    well = (out[:, 1] > 0) & (n * (out[:, 0] * max(Tp, Tn)) ** 2 <= REFINE_COND * out[:, 1])
    for i in np.flatnonzero((status == 0) & ~well):
        _refine_direct(moved[i].reshape(-1), out[i], grid)  # as the single-array path
    cf = math.pi**2
    mse = out[:, 1] / n
    f = {"scale": out[:, 0].copy(), "risk": cf * mse, "scale_error": out[:, 3].copy(),
         "risk_lower_bound": cf * out[:, 2] / n, "msqe_excess": None, "msqe_scale": None, "mse": mse}
    methods = {method}
    bad = np.flatnonzero(status != 0)
    if bad.size:
        methods = set() if bad.size == rows else methods
        for k in ("msqe_excess", "msqe_scale"):
            f[k] = np.full(rows, np.nan)
        any_ex = [False, False]
        for i in bad:  # degenerate or too small: the one-channel path says so
            r = _optimal_one(moved[i], grid, get_regularizer("msqe"), name=f"channel {i}")
            methods.add(r.method)
            for k in ("scale", "risk", "scale_error", "risk_lower_bound"):
                v = getattr(r, k)
                f[k][i] = np.nan if v is None else v
            for j, k in enumerate(("msqe_excess", "msqe_scale")):
                v = getattr(r, k)
                if v is not None:
                    f[k][i] = v
                    any_ex[j] = True
            f["mse"][i] = r.extra.get("mse", np.nan)
        for j, k in enumerate(("msqe_excess", "msqe_scale")):
            if not any_ex[j]:
                f[k] = None
    f["methods"] = sorted(methods)
    return f


# --------------------------------------------------------------------------- other regularizers
def reg_sums(arr: np.ndarray, scales: np.ndarray, grid: Grid, reg: Regularizer) -> np.ndarray:
    """``sum_i s**2 phi(x_i / s)`` per scale (data units squared, no curve factor; exact sums, one pass)."""
    from ._kernels import data as K

    ss = np.ascontiguousarray(scales, dtype=np.float64).ravel()
    if reg.code == 0:
        return mse_sums(arr, ss, grid)
    out = np.zeros(ss.size)
    if reg.code in (1, 2):
        for c in iter_chunks(arr):
            K.builtin_sums(c, ss, reg.code, grid.r_b, grid.r_t, out)
        return out
    for c in iter_chunks(arr, 1 << 18):
        c64 = c.astype(np.float64, copy=False)
        for j, s in enumerate(ss):
            out[j] += s * s * float(np.sum(reg.evaluate(c64 / s, grid.r_b, grid.r_t)))
    return out


def _optimal_general(arr: np.ndarray, grid: Grid, reg: Regularizer, nscan: int = 256,
                     st: DataStats | None = None) -> OptimalScale:
    from scipy.optimize import minimize_scalar

    if reg.periodic_tails:
        raise ValueError(f"regularizer {reg.name!r} keeps oscillating outside the grid: s**2 phi(x/s) <= s**2 -> 0 "
                         "as s -> 0, so its infimum is at s -> 0 and there is no optimal scale; use 'msqe' or 'qsin'")
    st = scan(arr) if st is None else st
    Tp, Tn = _tops(grid)
    n = st.n
    br = None if _flat_side(st, Tp, Tn) else _bracket(st, Tp, Tn)
    msq = _optimal_msqe(arr, grid, st)
    if br is None:
        r = float(reg_sums(arr, np.array([DEGENERATE_SCALE]), grid, reg)[0]) / n * reg.curve_factor
        return OptimalScale(DEGENERATE_SCALE, r, reg.name, grid,
                            "degenerate data (see msqe): scale=1.0 by convention, not optimized",
                            math.inf, math.nan, 0.0, DEGENERATE_SCALE, extra={"n": n, "degenerate": True})
    s_lo, s_hi = br
    builtin = reg.code == 1
    if not builtin:  # no monotonicity argument outside the bracket: widen it
        s_lo, s_hi = s_lo / 4, s_hi * 4
    if builtin:
        return _optimal_qsin(arr, grid, reg, st, s_lo, s_hi, msq, nscan)
    grid_s = s_lo * (s_hi / s_lo) ** (np.arange(nscan) / (nscan - 1))
    vals = reg_sums(arr, grid_s, grid, reg)
    i = int(np.argmin(vals))
    a, b = grid_s[max(i - 1, 0)], grid_s[min(i + 1, nscan - 1)]
    f = lambda s: float(reg_sums(arr, np.array([s]), grid, reg)[0])  # noqa: E731
    res = minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": 1e-10 * b})
    s_star, F = (float(res.x), float(res.fun)) if res.fun <= vals[i] else (float(grid_s[i]), float(vals[i]))
    cf = reg.curve_factor
    lower = math.nan
    if builtin:
        # Lipschitz certificate for QSin: |d/ds s^2 phi(v/s)| <= 2 s + max(pi, 2 pi^2 T) |x| on [a, b]
        absmean = float(np.sum([np.abs(c.astype(np.float64)).sum() for c in iter_chunks(arr)])) / n
        L = 2 * grid_s[1:] + max(math.pi, 2 * math.pi**2 * max(Tp, Tn)) * absmean
        lbs = 0.5 * (vals[:-1] + vals[1:]) / n - 0.5 * L * np.diff(grid_s)
        lower = max(0.0, float(min(lbs.min(), F / n))) * cf
    mse_at = float(mse_sums(arr, np.array([s_star]), grid)[0]) / n
    excess = mse_at / msq.extra["mse"] - 1.0 if msq.extra["mse"] > 0 else 0.0
    method = (f"scan of {nscan} log-spaced scales + bounded refinement; "
              + ("global over [s_lo, s_hi] only up to the scan resolution; Lipschitz lower bound (weak)"
                 if builtin else "NOT certified (user regularizer: no bracket or Lipschitz argument)"))
    return OptimalScale(s_star, cf * F / n, reg.name, grid, method, float(b - a), lower,
                        excess, msq.scale, extra={"n": n, "scan": nscan, "mse": mse_at})


QSIN_RTOL = 1e-6  # relative certificate gap at which the QSin branch and bound stops
QSIN_BUDGET = 1 << 27  # point-scale evaluations (n * scales) after which it stops with the gap reached


def _qsin_eval(arr, ss, grid):
    from ._kernels import data as K

    f, g, af, ag = (np.zeros(ss.size) for _ in range(4))
    for c in iter_chunks(arr):
        K.qsin_val_grad(c, ss, float(grid.r_b), float(grid.r_t), f, g, af, ag)
    return f, g, af, ag


def _optimal_qsin(arr, grid, reg, st, s_lo, s_hi, msq, nscan):
    """Certified global minimum of ``F(s) = sum_i s**2 phi(x_i/s)`` (built-in QSin) on ``[s_lo, s_hi]``.

    Branch and bound on s-intervals ``[a, b]`` (midpoint ``m``, half width ``h``): ``F`` is C^1 and
    ``|F''| <= M(a) = 2 n + 2 pi S1 / a + 2 pi**2 S2 / a**2`` on ``[a, b]`` (per point ``|h''| <= 2 +
    2 theta + 2 theta**2``, ``theta = pi |x| / s``, inside the grid; ``2 pi**2 c**2 <= 2 theta**2``
    when clipped; ``S1 = sum |x| <= sqrt(n S2)``, ``S2 = sum x**2``), so
    ``F >= F(m) - |F'(m)| h - M(a) h**2 / 2`` on it, minus the bounded rounding of ``F(m)`` and
    ``F'(m)`` (one exact data pass per level for all midpoints).  Intervals whose bound exceeds the
    best value are dropped, the others halved, until the gap between the best value and the
    smallest bound is below ``QSIN_RTOL`` relative (or the budget ``QSIN_BUDGET`` is spent: the
    certificate then says how far it got).  Outside ``[s_lo, s_hi]`` ``F`` is monotone
    (everything clipped below ``s_lo``; above ``2 max|x|`` every ``|x/s| < 1/2`` and
    ``d/ds s**2 sin(pi x/s)**2 = 2 s sin(t) (sin(t) - t cos(t)) >= 0``).
    """
    n = st.n
    cf = reg.curve_factor
    S2 = st.sum_sq
    S1 = math.sqrt(n * S2)
    rt = 8 * EPS * (BLOCK + n / BLOCK + 16)
    e = s_lo * (s_hi / s_lo) ** (np.arange(nscan + 1) / nscan)
    e[0], e[-1] = s_lo, s_hi
    a, b = e[:-1].copy(), e[1:].copy()
    best_f, best_s = math.inf, s_lo
    floor = 0.0
    span_lo, span_hi = math.inf, -math.inf  # hull of the resolved intervals (where s* may be)
    done_lb = math.inf  # smallest bound of intervals resolved to QSIN_RTOL (not split further)
    evals = 0
    levels = 0
    while a.size:
        levels += 1
        m = 0.5 * (a + b)
        h = 0.5 * (b - a)
        f, g, af, ag = _qsin_eval(arr, m, grid)
        evals += m.size
        i = int(np.argmin(f))
        if f[i] < best_f:
            best_f, best_s, best_h = float(f[i]), float(m[i]), float(h[i])
        M = 2 * n + 2 * math.pi * S1 / a + 2 * math.pi**2 * S2 / (a * a)
        lb = f - rt * af - (np.abs(g) + rt * ag) * h - 0.5 * M * h * h
        ub_best = best_f * (1 + rt) + rt * float(af[i])
        keep = lb <= ub_best
        a, b, lb = a[keep], b[keep], lb[keep]
        # resolved: within QSIN_RTOL of the best, or of the rounding level of F (data with an
        # exact zero-error scale, e.g. a lattice, have F* ~ 0 and no relative certificate)
        floor = 64 * rt * float(af[i]) if f[i] <= best_f else floor
        fine = lb >= best_f * (1 - QSIN_RTOL) - floor
        if fine.any():
            done_lb = min(done_lb, float(lb[fine].min()))
            span_lo, span_hi = min(span_lo, float(a[fine].min())), max(span_hi, float(b[fine].max()))
        a, b, lb = a[~fine], b[~fine], lb[~fine]
        if evals * n > QSIN_BUDGET or levels >= 200:
            break
        mid = 0.5 * (a + b)
        a, b = np.concatenate((a, mid)), np.concatenate((mid, b))
    open_lb = float(lb.min()) if lb.size else math.inf
    # polish inside the best interval (a local minimizer of exact values; the bound is unchanged)
    from scipy.optimize import minimize_scalar

    lo_p, hi_p = max(s_lo, best_s - best_h), min(s_hi, best_s + best_h)
    res = minimize_scalar(lambda t: float(_qsin_eval(arr, np.array([t]), grid)[0][0]), bounds=(lo_p, hi_p),
                          method="bounded", options={"xatol": 1e-12 * hi_p})
    if res.fun < best_f:
        best_f, best_s = float(res.fun), float(res.x)
    lower = max(0.0, min(done_lb, open_lb, best_f)) * cf / n
    # the best scale's interval is resolved: distance to the farthest unresolved or resolved bound
    mse_at = float(mse_sums(arr, np.array([best_s]), grid)[0]) / n
    excess = mse_at / msq.extra["mse"] - 1.0 if msq.extra["mse"] > 0 else 0.0
    certified = not lb.size
    method = ("exact evaluation + branch and bound on s with |F''| bound (global over [s_lo, s_hi]; "
              + (f"certified to {QSIN_RTOL:g} relative or the rounding level)" if certified else
                 f"budget of {QSIN_BUDGET} point evaluations reached: certificate gap "
                 f"{(best_f - min(done_lb, open_lb)) / best_f:.2g})"))
    # every scale within the certified gap lies in a resolved or an unresolved interval
    if a.size:
        span_lo, span_hi = min(span_lo, float(a.min())), max(span_hi, float(b.max()))
    scale_err = max(best_s - span_lo, span_hi - best_s, 0.0) if span_hi >= span_lo else 0.0
    return OptimalScale(best_s, cf * best_f / n, reg.name, grid, method, scale_err, lower, excess, msq.scale,
                        extra={"n": n, "mse": mse_at, "levels": levels, "scale_evaluations": evals,
                               "data_passes": levels + 1})


# --------------------------------------------------------------------------- public API
def optimal_scale_data(data, grid, regularizer="msqe", axis=None) -> OptimalScale:
    """Global minimizer ``s*`` of the empirical risk ``R(s) = cf * s**2 * mean(phi(x / s))``.

    For MSQE (``cf = pi**2``) ``R(s) = pi**2 mean (x - Q_U(x; s))**2`` and the result is the
    exact global minimizer over ``s > 0`` (see module docstring), certified by a branch
    and bound lower bound; ``risk_lower_bound`` is ``R(s*)`` minus the bounded rounding
    error, ``extra['mse']`` the plain mean squared error (data units squared).

    Parameters
    ----------
    data : array-like of real numbers (NumPy array, memory-mapped ``.npy``, ``__array__``)
        or an :class:`~quanttheory.laws.Empirical` law (anything with ``__array__``)
    grid : Grid or int (bit width, signed)
    regularizer : "msqe" (exact), "qsin" (scan + refinement, Lipschitz bound), a
        :class:`~quanttheory.formats.regularizers.Regularizer` or callable (scan + refinement, not certified)
    axis : int or None
        Channel axis: one scale per index along ``axis`` (fields become arrays).
    """
    grid = as_grid(grid)
    reg = get_regularizer(regularizer)
    arr = as_data_array(data)
    if axis is None:
        return _optimal_one(arr, grid, reg)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int or None, got {type(axis).__name__}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis {axis} is out of range for data with {arr.ndim} dimension(s) (shape {arr.shape})")
    moved = np.moveaxis(arr, int(axis), 0)
    if moved.shape[0] == 0 or moved[0].size == 0:
        raise ValueError(f"data of shape {arr.shape} has empty channels along axis {axis}")
    f = _per_channel_direct(moved, grid) if reg.code == 0 else None
    if f is None:
        res = [_optimal_one(moved[i], grid, reg, name=f"channel {i}") for i in range(moved.shape[0])]

        def stack(field):
            vals = [getattr(r, field) for r in res]
            if all(v is None for v in vals):
                return None
            return np.array([np.nan if v is None else v for v in vals], dtype=float)

        f = {k: stack(k) for k in ("scale", "risk", "scale_error", "risk_lower_bound", "msqe_excess", "msqe_scale")}
        f["mse"] = np.array([r.extra.get("mse", np.nan) for r in res])
        f["methods"] = sorted({r.method for r in res})
    return OptimalScale(f["scale"], f["risk"], reg.name, grid,
                        f"per-channel along axis {axis}: " + " | ".join(f["methods"]),
                        f["scale_error"], f["risk_lower_bound"], f["msqe_excess"], f["msqe_scale"],
                        extra={"axis": int(axis), "channels": int(moved.shape[0]), "mse": f["mse"]})


def _optimal_one(arr, grid, reg, name="data", st=None):
    if reg.code == 0:
        return _optimal_msqe(arr, grid, st, name)
    return _optimal_general(arr, grid, reg, st=st)


def optimal_scale_atoms(groups, grid, regularizer="msqe", axis=None) -> OptimalScale:
    """The optimum of a purely atomic law given by its ``law.atoms()`` groups.

    One group of equally weighted atoms (the empirical law of a tensor): the
    exact optimum of :func:`optimal_scale_data`, reusing the group's one-pass
    statistics.  Several groups (unequal weights) are not supported yet.
    """
    if len(groups) != 1:
        raise ValueError(f"the exact data optimum needs one group of equally weighted atoms, got {len(groups)}; "
                         "atomic laws with unequal weights are not supported yet")
    (g,) = groups
    if axis is not None:
        return optimal_scale_data(g.values, grid, regularizer, axis=axis)
    return _optimal_one(g.values, as_grid(grid), get_regularizer(regularizer), st=g.stats)


