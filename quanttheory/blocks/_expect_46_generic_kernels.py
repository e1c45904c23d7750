"""Numba kernel of the generic-law telescoped ``4over6`` (:mod:`._expect_46_generic`): the characteristic
function of one element's error difference from a Legendre expansion of the density per cell.

On a cell ``[c - h, c + h]`` where ``d / U^2 = a x + b`` and the density is replaced by a polynomial
``p(c + h y) = sum_r c_r P_r(y)`` (``|y| <= 1``),

    int e^{i t (a x + b)} p(x) dx = e^{i t (a c + b)} h sum_r c_r int_{-1}^{1} e^{i w y} P_r(y) dy
                                  = e^{i t (a c + b)} sum_r (2 h c_r) i^r j_r(w),      w = t a h,

``j_r`` the spherical Bessel functions (``int_{-1}^{1} e^{i w y} P_r(y) dy = 2 i^r j_r(w)``, DLMF 18.17.19
with 10.47.3), and ``j_r(-w) = (-1)^r j_r(w)``.  The polynomial's error ``int |f - p|`` bounds the error of
the cell's characteristic function at every ``t`` (computed in Python, :mod:`._expect_46_generic`).

``j_0 .. j_R`` at one ``x = |w|``: upward recurrence ``j_{r+1} = (2r + 1) j_r / x - j_{r-1}`` from
``sin x / x`` and ``sin x / x^2 - cos x / x`` when ``x >= R + 1`` (no ``r <= R`` is beyond the turning
point, where the recurrence is stable); otherwise Miller's backward recurrence from ``N = R + 40 + x``
(rescaled against overflow), normalized by whichever of ``j_0``, ``j_1`` (direct formulas) is larger in
magnitude (``j_0`` for ``x < 1``, where the formula of ``j_1`` cancels).  Both checked against mpmath (``tests/test_block_46_generic.py``).

Rounding: the kernel returns, per harmonic, ``sum_cells [(sum_r |coef_r|) (2 R + 10 + 2 x) + |s_c| (3 |t|
(|a c| + |b|) + 4)] eps``, ``s_c`` the cell's sum: the recurrences and the sum over ``r`` (a model charge,
>= 4x the error of ``j_r`` observed against mpmath on the test grid), the Bessel argument ``x = |t a h|``
(relative ``2 eps``; ``|j_r'| <= 1``) and the phase ``t (a c + b)`` (three roundings) times the size of the
term it turns.  The Bessel part is not a proof of the recurrences' rounding (docs/blocks.md §2i).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_EPS = 2.220446049250313e-16


@njit(cache=True)
def sph_bessel_all(x, R, jb):
    """``jb[r] = j_r(x)`` for ``r = 0 .. R`` (``x >= 0``; ``jb`` of length >= ``R + 1``)."""
    if x < 1e-300:
        jb[0] = 1.0
        for r in range(1, R + 1):
            jb[r] = 0.0
        return
    s = math.sin(x)
    c = math.cos(x)
    j0 = s / x
    if x >= R + 1.0:
        jb[0] = j0
        if R >= 1:
            jb[1] = s / (x * x) - c / x
        for r in range(1, R):
            jb[r + 1] = (2.0 * r + 1.0) / x * jb[r] - jb[r - 1]
        return
    N = R + 40 + int(x)
    jp1 = 0.0
    jc = 1e-300
    for r in range(N, -1, -1):
        if r <= R:
            jb[r] = jc
        jm1 = (2.0 * r + 1.0) / x * jc - jp1
        jp1 = jc
        jc = jm1
        if abs(jc) > 1e150:
            jc *= 1e-150
            jp1 *= 1e-150
            for q in range(r, R + 1):
                jb[q] *= 1e-150
    # normalize by the larger (in magnitude) of the direct j_0, j_1 (j_1's formula cancels for x < 1, where
    # j_0 >= sin(1) > |j_1| anyway: there j_0)
    if R >= 1 and x >= 1.0:
        j1 = s / (x * x) - c / x
        if abs(j1) > abs(j0) and jb[1] != 0.0:
            f = j1 / jb[1]
        else:
            f = j0 / jb[0]
    else:
        f = j0 / jb[0]
    for r in range(R + 1):
        jb[r] *= f


@njit(cache=True)
def legendre_cf_sum(tt, a, b, ctr, h, coef, deg, out_re, out_im, rnd):
    """``psi(t_i) = sum_cells e^{i t (a c + b)} sum_r coef[c, r] i^r j_r(t a h)`` for every ``t_i`` in ``tt``
    (``coef[c, r] = 2 h c_r`` times any weight, real), and the rounding charge per ``t_i`` (module doc)."""
    H = tt.size
    C = a.size
    R1 = coef.shape[1]
    jb = np.empty(R1 + 1)
    absc = np.zeros(C)
    for c in range(C):
        s = 0.0
        for r in range(deg[c] + 1):
            s += abs(coef[c, r])
        absc[c] = s
    for i in range(H):
        t = tt[i]
        sre = 0.0
        sim = 0.0
        rr = 0.0
        for c in range(C):
            R = deg[c]
            om = t * a[c] * h[c]
            sg = 1.0 if om >= 0.0 else -1.0
            x = abs(om)
            sph_bessel_all(x, R, jb)
            re = 0.0
            im = 0.0
            for r in range(R + 1):
                v = coef[c, r] * jb[r]
                q = r & 3
                if q == 0:
                    re += v
                elif q == 1:
                    im += sg * v
                elif q == 2:
                    re -= v
                else:
                    im -= sg * v
            ph = t * (a[c] * ctr[c] + b[c])
            cs = math.cos(ph)
            sn = math.sin(ph)
            sre += cs * re - sn * im
            sim += sn * re + cs * im
            rr += absc[c] * (2.0 * R + 10.0 + 2.0 * x) \
                + math.sqrt(re * re + im * im) * (3.0 * abs(t) * (abs(a[c] * ctr[c]) + abs(b[c])) + 4.0)
        out_re[i] = sre
        out_im[i] = sim
        rnd[i] = rr * _EPS
