"""Certified optimal scales of number formats, power-of-two scales and the amax rule.

References and tolerances
-------------------------
* mpmath (``tests/mpref_formats.py``): the root of the 40-digit derivative of the
  partial-moment curve near our optimum; scale relative error <= 1e-11 (the engine's
  derivative is exact to ~1e-16 of its terms; divided by the curvature, which is small
  for minifloats, 5e-13 observed at worst), risk <= 1e-12.
* the integer engine's certified optimum for integer formats: scales within the sum
  of both error bounds, risks <= 1e-12.
* dense scans (20000 log-spaced scales): no scan point below the certificate, and every
  near-optimal scan point inside the certified intervals.
* brute force over 2^k, k in [-60, 60], for the power-of-two scale (exact equality).
* the amax rule: Monte Carlo over the maximum (within 5 standard errors) and an independent
  scipy.integrate.quad over m of mse(m / level_max) n g(m) G(m)^(n-1) (<= 1e-7, quad's own
  accuracy).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import integrate

from mpref_formats import mp_format_argmin, mp_format_mse
from quanttheory import Laplace, Normal, ReLU
from quanttheory.formats import get_format
from quanttheory.risk.amax_rule import amax_rule_mse
from quanttheory.risk.levels_optimum import format_optimal_scale
from quanttheory.risk.levels import format_mse
from quanttheory.risk import optimal_scale

PI2 = math.pi ** 2

CASES = [(Normal(), "int8"), (Normal(), "e4m3"), (Laplace(), "e2m1"), (ReLU(Normal()), "nf4"),
         (Normal(0.5, 2.0), "e2m3"), (Laplace(), "e3m2"), (ReLU(Laplace(-0.3, 0.7)), "int4n")]


@pytest.fixture(scope="module")
def optima():
    return {(str(d), n): format_optimal_scale(d, n) for d, n in CASES}


@pytest.mark.parametrize("d,name", CASES, ids=lambda x: str(x))
def test_optimum_against_mpmath(optima, d, name):
    o = optima[(str(d), name)]
    lv = [float(x) for x in get_format(name).levels]
    for m in o.minima:
        root = mp_format_argmin(d.law, d.loc, d.scale, d.relu, lv, m.scale)
        assert m.scale == pytest.approx(float(root), rel=1e-11)
        ref = float(mp_format_mse(d.law, d.loc, d.scale, d.relu, lv, root))
        assert m.risk == pytest.approx(PI2 * ref, rel=1e-12)
        assert m.sqnr_db == pytest.approx(10 * math.log10(d.second_moment() / ref), abs=1e-10)
    assert o.risk == o.minima[0].risk and o.scale == o.minima[0].scale
    assert o.risk_lower_bound <= o.risk and o.risk_lower_bound >= o.risk * (1 - 1e-6)


@pytest.mark.parametrize("d", [Normal(), Laplace(), ReLU(Normal()), Normal(0.5, 2.0)], ids=str)
def test_integer_format_matches_integer_engine(d):
    ours = format_optimal_scale(d, "int8")
    ref = optimal_scale(d, get_format("int8").to_grid())
    assert len(ours.minima) == 1
    assert abs(ours.scale - ref.scale) <= ref.scale_error + 1e-11 * ref.scale
    assert ours.risk == pytest.approx(ref.risk, rel=1e-12)


@pytest.mark.parametrize("d,name", CASES[1:5], ids=lambda x: str(x))
def test_certificate_against_dense_scan(optima, d, name):
    o = optima[(str(d), name)]
    lo, hi = o.extra["bracket"]
    s = np.geomspace(lo, hi, 20000)
    r = PI2 * format_mse(d, s, name)
    assert r.min() >= o.risk_lower_bound * (1 - 1e-13)
    assert r.min() >= o.risk * (1 - 1e-12)  # nothing better than the reported optimum
    near = s[r <= o.risk * (1 + o.rtol)]
    inside = np.zeros(near.shape, dtype=bool)
    for a, b in o.certified_intervals:
        inside |= (near >= a) & (near <= b)
    assert inside.all()
    # each reported minimum lies in a certified interval and is a local minimum
    for m in o.minima:
        assert any(a <= m.scale <= b for a, b in o.certified_intervals)
        side = PI2 * format_mse(d, [m.scale * (1 - 1e-5), m.scale * (1 + 1e-5)], name)
        assert (side >= m.risk * (1 - 1e-13)).all()


def test_e4m3_has_near_equal_minima_an_octave_apart(optima):
    o = optima[(str(Normal()), "e4m3")]
    assert len(o.minima) >= 2
    a, b = sorted(o.minima[:2], key=lambda m: m.scale)
    assert b.scale / a.scale == pytest.approx(2.0, rel=1e-3)
    assert abs(a.risk / b.risk - 1) < 1e-9
    # a larger rtol never reports fewer minima; rtol=0 reports only the best one
    tight = format_optimal_scale(Normal(), "e4m3", rtol=0.0)
    assert len(tight.minima) == 1 and tight.risk == pytest.approx(o.risk, rel=1e-13)


@pytest.mark.parametrize("d,name", CASES[:4], ids=lambda x: str(x))
def test_power_of_two_scale_brute_force(optima, d, name):
    o = optima[(str(d), name)]
    ks = np.arange(-60, 61)
    r = PI2 * format_mse(d, np.ldexp(1.0, ks), name)
    j = int(np.argmin(r))
    assert o.pow2_risk == pytest.approx(r[j], rel=1e-14)
    assert o.pow2_scale in o.pow2_near
    assert o.pow2_risk >= o.risk * (1 - 1e-13) and o.pow2_db_loss >= -1e-12
    assert o.pow2_db_loss == pytest.approx(o.sqnr_db - o.pow2_sqnr_db, abs=1e-12)


def test_as_dict_is_strict_json(optima):
    import json

    def bad(c):
        raise ValueError(c)

    s = json.dumps(optima[(str(Normal()), "e4m3")].as_dict())
    d = json.loads(s, parse_constant=bad)
    assert d["format"] == "e4m3" and len(d["minima"]) >= 2


def test_optimum_bad_input():
    with pytest.raises(ValueError, match="rtol"):
        format_optimal_scale(Normal(), "e4m3", rtol=0.5)
    with pytest.raises(ValueError, match="positive level"):
        format_optimal_scale(ReLU(Normal()), [-2.0, -1.0, 0.0])
    with pytest.raises(TypeError):
        format_optimal_scale([1.0, 2.0], "e4m3")


# --- amax rule ----------------------------------------------------------------------------

@pytest.mark.parametrize("d,name", [(Normal(), "e4m3"), (Laplace(), "int8"), (ReLU(Normal()), "e2m1"),
                                    (Normal(0.5, 2.0), "nf4")], ids=lambda x: str(x))
def test_amax_rule_monte_carlo(d, name):
    n, reps = 100, 3000
    f = get_format(name)
    r = amax_rule_mse(d, f, n)
    rng = np.random.default_rng(12345)
    m = np.abs(d.sample(rng, (reps, n))).max(axis=1)
    v = format_mse(d, m / f.level_max, f)
    se = v.std(ddof=1) / math.sqrt(reps)
    assert abs(r.mse - v.mean()) <= 5 * se


@pytest.mark.parametrize("d,name", [(Normal(), "int8"), (Laplace(), "e4m3")], ids=lambda x: str(x))
def test_amax_rule_against_quad_in_m(d, name):
    n = 1000
    f = get_format(name)

    def G(m):  # CDF of |xi|
        return float(d.cdf(m) - d.cdf(-m))

    def g(m):
        return float(d.pdf(m) + d.pdf(-m))

    def integrand(m):
        return float(format_mse(d, [m / f.level_max], f)[0]) * n * g(m) * G(m) ** (n - 1)

    hi = 40.0 * d.scale
    ref, err = integrate.quad(integrand, 0.0, hi, limit=400, epsabs=0, epsrel=1e-11,
                              points=[2 * d.scale, 4 * d.scale, 6 * d.scale])
    assert amax_rule_mse(d, f, n).mse == pytest.approx(ref, rel=1e-7)


@pytest.mark.parametrize("name", ["e4m3", "int8", "e2m1"])
def test_amax_rule_never_beats_the_optimum(name):
    opt = format_optimal_scale(Normal(), name)
    for n in (10 ** 2, 10 ** 3, 10 ** 6, 10 ** 9):
        r = amax_rule_mse(Normal(), name, n)
        assert r.risk >= opt.risk * (1 - 1e-12)
        assert r.error_estimate <= 1e-12 * r.mse


def test_amax_rule_bad_input():
    for bad in (0, -5, 1.5, math.inf):
        with pytest.raises(ValueError):
            amax_rule_mse(Normal(), "e4m3", bad)
    with pytest.raises(TypeError):
        amax_rule_mse(Normal(), "e4m3", "100")


@settings(max_examples=12, deadline=None)
@given(raw=st.lists(st.floats(-4.0, 4.0, allow_nan=False), min_size=2, max_size=7, unique=True),
       law=st.sampled_from([0, 1, 2]))
def test_certificate_random_level_sets(raw, law):
    # adversarial: arbitrary small level sets (with or without 0, asymmetric, irregular)
    levels = np.unique(np.round(np.array(raw), 3))
    if levels.size < 2 or np.min(np.diff(levels)) < 1e-2:
        return
    d = [Normal(), Laplace(0.3, 0.8), Normal(-0.5, 1.5)][law]
    o = format_optimal_scale(d, levels)
    lo, hi = o.extra["bracket"]
    s = np.geomspace(lo, hi, 6000)
    r = PI2 * format_mse(d, s, levels)
    assert r.min() >= o.risk_lower_bound * (1 - 1e-12)
    assert r.min() >= o.risk * (1 - 1e-12)
    near = s[r <= o.risk * (1 + o.rtol)]
    inside = np.zeros(near.shape, dtype=bool)
    for a, b in o.certified_intervals:
        inside |= (near >= a) & (near <= b)
    assert inside.all()
    # outside the bracket the curve is worse too (checked on a few decades beyond it)
    out = np.concatenate([np.geomspace(lo * 1e-3, lo, 50), np.geomspace(hi, hi * 1e3, 50)])
    assert (PI2 * format_mse(d, out, levels) > o.risk).all()


def test_budget_exhausted_certificate_still_valid():
    import json

    d = Laplace()
    o = format_optimal_scale(d, "e3m2", max_bounds=60)
    assert o.extra["budget_exhausted"] and "budget" in o.method
    lo, hi = o.extra["bracket"]
    s = np.geomspace(lo, hi, 8000)
    r = PI2 * format_mse(d, s, "e3m2")
    assert r.min() >= o.risk_lower_bound * (1 - 1e-12)
    near = s[r <= o.risk * (1 + o.rtol)]
    assert all(any(a <= x <= b for a, b in o.certified_intervals) for x in near)

    def bad(c):
        raise ValueError(c)

    json.loads(json.dumps(o.as_dict()), parse_constant=bad)
