"""Audit findings 30 and 31 (2026-12-01): block expectations at extreme magnitudes, clean messages."""

import math
import subprocess
import sys
import warnings

import pytest

import quanttheory as qt
from quanttheory.blocks import block_mse
from quanttheory.blocks.expectation import default_tensor_scale
from quanttheory.blocks.spec import get_block_format

NVFP4_ROUND_N01 = 0.00904754178461999  # MSE / sigma^2 of N(0, 1), nvfp4 'round', default tensor scale (auditor)


@pytest.mark.parametrize("e", [-460, -200, 200, 460])
def test_nvfp4_round_scale_invariance_power_of_two(e):
    # law scale and tensor scale both times 2^e: every E4M3 / E2M1 decision is unchanged, errors scale by
    # exactly 4^e, so MSE / sigma^2 must equal the sigma = 1 value to the requested tolerance
    S1 = default_tensor_scale(qt.Normal(0, 1), get_block_format("nvfp4"))
    s = 2.0 ** e
    r = block_mse(qt.Normal(0, s), "nvfp4", "round", tensor_scale=S1 * s)
    assert r.mse / s ** 2 == pytest.approx(NVFP4_ROUND_N01, rel=1e-10)


@pytest.mark.parametrize("law", [qt.Normal(0, 1e-200), qt.Laplace(0, 1e-200), qt.Normal(0, 2.0 ** -500),
                                 qt.Normal(0, 1e200), qt.Laplace(0, 1e300)])
@pytest.mark.parametrize("fmt, rule", [("nvfp4", "round"), ("nvfp4", "4over6"), ("mxfp4", None),
                                       ("mxfp8_e4m3", None), ("int4_g32", None)])
def test_extreme_magnitudes_refused(law, fmt, rule):
    # before: hang (1e-200: sd = 0 in the bracket doubling), silent -0.58 % (2^-500), OverflowError errno 34 (1e200)
    with pytest.raises(ValueError, match=r"E\[xi\^2\] between 2\^-920 and 2\^920.*Rescale the law"):
        block_mse(law, fmt, rule)


def test_default_tensor_scale_tiny_refused():
    with pytest.raises(ValueError, match="between 2\\^-920"):
        default_tensor_scale(qt.Normal(0, 1e-200), get_block_format("nvfp4"))


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "quanttheory", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env=_env())


def test_cli_blocks_huge_sigma_message():
    p = _cli("blocks", "--dist", "normal", "--format", "int4_g32", "--sigma", "1e200")
    assert p.returncode != 0
    assert "Numerical result out of range" not in p.stderr
    assert "E[xi^2] between 2^-920 and 2^920" in p.stderr


def test_check_regularizer_zero_phi_no_warning(tmp_path):
    (tmp_path / "regs.py").write_text("def zero(u, r_b, r_t):\n    return 0.0\n")
    p = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "quanttheory", "check-regularizer",
                        "regs.py:zero", "--bits", "4"], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                       env=_env())
    assert "RuntimeWarning" not in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert "is NOT an SQR" in p.stdout
    assert "1. equivalence a MSQE <= phi <= b' MSQE            FAIL" in p.stdout


def _env():
    import os

    import quanttheory

    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(quanttheory.__file__))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_student_t_near_2_message():
    law = qt.StudentT(2.0000001)
    assert "2.0000001" in str(law)
    assert str(qt.StudentT(2.5)) == "t(2.5; 0, 1)"
    from quanttheory import Grid
    from quanttheory.risk.optimum import optimal_scale

    with pytest.raises(ValueError, match=r"t\(2\.0000001; 0, 1\).*tails are too heavy for float64.*minimum exists"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            optimal_scale(law, Grid(4, True), "msqe")


@pytest.mark.parametrize("e", [-460, 459])
def test_nvfp4_4over6_scale_invariance_power_of_two(e):
    # same argument as for 'round': both candidates (c, 1.5 c) are E4M3 decisions relative to the tensor scale
    bf = get_block_format("nvfp4")
    S1 = default_tensor_scale(qt.Laplace(0, 1), bf)
    ref = block_mse(qt.Laplace(0, 1), "nvfp4", "4over6", tensor_scale=S1).mse
    s = 2.0 ** e
    r = block_mse(qt.Laplace(0, s), "nvfp4", "4over6", tensor_scale=S1 * s)
    assert r.mse / s ** 2 == pytest.approx(ref, rel=1e-10)


@pytest.mark.parametrize("e, under, over", [(-460, 1.0, 0.0), (459, 0.0, 1.0)])
@pytest.mark.parametrize("rule", ["floor", "ceil", "clip"])
def test_mxfp4_fixed_range_at_extreme_magnitudes(e, under, over, rule):
    # E8M0 scales live in [2^-127, 2^127]: at sd 2^-460 every block's scale underflows (all elements -> 0, MSE =
    # E[xi^2] = s^2); at 2^459 every block overflows: E is clamped to 127 (spec.py), elements saturate at
    # 6 * 2^127 ~ 2^-329 sd, so the error is xi^2 up to ~2^-329 relative: MSE / s^2 = 1 again
    s = 2.0 ** e
    r = block_mse(qt.Normal(0, s), "mxfp4", rule)
    assert r.mse / s ** 2 == pytest.approx(1.0, rel=1e-12)
    assert r.scale_underflow_rate == pytest.approx(under, abs=1e-12)
    assert r.scale_overflow_rate == pytest.approx(over, abs=1e-12)
