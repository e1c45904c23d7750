"""``quanttheory scale ... --format NAME`` (data files and laws), strict JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from quanttheory.cli import main
from quanttheory.risk.format_data import optimal_scale_format_data


def _strict_loads(s):
    def bad(c):
        raise ValueError(f"non-strict JSON constant {c}")

    return json.loads(s, parse_constant=bad)


@pytest.fixture()
def wfile(tmp_path):
    W = np.random.default_rng(0).normal(size=(3, 500)).astype(np.float32) * np.array([[1.0], [3.0], [0.1]], np.float32)
    p = tmp_path / "W.npy"
    np.save(p, W)
    return p, W


def test_file_format_axis_json(wfile, capsys):
    p, W = wfile
    assert main(["scale", str(p), "--format", "nf4", "--axis", "0", "--json"]) == 0
    d = _strict_loads(capsys.readouterr().out)
    ref = optimal_scale_format_data(W, "nf4", axis=0)
    assert d["scale"] == ref.scale.tolist() and d["format"]["name"] == "nf4"
    assert len(d["near_optimal_scales"]) == 3 and all(len(c) >= 1 for c in d["near_optimal_scales"])
    assert d["near_optimal_scales"][1][0] == ref.scale[1]


def test_file_format_e4m3_json_lists_every_near_optimal_scale(wfile, capsys):
    p, W = wfile
    assert main(["scale", str(p), "--format", "e4m3", "--json"]) == 0
    d = _strict_loads(capsys.readouterr().out)
    ref = optimal_scale_format_data(W, "e4m3")
    assert d["near_optimal_scales"] == list(ref.near_optimal_scales) and d["scale"] == ref.scale
    assert d["mse"] == ref.mse and d["risk_lower_bound"] <= d["risk"]


def test_file_format_text(wfile, capsys):
    p, _ = wfile
    assert main(["scale", str(p), "--format", "e2m1"]) == 0
    out = capsys.readouterr().out
    assert "optimal scale s*" in out and "near-optimal scales" in out and "amax rule" in out


def test_dist_format_json(capsys):
    from quanttheory.laws import Normal
    from quanttheory.risk.levels_optimum import format_optimal_scale

    assert main(["scale", "--dist", "normal", "--format", "e2m1", "--json"]) == 0
    d = _strict_loads(capsys.readouterr().out)
    ref = format_optimal_scale(Normal(), "e2m1")
    assert d["scale"] == pytest.approx(ref.scale, rel=1e-12) and len(d["minima"]) == len(ref.minima)


def test_degenerate_file_strict_json(tmp_path, capsys):
    p = tmp_path / "z.npy"
    np.save(p, np.zeros(7))
    assert main(["scale", str(p), "--format", "e4m3", "--json"]) == 0
    d = _strict_loads(capsys.readouterr().out)
    assert d["scale_error"] is None and d["mse"] == 0.0


@pytest.mark.parametrize("argv,msg", [
    (["scale", "--dist", "normal", "--format", "e4m4"], "unknown format 'e4m4'.*e4m3"),
    (["scale", "--dist", "normal", "--format", "e4m3", "--bits", "4"], "either --bits or --format"),
    (["scale", "--dist", "normal", "--format", "e4m3", "--unsigned"], "uint4"),
    (["scale", "--dist", "normal", "--format", "e4m3", "--regularizer", "qsin"], "msqe"),
    (["scale", "--dist", "normal"], "--bits B .* or --format NAME"),
    (["scale", "--format", "nf4"], "FILE or --dist"),
    (["scale", "--dist", "normal", "--format", "nf4", "--axis", "0"], "apply to a FILE tensor"),
])
def test_format_cli_errors(argv, msg, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    import re

    assert re.search(msg, err), err


def test_file_format_bad_sign(tmp_path, capsys):
    p = tmp_path / "neg.npy"
    np.save(p, -np.abs(np.random.default_rng(1).normal(size=20)))
    assert main(["scale", str(p), "--format", "uint4"]) == 2
    assert "no level of the sign" in capsys.readouterr().err
