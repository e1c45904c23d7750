"""The exact expected MSE of the absmax ("amax") scale rule.

Practitioners set ``s = amax / level_max`` with ``amax = max_i |xi_i|`` over ``n`` iid
samples (the calibration set) and ``level_max`` the format's largest level magnitude
(:attr:`Format.level_max`: 448 for E4M3, 127 for INT8 narrow, 128 for INT8).  The scale is
random; the expected quantization MSE of the rule, for fresh data from the same law, is

    E_n = E_M[ mse(M / level_max) ],    M = max_{i <= n} |xi_i|,   P(M <= m) = G(m)^n,

with ``mse(s) = E[(xi - Q_s(xi))^2]`` the exact curve of
:func:`~quanttheory.risk.levels.format_mse` and ``G`` the CDF of ``|xi|``.

Quadrature in the quantile variable: ``tau = n S(M)`` (``S = 1 - G``) has
``P(tau > t) = (1 - t/n)^n`` on ``[0, n]``, so with ``t = e^y``

    E_n = int_{-inf}^{ln n} mse(S^{-1}(e^y / n) / level_max) e^y (1 - e^y/n)^(n-1) dy,

a smooth bell-shaped weight (Gumbel-like; its mass below ``y = -45`` is ``< 3e-20``).
Composite Gauss-Legendre on ``[-45, min(ln n, 4.5)]`` (beyond 4.5 the weight is below
``e^{4.5 - e^{4.5}} < 1e-37``), with the panel count doubled until two successive values
agree to 1e-13 relative; ``error_estimate`` is their difference.  ``S^{-1}`` by bisection
on ``log S`` (54 halvings of a bracket, vectorized).  A ReLU law's atom at 0 makes ``M = 0``
(``s = 0``, every value maps to 0, ``mse = E[xi^2]``) with probability ``P(xi <= 0)^n``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .levels import _check_dist, _mse_flat, _prepare, as_levels_format

_YMIN = -45.0
_YMAX = 4.5


class AmaxRule(NamedTuple):
    """Expected MSE of the absmax rule ``s = max_i |xi_i| / level_max`` over ``n`` samples.

    ``mse`` (data units squared, no pi^2), ``risk = pi^2 mse``, ``sqnr_db =
    10 log10(E[xi^2] / mse)``, ``error_estimate`` (absolute, on ``mse``), ``level_max``,
    and ``median_scale`` (the scale at the median of the max).
    """

    n: int
    mse: float
    risk: float
    sqnr_db: float
    error_estimate: float
    level_max: float
    median_scale: float


def _log_survival(dist, m):
    """``log P(|xi| > m)`` for m >= 0 (vectorized), without cancellation."""
    from scipy import special

    m = np.asarray(m, dtype=float)
    law, mu, sig, relu = dist.kernel_params()
    if law == 0:
        up = special.log_ndtr(-(m - mu) / sig)      # P(xi > m)
        dn = special.log_ndtr((-m - mu) / sig)      # P(xi < -m)
    else:
        def log_tail(z):  # log P(Laplace standard > z)
            return np.where(z >= 0, math.log(0.5) - np.maximum(z, 0), np.log1p(-0.5 * np.exp(np.minimum(z, 0))))
        up = log_tail((m - mu) / sig)
        dn = log_tail((m + mu) / sig)
    if relu:
        return up  # the negative side is mapped to the atom at 0, |xi| = xi
    return np.logaddexp(up, dn)


def _quantile_max(dist, logq, rms):
    """m with ``log S(m) = logq`` (S the survival of |xi|), vectorized bisection."""
    logq = np.asarray(logq, dtype=float)
    lo = np.zeros_like(logq)
    hi = np.full_like(logq, rms)
    for _ in range(200):
        need = _log_survival(dist, hi) > logq
        if not need.any():
            break
        hi = np.where(need, 2 * hi, hi)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = _log_survival(dist, mid) > logq
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
    return 0.5 * (lo + hi)


def _integral(dist, prep, lmax, n, ylo, yhi, panels, m2):
    t, w = np.polynomial.legendre.leggauss(20)
    edges = np.linspace(ylo, yhi, panels + 1)
    mid = 0.5 * (edges[:-1] + edges[1:])[:, None]
    half = 0.5 * (edges[1:] - edges[:-1])[:, None]
    y = (mid + half * t[None, :]).ravel()
    wy = (half * w[None, :]).ravel()
    logq = y - math.log(n)
    m = _quantile_max(dist, logq, math.sqrt(m2))
    s = np.ascontiguousarray(m / lmax)
    good = s > 0
    f = np.full(s.shape, m2)
    if good.any():
        f[good] = _mse_flat(dist, prep, np.ascontiguousarray(s[good]), "auto")
    # weight e^y (1 - e^y/n)^(n-1)
    logw = y + (n - 1) * np.log1p(-np.exp(y) / n)
    return float(np.sum(wy * np.exp(logw) * f))


def amax_rule_mse(dist, fmt, n) -> AmaxRule:
    """Exact expected MSE of the absmax scale rule ``s = max_{i<=n} |xi_i| / level_max``.

    Parameters
    ----------
    dist : Distribution
        ``Normal``, ``Laplace``, ``ReLU(...)``.
    fmt : Format, str, Grid, int or levels
        The format (``level_max`` = its largest level magnitude).
    n : int
        Number of iid samples the max is taken over (>= 1; e.g. 1e2 .. 1e9).

    Returns
    -------
    AmaxRule
        ``mse = E_M[E[(xi - Q_{M/level_max}(xi))^2]]`` with its quadrature error estimate.
    """
    dist = _check_dist(dist)
    f = as_levels_format(fmt)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer, float, np.floating)):
        raise TypeError(f"n must be a number of samples (int), got {type(n).__name__}")
    if not math.isfinite(float(n)) or float(n) < 1 or float(n) != math.floor(float(n)) or float(n) > 1e15:
        raise ValueError(f"n must be an integer in [1, 1e15], got {n}")
    n = int(n)
    prep = _prepare(f)
    lmax = float(f.level_max)
    m2 = dist.second_moment()
    p0 = dist.point_mass
    yhi = min(math.log(n), _YMAX)
    tail = 0.0
    if p0 > 0.0:
        # tau > n (1 - p0) <=> M = 0: probability p0^n, mse(0) = E[xi^2]
        yhi = min(yhi, math.log(n * (1.0 - p0)))
        tail = m2 * p0 ** n
    panels = 8
    prev = _integral(dist, prep, lmax, n, _YMIN, yhi, panels, m2)
    err = math.inf
    while panels < 512:
        panels *= 2
        cur = _integral(dist, prep, lmax, n, _YMIN, yhi, panels, m2)
        err = abs(cur - prev)
        prev = cur
        if err <= 1e-13 * abs(cur):
            break
    mse = prev + tail
    med = float(_quantile_max(dist, np.array([math.log(-math.expm1(math.log(0.5) / n))]), math.sqrt(m2))[0])
    return AmaxRule(n=n, mse=mse, risk=math.pi ** 2 * mse, sqnr_db=10 * math.log10(m2 / mse),
                    error_estimate=err + 3e-20 * m2, level_max=lmax, median_scale=med / lmax)
