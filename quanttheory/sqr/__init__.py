"""Property checker for smooth quantization regularizers (SQR, ECCV App. A).

``phi`` is an SQR for the grid ``[r_b, r_t]`` (all in grid units ``u = x/s``) if

1. *equivalence*: ``a MSQE(u) <= phi(u) <= b' MSQE(u)`` for all real ``u``, ``0 < a <= b'``;
2. *order preservation*: for ``u1, u2`` in ``[r_b, r_t]``:
   ``MSQE(u1) < MSQE(u2)  <=>  phi(u1) < phi(u2)``;
3. *smoothness*: ``phi`` is ``C^2(R)``.

The paper's claims checked as well: Prop. 1 (1: the roots are exactly the grid
integers, all global minima, no other local minima; 2: period 1 on
``[r_b, r_t]``; 3: even about every inner grid point), Prop. 2 (``phi(u) =
C MSQE(u) + o(MSQE)`` near every grid point with ONE constant ``C =
phi''(n)/2``, and ``O(MSQE)`` in the tails) and Theorem 1's vector bounds
``a MSQE(x, s) <= s^2 mean phi(x/s) <= b' MSQE(x, s)``.

:func:`check` is numerical evidence on a finite mesh plus exact checks at the
grid integers and half-integers -- not a proof.  See ``docs/sqr.md`` for the
mesh, the thresholds and what a pass does and does not show.

Layout: :mod:`.view` (the one sampled view of phi every check reads), one module per
property family (:mod:`.equivalence` with :mod:`.limits`, :mod:`.order`, :mod:`.smoothness` with its
numba kernel :mod:`._kernel`, :mod:`.propositions`, :mod:`.theorem1`), :mod:`.report` (result types),
:mod:`.checker` (:func:`check`), :mod:`.examples` (example regularizers), :mod:`.cli` (the logic of
``quanttheory check-regularizer``).
"""

from __future__ import annotations

from ..formats.grid import Grid, as_grid  # noqa: F401  (re-exported as before the split)
from ..formats.regularizers import PI2, Regularizer, get_regularizer, user_regularizer  # noqa: F401
from .checker import check, resolve
from .examples import EXAMPLES, cubic_tails, lopsided, names, qsin_msqe_tails, quartic, tail_minima
from .report import Coverage, Extreme, PropertyResult, SQRReport, Witness
from .view import EPS  # noqa: F401

_resolve = resolve  # used by quanttheory.testing

__all__ = [
    "check", "names", "EXAMPLES", "SQRReport", "PropertyResult", "Witness", "Extreme", "Coverage",
    "quartic", "qsin_msqe_tails", "tail_minima", "lopsided", "cubic_tails",
]
