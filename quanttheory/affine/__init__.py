"""Affine (asymmetric) quantization: formats and exact joint optima (issue 16).

Two forms of the ``b``-bit affine quantizer (``N = 2**b - 1`` codes ``0..N``):

* integer zero-point (PyTorch/ONNX): ``q = clip(rint(x / s) + z, 0, N)``,
  ``x_hat = s (q - z)`` with an integer ``z`` in ``0..N``;
* real offset ("scale and min", HQQ / llama.cpp K-quants):
  ``q = clip(rint((x - m) / s), 0, N)``, ``x_hat = s q + m``.

Submodules (imported lazily so that ``import quanttheory`` stays fast):

* :mod:`.grid` -- the formats, quantize / dequantize / fake-quantize;
* :mod:`.parametric` -- certified joint optima for the parametric laws;
* :mod:`.data` -- exact joint optima of data (per tensor, per channel, per group);
* :mod:`.baselines` -- min-max, HQQ-style, llama.cpp-style and grid-search baselines.

See ``docs/affine.md``.
"""

from __future__ import annotations

from .grid import AffineGrid, ShiftedGrid, affine_dequantize, affine_fake_quantize, affine_quantize, \
    offset_dequantize, offset_fake_quantize, offset_quantize

__all__ = ["AffineGrid", "ShiftedGrid", "affine_quantize", "affine_dequantize", "affine_fake_quantize",
           "offset_quantize", "offset_dequantize", "offset_fake_quantize",
           "optimal_affine", "optimal_offset", "optimal_affine_data", "optimal_offset_data"]


def __getattr__(name):  # lazy: the optimizers pull in scipy
    if name in ("optimal_affine", "optimal_offset", "AffineOptimum"):
        from . import parametric

        return getattr(parametric, name)
    if name in ("optimal_affine_data", "optimal_offset_data"):
        from . import data

        return getattr(data, name)
    raise AttributeError(name)
