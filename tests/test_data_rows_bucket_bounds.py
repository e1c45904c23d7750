"""Rigour of the one-pass bucket bounds of the many-rows kernel (``_bucket_bounds``: every
breakpoint of a window accumulated into u-equal buckets inside geometric segments; per bucket a
lower bound of ``F(s) = sum (v - s min(rint(v / s), T))^2``, and upper bounds at the edges).

Reference (independent of the kernel): on each bucket ``[L, R]`` the true minimum of ``F`` is
attained at ``L``, ``R``, a breakpoint ``v / (k + 1/2)`` inside, or the vertex of one of the
quadratic pieces; all these candidates are enumerated and ``F`` summed directly in float64
(relative rounding ~n eps, n <= 40: covered by the 1e-12 relative slack).  Every bucket's lower
bound must not exceed that minimum, the returned upper bound must not be below the window's
minimum; hand-derived rows: a constant row has ``F = 0`` at ``s = v / T`` (lower bound <= 0 on the
bucket holding it) and lattice rows ``{1, 2}`` ``F = 0`` at ``s = 1 / 63`` (8 bits)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from quanttheory import Grid
from quanttheory.risk._kernels.direct import _bucket_bounds, exact_rows, exact_rows_full


def _F(x, s, Tp, Tn):
    v = np.abs(x)
    T = np.where(x >= 0, Tp, Tn).astype(float)
    k = np.minimum(np.rint(v / s), T)
    return float(np.sum(((v - k * s) ** 2)[T > 0]))


def _true_min(x, Tp, Tn, L, R):
    """min F over [L, R] by enumeration (endpoints, breakpoints, piece vertices)."""
    v = np.abs(x)
    T = np.where(x >= 0, Tp, Tn)
    act = (T > 0) & (v > 0)
    bps = [L, R]
    for vi, Ti in zip(v[act], T[act]):
        for k in range(int(Ti)):
            b = vi / (k + 0.5)
            if L < b < R:
                bps.append(b)
    bps = np.unique(np.array(bps))
    cands = list(bps)
    for a, b in zip(bps[:-1], bps[1:]):
        m = 0.5 * (a + b)
        k = np.minimum(np.rint(v / m), T) * act
        k2 = float(np.sum(k * k))
        if k2 > 0:
            cands.append(min(max(float(np.sum(k * v)) / k2, a), b))
    return min(_F(x, s, Tp, Tn) for s in cands)


def _check(x, Tp, Tn, A, B, nbt):
    E = np.empty(nbt + 70)
    lb = np.empty(nbt + 70)
    cnt = np.empty(nbt + 70)
    nb, U = _bucket_bounds(x, Tp, Tn, A, B, nbt, E, lb, cnt)
    assert E[0] == A and E[nb] == B and np.all(np.diff(E[:nb + 1]) >= 0)
    mins = [_true_min(x, Tp, Tn, E[j], E[j + 1]) for j in range(nb)]
    for j in range(nb):
        assert lb[j] <= mins[j] * (1 + 1e-12) + 1e-300, (j, lb[j], mins[j])
    assert U >= min(mins) * (1 - 1e-12)
    return nb, U, lb, mins


@given(st.integers(0, 2**32 - 1), st.sampled_from([2, 3, 4, 6, 8]), st.booleans(), st.integers(1, 40),
       st.floats(0.2, 3.0), st.floats(1.01, 40.0), st.integers(16, 200))
def test_bucket_bounds_rigorous(seed, bits, signed, n, a_rel, ratio, nbt):
    rng = np.random.default_rng(seed)
    kind = seed % 4
    x = [rng.normal(size=n), rng.standard_t(2, size=n), rng.integers(-6, 7, size=n) * 0.25,
         np.abs(rng.normal(size=n))][kind]
    g = Grid(bits, signed)
    Tp, Tn = int(g.r_t), int(-g.r_b)
    vmax = float(np.max(np.abs(x)))
    if vmax == 0:
        return
    A = a_rel * vmax / max(Tp, Tn, 1)
    _check(x, Tp, Tn, A, A * ratio, nbt)


def test_bucket_bounds_zero_error_rows():
    """Hand-derived: a constant row 3.0 at 8 bits (T = 127) has F = 0 at s = 3/127; {1, 2} has
    F = 0 at s = 1/63 (2 = 126 s): the bucket holding that scale has a lower bound <= 0 (up to
    its rounding slack), and the upper bound is the smallest edge value (plus its rounding)."""
    g = Grid(8)
    Tp, Tn = int(g.r_t), int(-g.r_b)
    for x, s_star in ((np.full(30, 3.0), 3.0 / 127), (np.tile([1.0, 2.0], 15), 1.0 / 63)):
        nb, U, lb, mins = _check(x, Tp, Tn, 0.8 * s_star, 1.3 * s_star, 64)
        assert min(mins) <= 1e-25
        # rounding slack: ~ (n + events) eps times the data's energy sum v^2
        assert U <= _edge_min(x, Tp, Tn, 0.8 * s_star, 1.3 * s_star) + 1e-12 * float(np.sum(x * x))
        j = int(np.searchsorted(E_of(x, Tp, Tn, 0.8 * s_star, 1.3 * s_star), s_star)) - 1
        assert lb[j] <= 1e-20


def E_of(x, Tp, Tn, A, B, nbt=64):
    E = np.empty(nbt + 70)
    lb = np.empty(nbt + 70)
    cnt = np.empty(nbt + 70)
    nb, _ = _bucket_bounds(x, Tp, Tn, A, B, nbt, E, lb, cnt)
    return E[:nb + 1].copy()


def _edge_min(x, Tp, Tn, A, B):
    return min(_F(x, s, Tp, Tn) for s in E_of(x, Tp, Tn, A, B))


def test_window_bucket_path_at_4_bits_matches_full_enumeration():
    """Rows of 3000 values at 4 bits take the histogram window then the bucketed window (out[:, 4]
    = breakpoints swept, a few hundred at most); same optimum as the full enumeration."""
    g = Grid(4)
    Tp, Tn = int(g.r_t), int(-g.r_b)
    rng = np.random.default_rng(5)
    X = np.stack([rng.normal(size=3000), rng.laplace(size=3000), rng.standard_t(3, size=3000),
                  np.round(rng.normal(size=3000) * 8) / 8])
    o1 = np.zeros((4, 10))
    o2 = np.zeros((4, 6))
    exact_rows(X, Tp, Tn, o1)
    exact_rows_full(X, Tp, Tn, o2)
    for a, b in zip(o1, o2):
        assert a[5] == b[5] == 0
        tol = (a[1] - a[2]) + (b[1] - b[2]) + 1e-12 * max(a[1], b[1])
        assert abs(a[1] - b[1]) <= tol
        assert a[2] <= b[1] * (1 + 1e-12) and b[2] <= a[1] * (1 + 1e-12)
    assert np.all(o1[:3, 4] < 1000)
