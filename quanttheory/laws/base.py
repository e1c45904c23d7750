"""The law protocol: everything the risk engine and the optimum need from a law.

A law of the quantized quantity ``xi`` is a continuous part with a density (may
be absent) plus groups of point masses (may be empty)::

    E[g(xi)] = integral g(x) pdf(x) dx  +  sum over atom groups  w * sum_i g(x_i)

The engine (:mod:`quanttheory.risk`) consumes only the methods below; it never
asks which class a law is.  A new law is one new subclass of :class:`Law`:
override what has a closed form and inherit the generic fallbacks (the model is
``scipy.stats.rv_continuous``: ``_pdf``/``_cdf``/``_munp`` overrides over generic
numerical defaults).

===============================  ==============================================  =====================
method                           meaning                                         default
===============================  ==============================================  =====================
``pdf(x)``, ``cdf(x)``           density of the continuous part; CDF of xi       abstract
``sf(x)``                        ``P(xi > x)``                                   ``1 - cdf``
``has_density``                  the law has a continuous part                   True
``support()``                    ``(lo, hi)``: the continuous part lives there   ``(-inf, inf)``
``breakpoints()``                points where the density is not analytic        ``()``
                                 (kinks, jumps): quadrature pieces split there
``partial_moment(k, a, b)``      ``E[xi**k; a < xi <= b]``, continuous part      ``scipy.integrate.quad``
                                 only: the clipping-tail forms of the risk       split at breakpoints
``atoms()``                      tuple of :class:`~.atoms.Atoms` groups          ``()``
``point_mass``                   mass of the atom at 0 (ReLU-type laws)          0
``mean()``, ``second_moment()``  ``E[xi]``, ``E[xi**2]`` (continuous + atoms)    partial moments + atoms
``var()``                        ``second_moment - mean**2``                     derived
``sample(rng, size)``            i.i.d. draws, explicit ``numpy.random``         abstract
                                 ``Generator`` or int seed
``kernel_params()``              ``(law code, loc, scale, relu)`` of the numba   None (no kernel)
                                 integration kernels, when the law has them
``shape_kernel()``               ``(law code, shape, loc, scale, relu)`` of the  None
                                 Student t / generalized Gaussian kernels
``components()``                 ``((w, law), ...)`` of a finite mixture         ``()``
===============================  ==============================================  =====================

How the engine uses them (``docs/architecture.md``): the risk curve is
``f_phi * [continuous part + atoms part]``; the continuous part goes to the numba
kernels when ``kernel_params()`` is not None; the atoms part sums
``w s**2 phi(x_i / s)`` over :meth:`atoms`.  The certified optimum uses the
interval-bound kernels of a law with ``kernel_params()``; a purely atomic law
(``has_density`` False, one equal-weight group) gets the exact piecewise
quadratic data optimum.
"""

from __future__ import annotations

import math

import numpy as np

from .._validate import as_generator

__all__ = ["Law", "as_generator"]


class Law:
    """Base class of every law the risk engine accepts (see the module docstring).

    Subclasses must implement :meth:`pdf` (if ``has_density``), :meth:`cdf` and
    :meth:`sample`; everything else has a generic fallback.
    """

    has_density: bool = True

    # --- description --------------------------------------------------------------
    def pdf(self, x):  # pragma: no cover - abstract
        """Density of the continuous part (the atoms are :meth:`atoms`)."""
        raise NotImplementedError(f"{type(self).__name__} must define pdf()")

    def cdf(self, x):  # pragma: no cover - abstract
        """``P(xi <= x)`` (atoms included)."""
        raise NotImplementedError(f"{type(self).__name__} must define cdf()")

    def sf(self, x):
        """``P(xi > x) = 1 - cdf(x)``; override where a closed form avoids the cancellation."""
        return 1.0 - np.asarray(self.cdf(x), dtype=float)

    def sample(self, rng, size) -> np.ndarray:  # pragma: no cover - abstract
        """``size`` i.i.d. draws; ``rng`` is a ``numpy.random.Generator`` or an int seed."""
        raise NotImplementedError(f"{type(self).__name__} must define sample()")

    def support(self) -> tuple[float, float]:
        """``(lo, hi)`` with the continuous part inside (``pdf = 0`` outside)."""
        return -math.inf, math.inf

    def breakpoints(self) -> tuple[float, ...]:
        """Points inside the support where the density is not analytic (sorted)."""
        return ()

    def atoms(self) -> tuple:
        """Point masses, as a tuple of :class:`~quanttheory.laws.atoms.Atoms` groups."""
        return ()

    @property
    def point_mass(self) -> float:
        """Probability of the atom at 0 (ReLU-type laws), else 0."""
        return 0.0

    def kernel_params(self):
        """``(law code, loc, scale, relu)`` for the numba kernels, or None (no kernel)."""
        return None

    def shape_kernel(self):
        """``(law code, shape, loc, scale, relu)`` for the Student t / generalized Gaussian kernels
        (:mod:`quanttheory.risk.heavy`), or None."""
        return None

    def components(self) -> tuple:
        """``((weight, law), ...)`` of a finite mixture (the engine sums the components' risks), else ``()``."""
        return ()

    # --- moments: generic fallbacks -----------------------------------------------
    def partial_moment(self, k: int, a: float = -math.inf, b: float = math.inf) -> float:
        """``E[xi**k; a < xi <= b]`` over the continuous part (``k`` = 0, 1, 2, ...).

        Generic fallback: adaptive quadrature (``scipy.integrate.quad``) of
        ``x**k pdf(x)`` split at the support ends and :meth:`breakpoints`; relative
        accuracy ~1e-10.  Laws with closed forms override it.
        """
        from scipy import integrate

        lo, hi = self.support()
        a, b = max(float(a), lo), min(float(b), hi)
        if not a < b:
            return 0.0
        cuts = [a] + [c for c in self.breakpoints() if a < c < b] + [b]
        total = 0.0
        for x0, x1 in zip(cuts[:-1], cuts[1:]):
            val, _ = integrate.quad(lambda x: x**k * float(self.pdf(x)), x0, x1, epsabs=0.0, epsrel=1e-12,
                                    limit=200)
            total += val
        return total

    def _atom_moment(self, k: int) -> float:
        total = 0.0
        for g in self.atoms():
            total += g.weight * sum(float(np.sum(c.astype(np.float64) ** k)) for c in g.chunks())
        return total

    def mean(self) -> float:
        """``E[xi]``."""
        cont = self.partial_moment(1) if self.has_density else 0.0
        return cont + self._atom_moment(1)

    def second_moment(self) -> float:
        """``E[xi**2]``: both risk curves tend to ``pi**2 E[xi**2]`` as s -> 0 and s -> inf."""
        cont = self.partial_moment(2) if self.has_density else 0.0
        return cont + self._atom_moment(2)

    def var(self) -> float:
        return self.second_moment() - self.mean() ** 2

    @property
    def name(self) -> str:
        return type(self).__name__
