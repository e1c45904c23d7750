"""Hypothesis property tests of Props 1-3 and Theorem 1 with the public strategies of
quanttheory.testing (random bits, signedness, points, vectors and scales), and the matching failures
of the non-SQRs.  Constants are the closed forms (QSin: a = 4, b' = C = pi^2; quartic: a = 1/2,
b' = C = 1).  Prop. 2 rate constants K: QSin |sin^2(pi h)/h^2 - pi^2| <= pi^4 h^2/3 <= (pi^4/6) h for
h <= 1/2; quartic |1 - 2h^2 - 1| = 2h^2 <= h for h <= 1/2 (tails: exact)."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from quanttheory import Grid
from quanttheory import testing as qt
from quanttheory.sqr import lopsided, quartic, tail_minima

PI2 = math.pi ** 2
SQRS = {"qsin": (4.0, PI2, PI2, math.pi ** 4 / 6), "quartic": (0.5, 1.0, 1.0, 1.0)}


@pytest.mark.parametrize("name", SQRS)
@given(case=qt.grids_and_points(max_bits=16))
def test_equivalence(name, case):
    grid, u = case
    a, b, _, _ = SQRS[name]
    qt.assert_equivalence(name, grid, u, a, b)


@pytest.mark.parametrize("name", SQRS)
@given(case=qt.grids_and_pairs(max_bits=12))
def test_order_preservation(name, case):
    grid, u1, u2 = case
    qt.assert_order_preserving(name, grid, u1, u2)


@pytest.mark.parametrize("name", SQRS)
@given(case=qt.grids_and_points(max_bits=12, tails=False))
def test_prop1_periodic(name, case):
    grid, u = case
    qt.assert_periodic(name, grid, u)


@pytest.mark.parametrize("name", SQRS)
@given(grid=qt.grids(min_bits=2, max_bits=12), data=st.data(), d=st.floats(-0.5, 0.5))
def test_prop1_even(name, grid, data, d):
    n = data.draw(st.integers(grid.r_b + 1, grid.r_t - 1))
    qt.assert_even(name, grid, n, d)


@pytest.mark.parametrize("name", SQRS)
@given(case=qt.grids_and_points(max_bits=16))
def test_prop1_roots_are_minima(name, case):
    grid, u = case
    v = qt._eval(name, grid, u)[0]
    on_grid = float(u).is_integer() and grid.r_b <= u <= grid.r_t
    # off the grid phi > 0; skip points so close to a grid integer that phi ~ MSQE underflows (< 1e-300)
    assume(on_grid or abs(u - round(u)) > 1e-150)
    assert (v == 0.0) if on_grid else (v > 0.0)


@pytest.mark.parametrize("name", SQRS)
@given(grid=qt.grids(max_bits=16), data=st.data(), e=st.floats(1.0, 20.0), sign=st.sampled_from([-1, 1]))
def test_prop2_rate(name, grid, data, e, sign):
    n = data.draw(st.integers(grid.r_b, grid.r_t))
    _, _, C, K = SQRS[name]
    qt.assert_prop2(name, grid, n, sign * 2.0 ** -e, C, K)


@pytest.mark.parametrize("name", SQRS)
@given(case=qt.grids_and_vectors(max_bits=16), s=qt.scales())
def test_theorem1_vector_bounds(name, case, s):
    grid, u = case
    a, b, _, _ = SQRS[name]
    qt.assert_theorem1(name, grid, u * s, s, a, b, rtol=1e-7)


# ---------------------------------------------------------------- failures of the non-SQRs


@given(grid=qt.grids(max_bits=16), k=st.integers(1, 10 ** 4), side=st.sampled_from([-1, 1]))
def test_sinreq_not_equivalent_at_tail_integers(grid, k, side):
    u = grid.r_t + k if side > 0 else grid.r_b - k
    with pytest.raises(AssertionError, match="equivalence fails"):
        qt.assert_equivalence("sinreq", grid, u, 1e-6, 1e6)


@given(grid=qt.grids(max_bits=16), s=qt.scales(), k=st.integers(1, 100))
def test_sinreq_theorem1_lower_bound_fails(grid, s, k):
    x = np.array([grid.r_t + k, grid.r_b - k], float) * s
    with pytest.raises(AssertionError, match="Theorem 1"):
        qt.assert_theorem1("sinreq", grid, x, s, 1e-6, 1e6)


@given(grid=qt.grids(min_bits=2, max_bits=16), data=st.data(), h=st.floats(1e-4, 1e-2))
def test_msqe_derivative_jumps_at_half_integers(grid, data, h):
    n = data.draw(st.integers(grid.r_b, grid.r_t - 1))
    x = n + 0.5
    v = lambda t: float(qt._eval("msqe", grid, t)[0])
    left = (v(x) - v(x - h)) / h
    right = (v(x + h) - v(x)) / h
    # exact: left slope 1 - h, right slope -(1 - h): a jump of 2 - 2h, never 0
    assert left - right == pytest.approx(2 - 2 * h, abs=1e-6)


@given(grid=qt.grids(min_bits=2, max_bits=12), data=st.data(), d=st.floats(0.01, 0.49))
def test_lopsided_breaks_order_and_evenness(grid, data, d):
    n = data.draw(st.integers(grid.r_b + 1, grid.r_t - 1))
    with pytest.raises(AssertionError, match="order preservation fails"):
        qt.assert_order_preserving(lopsided, grid, n - d, n + d)
    with pytest.raises(AssertionError, match="not even"):
        qt.assert_even(lopsided, grid, n, d)


@given(grid=qt.grids(max_bits=16), data=st.data())
def test_tail_minima_satisfies_equivalence_everywhere(grid, data):
    u = data.draw(qt.points(grid))
    qt.assert_equivalence(tail_minima, grid, u, 4.0, 1.5 * PI2)


@given(grid=qt.grids(max_bits=16), j=st.integers(2, 40), side=st.sampled_from([-1, 1]))
def test_tail_minima_has_tail_local_minima(grid, j, side):
    # phi(t) = pi^2 t^2 (1 + sin^2(pi t)/2): between t = j and j + 1 it dips below the linear
    # interpolation enough to have a local minimum for j >= 2 (checked on a 1/64 mesh of that cell)
    t = j + np.arange(0, 65) / 64
    u = grid.r_t + t if side > 0 else grid.r_b - t
    v = qt._eval(tail_minima, grid, u)
    interior = (v[1:-1] < v[:-2]) & (v[1:-1] < v[2:])
    assume(interior.any())  # a minimum per cell is not guaranteed for every j; most cells have one
    i = int(np.flatnonzero(interior)[0]) + 1
    assert not (grid.r_b <= u[i] <= grid.r_t)


def test_tail_minima_cells_mostly_have_minima():
    g = Grid(4, True)
    t = np.linspace(2, 40, 38 * 256 + 1)
    v = qt._eval(tail_minima, g, g.r_t + t)
    n_min = int(((v[1:-1] < v[:-2]) & (v[1:-1] < v[2:])).sum())
    assert n_min >= 30


def test_strategies_need_hypothesis_message(monkeypatch):
    import builtins
    real = builtins.__import__

    def fake(name, *a, **k):
        if name.startswith("hypothesis"):
            raise ImportError("no hypothesis")
        return real(name, *a, **k)
    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match="pip install"):
        qt.grids()
    # the assertion helpers do not need hypothesis
    qt.assert_equivalence(quartic, Grid(2), 0.25, 0.5, 1.0)


def test_assertion_helpers_reject_bad_arguments():
    g = Grid(3)
    with pytest.raises(ValueError):
        qt.assert_order_preserving("qsin", g, g.r_t + 1.0, 0.0)
    with pytest.raises(ValueError):
        qt.assert_even("qsin", g, g.r_t, 0.1)
    with pytest.raises(ValueError):
        qt.assert_prop2("qsin", g, 0.5, 0.01, PI2, 1.0)
    with pytest.raises(ValueError):
        qt.assert_periodic("qsin", g, g.r_b - 0.5)


# ---------------------------------------------------------------- the checker itself on random grids
from hypothesis import settings  # noqa: E402

from quanttheory.sqr import check  # noqa: E402


@settings(max_examples=6)
@given(grid=qt.grids(max_bits=6))
def test_prop3_checker_on_random_grids(grid):
    r = check("qsin", grid, n_vectors=50)
    assert r.is_sqr and r.passed
    assert r.a.value == pytest.approx(4.0, rel=1e-12)
    assert r.b_prime.value == pytest.approx(PI2, rel=1e-9)
    np.testing.assert_allclose(r.C_values, PI2, rtol=1e-7)


@settings(max_examples=6)
@given(grid=qt.grids(max_bits=6))
def test_sinreq_checker_witness_on_random_grids(grid):
    r = check("sinreq", grid, n_vectors=20)
    assert not r.is_sqr
    assert r["equivalence"].witness.u == (grid.r_t + 1,)


def _doc_phi(u, r_b, r_t):  # the example of docs/sqr.md (vectorized user function)
    d = u - np.rint(u)
    inner = d * d - 2 * d ** 4
    return np.where(u < r_b, (u - r_b) ** 2, np.where(u > r_t, (u - r_t) ** 2, inner))


@given(case=qt.grids_and_points(max_bits=16))
def test_docs_example_equivalence(case):
    grid, u = case
    qt.assert_equivalence(_doc_phi, grid, u, a=0.5, b_prime=1.0)


@given(case=qt.grids_and_vectors(), s=qt.scales())
def test_docs_example_theorem1(case, s):
    grid, u = case
    qt.assert_theorem1(_doc_phi, grid, u * s, s, a=0.5, b_prime=1.0, rtol=1e-7)
