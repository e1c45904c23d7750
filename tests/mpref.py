"""High-precision mpmath reference for the risk curves (independent of the engine).

Method (different from the engine's Gauss-Legendre quadrature in double):

* MSQE: cell by cell from *global* partial moments ``M_j(x) = int_{-inf}^x t^j p(t) dt``
  (closed forms in erfc/exp) at every cell boundary:
  ``E[(X - k s)^2; cell_k] = dM2 - 2 k s dM1 + (k s)^2 dM0``.  The cancellation in
  this form (up to ~1e12 at 16 bits) is absorbed by working at ``dps`` digits
  (default 50).
* QSin and SinReQ: ``sin^2(pi u) = (1 - cos 2 pi u)/2`` integrated over the whole
  interior at once with the complex closed form of ``int e^{i w t} p(t) dt``
  (complex erfc for the Normal, elementary for the Laplace); tails from the
  partial moments.  This costs O(1) in the bit width.

The ReLU laws: atom ``P(X <= 0)`` at 0 (which is a grid point of both grid kinds,
so it contributes ``phi(0) = 0`` for the built-ins) plus the density on ``(0, inf)``.

Mass beyond 60 standard deviations (Normal) or 250 scales (Laplace) from ``loc``
is below 1e-100 and is skipped.
"""

from __future__ import annotations

import math

import mpmath as mp

NORMAL, LAPLACE = 0, 1


class Law:
    """Partial moments of a Normal/Laplace law, optionally restricted to (0, inf)."""

    def __init__(self, law: int, loc, scale, relu: bool):
        self.law, self.relu = law, relu
        self.mu, self.sig = mp.mpf(loc), mp.mpf(scale)
        span = 60 if law == NORMAL else 250
        self.lo = self.mu - span * self.sig
        self.hi = self.mu + span * self.sig
        if relu:
            self.lo = max(self.lo, mp.mpf(0))

    def _M(self, x):
        """(M0, M1, M2) of the unrestricted law at x (x may be +-inf)."""
        mu, sig = self.mu, self.sig
        if x == mp.inf:
            return (mp.mpf(1), mu, mu**2 + (sig**2 if self.law == NORMAL else 2 * sig**2))
        if x == -mp.inf:
            return (mp.mpf(0), mp.mpf(0), mp.mpf(0))
        x = mp.mpf(x)
        z = (x - mu) / sig
        if self.law == NORMAL:
            Phi = mp.erfc(-z / mp.sqrt(2)) / 2
            phi = mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)
            return (Phi, mu * Phi - sig * phi, (mu**2 + sig**2) * Phi - sig * (mu + x) * phi)
        b = sig
        if z <= 0:
            e = mp.exp(z) / 2
            return (e, e * (x - b), e * (x * x - 2 * b * x + 2 * b * b))
        e = mp.exp(-z) / 2
        E = self._M(mp.inf)
        return (1 - e, E[1] - e * (x + b), E[2] - e * (x * x + 2 * b * x + 2 * b * b))

    def M(self, x):
        """Partial moments of the continuous part (restricted to (0, inf) for ReLU)."""
        if self.relu:
            if x <= 0:
                return (mp.mpf(0),) * 3
            a, c = self._M(x), self._M(mp.mpf(0))
            return tuple(p - q for p, q in zip(a, c))
        return self._M(x)

    def charint(self, w, a, b):
        """``int_a^b e^{i w t} p(t) dt`` over the continuous part (a < b, may be +-inf)."""
        if self.relu:
            a = max(a, mp.mpf(0))
        if a >= b:
            return mp.mpc(0)
        mu, sig = self.mu, self.sig
        if self.law == NORMAL:
            # int phi_{mu,sig}(t) e^{iwt} = e^{iw mu - w^2 sig^2/2} [Phi(z - i w sig)]_a^b
            def F(t):
                if t == mp.inf:
                    return mp.mpc(1)
                if t == -mp.inf:
                    return mp.mpc(0)
                z = (t - mu) / sig - 1j * w * sig
                return mp.erfc(-z / mp.sqrt(2)) / 2
            return mp.exp(1j * w * mu - w * w * sig * sig / 2) * (F(b) - F(a))
        # Laplace, split at mu; e^{-|t-mu|/sig}/(2 sig)
        total = mp.mpc(0)
        lo, hi = a, min(b, mu)
        if lo < hi:  # rising side: e^{(t-mu)/sig}; antiderivative e^{(t-mu)/sig + iwt}/(2 sig (1/sig + iw))
            c = 1 / sig + 1j * w
            G = lambda t: mp.mpc(0) if t == -mp.inf else mp.exp((t - mu) / sig + 1j * w * t) / (2 * sig * c)
            total += G(hi) - G(lo)
        lo, hi = max(a, mu), b
        if lo < hi:
            c = -1 / sig + 1j * w
            G = lambda t: mp.mpc(0) if t == mp.inf else mp.exp(-(t - mu) / sig + 1j * w * t) / (2 * sig * c)
            total += G(hi) - G(lo)
        return total

    def point_mass(self):
        if not self.relu:
            return mp.mpf(0)
        return self._M(mp.mpf(0))[0]


def _sq_about(law: Law, a, b, c):
    """``E[(X - c)^2; a < X < b]`` over the continuous part."""
    Ma, Mb = law.M(a), law.M(b)
    d0, d1, d2 = (Mb[i] - Ma[i] for i in range(3))
    return d2 - 2 * c * d1 + c * c * d0


def mp_risk(law_code: int, loc, scale, relu: bool, r_b: int, r_t: int, reg: str, s, dps: int = 50):
    """Reference ``R(s) = f * s^2 E[phi(xi/s)]`` (f = pi^2 for MSQE) as an mpf."""
    with mp.workdps(dps):
        law = Law(law_code, loc, scale, relu)
        s = mp.mpf(s)
        if reg == "msqe":
            total = mp.mpf(0)
            # only the cells that meet [lo, hi]
            kmin = max(r_b, int(mp.floor(law.lo / s - mp.mpf(1) / 2)))
            kmax = min(r_t, int(mp.ceil(law.hi / s + mp.mpf(1) / 2)))
            # a grid entirely below lo (above hi): its end cell, unbounded, holds all the mass
            kmin, kmax = min(kmin, r_t), max(kmax, r_b)
            prevM = None
            for k in range(kmin, kmax + 1):
                a = -mp.inf if k == r_b else (k - mp.mpf(1) / 2) * s
                b = mp.inf if k == r_t else (k + mp.mpf(1) / 2) * s
                Ma = prevM if prevM is not None else law.M(a)
                Mb = law.M(b)
                d0, d1, d2 = (Mb[i] - Ma[i] for i in range(3))
                c = k * s
                total += d2 - 2 * c * d1 + c * c * d0
                prevM = Mb
            return mp.pi**2 * total
        if reg in ("qsin", "sinreq"):
            w = 2 * mp.pi / s
            if reg == "qsin":
                A, B = r_b * s, r_t * s
                dM0 = law.M(B)[0] - law.M(A)[0]
                inner = (dM0 - mp.re(law.charint(w, A, B))) / 2
                tails = mp.pi**2 * (_sq_about(law, -mp.inf, A, A) + _sq_about(law, B, mp.inf, B)) / s**2
                return s**2 * (inner + tails)
            inner = (law.M(mp.inf)[0] - mp.re(law.charint(w, -mp.inf, mp.inf))) / 2
            return s**2 * inner
        raise ValueError(reg)


def tooth_minima(F, M, s_star, J, npts, iters, r_side=math.inf):
    """Every dip of a ripple curve F near s*: one per tooth between consecutive scales where a rounding
    boundary crosses the mode, s = M/c, c = k + 1/2 (R' is smooth inside a tooth), J teeth on either
    side of s* (teeth with c <= 1/2 or c + 1 > r_side skipped); each minimized by a grid of ``npts``
    points and ``iters`` golden-section steps.  Sorted (value, scale) pairs."""
    c0 = M / s_star  # |c| of the boundary on the mode at s*
    dips = []
    for j in range(-J, J + 1):
        c = math.floor(c0 - 0.5) + 0.5 + j
        if c <= 0.5 or c + 1 > r_side:
            continue
        lo0, hi0 = M / (c + 1), M / c
        xs = [lo0 + (hi0 - lo0) * i / (npts - 1) for i in range(npts)]
        vs = [F(x) for x in xs]
        i = min(range(npts), key=lambda t: vs[t])
        lo, hi = xs[max(i - 1, 0)], xs[min(i + 1, npts - 1)]
        g = (math.sqrt(5) - 1) / 2
        for _ in range(iters):  # golden section on the bracket
            x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
            if F(x1) <= F(x2):
                hi = x2
            else:
                lo = x1
        x = 0.5 * (lo + hi)
        dips.append((F(x), x))
    dips.sort()
    return dips
