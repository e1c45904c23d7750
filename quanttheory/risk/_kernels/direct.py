"""Numba kernel of the exact data optimum for small channels, many at once (private).

For a row of ``n`` values on a grid with tops ``(Tp, Tn)`` and ``n * max(T) <=
DIRECT_LIMIT`` every breakpoint ``beta = v / (k + 1/2)`` of ``n MSE(s)`` inside the
bracket ``[A, B]`` is enumerated, sorted and swept: on each piece ``n MSE`` is an
exact quadratic in ``t = s - s0`` (``s0 = (A + B)/2``), minimized in closed form, with
a bound of its rounding error.  The same algorithm as the former NumPy
``_exact_direct`` + the selection of :func:`quanttheory.risk.data._optimal_msqe`,
for every row of a 2-D array in one call (no Python per row).

Per row ``i`` the outputs are: ``out[i] = (s*, F, cert, scale_error, breakpoints,
status)`` with ``F = sum (x - Q(x; s*))^2`` evaluated directly at ``s*``, ``cert`` a
rigorous lower bound of ``n MSE`` over all ``s > 0``; status 0 ok, 1 degenerate
(MSE independent of s), 2 data too small (every magnitude below TINY_DATA).
"""

from __future__ import annotations

import math

import numba
import numpy as np

EPS = 2.0**-52
BLOCK = 4096
TINY_DATA = 2.0**-490
S_FLOOR = 2.0**-1000
NARROW_STEPS = 24  # log-bisection steps of the bracket narrowing (any step count keeps the bounds valid)


@numba.njit(cache=True)
def _magnitude_top(xi, Tp, Tn):
    """``(|x|, top grid index of x's side)``: ``Tp`` for x >= 0, ``Tn`` for x < 0 (float64 magnitude,
    also for float32 input)."""
    # branchless (random signs defeat the branch predictor); T is a float.  -0.0 gets Tn instead
    # of Tp: irrelevant, v = 0 has error 0 and no breakpoint on either side
    v = np.float64(xi)
    return abs(v), 0.5 * (Tp + Tn) + 0.5 * (Tp - Tn) * math.copysign(1.0, v)


@numba.njit(cache=True)
def _qmin(E2, KE, K2, tlo, thi):
    tc = KE / K2 if K2 > 0 else tlo
    if tc < tlo:
        tc = tlo
    if tc > thi:
        tc = thi
    best_t = tlo
    best = E2 - 2 * tlo * KE + tlo * tlo * K2
    v = E2 - 2 * thi * KE + thi * thi * K2
    if v < best:
        best, best_t = v, thi
    v = E2 - 2 * tc * KE + tc * tc * K2
    if v < best:
        best, best_t = v, tc
    return best, best_t


@numba.njit(cache=True)
def _sum_sq_err(x, s, Tp, Tn):
    tot = 0.0
    for i in range(x.shape[0]):
        xi = x[i]
        v, T = _magnitude_top(xi, Tp, Tn)
        k = min(np.rint(v / s), float(T))
        d = v - k * s
        tot += d * d
    return tot


@numba.njit(cache=True)
def _clipped(x, sc, Tp, Tn):
    """sum over points with v >= T sc (T > 0) of (v - T sc)^2: a lower bound of n MSE(s), s <= sc."""
    tot = 0.0
    for i in range(x.shape[0]):
        xi = x[i]
        v, T = _magnitude_top(xi, Tp, Tn)
        d = max(v - T * sc, 0.0) * np.float64(T > 0)  # branchless: v >= T sc and T > 0
        tot += d * d
    return tot


@numba.njit(cache=True)
def _zeroed(x, sd, Tp, Tn):
    """sum over points with v < sd/2 (or T = 0) of v^2: a lower bound of n MSE(s), s >= sd."""
    tot = 0.0
    for i in range(x.shape[0]):
        xi = x[i]
        v, T = _magnitude_top(xi, Tp, Tn)
        tot += (v * v) * np.float64((T == 0) | (v < 0.5 * sd))  # branchless
    return tot


@numba.njit(cache=True)
def _sweep_window(x, Tp, Tn, A, B, bv, bk, bb, ps, pv, pt, out_row):
    """Exact minimum of ``n MSE`` over ``s in [A, B]``: every breakpoint in the window enumerated
    (buffers ``bv, bk, bb`` of size >= their number, ``ps, pv, pt`` one more), sorted and swept;
    ``out_row`` as a row of :func:`exact_rows` (``cert`` a lower bound over ``[A, B]`` only)."""
    n = x.shape[0]
    Tm = max(Tp, Tn)
    s0 = 0.5 * (A + B)
    iA = 1.0 / A
    iB = 1.0 / B
    const = 0.0
    c0 = 0.0
    c1 = 0.0
    c2 = 0.0
    ne = 0
    for i in range(n):
        xi = x[i]
        v, T = _magnitude_top(xi, Tp, Tn)
        if T == 0:
            const += v * v
            continue
        kA = min(np.rint(v * iA), float(T))
        kB = min(np.rint(v * iB), float(T))
        e = v - kA * s0
        c0 += e * e
        c1 += kA * e
        c2 += kA * kA
        k = kB
        while k < kA:
            bv[ne] = v
            bk[ne] = k
            bb[ne] = v / (k + 0.5)
            ne += 1
            k += 1.0
    order = np.argsort(bb[:ne], kind="mergesort")
    rtolv = 4 * EPS * (BLOCK + n / BLOCK + ne + 16)
    # sweep: piece j spans [edge_j, edge_j+1], edges = A, clip(beta sorted), B
    q0 = 0.0
    q1 = 0.0
    q2 = 0.0
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    left = A
    thr = np.inf
    W = min(0.25, 4.0 / max(Tm, 1))
    nre = 0
    ev0 = 0  # events accumulated in q since the last (re)computation of c
    for j in range(ne + 1):
        if j < ne:
            right = min(max(bb[order[j]], A), B)
        else:
            right = B
        # precision: far from s0 the centred terms grow like (k t)^2 with k up to T; when the
        # piece's midpoint is more than W s0 away, recentre there and recompute the three sums
        # exactly (the midpoint of a piece of positive width has one grid assignment)
        sm = 0.5 * (left + right)
        if right > left and abs(sm - s0) > W * s0:
            s0 = sm
            c0 = 0.0
            c1 = 0.0
            c2 = 0.0
            for i in range(n):
                v, T = _magnitude_top(x[i], Tp, Tn)
                if T == 0:
                    continue
                kc = min(np.rint(v / sm), float(T))
                e = v - kc * s0
                c0 += e * e
                c1 += kc * e
                c2 += kc * kc
            q0 = 0.0
            q1 = 0.0
            q2 = 0.0
            a0 = 0.0
            a1 = 0.0
            a2 = 0.0
            nre += 1
            ev0 = j
        E2 = c0 + q0
        KE = c1 + q1
        K2 = c2 + q2
        val, t = _qmin(E2, KE, K2, left - s0, right - s0)
        at = abs(t)
        mag = abs(E2) + 2 * at * abs(KE) + at * at * abs(K2) + a0 + 2 * at * a1 + at * at * a2
        # s0 + t can round outside the piece (to 0 when left << s0); the constant ``const``
        # (sides with T = 0) is left out of the values: added, it would round away differences
        # far below it (it is the same for every s)
        ps[j] = min(max(s0 + t, left), right)
        pv[j] = max(val, 0.0)
        pt[j] = 4 * EPS * (BLOCK + n / BLOCK + (j - ev0) + 16) * mag
        if pv[j] + pt[j] < thr:
            thr = pv[j] + pt[j]
        if j < ne:
            p = order[j]
            v = bv[p]
            k = bk[p]
            e_new = v - k * s0
            e_old = v - (k + 1) * s0
            d0 = e_new * e_new - e_old * e_old
            d1 = k * e_new - (k + 1) * e_old
            d2 = k * k - (k + 1) * (k + 1)
            q0 += d0
            q1 += d1
            q2 += d2
            a0 += abs(d0)
            a1 += abs(d1)
            a2 += abs(d2)
            left = right
    # the candidate with the smallest value; its exact sum
    jbest = -1
    lo_min = np.inf
    for j in range(ne + 1):
        lo_j = pv[j] - pt[j]
        if lo_j < lo_min:
            lo_min = lo_j
        if lo_j <= thr and (jbest < 0 or pv[j] < pv[jbest]):
            jbest = j
    s_star = ps[jbest]
    F = 0.0
    for b0 in range(0, n, BLOCK):
        acc = 0.0
        for i in range(b0, min(n, b0 + BLOCK)):
            xi = x[i]
            v, T = _magnitude_top(xi, Tp, Tn)
            kq = min(np.rint(v / s_star), float(T))
            d = v - kq * s_star
            acc += d * d
        F += acc
    err = 4 * EPS * s_star
    for j in range(ne + 1):
        if pv[j] - pt[j] <= thr:
            err = max(err, abs(ps[j] - s_star))
    rt_eval = 4 * EPS * (BLOCK + n / BLOCK + 16)
    cert = max(0.0, min(F * (1 - rt_eval), const * (1 - 2 * EPS * (n + 1)) + lo_min))
    out_row[0] = s_star
    out_row[1] = F
    out_row[2] = cert
    out_row[3] = err
    out_row[4] = ne
    out_row[5] = 0.0



@numba.njit(cache=True)
def exact_rows(X, Tp, Tn, out):
    """The exact optimum of every row of ``X`` (2-D float64, C-contiguous); see the module doc."""
    rows, n = X.shape
    Tm = max(Tp, Tn)
    cap = n * Tm + 1
    bv = np.empty(cap)
    bk = np.empty(cap)
    bb = np.empty(cap)
    ps = np.empty(cap + 1)
    pv = np.empty(cap + 1)
    pt = np.empty(cap + 1)
    for r in range(rows):
        x = X[r]
        # one-pass stats (as laws.atoms.scan)
        max_pos = 0.0
        max_neg = 0.0
        min_pos = np.inf
        min_neg = np.inf
        for i in range(n):
            xi = x[i]
            if xi >= 0.0:
                if xi > max_pos:
                    max_pos = xi
                if xi > 0.0 and xi < min_pos:
                    min_pos = xi
            else:
                if -xi > max_neg:
                    max_neg = -xi
                if -xi < min_neg:
                    min_neg = -xi
        lo = np.inf
        hi = 0.0
        if Tp > 0 and max_pos > 0:
            lo = min(lo, min_pos / (Tp + 0.5))
            hi = max(hi, max_pos)
        if Tn > 0 and max_neg > 0:
            lo = min(lo, min_neg / (Tn + 0.5))
            hi = max(hi, max_neg)
        if hi == 0.0:
            out[r, 5] = 1.0
            continue
        if hi < TINY_DATA:
            out[r, 5] = 2.0
            continue
        A = max(lo, S_FLOOR)
        B = 2.0 * hi
        # narrow the bracket: an upper bound F_up (the best of a few trial scales), then
        # for s <= sc every point with v >= T sc is clipped, error >= (v - T sc)^2, and
        # for s >= sd every point with v < sd/2 rounds to 0, error v^2: both sums above
        # F_up exclude those ranges (rounding: relative 4 eps (n + 16) on each sum)
        rt = 4 * EPS * (n + 16)
        F_up = np.inf
        for f in (0.35, 0.5, 0.7, 1.0):
            st_ = f * hi / max(Tm, 1)
            if st_ > A and st_ < B:
                F_up = min(F_up, _sum_sq_err(x, st_, Tp, Tn))
        if F_up < np.inf:
            F_up = F_up * (1 + rt)
            a_, b_ = A, B
            # largest sc in [A, B] with clipped(sc) > F_up (clipped is non-increasing in sc)
            if _clipped(x, a_, Tp, Tn) * (1 - rt) > F_up:
                lo_c, hi_c = a_, b_
                for _ in range(NARROW_STEPS):
                    m_ = np.sqrt(lo_c) * np.sqrt(hi_c)
                    if _clipped(x, m_, Tp, Tn) * (1 - rt) > F_up:
                        lo_c = m_
                    else:
                        hi_c = m_
                a_ = lo_c
            # smallest sd in [a_, B] with zeroed(sd) > F_up (non-decreasing in sd)
            if _zeroed(x, b_, Tp, Tn) * (1 - rt) > F_up:
                lo_d, hi_d = a_, b_
                for _ in range(NARROW_STEPS):
                    m_ = np.sqrt(lo_d) * np.sqrt(hi_d)
                    if _zeroed(x, m_, Tp, Tn) * (1 - rt) > F_up:
                        hi_d = m_
                    else:
                        lo_d = m_
                b_ = hi_d
            if a_ < b_:
                A, B = a_, b_
        _sweep_window(x, Tp, Tn, A, B, bv, bk, bb, ps, pv, pt, out[r])


@numba.njit(cache=True)
def count_breakpoints(x, Tp, Tn, A, B):
    """Number of breakpoints ``v / (k + 1/2)`` of the points ``x`` inside ``[A, B]`` (as enumerated
    by :func:`_sweep_window`)."""
    iA = 1.0 / A
    iB = 1.0 / B
    ne = 0.0
    for i in range(x.shape[0]):
        v, T = _magnitude_top(np.float64(x[i]), Tp, Tn)
        if T == 0:
            continue
        ne += min(np.rint(v * iA), float(T)) - min(np.rint(v * iB), float(T))
    return ne


@numba.njit(cache=True)
def exact_window(x, Tp, Tn, A, B, cap, out_row):
    """:func:`_sweep_window` on one 1-D array with buffers for ``cap`` breakpoints (the caller
    checks ``count_breakpoints(x, Tp, Tn, A, B) <= cap``).  Also writes ``out_row[6]`` =
    ``clipped(A)``, a lower bound of ``n MSE(s)`` for every ``s <= A``, and ``out_row[7]`` =
    ``zeroed(B)``, a lower bound for every ``s >= B`` (plain sums, relative rounding <= n eps)."""
    bv = np.empty(cap + 1)
    bk = np.empty(cap + 1)
    bb = np.empty(cap + 1)
    ps = np.empty(cap + 2)
    pv = np.empty(cap + 2)
    pt = np.empty(cap + 2)
    _sweep_window(x, Tp, Tn, A, B, bv, bk, bb, ps, pv, pt, out_row)
    out_row[6] = _clipped(x, A, Tp, Tn)
    out_row[7] = _zeroed(x, B, Tp, Tn)
