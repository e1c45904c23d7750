"""The quanttheory command line (scale subcommand and top-level help)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from quanttheory.cli import main
from quanttheory.risk import optimal_scale
from quanttheory import Grid, Laplace, ReLU



def _no_constant(name):
    raise ValueError(f"not strict JSON: {name}")

def test_help_lists_commands(capsys):
    # no subcommand is a usage error (exit 2) that still lists the commands
    assert main([]) == 2
    err = capsys.readouterr().err
    assert "scale" in err and "figures" in err and "give a COMMAND" in err


def test_help_is_fast_and_lazy():
    # --help must not import numba or matplotlib
    code = ("import sys; from quanttheory.cli import build_parser; build_parser(['--help']); "
            "print(any(m.startswith(('numba', 'matplotlib')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_scale_json_matches_api(capsys):
    assert main(["scale", "--dist", "laplace", "--relu", "--bits", "4", "--unsigned",
                 "--regularizer", "qsin", "--json"]) == 0
    data = json.loads(capsys.readouterr().out, parse_constant=_no_constant)
    ref = optimal_scale(ReLU(Laplace()), Grid(4, False), "qsin")
    assert data["scale"] == pytest.approx(ref.scale, rel=1e-12)
    assert data["msqe_excess"] == pytest.approx(ref.msqe_excess, rel=1e-9)
    assert data["grid"]["r_t"] == 15


def test_scale_text(capsys):
    assert main(["scale", "--dist", "normal", "--bits", "3"]) == 0
    out = capsys.readouterr().out
    assert "optimal scale" in out and "risk at s*" in out


@pytest.mark.parametrize("argv,msg", [
    (["scale", "--dist", "normal", "--bits", "0"], "bits"),
    (["scale", "--bits", "4"], "FILE or --dist"),
    (["scale", "--dist", "normal", "--bits", "4", "--regularizer", "nope"], "unknown regularizer"),
    (["scale", "--dist", "normal", "--relu", "--bits", "1"], "no positive grid point"),
])
def test_scale_errors(argv, msg, capsys):
    assert main(argv) == 2
    assert msg in capsys.readouterr().err


# --------------------------------------------------------------------------- --affine
def _strict(s):
    def bad(c):
        raise AssertionError(f"non-finite constant {c} in JSON")

    return json.loads(s, parse_constant=bad)


def test_scale_affine_dist_json_matches_api(capsys):
    from quanttheory.affine import optimal_affine

    assert main(["scale", "--dist", "laplace", "--loc", "1", "--bits", "3", "--affine", "--json"]) == 0
    data = _strict(capsys.readouterr().out)
    ref = optimal_affine(Laplace(1.0, 1.0), 3)
    assert data["zero_point"] == ref.zero_point
    assert data["scale"] == pytest.approx(ref.scale, rel=1e-12)
    assert data["mse"] == pytest.approx(ref.mse, rel=1e-12)


def test_scale_affine_file_axis_group(tmp_path, capsys):
    import numpy as np

    from quanttheory.affine import optimal_affine_data

    w = np.random.default_rng(0).laplace(size=(3, 64)) + 0.4
    f = tmp_path / "w.npy"
    np.save(f, w)
    assert main(["scale", str(f), "--bits", "3", "--affine", "--axis", "0", "--json"]) == 0
    data = _strict(capsys.readouterr().out)
    ref = optimal_affine_data(w, 3, axis=0)
    assert data["zero_point"] == ref.zero_point.tolist()
    np.testing.assert_allclose(data["mse"], ref.mse, rtol=1e-12)
    assert main(["scale", str(f), "--bits", "3", "--affine", "--group", "32"]) == 0
    out = capsys.readouterr().out
    assert "6 groups" in out and "z =" in out
    assert main(["scale", str(f), "--bits", "2", "--affine", "offset", "--group", "64", "--json"]) == 0
    assert len(_strict(capsys.readouterr().out)["mse"]) == 3


@pytest.mark.parametrize("argv,msg", [
    (["--dist", "normal", "--bits", "4", "--affine", "--unsigned"], "drop --unsigned"),
    (["--dist", "normal", "--bits", "4", "--group", "8"], "add --affine"),
    (["--dist", "normal", "--bits", "4", "--affine", "--axis", "0"], "apply to a FILE"),
    (["--dist", "normal", "--bits", "9", "--affine"], "bits 1..8"),
])
def test_scale_affine_errors(argv, msg, capsys):
    assert main(["scale"] + argv) == 2
    assert msg in capsys.readouterr().err


def test_scale_affine_constant_and_nan_files(tmp_path, capsys):
    import numpy as np

    f = tmp_path / "c.npy"
    np.save(f, np.full(10, 2.0))
    assert main(["scale", str(f), "--bits", "4", "--affine"]) == 2
    assert "constant" in capsys.readouterr().err
    np.save(f, np.array([1.0, np.nan]))
    assert main(["scale", str(f), "--bits", "4", "--affine"]) == 2
    assert "non-finite" in capsys.readouterr().err


# ---------------------------------------------------------------- --affine: constant channels (audit F5)
def test_scale_affine_allow_constant_flag(tmp_path, capsys):
    """A pruned (all-zero) channel: without the flag the error names the CLI flag (not the API
    keyword); with it, that channel is degenerate (MSE 0, scale_error null) and the other channels
    equal the API's per-channel optima computed on them alone."""
    import numpy as np

    from quanttheory.affine import optimal_affine_data, optimal_offset_data

    w = np.random.default_rng(5).normal(size=(3, 40))
    w[1] = 0.0
    f = tmp_path / "w.npy"
    np.save(f, w)
    assert main(["scale", str(f), "--bits", "4", "--affine", "--axis", "0"]) == 2
    err = capsys.readouterr().err
    assert "--allow-constant" in err and "allow_constant=True" not in err and "channel 1" in err
    for form, api in (("zero_point", optimal_affine_data), ("offset", optimal_offset_data)):
        assert main(["scale", str(f), "--bits", "4", "--affine", form, "--axis", "0", "--allow-constant",
                     "--json"]) == 0
        d = json.loads(capsys.readouterr().out, parse_constant=_no_constant)
        assert d["mse"][1] == 0.0 and d["scale_error"][1] is None
        for i in (0, 2):
            ref = api(w[i], 4)
            assert d["scale"][i] == pytest.approx(ref.scale, rel=1e-12)
            assert d["mse"][i] == pytest.approx(ref.mse, rel=1e-12)
        # the degenerate channel has MSE 0 exactly: the level set holds 0 (hand check of the
        # returned (s, offset): 0 = offset + k s for an integer k in 0..15)
        k = -d["offset"][1] / d["scale"][1]
        assert k == round(k) and 0 <= k <= 15
    # text output works too
    assert main(["scale", str(f), "--bits", "3", "--affine", "--axis", "0", "--allow-constant"]) == 0
    assert "3 channels" in capsys.readouterr().out


@pytest.mark.parametrize("argv,msg", [
    (["--affine", "--json"], "--affine needs --bits B"),
    (["--affine", "--format", "e4m3"], "not --format"),
    (["--bits", "4", "--allow-constant"], "--allow-constant applies to --affine with a FILE"),
])
def test_scale_affine_flag_messages(tmp_path, argv, msg, capsys):
    import numpy as np

    f = tmp_path / "w.npy"
    np.save(f, np.arange(6.0))
    assert main(["scale", str(f)] + argv) == 2
    err = capsys.readouterr().err
    assert msg in err
    if "--format" not in argv:
        assert "not --format" not in err


def test_scale_allow_constant_rejected_with_dist(capsys):
    assert main(["scale", "--dist", "normal", "--bits", "4", "--affine", "--allow-constant"]) == 2
    assert "--allow-constant applies to --affine with a FILE" in capsys.readouterr().err
