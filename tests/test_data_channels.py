"""Per-channel data optimum in one kernel call (issue 20 part b): every channel against the
brute-force reference of tests/test_empirical.py (the MSE at every breakpoint and every piece's
vertex, an independent evaluator), and identical to the one-channel call."""

from __future__ import annotations

import numpy as np
import pytest

from quanttheory import Grid
from quanttheory.risk.data import optimal_scale_data

from test_empirical import _data, brute_force, PI2  # noqa: E402


@pytest.mark.parametrize("bits,signed", [(2, True), (3, False), (4, True), (5, True)])
def test_channels_match_brute_force_and_single_calls(bits, signed):
    rng = np.random.default_rng(100 + bits)
    g = Grid(bits, signed)
    rows = [_data(kind % 5, 40, rng) for kind in range(30)]
    rows[7][:] = 0.0  # a degenerate channel (all zero) among the others
    x = np.stack(rows)
    r = optimal_scale_data(x, g, axis=0)
    for i, row in enumerate(rows):
        one = optimal_scale_data(row, g)
        assert r.scale[i] == one.scale and r.risk[i] == one.risk
        assert r.risk_lower_bound[i] == one.risk_lower_bound and r.scale_error[i] == one.scale_error
        ref = brute_force(row, g)
        if ref is None:
            assert one.extra["degenerate"]
            continue
        tol = (one.risk - one.risk_lower_bound) / PI2 + 1e-12 * ref[0] + 1e-30 * float(np.mean(row * row))
        assert abs(one.extra["mse"] - ref[0]) <= tol
        assert one.risk_lower_bound <= PI2 * ref[0] * (1 + 1e-12) + 1e-300


def test_channel_with_nan_is_named():
    x = np.ones((3, 10))
    x[2, 4] = np.nan
    with pytest.raises(ValueError, match="channel 2"):
        optimal_scale_data(x, Grid(4), axis=0)
