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


def test_lattice_rows_recentring_regression():
    """Lattice data (``round(20 N(0, 1)) / 7``) at 6 bits: many breakpoints ``v / (k + 1/2)`` are
    equal but rounded an ulp or two apart, and the sweep used to recentre its sums on a piece
    between two of them, where ``rint(v / s)`` disagrees with the events already swept: the sums
    then belonged to another assignment and the sweep returned a scale above the optimum with a
    certificate above the true minimum (found 2026-11-30 on these rows: rows 0 and 8 at n = 384,
    the 2500-value row in the window [0.2, 0.3]).  Every channel against the brute force of
    tests/test_empirical.py (every piece's vertex; an independent evaluator)."""
    from quanttheory.risk._kernels.direct import exact_rows_full, exact_window

    g = Grid(6)
    rows = np.stack([np.round(np.random.default_rng(seed).normal(size=384) * 20) / 7 for seed in (0, 8)])
    res = optimal_scale_data(rows, g, axis=0)  # short rows: exact_rows_short
    ref_full = np.zeros((2, 6))
    exact_rows_full(rows, 31, 32, ref_full)
    for i, row in enumerate(rows):
        ref = brute_force(row, g)
        assert res.extra["mse"][i] <= ref[0] * (1 + 1e-12)
        assert res.risk_lower_bound[i] <= PI2 * ref[0] * (1 + 1e-12)
        assert ref_full[i, 1] / row.size <= ref[0] * (1 + 1e-12)
        assert ref_full[i, 2] / row.size <= ref[0] * (1 + 1e-12)
    x = np.round(np.random.default_rng(0).normal(size=2500) * 20) / 7
    out = np.zeros(8)
    exact_window(x, 31, 32, 0.2, 0.3, 2500 * 32, out)
    # any scale inside the window bounds the window's minimum from above: F(0.29363241) by NumPy
    s_in = 0.29363241
    k = np.minimum(np.rint(np.abs(x) / s_in), np.where(x >= 0, 31, 32))
    f_in = float(np.sum((np.abs(x) - k * s_in) ** 2))  # 18.5713 (the sweep returned 18.827 before)
    assert out[1] <= f_in * (1 + 1e-12) and out[2] <= f_in * (1 + 1e-12)
