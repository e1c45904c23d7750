"""Convexity certificate of the real-offset MSE ``F(s, m)`` on a rectangle (private).

With codes ``k = 0..N``, thresholds ``t_k = m + (k + 1/2) s`` (``k = 0..N-1``), ``K`` the code
of ``xi`` and ``p`` the density of its continuous part, differentiating under the integral
(the boundary terms cancel at the mid-points, the threshold terms come from moving them)::

    dF/dm = -2 E[xi - m - K s],          dF/ds = -2 E[K (xi - m - K s)]
    H_mm = 2 (1      - s sum_k p(t_k))
    H_ms = 2 (E[K]   - s sum_k (k + 1/2) p(t_k))
    H_ss = 2 (E[K^2] - s sum_k (k + 1/2)^2 p(t_k))

with ``E[K] = sum_k P(xi > t_k)`` and ``E[K^2] = sum_k (2k + 1) P(xi > t_k)``.  On a box every
``t_k`` lies in an interval, ``P(xi > t)`` is monotone and the density's range over an
interval is known (unimodal laws), so each entry has interval bounds; the smallest eigenvalue
of a symmetric 2x2 matrix increases with both diagonal entries and decreases with ``|H_ms|``,
which gives a lower bound ``lambda`` of it over the box.  ``lambda > 0`` on every box of a
cover of a rectangle proves ``F`` strictly convex there (``F`` is C^1; a ReLU atom at 0 makes
it non-differentiable where a threshold crosses 0: such boxes fail).  Then for any point ``x``
of the rectangle that holds the global minimizer ``x*``:
``|x - x*| <= |grad F(x)| / lambda`` and ``F(x) - F(x*) <= |grad F(x)|^2 / (2 lambda)``.
"""

from __future__ import annotations

import math

import numpy as np

SQRT2PI = math.sqrt(2 * math.pi)


def _base_sf(law, mu, sig, x):
    from scipy.special import ndtr

    z = (np.asarray(x, dtype=float) - mu) / sig
    if law == 0:
        return ndtr(-z)
    return np.where(z > 0, 0.5 * np.exp(-np.maximum(z, 0.0)), 1 - 0.5 * np.exp(np.minimum(z, 0.0)))


def _sf(law, mu, sig, relu, t):
    """P(xi > t) (the ReLU atom sits at 0)."""
    s = _base_sf(law, mu, sig, t)
    if relu:
        s = np.where(np.asarray(t) < 0, 1.0, s)
    return s


def _dens(law, mu, sig, relu, x):
    x = np.asarray(x, dtype=float)
    z = (x - mu) / sig
    p = np.exp(-0.5 * z * z) / (sig * SQRT2PI) if law == 0 else np.exp(-np.abs(z)) / (2 * sig)
    if relu:
        p = np.where(x > 0, p, 0.0)
    return p


def _dens_range(law, mu, sig, relu, a, b):
    """(min, max) of the density over [a, b] (arrays)."""
    lo_a, hi_b = a, b
    if relu:
        lo_a = np.maximum(a, 0.0)
    peak = np.clip(mu, lo_a, np.maximum(hi_b, lo_a))
    pmax = np.where(hi_b > lo_a, _dens(law, mu, sig, False, peak), 0.0)
    if relu:
        pmax = np.where(b > 0, pmax, 0.0)
    pmin = np.minimum(_dens(law, mu, sig, relu, a), _dens(law, mu, sig, relu, b))
    if relu:
        pmin = np.where(a <= 0, 0.0, pmin)
    # rounding of exp: widen by a few ulps
    return pmin * (1 - 1e-14), pmax * (1 + 1e-14)


def lambda_lower(law, mu, sig, relu, p0, N, s1, s2, m1, m2):
    """Lower bound of the smallest Hessian eigenvalue of F over each box (arrays); -inf where unknown."""
    s1, s2, m1, m2 = (np.asarray(v, dtype=float)[:, None] for v in (s1, s2, m1, m2))
    kh = np.arange(N)[None, :] + 0.5
    tlo = m1 + kh * s1
    thi = m2 + kh * s2
    Qlo = _sf(law, mu, sig, relu, thi)
    Qhi = _sf(law, mu, sig, relu, tlo)
    pmin, pmax = _dens_range(law, mu, sig, relu, tlo, thi)
    EK_lo, EK_hi = Qlo.sum(1), Qhi.sum(1)
    EK2_lo = ((2 * kh) * Qlo).sum(1)
    s1, s2 = s1[:, 0], s2[:, 0]
    a = 2 * (1 - s2 * pmax.sum(1))
    c = 2 * (EK2_lo - s2 * (kh**2 * pmax).sum(1))
    b_lo = 2 * (EK_lo - s2 * (kh * pmax).sum(1))
    b_hi = 2 * (EK_hi - s1 * (kh * pmin).sum(1))
    B = np.maximum(np.abs(b_lo), np.abs(b_hi))
    lam = 0.5 * (a + c) - np.sqrt(0.25 * (a - c) ** 2 + B * B)
    # rounding of the sums (terms of size <= 2 N^2): a relative 1e-12 margin of the largest entry
    lam = lam - 1e-12 * (np.abs(a) + np.abs(c) + B)
    if relu and p0 > 0:
        crosses = np.any((tlo <= 0) & (thi >= 0), axis=1)
        lam = np.where(crosses, -np.inf, lam)
    return lam


def certify(law, mu, sig, relu, p0, N, s_a, s_b, m_a, m_b, budget=4096):
    """min lambda over a cover of [s_a, s_b] x [m_a, m_b] by boxes with lambda > 0, or None."""
    boxes = [(s_a, s_b, m_a, m_b)]
    lam_min = math.inf
    used = 0
    while boxes:
        arr = np.array(boxes)
        used += len(boxes)
        if used > budget:
            return None
        lam = lambda_lower(law, mu, sig, relu, p0, N, arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3])
        ok = lam > 0
        if ok.any():
            lam_min = min(lam_min, float(lam[ok].min()))
        nxt = []
        for (x1, x2, y1, y2), good in zip(boxes, ok):
            if good:
                continue
            if (x2 - x1) < 1e-9 * x2:
                return None
            xm, ym = 0.5 * (x1 + x2), 0.5 * (y1 + y2)
            nxt += [(x1, xm, y1, ym), (xm, x2, y1, ym), (x1, xm, ym, y2), (xm, x2, ym, y2)]
        boxes = nxt
    return lam_min


def _first_moment(law, mu, sig, relu, a, b, c):
    """int_a^b (x - c) p(x) dx over the continuous part (arrays; a <= b, +-inf allowed)."""
    from scipy.special import ndtr

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if relu:
        a = np.maximum(a, 0.0)
        b = np.maximum(b, a)
    if law == 0:
        al, be = (a - mu) / sig, (b - mu) / sig
        phi = lambda u: np.where(np.isfinite(u), np.exp(-0.5 * np.where(np.isfinite(u), u, 0) ** 2), 0) / SQRT2PI  # noqa: E731
        up = al > 0
        dP = np.where(up, ndtr(-al) - ndtr(-be), ndtr(be) - ndtr(al))
        return sig * (phi(al) - phi(be)) + (mu - c) * dP
    d = (c - mu) / sig
    out = np.zeros(np.broadcast(a, b, c).shape)
    # right of mu
    u0 = (np.maximum(a, mu) - mu) / sig
    u1 = (np.maximum(b, mu) - mu) / sig
    G = lambda u, t: np.where(np.isfinite(u), np.exp(-np.where(np.isfinite(u), u, 0)) * (np.where(np.isfinite(u), u, 0) + t + 1), 0)  # noqa: E731
    out = out + 0.5 * sig * (G(u0, -d) - G(u1, -d))
    # left of mu: x = mu - sig u, x - c = -sig (u + d)
    v0 = (mu - np.minimum(b, mu)) / sig
    v1 = (mu - np.minimum(a, mu)) / sig
    out = out - 0.5 * sig * (G(v0, d) - G(v1, d))
    return out


def gradient(law, mu, sig, relu, p0, N, s, m):
    """Exact ``(dF/ds, dF/dm)`` at ``(s, m)``."""
    k = np.arange(N + 1)
    L = m + k * s
    t = m + (np.arange(N) + 0.5) * s
    a = np.concatenate([[-np.inf], t])
    b = np.concatenate([t, [np.inf]])
    I = _first_moment(law, mu, sig, relu, a, b, L)
    if relu and p0 > 0:
        k0 = int(np.clip(np.rint((0.0 - m) / s), 0, N))
        I = I.copy()
        I[k0] += p0 * (0.0 - L[k0])
    return float(-2 * np.sum(k * I)), float(-2 * np.sum(I))


def hessian(law, mu, sig, relu, N, s, m):
    """Exact Hessian ``[[H_ss, H_sm], [H_sm, H_mm]]`` at ``(s, m)`` (no threshold on the ReLU atom)."""
    kh = np.arange(N) + 0.5
    t = m + kh * s
    Q = _sf(law, mu, sig, relu, t)
    p = _dens(law, mu, sig, relu, t)
    Hmm = 2 * (1 - s * p.sum())
    Hms = 2 * (Q.sum() - s * (kh * p).sum())
    Hss = 2 * ((2 * kh * Q).sum() - s * (kh**2 * p).sum())
    return np.array([[Hss, Hms], [Hms, Hmm]])


def gradient_many(law, mu, sig, relu, p0, N, s, m):
    """``(dF/ds, dF/dm)`` at many points (arrays), and a bound on their rounding error."""
    s = np.asarray(s, dtype=float)[:, None]
    m = np.asarray(m, dtype=float)[:, None]
    k = np.arange(N + 1)[None, :]
    L = m + k * s
    t = m + (np.arange(N)[None, :] + 0.5) * s
    B = s.shape[0]
    a = np.concatenate([np.full((B, 1), -np.inf), t], axis=1)
    b = np.concatenate([t, np.full((B, 1), np.inf)], axis=1)
    I = _first_moment(law, mu, sig, relu, a, b, L)
    if relu and p0 > 0:
        k0 = np.clip(np.rint((0.0 - m[:, 0]) / s[:, 0]), 0, N).astype(int)
        I[np.arange(B), k0] += p0 * (0.0 - L[np.arange(B), k0])
    gs = -2 * np.sum(k * I, axis=1)
    gm = -2 * np.sum(I, axis=1)
    # terms are bounded by sig + |mu - L|: rounding of a few ulps each
    mag = (sig + np.abs(mu - L)).sum(axis=1) * (N + 1)
    return gs, gm, 1e-13 * mag
