"""Adversarial regularizers for the SQR checker (issue #17), each verdict derived by hand first.

Notation: ``d = u - round(u)`` inside ``[r_b, r_t]``, ``t`` = distance beyond ``r_b``/``r_t`` (tails),
``MSQE = d^2`` inside and ``t^2`` in the tails; grid: 4-bit signed ``[-8, 7]`` unless stated.
For every phi the derivation is in its docstring; the assertions compare the checker with those
closed forms (evaluated independently here, or with mpmath at 30 digits), never with its own output.

Tolerances: constants that the checker refines (golden section to ``|du| < 1e-11``) or extrapolates
(Richardson) are compared at ``1e-9`` relative (issue #17.5); witnesses are re-evaluated from the
closed form.
"""

import math

import mpmath as mp
import numpy as np
import pytest

from quanttheory import Grid
from quanttheory.sqr import check

PI2 = math.pi ** 2
G = Grid(4, True)
GU = Grid(4, False)


def _tails(u, r_b, r_t, inner, f):
    u = np.asarray(u, float)
    t = np.maximum(np.maximum(r_b - u, u - r_t), 0.0)
    return np.where((u < r_b) | (u > r_t), f(t), inner)


def _qsin_in(u):
    return np.sin(np.pi * (u - np.rint(u))) ** 2


def _d(u):
    u = np.asarray(u, float)
    return np.abs(u - np.rint(u))


# ---------------------------------------------------------------------------------------------------
# zeros off the grid (#17.1)


def tail_cos_zeros(u, r_b, r_t):
    """QSin inside, tails ``pi^2 t^2 cos^2(pi t/2)``.  Zero at t = 1, 3, 5, ... where MSQE = t^2 > 0:
    no a > 0 (NOT an SQR).  C^2 holds: f(0) = f'(0) = 0, f''(0) = 2 pi^2 = QSin''(n) (even C^3:
    f'''(0) = 0; f''''(0) = -6 pi^4 vs -8 pi^4)."""
    return _tails(u, r_b, r_t, _qsin_in(np.asarray(u, float)), lambda t: PI2 * t * t * np.cos(np.pi * t / 2) ** 2)


def half_integer_zeros(u, r_b, r_t):
    """``sin^2(2 pi d)/4`` inside (= pi^2 d^2 + O(d^4): C = pi^2), QSin tails.  Zero at every
    half-integer where MSQE = 1/4: no a > 0; decreasing for |d| > 1/4: not order preserving."""
    d = np.asarray(u, float) - np.rint(u)
    return _tails(u, r_b, r_t, np.sin(2 * np.pi * d) ** 2 / 4, lambda t: PI2 * t * t)


def tail_zero_off_mesh(u, r_b, r_t):
    """QSin inside, tails ``pi^2 t^2 (1 - 1.5 t)^2 / (1 + 2.25 t^2)``: zero at t = 2/3, which is not a
    mesh point (2/3 * 256 is not an integer); g(0) = 1 keeps C^2.  NOT an SQR (a = 0); the root is
    found by refining the mesh minimum of phi/MSQE."""
    return _tails(u, r_b, r_t, _qsin_in(np.asarray(u, float)),
                  lambda t: PI2 * t * t * (1 - 1.5 * t) ** 2 / (1 + 2.25 * t * t))


@pytest.mark.parametrize("phi", [tail_cos_zeros, half_integer_zeros, tail_zero_off_mesh])
def test_zeros_off_the_grid_fail_equivalence_with_witness(phi):
    r = check(phi, G)
    eq = r["equivalence"]
    assert not r.is_sqr and not eq.passed and r.a.value == 0.0
    (u,) = eq.witness.u
    m = float(_tails(u, G.r_b, G.r_t, _d(u) ** 2, lambda t: t * t))
    p = float(phi(np.array([u]), G.r_b, G.r_t)[0])
    assert m > 0.1 and abs(p) <= 1e-12  # an independent evaluation: phi vanishes where MSQE does not
    assert not r["prop1.1"].passed  # the same root, the same tolerance
    if phi is tail_cos_zeros:
        t = u - G.r_t if u > G.r_t else G.r_b - u
        assert t == pytest.approx(round(t)) and round(t) % 2 == 1
        assert r["C2"].passed and r["order"].passed and r.smoothness_order == 3
    if phi is half_integer_zeros:
        assert u % 1 == 0.5 and not r["order"].passed
    if phi is tail_zero_off_mesh:
        t = u - G.r_t if u > G.r_t else G.r_b - u
        assert t == pytest.approx(2 / 3, abs=1e-6) and r["C2"].passed


# ---------------------------------------------------------------------------------------------------
# C^2 but not C^3 splines, jumps anywhere (#17.2)


def spline(d0):
    """``d^2`` for ``d <= d0``, then ``d^2 + c (d - d0)^3`` with ``c = -1/(3 (1/2 - d0)^2)`` so that the
    slope ``2d + 3c e^2`` vanishes at ``d = 1/2`` (``2 * 1/2 + 3c L^2 = 0``, ``L = 1/2 - d0``).  C^2 at d0
    (value, slope and curvature of ``d^2`` kept), C^1 at 1/2 (slope 0, mirrored), C^2 there too (the
    second derivative is even); ``phi'''`` jumps by ``6c`` at ``d0`` and by ``12c`` at 1/2: exactly C^2.
    ``q <= d^2`` and ``q' > 0`` on ``(0, 1/2)``: order preserving; ``a = 4 q(1/2) = 1 - 4 L/3 ... ``
    (= 2/3 for d0 = 1/4), ``b' = 1`` (|d| <= d0, MSQE tails, C = 1).  An SQR."""
    L = 0.5 - d0
    c = -1.0 / (3 * L * L)

    def phi(u, r_b, r_t):
        d = _d(u)
        return _tails(u, r_b, r_t, d * d + c * np.maximum(d - d0, 0.0) ** 3, lambda t: t * t)

    phi.__name__ = f"spline_{d0}"
    phi.a = 4 * (0.25 + c * L ** 3)
    phi.jump3 = abs(6 * c)
    return phi


def spline_c3():
    """``d^2 - 62.5 e^4 + 125 e^5``, ``e = (d - 0.3)_+``: q'(1/2) = 1 - 250/125 + 625/625 = 0 and
    q'''(1/2) = 24 (-62.5)(0.2) + 60 (125)(0.04) = 0, so the mirror at 1/2 is C^3; only phi'''' jumps
    (0 -> -1500 at d = 0.3, off the mesh): exactly C^3.  q(1/2) = 0.25 - 0.1 + 0.04 = 0.19: a = 0.76."""

    def phi(u, r_b, r_t):
        d = _d(u)
        e = np.maximum(d - 0.3, 0.0)
        return _tails(u, r_b, r_t, d * d - 62.5 * e ** 4 + 125 * e ** 5, lambda t: t * t)

    return phi


@pytest.mark.parametrize("d0", [0.25, 0.3, 0.47, 0.499])
def test_c2_not_c3_splines_are_sqrs(d0):
    phi = spline(d0)
    r = check(phi, G)
    assert r.is_sqr and r.passed, r.format_table()
    assert r.smoothness_order == 2
    j = r.jumps[3]
    frac = abs(j["u"] - round(j["u"]))
    assert min(abs(frac - d0), abs(frac - 0.5)) <= 1.5 / 256  # located within one mesh step (+ rounding)
    # third-derivative estimates: one-sided FD with Richardson at the level that decided (down to
    # h = 1/32768 for d0 = 0.499, whose segment is only 0.002 wide): ~1e-4 relative, 1e-3 allowed
    if abs(frac - 0.5) < 1e-12:  # exactly at the half-integer: 6c -> -6c
        assert abs(j["left"] - j["right"]) == pytest.approx(2 * phi.jump3, rel=1e-3)
    else:  # next to d0, within one step: the estimate is taken up to h away from the knot
        assert abs(j["left"] - j["right"]) == pytest.approx(phi.jump3, rel=1e-2)
    assert r.a.value == pytest.approx(phi.a, rel=1e-9) and r.a.kind == "half-integer"
    assert r.b_prime.value == pytest.approx(1.0, rel=1e-9)


def test_c3_spline_with_off_mesh_fourth_derivative_jump():
    r = check(spline_c3(), G)
    assert r.is_sqr and r.passed and r.smoothness_order == 3
    j = r.jumps[4]
    assert abs(abs(j["u"] - round(j["u"])) - 0.3) <= 1.5 / 256
    # the one-sided limits are taken at the mesh point next to 0.3, up to h away, where the 4th
    # derivative on the right is -1500 + 120 * 125 * e: it moves by 59 per mesh step (4% of 1500)
    assert abs(j["left"] - j["right"]) == pytest.approx(1500, rel=0.05)
    assert r.a.value == pytest.approx(0.76, rel=1e-9)


def kink_near_half(u, r_b, r_t):
    """``sin^2(pi d) - 0.05 (d - 0.49)_+``: a kink at |d| = 0.49 and, since the slope at 1/2 is
    -0.05 != 0, a kink of size 0.1 at every half-integer (phi' = -0.05 | +0.05).  NOT C^1."""
    d = _d(u)
    return _tails(u, r_b, r_t, np.sin(np.pi * d) ** 2 - 0.05 * np.maximum(d - 0.49, 0), lambda t: PI2 * t * t)


def test_kink_next_to_a_half_integer():
    r = check(kink_near_half, G)
    assert not r.is_sqr and not r["C1"].passed
    w = r["C1"].witness
    assert sorted([w.values["left limit of phi'"], w.values["right limit of phi'"]]) == pytest.approx(
        [-0.05, 0.05], abs=1e-6)
    assert w.u[0] % 1 == 0.5


# ---------------------------------------------------------------------------------------------------
# kinks and jumps at grid points where phi vanishes (#17.3)


def cusp(u, r_b, r_t):
    """``s^2 + 0.01 s`` with ``s = |sin(pi d)|`` (tails ``pi^2 t^2 + 0.01 pi t``): phi(n) = 0 but
    phi'(n+-) = +-0.01 pi, so phi/MSQE ~ 0.01 pi/|d| is unbounded: no b'.  Not C^1."""
    s = np.abs(np.sin(np.pi * (np.asarray(u, float) - np.rint(u))))
    return _tails(u, r_b, r_t, s * s + 0.01 * s, lambda t: PI2 * t * t + 0.01 * np.pi * t)


def tail_assumes_rb0(u, r_b, r_t):
    """QSin with the lower tail written as ``pi^2 u^2`` (assumes r_b = 0).  Unsigned grid: exactly QSin
    (an SQR).  Signed grid: phi(r_b - 0) = pi^2 r_b^2 = 64 pi^2 != 0 = phi(r_b): a jump where MSQE = 0,
    phi/MSQE ~ 64 pi^2/d^2 unbounded.  Not C^0."""
    u = np.asarray(u, float)
    return np.where(u < r_b, PI2 * u * u, np.where(u > r_t, PI2 * (u - r_t) ** 2, _qsin_in(u)))


def step_at_grid(u, r_b, r_t):
    """QSin + 0.1 [d > 0] (tails + 0.1): phi(n) = 0, phi(n+) = 0.1: unbounded ratio, not C^0."""
    d = np.asarray(u, float) - np.rint(u)
    return _tails(u, r_b, r_t, _qsin_in(np.asarray(u, float)) + 0.1 * (d > 0), lambda t: PI2 * t * t + 0.1)


def cusp_15(u, r_b, r_t):
    """``sin^2(pi d) + |d|^1.5`` (tails ``pi^2 t^2 + t^1.5``): phi(n) = phi'(n+-) = 0, yet
    phi/MSQE ~ |d|^-1/2 is unbounded (no kink in phi itself: caught by the growth of the ratio)."""
    d = _d(u)
    return _tails(u, r_b, r_t, np.sin(np.pi * d) ** 2 + d ** 1.5, lambda t: PI2 * t * t + t ** 1.5)


@pytest.mark.parametrize("phi", [cusp, tail_assumes_rb0, step_at_grid, cusp_15])
def test_kink_or_jump_where_phi_vanishes_makes_b_prime_unbounded(phi):
    r = check(phi, G)
    eq = r["equivalence"]
    assert not r.is_sqr and not eq.passed
    assert r.b_prime.value == math.inf and r.b_prime.kind == "grid point (limit u->n)"
    assert "unbounded" in eq.witness.message
    (u,) = eq.witness.u
    n = round(u)
    # independent: the ratio at the witness and 16x closer grows like 1/d (kink) or 1/d^2 (jump)
    ratio = lambda x: float(phi(np.array([x]), G.r_b, G.r_t)[0]) / (x - n) ** 2
    # growth factor when d shrinks 16x: 16 (kink), 256 (jump); cusp_15: (pi^2 + 4x)/(pi^2 + x), x = d^-1/2 >= 90
    assert ratio(n + (u - n) / 16) >= (3.5 if phi is cusp_15 else 15) * ratio(u)
    assert not r["C1"].passed or phi is cusp_15
    assert not r["C2"].passed
    if phi is tail_assumes_rb0:
        assert n == G.r_b and not r["C0"].passed
        assert r["C0"].witness.values["left limit of phi (continuity)"] == pytest.approx(64 * PI2, rel=1e-6)
    assert not r["theorem1"].passed


def test_tail_assuming_unsigned_grid_is_qsin_on_the_unsigned_grid():
    r = check(tail_assumes_rb0, GU)
    assert r.is_sqr and r.passed
    assert r.a.value == pytest.approx(4.0, rel=1e-12) and r.b_prime.value == pytest.approx(PI2, rel=1e-9)
    assert r.smoothness_order == 3


def signed4_hardcoded(u, r_b, r_t):
    """QSin with the tails hard-coded at -8 and 7 (a 4-bit signed grid).  Signed 4-bit: exactly QSin.
    Unsigned [0, 15]: phi(8) = pi^2 (8 - 7)^2 != 0 at a grid integer (MSQE = 0): no b'; NOT an SQR."""
    u = np.asarray(u, float)
    return np.where(u < -8, PI2 * (u + 8) ** 2, np.where(u > 7, PI2 * (u - 7) ** 2, _qsin_in(u)))


def test_phi_assuming_a_signed_grid():
    assert check(signed4_hardcoded, G).passed
    r = check(signed4_hardcoded, GU)
    assert not r.is_sqr and r.b_prime.value == math.inf
    (u,) = r["equivalence"].witness.u
    assert u == round(u) and 8 <= u <= 15
    assert r["equivalence"].witness.values["phi"] == pytest.approx(PI2 * (u - 7) ** 2, rel=1e-12)


# ---------------------------------------------------------------------------------------------------
# drifting period


def drift(u, r_b, r_t):
    """``sin^2(pi u (1 + 1e-6))`` inside, QSin tails: phi(n) = sin^2(pi n 1e-6) ~ (pi n 1e-6)^2 != 0
    (6.3e-10 at n = -8): no b'; period 1 fails (phi(u + k) - phi(u) ~ pi k 1e-6 sin(2 pi u))."""
    u = np.asarray(u, float)
    return _tails(u, r_b, r_t, np.sin(np.pi * u * (1 + 1e-6)) ** 2, lambda t: PI2 * t * t)


def test_drifting_period():
    r = check(drift, G)
    assert not r.is_sqr and not r["equivalence"].passed and not r["prop1.2"].passed
    (u,) = r["equivalence"].witness.u
    assert u == round(u)
    assert r["equivalence"].witness.values["phi"] == pytest.approx(math.sin(math.pi * u * (1 + 1e-6)) ** 2, rel=1e-6)
    assert abs(u) >= 7  # the largest drift is at the ends of the grid


# ---------------------------------------------------------------------------------------------------
# narrow bumps and dips (#17 "document what is below the mesh")


def dip(w, c=0.3, depth=0.5):
    """QSin times ``1 - depth exp(-((|d| - c)/w)^2)``: phi decreases on the way into the dip while
    MSQE increases: NOT order preserving (and a local minimum of phi: Prop. 1(1))."""

    def phi(u, r_b, r_t):
        d = _d(u)
        return _tails(u, r_b, r_t, _qsin_in(np.asarray(u, float)) * (1 - depth * np.exp(-((d - c) / w) ** 2)),
                      lambda t: PI2 * t * t)

    return phi


def _order_witness_ok(r, phi):
    u1, u2 = r["order"].witness.u
    m = lambda x: _d(x) ** 2
    p = lambda x: float(phi(np.array([x]), G.r_b, G.r_t)[0])
    return m(u1) < m(u2) and p(u1) > p(u2)


def test_resolved_dip_breaks_order_preservation():
    phi = dip(0.02)  # 5 mesh steps wide: resolved, C^infinity inside (C^3 overall, QSin's r_b/r_t)
    r = check(phi, G)
    assert not r.is_sqr and not r["order"].passed and _order_witness_ok(r, phi)
    assert r["C2"].passed and r.smoothness_order == 3


def test_partially_seen_dip_found_by_refinement():
    """Width 1e-3 centred half-way between mesh points (77.5/256): the mesh values are lowered by only
    exp(-3.8) * 50% = 1.1%, which keeps every mesh profile increasing (the step is ~1.8% of phi); the
    ratio phi/MSQE has a discrete local minimum there, and its golden-section refinement lands in the
    dip, where phi is ~50% lower than at smaller MSQE: the order-preservation witness is off-mesh."""
    phi = dip(1e-3, c=77.5 / 256)
    r = check(phi, G)
    assert not r["order"].passed and _order_witness_ok(r, phi)
    assert "between mesh points" in r["order"].witness.message
    # the dip is also a local minimum of phi that no mesh point shows: Prop. 1(1), witness re-evaluated
    lo, u, hi = r["prop1.1"].witness.u
    p = lambda x: float(phi(np.array([x]), G.r_b, G.r_t)[0])
    assert not r["prop1.1"].passed and p(u) < p(lo) and p(u) < p(hi)
    assert abs(abs(u - round(u)) - 77.5 / 256) < 1e-3


def test_narrow_smooth_dip_on_the_mesh_is_not_a_jump():
    """Width 1e-3 (a quarter of the mesh step) centred at 0.3: phi is C^infinity there (C^3 overall), but
    the 1/256 stencils see a kink; the local re-examination on meshes 16x and 64x finer resolves the
    Gaussian and drops the false jumps.  Order preservation still fails (the dip is real)."""
    phi = dip(1e-3)
    r = check(phi, G)
    assert r["C2"].passed and r.smoothness_order == 3
    assert not r["order"].passed and _order_witness_ok(r, phi)


def tail_narrow_bump(u, r_b, r_t):
    """QSin, tails ``pi^2 t^2 (1 + 0.5 exp(-((t - 2.3)/0.003)^2))``: as ``tail_bump`` but narrower than
    one mesh step: still an SQR (ratio in [pi^2, 1.5 pi^2], C^infinity in the tail), b' = 1.5 pi^2 at
    t = 2.3, an extra tail minimum (Prop. 1(1))."""
    return _tails(u, r_b, r_t, _qsin_in(np.asarray(u, float)),
                  lambda t: PI2 * t * t * (1 + 0.5 * np.exp(-((t - 2.3) / 0.003) ** 2)))


def test_tail_bump_narrower_than_the_mesh():
    r = check(tail_narrow_bump, G)
    assert r.is_sqr and r["C2"].passed and r.smoothness_order == 3
    assert r.b_prime.value == pytest.approx(1.5 * PI2, rel=1e-9)
    assert not r["prop1.1"].passed


def test_dip_below_the_mesh_is_a_documented_blind_spot():
    """Width 4e-4 centred half-way between mesh points: exp(-(h/2w)^2) = exp(-24) ~ 4e-11 of it reaches
    the mesh, below every tolerance, so the default mesh (1/256) cannot see it (docs/sqr.md, "what a pass
    does not prove"); a mesh 16x finer (4096 points per cell) resolves it."""
    phi = dip(4e-4, c=77.5 / 256)
    assert check(phi, G).is_sqr  # the blind spot, stated in the docs
    r = check(phi, G, points_per_cell=4096)
    assert not r.is_sqr and not r["order"].passed and _order_witness_ok(r, phi)


def bump(u, r_b, r_t):
    """QSin times ``1 + 0.5 exp(-((|d| - 77.5/256)/1e-3)^2)``: a narrow bump between mesh points; past
    its top phi decreases while MSQE increases: NOT order preserving, found by refining the discrete
    local maximum of phi/MSQE."""
    d = _d(u)
    return _tails(u, r_b, r_t, _qsin_in(np.asarray(u, float)) * (1 + 0.5 * np.exp(-((d - 77.5 / 256) / 1e-3) ** 2)),
                  lambda t: PI2 * t * t)


def test_narrow_bump_between_mesh_points():
    r = check(bump, G)
    assert not r["order"].passed and _order_witness_ok(r, bump)
    # b' is the refined top of the bump: ratio at |d| = c (its derivative in d vanishes within ~1e-6)
    c = 77.5 / 256
    assert r.b_prime.value == pytest.approx(1.5 * math.sin(math.pi * c) ** 2 / c ** 2, rel=1e-5)


def tail_bump(u, r_b, r_t):
    """QSin, tails ``pi^2 t^2 (1 + 0.5 exp(-((t - 2.3)/0.05)^2))``.  Ratio in [pi^2, 1.5 pi^2] (max at
    t = 2.3, off the mesh): an SQR with a = 4, b' = 1.5 pi^2; past the bump phi'(t) < 0 (at
    t = 2.3 + 0.05/sqrt 2: 2 pi^2 t (1 + g/2) + pi^2 t^2 g'/2 = 59.8 - 458 < 0): an extra local minimum
    in the tail, Prop. 1(1) fails (the exit status covers the definition only)."""
    return _tails(u, r_b, r_t, _qsin_in(np.asarray(u, float)),
                  lambda t: PI2 * t * t * (1 + 0.5 * np.exp(-((t - 2.3) / 0.05) ** 2)))


def test_tail_bump_refined_b_prime_and_extra_minimum():
    r = check(tail_bump, G)
    assert r.is_sqr and not r.passed and r.exit_status() == 0 and r.exit_status(strict=True) == 1
    assert r.b_prime.value == pytest.approx(1.5 * PI2, rel=1e-9)
    assert abs(abs(r.b_prime.u - (G.r_t if r.b_prime.u > 0 else G.r_b)) - 2.3) < 1e-5
    assert "golden section" in r.b_prime.method
    assert not r["prop1.1"].passed and "local minimum" in r["prop1.1"].witness.message


# ---------------------------------------------------------------------------------------------------
# tails whose ratio has its extreme only at infinity, or inside a tail cell (#17.5)


def tail_limit_sup(u, r_b, r_t):
    """QSin, tails ``pi^2 t^2 (1 + (t/(1+t))^3)``: the ratio increases to 2 pi^2 as t -> inf (2 pi^2
    (1 - 1.5e-6) at t = 1e6): b' = 2 pi^2 is a limit at infinity only.  g(0) = 1, g'(0) = g''(0) = 0:
    C^3 at r_b/r_t.  An SQR: a = 4 (half-integers)."""
    return _tails(u, r_b, r_t, _qsin_in(np.asarray(u, float)), lambda t: PI2 * t * t * (1 + (t / (1 + t)) ** 3))


def tail_limit_inf(u, r_b, r_t):
    """QSin, tails ``pi^2 t^2 (1 - 0.7 (t/(1+t))^3)``: the ratio decreases to 0.3 pi^2 = 2.96 < 4 at
    infinity: a = 0.3 pi^2, a limit only.  f' = pi^2 t (2 - 1.4 r^3 - 2.1 r^3/(1+t)) > 0 (r = t/(1+t)):
    no tail minima.  An SQR, b' = pi^2."""
    return _tails(u, r_b, r_t, _qsin_in(np.asarray(u, float)), lambda t: PI2 * t * t * (1 - 0.7 * (t / (1 + t)) ** 3))


def tail_interior_max(u, r_b, r_t):
    """QSin, tails ``pi^2 t^2 (1 + t^2/(1 + t^3))``: the ratio's maximum is at t = 2^(1/3) (root of
    2t - t^4), b' = pi^2 (1 + 2^(2/3)/3), not a mesh point.  An SQR."""
    return _tails(u, r_b, r_t, _qsin_in(np.asarray(u, float)), lambda t: PI2 * t * t * (1 + t * t / (1 + t ** 3)))


def test_tail_limits_at_infinity_are_extrapolated():
    r = check(tail_limit_sup, G)
    assert r.is_sqr and r.passed
    assert r.b_prime.value == pytest.approx(2 * PI2, rel=1e-9)  # the far sample alone is 1.5e-6 off
    assert r.b_prime.kind == "far tail (limit u -> inf)" and "asymptotic fit" in r.b_prime.method
    r = check(tail_limit_inf, G)
    assert r.is_sqr and r.passed
    assert r.a.value == pytest.approx(0.3 * PI2, rel=1e-9)
    assert r.a.kind == "far tail (limit u -> inf)"


def test_tail_interior_extreme_is_refined():
    r = check(tail_interior_max, G)
    assert r.is_sqr and r.passed
    assert r.b_prime.value == pytest.approx(PI2 * (1 + 2 ** (2 / 3) / 3), rel=1e-9)
    t = abs(r.b_prime.u - (G.r_t if r.b_prime.u > 0 else G.r_b))
    assert t == pytest.approx(2 ** (1 / 3), abs=1e-4)


def test_lopsided_b_prime_matches_mpmath():
    """lopsided: sin^2(pi d)(1 + 0.3 sin 2 pi d)/d^2 has its maximum off the mesh; mpmath (30 digits)
    maximizes it on (0, 1/2] and [-1/2, 0)."""
    mp.mp.dps = 30
    f = lambda d: mp.sin(mp.pi * d) ** 2 * (1 + mp.mpf("0.3") * mp.sin(2 * mp.pi * d)) / d ** 2
    df = lambda d: mp.diff(f, d)
    best = max(f(mp.findroot(df, x0)) for x0 in (mp.mpf("0.05"), mp.mpf("0.1"), mp.mpf("0.2")))
    r = check("lopsided", G)
    assert r.b_prime.value == pytest.approx(float(best), rel=1e-9)


def test_qsin_constants_and_methods():
    r = check("qsin", G)
    assert r.a.value == pytest.approx(4.0, rel=1e-12)
    assert r.b_prime.value == pytest.approx(PI2, rel=1e-9)
    assert r.a.method and r.b_prime.method
