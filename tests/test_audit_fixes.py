"""Regression tests for discrepancies found by the independent audit (benchmarks/audit_independent.py).
Each expected value is derived independently (mpmath), not copied from the package."""

from __future__ import annotations

import mpmath as mp
import pytest

from quanttheory import Laplace, Normal
from quanttheory.blocks import get_block_format
from quanttheory.blocks.expectation import default_tensor_scale


@pytest.mark.parametrize("law", ["normal", "laplace"])
def test_default_tensor_scale_is_the_median_max_to_full_precision(law):
    # S = a / (448 * 6), a the median of the max of n = 2^24 iid |xi|: P(|xi| > a) = 1 - 2^(-1/n)
    # = 4.13e-8.  Computed as 1 - 0.5 ** (1/n) in float64 this loses 7.4 digits to cancellation
    # (a off by 2.5e-11 relative); -expm1(-ln 2 / n) keeps it exact to an ulp.
    n = 2**24
    with mp.workdps(50):
        q = 1 - mp.power(2, -mp.mpf(1) / n)
        if law == "normal":
            a = mp.sqrt(2) * mp.erfinv(1 - q)  # P(|xi| > a) = erfc(a / sqrt 2); 50 digits absorb 1 - q
            d = Normal(0.0, 1.0)
        else:
            a = -mp.log(q)  # P(|xi| > a) = e^-a for Laplace(0, 1)
            d = Laplace(0.0, 1.0)
        ref = a / (448 * 6)
    got = default_tensor_scale(d, get_block_format("nvfp4"))
    assert abs(got - float(ref)) <= 1e-13 * float(ref)
