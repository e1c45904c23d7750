"""Seed errors and gaps in ECCV App. A (SPEC.md section 3), each shown with a test.

Independent references: closed forms and mpmath (50 digits), not the checker's own numbers.
"""

import math

import mpmath as mp
import numpy as np
import pytest

from quanttheory import Grid, qsin
from quanttheory.formats.regularizers import QSIN
from quanttheory.sqr import check

PI2 = math.pi ** 2
G = Grid(4, True)


@pytest.fixture(scope="module")
def qsin_report():
    return check("qsin", G)


def test_prop2_constant_is_phi2_at_n_not_at_x(qsin_report):
    """Prop. 2's proof writes phi(x) = 1/2 phi''(x) (x-n)^2 + o(.): the coefficient must be phi''(n)/2,
    a constant.  For QSin phi''(x)/2 = pi^2 cos(2 pi x) is not constant (0 at x = n + 1/4), while the
    checker's C = phi''(n)/2 = pi^2 at every grid point."""
    mp.mp.dps = 50
    f = lambda x: mp.sin(mp.pi * x) ** 2
    n = 3
    half_phi2 = lambda x: mp.diff(f, x, 2) / 2
    assert abs(half_phi2(n) - mp.pi ** 2) < mp.mpf(10) ** -40
    assert abs(half_phi2(n + mp.mpf(1) / 4)) < mp.mpf(10) ** -40  # "C" would be 0 here
    # and the correct expansion: phi(n + d)/d^2 -> phi''(n)/2 with error ~ pi^4 d^2 / 3
    for d in (mp.mpf("1e-2"), mp.mpf("1e-3")):
        assert abs(f(n + d) / d ** 2 - mp.pi ** 2) < mp.pi ** 4 * d ** 2 / 3 * 1.01
    np.testing.assert_allclose(qsin_report.C_values, PI2, rtol=1e-7)


def test_prop2_needs_the_same_C_at_every_grid_point():
    """One C for all grid points is what makes the vector statement work; a C^1 regularizer whose
    one-sided curvature differs (QSin with unscaled MSQE tails: C = 1 outside r_b/r_t, pi^2 inside)
    has no single C, and the checker says so with the grid point as witness."""
    r = check("qsin_msqe_tails", G)
    assert not r["prop2"].passed
    w = r["prop2"].witness
    assert G.r_b in w.u or G.r_t in w.u
    assert sorted(w.values.values()) == pytest.approx([1.0, PI2], rel=1e-7)


def test_r_i_typo_is_r_t(qsin_report):
    """The proof of Prop. 2 says phi(n) = phi'(n) = 0 for n in [r_b, r_i]; it is [r_b, r_t]: the
    statement holds up to and including r_t (and there the one-sided curvatures agree)."""
    r = qsin_report
    assert r.C_points[-1] == G.r_t
    assert float(QSIN(np.array([float(G.r_t)]), G)[0]) == 0.0
    assert r["prop2"].numbers["max_abs_phi'(n)"] < 1e-6
    assert r.C_values[-1] == pytest.approx(PI2, rel=1e-7)


def test_prop3_tight_constants_are_4_and_pi2(qsin_report):
    """Prop. 3 proves MSQE <= QSin <= pi^2 MSQE (a = 1).  The tight a is 4, reached at the half-integers;
    b' = pi^2 is approached at the grid points and reached in the tails."""
    mp.mp.dps = 30
    ratio = lambda d: mp.sin(mp.pi * d) ** 2 / d ** 2
    # ratio is decreasing on (0, 1/2]: derivative < 0 on a fine mpmath grid, value 4 at 1/2
    ds = [mp.mpf(k) / 200 for k in range(1, 101)]
    assert all(mp.diff(ratio, d) < 0 for d in ds)
    assert ratio(mp.mpf(1) / 2) == 4
    assert mp.limit(ratio, 0) == pytest.approx(PI2)
    r = qsin_report
    assert r.a.value == pytest.approx(4.0, rel=1e-12) and r.a.kind == "half-integer"
    assert r.a.value > 1.0  # the proof's a = 1 is valid but not tight
    assert r.b_prime.value == pytest.approx(PI2, rel=1e-9)
    assert {"grid point (limit u->n)", "tail"} <= set(r.b_prime.kinds)
    # tails: QSin = pi^2 MSQE exactly
    u = np.array([G.r_t + 0.25, G.r_b - 3.0])
    np.testing.assert_allclose(qsin(u, G) / np.array([0.0625, 9.0]), PI2, rtol=1e-15)


def test_theorem1_omega_is_not_bounded():
    """Theorem 1 calls Omega = {L_w <= C1, L_a <= C2} compact.  It need not be bounded: weights that sit
    on the grid, W = s * n, give L_w = s^2 phi(n) = 0 <= C1 for every s, so (W, s) -> infinity inside
    Omega."""
    n = G.r_t
    for s in (1.0, 1e3, 1e6, 1e9):
        W = np.full(5, s * n)
        L_w = s * s * float(np.sum(qsin(W / s, G)))
        assert L_w == 0.0
    r = check("qsin", G)
    assert any("not bounded" in note for note in r.notes)


def test_prop1_no_other_minima_not_implied_by_definition():
    """Prop. 1's proof derives 'no other local minima' from order preservation, which only constrains
    [r_b, r_t].  tail_minima satisfies all three SQR properties yet has a local minimum in a tail."""
    r = check("tail_minima", G)
    assert r.is_sqr
    assert not r["prop1.1"].passed
    lo, u, hi = r["prop1.1"].witness.u
    assert u > G.r_t or u < G.r_b
    # confirm with mpmath: phi'(u*) = 0 and phi''(u*) > 0 for a root u* of phi' near the witness
    mp.mp.dps = 30
    t0 = (u - G.r_t) if u > G.r_t else (G.r_b - u)
    f = lambda t: mp.pi ** 2 * t ** 2 * (1 + mp.sin(mp.pi * t) ** 2 / 2)
    ts = mp.findroot(lambda t: mp.diff(f, t), t0)
    assert abs(ts - t0) < 0.02 and mp.diff(f, ts, 2) > 0


def test_qsin_is_c3_not_c4_and_c2_holds():
    """Prop. 3 says smoothness 'is checked directly'; it holds (C^2, even C^3) but not C^4: at r_b and r_t
    the 4th derivative jumps from -8 pi^4 to 0."""
    r = check("qsin", G)
    assert r["C2"].passed and r.smoothness_order == 3
    assert r.jumps[4]["u"] in (G.r_b, G.r_t)


def test_msqe_is_not_an_sqr_and_sinreq_is_not_equivalent():
    m = check("msqe", G)
    assert not m.is_sqr and not m["C1"].passed and m["C1"].witness.u[0] % 1 == 0.5
    s = check("sinreq", G)
    assert not s.is_sqr and s["equivalence"].witness.u == (G.r_t + 1,)
