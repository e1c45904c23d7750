"""Laplace laws far off centre and at 22-24 bits (issue 20, session lap24): the few-cell certificate's
dip walk (a start only), the minimizer's own dip extended by the sign of R' (``_basin``: F monotone
there), the restart margin of ripple curves, and the QSin value error of ripple curves (the mode's
term counted at E's size, not X's, and without the ``|m|`` of the ends' exponents).

References (nothing shared with the engine): mpmath, as in tests/test_optimum_laplace_wide.py (MSQE: the
geometric-series reference ``_msqe_ref``; QSin: tests/mpref.py's complex closed form); the competing
dips by ``tooth_minima`` (every tooth within J of s*, grid plus golden section).
"""

from __future__ import annotations

import math
import pathlib
import sys

import mpmath as mp
import pytest

from quanttheory import Grid, Laplace
from quanttheory.risk import optimal_scale
from quanttheory.risk._lowbit_cert import FewCells, _basin, certify_few

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from mpref import tooth_minima  # noqa: E402
from test_optimum_laplace_wide import _cell, _curve, _grid, _msqe_ref  # noqa: E402


@pytest.mark.parametrize("m,bits,signed", [(1e4, 21, True), (1e5, 22, True), (-1e4, 24, True), (300.0, 24, True),
                                           (50.0, 24, False), (1e4, 13, True)])
def test_qsin_value_error_far(m, bits, signed):
    """The QSin value of a ripple curve within its (now sharper) stated error of mpmath at 60 digits: at the
    scale where the grid's end meets the mode (the end term's exponent rounds there), with the mode on a
    rounding boundary, a quarter cell off it, on a grid point, and beyond; and the error is the sharp one
    away from that end (<= 1e-12 of F: it was up to 3e-9 of F at Laplace(1e4, 1), 21 bits)."""
    r_b, r_t = _grid(bits, signed)
    relu = not signed
    cur = FewCells(1, m, relu, 0 if relu else r_b, r_t, True)
    assert cur.ripple()
    F = _curve(m, bits, signed, True, 60, relu=relu)
    r_side = r_t if m > 0 else -cur.r_a
    s0 = abs(m) / r_side
    q = round(abs(m) / (1.05 * s0))
    worst = 0.0
    for s in (s0, s0 * (1 + 1e-9), 1.05 * s0, abs(m) / (q + 0.5), abs(m) / (q + 0.25), abs(m) / q, 1.3 * s0):
        (f, ef), _ = cur._laplace_qsin(s)
        with mp.workdps(60):
            fr = F(mp.mpf(s))
        assert abs(f - fr) <= ef, (s, float(f - fr), ef)
        worst = max(worst, float(abs(f - fr)) / ef)
        if s >= 1.05 * s0:  # (at s0 the grid's end sits on the mode: its exponent's rounding is real there)
            assert ef <= 1e-12 * abs(f), (s, ef / f)
    assert worst > 1e-4  # the stated error is not absurdly loose either


CASES = [
    # (m, bits, signed, reg, J): newly certified (failed or fell back to the per-cell path before)
    (1e4, 13, True, "msqe", 4),     # the dip walk: the root's dip k = 4093, the lowest k = 4091
    (-1e4, 14, True, "msqe", 4),
    (-5.0, 22, True, "msqe", 3),    # _basin: F within 2e-13 of F(s*) a tooth-fraction away, in s*'s own dip
    (1e4, 21, True, "qsin", 3),     # the QSin value error (was 3e-9 of F, dips 6e-9 apart)
    (-1e4, 21, True, "qsin", 3),    # the walk overshot next to the clipping edge: certified at its origin
    (300.0, 24, True, "qsin", 3),   # a dip 1.7e-13 of F lower: the restart margin
    (50.0, 24, False, "qsin", 3),
    (1e5, 16, True, "qsin", 4),
    (1e5, 16, True, "msqe", 4),     # dip_lower: the dips ~1e-4 apart at s* = 3.05 (3000 bounds ran out)
    (1e4, 10, True, "msqe", 4),     # s* = 19.6 law scales: every dip within 2e-3 of the law's variance
    (1e5, 17, False, "msqe", 4),
    (20.0, 24, False, "msqe", 3),   # the dips 2e-13 of F apart, F's error 1.2e-13
]


@pytest.mark.parametrize("m,bits,signed,reg,J", CASES)
def test_certificate_far_against_every_dip(m, bits, signed, reg, J):
    """The certified optimum against mpmath: the risk at s* (within 2e-13), the exact slope's sign change
    inside s* -+ 2 scale_error, the lower bound below the minimum of every tooth within J of s*, the lowest
    of them at the certified scale (and the certificate is the few-cell one, to 1e-9)."""
    res = optimal_scale(Laplace(m, 1.0), Grid(bits, signed), reg, with_msqe_excess=False)
    assert "few-cell" in res.method
    s_star, err = res.scale, res.scale_error
    assert err <= 1e-9 * s_star
    qsin = reg == "qsin"
    f = 1.0 if qsin else math.pi**2
    Fm = _curve(m, bits, signed, qsin, 40, relu=False)
    Fm60 = _curve(m, bits, signed, qsin, 60, relu=False)

    def F(x):
        with mp.workdps(40):
            return Fm(mp.mpf(x))

    with mp.workdps(40):
        fs = F(s_star)
        assert abs(res.risk / f - fs) <= 2e-13 * fs
        # the slope changes sign across s* -+ 2 err (chords over 1e-3 err: R' is smooth there)
        for sgn in (-1, 1):
            x = mp.mpf(s_star) + sgn * 2 * mp.mpf(err)
            h = mp.mpf(err) * mp.mpf(10) ** -3
            with mp.workdps(60):  # (60 digits: at 24 bits the chord's difference is ~1e-27 of F)
                d = (Fm60(x + h) - Fm60(x - h)) / (2 * h)
            assert sgn * d > 0, (sgn, d)
    r_b, r_t = _grid(bits, signed)
    r_side = r_t if m > 0 else -r_b
    dips = tooth_minima(F, abs(m), s_star, J, 11, 36, r_side)
    best, s_best = dips[0]
    assert res.risk_lower_bound / f <= best * (1 + 1e-15)
    assert all(res.risk_lower_bound / f <= v for v, _ in dips)
    assert res.risk / f <= best * (1 + 2e-13)
    # the lowest dip is the certified one (its scale within the golden-section resolution)
    assert abs(s_best - s_star) <= err + 1e-6 * s_star**2 / abs(m)
    # and the runner-up is a different dip (the test separates them)
    assert len(dips) >= 2 and dips[1][0] > best


@pytest.mark.parametrize("m,bits,signed", [(-5.0, 22, True), (20.0, 24, False), (1000.0, 24, True)])
def test_basin_monotone(m, bits, signed):
    """``_basin``'s claim: F (mpmath) increases on [b, b'] and decreases on [a', a], sampled at 41 points
    each, over ranges that reach past the convex neighbourhood [a, b] by up to several teeth; and the
    extension is not void (it reaches at least twice the neighbourhood's width)."""
    r_b, r_t = _grid(bits, signed)
    relu = not signed
    cur = FewCells(1, m, relu, 0 if relu else r_b, r_t, False)
    out = certify_few(1, m, False, r_b, r_t, False)
    s_t = out["scale"] if out is not None else None
    if s_t is None:  # not certified (near-tied dips): the basin of the root found is still checked
        from quanttheory.risk._lowbit_cert import _brent_root, _bracket_root

        r_side = r_t if m > 0 else -r_b
        lo, hi, glo, ghi = _bracket_root(cur, (abs(m) - 2.0) / r_side, 1.02, 300)
        s_t = _brent_root(lambda s: cur.deriv(s)[0], lo, hi, glo, ghi, rtol=1e-13)[0]
    d = 1e-8 if bits >= 24 else 1e-7
    a, b = s_t * (1 - d), s_t * (1 + d)
    a2, b2, _ = _basin(cur, a, b, s_t * 0.5, s_t * 2.0)
    assert b2 - b >= 2 * (b - a) or a - a2 >= 2 * (b - a)
    Fm = _curve(m, bits, signed, False, 40, relu=relu)
    for lo, hi, sign in ((b, min(b2, b + 8 * s_t**2 / abs(m)), 1), (max(a2, a - 8 * s_t**2 / abs(m)), a, -1)):
        if hi <= lo:
            continue
        with mp.workdps(40):
            xs = [mp.mpf(lo) + (mp.mpf(hi) - mp.mpf(lo)) * i / 40 for i in range(41)]
            vs = [Fm(x) for x in xs]
        for v0, v1 in zip(vs, vs[1:]):
            assert sign * (v1 - v0) > 0, (lo, hi, sign)


def _lattice_mse(z, s, dps=40):
    """E[d(z + Y, s Z)^2], Y standard Laplace, cell by cell (mpmath)."""
    with mp.workdps(dps):
        z, s = mp.mpf(z), mp.mpf(s)
        half = mp.mpf(1) / 2
        kmax = int(mp.ceil((abs(z) + 75) / s)) + 1  # (mass beyond 75 law scales: e^-75 = 3e-33)
        return sum(_cell(z, (k - half) * s, (k + half) * s, k * s) for k in range(-kmax, kmax + 1))


@pytest.mark.parametrize("s", [0.1, 0.3, 1.0, 3.05, 12.0, 30.0])
def test_dip_envelope_closed_form(s):
    """FewCells.dip_lower's two claims: the lattice MSE of a Laplace law with its mode on a lattice point is
    2 - s/sinh(s/2), and no offset of the mode gives less (derived from the closed-form Fourier series; checked
    here cell by cell at 40 digits, offsets 0..s/2)."""
    g0 = _lattice_mse(0, s)
    with mp.workdps(40):
        assert abs(g0 - (2 - mp.mpf(s) / mp.sinh(mp.mpf(s) / 2))) <= mp.mpf(10) ** -30
    vals = [_lattice_mse(s * t / 20, s) for t in (1, 3, 5, 7, 10)]
    assert all(v > g0 for v in vals)
    assert vals[-1] - g0 > 1e-6 * g0  # the offsets do matter (the test could fail)


@pytest.mark.parametrize("m,bits,signed", [(1e5, 16, True), (1e4, 13, True), (1e4, 10, True), (1e5, 17, False),
                                           (-1e4, 14, True), (300.0, 12, True), (50.0, 8, True)])
def test_dip_lower_below_the_curve(m, bits, signed):
    """dip_lower below the curve (mpmath) on intervals at, next to and far from s* (1/4 to 400 teeth wide), the
    minimum over each sampled at 41 points and refined by golden section around the lowest; and on an interval
    of one tooth around s* it is within 2e-3 of F(s*) (it tracks the dips: the test would catch a wrong
    envelope), and it excludes the scales a few teeth above s* (what it is for)."""
    r_b, r_t = _grid(bits, signed)
    relu = not signed
    cur = FewCells(1, m, relu, 0 if relu else r_b, r_t, False)
    out = certify_few(1, m, False, r_b, r_t, False)
    assert out is not None
    s_t = out["scale"]
    tooth = s_t * s_t / abs(m)

    def F(x):
        with mp.workdps(40):
            return _msqe_ref(m, relu, 0 if relu else r_b, r_t, mp.mpf(x))

    Ft = F(s_t)
    ivs = [(s_t - tooth / 2, s_t + tooth / 2), (s_t - tooth / 8, s_t + tooth / 8), (s_t + tooth, s_t + 2 * tooth),
           (s_t - 3 * tooth, s_t - tooth), (s_t * 1.01, s_t * 1.01 + 40 * tooth), (s_t * 1.3, s_t * 1.3 + 400 * tooth),
           (s_t * 0.995, s_t * 0.995 + 10 * tooth)]
    for s1, s2 in ivs:
        lb = cur.dip_lower(s1, s2)
        xs = [s1 + (s2 - s1) * i / 40 for i in range(41)]
        vs = [F(x) for x in xs]
        i = min(range(41), key=lambda t: vs[t])
        lo, hi = xs[max(i - 1, 0)], xs[min(i + 1, 40)]
        g = (math.sqrt(5) - 1) / 2
        for _ in range(40):
            x1, x2 = hi - g * (hi - lo), lo + g * (hi - lo)
            if F(x1) <= F(x2):
                hi = x2
            else:
                lo = x1
        fmin = min(min(vs), F(0.5 * (lo + hi)))
        assert lb <= fmin, (s1, s2, lb, float(fmin))
    lb = cur.dip_lower(s_t - tooth / 2, s_t + tooth / 2)
    assert lb >= float(Ft) * (1 - (2e-3 if s_t >= 1 else 5e-2)), (lb, float(Ft))
    # (a ripple curve at 0.15 law scales, 300 law scales off centre: still within 2e-3)
    above = cur.dip_lower(s_t * (1 + 0.05), s_t * (1 + 0.06))
    assert above > float(Ft) or s_t < 0.5  # at a few law scales it excludes whole ranges above s*


def test_dip_lower_envelope_rounding():
    """dip_lower's G(0, s) in float (a series for sinh x - x below x = 1, the difference above) against mpmath:
    below it, and within 1e-14 of it, from s = 1e-4 to 40 (both branches and their seam at s = 2); the grid
    holds the law entirely (no mass outside, no clipping), so the bound is G(0, s) alone."""
    cur = FewCells(1, 5.0, False, -(2**23), 2**23 - 1, False)
    for s in (1e-4, 1e-3, 0.0123, 0.1, 0.7, 1.99, 2.0, 2.01, 3.3, 12.0, 40.0):
        lb = cur.dip_lower(s, s)
        with mp.workdps(40):
            g = 2 - mp.mpf(s) / mp.sinh(mp.mpf(s) / 2)
        assert lb <= g, (s, lb, float(g))
        assert lb >= float(g) * (1 - 1e-14), (s, lb, float(g))
