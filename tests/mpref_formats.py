"""High-precision mpmath reference for the risk curves of arbitrary level sets (formats).

Method (different from the engine's run-wise series / Gauss-Legendre in double): cell
by cell from the *global* partial moments ``M_j(x) = int_{-inf}^x t^j p(t) dt`` in
closed form (erfc / exp, :class:`mpref.Law`), at every midpoint between consecutive
levels, at ``dps`` digits (default 50):

    E[(X - l s)^2; m_{i-1} s < X < m_i s] = dM2 - 2 l s dM1 + (l s)^2 dM0

with ``m_{-1} = -inf`` and ``m_{K-1} = +inf`` (the clipping tails).  The ReLU atom
``P(X <= 0)`` at 0 contributes ``P(X <= 0) (s d0)^2``, ``d0`` the distance from 0 to
the nearest level.  Levels are passed as exact decimal strings of the float64 values.
"""

from __future__ import annotations

import mpmath as mp

from mpref import Law


def mp_format_mse(law_code: int, loc, scale, relu: bool, levels, s, dps: int = 50):
    """Reference ``E[(xi - Q_s(xi))^2]`` (no pi^2) as an mpf; ``levels`` sorted (floats)."""
    with mp.workdps(dps):
        law = Law(law_code, loc, scale, relu)
        s = mp.mpf(s)
        L = [mp.mpf(float(x)) for x in levels]
        K = len(L)
        total = mp.mpf(0)
        prev = law.M(-mp.inf)
        for i in range(K):
            b = mp.inf if i == K - 1 else (L[i] + L[i + 1]) / 2 * s
            # cells entirely outside [lo, hi] carry < 1e-100 of mass: skip the moments
            if i < K - 1 and b < law.lo:
                continue
            Mb = law.M(b)
            if i > 0 and (L[i - 1] + L[i]) / 2 * s > law.hi:
                break
            d0, d1, d2 = (Mb[j] - prev[j] for j in range(3))
            c = L[i] * s
            total += d2 - 2 * c * d1 + c * c * d0
            prev = Mb
        if relu:
            dz = min(abs(x) for x in L)
            total += law.point_mass() * (dz * s) ** 2
        return total


def mp_format_dmse(law_code: int, loc, scale, relu: bool, levels, s, dps: int = 50):
    """Reference ``d/ds E[(xi - Q_s(xi))^2] = -2 sum_i l_i E[xi - l_i s; cell_i]`` (+ the ReLU
    atom's ``2 P(xi <= 0) d0^2 s``), from the same partial moments."""
    with mp.workdps(dps):
        law = Law(law_code, loc, scale, relu)
        s = mp.mpf(s)
        L = [mp.mpf(float(x)) for x in levels]
        K = len(L)
        total = mp.mpf(0)
        prev = law.M(-mp.inf)
        for i in range(K):
            b = mp.inf if i == K - 1 else (L[i] + L[i + 1]) / 2 * s
            if i < K - 1 and b < law.lo:
                continue
            Mb = law.M(b)
            if i > 0 and (L[i - 1] + L[i]) / 2 * s > law.hi:
                break
            d0, d1 = Mb[0] - prev[0], Mb[1] - prev[1]
            total += -2 * L[i] * (d1 - L[i] * s * d0)
            prev = Mb
        if relu:
            dz = min(abs(x) for x in L)
            total += 2 * law.point_mass() * dz * dz * s
        return total


def mp_format_argmin(law_code: int, loc, scale, relu: bool, levels, s0, dps: int = 40):
    """Root of the reference derivative near ``s0`` (secant iteration at ``dps`` digits)."""
    with mp.workdps(dps):
        f = lambda s: mp_format_dmse(law_code, loc, scale, relu, levels, s, dps)  # noqa: E731
        return mp.findroot(f, (mp.mpf(s0) * (1 - mp.mpf(10) ** -6), mp.mpf(s0) * (1 + mp.mpf(10) ** -6)),
                           solver="secant", tol=mp.mpf(10) ** (-2 * dps // 3))
