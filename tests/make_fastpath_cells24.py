"""Precompute 24-bit per-cell (reference path) values for tests/test_fastpath.py.

The per-cell path integrates ~2^24 cells per scale at 24 bits (0.1-1.3 s per point),
too slow for the suite.  Run from the worktree root:

    PYTHONPATH=. /work/venv/bin/python tests/make_fastpath_cells24.py

Writes tests/data/fastpath_cells24.json.  Uses only quanttheory.risk._kernels.cells
(the reference path), never the fast path.
"""

import json
import math
import pathlib

import numpy as np

from quanttheory.risk._kernels import cells
from quanttheory.risk.curve import _tables

ns, nodes, weights, amax = _tables()
out = []
bits = 24
for law, loc, relu, signed in ((0, 0.0, False, True), (0, 0.3, True, False), (1, 0.0, False, True),
                               (1, -0.2, True, False)):
    r_b, r_t = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    rms = math.sqrt(loc * loc + (1.0 if law == 0 else 2.0))
    for code, m in ((0, 1.0), (1, 0.5)):
        s = m * 8 * rms / 2**bits
        v = float(cells.curve_builtin(law, loc, 1.0, relu, r_b, r_t, code, np.array([s]), ns, nodes, weights,
                                      amax)[0])
        out.append(dict(law=law, loc=loc, scale=1.0, relu=relu, r_b=r_b, r_t=r_t, code=code, s=s, value=v))
        print(out[-1], flush=True)
path = pathlib.Path(__file__).parent / "data" / "fastpath_cells24.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print("wrote", path)
