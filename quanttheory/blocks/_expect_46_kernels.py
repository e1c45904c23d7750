"""Numba kernel of the telescoped ``4over6``: ``E|S|`` and the rates at every piece end in one call.

Same mathematics as :func:`quanttheory.blocks._expect_46.endpoint_stats_fs` (``E|S|``, and where
requested ``P(S > 0)``, ``nu6(S <= 0)``, ``nu4(S > 0)`` from the same harmonics, :func:`_endpoint`),
``S = sum_{i<=k} d(xi_i)`` with ``d = (x - R6(x))^2 - (x - R4(x))^2`` and
the ``k`` elements iid with the law of ``xi`` given ``|xi| <= m`` (module doc there):

    E|S| = k p0^(k-1) E1 + (L/2) mR - (4 L / pi^2) sum_{j odd <= J} Re R(t_j) / j^2,
    t_j = j pi / L,   R = Psi^k - p0^k - k p0^(k-1) psi,   Psi = p0 + psi,

``E1`` the exact one-non-atom-element term, ``mR = 1 - p0^k - k p0^(k-1) (1 - p0)``.  Error
bound = tail of the series (the ``rho_2`` bound of ``|R|``, as there) + aliasing (``P(|S| > L)``
by Chernoff with the exact moment generating function, or ``L = k max|d|``: no aliasing at all)
+ the error of the per-cell characteristic functions + rounding.

Differences from the NumPy path (speed, same bounds):

* everything per piece end runs here (cells, probabilities, moments, Chernoff, tail), no Python;
* the harmonics ``e^{i t_j d}`` come from a recurrence in ``j`` (one complex product per odd
  harmonic; its rounding, ``<= j rho_c`` relative with the first phase's own rounding in ``rho_c``
  (:func:`_phasor_rho`), times the size of the term it multiplies, is added to the bound); Laplace
  harmonics ``h < H0`` by the form without cancellation (docs/blocks.md §2d4);
* ``Psi^k`` by binary powering (``_cpow``; relative rounding ``<= (k - 1) sqrt(5) eps``, the bound
  uses ``(3 k + 4) eps``), not numba's complex ``**`` (``exp(k log z)``: ~40% of the Laplace k = 16
  time); the binomial tail bound with the powers of ``p0`` tabulated (no ``pow``);
* the Chernoff moment generating function over the cells with ``z >= 0`` only, twice, when
  ``loc = 0`` and the grid is odd (``levels == -levels[::-1]``; mirrored cells carry the same ``d``); Laplace cells with 2 transcendentals;
* Laplace cells: closed form ``(1/2)(e^{s u} - e^{s l}) / s``, ``s = i t a -+ 1``, harmonics in the
  outer loop and cells in the inner one (same sums, same order);
  Normal cells: Gauss-Legendre on sub-cells of phase ``t_J |a| h <= 8`` with the order from the
  Bernstein-ellipse bound (Trefethen, ATAP Thm 19.3: ``|error| <= (64/15) M rho^(-2n) /
  (rho^2 - 1)`` per unit half-width, ``M`` the bound of ``|e^{i t a z} phi(z)|`` on the ellipse:
  ``e^{t |a| B + B^2 / 2 - dist(0, [c - A, c + A])^2 / 2} / sqrt(2 pi)``), instead of the
  Faddeeva function (no complex special function in numba).

* ``E1`` per cell without cancellation (:func:`_e1_cell`: split at the root of ``d``, the hat form of
  ``|d|`` with non-negative terms, its rounding relative to the cell's own value; docs/audit.md finding 12,
  docs/blocks.md §2d6).

Inputs are validated in Python (:func:`quanttheory.blocks._expect_46.telescoped_abs`).  Every
callee is in this file (numba's cache does not track callees in other files).
"""

from __future__ import annotations

import math

import numba
import numpy as np

_SQ2 = math.sqrt(2.0)
_SQ2PI = math.sqrt(2.0 * math.pi)
_LN2 = math.log(2.0)
_EPS = 2.220446049250313e-16
NQ = 64      # largest Gauss-Legendre order of the node table
PHASE = 8.0  # largest phase half-width t_J |a| h of one Normal sub-cell
H0 = 8       # Laplace: harmonics h < H0 by the closed form without cancellation
NB = 256     # block length of the rate series' summation (partial sums, then their sum)
NOUT = 16    # per-end outputs of _endpoint (see there)
GTOL = 64.0  # cell groups: largest phase gap, in eps x the group's |a| max|z| + |b| (docs/blocks.md §2f)


@numba.njit(cache=True)
def _f(law, z):
    if law == 0:
        return math.exp(-0.5 * z * z) / _SQ2PI
    return 0.5 * math.exp(-abs(z))


@numba.njit(cache=True)
def _prob(law, l, u):
    """int_l^u f (standard density), cell on one side of 0 (no cancellation)."""
    if law == 0:
        if l >= 0.0:
            return 0.5 * (math.erfc(l / _SQ2) - math.erfc(u / _SQ2))
        return 0.5 * (math.erfc(-u / _SQ2) - math.erfc(-l / _SQ2))
    if l >= 0.0:
        return 0.5 * (math.exp(-l) - math.exp(-u))
    return 0.5 * (math.exp(u) - math.exp(l))


@numba.njit(cache=True)
def _mom1(law, l, u):
    """int_l^u z f(z) dz (standard density), cell on one side of 0."""
    if law == 0:
        return _f(0, l) - _f(0, u)
    if l >= 0.0:
        el, eu = math.exp(-l), math.exp(-u)
        return 0.5 * ((l + 1.0) * el - (u + 1.0) * eu)
    el, eu = math.exp(l), math.exp(u)
    return 0.5 * ((u - 1.0) * eu - (l - 1.0) * el)


@numba.njit(cache=True)
def _prob_err(law, l, u, c):
    """Rounding bound / eps of :func:`_prob` (cell on one side of 0; eps = 2^-52, one operation <= eps / 2):
    the terms are not small when the cell is narrow (cancellation), so each term's own: Normal
    ``0.5 erfc(x)``, ``x = |z| / sqrt2`` (argument <= eps relative, log-derivative of erfc <= 2 (x + 1),
    libm's erfc <= 5 ulp): <= (z^2 + 1.5 |z| + 6) eps, charged (z^2 + 2 |z| + 8) eps; Laplace ``0.5 e^-|z|``:
    4 eps; the difference: eps / 2 of the terms.  ``c >= 0``: the standardized end ``z = (x - loc) / scale``
    is itself off by <= eps (|z| + c) (c = 0: exact), moving each term by <= (|z| + 1) of that."""
    tl = 0.0
    tu = 0.0
    gl = 1.0
    gu = 1.0
    if law == 0:
        tl = 0.5 * math.erfc(abs(l) / _SQ2)
        tu = 0.5 * math.erfc(abs(u) / _SQ2)
        gl = l * l + 2.0 * abs(l) + 9.0
        gu = u * u + 2.0 * abs(u) + 9.0
    else:
        tl = 0.5 * math.exp(-abs(l))
        tu = 0.5 * math.exp(-abs(u))
        gl = 5.0
        gu = 5.0
    return _ends_err(l, u, c, tl, tu, gl, gu)


@numba.njit(cache=True, inline="always")
def _ends_err(l, u, c, tl, tu, gl, gu):
    """``tl gl + tu gu`` (/ eps) with, for ``c >= 0``, the standardized end's error ``eps (|z| + c)`` moving
    each term ``t`` by ``<= (|z| + 1)`` of it (the log-derivative bound of :func:`_prob_err` / :func:`_mom1_err`)."""
    if c >= 0.0:
        gl += (abs(l) + 1.0) * (abs(l) + c)
        gu += (abs(u) + 1.0) * (abs(u) + c)
    return tl * gl + tu * gu


@numba.njit(cache=True)
def _mom1_err(law, l, u, c):
    """Rounding bound / eps of :func:`_mom1` (cell on one side of 0), as :func:`_prob_err`: Normal
    ``phi(z) = exp(-z z / 2) / sqrt(2 pi)`` <= (z^2 / 4 + 2) eps, charged (z^2 / 2 + 4) eps; Laplace
    ``0.5 (|z| + 1) e^-|z|``: 5 eps; the difference eps / 2; the argument's error as there (log-derivative
    of the term <= |z| + 1)."""
    if law == 0:
        tl = _f(0, l)
        tu = _f(0, u)
        gl = 0.5 * l * l + 4.5
        gu = 0.5 * u * u + 4.5
    else:
        tl = 0.5 * (abs(l) + 1.0) * math.exp(-abs(l))
        tu = 0.5 * (abs(u) + 1.0) * math.exp(-abs(u))
        gl = 5.5
        gu = 5.5
    return _ends_err(l, u, c, tl, tu, gl, gu)


NGL = 16                     # E1 pieces: largest Gauss-Legendre order
GLW = 64.0                   # relative error of the table's weights, n <= NGL, / eps (measured <= 39.7, tested)
LTGT = math.log(_EPS / 8.0)  # E1 pieces: Gauss-Legendre truncation target, relative to the piece
NSER = 18                    # Laplace pieces of width < 1/2: terms of the series of alpha, beta


@numba.njit(cache=True)
def _e1_piece(law, p, q, gp, gq, Z, W):
    """``int_p^q h(z) f(z) dz`` with ``h`` linear, ``h(p) = gp >= 0``, ``h(q) = gq >= 0`` (the hat form of
    ``|aa z + bb|`` on a piece without sign change), ``[p, q]`` on one side of 0; standard density.
    Returns ``(value, bound / eps)`` with every term non-negative (no cancellation, docs/audit.md
    finding 12), or ``(-1, 0)`` where the Normal rule would need more than ``NGL`` points (the caller then
    takes the closed form: wide pieces, where it does not cancel much).

    Laplace (reflected to ``p >= 0``): ``(1/2) e^-p (gp alpha(w) + gq beta(w))``, ``w = q - p``,
    ``alpha = int_0^w (w - t) e^-t dt / w = (w + expm1(-w)) / w``, ``beta = int_0^w t e^-t dt / w =
    (-expm1(-w) - w e^-w) / w``; for ``w < 1/2`` their alternating series ``sum_{n>=2} (-1)^n c_n w^(n-1) /
    n!`` (``c_n = 1``, ``n - 1``; terms decreasing: truncation <= the first omitted term), term ``n``
    by ``n - 2`` recurrence steps (<= ``(n - 1) eps`` each with its coefficient), the sum ``eps / 2``
    per addition of the partial sums (<= the sum of |terms|); ``w >= 1/2``: libm's ``expm1`` / ``exp``
    charged 2 eps (<= 1 ulp documented), the product, difference and quotient ``eps / 2`` each (the
    differences cancel at most 9x there).  ``w`` itself rounds (``eps / 2``): ``|w alpha' / alpha|``,
    ``|w beta' / beta| <= 1``; ``e^-p``, the products and the sum: 4 eps of the value.

    Normal: ``n``-point Gauss-Legendre on ``[p, q]`` (nodes ``p + hw (1 + s_i)``, ``hw = w / 2``, the hat
    weights ``(1 -+ s_i) / 2`` from the table's nodes: no ``q - z`` cancellation), ``n`` from the
    Bernstein-ellipse bound (Trefethen, ATAP Thm 19.3, its ``(n + 1)``-point form read conservatively
    as ``rho^(-2(n - 1))`` for ``n`` points): on ``E_rho`` (``|Re s| <= alpha = (rho + 1/rho) / 2``,
    ``|Im s| <= beta = (rho - 1/rho) / 2``) ``|h| <= (gp + gq)(1 + alpha) / 2``, ``|phi| <= e^{(hw
    beta)^2 / 2 - dist^2 / 2} / sqrt(2 pi)``, ``dist = max(|c| - hw alpha, 0)``, ``c`` the centre; the
    piece is ``>= (gp + gq) hw phi(zf)``, ``zf`` its end farther from 0, so the truncation is ``<=
    eps / 8`` of it where ``log(64/15) + log((1 + alpha) / 2) - log(rho^2 - 1) + (hw beta)^2 / 2 + (zf^2 -
    dist^2) / 2 - 2 (n - 1) log rho <= log(eps / 8)``, ``rho = 2^e`` with ``hw alpha ~ 2`` (``e >= 1``; or
    ``e + 1`` if ``e`` needs more than ``NGL`` points).  Rounding, relative: a node ``z_i`` is off by ``<= eps (|z| + 2 hw) <= 2 eps zf``,
    so ``phi(z_i)`` by ``<= (2.25 zf^2 + 1) eps`` (exp <= 1 ulp); the hat 1.5 eps, two products,
    ``n - 1`` additions of positive terms ``eps / 2`` each, ``hw`` (an end moved by ``eps / 2`` of ``w``:
    <= 2 eps of the piece, ``h`` being linear and >= 0), ``1 / sqrt(2 pi)``; the table (weights
    <= ``GLW`` eps relative, nodes <= 0.4 eps): charged ``(2.5 zf^2 + n + 12 + GLW) eps`` + the truncation."""
    if not (q > p):
        return 0.0, 0.0
    if law != 0:
        if q <= 0.0:
            p, q, gp, gq = -q, -p, gq, gp
        w = q - p
        if w < 0.5:
            t = 0.5 * w
            sa = t
            sb = t
            ra = t          # sum over terms of |term| (n - 1): the recurrence's rounding
            rb = t
            aa_ = t
            ab_ = t
            for n in range(3, NSER + 1):
                t = t * w / n
                if n % 2 == 0:
                    sa += t
                    sb += (n - 1) * t
                else:
                    sa -= t
                    sb -= (n - 1) * t
                aa_ += t
                ab_ += (n - 1) * t
                ra += (n - 1) * t
                rb += n * (n - 1) * t
            tr = t * w / (NSER + 1)                      # first omitted term of alpha (beta: x NSER)
            ea = ra + 0.5 * (NSER - 1) * aa_ + tr * NSER / _EPS
            eb = rb + 0.5 * (NSER - 1) * ab_ + tr * NSER * NSER / _EPS
        else:
            e1 = math.expm1(-w)
            t2 = w * math.exp(-w)
            sa = (w + e1) / w
            sb = (-e1 - t2) / w
            ea = 2.0 * abs(e1) / w + sa
            eb = (2.0 * abs(e1) + 2.5 * t2) / w + sb
        ep = 0.5 * math.exp(-p)
        v = ep * (gp * sa + gq * sb)
        return v, ep * (gp * (ea + 0.5 * sa) + gq * (eb + 0.5 * sb)) * 1.01 + 4.0 * v
    hw = 0.5 * (q - p)
    ac = abs(p + hw)
    zf = max(abs(p), abs(q))
    # rho = 2^e with the ellipse's real half-axis hw alpha ~ 2 (e >= 1; no sqrt, log rho = e log 2), then
    # e + 1 if that needs more than NGL points
    e = max(1, min(math.frexp(4.0 / hw)[1], 300))
    n = NGL + 1
    for _ in range(2):
        rho = math.ldexp(1.0, e)
        al = 0.5 * (rho + 1.0 / rho)
        be = 0.5 * (rho - 1.0 / rho)
        dist = max(ac - hw * al, 0.0)
        lb = (math.log(64.0 / 15.0 * 0.5 * (1.0 + al) / ((rho - 1.0) * (rho + 1.0))) + 0.5 * (hw * be) ** 2
              + 0.5 * (zf - dist) * (zf + dist))
        n = 1 + int(math.ceil((lb - LTGT) / (2.0 * e * _LN2)))
        if n <= NGL:
            break
        e += 1
    if n < 2:
        n = 2
    if n > NGL:
        return -1.0, 0.0
    s = 0.0
    for i in range(n):
        si = Z[n, i]
        z = p + hw * (1.0 + si)
        s += W[n, i] * (gp * (1.0 - si) + gq * (1.0 + si)) * math.exp(-0.5 * z * z)
    v = 0.5 * hw * s / _SQ2PI
    return v, v * ((2.5 * zf * zf + n + 12.0 + GLW) + 1.01 / 8.0)


@numba.njit(cache=True)
def _two_sum(a, b):
    """Knuth's TwoSum: ``s + e == a + b`` exactly, ``s = fl(a + b)``."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


@numba.njit(cache=True)
def _dval(xe, R4, R6, D, UU):
    """``|d(x)| / U^2 = |(R4 - R6)(2 x - R4 - R6)| / U^2`` at a cut ``x`` (a double) for the cell's rounded
    values ``R4``, ``R6`` (doubles), ``D = fl(R4 - R6)``: ``2 x - R4 - R6`` by two TwoSums (its error
    ``<= eps / 2`` of it + ``eps^2 (2 |x| + |R4| + |R6|)``), so relative ``<= 3 eps`` (D, the product, U^2,
    the quotient ``eps / 2`` each) + that absolute part (returned second, / eps, in U^2 units)."""
    s1, e1 = _two_sum(2.0 * xe, -R4)
    s2, e2 = _two_sum(s1, -R6)
    S = s2 + (e1 + e2)
    return abs(D * S) / UU, _EPS * abs(D) * (2.0 * abs(xe) + abs(R4) + abs(R6)) / UU


@numba.njit(cache=True)
def _e1_cell(law, l, u, xl, xu, R4, R6, loc, scale, UU, aa, bb, bmj, c, fl_, fu_, Z, W):
    """``int_l^u |d| f`` in ``U^2`` units (the cell's part of ``E1`` before ``/ G``), ``d = (x - R6)^2 - (x -
    R4)^2``, ``x = loc + scale z``, ``[l, u]`` on one side of 0 (standardized cuts ``xl``, ``xu``), ``fl_ =
    f(l)``, ``fu_ = f(u)``; returns ``(value, bound / eps)``.  ``d`` is linear in ``z`` (slope ``aa``): split at
    its root ``zs = ((R4 + R6) / 2 - loc) / scale`` (where inside), each piece by :func:`_e1_piece` in the hat
    form with ``|d|`` at the ends from the factored form (:func:`_dval`: no cancellation, relative 3 eps,
    so 3 eps of the piece) and 0 at ``zs``; where a Normal piece is too wide for ``NGL`` points, the closed
    form ``+-(aa M + bb P)`` (:func:`_mom1`, :func:`_prob`; bound: their terms (:func:`_mom1_err` /
    :func:`_prob_err`), the products and sum, ``aa`` (4 eps) and ``bb`` (``bmj``) as before, ``(4 |aa|
    zm + bmj) P``).  Charged besides (/ eps): the ends' absolute part (:func:`_dval`, x ``P``), the root
    (off by ``<= eps dzr``, ``dzr = (|R4 + R6| / 2) / scale + |zr|``, or exact where ``R4 + R6`` is (TwoSum),
    ``loc = 0`` and the scale is a power of 2; where the true root may lie in the cell,
    ``|d|`` and the hat differ by ``<= 2 |d(zs)| <= 2 |aa|`` times that: ``2.02 |aa| dzr P``), ``P = int_l^u f
    <= (u - l) f(near end)``; for ``c >= 0`` each standardized end ``z`` off
    by ``<= eps (|z| + c)``, which moves the integral by ``<= 1.01 (|d(z)| + |aa| eps (|z| + c)) f(z)``
    times that (the integrand at the end)."""
    D = R4 - R6
    gl_, el_ = _dval(xl, R4, R6, D, UU)
    gu_, eu_ = _dval(xu, R4, R6, D, UU)
    xr = 0.5 * (R4 + R6)
    zr = (xr - loc) / scale
    zs = min(max(zr, l), u)
    inner = l < zs < u
    gz = 0.0 if inner else (gl_ if zs == l else gu_)
    v = 0.0
    e = 0.0
    zm = max(abs(l), abs(u))
    Pc = 1.01 * (u - l) * max(fl_, fu_)
    for side in range(2):
        p = l if side == 0 else zs
        q = zs if side == 0 else u
        if not (q > p):
            continue
        gp = gl_ if side == 0 else gz
        gq = gz if side == 0 else gu_
        vp, ep = _e1_piece(law, p, q, gp, gq, Z, W)
        if vp < 0.0:
            M = _mom1(law, p, q)
            P = _prob(law, p, q)
            sg = 1.0 if aa * (0.5 * (p + q)) + bb >= 0.0 else -1.0
            vp = max(sg * (aa * M + bb * P), 0.0)
            ep = (abs(aa) * _mom1_err(law, p, q, -1.0) + abs(bb) * _prob_err(law, p, q, -1.0)
                  + 2.0 * (abs(aa * M) + abs(bb * P)) + (4.0 * abs(aa) * zm + bmj) * Pc)
        else:
            ep += 3.0 * vp
        v += vp
        e += ep
    e += (el_ + eu_) * Pc
    # the computed root is off by <= eps dzr; exact (dzr = 0) where R4 + R6 is (TwoSum), loc = 0 and the
    # scale a power of 2
    xs_, xe_ = _two_sum(R4, R6)
    exact_root = xe_ == 0.0 and loc == 0.0 and math.frexp(scale)[0] == 0.5 and abs(xs_) > 1e-300
    dzr = 0.0 if exact_root else abs(xr) / scale + abs(zr)
    if dzr > 0.0 and l - 1.01 * _EPS * dzr <= zr <= u + 1.01 * _EPS * dzr:
        e += 2.02 * abs(aa) * dzr * Pc
    if c >= 0.0:
        dl = (abs(l) + c) * 1.01
        du = (abs(u) + c) * 1.01
        e += 1.01 * (dl * (gl_ + abs(aa) * _EPS * dl) * fl_ + du * (gu_ + abs(aa) * _EPS * du) * fu_)
    return v, e


@numba.njit(cache=True)
def _mgf(law, l, u, a, b, th):
    """int_l^u e^{th (a z + b)} f(z) dz (standard density, cell on one side of 0), or an upper
    bound where a factor underflows; inf on overflow (the Chernoff bound then skips this th)."""
    s = th * a
    if law == 0:
        lo, hi = l - s, u - s
        if lo > 0.0 or hi < 0.0:
            x0 = lo if lo > 0.0 else -hi            # distance of the shifted cell from 0
            x1 = hi if lo > 0.0 else -lo
            if x0 < 30.0:
                P = 0.5 * (math.erfc(x0 / _SQ2) - math.erfc(x1 / _SQ2))
                if P <= 0.0:
                    return 0.0
                lp = math.log(P)
            else:
                # Mills: int_x0^inf phi <= phi(x0) / x0 (upper bound, no underflow)
                lp = -0.5 * x0 * x0 - math.log(x0 * _SQ2PI)
        else:
            P = 1.0 - 0.5 * math.erfc(hi / _SQ2) - 0.5 * math.erfc(-lo / _SQ2)
            if P <= 0.0:
                return 0.0
            lp = math.log(P)
        return math.exp(lp + th * b + 0.5 * s * s)
    r = s - 1.0 if l >= 0.0 else s + 1.0
    w = u - l
    ar = abs(r)
    # 0.5 e^{r z} over [l, u] = 0.5 e^{r z_hi} (1 - e^{-|r| w}) / |r|, z_hi the end where r z is largest
    zt = u if r > 0.0 else l
    if ar * w < 1e-8:
        fac = w
    else:
        fac = -math.expm1(-ar * w) / ar      # in (0, w]: no overflow, and no underflow below w e^-ar w
    e = r * zt + th * b
    if e > 700.0 or fac < 1e-280:
        return 0.5 * math.exp(e + math.log(fac))       # log space near overflow / underflow (as before)
    return 0.5 * math.exp(e) * fac


@numba.njit(cache=True)
def _affine_exact(a, z, b):
    """``(fl(a z + b), exact)``: ``exact`` is True iff the product and the sum were both exact (the
    rounding errors of both, by Dekker's TwoProduct with Veltkamp splitting and Knuth's TwoSum, are 0),
    i.e. ``fl(a z + b)`` is the real number ``a z + b`` itself.  Finite inputs of moderate size (the
    splitting constant 2^27 + 1 must not overflow; a product in the subnormal range may be called exact
    when it is off by < 2^-1074, which moves a phase by nothing measurable)."""
    s, r = _affine_dd(a, z, b)  # r = 0 iff both error terms are 0 (NaN terms give r NaN: not exact)
    return s, (r == 0.0 and math.isfinite(s))


@numba.njit(cache=True)
def _affine_dd(a, z, b):
    """``(s, r)`` with ``|a z + b - s| <= r`` for the real number ``a z + b``: ``s = fl(a z + b)``, ``r`` the
    sum of the two error-free transformations' error terms (Dekker's TwoProduct, Knuth's TwoSum, as
    :func:`_affine_exact`: ``a z + b = s + es + ep`` exactly), rounded up.  ``r = 0`` iff both are exact."""
    p = a * z
    ca = 134217729.0 * a
    ah = ca - (ca - a)
    al = a - ah
    cz = 134217729.0 * z
    zh = cz - (cz - z)
    zl = z - zh
    ep = ((ah * zh - p) + ah * zl + al * zh) + al * zl
    s = p + b
    bb = s - p
    es = (p - (s - bb)) + (b - bb)
    r = abs(ep) + abs(es)
    if r > 0.0:
        r = r * (1.0 + 4.0 * _EPS) + 1e-300
    return s, r


@numba.njit(cache=True)
def _phase_gap(s1, r1, s2, r2):
    """Upper bound of ``|P1 - P2|`` for reals ``P1``, ``P2`` with ``|P1 - s1| <= r1``, ``|P2 - s2| <= r2``
    (:func:`_affine_dd`): ``|s1 - s2| + r1 + r2``, the float sum and difference rounded up; 0 iff
    ``s1 == s2`` and ``r1 = r2 = 0``."""
    d = abs(s1 - s2) + r1 + r2
    if d > 0.0:
        d = d * (1.0 + 8.0 * _EPS) + 1e-300
    return d


@numba.njit(cache=True)
def _ibp_order(l, u, wt, dcell, wc0):
    """Integration by parts on a Normal cell [l, u] (weight ``wt``): from ``wc = wc0``, x 1.5 until some
    ``R <= 60`` has the remainder bound ``<= dcell`` (:func:`_endpoint`); returns ``(wc, R, rem)``."""
    zmin = min(abs(l), abs(u))
    wc = wc0
    R = 0
    rem = 0.0
    while True:
        lfac = 0.0
        for rr in range(1, 61):
            lfac += 0.5 * math.log(rr)
            lr = (math.log(1.086435 * (u - l) / _SQ2PI) - 0.25 * zmin * zmin + lfac - rr * math.log(wc)
                  + math.log(wt))
            if lr <= math.log(dcell):
                R = rr
                rem = math.exp(lr)
                break
        if R > 0:
            break
        wc *= 1.5
    return wc, R, rem


@numba.njit(cache=True)
def _ibp_rem(l, u, wt, wc, R):
    """The remainder bound of :func:`_ibp_order` at a given ``(wc, R)`` (same arithmetic)."""
    zmin = min(abs(l), abs(u))
    lfac = 0.0
    lr = 0.0
    for rr in range(1, R + 1):
        lfac += 0.5 * math.log(rr)
        lr = (math.log(1.086435 * (u - l) / _SQ2PI) - 0.25 * zmin * zmin + lfac - rr * math.log(wc)
              + math.log(wt))
    return math.exp(lr)


@numba.njit(cache=True)
def _r2(pw, x, n):
    """sum_{j=2}^n C(n, j) p0^(n-j) x^j (non-negative terms, no cancellation); pw[i] = p0^i
    (powers by running products instead of pow: relative rounding O(n eps), as before)."""
    s = 0.0
    c = 0.5 * n * (n - 1)
    xp = x * x
    for j in range(2, n + 1):
        s += c * pw[n - j] * xp
        c = c * (n - j) / (j + 1)
        xp *= x
    return s


@numba.njit(cache=True)
def _cpow(z, n):
    """z^n (n >= 1) by binary powering: at most 2 log2(n) complex products; relative error
    <= (n - 1) sqrt(5) eps (1 + O(n eps)) (each product sqrt(5) eps; squaring doubles the error)."""
    r = complex(1.0, 0.0)
    first = True
    while n > 0:
        if n & 1:
            if first:
                r = z
                first = False
            else:
                r = r * z
        n >>= 1
        if n > 0:
            z = z * z
    return r


@numba.njit(cache=True)
def _rpow_up(x, n):
    """Upper bound of x^n for x >= 0, n >= 0 (binary powering, then 1 + 4 n eps for the roundings)."""
    if n == 0:
        return 1.0
    n0 = n
    r = 1.0
    while n > 0:
        if n & 1:
            r *= x
        n >>= 1
        if n > 0:
            x = x * x
    return r * (1.0 + 4.0 * (n0 + 1) * _EPS)


@numba.njit(cache=True)
def _phasor_rho(w0, a, b, l, u):
    """Relative error per harmonic of the phasors e^{i j theta}, theta = w0 (a z + b), z in [l, u]: the
    computed first phase is off by <= eps (1.01 w0 (2 |a| |z| + |b|) + 3 |theta|) (product, sum,
    product, and w0 = pi / L itself), cos / sin add sqrt(2) eps, the step e^{2 i theta} (one complex
    square) is then off by 2 x that + sqrt(5) eps, each recurrence step adds that + sqrt(5) eps: at odd
    harmonic j the phasor is off by <= j (dtheta + 3.7 eps).  |theta| <= max over the two ends."""
    zm = max(abs(l), abs(u))
    th = w0 * max(abs(a * l + b), abs(a * u + b))
    return _EPS * (1.01 * w0 * (2.0 * abs(a) * zm + abs(b)) + 3.0 * th + 3.7)


@numba.njit(cache=True)
def _r2c(pw, x, xc, c, nn):
    """The saturating-cells variant of :func:`_r2`: ``c s2 + xc (s1 + s2)`` with ``s2`` = ``_r2(x, nn)``
    and ``s1 = nn p0^(nn-1) x`` (the bound of ``Chi Psi^nn`` beyond first order, ``Chi = c + chi``,
    ``|chi| <= xc``, ``|psi| <= x``)."""
    s2 = _r2(pw, x, nn)
    s1 = nn * pw[nn - 1] * x if nn >= 1 else 0.0
    return c * s2 + xc * (s1 + s2)


@numba.njit(cache=True)
def _tail_cutoff(pw, C, C6, C4, c6, c4, n, tN, need_p, need6, need4, ea, epp, epn):
    """The smallest ``T > tN`` (to a factor 1.5^(1/4096)) at which :func:`_tails_ok` holds: bracket
    by steps of 1.5 from ``tN``, then 12 geometric bisection steps.  Only where the harmonics stop:
    the caller evaluates the tail bounds at the ``T`` returned, so any ``T`` is rigorous."""
    Tlo = tN
    T = tN
    while True:
        T *= 1.5
        if _tails_ok(pw, C, C6, C4, c6, c4, n, T, need_p, need6, need4, ea, epp, epn):
            break
        Tlo = T
    for _ in range(12):
        Tm = math.sqrt(Tlo * T)
        if _tails_ok(pw, C, C6, C4, c6, c4, n, Tm, need_p, need6, need4, ea, epp, epn):
            T = Tm
        else:
            Tlo = Tm
    return T


@numba.njit(cache=True)
def _tails_ok(pw, C, C6, C4, c6, c4, n, T, need_p, need6, need4, ea, epp, epn):
    """The polynomial tail bounds (beyond the last grid point, where ``min(p, C_j / t) = C_j / t``)
    at ``T`` meet every requested target (``E|S|``: ``ea``; ``P(S > 0)``: ``epp``; ``nu``: ``epn``)."""
    if _r2(pw, C / T, n) / (3.0 * T) > ea:
        return False
    if need_p and _r2(pw, C / T, n) / 2.0 > epp:
        return False
    if need6 and _r2c(pw, C / T, C6 / T, c6, n - 1) / 2.0 > epn:
        return False
    if need4 and _r2c(pw, C / T, C4 / T, c4, n - 1) / 2.0 > epn:
        return False
    return True


@numba.njit(cache=True)
def _endpoint(law, loc, scale, levels, mids, m, X6, X4, k, eps_abs, need_p, need6, need4, eps_p, eps_nu, Z, W,
              out, plan=False, group=False, noalias=False):
    """E|S| at one piece end (module doc); out[0] = E|S|, out[1] = error bound, out[2] = harmonics,
    out[3] = L, out[4] = aliasing bound, out[5] = tail bound, out[6] = bound of the characteristic
    function and rounding errors, out[7] = quadrature / remainder bound of psi per harmonic (data
    units^2 except out[2], out[3] in d / U^2 units, out[7] probability).

    Rates (``need_p``, ``need6``, ``need4``; ``eps_p`` the target absolute error of ``P(S > 0)``,
    ``eps_nu`` of ``nu6`` and ``nu4``): out[8] = P(S > 0), out[9] = nu6(S <= 0) = E[1{xi_1
    saturates under X6}; S <= 0], out[10] = nu4(S > 0) (NaN where not requested, 0 where the
    candidate cannot saturate), out[11] = bound of the error of out[8], out[12] = of out[9] and
    out[10]; out[13:16] = parts of the bounds (tail / pi, aliasing, summation rounding).  Same series at the same harmonics (module doc of :mod:`._expect_46`):
    ``P(S > 0) = P_1 + mR / 2 + (2 / pi) sum_j Im R_j / j`` (the square wave's odd harmonics),
    ``nu(S > 0) = nu_1 + mR_nu / 2 + (2 / pi) sum_j Im (Chi Psi^(k-1) - first order) / j``."""
    lmax = levels[levels.size - 1]
    lmin = levels[0]          # saturation: x / X beyond [lmin, lmax] (MXINT8: -2 .. 127/64; odd grids: -lmax)
    U = X6 if X6 > 0 else (X4 if X4 > 0 else m)
    nm = mids.size
    # mirror symmetry (law even about 0 AND an odd rounding grid: d is even): the cells with z >= 0
    # only, twice.  Asymmetric grids (MXINT8: -2 .. 127/64) take every cell.
    sym = loc == 0.0
    nl_ = levels.size
    for i in range(nl_):
        if levels[i] != -levels[nl_ - 1 - i]:
            sym = False
            break
    cuts = np.empty(4 + 2 * (nm + 2))
    nc = 0
    cuts[0] = 0.0
    cuts[1] = -m
    cuts[2] = m
    cuts[3] = loc
    nc = 4
    for X in (X6, X4):
        if X > 0:
            for i in range(nm):
                cuts[nc] = X * mids[i]
                nc += 1
            cuts[nc] = X * lmin
            cuts[nc + 1] = X * lmax
            nc += 2
    xs = np.sort(cuts[:nc])
    x = np.empty(nc)
    nx = 0
    for i in range(nc):
        v = xs[i]
        if v < -m or v > m:
            continue
        if nx > 0 and not (v - x[nx - 1] > 1e-15 * m):
            continue
        x[nx] = v
        nx += 1
    x[0] = -m
    x[nx - 1] = m
    ncell = nx - 1
    zl = np.empty(ncell)
    zu = np.empty(ncell)
    a = np.empty(ncell)
    b = np.empty(ncell)
    bm = np.empty(ncell)
    R4s = np.empty(ncell)
    R6s = np.empty(ncell)
    p = np.empty(ncell)
    atom = np.zeros(ncell, np.bool_)
    sat6 = np.zeros(ncell, np.bool_)
    sat4 = np.zeros(ncell, np.bool_)
    G = 0.0
    for j in range(ncell):
        lo, hi = x[j], x[j + 1]
        ctr = 0.5 * (lo + hi)
        sat6[j] = X6 > 0 and (ctr > X6 * lmax or ctr < X6 * lmin)
        sat4[j] = X4 > 0 and (ctr > X4 * lmax or ctr < X4 * lmin)
        R6 = X6 * levels[np.searchsorted(mids, ctr / X6)] if X6 > 0 else 0.0
        R4 = X4 * levels[np.searchsorted(mids, ctr / X4)] if X4 > 0 else 0.0
        R6s[j] = R6
        R4s[j] = R4
        at = abs(R4 - R6) <= 1e-12 * (abs(R4) + abs(R6))
        atom[j] = at
        r6, r4 = R6 / U, R4 / U
        al = 0.0 if at else 2.0 * (r4 - r6)
        be = 0.0 if at else r6 * r6 - r4 * r4
        a[j] = al * scale / U
        b[j] = be + al * loc / U
        bm[j] = 2.0 * (r6 * r6 + r4 * r4 + abs(al * loc / U)) + abs(b[j])
        # bb exact (no rounding to charge, E1 only): loc = 0, r6 = R6 / U and r4 = R4 / U exact quotients,
        # r6^2 - r4^2 with an exact product and sum (error-free transformations; MX grids: always)
        if loc == 0.0 and not at:
            q6, e6 = _affine_exact(r6, U, -R6)
            q4, e4 = _affine_exact(r4, U, -R4)
            if q6 == 0.0 and e6 and q4 == 0.0 and e4 and _affine_exact(r6, r6, 0.0)[1]:
                bex, eb_ = _affine_exact(-r4, r4, r6 * r6)
                if eb_ and bex == be:
                    bm[j] = 0.0
        zl[j] = (lo - loc) / scale
        zu[j] = (hi - loc) / scale
        p[j] = _prob(law, zl[j], zu[j])
        G += p[j]
    p0 = 0.0
    C = 0.0
    E1 = 0.0
    E1e = 0.0      # rounding bound of E1 / eps (the cancelling differences, below)
    # the standardized cuts (x - loc) / scale are exact for loc = 0 and a power-of-2 scale (then c = -1)
    cl = -1.0 if (loc == 0.0 and math.frexp(scale)[0] == 0.5) else abs(loc) / scale
    nsel = 0
    tmax = 0.0
    dmax = 0.0
    sel = np.empty(ncell, np.int64)
    Cj = np.zeros(ncell)
    # saturating cells: c = atom mass, Cs = sum of Cj, ns = total mass; P1: sum of P(d > 0; cell)
    c6 = 0.0
    C6 = 0.0
    n6 = 0.0
    c4 = 0.0
    C4 = 0.0
    n4 = 0.0
    P1 = 0.0
    P16 = 0.0
    P14 = 0.0
    # where E1's weight k p0^(k-1) is <= 1e-4 (k = 16, 32 on most ends), E1 by the closed form with the
    # term-wise bound of finding 12 (its looseness scaled by the weight; same values and cost as before);
    # elsewhere without cancellation (_e1_cell)
    p0w = 0.0
    for j in range(ncell):
        if atom[j]:
            p0w += p[j]
    cheap = k >= 2 and k * (p0w / G) ** (k - 1) <= 1e-4
    for j in range(ncell):
        p[j] /= G
        if sat6[j]:
            n6 += p[j]
        if sat4[j]:
            n4 += p[j]
        if atom[j]:
            p0 += p[j]
            if sat6[j]:
                c6 += p[j]
            if sat4[j]:
                c4 += p[j]
            continue
        if p[j] <= 0.0:
            continue
        sel[nsel] = j
        nsel += 1
        l, u, aa, bb = zl[j], zu[j], a[j], b[j]
        # |cf_j(t)| <= Cj / t: Normal, by parts on a monotone density, 2 max(f(l), f(u)) / |a|;
        # Laplace, from the closed form (1/2)|e^{s u} - e^{s l}| / |s| with |s| >= t |a|: (f(l) + f(u)) / |a|
        fl_ = _f(law, l)
        fu_ = _f(law, u)
        if law == 0:
            Cj[j] = 2.0 * max(fl_, fu_) / G / abs(aa)
        else:
            Cj[j] = (fl_ + fu_) / G / abs(aa)
        C += Cj[j]
        tmax = max(tmax, Cj[j] / max(p[j], 1e-300))
        dmax = max(dmax, abs(aa * l + bb), abs(aa * u + bb))
        zs = min(max(-bb / aa, l), u)
        Pu = _prob(law, zs, u)
        Pl = _prob(law, l, zs)
        if plan:
            # (planning pass: the harmonics it returns do not depend on E1; at k <= 2, where E1 is formed without
            # cancellation by _e1_cell, that was ~1/4 of the planning time)
            pass
        elif cheap:
            Mu = _mom1(law, zs, u)
            Ml = _mom1(law, l, zs)
            su = 1.0 if aa > 0 else -1.0
            E1 += max(su * (aa * Mu + bb * Pu) - su * (aa * Ml + bb * Pl), 0.0) / G
            # each term's own rounding (_mom1_err / _prob_err), the products, sums and aa (4 eps of |aa| int |z| f
            # + |bb| int f), bb (bm, or 0 where proven exact), times int f
            E1e += (abs(aa) * (_mom1_err(law, zs, u, cl) + _mom1_err(law, l, zs, cl))
                    + abs(bb) * (_prob_err(law, zs, u, cl) + _prob_err(law, l, zs, cl))
                    + 4.0 * (abs(aa) * (abs(Mu) + abs(Ml)) + abs(bb) * (Pu + Pl)) + bm[j] * (Pu + Pl)) / G
        else:
            # int |aa z + bb| f over the cell without cancellation, its rounding relative to the cell's own
            # value (docs/audit.md finding 12; bb: bm = 2 (r6^2 + r4^2) + |al loc / U| + |bb| as before)
            ve, vb = _e1_cell(law, l, u, x[j], x[j + 1], R4s[j], R6s[j], loc, scale, U * U, aa, bb, bm[j], cl,
                              fl_, fu_, Z, W)
            E1 += ve / G
            E1e += vb / G
        pp = (Pu if aa > 0 else Pl) / G
        P1 += pp
        if sat6[j]:
            P16 += pp
            C6 += Cj[j]
        if sat4[j]:
            P14 += pp
            C4 += Cj[j]
    n = k
    q = 1.0 - p0
    abs1 = n * p0 ** (n - 1) * E1
    # + G's (the ends' terms, a sum of ncell positive masses): relative to E1
    # (the inner terms of G = sum of the cells' _prob telescope: the same computed erfc / exp at a shared cut)
    E1e += E1 * (ncell + 4.0 + (_prob_err(law, zl[0], zu[0], cl)
                                + _prob_err(law, zl[ncell - 1], zu[ncell - 1], cl)) / G)
    err1 = n * p0 ** (n - 1) * E1e * _EPS      # rounding of abs1 beyond its own 4 / 8 eps (d / U^2 units)
    mR = 1.0 - p0 ** n - n * p0 ** (n - 1) * q
    UU = U * U
    # rates: exact one-non-atom-element parts (as _expect_46._endpoint_setup); a rate without
    # saturating mass is 0 exactly
    need6 = need6 and n6 > 0.0
    need4 = need4 and n4 > 0.0
    rates = need_p or need6 or need4
    pn2_ = p0 ** (n - 2) if n >= 2 else 0.0
    P_1 = n * p0 ** (n - 1) * P1
    if n >= 2:
        nu6_1 = c6 * (n - 1) * pn2_ * P1 + p0 ** (n - 1) * P16
        nu4_1 = c4 * (n - 1) * pn2_ * P1 + p0 ** (n - 1) * P14
        mR6 = n6 - c6 * p0 ** (n - 1) - c6 * (n - 1) * pn2_ * q - p0 ** (n - 1) * (n6 - c6)
        mR4 = n4 - c4 * p0 ** (n - 1) - c4 * (n - 1) * pn2_ * q - p0 ** (n - 1) * (n4 - c4)
    else:
        nu6_1 = P16
        nu4_1 = P14
        mR6 = 0.0
        mR4 = 0.0
    # rounding of the closed-form parts (cell probabilities, powers of p0, sums): generous
    rnd_cf = (8.0 * n + 64.0 + 4.0 * ncell) * _EPS
    out[8] = math.nan
    out[9] = math.nan
    out[10] = math.nan
    for i in range(11, NOUT):
        out[i] = 0.0
    if not need6 and n6 <= 0.0:
        out[9] = 0.0
    if not need4 and n4 <= 0.0:
        out[10] = 0.0
    if nsel == 0 or mR <= 0.0:
        if need_p:
            out[8] = P_1
        if need6:
            out[9] = n6 - nu6_1
        if need4:
            out[10] = nu4_1
        if need_p:
            out[11] = rnd_cf
        if need6 or need4:
            out[12] = rnd_cf
        out[0] = abs1 * UU
        out[1] = (4.0 * _EPS * abs1 + err1) * UU
        out[2] = 0.0
        out[3] = 0.0
        out[4] = 0.0
        out[5] = 0.0
        out[6] = 0.0
        out[7] = 0.0
        return
    # moments of d / U^2 (16-point Gauss-Legendre per cell), only to place L
    e1 = 0.0
    e2 = 0.0
    for jj in range(nsel):
        j = sel[jj]
        c, h = 0.5 * (zl[j] + zu[j]), 0.5 * (zu[j] - zl[j])
        for i in range(16):
            z = c + h * Z[16, i]
            w = h * W[16, i] * _f(law, z) / G
            dd = a[j] * z + b[j]
            e1 += w * dd
            e2 += w * dd * dd
    mu = n * e1
    sd = math.sqrt(max(n * (e2 - e1 * e1), 0.0))
    ea = eps_abs / UU * math.pi / 2.0
    # aliasing: Chernoff on a geometric grid of L and theta, or L = k dmax (no aliasing)
    L0 = max(dmax * 1.0000001, abs(mu) + 6.0 * sd, 1e-300)
    Lmax = n * dmax * (1.0 + 1e-12)
    tgt = 0.25 * ea * 2.0 / math.pi
    nth = 32
    lM = np.empty((2, nth))
    ths = np.empty(nth)
    # sym (loc = 0, odd grid): the law and d are even, mirrored cells have the same moment
    # generating function: the cells with z >= 0 only, twice
    wm = 2.0 if sym else 1.0
    # (planning pass: no aliasing bound, L = L0 -- the driver only compares harmonic counts)
    # (``noalias``: no Chernoff search, L = k max|d|: no aliasing at all -- cheaper where the end needs few
    # harmonics: the search costs 64 moment generating functions per cell, ~0.4 ms for MXINT8's ~260 cells)
    for it in range(0 if (plan or noalias) else nth):
        th = (1.0 / L0) * 1.5 ** (it - 2)
        ths[it] = th
        for sgi in range(2):
            sg = 1.0 if sgi == 0 else -1.0
            M = p0
            for jj in range(nsel):
                j = sel[jj]
                if sym and zl[j] < 0.0:
                    continue
                M += wm * _mgf(law, zl[j], zu[j], a[j], b[j], sg * th) / G
            if math.isfinite(M) and M > 0.0:
                lM[sgi, it] = n * math.log(M)
            else:
                lM[sgi, it] = math.inf
    L = min(L0, Lmax) if plan else Lmax
    al_abs = 0.0
    al_p = 0.0
    # rates: P(|S| >= L) <= e^{-th L} M(th)^k (any th > 0), below a quarter of eps_p
    tgt_p = 0.25 * min(eps_p if need_p else math.inf, eps_nu if (need6 or need4) else math.inf)
    for iL in range(0 if (plan or noalias) else 80):
        LL = L0 * 1.1 ** iL
        if LL >= Lmax:
            break
        bA = 0.0
        bP = 0.0
        for sgi in range(2):
            best = math.inf
            bestp = math.inf
            for it in range(nth):
                e = lM[sgi, it] - ths[it] * LL
                vp = math.exp(min(e, 700.0))
                if vp < bestp:
                    bestp = vp
                if ths[it] < 1.0 / LL:
                    continue
                v = LL * vp
                if v < best:
                    best = v
            bA += best
            bP += bestp
        if bA <= tgt and bP <= tgt_p:
            L = LL
            al_abs = bA
            al_p = bP if rates else 0.0
            break
    # tail of the series: rho_2 on a geometric t grid (first point from which the bound holds)
    pw = np.empty(n + 1)
    pw[0] = 1.0
    for i in range(1, n + 1):
        pw[i] = pw[i - 1] * p0
    t0 = math.pi / L
    tN = max(tmax, t0) * 1.001
    ng = int(math.ceil(math.log(tN / t0) / math.log(1.05))) + 1
    tg = np.empty(ng + 1)
    for i in range(ng + 1):
        tg[i] = t0 * 1.05 ** i
    tN = tg[ng]
    suf = _r2(pw, C / tN, n) / (3.0 * tN)
    # rates: (2 / pi) sum_{j > J} |R_j| / j <= (1 / pi) int_T^inf rho_2(t) / t dt (target pi eps_p)
    # the tails get what is left of each target after the aliasing and the closed-form parts' rounding,
    # 10% kept for the characteristic-function errors (target 5% of the smaller target, below) and
    # the rounding of the harmonics and of the summation (0.1-6% of it, measured; the driver checks
    # the sums against its total)
    epp = max(0.9 * eps_p - al_p - rnd_cf, 0.5 * eps_p) * math.pi
    epn = max(0.9 * eps_nu - al_p - rnd_cf, 0.5 * eps_nu) * math.pi
    sufP = _r2(pw, C / tN, n) / 2.0 if need_p else 0.0
    suf6 = _r2c(pw, C / tN, C6 / tN, c6, n - 1) / 2.0 if need6 else 0.0
    suf4 = _r2c(pw, C / tN, C4 / tN, c4, n - 1) / 2.0 if need4 else 0.0
    T = -1.0
    tailA = 0.0
    tailP = 0.0          # tail bounds (of the t-integral, before the 1 / pi) of P(S > 0) and of nu6 / nu4
    tailN = 0.0
    bAs = np.empty(ng + 1)
    bPs = np.empty(ng + 1)
    bNs = np.empty(ng + 1)
    bAs[ng] = suf
    bPs[ng] = sufP
    bNs[ng] = max(suf6, suf4)
    for i in range(ng - 1, -1, -1):
        xx = 0.0
        x6 = 0.0
        x4 = 0.0
        for jj in range(nsel):
            j = sel[jj]
            v = min(p[j], Cj[j] / tg[i])
            xx += v
            if sat6[j]:
                x6 += v
            if sat4[j]:
                x4 += v
        suf += _r2(pw, xx, n) * (1.0 / tg[i] - 1.0 / tg[i + 1])
        bAs[i] = suf
        if rates:
            lg = math.log(tg[i + 1] / tg[i])
            if need_p:
                sufP += _r2(pw, xx, n) * lg
            if need6:
                suf6 += _r2c(pw, xx, x6, c6, n - 1) * lg
            if need4:
                suf4 += _r2c(pw, xx, x4, c4, n - 1) * lg
        bPs[i] = sufP
        bNs[i] = max(suf6, suf4)
    for i in range(ng + 1):
        if bAs[i] <= ea and bPs[i] <= epp and bNs[i] <= epn:
            T = tg[i]
            tailA = bAs[i]
            tailP = bPs[i]
            tailN = bNs[i]
            break
    if T < 0.0:
        # beyond tN the bounds are the pure polynomial forms, decreasing in T: bracket by steps of
        # 1.5, then bisect (geometric midpoints, 12 steps: T within 1.5^(1/4096) of the smallest
        # grid-free T meeting every target; the bound is evaluated at the T returned, so any T is
        # rigorous -- the bisection only avoids overshooting the targets by up to 1.5x in T)
        T = _tail_cutoff(pw, C, C6, C4, c6, c4, n, tN, need_p, need6, need4, ea, epp, epn)
        tailA = _r2(pw, C / T, n) / (3.0 * T)
        tailP = _r2(pw, C / T, n) / 2.0 if need_p else 0.0
        tailN = max(_r2c(pw, C / T, C6 / T, c6, n - 1) / 2.0 if need6 else 0.0,
                    _r2c(pw, C / T, C4 / T, c4, n - 1) / 2.0 if need4 else 0.0)
    # odd harmonics j <= J; every j > J has t_{j-2} > T (the tail bound's integral from T)
    J = int(math.ceil(T * L / math.pi)) + 2
    nh = (J + 1) // 2
    if plan:
        # planning only (the driver's budget split): the number of harmonics these targets need
        # (out[2]) and what they would need without P(S > 0) (out[4]), at L = L0
        out[2] = nh
        out[3] = L
        TA = -1.0
        for i in range(ng + 1):
            if bAs[i] <= ea and bNs[i] <= epn:
                TA = tg[i]
                break
        if TA < 0.0:
            TA = _tail_cutoff(pw, C, C6, C4, c6, c4, n, tN, False, need6, need4, ea, epp, epn)
        out[4] = (int(math.ceil(TA * L / math.pi)) + 3) // 2
        return
    w0 = math.pi / L
    psi_r = np.zeros(nh)
    psi_i = np.zeros(nh)
    acc_r = np.zeros(nh)
    acc_i = np.zeros(nh)
    # characteristic functions of the saturating cells (rates only)
    nhc = nh if (need6 or need4) else 0
    chi6_r = np.zeros(nhc)
    chi6_i = np.zeros(nhc)
    chi4_r = np.zeros(nhc)
    chi4_i = np.zeros(nhc)
    wsym = 1.0
    if sym:
        wsym = 2.0
    # target of each harmonic's characteristic-function error (all cells together): its effect on
    # E|S| / U^2 is <= (4 L / pi^2) sum_j 2 n (1 + delta)^(n-1) delta / j^2 <= L n delta (1.01)
    # (delta <= 0.01 / n keeps (1 + delta)^(n-1) <= 1.0102 in that step)
    dtgt = min(0.25 * ea * 2.0 / math.pi / (L * n * 1.02), 0.01 / n)
    if rates:
        # on a probability: (2 / pi) sum_{j odd <= J} 2 n (1.0102) delta / j, sum_j 1 / j <= 1 + ln(J) / 2
        epr = min(eps_p if need_p else math.inf, eps_nu if (need6 or need4) else math.inf)
        dtgt = min(dtgt, 0.05 * epr * math.pi / (4.0 * n * 1.02 * (1.0 + 0.5 * math.log(2.0 * nh))))
    ncs = 0
    for jj in range(nsel):
        if not sym or zl[sel[jj]] >= 0.0:
            ncs += 1
    dcell = dtgt / max(ncs, 1) * G / wsym
    # cell groups (docs/blocks.md §2f, "Grouped cells"): with ``group``, cells with the same slope ``a``, the
    # same side of 0 and the same saturation flags whose phases ``a z + b`` at both ends are exactly equal
    # (both computed without rounding, :func:`_affine_exact`) have the same phasors e^{i t (a z + b)} at every
    # harmonic, so their characteristic functions share one phasor per end: Laplace, (1/2)(sum e^{r u}
    # e^{i t d(u)} - sum e^{r l} e^{i t d(l)}) / s; Normal (high harmonics), the integration-by-parts
    # coefficients summed over the group.  A uniform grid (MXINT8: d(x + X0/64) = d(x)) has a handful of
    # groups instead of ~260 cells.  Without ``group`` every cell is its own group (the previous sums).
    # Since 2026-12-01 also cells whose phases differ by a phase gap <= GTOL eps (|a| max|z| + |b|) (shifted /
    # rescaled laws: z = (x - loc) / scale is rounded, so the periodic cells' phases differ by a few roundings):
    # each member's gap to its representative (exact bound, :func:`_affine_dd`, :func:`_phase_gap`) enters the
    # bound like a phasor rounding on that member's own terms, and the Laplace low harmonics add the width
    # differences to first order (docs/blocks.md §2f, "Grouped cells with a phase gap").
    gmem = np.empty(nsel, np.int64)      # cells (indices into the cell arrays) ordered by group
    gst = np.zeros(nsel + 1, np.int64)   # group g: gmem[gst[g]:gst[g + 1]]
    gof = np.full(nsel, -1, np.int64)
    ngr = 0
    gcnt = np.zeros(nsel, np.int64)
    ga_ = np.empty(nsel)
    gdu = np.empty(nsel)
    gdl = np.empty(nsel)
    gru = np.empty(nsel)
    grl = np.empty(nsel)
    gsc = np.empty(nsel)
    grp0 = np.empty(nsel, np.int64)
    # per cell: the computed phases at both ends and the bounds of their distance to the exact ones
    cdu = np.zeros(ncell)
    cru = np.zeros(ncell)
    cdl = np.zeros(ncell)
    crl = np.zeros(ncell)
    for jj in range(nsel):
        j = sel[jj]
        if sym and zl[j] < 0.0:
            continue
        found = -1
        du_, ru_ = _affine_dd(a[j], zu[j], b[j])
        dl_, rl_ = _affine_dd(a[j], zl[j], b[j])
        cdu[j] = du_
        cru[j] = ru_
        cdl[j] = dl_
        crl[j] = rl_
        if group:
            # exactly equal phases first (gap 0: the grouping of 2026-11-30 night), then phases within
            # GTOL eps of the group's scale |a| max|z| + |b| (shifted / rescaled laws: z = (x - loc) / scale
            # rounded, so the periodic cells' phases differ by a few roundings); the gap enters the bound
            for pas in range(2):
                for g in range(ngr):
                    r0 = grp0[g]
                    if not (ga_[g] == a[j] and sat6[r0] == sat6[j] and sat4[r0] == sat4[j]
                            and (zl[r0] >= 0.0) == (zl[j] >= 0.0)):
                        continue
                    gpu = _phase_gap(du_, ru_, gdu[g], gru[g])
                    gpl = _phase_gap(dl_, rl_, gdl[g], grl[g])
                    tau = 0.0 if pas == 0 else GTOL * _EPS * (gsc[g] + abs(a[j]) * max(abs(zl[j]), abs(zu[j]))
                                                              + abs(b[j]))
                    if gpu <= tau and gpl <= tau:
                        found = g
                        break
                if found >= 0:
                    break
        if found < 0:
            found = ngr
            ga_[ngr] = a[j]
            gdu[ngr] = du_
            gdl[ngr] = dl_
            gru[ngr] = ru_
            grl[ngr] = rl_
            gsc[ngr] = abs(a[j]) * max(abs(zl[j]), abs(zu[j])) + abs(b[j])
            grp0[ngr] = j
            ngr += 1
        gof[jj] = found
        gcnt[found] += 1
    for g in range(ngr):
        gst[g + 1] = gst[g] + gcnt[g]
    gfill = gst[:ngr].copy()
    for jj in range(nsel):
        g = gof[jj]
        if g >= 0:
            gmem[gfill[g]] = sel[jj]
            gfill[g] += 1
    for g in range(ngr):
        # the group's phasors come from its first cell: the one whose computed phase has the smallest rounding
        # bound (:func:`_phasor_rho`, which grows with |z|); every cell's exact phase is the same
        if gst[g + 1] - gst[g] > 1:
            qb = gst[g]
            rb = math.inf
            for q_ in range(gst[g], gst[g + 1]):
                jm = gmem[q_]
                rh = _phasor_rho(w0, a[jm], b[jm], zl[jm], zu[jm])
                if rh < rb:
                    rb = rh
                    qb = q_
            jm = gmem[qb]
            gmem[qb] = gmem[gst[g]]
            gmem[gst[g]] = jm
    # phase gaps: per cell (cgap) the largest distance between its exact phase and its representative's (the
    # group's first cell, whose phasors the group uses) at either end, gdel the largest in the group (0 for
    # exact groups); wdif = u_c - l_c - (u_r - l_r), the difference of the widths in z (both exact as TwoSum
    # pairs; 0 where the phases are equal: a (u - l) equal, same a), and the bound wdie of its rounding
    # (Laplace low harmonics, below)
    gdel = np.zeros(max(ngr, 1))
    cgap = np.zeros(ncell)      # per cell: its phase gap to the representative (either end)
    wdif = np.zeros(ncell)
    wdie = np.zeros(ncell)
    for g in range(ngr):
        jr = gmem[gst[g]]
        swr = zu[jr] - zl[jr]
        bb_ = swr - zu[jr]
        ewr = (zu[jr] - (swr - bb_)) + (-zl[jr] - bb_)
        for q_ in range(gst[g], gst[g + 1]):
            jm = gmem[q_]
            if q_ == gst[g]:
                continue
            gpu = _phase_gap(cdu[jm], cru[jm], cdu[jr], cru[jr])
            gpl = _phase_gap(cdl[jm], crl[jm], cdl[jr], crl[jr])
            if gpu > 0.0 or gpl > 0.0:
                gdel[g] = max(gdel[g], gpu, gpl)
                cgap[jm] = max(gpu, gpl)
                swm = zu[jm] - zl[jm]
                bb_ = swm - zu[jm]
                ewm = (zu[jm] - (swm - bb_)) + (-zl[jm] - bb_)
                # u_c - l_c - (u_r - l_r) = (swm - swr) + (ewm - ewr) exactly; three roundings of terms whose
                # sum of magnitudes is <= |swm - swr| + |ewm| + |ewr|
                dsw = swm - swr
                wdif[jm] = dsw + (ewm - ewr)
                wdie[jm] = 4.0 * _EPS * (abs(dsw) + abs(ewm) + abs(ewr)) + 1e-300
    quad_err = 0.0       # sum over cells of the Gauss-Legendre bounds (low harmonics)
    quad_err_h = 0.0     # largest remainder of the asymptotic series (high harmonics), per cell
    nq_max = 0
    rnd_c = 0.0          # sum over cells of (terms accumulated) x (cell mass): rounding of psi / eps
    # rounding of the phasors e^{i t_j d}: off by <= j rho_c at odd harmonic j (:func:`_phasor_rho`).
    # Times the size of the term it multiplies, per harmonic h:
    # rec(h) = jd lin(h) + const(h): Laplace end terms E / |s|, |s| >= max(1, jd w0 |a|) -> E rho_c
    # min(jd, 1 / (w0 |a|)); Normal low harmonics (h < hc) nodes of total weight p_c -> jd rho_c p_c;
    # Normal high harmonics (h >= hc, jd w0 |a| >= wc) |A| <= K / (jd w0 |a|) -> K (rho_c / (w0 |a|)
    # + (2 R + 4) eps / wc) (Horner's rounding included).  lin / const change at one harmonic per
    # cell: difference arrays dlin, dcon.
    lin0 = 0.0
    dlin = np.zeros(nh + 1)
    dcon = np.zeros(nh + 1)
    # Laplace, harmonics h < H0: psi by the form without cancellation, its error bound per harmonic
    errlow = np.zeros(H0)
    if law == 1:
        # Laplace cells, closed form (1/2)(e^{s u} - e^{s l}) e^{i t b} / s, s = i t a + r, r = -+1:
        # e^{i t_j (a z + b)} at z = u, l start at j = 1 and step by e^{2 i w0 (a z + b)}.  The loop
        # runs over harmonics outside and cells inside (independent cells: the inner loop
        # vectorizes); psi[h] is still summed over the cells in their order, as before.
        lr = np.empty(ncs)
        leu = np.empty(ncs)
        lel = np.empty(ncs)
        lcur = np.empty(ncs)
        lcui = np.empty(ncs)
        lclr = np.empty(ncs)
        lcli = np.empty(ncs)
        lsur = np.empty(ncs)
        lsui = np.empty(ncs)
        lslr = np.empty(ncs)
        lsli = np.empty(ncs)
        la = np.empty(ncs)
        lh = np.empty(ncs)
        vr = np.empty(ncs)
        vi = np.empty(ncs)
        ls6 = np.zeros(ncs, np.bool_)
        ls4 = np.zeros(ncs, np.bool_)
        lw = np.empty(ncs)
        lem = np.empty(ncs)
        lzl = np.empty(ncs)
        lbb = np.empty(ncs)
        lrho = np.empty(ncs)
        lgx = np.zeros(ncs)     # groups: the compensated sums' relative rounding / eps (low harmonics' bound)
        lxd = np.zeros(ncs)     # groups with a phase gap: sum_c gap_c w_c (e^{r l_c} + e^{r u_c}), sum_c e^{r l_c}
        ldw = np.zeros(ncs)     # wdif_c, its rounding bound, and the largest |wdif_c| (bound; low harmonics)
        ldwe = np.zeros(ncs)
        lxw = np.zeros(ncs)
        nl = 0
        for g in range(ngr):
            j = gmem[gst[g]]
            ngm = gst[g + 1] - gst[g]
            l, u, aa, bb = zl[j], zu[j], a[j], b[j]
            wt = wsym / G
            r = -1.0 if l >= 0.0 else 1.0
            lr[nl] = r
            leu[nl] = math.exp(r * u)
            lel[nl] = math.exp(r * l)
            egap = 0.0          # sum_c gap_c (e^{r u_c} + e^{r l_c}) (a group with a phase gap; 0 for the representative)
            if ngm > 1:
                # (a group: e^{r u}, e^{r l} summed over its cells, compensated (Neumaier); the phasors are the
                # first cell's)
                cpu_ = 0.0
                cpl_ = 0.0
                for q_ in range(gst[g] + 1, gst[g + 1]):
                    xu_ = math.exp(r * zu[gmem[q_]])
                    xl_ = math.exp(r * zl[gmem[q_]])
                    if gdel[g] > 0.0:
                        gq = cgap[gmem[q_]]
                        egap += gq * (xu_ + xl_)
                        lxd[nl] += gq * (zu[gmem[q_]] - zl[gmem[q_]]) * (xu_ + xl_)
                        # sum_c e^{r l_c} wdif_c (plain sum; rounding: each term's (wdie + 4 eps |wdif|) and the
                        # sum's ngm eps, of e^{r l_c} |wdif_c|)
                        wq = wdif[gmem[q_]]
                        ldw[nl] += xl_ * wq
                        ldwe[nl] += xl_ * (wdie[gmem[q_]] + (4.0 + ngm) * _EPS * abs(wq)) * 1.01
                        lxw[nl] = max(lxw[nl], (abs(wq) + wdie[gmem[q_]]) * 1.01)
                    su2 = leu[nl] + xu_
                    cpu_ += (leu[nl] - su2) + xu_ if abs(leu[nl]) >= abs(xu_) else (xu_ - su2) + leu[nl]
                    leu[nl] = su2
                    sl2 = lel[nl] + xl_
                    cpl_ += (lel[nl] - sl2) + xl_ if abs(lel[nl]) >= abs(xl_) else (xl_ - sl2) + lel[nl]
                    lel[nl] = sl2
                leu[nl] += cpu_
                lel[nl] += cpl_
            pu = w0 * (aa * u + bb)
            pl = w0 * (aa * l + bb)
            cu = complex(math.cos(pu), math.sin(pu))
            cl = complex(math.cos(pl), math.sin(pl))
            lcur[nl] = cu.real
            lcui[nl] = cu.imag
            lclr[nl] = cl.real
            lcli[nl] = cl.imag
            su_ = cu * cu
            sl_ = cl * cl
            lsur[nl] = su_.real
            lsui[nl] = su_.imag
            lslr[nl] = sl_.real
            lsli[nl] = sl_.imag
            la[nl] = aa
            lh[nl] = 0.5 * wt
            rho = _phasor_rho(w0, aa, bb, l, u)
            Ec = (leu[nl] + lel[nl]) * 0.5 * wt
            # a group with a phase gap: member c's phasors are its representative's, off by <= t gap_c
            # (|e^{ix} - e^{iy}| <= |x - y|), times its end terms e^{r z_c} lh / |s|: a phase rounding of w0 gap_c
            # per harmonic index on its own terms (x 1.01: t = jd w0 with w0 itself rounded, and the sums)
            Erho = Ec * rho + (1.01 * w0 * egap * 0.5 * wt if egap > 0.0 else 0.0)
            lin0 += Erho
            Kc = 1.0 / (w0 * abs(aa))
            hs_ = nh if Kc >= 2.0 * nh + 1.0 else int(math.ceil(max(Kc - 1.0, 0.0) / 2.0))   # first h: jd >= Kc
            dlin[hs_] -= Erho
            dcon[hs_] += Erho * Kc
            lxd[nl] *= 1.01
            # the closed form's own rounding: <= 14 eps of its end terms E / |s| (products, difference,
            # division; not of the cell's mass, which is much smaller than the end terms on narrow
            # cells: cancellation), harmonics h >= H0 only (below: the form without cancellation)
            rnd_c += 14.0 * Ec
            if ngm > 1:
                # the compensated sums over the group's cells (positive terms): relative error <= 2 eps + 2 ngm^2
                # eps^2 each (Higham, Accuracy and Stability, 2nd ed., §4.3); the exponentials' own rounding
                # (<= 2 eps each, as for one cell) is in the 14 eps above
                rnd_c += (4.0 + 4.0 * ngm * ngm * _EPS) * Ec
                lgx[nl] = 4.0 + 4.0 * ngm * ngm * _EPS
            lw[nl] = u - l
            lem[nl] = math.expm1(r * (u - l))
            lzl[nl] = l
            lbb[nl] = bb
            lrho[nl] = rho
            ls6[nl] = sat6[j]
            ls4[nl] = sat4[j]
            nl += 1
        i6c = np.empty(nl, np.int64)
        i4c = np.empty(nl, np.int64)
        n6c = 0
        n4c = 0
        for c in range(nl):
            if ls6[c]:
                i6c[n6c] = c
                n6c += 1
            if ls4[c]:
                i4c[n4c] = c
                n4c += 1
        for h in range(nh):
            tw = (2 * h + 1) * w0
            for c in range(nl):
                ta = tw * la[c]
                r = lr[c]
                cur, cui, clr, cli = lcur[c], lcui[c], lclr[c], lcli[c]
                nr = leu[c] * cur - lel[c] * clr          # (e^{s u} - e^{s l}) e^{i t b} / s,
                ni = leu[c] * cui - lel[c] * cli          # 1 / s = (r - i t a) / (r^2 + t^2 a^2)
                den = lh[c] / (r * r + ta * ta)
                vr[c] = (nr * r + ni * ta) * den
                vi[c] = (ni * r - nr * ta) * den
                sur, sui, slr, sli = lsur[c], lsui[c], lslr[c], lsli[c]
                lcur[c] = cur * sur - cui * sui
                lcui[c] = cur * sui + cui * sur
                lclr[c] = clr * slr - cli * sli
                lcli[c] = clr * sli + cli * slr
            if h < H0:
                # low harmonics (the largest weights): e^{s u} - e^{s l} = e^{s l} (e^{s w} - 1),
                # e^{s w} - 1 = expm1(r w) e^{i ta w} + (e^{i ta w} - 1), e^{i x} - 1 = -2 sin^2(x / 2)
                # + i sin x: no cancellation, rounding relative to the cell's own size
                el_acc = 0.0
                jd_ = 2.0 * h + 1.0
                for c in range(nl):
                    ta = tw * la[c]
                    r = lr[c]
                    w_ = lw[c]
                    em = lem[c]
                    phw = ta * w_
                    sn = math.sin(phw)
                    s2 = math.sin(0.5 * phw)
                    cm = -2.0 * s2 * s2
                    xr = em * (1.0 + cm) + cm
                    xi = sn * (1.0 + em)
                    mag = abs(em) * (1.0 + abs(cm)) + abs(cm) + abs(sn) * (1.0 + abs(em))
                    thl = tw * (la[c] * lzl[c] + lbb[c])
                    cr = math.cos(thl)
                    ci = math.sin(thl)
                    pre = lel[c]
                    yr = pre * (xr * cr - xi * ci)
                    yi = pre * (xr * ci + xi * cr)
                    dd = r * r + ta * ta
                    den = lh[c] / dd
                    vr[c] = (yr * r + yi * ta) * den
                    vi[c] = (yi * r - yr * ta) * den
                    if ldw[c] != 0.0:
                        # a group whose members' widths w_c differ from the representative's w: e^{s w_c} - 1 =
                        # (e^{s w} - 1) + e^{s w} (s (w_c - w) + O(s^2 (w_c - w)^2)), so the group's term gains
                        # lh e^{i t d(l)} e^{s w} sum_c e^{r l_c} (w_c - w) (no division by s; bound below)
                        ew = 1.0 + em
                        er_ = ew * (1.0 + cm)
                        ei_ = ew * sn
                        vr[c] += lh[c] * ldw[c] * (er_ * cr - ei_ * ci)
                        vi[c] += lh[c] * ldw[c] * (er_ * ci + ei_ * cr)
                    # |error| <= e^{r l} lh (1 + |ta|) / (r^2 + ta^2) x mag x (16 eps + j rho_c) (the
                    # direct phase t d(l) off by <= j rho_c, :func:`_phasor_rho`)
                    el_acc += pre * lh[c] * (1.0 + abs(ta)) / dd * mag * ((16.0 + lgx[c]) * _EPS + jd_ * lrho[c])
                    if lxd[c] > 0.0 or ldw[c] != 0.0:
                        # a group with a phase gap: member c's exact term lh e^{r l_c} e^{i t d_c(l_c)} (e^{s w_c}
                        # - 1) / s against the computed lh e^{r l_c} e^{i t d(l)} ((e^{s w} - 1) / s + e^{s w} D_c),
                        # D_c = w_c - w (representative's phase and width w): the difference is
                        #   lh e^{r l_c} [(e^{i t d_c} - e^{i t d}) (e^{s w_c} - 1) / s + e^{i t d} e^{s w} (e^{s D_c}
                        #   - 1 - s D_c) / s],
                        # |e^{ix} - e^{iy}| <= |x - y|, |e^{s w_c} - 1| / |s| <= w_c max(1, e^{r w_c}),
                        # |e^{x} - 1 - x| <= |x|^2 e^{|x|} / 2, and e^{r l_c} max(1, e^{r w}) <= max(e^{r l_c},
                        # e^{r u_c}) e^{|D_c|}: summed over the group <= lh (t sum_c gap_c w_c (e^{r l_c} + e^{r
                        # u_c}) + |s| Dmax^2 e^{(|s| + 1) Dmax} / 2 (leu + lel)) (x 1.01: the sums' and t's
                        # rounding); + the correction's rounding: lh max(1, e^{r w}) (its sum's bound + (16 + 2 |s| w)
                        # eps |sum|: the products, and e^{s w} from the rounded width fl(u - l))
                        sa = math.sqrt(dd)
                        xw = lxw[c]
                        el_acc += lh[c] * (tw * lxd[c] + 0.5 * sa * xw * xw * math.exp((sa + 1.0) * xw)
                                           * (leu[c] + lel[c])) * 1.01
                        el_acc += (lh[c] * max(1.0, 1.0 + em) * (ldwe[c] + (16.0 + 2.0 * sa * w_) * _EPS * abs(ldw[c]))
                                   * 1.01)
                errlow[h] = el_acc
            sr = psi_r[h]
            si = psi_i[h]
            for c in range(nl):
                sr += vr[c]
                si += vi[c]
            psi_r[h] = sr
            psi_i[h] = si
            if nhc > 0:
                # the saturating cells (index lists: same cells, same order as the flags)
                for q in range(n6c):
                    c = i6c[q]
                    chi6_r[h] += vr[c]
                    chi6_i[h] += vi[c]
                for q in range(n4c):
                    c = i4c[q]
                    chi4_r[h] += vr[c]
                    chi4_i[h] += vi[c]
    for g in range(ngr):
        if law == 1:
            break
        j = gmem[gst[g]]
        ngm = gst[g + 1] - gst[g]
        l, u, aa, bb = zl[j], zu[j], a[j], b[j]
        wt = wsym / G
        # Normal.  High harmonics (|w| = t |a| >= wc): integration by parts R times,
        #   int_l^u e^{i w z} phi = [e^{i w z} sum_{r<R} He_r(z) phi(z) / (i w)^(r+1)]_l^u + rem,
        #   |rem| <= int_l^u |He_R phi| / |w|^R <= K sqrt(R!) (u - l) e^{-zmin^2/4} / (sqrt(2 pi) |w|^R)
        # (Cramer: |He_R(z)| e^{-z^2/4} <= K sqrt(R!), K = 1.086435);  low harmonics: Gauss-Legendre.
        # A group shares (wc, R): wc the largest of its cells' own, R the largest any cell needs at that wc
        # (the bound sqrt(R!) / wc^R decreases in wc, and in R for R < wc^2: every cell's rem stays <= dcell)
        wc = 24.0
        for q_ in range(gst[g], gst[g + 1]):
            jm = gmem[q_]
            wcm, Rm, remm = _ibp_order(zl[jm], zu[jm], wt, dcell, 24.0)
            if wcm > wc:
                wc = wcm
        R = 0
        for q_ in range(gst[g], gst[g + 1]):
            jm = gmem[q_]
            wcm, Rm, remm = _ibp_order(zl[jm], zu[jm], wt, dcell, wc)
            if Rm > R:
                R = Rm
        for q_ in range(gst[g], gst[g + 1]):
            jm = gmem[q_]
            remm = _ibp_rem(zl[jm], zu[jm], wt, wc, R)
            if remm > quad_err_h:
                quad_err_h = remm
        hc = int(math.ceil((wc / (abs(aa) * w0) - 1.0) / 2.0))     # first harmonic with t |a| >= wc
        if hc < 0:
            hc = 0
        if hc > nh:
            hc = nh
        if hc < nh:
            cu_ = np.zeros(R)
            cl_ = np.zeros(R)
            Kul = 0.0
            Kgap = 0.0      # sum_c gap_c Kul_c (a group with a phase gap)
            pg = 0.0
            cum = np.empty(R)
            clm = np.empty(R)
            ccu = np.zeros(R)
            ccl = np.zeros(R)
            for q_ in range(gst[g], gst[g + 1]):
                jm = gmem[q_]
                pg += p[jm]
                for (zz, cc_) in ((zu[jm], cum), (zl[jm], clm)):
                    ph0 = _f(0, zz)
                    hm1 = 0.0
                    h0 = 1.0
                    for rr in range(R):
                        cc_[rr] = h0 * ph0 * wt
                        hn = zz * h0 - rr * hm1
                        hm1 = h0
                        h0 = hn
                # |A_u| <= sum_r |c_r| / |w|^(r+1), |w| >= 24; Horner's rounding (2 R + 4) eps of it
                # (a group: the sum over its cells of each cell's own, >= that of the summed coefficients)
                Kc_ = 0.0
                for rr in range(R):
                    Kc_ += (abs(cum[rr]) + abs(clm[rr])) / 24.0 ** rr
                Kul += Kc_
                Kgap += cgap[jm] * Kc_
                if q_ == gst[g]:
                    for rr in range(R):
                        cu_[rr] = cum[rr]
                        cl_[rr] = clm[rr]
                else:
                    # (compensated, Neumaier: the corrections in ccu / ccl, added at the end)
                    for rr in range(R):
                        x_ = cum[rr]
                        s_ = cu_[rr] + x_
                        ccu[rr] += (cu_[rr] - s_) + x_ if abs(cu_[rr]) >= abs(x_) else (x_ - s_) + cu_[rr]
                        cu_[rr] = s_
                        x_ = clm[rr]
                        s_ = cl_[rr] + x_
                        ccl[rr] += (cl_[rr] - s_) + x_ if abs(cl_[rr]) >= abs(x_) else (x_ - s_) + cl_[rr]
                        cl_[rr] = s_
            if ngm > 1:
                for rr in range(R):
                    cu_[rr] += ccu[rr]
                    cl_[rr] += ccl[rr]
            rnd_c += (4.0 * R + 8.0) * pg * wt
            rho = _phasor_rho(w0, aa, bb, l, u)
            dcon[hc] += Kul * (rho / (w0 * abs(aa)) + (2.0 * R + 4.0) * _EPS / wc)
            if Kgap > 0.0:
                # a group with a phase gap: member c's phasors are off by <= t gap_c more (|e^{ix} - e^{iy}| <=
                # |x - y|), times |A_u| + |A_l| <= Kul_c / (t |a|): sum_c gap_c Kul_c / |a| per harmonic (x 1.01:
                # t = jd w0 with w0 itself rounded, and the sums)
                dcon[hc] += 1.01 * Kgap / abs(aa)
            if ngm > 1:
                # the compensated coefficient sums over the group: <= (2 eps + 2 ngm^2 eps^2) of the sum of |terms|
                # (Higham §4.3), through |w|^(r+1) >= wc 24^r: <= that x Kul / wc
                dcon[hc] += Kul * (2.0 + 2.0 * ngm * ngm * _EPS) * _EPS / wc
            tj = (2 * hc + 1) * w0
            pu = tj * (aa * u + bb)
            pl = tj * (aa * l + bb)
            eu_ = complex(math.cos(pu), math.sin(pu))
            el_ = complex(math.cos(pl), math.sin(pl))
            pu = 2.0 * w0 * (aa * u + bb)
            pl = 2.0 * w0 * (aa * l + bb)
            su_ = complex(math.cos(pu), math.sin(pu))
            sl_ = complex(math.cos(pl), math.sin(pl))
            for h in range(hc, nh):
                ww = (2 * h + 1) * w0 * aa
                if group:
                    # A = sum_r c_r y^(r+1), y = -i s, s = 1 / w: with x = -s^2, Im A = -s sum_m c_2m x^m and
                    # Re A = -s^2 sum_m c_(2m+1) x^m -- two real Horner sums of ~R/2 terms (the complex
                    # Horner's 2 R complex products: same bound, relative rounding <= (3 R / 2 + 4) eps)
                    s_ = 1.0 / ww
                    x_ = -s_ * s_
                    ue = 0.0
                    le = 0.0
                    for rr in range(R - 1 - (R - 1) % 2, -1, -2):       # even r, from the top
                        ue = ue * x_ + cu_[rr]
                        le = le * x_ + cl_[rr]
                    uo = 0.0
                    lo_ = 0.0
                    for rr in range(R - 2 + (R - 1) % 2, 0, -2):        # odd r, from the top
                        uo = uo * x_ + cu_[rr]
                        lo_ = lo_ * x_ + cl_[rr]
                    Au = complex(x_ * uo, -s_ * ue)
                    Al = complex(x_ * lo_, -s_ * le)
                else:
                    y = complex(0.0, -1.0 / ww)
                    Au = 0j
                    Al = 0j
                    for rr in range(R - 1, -1, -1):
                        Au = (Au + cu_[rr]) * y
                        Al = (Al + cl_[rr]) * y
                v = eu_ * Au - el_ * Al
                psi_r[h] += v.real
                psi_i[h] += v.imag
                if nhc > 0:
                    if sat6[j]:
                        chi6_r[h] += v.real
                        chi6_i[h] += v.imag
                    if sat4[j]:
                        chi4_r[h] += v.real
                        chi4_i[h] += v.imag
                eu_ *= su_
                el_ *= sl_
        if hc == 0:
            continue
        for q_ in range(gst[g], gst[g + 1]):
            j = gmem[q_]
            l, u, aa, bb = zl[j], zu[j], a[j], b[j]
            # low harmonics h < hc: sub-cells of phase half-width <= PHASE at t_low, Bernstein order
            tlow = (2 * hc - 1) * w0
            hw = 0.5 * (u - l)
            ns = int(math.ceil(tlow * abs(aa) * hw / PHASE))
            if ns < 1:
                ns = 1
            hs = hw / ns
            tgt_s = dcell / ns
            best_n = NQ + 1
            best_lb = 0.0
            best_rho = 2.0
            for ir in range(12):
                rho = 1.25 * 1.6 ** ir
                A = 0.5 * hs * (rho + 1.0 / rho)
                B = 0.5 * hs * (rho - 1.0 / rho)
                worst = -1e300
                for qq in range(ns):
                    cc = l + (2 * qq + 1) * hs
                    dmin = max(abs(cc) - A, 0.0)
                    lb = tlow * abs(aa) * B + 0.5 * B * B - 0.5 * dmin * dmin
                    if lb > worst:
                        worst = lb
                lb = worst + math.log(hs * 64.0 / 15.0 / ((rho * rho - 1.0) * _SQ2PI))
                # n points: the theorem's (n + 1)-point form gives rho^(-2(n - 1))
                nq = 1 + int(math.ceil((lb - math.log(tgt_s)) / (2.0 * math.log(rho))))
                if nq < 2:
                    nq = 2
                if nq < best_n:
                    best_n = nq
                    best_lb = lb
                    best_rho = rho
            if best_n > NQ:
                best_n = NQ      # bound reported below (phase <= PHASE: n ~ 30 suffices)
            nq = best_n
            if nq > nq_max:
                nq_max = nq
            quad_err += ns * math.exp(best_lb - 2.0 * (nq - 1) * math.log(best_rho)) * wt
            rnd_c += (ns * nq + 4.0) * p[j] * wt
            rho = _phasor_rho(w0, aa, bb, l, u)
            lin0 += rho * p[j] * wt * 1.01
            dlin[hc] -= rho * p[j] * wt * 1.01
            # this cell's sum first (its rounding: terms x its mass), then added to psi
            for h in range(hc):
                acc_r[h] = 0.0
                acc_i[h] = 0.0
            for qq in range(ns):
                cc = l + (2 * qq + 1) * hs
                for i in range(nq):
                    z = cc + hs * Z[nq, i]
                    fw = hs * W[nq, i] * _f(0, z) * wt
                    ph = w0 * (aa * z + bb)
                    cz = complex(math.cos(ph), math.sin(ph))
                    st = cz * cz
                    cz = cz * fw
                    for h in range(hc):
                        acc_r[h] += cz.real
                        acc_i[h] += cz.imag
                        cz *= st
            for h in range(hc):
                psi_r[h] += acc_r[h]
                psi_i[h] += acc_i[h]
            if nhc > 0:
                if sat6[j]:
                    for h in range(hc):
                        chi6_r[h] += acc_r[h]
                        chi6_i[h] += acc_i[h]
                if sat4[j]:
                    for h in range(hc):
                        chi4_r[h] += acc_r[h]
                        chi4_i[h] += acc_i[h]
    # series: R_j = Psi^n - p0^n - n p0^(n-1) psi; rounding and characteristic-function errors
    Iabs = 0.0
    ebound = 0.0
    Iabsb = 0.0
    sA = 0.0
    con = 0.0
    IP = 0.0
    IPb = 0.0
    I6b = 0.0
    I4b = 0.0
    eP = 0.0
    sP = 0.0
    I6 = 0.0
    e6 = 0.0
    s6 = 0.0
    I4 = 0.0
    e4 = 0.0
    s4 = 0.0
    pn1 = p0 ** (n - 1)
    pn = p0 ** n
    delta = quad_err + quad_err_h * ncs
    for h in range(nh):
        jd = 2.0 * h + 1.0
        ps = complex(psi_r[h], psi_i[h])
        Ps = p0 + ps
        if nhc > 0:
            # Psi^(n-1) is needed for the saturation rates: Psi^n = Psi^(n-1) Psi (relative rounding
            # <= (n - 2) sqrt(5) eps + sqrt(5) eps, the same (n - 1) sqrt(5) eps as _cpow(Ps, n))
            PsN1 = _cpow(Ps, n - 1) if n >= 2 else complex(1.0, 0.0)
            Pn = PsN1 * Ps
        else:
            PsN1 = complex(1.0, 0.0)
            Pn = _cpow(Ps, n)
        Rj = Pn - pn - n * pn1 * ps
        if (h + 1) % NB == 0:
            Iabs += Iabsb
            sA += abs(Iabs)
            Iabsb = 0.0
        tA = Rj.real / (jd * jd)
        Iabsb += tA
        sA += abs(Iabsb) + abs(tA)
        aps = abs(Ps)
        # rounding of R ((n + 4) eps of its parts), of psi (per cell: terms accumulated x its mass,
        # the recurrence's 2 j eps and the sum over cells, total mass wsym (1 - p0)) and the
        # quadrature error, through
        # |(P + e)^n - P^n - n p0^(n-1) e| <= n ((|P| + e)^(n-1) + p0^(n-1)) e
        lin0 += dlin[h]
        con += dcon[h]
        if law == 1 and h < H0:
            dj = delta + (ncs + 16.0) * wsym * (1.0 - p0) * _EPS * 1.01 + errlow[h] * 1.01
        else:
            dj = (delta + (rnd_c + (ncs + 16.0) * wsym * (1.0 - p0)) * _EPS * 1.01
                  + (jd * max(lin0, 0.0) + con) * 1.01)
        # (Ps^n by binary powering: relative error <= (n - 1) sqrt(5) eps (1 + O(n eps)) <= 3 n eps)
        xd = aps + dj
        if nhc > 0 and n >= 2:
            # upper bounds shared with the saturation rates' bound: one more product rounded up
            # (fl(y x) (1 + 4 eps) >= y x) instead of a second powering
            apn1 = _rpow_up(aps, n - 1)
            apd2 = _rpow_up(xd, n - 2)
            apn = apn1 * aps * (1.0 + 4.0 * _EPS)
            apd1 = apd2 * xd * (1.0 + 4.0 * _EPS)
        else:
            apn = _rpow_up(aps, n)
            apd1 = _rpow_up(xd, n - 1)
            apn1 = 0.0
            apd2 = 0.0
        ej = ((3 * n + 4) * _EPS * (apn + pn + n * pn1 * abs(ps) + 1e-300)
              + n * (apd1 + pn1) * dj)
        ebound += ej / (jd * jd)
        if not rates:
            continue
        if (h + 1) % NB == 0:
            IP += IPb
            I6 += I6b
            I4 += I4b
            sP += abs(IP)
            s6 += abs(I6)
            s4 += abs(I4)
            IPb = 0.0
            I6b = 0.0
            I4b = 0.0
        if need_p:
            tP = Rj.imag / jd
            IPb += tP
            eP += ej / jd
            sP += abs(IPb) + abs(tP)
        if nhc > 0:
            if n < 2:
                apn1 = 1.0
                apd2 = 0.0
            for which in range(2):
                if which == 0:
                    if not need6:
                        continue
                    cc, ch = c6, complex(chi6_r[h], chi6_i[h])
                else:
                    if not need4:
                        continue
                    cc, ch = c4, complex(chi4_r[h], chi4_i[h])
                # R_nu = Chi Psi^(n-1) - c p0^(n-1) - c (n-1) p0^(n-2) psi - p0^(n-1) chi
                Rn = (cc + ch) * PsN1 - cc * pn1 - cc * (n - 1) * pn2_ * ps - pn1 * ch
                ach = abs(ch)
                # rounding ((3 n + 6) eps of the parts) and the errors (<= dj) of chi and psi:
                # |(Chi + e')(Psi + e)^(n-1) - Chi Psi^(n-1)| <= e' (|Psi| + e)^(n-1) + |Chi| (n-1) (|Psi| + e)^(n-2) e
                en = ((3 * n + 6) * _EPS * ((cc + ach) * apn1 + cc * pn1 + cc * (n - 1) * pn2_ * abs(ps)
                                             + pn1 * ach + 1e-300)
                      + dj * (apd1 + (cc + ach + dj) * (n - 1) * apd2 + cc * (n - 1) * pn2_ + pn1))
                if which == 0:
                    tN_ = Rn.imag / jd
                    I6b += tN_
                    e6 += en / jd
                    s6 += abs(I6b) + abs(tN_)
                else:
                    tN_ = Rn.imag / jd
                    I4b += tN_
                    e4 += en / jd
                    s4 += abs(I4b) + abs(tN_)
    Iabs += Iabsb
    sA += abs(Iabs)
    # the series' summation (in blocks of NB terms): rounding <= eps x the sum of |every partial sum
    # and term| (first order, x 1.01), accumulated as it runs
    ebound += 1.01 * _EPS * sA
    out[0] = (abs1 + 0.5 * L * mR - (4.0 * L / math.pi ** 2) * Iabs) * UU
    out[1] = ((2.0 / math.pi) * tailA + al_abs + (4.0 * L / math.pi ** 2) * ebound
              + 8.0 * _EPS * (abs1 + L * mR) + err1) * UU
    out[2] = nh
    out[3] = L
    out[4] = al_abs * UU
    out[5] = (2.0 / math.pi) * tailA * UU
    out[6] = (4.0 * L / math.pi ** 2) * ebound * UU
    out[7] = delta
    if rates:
        # error of each rate: tail + aliasing + (2 / pi) (per-harmonic errors + summation rounding
        # (nh + 2) eps sum |terms|) + the closed-form parts' rounding
        c2p = 2.0 / math.pi
        base = al_p + rnd_cf
        errn = 0.0
        # summation (blocks of NB terms): rounding <= eps x sum |partial sums and terms| (as for E|S|)
        rs = 1.01 * _EPS
        sP += abs(IP + IPb)
        s6 += abs(I6 + I6b)
        s4 += abs(I4 + I4b)
        if need_p:
            out[8] = P_1 + 0.5 * mR + c2p * (IP + IPb)
            out[11] = base + tailP / math.pi + c2p * (eP + rs * sP)
        if need6:
            out[9] = n6 - (nu6_1 + 0.5 * mR6 + c2p * (I6 + I6b))
            errn = max(errn, base + tailN / math.pi + c2p * (e6 + rs * s6))
        if need4:
            out[10] = nu4_1 + 0.5 * mR4 + c2p * (I4 + I4b)
            errn = max(errn, base + tailN / math.pi + c2p * (e4 + rs * s4))
        out[12] = errn
        out[13] = max(tailP, tailN) / math.pi
        out[14] = al_p
        out[15] = c2p * rs * max(sP, s6, s4)


@numba.njit(cache=True)
def telescoped_kernel(law, loc, scale, levels, mids, ms, X6s, X4s, k, eps_abs, needs, eps_p, eps_nu, Z, W,
                      plan, group, noalias):
    """E|S| and the requested rates at every piece end: returns a (ms.size, NOUT) array, row i =
    :func:`_endpoint`'s ``out`` at end i (``needs[i] = (P(S>0), nu6, nu4)`` flags, ``eps_p[i]``,
    ``eps_nu[i]`` the targets of P(S>0) and of nu6 / nu4).  ``plan``: only the number of harmonics
    each end would need for these targets (column 2) and without ``P(S > 0)`` (column 4), both at
    ``L = L0`` (no aliasing bound computed; column 3), other columns unset.  ``group``: cells with
    identical phase data (or phases a few roundings apart) share their phasors (:func:`_endpoint`; same
    values up to rounding, the bound includes it).  ``noalias`` (int array per end): no Chernoff search at those ends, ``L = k max|d|``."""
    N = ms.size
    res = np.empty((N, NOUT))
    out = np.zeros(NOUT)
    for i in range(N):
        _endpoint(law, loc, scale, levels, mids, ms[i], X6s[i], X4s[i], k, eps_abs[i], needs[i, 0] != 0,
                  needs[i, 1] != 0, needs[i, 2] != 0, eps_p[i], eps_nu[i], Z, W, out, plan, group,
                  noalias[i] != 0)
        for c in range(NOUT):
            res[i, c] = out[c]
    return res
