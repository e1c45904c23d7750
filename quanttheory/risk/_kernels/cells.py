"""Private numba kernels: cell-by-cell Gauss-Legendre integration of risk curves.

Why one module of ~900 lines (over the package's ~500-line guideline): the
interval lower bounds and curvature bounds of the certified optimum (second half)
call the piece, density and quadrature helpers of the integrator (first half),
and numba's on-disk cache (``cache=True``) does not track callees in other
files: a caller cached in ``bounds.py`` would keep running the old code of an
edited ``cells.py``.  Keeping callers and callees in one file keeps the cache
correct.  The file has three sections: integration, distance-to-union lower
bounds, cell-by-cell lower bounds and curvature bounds.

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
CODE_DMSQE = 3  # d/ds of s^2 E[MSQE(xi/s)]: integrand -2 k d (k = grid integer of the piece)

# piece types
P_LTAIL = 0  # anchor r_b s, d <= 0
P_CELL = 1   # anchor k s, |d| <= s/2
P_RTAIL = 2  # anchor r_t s, d >= 0

NORMAL_SPAN = 13.0
LAPLACE_SPAN = 90.0
MAX_PIECE_A = 1.5  # bound on the density part of ``a`` per piece (sets subdivision)

_NS = np.arange(2, 33, dtype=np.int64)


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
    """Integration window ``[lo, hi]`` of the continuous part.

    Plain laws: ``loc +- span scale``.  ReLU laws keep only ``(0, inf)``; when ``loc``
    is below 0 the window is placed on that surviving part, with the same relative
    cut-off as the plain window (density at ``hi`` / density at ``lo`` = e^{-84.5}
    for the Normal, e^{-90} for the Laplace): Normal ``hi = loc + sqrt(loc^2 + (13
    scale)^2)``, Laplace ``hi = 90 scale`` (it used to be ``loc + span scale``, empty
    or too short for ``loc < -span scale``: ReLU(N(-2, 0.1)) gave exactly 0)."""
    span = NORMAL_SPAN if law == LAW_NORMAL else LAPLACE_SPAN
    lo = mu - span * sig
    hi = mu + span * sig
    if relu and lo < 0.0:
        lo = 0.0
        if mu < 0.0:
            if law == LAW_NORMAL:
                w = span * sig  # loc + sqrt(loc^2 + w^2), without cancellation
                hi = w * (w / (math.sqrt(mu * mu + w * w) - mu))
            else:
                hi = span * sig
    return lo, hi


@numba.njit(cache=True)
def _zspan(law, mu, sig, relu):
    """``max |x - loc| / scale`` over :func:`_window` (the plain window's ``span``)."""
    lo, hi = _window(law, mu, sig, relu)
    return max(abs(lo - mu), abs(hi - mu)) / sig


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
def _kint(x, lo, hi):
    """int(x) clamped to [lo, hi] *before* conversion (x may be huge or inf)."""
    if x < lo:
        return lo
    if x > hi:
        return hi
    return int(x)


@numba.njit(cache=True)
def _pieces(law, mu, sig, relu, r_b, r_t, periodic, s, out, skip_a1=1, skip_b1=0, skip_a2=1, skip_b2=0,
            skip_tails=False):
    """Fill ``out`` (rows: anchor c, da, db, grid integer k, type) and return the count.

    With ``out.shape[0] == 0`` only counts.  Cells with k in [skip_a1, skip_b1] or
    [skip_a2, skip_b2] are left out (handled by :func:`_block_sum`).
    """
    lo, hi = _window(law, mu, sig, relu)
    count = 0
    if hi <= lo:
        return 0
    half = 0.5 * s
    if periodic:
        kmin = _kint(math.floor(lo / s + 0.5), -(1 << 62), 1 << 62)
        kmax = _kint(math.ceil(hi / s - 0.5), -(1 << 62), 1 << 62)
        for k in range(kmin, kmax + 1):
            if (skip_a1 <= k and k <= skip_b1) or (skip_a2 <= k and k <= skip_b2):
                continue
            c = k * s
            da = max(-half, lo - c)
            db = min(half, hi - c)
            if da < db:
                count = _emit(law, mu, sig, c, k, P_CELL, da, db, out, count)
        return count
    # left tail: x <= r_b s
    c = r_b * s
    if lo < c and not skip_tails:
        db = min(0.0, hi - c)
        count = _emit(law, mu, sig, c, r_b, P_LTAIL, lo - c, db, out, count)
    # cells k in [r_b, r_t] (edge cells are half-cells)
    kmin = _kint(math.floor(lo / s - 0.5), r_b, r_t)
    kmax = _kint(math.ceil(hi / s + 0.5), r_b, r_t)
    for k in range(kmin, kmax + 1):
        if (skip_a1 <= k and k <= skip_b1) or (skip_a2 <= k and k <= skip_b2):
            continue
        c = k * s
        da = 0.0 if k == r_b else -half
        db = 0.0 if k == r_t else half
        da = max(da, lo - c)
        db = min(db, hi - c)
        if da < db:
            count = _emit(law, mu, sig, c, k, P_CELL, da, db, out, count)
    # right tail: x >= r_t s
    c = r_t * s
    if hi > c and not skip_tails:
        da = max(0.0, lo - c)
        count = _emit(law, mu, sig, c, r_t, P_RTAIL, da, hi - c, out, count)
    return count


@numba.njit(cache=True)
def _piece_table(law, mu, sig, relu, r_b, r_t, periodic, s, skip_a1=1, skip_b1=0, skip_a2=1, skip_b2=0,
                 skip_tails=False):
    """The rows of :func:`_pieces` as a new array (one counting pass, one filling pass)."""
    n = _pieces(law, mu, sig, relu, r_b, r_t, periodic, s, np.empty((0, 5)), skip_a1, skip_b1, skip_a2,
                skip_b2, skip_tails)
    table = np.empty((n, 5))
    _pieces(law, mu, sig, relu, r_b, r_t, periodic, s, table, skip_a1, skip_b1, skip_a2, skip_b2, skip_tails)
    return table


@numba.njit(cache=True)
def _a_phi(code, ptype, user):
    """Analytic-variation bound of s^2 phi on a piece (grid-unit cell of width <= 1)."""
    if user:
        return 4.0  # unknown smooth phi: assume cell-scale variation like sin^2
    if ptype == P_CELL and (code == CODE_QSIN or code == CODE_SINREQ):
        return math.pi  # cos(2 pi v) over a unit cell
    return 0.0  # polynomial


@numba.njit(cache=True)
def _shift(code, ptype, user):
    """Extra nodes for a polynomial weight vanishing at the anchor (``d^2``): its
    Taylor coefficients shift by two orders, i.e. one more node.  sin^2 is covered
    by its own variation bound ``a_phi``."""
    if user:
        return 1
    if ptype == P_CELL and (code == CODE_QSIN or code == CODE_SINREQ):
        return 0
    return 1


@numba.njit(cache=True)
def _pick(a, amax, shift):
    """Index of the smallest rule meeting the bound for ``e^{a t}``, plus ``shift``."""
    last = amax.shape[0] - 1
    for i in range(last + 1):
        if a <= amax[i]:
            return min(i + shift, last)
    return last


@numba.njit(cache=True)
def _s2phi(code, ptype, d, s, k):
    """s^2 phi(u) for the built-ins at offset d from the anchor k s."""
    if code == CODE_DMSQE:
        return -2.0 * k * d
    if ptype == P_CELL:
        if code == CODE_MSQE:
            return d * d
        v = s * math.sin(math.pi * d / s)  # (s sin)^2: no inf * 0 when s^2 overflows (s > 1e154)
        return v * v
    # tails (MSQE: (x - r s)^2, QSin: pi^2 (x - r s)^2)
    if code == CODE_MSQE:
        return d * d
    return math.pi * math.pi * d * d


@numba.njit(cache=True)
def _blocks(law, mu, sig, relu, r_b, r_t, periodic, s):
    """Ranges [k1, k2] of *regular* cells: full width, inside the window, strictly
    inside (r_b, r_t), not containing the Laplace kink and not subdivided.  Two
    ranges (left/right of the Laplace kink; the Normal uses the first only)."""
    lo, hi = _window(law, mu, sig, relu)
    big = 1 << 62
    k1 = _kint(math.ceil(lo / s + 0.5), -big, big)
    k2 = _kint(math.floor(hi / s - 0.5), -big, big)
    if not periodic:
        k1 = max(k1, r_b + 1)
        k2 = min(k2, r_t - 1)
    delta = s / sig
    if law == LAW_NORMAL:
        # no subdivision: zmax * delta/2 + delta^2/8 <= MAX_PIECE_A with zmax <= zspan + delta
        zmax = _zspan(law, mu, sig, relu) + delta
        if zmax * 0.5 * delta + 0.125 * delta * delta > MAX_PIECE_A:
            return 1, 0, 1, 0
        return k1, k2, 1, 0
    if 0.5 * delta > MAX_PIECE_A:
        return 1, 0, 1, 0
    kl = _kint(math.floor(mu / s - 0.5), -big, big)   # last cell entirely left of mu
    kr = _kint(math.ceil(mu / s + 0.5), -big, big)    # first cell entirely right of mu
    return k1, min(k2, kl), max(k1, kr), k2


@numba.njit(cache=True)
def _neumaier(total, comp, x):
    """One step of Neumaier compensated summation: returns (total + x, new compensation)."""
    t = total + x
    if abs(total) >= abs(x):
        comp += (total - t) + x
    else:
        comp += (x - t) + total
    return t, comp


@numba.njit(cache=True)
def _block_sum(law, mu, sig, code, s, k1, k2, ns, nodes, weights, amax):
    """Sum over regular cells k1..k2 of the cell integrals, by recurrences.

    Equal spacing makes the node offsets d_q identical in every cell, so
    ``s^2 phi(d_q)`` is computed once, and the density at ``k s + d_q`` follows
    from the previous cell by multiplication (Normal: ``p_{k+1} = p_k Q_k``,
    ``Q_{k+1} = Q_k e^{-Delta^2}``, ``E_q <- E_q e^{-Delta delta_q}``; Laplace: one
    constant ratio ``e^{-Delta}``).  The recurrences restart from exact values
    every 32 cells, so rounding grows by at most ~32 ulp.
    """
    return _block_sum_g(law, mu, sig, code, s, s, 0.5 * s, k1, k2, ns, nodes, weights, amax)


@numba.njit(cache=True)
def _block_sum_g(law, mu, sig, code, s, spacing, hw, k1, k2, ns, nodes, weights, amax):
    """Sum over k = k1..k2 of ``int_{-hw}^{hw} s^2 phi(y) p(k spacing + y) dy`` by recurrences
    (``phi`` of a cell of width ``s``; the risk uses spacing = s, hw = s/2, the interval
    lower bound spacing = s2, hw = s1/2, s = s1)."""
    if k2 < k1:
        return 0.0
    delta = spacing / sig
    hd = hw / sig
    if law == LAW_NORMAL:
        zmax = max(abs((k1 * spacing - hw - mu) / sig), abs((k2 * spacing + hw - mu) / sig))
        a = zmax * hd + 0.5 * hd * hd
    else:
        a = hd
    a += _a_phi(code, P_CELL, False)
    j = _pick(a, amax, _shift(code, P_CELL, False))
    n = ns[j]
    g = np.empty(n)
    r = np.empty(n)
    dl = np.empty(n)
    E = np.empty(n)
    for q in range(n):
        d = hw * nodes[j, q]
        if code == CODE_MSQE:
            ph = d * d
        elif code == CODE_DMSQE:
            ph = -2.0 * d  # times k per cell below
        else:
            v = s * math.sin(math.pi * d / s)
            ph = v * v
        dl[q] = d / sig
        g[q] = weights[j, q] * hw * ph
        if law == LAW_NORMAL:
            g[q] *= math.exp(-0.5 * dl[q] * dl[q])
            r[q] = math.exp(-dl[q] * delta)
    total = 0.0
    comp = 0.0
    k = k1
    while k <= k2:
        kend = min(k2, k + 31)
        z = (k * spacing - mu) / sig
        part = 0.0
        if law == LAW_NORMAL:
            P = math.exp(-0.5 * z * z) / (sig * 2.5066282746310002)
            Q = math.exp(-z * delta - 0.5 * delta * delta)
            QQ = math.exp(-delta * delta)
            for q in range(n):
                E[q] = math.exp(-z * dl[q])
            for kk in range(k, kend + 1):
                acc = 0.0
                for q in range(n):
                    acc += g[q] * E[q]
                    E[q] *= r[q]
                if code == CODE_DMSQE:
                    acc *= kk
                part += P * acc
                P *= Q
                Q *= QQ
        else:
            side = 1.0 if z > 0 else -1.0
            acc = 0.0
            for q in range(n):
                acc += g[q] * math.exp(-side * dl[q])
            P = math.exp(-side * z) / (2.0 * sig)
            R = math.exp(-side * delta)
            for kk in range(k, kend + 1):
                if code == CODE_DMSQE:
                    part += P * acc * kk
                else:
                    part += P * acc
                P *= R
        total, comp = _neumaier(total, comp, part)
        k = kend + 1
    return total + comp


@numba.njit(cache=True)
def _tail_sq(law, mu, sig, relu, c, right):
    """``E[(X - c)^2; X > c]`` (right) or ``E[(X - c)^2; X < c]`` (left) in closed form.

    Normal (tau = (c - mu)/sig, signed toward the tail): ``sig^2 [(1 + tau^2) Q(tau) -
    tau phi(tau)]``, used by the caller only for tau < 3 where the cancellation
    costs at most a factor ~81.  Laplace (tau = distance in scales, + toward the
    tail): beyond the kink ``b^2 e^{-tau}``; across it ``(mu - c)^2 + 2 b^2 - b^2 e^{tau}``.
    ReLU laws: only right tails with c >= 0 and left tails with c <= 0 (zero) occur.
    """
    if relu and not right:
        return 0.0  # density lives on (0, inf) and c = r_b s <= 0
    if right:
        tau = (c - mu) / sig
    else:
        tau = (mu - c) / sig
    if law == LAW_NORMAL:
        Q = 0.5 * math.erfc(tau / 1.4142135623730951)
        phi = math.exp(-0.5 * tau * tau) / 2.5066282746310002
        return sig * sig * ((1.0 + tau * tau) * Q - tau * phi)
    b = sig
    if tau >= 0.0:
        return b * b * math.exp(-tau)
    return (tau * b) ** 2 + 2.0 * b * b - b * b * math.exp(tau)


@numba.njit(cache=True)
def _integrate_table(law, mu, sig, code, s, table, npieces, ns, nodes, weights, amax, total, comp):
    """Add ``int s^2 phi p`` over every piece of ``table`` to (total, comp) (Neumaier)."""
    for p in range(npieces):
        c = table[p, 0]
        da = table[p, 1]
        db = table[p, 2]
        ptype = int(table[p, 4])
        a = _piece_a(law, mu, sig, c, da, db) + _a_phi(code, ptype, False)
        j = _pick(a, amax, _shift(code, ptype, False))
        mid = 0.5 * (da + db)
        hw = 0.5 * (db - da)
        cmu = c - mu
        acc = 0.0
        for q in range(ns[j]):
            d = mid + hw * nodes[j, q]
            acc += weights[j, q] * _density(law, mu, sig, cmu, d) * _s2phi(code, ptype, d, s, table[p, 3])
        total, comp = _neumaier(total, comp, acc * hw)
    return total, comp


@numba.njit(cache=True)
def curve_builtin(law, mu, sig, relu, r_b, r_t, code, scales, ns, nodes, weights, amax):
    """``s^2 E[phi(xi/s)]`` (no curve factor, atom excluded) for each scale; built-in phi."""
    out = np.empty(scales.shape[0])
    periodic = code == CODE_SINREQ
    for i in range(scales.shape[0]):
        s = scales[i]
        a1, b1, a2, b2 = _blocks(law, mu, sig, relu, r_b, r_t, periodic, s)
        closed = False
        total = 0.0
        if not periodic and code != CODE_DMSQE:
            # closed-form tails where they are free of cancellation
            if law == LAW_LAPLACE:
                closed = True
            else:
                closed = (r_t * s - mu) / sig < 3.0 and (mu - r_b * s) / sig < 3.0
            if closed:
                f = 1.0 if code == CODE_MSQE else math.pi * math.pi
                total = f * (_tail_sq(law, mu, sig, relu, r_t * s, True)
                             + _tail_sq(law, mu, sig, relu, r_b * s, False))
        table = _piece_table(law, mu, sig, relu, r_b, r_t, periodic, s, a1, b1, a2, b2, closed)
        npieces = table.shape[0]
        total += _block_sum(law, mu, sig, code, s, a1, b1, ns, nodes, weights, amax)
        total += _block_sum(law, mu, sig, code, s, a2, b2, ns, nodes, weights, amax)
        total, comp = _integrate_table(law, mu, sig, code, s, table, npieces, ns, nodes, weights, amax,
                                       total, 0.0)
        out[i] = total + comp
    return out


@numba.njit(cache=True)
def _user_parts(da, db, ptype):
    """A user phi may have a corner at every integer and half-integer of the grid range
    (e.g. ``|u - Q(u)|`` or ``|sin(pi u)|``).  Half-integers and r_b, r_t are piece ends
    already; a cell piece (anchored at its integer ``k``) is split at ``d = 0``."""
    if ptype == P_CELL and da < 0.0 and 0.0 < db:
        return 2
    return 1


@numba.njit(cache=True)
def _user_part(da, db, ptype, part):
    if _user_parts(da, db, ptype) == 1:
        return da, db
    if part == 0:
        return da, 0.0
    return 0.0, db


@numba.njit(cache=True)
def _user_rule(law, mu, sig, c, da, db, ptype, s, amax):
    """Rule index for a user-phi piece: density variation plus phi's, assumed ``4`` per
    grid unit of a cell piece (sin^2-like; a half-cell gets 2) and 4 on a tail piece."""
    a_phi = 4.0
    if ptype == P_CELL:
        a_phi = 4.0 * min(1.0, (db - da) / s)
    return _pick(_piece_a(law, mu, sig, c, da, db) + a_phi, amax, 1)


@numba.njit(cache=True)
def user_table(law, mu, sig, relu, r_b, r_t, periodic, s, ns, amax):
    """Pieces for a user phi at scale ``s`` (split at every integer: :func:`_user_parts`)
    and ``cum`` with ``cum[p]`` = number of quadrature nodes of pieces ``< p``."""
    table = _piece_table(law, mu, sig, relu, r_b, r_t, periodic, s)
    n = 0
    for p in range(table.shape[0]):
        n += _user_parts(table[p, 1], table[p, 2], table[p, 4])
    out = np.empty((n, 5))
    cum = np.zeros(n + 1, dtype=np.int64)
    i = 0
    for p in range(table.shape[0]):
        for part in range(_user_parts(table[p, 1], table[p, 2], table[p, 4])):
            da, db = _user_part(table[p, 1], table[p, 2], table[p, 4], part)
            out[i, 0] = table[p, 0]
            out[i, 1] = da
            out[i, 2] = db
            out[i, 3] = table[p, 3]
            out[i, 4] = table[p, 4]
            cum[i + 1] = cum[i] + ns[_user_rule(law, mu, sig, table[p, 0], da, db, table[p, 4], s, amax)]
            i += 1
    return out, cum


@numba.njit(cache=True)
def user_nodes(law, mu, sig, s, table, p0, p1, ns, nodes, weights, amax, u_out, w_out):
    """Fill grid-unit nodes ``u`` and weights ``w`` of pieces ``p0 <= p < p1`` of
    :func:`user_table`, with ``s^2 E[phi] ~= sum w phi(u)`` over all pieces."""
    pos = 0
    for p in range(p0, p1):
        c = table[p, 0]
        da = table[p, 1]
        db = table[p, 2]
        k = table[p, 3]
        cmu = c - mu
        j = _user_rule(law, mu, sig, c, da, db, table[p, 4], s, amax)
        mid = 0.5 * (da + db)
        hw = 0.5 * (db - da)
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
    # on gap pieces phi at scale s1 is the bound: s1^2 sin^2(pi d / s1), d^2 or pi^2 d^2
    total, comp = _integrate_table(law, mu, sig, code, s1, table, npieces, ns, nodes, weights, amax, 0.0, 0.0)
    return total + comp


@numba.njit(cache=True)
def _cdf_parts(law, mu, sig, relu, x):
    """(F(x), S(x)) of the continuous part (ReLU: mass on (0, inf) only), each accurate
    relative to itself (S = 1 - F computed directly)."""
    if relu and x <= 0.0:
        x = 0.0
    z = (x - mu) / sig
    if law == LAW_NORMAL:
        F = 0.5 * math.erfc(-z / 1.4142135623730951)
        S = 0.5 * math.erfc(z / 1.4142135623730951)
    else:
        if z < 0:
            F = 0.5 * math.exp(z)
            S = 1.0 - F
        else:
            S = 0.5 * math.exp(-z)
            F = 1.0 - S
    if relu:
        z0 = -mu / sig
        if law == LAW_NORMAL:
            F0 = 0.5 * math.erfc(-z0 / 1.4142135623730951)
        else:
            F0 = 0.5 * math.exp(z0) if z0 < 0 else 1.0 - 0.5 * math.exp(-z0)
        F = F - F0
    return F, S


@numba.njit(cache=True)
def _maxp(law, mu, sig, relu, a, b):
    """max of the continuous density over [a, b] (unimodal with mode mu)."""
    lo = min(a, b)
    hi = max(a, b)
    if relu:
        if hi <= 0.0:
            return 0.0
        lo = max(lo, 0.0)
    if lo <= mu and mu <= hi:
        x = mu
    elif hi < mu:
        x = hi
    else:
        x = lo
    return _density(law, mu, sig, x - mu, 0.0)


@numba.njit(cache=True)
def msqe_curvature_lower_bound(law, mu, sig, relu, r_b, r_t, s1, s2):
    """Lower bound of ``d^2/ds^2 E[(xi - Q_s(xi))^2]`` over s in [s1, s2].

    ``R''(s) = 2 E[K_s^2] - 2 s sum_{k=r_b}^{r_t-1} (k + 1/2)^2 p((k + 1/2) s)`` (boundary
    terms of the moving cells; K_s = clip(round(xi/s))).  ``|K_s|`` is non-increasing in s,
    so ``E[K_s^2] >= E[K_{s2}^2]``; each boundary density is bounded by the maximum of the
    unimodal density over ``(k + 1/2)[s1, s2]``.
    """
    lo, hi = _window(law, mu, sig, relu)
    # E[K_{s2}^2] = sum_k k^2 P(cell_k(s2)); cells meeting the window only
    kmin = _kint(math.floor(lo / s2 - 0.5), r_b, r_t)
    kmax = _kint(math.ceil(hi / s2 + 0.5), r_b, r_t)
    ek2 = 0.0
    for k in range(kmin, kmax + 1):
        if k == 0:
            continue
        a = (k - 0.5) * s2
        b = (k + 0.5) * s2
        if k > 0:
            Sa = _cdf_parts(law, mu, sig, relu, a)[1]
            Sb = 0.0 if k == r_t else _cdf_parts(law, mu, sig, relu, b)[1]
            pk = Sa - Sb
        else:
            Fb = _cdf_parts(law, mu, sig, relu, b)[0]
            Fa = 0.0 if k == r_b else _cdf_parts(law, mu, sig, relu, a)[0]
            pk = Fb - Fa
        if pk > 0:
            ek2 += k * k * pk
    # boundary sum at its maximum over the interval
    bsum = 0.0
    jmin = _kint(math.floor(min(lo / s1, lo / s2) - 1.0), r_b, r_t - 1)
    jmax = _kint(math.ceil(max(hi / s1, hi / s2) + 1.0), r_b, r_t - 1)
    for k in range(jmin, jmax + 1):
        c = k + 0.5
        bsum += c * c * _maxp(law, mu, sig, relu, c * s1, c * s2)
    return 2.0 * ek2 - 2.0 * s2 * bsum


# ---------------------------------------------------------------------------
# Second interval lower bound: cell by cell with the worst cell position.
#
# For s in [s1, s2] the cell of grid integer k is ``k s + y``, ``|y| <= s/2``, and its
# error integrand ``phi_s(y) p(k s + y)`` with ``phi_s(y) = y^2`` (MSQE) or
# ``s^2 sin^2(pi y / s)`` (QSin, increasing in s for |y| <= s/2).  Hence the cell
# contributes at least ``int_{|y| <= s1/2} phi_{s1}(y) min_{c in k[s1, s2]} p(c + y) dy``
# and, the density being unimodal and symmetric about ``mu``, the minimum over the
# centre c is attained at an end: ``p(a + y)`` left of ``y* = mu - (a + b)/2`` and
# ``p(b + y)`` right of it.  The edge cells include their clipping tails (whose
# integrand does not depend on s).  Unlike the distance-to-union bound, this one
# loses only O((s + |k| (s2 - s1)) / scale) relative per cell, not O(|k| (s2 - s1) / s).
# ---------------------------------------------------------------------------

@numba.njit(cache=True)
def _dens_relu(law, mu, sig, relu, x):
    if relu and x <= 0.0:
        return 0.0
    return _density(law, mu, sig, x - mu, 0.0)


@numba.njit(cache=True)
def _gl_plain(law, mu, sig, relu, code, tail, s1, c, lo0, hi0, ns, nodes, weights, amax):
    """int_{lo0}^{hi0} phi(y) p(c + y) dy on a piece where the density is analytic."""
    if not hi0 > lo0:
        return 0.0
    a = _piece_a(law, mu, sig, c, lo0, hi0)
    m = 1
    if a > MAX_PIECE_A:
        m = int(math.ceil(a / MAX_PIECE_A))
    step = (hi0 - lo0) / m
    ptype = P_RTAIL if tail else P_CELL
    total = 0.0
    for part in range(m):
        da = lo0 + part * step
        db = hi0 if part == m - 1 else lo0 + (part + 1) * step
        aa = _piece_a(law, mu, sig, c, da, db) + _a_phi(code, ptype, False)
        j = _pick(aa, amax, _shift(code, ptype, False))
        mid = 0.5 * (da + db)
        hw = 0.5 * (db - da)
        acc = 0.0
        for q in range(ns[j]):
            y = mid + hw * nodes[j, q]
            if tail:
                val = y * y if code == CODE_MSQE else math.pi * math.pi * y * y
            elif code == CODE_MSQE:
                val = y * y
            else:
                v = math.sin(math.pi * y / s1)
                val = s1 * s1 * v * v
            acc += weights[j, q] * val * _dens_relu(law, mu, sig, relu, c + y)
        total += acc * hw
    return total


@numba.njit(cache=True)
def _gl_anchor(law, mu, sig, relu, code, tail, s1, c, y0, y1, ns, nodes, weights, amax):
    """int_{y0}^{y1} phi(y) p(c + y) dy, split at the Laplace kink and the ReLU origin.

    Clipped to the density window (dropping positive terms keeps a lower bound)."""
    lo, hi = _window(law, mu, sig, relu)
    y0 = max(y0, lo - c)
    y1 = min(y1, hi - c)
    if not y1 > y0:
        return 0.0
    x1 = mu - c if law == LAW_LAPLACE else y0
    x2 = -c if relu else y0
    if x1 > x2:
        x1, x2 = x2, x1
    x1 = min(max(x1, y0), y1)
    x2 = min(max(x2, y0), y1)
    return (_gl_plain(law, mu, sig, relu, code, tail, s1, c, y0, x1, ns, nodes, weights, amax)
            + _gl_plain(law, mu, sig, relu, code, tail, s1, c, x1, x2, ns, nodes, weights, amax)
            + _gl_plain(law, mu, sig, relu, code, tail, s1, c, x2, y1, ns, nodes, weights, amax))


@numba.njit(cache=True)
def _gl_min(law, mu, sig, relu, code, tail, s1, a, b, y0, y1, ns, nodes, weights, amax):
    """int_{y0}^{y1} phi(y) min(p(a + y), p(b + y)) dy for a <= b (unimodal, symmetric p)."""
    ystar = mu - 0.5 * (a + b)
    left = _gl_anchor(law, mu, sig, relu, code, tail, s1, a, y0, min(y1, ystar), ns, nodes, weights, amax)
    right = _gl_anchor(law, mu, sig, relu, code, tail, s1, b, max(y0, ystar), y1, ns, nodes, weights, amax)
    return left + right


@numba.njit(cache=True)
def _block_sum_outer(law, mu, sig, code, s1, s2, h1, k1, k2, right, ns, nodes, weights, amax):
    """:func:`_block_sum_g` of cells k1..k2 all on one side of the mode, each at its position
    farthest from the mode over s in [s1, s2] (the density's minimum there): k s2 right of the
    mode for k >= 0 and left of it for k < 0, k s1 otherwise."""
    total = 0.0
    n1, n2 = k1, min(k2, -1)
    if n2 >= n1:
        total += _block_sum_g(law, mu, sig, code, s1, s1 if right else s2, h1, n1, n2, ns, nodes, weights, amax)
    p1, p2 = max(k1, 0), k2
    if p2 >= p1:
        total += _block_sum_g(law, mu, sig, code, s1, s2 if right else s1, h1, p1, p2, ns, nodes, weights, amax)
    return total


@numba.njit(cache=True)
def lower_bound_cells(law, mu, sig, relu, r_b, r_t, code, s1, s2, ns, nodes, weights, amax, edges_only=False):
    """Lower bound of ``s^2 E[phi(xi/s)]`` over s in [s1, s2] (0 < s1 <= s2 < inf), MSQE/QSin.

    ``edges_only`` drops the interior cells: a cheaper (O(1) in the bit width), weaker bound.
    """
    lo, hi = _window(law, mu, sig, relu)
    if hi <= lo:
        return 0.0
    h1 = 0.5 * s1
    big = 1 << 62
    # interior cells whose possible positions meet the window
    kmin = _kint(math.floor((lo - s2) / (s1 if lo < 0 else s2)), -big, big)
    kmax = _kint(math.ceil((hi + s2) / (s1 if hi > 0 else s2)), -big, big)
    kmin = max(kmin, r_b + 1)
    kmax = min(kmax, r_t - 1)
    if edges_only:
        kmax = kmin - 1
    total = 0.0
    comp = 0.0
    # cells entirely on one side of the mode take the density at their position farthest from
    # it (k s2 or k s1, :func:`_block_sum_outer`): equally spaced anchors, summed by recurrences
    # right of the mode for every s in [s1, s2] and |y| <= h1: k s - h1 >= mu, i.e. k s1 >= mu + h1
    # (k > 0) or k s2 >= mu + h1 (k <= 0); left: k s + h1 <= mu, i.e. k s2 (k >= 0) or k s1 (k < 0)
    # <= mu - h1 (the midpoint spacing used before let cells straddling the mode in)
    c = mu + h1
    kr = _kint(math.ceil(c / s1 if c > 0.0 else c / s2), -big, big)       # right of the mode from here
    c = mu - h1
    kl = _kint(math.floor(c / s2 if c >= 0.0 else c / s1), -big, big)     # left of the mode up to here
    if law == LAW_LAPLACE or relu:
        kr = max(kr, _kint(math.ceil((max(mu, 0.0) + h1) / s2), -big, big) + 1)
    if relu:
        kl = kmin - 1  # no density left of 0: those cells contribute nothing extra
    dmax = s1 / sig
    blocks_ok = (law == LAW_LAPLACE and 0.5 * dmax <= MAX_PIECE_A) or \
        (law == LAW_NORMAL and (_zspan(law, mu, sig, relu) + s2 / sig) * 0.5 * dmax + 0.125 * dmax * dmax <= MAX_PIECE_A)
    r1 = max(kr, kmin)
    r2 = kmax
    l1 = kmin
    l2 = min(kl, kmax)
    if blocks_ok and r2 >= r1:
        total, comp = _neumaier(total, comp, _block_sum_outer(law, mu, sig, code, s1, s2, h1, r1, r2, True,
                                                              ns, nodes, weights, amax))
    else:
        r1, r2 = 1, 0
    if blocks_ok and l2 >= l1 and not relu:
        total, comp = _neumaier(total, comp, _block_sum_outer(law, mu, sig, code, s1, s2, h1, l1, l2, False,
                                                              ns, nodes, weights, amax))
    else:
        l1, l2 = 1, 0
    for k in range(kmin, kmax + 1):
        if (r1 <= k and k <= r2) or (l1 <= k and k <= l2):
            continue
        a = k * s1
        b = k * s2
        if a > b:
            a, b = b, a
        if relu and b + h1 <= 0.0:
            continue  # cell entirely at x <= 0 whatever s: no density there
        v = _gl_min(law, mu, sig, relu, code, False, s1, a, b, -h1, h1, ns, nodes, weights, amax)
        total, comp = _neumaier(total, comp, v)
    # right edge: half-cell y in [-s/2, 0] plus the tail y >= 0, centre r_t s
    a = _kmul(r_t, s1)
    b = _kmul(r_t, s2)
    v = _gl_min(law, mu, sig, relu, code, False, s1, a, b, -h1, 0.0, ns, nodes, weights, amax)
    v += _gl_min(law, mu, sig, relu, code, True, s1, a, b, 0.0, max(hi - a, 0.0), ns, nodes, weights, amax)
    total, comp = _neumaier(total, comp, v)
    # left edge: half-cell y in [0, s/2] plus the tail y <= 0, centre r_b s
    a = _kmul(r_b, s2)
    b = _kmul(r_b, s1)
    v = _gl_min(law, mu, sig, relu, code, False, s1, a, b, 0.0, h1, ns, nodes, weights, amax)
    v += _gl_min(law, mu, sig, relu, code, True, s1, a, b, min(lo - b, 0.0), 0.0, ns, nodes, weights, amax)
    total, comp = _neumaier(total, comp, v)
    return total + comp


@numba.njit(cache=True)
def msqe_curvature_taylor_bound(law, mu, sig, relu, r_b, r_t, s1, s2):
    """Second-order lower bound of ``Q(s) = R''(s) / pi^2`` over [s1, s2] (MSQE curve).

    With the Abel form ``Q(s) = 2 r_t^2 - 2 sum_j [2 c_j F(c_j s) + s c_j^2 p(c_j s)]``
    (``c_j = j + 1/2``, j = r_b .. r_t - 1; F the CDF including a ReLU atom) one gets
    ``Q'(s) = -2 sum_j c_j^2 [3 p(b_j) + b_j p'(b_j)]`` and
    ``Q''(s) = -2 sum_j c_j^3 [4 p'(b_j) + b_j p''(b_j)]`` (``b_j = c_j s``).  Then
    ``Q(s) >= Q(m) - |Q'(m)| h - M h^2 / 2`` on ``[m - h, m + h]`` with ``M`` a termwise
    bound of ``|Q''|`` (sup of the density over ``c_j [s1, s2]`` times sup of the
    polynomial factor).  The loss is second order in h, unlike the interval bound.
    Requires p smooth on every ``c_j [s1, s2]``: returns -inf if a Laplace kink lies in
    one (then the caller falls back).  Boundaries outside the density window (mass
    < 1e-38) are skipped, as everywhere in the engine.
    """
    lo, hi = _window(law, mu, sig, relu)
    m = 0.5 * (s1 + s2)
    h = 0.5 * (s2 - s1)
    q0 = msqe_curvature_lower_bound(law, mu, sig, relu, r_b, r_t, m, m)
    jmin = _kint(math.floor(min(lo / s1, lo / s2) - 1.0), r_b, r_t - 1)
    jmax = _kint(math.ceil(max(hi / s1, hi / s2) + 1.0), r_b, r_t - 1)
    d1 = 0.0
    mbound = 0.0
    for j in range(jmin, jmax + 1):
        c = j + 0.5
        b = c * m
        a1 = c * s1
        a2 = c * s2
        blo = min(a1, a2)
        bhi = max(a1, a2)
        if relu and bhi <= 0.0:
            continue
        if law == LAW_LAPLACE and blo < mu and mu < bhi:
            return -math.inf
        if not (relu and b <= 0.0):
            p = _density(law, mu, sig, b - mu, 0.0)
            z = (b - mu) / sig
            if law == LAW_NORMAL:
                dp = -z / sig * p
            else:
                dp = -p / sig if z > 0 else p / sig
            d1 += c * c * (3.0 * p + b * dp)
        pmax = _maxp(law, mu, sig, relu, blo, bhi)
        bmax = max(abs(blo), abs(bhi))
        if law == LAW_NORMAL:
            zmax = max(abs(blo - mu), abs(bhi - mu)) / sig
            poly = 4.0 * zmax / sig + bmax * (zmax * zmax + 1.0) / (sig * sig)
        else:
            poly = 4.0 / sig + bmax / (sig * sig)
        mbound += abs(c) ** 3 * pmax * poly
    q1 = -2.0 * d1
    return q0 - abs(q1) * h - mbound * h * h  # (1/2) * 2 * mbound h^2
