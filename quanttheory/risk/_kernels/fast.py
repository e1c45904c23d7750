"""Private numba kernels: risk curves at a cost per scale independent of the bit width.

Computes the same quantity as :func:`quanttheory._kernels.cells.curve_builtin`,
``F(s) = s^2 E[phi(xi/s)]`` over the continuous part of the law (no curve factor,
no ReLU atom), for the built-in regularizers, without visiting the grid cells.
The derivation is in ``docs/fastpath.md``; in short, with the interior
``[a, b]`` (grid points, ``a = 0`` for ReLU laws) and ``t = 2 pi sig / s``:

* Normal: the Fourier series of the periodic error, integrated by parts ``2K``
  times at the two ends (the density is entire), gives
  ``int_a^b saw^2(x/s) p = P/12 + pi^-2 sum_k (-1)^k eta(2k+2) t^-2k D_k`` and
  ``int_a^b cos(2 pi x/s) p = -sum_k (-1)^k t^-2k D_k`` with
  ``D_k = He_{2k-1}(alpha) phi(alpha) - He_{2k-1}(beta) phi(beta)``; the
  remainder is bounded by ``sqrt((2K)!) / t^{2K}`` per end and per mode, and K
  is chosen so that this *rigorous* bound is below ``TOL`` times the result.
  The clipping tails ``E[(xi - B)^2; xi > B]`` use the Mills-ratio continued
  fraction (no cancellation).
* Laplace: the density is exponential on each side of ``loc``; the cell sums
  are geometric series (closed form), the single Fourier mode of QSin/SinReQ is
  elementary.

A scale is *handled* only when the method is provably accurate there (Normal:
the remainder bound is met with K <= KMAX; Laplace: ``t >= LAPLACE_TMIN``, so
that ``1 - Re E[e^{i w xi}]`` does not cancel).  Other scales are left to the
per-cell path (they have few cells: ``s`` is then comparable to the law's scale).
"""

from __future__ import annotations

import math

import numba
import numpy as np


LAW_NORMAL = 0
LAW_LAPLACE = 1
CODE_MSQE = 0
CODE_QSIN = 1
CODE_SINREQ = 2

KMAX = 64             # max integration-by-parts order (Normal)
TOL = 1e-16           # remainder bound / result (Normal)
LAPLACE_TMIN = 2.0    # Laplace handled for 2 pi b / s >= this
NORMAL_TMIN = 6.0     # below this the bound can never be met: skip the search
CF_TERMS = 120        # Mills-ratio continued fraction depth (beta >= 2)

_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_PI2 = math.pi * math.pi


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


# ---------------------------------------------------------------------------
# Normal helpers
# ---------------------------------------------------------------------------

@numba.njit(cache=True)
def _q(z):
    """Upper tail ``Q(z) = P(Z > z)`` (accurate for large z, z may be +-inf)."""
    return 0.5 * math.erfc(z / _SQRT2)


@numba.njit(cache=True)
def _pdf(z):
    if math.isinf(z):
        return 0.0
    return math.exp(-0.5 * z * z) * _INV_SQRT2PI


@numba.njit(cache=True)
def _mass(alpha, beta):
    """``Phi(beta) - Phi(alpha)`` without cancellation (alpha < beta, may be infinite)."""
    if alpha >= 0.0:
        return _q(alpha) - _q(beta)
    if beta <= 0.0:
        return _q(-beta) - _q(-alpha)
    return 1.0 - _q(-alpha) - _q(beta)


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
def _normal_one(mu, sig, relu, r_b, r_t, code, s, eta):
    """Returns (value, handled) for one scale."""
    t = 2.0 * math.pi * sig / s
    if t < NORMAL_TMIN:
        return 0.0, False
    # ends of the interior (in standard units) and clipping tails
    has_a = True
    has_b = True
    interior = True
    T = 0.0
    if code == CODE_SINREQ:
        if not relu:
            # no ends at all: exact closed form (t >= NORMAL_TMIN: no cancellation)
            ph = 2.0 * math.pi * (mu / s - math.floor(mu / s))
            return 0.5 * s * s * (1.0 - math.exp(-0.5 * t * t) * math.cos(ph)), True
        alpha = -mu / sig
        beta = math.inf
        has_b = False
    else:
        B = r_t * s
        beta = (B - mu) / sig
        if relu:
            if r_t <= 0:
                interior = False
                T = _tail_above(beta, sig)  # beta = -mu/sig here (B = 0)
            else:
                T = _tail_above(beta, sig)
            alpha = -mu / sig
        else:
            alpha = (r_b * s - mu) / sig
            T = _tail_above(beta, sig) + _tail_above(-alpha, sig)  # lower tail by symmetry
    tf = _PI2 if code == CODE_QSIN else 1.0  # QSin tails are pi^2 (x - r s)^2
    if not interior:
        return tf * T, True
    P = _mass(alpha, beta)
    nends = (1 if has_a else 0) + (1 if has_b else 0)
    if code == CODE_MSQE:
        est = s * s * P / 12.0 + T
        cbound = nends * 1.0823232337111382 / _PI2 * s * s  # zeta(4)/pi^2 per end
    else:
        est = 0.5 * s * s * P + tf * T
        cbound = 0.5 * nends * s * s
    target = TOL * est
    if not (target > 0.0):
        return 0.0, False
    pa = _pdf(alpha) if has_a else 0.0
    pb = _pdf(beta) if has_b else 0.0
    # Hermite functions h_n = He_n(z) phi(z) by He_{n+1} = z He_n - n He_{n-1}, scaled by
    # phi from the start so that far ends (phi underflows to 0) give 0, never inf * 0
    ha0 = pa
    ha1 = alpha * pa if has_a else 0.0
    hb0 = pb
    hb1 = beta * pb if has_b else 0.0
    it2 = 1.0 / (t * t)
    tp = 1.0  # t^-2k
    acc = 0.0
    # bound after K terms: cbound * sqrt((2K)!) / t^{2K}
    logb = 0.0  # log of sqrt((2K)!) / t^{2K}
    ok = False
    for k in range(1, KMAX + 1):
        n = 2 * k - 1  # current odd order held in h*1
        tp *= it2
        dk = ha1 - hb1
        sgn = -1.0 if (k & 1) else 1.0
        if code == CODE_MSQE:
            acc += sgn * eta[k] * tp * dk
        else:
            acc += sgn * tp * dk
        logb += 0.5 * math.log((2.0 * k) * (2.0 * k - 1.0)) - 2.0 * math.log(t)
        if cbound * math.exp(logb) <= target:
            ok = True
            break
        # advance to order n + 2
        ha2 = alpha * ha1 - n * ha0
        ha3 = alpha * ha2 - (n + 1) * ha1
        ha0, ha1 = ha2, ha3
        hb2 = beta * hb1 - n * hb0 if has_b else 0.0
        hb3 = beta * hb2 - (n + 1) * hb1 if has_b else 0.0
        hb0, hb1 = hb2, hb3
    if not ok:
        return 0.0, False
    if code == CODE_MSQE:
        return s * s * (P / 12.0 + acc / _PI2) + T, True
    # int_a^b cos(w x) p = -sum_k (-1)^k t^-2k D_k = -acc
    return 0.5 * s * s * (P + acc) + tf * T, True


# ---------------------------------------------------------------------------
# Laplace helpers (density exp(-|x - mu|/b) / (2 b))
# ---------------------------------------------------------------------------

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
def _laplace_tail_above(kB, kmu, dmu, kap, b):
    """``E[(X - B)^2; X > B]`` with B = kB s."""
    e = ((kB - kmu) - dmu) * kap  # (B - mu)/b
    if e >= 0.0:
        return b * b * math.exp(-e)
    return b * b * (2.0 + e * e - math.exp(e))


@numba.njit(cache=True)
def _before(k1, d1, k2, d2):
    """(k1 + d1) < (k2 + d2) for grid-unit points with |d| <= 1/2 and integer k."""
    dk = k1 - k2  # exact (integers held in float64, |k| < 2^50)
    if dk != 0.0:
        return (dk + (d1 - d2)) < 0.0 if abs(dk) == 1.0 else dk < 0.0
    return d1 < d2


@numba.njit(cache=True)
def _laplace_one(mu, b, relu, r_b, r_t, code, s):
    t = 2.0 * math.pi * b / s
    if t < LAPLACE_TMIN:
        return 0.0, False
    kap = s / b
    q = mu / s
    if abs(q) > 2.0 ** 50:
        return 0.0, False  # loc/s beyond exact float64 integers
    kmu = np.floor(q + 0.5)
    dmu = q - kmu
    # interior [a, bb]: flags for infinite ends
    ainf = False
    binf = False
    T = 0.0
    ka = 0.0
    kb = 0.0
    interior = True
    if code == CODE_SINREQ:
        binf = True
        if relu:
            ka = 0.0
        else:
            ainf = True
    else:
        kb = float(r_t)
        if relu:
            ka = 0.0
            T = _laplace_tail_above(kb, kmu, dmu, kap, b)
            if r_t <= 0:
                interior = False
        else:
            ka = float(r_b)
            T = _laplace_tail_above(kb, kmu, dmu, kap, b) + _laplace_tail_above(-ka, -kmu, -dmu, kap, b)
    tf = _PI2 if code == CODE_QSIN else 1.0
    if not interior:
        return tf * T, True
    mass = 0.0
    cosm = 0.0
    msq = 0.0
    # right segment [max(a, mu), bb]
    if ainf or _before(ka, 0.0, kmu, dmu):
        ku, du = kmu, dmu
    else:
        ku, du = ka, 0.0
    if binf or _before(ku, du, kb, 0.0):
        m1, c1, q1 = _seg_right(ku, du, kb, 0.0, binf, kmu, dmu, kap, t, code)
        mass += m1
        cosm += c1
        msq += q1
    # left segment [a, min(bb, mu)], mirrored: [-min(bb, mu), -a] about -mu
    if binf or _before(kmu, dmu, kb, 0.0):
        kv, dv = kmu, dmu
    else:
        kv, dv = kb, 0.0
    if ainf or _before(ka, 0.0, kv, dv):
        m2, c2, q2 = _seg_right(-kv, -dv, -ka, 0.0, ainf, -kmu, -dmu, kap, t, code)
        mass += m2
        cosm += c2
        msq += q2
    if code == CODE_MSQE:
        return s * s * msq + T, True
    return 0.5 * s * s * (mass - cosm) + tf * T, True


@numba.njit(cache=True)
def fast_curve(law, mu, sig, relu, r_b, r_t, code, scales, eta, out, handled):
    """Fill ``out[i] = s^2 E[phi(xi/s)]`` and ``handled[i]`` for each scale (built-in phi)."""
    for i in range(scales.shape[0]):
        s = scales[i]
        if law == LAW_NORMAL:
            v, h = _normal_one(mu, sig, relu, r_b, r_t, code, s, eta)
        else:
            v, h = _laplace_one(mu, sig, relu, r_b, r_t, code, s)
        out[i] = v if h else np.nan
        handled[i] = h
