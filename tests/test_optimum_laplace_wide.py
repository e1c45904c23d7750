"""Laplace laws off centre at 13-24 bits (issue 20, session lapoff): the smooth-part lower bound
(FewCells.smooth_lower), the exact phase reduction (_phase), the QSin fourth-derivative bound by two
integrations by parts (_lap_qsin_m4_twice), the sharper QSin error bounds, and the certified optimum
at 13-24 bits against an independent search of every dip near it.

References (nothing shared with the engine): mpmath. MSQE: the curve summed in closed form, the cells
strictly on one side of the mode and inside the grid as exact geometric series (``_msqe_ref``,
hand-derived; checked against tests/mpref.py's cell-by-cell sum), the others cell by cell from their
antiderivatives; QSin: tests/mpref.py (complex closed form, O(1) in the bit width).
"""

from __future__ import annotations

import math
import pathlib
import random
import sys

import mpmath as mp
import pytest

from quanttheory import Grid, Laplace
from quanttheory.risk import optimal_scale
from quanttheory.risk._lowbit_cert import FewCells, _phase

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from mpref import mp_risk, tooth_minima  # noqa: E402


def _cell(m, al, be, c):
    """int_al^be (x - c)^2 e^{-|x - m|}/2 dx (al < be, may be infinite), split at the mode."""
    def L(x):  # int_{-inf}^x, x <= m
        return mp.mpf(0) if x == -mp.inf else mp.exp(x - m) / 2 * ((x - c) ** 2 - 2 * (x - c) + 2)

    def R(x):  # int_x^inf, x >= m
        return mp.mpf(0) if x == mp.inf else mp.exp(m - x) / 2 * ((x - c) ** 2 + 2 * (x - c) + 2)

    tot = mp.mpf(0)
    if al < m:
        tot += L(min(be, m)) - L(al)
    if be > m:
        tot += R(max(al, m)) - R(be)
    return tot


def _msqe_ref(m, relu, r_b, r_t, s, dps=40):
    """Laplace(m, 1) MSQE curve (continuous part, no pi^2) at s, any bit width: a full cell k right of
    the mode holds e^{m - k s}/2 I, left of it e^{k s - m}/2 I, I = int_{-s/2}^{s/2} u^2 e^{-u} du, so
    each side is a geometric series; the cells at the grid ends and next to the mode one by one."""
    with mp.workdps(dps):
        m, s = mp.mpf(m), mp.mpf(s)
        half = mp.mpf(1) / 2
        r_a = 0 if relu else r_b
        I = mp.exp(s / 2) * (s * s / 4 - s + 2) - mp.exp(-s / 2) * (s * s / 4 + s + 2)
        q = mp.exp(-s)
        kR = max(r_a + 1, int(mp.ceil(m / s + half)))  # full cells with (k - 1/2) s >= m
        kL = min(r_t - 1, int(mp.floor(m / s - half)))  # full cells with (k + 1/2) s <= m
        tot = mp.mpf(0)
        if kR <= r_t - 1:
            tot += mp.exp(m - kR * s) / 2 * I * (1 - q ** (r_t - kR)) / (1 - q)
        if kL >= r_a + 1:
            tot += mp.exp(kL * s - m) / 2 * I * (1 - q ** (kL - r_a)) / (1 - q)
        rest = {r_a, r_t} | set(range(max(r_a, kL + 1), min(r_t, kR - 1) + 1))
        assert len(rest) < 10000
        for k in sorted(rest):
            lo = (mp.mpf(0) if relu else -mp.inf) if k == r_a else (k - half) * s
            hi = mp.inf if k == r_t else (k + half) * s
            tot += _cell(m, lo, hi, k * s)
        return tot


def _grid(bits, signed):
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


def _curve(m, bits, signed, qsin, dps=40, relu=False):
    r_b, r_t = _grid(bits, signed)
    if qsin:
        return lambda s: mp_risk(1, m, 1, relu, r_b, r_t, "qsin", s, dps)
    return lambda s: _msqe_ref(m, relu, r_b, r_t, s, dps)


def test_msqe_reference_against_cell_sums():
    # the geometric reference against tests/mpref.py's cell-by-cell sum (mode inside, at a grid end, ReLU)
    for m, signed, bits, s in ((-50.0, True, 7, 0.8), (20.0, True, 8, 0.157), (20.0, False, 8, 0.0799),
                               (50.0, True, 10, 0.0978), (7.5, True, 4, 1.0)):
        r_b, r_t = _grid(bits, signed)
        a = _msqe_ref(m, not signed, r_b, r_t, s)
        with mp.workdps(40):
            b = mp_risk(1, m, 1.0, not signed, r_b, r_t, "msqe", s, 40) / mp.pi**2
            assert abs(a - b) <= mp.mpf(10) ** -30 * b


def test_phase_against_mpmath():
    rng = random.Random(3)
    worst = 0.0
    for _ in range(3000):
        m = rng.choice((-1, 1)) * 10 ** rng.uniform(0, 4.7)
        s = 10 ** rng.uniform(-7, 0)
        with mp.workdps(40):
            worst = max(worst, float(abs(_phase(m, s) - mp.expj(2 * mp.pi * mp.mpf(m) / mp.mpf(s)))))
    # the callers allow 1e-14 (1 + ...) of the mode's terms; cos(2 pi m/s) with w = fl(2 pi/s) is off by
    # ~3 eps w |m| (up to 1e-7 here)
    assert worst <= 2e-15


def test_smooth_lower_below_the_curve():
    """F >= H - rho K s^4 on random intervals (1/3 to 100 teeth wide, scales at and above |m|/r, both
    penalties, signed, unsigned and ReLU, 5-24 bits): the bound is below the reference's minimum over 41 points,
    and without its remainder it would not be (so the remainder is needed and the test can fail)."""
    rng = random.Random(7)
    ratios = []
    for _ in range(24):
        qsin = rng.random() < 0.5
        m = rng.choice((-1, 1)) * rng.choice((4.5, 10.0, 20.0, 50.0, 300.0, 1e3)) * (1 + 0.01 * rng.random())
        bits = rng.choice((5, 8, 12, 16, 20, 24))
        signed = m < 0 or rng.random() < 0.6
        relu = not signed and rng.random() < 0.5  # the continuous part of ReLU(xi) (certify_few's unsigned curve)
        r_b, r_t = _grid(bits, signed)
        cur = FewCells(1, m, relu, r_b, r_t, qsin)
        r_side = r_t if m > 0 else -cur.r_a
        s1 = abs(m) / r_side * rng.choice((1.0, 1.02, 1.1, 1.5, 2.0)) * (1 + 0.05 * rng.random())
        s2 = s1 + s1 * s1 / abs(m) * rng.choice((0.3, 1.0, 3.0, 100.0))
        lb = cur.smooth_lower(s1, s2)
        F = _curve(m, bits, signed, qsin, 30, relu)
        with mp.workdps(30):
            fmin = min(F(mp.mpf(s1) + (mp.mpf(s2) - s1) * i / 40) for i in range(41))
        rem = (1 / (8 * math.pi**2) if qsin else 1 / 360) * 3.0 * s2**4
        ratios.append(float((fmin - lb) / rem))
    assert min(ratios) >= 0.0
    assert min(ratios) < 1.0  # the ripple reaches into the remainder: H alone is not a lower bound


@pytest.mark.parametrize("m,bits,signed", [(20.0, 13, True), (-50.0, 17, True), (50.0, 24, False)])
def test_qsin_m4_twice_above_fourth_derivative(m, bits, signed):
    r_b, r_t = _grid(bits, signed)
    cur = FewCells(1, m, False, r_b, r_t, True)
    r_side = r_t if m > 0 else -cur.r_a
    s0 = abs(m) / r_side * 1.2
    s1, s2 = s0, s0 * (1 + 3 * s0 / abs(m))  # three teeth
    M4 = cur._lap_qsin_m4_twice(s1, s2)
    F = _curve(m, bits, signed, True, 80)
    worst = 0.0
    with mp.workdps(80):
        h = mp.mpf(s0) * mp.mpf(10) ** -12
        for i in range(9):
            s = mp.mpf(s1) + (mp.mpf(s2) - s1) * i / 8
            d4 = (F(s + 2 * h) - 4 * F(s + h) + 6 * F(s) - 4 * F(s - h) + F(s - 2 * h)) / h**4
            worst = max(worst, float(abs(d4)))
    assert worst <= M4
    assert M4 <= 1e3 * worst  # and not absurdly loose (the bound the certificate needs)


@pytest.mark.parametrize("m,bits,signed", [(20.0, 13, True), (-50.0, 20, True), (50.0, 24, False),
                                           (1000.0, 20, True)])
def test_qsin_value_slope_errors(m, bits, signed):
    """Value and slope of the QSin closed form (exact phase, sharper error) within their stated errors
    of mpmath, at s* and next to it (mode near a boundary and not)."""
    r_b, r_t = _grid(bits, signed)
    cur = FewCells(1, m, False, r_b, r_t, True)
    F = _curve(m, bits, signed, True, 60)
    r_side = r_t if m > 0 else -cur.r_a
    s0 = abs(m) / r_side
    q = round(abs(m) / (1.1 * s0))
    for s in (1.1 * s0, 1.3 * s0, abs(m) / (q + 0.5), abs(m) / (q + 0.25), 2 * s0):
        (f, ef), (g, eg) = cur._laplace_qsin(s)
        with mp.workdps(60):  # central differences (F's own precision is 60 digits)
            x = mp.mpf(s)
            fr = F(x)
            h = x * mp.mpf(10) ** -15
            gr = (F(x + h) - F(x - h)) / (2 * h)
            h = x * mp.mpf(10) ** -12
            d2 = (F(x + h) - 2 * fr + F(x - h)) / h**2
        assert abs(f - fr) <= ef, (s, float(f - fr), ef)
        assert abs(g - gr) <= eg, (s, float(g - gr), eg)
        c2, e2, c3, e3 = cur._laplace_qsin_c(s)
        assert abs(c2 - d2) <= e2, (s, float(c2 - d2), e2)


@pytest.mark.parametrize("m,bits,signed,reg", [
    (-50.0, 20, True, "msqe"), (20.0, 18, True, "msqe"), (10.0, 24, True, "msqe"), (1000.0, 20, True, "msqe"),
    (20.0, 13, True, "qsin"), (-50.0, 16, True, "qsin"), (50.0, 20, False, "qsin"), (-50.0, 24, True, "qsin"),
])
def test_certificate_against_every_dip(m, bits, signed, reg):
    """The certified optimum at 13-24 bits against mpmath: the risk at s*, the minimum of every tooth
    within 4 of s* (each ~s*^2/|m| wide; the dips that can compete lie within ~2), the lower bound below
    all of them, the lowest at the certified scale."""
    res = optimal_scale(Laplace(m, 1.0), Grid(bits, signed), reg, with_msqe_excess=False)
    assert "few-cell" in res.method
    s_star, err = res.scale, res.scale_error
    assert err <= 1e-9 * s_star
    qsin = reg == "qsin"
    f = 1.0 if qsin else math.pi**2
    Fm = _curve(m, bits, signed, qsin, 40)
    with mp.workdps(40):
        assert abs(res.risk / f - Fm(s_star)) <= 2e-13 * res.risk / f

    def F(x):
        with mp.workdps(40):
            return Fm(mp.mpf(x))

    dips = tooth_minima(F, abs(m), s_star, 4, 11, 36)
    best, s_best = dips[0]
    tol = 1e-13 * best  # the certificate's value error (MSQE's closed form: 1e-13 of F)
    assert res.risk_lower_bound / f <= best * (1 + 1e-15)
    assert res.risk / f <= best + tol
    # the lowest dip is the certified one (its scale within the golden-section resolution)
    assert abs(s_best - s_star) <= err + 1e-6 * s_star**2 / abs(m)
