"""Private numba kernel of :mod:`quanttheory.risk.heavy_cert`: interval bounds of
``B(s) = 2 s sum_j c_j^2 p(c_j s)`` for the Student t (law 2) and generalized Gaussian (law 3)
densities (unimodal at ``mu``), compensated (Kahan) sums so the rounding stays ~2 ulp of the
sum whatever the number of boundaries (up to 2^16)."""

from __future__ import annotations

import math

import numba

LAW_T = 2


@numba.njit(cache=True)
def _p(law, shape, lnorm, mu, sig, x):
    z = (x - mu) / sig
    if law == LAW_T:
        return math.exp(lnorm - 0.5 * (shape + 1.0) * math.log1p(z * z / shape)) / sig
    return math.exp(lnorm - abs(z) ** shape) / sig


@numba.njit(cache=True)
def b_bounds(law, shape, lnorm, mu, sig, c, s1, s2, need_hi, lo_out, hi_out):
    """``lo_out[i] = 2 s1 sum c^2 min(p(c s1), p(c s2))``, ``hi_out[i] = 2 s2 sum c^2 max_{x in
    [c s1, c s2]} p(x)`` (0 when not ``need_hi``), over the boundary constants ``c`` (any sign)."""
    for i in range(s1.shape[0]):
        a = s1[i]
        b = s2[i]
        lo = 0.0
        lo_c = 0.0
        hi = 0.0
        hi_c = 0.0
        for j in range(c.shape[0]):
            cj = c[j]
            x1 = cj * a
            x2 = cj * b
            p1 = _p(law, shape, lnorm, mu, sig, x1)
            p2 = _p(law, shape, lnorm, mu, sig, x2)
            w = cj * cj
            y = w * min(p1, p2) - lo_c
            t = lo + y
            lo_c = (t - lo) - y
            lo = t
            if need_hi:
                xl = min(x1, x2)
                xh = max(x1, x2)
                if xl <= mu <= xh:
                    pm = _p(law, shape, lnorm, mu, sig, mu)
                else:
                    pm = max(p1, p2)
                y = w * pm - hi_c
                t = hi + y
                hi_c = (t - hi) - y
                hi = t
        lo_out[i] = 2.0 * a * lo
        hi_out[i] = 2.0 * b * hi
