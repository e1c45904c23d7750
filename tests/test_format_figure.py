"""The ``formats`` table and figure: its numbers are the certified optimizer's and the
amax rule's (recomputed independently here for a few rows), and the table is complete."""

from __future__ import annotations

import math

import pytest

from quanttheory.laws import Laplace, Normal
from quanttheory.figures import formats, registry
from quanttheory.risk.amax_rule import amax_rule_mse
from quanttheory.risk.levels import format_mse


def test_registered():
    assert "formats" in registry()


@pytest.mark.parametrize("law,dist,label,preset", [("N(0,1)", Normal(), "E2M1", "e2m1"),
                                                   ("Laplace(0,1)", Laplace(), "INT4", "int4n")])
def test_row_numbers(law, dist, label, preset):
    r = formats.compute_row(law, dist, label, preset)
    m2 = dist.second_moment()
    # SQNR at the reported optimum from the curve itself; no scan point beats it
    mse = float(format_mse(dist, [r.scale_opt], preset)[0])
    assert r.sqnr_opt_db == pytest.approx(10 * math.log10(m2 / mse), abs=1e-9)
    import numpy as np

    scan = format_mse(dist, np.geomspace(r.scale_opt / 4, r.scale_opt * 4, 4001), preset)
    assert scan.min() >= mse * (1 - 1e-12)
    # amax losses: the rule's SQNR against the optimum's, both >= 0
    a3 = amax_rule_mse(dist, preset, 1000)
    assert r.amax_loss_1e3_db == pytest.approx(r.sqnr_opt_db - a3.sqnr_db, abs=1e-9)
    assert r.amax_loss_1e3_db > 0 and r.amax_loss_1e6_db > 0 and r.pow2_loss_db >= 0
    # power-of-two loss: brute force over 2^k
    ks = np.arange(-40, 41)
    best2 = format_mse(dist, np.ldexp(1.0, ks), preset).min()
    assert r.pow2_loss_db == pytest.approx(10 * math.log10(best2 / mse), abs=1e-9)


def test_quick_files(tmp_path):
    paths = formats.make(tmp_path, quick=True)
    names = sorted(p.name for p in paths)
    assert names == ["formats.csv", "formats.md", "formats.png"]
    md = (tmp_path / "formats.md").read_text()
    assert "| E2M1 |" in md and "| INT4 |" in md
    rows = (tmp_path / "formats.csv").read_text().strip().splitlines()
    assert rows[0].split(",") == list(formats.COLUMNS)
    assert len(rows) == 1 + 2 * len(formats.QUICK_FORMATS)
