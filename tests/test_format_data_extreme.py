"""Audit 2026-12-01 F2-F4: optimal_scale_format_data at extreme magnitudes.

F2/F4: data whose magnitudes are all below TINY_DATA = 2**-490 (squared errors underflow) are refused
as in the integer engine (check_not_tiny), per tensor and per channel; formerly [1e-300, 3e-300] on e2m1
returned 4.23e-301 with MSE 0.0 (true MSE 2.4e-2 of mean x^2; s = 5e-301 fits exactly) and
[5e-324, 1e-323] raised OverflowError.  F3: |x| up to the scan limit 1e154 works per tensor (formerly
"min() arg is an empty sequence" after overflow warnings) and agrees with the per-channel path."""

import warnings
from fractions import Fraction as F

import numpy as np
import pytest

from quanttheory.formats import get_format
from quanttheory.risk.format_data import optimal_scale_format_data


def _exact_min(x, levels):
    """Global minimum of MSE(s) = mean (x - s q(x/s))^2 in exact rationals.  MSE is continuous and
    piecewise quadratic with convex pieces, so the minimum is a stationary point of a piece
    (s = sum x_i l_i / sum l_i^2 for an assignment l) or a piece boundary (s = x_i / midpoint)."""
    xs = [F(float(v)) for v in x]
    lv = sorted(F(float(l)) for l in levels)
    mids = [(a + b) / 2 for a, b in zip(lv, lv[1:])]

    def mse(s):
        tot = F(0)
        for v in xs:
            u = v / s
            tot += (v - s * min(lv, key=lambda l: abs(u - l))) ** 2
        return tot / len(xs)

    cands = set()
    import itertools
    for ass in itertools.product(lv, repeat=len(xs)):
        den = sum(l * l for l in ass)
        num = sum(v * l for v, l in zip(xs, ass))
        if den > 0 and num > 0:
            cands.add(num / den)
    for v in xs:
        for m in mids:
            if m != 0 and v / m > 0:
                cands.add(v / m)
    return min(mse(s) for s in cands), mse


@pytest.mark.parametrize("x", [[1e-300, 3e-300], [1e-160, 3e-160], [5e-324, 1e-323], [-5e-324, 0.0]])
def test_tiny_refused_per_tensor(x):
    with pytest.raises(ValueError, match="below 3.13e-148"):
        optimal_scale_format_data(np.array(x), "e2m1")


def test_tiny_refused_per_channel():
    M = np.array([[1.0, 3.0], [1e-300, 3e-300]])
    with pytest.raises(ValueError, match="channel 1.*below 3.13e-148"):
        optimal_scale_format_data(M, "e2m1", axis=0)
    with pytest.raises(ValueError, match="below 3.13e-148"):
        optimal_scale_format_data(np.array([[5e-324, 1e-323]]), "e2m1", axis=0)


def test_tiny_boundary_still_works():
    # 2^-400 ~ 3.9e-121 > TINY_DATA: [1, 3] 2^-400 has the exact fit s = 2^-401 (levels 2 and 6): MSE 0
    x = np.ldexp([1.0, 3.0], -400)
    r = optimal_scale_format_data(x, "e2m1")
    assert r.mse == 0.0
    assert _exact_min(x, get_format("e2m1").levels)[1](F(r.scale)) == 0


def test_tiny_on_the_level_free_side_only():
    # uint-like format: the negative value maps to 0 whatever s; the positive one is tiny -> flat
    with pytest.raises(ValueError, match="3.13e-148"):
        optimal_scale_format_data(np.array([-1.0, 1e-300]), "uint4")


@pytest.mark.parametrize("x", [[1e153, 3e152], [1e154, 3e153], [-1e154, 2.5e153, 7e152]])
def test_huge_per_tensor_exact(x):
    x = np.array(x)
    fmt = get_format("e2m1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings either
        r = optimal_scale_format_data(x, fmt)
    best, mse = _exact_min(x, fmt.levels)
    assert float(best) > 0
    assert r.mse == pytest.approx(float(best), rel=1e-12)
    assert float(mse(F(r.scale))) == pytest.approx(float(best), rel=1e-12)
    assert r.risk_lower_bound <= r.risk * (1 + 1e-12)
    assert np.isfinite(r.amax_mse) and r.amax_mse >= r.mse * (1 - 1e-12)
    # the per-channel path on the same row agrees
    rc = optimal_scale_format_data(x[None, :], fmt, axis=0)
    assert rc.mse[0] == pytest.approx(r.mse, rel=1e-12)
