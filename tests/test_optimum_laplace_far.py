"""Far off-centre Laplace MSQE on 5-8-bit grids (review of 2026-11-30 night, docs/audit.md finding 11).

The geometric-series closed form loses ~eps e^(s/4) (standard units), so far off centre, where the
search evaluates at s ~ |m|, it returned values wrong by up to 1e114 and certified negative risks.
Expected answers here come from the exact per-cell curve (``risk_curve``, independent of the
closed form) and from mpmath; they are not tuned to the package's optimum.
"""
import math

import mpmath as mp
import numpy as np
import pytest

from quanttheory import Grid, Laplace, optimal_scale, risk_curve
from quanttheory.risk import _lowbit_cert as lc


@pytest.mark.parametrize("m, b, bits, signed", [(-300.0, 0.3, 5, True), (287.5243, 1.0, 5, True),
                                                (675.8793, 1.0, 5, False)])
def test_far_offcentre_certificate_is_true(m, b, bits, signed):
    law, g = Laplace(m, b), Grid(bits, signed=signed)
    r = optimal_scale(law, g, "msqe")
    exact = risk_curve(law, [r.scale], g, "msqe")[0]
    # the reported risk is the curve's value at the reported scale (rounding of the cell sums)
    assert r.risk == pytest.approx(exact, rel=1e-12)
    # and no scale on a dense scan (every dip s = m/k, k up to the grid's end) beats the lower bound
    ss = np.geomspace(abs(m) / 400.0, 3.0 * abs(m), 60001)
    cv = risk_curve(law, ss, g, "msqe")
    assert r.risk_lower_bound <= cv.min() * (1 + 1e-12)
    assert r.risk > 0


def test_closed_form_not_used_where_it_loses_digits():
    # m = 300, 5 bits: at s = 60 (standard units) the closed form was 1e-10 off; the value used now is
    # the cell sum's, checked against mpmath.
    fc = lc.FewCells(1, 300.0, False, -16, 15, False)
    s = 60.0
    (F, eF), _ = fc._both(s)
    mp.mp.dps = 40
    m = mp.mpf(300)

    def p(x):
        return mp.exp(-abs(x - m)) / 2

    ref = mp.mpf(0)
    lo = -mp.inf
    for k in range(-16, 16):
        hi = mp.inf if k == 15 else (k + mp.mpf(1) / 2) * s
        pts = [lo, hi] if not (lo < m < hi) else [lo, m, hi]
        ref += mp.quad(lambda x: (x - k * s) ** 2 * p(x), pts)
        lo = hi
    assert abs(F - float(ref)) <= eF
    assert abs(F - float(ref)) <= 1e-13 * float(ref)


def test_slope_at_mode_on_a_boundary():
    # ReLU(Laplace(5, 1)) on 6-bit unsigned: s = 2/21 puts m/s = 52.5 exactly on a rounding boundary,
    # where the forward-mode slope took the wrong branch (-23.0952 vs -23.15474).
    fc = lc.FewCells(1, 5.0, True, 0, 63, False)
    s = 2.0 / 21.0
    assert math.isclose(5.0 / s, 52.5)
    _, (G, eG) = fc._both(s)
    # R'(s) = -2 sum_k k int_cell_k (x - k s) p(x) dx (the boundary terms cancel: the error is
    # continuous across a boundary), by mpmath; x < 0 is mapped to 0 by the ReLU (error 0)
    mp.mp.dps = 40
    m, sm = mp.mpf(5), mp.mpf(2) / 21

    def p(x):
        return mp.exp(-abs(x - m)) / 2

    ref = mp.mpf(0)
    for k in range(1, 64):
        lo, hi = (k - mp.mpf(1) / 2) * sm, (mp.inf if k == 63 else (k + mp.mpf(1) / 2) * sm)
        pts = [lo, m, hi] if lo < m < hi else [lo, hi]
        ref += -2 * k * mp.quad(lambda x: (x - k * sm) * p(x), pts)
    assert abs(G - float(ref)) <= eG
    assert abs(G - (-23.0952)) > 0.05
