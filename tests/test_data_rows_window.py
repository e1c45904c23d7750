"""The windowed many-rows kernel (``exact_rows``: histogram bounds on s-intervals, exact sweep of the
surviving window) against the brute-force reference of tests/test_empirical.py (MSE at every
breakpoint and every piece's vertex, an independent evaluator) and against the former full
enumeration (``exact_rows_full``), on random and adversarial rows; float32 read natively.

Tolerance: two exact answers may differ by their stated rounding, ``(F - cert)`` of each, plus
1e-12 relative for the reference's own summation (n <= 2000 terms, ~n eps); a certificate must
never exceed the other method's achieved value by more than that."""

from __future__ import annotations

import numpy as np
import pytest

from quanttheory import Grid
from quanttheory.risk._kernels.direct import ROW_T_MAX, exact_rows_full
from quanttheory.risk._kernels.direct import exact_rows_window as exact_rows
from quanttheory.risk.data import optimal_scale_data

from test_empirical import PI2, _data, brute_force  # noqa: E402


def _tops(bits, signed):
    g = Grid(bits, signed)
    return int(g.r_t), int(-g.r_b), g


def _adversarial(rng, n):
    """Rows whose answer has a hand-checkable structure (see the comments)."""
    rows = [
        np.full(n, 3.0),  # constant: s = 3 / k for the largest k <= T is exact (MSE 0)
        np.zeros(n),  # degenerate: status 1
        np.r_[np.zeros(n - 1), 5.0],  # one non-zero: exact at s = 5 / T (MSE 0)
        -np.abs(rng.normal(size=n)),  # all negative (unsigned grid: degenerate)
        np.abs(rng.normal(size=n)),  # all positive
        rng.standard_t(1, size=n),  # Cauchy: heavy tails, the histogram is coarse at the optimum
        np.round(rng.normal(size=n) * 4) / 4,  # many exact ties, zero-error scales
        np.r_[rng.normal(size=n - 1) * 1e-3, 1e3],  # one huge outlier
        np.tile([1.0, -2.0, 3.0], n)[:n],  # three values, repeated
    ]
    return rows


def _check_pair(o1, o2):
    assert o1[5] == o2[5]
    if o1[5] != 0:
        return
    F1, F2 = o1[1], o2[1]
    tol = (F1 - o1[2]) + (F2 - o2[2]) + 1e-12 * max(F1, F2)
    assert abs(F1 - F2) <= tol
    assert o1[2] <= F2 * (1 + 1e-12) + 1e-300 and o2[2] <= F1 * (1 + 1e-12) + 1e-300


@pytest.mark.parametrize("bits,signed", [(1, True), (1, False), (2, True), (2, False), (3, True), (4, True),
                                         (4, False), (5, True)])
def test_rows_match_brute_force(bits, signed):
    Tp, Tn, g = _tops(bits, signed)
    assert max(Tp, Tn) <= ROW_T_MAX  # the windowed kernel, not the fallback
    rng = np.random.default_rng(10 * bits + signed)
    rows = [_data(k % 5, int(rng.integers(1, 60)), rng) for k in range(20)]
    for x in rows:
        out = np.zeros((1, 6))
        exact_rows(np.ascontiguousarray(x[None, :]), Tp, Tn, out)
        ref = brute_force(x, g)
        if ref is None:
            assert out[0, 5] == 1.0
            continue
        F, cert = out[0, 1], out[0, 2]
        tol = (F - cert) + 1e-12 * ref[0] * x.size + 1e-300
        assert abs(F - ref[0] * x.size) <= tol
        assert cert <= ref[0] * x.size * (1 + 1e-12) + 1e-300


@pytest.mark.parametrize("bits,signed", [(1, True), (2, True), (2, False), (3, False), (4, True), (5, True)])
def test_rows_match_full_enumeration(bits, signed):
    Tp, Tn, g = _tops(bits, signed)
    rng = np.random.default_rng(100 + 10 * bits + signed)
    for n in (7, 300, 2000):
        rows = [_data(k % 5, n, rng) for k in range(6)] + _adversarial(rng, n)
        X = np.stack(rows)
        o1 = np.zeros((len(rows), 6))
        o2 = np.zeros((len(rows), 6))
        exact_rows(X, Tp, Tn, o1)
        exact_rows_full(X, Tp, Tn, o2)
        for i in range(len(rows)):
            _check_pair(o1[i], o2[i])


def test_adversarial_rows_by_hand():
    """Answers derived by hand: a constant row 3.0 on INT4 (T = 7) is exact at any s = 3/k (MSE 0);
    one non-zero 5.0 among zeros likewise at s = 5/k.  The values 1, -2, 3 on the 2-bit signed grid
    (levels -2s..s) cannot all be exact (1 and 3 would both need the single positive level s), so
    the minimum is positive: checked against the brute force."""
    Tp, Tn, g = _tops(4, True)
    X = np.stack([np.full(50, 3.0), np.r_[np.zeros(49), 5.0]])
    out = np.zeros((2, 6))
    exact_rows(X, Tp, Tn, out)
    assert out[0, 5] == 0 and out[0, 1] == 0.0 and abs(3.0 / out[0, 0] - round(3.0 / out[0, 0])) < 1e-12
    assert out[1, 5] == 0 and out[1, 1] == 0.0 and abs(5.0 / out[1, 0] - round(5.0 / out[1, 0])) < 1e-12
    Tp, Tn, g = _tops(2, True)
    x = np.tile([1.0, -2.0, 3.0], 20)
    out = np.zeros((1, 6))
    exact_rows(x[None, :], Tp, Tn, out)
    ref = brute_force(x, g)
    assert ref[0] > 0 and abs(out[0, 1] / x.size - ref[0]) <= (out[0, 1] - out[0, 2]) / x.size + 1e-12 * ref[0]


@pytest.mark.parametrize("bits", [2, 4, 12, 16])
def test_float32_channels_native_and_equal_to_single_calls(bits):
    """float32 rows give the same result as their float64 copies and as one-channel calls; 12 and
    16 bits take the full enumeration (grid top beyond ROW_T_MAX; at 16 bits 30 values keep n T below
    DIRECT_ONE_FACTOR * DIRECT_LIMIT, where the full enumeration is the path of a single call)."""
    rng = np.random.default_rng(bits)
    n = 200 if bits < 12 else (40 if bits == 12 else 30)
    x = (rng.normal(size=(12, n)) * np.exp(rng.normal(size=(12, 1)))).astype(np.float32)
    x[3] = 0.0
    x[5, :] = np.float32(0.75)
    g = Grid(bits)
    r32 = optimal_scale_data(x, g, axis=0)
    r64 = optimal_scale_data(x.astype(np.float64), g, axis=0)
    assert np.array_equal(r32.scale, r64.scale) and np.array_equal(r32.risk, r64.risk)
    assert np.array_equal(r32.risk_lower_bound, r64.risk_lower_bound)
    for i in (0, 3, 5, 11):
        one = optimal_scale_data(x[i], g)
        assert r32.scale[i] == one.scale and r32.risk[i] == one.risk
        assert r32.risk_lower_bound[i] == one.risk_lower_bound
    # brute force loops over every piece in Python: ~1e6 pieces for a random 16-bit row (~45 s), so at
    # 16 bits only the constant row (32767 pieces); 15-bit random data: tests/test_empirical.py
    for i in ((0, 5) if bits <= 12 else (5,)):
        ref = brute_force(x[i].astype(np.float64), g)
        tol = (r32.risk[i] - r32.risk_lower_bound[i]) / PI2 + 1e-12 * ref[0]
        assert abs(r32.extra["mse"][i] - ref[0]) <= tol


def test_wide_rows_take_the_batched_kernel():
    """4-bit rows of 20,000 values (n T = 160,000 > DIRECT_LIMIT) now go through the batched kernel
    (method names the window) and agree with the full enumeration."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 20000))
    r = optimal_scale_data(x, Grid(4), axis=0)
    assert "window" in r.method
    Tp, Tn, g = _tops(4, True)
    o2 = np.zeros((3, 6))
    exact_rows_full(x, Tp, Tn, o2)
    for i in range(3):
        F2 = o2[i, 1]
        F1 = r.extra["mse"][i] * x.shape[1]
        tol = (r.risk[i] - r.risk_lower_bound[i]) / PI2 * x.shape[1] + (F2 - o2[i, 2]) + 1e-12 * F2
        assert abs(F1 - F2) <= tol
