"""Numba kernels of the streamed (bounded-memory) format data optimum (private; see
:mod:`quanttheory.risk.format_stream`).

Histogram of magnitudes ``v >= 0`` of one side: bin 0 holds the zeros; bins ``1..nco`` one
octave each (``frexp`` exponent ``e`` in ``[e_min, e_cut)``); then ``2**m`` bins per octave for
``e`` in ``[e_cut, e_max]`` (the mantissa ``f in [1/2, 1)`` cut into ``2**m`` equal parts).  Bins
are disjoint and ordered by value.  Per bin: count, the compensated sums ``D1 = sum (v - r)``,
``D2 = sum (v - r)**2`` about the bin's lower edge ``r`` (``v - r`` is exact: same binade), and the
observed ``lo = min v``, ``hi = max v``.  After compaction (empty bins dropped) the B&B kernels
read ``lo``, ``hi`` and a row-major prefix table ``W`` of shape ``(nb + 1, 5)`` (``P0`` counts,
``H1 + L1`` = sum v, ``H2 + L2`` = sum v**2 as float64 high/low words), the same layout as
:mod:`quanttheory.risk._kernels.format_data`.  Every search helper is in this file (numba's cache
does not track callees in other files).
"""

from __future__ import annotations

import math

import numba
import numpy as np

EPS = 2.0**-52


@numba.njit(cache=True)
def _nadd(tot, comp, t):
    """Neumaier step: returns ``(tot + t, comp + rounding error)``."""
    y = tot + t
    if abs(tot) >= abs(t):
        comp += (tot - y) + t
    else:
        comp += (t - y) + tot
    return y, comp


@numba.njit(cache=True)
def _bin_of(v, e_min, e_cut, m, nco):
    """Bin index of ``v >= 0`` and the bin's reference (lower edge) ``r``."""
    if v == 0.0:
        return 0, 0.0
    f, e = math.frexp(v)  # v = f 2**e, f in [1/2, 1)
    if e < e_cut:
        return 1 + (e - e_min), math.ldexp(0.5, e)
    k = int((f - 0.5) * (1 << (m + 1)))
    return 1 + nco + ((e - e_cut) << m) + k, math.ldexp(0.5 + k / (1 << (m + 1)), e)


@numba.njit(cache=True)
def _side_value(xi, sign):
    """The magnitude of ``xi`` on one side (``sign`` +1: ``xi >= 0``, -1: ``-xi`` for ``xi < 0``), or
    -1.0 when ``xi`` is not on that side (NaN is on neither)."""
    if sign > 0:
        return xi if xi >= 0.0 else -1.0
    return -xi if xi < 0.0 else -1.0


@numba.njit(cache=True)
def hist_fill(x, sign, e_min, e_cut, m, nco, N, D1, C1, D2, C2, lo, hi):
    """Add the values of one side of the chunk ``x`` (``sign`` +1: ``x >= 0``; -1: ``-x`` for
    ``x < 0``) to the histogram arrays (N: counts; D1/C1, D2/C2: Neumaier sums and compensations)."""
    for i in range(x.size):
        v = _side_value(x[i], sign)
        if v < 0.0:
            continue
        k, r = _bin_of(v, e_min, e_cut, m, nco)
        d = v - r
        N[k] += 1.0
        D1[k], C1[k] = _nadd(D1[k], C1[k], d)
        D2[k], C2[k] = _nadd(D2[k], C2[k], d * d)
        if N[k] == 1.0 or v < lo[k]:
            lo[k] = v
        if N[k] == 1.0 or v > hi[k]:
            hi[k] = v


@numba.njit(cache=True)
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@numba.njit(cache=True)
def _two_prod(a, b):
    p = a * b
    f = 134217729.0
    t = f * a
    ah = t - (t - a)
    al = a - ah
    t = f * b
    bh = t - (t - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


@numba.njit(cache=True)
def hist_prefix(N, R, D1, D2, W, Pc, lo, hi):
    """Prefix table ``W`` (rows ``0..nb``) of the non-empty bins given in order (counts ``N``,
    references ``R``, compensated sums ``D1``, ``D2``): ``sum v = N r + D1`` and ``sum v**2 =
    N r**2 + 2 r D1 + D2`` formed in double-double and prefix-summed in double-double.  ``Pc``:
    prefix of the *collection cost* of a bin (its count, or 1 when all its values are equal)."""
    nb = N.size
    for h in range(5):
        W[0, h] = 0.0
    Pc[0] = 0.0
    h1 = 0.0
    l1 = 0.0
    h2 = 0.0
    l2 = 0.0
    for k in range(nb):
        w = N[k]
        r = R[k]
        p, e = _two_prod(w, r)          # N r
        s1h, s1l = _two_sum(p, D1[k])
        s1l += e
        q, f = _two_prod(p, r)          # N r^2
        f += e * r
        g, gl = _two_prod(2.0 * r, D1[k])
        s2h, t = _two_sum(q, g)
        t += f + gl + D2[k]
        s, t2 = _two_sum(h1, s1h)
        t2 += l1 + s1l
        h1, l1 = _two_sum(s, t2)
        s, t2 = _two_sum(h2, s2h)
        t2 += l2 + t
        h2, l2 = _two_sum(s, t2)
        W[k + 1, 0] = W[k, 0] + w
        W[k + 1, 1] = h1
        W[k + 1, 2] = l1
        W[k + 1, 3] = h2
        W[k + 1, 4] = l2
        Pc[k + 1] = Pc[k] + (w if hi[k] > lo[k] else 1.0)


@numba.njit(cache=True)
def _first_gt(a, x, lo, hi):
    """First index ``i`` in ``[lo, hi)`` with ``a[i] > x`` (``a`` ascending), else ``hi``."""
    while lo < hi:
        md = (lo + hi) >> 1
        if a[md] > x:
            hi = md
        else:
            lo = md + 1
    return lo


@numba.njit(cache=True)
def _first_ge(a, x, lo, hi):
    """First index ``i`` in ``[lo, hi)`` with ``a[i] >= x``, else ``hi``."""
    while lo < hi:
        md = (lo + hi) >> 1
        if a[md] >= x:
            hi = md
        else:
            lo = md + 1
    return lo


@numba.njit(cache=True)
def _gallop_gt(a, x, lo):
    """First index ``i >= lo`` with ``a[i] > x`` (exponential then binary search)."""
    n = a.size
    if lo >= n or a[lo] > x:
        return lo
    step = 1
    hi = lo + 1
    while hi < n and a[hi] <= x:
        lo = hi
        step *= 2
        hi = lo + step
    if hi > n:
        hi = n
    return _first_gt(a, x, lo + 1, hi)


@numba.njit(cache=True)
def _rs(W, h, i0, i1):
    return (W[i1, h] - W[i0, h]) + (W[i1, h + 1] - W[i0, h + 1])


@numba.njit(cache=True)
def _sq_sum(W, i0, i1, C, gamma):
    """``sum (v - C)**2`` over bins ``[i0, i1)`` from range sums, and its rounding allowance."""
    N = W[i1, 0] - W[i0, 0]
    S1 = _rs(W, 1, i0, i1)
    S2 = _rs(W, 3, i0, i1)
    val = S2 - 2.0 * C * S1 + C * C * N
    ca = abs(C)
    err = 2.0 * gamma * (W[i1, 3] + 2.0 * ca * W[i1, 1]) + 8.0 * EPS * (S2 + 2.0 * ca * S1 + ca * ca * N)
    return val, err


@numba.njit(cache=True)
def hist_lb(lo, hi, W, Pc, b, c, gamma, s1s, s2s, out, evout):
    """Lower bound of ``sum_v min_k (v - s c_k)**2`` over ``s in [s1, s2]`` per interval (one side).

    Bins whose values keep their group over the whole interval (``lo > b_{j-1} s2``, ``hi <= b_j
    s1``) are summed into one quadratic in ``s`` (centred at the interval's midpoint), minimized
    over the interval; the other bins (*straddlers* of some ``b_j [s1, s2]``) are bounded below by
    the distance of their values to the gap between ``c_j [s1, s2]`` and ``c_{j+1} [s1, s2]``, which
    holds for any level assignment (the bins of a gap's two halves exactly, the bin across its
    middle by ``count * min distance``, the rest by 0).  Rounding allowances are subtracted.
    ``evout``: the collection cost (values, equal values counted once) of the straddler bins."""
    nb = lo.size
    P = b.size
    for k in range(s1s.size):
        s1 = s1s[k]
        s2 = s2s[k]
        s0 = 0.5 * (s1 + s2)
        half = 0.5 * (s2 - s1)
        C0 = 0.0
        C1 = 0.0
        C2 = 0.0
        err = 0.0
        strad = 0.0
        nev = 0.0
        prev = 0
        for j in range(P + 1):
            if prev >= nb:
                break
            if j < P:
                x1 = b[j] * s1
                x2 = b[j] * s2
                ia = _gallop_gt(hi, x1, prev)
                ib = _gallop_gt(lo, x2, ia)
            else:
                ia = nb
                ib = nb
            if ia > prev:
                N = W[ia, 0] - W[prev, 0]
                S1 = _rs(W, 1, prev, ia)
                S2 = _rs(W, 3, prev, ia)
                cj = c[j]
                C0 += S2 - 2.0 * s0 * cj * S1 + s0 * s0 * cj * cj * N
                C1 += cj * (S1 - s0 * cj * N)
                C2 += cj * cj * N
                a = abs(cj) * (s0 + half)
                err += 2.0 * gamma * (W[ia, 3] + 2.0 * a * W[ia, 1]) + 16.0 * EPS * (S2 + 2.0 * a * S1 + a * a * N)
            if j < P and ib > ia:
                nev += Pc[ib] - Pc[ia]
                cl = c[j]
                cu = c[j + 1]
                hi_l = cl * s2 if cl >= 0.0 else cl * s1
                lo_u = cu * s1 if cu >= 0.0 else cu * s2
                if lo_u > hi_l:
                    gm = 0.5 * (hi_l + lo_u)
                    r0 = _first_ge(lo, hi_l, ia, ib)
                    r1 = _first_gt(hi, gm, r0, ib)
                    if r1 > r0:
                        val, e = _sq_sum(W, r0, r1, hi_l, gamma)
                        if val > 0.0:
                            strad += val
                        err += e
                    r2 = r1
                    if r1 < ib and lo[r1] <= gm:
                        if hi[r1] <= lo_u:
                            d = min(lo[r1] - hi_l, lo_u - hi[r1])
                            if d > 0.0:
                                strad += (W[r1 + 1, 0] - W[r1, 0]) * d * d
                                err += 4.0 * EPS * (W[r1 + 1, 0] - W[r1, 0]) * d * d
                        r2 = r1 + 1
                    r3 = _first_gt(hi, lo_u, r2, ib)
                    if r3 > r2:
                        val, e = _sq_sum(W, r2, r3, lo_u, gamma)
                        if val > 0.0:
                            strad += val
                        err += e
            if j < P:
                prev = ib
        evout[k] = nev
        best = C0 + 2.0 * half * C1 + half * half * C2
        val = C0 - 2.0 * half * C1 + half * half * C2
        if val < best:
            best = val
        if C2 > 0.0:
            t = C1 / C2
            if -half < t < half:
                val = C0 - 2.0 * t * C1 + t * t * C2
                if val < best:
                    best = val
        if best < 0.0:
            best = 0.0
        r = best + strad - err
        out[k] = r if r > 0.0 else 0.0


@numba.njit(cache=True)
def hist_ub(lo, hi, W, b, c, gamma, ss, out):
    """Upper bound of ``sum_v min_k (v - s c_k)**2`` at each scale (one side): bins inside one
    group exactly, a bin across midpoints with all its values on the best of the levels of the
    groups it spans; plus the rounding allowance."""
    nb = lo.size
    P = b.size
    for k in range(ss.size):
        s = ss[k]
        tot = 0.0
        err = 0.0
        prev = 0
        j = 0
        while j <= P and prev < nb:
            if j < P:
                x = b[j] * s
                i1 = _gallop_gt(hi, x, prev)
            else:
                x = math.inf
                i1 = nb
            if i1 > prev:
                val, e = _sq_sum(W, prev, i1, s * c[j], gamma)
                if val > 0.0:
                    tot += val
                err += e
            prev = i1
            if j < P and i1 < nb and lo[i1] <= x:
                jh = j + 1
                while jh < P and hi[i1] > b[jh] * s:
                    jh += 1
                bst = math.inf
                be = 0.0
                for jj in range(j, jh + 1):
                    val, e = _sq_sum(W, i1, i1 + 1, s * c[jj], gamma)
                    if val < 0.0:
                        val = 0.0
                    if val + e < bst:
                        bst = val + e
                        be = e
                tot += bst - be
                err += be
                prev = i1 + 1
                j = jh
                continue
            j += 1
        out[k] = tot + err


@numba.njit(cache=True)
def _group(v, b, s):
    """Group index of ``v`` at scale ``s``: first ``j`` with ``v <= b_j s`` (``P`` if none)."""
    lo = 0
    hi = b.size
    while lo < hi:
        md = (lo + hi) >> 1
        if v <= b[md] * s:
            hi = md
        else:
            lo = md + 1
    return lo


@numba.njit(cache=True)
def cluster_pass(x, sign, b, c, As, Bs, s0s, e_min, e_cut, m, nco, rel, acc, buf, off, nbuf, cap):
    """One side of chunk ``x`` against the clusters ``[As[q], Bs[q]]``: only values in bins whose bit
    ``q`` is set in ``rel`` (the straddler bins of cluster ``q``, bins of equal values excluded) are
    read.  A value whose group is the same at ``A`` and ``B`` is added (Neumaier) to ``acc[q]`` =
    (C0, comp, C1, comp, C2, comp, sum |C0 terms|, sum |C1 terms|) with ``C0 = sum (v - s0 c)**2``,
    ``C1 = sum c (v - s0 c)``, ``C2 = sum c**2``; the others (*straddlers*) are written to
    ``buf[off[q] + nbuf[q]]``.  Returns False if a buffer would overflow its capacity ``cap[q]``."""
    for i in range(x.size):
        v = _side_value(x[i], sign)
        if v < 0.0:
            continue
        kb, r = _bin_of(v, e_min, e_cut, m, nco)
        mask = rel[kb]
        if mask == 0:
            continue
        for q in range(As.size):
            if not (mask >> np.uint64(q)) & np.uint64(1):
                continue
            ga = _group(v, b, As[q])
            gb = _group(v, b, Bs[q])
            if ga == gb:
                cj = c[ga]
                d = v - s0s[q] * cj
                acc[q, 0], acc[q, 1] = _nadd(acc[q, 0], acc[q, 1], d * d)
                acc[q, 2], acc[q, 3] = _nadd(acc[q, 2], acc[q, 3], cj * d)
                acc[q, 4], acc[q, 5] = _nadd(acc[q, 4], acc[q, 5], cj * cj)
                acc[q, 6] += d * d
                acc[q, 7] += abs(cj * d)
            else:
                if nbuf[q] >= cap[q]:
                    return False
                buf[off[q] + nbuf[q]] = v
                nbuf[q] += 1
    return True
