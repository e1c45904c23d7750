"""Number formats: integer grids, minifloats (FP8/FP6/FP4), NF4 and user level sets.

The central type is :class:`Format` (a named level set in grid units with a
round-to-nearest, ties-to-even-code, saturating quantizer); see
:mod:`quanttheory.formats.levelset` and ``docs/formats.md``.
"""

from __future__ import annotations

from .levelset import (NF4_LEVELS, Format, as_format, format_names, get_format, integer, levelset, nf4)
from .minifloat import minifloat

__all__ = ["Format", "as_format", "format_names", "get_format", "integer", "levelset", "minifloat", "nf4",
           "NF4_LEVELS"]
