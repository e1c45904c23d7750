"""Numba kernel of the SQR checker's fine-mesh derivative-jump test (private).

Formerly ``quanttheory._kernels.sqr_jumps``.

Same arithmetic as ``quanttheory.sqr.smoothness.FineJumpScan._update_numpy`` (the reference it is
tested against), fused into one pass so that no (rows x points x 4K) temporaries are built.
Inputs are validated by the caller: finite float64 arrays, ``P >= 2 m``.
"""

from __future__ import annotations

import numba
import numpy as np

_EPS = np.finfo(np.float64).eps


@numba.njit(cache=True)
def fine_jumps(V, n0, h, P, m, W, absw, noise0, S, cascade, away, best, flags, nf):  # pragma: no cover - compiled
    """Scan every core point of every row for one-sided jumps of orders 0..K-1.

    V     : (rows, ncore + 2P) values of phi; row r, core index k is at x = n0[r] + k h
    W     : (K, 2, 2, m) weights [order, side (+, -), step (h, 2h), node], scaled by side^j/(step h)^j
    absw  : (K,) sum |w_j| / h^j
    away  : points closer than this to an integer/half-integer are skipped (< 0: none skipped)
    best  : (K, 5) in/out: [score, x, left, right, threshold] of the most significant jump per order
    flags : (NF, 6) out: [x, order, score, left, right, threshold] of every significant jump, in scan
            order, while ``nf[0] < NF``; ``nf[0]`` counts all of them
    returns the number of points with any significant (pre-cascade) jump
    """
    K = W.shape[0]
    rows = V.shape[0]
    ncore = V.shape[1] - 2 * P
    reach = 2.0 * m * h
    nflag = 0
    ext = np.empty((K, 2))
    err = np.empty((K, 2))
    jump = np.empty(K)
    thr = np.empty(K)
    for r in range(rows):
        for k in range(ncore):
            x = n0[r] + k * h
            fr = abs(2.0 * x - np.rint(2.0 * x)) / 2.0
            if fr <= away:
                continue
            c = P + k
            for j in range(K):
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
            for j in range(K):
                dl = ext[j, 1]
                dr = ext[j, 0]
                jump[j] = abs(dl - dr)
                if j == 0:  # phi(x) itself against both limits
                    jump[0] = max(jump[0], max(abs(dl - V[r, c]), abs(dr - V[r, c])))
                thr[j] = (4.0 * (err[j, 0] + err[j, 1]) + 1e-6 * (abs(dl) + abs(dr))
                          + (noise0 * 8.0 + arg) * absw[j] + S * 1e-12)
                if jump[j] > thr[j]:
                    anyflag = True
            if anyflag:
                nflag += 1
                for j in range(K):
                    sig = jump[j] > thr[j]
                    if sig and j < K - 1:
                        sig = jump[j] > cascade * h * jump[j + 1]
                    if sig:
                        if nf[0] < flags.shape[0]:
                            q = nf[0]
                            flags[q, 0] = x
                            flags[q, 1] = j
                            flags[q, 2] = jump[j] / thr[j]
                            flags[q, 3] = ext[j, 1]
                            flags[q, 4] = ext[j, 0]
                            flags[q, 5] = thr[j]
                        nf[0] += 1
                        score = jump[j] / thr[j]
                        if score > best[j, 0]:
                            best[j, 0] = score
                            best[j, 1] = x
                            best[j, 2] = ext[j, 1]
                            best[j, 3] = ext[j, 0]
                            best[j, 4] = thr[j]
    return nflag
