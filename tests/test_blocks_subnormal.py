"""Audit 2026-12-01 F5: blocks whose values are all subnormal.

Documented definition: ``scale_underflow`` is True for a non-zero block quantized to all zeros
(its scale X is 0).  int4_g32 (real scale X = M / 7): M = 5e-324 (1 ulp) gives X = fl(1/7 ulp) = 0,
formerly flagged False.  nvfp4 default tensor scale S = amax / 2688 underflows to 0 for amax = 5e-324:
formerly "u contains a non-finite value (nan ...)" although the input has none; now a clear error."""

import numpy as np
import pytest

from quanttheory.blocks import quantize_blocks

ULP = 5e-324  # 2^-1074


@pytest.mark.parametrize("m", [1, 2, 3, 4, 5])
def test_int4_subnormal_block_flags_underflow(m):
    # int4_g32 has FP16 scales: the target M / 7 (exactly m/7 ulp) is far below the smallest FP16 value
    # (2^-24), so the scale is 0 and the block quantizes to all zeros.  m <= 3: the float64 target
    # fl(m/7 ulp) is itself 0 (below half an ulp), formerly flagged False; m = 4, 5: target 1 ulp > 0, True
    r = quantize_blocks(np.array([m * ULP, 0.0, 0.0, 0.0]), "int4_g32", block=4)
    assert r.scales[0] == 0.0
    assert np.all(r.values == 0.0)
    assert r.scale_underflow.tolist() == [True]


def test_int4_smallest_kept_block():
    # M = 7 * 2^-24 * 0.75 -> target 0.75 * 2^-24 rounds to the FP16 value 2^-24 (nearest of 0, 2^-24):
    # X = 2^-24, u = M / X = 5.25 -> level 5: not an underflow
    M = 7 * 0.75 * 2.0**-24
    r = quantize_blocks(np.array([M, 0.0, 0.0, 0.0]), "int4_g32", block=4)
    assert r.scales[0] == 2.0**-24
    assert r.values[0] == 5 * 2.0**-24
    assert r.scale_underflow.tolist() == [False]


def test_int4_zero_block_not_flagged():
    r = quantize_blocks(np.zeros(4), "int4_g32", block=4)
    assert r.scale_underflow.tolist() == [False]


def test_nvfp4_default_tensor_scale_underflow_clear_error():
    x = np.array([ULP, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="tensor scale .* underflows to 0"):
        quantize_blocks(x, "nvfp4", block=4)
    with pytest.raises(ValueError, match="tensor scale .* underflows to 0"):
        quantize_blocks(x, "nvfp4", block=4, tensor_amax=ULP)


def test_nvfp4_explicit_tensor_scale_subnormal_block():
    # S = 1e-300 given: the target c M / (6 S) underflows (M / 6 = 0 in float64), the scale is 0 and the
    # non-zero block quantizes to all zeros: flagged
    r = quantize_blocks(np.array([ULP, 0.0, 0.0, 0.0]), "nvfp4", block=4, tensor_scale=1e-300)
    assert np.all(r.values == 0.0)
    assert r.scale_underflow.tolist() == [True]
