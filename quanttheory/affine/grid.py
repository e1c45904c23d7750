"""Affine quantization formats: integer zero-point and real offset.

Integer zero-point (PyTorch ``fake_quantize_per_tensor_affine`` / ONNX
``QuantizeLinear`` with ``quant_min = 0``, ``quant_max = N = 2**b - 1``)::

    q     = clip(rint(x / s) + z, 0, N)          (integer code, 0..N)
    x_hat = s (q - z)                            (units of x)

Conventions (tested from this definition in ``tests/test_affine_grid.py``):

* ``rint`` is round-half-to-even (``torch.round`` / ``std::nearbyint``), applied to
  ``x / s`` *before* ``z`` is added; ``z`` is an integer, so the tie rule is the
  same as for ``rint(x / s + z)``.  PyTorch's CPU kernel multiplies by the float32
  reciprocal ``1 / s`` instead of dividing; this module divides in float64, so at
  exact ties of ``x / s`` the two can differ in the last bit of ``x / s`` (a
  measure-zero set; the risk values are unaffected);
* clamping is applied to the *code* after adding ``z`` (``0 <= q <= N``), so in
  grid units the quantizer is the integer grid ``[-z, N - z]``: this is
  :class:`ShiftedGrid`, a :class:`quanttheory.formats.grid.Grid` whose ``r_b = -z`` and
  ``r_t = N - z``, usable by every existing engine (risk curves, data optima);
* ``z`` must be an integer in ``0..N`` (PyTorch requires ``quant_min <= z <=
  quant_max``): other values raise ``ValueError``; the scale must be finite and > 0.

Real offset ("scale and min")::

    q     = clip(rint((x - m) / s), 0, N),   x_hat = s q + m

the error is that of ``x - m`` on the unsigned grid ``[0, N]`` at scale ``s``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_float_array, check_finite_real, check_scale
from ..formats.grid import MAX_BITS, Grid


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"bits must be an integer, got {type(bits).__name__}")
    if not 1 <= int(bits) <= MAX_BITS:
        raise ValueError(f"bits must be in 1..{MAX_BITS}, got {bits}")
    return int(bits)


def check_zero_point(zero_point, bits: int) -> int:
    """Validate an integer zero-point ``z`` in ``0..2**bits - 1``."""
    if isinstance(zero_point, bool) or not isinstance(zero_point, (int, np.integer)):
        if isinstance(zero_point, (float, np.floating)) and float(zero_point).is_integer():
            zero_point = int(zero_point)
        else:
            raise TypeError(f"zero_point must be an integer, got {zero_point!r}; for a real offset use "
                            "offset_quantize (x_hat = s q + m)")
    z = int(zero_point)
    top = 2**bits - 1
    if not 0 <= z <= top:
        raise ValueError(f"zero_point {z} is outside the code range 0..{top} of a {bits}-bit affine grid "
                         "(PyTorch requires quant_min <= zero_point <= quant_max); choose z in that range")
    return z


@dataclass(frozen=True)
class ShiftedGrid(Grid):
    """The integer grid ``[-z, 2**bits - 1 - z]``: a ``bits``-bit affine grid at zero-point ``z``
    expressed in grid units (``x_hat / s``).  A :class:`quanttheory.formats.grid.Grid`, so the existing
    risk and data engines accept it.  ``signed`` is always False (codes ``0..N``)."""

    zero_point: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.signed:
            raise ValueError("ShiftedGrid codes are 0..2**bits - 1: pass signed=False (a signed grid is the "
                             "affine grid with zero_point = 2**(bits-1))")
        object.__setattr__(self, "zero_point", check_zero_point(self.zero_point, self.bits))

    @property
    def r_b(self) -> int:
        return -self.zero_point

    @property
    def r_t(self) -> int:
        return 2**self.bits - 1 - self.zero_point

    def __str__(self) -> str:
        return f"{self.bits}-bit affine grid, zero-point {self.zero_point}: [{self.r_b}, {self.r_t}]"


def shifted_grid(bits: int, zero_point: int) -> ShiftedGrid:
    """``ShiftedGrid(bits, False, zero_point)`` with validation."""
    return ShiftedGrid(_check_bits(bits), False, zero_point)


@dataclass(frozen=True)
class AffineGrid:
    """A ``bits``-bit affine quantizer ``(scale, zero_point)`` (integer zero-point form).

    ``levels()`` are the reconstruction values ``s (q - z)``, ``q = 0..N``.
    """

    bits: int
    scale: float
    zero_point: int

    def __post_init__(self):
        object.__setattr__(self, "bits", _check_bits(self.bits))
        object.__setattr__(self, "scale", check_scale(self.scale))
        object.__setattr__(self, "zero_point", check_zero_point(self.zero_point, self.bits))

    @property
    def n_codes(self) -> int:
        return 2**self.bits

    def levels(self) -> np.ndarray:
        return self.scale * (np.arange(self.n_codes, dtype=np.float64) - self.zero_point)

    def grid(self) -> ShiftedGrid:
        return ShiftedGrid(self.bits, False, self.zero_point)

    def quantize(self, x) -> np.ndarray:
        return affine_quantize(x, self.scale, self.zero_point, self.bits)

    def fake_quantize(self, x) -> np.ndarray:
        return affine_fake_quantize(x, self.scale, self.zero_point, self.bits)


def affine_quantize(x, scale, zero_point, bits) -> np.ndarray:
    """Integer codes ``q = clip(rint(x / s) + z, 0, 2**bits - 1)`` (int64; ties to even)."""
    bits = _check_bits(bits)
    s = check_scale(scale)
    z = check_zero_point(zero_point, bits)
    x = as_float_array(x, "x")
    return np.clip(np.rint(x / s) + z, 0, 2**bits - 1).astype(np.int64)


def affine_dequantize(q, scale, zero_point, bits) -> np.ndarray:
    """``x_hat = s (q - z)``; codes outside ``0..2**bits - 1`` raise ``ValueError``."""
    bits = _check_bits(bits)
    s = check_scale(scale)
    z = check_zero_point(zero_point, bits)
    q = np.asarray(q)
    if q.dtype.kind not in "iu":
        raise TypeError(f"codes must be an integer array, got dtype {q.dtype}")
    if q.size and (q.min() < 0 or q.max() > 2**bits - 1):
        raise ValueError(f"codes must lie in 0..{2**bits - 1}")
    return s * (q.astype(np.float64) - z)


def affine_fake_quantize(x, scale, zero_point, bits) -> np.ndarray:
    """``s (clip(rint(x / s) + z, 0, N) - z)`` in float64 (units of ``x``)."""
    bits = _check_bits(bits)
    s = check_scale(scale)
    z = check_zero_point(zero_point, bits)
    x = as_float_array(x, "x")
    return s * (np.clip(np.rint(x / s) + z, 0, 2**bits - 1) - z)


def offset_quantize(x, scale, offset, bits) -> np.ndarray:
    """Codes ``q = clip(rint((x - m) / s), 0, 2**bits - 1)`` of the real-offset form (int64)."""
    bits = _check_bits(bits)
    s = check_scale(scale)
    m = check_finite_real(offset, "offset")
    x = as_float_array(x, "x")
    return np.clip(np.rint((x - m) / s), 0, 2**bits - 1).astype(np.int64)


def offset_dequantize(q, scale, offset, bits) -> np.ndarray:
    """``x_hat = s q + m``."""
    bits = _check_bits(bits)
    s = check_scale(scale)
    m = check_finite_real(offset, "offset")
    q = np.asarray(q)
    if q.dtype.kind not in "iu":
        raise TypeError(f"codes must be an integer array, got dtype {q.dtype}")
    if q.size and (q.min() < 0 or q.max() > 2**bits - 1):
        raise ValueError(f"codes must lie in 0..{2**bits - 1}")
    return s * q.astype(np.float64) + m


def offset_fake_quantize(x, scale, offset, bits) -> np.ndarray:
    """``s clip(rint((x - m) / s), 0, N) + m`` in float64."""
    bits = _check_bits(bits)
    s = check_scale(scale)
    m = check_finite_real(offset, "offset")
    x = as_float_array(x, "x")
    return s * np.clip(np.rint((x - m) / s), 0, 2**bits - 1) + m
