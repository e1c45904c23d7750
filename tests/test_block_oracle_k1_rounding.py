"""The k = 1 error bound of the telescoped 4over6 / oracle kernel charges the rounding of E1's cancelling
differences (docs/audit.md finding 12): ``_mom1`` (Normal: ``phi(l) - phi(u)``) and ``aa Mu + bb Pu`` cancel
on narrow cells; the bound was ``4 eps E1``, 1e-21 at the review's end against a true error of 1.7e-17.
References: mpmath closed forms at 40 digits, nothing of the package but the element levels."""

import bisect
from fractions import Fraction as F

import mpmath as mp
import numpy as np

from quanttheory.blocks import get_block_format
from quanttheory.blocks._expect_46 import telescoped_stats
from quanttheory.blocks.expectation_oracle import block_mse_oracle
from quanttheory.laws import Normal


def _exact_es(levels, mids, m, X6, X4):
    """E|d(x)| given |x| <= m, x ~ N(0, 1), d = (x - R6(x))^2 - (x - R4(x))^2 (R: nearest X * level, clipped):
    exact rational cuts, the sign change of the affine d inside each cell, closed-form Normal moments."""
    lev = [F(float(v)) for v in levels]
    md = [F(float(v)) for v in mids]
    R = lambda x, X: X * lev[bisect.bisect_left(md, x / X)]
    m, X6, X4 = F(m), F(X6), F(X4)
    cuts = sorted({-m, m, F(0)} | {X * c for X in (X6, X4) for c in md if -m < X * c < m})
    q = lambda v: mp.mpf(v.numerator) / v.denominator
    tot = mp.mpf(0)
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        c = (lo + hi) / 2
        A, B = R(c, X6), R(c, X4)
        al, be = 2 * (B - A), A * A - B * B
        pts = [lo, hi]
        if al != 0 and lo < -be / al < hi:
            pts = [lo, -be / al, hi]
        for p, r in zip(pts[:-1], pts[1:]):
            a, b = q(p), q(r)
            tot += abs(q(al) * (mp.npdf(a) - mp.npdf(b)) + q(be) * (mp.ncdf(b) - mp.ncdf(a)))
    return tot / (mp.ncdf(q(m)) - mp.ncdf(-q(m)))


def test_k1_end_bound_covers_cancellation():
    mp.mp.dps = 40
    fmt = get_block_format("mxint8", block=1).fmt
    for m, X6, X4 in [(0.2542724609375, 0.25, 0.125), (0.12716293334960938, 0.125, 0.0625),
                      (0.750732421875, 0.5, 1.0)]:
        res = telescoped_stats(0, 0.0, 1.0, fmt, np.array([m]), np.array([X6]), np.array([X4]), 1,
                               np.array([1e-20]))
        ex = _exact_es(fmt.levels, fmt.midpoints, m, X6, X4)
        err = abs(float(mp.mpf(float(res.abs_S[0])) - ex))
        # 1.7e-17 vs a bound of 1.0e-21 before at the first end
        assert err <= res.err_abs[0], (m, X6, X4, err, res.err_abs[0])


def test_k1_oracle_mse_bound_mxint8_normal():
    """k = 1: MSE = E dist(x, V)^2, V = every 2^e * level (E8M0 scales; MXINT8 emax = 0), nearest point."""
    mp.mp.dps = 30
    bf = get_block_format("mxint8", block=1)
    lev = [F(float(v)) for v in bf.fmt.levels]
    owner = set()
    for e in range(-40, 13):
        owner.update(F(2) ** e * v for v in lev)
    V = sorted(owner)
    mse = mp.mpf(0)
    for i in range(1, len(V) - 1):     # the two extreme points (|x| ~ 2^12): mass < 1e-300
        lo, v, hi = (V[i - 1] + V[i]) / 2, V[i], (V[i + 1] + V[i]) / 2
        a, b, c = (mp.mpf(t.numerator) / t.denominator for t in (lo, hi, v))
        P = mp.ncdf(b) - mp.ncdf(a)
        m1 = mp.npdf(a) - mp.npdf(b)
        m2 = P + a * mp.npdf(a) - b * mp.npdf(b)
        mse += m2 - 2 * c * m1 + c * c * P
    # cells below 2^-40 (x^2 < 2^-80 there, mass < 1e-12): < 1e-36
    b = block_mse_oracle(Normal(0, 1), bf)
    err = abs(float(mp.mpf(float(b.mse)) - mse))
    # 2.96e-18 vs a bound of 1.97e-18 before
    assert err <= b.error_estimate, (err, b.error_estimate)
    assert b.error_estimate <= 1e-8 * b.mse
