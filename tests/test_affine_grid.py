"""Affine formats: quantize / fake-quantize from the definition, ShiftedGrid in the risk engine.

Definition (PyTorch fake_quantize_per_tensor_affine with quant_min=0, quant_max=N):
q = clip(rint(x / s) + z, 0, N), x_hat = s (q - z); rint = round half to even.
Real offset: q = clip(rint((x - m) / s), 0, N), x_hat = s q + m.
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate

from quanttheory.formats import grid as G
from quanttheory.affine import grid as A
from quanttheory.laws import Laplace, Normal, ReLU
from quanttheory.risk import expected_phi


def test_hand_example_ties_and_clamping():
    # bits=2 (N=3), s=0.5, z=1: x/s = [-2, -1, -0.5, 0, 0.5, 1.5, 2, 4]
    # rint half-even: [-2, -1, -0, 0, 0, 2, 2, 4]; + z: [-1, 0, 1, 1, 1, 3, 3, 5]; clip to [0, 3]
    x = np.array([-1.0, -0.5, -0.25, 0.0, 0.25, 0.75, 1.0, 2.0])
    q = A.affine_quantize(x, 0.5, 1, 2)
    assert q.tolist() == [0, 0, 1, 1, 1, 3, 3, 3]
    assert q.dtype == np.int64
    assert A.affine_fake_quantize(x, 0.5, 1, 2).tolist() == [-0.5, -0.5, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert A.affine_dequantize(q, 0.5, 1, 2).tolist() == [-0.5, -0.5, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]


def test_offset_hand_example():
    # bits=2, s=0.5, m=-0.3: (x - m)/s for x = [-1, -0.3, -0.05, 0.45, 2]: [-1.4, 0, 0.5, 1.5, 4.6]
    # rint: [-1, 0, 0, 2, 5] -> clip [0, 0, 0, 2, 3]; x_hat = 0.5 q - 0.3
    x = np.array([-1.0, -0.3, -0.05, 0.45, 2.0])
    q = A.offset_quantize(x, 0.5, -0.3, 2)
    assert q.tolist() == [0, 0, 0, 2, 3]
    np.testing.assert_allclose(A.offset_fake_quantize(x, 0.5, -0.3, 2), [-0.3, -0.3, -0.3, 0.7, 1.2], rtol=0,
                               atol=1e-15)
    np.testing.assert_array_equal(A.offset_dequantize(q, 0.5, -0.3, 2), 0.5 * q - 0.3)


@given(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=40), st.integers(1, 8),
       st.floats(1e-3, 1e2), st.data())
def test_shifted_grid_is_the_affine_quantizer(xs, bits, s, data):
    z = data.draw(st.integers(0, 2**bits - 1))
    x = np.array(xs)
    g = A.ShiftedGrid(bits, False, z)
    assert isinstance(g, G.Grid) and g.r_b == -z and g.r_t == 2**bits - 1 - z
    # quanttheory.grid's uniform quantizer on [-z, N - z] == the affine fake quantizer
    np.testing.assert_array_equal(G.quantize(x, s, g), A.affine_fake_quantize(x, s, z, bits))
    # the real-offset form with m = -s z is the same quantizer up to rounding of (x - m)/s
    q1 = A.affine_quantize(x, s, z, bits)
    assert np.all((q1 >= 0) & (q1 <= 2**bits - 1))
    levels = A.AffineGrid(bits, s, z).levels()
    # every output is the nearest level (clip + round == nearest level on a uniform grid)
    xh = A.affine_fake_quantize(x, s, z, bits)
    d_near = np.min(np.abs(x[:, None] - levels[None, :]), axis=1)
    np.testing.assert_allclose(np.abs(x - xh), d_near, rtol=1e-12, atol=1e-12 * s)


@pytest.mark.parametrize("z", [-1, 4, 100])
def test_zero_point_out_of_range(z):
    with pytest.raises(ValueError, match="code range"):
        A.affine_quantize([0.0], 1.0, z, 2)
    with pytest.raises(ValueError, match="code range"):
        A.ShiftedGrid(2, False, z)


@pytest.mark.parametrize("z", [1.5, "1", None, True])
def test_zero_point_type(z):
    with pytest.raises(TypeError):
        A.affine_fake_quantize([0.0], 1.0, z, 2)


def test_bad_inputs():
    assert A.affine_quantize([1.0], 1.0, 2.0, 2).tolist() == [3]  # an integral float zero-point is accepted
    with pytest.raises(ValueError, match="non-finite"):
        A.affine_quantize([np.nan], 1.0, 0, 4)
    with pytest.raises(ValueError):
        A.affine_quantize([1.0], 0.0, 0, 4)
    with pytest.raises(ValueError):
        A.offset_quantize([1.0], 1.0, math.inf, 4)
    with pytest.raises(ValueError, match="codes"):
        A.affine_dequantize(np.array([4]), 1.0, 0, 2)
    with pytest.raises(TypeError):
        A.affine_dequantize(np.array([1.5]), 1.0, 0, 2)
    with pytest.raises(ValueError, match="signed=False"):
        A.ShiftedGrid(4, True, 3)
    with pytest.raises(ValueError):
        A.affine_quantize([1.0], 1.0, 0, 0)


def _quad_mse(dist, s, z, bits):
    """E[(xi - x_hat)^2] by scipy quad, cell by cell (thresholds at half-integers of the grid)."""
    N = 2**bits - 1
    lv = s * (np.arange(N + 1) - z)
    t = np.concatenate([[-np.inf], 0.5 * (lv[1:] + lv[:-1]), [np.inf]])
    total = 0.0
    for k in range(N + 1):
        a, b = t[k], t[k + 1]
        if dist.relu:
            a = max(a, 0.0)
            if b <= a:
                continue
        pts = [p for p in (dist.loc,) if a < p < b and isinstance(dist.base if dist.relu else dist, Laplace)]
        v, _ = integrate.quad(lambda x: (x - lv[k]) ** 2 * float(dist.pdf(x)), a, b, points=pts or None,
                              epsabs=0, epsrel=1e-13, limit=200) if np.isfinite(a) and np.isfinite(b) else \
            integrate.quad(lambda x: (x - lv[k]) ** 2 * float(dist.pdf(x)), a, b, epsabs=0, epsrel=1e-13,
                           limit=200)
        total += v
    if dist.point_mass:
        total += dist.point_mass * float(np.min(np.abs(lv))) ** 2
    return total


@pytest.mark.parametrize("dist", [Normal(0.7, 1.3), Laplace(-0.4, 0.8), ReLU(Normal(0.2, 1.0)),
                                  ReLU(Laplace(-0.3, 1.1))])
@pytest.mark.parametrize("method", ["fast", "cells"])
def test_engine_general_integer_range_matches_quad(dist, method):
    """The existing risk engine (both paths) on [-z, N - z] against scipy quad (1e-10 relative:
    quad's own accuracy at epsrel 1e-13 over 16 cells)."""
    bits = 4
    for z in (0, 3, 8, 15):
        g = A.ShiftedGrid(bits, False, z)
        for s in (0.05, 0.3, 1.7):
            eng = float(expected_phi(dist, np.array([s]), g, "msqe", method=method)[0])
            ref = _quad_mse(dist, s, z, bits)
            assert eng == pytest.approx(ref, rel=1e-10), (z, s)
