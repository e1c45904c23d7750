"""Numba kernel of the SQR checker's fine-mesh derivative-jump test (private).

Same arithmetic as ``quanttheory.sqr.smoothness.FineJumpScan._update_numpy`` (the reference it is tested
against), fused into one pass so that no (rows x points x 12) temporaries are built.
Inputs are validated by the caller: finite float64 arrays, ``P >= 2 m``.
"""

from __future__ import annotations

import numba
import numpy as np

_EPS = np.finfo(np.float64).eps


@numba.njit(cache=True)
def fine_jumps(V, n0, h, P, m, W, absw, noise0, S, cascade, best):  # pragma: no cover - compiled
    """Scan every core point of every row for one-sided jumps of orders 0..2.

    V     : (rows, ncore + 2P) values of phi; row r, core index k is at x = n0[r] + k h
    W     : (3, 2, 2, m) weights [order, side (+, -), step (h, 2h), node], scaled by side^j/(step h)^j
    absw  : (3,) sum |w_j| / h^j
    best  : (3, 5) in/out: [score, x, left, right, threshold] of the most significant jump per order
    returns the number of points with any significant (pre-cascade) jump
    """
    rows = V.shape[0]
    ncore = V.shape[1] - 2 * P
    reach = 2.0 * m * h
    away_lim = (2 * m + 1) * h
    nflag = 0
    ext = np.empty((3, 2))
    err = np.empty((3, 2))
    jump = np.empty(3)
    thr = np.empty(3)
    for r in range(rows):
        for k in range(ncore):
            x = n0[r] + k * h
            fr = abs(2.0 * x - np.rint(2.0 * x)) / 2.0
            if fr <= away_lim:
                continue
            c = P + k
            for j in range(3):
                p = m - j
                for s in range(2):
                    sg = 1 if s == 0 else -1
                    dh = 0.0
                    d2 = 0.0
                    for t in range(m):
                        dh += W[j, s, 0, t] * V[r, c + sg * (t + 1)]
                        d2 += W[j, s, 1, t] * V[r, c + sg * 2 * (t + 1)]
                    ext[j, s] = dh + (dh - d2) / (2.0 ** p - 1.0)
                    err[j, s] = abs(dh - d2)
            slope = max(abs(ext[1, 0]), abs(ext[1, 1])) + reach * max(abs(ext[2, 0]), abs(ext[2, 1]))
            arg = _EPS * (abs(x) + 1.0) * slope
            anyflag = False
            for j in range(3):
                dl = ext[j, 1]
                dr = ext[j, 0]
                jump[j] = abs(dl - dr)
                thr[j] = (4.0 * (err[j, 0] + err[j, 1]) + 1e-6 * (abs(dl) + abs(dr))
                          + (noise0 * 8.0 + arg) * absw[j] + S * 1e-12)
                if jump[j] > thr[j]:
                    anyflag = True
            if anyflag:
                nflag += 1
                for j in range(3):
                    sig = jump[j] > thr[j]
                    if sig and j < 2:
                        sig = jump[j] > cascade * h * jump[j + 1]
                    if sig:
                        score = jump[j] / thr[j]
                        if score > best[j, 0]:
                            best[j, 0] = score
                            best[j, 1] = x
                            best[j, 2] = ext[j, 1]
                            best[j, 3] = ext[j, 0]
                            best[j, 4] = thr[j]
    return nflag
