"""Supplementary figures: one module per figure, discovered automatically.

A figure module is any module in this package whose name does not start with
``_`` and that defines ``make(outdir, quick=False, fmt="png") -> list[Path]``
(the files it wrote).  Optional module constants: ``TITLE`` (one line) and
``ORDER`` (int, sort key; default 100).  Drop a new module here and
``quanttheory figures`` picks it up: no central list to edit.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

_SKIP: set[str] = set()  # helper modules start with "_"


def registry() -> dict[str, ModuleType]:
    """Map figure name -> module, sorted by ``ORDER`` then name."""
    mods = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in _SKIP:
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if callable(getattr(mod, "make", None)):
            mods.append((getattr(mod, "ORDER", 100), info.name, mod))
    return {name: mod for _, name, mod in sorted(mods)}


def names() -> list[str]:
    """Names of all registered figures."""
    return [info.name for info in pkgutil.iter_modules(__path__)
            if not info.name.startswith("_") and info.name not in _SKIP]
