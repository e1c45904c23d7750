"""affine_quantize / affine_fake_quantize: rounding="divide" (default) against rounding="pytorch"
(audit F6, 2026-12-01).

PyTorch's CPU fake-quantize kernel (``_fake_quantize_tensor_helper`` in
aten/src/ATen/native/quantized/cpu/kernels/QuantizedOpKernels.cpp) takes the scale as C float, forms
``inv = 1.0f / sc`` in float32, and for float32 input rounds the float32 product ``x * inv`` with
``nearbyint`` (ties to even), adds ``z``, clamps, and returns ``(q - z) * sc`` as a float32 product.
The references below follow that definition in exact rational arithmetic (fractions.Fraction,
rounded to float32 / float64 by hand: nearest, ties to even), not numpy's float32 arithmetic.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from quanttheory.affine import affine_fake_quantize, affine_quantize


def _round_bin(r: Fraction, mant_bits: int) -> Fraction:
    """Nearest binary floating-point number with ``mant_bits`` significand bits (normal range), ties to
    even: float32 = 24, float64 = 53."""
    if r == 0:
        return Fraction(0)
    sgn = 1 if r > 0 else -1
    a = abs(r)
    e = a.numerator.bit_length() - a.denominator.bit_length()  # 2^e <= a < 2^(e+2)
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    ulp = Fraction(2) ** (e - mant_bits + 1)
    m = a / ulp  # in [2^(mant_bits-1), 2^mant_bits)
    return sgn * round(m) * ulp  # round(Fraction) is half-to-even


def _f32(v) -> Fraction:
    return Fraction(float(np.float32(v)))


def _ref_pytorch_f32(x32, s, z, N):
    s32 = _f32(s)
    inv = _round_bin(1 / s32, 24)
    p = _round_bin(Fraction(float(x32)) * inv, 24)
    q = min(max(round(p) + z, 0), N)
    return q, _round_bin((q - z) * s32, 24)


def _ref_divide(x, s, z, N):
    t = _round_bin(Fraction(float(x)) / Fraction(float(s)), 53)
    return min(max(round(t) + z, 0), N)


def test_hand_derived_tie_case():
    # x = float32(0.35) = 11744051 * 2^-25 = 0.3499999940395355...; s = float32(0.1) = 13421773 * 2^-27
    # = 0.10000000149011612...; x / s = 3.49999988... < 3.5 -> rint 3, q = 3 + 8 = 11.
    # PyTorch: 1 / s = 9.99999985..., 10 - that = 1.5e-7 < half an ulp of [8, 16) (2^-21 = 4.8e-7):
    # inv = 10.0f; x * inv = 3.4999999404, 3.5 - that = 6e-8 < half an ulp of [2, 4) (2^-23 = 1.2e-7):
    # the product is 3.5f, a tie, to even: 4, q = 12; fake value (12 - 8) * s = 4 s = 13421773 * 2^-25,
    # exactly a float32 (= float32(0.4)).
    x = np.array([np.float32(0.35)], dtype=np.float32)
    s = np.float32(0.1)
    assert Fraction(float(x[0])) == Fraction(11744051, 2**25)
    assert Fraction(float(s)) == Fraction(13421773, 2**27)
    assert affine_quantize(x, s, 8, 4)[0] == 11
    assert affine_quantize(x, s, 8, 4, rounding="divide")[0] == 11
    assert affine_quantize(x, s, 8, 4, rounding="pytorch")[0] == 12
    y = affine_fake_quantize(x, s, 8, 4, rounding="pytorch")
    assert y.dtype == np.float32 and Fraction(float(y[0])) == Fraction(13421773, 2**25)
    assert affine_fake_quantize(x, s, 8, 4)[0] == pytest.approx(3 * float(s), rel=1e-15)


def test_against_exact_rational_definition_near_ties():
    rng = np.random.default_rng(2026)
    bits, N = 8, 255
    n_diff = 0
    n = 0
    for s in (0.1, 0.3, 0.0123, 1.7, 3e-3):
        s32 = np.float32(s)
        z = int(rng.integers(0, N + 1))
        # points near ties (k + 1/2) s of the float32 scale, and a few far ones and clamped ones
        k = rng.integers(-z - 3, N - z + 3, 300)
        x = ((k + 0.5) * float(s32) * (1 + rng.normal(0, 2e-7, k.size))).astype(np.float32)
        x = np.concatenate([x, rng.normal(0, 40 * float(s32), 100).astype(np.float32)])
        qp = affine_quantize(x, s32, z, bits, rounding="pytorch")
        yp = affine_fake_quantize(x, s32, z, bits, rounding="pytorch")
        qd = affine_quantize(x, s32, z, bits)
        assert yp.dtype == np.float32
        for i in range(x.size):
            q_ref, y_ref = _ref_pytorch_f32(x[i], s32, z, N)
            assert qp[i] == q_ref, (s, z, float(x[i]))
            assert Fraction(float(yp[i])) == y_ref
            assert qd[i] == _ref_divide(x[i], s32, z, N)
        n_diff += int(np.sum(qp != qd))
        n += x.size
    # near ties the two conventions must differ on some inputs (the option is not a no-op), by one code
    assert n_diff > 0
    assert np.all(np.abs(affine_quantize(x, s32, z, bits, rounding="pytorch") - affine_quantize(x, s32, z, bits)) <= 1)


def test_float64_input_follows_the_double_kernel():
    # double input: x * inv is a double product with the float32 reciprocal; output (q - z) * sc is a
    # float32 product (int64 * float in C++), converted to double
    rng = np.random.default_rng(7)
    s, z, N = 0.1, 3, 15
    s32 = _f32(s)
    inv = _round_bin(1 / s32, 24)
    x = (rng.integers(-5, 15, 200) + 0.5) * float(s32) + rng.normal(0, 1e-16, 200)
    q = affine_quantize(x, s, z, 4, rounding="pytorch")
    y = affine_fake_quantize(x, s, z, 4, rounding="pytorch")
    assert y.dtype == np.float64
    for i in range(x.size):
        p = _round_bin(Fraction(float(x[i])) * inv, 53)
        qr = min(max(round(p) + z, 0), N)
        assert q[i] == qr
        assert Fraction(float(y[i])) == _round_bin((qr - z) * s32, 24)


def test_rounding_argument_validation():
    with pytest.raises(ValueError, match="rounding must be one of"):
        affine_quantize([0.1], 0.1, 0, 4, rounding="torch")
    with pytest.raises(TypeError, match="rounding must be a string"):
        affine_fake_quantize([0.1], 0.1, 0, 4, rounding=None)
    with pytest.raises(ValueError, match="float32"):
        affine_quantize([0.1], 1e-50, 0, 4, rounding="pytorch")  # float32(1e-50) = 0
    with pytest.raises(ValueError, match="float32"):
        affine_fake_quantize([0.1], 1e39, 0, 4, rounding="pytorch")  # float32(1e39) = inf
    with pytest.raises(ValueError, match="non-finite"):
        affine_quantize(np.array([np.nan], dtype=np.float32), 0.1, 0, 4, rounding="pytorch")


def test_against_torch_if_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    s32 = np.float32(0.1)
    k = rng.integers(-10, 20, 20000)
    x = ((k + 0.5) * float(s32) * (1 + rng.normal(0, 2e-7, k.size))).astype(np.float32)
    for z in (0, 8, 15):
        ref = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), float(s32), z, 0, 15).numpy()
        got = affine_fake_quantize(x, s32, z, 4, rounding="pytorch")
        assert np.array_equal(ref, got)
