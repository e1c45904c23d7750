"""The few-cell Laplace certificate far off centre (|m| ~ 1e2..4e3 law scales, 17-23 bits): the stated
errors of the QSin curve value and of the smooth-part lower bound must cover the rounding of the grid
ends b = fl(r_t s) and of the exponents b - m, which grows like eps |m| (review of 2026-11-30 late night:
the flat 1e-14 pi^2 T was exceeded 4.3x at m = 1666, 21 bits, and smooth_lower exceeded the curve by up to
6e-14 relative).  Reference: mpmath at 45 digits, the inside of the grid range by the exact complex
exponential integral (phase x/s reduced in mpmath), the clipping tails in closed form; Laplace(m, 1),
signed grid [r_b, r_t], QSin(x) = sin^2(pi x) inside, pi^2 (x - end)^2 outside, F = s^2 E[QSin(xi/s)]."""

from __future__ import annotations

import random

import mpmath as mp
import pytest

from quanttheory.risk._lowbit_cert import FewCells


def _I2(lo, hi, c, m):
    """int_lo^hi (x - c)^2 e^{-|x - m|} / 2 dx."""
    def side(lo, hi, sg):  # density e^{sg (x - m)} / 2
        def A(x):
            if mp.isinf(x):
                return mp.mpf(0)
            t = x - c
            return mp.exp(sg * t) * (t * t / sg - 2 * t / sg ** 2 + 2 / sg ** 3)
        return mp.exp(sg * (c - m)) / 2 * (A(hi) - A(lo))
    tot = mp.mpf(0)
    if lo < m:
        tot += side(lo, min(hi, m), 1)
    if hi > m:
        tot += side(max(lo, m), hi, -1)
    return tot


def _qsin_F(s, m, rb, rt):
    mp.mp.dps = 45
    s, m = mp.mpf(s), mp.mpf(m)
    a, c = rb * s, rt * s

    def cdf(x):
        z = x - m
        return mp.exp(z) / 2 if z < 0 else 1 - mp.exp(-z) / 2

    P = cdf(c) - cdf(a)
    w = 2 * mp.pi / s
    C = mp.mpc(0)
    for sg, lo, hi in ((1, a, min(c, m)), (-1, max(a, m), c)):
        if hi <= lo:
            continue
        lam = mp.mpc(sg, w)

        def E(x):
            return mp.expjpi(2 * (x / s)) * mp.exp(sg * (x - m))

        C += (E(hi) - E(lo)) / (lam * 2)
    return s * s * (P - mp.re(C)) / 2 + mp.pi ** 2 * (_I2(-mp.inf, a, a, m) + _I2(c, mp.inf, c, m))


def _cases(n, seed):
    rnd = random.Random(seed)
    out = [(1666.001866944668, 0.0015915684153220663, 21)]  # the review's reproducer
    for _ in range(n):
        bits = rnd.choice(range(17, 24))
        m = 10 ** rnd.uniform(2.2, 3.6) * rnd.choice((1, -1))
        rt = (1 << (bits - 1)) - 1
        side = rt if m > 0 else rt + 1
        out.append((m, (abs(m) + rnd.uniform(0.5, 6)) / side, bits))
    return out


@pytest.mark.parametrize("m, s, bits", _cases(12, 5))
def test_qsin_value_error_covers_mpmath(m, s, bits):
    rb, rt = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    (F, err), _ = FewCells(1, m, False, rb, rt, True).both(s)
    ref = _qsin_F(s, m, rb, rt)
    assert abs(F - ref) <= err


@pytest.mark.parametrize("m, s, bits", _cases(12, 9))
def test_qsin_smooth_lower_below_curve(m, s, bits):
    """On an interval 1e-13 wide (the ripple is flat there) the bound stays below both ends' values."""
    rb, rt = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    s2 = s * (1 + 1e-13)
    lb = FewCells(1, m, False, rb, rt, True).smooth_lower(s, s2)
    assert lb <= min(_qsin_F(s, m, rb, rt), _qsin_F(s2, m, rb, rt))
