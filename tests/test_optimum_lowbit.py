"""The certified optimum at 1-4 bits (quanttheory/risk/_lowbit_cert.py, issue 20) and on unsigned
grids for laws with mass below 0: checked against mpmath (tests/mpref.py, cell-by-cell partial
moments and complex-erfc closed forms at 50-60 digits, nothing shared with the engine's closed
forms) and against dense scans of the engine's quadrature curve (risk_curve), plus hand-derived
optima."""

from __future__ import annotations

import math
import pathlib
import sys

import mpmath as mp
import numpy as np
import pytest

from quanttheory import Grid, Laplace, Normal, ReLU
from quanttheory.risk import optimal_scale, risk_curve
from quanttheory.risk.curve import significant_local_minima

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from mpref import mp_risk  # noqa: E402


def _mp_slope(d, g, reg, x, h):
    law, mu, sig, relu = d.kernel_params()
    with mp.workdps(60):
        x, h = mp.mpf(x), mp.mpf(h)
        up = mp_risk(law, mu, sig, relu, g.r_b, g.r_t, reg, x + h, dps=60)
        dn = mp_risk(law, mu, sig, relu, g.r_b, g.r_t, reg, x - h, dps=60)
        return (up - dn) / (2 * h)


@pytest.mark.parametrize("loc,scale", [(0.0, 1.0), (0.0, 0.37)])
@pytest.mark.parametrize("signed", [True, False])
def test_laplace_one_bit_msqe_optimum_is_two_scales(loc, scale, signed):
    """Hand-derived: Laplace(0, b) on the 1-bit signed grid {-s, 0}: only x < -s/2 maps to -s, so
    MSE'(s) = 2 int_{-inf}^{-s/2} (x + s) e^{x/b}/(2b) dx = e^{-s/(2b)} (s/2 - b): negative below
    s = 2b, positive above, the global optimum is s* = 2b exactly.  The unsigned grid {0, s} is the
    mirror image (x < 0 all map to 0: a constant), same s*.  The risk is checked against mpmath."""
    d, g = Laplace(loc, scale), Grid(1, signed)
    res = optimal_scale(d, g, "msqe")
    assert res.method.startswith("few-cell")
    assert abs(res.scale - 2 * scale) <= res.scale_error + 1e-15 * scale
    assert res.scale_error <= 1e-9 * res.scale
    law, mu, sig, relu = d.kernel_params()
    ref = float(mp_risk(law, mu, sig, relu, g.r_b, g.r_t, "msqe", 2 * scale))
    assert res.risk == pytest.approx(ref, rel=1e-12)
    assert ref * (1 - 1e-9) <= res.risk_lower_bound <= ref * (1 + 1e-13)


def test_normal_unsigned_one_bit_closed_form():
    """Hand-derived: N(0, 1) on {0, s}: x < 0 maps to 0 (constant 1/2), cell 1 is (s/2, inf), so
    MSE'(s) = -2 E[(x - s); x > s/2] = -2 (phi(s/2) - s Q(s/2)): the same equation as the signed
    1-bit grid, s Q(s/2) = phi(s/2), solved by mpmath at 40 digits."""
    with mp.workdps(40):
        s_ref = mp.findroot(lambda s: s * mp.ncdf(-s / 2) - mp.npdf(s / 2), 1.6)
    res = optimal_scale(Normal(), Grid(1, False), "msqe")
    assert res.method.startswith("few-cell")
    assert abs(res.scale - float(s_ref)) <= res.scale_error + 1e-15
    assert res.scale == pytest.approx(float(s_ref), rel=1e-12)


LAWS = [Normal(0.3, 1.7), Laplace(-0.4, 0.8), ReLU(Normal(0.5, 1.0)), ReLU(Laplace(0.2, 1.5))]
CASES = [(d, b, s) for d in LAWS for s in (True, False) for b in (1, 2, 3)
         if not (d.relu and s and b == 1)] + [(Laplace(-0.4, 0.8), 4, True), (ReLU(Laplace(0.2, 1.5)), 3, False)]


@pytest.mark.parametrize("reg", ["msqe", "qsin"])
@pytest.mark.parametrize("d,bits,signed", CASES, ids=str)
def test_lowbit_certificate_against_mpmath_and_dense_scan(d, bits, signed, reg):
    """Every 1-3 bit case of four shifted/scaled laws, both grid kinds, MSQE and QSin (plus the 4-bit
    signed Laplace, the old gap): certified to 1e-9 (scale and risk), the mpmath slope (central
    differences at 60 digits, step err/20) changes sign within s* -+ 2 err, the risk equals mpmath's
    to 1e-12, and no point of a dense scan (4001 log points over [s*/30, 30 s*], engine quadrature,
    accurate to ~1e-14) lies below the certified lower bound."""
    g = Grid(bits, signed)
    res = optimal_scale(d, g, reg, with_msqe_excess=False)
    assert res.method.startswith(("few-cell", "bit-independent"))
    assert res.scale_error <= 1e-9 * res.scale
    assert (res.risk - res.risk_lower_bound) <= 1e-9 * res.risk
    e = max(res.scale_error, 1e-12 * res.scale)
    assert _mp_slope(d, g, reg, res.scale - 2 * e, e / 20) < 0 < _mp_slope(d, g, reg, res.scale + 2 * e, e / 20)
    law, mu, sig, relu = d.kernel_params()
    ref = float(mp_risk(law, mu, sig, relu, g.r_b, g.r_t, reg, res.scale))
    assert res.risk == pytest.approx(ref, rel=1e-12)
    scan = np.geomspace(res.scale / 30, res.scale * 30, 4001)
    v = risk_curve(d, scan, g, reg)
    assert v.min() >= res.risk_lower_bound * (1 - 1e-12)


@pytest.mark.parametrize("d,g", [(Normal(6, 1), Grid(3, False)), (Laplace(6, 1), Grid(3, False)),
                                 (Laplace(6, 1), Grid(2, False))], ids=str)
def test_qsin_several_local_minima(d, g):
    """Adversarial: off-centre laws on unsigned 2-3 bit grids, whose QSin curve has 2-3 local minima
    (a dense scan shows them).  The certified optimum is the lowest: no scan point (50,001 log
    points over [0.05, 50]) is lower than its risk lower bound, the scan's best point is within one
    scan step of it, and the other local minima are higher."""
    res = optimal_scale(d, g, "qsin", with_msqe_excess=False)
    assert res.method.startswith("few-cell")
    scan = np.geomspace(0.05, 50, 50001)
    v = risk_curve(d, scan, g, "qsin")
    loc = significant_local_minima(v)
    assert len(loc) >= 2
    assert v.min() >= res.risk_lower_bound * (1 - 1e-12)
    assert res.risk <= v.min() * (1 + 1e-12)
    step = scan[1] / scan[0] - 1
    assert abs(scan[np.argmin(v)] / res.scale - 1) <= step
    others = [i for i in loc if abs(scan[i] / res.scale - 1) > 10 * step]
    assert others and all(v[i] > res.risk * (1 + 1e-6) for i in others)


@pytest.mark.parametrize("bits", [1, 8, 16, 24])
@pytest.mark.parametrize("reg", ["msqe", "qsin"])
def test_unsigned_grid_law_with_mass_below_zero(bits, reg):
    """A Normal law on an unsigned grid: every x < 0 maps to 0 whatever s (a constant
    tf E[x^2; x < 0]); certified like the ReLU law (same optimum: the constant does not move it)
    at every bit width, with a risk equal to the ReLU risk plus the constant (mpmath)."""
    d, g = Normal(0.2, 1.3), Grid(bits, False)
    res = optimal_scale(d, g, reg, with_msqe_excess=False)
    assert res.method.startswith(("few-cell", "bit-independent"))
    assert res.scale_error <= 1e-9 * res.scale
    assert (res.risk - res.risk_lower_bound) <= 1e-9 * res.risk
    rel = optimal_scale(ReLU(d), g, reg, with_msqe_excess=False)
    assert abs(res.scale - rel.scale) <= res.scale_error + rel.scale_error
    law, mu, sig, relu = d.kernel_params()
    if bits <= 8:  # mpref's MSQE is cell by cell: O(2^b)
        ref = float(mp_risk(law, mu, sig, relu, g.r_b, g.r_t, reg, res.scale))
        assert res.risk == pytest.approx(ref, rel=1e-12)
    # the constant: tf E[x^2; x < 0] (tf = pi^2 for both curves: MSQE's curve factor, QSin's tails)
    with mp.workdps(40):
        z = mp.mpf(mu) / sig
        const = float(mp.pi**2 * sig**2 * mp.quad(lambda x: (x + z) ** 2 * mp.npdf(x), [-mp.inf, -z]))
    ref_rel = optimal_scale(ReLU(d), g, reg, with_msqe_excess=False)
    assert res.risk == pytest.approx(float(risk_curve(ReLU(d), [res.scale], g, reg)[0]) + const, rel=1e-12)
    assert res.risk == pytest.approx(ref_rel.risk + const, rel=1e-12)
    if bits <= 8:
        e = max(res.scale_error, 1e-12 * res.scale)
        assert _mp_slope(d, g, reg, res.scale - 2 * e, e / 20) < 0 < _mp_slope(d, g, reg, res.scale + 2 * e, e / 20)


def test_few_cell_curve_matches_mpmath_values_and_slopes():
    """The closed forms themselves (value, R', and R'' lower bounds) against mpmath at scales far
    from the optimum too: value to 1e-12, R' to 1e-9 of its scale, and every R'' lower bound on
    [s, 1.01 s] below the mpmath second difference at s and 1.01 s."""
    from quanttheory.risk._lowbit_cert import FewCells

    for law in (0, 1):
        for relu, r_b, r_t in ((False, -2, 1), (True, 0, 3), (False, -1, 0)):
            for qsin in (False, True):
                cur = FewCells(law, 0.4, relu, r_b, r_t, qsin)
                reg = "qsin" if qsin else "msqe"
                fac = 1.0 if qsin else math.pi**2
                for s in (0.2, 1.3, 5.0):
                    with mp.workdps(50):
                        R = lambda x: mp_risk(law, 0.4, 1.0, relu, r_b, r_t, reg, x, dps=50) / fac
                        h = mp.mpf(s) * mp.mpf("1e-12")
                        ref = R(s)
                        slope = (R(s + h) - R(s - h)) / (2 * h)
                        h2 = mp.mpf(s) * mp.mpf("1e-6")
                        curv = [(R(x + h2) - 2 * R(x) + R(x - h2)) / h2**2 for x in (s, 1.01 * s)]
                    (F, _), (G, _) = cur.both(s)
                    assert F == pytest.approx(float(ref), rel=1e-12)
                    assert abs(G - float(slope)) <= 1e-9 * (abs(float(slope)) + float(ref) / s)
                    assert cur.curvature_lower(s, 1.01 * s) <= min(float(c) for c in curv) + 1e-9
