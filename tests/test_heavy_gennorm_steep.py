"""Steep generalized Gaussians far from the mean inside a grid cell (audit of 2026-12-01, F3).

GenNormal(4, 0, 1) on a 4-bit unsigned grid at s = 30 crashed the process (SIGSEGV): the piece rule's
node count (V + 46 + 2 ln rho) / (2 ln rho) with V = (|z| + R)^beta - |z|^beta reached 1e19 and more far
out in a cell, math.ceil converted it to int64 (INT_MIN) in compiled code, and a negative table index
was read.  With the count kept a float the rule search then halved the piece down to TINY (minutes per
scale): a piece with zmin^beta > 800 has a density that underflows to exactly 0 at every node, so any
rule gives 0 and the cheapest is taken.  Reference: scipy.integrate.quad of pi^2 E[(xi - Q_s(xi))^2]
with breakpoints at the cell edges (its own accuracy ~1e-13 relative here)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from quanttheory import GenNormal, Grid, optimal_scale, risk_curve


def _quad_msqe(beta, loc, s, r_b, r_t):
    d = stats.gennorm(beta, loc=loc, scale=1.0)
    lo, hi = loc - 6.0, loc + 6.0
    pts = [x for x in ((k + 0.5) * s for k in range(r_b - 1, r_t + 1)) if lo < x < hi] + [0.0]

    def f(x):
        return (x - s * np.clip(np.rint(x / s), r_b, r_t)) ** 2 * d.pdf(x)

    return np.pi ** 2 * integrate.quad(f, lo, hi, points=sorted(set(pts)), epsabs=1e-15, epsrel=1e-13,
                                       limit=200)[0]


@pytest.mark.parametrize("beta,loc", [(4.0, 0.0), (6.0, -1.0), (4.0, 3.0), (6.0, 0.0)])
def test_steep_gennorm_large_scales_unsigned(beta, loc):
    scales = np.array([30.0, 100.0])
    got = risk_curve(GenNormal(beta, loc, 1.0), scales, Grid(4, signed=False), "msqe")
    for s, g in zip(scales, got):
        ref = _quad_msqe(beta, loc, s, 0, 15)
        assert abs(g - ref) <= 1e-11 * ref, (s, g, ref)


def test_steep_gennorm_optimum_unsigned_finishes():
    """The audit's optimal_scale call (its initial scan reaches s = 30 and beyond): it must return a scale
    whose risk matches quad there."""
    r = optimal_scale(GenNormal(4.0, 0.0, 1.0), Grid(4, signed=False), "msqe")
    assert 0.0 < r.scale < 1.0
    assert abs(r.risk - _quad_msqe(4.0, 0.0, r.scale, 0, 15)) <= 1e-10 * r.risk
