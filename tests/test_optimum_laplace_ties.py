"""Laplace laws far off centre whose competing dips cannot be separated (issue 20, session lapties): the few-cell
certificate's tied result (``_lowbit_cert._tied_dip``, ``_tied_result``): every dip that no lower bound excludes has
its own minimizer certified (root of R' with a certified sign change, convex neighbourhood, basin), the minimum
value is certified (``risk_lower_bound <= min <= risk``) and ``scale_error`` spans every tied dip's minimizer.

References (nothing shared with the engine): mpmath, as in tests/test_optimum_laplace_far24.py (the geometric-series
MSQE reference ``_msqe_ref`` at 40/60 digits; the competing dips by ``tooth_minima``, every tooth within J of s*);
and a hand-derived case: far off centre at 6 bits every scale ``|m|/k`` puts the mode on grid point ``k`` with the
whole law (to ``e^{-s/2}``, ~1e-70) inside one cell, so each is a dip of value ``Var = 2`` whose minimizer is
``|m|/k`` (the law and the lattice are symmetric about the mode there; only the grid ends, ``e^{-s/2}`` away,
break the symmetry): ``k = 1..r_t`` (``m > 0``) or ``1..-r_b`` (``m < 0``).
"""

from __future__ import annotations

import math
import pathlib
import sys

import mpmath as mp
import pytest

from quanttheory import Grid, Laplace
from quanttheory.risk import optimal_scale

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from mpref import tooth_minima  # noqa: E402
from test_optimum_laplace_wide import _curve, _grid, _msqe_ref  # noqa: E402


@pytest.mark.parametrize("m", [1e4, -1e4])
def test_tied_far_few_bits_hand_derived(m):
    """Laplace(+-1e4, 1), signed 6 bits: the dips ``|m|/k`` (every level the mode can sit on) are tied to ~1e-70;
    the certificate reports all of them, each one's minimizer ``|m|/k`` inside its own interval, the value
    ``2 pi^2`` (MSQE's factor pi^2 times the variance 2), a lower bound below it, and a span covering them all."""
    res = optimal_scale(Laplace(m, 1.0), Grid(6, True), "msqe", with_msqe_excess=False)
    assert "few-cell" in res.method and "tied" in res.method
    tied = res.extra["tied_minima"]
    r_side = 31 if m > 0 else 32
    assert len(tied) == r_side
    f = math.pi**2
    assert abs(res.risk - 2 * f) <= 4e-16 * 2 * f
    assert res.risk_lower_bound <= 2 * f and res.risk_lower_bound >= 2 * f * (1 - 1e-12)
    got = sorted(tied)
    for k, (s, e) in zip(range(r_side, 0, -1), got):
        s_k = abs(m) / k
        assert abs(s - s_k) <= e + 4e-16 * s_k, (k, s, e)
        assert abs(s_k - res.scale) <= res.scale_error
    # the span is that of the dips (not wider than their extreme minimizers plus their own errors)
    lo, hi = got[0][0] - got[0][1], got[-1][0] + got[-1][1]
    assert res.scale_error <= max(res.scale - lo, hi - res.scale) * (1 + 1e-15)


CASES = [
    # (m, bits, signed, J): near-ties at 22-24 bits (fell back to the per-cell path, > 60 s, before)
    (20.0, 22, False, 3),     # the lowest dip the root's neighbour, 1.2e-14 of F lower (mpmath)
    (1000.0, 24, True, 3),    # the runner-up 1.8e-12 of F above the lowest; value error 1.1e-12 each
    (-1000.0, 24, True, 3),
    (50.0, 24, False, 3),
]


@pytest.mark.parametrize("m,bits,signed,J", CASES)
def test_tied_near_ties_against_every_dip(m, bits, signed, J):
    """The tied certificate against mpmath: the risk is the curve's value at the reported scale (within 2e-13);
    each tied dip's exact slope changes sign across its interval ``s_i -+ 2 e_i``; the true global minimum (the
    least of every tooth's minimum within J of s*) lies in [risk_lower_bound, risk]; and every tooth minimizer
    whose value is not above the curve's value at the reported scale (a possible global minimizer), the global one included, lies in
    scale -+ scale_error."""
    res = optimal_scale(Laplace(m, 1.0), Grid(bits, signed), "msqe", with_msqe_excess=False)
    assert "few-cell" in res.method and "tied" in res.method
    tied = res.extra["tied_minima"]
    assert 2 <= len(tied) <= 64
    s_star, err = res.scale, res.scale_error
    f = math.pi**2
    Fm = _curve(m, bits, signed, False, 40)
    Fm60 = _curve(m, bits, signed, False, 60)

    def F(x):
        with mp.workdps(40):
            return Fm(mp.mpf(x))

    with mp.workdps(40):
        fs = F(s_star)
        assert abs(res.risk / f - fs) <= 2e-13 * fs
    for s_i, e_i in tied:
        assert abs(s_i - s_star) <= err
        for sgn in (-1, 1):
            x = mp.mpf(s_i) + sgn * 2 * mp.mpf(e_i)
            h = mp.mpf(e_i) * mp.mpf(10) ** -3
            with mp.workdps(60):
                d = (Fm60(x + h) - Fm60(x - h)) / (2 * h)
            assert sgn * d > 0, (s_i, sgn, d)
    r_b, r_t = _grid(bits, signed)
    r_side = r_t if m > 0 else -r_b
    dips = tooth_minima(F, abs(m), s_star, J, 11, 36, r_side)
    best, s_best = dips[0]
    assert res.risk_lower_bound / f <= best * (1 + 1e-15)
    assert best <= res.risk / f * (1 + 1e-15)
    tol = 1e-6 * s_star**2 / abs(m)  # the golden-section resolution (a millionth of a tooth)
    assert abs(s_best - s_star) <= err + tol
    top = fs * (1 + 1e-15)  # the curve's true value at the reported scale: a possible global minimizer is no higher
    competing = [x for v, x in dips if v <= top]
    assert len(competing) >= 1
    for x in competing:
        assert abs(x - s_star) <= err + tol, (x, s_star, err)
    # the test could fail: a tooth outside the span exists and is above the risk
    assert any(abs(x - s_star) > err + tol and v > top for v, x in dips)


# --- session lapties2 (2026-12-01, early morning): the tied family in closed form (_lowbit_cert._lap_family) ---


@pytest.mark.parametrize("z,s", [(0.0, 9.0), (0.7, 9.0), (-1.0, 12.0), (2.5, 20.0), (4.4, 9.0), (0.3, 150.0)])
def test_lattice_closed_form_against_quad(z, s):
    """``G(z, s) = E[d(z + Y, s Z)^2] = 2 + z^2 - s cosh(z)/sinh(s/2)`` (Y standard Laplace, |z| <= s/2), the closed
    form behind the family bound, against mpmath quadrature cell by cell; and the two inequalities the family uses
    for ``s >= 9``: ``G >= 2 + z^2 - cosh(1) A(s)`` for |z| <= 1, ``G >= 2 + z^2/2`` for |z| >= 1."""
    with mp.workdps(40):
        zz, ss = mp.mpf(z), mp.mpf(s)

        def f(y):
            u = zz + y
            return (u - ss * mp.floor(u / ss + mp.mpf(1) / 2)) ** 2 * mp.exp(-abs(y)) / 2

        W = 120
        pts = sorted({-W, 0, W} | {(k + mp.mpf(1) / 2) * ss - zz for k in range(-int(W / s) - 2, int(W / s) + 3)
                                    if -W < (k + 0.5) * s - z < W})
        ref = mp.quad(f, pts) + 2 * mp.exp(-W) * (W + ss) ** 2  # (the tails beyond W: bounded, ~1e-50)
        G = 2 + zz**2 - ss * mp.cosh(zz) / mp.sinh(ss / 2)
        assert abs(ref - G) <= mp.mpf(10) ** -25 + 2 * mp.exp(-W) * (W + ss) ** 2
        A = ss / mp.sinh(ss / 2)
        if abs(z) <= 1:
            assert G >= 2 + zz**2 - mp.cosh(1) * A
        else:
            assert G >= 2 + zz**2 / 2


FAMILY = [
    # (m, bits, signed): more than 64 tied levels, or an OverflowError before (lapties: per-cell, 0.3-60+ s)
    (1e4, 8, True), (-1e4, 8, True), (1e5, 8, True), (1e5, 10, True), (-1e5, 10, True), (1e5, 8, False),
    (1e4, 6, False), (1e5, 6, True), (-1e5, 6, True), (1e5, 6, False),
]


@pytest.mark.parametrize("m,bits,signed", FAMILY)
def test_tied_family_hand_derived(m, bits, signed):
    """Far off centre every ``|m|/k`` (k = 1..r, r the outermost grid point on the mean's side) puts the mode on a
    grid point with the law inside one cell to ``e^{-s/2}``: a dip of value ``Var = 2`` (times pi^2) at ``|m|/k``,
    the dips equal to ~1e-15 at most (8 bits, m = 1e4: ``s/sinh(s/2) = 1.5e-15`` at s = 78.7). Expected (hand):
    the certificate is few-cell and tied, the risk is 2 pi^2 to a few ulps and the curve's value at the scale
    (mpmath), ``risk_lower_bound`` is within 1e-12 below it and not above any dip's exact value (mpmath at |m|/k,
    the largest k included, where the dips are lowest), the span covers |m|/r .. |m|, and the curve just outside a
    window (1e-9 relative off |m|/k, ``z^2 = (1e-9 |m|)^2 >= 1e-10``) is above the risk (the windows exclude it)."""
    res = optimal_scale(Laplace(m, 1.0), Grid(bits, signed), "msqe", with_msqe_excess=False)
    assert "few-cell" in res.method and "tied" in res.method and "closed form" in res.method
    r_b, r_t = _grid(bits, signed)
    r_side = r_t if m > 0 else -r_b
    fam = res.extra["tied_family"]
    assert fam["k_max"] == r_side and fam["count"] == r_side
    assert fam["radius"] <= 1e-6
    listed = res.extra["tied_minima"]
    assert len(listed) == (r_side if r_side <= 64 else 1)
    f = math.pi**2
    assert abs(res.risk - 2 * f) <= 1e-14 * 2 * f
    assert 2 * f * (1 - 1e-12) <= res.risk_lower_bound <= res.risk
    with mp.workdps(40):
        Fs = _msqe_ref(m, not signed, r_b, r_t, res.scale)
        assert abs(res.risk / f - Fs) <= 2e-15 * Fs
        for k in sorted({1, 2, r_side // 2, r_side - 2, r_side - 1, r_side}):
            s_k = abs(m) / k
            assert abs(s_k - res.scale) <= res.scale_error
            assert res.risk_lower_bound / f <= _msqe_ref(m, not signed, r_b, r_t, s_k)
            # just outside the window: excluded rightly (above the risk)
            assert _msqe_ref(m, not signed, r_b, r_t, s_k * (1 + 1e-9)) > res.risk / f
    # the span is the family's (not wider): |m|/r_side .. |m| plus the windows' radii
    assert res.scale_error <= max(res.scale - abs(m) / r_side, abs(m) - res.scale) + 1e-6


@pytest.mark.parametrize("m", [1e5, -1e5, 2e4])
def test_clipping_part_beyond_1400_and_no_silent_overflow(m):
    """Laplace(1e5, 1) at 6 bits raised an OverflowError at the certificate's first step: ``tails`` (the clipping
    part ``T``, a lower bound of F below s) evaluated the whole geometric closed form, whose full-cell integral
    ``E_2(s/2) ~ e^{s/2}`` overflows above s ~ 1400 (and gave ``inf * 0 = nan`` at s = 1400: a silent wrong number).
    Now ``tails`` computes T alone (bit-identical to the closed form's T where that works) and the closed form
    raises a clear OverflowError above s = 1400. T against its hand-derived form: ``E[(xi - b)^2; xi > b] =
    e^{-(b - m)}`` for b >= m, ``2 + (m - b)^2 - e^{-(m - b)}`` for b < m (and the same at the lower end a)."""
    from quanttheory.risk import _lowbit_cert as lc
    from quanttheory.risk import _normal_cert as nc

    def T_ref(s, r_b, r_t, relu):
        with mp.workdps(40):
            mm, ss = mp.mpf(m), mp.mpf(s)

            def side(d):  # E[(xi - e)^2; xi beyond e], d = (e - m) signed away from the mode
                return mp.exp(-d) if d >= 0 else 2 + d * d - mp.exp(d)

            t = side(r_t * ss - mm)
            if not relu:
                t += side(mm - r_b * ss)
            return t

    for r_b, r_t, relu in ((-32, 31, False), (0, 63, True), (-128, 127, False)):
        cur = nc.LaplaceCurve(m, relu, r_b, r_t, False)
        for s in (50.0, 300.0, 1399.0, abs(m) / 31, 1401.0, 5e3, 1.3 * abs(m)):
            t = cur.tails(s)
            # (the exponents b - m round to eps/2 (|b| + |m|): the documented relative error of _lap_tails)
            tol = t * (1e-14 + 5e-16 * (abs(r_t * s) + abs(r_b * s) + 2 * abs(m))) + 1e-300
            assert abs(t - T_ref(s, r_b, r_t, relu)) <= tol, (s, t)
            if s <= 1399.0:
                assert t == cur._curve(s)[1]  # bit-identical where the closed form works
            else:
                with pytest.raises(OverflowError, match="overflows above s = 1400"):
                    cur._curve(s)
                with pytest.raises(OverflowError, match="overflows above s = 1400"):
                    lc._lap_msqe_vd(m, relu, r_b, r_t, s)


@pytest.mark.parametrize("m,bits,signed", [(1e5, 6, True), (-1e5, 6, True), (1e5, 8, True), (-1e5, 8, True),
                                           (1e5, 6, False)])
def test_tied_family_qsin_against_mpmath(m, bits, signed):
    """QSin far off centre: ``F >= (2 pi^2 + 4 z^2)/(1 + 4 pi^2/s^2)`` (the unclipped lattice, |sin t| >= 2|t|/pi), so
    the dips at |m|/k rise with s (hand: ``2 pi^2/(1 + 4 pi^2 k^2/m^2)``) and F's value error (~5e-4 of F at s ~ 3000:
    the non-ripple error model) ties them. Against mpmath (the dips' exact values at |m|/k, the 45 largest k and
    k = 1): the reported risk is the curve's value at the scale, ``risk_lower_bound`` is below the least dip, every
    dip whose exact value is not above the risk lies within ``scale -+ scale_error``; certified in the few-cell path
    (600 bounds: before 1557-3088 bounds one dip at a time, or the per-cell path)."""
    res = optimal_scale(Laplace(m, 1.0), Grid(bits, signed), "qsin", with_msqe_excess=False)
    assert "few-cell" in res.method and "tied" in res.method and "closed form" in res.method
    assert res.extra["lower_bound_evaluations"] <= 600
    F = _curve(m, bits, signed, True, 40)
    r_b, r_t = _grid(bits, signed)
    r_side = r_t if m > 0 else -r_b
    with mp.workdps(40):
        # (F = s^2 (P - C)/2 cancels ~s^2/(4 pi^2) = 3e5 at s ~ 3000: the computed value is off by up to 4e-11 of F,
        # within its stated error ~5e-4 of F)
        assert abs(res.risk - F(res.scale)) <= 2e-10 * res.risk
        dips = [(F(abs(m) / k), abs(m) / k) for k in sorted(set(range(max(1, r_side - 45), r_side + 1)) | {1})]
        best = min(dips)[0]
        assert res.risk_lower_bound <= best <= res.risk * (1 + 2e-10)
        for v, s_k in dips:
            if v <= res.risk * (1 + 2e-10):
                assert abs(s_k - res.scale) <= res.scale_error, (s_k, v)
    # hand: the dips' lower bounds 2 pi^2/(1 + 4 pi^2/s^2) at |m|/r_side is below the risk, and the gap is small
    assert res.risk_lower_bound <= 2 * math.pi**2 / (1 + 4 * math.pi**2 / (abs(m) / r_side) ** 2)
    assert (res.risk - res.risk_lower_bound) / res.risk <= 2e-6


@pytest.mark.parametrize("m,bits,signed", [(1e4, 6, True), (-1e4, 8, True), (1e5, 6, True), (1e5, 10, True),
                                           (1e4, 6, False)])
def test_value_error_at_the_dips(m, bits, signed):
    """The family's windows rest on ``F_up = F(s_t) + err`` being an upper bound of the curve at ``s_t`` (a dip
    ``|m|/k``): there the stated value error of the cell sums covers the true error (mpmath), at the dips and 1e-13
    off them. (Away from the dips the cell sums' old 1e-14 model was exceeded by up to ~90x far off centre, the
    rounding of the cell centres ``k s``; since lapverr the error model holds it: tests/test_optimum_laplace_verr.py.)"""
    from quanttheory.risk import _lowbit_cert as lc

    r_b, r_t = _grid(bits, signed)
    relu = not signed
    cur = lc.FewCells(1, m, relu, r_b, r_t, False)
    r_side = r_t if m > 0 else -r_b
    for k in sorted({1, 2, 3, r_side // 3, r_side // 2, r_side - 2, r_side - 1, r_side}):
        for f in (1.0, 1 + 1e-13, 1 - 1e-13):
            s = abs(m) / k * f
            v, e = cur.value(s)
            assert abs(v - _msqe_ref(m, relu, r_b, r_t, s, 40)) <= e, (k, f)


def test_which_dip_is_lowest_hand_derived():
    """Laplace(1e4, 1), signed 6 bits (r = 31), by hand: at ``s = m/k`` the mode sits on grid point k and
    ``F(m/k) = G(0, s) + clipping = 2 - s/sinh(s/2) + [k = r] s e^{-s/2}`` (above the top point ``b = r s`` a value
    ``b + y``, ``y > s/2``, has error ``y`` instead of ``y - s``: ``int_{s/2}^inf (2 y s - s^2) e^{-y}/2 dy = s
    e^{-s/2}``; the other clipped tails are ``e^{-1.5 s}`` or less). So ``F(m/31) = 2 - 2.89e-68`` is the least
    (``s/sinh(s/2)`` falls with s faster than the clipping term rises), ``F(m/30) = 2 - 2.76e-70``: all equal to
    double precision. Checked against the 120-digit geometric reference; the certificate's span holds ``m/31`` and
    its lower bound is below ``2 - 2.89e-68`` (times pi^2), its risk is 2 pi^2."""
    with mp.workdps(120):
        m = mp.mpf(10000)
        vals = {}
        for k in (31, 30, 29, 16, 2):
            s = m / k
            F = _msqe_ref(m, False, -32, 31, s, 120)
            hand = 2 - s / mp.sinh(s / 2) + (s * mp.exp(-s / 2) if k == 31 else 0)
            assert abs(F - hand) <= mp.mpf(10) ** -100 * (2 - hand) + mp.mpf(10) ** -115, k
            vals[k] = F
        assert min(vals, key=vals.get) == 31
        assert mp.mpf("2.8e-68") < 2 - vals[31] < mp.mpf("2.9e-68")
    res = optimal_scale(Laplace(1e4, 1.0), Grid(6, True), "msqe", with_msqe_excess=False)
    f = math.pi**2
    assert abs(1e4 / 31 - res.scale) <= res.scale_error
    assert res.risk == 2 * f or abs(res.risk - 2 * f) <= 4e-16 * 2 * f
    assert res.risk_lower_bound <= f * 2 * (1 - 1e-16)
