"""Risk curves of the Student t and generalized Gaussian laws (and their ReLU): numba walk + closed-form tails.

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
    if law == LAW_T:
        nu = shape
        return math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
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
            S0 = 0.5 * special.betainc(nu / 2, 0.5, nu / (nu + zz * zz))
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
                       flat: np.ndarray) -> np.ndarray:
    """``s**2 E[phi(xi/s)]`` over the continuous part, codes MSQE, QSin, DMSQE (3)."""
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
    comps = law.components()
    if comps:
        parts = [dmsqe(c, grid, s) for _, c in comps]
        return None if any(p is None for p in parts) else math.fsum(w * p for (w, _), p in zip(comps, parts))
    flat = np.array([float(s)])
    if not law.has_density:
        return None
    params = law.kernel_params()
    if params is not None:
        from ._kernels import cells

        ns, nodes, weights, amax = _tables()
        lc, mu, sig, relu = params
        cont = float(cells.curve_builtin(lc, mu, sig, relu, grid.r_b, grid.r_t, cells.CODE_DMSQE, flat,
                                         ns, nodes, weights, amax)[0])
    else:
        shape = law.shape_kernel()
        if shape is None:
            return None
        lc, sh, mu, sig, relu = shape
        cont = float(expected_phi_shape(lc, sh, mu, sig, relu, grid, CODE_DMSQE, flat)[0])
    for g in law.atoms():  # d/ds [w s^2 MSQE(x/s)] = -2 w K (x - K s)
        x = np.asarray(g.values, dtype=float).ravel()
        K = np.clip(np.floor(x / s + 0.5), grid.r_b, grid.r_t)
        cont += -2.0 * g.weight * float(np.sum(K * (x - K * s)))
    return cont


def refine_msqe(law, grid, a: float, b: float):
    """Root of the exact MSQE derivative in ``[a, b]`` by bisection: ``(s, scale_error)`` or None.

    ``scale_error`` = ``err(R') / R''(s)`` with ``err(R')`` = 1e-12 of the size of the terms of R'
    and ``R''`` by a central difference of the exact R' (a local estimate, not a bound).
    """
    ga, gb = dmsqe(law, grid, a), dmsqe(law, grid, b)
    if ga is None or gb is None or not (ga < 0 < gb):
        return None
    lo, hi = float(a), float(b)
    for _ in range(200):
        m = 0.5 * (lo + hi)
        if not lo < m < hi:
            break
        g = dmsqe(law, grid, m)
        if g == 0:
            lo = hi = m
            break
        if g < 0:
            lo = m
        else:
            hi = m
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
