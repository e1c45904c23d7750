"""Distribution moments against scipy quadrature; sampling reproducibility."""

import math

import numpy as np
import pytest
from scipy import integrate

from quanttheory import Laplace, Normal, ReLU, get_distribution


LAWS = [Normal(), Normal(0.7, 1.3), Laplace(), Laplace(-0.4, 2.0),
        ReLU(Normal()), ReLU(Normal(0.7, 1.3)), ReLU(Normal(-1.1, 0.5)),
        ReLU(Laplace()), ReLU(Laplace(0.6, 0.8)), ReLU(Laplace(-0.6, 0.8))]


@pytest.mark.parametrize("d", LAWS, ids=str)
def test_moments_quad(d):
    f1 = lambda x: x * d.pdf(x)
    f2 = lambda x: x * x * d.pdf(x)
    lo = 0.0 if d.relu else -np.inf
    pts = None
    m1 = integrate.quad(f1, lo, d.loc)[0] + integrate.quad(f1, d.loc, np.inf)[0] if d.loc > lo else integrate.quad(f1, lo, np.inf)[0]
    m2 = integrate.quad(f2, lo, d.loc)[0] + integrate.quad(f2, d.loc, np.inf)[0] if d.loc > lo else integrate.quad(f2, lo, np.inf)[0]
    assert d.mean() == pytest.approx(m1, rel=1e-9, abs=1e-12)
    assert d.second_moment() == pytest.approx(m2, rel=1e-9)
    total = d.point_mass + (integrate.quad(d.pdf, 0, np.inf)[0] if d.relu else 1.0)
    assert total == pytest.approx(1.0, rel=1e-10)


def test_sampling_reproducible_and_explicit():
    d = ReLU(Laplace())
    a = d.sample(np.random.default_rng(3), 100)
    b = d.sample(3, 100)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="Generator"):
        d.sample(None, 10)


def test_sample_moments_monte_carlo():
    # 99.9% CLT bound on the sample mean of xi^2
    d = ReLU(Normal(0.3, 1.0))
    x = d.sample(np.random.default_rng(1), 400_000)
    se = np.std(x**2) / math.sqrt(x.size)
    assert abs(np.mean(x**2) - d.second_moment()) < 3.3 * se


@pytest.mark.parametrize("args,exc", [(("cauchy",), ValueError), ((3,), TypeError),
                                      (("normal", 0.0, -1.0), ValueError),
                                      (("normal", math.nan, 1.0), ValueError),
                                      (("laplace", 0.0, math.inf), ValueError)])
def test_bad_distribution(args, exc):
    with pytest.raises(exc):
        get_distribution(*args)
