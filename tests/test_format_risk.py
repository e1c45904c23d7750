"""Risk curves of number formats (minifloats, NF4, narrow INT, user level sets).

References and tolerances
-------------------------
* mpmath at 50 digits (``tests/mpref_formats.py``: closed-form partial moments per cell,
  a different method from the engine's run-wise series and Gauss-Legendre), stored by
  ``tests/make_format_reference.py`` in ``tests/data/format_risk_reference.json``: 7 laws,
  10 formats, scales 1e-4x..100x the optimum; relative error <= 1e-12 (the issue's target;
  ~1e-14 observed for both evaluation paths).
* the integer engine (``quanttheory.risk.risk_curve``, itself tested against mpmath) for
  integer formats: <= 1e-12.
* closed forms derived by hand for two-level sets: <= 1e-13.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from mpref_formats import mp_format_dmse
from quanttheory import Grid, Laplace, Normal, ReLU
from quanttheory.formats import get_format, integer
from quanttheory.risk.levels import format_dmse, format_mse, format_risk_curve, format_sqnr_db
from quanttheory.risk import risk_curve

REF = Path(__file__).parent / "data" / "format_risk_reference.json"
PI2 = math.pi ** 2
LAWS = [Normal(), ReLU(Normal()), Laplace(), ReLU(Laplace()), Normal(0.5, 2.0), ReLU(Laplace(-0.3, 0.7))]
FORMATS = ["int4n", "int8", "uint4", "e2m1", "nf4", "e2m3", "e3m2", "e4m3", "e5m2"]


def _law(rec):
    base = (Normal if rec["law"] == "normal" else Laplace)(rec["loc"], rec["scale"])
    return ReLU(base) if rec["relu"] else base


def _groups():
    data = json.loads(REF.read_text())
    groups = defaultdict(list)
    for r in data["records"]:
        groups[(r["law"], r["loc"], r["scale"], r["relu"], r["format"])].append(r)
    return groups, data["custom_levels"]


GROUPS, CUSTOM = _groups()


def _fmt(name):
    return np.array(CUSTOM) if name == "custom" else get_format(name)


def test_reference_file_complete():
    assert len(GROUPS) == 70 and sum(len(v) for v in GROUPS.values()) == 420
    assert {k[4] for k in GROUPS} == set(FORMATS) | {"custom"}


@pytest.mark.parametrize("method", ["auto", "cells"])
@pytest.mark.parametrize("key", sorted(GROUPS, key=str), ids=lambda k: "-".join(map(str, k)))
def test_against_mpmath_reference(key, method):
    recs = GROUPS[key]
    d = _law(recs[0])
    s = np.array([r["s"] for r in recs])
    ref = np.array([float(r["mse_reference"]) for r in recs])
    got = format_mse(d, s, _fmt(key[4]), method=method)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)
    # the paper's curve carries pi^2
    np.testing.assert_allclose(format_risk_curve(d, s, _fmt(key[4]), method=method), PI2 * ref, rtol=1e-12)


@pytest.mark.parametrize("d", LAWS, ids=str)
@pytest.mark.parametrize("bits,signed", [(8, True), (8, False), (4, True), (3, False), (12, True)])
def test_integer_formats_agree_with_the_integer_engine(d, bits, signed):
    rms = math.sqrt(d.second_moment())
    s = np.geomspace(1e-7, 1e2, 300) * rms
    g = Grid(bits, signed)
    ours = format_risk_curve(d, s, integer(bits, signed=signed))
    np.testing.assert_allclose(ours, risk_curve(d, s, g), rtol=1e-12)
    # a Grid or an int bit width are accepted as formats too
    np.testing.assert_allclose(format_risk_curve(d, s[:5], g), ours[:5], rtol=0)


def test_two_level_set_normal_by_hand():
    # levels {-1, 1}: Q_s(x) = s sign(x), E[(xi - s sign xi)^2] = 1 - 2 s E|xi| + s^2, E|xi| = sqrt(2/pi)
    s = np.geomspace(1e-3, 1e3, 50)
    expect = 1 - 2 * s * math.sqrt(2 / math.pi) + s * s
    np.testing.assert_allclose(format_mse(Normal(), s, [-1.0, 1.0]), expect, rtol=1e-13)


def test_two_level_set_relu_atom_by_hand():
    # ReLU(N(0,1)) on levels {-1, 1}: the atom at 0 (mass 1/2) is s away from either level;
    # E[(Z - s)^2; Z > 0] = 1/2 - 2 s phi(0) + s^2/2.  Total 1/2 - 2 s / sqrt(2 pi) + s^2.
    s = np.geomspace(1e-3, 1e3, 50)
    expect = 0.5 - 2 * s / math.sqrt(2 * math.pi) + s * s
    np.testing.assert_allclose(format_mse(ReLU(Normal()), s, [-1.0, 1.0]), expect, rtol=1e-13)


def test_two_level_set_laplace_by_hand():
    # Laplace(0, 1), levels {-1, 1}: E|xi| = 1, E xi^2 = 2: 2 - 2 s + s^2
    s = np.geomspace(1e-3, 1e3, 50)
    np.testing.assert_allclose(format_mse(Laplace(), s, [-1.0, 1.0]), 2 - 2 * s + s * s, rtol=1e-13)


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "nf4", "e2m1"])
@pytest.mark.parametrize("d", LAWS[:4], ids=str)
def test_limits_are_pi2_second_moment(name, d):
    # every preset contains 0: s -> inf maps everything to 0, s -> 0 clips everything to ~0
    m2 = d.second_moment()
    r = format_risk_curve(d, [1e-12, 1e12], name)
    np.testing.assert_allclose(r, PI2 * m2, rtol=1e-6)


@given(c=st.floats(0.01, 100.0), s=st.floats(1e-3, 10.0),
       name=st.sampled_from(["e4m3", "e2m1", "nf4", "e3m2"]), law=st.sampled_from([0, 1, 2, 3]))
def test_scale_equivariance(c, s, name, law):
    # xi -> c xi and s -> c s multiply the MSE by c^2 (the level set is in grid units)
    base = [Normal(), Laplace(), ReLU(Normal()), ReLU(Laplace())][law]
    scaled = [Normal(0, c), Laplace(0, c), ReLU(Normal(0, c)), ReLU(Laplace(0, c))][law]
    a = format_mse(base, [s], name)[0] * c * c
    b = format_mse(scaled, [c * s], name)[0]
    assert b == pytest.approx(a, rel=1e-12)


@given(s=st.floats(1e-6, 1e3), name=st.sampled_from(FORMATS), law=st.sampled_from(range(len(LAWS))))
def test_auto_and_cells_paths_agree(s, name, law):
    d = LAWS[law]
    a = format_mse(d, [s], name)[0]
    b = format_mse(d, [s], name, method="cells")[0]
    assert a == pytest.approx(b, rel=1e-12)


def test_minifloat_self_similarity():
    # E5M2 levels are almost invariant under s -> 2s: in the plateau the curve repeats
    # itself an octave apart up to the (tiny) clipping and underflow changes
    s = np.geomspace(2.0 ** -10, 2.0 ** -9, 64)
    a = format_mse(Normal(), s, "e5m2")
    b = format_mse(Normal(), 2 * s, "e5m2")
    assert np.max(np.abs(b / a - 1)) < 1e-8
    # ... whereas over one octave it varies by ~1%: the minima are isolated, not a flat line
    assert np.ptp(a) / a.min() > 1e-3


@pytest.mark.parametrize("name", ["e4m3", "nf4", "e2m1", "int4n"])
@pytest.mark.parametrize("d", [Normal(), ReLU(Laplace()), Normal(0.5, 2.0)], ids=str)
def test_derivative_against_mpmath(name, d):
    f = get_format(name)
    lv = [float(x) for x in f.levels]
    rms = math.sqrt(d.second_moment())
    for s in (rms / f.level_max, 4 * rms / f.level_max, 0.5 * rms):
        ref = float(mp_format_dmse(d.law, d.loc, d.scale, d.relu, lv, s))
        got = float(format_dmse(d, [s], f)[0])
        # relative to the size of the derivative's terms, 2 E[|l| |xi - l s|] <= 2 rms^2 / s
        assert abs(got - ref) <= 1e-12 * rms * rms / s


def test_sqnr_definition():
    m = format_mse(Normal(0, 3), [0.05], "e4m3")
    assert format_sqnr_db(Normal(0, 3), m)[0] == pytest.approx(10 * math.log10(9 / m[0]), rel=1e-15)


def test_qsin_sinreq_only_on_integer_grids():
    with pytest.raises(ValueError, match="integer grids"):
        format_risk_curve(Normal(), [0.1], "e4m3", "qsin")
    with pytest.raises(ValueError, match="integer grids"):
        format_risk_curve(Normal(), [0.1], "nf4", "sinreq")
    # on an integer format they are the integer engine's curves
    s = np.geomspace(1e-3, 1.0, 20)
    for reg in ("qsin", "sinreq"):
        np.testing.assert_allclose(format_risk_curve(Laplace(), s, "int8", reg), risk_curve(Laplace(), s, 8, reg),
                                   rtol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="> 0"):
        format_mse(Normal(), [0.0], "e4m3")
    with pytest.raises(ValueError, match="finite"):
        format_mse(Normal(), [math.nan], "e4m3")
    with pytest.raises(TypeError, match="law"):
        format_mse(np.zeros(3), [0.1], "e4m3")
    with pytest.raises(ValueError, match="method"):
        format_mse(Normal(), [0.1], "e4m3", method="fast")
    with pytest.raises(ValueError):
        format_mse(Normal(), [0.1], "no-such-format")
    with pytest.raises(ValueError):
        format_mse(Normal(), [0.1], [0.0, 1.0, 1.0])  # duplicate level
    with pytest.raises(ValueError):
        format_mse(Normal(), [0.1], [0.0, math.inf])
    # a level set is a set: order does not matter
    assert format_mse(Normal(), [0.3], [1.0, 0.0, -2.0])[0] == format_mse(Normal(), [0.3], [-2.0, 0.0, 1.0])[0]


def test_laws_without_kernels_are_refused_clearly():
    from quanttheory.laws import Empirical

    with pytest.raises(ValueError, match="numba kernels"):
        format_mse(Empirical(np.array([0.1, -0.3, 2.0])), [0.1], "e4m3")


def test_user_level_arrays():
    # an irregular set (a regression: the preset machinery's run detection is not needed here)
    lv = [-1.961, -1.773, -1.576, -0.439, 0.036, 0.428]
    s = np.geomspace(0.05, 5, 7)
    a = format_mse(Normal(), s, lv)
    b = format_mse(Normal(), s, lv, method="cells")
    np.testing.assert_allclose(a, b, rtol=1e-12)
    # consecutive integers are an integer grid: QSin is allowed and equals the integer engine's
    np.testing.assert_allclose(format_risk_curve(Normal(), s, np.arange(-8, 8), "qsin"),
                               risk_curve(Normal(), s, Grid(4), "qsin"), rtol=1e-12)
    with pytest.raises(TypeError):
        format_mse(Normal(), s, np.array([[0.0, 1.0]]))


def test_normal_tail_with_adaptive_depth_matches_the_full_continued_fraction():
    # the clipping tail E[(X - B)^2; X > B] with the depth rule 12 + 520/beta^2 agrees with
    # the 120-term continued fraction of the integer fast path (itself tested against mpmath)
    from quanttheory.risk._kernels.fast import _tail_above
    from quanttheory.risk._kernels.levels import _normal_tail

    for beta in np.concatenate([np.linspace(-3.0, 3.0, 121), np.geomspace(3.0, 37.0, 300)]):
        assert _normal_tail(float(beta), 1.3) == pytest.approx(_tail_above(float(beta), 1.3), rel=2e-15)


@pytest.mark.parametrize("name", ["fp16", "bf16"])
def test_wide_presets_runs_agree_with_cells(name):
    # 63k / 65k levels: 59 / 507 runs against every cell by Gauss-Legendre
    s = np.geomspace(1e-8, 1e3, 8)
    for d in (Normal(), Laplace(0.3, 2.0), ReLU(Normal(0.2, 1.0))):
        np.testing.assert_allclose(format_mse(d, s, name), format_mse(d, s, name, method="cells"), rtol=1e-12)
