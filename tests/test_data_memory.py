"""Bounded memory of the exact data optimum at high bit widths (issue 20 part b).

Before the batched sweep, 14 bits on 3000 normal values allocated 558 MB (every breakpoint of
the candidate s-bins held in ~30 NumPy temporaries at once; 6.7 GB at 16 bits with n = 1e5).
The sweep now holds at most EVENT_BUDGET breakpoints at a time (numba kernel, O(1) memory per
piece) and the s-histogram has at most MAX_SBINS rows; the peak measured by tracemalloc (NumPy
allocations included) is ~56 MB.  The limit below (128 MB) fails on the old code."""

from __future__ import annotations

import tracemalloc

import numpy as np

from quanttheory import Grid
from quanttheory.risk.data import mse_sums, optimal_scale_data


def test_14_bits_memory_is_bounded_and_result_exact():
    x = np.random.default_rng(1).standard_normal(3000)
    g = Grid(14)
    optimal_scale_data(x[:50], Grid(8))  # load the kernels outside the measurement
    tracemalloc.start()
    try:
        res = optimal_scale_data(x, g)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 128 * 2**20, f"peak {peak / 2**20:.0f} MB"
    # the risk is the exact MSE at the returned scale (pi^2 convention), and no scale of a dense
    # scan around it beats it beyond the certified rounding bound
    exact = mse_sums(x, np.array([res.scale]), g)[0] / x.size
    assert res.risk == np.pi**2 * exact or abs(res.risk / (np.pi**2 * exact) - 1) < 1e-12
    s = np.linspace(res.scale * 0.9, res.scale * 1.1, 20001)
    assert np.pi**2 * mse_sums(x, s, g).min() / x.size >= res.risk_lower_bound
