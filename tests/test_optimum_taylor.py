"""The pointwise-Taylor curvature bound of the few-cell certificate off centre (issue 20,
risk/_lowbit_cert.py: FewCells.curv_point, fourth_bound, curvature_taylor).

Off centre (Normal(m, 1), |m| > 4) R'' and R''' are computed exactly at a point (QSin: Faddeeva
closed forms of int x^k e^{iwx} p, k <= 3; MSQE: cell sums) and only |R''''| is bounded crudely
over an interval; R'' >= R''(u) - |R'''(u)| h - M4 h^2/2 on [u - h, u + h].

References: tests/mpref.py (mpmath, 60 digits, nothing shared with the engine) differentiated by
central differences (step 1e-10 s: truncation ~1e-17 relative, rounding 1e-60/h^3); the interval
bound against dense samples of the (mpmath-checked) pointwise R'' and R'''; and perturbation tests
showing the interval check fails when a term of the bound is left out.
"""

from __future__ import annotations

import pathlib
import sys

import mpmath as mp
import numpy as np
import pytest

from quanttheory import Grid, Laplace, Normal
from quanttheory.risk import optimal_scale
from quanttheory.risk._lowbit_cert import FewCells

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from mpref import mp_risk  # noqa: E402

# (m, relu, r_b, r_t, qsin, scales): signed / unsigned (= ReLU curve) grids of 5-8 bits, the
# outermost dips s ~ |m| / r and scales between them
POINT_CASES = [
    (50.0, False, -32, 31, True, (1.684, 1.6, 1.75, 2.6)),
    (20.0, False, -32, 31, True, (0.7299, 0.69, 0.95)),
    (50.0, True, 0, 63, True, (0.8378, 0.81, 1.3)),
    (-50.0, False, -16, 15, True, (3.3, 3.5, 3.0)),
    (500.0 / 3.0, False, -32, 31, True, (5.383, 5.55, 6.0)),
    (50.0, False, -64, 63, False, (0.835, 0.82, 1.1)),
    (-50.0, False, -128, 127, False, (0.3925, 0.41)),
    (50.0, True, 0, 127, False, (0.3958, 0.38)),
]
# Laplace(m, 1), QSin only (R''' and R'''' of QSin need no derivative of the density)
LAPLACE_CASES = [
    (40.0, True, 0, 63, True, (0.7408, 0.62, 0.87)),
    (-50.0, False, -16, 15, True, (3.3, 3.5)),
    (20.0, False, -32, 31, True, (0.645, 0.8)),
    (50.0, True, 0, 255, True, (0.23256, 0.2, 0.3)),
]
ALL = [(0,) + c for c in POINT_CASES] + [(1,) + c for c in LAPLACE_CASES]
IDS = [f"{'NL'[c[0]]}{c[1]:.4g}-{'relu' if c[2] else 's'}{c[4]}-{'qsin' if c[5] else 'msqe'}" for c in ALL]


def _mp_derivs(law, m, relu, r_b, r_t, qsin, s):
    """(R'', R''') of the standard-units curve (no curve factor) by mpmath central differences."""
    reg = "qsin" if qsin else "msqe"
    with mp.workdps(60):
        fac = mp.mpf(1) if qsin else mp.pi**2
        s0 = mp.mpf(s)
        h = s0 * mp.mpf("1e-10")
        v = [mp_risk(law, m, 1.0, relu, r_b, r_t, reg, s0 + k * h, dps=60) / fac for k in (-2, -1, 0, 1, 2)]
        d2 = (v[3] - 2 * v[2] + v[1]) / h**2
        d3 = (v[4] - 2 * v[3] + 2 * v[1] - v[0]) / (2 * h**3)
    return float(d2), float(d3)


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_pointwise_second_and_third_derivative_against_mpmath(case):
    """R'' and R''' at a point within their stated errors of mpmath (plus 1e-12 relative for the
    reference's differencing); the stated errors themselves <= 1e-11 of the size of the cancelling
    terms, so a value off by 1e-10 of that fails."""
    law, m, relu, r_b, r_t, qsin, scales = case
    cur = FewCells(law, m, relu, r_b, r_t, qsin)
    assert cur.taylor_ok()
    for s in scales:
        c2, e2, c3, e3 = cur.curv_point(s)
        d2, d3 = _mp_derivs(law, m, relu, r_b, r_t, qsin, s)
        assert abs(c2 - d2) <= e2 + 1e-12 * abs(d2), (s, c2, d2, e2)
        assert abs(c3 - d3) <= e3 + 1e-11 * abs(d3), (s, c3, d3, e3)
        # the errors are rounding (and the Faddeeva slack) of terms that cancel, of size
        # 2 pi^2 (m/s)^2 and 4 pi^3 |m/s|^3 / s (QSin; MSQE without the powers of pi): 1e-11 of those
        f2, f3 = (2 * mp.pi**2, 4 * mp.pi**3) if qsin else (2.0, 8.0)
        assert e2 <= 1e-11 * float(f2) * (m / s) ** 2 and e3 <= 1e-11 * float(f3) * abs(m / s) ** 3 / s


def _interval_violations(cur, s0, widths, fourth=True, third=True):
    """Intervals [s1, s2] around s0 where the Taylor bound (optionally with a term left out)
    exceeds R'' sampled at 41 points (the pointwise R'' minus its error), and where the fourth-
    derivative bound is below |R''''| estimated from differences of the pointwise R'''."""
    bad = []
    for w in widths:
        for off in (-0.7, 0.0, 0.45):
            u = s0 * (1 + off * w)
            s1, s2 = u * (1 - w / 2), u * (1 + w / 2)
            if fourth and third:
                b = cur.curvature_taylor(s1, s2)
            else:
                um, h = 0.5 * (s1 + s2), 0.5 * (s2 - s1)
                c2, e2, c3, e3 = cur.curv_point(um)
                b = c2 - e2 - (abs(c3) + e3) * h * third - 0.5 * cur.fourth_bound(s1, s2) * h * h * fourth
            xs = np.linspace(s1, s2, 41)
            pts = [cur.curv_point(float(x)) for x in xs]
            lo = min(c2 - e2 for c2, e2, _, _ in pts)
            if b > lo:
                bad.append(("R''", s1, s2, b, lo))
            c3s = np.array([p[2] for p in pts])
            r4 = np.max(np.abs(np.diff(c3s) / np.diff(xs)))
            if fourth and cur.fourth_bound(s1, s2) < r4:
                bad.append(("R''''", s1, s2, cur.fourth_bound(s1, s2), r4))
    return bad


WIDTHS = (1e-5, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2)


@pytest.mark.parametrize("case", ALL, ids=IDS)
def test_taylor_curvature_bound_below_the_curve(case):
    """curvature_taylor(s1, s2) <= R'' everywhere on [s1, s2] (18 intervals per case, relative
    widths 1e-5..3e-2 around each scale), |R''''| <= fourth_bound, and the bound is tight on a
    narrow interval (2e-12 relative: within 1e-6 of R'' at its midpoint, the loss is only the h terms)."""
    law, m, relu, r_b, r_t, qsin, scales = case
    cur = FewCells(law, m, relu, r_b, r_t, qsin)
    for s0 in scales:
        assert _interval_violations(cur, s0, WIDTHS) == []
        c2 = cur.curv_point(s0)[0]
        assert cur.curvature_taylor(s0 * (1 - 1e-12), s0 * (1 + 1e-12)) >= c2 - 1e-6 * abs(c2)


def test_interval_check_fails_when_a_term_is_left_out():
    """The check above can fail: without the fourth-derivative term, or without the third-
    derivative term, the 'bound' exceeds the sampled R'' on some of the same intervals."""
    hits_4 = hits_3 = 0
    for law, m, relu, r_b, r_t, qsin, scales in ALL:
        cur = FewCells(law, m, relu, r_b, r_t, qsin)
        for s0 in scales[:2]:
            hits_4 += len(_interval_violations(cur, s0, WIDTHS, fourth=False))
            hits_3 += len(_interval_violations(cur, s0, WIDTHS, third=False))
    assert hits_4 > 0 and hits_3 > 0, (hits_4, hits_3)


def test_taylor_bound_is_only_used_off_centre():
    """Centred laws (and Laplace MSQE, whose fourth derivative has a delta at the kink) keep the
    interval bound of the cells: their results are unchanged bit for bit."""
    assert not FewCells(0, 3.9, False, -8, 7, True).taylor_ok()
    assert not FewCells(1, 50.0, False, -8, 7, False).taylor_ok()
    assert not FewCells(1, 3.9, False, -8, 7, True).taylor_ok()
    assert FewCells(1, 50.0, False, -8, 7, True).taylor_ok()
    assert FewCells(0, -4.1, False, -8, 7, False).taylor_ok()


NEW = [(Normal(20, 1), Grid(6), "qsin"), (Normal(50, 1), Grid(6, signed=False), "qsin"),
       (Normal(50, 0.3), Grid(6), "qsin"), (Normal(50, 1), Grid(7), "msqe"), (Laplace(20, 2), Grid(6), "qsin"),
       (Laplace(50, 1), Grid(8, signed=False), "qsin")]


@pytest.mark.parametrize("d,g,reg", NEW, ids=[f"{d}-{g.bits}{'s' if g.signed else 'u'}-{r}" for d, g, r in NEW])
def test_newly_certified_offcentre_cases(d, g, reg):
    """Cases the few-cell certificate could not prove convex before (QSin: the per-cell hull, ~1e-4;
    MSQE 7 bits: the per-cell path): certified to 1e-9 by the few-cell certificate, and the
    certificate agrees with mpmath (risk at s* within 1e-12, the exact slope changes sign across
    s* -+ 2 scale_error, R'' > 0 at s*)."""
    r = optimal_scale(d, g, reg, with_msqe_excess=False)
    assert "few-cell" in r.method
    assert r.scale_error <= 1e-9 * r.scale
    assert r.risk_lower_bound <= r.risk <= r.risk_lower_bound * (1 + 1e-9)
    law, mu, sig, relu = d.kernel_params()
    with mp.workdps(50):
        R = lambda s: mp_risk(law, mu, sig, relu, g.r_b, g.r_t, reg, s, dps=50)  # noqa: E731
        ref = R(r.scale)
        assert abs(r.risk - float(ref)) <= 1e-12 * r.risk
        e = 2 * max(r.scale_error, 1e-13 * r.scale)
        h = mp.mpf(r.scale) * mp.mpf("1e-20")
        for s, sign in ((r.scale - e, -1), (r.scale + e, 1)):
            slope = (R(mp.mpf(s) + h) - R(mp.mpf(s) - h)) / (2 * h)
            assert sign * slope > 0, (s, slope)


# ----- the bound from the ends of a piece (Normal MSQE off centre, fused cell pass) -----------
MSQE_CASES = [c for c in POINT_CASES if not c[4]]


def _ends_bound(cur, s1, s2, fourth=True, third=True):
    """FewCells.taylor_ends' curvature bound on [s1, s2], or the same with the fourth-derivative
    term left out (fourth=False) or the one-sided third-derivative terms taken on the wrong side
    (third=False: as if R'' rose from s1 where it falls, and conversely)."""
    if fourth and third:
        c, ok, m4 = cur.taylor_ends(s1, s2, lambda c: (c, True))
        assert ok and m4 == cur.fourth_bound(s1, s2)
        return c
    h = 0.5 * (s2 - s1)
    a2, ae2, a3, ae3 = cur.curv_point(s1)
    b2, be2, b3, be3 = cur.curv_point(s2)
    if third:
        base = min(a2 - ae2 + min(0.0, a3 - ae3) * h, b2 - be2 - max(0.0, b3 + be3) * h)
    else:
        base = min(a2 - ae2 + max(0.0, a3 + ae3) * h, b2 - be2 - min(0.0, b3 - be3) * h)
    return base - 0.5 * cur.fourth_bound(s1, s2) * h * h * fourth


def _ends_violations(cur, s0, widths, fourth=True, third=True):
    bad = []
    for w in widths:
        for off in (-0.7, 0.0, 0.45):
            u = s0 * (1 + off * w)
            s1, s2 = u * (1 - w / 2), u * (1 + w / 2)
            b = _ends_bound(cur, s1, s2, fourth, third)
            lo = min(c2 - e2 for c2, e2, _, _ in (cur.curv_point(float(x)) for x in np.linspace(s1, s2, 41)))
            if b > lo:
                bad.append((s1, s2, b, lo))
    return bad


@pytest.mark.parametrize("case", MSQE_CASES, ids=[f"{c[0]:.4g}-{c[3]}" for c in MSQE_CASES])
def test_taylor_ends_bound_below_the_curve(case):
    """taylor_ends (R'' and R''' at both ends of [s1, s2], one-sided in R''') <= R'' sampled at 41
    points on 18 intervals per scale (relative widths 1e-5..3e-2); the fused cell pass gives the
    same value, slope, R'' and R''' bit for bit as the separate sums."""
    m, relu, r_b, r_t, qsin, scales = case
    cur = FewCells(0, m, relu, r_b, r_t, qsin)
    for s0 in scales:
        assert _ends_violations(cur, s0, WIDTHS) == []
        for s in np.linspace(0.9 * s0, 1.2 * s0, 7):
            both, cp = cur._normal_msqe_all(float(s))
            assert both == cur._normal_msqe(float(s)) and cp == cur._normal_msqe_c(float(s))


def test_taylor_ends_check_fails_when_a_term_is_left_out():
    """The check above can fail: without the fourth-derivative term, or with the third-derivative
    terms on the wrong side, the 'bound' exceeds the sampled R'' on some of the same intervals.
    (Leaving the third-derivative term out is not caught by sampling: where R'' is monotone on a
    piece the smaller end value is its minimum; the term covers an R'' that dips inside.)"""
    hits_4 = hits_3 = 0
    for m, relu, r_b, r_t, qsin, scales in MSQE_CASES:
        cur = FewCells(0, m, relu, r_b, r_t, qsin)
        for s0 in scales:
            hits_4 += len(_ends_violations(cur, s0, WIDTHS, fourth=False))
            hits_3 += len(_ends_violations(cur, s0, WIDTHS, third=False))
    assert hits_4 > 0 and hits_3 > 0, (hits_4, hits_3)
