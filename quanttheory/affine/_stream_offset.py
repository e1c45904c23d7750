"""Exact real-offset optimum ``(s, m)`` of one long unit in bounded memory (private).

``F(s, m) = sum_i min_k (x_i - m - k s)^2`` (``k = 0..N``), searched over boxes of the scale ``s``
and the centre ``c = m + s N/2`` of the levels, on the centred values ``t = x - mean(x)`` (computed
the same way in every pass), as :func:`quanttheory.affine.offset_data.optimal_offset_1d` does on
the sorted array -- here without a copy or a sort of the unit:

1. two chunked passes: extrema, mean; a uniform histogram of ``NB`` bins over ``[min t, max t]``
   with count, sum and sum of squares per bin (prefix sums).  The bin index is monotone in ``t``,
   so the values of a bin lie in its edges widened by the rounding;
2. level 1, branch and bound on the histogram over ``[0, 2 span] x [min t - N s/2, max t + N s/2]``
   (outside it ``F >= sum t^2``, the one-level error, which the min-max grid beats).  On a box
   the boundary between codes ``k`` and ``k + 1`` lies in a zone of ``t`` (``c + (k + 1/2 - N/2) s``
   over the box, widened for rounding); the bins between consecutive zones have one code on the
   whole box and add an exact quadratic in ``(s, c)`` read from the prefix sums; zone bins add
   ``count * dist(bin, union of their possible levels' intervals)^2``.  The lower bound is the
   exact minimum of the quadratic over the box plus those distances, minus a rounding allowance;
   upper bounds are assignments of whole bins at box centres.  Boxes are split until their zones
   are a few bins wide;
3. level 2, exact, per group of surviving boxes (groups whose hull's zone bins hold at most
   ``GATHER_CAP`` values): one chunked pass sums, with compensated sums, the values whose code is
   the same on the whole hull into one quadratic and collects the others ("straddlers"); the
   search of :mod:`quanttheory.affine.offset_data` (per-value bounds, leaves resolved by
   enumerating the straddlers' monotone assignments, each least-squares problem in closed form)
   then runs on the sorted straddlers plus that quadratic;
4. the best point's ``F`` summed directly over the unit in one more pass (nearest level).

Memory: a chunk, the histogram (``NB`` bins) and at most ``GATHER_CAP`` straddlers, whatever ``n``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

EPS = 2.0**-52
NB_MAX = 1 << 16
GATHER_CAP = 1 << 20  # straddlers gathered at once (8 MB as float64)
MAX_PATTERNS = 4096
MAX_BOXES = 200000  # level 2 (exact, per-value bounds)
WORK_2 = 4e9  # level 2: at most this many (box, straddler) bound evaluations (~10 s)
DIRECT_N = 4096  # units this small skip level 1
MAX_BOXES_1 = 20000  # level 1 (histogram): live boxes beyond it stop the exact search
MAX_EVALS_1 = 100000  # level 1: box bound evaluations beyond it stop the exact search
MAX_READY = 1 << 17  # level 1: resolved boxes waiting for level 2 (5 float64 each: 5 MB)
REFINE_PASSES = 48  # budget stop: exact F evaluations (one data pass each) of the local refinement


class BudgetExceeded(RuntimeError):
    """The exact search would need more boxes than its budget (raised inside :func:`solve`, which then
    returns a certified bracket instead of the exact optimum)."""
PASS = 1 << 16  # values per kernel call of the chunked passes
BLK = 1024  # partial sums of the level-2 bounds
UB_PER_ROUND = 8
DEBUG = False


# --------------------------------------------------------------------------- shared helpers
@njit(cache=True)
def _q_eval(A, n, Sx, Sj, Sxj, Sjj, s, c):
    # sum (t - c - j s)^2 = A - 2 c Sx - 2 s Sxj + n c^2 + 2 s c Sj + s^2 Sjj
    return A - 2.0 * c * Sx - 2.0 * s * Sxj + n * c * c + 2.0 * s * c * Sj + s * s * Sjj


@njit(cache=True)
def _q_box_min(A, n, Sx, Sj, Sxj, Sjj, s1, s2, c1, c2):
    """Exact minimum of the convex quadratic ``sum (t - c - j s)^2`` over [s1, s2] x [c1, c2]."""
    if n == 0.0:
        return 0.0, 0.5 * (s1 + s2), 0.5 * (c1 + c2)
    det = n * Sjj - Sj * Sj
    if det > 0.0:
        s = (n * Sxj - Sj * Sx) / det
        c = (Sx - s * Sj) / n
        if s1 <= s <= s2 and c1 <= c <= c2:
            return _q_eval(A, n, Sx, Sj, Sxj, Sjj, s, c), s, c
    best = np.inf
    bs = s1
    bc = c1
    for e in range(4):
        if e < 2:
            s = s1 if e == 0 else s2
            c = min(max((Sx - s * Sj) / n, c1), c2)
        else:
            c = c1 if e == 2 else c2
            s = min(max((Sxj - c * Sj) / Sjj, s1), s2) if Sjj > 0.0 else s1
        v = _q_eval(A, n, Sx, Sj, Sxj, Sjj, s, c)
        if v < best:
            best = v
            bs = s
            bc = c
    return best, bs, bc


@njit(cache=True)
def _krange(tlo, thi, N, half, s1, s2, c1, c2):
    """Smallest and largest nearest code of any t in [tlo, thi] at any (s, c) of the box, i.e. of
    rint((t - c)/s + N/2) clipped to 0..N, widened by a relative 1e-12 against rounding."""
    if s1 <= 0.0:
        return 0, N
    a = tlo - c2
    ulo = a / s2 if a >= 0.0 else a / s1
    b = thi - c1
    uhi = b / s1 if b >= 0.0 else b / s2
    ulo += half
    uhi += half
    ulo -= 1e-12 * (abs(ulo) + 1.0)
    uhi += 1e-12 * (abs(uhi) + 1.0)
    kmin = np.rint(ulo)
    kmax = np.rint(uhi)
    kmin = min(max(kmin, 0.0), float(N))
    kmax = min(max(kmax, 0.0), float(N))
    return int(kmin), int(kmax)


@njit(cache=True)
def _dist(tlo, thi, kmin, kmax, half, s1, s2, c1, c2):
    """Distance from [tlo, thi] to the union of the level intervals c + (k - N/2) s, k = kmin..kmax."""
    dmin = np.inf
    for k in range(kmin, kmax + 1):
        j = k - half
        lo = c1 + (j * s1 if j >= 0 else j * s2)
        hi = c2 + (j * s2 if j >= 0 else j * s1)
        d = max(lo - thi, tlo - hi, 0.0)
        if d < dmin:
            dmin = d
    return dmin


@njit(cache=True)
def _nearest_sq(t, m, s, N):
    """min_k (t - m - k s)^2 over k = 0..N: the rounded, clipped code and its two neighbours (the
    rounding of (t - m)/s can be off by one next to a midpoint)."""
    k = min(max(np.rint((t - m) / s), 0.0), float(N))
    best = np.inf
    for d in (-1.0, 0.0, 1.0):
        kk = k + d
        if 0.0 <= kk <= N:
            e = t - (m + kk * s)
            if e * e < best:
                best = e * e
    return best


@njit(cache=True)
def _idx(t, lo, invw, nb):
    u = (t - lo) * invw
    if u <= 0.0:
        return 0
    if u >= nb - 1:
        return nb - 1
    return int(u)


# --------------------------------------------------------------------------- passes
@njit(cache=True)
def hist_pass(x, mu, lo, invw, nb, cnt, S1, S2):
    """Histogram of t = float64(x) - mu: count, sum, sum of squares per bin."""
    for i in range(x.size):
        t = np.float64(x[i]) - mu
        j = _idx(t, lo, invw, nb)
        cnt[j] += 1.0
        S1[j] += t
        S2[j] += t * t


@njit(cache=True)
def _nsum(acc, cmp, k, v):
    """Neumaier compensated accumulation of v into acc[k] (compensation in cmp[k])."""
    s = acc[k]
    t = s + v
    if abs(s) >= abs(v):
        cmp[k] += (s - t) + v
    else:
        cmp[k] += (v - t) + s
    acc[k] = t


@njit(cache=True)
def gather_pass(x, mu, N, s1, s2, c1, c2, acc, cmp, buf, count):
    """Values of one chunk: code constant on the box -> the fixed sums (A, n, Sx, Sj, Sxj, Sjj),
    compensated; the others appended to buf (count[0] of them; beyond buf's size only counted)."""
    half = 0.5 * N
    for i in range(x.size):
        t = np.float64(x[i]) - mu
        kmin, kmax = _krange(t, t, N, half, s1, s2, c1, c2)
        if kmin == kmax:
            j = kmin - half
            _nsum(acc, cmp, 0, t * t)
            _nsum(acc, cmp, 1, 1.0)
            _nsum(acc, cmp, 2, t)
            _nsum(acc, cmp, 3, j)
            _nsum(acc, cmp, 4, t * j)
            _nsum(acc, cmp, 5, j * j)
        else:
            if count[0] < buf.size:
                buf[count[0]] = t
            count[0] += 1


@njit(cache=True)
def sse_pass(x, mu, N, s, m):
    """sum_i min_k (t_i - m - k s)^2 over one chunk (nearest level: the rounded code and its neighbours)."""
    acc = 0.0
    for i in range(x.size):
        acc += _nearest_sq(np.float64(x[i]) - mu, m, s, N)
    return acc


# --------------------------------------------------------------------------- level 1: histogram bounds
@njit(cache=True)
def hist_bounds(P0, P1, P2, cnt, lo, hi, w, dlt, invw, nb, N, K, s1, s2, c1, c2, lb, nstr, zw):
    """Lower bound of F over each box from the histogram; nstr: values in bins whose code is not
    constant on the box; zw: widest zone, in bins."""
    half = 0.5 * N
    for b in range(s1.size):
        A = 0.0
        n = 0.0
        Sx = 0.0
        Sj = 0.0
        Sxj = 0.0
        Sjj = 0.0
        strad = 0.0
        ns = 0.0
        zmax = 0
        ptr = 0
        cm = max(abs(c1[b]), abs(c2[b]))
        for k in range(N + 1):
            if k < N:
                a = k + 0.5 - half
                if s1[b] <= 0.0:
                    zl = c1[b] + (0.0 if a >= 0 else a * s2[b])
                    zh = c2[b] + (a * s2[b] if a >= 0 else 0.0)
                else:
                    zl = c1[b] + (a * s1[b] if a >= 0 else a * s2[b])
                    zh = c2[b] + (a * s2[b] if a >= 0 else a * s1[b])
                mar = 8.0 * EPS * (cm + abs(a) * s2[b]) + 1e-300
                ja = _idx(zl - mar, lo, invw, nb)
                jb = _idx(zh + mar, lo, invw, nb)
            else:
                ja = nb
                jb = nb - 1
            if ja > ptr:
                j = k - half
                d0 = P0[ja] - P0[ptr]
                d1 = P1[ja] - P1[ptr]
                A += P2[ja] - P2[ptr]
                n += d0
                Sx += d1
                Sj += j * d0
                Sxj += j * d1
                Sjj += j * j * d0
                ptr = ja
            if jb >= ptr:
                zmax = max(zmax, jb - ptr + 1)
                for q in range(ptr, jb + 1):
                    if cnt[q] == 0.0:
                        continue
                    tlo = max(lo + q * w - dlt, lo)
                    thi = min(lo + (q + 1) * w + dlt, hi)
                    kmin, kmax = _krange(tlo, thi, N, half, s1[b], s2[b], c1[b], c2[b])
                    if kmin == kmax:
                        j = kmin - half
                        A += P2[q + 1] - P2[q]
                        n += cnt[q]
                        d1 = P1[q + 1] - P1[q]
                        Sx += d1
                        Sj += j * cnt[q]
                        Sxj += j * d1
                        Sjj += j * j * cnt[q]
                    else:
                        ns += cnt[q]
                        d = _dist(tlo, thi, kmin, kmax, half, s1[b], s2[b], c1[b], c2[b])
                        strad += cnt[q] * d * d
                ptr = jb + 1
        qv, _, _ = _q_box_min(A, n, Sx, Sj, Sxj, Sjj, s1[b], s2[b], c1[b], c2[b])
        mag = A + n * cm * cm + s2[b] * s2[b] * Sjj + 2.0 * abs(Sxj) * s2[b] + 2.0 * cm * abs(Sx) \
            + 2.0 * s2[b] * cm * abs(Sj)
        lb[b] = max(qv, 0.0) + strad * (1.0 - 1e-12) - K * mag
        nstr[b] = ns
        zw[b] = zmax


@njit(cache=True)
def hist_upper(P0, P1, P2, cnt, lo, invw, nb, N, K, S, M, out):
    """Upper bounds of min F: at (S[i], M[i]) every bin wholly on the level nearest its mean."""
    for i in range(S.size):
        s = S[i]
        m = M[i]
        tot = 0.0
        mag = 0.0
        for q in range(nb):
            c = cnt[q]
            if c == 0.0:
                continue
            s1 = P1[q + 1] - P1[q]
            s2 = P2[q + 1] - P2[q]
            k = np.rint((s1 / c - m) / s)
            k = min(max(k, 0.0), float(N))
            L = m + k * s
            tot += s2 - 2.0 * L * s1 + L * L * c
            mag += s2 + 2.0 * abs(L * s1) + L * L * c
        out[i] = tot + K * mag


# --------------------------------------------------------------------------- level 2: exact on straddlers
@njit(cache=True)
def sub_bounds(xs, F6, N, s1, s2, c1, c2, lb_out, npat_out):
    """:func:`quanttheory.affine._kernels.offset_box_bounds` on the sorted straddlers ``xs`` plus the
    fixed quadratic ``F6 = (A, n, Sx, Sj, Sxj, Sjj)`` (values whose code is constant on a hull
    containing every box)."""
    half = 0.5 * N
    for b in range(s1.size):
        A = F6[0]
        n = F6[1]
        Sx = F6[2]
        Sj = F6[3]
        Sxj = F6[4]
        Sjj = F6[5]
        strad = 0.0
        npat = 1.0
        cur_k = -1
        cur_r = 0
        # blocked sums (BLK values per partial sum): rounding ~ (BLK + size / BLK) eps, not size eps
        bA = 0.0
        bn = 0.0
        bx = 0.0
        bj = 0.0
        bxj = 0.0
        bjj = 0.0
        for i in range(xs.size):
            if i % BLK == 0:
                A += bA
                n += bn
                Sx += bx
                Sj += bj
                Sxj += bxj
                Sjj += bjj
                bA = 0.0
                bn = 0.0
                bx = 0.0
                bj = 0.0
                bxj = 0.0
                bjj = 0.0
            t = xs[i]
            kmin, kmax = _krange(t, t, N, half, s1[b], s2[b], c1[b], c2[b])
            if kmin == kmax:
                j = kmin - half
                bA += t * t
                bn += 1.0
                bx += t
                bj += j
                bxj += t * j
                bjj += j * j
            else:
                if kmax - kmin == 1:
                    if kmin == cur_k:
                        cur_r += 1
                    else:
                        npat *= cur_r + 1
                        cur_k = kmin
                        cur_r = 1
                else:
                    npat *= 1e12
                d = _dist(t, t, kmin, kmax, half, s1[b], s2[b], c1[b], c2[b])
                strad += d * d
        npat *= cur_r + 1
        A += bA
        n += bn
        Sx += bx
        Sj += bj
        Sxj += bxj
        Sjj += bjj
        q, _, _ = _q_box_min(A, n, Sx, Sj, Sxj, Sjj, s1[b], s2[b], c1[b], c2[b])
        cm = max(abs(c1[b]), abs(c2[b]))
        mag = A + n * cm * cm + s2[b] * s2[b] * Sjj + 2.0 * abs(Sxj) * s2[b] + 2.0 * cm * abs(Sx) \
            + 2.0 * s2[b] * cm * abs(Sj)
        lb_out[b] = max(q, 0.0) + strad * (1.0 - 4.0 * (xs.size + 8) * EPS) \
            - 16.0 * EPS * (BLK + xs.size / BLK + 64.0) * mag
        npat_out[b] = min(npat, 1.1e12)


@njit(cache=True)
def sub_value(xs, F6, N, s, c):
    """F at (s, c): the fixed quadratic plus each straddler's distance to its nearest level."""
    half = 0.5 * N
    v = _q_eval(F6[0], F6[1], F6[2], F6[3], F6[4], F6[5], s, c)
    m = c - half * s
    for i in range(xs.size):
        v += _nearest_sq(xs[i], m, s, N)
    return v


@njit(cache=True)
def sub_leaf(xs, F6, N, s1, s2, c1, c2, max_pat, out):
    """Exact min of F over one box whose straddlers each span two codes: every monotone assignment
    (per boundary, a split point in the sorted straddlers), each least-squares problem minimized
    over the box.  out = (value, s, c, patterns)."""
    half = 0.5 * N
    A = F6[0]
    n = F6[1]
    Sx = F6[2]
    Sj = F6[3]
    Sxj = F6[4]
    Sjj = F6[5]
    m = xs.size
    sk = np.empty(m, dtype=np.int64)
    sx = np.empty(m)
    ns = 0
    for i in range(m):
        t = xs[i]
        kmin, kmax = _krange(t, t, N, half, s1, s2, c1, c2)
        A += t * t
        if kmin == kmax:
            j = kmin - half
            n += 1.0
            Sx += t
            Sj += j
            Sxj += t * j
            Sjj += j * j
        else:
            sk[ns] = kmin
            sx[ns] = t
            ns += 1
    gs = np.empty(ns + 1, dtype=np.int64)
    ng = 0
    for q in range(ns):
        if q == 0 or sk[q] != sk[q - 1]:
            gs[ng] = q
            ng += 1
    gs[ng] = ns
    choice = np.zeros(max(ng, 1), dtype=np.int64)
    best = np.inf
    bs = 0.5 * (s1 + s2)
    bc = 0.5 * (c1 + c2)
    count = 0
    while True:
        n2 = n + ns
        Sx2 = Sx
        Sj2 = Sj
        Sxj2 = Sxj
        Sjj2 = Sjj
        for g in range(ng):
            for q in range(gs[g], gs[g + 1]):
                k = sk[q] if (q - gs[g]) < choice[g] else sk[q] + 1
                j = k - half
                Sx2 += sx[q]
                Sj2 += j
                Sxj2 += sx[q] * j
                Sjj2 += j * j
        v, s, c = _q_box_min(A, n2, Sx2, Sj2, Sxj2, Sjj2, s1, s2, c1, c2)
        count += 1
        if v < best:
            best = v
            bs = s
            bc = c
        if count >= max_pat:
            break
        g = 0
        while g < ng:
            choice[g] += 1
            if choice[g] <= gs[g + 1] - gs[g]:
                break
            choice[g] = 0
            g += 1
        if g == ng:
            break
    out[0] = best
    out[1] = bs
    out[2] = bc
    out[3] = count


# --------------------------------------------------------------------------- driver
def _passes(x):
    step = PASS  # read at call time (tests make it small)
    for i in range(0, x.size, step):
        yield x[i:i + step]


def _split(s1, s2, c1, c2, N):
    """Each box in two along its longer side (scale side measured as N/2 (s2 - s1))."""
    sc, cc = 0.5 * (s1 + s2), 0.5 * (c1 + c2)
    sp = N / 2 * (s2 - s1) >= (c2 - c1)
    return (np.concatenate([s1[sp], sc[sp], s1[~sp], s1[~sp]]),
            np.concatenate([sc[sp], s2[sp], s2[~sp], s2[~sp]]),
            np.concatenate([c1[sp], c1[sp], c1[~sp], cc[~sp]]),
            np.concatenate([c2[sp], c2[sp], cc[~sp], c2[~sp]]))


class Solution(NamedTuple):
    """Result of :func:`solve`: the returned point ``(s, m)`` (data units), its ``sse`` summed directly,
    and ``lower``, a certified lower bound of ``min F``: equal to ``sse`` when ``status == "exact"``;
    below it when ``status == "bracket"`` (search budget reached: the optimum lies in ``[lower, sse]``)."""

    s: float
    m: float
    sse: float
    lower: float
    status: str
    info: dict


def _F(x, mu, N, s, m):
    return float(sum(sse_pass(ch, mu, N, s, m) for ch in _passes(x)))


def _refine(x, mu, N, s, c, passes):
    """Pattern search on ``(s, c)`` (``c`` the levels' centre) with ``F`` summed exactly, at most ``passes``
    data passes; returns the best point and its ``F`` (only used for a bracket's upper end)."""
    half = 0.5 * N
    Fb = _F(x, mu, N, s, c - half * s)
    ds, dc = s / (4 * N), s / 4
    used = 1
    while used + 4 <= passes and (ds > 1e-9 * s or dc > 1e-9 * s):
        moved = False
        for s2, c2 in ((s + ds, c), (s - ds, c), (s, c + dc), (s, c - dc)):
            if s2 <= 0:
                continue
            v = _F(x, mu, N, s2, c2 - half * s2)
            used += 1
            if v < Fb:
                Fb, s, c, moved = v, s2, c2, True
                break
        if not moved:
            ds, dc = ds / 2, dc / 2
    return s, c, Fb


def solve(x, bits, xmin, xmax) -> Solution:
    """Real-offset optimum of the 1-D float32/float64 unit ``x`` (finite, not constant; ``xmin``/``xmax``
    its extrema): exact (``status "exact"``), or, when the search budget (boxes, bound evaluations,
    resolved boxes held, gathered values) is reached -- high bit widths --, the best point found
    (pattern search from the incumbent, ``F`` summed directly) with a certified lower bound
    (``status "bracket"``: the smallest lower bound of the boxes not yet excluded)."""
    N = 2**int(bits) - 1
    n = x.size
    mu = sum(float(c.sum(dtype=np.float64)) for c in _passes(x)) / n
    lo, hi = float(np.float64(xmin) - mu), float(np.float64(xmax) - mu)
    span = hi - lo
    nb = int(min(NB_MAX, max(64, n // 16)))
    invw, w = nb / span, span / nb
    dlt = 16 * EPS * (abs(lo) + abs(hi) + span)
    cnt, S1, S2 = np.zeros(nb), np.zeros(nb), np.zeros(nb)
    for c in _passes(x):
        hist_pass(c, mu, lo, invw, nb, cnt, S1, S2)
    P0 = np.concatenate([[0.0], np.cumsum(cnt)])
    P1 = np.concatenate([[0.0], np.cumsum(S1)])
    P2 = np.concatenate([[0.0], np.cumsum(S2)])
    K = 4 * EPS * (float(cnt.max()) + nb + N + 16)  # rounding of the per-bin and prefix sums
    Sc = float(P2[-1])  # sum t^2: F for s >= 2 span (one level at most in the data's hull)
    half = N / 2
    # incumbent: a scan of (s, m) around min-max, bins wholly assigned (an attained upper bound)
    s0 = span / N
    S, D = np.meshgrid(s0 * np.geomspace(0.25, 1.5, 31), np.linspace(-0.5, 0.5, 31), indexing="ij")
    S, D = S.ravel(), D.ravel()
    M = lo + D * S * half + (span - S * N) / 2
    ub = np.empty(S.size)
    hist_upper(P0, P1, P2, cnt, lo, invw, nb, N, K, S, M, ub)
    i0 = int(np.argmin(ub))
    U = min(float(ub[i0]), Sc)
    upt = (float(S[i0]), float(M[i0] + half * S[i0]))  # (s, c) of the incumbent (for a bracket)
    s_hi = 2 * span
    ns_, nc_ = 16, 16
    se = np.concatenate([[0.0], (s0 / 64) * (s_hi / (s0 / 64)) ** (np.arange(ns_) / (ns_ - 1))])
    ce = np.linspace(lo - half * s_hi, hi + half * s_hi, nc_ + 1)
    A1, B1 = np.meshgrid(se[:-1], ce[:-1], indexing="ij")
    A2, B2 = np.meshgrid(se[1:], ce[1:], indexing="ij")
    s1, s2, c1, c2 = A1.ravel(), A2.ravel(), B1.ravel(), B2.ravel()
    ready = []
    nready = 0
    rounds = 0
    evals = 0
    info = {"n": n, "bits": int(bits)}

    def bracket(lb_open, why):
        """Budget reached: best point found and the smallest lower bound still open.  Start points: the
        search's incumbent and the exact integer zero-point optimum (``m = -s z``, a point of this
        form: the bracket's upper end is never above that optimum), the better one refined."""
        from .data import _solve_one

        zp = _solve_one(x, int(bits), name="unit", allow_constant=True)
        cz = (float(zp.scale), float(zp.offset) - mu + half * float(zp.scale))
        st = min((upt, cz), key=lambda p: _F(x, mu, N, p[0], p[1] - half * p[0]))
        s, c, F = _refine(x, mu, N, st[0], st[1], REFINE_PASSES)
        lower = min(max(float(lb_open), 0.0), F)
        info.update(level1_rounds=rounds, level1_evaluations=evals, stopped=why)
        return Solution(float(s), float(c - half * s + mu), F, lower, "bracket", info)

    if n <= DIRECT_N:  # small units: the histogram is coarser than the levels; every value is gathered
        ready.append(np.stack([s1, s2, c1, c2, np.full(s1.size, -np.inf)], axis=1))
        s1 = s1[:0]
    while s1.size:
        rounds += 1
        B = s1.size
        evals += B
        lb, nstr, zw = np.empty(B), np.empty(B), np.empty(B, dtype=np.int64)
        hist_bounds(P0, P1, P2, cnt, lo, hi, w, dlt, invw, nb, N, K, s1, s2, c1, c2, lb, nstr, zw)
        pick = np.argsort(lb)[:UB_PER_ROUND]  # upper bounds (O(NB) each) at the most promising boxes
        sc, cc = 0.5 * (s1[pick] + s2[pick]), 0.5 * (c1[pick] + c2[pick])
        ubs = np.empty(pick.size)
        hist_upper(P0, P1, P2, cnt, lo, invw, nb, N, K, sc, cc - half * sc, ubs)
        j = int(np.argmin(ubs))
        if float(ubs[j]) < U:
            U, upt = float(ubs[j]), (float(sc[j]), float(cc[j]))
        keep = lb <= U
        s1, s2, c1, c2, nstr, zw, lb = s1[keep], s2[keep], c1[keep], c2[keep], nstr[keep], zw[keep], lb[keep]
        done = (s1 > 0) & (((zw <= 4) & (nstr <= GATHER_CAP // 8)) | (nstr <= 64))
        if done.any():
            ready.append(np.stack([s1[done], s2[done], c1[done], c2[done], lb[done]], axis=1))
            nready += int(done.sum())
            if nready > MAX_READY:  # drop the resolved boxes the incumbent now excludes
                Rr = np.concatenate(ready)
                ready, nready = [Rr[Rr[:, 4] <= U]], int((Rr[:, 4] <= U).sum())
        s1, s2, c1, c2, lbo = s1[~done], s2[~done], c1[~done], c2[~done], lb[~done]
        over = (s1.size > MAX_BOXES_1 and "boxes") or (rounds > 400 and "rounds") or \
            (evals > MAX_EVALS_1 and "evaluations") or (nready > MAX_READY and "resolved boxes")
        if over:
            lbs = [float(lbo.min())] if lbo.size else []
            lbs += [float(r[:, 4].min()) for r in ready if r.shape[0]]
            return bracket(min(lbs + [U]), f"level 1: more than the budget of {over}")
        if s1.size:
            s1, s2, c1, c2 = _split(s1, s2, c1, c2, N)
        if DEBUG:
            print("level1", rounds, B, int(keep.sum()), s1.size, U)
    info.update(level1_rounds=rounds, level1_evaluations=evals)
    R = np.concatenate(ready) if ready else np.empty((0, 5))
    del ready
    R = R[R[:, 4] <= U]
    if not R.shape[0]:
        raise RuntimeError("internal error: no box survived the streamed real-offset search; please report")
    best = (math.inf, None, None)
    groups = [R]
    while groups:
        G = groups.pop()
        G = G[G[:, 4] <= min(U, best[0])]
        if not G.shape[0]:
            continue
        h = [float(G[:, 0].min()), float(G[:, 1].max()), float(G[:, 2].min()), float(G[:, 3].max())]
        lbh, nsh, zwh = np.empty(1), np.empty(1), np.empty(1, dtype=np.int64)
        hist_bounds(P0, P1, P2, cnt, lo, hi, w, dlt, invw, nb, N, K, *(np.array([v]) for v in h), lbh, nsh, zwh)
        if nsh[0] > GATHER_CAP and G.shape[0] > 1:
            # split the group by its longer extent
            axis = 0 if half * (h[1] - h[0]) >= h[3] - h[2] else 2
            mid = 0.5 * (G[:, axis] + G[:, axis + 1])
            o = np.argsort(mid, kind="stable")
            groups += [G[o[: G.shape[0] // 2]], G[o[G.shape[0] // 2:]]]
            continue
        try:
            val, s, c = _level2(x, mu, N, h, G, U, best[0], int(nsh[0]))
        except BudgetExceeded as exc:
            # regions not resolved: this group and those left; resolved ones hold no value below best
            lbs = [float(G[:, 4].min())] + [float(g[:, 4].min()) for g in groups if g.shape[0]]
            if best[1] is not None and best[0] < U:
                U, upt = best[0], (best[1], best[2])
            return bracket(min(lbs + [best[0], U]), f"level 2: {exc}")
        if val < best[0]:
            best = (val, s, c)
    val, s, c = best
    if s is None:
        raise RuntimeError("internal error: no box resolved in the streamed real-offset search; please report")
    m = c - half * s
    sse = _F(x, mu, N, s, m)
    return Solution(float(s), float(m + mu), sse, sse, "exact", info)


def _level2(x, mu, N, h, G, U, F_best, nzone=GATHER_CAP):
    """Exact min of F over the boxes G (rows s1, s2, c1, c2, lb) inside the hull h: one gather pass,
    then branch and bound on the sorted straddlers.  Returns (value, s, c).

    The straddlers lie in the hull's zone bins (``nzone`` values, from the histogram), so the buffer
    holds ``nzone`` values (plus slack), never more than ``GATHER_CAP``; should the count exceed it
    (rounding at a bin edge), the pass is repeated with a buffer of the exact count."""
    size = int(min(GATHER_CAP, nzone + nzone // 64 + 1024))
    while True:
        acc, cmp = np.zeros(6), np.zeros(6)
        buf = np.empty(size)
        count = np.zeros(1, dtype=np.int64)
        for ch in _passes(x):
            gather_pass(ch, mu, N, h[0], h[1], h[2], h[3], acc, cmp, buf, count)
        if count[0] <= buf.size:
            break
        if count[0] > GATHER_CAP:
            raise BudgetExceeded(f"more than {GATHER_CAP} straddlers on one box")
        size = int(count[0])
    F6 = acc + cmp
    xs = np.sort(buf[:count[0]])
    del buf
    half = N / 2
    s1, s2, c1, c2 = (np.ascontiguousarray(G[:, i]) for i in range(4))
    best = min(U, F_best)
    Fb, sb, cb = math.inf, None, None
    out = np.empty(4)
    rounds = 0
    work = 0
    while s1.size:
        rounds += 1
        B = s1.size
        work += B * (xs.size + 64)
        if work > WORK_2:
            raise BudgetExceeded(f"the exact real-offset search needs more than {WORK_2:.0e} value-box bounds "
                                 "on this unit")
        lb, npat = np.empty(B), np.empty(B)
        sub_bounds(xs, F6, N, s1, s2, c1, c2, lb, npat)
        keep = lb <= min(best, Fb)
        s1, s2, c1, c2, npat = s1[keep], s2[keep], c1[keep], c2[keep], npat[keep]
        if not s1.size:
            break
        sc, cc = 0.5 * (s1 + s2), 0.5 * (c1 + c2)
        for i in np.argsort(lb[keep])[:UB_PER_ROUND]:
            best = min(best, sub_value(xs, F6, N, float(sc[i]), float(cc[i])) * (1 + 1e-12))
        leaf = npat <= MAX_PATTERNS
        for b in np.flatnonzero(leaf):
            sub_leaf(xs, F6, N, s1[b], s2[b], c1[b], c2[b], MAX_PATTERNS + 1, out)
            if out[0] < Fb:
                Fb, sb, cb = float(out[0]), float(out[1]), float(out[2])
        s1, s2, c1, c2 = s1[~leaf], s2[~leaf], c1[~leaf], c2[~leaf]
        if s1.size > MAX_BOXES or rounds > 400:
            raise BudgetExceeded(f"the exact real-offset search needs more than {MAX_BOXES} boxes on this unit")
        if s1.size:
            s1, s2, c1, c2 = _split(s1, s2, c1, c2, N)
        if DEBUG:
            print("level2", rounds, B, int(keep.sum()), int(leaf.sum()), s1.size, xs.size, best, Fb)
    if sb is None:
        return math.inf, None, None
    return sub_value(xs, F6, N, sb, cb), sb, cb
