"""Audit 2026-12-01 F1: format_optimal_scale on one-sided formats (no level on one side of 0) with
(nearly) all of the law on the side without a level.  Every value on that side quantizes to 0 whatever s,
so R(s) = R_ReLU(s) + C, C = pi^2 E[xi^2; xi on that side]: the minimizer is the ReLU law's (or, for
formats without a positive level, the reflected ReLU law's).  Formerly RuntimeError "could not bracket
the optimum from below"."""

import math

import mpmath as mp
import pytest

from quanttheory import Grid, Laplace, Normal, ReLU, optimal_scale
from quanttheory.formats import levelset
from quanttheory.risk.levels_optimum import format_optimal_scale

PI2 = math.pi ** 2


def _mp_risk(loc, s, levels):
    """pi^2 E[(xi - Q_s(xi))^2] of N(loc, 1), cell by cell with mpmath (30 digits), from the definition."""
    mp.mp.dps = 30
    lv = sorted(mp.mpf(v) * s for v in levels)
    edges = [-mp.inf] + [(a + b) / 2 for a, b in zip(lv, lv[1:])] + [mp.inf]
    pdf = lambda x: mp.npdf(x, loc, 1)  # noqa: E731
    tot = mp.mpf(0)
    for l, a, b in zip(lv, edges, edges[1:]):
        pts = [a] + ([mp.mpf(0)] if a < 0 < b else []) + [b]
        tot += mp.quad(lambda x: (x - l) ** 2 * pdf(x), pts)
    return mp.pi ** 2 * tot


def _mp_argmin(loc, levels, lo, hi):
    """Golden section in mpmath on the exact risk (unimodal on the given bracket).  40 steps shrink the
    bracket by 0.618^40 = 4.4e-9: to <= 2e-10 for the brackets below (width <= 0.04), far inside the
    tests' 1e-7 / 1e-6 relative tolerances at s ~ 0.07-0.12 (60 steps cost 1.5x the CPU for nothing)."""
    f = lambda s: _mp_risk(loc, s, levels)  # noqa: E731
    g = (mp.sqrt(5) - 1) / 2
    a, b = mp.mpf(lo), mp.mpf(hi)
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(40):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = f(d)
    return float((a + b) / 2)


def test_normal_minus5_uint4_equals_integer_engine_and_relu():
    r = format_optimal_scale(Normal(-5, 1), "uint4")
    # uint4 = the unsigned 4-bit grid [0, 15]: the same problem as the integer engine's
    ref = optimal_scale(Normal(-5, 1), Grid(4, signed=False))
    assert r.scale == pytest.approx(0.0702140333089518, rel=1e-9)
    assert r.scale == pytest.approx(ref.scale, rel=1e-9)
    assert r.scale == pytest.approx(format_optimal_scale(ReLU(Normal(-5, 1)), "uint4").scale, rel=1e-12)
    # the full risk (constant included) against the mpmath definition at the returned scale
    assert r.risk == pytest.approx(float(_mp_risk(-5, r.scale, range(16))), rel=1e-12)
    assert r.risk == pytest.approx(ref.risk, rel=1e-12)
    assert r.risk_lower_bound <= r.risk
    assert "ReLU" in r.method


def test_normal_minus5_uint4_mpmath_argmin():
    # the s-dependent part is ~1e-9 of R: the golden search on the exact risk at 30 digits resolves it
    s_mp = _mp_argmin(-5, range(16), 0.06, 0.08)
    assert format_optimal_scale(Normal(-5, 1), "uint4").scale == pytest.approx(s_mp, rel=1e-7)


def test_normal_minus6_uint8():
    r = format_optimal_scale(Normal(-6, 1), "uint8")
    ref = optimal_scale(Normal(-6, 1), Grid(8, signed=False))
    assert r.scale == pytest.approx(ref.scale, rel=1e-8)
    assert r.risk == pytest.approx(ref.risk, rel=1e-12)


def test_mirror_no_positive_level():
    fmt = levelset([-4, -1, 0], name="neg")
    r = format_optimal_scale(Normal(6, 1), fmt)
    # the reflected problem: -xi = N(-6, 1) on the levels [0, 1, 4]
    refl = format_optimal_scale(ReLU(Normal(-6, 1)), levelset([0, 1, 4]))
    assert r.scale == pytest.approx(0.1196743, rel=1e-6)
    assert r.scale == pytest.approx(refl.scale, rel=1e-12)
    assert r.format == "neg"
    assert r.risk == pytest.approx(float(_mp_risk(6, r.scale, [-4, -1, 0])), rel=1e-12)
    s_mp = _mp_argmin(6, [-4, -1, 0], 0.1, 0.14)
    assert r.scale == pytest.approx(s_mp, rel=1e-6)


def test_laplace_minus25_certified_minus50_refused():
    r = format_optimal_scale(Laplace(-25, 1), "uint4")
    # the Laplace tail above 0 is memoryless: the minimizer is the one of Laplace(0, 1)'s positive half,
    # the same for every loc <= 0 (integer engine, finding 18)
    assert r.scale == pytest.approx(optimal_scale(Laplace(-25, 1), Grid(4, signed=False)).scale, rel=1e-8)
    assert r.scale == pytest.approx(format_optimal_scale(ReLU(Laplace(-2, 1)), "uint4").scale, rel=1e-8)
    for law in (Laplace(-50, 1), Normal(-40, 1)):
        with pytest.raises(ValueError, match="flat in s"):
            format_optimal_scale(law, "uint4")


def test_no_runtime_error_for_levels_without_zero():
    # no zero level: the split does not apply; whatever happens, no RuntimeError
    fmt = levelset([0.5, 1, 2], name="pos", require_zero=False)
    try:
        format_optimal_scale(Normal(-6, 1), fmt)
    except ValueError as e:
        assert "bracket" in str(e) or "flat" in str(e)


def test_relu_far_below_zero_clear_error():
    # E[ReLU(N(-40, 1))^2] ~ 1e-350 underflows to 0: formerly ZeroDivisionError
    with pytest.raises(ValueError, match="E\\[xi\\^2\\] = 0"):
        format_optimal_scale(ReLU(Normal(-40, 1)), "uint4")


def test_cli_scale_uint4_negative_loc(capsys):
    from quanttheory.cli import main

    rc = main(["scale", "--dist", "normal", "--loc", "-5", "--format", "uint4"])
    assert rc in (0, None)
    assert "0.07021403" in capsys.readouterr().out
