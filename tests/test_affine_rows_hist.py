"""The histogram stage of the fused per-row (s, z) kernel (``quanttheory.affine._rows._histsort``, prefix sums
with running values in registers since the session of 2026-11-30, third helper, issue 16) and float32 rows.

References are independent of the kernel: NumPy's stable argsort for the counting sort, and a plain Python
loop (per-bin sums in value order, then prefix sums in bin order: the order the docstring states) for the
prefix sums, compared bit for bit.  The whole kernel on a float32 matrix and on the same values as float64
must give bit-identical results: every value is converted to float64 (exactly) before any arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st


def _reference(x, nb):
    """Bins, stable counting sort and prefix sums by the definition (Python floats, same order of additions)."""
    v = [float(t) for t in x]
    xmin, xmax = min(v), max(v)
    invw = nb / (xmax - xmin)
    idx = [int(min(max((t - xmin) * invw, 0.0), nb - 1.0)) for t in v]
    cnt = [0] * nb
    s1 = [0.0] * nb
    s2 = [0.0] * nb
    for t, j in zip(v, idx):
        cnt[j] += 1
        s1[j] += t
        s2[j] += t * t
    P0, P1, P2 = [0.0], [0.0], [0.0]
    for j in range(nb):
        P0.append(P0[-1] + cnt[j])
        P1.append(P1[-1] + s1[j])
        P2.append(P2[-1] + s2[j])
    order = np.argsort(np.array(idx), kind="stable")
    return xmin, invw, np.array(idx), np.array(cnt), np.array(P0), np.array(P1), np.array(P2), order


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 300), st.integers(1, 64), st.integers(0, 2**31 - 1),
       st.sampled_from([np.float32, np.float64]), st.sampled_from(["normal", "lattice", "outlier"]))
def test_histsort_matches_definition(n, nb, seed, dtype, kind):
    from quanttheory.affine import _rows as RK

    rng = np.random.default_rng(seed)
    if kind == "normal":
        x = rng.standard_normal(n) * 0.02 + 0.003
    elif kind == "lattice":  # many equal values: bins with large counts, empty bins
        x = rng.integers(-3, 5, n) * 0.25
    else:
        x = rng.standard_normal(n)
        x[rng.integers(0, n)] = 1e3
    x = x.astype(dtype)
    if x.min() == x.max():
        x[0] = x[0] + 1
    xmin, invw, idx, cnt, P0, P1, P2, order = _reference(x, nb)
    k_idx = np.empty(n, np.int32)
    buf = np.empty(n)
    k_cnt = np.zeros(nb, np.int64)
    S1 = np.zeros(nb)
    S2 = np.zeros(nb)
    start = np.zeros(nb + 1, np.int64)
    pos = np.zeros(nb, np.int64)
    kP0, kP1, kP2 = np.zeros(nb + 1), np.zeros(nb + 1), np.zeros(nb + 1)
    mc = RK._histsort(x, xmin, invw, float(nb), nb, k_idx, k_cnt, S1, S2, start, pos, buf, kP0, kP1, kP2)
    assert mc == cnt.max()
    assert np.array_equal(k_idx, idx)
    assert np.array_equal(start, np.concatenate([[0], np.cumsum(cnt)]))
    assert np.array_equal(buf, x[order].astype(np.float64))  # stable counting sort, values unchanged
    # the same additions in the same order: bit-identical prefix sums
    assert np.array_equal(kP0, P0) and np.array_equal(kP1, P1) and np.array_equal(kP2, P2)


@pytest.mark.parametrize("bits", [2, 4])
def test_float32_and_float64_rows_identical(bits):
    """The kernel on float32 rows and on the same values as float64: identical (s, z, MSE, bound, work)."""
    from quanttheory.affine._rows import solve_rows
    from quanttheory.affine.data import _fast_params

    rng = np.random.default_rng(5)
    X32 = (rng.standard_normal((6, 512)) * 0.02 + rng.uniform(-0.01, 0.01, (6, 1))).astype(np.float32)
    X32[3] = np.abs(X32[3])  # one-signed row
    X32[4, :] = np.round(X32[4] * 200) / 200  # lattice row with ties
    N = 2**bits - 1
    nb, T, G, ni = _fast_params(X32.shape[1], N)
    outs = []
    for X in (X32, X32.astype(np.float64)):
        R = X.shape[0]
        o = [np.zeros(R), np.zeros(R, np.int64), np.zeros(R), np.zeros(R), np.zeros(R), np.zeros(R, np.int64),
             np.zeros((R, 3))]
        solve_rows(X, N, nb, T, G, ni, *o)
        outs.append(o)
    assert not np.any(outs[0][5])  # every row solved by the kernel
    for a, b in zip(*outs):
        assert np.array_equal(a, b)
