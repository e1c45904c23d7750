"""Private numba kernels: exact risk curves of an arbitrary level set (any number format).

Why one module of ~620 lines (over the package's ~500-line guideline): the run, cell and tail
kernels call each other, and numba's on-disk cache (``cache=True``) does not track callees in
other files, so a caller cached in a second file would keep running an edited callee's old code
(the same reason as :mod:`quanttheory.risk._kernels.cells`).

``F(s) = E[(xi - Q_s(xi))^2]`` (data units squared; no pi^2, ReLU atom excluded) for a
sorted level set ``L`` (grid units) and ``Q_s(x) = s * (level nearest to x / s)``,
saturating.  Between two consecutive levels the error is ``min(x - l_i s, l_{i+1} s -
x)^2``: on a *run* of equally spaced levels ``a, a + h, ..., b`` it is the periodic
sawtooth square ``(h s)^2 saw^2((x - a s)/(h s))`` with ``a``, ``b`` grid points of
the run.  Every minifloat binade is such a run (the run of binade ``E`` includes the
first level of binade ``E + 1``, one spacing above its last level), an integer grid is
one run, NF4 is 15 runs of one interval each.  So

    F(s) = T_low(L_0 s) + T_high(L_{K-1} s) + sum_runs  int_{a s}^{b s} (h s)^2 saw^2(.) p

and each run is the *interior* of an integer grid at scale ``h s``, evaluated by the
bit-independent formulas of :mod:`quanttheory.risk._kernels.fast` (Normal: Fourier series
integrated by parts at the two ends, rigorous remainder bound; Laplace: geometric
series of cells and the segment helper ``_seg_right``), at O(1) cost per run whatever
its length.  Runs where those formulas are not certified (spacing comparable to the
law's scale) fall back to per-cell Gauss-Legendre with the error-bounded orders of
:mod:`quanttheory.risk._kernels.cells` (its ``_emit`` / ``_integrate_table``).  The tails
are closed forms (Mills-ratio continued fraction / exponentials).

Deep binades (``_deep_value``): below ``c = deep_d[k] s <= 1`` law scale (Normal: sig; Laplace:
b, and ``c <= |loc|`` so that the kink is outside) a minifloat's levels are ``{i h0}`` (subnormals
and first binade, ``2N`` cells) and k binades of ``N`` cells, each the previous one doubled.  With
the density's Taylor series on ``[0, c]`` (Normal: Hermite functions at ``-loc/sig``; Laplace: an
exponential on each side), ``int_0^c err^2 p = c^3 sum_j p_j c^j W_k[j]``, ``W_k[j]`` the j-th moment
of the squared error of the region normalised to ``[0, 1]`` (a geometric sum over the binades,
tabulated once per format in Python).  This replaces up to ~2 x 25 runs (E5M2) by ~20-30
multiply-adds; the remainder is bounded rigorously (Cramer's inequality for the Hermite
functions) and held below ``1e-17`` of the rest of the curve.  The integer fast path's closed forms (``_tail_above``, ``_e2``, ``_seg_right`` ...) are copied
into this file from :mod:`quanttheory.risk._kernels.fast` (section below, with the reason).

The second kernel family builds the pieces of the whole level set (cells anchored at
their level, offsets relative to the anchor) for the per-cell reference, the exact
derivative ``dF/ds = -2 E[l(xi) (xi - l(xi) s)]`` and the interval lower bound over
``s in [s1, s2]`` (distance to the union of the intervals ``l [s1, s2]``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from . import cells as _c

LAW_NORMAL = 0
LAW_LAPLACE = 1
_PI2 = math.pi * math.pi
_ZETA4_PI2 = 1.0823232337111382 / _PI2
TOL = 1e-16  # remainder bound / run estimate (Normal runs), as the integer fast path


# ---------------------------------------------------------------------------
# closed forms copied from the integer fast path (quanttheory/risk/_kernels/fast.py, issue 8)
#
# Why copied and not imported: that module is maintained separately, and numba's on-disk
# cache (cache=True) does not notice a change of a jitted callee in another file: a cached
# kernel here would keep running the old code of a changed callee (or break at a renamed one).
# Copied verbatim (same names, same constants); tested through this module's own references.
# ---------------------------------------------------------------------------

KMAX = 64             # max integration-by-parts order (Normal)
LAPLACE_TMIN = 2.0    # Laplace handled for 2 pi b / s >= this
NORMAL_TMIN = 6.0     # below this the bound can never be met: skip the search
CF_TERMS = 120        # Mills-ratio continued fraction depth (beta >= 2)
CODE_MSQE = 0
_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


def eta_table():
    """``eta(2k+2) = (1 - 2^{-(2k+1)}) zeta(2k+2)`` for k = 0..KMAX (float64).

    ``zeta(2), ..., zeta(8)`` from their closed forms ``pi^2/6, pi^4/90, pi^6/945,
    pi^8/9450``; from ``zeta(10)`` on, ``sum_{n <= 64} n^-p`` summed smallest term first
    (remainder < 64^-9 / 8 < 1e-17).  No scipy import (it costs ~0.3 s on a warm call).
    """
    out = np.empty(KMAX + 1)
    pi2 = math.pi * math.pi
    closed = (pi2 / 6, pi2**2 / 90, pi2**3 / 945, pi2**4 / 9450)
    for k in range(KMAX + 1):
        p = 2 * k + 2
        z = closed[k] if k < 4 else math.fsum(n ** -float(p) for n in range(64, 0, -1))
        out[k] = (1.0 - 2.0 ** (-(2 * k + 1))) * z
    return out


@numba.njit(cache=True)
def _pdf(z):
    if math.isinf(z):
        return 0.0
    return math.exp(-0.5 * z * z) * _INV_SQRT2PI


@numba.njit(cache=True)
def _j2(beta):
    """``J_2(beta) = int_0^inf y^2 exp(-beta y - y^2/2) dy`` for beta >= 0.

    beta < 2: ``(1 + beta^2) R - beta`` with the Mills ratio ``R = Q/phi`` (loses
    at most a factor 20); beta >= 2: ``D_2 / ((beta + D_2)(beta + D_1))`` from the
    continued fraction ``R = 1/(beta + D_1)``, ``D_n = n/(beta + D_{n+1})``
    (all terms positive, no cancellation).
    """
    if beta < 2.0:
        r = math.sqrt(0.5 * math.pi) * math.exp(0.5 * beta * beta) * math.erfc(beta / _SQRT2)
        return (1.0 + beta * beta) * r - beta
    d = 0.0
    for n in range(CF_TERMS, 1, -1):
        d = n / (beta + d)
    d1 = 1.0 / (beta + d)
    return d / ((beta + d) * (beta + d1))


@numba.njit(cache=True)
def _tail_above(beta, sig):
    """``E[(X - B)^2; X > B]`` for X ~ N(mu, sig^2), beta = (B - mu)/sig."""
    if beta >= 0.0:
        return sig * sig * _pdf(beta) * _j2(beta)
    return sig * sig * ((1.0 + beta * beta) - _pdf(beta) * _j2(-beta))


@numba.njit(cache=True)
def _e2(z):
    """``E_2(z) = int_0^1 v^2 e^{z v} dv`` (series for |z| <= 2, closed form beyond)."""
    if abs(z) <= 2.0:
        term = 1.0
        acc = 1.0 / 3.0
        for n in range(1, 40):
            term *= z / n
            acc += term / (n + 3)
            if abs(term) < 1e-18:
                break
        return acc
    return (math.exp(z) * (z * z - 2.0 * z + 2.0) - 2.0) / (z * z * z)


@numba.njit(cache=True)
def _i2(d1, d2, z):
    """``int_{d1}^{d2} d^2 e^{z d} dd`` for -1/2 <= d1 <= d2 <= 1/2 (positive pieces)."""
    if d2 <= d1:
        return 0.0
    if d1 >= 0.0:
        return d2 ** 3 * _e2(z * d2) - d1 ** 3 * _e2(z * d1)
    if d2 <= 0.0:
        return (-d1) ** 3 * _e2(z * d1) - (-d2) ** 3 * _e2(z * d2)
    return (-d1) ** 3 * _e2(z * d1) + d2 ** 3 * _e2(z * d2)


@numba.njit(cache=True)
def _seg_right(ku, du, kv, dv, vinf, kmu, dmu, kap, t, code):
    """Segment [u, v] with u >= mu on the decreasing side, density e^{-(x-mu)/b}/(2b).

    Points are (k, d) in grid units (x = (k + d) s); kap = s/b, t = 2 pi b/s.
    Returns (mass, cos-mode, msqe) where msqe is int s^{-2}... in units of
    s^2 * probability: int saw^2(x/s) p(x) dx; cos-mode is int cos(2 pi x/s) p dx.
    """
    # exponent (x - mu)/b of the segment ends
    eu = ((ku - kmu) + (du - dmu)) * kap
    mass = 0.5 * math.exp(-eu)
    cosm = 0.0
    # cos mode: Re[(e^{i th_v} e^{-ev} - e^{i th_u} e^{-eu}) / (2 (i t - 1))]
    #   1/(i t - 1) = (-1 - i t)/(1 + t^2)  ->  Re[(x + i y)(-1 - i t)] = -x + t y
    thu = 2.0 * math.pi * du
    xu = math.cos(thu) * math.exp(-eu)
    yu = math.sin(thu) * math.exp(-eu)
    cosm -= (-xu + t * yu) / (2.0 * (1.0 + t * t))
    if not vinf:
        ev = ((kv - kmu) + (dv - dmu)) * kap
        mass = 0.5 * math.exp(-eu) * (-math.expm1(-(ev - eu)))
        thv = 2.0 * math.pi * dv
        xv = math.cos(thv) * math.exp(-ev)
        yv = math.sin(thv) * math.exp(-ev)
        cosm += (-xv + t * yv) / (2.0 * (1.0 + t * t))
    msq = 0.0
    if code == CODE_MSQE:
        pref = kap / 2.0  # s/(2b): int over a cell = pref * e^{-e_k} * int d^2 e^{-kap d} dd
        # cell k density exponent e_k = (k - kmu - dmu) kap
        if (not vinf) and kv == ku:
            msq = pref * math.exp(-((ku - kmu) - dmu) * kap) * _i2(du, dv, -kap)
        else:
            msq = pref * math.exp(-((ku - kmu) - dmu) * kap) * _i2(du, 0.5, -kap)
            m_full = 0.125 * (_e2(0.5 * kap) + _e2(-0.5 * kap))
            k1 = ku + 1
            e1 = ((k1 - kmu) - dmu) * kap
            if vinf:
                geo = 1.0 / (-math.expm1(-kap))
            else:
                nfull = kv - ku - 1
                geo = math.expm1(-kap * nfull) / math.expm1(-kap) if nfull > 0 else 0.0
                msq += pref * math.exp(-((kv - kmu) - dmu) * kap) * _i2(-0.5, dv, -kap)
            msq += pref * math.exp(-e1) * m_full * geo
    return mass, cosm, msq


@numba.njit(cache=True)
def _before(k1, d1, k2, d2):
    """(k1 + d1) < (k2 + d2) for grid-unit points with |d| <= 1/2 and integer k."""
    dk = k1 - k2  # exact (integers held in float64, |k| < 2^50)
    if dk != 0.0:
        return (dk + (d1 - d2)) < 0.0 if abs(dk) == 1.0 else dk < 0.0
    return d1 < d2


# ---------------------------------------------------------------------------
# closed-form tails
# ---------------------------------------------------------------------------

@numba.njit(cache=True)
def _normal_tail(beta, sig):
    """``E[(X - B)^2; X > B]`` for N(mu, sig^2), ``beta = (B - mu)/sig``.

    As :func:`quanttheory.risk._kernels.fast._tail_above`, but for ``beta >= 2`` the Mills-ratio
    continued fraction ``D_n = n / (beta + D_{n+1})`` is started at depth
    ``min(120, 12 + 520 / beta^2)`` instead of 120: measured against mpmath (40 digits) the
    depth needed for 3e-16 relative is 110, 59, 38, 24, 15, 10, 8 at beta = 2, 3, 4, 6, 10, 20,
    40, below the rule everywhere (the FP8 optima clip at 4-9 sig: 18-45 instead of 120 terms).
    """
    if beta < 2.0:
        return _tail_above(beta, sig)
    n0 = min(CF_TERMS, 12 + int(520.0 / (beta * beta)))
    d = 0.0
    for n in range(n0, 1, -1):
        d = n / (beta + d)
    d1 = 1.0 / (beta + d)
    return sig * sig * _pdf(beta) * (d / ((beta + d) * (beta + d1)))


@numba.njit(cache=True)
def _tail_hi(law, mu, sig, B):
    """``E[(X - B)^2; X > B]`` of the *base* law (no ReLU restriction)."""
    if law == LAW_NORMAL:
        return _normal_tail((B - mu) / sig, sig)
    e = (B - mu) / sig
    if e >= 0.0:
        return sig * sig * math.exp(-e)
    return sig * sig * (2.0 + e * e - math.exp(e))


@numba.njit(cache=True)
def _tail_lo(law, mu, sig, A):
    """``E[(X - A)^2; X < A]`` of the base law (mirror of :func:`_tail_hi`)."""
    return _tail_hi(law, -mu, sig, -A)


# ---------------------------------------------------------------------------
# one run: int_{a}^{b} hs^2 saw^2((x - a)/hs) p(x) dx, a = run start (data units)
# ---------------------------------------------------------------------------

_SQ = np.sqrt(np.arange(2 * KMAX + 2, dtype=np.float64) * np.arange(-1, 2 * KMAX + 1, dtype=np.float64)
              .clip(0.0))  # _SQ[2k] = sqrt(2k (2k - 1))


@numba.njit(cache=True)
def _bvals(z):
    """(small tail, density) at standardized z: ``Q(z)`` for z >= 0, ``Phi(z)`` for z < 0."""
    if z >= 0.0:
        return 0.5 * math.erfc(z / 1.4142135623730951), _pdf(z)
    return 0.5 * math.erfc(-z / 1.4142135623730951), _pdf(z)


@numba.njit(cache=True)
def _normal_run(alpha, beta, ta, pa, tb, pb, hs, t, eta, floor):
    """(value, handled) for a Normal run [alpha, beta] (standardized, finite) of spacing hs
    (data units), ``t = 2 pi sig / hs``; ``ta, pa`` / ``tb, pb`` from :func:`_bvals`.

    The remainder bound is held below ``TOL * max(run estimate, floor)`` (``floor``: the
    part of the total already summed, a lower bound of the final value)."""
    if alpha >= 0.0:
        P = ta - tb
    elif beta <= 0.0:
        P = tb - ta
    else:
        P = 1.0 - ta - tb
    est = hs * hs * P / 12.0
    target = TOL * max(est, floor)
    if not (target > 0.0):
        # no mass in double precision (far outside the window): contributes nothing
        if P == 0.0 and (alpha > 38.0 or beta < -38.0):
            return 0.0, True
        return 0.0, False
    cbound = 2.0 * _ZETA4_PI2 * hs * hs
    # the bound sqrt((2K)!) / t^{2K} is smallest at 2K ~ t^2 (K <= KMAX): when even that
    # minimum is too big, give up at once instead of running the whole loop
    if t < 16.0:
        kb = min(KMAX, max(1, int(0.5 * t * t + 0.5)))
        if cbound * math.exp(0.5 * math.lgamma(2.0 * kb + 1.0) - 2.0 * kb * math.log(t)) > target:
            return 0.0, False
    ha0 = pa
    ha1 = alpha * pa
    hb0 = pb
    hb1 = beta * pb
    it2 = 1.0 / (t * t)
    tp = 1.0
    acc = 0.0
    bnd = cbound  # cbound * sqrt((2K)!) / t^{2K}
    for k in range(1, KMAX + 1):
        n = 2 * k - 1
        tp *= it2
        dk = ha1 - hb1
        if k & 1:
            acc -= eta[k] * tp * dk
        else:
            acc += eta[k] * tp * dk
        bnd *= _SQ[2 * k] * it2
        if bnd <= target:
            return hs * hs * (P / 12.0 + acc / _PI2), True
        ha2 = alpha * ha1 - n * ha0
        ha3 = alpha * ha2 - (n + 1) * ha1
        ha0, ha1 = ha2, ha3
        hb2 = beta * hb1 - n * hb0
        hb3 = beta * hb2 - (n + 1) * hb1
        hb0, hb1 = hb2, hb3
    return 0.0, False


@numba.njit(cache=True)
def _normal_cells(mu, sig, levels, s, i0, i1):
    """Normal run with wide cells (spacing >~ 0.7 sig, where the series is not certified):
    each cell [u, v] about its level c in closed form,
    ``sig^2 [(1 + g^2) (Phi(zv) - Phi(zu)) + (2g - zv) phi(zv) - (2g - zu) phi(zu)]``
    (``g = (c - mu)/sig``; the mass difference from the tail on the cell's side, without
    cancellation).  Cells are >= 0.7 sig wide, so the cancellation between the terms is
    bounded (measured against mpmath, docs/format_risk.md).  Cells beyond the window
    ``mu +- 13 sig`` (mass < 2e-38) are skipped, as in the per-cell engine."""
    lo = mu - _c.NORMAL_SPAN * sig
    hi = mu + _c.NORMAL_SPAN * sig
    j0 = max(np.searchsorted(levels, lo / s) - 1, i0)
    j1 = min(np.searchsorted(levels, hi / s) + 1, i1)
    total = 0.0
    comp = 0.0
    zprev = math.nan
    tprev = 0.0
    pprev = 0.0
    for i in range(j0, j1 + 1):
        li = levels[i]
        g = (li * s - mu) / sig
        zu = g if i == i0 else (0.5 * (levels[i - 1] + li) * s - mu) / sig
        zv = g if i == i1 else (0.5 * (li + levels[i + 1]) * s - mu) / sig
        if not zv > zu:
            continue
        if zu == zprev:
            tu, pu = tprev, pprev
        else:
            tu, pu = _bvals(zu)
        tw, pw = _bvals(zv)
        zprev, tprev, pprev = zv, tw, pw
        if zu >= 0.0:
            mass = tu - tw
        elif zv <= 0.0:
            mass = tw - tu
        else:
            mass = 1.0 - tu - tw
        v = (1.0 + g * g) * mass + (2.0 * g - zv) * pw - (2.0 * g - zu) * pu
        total, comp = _c._neumaier(total, comp, max(v, 0.0))
    return sig * sig * (total + comp)


# Taylor coefficients of E2(z) = int_0^1 v^2 e^{z v} dv = sum_n z^n / (n! (n + 3))
_E2C = np.array([1.0 / (math.factorial(n) * (n + 3)) for n in range(28)])


@numba.njit(cache=True)
def _e2_pair(x):
    """``(E2(-x), E2(x))`` for 0 <= x <= 2 from one even and one odd Horner sum in x^2
    (terms beyond x^27/27! < 2e-20 dropped; all coefficients positive, no cancellation
    in the even part, the odd part is smaller than the even part)."""
    x2 = x * x
    ev = 0.0
    od = 0.0
    nmax = 27 if x > 0.5 else (15 if x > 0.05 else 9)
    n = nmax if nmax % 2 == 1 else nmax - 1
    while n >= 1:
        od = od * x2 + _E2C[n]
        n -= 2
    n = nmax - 1 if nmax % 2 == 1 else nmax
    while n >= 0:
        ev = ev * x2 + _E2C[n]
        n -= 2
    od *= x
    return ev - od, ev + od


@numba.njit(cache=True)
def _e2_scaled(z, logf):
    """``e^logf E2(z)`` without overflow for large z (``E2`` of :func:`quanttheory.risk._kernels.fast._e2`)."""
    if z > 2.0:
        return (math.exp(z + logf) * (z * z - 2.0 * z + 2.0) - 2.0 * math.exp(logf)) / (z * z * z)
    return math.exp(logf) * _e2(z)


@numba.njit(cache=True)
def _laplace_side(mu, b, a, nint, hs):
    """Laplace run [a, a + nint hs] entirely on the decreasing side (a >= mu).

    Cells: half-cell [a, a + hs/2], full cells around a + j hs (j = 1..nint-1), half-cell
    [a + nint hs - hs/2, a + nint hs].  With kap = hs/b, r = e^{-kap} and
    ``E2(z) = int_0^1 v^2 e^{z v} dv`` (cancellation-free series):
    ``p(a) hs^3 / 8 [E2(-kap/2) + (E2(-kap/2) + E2(kap/2)) r (1 - r^(nint-1)) / (1 - r)
    + r^nint E2(kap/2)]``.
    """
    kap = hs / b
    pa = math.exp(-(a - mu) / b) / (2.0 * b)
    if pa == 0.0:
        return 0.0
    if nint > 1:
        ratio = math.expm1(-kap * (nint - 1)) / math.expm1(-kap)
    else:
        ratio = 0.0
    if kap <= 4.0:
        ep, em = _e2_pair(0.5 * kap)
        r = math.exp(-kap)
        total = ep + (ep + em) * r * ratio + em * math.exp(-kap * nint)
    else:
        # E2(kap/2) grows like e^{kap/2}: carry the factors r, r^nint inside
        ep = _e2(-0.5 * kap)
        total = ep + ep * math.exp(-kap) * ratio + _e2_scaled(0.5 * kap, -kap) * ratio \
            + _e2_scaled(0.5 * kap, -kap * nint)
    return pa * hs * hs * hs * 0.125 * total


@numba.njit(cache=True)
def _laplace_run(mu, b, a, nint, hs):
    """(value, handled) for a Laplace run: grid [0, nint] at scale hs starting at x = a."""
    end = a + nint * hs
    if a >= mu:
        return _laplace_side(mu, b, a, nint, hs), True
    if end <= mu:
        return _laplace_side(-mu, b, -end, nint, hs), True
    t = 2.0 * math.pi * b / hs
    if t < LAPLACE_TMIN:
        return 0.0, False
    kap = hs / b
    q = (mu - a) / hs
    if abs(q) > 2.0 ** 50:
        return 0.0, False
    kmu = np.floor(q + 0.5)
    dmu = q - kmu
    ka = 0.0
    kb = float(nint)
    msq = 0.0
    # right of the kink: [max(a, mu), b]
    if _before(ka, 0.0, kmu, dmu):
        ku, du = kmu, dmu
    else:
        ku, du = ka, 0.0
    if _before(ku, du, kb, 0.0):
        msq += _seg_right(ku, du, kb, 0.0, False, kmu, dmu, kap, t, CODE_MSQE)[2]
    # left of the kink, mirrored
    if _before(kmu, dmu, kb, 0.0):
        kv, dv = kmu, dmu
    else:
        kv, dv = kb, 0.0
    if _before(ka, 0.0, kv, dv):
        msq += _seg_right(-kv, -dv, -ka, 0.0, False, -kmu, -dmu, kap, t, CODE_MSQE)[2]
    return hs * hs * msq, True


# ---------------------------------------------------------------------------
# pieces of the level set (per-cell quadrature, derivative, lower bound)
# ---------------------------------------------------------------------------

MAX_A = 20.0   # largest analytic-variation bound per piece (n <= 30 nodes; error bound < 2e-19)
MAX_H = 1.5    # largest half-width per piece in units of the law's scale (keeps the
#                Normal's quadratic exponent inside the bound's regime: (h^2/8)^n / n! tiny)


@numba.njit(cache=True)
def _piece_sum(law, mu, sig, c, k, da, db, code, ns, nodes, weights, amax):
    """``int_{c+da}^{c+db} g(x - c) p(x) dx`` with ``g(d) = d^2`` (code 0) or ``-2 k d``
    (code 3, the s-derivative), split at the Laplace kink and subdivided so that each
    piece has variation bound ``a <= MAX_A`` and half-width ``<= MAX_H`` law scales; the
    Gauss-Legendre order per piece is the smallest meeting ``a^(2n)/((2n)! 4^n) <= 1e-19``
    (table of :func:`quanttheory.risk._kernels.cells.gauss_tables`), plus one for ``d^2``."""
    if not db > da:
        return 0.0
    kink = mu - c
    split = law == LAW_LAPLACE and da < kink and kink < db
    total = 0.0
    cmu = c - mu
    for part in range(2 if split else 1):
        lo0 = da
        hi0 = db
        if split:
            if part == 0:
                hi0 = kink
            else:
                lo0 = kink
        a = _c._piece_a(law, mu, sig, c, lo0, hi0)
        m = 1
        if a > MAX_A:
            m = int(math.ceil(a / MAX_A))
        hh = 0.5 * (hi0 - lo0) / sig
        if hh > MAX_H * m:
            m = int(math.ceil(hh / MAX_H))
        step = (hi0 - lo0) / m
        for i in range(m):
            pa = lo0 + i * step
            pb = hi0 if i == m - 1 else lo0 + (i + 1) * step
            ai = _c._piece_a(law, mu, sig, c, pa, pb)
            j = _c._pick(ai, amax, 1)
            mid = 0.5 * (pa + pb)
            hw = 0.5 * (pb - pa)
            acc = 0.0
            for q in range(ns[j]):
                d = mid + hw * nodes[j, q]
                g = d * d if code == 0 else -2.0 * k * d
                acc += weights[j, q] * _c._density(law, mu, sig, cmu, d) * g
            total += acc * hw
    return total


@numba.njit(cache=True)
def _range_integral(law, mu, sig, relu, c, da, db, k, ns, nodes, weights, amax):
    """``int (x - c)^2 p(x) dx`` over ``x - c in [da, db]`` clipped to the window."""
    lo, hi = _c._window(law, mu, sig, relu)
    da = max(da, lo - c)
    db = min(db, hi - c)
    if not da < db:
        return 0.0
    return _piece_sum(law, mu, sig, c, k, da, db, 0, ns, nodes, weights, amax)


@numba.njit(cache=True)
def _integrate_levels(law, mu, sig, relu, levels, s, i0, i1, tails, code, ns, nodes, weights, amax):
    """Sum of the cell integrals of levels i0..i1 at scale s (cells anchored at their level).

    Interior boundaries are the midpoints; at i0 / i1 the cell stops at the level
    (``tails=False``, a run) or continues to the window's end (``tails=True``, the
    clipping tails).  Only cells meeting the law's window are visited.
    """
    lo, hi = _c._window(law, mu, sig, relu)
    if hi <= lo:
        return 0.0
    j0 = max(np.searchsorted(levels, lo / s) - 1, i0)
    j1 = min(np.searchsorted(levels, hi / s) + 1, i1)
    total = 0.0
    comp = 0.0
    for i in range(j0, j1 + 1):
        li = levels[i]
        c = li * s
        if i > i0:
            da = 0.5 * (levels[i - 1] - li) * s
        elif tails:
            da = lo - c
        else:
            da = 0.0
        if i < i1:
            db = 0.5 * (levels[i + 1] - li) * s
        elif tails:
            db = hi - c
        else:
            db = 0.0
        da = max(da, lo - c)
        db = min(db, hi - c)
        if da < db:
            total, comp = _c._neumaier(total, comp, _piece_sum(law, mu, sig, c, li, da, db, code,
                                                               ns, nodes, weights, amax))
    return total + comp


@numba.njit(cache=True)
def curve_cells(law, mu, sig, relu, levels, scales, code, ns, nodes, weights, amax):
    """Per-cell Gauss-Legendre for every scale: ``code`` 0 = F(s), 3 = dF/ds (reference path)."""
    out = np.empty(scales.shape[0])
    K = levels.shape[0]
    for i in range(scales.shape[0]):
        out[i] = _integrate_levels(law, mu, sig, relu, levels, scales[i], 0, K - 1, True, code,
                                   ns, nodes, weights, amax)
    return out


# ---------------------------------------------------------------------------
# the deep binades of a minifloat: one Taylor sum for all of them
# ---------------------------------------------------------------------------

_ISF = np.array([math.exp(-0.5 * math.lgamma(j + 1.0)) for j in range(80)])  # 1 / sqrt(j!)
_RSQ = np.array([0.0] + [1.0 / math.sqrt(j) for j in range(1, 80)])          # 1 / sqrt(j)
CRAMER = 1.0865  # |He_n(z)| <= CRAMER sqrt(n!) e^{z^2/4} (Cramer's inequality, K = 1.086435)
DEEP_NORMAL = 1.0   # deep region [-c, c] with c <= DEEP_NORMAL sig (Normal)
DEEP_LAPLACE = 1.0  # c <= DEEP_LAPLACE b and c <= |loc| unless loc == 0 (Laplace: one side of the kink)
DEEP_COND = 64.0    # sum of |terms| <= DEEP_COND * result, else the runs are summed one by one


@numba.njit(cache=True)
def _deep_value(law, mu, sig, relu, neg, c, w, floor):
    """(value, ok): ``int_{-c}^{c} err^2 p`` over the deep region of a minifloat (positive side
    only when ``relu`` or when the format has no negative levels, ``neg = False``).

    ``w[j] = int_0^1 E(u) u^j du`` for the deep grid normalised to ``c = 1`` (its squared error
    ``E``; table of :func:`quanttheory.risk.levels._deep_tables`), so with the Taylor series
    ``p(+-x) = sum_j p^+-_j x^j`` on ``[0, c]`` the value is ``c^3 sum_j (p^+_j + p^-_j) c^j w[j]``.
    Normal: ``p^+-_j = (-+1)^j He_j(z0) phi(z0) / (j! sig^{j+1})``, ``z0 = -mu/sig`` (Hermite
    recurrence); Laplace (region on one side of the kink): ``A e^{-|mu|/b}... (+-1/b)^j / j!``.
    The remainder after J terms is at most ``c^3 w[J+1] sum_{j>J} max|p_j| c^j`` (``E >= 0``,
    ``u^j <= u^{J+1}``), with ``|He_j(z0) phi(z0)| <= CRAMER sqrt(j!) e^{-z0^2/4}/sqrt(2 pi)``;
    the sum stops when that bound is <= 1e-17 * max(floor, partial sum - bound) (``floor``: a lower
    bound of the rest of the curve).  ``ok`` is False when the bound is not met within the table or
    the sum is ill-conditioned (sum of |terms| > DEEP_COND * result).
    """
    jmax = w.shape[0] - 2
    pos = 1.0
    ng = 1.0 if (neg and not relu) else 0.0
    acc = 0.0
    aabs = 0.0
    if law == LAW_NORMAL:
        r = c / sig
        z0 = -mu / sig
        q0 = _pdf(z0)          # He_0 phi / 0!
        q1 = z0 * q0              # He_1 phi / 1!
        env = CRAMER * math.exp(-0.25 * z0 * z0) / 2.5066282746310002 * (pos + ng) / sig
        rj = 1.0
        for j in range(jmax + 1):
            if j == 0:
                q = q0
            elif j == 1:
                q = q1
            else:
                q = (z0 * q1 - q0) / j
                q0, q1 = q1, q
            sgn = -1.0 if (j & 1) else 1.0
            term = q * rj * w[j] * (sgn * pos + ng) / sig
            acc += term
            aabs += abs(term)
            rj *= r
            # remainder: env * w[j+1] * sum_{i>j} r^i / sqrt(i!) <= env w[j+1] r^{j+1}/sqrt((j+1)!) / (1 - r/sqrt(j+2))
            rr = r * _RSQ[j + 2]
            if rr < 1.0:
                rem = env * w[j + 1] * rj * _ISF[j + 1] / (1.0 - rr)
                if rem <= 1e-17 * max(floor / (c * c * c), acc - rem):
                    if aabs > DEEP_COND * max(acc, 0.0):
                        return 0.0, False
                    return c * c * c * acc, True
        return 0.0, False
    # Laplace: p(x) = A+- e^{sgn+- x / b} on [0, c] (+) and of x -> -x (-)
    r = c / sig
    A = math.exp(-abs(mu) / sig) / (2.0 * sig)
    sp = 1.0 if mu > 0.0 else -1.0
    sn = 1.0 if mu < 0.0 else -1.0
    cp = A * pos
    cn = A * ng
    for j in range(jmax + 1):
        term = (cp + cn) * w[j]
        acc += term
        aabs += abs(term)
        cp *= sp * r / (j + 1.0)
        cn *= sn * r / (j + 1.0)
        # remainder: (A (pos + ng)) w[j+1] r^{j+1}/(j+1)! / (1 - r/(j+2)) = (|cp| + |cn|) w[j+1] / (1 - r/(j+2))
        rem = (abs(cp) + abs(cn)) * w[j + 1] / (1.0 - r / (j + 2.0))
        if rem <= 1e-17 * max(floor / (c * c * c), acc - rem):
            if aabs > DEEP_COND * max(acc, 0.0):
                return 0.0, False
            return c * c * c * acc, True
    return 0.0, False


@numba.njit(cache=True)
def curve_runs(law, mu, sig, relu, levels, run_i0, run_i1, run_h, order, scales, eta, ns, nodes, weights,
               amax, deep_d, deep_w, neg, sym, out, nfast):
    """F(s) for every scale: closed-form tails + one O(1) formula per run (per-cell fallback),
    the deep binades of a minifloat in one Taylor sum.

    ``run_i0[r]..run_i1[r]`` are the level indices of run r (spacing ``run_h[r]``, grid
    units; consecutive runs share their end level), visited in ``order`` (decreasing
    spacing).  A run whose contribution is provably below 1e-17 of the part already
    summed (``(hs/2)^2 (b - a) max p``) is skipped.

    Deep region (minifloats, ``deep_d.size > 1``): ``deep_d[k]`` (k >= 1, grid units) are the
    binade boundaries ``2^k N h0`` below which the non-negative levels are exactly the
    minifloat pattern (``N`` levels per binade, subnormal spacing ``h0``; mirrored on the
    negative side when ``neg``); ``deep_w[k]`` the moment table of that region (see
    :func:`_deep_value`).  The largest ``k`` with ``deep_d[k] s <= c_max`` is chosen; the runs
    inside ``[-deep_d[k] s, deep_d[k] s]`` are replaced by :func:`_deep_value` (summed one by
    one if it declines).  When the law is centred at 0 (``mu == 0``, not ReLU) and the level
    set symmetric (``sym``), the runs above the deep region and the tails are computed on the
    positive side and doubled (exact: the integrand is even).
    ``nfast[i]`` counts the runs done by the closed forms or skipped at scale i, plus the deep
    region (diagnostics).
    """
    pmax = 1.0 / (sig * 2.5066282746310002) if law == LAW_NORMAL else 0.5 / sig
    K = levels.shape[0]
    nruns = run_i0.shape[0]
    kdeep = deep_d.shape[0] - 1
    if law == LAW_NORMAL:
        cmax = DEEP_NORMAL * sig
    else:
        cmax = DEEP_LAPLACE * sig
        if mu != 0.0:
            cmax = min(cmax, abs(mu))
    # boundary values of the Normal runs, shared by neighbouring runs (stamped per scale)
    stamp = np.full(K, -1, dtype=np.int64)
    tv = np.empty(K)
    pv = np.empty(K)
    lo, hi = _c._window(law, mu, sig, relu)
    for i in range(scales.shape[0]):
        s = scales[i]
        total = 0.0
        comp = 0.0
        nf = 0
        A = levels[0] * s
        B = levels[K - 1] * s
        # deep region [-cg, cg] (grid units), cg = 0: none
        cg = 0.0
        kd = 0
        if kdeep >= 1 and deep_d[1] * s <= cmax:
            kd = 1
            while kd < kdeep and deep_d[kd + 1] * s <= cmax:
                kd += 1
            cg = deep_d[kd]
        fold = cg > 0.0 and sym and mu == 0.0 and not relu
        # tails
        if relu:
            if B >= 0.0:
                total, comp = _c._neumaier(total, comp, _tail_hi(law, mu, sig, B))
            else:
                # every level < 0: (x - B)^2 over the whole positive support
                total, comp = _c._neumaier(total, comp, _range_integral(
                    law, mu, sig, relu, B, 0.0, math.inf, levels[K - 1], ns, nodes, weights, amax))
            if A > 0.0:
                # (0, A): error (x - A)^2
                total, comp = _c._neumaier(total, comp, _range_integral(
                    law, mu, sig, relu, A, -math.inf, 0.0, levels[0], ns, nodes, weights, amax))
        elif fold:
            total, comp = _c._neumaier(total, comp, 2.0 * _tail_hi(law, mu, sig, B))
        else:
            total, comp = _c._neumaier(total, comp, _tail_hi(law, mu, sig, B))
            total, comp = _c._neumaier(total, comp, _tail_lo(law, mu, sig, A))
        # pass 0: the runs outside the deep region; then the deep sum; pass 1 (only if the deep
        # sum declines): the deep runs one by one, on both sides.  (The run body is written out
        # here: a helper call costs ~50 ns per run in reference counting of its array arguments.)
        deep_ok = cg <= 0.0
        for pss in range(2):
            if pss == 1:
                if cg > 0.0:
                    v, ok = _deep_value(law, mu, sig, relu, neg, cg * s, deep_w[kd], total + comp)
                    if ok:
                        nf += 1
                        total, comp = _c._neumaier(total, comp, v)
                        deep_ok = True
                if deep_ok:
                    break
            mult = 2.0 if (fold and pss == 0) else 1.0
            for ro in range(nruns):
                r = order[ro]
                i0 = run_i0[r]
                i1 = run_i1[r]
                l0 = levels[i0]
                l1 = levels[i1]
                indeep = cg > 0.0 and l0 >= -cg and l1 <= cg
                if indeep != (pss == 1):
                    continue
                if pss == 0 and fold and l1 <= 0.0:
                    continue
                a = l0 * s
                b = l1 * s
                if b <= lo or a >= hi:
                    continue
                hs = run_h[r] * s
                # negligible run: (hs/2)^2 P(run) <= 1e-17 of the part already summed, with
                # P(run) <= (b - a) max p, and beyond 4 scales from loc (dz = distance / scale)
                # also <= (b - a) p(nearest point) and <= the tail mass beyond it
                # (Normal: phi(dz)/dz, Laplace: e^-dz / 2)
                pm = (b - a) * pmax
                dz = max(a - mu, mu - b) / sig
                if dz > 4.0:
                    if law == LAW_NORMAL:
                        e = math.exp(-0.5 * dz * dz)
                        pm = min(pm * e, e * 0.3989422804014327 / dz)
                    else:
                        e = math.exp(-dz)
                        pm = min(pm * e, 0.5 * e)
                if 0.25 * hs * hs * pm <= 1e-17 * total:
                    nf += 1
                    continue
                ia = i0
                if relu:
                    if b <= 0.0:
                        continue
                    if a < 0.0:
                        # restrict to [0, b] when 0 is a level of the run, else per cell
                        z = -l0 / run_h[r]
                        if z == math.floor(z) and l0 + z * run_h[r] == 0.0:
                            ia = i0 + int(z)
                            a = 0.0
                        else:
                            total, comp = _c._neumaier(total, comp, mult * _integrate_levels(
                                law, mu, sig, relu, levels, s, i0, i1, False, 0, ns, nodes, weights, amax))
                            continue
                ok = False
                v = 0.0
                if ia < i1:
                    if law == LAW_NORMAL:
                        t = 2.0 * math.pi * sig / hs
                        if t >= NORMAL_TMIN:
                            alpha = (a - mu) / sig
                            beta = (b - mu) / sig
                            if ia == i0:
                                if stamp[i0] != i:
                                    tv[i0], pv[i0] = _bvals(alpha)
                                    stamp[i0] = i
                                ta, pa = tv[i0], pv[i0]
                            else:
                                ta, pa = _bvals(alpha)
                            if stamp[i1] != i:
                                tv[i1], pv[i1] = _bvals(beta)
                                stamp[i1] = i
                            v, ok = _normal_run(alpha, beta, ta, pa, tv[i1], pv[i1], hs, t, eta, total)
                    else:
                        v, ok = _laplace_run(mu, sig, a, i1 - ia, hs)
                else:
                    ok = True
                if ok:
                    nf += 1
                elif law == LAW_NORMAL and (not relu or (a >= 0.0 and mu >= 0.0)):
                    # (ReLU: on x >= 0 the continuous part is the Normal's density; loc >= 0: the
                    # plain window loc +- 13 sig of _normal_cells holds all but 2e-38 of it)
                    v = _normal_cells(mu, sig, levels, s, ia, i1)
                else:
                    v = _integrate_levels(law, mu, sig, relu, levels, s, ia, i1, False, 0, ns, nodes, weights, amax)
                total, comp = _c._neumaier(total, comp, mult * v)
        out[i] = total + comp
        nfast[i] = nf


# ---------------------------------------------------------------------------
# interval lower bound over s in [s1, s2]
# ---------------------------------------------------------------------------

@numba.njit(cache=True)
def _mul(l, s):
    """l * s with 0 * inf = 0."""
    if l == 0.0:
        return 0.0
    return l * s


@numba.njit(cache=True)
def lower_bound(law, mu, sig, relu, levels, s1, s2, ns, nodes, weights, amax):
    """Lower bound of F(s) = E[(xi - Q_s(xi))^2] (continuous part) over all s in [s1, s2].

    For s in [s1, s2] the level l sits at some point of ``l [s1, s2]``, so the error at x
    is at least the distance ``D(x)`` to the union U of those intervals (s1 may be 0, s2
    inf).  U's gaps are split at their midpoints, each half anchored at its nearer end;
    beyond U the tails.  ``int D^2 p`` by the same error-bounded quadrature.
    """
    lo, hi = _c._window(law, mu, sig, relu)
    if hi <= lo:
        return 0.0
    K = levels.shape[0]
    total = 0.0
    comp = 0.0
    end = -math.inf
    start0 = 0.0
    for i in range(K):
        l = levels[i]
        if l >= 0.0:
            left = _mul(l, s1)
            right = _mul(l, s2)
        else:
            left = _mul(l, s2)
            right = _mul(l, s1)
        if i == 0:
            start0 = left
            end = right
            continue
        if left > end and end < hi and left > lo:
            m = 0.5 * (end + left)
            v = _piece_sum(law, mu, sig, end, 0.0, max(0.0, lo - end), min(m - end, hi - end), 0,
                           ns, nodes, weights, amax)
            v += _piece_sum(law, mu, sig, left, 0.0, max(m - left, lo - left), min(0.0, hi - left), 0,
                            ns, nodes, weights, amax)
            total, comp = _c._neumaier(total, comp, v)
        if right > end:
            end = right
    if not math.isinf(end) and hi > end:
        total, comp = _c._neumaier(total, comp, _piece_sum(law, mu, sig, end, 0.0, max(0.0, lo - end),
                                                           hi - end, 0, ns, nodes, weights, amax))
    if not math.isinf(start0) and lo < start0:
        total, comp = _c._neumaier(total, comp, _piece_sum(law, mu, sig, start0, 0.0, lo - start0,
                                                           min(0.0, hi - start0), 0, ns, nodes, weights, amax))
    return total + comp


@numba.njit(cache=True)
def curvature_lower(law, mu, sig, relu, levels, s1, s2, has_zero):
    """Lower bound of ``F''(s)`` (continuous part) over s in [s1, s2].

    ``F''(s) = 2 E[l_s(xi)^2] - 2 s sum_j m_j^2 delta_j p(m_j s)`` (m_j the midpoints,
    delta_j = l_{j+1} - l_j: the moving cell boundaries; the error is continuous across
    them).  When 0 is a level, ``|l_s(x)|`` is non-increasing in s (the quantizer is
    monotone and maps x >= 0 to levels >= 0), so ``E[l_s^2] >= E[l_{s2}^2]`` (cell masses
    at s2 from the tail on each cell's side, no cancellation); otherwise the first term
    is bounded by 0.  The sum is bounded termwise by the maximum of the unimodal
    density over ``m_j [s1, s2]``.  Cells and boundaries outside the law's window
    (density < 1e-37 of its maximum) are skipped, as everywhere in the engine.
    """
    lo, hi = _c._window(law, mu, sig, relu)
    K = levels.shape[0]
    ek2 = 0.0
    if has_zero:
        for i in range(K):
            l = levels[i]
            if l == 0.0:
                continue
            a = -math.inf if i == 0 else 0.5 * (levels[i - 1] + l) * s2
            b = math.inf if i == K - 1 else 0.5 * (l + levels[i + 1]) * s2
            if b < lo or a > hi:
                continue
            if a >= mu:
                Sa = _c._cdf_parts(law, mu, sig, relu, a)[1]
                Sb = 0.0 if math.isinf(b) else _c._cdf_parts(law, mu, sig, relu, b)[1]
                pk = Sa - Sb
            else:
                Fb = _c._cdf_parts(law, mu, sig, relu, b)[0] if not math.isinf(b) else math.nan
                Fa = 0.0 if math.isinf(a) else _c._cdf_parts(law, mu, sig, relu, a)[0]
                if math.isinf(b):
                    pk = 1.0 - Fa  # last cell straddling the mode: complement
                else:
                    pk = Fb - Fa
            if pk > 0.0:
                ek2 += l * l * pk
    total = 0.0
    for j in range(K - 1):
        m = 0.5 * (levels[j] + levels[j + 1])
        d = levels[j + 1] - levels[j]
        a = m * s1
        b = m * s2
        if a > b:
            a, b = b, a
        if b < lo or a > hi:
            continue
        total += m * m * d * _c._maxp(law, mu, sig, relu, a, b)
    return 2.0 * ek2 * (1.0 - 1e-12) - 2.0 * s2 * total
