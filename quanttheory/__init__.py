"""quanttheory: exact theory of uniform quantization in neural networks.

Import is fast: numba kernels compile lazily on first use (and are cached on
disk).  Main entry points::

    from quanttheory import Grid, Normal, Laplace, ReLU, risk_curve, optimal_scale

Sub-packages: :mod:`quanttheory.sqr` (SQR property checker),
:mod:`quanttheory.linear` (linear-model theory and simulation),
:mod:`quanttheory.figures` (supplementary figures).
"""

from __future__ import annotations

from .distributions import Laplace, Normal, ReLU, get_distribution
from .grid import Grid, msqe, qsin, quantize, sinreq
from .regularizers import MSQE, QSIN, SINREQ, Regularizer, get_regularizer, user_regularizer

__version__ = "0.1.0"

_LAZY = {
    "risk_curve": "risk",
    "optimal_scale": "risk",
    "OptimalScale": "results",
    "Empirical": "empirical",
    "optimal_scale_data": "empirical",
    "as_empirical": "empirical",
}


def __getattr__(name):  # lazy: risk imports numba
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module 'quanttheory' has no attribute {name!r}")


__all__ = [
    "Grid", "quantize", "msqe", "qsin", "sinreq",
    "Normal", "Laplace", "ReLU", "get_distribution",
    "Regularizer", "MSQE", "QSIN", "SINREQ", "get_regularizer", "user_regularizer",
    "risk_curve", "optimal_scale", "OptimalScale", "Empirical", "optimal_scale_data", "as_empirical",
]
