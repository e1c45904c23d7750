"""Where the ECCV supplement (App. B) is wrong or imprecise, the code follows the
mathematics; each difference is shown here (see README "Seed errata")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quanttheory import Grid, Laplace, Normal, ReLU
from quanttheory.risk import risk_curve, significant_local_minima

PI2 = math.pi**2


@pytest.mark.parametrize("d", [ReLU(Normal()), ReLU(Laplace()), Normal(0.8, 1.0)], ids=str)
@pytest.mark.parametrize("reg", ["msqe", "qsin"])
def test_limit_is_second_moment_not_variance(d, reg):
    """Seed: both curves tend to pi^2 Var(xi).  Truth: pi^2 E[xi^2] (they differ when E[xi] != 0)."""
    g = Grid(4, False)
    ends = risk_curve(d, [1e-9, 1e8], g, reg)
    wrong = PI2 * d.var()
    right = PI2 * d.second_moment()
    assert right - wrong > 0.3  # the two candidate limits are far apart ...
    np.testing.assert_allclose(ends, right, rtol=1e-6)  # ... and the curve goes to E[xi^2]
    assert np.all(np.abs(ends - wrong) > 0.2 * wrong)


@pytest.mark.parametrize("d", [Normal(), ReLU(Normal()), Laplace(), ReLU(Laplace())], ids=str)
@pytest.mark.parametrize("bits,signed", [(2, True), (4, False), (8, True)])
@pytest.mark.parametrize("reg", ["msqe", "qsin"])
def test_monotone_approach_to_the_limit(d, bits, signed, reg):
    """Seed: 'monotonically tend to' the limit.  Verified for these laws: the curve stays
    below pi^2 E[xi^2] (no overshoot) and has a single minimum, so it decreases from the
    s -> 0 limit to s* and increases back to the same limit (4000-point scans, ripples
    below 1e-12 relative ignored)."""
    g = Grid(bits, signed)
    lim = PI2 * d.second_moment()
    s = np.geomspace(1e-6, 1e6, 4000)
    v = risk_curve(d, s, g, reg)
    assert v.max() <= lim * (1 + 1e-12)
    i = int(np.argmin(v))
    tol = 1e-12 * lim
    assert np.all(np.diff(v[: i + 1]) <= tol)
    assert np.all(np.diff(v[i:]) >= -tol)
    assert len(significant_local_minima(v)) == 1
