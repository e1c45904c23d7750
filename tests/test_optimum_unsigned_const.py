"""Unsigned grids with (much of) the law's mass below 0, and the signed 1-bit grid with mass above 0.

Every value on the side of 0 where the grid has no point quantizes to 0 whatever ``s``: the risk is
``R_ReLU(s) + C`` with ``C = pi^2 E[xi^2; xi < 0]`` (MSQE's curve factor; QSin's tail ``pi^2 u^2``).
Before the fix the per-cell branch and bound minimized the sum directly and, where ``C`` dominates,
certified scales off by 1e-4..0.2 relative with ``scale_error``s 1e-18..1e-3 (docs/audit.md finding on
unsigned grids). References here are independent of the package:

* Laplace(m, 1), m <= 0: closed forms of the positive part (geometric sums of the cells, mpmath at 40
  digits), minimized by a golden search on log s: accurate to ~1e-15 relative in s.
* Normal: the positive part by Gauss-Legendre per cell (numpy, 8 nodes MSQE / 16 nodes QSin: the error
  per cell is below 1e-20 relative for cells of width < 0.01 law scales) plus scipy.quad for the tail; the
  float64 sum is exact to ~1e-13 relative, so its golden minimizer is good to ~1e-6 relative (the false
  certificates were 2.3e-4..0.14 relative off).
"""

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate

from quanttheory import Grid, Laplace, Normal, ReLU, optimal_scale

PI2 = math.pi ** 2


# --- references -----------------------------------------------------------------------------------------

def _lap_pos(s, m, n, reg):
    """Risk of the part x > 0 of Laplace(m, 1), m <= 0, on the unsigned grid [0, n] (mpmath closed form)."""
    s, h = mp.mpf(s), mp.mpf(s) / 2
    w = mp.e ** m / 2  # density on x > 0: w e^{-x}
    if reg == "msqe":
        i2 = lambda a, b: (a * a + 2 * a + 2) * mp.e ** (-a) - (b * b + 2 * b + 2) * mp.e ** (-b)  # int x^2 e^-x
        cell0 = i2(mp.mpf(0), h)
        g = i2(-h, h)  # int_{-h}^{h} u^2 e^{-u} du
        inner = mp.e ** (-s) * (1 - mp.e ** (-(n - 1) * s)) / (1 - mp.e ** (-s)) if n > 1 else 0
        tail = mp.e ** (-n * s) * (h * h - 2 * h + 2) * mp.e ** h
        return PI2 * w * (cell0 + g * inner + tail)
    period = mp.quad(lambda u: mp.sin(mp.pi * u / s) ** 2 * mp.e ** (-u), [0, s])
    geo = (1 - mp.e ** (-n * s)) / (1 - mp.e ** (-s))
    return w * (s * s * period * geo + 2 * mp.pi ** 2 * mp.e ** (-n * s))


_GL8 = np.polynomial.legendre.leggauss(8)
_GL16 = np.polynomial.legendre.leggauss(16)


def _normal_pos(s, m, n, reg):
    """Risk of the part x > 0 of Normal(m, 1) on the unsigned grid [0, n] (Gauss-Legendre per cell)."""
    pdf = lambda x: np.exp(-0.5 * (x - m) ** 2) / math.sqrt(2 * math.pi)  # 4x cheaper than stats.norm's pdf
    if reg == "msqe":
        t, wt = _GL8
        k = np.arange(n + 1)[:, None]
        lo = np.where(k == 0, 0.0, (k - 0.5) * s)
        hi = np.where(k == 0, 0.5 * s, (k + 0.5) * s)
        body = k[:-1], lo[:-1], hi[:-1]
        kk, a, b = body
        x = 0.5 * (a + b) + 0.5 * (b - a) * t
        inner = np.sum(0.5 * (b - a)[:, 0] * np.sum(wt * (x - kk * s) ** 2 * pdf(x), axis=1))
        a_t = (n - 0.5) * s
        tail = integrate.quad(lambda x: (x - n * s) ** 2 * pdf(x), a_t, np.inf, epsabs=0, epsrel=1e-13, limit=200)[0]
        return PI2 * (inner + tail)
    t, wt = _GL16
    k = np.arange(n)[:, None]
    x = (k + 0.5 + 0.5 * t) * s
    inner = np.sum(0.5 * s * np.sum(wt * s * s * np.sin(np.pi * x / s) ** 2 * pdf(x), axis=1))
    tail = integrate.quad(lambda x: (x - n * s) ** 2 * pdf(x), n * s, np.inf, epsabs=0, epsrel=1e-13, limit=200)[0]
    return inner + PI2 * tail


def _golden_log(f, a, b, iters=90):
    """Minimizer of f on [a, b] (golden section on log s, in mpmath arithmetic: an f returning mpf values at
    40 digits resolves s to ~1e-19 relative; a float64 f to ~sqrt(1e-16))."""
    mp.mp.dps = 40
    g = (mp.sqrt(5) - 1) / 2
    la, lb = mp.log(a), mp.log(b)
    c, d = lb - g * (lb - la), la + g * (lb - la)
    fc, fd = f(mp.e ** c), f(mp.e ** d)
    for _ in range(iters):
        if fc < fd:
            lb, d, fd = d, c, fc
            c = lb - g * (lb - la)
            fc = f(mp.e ** c)
        else:
            la, c, fc = c, d, fd
            d = la + g * (lb - la)
            fd = f(mp.e ** d)
        if lb - la < mp.mpf(10) ** -18:
            break
    return float(mp.e ** ((la + lb) / 2))


def _ref_min(f, s0, iters=90):
    """Global minimizer of f near s0: a scan over [s0/8, 8 s0] (its minimum must be interior), then golden
    (``iters`` steps: 50 shrink the scan's bracket, 0.14 in log s, to 5e-12, below what a float64 f resolves)."""
    scan = np.geomspace(s0 / 8, 8 * s0, 61)
    mp.mp.dps = 40
    vals = [f(float(v)) for v in scan]
    i = int(np.argmin(vals))
    assert 0 < i < scan.size - 1, "reference: the scan's minimum is at its end"
    return _golden_log(f, float(scan[i - 1]), float(scan[i + 1]), iters)


def _neg_second_moment(law):
    """pi^2 E[xi^2; xi < 0] by scipy.quad of the density (independent of the package's closed forms)."""
    val = integrate.quad(lambda x: x * x * float(law.pdf(x)), -np.inf, 0.0, epsabs=0, epsrel=1e-13, limit=400)[0]
    if isinstance(law, Laplace):  # the kink at loc < 0: split there for quad
        val = sum(integrate.quad(lambda x: x * x * float(law.pdf(x)), a, b, epsabs=0, epsrel=1e-13, limit=400)[0]
                  for a, b in ((-np.inf, law.loc), (law.loc, 0.0)))
    return PI2 * val


# --- the audit's cases ----------------------------------------------------------------------------------

# (law, bits, regularizer, the scale certified before the fix)
CASES = [
    (Laplace(-22, 1), 8, "msqe", 0.0344377),
    (Laplace(-10, 1), 16, "msqe", 3.28733e-4),
    (Laplace(-15, 1), 8, "qsin", 0.0457146),
    (Normal(-3, 1), 14, "msqe", 2.25079915e-4),
    (Normal(-2, 1), 16, "msqe", 7.10004e-5),
    (Normal(-6, 1), 8, "msqe", 0.0053763),
    (Normal(-4, 1), 10, "qsin", 0.00249569),
    # found by the A/B sweep of negative locs (docs/audit.md finding 18)
    (Normal(-3, 1), 16, "msqe", 6.222302672e-05),
    (Laplace(-8, 1), 14, "qsin", 1.18859661e-3),
    (Laplace(-8, 1), 16, "qsin", 3.342281714e-4),
]


@pytest.mark.parametrize("law,bits,reg,old", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES])
def test_unsigned_below_zero_against_reference(law, bits, reg, old):
    grid = Grid(bits, signed=False)
    n = grid.r_t
    r = optimal_scale(law, grid, reg)
    m = law.loc
    if isinstance(law, Laplace):
        f = lambda s: _lap_pos(s, m, n, reg)
        tol_ref = 1e-12
    else:
        f = lambda s: _normal_pos(float(s), m, n, reg)
        tol_ref = 2e-6
    s_ref = _ref_min(f, r.scale, 90 if isinstance(law, Laplace) else 50)
    # the certificate holds against the independent minimizer, and the old answer is excluded by it
    assert abs(r.scale - s_ref) <= r.scale_error + tol_ref * s_ref, (r.scale, r.scale_error, s_ref)
    assert abs(old - s_ref) > r.scale_error + tol_ref * s_ref + 1e-6 * s_ref
    # risk: the positive part plus pi^2 E[xi^2; xi < 0], both independent of the package
    full = float(f(s_ref)) + _neg_second_moment(law)
    assert r.risk == pytest.approx(full, rel=1e-11)
    assert r.risk_lower_bound <= full * (1 + 1e-13)
    assert r.risk_lower_bound <= r.risk
    assert "ReLU" in r.method and "certified" in r.method
    # the ReLU law's own certificate: the same scale, the risk without the constant
    q = optimal_scale(ReLU(law), grid, reg)
    assert r.scale == q.scale and r.scale_error == q.scale_error
    if reg == "qsin":  # msqe_excess of the full law: MSQE(s_qsin) / min MSQE - 1, checked by the reference
        mref = lambda s: _lap_pos(s, m, n, "msqe") if isinstance(law, Laplace) else _normal_pos(float(s), m, n, "msqe")
        c = _neg_second_moment(law)
        s_m = _ref_min(mref, r.msqe_scale)
        ex = float((mref(r.scale) - mref(s_m)) / (mref(s_m) + c))
        assert r.msqe_excess >= 0.0
        assert r.msqe_excess == pytest.approx(ex, rel=1e-3, abs=1e-14)


@pytest.mark.slow
def test_laplace_minus4_20_bits():
    """Laplace(-4, 1), 20 bits unsigned: certified 2.54829e-5 +- 1.2e-11 before the fix (true 2.567102675e-5)."""
    law, grid = Laplace(-4, 1), Grid(20, signed=False)
    r = optimal_scale(law, grid, "msqe")
    mp.mp.dps = 40
    f = lambda s: _lap_pos(s, -4.0, grid.r_t, "msqe")
    s_ref = _golden_log(f, r.scale * 0.9, r.scale * 1.1)
    assert abs(r.scale - s_ref) <= r.scale_error + 1e-12 * s_ref
    assert abs(2.54829e-5 - s_ref) > 1e-3 * s_ref


def test_laplace_unsigned_optimum_independent_of_loc():
    """Hand-derived: on x > 0 the density of Laplace(m, 1), m <= 0, is e^m times Laplace(0, 1)'s, and
    every x < 0 costs pi^2 x^2 whatever s: the optimum is the same for every m <= 0."""
    grid = Grid(8, signed=False)
    res = [optimal_scale(Laplace(m, 1), grid, "msqe") for m in (0, -4, -10, -22)]
    for a in res[1:]:
        assert abs(a.scale - res[0].scale) <= a.scale_error + res[0].scale_error, (a.scale, res[0].scale)
    mp.mp.dps = 40
    s_ref = _ref_min(lambda s: _lap_pos(s, 0.0, grid.r_t, "msqe"), res[0].scale)
    for a in res:
        assert abs(a.scale - s_ref) <= a.scale_error + 1e-12 * s_ref


def test_laplace_far_above_signed_one_bit():
    """Laplace(25, 1) on the signed 1-bit grid [-1, 0]: every x > 0 maps to 0, the left tail is memoryless
    and s* = 2b (README); before the fix 2.1600383 +- 0.088."""
    # (QSin of Laplace(25, 1) is refused as flat: its s-dependent part is 2e-13 of E[xi^2], below 1e-8)
    for reg, m in (("msqe", 25.0), ("qsin", 12.0)):
        r = optimal_scale(Laplace(m, 1), Grid(1), reg)
        mp.mp.dps = 40
        # the reflected problem: Laplace(-m, 1) on [0, 1]
        f = lambda s: _lap_pos(s, -m, 1, reg)
        s_ref = _ref_min(f, r.scale)
        assert abs(r.scale - s_ref) <= r.scale_error + 1e-12 * s_ref
        if reg == "msqe":
            assert abs(r.scale - 2.0) <= r.scale_error + 1e-12
            assert abs(s_ref - 2.0) < 1e-9
        full = float(f(s_ref)) + PI2 * float(mp.quad(lambda x: x * x * mp.e ** (-abs(x - m)) / 2, [0, m, mp.inf]))
        assert r.risk == pytest.approx(full, rel=1e-11)
        assert r.risk_lower_bound <= full * (1 + 1e-13)
        if reg == "msqe":
            assert "-xi" in r.method


def test_mirror_normal_signed_one_bit():
    """Normal(m, 1) on [-1, 0] equals Normal(-m, 1) on [0, 1] (MSQE and QSin are even)."""
    for m in (3.0, 4.0):
        for reg in ("msqe", "qsin"):
            a = optimal_scale(Normal(m, 1), Grid(1), reg)
            b = optimal_scale(Normal(-m, 1), Grid(1, signed=False), reg)
            assert abs(a.scale - b.scale) <= a.scale_error + b.scale_error
            assert a.risk == pytest.approx(b.risk, rel=1e-12)
