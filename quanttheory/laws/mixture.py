"""Finite mixtures of laws: ``xi ~ component i with probability w_i``.

The risk is linear in the law, so the engine integrates each component with its own
path (kernels for Normal, Laplace, Student t, generalized Gaussian, their ReLU) and
sums ``w_i R_i(s)`` (``components()`` of the law protocol): the accuracy of a mixture
is that of its components.
"""

from __future__ import annotations

import math

import numpy as np

from .._validate import as_generator, check_finite_real
from .atoms import Atoms
from .base import Law


class Mixture(Law):
    """``Mixture(laws, weights)``: the law of ``xi = X_I`` with ``P(I = i) = weights[i]``.

    ``laws``: a sequence of :class:`Law` (e.g. ``[StudentT(4, 0, 1), StudentT(4, 2, 0.5)]``);
    ``weights``: non-negative reals summing to 1 (within 1e-12; they are renormalized).
    """

    def __init__(self, laws, weights):
        laws = tuple(laws)
        if not laws:
            raise ValueError("Mixture needs at least one component law")
        for c in laws:
            if not isinstance(c, Law):
                raise TypeError(f"Mixture components must be Law objects (Normal, StudentT, ...), got "
                                f"{type(c).__name__}; wrap data with Empirical(x) or scipy laws with from_scipy()")
        w = [check_finite_real(x, "mixture weight") for x in weights]
        if len(w) != len(laws):
            raise ValueError(f"Mixture got {len(laws)} laws and {len(w)} weights; give one weight per law")
        if any(x < 0 for x in w):
            raise ValueError(f"mixture weights must be >= 0, got {w}")
        total = math.fsum(w)
        if abs(total - 1.0) > 1e-12:
            raise ValueError(f"mixture weights must sum to 1, got sum {total!r}; divide them by their sum")
        self._laws = laws
        self._w = tuple(x / total for x in w)

    def components(self) -> tuple:
        return tuple((w, c) for w, c in zip(self._w, self._laws) if w > 0)

    @property
    def weights(self) -> tuple:
        return self._w

    @property
    def laws(self) -> tuple:
        return self._laws

    @property
    def has_density(self) -> bool:
        return any(c.has_density for _, c in self.components())

    def pdf(self, x):
        return sum(w * np.asarray(c.pdf(x), dtype=float) for w, c in self.components() if c.has_density)

    def cdf(self, x):
        return sum(w * np.asarray(c.cdf(x), dtype=float) for w, c in self.components())

    def sf(self, x):
        return sum(w * np.asarray(c.sf(x), dtype=float) for w, c in self.components())

    def support(self):
        sup = [c.support() for _, c in self.components() if c.has_density]
        return min(s[0] for s in sup), max(s[1] for s in sup)

    def breakpoints(self):
        lo, hi = self.support()
        pts = set()
        for _, c in self.components():
            pts.update(c.breakpoints())
            if c.has_density:
                pts.update(x for x in c.support() if math.isfinite(x))
        return tuple(sorted(p for p in pts if lo < p < hi))

    def atoms(self):
        return tuple(Atoms(g.values, g.weight * w) for w, c in self.components() for g in c.atoms())

    @property
    def point_mass(self) -> float:
        return math.fsum(w * c.point_mass for w, c in self.components())

    def partial_moment(self, k, a=-math.inf, b=math.inf):
        return math.fsum(w * c.partial_moment(k, a, b) for w, c in self.components() if c.has_density)

    def mean(self):
        return math.fsum(w * c.mean() for w, c in self.components())

    def second_moment(self):
        return math.fsum(w * c.second_moment() for w, c in self.components())

    def sample(self, rng, size):
        g = as_generator(rng)
        n = int(np.prod(size)) if np.ndim(size) else int(size)
        idx = g.choice(len(self._w), size=n, p=np.asarray(self._w))
        out = np.empty(n)
        for i, c in enumerate(self._laws):
            m = idx == i
            if np.any(m):
                out[m] = c.sample(g, int(m.sum()))
        return out.reshape(size)

    def __str__(self):
        return "Mixture(" + ", ".join(f"{w:g}*{c}" for w, c in zip(self._w, self._laws)) + ")"

    def __repr__(self):
        return f"Mixture({list(self._laws)!r}, {list(self._w)!r})"
