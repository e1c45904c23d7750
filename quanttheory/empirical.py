"""Empirical distributions and the exact optimal scale factor of real tensors.

For data ``x_1..x_n`` and a ``b``-bit grid ``[r_b, r_t]`` the empirical MSQE is

    MSE(s) = (1/n) sum_i (x_i - s clip(rint(x_i / s), r_b, r_t))**2      (data units**2)

and, in the paper's convention shared with :mod:`quanttheory.risk`, the risk
curve is ``R(s) = pi**2 MSE(s)`` (``curve_factor * s**2 * mean(phi(x/s))``).
``MSE`` is continuous and piecewise quadratic in ``s`` with up to
``n (2**(b-1))`` breakpoints ``s = |x_i| / (k + 1/2)``.
:func:`optimal_scale_data` returns its **global** minimizer with a certificate,
without evaluating ``MSE`` at every breakpoint:

1. one pass: validation (NaN/inf rejected), extrema, moments;
2. one pass: a floating-point histogram of ``|x|`` per sign (relative bin width
   ``2**-10``) with per-bin count, sum and sum of squares;
3. branch and bound over ``s``-intervals on the histogram: for ``s`` in
   ``[s1, s2]`` every grid point ``k s`` lies in ``k [s1, s2]``, so
   ``MSE(s) >= mean dist(|x|, {0} U k[s1, s2])**2`` (clipped side: distance to
   ``T s2``).  Bins inside one piece of that distance function are summed
   exactly from prefix sums, bins containing a breakpoint contribute
   ``count * min`` over the bin; rounding errors are bounded and subtracted.
   Upper bounds come from the histogram at fixed ``s``.  Intervals whose lower
   bound exceeds the best upper bound are discarded;
4. one pass per surviving cluster ``[A, B]``: points whose grid index is the
   same at ``A`` and ``B`` are summed into one quadratic in ``s`` (centred at
   ``s0 = (A+B)/2`` against cancellation); the few "straddlers" give the
   breakpoints, which are sorted and swept; on each piece the quadratic is
   minimized exactly.

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
from dataclasses import dataclass

import numpy as np

from .distributions import as_generator
from .grid import Grid, as_grid
from .regularizers import Regularizer, get_regularizer
from .results import OptimalScale
from ._validate import check_scales
BLOCK = 4096  # = quanttheory._kernels.empirical.BLOCK (not imported: importing the kernels loads numba)

CHUNK = 1 << 22
HIST_SUBBITS_MAX = 12
HIST_OCTAVES = 24
STOP_RTOL = None  # relative width where bisection stops; None: chosen from n
DIRECT_LIMIT = 1 << 16
MAX_INTERVALS = 1 << 11
STRADDLER_BUFFER = 1 << 16
EPS = 2.0**-52
DEGENERATE_SCALE = 1.0
TINY_DATA = 2.0**-490
S_FLOOR = 2.0**-1000


# --------------------------------------------------------------------------- data access
def _as_array(data, name: str = "data") -> np.ndarray:
    """Validate the dtype of ``data`` without copying ndarrays / memmaps."""
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers; to read a .npy file use np.load(path, mmap_mode='r')")
    arr = data if isinstance(data, np.ndarray) else np.asarray(data)
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} is complex; quantize the real and imaginary parts separately "
                        "(pass x.real / x.imag) or pass abs(x)")
    if kind == "b":
        raise TypeError(f"{name} is boolean; convert it explicitly (e.g. x.astype(float)) if you mean 0/1 values")
    if kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; the scale factor of no data is undefined")
    return arr


def _iter_chunks(arr: np.ndarray, chunk: int = CHUNK):
    """Yield 1-D contiguous float32/float64 pieces of ``arr`` (bounded memory)."""
    native = arr.dtype.isnative and arr.dtype in (np.float64, np.float32)
    if arr.flags.c_contiguous or arr.flags.f_contiguous:
        flat = arr.ravel(order="K")
        for i in range(0, flat.size, chunk):
            c = flat[i:i + chunk]
            yield c if native else c.astype(np.float64)
        return
    if arr.ndim == 1:
        for i in range(0, arr.size, chunk):
            c = np.ascontiguousarray(arr[i:i + chunk])
            yield c if native else c.astype(np.float64)
        return
    row = max(1, arr[0].size)
    step = max(1, chunk // row)
    for i in range(0, arr.shape[0], step):
        c = np.ascontiguousarray(arr[i:i + step]).reshape(-1)
        yield c if native else c.astype(np.float64)


@dataclass(frozen=True)
class DataStats:
    """One-pass summary of a tensor (side 0: ``x >= 0``, side 1: ``x < 0`` as ``|x|``)."""

    n: int
    max_pos: float
    max_neg: float
    min_pos: float  # smallest x > 0 (inf if none)
    min_neg: float  # smallest |x| with x < 0 (inf if none)
    n_pos: int  # x >= 0 (zeros included)
    n_neg: int
    sum_sq: float
    sum: float


def _scan(arr: np.ndarray, name: str = "data") -> DataStats:
    from ._kernels import empirical as K

    st = np.array([0.0, 0.0, np.inf, np.inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    pos = 0
    for c in _iter_chunks(arr):
        bad = K.scan_chunk(c, st)
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
    from ._kernels import empirical as K

    Tp, Tn = _tops(grid)
    ss = np.ascontiguousarray(scales, dtype=np.float64).ravel()
    out = np.zeros(ss.size)
    for c in _iter_chunks(arr):
        K.msqe_sums(c, ss, Tp, Tn, out)
    return out


def empirical_mse(data, scale, grid) -> np.ndarray | float:
    """Exact empirical ``MSE(s) = mean (x - Q_U(x; s))**2`` (data units squared), any shape of ``scale``."""
    grid = as_grid(grid)
    arr = _as_array(data)
    st = _scan(arr)
    s = check_scales(scale)
    vals = mse_sums(arr, s, grid) / st.n
    return float(vals[0]) if np.ndim(scale) == 0 else vals.reshape(np.shape(scale))


# --------------------------------------------------------------------------- histogram + branch and bound
class _Hist:
    def __init__(self, arr: np.ndarray, st: DataStats, bits: int):
        from ._kernels import empirical as K

        vmax = max(st.max_pos, st.max_neg)
        e_hi = math.frexp(vmax)[1]
        # finer bins than ~n/24 per octave only cost prefix-sum time
        m = min(HIST_SUBBITS_MAX, 6 + bits, max(8, int(math.log2(max(st.n, 2))) - 1))
        floor = -1021 if arr.dtype != np.float32 else -125
        e_lo = max(e_hi - HIST_OCTAVES, floor)
        nb = (e_hi - e_lo + 1) * (1 << m) + 1
        h = np.zeros(2 * nb * 3)
        for c in _iter_chunks(arr):
            if c.dtype == np.float32:
                K.hist_chunk32(c, (e_lo + 126) << m, m, nb, h)
            else:
                K.hist_chunk64(c, (e_lo + 1022) << m, m, nb, h)
        P0 = np.empty((nb + 1, 6))
        P1 = np.empty((nb + 1, 6))
        K.prefix_sums(h, nb, 0, P0)
        K.prefix_sums(h, nb, 1, P1)
        self.h, self.nb, self.e_lo, self.m, self.P0, self.P1 = h, nb, e_lo, m, P0, P1

    def interval_lb(self, s1, s2, Tp, Tn):
        from ._kernels import empirical as K

        out = np.empty(s1.size)
        K.interval_lower_bounds(s1, s2, self.h, self.nb, self.e_lo, self.m, self.P0, self.P1, Tp, Tn, out)
        return out

    def fixed(self, ss, Tp, Tn):
        from ._kernels import empirical as K

        lo = np.empty(ss.size)
        hi = np.empty(ss.size)
        K.fixed_bounds(ss, self.h, self.nb, self.e_lo, self.m, self.P0, self.P1, Tp, Tn, lo, hi)
        return lo, hi


def _bracket(st: DataStats, Tp: int, Tn: int) -> tuple[float, float] | None:
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
    if hi < TINY_DATA:
        raise ValueError(f"the data's magnitudes are all below {TINY_DATA:.3g}: squared errors underflow in "
                         "float64; rescale the data by a power of 2 (the optimal scale scales with it)")
    # below S_FLOOR only points with |x| < (T + 1/2) S_FLOOR ~ 1e-298 are not clipped; their squared
    # errors (< 1e-596) underflow to 0 in float64, so MSE is non-increasing there as well
    return max(lo, S_FLOOR), 2.0 * hi


def _qmin(E2, KE, K2, tlo, thi):
    """Minimum over ``t in [tlo, thi]`` of ``E2 - 2 t KE + t**2 K2`` (``K2 >= 0``), vectorized."""
    E2, KE, K2, tlo, thi = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (E2, KE, K2, tlo, thi)))
    with np.errstate(divide="ignore", invalid="ignore"):
        tc = np.where(K2 > 0, KE / np.where(K2 > 0, K2, 1.0), tlo)
    tc = np.clip(tc, tlo, thi)
    best_t = tlo.copy()
    best = E2 - 2 * tlo * KE + tlo * tlo * K2
    for t in (thi, tc):
        val = E2 - 2 * t * KE + t * t * K2
        better = val < best
        best = np.where(better, val, best)
        best_t = np.where(better, t, best_t)
    return best, best_t


def _events(v, T, A, B):
    """Breakpoints in ``[A, B]`` of points ``v`` (top ``T``): index ``k+1 -> k`` at ``beta = v/(k+1/2)``.

    Grid indices at the ends use ``rint(v * (1/A))`` exactly as the kernels do (at an exact
    tie both neighbours have the same error, so either choice is correct, but all passes
    must agree).
    """
    kA = np.minimum(np.rint(v * (1.0 / A)), T)
    kB = np.minimum(np.rint(v * (1.0 / B)), T)
    nev = (kA - kB).astype(np.int64)
    idx = np.repeat(np.arange(v.size), nev)
    first = np.repeat(np.cumsum(nev) - nev, nev)
    k = np.repeat(kB, nev) + (np.arange(idx.size) - first)
    vv = v[idx]
    return kA, vv, k, vv / (k + 0.5)


def _sweep_events(c0, s0, a, b, beta, vv, k):
    """Exact minimum over ``s in [a, b]`` starting from sums ``c0`` at ``a`` and applying the events in order."""
    order = np.argsort(beta, kind="stable")
    beta, vv, k = beta[order], vv[order], k[order]
    e_new = vv - k * s0
    e_old = vv - (k + 1) * s0
    d = np.stack((e_new * e_new - e_old * e_old, k * e_new - (k + 1) * e_old, k * k - (k + 1) * (k + 1)))
    cum = np.concatenate((np.zeros((3, 1)), np.cumsum(d, axis=1)), axis=1) + np.asarray(c0, float)[:3, None]
    cabs = np.concatenate((np.zeros((3, 1)), np.cumsum(np.abs(d), axis=1)), axis=1)
    edges = np.concatenate(([a], np.clip(beta, a, b), [b]))
    val, t = _qmin(cum[0], cum[1], cum[2], edges[:-1] - s0, edges[1:] - s0)
    at = np.abs(t)
    mag = (np.abs(cum[0]) + 2 * at * np.abs(cum[1]) + at * at * np.abs(cum[2])
           + cabs[0] + 2 * at * cabs[1] + at * at * cabs[2])
    return np.maximum(val, 0.0), s0 + t, mag


def _exact_direct(arr, A, B, Tp, Tn):
    """Small data: every breakpoint in ``[A, B]`` enumerated and swept exactly."""
    x = np.concatenate([c.astype(np.float64) for c in _iter_chunks(arr)])
    v = np.abs(x)
    T = np.where(x >= 0, Tp, Tn).astype(np.float64)
    const = float(np.sum(v[T == 0] ** 2))
    v, T = v[T > 0], T[T > 0]
    s0 = 0.5 * (A + B)
    kA, vv, k, beta = _events(v, T, A, B)
    e = v - kA * s0
    c0 = (float(np.sum(e * e)), float(np.sum(kA * e)), float(np.sum(kA * kA)))
    val, s, mag = _sweep_events(c0, s0, A, B, beta, vv, k)

    tolv = 4 * EPS * (BLOCK + x.size / BLOCK + beta.size + 16) * (mag + const)
    return s, val + const, tolv, beta.size


def _exact_cluster(arr, A, B, Tp, Tn, n, depth=0):
    """Exact minimum on ``[A, B]`` (relative width <= 1): two data passes.

    Pass 1 builds the s-histogram of the breakpoints (:func:`shist_chunk`), whose
    per-s-bin exact sums give an upper bound (the quadratic of either side) and a
    lower bound (fixed points exactly + a bound for the points switching in the
    bin) on every s-bin; pass 2 collects the breakpoints of the s-bins that the
    bounds cannot exclude, which are swept exactly.
    """
    from ._kernels import empirical as K

    s0 = 0.5 * (A + B)
    Tm = max(Tp, Tn)
    M = int(max(1 << 12, math.ceil(4 * (B - A) / A * (2 * Tm + 2))))
    base = np.zeros(4)
    acc_rows = np.zeros((M, 8))
    sbuf = np.empty(STRADDLER_BUFFER)
    scount = np.zeros(1, dtype=np.int64)
    for c in _iter_chunks(arr):
        K.shist_chunk(c, A, B, 1.0 / A, 1.0 / B, s0, M, Tp, Tn, base, acc_rows, sbuf, scount)
    acc = acc_rows.T[:7]
    L = base[:3, None] + np.concatenate((np.zeros((3, 1)), np.cumsum(acc[:3], axis=1)[:, :-1]), axis=1)
    R = L + acc[:3]
    edges = A + (B - A) * (np.arange(M + 1) / M)
    edges[-1] = B
    tlo, thi = edges[:-1] - s0, edges[1:] - s0
    uL, _ = _qmin(L[0], L[1], L[2], tlo, thi)
    uR, _ = _qmin(R[0], R[1], R[2], tlo, thi)
    ub = np.minimum(uL, uR)
    Fx = L - acc[3:6]
    lbF, _ = _qmin(Fx[0], Fx[1], np.maximum(Fx[2], 0.0), tlo, thi)
    lb = lbF + acc[6]
    ubs = float(ub.min())
    rtol = 16 * EPS * (BLOCK + n / BLOCK + M + 16)
    tol = rtol * (ubs + base[0] + float(np.sum(acc[3])) + float(np.sum(np.abs(acc[0]))))
    cand = lb <= ubs + tol
    passes = 1
    cj = np.flatnonzero(cand)
    A2, B2 = float(edges[cj[0]]), float(edges[cj[-1] + 1])
    if scount[0] > sbuf.size and depth < 8 and (B2 - A2) < 0.25 * (B - A):
        # too many breakpoints: zoom into the hull of the candidate s-bins (the minimizer is there)
        out = _exact_cluster(arr, A2, B2, Tp, Tn, n, depth + 1)
        out[4]["passes"] += 1
        return out
    if scount[0] <= sbuf.size:  # every point with a breakpoint in [A, B] was kept
        xs = sbuf[:scount[0]]
    else:  # pass 2: only the points with a breakpoint in a candidate s-bin
        passes = 2
        xl = []
        for c in _iter_chunks(arr):
            mask = np.empty(c.size, dtype=np.bool_)
            if K.cand_chunk(c, A, B, 1.0 / A, 1.0 / B, M, Tp, Tn, cand, mask):
                xl.append(c[mask].astype(np.float64))
        xs = np.concatenate(xl) if xl else np.empty(0)
    v = np.abs(xs)
    T = np.where(xs >= 0, Tp, Tn).astype(np.float64)
    _, vv, k, beta = _events(v, T, A, B)
    inv = M / (B - A)
    jb = np.clip(((beta - A) * inv).astype(np.int64), 0, M - 1)
    keep = cand[jb]
    jb, beta, vv, k = jb[keep], beta[keep], vv[keep], k[keep]
    piece_s, piece_v = [], []
    order = np.lexsort((beta, jb))
    jb, beta, vv, k = jb[order], beta[order], vv[order], k[order]
    starts = np.searchsorted(jb, cj, side="left")
    cnts = np.searchsorted(jb, cj, side="right") - starts
    # all candidate s-bins swept at once: bin j has pieces [edge_j, b_1], [b_1, b_2], ..., [b_r, edge_j+1]
    e_new = vv - k * s0
    e_old = vv - (k + 1) * s0
    d = np.stack((e_new * e_new - e_old * e_old, k * e_new - (k + 1) * e_old, k * k - (k + 1) * (k + 1)))
    cumd = np.concatenate((np.zeros((3, 1)), np.cumsum(d, axis=1)), axis=1)
    cuma = np.concatenate((np.zeros((3, 1)), np.cumsum(np.abs(d), axis=1)), axis=1)
    npc = cnts + 1
    pbin = np.repeat(cj, npc)
    pst = np.repeat(starts, npc)
    r = np.arange(pbin.size) - np.repeat(np.cumsum(npc) - npc, npc)
    last = r == np.repeat(cnts, npc)
    ev = pst + r  # index of the event ending this piece (if not last)
    left = np.where(r == 0, edges[pbin], beta[np.maximum(ev - 1, 0)] if beta.size else 0.0)
    right = np.where(last, edges[pbin + 1], beta[np.minimum(ev, max(beta.size - 1, 0))] if beta.size else 0.0)
    left = np.clip(left, edges[pbin], edges[pbin + 1])
    right = np.clip(right, left, edges[pbin + 1])
    coef = L[:, pbin] + cumd[:, ev] - cumd[:, pst]
    cabs = cuma[:, ev] - cuma[:, pst]
    val, t = _qmin(coef[0], coef[1], coef[2], left - s0, right - s0)
    at = np.abs(t)
    gl = np.sum(np.abs(acc[:3]), axis=1)
    mag = (np.abs(coef[0]) + 2 * at * np.abs(coef[1]) + at * at * np.abs(coef[2])
           + cabs[0] + 2 * at * cabs[1] + at * at * cabs[2] + gl[0] + 2 * at * gl[1] + at * at * gl[2] + base[3])
    return (s0 + t, np.maximum(val, 0.0) + base[3], rtol * mag,
            int(scount[0]), {"s_bins": M, "candidate_bins": int(cj.size), "passes": passes})


def _optimal_msqe(arr: np.ndarray, grid: Grid, st: DataStats | None = None) -> OptimalScale:
    t0 = time.perf_counter()
    st = _scan(arr) if st is None else st
    Tp, Tn = _tops(grid)
    n = st.n
    cf = math.pi**2
    br = _bracket(st, Tp, Tn)
    if br is None:
        risk = cf * st.sum_sq / n
        why = "all-zero data" if st.sum_sq == 0 else "no non-zero data on a side of the grid with non-zero levels"
        return OptimalScale(DEGENERATE_SCALE, risk, "msqe", grid,
                            f"degenerate: MSE(s) is the same for every s > 0 ({why}); scale=1.0 by convention",
                            math.inf, risk, extra={"mse": st.sum_sq / n, "n": n, "degenerate": True})
    s_lo, s_hi = br

    info = {"n": n, "bracket": (s_lo, s_hi)}
    if n * max(Tp, Tn) <= DIRECT_LIMIT:
        ps, pv, pt, nev = _exact_direct(arr, s_lo, s_hi, Tp, Tn)
        method = "exact: every breakpoint enumerated and each quadratic piece minimized (global)"
        info.update(breakpoints=nev, data_passes=3)
    else:
        ps, pv, pt, info2 = _bb_exact(arr, st, Tp, Tn, s_lo, s_hi)
        info.update(info2)
        method = ("exact: histogram branch-and-bound + s-histogram bounds + exact sweep of the remaining "
                  "breakpoints (global, certified)")
    # pieces that may hold the minimum (value within rounding of the best), re-evaluated exactly
    lo_all = pv - pt
    thr = float(np.min(pv + pt))
    cand = np.flatnonzero(lo_all <= thr)
    cand = cand[np.argsort(pv[cand])]
    exact = mse_sums(arr, ps[cand[:1]], grid)
    i = int(np.argmin(exact))
    F, s_star = float(exact[i]), float(ps[cand][i])
    rt_eval = 4 * EPS * (BLOCK + n / BLOCK + 16)
    cert = max(0.0, min(F * (1 - rt_eval), float(np.min(lo_all))))
    ties = ps[cand]
    scale_err = max(float(np.max(np.abs(ties - s_star))), 4 * EPS * s_star)
    mse = F / n
    info.update(mse=mse, seconds=time.perf_counter() - t0)
    return OptimalScale(s_star, cf * mse, "msqe", grid, method, scale_err, cf * cert / n, extra=info)


def _bb_exact(arr, st, Tp, Tn, s_lo, s_hi):
    """Branch and bound on the |x| histogram, then exact search of the surviving clusters."""
    n = st.n
    hist = _Hist(arr, st, int(math.ceil(math.log2(max(Tp, Tn) + 1))) + 1)
    nint = max(8, int(math.ceil(4 * math.log2(s_hi / s_lo))))
    edges = s_lo * (s_hi / s_lo) ** (np.arange(nint + 1) / nint)
    edges[0], edges[-1] = s_lo, s_hi
    s1, s2 = edges[:-1].copy(), edges[1:].copy()
    best_ub = st.sum_sq  # n * MSE(s_hi), exactly
    # the interval bound loses ~ 12 E|x/s| * width (first order): deeper bisection costs bound
    # evaluations, a wider cluster costs breakpoints in the s-histogram pass (~ n * width * E|x/s|)
    stop = STOP_RTOL if STOP_RTOL is not None else (2.0**-6 if n <= 10**5 else 2.0**-9 if n <= 3 * 10**6 else 2.0**-12)
    levels = 0
    evals = 0
    while True:
        levels += 1
        lb = hist.interval_lb(s1, s2, Tp, Tn)
        mid = 0.5 * (s1 + s2)
        _, ub = hist.fixed(mid, Tp, Tn)
        evals += 2 * s1.size
        best_ub = min(best_ub, float(ub.min()))
        keep = lb <= best_ub * (1 + 1e-12)
        s1, s2, lb = s1[keep], s2[keep], lb[keep]
        wide = (s2 - s1) > stop * s2
        if not wide.any() or levels >= 80 or s1.size > MAX_INTERVALS:
            break
        m = 0.5 * (s1[wide] + s2[wide])
        s1 = np.concatenate((s1[~wide], s1[wide], m))
        s2 = np.concatenate((s2[~wide], m, s2[wide]))
    order = np.argsort(s1)
    s1, s2, lb = s1[order], s2[order], lb[order]
    clusters = []
    for a, b, l in zip(s1, s2, lb):
        if clusters and a <= clusters[-1][1] * (1 + 1e-3) and b <= 2 * clusters[-1][0]:
            clusters[-1][1] = max(clusters[-1][1], b)
            clusters[-1][2] = min(clusters[-1][2], l)
        else:
            clusters.append([a, b, l])
    clusters.sort(key=lambda c: c[2])
    best = math.inf
    piece_s, piece_v, piece_t = [], [], []
    passes = 0
    nstr = 0
    cand_bins = 0
    for A, B, l in clusters:
        if l > best * (1 + 1e-12):
            continue
        ps, pv, pt, ns, inf = _exact_cluster(arr, float(A), float(B), Tp, Tn, n)
        passes += inf["passes"]
        nstr += ns
        cand_bins += inf["candidate_bins"]
        piece_s.append(ps)
        piece_v.append(pv)
        piece_t.append(pt)
        best = min(best, float(np.min(pv + pt)))
    if best_ub < best * (1 - 1e-6):  # cannot happen unless a bound is wrong
        raise RuntimeError("internal error: histogram upper bound below the exact minimum; please report")
    info = {"bb_levels": levels, "bb_bound_evals": evals, "clusters": len(clusters), "data_passes": 3 + passes,
            "straddlers": nstr, "candidate_bins": cand_bins}
    return np.concatenate(piece_s), np.concatenate(piece_v), np.concatenate(piece_t), info


# --------------------------------------------------------------------------- other regularizers
def _reg_sums(arr: np.ndarray, scales: np.ndarray, grid: Grid, reg: Regularizer) -> np.ndarray:
    """``sum_i s**2 phi(x_i / s)`` per scale (data units squared, no curve factor)."""
    from ._kernels import empirical as K

    ss = np.ascontiguousarray(scales, dtype=np.float64).ravel()
    if reg.code == 0:
        return mse_sums(arr, ss, grid)
    out = np.zeros(ss.size)
    if reg.code in (1, 2):
        for c in _iter_chunks(arr):
            K.builtin_sums(c, ss, reg.code, grid.r_b, grid.r_t, out)
        return out
    for c in _iter_chunks(arr, 1 << 18):
        c64 = c.astype(np.float64, copy=False)
        for j, s in enumerate(ss):
            out[j] += s * s * float(np.sum(reg.evaluate(c64 / s, grid.r_b, grid.r_t)))
    return out


def _optimal_general(arr: np.ndarray, grid: Grid, reg: Regularizer, nscan: int = 256) -> OptimalScale:
    from scipy.optimize import minimize_scalar

    if reg.periodic_tails:
        raise ValueError(f"regularizer {reg.name!r} keeps oscillating outside the grid: s**2 phi(x/s) <= s**2 -> 0 "
                         "as s -> 0, so its infimum is at s -> 0 and there is no optimal scale; use 'msqe' or 'qsin'")
    st = _scan(arr)
    Tp, Tn = _tops(grid)
    n = st.n
    br = _bracket(st, Tp, Tn)
    msq = _optimal_msqe(arr, grid, st)
    if br is None:
        r = float(_reg_sums(arr, np.array([DEGENERATE_SCALE]), grid, reg)[0]) / n * reg.curve_factor
        return OptimalScale(DEGENERATE_SCALE, r, reg.name, grid,
                            "degenerate data (see msqe): scale=1.0 by convention, not optimized",
                            math.inf, math.nan, 0.0, DEGENERATE_SCALE, extra={"n": n, "degenerate": True})
    s_lo, s_hi = br
    builtin = reg.code == 1
    if not builtin:  # no monotonicity argument outside the bracket: widen it
        s_lo, s_hi = s_lo / 4, s_hi * 4
    grid_s = s_lo * (s_hi / s_lo) ** (np.arange(nscan) / (nscan - 1))
    vals = _reg_sums(arr, grid_s, grid, reg)
    i = int(np.argmin(vals))
    a, b = grid_s[max(i - 1, 0)], grid_s[min(i + 1, nscan - 1)]
    f = lambda s: float(_reg_sums(arr, np.array([s]), grid, reg)[0])  # noqa: E731
    res = minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": 1e-10 * b})
    s_star, F = (float(res.x), float(res.fun)) if res.fun <= vals[i] else (float(grid_s[i]), float(vals[i]))
    cf = reg.curve_factor
    lower = math.nan
    if builtin:
        # Lipschitz certificate for QSin: |d/ds s^2 phi(v/s)| <= 2 s + max(pi, 2 pi^2 T) |x| on [a, b]
        absmean = float(np.sum([np.abs(c.astype(np.float64)).sum() for c in _iter_chunks(arr)])) / n
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
        or an :class:`Empirical` distribution
    grid : Grid or int (bit width, signed)
    regularizer : "msqe" (exact), "qsin" (scan + refinement, Lipschitz bound), a
        :class:`~quanttheory.regularizers.Regularizer` or callable (scan + refinement, not certified)
    axis : int or None
        Channel axis: one scale per index along ``axis`` (fields become arrays).
    """
    grid = as_grid(grid)
    reg = get_regularizer(regularizer)
    arr = data.data if isinstance(data, Empirical) else _as_array(data)
    if axis is None:
        return _optimal_one(arr, grid, reg)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int or None, got {type(axis).__name__}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis {axis} is out of range for data with {arr.ndim} dimension(s) (shape {arr.shape})")
    moved = np.moveaxis(arr, int(axis), 0)
    if moved.shape[0] == 0 or moved[0].size == 0:
        raise ValueError(f"data of shape {arr.shape} has empty channels along axis {axis}")
    res = [_optimal_one(moved[i], grid, reg, name=f"channel {i}") for i in range(moved.shape[0])]

    def stack(field):
        vals = [getattr(r, field) for r in res]
        if all(v is None for v in vals):
            return None
        return np.array([np.nan if v is None else v for v in vals], dtype=float)

    methods = sorted({r.method for r in res})
    return OptimalScale(stack("scale"), stack("risk"), reg.name, grid,
                        f"per-channel along axis {axis}: " + " | ".join(methods),
                        stack("scale_error"), stack("risk_lower_bound"), stack("msqe_excess"),
                        stack("msqe_scale"),
                        extra={"axis": int(axis), "channels": len(res),
                               "mse": np.array([r.extra.get("mse", np.nan) for r in res])})


def _optimal_one(arr, grid, reg, name="data"):
    if reg.code == 0:
        return _optimal_msqe(arr, grid, _scan(arr, name))
    return _optimal_general(arr, grid, reg)


class Empirical:
    """The empirical distribution of a real tensor (equal weight ``1/n`` on each value).

    Accepts any real array-like (memory-mapped arrays are read in chunks, never
    copied whole).  Validated once at construction: NaN/inf, empty, complex and
    boolean data are rejected, integers converted to float64.

    It offers the interface of :class:`quanttheory.distributions.Distribution`
    (``mean``, ``second_moment``, ``var``, ``sample``, ``cdf``, ``risk_curve``)
    but deliberately does not subclass it: ``Distribution`` means "parametric
    law the exact integrator handles" to :mod:`quanttheory.risk`, which sends
    everything else here (:func:`as_empirical`, :func:`optimal_scale_data`).
    """

    law = -1
    relu = False
    point_mass = 0.0

    def __init__(self, data):
        self._x = _as_array(data)
        self._st = _scan(self._x)

    @property
    def data(self) -> np.ndarray:
        return self._x

    @property
    def n(self) -> int:
        return self._st.n

    @property
    def loc(self):  # pragma: no cover - not a location-scale law
        raise AttributeError("Empirical has no loc parameter")

    @property
    def scale(self):  # pragma: no cover
        raise AttributeError("Empirical has no scale parameter")

    def mean(self) -> float:
        return self._st.sum / self._st.n

    def var(self) -> float:
        return self.second_moment() - self.mean() ** 2

    def second_moment(self) -> float:
        return self._st.sum_sq / self._st.n

    def sample(self, rng, size) -> np.ndarray:
        """Resample with replacement (bootstrap)."""
        g = as_generator(rng)
        idx = g.integers(0, self.n, size=size)
        flat = self._x.reshape(-1) if (self._x.flags.c_contiguous) else np.ravel(self._x)
        return np.asarray(flat[idx], dtype=np.float64)

    def cdf(self, x):
        flat = np.sort(np.concatenate([c.astype(np.float64) for c in _iter_chunks(self._x)]))
        return np.searchsorted(flat, np.asarray(x, dtype=float), side="right") / self.n

    def pdf(self, x):
        raise TypeError("an empirical distribution has no density; use cdf() or risk_curve()")

    def kernel_params(self):
        raise TypeError("Empirical is not a parametric law: use Empirical.risk_curve / optimal_scale_data")

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._x, dtype=dtype)

    def risk_curve(self, scales, grid, regularizer="msqe") -> np.ndarray:
        """``cf * s**2 * mean(phi(x / s))`` at each scale (same shape as ``scales``), exact sums."""
        grid = as_grid(grid)
        reg = get_regularizer(regularizer)
        s = check_scales(scales)
        out = _reg_sums(self._x, s, grid, reg) * (reg.curve_factor / self.n)
        return out.reshape(np.shape(s))

    def optimal_scale(self, grid, regularizer="msqe") -> OptimalScale:
        return _optimal_one(self._x, as_grid(grid), get_regularizer(regularizer))

    @property
    def name(self) -> str:
        return "Empirical"

    def __repr__(self) -> str:
        return f"Empirical(n={self.n}, dtype={self._x.dtype})"


def as_empirical(data) -> Empirical:
    """``data`` as an :class:`Empirical` (returned unchanged if it already is one)."""
    return data if isinstance(data, Empirical) else Empirical(data)


# --------------------------------------------------------------------------- CLI
def cli_scale_file(args) -> int:
    """``quanttheory scale FILE.npy --bits B [--unsigned] [--axis A] [--regularizer R] [--json]``."""
    import json
    import pathlib

    path = pathlib.Path(args.file)
    if not path.exists():
        raise ValueError(f"file {str(path)!r} does not exist")
    if path.suffix != ".npy":
        raise ValueError(f"expected a .npy file (np.save), got {path.name!r}")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - report any reader error cleanly
        raise ValueError(f"cannot read {str(path)!r} as a .npy array: {exc}") from exc
    grid = Grid(int(args.bits), signed=not bool(getattr(args, "unsigned", False)))
    res = optimal_scale_data(arr, grid, getattr(args, "regularizer", "msqe") or "msqe", axis=getattr(args, "axis", None))
    if getattr(args, "json", False):
        d = res.as_dict()
        d["file"] = str(path)
        print(json.dumps(d, default=float))
    else:
        mse = res.extra.get("mse") if res.extra else None
        print(f"file: {path}  shape {arr.shape} dtype {arr.dtype}")
        print(f"grid: {grid}   regularizer: {res.regularizer}")
        if np.ndim(res.scale) == 0:
            print(f"optimal scale s* = {res.scale:.17g}  (+- {res.scale_error:.3g})")
            print(f"risk R(s*) = {res.risk:.17g}   mse = {mse:.17g}" if mse is not None else f"risk = {res.risk}")
            print(f"certified lower bound: {res.risk_lower_bound:.17g}")
        else:
            print(f"per-channel along axis {args.axis}: {np.size(res.scale)} channels")
            for i, (s, r) in enumerate(zip(res.scale, res.risk)):
                print(f"  [{i}] s* = {s:.17g}  risk = {r:.17g}")
        print(f"method: {res.method}")
    return 0
