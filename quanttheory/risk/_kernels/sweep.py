"""Numba kernel of the exact breakpoint sweep of the data optimum (private).

:func:`quanttheory.risk.data_search._exact_cluster` hands over the breakpoints of the
candidate s-bins sorted by (bin, position) and the exact sums ``L[:, j] = (sum e^2,
sum k e, sum k^2)`` at each bin's left edge (errors ``e = v - k s0`` about the centre
``s0``).  Each bin is swept left to right: between two breakpoints ``n MSE`` is the
quadratic ``L0 - 2 t L1 + t^2 L2`` in ``t = s - s0``, minimized exactly on the piece;
each breakpoint moves one point from index ``k + 1`` to ``k``.  Same arithmetic as
the NumPy sweep it replaces, with O(1) memory per piece instead of ~30 temporaries.

``mode`` 0 returns the smallest ``value + tol`` (the threshold); 1 counts the pieces
with ``value - tol <= thr``; 2 writes them.
"""

from __future__ import annotations

import numba
import numpy as np

# the piece minimum (same candidates and tie order as risk.data_search._qmin) and a breakpoint's
# changes of the three sums: those of the rows kernel's sweep
from .direct import _event_terms, _qmin


@numba.njit(cache=True)
def sweep_bins(jb, beta, vv, k, cj, edges, L, s0, gl, base3, rtol, mode, thr, out_s, out_v, out_t):
    """Sweep the candidate bins ``cj`` (ascending) over the sorted breakpoints; see the module doc."""
    ne = jb.shape[0]
    p = 0  # next event
    best = np.inf
    count = 0
    for ci in range(cj.shape[0]):
        j = cj[ci]
        while p < ne and jb[p] < j:
            p += 1
        c0 = L[0, j]
        c1 = L[1, j]
        c2 = L[2, j]
        a0 = 0.0
        a1 = 0.0
        a2 = 0.0
        lo_edge = edges[j]
        hi_edge = edges[j + 1]
        left = lo_edge
        while True:
            last = not (p < ne and jb[p] == j)
            if last:
                right = hi_edge
            else:
                right = min(max(beta[p], left), hi_edge)
            val, t = _qmin(c0, c1, c2, left - s0, right - s0)
            at = abs(t)
            mag = (abs(c0) + 2 * at * abs(c1) + at * at * abs(c2) + a0 + 2 * at * a1 + at * at * a2
                   + gl[0] + 2 * at * gl[1] + at * at * gl[2])
            # the constant base3 (points on a side with T = 0) is left out: added to the values it
            # would round away differences far below it (it is the same for every s)
            v = max(val, 0.0)
            tol = rtol * mag
            if mode == 0:
                if v + tol < best:
                    best = v + tol
            elif v - tol <= thr:
                if mode == 2:
                    # s0 + t can round outside the piece (to 0 when left << s0)
                    out_s[count] = min(max(s0 + t, left), right)
                    out_v[count] = v
                    out_t[count] = tol
                count += 1
            if last:
                break
            d0, d1, d2, _, _ = _event_terms(vv[p], k[p], s0)
            c0 += d0
            c1 += d1
            c2 += d2
            a0 += abs(d0)
            a1 += abs(d1)
            a2 += abs(d2)
            left = right
            p += 1
    return best, count
