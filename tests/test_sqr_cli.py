"""quanttheory check-regularizer: exit status, table, JSON, MODULE:FUNC and file.py:FUNC loading."""

import json
import pathlib
import subprocess
import sys

import pytest

from quanttheory.cli import main


def test_builtin_qsin_passes(capsys):
    assert main(["check-regularizer", "qsin", "--bits", "3"]) == 0
    out = capsys.readouterr().out
    assert "IS an SQR" in out and "FAIL" not in out
    assert "a  = 4" in out


def test_sinreq_fails_with_witness(capsys):
    assert main(["check-regularizer", "sinreq", "--bits", "3", "--unsigned"]) == 1
    out = capsys.readouterr().out
    assert "is NOT an SQR" in out
    assert "witness u = (8): phi = 0, MSQE = 1" in out  # r_t + 1 for the unsigned 3-bit grid [0, 7]


def test_json_output(capsys):
    assert main(["check-regularizer", "msqe", "--bits", "2", "--json"]) == 1
    d = json.loads(capsys.readouterr().out, parse_constant=_no_constant)
    assert d["grid"] == {"bits": 2, "signed": True, "r_b": -2, "r_t": 1}
    c1 = next(p for p in d["definition"] if p["key"] == "C1")
    assert c1["passed"] is False and c1["witness"]["u"][0] % 1 == 0.5
    assert d["C_per_grid_point"]["points"] == [-2, -1, 0, 1]


def test_module_func(capsys):
    assert main(["check-regularizer", "quanttheory.sqr:quartic", "--bits", "2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out, parse_constant=_no_constant)
    assert d["is_sqr"] is True and d["a"]["value"] == pytest.approx(0.5)


TAIL_MINIMA_SRC = (
    "import numpy as np\n"
    "def phi(u, r_b, r_t):\n"
    "    u = np.asarray(u, float)\n"
    "    t = np.where(u > r_t, u - r_t, np.where(u < r_b, r_b - u, 0.0))\n"
    "    inner = np.sin(np.pi * (u - np.rint(u))) ** 2\n"
    "    tail = np.pi ** 2 * t * t * (1 + 0.5 * np.sin(np.pi * t) ** 2)\n"
    "    return np.where(t > 0, tail, inner)\n")


def test_file_func_tail_minima_verdict_and_exit_status_agree(tmp_path, capsys):
    """#17.8: tail_minima IS an SQR (definition 1-3 hold) but Prop. 1(1) fails.  The exit status
    covers the definition: 0, and the verdict line says so; --strict also counts the claims: 1."""
    f = tmp_path / "myreg.py"
    f.write_text(TAIL_MINIMA_SRC)
    assert main(["check-regularizer", f"{f}:phi", "--bits", "3"]) == 0
    out = capsys.readouterr().out
    assert "IS an SQR" in out and "exit status 0" in out
    assert "Prop.1(1)" in out and "local minimum" in out  # the claim failure is still reported
    assert main(["check-regularizer", f"{f}:phi", "--bits", "3", "--strict"]) == 1
    out = capsys.readouterr().out
    assert "IS an SQR" in out and "exit status 1" in out and "--strict" in out


@pytest.mark.parametrize("name,expected", [("qsin", 0), ("msqe", 1), ("sinreq", 1), ("lopsided", 1),
                                           ("tail_minima", 0), ("quartic", 0)])
def test_exit_status_is_the_printed_verdict(name, expected, capsys):
    """Exit status 0 <=> the table prints 'IS an SQR' (without --strict)."""
    code = main(["check-regularizer", name, "--bits", "2"])
    out = capsys.readouterr().out
    assert code == expected
    assert ("verdict: IS an SQR" in out) == (code == 0) and f"exit status {code}" in out


def _console_script():
    exe = pathlib.Path(sys.executable).with_name("quanttheory")
    if not exe.exists():
        pytest.skip("console script 'quanttheory' not installed next to the interpreter")
    return str(exe)


def test_module_next_to_cwd_works_with_the_console_script(tmp_path):
    """#18.3: the README's `quanttheory check-regularizer mymodule:my_phi --bits 4`, run in the directory
    holding mymodule.py.  A console script does not put the current directory on sys.path (python -m
    does), so this is tested through the installed script in a subprocess with cwd=tmp_path."""
    (tmp_path / "mymodule.py").write_text(TAIL_MINIMA_SRC.replace("def phi", "def my_phi"))
    p = subprocess.run([_console_script(), "check-regularizer", "mymodule:my_phi", "--bits", "2", "--json"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout, parse_constant=_no_constant)
    assert d["is_sqr"] is True and d["regularizer"] == "my_phi"
    assert "mymodule" not in sys.modules  # the test process itself did not import it


def test_missing_module_error_names_the_current_directory(tmp_path):
    p = subprocess.run([_console_script(), "check-regularizer", "nomodule_xyz:phi", "--bits", "2"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert p.returncode == 2
    assert "cannot import module 'nomodule_xyz'" in p.stderr and str(tmp_path) in p.stderr
    assert "nomodule_xyz.py:FUNC" in p.stderr


@pytest.mark.parametrize("argv,msg", [(["--seed", "-1"], "seed"), (["--points-per-cell", "100"], "power of two"),
                                      (["--points-per-cell", str(1 << 22)], "points_per_cell"),
                                      (["--max-cells", "2"], "max_cells"), (["--bits", "0"], "bits")])
def test_bad_arguments_rejected_before_any_work(argv, msg, tmp_path, capsys):
    """#18.9: argument errors come before the module is imported or phi evaluated: the module here
    records its import and phi raises, so neither may happen."""
    f = tmp_path / "trap.py"
    flag = tmp_path / "imported"
    f.write_text(f"open({str(flag)!r}, 'w').close()\n"
                 "def phi(u, r_b, r_t):\n    raise RuntimeError('phi evaluated')\n")
    args = ["check-regularizer", f"{f}:phi", "--bits", "3", *argv]
    if argv[0] == "--bits":
        args = ["check-regularizer", f"{f}:phi", *argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert msg in err and "phi evaluated" not in err
    assert not flag.exists()


def _no_constant(c):
    raise ValueError(f"non-standard JSON constant {c}")


@pytest.mark.parametrize("spec,msg", [("nope", "unknown regularizer"), ("quanttheory.sqr:nope", "no attribute"),
                                      ("no_such_module_xyz:f", "cannot import"), ("/no/such.py:f", "no such file"),
                                      ("quanttheory.sqr:EPS", "not a callable")])
def test_bad_spec(spec, msg, capsys):
    assert main(["check-regularizer", spec, "--bits", "2"]) == 2
    assert msg in capsys.readouterr().err


def test_bad_bits(capsys):
    assert main(["check-regularizer", "qsin", "--bits", "0"]) == 2
    assert "bits" in capsys.readouterr().err


def test_phi_returning_nan_is_a_clean_error(tmp_path, capsys):
    f = tmp_path / "nanreg.py"
    f.write_text("import numpy as np\n"
                 "def phi(u, r_b, r_t):\n"
                 "    return np.where(np.asarray(u) > r_t + 1.5, np.nan, np.sin(np.pi * np.asarray(u)) ** 2)\n")
    assert main(["check-regularizer", f"{f}:phi", "--bits", "2"]) == 2
    err = capsys.readouterr().err
    assert "returned nan at u =" in err and "grid" in err
