"""Issue #18 items 4, 5, 6, 9: the ``quanttheory`` command fails in one line (exit 2),
rejects flags it would ignore, and prints strict JSON only."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from quanttheory import Grid
from quanttheory.cli import main


def strict_loads(text: str):
    """json.loads that rejects NaN / Infinity / -Infinity (not JSON, RFC 8259)."""
    def bad(name):
        raise ValueError(f"not strict JSON: {name}")

    return json.loads(text, parse_constant=bad)


@pytest.fixture
def npy(tmp_path):
    def make(x, name="t.npy"):
        p = tmp_path / name
        with open(p, "wb") as f:
            np.save(f, np.asarray(x, dtype=float))
        return str(p)
    return make


# ----------------------------------------------------------------- item 4: strict JSON
def test_json_all_zero_tensor_is_strict_and_null(npy, capsys):
    # every s is optimal for all-zero data: no finite bound on |s - s_true| exists
    assert main(["scale", npy(np.zeros(100)), "--bits", "4", "--json"]) == 0
    d = strict_loads(capsys.readouterr().out)
    assert d["scale_error"] is None and d["scale_rel_error"] is None
    assert d["risk"] == 0.0 and d["file"].endswith("t.npy")


@pytest.mark.parametrize("argv", [
    ["scale", "--dist", "normal", "--bits", "3", "--json"],
    ["scale", "--dist", "laplace", "--relu", "--bits", "4", "--unsigned", "--regularizer", "qsin", "--json"],
    ["scale", "--dist", "laplace", "--loc", "0.5", "--bits", "2", "--json"],
])
def test_json_law_outputs_are_strict_with_documented_keys(argv, capsys):
    assert main(argv) == 0
    d = strict_loads(capsys.readouterr().out)
    keys = {"scale", "risk", "regularizer", "grid", "method", "scale_error", "scale_rel_error",
            "risk_lower_bound", "msqe_excess", "msqe_scale", "extra", "distribution"}
    assert keys <= set(d)
    assert d["scale_rel_error"] == pytest.approx(d["scale_error"] / d["scale"], rel=1e-15, abs=0)


def test_json_tensor_keys(npy, capsys):
    x = np.random.default_rng(1).normal(size=(3, 200))
    assert main(["scale", npy(x), "--bits", "3", "--axis", "0", "--json"]) == 0
    d = strict_loads(capsys.readouterr().out)
    assert len(d["scale"]) == 3 and len(d["scale_rel_error"]) == 3
    assert all(r == pytest.approx(e / s, rel=1e-15, abs=0)
               for r, e, s in zip(d["scale_rel_error"], d["scale_error"], d["scale"]))


# ------------------------------------------------ item 5: one line, exit 2, no traceback
def _one_line_error(capsys, rc, needle):
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0], err


@pytest.mark.parametrize("extra,needle", [
    (["--dist-scale", "1e300"], "E[xi^2] = inf"),          # used to raise OverflowError
    (["--dist-scale", "1e-300"], "E[xi^2] = 0"),           # "Geometric sequence cannot include zero"
    (["--loc", "-40", "--relu", "--unsigned"], "nothing to quantize"),  # E[xi^2] underflows
])
def test_unrepresentable_laws_are_one_line_errors(extra, needle, capsys):
    _one_line_error(capsys, main(["scale", "--dist", "normal", "--bits", "4", *extra]), needle)


def test_figures_out_is_a_file_fails_before_any_work(tmp_path, capsys, monkeypatch):
    f = tmp_path / "afile"
    f.write_text("x")
    import quanttheory.figures as figs

    def boom():  # the figure registry must not even be consulted for work
        raise AssertionError("figure computed before --out was checked")
    real = figs.registry
    reg = real()
    name = next(iter(reg))

    class Guard:
        def make(self, *a, **k):
            boom()
    monkeypatch.setattr(figs, "registry", lambda: {name: Guard()})
    rc = main(["figures", "--out", str(f), "--only", name, "--quick"])
    _one_line_error(capsys, rc, "not a directory")
    rc = main(["figures", "--out", str(f / "sub"), "--only", name, "--quick"])
    _one_line_error(capsys, rc, "afile")


def test_cli_subprocess_exit_status_and_stderr(tmp_path):
    # the console entry point itself: exit 2 and a single stderr line
    r = subprocess.run([sys.executable, "-m", "quanttheory", "scale", "--dist", "normal", "--bits", "4",
                        "--dist-scale", "1e-300"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


# ---------------------------------------------------------- item 6: no silently ignored flags
@pytest.mark.parametrize("extra,needle", [
    (["--relu"], "--relu"),
    (["--loc", "5"], "--loc"),
    (["--dist-scale", "3"], "--dist-scale"),
    (["--relu", "--loc", "5", "--dist-scale", "3"], "do not apply to a FILE"),
])
def test_law_flags_with_a_file_are_rejected(npy, extra, needle, capsys):
    rc = main(["scale", npy(np.arange(10.0)), "--bits", "4", *extra])
    _one_line_error(capsys, rc, needle)


def test_axis_with_a_law_is_rejected(capsys):
    _one_line_error(capsys, main(["scale", "--dist", "normal", "--axis", "0", "--bits", "4"]), "--axis")


def test_uppercase_npy_suffix_is_accepted(npy, capsys):
    x = np.random.default_rng(2).normal(size=500)
    assert main(["scale", npy(x, "w.NPY"), "--bits", "4", "--json"]) == 0
    d = strict_loads(capsys.readouterr().out)
    assert main(["scale", npy(x, "w.npy"), "--bits", "4", "--json"]) == 0
    assert strict_loads(capsys.readouterr().out)["scale"] == d["scale"]


@pytest.mark.parametrize("signed", ["no", "False", 0, 1, None, 1.0])
def test_grid_signed_must_be_a_bool(signed):
    # bool("no") is True: Grid(4, signed="no") used to build a signed grid
    with pytest.raises(TypeError, match="signed must be True or False"):
        Grid(4, signed=signed)


def test_grid_signed_bools_still_work():
    assert Grid(4, False).r_b == 0 and Grid(4, np.bool_(True)).r_b == -8


# -------------------------------------------------- item 9: usage errors, --version, early checks
def test_no_subcommand_exits_2(capsys):
    assert main([]) == 2
    assert "give a COMMAND" in capsys.readouterr().err


def test_version(capsys):
    import quanttheory

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out.strip() == f"quanttheory {quanttheory.__version__}"


def test_scale_validates_before_reading_the_file(tmp_path, capsys, monkeypatch):
    # a bad --regularizer or --bits is reported without loading the tensor
    p = tmp_path / "t.npy"
    np.save(p, np.arange(5.0))

    def no_load(*a, **k):
        raise AssertionError("file read before the arguments were validated")
    monkeypatch.setattr(np, "load", no_load)
    _one_line_error(capsys, main(["scale", str(p), "--bits", "4", "--regularizer", "nope"]), "regularizer")
    _one_line_error(capsys, main(["scale", str(p), "--bits", "99"]), "bits")
    _one_line_error(capsys, main(["scale", str(p), "--bits", "4", "--dist", "normal"]), "not both")


# ----------------------------------------------------------------- audit of 2026-12-01 (CLI findings 1, 2, 4-6, 8-10)
@pytest.mark.parametrize("c", ["0", "-1", "nan", "inf"])
def test_blocks_clip_multiplier_must_be_positive_and_finite(npy, c, capsys):
    # c = 0 sent every value to 0 and printed SQNR 0 dB; c = -1 printed the c = +1 numbers
    path = npy(np.linspace(-1, 1, 16))
    assert main(["blocks", path, "--format", "nvfp4", "--block", "4", "--rule", "clip", "--c", c]) == 2
    assert "clip multiplier c must be a finite number > 0" in capsys.readouterr().err


def test_block_data_report_validates_c():
    from quanttheory.blocks.data import block_data_report

    with pytest.raises(ValueError, match="finite number > 0"):
        block_data_report(np.ones(8), "nvfp4", block=4, rules=["clip"], c=-1.0)


@pytest.mark.parametrize("content", [b"", b"xx", b"not a numpy file at all"])
@pytest.mark.parametrize("cmd", [["blocks", "--format", "mxfp4"], ["scale", "--bits", "4"]])
def test_unreadable_npy_is_one_line(tmp_path, content, cmd, capsys):
    # a 0-byte file raised EOFError with a traceback (blocks); 'xx' got numpy's "pickled (object) data" message
    p = tmp_path / "bad.npy"
    p.write_bytes(content)
    assert main([cmd[0], str(p), *cmd[1:]]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "pickled" not in err and "Traceback" not in err
    assert ("empty" in err) if not content else ("magic" in err)


def test_blocks_partial_message_names_the_cli_flag(npy, capsys):
    assert main(["blocks", npy(np.ones(16)), "--format", "mxfp4"]) == 2
    err = capsys.readouterr().err
    assert "--partial" in err and "partial=True" not in err


@pytest.mark.parametrize("argv", [
    ["blocks", "--dist", "normal", "--format", "mxfp4", "--axis", "0"],
    ["blocks", "--dist", "normal", "--format", "mxfp4", "--partial"],
])
def test_blocks_dist_rejects_tensor_flags(argv, capsys):
    assert main(argv) == 2
    assert "apply to a FILE" in capsys.readouterr().err


def test_blocks_file_rejects_sigma(npy, capsys):
    assert main(["blocks", npy(np.ones(32)), "--format", "mxfp4", "--sigma", "5"]) == 2
    assert "--sigma" in capsys.readouterr().err


def test_model_int_formats_beyond_16_bits_are_refused(tmp_path, capsys):
    np.savez(tmp_path / "m.npz", w=np.linspace(-1, 1, 64).reshape(4, 16))
    assert main(["model", str(tmp_path / "m.npz"), "--out", str(tmp_path / "o"), "--workers", "1", "--quiet",
                 "--no-figure", "--format", "int17"]) == 2
    assert "b = 1..16" in capsys.readouterr().err


def test_linear_theory_infinite_time_with_eta_is_quiet():
    out = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "quanttheory", "linear", "theory",
                          "--alpha", "0.5", "--t", "inf", "--eta", "0.1"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "RuntimeWarning" not in out.stderr


def test_linear_simulate_refuses_zero_examples_and_names_the_simulated_alpha(capsys):
    assert main(["linear", "simulate", "--alpha", "1e-9", "--N", "10", "--seeds", "2", "--steps", "2"]) == 2
    assert "no training example" in capsys.readouterr().err
    assert main(["linear", "simulate", "--alpha", "0.15", "--N", "10", "--seeds", "2", "--steps", "2"]) == 0
    assert "simulated alpha is P/N = 0.2" in capsys.readouterr().out
