"""Precompute the mpmath references of tests/test_heavy.py (Student t, generalized Gaussian).

Run from the worktree root (a few minutes; O(2^b) mpmath evaluations per point):

    .venv/bin/python tests/make_heavy_mpref.py

Writes tests/data/heavy_mpref.json: rows (law, shape, loc, scale, relu, r_b, r_t, s, value as a
string), value = s^2 E[MSQE(xi/s)] on the continuous part (tests/heavy_mpref.py).  The scales are
fixed multiples m of s0 = 8 rms / 2^b (rms = sqrt(E[xi^2]) of the base law, in closed form; no
engine output is used): m from 1e-4 to 100 around the optimum's order of magnitude.
"""

import json
import math
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from heavy_mpref import GG, T, mp_msqe  # noqa: E402

LAWS = [(T, 2.5, 0.0, 1.0, False), (T, 3.0, 0.0, 1.0, False), (T, 4.0, 0.3, 0.7, False), (T, 8.0, 0.0, 2.0, False),
        (T, 30.0, 0.0, 1.0, False), (T, 4.0, 0.2, 1.0, True),
        (GG, 0.5, 0.0, 1.0, False), (GG, 0.8, -0.1, 1.3, False), (GG, 1.5, 0.0, 1.0, False),
        (GG, 3.0, 0.2, 1.0, False), (GG, 0.5, 0.3, 1.0, True)]
MULTS = {b: (1e-4, 0.01, 0.3, 1.0, 3.0, 100.0) for b in range(1, 9)}
MULTS.update({10: (1e-4, 0.1, 1.0, 10.0), 12: (0.01, 1.0, 100.0), 16: (0.3, 3.0)})
LAWS12 = [LAWS[0], LAWS[2], LAWS[5], LAWS[6], LAWS[7], LAWS[10]]
LAWS16 = [LAWS[1], LAWS[6]]


def rms(law, shape, loc, scale):
    if law == T:
        return math.sqrt(loc * loc + scale * scale * shape / (shape - 2))
    return math.sqrt(loc * loc + scale * scale * math.exp(math.lgamma(3 / shape) - math.lgamma(1 / shape)))


def main():
    rows = []
    for bits, mults in MULTS.items():
        for law, shape, loc, scale, relu in (LAWS16 if bits == 16 else LAWS12 if bits == 12 else LAWS):
            r_b, r_t = (0, 2**bits - 1) if relu else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            for m in mults:
                s = m * 8 * rms(law, shape, loc, scale) / 2**bits
                v = mp_msqe(law, shape, loc, scale, relu, r_b, r_t, s, dps=32)
                rows.append([law, shape, loc, scale, relu, r_b, r_t, s, str(v)])
        print(bits, len(rows), flush=True)
    out = pathlib.Path(__file__).parent / "data" / "heavy_mpref.json"
    out.write_text(json.dumps(rows, indent=0) + "\n")


if __name__ == "__main__":
    main()
