"""Exact expected per-element MSE of a block-scale rule for iid data.

Blocks of ``k`` iid elements ``xi_i`` with density ``f`` (any continuous
:class:`~quanttheory.laws.Law` without atoms: Normal, Laplace, ...).  A rule that depends
on the block absmax ``M = max_i |xi_i|`` only (``floor``, ``ceil``, ``round``, ``clip``)
gives a scale ``X = r(M)``.  With ``G(m) = P(|xi| <= m)``, ``g(m) = f(m) + f(-m)``,
``e(x, X) = (x - X q(x / X))^2`` and

    T(m, X) = int_{-m}^{m} e(x, X) f(x) dx                       (inner integral),

conditioning on ``M = m`` (density ``k g G^(k-1)``: one element at ``|xi| = m`` with sign
``+`` w.p. ``f(m)/g(m)``, the other ``k - 1`` iid on ``|xi| <= m``) gives the per-element MSE

    MSE = int_0^inf G(m)^(k-1) [f(m) e(m, X) + f(-m) e(-m, X)] dm
        + (k - 1) int_0^inf g(m) G(m)^(k-2) T(m, X) dm,          X = r(m).

The saturation rate (fraction of elements with ``x / X`` outside the element range) is the
same formula with ``e`` replaced by the indicator of saturation; the scale underflow /
overflow rates are ``P(M in {m : r(m) out of range})`` from ``G^k``.

Default (``method="telescoped"``, E8M0 / E4M3 / fp16 scales): on each ``m``-piece where the
scale is constant the integrand is ``d/dm [G^(k-1) T(m, X)]``, so the ``m`` integral is a sum of
end-point values (:func:`_block_mse_telescoped`; compiled cell integrals with rigorous
Bernstein-ellipse quadrature bounds for Normal / Laplace, :mod:`._expect_kernels`).

``method="quadrature"`` (and ``real`` scales): the ``m`` axis is split at every jump of ``r`` (powers of two for E8M0,
midpoints or values of the E4M3 / fp16 scale set) and, inside each piece (``X`` constant),
at every ``m = X mu_j`` (element midpoints and range ends: the integrand's kinks) and the
law's breakpoints; on each panel 16-point Gauss-Legendre, bisected until the 1-panel and
2-half-panel values agree (``|diff|`` summed is ``error_estimate``; target ``tol``
relative).  ``T`` is the sum over the element format's rounding cells (split at 0 and at
the law's breakpoints) of 16-point Gauss-Legendre of ``(u - l_j)^2 f(X u) X^3`` in grid
units ``u``: the integrand is a polynomial times a smooth density on each cell, so this is
at the double-precision floor for the laws here (checked against adaptive ``quad``).
``m`` is truncated to ``[m_lo, m_hi]`` with the neglected mass bounded below ``1e-16``
relative.

``4over6`` and ``oracle`` depend on the whole block, not only ``M``: ``4over6`` is exact
(telescoped series, :mod:`._expect_46`; the m-quadrature in :mod:`.expectation_min`). The ``oracle``
is exact, with its saturation rate, for E8M0 (MX) scales (:mod:`.expectation_oracle`,
docs/blocks.md §2f); for E4M3 / fp16 / real scales (NVFP4, INT4 groups) it has a rigorous bracket
(:func:`~quanttheory.blocks.expectation_min.oracle_bracket`) and :func:`monte_carlo_block_mse`
estimates it (with a standard error).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .spec import (BlockFormat, _positive_values, block_scales, check_clip_multiplier, check_rule, get_block_format,
                   reject_unused_tensor_scale)

_GL_N = 16


@lru_cache(maxsize=1)
def _gl():
    z, w = np.polynomial.legendre.leggauss(_GL_N)
    return z, w


class BlockMSE(NamedTuple):
    """Expected per-element error of a block rule: ``mse`` (data units^2), ``sqnr_db =
    10 log10(E[xi^2] / mse)``, ``saturation_rate`` (fraction of elements clipped),
    ``scale_underflow_rate`` / ``scale_overflow_rate`` (fraction of blocks), ``error_estimate``
    (absolute, on ``mse``), the ``rule``, block size ``k``, clip multiplier ``c``, and the NVFP4
    tensor scale ``tensor_scale`` (1 when unused)."""

    mse: float
    sqnr_db: float
    saturation_rate: float
    scale_underflow_rate: float
    scale_overflow_rate: float
    error_estimate: float
    rule: str
    k: int
    c: float
    tensor_scale: float


def _check_law(dist):
    from ..laws.base import Law

    if not isinstance(dist, Law):
        raise TypeError(f"dist must be a quanttheory law (Normal, Laplace, ...), got {type(dist).__name__}")
    if not dist.has_density or dist.atoms() or dist.point_mass > 0:
        raise ValueError("block expectations need a law with a density and no point masses (Normal, Laplace); "
                         "for ReLU-type laws or data use block_data_report on samples")
    # The exact paths work in data units with E[xi^2], sd = sqrt(E[xi^2]) and their products (tol * E[xi^2],
    # cell integrals X^3 f): outside sd in [2^-460, 2^460] these underflow into subnormals or overflow.  Before
    # 2026-12-01 N(0, 2^-500) came out 0.58 % low with no error and N(0, 1e-200) hung (E[xi^2] = 1e-400 = 0,
    # so the bracket hi = sd = 0 of default_tensor_scale / _range doubled 0 forever): docs/audit.md finding 30.
    try:
        m2 = float(dist.second_moment())
    except OverflowError:  # Normal(0, 1e200): scale**2 on Python floats raises (errno 34) instead of giving inf
        m2 = math.inf
    if not (_M2_MIN <= m2 <= _M2_MAX):
        raise ValueError(
            f"block expectations need E[xi^2] between 2^-920 and 2^920 (standard deviation between 2^-460 ~ 3e-139 "
            f"and 2^460 ~ 3e138) to be exact in float64 (the products it forms would underflow or overflow); this law "
            f"has E[xi^2] = {m2!r}.  Rescale the law by a power of two 2^j: with real or E4M3 block "
            "scales and the tensor_scale rescaled by the same 2^j, mse scales by exactly 4^j; E8M0 (MX) and FP16 "
            "scales have a fixed range, so at such magnitudes every block underflows (mse = E[xi^2]) or overflows")
    return dist


_M2_MIN = 2.0 ** -920
_M2_MAX = 2.0 ** 920


def _G(dist, m):
    """P(|xi| <= m) for m >= 0, computed as 1 - P(xi > m) - P(xi < -m)."""
    return 1.0 - np.asarray(dist.sf(m), float) - np.asarray(dist.cdf(-m), float)


def default_tensor_scale(dist, bf: BlockFormat, n_tensor: int = 1 << 24) -> float:
    """NVFP4 tensor scale ``S = amax / (448 * 6)`` with ``amax`` the median of the max of
    ``n_tensor`` (default 2^24, a 4096 x 4096 matrix) iid ``|xi|``."""
    from scipy import optimize

    # P(|xi| > amax) at the median of the max: 1 - 2^(-1/n); as expm1 (1 - 0.5 ** (1/n) cancels 7 digits)
    q = -math.expm1(-math.log(2.0) / n_tensor)
    _check_law(dist)  # E[xi^2] in [2^-920, 2^920]: else sd = 0 and the doubling below never ends (finding 30)
    sd = math.sqrt(dist.second_moment())
    hi = sd
    while dist.sf(hi) + dist.cdf(-hi) > q:
        hi *= 2
    amax = optimize.brentq(lambda m: float(dist.sf(m) + dist.cdf(-m)) - q, 0.0, hi, xtol=1e-14 * hi)
    return amax / (448.0 * bf.lmax)


def _cell_integrals(dist, fmt, X, a, b):
    """int_a^b (u - l)^2 f(X u) X^3 du over cells [a, b] (arrays, same shape) lying inside one
    rounding cell each (level l = nearest level of the centre)."""
    z, w = _gl()
    mids = np.asarray(fmt.midpoints, float)
    lv = np.asarray(fmt.levels, float)
    c = 0.5 * (a + b)
    h = 0.5 * (b - a)
    lev = lv[np.searchsorted(mids, c)]
    u = c[..., None] + h[..., None] * z
    Xb = np.broadcast_to(np.asarray(X)[..., None], u.shape) if np.ndim(X) else X
    fx = dist.pdf((Xb * u).ravel()).reshape(u.shape)
    return (((u - lev[..., None]) ** 2 * fx) @ w) * h * np.asarray(X) ** 3


def _inner_T(dist, fmt, m, X, lawbp):
    """T(m, X) = int_{-m}^{m} (x - X q(x/X))^2 f(x) dx for node arrays m, X (X > 0).

    Complete rounding cells are integrated once per distinct X (cumulative sums); each node
    adds its two partial end cells."""
    mids = np.asarray(fmt.midpoints, float)
    t = m / X
    Xu, inv = np.unique(X, return_inverse=True)
    U = Xu.size
    tmax = np.zeros(U)
    np.maximum.at(tmax, inv, t)
    cols = [np.broadcast_to(mids, (U, mids.size)), np.zeros((U, 1)), -tmax[:, None], tmax[:, None]]
    cols += [(np.full(U, bp) / Xu)[:, None] for bp in lawbp]
    edges = np.sort(np.concatenate(cols, axis=1), axis=1)
    full = _cell_integrals(dist, fmt, Xu[:, None], edges[:, :-1], edges[:, 1:])
    cum = np.concatenate([np.zeros((U, 1)), np.cumsum(full, axis=1)], axis=1)
    er = edges[inv]
    hi = np.sum(er <= t[:, None], axis=1) - 1          # e_hi <= t < e_hi+1 (t = tmax: last edge)
    lo = np.sum(er <= -t[:, None], axis=1) - 1         # e_lo <= -t < e_lo+1
    hi = np.minimum(hi, er.shape[1] - 2)
    r = np.arange(t.size)
    e_hi = er[r, hi]
    e_lo1 = er[r, lo + 1]
    same = lo == hi
    pa = np.where(same, -t, e_hi)
    pb = t
    qa = -t
    qb = np.where(same, -t, e_lo1)
    part = _cell_integrals(dist, fmt, X, pa, pb) + _cell_integrals(dist, fmt, X, qa, qb)
    cum_n = cum[inv]
    middle = np.where(same, 0.0, cum_n[r, hi] - cum_n[r, np.minimum(lo + 1, hi)])
    return middle + part


def _x2_integral(dist, m):
    z, w = _gl()
    out = np.empty(m.size)
    for i, mi in enumerate(m):
        h = 0.5 * mi
        xs = np.concatenate([-h + h * z, h + h * z])
        out[i] = h * np.sum(np.concatenate([w, w]) * xs * xs * dist.pdf(xs))
    return out


def _integrand(dist, bf, rule, c, S, k, m, lawbp):
    """(mse integrand, saturation integrand) at nodes m > 0."""
    fmt = bf.fmt
    X, _, _ = block_scales(m, bf, rule, c=c, tensor_scale=S)
    lo, hi = float(fmt.levels[0]), float(fmt.levels[-1])
    fp = dist.pdf(m)
    fn = dist.pdf(-m)
    g = fp + fn
    G = np.clip(_G(dist, m), 0.0, 1.0)
    pos = X > 0
    Xs = np.where(pos, X, 1.0)
    ep = np.where(pos, (m - Xs * fmt.quantize(m / Xs)) ** 2, m * m)
    en = np.where(pos, (-m - Xs * fmt.quantize(-m / Xs)) ** 2, m * m)
    Gk1 = G ** (k - 1)
    mse = Gk1 * (fp * ep + fn * en)
    # saturated: x / X beyond the range; 1e-12 relative slack so that real scales X = m lmax / c
    # with c = 1 (t = m / X = lmax up to rounding) are not counted by floating-point noise
    # (only for real scales: elsewhere the panels are split exactly at t = hi, |lo|)
    slack = 1e-12 if bf.scale_format == "real" else 0.0
    satp = np.where(pos, m / Xs > hi * (1 + slack), False)
    satn = np.where(pos, -m / Xs < lo * (1 + slack), False)
    sat = Gk1 * (fp * satp + fn * satn)
    if k > 1:
        T = np.empty(m.size)
        if pos.any():
            T[pos] = _inner_T(dist, fmt, m[pos], X[pos], lawbp)
        if (~pos).any():
            T[~pos] = _x2_integral(dist, m[~pos])
        wgt = (k - 1) * g * G ** (k - 2)
        mse = mse + wgt * T
        # P(X hi < xi <= m) + P(-m <= xi < X lo), saturated elements among the k-1 others
        ps = np.where(satp, dist.cdf(m) - dist.cdf(Xs * hi), 0.0)
        ns = np.where(satn, dist.cdf(Xs * lo) - dist.cdf(-m), 0.0)
        sat = sat + wgt * (ps + ns)
    return mse, sat


def _jumps(bf: BlockFormat, rule: str, c: float, S: float, mlo: float, mhi: float) -> np.ndarray:
    """m values in (mlo, mhi) where the rule's scale jumps."""
    lmax = bf.lmax
    if bf.scale_format == "real":
        return np.empty(0)
    if bf.scale_format == "e8m0":
        factor = 1.0 if rule == "floor" else math.sqrt(2.0) if rule == "round" else lmax / c
        jlo = math.floor(math.log2(mlo / factor)) - 1
        jhi = math.ceil(math.log2(mhi / factor)) + 1
        pts = np.exp2(np.arange(jlo, jhi + 1, dtype=float)) * factor
    else:
        vals = np.asarray(_positive_values("e4m3" if bf.scale_format == "e4m3" else "fp16"))
        if rule == "floor" or rule == "ceil":
            pts = vals
        else:
            pts = np.concatenate([[vals[0] / 2], 0.5 * (vals[:-1] + vals[1:])])
        pts = pts * S * lmax / c
    return pts[(pts > mlo) & (pts < mhi)]


def _range(dist, k, tol, rate_tol=None):
    m2 = dist.second_moment()
    sd = math.sqrt(m2)
    # upper: k E[xi^2; |xi| > m] < 1e-3 tol E[xi^2]
    hi = sd
    if _tails2_batch(dist, np.array([hi])) is None:
        while k * (dist.partial_moment(2, hi, math.inf) + dist.partial_moment(2, -math.inf, -hi)) > 1e-3 * tol * m2:
            hi *= 1.25
    else:
        # Student t / GenNormal: the same steps, 48 candidates per vectorized call (docs/blocks.md §2i3)
        while True:
            his = [hi]
            for _ in range(47):
                his.append(his[-1] * 1.25)
            R, L = _tails2_batch(dist, np.array(his))
            stop = next((i for i in range(len(his)) if not k * (float(R[i]) + float(L[i])) > 1e-3 * tol * m2), None)
            if stop is not None:
                hi = his[stop]
                break
            hi = his[-1] * 1.25
    # lower: every error is <= (2 M)^2 when M < m_lo; 4 m_lo^2 G(m_lo)^k < 1e-3 tol E[xi^2].  The
    # rates need more: the blocks with M < m_lo carry a negligible error but not a negligible
    # saturation (at k = 1 with the floor rule ~40 % of their elements saturate), so also
    # P(M < m_lo) = G(m_lo)^k <= 1e-3 rate_tol (absolute, rates are fractions).  Before 2026-11-30 only
    # the first condition was used and saturation_rate came out low by up to P(M < m_lo) (3e-6 for
    # N(0,1), MXFP4 floor, k = 1; 1.2e-4 for GenNormal(0.3)): docs/audit.md finding 9.
    # (``rate_tol``: the absmax rules' rates; the MX oracle extends its own range the same way)
    lo = sd
    while (4 * lo * lo * float(_G(dist, lo)) ** k > 1e-3 * tol * m2
           or (rate_tol is not None and float(np.clip(_G(dist, lo), 0.0, 1.0)) ** k > 1e-3 * rate_tol)):
        lo *= 0.5
    return lo, hi


def _tails2_batch(dist, his):
    """``(partial_moment(2, h, inf), partial_moment(2, -inf, -h))`` for every ``h`` of ``his`` (``> 0``) for a
    Student t / GenNormal law (``laws.heavy._Shape``): the arithmetic of ``_Shape.partial_moment`` and
    ``_std_partial`` elementwise, with one ``upper_moments`` call for all end points (the same numbers;
    ``tests/test_block_46_generic_fast2.py``); None for other laws."""
    from ..laws.heavy import _Shape

    if not isinstance(dist, _Shape):
        return None
    from ..risk.heavy import upper_moments

    m, c = dist.loc, dist.scale
    zR = (his - m) / c                          # right tail: za = (h - m) / c, zb = inf
    zL = (-his - m) / c                         # left tail: za = -inf, zb = (-h - m) / c
    az = np.abs(np.concatenate([zR, zL]))
    S = upper_moments(dist.law, dist._shape(), az)
    n = his.size
    PR, PL = [], []
    for j in range(3):
        Sj = np.asarray(S[j], float)
        uR, uL = Sj[:n], Sj[n:]
        Mj = dist._std_moment(j)
        sg = (-1) ** j
        # G(z) = up(z) (z >= 0), Mom - (-1)^j up(-z) (z < 0); right: G(zR) - 0.0
        PR.append(np.where(zR >= 0, uR, Mj - sg * uR) - 0.0)
        # left: zb <= 0: (-1)^j (G(-zb) - G(inf)) = (-1)^j (up(-zb) - 0.0); zb > 0: Mom - G(zb) = Mom - up(zb)
        PL.append(np.where(zL <= 0, sg * (uL - 0.0), Mj - uL))
    R = m * m * PR[0] + 2 * m * c * PR[1] + c * c * PR[2]
    L = m * m * PL[0] + 2 * m * c * PL[1] + c * c * PL[2]
    return R, L


def _panels(dist, bf, rule, c, S, mlo, mhi):
    jumps = _jumps(bf, rule, c, S, mlo, mhi)
    edges = np.concatenate([[mlo], jumps, [mhi]])
    fmt = bf.fmt
    kinks_u = np.unique(np.abs(np.concatenate([fmt.midpoints, [fmt.levels[0], fmt.levels[-1]]])))
    lawbp = [abs(b) for b in dist.breakpoints()]
    pts = [edges]
    if bf.scale_format != "real":
        mid = 0.5 * (edges[:-1] + edges[1:])
        X, _, _ = block_scales(mid, bf, rule, c=c, tensor_scale=S)
        kk = (X[:, None] * kinks_u[None, :]).ravel()
        pts.append(kk)
    pts.append(np.array(lawbp))
    allp = np.unique(np.concatenate(pts))
    allp = allp[(allp >= mlo) & (allp <= mhi)]
    return allp


def _gl_panels(fun, a, b):
    z, w = _gl()
    h = 0.5 * (b - a)
    x = (0.5 * (a + b))[:, None] + h[:, None] * z
    v1, v2 = fun(x.ravel())
    v1 = v1.reshape(x.shape) @ w * h
    v2 = v2.reshape(x.shape) @ w * h
    return v1, v2


def block_mse(dist, fmt, rule=None, *, block=None, scale_format=None, c: float = 1.0, tensor_scale=None,
              tol: float = 1e-11, max_rounds: int = 30, method: str = "telescoped") -> BlockMSE:
    """Exact expected per-element MSE of a block-scale rule for iid ``dist`` (see module doc).

    Parameters
    ----------
    dist : Law
        ``Normal(loc, scale)``, ``Laplace(loc, scale)`` (any law with a density, no atoms).
    fmt : str or BlockFormat
        ``"mxfp4"``, ``"mxfp8_e4m3"``, ``"nvfp4"``, ``"int4_g128"`` ... (see
        :func:`~quanttheory.blocks.get_block_format`); ``block`` / ``scale_format`` override.
    rule : {"floor", "ceil", "round", "clip"} or None (the format's default rule)
    c : float
        Clip multiplier (``clip``; scales the target ``c M / lmax`` of ``ceil``/``round``
        for non-E8M0 scales).
    tensor_scale : float or None
        NVFP4's FP32 tensor scale ``S`` (default :func:`default_tensor_scale`); a ``ValueError``
        for formats without E4M3 block scales (their scale is not multiplied by a tensor scale).
    tol : float
        Target relative accuracy of ``mse`` (the returned ``error_estimate`` is absolute).
    """
    dist = _check_law(dist)
    bf = get_block_format(fmt, block=block, scale_format=scale_format)
    r = check_rule(rule, bf)
    reject_unused_tensor_scale(bf, tensor_scale)
    if r == "4over6" and bf.scale_format == "e8m0":
        # E8M0 ``round`` is E = round(log2 M) - emax whatever the multiplier: both candidates
        # (c and 1.5 c) are the same scale, so 4-over-6 *is* ``round`` block by block (spec.py;
        # tests/test_block_expectation_46_rates.py checks quantize_blocks and the value).
        res = block_mse(dist, bf, "round", c=c, tensor_scale=tensor_scale, tol=tol, max_rounds=max_rounds,
                        method=method)
        return res._replace(rule="4over6")
    if r == "4over6":
        from .expectation_min import block_mse_4over6, block_mse_4over6_fast

        kp = dist.kernel_params()
        if bf.scale_format == "e4m3" and kp is not None and not kp[3] and kp[0] in (0, 1) and method == "telescoped":
            # telescoped, with exact rates (docs/blocks.md §2d)
            return block_mse_4over6_fast(dist, bf, c=c, tensor_scale=tensor_scale, tol=max(tol, 1e-10))[0]
        # other laws: telescoped with Legendre cells for k >= 3 where the law is supported (docs/blocks.md §2i),
        # else (and with method='quadrature') the m-quadrature of §2b
        return block_mse_4over6(dist, bf, c=c, tensor_scale=tensor_scale, tol=max(tol, 1e-10),
                                method="quadrature" if method == "quadrature" else None)
    if r == "oracle":
        if bf.scale_format == "e8m0":
            # exact for MX formats where the candidate-set check passes (docs/blocks.md §2f)
            from .expectation_oracle import block_mse_oracle

            return block_mse_oracle(dist, bf, tol=min(max(tol, 1e-10), 1e-4))
        raise ValueError(f"rule {r!r} with {bf.scale_format} scales depends on every element of the block: no exact "
                         "expectation (exact only for E8M0 / MX formats); use monte_carlo_block_mse (Monte Carlo "
                         "with a standard error) and oracle_bracket")
    check_clip_multiplier(c)
    if not (isinstance(tol, float) and 1e-15 <= tol < 1e-2):
        raise ValueError(f"tol must be a float in [1e-15, 1e-2), got {tol!r}")
    if method not in ("telescoped", "quadrature"):
        raise ValueError(f"method must be 'telescoped' or 'quadrature', got {method!r}")
    k = bf.block
    S = 1.0
    if bf.scale_format == "e4m3":
        S = default_tensor_scale(dist, bf) if tensor_scale is None else float(tensor_scale)
        if not (math.isfinite(S) and S > 0):
            raise ValueError(f"tensor_scale must be a finite number > 0, got {tensor_scale!r}")
    m2 = dist.second_moment()
    if bf.scale_format != "real" and method == "telescoped":
        mse, total_sat, err = _block_mse_telescoped(dist, bf, r, float(c), S, k, tol)
        under, over = _range_failures(dist, bf, r, float(c), S, k)
        return BlockMSE(mse, 10 * math.log10(m2 / mse) if mse > 0 else math.inf, total_sat, under, over, err, r,
                        k, float(c), S)
    mlo, mhi = _range(dist, k, tol, rate_tol=tol)
    edges = _panels(dist, bf, r, float(c), S, mlo, mhi)
    lawbp = tuple(float(b) for b in dist.breakpoints())

    def fun(x):
        return _integrand(dist, bf, r, float(c), S, k, x, lawbp)

    a, b = edges[:-1], edges[1:]
    total = 0.0
    total_sat = 0.0
    err = 0.0
    m2 = dist.second_moment()
    # first guess of the magnitude for the absolute target
    for _ in range(max_rounds):
        if a.size == 0:
            break
        mid = 0.5 * (a + b)
        w1, s1 = _gl_panels(fun, a, b)
        wl, sl = _gl_panels(fun, a, mid)
        wr, sr = _gl_panels(fun, mid, b)
        two = wl + wr
        d = np.abs(two - w1) + 1e-3 * np.abs((sl + sr) - s1) * m2
        scale = max(abs(total) + float(np.sum(np.abs(two))), 1e-300)
        ok = d <= tol * scale * np.maximum((b - a) / (mhi - mlo), 1e-3)
        # panels narrower than 1e-13 relative: a scale jump computed 1 ulp away from its
        # breakpoint; their whole contribution is below width * max integrand (kept in err)
        ok |= (b - a) <= 1e-13 * b
        total += float(np.sum(two[ok]))
        total_sat += float(np.sum((sl + sr)[ok]))
        err += float(np.sum(d[ok]))
        a, b = np.concatenate([a[~ok], mid[~ok]]), np.concatenate([mid[~ok], b[~ok]])
    else:
        pass
    if a.size:
        raise RuntimeError("block_mse: quadrature did not converge; report this with the arguments")
    # scale range failures: P(M in set) from the CDF of M = G^k at the thresholds
    under, over = _range_failures(dist, bf, r, float(c), S, k)
    mse = total
    return BlockMSE(mse, 10 * math.log10(m2 / mse) if mse > 0 else math.inf, total_sat, under, over,
                    err + 1e-3 * tol * m2, r, k, float(c), S)


def _range_failures(dist, bf, rule, c, S, k):
    from .spec import E8M0_MAX, E8M0_MIN

    def P_le(m):
        return float(np.clip(_G(dist, np.array(m)), 0, 1)) ** k if m > 0 else 0.0

    lmax = bf.lmax
    if bf.scale_format == "e8m0":
        # E < E8M0_MIN  <=> M < threshold ; E > E8M0_MAX <=> M >= threshold
        if rule == "floor":
            tu, to = 2.0 ** (E8M0_MIN + bf.emax), 2.0 ** (E8M0_MAX + bf.emax + 1)
        elif rule == "round":
            tu, to = 2.0 ** (E8M0_MIN + bf.emax - 0.5), 2.0 ** (E8M0_MAX + bf.emax + 0.5)
        else:
            tu, to = 2.0 ** (E8M0_MIN - 1) * lmax / c, 2.0 ** E8M0_MAX * lmax / c
        return P_le(tu), 1.0 - P_le(to) if math.isfinite(to) else 0.0
    if bf.scale_format == "real":
        return 0.0, 0.0
    vals = _positive_values("e4m3" if bf.scale_format == "e4m3" else "fp16")
    Ss = S if bf.scale_format == "e4m3" else 1.0
    if rule == "floor":
        tu = vals[0]
    elif rule == "ceil":
        tu = 0.0
    else:
        tu = vals[0] / 2
    return P_le(tu * Ss * lmax / c), 1.0 - P_le(vals[-1] * Ss * lmax / c)


def monte_carlo_block_mse(dist, fmt, rule=None, *, n: int = 10 ** 7, rng=None, block=None, scale_format=None,
                          c: float = 1.0, tensor_scale=None, chunk: int = 1 << 20):
    """Monte Carlo estimate of the per-element MSE: ``(mean, standard_error, saturation_rate)``.

    ``n`` elements (rounded up to whole blocks) drawn from ``dist`` with the explicit
    ``rng`` (Generator or int seed), in chunks of ``chunk`` elements; the standard error is
    that of the mean of the per-block errors (blocks are independent).  Works for every rule
    (including ``4over6`` and ``oracle``)."""
    from .._validate import as_generator
    from .data import _oracle_chunk
    from .spec import _block_sse

    dist = _check_law(dist)
    bf = get_block_format(fmt, block=block, scale_format=scale_format)
    r = check_rule(rule, bf)
    if rng is None:
        raise ValueError("pass rng= (a numpy Generator or an int seed): Monte Carlo needs explicit randomness")
    gen = as_generator(rng)
    k = bf.block
    S = 1.0
    if bf.scale_format == "e4m3":
        S = default_tensor_scale(dist, bf) if tensor_scale is None else float(tensor_scale)
    nblocks = -(-int(n) // k)
    per = max(1, chunk // k)
    s1 = s2 = 0.0
    sat = 0
    fmt_e = bf.fmt
    lo, hi = float(fmt_e.levels[0]), float(fmt_e.levels[-1])
    done = 0
    while done < nblocks:
        nb = min(per, nblocks - done)
        xb = np.asarray(dist.sample(gen, nb * k), float).reshape(nb, k)
        M = np.max(np.abs(xb), axis=1)
        if r in ("floor", "ceil", "round", "clip"):
            X, _, _ = block_scales(M, bf, r, c=c, tensor_scale=S)
            e, _ = _block_sse(xb, X, fmt_e)
        elif r == "4over6":
            X6 = block_scales(M, bf, "round", c=c, tensor_scale=S)[0]
            X4 = block_scales(M, bf, "round", c=1.5 * c, tensor_scale=S)[0]
            e6 = _block_sse(xb, X6, fmt_e)[0]
            e4 = _block_sse(xb, X4, fmt_e)[0]
            X = np.where(e4 < e6, X4, X6)
            e = np.minimum(e4, e6)
        else:
            X, _ = _oracle_chunk(xb, bf, S)
            e = _block_sse(xb, X, fmt_e)[0]
        Xs = np.where(X > 0, X, 1.0)[:, None]
        sat += int(np.count_nonzero(((xb / Xs > hi * (1 + 1e-12)) | (xb / Xs < lo * (1 + 1e-12))) & (X > 0)[:, None]))
        e = e / k
        s1 += float(np.sum(e))
        s2 += float(np.sum(e * e))
        done += nb
    mean = s1 / nblocks
    var = max(s2 / nblocks - mean * mean, 0.0)
    return mean, math.sqrt(var / nblocks), sat / (nblocks * k)


def optimal_clip(dist, fmt, *, block=None, scale_format=None, tensor_scale=None, bounds=(0.3, 1.3),
                 tol: float = 1e-9):
    """Clip multiplier ``c`` minimizing :func:`block_mse` with rule ``clip`` (bounded scalar search on
    ``bounds``; for E8M0/E4M3 scales the MSE is piecewise smooth in ``c``, the search is local:
    a grid of 41 values first, then Brent around the best).  Returns ``(c, BlockMSE)``."""
    from scipy import optimize

    grid = np.linspace(bounds[0], bounds[1], 41)
    vals = [block_mse(dist, fmt, "clip", block=block, scale_format=scale_format, c=float(cc),
                      tensor_scale=tensor_scale, tol=1e-10).mse for cc in grid]
    i = int(np.argmin(vals))
    lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    res = optimize.minimize_scalar(
        lambda cc: block_mse(dist, fmt, "clip", block=block, scale_format=scale_format, c=float(cc),
                             tensor_scale=tensor_scale, tol=1e-10).mse,
        bounds=(lo, hi), method="bounded", options={"xatol": tol})
    cbest = float(res.x) if res.fun <= vals[i] else float(grid[i])
    return cbest, block_mse(dist, fmt, "clip", block=block, scale_format=scale_format, c=cbest,
                            tensor_scale=tensor_scale)


# ------------------------------------------------------------------ telescoping (piecewise-constant scales)
def _pieces(dist, bf, rule, c, S, mlo, mhi):
    """m-axis pieces ``[a_p, b_p]`` of [mlo, mhi] on which the scale ``X_p`` is constant."""
    jumps = _jumps(bf, rule, c, S, mlo, mhi)
    e = np.unique(np.concatenate([[mlo], jumps, [mhi]]))
    # a jump computed 1 ulp from another: merge (the piece between carries < width * density)
    keep = np.concatenate([[True], np.diff(e) > 4e-16 * e[1:]])
    e = e[keep]
    e[-1] = mhi
    a, b = e[:-1], e[1:]
    X = block_scales(0.5 * (a + b), bf, rule, c=c, tensor_scale=S)[0]
    return a, b, X


def _T_pairs(dist, fmt, a, b, X, eps_cell=(0.0, 0.0), n_gl=_GL_N):
    """Per piece p: ``T(a_p, X_p)``, the shell ``T(b_p, X_p) - T(a_p, X_p)`` (integrated
    directly, no cancellation) and their Gauss-Legendre error indicators (|16-point - 8-point|
    summed over cells; ``T`` of the module doc, ``0 < a_p < b_p``).

    The cells of piece p are the element format's rounding cells in grid units ``u = x / X_p``
    cut at 0, ``+-a_p / X_p``, ``+-b_p / X_p`` and the law's breakpoints, restricted to
    ``[-b_p / X_p, b_p / X_p]``.  ``X_p = 0`` (scale underflow to zero: every element quantized
    to 0) gives ``T = int x^2 f`` over the same cuts in ``x``.  Normal / Laplace: compiled kernel
    (:mod:`._expect_kernels`, Gauss-Legendre order per cell from a Bernstein-ellipse bound: each
    cell's error <= ``eps_cell[0]`` (cells of T(a); scalar or one per piece) or ``eps_cell[1]``
    (shell), the returned error bounds are rigorous); other laws: the same
    sums vectorized in NumPy, 16-point rule, with |16-point - 8-point| as the (heuristic,
    conservative) error indicator."""
    mids = np.ascontiguousarray(fmt.midpoints, dtype=float)
    lv = np.ascontiguousarray(fmt.levels, dtype=float)
    kp = dist.kernel_params()
    if kp is not None and not kp[3] and kp[0] in (0, 1):
        from ._expect_kernels import tele_pieces

        Z, W = _gl_table()
        return tele_pieces(np.ascontiguousarray(a, float), np.ascontiguousarray(b, float),
                           np.ascontiguousarray(X, float), mids, lv, int(kp[0]), float(kp[1]), float(kp[2]),
                           Z, W, np.log(np.maximum(np.broadcast_to(eps_cell[0], a.shape), 1e-300)),
                           math.log(max(eps_cell[1], 1e-300)))
    # (the NumPy path's nodes only: leggauss costs ~0.5 ms a call, and the oracle calls the kernel path 10-20 times)
    z1, w1 = np.polynomial.legendre.leggauss(n_gl)
    z2, w2 = np.polynomial.legendre.leggauss(n_gl // 2)
    lawbp = tuple(float(bp) for bp in dist.breakpoints())
    P = a.size
    pos = X > 0
    Xs = np.where(pos, X, 1.0)
    ta, tb = a / Xs, b / Xs
    # the saturation cells are also cut at twice the range ends (2 l_max, 2 l_min): beyond, the cell
    # (possibly out to m_hi ~ 1e15 for heavy tails) is integrated exactly from partial moments
    zc = np.where(pos, 1.0, 0.0)[:, None]
    cols = [np.where(pos[:, None], mids[None, :], 0.0), np.zeros((P, 1)), -ta[:, None], ta[:, None],
            -tb[:, None], tb[:, None], 2 * lv[-1] * zc, 2 * lv[0] * zc]
    cols += [(np.full(P, bp) / Xs)[:, None] for bp in lawbp]
    ed = np.sort(np.concatenate(cols, axis=1), axis=1)
    ed = np.clip(ed, -tb[:, None], tb[:, None])
    lo, hi = ed[:, :-1], ed[:, 1:]
    ctr = 0.5 * (lo + hi)
    h = 0.5 * (hi - lo)
    lev = np.where(pos[:, None], lv[np.searchsorted(mids, ctr)], 0.0)
    inner = np.abs(ctr) < ta[:, None]
    # exact cells (docs/blocks.md §2g): level 0 (integrand x^2 f: the cells at 0, every cell of an
    # underflowed scale X = 0) and the saturation cells beyond 2 l_max / 2 l_min (|x - l| >= |x| / 2 there:
    # the expansion in partial moments cancels at most a factor ~9).  Gauss-Legendre on the others:
    # bounded cells (in grid units) away from 0 where the density is analytic.
    ex = (h > 0) & ((lev == 0.0) | (lo >= 2 * lv[-1] * (1 - 1e-15)) | (hi <= 2 * lv[0] * (1 - 1e-15)))
    vals = []
    gl = (h > 0) & ~ex
    ig = np.nonzero(gl)
    c_g, h_g = ctr[ig], h[ig]
    lev_g = lev[ig]
    Xg = Xs[ig[0]]
    for z, w in ((z1, w1), (z2, w2)):
        u = c_g[:, None] + h_g[:, None] * z
        fx = np.asarray(dist.pdf((Xg[:, None] * u).ravel()), float).reshape(u.shape)
        v = np.zeros(ctr.shape)
        v[ig] = (((u - lev_g[:, None]) ** 2 * fx) @ w) * h_g * Xg ** 3
        vals.append(v)
    cell = vals[0]
    ge = np.abs(vals[0] - vals[1])
    ie = np.nonzero(ex)
    if ie[0].size:
        Xe = np.where(pos[ie[0]], Xs[ie[0]], 1.0)
        ce, cerr = _cell_sq_moment(dist, lo[ie] * Xe, hi[ie] * Xe, lev[ie] * Xe)
        cell[ie] = ce
        ge[ie] = cerr
    return (np.sum(np.where(inner, cell, 0.0), axis=1), np.sum(np.where(inner, 0.0, cell), axis=1),
            np.sum(np.where(inner, ge, 0.0), axis=1), np.sum(np.where(inner, 0.0, ge), axis=1))


def _std_upper(dist, z):
    """``(S0, S1, S2)``, ``S_j(z) = E[Z^j; Z > z]`` (``z >= 0``, array) of the standardized law of
    ``dist = loc + scale Z`` (Z symmetric), and the moments ``(1, 0, E[Z^2])``; None if no closed form."""
    from ..laws.heavy import _Shape

    z = np.asarray(z, float)
    if isinstance(dist, _Shape):
        from ..risk.heavy import upper_moments

        S = upper_moments(dist.law, dist._shape(), z)  # (Student t: S0 from scipy's stdtr, accurate near z = 0)
        return S, (1.0, 0.0, dist._std_moment(2))
    kp = dist.kernel_params()
    if kp is None or kp[3] or kp[0] not in (0, 1) or type(dist).__name__ not in ("Normal", "Laplace"):
        return None
    from scipy import special

    with np.errstate(over="ignore", invalid="ignore"):
        if kp[0] == 0:
            phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
            S0 = 0.5 * special.erfc(z / math.sqrt(2))
            S2 = np.where(np.isinf(z), 0.0, z * phi) + S0
            return (S0, phi, S2), (1.0, 0.0, 1.0)
        e = 0.5 * np.exp(-z)
        zz = np.where(np.isinf(z), 0.0, z)
        return (e, np.where(np.isinf(z), 0.0, (zz + 1) * e), np.where(np.isinf(z), 0.0, (zz * zz + 2 * zz + 2) * e)), \
            (1.0, 0.0, 2.0)


def _cell_sq_moment(dist, lo, hi, lev):
    """``int_lo^hi (x - lev)^2 f(x) dx`` per cell (arrays, ``lo < hi``, each cell on one side of the law's
    centre or straddling it) from the partial moments of order 0, 1, 2 (closed forms: Normal, Laplace,
    Student t, generalized Normal, finite mixtures of them; else ``partial_moment`` cell by cell).
    Returns (values, error bounds): rounding of the closed forms (relative 1e-13 of each term's
    magnitude, the upper tails at the inner end included: the differences of tails cancel)."""
    v, e = _cell_poly_moment(dist, lo, hi, lev, 1.0, 0.0, 0.0)
    return np.maximum(v, 0.0), e


def _cell_poly_moment(dist, lo, hi, lev, c2, c1, c0):
    """``int_lo^hi [c2 (x - lev)^2 + c1 (x - lev) + c0] f(x) dx`` per cell (arrays; ``lev``, ``c1``, ``c0``
    arrays or scalars) from the closed-form partial moments of :func:`_cell_sq_moment` (which is the case
    ``c2, c1, c0 = 1, 0, 0``).  Returns (values, error bounds), the values not clipped."""
    comps = dist.components()
    if comps:
        tot = np.zeros(lo.shape)
        err = np.zeros(lo.shape)
        for w, c in comps:
            if c.has_density:
                v, e = _cell_poly_moment(c, lo, hi, lev, c2, c1, c0)
                tot += w * v
                err += w * e
        return tot, err
    loc, sc = float(getattr(dist, "loc", 0.0)), float(getattr(dist, "scale", 1.0))
    za, zb = (lo - loc) / sc, (hi - loc) / sc
    up = _std_upper(dist, np.abs(np.concatenate([za, zb])))
    d = loc - lev
    if up is None:
        # generic law: adaptive quadrature per cell (Law.partial_moment, relative ~1e-10)
        Q = [np.array([dist.partial_moment(j, float(x0), float(x1)) for x0, x1 in zip(lo, hi)]) for j in range(3)]
        v = c2 * (Q[2] - 2 * lev * Q[1] + lev * lev * Q[0])
        mag = c2 * (np.abs(Q[2]) + 2 * np.abs(lev * Q[1]) + lev * lev * np.abs(Q[0]))
        if np.any(c1) or np.any(c0):
            v = v + c1 * (Q[1] - lev * Q[0]) + c0 * Q[0]
            mag = mag + np.abs(c1) * (np.abs(Q[1]) + np.abs(lev * Q[0])) + np.abs(c0 * Q[0])
        return v, 1e-9 * mag
    n = za.size
    return _poly_from_tails(za, zb, up, slice(None, n), slice(n, None), d, sc, c2, c1, c0)


def _poly_from_tails(za, zb, up, ia, ib, d, sc, c2, c1, c0):
    """The closed-form part of :func:`_cell_poly_moment` (and of :func:`_cell_poly_moment_pts`): the
    standardized upper partial moments ``up = (S, Mom)`` of the cells' ends (``S[j][ia]`` at ``za``,
    ``S[j][ib]`` at ``zb``), combined into ``int [c2 (x - lev)^2 + c1 (x - lev) + c0] f`` with ``d = loc - lev``.
    Returns (values, error bounds)."""
    S, Mom = up
    Q = []
    mag = []
    for j in range(3):
        Sj = np.asarray(S[j], float)
        Sa, Sb = Sj[ia], Sj[ib]
        sg = (-1.0) ** j

        def Gt(zv, Sv):  # E[Z^j; Z > z]
            return np.where(zv >= 0, Sv, Mom[j] - sg * Sv)

        right = Gt(za, Sa) - Gt(zb, Sb)
        left = sg * (Sb - Sa)          # both ends <= 0: mirror, E[Z^j; za < Z <= zb] = (-1)^j [S(-zb) - S(-za)]
        Q.append(np.where(zb <= 0, left, right))
        mag.append(np.abs(Sa) + np.abs(Sb) + np.where((za < 0) & (zb > 0), abs(Mom[j]), 0.0))
    # in z = (x - loc) / sc: x - lev = d + sc z, so the polynomial is A0 + A1 z + A2 z^2
    if c2 == 1.0 and not np.any(c1) and not np.any(c0):
        A0, A1, A2 = d * d, 2 * d * sc, sc * sc          # (the squared-error case, as it always was)
    else:
        A0, A1, A2 = c2 * d * d + c1 * d + c0, (2 * c2 * d + c1) * sc, c2 * sc * sc
    v = A0 * Q[0] + A1 * Q[1] + A2 * Q[2]
    m = np.abs(A0) * mag[0] + np.abs(A1) * mag[1] + np.abs(A2) * mag[2]
    return v, 1e-13 * m + 1e-14 * np.abs(v)


def _cell_poly_moment_pts(dist, pts, il, ih, lev, c2, c1, c0, cache=None):
    """:func:`_cell_poly_moment` on the cells ``[pts[il], pts[ih]]`` (index arrays into ``pts``): the
    upper partial moments are computed once per point of ``pts`` (cells sharing an edge share it; with a
    ``cache`` dict, once for several calls on the same ``pts``), then the same arithmetic per cell as there,
    so the same numbers (tests/test_block_46_generic_fast2.py).  Laws without closed-form tails go through
    :func:`_cell_poly_moment` itself."""
    comps = dist.components()
    if comps:
        tot = np.zeros(il.shape)
        err = np.zeros(il.shape)
        for w, c in comps:
            if c.has_density:
                v, e = _cell_poly_moment_pts(c, pts, il, ih, lev, c2, c1, c0, cache)
                tot += w * v
                err += w * e
        return tot, err
    loc, sc = float(getattr(dist, "loc", 0.0)), float(getattr(dist, "scale", 1.0))
    key = id(dist)
    if cache is not None and key in cache and cache[key][0] is dist:
        zp, up = cache[key][1], cache[key][2]
    else:
        zp = (pts - loc) / sc
        up = _std_upper(dist, np.abs(zp))
        if cache is not None:
            cache[key] = (dist, zp, up)
    if up is None:
        return _cell_poly_moment(dist, pts[il], pts[ih], lev, c2, c1, c0)
    return _poly_from_tails(zp[il], zp[ih], up, il, ih, loc - lev, sc, c2, c1, c0)


@lru_cache(maxsize=1)
def _gl_table():
    from ._expect_kernels import gl_table

    return gl_table()


def _shell_prob(dist, a, b):
    """P(a < |xi| <= b) for 0 < a <= b (arrays), from the tails (no 1 - G cancellation)."""
    return (np.asarray(dist.sf(a), float) - np.asarray(dist.sf(b), float)
            + np.asarray(dist.cdf(-a), float) - np.asarray(dist.cdf(-b), float))


def _telescoped_terms(dist, bf, a, b, X, k, eabs):
    """Per piece ``(a_p, b_p]`` with scale ``X_p``, the non-negative terms of the telescoped sum
    (:func:`_block_mse_telescoped`) ``G(b)^(k-1) [T(b, X) - T(a, X)] + [G(b)^(k-1) - G(a)^(k-1)] T(a, X)``,
    their summed cell-quadrature bounds (target ``eabs`` over all pieces) and ``G(b)^(k-1)``.
    ``G(b)^(k-1) - G(a)^(k-1)`` comes from ``P(a < |xi| <= b)`` with expm1/log1p (relative accuracy,
    no cancellation).  Per-cell targets: ``T(a_p)`` is weighted by ``dGk_p`` (these sum to <= 1), so piece
    ``p`` gets ``eabs / (2 P max(dGk_p, 1/P))`` and ``sum_p dGk_p err_p <= eabs / 2``; the shells are
    weighted by ``G(b)^(k-1) <= 1``, each with its own few cells: ``eabs / (16 P)`` per cell.
    Returns (terms, quadrature bounds, G(b)^(k-1)), arrays over the pieces."""
    Gb = np.clip(_G(dist, b), 0.0, 1.0)
    pab = np.maximum(_shell_prob(dist, a, b), 0.0)
    Gbk = Gb ** (k - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        dGk = np.where(Gb > 0, -Gbk * np.expm1((k - 1) * np.log1p(-np.minimum(pab / np.where(Gb > 0, Gb, 1.0),
                                                                                 1.0))), 0.0)
    P = a.size
    nc = len(bf.fmt.levels) + 8
    eps_in = eabs / (2 * P * np.maximum(dGk, 1.0 / P)) / nc
    Ta, Sh, Ea, Es = _T_pairs(dist, bf.fmt, a, b, X, (eps_in, eabs / (16 * P)))
    return Gbk * Sh + dGk * Ta, Gbk * Es + dGk * Ea, Gbk


def _sat_prob(dist, fmt, m, X):
    """P(|xi| <= m, xi / X beyond the element range) (X > 0; 0 where X == 0)."""
    lo, hi = float(fmt.levels[0]), float(fmt.levels[-1])
    pos = X > 0
    Xs = np.where(pos, X, 1.0)
    up = np.where(m > Xs * hi, np.asarray(dist.sf(Xs * hi), float) - np.asarray(dist.sf(m), float), 0.0)
    dn = np.where(-m < Xs * lo, np.asarray(dist.cdf(Xs * lo), float) - np.asarray(dist.cdf(-m), float), 0.0)
    return np.where(pos, np.maximum(up, 0.0) + np.maximum(dn, 0.0), 0.0)


def _block_mse_telescoped(dist, bf, rule, c, S, k, tol):
    """MSE and saturation rate for a rule whose scale is piecewise constant in M (E8M0, E4M3,
    fp16 scales): on a piece ``(a, b]`` with scale ``X``,

        E[e(xi_1, X); a < M <= b] = G(b)^(k-1) T(b, X) - G(a)^(k-1) T(a, X)
                                  = G(b)^(k-1) [T(b, X) - T(a, X)] + [G(b)^(k-1) - G(a)^(k-1)] T(a, X)

    (``E[e(xi_1, X); M <= m] = E[e(xi_1, X); |xi_1| <= m] P(|xi_i| <= m, i >= 2)``; this is the
    m-integral of the module doc in closed form: its integrand is d/dm [G^(k-1) T(m, X)]).  The
    second form has only non-negative terms, each computed to relative accuracy (the shell
    ``T(b) - T(a)`` is integrated directly; ``G(b)^(k-1) - G(a)^(k-1)`` from
    ``P(a < |xi| <= b)`` with expm1/log1p), so rounding errors do not accumulate over the
    thousands of fp16 pieces.  Returns (mse, saturation, error estimate)."""
    # the error needs M >= mlo_e only; the saturation rate needs the range down to mlo (finding 9):
    # the pieces below mlo_e are used for the rate alone (cell sums of tiny pieces are not needed)
    mlo_e, mhi = _range(dist, k, tol)
    mlo, _ = _range(dist, k, tol, rate_tol=tol)
    a, b, X = _pieces(dist, bf, rule, c, S, mlo, mhi)
    m2 = dist.second_moment()
    Ga = np.clip(_G(dist, a), 0.0, 1.0)
    eabs = 1e-3 * tol * m2
    ke = b > mlo_e
    terms, qerr, _ = _telescoped_terms(dist, bf, np.maximum(a[ke], mlo_e), b[ke], X[ke], k, eabs)
    mse = float(np.sum(terms))
    Gbk = np.clip(_G(dist, b), 0.0, 1.0) ** (k - 1)
    sat = float(np.sum(Gbk * _sat_prob(dist, bf.fmt, b, X) - Ga ** (k - 1) * _sat_prob(dist, bf.fmt, a, X)))
    # error: the truncation of M to [mlo, mhi] (_range), the quadrature (bounds per cell), and
    # rounding (each term to ~20 ulp relative)
    err = (1e-3 * tol * m2 + float(np.sum(qerr)) + 20 * np.finfo(float).eps * mse)
    return mse, sat, err
