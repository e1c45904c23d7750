"""Grouped cells in the 4over6 / oracle series kernel (docs/blocks.md §2f, "Grouped cells", issue 14 item 6).

Cells whose phases ``a z + b`` are exactly equal at both ends (same slope, same side, same saturation flags)
share one phasor per end: the kernel's ``E|S|`` and rates with ``group=True`` must agree with the cell-by-cell
sums (``group=False``, the previous kernel) within the two error bounds, and ``noalias`` (``L = k max|d|``,
no Chernoff search) must agree with the searched ``L`` within the bounds.  The oracle expectation with
``group`` / ``noalias`` must agree with the cell-by-cell one within the summed bounds; Monte Carlo checks of
the same values (compiled ``oracle_scales`` on sampled blocks, 3 standard errors) are in
``test_block_oracle_exact.py`` / ``test_block_oracle_rates.py`` and run with the defaults (grouped).
"""

from __future__ import annotations

import numpy as np
import pytest

from quanttheory.blocks import get_block_format
from quanttheory.blocks._expect_46 import telescoped_stats
from quanttheory.blocks._expect_46_kernels import _affine_exact
from quanttheory.blocks.expectation_oracle import block_mse_oracle
from quanttheory.laws import Laplace, Normal


def test_affine_exact():
    # dyadic values: a z + b exactly representable
    assert _affine_exact(1.0 / 64, 3.0 / 256, -1.0 / 16384) == (1.0 / 64 * 3.0 / 256 - 1.0 / 16384, True)
    assert _affine_exact(0.5, 0.25, 0.125)[1]
    # 0.1 * 3 is not exact; neither is 1e16 + 1 (the sum rounds)
    assert not _affine_exact(0.1, 3.0, 0.0)[1]
    assert not _affine_exact(1.0, 1e16, 1.0)[1]
    # product exact, sum exact with cancellation
    assert _affine_exact(2.0 ** -7, 3.0, -3.0 * 2.0 ** -7) == (0.0, True)


@pytest.mark.parametrize("law,loc,scale", [(0, 0.0, 1.0), (1, 0.0, 1.0), (1, 0.3, 0.7)])
@pytest.mark.parametrize("k", [2, 8])
def test_grouped_kernel_against_cell_by_cell(law, loc, scale, k):
    # MXINT8 pairs (X0, X0/2) at r = 1.0098 (the fine candidate's expensive ends) and (X0, 2 X0) at r = 1.99
    fmt = get_block_format("mxint8", block=k).fmt
    X0 = np.array([0.25, 1.0, 2.0, 4.0, 0.5, 1.0])
    Xj = np.array([0.125, 0.5, 1.0, 2.0, 1.0, 2.0])
    ms = X0 * np.array([1.0097656, 1.0097656, 1.0215, 1.0215, 1.9921875, 1.99])
    needs = np.ones((ms.size, 3), bool)
    kw = dict(needs=needs, eps_p=1e-9, eps_nu=1e-9)
    eps = 1e-12 * X0 ** 2
    a = telescoped_stats(law, loc, scale, fmt, ms, X0, Xj, k, eps, group=False, **kw)
    b = telescoped_stats(law, loc, scale, fmt, ms, X0, Xj, k, eps, group=True, **kw)
    c = telescoped_stats(law, loc, scale, fmt, ms, X0, Xj, k, eps, group=True, noalias=np.ones(ms.size, bool), **kw)
    for r in (b, c):
        assert np.all(np.abs(r.abs_S - a.abs_S) <= r.err_abs + a.err_abs)
        for f in ("P_pos", "nu6_le", "nu4_pos"):
            assert np.all(np.abs(getattr(r, f) - getattr(a, f)) <= r.err_p + a.err_p + r.err_nu + a.err_nu)
    # the grouped sums are not the same numbers (other summation order), but close: rounding, not a bug
    assert np.all(np.abs(b.abs_S - a.abs_S) <= 1e-12 * np.abs(a.abs_S))
    assert np.array_equal(a.harmonics, b.harmonics)


def test_ungrouped_is_the_previous_kernel():
    # group=False must be the previous cell-by-cell kernel: NVFP4 / E2M1 pairs (no groups there) give the
    # same harmonics and values with either flag (no two cells with exactly equal phase data)
    fmt = get_block_format("nvfp4").fmt
    ms = np.array([2.5, 5.9, 11.0])
    X6 = ms / 6
    X4 = ms / 4
    a = telescoped_stats(0, 0.0, 1.0, fmt, ms, X6, X4, 16, 1e-12)
    b = telescoped_stats(0, 0.0, 1.0, fmt, ms, X6, X4, 16, 1e-12, group=True)
    assert np.array_equal(a.harmonics, b.harmonics)
    assert np.all(np.abs(a.abs_S - b.abs_S) <= a.err_abs + b.err_abs)


@pytest.mark.parametrize("law", [Normal(), Laplace(0, 1)])
@pytest.mark.parametrize("k", [2, 8])
def test_oracle_grouped_against_cell_by_cell(law, k):
    # ~0.2-0.9 s per ungrouped call
    g, Rg = block_mse_oracle(law, "mxint8", block=k, full=True)
    u, Ru = block_mse_oracle(law, "mxint8", block=k, full=True, group=False)
    assert abs(g.mse - u.mse) <= g.error_estimate + u.error_estimate
    assert abs(Rg.saturation - Ru.saturation) <= Rg.error + Ru.error
    assert g.error_estimate <= 1e-9 * g.mse and Rg.error <= 1e-9
