"""A law with (almost) all its mass on the side of 0 where the grid has no point: the signed 1-bit
grid [-1, 0] (no positive point) and unsigned grids (no negative point).

Hand derivation (Laplace(m, b) with m >= 0 on the grid {-s, 0}): every x > 0 rounds to 0 whatever s;
for x < 0 the density is e^{(x - m)/b} / (2b).  MSQE: x in (-s/2, 0) rounds to 0 (constant error x^2),
x < -s/2 to -s (error (x + s)^2), so the s-dependent part is
    int_{-inf}^{-s/2} ((x + s)^2 - x^2) e^{(x-m)/b} / (2b) dx = -s e^{-(s/2 + m)/b}        (b = 1: -s e^{-s/2-m}),
minimal at s* = 2b for every m >= 0.  QSin: s^2 int_{-s}^0 sin^2(pi x / s) e^x dx + 2 pi^2 e^{-s}
(times e^-m / 2, b = 1), minimal at s* = 2.3565585192573 (mpmath below), again for every m.

Before: QSin with the part ~1e-12..1e-10 of E[xi^2] raised IndexError (every interval pruned on
rounding noise); pruning a bound's rounding instead certified Laplace(18, 1) at s = 2.35666 +- 1.4e-6.
Now: refused with a ValueError below FLAT_SIDE_QSIN / FLAT_SIDE_MSQE, and above it every answer's
scale_error contains the true optimum."""

from __future__ import annotations

import math

import mpmath as mp
import pytest
from scipy import integrate

from quanttheory import Grid, optimal_scale
from quanttheory.laws import Laplace, Normal
from quanttheory.risk.optimum import FLAT_SIDE_MSQE, FLAT_SIDE_QSIN


def _qsin_star():
    mp.mp.dps = 30

    def g(s):
        return s ** 2 * mp.quad(lambda x: mp.sin(mp.pi * x / s) ** 2 * mp.e ** x, [-s, 0]) + 2 * mp.pi ** 2 * mp.e ** -s

    return float(mp.findroot(lambda s: mp.diff(g, s), 2.36))


def test_msqe_closed_form_derivative():
    """The hand-derived part: int_{-inf}^{-s/2} ((x + s)^2 - x^2) e^x dx = -2 s e^{-s/2} (whose
    derivative vanishes at s = 2), checked with quad."""
    def part(s):
        return integrate.quad(lambda x: ((x + s) ** 2 - x ** 2) * math.exp(x), -math.inf, -s / 2)[0]

    for s in (1.0, 2.0, 3.5):
        assert part(s) == pytest.approx(-2 * s * math.exp(-s / 2), rel=1e-10)


@pytest.mark.parametrize("m", [2.0, 10.0, 14.0, 15.0])
def test_signed_1bit_certificate_contains_truth(m):
    law = Laplace(m, 1.0)
    r = optimal_scale(law, Grid(1), "msqe")
    assert abs(r.scale - 2.0) <= r.scale_error + 1e-15 * r.scale
    q = optimal_scale(law, Grid(1), "qsin")
    assert abs(q.scale - _qsin_star()) <= q.scale_error + 1e-15 * q.scale


@pytest.mark.parametrize("law", [Laplace(18.0, 1.0), Laplace(24.0, 1.0), Normal(6.0, 1.0), Normal(2.0, 0.3)])
def test_signed_1bit_flat_qsin_refused(law):
    """QSin's s-dependent part is below FLAT_SIDE_QSIN of E[xi^2] (checked with quad): a ValueError
    that names the missing positive grid point (IndexError / a false certificate before)."""
    f = law.pdf
    part = integrate.quad(lambda x: x * x * f(x), -math.inf, 0.0, epsabs=0)[0]
    m2 = law.partial_moment(2, -math.inf, math.inf)
    assert math.pi ** 2 * part <= FLAT_SIDE_QSIN * m2
    with pytest.raises(ValueError, match="no positive grid point"):
        optimal_scale(law, Grid(1), "qsin")


@pytest.mark.parametrize("law", [Laplace(30.0, 1.0), Normal(7.5, 1.0), Normal(7.0, 1.0), Laplace(28.0, 1.0)])
def test_signed_1bit_flat_msqe_refused(law):
    part = integrate.quad(lambda x: x * x * law.pdf(x), -math.inf, 0.0, epsabs=0)[0]
    assert math.pi ** 2 * part <= FLAT_SIDE_MSQE * law.partial_moment(2, -math.inf, math.inf)
    with pytest.raises(ValueError, match="flat in s"):
        optimal_scale(law, Grid(1), "msqe")


def test_unsigned_negative_law_qsin_refused():
    """The mirror: Laplace(-50, 2) on an unsigned 2-bit grid (IndexError before)."""
    with pytest.raises(ValueError, match="no negative grid point"):
        optimal_scale(Laplace(-50.0, 2.0), Grid(2, signed=False), "qsin")
