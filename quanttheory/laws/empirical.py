"""The empirical law of a real tensor: equal weight ``1/n`` on each value.

A purely atomic law (no density): one :class:`~quanttheory.laws.atoms.Atoms`
group.  The risk engine sums over it exactly and its optimum is the exact
piecewise-quadratic data optimum (:mod:`quanttheory.risk.data`), through the
same entry points as every other law (:func:`quanttheory.risk.risk_curve`,
:func:`quanttheory.risk.optimal_scale`).
"""

from __future__ import annotations

import numpy as np

from .._validate import as_generator
from .atoms import Atoms, as_data_array, iter_chunks, scan
from .base import Law


class Empirical(Law):
    """The empirical distribution of a real tensor (equal weight ``1/n`` on each value).

    Accepts any real array-like (memory-mapped arrays are read in chunks, never
    copied whole).  Validated once at construction: NaN/inf, empty, complex and
    boolean data are rejected, integers converted to float64.
    """

    has_density = False

    def __init__(self, data):
        self._x = as_data_array(data)
        self._st = scan(self._x)

    @property
    def data(self) -> np.ndarray:
        return self._x

    @property
    def n(self) -> int:
        return self._st.n

    def atoms(self) -> tuple[Atoms, ...]:
        """One group: every value with weight ``1/n`` (with its one-pass statistics)."""
        return (Atoms(self._x, 1.0 / self.n, self._st),)

    def mean(self) -> float:
        return self._st.sum / self._st.n

    def second_moment(self) -> float:
        return self._st.sum_sq / self._st.n

    def sample(self, rng, size) -> np.ndarray:
        """Resample with replacement (bootstrap)."""
        g = as_generator(rng)
        idx = g.integers(0, self.n, size=size)
        flat = self._x.reshape(-1) if (self._x.flags.c_contiguous) else np.ravel(self._x)
        return np.asarray(flat[idx], dtype=np.float64)

    def cdf(self, x):
        flat = np.sort(np.concatenate([c.astype(np.float64) for c in iter_chunks(self._x)]))
        return np.searchsorted(flat, np.asarray(x, dtype=float), side="right") / self.n

    def pdf(self, x):
        raise TypeError("an empirical distribution has no density; use cdf() or risk_curve()")

    def partial_moment(self, k: int, a: float = -np.inf, b: float = np.inf) -> float:
        """0: there is no continuous part (the moments of the data are in :meth:`atoms`)."""
        return 0.0

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._x, dtype=dtype)

    def risk_curve(self, scales, grid, regularizer="msqe") -> np.ndarray:
        """``cf * s**2 * mean(phi(x / s))`` at each scale (same shape as ``scales``), exact sums.

        Same as :func:`quanttheory.risk.risk_curve` of this law."""
        from ..risk import risk_curve

        return risk_curve(self, scales, grid, regularizer)

    def optimal_scale(self, grid, regularizer="msqe"):
        """Same as :func:`quanttheory.risk.optimal_scale` of this law."""
        from ..risk import optimal_scale

        return optimal_scale(self, grid, regularizer)

    @property
    def name(self) -> str:
        return "Empirical"

    def __repr__(self) -> str:
        return f"Empirical(n={self.n}, dtype={self._x.dtype})"


def as_empirical(data) -> Empirical:
    """``data`` as an :class:`Empirical` (returned unchanged if it already is one)."""
    return data if isinstance(data, Empirical) else Empirical(data)
