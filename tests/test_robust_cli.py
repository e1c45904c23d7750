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
