"""Numba kernels of the format data-optimum engine (private; see quanttheory.risk.format_data).

Inputs are validated in Python first: ``v`` sorted distinct magnitudes (float64, finite, >= 0),
prefix sums in one row-major table ``W`` of shape ``(nu + 1, 5)``, columns ``P0`` (counts),
``H1, L1`` (sum v) and ``H2, L2`` (sum v**2) as float64 high/low words (one row = one cache
line or two: the bounds read the five words of a row together), ``b`` positive midpoints, ``c``
the group levels (``c.size == b.size + 1``), positive scales.  A range sum is
``(H[i1] - H[i0]) + (L[i1] - L[i0])``.
``gamma`` bounds the prefix words' relative error (of the prefix value itself).
"""

from __future__ import annotations

import math

import numba
import numpy as np

EPS = 2.0**-52


@numba.njit(cache=True)
def _rs(W, h, i0, i1):
    """Range sum ``[i0, i1)`` of the prefix in columns ``h`` (high word) and ``h + 1`` (low word)."""
    return (W[i1, h] - W[i0, h]) + (W[i1, h + 1] - W[i0, h + 1])


COARSE = 64  # stride of the coarse index ``vc = v[::COARSE]`` (fits in cache: 1/64 of v)


@numba.njit(cache=True)
def _find_right(v, vc, x, lo):
    """First index ``i >= lo`` with ``v[i] > x`` (``v`` sorted; ``v[lo-1] <= x`` assumed), as
    :func:`_gallop_right`, but far jumps go through the coarse index ``vc = v[::COARSE]``: a
    search in ``vc`` (in cache) and one in a block of ``COARSE`` values, instead of ~log2(n)
    probes of ``v`` that each miss the cache (v of 1e6 values is 8 MB)."""
    n = v.size
    if lo >= n or v[lo] > x:
        return lo
    # a few local probes first (neighbouring groups are often close)
    hi = lo + 1
    step = 1
    while hi < n and v[hi] <= x and step <= 16:
        lo = hi
        step *= 2
        hi = lo + step
    if hi >= n or v[hi] > x:
        if hi > n:
            hi = n
        return lo + 1 + np.searchsorted(v[lo + 1:hi], x, side="right")
    # v[hi] <= x: the answer is > hi; coarse search: vc[kc - 1] <= x < vc[kc]
    kc = np.searchsorted(vc, x, side="right")
    a = (kc - 1) * COARSE + 1
    if a < hi + 1:
        a = hi + 1
    b = kc * COARSE
    if b > n:
        b = n
    if b <= a:
        return a
    return a + np.searchsorted(v[a:b], x, side="right")


@numba.njit(cache=True)
def _gallop_right(v, x, lo):
    """First index ``i >= lo`` with ``v[i] > x`` (``v`` sorted; ``v[lo-1] <= x`` assumed)."""
    n = v.size
    if lo >= n or v[lo] > x:
        return lo
    step = 1
    hi = lo + 1
    while hi < n and v[hi] <= x:
        lo = hi
        step *= 2
        hi = lo + step
    if hi > n:
        hi = n
    return lo + 1 + np.searchsorted(v[lo + 1:hi], x, side="right")


@numba.njit(cache=True)
def lb_fixed(v, vc, W, b, c, gamma, s1s, s2s, out, evout):
    """Second-order lower bounds over ``[s1s[k], s2s[k]]``; NaN where a value straddles two midpoints.
    ``evout[k]``: the number of breakpoints in ``(s1, s2]`` as :func:`events` (-1 where NaN)."""
    nu = v.size
    P = b.size
    # per-midpoint search hints from the previous interval (queries ascend when the intervals are
    # sorted, as the wrapper passes them: the searches then move a few values, in cache)
    hA = np.zeros(P, dtype=np.int64)
    hB = np.zeros(P, dtype=np.int64)
    xA = np.full(P, -np.inf)
    xB = np.full(P, -np.inf)
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
        ok = True
        nev = 0
        prev = 0
        vmin = v[0]
        vmax = v[nu - 1]
        for j in range(P + 1):
            last = False
            if j < P:
                x1 = b[j] * s1
                x2 = b[j] * s2
                if x2 < vmin:  # no value reaches this midpoint: empty group and straddlers
                    continue
                if x1 >= vmax:
                    ia = nu
                    ib = nu
                    last = True
                else:
                    st = prev
                    if x1 >= xA[j] and hA[j] > st:
                        st = hA[j]
                    ia = _find_right(v, vc, x1, st)
                    st = ia
                    if x2 >= xB[j] and hB[j] > st:
                        st = hB[j]
                    ib = _find_right(v, vc, x2, st)
                    hA[j] = ia
                    xA[j] = x1
                    hB[j] = ib
                    xB[j] = x2
            else:
                ia = nu
                ib = nu
            if ia < prev:
                ok = False
                break
            if ia > prev:
                N = W[ia, 0] - W[prev, 0]
                S1 = _rs(W, 1, prev, ia)
                S2 = _rs(W, 3, prev, ia)
                cj = c[j]
                C0 += S2 - 2.0 * s0 * cj * S1 + s0 * s0 * cj * cj * N
                C1 += cj * (S1 - s0 * cj * N)
                C2 += cj * cj * N
                a = abs(cj) * (s0 + half)
                # prefix words: relative to the prefix; float64 arithmetic: relative to this group's sums
                err += 2.0 * gamma * (W[ia, 3] + 2.0 * a * W[ia, 1]) + 16.0 * EPS * (S2 + 2.0 * a * S1 + a * a * N)
            if j < P and ib > ia:
                cl = c[j]
                cu = c[j + 1]
                hi_l = cl * s2 if cl >= 0.0 else cl * s1
                lo_u = cu * s1 if cu >= 0.0 else cu * s2
                if lo_u > hi_l:
                    gm = 0.5 * (hi_l + lo_u)
                    # = min(max(searchsorted(v, .), lower), ib), searched in the straddlers' own
                    # range v[ia:ib] (a few values, in cache) instead of the whole array
                    r0 = ia + np.searchsorted(v[ia:ib], hi_l, side="right")
                    r1 = r0 + np.searchsorted(v[r0:ib], gm, side="right")
                    r2 = r1 + np.searchsorted(v[r1:ib], lo_u, side="left")
                    for (i0, i1, cen) in ((r0, r1, hi_l), (r1, r2, lo_u)):
                        if i1 > i0:
                            N = W[i1, 0] - W[i0, 0]
                            S1 = _rs(W, 1, i0, i1)
                            S2 = _rs(W, 3, i0, i1)
                            val = S2 - 2.0 * cen * S1 + cen * cen * N
                            if val > 0.0:
                                strad += val
                            ca = abs(cen)
                            err += 2.0 * gamma * (W[i1, 3] + 2.0 * ca * W[i1, 1]) + 8.0 * EPS * (
                                S2 + 2.0 * ca * S1 + ca * ca * N)
            if j < P:
                prev = ib
                nev += ib - ia
            if last:
                break
        if not ok:
            out[k] = math.nan
            evout[k] = -1
            continue
        evout[k] = nev
        # minimum of C0 - 2 t C1 + t^2 C2 over t in [-half, half]
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
def values(v, vc, W, b, c, gamma, ss, out, err_out):
    """``sum (v - s q(v/s))**2`` at each scale from range sums, and a rounding bound."""
    nu = v.size
    P = b.size
    hA = np.zeros(P, dtype=np.int64)
    xA = np.full(P, -np.inf)
    for k in range(ss.size):
        s = ss[k]
        tot = 0.0
        err = 0.0
        prev = 0
        for j in range(P + 1):
            if j < P:
                x = b[j] * s
                if x < v[0]:
                    continue
                st = prev
                if x >= xA[j] and hA[j] > st:
                    st = hA[j]
                i1 = _find_right(v, vc, x, st)
                hA[j] = i1
                xA[j] = x
            else:
                i1 = nu
            if i1 > prev:
                N = W[i1, 0] - W[prev, 0]
                S1 = _rs(W, 1, prev, i1)
                S2 = _rs(W, 3, prev, i1)
                cj = c[j]
                val = S2 - 2.0 * s * cj * S1 + s * s * cj * cj * N
                if val > 0.0:
                    tot += val
                a = abs(cj) * s
                err += 2.0 * gamma * (W[i1, 3] + 2.0 * a * W[i1, 1]) + 8.0 * EPS * (S2 + 2.0 * a * S1 + a * a * N)
            if i1 > prev:
                prev = i1
            if prev >= nu:
                break
        out[k] = tot
        err_out[k] = err


@numba.njit(cache=True)
def events(v, vc, b, s1s, s2s, out):
    """Number of (distinct value, midpoint) breakpoints ``v / b_j`` in each ``(s1, s2]`` (searches
    hinted by the previous query of the same midpoint, as in :func:`lb_fixed`)."""
    P = b.size
    hA = np.zeros(P, dtype=np.int64)
    hB = np.zeros(P, dtype=np.int64)
    xA = np.full(P, -np.inf)
    xB = np.full(P, -np.inf)
    for k in range(s1s.size):
        tot = 0
        for j in range(P):
            x1 = b[j] * s1s[k]
            x2 = b[j] * s2s[k]
            st = hA[j] if x1 >= xA[j] else 0
            ia = _find_right(v, vc, x1, st)
            st = hB[j] if (x2 >= xB[j] and hB[j] > ia) else ia
            ib = _find_right(v, vc, x2, st)
            hA[j] = ia
            xA[j] = x1
            hB[j] = ib
            xB[j] = x2
            tot += ib - ia
        out[k] = tot


@numba.njit(cache=True)
def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@numba.njit(cache=True)
def _two_prod(a, b):
    """``a * b = p + e`` exactly (Dekker's split; no FMA needed; finite, non-huge inputs)."""
    p = a * b
    f = 134217729.0  # 2^27 + 1
    t = f * a
    ah = t - (t - a)
    al = a - ah
    t = f * b
    bh = t - (t - b)
    bl = b - bh
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return p, e


@numba.njit(cache=True)
def distinct_prefix(v, vu, W):
    """From sorted ``v``: distinct values ``vu`` with counts, and the prefix table ``W`` (rows
    ``0..nu``, first row 0): column 0 prefix sums of counts ``P0`` (exact), columns 1-2 the
    double-double prefix sums ``H1 + L1`` of ``cnt * vu``, columns 3-4 ``H2 + L2`` of
    ``cnt * vu**2``.  Returns ``nu``.  Every term is >= 0 and formed with an
    error <= 2 u^2 of itself; each double-double addition errs by <= 4 u^2 of the running sum,
    so a prefix is within ``(4 i + 2) u^2`` (u = 2^-53) of its exact value, far below the
    engine's allowance ``gamma`` (``>= 8192 eps_ld``)."""
    n = v.size
    nu = 0
    for h in range(5):
        W[0, h] = 0.0
    h1 = 0.0
    l1 = 0.0
    h2 = 0.0
    l2 = 0.0
    i = 0
    while i < n:
        x = v[i]
        j = i + 1
        while j < n and v[j] == x:
            j += 1
        w = float(j - i)
        vu[nu] = x
        # w * x (exact as p + e), then w * x * x = (p + e) * x
        p, e = _two_prod(w, x)
        q, f = _two_prod(p, x)
        f += e * x
        # h1 + l1 += p + e
        s, t = _two_sum(h1, p)
        t += l1 + e
        h1, l1 = _two_sum(s, t)
        s, t = _two_sum(h2, q)
        t += l2 + f
        h2, l2 = _two_sum(s, t)
        nu += 1
        W[nu, 0] = W[nu - 1, 0] + w
        W[nu, 1] = h1
        W[nu, 2] = l1
        W[nu, 3] = h2
        W[nu, 4] = l2
        i = j
    return nu


@numba.njit(cache=True)
def _neumaier_add(tot, comp, t):
    """One step of Neumaier's compensated summation: ``(tot + t, comp + rounding error of that add)``;
    the compensated sum is ``tot + comp`` at the end."""
    y = tot + t
    if abs(tot) >= abs(t):
        comp += (tot - y) + t
    else:
        comp += (t - y) + tot
    return y, comp


@numba.njit(cache=True)
def direct_sse(x, s, levels, mids):
    """``sum_i (x_i - s q(x_i / s))**2`` in one pass (nearest level by binary search on the
    midpoints, saturating; at an exact tie both levels give the same error), summed with
    Neumaier's compensated summation."""
    tot = 0.0
    comp = 0.0
    m = mids.size
    for i in range(x.size):
        xi = x[i]
        u = xi / s
        lo = 0
        hi = m
        while lo < hi:  # first j with u <= mids[j]
            md = (lo + hi) >> 1
            if mids[md] < u:
                lo = md + 1
            else:
                hi = md
        d = xi - s * levels[lo]
        tot, comp = _neumaier_add(tot, comp, d * d)
    return tot + comp


@numba.njit(cache=True)
def direct_sse_sorted(v, P0, b, c, s):
    """``sum_i cnt_i (v_i - s c_{k(v_i)})**2`` over sorted distinct magnitudes ``v`` with counts
    ``P0[i+1] - P0[i]``, the group (level) ``k`` found by walking the midpoints ``b_j s`` upwards
    (values ascend), compensated (Neumaier) summation: a direct pass, independent of the prefix sums."""
    tot = 0.0
    comp = 0.0
    j = 0
    P = b.size
    for i in range(v.size):
        x = v[i]
        while j < P and x > b[j] * s:
            j += 1
        d = x - s * c[j]
        tot, comp = _neumaier_add(tot, comp, (P0[i + 1] - P0[i]) * (d * d))
    return tot + comp
