"""mpmath reference for the Student t and generalized Gaussian risk curves (independent of the engine).

Method: cell by cell from the standardized *upper partial moments*
``G_j(z) = E[Z^j; Z > z]`` at every cell boundary, in closed form through the
regularized incomplete beta function (Student t: ``G0 = I_{nu/(nu+z^2)}(nu/2, 1/2)/2``
for z >= 0, ``G1 = (nu + z^2) p(z)/(nu - 1)``, ``G2 = (z (nu + z^2) p(z) + nu G0)/(nu - 2)``)
and the upper incomplete gamma function (generalized Gaussian:
``G_j = Gamma((j+1)/beta, z^beta) / (2 Gamma(1/beta))``):

    E[(X - c)^2; X in I] = sig^2 (dG2 - 2 tau dG1 + tau^2 dG0),   tau = (c - mu)/sig.

The engine integrates the density by Gauss-Legendre pieces instead.  The
cancellation of this form (~1e12 at 16 bits) is absorbed by working at ``dps``
digits (default 40).  ReLU: the density on (0, inf) only (the atom at 0 adds
phi(0) = 0 for MSQE).  Returned: ``s^2 E[MSQE(xi/s)]`` (no pi^2 factor).
"""

from __future__ import annotations

import mpmath as mp

T, GG = 2, 3


class Std:
    def __init__(self, law, shape):
        self.law, self.a = law, mp.mpf(shape)
        if law == T:
            nu = self.a
            self.lc = mp.loggamma((nu + 1) / 2) - mp.loggamma(nu / 2) - mp.log(nu * mp.pi) / 2
            self.m = (mp.mpf(1), mp.mpf(0), nu / (nu - 2))
        else:
            b = self.a
            self.m = (mp.mpf(1), mp.mpf(0), mp.gamma(3 / b) / mp.gamma(1 / b))

    def G(self, z):
        """(G0, G1, G2) at z (any real, +-inf allowed)."""
        if z == mp.inf:
            return (mp.mpf(0),) * 3
        if z == -mp.inf:
            return self.m
        if self.law == T:
            nu = self.a
            p = mp.exp(self.lc - (nu + 1) / 2 * mp.log1p(z * z / nu))
            g0 = mp.betainc(nu / 2, mp.mpf(1) / 2, 0, nu / (nu + z * z), regularized=True) / 2
            if z < 0:
                g0 = 1 - g0
            g1 = (nu + z * z) * p / (nu - 1)
            g2 = (z * (nu + z * z) * p + nu * g0) / (nu - 2)
            return g0, g1, g2
        b = self.a
        u = abs(z)
        up = [mp.gammainc((j + 1) / b, u**b) / (2 * mp.gamma(1 / b)) for j in range(3)]
        if z >= 0:
            return tuple(up)
        return tuple(self.m[j] - (-1) ** j * up[j] for j in range(3))


def mp_msqe(law, shape, loc, scale, relu, r_b, r_t, s, dps=40):
    """``s^2 E[MSQE(xi/s)]`` over the continuous part, at ``dps`` digits."""
    with mp.workdps(dps):
        st = Std(law, shape)
        mu, sig, s = mp.mpf(loc), mp.mpf(scale), mp.mpf(s)
        z0 = -mu / sig if relu else -mp.inf
        # intervals: (-inf, (r_b+1/2)s], ..., [(r_t-1/2)s, inf) with anchors k s
        bounds = [-mp.inf] + [((k + mp.mpf(1) / 2) * s - mu) / sig for k in range(r_b, r_t)] + [mp.inf]
        bounds = [max(b, z0) for b in bounds]
        Gs = [st.G(b) for b in bounds]
        total = mp.mpf(0)
        for i, k in enumerate(range(r_b, r_t + 1)):
            if bounds[i + 1] <= bounds[i]:
                continue
            tau = (k * s - mu) / sig
            d = [Gs[i][j] - Gs[i + 1][j] for j in range(3)]
            total += d[2] - 2 * tau * d[1] + tau * tau * d[0]
        return total * sig * sig


def mp_dmsqe(law, shape, loc, scale, relu, r_b, r_t, s, dps=40):
    """``d/ds s^2 E[MSQE(xi/s)] = -2 E[K (xi - K s)]`` (K the clipped grid integer), same partial moments."""
    with mp.workdps(dps):
        st = Std(law, shape)
        mu, sig, s = mp.mpf(loc), mp.mpf(scale), mp.mpf(s)
        z0 = -mu / sig if relu else -mp.inf
        bounds = [-mp.inf] + [((k + mp.mpf(1) / 2) * s - mu) / sig for k in range(r_b, r_t)] + [mp.inf]
        bounds = [max(b, z0) for b in bounds]
        Gs = [st.G(b) for b in bounds]
        total = mp.mpf(0)
        for i, k in enumerate(range(r_b, r_t + 1)):
            if bounds[i + 1] <= bounds[i] or k == 0:
                continue
            tau = (k * s - mu) / sig
            total += k * ((Gs[i][1] - Gs[i + 1][1]) - tau * (Gs[i][0] - Gs[i + 1][0]))
        return -2 * sig * total
