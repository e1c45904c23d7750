"""The (count, sum) histogram pass of the data optimum (issue 20, fourth round).

The fused pass (:meth:`quanttheory.risk.data_search._Hist.fused`, kernel
:func:`quanttheory.risk._kernels.data_hist.hist_cs`) keeps only the count and the sum of ``|x|``
per bin and bounds each bin's sum of squares by ``S**2 / c`` (below) and ``(lo + hi) S - c lo hi``
(above), and the extrema by bin edges.  References:

* the optimum through the fused path (``FUSED_MIN = 1``, ``DIRECT_ONE_FACTOR = 0``: every array
  through the histogram search) against the independent brute force over every piece of the
  piecewise quadratic (:func:`test_data_exact.brute_all`) on small adversarial inputs whose
  answers are derived by hand where stated.  Tolerance: the optimizer's own certificate
  ``risk - risk_lower_bound`` plus 1e-12 relative (the reference's float64 sums of <= 600
  squares);
* the per-bin bounds against the exact per-bin sums of squares (``np.add.at`` on float64
  copies) -- they must bracket them, and their gap must respect the hand bound
  ``c w**2 / 4`` for ``c`` values in a bin of width ``w``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import quanttheory.risk.data as D
from quanttheory import Grid
from quanttheory.risk.data import mse_sums, optimal_scale_data
from quanttheory.risk.data_search import _bin_edges, _Hist

from test_data_exact import PI2, brute_all


def _fused_optimum(monkeypatch, x, g):
    monkeypatch.setattr(D, "FUSED_MIN", 1)
    monkeypatch.setattr(D, "DIRECT_ONE_FACTOR", 0)
    return optimal_scale_data(x, g)


def _check(monkeypatch, x, g):
    r = _fused_optimum(monkeypatch, x, g)
    ref = brute_all(x, g)
    if ref is None:
        assert r.extra["degenerate"]
        return r, ref
    assert r.extra["fused_scan"]
    mse = r.extra["mse"]
    gap = (r.risk - r.risk_lower_bound) / PI2
    assert 0 <= r.risk_lower_bound <= r.risk
    assert mse <= ref[0] * (1 + 1e-12) + gap + 1e-300
    assert r.risk_lower_bound / PI2 <= ref[0] * (1 + 1e-12) + 1e-300
    exact = float(mse_sums(np.asarray(x), np.array([r.scale]), g)[0]) / np.asarray(x).size
    assert abs(r.risk - PI2 * exact) <= 1e-13 * r.risk + 1e-300
    return r, ref


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("kind", ["normal", "one_signed", "duplicates", "huge", "tiny"])
def test_fused_path_equals_brute_force(monkeypatch, dt, bits, kind):
    rng = np.random.default_rng(hash((bits, kind)) % 2**32)
    n = 150
    x = rng.standard_normal(n)
    if kind == "one_signed":
        x = -np.abs(x)  # only the negative side: top 2**(b-1)
    elif kind == "duplicates":
        x = np.repeat(rng.standard_normal(15), 10)  # ties: ten copies of each value
    elif kind == "huge":
        x = x * (1e150 if dt == np.float64 else 1e36)
    elif kind == "tiny":
        x = x * (1e-140 if dt == np.float64 else 1e-39)  # above the 2**-490 limit; float32: subnormals
    x = x.astype(dt)
    r, ref = _check(monkeypatch, x, Grid(bits))
    assert r.extra["mse"] <= ref[0] * (1 + 1e-12)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_fused_path_lattice_reaches_zero(monkeypatch, dt):
    # hand derivation: x = 0.375 i, i = -8..7 (exact in float32 and float64), Grid(4) (levels -8..7):
    # at s = 0.375 every point is a grid point, MSE = 0.  MSE(s) = 0 needs x/s integer for x = 0.375
    # and |x/s| <= 8 for x = -3: s = 0.375 / k with k = 1 only (k = 2 puts -3 at -16, clipped).
    x = (0.375 * np.arange(-8, 8)).astype(dt)
    x = np.tile(x, 5)
    r = _fused_optimum(monkeypatch, x, Grid(4))
    assert r.extra["fused_scan"]
    assert r.extra["mse"] == 0.0
    assert r.scale == 0.375
    assert r.risk_lower_bound == 0.0


def test_fused_path_subnormals_float32(monkeypatch):
    # float32 subnormals (all below the smallest normal, 2**-126): they land in bin 0 of the
    # histogram (the bracket's lower end is then the floor), the optimum must still be exact
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(200) * 2.0**-140).astype(np.float32)
    assert np.all(np.abs(x) < np.finfo(np.float32).tiny)
    _check(monkeypatch, x, Grid(3))
    # mixed: normal values with a few subnormals and zeros
    y = rng.standard_normal(200).astype(np.float32)
    y[:10] = np.float32(2.0**-145)
    y[10:20] = 0.0
    _check(monkeypatch, y, Grid(4))


def test_fused_path_zero_and_degenerate(monkeypatch):
    # all zeros: MSE is 0 at every scale (degenerate); an unsigned grid with only negative data:
    # every value maps to 0 whatever the scale (degenerate as well)
    r = _fused_optimum(monkeypatch, np.zeros(100), Grid(4))
    assert r.extra["degenerate"] and r.extra["mse"] == 0.0
    x = -np.abs(np.random.default_rng(2).standard_normal(100))
    r = _fused_optimum(monkeypatch, x, Grid(4, signed=False))
    assert r.extra["degenerate"]
    assert r.extra["mse"] == pytest.approx(float(np.mean(x * x)), rel=1e-14)


def test_fused_path_tiny_data_still_rejected(monkeypatch):
    # the fused extrema are bin edges (outward); data just below the 2**-490 limit must still raise
    x = np.full(100, 2.0**-490 * (1 - 2.0**-40))
    monkeypatch.setattr(D, "FUSED_MIN", 1)
    monkeypatch.setattr(D, "DIRECT_ONE_FACTOR", 0)
    with pytest.raises(ValueError, match="below"):
        optimal_scale_data(x, Grid(4))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_bin_sumsq_bounds_bracket_exact_sums(dt):
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.standard_normal(100_000), rng.standard_t(2, 20_000) * 30,
                        np.repeat(rng.standard_normal(50), 200)]).astype(dt)
    h, st = _Hist.fused(x, 6)
    lo, hi = _bin_edges(h.e_lo, h.m, h.nb)
    v = np.abs(x.astype(np.float64))
    j = np.searchsorted(hi, v, side="right")  # bin of each value from the edges (independent)
    side = np.signbit(x).astype(int)
    c = np.zeros((2, h.nb))
    q = np.zeros((2, h.nb))
    np.add.at(c, (side, j), 1.0)
    np.add.at(q, (side, j), v * v)
    a, u = h.h.reshape(2, h.nb, 3), h.hu.reshape(2, h.nb, 3)
    np.testing.assert_array_equal(a[:, :, 0], c)
    assert np.all(a[:, :, 2] <= q * (1 + 1e-12)) and np.all(q <= u[:, :, 2] * (1 + 1e-12))
    # gap <= c w^2 / 4 (+ rounding): (v - lo)(hi - v) <= w^2 / 4 per value
    w = hi - lo
    assert np.all(u[:, :, 2] - a[:, :, 2] <= c * w * w / 4 + 1e-9 * q + 1e-300)
    # extrema: outward, within one bin
    ref = D.scan(x)
    assert ref.max_pos <= st.max_pos <= ref.max_pos * (1 + 2.0 ** (1 - h.m))
    for got, mn in ((st.min_pos, ref.min_pos), (st.min_neg, ref.min_neg)):
        if mn < 2.0 ** (h.e_lo - 1):  # in bin 0 (with zeros and the merged octaves): lower bound 0
            assert got == 0.0
        else:
            assert mn * (1 - 2.0 ** (1 - h.m)) <= got <= mn
    assert st.n == ref.n and st.n_pos + st.n_neg == ref.n
    assert ref.sum_sq * (1 - 1e-12) <= st.sum_sq <= ref.sum_sq * (1 + 2.0 ** (-2 * h.m))
    assert math.isclose(st.sum, ref.sum, rel_tol=1e-9)


def test_finish_kernel_matches_numpy_bounds_and_prefix_sums():
    # the one-loop kernel (finish_cs) against the NumPy formulas (_sumsq_bounds) and the library's
    # prefix-sum kernel on the same bins: the same operations in the same order, so bit-identical
    from quanttheory.risk._kernels import data as K
    from quanttheory.risk.data_search import _sumsq_bounds

    x = np.random.default_rng(4).standard_t(4, 200_000)
    h, _ = _Hist.fused(x, 4)
    a, u = h.h.reshape(2, h.nb, 3), h.hu.reshape(2, h.nb, 3)
    ql, qu = _sumsq_bounds(a[:, :, 0], a[:, :, 1], h.e_lo, h.m, h.nb)
    np.testing.assert_array_equal(a[:, :, 2], ql)
    np.testing.assert_array_equal(u[:, :, 2], qu)
    for hx, P0, P1 in ((h.h, h.P0, h.P1), (h.hu, h.P0u, h.P1u)):
        Q0, Q1 = np.empty_like(P0), np.empty_like(P1)
        K.prefix_sums(hx, h.nb, 0, Q0)
        K.prefix_sums(hx, h.nb, 1, Q1)
        np.testing.assert_array_equal(Q0, P0)
        np.testing.assert_array_equal(Q1, P1)
