"""The saturation rate of the absmax rules must include the blocks with a small block absmax.

``block_mse`` truncates the block absmax M to [m_lo, m_hi] (``expectation._range``).  The blocks
below m_lo carry a negligible *error* (<= (2 M)^2 each), which is all the first version sized m_lo
for, but not a negligible *saturation*: at k = 1 with the OCP floor rule an element saturates
whenever |x| / 2^floor(log2 |x|) > 1.5 (MXFP4: X = 2^(floor(log2 M) - 2), levels up to 6 = 1.5 * 4),
i.e. on ~40 % of every binade, however small.  The rate came out low by up to P(M < m_lo)
(3e-6 for N(0,1), depending on ``tol``; found by the independent review of 2026-11-30 evening,
docs/audit.md finding 9).  References derived by hand from the CDF.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from quanttheory import Laplace, Normal
from quanttheory.blocks import block_mse

E = np.arange(-1100.0, 40.0)  # every binade 2^e <= |x| < 2^(e+1) with non-negligible mass


def _floor_k1_rate(sf):
    """P(|x| in (1.5 2^e, 2^(e+1)) for some e) for a symmetric law with survival function sf
    (of |x|: P(|x| > t) = 2 sf(t))."""
    return float(2 * np.sum(sf(1.5 * 2.0 ** E) - sf(2.0 ** (E + 1))))


@pytest.mark.parametrize("law, sf", [(Normal(), stats.norm.sf), (Laplace(), stats.laplace.sf)], ids=["normal", "laplace"])
def test_floor_k1_saturation_rate_closed_form(law, sf):
    ref = _floor_k1_rate(sf)
    got = [block_mse(law, "mxfp4", "floor", block=1, tol=tol).saturation_rate for tol in (1e-8, 1e-11, 1e-13)]
    # tolerance: the truncation P(M < m_lo) <= 1e-3 tol plus the rounding of the sums (~1e-15);
    # before the fix the rate was 3e-6 (N) / 3.8e-6 (Laplace) low at the default tol
    for tol, g in zip((1e-8, 1e-11, 1e-13), got):
        assert abs(g - ref) <= 1e-3 * tol + 1e-14, (tol, g, ref)


def test_nvfp4_floor_k1_every_element_saturates_unless_the_scale_underflows():
    """Floor scale X <= |x| / 6 (the largest E4M3 code times S below it): |x| > 6 X, so the element is
    clipped, unless X underflows to 0 (M below the smallest code times 6 S).  Hence
    saturation_rate + scale_underflow_rate = 1 (k = 1: one element per block)."""
    r = block_mse(Normal(), "nvfp4", "floor", block=1, tensor_scale=1e-4)
    assert r.scale_underflow_rate > 1e-7  # the identity is not trivially 1 + 0
    assert abs(r.saturation_rate + r.scale_underflow_rate - 1.0) <= 1e-13
