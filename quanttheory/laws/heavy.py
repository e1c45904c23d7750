"""Heavy-tailed location-scale laws: Student t and the generalized Gaussian.

* ``StudentT(df, loc, scale)``: density ``Gamma((nu+1)/2) / (Gamma(nu/2) sqrt(nu pi) scale)
  (1 + z**2/nu)**(-(nu+1)/2)``, ``z = (x - loc)/scale``; variance ``scale**2 nu/(nu - 2)``.
  The risk of quantization needs ``E[xi**2] < inf``: ``df > 2`` (for ``df <= 2`` the
  clipping error ``E[(xi - r s)**2; xi > r s]`` is infinite at every scale).
* ``GenNormal(beta, loc, scale)``: scipy's ``gennorm``, density
  ``beta / (2 scale Gamma(1/beta)) exp(-|z|**beta)``; ``beta = 2`` is ``Normal(loc, scale/sqrt(2))``,
  ``beta = 1`` is ``Laplace(loc, scale)``; variance ``scale**2 Gamma(3/beta)/Gamma(1/beta)``.

Both give the engine ``shape_kernel() = (law code, shape, loc, scale, relu)``: their risk
curves go through :mod:`quanttheory.risk.heavy` (numba, relative error <= 1e-12), and
``partial_moment`` is in closed form (incomplete beta / gamma functions) for k <= 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validate import as_generator, check_finite_real, check_positive
from .base import Law

LAW_T = 2
LAW_GENNORM = 3


class _Shape(Law):
    """A symmetric location-scale law with a shape parameter and numba kernels (risk/_kernels/heavy.py)."""

    law: int
    loc: float
    scale: float

    def _shape(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def shape_kernel(self):
        """``(law code, shape, loc, scale, relu)`` for :mod:`quanttheory.risk.heavy`."""
        return self.law, self._shape(), self.loc, self.scale, False

    # standardized upper partial moments S_k(z) = E[Z^k; Z > z], z >= 0, and E[Z^k]
    def _upper(self, k: int, z: float) -> float:
        from ..risk.heavy import upper_moments

        return float(upper_moments(self.law, self._shape(), np.array([z]))[k][0])

    def _std_moment(self, k: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def _std_partial(self, k: int, za: float, zb: float, memo=None) -> float:
        """``E[Z**k; za < Z <= zb]`` without cancellation (tails by symmetry).  ``memo``: a dict shared by the
        calls for ``k = 0, 1, 2`` at the same ends (:meth:`partial_moment`), so that ``upper_moments`` (which
        gives all three orders) runs once per end point instead of once per order; the same numbers."""

        def up(z):
            if memo is None:
                return self._upper(k, z)
            if z not in memo:
                from ..risk.heavy import upper_moments

                memo[z] = upper_moments(self.law, self._shape(), np.array([z]))
            return float(memo[z][k][0])

        def G(z):  # E[Z^k; Z > z]
            if z == math.inf:
                return 0.0
            if z == -math.inf:
                return self._std_moment(k)
            if z >= 0:
                return up(z)
            return self._std_moment(k) - (-1) ** k * up(-z)

        if zb <= 0:  # both on the left: mirror
            return (-1) ** k * (G(-zb) - G(-za))
        return G(za) - G(zb)

    def partial_moment(self, k: int, a: float = -math.inf, b: float = math.inf) -> float:
        """``E[xi**k; a < xi <= b]`` in closed form for k <= 2 (``xi = loc + scale Z``)."""
        if k > 2:
            return super().partial_moment(k, a, b)
        a, b = float(a), float(b)
        if not a < b:
            return 0.0
        m, c = self.loc, self.scale
        za, zb = (a - m) / c, (b - m) / c
        memo = {}
        P = [self._std_partial(j, za, zb, memo) for j in range(k + 1)]
        if k == 0:
            return P[0]
        if k == 1:
            return m * P[0] + c * P[1]
        return m * m * P[0] + 2 * m * c * P[1] + c * c * P[2]

    def mean(self) -> float:
        return self.loc

    def second_moment(self) -> float:
        return self.loc**2 + self.scale**2 * self._std_moment(2)

    def kurtosis(self) -> float:
        """Excess kurtosis ``E[(xi - mean)**4] / var**2 - 3`` (inf for Student t with df <= 4)."""
        raise NotImplementedError


def _check_loc_scale(loc, scale):
    return check_finite_real(loc, "loc"), check_positive(scale, "scale (of the distribution)")


@dataclass(frozen=True)
class StudentT(_Shape):
    """Student t law with ``df > 2`` degrees of freedom, location ``loc`` and scale ``scale``."""

    df: float = 4.0
    loc: float = 0.0
    scale: float = 1.0
    law = LAW_T

    def __post_init__(self):
        df = check_finite_real(self.df, "df (degrees of freedom)") if not (
            isinstance(self.df, float) and self.df == math.inf) else math.inf
        if df == math.inf:
            raise ValueError("df = inf is the Normal law: use Normal(loc, scale)")
        if not df > 2:
            raise ValueError(
                f"StudentT needs df > 2 (finite variance), got df={df:g}: for df <= 2 E[xi^2] is infinite, so "
                "the clipping error E[(xi - r s)^2; xi > r s] is infinite at every scale s and no scale is optimal")
        loc, scale = _check_loc_scale(self.loc, self.scale)
        object.__setattr__(self, "df", df)
        object.__setattr__(self, "loc", loc)
        object.__setattr__(self, "scale", scale)

    def _shape(self) -> float:
        return self.df

    def _std_moment(self, k: int) -> float:
        return (1.0, 0.0, self.df / (self.df - 2))[k]

    def pdf(self, x):
        from scipy import special

        nu = self.df
        z = (np.asarray(x, dtype=float) - self.loc) / self.scale
        lc = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * math.log(nu * math.pi)
        return np.exp(lc - 0.5 * (nu + 1) * np.log1p(z * z / nu)) / self.scale

    def cdf(self, x):
        from scipy import special

        return special.stdtr(self.df, (np.asarray(x, dtype=float) - self.loc) / self.scale)

    def sf(self, x):
        from scipy import special

        return special.stdtr(self.df, (self.loc - np.asarray(x, dtype=float)) / self.scale)

    def sample(self, rng, size) -> np.ndarray:
        return self.loc + self.scale * as_generator(rng).standard_t(self.df, size)

    def kurtosis(self) -> float:
        return 6.0 / (self.df - 4) if self.df > 4 else math.inf

    def __str__(self) -> str:
        df = f"{self.df:g}" if float(f"{self.df:g}") == self.df else repr(float(self.df))  # 2.0000001 is not t(2)
        return f"t({df}; {self.loc:g}, {self.scale:g})"


@dataclass(frozen=True)
class GenNormal(_Shape):
    """Generalized Gaussian (scipy ``gennorm``): density ``beta exp(-|z|**beta) / (2 scale Gamma(1/beta))``."""

    beta: float = 2.0
    loc: float = 0.0
    scale: float = 1.0
    law = LAW_GENNORM

    def __post_init__(self):
        beta = check_positive(self.beta, "beta (shape of the generalized Gaussian)")
        if beta < 0.05 or beta > 200:
            raise ValueError(f"beta must be in [0.05, 200] (got {beta:g}): beyond, the density is numerically "
                             "a point mass or a uniform law; use those instead")
        loc, scale = _check_loc_scale(self.loc, self.scale)
        object.__setattr__(self, "beta", beta)
        object.__setattr__(self, "loc", loc)
        object.__setattr__(self, "scale", scale)

    def _shape(self) -> float:
        return self.beta

    def _std_moment(self, k: int) -> float:
        if k == 0:
            return 1.0
        if k % 2:
            return 0.0
        b = self.beta
        return math.exp(math.lgamma((k + 1) / b) - math.lgamma(1 / b))

    def pdf(self, x):
        z = np.abs(np.asarray(x, dtype=float) - self.loc) / self.scale
        b = self.beta
        return np.exp(math.log(b / 2) - math.lgamma(1 / b) - z**b) / self.scale

    def cdf(self, x):
        from scipy import special

        z = (np.asarray(x, dtype=float) - self.loc) / self.scale
        q = 0.5 * special.gammaincc(1 / self.beta, np.abs(z) ** self.beta)
        return np.where(z < 0, q, 1 - q)

    def sf(self, x):
        return self.cdf(2 * self.loc - np.asarray(x, dtype=float))

    def breakpoints(self) -> tuple[float, ...]:
        """The kink (or cusp, beta < 1) of the density at ``loc`` (none for even integer beta)."""
        b = self.beta
        return () if (b == math.floor(b) and int(b) % 2 == 0) else (self.loc,)

    def sample(self, rng, size) -> np.ndarray:
        g = as_generator(rng)
        r = g.gamma(1 / self.beta, 1.0, size) ** (1 / self.beta)
        sign = np.where(g.random(size) < 0.5, -1.0, 1.0)
        return self.loc + self.scale * sign * r

    def kurtosis(self) -> float:
        b = self.beta
        return math.exp(math.lgamma(5 / b) + math.lgamma(1 / b) - 2 * math.lgamma(3 / b)) - 3.0

    def __str__(self) -> str:
        return f"GenNormal({self.beta:g}; {self.loc:g}, {self.scale:g})"
