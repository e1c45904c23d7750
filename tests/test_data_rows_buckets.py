"""The bucketed window of the many-rows kernel (``_solve_buckets``: breakpoints accumulated into
s-buckets, a rigorous lower bound per bucket, exact sweep of the surviving buckets only), used at
6-8 bits by ``exact_rows`` (``exact_rows_window`` for rows of >= ROW_MIN_N values,
``exact_rows_short`` below), against the brute-force reference of tests/test_empirical.py (MSE at
every piece's vertex, an independent evaluator) and the former full enumeration
(``exact_rows_full``: every breakpoint sorted and swept), on random and adversarial rows.

Tolerance: two exact answers may differ by their stated rounding, ``(F - cert)`` of each, plus
1e-12 relative for the reference's own summation (n <= 5000 terms, ~n eps); a certificate must never
exceed the other method's achieved value by more than that.  Adversarial rows with a hand-derived
answer (an exact zero-error scale) are checked for ``F == 0`` exactly."""

from __future__ import annotations

import numpy as np
import pytest

from quanttheory import Grid
from quanttheory.risk._kernels.direct import (BUCKET_MIN_NE, ROW_MIN_N, ROW_T_BIG, _solve_buckets,
                                              count_breakpoints, exact_rows, exact_rows_full)
from quanttheory.risk.data import optimal_scale_data

from test_empirical import _data, brute_force  # noqa: E402


def _tops(bits, signed=True):
    g = Grid(bits, signed)
    return int(g.r_t), int(-g.r_b), g


def _bracket(x, Tp, Tn):
    """[s_lo, 2 max|x|] of the active sides (as risk.data._bracket), None if degenerate."""
    lo, hi = np.inf, 0.0
    for T, v in ((Tp, x[x > 0]), (Tn, -x[x < 0])):
        if T > 0 and v.size:
            lo, hi = min(lo, v.min() / (T + 0.5)), max(hi, v.max())
    return None if hi == 0 else (lo, 2 * hi)


def _check_pair(o1, o2):
    assert o1[5] == o2[5]
    if o1[5] != 0:
        return
    F1, F2 = o1[1], o2[1]
    tol = (F1 - o1[2]) + (F2 - o2[2]) + 1e-12 * max(F1, F2)
    assert abs(F1 - F2) <= tol
    assert o1[2] <= F2 * (1 + 1e-12) + 1e-300 and o2[2] <= F1 * (1 + 1e-12) + 1e-300


@pytest.mark.parametrize("bits,signed", [(6, True), (7, False), (8, True), (8, False)])
def test_buckets_match_brute_force(bits, signed):
    """_solve_buckets over the whole bracket (every bucket path forced) = brute force."""
    Tp, Tn, g = _tops(bits, signed)
    rng = np.random.default_rng(1000 + 10 * bits + signed)
    for k in range(8):
        x = _data(k % 5, int(rng.integers(2, 40)), rng)
        br = _bracket(x, Tp, Tn)
        ref = brute_force(x, g)
        if br is None:
            assert ref is None
            continue
        out = np.zeros(6)
        ne = count_breakpoints(x, Tp, Tn, br[0], br[1])
        mp = _solve_buckets(x, Tp, Tn, br[0], br[1], max(ne, 64.0), out)
        const = float(np.sum(x[x < 0] ** 2)) if Tn == 0 else 0.0
        F, cert = out[1], min(out[2], const + mp)
        n = x.size
        assert abs(F - ref[0] * n) <= (F - cert) + 1e-12 * ref[0] * n + 1e-300
        assert cert <= ref[0] * n * (1 + 1e-12) + 1e-300
        # the scale achieves F (direct sum at the returned scale)
        tops = np.where(x >= 0, Tp, Tn)
        q = np.minimum(np.rint(np.abs(x) / out[0]), tops) * out[0]
        assert abs(float(np.sum((np.abs(x) - q) ** 2)) - F) <= 1e-12 * F + 1e-300


def _adversarial(rng, n):
    return [
        np.full(n, 3.0),  # constant
        np.zeros(n),  # all zero: status 1
        np.r_[np.zeros(n - 1), 5.0],  # one non-zero value
        np.tile([1.0, 2.0], n)[:n],  # two values: zero error at s = 1/63 (2 = 126 s) at 8 bits
        np.r_[rng.normal(size=n - 1), 40.0],  # one outlier
        -np.abs(rng.normal(size=n)),  # one side only
        rng.laplace(size=n),
        rng.standard_t(1, size=n),  # Cauchy tails
        np.round(rng.normal(size=n) * 16) / 16,  # exact ties
    ]


@pytest.mark.parametrize("bits,signed", [(6, True), (7, True), (8, True), (8, False)])
def test_rows_match_full_enumeration_high_bits(bits, signed):
    """exact_rows (bucketed window at 6-8 bits, long and short rows) = exact_rows_full."""
    Tp, Tn, g = _tops(bits, signed)
    assert max(Tp, Tn) <= ROW_T_BIG
    rng = np.random.default_rng(200 + 10 * bits + signed)
    # n = 384: exact_rows_short with buckets; ROW_MIN_N and 3000: exact_rows_window with the
    # bucketed window (more than BUCKET_MIN_NE breakpoints in the hull at 6-8 bits, see
    # test_bucket_path_taken_and_window_small); float32 once per kernel path (the reference
    # enumerates all n T breakpoints per row: the long float32 rows add time, no new path)
    for n in (1, 7, 384, ROW_MIN_N, 3000):
        rows = [_data(k % 5, n, rng) for k in range(4)] + _adversarial(rng, n)
        X = np.stack(rows)
        o1 = np.zeros((len(rows), 6))
        o2 = np.zeros((len(rows), 6))
        exact_rows(X, Tp, Tn, o1)
        exact_rows_full(X, Tp, Tn, o2)
        for a, b in zip(o1, o2):
            _check_pair(a, b)
        if n > ROW_MIN_N:
            continue
        X32 = X.astype(np.float32)
        o3 = np.zeros((len(rows), 6))
        o4 = np.zeros((len(rows), 6))
        exact_rows(X32, Tp, Tn, o3)
        exact_rows_full(X32, Tp, Tn, o4)
        for a, b in zip(o3, o4):
            _check_pair(a, b)


def test_bucket_path_taken_and_window_small():
    """At 8 bits on rows of 5000 normal values the window holds far more than BUCKET_MIN_NE
    breakpoints; the bucketed path sweeps only a few of them (out[:, 4])."""
    Tp, Tn, _ = _tops(8)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(4, 5000))
    out = np.zeros((4, 10))
    exact_rows(X, Tp, Tn, out)
    for r in range(4):
        assert count_breakpoints(X[r], Tp, Tn, out[r, 8], out[r, 9]) > BUCKET_MIN_NE
        assert out[r, 4] < BUCKET_MIN_NE


@pytest.mark.parametrize("n", [1, 384, 3000])
def test_hand_derived_zero_error_rows(n):
    """Rows with an exact zero-error scale at 8 bits (T = 127 / 128): F = 0 and cert = 0 exactly.
    Constant 3.0: s = 3/127; {1, 2}: s = 1/63 (2 = 126 s <= 127 s); zeros and one 5.0: s = 5/127."""
    Tp, Tn, _ = _tops(8)
    X = np.stack([np.full(n, 3.0), np.tile([1.0, 2.0], n)[:n] if n > 1 else np.array([2.0]),
                  np.r_[np.zeros(n - 1), 5.0]])
    out = np.zeros((3, 6))
    exact_rows(X, Tp, Tn, out)
    assert np.all(out[:, 5] == 0)
    assert np.all(out[:, 1] == 0.0) and np.all(out[:, 2] == 0.0)


def test_per_channel_8_bits_routes_rows_and_matches_reference():
    """optimal_scale_data(axis=0) at 8 bits on rows longer than the former direct limit
    (n T > 2^20) goes through the rows kernel and equals exact_rows_full per row."""
    Tp, Tn, g = _tops(8)
    rng = np.random.default_rng(3)
    n = 9000  # n * 128 > 2^20
    x = rng.normal(size=(3, n)) * np.array([[1.0], [0.01], [30.0]])
    r = optimal_scale_data(x, g, axis=0)
    assert all("histogram lower bounds" in m for m in r.method.split(": ", 1)[1].split(" | "))
    ref = np.zeros((3, 6))
    exact_rows_full(x, Tp, Tn, ref)
    F = np.asarray(r.extra["mse"]) * n
    assert np.all(np.abs(F - ref[:, 1]) <= (ref[:, 1] - ref[:, 2]) + 1e-12 * ref[:, 1])
    assert np.all(np.asarray(r.risk_lower_bound) / np.pi**2 * n <= ref[:, 1] * (1 + 1e-12))
