"""Format (level set) type: levels, ties, saturation, against ml_dtypes casts and hand-derived cases."""

import math

import numpy as np
import pytest

from quanttheory import Grid, quantize as grid_quantize
from quanttheory.formats import (NF4_LEVELS, Format, as_format, get_format, integer, levelset, minifloat)

ml_dtypes = pytest.importorskip("ml_dtypes")

ML = {  # our preset -> (ml_dtypes type, number of codes)
    "e4m3": ("float8_e4m3fn", 256),
    "e5m2": ("float8_e5m2", 256),
    "e2m3": ("float6_e2m3fn", 64),
    "e3m2": ("float6_e3m2fn", 64),
    "e2m1": ("float4_e2m1fn", 16),
}
MAXES = {"e4m3": 448.0, "e5m2": 57344.0, "e2m3": 7.5, "e3m2": 28.0, "e2m1": 6.0}


def _ml_cast(x, name):
    """Saturating ml_dtypes cast: clip to +-max first (e4m3fn/e5m2 casts overflow to NaN/inf)."""
    t = getattr(ml_dtypes, ML[name][0])
    mx = float(ml_dtypes.finfo(t).max)
    return np.clip(x, -mx, mx).astype(t).astype(np.float64)


def _ml_values(name):
    t = getattr(ml_dtypes, ML[name][0])
    codes = np.arange(ML[name][1], dtype=np.uint8)
    v = codes.view(t).astype(np.float64)
    return np.unique(v[np.isfinite(v)] + 0.0)


def _bits(a):
    return np.asarray(a, dtype=np.float64).view(np.int64)


@pytest.mark.parametrize("name", sorted(ML))
def test_levels_equal_ml_dtypes_values(name):
    f = get_format(name)
    np.testing.assert_array_equal(f.levels, _ml_values(name))
    assert f.hi == MAXES[name] == -f.lo == f.level_max
    assert float(ml_dtypes.finfo(getattr(ml_dtypes, ML[name][0])).max) == MAXES[name]


@pytest.mark.parametrize("name", sorted(ML))
def test_quantize_bitwise_vs_ml_dtypes(name):
    f = get_format(name)
    lv = f.levels
    mid = f.midpoints
    rng = np.random.default_rng(1234)
    tiny = float(np.min(lv[lv > 0]))
    u = np.concatenate([
        lv, mid, np.nextafter(lv, np.inf), np.nextafter(lv, -np.inf),  # every level and midpoint
        [f.hi * 1.03, f.hi * 1.0625, f.hi * 1e6, -f.hi * 1.0625, 0.0, -0.0, tiny / 2, -tiny / 2, tiny / 3],
        rng.choice([-1.0, 1.0], 20000) * np.exp(rng.uniform(np.log(tiny / 8), np.log(f.hi * 4), 20000)),
        rng.normal(size=5000) * f.hi / 3,
    ])
    ours = f.quantize(u)
    ref = _ml_cast(u, name)
    mism = np.flatnonzero(_bits(ours) != _bits(ref))
    assert mism.size == 0, f"{name}: {mism.size} mismatches, first u={u[mism[:5]]} ours={ours[mism[:5]]} ref={ref[mism[:5]]}"
    # float32 inputs: also 1 float32 ulp either side of every midpoint
    mid32 = mid.astype(np.float32)
    u32 = np.concatenate([u.astype(np.float32), mid32, np.nextafter(mid32, np.float32(np.inf)),
                          np.nextafter(mid32, np.float32(-np.inf))])
    assert np.array_equal(_bits(f.quantize(u32)), _bits(_ml_cast(u32, name)))


@pytest.mark.parametrize("name", sorted(ML))
def test_float64_one_ulp_off_midpoints(name):
    """1 float64 ulp either side of every midpoint: ours is the nearest level; ml_dtypes agrees or double-rounds.

    Our quantizer returns the nearest level (the definition), checked here against a brute-force nearest
    level (the inputs are never ties).  ml_dtypes < 0.7 casts float64 through float32, so an input whose
    float32 rounding is a midpoint is rounded as the midpoint; ml_dtypes >= 0.7 rounds float64 directly.
    Whichever version is installed, the cast equals either ours or the float32 path, and wherever it
    differs from ours the float32 rounding of the input is a midpoint and ours is strictly nearer.
    """
    f = get_format(name)
    u = np.concatenate([np.nextafter(f.midpoints, np.inf), np.nextafter(f.midpoints, -np.inf)])
    ours, ref = f.quantize(u), _ml_cast(u, name)
    lv = f.levels
    brute = lv[np.argmin(np.abs(u[:, None] - lv[None, :]), axis=1)]
    np.testing.assert_array_equal(ours, brute)
    via32 = _ml_cast(u.astype(np.float32).astype(np.float64), name)
    direct = bool(np.array_equal(ref, ours))
    assert direct or np.array_equal(ref, via32), "ml_dtypes cast is neither the nearest level nor the float32 path"
    diff = ours != via32
    assert diff.sum() == f.midpoints.size  # exactly one side of each midpoint is double-rounded via float32
    assert np.all(np.abs(u - ours)[diff] < np.abs(u - via32)[diff])
    assert np.all(np.isin(u.astype(np.float32).astype(np.float64)[diff], f.midpoints))


def test_e2m1_ties_by_hand():
    # levels 0, .5, 1, 1.5, 2, 3, 4, 6 carry codes 0..7; a tie goes to the even code
    f = get_format("e2m1")
    u = [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 7.0, 100.0, -0.25, -0.75, -5.0, -1e9]
    want = [0.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 6.0, 6.0, -0.0, -1.0, -4.0, -6.0]
    np.testing.assert_array_equal(f.quantize(u), want)
    assert math.copysign(1.0, f.quantize([-0.25])[0]) == -1.0


def test_e4m3_top_by_hand():
    f = get_format("e4m3")
    # top binade of E4M3FN: 256, 288, ..., 448 (step 32); 464 is the midpoint 448|480 but 480 is NaN: saturate
    assert f.quantize([432.0, 440.0, 464.0, 1e30]).tolist() == [448.0, 448.0, 448.0, 448.0]
    assert f.quantize([400.0])[0] == 384.0  # 384 (mantissa 100, even) vs 416 (101)
    assert f.quantize([2.0**-10])[0] == 0.0  # half the smallest subnormal 2^-9 -> tie -> 0 (even)
    assert f.quantize([3 * 2.0**-10])[0] == 2.0**-8  # 1.5 * 2^-9: 2^-9 (code 1) vs 2^-8 (code 2)


def test_minifloat_binades():
    f = get_format("e4m3")
    pos = [b for b in f.binades if b[0] >= 0]
    assert pos[0] == (0.0, 2.0**-9, 8)  # zero and the 7 subnormals
    for E in range(1, 16):
        start, step, cnt = pos[E]
        assert start == 2.0 ** (E - 7) and step == 2.0 ** (E - 10)
        assert cnt == (8 if E < 15 else 7)
    e5 = get_format("e5m2")
    assert e5.hi == 57344.0 and e5.levels[e5.levels > 0][0] == 2.0**-16
    assert get_format("e3m2").levels[get_format("e3m2").levels > 0][:2].tolist() == [0.0625, 0.125]


def test_fp16_vs_numpy_float16():
    f = get_format("fp16")
    vals = np.arange(1 << 16, dtype=np.uint16).view(np.float16).astype(np.float64)
    np.testing.assert_array_equal(f.levels, np.unique(vals[np.isfinite(vals)] + 0.0))
    rng = np.random.default_rng(5)
    u = np.concatenate([f.midpoints, rng.normal(size=20000) * 1000, f.levels[::7]])
    ref = np.clip(u, -65504, 65504).astype(np.float16).astype(np.float64)
    assert np.array_equal(_bits(f.quantize(u)), _bits(ref))


def test_nf4_levels_and_ties():
    f = get_format("nf4")
    assert f.size == 16 and f.levels[7] == 0.0 and f.lo == -1.0 and f.hi == 1.0
    np.testing.assert_array_equal(f.levels, np.array(NF4_LEVELS))
    # the NF4 levels are float32 numbers
    np.testing.assert_array_equal(f.levels, f.levels.astype(np.float32).astype(np.float64))
    m = f.midpoints
    # tie between index 7 (0) and 8 (0.0796...): even index 8 wins; between 0 (-1) and 1: index 0
    assert f.quantize([m[7]])[0] == f.levels[8]
    assert f.quantize([m[0]])[0] == -1.0
    assert f.quantize([m[14]])[0] == f.levels[14]
    # off-tie: brute-force nearest level
    rng = np.random.default_rng(3)
    u = rng.uniform(-1.5, 1.5, 5000)
    brute = f.levels[np.argmin(np.abs(u[:, None] - f.levels[None, :]), axis=1)]
    np.testing.assert_array_equal(f.quantize(u), brute)


@pytest.mark.parametrize("bits,signed", [(1, True), (3, True), (4, False), (8, True), (8, False)])
def test_integer_format_matches_grid(bits, signed):
    g = Grid(bits, signed)
    f = as_format(g)
    assert f == integer(bits, signed) and f.is_integer_grid and (f.r_b, f.r_t) == (g.r_b, g.r_t)
    assert f.to_grid() == g
    rng = np.random.default_rng(bits)
    u = np.concatenate([np.arange(g.r_b - 3, g.r_t + 3) + 0.5, rng.normal(size=2000) * 2 ** bits, [-0.3, -0.5]])
    assert np.array_equal(_bits(f.quantize(u)), _bits(grid_quantize(u, 1.0, g)))


def test_narrow_int():
    f = get_format("int4n")
    assert (f.r_b, f.r_t) == (-7, 7) and f.name == "int4n" and f.level_max == 7
    assert f.quantize([6.5, 7.5, -7.5, -6.5, 0.5, 1.5]).tolist() == [6.0, 7.0, -7.0, -6.0, 0.0, 2.0]
    assert get_format("INT8_narrow") == integer(8, narrow=True)
    with pytest.raises(ValueError, match="no Grid equivalent"):
        f.to_grid()
    with pytest.raises(ValueError, match="narrow"):
        integer(4, signed=False, narrow=True)


def test_as_format():
    assert as_format(4) == integer(4) and as_format("E4M3") is get_format("e4m3")
    assert as_format("float8_e4m3fn") is get_format("e4m3") and as_format("mxfp4") is get_format("e2m1")
    f = get_format("nf4")
    assert as_format(f) is f
    with pytest.raises(TypeError, match="format"):
        as_format(4.0)
    with pytest.raises(TypeError):
        as_format(True)


def test_unknown_name_lists_valid():
    with pytest.raises(ValueError, match=r"unknown format 'e4m4'.*e4m3.*nf4.*int<b>"):
        get_format("e4m4")
    with pytest.raises(ValueError, match="1..24"):
        get_format("int99")


@pytest.mark.parametrize("values,msg", [
    ([0.0, 1.0, np.nan], "finite"), ([0.0, np.inf], "finite"), ([0.0, 1.0, 1.0], "duplicate"),
    ([0.0, -0.0, 1.0], "duplicate"), ([0.0], "at least two"), ([], "at least two"), ([1.0, 2.0], "do not contain 0"),
])
def test_levelset_bad(values, msg):
    with pytest.raises(ValueError, match=msg):
        levelset(values)


def test_levelset_types_and_user():
    with pytest.raises(TypeError):
        levelset("0 1 2")
    with pytest.raises(TypeError):
        levelset([0j, 1j])
    f = levelset([1.0, -1.5, 0.0, 4.0], name="mine")
    assert f.levels.tolist() == [-1.5, 0.0, 1.0, 4.0] and f.name == "mine"
    assert not f.levels.flags.writeable and not f.midpoints.flags.writeable
    # midpoints -0.75, 0.5, 2.5; ties: index 0|1 -> 0 (-1.5), 1|2 -> 2 (1.0), 2|3 -> 2 (1.0)
    assert f.quantize([-0.75, 0.5, 2.5, 9.0, -9.0]).tolist() == [-1.5, 1.0, 1.0, 4.0, -1.5]
    g = levelset([-1.5, -0.5, 0.5, 1.5], require_zero=False)
    assert g.quantize([0.0])[0] == 0.5  # tie between index 1 and 2: even index 2
    assert g.binades == ((-1.5, 1.0, 4),)
    with pytest.raises(ValueError, match="finite"):
        f.quantize([np.nan])


def test_format_frozen_and_hashable():
    f = get_format("e2m1")
    with pytest.raises(Exception):
        f.name = "x"
    with pytest.raises(ValueError):
        f.levels[0] = 1.0
    assert len({f, get_format("e2m1"), minifloat(2, 1, name="e2m1")}) == 1


def test_minifloat_bad():
    with pytest.raises(ValueError, match="special"):
        minifloat(4, 3, special="fnuz")
    with pytest.raises(ValueError, match="exponent_bits"):
        minifloat(0, 3)
    with pytest.raises(TypeError):
        minifloat(4.0, 3)
    # e4m3 with a custom saturation point
    f = minifloat(4, 3, special="fn", finite_max=240)
    assert f.hi == 240 and f.quantize([1000.0])[0] == 240


def test_levelset_irregular_decimals_rebuild_exactly():
    # -1.961 + (-1.773 - -1.961) is not -1.773 in binary floating point: a greedy run built from the
    # spacing alone would not rebuild the levels.  Every level set of finite distinct values is valid.
    from quanttheory.formats import levelset

    vals = [-1.961, -1.773, -1.576, -0.439, 0.036, 0.428]
    f = levelset(vals, require_zero=False)
    rebuilt = np.concatenate([a + b * np.arange(c) for a, b, c in f.binades])
    assert np.array_equal(rebuilt, np.array(vals))
    assert f.quantize(np.array([-1.9, 0.3]))[1] == 0.428
