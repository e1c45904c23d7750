"""Accuracy table of the fast path against the per-cell path and mpmath (markdown).

    PYTHONPATH=. /work/venv/bin/python benchmarks/accuracy_fastpath.py

Scales: 40 log-spaced points over 1e-4x..100x of 8 rms/2^b; bits 1, 2, 4, 8, 12, 16, 24;
signed and unsigned grids; Normal/Laplace, plain and ReLU, loc in {0, 0.7, -0.4}.
Per-cell reference where it has <= 20000 cells; mpmath (40 digits, tests/mpref.py) for
QSin/SinReQ at every 5th handled scale (MSQE in mpmath is O(2^b): see the tests).

Units: relative errors |value / reference - 1| (dimensionless), maxima over the
points counted in parentheses.  No timings: accuracy is deterministic, so one run
is the measurement (timings live in bench_fastpath.py, minimum of several runs).
"""

import math
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from mpref import mp_risk  # noqa: E402

from quanttheory.risk import fastpath as fp  # noqa: E402
from quanttheory.risk._kernels import cells  # noqa: E402
from quanttheory.risk.curve import _tables  # noqa: E402

ns, nodes, weights, amax = _tables()
REG = ["MSQE", "QSin", "SinReQ"]
stats = {}
for law in (0, 1):
    for relu in (False, True):
        for mu in (0.0, 0.7, -0.4):
            for bits in (1, 2, 4, 8, 12, 16, 24):
                for signed in (True, False):
                    r_b, r_t = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
                    sopt = 8 * math.sqrt(mu * mu + (1 if law == 0 else 2)) / 2**bits
                    sc = np.geomspace(1e-4 * sopt, 100 * sopt, 40)
                    for code in (0, 1, 2):
                        key = ("Normal" if law == 0 else "Laplace", relu, REG[code])
                        st = stats.setdefault(key, [0.0, 0, 0.0, 0, 0, 0])
                        r = fp.fast_expected_phi(law, mu, 1.0, relu, r_b, r_t, code, sc)
                        h = r.handled
                        st[4] += int(h.sum())
                        st[5] += h.size
                        ok = h & (fp.percell_cells(law, mu, 1.0, relu, r_b, r_t, code, sc) <= 2e4)
                        if ok.any():
                            ref = cells.curve_builtin(law, mu, 1.0, relu, r_b, r_t, code, sc[ok], ns, nodes,
                                                      weights, amax)
                            st[0] = max(st[0], float(np.max(np.abs(r.values[ok] / ref - 1))))
                            st[1] += int(ok.sum())
                        if code > 0:
                            for i in np.flatnonzero(h)[::5]:
                                ref = float(mp_risk(law, mu, 1.0, relu, r_b, r_t, REG[code].lower(), sc[i], dps=40))
                                st[2] = max(st[2], abs(r.values[i] / ref - 1))
                                st[3] += 1
print("| law | ReLU | regularizer | handled / points | max rel. err vs per-cell (n) | max rel. err vs mpmath (n) |")
print("|---|---|---|---|---|---|")
for (lname, relu, reg), (e1, n1, e2, n2, nh, nt) in stats.items():
    mp_col = f"{e2:.1e} ({n2})" if n2 else "see tests (MSQE mpmath is O(2^b))"
    print(f"| {lname} | {relu} | {reg} | {nh} / {nt} | {e1:.1e} ({n1}) | {mp_col} |")
