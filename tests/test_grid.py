"""Grid, quantizer and pointwise errors against naive references."""

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from quanttheory import Grid, msqe, qsin, quantize, sinreq
from quanttheory.formats.grid import mean_msqe


@pytest.mark.parametrize("bits,signed,rb,rt", [(1, True, -1, 0), (4, True, -8, 7), (4, False, 0, 15),
                                               (8, False, 0, 255), (16, True, -32768, 32767)])
def test_grid_range(bits, signed, rb, rt):
    g = Grid(bits, signed)
    assert (g.r_b, g.r_t) == (rb, rt)
    assert g.levels == rt - rb + 1


@pytest.mark.parametrize("bad", [0, -1, 25])
def test_bad_bits(bad):
    with pytest.raises(ValueError, match="bits"):
        Grid(bad)


@pytest.mark.parametrize("bad", [2.5, "4", True, None])
def test_bits_type(bad):
    with pytest.raises(TypeError):
        Grid(bad)


def test_round_half_even_documented():
    g = Grid(4)
    # numpy rounds half to even: 0.5 -> 0, 1.5 -> 2, -0.5 -> -0, 2.5 -> 2
    np.testing.assert_array_equal(quantize([0.5, 1.5, -0.5, 2.5], 1.0, g), [0.0, 2.0, 0.0, 2.0])


@pytest.mark.parametrize("scale", [0.0, -1.0, math.nan, math.inf])
def test_bad_scale(scale):
    with pytest.raises(ValueError, match="scale"):
        quantize([1.0], scale, Grid(4))


def test_nonfinite_data():
    with pytest.raises(ValueError, match="non-finite"):
        quantize([1.0, np.nan], 1.0, Grid(4))
    with pytest.raises(TypeError, match="complex"):
        quantize(np.array([1j]), 1.0, Grid(4))


def _naive_q(x, s, rb, rt):
    # nearest grid point by exhaustive search (ties: lower index, avoided by the strategy)
    pts = s * np.arange(rb, rt + 1)
    return pts[np.argmin(np.abs(pts - x))]


@given(st.integers(1, 8), st.booleans(), st.floats(-300, 300), st.floats(0.01, 10))
def test_quantize_matches_exhaustive(bits, signed, x, s):
    g = Grid(bits, signed)
    u = x / s
    if abs(u - math.floor(u) - 0.5) < 1e-9:
        return  # exact tie: rule tested separately
    assert quantize(x, s, g) == pytest.approx(_naive_q(x, s, g.r_b, g.r_t), abs=1e-12 * max(1, abs(x)))


@given(st.integers(1, 8), st.booleans(), st.floats(-300, 300))
def test_pointwise_relations(bits, signed, u):
    g = Grid(bits, signed)
    m, q, r = msqe(u, g), qsin(u, g), sinreq(u, g)
    # SPEC: MSQE <= QSin <= pi^2 MSQE (tight constant 4 at half-integers)
    assert 4 * m * (1 - 1e-12) - 1e-300 <= q <= math.pi**2 * m * (1 + 1e-12) + 1e-300
    if g.r_b <= u <= g.r_t:
        assert r == pytest.approx(q, abs=1e-15)


def test_mean_msqe_scaling():
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    g = Grid(3)
    s = 0.4
    assert mean_msqe(x, s, g) == pytest.approx(s**2 * np.mean(msqe(x / s, g)), rel=1e-12)
