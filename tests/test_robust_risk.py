"""Issue #18 items 7, 12, 13, 15, 16, 17: risk-engine robustness.

Expected values are independent: closed forms (limits ``pi^2 E[xi^2]``), or
mpmath quadrature at 30+ digits split at every non-smooth point by hand."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from quanttheory import Grid, Laplace, Normal, ReLU, optimal_scale, risk_curve

LAWS = [Normal(0, 1), Laplace(0.3, 1), ReLU(Normal(0, 1)), ReLU(Laplace(0.2, 2))]


def _m2(law):
    """E[xi^2] in closed form (independent of the law classes' own second_moment)."""
    if isinstance(law, ReLU):
        b = law.base
        if isinstance(b, Normal):  # mu = 0: half of E[X^2]
            assert b.loc == 0
            return 0.5 * b.scale**2
        mu, s = b.loc, b.scale   # Laplace, mu >= 0: E[X^2; X > 0]
        return (mu * mu + 2 * s * s) - 0.5 * math.exp(-mu / s) * 2 * s * s
    return law.loc**2 + (law.scale**2 if isinstance(law, Normal) else 2 * law.scale**2)


# ------------------------------------------------------------- item 12 (+ extreme scales)
@pytest.mark.parametrize("law", LAWS, ids=str)
@pytest.mark.parametrize("reg", ["msqe", "qsin", "sinreq"])
@pytest.mark.parametrize("method", ["auto", "fast", "cells"])
def test_extreme_scales_no_warning_no_nan(law, reg, method):
    # s -> 0 and s -> inf: R -> pi^2 E[xi^2] (MSQE, QSin; SinReQ: -> 0 as s -> 0, its
    # curve is <= s^2); no RuntimeWarning (it used to leak from the fast path's cell count,
    # 1e-320 / overflow), and no NaN from s^2 = inf times sin^2 = 0 at s = 1e300
    g = Grid(4, not isinstance(law, ReLU))
    s = np.array([5e-324, 1e-320, 1e-300, 1e300, 1.7e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = risk_curve(law, s, g, reg, method=method)
    lim = math.pi**2 * _m2(law)
    assert np.all(np.isfinite(r))
    np.testing.assert_allclose(r[3:], lim, rtol=1e-12)
    if reg == "sinreq":
        assert np.all(r[:3] <= s[:3] ** 2 + 1e-300)
    else:
        np.testing.assert_allclose(r[:3], lim, rtol=1e-12)


def test_issue_example_tiny_scale_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = risk_curve(Normal(0, 1), [1e-320], Grid(4))
    assert r[0] == pytest.approx(math.pi**2, rel=1e-14)


# --------------------------------------------------------------------- item 7
def _neg(u, r_b, r_t):
    return -u * u


def _zero(u, r_b, r_t):
    return 0.0 * u


def _shifted_down(u, r_b, r_t):
    # MSQE - 1: negative everywhere near the grid, R(s) = MSQE(s) - s^2 -> -inf
    k = np.clip(np.rint(u), r_b, r_t)
    return (u - k) ** 2 - 1.0


@pytest.mark.parametrize("phi", [_neg, _zero, _shifted_down])
def test_user_phi_without_interior_minimum_raises(phi):
    with pytest.raises(ValueError, match="no interior minimum"):
        optimal_scale(Normal(0, 1), Grid(4), phi)


def test_user_phi_with_a_minimum_still_works():
    def msq(u, r_b, r_t):
        k = np.clip(np.rint(u), r_b, r_t)
        return (u - k) ** 2

    res = optimal_scale(Normal(0, 1), Grid(4), msq)
    ref = optimal_scale(Normal(0, 1), Grid(4), "msqe")
    assert res.scale == pytest.approx(ref.scale, rel=1e-8)


# --------------------------------------------------------------------- item 13
def _mp_user_risk(phi_mp, law, s, kmin, kmax, extra=()):
    """s^2 E[phi(xi/s)] by mpmath quad in grid units, split at every half-integer in
    [kmin, kmax] (and the points ``extra``): every place a corner can sit."""
    import mpmath as mp

    mp.mp.dps = 30
    s = mp.mpf(s)
    if isinstance(law, Normal):
        pdf = lambda x: mp.npdf(x, law.loc, law.scale)  # noqa: E731
    else:
        mu, b = mp.mpf(law.loc), mp.mpf(law.scale)
        pdf = lambda x: mp.exp(-abs(x - mu) / b) / (2 * b)  # noqa: E731
    pts = sorted(set([mp.mpf(k) / 2 for k in range(2 * kmin, 2 * kmax + 1)] + [mp.mpf(e) / s for e in extra]))
    return float(s * s * mp.quad(lambda u: phi_mp(u) * s * pdf(s * u), [-mp.inf] + pts + [mp.inf]))


def _abs_err(u, r_b, r_t):
    return np.abs(u - np.clip(np.rint(u), r_b, r_t))


def _abs_sin(u, r_b, r_t):
    return np.abs(np.sin(np.pi * u))


@pytest.mark.parametrize("law,grid,s", [
    (Normal(0, 1), Grid(4), 0.4),           # the audit's case: 0.0399800 against 0.0402527
    (Normal(0.3, 0.7), Grid(3), 0.25),
    (Laplace(0.3, 1), Grid(3, False), 0.7),
    (Laplace(-0.2, 0.5), Grid(2), 0.3),
])
def test_user_phi_with_corners_at_grid_points(law, grid, s):
    import mpmath as mp

    r_b, r_t = grid.r_b, grid.r_t

    def phi_mp(u):
        return abs(u - min(max(mp.nint(u), r_b), r_t))
    ref = _mp_user_risk(phi_mp, law, s, r_b, r_t, extra=[law.loc])
    got = risk_curve(law, [s], grid, _abs_err)[0]
    assert got == pytest.approx(ref, rel=1e-12)


def test_user_phi_with_corners_periodic_tails():
    import mpmath as mp

    from quanttheory.formats.regularizers import user_regularizer

    reg = user_regularizer(_abs_sin, periodic_tails=True)
    # |sin(pi u)| has a corner at every integer, also in the tails: split at all of them
    ref = _mp_user_risk(lambda u: abs(mp.sin(mp.pi * u)), Normal(0, 1), 0.4, -40, 40)
    assert risk_curve(Normal(0, 1), [0.4], Grid(4), reg)[0] == pytest.approx(ref, rel=1e-12)
