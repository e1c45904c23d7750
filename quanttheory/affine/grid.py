"""Affine quantization formats: integer zero-point and real offset.

Integer zero-point (PyTorch ``fake_quantize_per_tensor_affine`` / ONNX
``QuantizeLinear`` with ``quant_min = 0``, ``quant_max = N = 2**b - 1``)::

    q     = clip(rint(x / s) + z, 0, N)          (integer code, 0..N)
    x_hat = s (q - z)                            (units of x)

Conventions (tested from this definition in ``tests/test_affine_grid.py``):

* ``rint`` is round-half-to-even (``torch.round`` / ``std::nearbyint``), applied to
  ``x / s`` *before* ``z`` is added; ``z`` is an integer, so the tie rule is the
  same as for ``rint(x / s + z)``.  By default (``rounding="divide"``, ONNX
  ``QuantizeLinear`` and the SPEC) ``x / s`` is one float64 division of ``x`` (as
  float64) by ``s``.  PyTorch's fake-quantize kernels instead multiply by a float32
  reciprocal: ``rounding="pytorch"`` reproduces them (below).  Near ties the two
  differ by one code: e.g. ``x = float32(0.35)``, ``s = float32(0.1)``, ``z = 8``:
  ``x / s = 3.4999999`` gives ``q = 11``, PyTorch's ``float32(x * float32(1 / s)) = 3.5``
  rounds to even, ``q = 12`` (docs/affine.md, section 1);
* ``rounding="pytorch"`` (the CPU kernel ``_fake_quantize_tensor_helper`` behind
  ``torch.fake_quantize_per_tensor_affine``, read in PyTorch's
  ``aten/src/ATen/native/quantized/cpu/kernels/QuantizedOpKernels.cpp``): the scale is
  passed as C ``float``: ``s32 = float32(s)``; ``inv = float32(1 / s32)`` (one float32
  division); for float32 ``x`` the product ``x * inv`` is one float32 multiplication
  (float64 ``x``: a float64 product with the float32 ``inv``); ``nearbyint`` of it
  (ties to even), plus ``z``, clamped to ``0..N``; the fake-quantized value is the
  float32 product ``float32((q - z) * s32)`` (also for float64 input, converted back
  to float64).  Other real dtypes are converted to float64 first;
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


ROUNDINGS = ("divide", "pytorch")


def _check_rounding(rounding) -> str:
    if not isinstance(rounding, str):
        raise TypeError(f"rounding must be a string, one of {ROUNDINGS}, got {type(rounding).__name__}")
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be one of {ROUNDINGS} ('divide': rint(x / s) in float64, ONNX and the "
                         f"SPEC; 'pytorch': PyTorch's float32 reciprocal and product), got {rounding!r}")
    return rounding


def _pytorch_codes(x, s, z, bits):
    """PyTorch CPU fake-quantize codes (module docstring): ``(q, is_float32, s32)``."""
    src = np.asarray(x)
    f32 = src.dtype == np.float32
    xa = as_float_array(src, "x")  # validation (finite, real); float32 values convert exactly
    with np.errstate(over="ignore", divide="ignore"):  # out-of-range scales are refused just below
        s32 = np.float32(s)
        inv = np.float32(1.0) / s32 if s32 > 0 else np.float32(np.inf)
    if not (s32 > 0 and np.isfinite(s32) and np.isfinite(inv)):
        raise ValueError(f"rounding='pytorch' passes the scale as float32: scale {s!r} gives float32 {s32!r} "
                         f"and reciprocal {inv!r}; use a scale in about [3e-38, 3e38] or rounding='divide'")
    with np.errstate(over="ignore"):  # |x * inv| beyond float32 range rounds to inf: clamped like PyTorch
        p = (xa.astype(np.float32) * inv) if f32 else xa * np.float64(inv)
    q = np.clip(np.rint(p).astype(np.float64) + z, 0, 2**bits - 1).astype(np.int64)
    return q, f32, s32


def affine_quantize(x, scale, zero_point, bits, *, rounding: str = "divide") -> np.ndarray:
    """Integer codes ``q = clip(rint(x / s) + z, 0, 2**bits - 1)`` (int64; ties to even).

    ``rounding="divide"`` (default; ONNX ``QuantizeLinear``, the SPEC): ``x / s`` is a float64
    division.  ``rounding="pytorch"``: PyTorch's fake-quantize kernel, ``rint(float32(x *
    float32(1 / float32(s))))`` for float32 ``x`` (float64 ``x``: the product in float64), see the
    module docstring; near ties the codes differ by one from the default.
    """
    bits = _check_bits(bits)
    s = check_scale(scale)
    z = check_zero_point(zero_point, bits)
    if _check_rounding(rounding) == "pytorch":
        return _pytorch_codes(x, s, z, bits)[0]
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


def affine_fake_quantize(x, scale, zero_point, bits, *, rounding: str = "divide") -> np.ndarray:
    """``s (clip(rint(x / s) + z, 0, N) - z)`` in float64 (units of ``x``).

    ``rounding="pytorch"``: the codes of :func:`affine_quantize` with ``rounding="pytorch"`` and
    PyTorch's output ``float32((q - z) * float32(s))``: a float32 array for float32 ``x`` (what
    ``torch.fake_quantize_per_tensor_affine`` returns), else float64 holding those float32 values.
    """
    bits = _check_bits(bits)
    s = check_scale(scale)
    z = check_zero_point(zero_point, bits)
    if _check_rounding(rounding) == "pytorch":
        q, f32, s32 = _pytorch_codes(x, s, z, bits)
        out = (q - z).astype(np.float32) * s32  # |q - z| <= 2^24 - 1: exact in float32; one float32 product
        return out if f32 else out.astype(np.float64)
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
