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
