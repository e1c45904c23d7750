"""Per-channel exact optimum of float32 data (risk/data.py ``_per_channel_direct``): float32 rows
are converted to float64 a block of rows at a time before the rows kernel.  The conversion is
exact, so the results equal those of the float64 copy bit for bit, whatever the block size; and
they equal the independent full enumeration (``exact_rows_full``) within its rounding bound."""

import numpy as np
import pytest

import quanttheory.risk.data as D
from quanttheory import Grid
from quanttheory.risk._kernels.direct import exact_rows_full
from quanttheory.risk.data import optimal_scale_data


@pytest.mark.parametrize("bits", [2, 4])
def test_float32_blocks_equal_float64_copy_and_full_enumeration(monkeypatch, bits):
    rng = np.random.default_rng(11)
    x = (rng.normal(size=(7, 2100)) * np.exp(rng.normal(size=(7, 1)))).astype(np.float32)
    x[3] = np.round(x[3] * 4) / 4  # values on a lattice (ties between scales)
    x[5, :] = 0.0  # a degenerate channel (the one-channel path says so)
    r64 = optimal_scale_data(x.astype(np.float64), Grid(bits), axis=0)
    monkeypatch.setattr(D, "CONVERT_BLOCK", 3 * 2100)  # blocks of 3 rows: 3 kernel calls
    r32 = optimal_scale_data(x, Grid(bits), axis=0)
    assert np.array_equal(r32.scale, r64.scale)
    assert np.array_equal(r32.extra["mse"], r64.extra["mse"])
    assert np.array_equal(r32.risk_lower_bound, r64.risk_lower_bound)
    g = Grid(bits)
    Tp, Tn = int(g.r_t), int(-g.r_b)
    ref = np.zeros((7, 6))
    exact_rows_full(x.astype(np.float64), Tp, Tn, ref)
    for i in range(7):
        if i == 5:
            assert ref[i, 5] == 1.0 and r32.extra["mse"][i] == 0.0
            continue
        F = r32.extra["mse"][i] * 2100
        # both are direct sums at their scales; equal optima up to summation rounding (1e-12
        # relative is ~1e3 times n eps)
        assert abs(F - ref[i, 1]) <= 1e-12 * ref[i, 1] + 1e-300
        if abs(r32.scale[i] - ref[i, 0]) > 1e-12 * ref[i, 0]:  # a different scale only on a tie
            assert abs(F - ref[i, 1]) <= 1e-13 * ref[i, 1]
