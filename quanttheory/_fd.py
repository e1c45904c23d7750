"""Exact one-sided finite-difference weights (private).

``one_sided_weights(m, k)`` returns rational weights ``w_1..w_m`` with
``sum_j w_j f(x + j h) / h**k = f^(k)(x) + O(h**(m - k))`` for nodes at
``j = 1..m`` (the point ``x`` itself is *excluded*, so the estimate is a true
one-sided limit even when ``f`` jumps at ``x``).  For nodes at ``-j`` multiply
by ``(-1)**k``.  Solved exactly over the rationals (no Vandermonde round-off).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from math import factorial

import numpy as np


@lru_cache(maxsize=None)
def one_sided_weights(m: int, k: int) -> tuple[float, ...]:
    """Weights of the order-``k`` derivative at 0 from nodes ``1..m`` (exact, as floats)."""
    if not 0 <= k < m:
        raise ValueError(f"need 0 <= k < m, got k={k}, m={m}")
    # Solve sum_j w_j j**p = k! [p == k] for p = 0..m-1 by Gauss-Jordan over Q.
    a = [[Fraction(j) ** p for j in range(1, m + 1)] + [Fraction(factorial(k) if p == k else 0)]
         for p in range(m)]
    for col in range(m):
        piv = next(r for r in range(col, m) if a[r][col] != 0)
        a[col], a[piv] = a[piv], a[col]
        pv = a[col][col]
        a[col] = [v / pv for v in a[col]]
        for r in range(m):
            if r != col and a[r][col] != 0:
                f = a[r][col]
                a[r] = [vr - f * vc for vr, vc in zip(a[r], a[col])]
    return tuple(float(a[j][m]) for j in range(m))


def weights_array(m: int, k: int) -> np.ndarray:
    return np.array(one_sided_weights(m, k))
