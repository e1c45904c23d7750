"""The exact search behind :func:`quanttheory.risk.data.optimal_scale_data` (private).

Steps 2-4 of the algorithm in :mod:`quanttheory.risk.data`: the floating-point
histogram of ``|x|`` (:class:`_Hist`), its interval branch and bound
(:func:`_bb_exact`), and the exact sweep of the breakpoints of the surviving
clusters (:func:`_exact_cluster`; :func:`_exact_direct` for small data).
Every function returns pieces ``(s, value, tolerance)`` of the piecewise
quadratic ``n MSE(s)``; the caller picks the minimum and certifies it.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from ..laws.atoms import DataStats, iter_chunks

BLOCK = 4096  # = quanttheory.risk._kernels.data.BLOCK (not imported: importing the kernels loads numba)
EPS = 2.0**-52
HIST_SUBBITS_MAX = 12
HIST_SUBBITS_LOW = 10  # sub-bits up to 4 bits (histogram bits <= 5)
HIST_OCTAVES = 24
STOP_RTOL = None  # relative width where bisection stops; None: chosen from n
MAX_INTERVALS = 1 << 11
UB_PER_LEVEL = 16  # histogram upper bounds per branch-and-bound level (at the smallest lower bounds)
PIECE_RTOL = 1e-6  # a cluster's best piece resolved worse than this (relative) is split
STRADDLER_BUFFER = 1 << 16
STRADDLER_PER_N = 16  # the straddler buffer holds up to n / 16 points (0: STRADDLER_BUFFER only)
HIGH_T = 64  # grids with max(T) >= HIGH_T (7-8 bits): the parameters below
STRADDLER_PER_N_HIGH = 4  # n / 4 points: the 8-bit cluster (~0.7 % wide at n = 1e7, ~1.75M straddlers) in one pass
STOP_RTOL_HIGH = 2.0**-14  # bisection stop above 3e6 values (else 2^-12): with ENV_BOUND the cluster narrows
MAX_STRADDLERS = 1 << 22  # 32 MB
EVENT_BUDGET = 1 << 19
# the joint interval bound takes the convex-envelope (Jensen) bound for the bins holding a region end
# on intervals of relative width <= ENV_BOUND (0: never; wider intervals lose first order anyway)
ENV_BOUND = 2.0**-12
# 7-8 bits: intervals of relative width <= HULL_RTOL inside a cluster stop being bisected (only the
# cluster's ends are refined; 0: every interval down to the stop width)
HULL_RTOL = 2.0**-10
HULL_KEEP = 6  # intervals refined at each end of a cluster
SPLIT_JOINT = 4  # 7-8 bits: intervals up to 4x wider than the joint bound's limit are cut in 4
# float32 histogram pass with integer bins (hist_ci32): flushed every CI32_FLUSH values (count field
# < 2**23); below CI32_MAX_N values (bin sums exact: count * lower edge exact in float64, low-bit sums
# below 2**63)
CI32_FLUSH = 1 << 22
CI32_MAX_N = 1 << 40
MAX_SBINS = 1 << 18  # s-bins of the exact sweep (16 MB)  # breakpoints held in memory at once by the exact sweep


# --------------------------------------------------------------------------- histogram + branch and bound
def _hist_layout(n, bits, e_hi, f32):
    """(m, e_lo, nb) of the |x| histogram: ``m`` sub-bits per octave, octaves ``e_lo..e_hi``."""
    # finer bins than ~n/24 per octave only cost prefix-sum time; up to 4 bits (grid tops <= 8) the
    # histogram pass costs more at 2^11 sub-bins (the active bins leave L2) than the 2x wider
    # cluster costs in the s-histogram pass (58k -> ~95k straddlers at n = 1e7, 4 bits)
    m = min(HIST_SUBBITS_MAX, 6 + bits, HIST_SUBBITS_LOW if bits <= 5 else HIST_SUBBITS_MAX,
            max(8, int(math.log2(max(n, 2))) - 1))
    # bins start at the smallest normal number: subnormals (linear bits) all go to bin 0
    floor = -125 if f32 else -1021
    e_hi = max(e_hi, floor + 1)  # all data subnormal (float32): bin 0 holds them, at least one octave above
    e_lo = max(e_hi - HIST_OCTAVES, floor)
    return m, e_lo, (e_hi - e_lo + 1) * (1 << m) + 1


class _Hist:
    def __init__(self, arr: np.ndarray, st: DataStats | None, bits: int, h=None, layout=None):
        from ._kernels import data as K

        if h is None:
            vmax = max(st.max_pos, st.max_neg)
            m, e_lo, nb = _hist_layout(st.n, bits, math.frexp(vmax)[1], arr.dtype == np.float32)
            h = np.zeros(2 * nb * 3)
            for c in iter_chunks(arr):
                if c.dtype == np.float32:
                    K.hist_chunk32(c, (e_lo + 126) << m, m, nb, h)
                else:
                    K.hist_chunk64(c, (e_lo + 1022) << m, m, nb, h)
        else:
            m, e_lo, nb = layout
        P0 = np.empty((nb + 1, 6))
        P1 = np.empty((nb + 1, 6))
        K.prefix_sums(h, nb, 0, P0)
        K.prefix_sums(h, nb, 1, P1)
        self.h, self.nb, self.e_lo, self.m, self.P0, self.P1 = h, nb, e_lo, m, P0, P1
        # hu: the same bins with an upper bound of each bin's sum of squares (fused pass, where
        # ``h`` holds lower bounds), for the upper bounds; None when ``h`` holds the sums themselves
        self.hu = self.P0u = self.P1u = None

    @classmethod
    def fused(cls, arr: np.ndarray, bits: int):
        """Histogram and :class:`DataStats` in one data pass (:func:`hist_cs`); None when a
        value is non-finite or beyond the range the histogram can be widened to in place
        (the caller then runs the separate validation scan, which raises or handles it).

        The range ``e_hi`` comes from the first values; a block with a larger value shifts the
        bins by whole octaves (the lowest merge into bin 0, exactly).  The pass keeps per bin only
        the count ``c`` and the sum ``S`` of ``|x|`` (two scattered additions per value instead of
        three); the bins' sums of squares are bounded by :func:`_sumsq_bounds` (a lower bound in
        ``h``, used by every lower bound, an upper bound in ``hu``, used by the upper bounds).
        Statistics: extrema per side to a bin (:func:`_bin_extrema`: an upper bound of the largest
        and a lower bound of the smallest non-zero ``|x|``, enough for the bracket of the
        minimizers), counts per side (IEEE sign bit:
        -0.0 counts on the negative side in ``n_neg``, which only informs), ``sum`` from the bins
        (pairwise sums of per-bin sums),
        ``sum_sq`` an *upper bound* from the bins (above the exact sum by at most ~``2**-2m / 6``
        relative; only used as the initial upper bound of ``n MSE``).

        float32 (below ``CI32_MAX_N`` values): :func:`hist_ci32` keeps per bin one int64 (count and
        the sum of the values' low mantissa bits), flushed to int64 totals every ``CI32_FLUSH``
        values; a widening shifts the integer bins (:func:`ci32_shift`, the merged bins' exact sums
        go to bin 0's float64 sum); the float64 ``(count, sum)`` bins come from
        :func:`ci32_to_cs` (sums within ``2 u`` of the exact ones for bins ``j >= 1``, within
        ``c eps`` for bin 0: inside the ``c eps`` that :func:`_sumsq_bounds` allows for)."""
        from ._kernels import data_hist as KH

        n = arr.size
        f32 = arr.dtype == np.float32 and arr.dtype.isnative
        it, mant, sgs, mask, bias = ((np.int32, 23, 31, 0x7FFFFFFF, 126) if f32 else
                                     (np.int64, 52, 63, 0x7FFFFFFFFFFFFFFF, 1022))
        # float32: one scattered integer addition per value (:func:`hist_ci32`: count and the sum of
        # the values' low bits per bin, exact), flushed to int64 totals every < 2**23 values
        ci = f32 and n < CI32_MAX_N
        h = None
        for c in iter_chunks(arr):
            bits_c = c.view(it)
            if h is None:
                head = np.abs(c[:1 << 16].astype(np.float64))
                v0 = float(head.max())
                if not math.isfinite(v0) or v0 > 1e154:
                    return None
                e_hi = math.frexp(v0)[1] if v0 > 0 else (-125 if f32 else -1021) + HIST_OCTAVES
                m, e_lo, nb = _hist_layout(n, bits, e_hi, f32)
                h = np.zeros(2 * nb * 2)
                if ci:
                    if mant - m > 17 or n >= 1 << (52 - m):  # fields / c * lo exact: see hist_ci32
                        ci = False
                    else:
                        hi = np.zeros(2 * nb, dtype=np.int64)
                        C, L, s0 = np.zeros(2 * nb, dtype=np.int64), np.zeros(2 * nb, dtype=np.int64), np.zeros(2)
            for j0 in range(0, c.size, CI32_FLUSH if ci else max(c.size, 1)):
                j1 = min(c.size, j0 + (CI32_FLUSH if ci else c.size))
                i = j0
                while True:
                    if ci:
                        r = KH.hist_ci32(c, bits_c, i, j1, (e_lo + bias) << m, mant - m, nb, hi, s0)
                    else:
                        r = KH.hist_cs(c, bits_c, i, (e_lo + bias) << m, mant - m, sgs, mask, nb, h)
                    if r < 0:
                        break
                    blk = np.abs(c[r:r + BLOCK].astype(np.float64))
                    vb = float(blk.max())
                    if not math.isfinite(vb) or vb > 1e154:
                        return None
                    e_new = math.frexp(vb)[1]
                    m2, e_lo2, nb2 = _hist_layout(n, bits, e_new, f32)
                    if nb2 != nb or e_lo2 <= e_lo:
                        return None  # range clamped at the smallest normal number: not by a shift
                    d = (e_lo2 - e_lo) << m  # bins 1..d merge into bin 0, the rest move down by d
                    if ci:
                        KH.ci32_flush(hi, nb, C, L)
                        KH.ci32_shift(C, L, s0, nb, e_lo, m, d)
                    else:
                        hh = h.reshape(2, nb, 2)
                        new = np.zeros_like(hh)
                        new[:, 0] = hh[:, :d + 1].sum(axis=1)
                        new[:, 1:nb - d] = hh[:, d + 1:]
                        h = new.reshape(-1)
                    e_lo = e_lo2
                    i = r
                if ci:
                    KH.ci32_flush(hi, nb, C, L)
        if ci:
            KH.ci32_to_cs(C, L, s0, nb, e_lo, m, mant - m, h)
        hh = h.reshape(2, nb, 2)
        # the bins' sum-of-squares bounds (:func:`_sumsq_bounds`) and the prefix sums of both
        # histograms in one kernel loop
        self = cls.__new__(cls)
        self.h, self.hu = np.empty(2 * nb * 3), np.empty(2 * nb * 3)
        self.P0, self.P1, self.P0u, self.P1u = (np.empty((nb + 1, 6)) for _ in range(4))
        KH.finish_cs(h, nb, e_lo, m, float(n), self.h, self.hu, self.P0, self.P1, self.P0u, self.P1u)
        self.nb, self.e_lo, self.m = nb, e_lo, m
        mx, mn = _bin_extrema(hh[:, :, 0], hh[:, :, 1], e_lo, m, nb)
        # pairwise sums of the bins (counts exact below 2**53; sums to ~log2(nb) eps, below the
        # n eps of the per-bin sums that callers allow for)
        cnt = [int(np.sum(hh[s, :, 0])) for s in (0, 1)]
        sum_sq = float(self.P0u[nb, 2] + self.P1u[nb, 2]) * (1 + 4 * EPS)  # upper bound (prefix sums: ~2 eps)
        tot = float(np.sum(hh[0, :, 1])) - float(np.sum(hh[1, :, 1]))
        st = DataStats(n, mx[0], mx[1], mn[0], mn[1], cnt[0], cnt[1], sum_sq, tot)
        return self, st

    def interval_lb(self, s1, s2, Tp, Tn):
        from ._kernels import data as K

        out = np.empty(s1.size)
        K.interval_lower_bounds(s1, s2, self.h, self.nb, self.e_lo, self.m, self.P0, self.P1, Tp, Tn, out)
        return out

    def interval_lb_joint(self, s1, s2, Tp, Tn, env=None):
        """Tighter bounds: :func:`quanttheory.risk._kernels.data.interval_lower_bounds_joint`."""
        from ._kernels import data as K

        out = np.empty(s1.size)
        env = ENV_BOUND if env is None else env
        K.interval_lower_bounds_joint(s1, s2, self.h, self.nb, self.e_lo, self.m, self.P0, self.P1, Tp, Tn, out,
                                      float(env))
        return out

    def upper(self, ss, Tp, Tn):
        """Upper bounds of ``n MSE`` at the scales ``ss`` (:meth:`fixed`'s second result, one kernel call)."""
        from ._kernels import data as K

        lo = np.empty(ss.size)
        hi = np.empty(ss.size)
        if self.hu is None:
            K.fixed_bounds(ss, self.h, self.nb, self.e_lo, self.m, self.P0, self.P1, Tp, Tn, lo, hi)
        else:
            K.fixed_bounds(ss, self.hu, self.nb, self.e_lo, self.m, self.P0u, self.P1u, Tp, Tn, lo, hi)
        return hi

    def fixed(self, ss, Tp, Tn):
        from ._kernels import data as K

        lo = np.empty(ss.size)
        hi = np.empty(ss.size)
        K.fixed_bounds(ss, self.h, self.nb, self.e_lo, self.m, self.P0, self.P1, Tp, Tn, lo, hi)
        if self.hu is not None:  # the upper bounds from the bins' upper sums of squares
            lo2 = np.empty(ss.size)
            K.fixed_bounds(ss, self.hu, self.nb, self.e_lo, self.m, self.P0u, self.P1u, Tp, Tn, lo2, hi)
        return lo, hi


def _bin_edges(e_lo, m, nb):
    """``(lo, hi)`` of every bin (see :mod:`quanttheory.risk._kernels.data`): bin 0 is
    ``[0, 2**(e_lo-1))``, bin ``j >= 1`` ``[2**(e-1) (1 + sub/2**m), ...)``; exact in float64."""
    q = np.arange(nb + 1, dtype=np.int64) - 1
    e = e_lo + (q >> m)
    sub = q & ((1 << m) - 1)
    edge = np.ldexp(1.0 + sub / float(1 << m), (e - 1).astype(np.int32))
    edge[0] = 0.0
    return edge[:-1], edge[1:]


def _bin_extrema(c, S, e_lo, m, nb):
    """Per side (rows of ``c``, ``S``): an upper bound of the largest ``|x|`` (the upper edge of the
    highest non-empty bin; 0 if every value is 0) and a lower bound of the smallest non-zero one
    (the lower edge of the lowest non-empty bin above bin 0; 0 when bin 0 holds non-zero values,
    ``inf`` when there are none).  Enough for the bracket of the minimizers (wider by < one bin)."""
    lo, hi = _bin_edges(e_lo, m, nb)
    mx, mn = [], []
    for s in (0, 1):
        nz = np.flatnonzero(c[s, 1:]) + 1
        tiny = S[s, 0] > 0  # non-zero values in bin 0 (their sum of |x| is > 0)
        mx.append(float(hi[nz[-1]]) if nz.size else float(hi[0]) if tiny else 0.0)
        mn.append(0.0 if tiny else float(lo[nz[0]]) if nz.size else math.inf)
    return mx, mn


def _sumsq_bounds(c, S, e_lo, m, nb):
    """Bounds of the sums of squares of histogram bins holding ``c`` values of sum ``S`` in
    ``[lo, hi]``: ``S**2 / c <= sum v**2`` (Cauchy-Schwarz) and ``sum v**2 <= (lo + hi) S - c lo hi``
    (``(v - lo)(v - hi) <= 0``).  Widened for the rounding of ``S`` (``c`` sequential additions,
    ``<= c eps`` relative) and of the formulas (a few eps): ``(2 c + 8) eps`` relative for the
    lower, ``(4 c + 16) eps`` for the upper bound (the upper formula cancels at most 2:1).  The
    bounds are ~``c w**2 / 12`` apart for ``c`` points spread over a bin of width ``w``."""
    lo, hi = _bin_edges(e_lo, m, nb)
    with np.errstate(divide="ignore", invalid="ignore"):
        ql = np.where(c > 0, S * S / np.where(c > 0, c, 1.0), 0.0) * (1.0 - (2.0 * c + 8.0) * EPS)
    qu = ((lo + hi) * S - c * (lo * hi)) * (1.0 + (4.0 * c + 16.0) * EPS)
    qu = np.maximum(qu, ql)
    return ql, qu


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


def _events(v, T, A, B, want_kA=True):
    """Breakpoints in ``[A, B]`` of points ``v`` (top ``T``): index ``k+1 -> k`` at ``beta = v/(k+1/2)``.

    Grid indices at the ends use ``rint(v * (1/A))`` exactly as the kernels do (at an exact
    tie both neighbours have the same error, so either choice is correct, but all passes
    must agree).  Returns ``(kA, vv, k, beta)`` (``kA`` None unless ``want_kA``), the events
    ordered by point then index; computed SLICE points at a time (temporaries of that size
    besides the events).
    """
    kAs, vvs, ks = [], [], []
    for i in range(0, max(v.size, 1), SLICE):
        vi, Ti = v[i:i + SLICE], T[i:i + SLICE]
        kA = np.minimum(np.rint(vi * (1.0 / A)), Ti)
        kB = np.minimum(np.rint(vi * (1.0 / B)), Ti)
        nev = (kA - kB).astype(np.int64)
        idx = np.repeat(np.arange(vi.size), nev)
        first = np.repeat(np.cumsum(nev) - nev, nev)
        ks.append(np.repeat(kB, nev) + (np.arange(idx.size) - first))
        vvs.append(vi[idx])
        if want_kA:
            kAs.append(kA)
    vv = np.concatenate(vvs) if len(vvs) > 1 else vvs[0]
    k = np.concatenate(ks) if len(ks) > 1 else ks[0]
    kA = (np.concatenate(kAs) if len(kAs) > 1 else kAs[0]) if want_kA else None
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
    x = np.concatenate([c.astype(np.float64) for c in iter_chunks(arr)])
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
    from ._kernels import data as K

    s0 = 0.5 * (A + B)
    Tm = max(Tp, Tn)
    # ~1/4 breakpoint per point per s-bin, capped (memory: 64 bytes per s-bin; wider s-bins
    # only weaken the per-bin lower bounds, the sweep stays exact)
    M = int(min(max(1 << 12, math.ceil(4 * (B - A) / A * (2 * Tm + 2))), MAX_SBINS))
    base = np.zeros(4)
    acc_rows = np.zeros((M, 8))
    # room for 1/STRADDLER_PER_N of the points (O(n) memory, capped): one s-histogram pass
    # then suffices instead of a zoom pass and a candidate pass
    per = STRADDLER_PER_N_HIGH if STRADDLER_PER_N and Tm >= HIGH_T else STRADDLER_PER_N
    size = STRADDLER_BUFFER if not per else max(STRADDLER_BUFFER, min(n // per, MAX_STRADDLERS))
    sbuf = np.empty(size)
    scount = np.zeros(1, dtype=np.int64)
    for c in iter_chunks(arr):
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
        sbuf = acc_rows = None  # not held during the recursion
        out = _exact_cluster(arr, A2, B2, Tp, Tn, n, depth + 1)
        out[4]["passes"] += 1
        return out
    inv = M / (B - A)
    gl = np.sum(np.abs(acc[:3]), axis=1)
    sweep = _GroupSweep(cj, cand, edges, L, A, inv, M, s0, gl, float(base[3]), rtol, Tp, Tn)
    if scount[0] <= sbuf.size:  # every point with a breakpoint in [A, B] was kept
        xs = sbuf[:scount[0]]
        # only the points with a breakpoint in (one s-bin around) the candidate hull take part in
        # the sweep: filtered in one kernel loop, compacted in place (no second buffer)
        ha = float(edges[max(cj[0] - 1, 0)])
        hb = float(edges[min(cj[-1] + 2, M)])
        if xs.size > 1024:
            xs = _compact(xs, 1.0 / ha, 1.0 / hb, Tp, Tn)
        sweep.run(xs, 0, cj.size)
    else:
        # pass 2: the points with a breakpoint in a candidate s-bin, gathered into the buffer for a
        # run of candidate s-bins at a time (runs halved until their points fit: one data pass per
        # run; a single s-bin is gathered whatever its size, <= ~1 breakpoint per point)
        runs = [(0, cj.size)]
        passes = 1
        while runs:
            r0, r1 = runs.pop()
            sub = np.zeros(M, dtype=np.bool_)
            sub[cj[r0:r1]] = True
            passes += 1
            xs = _gather(arr, A, B, M, Tp, Tn, sub, sbuf if r1 - r0 > 1 else None)
            if xs is None:
                mid = (r0 + r1) // 2
                runs += [(mid, r1), (r0, mid)]
                continue
            sweep.run(xs, r0, r1)
    sbuf = None
    ps, pv, pt = sweep.result()
    return (ps, pv, pt, int(scount[0]), {"s_bins": M, "candidate_bins": int(cj.size), "passes": passes,
                                          "events": sweep.nevents, "const": float(base[3])})


SLICE = 1 << 16  # values per slice of the straddler arrays' temporaries


def _compact(xs, iA, iB, Tp, Tn):
    """The values of ``xs`` with a breakpoint between ``1/iA`` and ``1/iB`` (:func:`straddle_mask`),
    moved to the front of ``xs`` in their order (slice by slice: temporaries of SLICE values)."""
    from ._kernels import data as K

    w = 0
    sel = np.empty(min(SLICE, xs.size), dtype=np.bool_)
    for i in range(0, xs.size, SLICE):
        c = xs[i:i + SLICE]
        m = sel[:c.size]
        K.straddle_mask(c, iA, iB, Tp, Tn, m)
        kept = c[m]  # a copy: safe to write below i
        xs[w:w + kept.size] = kept
        w += kept.size
    return xs[:w]


def _gather(arr, A, B, M, Tp, Tn, sub, buf):
    """The points of ``arr`` (float64) with a breakpoint in an s-bin flagged in ``sub`` (one data
    pass, :func:`cand_chunk`), written into ``buf``; None when they do not fit (``buf`` None: a
    new array of any size)."""
    from ._kernels import data as K

    xl = []
    w = 0
    for c in iter_chunks(arr):
        mask = np.empty(c.size, dtype=np.bool_)
        cnt = K.cand_chunk(c, A, B, 1.0 / A, 1.0 / B, M, Tp, Tn, sub, mask)
        if not cnt:
            continue
        if buf is None:
            xl.append(c[mask].astype(np.float64))
            continue
        if w + cnt > buf.size:
            return None
        buf[w:w + cnt] = c[mask]
        w += cnt
    if buf is not None:
        return buf[:w]
    return np.concatenate(xl) if xl else np.empty(0)


def _count_events(v, T, a, b):
    """Number of breakpoints of the points ``v`` (tops ``T``) in ``[a, b]`` (float, exact below 2^53),
    slice by slice."""
    cnt = 0.0
    for i in range(0, v.size, SLICE):
        vi, Ti = v[i:i + SLICE], T[i:i + SLICE]
        cnt += float(np.sum(np.minimum(np.rint(vi * (1.0 / a)), Ti) - np.minimum(np.rint(vi * (1.0 / b)), Ti)))
    return cnt


class _GroupSweep:
    """The exact pieces of the candidate s-bins ``cj`` of one cluster, from the straddlers of a run
    of candidate bins at a time (:meth:`run`), in batches of at most EVENT_BUDGET breakpoints."""

    def __init__(self, cj, cand, edges, L, A, inv, M, s0, gl, base3, rtol, Tp, Tn):
        self.cj, self.cand, self.edges, self.L, self.A, self.inv, self.M = cj, cand, edges, L, A, inv, M
        self.s0, self.gl, self.base3, self.rtol, self.Tp, self.Tn = s0, gl, base3, rtol, Tp, Tn
        self.out_s, self.out_v, self.out_t = [], [], []
        self.thr = math.inf
        self.nevents = 0

    def run(self, xs, r0, r1):
        """Sweep the candidate bins ``cj[r0:r1]`` with the points ``xs`` (signed; every point with a
        breakpoint in those bins must be among them)."""
        cj, edges, M = self.cj, self.edges, self.M
        v = np.abs(xs)
        T = np.where(xs >= 0, self.Tp, self.Tn).astype(np.float64)
        # the breakpoints of the candidate s-bins, a batch of bins at a time: at most
        # EVENT_BUDGET breakpoints in memory (a single s-bin holds <= ~1 breakpoint per point)
        groups = [(r0, r1)]
        while groups:
            i0, i1 = groups.pop()
            a, b = float(edges[cj[i0]]), float(edges[cj[i1 - 1] + 1])
            cnt = _count_events(v, T, a, b)
            if cnt > EVENT_BUDGET and i1 - i0 > 1:
                mid = (i0 + i1) // 2
                groups += [(mid, i1), (i0, mid)]
                continue
            self.nevents += int(cnt)
            # breakpoints generated one s-bin wider on each side: each is then assigned to its bin by
            # the same formula as without batches, and kept by the batch that owns that bin
            a = float(edges[max(cj[i0] - 1, 0)])
            b = float(edges[min(cj[i1 - 1] + 2, M)])
            ps, pv, pt = _bin_pieces(v, T, a, b, cj[i0:i1], self.cand, edges, self.L, self.A, self.inv, M,
                                     self.s0, self.gl, self.base3, self.rtol)
            # a piece whose lower end exceeds some piece's upper end is never the minimum
            self.thr = min(self.thr, float(np.min(pv + pt)))
            keep = pv - pt <= self.thr
            self.out_s.append(ps[keep])
            self.out_v.append(pv[keep])
            self.out_t.append(pt[keep])

    def result(self):
        ps, pv, pt = np.concatenate(self.out_s), np.concatenate(self.out_v), np.concatenate(self.out_t)
        keep = pv - pt <= self.thr
        return ps[keep], pv[keep], pt[keep]


def _bin_pieces(v, T, a, b, cj, cand, edges, L, A, inv, M, s0, gl, base3, rtol):
    """Exact quadratic pieces of the candidate s-bins ``cj`` (all inside ``[a, b]``), from the
    exact sums ``L`` at each bin's left edge and the breakpoints of the points ``v``
    (swept by :func:`quanttheory.risk._kernels.sweep.sweep_bins`).  Returns only the pieces
    that may hold the minimum of these bins (lower end <= the smallest upper end)."""
    from ._kernels.sweep import sweep_bins

    _, vv, k, beta = _events(v, T, a, b, want_kA=False)
    jb = np.clip(((beta - A) * inv).astype(np.int64), 0, M - 1)
    keep = cand[jb] & (jb >= cj[0]) & (jb <= cj[-1])
    # jb is a non-decreasing function of beta: sorting by beta sorts by (bin, beta)
    order = np.flatnonzero(keep)
    order = order[np.argsort(beta[order])]
    jb, beta, vv, k = jb[order], beta[order], vv[order], k[order]
    Lc = np.ascontiguousarray(L, dtype=np.float64)
    cj = np.ascontiguousarray(cj, dtype=np.int64)
    gl = np.ascontiguousarray(gl, dtype=np.float64)
    empty = np.empty(0)
    args = (jb, beta, vv, k, cj, edges, Lc, float(s0), gl, float(base3), float(rtol))
    thr, _ = sweep_bins(*args, 0, 0.0, empty, empty, empty)
    _, cnt = sweep_bins(*args, 1, thr, empty, empty, empty)
    ps, pv, pt = np.empty(cnt), np.empty(cnt), np.empty(cnt)
    sweep_bins(*args, 2, thr, ps, pv, pt)
    return ps, pv, pt


def _hist_bits(Tp, Tn):
    return int(math.ceil(math.log2(max(Tp, Tn) + 1))) + 1


def _interior(s1, s2, rtol, k=HULL_KEEP):
    """True for an interval of relative width <= ``rtol`` with at least ``k`` intervals on either
    side in its cluster (intervals, sorted by ``s``, with gaps <= 1e-3 relative: merged into one
    cluster by :func:`_bb_exact`).  Bisecting it cannot change the hull of its cluster unless the
    ``k`` intervals on one side are all pruned first; the exact search of a cluster uses only its
    hull, so such an interval stops being bisected (its bound stays) and only the ``k`` intervals
    at each end of a cluster are refined further."""
    o = np.argsort(s1)
    a, b = s1[o], s2[o]
    inner = np.zeros(a.size, dtype=bool)
    if a.size > 2 * k:
        bmax = np.maximum.accumulate(b)
        start = np.concatenate(([True], a[1:] > bmax[:-1] * (1 + 1e-3)))
        gid = np.cumsum(start) - 1
        first = np.flatnonzero(start)
        last = np.concatenate((first[1:], [a.size])) - 1
        pos = np.arange(a.size)
        inner = (pos - first[gid] >= k) & (last[gid] - pos >= k) & ((b - a) <= rtol * b)
    out = np.empty_like(inner)
    out[o] = inner
    return out


def _bb_exact(arr, st, Tp, Tn, s_lo, s_hi, hist=None):
    """Branch and bound on the |x| histogram, then exact search of the surviving clusters."""
    n = st.n
    if hist is None:
        hist = _Hist(arr, st, _hist_bits(Tp, Tn))
    nint = max(8, int(math.ceil(4 * math.log2(s_hi / s_lo))))
    edges = s_lo * (s_hi / s_lo) ** (np.arange(nint + 1) / nint)
    edges[0], edges[-1] = s_lo, s_hi
    s1, s2 = edges[:-1].copy(), edges[1:].copy()
    # n * MSE(s_hi) (every point rounds to 0), inflated by the rounding of its sum (blocked sum of
    # the scan, or per-bin sums of the fused histogram pass: <= n eps relative)
    best_ub = st.sum_sq * (1 + 2 * (n + BLOCK) * EPS)
    # the interval bound loses ~ 12 E|x/s| * width (first order): deeper bisection costs bound
    # evaluations, a wider cluster costs breakpoints in the s-histogram pass (~ n * width * E|x/s|)
    stop = STOP_RTOL if STOP_RTOL is not None else (
        2.0**-6 if n <= 10**5 else 2.0**-9 if n <= 3 * 10**6 else STOP_RTOL_HIGH if max(Tp, Tn) >= HIGH_T else 2.0**-12)
    hull = HULL_RTOL if max(Tp, Tn) >= HIGH_T else 0.0
    levels = 0
    evals = 0
    lb = np.full(s1.size, np.nan)
    while True:
        levels += 1
        # bounds of the new intervals only (an interval kept from the previous level has its bound)
        new = np.isnan(lb)
        lb[new] = hist.interval_lb_joint(s1[new], s2[new], Tp, Tn)
        # upper bounds at the midpoints of the most promising intervals only (each costs O(T))
        # (with ``hull``: among the new intervals; the others' midpoints had their turn)
        cand = np.flatnonzero(new) if hull else np.arange(lb.size)
        pick = cand[np.argsort(lb[cand])[:UB_PER_LEVEL]]
        ub = hist.upper(0.5 * (s1[pick] + s2[pick]), Tp, Tn)
        evals += int(new.sum()) + pick.size
        best_ub = min(best_ub, float(ub.min()))
        keep = lb <= best_ub * (1 + 1e-12)
        s1, s2, lb = s1[keep], s2[keep], lb[keep]
        wide = (s2 - s1) > stop * s2
        if hull and wide.any():
            wide &= ~_interior(s1, s2, hull)
        if not wide.any() or levels >= 80 or s1.size > MAX_INTERVALS:
            break
        if hull:
            # an interval at most SPLIT_JOINT times wider than the joint bound's limit
            # ((T - 1/2) w <= 1/2, relative) is cut straight into pieces below the limit: the
            # fallback bound prunes little at those widths and costs the most per interval
            lim = 0.5 / (max(Tp, Tn) - 0.5)
            r = (s2 - s1) / (lim * s1)
            multi = wide & (r > 1) & (r <= SPLIT_JOINT)
            if multi.any():
                k = SPLIT_JOINT
                a, b = s1[multi], s2[multi]
                t = np.arange(k + 1) / k
                e = a[:, None] + (b - a)[:, None] * t[None, :]
                e[:, 0], e[:, -1] = a, b
                keep_ = ~multi
                s1 = np.concatenate((s1[keep_], e[:, :-1].ravel()))
                s2 = np.concatenate((s2[keep_], e[:, 1:].ravel()))
                lb = np.concatenate((lb[keep_], np.full(e[:, :-1].size, np.nan)))
                wide = np.concatenate((wide[keep_], np.zeros(e[:, :-1].size, dtype=bool)))
                if not wide.any():
                    continue
        m = 0.5 * (s1[wide] + s2[wide])
        s1 = np.concatenate((s1[~wide], s1[wide], m))
        s2 = np.concatenate((s2[~wide], m, s2[wide]))
        lb = np.concatenate((lb[~wide], np.full(2 * m.size, np.nan)))
    order = np.argsort(s1)
    s1, s2, lb = s1[order], s2[order], lb[order]
    clusters = []
    for a, b, l in zip(s1, s2, lb):
        if clusters and a <= clusters[-1][1] * (1 + 1e-3) and b <= 2 * clusters[-1][0]:
            clusters[-1][1] = max(clusters[-1][1], b)
            clusters[-1][2] = min(clusters[-1][2], l)
        else:
            clusters.append([a, b, l])
    # precision: the sweep sums errors about the cluster's centre s0, and at distance t from it
    # the terms grow like (k t)^2 with k up to T.  A cluster whose best piece is not resolved
    # to PIECE_RTOL (relative) is split into pieces of relative width W (T t / s <~ 2^5, a
    # cancellation <~ 2^10), each with its own histogram bound, and searched again
    W = max(2.0**-12, 2.0**6 / max(Tp, Tn, 1))
    heap = [(c[2], c[0], c[1], False) for c in clusters]
    heapq.heapify(heap)
    best = math.inf
    best_lo = math.inf
    const = 0.0
    piece_s, piece_v, piece_t = [], [], []
    passes = 0
    nstr = 0
    cand_bins = 0
    nclusters = 0
    while heap:
        l, A, B, is_split = heapq.heappop(heap)
        if l > (best + const) * (1 + 1e-12):
            continue
        ps, pv, pt, ns, inf = _exact_cluster(arr, float(A), float(B), Tp, Tn, n)
        nclusters += 1
        passes += inf["passes"]
        nstr += ns
        cand_bins += inf["candidate_bins"]
        const = inf["const"]  # the same in every cluster
        i = int(np.argmin(pv))
        if not is_split and B > A * (1 + W) and pt[i] > PIECE_RTOL * pv[i]:
            k = int(math.ceil(math.log(B / A) / math.log1p(W)))
            e = A * (B / A) ** (np.arange(k + 1) / k)
            e[0], e[-1] = A, B
            lbs = hist.interval_lb_joint(e[:-1].copy(), e[1:].copy(), Tp, Tn)
            for j in range(k):
                heapq.heappush(heap, (max(l, float(lbs[j])), float(e[j]), float(e[j + 1]), True))
            continue
        piece_s.append(ps)
        piece_v.append(pv)
        piece_t.append(pt)
        best = min(best, float(np.min(pv + pt)))
        best_lo = min(best_lo, float(np.min(pv - pt)))
    # the piece values leave out the constant part ``const`` (sides with T = 0); the histogram's
    # upper bound includes it.  An upper bound below the lower end of every piece cannot happen
    # unless a bound is wrong (comparing with the upper ends ``best`` would fail when the pieces'
    # rounding bounds are wide, e.g. n = 50 on Grid(15))
    if best_ub < (best_lo + const) * (1 - 1e-6):
        raise RuntimeError("internal error: histogram upper bound below the exact minimum; please report")
    info = {"const": const, "bb_levels": levels, "bb_bound_evals": evals, "clusters": nclusters, "data_passes": 3 + passes,
            "straddlers": nstr, "candidate_bins": cand_bins}
    return np.concatenate(piece_s), np.concatenate(piece_v), np.concatenate(piece_t), info
