"""Example regularizers for the checker (not registered for the risk engine).

Each is ``phi(u, r_b, r_t)`` in grid units, numpy-vectorized; verdicts on a 4-bit grid in ``docs/sqr.md``.
"""

from __future__ import annotations

import numpy as np

from ..formats.regularizers import PI2, Regularizer, user_regularizer


def _tails(u, r_b, r_t, inner, tail_lo, tail_hi):
    return np.where(u < r_b, tail_lo(r_b - u), np.where(u > r_t, tail_hi(u - r_t), inner))


def quartic(u, r_b, r_t):
    r"""Polynomial SQR: ``d^2 - 2 d^4`` with ``d = u - round(u)`` inside, ``MSQE`` outside.

    ``p'(1/2) = 0`` makes it C^2 at the half-integers (``p'''`` jumps there:
    C^2, not C^3); ``a = 1/2`` (half-integers), ``b' = C = 1`` (grid points, tails).
    """
    u = np.asarray(u, dtype=np.float64)
    d = u - np.rint(u)
    return _tails(u, r_b, r_t, d * d - 2 * d ** 4, lambda t: t * t, lambda t: t * t)


def qsin_msqe_tails(u, r_b, r_t):
    """QSin inside but plain ``MSQE`` tails (no pi^2): ``phi''`` jumps 2 pi^2 -> 2 at r_b, r_t."""
    u = np.asarray(u, dtype=np.float64)
    return _tails(u, r_b, r_t, np.sin(np.pi * (u - np.rint(u))) ** 2, lambda t: t * t, lambda t: t * t)


def tail_minima(u, r_b, r_t):
    r"""Satisfies the three SQR properties but has extra local minima in the tails.

    QSin inside; tails ``pi^2 t^2 (1 + sin^2(pi t)/2)`` with ``t`` the distance
    to ``[r_b, r_t]``: ratio to MSQE in ``[pi^2, 1.5 pi^2]``, C^3 at r_b/r_t,
    but ``t sin(2 pi t)`` makes ``phi`` decrease on parts of ``t > 2``.
    """
    u = np.asarray(u, dtype=np.float64)
    f = lambda t: PI2 * t * t * (1 + 0.5 * np.sin(np.pi * t) ** 2)
    return _tails(u, r_b, r_t, np.sin(np.pi * (u - np.rint(u))) ** 2, f, f)


def lopsided(u, r_b, r_t):
    """``sin^2(pi u)(1 + 0.3 sin(2 pi u))`` inside, QSin tails: C^2, equivalent, but not order preserving."""
    u = np.asarray(u, dtype=np.float64)
    d = u - np.rint(u)
    inner = np.sin(np.pi * d) ** 2 * (1 + 0.3 * np.sin(2 * np.pi * d))
    return _tails(u, r_b, r_t, inner, lambda t: PI2 * t * t, lambda t: PI2 * t * t)


def cubic_tails(u, r_b, r_t):
    """QSin inside, ``pi^2 t^2 + t^3`` tails: C^2 but phi/MSQE -> inf (no finite b')."""
    u = np.asarray(u, dtype=np.float64)
    f = lambda t: PI2 * t * t + t ** 3
    return _tails(u, r_b, r_t, np.sin(np.pi * (u - np.rint(u))) ** 2, f, f)


EXAMPLES: dict[str, Regularizer] = {
    f.__name__: user_regularizer(f, f.__name__, use_numba=False)
    for f in (quartic, qsin_msqe_tails, tail_minima, lopsided, cubic_tails)
}
"""Example regularizers for the checker (not registered for the risk engine)."""


def names() -> list[str]:
    """Names accepted by :func:`check` besides callables: registered regularizers and :data:`EXAMPLES`."""
    from ..formats.regularizers import available

    return sorted(set(available()) | set(EXAMPLES))
