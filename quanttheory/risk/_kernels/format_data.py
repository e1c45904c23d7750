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
    Neumaier's compensated summation. The residual is ``(x - p) - e`` with ``p + e = s q`` exactly
    (``_two_prod``): when ``s q`` is within a factor 2 of ``x``, ``x - p`` is exact (Sterbenz), so a
    small residual keeps its relative accuracy (``x - s*q`` in float64 would lose
    ``log10(|x| / |x - s q|)`` digits to the rounding of the product)."""
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
        p, e = _two_prod(s, levels[lo])  # x - s q with one rounding: exact s q, then Sterbenz
        d = (xi - p) - e
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
        p, e = _two_prod(s, c[j])
        d = (x - p) - e
        tot, comp = _neumaier_add(tot, comp, (P0[i + 1] - P0[i]) * (d * d))
    return tot + comp


@numba.njit(cache=True)
def polish_acc(v, P0, b, c, s, acc):
    """Add ``sum cnt v c_k`` (``acc[0] + acc[1]``) and ``sum cnt c_k**2`` (``acc[2] + acc[3]``) in
    double-double, groups ``k`` at scale ``s`` (sorted distinct ``v``, counts from ``P0``): the vertex
    ``s' = (acc[0] + acc[1]) / (acc[2] + acc[3])`` of the piece holding ``s`` (its exact minimizer)."""
    j = 0
    P = b.size
    for i in range(v.size):
        x = v[i]
        while j < P and x > b[j] * s:
            j += 1
        w = P0[i + 1] - P0[i]
        cj = c[j]
        p1, e1 = _two_prod(cj, x)
        p, e = _two_prod(w, p1)
        e += w * e1
        h, t = _two_sum(acc[0], p)
        acc[0], acc[1] = _two_sum(h, t + acc[1] + e)
        q1, f1 = _two_prod(cj, cj)
        q, f = _two_prod(w, q1)
        f += w * f1
        h, t = _two_sum(acc[2], q)
        acc[2], acc[3] = _two_sum(h, t + acc[3] + f)


# --------------------------------------------------------------------------- batched rows
# One call optimizes every row of a 2-D array (per-channel / per-group scales): no Python per row.
# Per row: both sides sorted; end pieces; SSE at the amax scale (first upper bound); octave
# intervals of the bracket bounded below by the distance of each value to the swept levels (an
# O(n + P) walk over the sorted values), survivors split into ``nsub`` sub-intervals, bounded again;
# then best-first by lower bound: each sub-interval is swept exactly (its breakpoints enumerated
# per midpoint, sorted, applied to the centred coefficients, each piece minimized in closed form)
# until the next lower bound exceeds the best value found.  Rounding: every coefficient carries
# an absolute error bound (products and differences of float64 numbers, compensated sums).

ROW_CAP = 4096  # candidate local minima kept per row (compacted by the current threshold)


@numba.njit(cache=True)
def _lohi(ck, s1, s2):
    if ck >= 0.0:
        return ck * s1, ck * s2
    return ck * s2, ck * s1


@numba.njit(cache=True)
def _lb_side(v, c, s1, s2):
    """``sum_i dist(v_i, U_k c_k [s1, s2])**2`` minus its rounding bound (``v`` sorted, >= 0)."""
    K1 = c.size
    tot = 0.0
    rnd = 0.0
    k = 0
    lo_k, hi_k = _lohi(c[0], s1, s2)
    if K1 > 1:
        lo_n, hi_n = _lohi(c[1], s1, s2)
    else:
        lo_n, hi_n = np.inf, np.inf
    for i in range(v.size):
        x = v[i]
        while k + 1 < K1 and x >= lo_n:
            k += 1
            lo_k, hi_k = lo_n, hi_n
            if k + 1 < K1:
                lo_n, hi_n = _lohi(c[k + 1], s1, s2)
            else:
                lo_n, hi_n = np.inf, np.inf
        if x > hi_k:
            d = x - hi_k
            ref = hi_k
            if lo_n - x < d:
                d = lo_n - x
                ref = lo_n
        elif x < lo_k:
            d = lo_k - x
            ref = lo_k
        else:
            continue
        eta = EPS * (x + 2.0 * abs(ref))
        tot += d * d
        rnd += 2.0 * d * eta + eta * eta
    r = tot - rnd - 4.0 * EPS * (v.size + 2) * tot
    return r if r > 0.0 else 0.0


@numba.njit(cache=True)
def _coeffs_side(v, b, c, s_as, s0, acc):
    """Add ``sum (v - s0 c_k)**2``, ``sum c_k (v - s0 c_k)``, ``sum c_k**2`` with the groups ``k`` of
    scale ``s_as`` to ``acc`` = (C0, comp0, C1, comp1, C2, R0, A0, R1, A1, A2) (R: rounding of the terms,
    A: sums of magnitudes)."""
    P = b.size
    j = 0
    for i in range(v.size):
        x = v[i]
        while j < P and x > b[j] * s_as:
            j += 1
        cj = c[j]
        sc = s0 * cj
        e = x - sc
        eta = EPS * (x + 2.0 * abs(sc))
        acc[0], acc[1] = _neumaier_add(acc[0], acc[1], e * e)
        acc[2], acc[3] = _neumaier_add(acc[2], acc[3], cj * e)
        acc[4] += cj * cj
        acc[5] += 2.0 * abs(e) * eta + eta * eta
        acc[6] += e * e
        acc[7] += abs(cj) * eta
        acc[8] += abs(cj * e)
        acc[9] += cj * cj


@numba.njit(cache=True)
def _walk(x, b, A, B, P, jlo, jhi):
    """One step of the midpoint walk of :func:`_count_side`: the range ``[jlo, jhi)`` of ``j`` with
    ``b_j A < x <= b_j B`` for the next (not smaller) value ``x``, from the previous range."""
    while jlo < P and x > b[jlo] * B:
        jlo += 1
    if jhi < jlo:
        jhi = jlo
    while jhi < P and x > b[jhi] * A:
        jhi += 1
    return jlo, jhi


@numba.njit(cache=True)
def _count_side(v, b, A, B):
    """Number of breakpoints ``v_i / b_j`` in ``(A, B]``, i.e. ``b_j A < v_i <= b_j B`` (float
    products, as the group tests): for ascending ``v`` the midpoints ``j`` of value ``i`` are a range
    ``[jlo, jhi)`` whose ends only move up (one walk, O(n + P))."""
    P = b.size
    tot = 0
    jlo = 0
    jhi = 0
    for i in range(v.size):
        x = v[i]
        jlo, jhi = _walk(x, b, A, B, P, jlo, jhi)
        tot += jhi - jlo
    return tot


@numba.njit(cache=True)
def _fill_side(v, b, binv, c, A, B, s0, es, dd, E, acc):
    """Breakpoints ``v / b_j`` in ``(A, B]`` (the walk of :func:`_count_side`) with the changes of the
    three coefficients (``dd[e]``) written from index ``E``; their rounding bounds added to ``acc``.
    Returns the new ``E``."""
    P = b.size
    jlo = 0
    jhi = 0
    for i in range(v.size):
        x = v[i]
        jlo, jhi = _walk(x, b, A, B, P, jlo, jhi)
        for j in range(jlo, jhi):
            cn = c[j]  # as s grows past x / b_j, x moves down from c[j + 1] to c[j]
            co = c[j + 1]
            scn = s0 * cn
            sco = s0 * co
            se = x * binv[j]  # x / b_j up to an ulp: only orders the pieces (sums are exact per event)
            if se < A:
                se = A
            elif se > B:
                se = B
            en = x - scn
            eo = x - sco
            hn = EPS * (x + 2.0 * abs(scn))
            ho = EPS * (x + 2.0 * abs(sco))
            es[E] = se
            dd[E, 0] = en * en - eo * eo
            dd[E, 1] = cn * en - co * eo
            dd[E, 2] = cn * cn - co * co
            acc[5] += 2.0 * abs(en) * hn + hn * hn + 2.0 * abs(eo) * ho + ho * ho
            acc[6] += en * en + eo * eo
            acc[7] += abs(cn) * hn + abs(co) * ho
            acc[8] += abs(cn * en) + abs(co * eo)
            acc[9] += cn * cn + co * co
            E += 1
    return E


@numba.njit(cache=True)
def _errs(acc, nterms):
    """Error bounds of C0, C1, C2 from the accumulators (compensated sums: 4 eps of the magnitudes)."""
    g = 4.0 * EPS + 2.0 * nterms * EPS * EPS
    return (acc[5] + g * acc[6], acc[7] + g * acc[8], g * acc[9])


@numba.njit(cache=True)
def _bucket_sort(es, dd, E, A, B, es2, dd2, kb, cnt):
    """``es[:E]`` (in ``[A, B]``) and the rows of ``dd`` sorted by ``es`` into ``es2``, ``dd2``: one
    bucket per event (linear in ``s``), then an insertion sort that only moves events within their
    bucket (the events of one interval are spread evenly: O(E))."""
    if E == 0:
        return
    f = E / (B - A) if B > A else 0.0
    for k in range(E + 1):
        cnt[k] = 0
    for e in range(E):
        k = int((es[e] - A) * f)
        if k >= E:
            k = E - 1
        elif k < 0:
            k = 0
        kb[e] = k
        cnt[k + 1] += 1
    for k in range(E):
        cnt[k + 1] += cnt[k]
    for e in range(E):
        p = cnt[kb[e]]
        cnt[kb[e]] = p + 1
        es2[p] = es[e]
        dd2[p, 0] = dd[e, 0]
        dd2[p, 1] = dd[e, 1]
        dd2[p, 2] = dd[e, 2]
    for i in range(1, E):
        x = es2[i]
        if x >= es2[i - 1]:
            continue
        a0 = dd2[i, 0]
        a1 = dd2[i, 1]
        a2 = dd2[i, 2]
        j = i - 1
        while j >= 0 and es2[j] > x:
            es2[j + 1] = es2[j]
            dd2[j + 1, 0] = dd2[j, 0]
            dd2[j + 1, 1] = dd2[j, 1]
            dd2[j + 1, 2] = dd2[j, 2]
            j -= 1
        es2[j + 1] = x
        dd2[j + 1, 0] = a0
        dd2[j + 1, 1] = a1
        dd2[j + 1, 2] = a2


@numba.njit(cache=True)
def _add_cand(cs, cv, ce, cc, nc, s, val, err, c2, thr):
    """Append a candidate if ``val - err <= thr``; compact by ``thr`` when full.  Returns the new count
    (-1: overflow)."""
    if val - err > thr:
        return nc
    if nc == cs.size:
        k = 0
        for q in range(nc):
            if cv[q] - ce[q] <= thr:
                cs[k] = cs[q]
                cv[k] = cv[q]
                ce[k] = ce[q]
                cc[k] = cc[q]
                k += 1
        nc = k
        if nc == cs.size:
            return -1
    cs[nc] = s
    cv[nc] = val
    ce[nc] = err
    cc[nc] = c2
    return nc + 1


@numba.njit(cache=True)
def _distinct(v):
    """Sorted distinct values of sorted ``v`` and their prefix counts (as the single-array engine's)."""
    vu = np.empty(v.size)
    P0 = np.empty(v.size + 1)
    P0[0] = 0.0
    nu = 0
    i = 0
    while i < v.size:
        x = v[i]
        j = i + 1
        while j < v.size and v[j] == x:
            j += 1
        vu[nu] = x
        P0[nu + 1] = P0[nu] + (j - i)
        nu += 1
        i = j
    return vu[:nu], P0[:nu + 1]


@numba.njit(cache=True)
def polish_direct2(vP, P0P, bP, cP, vN, P0N, bN, cN, s, acc):
    """Polished scale (vertex of the piece holding ``s``, or ``s`` itself if that is not a positive
    finite number) and the SSE there by the direct pass over both sides (the operations of the
    single-array engine's :func:`polish_acc` and :func:`direct_sse_sorted` loop, in its order)."""
    acc[:] = 0.0
    polish_acc(vP, P0P, bP, cP, s, acc)
    polish_acc(vN, P0N, bN, cN, s, acc)
    den = acc[2] + acc[3]
    sp = s
    if den > 0.0:
        t = (acc[0] + acc[1]) / den
        if t > 0.0 and t < np.inf:
            sp = t
    d = 0.0
    d = d + direct_sse_sorted(vP, P0P, bP, cP, sp)
    d = d + direct_sse_sorted(vN, P0N, bN, cN, sp)
    return sp, d


@numba.njit(cache=True)
def rows_optimum(X, levels, mids, lmax, bP, cP, bN, cN, rtol, nsub, max_near, near_direct, max_direct, dbl,
                 scale, mse, lower, serr, amax_s, amax_m, near_s, near_m, near_cnt, status, stats):
    """Exact MSE-optimal scale of every row of ``X`` (2-D, float32/float64, finite; validated by the
    caller) for the level set ``levels`` (midpoints ``mids``; ``bP, cP`` / ``bN, cN`` the positive
    midpoints and group levels as seen from the non-negative / negative side).  Per row: the scale,
    its MSE (direct pass), certified lower bound of the MSE, scale error bound, amax scale and MSE,
    the near-optimal set (``near_cnt`` entries), ``status`` (0 done; 1 degenerate or one-sided
    row, 2 candidate buffer overflow: the caller solves these rows with the single-array engine),
    ``stats`` = (intervals bounded, intervals swept, breakpoints swept)."""
    m, n = X.shape
    biP = 1.0 / bP
    biN = 1.0 / bN
    cap_ev = 1024
    es = np.empty(cap_ev)
    dd = np.empty((cap_ev, 3))
    es2 = np.empty(cap_ev)
    dd2 = np.empty((cap_ev, 3))
    kb = np.empty(cap_ev, dtype=np.int64)
    cnt = np.empty(cap_ev + 1, dtype=np.int64)
    cs = np.empty(ROW_CAP)
    cv = np.empty(ROW_CAP)
    ce = np.empty(ROW_CAP)
    cc = np.empty(ROW_CAP)
    acc = np.zeros(10)
    xr = np.empty(n)
    vp_buf = np.empty(n)
    vn_buf = np.empty(n)
    cap_iv = 256
    ia_ = np.empty(cap_iv)
    ib_ = np.empty(cap_iv)
    il_ = np.empty(cap_iv)
    for r in range(m):
        npos = 0
        nneg = 0
        amax = 0.0
        for i in range(n):
            xi = np.float64(X[r, i])
            xr[i] = xi
            if xi >= 0.0:
                vp_buf[npos] = xi
                npos += 1
            else:
                vn_buf[nneg] = -xi
                nneg += 1
            if abs(xi) > amax:
                amax = abs(xi)
        vp = np.sort(vp_buf[:npos])
        vn = np.sort(vn_buf[:nneg])
        # which sides can move data towards non-zero levels / have breakpoints
        useful = False
        ok = True
        s_lo = np.inf
        s_hi = 0.0
        for sd in range(2):
            v = vp if sd == 0 else vn
            b = bP if sd == 0 else bN
            c = cP if sd == 0 else cN
            if v.size == 0:
                continue
            vmax = v[v.size - 1]
            if vmax > 0.0 and c[c.size - 1] > 0.0:
                useful = True
            if vmax > 0.0:
                if b.size == 0:
                    ok = False
                    continue
                ip = np.searchsorted(v, 0.0, side="right")
                lo = v[ip] / b[b.size - 1]
                hi = vmax / b[0]
                if lo < s_lo:
                    s_lo = lo
                if hi > s_hi:
                    s_hi = hi
        if not useful or not ok or s_hi == 0.0:
            status[r] = 1
            continue
        status[r] = 0
        nc = 0
        lower_all = np.inf
        best_ub = np.inf
        # ---- doubling-closed level sets (dbl: every level l with 2 l in [lo, hi] has 2 l a level):
        # for t >= t_clip (no value clips) the absolute levels 2t L within the clipping range are a
        # subset of t L, so every value's error at 2t is >= its error at t and SSE(2t) >= SSE(t):
        # the minimum over s >= t_clip is attained in [t_clip, 2 t_clip]; s_top cuts the search there
        s_top = s_hi
        if dbl:
            tc = 0.0
            okc = True
            for sd in range(2):
                v = vp if sd == 0 else vn
                c = cP if sd == 0 else cN
                if v.size and v[v.size - 1] > 0.0:
                    if c[c.size - 1] > 0.0:
                        tc = max(tc, v[v.size - 1] / c[c.size - 1])
                    else:
                        okc = False
            if okc and tc > 0.0 and 2.0 * tc < s_hi:
                s_top = max(2.0 * tc, s_lo)
        # ---- end pieces: (0, s_lo) at 0.5 s_lo and (s_hi, inf) at 2 s_hi (the latter not when cut)
        for endk in range(2):
            if endk == 1 and s_top < s_hi:
                continue
            se = 0.5 * s_lo if endk == 0 else 2.0 * s_hi
            a = 0.0 if endk == 0 else s_hi
            acc[:] = 0.0
            _coeffs_side(vp, bP, cP, se, se, acc)
            _coeffs_side(vn, bN, cN, se, se, acc)
            C0 = acc[0] + acc[1]
            C1 = acc[2] + acc[3]
            C2 = acc[4]
            e0, e1, e2 = _errs(acc, n)
            if endk == 0:
                tmax = max(abs(a - se), abs(s_lo - se))
                tl = a - se
                tr = s_lo - se
            else:
                tmax = abs(C1 / C2) if C2 > 0.0 else 0.0
                tl = a - se
                tr = np.inf
            err = e0 + 2.0 * tmax * e1 + tmax * tmax * e2
            if C2 > 0.0:
                tv = C1 / C2
            else:
                tv = tl
            if tv < tl:
                tv = tl
            if tv > tr:
                tv = tr
            if C2 <= 0.0 and C1 > 0.0 and tr < np.inf:
                tv = tr
            val = C0 - 2.0 * tv * C1 + tv * tv * C2
            if val < 0.0:
                val = 0.0
            sm = se + tv
            if val - err < lower_all:
                lower_all = val - err
            if sm > 0.0:
                if val + err < best_ub:
                    best_ub = val + err
                nc = _add_cand(cs, cv, ce, cc, nc, sm, val, err, C2, np.inf)
        # ---- upper bound at the amax scale
        sa = amax / lmax
        amax_s[r] = sa
        vdP, P0P = _distinct(vp)
        vdN, P0N = _distinct(vn)
        da = direct_sse_sorted(vdP, P0P, bP, cP, sa)
        da = da + direct_sse_sorted(vdN, P0N, bN, cN, sa)
        amax_m[r] = da / n
        ub0 = da * (1.0 + 8.0 * n * EPS)
        if ub0 < best_ub:
            best_ub = ub0
        # ---- octave intervals of the bracket, bounded; survivors split and bounded again
        L = math.log2(s_top / s_lo) if s_top > s_lo else 0.0
        G = int(math.ceil(L)) if L > 0.0 else 1
        niv = 0
        nb = 0
        for g in range(G):
            a = s_lo * 2.0 ** (L * g / G) if g > 0 else s_lo
            bb = s_lo * 2.0 ** (L * (g + 1) / G) if g + 1 < G else s_top
            lb = _lb_side(vp, cP, a, bb) + _lb_side(vn, cN, a, bb)
            nb += 1
            if lb > best_ub * (1.0 + 2.0 * rtol):
                continue
            for h in range(nsub):
                a2 = a * (bb / a) ** (h / nsub) if h > 0 else a
                b2 = a * (bb / a) ** ((h + 1) / nsub) if h + 1 < nsub else bb
                lb2 = _lb_side(vp, cP, a2, b2) + _lb_side(vn, cN, a2, b2) if nsub > 1 else lb
                nb += 1
                if lb2 > best_ub * (1.0 + 2.0 * rtol):
                    continue
                if niv == ia_.size:
                    t1 = np.empty(2 * niv)
                    t2 = np.empty(2 * niv)
                    t3 = np.empty(2 * niv)
                    t1[:niv] = ia_
                    t2[:niv] = ib_
                    t3[:niv] = il_
                    ia_, ib_, il_ = t1, t2, t3
                ia_[niv] = a2
                ib_[niv] = b2
                il_[niv] = lb2
                niv += 1
        # ---- best-first exact sweeps
        order = np.argsort(il_[:niv])
        nsw = 0
        nev_tot = 0
        for q in range(niv):
            k = order[q]
            if il_[k] > best_ub * (1.0 + 2.0 * rtol):
                break
            A = ia_[k]
            B = ib_[k]
            s0 = 0.5 * (A + B)
            half = 0.5 * (B - A)
            E = _count_side(vp, bP, A, B) + _count_side(vn, bN, A, B)
            if E > es.size:
                es = np.empty(2 * E)
                dd = np.empty((2 * E, 3))
                es2 = np.empty(2 * E)
                dd2 = np.empty((2 * E, 3))
                kb = np.empty(2 * E, dtype=np.int64)
                cnt = np.empty(2 * E + 1, dtype=np.int64)
            acc[:] = 0.0
            _coeffs_side(vp, bP, cP, A, s0, acc)
            _coeffs_side(vn, bN, cN, A, s0, acc)
            E2 = _fill_side(vp, bP, biP, cP, A, B, s0, es, dd, 0, acc)
            E2 = _fill_side(vn, bN, biN, cN, A, B, s0, es, dd, E2, acc)
            e0, e1, e2 = _errs(acc, n + 2 * E)
            C0 = acc[0]
            k0 = acc[1]
            C1 = acc[2]
            k1 = acc[3]
            C2 = acc[4]
            _bucket_sort(es, dd, E, A, B, es2, dd2, kb, cnt)
            nsw += 1
            nev_tot += E
            # rounding of C0 - 2 t C1 + t^2 C2 with |t| <= half: the coefficients' bounds plus the
            # evaluation (4 eps of the magnitudes)
            errc = e0 + 2.0 * half * e1 + half * half * e2
            # MSE has concave kinks only: its minimum over [A, B] is an inside vertex or an end
            c0 = C0 + k0
            c1 = C1 + k1
            run_v = c0 + 2.0 * half * c1 + half * half * C2
            if run_v < 0.0:
                run_v = 0.0
            run_s = A
            run_c2 = C2
            run_e = errc + 4.0 * EPS * (abs(c0) + 2.0 * half * abs(c1) + half * half * C2)
            thr = best_ub * (1.0 + 2.0 * rtol)
            l = A
            for p in range(E + 1):
                rr = es2[p] if p < E else B
                if (rr > l or E == 0) and C2 > 0.0:
                    c1 = C1 + k1
                    if (l - s0) * C2 <= c1 and c1 <= (rr - s0) * C2:
                        tv = c1 / C2
                        c0 = C0 + k0
                        val = c0 - 2.0 * tv * c1 + tv * tv * C2
                        if val < 0.0:
                            val = 0.0
                        sv = s0 + tv
                        err = errc + 4.0 * EPS * (abs(c0) + 2.0 * half * abs(c1) + half * half * C2)
                        if val < run_v:
                            run_v = val
                            run_s = sv
                            run_c2 = C2
                            run_e = err
                        if sv > 0.0:
                            if val + err < best_ub:
                                best_ub = val + err
                                thr = best_ub * (1.0 + 2.0 * rtol)
                            nc = _add_cand(cs, cv, ce, cc, nc, sv, val, err, C2, thr)
                            if nc < 0:
                                break
                if p < E:
                    C0, k0 = _neumaier_add(C0, k0, dd2[p, 0])
                    C1, k1 = _neumaier_add(C1, k1, dd2[p, 1])
                    C2 += dd2[p, 2]
                    if rr > l:
                        l = rr
            if nc < 0:
                break
            c0 = C0 + k0
            c1 = C1 + k1
            val = c0 - 2.0 * half * c1 + half * half * C2
            if val < 0.0:
                val = 0.0
            if val < run_v:
                run_v = val
                run_s = B
                run_c2 = C2
                run_e = errc + 4.0 * EPS * (abs(c0) + 2.0 * half * abs(c1) + half * half * C2)
            if run_v - run_e < lower_all:
                lower_all = run_v - run_e
            # safety net: the run's least value (rounding at piece ends)
            if run_s > 0.0:
                nc = _add_cand(cs, cv, ce, cc, nc, run_s, run_v, run_e, run_c2, best_ub * (1.0 + 2.0 * rtol))
                if nc < 0:
                    break
        stats[r, 0] = nb
        stats[r, 1] = nsw
        stats[r, 2] = nev_tot
        if nc <= 0:
            status[r] = 2
            continue
        # ---- near-optimal set and the direct pass (as the single-array engine)
        best_est = np.inf
        emax = 0.0
        ibest = 0
        for q in range(nc):
            if cs[q] > 0.0:
                if cv[q] < best_est:
                    best_est = cv[q]
                    ibest = q
                if ce[q] > emax:
                    emax = ce[q]
        thr = best_est * (1.0 + rtol) + 2.0 * emax
        sel = np.empty(nc, dtype=np.int64)
        ns = 0
        for q in range(nc):
            if cs[q] > 0.0 and cv[q] <= thr:
                sel[ns] = q
                ns += 1
        # by value, exact ties by scale (two stable sorts: np.lexsort((cs, cv)) of the single-array engine)
        sel = sel[:ns]
        sel = sel[np.argsort(cs[sel], kind="mergesort")]
        sel = sel[np.argsort(cv[sel], kind="mergesort")]
        # distinct scales, each at its first position (np.unique(..., return_index=True))
        byc = np.argsort(cs[sel], kind="mergesort")
        keepu = np.zeros(ns, dtype=np.bool_)
        for q in range(ns):
            if q == 0 or cs[sel[byc[q]]] != cs[sel[byc[q - 1]]]:
                keepu[byc[q]] = True
        near = np.empty(ns, dtype=np.int64)
        nall = 0
        for q in range(ns):
            if keepu[q]:
                near[nall] = sel[q]
                nall += 1
        nn = min(nall, max_near)
        # direct pass on the best few, and on every candidate the swept values cannot tell from the
        # best; each at its polished scale; least SSE wins, exact ties to the smaller scale
        ntop = min(near_direct, nall)
        for q in range(nall):
            if cv[near[q]] <= best_est + ce[ibest] + ce[near[q]] and q + 1 > ntop:
                ntop = min(q + 1, max_direct)
        dvals = np.empty(ntop)
        spol = np.empty(ntop)
        ib2 = 0
        pacc = np.zeros(4)
        for q in range(ntop):
            sp, d = polish_direct2(vdP, P0P, bP, cP, vdN, P0N, bN, cN, cs[near[q]], pacc)
            spol[q] = sp
            dvals[q] = d / n
            if dvals[q] < dvals[ib2] or (dvals[q] == dvals[ib2] and sp < spol[ib2]):
                ib2 = q
        jb = near[ib2]
        s_star = spol[ib2]
        bestv = dvals[ib2]
        scale[r] = s_star
        mse[r] = bestv
        near_s[r, 0] = s_star
        near_m[r, 0] = bestv
        cntn = 1
        lim = best_est * (1.0 + rtol) + ce[ibest]
        for q in range(nn):
            cand = near[q]
            if cand == jb:
                continue
            if cv[cand] <= lim + ce[cand] and cntn < max_near:
                near_s[r, cntn] = spol[q] if q < ntop else cs[cand]
                near_m[r, cntn] = dvals[q] if q < ntop else cv[cand] / n
                cntn += 1
        near_cnt[r] = cntn
        lo_ = lower_all / n
        if lo_ < 0.0:
            lo_ = 0.0
        if lo_ > bestv:
            lo_ = bestv
        lower[r] = lo_
        c2n = cc[jb] / n
        se_ = 4.0 * EPS * s_star
        if c2n > 0.0:
            t = math.sqrt(2.0 * ce[jb] / n / c2n)
            if t > se_:
                se_ = t
        serr[r] = se_
