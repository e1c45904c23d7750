"""Number formats: the level set a value is rounded to, and the pointwise errors on it.

* the ``b``-bit uniform integer grid ``[r_b, r_t]`` (:mod:`~quanttheory.formats.grid`:
  :class:`Grid`, :func:`quantize`, the pointwise errors ``msqe``/``qsin``/``sinreq`` in grid
  units), and the regularizers ``phi(u, r_b, r_t)`` the risk engine integrates
  (:mod:`~quanttheory.formats.regularizers`);
* :class:`Format`: any named level set in grid units (integer grids, minifloats FP8/FP6/FP4,
  NF4, user levels) with a round-to-nearest, ties-to-even-code, saturating quantizer; see
  :mod:`quanttheory.formats.levelset` and ``docs/formats.md``.

Importing this package loads neither numba nor scipy.
"""

from __future__ import annotations

from .grid import MAX_BITS, Grid, as_grid, mean_msqe, msqe, qsin, quantize, quantize_index, sinreq
from .levelset import (NF4_LEVELS, Format, as_format, format_names, get_format, integer, levelset, nf4)
from .minifloat import minifloat
from .regularizers import (CODE_MSQE, CODE_QSIN, CODE_SINREQ, CODE_USER, MSQE, PI2, QSIN, SINREQ, Regularizer,
                           available, get_regularizer, register, user_regularizer)

__all__ = [
    "MAX_BITS", "Grid", "as_grid", "mean_msqe", "msqe", "qsin", "quantize", "quantize_index", "sinreq",
    "CODE_MSQE", "CODE_QSIN", "CODE_SINREQ", "CODE_USER", "MSQE", "PI2", "QSIN", "SINREQ", "Regularizer",
    "available", "get_regularizer", "register", "user_regularizer",
    "Format", "as_format", "format_names", "get_format", "integer", "levelset", "minifloat", "nf4", "NF4_LEVELS",
]
