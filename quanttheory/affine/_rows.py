"""Fused numba kernel: exact (s, z) optimum of every row of a matrix (private).

Per row ``x`` (``n`` values, ``N = 2**bits - 1``), with ``code(v, s, z) = clip(rint(v / s), -z, N - z)``
(the float formula of :func:`~quanttheory.affine.grid.affine_fake_quantize`, minus ``z``):

1. one pass: min, max, ``sum x^2`` and the finiteness checks;
2. a uniform histogram of ``nb`` bins over ``[min x, max x]`` (count / sum / sum of squares per bin
   and their prefix sums) and a counting sort of the values by bin.  ``idx(v) = floor((v - min x)
   nb / range)`` is monotone in ``v`` in floating point, so every value of bin ``j`` lies between the
   values of the bins before and after it, and within the bin's edges widened by the rounding;
3. incumbent: shrunk min-max grids, least-squares (Lloyd) steps at the three best zero-points (their
   best scale centres the first boxes); scales below ``s_a`` (every level inside
   ``[-N s_a, N s_a]``) and above ``s_b`` (the values in ``(-s/2, s/2)`` alone cost more) excluded;
4. branch and bound over nodes ``([s1, s2], alive zero-points)``.  For each cell boundary ``c | c+1``
   the values whose code can change inside the box lie in the "zone" ``(c + 1/2) [s1, s2]`` (widened
   by ``8 eps`` relative, which covers the rounding of ``v / s``), whatever ``z`` is.  The bins between
   two consecutive zones have one code for every ``s`` of the box: their part of the MSE is an exact
   quadratic ``S2 - 2 s c S1 + s^2 c^2 cnt`` read from the prefix sums; zone bins (in at most ``G``
   groups) contribute ``cnt * dist(values, union of the level intervals k [s1, s2])^2``.  The terms
   are tabulated once per node and summed over each zero-point's window of boundaries by cumulative
   sums (:func:`_node`): ``O(N)`` for all zero-points of a node, independent of ``n``.  The lower
   bound is the exact minimum of the quadratic over ``[s1, s2]`` plus the distances (boxes wider than
   ``OLDRW``); every node also gets the second-order chord bound of :func:`_chord` (exact at the box
   ends, slack ~ width^2; derivation in docs/affine.md);
5. a (node, z) whose zones hold few values (at most 64, or at most ``T + 2 N n / nb`` in a box at most
   ``1/(4N)`` wide) or narrower than ``2**-10`` is solved exactly on the raw values (:func:`_exact`):
   values of the fixed bins enter through the prefix sums, the zone values are classified one by one
   (code at ``s1`` and ``s2``), their breakpoints ``v / (k +- 1/2)`` ordered (:func:`_bucket_order`) and
   swept, each quadratic piece minimized in closed form.  Other nodes are split at their geometric midpoint.
6. zero-points that clip no value for any scale of a box (:func:`_free_range`: ``z`` between
   ``-xmin / s1 - 1/2`` and ``N + 1/2 - xmax / s1``, with a 4 eps margin) give every value the code
   ``rint(x / s)``: their MSE is one function of ``s`` there, so only the smallest alive one is kept
   (the others tie with it exactly; their children are dropped too, since a child's ``s1`` is larger).

Every box is pruned only when its lower bound, minus a rounding allowance, exceeds an attained
value plus its allowance (``4 eps (max bin count + nb + N + 16)`` times the magnitude of the
quadratic's terms plus the row's sum of squares), so the minimum over the exactly solved boxes
is the global optimum; an exact zero MSE ends the search.  The MSE of the returned ``(s, z)``
is summed directly (no cancellation).
Status per row: 0 solved; 1 a buffer overflowed or the histogram is degenerate (reference solver);
2 constant row; 3 the small-scale bound did not close (reference solver); 4 no box solved
(reference solver); 5 non-finite value (``info[r, 0]`` is its index); 6 a value too large to square.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

EPS = 2.0**-52
MAXBOX = 1 << 12
MAXBP = 1 << 16
MAXE = 2048  # scale points whose U values are cached per row (box ends); more -> reference path
NCAND = 6
WF = 4.0  # a box is solved exactly when narrower than s2 / (WF N) and its zones hold <= Tr values
ZMIN = 64.0
OLDRW = 0.25  # boxes wider than this (relative) also get the first-order bound of _node
DELTA0 = 0.01  # half-width (relative) of the first box around the incumbent's scale
LSTEPS = 4  # rounds of two least-squares steps and an Aitken extrapolation per zero-point of the incumbent
DOMINANCE = True  # prune zero-points dominated by a neighbour on the whole box (_dominance)
GROW = 1.7  # growth of the first boxes' widths away from it


@njit(cache=True)
def _code(v, s, z, N):
    k = np.rint(v / s)
    if k < -z:
        k = -z
    if k > N - z:
        k = N - z
    return k


@njit(cache=True)
def _qmin(A, B, C, s1, s2):
    """min over s in [s1, s2] of A - 2 s B + s^2 C (C >= 0), and its argmin."""
    if C > 0.0:
        s = B / C
        if s < s1:
            s = s1
        elif s > s2:
            s = s2
    else:
        s = s2 if B > 0.0 else s1
    return A - 2.0 * s * B + s * s * C, s


@njit(cache=True)
def _idx(v, xmin, invw, nb):
    t = (v - xmin) * invw
    if t <= 0.0:
        return 0
    if t >= nb - 1:
        return nb - 1
    return int(t)


@njit(cache=True)
def _zone(c, s1, s2):
    """Values that may change code between c and c + 1 for s in [s1, s2] (widened for rounding)."""
    h = c + 0.5
    if h > 0.0:
        a = h * s1
        b = h * s2
        m = b
    else:
        a = h * s2
        b = h * s1
        m = -a
    mar = 8.0 * EPS * m + 1e-300
    return a - mar, b + mar


@njit(cache=True)
def _dist_union(a, b, s1, s2, z, N):
    """Lower bound of the distance from any point of [a, b] to the union of the level intervals
    k [s1, s2], k = -z..N-z."""
    if a <= 0.0 <= b:
        return 0.0
    if a > 0.0:
        T = N - z
        u = a
        w = b
    else:
        T = z
        u = -b
        w = -a
    if T == 0:
        return u
    top = T * s2
    if u >= top:
        return u - top
    k = float(int(u * (1.0 / s2)))
    if k * s2 > u:
        k -= 1.0
    elif (k + 1.0) * s2 <= u:
        k += 1.0
    nxt = (k + 1.0) * s1
    if w < nxt:
        return min(u - k * s2, nxt - w)
    return 0.0


@njit(cache=True)
def _group(j0, j1, xmin, w, dlt, xmax):
    """Bounds of the values of bins j0..j1 (from the bin edges, widened by the rounding of idx)."""
    return max(xmin + j0 * w - dlt, xmin), min(xmin + (j1 + 1) * w + dlt, xmax)


@njit(cache=True)
def _node(P0, P1, P2, xmin, invw, w, dlt, xmax, nb, N, s1, s2, G, zlo, zhi, tja, tjb, tA, tB, tC, tS, tZ,
          out_lb, out_nz, out_mag):
    """Lower bounds of the boxes (z, [s1, s2]) for every z in zlo..zhi at once.

    The zone of the boundary between codes c and c+1 lies at (c + 1/2) [s1, s2] in value space
    whatever z is; z only selects the window c = -z..N-z-1 of boundaries and the clipped tails.
    The interior runs and zones (between consecutive zones of the window) are shared: their
    quadratic terms and straddler distances are tabulated per c and summed over the window by
    cumulative sums.  Straddlers use the distance to the union of the levels k [s1, s2], |k| <= N
    (a superset of every window's levels: a valid, z-independent lower bound)."""
    cmin = -zhi
    cmax = N - zlo - 1
    off = N
    for c in range(cmin, cmax + 1):
        zl, zh = _zone(float(c), s1, s2)
        tja[c + off] = _idx(zl, xmin, invw, nb)
        tjb[c + off] = _idx(zh, xmin, invw, nb)
    # interior terms of boundary c (c > cmin): run (jb[c-1], ja[c]) with code c, zone bins after it
    tA[cmin + off] = 0.0
    tB[cmin + off] = 0.0
    tC[cmin + off] = 0.0
    tS[cmin + off] = 0.0
    tZ[cmin + off] = 0.0
    for c in range(cmin + 1, cmax + 1):
        k = c + off
        st = tjb[k - 1] + 1
        ja = tja[k]
        jb = tjb[k]
        a = 0.0
        bb = 0.0
        cc2 = 0.0
        sd = 0.0
        zc = 0.0
        fc = float(c)
        if ja > st:
            a = P2[ja] - P2[st]
            bb = fc * (P1[ja] - P1[st])
            cc2 = fc * fc * (P0[ja] - P0[st])
            st = ja
        if jb >= st:
            zc = P0[jb + 1] - P0[st]
            nzb = jb - st + 1
            g = 1 if nzb <= G else (nzb + G - 1) // G
            j0 = st
            while j0 <= jb:
                j1 = min(j0 + g - 1, jb)
                cnt = P0[j1 + 1] - P0[j0]
                if cnt > 0.0:
                    lo, hi = _group(j0, j1, xmin, w, dlt, xmax)
                    d = _dist_union(lo, hi, s1, s2, N, 2 * N)
                    sd += cnt * d * d
                j0 = j1 + 1
        tA[k] = tA[k - 1] + a
        tB[k] = tB[k - 1] + bb
        tC[k] = tC[k - 1] + cc2
        tS[k] = tS[k - 1] + sd
        tZ[k] = tZ[k - 1] + zc
    for z in range(zlo, zhi + 1):
        c0 = -z
        c1 = N - z - 1
        k0 = c0 + off
        k1 = c1 + off
        A = tA[k1] - tA[k0]
        B = tB[k1] - tB[k0]
        C = tC[k1] - tC[k0]
        strad = tS[k1] - tS[k0]
        nzone = tZ[k1] - tZ[k0]
        # head: bins before the first zone (code -z), the first zone
        ja = tja[k0]
        jb = tjb[k0]
        fc = float(c0)
        A += P2[ja]
        B += fc * P1[ja]
        C += fc * fc * P0[ja]
        nzone += P0[jb + 1] - P0[ja]
        nzb = jb - ja + 1
        g = 1 if nzb <= G else (nzb + G - 1) // G
        j0 = ja
        while j0 <= jb:
            j1 = min(j0 + g - 1, jb)
            cnt = P0[j1 + 1] - P0[j0]
            if cnt > 0.0:
                lo, hi = _group(j0, j1, xmin, w, dlt, xmax)
                d = _dist_union(lo, hi, s1, s2, N, 2 * N)
                strad += cnt * d * d
            j0 = j1 + 1
        # tail: bins after the last zone (code N - z)
        st = tjb[k1] + 1
        if st < nb:
            fc = float(N - z)
            A += P2[nb] - P2[st]
            B += fc * (P1[nb] - P1[st])
            C += fc * fc * (P0[nb] - P0[st])
        q, _ = _qmin(A, B, C, s1, s2)
        out_lb[z] = max(q, 0.0) + strad
        out_nz[z] = nzone
        out_mag[z] = A + 2.0 * s2 * abs(B) + s2 * s2 * C


@njit(cache=True)
def _usum(a, P0, P1, buf, start, xmin, xmax, invw, nb):
    """U(a) = sum_i (x_i - a)_+: the bins after idx(a) hold only values > a (idx is monotone), read from the
    prefix sums; the values of bin idx(a) one by one.  xmax = the largest value (then U = 0)."""
    if a >= xmax:
        return 0.0
    if a < xmin:
        return P1[nb] - a * P0[nb]
    j = _idx(a, xmin, invw, nb)
    u = (P1[nb] - P1[j + 1]) - a * (P0[nb] - P0[j + 1])
    for i in range(start[j], start[j + 1]):
        u += max(np.float64(buf[i]) - a, 0.0)
    return u


@njit(cache=True)
def _fz(P0, P1, buf, start, xmin, xmax, invw, nb, N, n, T1, T2, s, z):
    """Nearest-level MSE sum of the grid [-z, N - z] at scale s: T2 + 2 z s T1 + z^2 n s^2 - 2 s sum_k U(h_k s)."""
    acc = 0.0
    for k in range(-z, N - z):
        acc += _usum((k + 0.5) * s, P0, P1, buf, start, xmin, xmax, invw, nb)
    return T2 + 2.0 * z * T1 * s + float(z) * z * n * s * s - 2.0 * s * acc


@njit(cache=True)
def _chord_z(cu1, cu2, cnz, off, N, n, T1, T2, s1, dl, zlo, zhi, out_lb, out_ub, out_s, out_nz):
    """The per-zero-point part of :func:`_chord` and :func:`_chord_ends`: from the prefix sums ``cu1``
    (``sum U(h_k s1)``), ``cu2`` (``sum U(h_k s2)``) and ``cnz`` over thresholds, the quadratic
    ``L(t) = alpha + beta t + gamma t^2`` of each z in zlo..zhi, minimized exactly on [0, 1]."""
    for z in range(zlo, zhi + 1):
        k0 = -z + off
        k1 = N - z + off  # exclusive: thresholds -z..N-z-1
        W1 = cu1[k1] - cu1[k0]
        out_nz[z] = cnz[k1] - cnz[k0]
        fz = float(z)
        alpha = T2 + 2.0 * fz * T1 * s1 + fz * fz * n * s1 * s1 - 2.0 * s1 * W1
        out_ub[z] = alpha
        if dl <= 0.0:
            out_lb[z] = alpha
            out_s[z] = s1
            continue
        D = (cu2[k1] - cu2[k0]) - W1
        beta = dl * (2.0 * fz * T1 + 2.0 * fz * fz * n * s1) - 2.0 * (dl * W1 + s1 * D)
        gamma = dl * (fz * fz * n * dl - 2.0 * D)
        v1 = alpha + beta + gamma
        if v1 < alpha:
            best = v1
            bt = 1.0
        else:
            best = alpha
            bt = 0.0
        if gamma > 0.0:
            t = -beta / (2.0 * gamma)
            if 0.0 < t < 1.0:
                v = alpha + t * (beta + gamma * t)
                if v < best:
                    best = v
                    bt = t
        out_lb[z] = best
        out_s[z] = s1 + dl * bt


@njit(cache=True)
def _chord(P0, P1, buf, start, xmin, xmax, invw, nb, N, n, T1, T2, s1, s2, zlo, zhi, cu1, cu2, cnz, out_lb, out_ub, out_s,
           out_nz):
    """Second-order lower bounds of the boxes (z, [s1, s2]) for z in zlo..zhi, exact at s1 and s2.

    With thresholds h_k = k + 1/2 (k = -z..N-z-1) the nearest-level error of every value is
    ``(v + z s)^2 - 2 s sum_k (v - h_k s)_+`` (moving from code k to k + 1 changes it by
    ``-2 s (v - h_k s)``), so ``F_z(s) = T2 + 2 z s T1 + z^2 n s^2 - 2 s sum_k U(h_k s)`` with
    ``U(a) = sum (x - a)_+``.  Each ``s -> U(h_k s)`` is convex, hence below its chord on [s1, s2]:
    ``F_z(s) >= L(t) = alpha + beta t + gamma t^2`` with ``s = s1 + (s2 - s1) t``, ``t in [0, 1]``,
    minimized exactly.  out_lb[z]: that minimum, out_ub[z] = L(0) = F_z(s1) (nearest-level MSE at s1),
    out_s[z]: the minimizing scale.  Rounding is the caller's (allowance from the magnitudes)."""
    off = N
    cmin = -zhi
    cmax = N - zlo - 1
    dl = s2 - s1
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    cu1[cmin + off] = 0.0
    cu2[cmin + off] = 0.0
    cnz[cmin + off] = 0.0
    for k in range(cmin, cmax + 1):
        h = k + 0.5
        a1 += _usum(h * s1, P0, P1, buf, start, xmin, xmax, invw, nb)
        if dl > 0.0:
            a2 += _usum(h * s2, P0, P1, buf, start, xmin, xmax, invw, nb)
            # values whose code may change at this threshold inside the box (whole bins)
            zl, zh = _zone(float(k), s1, s2)
            if zh >= xmin and zl <= xmax:
                a3 += P0[_idx(zh, xmin, invw, nb) + 1] - P0[_idx(zl, xmin, invw, nb)]
        cu1[k + off + 1] = a1
        cu2[k + off + 1] = a2
        cnz[k + off + 1] = a3
    _chord_z(cu1, cu2, cnz, off, N, n, T1, T2, s1, dl, zlo, zhi, out_lb, out_ub, out_s, out_nz)


@njit(cache=True)
def _uend(s, klo, khi, P0, P1, buf, start, xmin, xmax, invw, nb, N, Ue, e, eklo, ekhi):
    """Cache of the scale point ``s`` (endpoint ``e`` of the branch and bound): make sure
    ``Ue[e, k + N] = U((k + 1/2) s)`` holds for every ``k`` in ``klo..khi``.  The computed range
    ``eklo[e]..ekhi[e]`` (empty when ``eklo > ekhi``) is extended to a contiguous range, so a box and its
    children (whose zero-points are a subset of the parent's) never recompute an end they share."""
    lo = eklo[e]
    hi = ekhi[e]
    if lo > hi:
        for k in range(klo, khi + 1):
            Ue[e, k + N] = _usum((k + 0.5) * s, P0, P1, buf, start, xmin, xmax, invw, nb)
        eklo[e] = klo
        ekhi[e] = khi
        return
    for k in range(min(klo, lo), lo):
        Ue[e, k + N] = _usum((k + 0.5) * s, P0, P1, buf, start, xmin, xmax, invw, nb)
    for k in range(hi + 1, max(khi, hi) + 1):
        Ue[e, k + N] = _usum((k + 0.5) * s, P0, P1, buf, start, xmin, xmax, invw, nb)
    eklo[e] = min(lo, klo)
    ekhi[e] = max(hi, khi)


@njit(cache=True)
def _chord_ends(Ua, Ub, P0, xmin, xmax, invw, nb, N, n, T1, T2, s1, s2, zlo, zhi, cu1, cu2, cnz, out_lb, out_ub,
                out_s, out_nz):
    """:func:`_chord` with the values ``U((k + 1/2) s1) = Ua[k + N]`` and ``U((k + 1/2) s2) = Ub[k + N]`` given
    (cached per scale point by :func:`_uend`); same arithmetic in the same order, hence the same bounds."""
    off = N
    cmin = -zhi
    cmax = N - zlo - 1
    dl = s2 - s1
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    cu1[cmin + off] = 0.0
    cu2[cmin + off] = 0.0
    cnz[cmin + off] = 0.0
    for k in range(cmin, cmax + 1):
        a1 += Ua[k + off]
        if dl > 0.0:
            a2 += Ub[k + off]
            zl, zh = _zone(float(k), s1, s2)
            if zh >= xmin and zl <= xmax:
                a3 += P0[_idx(zh, xmin, invw, nb) + 1] - P0[_idx(zl, xmin, invw, nb)]
        cu1[k + off + 1] = a1
        cu2[k + off + 1] = a2
        cnz[k + off + 1] = a3
    _chord_z(cu1, cu2, cnz, off, N, n, T1, T2, s1, dl, zlo, zhi, out_lb, out_ub, out_s, out_nz)


@njit(cache=True)
def _dominance(Ua, Ub, N, n, T1, s1, s2, zlo, zhi, mg):
    """Zero-points of ``zlo..zhi`` that can be optimal somewhere in ``[s1, s2]``: the narrowed range ``(zL, zH)``.

    With ``U(a) = sum (x - a)_+`` and ``Lam(c) = sum (c - x)_+ = U(c) - T1 + n c``, the thresholds of ``z + 1`` are
    those of ``z`` shifted by one step, and the identity of :func:`_chord` gives
    ``F_{z+1}(s) - F_z(s) = 2 s g_z(s)``, ``g_z(s) = U(s (N - z - 1/2)) - Lam(-s (z + 1/2))``.
    ``g_z(s)`` is non-decreasing in ``z`` (U falls and Lam rises with their arguments, which both fall as ``z``
    grows), so ``g_z > 0`` on the box means ``F_{z'} > F_z`` there for every ``z' > z`` and ``g_{z-1} < 0`` means
    ``F_{z'} > F_z`` for every ``z' < z``: those zero-points hold no minimizer of the box.  Both terms of ``g_z``
    fall as ``s`` grows, so on ``[s1, s2]``: ``g_z >= U(s2 (N - z - 1/2)) - Lam(-s1 (z + 1/2))`` and
    ``g_z <= U(s1 (N - z - 1/2)) - Lam(-s2 (z + 1/2))``, read from the cached box ends
    (``Ua[k + N] = U((k + 1/2) s1)``, ``Ub`` at ``s2``).  ``mg``: the rounding allowance of a computed ``g``
    (the bound must exceed it strictly)."""
    zH = zhi
    for z in range(zlo, zhi):
        kt = 2 * N - z - 1  # threshold k = N - z - 1, stored at k + N
        kb = N - z - 1  # threshold k = -z - 1
        gl = Ub[kt] - (Ua[kb] - T1 - n * s1 * (z + 0.5))
        if gl > mg:
            zH = z
            break
    zL = zlo
    for z in range(zH, zlo, -1):
        z1 = z - 1
        gu = Ua[2 * N - z1 - 1] - (Ub[N - z1 - 1] - T1 - n * s2 * (z1 + 0.5))
        if gu < -mg:
            zL = z
            break
    return zL, zH


@njit(cache=True)
def _chord_lb(Ua, Ub, N, n, T1, T2, s1, s2, zlo, zhi, cu1, cu2, cnz, out_lb, out_ub, out_s, out_nz):
    """:func:`_chord_ends` without the zone counts (``out_nz`` is left at 0; the branch and bound counts the zone
    values of the surviving zero-points only, :func:`_zone_count`); the same bounds."""
    off = N
    cmin = -zhi
    cmax = N - zlo - 1
    dl = s2 - s1
    a1 = 0.0
    a2 = 0.0
    cu1[cmin + off] = 0.0
    cu2[cmin + off] = 0.0
    cnz[cmin + off] = 0.0
    for k in range(cmin, cmax + 1):
        a1 += Ua[k + off]
        if dl > 0.0:
            a2 += Ub[k + off]
        cu1[k + off + 1] = a1
        cu2[k + off + 1] = a2
        cnz[k + off + 1] = 0.0
    _chord_z(cu1, cu2, cnz, off, N, n, T1, T2, s1, dl, zlo, zhi, out_lb, out_ub, out_s, out_nz)


@njit(cache=True)
def _zone_count(P0, xmin, xmax, invw, nb, N, s1, s2, z):
    """Number of values in the whole bins of the zones of the thresholds ``k = -z..N-z-1`` of the box ``[s1, s2]``
    (the ``out_nz[z]`` of :func:`_chord_ends`, summed in the same order)."""
    a3 = 0.0
    if s2 > s1:
        for k in range(-z, N - z):
            zl, zh = _zone(float(k), s1, s2)
            if zh >= xmin and zl <= xmax:
                a3 += P0[_idx(zh, xmin, invw, nb) + 1] - P0[_idx(zl, xmin, invw, nb)]
    return a3


@njit(cache=True)
def _zone_cum(P0, xmin, xmax, invw, nb, N, s1, s2, zlo, zhi, cnz):
    """The cumulative zone counts ``cnz`` of :func:`_chord_ends` over the thresholds ``-zhi..N-zlo-1`` (same
    arithmetic, same order): the zone count of ``z`` is ``cnz[N - z + N] - cnz[-z + N]``.  Called once per box,
    only when a zero-point of the box survives its bounds."""
    off = N
    a3 = 0.0
    cnz[-zhi + off] = 0.0
    for k in range(-zhi, N - zlo):
        if s2 > s1:
            zl, zh = _zone(float(k), s1, s2)
            if zh >= xmin and zl <= xmax:
                a3 += P0[_idx(zh, xmin, invw, nb) + 1] - P0[_idx(zl, xmin, invw, nb)]
        cnz[k + off + 1] = a3


@njit(cache=True)
def _clip_inner(P0, P1, P2, xmin, xmax, invw, nb, N, s1, s2, z):
    """A lower bound of ``F_z(s)`` for every ``s`` in ``[s1, s2]`` from prefix sums only (no value is read):
    ``(lower bound, magnitude of its terms)``.

    * clipping: every level lies in ``[-z s2, (N - z) s2]``, so a value above ``top = (N - z) s2`` costs at
      least ``(x - top)^2`` and one below ``bot = -z s2`` at least ``(x - bot)^2``; the bins after
      ``idx(top)`` hold only values ``> top`` and those before ``idx(bot)`` only values ``< bot`` (``idx`` is
      monotone), read exactly from the prefix sums (the other bins are left out: a lower bound);
    * inner values: a value with ``|x| < a = s1 (1 - 8 eps) / 2`` has code ``rint(x / s) = 0`` for every
      ``s >= s1`` and costs ``x^2``; whole bins strictly inside ``(-a, a)`` (for ``z = 0`` only ``x > 0``,
      for ``z = N`` only ``x < 0``: the other side is already counted as clipped).  For ``1 <= z <= N - 1``
      ``(-a, a)`` lies inside ``[bot, top]``, so the two sets are disjoint."""
    acc, mag = _clip_part(P0, P1, P2, xmin, xmax, invw, nb, N, s2, z)
    v0, vlo, vhi = _inner_part(P2, xmin, invw, nb, s1)
    v = v0 if 0 < z < N else (vhi if z == 0 else vlo)
    return acc + v, mag + v


@njit(cache=True)
def _clip_part(P0, P1, P2, xmin, xmax, invw, nb, N, s2, z):
    """The clipping part of :func:`_clip_inner` (depends on ``s2`` and ``z``): (sum, magnitude)."""
    top = (N - z) * s2
    bot = -z * s2
    acc = 0.0
    mag = 0.0
    if top < xmax:
        jh = _idx(top, xmin, invw, nb) + 1
        if jh < nb:
            c0 = P0[nb] - P0[jh]
            c1 = P1[nb] - P1[jh]
            c2 = P2[nb] - P2[jh]
            acc += c2 - 2.0 * top * c1 + top * top * c0
            mag += c2 + 2.0 * abs(top * c1) + top * top * c0
    if bot > xmin:
        jl = _idx(bot, xmin, invw, nb)
        if jl > 0:
            acc += P2[jl] - 2.0 * bot * P1[jl] + bot * bot * P0[jl]
            mag += P2[jl] + 2.0 * abs(bot * P1[jl]) + bot * bot * P0[jl]
    return acc, mag


@njit(cache=True)
def _inner_part(P2, xmin, invw, nb, s1):
    """The inner-value part of :func:`_clip_inner` (depends on ``s1`` only): the sum of squares of the whole bins
    strictly inside ``(-a, a)``, ``a = s1 (1 - 8 eps) / 2`` (for ``1 <= z <= N - 1``), of those with ``x > 0``
    only (``z = 0``) and ``x < 0`` only (``z = N``): (all, negative side, positive side)."""
    a = 0.5 * s1 * (1.0 - 8.0 * EPS)
    ja = _idx(-a, xmin, invw, nb) + 1
    jb = _idx(a, xmin, invw, nb)
    j0 = _idx(0.0, xmin, invw, nb)
    v = P2[jb] - P2[ja] if jb > ja else 0.0
    jn = min(jb, j0)
    vlo = P2[jn] - P2[ja] if jn > ja else 0.0
    jp = max(ja, j0 + 1)
    vhi = P2[jb] - P2[jp] if jb > jp else 0.0
    return v, vlo, vhi


@njit(cache=True)
def _free_range(xmin, xmax, s1, N):
    """Zero-points ``zf_lo..zf_hi`` (empty when ``zf_lo > zf_hi``) that clip no value for any ``s >= s1``:
    ``-z <= rint(x / s) <= N - z`` for every value.  ``rint(x / s) <= N - z`` holds when the computed
    ``x / s`` (relative error <= eps / 2) is below ``N - z + 1/2``, which for ``x = xmax > 0`` and every
    ``s >= s1`` follows from ``xmax / s1 (1 + 4 eps) < N - z + 1/2``; the same for ``xmin < 0`` and ``-z``.
    For such ``z`` the code of every value is ``rint(x / s)`` whatever ``z`` is, so ``F_z`` is one and the
    same function of ``s`` on ``[s1, inf)`` (and the exact sweep computes the same numbers for each)."""
    hi = float(N)
    if xmax > 0.0:
        hi = min(hi, math.ceil(N + 0.5 - xmax / s1 * (1.0 + 4.0 * EPS)) - 1.0)  # largest z < N + 1/2 - ...
    lo = 0.0
    if xmin < 0.0:
        lo = max(lo, math.floor(-xmin / s1 * (1.0 + 4.0 * EPS) - 0.5) + 1.0)  # smallest z > ... - 1/2
    if lo > hi:
        return 1, 0
    return int(lo), int(hi)


@njit(cache=True)
def _point(P0, P1, P2, xmin, invw, nb, z, N, s):
    """An assignment at scale s (each bin at a cell boundary whole to its better side) and its
    least-squares scale: (value at that scale = an upper bound of the MSE there, the scale, magnitude)."""
    A = 0.0
    B = 0.0
    C = 0.0
    ptr = 0
    for ci in range(N + 1):
        c = float(ci - z)
        if ci < N:
            zl, zh = _zone(c, s, s)
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
            cc = P0[jb + 1] - P0[ptr]
            q1 = P1[jb + 1] - P1[ptr]
            q2 = P2[jb + 1] - P2[ptr]
            v0 = -2.0 * s * c * q1 + s * s * c * c * cc
            v1 = -2.0 * s * (c + 1.0) * q1 + s * s * (c + 1.0) * (c + 1.0) * cc
            k = c if v0 <= v1 else c + 1.0
            A += q2
            B += k * q1
            C += k * k * cc
            ptr = jb + 1
    sl = B / C if C > 0.0 else s
    if not sl > 0.0:
        sl = s
    return A - 2.0 * sl * B + sl * sl * C, sl, A + 2.0 * sl * abs(B) + sl * sl * C


@njit(cache=True)
def _lloyd(P0, P1, P2, xmin, invw, nb, z, N, s, steps):
    """Up to ``steps`` least-squares (Lloyd) steps of :func:`_point` from the scale ``s`` (stops when the scale
    no longer moves): (smallest attained value, its scale, its magnitude)."""
    fb = np.inf
    sb = s
    mb = 0.0
    for _ in range(steps):
        ub, s1, mag = _point(P0, P1, P2, xmin, invw, nb, z, N, s)
        if ub < fb:
            fb = ub
            sb = s1
            mb = mag
        if abs(s1 - s) <= 1e-7 * s:
            break
        ub, s2, mag = _point(P0, P1, P2, xmin, invw, nb, z, N, s1)
        if ub < fb:
            fb = ub
            sb = s2
            mb = mag
        # Aitken's extrapolation of the (linearly converging) fixed-point iteration s -> g(s)
        den = s2 - 2.0 * s1 + s
        sa = s2
        if den != 0.0:
            sa = s - (s1 - s) * (s1 - s) / den
            if not (0.5 * s1 < sa < 2.0 * s1):
                sa = s2
        s = sa
    return fb, sb, mb


@njit(cache=True)
def _bucket_order(key, m, lo, hi, order, tmp, bcnt):
    """``order[:m]`` = a permutation sorting ``key[:m]`` ascending (ties in any order): counting sort into ``m``
    buckets of equal width over ``[lo, hi]`` (keys outside go to the end buckets), then an insertion sort of each
    bucket.  Expected O(m) for keys spread over ``[lo, hi]`` (the breakpoints of a box); a bucket of more than 32
    keys (clustered keys, e.g. duplicate values) falls back to ``np.argsort``, so the worst case is O(m log m)."""
    if m == 0:
        return
    nbk = m
    for j in range(nbk + 1):
        bcnt[j] = 0
    sc = nbk / (hi - lo) if hi > lo else 0.0
    for i in range(m):
        t = (key[i] - lo) * sc
        j = 0 if not t > 0.0 else (nbk - 1 if t >= nbk - 1 else int(t))
        tmp[i] = j
        bcnt[j + 1] += 1
    big = 0
    run = 0  # running sum in a local variable (not reloaded from bcnt: no store-to-load chain)
    for j in range(nbk):
        c = bcnt[j + 1]
        big = max(big, c)
        run += c
        bcnt[j + 1] = run
    if big > 32:  # clustered keys (duplicate values): no quadratic insertion sort
        o = np.argsort(key[:m])
        for i in range(m):
            order[i] = o[i]
        return
    for i in range(m):
        j = tmp[i]
        order[bcnt[j]] = i
        bcnt[j] += 1
    # bcnt[j] is now the end of bucket j (= start of bucket j + 1); insertion sort inside each bucket
    b0 = 0
    for j in range(nbk):
        b1 = bcnt[j]
        for a in range(b0 + 1, b1):
            o = order[a]
            kv = key[o]
            c = a - 1
            while c >= b0 and key[order[c]] > kv:
                order[c + 1] = order[c]
                c -= 1
            order[c + 1] = o
        b0 = b1


@njit(cache=True)
def _exact(buf, start, P0, P1, P2, xmin, invw, nb, z, N, s1, s2, bp, bpk, order, tmp, bcnt):
    """Exact min over s in [s1, s2] of sum (x - s code(x, s))^2: (value, argmin, status)."""
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
            for i in range(start[ptr], start[jb + 1]):
                v = np.float64(buf[i])
                ka = _code(v, s1, z, N)
                kb = _code(v, s2, z, N)
                A += v * v
                B += ka * v
                C += ka * ka
                if ka != kb:
                    step = -1.0 if ka > kb else 1.0
                    k = ka
                    while k != kb:
                        if nbp >= bp.size:
                            return 0.0, 0.0, 1
                        bp[nbp] = v / (k + 0.5 * step)
                        bpk[nbp, 0] = v
                        bpk[nbp, 1] = k
                        bpk[nbp, 2] = k + step
                        nbp += 1
                        k += step
            ptr = jb + 1
    _bucket_order(bp, nbp, s1, s2, order, tmp, bcnt)
    best = np.inf
    bs = s1
    lo = s1
    for t in range(nbp + 1):
        hi = bp[order[t]] if t < nbp else s2
        if hi > s2:
            hi = s2
        if hi < lo:
            hi = lo
        val, s = _qmin(A, B, C, lo, hi)
        if val < best:
            best = val
            bs = s
        if t < nbp:
            j = order[t]
            v = bpk[j, 0]
            k0 = bpk[j, 1]
            k1 = bpk[j, 2]
            B += (k1 - k0) * v
            C += k1 * k1 - k0 * k0
            lo = hi
    return max(best, 0.0), bs, 0


@njit(cache=True)
def _direct(x, s, z, N):
    """sum (x - s code(x, s, z))^2, summed directly."""
    acc = 0.0
    for i in range(x.size):
        v = np.float64(x[i])
        d = v - s * _code(v, s, z, N)
        acc += d * d
    return acc


@njit(cache=True)
def _direct_lanes(x, s, z, N):
    """:func:`_direct` with four interleaved partial sums (the loop body has no branch, so the compiler can
    vectorize it); the code is the quantizer's own ``clip(rint(v / s), -z, N - z)``."""
    n = x.size
    lo = float(-z)
    hi = float(N - z)
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    m = n - n % 4
    for i in range(0, m, 4):
        v0 = np.float64(x[i])
        v1 = np.float64(x[i + 1])
        v2 = np.float64(x[i + 2])
        v3 = np.float64(x[i + 3])
        d0 = v0 - s * min(max(np.rint(v0 / s), lo), hi)
        d1 = v1 - s * min(max(np.rint(v1 / s), lo), hi)
        d2 = v2 - s * min(max(np.rint(v2 / s), lo), hi)
        d3 = v3 - s * min(max(np.rint(v3 / s), lo), hi)
        a0 += d0 * d0
        a1 += d1 * d1
        a2 += d2 * d2
        a3 += d3 * d3
    for i in range(m, n):
        v = np.float64(x[i])
        d = v - s * min(max(np.rint(v / s), lo), hi)
        a0 += d * d
    return (a0 + a1) + (a2 + a3)


@njit(cache=True)
def _sum_code(buf, i0, i1, s, c):
    """``sum (v - s c)^2`` over ``buf[i0:i1]`` (one code ``c`` for all), four interleaved partial sums."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    sc = s * c
    m = i0 + (i1 - i0) - (i1 - i0) % 4
    for i in range(i0, m, 4):
        d0 = np.float64(buf[i]) - sc
        d1 = np.float64(buf[i + 1]) - sc
        d2 = np.float64(buf[i + 2]) - sc
        d3 = np.float64(buf[i + 3]) - sc
        a0 += d0 * d0
        a1 += d1 * d1
        a2 += d2 * d2
        a3 += d3 * d3
    for i in range(m, i1):
        d = np.float64(buf[i]) - sc
        a0 += d * d
    return (a0 + a1) + (a2 + a3)


@njit(cache=True)
def _direct_bins(buf, start, xmin, xmax, invw, w, dlt, nb, s, z, N):
    """:func:`_direct` over the values sorted by bin (``buf``, bin ``j`` in ``buf[start[j]:start[j + 1]]``), with
    the quantizer's own code ``clip(rint(v / s), -z, N - z)``: each value's term ``(v - s code)^2`` is the same
    number, only the order of the sum differs.  The code is monotone in ``v`` in floating point (correctly
    rounded division by ``s > 0``, ``rint`` and the clip are monotone) and the values of bins ``j0..j1`` lie in
    ``[L, H]`` (:func:`_group`), so when ``code(L) == code(H)`` every value of the run has that code and no division
    is needed: runs of bins between the bins holding a threshold ``(c + 1/2) s`` are summed with one code, the
    values of the other bins are coded one by one."""
    acc = 0.0
    hi = float(N - z)
    j = 0
    while j < nb:
        L, _ = _group(j, j, xmin, w, dlt, xmax)
        c = _code(L, s, z, N)
        if c >= hi:  # top code: every later value has it too (monotone and clipped)
            acc += _sum_code(buf, start[j], start[nb], s, hi)
            break
        jt = _idx((c + 0.5) * s, xmin, invw, nb)  # the bin holding the next threshold
        if jt > j:
            _, H = _group(jt - 1, jt - 1, xmin, w, dlt, xmax)
            if _code(H, s, z, N) == c:
                acc += _sum_code(buf, start[j], start[jt], s, c)
                j = jt
                continue
        for i in range(start[j], start[j + 1]):  # one bin, value by value
            v = np.float64(buf[i])
            d = v - s * _code(v, s, z, N)
            acc += d * d
        j += 1
    return acc


@njit(cache=True)
def _stats(x):
    """(min, max, sum of squares) of a row in float64, four interleaved lanes (the loop has no branch, so the
    compiler can vectorize it).  A NaN makes the sum of squares NaN (the caller's finiteness check)."""
    n = x.size
    m = n - n % 4
    lo0 = lo1 = lo2 = lo3 = np.inf
    hi0 = hi1 = hi2 = hi3 = -np.inf
    t0 = t1 = t2 = t3 = 0.0
    for i in range(0, m, 4):
        v0 = np.float64(x[i])
        v1 = np.float64(x[i + 1])
        v2 = np.float64(x[i + 2])
        v3 = np.float64(x[i + 3])
        lo0 = min(lo0, v0)
        lo1 = min(lo1, v1)
        lo2 = min(lo2, v2)
        lo3 = min(lo3, v3)
        hi0 = max(hi0, v0)
        hi1 = max(hi1, v1)
        hi2 = max(hi2, v2)
        hi3 = max(hi3, v3)
        t0 += v0 * v0
        t1 += v1 * v1
        t2 += v2 * v2
        t3 += v3 * v3
    for i in range(m, n):
        v = np.float64(x[i])
        lo0 = min(lo0, v)
        hi0 = max(hi0, v)
        t0 += v * v
    return min(min(lo0, lo1), min(lo2, lo3)), max(max(hi0, hi1), max(hi2, hi3)), (t0 + t1) + (t2 + t3)


@njit(cache=True)
def _histsort(x, xmin, invw, fnb, nb, idx, cnt, S1, S2, start, pos, buf, P0, P1, P2):
    """Bin ``idx(v) = floor(clip((v - xmin) invw, 0, nb - 1))`` of every value, count / sum / sum of squares per bin
    and their prefix sums ``P0, P1, P2``, and the counting sort of the values by bin into ``buf`` (bin ``j`` in
    ``buf[start[j]:start[j + 1]]``).  Returns the largest bin count."""
    n = x.size
    for i in range(n):
        t = (np.float64(x[i]) - xmin) * invw
        t = min(max(t, 0.0), fnb - 1.0)
        idx[i] = np.int32(t)
    for j in range(nb):
        cnt[j] = 0
        S1[j] = 0.0
        S2[j] = 0.0
    for i in range(n):
        j = idx[i]
        v = np.float64(x[i])
        cnt[j] += 1
        S1[j] += v
        S2[j] += v * v
    # prefix sums with the running values in local variables: written as ``P1[j + 1] = P1[j] + S1[j]`` the
    # compiler reloads ``P1[j]`` from memory (the arrays may alias), so every bin waited for a store-to-load
    # forwarding plus the addition (~4 us per 1024 bins); the same additions in the same order
    maxcnt = 0
    c0 = 0
    p0 = 0.0
    p1 = 0.0
    p2 = 0.0
    start[0] = 0
    for j in range(nb):
        pos[j] = c0
        c = cnt[j]
        maxcnt = max(maxcnt, c)
        c0 += c
        p0 += c
        p1 += S1[j]
        p2 += S2[j]
        start[j + 1] = c0
        P0[j + 1] = p0
        P1[j + 1] = p1
        P2[j + 1] = p2
    for i in range(n):
        j = idx[i]
        buf[pos[j]] = x[i]
        pos[j] += 1
    return maxcnt


@njit(cache=True)
def solve_rows(X, N, nb, T, G, ni, out_s, out_z, out_mse, out_lb, out_tot, status, info):
    """Exact (s, z) optimum of every row of X (float32/float64, C-contiguous); see the module doc.
    info[r] = (rounds, box evaluations, exact solves) or (index of the first non-finite value, ...)."""
    _solve_range(X, 0, X.shape[0], N, nb, T, G, ni, out_s, out_z, out_mse, out_lb, out_tot, status, info)


@njit(cache=True, parallel=True)
def solve_rows_parallel(X, N, nb, T, G, ni, out_s, out_z, out_mse, out_lb, out_tot, status, info, nchunks):
    """:func:`solve_rows` with the rows cut into ``nchunks`` consecutive chunks solved in parallel
    (numba ``prange``; each chunk has its own scratch buffers and writes only its own rows, so the
    results are identical to the serial kernel's)."""
    R = X.shape[0]
    for c in prange(nchunks):
        r0 = (R * c) // nchunks
        r1 = (R * (c + 1)) // nchunks
        if r1 > r0:
            _solve_range(X, r0, r1, N, nb, T, G, ni, out_s, out_z, out_mse, out_lb, out_tot, status, info)


@njit(cache=True)
def _solve_range(X, r0, r1, N, nb, T, G, ni, out_s, out_z, out_mse, out_lb, out_tot, status, info):
    """Rows r0..r1-1 of X (the body of :func:`solve_rows`)."""
    n = X.shape[1]
    idx = np.empty(n, dtype=np.int32)
    buf = np.empty(n)  # float64 even for float32 rows: a float32 buffer was 10 % slower at 8 bits (docs/affine.md)
    cnt = np.zeros(nb, dtype=np.int64)
    start = np.zeros(nb + 1, dtype=np.int64)
    pos = np.zeros(nb, dtype=np.int64)
    S1 = np.zeros(nb)
    S2 = np.zeros(nb)
    P0 = np.zeros(nb + 1)
    P1 = np.zeros(nb + 1)
    P2 = np.zeros(nb + 1)
    b1 = np.empty(MAXBOX)
    b2 = np.empty(MAXBOX)
    n1 = np.empty(MAXBOX)
    n2 = np.empty(MAXBOX)
    alive = np.zeros((MAXBOX, N + 1), dtype=np.bool_)
    nalive = np.zeros((MAXBOX, N + 1), dtype=np.bool_)
    nal = np.zeros(N + 1, dtype=np.bool_)
    zlb = np.zeros(N + 1)
    znz = np.zeros(N + 1)
    zmag = np.zeros(N + 1)
    tja = np.zeros(2 * N + 1, dtype=np.int64)
    tjb = np.zeros(2 * N + 1, dtype=np.int64)
    tA = np.zeros(2 * N + 1)
    tB = np.zeros(2 * N + 1)
    tC = np.zeros(2 * N + 1)
    tS = np.zeros(2 * N + 1)
    tZ = np.zeros(2 * N + 1)
    bp = np.empty(MAXBP)
    bpk = np.empty((MAXBP, 3))
    border = np.empty(MAXBP, dtype=np.int64)
    btmp = np.empty(MAXBP, dtype=np.int64)
    bcnt = np.empty(MAXBP + 1, dtype=np.int64)
    cu1 = np.zeros(2 * N + 2)
    cu2 = np.zeros(2 * N + 2)
    cnz = np.zeros(2 * N + 2)
    Ue = np.empty((MAXE, 2 * N))
    es = np.empty(MAXE)
    eklo = np.zeros(MAXE, dtype=np.int64)
    ekhi = np.zeros(MAXE, dtype=np.int64)
    e1 = np.zeros(MAXBOX, dtype=np.int64)
    e2 = np.zeros(MAXBOX, dtype=np.int64)
    ne1 = np.zeros(MAXBOX, dtype=np.int64)
    ne2 = np.zeros(MAXBOX, dtype=np.int64)
    clb = np.zeros(N + 1)
    cub = np.zeros(N + 1)
    csc = np.zeros(N + 1)
    fnb = float(nb)
    fn = float(n)
    for r in range(r0, r1):
        x = X[r]
        status[r] = 0
        info[r, 0] = 0.0
        info[r, 1] = 0.0
        info[r, 2] = 0.0
        # 1. extrema, sum of squares, finiteness
        xmin, xmax, tot = _stats(x)
        if not math.isfinite(tot):
            status[r] = 6
            for i in range(n):
                if not math.isfinite(x[i]):
                    status[r] = 5
                    info[r, 0] = i
                    break
            continue
        out_tot[r] = tot
        amax = max(abs(xmin), abs(xmax))
        if amax > 1e154:
            status[r] = 6
            continue
        if xmin == xmax:
            status[r] = 2
            continue
        rng = xmax - xmin
        invw = fnb / rng
        w = rng / fnb
        if not (math.isfinite(invw) and w > 0.0):
            status[r] = 1
            continue
        dlt = 16.0 * EPS * (abs(xmin) + abs(xmax) + rng)
        # 2. histogram (count, sum, sum of squares per bin), prefix sums, counting sort
        maxcnt = _histsort(x, xmin, invw, fnb, nb, idx, cnt, S1, S2, start, pos, buf, P0, P1, P2)
        K = 4.0 * EPS * (maxcnt + nb + N + 16)
        Tr = T + 2.0 * N * n / nb  # a zone holds at least one bin
        best = tot * (1.0 + K)  # attained for every s >= 2 max|x| (all codes 0)
        # incumbent: shrunk min-max grids, then least-squares (Lloyd) steps around the best
        sb = rng / N
        zb = 0
        fb = np.inf
        for q in range(NCAND):
            sg = (0.4 + 0.1 * q) * rng / N
            zg = int(min(max(np.rint(0.5 * N - 0.5 * (xmin + xmax) / sg), 0.0), float(N)))
            ub, sl, mag = _point(P0, P1, P2, xmin, invw, nb, zg, N, sg)
            if ub < fb:
                fb = ub
                sb = sl
                zb = zg
            best = min(best, ub + K * mag)
        fbest = np.inf
        sbest = 0.0
        zbest = 0
        fmag = tot
        T1 = P1[nb]
        T2 = P2[nb]
        Tabs = 1.01 * math.sqrt(n * tot)  # >= sum |x| (Cauchy-Schwarz): a magnitude for the rounding allowance
        # Lloyd steps at zb, then walk to the neighbouring zero-points while they improve
        f0, s0, mag = _lloyd(P0, P1, P2, xmin, invw, nb, zb, N, sb, LSTEPS)
        best = min(best, f0 + K * mag)
        for dz in (-1, 1):
            zz = zb + dz
            sg = s0
            fc = f0
            while 0 <= zz <= N:
                ub, sg, mag = _lloyd(P0, P1, P2, xmin, invw, nb, zz, N, sg, LSTEPS)
                best = min(best, ub + K * mag)
                if not ub < fc:
                    break
                fc = ub
                if ub < f0:
                    f0 = ub
                    s0 = sg
                zz += dz
        # scales below s_a: every level lies in [-N s_a, N s_a]
        s_a = rng / (4.0 * N)
        closed = False
        for _ in range(80):
            L = N * s_a
            # values above L (bins after idx(L)) and below -L (bins before idx(-L)): exact sums
            jh = _idx(L, xmin, invw, nb) + 1
            jl = _idx(-L, xmin, invw, nb)
            acc = 0.0
            if jh < nb:
                acc += (P2[nb] - P2[jh]) - 2.0 * L * (P1[nb] - P1[jh]) + L * L * (P0[nb] - P0[jh])
            if jl > 0:
                acc += P2[jl] + 2.0 * L * P1[jl] + L * L * P0[jl]
            if acc - K * (tot + 2.0 * L * math.sqrt(n * tot) + L * L * n) > best:
                closed = True
                break
            s_a *= 0.25
        if not closed or s_a <= 0.0:
            status[r] = 3
            continue
        # scales above s_b: the values in (-s/2, s/2) alone (code 0 for every z) exceed the incumbent
        s_b = 2.0 * amax
        s_l = s_a
        for _ in range(12):
            sm = math.sqrt(s_l * s_b)
            a = 0.5 * sm * (1.0 - 8.0 * EPS)
            ja = _idx(-a, xmin, invw, nb) + 1
            jb = _idx(a, xmin, invw, nb)
            v0 = P2[jb] - P2[ja] if jb > ja else 0.0
            if v0 * (1.0 - K) - K * tot > best:
                s_b = sm
            else:
                s_l = sm
        # branch and bound over nodes (s-interval, alive zero-points), all z of a node bounded at once
        nbx = 0
        s0 = min(max(s0, s_a), s_b)
        # boxes growing geometrically away from the incumbent's scale s0 (the chord bound loses ~ width^2,
        # the MSE rises ~ distance^2: far boxes can be wide)
        # scale points (box ends) are numbered: U((k + 1/2) s) at each is computed once (_uend)
        lo = s0 / (1.0 + DELTA0)
        hi = s0 * (1.0 + DELTA0)
        b1[nbx] = max(lo, s_a)
        b2[nbx] = min(hi, s_b)
        es[0] = b1[nbx]
        es[1] = b2[nbx]
        e1[nbx] = 0
        e2[nbx] = 1
        elo = 0
        ehi = 1
        ne = 2
        nbx += 1
        wdt = DELTA0
        while lo > s_a or hi < s_b:
            wdt *= GROW
            if lo > s_a:
                b2[nbx] = lo
                lo = max(lo / (1.0 + wdt), s_a)
                b1[nbx] = lo
                es[ne] = lo
                e1[nbx] = ne
                e2[nbx] = elo
                elo = ne
                ne += 1
                nbx += 1
            if hi < s_b:
                b1[nbx] = hi
                hi = min(hi * (1.0 + wdt), s_b)
                b2[nbx] = hi
                es[ne] = hi
                e1[nbx] = ehi
                e2[nbx] = ne
                ehi = ne
                ne += 1
                nbx += 1
        for e in range(ne):
            eklo[e] = 1
            ekhi[e] = 0
        for b in range(nbx):
            for zz in range(N + 1):
                alive[b, zz] = True
        rounds = 0
        zero = False
        while nbx > 0:
            rounds += 1
            m = 0
            for b in range(nbx):
                s1 = b1[b]
                s2 = b2[b]
                zlo = N + 1
                zhi = -1
                # zero-points that clip no value anywhere in the box (see _free_range) have one and the same
                # MSE function there: only the smallest alive one is kept
                zf_lo, zf_hi = _free_range(xmin, xmax, s1, N)
                free_seen = False
                vin, vinlo, vinhi = _inner_part(P2, xmin, invw, nb, s1)
                for zz in range(N + 1):
                    if alive[b, zz]:
                        # clipping and inner values, O(1) per zero-point (_clip_inner, the inner part hoisted)
                        q, qm = _clip_part(P0, P1, P2, xmin, xmax, invw, nb, N, s2, zz)
                        vz = vin if 0 < zz < N else (vinhi if zz == 0 else vinlo)
                        q += vz
                        qm += vz
                        if q - K * (qm + tot) > best:
                            alive[b, zz] = False
                            continue
                        if zf_lo <= zz <= zf_hi:
                            if free_seen:
                                alive[b, zz] = False
                                continue
                            free_seen = True
                        zlo = min(zlo, zz)
                        zhi = max(zhi, zz)
                if zhi < 0:
                    continue
                _uend(s1, -zhi, N - zlo - 1, P0, P1, buf, start, xmin, xmax, invw, nb, N, Ue, e1[b], eklo, ekhi)
                _uend(s2, -zhi, N - zlo - 1, P0, P1, buf, start, xmin, xmax, invw, nb, N, Ue, e2[b], eklo, ekhi)
                if DOMINANCE and zhi > zlo:
                    zlo, zhi = _dominance(Ue[e1[b]], Ue[e2[b]], N, fn, T1, s1, s2, zlo, zhi,
                                          K * (4.0 * Tabs + 4.0 * N * fn * s2))
                    for zz in range(N + 1):
                        if zz < zlo or zz > zhi:
                            alive[b, zz] = False
                _chord_lb(Ue[e1[b]], Ue[e2[b]], N, fn, T1, T2, s1, s2, zlo, zhi, cu1, cu2, cnz, clb, cub, csc, znz)
                wide = (s2 - s1) > OLDRW * s1
                if wide:
                    _node(P0, P1, P2, xmin, invw, w, dlt, xmax, nb, N, s1, s2, G, zlo, zhi, tja, tjb, tA, tB, tC,
                          tS, tZ, zlb, znz, zmag)
                else:
                    qmag = T2 + 2.0 * N * s2 * Tabs + N * N * fn * s2 * s2  # magnitude of the exact sweep's terms
                    for zz in range(zlo, zhi + 1):
                        zlb[zz] = -np.inf
                        zmag[zz] = qmag
                allow2 = 4.0 * K * (T2 + 4.0 * N * Tabs * s2 + 3.0 * N * N * fn * s2 * s2)
                for zz in range(zlo, zhi + 1):
                    # F_z(s1) <= cub + allow2 is attained (nearest-level MSE; rint ties within the allowance)
                    best = min(best, cub[zz] + allow2)
                info[r, 1] += zhi - zlo + 1
                keep = False
                cdone = False
                for zz in range(zlo, zhi + 1):
                    nal[zz] = False
                    if not alive[b, zz]:
                        continue
                    allow = K * (zmag[zz] + tot)  # tot: rounding of the zone distances
                    if zlb[zz] - allow > best or clb[zz] - allow2 > best:
                        continue
                    tiny = (s2 - s1) <= 2.0**-10 * s2
                    if not wide:  # zone values, once per box with a survivor (wide boxes: _node's count)
                        if not cdone:
                            _zone_cum(P0, xmin, xmax, invw, nb, N, s1, s2, zlo, zhi, cnz)
                            cdone = True
                        znz[zz] = cnz[N - zz + N] - cnz[-zz + N]
                    if (znz[zz] <= Tr and (s2 - s1) * WF * N <= s2) or znz[zz] <= ZMIN or tiny or rounds > 80:
                        val, s, st = _exact(buf, start, P0, P1, P2, xmin, invw, nb, zz, N, s1, s2, bp, bpk, border,
                                            btmp, bcnt)
                        info[r, 2] += 1
                        if st != 0:
                            if tiny or rounds > 80:
                                status[r] = 1
                                break
                            nal[zz] = True  # too many breakpoints: split further
                            keep = True
                            continue
                        if val < fbest:
                            fbest = val
                            sbest = s
                            zbest = zz
                            fmag = zmag[zz]
                            if val <= allow and _direct(x, s, zz, N) == 0.0:
                                zero = True  # MSE 0 attained: nothing can be better
                                break
                        if val + allow < best:
                            best = val + allow
                    else:
                        nal[zz] = True
                        keep = True
                if status[r] != 0 or zero:
                    break
                if keep:
                    if m + 2 > MAXBOX or ne >= MAXE:
                        status[r] = 1
                        break
                    sm = math.sqrt(s1 * s2)
                    n1[m] = s1
                    n2[m] = sm
                    n1[m + 1] = sm
                    n2[m + 1] = s2
                    es[ne] = sm
                    eklo[ne] = 1
                    ekhi[ne] = 0
                    ne1[m] = e1[b]
                    ne2[m] = ne
                    ne1[m + 1] = ne
                    ne2[m + 1] = e2[b]
                    ne += 1
                    for zz in range(N + 1):
                        nalive[m, zz] = nal[zz] if zlo <= zz <= zhi else False
                        nalive[m + 1, zz] = nalive[m, zz]
                    m += 2
            if status[r] != 0 or zero:
                break
            for b in range(m):
                b1[b] = n1[b]
                b2[b] = n2[b]
                e1[b] = ne1[b]
                e2[b] = ne2[b]
                for zz in range(N + 1):
                    alive[b, zz] = nalive[b, zz]
            nbx = m
        info[r, 0] = rounds
        if status[r] != 0:
            continue
        if not fbest < tot:
            status[r] = 4
            continue
        # the MSE at the optimum, summed directly (no cancellation): by runs of bins of one code when the cells
        # are wide against the bins, else value by value
        if 8 * (N + 1) <= nb:
            acc = _direct_bins(buf, start, xmin, xmax, invw, w, dlt, nb, sbest, zbest, N)
        else:
            acc = _direct_lanes(x, sbest, zbest, N)
        out_s[r] = sbest
        out_z[r] = zbest
        out_mse[r] = acc / n
        out_lb[r] = max(min(acc, fbest) - K * fmag, 0.0) / n
