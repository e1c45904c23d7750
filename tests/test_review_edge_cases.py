"""Bad-input / edge-case defects of the review of 2026-11-30 evening (docs/audit.md, "input handling").

Each expected behaviour follows from the definition, not from the current output:
* the real-offset MSE ``F(s, m) = mean (x - s clip(rint((x - m)/s), 0, N) - m)^2`` is homogeneous:
  ``F_{2^a x}(2^a s, 2^a m) = 4^a F_x(s, m)`` exactly in binary floating point while nothing under- or
  overflows, so the optimum of ``2^a x`` is the optimum of ``x`` scaled by ``2^a``;
* below ``TINY_DATA = 2^-490`` squared errors underflow: every exact data optimizer must refuse;
* round to nearest with 0 a level never errs by more than ``|x|``: a block the oracle quantizes to all
  zeros could not be represented by any scale of the format (scale underflow).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from quanttheory import Grid, quantize
from quanttheory.affine import affine_fake_quantize, offset_fake_quantize, optimal_affine_data, optimal_offset_data
from quanttheory.blocks import block_data_report, get_block_format, oracle_scales, quantize_blocks
from quanttheory.risk.data import TINY_DATA

BASE = np.array([1.0, -2.0, 0.3] * 32)


# ----------------------------------------------------------------------------- F2: tiny magnitudes
def test_offset_tiny_data_raises_without_hanging():
    # a subprocess with a timeout: before the fix x * 1e-300 never returned
    code = ("import numpy as np; from quanttheory.affine import optimal_offset_data\n"
            "try:\n optimal_offset_data(np.array([1., -2., 0.3] * 32) * 1e-300, 4)\n"
            "except ValueError as e: print('VE', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert out.startswith("VE") and "below 3.13e-148" in out


@pytest.mark.parametrize("f", [1e-300, 1e-160])
@pytest.mark.parametrize("kw, who", [({}, "the data's"), ({"group": 32}, "group 0:"),
                                     ({"axis": 0}, "channel 0:")])
def test_offset_tiny_guard_per_tensor_channel_group(f, kw, who):
    x = BASE * f
    if "axis" in kw:
        x = x.reshape(3, 32)
    with pytest.raises(ValueError, match="magnitudes are all below 3.13e-148") as e:
        optimal_offset_data(x, 4, **kw)
    assert str(e.value).startswith(who)


def test_offset_tiny_deviations_raise():
    # |x| ~ 1e-140 is above the guard, but the search squares x - mean (a few ulps, ~1e-156)
    x = 1e-140 * (1 + np.arange(8) * 2.0**-52)
    with pytest.raises(ValueError, match="deviations from their mean are all below"):
        optimal_offset_data(x, 4)


def test_offset_tiny_group_among_normal_groups_raises():
    x = np.concatenate([BASE[:32], BASE[:32] * 1e-300])
    with pytest.raises(ValueError, match="^group 1: magnitudes"):
        optimal_offset_data(x, 4, group=32)


@pytest.mark.parametrize("a", [-400, -480])
def test_offset_power_of_two_equivariance_near_the_guard(a):
    # homogeneity (module docstring): exact in binary floating point above the guard
    assert 2.0 * 2.0**a > TINY_DATA
    r1 = optimal_offset_data(BASE, 4)
    r2 = optimal_offset_data(BASE * 2.0**a, 4)
    assert r2.scale == pytest.approx(r1.scale * 2.0**a, rel=1e-12)
    assert r2.offset == pytest.approx(r1.offset * 2.0**a, rel=1e-12)
    assert r2.mse == pytest.approx(r1.mse * 4.0**a, rel=1e-12)


def test_affine_tiny_nonconstant_is_not_called_constant():
    for kw in ({}, {"group": 32}, {"fast": False}):
        with pytest.raises(ValueError, match="magnitudes are all below 3.13e-148") as e:
            optimal_affine_data(BASE * 1e-300, 4, **kw)
        assert "constant" not in str(e.value)


def test_affine_tiny_constant_reports_its_value():
    with pytest.raises(ValueError, match=r"constant \(every value is 1e-300\)"):
        optimal_affine_data(np.full(8, 1e-300), 4)
    r = optimal_affine_data(np.full(8, 1e-300), 4, allow_constant=True)
    # constant c > 0: s = c / N, z = 0 puts the top level on c
    assert r.scale == pytest.approx(1e-300 / 15, rel=1e-15) and r.zero_point == 0 and r.mse == 0.0


def test_cli_scale_offset_tiny_exits_2(tmp_path):
    p = tmp_path / "tiny.npy"
    np.save(p, BASE * 1e-300)
    res = subprocess.run([sys.executable, "-m", "quanttheory", "scale", str(p), "--bits", "4", "--affine", "offset",
                          "--json"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "below 3.13e-148" in res.stderr


# ----------------------------------------------------------------------------- F3: empty data in blocks
@pytest.mark.parametrize("fmt", ["mxfp4", "nvfp4", "int4_g32"])
@pytest.mark.parametrize("shape", [(0,), (3, 0)])
@pytest.mark.parametrize("partial", [False, True])
def test_block_data_report_empty(fmt, shape, partial):
    with pytest.raises(ValueError, match="data is empty"):
        block_data_report(np.zeros(shape), fmt, partial=partial)


def test_block_data_report_tiny_raises_zero_is_exact():
    # x ~ 1e-300: every value quantizes to 0 (true SQNR 0 dB), but the squares underflow: MSE 0, SQNR inf
    with pytest.raises(ValueError, match="magnitudes are all below 3.13e-148"):
        block_data_report(BASE * 1e-300, "mxfp4")
    reps = block_data_report(np.zeros(64), "mxfp4")
    assert all(r.mse == 0.0 for r in reps)
    # just above the guard, with real block scales (no scale range: E8M0 / E4M3 would underflow and
    # correctly report SQNR 0 dB), the report is the power-of-2 rescaled one: SQNR and rates identical
    a = block_data_report(BASE, "mxfp4", scale_format="real")
    b = block_data_report(BASE * 2.0**-480, "mxfp4", scale_format="real")
    assert [r.rule for r in a] == ["clip", "4over6", "oracle"] and a[0].sqnr_db > 10
    for r1, r2 in zip(a, b):
        assert r2.sqnr_db == pytest.approx(r1.sqnr_db, abs=1e-9) and r2.saturation_rate == r1.saturation_rate


def _cli(tmp_path, arr, *args):
    p = tmp_path / "x.npy"
    np.save(p, arr)
    return subprocess.run([sys.executable, "-m", "quanttheory", "blocks", str(p), *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_blocks_empty_and_huge_one_line(tmp_path):
    res = _cli(tmp_path, np.zeros(0), "--format", "mxfp4")
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [res.stderr.strip()]
    assert "data is empty" in res.stderr
    res = _cli(tmp_path, np.array([1e300, -2e300, 3e299] * 32), "--format", "mxfp4")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "too large to square" in res.stderr and "Warning" not in res.stderr


# ----------------------------------------------------------------------------- minor items
def test_oracle_underflow_flag_consistent_with_round():
    # one block whose only non-zero value is 1e-30 with tensor scale 0.01: E4M3 scales times 0.01 are at
    # least 0.01 * 2^-9 ~ 2e-5, so the value rounds to 0 at every scale: the block underflows
    x = np.zeros(32)
    x[3] = 1e-30
    x[16:] = np.linspace(-1, 1, 16)
    for rule in ("round", "oracle"):
        q = quantize_blocks(x, "nvfp4", rule=rule, tensor_scale=0.01)
        assert q.scale_underflow.tolist() == [True, False], rule
        assert np.all(q.values[:16] == 0)
    reps = {r.rule: r for r in block_data_report(x, "nvfp4", tensor_scale=0.01)}
    assert reps["oracle"].scale_underflow_rate == 0.5
    # an all-zero block is not an underflow (nothing to represent)
    assert not quantize_blocks(np.zeros(16), "nvfp4", rule="oracle").scale_underflow.any()


def test_oracle_underflow_flag_e8m0():
    # E8M0's smallest scale 2^-127 times FP4's 0.5 step: 1e-45 rounds to 0 at every scale
    x = np.zeros(64)
    x[0] = 1e-45
    x[32:] = 1.0
    q = quantize_blocks(x, "mxfp4", rule="oracle")
    assert q.scale_underflow.tolist() == [True, False]


def test_oracle_scales_checks_block_shape():
    bf = get_block_format("mxfp4")
    with pytest.raises(ValueError, match=r"\(\.\.\., nblocks, 32\)"):
        oracle_scales(np.ones(32), bf)
    with pytest.raises(ValueError, match="k = 32"):
        oracle_scales(np.ones((2, 5)), bf)
    with pytest.raises(TypeError, match="bool"):
        oracle_scales(np.ones((2, 32), bool), bf)
    with pytest.raises(ValueError, match="tensor_scale"):
        oracle_scales(np.ones((2, 16)), get_block_format("nvfp4"), tensor_scale=0)
    assert oracle_scales(np.ones((2, 32)), bf).shape == (2,)


def test_quantize_blocks_axis_type():
    x = np.ones((2, 32))
    for ax in (1.0, "1", True):
        with pytest.raises(TypeError, match="axis must be an int"):
            quantize_blocks(x, "mxfp4", axis=ax)
    with pytest.raises(ValueError, match="out of range"):
        quantize_blocks(x, "mxfp4", axis=5)


def test_bool_rejected_everywhere():
    b = np.ones(32, bool)
    G = Grid(4, True)
    calls = [lambda: quantize(b, 0.1, G), lambda: affine_fake_quantize(b, 0.1, 3, 4),
             lambda: offset_fake_quantize(b, 0.1, -0.3, 4), lambda: quantize_blocks(b, "mxfp4"),
             lambda: block_data_report(b, "nvfp4"), lambda: optimal_affine_data(b, 4),
             lambda: optimal_offset_data(b, 4)]
    for f in calls:
        with pytest.raises(TypeError, match="astype"):
            f()
    # the float cast is the documented way and gives the 0/1 values
    assert np.array_equal(quantize(b.astype(float), 0.25, G), np.ones(32))


def test_tensor_scale_validated_and_format_checked():
    x = np.random.default_rng(0).standard_normal(64)
    for ts in (0, -5, np.nan, np.inf):
        with pytest.raises(ValueError, match="finite number > 0"):
            quantize_blocks(x, "nvfp4", tensor_scale=ts)
        with pytest.raises(ValueError, match="finite number > 0"):
            quantize_blocks(x, "mxfp4", tensor_scale=ts)
    with pytest.raises(TypeError, match="real number"):
        quantize_blocks(x, "nvfp4", tensor_scale="1")
    for fmt in ("mxfp4", "int4_g32"):
        with pytest.raises(ValueError, match="only to formats with E4M3 block scales"):
            quantize_blocks(x, fmt, tensor_scale=0.5)
        with pytest.raises(ValueError, match="only to formats with E4M3 block scales"):
            block_data_report(x, fmt, tensor_scale=0.5)
    # valid: unchanged result with an explicit default
    S = float(np.max(np.abs(x))) / (448 * 6)
    assert np.array_equal(quantize_blocks(x, "nvfp4").values, quantize_blocks(x, "nvfp4", tensor_scale=S).values)


def test_block_mse_rejects_unused_tensor_scale_and_bool_c():
    """A tensor scale multiplies only E4M3 block scales (NVFP4): for an E8M0 (MX) format it would be
    silently ignored, so it is an error; ``c=True`` is not a clip multiplier."""
    import quanttheory as qt
    from quanttheory.blocks import block_mse, quantize_blocks

    with pytest.raises(ValueError, match="tensor_scale applies only"):
        block_mse(qt.Normal(), "mxfp4", tensor_scale=0.5)
    with pytest.raises(TypeError, match="clip multiplier"):
        quantize_blocks(np.ones(32), "mxfp4", c=True)
    with pytest.raises(TypeError, match="clip multiplier"):
        block_mse(qt.Normal(), "mxfp4", "clip", c=np.True_)
    # the NVFP4 tensor scale is still accepted, and S = the default gives the default result
    from quanttheory.blocks.expectation import default_tensor_scale
    from quanttheory.blocks import get_block_format

    S = default_tensor_scale(qt.Normal(), get_block_format("nvfp4"))
    assert block_mse(qt.Normal(), "nvfp4", tensor_scale=S).mse == block_mse(qt.Normal(), "nvfp4").mse
