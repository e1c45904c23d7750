"""Pieces of the fused per-row (s, z) kernel (``quanttheory.affine._rows``) added in the session of 2026-11-29
(issue 16, speed): the four-lane row statistics, the bucket order of the exact sweep's breakpoints, the chord
bound without zone counts plus the survivors' zone count, and rows that stress them (clustered breakpoints from
duplicate values), each against an independent reference (NumPy, ``_chord_ends``, the brute force of
``test_affine_rows``)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanttheory.affine import optimal_affine_data
from test_affine_rows import XS, _tables, brute  # noqa: E402


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=37),
       st.sampled_from([np.float32, np.float64]))
def test_stats_match_numpy(xs, dtype):
    """min and max exactly (comparisons), sum of squares to 1e-13 relative (float64 sums of n <= 37 terms:
    rounding <= n eps of the sum of the non-negative terms)."""
    from quanttheory.affine import _rows as RK

    x = np.array(xs, dtype=dtype)
    lo, hi, tot = RK._stats(x)
    v = x.astype(np.float64)
    assert lo == v.min() and hi == v.max()
    assert tot == pytest.approx(float(np.sum(v * v)), rel=1e-13, abs=0.0)


def test_stats_nan_and_inf_make_the_sum_non_finite():
    from quanttheory.affine import _rows as RK

    for bad in (np.nan, np.inf, -np.inf):
        for pos in (0, 3, 6):  # a lane position and the tail (n = 7: lanes 0..3, tail 4..6)
            x = np.arange(7, dtype=np.float64)
            x[pos] = bad
            assert not np.isfinite(RK._stats(x)[2])


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.integers(0, 2**31 - 1), st.sampled_from(["uniform", "clustered", "equal", "outside"]))
def test_bucket_order_sorts(m, seed, kind):
    """``_bucket_order`` returns a permutation that sorts the keys (checked against the definition: a permutation,
    non-decreasing), for spread keys, keys clustered on a few values (the ``np.argsort`` fallback), all-equal keys
    and keys outside ``[lo, hi]``."""
    from quanttheory.affine import _rows as RK

    rng = np.random.default_rng(seed)
    lo, hi = 2.0, 3.0
    if kind == "uniform":
        key = rng.uniform(lo, hi, m)
    elif kind == "clustered":
        key = lo + rng.integers(0, 4, m) / 3.0
    elif kind == "equal":
        key = np.full(m, 2.5)
    else:
        key = rng.uniform(lo - 1.0, hi + 1.0, m)
    order = np.full(m + 1, -1, dtype=np.int64)
    tmp = np.zeros(m + 1, dtype=np.int64)
    bcnt = np.zeros(m + 2, dtype=np.int64)
    RK._bucket_order(key, m, lo, hi, order, tmp, bcnt)
    assert np.array_equal(np.sort(order[:m]), np.arange(m))
    assert np.all(np.diff(key[order[:m]]) >= 0.0)


@given(XS, st.integers(1, 5), st.integers(1, 16), st.floats(0.05, 3.0), st.floats(0.0, 0.3), st.integers(0, 255),
       st.integers(0, 255))
def test_chord_lb_and_zone_count_equal_chord_ends(xs, bits, nb, s1, rw, za, zb):
    """``_chord_lb`` (no zone counts) gives bit for bit the bounds of ``_chord_ends`` (lower bound, value at s1,
    minimizing scale), and ``_zone_count(z)`` and the window of ``_zone_cum`` equal its zone count ``out_nz[z]``
    for every z."""
    from quanttheory.affine import _rows as RK

    x = np.array(xs)
    if np.ptp(x) == 0:
        return
    N = 2**bits - 1
    zlo, zhi = sorted((za % (N + 1), zb % (N + 1)))
    s2 = s1 * (1 + rw)
    P0, P1, _, buf, start, xmin, xmax, invw = _tables(x, nb)
    T1, T2, n = float(P1[-1]), float(np.sum(x * x)), float(x.size)
    Ue = np.zeros((2, 2 * N))
    eklo = np.array([1, 1])
    ekhi = np.array([0, 0])
    for e, s in ((0, s1), (1, s2)):
        RK._uend(s, -zhi, N - zlo - 1, P0, P1, buf, start, xmin, xmax, invw, nb, N, Ue, e, eklo, ekhi)
    ref = [np.zeros(2 * N + 2) for _ in range(3)] + [np.zeros(N + 1) for _ in range(4)]
    RK._chord_ends(Ue[0], Ue[1], P0, xmin, xmax, invw, nb, N, n, T1, T2, s1, s2, zlo, zhi, *ref)
    new = [np.zeros(2 * N + 2) for _ in range(3)] + [np.zeros(N + 1) for _ in range(4)]
    RK._chord_lb(Ue[0], Ue[1], N, n, T1, T2, s1, s2, zlo, zhi, *new)
    for a, b in zip(ref[3:6], new[3:6]):
        np.testing.assert_array_equal(a[zlo:zhi + 1], b[zlo:zhi + 1])
    cnz = np.zeros(2 * N + 2)
    RK._zone_cum(P0, xmin, xmax, invw, nb, N, s1, s2, zlo, zhi, cnz)
    for z in range(zlo, zhi + 1):
        assert RK._zone_count(P0, xmin, xmax, invw, nb, N, s1, s2, z) == ref[6][z]
        assert cnz[2 * N - z] - cnz[N - z] == ref[6][z]


@pytest.mark.parametrize("bits", [2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_duplicate_heavy_rows_match_brute_force(bits, seed):
    """Rows of a few distinct off-lattice values repeated many times (the exact sweep's breakpoints coincide in
    large clusters: the sort's fallback path) and a lattice row with duplicates (MSE 0): the fused kernel's MSE
    equals the independent brute force to 1e-12 relative (1e-15 absolute for the MSE-0 row, where the direct
    sum of exact lattice values is 0)."""
    rng = np.random.default_rng(seed)
    vals = rng.normal(0.3, 1.0, 5)
    x = rng.choice(vals, 400)
    got = optimal_affine_data(x[None, :], bits, axis=0)
    want, _ = brute(x, bits)
    assert got.mse[0] == pytest.approx(want, rel=1e-12, abs=1e-300)
    N = 2**bits - 1
    lat = 0.25 * (rng.integers(0, N + 1, 300) - N // 3).astype(np.float64)
    lat[:2] = [0.25 * (0 - N // 3), 0.25 * (N - N // 3)]  # both ends of the code range present
    got = optimal_affine_data(lat[None, :], bits, axis=0)
    assert got.mse[0] <= 1e-15
