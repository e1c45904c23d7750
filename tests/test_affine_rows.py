"""The fused per-row (s, z) kernel (``quanttheory.affine._rows``): the pieces added for speed (cached box ends,
the O(1) clipping / inner-value bound, the Lloyd + Aitken incumbent, the four-lane direct sum) and adversarial
rows whose optimum is derived by hand or by an independent brute force written here."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanttheory.affine import affine_fake_quantize, optimal_affine_data


def brute(x, bits):
    """Independent exact optimum of sum (x - s clip(rint(x/s), -z, N-z))^2 over s > 0 and z in 0..N: for every z
    the codes change only at the breakpoints |x_i| / (k + 1/2); on each piece between consecutive breakpoints the
    assignment is the one at the piece's midpoint, the sum is a quadratic in s minimized in closed form (clamped to
    the piece) and evaluated directly there.  Returns (MSE, list of (z, MSE_z)) with the MSE per zero-point."""
    x = np.asarray(x, dtype=np.float64)
    N = 2**bits - 1
    amax = float(np.abs(x).max())
    per_z = []
    for z in range(N + 1):
        T = np.where(x >= 0, N - z, z)
        parts = [np.abs(v) / (np.arange(t) + 0.5) for v, t in zip(x, T) if t > 0]
        bps = np.concatenate(parts + [np.array([amax * 1e-9, 4 * amax + 1.0])])
        bps = np.unique(bps[bps > 0])
        a, b = bps[:-1], bps[1:]
        m = 0.5 * (a + b)
        k = np.clip(np.rint(x[None, :] / m[:, None]), -z, N - z)
        kk = (k * k).sum(axis=1)
        s = np.where(kk == 0, m, np.clip((x[None, :] * k).sum(axis=1) / np.where(kk == 0, 1.0, kk), a, b))
        val = np.mean((x[None, :] - s[:, None] * np.clip(np.rint(x[None, :] / s[:, None]), -z, N - z)) ** 2, axis=1)
        per_z.append((z, float(val.min())))
    return min(v for _, v in per_z), per_z


def _mse_at(x, s, z, bits):
    x = np.asarray(x, dtype=np.float64)
    return float(np.mean((x - affine_fake_quantize(x, s, z, bits)) ** 2))


def _tables(x, nb):
    """The kernel's per-row tables rebuilt in NumPy (bin index floor((v - min) nb / range) clamped, prefix
    sums of count / sum / sum of squares, values sorted by bin)."""
    x = np.asarray(x, dtype=np.float64)
    xmin, xmax = float(x.min()), float(x.max())
    invw = nb / (xmax - xmin)
    idx = np.minimum(np.maximum((x - xmin) * invw, 0.0), nb - 1.0).astype(np.int64)
    order = np.argsort(idx, kind="stable")
    cnt = np.bincount(idx, minlength=nb)
    start = np.concatenate([[0], np.cumsum(cnt)]).astype(np.int64)
    P1 = np.concatenate([[0.0], np.cumsum(np.bincount(idx, x, nb))])
    P2 = np.concatenate([[0.0], np.cumsum(np.bincount(idx, x * x, nb))])
    return start.astype(np.float64), P1, P2, x[order].copy(), start, xmin, xmax, invw


def _true_sum(x, s, z, N):
    return float(np.sum((x - s * np.clip(np.rint(x / s), -z, N - z)) ** 2))


XS = st.lists(st.floats(-10, 10, allow_nan=False), min_size=3, max_size=40)


@given(XS, st.integers(1, 5), st.integers(1, 16), st.floats(0.05, 3.0), st.floats(0.0, 0.5))
def test_clip_inner_is_a_lower_bound(xs, bits, nb, s1, rw):
    """``_clip_inner(s1, s2, z)`` <= the MSE sum at every s in [s1, s2] (dense grid of s plus both ends), for
    every z; reference: the quantizer's formula summed directly.  Tolerance 1e-12 of the terms' magnitude (the
    bound is a difference of prefix sums)."""
    from quanttheory.affine import _rows as RK

    x = np.array(xs)
    if np.ptp(x) == 0:
        return
    N = 2**bits - 1
    s2 = s1 * (1 + rw)
    P0, P1, P2, _, _, xmin, xmax, invw = _tables(x, nb)
    grid = np.linspace(s1, s2, 33)
    for z in range(N + 1):
        q, mag = RK._clip_inner(P0, P1, P2, xmin, xmax, invw, nb, N, s1, s2, z)
        assert q >= -1e-12 * (mag + 1)
        true_min = min(_true_sum(x, s, z, N) for s in grid)
        assert q <= true_min + 1e-12 * (mag + float(np.sum(x * x)))


def test_clip_inner_hand_derived():
    """x = {-3, -0.1, 0.2, 5}, N = 3 (2 bits), z = 1, box [1, 1.25]: levels {-1, 0, 1, 2} s, so every level lies in
    [-1.25, 2.5]: 5 is clipped by at least (5 - 2.5)^2 = 6.25 and -3 by (-3 + 1.25)^2 = 3.0625; |x| < 1/2 for
    -0.1 and 0.2 (code 0 at every s >= 1): 0.01 + 0.04.  Total 9.3625 when each value has its own bin."""
    from quanttheory.affine import _rows as RK

    x = np.array([-3.0, -0.1, 0.2, 5.0])
    nb = 80  # bins of width 0.1: -0.1 and 0.2 are strictly inside (-1/2, 1/2) with a bin on each side
    P0, P1, P2, _, _, xmin, xmax, invw = _tables(x, nb)
    q, _ = RK._clip_inner(P0, P1, P2, xmin, xmax, invw, nb, 3, 1.0, 1.25, 1)
    assert q == pytest.approx(6.25 + 3.0625 + 0.01 + 0.04, rel=1e-12)
    # z = 0: levels {0..3} s: the negative values cost at least x^2 (9 + 0.01), 5 costs (5 - 3.75)^2, and only the
    # positive inner value 0.2 is added (the negative one is already counted as clipped)
    q0, _ = RK._clip_inner(P0, P1, P2, xmin, xmax, invw, nb, 3, 1.0, 1.25, 0)
    assert q0 == pytest.approx(9.0 + 0.01 + 1.25**2 + 0.04, rel=1e-12)
    assert q0 <= min(_true_sum(x, s, 0, 3) for s in np.linspace(1.0, 1.25, 101))


@given(XS, st.integers(1, 5), st.integers(1, 16), st.floats(0.05, 3.0), st.floats(0.0, 0.3), st.integers(0, 255),
       st.integers(0, 255))
def test_cached_ends_give_the_chord_bound(xs, bits, nb, s1, rw, za, zb):
    """``_chord_ends`` on the values cached by ``_uend`` (filled in two pieces, as the branch and bound does when a
    child needs more thresholds than an end holds) returns bit for bit what ``_chord`` computes directly."""
    from quanttheory.affine import _rows as RK

    x = np.array(xs)
    if np.ptp(x) == 0:
        return
    N = 2**bits - 1
    zlo, zhi = sorted((za % (N + 1), zb % (N + 1)))
    s2 = s1 * (1 + rw)
    P0, P1, _, buf, start, xmin, xmax, invw = _tables(x, nb)
    T1, T2, n = float(P1[-1]), float(np.sum(x * x)), float(x.size)
    ref = [np.zeros(2 * N + 2) for _ in range(3)] + [np.zeros(N + 1) for _ in range(4)]
    RK._chord(P0, P1, buf, start, xmin, xmax, invw, nb, N, n, T1, T2, s1, s2, zlo, zhi, *ref)
    Ue = np.full((2, 2 * N), np.nan)
    eklo = np.array([1, 1])
    ekhi = np.array([0, 0])
    klo, khi = -zhi, N - zlo - 1
    mid = (klo + khi) // 2
    for e, s in ((0, s1), (1, s2)):  # first a middle piece, then the whole range: the gap is filled
        RK._uend(s, mid, khi, P0, P1, buf, start, xmin, xmax, invw, nb, N, Ue, e, eklo, ekhi)
        RK._uend(s, klo, khi, P0, P1, buf, start, xmin, xmax, invw, nb, N, Ue, e, eklo, ekhi)
        assert eklo[e] == klo and ekhi[e] == khi
        assert not np.any(np.isnan(Ue[e, klo + N:khi + N + 1]))
    new = [np.zeros(2 * N + 2) for _ in range(3)] + [np.zeros(N + 1) for _ in range(4)]
    RK._chord_ends(Ue[0], Ue[1], P0, xmin, xmax, invw, nb, N, n, T1, T2, s1, s2, zlo, zhi, *new)
    for a, b in zip(ref[3:], new[3:]):
        np.testing.assert_array_equal(a[zlo:zhi + 1], b[zlo:zhi + 1])


@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=23), st.floats(0.01, 5.0),
       st.integers(1, 8), st.sampled_from([np.float32, np.float64]))
def test_direct_lanes_is_the_direct_sum(xs, s, bits, dtype):
    """The four-lane sum of squared errors equals the plain loop (and NumPy's formula) up to the summation order:
    1e-13 relative of the sum of the terms, which are all >= 0."""
    from quanttheory.affine import _rows as RK

    x = np.array(xs, dtype=dtype)
    N = 2**bits - 1
    for z in (0, N // 2, N):
        ref = _true_sum(x.astype(np.float64), s, z, N)
        assert RK._direct_lanes(x, s, z, N) == pytest.approx(ref, rel=1e-13, abs=1e-300)
        assert RK._direct_lanes(x, s, z, N) == pytest.approx(RK._direct(x, s, z, N), rel=1e-13, abs=1e-300)


def test_lloyd_returns_attained_values():
    """The incumbent's value is attained: at the returned scale the nearest-level MSE sum is <= the value (the
    value is an assignment's sum at that scale), so it is a valid upper bound of the optimum."""
    from quanttheory.affine import _rows as RK

    rng = np.random.default_rng(5)
    for bits in (2, 4, 6):
        N = 2**bits - 1
        x = rng.normal(size=500) * 0.3 + rng.uniform(-0.2, 0.2)
        nb = 125
        P0, P1, P2, _, _, xmin, xmax, invw = _tables(x, nb)
        for z in (0, N // 3, N // 2, N):
            f, s, mag = RK._lloyd(P0, P1, P2, xmin, invw, nb, z, N, float(np.ptp(x)) / N, 4)
            assert s > 0 and mag >= f - 1e-12
            assert _true_sum(x, s, z, N) <= f * (1 + 1e-12) + 1e-15


def _check(X, bits, expect_mse=None, expect_z=None):
    """Kernel (fused path, all rows in one call) against the brute force of this file, row by row."""
    r = optimal_affine_data(X, bits, axis=0)
    assert "fused" in r.method and r.extra["reference_rows"] == []
    X64 = np.asarray(X, dtype=np.float64)
    for i in range(X64.shape[0]):
        F, per_z = brute(X64[i], bits)
        m2 = float(np.mean(X64[i] ** 2))
        assert r.mse[i] == pytest.approx(F, rel=1e-10, abs=1e-13 * m2)
        # the returned (s, z) reproduce the MSE, and z is optimal (a tie is allowed: its own optimum equals F)
        assert _mse_at(X64[i], r.scale[i], int(r.zero_point[i]), bits) == pytest.approx(r.mse[i], rel=1e-12,
                                                                                      abs=1e-13 * m2)
        assert dict(per_z)[int(r.zero_point[i])] == pytest.approx(F, rel=1e-10, abs=1e-13 * m2)
        assert r.mse_lower_bound[i] <= r.mse[i]
        if expect_mse is not None and expect_mse[i] is not None:
            assert r.mse[i] == pytest.approx(expect_mse[i], rel=1e-12, abs=1e-30)
        if expect_z is not None and expect_z[i] is not None:
            assert int(r.zero_point[i]) in expect_z[i]
    return r


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adversarial_rows_hand_derived(dtype):
    """Rows whose optimum is derived by hand (2 bits, N = 3, levels s (k - z), k = 0..3):
    * all negative {-1, -2, -3, -3}: the mirror of {1, 2, 3, 3} with z = N = 3 (levels {-3, -2, -1, 0} s, s = 1):
      MSE 0, z = 3 only (any z < 3 has at most z < 3 negative levels for three distinct negative values);
    * one negative outlier [0]*7 + [-2.5]: a level on 0 and one on -2.5 give MSE 0: s = 2.5 / j with j = 1..z
      levels below 0, so z = 1, 2, 3 all attain 0 (a tie) and z = 0 (no negative level) cannot (MSE 2.5^2 / 8);
    * two values {-1, 2} (four times each): z = 1, s = 1 (levels -1, 0, 1, 2): MSE 0; z = 2 (levels -2..1) or
      any other z cannot hold both (ratio -1/2 needs k - z = -1 and 2), so z = 1 is the unique optimum."""
    X = np.array([[-1.0, -2.0, -3.0, -3.0, -1.0, -2.0, -3.0, -3.0],
                  [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -2.5],
                  [-1.0, 2.0, -1.0, 2.0, -1.0, 2.0, -1.0, 2.0]], dtype=dtype)
    r = _check(X, 2, expect_mse=[0.0, 0.0, 0.0], expect_z=[{3}, {1, 2, 3}, {1}])
    assert r.scale[0] == pytest.approx(1.0, rel=1e-12) and r.scale[2] == pytest.approx(1.0, rel=1e-12)
    j = int(r.zero_point[1])  # -2.5 sits on a level -k s with 1 <= k <= z
    assert any(r.scale[1] == pytest.approx(2.5 / k, rel=1e-12) for k in range(1, j + 1))


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_mirror_tie_between_zero_points(bits):
    """Data symmetric about 0 (x and -x both present, not on any common lattice): substituting x -> -x maps the
    grid of z onto the grid of N - z and rint(-v) = -rint(v), so MSE(s, z) = MSE(s, N - z) exactly.  The kernel
    must return the brute-force MSE with a zero-point whose optimum equals it; its mirror N - z has the same MSE
    at the same scale (checked directly)."""
    base = np.array([0.3, 1.0, 1.7, 2.9, 4.4, 0.05])
    x = np.concatenate([base, -base])[None, :]
    r = _check(x, bits)
    N = 2**bits - 1
    z = int(r.zero_point[0])
    assert _mse_at(x[0], r.scale[0], N - z, bits) == pytest.approx(r.mse[0], rel=1e-12)


def test_constant_rows_negative_and_zero():
    """A constant row has MSE 0 for a continuum of (s, z): error by default; with allow_constant the degenerate
    row is flagged (negative constant c: s = -c / N, z = N puts the lowest level on it; all-zero: MSE 0)."""
    X = np.array([[-0.75] * 6, [0.0] * 6, [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match="constant"):
        optimal_affine_data(X, 3, axis=0)
    r = optimal_affine_data(X, 3, axis=0, allow_constant=True)
    assert r.extra["degenerate"].tolist() == [True, True, False]
    assert r.mse[0] == 0.0 and r.mse[1] == 0.0 and int(r.zero_point[0]) == 7
    assert r.scale[0] == pytest.approx(0.75 / 7, rel=1e-15)
    assert r.mse[2] <= 1e-30   # {1, 2, 3}: e.g. z = 0, s = 1 (also z <= 4 with s = 1: a tie at MSE 0)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31), st.integers(2, 5), st.sampled_from(["normal", "heavy", "onesided", "negative",
                                                                    "lattice"]))
def test_random_rows_match_brute_force(seed, bits, kind):
    """Rows of 24 values of several shapes (normal with an offset, Student-t heavy tails, one-sided ReLU-like with
    exact zeros, all negative, lattice values with ties) against the brute force."""
    rng = np.random.default_rng(seed)
    n = 24
    if kind == "normal":
        x = rng.normal(size=n) + rng.normal()
    elif kind == "heavy":
        x = rng.standard_t(2, size=n)
    elif kind == "onesided":
        x = np.maximum(rng.normal(size=n), 0.0)
    elif kind == "negative":
        x = -np.abs(rng.normal(size=n)) - rng.uniform(0, 1)
    else:
        x = np.round(rng.normal(size=n) * 2) / 2
    if np.ptp(x) == 0 or np.all(np.abs(x) < 1e-6):
        return
    _check(np.vstack([x, x[::-1] * 0.5]).astype(np.float64), bits)


@pytest.mark.slow
def test_benchmark_like_rows_match_reference_path():
    """Rows of 4096 values shaped like the benchmark (normal with an offset, Student-t heavy tails, one-sided,
    all negative) at 2 and 4 bits against the reference path (exact 1-D engine per surviving zero-point)."""
    rng = np.random.default_rng(21)
    X = np.concatenate([rng.normal(size=(2, 4096)) * 0.02 + rng.uniform(-0.01, 0.01, size=(2, 1)),
                        rng.standard_t(3, size=(1, 4096)) * 0.02,
                        np.maximum(rng.normal(size=(1, 4096)), 0.0),
                        -np.abs(rng.normal(size=(1, 4096))) - 0.1]).astype(np.float32)
    for bits in (2, 4):
        fast = optimal_affine_data(X, bits, axis=0)
        ref = optimal_affine_data(X, bits, axis=0, fast=False)
        assert fast.extra["reference_rows"] == []
        np.testing.assert_allclose(fast.mse, ref.mse, rtol=1e-10)
        for i in range(X.shape[0]):
            if fast.zero_point[i] != ref.zero_point[i]:  # a tie: the other zero-point's MSE at its scale
                alt = _mse_at(X[i], ref.scale[i], int(fast.zero_point[i]), bits)
                assert math.isclose(fast.mse[i], ref.mse[i], rel_tol=1e-10) or alt <= ref.mse[i] * (1 + 1e-10)


def test_free_range_hand_derived():
    """_free_range(xmin, xmax, s1, N): the zero-points that clip no value for any s >= s1.  xmin = -1, xmax = 2,
    s1 = 0.5, N = 15: x / s1 spans [-2, 4], so rint(x/s) <= N - z needs 4 < 15 - z + 1/2, z <= 11, and
    rint(x/s) >= -z needs -2 > -z - 1/2, z >= 2 (z = 1 clips -1 to -0.5 at s = 0.5).  A value exactly half-way
    (xmax / s1 = 4.5: rint(4.5) = 4 is not clipped at z = 11) is excluded by the safety margin (z <= 10).  A range
    wider than N s1 has no free zero-point; one-signed data constrain one side only."""
    from quanttheory.affine._rows import _free_range

    assert _free_range(-1.0, 2.0, 0.5, 15) == (2, 11)
    assert _free_range(-1.0, 2.25, 0.5, 15) == (2, 10)
    lo, hi = _free_range(-4.0, 4.0, 0.5, 15)  # 16 steps of 0.5 > 15 codes
    assert lo > hi
    assert _free_range(0.5, 2.0, 0.5, 15) == (0, 11)
    assert _free_range(-2.0, -0.5, 0.5, 15) == (4, 15)
    # the defining property, checked directly on the codes at s1 and at larger scales
    for s in (0.5, 0.7, 3.0):
        x = np.array([-1.0, 2.0])
        for z in range(2, 12):
            assert np.array_equal(np.clip(np.rint(x / s), -z, 15 - z), np.rint(x / s))


@pytest.mark.parametrize("bits", [6, 7])
def test_unclipped_zero_point_ties_match_brute_force(bits):
    """At 6-7 bits a short row fits unclipped for a whole range of z at the optimal scale (all those z have the
    same MSE, and the kernel keeps one of them per box): the MSE must still be the brute-force optimum and the
    returned z must attain it."""
    rng = np.random.default_rng(7 + bits)
    x = np.vstack([rng.normal(size=12) + 0.3, rng.laplace(size=12)])
    _check(x, bits)
