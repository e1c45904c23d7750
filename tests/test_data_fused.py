"""The fused validation + histogram pass of the data optimum (issue 20).

:meth:`quanttheory.risk.data_search._Hist.fused` builds the |x| histogram and the
:class:`DataStats` in one data pass.  References: the separate validation scan
(:func:`quanttheory.risk.data.scan`, exact extrema, blocked sums) and the two-pass histogram
(``_Hist(arr, scan(arr), bits)``), whose counts and sums must be bit-identical (same bins, same
order of additions); the fused pass keeps no sums of squares, its per-bin lower and upper bounds
(``S**2/c`` and ``(lo + hi) S - c lo hi``) must bracket the two-pass sums; the optimum itself
against the direct enumeration of every breakpoint (``exact_rows``, an independent algorithm).
``sum_sq`` of the fused statistics is the sum of the upper bounds: above the exact sum by at most
``w**2/4`` per value in a bin of width ``w <= v 2**-m``, so within ``2**-2m / 4`` relative (plus
1e-12 for the rounding of sums of <= 1e5 terms).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import quanttheory.risk.data as D
from quanttheory import Grid
from quanttheory.risk.data_search import _Hist


def _cases(dt):
    rng = np.random.default_rng(3)
    n = 70_000
    yield rng.standard_normal(n).astype(dt)
    # the first 65536 values are small: later blocks widen the histogram by whole octaves
    x = rng.standard_normal(n) * 1e-3
    x[66_000] = 37.0
    x[69_000] = -2.5e3
    yield x.astype(dt)
    x = np.abs(rng.standard_t(3, n)) + 1.0  # one side only
    x[:10] = 0.0
    yield x.astype(dt)
    x = -np.abs(rng.standard_normal(n))
    x[5] = -0.0
    yield x.astype(dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("bits", [3, 9])
def test_fused_matches_scan_and_two_pass_histogram(dt, bits):
    for x in _cases(dt):
        got = _Hist.fused(x, bits)
        assert got is not None
        h, st = got
        ref = D.scan(x)
        assert st.n == ref.n and st.n_pos + st.n_neg == ref.n
        h2 = _Hist(x, ref, bits)
        if h.hu is not None:  # (count, sum) pass: extrema to a bin (outward), enough for the bracket
            w = 2.0 ** -h.m
            for got_mx, mx, got_mn, mn in ((st.max_pos, ref.max_pos, st.min_pos, ref.min_pos),
                                           (st.max_neg, ref.max_neg, st.min_neg, ref.min_neg)):
                assert mx <= got_mx <= mx * (1 + 2 * w) or got_mx == mx == 0.0
                assert got_mn <= mn and (got_mn >= mn * (1 - 2 * w) or mn < 2.0 ** (h.e_lo - 1))
        else:
            assert (st.max_pos, st.max_neg, st.min_pos, st.min_neg) == (
                ref.max_pos, ref.max_neg, ref.min_pos, ref.min_neg)
        assert ref.sum_sq * (1 - 1e-12) <= st.sum_sq <= ref.sum_sq * (1 + 2.0 ** (-2 * h.m) / 4 + 1e-12)
        # widened in place (or not): the same additions in every bin above the bottom bin,
        # which holds the merged bins (their sums added in another order)
        assert h.nb == h2.nb and h.e_lo >= h2.e_lo
        d = (h.e_lo - h2.e_lo) << h.m
        a, b = h.h.reshape(2, h.nb, 3), h2.h.reshape(2, h2.nb, 3)
        u = h.hu.reshape(2, h.nb, 3)
        np.testing.assert_array_equal(a[:, 1:h.nb - d, :2], b[:, 1 + d:, :2])
        np.testing.assert_array_equal(u[:, :, :2], a[:, :, :2])
        np.testing.assert_allclose(a[:, 0, :2], b[:, :d + 1, :2].sum(axis=1), rtol=1e-12)
        # sums of squares: lower bound <= two-pass sum <= upper bound, per bin
        bq = b[:, 1 + d:, 2]
        assert np.all(a[:, 1:h.nb - d, 2] <= bq) and np.all(bq <= u[:, 1:h.nb - d, 2])
        b0 = b[:, :d + 1, 2].sum(axis=1)
        assert np.all(a[:, 0, 2] <= b0 * (1 + 1e-12)) and np.all(b0 <= u[:, 0, 2] * (1 + 1e-12))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e200])
def test_fused_hands_bad_values_to_the_scan(dt, bad):
    x = np.random.default_rng(1).standard_normal(80_000)
    if dt == np.float32 and bad == 1e200:
        bad = np.inf
    x[70_001] = bad
    x = x.astype(dt)
    assert _Hist.fused(x, 5) is None
    msg = "too large" if bad == 1e200 else r"non-finite value .* at position 70001"
    with pytest.raises(ValueError, match=msg):
        D.optimal_scale_data(x, Grid(8))


def test_fused_declines_ranges_at_the_smallest_normal():
    # first values ~1e-306 (histogram clamped at the smallest normal number), later ones ~1:
    # not a whole-octave shift, so the fused pass declines and the separate scan runs
    x = np.random.default_rng(2).standard_normal(70_000)
    x[:65_536] *= 1e-306
    assert _Hist.fused(x, 5) is None
    r = D.optimal_scale_data(x, Grid(8))
    assert not r.extra.get("fused_scan", False)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("kind", range(4))
def test_fused_path_optimum_matches_direct_enumeration(monkeypatch, dt, kind):
    x = list(_cases(dt))[kind]
    g = Grid(4)
    monkeypatch.setattr(D, "DIRECT_ONE_FACTOR", 1 << 10)
    direct = D.optimal_scale_data(x, g)
    assert direct.method in (D.DIRECT_METHOD, D.DIRECT_WINDOW_METHOD)  # the enumeration path, not the histogram search
    monkeypatch.setattr(D, "DIRECT_ONE_FACTOR", 0)
    fast = D.optimal_scale_data(x, g)
    assert fast.extra["fused_scan"]
    tol = (direct.risk - direct.risk_lower_bound) + (fast.risk - fast.risk_lower_bound) + 1e-13 * direct.risk
    assert abs(direct.risk - fast.risk) <= tol
    assert fast.risk_lower_bound <= direct.risk * (1 + 1e-13)
    assert math.isclose(fast.scale, direct.scale, rel_tol=max(1e-9, 2 * fast.scale_error / fast.scale))


def test_public_optimal_scale_takes_the_data_engine(monkeypatch):
    # optimal_scale(array, grid) must be the data engine's answer, and must not build an Empirical
    # law first (its eager scan cost ~25 NumPy passes on 1e7 float32 values before the search).
    import quanttheory.laws as laws
    from quanttheory import optimal_scale
    from quanttheory.formats.grid import Grid
    from quanttheory.risk.data import optimal_scale_data

    x = np.random.default_rng(11).normal(size=70_000).astype(np.float32)
    want = optimal_scale_data(x, Grid(4))

    def boom(*a, **k):
        raise AssertionError("Empirical built for a raw array")

    monkeypatch.setattr(laws.Empirical, "__init__", boom)
    got = optimal_scale(x, Grid(4))
    assert got.scale == want.scale and got.risk == want.risk
