"""The law protocol (quanttheory.laws.Law): closed forms against the generic fallbacks and scipy,
and a law defined by one small class going through the same engine as the built-in laws.

References and tolerances:
* partial moments: the closed forms (Normal, Laplace, ReLU) against the base class's generic
  ``scipy.integrate.quad`` fallback (epsrel 1e-12): rel 1e-9 + abs 1e-14 (quad's own error);
* the generic integrator (``quanttheory.risk.generic``, piecewise Gauss-Legendre, used for laws
  without numba kernels) against the numba kernels (error <= 1e-12, tests/test_risk.py): rel 1e-10;
* a Student t law written as a plain subclass (no kernel): its risk against a brute-force
  ``scipy.integrate.quad`` over each grid cell and both tails: rel 1e-8.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from quanttheory import Grid, Laplace, Normal, ReLU, optimal_scale, risk_curve
from quanttheory.formats.grid import msqe, qsin
from quanttheory.laws import Atoms, Empirical, Law, as_law
from quanttheory.risk import expected_phi

LAWS = [Normal(), Normal(0.4, 1.7), Laplace(), Laplace(-0.3, 0.6), ReLU(Normal(0.2, 1.1)), ReLU(Laplace(0.5, 0.8)),
        ReLU(Laplace(-0.5, 0.8))]
INTERVALS = [(-math.inf, math.inf), (-math.inf, 0.3), (0.1, math.inf), (-1.2, 0.7), (0.5, 2.5), (-4.0, -3.0),
             (2.0, 2.0)]


@pytest.mark.parametrize("law", LAWS, ids=str)
@pytest.mark.parametrize("k", [0, 1, 2])
def test_partial_moments_closed_forms_match_generic_quadrature(law, k):
    for a, b in INTERVALS:
        closed = law.partial_moment(k, a, b)
        generic = Law.partial_moment(law, k, a, b)
        assert closed == pytest.approx(generic, rel=1e-9, abs=1e-14), (a, b)


@pytest.mark.parametrize("law", LAWS, ids=str)
def test_moments_equal_partial_moments_plus_atoms(law):
    # the generic mean/second_moment (partial moments + atoms) against the closed forms
    assert Law.mean(law) == pytest.approx(law.mean(), rel=1e-10, abs=1e-14)
    assert Law.second_moment(law) == pytest.approx(law.second_moment(), rel=1e-10)
    mass = law.partial_moment(0) + sum(g.weight * g.size for g in law.atoms())
    assert mass == pytest.approx(1.0, rel=1e-13)


def test_sf_is_one_minus_cdf():
    x = np.linspace(-6, 6, 25)
    for law in LAWS:
        np.testing.assert_allclose(law.sf(x), 1 - law.cdf(x), rtol=0, atol=1e-15)
        np.testing.assert_allclose(Law.sf(law, x), 1 - law.cdf(x), rtol=0, atol=0)


class _NoKernel(Law):
    """A built-in law seen only through the protocol's description methods (no numba kernel)."""

    def __init__(self, law):
        self.law_ = law
        self.has_density = True

    def pdf(self, x):
        return self.law_.pdf(x)

    def cdf(self, x):
        return self.law_.cdf(x)

    def support(self):
        return self.law_.support()

    def breakpoints(self):
        return self.law_.breakpoints()

    def atoms(self):
        return self.law_.atoms()

    @property
    def name(self):
        return f"NoKernel({self.law_})"


@pytest.mark.parametrize("law", LAWS, ids=str)
@pytest.mark.parametrize("reg", ["msqe", "qsin", "sinreq"])
@pytest.mark.parametrize("bits", [1, 3, 8])
def test_generic_integrator_matches_kernels(law, reg, bits):
    g = Grid(bits, signed=not isinstance(law, ReLU))
    s_opt = 8 * math.sqrt(law.second_moment()) / 2**bits
    # (SinReQ's periodic tails cost ~window / s pieces: no tiny scales for it here)
    scales = s_opt * np.array([0.3, 1.0, 3.0, 40.0] if reg == "sinreq" else [0.01, 0.3, 1.0, 3.0, 40.0])
    got = risk_curve(_NoKernel(law), scales, g, reg)
    ref = risk_curve(law, scales, g, reg, method="cells")
    np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_user_regularizer_through_generic_integrator():
    phi = lambda u, r_b, r_t: np.abs(u - np.clip(np.rint(u), r_b, r_t)) ** 3  # noqa: E731
    g = Grid(4)
    s = np.array([0.05, 0.4, 2.0])
    np.testing.assert_allclose(risk_curve(_NoKernel(Laplace(0.2, 1.0)), s, g, phi),
                               risk_curve(Laplace(0.2, 1.0), s, g, phi), rtol=1e-10)


class StudentT(Law):
    """Student t with ``df`` degrees of freedom: the whole definition of a new law (no engine edits)."""

    def __init__(self, df: float):
        self.df = float(df)
        self._d = stats.t(self.df)

    def pdf(self, x):
        return self._d.pdf(x)

    def cdf(self, x):
        return self._d.cdf(x)

    def sf(self, x):
        return self._d.sf(x)

    def mean(self):
        return 0.0

    def second_moment(self):
        return self.df / (self.df - 2)

    def sample(self, rng, size):
        return self._d.rvs(size=size, random_state=np.random.default_rng(rng))


def _quad_risk(d, s, g, phi):
    """Brute force: quad over each grid cell (split at the half-integers) and both tails."""
    f = lambda x: s * s * float(phi(np.array([x / s]), g)[0]) * float(d.pdf(x))  # noqa: E731
    total = 0.0
    for k in range(g.r_b, g.r_t + 1):
        a, b = max(k - 0.5, g.r_b) * s, min(k + 0.5, g.r_t) * s
        for x0, x1 in ((a, k * s), (k * s, b)):
            if x1 > x0:
                total += integrate.quad(f, x0, x1, epsabs=0, epsrel=1e-13, limit=200)[0]
    total += integrate.quad(f, -math.inf, g.r_b * s, epsabs=0, epsrel=1e-13, limit=200)[0]
    total += integrate.quad(f, g.r_t * s, math.inf, epsabs=0, epsrel=1e-13, limit=200)[0]
    return total


@pytest.mark.parametrize("df,bits", [(3.5, 2), (3.5, 4), (5.0, 3)])
def test_new_law_is_one_class_student_t(df, bits):
    d, g = StudentT(df), Grid(bits)
    for s in (0.1, 2.5):
        for name, phi, cf in (("msqe", msqe, math.pi**2), ("qsin", qsin, 1.0)):
            ref = cf * _quad_risk(d, s, g, phi)
            assert risk_curve(d, [s], g, name)[0] == pytest.approx(ref, rel=1e-8)


def test_new_law_optimum_is_a_minimum_not_certified():
    d, g = StudentT(3.5), Grid(2)
    res = optimal_scale(d, g)
    assert "not certified" in res.method and math.isnan(res.risk_lower_bound)
    dense = np.geomspace(res.scale / 1.5, res.scale * 1.5, 201)
    assert res.risk <= risk_curve(d, dense, g).min() * (1 + 1e-9)


def test_generic_optimum_matches_certified_optimum():
    law, g = Laplace(0.1, 1.0), Grid(4)
    res = optimal_scale(_NoKernel(law), g)
    ref = optimal_scale(law, g)
    assert res.scale == pytest.approx(ref.scale, rel=1e-6)
    assert res.risk == pytest.approx(ref.risk, rel=1e-12)


def test_empirical_is_one_atom_group_and_goes_through_the_same_engine():
    x = np.random.default_rng(3).normal(size=500)
    d = Empirical(x)
    (grp,) = d.atoms()
    assert isinstance(grp, Atoms) and grp.size == 500 and grp.weight == 1 / 500 and not d.has_density
    assert as_law(d) is d and isinstance(as_law(x), Empirical)
    g = Grid(3)
    s = np.array([0.2, 0.9])
    ref = np.array([np.mean(si * si * msqe(x / si, g)) for si in s])
    np.testing.assert_allclose(expected_phi(x, s, g), ref, rtol=1e-13)
    np.testing.assert_allclose(expected_phi(d, s, g), ref, rtol=1e-13)


def test_relu_atom_is_an_atom_group():
    d = ReLU(Normal(0.3, 1.0))
    (grp,) = d.atoms()
    assert grp.size == 1 and grp.values[0] == 0.0
    assert grp.weight == pytest.approx(stats.norm.cdf(-0.3), rel=1e-14)
    assert d.breakpoints() == () and ReLU(Laplace(0.5, 1.0)).breakpoints() == (0.5,)
    assert ReLU(Laplace(-0.5, 1.0)).breakpoints() == ()
