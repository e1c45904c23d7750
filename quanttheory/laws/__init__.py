"""Laws of the quantized quantity xi, all behind one protocol (:class:`Law`).

* :mod:`~quanttheory.laws.base`: :class:`Law`, the protocol the risk engine
  consumes (density, CDF, breakpoints, partial moments, atoms, sampling, numba
  kernel parameters), with generic fallbacks;
* :mod:`~quanttheory.laws.parametric`: :class:`Normal`, :class:`Laplace`,
  :class:`ReLU` (closed forms and numba kernels);
* :mod:`~quanttheory.laws.heavy`: :class:`StudentT`, :class:`GenNormal` (closed forms, numba kernels);
* :mod:`~quanttheory.laws.mixture`: :class:`Mixture`; :mod:`~quanttheory.laws.scipy_adapter`: :func:`from_scipy`;
* :mod:`~quanttheory.laws.fit`: :func:`fit_law` (maximum-likelihood choice of a law for a sample);
* :mod:`~quanttheory.laws.empirical`: :class:`Empirical`, the law of a data tensor;
* :mod:`~quanttheory.laws.atoms`: :class:`Atoms` (groups of equal point masses)
  and the chunked data access they need.

:func:`as_law` is the engine's entry: a :class:`Law` passes through, any real
array-like becomes an :class:`Empirical`.  Importing this package loads
neither numba nor scipy.
"""

from __future__ import annotations

from .._validate import as_generator
from .atoms import Atoms, DataStats
from .base import Law
from .empirical import Empirical, as_empirical
from .heavy import GenNormal, StudentT
from .mixture import Mixture
from .parametric import LAW_LAPLACE, LAW_NORMAL, Laplace, Normal, ReLU, get_distribution
from .scipy_adapter import ScipyLaw, from_scipy


def as_law(obj) -> Law:
    """``obj`` itself if it is a :class:`Law`, else the :class:`Empirical` law of the array ``obj``."""
    return obj if isinstance(obj, Law) else Empirical(obj)


__all__ = ["Law", "Atoms", "DataStats", "Empirical", "as_empirical", "as_law", "Normal", "Laplace", "ReLU",
           "get_distribution", "as_generator", "LAW_NORMAL", "LAW_LAPLACE",
           "StudentT", "GenNormal", "Mixture", "from_scipy", "ScipyLaw", "fit_law", "FitResult"]


def __getattr__(name):  # fit_law imports scipy.optimize: lazily
    if name in ("fit_law", "FitResult"):
        from . import fit

        return getattr(fit, name)
    raise AttributeError(f"module 'quanttheory.laws' has no attribute {name!r}")
