"""quanttheory check-regularizer: exit status, table, JSON, MODULE:FUNC and file.py:FUNC loading."""

import json
import math

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
    d = json.loads(capsys.readouterr().out)
    assert d["grid"] == {"bits": 2, "signed": True, "r_b": -2, "r_t": 1}
    c1 = next(p for p in d["definition"] if p["key"] == "C1")
    assert c1["passed"] is False and c1["witness"]["u"][0] % 1 == 0.5
    assert d["C_per_grid_point"]["points"] == [-2, -1, 0, 1]


def test_module_func(capsys):
    assert main(["check-regularizer", "quanttheory.sqr:quartic", "--bits", "2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["is_sqr"] is True and d["a"]["value"] == pytest.approx(0.5)


def test_file_func_tail_minima_exit_1(tmp_path, capsys):
    f = tmp_path / "myreg.py"
    f.write_text(
        "import numpy as np\n"
        "def phi(u, r_b, r_t):\n"
        "    u = np.asarray(u, float)\n"
        "    t = np.where(u > r_t, u - r_t, np.where(u < r_b, r_b - u, 0.0))\n"
        "    inner = np.sin(np.pi * (u - np.rint(u))) ** 2\n"
        "    tail = np.pi ** 2 * t * t * (1 + 0.5 * np.sin(np.pi * t) ** 2)\n"
        "    return np.where(t > 0, tail, inner)\n")
    assert main(["check-regularizer", f"{f}:phi", "--bits", "3"]) == 1
    out = capsys.readouterr().out
    assert "IS an SQR" in out  # the definition holds ...
    assert "Prop.1(1)" in out and "local minimum" in out  # ... but Prop. 1(1) fails


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
