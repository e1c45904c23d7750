"""Number formats: the level set a value is rounded to, and the pointwise errors on it.

* the ``b``-bit uniform integer grid ``[r_b, r_t]`` (:mod:`~quanttheory.formats.grid`:
  :class:`Grid`, :func:`quantize`, the pointwise errors ``msqe``/``qsin``/``sinreq`` in grid units),
  and the regularizers ``phi(u, r_b, r_t)`` the risk engine integrates
  (:mod:`~quanttheory.formats.regularizers`);
* the general :class:`Format` (a named level set in grid units with a round-to-nearest,
  ties-to-even-code, saturating quantizer): integer grids (signed, unsigned, narrow), minifloats
  (FP8 E4M3/E5M2, FP6 E2M3/E3M2, FP4 E2M1, fp16, bf16), NF4 and user level sets
  (:mod:`~quanttheory.formats.levelset`, :mod:`~quanttheory.formats.minifloat`; ``docs/formats.md``).

Importing this package loads neither numba nor scipy.
"""

from __future__ import annotations

from .grid import MAX_BITS, Grid, as_grid, mean_msqe, msqe, qsin, quantize, quantize_index, sinreq
from .levelset import NF4_LEVELS, Format, as_format, format_names, get_format, integer, levelset, nf4
from .minifloat import minifloat
from .regularizers import (CODE_MSQE, CODE_QSIN, CODE_SINREQ, CODE_USER, MSQE, PI2, QSIN, SINREQ, Regularizer,
                           available, get_regularizer, register, user_regularizer)

__all__ = [
    "MAX_BITS", "Grid", "as_grid", "mean_msqe", "msqe", "qsin", "quantize", "quantize_index", "sinreq",
    "CODE_MSQE", "CODE_QSIN", "CODE_SINREQ", "CODE_USER", "MSQE", "PI2", "QSIN", "SINREQ", "Regularizer",
    "available", "get_regularizer", "register", "user_regularizer",
    "Format", "as_format", "format_names", "get_format", "integer", "levelset", "minifloat", "nf4", "NF4_LEVELS",
]
