"""Rigour of the joint interval lower bound of the many-rows kernel (``_row_lb_joint``, session 5),
and the rows kernel that uses it against the full enumeration on adversarial rows.

``_row_lb_joint(s1, s2, ...)`` bounds ``min F`` over ``[s1, s2]`` from the row's histogram
(``F(s) = sum (v - s min(rint(v / s), T))^2``, sides with ``T = 0`` left out): the values whose grid
index is the same at every ``s`` of the interval form one exact quadratic, minimized jointly.

Reference (independent of the kernel): the true minimum of ``F`` over ``[s1, s2]`` by enumeration
of the endpoints, every breakpoint ``v / (k + 1/2)`` inside and every piece's vertex, ``F`` summed
directly in float64 (n <= 60: relative rounding ~n eps, covered by the 1e-12 relative slack).
Hand-derived cases: a constant row ``v = 3`` has ``F(3 / 127) = 0`` on 8 bits, so every interval
holding ``3 / 127`` must get a bound ``<= 0``; the lattice ``{1, 2}`` has ``F(1 / m) = 0`` for
``m = 32 .. 63`` and ``F > 0`` between.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanttheory import Grid
from quanttheory.risk._kernels import direct as D

from test_data_rows_bucket_bounds import _F, _true_min  # noqa: E402  (the enumeration reference)

EPS = 2.0**-52


def _hist_args(x, Tp, Tn):
    """The histogram of one row exactly as ``exact_rows_window`` builds it (bins, prefix sums,
    rounding constants)."""
    n = x.size
    mp, mn, npos, lo, hi = D._row_stats(x, Tp, Tn)
    vmp = mp if Tp > 0 else 0.0
    vmn = mn if Tn > 0 else 0.0
    Mp = Mn = 1
    iwp = iwn = 0.0
    if vmp > 0:
        Mp = min(max(D.ROW_HIST_MIN, npos // 2), D.ROW_HIST_PER_T * Tp + D.ROW_HIST_MIN)
        iwp = Mp / vmp
    if vmn > 0:
        Mn = min(max(D.ROW_HIST_MIN, (n - npos) // 2), D.ROW_HIST_PER_T * Tn + D.ROW_HIST_MIN)
        iwn = Mn / vmn
    H = np.empty((Mp + Mn, 3))
    HMN = np.empty(Mp + Mn)
    HMX = np.empty(Mp + Mn)
    P = np.empty((Mp + Mn + 1, 6))
    J = np.empty(n, np.int64)
    D._hist_row(x, Tp, Tn, Mp, iwp, iwn, Mn, H, HMN, HMX, J)
    D._prefix_dw(H, Mp + Mn, P)
    rel = (n + 16.0) * 4.0 * EPS + 4.0 * (Mp + Mn) ** 2 * EPS * EPS
    return (Tp, Tn, Mp, Mn, iwp, iwn, vmp, vmn, H, HMN, HMX, P, rel, 64 * EPS * npos, 64 * EPS * (n - npos))


def _tops(bits, signed):
    g = Grid(bits, signed=signed)
    return int(g.r_t), int(-g.r_b)


def _row(kind, n, rng):
    if kind == "normal":
        return rng.normal(size=n)
    if kind == "cauchy":
        return rng.standard_cauchy(size=n)
    if kind == "lattice":  # exact ties: many values on a lattice, F = 0 possible
        return rng.integers(-12, 13, size=n) * 0.375
    if kind == "outlier":
        x = rng.normal(size=n)
        x[rng.integers(n)] = 1e4
        return x
    if kind == "positive":  # one-signed
        return np.abs(rng.laplace(size=n))
    if kind == "subnormal32":  # float32 subnormals, read as float64 (exact)
        return (rng.integers(-300, 301, size=n) * np.float32(2.0**-140)).astype(np.float64)
    return np.full(n, 0.7)  # constant


KINDS = ["normal", "cauchy", "lattice", "outlier", "positive", "subnormal32", "constant"]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([2, 3, 4, 6, 8]), st.booleans(), st.integers(1, 60),
       st.sampled_from(KINDS), st.floats(-2.5, 1.5), st.floats(-6.0, -0.3))
def test_joint_bound_rigorous(seed, bits, signed, n, kind, log_f, log_w):
    rng = np.random.default_rng(seed)
    x = _row(kind, n, rng)
    Tp, Tn = _tops(bits, signed)
    args = _hist_args(x, Tp, Tn)
    vmax = max(args[6], args[7])
    if vmax == 0.0:
        return
    sc = vmax / (max(Tp, Tn) + 0.5)
    s1 = sc * np.exp(log_f)
    s2 = s1 * (1 + 10.0**log_w)
    lb = D._row_lb_joint(s1, s2, *args)
    ref = _true_min(x, Tp, Tn, s1, s2)
    assert lb <= ref * (1 + 1e-12) + 1e-300, (lb, ref)


@pytest.mark.parametrize("bits,signed", [(2, True), (4, True), (4, False), (8, True), (8, False)])
def test_joint_bound_rigorous_around_the_optimum(bits, signed):
    """Intervals of relative width 1e-6 .. 0.1 at and around the exact optimum of 60-value rows
    (where the bound is tightest and a rounding slip would show first)."""
    rng = np.random.default_rng(bits + 10 * signed)
    Tp, Tn = _tops(bits, signed)
    for kind in KINDS:
        x = _row(kind, 60, rng)
        args = _hist_args(x, Tp, Tn)
        out = np.zeros((1, 6))
        D.exact_rows_full(x[None, :], Tp, Tn, out)
        if out[0, 5] != 0:
            continue
        s_star = out[0, 0]
        for w in (1e-6, 1e-4, 1e-2, 0.1):
            for a in (s_star * (1 - w), s_star * (1 - w / 2), s_star):
                lb = D._row_lb_joint(a, a * (1 + w), *args)
                ref = _true_min(x, Tp, Tn, a, a * (1 + w))
                assert lb <= ref * (1 + 1e-12) + 1e-300, (kind, w, lb, ref)


def test_joint_bound_zero_error_rows_by_hand():
    """Rows that fit a grid exactly: F = 0 at a known scale, so every interval holding it must be
    bounded by <= 0 (derived by hand: 3.0 = 127 * (3/127); 1 = 63 s and 2 = 126 s for s = 1/63)."""
    Tp, Tn = _tops(8, True)  # 127, 128
    x = np.full(50, 3.0)
    args = _hist_args(x, Tp, Tn)
    s = 3.0 / 127
    for w in (1e-9, 1e-3, 0.2):
        assert D._row_lb_joint(s * (1 - w), s * (1 + w), *args) <= 0.0
    x = np.array([1.0, 2.0] * 20)
    args = _hist_args(x, Tp, Tn)
    s = 1.0 / 63
    for w in (1e-9, 1e-3, 0.2):
        assert D._row_lb_joint(s * (1 - w), s * (1 + w), *args) <= 0.0
    # F = 0 at every s = 1/m, m = 32..63; between, e.g. on [1/62.8, 1/62.2], 1/s and 2/s are at
    # least 0.2 from an integer, so F >= 20 (0.2 s)^2 > 0: the bound is positive there and below
    # the enumerated minimum
    s1, s2 = 1 / 62.8, 1 / 62.2
    ref = _true_min(x, Tp, Tn, s1, s2)
    assert ref >= 20 * (0.2 * s1) ** 2
    lb = D._row_lb_joint(s1, s2, *args)
    assert 0.0 < lb <= ref


def test_joint_bound_tighter_than_per_point_bound():
    """On a long normal row at 4 and 8 bits the joint bound is at least the per-point histogram
    bound (up to rounding) on narrow intervals near the optimum, and below the true minimum."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=10000)
    for bits in (4, 8):
        Tp, Tn = _tops(bits, True)
        args = _hist_args(x, Tp, Tn)
        out = np.zeros((1, 6))
        D.exact_rows_full(x[None, :], Tp, Tn, out)
        s_star = out[0, 0]
        for f in (1.05, 1.2):
            for w in (1e-2, 3e-3):
                s1 = s_star * f
                s2 = s1 * (1 + w)
                lj = D._row_lb_joint(s1, s2, *args)
                lo = D._row_bounds(s1, s2, True, *args)
                ex = D._sum_sq_err(x, s1, Tp, Tn)  # an upper bound of min over [s1, s2]
                assert lj >= lo * (1 - 1e-9)
                assert lj <= ex


@pytest.mark.parametrize("bits,signed", [(2, True), (4, True), (4, False), (8, True)])
def test_window_rows_adversarial_equal_full_enumeration(bits, signed):
    """exact_rows_window (joint bounds in its hull halvings) against exact_rows_full on rows of
    2,500 values (>= ROW_MIN_N, so the window path) of every adversarial kind: the same optimum
    (F within 1e-12 relative, or both at rounding level ~eps^2 vmax^2 when the row fits a grid), and
    each certificate below the other's F."""
    rng = np.random.default_rng(100 + bits)
    Tp, Tn = _tops(bits, signed)
    X = np.stack([_row(k, 2500, rng) for k in KINDS])
    a = np.zeros((len(KINDS), 10))
    b = np.zeros((len(KINDS), 6))
    D.exact_rows_window(X, Tp, Tn, a)
    D.exact_rows_full(X, Tp, Tn, b)
    for i, kind in enumerate(KINDS):
        assert a[i, 5] == b[i, 5], kind
        if b[i, 5] != 0:
            continue
        # rows that fit a grid exactly (constant, lattice) have F* = 0: the computed F is then the
        # square of residuals a few tens of ulps of vmax each (the full enumeration's piece vertex
        # is computed less accurately than the window's: 8e-26 against 1e-28 for 2,500 values 0.7,
        # as on main), hence the absolute slack n (64 eps vmax)^2
        slack = 1e-12 * b[i, 1] + X.shape[1] * (64 * EPS * np.abs(X[i]).max()) ** 2
        assert abs(a[i, 1] - b[i, 1]) <= slack, (kind, a[i, 1], b[i, 1])
        assert a[i, 2] <= b[i, 1] * (1 + 1e-12) + 1e-300 and b[i, 2] <= a[i, 1] * (1 + 1e-12) + 1e-300
