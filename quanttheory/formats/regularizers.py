"""Regularizers phi(u) in grid units: MSQE, QSin, SinReQ and user functions.

A regularizer is a function ``phi(u, r_b, r_t)`` of ``u = x / s`` (grid units)
with the grid range known.  The risk engine integrates ``s**2 E[phi(xi / s)]``.

Built-ins (see ``SPEC.md`` section 1):

==========  =====================================================================
``msqe``    ``(u - clip(round(u), r_b, r_t))**2``
``qsin``    ``sin(pi u)**2`` on ``[r_b, r_t]``, ``pi**2 (u - r_{b,t})**2`` outside
``sinreq``  ``sin(pi u)**2`` everywhere
==========  =====================================================================

User regularizers
-----------------
Pass any callable ``phi(u, r_b, r_t)`` (or a :class:`Regularizer` made with
:func:`user_regularizer`).  A scalar function that numba can compile is
compiled and looped in machine code; otherwise ``phi`` is called on numpy arrays
and must return an array of the same shape.  Every output is checked: NaN,
inf, complex or wrongly shaped results raise ``ValueError`` naming the input
``u`` that broke it.

The exact risk engine assumes ``phi`` is smooth (analytic) on each half-cell
``[m/2, (m+1)/2]`` inside ``[r_b, r_t]`` and on each tail ``u <= r_b``,
``u >= r_t``: kinks are allowed only at integers and half-integers (the engine
splits its quadrature pieces at every one of them, and at ``r_b``, ``r_t``).  With
``periodic_tails=True`` the same holds on every half-cell outside the range too
(e.g. ``|sin(pi u)|``); without it each tail must be smooth.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import grid as _grid

PI2 = math.pi**2

# kernel codes for the built-ins (used by the numba kernels)
CODE_USER = -1
CODE_MSQE = 0
CODE_QSIN = 1
CODE_SINREQ = 2


@dataclass(frozen=True)
class Regularizer:
    """A regularizer ``phi(u, r_b, r_t)`` in grid units.

    Attributes
    ----------
    name : str
        Short name (``"msqe"``, ``"qsin"``, ``"sinreq"`` or the user's).
    code : int
        Kernel code of a built-in, ``-1`` for user functions.
    func : callable
        ``func(u: ndarray, r_b: int, r_t: int) -> ndarray`` (vectorized).
    curve_factor : float
        Factor applied by risk curves.  ``pi**2`` for ``msqe`` (the paper's
        ``MSQE[xi](s) = pi**2 s**2 E[MSQE(xi/s)]`` convention, which makes
        the MSQE and QSin curves share their limits), ``1`` otherwise.
    periodic_tails : bool
        True when ``phi`` keeps oscillating outside ``[r_b, r_t]`` (SinReQ).
    """

    name: str
    code: int
    func: Callable = field(repr=False, compare=False)
    curve_factor: float = 1.0
    periodic_tails: bool = False
    scalar_func: Callable | None = field(default=None, repr=False, compare=False)

    def __call__(self, u, grid) -> np.ndarray:
        """Evaluate ``phi`` at ``u`` (grid units) for ``grid``; output checked."""
        g = _grid.as_grid(grid)
        u = np.asarray(u, dtype=np.float64)
        return self.evaluate(u, g.r_b, g.r_t)

    def evaluate(self, u: np.ndarray, r_b: int, r_t: int) -> np.ndarray:
        """Evaluate on a float64 array with the output validated."""
        try:
            out = self.func(u, r_b, r_t)
        except Exception as exc:  # user code: wrap with context, naming a failing input
            bad = self._first_raising(u, r_b, r_t)
            where = f" at u = {bad!r}" if bad is not None else ""
            raise ValueError(f"regularizer {self.name!r} raised {type(exc).__name__}: {exc}{where}") from exc
        return _check_output(self.name, u, out)

    def _first_raising(self, u: np.ndarray, r_b: int, r_t: int):
        """Bisect for one input at which ``func`` raises (None if not isolated)."""
        flat = np.ascontiguousarray(u, dtype=np.float64).ravel()
        lo, hi = 0, flat.size
        if hi == 0 or hi > 1 << 22:
            return None

        def fails(part):
            try:
                self.func(part, r_b, r_t)
                return False
            except Exception:
                return True

        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fails(flat[lo:mid]):
                hi = mid
            elif fails(flat[mid:hi]):
                lo = mid
            else:
                return None
        return float(flat[lo]) if fails(flat[lo:hi]) else None


def _check_output(name: str, u: np.ndarray, out) -> np.ndarray:
    out = np.asarray(out)
    if out.shape != u.shape:
        raise ValueError(
            f"regularizer {name!r} returned shape {out.shape} for input of shape {u.shape}; "
            "it must be elementwise"
        )
    if out.dtype.kind == "c":
        raise ValueError(f"regularizer {name!r} returned complex values; it must be real")
    if out.dtype.kind not in "fiub":
        raise ValueError(f"regularizer {name!r} returned non-numeric dtype {out.dtype}")
    out = out.astype(np.float64, copy=False)
    bad = ~np.isfinite(out)
    if bad.any():
        i = np.flatnonzero(bad.ravel())[0]
        raise ValueError(
            f"regularizer {name!r} returned {out.ravel()[i]} at u = {u.ravel()[i]!r}; "
            "it must be finite for every real input"
        )
    return out


def _msqe(u, r_b, r_t):
    return (u - np.clip(np.rint(u), r_b, r_t)) ** 2


def _qsin(u, r_b, r_t):
    inner = np.sin(np.pi * (u - np.rint(u))) ** 2
    return np.where(u < r_b, PI2 * (u - r_b) ** 2, np.where(u > r_t, PI2 * (u - r_t) ** 2, inner))


def _sinreq(u, r_b, r_t):
    return np.sin(np.pi * (u - np.rint(u))) ** 2


MSQE = Regularizer("msqe", CODE_MSQE, _msqe, curve_factor=PI2)
QSIN = Regularizer("qsin", CODE_QSIN, _qsin)
SINREQ = Regularizer("sinreq", CODE_SINREQ, _sinreq, periodic_tails=True)

_REGISTRY: dict[str, Regularizer] = {r.name: r for r in (MSQE, QSIN, SINREQ)}


def register(reg: Regularizer, *, overwrite: bool = False) -> Regularizer:
    """Register ``reg`` under ``reg.name`` so that it can be passed by name."""
    if not isinstance(reg, Regularizer):
        raise TypeError("register() takes a Regularizer; wrap functions with user_regularizer()")
    if reg.name in _REGISTRY and not overwrite:
        raise ValueError(f"a regularizer named {reg.name!r} is already registered; pass overwrite=True")
    _REGISTRY[reg.name] = reg
    return reg


def available() -> list[str]:
    """Names of the registered regularizers."""
    return sorted(_REGISTRY)


_COMPILED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _numba_vectorize(phi: Callable) -> Callable | None:
    """Compile a scalar ``phi(u, r_b, r_t)`` with numba and loop it; None if numba can't.
    Compiled once per function object (cached; a compile costs ~1 s)."""
    try:
        return _COMPILED[phi]
    except (KeyError, TypeError):
        pass
    func = _numba_vectorize_uncached(phi)
    try:
        _COMPILED[phi] = func
    except TypeError:  # not weak-referenceable: compile every time
        pass
    return func


def _numba_vectorize_uncached(phi: Callable) -> Callable | None:
    try:
        import numba
        from numba.core.registry import CPUDispatcher

        jphi = phi if isinstance(phi, CPUDispatcher) else numba.njit(phi)

        @numba.njit
        def loop(u, r_b, r_t):  # pragma: no cover - compiled
            out = np.empty(u.size)
            flat = u.ravel()
            for i in range(flat.size):
                out[i] = jphi(flat[i], r_b, r_t)
            return out.reshape(u.shape)

        probe = np.array([0.25, -1.5], dtype=np.float64)
        loop(probe, np.int64(-1), np.int64(1))
        return lambda u, r_b, r_t: loop(np.ascontiguousarray(u, dtype=np.float64), np.int64(r_b), np.int64(r_t))
    except Exception:  # numba cannot type it: fall back to numpy vectorization
        return None


def _works_on_arrays(phi) -> bool:
    """True when ``phi`` maps a float array to a real array of the same shape."""
    probe = np.array([0.25, -0.75, 1.5, 2.5])
    try:
        out = np.asarray(phi(probe, -1, 1))
    except Exception:
        return False
    return out.shape == probe.shape and out.dtype.kind in "fiu"


def user_regularizer(phi: Callable, name: str | None = None, *, periodic_tails: bool = False,
                     use_numba: bool = True) -> Regularizer:
    """Wrap a user function ``phi(u, r_b, r_t)`` (grid units) as a :class:`Regularizer`.

    ``phi`` may be a scalar function that numba can compile (fast path) or a
    numpy-vectorized function.  Set ``periodic_tails=True`` if ``phi`` keeps
    oscillating outside ``[r_b, r_t]`` (like SinReQ).
    """
    if isinstance(phi, Regularizer):
        return phi
    if not callable(phi):
        raise TypeError(f"a regularizer must be callable or a name, got {type(phi).__name__}")
    name = name or getattr(phi, "__name__", "user")
    if use_numba and _works_on_arrays(phi):
        use_numba = False  # already numpy-vectorized: no compile needed
    func = _numba_vectorize(phi) if use_numba else None
    if func is None:
        scalar = np.vectorize(phi, otypes=[np.float64])

        def func(u, r_b, r_t, _phi=phi):
            # numpy-vectorized phi first; a scalar-only phi (e.g. with `if u < r_b`)
            # raises on arrays: loop it elementwise instead (a wrong shape is reported)
            try:
                return _phi(u, r_b, r_t)
            except Exception:
                return scalar(u, r_b, r_t)
    return Regularizer(name, CODE_USER, func, periodic_tails=periodic_tails, scalar_func=phi)


def get_regularizer(reg) -> Regularizer:
    """Resolve a name, a :class:`Regularizer` or a callable to a :class:`Regularizer`."""
    if isinstance(reg, Regularizer):
        return reg
    if isinstance(reg, str):
        key = reg.lower()
        if key not in _REGISTRY:
            raise ValueError(f"unknown regularizer {reg!r}; choose one of {available()} or pass a callable")
        return _REGISTRY[key]
    if callable(reg):
        return user_regularizer(reg)
    raise TypeError(f"regularizer must be a name, a Regularizer or a callable, got {type(reg).__name__}")
