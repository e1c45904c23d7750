"""Certified optimum of the MSQE and QSin curves of Normal and Laplace laws on grids with few
points (1-4 bits), and of laws far off centre on up to 256 points (a Laplace law's MSQE and QSin:
up to 24 bits, ``optimum.LAP_MSQE_MAX``, ``LAP_QSIN_MAX``; dispatch in ``optimum._normal_optimum``),
where the bit-independent certificate of :mod:`._normal_cert` does not apply (its
Fourier/Hermite series needs ``s`` small against the law's scale) (issue 20).

Standard units as in :mod:`._normal_cert` (``sigma = 1``, ``m = loc / scale``); the curve is
``F(s) = s^2 J(s) + tf T(s)`` (continuous part; a ReLU atom sits on the grid point 0).

Exact closed forms, O(grid points) per evaluation:

* Normal MSQE: cell by cell from the partial moments of ``N(m, 1)`` (erfc, exp);
  ``R'(s) = -2 sum_k k int_cell (x - k s) p`` (the boundary terms cancel).
* Normal QSin: ``F = s^2 (P - C)/2 + pi^2 T`` with ``C = int_a^b cos(w x) p``, ``w = 2 pi / s``;
  ``R' = s (P - C) - pi int_a^b x sin(w x) p + pi^2 T'``.  Both oscillatory integrals come from
  ``E = int_a^b e^{i w x} p dx = e^{i w m - w^2/2} [Phi(z_b - i w) - Phi(z_a - i w)]`` written
  with the Faddeeva function ``w(z)`` (scipy.special.wofz, relative accuracy ~1e-13; a slack
  of 1e-12 covers it): with ``a, b`` grid points ``e^{i w a} = e^{i w b} = 1``, so
  ``e^{i w m} e^{-w^2/2} Phi(z - i w) = e^{-z^2/2} w((-w - i z)/sqrt2)/2`` for ``z <= 0`` and
  ``e^{i w m - w^2/2} - e^{-z^2/2} w((w + i z)/sqrt2)/2`` for ``z > 0`` (no overflow, no
  cancellation), and ``int_a^b x e^{i w x} p = p(a) - p(b) + (i w + m) E``.
* Laplace: the exact geometric-series form of :class:`._normal_cert.LaplaceCurve` (valid at
  every ``s``), R' by forward-mode differentiation.

Rigorous lower bounds of ``R''`` on ``s in [s1, s2]`` (no derivative of the density: Laplace's
kink is harmless):

* MSQE: ``R'' = 2 E[K^2] - 2 s sum_j (j + 1/2)^2 p((j + 1/2) s)`` (``j`` over the cell
  boundaries); ``E[K^2]`` decreases with ``s`` (``|round(x/s)|`` does), so its value at ``s2``,
  minus ``2 s2 sum_j (j + 1/2)^2 max p`` over the boundary's range.
* QSin: differentiating ``s^2 sin^2(pi x/s)`` twice in ``s`` (the boundary terms vanish at grid
  points) gives ``R'' = int_a^b h(pi x/s) p(x) dx + pi^2 T''`` with
  ``h(t) = 2 sin^2 t - 2 t sin 2t + 2 t^2 cos 2t`` (``h' = -4 t^2 sin 2t``: monotone between the
  multiples of pi/2), ``= s int_{r_a}^{r_t} h(pi u) p(s u) du + pi^2 T''``.  On u-pieces of width
  ``1/(2n)`` the positive and negative parts ``I+``, ``I-`` of ``int h(pi u) du`` are tabulated
  once (closed-form antiderivative ``H(t) = t - 3/2 sin 2t + 2 t cos 2t + t^2 sin 2t``, root by
  bisection), and each piece contributes ``>= s (p_min I+ - p_max I-)`` with the extremes of ``p``
  over ``x in [s1 u0, s2 u1]``.  ``T'' = 2 r_t^2 P(xi > B) + 2 r_b^2 P(xi < A)`` at ``s2``.

The certificate:

1. ``s_t``: root of ``R'`` (bracketed as in :mod:`._normal_cert`), sign change of ``R'`` at
   ``s_t -+ e`` certified with the error bounds of ``R'``; ``e <= 1e-9 s_t``.
2. ``(0, x]``: ``R >= tf T(x) > R(s_t)`` (the clipping part decreases with ``s``).
3. A neighbourhood ``[s_t (1 - d), s_t (1 + d)]`` where the ``R''`` bounds are > 0: strictly
   convex there, its minimizer is in ``(s_t - e, s_t + e)``.
4. ``[x, s_t (1 - d)]`` and ``[s_t (1 + d), Y]``: branch and bound with the second-order lower
   bound ``R(s) >= R(u) + R'(u) (s - u) + c (s - u)^2 / 2`` (``c`` the R'' bound on the piece,
   from either end); a piece is discarded when it exceeds ``R(s_t)``.  A point with a lower
   value than ``R(s_t)`` (another, deeper dip: QSin has several) restarts from there.
5. ``[Y, inf)``, ``Y = 2 (W + |m|)`` (``W`` = 13 Normal, 30 Laplace): every ``|xi| <= Y/2`` is
   quantized to 0, so ``R >= E[xi^2; |xi - m| <= W]`` (MSQE) or
   ``pi^2 (E[xi^2; window] - pi^2 E[xi^4] / (3 Y^2))`` (QSin: ``sin t >= t - t^3/6``).

Off centre (``|m|`` large: one dip of the curve per level the mean can sit on, ``s ~ |m| / k``):
the root search starts just below the outermost dip ``s ~ |m| / r``; Normal cell sums run over the
cells within 12 law scales of the mean only (the rest bounded in the error terms); and before its
second-order bound each piece of step 4 is tried by :meth:`FewCells.lattice_lower` (Poisson
summation over the unclipped lattice ``s Z``: no evaluation), which excludes the scales from just
above ``s*`` to ~6 law scales, i.e. most dips, in a few pieces.  The R'' bounds above lose
``O((m/s)^2 (s2 - s1)/s)`` there (two large terms bounded separately); for a Normal law (a
Laplace law with QSin, or with MSQE on more than 16 points: geometric power sums, O(1)) with ``|m| > 4``
R'' and R''' are computed exactly at a point instead and
only ``|R''''|`` is bounded over the interval (:meth:`FewCells.curvature_taylor`;
docs/optimum_lowbit.md, "Off centre: a curvature bound without cancellation").

Any failure returns None and the caller falls back to the per-cell branch and bound.
"""

from __future__ import annotations

import math

import numpy as np

from . import _normal_cert as nc
from .optimum import LAP_RIPPLE_QSIN  # the dispatch table of Laplace laws off centre
from ._scalar import _brent_root

_SQ2 = math.sqrt(2.0)
_PI = math.pi
_PI2 = math.pi * math.pi
_H_TABLES: dict = {}


def _H(t):
    """Antiderivative of h(t) = 2 sin^2 t - 2 t sin 2t + 2 t^2 cos 2t."""
    s2, c2 = math.sin(2.0 * t), math.cos(2.0 * t)
    return t - 1.5 * s2 + 2.0 * t * c2 + t * t * s2


def _h(t):
    return 2.0 * math.sin(t) ** 2 - 2.0 * t * math.sin(2.0 * t) + 2.0 * t * t * math.cos(2.0 * t)


def _h_table(n, U):
    """Edges u_i = i/(2n), i = 0..2nU, and the positive / negative parts of int h(pi u) du on each
    piece (h is monotone on every piece, so one sign change at most: its root by bisection)."""
    key = (n, U)
    tab = _H_TABLES.get(key)
    if tab is not None:
        return tab
    npc = 2 * n * U
    edges = np.arange(npc + 1) / (2.0 * n)
    ip = np.empty(npc)
    im = np.empty(npc)
    for i in range(npc):
        t0, t1 = _PI * edges[i], _PI * edges[i + 1]
        h0, h1 = _h(t0), _h(t1)
        if h0 >= 0.0 and h1 >= 0.0 or h0 <= 0.0 and h1 <= 0.0:
            v = (_H(t1) - _H(t0)) / _PI
            ip[i], im[i] = (v, 0.0) if (h0 + h1) >= 0.0 else (0.0, -v)
            continue
        lo, hi = t0, t1
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            if (_h(mid) >= 0.0) == (h0 >= 0.0):
                lo = mid
            else:
                hi = mid
        r = 0.5 * (lo + hi)
        v0, v1 = (_H(r) - _H(t0)) / _PI, (_H(t1) - _H(r)) / _PI
        if h0 >= 0.0:
            ip[i], im[i] = v0, -v1
        else:
            ip[i], im[i] = v1, -v0
    # rounding of the antiderivative differences (terms up to ~t^2): absolute slack
    slack = 1e-14 * (1.0 + (_PI * U) ** 2)
    ip = np.maximum(ip - slack, 0.0)
    im = im + slack
    tab = (edges, ip, im)
    if len(_H_TABLES) > 64:
        _H_TABLES.clear()
    _H_TABLES[key] = tab
    return tab



def _phase(m, s):
    """``e^{2 pi i m/s}`` with an error of a few ulps whatever ``m/s``: ``q = m/s`` is reduced mod 1
    exactly (``m - fl(m/s) s`` by Dekker's exact product, then Sterbenz), where ``cos(w m)`` with
    ``w = fl(2 pi/s)`` has a phase error of ~``3 eps w |m|`` (``5e-9`` at ``m/s = 8e6``)."""
    q = m / s
    c = 134217729.0 * q  # Veltkamp split of q and s: q s = p + e exactly
    qh = c - (c - q)
    ql = q - qh
    c = 134217729.0 * s
    sh = c - (c - s)
    sl = s - sh
    p = q * s
    e = ((qh * sh - p) + qh * sl + ql * sh) + ql * sl
    r = (m - p) - e  # m - q s (m - p exact: p is within a factor 2 of m)
    f = (q - math.floor(q)) + r / s  # q mod 1 (exact) plus the residual
    t = 2.0 * _PI * f
    return complex(math.cos(t), math.sin(t))


def _qsin_curvature(s, w, P, t2, E, X1, X2, X3, e0, e1, e2, e3):
    """QSin's ``(c2, err2, c3, err3)``, the second- and third-derivative terms of the few-cell
    certificate, from the window mass ``P``, the clipping term ``t2``, ``X_j = int_a^b x^j e^{i w x} p``
    (``X_0 = E``) and their error bounds ``e_j``; shared by the Normal and Laplace laws (``w = 2 pi / s``)."""
    inner = P - E.real - w * X1.imag + 0.5 * w * w * X2.real
    c2 = inner + _PI2 * t2
    err2 = (e0 + w * e1 + 0.5 * w * w * e2 + 1e-15 * (P + abs(E.real) + w * abs(X1.imag)
                                                      + 0.5 * w * w * abs(X2.real)) + 1e-14 * _PI2 * t2)
    k3 = 4.0 * _PI**3 / s**4
    c3 = k3 * X3.imag
    err3 = k3 * e3 * (1 + 1e-14) + 1e-15 * abs(c3)
    return c2, err2 + 1e-300, c3, err3 + 1e-300

# ----- Laplace MSQE off centre: geometric power sums (issue 20) -----------------------------------
# On either side of the mode the Laplace density is a pure exponential, so every sum over the cell
# boundaries c = k + 1/2 on one side is sum_i (x0 + i d)^n e^{-a i}: O(1) per evaluation whatever
# the bit width (docs/optimum_lowbit.md, "Laplace MSQE off centre").
_BINOM = ((1,), (1, 1), (1, 2, 1), (1, 3, 3, 1), (1, 4, 6, 4, 1))


def _geo_pow(N, a):
    """``[G_0..G_4]``, ``G_k = sum_{i=0}^{N-1} i^k e^{-a i}`` (``a >= 0``, ``N`` an int >= 0 or
    ``inf`` with ``a > 0``), every term >= 0 and each result within ``1e-13`` of itself: a direct
    sum for ``N <= 48``, the closed form (Eulerian numbers) minus its tail when ``a N >= 4`` (the
    tail then cancels at most ~2/3 of the full sum, k <= 4), else
    by doubling blocks (sums of nonnegative terms only)."""
    if N <= 0:
        return [0.0] * 5
    if a == 0.0:
        n = float(N)
        return [n, n * (n - 1) / 2, (n - 1) * n * (2 * n - 1) / 6, (n * (n - 1) / 2) ** 2,
                (n - 1) * n * (2 * n - 1) * (3 * (n - 1) ** 2 + 3 * (n - 1) - 1) / 30]
    if N <= 48:
        g0 = g1 = g2 = g3 = g4 = 0.0
        exp = math.exp
        for i in range(int(N)):
            e = exp(-a * i)
            g0 += e
            g1 += i * e
            g2 += i * i * e
            g3 += i * i * i * e
            g4 += i * i * i * i * e
        return [g0, g1, g2, g3, g4]
    q = math.exp(-a)
    om = -math.expm1(-a)  # 1 - q without cancellation
    S = [1.0 / om, q / om**2, q * (1 + q) / om**3, q * (1 + 4 * q + q * q) / om**4,
         q * (1 + 11 * q + 11 * q * q + q**3) / om**5]
    if N == math.inf or a * N > 745.0:
        return S
    if a * N >= 4.0:
        qN = math.exp(-a * N)
        n = float(N)
        return [S[k] - qN * v for k, v in enumerate(_bsum(n, S))]
    # doubling: B = sums over a block of L terms; the result accumulates blocks at offset n0
    B = [1.0, 0.0, 0.0, 0.0, 0.0]  # the block {i = 0}
    L = 1
    R = [0.0] * 5
    n0 = 0
    rem = int(N)
    while rem:
        if rem & 1:
            w = math.exp(-a * n0)
            R = [R[k] + w * v for k, v in enumerate(_bsum(float(n0), B))]
            n0 += L
        rem >>= 1
        if rem:
            w = math.exp(-a * L)
            B = [B[k] + w * v for k, v in enumerate(_bsum(float(L), B))]
            L *= 2
    return R


def _bsum(n, V):
    """``[sum_{j <= k} C(k, j) n^(k - j) V_j for k in 0..4]``, each term ``(C(k, j) n^(k - j)) V_j`` and
    the terms added in the order of j, as ``sum()`` over them (the same floats, up to a zero's sign;
    written out: the generator expressions took a third of an evaluation of R'')."""
    p1, p2, p3, p4 = n, n**2, n**3, n**4
    V0, V1, V2, V3, V4 = V
    return [V0, p1 * V0 + V1, p2 * V0 + (2 * p1) * V1 + V2, p3 * V0 + (3 * p2) * V1 + (3 * p1) * V2 + V3,
            p4 * V0 + (4 * p3) * V1 + (6 * p2) * V2 + (4 * p1) * V3 + V4]


def _ap_sums(x0, d, N, a, nmax=4):
    """``(T, A)``: ``T_n = sum_{i<N} (x0 + i d)^n e^{-a i}``, ``n = 0..4``, by the binomial expansion
    over :func:`_geo_pow`, and ``A_n`` >= the sum of the magnitudes of the expansion's terms
    (>= ``|T_n|``; the rounding of ``T_n`` is within ``1e-13 A_n``); ``n > nmax`` left at 0."""
    G = _geo_pow(N, a)
    ax, ad = abs(x0), abs(d)
    T = [0.0] * 5
    A = [0.0] * 5
    if d == 1.0 or d == -1.0:
        # (the callers' case: d^k = +-1 and |d|^k = 1 exactly, so the products by them are exact and
        # left out; the rest as below, term for term)
        xp = [x0**j for j in range(nmax + 1)]
        axp = [ax**j for j in range(nmax + 1)]
        neg = d < 0.0
        for n in range(nmax + 1):
            t = at = 0.0
            Bn = _BINOM[n]
            for k in range(n + 1):
                g = Bn[k] * G[k]
                v = g * xp[n - k]
                t += -v if (neg and k & 1) else v
                at += g * axp[n - k]
            T[n], A[n] = t, at
        return T, A
    xp = [x0**j for j in range(nmax + 1)]
    dp = [d**k for k in range(nmax + 1)]
    axp = [ax**j for j in range(nmax + 1)]
    adp = [ad**k for k in range(nmax + 1)]
    for n in range(nmax + 1):
        t = at = 0.0
        Bn = _BINOM[n]
        for k in range(n + 1):
            g = Bn[k] * G[k]
            t += g * xp[n - k] * dp[k]
            at += g * axp[n - k] * adp[k]
        T[n], A[n] = t, at
    return T, A


def _lap_msqe_vd(mu, relu, r_b, r_t, s):
    """``(F, F', T')`` of the Laplace MSQE curve at ``s``: ``LaplaceCurve._curve(_Dual(s, 1))`` (the
    geometric-series closed form of :class:`._normal_cert.LaplaceCurve`, differentiated in forward
    mode) with the dual arithmetic written out on pairs of floats, every value and derivative
    component the same float operation in the same order as ``_Dual``'s (a float argument taken as
    a dual with derivative 0), so the results are bit-identical up to the sign of a zero (checked on
    tens of thousands of scales, tests/test_optimum_laplace_geo.py); ~4x faster (no objects).
    ``relu`` with ``r_t <= 0`` is not handled (the caller keeps the dual path there)."""
    if s * 0.5 > nc.E_BIG:
        raise OverflowError(nc.E_BIG_MSG.format(s=s))
    exp, es = math.exp, nc._e_series
    qv = mu / s
    qd = -mu / (s * s)
    kmu = float(math.floor(qv + 0.5))
    dv_, dd_ = qv - kmu, qd  # dmu

    def tail(c, dmv, dmd):  # _ltail: e = (c - dmu) kap; c = kB - kmu
        xv = c - dmv
        ev, ed = xv * s, -dmd * s + xv
        if ev >= 0.0:
            E = exp(-ev)
            return E, E * -ed
        E = exp(ev)
        return ev * ev + 2.0 - E, (ed * ev + ev * ed) - E * ed

    kb = float(r_t)
    Tv, Td = tail(kb - kmu, dv_, dd_)
    ka = 0.0
    if not relu:
        ka = float(r_b)
        t2v, t2d = tail(-ka - (-kmu), -dv_, -dd_)
        Tv, Td = Tv + t2v, Td + t2d

    def le2(zv, zd):  # (_e_series(zv, 2), _e_series(zv, 3) zd), both series in one loop
        if -2.0 <= zv <= 2.0:
            term, a2, a3 = 1.0, 1.0 / 3, 1.0 / 4
            for k in range(1, 40):
                term *= zv / k
                a2 += term / (k + 3)
                a3 += term / (k + 4)
                if -1e-18 < term < 1e-18:
                    break
            return a2, a3 * zd
        return es(zv, 2), es(zv, 3) * zd

    def li2(d1v, d1d, d2v, d2d):  # _li2(d1, d2, -kap); z d = (-s dv, -dv - s dd)
        if d2v <= d1v:
            return 0.0, 0.0
        if d1v >= 0.0:
            a3v, a3d, bv, bd = d2v, d2d, d1v, d1d
            sg = -1.0
        elif d2v <= 0.0:
            a3v, a3d, bv, bd = -d1v, -d1d, -d2v, -d2d
            sg = -1.0
        else:
            a3v, a3d, bv, bd = -d1v, -d1d, d2v, d2d
            sg = 1.0
        # first term: a^3 E_2(z x) with x the argument whose cube is a^3 (x = d2 or d1)
        x1v, x1d = (d2v, d2d) if d1v >= 0.0 else (d1v, d1d)
        x2v, x2d = (d1v, d1d) if d1v >= 0.0 else (d2v, d2d)
        L1v, L1d = le2(-s * x1v, -1.0 * x1v + -s * x1d)
        L2v, L2d = le2(-s * x2v, -1.0 * x2v + -s * x2d)
        p1v, p1d = a3v**3, 3 * a3v**2 * a3d
        p2v, p2d = bv**3, 3 * bv**2 * bd
        u1v, u1d = p1v * L1v, p1d * L1v + p1v * L1d
        u2v, u2d = p2v * L2v, p2d * L2v + p2v * L2d
        if sg < 0.0:
            return u1v - u2v, u1d - u2d
        return u1v + u2v, u1d + u2d

    pv, pd = s / 2.0, 1.0 / 2.0  # pref = kap / 2
    mf = None

    def seg(ku, duv, dud, kv, dvv, dvd, km, dmv, dmd):  # _lseg_right(..., vinf=False, qsin=False)[2]
        nonlocal mf
        xv = (ku - km) - dmv  # -((ku - km) - dmu) kap
        av, ad = -xv, -(-dmd)
        av, ad = av * s, ad * s + av
        E = exp(av)
        ev, ed = pv * E, pd * E + pv * (E * ad)
        if kv == ku:
            lv, ld = li2(duv, dud, dvv, dvd)
            return ev * lv, ed * lv + ev * ld
        lv, ld = li2(duv, dud, 0.5, 0.0)
        qv, qd = ev * lv, ed * lv + ev * ld
        if mf is None:
            a_v, a_d = le2(s * 0.5, 1.0 * 0.5)
            b_v, b_d = le2(s * -0.5, 1.0 * -0.5)
            mf = ((a_v + b_v) * 0.125, (a_d + b_d) * 0.125)
        c1 = (ku + 1) - km
        e1v = c1 - dmv
        e1v, e1d = e1v * s, -dmd * s + e1v
        nfull = kv - ku - 1
        if nfull > 0:
            nv = -s * nfull
            nd = -1.0 * nfull
            Nv, Nd = math.expm1(nv), exp(nv) * nd
            Dv, Dd = math.expm1(-s), exp(-s) * -1.0
            gv, gd = Nv / Dv, (Nd * Dv - Nv * Dd) / (Dv * Dv)
        else:
            gv = gd = 0.0
        xv = (kv - km) - dmv
        av, ad = -xv, -(-dmd)
        av, ad = av * s, ad * s + av
        E = exp(av)
        e2v, e2d = pv * E, pd * E + pv * (E * ad)
        lv, ld = li2(-0.5, 0.0, dvv, dvd)
        qv, qd = qv + e2v * lv, qd + (e2d * lv + e2v * ld)
        E = exp(-e1v)
        e3v, e3d = pv * E, pd * E + pv * (E * -e1d)
        e3v, e3d = e3v * mf[0], e3d * mf[0] + e3v * mf[1]
        return qv + e3v * gv, qd + (e3d * gv + e3v * gd)

    before = nc._lbefore
    mv = md = 0.0
    if before(ka, 0.0, kmu, dv_):
        ku, duv, dud = kmu, dv_, dd_
    else:
        ku, duv, dud = ka, 0.0, 0.0
    if before(ku, duv, kb, 0.0):
        q1v, q1d = seg(ku, duv, dud, kb, 0.0, 0.0, kmu, dv_, dd_)
        mv, md = q1v + 0.0, q1d
    if before(kmu, dv_, kb, 0.0):
        kv, dvv, dvd = kmu, dv_, dd_
    else:
        kv, dvv, dvd = kb, 0.0, 0.0
    if before(ka, 0.0, kv, dvv):
        q2v, q2d = seg(-kv, -dvv, -dvd, -ka, 0.0, 0.0, -kmu, -dv_, -dd_)
        mv, md = mv + q2v, md + q2d
    ssv, ssd = s * s, 1.0 * s + s * 1.0
    gv, gd = ssv * mv, ssd * mv + ssv * md
    return gv + Tv, gd + Td, Td


class FewCells:
    """MSQE/QSin curve of Normal(m, 1) (``law`` 0) or Laplace(m, 1) (``law`` 1) on ``[r_b, r_t]``
    (ReLU if ``relu``), exact at every ``s``; standard units, no curve factor."""

    def __init__(self, law, m, relu, r_b, r_t, qsin):
        self.law, self.m, self.relu, self.r_b, self.r_t, self.qsin = int(law), float(m), bool(relu), int(r_b), \
            int(r_t), bool(qsin)
        self.r_a = 0 if relu else self.r_b
        self.tf = _PI2 if qsin else 1.0
        self.n_eval = 0
        self._memo = {}
        if self.law == 1:
            self._lap = nc.LaplaceCurve(m, relu, r_b, r_t, qsin)
            self.window = 30.0
        else:
            self._nrm = nc.NormalCurve(m, relu, r_b, r_t, qsin)
            self.window = 13.0
        if self.law == 0 and qsin:
            from scipy.special import wofz

            self._wofz = wofz

    # ----- the law -------------------------------------------------------------------------
    def pdf(self, z):
        return nc._pdf(z) if self.law == 0 else nc._lpdf(z)

    def pdf_arr(self, z):
        if self.law == 0:
            return np.exp(-0.5 * z * z) * nc._INV_SQRT2PI
        return 0.5 * np.exp(-np.abs(z))

    def q_above(self, c):
        """P(xi > c) for the law without ReLU."""
        z = c - self.m
        if self.law == 0:
            return nc._q(z)
        return 0.5 * math.exp(-z) if z >= 0 else 1.0 - 0.5 * math.exp(z)

    def q_below(self, c):
        """P(xi < c) for the law without ReLU, without the cancellation of ``1 - q_above(c)`` (far
        below the mean that lost ``eps / P`` relatively: 7e-10 at ``P = 1.5e-7``)."""
        z = c - self.m
        if self.law == 0:
            return nc._q(-z)
        return 0.5 * math.exp(z) if z < 0 else 1.0 - 0.5 * math.exp(-z)

    def mass(self, za, zb):
        return nc._mass(za, zb) if self.law == 0 else nc._lmass(za, zb)

    # ----- value and derivative ----------------------------------------------------------------
    def tails(self, s):
        if self.law == 1:
            return self._lap.tails(s)
        return self._nrm.tails(s)

    def value(self, s):
        return self.both(s)[0]

    def deriv(self, s):
        return self.both(s)[1]

    def both(self, s):
        """((F, err), (R', err)) in one evaluation (memoised per scale)."""
        out = self._memo.get(s)
        if out is None:
            if self.FUSE and self.law == 0 and not self.qsin and self.taylor_ok():
                k0, k1 = self._cells(s, s)
                if k1 - k0 > self.CELLS_FIRST:
                    # Normal MSQE off centre, many cells: R'' and R''' from the same cell pass
                    # (the branch and bound's curvature bound then needs no other point)
                    self.n_eval += 1
                    out, cp = self._normal_msqe_all(s)
                    self._memo[s] = out
                    self._memo.setdefault(("c", s), cp)
                    return out
            out = self._memo[s] = self._both(s)
        return out

    CELLS_FIRST = 16
    """Normal MSQE off centre: with at most ``CELLS_FIRST + 1`` cells in the window the interval
    bound of the cells is tried before the Taylor bound of R''."""

    FUSE = True
    """Normal MSQE off centre with more than 21 cells in the window: value, slope, R'' and R''' in
    one pass (:meth:`_normal_msqe_all`), and the branch and bound's curvature bound from the ends
    of each piece (:meth:`taylor_ends`)."""

    def _both(self, s):
        self.n_eval += 1
        if self.law == 1:
            if self.qsin:
                return self._laplace_qsin(s)
            if self.lap_geo() and self._geo_trusted(s):
                # off centre, more than 16 points: the geometric-series closed form, O(1) whatever
                # the bit width (the cell sums below are O(points)); value and slope from one
                # forward-mode pass (its value part is the float pass's, bit for bit: 2,000 scales)
                # (_lap_msqe_vd: the same dual pass written out on floats, bit-identical, ~4x faster)
                F, T = nc._Dual(0.0, 0.0), nc._Dual(0.0, 0.0)
                F.v, F.d, T.d = _lap_msqe_vd(self.m, self.relu, self.r_b, self.r_t, float(s))
                # the errors of LaplaceCurve.value and .deriv; the slope's with (4 + |m|) |F|/s instead of
                # 4 |F|/s: the forward-mode terms of the mode's offset q = m/s carry dq/ds = -m/s^2 (against
                # mpmath: LaplaceCurve's 1e-12 (4 |F|/s + |T'|) was exceeded 19x at m = 1000, 16-20 bits;
                # session lapoff)
                # value: 1e-13 + 1e-15 |m| of F (the mode's offset m/s rounds to eps |m| in the exponents: 5x
                # the flat 1e-13 seen at m = 1e4); slope: (4 + 4 |m|) (1.2x the (4 + |m|) seen at m = 1e4, 24 bits)
                am = abs(self.m)
                return (F.v, (1e-13 + 1e-15 * am) * abs(F.v)), \
                    (F.d, 1e-12 * ((4.0 + 4.0 * am) * abs(F.v) / s + abs(T.d)))
            if self.lap_geo() and s <= self.GEO_S_MAX and 2.0 * self.LAP_WINDOW / s > 2e5:
                # the mode within rounding of a rounding boundary at 18+ bits (e.g. m/s = 20560312.5,
                # Laplace(10, 1), 24 bits unsigned): the cell sums would take 1.2e8 cells (minutes). The
                # closed form's value is right there (only its slope takes the wrong branch); the slope
                # is then only bounded, |R'| = 2 |E[K (xi - K s)]| <= 2 sqrt(E[K^2] F) with
                # |K| <= |xi|/s + 1/2 (the piece is bisected on, the next point off the boundary)
                Fv = self._lap._curve(float(s))[0]
                eF = (1e-13 + 1e-15 * abs(self.m)) * abs(Fv)  # as above
                m2 = 2.0 + self.m * self.m
                gb = 2.0 * (math.sqrt(m2) / s + 0.5) * math.sqrt(abs(Fv) + eF) * (1 + 1e-12)
                return (Fv, eF), (0.0, gb)
            return self._laplace_msqe(s)
        return self._normal_qsin(s) if self.qsin else self._normal_msqe(s)

    # Laplace(m, 1): int_alpha^beta (t - c)^j p(t) dt, j = 0, 1, 2, split at m; left of m from
    # L_j(x) = int_{-inf}^x (t - c)^j e^{t - m}/2 = e^{x - m}/2 (1; u - 1; u^2 - 2u + 2), right of m from
    # R_j(x) = int_x^inf (t - c)^j e^{m - t}/2 = e^{m - x}/2 (1; u + 1; u^2 + 2u + 2), u = x - c.
    # Also (for the error model of _laplace_msqe) X = sum over the finite ends x != m of (|e_0| + |e_1| + |e_2|)
    # |x - m| (the exponent x - m rounds to eps/2 |x - m|: each such term's relative error) and
    # Pe = p(alpha) |alpha| + p(beta) |beta| (the ends' own rounding, for the slope).
    def _lap_moments(self, alpha, beta, c):
        m = self.m
        M0 = M1 = M2 = A = X = Pe = 0.0
        if alpha < m:
            b = min(beta, m)
            eb = 0.5 * math.exp(b - m)
            ub = b - c
            l0, l1, l2 = eb, eb * (ub - 1.0), eb * (ub * ub - 2.0 * ub + 2.0)
            if b < m:
                X = (l0 + abs(l1) + l2) * (m - b)
                Pe = eb * abs(b)
            if alpha > -math.inf:
                ea = 0.5 * math.exp(alpha - m)
                ua = alpha - c
                a0, a1, a2 = ea, ea * (ua - 1.0), ea * (ua * ua - 2.0 * ua + 2.0)
                X += (a0 + abs(a1) + a2) * (m - alpha)
                Pe += ea * abs(alpha)
            else:
                a0 = a1 = a2 = 0.0
            M0, M1, M2 = l0 - a0, l1 - a1, l2 - a2
            A = abs(l0) + abs(a0) + abs(l1) + abs(a1) + abs(l2) + abs(a2)
        if beta > m:
            a = max(alpha, m)
            ea = 0.5 * math.exp(m - a)
            ua = a - c
            r0, r1, r2 = ea, ea * (ua + 1.0), ea * (ua * ua + 2.0 * ua + 2.0)
            if a > m:
                X += (r0 + abs(r1) + r2) * (a - m)
                Pe += ea * abs(a)
            if beta < math.inf:
                eb = 0.5 * math.exp(m - beta)
                ub = beta - c
                b0, b1, b2 = eb, eb * (ub + 1.0), eb * (ub * ub + 2.0 * ub + 2.0)
                X += (b0 + abs(b1) + b2) * (beta - m)
                Pe += eb * abs(beta)
            else:
                b0 = b1 = b2 = 0.0
            M0, M1, M2 = M0 + r0 - b0, M1 + r1 - b1, M2 + r2 - b2
            A += abs(r0) + abs(b0) + abs(r1) + abs(b1) + abs(r2) + abs(b2)
        return M0, M1, M2, A, X, Pe

    GEO_S_MAX = 16.0
    """Largest scale (standard units) at which the geometric-series closed form's value and slope
    are trusted at their stated 1e-13 / 1e-12: its rounding error grows like ``eps e^(s/4)``
    (measured against the cell sums: 2e-15 at s = 24, 7e-14 at 30, 8e-11..4e-10 at 60; review of
    2026-11-30 night, docs/audit.md finding 11, where far off-centre 5-6-bit grids drove the search to
    s ~ |m| and a value wrong by 1e114 was certified)."""

    def _geo_trusted(self, s):
        """The closed form may be used at ``s``: ``s <= GEO_S_MAX``, and the mode is not within
        rounding of a rounding boundary (``m/s`` a half-integer: there the forward-mode slope takes
        the wrong branch; the value is right)."""
        if s > self.GEO_S_MAX:
            return False
        q = self.m / s
        return abs(abs(q - math.floor(q + 0.5)) - 0.5) > 1e-12 * (abs(q) + 1.0)

    LAP_WINDOW = 60.0
    """Laplace MSQE cell sums with more than 16 points off centre (:meth:`lap_geo`; there only at
    scales where the closed form is not trusted, e.g. ``s > GEO_S_MAX``): the interior cells entirely
    beyond ``|x - m| >= LAP_WINDOW`` are left out (mass ``e^{-60} = 8.8e-27``), their contribution
    bounded: ``|x - Q(x)| <= s/2`` there, so ``F`` loses at most ``s^2/4 e^{-Z}`` and ``|R'|`` at most
    ``kmax s e^{-Z}`` (at 18 bits unsigned every such evaluation summed 262,144 cells: 13 s)."""

    def _laplace_msqe(self, s):
        r_a, r_t = self.r_a, self.r_t
        F = G = absF = absG = 0.0
        ks = range(r_a, r_t + 1)
        fd = gd = 0.0
        if self.lap_geo():
            Z = self.LAP_WINDOW
            k0 = max(r_a, int(math.floor((self.m - Z) / s - 0.5)) - 1)
            k1 = min(r_t, int(math.ceil((self.m + Z) / s + 0.5)) + 1)
            if k1 - k0 + 2 < r_t - r_a:
                ks = sorted({r_a, r_t} | set(range(k0, k1 + 1)))
                ez = math.exp(-Z) * 1.01
                fd = 0.25 * s * s * ez
                gd = max(r_t, -r_a) * s * ez
        lo0 = 0.0 if self.relu else -math.inf
        # the rounding of the cell centres, the ends and the exponents (lapverr; docs/optimum_lowbit.md):
        # xF, xG: the exponents' terms (X of _lap_moments); cF, cG: the centres c_k = fl(k s), off by eps/2 |c_k|,
        # dF/dc_k = -2 M1_k, dR'/dc_k = 2 k M0_k (with the moments' own error 1e-14 A_k); bG: the ends
        # x = fl((k -+ 1/2) s), off by eps/2 |x|, shared by two cells: F's first-order change cancels there,
        # R''s is -(2k + 1) s p(x)
        xF = xG = cF = cG = bG = 0.0
        for k in ks:
            lo = lo0 if k == r_a else (k - 0.5) * s
            hi = math.inf if k == r_t else (k + 0.5) * s
            c = k * s
            M0, M1, M2, A, X, Pe = self._lap_moments(lo, hi, c)
            F += M2
            absF += A
            xF += X
            ac = abs(c)
            cF += ac * (abs(M1) + 1e-14 * A)
            bG += (2.0 * abs(k) + 1.0) * Pe
            if k:
                G -= 2.0 * k * M1
                absG += 2.0 * abs(k) * A
                xG += abs(k) * X
                cG += abs(k) * ac * (abs(M0) + 1e-14 * A)
        # per term (exp, the polynomial in u = x - c, the products) <= 40 u of its size, the sum of the 4 n terms
        # <= 4 n u of their sizes (u = 2^-53 <= 1.12e-16): 1e-14 covers n <= 12 cells, and 1e-13 (slope) n <= 200
        n4 = 4.0 * len(ks) + 40.0
        errF = max(1e-14, 1.12e-16 * n4) * absF + 2.25e-16 * (xF + 2.0 * cF) + fd + 1e-300
        errG = max(1e-13, 1.12e-16 * n4) * absG + 2.25e-16 * (2.0 * xG + 2.0 * cG + s * bG) + gd + 1e-300
        return (F, errF), (G, errG)

    def _laplace_qsin(self, s):
        m, relu = self.m, self.relu
        w = 2.0 * _PI / s
        a, b = self.r_a * s, self.r_t * s
        # E = int_a^b e^{iwx} p, X = int_a^b x e^{iwx} p; e^{iwx} = 1 at the grid points a, b
        E = X = 0.0
        absE = 0.0
        # the sharper error (ripple curves, more than LAP_RIPPLE_QSIN points): each end term
        # e (x/lam - 1/lam^2) (and e/lam) has the size |e| ((1 + |x|)/|lam| + 1/|lam|^2) and a relative
        # error of at most 1e-14 (1 + |x| + |m|) (the exponent x - m rounds to eps max(|x|, |m|)), plus
        # 1e-14 w |m| at the mode (the phase w m rounds to ~3 eps w |m|; e^{iwx} = 1 exactly at a, b)
        sharp = 0.0
        # ... and E alone (the value), whose terms are e/lam: |e|/|lam| with the relative error of e, 1e-14 (1 + |x|
        # + |m|) at the grid ends and 1e-14 at the mode of a ripple curve, where the exponent is exactly 0 and the
        # phase reduced by _phase to a few ulps (the X-sized factor (1 + |x|)/|lam| and the |m| made the value's
        # error 3e-9 of F at Laplace(1e4, 1), 21 bits, where the dips differ by 6e-9)
        sharpE = 0.0
        rip = self.ripple()
        # ripple curves: the mode's phase e^{2 pi i m/s} reduced exactly (:func:`_phase`: a few ulps)
        em = _phase(m, s) if rip else complex(math.cos(w * m), math.sin(w * m))
        wm = 0.0 if rip else w * abs(m)
        if a < m:
            lam = complex(1.0, w)
            top = min(b, m)
            et = 0.5 * math.exp(top - m) * (1.0 if top == b else em)
            ea = 0.5 * math.exp(a - m)
            E += (et - ea) / lam
            X += et * (top / lam - 1.0 / lam**2) - ea * (a / lam - 1.0 / lam**2)
            absE += (abs(et) + abs(ea)) * (1.0 + abs(top) + abs(a))
            il = 1.0 / abs(lam)
            sharp += abs(et) * (il * (1.0 + abs(top)) + il * il) * (1.0 + abs(top) + abs(m) + (0.0 if top == b else wm))
            sharp += abs(ea) * (il * (1.0 + abs(a)) + il * il) * (1.0 + abs(a) + abs(m))
            sharpE += abs(et) * il * (1.0 if top != b and rip else 1.0 + abs(top) + abs(m)) + abs(ea) * il * (1.0 + abs(a) + abs(m))
        if b > m:
            mu = complex(-1.0, w)
            bot = max(a, m)
            eb = 0.5 * math.exp(m - b)
            ebot = 0.5 * math.exp(m - bot) * (1.0 if bot == a else em)
            E += (eb - ebot) / mu
            X += eb * (b / mu - 1.0 / mu**2) - ebot * (bot / mu - 1.0 / mu**2)
            absE += (abs(eb) + abs(ebot)) * (1.0 + abs(b) + abs(bot))
            il = 1.0 / abs(mu)
            sharp += abs(eb) * (il * (1.0 + abs(b)) + il * il) * (1.0 + abs(b) + abs(m))
            sharpE += abs(eb) * il * (1.0 + abs(b) + abs(m)) \
                + abs(ebot) * il * (1.0 if bot != a and rip else 1.0 + abs(bot) + abs(m))
            sharp += abs(ebot) * (il * (1.0 + abs(bot)) + il * il) \
                * (1.0 + abs(bot) + abs(m) + (0.0 if bot == a else wm))
        P = nc._lmass(-m if relu else a - m, b - m)
        C = E.real if isinstance(E, complex) else E
        S1 = X.imag if isinstance(X, complex) else 0.0
        Tb, Ta, tpb, tpa, rb_, ra_, dPe = self._lap_tails(a, b)
        T = Tb + Ta
        tp = tpb + tpa
        F = 0.5 * s * s * (P - C) + _PI2 * T
        G = s * (P - C) - _PI * S1 + _PI2 * tp
        errE = 1e-14 * (min(absE * (1.0 + w), sharp) if rip else absE * (1.0 + w)) + 1e-300
        errE0 = min(errE, 1e-14 * sharpE + 1e-300) if rip else errE
        errF = 0.5 * s * s * (errE0 + 1e-15 * (P + abs(C)) + dPe) + _PI2 * (1e-14 * T + rb_ * Tb + ra_ * Ta)
        errG = (s + _PI) * errE + 1e-13 * (s * (P + abs(C)) + _PI * abs(S1) + _PI2 * abs(tp)) \
            + s * dPe + _PI2 * (rb_ * abs(tpb) + ra_ * abs(tpa))
        return (F, errF), (G, errG)

    def _lap_tails(self, a, b):
        """The Laplace law's clipping terms at the grid ends ``a = r_a s``, ``b = r_t s`` (standard units),
        shared by :meth:`_laplace_qsin` and :meth:`smooth_lower`: ``(Tb, Ta, tpb, tpa, rb, ra, dPe)`` with
        ``Tb = E[(xi - b)^2; xi > b]``, ``Ta`` the same below ``a`` (0 for ReLU laws), ``tpb + tpa`` the
        derivative of ``Tb + Ta`` in ``s``, and their rounding: the grid ends ``b = fl(r_t s)`` (off by
        ``eps/2 |b|``) and the exponents ``b - m`` (``eps/2 |b - m|``) move the tails (log-derivative
        ``<= 1`` in ``b``) and ``tpb`` (``<= 2``) relatively by ``rb = 2.4e-16 (|b| + |b - m|)`` (likewise
        ``ra`` at ``a``), and ``P(a < xi < b)`` absolutely by ``dPe = ra p(a) + rb p(b)`` (review of
        2026-11-30 late night: the flat ``1e-14 pi^2 T`` alone was exceeded 4.3x at m = 1666, 21 bits, and
        ``smooth_lower``'s H was 6e-14 above the curve at m = 2133)."""
        m, relu, lap = self.m, self.relu, self._lap
        Tb = lap._tail_sq(b, below=False)
        Ta = 0.0 if relu else lap._tail_sq(a, below=True)
        up = 0.5 * math.exp(-(b - m)) if b >= m else (m - b) + 0.5 * math.exp(-(m - b))
        tpb = -2.0 * self.r_t * up
        tpa = 0.0
        if not relu:
            dn = 0.5 * math.exp(a - m) if a <= m else (a - m) + 0.5 * math.exp(-(a - m))
            tpa = 2.0 * self.r_a * dn
        rb, ra = 2.4e-16 * (abs(b) + abs(b - m)), 2.4e-16 * (abs(a) + abs(a - m))
        dPe = 0.5 * (ra * math.exp(-abs(a - m)) + rb * math.exp(-abs(b - m)))
        return Tb, Ta, tpb, tpa, rb, ra, dPe

    def _normal_msqe(self, s):
        """((F, err), (R', err)) of the Normal MSQE curve, cell by cell."""
        m, r_a, r_t = self.m, self.r_a, self.r_t
        F = G = absF = absG = 0.0
        cF = cG = bG = 0.0  # the rounding of the centres k s and of the ends (as in _laplace_msqe; lapverr)
        pdf, q = nc._pdf, nc._q
        # cells k = r_a..r_t; boundaries (k +- 1/2) s; the lowest cell starts at -inf (0 for ReLU)
        k0, k1 = self._cells(s, s)
        lo = (0.0 if self.relu else -math.inf) if k0 == r_a else (k0 - 0.5) * s
        # each boundary is shared by two cells: its density and tail probabilities (the values
        # nc._mass would compute) are carried over to the next cell instead of computed again
        pb = qb_pos = qb_neg = None
        for k in range(k0, k1 + 1):
            hi = math.inf if k == r_t else (k + 0.5) * s
            za, zb = lo - m, hi - m
            qa_pos, qa_neg = qb_pos, qb_neg
            qb_pos = qb_neg = None
            if za < zb:  # = nc._mass(za, zb)
                if za >= 0.0:
                    qb_pos = q(zb)
                    M0 = (q(za) if qa_pos is None else qa_pos) - qb_pos
                elif zb <= 0.0:
                    qb_neg = q(-zb)
                    M0 = qb_neg - (q(-za) if qa_neg is None else qa_neg)
                else:
                    qb_pos = q(zb)
                    M0 = 1.0 - (q(-za) if qa_neg is None else qa_neg) - qb_pos
            else:
                M0 = 0.0
            pa = (0.0 if math.isinf(za) else pdf(za)) if pb is None else pb
            pb = 0.0 if math.isinf(zb) else pdf(zb)
            M1 = pa - pb
            M2 = M0 + (0.0 if math.isinf(za) else za * pa) - (0.0 if math.isinf(zb) else zb * pb)
            c = k * s
            d = m - c
            t2, t1, t0 = M2, 2.0 * d * M1, d * d * M0
            F += t2 + t1 + t0
            absF += abs(t2) + abs(t1) + abs(t0)
            e1 = M1 + d * M0  # E[xi - c; cell]
            cF += abs(c) * (abs(e1) + 1e-14 * (abs(M1) + abs(d * M0)))
            if k:
                G += -2.0 * k * e1
                absG += 2.0 * abs(k) * (abs(M1) + abs(d * M0))
                cG += abs(k) * abs(c) * abs(M0)
            if hi < math.inf:
                bG += (2.0 * abs(k) + 1.0) * pb * abs(hi)
            lo = hi
        del q
        # the cells left out (all of them outside |x - m| < Z): F adds at most s^2/4 P(drop) +
        # E[(x - m)^2; drop] (|x - Q(x)| <= max(s/2, |x - m|) there), |R'| at most
        # 2 kmax (s/2 P(drop) + E[|x - m|; drop])
        fd, gd = self._dropped(s, k0, k1)
        return (F, 1e-14 * absF + 4.5e-16 * cF + fd + 1e-300), \
            (G, 1e-13 * absG + 2.25e-16 * (2.0 * cG + s * bG) + gd + 1e-300)

    def _dropped(self, s, k0, k1):
        """Bounds (F, |R'|) of the MSQE contribution of the cells outside ``k0..k1`` (Normal)."""
        if k0 == self.r_a and k1 == self.r_t:
            return 0.0, 0.0
        Z = self.WINDOW
        pz, qz = nc._pdf(Z), nc._q(Z)
        e2 = 2.0 * (Z * pz + qz)  # E[y^2; |y| > Z]
        e1 = 2.0 * pz  # E[|y|; |y| > Z]
        kmax = max(self.r_t, -self.r_a)
        return (0.25 * s * s * 2.0 * qz + e2) * 1.01, 2.0 * kmax * (s * qz + e1) * 1.01

    def _normal_msqe_all(self, s):
        """(:meth:`_normal_msqe` (s), :meth:`_normal_msqe_c` (s)) in one pass over the cells, each
        bit-identical to the separate sums (the same terms in the same order; ``nc._pdf`` and
        ``nc._q`` inlined, and ``pdf(+-inf) = 0`` without the ``isinf`` tests)."""
        m, r_a, r_t = self.m, self.r_a, self.r_t
        F = G = absF = absG = 0.0
        cF = cG = bG = 0.0
        ek2 = S2 = S3 = A3 = 0.0
        exp, erfc, C, R2 = math.exp, math.erfc, nc._INV_SQRT2PI, nc._SQRT2
        ninf = -math.inf
        k0, k1 = self._cells(s, s)
        lo = (0.0 if self.relu else ninf) if k0 == r_a else (k0 - 0.5) * s
        za = lo - m
        pb = exp(-0.5 * za * za) * C if abs(za) < 40 else 0.0  # the first cell's lower boundary
        qb_pos = qb_neg = None
        for k in range(k0, k1 + 1):
            last = k == r_t
            hi = math.inf if last else (k + 0.5) * s
            zb = hi - m
            qa_pos, qa_neg = qb_pos, qb_neg
            qb_pos = qb_neg = None
            if za < zb:
                if za >= 0.0:
                    qb_pos = 0.5 * erfc(zb / R2)
                    M0 = (0.5 * erfc(za / R2) if qa_pos is None else qa_pos) - qb_pos
                elif zb <= 0.0:
                    qb_neg = 0.5 * erfc(-zb / R2)
                    M0 = qb_neg - (0.5 * erfc(-za / R2) if qa_neg is None else qa_neg)
                else:
                    qb_pos = 0.5 * erfc(zb / R2)
                    M0 = 1.0 - (0.5 * erfc(-za / R2) if qa_neg is None else qa_neg) - qb_pos
                ek2 += k * k * M0
            else:
                M0 = 0.0
            pa = pb
            pb = exp(-0.5 * zb * zb) * C if abs(zb) < 40 else 0.0
            M1 = pa - pb
            M2 = M0 + (0.0 if za == ninf else za * pa) - (0.0 if last else zb * pb)
            c = k * s
            d = m - c
            t2, t1, t0 = M2, 2.0 * d * M1, d * d * M0
            F += t2 + t1 + t0
            absF += abs(t2) + abs(t1) + abs(t0)
            e1 = M1 + d * M0  # E[xi - c; cell]
            cF += abs(c) * (abs(e1) + 1e-14 * (abs(M1) + abs(d * M0)))
            if k:
                G += -2.0 * k * e1
                absG += 2.0 * abs(k) * (abs(M1) + abs(d * M0))
                cG += abs(k) * abs(c) * abs(M0)
            if hi < math.inf:
                bG += (2.0 * abs(k) + 1.0) * pb * abs(hi)
            if not last:  # the boundary c s, c = k + 1/2
                c = k + 0.5
                S2 += c * c * pb
                t = c * c * c * zb * pb
                S3 += t
                A3 += abs(t)
            lo = hi
            za = zb
        fd, gd = self._dropped(s, k0, k1)
        return ((F, 1e-14 * absF + 4.5e-16 * cF + fd + 1e-300),
                (G, 1e-13 * absG + 2.25e-16 * (2.0 * cG + s * bG) + gd + 1e-300)), \
            self._msqe_c_finish(s, k0, k1, ek2, S2, S3, A3)

    def _qsin_window(self, s):
        """Normal law, QSin: ``w = 2 pi / s``, the window ends ``a = r_a s``, ``b = r_t s`` (``za``,
        ``zb`` standardized) and ``E = int_a^b e^{i w x} p(x) dx`` in closed form (Faddeeva function)
        with its error bound."""
        m = self.m
        w = 2.0 * _PI / s
        a, b = self.r_a * s, self.r_t * s
        za, zb = a - m, b - m
        wofz = self._wofz
        ew = math.exp(-0.5 * w * w)
        cm = complex(math.cos(w * m), math.sin(w * m)) * ew

        def Fh(z):
            if z <= 0.0:
                return 0.5 * math.exp(-0.5 * z * z) * complex(wofz(complex(-w, -z) / _SQ2)), 0.0
            return -0.5 * math.exp(-0.5 * z * z) * complex(wofz(complex(w, z) / _SQ2)), 1.0

        fb, cb = Fh(zb)
        fa, ca = Fh(za)
        E = (fb - fa) + (cb - ca) * cm
        # (the phase w m = fl(fl(2 pi)/s) m is off by 3 eps/2 |w m| (lapverr): up to 2e-12 at 10 bits, m/s ~ 1e3)
        errE = 1e-12 * (abs(fb) + abs(fa) + abs(cb - ca) * ew) + 3.4e-16 * abs(w * m) * abs(cb - ca) * ew + 1e-300
        return w, a, b, za, zb, E, errE

    def _normal_qsin(self, s):
        m, relu = self.m, self.relu
        w, a, b, za, zb, E, errE = self._qsin_window(s)
        P = self.mass(za, zb)
        C = E.real
        cur = self._nrm
        T = nc._tail2(zb) + (0.0 if relu else nc._tail2(-za))
        F = 0.5 * s * s * (P - C) + _PI2 * T
        # the grid ends b = fl(r_t s), zb = fl(b - m) (likewise a) are off by eps/2 (|b| + |zb|): the clipped part
        # moves by |dT/db| = 2 E[xi - b; xi > b] and tp by 2 r_t P(xi > b) times that (the window's part,
        # s^2/2 (1 - cos w x) p, vanishes at a grid point: second order; lapverr)
        t1b = nc._tail1(zb)
        db = 1.13e-16 * (abs(b) + abs(zb))
        eT, eTp = 2.0 * t1b * db, 2.0 * self.r_t * nc._q(zb) * db
        if not relu:
            da = 1.13e-16 * (abs(a) + abs(za))
            eT += 2.0 * nc._tail1(-za) * da
            eTp += 2.0 * abs(self.r_b) * nc._q(-za) * da
        errF = 0.5 * s * s * (errE + 1e-15 * (P + abs(C))) + 1e-15 * _PI2 * T + _PI2 * eT
        # int_a^b x sin(w x) p = Im[(i w + m) E] = w C + m Im E
        S1 = w * C + m * E.imag
        tp = -2.0 * self.r_t * t1b
        if not relu:
            tp += 2.0 * self.r_b * nc._tail1(-za)
        G = s * (P - C) - _PI * S1 + _PI2 * tp
        errG = (s + _PI * (w + abs(m))) * errE + 1e-13 * (s * (P + abs(C)) + _PI * (abs(w * C) + abs(m * E.imag))
                                                          + _PI2 * abs(tp)) + _PI2 * eTp
        del cur
        return (F, errF), (G, errG)

    WINDOW = 10.0
    """Normal laws: cells and pieces beyond ``|x - m| >= WINDOW`` (density <= 7.7e-23) are left out
    of the cell sums, their contribution bounded in closed form (:meth:`_dropped`: ~1.6e-21 to F).
    10 since off20c (12 before, density 2e-32): 17 % fewer cells per evaluation at 8 bits, the same
    scales, risks and lower bounds on the 1,200 cases of the A/B grid up to 10 bits, scale_error
    up to 4e-9 (relative) larger on 49 of them (the slope's error bound, through the sign-change
    radius)."""

    def _cells(self, s1, s2):
        """(k0, k1): the cells ``k`` (of ``r_a..r_t``) that meet ``|x - m| < Z`` (``Z = WINDOW``)
        for some ``s`` in ``[s1, s2]``, one cell of margin on each side; every cell for a Laplace
        law."""
        if self.law != 0:
            return self.r_a, self.r_t
        m, Z = self.m, self.WINDOW
        # the window in units of s, over every s in [s1, s2]
        lo = (m - Z) / s2 if m - Z >= 0 else (m - Z) / s1
        hi = (m + Z) / s1 if m + Z >= 0 else (m + Z) / s2
        k0 = max(self.r_a, min(self.r_t, int(math.floor(lo - 0.5)) - 1))
        k1 = min(self.r_t, max(self.r_a, int(math.ceil(hi + 0.5)) + 1))
        return k0, k1

    # ----- rigorous bounds over [s1, s2] ---------------------------------------------------
    def _p_range(self, x0, x1):
        """(min, max) of p(x - m) over x in [x0, x1] (arrays)."""
        m = self.m
        p0, p1 = self.pdf_arr(x0 - m), self.pdf_arr(x1 - m)
        pmin = np.minimum(p0, p1)
        pmax = np.where((x0 <= m) & (m <= x1), self.pdf(0.0), np.maximum(p0, p1))
        return pmin * (1 - 1e-14), pmax * (1 + 1e-14)

    def _t2_lower(self, s2):
        """T''(s) >= its value at s2 (it decreases with s)."""
        t2 = 2.0 * self.r_t * self.r_t * self.q_above(self.r_t * s2)
        if not self.relu and self.r_b < 0:
            t2 += 2.0 * self.r_b * self.r_b * self.q_below(self.r_b * s2)
        return t2 * (1 - 1e-13)

    def curvature_lower(self, s1, s2):
        """Rigorous lower bound of R''(s), s in [s1, s2] (no curve factor): the pointwise-Taylor
        bound for a Normal law off centre, else the interval bound of the cells."""
        if self.taylor_ok():
            # MSQE with at most 21 cells in the window (4-6 bits): the interval bound of the cells
            # first (cheap there, and stronger on wide pieces: N(50, 1), 4 bits, 77 bounds against
            # 115 with the Taylor bound alone), the Taylor bound only where it fails on a piece
            # narrower than 0.2 % (on wider ones it cost ~2x time for no fewer bounds). QSin: the
            # Taylor bound alone (the cells' bound costs 0.1-0.5 ms per piece and saved a few pieces
            # only: N(50, 1), 6 bits, 4.1 -> 1.4 ms)
            if not self.qsin:
                k0, k1 = self._cells(s1, s2)
                if k1 - k0 <= self.CELLS_FIRST:
                    c = self._curvature_cells(s1, s2)
                    if c > 0.0 or s2 - s1 > 2e-3 * s1:
                        return c
                    return max(c, self.curvature_taylor(s1, s2))
            return self.curvature_taylor(s1, s2)
        return self._curvature_cells(s1, s2)

    def _curvature_cells(self, s1, s2):
        """Rigorous lower bound of R''(s), s in [s1, s2], from interval bounds of the cell terms."""
        m, r_a, r_t = self.m, self.r_a, self.r_t
        if not self.qsin:
            # 2 E[K^2] at s2
            ek2 = 0.0
            k0, k1 = self._cells(s2, s2)
            lo = (0.0 if self.relu else -math.inf) if k0 == r_a else (k0 - 0.5) * s2
            for k in range(k0, k1 + 1):
                hi = math.inf if k == r_t else (k + 0.5) * s2
                if k:
                    ek2 += k * k * self.mass(lo - m, hi - m)
                lo = hi
            # the boundaries (j + 1/2) s, s in [s1, s2], where the density is not 0 in float64
            k0, k1 = self._cells(s1, s2)
            j = np.arange(k0, min(k1 + 1, r_t), dtype=float) + 0.5
            c1, c2 = j * s1, j * s2
            _, pmax = self._p_range(np.minimum(c1, c2), np.maximum(c1, c2))
            sub = 2.0 * s2 * float(np.sum(j * j * pmax))
            if k0 > r_a or k1 + 1 < r_t:  # boundaries left out: |x - m| >= WINDOW, p <= pdf(WINDOW)
                kmax = max(r_t, -r_a) + 1.0
                sub += 2.0 * s2 * (r_t - r_a) * kmax * kmax * nc._pdf(self.WINDOW) * 1.01
            return 2.0 * ek2 * (1 - 1e-14) - sub * (1 + 1e-14)
        U = max(r_t, -r_a)
        n = 2
        while n < 64 and s2 / (2 * n) > 0.04:
            n *= 2
        edges, ip, im = _h_table(n, U)
        total = 0.0
        for sign, top in ((1.0, r_t), (-1.0, -r_a)):
            if top <= 0:
                continue
            npc = 2 * n * top
            i0, i1 = 0, npc
            if self.law == 0:
                # pieces whose x = s u meets |x - m| < WINDOW for some s in [s1, s2]; the others
                # (p <= pdf(WINDOW) there) add at least -s2 pdf(WINDOW) I- each
                mm, Z = sign * self.m, self.WINDOW
                i0 = min(npc, max(0, int(math.floor(2 * n * (mm - Z) / s2)) - 1))
                i1 = max(i0, min(npc, int(math.ceil(2 * n * (mm + Z) / s1)) + 1))
                if i0 > 0 or i1 < npc:
                    total -= s2 * nc._pdf(self.WINDOW) * float(np.sum(im[:npc])) * 1.01
            u0, u1 = edges[i0:i1], edges[i0 + 1:i1 + 1]
            if sign > 0:
                x0, x1 = s1 * u0, s2 * u1
            else:
                x0, x1 = -s2 * u1, -s1 * u0
            pmin, pmax = self._p_range(x0, x1)
            X = pmin * ip[i0:i1] - pmax * im[i0:i1]
            total += float(np.sum(np.where(X >= 0.0, s1 * X, s2 * X)))
        return total - 1e-13 * abs(total) + _PI2 * self._t2_lower(s2)

    # ----- R'' and R''' at a point, |R''''| over an interval (Normal law, off centre) ----------
    # Off centre the interval bounds of R'' above lose O((m/s)^2 (s2 - s1)/s) against R'' (two
    # large terms that nearly cancel are bounded separately) and the QSin bound also loses
    # O(h(pi m/s) |p'| s/n) on its u-pieces even on a point.  Here R'' and R''' are exact at the
    # midpoint u of [s1, s2] (closed forms, cancellation kept) and only the fourth derivative is
    # bounded crudely: R''(s) >= R''(u) - |R'''(u)| h - M4 h^2/2, h = (s2 - s1)/2.
    #
    # QSin: differentiating R'' = int_a^b h(pi x/s) p dx + pi^2 T'' once more, the boundary terms
    # (r h(pi r) p(r s) = 2 pi^2 r^3 p(r s) at a = r_a s and b = r_t s) cancel pi^2 T''' exactly, and
    # h'(t) = -4 t^2 sin 2t gives  R''' = (4 pi^3/s^4) int_a^b x^3 sin(w x) p dx,  w = 2 pi/s;  once
    # more (sin(w x) = 0 at a, b)  R'''' = -(16 pi^3/s^5) int x^3 sin(wx) p - (8 pi^4/s^6) int x^4 cos(wx) p,
    # so |R''''| <= (16 pi^3/s1^5) E|xi|^3 + (8 pi^4/s1^6) E[xi^4]  (no derivative of p).
    # With X_k = int_a^b x^k e^{iwx} p (Normal: x p = m p - p', e^{iwa} = e^{iwb} = 1):
    # X_{k+1} = (m + i w) X_k + k X_{k-1} - (b^k p(b) - a^k p(a)), and
    # int h(pi x/s) p = P - Re E - w Im X_1 + (w^2/2) Re X_2  (h = 1 - cos wx - wx sin wx + (wx)^2/2 cos wx).
    #
    # MSQE: R'' = 2 E[K^2] - 2 s sum_j c_j^2 p(c_j s),  c_j = j + 1/2 over the cell boundaries;
    # d E[K^2]/ds = -2 sum_j c_j^2 p(c_j s), so R''' = -6 sum_j c_j^2 p(c_j s) - 2 s sum_j c_j^3 p'(c_j s)
    # and R'''' = -8 sum_j c_j^3 p'(c_j s) - 2 s sum_j c_j^4 p''(c_j s), bounded with the extremes of
    # |p'| <= |z| phi(z), |p''| = |z^2 - 1| phi(z) <= (z^2 + 1) phi(z) over each boundary's range.

    TAYLOR = True
    """Use the pointwise-Taylor curvature bound for a Normal law off centre (|m| > 4)."""

    def taylor_ok(self):
        # Normal MSQE and QSin; Laplace QSin (its R''' and R'''' need no derivative of the density,
        # so the kink is harmless); Laplace MSQE (its R''' jumps *up* where a cell boundary crosses
        # the mode: R''''s delta has one sign, which keeps the Taylor bound valid, see _laplace_msqe_c)
        # (with more than 16 points only: at most 16 keep the interval bound of the cells, bit-identical)
        return self.TAYLOR and (self.law == 0 or self.qsin or self.lap_geo()) and abs(self.m) > 4.0

    LAP_MSQE = True
    """Laplace MSQE off centre (|m| > 4): the pointwise-Taylor curvature bound from the geometric
    sums of :meth:`_laplace_msqe_c`; and with more than 16 points on the support the value and slope
    from the geometric-series closed form of :class:`._normal_cert.LaplaceCurve` (O(1))."""

    def ripple(self):
        """A Laplace law off centre on many points: the curve ripples near s* (a dip per boundary
        crossing the mode, ~s^2/|m| apart; MSQE above 16 points, QSin above 512)."""
        return self.law == 1 and abs(self.m) > 4.0 and self.r_t - self.r_a > (LAP_RIPPLE_QSIN if self.qsin else 16)

    def smooth_lower(self, s1, s2):
        """Rigorous lower bound of F over ``[s1, s2]`` for a Laplace law, without the ripple: inside
        the grid's range ``[a, b] = [r_a s, r_t s]`` (a, b grid points) the error is ``s^2 saw(x/s)^2``
        (MSQE) or ``s^2 sin^2(pi x/s)`` (QSin), whose Fourier series ``1/12 + sum_n (-1)^n cos(2 pi n x/s)
        / (pi^2 n^2)`` (``(1 - cos(2 pi x/s))/2``) gives ``F = H(s) + s^2 sum_n c_n C_n``, ``H = gamma s^2
        P(a < xi < b) + tf T(s)`` smooth and ``C_n = int_a^b cos(w_n x) p``, ``w_n = 2 pi n/s``.
        Integrating by parts twice (``e^{i w_n a} = e^{i w_n b} = 1``: the first boundary term is
        imaginary; ``p'`` jumps by -1 at the mode and ``p'' = p`` elsewhere, so the second one gives
        ``C_n`` back): ``C_n = (p'(b) - p'(a) + cos(w_n m) [a < m < b]) / (w_n^2 + 1)`` exactly, and
        ``|C_n| <= K/w_n^2``, ``K = p(a) + p(b) + 1``, so ``F >= H(s) - rho K s^4`` with ``rho =
        zeta(4)/(4 pi^4) = 1/360`` (MSQE) or ``1/(8 pi^2)`` (QSin, n = 1 only).  ``H`` over the interval
        by its values and slopes at the ends and a lower bound of ``H''`` (:meth:`_lower_c`)."""
        m, r_t, r_a, relu = self.m, self.r_t, self.r_a, self.relu
        gam, tf = (0.5, _PI2) if self.qsin else (1.0 / 12.0, 1.0)
        rho = 1.0 / (8.0 * _PI2) if self.qsin else 1.0 / 360.0

        def pmax(x0, x1):  # max of p over [x0, x1]
            if x0 <= m <= x1:
                return 0.5
            return 0.5 * math.exp(-min(abs(x0 - m), abs(x1 - m)))

        def HG(s):
            b = r_t * s
            a = 0.0 if relu else r_a * s
            P = nc._lmass(a - m, b - m)
            # the clipping terms and the rounding of the ends (:meth:`_lap_tails`)
            Tb, Ta, tpb, tpa, rb_, ra_, dPe = self._lap_tails(a, b)
            dP = r_t * 0.5 * math.exp(-abs(b - m))
            if not relu:
                dP -= r_a * 0.5 * math.exp(-abs(a - m))
            h = gam * s * s * P + tf * (Tb + Ta)
            g1, g2, g3 = 2.0 * gam * s * P, gam * s * s * dP, tf * (tpb + tpa)
            eh = 1e-14 * h + tf * (rb_ * Tb + ra_ * Ta) + gam * s * s * dPe + 1e-300
            eg = 1e-13 * (abs(g1) + abs(g2) + abs(g3)) + tf * (rb_ * abs(tpb) + ra_ * abs(tpa)) \
                + 2.0 * gam * s * dPe + gam * s * s * (abs(r_t) * rb_ + abs(r_a) * ra_) + 1e-300
            return (h, eh), (g1 + g2 + g3, eg)

        pb = pmax(r_t * s1, r_t * s2) if r_t > 0 else 0.0
        if relu:
            pa = 0.5 * math.exp(-abs(m))  # a = 0
        else:
            pa = pmax(r_a * s2, r_a * s1) if r_a < 0 else 0.5 * math.exp(-abs(m))
        # H'' = gam (2 P + 4 s P' + s^2 P'') + tf T'', P' >= 0, P'' >= -(r_t^2 p(b) + r_a^2 p(a)), T'' at s2
        P1 = nc._lmass((0.0 if relu else r_a * s1) - m, r_t * s1 - m)
        ra2 = 0.0 if relu else float(r_a * r_a)
        c = gam * (2.0 * P1 * (1 - 1e-15) - s2 * s2 * (r_t * r_t * pb + ra2 * pa) * (1 + 1e-14)) \
            + tf * self._t2_lower(s2)
        c -= 1e-14 * abs(c)
        f1, g1 = HG(s1)
        f2, g2 = HG(s2)
        # |C_n| <= (1 + p(a) + p(b))/(w_n^2 + 1) (was 2 + p(a) + p(b) over w_n^2: the second integration
        # by parts gives int cos(w x) p'' = C_n itself (p'' = p off the mode), so C_n (1 + 1/w^2) =
        # (p'(b) - p'(a) + cos(w m) [a < m < b]) / w^2 exactly; session lapmsqe, tests against mpmath in
        # tests/test_optimum_laplace_geo.py)
        K = 1.0 + pa + pb
        return self._lower_c(c, s1, s2, f1, g1, f2, g2) - rho * K * s2**4 * (1 + 1e-12)

    def sqrt_lip_lower(self, s1, s2, f1, f2):
        """Lower bound of F over ``[s1, s2]`` (MSQE) from its values at the ends (``(F, err)``) and
        the Lipschitz bound of ``sqrt(F)``: ``R' = -2 E[K (xi - K s)]`` (``K`` the level of ``xi``; the
        error is continuous, so no boundary term), so by Cauchy-Schwarz ``|R'| <= 2 sqrt(E[K^2] F)``,
        and ``|K| <= |xi|/s + 1/2`` (rounding; clipping to a range holding 0 only lowers ``|K|``) gives
        ``E[K^2] <= (sqrt(E[xi^2])/s + 1/2)^2``, ``E[xi^2] <= m^2 + 2`` (Laplace(m, 1); the ReLU curve's
        continuous part has less): ``|d sqrt(F)/ds| <= L = sqrt(m^2 + 2)/s1 + 1/2`` on the piece. Strong
        where F is far above the threshold (the humps between the dips of a law far off centre, where
        ``sqrt(F) ~ |m - k s|`` has slope ~``k`` and the bound of R'' is very negative)."""
        L = (math.sqrt(self.m * self.m + 2.0) / s1 + 0.5) * (1 + 1e-12)
        a = math.sqrt(max(f1[0] - f1[1], 0.0))
        b = math.sqrt(max(f2[0] - f2[1], 0.0))
        Lw = L * (s2 - s1)
        v = max(0.5 * (a + b - Lw), max(a, b) - Lw)
        return v * v * (1 - 1e-12) if v > 0.0 else 0.0

    def dip_lower(self, s1, s2):
        """Rigorous lower bound of a Laplace law's MSQE curve F over ``[s1, s2]`` by the envelope of its dips
        (no evaluation of F): inside the grid's range ``[a, b]`` (a, b grid points) the error is the distance
        to the lattice ``s Z``, and for ``xi = m + Y``, Y standard Laplace, Poisson summation gives
        ``G(z, s) = E[d(z + Y, s Z)^2] = s^2/12 + (s^2/pi^2) sum_n cos(n phi) / (n^2 (1 + (2 pi n/s)^2))``
        (``phi = pi + 2 pi z/s``, z the mode's offset from the lattice), in closed form on ``[0, 2 pi]``
        (``sum cos(n phi)/n^2 = pi^2/6 - pi phi/2 + phi^2/4``, ``sum cos(n phi)/(1 + beta^2 n^2) = (pi/(2 beta))
        cosh((pi - phi)/beta)/sinh(pi/beta) - 1/2``, ``beta = 2 pi/s``); its derivative in phi is
        ``(s^2/(2 pi^2)) (pi sinh(psi/beta)/sinh(pi/beta) - psi)``, ``psi = pi - phi``, <= 0 for psi in [0, pi]
        (sinh convex: below its chord), so the minimum over every offset is at z = 0 (the mode on a lattice
        point): ``G(0, s) = 2 - s/sinh(s/2)``, increasing in s. Hence ``F(s) >= G(0, s) - (s^2/4) P(xi outside
        [a, b]) + T(s)`` (outside, ``d <= s/2``; ``T`` the clipping part, decreasing in s), over the interval
        ``>= G(0, s1) - (s2^2/4) P_out(s1) + T(s2)``. A ripple curve's dips at a few law scales (far off
        centre, e.g. Laplace(1e5, 1) at 16 bits, s* = 3.05) are ~1e-4 relative apart, and there neither the
        lattice bound (worst phase, no clipping) nor :meth:`smooth_lower` (remainder ~s^4/180) excludes them."""
        if s1 < 1e-4:
            return -math.inf
        x = 0.5 * s1
        if x < 1.0:  # 2 (sinh x - x)/sinh x, sinh x - x = x^3/3! + x^5/5! + ... (no cancellation; 12 terms: < 1e-30)
            t, tot = x * x * x / 6.0, 0.0
            for k in range(12):
                tot += t
                t *= x * x / ((2 * k + 4) * (2 * k + 5))
            g0 = 2.0 * tot / math.sinh(x) * (1 - 4e-15)
        else:
            g0 = 2.0 - s1 / math.sinh(x) if x < 700.0 else 2.0
            g0 -= 1e-15 * (2.0 + abs(g0))  # the rounding of the difference
        b1, a1 = self.r_t * s1, 0.0 if self.relu else self.r_a * s1
        pout = self.q_above(b1) if self.r_t > 0 else 1.0
        pout += self.q_below(a1)
        # the rounding of the ends and of their exponents (relative, as in :meth:`_lap_tails`)
        pout *= 1.0 + 2.4e-16 * (abs(b1) + abs(b1 - self.m) + abs(a1) + abs(a1 - self.m)) + 1e-14
        # the clipping part at s2 and the rounding of the grid ends (:meth:`_lap_tails`)
        Tb, Ta, _, _, rb_, ra_, _ = self._lap_tails(0.0 if self.relu else self.r_a * s2, self.r_t * s2)
        T2 = (Tb * (1.0 - rb_) + Ta * (1.0 - ra_)) * (1 - 1e-14)
        return (g0 - 0.25 * s2 * s2 * pout + T2) - 1e-300

    def lap_geo(self):
        return self.law == 1 and not self.qsin and self.LAP_MSQE and abs(self.m) > 4.0 \
            and self.r_t - self.r_a > 16

    # Laplace MSQE: R'' = 2 E[K^2] - 2 s sum_c c^2 p(c s), R''' = -6 sum_c c^2 p(c s) - 2 s sum_c c^3 p'(c s)
    # (c = k + 1/2 over the boundaries, as for the Normal law), with p(x) = e^{-|x - m|}/2: on either
    # side of the mode every sum over the boundaries is sum_i (x0 +- i)^n e^{-s i} times e^{-dist}/2
    # (:func:`_ap_sums`), and E[K^2] = sum_{c > 0} 2c P(xi > c s) + sum_{c < 0} 2|c| P(xi < c s)
    # (K^2 grows by 2|c| across a boundary away from 0), P(xi > x) = p(x) above the mode and
    # 1 - p(x) below it.  Where a boundary c crosses the mode (s = m/c) p' jumps from +1/2 to -1/2 in
    # z = c s - m, and z moves with s in the direction of sign(c), so R''' jumps by +2 s |c|^3: every
    # jump is upward, and the Taylor bounds R''(s) >= R''(u) + R'''(u+) (s - u) - M4 (s - u)^2/2
    # (s > u) and R''(s) >= R''(u) - R'''(u-) (u - s) - M4 (u - s)^2/2 (s < u) hold with M4 a bound
    # of the regular part |R''''| <= 8 sum |c|^3 p(c s) + 2 s sum c^4 p(c s) (|p'| = p'' = p off the mode).
    def _lap_part(self, k1, k2, sigma, above, nmax=4):
        """(T, A, N): ``T_n = sum c^n p(c sigma)`` over the boundaries ``c = k + 1/2``, ``k1 <= k <= k2``,
        all on one side of the mode at ``sigma`` (``above``: ``c sigma >= m``), ``A_n`` the magnitudes
        (``n <= nmax``; the others 0)."""
        m = self.m
        if above:
            x0, d = k1 + 0.5, 1.0
            dist = x0 * sigma - m
        else:
            x0, d = k2 + 0.5, -1.0
            dist = m - x0 * sigma
        pre = 0.5 * math.exp(-max(dist, 0.0))
        N = k2 - k1 + 1
        T, A = _ap_sums(x0, d, N, sigma, nmax)
        return [pre * t for t in T], [pre * v for v in A], N

    def _lap_ranges(self):
        k_lo, k_hi = self.r_a, self.r_t - 1
        return ((max(k_lo, 0), k_hi, True), (k_lo, min(k_hi, -1), False))

    def _laplace_msqe_c(self, s):
        """(R'', err, R''', err) of the Laplace MSQE curve at s, O(1) (geometric sums; the right
        derivative R'''(s+) for c > 0 at a boundary exactly on the mode, whose jump is added to the error)."""
        m = self.m
        thr = math.ceil(m / s - 0.5)  # boundaries k >= thr: c s >= m
        ek = mag = S2 = A2 = S3 = A3 = 0.0
        for a, b, pos in self._lap_ranges():
            if b < a:
                continue
            for above in (True, False):
                k1, k2 = (max(a, thr), b) if above else (a, min(b, thr - 1))
                if k2 < k1:
                    continue
                T, A, N = self._lap_part(k1, k2, s, above, 3)
                S2 += T[2]
                A2 += A[2]
                S3 += -T[3] if above else T[3]  # sum c^3 p'(c s): p' = -p above the mode, +p below
                A3 += A[3]
                if pos == above:  # c > 0 above the mode (P(xi > cs) = p) or c < 0 below (P(xi < cs) = p)
                    ek += 2.0 * abs(T[1])
                    mag += 2.0 * A[1]
                else:  # 2 |c| (1 - p)
                    sc = N * abs(k1 + k2 + 1) / 2.0
                    ek += 2.0 * (sc - abs(T[1]))
                    mag += 2.0 * (sc + A[1])
        c2 = 2.0 * ek - 2.0 * s * S2
        c3 = -6.0 * S2 - 2.0 * s * S3
        # 1e-13 of the magnitudes, times (1 + |m|/100): the exponents c s - m round to ~eps |m| (R'' was
        # off by 3.9x the flat 1e-13 bound at m = 1e4, 16-24 bits, against mpmath; session lapoff)
        fm = 1.0 + 0.01 * abs(m)
        err2 = 1e-13 * fm * (2.0 * mag + 2.0 * s * A2)
        err3 = 1e-13 * fm * (6.0 * A2 + 2.0 * s * A3)
        for k in (thr - 1, thr):  # a boundary within rounding of the mode: R''' one-sided, add its jump
            c = k + 0.5
            if self.r_a <= k < self.r_t and abs(c * s - m) <= 1e-12 * (abs(m) + 1.0):
                err3 += 2.0 * s * abs(c) ** 3
        return c2, err2 + 1e-300, c3, err3 + 1e-300

    def _laplace_msqe_m4(self, s1, s2):
        """Bound of the regular part of |R''''| (8 sum |c|^3 p + 2 s sum c^4 p) of the Laplace MSQE
        curve over [s1, s2]: boundaries above (below) the mode at every s of the interval with ``p`` at
        their nearest scale, those crossing it with ``p <= 1/2``."""
        m = self.m
        tot = 0.0
        for a, b, pos in self._lap_ranges():
            if b < a:
                continue
            sA, sB = (s1, s2) if pos else (s2, s1)  # the scales of the smallest / largest c s
            tA = math.ceil(m / sA - 0.5)  # k >= tA: c s >= m for every s
            tB = math.ceil(m / sB - 0.5) - 1  # k <= tB: c s < m for every s
            parts = []
            if max(a, tA) <= b:
                parts.append(self._lap_part(max(a, tA), b, sA, True)[:2])
            if a <= min(b, tB):
                parts.append(self._lap_part(a, min(b, tB), sB, False)[:2])
            k1, k2 = max(a, tB + 1), min(b, tA - 1)
            if k1 <= k2:
                T, A = _ap_sums(k1 + 0.5, 1.0, k2 - k1 + 1, 0.0)
                parts.append(([0.5 * t for t in T], [0.5 * v for v in A]))
            fm = 1e-13 * (1.0 + 0.01 * abs(m))  # as in _laplace_msqe_c
            for T, A in parts:
                tot += 8.0 * (abs(T[3]) + fm * A[3]) + 2.0 * s2 * (abs(T[4]) + fm * A[4])
        return tot * (1 + 1e-12) + 1e-300

    def curv_point(self, s):
        """(R''(s), err, R'''(s), err) of a Normal law, exact at ``s`` (memoised)."""
        key = ("c", s)
        out = self._memo.get(key)
        if out is None:
            if self.law == 1:
                out = self._laplace_qsin_c(s) if self.qsin else self._laplace_msqe_c(s)
            else:
                out = self._normal_qsin_c(s) if self.qsin else self._normal_msqe_c(s)
            self._memo[key] = out
        return out

    def _laplace_qsin_c(self, s):
        """(R'', err, R''', err) of the Laplace QSin curve at s: the same formulas as the Normal one
        with X_k = int_a^b x^k e^{iwx} p in closed form (p = e^{-|x - m|}/2 split at m; the
        antiderivative of x^k e^{lam x} is e^{lam x} sum_j (-1)^j k!/(k-j)! x^{k-j} / lam^{j+1}); the
        error is 1e-14 of the sum of the magnitudes of every term."""
        m, relu = self.m, self.relu
        w = 2.0 * _PI / s
        a, b = self.r_a * s, self.r_t * s
        rip = self.ripple()
        em = _phase(m, s) if rip else complex(math.cos(w * m), math.sin(w * m))
        X = [0j, 0j, 0j, 0j]
        A = [0.0, 0.0, 0.0, 0.0]

        wm = 0.0 if rip else w * abs(m)  # the phase error at the mode (none left by _phase)

        def anti(x, lam, ex, sign, mode=False):
            # X[k] += sign ex P_k(x), P_k = sum_j (-1)^j k!/(k-j)! x^{k-j}/lam^{j+1}, by the
            # recurrence P_0 = 1/lam, P_k = (x^k - k P_{k-1})/lam; A[k] += |ex| (the same sum of |terms|)
            # times the relative error of ex in units of 1e-14 (the exponent x - m rounds to eps max(|x|, |m|),
            # the phase w m at the mode to ~3 eps w |m|)
            il, ail = 1.0 / lam, 1.0 / abs(lam)
            aex = abs(ex) * (1.0 + (abs(x) + abs(m) + (wm if mode else 0.0)) / 10.0)
            P, M, xk = il, ail, 1.0
            X[0] += sign * ex * P
            A[0] += aex * M
            for k in range(1, 4):
                xk *= x
                P = (xk - k * P) * il
                M = (abs(xk) + k * M) * ail
                X[k] += sign * ex * P
                A[k] += aex * M

        if a < m:  # left of the mode: p = e^{x - m}/2, lam = 1 + i w
            lam = complex(1.0, w)
            top = min(b, m)
            et = 0.5 * math.exp(top - m) * (1.0 if top == b else em)
            ea = 0.5 * math.exp(a - m)
            anti(top, lam, et, 1.0, top != b)
            anti(a, lam, ea, -1.0)
        if b > m:  # right of it: p = e^{m - x}/2, lam = -1 + i w
            lam = complex(-1.0, w)
            bot = max(a, m)
            eb = 0.5 * math.exp(m - b)
            ebot = 0.5 * math.exp(m - bot) * (1.0 if bot == a else em)
            anti(b, lam, eb, 1.0)
            anti(bot, lam, ebot, -1.0, bot != a)
        E, X1, X2, X3 = X
        e0, e1, e2, e3 = (1e-14 * v + 1e-300 for v in A)
        P = nc._lmass(-m if relu else a - m, b - m)
        t2 = 2.0 * self.r_t * self.r_t * self.q_above(b)
        if not relu and self.r_b < 0:
            t2 += 2.0 * self.r_b * self.r_b * self.q_below(a)
        return _qsin_curvature(s, w, P, t2, E, X1, X2, X3, e0, e1, e2, e3)

    def _normal_qsin_c(self, s):
        m, relu = self.m, self.relu
        w, a, b, za, zb, E, errE = self._qsin_window(s)
        pa, pb = nc._pdf(za), nc._pdf(zb)
        mu = complex(m, w)
        amu = abs(mu)
        # X_1, X_2, X_3 by the recurrence, with a running bound of the propagated error (err) and
        # of the magnitudes summed (mag: the rounding of each step is <= 1e-15 of it)
        X0, X1 = E, mu * E - (pb - pa)
        e0, e1 = errE, amu * errE
        g0, g1 = abs(E), amu * abs(E) + pb + pa
        X2 = mu * X1 + X0 - (b * pb - a * pa)
        e2 = amu * e1 + e0
        g2 = amu * g1 + g0 + abs(b * pb) + abs(a * pa)
        X3 = mu * X2 + 2.0 * X1 - (b * b * pb - a * a * pa)
        e3 = amu * e2 + 2.0 * e1
        g3 = amu * g2 + 2.0 * g1 + b * b * pb + a * a * pa
        e1, e2, e3 = e1 + 1e-14 * g1, e2 + 1e-14 * g2, e3 + 1e-14 * g3
        P = self.mass(za, zb)
        t2 = 2.0 * self.r_t * self.r_t * nc._q(zb)
        if not relu and self.r_b < 0:
            t2 += 2.0 * self.r_b * self.r_b * nc._q(-za)
        return _qsin_curvature(s, w, P, t2, E, X1, X2, X3, errE, e1, e2, e3)

    def _normal_msqe_c(self, s):
        m, r_a, r_t = self.m, self.r_a, self.r_t
        pdf = nc._pdf
        k0, k1 = self._cells(s, s)
        q = nc._q
        lo = (0.0 if self.relu else -math.inf) if k0 == r_a else (k0 - 0.5) * s
        ek2 = S2 = S3 = A3 = 0.0
        qb_pos = qb_neg = None  # the upper boundary's tail probabilities, reused by the next cell
        for k in range(k0, k1 + 1):
            hi = math.inf if k == r_t else (k + 0.5) * s
            za, zb = lo - m, hi - m
            qa_pos, qa_neg = qb_pos, qb_neg
            qb_pos = qb_neg = None
            if za < zb:  # P(cell k) as nc._mass(za, zb)
                if za >= 0.0:
                    qb_pos = q(zb)
                    M0 = (q(za) if qa_pos is None else qa_pos) - qb_pos
                elif zb <= 0.0:
                    qb_neg = q(-zb)
                    M0 = qb_neg - (q(-za) if qa_neg is None else qa_neg)
                else:
                    qb_pos = q(zb)
                    M0 = 1.0 - (q(-za) if qa_neg is None else qa_neg) - qb_pos
                ek2 += k * k * M0
            if k < r_t:  # the boundary c s, c = k + 1/2
                c = k + 0.5
                pz = pdf(zb)
                S2 += c * c * pz
                t = c * c * c * zb * pz  # c^3 (-p'(c s)) with p' = -z phi(z)
                S3 += t
                A3 += abs(t)
            lo = hi
        return self._msqe_c_finish(s, k0, k1, ek2, S2, S3, A3)

    def _msqe_c_finish(self, s, k0, k1, ek2, S2, S3, A3):
        m, r_a, r_t = self.m, self.r_a, self.r_t
        pdf = nc._pdf
        c2 = 2.0 * ek2 - 2.0 * s * S2
        c3 = -6.0 * S2 + 2.0 * s * S3
        err2 = 1e-14 * (2.0 * ek2 + 2.0 * s * S2)
        err3 = 1e-14 * (6.0 * S2 + 2.0 * s * A3)
        if k0 > r_a or k1 < r_t:  # left out: mass <= 2 Q(Z), boundaries with phi(z) <= phi(Z), |z| <= ~kmax s
            kmax = max(r_t, -r_a) + 1.0
            Z = self.WINDOW
            nb = r_t - r_a
            err2 += 2.0 * kmax * kmax * 2.0 * nc._q(Z) * 1.01 + 2.0 * s * nb * kmax**2 * pdf(Z) * 1.01
            zm = kmax * s + abs(m)
            err3 += (6.0 * nb * kmax**2 + 2.0 * s * nb * kmax**3 * zm) * pdf(Z) * 1.01
        return c2, err2 + 1e-300, c3, err3 + 1e-300

    def fourth_bound(self, s1, s2):
        """Upper bound of |R''''(s)| over s in [s1, s2] (Normal law; Laplace: QSin, and MSQE's regular part)."""
        m = self.m
        if self.law == 1 and not self.qsin:
            return self._laplace_msqe_m4(s1, s2)
        if self.qsin:
            # E[xi^4] of Normal(m, 1) / Laplace(m, 1); E|xi|^3 <= E[xi^4]^(3/4)
            e4 = m**4 + 6.0 * m * m + 3.0 if self.law == 0 else m**4 + 12.0 * m * m + 24.0
            e3 = e4**0.75
            crude = (16.0 * _PI**3 / s1**5) * e3 + (8.0 * _PI2 * _PI2 / s1**6) * e4
            # sharper, by one integration by parts (e^{iwx} = 1 at a, b; f_k = x^k p is continuous
            # and piecewise C^1): |X_k| <= (|f_k(a)| + |f_k(b)| + int |f_k'|) / w, w >= 2 pi / s2,
            # int |f_k'| <= k E|xi|^(k-1) + E[|xi|^k |p'/p|] <= k E[xi^2k]^((k-1)/2k) + E[xi^2k]^(1/2) c
            # (Cauchy-Schwarz; |p'/p| = |x - m| (Normal: E = 1) or 1 (Laplace)); the ends a = r_a s,
            # b = r_t s over s in [s1, s2] with the largest |x|^k and density there
            if self.law == 0:
                e6 = m**6 + 15.0 * m**4 + 45.0 * m * m + 15.0
                e8 = m**8 + 28.0 * m**6 + 210.0 * m**4 + 420.0 * m * m + 105.0
            else:
                e6 = m**6 + 30.0 * m**4 + 360.0 * m * m + 720.0
                e8 = m**8 + 56.0 * m**6 + 1680.0 * m**4 + 20160.0 * m * m + 40320.0
            ends = 0.0
            for r in (self.r_t, self.r_a):
                if r == 0:
                    continue
                x0, x1 = sorted((r * s1, r * s2))
                pm = self.pdf(0.0) if x0 <= m <= x1 else max(self.pdf(x0 - m), self.pdf(x1 - m))
                xm = max(abs(x0), abs(x1))
                ends += pm * (xm**3 + xm**4 * 8.0 * _PI2 * _PI2 / s1**6 / (16.0 * _PI**3 / s1**5))
            wmin = 2.0 * _PI / s2
            i3 = 3.0 * e6 ** (2.0 / 6.0) + e6**0.5
            i4 = 4.0 * e8 ** (3.0 / 8.0) + e8**0.5
            sharp = ((16.0 * _PI**3 / s1**5) * i3 + (8.0 * _PI2 * _PI2 / s1**6) * i4
                     + (16.0 * _PI**3 / s1**5) * ends * 1.0001) / wmin
            if self.law == 1 and self.ripple():
                sharp = min(sharp, self._lap_qsin_m4_twice(s1, s2))
            return min(crude, sharp) * (1 + 1e-12)
        k0, k1 = self._cells(s1, s2)
        key = ("j", k0, k1)
        pre = self._memo.get(key)
        if pre is None:  # the boundaries c = j and the powers of |c| (per window)
            j = np.arange(k0, min(k1 + 1, self.r_t), dtype=float) + 0.5
            a = np.abs(j)
            pre = self._memo[key] = (j, 8.0 * a**3, a**4, k0 >= 0, k1 + 1 <= 0)
        j, a3, a4, pos, neg = pre
        x0, x1 = j * s1 - m, j * s2 - m  # the range of z = c s - m (c s increasing in s for c > 0)
        if pos:
            lo, hi = x0, x1
        elif neg:
            lo, hi = x1, x0
        else:
            lo, hi = np.minimum(x0, x1), np.maximum(x0, x1)
        # the smallest |z| (0 if the range holds 0) and the largest, exactly (lo <= hi)
        dmin = np.maximum(np.maximum(lo, -hi), 0.0)
        zmax = np.maximum(-lo, hi)
        ph = np.exp(-0.5 * dmin * dmin) * nc._INV_SQRT2PI * (1 + 1e-14)
        tot = float(np.sum(a3 * zmax * ph + 2.0 * s2 * a4 * (zmax * zmax + 1.0) * ph))
        if k0 > self.r_a or k1 + 1 < self.r_t:
            kmax = max(self.r_t, -self.r_a) + 1.0
            Z = self.WINDOW
            zm = kmax * s2 + abs(m)
            tot += (self.r_t - self.r_a) * (8.0 * kmax**3 * zm + 2.0 * s2 * kmax**4 * (zm * zm + 1.0)) \
                * nc._pdf(Z) * 1.01
        return tot * (1 + 1e-12)

    def _lap_qsin_m4_twice(self, s1, s2):
        """|R''''| of a Laplace law's QSin curve over [s1, s2] by two integrations by parts of
        ``X_k = int_a^b f_k e^{iwx}``, ``f_k = x^k p`` (``e^{iwx} = 1`` at the grid points a, b, so the
        first boundary term is imaginary): ``|Re X_k| <= D_k / w^2``, ``|Im X_k| <= |f_k(b) - f_k(a)|/w +
        D_k/w^2``, ``D_k = |f_k'(a)| + |f_k'(b)| + |m|^k (p' jumps by 1 at the mode) + int |f_k''|``,
        ``int |f_k''| <= k(k-1) E|xi|^(k-2) + 2k E|xi|^(k-1) + E|xi|^k`` (``|p'| = |p''| = p`` off the mode);
        ``R'''' = -(16 pi^3/s^5) Im X_3 - (8 pi^4/s^6) Re X_4``, ``w >= 2 pi/s2``."""
        m = self.m
        am = abs(m)
        # E|xi|^j <= E (|m| + |Y|)^j, E|Y|^i = i! (standard Laplace)
        mom = [sum(math.comb(j, i) * am ** (j - i) * math.factorial(i) for i in range(j + 1)) for j in range(5)]
        ends = []  # (max |x|, max p) over the range of each grid end
        for r in (self.r_t, self.r_a):
            if r == 0:
                ends.append((0.0, 0.5 * math.exp(-am)))
                continue
            x0, x1 = sorted((r * s1, r * s2))
            pm = 0.5 if x0 <= m <= x1 else 0.5 * math.exp(-min(abs(x0 - m), abs(x1 - m)))
            ends.append((max(abs(x0), abs(x1)), pm))

        def D(k):
            bnd = sum((k * xm ** (k - 1) + xm**k) * pm for xm, pm in ends)
            return bnd + am**k + k * (k - 1) * mom[k - 2] + 2 * k * mom[k - 1] + mom[k]

        w = 2.0 * _PI / s2
        f3 = sum(xm**3 * pm for xm, pm in ends)
        i3 = f3 / w + D(3) / (w * w)
        i4 = D(4) / (w * w)
        return ((16.0 * _PI**3 / s1**5) * i3 + (8.0 * _PI2 * _PI2 / s1**6) * i4) * (1 + 1e-12)

    def curvature_taylor(self, s1, s2):
        """Rigorous lower bound of R'' on [s1, s2]: R''(u) - |R'''(u)| h - M4 h^2 / 2 at the midpoint."""
        u = 0.5 * (s1 + s2)
        h = 0.5 * (s2 - s1) * (1 + 1e-15)
        c2, e2, c3, e3 = self.curv_point(u)
        M4 = self.fourth_bound(s1, s2)
        return (c2 - e2 - (abs(c3) + e3) * h - 0.5 * M4 * h * h) - 1e-14 * abs(c2)

    def lower(self, s1, s2, f1, g1, f2, g2):
        """Lower bound of F over [s1, s2] from the values/derivatives (with error bounds) at the ends
        and the R'' bound: F(s) >= F(u) + R'(u)(s - u) + c (s - u)^2 / 2, from either end."""
        return self._lower_c(self.curvature_lower(s1, s2), s1, s2, f1, g1, f2, g2)

    def taylor_alone(self, s1, s2):
        """True when :meth:`curvature_lower` is the Taylor bound alone on [s1, s2]."""
        if not self.taylor_ok():
            return False
        if self.qsin:
            return True
        k0, k1 = self._cells(s1, s2)
        return k1 - k0 > self.CELLS_FIRST

    def taylor_lazy(self, s1, s2, test, m4=None):
        """(v, ok, M4): ``v, ok = test(c)`` with ``c`` the Taylor bound of R'' on [s1, s2] (as
        :meth:`curvature_taylor`), ``test`` nondecreasing in ``c``; ``M4`` the bound of the fourth
        derivative used (None if not computed). The costly :meth:`fourth_bound` (22-35 us, as
        much as a cell sum) is skipped when the test fails even without it (``M4 = 0``: e.g. a
        piece too wide; failing is always safe) or passes with ``m4``, a bound of the fourth
        derivative over an interval containing [s1, s2] (the parent piece's: valid on the piece;
        in practice it decides as the piece's own would, the A/B counts of bounds are
        unchanged). Otherwise ``M4`` is computed and ``v`` is ``test(curvature_taylor(s1, s2))``."""
        u = 0.5 * (s1 + s2)
        h = 0.5 * (s2 - s1) * (1 + 1e-15)
        c2, e2, c3, e3 = self.curv_point(u)
        base = c2 - e2 - (abs(c3) + e3) * h
        tail = 1e-14 * abs(c2)
        v, ok = test(base - tail)  # M4 = 0: the most optimistic bound
        if not ok:
            return v, ok, None
        if m4 is not None:
            v, ok = test((base - 0.5 * m4 * h * h) - tail)
            if ok:
                return v, ok, m4
        M4 = self.fourth_bound(s1, s2)
        v, ok = test((base - 0.5 * M4 * h * h) - tail)
        return v, ok, M4

    def taylor_ends(self, s1, s2, test, m4=None):
        """As :meth:`taylor_lazy`, with the Taylor bound of R'' taken from the ends of [s1, s2]
        instead of its midpoint (no new point: the ends are evaluated anyway, and with
        :meth:`_normal_msqe_all` their R'' and R''' come with the value): over the left half
        ``R''(s) >= R''(s1) + min(0, R'''(s1)) h - M4 h^2/2``, over the right half
        ``R''(s) >= R''(s2) - max(0, R'''(s2)) h - M4 h^2/2``, ``h = (s2 - s1)/2``, ``M4`` the
        bound of the fourth derivative over [s1, s2]; ``c`` the smaller of the two."""
        h = 0.5 * (s2 - s1) * (1 + 1e-15)
        a2, ae2, a3, ae3 = self.curv_point(s1)
        b2, be2, b3, be3 = self.curv_point(s2)
        base = min((a2 - ae2) + min(0.0, a3 - ae3) * h - 1e-14 * abs(a2),
                   (b2 - be2) - max(0.0, b3 + be3) * h - 1e-14 * abs(b2))
        v, ok = test(base)  # M4 = 0: the most optimistic bound
        if not ok:
            return v, ok, None
        if m4 is not None:
            v, ok = test(base - 0.5 * m4 * h * h)
            if ok:
                return v, ok, m4
        M4 = self.fourth_bound(s1, s2)
        v, ok = test(base - 0.5 * M4 * h * h)
        return v, ok, M4

    def _lower_c(self, c, s1, s2, f1, g1, f2, g2):
        w = s2 - s1

        def qmin(A, B, c):
            vals = [A, A + B * w + 0.5 * c * w * w]
            if c > 0 and 0.0 < -B / c < w:
                vals.append(A - B * B / (2.0 * c))
            return min(vals)

        left = qmin(f1[0] - f1[1], g1[0] - g1[1], c)
        right = qmin(f2[0] - f2[1], -(g2[0] + g2[1]), c)
        if self.ripple():
            # the rounding of qmin, 1e-15 of its terms (a ripple curve's dips near s* can differ by
            # less than 1e-13 of F at 20+ bits: the flat 1e-13 below would hide them)
            mag = max(abs(f1[0]), abs(f2[0])) + (abs(g1[0]) + abs(g2[0]) + 0.5 * abs(c) * w) * w
            return max(left, right) - 1e-15 * mag - 1e-300
        return max(left, right) * (1 - 1e-13) - 1e-300

    def lattice_lower(self, s1, s2):
        """Rigorous lower bound of F over ``s in [s1, s2]`` from the unclipped lattice ``s Z``
        (:func:`._normal_cert.lattice_lower`: no cell sum, no evaluation of F)."""
        return nc.lattice_lower(self.law, self.qsin, self.relu, self.q_above, s1, s2)

    def far_lower(self):
        """(Y, lower bound of F over [Y, inf)): every |xi| <= Y/2 quantizes to 0 there."""
        m, W = self.m, self.window
        Y = 2.0 * (W + abs(m))
        if self.law == 0:
            e2 = nc._tail2(-m) if (self.relu or self.r_b == 0) else 1.0 + m * m
            e4 = m**4 + 6 * m * m + 3
            beyond = 2.0 * nc._q(W) * 1.0 + (W + abs(m)) ** 2 * 2.0 * nc._q(W)  # crude, ~1e-36
            beyond = (1.0 + (W + abs(m)) ** 2) * 4.0 * nc._q(W) + 1e-300
        else:
            e2 = self._lap._tail_sq(0.0, below=False) if (self.relu or self.r_b == 0) else 2.0 + m * m
            e4 = m**4 + 12 * m * m + 24
            beyond = (W + abs(m) + 2.0) ** 2 * 2.0 * math.exp(-W) * 4.0
        ew = max(0.0, e2 - beyond)
        if self.qsin:
            return Y, _PI2 * (ew - _PI2 * e4 / (3.0 * Y * Y)) * (1 - 1e-12)
        return Y, ew * (1 - 1e-12)


def _bracket_root(cur, s0, step=2.0, nmax=60):
    """A bracket [lo, hi] of a sign change (- to +) of R' near s0, by steps of ``step``x (at most
    ``nmax`` upwards), or None."""
    g0, e0 = cur.deriv(s0)
    if g0 > e0:
        hi, lo = s0, s0
        for _ in range(200):
            lo /= step
            glo, elo = cur.deriv(lo)
            if glo < -elo:
                return lo, hi, glo, cur.deriv(hi)[0]
            hi = lo
        return None
    lo = hi = s0
    glo = g0
    for _ in range(nmax):
        hi *= step
        ghi, ehi = cur.deriv(hi)
        if ghi > ehi:
            return lo, hi, cur.deriv(lo)[0], ghi
        lo, glo = hi, ghi
    return None


def _smooth_argmin(cur, s0):
    """Laplace MSQE above 16 points (:meth:`FewCells.lap_geo`): a root of the slope of the curve's
    smooth part ``H(s) = s^2/12 P(a < xi < b) + T(s)`` (:meth:`FewCells.smooth_lower`; the ripple
    left out), bracketed upwards from ``s0`` by steps of 1.5x; ``None`` if not found. A starting
    point only (no rigour needed: the certificate proves the optimum wherever it starts): s* lies
    within about half a ripple tooth of it (13 laws, 6-16 bits, 0.0-0.5 teeth), where the search from
    ``s0 = (|m| - 2)/r`` stepped up to s* by steps of a third of a tooth after 1.02x ones (10-50
    evaluations) and then often restarted in a neighbouring tooth."""
    m, r_t, r_a, relu = cur.m, cur.r_t, cur.r_a, cur.relu

    def hp(s):  # H'(s) = s/6 P + s^2/12 P' + T'
        b = r_t * s
        a = 0.0 if relu else r_a * s
        P = nc._lmass(a - m, b - m)
        dP = r_t * 0.5 * math.exp(-abs(b - m))
        tp = -2.0 * r_t * (0.5 * math.exp(-(b - m)) if b >= m else (m - b) + 0.5 * math.exp(-(m - b)))
        if not relu:
            dP -= r_a * 0.5 * math.exp(-abs(a - m))
            tp += 2.0 * r_a * (0.5 * math.exp(a - m) if a <= m else (a - m) + 0.5 * math.exp(-(a - m)))
        return s * P / 6.0 + s * s * dP / 12.0 + tp

    lo = s0
    glo = hp(lo)
    if not glo < 0.0:
        return None
    for _ in range(40):
        hi = lo * 1.5
        ghi = hp(hi)
        if ghi > 0.0:
            return _brent_root(hp, lo, hi, glo, ghi, rtol=1e-12)[0]
        lo, glo = hi, ghi
    return None


def certify_few(law, m, relu, r_b, r_t, qsin=False, max_bounds=3000):
    """Certified global minimizer (dict like :func:`._normal_cert.certify`) or None."""
    if not relu and r_b == 0:  # unsigned grid: the ReLU curve plus the constant tf E[xi^2; xi < 0]
        out = certify_few(law, m, True, r_b, r_t, qsin, max_bounds)
        if out is not None:
            base = (nc.NormalCurve if law == 0 else nc.LaplaceCurve)(m, False, r_b, r_t, qsin)
            const = base.tf * base._tail_sq(0.0, below=True)
            out.update(value=out["value"] + const, value_lower=(out["value_lower"] + const) * (1 - 1e-15))
        return out
    cur = FewCells(law, m, relu, r_b, r_t, qsin)
    if cur.r_t <= 0 and cur.r_a == 0:
        return None
    r_eff = max(cur.r_t, -cur.r_b, 1)
    start = (3.0 if law == 0 else 6.0) / r_eff
    step0 = 2.0
    # a law far off centre: one dip of the curve per grid point its mean can sit on (s ~ m / k);
    # the global one is near the outermost grid point on the mean's side (s ~ |m| / r): start
    # just below it (clipped: R' < 0 there) and bracket finely
    r_side = cur.r_t if m > 0 else -cur.r_a
    if r_side > 0 and abs(m) > 4.0 and (abs(m) - 2.0) / r_side > start:
        start, step0 = (abs(m) - 2.0) / r_side, 1.02
    # Laplace MSQE above 16 points: from the minimizer of the curve's smooth part (no evaluation),
    # in steps of a third of a ripple tooth; each dip found is compared with its neighbouring teeth
    smooth = cur.lap_geo() and r_side > 0 and _smooth_argmin(cur, start)
    if smooth:
        start = smooth
    Y, far = cur.far_lower()
    seen = set()
    # a ripple curve restarts several times (one per deeper dip found): the pieces excluded under a
    # threshold at least the new one stay excluded (kept across restarts, with their threshold)
    excl = [] if cur.ripple() else None
    walked = set() if cur.ripple() and r_side > 0 else None
    walk_from = None
    # Laplace MSQE with many points off centre: a handful of ripple dips (one per boundary crossing
    # the mode) compete near the optimum, whatever the bit width: more restarts
    for _restart in range(24 if cur.ripple() else 8):
        # restarts bracket finely: the dips of a law far off centre (s ~ m / k) are < 2x apart
        step = step0 if _restart == 0 else 1.02
        if (_restart or smooth) and abs(m) > 4.0:
            # the dips s ~ |m| / k are ~ s / |m| apart (relative): steps of 1.02x can jump from the
            # restart point over its own dip into the next one (the search then cycles)
            step = 1.0 + min(0.02, 0.3 * start / abs(m))
        # (a ripple curve whose s* is many law scales above |m| / r, e.g. Laplace(10, 1) at 16 bits:
        # s* ~ 3.2 |m| / r, beyond the 60 steps of 1.02x)
        br = _bracket_root(cur, start, step, 300 if cur.ripple() else 60)
        if br is None and walk_from is not None:
            # (where the ripple is too weak for dips, F falls monotonically over many teeth: coarser steps)
            br = _bracket_root(cur, start, 1.0 + 64.0 * (step - 1.0), 300)
        if br is None and walk_from is not None:
            # the walk's start had no root within the fine bracket (e.g. next to the clipping edge, where F
            # falls steeply: Laplace(-1e4, 1) QSin 21 bits): certify at the root the walk came from
            s_t, walk_from = walk_from, None
        elif br is None:
            return None
        else:
            walk_from = None
            lo, hi, glo, ghi = br
            s_t = _brent_root(lambda s: cur.deriv(s)[0], lo, hi, glo, ghi, rtol=1e-13)[0]
            if s_t in seen or (abs(m) > 4.0 and any(abs(s_t - v) <= 1e-9 * v for v in seen)):
                # the restart found the same root again (dips tied or too close): give up
                return None
            seen.add(s_t)
        if br is None:
            pass
        elif (_restart == 0 and step0 != 2.0) or (walked is not None and _restart and len(walked) < 12):
            # off centre the next level's dip (mean on level r - 1, r - 2: both neighbours present)
            # is often deeper than the outermost one: look there first (2 evaluations)
            F_t = cur.value(s_t)[0]
            if walked is None:
                cands = [abs(m) / k for k in (r_side - 1, r_side - 2) if k >= 1]
                low = min(cands, key=lambda s: cur.value(s)[0], default=None)
            else:
                # a ripple curve far off centre: the dips s ~ |m|/k next to the root's, walked (one O(1)
                # evaluation each) downhill until three in a row are no lower (Laplace(1e4, 1), 13 bits: the
                # root's dip k = 4093, the lowest k = 4091; the restarts from the first lower point found
                # instead walked 24 dips from k = 3960 and gave up), also after a restart (once per start
                # found). Only a start: the certificate decides
                low = _dip_walk(cur, abs(m), s_t, F_t, r_side)
                low = None if low in walked else low
                walked.add(low)
            if low is not None and cur.value(low)[0] < F_t * (1 - (1e-9 if walked is None else 0.0)):
                start = low
                walk_from = s_t if walked is not None else None
                continue
        out = _certify_at(cur, s_t, Y, far, max_bounds, excl)
        if out is None:
            return None
        if isinstance(out, float):  # a deeper dip at this scale: restart there
            start = out
            continue
        return out
    return None


def _dip_walk(cur, am, s_t, F_t, r_side, nmax=200):
    """A dip lower than the root ``s_t``'s (or None): the dips repeat with the mode's offset from the grid,
    ``s_j = am/(q + j)``, ``q = am/s_t`` (``0 < q + j <= r_side + 1/2``; at a few law scales they sit near
    ``am/k``, the mode on a grid point, at ~0.1 law scales elsewhere: the root's own offset is used), and
    their values vary smoothly with ``j``: a galloping descent in either direction (strides doubled while
    F decreases, halved when not; at most ``nmax`` evaluations). Only a start: the certificate decides."""
    q = am / s_t
    best_j, best_f, n = 0, F_t, 0
    for d in (-1, 1):
        stride = 1
        while stride >= 1 and n < nmax:
            j = best_j + d * stride
            if not 0.0 < q + j <= r_side + 0.5:
                stride //= 2
                continue
            n += 1
            f = cur.value(am / (q + j))[0]
            if f < best_f:
                best_j, best_f = j, f
                stride *= 2
            else:
                stride //= 2
    return None if best_j == 0 else am / (q + best_j)


def _gaps(u, v, excl, F_up):
    """The parts of [u, v] outside the union of the pieces of ``excl`` (``(s1, s2, thr)``: a lower
    bound of F over [s1, s2] exceeded ``thr``) whose ``thr >= F_up`` (so they exceed ``F_up`` too)."""
    ivs = sorted((a, b) for a, b, thr in excl if thr >= F_up and b > u and a < v)
    out, lo = [], u
    for a, b in ivs:
        if a > lo:
            out.append((lo, min(a, v)))
        lo = max(lo, b)
        if lo >= v:
            break
    if lo < v:
        out.append((lo, v))
    return [(a, b) for a, b in out if b > a]


def _hull_basin(cur, s_t, x, Y, F_err, excl):
    """Step 3 of :func:`_certify_at` at a root ``s_t`` of R': (hull, basin, min R'' bound, bounds used)
    or None: ``hull`` an interval around ``s_t`` (above ``x``) where R'' > 0 is proven, ``basin >= hull``
    where R' keeps its sign outside ``hull`` (:func:`_basin`; ripple curves only)."""
    # 3. convex neighbourhood
    nb = 0
    hull = None
    # off centre the next dips are ~1/r apart and 5 % reaches their humps (R'' < 0): start at 1 %
    ds = (0.01, 0.002) if abs(cur.m) > 4.0 else (0.05, 0.01, 0.002)
    if cur.taylor_ok():
        # R'' falls from its value at s_t at the rate of the third derivative c3: a neighbourhood
        # where it stays above about half of it
        c2, _, c3, _ = cur.curv_point(s_t)
        d0 = min(0.01, 0.5 * c2 / (abs(c3) * s_t + 1e-300))
        # ... and where the fourth-derivative term (M4 d^2/2, an upper bound) stays below it
        m4 = cur.fourth_bound(s_t * 0.99, s_t * 1.01)
        # (Laplace MSQE: R'' is a sawtooth of amplitude ~m^2 with a tooth per boundary crossing the
        # mode, s ~ s_t^2/|m| apart: the neighbourhood must fit within a tooth)
        floor = min(1e-5, 0.02 * s_t / abs(cur.m)) if cur.ripple() else 1e-5
        d0 = max(floor, min(d0, math.sqrt(max(c2, 0.0) / (m4 + 1e-300)) / s_t))
        ds = (d0, 0.2 * d0)
    for d in ds:
        a, b = s_t * (1 - d), s_t * (1 + d)
        if a < x:
            continue
        # (a ripple curve at 20+ bits: the neighbourhood itself is narrower than 1e-6 relative)
        ok, cmin, used = _convex(cur, a, b, 64, min(1e-6, 0.01 * (b - a) / a) if cur.ripple() else 1e-6)
        nb += used
        if ok:
            hull = (a, b)
            break
    if hull is None:
        return None
    # (a ripple curve: the minimizer's own dip beyond the convex neighbourhood, where R' keeps its sign up
    # to the dip's humps; there F is within the value errors of F(s_t) at 22-24 bits and no lower bound of F
    # alone can exclude it, but its monotony follows from R' and R'' alone)
    # (only where F at the neighbourhood's ends is within ~100 value errors of F(s_t): elsewhere the lower
    # bounds of F exclude the dip's flanks at once, and the extension cost 30-60 bounds at 6-16 bits)
    basin = hull
    if excl is not None:
        half = max(s_t - hull[0], hull[1] - s_t)
        if 0.5 * max(cur.curv_point(s_t)[0], 0.0) * half * half < 100.0 * F_err:
            basin = _basin(cur, hull[0], hull[1], x, Y)
            nb += basin[2]
    return hull, basin, cmin, nb


def _certify_at(cur, s_t, Y, far, max_bounds, excl=None):
    F_t, F_err = cur.value(s_t)
    F_up = (F_t + F_err) * (1 + (1e-15 if cur.ripple() else 1e-13))
    if not far > F_up:
        return None
    e = nc.sign_change_radius(cur, s_t)
    if e is None:
        return None
    # 2. (0, x]
    x = s_t
    for _ in range(400):
        x *= 0.9
        if cur.tails(x) * (1 - 1e-13) > F_up:
            break
    else:
        return None
    hb = _hull_basin(cur, s_t, x, Y, F_err, excl)
    if hb is None:
        return None
    hull, basin, cmin, nb = hb
    # far off centre (MSQE of a Laplace law): the dips |m|/k, k = 1 .. k_max, tied to F's value error, excluded
    # between them and bounded below all at once by a closed form (_lap_family); when s_t lies among them at
    # once (else when a piece above fam["lo"] is found tied, below), and the search covers [x, fam["lo"]] only
    fam = _lap_family(cur, F_t, F_up) if (excl is not None or (cur.qsin and cur.law == 1)) else None
    if fam is not None and not s_t >= fam["lo"]:
        lazy_fam, fam = fam, None
    else:
        lazy_fam = None
    top = fam["lo"] if fam is not None else math.inf
    # 4. branch and bound on [x, a] and [b, Y]
    stack = []
    # Laplace MSQE above 16 points: the width of a ripple tooth at s_t (s^2/|m|: the mode moves by
    # one level); the smooth-part bound excludes all but the few teeth next to s_t, so the pieces
    # start at that width there (were: 1.6x pieces bisected ~18 times down to it, each level
    # evaluated), and a piece wider than 4 teeth is split without evaluating F (its second-order
    # bound cannot hold across the concave crossings of R'')
    tooth = s_t * s_t / abs(cur.m) if cur.lap_geo() else 0.0
    for u0, v0 in ((x, min(basin[0], top)), (basin[1], min(Y, top))):
        for u, v in ([(u0, v0)] if excl is None else _gaps(u0, v0, excl, F_up)):
            if v > u:
                npc = max(2, int(math.ceil(math.log(v / u) / math.log(1.6))))
                edges = [u * (v / u) ** (i / npc) for i in range(npc + 1)]
                edges[0], edges[-1] = u, v
                if tooth:  # a ripple tooth wide next to s_t, doubling away from it
                    edges = _tooth_edges(u, v, s_t, TOOTH_W0 * tooth)
                stack += [(e1, e2, None) for e1, e2 in zip(edges[:-1], edges[1:])]
    # nearest pieces first (popped last-in first-out): a deeper dip, if any, is most often a
    # neighbour of s_t (a law far off centre: the dips s ~ m / k next to it), found sooner
    stack.sort(key=lambda iv: -min(abs(math.log(iv[0] / s_t)), abs(math.log(iv[1] / s_t))))
    cache = {}

    def ev(s):
        r = cache.get(s)
        if r is None:
            r = cache[s] = cur.both(s)
        return r

    # a lower value restarts the search; a ripple curve's competing dips can differ by ~1e-13 of F (24 bits),
    # less than the flat 1e-12 margin (Laplace(300, 1) QSin 24 bits: a dip 1.7e-13 lower, F's error 1.3e-14)
    low_tol = (1e-15 if excl is not None else 1e-12) * abs(F_t)
    kept = []  # dips met by pieces that could not be excluded (tied with s_t): see _tied_dip
    while stack:
        s1, s2, m4 = stack.pop()
        if kept:
            parts = _outside(s1, s2, kept)
            if len(parts) != 1 or parts[0] != (s1, s2):
                stack += [(u, v, m4) for u, v in parts]
                continue
        nb += 1
        if nb > max_bounds:
            return None
        # (smooth_lower cannot exclude a piece above s_t once s^2 >= 30 (QSin 4 pi^2): its remainder
        # s^4/360 (s^4/(8 pi^2)) then exceeds the granular part s^2/12 (s^2/2) of H, and the clipping
        # part is below T(s_t) <= F_up there)
        if cur.lattice_lower(s1, s2) > F_up or (excl is not None and (
                (not (s1 >= s_t and s2 * s2 >= (40.0 if cur.qsin else 30.0)) and cur.smooth_lower(s1, s2) > F_up)
                or (not cur.qsin and cur.dip_lower(s1, s2) > F_up))):
            # no evaluation of F needed (a ripple curve: its smooth part less the ripple's bound)
            if excl is not None:
                excl.append((s1, s2, F_up))
            continue
        if tooth and s2 - s1 > TOOTH_SPLIT * tooth * (s2 / s_t) ** 2:
            mid = math.sqrt(s1 * s2)
            stack += [(s1, mid, m4), (mid, s2, m4)]
            continue
        (f1, g1), (f2, g2) = ev(s1), ev(s2)
        for s, f in ((s1, f1), (s2, f2)):
            if f[0] + f[1] < F_t - F_err - low_tol:
                return float(s)  # a lower value elsewhere: the caller restarts from it
        if tooth and cur.sqrt_lip_lower(s1, s2, f1, f2) > F_up:
            # (far off centre at few bits: the humps between the level dips, where the R'' bound is
            # very negative; O(1), from the ends' values alone)
            excl.append((s1, s2, F_up))
            continue
        if cur.taylor_alone(s1, s2):
            # the same decision as cur.lower, with the fourth-derivative bound computed only when
            # it decides (a parent's bound is inherited by its halves)
            def test(c, s1=s1, s2=s2, f1=f1, g1=g1, f2=f2, g2=g2):
                v = cur._lower_c(c, s1, s2, f1, g1, f2, g2)
                return v, v > F_up
            # the ends' R'' and R''' known already (fused evaluations): no new point needed
            ends = cur.FUSE and ("c", s1) in cur._memo and ("c", s2) in cur._memo
            _, ok, m4 = (cur.taylor_ends if ends else cur.taylor_lazy)(s1, s2, test, m4)
            if ok:
                if excl is not None:
                    excl.append((s1, s2, F_up))
                continue
        elif cur.lower(s1, s2, f1, g1, f2, g2) > F_up:
            if excl is not None:
                excl.append((s1, s2, F_up))
            continue
        if s2 - s1 < 1e-9 * s1:
            # a piece next to another dip whose bottom is within the value errors of F(s_t) (tied dips):
            # certify that dip's own minimum and take its basin out of the search (or give up); far off centre
            # every dip above lazy_fam["lo"] at once (_lap_family: the pieces above it are dropped)
            if lazy_fam is not None and s2 > lazy_fam["lo"]:
                fam, lazy_fam = lazy_fam, None
                top = fam["lo"]
                stack = [(u, min(v, top), m4_) for u, v, m4_ in stack if u < top]
                if s1 < top:
                    stack.append((s1, min(s2, top), m4))
                continue
            dip = _tied_dip(cur, s1, s_t, kept, x, Y, excl)
            if dip is None:
                return None
            nb += dip["bounds"]
            kept.append(dip)
            stack.append((s1, s2, m4))
            continue
        mid = math.sqrt(s1 * s2)
        stack += [(s1, mid, m4), (mid, s2, m4)]
    g_t, g_err = cur.deriv(s_t)
    lip = max(0.0, -cur.curvature_lower(s_t - e, s_t + e))
    lower = (F_t - F_err - (abs(g_t) + g_err + lip * e) * e) * (1 - 1e-13)
    out = dict(scale=s_t, scale_error=e, value=F_t, value_lower=lower, bounds=nb, evaluations=cur.n_eval,
               curvature_min=cmin, hull=hull, curve=cur)
    if kept or fam is not None:
        out = _tied_result(out, kept, F_up, F_err, fam)
    return out


FAMILY_S0 = 9.0
"""The tied family (:func:`_lap_family`) covers scales ``s >= FAMILY_S0`` law scales at least."""
_COSH1 = 1.5430806348152437 * (1 + 1e-15)  # cosh(1), rounded up


def _lap_family(cur, F_t, F_up):
    """The dips of a Laplace law's MSQE curve far off centre, certified all at once (dict or None).

    For ``xi = m + Y`` (Y standard Laplace) every quantization error is at least the distance to the
    unclipped lattice ``s Z`` (a clipped value's nearest grid point is an end of the grid, no nearer), so
    ``F(s) >= G(z, s) = E[d(z + Y, s Z)^2] = 2 + z^2 - s cosh(z)/sinh(s/2)`` with ``z = dist(m, s Z)`` (the
    closed form of :meth:`FewCells.dip_lower`'s Poisson sum, ``|z| <= s/2``; checked against mpmath in
    tests/test_optimum_laplace_ties.py); a ReLU law loses at most ``E[xi^2; xi < 0] = e^{-m}`` (``m > 0``).
    With ``A(s) = s/sinh(s/2)`` (decreasing) and ``s >= S >= 9``: for ``|z| <= 1`` ``G >= 2 + z^2 - cosh(1)
    A(S)``; for ``1 <= |z| <= s/2`` ``A(s) cosh(z) <= z^2/2`` (``cosh(z)/z^2`` is log-convex, so at most its
    value at ``z = 1`` or ``z = s/2``: ``cosh(1) A(9) = 0.31`` and ``4 coth(s/2)/s <= 0.45``), so ``G >= 2.5``.
    Hence on ``[S, inf)``: ``F(s) >= L0 + min(z^2, 1/2)``, ``L0 = 2 - cosh(1) A(S) [- e^{-m}]``, and every
    ``s >= S`` with ``F(s) <= F_up < L0 + 1/2`` has ``|m - k s| <= D = sqrt(F_up - L0)``, ``k = round(|m|/s)``,
    i.e. lies in a window ``[(|m| - D)/k, (|m| + D)/k]``, ``1 <= k <= k_max`` (``S >= |m|/(r + 1/2)``: ``k``
    is a grid point on the mean's side, ``r`` the outermost). ``S`` is the least such scale with ``cosh(1) A(S)
    <= F_up - F_t`` (the dips there differ by less than F's value error: tied). MSQE of a Laplace law only."""
    if cur.law != 1 or not abs(cur.m) > 4.0:
        return None
    am = abs(cur.m)
    r_side = cur.r_t if cur.m > 0 else -cur.r_a
    tol = F_up - F_t
    if r_side <= 0 or not tol > 0.0:
        return None
    if cur.qsin:
        # QSin: the error s^2 sin^2(pi x/s) inside, pi^2 (x - e)^2 >= s^2 sin^2(pi x/s) clipped (e a grid point), so
        # F >= E[s^2 sin^2(pi xi/s)] = (s^2/2)(1 - cos(2 pi z/s)/(1 + beta)) = (2 pi^2 + s^2 sin^2(pi z/s))/(1 + beta),
        # beta = 4 pi^2/s^2 (the characteristic function of Y: 1/(1 + w^2)), >= (2 pi^2 + 4 z^2)/(1 + beta)
        # (|sin t| >= 2|t|/pi, |t| <= pi/2); a ReLU law loses at most pi^2 E[xi^2; xi < 0] = pi^2 e^{-m}. The dips
        # rise with s (2 pi^2/(1 + beta)): each window's own lower bound, at its lower end (_tied_result)
        S = am / (r_side + 0.5) * (1 + 1e-15)
        beta = 4.0 * _PI2 / (S * S) * (1 + 1e-15)
        relu_t = _PI2 * math.exp(-am) * (1 + 1e-15) if cur.relu else 0.0
        L0 = 2.0 * _PI2 / (1.0 + beta) * (1 - 1e-15) - relu_t
        D = math.sqrt(max(F_up - L0, 0.0) * (1.0 + beta) / 4.0) * (1 + 1e-15) + 1e-300
        k_max = min(r_side, int(math.floor((am + D) / S)))
        # (only where the dips are tied: the family's bound within F's value error of F(s_t); elsewhere, e.g. 18+
        # bits, s* ~ 1, the dips differ by far more and the search separates them)
        if k_max < 1 or not D < 0.25 * S or not F_t - L0 <= tol:
            return None
        return dict(lo=S, lower=L0, radius=D, k_max=k_max, m=am, relu_t=relu_t)

    def A(s):  # an upper bound of s/sinh(s/2) = 2 s e^{-s/2}/(1 - e^{-s}) (s >= 9)
        return 2.0 * s * math.exp(-0.5 * s) / -math.expm1(-s) * (1 + 1e-14) + 1e-300

    S = max(am / (r_side + 0.5) * (1 + 1e-15), FAMILY_S0)
    if _COSH1 * A(S) > tol:
        lo, hi = S, S
        while _COSH1 * A(hi) > tol:
            lo, hi = hi, hi * 1.25
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if _COSH1 * A(mid) > tol:
                lo = mid
            else:
                hi = mid
        S = hi
    relu_t = math.exp(-am) * (1 + 1e-15) if cur.relu else 0.0
    L0 = 2.0 - _COSH1 * A(S) - relu_t - 1e-15  # (the rounding of the difference: a few ulps of 2)
    if not F_up - L0 < 0.5:
        return None
    D = math.sqrt(max(F_up - L0, 0.0)) * (1 + 1e-15) + 1e-300
    k_max = min(r_side, int(math.floor((am + D) / S)))
    if k_max < 1:
        return None
    return dict(lo=S, lower=L0, radius=D, k_max=k_max, m=am)


def _family_windows(fam):
    """The family's windows ``(centre, radius)``, ``centre = |m|/k`` (``k = k_max .. 1``: increasing)."""
    am, D = fam["m"], fam["radius"]
    return [(am / k, D / k * (1 + 1e-15) + 4.5e-16 * am / k) for k in range(fam["k_max"], 0, -1)]


def _outside(s1, s2, kept):
    """The parts of ``[s1, s2]`` outside every kept dip's basin."""
    parts = [(s1, s2)]
    for d in kept:
        A, B = d["basin"]
        nxt = []
        for u, v in parts:
            if B <= u or A >= v:
                nxt.append((u, v))
                continue
            if u < A:
                nxt.append((u, A))
            if B < v:
                nxt.append((B, v))
        parts = nxt
    return parts


TIED_MAX = 64
"""At most this many dips besides s_t's are certified one by one (:func:`_tied_dip`) before giving up."""


def _tied_dip(cur, s1, s_t, kept, x, Y, excl):
    """The dip next to a piece at ``s1`` that no lower bound excludes (its bottom within the value errors
    of F(s_t)): the root ``s_r`` of R' bracketed from ``s1`` (as a restart does), its certified sign change
    ``s_r -+ e`` and its convex neighbourhood and basin (:func:`_hull_basin`): on the basin F's minimum is
    at the root, within ``s_r -+ e``, and at least ``lower`` (the same bound as s_t's). A dict, or None
    (no root, the root already known, no certificate, more than ``TIED_MAX`` dips)."""
    if len(kept) >= TIED_MAX or cur.law != 1:
        # (Laplace laws only: a Normal law's ties, e.g. Normal(50, 1) at 3 bits, are left to the per-cell path's
        # component certificate, which reports them as before)
        return None
    am = abs(cur.m)
    step = 1.0 + min(0.02, 0.3 * s1 / am) if am > 4.0 else 1.02
    br = _bracket_root(cur, s1, step, 300)
    if br is None:
        return None
    lo, hi, glo, ghi = br
    s_r = _brent_root(lambda s: cur.deriv(s)[0], lo, hi, glo, ghi, rtol=1e-13)[0]
    if not x < s_r < Y or any(abs(s_r - v) <= 1e-9 * v for v in [s_t] + [d["scale"] for d in kept]):
        return None
    e = _sign_change(cur, s_r)
    if e is None:
        return None
    F_r, F_err_r = cur.value(s_r)
    hb = _hull_basin(cur, s_r, x, Y, F_err_r, excl)
    if hb is None:
        return None
    hull, basin, cmin, nb = hb
    g, g_err = cur.deriv(s_r)
    # (R'' > 0 is proven on the hull: where it holds s_r -+ e, F >= F(s_r) + R'(s_r)(s - s_r) there; the
    # curvature bound over s_r -+ e alone can be loose by orders of magnitude: QSin Laplace(1e5, 1), 8 bits)
    inside = hull[0] <= s_r - e and s_r + e <= hull[1]
    lip = 0.0 if inside else max(0.0, -cur.curvature_lower(s_r - e, s_r + e))
    lower = (F_r - F_err_r - (abs(g) + g_err + lip * e) * e) * (1 - 1e-13)
    # (F's minimum over the basin is its minimum over the hull: at least the lattice bound there, which does not
    # depend on F's value error; QSin Laplace(1e5, 1), 8 bits, at s = m: F = 19.7, its stated error 643)
    lower = max(lower, cur.lattice_lower(hull[0], hull[1]))
    return dict(scale=s_r, scale_error=e, value=F_r, value_err=F_err_r, value_lower=lower, hull=hull,
                basin=(basin[0], basin[1]), curvature_min=cmin, bounds=nb)


def _sign_change(cur, s_r, cap=1e-6):
    """:func:`._normal_cert.sign_change_radius` with a radius up to ``cap s_r`` (was 1e-9): a tied dip's
    interval only has to lie inside the tied span (Laplace(1e5, 1) QSin 6 bits: at ``s = m``, the mode on grid
    point 1, R' is ~80 with an error of ~3e-3 and no sign change is certified within 1e-9 s)."""
    g_t, err_t = cur.deriv(s_r)
    g_h, _ = cur.deriv(s_r * (1 + 1e-6))
    slope = (g_h - g_t) / (s_r * 1e-6)
    e = max(1e-15 * s_r, 2.0 * (abs(g_t) + err_t) / slope) if slope > 0 else 1e-15 * s_r
    for _ in range(40):
        if e > cap * s_r:
            return None
        gm, em = cur.deriv(s_r - e)
        gp, ep = cur.deriv(s_r + e)
        if gm < -em and gp > ep:
            return e
        e *= 4.0
    return None


def _tied_result(out, kept, F_up, F_err, fam=None):
    """s_t's certificate ``out`` and the dips ``kept`` (:func:`_tied_dip`), every other scale excluded by a
    lower bound above ``F_up`` (an upper bound of F(s_t)): the global minimum is the least of the dips' minima.
    A dip whose certified minimum exceeds ``F_best`` (the least upper bound of the dips' values) holds no global
    minimizer; the others are tied: the lowest computed value is reported, ``value_lower`` the least of their
    lower bounds, ``scale_error`` spans their minimizers' intervals. ``fam`` (:func:`_lap_family`): every scale
    ``>= fam["lo"]`` with ``F <= F_up`` lies in one of its windows, where ``F >= fam["lower"]``; tied when that is
    ``<= F_best``: its windows join the span and ``value_lower``, and the dips inside them are not listed apart."""
    dips = [dict(out, value_err=F_err)] + kept
    if fam is not None:
        # every s >= fam["lo"] has F(s) >= fam["lower"]: so has each certified dip there
        for d in dips:
            if d["scale"] - d["scale_error"] >= fam["lo"]:
                d["value_lower"] = max(d["value_lower"], fam["lower"])
    F_best = min([F_up] + [(d["value"] + d["value_err"]) * (1 + 1e-15) for d in dips])
    tied = [d for d in dips if d["value_lower"] <= F_best]
    best = min(tied, key=lambda d: d["value"])
    s = best["scale"]
    err = max(max(s - (d["scale"] - d["scale_error"]), d["scale"] + d["scale_error"] - s) for d in tied)
    lower = min(d["value_lower"] for d in tied)
    family = None
    wins = _family_windows(fam) if fam is not None and fam["lower"] <= F_best else []
    if wins and "relu_t" in fam:
        # QSin: a window's own lower bound, 2 pi^2/(1 + 4 pi^2/s^2) at its lower end (the dips rise with s): the
        # windows above F_best hold no global minimizer
        def wl(c, r):
            lo = c - r
            return 2.0 * _PI2 / (1.0 + 4.0 * _PI2 / (lo * lo) * (1 + 1e-15)) * (1 - 1e-15) - fam["relu_t"]
        wins = [(c, r) for c, r in wins if wl(c, r) <= F_best]
    if wins:
        (c0, r0), (c1, r1) = wins[0], wins[-1]
        err = max(err, s - (c0 - r0), c1 + r1 - s)
        lower = min(lower, fam["lower"])
        # a certified dip inside a window stands for it (its own interval is narrower): the other windows
        # (k_max of them at most, centres |m|/k) are the family's
        am = fam["m"]
        taken = {round(am / d["scale"]) for d in tied if abs(d["scale"] - am / max(1, round(am / d["scale"])))
                 <= fam["radius"] / max(1, round(am / d["scale"])) * (1 + 1e-12) + 1e-15 * d["scale"]}
        wins = [(c, r) for c, r in wins if round(am / c) not in taken]
        family = dict(fam, count=len(wins), windows=wins)
    n_tied = len(tied) + (family["count"] if family else 0)
    res = dict(out, scale=s, scale_error=err, value=best["value"], value_lower=lower,
               curvature_min=best["curvature_min"], hull=best["hull"], bounds=out["bounds"],
               tied=[(d["scale"], d["scale_error"]) for d in tied] if n_tied > 1 else None,
               tied_family=family if n_tied > 1 else None, tied_count=n_tied)
    return res


TOOTH_W0, TOOTH_SPLIT = 0.5, 0.35
"""Ripple curves (:meth:`FewCells.lap_geo`): the first pieces next to s* are ``TOOTH_W0`` teeth wide, and a
piece wider than ``TOOTH_SPLIT`` teeth (at its upper end) is split without evaluating F (of 248 Taylor
bounds tried on 18 laws none held on a piece a tooth wide or wider, 2 of 137 at half a tooth)."""


def _tooth_edges(u, v, s_t, w):
    """Edges of a partition of ``[u, v]`` (on one side of ``s_t``) into pieces of width ``w`` at the
    end nearest ``s_t``, each next piece twice as wide, at most 0.6x its inner edge wide."""
    if u >= s_t:  # above s_t: from u upwards
        edges, e = [u], u
        while True:
            e = e + min(w, 0.6 * e)
            if e >= v * (1 - 1e-12):
                break
            edges.append(e)
            w *= 2.0
        edges.append(v)
        return edges
    edges, e = [v], v  # below s_t (v <= s_t): from v downwards
    while True:
        e = e - min(w, 0.375 * e)
        if e <= u * (1 + 1e-12):
            break
        edges.append(e)
        w *= 2.0
    edges.append(u)
    return edges[::-1]


def _basin(cur, a, b, lo, hi, budget=24):
    """(a', b', bounds used): ``[a', b'] >= [a, b]`` within ``[lo, hi]`` with R' < 0 shown on ``[a', a]``
    and R' > 0 on ``[b, b']``, so that F on them exceeds its minimum over ``[a, b]`` (F strictly convex
    on ``[a, b]`` with its minimizer inside: F(a) and F(b) exceed it). A piece ``[u, v]`` right of ``b``:
    ``R'(s) >= R'(u) + c (s - u) >= (g_u - err_u) - max(0, -c) (v - u)`` (``c`` a lower bound of R''
    over the piece, :meth:`FewCells.curvature_lower`); left of ``a``: ``R'(s) <= R'(v) - c (v - s)``.
    Pieces as wide as ``[a, b]`` at first, doubled after a success and halved after a failure; at most
    ``budget`` pieces per side."""
    used = 0
    ends = []
    for side in (1, -1):
        w = b - a
        u = b if side > 0 else a
        stop = used + budget
        while used < stop and (u < hi if side > 0 else u > lo):
            v = min(hi, u + w) if side > 0 else max(lo, u - w)
            s1, s2 = (u, v) if side > 0 else (v, u)
            used += 1
            g, e = cur.deriv(u)
            c = cur.curvature_lower(s1, s2)
            slack = max(0.0, -c) * (s2 - s1) * (1 + 1e-12)
            if (g - e - slack if side > 0 else -(g + e) - slack) > 1e-15 * (abs(g) + e):
                u = v
                w *= 2.0
            else:
                w *= 0.5
                if w < (b - a) / 64.0:
                    break
        ends.append(u)
    return ends[1], ends[0], used


def _convex(cur, a, b, budget, tiny=1e-6):
    """(R'' > 0 shown on [a, b], min bound, bounds used); pieces narrower than ``tiny`` (relative)
    are not split."""
    stack = [(a * (b / a) ** (i / 4), a * (b / a) ** ((i + 1) / 4)) for i in range(4)]
    cmin, used = math.inf, 0
    while stack:
        s1, s2 = stack.pop()
        used += 1
        if used > budget:
            return False, cmin, used
        c = cur.curvature_lower(s1, s2)
        if c > 0:
            cmin = min(cmin, c)
            continue
        if s2 - s1 < tiny * s1:
            return False, cmin, used
        mid = math.sqrt(s1 * s2)
        stack += [(s1, mid), (mid, s2)]
    return True, cmin, used
