"""Result types shared by the continuous and empirical engines (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..formats.grid import Grid


@dataclass(frozen=True)
class OptimalScale:
    """The global minimizer of a risk curve ``R(s)`` over ``s > 0``.

    Attributes
    ----------
    scale : float or ndarray
        ``s*`` in data units (an array for per-channel results).
    risk : float or ndarray
        ``R(s*)`` with the regularizer's curve factor (``pi**2`` for MSQE), data units squared.
    regularizer : str
        Name of the regularizer minimized.
    grid : Grid
        The grid.
    method : str
        How the minimum was found and certified.
    scale_error : float or ndarray
        *Absolute* bound on ``|s_returned - s_true|`` (data units) for the global
        minimizer(s); ``inf`` when no finite bound exists (e.g. all-zero data: every
        ``s`` is optimal).  Its relative form is the property ``scale_rel_error``.
        Uncertified results (``risk_lower_bound`` nan and ``method`` saying "not certified":
        user regularizers, QSin on laws without interval-bound kernels) report only the width
        of the local bracket refined around the returned scale, not a bound on the distance to
        the global minimizer (audit F2); ``extra["refined_minima"]`` lists the local minima compared.
    risk_lower_bound : float or ndarray
        Certificate: no ``s > 0`` has ``R(s)`` below this value.
    msqe_excess : float or ndarray or None
        For a non-MSQE regularizer: ``MSQE(s*)/min_s MSQE(s) - 1``, the relative MSQE
        lost by using this regularizer's optimum instead of MSQE's (the paper's
        "close enough" claim, quantified).  None for MSQE itself.
    msqe_scale : float or ndarray or None
        The MSQE-optimal scale, when ``msqe_excess`` is reported.
    extra : dict
        Method-specific diagnostics (evaluations, local minima found, ...).
    """

    scale: Any
    risk: Any
    regularizer: str
    grid: Grid
    method: str
    scale_error: Any
    risk_lower_bound: Any
    msqe_excess: Any = None
    msqe_scale: Any = None
    extra: dict | None = None

    @property
    def scale_rel_error(self):
        """*Relative* bound ``scale_error / scale`` (dimensionless; same shape as ``scale``)."""
        if isinstance(self.scale, np.ndarray) or isinstance(self.scale_error, np.ndarray):
            return np.asarray(self.scale_error, dtype=float) / np.asarray(self.scale, dtype=float)
        return float(self.scale_error) / float(self.scale)

    def as_dict(self) -> dict:
        """JSON-friendly dict (arrays become lists), with ``scale_rel_error`` after
        ``scale_error``.  Non-finite floats stay floats here; the CLI writes them as
        JSON ``null`` (``quanttheory.cli.scale.dumps``)."""
        def conv(v):
            if isinstance(v, np.ndarray):
                return v.tolist()
            if isinstance(v, np.generic):
                return v.item()
            if isinstance(v, Grid):
                return {"bits": v.bits, "signed": v.signed, "r_b": v.r_b, "r_t": v.r_t}
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            return v
        out = {}
        for k in self.__dataclass_fields__:
            out[k] = conv(getattr(self, k))
            if k == "scale_error":
                out["scale_rel_error"] = conv(self.scale_rel_error)
        return out
