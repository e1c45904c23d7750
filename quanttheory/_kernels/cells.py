"""Private numba kernels: cell-by-cell Gauss-Legendre integration of risk curves.

``R(s) = s**2 E[phi(xi / s)]`` is split into *pieces* on which the integrand is
analytic: the grid cells ``[(k - 1/2) s, (k + 1/2) s]`` inside ``(r_b, r_t)``,
the two edge half-cells ``[r_b s, (r_b + 1/2) s]`` and ``[(r_t - 1/2) s, r_t s]``
and the tails ``x <= r_b s`` / ``x >= r_t s``.  For periodic-tail regularizers
(SinReQ) the cells continue over all integers.  Each piece is stored relative to
an *anchor* grid point ``c = k s`` as offsets ``d`` in ``[da, db]`` so that the
local error ``d = x - k s`` is computed without cancellation, even at 24 bits.

Pieces are clipped to a window carrying all but a negligible mass (Normal:
``loc +- 13 scale``, mass outside < 2e-38; Laplace: ``loc +- 90 scale``, mass
outside < 1e-39; ReLU: the window starts at 0), split at the Laplace kink
``loc``, and subdivided so that the density's log-derivative over a piece is
bounded.  Each piece is then integrated with an n-point Gauss-Legendre rule, n
chosen per piece from a bound on the analytic variation ``a`` of the integrand
(density + regularizer) so that the classical error estimate
``a**(2n) / ((2n)! 4**n)`` is below 1e-19.

Inputs are validated in Python before any call (finite parameters, s > 0).
"""

from __future__ import annotations

import math

import numba
import numpy as np

LAW_NORMAL = 0
LAW_LAPLACE = 1

CODE_USER = -1
CODE_MSQE = 0
CODE_QSIN = 1
CODE_SINREQ = 2

# piece types
P_LTAIL = 0  # anchor r_b s, d <= 0
P_CELL = 1   # anchor k s, |d| <= s/2
P_RTAIL = 2  # anchor r_t s, d >= 0

NORMAL_SPAN = 13.0
LAPLACE_SPAN = 90.0
MAX_PIECE_A = 1.5  # bound on the density part of ``a`` per piece (sets subdivision)

_NS = np.array([2, 4, 6, 8, 10, 12, 16, 20, 24, 32], dtype=np.int64)


def gauss_tables():
    """Padded Gauss-Legendre nodes/weights for each n in ``_NS`` and the ``a`` thresholds."""
    nmax = int(_NS.max())
    nodes = np.zeros((_NS.size, nmax))
    weights = np.zeros((_NS.size, nmax))
    amax = np.zeros(_NS.size)
    for i, n in enumerate(_NS):
        t, w = np.polynomial.legendre.leggauss(int(n))
        nodes[i, :n] = t
        weights[i, :n] = w
        # a**(2n) / ((2n)! 4**n) <= 1e-19
        amax[i] = math.exp((math.log(1e-19) + math.lgamma(2 * n + 1) + n * math.log(4.0)) / (2 * n))
    return _NS.copy(), nodes, weights, amax


@numba.njit(cache=True)
def _window(law, mu, sig, relu):
    span = NORMAL_SPAN if law == LAW_NORMAL else LAPLACE_SPAN
    lo = mu - span * sig
    hi = mu + span * sig
    if relu and lo < 0.0:
        lo = 0.0
    return lo, hi


@numba.njit(cache=True)
def _density(law, mu, sig, cmu, d):
    """Density at x = c + d, given cmu = c - mu (avoids forming large x)."""
    z = (cmu + d) / sig
    if law == LAW_NORMAL:
        return math.exp(-0.5 * z * z) / (sig * 2.5066282746310002)
    return math.exp(-abs(z)) / (2.0 * sig)


@numba.njit(cache=True)
def _piece_a(law, mu, sig, c, da, db):
    h = 0.5 * (db - da) / sig
    if law == LAW_NORMAL:
        zmax = max(abs((c - mu + da) / sig), abs((c - mu + db) / sig))
        return zmax * h + 0.5 * h * h
    return h


@numba.njit(cache=True)
def _emit(law, mu, sig, c, k, ptype, da, db, out, count):
    """Split [c+da, c+db] at the Laplace kink and subdivide; append rows to out.

    (No recursion: numba's on-disk cache mishandles recursive functions.)
    """
    kink = mu - c
    split = law == LAW_LAPLACE and da < kink and kink < db
    nparts = 2 if split else 1
    for part in range(nparts):
        lo0 = da
        hi0 = db
        if split:
            if part == 0:
                hi0 = kink
            else:
                lo0 = kink
        a = _piece_a(law, mu, sig, c, lo0, hi0)
        m = 1
        if a > MAX_PIECE_A:
            m = int(math.ceil(a / MAX_PIECE_A))
        step = (hi0 - lo0) / m
        for i in range(m):
            if out.shape[0] > 0:
                out[count, 0] = c
                out[count, 1] = lo0 + i * step
                out[count, 2] = hi0 if i == m - 1 else lo0 + (i + 1) * step
                out[count, 3] = k
                out[count, 4] = ptype
            count += 1
    return count


@numba.njit(cache=True)
def _pieces(law, mu, sig, relu, r_b, r_t, periodic, s, out):
    """Fill ``out`` (rows: anchor c, da, db, grid integer k, type) and return the count.

    With ``out.shape[0] == 0`` only counts.
    """
    lo, hi = _window(law, mu, sig, relu)
    count = 0
    if hi <= lo:
        return 0
    half = 0.5 * s
    if periodic:
        kmin = int(math.floor(lo / s + 0.5))
        kmax = int(math.ceil(hi / s - 0.5))
        for k in range(kmin, kmax + 1):
            c = k * s
            da = max(-half, lo - c)
            db = min(half, hi - c)
            if da < db:
                count = _emit(law, mu, sig, c, k, P_CELL, da, db, out, count)
        return count
    # left tail: x <= r_b s
    c = r_b * s
    if lo < c:
        db = min(0.0, hi - c)
        count = _emit(law, mu, sig, c, r_b, P_LTAIL, lo - c, db, out, count)
    # cells k in [r_b, r_t] (edge cells are half-cells)
    kmin = max(r_b, int(math.floor(lo / s - 0.5)))
    kmax = min(r_t, int(math.ceil(hi / s + 0.5)))
    for k in range(kmin, kmax + 1):
        c = k * s
        da = 0.0 if k == r_b else -half
        db = 0.0 if k == r_t else half
        da = max(da, lo - c)
        db = min(db, hi - c)
        if da < db:
            count = _emit(law, mu, sig, c, k, P_CELL, da, db, out, count)
    # right tail: x >= r_t s
    c = r_t * s
    if hi > c:
        da = max(0.0, lo - c)
        count = _emit(law, mu, sig, c, r_t, P_RTAIL, da, hi - c, out, count)
    return count


@numba.njit(cache=True)
def _a_phi(code, ptype, user):
    """Analytic-variation bound of s^2 phi on a piece (grid-unit cell of width <= 1)."""
    if user:
        return 4.0  # unknown smooth phi: assume cell-scale variation like sin^2
    if ptype == P_CELL and (code == CODE_QSIN or code == CODE_SINREQ):
        return math.pi  # cos(2 pi v) over a unit cell
    return 0.0  # polynomial


@numba.njit(cache=True)
def _pick(a, amax):
    """Index of the rule for variation ``a``: the smallest n meeting the bound for
    ``e^{a t}``, plus one step (two more nodes) for the polynomial weight ``d^2`` /
    ``sin^2`` that vanishes at the anchor (its Taylor coefficients shift by two)."""
    last = amax.shape[0] - 1
    for i in range(last + 1):
        if a <= amax[i]:
            return min(i + 1, last)
    return last


@numba.njit(cache=True)
def _s2phi(code, ptype, d, s):
    """s^2 phi(u) for the built-ins at offset d from the anchor."""
    if ptype == P_CELL:
        if code == CODE_MSQE:
            return d * d
        v = math.sin(math.pi * d / s)
        return s * s * v * v
    # tails (MSQE: (x - r s)^2, QSin: pi^2 (x - r s)^2)
    if code == CODE_MSQE:
        return d * d
    return math.pi * math.pi * d * d


@numba.njit(cache=True)
def curve_builtin(law, mu, sig, relu, r_b, r_t, code, scales, ns, nodes, weights, amax):
    """``s^2 E[phi(xi/s)]`` (no curve factor, atom excluded) for each scale; built-in phi."""
    out = np.empty(scales.shape[0])
    periodic = code == CODE_SINREQ
    empty = np.empty((0, 5))
    for i in range(scales.shape[0]):
        s = scales[i]
        npieces = _pieces(law, mu, sig, relu, r_b, r_t, periodic, s, empty)
        table = np.empty((npieces, 5))
        _pieces(law, mu, sig, relu, r_b, r_t, periodic, s, table)
        total = 0.0
        comp = 0.0  # Neumaier compensation
        for p in range(npieces):
            c = table[p, 0]
            da = table[p, 1]
            db = table[p, 2]
            ptype = int(table[p, 4])
            a = _piece_a(law, mu, sig, c, da, db) + _a_phi(code, ptype, False)
            j = _pick(a, amax)
            n = ns[j]
            mid = 0.5 * (da + db)
            hw = 0.5 * (db - da)
            cmu = c - mu
            acc = 0.0
            for q in range(n):
                d = mid + hw * nodes[j, q]
                acc += weights[j, q] * _density(law, mu, sig, cmu, d) * _s2phi(code, ptype, d, s)
            acc *= hw
            t = total + acc
            if abs(total) >= abs(acc):
                comp += (total - t) + acc
            else:
                comp += (acc - t) + total
            total = t
        out[i] = total + comp
    return out


@numba.njit(cache=True)
def count_nodes(law, mu, sig, relu, r_b, r_t, periodic, s, ns, amax):
    """Number of quadrature nodes :func:`user_nodes` will emit for scale ``s``."""
    empty = np.empty((0, 5))
    npieces = _pieces(law, mu, sig, relu, r_b, r_t, periodic, s, empty)
    table = np.empty((npieces, 5))
    _pieces(law, mu, sig, relu, r_b, r_t, periodic, s, table)
    total = 0
    for p in range(npieces):
        a = _piece_a(law, mu, sig, table[p, 0], table[p, 1], table[p, 2]) + _a_phi(CODE_USER, 1, True)
        total += ns[_pick(a, amax)]
    return total


@numba.njit(cache=True)
def user_nodes(law, mu, sig, relu, r_b, r_t, periodic, s, ns, nodes, weights, amax, u_out, w_out):
    """Fill grid-unit nodes ``u`` and weights ``w`` with ``s^2 E[phi] ~= sum w phi(u)``."""
    empty = np.empty((0, 5))
    npieces = _pieces(law, mu, sig, relu, r_b, r_t, periodic, s, empty)
    table = np.empty((npieces, 5))
    _pieces(law, mu, sig, relu, r_b, r_t, periodic, s, table)
    pos = 0
    for p in range(npieces):
        c = table[p, 0]
        da = table[p, 1]
        db = table[p, 2]
        k = table[p, 3]
        a = _piece_a(law, mu, sig, c, da, db) + _a_phi(CODE_USER, 1, True)
        j = _pick(a, amax)
        mid = 0.5 * (da + db)
        hw = 0.5 * (db - da)
        cmu = c - mu
        for q in range(ns[j]):
            d = mid + hw * nodes[j, q]
            u_out[pos] = k + d / s
            w_out[pos] = s * s * hw * weights[j, q] * _density(law, mu, sig, cmu, d)
            pos += 1
    return pos


# ---------------------------------------------------------------------------
# Interval lower bounds for the certified global search (optimal_scale).
#
# For s in [s1, s2] every grid point k s lies in the interval k [s1, s2], so the
# distance from x to the grid is >= the distance D(x) to the union U of those
# intervals.  MSQE: s^2 MSQE(x/s) = dist^2 >= D^2.  QSin: inside the range the
# value is h(s, dist) = s^2 sin^2(pi dist / s), increasing in s and in dist
# (dist <= s/2), hence >= h(s1, D); beyond r_t s2 (or below r_b s2) the value is
# pi^2 (x - r s)^2 >= pi^2 D^2.  SinReQ: h(s1, D) with the grid unbounded.
# Gaps between consecutive intervals are split at their midpoint; each half is
# a piece anchored at the nearer endpoint (offsets d = x - endpoint).
# ---------------------------------------------------------------------------

@numba.njit(cache=True)
def _kmul(k, s):
    """k * s with 0 * inf = 0."""
    if k == 0:
        return 0.0
    return k * s


@numba.njit(cache=True)
def _gap(law, mu, sig, left, right, lo, hi, out, count):
    """Emit the gap (left, right) between two intervals of U as two anchored halves."""
    if not right > left:
        return count
    if math.isinf(right):
        # unbounded gap (cannot happen for finite grids) - guard
        return count
    m = 0.5 * (left + right)
    # left half anchored at `left`: d in [0, m - left]
    da = max(0.0, lo - left)
    db = min(m - left, hi - left)
    if da < db:
        count = _emit(law, mu, sig, left, 0, P_CELL, da, db, out, count)
    da = max(m - right, lo - right)
    db = min(0.0, hi - right)
    if da < db:
        count = _emit(law, mu, sig, right, 0, P_CELL, da, db, out, count)
    return count


@numba.njit(cache=True)
def _lb_pieces(law, mu, sig, relu, r_b, r_t, periodic, s1, s2, out):
    """Pieces of the lower-bound integrand for s in [s1, s2] (s2 may be inf, s1 may be 0)."""
    lo, hi = _window(law, mu, sig, relu)
    count = 0
    if hi <= lo:
        return 0
    # integer range that matters: intervals k[s1, s2] meeting [lo, hi] (plus neighbours)
    if periodic:
        kb = -(1 << 62)
        kt = 1 << 62
    else:
        kb = r_b
        kt = r_t
    # positive side k >= 0: interval [k s1, k s2]; gaps [k s2, (k+1) s1]
    if kt >= 1 and hi > 0.0:
        if s1 > 0.0:
            kstart = max(0, int(math.floor(max(lo, 0.0) / s2)) - 1) if not math.isinf(s2) else 0
            kend = min(kt - 1, int(math.ceil(hi / s1)) + 1)
        else:
            kstart = 0
            kend = -1  # intervals [0, k s2] overlap: no gaps
        for k in range(kstart, kend + 1):
            left = _kmul(k, s2)
            right = (k + 1) * s1
            if left >= hi:
                break
            count = _gap(law, mu, sig, left, right, lo, hi, out, count)
    if kb <= -1 and lo < 0.0:
        if s1 > 0.0:
            kstart = max(0, int(math.floor(max(-hi, 0.0) / s2)) - 1) if not math.isinf(s2) else 0
            kend = min(-kb - 1, int(math.ceil(-lo / s1)) + 1)
        else:
            kstart = 0
            kend = -1
        for k in range(kstart, kend + 1):
            # gap between -(k+1) s1 and -k s2 (mirror of the positive side)
            right = -_kmul(k, s2)
            left = -(k + 1) * s1
            if right <= lo:
                break
            count = _gap(law, mu, sig, left, right, lo, hi, out, count)
    if periodic:
        return count
    # tails: beyond r_t s2 (anchor r_t s2) and below r_b s2 (anchor r_b s2)
    c = _kmul(r_t, s2)
    if not math.isinf(c) and hi > c:
        da = max(0.0, lo - c)
        count = _emit(law, mu, sig, c, r_t, P_RTAIL, da, hi - c, out, count)
    c = _kmul(r_b, s2)
    if not math.isinf(c) and lo < c:
        db = min(0.0, hi - c)
        count = _emit(law, mu, sig, c, r_b, P_LTAIL, lo - c, db, out, count)
    return count


@numba.njit(cache=True)
def lower_bound(law, mu, sig, relu, r_b, r_t, code, s1, s2, ns, nodes, weights, amax):
    """Lower bound of ``s^2 E[phi(xi/s)]`` (no curve factor) over all s in [s1, s2]."""
    periodic = code == CODE_SINREQ
    empty = np.empty((0, 5))
    npieces = _lb_pieces(law, mu, sig, relu, r_b, r_t, periodic, s1, s2, empty)
    table = np.empty((npieces, 5))
    _lb_pieces(law, mu, sig, relu, r_b, r_t, periodic, s1, s2, table)
    total = 0.0
    for p in range(npieces):
        c = table[p, 0]
        da = table[p, 1]
        db = table[p, 2]
        ptype = int(table[p, 4])
        a = _piece_a(law, mu, sig, c, da, db) + _a_phi(code, ptype, False)
        j = _pick(a, amax)
        mid = 0.5 * (da + db)
        hw = 0.5 * (db - da)
        cmu = c - mu
        acc = 0.0
        for q in range(ns[j]):
            d = mid + hw * nodes[j, q]
            if ptype == P_CELL and code != CODE_MSQE:
                v = math.sin(math.pi * d / s1)
                val = s1 * s1 * v * v
            elif code == CODE_MSQE:
                val = d * d
            else:
                val = math.pi * math.pi * d * d
            acc += weights[j, q] * _density(law, mu, sig, cmu, d) * val
        total += acc * hw
    return total
