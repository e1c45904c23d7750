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
