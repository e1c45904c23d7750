"""The fast certified optimum (issue 20 part a, issue 18 item 14): its certificate checked against
mpmath (tests/mpref.py, an independent cell-by-cell closed form at 60 digits), the multi-dip case,
and the two scalar solvers it uses."""

from __future__ import annotations

import math
import pathlib
import sys

import mpmath as mp
import numpy as np
import pytest

from quanttheory import Grid, Laplace, Normal, ReLU
from quanttheory.risk import optimal_scale, risk_curve
from quanttheory.risk.optimum import _brent_log, _root

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from mpref import mp_risk  # noqa: E402


def _mp_slope(d, g, x, h):
    law, mu, sig, relu = d.kernel_params()
    with mp.workdps(60):
        x, h = mp.mpf(x), mp.mpf(h)
        up = mp_risk(law, mu, sig, relu, g.r_b, g.r_t, "msqe", x + h, dps=60)
        dn = mp_risk(law, mu, sig, relu, g.r_b, g.r_t, "msqe", x - h, dps=60)
        return (up - dn) / (2 * h)


@pytest.mark.parametrize("d", [Normal(), ReLU(Normal()), Laplace(), ReLU(Laplace()), Normal(0.7, 0.4)], ids=str)
@pytest.mark.parametrize("bits", [2, 4, 7])
def test_msqe_certificate_brackets_the_mpmath_stationary_point(d, bits):
    """The exact slope (mpmath central difference, step 1/20 of the bound, at 60 digits) is
    negative at s* - 2 err and positive at s* + 2 err: the true minimizer lies within the
    certified scale_error, which is <= 1e-9 relative (today's best certificate)."""
    g = Grid(bits, not d.relu)
    res = optimal_scale(d, g, "msqe")
    assert "convex" in res.method
    assert res.scale_error <= 1e-9 * res.scale
    e = max(res.scale_error, 1e-13 * res.scale)
    assert _mp_slope(d, g, res.scale - 2 * e, e / 20) < 0 < _mp_slope(d, g, res.scale + 2 * e, e / 20)
    law, mu, sig, relu = d.kernel_params()
    ref = float(mp_risk(law, mu, sig, relu, g.r_b, g.r_t, "msqe", res.scale))
    assert res.risk == pytest.approx(ref, rel=1e-12)
    assert res.risk_lower_bound <= ref * (1 + 1e-12)


@pytest.mark.parametrize("d", [Normal(), ReLU(Laplace())], ids=str)
def test_qsin_is_a_certified_local_minimum_against_mpmath(d):
    g = Grid(4, not d.relu)
    res = optimal_scale(d, g, "qsin", with_msqe_excess=False)
    law, mu, sig, relu = d.kernel_params()
    r = [float(mp_risk(law, mu, sig, relu, g.r_b, g.r_t, "qsin", res.scale * f)) for f in (1 - 1e-6, 1, 1 + 1e-6)]
    assert r[1] == pytest.approx(res.risk, rel=1e-12)
    assert r[1] <= min(r[0], r[2]) * (1 + 1e-13)
    assert res.risk_lower_bound <= r[1]
    assert res.scale_error <= 1e-2 * res.scale


def test_several_dips_returns_the_lowest_local_minimum():
    """Issue 18 item 14: Normal(50, 1) on a signed 4-bit grid has a hull with several dips
    (s = 50/k puts the mean on grid point k).  A dense scan (200,001 points on [7.10, 7.18],
    where the scan's global minimum lies, near 7.14303) must not beat the returned point, the
    returned point is a local minimum (not 7.14202 where R' = -0.97 pi^2), and scale_error covers
    the scan's best point."""
    d, g = Normal(50, 1), Grid(4)
    res = optimal_scale(d, g, "msqe")
    coarse = np.geomspace(0.01, 500, 20001)
    vc = risk_curve(d, coarse, g)
    s = np.linspace(7.10, 7.18, 200001)
    v = risk_curve(d, s, g)
    assert coarse[np.argmin(vc)] == pytest.approx(7.143, abs=0.01)
    assert res.risk <= v.min() * (1 + 1e-12) and res.risk <= vc.min() * (1 + 1e-12)
    assert res.scale == pytest.approx(7.14303, abs=2e-5)
    lo, mid, hi = risk_curve(d, [res.scale * (1 - 1e-7), res.scale, res.scale * (1 + 1e-7)], g)
    assert mid <= lo and mid <= hi
    assert abs(s[np.argmin(v)] - res.scale) <= res.scale_error
    assert res.risk_lower_bound <= v.min() * (1 + 1e-12)


def test_msqe_excess_is_cached_and_identical():
    d, g = Laplace(0.2, 1.3), Grid(5)
    a = optimal_scale(d, g, "qsin")
    b = optimal_scale(d, g, "qsin")
    m = optimal_scale(d, g, "msqe")
    assert a.msqe_excess == b.msqe_excess and a.msqe_scale == m.scale
    assert a.msqe_excess == pytest.approx(risk_curve(d, [a.scale], g)[0] / m.risk - 1, rel=1e-9, abs=1e-13)


def test_brent_log_and_root():
    """Hand-derived answers: the minimum of (log s - 0.3)^2 + 1 is at s = e^0.3; the root of
    x^3 - 2 is 2^(1/3)."""
    f = lambda s: (math.log(s) - 0.3) ** 2 + 1
    s, v = _brent_log(f, 0.1, 1.0, 10.0, f(1.0), tol=1e-12)
    assert s == pytest.approx(math.exp(0.3), rel=1e-9) and v == pytest.approx(1.0, abs=1e-15)
    x, gx = _root(lambda x: x**3 - 2, 0.0, 3.0, -2.0, 25.0)
    assert x == pytest.approx(2 ** (1 / 3), rel=1e-15) and abs(gx) < 1e-14


def test_eta_table_without_scipy_matches_scipy_zeta():
    """The fast path's eta(2k+2) table is built without scipy (closed forms for zeta(2..8),
    direct sums beyond); scipy.special.zeta is the independent reference."""
    from scipy.special import zeta

    from quanttheory.risk._kernels.fast import KMAX, eta_table

    k = np.arange(KMAX + 1, dtype=float)
    ref = (1.0 - 2.0 ** (-(2 * k + 1))) * zeta(2 * k + 2)
    assert np.max(np.abs(eta_table() / ref - 1)) <= 4.5e-16
