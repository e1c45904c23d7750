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


def _cdf(law, mu, sig, relu, t):
    """P(xi <= t) without cancellation in the lower tail (continuous base law symmetric about mu)."""
    c = _base_sf(law, mu, sig, 2 * mu - np.asarray(t, dtype=float))
    if relu:
        c = np.where(np.asarray(t) < 0, 0.0, c)
    return c


def zp_gradient_many(law, mu, sig, relu, p0, N, z, s):
    """``dF_z/ds`` of ``F_z(s) = F(s, -s z)`` (zero-point form) at many ``(z, s)`` and a rounding bound.

    ``dF_z/ds = -2 sum_k (k - z) int_{cell k} (x - s (k - z)) dP(x)``."""
    s = np.asarray(s, dtype=float)[:, None]
    j = np.arange(N + 1)[None, :] - np.asarray(z, dtype=float)[:, None]
    L = j * s
    t = (j[:, :-1] + 0.5) * s
    B = s.shape[0]
    a = np.concatenate([np.full((B, 1), -np.inf), t], axis=1)
    b = np.concatenate([t, np.full((B, 1), np.inf)], axis=1)
    I = _first_moment(law, mu, sig, relu, a, b, L)
    if relu and p0 > 0:
        k0 = np.clip(np.rint(j[:, 0] * -1.0), 0, N).astype(int)  # the code of 0 is z
        I[np.arange(B), k0] += p0 * (0.0 - L[np.arange(B), k0])
    g = -2 * np.sum(j * I, axis=1)
    mag = (sig + np.abs(mu - L)).sum(axis=1) * (N + 1)
    return g, 1e-13 * mag


def zp_curvature_lower(law, mu, sig, relu, N, z, s1, s2):
    """Lower bound of ``F_z''(s)`` over ``s in [s1, s2]`` (arrays; ``0 < s1 <= s2``).

    ``F_z'' = 2 (E[J^2] - s sum_k j_k^2 p(s j_k))`` with ``J = K - z`` the signed code and
    ``j_k = k - z + 1/2`` (thresholds ``s j_k`` never cross 0, so a ReLU atom adds no kink);
    ``E[J^2] = sum_{j_k < 0} 2|j_k| P(xi <= s j_k) + sum_{j_k > 0} 2 j_k P(xi > s j_k)`` decreases
    in ``s`` (its lower bound is its value at ``s2``); the density term is at most
    ``s2 sum_k j_k^2 max_{[s1, s2] j_k} p``."""
    s1 = np.asarray(s1, dtype=float)[:, None]
    s2 = np.asarray(s2, dtype=float)[:, None]
    jk = np.arange(N)[None, :] + 0.5 - np.asarray(z, dtype=float)[:, None]
    t2 = s2 * jk
    neg = jk < 0
    P = np.where(neg, _cdf(law, mu, sig, relu, t2), _sf(law, mu, sig, relu, t2))
    EJ2 = (2 * np.abs(jk) * P).sum(1)
    ta, tb = np.minimum(s1 * jk, t2), np.maximum(s1 * jk, t2)
    _, pmax = _dens_range(law, mu, sig, relu, ta, tb)
    D = s2[:, 0] * (jk * jk * pmax).sum(1)
    lam = 2 * (EJ2 * (1 - 1e-12) - D * (1 + 1e-12))
    return lam - 1e-13 * (EJ2 + D)


_ZP_KERNEL = None


def _zp_kernel():
    """Numba kernel of (F_z', its rounding bound, lower bound of F_z'') on boxes (compiled lazily).

    Same formulas as :func:`zp_gradient_many` and :func:`zp_curvature_lower`, one box per
    iteration (kept in this file: the numba cache does not track callees in other files)."""
    global _ZP_KERNEL
    if _ZP_KERNEL is not None:
        return _ZP_KERNEL
    import numba

    S2 = math.sqrt(2.0)
    SP = math.sqrt(2 * math.pi)

    @numba.njit(cache=True)
    def ndtr(x):
        return 0.5 * math.erfc(-x / S2)

    @numba.njit(cache=True)
    def sf(law, mu, sig, relu, t):
        if relu and t < 0:
            return 1.0
        u = (t - mu) / sig
        if law == 0:
            return ndtr(-u)
        return 0.5 * math.exp(-u) if u > 0 else 1.0 - 0.5 * math.exp(u)

    @numba.njit(cache=True)
    def cdf(law, mu, sig, relu, t):
        if relu and t < 0:
            return 0.0
        u = (t - mu) / sig
        if law == 0:
            return ndtr(u)
        return 0.5 * math.exp(u) if u < 0 else 1.0 - 0.5 * math.exp(-u)

    @numba.njit(cache=True)
    def dens(law, mu, sig, relu, x):
        if relu and not x > 0:
            return 0.0
        u = (x - mu) / sig
        if law == 0:
            return math.exp(-0.5 * u * u) / (sig * SP)
        return math.exp(-abs(u)) / (2 * sig)

    @numba.njit(cache=True)
    def densmax(law, mu, sig, relu, a, b):
        lo = a
        if relu:
            if not b > 0:
                return 0.0
            lo = max(a, 0.0)
        pk = min(max(mu, lo), max(b, lo))
        if not b > lo:
            return 0.0
        return dens(law, mu, sig, False, pk) * (1 + 1e-14)

    @numba.njit(cache=True)
    def G(u, t):
        if math.isinf(u):
            return 0.0
        return math.exp(-u) * (u + t + 1)

    @numba.njit(cache=True)
    def phi(u):
        if math.isinf(u):
            return 0.0
        return math.exp(-0.5 * u * u) / SP

    @numba.njit(cache=True)
    def first_moment(law, mu, sig, relu, a, b, c):
        if relu:
            a = max(a, 0.0)
            b = max(b, a)
        if law == 0:
            al = (a - mu) / sig
            be = (b - mu) / sig
            if al > 0:
                dP = ndtr(-al) - ndtr(-be)
            else:
                dP = ndtr(be) - ndtr(al)
            return sig * (phi(al) - phi(be)) + (mu - c) * dP
        d = (c - mu) / sig
        u0 = (max(a, mu) - mu) / sig
        u1 = (max(b, mu) - mu) / sig
        out = 0.5 * sig * (G(u0, -d) - G(u1, -d))
        v0 = (mu - min(b, mu)) / sig
        v1 = (mu - min(a, mu)) / sig
        return out - 0.5 * sig * (G(v0, d) - G(v1, d))

    @numba.njit(cache=True)
    def kern(law, mu, sig, relu, p0, N, z, s1, s2, g, ge, lam):
        for i in range(z.shape[0]):
            zi = z[i]
            c = 0.5 * (s1[i] + s2[i])
            acc = 0.0
            mag = 0.0
            # Normal: boundary quantities shared by adjacent cells (u, phi, upper tail Q for u > 0,
            # lower tail P for u <= 0), the same formula as first_moment
            ua = -math.inf
            pha = 0.0
            Pa = 0.0
            Qa = 1.0
            for k in range(N + 1):
                j = k - zi
                L = j * c
                a = -math.inf if k == 0 else (j - 0.5) * c
                b = math.inf if k == N else (j + 0.5) * c
                if law == 0 and not relu:
                    ub = (b - mu) / sig
                    phb = phi(ub)
                    if ub > 0:
                        Qb = ndtr(-ub)
                        if ua > 0:
                            dP = Qa - Qb
                        else:
                            dP = ndtr(ub) - Pa
                        Pb = 1.0 - Qb
                    else:
                        Pb = ndtr(ub)
                        Qb = 1.0 - Pb
                        dP = Pb - Pa
                    I = sig * (pha - phb) + (mu - L) * dP
                    ua, pha, Pa, Qa = ub, phb, Pb, Qb
                else:
                    I = first_moment(law, mu, sig, relu, a, b, L)
                if relu and p0 > 0 and k == min(max(zi, 0), N):
                    I += p0 * (0.0 - L)
                acc += j * I
                mag += sig + abs(mu - L)
            g[i] = -2 * acc
            ge[i] = 1e-13 * mag * (N + 1)
            EJ2 = 0.0
            D = 0.0
            for k in range(N):
                jk = k + 0.5 - zi
                t2 = s2[i] * jk
                t1 = s1[i] * jk
                if jk < 0:
                    EJ2 += 2 * (-jk) * cdf(law, mu, sig, relu, t2)
                    D += jk * jk * densmax(law, mu, sig, relu, t2, t1)
                else:
                    EJ2 += 2 * jk * sf(law, mu, sig, relu, t2)
                    D += jk * jk * densmax(law, mu, sig, relu, t1, t2)
            D *= s2[i]
            lam[i] = 2 * (EJ2 * (1 - 1e-12) - D * (1 + 1e-12)) - 1e-13 * (EJ2 + D)

    _ZP_KERNEL = kern
    return kern


def zp_taylor_terms(law, mu, sig, relu, p0, N, z, s1, s2):
    """(F_z'(c), rounding bound, lower bound of F_z'' on [s1, s2]) at the centres c (numba)."""
    z = np.ascontiguousarray(z, dtype=np.int64)
    s1 = np.ascontiguousarray(s1, dtype=np.float64)
    s2 = np.ascontiguousarray(s2, dtype=np.float64)
    g, ge, lam = np.empty(z.size), np.empty(z.size), np.empty(z.size)
    _zp_kernel()(int(law), float(mu), float(sig), bool(relu), float(p0), int(N), z, s1, s2, g, ge, lam)
    return g, ge, lam


# ---------------------------------------------------------------------------------------------
# Second-order interval bound of the Hessian in (scale, centre) coordinates (fast offset search)
# ---------------------------------------------------------------------------------------------
#
# With the centre c = m + s N / 2, thresholds t_k = c + v_k s (v_k = k + 1/2 - N/2) and
# A_a = s sum_k v_k^a p(t_k), B_a = sum_k v_k^a P(xi > t_k), the Hessian of F(s, c) is
#
#     H_cc = 2 (1 - A_0),   H_sc = 2 (B_0 - N/2 - A_1),   H_ss = 2 (N^2/4 + 2 B_1 - A_2)
#
# (for the continuous part of a ReLU law alone, 1 becomes its mass 1 - p0 in all three)
# (J^T H J of the (s, m) Hessian above, J = [[1, 0], [-N/2, 1]]).  On a box with centre x0 and
# half-widths (hs, hc), H(x) = H(x0) + DH(x0)[x - x0] + R with the exact first-order term
# (dA_a = ds (sum v^a p + s sum v^(a+1) p') + dc s sum v^a p',  dB_a = -ds sum v^(a+1) p - dc sum v^a p)
# and |R| bounded by half the sup of the second derivatives along the segment
# (|A_a''| <= 2 hs sum |v|^a |p'| D_k + s2 sum |v|^a |p''| D_k^2, |B_a''| <= sum |v|^a |p'| D_k^2,
# D_k = hc + |v_k| hs, |p'|, |p''| maximized over each threshold's interval).  The first-order
# term keeps the cancellation of sum_k s p'(t_k) ~ int p' = 0 that a plain interval bound of the
# densities loses; lambda_min of a matrix affine in x is concave, so its minimum over the box is
# at a corner.  A threshold whose interval holds the Laplace kink at mu keeps the smooth terms (one-sided
# p'(t0); one-sided maxima of |p'|, |p''|, so the B_a remainder is unchanged: Q is C^1 with Lipschitz Q')
# plus a first-order kink term: along the segment p' jumps by at most J = 2 p(mu) / sig, and only on the
# part past the kink (length <= D_k - |t0_k - mu|), so |A_a remainder| gains s2 |v|^a J (D_k - |t0_k - mu|)^+;
# a threshold interval holding the ReLU atom at 0 gives -inf (F is not C^2 there).
# The bound is returned for the scaled coordinates y = (kappa s, c), kappa = max(N / 2, 1/2).


def _abs_dens_derivs_max(law, mu, sig, a, b):
    """(max |p'|, max |p''|) of the base density over [a, b] (arrays, no kink inside for Laplace)."""
    ua, ub = (a - mu) / sig, (b - mu) / sig
    if law == 0:
        def f1(u):
            return np.abs(u) * np.exp(-0.5 * u * u)

        def f2(u):
            return np.abs(u * u - 1) * np.exp(-0.5 * u * u)

        m1 = np.maximum(f1(ua), f1(ub))
        m1 = np.where(((ua <= 1) & (ub >= 1)) | ((ua <= -1) & (ub >= -1)), math.exp(-0.5), m1)
        m2 = np.maximum(f2(ua), f2(ub))
        r3 = math.sqrt(3.0)
        m2 = np.where(((ua <= r3) & (ub >= r3)) | ((ua <= -r3) & (ub >= -r3)), np.maximum(m2, 2 * math.exp(-1.5)), m2)
        m2 = np.where((ua <= 0) & (ub >= 0), 1.0, m2)
        return m1 / (SQRT2PI * sig**2) * (1 + 1e-13), m2 / (SQRT2PI * sig**3) * (1 + 1e-13)
    dmin = np.where((ua <= 0) & (ub >= 0), 0.0, np.minimum(np.abs(ua), np.abs(ub)))
    pm = np.exp(-dmin) / (2 * sig) * (1 + 1e-13)
    return pm / sig, pm / sig**2


def anchor_kappa(N, anchor=None):
    """(anchor ``a``, scaling ``kappa``) of the coordinates ``y = (kappa s, c)``, ``c = m + a s`` (the level
    ``a`` steps above the lowest; default ``a = N / 2``, the grid's centre); ``kappa = max(a, N - a, 1/2)``:
    a unit move of either coordinate moves the farthest level by about one unit."""
    a = N / 2 if anchor is None else float(anchor)
    if not 0.0 <= a <= N:
        raise ValueError(f"anchor must lie in [0, N] = [0, {N}], got {a}")
    return a, max(a, N - a, 0.5)


def lambda_lower_sc(law, mu, sig, relu, p0, N, s1, s2, c1, c2, anchor=None):
    """Lower bound of the smallest eigenvalue of the Hessian of ``F`` in the scaled (scale, anchor)
    coordinates ``y = (kappa s, c)`` (:func:`anchor_kappa`; default: the centre ``c = m + s N / 2``,
    ``kappa = max(N/2, 1/2)``) over each box ``[s1, s2] x [c1, c2]``
    (arrays, ``s1 > 0``); ``-inf`` where F is not C^2 on the box (a threshold on the ReLU atom)."""
    return hessian_bounds_sc(law, mu, sig, relu, p0, N, s1, s2, c1, c2, anchor=anchor)[0]


def hessian_bounds_sc(law, mu, sig, relu, p0, N, s1, s2, c1, c2, cont_only=False, anchor=None):
    """Coordinates ``(s, c)`` with ``c = m + a s`` (``a`` = ``anchor``, default ``N / 2``): thresholds
    ``t_k = c + v_k s``, ``v_k = k + 1/2 - a``; ``H_cc = 2 (M - A_0)``, ``H_sc = 2 (B_0 - a M - A_1)``,
    ``H_ss = 2 (a^2 M + 2 B_1 - A_2)`` (``M`` the mass, 1 or ``1 - p0``; ``J^T H J`` with
    ``J = [[1, 0], [-a, 1]]``).

    ``cont_only`` (ReLU laws): the bounds for the continuous part ``F_cont = F - p0 dist(0, levels)^2``
    only (mass ``1 - p0``, ``Q`` its survival function), which is C^1 with a bounded Hessian even where a
    threshold crosses the atom (such thresholds get the zero-order interval term instead of ``-inf``).

    ``(lam, H0, U)`` on each box (scaled coordinates ``y = (kappa s, c)``): ``lam`` as in
    :func:`lambda_lower_sc`; ``H0 = (h_ss, h_sc, h_cc)`` the exact Hessian at the box centre and
    ``U = (u_ss, u_sc, u_cc)`` elementwise bounds of ``|H(y) - H0|`` over the box (first-order term at its
    largest plus the remainder; ``inf`` where F is not C^2 on the box)."""
    s1, s2, c1, c2 = (np.asarray(x, dtype=float) for x in (s1, s2, c1, c2))
    an, kap = anchor_kappa(N, anchor)
    s0, c0 = 0.5 * (s1 + s2), 0.5 * (c1 + c2)
    hs, hc = 0.5 * (s2 - s1), 0.5 * (c2 - c1)
    v = (np.arange(N) + 0.5 - an)[None, :]
    av = np.abs(v)
    t0 = c0[:, None] + v * s0[:, None]
    D = hc[:, None] + av * hs[:, None]
    ta, tb = t0 - D, t0 + D
    # value at the centre (every threshold)
    cont = bool(cont_only and relu)
    if cont:
        def sfun(t):  # survival of the continuous part: P(xi > max(t, 0), xi > 0)
            return _base_sf(law, mu, sig, np.maximum(t, 0.0))
        mass = 1.0 - p0
    else:
        def sfun(t):
            return _sf(law, mu, sig, relu, t)
        mass = 1.0
    P = _dens(law, mu, sig, relu, t0)
    Q = sfun(t0)
    sc = s0[:, None]
    A0, A1, A2 = (sc * P).sum(1), (sc * v * P).sum(1), (sc * v * v * P).sum(1)
    B0, B1 = Q.sum(1), (v * Q).sum(1)
    Hcc = 2 * (mass - A0)
    Hsc = 2 * (B0 - an * mass - A1)
    Hss = 2 * (an * an * mass + 2 * B1 - A2)
    # smooth thresholds: exact first-order term and second-order remainder; rough: zero-order interval
    rough = np.zeros(t0.shape, dtype=bool)
    kink = np.zeros(t0.shape, dtype=bool)
    if law == 1:
        kink = (ta <= mu) & (tb >= mu)
    bad = np.zeros(s0.shape, dtype=bool)
    if relu:
        cross = (ta <= 0) & (tb >= 0)
        if cont:  # the density jumps at 0: zero-order interval term, still a valid bound
            rough |= cross
        else:
            bad = np.any(cross, axis=1)
        left = tb < 0  # p = 0, Q constant on the whole interval: constant terms
    sm = ~rough
    # Laplace kink at mu inside a threshold's interval: p is continuous there and only p' jumps (by at most
    # J = 2 p(mu) / sig), on the part of the segment past the kink (length <= D - |t0 - mu|): the smooth
    # terms (one-sided p' at t0, one-sided maxima of |p'|, |p''|) plus s2 |v|^a J (D - |t0 - mu|)^+ per A_a
    jx = np.where(kink & sm, (2.0 * _dens(law, mu, sig, False, np.full(1, mu))[0] / sig)
                  * np.maximum(D - np.abs(t0 - mu), 0.0) * (1 + 1e-13), 0.0)
    z = (t0 - mu) / sig
    if law == 0:
        P1 = -z * P / sig
    else:
        P1 = -np.sign(z) * P / sig
    if relu:
        P1 = np.where(left, 0.0, P1)
    Ps, P1s = np.where(sm, P, 0.0), np.where(sm, P1, 0.0)
    # dA_a = ds * a_s[a] + dc * a_c[a],  dB_a = ds * b_s[a] + dc * b_c[a]
    def sv(x, a):
        return (x * v**a).sum(1)

    a_s = [sv(Ps, a) + s0 * sv(P1s, a + 1) for a in range(3)]
    a_c = [s0 * sv(P1s, a) for a in range(3)]
    b_s = [-sv(Ps, a + 1) for a in range(2)]
    b_c = [-sv(Ps, a) for a in range(2)]
    # linear terms of the entries: dH = ds * Ls + dc * Lc
    Ls = {"cc": -2 * a_s[0], "sc": 2 * (b_s[0] - a_s[1]), "ss": 2 * (2 * b_s[1] - a_s[2])}
    Lc = {"cc": -2 * a_c[0], "sc": 2 * (b_c[0] - a_c[1]), "ss": 2 * (2 * b_c[1] - a_c[2])}
    # remainder bounds
    la, lb_ = ta, tb
    if relu:
        la = np.maximum(ta, 0.0)
        lb_ = np.maximum(tb, la)
    d1, d2 = _abs_dens_derivs_max(law, mu, sig, la, lb_)
    if relu:
        d1 = np.where(left, 0.0, d1)
        d2 = np.where(left, 0.0, d2)
    d1, d2 = np.where(sm, d1, 0.0), np.where(sm, d2, 0.0)
    Abnd = [2 * hs * (av**a * d1 * D).sum(1) + s2 * (av**a * d2 * D * D).sum(1) + 2 * s2 * (av**a * jx).sum(1)
            for a in range(3)]
    Bbnd = [(av**a * d1 * D * D).sum(1) for a in range(2)]
    Rcc = Abnd[0]
    Rsc = Bbnd[0] + Abnd[1]
    Rss = 2 * Bbnd[1] + Abnd[2]
    if np.any(rough):
        pmin, pmax = _dens_range(law, mu, sig, relu, ta, tb)
        Qlo, Qhi = sfun(tb), sfun(ta)
        def zvar(val0, lo, hi):  # |x - val0| for x in [lo, hi]
            return np.where(rough, np.maximum(np.abs(hi - val0), np.abs(val0 - lo)), 0.0)
        # s v^a p in [s1, s2] x v^a [pmin, pmax] (products of intervals; v^a >= 0 for a even)
        for a in range(3):
            w = v**a
            cand = np.stack([s1[:, None] * w * pmin, s1[:, None] * w * pmax, s2[:, None] * w * pmin,
                             s2[:, None] * w * pmax])
            var = zvar(sc * w * P, cand.min(0), cand.max(0)).sum(1)
            if a == 0:
                Rcc = Rcc + 2 * var
            elif a == 1:
                Rsc = Rsc + 2 * var
            else:
                Rss = Rss + 2 * var
        for a in range(2):
            w = v**a
            lo_, hi_ = np.minimum(w * Qlo, w * Qhi), np.maximum(w * Qlo, w * Qhi)
            var = zvar(w * Q, lo_, hi_).sum(1)
            if a == 0:
                Rsc = Rsc + 2 * var
            else:
                Rss = Rss + 4 * var
    lam = np.full(s0.shape, np.inf)
    for es in (-1.0, 1.0):
        for ec in (-1.0, 1.0):
            ds, dc = es * hs, ec * hc
            a_ = (Hss + ds * Ls["ss"] + dc * Lc["ss"]) / kap**2
            b_ = (Hsc + ds * Ls["sc"] + dc * Lc["sc"]) / kap
            c_ = Hcc + ds * Ls["cc"] + dc * Lc["cc"]
            lam = np.minimum(lam, 0.5 * (a_ + c_) - np.sqrt(0.25 * (a_ - c_) ** 2 + b_ * b_))
    Rn = np.maximum(Rss / kap**2, Rcc) + Rsc / kap
    # rounding of the sums (terms up to N^2 / kappa^2 ~ 4 in the scaled entries)
    mag = (np.abs(Hss) + N * N) / kap**2 + np.abs(Hsc) / kap + np.abs(Hcc) + 2.0
    rnd = 1e-12 * mag * max(N, 1)
    lam = lam - Rn - rnd
    lam = np.where(bad, -np.inf, lam)
    H0 = (Hss / kap**2, Hsc / kap, Hcc)
    U = tuple(np.where(bad, np.inf, (hs * np.abs(Ls[k]) + hc * np.abs(Lc[k]) + R) / sc_ + rnd)
              for k, R, sc_ in (("ss", Rss, kap**2), ("sc", Rsc, kap), ("cc", Rcc, 1.0)))
    return lam, H0, U


# ---------------------------------------------------------------------------------------------
# MSE and its gradient at grid points (s, m), one pass over the cells (fast offset search)
# ---------------------------------------------------------------------------------------------

_PT_KERNEL = None
_PT_ROW = None


def _pt_kernel():
    """Numba kernel: per row ``(s, m)``, the MSE ``F = sum_k int_cell_k (x - L_k)^2 dP`` with its rounding
    bound and the exact gradient ``(dF/ds, dF/dm) = (-2 sum_k k I_k, -2 sum_k I_k)``,
    ``I_k = int_cell_k (x - L_k) dP`` (compiled lazily; all callees in this file).

    Cells ``[t_(k-1), t_k]`` (``t_k = m + (k + 1/2) s``, ``t_(-1) = -inf``, ``t_N = inf``), clipped to the
    window ``[mu - reach, mu + reach]`` (and to ``x > 0`` for ReLU laws; the atom adds
    ``p0 dist(0, levels)^2`` and ``p0 (0 - L_k0)`` to ``I_k0``, ``k0 = clip(rint(-m / s), 0, N)``).
    Normal pieces: the closed form of ``_kernels._normal_piece`` / :func:`_first_moment`, the tail
    ``0.5 erfc(|u| / sqrt 2)`` and ``phi(u)`` at each cell end computed once and shared by the two
    cells that meet there; Laplace pieces: the closed forms of ``_kernels._laplace_piece`` and
    :func:`_first_moment`.  Error bound of the value: the same per-piece bound as ``union_dist_sq``;
    of the gradient: ``1e-13 (N + 1) sum_k (sig + |mu - L_k|)`` as :func:`gradient_many`."""
    global _PT_KERNEL
    if _PT_KERNEL is not None:
        return _PT_KERNEL
    import numba

    EPS = 2.0**-52
    IS2 = 1.0 / math.sqrt(2.0)
    ISP = 1.0 / math.sqrt(2.0 * math.pi)

    @numba.njit(cache=True)
    def lapG2(u, t):
        return math.exp(-u) * (t * t + 2.0 * t + 2.0)

    @numba.njit(cache=True)
    def lapG1(u, t):
        return math.exp(-u) * (u + t + 1.0)

    @numba.njit(cache=True)
    def lap_piece(a, b, c, mu, sig):
        """(value, error, first moment) of int_a^b (x - c)^k Laplace(mu, sig), k = 2, 1 (finite a < b)."""
        d = (c - mu) / sig
        val = 0.0
        mag = 0.0
        fm = 0.0
        if b > mu:
            u0 = (max(a, mu) - mu) / sig
            u1 = (b - mu) / sig
            g0 = lapG2(u0, u0 - d)
            g1 = lapG2(u1, u1 - d)
            val += g0 - g1
            mag += abs(g0) + abs(g1)
            fm += lapG1(u0, -d) - lapG1(u1, -d)
        if a < mu:
            u0 = (mu - min(b, mu)) / sig
            u1 = (mu - a) / sig
            g0 = lapG2(u0, u0 + d)
            g1 = lapG2(u1, u1 + d)
            val += g0 - g1
            mag += abs(g0) + abs(g1)
            fm -= lapG1(u0, d) - lapG1(u1, d)
        amp = 4.0 + abs(d) + abs(a - mu) / sig + abs(b - mu) / sig
        return 0.5 * sig * sig * val, 16.0 * EPS * amp * 0.5 * sig * sig * mag, 0.5 * sig * fm

    @numba.njit(cache=True)
    def row(law, mu, sig, relu, p0, lo_w, hi_w, N, si, mi):
        """(F, err, dF/ds, dF/dm, gradient err) of one point."""
        v = 0.0
        e = 0.0
        gs = 0.0
        gm = 0.0
        mag = 0.0
        xc = math.nan  # cached cell end: x, its tail 0.5 erfc(|u|/sqrt2) and phi(u)
        Ec = 0.0
        pc = 0.0
        for k in range(N + 1):
            L = mi + k * si
            mag += sig + abs(mu - L)
            a = lo_w if k == 0 else max(mi + (k - 0.5) * si, lo_w)
            b = hi_w if k == N else min(mi + (k + 0.5) * si, hi_w)
            if not b > a:
                continue
            I = 0.0
            if law == 0:
                al = (a - mu) / sig
                be = (b - mu) / sig
                d = (L - mu) / sig
                if a == xc:
                    Ea = Ec
                    pa_ = pc
                else:
                    Ea = 0.5 * math.erfc(abs(al) * IS2)
                    pa_ = math.exp(-0.5 * al * al) * ISP
                Eb = 0.5 * math.erfc(abs(be) * IS2)
                pb_ = math.exp(-0.5 * be * be) * ISP
                xc = b
                Ec = Eb
                pc = pb_
                if al > 0.0:
                    pa = Ea
                    pb = Eb
                    dP = pa - pb
                else:
                    pa = Ea
                    pb = 1.0 - Eb if be > 0.0 else Eb
                    dP = pb - pa
                fa = (al - 2.0 * d) * pa_
                fb = (be - 2.0 * d) * pb_
                v += sig * sig * ((1.0 + d * d) * dP + fa - fb)
                amp = 2.0 + al * al + be * be + d * d
                e += 16.0 * EPS * amp * sig * sig * ((1.0 + d * d) * (abs(pa) + abs(pb)) + abs(fa) + abs(fb))
                I = sig * (pa_ - pb_) + (mu - L) * dP
            else:
                pv, pe, I = lap_piece(a, b, L, mu, sig)
                v += pv
                e += pe
            gs += k * I
            gm += I
        if relu and p0 > 0.0:
            k0 = min(max(round(-mi / si), 0.0), float(N))
            L0 = mi + k0 * si
            # the atom's distance to the levels: the nearest level to 0 (levels are m + k s, k in 0..N)
            v += p0 * L0 * L0
            gs += k0 * p0 * (0.0 - L0)
            gm += p0 * (0.0 - L0)
        return v, e + 1e-300, -2.0 * gs, -2.0 * gm, 1e-13 * mag * (N + 1)

    @numba.njit(cache=True)
    def kern(law, mu, sig, relu, p0, reach, N, s, m, v_out, e_out, gs_out, gm_out, ge_out):
        lo_w = mu - reach
        hi_w = mu + reach
        if relu and lo_w < 0.0:
            lo_w = 0.0
        for i in range(s.shape[0]):
            v_out[i], e_out[i], gs_out[i], gm_out[i], ge_out[i] = row(law, mu, sig, relu, p0, lo_w, hi_w, N,
                                                                      s[i], m[i])

    global _PT_ROW
    _PT_ROW = row
    _PT_KERNEL = kern
    return kern


def point_value_grad(law, mu, sig, relu, p0, reach, N, s, m):
    """``(F, err, dF/ds, dF/dm, gradient err)`` at the points ``(s_i, m_i)`` (``s_i > 0``; see
    :func:`_pt_kernel`)."""
    s = np.ascontiguousarray(s, dtype=np.float64).ravel()
    m = np.ascontiguousarray(m, dtype=np.float64).ravel()
    if s.shape != m.shape or not np.all(s > 0):
        raise ValueError("point_value_grad needs arrays of equal size with s > 0")
    out = [np.empty(s.size) for _ in range(5)]
    _pt_kernel()(int(law), float(mu), float(sig), bool(relu), float(p0), float(reach), int(N), s, m, *out)
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# hessian_bounds_sc as one numba loop per box (same formulas, no (boxes x N) temporaries)
# ---------------------------------------------------------------------------------------------

_HB_KERNEL = None
_HB_BOX = None


def _hb_kernel():
    """Numba kernel of :func:`hessian_bounds_sc` (compiled lazily; all callees in this file)."""
    global _HB_KERNEL
    if _HB_KERNEL is not None:
        return _HB_KERNEL
    import numba

    IS2 = 1.0 / math.sqrt(2.0)
    SP = SQRT2PI
    R3 = math.sqrt(3.0)
    EH = math.exp(-0.5)
    E15 = 2 * math.exp(-1.5)

    @numba.njit(cache=True)
    def base_sf(law, mu, sig, x):
        z = (x - mu) / sig
        if law == 0:
            return 0.5 * math.erfc(z * IS2)
        if z > 0:
            return 0.5 * math.exp(-z)
        return 1.0 - 0.5 * math.exp(z)

    @numba.njit(cache=True)
    def dens(law, mu, sig, relu, x):
        if relu and not x > 0:
            return 0.0
        z = (x - mu) / sig
        if law == 0:
            return math.exp(-0.5 * z * z) / (sig * SP)
        return math.exp(-abs(z)) / (2 * sig)

    @numba.njit(cache=True)
    def sfun(law, mu, sig, relu, cont, t):
        if cont:
            return base_sf(law, mu, sig, max(t, 0.0))
        if relu and t < 0:
            return 1.0
        return base_sf(law, mu, sig, t)

    @numba.njit(cache=True)
    def f1(u):
        return abs(u) * math.exp(-0.5 * u * u)

    @numba.njit(cache=True)
    def f2(u):
        return abs(u * u - 1) * math.exp(-0.5 * u * u)

    @numba.njit(cache=True)
    def derivs_max(law, mu, sig, a, b):
        ua = (a - mu) / sig
        ub = (b - mu) / sig
        if law == 0:
            ea = math.exp(-0.5 * ua * ua)
            eb = math.exp(-0.5 * ub * ub)
            m1 = max(abs(ua) * ea, abs(ub) * eb)
            if (ua <= 1 and ub >= 1) or (ua <= -1 and ub >= -1):
                m1 = EH
            m2 = max(abs(ua * ua - 1) * ea, abs(ub * ub - 1) * eb)
            if (ua <= R3 and ub >= R3) or (ua <= -R3 and ub >= -R3):
                m2 = max(m2, E15)
            if ua <= 0 and ub >= 0:
                m2 = 1.0
            return m1 / (SP * sig**2) * (1 + 1e-13), m2 / (SP * sig**3) * (1 + 1e-13)
        dmin = 0.0 if (ua <= 0 and ub >= 0) else min(abs(ua), abs(ub))
        pm = math.exp(-dmin) / (2 * sig) * (1 + 1e-13)
        return pm / sig, pm / sig**2

    @numba.njit(cache=True)
    def dens_range(law, mu, sig, relu, a, b):
        lo_a = a
        if relu:
            lo_a = max(a, 0.0)
        hi_ = max(b, lo_a)
        peak = min(max(mu, lo_a), hi_)
        pmax = dens(law, mu, sig, False, peak) if b > lo_a else 0.0
        if relu and not b > 0:
            pmax = 0.0
        pmin = min(dens(law, mu, sig, relu, a), dens(law, mu, sig, relu, b))
        if relu and a <= 0:
            pmin = 0.0
        return pmin * (1 - 1e-14), pmax * (1 + 1e-14)

    @numba.njit(cache=True)
    def zv(val0, lo, hi):
        return max(abs(hi - val0), abs(val0 - lo))

    @numba.njit(cache=True)
    def box(law, mu, sig, relu, p0, N, an, kap, cont, s1, s2, c1, c2):
        """(lam, H0_ss, H0_sc, H0_cc, U_ss, U_sc, U_cc) of one box."""
        mass = 1.0 - p0 if cont else 1.0
        s0 = 0.5 * (s1 + s2)
        c0 = 0.5 * (c1 + c2)
        hs = 0.5 * (s2 - s1)
        hc = 0.5 * (c2 - c1)
        sA0 = sA1 = sA2 = 0.0
        B0 = B1 = 0.0
        as0 = as1 = as2 = 0.0
        ac0 = ac1 = ac2 = 0.0
        bs0 = bs1 = 0.0
        bc0 = bc1 = 0.0
        Ab0 = Ab1 = Ab2 = 0.0
        Bb0 = Bb1 = 0.0
        vA0 = vA1 = vA2 = 0.0
        vB0 = vB1 = 0.0
        bad = False
        for k in range(N):
            v = k + 0.5 - an
            av = abs(v)
            t0 = c0 + v * s0
            D = hc + av * hs
            ta = t0 - D
            tb = t0 + D
            P = dens(law, mu, sig, relu, t0)
            Q = sfun(law, mu, sig, relu, cont, t0)
            sA0 += P
            sA1 += v * P
            sA2 += v * v * P
            B0 += Q
            B1 += v * Q
            kink = law == 1 and ta <= mu and tb >= mu
            rough = False
            left = False
            if relu:
                if ta <= 0 and tb >= 0:
                    if cont:
                        rough = True
                    else:
                        bad = True
                left = tb < 0
            jx = 0.0
            if kink and not rough:
                # first-order kink term: p' jumps by at most J = 2 p(mu) / sig, and only on the part of
                # the segment past the kink (length <= D - |t0 - mu|)
                jx = (2.0 * dens(law, mu, sig, False, mu) / sig) * max(D - abs(t0 - mu), 0.0) * (1 + 1e-13)
            if not rough:
                z = (t0 - mu) / sig
                if law == 0:
                    P1 = -z * P / sig
                else:
                    P1 = -(1.0 if z > 0 else (-1.0 if z < 0 else 0.0)) * P / sig
                if left:
                    P1 = 0.0
                as0 += P + s0 * P1 * v
                as1 += P * v + s0 * P1 * v * v
                as2 += P * v * v + s0 * P1 * v * v * v
                ac0 += s0 * P1
                ac1 += s0 * P1 * v
                ac2 += s0 * P1 * v * v
                bs0 -= P * v
                bs1 -= P * v * v
                bc0 -= P
                bc1 -= P * v
                la = ta
                lb = tb
                if relu:
                    la = max(ta, 0.0)
                    lb = max(tb, la)
                if left:
                    d1 = 0.0
                    d2 = 0.0
                else:
                    d1, d2 = derivs_max(law, mu, sig, la, lb)
                ab = 2 * hs * d1 * D + s2 * d2 * D * D + 2 * s2 * jx
                Ab0 += ab
                Ab1 += av * ab
                Ab2 += av * av * ab
                Bb0 += d1 * D * D
                Bb1 += av * d1 * D * D
            else:
                pmin, pmax = dens_range(law, mu, sig, relu, ta, tb)
                Qlo = sfun(law, mu, sig, relu, cont, tb)
                Qhi = sfun(law, mu, sig, relu, cont, ta)
                w = 1.0
                for a in range(3):
                    x1 = s1 * w * pmin
                    x2 = s1 * w * pmax
                    x3 = s2 * w * pmin
                    x4 = s2 * w * pmax
                    var = zv(s0 * w * P, min(min(x1, x2), min(x3, x4)), max(max(x1, x2), max(x3, x4)))
                    if a == 0:
                        vA0 += var
                    elif a == 1:
                        vA1 += var
                    else:
                        vA2 += var
                    w *= v
                vB0 += zv(Q, min(Qlo, Qhi), max(Qlo, Qhi))
                vB1 += zv(v * Q, min(v * Qlo, v * Qhi), max(v * Qlo, v * Qhi))
        A0 = s0 * sA0
        A1 = s0 * sA1
        A2 = s0 * sA2
        Hcc = 2 * (mass - A0)
        Hsc = 2 * (B0 - an * mass - A1)
        Hss = 2 * (an * an * mass + 2 * B1 - A2)
        Ls_cc = -2 * as0
        Ls_sc = 2 * (bs0 - as1)
        Ls_ss = 2 * (2 * bs1 - as2)
        Lc_cc = -2 * ac0
        Lc_sc = 2 * (bc0 - ac1)
        Lc_ss = 2 * (2 * bc1 - ac2)
        Rcc = Ab0 + 2 * vA0
        Rsc = Bb0 + Ab1 + 2 * vA1 + 2 * vB0
        Rss = 2 * Bb1 + Ab2 + 2 * vA2 + 4 * vB1
        lam = math.inf
        for es in (-1.0, 1.0):
            for ec in (-1.0, 1.0):
                ds = es * hs
                dc = ec * hc
                a_ = (Hss + ds * Ls_ss + dc * Lc_ss) / kap**2
                b_ = (Hsc + ds * Ls_sc + dc * Lc_sc) / kap
                c_ = Hcc + ds * Ls_cc + dc * Lc_cc
                lam = min(lam, 0.5 * (a_ + c_) - math.sqrt(0.25 * (a_ - c_) ** 2 + b_ * b_))
        Rn = max(Rss / kap**2, Rcc) + Rsc / kap
        mag = (abs(Hss) + N * N) / kap**2 + abs(Hsc) / kap + abs(Hcc) + 2.0
        rnd = 1e-12 * mag * max(N, 1)
        if bad:
            return -math.inf, Hss / kap**2, Hsc / kap, Hcc, math.inf, math.inf, math.inf
        return (lam - Rn - rnd, Hss / kap**2, Hsc / kap, Hcc,
                (hs * abs(Ls_ss) + hc * abs(Lc_ss) + Rss) / kap**2 + rnd,
                (hs * abs(Ls_sc) + hc * abs(Lc_sc) + Rsc) / kap + rnd,
                (hs * abs(Ls_cc) + hc * abs(Lc_cc) + Rcc) + rnd)

    @numba.njit(cache=True)
    def kern(law, mu, sig, relu, p0, N, an, kap, cont, s1, s2, c1, c2, lam_o, H0_o, U_o):
        for i in range(s1.shape[0]):
            r = box(law, mu, sig, relu, p0, N, an, kap, cont, s1[i], s2[i], c1[i], c2[i])
            lam_o[i] = r[0]
            H0_o[0, i] = r[1]
            H0_o[1, i] = r[2]
            H0_o[2, i] = r[3]
            U_o[0, i] = r[4]
            U_o[1, i] = r[5]
            U_o[2, i] = r[6]

    global _HB_BOX
    _HB_BOX = box
    _HB_KERNEL = kern
    return kern


def hessian_bounds_sc_nb(law, mu, sig, relu, p0, N, s1, s2, c1, c2, cont_only=False, anchor=None):
    """:func:`hessian_bounds_sc` (same formulas and outputs) as one numba loop per box."""
    s1, s2, c1, c2 = (np.ascontiguousarray(np.asarray(x, dtype=np.float64).ravel()) for x in (s1, s2, c1, c2))
    if not (s1.shape == s2.shape == c1.shape == c2.shape):
        raise ValueError("hessian_bounds_sc_nb needs box arrays of equal size")
    an, kap = anchor_kappa(N, anchor)
    n = s1.size
    lam, H0, U = np.empty(n), np.empty((3, n)), np.empty((3, n))
    _hb_kernel()(int(law), float(mu), float(sig), bool(relu), float(p0), int(N), float(an), float(kap),
                 bool(cont_only and relu), s1, s2, c1, c2, lam, H0, U)
    return lam, (H0[0], H0[1], H0[2]), (U[0], U[1], U[2])


# ---------------------------------------------------------------------------------------------
# The whole second-order box bound of the fast offset search in one numba loop
# ---------------------------------------------------------------------------------------------

_TY_KERNEL = None


def _taylor_kernel():
    """Numba kernel of ``parametric._offset_taylor_lb`` (the same formulas; per box: the point value and
    gradient at the centre, :func:`hessian_bounds_sc`, the exact 2x2 box QP; ReLU laws: where a threshold
    interval holds the atom, the continuous-part bound plus ``p0 dist(0, U)^2``)."""
    global _TY_KERNEL
    if _TY_KERNEL is not None:
        return _TY_KERNEL
    import numba

    _pt_kernel()
    _hb_kernel()
    row = _PT_ROW
    box = _HB_BOX
    EPS = 2.0**-52

    @numba.njit(cache=True)
    def q(g1, g2, m11, m12, m22, d1, d2):
        return g1 * d1 + g2 * d2 + 0.5 * (m11 * d1 * d1 + 2 * m12 * d1 * d2 + m22 * d2 * d2)

    @numba.njit(cache=True)
    def qp(g1, g2, m11, m12, m22, h1, h2):
        """min of q over [-h1, h1] x [-h2, h2]: interior stationary point, else the edges (exact)."""
        best = math.inf
        det = m11 * m22 - m12 * m12
        if m11 > 0 and det > 0:
            d1 = (-g1 * m22 + g2 * m12) / det
            d2 = (-g2 * m11 + g1 * m12) / det
            if abs(d1) <= h1 and abs(d2) <= h2:
                best = q(g1, g2, m11, m12, m22, d1, d2)
        for e in (-1.0, 1.0):
            a1 = e * h1
            t = min(max(-(g2 + m12 * a1) / m22, -h2), h2) if m22 > 0 else h2
            best = min(best, q(g1, g2, m11, m12, m22, a1, t), q(g1, g2, m11, m12, m22, a1, h2),
                       q(g1, g2, m11, m12, m22, a1, -h2))
            a2 = e * h2
            t = min(max(-(g1 + m12 * a2) / m11, -h1), h1) if m11 > 0 else h1
            best = min(best, q(g1, g2, m11, m12, m22, t, a2))
        return best

    @numba.njit(cache=True)
    def one(law, mu, sig, relu, p0, lo_w, hi_w, N, an, kap, cont, s1, s2, c1, c2):
        sc = 0.5 * (s1 + s2)
        cc = 0.5 * (c1 + c2)
        mcen = cc - sc * an
        v, e, gs, gm, ge = row(law, mu, sig, relu, p0, lo_w, hi_w, N, sc, mcen)
        r = box(law, mu, sig, relu, p0, N, an, kap, cont, s1, s2, c1, c2)
        atom_lb = 0.0
        if cont:
            k0 = min(max(round(-mcen / sc), 0.0), float(N))
            d0 = mcen + k0 * sc
            v -= p0 * d0 * d0
            gm -= 2 * p0 * d0
            gs -= 2 * p0 * k0 * d0
            dist0 = math.inf
            for k in range(N + 1):
                j = k - an
                jp = max(j, 0.0)
                jn = min(j, 0.0)
                lo = c1 + jp * s1 + jn * s2
                hi = c2 + jp * s2 + jn * s1
                dist0 = min(dist0, max(max(lo, -hi), 0.0))
            atom_lb = p0 * dist0 * dist0 * (1 - 1e-15)
            e += 4 * EPS * p0 * d0 * d0
        g1 = (gs - an * gm) / kap
        g2 = gm
        h1 = 0.5 * (s2 - s1) * kap
        h2 = 0.5 * (c2 - c1)
        m11 = r[1] - r[4] - r[5]
        m22 = r[3] - r[6] - r[5]
        qmin = qp(g1, g2, m11, r[2], m22, h1, h2)
        tot = v - e + qmin - ge * (1 + an) / kap * h1 - ge * h2 + atom_lb
        if math.isfinite(r[0]) and math.isfinite(tot):
            return tot
        return -math.inf

    @numba.njit(cache=True)
    def kern(law, mu, sig, relu, p0, reach, N, an, kap, s1, s2, c1, c2, out):
        lo_w = mu - reach
        hi_w = mu + reach
        if relu and lo_w < 0.0:
            lo_w = 0.0
        for i in range(s1.shape[0]):
            cross = False  # ReLU: does a threshold's interval on the box hold the atom at 0?
            if relu and p0 > 0:
                s0 = 0.5 * (s1[i] + s2[i])
                c0 = 0.5 * (c1[i] + c2[i])
                hs = 0.5 * (s2[i] - s1[i])
                hc = 0.5 * (c2[i] - c1[i])
                for k in range(N):
                    v = k + 0.5 - an
                    t0 = c0 + v * s0
                    D = hc + abs(v) * hs
                    if t0 - D <= 0 and t0 + D >= 0:
                        cross = True
                        break
            t = -math.inf
            if not cross:
                t = one(law, mu, sig, relu, p0, lo_w, hi_w, N, an, kap, False, s1[i], s2[i], c1[i], c2[i])
            if relu and p0 > 0 and not math.isfinite(t):
                t = one(law, mu, sig, relu, p0, lo_w, hi_w, N, an, kap, True, s1[i], s2[i], c1[i], c2[i])
            out[i] = t

    _TY_KERNEL = kern
    return kern


def offset_taylor_lb_nb(law, mu, sig, relu, p0, reach, N, s1, s2, c1, c2, anchor=None):
    """Second-order lower bound of the real-offset MSE on ``(s, c = m + a s)`` boxes (``s1 > 0``): the
    numba form of ``parametric._offset_taylor_lb`` (ReLU laws: the continuous-part form where the plain
    one is ``-inf``, as the caller of that function does)."""
    s1, s2, c1, c2 = (np.ascontiguousarray(np.asarray(x, dtype=np.float64).ravel()) for x in (s1, s2, c1, c2))
    if not (s1.shape == s2.shape == c1.shape == c2.shape) or not np.all(s1 > 0):
        raise ValueError("offset_taylor_lb_nb needs box arrays of equal size with s1 > 0")
    an, kap = anchor_kappa(N, anchor)
    out = np.empty(s1.size)
    _taylor_kernel()(int(law), float(mu), float(sig), bool(relu), float(p0), float(reach), int(N), float(an),
                     float(kap), s1, s2, c1, c2, out)
    return out
