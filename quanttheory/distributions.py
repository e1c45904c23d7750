"""Distributions of the quantized quantity xi: Normal, Laplace and their ReLU.

``ReLU(xi) = max(xi, 0)`` has a point mass ``P(xi <= 0)`` at 0 plus the base
density on ``(0, inf)``.  All laws take a location and a scale parameter
(``Laplace(loc, scale)`` has density ``exp(-|x - loc| / scale) / (2 scale)``).

Sampling always takes an explicit ``numpy.random.Generator`` or an int seed:
there is no global random state anywhere in the package.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._validate import check_finite_real, check_positive

LAW_NORMAL = 0
LAW_LAPLACE = 1


def as_generator(rng) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from a Generator or an int seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError("rng must be a numpy.random.Generator or an int seed (no global RNG is used)")


class Distribution:
    """Base class of the parametric laws the exact engine integrates."""

    law: int
    loc: float
    scale: float
    relu: bool = False

    # --- interface -------------------------------------------------------
    def pdf(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def cdf(self, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def mean(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def second_moment(self) -> float:  # pragma: no cover - abstract
        """``E[xi**2]``: both risk curves tend to ``pi**2 E[xi**2]`` as s -> 0 and s -> inf."""
        raise NotImplementedError

    def var(self) -> float:
        return self.second_moment() - self.mean() ** 2

    def sample(self, rng, size) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def point_mass(self) -> float:
        """Probability of the atom at 0 (ReLU laws), else 0."""
        return 0.0

    def kernel_params(self) -> tuple[int, float, float, bool]:
        """(law code, loc, scale, relu) for the numba kernels."""
        return self.law, self.loc, self.scale, self.relu

    @property
    def name(self) -> str:
        return type(self).__name__


def _check_params(loc, scale):
    return check_finite_real(loc, "loc"), check_positive(scale, "scale (of the distribution)")


@dataclass(frozen=True)
class Normal(Distribution):
    """Normal law ``N(loc, scale**2)``."""

    loc: float = 0.0
    scale: float = 1.0
    law = LAW_NORMAL

    def __post_init__(self):
        loc, scale = _check_params(self.loc, self.scale)
        object.__setattr__(self, "loc", loc)
        object.__setattr__(self, "scale", scale)

    def pdf(self, x):
        z = (np.asarray(x, dtype=float) - self.loc) / self.scale
        return np.exp(-0.5 * z * z) / (self.scale * math.sqrt(2 * math.pi))

    def cdf(self, x):
        from scipy import special  # lazy: keeps `import quanttheory` fast

        return special.ndtr((np.asarray(x, dtype=float) - self.loc) / self.scale)

    def mean(self) -> float:
        return self.loc

    def second_moment(self) -> float:
        return self.loc**2 + self.scale**2

    def sample(self, rng, size) -> np.ndarray:
        return as_generator(rng).normal(self.loc, self.scale, size)

    def __str__(self) -> str:
        return f"N({self.loc:g}, {self.scale:g}^2)"


@dataclass(frozen=True)
class Laplace(Distribution):
    """Laplace law with density ``exp(-|x - loc| / scale) / (2 scale)``."""

    loc: float = 0.0
    scale: float = 1.0
    law = LAW_LAPLACE

    def __post_init__(self):
        loc, scale = _check_params(self.loc, self.scale)
        object.__setattr__(self, "loc", loc)
        object.__setattr__(self, "scale", scale)

    def pdf(self, x):
        z = np.abs(np.asarray(x, dtype=float) - self.loc) / self.scale
        return np.exp(-z) / (2 * self.scale)

    def cdf(self, x):
        z = (np.asarray(x, dtype=float) - self.loc) / self.scale
        return np.where(z < 0, 0.5 * np.exp(np.minimum(z, 0)), 1 - 0.5 * np.exp(-np.maximum(z, 0)))

    def mean(self) -> float:
        return self.loc

    def second_moment(self) -> float:
        return self.loc**2 + 2 * self.scale**2

    def sample(self, rng, size) -> np.ndarray:
        return as_generator(rng).laplace(self.loc, self.scale, size)

    def __str__(self) -> str:
        return f"Laplace({self.loc:g}, {self.scale:g})"


@dataclass(frozen=True)
class ReLU(Distribution):
    """``max(base, 0)``: an atom ``P(base <= 0)`` at 0 plus the base density on ``(0, inf)``."""

    base: Distribution = Normal()
    relu = True

    def __post_init__(self):
        if not isinstance(self.base, (Normal, Laplace)):
            raise TypeError("ReLU takes a Normal or Laplace base distribution")

    @property
    def law(self):
        return self.base.law

    @property
    def loc(self):
        return self.base.loc

    @property
    def scale(self):
        return self.base.scale

    @property
    def point_mass(self) -> float:
        return float(self.base.cdf(0.0))

    def pdf(self, x):
        """Density of the continuous part on ``(0, inf)`` (the atom is :attr:`point_mass`)."""
        x = np.asarray(x, dtype=float)
        return np.where(x > 0, self.base.pdf(x), 0.0)

    def cdf(self, x):
        x = np.asarray(x, dtype=float)
        return np.where(x < 0, 0.0, self.base.cdf(x))

    def _partial_moments(self) -> tuple[float, float]:
        """``E[base; base > 0]`` and ``E[base**2; base > 0]`` in closed form."""
        m, c = self.base.loc, self.base.scale
        if isinstance(self.base, Normal):
            t = m / c
            Phi = 0.5 * math.erfc(-t / math.sqrt(2))
            phi = math.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
            return m * Phi + c * phi, (m * m + c * c) * Phi + m * c * phi
        # Laplace
        if m >= 0:
            e = math.exp(-m / c)
            return m + 0.5 * c * e, m * m + 2 * c * c - c * c * e
        e = math.exp(m / c)
        return 0.5 * c * e, c * c * e

    def mean(self) -> float:
        return self._partial_moments()[0]

    def second_moment(self) -> float:
        return self._partial_moments()[1]

    def sample(self, rng, size) -> np.ndarray:
        return np.maximum(self.base.sample(rng, size), 0.0)

    @property
    def name(self) -> str:
        return f"ReLU({self.base.name})"

    def __str__(self) -> str:
        return f"ReLU({self.base})"


_LAWS = {"normal": Normal, "gauss": Normal, "gaussian": Normal, "laplace": Laplace}


def get_distribution(name: str, loc: float = 0.0, scale: float = 1.0, relu: bool = False) -> Distribution:
    """Build a law by name (``"normal"`` or ``"laplace"``), optionally followed by ReLU."""
    if not isinstance(name, str):
        raise TypeError(f"distribution name must be a string, got {type(name).__name__}")
    key = name.lower()
    if key not in _LAWS:
        raise ValueError(f"unknown distribution {name!r}; choose 'normal' or 'laplace'")
    base = _LAWS[key](loc, scale)
    return ReLU(base) if relu else base
