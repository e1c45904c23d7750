"""Number formats: the level set a value is rounded to, and the pointwise errors on it.

Today one format, the ``b``-bit uniform integer grid ``[r_b, r_t]``
(:mod:`~quanttheory.formats.grid`: :class:`Grid`, :func:`quantize`, the pointwise
errors ``msqe``/``qsin``/``sinreq`` in grid units), and the regularizers
``phi(u, r_b, r_t)`` the risk engine integrates
(:mod:`~quanttheory.formats.regularizers`).  Importing this package loads
neither numba nor scipy.
"""

from __future__ import annotations

from .grid import MAX_BITS, Grid, as_grid, mean_msqe, msqe, qsin, quantize, quantize_index, sinreq
from .regularizers import (CODE_MSQE, CODE_QSIN, CODE_SINREQ, CODE_USER, MSQE, PI2, QSIN, SINREQ, Regularizer,
                           available, get_regularizer, register, user_regularizer)

__all__ = [
    "MAX_BITS", "Grid", "as_grid", "mean_msqe", "msqe", "qsin", "quantize", "quantize_index", "sinreq",
    "CODE_MSQE", "CODE_QSIN", "CODE_SINREQ", "CODE_USER", "MSQE", "PI2", "QSIN", "SINREQ", "Regularizer",
    "available", "get_regularizer", "register", "user_regularizer",
]
