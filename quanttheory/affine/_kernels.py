"""Numba kernels of the affine optimizers (private; inputs validated by the callers).

``union_dist_sq``: for each row ``i`` of ``lo``/``hi`` (intervals ``[lo_ij, hi_ij]``,
each column order non-decreasing), ``E[dist(xi, U_i)^2]`` for a Normal/Laplace law
(ReLU: density restricted to ``x > 0`` plus an atom ``p0`` at 0), with a bound on
its rounding error.  Same formulas as :mod:`quanttheory.affine._moments` (scalar
loops, one ``erfc`` per piece end).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

EPS = 2.0**-52
INV_SQRT2 = 1.0 / math.sqrt(2.0)
INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)


@njit(cache=True)
def _normal_piece(a, b, c, mu, sig):
    """(value, error bound) of int_a^b (x - c)^2 N(mu, sig) dx, a < b finite or +-inf (window-clipped)."""
    al = (a - mu) / sig
    be = (b - mu) / sig
    d = (c - mu) / sig
    if al > 0.0:
        pa = 0.5 * math.erfc(al * INV_SQRT2)
        pb = 0.5 * math.erfc(be * INV_SQRT2)
        dP = pa - pb
    else:
        pa = 0.5 * math.erfc(-al * INV_SQRT2)
        pb = 1.0 - 0.5 * math.erfc(be * INV_SQRT2) if be > 0.0 else 0.5 * math.erfc(-be * INV_SQRT2)
        dP = pb - pa
    fa = (al - 2.0 * d) * math.exp(-0.5 * al * al) * INV_SQRT2PI
    fb = (be - 2.0 * d) * math.exp(-0.5 * be * be) * INV_SQRT2PI
    val = sig * sig * ((1.0 + d * d) * dP + fa - fb)
    amp = 2.0 + al * al + be * be + d * d
    err = 16.0 * EPS * amp * sig * sig * ((1.0 + d * d) * (abs(pa) + abs(pb)) + abs(fa) + abs(fb))
    return val, err


@njit(cache=True)
def _lap_G(u, t):
    return math.exp(-u) * (t * t + 2.0 * t + 2.0)


@njit(cache=True)
def _laplace_piece(a, b, c, mu, sig):
    d = (c - mu) / sig
    val = 0.0
    mag = 0.0
    if b > mu:  # right side: u = (x - mu)/sig, x - c = sig (u - d)
        u0 = (max(a, mu) - mu) / sig
        u1 = (b - mu) / sig
        g0 = _lap_G(u0, u0 - d)
        g1 = _lap_G(u1, u1 - d)
        val += g0 - g1
        mag += abs(g0) + abs(g1)
    if a < mu:  # left side: u = (mu - x)/sig, x - c = -sig (u + d)
        u0 = (mu - min(b, mu)) / sig
        u1 = (mu - a) / sig
        g0 = _lap_G(u0, u0 + d)
        g1 = _lap_G(u1, u1 + d)
        val += g0 - g1
        mag += abs(g0) + abs(g1)
    amp = 4.0 + abs(d) + abs(a - mu) / sig + abs(b - mu) / sig
    return 0.5 * sig * sig * val, 16.0 * EPS * amp * 0.5 * sig * sig * mag


@njit(cache=True)
def _piece(law, mu, sig, relu, a, b, c, lo_w, hi_w):
    if relu:
        if a < 0.0:
            a = 0.0
    if a < lo_w:
        a = lo_w
    if b > hi_w:
        b = hi_w
    if not (b > a):
        return 0.0, 0.0
    # the centre may be far away (infinite interval ends are never centres of non-empty pieces)
    if law == 0:
        return _normal_piece(a, b, c, mu, sig)
    return _laplace_piece(a, b, c, mu, sig)


@njit(cache=True)
def union_dist_sq(law, mu, sig, relu, p0, reach, lo, hi, val_out, err_out):
    B, L = lo.shape
    lo_w = mu - reach
    hi_w = mu + reach
    for i in range(B):
        v = 0.0
        e = 0.0
        # left tail: x < lo_0, centre lo_0
        c = lo[i, 0]
        if c > lo_w:
            pv, pe = _piece(law, mu, sig, relu, -np.inf, c, c, lo_w, hi_w)
            v += pv
            e += pe
        for j in range(L - 1):
            ga = hi[i, j]
            gb = lo[i, j + 1]
            if gb > ga and gb > lo_w and ga < hi_w:
                m = 0.5 * (ga + gb)
                if m > lo_w:
                    pv, pe = _piece(law, mu, sig, relu, ga, m, ga, lo_w, hi_w)
                    v += pv
                    e += pe
                if m < hi_w:
                    pv, pe = _piece(law, mu, sig, relu, m, gb, gb, lo_w, hi_w)
                    v += pv
                    e += pe
        c = hi[i, L - 1]
        if c < hi_w:
            pv, pe = _piece(law, mu, sig, relu, c, np.inf, c, lo_w, hi_w)
            v += pv
            e += pe
        if p0 > 0.0:
            dmin = np.inf
            for j in range(L):
                dd = max(lo[i, j], -hi[i, j], 0.0)
                if dd < dmin:
                    dmin = dd
            v += p0 * dmin * dmin
        val_out[i] = v
        err_out[i] = e + 1e-300
