"""Data whose mass is all where the grid has no level (audit F3, session of 2026-12-01).

``[-1, 1e-300]`` on an unsigned 1-bit grid and ``[1, 1e-310, -5e-324]`` on the signed 1-bit grid
(top level 0) used to raise "magnitudes are all below 3.13e-148 ... rescale the data": only the
side with levels was looked at, and rescaling keeps the ratios.  By hand: the values on the side
without levels keep their full square as error for every s (``1`` and ``1``), those on the side
with levels have errors ``<= v**2`` (``1e-600`` and ``2.5e-647``, zero in float64), so
``MSE(s) = 1/2`` and ``1/3`` for every s to float64 rounding: the flat (degenerate) result.
Data tiny on every side still get the rescale advice (rescaling does help there)."""

from __future__ import annotations

import numpy as np
import pytest

from quanttheory import Grid, optimal_scale
from quanttheory.risk.data import mse_sums

CASES = [
    (np.array([-1.0, 1e-300]), Grid(1, signed=False), 0.5, "x < 0"),
    (np.array([1.0, 1e-310, -5e-324]), Grid(1), 1.0 / 3.0, "x > 0"),
    (np.array([-3.0, -1.0, 2e-200, 1e-290]), Grid(8, signed=False), 2.5, "x < 0"),
]


@pytest.mark.parametrize("x,g,mse,side", CASES)
def test_flat_side_is_reported_as_degenerate(x, g, mse, side):
    r = optimal_scale(x, g)
    assert r.extra["degenerate"] and r.extra["flat_to_rounding"]
    assert r.scale == 1.0 and r.scale_error == np.inf
    assert r.extra["mse"] == pytest.approx(mse, rel=1e-15)  # hand-derived value
    assert r.risk == pytest.approx(np.pi**2 * mse, rel=1e-15)
    # flat: the exact MSE at scales over 600 decades equals the hand value to rounding, and the
    # certificate is below every one of them
    s = np.logspace(-300, 300, 601)
    vals = mse_sums(x, s, g) / x.size
    assert np.allclose(vals, mse, rtol=1e-15, atol=0)
    assert r.risk_lower_bound <= np.pi**2 * vals.min() and r.risk_lower_bound > 0.99 * r.risk
    m = r.method
    assert "flat in s" in m and "no non-zero level" in m and side in m and "rescaling cannot" in m
    assert "rescale the data" not in m


@pytest.mark.parametrize("x,g,mse,side", CASES[:2])
def test_flat_side_other_entry_points(x, g, mse, side):
    r = optimal_scale(x.reshape(1, -1), g, axis=0)  # per channel
    assert "flat in s" in r.method and r.scale[0] == 1.0
    assert r.extra["mse"][0] == pytest.approx(mse, rel=1e-15)
    q = optimal_scale(x, g, regularizer="qsin")
    assert q.scale == 1.0 and "degenerate" in q.method


def test_tiny_everywhere_still_asks_to_rescale():
    with pytest.raises(ValueError, match="rescale the data"):
        optimal_scale(np.array([-1e-300, 1e-300]), Grid(1, signed=False))
    with pytest.raises(ValueError, match="rescale the data"):
        optimal_scale(np.array([1e-200, -1e-300]), Grid(4))
