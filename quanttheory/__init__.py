"""quanttheory: exact theory of uniform quantization in neural networks.

Import is fast: numba kernels compile lazily on first use (and are cached on
disk).  Main entry points::

    from quanttheory import Grid, Normal, Laplace, ReLU, risk_curve, optimal_scale

Packages by domain (``docs/architecture.md``): :mod:`quanttheory.formats` (the
grid, quantizer and pointwise errors), :mod:`quanttheory.laws` (the law protocol,
parametric and empirical laws), :mod:`quanttheory.risk` (risk curves, certified
optima, fast path, data optimum), :mod:`quanttheory.sqr` (SQR property checker),
:mod:`quanttheory.linear` (linear-model theory and simulation),
:mod:`quanttheory.training`, :mod:`quanttheory.figures` (supplementary figures),
:mod:`quanttheory.cli` (the ``quanttheory`` command).
"""

from __future__ import annotations

from .formats.grid import Grid, msqe, qsin, quantize, sinreq
from .formats.regularizers import MSQE, QSIN, SINREQ, Regularizer, get_regularizer, user_regularizer
from .laws.parametric import Laplace, Normal, ReLU, get_distribution

__version__ = "0.1.0"

_LAZY = {
    "risk_curve": "risk",
    "optimal_scale": "risk",
    "OptimalScale": "risk",
    "Empirical": "laws",
    "Law": "laws",
    "optimal_scale_data": "risk",
    "as_empirical": "laws",
    "StudentT": "laws",
    "GenNormal": "laws",
    "Mixture": "laws",
    "from_scipy": "laws",
    "fit_law": "laws",
    "Format": "formats",
    "get_format": "formats",
    "optimal_scale_format_data": "risk",
    "format_optimal_scale": "risk",
}


def __getattr__(name):  # lazy: keeps `import quanttheory` to numpy only
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module 'quanttheory' has no attribute {name!r}")


__all__ = [
    "Grid", "quantize", "msqe", "qsin", "sinreq",
    "Normal", "Laplace", "ReLU", "get_distribution", "Law",
    "Regularizer", "MSQE", "QSIN", "SINREQ", "get_regularizer", "user_regularizer",
    "risk_curve", "optimal_scale", "OptimalScale", "Empirical", "optimal_scale_data", "as_empirical",
    "StudentT", "GenNormal", "Mixture", "from_scipy", "fit_law",
    "Format", "get_format", "optimal_scale_format_data", "format_optimal_scale",
]
