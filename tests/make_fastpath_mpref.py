"""Precompute mpmath MSQE references at 12 and 16 bits for tests/test_fastpath.py.

mpmath's MSQE reference (tests/mpref.py) is O(2^b) per point, too slow to run in
the test suite at these widths.  Run from the worktree root:

    /work/venv/bin/python tests/make_fastpath_mpref.py

It writes tests/data/fastpath_mp_msqe.json (law, loc, scale, relu, r_b, r_t, s,
value of s^2 E[MSQE(xi/s)] on the continuous part = mp_risk / pi^2 as a string).
Scales are fixed multiples of 8 rms / 2^b (no engine output is used).
"""

import json
import math
import pathlib
import sys

import mpmath as mp

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from mpref import mp_risk  # noqa: E402

CASES = []
for bits, mults in ((12, (0.01, 0.6, 1.0, 3.0)), (16, (0.05, 1.0))):
    for law, loc, relu, signed in ((0, 0.0, False, True), (0, 0.3, True, False), (1, 0.0, False, True),
                                   (1, -0.2, True, False)):
        r_b, r_t = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        rms = math.sqrt(loc * loc + (1.0 if law == 0 else 2.0))
        for m in mults:
            CASES.append((law, loc, 1.0, relu, r_b, r_t, m * 8 * rms / 2**bits))

out = []
for law, loc, sc, relu, r_b, r_t, s in CASES:
    v = mp_risk(law, loc, sc, relu, r_b, r_t, "msqe", s, dps=40) / mp.pi**2
    out.append(dict(law=law, loc=loc, scale=sc, relu=relu, r_b=r_b, r_t=r_t, s=s, value=mp.nstr(v, 25)))
    print(out[-1], flush=True)
path = pathlib.Path(__file__).parent / "data" / "fastpath_mp_msqe.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print("wrote", path)
