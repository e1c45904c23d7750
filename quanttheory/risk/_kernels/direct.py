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
(MSE independent of s), 2 data too small (every magnitude below TINY_DATA); -2 (``exact_rows_checked``
only) a value NaN, infinite or above ``ROW_BIG`` in this row: this row and every later one are left
unsolved, the caller validates the data itself.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

EPS = 2.0**-52
BLOCK = 4096
TINY_DATA = 2.0**-490
S_FLOOR = 2.0**-1000
REC_MIN_REL = 2.0**-40  # the sweep recentres only on pieces at least this wide (relative)
NARROW_STEPS = 24  # log-bisection steps of the bracket narrowing (any step count keeps the bounds valid)



@numba.njit(cache=True, inline="always")
def _event_terms(v, k, s0):
    """One breakpoint of the sweep (value ``v`` moving from code ``k + 1`` to ``k``, sums centred at
    ``s0``): the changes ``(d0, d1, d2)`` of ``sum e^2``, ``sum k e``, ``sum k^2`` (``e = v - k s0``) and
    the magnitudes ``k |e_new| + (k + 1) |e_old|`` and ``k^2 + (k + 1)^2`` of their rounding bounds."""
    e_new = v - k * s0
    e_old = v - (k + 1) * s0
    return (e_new * e_new - e_old * e_old, k * e_new - (k + 1) * e_old, k * k - (k + 1) * (k + 1),
            k * abs(e_new) + (k + 1) * abs(e_old), k * k + (k + 1) * (k + 1))


@numba.njit(cache=True, inline="always")
def _acc_event(acc, v, k, s0):
    """The sweep's event accumulators ``acc = (q0, q1, q2, a0, a1, a2, a3, a4)`` after the breakpoint
    ``(v, k)`` (:func:`_event_terms`): ``q`` the changes of the three centred sums, ``a0..a2`` their
    magnitudes, ``a3, a4`` those of the residuals' rounding bound."""
    d0, d1, d2, d3, d4 = _event_terms(v, k, s0)
    return (acc[0] + d0, acc[1] + d1, acc[2] + d2, acc[3] + abs(d0), acc[4] + abs(d1), acc[5] + abs(d2),
            acc[6] + d3, acc[7] + d4)


@numba.njit(cache=True, inline="always")
def _acc_block(acc, S, j):
    """``acc`` (as in :func:`_acc_event`) plus the events summed in ``S[j, 1:9]`` (same order)."""
    return (acc[0] + S[j, 1], acc[1] + S[j, 2], acc[2] + S[j, 3], acc[3] + S[j, 4], acc[4] + S[j, 5],
            acc[5] + S[j, 6], acc[6] + S[j, 7], acc[7] + S[j, 8])


@numba.njit(cache=True, inline="always")
def _piece_min(c0, c1, c2, acc, left, right, s0):
    """One quadratic piece ``[left, right]`` of a sweep: the sums ``E2, KE, K2`` (base sums ``c`` plus
    the events ``acc`` of :func:`_acc_event`, centred at ``s0``), their minimum ``val`` over the piece
    at ``t = s - s0``, the magnitude ``mag`` of the terms of ``val`` (times the relative rounding of
    the sums gives their error) and ``err_e``, the effect of the rounded residuals."""
    E2 = c0 + acc[0]
    KE = c1 + acc[1]
    K2 = c2 + acc[2]
    val, t = _qmin(E2, KE, K2, left - s0, right - s0)
    at = abs(t)
    mag = abs(E2) + 2 * at * abs(KE) + at * at * abs(K2) + acc[3] + 2 * at * acc[4] + at * at * acc[5]
    # the residuals e = v - k s0 are rounded (by up to eps (k s0 + |e|) each): their effect on
    # the three sums (base sums by Cauchy-Schwarz, events exactly through a3, a4); it dominates
    # when the data fit the grid almost exactly
    err_e = EPS * (4 * s0 * math.sqrt(abs(E2) * abs(K2)) + 4 * s0 * acc[6]
                   + 4 * at * s0 * (abs(K2) + acc[7]) + 4 * EPS * s0 * s0 * (abs(K2) + acc[7]))
    return val, t, mag, err_e


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
    """Minimum over ``t in [tlo, thi]`` of ``E2 - 2 t KE + t^2 K2`` (``K2 >= 0``) and its ``t``: same
    candidates and tie order as ``risk.data_search._qmin`` (also used by ``_kernels.sweep``)."""
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


@numba.njit(cache=True, inline="always")
def _bucket(b, A, inv, nbk):
    """The bucket (0 .. nbk - 1) of ``b`` among ``nbk`` equal buckets from ``A`` (``inv`` = nbk over
    their total width); values outside go to the first or last."""
    f = (b - A) * inv
    j = 0
    if f > 0.0:
        j = int(f) if f < nbk else nbk - 1
    return j


@numba.njit(cache=True)
def _sort_order(bb, ne, A, B):
    """Indices sorting ``bb[:ne]`` (values in about ``[A, B]``): a bucket sort (``ne`` equal buckets
    over ``[A, B]``, insertion sort inside small buckets, merge sort inside large ones); O(ne) for
    smooth data, O(ne log ne) at worst (many breakpoints in one bucket)."""
    order = np.empty(ne, dtype=np.int64)
    if ne == 0:
        return order
    nbk = ne
    inv = nbk / (B - A) if B > A else 0.0
    cnt = np.zeros(nbk + 1, dtype=np.int64)
    key = np.empty(ne, dtype=np.int64)
    for i in range(ne):
        j = _bucket(bb[i], A, inv, nbk)
        key[i] = j
        cnt[j + 1] += 1
    for j in range(nbk):
        cnt[j + 1] += cnt[j]
    pos = cnt[:nbk].copy()
    for i in range(ne):
        j = key[i]
        order[pos[j]] = i
        pos[j] += 1
    for j in range(nbk):
        lo = cnt[j]
        hi = cnt[j + 1]
        m = hi - lo
        if m <= 1:
            continue
        if m <= 32:
            for a in range(lo + 1, hi):
                t = order[a]
                bt = bb[t]
                c = a
                while c > lo and bb[order[c - 1]] > bt:
                    order[c] = order[c - 1]
                    c -= 1
                order[c] = t
        else:
            sub = order[lo:hi].copy()
            idx = np.argsort(bb[sub], kind="mergesort")
            for a in range(m):
                order[lo + a] = sub[idx[a]]
    return order


@numba.njit(cache=True)
def _sweep_buffers(cap):
    """The six work arrays of :func:`_sweep_window` for ``cap`` breakpoints: ``bv, bk, bb`` of ``cap``
    values and the piece arrays ``ps, pv, pt`` of ``cap + 1``."""
    return (np.empty(cap), np.empty(cap), np.empty(cap), np.empty(cap + 1), np.empty(cap + 1),
            np.empty(cap + 1))


@numba.njit(cache=True)
def _sweep_window(x, Tp, Tn, A, B, bv, bk, bb, ps, pv, pt, out_row):
    """Exact minimum of ``n MSE`` over ``s in [A, B]``: every breakpoint in the window enumerated
    (buffers ``bv, bk, bb`` of size >= their number, ``ps, pv, pt`` one more), sorted and swept;
    ``out_row`` as a row of :func:`exact_rows` (``cert`` a lower bound over ``[A, B]`` only)."""
    n = x.shape[0]
    s0 = 0.5 * (A + B)
    iA = 1.0 / A
    iB = 1.0 / B
    const = 0.0
    c0 = 0.0
    c1 = 0.0
    c2 = 0.0
    ne = 0
    cap = min(bv.shape[0], bk.shape[0], bb.shape[0], ps.shape[0] - 1, pv.shape[0] - 1, pt.shape[0] - 1)
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
            if ne < cap:
                bv[ne] = v
                bk[ne] = k
                bb[ne] = v / (k + 0.5)
            ne += 1
            k += 1.0
    if ne > cap:
        # the buffers are too small (a caller sizing them from an estimate): nothing else is
        # valid; out_row[4] is the number needed
        out_row[4] = ne
        out_row[5] = -1.0
        return
    _sweep_pieces(x, Tp, Tn, A, B, s0, const, c0, c1, c2, ne, bv, bk, bb, ps, pv, pt, out_row, False)


@numba.njit(cache=True)
def _sweep_pieces(x, Tp, Tn, A, B, s0, const, c0, c1, c2, ne, bv, bk, bb, ps, pv, pt, out_row, fast):
    """The sort, sweep and final sum of :func:`_sweep_window` once its first pass is done: the
    ``ne`` breakpoints ``(bv, bk, bb)`` of ``[A, B]``, the base sums ``c0, c1, c2`` of the grid
    indices at ``A`` centred at ``s0`` and ``const`` (sides with T = 0).  ``fast``: the final
    direct sum at ``s*`` by :func:`_sq_err_fast` (vectorized) instead of the sequential loop."""
    n = x.shape[0]
    Tm = max(Tp, Tn)
    order = _sort_order(bb, ne, A, B)
    # sweep: piece j spans [edge_j, edge_j+1], edges = A, clip(beta sorted), B
    acc = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    left = A
    thr = np.inf
    W = min(0.25, 4.0 / max(Tm, 1))
    nre = 0
    ev0 = 0  # events accumulated in acc since the last (re)computation of c
    for j in range(ne + 1):
        if j < ne:
            right = min(max(bb[order[j]], A), B)
        else:
            right = B
        # precision: far from s0 the centred terms grow like (k t)^2 with k up to T; when the
        # piece's midpoint is more than W s0 away, recentre there and recompute the three sums
        # exactly.  Only on a piece wider than REC_MIN_REL of its scale: its midpoint is then far
        # (relative 2^-41) from every breakpoint, so rint(v / sm) is the grid index the events
        # swept so far give (on a narrower piece, e.g. between two breakpoints of lattice data
        # that are equal but rounded one ulp apart, rint could disagree with them: the sums were
        # then those of another assignment, and the sweep's minimum and certificate wrong)
        sm = 0.5 * (left + right)
        if right - left > REC_MIN_REL * right and abs(sm - s0) > W * s0:
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
            acc = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
            nre += 1
            ev0 = j
        val, t, mag, err_e = _piece_min(c0, c1, c2, acc, left, right, s0)
        # s0 + t can round outside the piece (to 0 when left << s0); the constant ``const``
        # (sides with T = 0) is left out of the values: added, it would round away differences
        # far below it (it is the same for every s)
        ps[j] = min(max(s0 + t, left), right)
        pv[j] = max(val, 0.0)
        # the three sums are plain sequential sums of up to n terms (pass over the row or
        # recentring) plus (j - ev0) events: relative rounding (n + events) eps/2 of their magnitude
        pt[j] = 4 * EPS * (n + (j - ev0) + 16) * mag + err_e
        if pv[j] + pt[j] < thr:
            thr = pv[j] + pt[j]
        if j < ne:
            p = order[j]
            acc = _acc_event(acc, bv[p], bk[p], s0)
            left = right
    _sweep_finish(x, Tp, Tn, ne + 1, ps, pv, pt, thr, np.inf, const, ne, out_row, fast)


@numba.njit(cache=True)
def _sweep_finish(x, Tp, Tn, npc, ps, pv, pt, thr, lo_extra, const, ne, out_row, fast):
    """The end of a sweep over ``npc`` pieces (vertex ``ps``, value ``pv`` without ``const``,
    rounding bound ``pt``; ``thr`` the smallest ``pv + pt``): the candidate with the smallest value,
    its exact sum (``fast``: :func:`_sq_err_fast`), the spread of the tied candidates and the
    certificate (the smaller of the pieces' lower bounds and ``lo_extra``, a lower bound over the
    rest of the window, plus ``const``)."""
    n = x.shape[0]
    # the candidate with the smallest value; its exact sum
    jbest = -1
    lo_min = lo_extra
    for j in range(npc):
        lo_j = pv[j] - pt[j]
        if lo_j < lo_min:
            lo_min = lo_j
        if lo_j <= thr and (jbest < 0 or pv[j] < pv[jbest]):
            jbest = j
    s_star = ps[jbest]
    F = 0.0
    for b0 in range(0, n, BLOCK):
        if fast:
            F += _sq_err_fast(x, s_star, Tp, Tn, b0, min(n, b0 + BLOCK))
            continue
        acc = 0.0
        for i in range(b0, min(n, b0 + BLOCK)):
            xi = x[i]
            v, T = _magnitude_top(xi, Tp, Tn)
            kq = min(np.rint(v / s_star), float(T))
            d = v - kq * s_star
            acc += d * d
        F += acc
    err = 4 * EPS * s_star
    for j in range(npc):
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



# The fast variants below are used by the rows kernel only (exact_rows_window): their row loops
# are reductions compiled with ``fastmath={"reassoc"}`` (reassociation only: no contraction, no
# NaN/inf assumptions), so that LLVM may vectorize the sums (several partial sums added at the
# end).  Every term is computed exactly as in the sequential loops (one rounding per operation;
# the terms have no sums to reassociate); only the order of the additions changes, and every
# rounding bound used here (``(n - 1) eps`` times the sum of the terms' magnitudes) holds for any
# order of summation.
@numba.njit(cache=True, fastmath={"reassoc"})
def _sq_err_fast(x, s, Tp, Tn, i0, i1):
    """``sum_{i0 <= i < i1} (v_i - s min(rint(v_i / s), T_i))^2`` (vectorized order)."""
    acc = 0.0
    for i in range(i0, i1):
        v, T = _magnitude_top(x[i], Tp, Tn)
        kq = min(np.rint(v / s), T)
        d = v - kq * s
        acc += d * d
    return acc


@numba.njit(cache=True, fastmath={"reassoc"})
def _window_sums_fast(x, Tp, Tn, iA, iB, s0, ND):
    """The first pass of :func:`_sweep_window` without its breakpoints: ``(const, c0, c1, c2, ne)``
    and ``ND[i] = kA - kB``, the number of breakpoints of point ``i`` in ``[A, B]`` (its grid
    indices at ``A`` and ``B``; 0 on a side with T = 0)."""
    const = 0.0
    c0 = 0.0
    c1 = 0.0
    c2 = 0.0
    ne = 0.0
    for i in range(x.shape[0]):
        v, T = _magnitude_top(x[i], Tp, Tn)
        kA = min(np.rint(v * iA), T)
        kB = min(np.rint(v * iB), T)
        ND[i] = kA - kB
        e = v - kA * s0
        e = e if T > 0 else 0.0
        const += v * v if T == 0 else 0.0
        c0 += e * e
        c1 += kA * e
        c2 += kA * kA
        ne += kA - kB
    return const, c0, c1, c2, ne


@numba.njit(cache=True)
def _sweep_window_fast(x, Tp, Tn, A, B, bv, bk, bb, ps, pv, pt, ND, G, out_row):
    """:func:`_sweep_window` (the same pieces, candidates and bounds) with its two row loops
    vectorized: the base sums by :func:`_window_sums_fast`, then the points having breakpoints in
    ``[A, B]`` gathered without a branch (``G``), and the final sum by :func:`_sq_err_fast`.
    ``ND, G``: scratch arrays of at least ``n`` entries (float64, int32 or int64).  The gathered points'
    grid indices are recomputed by the same expressions (same values)."""
    n = x.shape[0]
    s0 = 0.5 * (A + B)
    iA = 1.0 / A
    iB = 1.0 / B
    cap = min(bv.shape[0], bk.shape[0], bb.shape[0], ps.shape[0] - 1, pv.shape[0] - 1, pt.shape[0] - 1)
    const, c0, c1, c2, nef = _window_sums_fast(x, Tp, Tn, iA, iB, s0, ND)
    ne = int(nef)
    if ne > cap:
        out_row[4] = ne
        out_row[5] = -1.0
        return
    m = 0
    for i in range(n):
        G[m] = i
        m += ND[i] > 0.0
    ne = 0
    for j in range(m):
        v, T = _magnitude_top(x[G[j]], Tp, Tn)
        kA = min(np.rint(v * iA), T)
        k = min(np.rint(v * iB), T)
        while k < kA and ne < cap:
            bv[ne] = v
            bk[ne] = k
            bb[ne] = v / (k + 0.5)
            ne += 1
            k += 1.0
    if ne >= SWEEP_BLOCK_MIN and B - A <= min(0.25, 4.0 / max(Tp, Tn, 1)) * s0:
        # no recentring can occur (every piece's midpoint within W s0 of s0): prune by blocks
        _sweep_blocks(x, Tp, Tn, A, B, s0, const, c0, c1, c2, ne, bv, bk, bb, ps, pv, pt, out_row)
        return
    _sweep_pieces(x, Tp, Tn, A, B, s0, const, c0, c1, c2, ne, bv, bk, bb, ps, pv, pt, out_row, True)


SWEEP_BLOCK_MIN = 256  # windows with at least this many breakpoints: block pruning before the sort
SWEEP_BLOCK_PER = 16  # breakpoints per block (on average)


@numba.njit(cache=True)
def _sweep_blocks(x, Tp, Tn, A, B, s0, const, c0, c1, c2, ne, bv, bk, bb, ps, pv, pt, out_row):
    """:func:`_sweep_pieces` (``fast``) for a window that needs no recentring, with its breakpoints
    first pruned by blocks: ``[A, B]`` is cut into ``nb`` equal s-blocks, each breakpoint added to
    its block's sums (the changes of the three centred sums, their magnitudes, and
    ``C = sum (2k + 1) (R - beta)^+`` with ``R`` the block's right edge).  Prefix sums give the
    quadratic ``Q_j`` of the grid indices at the block's left edge; on the block
    ``F(s) >= Q_j(s) - R C_j - G`` (a breakpoint of the block lowers ``F`` below ``Q_j`` by
    ``(2k + 1) s (s - beta) <= (2k + 1) R (R - beta)`` once passed; ``G`` covers breakpoints
    whose computed block or value is off by a few ulps near an edge), and ``min Q_j + rounding``
    is an upper bound of ``min F`` (``Q_j`` is ``F`` of an admissible index assignment, >= ``F``
    everywhere).  Blocks whose lower bound exceeds the smallest such upper bound are not sorted
    nor swept piece by piece: their sums are added at once (order-independent rounding bounds);
    their bounds join the certificate.  Every other breakpoint is swept as in
    :func:`_sweep_pieces`, with the same piece values; the block holding the optimum is always
    kept.  Same outputs as :func:`_sweep_pieces`, up to the rounding of the sums' order."""
    n = x.shape[0]
    nb = max(1, ne // SWEEP_BLOCK_PER)
    h = (B - A) / nb
    inv = nb / (B - A)
    # per block: 0 count, 1-3 d0 d1 d2, 4-8 a0..a4, 9 sum (2k+1)(R - beta)^+
    S = np.zeros((nb, 10))
    key = np.empty(ne, dtype=np.int64)
    s1tot = 0.0
    for i in range(ne):
        j = _bucket(bb[i], A, inv, nb)
        key[i] = j
        v = bv[i]
        k = bk[i]
        R = A + (j + 1) * h if j < nb - 1 else B
        S[j, 0] += 1.0
        S[j, 1], S[j, 2], S[j, 3], S[j, 4], S[j, 5], S[j, 6], S[j, 7], S[j, 8] = _acc_event(
            (S[j, 1], S[j, 2], S[j, 3], S[j, 4], S[j, 5], S[j, 6], S[j, 7], S[j, 8]), v, k, s0)
        S[j, 9] += (2 * k + 1) * max(0.0, R - bb[i])
        s1tot += 2 * k + 1
    rt = 4 * EPS * (n + ne + nb + 16)
    # a breakpoint within ~10 eps B of a block edge (its computed block, or its computed value, off
    # by a few ulps) changes F on the block by at most (2k + 1) s 10 eps B
    Gb = 16 * EPS * B * B * s1tot
    # pass 1 over the blocks: bounds
    lbk = np.empty(nb)
    U = np.inf
    acc = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    for j in range(nb):
        L = A + j * h if j > 0 else A
        R = A + (j + 1) * h if j < nb - 1 else B
        val, t, mag, err_e = _piece_min(c0, c1, c2, acc, L, R, s0)
        ptj = rt * mag + err_e
        U = min(U, val + ptj)
        lbk[j] = val - ptj - R * S[j, 9] * (1 + rt) - Gb
        acc = _acc_block(acc, S, j)
    # the kept breakpoints (blocks not excluded, and empty blocks), compacted in place
    keep = np.empty(nb, dtype=np.bool_)
    jl = nb
    jr = -1
    for j in range(nb):
        keep[j] = not (lbk[j] > U) or S[j, 0] == 0.0
        if not (lbk[j] > U):
            jl = min(jl, j)
            jr = j
    m = 0
    for i in range(ne):
        if keep[key[i]]:
            bv[m] = bv[i]
            bk[m] = bk[i]
            bb[m] = bb[i]
            key[m] = key[i]
            m += 1
    if jr < 0:  # not reached (the block of the smallest upper bound is kept); sort the whole window
        jl = 0
        jr = nb - 1
    Lk = A + jl * h if jl > 0 else A
    Rk = A + (jr + 1) * h if jr < nb - 1 else B
    order = _sort_order(bb, m, Lk, Rk)
    # pass 2: the sweep, block by block
    acc = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    thr = np.inf
    lo_min = np.inf
    npc = 0
    p = 0
    j = 0
    while j < nb:
        if not keep[j]:
            lo_min = min(lo_min, lbk[j])
            acc = _acc_block(acc, S, j)
            j += 1
            continue
        # a run of kept blocks j .. j2
        j2 = j
        while j2 + 1 < nb and keep[j2 + 1]:
            j2 += 1
        L = A + j * h if j > 0 else A
        R = A + (j2 + 1) * h if j2 < nb - 1 else B
        left = L
        while True:
            last = not (p < m and key[order[p]] <= j2)
            if last:
                right = R
            else:
                right = min(max(bb[order[p]], L), R)
            val, t, mag, err_e = _piece_min(c0, c1, c2, acc, left, right, s0)
            ps[npc] = min(max(s0 + t, left), right)
            pv[npc] = max(val, 0.0)
            pt[npc] = rt * mag + err_e + Gb
            if pv[npc] + pt[npc] < thr:
                thr = pv[npc] + pt[npc]
            npc += 1
            if last:
                break
            q = order[p]
            acc = _acc_event(acc, bv[q], bk[q], s0)
            left = right
            p += 1
        j = j2 + 1
    _sweep_finish(x, Tp, Tn, npc, ps, pv, pt, thr, lo_min, const, ne, out_row, True)


ROW_BIG = 2.0**500  # rows_ok: larger magnitudes are left to the validating one-channel path


@numba.njit(cache=True)
def rows_ok(X):
    """Whether every value of the 2-D array ``X`` (float32 or float64) is finite with ``|x| <=
    ROW_BIG``: then no sum of squares of a row of up to 2^17 values overflows (each square is at
    most 2^1000) and the data pass every check of the validation scan.  A vectorized loop (an
    integer count, no branch), about half a NumPy pass; a False sends the caller to its
    validating path."""
    nb = 0
    for r in range(X.shape[0]):
        for i in range(X.shape[1]):
            nb += not (abs(np.float64(X[r, i])) <= ROW_BIG)
    return nb == 0


@intrinsic
def _f2i(typingctx, x):
    """The bits of a float64 as an int64 (a bitcast, no conversion)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _i2f(typingctx, x):
    """The float64 with the bits of an int64 (the inverse of :func:`_f2i`)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


_MAG = np.int64(0x7FFFFFFFFFFFFFFF)  # all bits but the sign
_INF_BITS = np.int64(0x7FF0000000000000)
_BIG_BITS = np.int64(0x5F30000000000000)  # the bits of ROW_BIG = 2^500 (biased exponent 1523)


@numba.njit(cache=True)
def _row_stats_chk(x, Tp, Tn):
    """:func:`_row_stats` plus ``nbad``, the count of values that are NaN, infinite or above
    ``ROW_BIG`` in magnitude (the check of :func:`rows_ok`).  The reductions run on the values'
    bits (int64): for non-negative floats the bit patterns order as the values, and the integer
    min/max/count reductions vectorize (the float ones with their NaN semantics do not: 11 -> 5.5 us
    per float64 row of 10,000; float32 rows 64 -> 6 us).  Exact: the same extrema (bit patterns)
    and count as the float comparisons, for zeros of either sign and subnormals too."""
    mp = np.int64(0)  # largest bits of a value >= 0 (+0.0 if none): max_pos
    mn = np.int64(0)  # largest magnitude bits of a value < 0: max_neg
    lp = _INF_BITS  # smallest bits of a value > 0 (inf if none)
    ln = _INF_BITS  # smallest magnitude bits of a value < 0 (inf if none)
    npos = 0
    nbad = 0
    neg1 = np.int64(-1)
    for i in range(x.shape[0]):
        b = _f2i(np.float64(x[i]))
        mag = b & _MAG
        neg = b < 0
        npos += (b >= 0) | (mag == 0)  # x >= 0.0, also for -0.0
        mp = max(mp, b)  # negative values have negative bits
        mn = max(mn, mag if neg else neg1)
        lp = min(lp, b if b > 0 else _INF_BITS)
        ln = min(ln, mag if (neg and mag != 0) else _INF_BITS)
        nbad += mag > _BIG_BITS  # NaN and inf have larger bits than any finite value
    max_pos = _i2f(mp)
    max_neg = _i2f(mn)
    min_pos = _i2f(lp)
    min_neg = _i2f(ln)
    lo = np.inf
    hi = 0.0
    if Tp > 0 and max_pos > 0:
        lo = min(lo, min_pos / (Tp + 0.5))
        hi = max(hi, max_pos)
    if Tn > 0 and max_neg > 0:
        lo = min(lo, min_neg / (Tn + 0.5))
        hi = max(hi, max_neg)
    return max_pos, max_neg, npos, lo, hi, nbad


@numba.njit(cache=True)
def _row_stats(x, Tp, Tn):
    """One pass over a row (float32 or float64): ``(max_pos, max_neg, npos, lo, hi)`` with
    ``npos`` the count of values >= 0, ``lo = min v_min / (T + 1/2)`` over the active sides
    (T > 0; below it every non-zero value of those sides is clipped), ``hi`` the largest active
    magnitude (``inf`` / ``0`` when no side is active).  Valid for finite values (see
    :func:`_row_stats_chk`)."""
    max_pos, max_neg, npos, lo, hi, nbad = _row_stats_chk(x, Tp, Tn)
    return max_pos, max_neg, npos, lo, hi


@numba.njit(cache=True)
def exact_rows_full(X, Tp, Tn, out):
    """The former :func:`exact_rows` (kept as an independent reference for the tests): every
    breakpoint of a bracket narrowed by the clipping/zero bounds enumerated and sorted per row."""
    _rows_full(X, Tp, Tn, out, False)


@numba.njit(cache=True)
def exact_rows_short(X, Tp, Tn, out):
    """:func:`exact_rows_full` with the bucketed window (:func:`_solve_buckets`) when the narrowed
    bracket holds more than ``BUCKET_MIN_NE`` breakpoints (short rows at 6+ bits)."""
    _rows_full(X, Tp, Tn, out, True)


@numba.njit(cache=True)
def _compact(sv, sT, m, lim, clip):
    """Keeps, in order, the entries of ``sv[:m], sT[:m]`` that can still count: for ``clip``
    those with ``T > 0`` and ``v - T lim > 0`` (clipped below every scale ``>= lim``), else those
    with ``T = 0`` or ``v < lim / 2`` (rounded to 0 above every scale ``<= lim``).  Returns the new
    count."""
    k = 0
    for i in range(m):
        v = sv[i]
        T = sT[i]
        keep = (T > 0 and v - T * lim > 0.0) if clip else (T == 0 or v < 0.5 * lim)
        if keep:
            sv[k] = v
            sT[k] = T
            k += 1
    return k


@numba.njit(cache=True)
def _load_row(x, Tp, Tn, sv, sT):
    """``sv, sT`` = the row's magnitudes and tops (:func:`_magnitude_top`), in its order; returns the count."""
    for i in range(x.shape[0]):
        sv[i], sT[i] = _magnitude_top(x[i], Tp, Tn)
    return x.shape[0]


@numba.njit(cache=True)
def _narrow_clipped(x, Tp, Tn, lo_c, hi_c, F_up, rt, sv, sT):
    """The log-bisection of the bracket's left end (largest ``sc`` with ``clipped(sc) (1 - rt) >
    F_up``, ``NARROW_STEPS`` steps from ``[lo_c, hi_c]``), each sum over only the points that can
    still be clipped (``v > T lo_c``), in the row's order: the dropped terms are exact zeros, so
    every sum, hence every decision, is that of :func:`_clipped` on the whole row."""
    m = _load_row(x, Tp, Tn, sv, sT)
    m = _compact(sv, sT, m, lo_c, True)
    for _ in range(NARROW_STEPS):
        m_ = np.sqrt(lo_c) * np.sqrt(hi_c)
        tot = 0.0
        for i in range(m):
            d = max(sv[i] - sT[i] * m_, 0.0)
            tot += d * d
        if tot * (1 - rt) > F_up:
            lo_c = m_
            m = _compact(sv, sT, m, lo_c, True)
        else:
            hi_c = m_
    return lo_c


@numba.njit(cache=True)
def _narrow_zeroed(x, Tp, Tn, lo_d, hi_d, F_up, rt, sv, sT):
    """The log-bisection of the bracket's right end (smallest ``sd`` with ``zeroed(sd) (1 - rt) >
    F_up``) over only the points that can still round to 0 (``T = 0`` or ``v < hi_d / 2``), in the
    row's order: every sum is that of :func:`_zeroed` on the whole row (see
    :func:`_narrow_clipped`)."""
    m = _load_row(x, Tp, Tn, sv, sT)
    m = _compact(sv, sT, m, hi_d, False)
    for _ in range(NARROW_STEPS):
        m_ = np.sqrt(lo_d) * np.sqrt(hi_d)
        tot = 0.0
        for i in range(m):
            v = sv[i]
            tot += (v * v) * np.float64((sT[i] == 0) | (v < 0.5 * m_))
        if tot * (1 - rt) > F_up:
            hi_d = m_
            m = _compact(sv, sT, m, hi_d, False)
        else:
            lo_d = m_
    return hi_d


@numba.njit(cache=True)
def _rows_full(X, Tp, Tn, out, bucketed):
    rows, n = X.shape
    Tm = max(Tp, Tn)
    # bucketed: a window swept here holds at most BUCKET_MIN_NE breakpoints (larger ones go to
    # _solve_buckets, whose memory is bounded by BUCKET_RUN_MAX): memory O(n), not O(n T)
    cap = min(n * Tm, BUCKET_MIN_NE) + 1 if bucketed else n * Tm + 1
    bv, bk, bb, ps, pv, pt = _sweep_buffers(cap)
    sv = np.empty(n)
    sT = np.empty(n)
    for r in range(rows):
        x = X[r]
        # one-pass stats (as laws.atoms.scan)
        max_pos, max_neg, npos, lo, hi = _row_stats(x, Tp, Tn)
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
                a_ = _narrow_clipped(x, Tp, Tn, a_, b_, F_up, rt, sv, sT)
            # smallest sd in [a_, B] with zeroed(sd) > F_up (non-decreasing in sd)
            if _zeroed(x, b_, Tp, Tn) * (1 - rt) > F_up:
                b_ = _narrow_zeroed(x, Tp, Tn, a_, b_, F_up, rt, sv, sT)
            if a_ < b_:
                A, B = a_, b_
        if bucketed:
            ne_ = count_breakpoints(x, Tp, Tn, A, B)
            if ne_ > BUCKET_MIN_NE:
                mp = _solve_buckets(x, Tp, Tn, A, B, ne_, out[r])
                if mp < np.inf:
                    cw = _const_sum(x, Tp, Tn) * (1 - 2 * EPS * (n + 1)) + mp
                    if cw < out[r, 2]:
                        out[r, 2] = max(0.0, cw)
                continue
        _sweep_window(x, Tp, Tn, A, B, bv, bk, bb, ps, pv, pt, out[r])


@numba.njit(cache=True)
def _const_sum(x, Tp, Tn):
    """sum of v^2 over the sides with T = 0 (their error for every s)."""
    tot = 0.0
    for i in range(x.shape[0]):
        v, T = _magnitude_top(x[i], Tp, Tn)
        tot += (v * v) * np.float64(T == 0)
    return tot


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
    bv, bk, bb, ps, pv, pt = _sweep_buffers(cap + 1)
    _sweep_window(x, Tp, Tn, A, B, bv, bk, bb, ps, pv, pt, out_row)
    out_row[6] = _clipped(x, A, Tp, Tn)
    out_row[7] = _zeroed(x, B, Tp, Tn)


# ----------------------------------------------------------------------------- many rows, fast
# Per row: a linear histogram of |x| per side (count, sum, sum of squares, min and max of each
# bin; double-word prefix sums), a branch and bound over s-intervals on it (rigorous lower
# bounds as in risk/_kernels/data.py: for s in [s1, s2] every grid point k s lies in
# k [s1, s2]; upper bounds at fixed scales), then the exact sweep of :func:`_sweep_window`
# over the hull of the surviving intervals (a few hundred breakpoints instead of every one).
# The march of the hull ends uses the joint bound :func:`_row_lb_joint` (values whose grid index is fixed on
# the interval summed as one exact quadratic in s and minimized jointly; docs/data_channels.md,
# session 5).
ROW_HIST_PER_T = 48  # histogram bins per side: about ROW_HIST_PER_T * T, at most half the side's points
ROW_HIST_MIN = 8
ROW_INIT_STEP = 2.0**0.25  # initial geometric step of the s-intervals
ROW_MARCH_BETA = 0.5  # march pieces: at most this fraction of the end's log-distance to the centre
ROW_MARCH_GROW = 1.25  # beta factor after a dropped piece (a kept one halves it)
ROW_MARCH_BETA0_SMALL = 0.3  # the first beta at grid tops up to ROW_T_MAX
ROW_MARCH_HI = 0.06  # tops up to ROW_T_MAX: beta grows by ROW_MARCH_GROW only after a dropped piece whose
ROW_MARCH_LO = 0.005  # bound exceeded U by more than ROW_MARCH_HI (relative), stays after one between
ROW_MARCH_SHRINK = 0.8  # the two, and shrinks by ROW_MARCH_SHRINK after one within ROW_MARCH_LO of U
ROW_MARCH_EV = 4.0  # an end stops once its piece holds fewer than ROW_MARCH_EV * T breakpoints
ROW_MARCH_EV_BIG = 16.0  # the same above ROW_T_MAX
ROW_MARCH_MAX = 64  # march steps per row (both ends), grid tops up to ROW_T_MAX
ROW_MARCH_MAX_BIG = 96  # the same above ROW_T_MAX
ROW_MAX_IV = 2048  # surviving s-intervals (per round)
ROW_NUB = 2  # fixed-scale upper bounds per round (midpoints of the lowest intervals)
ROW_NE_MIN = 64  # stop refining once the hull holds about max(ROW_NE_MIN, ROW_NE_PER_N n) breakpoints
ROW_NE_PER_N = 0.125
ROW_TINY_VMAX = 2.0**-960
ROW_MIN_N = 2048  # shorter rows: exact_rows_full (the bounds' fixed cost exceeds the saving)
ROW_T_MAX = 16  # larger grid tops (6+ bits): more march steps (ROW_MARCH_MAX_BIG), 16 golden-section steps
ROW_T_BIG = 255  # larger grid tops (9+ bits, signed or unsigned): exact_rows_short (the bounds cost O(T) per interval)
ROWS_MAX_N = 1 << 17  # per-channel calls route rows up to this length (2-8 bits) to exact_rows (memory O(n))
ROW_GOLDEN = 16  # golden-section steps of the histogram upper bound (grid tops above ROW_T_MAX)
ROW_GOLDEN_SMALL = 8  # the same at tops up to ROW_T_MAX (2-5 bits: the window did not change with 8 instead of 16)
ROW_PRE_MIN = 8  # more initial s-intervals: the far ones bounded in two blocks (bisection)
ROW_BUCKET_MIN_NE = 2048  # hulls with more breakpoints (bound above) take the bucketed window
ROW_MIN_REL = 2.0**-30  # end intervals are not halved below this relative width  # below: one bin per side (M / vmax would overflow)


@numba.njit(cache=True, inline="always")
def _hbin(u, iw, M, vmax):
    """Bin of a boundary ``u >= 0`` (``M`` beyond the data): the same monotone map as the values."""
    if u > vmax:
        return M
    j = int(u * iw)
    return j if j < M else M - 1


@numba.njit(cache=True)
def _hist_row(x, Tp, Tn, Mp, iwp, iwn, Mn, H, HMN, HMX, J):
    """Histogram of one row: side 0 (x >= 0) in bins ``[0, Mp)``, side 1 in ``[Mp, Mp + Mn)``;
    ``H[j] = (count, sum v, sum v^2)``, ``HMN``/``HMX`` the extreme values of each bin.  Two
    phases (bin indices into the scratch ``J``, then the accumulation in the same order): the
    same sums, about three times faster than one fused loop (whose read-modify-writes of ``H``
    stall behind the index computation)."""
    m = Mp + Mn
    for j in range(m):
        H[j, 0] = 0.0
        H[j, 1] = 0.0
        H[j, 2] = 0.0
        HMN[j] = np.inf
        HMX[j] = -np.inf
    Mp1 = np.int32(Mp - 1)
    Mn1 = np.int32(Mn - 1)
    Mp32 = np.int32(Mp)
    zero = np.int32(0)
    n = x.shape[0]
    for i in range(n):
        xi = np.float64(x[i])
        v = abs(xi)
        neg = xi < 0.0
        # branchless side (random signs defeat the branch predictor); 32-bit bin indices (v * iw
        # <= M (1 + eps)), whose conversion vectorizes (a 64-bit one does not: ~2x slower)
        iw = iwn if neg else iwp
        top = Mn1 if neg else Mp1
        off = Mp32 if neg else zero
        j = np.int32(v * iw)
        J[i] = off + (j if j < top else top)
    for i in range(n):
        j = J[i]
        v = abs(np.float64(x[i]))
        H[j, 0] += 1.0
        H[j, 1] += v
        H[j, 2] += v * v
        HMN[j] = min(HMN[j], v)
        HMX[j] = max(HMX[j], v)


@numba.njit(cache=True)
def _prefix_dw(H, m, P):
    """Double-word prefix sums (``P[j, c] + P[j, c + 3] = sum_{i < j} H[i, c]``; TwoSum errors in
    the low word), so that a range sum is accurate to a few eps of the *range* sum."""
    for c in range(6):
        P[0, c] = 0.0
    h0 = 0.0
    h1 = 0.0
    h2 = 0.0
    l0 = 0.0
    l1 = 0.0
    l2 = 0.0
    for j in range(m):
        a = H[j, 0]
        t = h0 + a
        bp = t - h0
        l0 += (h0 - (t - bp)) + (a - bp)
        h0 = t
        a = H[j, 1]
        t = h1 + a
        bp = t - h1
        l1 += (h1 - (t - bp)) + (a - bp)
        h1 = t
        a = H[j, 2]
        t = h2 + a
        bp = t - h2
        l2 += (h2 - (t - bp)) + (a - bp)
        h2 = t
        P[j + 1, 0] = h0
        P[j + 1, 1] = h1
        P[j + 1, 2] = h2
        P[j + 1, 3] = l0
        P[j + 1, 4] = l1
        P[j + 1, 5] = l2


@numba.njit(cache=True, inline="always")
def _range_val(P, j0, j1, a):
    """``(sum over bins j0..j1 of sum (v - a)^2, magnitude of its terms)`` from the prefix sums."""
    d0 = (P[j1 + 1, 0] - P[j0, 0]) + (P[j1 + 1, 3] - P[j0, 3])
    d1 = (P[j1 + 1, 1] - P[j0, 1]) + (P[j1 + 1, 4] - P[j0, 4])
    d2 = (P[j1 + 1, 2] - P[j0, 2]) + (P[j1 + 1, 5] - P[j0, 5])
    return d2 - 2.0 * a * d1 + a * a * d0, abs(d2) + 2.0 * a * abs(d1) + a * a * abs(d0)


@numba.njit(cache=True, inline="always")
def _dist_range(a, b, s1, s2, T):
    """Distance from the values ``[a, b]`` to ``Z = {0} U [k s1, k s2] (k = 1..T)`` (0 if they meet;
    a floor off by one from rounding only gives 0, a valid lower bound)."""
    k1 = math.floor(a / s1)
    if k1 > T:
        k1 = T
    left = k1 * s2
    if a <= left:
        return 0.0
    if k1 < T:
        right = (k1 + 1) * s1
        if b >= right:
            return 0.0
        return min(a - left, right - b)
    return a - left


@numba.njit(cache=True, inline="always")
def _lb_piece(right, a, isz, jp, off, M, iw, vmax, s1, s2, T, H, HMN, HMX, P):
    """Adds the piece ``[left, right)`` of ``g = dist(v, Z)^2`` (``(v - a)^2``, or 0 if ``isz``)
    whose left boundary lies in bin ``jp``: its interior bins exactly, the bin of ``right``
    (if new) as count * min g over the bin.  Returns ``(lower bound, magnitude, jr)``."""
    jr = _hbin(right, iw, M, vmax)
    add = 0.0
    mag = 0.0
    if not isz and jp + 1 <= jr - 1:
        val, mag = _range_val(P, off + jp + 1, off + jr - 1, a)
        if val > 0.0:
            add = val
    if jr < M and jr > jp:
        j = off + jr
        c = H[j, 0]
        if c > 0.0:
            d = _dist_range(HMN[j], HMX[j], s1, s2, T)
            add += c * d * d
    if jr < jp:
        jr = jp
    return add, mag, jr


@numba.njit(cache=True)
def _lb_side(s1, s2, T, off, M, iw, vmax, H, HMN, HMX, P):
    """Lower bound of ``sum_v min_k (v - k s)^2`` over ``s in [s1, s2]`` on one side (histogram
    bins ``off .. off + M``): ``(bound, magnitude of the exact range sums)``."""
    lb = 0.0
    mg = 0.0
    jp = -1
    inf = np.inf
    add, m_, jp = _lb_piece(0.5 * s1, 0.0, False, jp, off, M, iw, vmax, s1, s2, T, H, HMN, HMX, P)
    lb += add
    mg += m_
    if jp < M:
        add, m_, jp = _lb_piece(s1, s1, False, jp, off, M, iw, vmax, s1, s2, T, H, HMN, HMX, P)
        lb += add
        mg += m_
    k = 1
    while jp < M:
        if k < T:
            a = k * s2
            c = (k + 1) * s1
            if c > a:
                add, m_, jp = _lb_piece(a, 0.0, True, jp, off, M, iw, vmax, s1, s2, T, H, HMN, HMX, P)
                lb += add
                if jp < M:
                    add, m_, jp = _lb_piece(0.5 * (a + c), a, False, jp, off, M, iw, vmax, s1, s2, T, H, HMN,
                                            HMX, P)
                    lb += add
                    mg += m_
                if jp < M:
                    add, m_, jp = _lb_piece(c, c, False, jp, off, M, iw, vmax, s1, s2, T, H, HMN, HMX, P)
                    lb += add
                    mg += m_
                k += 1
                continue
        # from here on the components [k s1, k s2] overlap (or k = T): zero up to T s2, then clipped
        add, m_, jp = _lb_piece(T * s2, 0.0, True, jp, off, M, iw, vmax, s1, s2, T, H, HMN, HMX, P)
        lb += add
        if jp < M:
            add, m_, jp = _lb_piece(inf, T * s2, False, jp, off, M, iw, vmax, s1, s2, T, H, HMN, HMX, P)
            lb += add
            mg += m_
        break
    return lb, mg


@numba.njit(cache=True)
def _ub_side(s, T, off, M, iw, vmax, H, HMN, HMX, P):
    """Upper bound of ``sum_v min_k (v - k s)^2`` on one side: interior bins of each rounding cell
    exactly, a bin straddling cells by the better of the cells of its extreme values (any one
    grid point gives an upper bound).  Returns ``(bound, magnitude)``."""
    ub = 0.0
    mg = 0.0
    jp = -1
    for k in range(T + 1):
        a = k * s
        right = (k + 0.5) * s if k < T else np.inf
        jr = _hbin(right, iw, M, vmax)
        if jp + 1 <= jr - 1:
            val, m_ = _range_val(P, off + jp + 1, off + jr - 1, a)
            ub += max(val, 0.0)
            mg += m_
        if jr < M and jr > jp:
            j = off + jr
            c = H[j, 0]
            if c > 0.0:
                best = np.inf
                for u in (HMN[j], HMX[j]):
                    kk = min(np.rint(u / s), float(T))
                    ac = kk * s
                    val = H[j, 2] - 2.0 * ac * H[j, 1] + ac * ac * c
                    m2 = H[j, 2] + 2.0 * ac * H[j, 1] + ac * ac * c
                    if val < best:
                        best = val
                        mb = m2
                ub += max(best, 0.0)
                mg += mb
        if jr > jp:
            jp = jr
        if jp >= M:
            break
    return ub, mg


@numba.njit(cache=True)
def _straddle(j0, j1, off, s1, s2, T, H, HMN, HMX):
    """``sum count * dist([min, max], Z)^2`` over the bins ``j0 .. j1`` of one side (``Z`` as in
    :func:`_dist_range`): a lower bound of their points' errors at every ``s`` in ``[s1, s2]``."""
    tot = 0.0
    is1 = 1.0 / s1
    for j in range(j0, j1 + 1):
        c = H[off + j, 0]
        if c > 0.0:
            # _dist_range with floor(a / s1) computed as floor(a * (1 / s1)): an index off by one
            # gives distance 0, still a lower bound
            a = HMN[off + j]
            b = HMX[off + j]
            k1 = math.floor(a * is1)
            if k1 > T:
                k1 = T
            left = k1 * s2
            d = 0.0
            if a > left:
                if k1 < T:
                    right = (k1 + 1) * s1
                    if b < right:
                        d = min(a - left, right - b)
                else:
                    d = a - left
            tot += c * d * d
    return tot


@numba.njit(cache=True)
def _joint_side(s1, s2, T, off, M, iw, vmax, H, HMN, HMX, P):
    """One side's part of the joint lower bound :func:`_row_lb_joint` over ``[s1, s2]``.

    A value ``v`` strictly inside ``((k - 1/2) s2, (k + 1/2) s1)`` (``k = 0``: ``[0, s1/2)``;
    ``k = T``: ``((T - 1/2) s2, inf)``) has the grid index ``k`` at every ``s`` of the interval, so
    its error is exactly ``(v - k s)^2``: the bins lying in these *certain* regions are summed into
    one quadratic ``Q(s) = q2 - 2 s q1 + s^2 q0`` (exact range sums), minimized jointly by the
    caller; every other bin contributes ``count * dist^2`` (:func:`_straddle`).  Returns ``(q2, q1,
    q0, magnitude of q2, of q1, of q0, straddling sum)``."""
    q2 = 0.0
    q1 = 0.0
    q0 = 0.0
    m2 = 0.0
    m1 = 0.0
    m0 = 0.0
    lbz = 0.0
    jp = -1  # bins 0 .. jp are done
    k = 0
    while k <= T and jp < M - 1:
        if k == 0:
            lo = -1.0
            hi = 0.5 * s1
        else:
            lo = (k - 0.5) * s2
            hi = (k + 0.5) * s1 if k < T else np.inf
        if k < T and k > 0 and not (lo < hi):
            # from here on the certain regions of cells k .. T - 1 are empty and the components
            # [k s1, k s2] overlap (up to T s2 >= (T - 1/2) s2): the bins up to the one holding
            # k s1 straddle, those strictly inside [k s1, (T - 1/2) s2] have distance 0 (skipped)
            jb = _hbin(k * s1, iw, M, vmax)
            lbz += _straddle(jp + 1, min(jb, M - 1), off, s1, s2, T, H, HMN, HMX)
            jp = max(jp, jb)
            jt = _hbin((T - 0.5) * s2, iw, M, vmax)
            jp = max(jp, jt - 1)
            k = T
            continue
        jl = _hbin(max(lo, 0.0), iw, M, vmax)
        jh = _hbin(hi, iw, M, vmax) if hi < np.inf else M
        # bins before this cell's certain region straddle
        lbz += _straddle(jp + 1, min(jl, M) - 1, off, s1, s2, T, H, HMN, HMX)
        if jl >= M:
            jp = M - 1
            break
        jp = max(jp, jl - 1)
        if jl > jp:  # the bin holding lo: certain if all its values are
            j = off + jl
            c = H[j, 0]
            if c > 0.0:
                if HMN[j] > lo and HMX[j] < hi:
                    q2 += H[j, 2]
                    q1 += k * H[j, 1]
                    q0 += k * k * c
                    m2 += H[j, 2]
                    m1 += k * H[j, 1]
                    m0 += k * k * c
                else:
                    d = _dist_range(HMN[j], HMX[j], s1, s2, T)
                    lbz += c * d * d
            jp = jl
        if jh - 1 > jp:  # interior bins: certain (values strictly between lo and hi)
            j0 = off + jp + 1
            j1 = off + jh - 1
            d0 = (P[j1 + 1, 0] - P[j0, 0]) + (P[j1 + 1, 3] - P[j0, 3])
            d1 = (P[j1 + 1, 1] - P[j0, 1]) + (P[j1 + 1, 4] - P[j0, 4])
            d2 = (P[j1 + 1, 2] - P[j0, 2]) + (P[j1 + 1, 5] - P[j0, 5])
            q2 += d2
            q1 += k * d1
            q0 += k * k * d0
            m2 += abs(d2)
            m1 += k * abs(d1)
            m0 += k * k * abs(d0)
            jp = jh - 1
        if jh < M and jh > jp:  # the bin holding hi: certain here, or left to the next cell
            j = off + jh
            c = H[j, 0]
            if c == 0.0:
                jp = jh
            elif HMN[j] > lo and HMX[j] < hi:
                q2 += H[j, 2]
                q1 += k * H[j, 1]
                q0 += k * k * c
                m2 += H[j, 2]
                m1 += k * H[j, 1]
                m0 += k * k * c
                jp = jh
        k += 1
    return q2, q1, q0, m2, m1, m0, lbz


@numba.njit(cache=True)
def _row_lb_joint(s1, s2, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX, P, rel, gp, gn):
    """Rigorous lower bound of ``F`` (without the ``T = 0`` sides) over ``s in [s1, s2]``, tighter
    than :func:`_row_bounds` on narrow intervals: the points whose grid index is the same at every
    ``s`` of the interval are summed as one exact quadratic in ``s`` and minimized jointly (second
    order), the others bounded one bin at a time (:func:`_joint_side`).

    Rounding: range sums and their combination carry ``rel`` plus ``4 eps (2 T + 16)`` of their
    magnitudes (``m2 + 2 s2 m1 + s2^2 m0``), the quadratic's evaluation ``6 eps`` of its terms and
    ``8 eps^2 s2^2 q0`` for a minimizer off by a few ulps, the straddling sums ``rel`` of their value,
    and the geometric term of :func:`_row_bounds` per side (rounded cell edges)."""
    q2 = 0.0
    q1 = 0.0
    q0 = 0.0
    m2 = 0.0
    m1 = 0.0
    m0 = 0.0
    lbz = 0.0
    geo = 0.0
    Tm = max(Tp, Tn)
    if Tp > 0 and vmp > 0.0:
        a2, a1, a0, b2, b1, b0, z = _joint_side(s1, s2, Tp, 0, Mp, iwp, vmp, H, HMN, HMX, P)
        q2 += a2
        q1 += a1
        q0 += a0
        m2 += b2
        m1 += b1
        m0 += b0
        lbz += z
        qq = Tp * s2 + vmp
        geo += gp * qq * qq
    if Tn > 0 and vmn > 0.0:
        a2, a1, a0, b2, b1, b0, z = _joint_side(s1, s2, Tn, Mp, Mn, iwn, vmn, H, HMN, HMX, P)
        q2 += a2
        q1 += a1
        q0 += a0
        m2 += b2
        m1 += b1
        m0 += b0
        lbz += z
        qq = Tn * s2 + vmn
        geo += gn * qq * qq
    sq = s1
    if q0 > 0.0:
        sq = min(max(q1 / q0, s1), s2)
    val = q2 - 2.0 * sq * q1 + sq * sq * q0
    err = ((rel + 4.0 * EPS * (2 * Tm + 16)) * (m2 + 2.0 * s2 * m1 + s2 * s2 * m0)
           + 6.0 * EPS * (abs(q2) + 2.0 * sq * abs(q1) + sq * sq * abs(q0)) + 8.0 * EPS * EPS * s2 * s2 * abs(q0))
    return max(val, 0.0) - err + lbz * (1.0 - rel) - geo


@numba.njit(cache=True)
def _row_bounds(s1, s2, lower, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX, P, rel, gp, gn):
    """Lower bound over ``[s1, s2]`` (``lower``) or upper bound at ``s1`` of ``n MSE`` without the
    sides with ``T = 0``, rounding included: relative ``rel`` of the range-sum magnitudes plus the
    geometric term ``g * (T s2 + vmax)^2`` per side (grid points and cell edges rounded)."""
    tot = 0.0
    err = 0.0
    if Tp > 0 and vmp > 0.0:
        if lower:
            v, m_ = _lb_side(s1, s2, Tp, 0, Mp, iwp, vmp, H, HMN, HMX, P)
        else:
            v, m_ = _ub_side(s1, Tp, 0, Mp, iwp, vmp, H, HMN, HMX, P)
        tot += v
        q = Tp * s2 + vmp
        err += rel * m_ + gp * q * q
    if Tn > 0 and vmn > 0.0:
        if lower:
            v, m_ = _lb_side(s1, s2, Tn, Mp, Mn, iwn, vmn, H, HMN, HMX, P)
        else:
            v, m_ = _ub_side(s1, Tn, Mp, Mn, iwn, vmn, H, HMN, HMX, P)
        tot += v
        q = Tn * s2 + vmn
        err += rel * m_ + gn * q * q
    if lower:
        return tot - err
    return tot + err


@numba.njit(cache=True)
def exact_rows(X, Tp, Tn, out):
    """The exact optimum of every row of ``X`` (2-D float32 or float64, C-contiguous); see the module
    doc.  Rows of at least ``ROW_MIN_N`` values on grids with tops up to ``ROW_T_BIG`` (8 bits) take
    :func:`exact_rows_window`, the others :func:`exact_rows_short` (faster there)."""
    if max(Tp, Tn) > ROW_T_BIG or X.shape[1] < ROW_MIN_N:
        exact_rows_short(X, Tp, Tn, out)
    else:
        exact_rows_window(X, Tp, Tn, out)


@numba.njit(cache=True, inline="always")
def _march_factor(ok, pr, U, small):
    """The factor of the march's beta after a step: a kept piece halves it; a dropped one (bound
    ``pr > U``) grows it by ``ROW_MARCH_GROW``, at grid tops up to ``ROW_T_MAX`` only when ``pr``
    exceeded ``U`` by more than ``ROW_MARCH_HI`` (relative), keeps it above ``ROW_MARCH_LO`` and
    shrinks it below (the next piece, nearer the optimum, would then fail: each failure costs a
    bound).  Only the choice of the pieces depends on it, not their bounds' validity."""
    if not ok:
        return 0.5
    if not small or pr > (1.0 + ROW_MARCH_HI) * U:
        return ROW_MARCH_GROW
    if pr > (1.0 + ROW_MARCH_LO) * U:
        return 1.0
    return ROW_MARCH_SHRINK


@numba.njit(cache=True)
def _march_end(left, q, other, d, i, nint, lo1, hi1, U, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX, P, rel,
               gp, gn):
    """One step of the march of one end ``q`` of the hull (``left``: ``q = A``, ``other = B``; else
    ``q = B``, ``other = A``) over the surviving s-intervals ``lo1, hi1`` (``i``: the one holding
    ``q``, ``nint`` of them): the piece ``[A, A (1 + d)]`` (or ``[B / (1 + d), B]``), at most the
    hull's outer half, is dropped when its joint lower bound exceeds ``U``; ``q`` then moves past
    it (and past any excluded gap between surviving intervals).  Returns ``(moved, q, i, the
    dropped piece's bound or inf)``."""
    mid = math.sqrt(q) * math.sqrt(other)
    if left:
        s1 = q
        s2 = min(q * (1.0 + d), mid)
    else:
        s1 = max(q * (1.0 / (1.0 + d)), mid)
        s2 = q
    if not (s1 < s2 and s2 > s1 * (1.0 + ROW_MIN_REL)):
        return False, q, i, np.inf
    v_ = _row_lb_joint(s1, s2, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX, P, rel, gp, gn)
    if not (v_ > U):
        return False, q, i, np.inf
    if left:
        q = s2
        while i < nint - 1 and q >= hi1[i]:
            i += 1
            q = max(q, lo1[i])
    else:
        q = s1
        while i > 0 and q <= lo1[i]:
            i -= 1
            q = min(q, hi1[i])
    return True, q, i, v_


@numba.njit(cache=True)
def exact_rows_checked(X, Tp, Tn, out):
    """:func:`exact_rows` for data not validated yet (the per-channel driver): the windowed kernel
    checks every row in its extrema pass (NaN, inf, ``|x| > ROW_BIG``: status -2 for that row and
    every later one, the others solved as by :func:`exact_rows`); the short-row kernel does not check
    (its caller runs :func:`rows_ok` first)."""
    if max(Tp, Tn) > ROW_T_BIG or X.shape[1] < ROW_MIN_N:
        exact_rows_short(X, Tp, Tn, out)
    else:
        _rows_window(X, Tp, Tn, out, True)


@numba.njit(cache=True)
def exact_rows_window(X, Tp, Tn, out):
    """The exact optimum of every row of ``X`` (2-D float32 or float64, C-contiguous); see the module
    doc.  Per row: extrema, a histogram pass, a branch and bound over s-intervals on the histogram,
    the exact sweep of the breakpoints in the hull of the surviving intervals and the direct sum at
    the optimum (four passes over the row).  The certificate is the smaller of the sweep's and the
    discarded intervals' lower bounds."""
    _rows_window(X, Tp, Tn, out, False)


@numba.njit(cache=True)
def _rows_window(X, Tp, Tn, out, check):
    """:func:`exact_rows_window`; ``check``: status -2 from the first row with a value NaN,
    infinite or above ``ROW_BIG`` on (:func:`exact_rows_checked`)."""
    rows, n = X.shape
    Tm = max(Tp, Tn)
    cap = max(1024, n)
    bv, bk, bb, ps, pv, pt = _sweep_buffers(cap)
    mside = min(max(ROW_HIST_MIN, n // 2), ROW_HIST_PER_T * Tm + ROW_HIST_MIN)
    H = np.empty((2 * mside, 3))
    HMN = np.empty(2 * mside)
    HMX = np.empty(2 * mside)
    P = np.empty((2 * mside + 1, 6))
    J = np.empty(n, dtype=np.int32)  # histogram bins, then the window's gathered points
    KA = np.empty(n)  # breakpoints per point in the window
    lo1 = np.empty(ROW_MAX_IV)
    hi1 = np.empty(ROW_MAX_IV)
    lb1 = np.empty(ROW_MAX_IV)
    for r in range(rows):
        x = X[r]
        const = 0.0
        max_pos, max_neg, npos, lo, hi, nbad = _row_stats_chk(x, Tp, Tn)
        if check and nbad > 0:  # NaN, inf or above ROW_BIG (rows_ok's check): status -2 here and after
            out[r:, 5] = -2.0
            return
        if hi == 0.0:
            out[r, 5] = 1.0
            continue
        if hi < TINY_DATA:
            out[r, 5] = 2.0
            continue
        A0 = max(lo, S_FLOOR)
        B0 = 2.0 * hi
        # ---- histogram (active sides only: T > 0 and a non-zero value)
        vmp = max_pos if Tp > 0 else 0.0
        vmn = max_neg if Tn > 0 else 0.0
        Mp = 1
        Mn = 1
        iwp = 0.0
        iwn = 0.0
        if vmp > 0.0 and vmp >= ROW_TINY_VMAX:
            Mp = min(max(ROW_HIST_MIN, npos // 2), ROW_HIST_PER_T * Tp + ROW_HIST_MIN)
            iwp = Mp / vmp
        if vmn > 0.0 and vmn >= ROW_TINY_VMAX:
            Mn = min(max(ROW_HIST_MIN, (n - npos) // 2), ROW_HIST_PER_T * Tn + ROW_HIST_MIN)
            iwn = Mn / vmn
        _hist_row(x, Tp, Tn, Mp, iwp, iwn, Mn, H, HMN, HMX, J)
        _prefix_dw(H, Mp + Mn, P)
        if Tp == 0:
            const = P[Mp, 2] + P[Mp, 5]
        if Tn == 0:
            const = (P[Mp + Mn, 2] - P[Mp, 2]) + (P[Mp + Mn, 5] - P[Mp, 5])
        s1act = 0.0
        sc = 0.0
        if vmp > 0.0:
            s1act += P[Mp, 1] + P[Mp, 4]
            sc = max(sc, vmp / (Tp + 0.5))
        if vmn > 0.0:
            s1act += (P[Mp + Mn, 1] - P[Mp, 1]) + (P[Mp + Mn, 4] - P[Mp, 4])
            sc = max(sc, vmn / (Tn + 0.5))
        # rounding: bin sums of up to n terms, range sums and their combination; geometry
        rel = (n + 16.0) * 4.0 * EPS + 4.0 * (Mp + Mn) * (Mp + Mn) * EPS * EPS
        gp = 64.0 * EPS * npos
        gn = 64.0 * EPS * (n - npos)
        # ---- branch and bound over s-intervals
        start = max(A0, sc / 64.0)
        nint = 0
        if A0 < start:
            lo1[0] = A0
            hi1[0] = start
            nint = 1
        a_ = start
        while a_ < B0 and nint < ROW_MAX_IV:
            b_ = a_ * ROW_INIT_STEP
            if b_ * 1.0001 >= B0:
                b_ = B0
            lo1[nint] = a_
            hi1[nint] = b_
            nint += 1
            a_ = b_
        U = np.inf
        min_pruned = np.inf
        target = max(ROW_NE_MIN, ROW_NE_PER_N * n)
        A = A0
        B = B0
        nevals = nint + ROW_NUB
        # the far intervals first, in two blocks: the lower bound over [A0, hi1[i]] (a wide interval:
        # only its clipped points count, O(1) pieces) covers intervals 0..i, the one over
        # [lo1[i], B0] (points rounded to 0) intervals i..nint-1; with a first upper bound U0 the
        # blocks above U0 are found by bisection (the bounds are monotone in i; a non-monotone
        # rounding only makes the blocks smaller) and only the intervals between get their own bound
        iL = -1
        iR = nint
        if nint > ROW_PRE_MIN:
            U0 = np.inf
            for f in (1.0, 0.5, 0.25):
                sg = f * sc
                if A0 < sg < B0:
                    U0 = min(U0, _row_bounds(sg, sg, False, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX, P,
                                             rel, gp, gn))
            nevals += 3
            U = U0
            # largest iL with bound([A0, hi1[iL]]) > U0 (iL = -1: none)
            ga_ = -1
            gb_ = nint
            bL = np.inf
            while gb_ - ga_ > 1:
                gm = (ga_ + gb_) // 2
                v_ = _row_bounds(A0, hi1[gm], True, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX, P, rel,
                                 gp, gn)
                nevals += 1
                if v_ > U0:
                    ga_ = gm
                    bL = v_
                else:
                    gb_ = gm
            iL = ga_
            # smallest iR > iL with bound([lo1[iR], B0]) > U0 (iR = nint: none)
            ga_ = iL
            gb_ = nint
            bR = np.inf
            while gb_ - ga_ > 1:
                gm = (ga_ + gb_) // 2
                v_ = _row_bounds(lo1[gm], B0, True, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX, P, rel,
                                 gp, gn)
                nevals += 1
                if v_ > U0:
                    gb_ = gm
                    bR = v_
                else:
                    ga_ = gm
            iR = gb_
            for i in range(iL + 1):
                lb1[i] = bL
            for i in range(iR, nint):
                lb1[i] = bR
            nevals -= nint - (iR - iL - 1)
        for i in range(iL + 1, iR):
            lb1[i] = _row_bounds(lo1[i], hi1[i], True, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX,
                                 P, rel, gp, gn)
        # upper bounds at the midpoints of the lowest intervals
        prev = -np.inf
        for t in range(ROW_NUB):
            best = -1
            for i in range(nint):
                if lb1[i] > prev and (best < 0 or lb1[i] < lb1[best]):
                    best = i
            if best < 0:
                break
            prev = lb1[best]
            sm = math.sqrt(lo1[best]) * math.sqrt(hi1[best])
            U = min(U, _row_bounds(sm, sm, False, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX, P,
                                   rel, gp, gn))
        # golden-section search of the upper bound around the lowest interval (log s)
        best = 0
        for i in range(nint):
            if lb1[i] < lb1[best]:
                best = i
        ga = math.log(lo1[max(best - 1, 0)])
        gb = math.log(hi1[min(best + 1, nint - 1)])
        gr = 0.6180339887498949
        gc = gb - gr * (gb - ga)
        gd = ga + gr * (gb - ga)
        fc = _row_bounds(math.exp(gc), math.exp(gc), False, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX,
                         P, rel, gp, gn)
        fd = _row_bounds(math.exp(gd), math.exp(gd), False, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX,
                         P, rel, gp, gn)
        ngold = ROW_GOLDEN if Tm > ROW_T_MAX else ROW_GOLDEN_SMALL
        for t in range(ngold):
            if fc < fd:
                gb = gd
                gd = gc
                fd = fc
                gc = gb - gr * (gb - ga)
                fc = _row_bounds(math.exp(gc), math.exp(gc), False, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN,
                                 HMX, P, rel, gp, gn)
            else:
                ga = gc
                gc = gd
                fc = fd
                gd = ga + gr * (gb - ga)
                fd = _row_bounds(math.exp(gd), math.exp(gd), False, Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN,
                                 HMX, P, rel, gp, gn)
        U = min(U, fc, fd)
        nevals += ngold + 2
        sg = math.exp(gc) if fc < fd else math.exp(gd)  # the march's centre
        # the intervals not excluded (lower bound <= U), in increasing s
        m = 0
        for i in range(nint):
            if lb1[i] <= U:
                lo1[m] = lo1[i]
                hi1[m] = hi1[i]
                m += 1
            else:
                min_pruned = min(min_pruned, lb1[i])
        nint = m
        il = 0
        ir = nint - 1
        A = lo1[il]
        B = hi1[ir]
        # shrink the hull [A, B] from both ends by a march towards the centre sg (the best upper
        # bound's scale): the next piece at an end, of relative width beta |ln(q / sg)| (q the end),
        # is dropped when its joint lower bound exceeds U (then beta grows by ROW_MARCH_GROW, up to
        # ROW_MARCH_BETA), else beta halves; an end stops once its piece would hold fewer than
        # ROW_MARCH_EV * Tm breakpoints (a bound costs about that many swept ones), the whole
        # march once the hull holds about `target` breakpoints (or after nmax steps)
        small = Tm <= ROW_T_MAX
        be_l = ROW_MARCH_BETA0_SMALL if small else ROW_MARCH_BETA
        be_r = be_l
        act_l = True
        act_r = True
        ev_stop = (ROW_MARCH_EV if Tm <= ROW_T_MAX else ROW_MARCH_EV_BIG) * Tm / max(s1act, 1e-300)
        rnd = 0
        nmax = ROW_MARCH_MAX if Tm <= ROW_T_MAX else ROW_MARCH_MAX_BIG
        while rnd < nmax and (act_l or act_r):
            if s1act * (1.0 / A - 1.0 / B) <= target:
                break
            if act_l:
                d_ = be_l * abs(math.log(A / sg))
                ok, A, il, pr = _march_end(True, A, B, d_, il, nint, lo1, hi1, U, Tp, Tn, Mp, Mn, iwp, iwn,
                                           vmp, vmn, H, HMN, HMX, P, rel, gp, gn)
                min_pruned = min(min_pruned, pr)
                nevals += 1
                rnd += 1
                be_l = min(ROW_MARCH_BETA, _march_factor(ok, pr, U, small) * be_l)
                if not (be_l * abs(math.log(A / sg)) >= max(ev_stop * A, ROW_MIN_REL)):
                    act_l = False
            if act_r:
                d_ = be_r * abs(math.log(B / sg))
                ok, B, ir, pr = _march_end(False, B, A, d_, ir, nint, lo1, hi1, U, Tp, Tn, Mp, Mn, iwp, iwn,
                                           vmp, vmn, H, HMN, HMX, P, rel, gp, gn)
                min_pruned = min(min_pruned, pr)
                nevals += 1
                rnd += 1
                be_r = min(ROW_MARCH_BETA, _march_factor(ok, pr, U, small) * be_r)
                if not (be_r * abs(math.log(B / sg)) >= max(ev_stop * B, ROW_MIN_REL)):
                    act_r = False
        # ---- exact sweep of [A, B]; buffers for an upper bound of its breakpoints
        iA = 1.0 / A
        iB = 1.0 / B
        ne_ub = 0.0
        for side in range(2):
            T = Tp if side == 0 else Tn
            M = Mp if side == 0 else Mn
            off = 0 if side == 0 else Mp
            if T == 0:
                continue
            for j in range(off, off + M):
                c = H[j, 0]
                if c > 0.0:
                    ne_ub += c * max(0.0, min(np.rint(HMX[j] * iA), float(T)) - min(np.rint(HMN[j] * iB), float(T)))
        if ne_ub > ROW_BUCKET_MIN_NE:
            min_pruned = min(min_pruned, _solve_buckets(x, Tp, Tn, A, B, ne_ub, out[r]))
        else:
            if ne_ub + 1 > cap:
                cap = int(ne_ub) + 1
                bv, bk, bb, ps, pv, pt = _sweep_buffers(cap)
            _sweep_window_fast(x, Tp, Tn, A, B, bv, bk, bb, ps, pv, pt, KA, J, out[r])
        if out.shape[1] >= 10:  # diagnostics: rounds, bound evaluations, window (A, B)
            out[r, 6] = rnd + 1
            out[r, 7] = nevals
            out[r, 8] = A
            out[r, 9] = B
        if min_pruned < np.inf:
            cw = const * (1 - 2 * EPS * (n + 1)) + min_pruned
            if cw < out[r, 2]:
                out[r, 2] = max(0.0, cw)


# ----------------------------------------------------------------------------- bucketed window
# A window [A, B] holding many breakpoints (6-8 bits: tens of thousands per row) is not swept
# piece by piece: its breakpoints are accumulated into NB buckets of s (no sort), which gives the
# exact quadratic Q_b of F at every bucket's left edge (an exact value of F there, hence upper
# bounds) and a rigorous lower bound of F on every bucket; only the buckets whose lower bound does
# not exceed the best value are swept exactly (:func:`_sweep_window` on each run of them).
BUCKET_MIN_NE = 4096  # windows with fewer breakpoints are swept directly
BUCKET_PER_NE = 0.125  # buckets per breakpoint
BUCKET_SEG_RATIO = 1.5  # segments of the window (one centre each): s ratio at most this
BUCKET_MAX_SEG = 64
# breakpoints swept at once by _solve_buckets (~56 bytes each: ~30 MB): longer runs of surviving
# buckets are cut at bucket edges, and windows with many breakpoints per point (tiny arrays at
# 16-24 bits: 2 values at 24 bits have 2^24) get at least 4 ne / BUCKET_RUN_MAX buckets
BUCKET_RUN_MAX = 1 << 19


@numba.njit(cache=True, inline="always")
def _seg_base(v, k, s0, C, g):
    """Adds the point ``v`` with grid index ``k`` to the base sums of segment ``g`` (centre
    ``s0``): ``sum e^2, sum k e, sum k^2`` with ``e = v - k s0``, ``sum |k e|`` and the magnitudes
    of the residual rounding (``m = v + k s0`` bounds ``|e|`` and ``k s0``; ``e`` is rounded by at
    most ``2 eps m``): ``sum |e| m, sum k m, sum m^2``."""
    e = v - k * s0
    m = v + k * s0
    C[g, 0] += e * e
    C[g, 1] += k * e
    C[g, 2] += k * k
    C[g, 3] += abs(k * e)
    C[g, 4] += abs(e) * m
    C[g, 5] += k * m
    C[g, 6] += m * m


@numba.njit(cache=True)
def _seg0_base(v, k, s0, b0, b1, b2, b3, b4, b5, b6):
    """:func:`_seg_base` for segment 0, whose seven sums the bucket pass keeps in scalars
    (read-modify-writes of an array in that loop cost ~3x): the same terms, returned updated."""
    e = v - k * s0
    m = v + k * s0
    return (b0 + e * e, b1 + k * e, b2 + k * k, b3 + abs(k * e), b4 + abs(e) * m, b5 + k * m, b6 + m * m)


@numba.njit(cache=True)
def _bucket_bounds(x, Tp, Tn, A, B, nbt, E, lb, cnt):
    """One pass over the row: every breakpoint ``beta = v / (k + 1/2)`` in ``[A, B]`` accumulated
    into its bucket (no sort), then per bucket ``[L, R] = [E[j], E[j + 1]]`` a rigorous lower bound
    ``lb[j]`` of ``F`` (without the ``T = 0`` sides) and its breakpoint count ``cnt[j]``.  Returns
    ``(number of buckets, smallest rigorous upper bound of min F found)`` (values at the edges).

    The window is cut into geometric segments (s ratio <= BUCKET_SEG_RATIO, one centre ``s0``
    each, for precision); inside a segment the buckets are equal in ``u = 1/s`` (a point's
    breakpoints are equally spaced in u: its bucket index is one multiply away).  Per bucket only
    ``S1 = sum (2k + 1)``, ``SV = sum v`` and the count are kept: a breakpoint changes the centred
    sums of the quadratic by ``d0 = s0 (2 v - (2k + 1) s0)``, ``d1 = (2k + 1) s0 - v``,
    ``d2 = -(2k + 1)`` (k + 1 -> k as s grows past beta), and lowers ``F`` below the bucket's
    quadratic ``Q`` (exact at ``L``) by ``(2k + 1) s (s - beta) <= (2k + 1) R (R - beta)`` once
    ``s > beta``; since ``(2k + 1) beta = 2 v``, the sum of these is ``C = R (R S1 - 2 SV)``, and
    ``F >= min_[L, R] Q - C`` on the bucket.

    Rounding (all bounds rigorous): sums of up to ``n + events + buckets`` terms carry ``rt``
    times their magnitudes; the residuals ``e`` of the base sums through the ``m`` sums of
    :func:`_seg_base`; the quadratic's evaluation ``4 eps`` of its terms; a breakpoint's computed
    bucket (or the computed ``k`` at ``A``, ``B``) may be wrong by ``12 eps s`` in s around it,
    which moves ``F`` at an edge, and ``C``, by ``(2k + 1) s 12 eps s`` at most: ``G = 32 eps B^2
    sum S1`` covers every such breakpoint at once."""
    n = x.shape[0]
    r = B / A
    nseg = 1
    while nseg < BUCKET_MAX_SEG and r > BUCKET_SEG_RATIO ** nseg:
        nseg += 1
    # segment edges (geometric), their u, buckets per segment proportional to their u-width
    a = np.empty(nseg + 1)
    a[0] = A
    a[nseg] = B
    q = r ** (1.0 / nseg)
    for g in range(1, nseg):
        a[g] = A * q ** g
    UA = np.empty(nseg + 1)
    for g in range(nseg + 1):
        UA[g] = 1.0 / a[g]
    du = (UA[0] - UA[nseg]) / nbt
    NBS = np.empty(nseg, dtype=np.int64)
    OFF = np.empty(nseg + 1, dtype=np.int64)
    INV = np.empty(nseg)
    S0 = np.empty(nseg)
    OFF[0] = 0
    for g in range(nseg):
        NBS[g] = max(1, int(math.ceil((UA[g] - UA[g + 1]) / du)))
        OFF[g + 1] = OFF[g] + NBS[g]
        INV[g] = NBS[g] / (UA[g] - UA[g + 1])
        S0[g] = 0.5 * (a[g] + a[g + 1])
    nb = OFF[nseg]
    D = np.zeros((nb, 3))
    C = np.zeros((nseg, 7))
    iA = 1.0 / A
    iB = 1.0 / B
    nev = 0.0
    S1tot = 0.0
    # segment 0's base sums (every point adds to them) in scalars, not in C[0] (the same sums in
    # the same order; read-modify-writes of an array in this loop cost ~3x)
    s00 = S0[0]
    b0 = 0.0
    b1 = 0.0
    b2 = 0.0
    b3 = 0.0
    b4 = 0.0
    b5 = 0.0
    b6 = 0.0
    if nseg == 1:
        # one segment (windows up to BUCKET_SEG_RATIO wide): a first loop computes the base sums
        # and gathers, branchless, the points with breakpoints in the window; a second loop adds
        # their breakpoints to the buckets.  The same sums in the same order as the general loop
        # below, but no data-dependent branch in the pass over every point (at 2-5 bits only
        # ~1/3 of the points have a breakpoint in the window: the branch mispredicts)
        gv = np.empty(n)
        gi = np.empty(n, dtype=np.int64)
        m_ = 0
        for i in range(n):
            v, T = _magnitude_top(x[i], Tp, Tn)
            if T == 0:
                continue
            kA = min(np.rint(v * iA), float(T))
            kB = min(np.rint(v * iB), float(T))
            b0, b1, b2, b3, b4, b5, b6 = _seg0_base(v, kA, s00, b0, b1, b2, b3, b4, b5, b6)
            gv[m_] = v
            gi[m_] = (int(kA) << 32) | int(kB)  # 0 <= kB <= kA <= T < 2^31
            m_ += kA > kB
        cu0 = INV[0]
        c0 = UA[0] * INV[0]
        nbs = NBS[0] - 1
        for p in range(m_):
            v = gv[p]
            khi = gi[p] >> 32
            kbi = gi[p] & 0xFFFFFFFF
            cu = cu0 * (1.0 / v)
            for k in range(kbi, khi):
                j = min(max(int(c0 - (k + 0.5) * cu), 0), nbs)
                D[j, 0] += 2 * k + 1
                D[j, 1] += v
                D[j, 2] += 1.0
            nev += khi - kbi
            S1tot += float(khi) * khi - float(kbi) * kbi
    for i in range(n if nseg > 1 else 0):
        v, T = _magnitude_top(x[i], Tp, Tn)
        if T == 0:
            continue
        kA = min(np.rint(v * iA), float(T))
        kB = min(np.rint(v * iB), float(T))
        b0, b1, b2, b3, b4, b5, b6 = _seg0_base(v, kA, s00, b0, b1, b2, b3, b4, b5, b6)
        if kA > kB:
            iv = 1.0 / v
            khi = int(kA)
            kbi = int(kB)
            for g in range(nseg):
                # the breakpoints of segment g: k in [kg, khi) with u = (k + 1/2) / v > UA[g + 1]
                # (the same computed test decides the segment, whichever way it is reached)
                kg = kbi
                if g < nseg - 1:
                    kg = min(max(kbi, int(math.ceil(UA[g + 1] * v - 0.5))), khi)
                    while kg > kbi and (kg - 0.5) * iv > UA[g + 1]:
                        kg -= 1
                    while kg < khi and (kg + 0.5) * iv <= UA[g + 1]:
                        kg += 1
                cu = INV[g] * iv
                c0 = UA[g] * INV[g]
                nbs = NBS[g] - 1
                og = OFF[g]
                for k in range(kg, khi):
                    j = min(max(int(c0 - (k + 0.5) * cu), 0), nbs) + og
                    D[j, 0] += 2 * k + 1
                    D[j, 1] += v
                    D[j, 2] += 1.0
                khi = kg
                if g < nseg - 1:
                    _seg_base(v, float(kg), S0[g + 1], C, g + 1)
            nev += kA - kB
            S1tot += kA * kA - kB * kB
        else:
            for g2 in range(1, nseg):
                _seg_base(v, kA, S0[g2], C, g2)
    C[0, 0] = b0
    C[0, 1] = b1
    C[0, 2] = b2
    C[0, 3] = b3
    C[0, 4] = b4
    C[0, 5] = b5
    C[0, 6] = b6
    rt = 4.0 * EPS * (n + nev + nb + 16)
    G = 16.0 * EPS * (q + 1.0) * B * B * S1tot
    U = np.inf
    for g in range(nseg):
        s0 = S0[g]
        c0, c1, c2, c1a, bm0, bm1, bm2 = C[g, 0], C[g, 1], C[g, 2], C[g, 3], C[g, 4], C[g, 5], C[g, 6]
        q0 = 0.0
        q1 = 0.0
        q2 = 0.0
        A0 = 0.0
        A1 = 0.0
        base0 = rt * c0 + 5.0 * EPS * bm0 + 5.0 * EPS * EPS * bm2
        base1 = rt * c1a + 3.0 * EPS * bm1
        ua = UA[g]
        dug = (UA[g] - UA[g + 1]) / NBS[g]
        R = a[g]
        for j in range(NBS[g] + 1):
            jj = OFF[g] + j
            L = R
            E[jj] = L
            E2 = c0 + q0
            KE = c1 + q1
            K2 = c2 + q2
            eE2 = base0 + rt * A0
            eKE = base1 + rt * A1
            # value at the left edge: an upper bound of min F
            t = L - s0
            at = abs(t)
            val = E2 - 2 * t * KE + t * t * K2
            err = eE2 + 2 * at * eKE + 6 * EPS * (abs(E2) + 2 * at * abs(KE) + t * t * abs(K2)) + G
            U = min(U, val + err)
            if j == NBS[g]:
                break
            R = a[g + 1] if j == NBS[g] - 1 else 1.0 / (ua - (j + 1) * dug)
            if not R > L:  # (rounding) an empty bucket
                R = L
            vq, tq = _qmin(E2, KE, K2, L - s0, R - s0)
            atq = max(abs(L - s0), abs(R - s0))
            errq = eE2 + 2 * atq * eKE + 6 * EPS * (abs(E2) + 2 * atq * abs(KE) + atq * atq * abs(K2)) + G
            S1 = D[jj, 0]
            SV = D[jj, 1]
            cb = D[jj, 2]
            Cb = max(R * (R * S1 - 2.0 * SV), 0.0) + (8.0 + 2.0 * cb) * EPS * R * (R * S1 + 2.0 * SV)
            lb[jj] = vq - errq - Cb
            cnt[jj] = cb
            q0 += s0 * (2.0 * SV - s0 * S1)
            q1 += s0 * S1 - SV
            q2 -= S1
            A0 += s0 * (2.0 * SV + s0 * S1)
            A1 += SV + s0 * S1
    E[nb] = B
    return nb, U


@numba.njit(cache=True)
def _solve_buckets(x, Tp, Tn, A, B, ne_est, out_row):
    """Exact minimum of ``F`` over ``[A, B]`` (as :func:`_sweep_window`, same ``out_row``) through
    buckets (:func:`_bucket_bounds`, one pass over the row); the buckets whose lower bound does not
    exceed the best upper bound are swept exactly, run by run.  ``out_row[2]`` (certificate over
    ``[A, B]``) is the smaller of the sweeps' and the dropped buckets' bounds."""
    n = x.shape[0]
    nbt = int(max(16.0, min(BUCKET_PER_NE * ne_est, 4.0 * n + 64), 4.0 * ne_est / BUCKET_RUN_MAX))
    cap_b = nbt + BUCKET_MAX_SEG + 2
    E = np.empty(cap_b + 1)
    lb = np.empty(cap_b)
    cnt = np.empty(cap_b)
    tot, U = _bucket_bounds(x, Tp, Tn, A, B, nbt, E, lb, cnt)
    min_pruned = np.inf
    for j in range(tot):
        if lb[j] > U:
            min_pruned = min(min_pruned, lb[j])
    # runs of surviving buckets (a gap of dropped buckets holding fewer than n/4 breakpoints is
    # swept with them: cheaper than one more pass over the row)
    best_F = np.inf
    best_s = 0.0
    best_err = 0.0
    cert = np.inf
    tmp = np.zeros(6)
    ss = np.empty(BUCKET_MAX_SEG * 4 + 64)
    sf = np.empty(BUCKET_MAX_SEG * 4 + 64)
    sc = np.empty(BUCKET_MAX_SEG * 4 + 64)
    nruns = 0
    j = 0
    nev_all = 0.0
    cap = 0
    bv, bk, bb, ps, pv, pt = _sweep_buffers(1)
    ND = np.empty(n)  # scratch of the vectorized sweep
    G = np.empty(n, dtype=np.int32)
    while j < tot:
        if lb[j] > U:
            j += 1
            continue
        j0 = j
        ne_run = 0.0
        j1 = j
        gap = 0.0
        while j < tot:
            if j > j0 and ne_run + gap + cnt[j] > BUCKET_RUN_MAX:
                break  # bounded memory: the rest of the run is swept as a run of its own
            if lb[j] <= U:
                ne_run += gap + cnt[j]
                gap = 0.0
                j1 = j
            else:
                gap += cnt[j]
                if gap > 0.25 * n:
                    break
            j += 1
        j = j1 + 1
        L = E[j0]
        R = E[j1 + 1]
        # buffers sized from the buckets' counts (a breakpoint's computed bucket may be off by one
        # near an edge: the neighbours' counts too); the sweep reports a shortfall, then it is
        # repeated with the exact count (no separate counting pass over the row)
        need = ne_run + (cnt[j0 - 1] if j0 > 0 else 0.0) + (cnt[j1 + 1] if j1 + 1 < tot else 0.0) + 16.0
        while True:
            if need + 1 > cap:
                cap = int(need) + 1
                bv, bk, bb, ps, pv, pt = _sweep_buffers(cap)
            _sweep_window_fast(x, Tp, Tn, L, R, bv, bk, bb, ps, pv, pt, ND, G, tmp)
            if tmp[5] >= 0.0:
                break
            need = tmp[4]  # the exact count the sweep reported: the second try always fits
        nev_all += tmp[4]
        if nruns < ss.shape[0]:
            ss[nruns] = tmp[0]
            sf[nruns] = tmp[1]
            sc[nruns] = tmp[2]
        nruns += 1
        cert = min(cert, tmp[2])
        if tmp[1] < best_F:
            best_F = tmp[1]
            best_s = tmp[0]
            best_err = tmp[3]
    # other runs whose bound reaches below the best value may hold an equally good scale
    for r in range(min(nruns, ss.shape[0])):
        if sc[r] <= best_F and ss[r] != best_s:
            best_err = max(best_err, abs(ss[r] - best_s))
    out_row[0] = best_s
    out_row[1] = best_F
    out_row[2] = cert
    out_row[3] = best_err
    out_row[4] = nev_all
    out_row[5] = 0.0
    return min_pruned
