"""Regularizer values and derivatives ``phi(u)``, ``phi'(u)`` in grid units.

Training needs ``phi'``.  For the built-ins it is analytic:

==========  ====================================================================
``qsin``    ``pi sin(2 pi u)`` on ``[r_b, r_t]``; ``2 pi**2 (u - r_b)`` below
            ``r_b``; ``2 pi**2 (u - r_t)`` above ``r_t`` (continuous: QSin is C^3)
``msqe``    ``2 (u - clip(round(u), r_b, r_t))`` (defined except at half-integers
            inside the grid, where MSQE has a kink; there the right value of
            the round-half-to-even rule is used)
``sinreq``  ``pi sin(2 pi u)`` everywhere
==========  ====================================================================

For a user regularizer ``phi'`` is a central difference

``phi'(u) ~ (phi(u + h) - phi(u - h)) / (2 h)``, ``h = 2**-20 * max(1, |u|)``

(the step is relative beyond ``|u| = 1`` because ``u`` itself carries a rounding
error ``eps |u|``).  Its error is at most about
``h**2 / 6 * max|phi'''| + eps * (|phi| + |u| |phi'|) / h``
``~ 1.5e-13 max(1, |u|)**2 |phi'''| + 2.3e-10 (|phi| / max(1, |u|) + |phi'|)``;
for QSin on a 4-bit grid (``|phi'''| <= 4 pi**3``) that is below ``3e-8`` for
``|u| <= 12``, far below the stochastic-gradient noise of training (tested against
the analytic QSin derivative).  Kinks of ``phi`` (allowed at integers and
half-integers) give the average of the one-sided slopes there.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..formats.regularizers import CODE_MSQE, CODE_QSIN, CODE_SINREQ, Regularizer, get_regularizer

FD_STEP = 2.0**-20
"""Relative central-difference step (grid units) for user regularizers."""


class PhiGrad(NamedTuple):
    """``phi(u)`` and ``phi'(u)`` (both dimensionless, grid units)."""

    phi: np.ndarray
    dphi: np.ndarray


def dphi_builtin(code: int, u: np.ndarray, r_b: int, r_t: int) -> np.ndarray:
    """Analytic ``phi'(u)`` of a built-in regularizer (kernel ``code``)."""
    if code == CODE_QSIN:
        inner = math.pi * np.sin(2.0 * math.pi * (u - np.rint(u)))
        return np.where(u < r_b, 2 * math.pi**2 * (u - r_b),
                        np.where(u > r_t, 2 * math.pi**2 * (u - r_t), inner))
    if code == CODE_MSQE:
        return 2.0 * (u - np.clip(np.rint(u), r_b, r_t))
    if code == CODE_SINREQ:
        return math.pi * np.sin(2.0 * math.pi * (u - np.rint(u)))
    raise ValueError(f"no analytic derivative for regularizer code {code}")


def dphi_central(reg: Regularizer, u: np.ndarray, r_b: int, r_t: int) -> np.ndarray:
    """Central-difference ``phi'(u)`` with step ``FD_STEP * max(1, |u|)`` (see module doc)."""
    h = FD_STEP * np.maximum(1.0, np.abs(u))
    up = u + h
    um = u - h
    # use the step actually represented in floating point
    return (reg.evaluate(up, r_b, r_t) - reg.evaluate(um, r_b, r_t)) / (up - um)


def phi_and_grad(reg, u, r_b: int, r_t: int) -> PhiGrad:
    """Return ``phi(u)`` and ``phi'(u)`` for ``reg`` (name, Regularizer or callable).

    ``u`` is in grid units, ``[r_b, r_t]`` the grid range.  Built-ins use the
    analytic derivative; user functions a central difference (module doc).
    """
    reg = get_regularizer(reg)
    u = np.asarray(u, dtype=np.float64)
    phi = reg.evaluate(u, int(r_b), int(r_t))
    if reg.code in (CODE_QSIN, CODE_MSQE, CODE_SINREQ):
        d = dphi_builtin(reg.code, u, int(r_b), int(r_t))
    else:
        d = dphi_central(reg, u, int(r_b), int(r_t))
    return PhiGrad(phi, d)


def sandwich_constants(reg) -> tuple[float, float] | None:
    """Tight pointwise constants ``(a, b')`` with ``a MSQE(u) <= phi(u) <= b' MSQE(u)``
    for the built-ins (SPEC section 3), ``None`` when no lower constant exists.

    * QSin: ``a = 4`` (equality at half-integers, by Jordan's inequality
      ``sin(pi x) >= 2x`` on ``[0, 1/2]``), ``b' = pi**2`` (near grid points and
      in the tails, where QSin is exactly ``pi**2 MSQE``).
    * MSQE: ``a = b' = 1``.
    * SinReQ: ``None``: bounded in the tails while MSQE grows, so no ``a > 0``.
    """
    reg = get_regularizer(reg)
    if reg.code == CODE_QSIN:
        return 4.0, math.pi**2
    if reg.code == CODE_MSQE:
        return 1.0, 1.0
    return None
