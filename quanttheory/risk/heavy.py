"""Risk curves of the Student t and generalized Gaussian laws (and their ReLU): numba walk + closed-form tails.

Student t (and ReLU(t)) MSQE / QSin curves go through the bit-independent fast path
:func:`t_fast_expected_phi` (Fourier series of the sawtooth, end expansions with a
Cauchy-estimate remainder, closed-form tails; docs/heavy_tails.md) wherever its error bound
holds, the per-cell walk below elsewhere.

The engine calls :func:`expected_phi_shape` for a law whose ``shape_kernel()`` is not
None (``(law code, shape, loc, scale, relu)``; codes 2 = Student t with ``nu = shape``,
3 = generalized Gaussian with ``beta = shape``).  The grid cells and the near part of
the clipping tails are integrated by :mod:`quanttheory.risk._kernels.heavy` (piecewise
Gauss-Legendre with analyticity margins, see there); the far part of each clipping
tail, ``E[(Z - tau)**2; Z > T]`` with ``T >= 2 |tau|`` (cancellation <= 9), comes from
the standardized upper partial moments :func:`upper_moments`:

* Student t (``nu > 2``): ``S0 = I_{nu/(nu+T**2)}(nu/2, 1/2) / 2``,
  ``S1 = (nu + T**2) p(T) / (nu - 1)``, ``S2 = (T (nu + T**2) p(T) + nu S0) / (nu - 2)``;
* generalized Gaussian: ``S_k = Gamma((k+1)/beta) Q((k+1)/beta, T**beta) / (2 Gamma(1/beta))``.

Accuracy: tested against mpmath (partial moments through the incomplete beta and
gamma functions at 40 digits), relative error <= 1e-12 at bits 1..16
(``tests/test_heavy.py``, ``tests/data/heavy_mpref.json``).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..formats.regularizers import CODE_MSQE, CODE_QSIN

LAW_T = 2
LAW_GENNORM = 3
CODE_DMSQE = 3


@lru_cache(maxsize=1)
def _tables():
    from ._kernels.cells import gauss_tables

    return gauss_tables()


def log_norm(law: int, shape: float) -> float:
    """log of the standardized density's constant (``p(z) = exp(lnorm - ...)``)."""
    return _log_norm(int(law), float(shape))


@lru_cache(maxsize=256)
def _log_norm(law: int, shape: float) -> float:  # (cached: called per curve evaluation, issue 20)
    if law == LAW_T:
        from scipy import special

        # 1 / (sqrt(nu) B(nu/2, 1/2)): betaln keeps 1e-16 where the lgamma difference loses 6e-15 at nu = 30
        return float(-special.betaln(0.5 * shape, 0.5) - 0.5 * math.log(shape))
    return math.log(shape / 2) - math.lgamma(1 / shape)


def upper_moments(law: int, shape: float, z):
    """``(S0, S1, S2)`` with ``S_k(z) = E[Z**k; Z > z]`` for the standardized law, ``z >= 0`` (array)."""
    from scipy import special

    z = np.asarray(z, dtype=float)
    if law == LAW_T:
        nu = shape
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            zz = np.where(np.isinf(z), 0.0, z)
            p = np.exp(log_norm(law, nu) - 0.5 * (nu + 1) * np.log1p(zz * zz / nu))
            # stdtr(nu, -z) = betainc(nu/2, 1/2, nu/(nu + z^2)) / 2, computed without the ~sqrt(eps) absolute
            # loss of betainc near z = 0 (7e-10 relative at z = 1e-9; stdtr within 1e-16 of mpmath there and
            # in the far tail; tests/test_heavy_tails.py)
            S0 = special.stdtr(nu, -zz)
            S1 = (nu + zz * zz) * p / (nu - 1)
            S2 = (zz * (nu + zz * zz) * p + nu * S0) / (nu - 2)
        inf = np.isinf(z)
        return (np.where(inf, 0.0, S0), np.where(inf, 0.0, S1), np.where(inf, 0.0, S2))
    b = shape
    out = []
    with np.errstate(over="ignore", invalid="ignore"):
        x = np.where(np.isinf(z), np.inf, z ** b)
        for k in range(3):
            a = (k + 1) / b
            val = 0.5 * np.exp(special.gammaln(a) - special.gammaln(1 / b)) * special.gammaincc(a, x)
            out.append(np.where(np.isinf(z), 0.0, val))
    return tuple(out)


def expected_phi_shape(law: int, shape: float, mu: float, sig: float, relu: bool, grid, code: int,
                       flat: np.ndarray, method: str = "auto") -> np.ndarray:
    """``s**2 E[phi(xi/s)]`` over the continuous part, codes MSQE, QSin, DMSQE (3).

    ``method="auto"``: the Student t's bit-independent fast path (:func:`t_fast_expected_phi`,
    MSQE and QSin) wherever its error bound holds, the per-cell walk elsewhere;
    ``"cells"``: the per-cell walk only (the reference)."""
    if method not in ("auto", "cells"):
        raise ValueError(f"method must be 'auto' or 'cells', got {method!r}")
    flat = np.ascontiguousarray(flat, dtype=np.float64)
    if method == "auto" and law == LAW_T and code in (CODE_MSQE, CODE_QSIN) and flat.size:
        vals, ok = t_fast_expected_phi(shape, mu, sig, relu, grid, code, flat)
        if not ok.all():
            rest = ~ok
            vals[rest] = _cells_phi(law, shape, mu, sig, relu, grid, code, flat[rest])
        return vals
    return _cells_phi(law, shape, mu, sig, relu, grid, code, flat)


def _cells_phi(law, shape, mu, sig, relu, grid, code, flat):
    """The per-cell walk (every grid cell, then the clipping tails)."""
    from ._kernels.heavy import curve

    if code not in (CODE_MSQE, CODE_QSIN, CODE_DMSQE):
        raise ValueError(f"the Student t / generalized Gaussian kernels take MSQE, QSin or its derivative, not {code}")
    ns, nodes, weights, amax = _tables()
    flat = np.ascontiguousarray(flat, dtype=np.float64)
    n = flat.size
    out, cut_r, tau_r, cut_l, tau_l = (np.empty(n) for _ in range(5))
    curve(int(law), float(shape), log_norm(law, shape), float(mu), float(sig), bool(relu), int(grid.r_b),
          int(grid.r_t), int(code), flat, ns, nodes, weights, amax, out, cut_r, tau_r, cut_l, tau_l)
    return out + _remainders(law, shape, sig, code, grid.r_b, grid.r_t, cut_r, tau_r, cut_l, tau_l)


@lru_cache(maxsize=1)
def _eta_table():
    """``eta(2k + 2)`` for k = 1..KMAX (Dirichlet eta, ``(1 - 2^(1-n)) zeta(n)``)."""
    from scipy import special

    from ._kernels.heavy import KMAX

    n = 2.0 * np.arange(1, KMAX + 1) + 2.0
    return np.ascontiguousarray((1.0 - 2.0 ** (1.0 - n)) * special.zeta(n))


CF_MMAX = 256


def _t_log_cf(nu: float, u: np.ndarray) -> np.ndarray:
    """log of the Student t characteristic function ``phi(u) = K_{nu/2}(sqrt(nu) u) (sqrt(nu) u)^{nu/2}
    / (Gamma(nu/2) 2^{nu/2 - 1})`` (u > 0; decreasing in u since d/dx [x^a K_a(x)] = -x^a K_{a-1}(x))."""
    from scipy import special

    a = 0.5 * nu
    x = math.sqrt(nu) * u
    with np.errstate(divide="ignore", over="ignore"):
        return np.log(special.kve(a, x)) - x + a * np.log(x) - math.lgamma(a) - (a - 1.0) * math.log(2.0)


def _t_cf_sums(nu, mu, s, t, code):
    """Full-line Fourier part of the fast path: ``(cf, cf_abs, converged)``.

    MSQE: ``cf = sum_m (-1)^m cos(2 pi m mu/s) phi(m t)/m^2``; terms are added until
    ``phi(m t)/m <= 1e-18`` (since phi decreases, the rest is <= phi(m t)/m), at most
    ``CF_MMAX`` terms (else not converged).  QSin: ``cf = cos(2 pi mu/s) phi(t)``."""
    n = s.size
    lphi = _t_log_cf(nu, t)
    phi1 = np.exp(lphi)
    if code == CODE_QSIN:
        return np.cos(2 * math.pi * np.remainder(mu / s, 1.0)) * phi1, phi1, np.isfinite(phi1)
    cf = np.zeros(n)
    cf_abs = np.zeros(n)
    conv = np.zeros(n, dtype=bool)
    # a scale whose last admissible term still exceeds the stopping threshold, phi(CF_MMAX t) > 1e-18 CF_MMAX,
    # never converges (phi decreases: phi(m t) >= phi(CF_MMAX t) > 1e-18 m for every m <= CF_MMAX), so it goes
    # to the per-cell walk whatever its partial sums: skip them (issue 20: at large s, t small, these scales
    # cost 256 Bessel calls each for nothing)
    with np.errstate(all="ignore"):
        last = np.exp(_t_log_cf(nu, CF_MMAX * t))
    idx = np.flatnonzero(~(last > 1e-18 * CF_MMAX))
    phi = phi1[idx]
    frac = np.remainder(mu / s, 1.0)
    for m in range(1, CF_LOOP + 1):
        if m > 1:
            phi = np.exp(_t_log_cf(nu, m * t[idx]))
        bad = ~np.isfinite(phi)
        term = phi / (m * m)
        term[bad] = 0.0
        sign = -1.0 if m % 2 else 1.0
        cf[idx] += sign * np.cos(2 * math.pi * np.remainder(m * frac[idx], 1.0)) * term
        cf_abs[idx] += term
        done = (phi <= 1e-18 * m) & ~bad
        conv[idx[done]] = True
        keep = ~done & ~bad
        idx = idx[keep]
        if idx.size == 0:
            return cf, cf_abs, conv
        phi = phi[keep]
    # the scales that need more terms (small t): the terms of a block for every live scale at once (one Bessel
    # call per block instead of one per term, issue 20); each scale's partial sums are the sequential ones of
    # the term-by-term loop above (np.cumsum adds in order, tested bit-identical), up to the term at which it
    # stops: converged (phi(m t) <= 1e-18 m) or a non-finite phi (not converged)
    for m1, m2 in CF_BLOCKS:
        if idx.size == 0:
            break
        M = np.arange(m1, m2 + 1, dtype=float)
        with np.errstate(all="ignore"):
            phi = np.exp(_t_log_cf(nu, M[None, :] * t[idx][:, None]))
        bad = ~np.isfinite(phi)
        term = phi / (M * M)
        term[bad] = 0.0
        sign = np.where(M % 2 == 1, -1.0, 1.0)
        contrib = sign * np.cos(2 * math.pi * np.remainder(M[None, :] * frac[idx][:, None], 1.0)) * term
        done = (phi <= 1e-18 * M) & ~bad
        stop = done | bad
        hit = stop.any(axis=1)
        last_j = np.where(hit, np.argmax(stop, axis=1), M.size - 1)
        rows = np.arange(idx.size)
        cs = np.cumsum(np.concatenate([cf[idx][:, None], contrib], axis=1), axis=1)
        ca = np.cumsum(np.concatenate([cf_abs[idx][:, None], term], axis=1), axis=1)
        cf[idx] = cs[rows, last_j + 1]
        cf_abs[idx] = ca[rows, last_j + 1]
        conv[idx[hit & done[rows, last_j]]] = True
        idx = idx[~hit]
    return cf, cf_abs, conv


CF_LOOP = 8  # terms added one at a time (most scales near an optimum stop within them)
CF_BLOCKS = ((CF_LOOP + 1, 32), (33, 96), (97, CF_MMAX))


def t_fast_expected_phi(nu: float, mu: float, sig: float, relu: bool, grid, code: int, flat: np.ndarray):
    """Bit-independent ``F(s) = s^2 E[phi(xi/s)]`` (MSQE or QSin) for the Student t law (ReLU too):
    ``(values, handled)``; ``values`` is NaN where ``handled`` is False (error bound not met).

    Interior ``[a, b]`` (``a = r_b s``, or 0 for ReLU; ``b = r_t s``), ``t = 2 pi sig / s``,
    ``z_a, z_b`` standardized ends.  MSQE (docs/heavy_tails.md, "Fast path"):

        F = s^2 [P_ab/12 + pi^-2 CF + pi^-2 sum_{k=1}^K (-1)^k eta(2k+2) D_k / t^(2k)] + s^2 Rem_K + T_a + T_b,

    with ``CF = sum_m (-1)^m cos(2 pi m mu/s) phi(m t)/m^2`` (phi the t characteristic function),
    ``D_k = p^(2k-1)(z_b) - p^(2k-1)(z_a)`` (standardized density derivatives, by a three-term
    recurrence), ``|Rem_K| <= zeta(4)/pi^2 sum_ends (2K)! (1-th)^-(nu+1) (th t sqrt(nu + zeta_e^2))^-(2K) Q_e``
    (Cauchy estimates, ``Q_e`` the outer tail mass) and the clipping tails ``T`` in closed form
    (walked where the closed form would cancel).  K is the first order with ``s^2 Rem_K <= 1e-17 F``.
    """
    from scipy import special

    from ._kernels.heavy import t_fast, tails_walk

    flat = np.ascontiguousarray(flat, dtype=np.float64)
    n = flat.size
    out = np.full(n, np.nan)
    ok = np.zeros(n, dtype=bool)
    r_b, r_t = int(grid.r_b), int(grid.r_t)
    if relu and r_t <= 0:
        return out, ok
    a = np.zeros(n) if relu else r_b * flat
    b = r_t * flat
    za = (a - mu) / sig
    zb = (b - mu) / sig
    t = 2 * math.pi * sig / flat
    half = 0.5 * nu

    def S0H(z):  # (P(Z > z), P(0 < Z < z)) for z >= 0: the smaller one directly, the other as 1/2 - it
        with np.errstate(all="ignore"):
            zz = np.where(np.isinf(z), 0.0, z * z)
            h = np.where(np.isinf(z), 0.5, 0.5 * special.betainc(0.5, half, zz / (nu + zz)))
            q = np.where(np.isinf(z), 0.0, 0.5 * special.betainc(half, 0.5, nu / (nu + zz)))
        small_h = h < 0.25
        return np.where(small_h, 0.5 - h, q), np.where(small_h, h, 0.5 - q)

    with np.errstate(all="ignore"):
        aa, ab = np.abs(za), np.abs(zb)
        (s0a, ha), (s0b, hb) = S0H(aa), S0H(ab)
        across = (za <= 0) & (zb >= 0)
        # same side: the difference with the smaller rounding
        d_s, e_s = np.abs(s0a - s0b), s0a + s0b
        d_h, e_h = np.abs(hb - ha), ha + hb
        use_s = e_s <= e_h
        pab = np.where(across, ha + hb, np.where(use_s, d_s, d_h))
        pab_err = 4 * 1e-15 * np.where(across, ha + hb, np.where(use_s, e_s, e_h))
        qa = np.where(za <= 0, s0a, 0.5 + ha)
        qb = np.where(zb >= 0, s0b, 0.5 + hb)
        cf, cf_abs, conv = _t_cf_sums(nu, mu, flat, t, code)
    walk_r = np.zeros(n, dtype=bool)
    walk_l = np.zeros(n, dtype=bool)
    t_fast(float(nu), log_norm(LAW_T, nu), float(mu), float(sig), bool(relu), r_b, r_t, int(code), flat, za, zb,
           pab, pab_err, qa, qb, s0a, s0b, cf, cf_abs, _eta_table(), out, ok, walk_r, walk_l)
    ok &= conv & np.isfinite(out)
    out[~ok] = np.nan
    need = ok & (walk_r | walk_l)
    if np.any(need):
        ns, nodes, weights, amax = _tables()
        sub = np.ascontiguousarray(flat[need])
        m = sub.size
        v, cut_r, tau_r, cut_l, tau_l = (np.empty(m) for _ in range(5))
        tails_walk(LAW_T, float(nu), log_norm(LAW_T, nu), float(mu), float(sig), bool(relu), r_b, r_t, int(code),
                   sub, walk_r[need], walk_l[need], np.ascontiguousarray(out[need]), ns, nodes, weights, amax,
                   v, cut_r, tau_r, cut_l, tau_l)
        out[need] += v + _remainders(LAW_T, nu, sig, code, r_b, r_t, cut_r, tau_r, cut_l, tau_l)
    return out, ok


def _remainders(law, shape, sig, code, r_b, r_t, cut_r, tau_r, cut_l, tau_l):
    """Closed-form clipping-tail parts beyond the standardized cuts (see the module docstring)."""
    f = math.pi**2 if code == CODE_QSIN else 1.0
    S0, S1, S2 = upper_moments(law, shape, cut_r)
    if code == CODE_DMSQE:
        rem = -2.0 * r_t * sig * (S1 - tau_r * S0)
    else:
        rem = f * sig * sig * (S2 - 2 * tau_r * S1 + tau_r**2 * S0)
    fin = np.isfinite(cut_l)
    if np.any(fin):
        S0, S1, S2 = upper_moments(law, shape, np.where(fin, cut_l, np.inf))
        if code == CODE_DMSQE:
            rem = rem + 2.0 * r_b * sig * (S1 + tau_l * S0)
        else:
            rem = rem + f * sig * sig * (S2 + 2 * tau_l * S1 + tau_l**2 * S0)
    return rem


def format_mse_shape(law, scales, levels) -> np.ndarray:
    """``E[(xi - Q_s(xi))**2]`` (no pi**2) for a level set (grid units, sorted, e.g. ``Format.levels``),
    for Student t / generalized Gaussian laws, their ReLU and mixtures of laws with these kernels.

    The ReLU atom at 0 adds ``P(xi = 0) (s d0)**2`` (``d0`` = distance from 0 to the nearest level)."""
    from ._kernels.heavy import levels_curve

    comps = law.components()
    if comps:
        return sum(w * format_mse_shape(c, scales, levels) for w, c in comps)
    shape_k = law.shape_kernel()
    if shape_k is None:
        raise ValueError(f"format_mse_shape takes Student t / generalized Gaussian laws (or their ReLU, "
                         f"mixtures), got {law}; use quanttheory.risk.format_mse for Normal / Laplace")
    lc, sh, mu, sig, relu = shape_k
    lv = np.ascontiguousarray(np.asarray(levels, dtype=np.float64))
    if lv.ndim != 1 or lv.size < 2 or not np.all(np.isfinite(lv)) or not np.all(np.diff(lv) > 0):
        raise ValueError("levels must be >= 2 finite, strictly increasing values (grid units)")
    ns, nodes, weights, amax = _tables()
    flat = np.ascontiguousarray(np.asarray(scales, dtype=np.float64).ravel())
    if not np.all(np.isfinite(flat)) or np.any(flat <= 0):
        raise ValueError("scales must be finite and > 0")
    n = flat.size
    out, cut_r, tau_r, cut_l, tau_l = (np.empty(n) for _ in range(5))
    levels_curve(int(lc), float(sh), log_norm(lc, sh), float(mu), float(sig), bool(relu), lv, flat, ns, nodes,
                 weights, amax, out, cut_r, tau_r, cut_l, tau_l)
    out = out + _remainders(lc, sh, sig, CODE_MSQE, 0, 0, cut_r, tau_r, cut_l, tau_l)
    for g in law.atoms():
        x = np.asarray(g.values, dtype=float).ravel()
        for v in x:
            idx = np.clip(np.searchsorted(lv, v / flat), 1, lv.size - 1)
            near = np.minimum(np.abs(v / flat - lv[idx - 1]), np.abs(v / flat - lv[idx]))
            out = out + g.weight * (flat * near) ** 2
    return out.reshape(np.shape(scales))


def dmsqe(law, grid, s: float):
    """Exact ``d/ds E[(xi - Q_s(xi))**2] = -2 E[K (xi - K s)]`` (no pi**2 factor), or None when the
    law has no kernel for it (generic laws)."""
    out = dmsqe_many(law, grid, np.array([float(s)]))
    return None if out is None else float(out[0])


def dmsqe_many(law, grid, scales):
    """:func:`dmsqe` at each of ``scales`` (1-d array of finite scales > 0, validated by the caller) in one
    kernel call per component (issue 20: the certificates' stepping evaluates a whole ladder of scales at
    once); the mixture's weighted sum is ``math.fsum`` per scale as in the scalar version.  None when the law
    has no kernel for it."""
    flat = np.ascontiguousarray(np.asarray(scales, dtype=np.float64).ravel())
    comps = law.components()
    if comps:
        parts = [dmsqe_many(c, grid, flat) for _, c in comps]
        if any(p is None for p in parts):
            return None
        return np.array([math.fsum(w * p[i] for (w, _), p in zip(comps, parts)) for i in range(flat.size)])
    if not law.has_density:
        return None
    params = law.kernel_params()
    if params is not None:
        from ._kernels import cells

        ns, nodes, weights, amax = _tables()
        lc, mu, sig, relu = params
        cont = np.asarray(cells.curve_builtin(lc, mu, sig, relu, grid.r_b, grid.r_t, cells.CODE_DMSQE, flat,
                                              ns, nodes, weights, amax), dtype=float).copy()
    else:
        shape = law.shape_kernel()
        if shape is None:
            return None
        lc, sh, mu, sig, relu = shape
        cont = np.asarray(expected_phi_shape(lc, sh, mu, sig, relu, grid, CODE_DMSQE, flat), dtype=float).copy()
    for g in law.atoms():  # d/ds [w s^2 MSQE(x/s)] = -2 w K (x - K s)
        x = np.asarray(g.values, dtype=float).ravel()
        for i, s in enumerate(flat):
            K = np.clip(np.floor(x / s + 0.5), grid.r_b, grid.r_t)
            cont[i] += -2.0 * g.weight * float(np.sum(K * (x - K * s)))
    return cont


def refine_msqe(law, grid, a: float, b: float):
    """Root of the exact MSQE derivative in ``[a, b]``: ``(s, scale_error)`` or None.

    Illinois false position on the sign-changing bracket, a bisection step whenever the bracket did not
    halve over the last three steps, down to a bracket of 1e-14 relative width (issue 20: ~10 derivative
    evaluations instead of ~55 for plain bisection to adjacent floats; the same final bracket property
    ``R'(lo) < 0 < R'(hi)``; the value errors of R' make its root uncertain by ~1e-12 relative anyway).
    ``scale_error`` = ``err(R') / R''(s)`` with ``err(R')`` = 1e-12 of the size of the terms of R'
    and ``R''`` by a central difference of the exact R' (a local estimate, not a bound).
    """
    ga, gb = dmsqe(law, grid, a), dmsqe(law, grid, b)
    if ga is None or gb is None or not (ga < 0 < gb):
        return None
    lo, hi = float(a), float(b)
    glo, ghi = float(ga), float(gb)
    last, widths = 0, [hi - lo]
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if not lo < mid < hi or hi - lo <= 1e-14 * hi:  # (far below err(R') / R'', ~1e-12 relative)
            break
        m = hi - ghi * (hi - lo) / (ghi - glo)
        if len(widths) > 3 and widths[-1] > 0.5 * widths[-4] or not lo < m < hi:
            m, last = mid, 0  # bisection: the bracket stalled (or the secant left it)
        g = dmsqe(law, grid, m)
        if g == 0:
            lo = hi = m
            break
        if g < 0:
            lo, glo = m, g
            if last < 0:
                ghi *= 0.5
            last = -1
        else:
            hi, ghi = m, g
            if last > 0:
                glo *= 0.5
            last = 1
        widths.append(hi - lo)
    s = 0.5 * (lo + hi)
    h = 1e-4 * s
    curv = (dmsqe(law, grid, s + h) - dmsqe(law, grid, s - h)) / (2 * h)
    if not curv > 0:
        return None
    e2 = float(expected_phi(law, [s], grid))
    g_err = 1e-12 * 2 * (math.sqrt(law.second_moment()) / s + 1) * math.sqrt(e2)
    return s, max(g_err / curv, hi - lo)


def expected_phi(law, scales, grid):
    from .curve import expected_phi as ep

    return ep(law, scales, grid, "msqe")[0]
