"""Bad input gets a clear ValueError/TypeError, never a wrong number."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quanttheory import Grid, Normal, ReLU, get_distribution
from quanttheory.formats.regularizers import get_regularizer, user_regularizer
from quanttheory.risk import optimal_scale, risk_curve


@pytest.mark.parametrize("scales,match", [([0.0], "> 0"), ([-1.0], "> 0"), ([math.nan], "non-finite"),
                                          ([math.inf], "non-finite"), ([], "empty")])
def test_bad_scales(scales, match):
    with pytest.raises(ValueError, match=match):
        risk_curve(Normal(), scales, Grid(4))


def test_bad_scale_types():
    with pytest.raises(TypeError, match="complex"):
        risk_curve(Normal(), np.array([1j]), Grid(4))
    with pytest.raises(TypeError, match="numeric"):
        risk_curve(Normal(), ["a"], Grid(4))


@pytest.mark.parametrize("bits", [0, -3, 25, 64])
def test_bits_out_of_range(bits):
    with pytest.raises(ValueError, match="bits"):
        risk_curve(Normal(), [1.0], bits)


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown regularizer"):
        risk_curve(Normal(), [1.0], Grid(4), "l2")
    with pytest.raises(ValueError, match="unknown distribution"):
        get_distribution("cauchy")
    with pytest.raises(TypeError, match="regularizer"):
        get_regularizer(3.0)


@pytest.mark.parametrize("loc,scale", [(math.nan, 1.0), (0.0, math.inf), (0.0, 0.0), (0.0, -2.0), (math.inf, 1.0)])
def test_nonfinite_distribution_parameters(loc, scale):
    with pytest.raises(ValueError):
        Normal(loc, scale)


def test_wrong_distribution_type():
    with pytest.raises(TypeError):
        ReLU("normal")


def test_user_phi_nan_names_input():
    reg = user_regularizer(lambda u, r_b, r_t: math.nan if u > 2.5 else u * u, "badphi")
    with pytest.raises(ValueError, match=r"badphi.*nan.*u ="):
        risk_curve(Normal(), [1.0], Grid(4), reg)


def test_user_phi_raises_is_wrapped():
    def boom(u, r_b, r_t):
        raise RuntimeError("kaboom")

    reg = user_regularizer(boom, "boom", use_numba=False)
    with pytest.raises(ValueError, match="boom.*kaboom"):
        risk_curve(Normal(), [1.0], Grid(4), reg)


def test_user_phi_raise_names_the_input():
    def picky(u, r_b, r_t):
        u = np.asarray(u)
        if np.any(u > 3.0):
            raise ArithmeticError("too big")
        return u * u

    reg = user_regularizer(picky, "picky", use_numba=False)
    with pytest.raises(ValueError, match=r"picky.*too big at u = ") as info:
        reg(np.array([0.0, 1.0, 5.0, 2.0]), Grid(4))
    assert "u = 5.0" in str(info.value)


def test_user_phi_wrong_shape():
    reg = user_regularizer(lambda u, r_b, r_t: np.zeros(3), "shape", use_numba=False)
    with pytest.raises(ValueError, match="shape"):
        risk_curve(Normal(), [1.0], Grid(4), reg)


def test_optimal_scale_bad_args():
    with pytest.raises(ValueError, match="axis"):
        optimal_scale(Normal(), Grid(4), axis=0)
    with pytest.raises(ValueError, match="rtol"):
        optimal_scale(Normal(), Grid(4), rtol=0.5)
