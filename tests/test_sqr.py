"""SQR checker: verdicts, constants and witnesses against closed forms.

References are analytic (derived by hand, not taken from the checker):
QSin: phi/MSQE = sin^2(pi d)/d^2 on |d| <= 1/2 is decreasing in |d| from pi^2 (d -> 0) to 4 (d = 1/2);
phi''(n) = 2 pi^2; the 4th derivative is -8 pi^4 cos(2 pi u) inside and 0 in the quadratic tails.
Quartic p(d) = d^2 - 2 d^4: p/d^2 = 1 - 2 d^2 in [1/2, 1]; p''(0) = 2; p'''(+-1/2) = -+24.
MSQE: phi'(n + 1/2 -+ 0) = +-1.
Tolerances: values that are exact in float64 (ratios at half-integers, tail ratios) are compared at
1e-12; finite-difference derivatives (Richardson, step 1/256) at 1e-7 relative for order 2 and 1e-3 for
orders 3-4 (truncation ~h^4 f^(8) and rounding ~eps/h^4, see docs/sqr.md).
"""

import json
import math

import numpy as np
import pytest

from quanttheory import Grid
from quanttheory.sqr import EXAMPLES, check

PI2 = math.pi ** 2


@pytest.fixture(scope="module")
def reports():
    out = {}
    for name in ["qsin", "msqe", "sinreq", *EXAMPLES]:
        out[name] = check(name, Grid(4, True))
    return out


@pytest.mark.parametrize("grid", [Grid(4, True), Grid(3, False), Grid(1, True), Grid(1, False), Grid(10, False)])
def test_qsin_is_sqr_with_tight_constants(grid):
    r = check("qsin", grid)
    assert r.is_sqr and r.passed, r.format_table()
    assert r.a.value == pytest.approx(4.0, rel=1e-12)
    assert r.a.kind == "half-integer" and r.a.u % 1 == 0.5
    assert r.b_prime.value == pytest.approx(PI2, rel=1e-9)
    assert "grid point (limit u->n)" in r.b_prime.kinds and "tail" in r.b_prime.kinds
    assert r.C_points.tolist() == list(range(grid.r_b, grid.r_t + 1))
    np.testing.assert_allclose(r.C_values, PI2, rtol=1e-7)
    assert r.C == pytest.approx(PI2, rel=1e-7)


def test_qsin_is_c3_not_c4(reports):
    r = reports["qsin"]
    g = Grid(4, True)
    assert r.smoothness_order == 3
    assert sorted(r.jumps) == [4]  # no jump in orders 0..3 anywhere
    j = r.jumps[4]
    assert j["u"] in (g.r_b, g.r_t)
    # inside: 4th derivative = -8 pi^4 cos(2 pi n) = -8 pi^4; quadratic tail: 0
    assert sorted([j["left"], j["right"]]) == pytest.approx([-8 * math.pi ** 4, 0.0], abs=1e-3 * 8 * math.pi ** 4)


def test_msqe_fails_smoothness_at_half_integers(reports):
    r = reports["msqe"]
    assert not r.is_sqr
    assert r["C0"].passed and not r["C1"].passed and not r["C2"].passed
    w = r["C1"].witness
    assert w.u[0] % 1 == 0.5
    assert w.values["left limit of phi'"] == pytest.approx(1.0, abs=1e-7)
    assert w.values["right limit of phi'"] == pytest.approx(-1.0, abs=1e-7)
    assert r["equivalence"].passed and r["order"].passed
    assert r.smoothness_order == 0


def test_sinreq_fails_equivalence_outside_grid(reports):
    r = reports["sinreq"]
    g = Grid(4, True)
    assert not r.is_sqr and not r["equivalence"].passed
    w = r["equivalence"].witness
    assert w.u == (g.r_t + 1,)
    assert w.values["phi"] == 0.0 and w.values["MSQE"] == 1.0
    assert not r["prop1.1"].passed and not r["theorem1"].passed
    # everything that only concerns [r_b, r_t] still holds
    assert r["order"].passed and r["C2"].passed and r["prop1.2"].passed and r["prop1.3"].passed


def test_quartic_polynomial_sqr(reports):
    r = reports["quartic"]
    assert r.is_sqr and r.passed, r.format_table()
    assert r.a.value == pytest.approx(0.5, rel=1e-12) and r.a.kind == "half-integer"
    assert r.b_prime.value == pytest.approx(1.0, rel=1e-9)
    np.testing.assert_allclose(r.C_values, 1.0, rtol=1e-7)
    assert r.smoothness_order == 2
    assert "order-3 derivative jumps" in r.smoothness_order_note and "24" in r.smoothness_order_note


def test_qsin_with_msqe_tails_fails_c2_at_boundary(reports):
    r = reports["qsin_msqe_tails"]
    g = Grid(4, True)
    assert not r.is_sqr and r["C1"].passed and not r["C2"].passed
    w = r["C2"].witness
    assert w.u[0] in (g.r_b, g.r_t)
    lims = sorted([w.values["left limit of phi''"], w.values["right limit of phi''"]])
    assert lims == pytest.approx([2.0, 2 * PI2], rel=1e-7)
    assert not r["prop2"].passed  # one-sided C = 1 in the tail vs pi^2 inside
    assert r["equivalence"].passed and r.a.value == pytest.approx(1.0, rel=1e-9)


def test_tail_minima_is_sqr_but_breaks_prop1(reports):
    r = reports["tail_minima"]
    g = Grid(4, True)
    assert r.is_sqr  # equivalence, order preservation, C^2 all hold
    assert not r["prop1.1"].passed
    w = r["prop1.1"].witness
    lo, u, hi = w.u
    assert u > g.r_t or u < g.r_b
    # independent evaluation of the closed form at the witness
    def f(x):
        t = x - g.r_t if x > g.r_t else g.r_b - x
        return PI2 * t * t * (1 + 0.5 * math.sin(math.pi * t) ** 2)
    assert f(u) < f(lo) and f(u) < f(hi)
    assert r.b_prime.value == pytest.approx(1.5 * PI2, rel=1e-4)


def test_lopsided_breaks_order_preservation(reports):
    r = reports["lopsided"]
    assert not r.is_sqr and not r["order"].passed
    assert r["equivalence"].passed and r["C2"].passed and r["prop1.2"].passed
    assert not r["prop1.3"].passed
    u1, u2 = r["order"].witness.u
    d1, d2 = u1 - round(u1), u2 - round(u2)
    f = lambda d: math.sin(math.pi * d) ** 2 * (1 + 0.3 * math.sin(2 * math.pi * d))
    assert abs(abs(d1) - abs(d2)) < 1e-12  # equal MSQE
    assert abs(f(d1) - f(d2)) > 0.01        # different phi


def test_cubic_tails_unbounded_ratio(reports):
    r = reports["cubic_tails"]
    assert r["C2"].passed and r["order"].passed
    # the third derivative jumps from 0 (QSin at r_t) to 6 (t^3) at the same point as QSin's 4th derivative jump
    # (-8 pi^4 -> 0): the order-3 jump is below 4 h |J4| = 12 at h = 1/256, resolved at h = 1/1024
    assert r.smoothness_order == 2 and r.jumps[3]["u"] in (-8, 7)
    assert abs(r.jumps[3]["left"] - r.jumps[3]["right"]) == pytest.approx(6.0, rel=1e-6)
    assert not r["equivalence"].passed
    w = r["equivalence"].witness
    assert w.u[0] > 1e5 and "grows without bound" in w.message


def test_off_mesh_kink_detected():
    # |sin(pi (u - 0.3))| kinks at n + 0.3, which is not a mesh point (0.3 * 256 = 76.8)
    def kinked(u, r_b, r_t):
        u = np.asarray(u, float)
        q = np.sin(np.pi * (u - np.rint(u))) ** 2 * (1 + 0.1 * np.abs(np.sin(np.pi * (u - 0.3))))
        return np.where(u < r_b, PI2 * (u - r_b) ** 2, np.where(u > r_t, PI2 * (u - r_t) ** 2, q))
    r = check(kinked, Grid(3, True))
    assert not r["C2"].passed
    u = r["C2"].witness.u[0]
    assert abs((u - 0.3) - round(u - 0.3)) <= 13 / 256


def test_user_scalar_function_matches_builtin():
    def my_qsin(u, r_b, r_t):
        if u < r_b:
            return math.pi ** 2 * (u - r_b) ** 2
        if u > r_t:
            return math.pi ** 2 * (u - r_t) ** 2
        return math.sin(math.pi * u) ** 2  # no range reduction: rounding grows with |u|
    r = check(my_qsin, Grid(8, True))
    assert r.is_sqr and r.passed, r.format_table()
    assert r.a.value == pytest.approx(4.0, rel=1e-9)
    assert r.C == pytest.approx(PI2, rel=1e-6)


def test_sampled_large_grid_reports_coverage():
    r = check("qsin", Grid(12, True), max_cells=64)
    assert r.coverage.cells_total == 4095 and r.coverage.cells_checked < 4095 and not r.coverage.complete
    assert any("checked" in n for n in r.notes)
    assert r.is_sqr and r.passed
    assert r.C_points[0] == -2048 and r.C_points[-1] == 2047


def test_report_serialization(reports):
    r = reports["sinreq"]
    d = json.loads(r.to_json())
    assert d["is_sqr"] is False
    eq = next(p for p in d["definition"] if p["key"] == "equivalence")
    assert eq["passed"] is False and eq["witness"]["u"] == [8.0]
    assert len(d["C_per_grid_point"]["values"]) == 16
    table = r.format_table()
    assert "FAIL" in table and "witness u = (8)" in table
    with pytest.raises(KeyError):
        r["nope"]


def test_phi_raising_names_input():
    def bad(u, r_b, r_t):
        u = np.asarray(u, float)
        if np.any(u > r_t + 3):
            raise ZeroDivisionError("boom")
        return np.sin(np.pi * u) ** 2
    with pytest.raises(ValueError, match=r"raised ZeroDivisionError: boom at u = "):
        check(bad, Grid(2, True))


def test_phi_nan_names_input():
    def nanphi(u, r_b, r_t):
        u = np.asarray(u, float)
        return np.where(u > r_t + 2.5, np.nan, np.sin(np.pi * u) ** 2)
    with pytest.raises(ValueError, match=r"returned nan at u = .*while checking"):
        check(nanphi, Grid(2, True))


def test_phi_wrong_shape():
    with pytest.raises(ValueError, match="shape"):
        check(lambda u, r_b, r_t: np.zeros(3), Grid(2, True))


@pytest.mark.parametrize("kw", [dict(points_per_cell=100), dict(points_per_cell=32), dict(max_cells=2),
                                dict(tail_cells=0), dict(far_tail=float("inf"))])
def test_bad_options(kw):
    with pytest.raises(ValueError):
        check("qsin", 3, **kw)


def test_bad_regularizer_name():
    with pytest.raises(ValueError, match="unknown regularizer"):
        check("nope", 3)


def test_flat_bottom_fails_equivalence_at_grid_points():
    # sin^4 has phi''(n) = 0: phi/MSQE -> 0 at every grid point, so no a > 0 (and Prop. 2's C = 0)
    def s4(u, r_b, r_t):
        u = np.asarray(u, float)
        return np.where(u < r_b, PI2 ** 2 * (u - r_b) ** 4, np.where(u > r_t, PI2 ** 2 * (u - r_t) ** 4,
                                                                      np.sin(np.pi * u) ** 4))
    r = check(s4, Grid(3, True))
    assert r["C2"].passed and r["order"].passed
    w = r["equivalence"].witness
    assert not r["equivalence"].passed and r.a.kind == "grid point (limit u->n)"
    # closed form at the witness u = n + 2^-10: sin^4(pi d)/d^2 inside, pi^4 d^2 in a tail (~9.3e-5)
    d = 2.0 ** -10
    u = w.u[0]
    ref = math.sin(math.pi * d) ** 4 / d ** 2 if -4 <= u <= 3 else math.pi ** 4 * d ** 2
    assert w.values["phi/MSQE"] == pytest.approx(ref, rel=1e-9)
    assert not r["prop2"].passed and "C must be > 0" in r["prop2"].witness.message


def test_very_flat_profile_at_half_integers_still_order_preserving():
    # p(d) = d^2 - 4 d^4 + 16/3 d^6 has p'(1/2) = p''(1/2) = 0 (solved by hand) but p' > 0 on (0, 1/2):
    # the last mesh step below 1/2 is ~1e-10, below the tie tolerance, yet the profile increases
    def flat(u, r_b, r_t):
        u = np.asarray(u, float)
        d = u - np.rint(u)
        return np.where(u < r_b, (u - r_b) ** 2, np.where(u > r_t, (u - r_t) ** 2,
                                                           d * d - 4 * d ** 4 + 16 / 3 * d ** 6))
    r = check(flat, Grid(4, True))
    assert r.is_sqr and r.passed, r.format_table()
    # a = p(1/2)/(1/4) = 4 (1/4 - 1/4 + 1/12) = 1/3
    assert r.a.value == pytest.approx(1 / 3, rel=1e-12)


def test_plateau_breaks_order_preservation():
    # phi constant for |d| >= 0.4: MSQE grows, phi does not
    def plateau(u, r_b, r_t):
        u = np.asarray(u, float)
        d = np.abs(u - np.rint(u))
        g = np.sin(np.pi * np.minimum(d, 0.4)) ** 2
        return np.where(u < r_b, PI2 * (u - r_b) ** 2, np.where(u > r_t, PI2 * (u - r_t) ** 2, g))
    r = check(plateau, Grid(4, True))
    w = r["order"].witness
    assert not r["order"].passed and "plateau" in w.message
    assert w.values["MSQE(u1)"] < w.values["MSQE(u2)"]
    assert w.values["phi(u1)"] == w.values["phi(u2)"] == pytest.approx(math.sin(0.4 * math.pi) ** 2)


@pytest.mark.parametrize("name", ["qsin", "msqe", "lopsided"])
def test_numba_kernel_matches_numpy_reference(name, monkeypatch):
    """The fused numba jump scan must reproduce the numpy/BLAS reference (same formulas; only the
    summation order differs, so 1e-9 relative)."""
    from quanttheory._fd import weights_array
    from quanttheory.sqr import smoothness

    def kinked(u, r_b, r_t):
        u = np.asarray(u, float)
        q = np.sin(np.pi * (u - np.rint(u))) ** 2 * (1 + 0.1 * np.abs(np.sin(np.pi * (u - 0.3))))
        return np.where(u < r_b, PI2 * (u - r_b) ** 2, np.where(u > r_t, PI2 * (u - r_t) ** 2, q))

    phi = kinked if name == "lopsided" else name
    out = []
    for flag in (True, False):
        monkeypatch.setattr(smoothness, "USE_NUMBA", flag)
        out.append(check(phi, Grid(3, True)).jumps)
    assert out[0].keys() == out[1].keys()
    for k in out[0]:
        assert out[0][k]["u"] == out[1][k]["u"] and out[0][k]["where"] == out[1][k]["where"]
        # the summation order differs: the rounding of an order-k estimate is ~ eps sum|w_k| / h^k max|phi|
        # (m = 8 nodes, h = 1/256, max|phi| <= 2 on the stencils); 16x that as a bound
        noise = 16 * np.finfo(float).eps * np.abs(weights_array(8, k)).sum() * 256.0 ** k * 2
        for f in ("left", "right", "threshold"):
            assert out[0][k][f] == pytest.approx(out[1][k][f], rel=1e-9, abs=noise)


@pytest.mark.slow
def test_qsin_16_bit_every_cell():
    r = check("qsin", Grid(16, True))
    assert r.coverage.complete and r.coverage.cells_checked == 65535
    assert r.is_sqr and r.passed
    assert r.smoothness_order == 3 and r.jumps[4]["u"] in (-32768, 32767)
    np.testing.assert_allclose(r.C_values, PI2, rtol=1e-7)
    assert r.C_points.size == 65536
