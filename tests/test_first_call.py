"""First call on an empty numba cache (issue 20): ``quanttheory scale --dist normal --bits 4`` must
compile only what it needs.  Counted, not timed: the numba functions written to a fresh
NUMBA_CACHE_DIR (NUMBA_DEBUG_CACHE lists each "data saved") and the heavy modules imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from quanttheory import Grid, Normal
from quanttheory.risk import optimal_scale

PROBE = r"""
import json, sys
from quanttheory.cli import main
rc = main(sys.argv[1:])
heavy = sorted({m.split('.')[0] for m in sys.modules} & {'numba', 'llvmlite', 'scipy', 'matplotlib', 'mpmath'})
print('PROBE ' + json.dumps({'rc': rc, 'heavy': heavy}))
"""


def _run(args, tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), NUMBA_DEBUG_CACHE="1")
    out = subprocess.run([sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True,
                         timeout=600)
    saved = [ln for ln in (out.stdout + out.stderr).splitlines() if "data saved" in ln]
    probe = [ln for ln in out.stdout.splitlines() if ln.startswith("PROBE ")]
    assert out.returncode == 0 and probe, out.stderr
    return json.loads(probe[0][6:]), saved, out.stdout


@pytest.mark.parametrize("extra", [[], ["--regularizer", "qsin"], ["--relu", "--unsigned", "--bits", "12"]])
def test_normal_scale_compiles_nothing(tmp_path, extra):
    args = ["scale", "--dist", "normal", "--bits", "4", *extra, "--json"]
    probe, saved, stdout = _run(args, tmp_path)
    assert probe["rc"] == 0
    assert saved == [], f"compiled on first call: {saved}"
    assert "numba" not in probe["heavy"] and "llvmlite" not in probe["heavy"]
    body = "\n".join(ln for ln in stdout.splitlines() if not ln.startswith("PROBE "))
    res = json.loads(body, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    ref = optimal_scale(Normal(), Grid(12 if "--relu" in extra else 4, "--unsigned" not in extra),
                        "qsin" if "qsin" in extra else "msqe", with_msqe_excess=False)
    if "--relu" not in extra:
        assert res["scale"] == pytest.approx(ref.scale, rel=1e-14)
    assert res["scale_rel_error"] <= 1e-9

