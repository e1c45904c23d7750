"""Exact linear-model theory (quanttheory.linear.theory) against independent references.

References: exact rational MP moments (Narayana polynomials), mpmath quadrature at 20
digits of the defining integrals (tolerance 1e-9 relative, no absolute slack: observed
<= 6.3e-12, except E_t ~ 2.8e-183 at alpha = 0.3, t = 1000: 3.7e-10 from this reference,
1.4e-10 from a 40-digit one; there every rounding of an edge node is multiplied by 2t),
closed-form limits, scipy.integrate.quad for the density's mass and mean.
"""

from fractions import Fraction
from math import comb

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy.integrate import quad

from quanttheory.linear import theory as th

ALPHAS = [0.3, 0.99, 1.0, 1.01, 4.0]
RTOL = 1e-9  # observed 3.7e-10 (E_t ~ 2.8e-183 at alpha = 0.3, t = 1000), <= 6.3e-12 elsewhere
TIMES = [0.01, 1.0, 30.0, 1000.0]


def narayana_moment(alpha, k):
    """int rho lambda^k (k >= 1) of the MP law = sum_j N(k, j) alpha^j (exact rationals)."""
    a = Fraction(alpha).limit_denominator(10**6)
    return sum(Fraction(comb(k, j) * comb(k, j - 1), k) * a**j for j in range(1, k + 1))


@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.5])
def test_gauss_rule_reproduces_mp_moments(alpha):
    rule = th.mp_rule(alpha, 10)  # exact to degree 19
    assert rule.weights.sum() == pytest.approx(min(1.0, alpha), rel=1e-14)
    for k in range(1, 20):
        exact = float(narayana_moment(alpha, k))
        got = rule.weights @ rule.nodes**k
        assert got == pytest.approx(exact, rel=1e-12), k


@pytest.mark.parametrize("alpha", [0.25, 2.0])
def test_density_mass_and_mean_quad(alpha):
    lo, hi = th.mp_edges(alpha)
    f = lambda x: float(th.mp_density(np.array([x]), alpha)[0])  # noqa: E731
    mass = quad(f, lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0]
    mean = quad(lambda x: x * f(x), lo, hi, epsabs=0, epsrel=1e-12, limit=200)[0]
    assert mass + th.mp_atom(alpha) == pytest.approx(1.0, rel=1e-9)
    assert mean == pytest.approx(alpha, rel=1e-9)  # E[lambda] = tr(X^T X)/N = P/N


mp.mp.dps = 20  # 1e-20 working precision, far below the tolerance


def _ref(alpha, t, S, s2, eta=None):
    """mpmath: theta-substituted integrals (lambda = l_- + 2 r sin^2(theta/2)); returns (E_g, E_t).

    The substitution removes the square-root endpoints (and the 1/sqrt(l) singularity at
    alpha = 1).  The integrands concentrate within ~1/t of the lower edge (e^{-2 l t}), so the
    breakpoints sit at l = l_- + x/t, x = 0.01 ... 200 (with t-independent breakpoints,
    E_t(t = 1000) ~ 1e-183 at alpha = 0.3 was off by 3.5e-5 and the test passed only through
    pytest.approx's default abs = 1e-12).
    """
    a = mp.mpf(alpha)
    lo, hi = (1 - mp.sqrt(a)) ** 2, (1 + mp.sqrt(a)) ** 2
    r = (hi - lo) / 2
    t = mp.mpf(t)

    def q_of(lam):
        if eta is None:
            return mp.exp(-lam * t)
        return (1 - mp.mpf(eta) * lam) ** int(round(float(t) / eta))

    def one_minus_q_sq_over_lam(lam):
        if eta is None:
            return mp.expm1(-lam * t) ** 2 / lam
        return (1 - q_of(lam)) ** 2 / lam

    def w(th_):
        lam = lo + 2 * r * mp.sin(th_ / 2) ** 2
        return lam, r * r * mp.sin(th_) ** 2 / (2 * mp.pi * lam)

    def fg(th_):
        lam, wt = w(th_)
        q = q_of(lam)
        return wt * (S * q * q + s2 * one_minus_q_sq_over_lam(lam))

    def ft(th_):
        lam, wt = w(th_)
        q = q_of(lam)
        return wt * (lam * S + s2) * q * q

    inner = [2 * mp.asin(mp.sqrt(mp.mpf(x) / t / (2 * r))) for x in (0.01, 0.1, 0.5, 1, 2, 5, 10, 20, 50, 200)
             if mp.mpf(x) / t < 2 * r]
    pts = [mp.mpf(0)] + inner + [mp.pi]
    eg = max(0, 1 - a) * S + mp.quad(fg, pts) + s2
    et = mp.quad(ft, pts) / a + (1 - 1 / a) * s2 * (1 if a > 1 else 0)
    return float(eg), float(et)


@pytest.mark.parametrize("alpha", ALPHAS)
def test_curves_match_mpmath(alpha):
    S, s2 = 1.0 + 0.25, 0.09
    c = th.learning_curves(TIMES, alpha, 1.0, 0.5, 0.3)
    for i, t in enumerate(TIMES):
        eg, et = _ref(alpha, t, S, s2)
        assert c.E_g[i] == pytest.approx(eg, rel=RTOL, abs=0), (alpha, t)
        assert c.E_t[i] == pytest.approx(et, rel=RTOL, abs=0), (alpha, t)


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_discrete_map_matches_mpmath(alpha):
    eta = 0.1
    t = np.array([0.1, 2.0, 30.0])
    c = th.learning_curves(t, alpha, 1.0, 0.5, 0.3, eta=eta)
    for i in range(t.size):
        eg, et = _ref(alpha, t[i], 1.25, 0.09, eta=eta)
        assert c.E_g[i] == pytest.approx(eg, rel=RTOL, abs=0)
        assert c.E_t[i] == pytest.approx(et, rel=RTOL, abs=0)


def test_vectorized_equals_scalar_and_shape():
    t = np.array([[0.0, 0.5], [3.0, np.inf]])
    c = th.learning_curves(t, 0.7, 1.0, 0.2, 0.4)
    assert c.E_g.shape == (2, 2)
    for idx in np.ndindex(t.shape):
        s = th.learning_curves(float(t[idx]), 0.7, 1.0, 0.2, 0.4)
        assert isinstance(s.E_g, float)
        assert s.E_g == pytest.approx(c.E_g[idx], rel=1e-13)
        assert s.E_t == pytest.approx(c.E_t[idx], rel=1e-13, abs=1e-300)


@pytest.mark.parametrize("alpha", [0.3, 4.0])
def test_limits_closed_form_vs_quadrature(alpha):
    # int rho_c / lambda by mpmath, independent of the closed form alpha/(1-alpha) or 1/(alpha-1)
    lo, hi = th.mp_edges(alpha)
    inv = mp.quad(lambda x: mp.sqrt((hi - x) * (x - lo)) / (2 * mp.pi * x * x), [lo, hi])
    S, s2 = 1.3, 0.2
    eg_ref = max(0, 1 - alpha) * S + s2 * float(inv) + s2
    lim = th.asymptotic_errors(alpha, np.sqrt(1.0), np.sqrt(0.3), np.sqrt(0.2))
    assert lim.E_g_inf == pytest.approx(eg_ref, rel=1e-12)
    # the finite-t curve converges to it (e^{-2 l_- t} is below 1e-100 at t = 3000)
    assert th.generalization_error(3000.0, alpha, 1.0, np.sqrt(0.3), np.sqrt(0.2)) == pytest.approx(
        eg_ref, rel=1e-11)
    assert th.generalization_error(np.inf, alpha, 1.0, np.sqrt(0.3), np.sqrt(0.2)) == lim.E_g_inf


def test_alpha_one_diverges_with_noise():
    assert th.asymptotic_errors(1.0, 1, 0, 0.1).E_g_inf == np.inf
    eg = th.generalization_error([1e2, 1e3, 1e4], 1.0, 1, 0, 0.1)
    assert np.all(np.diff(eg) > 0)  # grows like sqrt(t) (rho ~ 1/sqrt(lambda) at 0)
    # E_g(4t) - s2 ~ 2 (E_g(t) - s2) for large t: the sqrt(t) law
    r = (th.generalization_error(4e4, 1.0, 1, 0, 0.1) - th.generalization_error(1e4, 1.0, 1, 0, 0.1))
    r0 = th.generalization_error(1e4, 1.0, 1, 0, 0.1) - th.generalization_error(2500.0, 1.0, 1, 0, 0.1)
    assert r / r0 == pytest.approx(2.0, rel=0.02)


@pytest.mark.parametrize("alpha,se", [(0.5, 0.3), (1.0, 0.1), (2.0, 0.5), (0.9, 0.05)])
def test_optimal_stopping_is_global_min_on_fine_grid(alpha, se):
    o = th.optimal_stopping(alpha, 1.0, 0.2, se)
    grid = np.geomspace(1e-3, 1e4, 3000)
    eg = th.generalization_error(grid, alpha, 1.0, 0.2, se)
    assert o.E_g_opt <= eg.min() * (1 + 1e-12)
    # a single sign change of dE_g/dt over the whole range (unimodality in these cases)
    d = np.diff(eg)
    assert np.count_nonzero((d[:-1] < 0) & (d[1:] >= 0)) == 1
    # stationarity: central difference of E_g at t_opt is ~0 relative to the curvature scale
    h = 1e-4 * o.t_opt
    g = th.generalization_error([o.t_opt - h, o.t_opt, o.t_opt + h], alpha, 1.0, 0.2, se)
    assert g[1] <= min(g[0], g[2]) + 1e-15
    assert o.E_t_at_opt == pytest.approx(th.training_error(o.t_opt, alpha, 1.0, 0.2, se))


def test_optimal_stopping_without_noise_is_infinite():
    o = th.optimal_stopping(0.5, 1.0, 0.0, 0.0)
    assert o.t_opt == np.inf and o.E_g_opt == pytest.approx(0.5)


@given(alpha=st.floats(0.05, 6.0), sw=st.floats(0.0, 2.0), s0=st.floats(0.0, 2.0),
       se=st.floats(0.0, 1.0))
def test_curve_properties(alpha, sw, s0, se):
    t = np.array([0.0, 0.1, 1.0, 10.0, 100.0])
    c = th.learning_curves(t, alpha, sw, s0, se)
    S, s2 = sw * sw + s0 * s0, se * se
    # at t = 0 both errors are S + sigma^2 (derived in the module docstring)
    assert c.E_g[0] == pytest.approx(S + s2, rel=1e-12, abs=1e-15)
    assert c.E_t[0] == pytest.approx(S + s2, rel=1e-12, abs=1e-15)
    assert np.all(np.diff(c.E_t) <= 1e-14 * (S + s2))  # training error never increases
    assert np.all(c.E_g >= s2 * (1 - 1e-12))
    assert np.all(c.E_t >= 0)


@pytest.mark.parametrize("bad,exc", [
    (dict(alpha=0.0), ValueError), (dict(alpha=-1.0), ValueError), (dict(alpha=np.nan), ValueError),
    (dict(alpha=True), TypeError), (dict(sigma_w=-1.0), ValueError), (dict(sigma_w0=-0.1), ValueError),
    (dict(sigma_eps=np.inf), ValueError), (dict(t=[1.0, np.nan]), ValueError), (dict(t=-1.0), ValueError),
    (dict(t=[1 + 1j]), TypeError), (dict(eta=1.0, alpha=1.0), ValueError),
    (dict(eta=0.1, t=0.15), ValueError), (dict(t=1e9), ValueError),
])
def test_bad_input(bad, exc):
    kw = dict(t=1.0, alpha=0.5, sigma_w=1.0, sigma_w0=0.0, sigma_eps=0.1)
    kw.update(bad)
    t = kw.pop("t")
    with pytest.raises(exc):
        th.learning_curves(t, **kw)


def test_unstable_eta_message():
    with pytest.raises(ValueError, match=r"eta \* lambda_max = 4 > 2"):
        th.generalization_error(1.0, 1.0, eta=1.0)


# ----------------------------------------------------------------------------- discrete map, overshooting
def _exact_discrete(alpha, eta, k, S, s2):
    """Exact rational E_g, E_t of the discrete map after k steps (issue #18 item 1 reference).

    q = (1 - eta l)^k is a polynomial in l, so every integral is a finite sum of MP moments:
    int rho_c l^j = Narayana polynomial (j >= 1), min(1, alpha) (j = 0).  Fractions, no rounding.
    """
    a, e, S, s2 = (Fraction(x) for x in (alpha, eta, S, s2))
    m = [min(Fraction(1), a)] + [narayana_moment(a, j) for j in range(1, 2 * k + 2)]
    q2 = [comb(2 * k, j) * (-e) ** j for j in range(2 * k + 1)]          # (1 - e l)^(2k)
    p = [-comb(k, j + 1) * (-e) ** (j + 1) for j in range(k)]            # (1 - q) / l
    p2 = [sum(p[i] * p[j - i] for i in range(max(0, j - k + 1), min(j, k - 1) + 1)) for j in range(2 * k - 1)]
    eg = max(Fraction(0), 1 - a) * S + S * sum(c * m[j] for j, c in enumerate(q2)) + s2
    eg += s2 * sum(c * m[j + 1] for j, c in enumerate(p2))               # (1-q)^2 / l = l p^2
    et = (S * sum(c * m[j + 1] for j, c in enumerate(q2)) + s2 * sum(c * m[j] for j, c in enumerate(q2))) / a
    if a > 1:
        et += (1 - 1 / a) * s2
    return float(eg), float(et)


# alpha = 1: lambda_+ = 4, steps overshoot (1 < eta lambda < 2) for eta > 0.25;
# alpha = 1/4: lambda_+ = 9/4, overshoot for eta > 4/9.
SWEEP = [(1.0, "0.26"), (1.0, "0.37"), (1.0, "0.45"), (1.0, "0.4999"), (0.25, "0.6"), (0.25, "0.8888")]


@pytest.mark.parametrize("alpha,eta", SWEEP)
def test_discrete_map_overshooting_steps_exact(alpha, eta):
    """t = k * eta formed in floating point (as a user does) gives the exact rational answer.

    Before the fix t/eta was recomputed in floating point and a negative base raised to a
    non-integer power: NaN at 7-15 % of the step counts (e.g. alpha = 1, eta = 0.4999, k = 20).
    Tolerance 1e-11 relative: Gauss with k + 2 nodes is exact for these polynomials; the rest is
    round-off of sums of O(k) terms of size <= S.
    """
    e = float(eta)
    ks = np.arange(0, 41)
    t = ks * e
    c = th.learning_curves(t, alpha, 1.0, 0.5, 0.4, eta=e)
    assert np.all(np.isfinite(c.E_g)) and np.all(np.isfinite(c.E_t))
    assert np.all(c.E_t >= 0)
    for k in range(0, 41, 3):
        eg, et = _exact_discrete(alpha, Fraction(eta), k, Fraction(5, 4), Fraction(4, 25))
        assert c.E_g[k] == pytest.approx(eg, rel=1e-11, abs=1e-15), (k, eg)
        assert c.E_t[k] == pytest.approx(et, rel=1e-11, abs=1e-15), (k, et)


def test_discrete_map_issue_example_and_dense_sweep():
    """The reported case, and a dense (eta, k) sweep: never NaN, equal to the direct power sum."""
    c = th.learning_curves(20 * 0.4999, 1.0, 1.0, 0.5, 0.4, eta=0.4999)
    eg, et = _exact_discrete(1.0, Fraction("0.4999"), 20, Fraction(5, 4), Fraction(4, 25))
    assert c.E_g == pytest.approx(eg, rel=1e-11) and c.E_t == pytest.approx(et, rel=1e-11)
    rule = th.mp_rule(1.0, 120)
    for eta in np.linspace(0.2, 0.4999, 37):
        ks = np.arange(0, 100)
        cc = th.learning_curves(ks * eta, 1.0, 1.0, 0.0, 0.3, eta=eta)
        assert np.all(np.isfinite(cc.E_g)) and np.all(np.isfinite(cc.E_t)), eta
        # independent path: Python int powers (defined for negative bases) on a big Gauss rule
        for k in (1, 17, 54, 99):
            q = np.array([(1.0 - eta * x) ** int(k) for x in rule.nodes])
            ref_t = (rule.weights * (rule.nodes + 0.09)) @ (q * q)
            assert cc.E_t[k] == pytest.approx(ref_t, rel=1e-9, abs=1e-14), (eta, k)


@pytest.mark.parametrize("t,eta", [(0.15, 0.1), (1.0000001, 0.5), (10.0, 0.3)])
def test_discrete_map_rejects_fractional_step_counts(t, eta):
    with pytest.raises(ValueError, match="whole number of steps.*nearest"):
        th.learning_curves(t, 1.0, eta=eta)


def test_discrete_map_rounds_float_step_counts():
    """t = k * eta in floating point is k steps; t reported back is k * eta."""
    eta = 0.1
    t = np.array([3 * eta, 0.30000000000000004, 0.3])
    c = th.learning_curves(t, 0.5, 1.0, 0.2, 0.3, eta=eta)
    assert np.ptp(c.E_g) == 0 and np.ptp(c.E_t) == 0
