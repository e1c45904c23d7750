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


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan, 1e155, -1e200])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_rows_validation_names_the_channel(bad, dtype):
    """rows_ok (the vectorized check before the rows kernel) sends NaN/inf/too-large values to the
    validating per-channel path: the same ValueError, naming the channel, as the scan before it."""
    from quanttheory.risk._kernels.direct import rows_ok

    x = np.random.default_rng(1).normal(size=(4, 3000))
    x[3, 17] = bad
    with np.errstate(over="ignore"):  # float32: 1e155 and -1e200 become +-inf
        x = x.astype(dtype)
    assert rows_ok(x[:3]) and not rows_ok(x)
    if dtype == np.float32 and abs(bad) > 1e39:
        assert np.isinf(x[3, 17])
    with pytest.raises(ValueError, match="channel 3"):
        optimal_scale_data(x, Grid(4), axis=0)


def test_rows_above_row_big_take_the_per_channel_path():
    """A value above ROW_BIG = 2^500 but valid (below 1e154): rows_ok is False, every channel then
    takes the one-channel path, and the results equal the one-channel calls (hand check: ROW_BIG
    itself passes, its double does not)."""
    from quanttheory.risk._kernels.direct import ROW_BIG, rows_ok

    assert rows_ok(np.array([[ROW_BIG, -ROW_BIG]])) and not rows_ok(np.array([[0.0, -2 * ROW_BIG]]))
    x = np.random.default_rng(2).normal(size=(3, 2500))
    x[1] *= 2.0**505
    res = optimal_scale_data(x, Grid(4), axis=0)
    for i in range(3):
        one = optimal_scale_data(x[i], Grid(4))
        assert res.scale[i] == one.scale and res.risk[i] == one.risk
