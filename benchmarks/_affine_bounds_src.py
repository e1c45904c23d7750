"""Experimental bounds for the fused affine row kernel (issue 16, session of 2026-12-01 early morning): measured,
not used by the package.  Written as if inside ``quanttheory/affine/_rows.py`` (they use its helpers); the bench
script ``bench_affine_bounds.py`` imports this file for the per-box measurements and appends the part after
``# --- kernel source ---`` to a copy of ``_rows.py`` for the whole-kernel variants.

* :func:`_bexact`: the exact minimum of ``F_z`` over a box when it is below ``best``, with the crossings counted
  into buckets (a lower bound per bucket with slack ``1 / M`` of the chord bound's) and only the surviving buckets
  ordered and swept;
* :func:`_bin_table`, :func:`_binsweep`: a lower bound of ``min F_z`` over a box whose slack does not grow with the
  box width (bin-level upper bound of ``U``, exact minimum of the resulting piecewise quadratic by an event sweep);
* :func:`_uedge`, :func:`_binchord`: the same slack without the event merge or a table (the box cut into sub-boxes,
  each with the chord bound on upper bounds of ``U`` read from the prefix sums at bin edges).
"""

import numpy as np
from numba import njit

from quanttheory.affine._rows import EPS, _idx, _qmin, _zone

# --- kernel source ---


@njit(cache=True)
def _bexact(buf, start, P0, P1, P2, xmin, invw, nb, z, N, s1, s2, best, allow, M, cv, ck, ks, order, tmp, bcnt, bk,
            hz):
    """Exact min over s in [s1, s2] of sum (x - s code(x, s))^2 when it is below ``best``: (value, argmin, status);
    value ``inf`` when no scale of the box can be below ``best``; status 2 when the zones' bin ranges overlap (not
    handled: the caller splits the box), 1 when the buffers are too small.

    The values outside the zones enter through the prefix sums (one code on the whole box, as in :func:`_exact`).
    A value of zone ``k`` (threshold ``h = k + 1/2``) has code ``k + [v > h s]`` (a near-tie of ``rint`` changes
    its error by at most ``4 eps s |v|``: within the allowance); it crosses the threshold inside the box when
    ``[v > h s1] != [v > h s2]``, at ``b = v / h``, and from there on adds ``-2 |h| s (s - b)`` to the MSE (a concave
    kink).  The crossings are counted into ``M`` buckets of equal width over ``[s1, s2]`` without ordering them
    (sums of ``|v|`` and ``2 |h|`` per bucket).  On bucket ``m`` (``[t_m, t_m+1]``) the crossings of the earlier
    buckets are exact and those of bucket ``m`` are bounded by the chord
    ``(s - b)_+ <= (t_m+1 - b)(s - t_m) / (t_m+1 - t_m)``: a quadratic lower bound of the MSE on the bucket,
    minimized exactly (slack ``<= |h| s (t_m+1 - t_m) / 2`` per crossing of the bucket).  Only the buckets whose
    bound minus the allowance is not above ``best`` are ordered and swept exactly (pieces between consecutive
    crossings, each quadratic minimized in closed form), from the state summed over the earlier buckets."""
    # zone bins must be disjoint and increasing (then a zone value crosses one threshold at most)
    jprev = -1
    for ci in range(N):
        zl, zh = _zone(float(ci - z), s1, s2)
        ja = _idx(zl, xmin, invw, nb)
        jb = _idx(zh, xmin, invw, nb)
        if ja <= jprev:
            return 0.0, 0.0, 2
        jprev = jb
    dl = (s2 - s1) / M
    sc = M / (s2 - s1)
    fM1 = M - 1.0
    for m in range(M):
        bk[m, 0] = 0.0  # sum over the bucket's crossings of the B increment -|v|
        bk[m, 1] = 0.0  # ... of the C increment -2 |h|
    A = 0.0
    B = 0.0
    C = 0.0
    nbp = 0
    ptr = 0
    for ci in range(N + 1):
        c = float(ci - z)
        if ci < N:
            zl, zh = _zone(c, s1, s2)
            ja = _idx(zl, xmin, invw, nb)
            jb = _idx(zh, xmin, invw, nb)
        else:
            ja = nb
            jb = -1
        if ja > ptr:
            A += P2[ja] - P2[ptr]
            B += c * (P1[ja] - P1[ptr])
            C += c * c * (P0[ja] - P0[ptr])
            ptr = ja
        if jb >= ptr:
            h = c + 0.5
            hs1 = h * s1
            hs2 = h * s2
            rh = 1.0 / h
            hz[ci] = rh
            dc = -2.0 * abs(h)
            ra = rh * sc
            rb = s1 * sc
            su = 0.0
            nu = 0.0
            i0 = start[ptr]
            i1 = start[jb + 1]
            if nbp + (i1 - i0) > cv.size:
                return 0.0, 0.0, 1
            for i in range(i0, i1):
                v = np.float64(buf[i])
                u1 = v > hs1
                u2 = v > hs2
                su += v if u1 else 0.0
                nu += 1.0 if u1 else 0.0
                cr = u1 != u2
                t = v * ra - rb
                t = min(max(t, 0.0), fM1)
                m = int(t)
                bk[m, 0] += -abs(v) if cr else 0.0
                bk[m, 1] += dc if cr else 0.0
                cv[nbp] = v
                ck[nbp] = ci
                nbp += 1 if cr else 0
            q0 = P0[jb + 1] - P0[ptr]
            q1 = P1[jb + 1] - P1[ptr]
            A += P2[jb + 1] - P2[ptr]
            B += c * q1 + su
            C += c * c * q0 + (2.0 * c + 1.0) * nu
            ptr = jb + 1
    # rounding of the bucket sums (up to nbp terms each, magnitudes <= those of the quadratic)
    allow = allow + 8.0 * EPS * (nbp + M) * (A + 2.0 * s2 * abs(B) + s2 * s2 * C + 1.0e-300)
    Bm = B
    Cm = C
    surv = 0
    for m in range(M):
        ta = s1 + m * dl
        tb = s2 if m == M - 1 else s1 + (m + 1) * dl
        DB = bk[m, 0]
        DC = bk[m, 1]
        # alpha = sum_j w_j (tb - b_j) / (tb - ta) >= 0 with w_j = |h_j| = -dC_j / 2, w_j b_j = |v_j| = -dB_j
        al = (DB - 0.5 * tb * DC) / (tb - ta) if tb > ta else 0.0
        if al < 0.0:
            al = 0.0
        Bq = Bm - al * ta
        Cq = Cm - 2.0 * al
        if Cq > 0.0:
            lbv, _ = _qmin(A, Bq, Cq, ta, tb)
        else:
            lbv = min(A - 2.0 * ta * Bq + ta * ta * Cq, A - 2.0 * tb * Bq + tb * tb * Cq)
        bk[m, 2] = Bm
        bk[m, 3] = Cm
        if lbv - allow > best:
            bk[m, 4] = -1.0
        else:
            bk[m, 4] = surv
            surv += 1
        Bm += DB
        Cm += DC
    if surv == 0:
        return np.inf, s1, 0
    bcnt[0] = 0
    # the crossings of the surviving buckets (key b = v / h, |v|, 2 |h|), counting-sorted by bucket (the surviving
    # buckets renumbered 0..surv-1), then an insertion sort inside each bucket
    for j in range(surv + 1):
        bcnt[j] = 0
    ns = 0
    for j in range(nbp):
        v = cv[j]
        rh = hz[ck[j]]
        t = v * (rh * sc) - s1 * sc
        t = min(max(t, 0.0), fM1)
        g = bk[int(t), 4]
        if g >= 0.0:
            gi = int(g)
            ks[ns, 0] = v * rh
            ks[ns, 1] = abs(v)
            ks[ns, 2] = 2.0 * abs(1.0 / rh)
            tmp[ns] = gi
            bcnt[gi + 1] += 1
            ns += 1
    run = 0
    for j in range(surv):
        c0 = bcnt[j + 1]
        bcnt[j + 1] = run
        run += c0
    for q in range(ns):
        gi = tmp[q]
        order[bcnt[gi + 1]] = q
        bcnt[gi + 1] += 1
    # order[bcnt[g] .. bcnt[g + 1]) = the crossings of surviving bucket g (bcnt[0] = 0)
    vbest = np.inf
    bs = s1
    b0 = 0
    g = 0
    for m in range(M):
        if bk[m, 4] < 0.0:
            continue
        b1 = bcnt[g + 1]
        g += 1
        for a in range(b0 + 1, b1):
            o = order[a]
            kv = ks[o, 0]
            c = a - 1
            while c >= b0 and ks[order[c], 0] > kv:
                order[c + 1] = order[c]
                c -= 1
            order[c + 1] = o
        ta = s1 + m * dl
        tb = s2 if m == M - 1 else s1 + (m + 1) * dl
        Bc = bk[m, 2]
        Cc = bk[m, 3]
        lo = ta
        for t in range(b0, b1 + 1):
            hi = ks[order[t], 0] if t < b1 else tb
            if hi > tb:
                hi = tb
            if hi < lo:
                hi = lo
            val, s = _qmin(A, Bc, Cc, lo, hi)
            if val < vbest:
                vbest = val
                bs = s
            if t < b1:
                j = order[t]
                Bc -= ks[j, 1]
                Cc -= ks[j, 2]
                lo = hi
        b0 = b1
    return max(vbest, 0.0), bs, 0


@njit(cache=True)
def _bin_table(P0, P1, xmin, w, dlt, xmax, nb, n, T1, TA, TB):
    """``U(a) <= TA[j + 1] - TB[j + 1] a`` for every ``a`` in the piece of bin ``j`` (``[E_j, E_j+1]``, ``E_0 = min x``,
    ``E_nb = max x``; ``j = -1``: ``a < min x``, exact ``T1 - a n``; ``j = nb``: ``a >= max x``, ``U = 0``).  The bins
    after ``j + 1`` hold only values ``> a`` (exact, linear); bin ``j + 1``'s values are ``>= E_j+1 - dlt``, so
    ``(v - a)_+ <= v - a + dlt``; bin ``j - 1``'s are ``<= E_j + dlt``, so ``(v - a)_+ <= dlt``; bin ``j``'s lie in
    ``[L, H]`` (its edges widened by ``dlt``) and ``(v - a)_+`` is convex in ``v``, below its chord:
    ``sum <= (H - a) (S - c L) / (H - L)`` (slack ``<= c (H - L) / 4``)."""
    TA[0] = T1
    TB[0] = float(n)
    TA[nb + 1] = 0.0
    TB[nb + 1] = 0.0
    for j in range(nb):
        cn = P0[nb] - P0[j + 1]
        sm = P1[nb] - P1[j + 1]
        c = P0[j + 1] - P0[j]
        S = P1[j + 1] - P1[j]
        L = max(xmin + j * w - dlt, xmin)
        H = min(xmin + (j + 1) * w + dlt, xmax)
        rho = c
        if c > 0.0 and H > L:
            rho = min(max((S - c * L) / (H - L), 0.0), c)
        extra = 0.0
        if j + 1 < nb:
            extra += P0[j + 2] - P0[j + 1]
        if j > 0:
            extra += P0[j] - P0[j - 1]
        TA[j + 1] = sm + extra * dlt + H * rho
        TB[j + 1] = cn + rho


@njit(cache=True)
def _binsweep(TA, TB, xmin, invw, w, dlt, xmax, nb, N, n, T1, T2, z, s1, s2, maxev, jk, nx, hk, rk):
    """A lower bound of ``min_{s in [s1, s2]} F_z(s)`` whose slack does not grow with the box width (the bin-level
    slack, <= count x bin width / 4 per threshold): with ``U(a) <= TA - TB a`` on each bin's piece
    (:func:`_bin_table`), ``F_z(s) >= T2 + 2 z s T1 + z^2 n s^2 - 2 s sum_k U_bin(h_k s)``, a quadratic in ``s``
    between consecutive events (some ``h_k s`` reaching a bin edge), minimized exactly on each; the events of the
    thresholds are merged in ``s`` order.  Returns (bound, events); ``-inf`` beyond ``maxev`` events.  The sums
    are updated incrementally: the caller's allowance covers ``8 eps (events + N)`` times the magnitude."""
    if not (w > 4.0 * dlt):
        return -np.inf, 0
    SA = 0.0
    SB = 0.0
    for ci in range(N):
        h = ci - z + 0.5
        hk[ci] = h
        rk[ci] = 1.0 / h
        a = h * s1
        if a < xmin:
            j = -1
        elif a >= xmax:
            j = nb
        else:
            j = _idx(a, xmin, invw, nb)
        jk[ci] = j
        SA += TA[j + 1]
        SB += h * TB[j + 1]
        if h > 0.0:
            e = j + 1
        else:
            e = j
        if e < 0 or e > nb:
            nx[ci] = np.inf
        else:
            E = xmin if e == 0 else (xmax if e == nb else xmin + e * w)
            t = E * rk[ci]
            nx[ci] = t if t > s1 else (s1 if t > 0.0 else np.inf)
    fz = float(z)
    zzn = fz * fz * n
    zT1 = fz * T1
    lo = s1
    lb = np.inf
    nev = 0
    while True:
        kb = 0
        sn = nx[0]
        for ci in range(1, N):
            t = nx[ci]
            if t < sn:
                sn = t
                kb = ci
        hi = sn if sn < s2 else s2
        Bq = SA - zT1
        Cq = zzn + 2.0 * SB
        if Cq > 0.0:
            sv = Bq / Cq
            sv = lo if sv < lo else (hi if sv > hi else sv)
            v = T2 - sv * (2.0 * Bq - sv * Cq)
        else:
            v = min(T2 - lo * (2.0 * Bq - lo * Cq), T2 - hi * (2.0 * Bq - hi * Cq))
        if v < lb:
            lb = v
        if sn >= s2:
            break
        nev += 1
        if nev > maxev:
            return -np.inf, nev
        h = hk[kb]
        j = jk[kb]
        if h > 0.0:
            SA -= TA[j + 1]
            SB -= h * TB[j + 1]
            j += 1
            SA += TA[j + 1]
            SB += h * TB[j + 1]
            e = j + 1
        else:
            SA -= TA[j + 1]
            SB -= h * TB[j + 1]
            j -= 1
            SA += TA[j + 1]
            SB += h * TB[j + 1]
            e = j
        jk[kb] = j
        if e < 0 or e > nb:
            nx[kb] = np.inf
        else:
            E = xmin if e == 0 else (xmax if e == nb else xmin + e * w)
            t = E * rk[kb]
            nx[kb] = t if t > hi else (hi if t > 0.0 else np.inf)
        lo = hi
    return lb, nev


@njit(cache=True)
def _uedge(a, P0, P1, xmin, invw, w, dlt, xmax, nb, n, T1):
    """An upper bound of U(a) = sum (x - a)_+ read from the prefix sums only: exact outside [min x, max x]; inside, the
    line through upper bounds ``V_e >= U(E_e)`` at the two edges of ``a``'s bin (``U`` is convex, below its chord)
    with ``V_e = sum_{bins >= e} (v - E_e) + (count of bins e - 1 and e) dlt``."""
    if a <= xmin:
        return T1 - a * n
    if a >= xmax:
        return 0.0
    j = _idx(a, xmin, invw, nb)
    E0 = xmin + j * w if j > 0 else xmin
    if j == 0:
        V0 = T1 - xmin * n
    else:
        V0 = (P1[nb] - P1[j]) - E0 * (P0[nb] - P0[j]) + (P0[j + 1] - P0[j - 1]) * dlt
    if j + 1 >= nb:
        V1 = 0.0
    else:
        E1 = xmin + (j + 1) * w
        V1 = (P1[nb] - P1[j + 1]) - E1 * (P0[nb] - P0[j + 1]) + (P0[j + 2] - P0[j]) * dlt
    return V0 + (V1 - V0) * ((a - E0) * invw)


@njit(cache=True)
def _binchord(P0, P1, xmin, invw, w, dlt, xmax, nb, N, n, T1, T2, z, s1, s2, M):
    """A lower bound of ``min_{s in [s1, s2]} F_z(s)``: ``[s1, s2]`` cut into ``M`` equal sub-boxes, on each the chord
    bound with ``U(h_k s)`` at the sub-box ends replaced by :func:`_uedge` (no value read).  With ``M`` such that the
    largest threshold moves by about one bin per sub-box, the slack is the bin-level one, whatever the width."""
    dl = (s2 - s1) / M
    fz = float(z)
    W1 = 0.0
    for ci in range(N):
        W1 += _uedge((ci - z + 0.5) * s1, P0, P1, xmin, invw, w, dlt, xmax, nb, n, T1)
    lb = np.inf
    for m in range(M):
        ta = s1 + m * dl
        tb = s2 if m == M - 1 else s1 + (m + 1) * dl
        W2 = 0.0
        for ci in range(N):
            W2 += _uedge((ci - z + 0.5) * tb, P0, P1, xmin, invw, w, dlt, xmax, nb, n, T1)
        d = tb - ta
        D = W2 - W1
        alpha = T2 + 2.0 * fz * T1 * ta + fz * fz * n * ta * ta - 2.0 * ta * W1
        beta = d * (2.0 * fz * T1 + 2.0 * fz * fz * n * ta) - 2.0 * (d * W1 + ta * D)
        gamma = d * (fz * fz * n * d - 2.0 * D)
        v = min(alpha, alpha + beta + gamma)
        if gamma > 0.0:
            t = -beta / (2.0 * gamma)
            if 0.0 < t < 1.0:
                v = min(v, alpha + t * (beta + gamma * t))
        if v < lb:
            lb = v
        W1 = W2
    return lb
