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
from test_optimum_laplace_wide import _curve, _grid  # noqa: E402


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
