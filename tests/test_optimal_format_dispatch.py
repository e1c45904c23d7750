"""``optimal_scale`` accepts any number format and routes it to the format engine.

The expected answers are either the format engine's own public functions (the routing must not
change a number), or derived by hand (the two-point data set below).
"""
import numpy as np
import pytest

from quanttheory import Grid, Laplace, Normal, optimal_scale
from quanttheory.formats.levelset import get_format, integer
from quanttheory.risk.format_data import optimal_scale_format_data
from quanttheory.risk.levels_optimum import format_optimal_scale


def test_data_goes_to_the_format_data_engine():
    x = np.random.default_rng(3).standard_t(4, size=3000)
    got = optimal_scale(x, "e4m3")
    ref = optimal_scale_format_data(x, "e4m3")
    assert got.scale == ref.scale and got.mse == ref.mse


def test_per_channel_data_keeps_the_axis():
    x = np.random.default_rng(4).normal(size=(3, 200))
    got = optimal_scale(x, get_format("nf4"), axis=1)
    ref = optimal_scale_format_data(x, "nf4", axis=1)
    np.testing.assert_array_equal(got.scale, ref.scale)


def test_law_goes_to_the_certified_format_optimum():
    got = optimal_scale(Laplace(0.0, 1.0), "e2m1")
    ref = format_optimal_scale(Laplace(0.0, 1.0), get_format("e2m1"))
    assert got.scale == ref.scale and got.risk == ref.risk


def test_integer_format_is_its_grid():
    # integer(4) has the levels -8..7: the same grid as Grid(4), so the same certified answer.
    got = optimal_scale(Normal(0.0, 1.0), integer(4, signed=True))
    ref = optimal_scale(Normal(0.0, 1.0), Grid(4))
    assert got.scale == ref.scale and type(got) is type(ref)


def test_two_points_are_hit_exactly():
    # By hand: x = {-1, 1} on E2M1 (levels 0, +-0.5, +-1, ..., +-6). Any s with 1/s a level
    # (s = 1/6, 1/4, 1/3, ..., 2) maps both points onto levels: the minimum MSE is exactly 0.
    res = optimal_scale(np.array([-1.0, 1.0]), "e2m1")
    assert res.mse == 0.0
    u = 1.0 / res.scale
    assert np.any(np.isclose(get_format("e2m1").levels, u, rtol=0, atol=1e-12))


def test_qsin_on_a_minifloat_is_refused():
    with pytest.raises(ValueError, match="integer grids only"):
        optimal_scale(Normal(0.0, 1.0), "e4m3", "qsin")


def test_axis_with_a_law_is_refused():
    with pytest.raises(ValueError, match="data arrays only"):
        optimal_scale(Normal(0.0, 1.0), "e4m3", axis=0)


def test_unknown_format_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="e4m3"):
        optimal_scale(Normal(0.0, 1.0), "e9m9")
