"""Baselines shared by the benchmark scripts (run as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import numpy as np


def sweep(w, bits=4, ncand=100, block=64):
    """Per-row ``ncand``-candidate NumPy sweep on a signed ``bits``-bit grid: candidate scales
    ``c * max|x| / T`` with ``c`` in ``linspace(0.3, 1, ncand)``, ``T = 2**(bits-1) - 1``; rows in
    blocks of ``block`` (memory ``block * ncand * row`` float64).  Returns ``(best_s, best_mse)``."""
    T = 2 ** (bits - 1) - 1
    lo = -(T + 1)
    c = np.linspace(0.3, 1.0, ncand)
    best_s = np.empty(w.shape[0])
    best_e = np.empty(w.shape[0])
    for i in range(0, w.shape[0], block):
        x = w[i:i + block].astype(np.float64)
        s = c[None, :] * (np.abs(x).max(axis=1, keepdims=True) / T)  # rows x cand
        q = np.clip(np.rint(x[:, None, :] / s[:, :, None]), lo, T) * s[:, :, None]
        e = ((x[:, None, :] - q) ** 2).mean(axis=2)
        j = e.argmin(axis=1)
        best_s[i:i + block] = s[np.arange(x.shape[0]), j]
        best_e[i:i + block] = e[np.arange(x.shape[0]), j]
    return best_s, best_e
