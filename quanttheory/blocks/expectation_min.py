"""Exact expected per-element MSE of the NVFP4 ``4over6`` rule for iid data.

Per block the rule keeps the better (smaller block squared error) of two scales that depend
on the block absmax ``M`` only: ``X6 = r(M)`` (``round`` with clip multiplier ``c``: amax
maps to 6) and ``X4`` (``round`` with ``1.5 c``: amax maps to 4), both E4M3-rounded times
the tensor scale ``S``.  Given ``M = m`` the block errors are

    A = a(m) + sum_{i<k} a(xi_i),   B = b(m) + sum_{i<k} b(xi_i),

``a(x) = (x - X6 q(x/X6))^2``, ``b`` likewise with ``X4``; the ``k - 1`` other ``xi_i`` are iid
with the law of ``xi`` given ``|xi| <= m`` (E2M1 is symmetric, so ``a(-m) = a(m)``).  With
``D = A - B``,

    E min(A, B) = (E A + E B) / 2 - E|D| / 2,

so the per-element MSE is ``(MSE_6 + MSE_4) / 2 - (1/2) int g G^(k-1) E[|D| | M = m] dm``
(``MSE_6``, ``MSE_4`` = :func:`~quanttheory.blocks.expectation.block_mse` of the two
absmax rules).  ``d = a - b`` is piecewise *linear* in ``x`` (both errors have ``x^2``
coefficient 1): ``d = 2 x (R4 - R6) + R6^2 - R4^2`` on each cell of the common refinement of
both rounding grids (``R6, R4`` the two reconstructions).  Where ``R4 = R6`` (both round to
0, or to the same non-zero value) ``d = 0``: an atom of mass ``p0``.  Then

    E|D| = (2/pi) int_0^inf (1 - Re phi_D(t)) / t^2 dt,
    phi_D(t) = exp(i t d(m)) (p0 + psi(t))^(k-1),   psi(t) = E[e^{i t d(xi)}; non-atom cells],

``psi`` by Gauss-Legendre per cell (enough nodes for the phase ``t |slope| width``).  Tail:
integrating by parts on a cell with slope ``alpha`` where ``f`` is monotone,
``|int e^{i t d} f| <= 2 max(f(u), f(v)) / (t |alpha|)``, so ``|psi(t)| <= C / t``;
``|(p0 + psi)^n - p0^n| <= (p0 + C/t)^n - p0^n =: rho(t)`` (decreasing), and

    int_T^inf (1 - Re phi_D)/t^2 dt = 1/T - p0^n [cos(w T)/T - |w| (pi/2 - Si(|w| T))] + E_T,
    |E_T| <= rho(T) / T,        w = d(m),

with ``T`` chosen per panel so that ``rho(T)/T`` is below the target.  See docs/blocks.md §2b.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .expectation import (BlockMSE, _check_law, _G, _panels, _range, block_mse, default_tensor_scale)
from .spec import block_scales, check_clip_multiplier, check_rule, get_block_format


@lru_cache(maxsize=None)
def _gl(n):
    z, w = np.polynomial.legendre.leggauss(n)
    return z, w


def _rec(x, X, fmt):
    """Reconstruction X q(x/X) (0 if X == 0)."""
    if X <= 0:
        return np.zeros_like(x)
    return X * fmt.quantize(x / X)


def _abs_d_panel(dist, fmt, X6, X4, m, n, eps, mode_pts):
    """E[|D| | M = m] for nodes m (array, one panel: X6, X4 fixed).  Returns (value, error bound)."""
    from scipy.special import sici

    U = X6 if X6 > 0 else (X4 if X4 > 0 else float(np.max(m)))
    mids = np.asarray(fmt.midpoints, float)
    cuts = []
    for X in (X6, X4):
        if X > 0:
            cuts.append(X * mids)
    cuts.append(np.array([0.0]))
    cuts.append(np.asarray(mode_pts, float))
    mmax = float(np.max(m))
    cuts = np.unique(np.concatenate(cuts))
    cuts = cuts[(cuts > -mmax) & (cuts < mmax)]
    cuts = np.concatenate([[-mmax], cuts, [mmax]])
    J = m.size
    lo = np.clip(cuts[None, :-1], -m[:, None], m[:, None])       # (J, P)
    hi = np.clip(cuts[None, 1:], -m[:, None], m[:, None])
    ctr = 0.5 * (cuts[:-1] + cuts[1:])                           # fixed cell centres (cell identity)
    r6 = _rec(ctr, X6, fmt)
    r4 = _rec(ctr, X4, fmt)
    # equal reconstructions up to rounding (X4 = 1.5 X6 makes 3 X6 = 2 X4, 6 X6 = 4 X4, ... equal but for
    # the last bit): an atom, as in _expect_46.cells.  With exact equality such a cell had a slope
    # |alpha| ~ 1e-15, so C ~ 1e15, T ~ 3e7, 200000 t panels x a 4000-point x rule: the minutes that
    # NVFP4 N(0,1) k = 16 and every heavy-tailed case took (d there is ~1e-12 of x^2: negligible)
    atom = np.abs(r4 - r6) <= 1e-12 * (np.abs(r4) + np.abs(r6))
    alpha = 2.0 * (r4 - r6) / U                                  # d / U^2 = alpha (x/U) + beta
    beta = (r6 * r6 - r4 * r4) / (U * U)
    G = np.clip(np.asarray(_G(dist, m), float), 1e-300, 1.0)
    # atom mass
    cdf_hi = np.asarray(dist.cdf(hi), float)
    cdf_lo = np.asarray(dist.cdf(lo), float)
    p0 = np.sum(np.where(atom[None, :], cdf_hi - cdf_lo, 0.0), axis=1) / G
    p0 = np.clip(p0, 0.0, 1.0)
    # tail constant C (t in units 1/U^2; x in units U): 2 max f_u / |alpha| per non-atom cell
    fu_lo = U * np.asarray(dist.pdf(lo), float)
    fu_hi = U * np.asarray(dist.pdf(hi), float)
    wid = hi - lo
    na = ~atom
    Cc = np.where(na[None, :] & (wid > 0), 2.0 * np.maximum(fu_lo, fu_hi) / np.where(na, np.abs(alpha), 1.0)[None, :],
                  0.0)
    C = np.sum(Cc, axis=1) / G                                   # (J,)
    # d at the maximum element (E2M1 symmetric: a(-m) = a(m))
    d0 = ((m - _rec(m, X6, fmt)) ** 2 - (m - _rec(m, X4, fmt)) ** 2) / (U * U)
    # choose T: rho(T)/T <= eps, rho(T) = (p0 + C/T)^n - p0^n
    # rho(T)/T decreases in T: the smallest T on the grid 1.25^i (i >= -80) meeting the target (the
    # grid used to start at C / (1 - p0), which can be far above what the target needs: an x rule of
    # up to 4000 points per cell and minutes per panel for a loose, probability-weighted target)
    def _ok(T):
        return np.minimum((p0 + C / T) ** n, 1.0) - p0 ** n <= eps * T

    T = np.maximum(C / np.maximum(1.0 - p0, 1e-3), 1.0)
    for _ in range(200):
        bad = ~_ok(T)
        if not bad.any():
            break
        T = np.where(bad, T * 1.25, T)
    for _ in range(80):
        Td = T / 1.25
        down = _ok(Td)
        if not down.any():
            break
        T = np.where(down, Td, T)
    Tm = float(np.max(T))
    # t panels.  phi_D(t) = E e^{itD} rotates at most at the rate |mu_D| + 8 sd_D (a bound on
    # the relevant frequencies, mu_D / sd_D the mean / sd of D): uniform panels of half a period
    # of that rate on [0, T], GL-16 per panel (resolves cos/sin over half a period to ~1e-16).
    cells0 = np.nonzero(na)[0]
    zt, wt = _gl(16)
    if cells0.size:
        xm = 0.5 * (lo[:, cells0] + hi[:, cells0])
        hm = 0.5 * (hi[:, cells0] - lo[:, cells0])
        z8, w8 = _gl(16)
        xx = xm[..., None] + hm[..., None] * z8
        ww = hm[..., None] * w8 * U * np.asarray(dist.pdf(xx), float) / G[:, None, None]
        dd = alpha[cells0][None, :, None] * (xx / U) + beta[cells0][None, :, None]
        Ed = np.sum(ww * dd, axis=(1, 2))
        Ed2 = np.sum(ww * dd * dd, axis=(1, 2))
    else:
        Ed = np.zeros(J)
        Ed2 = np.zeros(J)
    var_d = np.maximum(Ed2 - Ed * Ed, 0.0)       # p0 atom at 0 included (weight without d)
    muD = float(np.max(np.abs(d0 + n * Ed)))
    freq = max(muD + 8.0 * float(np.max(np.sqrt(n * var_d))), 1e-12)
    nu = int(min(max(math.ceil(Tm * freq / math.pi), 4), 200000))
    edges = np.linspace(0.0, Tm, nu + 1)
    edges = np.asarray(edges)
    ht = 0.5 * np.diff(edges)
    tt = ((0.5 * (edges[:-1] + edges[1:]))[:, None] + ht[:, None] * zt).ravel()
    wtt = (ht[:, None] * wt).ravel()
    # x nodes per non-atom cell: enough for the phase Tm |alpha| width / 2
    cells = np.nonzero(na)[0]
    ph = Tm * np.abs(alpha[cells]) * np.max(wid[:, cells], axis=0) / U if cells.size else np.zeros(0)
    Q = int(min(max(16, math.ceil(0.5 * float(np.max(ph, initial=0.0)) + 16)), 4000))
    zq, wq = _gl(Q)
    out = np.empty(J)
    errb = np.empty(J)
    for j in range(J):
        if cells.size:
            a_ = lo[j, cells]
            b_ = hi[j, cells]
            h = 0.5 * (b_ - a_)
            x = (0.5 * (a_ + b_))[:, None] + h[:, None] * zq       # (Pc, Q)
            W = (h[:, None] * wq) * np.asarray(dist.pdf(x), float) / G[j]
            dx = alpha[cells][:, None] * (x / U) + beta[cells][:, None]
            W = W.ravel()
            dx = dx.ravel()
            keep = W != 0
            W, dx = W[keep], dx[keep]
            psi = np.empty(tt.size, complex)
            step = max(1, (1 << 22) // max(dx.size, 1))     # bounded memory: <= 4M phases at once
            for s0 in range(0, tt.size, step):
                ph_ = np.outer(tt[s0:s0 + step], dx)
                psi[s0:s0 + step] = np.cos(ph_) @ W + 1j * (np.sin(ph_) @ W)
        else:
            psi = np.zeros(tt.size, complex)
        phiD = np.exp(1j * tt * d0[j]) * (p0[j] + psi) ** n
        integ = (1.0 - phiD.real) / (tt * tt)
        head = float(integ @ wtt)
        Tj = Tm
        w = abs(d0[j])
        c0 = p0[j] ** n
        si = sici(w * Tj)[0] if w > 0 else 0.0
        tail = 1.0 / Tj - c0 * (math.cos(w * Tj) / Tj - w * (0.5 * math.pi - si))
        rhoT = min((p0[j] + C[j] / Tj) ** n, 1.0) - c0
        out[j] = (2.0 / math.pi) * (head + tail) * U * U
        errb[j] = (2.0 / math.pi) * max(rhoT, 0.0) / Tj * U * U
    return out, errb


def _abs_d_k2(dist, fmt, X6, X4, m, mode_pts):
    """E[|D| | M = m] for two-element blocks (nodes ``m``, one panel: ``X6``, ``X4`` fixed), exactly:
    ``D = d(m) + d(xi)`` with ``xi`` the other element given ``|xi| <= m``, and ``d`` is linear on each
    cell of both rounding grids, so ``E|D| = sum over the cells, split at the root of d(m) + d(x), of
    |int (d(m) + d(x)) f| / G(m)``, each from the closed-form partial moments of order 0 and 1
    (``expectation._cell_poly_moment``; no characteristic function, no quadrature).  Returns (value,
    error bound)."""
    from .expectation import _cell_poly_moment

    mids = np.asarray(fmt.midpoints, float)
    cuts = [np.array([0.0]), np.asarray(mode_pts, float)]
    for X in (X6, X4):
        if X > 0:
            cuts.append(X * mids)
    mmax = float(np.max(m))
    cuts = np.unique(np.concatenate(cuts))
    cuts = np.concatenate([[-mmax], cuts[(cuts > -mmax) & (cuts < mmax)], [mmax]])
    lo = np.clip(cuts[None, :-1], -m[:, None], m[:, None])       # (J, P)
    hi = np.clip(cuts[None, 1:], -m[:, None], m[:, None])
    ctr = 0.5 * (cuts[:-1] + cuts[1:])
    r6 = _rec(ctr, X6, fmt)
    r4 = _rec(ctr, X4, fmt)
    dm = (m - _rec(m, X6, fmt)) ** 2 - (m - _rec(m, X4, fmt)) ** 2       # d at the absmax element
    c1 = np.broadcast_to(2.0 * (r4 - r6), lo.shape)                       # d(x) = c1 x + (r6^2 - r4^2)
    c0 = dm[:, None] + (r6 * r6 - r4 * r4)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.where(c1 != 0, -c0 / c1, np.nan)
    inside = (root > lo) & (root < hi)
    lo2 = np.concatenate([lo, np.where(inside, root, hi)], axis=1)    # piece 1: [lo, root]; 2: [root, hi]
    hi2 = np.concatenate([np.where(inside, root, hi), hi], axis=1)
    C1 = np.concatenate([c1, c1], axis=1)
    C0 = np.concatenate([c0, c0], axis=1)
    ok = hi2 > lo2
    v, e = _cell_poly_moment(dist, lo2[ok], hi2[ok], 0.0, 0.0, C1[ok], C0[ok])
    V = np.zeros(lo2.shape)
    E = np.zeros(lo2.shape)
    V[ok] = np.abs(v)                        # one sign on each piece
    E[ok] = e
    G = np.clip(np.asarray(_G(dist, m), float), 1e-300, 1.0)
    return V.sum(axis=1) / G, (E.sum(axis=1) + 1e-15 * V.sum(axis=1)) / G


def block_mse_4over6(dist, fmt="nvfp4", *, block=None, c: float = 1.0, tensor_scale=None, tol: float = 1e-7,
                     gl_m=None, method=None) -> BlockMSE:
    """Exact expected per-element MSE of the ``4over6`` rule (E2M1 elements, E4M3 or FP16 block scales).

    ``MSE = (MSE_6 + MSE_4)/2 - (1/2) int_0^inf g(m) G(m)^(k-1) E[|D| | M = m] dm`` with ``D`` the
    difference of the two candidate block squared errors (module doc); ``E|D|`` from its
    characteristic function.  ``tol``: target relative accuracy of the ``E|D|`` part's tail
    bound; ``gl_m``: Gauss-Legendre nodes per ``m`` panel (the ``m`` panels split at every scale
    jump and kink of either candidate; ``error_estimate`` adds the difference to a
    ``gl_m // 2``-node rule and the t-tail bounds; default 32 for ``k = 2``, else 8).  ``saturation_rate`` and the scale under/overflow rates are NaN (not computed
    for this rule: they need the joint law of the choice and the clipped elements).  ``k = 1`` and ``k = 2``
    are closed forms per node (``|d(m)|``; partial moments, :func:`_abs_d_k2`): < 0.5 s / ~1-2 s CPU with E4M3
    scales; ``k >= 3`` inverts a characteristic function per node: 20-100 s CPU for ``k = 16`` at ``tol=1e-7``
    (docs/blocks.md §2h); FP16 scales with ``k >= 3`` raise ``ValueError`` (hours).

    ``method``: ``None`` (default) telescopes over the block-absmax pieces for ``k >= 3`` with E4M3 scales when
    the law is Normal, Laplace, Student t, GenNormal or a mixture of them (:mod:`._expect_46_generic`, cell
    characteristic functions from a Legendre expansion of the density, docs/blocks.md §2i: 0.5-50 s CPU instead
    of 20 s to hours); ``"quadrature"`` forces the m-quadrature above (the reference); ``"telescoped"`` requires
    the telescoped path (``ValueError`` where it does not apply).
    """
    dist = _check_law(dist)
    bf = get_block_format(fmt, block=block)
    r = check_rule("4over6", bf)
    if bf.scale_format not in ("e4m3", "real", "fp16"):
        raise ValueError("4over6 needs E4M3 (or fp16/real) block scales, like NVFP4")
    if bf.scale_format == "real":
        # the m panels below hold both candidate scales constant (evaluated at each panel's midpoint);
        # real scales c m / 6 vary continuously with m, so that would be a wrong number, not an error bound
        raise ValueError("block_mse_4over6 does not support real-valued block scales (the scale varies within "
                         "every m panel); use scale_format='e4m3' or 'fp16'")
    check_clip_multiplier(c)
    if not (isinstance(tol, float) and 1e-12 <= tol < 1e-2):
        raise ValueError(f"tol must be a float in [1e-12, 1e-2), got {tol!r}")
    k = bf.block
    if bf.scale_format == "fp16" and k >= 3:
        # (docs/blocks.md §2h) FP16 scales jump every 2^-10 relative: 25k-100k m panels, each needing the
        # characteristic-function inversion below (0.1-0.5 s per panel): hours.  k = 1 and 2 are closed forms.
        raise ValueError(f"4over6 with fp16 block scales is exact here only for blocks of 1 or 2 elements (got "
                         f"{k}): the m-quadrature would invert a characteristic function on each of ~1e4-1e5 "
                         "m panels (hours); use monte_carlo_block_mse (Monte Carlo with a standard error)")
    S = 1.0
    if bf.scale_format == "e4m3":
        S = default_tensor_scale(dist, bf) if tensor_scale is None else float(tensor_scale)
        if not (math.isfinite(S) and S > 0):
            raise ValueError(f"tensor_scale must be a finite number > 0, got {tensor_scale!r}")
    c = float(c)
    if method not in (None, "quadrature", "telescoped"):
        raise ValueError(f"method must be None, 'quadrature' or 'telescoped', got {method!r}")
    if method != "quadrature":
        from ._expect_46_generic import components, telescoped_4over6_generic

        ok = bf.scale_format == "e4m3" and k >= 3 and components(dist) is not None
        if method == "telescoped" and not ok:
            raise ValueError("method='telescoped' needs E4M3 block scales, blocks of >= 3 elements and a Normal, "
                             "Laplace, Student t or GenNormal law (or a mixture of them)")
        if ok:
            mse, err, _, _ = telescoped_4over6_generic(dist, bf, c, S, tol)
            m2 = dist.second_moment()
            nan = float("nan")
            return BlockMSE(mse, 10 * math.log10(m2 / mse), nan, nan, nan, err, r, k, c, S)
    S_arg = S if bf.scale_format == "e4m3" else None  # (block_mse rejects a tensor scale the format does not use)
    r6 = block_mse(dist, bf, "round", c=c, tensor_scale=S_arg, tol=1e-12)
    r4 = block_mse(dist, bf, "round", c=1.5 * c, tensor_scale=S_arg, tol=1e-12)
    if k == 1:
        # D = d(m) only: E min = E[min(a, b)(xi)] -- still handled below with n = 0
        pass
    n = k - 1
    m2 = dist.second_moment()
    mlo, mhi = _range(dist, k, min(tol, 1e-9))
    e6 = _panels(dist, bf, "round", c, S, mlo, mhi)
    e4 = _panels(dist, bf, "round", 1.5 * c, S, mlo, mhi)
    edges = np.unique(np.concatenate([e6, e4]))
    edges = edges[np.diff(edges, append=np.inf) > 1e-13 * edges]
    edges = np.unique(np.concatenate([edges, [mhi]]))
    a, b = edges[:-1], edges[1:]
    mid = 0.5 * (a + b)
    X6s = block_scales(mid, bf, "round", c=c, tensor_scale=S)[0]
    X4s = block_scales(mid, bf, "round", c=1.5 * c, tensor_scale=S)[0]
    mode_pts = [float(bp) for bp in dist.breakpoints()]
    loc = getattr(dist, "loc", None)
    if loc is not None:
        mode_pts.append(float(loc))
    fmt_e = bf.fmt
    eps_rel = tol * 1e-2                         # the old per-node E|D| target (relative to E[xi^2])
    # Cut every panel at the root of d(m) = (m - R6(m))^2 - (m - R4(m))^2 too: d is linear in m on a
    # panel (both scales and both rounding cells of m are fixed), and at k = 1 the integrand g |d(m)|
    # has a kink there (Gauss-Legendre across it erred by ~2e-3 relative, docs/blocks.md 2d3); for
    # k >= 2 E[|D| | M = m] is smooth except where d(m) crosses an atom of the other elements' sum.
    mid = 0.5 * (a + b)
    r6m = np.where(X6s > 0, X6s * fmt_e.quantize(mid / np.where(X6s > 0, X6s, 1.0)), 0.0)
    r4m = np.where(X4s > 0, X4s * fmt_e.quantize(mid / np.where(X4s > 0, X4s, 1.0)), 0.0)
    with np.errstate(invalid="ignore"):
        root = 0.5 * (r6m + r4m)
    cut = (r6m != r4m) & (root > a) & (root < b)
    if np.any(cut):
        a = np.concatenate([a, root[cut]])
        b = np.concatenate([np.where(cut, root, b), b[cut]])
        X6s = np.concatenate([X6s, X6s[cut]])
        X4s = np.concatenate([X4s, X4s[cut]])
        o = np.argsort(a, kind="stable")
        a, b, X6s, X4s = a[o], b[o], X6s[o], X4s[o]
    mid = 0.5 * (a + b)
    if gl_m is None:
        # k = 2: E[|D| | M = m] is only C^1 in m (the density of d(xi) jumps at the cell edges): 32 nodes
        # (the |32 - 16| difference, the error estimate, is 5e-10 for N(0,1), where the telescoped value is
        # known: actual 1e-11); k >= 3 is smoother
        gl_m = 32 if k == 2 else 8
    zf, wf = _gl(gl_m)
    zh, wh = _gl(max(gl_m // 2, 2))
    if k == 1:
        # one element: D = d(m) exactly, E[|D| | M = m] = |d(m)|: no characteristic function (the
        # general path below inverted phi_D = e^{i t d(m)} numerically and took minutes: its x
        # quadrature of the other elements' cells is sized for k >= 2 and built a 4000-point rule)
        h = 0.5 * (b - a)
        tot = []
        for z, w in ((zf, wf), (zh, wh)):
            mm = mid[:, None] + h[:, None] * z
            X6b = np.broadcast_to(X6s[:, None], mm.shape)
            X4b = np.broadcast_to(X4s[:, None], mm.shape)
            d = (mm - np.where(X6b > 0, X6b * fmt_e.quantize(mm / np.where(X6b > 0, X6b, 1.0)), 0.0)) ** 2 \
                - (mm - np.where(X4b > 0, X4b * fmt_e.quantize(mm / np.where(X4b > 0, X4b, 1.0)), 0.0)) ** 2
            g = np.asarray(dist.pdf(mm), float) + np.asarray(dist.pdf(-mm), float)
            tot.append(float(np.sum(h * ((g * np.abs(d)) @ w))))
        total = tot[0]
        err = abs(tot[0] - tot[1]) + 2e-3 * tol * m2 + 1e-15 * abs(total)
        mse = 0.5 * (r6.mse + r4.mse) - 0.5 * total
        return BlockMSE(mse, 10 * math.log10(m2 / mse), float("nan"), float("nan"), float("nan"),
                        0.5 * err + 0.5 * (r6.error_estimate + r4.error_estimate), r, k, c, S)
    # Per-panel targets.  The panel (a, b] carries P_i = G(b)^k - G(a)^k of the blocks, and its part
    # of the MSE is (1/(2k)) E[|D|; M in panel] with |D| <= A + B <= 2 k b^2 (every element error
    # <= x^2, 0 being a level), so a panel with P_i b^2 <= its share of the budget is bounded, not
    # computed; the others get an E|D| tail target inversely proportional to P_i (before: one
    # absolute target 1e-2 tol E[xi^2] at every node, however improbable its m: blocks with
    # M ~ 0.18 at k = 16 got the same t range as the typical ones, minutes per call).
    Gk = np.clip(np.asarray(_G(dist, np.concatenate([a, b])), float), 0.0, 1.0) ** k
    Pm = np.maximum(Gk[a.size:] - Gk[:a.size], 0.0)
    budget = 0.25 * tol * m2                     # each of: skipped panels, t tails
    skip = Pm * b * b <= budget / a.size
    nact = max(1, int(np.sum(~skip)))
    total = 0.0
    err = float(np.sum(Pm[skip] * b[skip] ** 2))
    for i in range(a.size):
        if skip[i]:
            continue
        X6, X4 = float(X6s[i]), float(X4s[i])
        U = X6 if X6 > 0 else max(X4, b[i])
        # t-tail bound of one node <= eps U^2 (2/pi); its weight in the MSE <= P_i / (2k)
        eps = min(max(eps_rel * m2, 2 * k * budget / (nact * max(Pm[i], 1e-300))), k * m2) / (U * U)
        h = 0.5 * (b[i] - a[i])
        z = np.concatenate([zf, zh])
        mm = mid[i] + h * z
        if k == 2:
            val, eb = _abs_d_k2(dist, fmt_e, X6, X4, mm, mode_pts)
        else:
            val, eb = _abs_d_panel(dist, fmt_e, X6, X4, mm, n, eps, mode_pts)
        g = np.asarray(dist.pdf(mm), float) + np.asarray(dist.pdf(-mm), float)
        G = np.clip(np.asarray(_G(dist, mm), float), 0.0, 1.0)
        wgt = g * G ** (k - 1)
        f1 = h * float(np.sum(wf * wgt[:gl_m] * val[:gl_m]))
        f2 = h * float(np.sum(wh * wgt[gl_m:] * val[gl_m:]))
        total += f1
        err += abs(f1 - f2) + h * float(np.sum(wf * wgt[:gl_m] * eb[:gl_m]))
    mse = 0.5 * (r6.mse + r4.mse) - 0.5 * total
    # saturation and scale under/overflow rates depend on which candidate each block picks (a
    # function of the whole block): not computed here, reported as NaN (null in JSON), never as 0.
    return BlockMSE(mse, 10 * math.log10(m2 / mse), float("nan"), float("nan"), float("nan"),
                    0.5 * err + 0.5 * (r6.error_estimate + r4.error_estimate), r, k, c, S)


class Rates4over6(NamedTuple):
    """Exact ``4over6`` rates with absolute error bounds: ``saturation`` (fraction of elements
    clipped by the chosen scale), ``scale_underflow`` / ``scale_overflow`` (fraction of blocks
    whose chosen scale under/overflows E4M3), ``error`` (bound on each rate's absolute error)."""

    saturation: float
    scale_underflow: float
    scale_overflow: float
    error: float


def _pieces_4over6(dist, bf, c, S, mlo, mhi):
    """Pieces ``(a, b]`` of ``[mlo, mhi]`` on which both ``4over6`` candidate scales and their
    E4M3 under/overflow flags are constant (cut at every jump of either scale and at both
    overflow thresholds).  Returns (a, b, X6, u6, o6, X4, u4, o4)."""
    from .expectation import _jumps
    from .spec import _positive_values

    lmax = bf.lmax
    vmax = float(_positive_values("e4m3")[-1]) if bf.scale_format == "e4m3" else math.inf
    thr = [vmax * S * lmax / c, vmax * S * lmax / (1.5 * c)]           # overflow thresholds (X6, X4)
    cuts = [[mlo, mhi], _jumps(bf, "round", c, S, mlo, mhi), _jumps(bf, "round", 1.5 * c, S, mlo, mhi),
            [t for t in thr if mlo < t < mhi]]
    e = np.unique(np.concatenate([np.asarray(x, float) for x in cuts]))
    e = e[np.concatenate([[True], np.diff(e) > 4e-16 * e[1:]])]
    e[-1] = mhi
    a, b = e[:-1], e[1:]
    mid = 0.5 * (a + b)
    X6, u6, o6 = block_scales(mid, bf, "round", c=c, tensor_scale=S)
    X4, u4, o4 = block_scales(mid, bf, "round", c=1.5 * c, tensor_scale=S)
    return a, b, X6, u6, o6, X4, u4, o4


def _split_p_budget(law, loc, scale, fmt, ends, X6, X4, k, ea, nd, g, e0, en):
    """Weights ``w_i`` (mean 1 over the ends needing ``P(S > 0)``) of the per-end error budget
    ``w_i e0`` (weighted by ``g_i = G(m_i)^k``) of ``P(S > 0)``, from the number of harmonics each end
    would need (planning pass of the kernel at ``L = L0``, no harmonic computed): with the tail ``~ 1/T^2`` an
    end needing ``h_i`` harmonics at ``e0`` needs ``h_i sqrt(e0 / e)`` at ``e``, and no fewer than
    ``hA_i`` (what ``E|S|`` and the saturation rates need there).  Minimising the sum of harmonics
    under ``sum e_i = n e0`` gives ``e_i ~ (h_i^2 e0)^(1/3)``, capped where ``P`` stops being the
    binding target; ends where ``P`` does not bind keep ``e0`` (or ``e0 / 100`` when they need no
    harmonic at all).  A heuristic: the rates' error bound is whatever the kernel returns at the
    targets given, summed (the driver checks the sum against ``rate_tol``)."""
    from ._expect_46 import telescoped_stats

    ip = np.nonzero(nd[:, 0])[0]
    sub = (ends[ip], X6[ip], X4[ip])
    e0g = e0 / g[ip]
    h, hA = telescoped_stats(law, loc, scale, fmt, *sub, k, ea[ip], nd[ip], np.minimum(e0g, 1e-3), en[ip],
                             plan=True)
    h, hA = h.astype(float), hA.astype(float)
    n = ip.size
    e = np.full(n, e0)
    e[h <= 0] = 0.01 * e0
    bind = h > 1.02 * hA + 2
    if np.any(bind):
        rest = n * e0 - float(np.sum(e[~bind]))
        c23 = (h[bind] ** 2 * e0) ** (1.0 / 3.0)
        cap = np.where(hA[bind] > 0, e0 * (h[bind] / np.maximum(hA[bind], 1.0)) ** 2, np.inf)
        # water-filling: e = min(cap, mu c23) with sum e = rest (the capped set grows each round)
        capped = np.zeros(c23.size, bool)
        mu = 0.0
        for _ in range(c23.size + 1):
            free = ~capped
            if not np.any(free):
                break
            mu = (rest - float(np.sum(cap[capped]))) / float(np.sum(c23[free]))
            new = free & (mu * c23 > cap)
            if not np.any(new):
                break
            capped |= new
        e[bind] = np.where(capped, cap, mu * c23)
    w = np.ones(g.size)
    w[ip] = e / e0
    return w


def _telescoped_4over6(dist, bf, c, S, tol, rate_tol, rates=True, inversion="series"):
    """Telescoped ``4over6`` (docs/blocks.md §2d): on a piece ``(a, b]`` of the block absmax where
    both candidate scales (and their under/overflow flags) are constant, for any function ``F`` of
    the block, ``E[F; a < M <= b] = G(b)^k E_b[F] - G(a)^k E_a[F]`` with ``E_m`` the expectation
    over ``k`` iid elements with the law of ``xi`` given ``|xi| <= m``.  With ``S = SSE_6 - SSE_4``
    (the rule keeps ``X4`` iff ``S > 0``): ``E min = (E SSE_6 + E SSE_4 - E|S|) / 2`` and the rates
    from ``P(S > 0)`` and ``E[1{xi_1 saturates}; choice]``, all from :mod:`._expect_46`.

    ``inversion="series"`` (default): odd-harmonic Fourier series at ``t_j = j pi / L``, ``E|S|`` and
    the rates at every end in one numba call (:func:`._expect_46.telescoped_stats`, the same series
    and bounds as :func:`._expect_46.endpoint_stats_fs`); ``"integral"``: the Gil-Pelaez t-integral on
    Gauss-Legendre panels (:func:`._expect_46.endpoint_stats`, the earlier method, kept as a
    cross-check).

    Returns (mse, err, Rates4over6 or None, number of endpoints, t nodes)."""
    from ._expect_46 import endpoint_stats, endpoint_stats_fs

    if inversion not in ("series", "integral"):
        raise ValueError(f"inversion must be 'series' or 'integral', got {inversion!r}")
    stats = endpoint_stats_fs if inversion == "series" else endpoint_stats

    k = bf.block
    kp = dist.kernel_params()
    law, loc, scale = int(kp[0]), float(kp[1]), float(kp[2])
    m2 = dist.second_moment()
    S_arg = S if bf.scale_format == "e4m3" else None  # (block_mse rejects a tensor scale the format does not use)
    r6 = block_mse(dist, bf, "round", c=c, tensor_scale=S_arg, tol=1e-12)
    r4 = block_mse(dist, bf, "round", c=1.5 * c, tensor_scale=S_arg, tol=1e-12)
    # the blocks outside [mlo, mhi] are charged 1e-3 tol' E[xi^2] (below): at most 5% of tol relative to the
    # MSE, not to E[xi^2] (NVFP4 k = 1: MSE ~3.5e-4 E[xi^2], so 1e-3 tol E[xi^2] was 2.8e-10 relative;
    # k >= 16 unchanged up to a factor <= 2.7 in tol')
    rrel = min(1.0, 50.0 * 0.5 * (r6.mse + r4.mse) / m2)
    mlo, mhi = _range(dist, k, min(tol, 1e-10) * rrel)
    lmax = bf.lmax
    a, b, X6, u6, o6, X4, u4, o4 = _pieces_4over6(dist, bf, c, S, mlo, mhi)
    Gk_a = np.clip(np.asarray(_G(dist, a), float), 0.0, 1.0) ** k
    Gk_b = np.clip(np.asarray(_G(dist, b), float), 0.0, 1.0) ** k
    P = a.size
    mse_ref = 0.5 * (r6.mse + r4.mse)
    eps_abs = 0.25 * tol * mse_ref * 2 * k / (2 * P)                  # per endpoint, before the G^k weight
    # beyond [mlo, mhi]: the blocks there carry P(M > mhi) + P(M <= mlo) (rates' error, below)
    Gmlo = float(np.clip(_G(dist, np.array(mlo)), 0, 1)) ** k
    Gmhi = float(np.clip(_G(dist, np.array(mhi)), 0, 1)) ** k
    out_mass = (1.0 - Gmhi) + Gmlo
    need_p = (o6 != o4) | (u6 != u4)
    need6 = (X6 > 0) & (X6 * lmax < b)
    need4 = (X4 > 0) & (X4 * lmax < b)
    nrate = max(1, int(np.sum(need_p | need6 | need4)))
    eps_p = 0.5 * rate_tol / (2 * nrate)
    tot = 0.0
    err = 0.0
    sat = 0.0
    ovr = 0.0
    und = 0.0
    rerr = 0.0
    nodes = 0
    if inversion == "series":
        # E|S| and the rates at every end by one numba call (same series and bounds as
        # endpoint_stats_fs; _expect_46.telescoped_stats), summed with the telescoping signs
        from ._expect_46 import telescoped_stats

        ends = np.concatenate([b, a])
        gks = np.concatenate([Gk_b, Gk_a])
        sgn = np.concatenate([np.ones(P), -np.ones(P)])
        ok = gks > 0
        gw = np.where(ok, gks, 1.0)
        ea_all = np.minimum(eps_abs / gw, k * m2)
        # separate budgets: each rate's error is the sum over the ends its own statistic is needed at
        # (overflow / underflow: P(S > 0); saturation: nu6 / nu4).  Rates4over6.error is the larger
        # of the two sums + the mass outside [mlo, mhi], so each sum may use rate_tol - out_mass; the
        # kernel gives each end's tail what its target eps leaves after aliasing and rounding, minus 3%
        # for the characteristic-function and summation errors (~1e-3 eps in practice): target
        # 0.98 (rate_tol - out_mass) per sum, and if the bound returned exceeds rate_tol - out_mass
        # anyway, the ends are recomputed with the targets scaled down.
        n_p = max(1, int(np.sum(need_p)))
        n_nu = max(1, int(np.sum(need6 | need4)))
        avail = max(rate_tol - out_mass - 1e-15, 0.5 * rate_tol)
        nd = np.stack([need_p, need6, need4], axis=1) & bool(rates)
        nd = np.concatenate([nd, nd])
        ends_ok, X6e, X4e = ends[ok], np.concatenate([X6, X6])[ok], np.concatenate([X4, X4])[ok]
        g, sg, ndk = gks[ok], sgn[ok], nd[ok]
        fp = fn = 0.98
        wp = np.ones(g.size)
        if rates and np.any(ndk[:, 0]):
            wp = _split_p_budget(law, loc, scale, bf.fmt, ends_ok, X6e, X4e, k, ea_all[ok], ndk, g,
                                 fp * avail / (2 * n_p), fn * avail / (2 * n_nu) / gw[ok])
        for _ in range(4):
            ep_all = np.ones(gw.size)
            ep_all[ok] = np.minimum(fp * avail / (2 * n_p) * wp / g, 1e-3)
            en_all = np.minimum(fn * avail / (2 * n_nu) / gw, 1e-3)
            res = telescoped_stats(law, loc, scale, bf.fmt, ends_ok, X6e, X4e, k, ea_all[ok], ndk,
                                   ep_all[ok], en_all[ok])
            if not rates:
                break
            ep_sum = float(np.sum(g * np.where(ndk[:, 0], res.err_p, 0.0)))
            en_sum = float(np.sum(g * np.where(ndk[:, 1] | ndk[:, 2], res.err_nu, 0.0)))
            if ep_sum <= avail and en_sum <= avail:
                break
            if ep_sum > avail:
                fp *= 0.9 * avail / ep_sum
            if en_sum > avail:
                fn *= 0.9 * avail / en_sum
        tot = float(np.sum(sg * g * res.abs_S))
        err = float(np.sum(g * res.err_abs))
        nodes = int(np.sum(res.harmonics))
        if rates:
            o6e, o4e = np.concatenate([o6, o6])[ok], np.concatenate([o4, o4])[ok]
            u6e, u4e = np.concatenate([u6, u6])[ok], np.concatenate([u4, u4])[ok]
            Pp = np.where(ndk[:, 0], res.P_pos, 0.0)
            ovr = float(np.sum(sg * g * np.where(ndk[:, 0], o6e * (1.0 - Pp) + o4e * Pp, o6e)))
            und = float(np.sum(sg * g * np.where(ndk[:, 0], u6e * (1.0 - Pp) + u4e * Pp, u6e)))
            sat = float(np.sum(sg * g * (np.where(ndk[:, 1], res.nu6_le, 0.0) + np.where(ndk[:, 2], res.nu4_pos, 0.0))))
            rerr = max(float(np.sum(g * np.where(ndk[:, 0], res.err_p, 0.0))),
                       float(np.sum(g * np.where(ndk[:, 1] | ndk[:, 2], res.err_nu, 0.0))))
    for i in range(P if inversion != "series" else 0):
        for m, Gk, sg in ((b[i], Gk_b[i], 1.0), (a[i], Gk_a[i], -1.0)):
            if Gk <= 0:
                continue
            nd = (bool(need_p[i]) and rates, bool(need6[i]) and rates, bool(need4[i]) and rates)
            ea = min(eps_abs / Gk, k * m2)
            ep = min(eps_p / Gk, 1e-3)
            absS, Ppos, nu6, nu4, eA, eP, nt = stats(law, loc, scale, bf.fmt, float(m), float(X6[i]),
                                                     float(X4[i]), k, ea, ep, nd)
            nodes += nt
            tot += sg * Gk * absS
            err += Gk * eA
            if rates:
                if nd[0]:
                    ovr += sg * Gk * (o6[i] * (1.0 - Ppos) + o4[i] * Ppos)
                    und += sg * Gk * (u6[i] * (1.0 - Ppos) + u4[i] * Ppos)
                else:
                    ovr += sg * Gk * o6[i]
                    und += sg * Gk * u6[i]
                if nd[1]:
                    sat += sg * Gk * nu6
                if nd[2]:
                    sat += sg * Gk * nu4
                rerr += Gk * (eP if any(nd) else 0.0)
    mse = mse_ref - tot / (2 * k)
    err_m = (err / (2 * k) + 0.5 * (r6.error_estimate + r4.error_estimate) + 1e-3 * tol * rrel * m2
             + 20 * np.finfo(float).eps * mse)
    R = None
    if rates:
        # beyond [mlo, mhi]: both candidates overflow above mhi iff X6 does (nested thresholds);
        # below mlo: both underflow iff X4 does; the blocks there carry P(M > mhi) + P(M <= mlo)
        top = 1.0 - Gmhi
        if o6[-1]:
            ovr += top
        if u4[0]:
            und += Gmlo
        R = Rates4over6(float(sat), float(und), float(ovr), float(rerr + out_mass + 1e-15))
    return mse, err_m, R, 2 * P, nodes


def block_mse_4over6_fast(dist, fmt="nvfp4", *, block=None, c: float = 1.0, tensor_scale=None, tol: float = 1e-10,
                          rate_tol: float = 1e-9, rates: bool = True):
    """Exact ``4over6`` expectation by telescoping over the block-absmax pieces (docs/blocks.md §2d),
    Normal and Laplace laws.  Returns ``(BlockMSE, Rates4over6 or None)``: ``mse`` to ``tol``
    relative (``error_estimate`` absolute), and the saturation / scale underflow / overflow rates of
    the chosen scale to ``rate_tol`` absolute (``rates=False`` skips them: faster).

    Per piece end ``m`` the statistics of ``S = SSE_6 - SSE_4`` come from the characteristic
    function of one element's error difference in closed form (Faddeeva function / exponentials per
    cell), the one-non-atom-element term exactly, and a rigorous tail bound (:mod:`._expect_46`),
    inverted by an odd-harmonic Fourier series at ``t_j = j pi / L`` with a Chernoff bound of the
    aliasing (:func:`._expect_46.endpoint_stats_fs`, docs/blocks.md §2d2)."""
    dist = _check_law(dist)
    bf = get_block_format(fmt, block=block)
    r = check_rule("4over6", bf)
    if bf.scale_format != "e4m3":
        raise ValueError("block_mse_4over6_fast needs E4M3 block scales (NVFP4); use block_mse_4over6")
    kp = dist.kernel_params()
    if kp is None or kp[3] or kp[0] not in (0, 1):
        raise ValueError("block_mse_4over6_fast supports Normal and Laplace laws; use block_mse_4over6 for others")
    check_clip_multiplier(c)
    if not (isinstance(tol, float) and 1e-13 <= tol < 1e-2):
        raise ValueError(f"tol must be a float in [1e-13, 1e-2), got {tol!r}")
    if not (isinstance(rate_tol, float) and 1e-13 <= rate_tol < 1e-2):
        raise ValueError(f"rate_tol must be a float in [1e-13, 1e-2), got {rate_tol!r}")
    S = default_tensor_scale(dist, bf) if tensor_scale is None else float(tensor_scale)
    if not (math.isfinite(S) and S > 0):
        raise ValueError(f"tensor_scale must be a finite number > 0, got {tensor_scale!r}")
    mse, err, R, _, _ = _telescoped_4over6(dist, bf, float(c), S, tol, rate_tol, rates)
    m2 = dist.second_moment()
    nan = float("nan")
    bm = BlockMSE(mse, 10 * math.log10(m2 / mse), R.saturation if R else nan, R.scale_underflow if R else nan,
                  R.scale_overflow if R else nan, err, r, bf.block, float(c), S)
    return bm, R


class RateBracket(NamedTuple):
    """Two-sided brackets ``(lo, hi)`` of the ``4over6`` rates (each a probability):
    ``saturation`` (fraction of elements clipped), ``scale_underflow`` / ``scale_overflow``
    (fraction of blocks), and the exact rates of the two candidates they are built from."""

    saturation: tuple
    scale_underflow: tuple
    scale_overflow: tuple
    candidate6: BlockMSE
    candidate4: BlockMSE


def rates_4over6_bracket(dist, fmt="nvfp4", *, block=None, c: float = 1.0, tensor_scale=None) -> RateBracket:
    """Rigorous brackets of the ``4over6`` saturation and scale under/overflow rates.

    Both candidates are absmax rules (``X6``: ``round`` with ``c``; ``X4``: ``round`` with
    ``1.5 c``) whose rates are exact (:func:`~quanttheory.blocks.expectation.block_mse`).  A block
    keeps one of the two scales, so its scale overflows if both candidates overflow and only if
    one does: ``P(M > t_both) <= rate <= P(M > t_either)``, i.e. ``[min, max]`` of the two
    candidates' exact rates (the thresholds are nested: ``X4 = 1.5 X6`` before E4M3 rounding);
    likewise for underflow.  Saturation: the chosen scale clips at most the elements clipped
    by either candidate, so ``0 <= rate <= sat_6 + sat_4`` (a loose upper bound; the exact
    value needs the joint law of the choice and the clipped elements, not derived here)."""
    from .expectation import block_mse as _bm

    dist = _check_law(dist)
    bf = get_block_format(fmt, block=block)
    check_rule("4over6", bf)
    S = None
    if bf.scale_format == "e4m3":
        S = default_tensor_scale(dist, bf) if tensor_scale is None else float(tensor_scale)
    r6 = _bm(dist, bf, "round", c=c, tensor_scale=S)
    r4 = _bm(dist, bf, "round", c=1.5 * c, tensor_scale=S)
    u = sorted((r6.scale_underflow_rate, r4.scale_underflow_rate))
    o = sorted((r6.scale_overflow_rate, r4.scale_overflow_rate))
    return RateBracket((0.0, min(1.0, r6.saturation_rate + r4.saturation_rate)), tuple(u), tuple(o), r6, r4)


class OracleBracket(NamedTuple):
    """Rigorous bracket of the per-block optimum's expected per-element MSE:
    ``lower <= E[oracle] <= upper``; ``upper_rule`` names the exact absmax rule giving ``upper``;
    ``lower_error`` bounds the quadrature error of ``lower`` (absolute)."""

    lower: float
    upper: float
    upper_rule: str
    lower_error: float


def _union_values(bf, S):
    """Positive values X * |l| over every representable scale X and element level l."""
    from .spec import E8M0_MAX, E8M0_MIN, _positive_values

    lv = np.unique(np.abs(np.asarray(bf.fmt.levels, float)))
    lv = lv[lv > 0]
    if bf.scale_format == "e8m0":
        sc = np.exp2(np.arange(E8M0_MIN, E8M0_MAX + 1, dtype=float))
    elif bf.scale_format == "e4m3":
        sc = S * np.asarray(_positive_values("e4m3"))
    else:
        sc = np.asarray(_positive_values("fp16"))
    return np.unique(np.outer(sc, lv).ravel())


def oracle_bracket(dist, fmt, *, block=None, tensor_scale=None) -> OracleBracket:
    """Two-sided bracket of the ``oracle`` expectation (per-block optimal scale) for iid ``dist``.

    Upper: the best exact absmax rule (``floor``, ``ceil``, ``round``, ``clip``; each picks one
    feasible scale per block, the oracle picks the best).  Lower: the oracle's block error is
    ``min_X sum_i e(x_i, X) >= sum_i min_X e(x_i, X)``, so per element ``E[oracle] >=
    E[dist(xi, V)^2]`` with ``V = {0} U {X l}`` over every representable scale ``X`` and element
    level ``l`` (each element with its own best scale).  That is a 1-D integral over the Voronoi
    cells of ``V`` (Gauss-Legendre 16 and 32 points per cell; ``lower_error`` = their difference
    + the mass outside ``|x| <= 60 sd`` times its second moment).  Real scales: ``V`` is dense,
    the lower bound is 0."""
    from .expectation import block_mse as _bm

    dist = _check_law(dist)
    bf = get_block_format(fmt, block=block)
    S = 1.0
    if bf.scale_format == "e4m3":
        S = default_tensor_scale(dist, bf) if tensor_scale is None else float(tensor_scale)
    best = None
    for rule in ("floor", "ceil", "round", "clip"):
        r = _bm(dist, bf, rule, tensor_scale=S if bf.scale_format == "e4m3" else None)
        if best is None or r.mse < best[0]:
            best = (r.mse, rule)
    if bf.scale_format == "real":
        return OracleBracket(0.0, best[0], best[1], 0.0)
    m2 = dist.second_moment()
    sd = math.sqrt(m2)
    L = 60.0 * sd + abs(float(getattr(dist, "loc", 0.0)))
    v = _union_values(bf, S)
    v = v[(v > 1e-30 * sd) & (v < 2 * L)]
    V = np.concatenate([-v[::-1], [0.0], v])
    mids = 0.5 * (V[:-1] + V[1:])
    cuts = np.unique(np.concatenate([[-L], mids[(mids > -L) & (mids < L)], [L],
                                     [b for b in dist.breakpoints() if -L < b < L]]))
    lo, hi = cuts[:-1], cuts[1:]
    ctr = 0.5 * (lo + hi)
    h = 0.5 * (hi - lo)
    lev = V[np.searchsorted(mids, ctr)]
    vals = []
    for n in (16, 32):
        z, w = np.polynomial.legendre.leggauss(n)
        x = ctr[:, None] + h[:, None] * z
        vals.append(float(np.sum((((x - lev[:, None]) ** 2 * np.asarray(dist.pdf(x), float)) @ w) * h)))
    tail = dist.partial_moment(2, L, math.inf) + dist.partial_moment(2, -math.inf, -L)
    return OracleBracket(vals[1], best[0], best[1], abs(vals[1] - vals[0]) + 4 * tail + 1e-15 * vals[1])
