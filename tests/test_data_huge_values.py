"""Audit finding 14b: ``optimal_scale_data`` on data with a value near scan's bound (|x| <= 1e154, e.g.
2^511) raised ``OverflowError`` in ``_refine_direct`` (the conditioning test squared ``s* T ~ 2^511``)
on the one-array direct path; the reported ``ZeroDivisionError`` (2,500 N(0,1) values and one 2^501,
4 bits) is not reproduced on this code and is checked here as well.  Reference: a brute force in exact
rational arithmetic over every quadratic piece of ``F(s) = sum (x - s min(rint(x/s), T))^2``, evaluated
at the floats bracketing each piece's vertex and at its ends (the float optimum: with one value of
2^500 and more, a real optimum such as 2^501 / 7 is not a float, and the residual of the nearest float
dominates the MSE)."""

import math
from fractions import Fraction

import numpy as np
import pytest

from quanttheory import Grid
from quanttheory.risk.data import optimal_scale_data


def _F(x, s, Tp, Tn):
    """exact sum of squared errors at the float s (round half to even, as np.rint)."""
    S = Fraction(s)
    tot = Fraction(0)
    for v in x:
        V = Fraction(float(v))
        T = Tp if v >= 0 else Tn
        k = min(round(abs(V) / S), T)  # Fraction.__round__: half to even
        tot += (abs(V) - k * S) ** 2
    return tot


def _brute(x, Tp, Tn):
    bps = sorted({Fraction(abs(float(v))) / (k + Fraction(1, 2)) for v in x if v != 0
                  for k in range(Tp if v > 0 else Tn)})
    amax = max(Fraction(abs(float(v))) for v in x)
    ends = [bps[0] / 2] + bps + [2 * amax]
    cands = set()
    for lo, hi in zip(ends[:-1], ends[1:]):
        mid = (lo + hi) / 2
        S = mid
        ks = [min(round(Fraction(abs(float(v))) / S), Tp if v >= 0 else Tn) for v in x]
        a = sum(k * Fraction(abs(float(v))) for k, v in zip(ks, x))
        b = sum(k * k for k in ks)
        vert = a / b if b else hi
        vert = min(max(vert, lo), hi)
        f = float(vert)
        for c in (f, np.nextafter(f, 0), np.nextafter(f, math.inf), float(lo), float(hi)):
            if c > 0:
                cands.add(float(c))
    best = min(cands, key=lambda c: _F(x, c, Tp, Tn))
    return best, _F(x, best, Tp, Tn)


CASES = [
    ([1.0, 2.0, 2.0 ** 501], 2),      # by hand: s* = 2^501 (the huge value exact), 1 and 2 -> 0: MSE 5/3
    ([1.0, 2.0, -2.0 ** 501], 2),     # s* = 2^500 (-2^501 = -2 s*), MSE 5/3
    ([1.0, 2.0, 2.0 ** 511], 2),      # the OverflowError case; MSE 5/3
    ([0.3, -1.5, 2.0 ** 511, 0.7], 3),
    ([0.3, -1.5, 2.0 ** 505, 3 * 2.0 ** 503, 0.7], 4),
]


@pytest.mark.parametrize("x,bits", CASES)
def test_huge_value_against_brute_force(x, bits):
    g = Grid(bits)
    Tp, Tn = int(g.r_t), int(-g.r_b)
    r = optimal_scale_data(np.array(x), g)
    s_b, F_b = _brute(x, Tp, Tn)
    n = len(x)
    F_r = _F(x, float(r.scale), Tp, Tn)
    assert float(F_r) <= float(F_b) * (1 + 1e-12), (r.scale, s_b, float(F_r), float(F_b))
    assert r.extra["mse"] == pytest.approx(float(F_r) / n, rel=1e-12)
    if x[:3] == [1.0, 2.0, 2.0 ** 501] or x == [1.0, 2.0, 2.0 ** 511]:
        assert r.scale == x[2] and r.extra["mse"] == pytest.approx(5 / 3, rel=1e-15)
    if x == [1.0, 2.0, -2.0 ** 501]:
        assert r.scale == 2.0 ** 500 and r.extra["mse"] == pytest.approx(5 / 3, rel=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("e", [501, 511])
def test_normal_with_one_huge_value(seed, e):
    """the reported case (2,500 N(0,1) values, one set to 2^501; also 2^511), 4 bits: the optimum puts
    the top level T s on the huge value: s* is the float nearest 2^e / 7 (2^e mod 7 * 2^(e-55) residual)."""
    x = np.random.default_rng(seed).normal(size=2500)
    x[7] = 2.0 ** e
    r = optimal_scale_data(x, Grid(4))
    assert r.scale == float(Fraction(2 ** e, 7))
    resid = float(Fraction(2) ** e - 7 * Fraction(r.scale))
    F = resid ** 2 + float(np.sum(np.delete(x, 7) ** 2))  # every other value rounds to 0
    assert r.extra["mse"] == pytest.approx(F / x.size, rel=1e-12)


def test_per_channel_huge_row_float32_and_float64():
    """per-channel: a row with a value above ROW_BIG = 2^500 goes to the one-channel path; the other rows
    (float32 input too: it cannot hold such a value, float32 max ~3.4e38) are unchanged."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3, 300))
    Xh = X.copy()
    Xh[1, 4] = 2.0 ** 511
    r = optimal_scale_data(Xh, Grid(4), axis=0)
    for i in range(3):
        ri = optimal_scale_data(Xh[i], Grid(4))
        assert r.scale[i] == ri.scale and r.extra["mse"][i] == ri.extra["mse"]
    assert r.scale[1] == float(Fraction(2 ** 511, 7))
    r32 = optimal_scale_data(X.astype(np.float32), Grid(4), axis=0)
    for i in range(3):
        assert r32.scale[i] == optimal_scale_data(X[i].astype(np.float32), Grid(4)).scale
