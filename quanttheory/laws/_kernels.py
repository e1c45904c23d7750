"""Numba kernel of the data scan that validates an empirical law (private).

One pass over a 1-D contiguous float32/float64 chunk: finiteness, per-sign
extrema, counts, sum and sum of squares (see :func:`quanttheory.laws.atoms.scan`).
Compiled lazily on first call (``cache=True``); importing :mod:`quanttheory.laws`
does not import numba.
"""

from __future__ import annotations

import math

import numba
import numpy as np

BLOCK = 4096  # blocked-summation size; = quanttheory.risk._kernels.data.BLOCK (tested)


@numba.njit(cache=True)
def scan_chunk(x, st):
    """Accumulate chunk statistics into ``st`` (float64[10]).

    st[0] max v side 0, st[1] max v side 1, st[2] min v>0 side 0, st[3] min v>0 side 1,
    st[4] count side 0 (incl. zeros), st[5] count side 1, st[6] sum x**2, st[7] sum x.
    Returns -1, or the index of the first non-finite value (-2 if all are finite
    but ``x**2`` overflows).  Finiteness is checked per block through the sum of
    squares (NaN/inf propagate), the bad index is searched only on failure.
    """
    mx0 = st[0]
    mx1 = st[1]
    mn0 = st[2]
    mn1 = st[3]
    c0 = 0
    q_tot = 0.0
    l_tot = 0.0
    n = x.size
    inf = math.inf
    for b0 in range(0, n, BLOCK):
        b1 = min(n, b0 + BLOCK)
        q = 0.0
        lsum = 0.0
        for i in range(b0, b1):
            xi = np.float64(x[i])
            q += xi * xi
            lsum += xi
            mx0 = max(mx0, xi)
            mx1 = max(mx1, -xi)
            mn0 = min(mn0, xi if xi > 0.0 else inf)
            mn1 = min(mn1, -xi if xi < 0.0 else inf)
            c0 += xi >= 0.0
        if not math.isfinite(q):
            for i in range(b0, b1):
                if not math.isfinite(x[i]):
                    return i
            return -2
        q_tot += q
        l_tot += lsum
    st[0] = mx0
    st[1] = mx1
    st[2] = mn0
    st[3] = mn1
    st[4] += c0
    st[5] += n - c0
    st[6] += q_tot
    st[7] += l_tot
    return -1
