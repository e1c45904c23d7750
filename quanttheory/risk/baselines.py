"""Scale-factor heuristics used in practice, as baselines for :func:`quanttheory.risk.data.optimal_scale_data`.

Every function takes a real tensor ``x`` and a :class:`~quanttheory.formats.grid.Grid`
(or an int bit width) and returns a scale ``s > 0`` (data units) for the
quantizer ``Q_U(x) = s clip(rint(x/s), r_b, r_t)``.  A clipping threshold
``alpha`` is turned into a scale as ``s = alpha / r_t`` for x >= 0 and
``alpha / |r_b|`` for x < 0; signed baselines use ``s = alpha / 2**(b-1)``
(the range ``[-alpha, alpha]`` split into ``2**b`` steps, as ACIQ/OCTAV do),
unsigned ones ``s = alpha / (2**b - 1)``.

==================  ==========================================================
``maxabs``          ``alpha = max|x|`` (no clipping; MinMax observers)
``percentile``      ``alpha`` = 99.99th percentile of ``|x|``
``aciq_gauss``      ACIQ (Banner et al. 2019): ``alpha`` minimizing the clipping
                    + ``alpha**2 / (3 4**b)`` noise model for a Normal fit
``aciq_laplace``    same for a Laplace fit (``b = mean|x - mean|``)
``octav``           OCTAV (Sakr et al. 2022) fixed-point iteration
                    ``alpha <- E[|x| 1{|x|>alpha}] / (4**-b/3 P(|x|<=alpha) + P(|x|>alpha))``
``lsq_init``        LSQ (Esser et al. 2020): ``s = 2 mean|x| / sqrt(Q_p)``, ``Q_p = r_t``
``sweep100``        the MSE observer of common toolkits: ``alpha = max|x| i/100``,
                    ``i = 1..100``, exact MSE of each, best kept
``histogram``       histogram search (TensorRT/PyTorch HistogramObserver style):
                    2048-bin histogram of ``|x|``, thresholds at bin edges, MSE
                    estimated from bin centres
==================  ==========================================================

None of these is exact; the benchmark ``benchmarks/bench_empirical.py``
measures how far each is from the exact optimum.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .._validate import as_float_array
from ..formats.grid import Grid, as_grid


def _prep(x, grid) -> tuple[np.ndarray, Grid]:
    g = as_grid(grid)
    a = as_float_array(x, "x", allow_empty=False).ravel()
    return a, g


def _alpha_to_scale(alpha: float, g: Grid) -> float:
    alpha = float(alpha)
    if not alpha > 0:
        alpha = 1.0  # all-zero data: any scale is optimal (same convention as optimal_scale_data)
    return alpha / (2 ** (g.bits - 1)) if g.signed else alpha / (2**g.bits - 1)


def _levels_half(g: Grid) -> float:
    return float(2 ** (g.bits - 1) if g.signed else 2**g.bits - 1)


def maxabs(x, grid) -> float:
    """No clipping: ``s = max(max(x)/r_t, max(-x)/|r_b|)`` (unsigned: ``max(x)/r_t``)."""
    a, g = _prep(x, grid)
    s = a.max() / g.r_t if g.r_t > 0 else 0.0
    if g.signed:
        s = max(s, -a.min() / -g.r_b)
    return float(s) if s > 0 else 1.0


def percentile(x, grid, q: float = 99.99) -> float:
    """``alpha`` = ``q``-th percentile of ``|x|`` (of ``max(x, 0)`` for unsigned grids)."""
    a, g = _prep(x, grid)
    v = np.abs(a) if g.signed else np.maximum(a, 0.0)
    return _alpha_to_scale(np.percentile(v, q), g)


def _aciq_alpha(clip_mse, g: Grid, hi: float) -> float:
    from scipy import optimize

    noise = (lambda al: al * al / (3 * 4.0**g.bits)) if g.signed else (lambda al: al * al / (12 * 4.0**g.bits))
    res = optimize.minimize_scalar(lambda al: clip_mse(al) + noise(al), bounds=(1e-12 * hi, hi), method="bounded",
                                   options={"xatol": 1e-10 * hi})
    return float(res.x)


def aciq_gauss(x, grid) -> float:
    """ACIQ with a Normal fit ``N(mu, sigma^2)`` (clipping error of both tails for signed grids)."""
    a, g = _prep(x, grid)
    mu, sig = float(a.mean()), float(a.std())
    if sig == 0:
        return maxabs(a, g)

    def tail(z):  # E[(Z - z)^2; Z > z] for Z ~ N(0, 1)
        return (1 + z * z) * special.ndtr(-z) - z * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)

    def clip(al):  # E[(X - al)^2; X > al] (+ E[(X + al)^2; X < -al] if signed), X ~ N(mu, sig^2)
        t = sig * sig * tail((al - mu) / sig)
        if g.signed:
            t += sig * sig * tail((al + mu) / sig)
        return t

    return _alpha_to_scale(_aciq_alpha(clip, g, abs(mu) + 20 * sig), g)


def aciq_laplace(x, grid) -> float:
    """ACIQ with a Laplace fit ``(mu, b = mean|x - mu|)``: clipping error ``b^2 e^{-(alpha - |mu|)/b}`` per tail."""
    a, g = _prep(x, grid)
    mu = float(np.median(a))
    b = float(np.mean(np.abs(a - mu)))
    if b == 0:
        return maxabs(a, g)

    def clip(al):
        t = b * b * math.exp(-(al - mu) / b) if al > mu else (mu - al) ** 2 + b * b
        if g.signed:
            t += b * b * math.exp(-(al + mu) / b) if al > -mu else (mu + al) ** 2 + b * b
        return t

    return _alpha_to_scale(_aciq_alpha(clip, g, abs(mu) + 60 * b), g)


def octav(x, grid, iters: int = 30) -> float:
    """OCTAV fixed-point iteration for the clipping threshold (Sakr et al., ICML 2022)."""
    a, g = _prep(x, grid)
    v = np.abs(a) if g.signed else np.maximum(a, 0.0)
    c = (4.0 ** -g.bits) / 3.0 if g.signed else (4.0 ** -g.bits) / 12.0
    al = float(v.mean()) or 1.0
    for _ in range(iters):
        big = v > al
        pb = big.mean()
        new = float(v[big].sum() / v.size) / (c * (1 - pb) + pb) if pb > 0 else al
        if not new > 0 or abs(new - al) <= 1e-12 * al:
            al = new if new > 0 else al
            break
        al = new
    return _alpha_to_scale(al, g)


def lsq_init(x, grid) -> float:
    """LSQ step-size initialization ``s = 2 mean|x| / sqrt(Q_p)`` with ``Q_p = r_t``."""
    a, g = _prep(x, grid)
    s = 2.0 * float(np.abs(a).mean()) / math.sqrt(max(g.r_t, 1))
    return s if s > 0 else 1.0


def sweep(x, grid, candidates: int = 100) -> float:
    """MSE observer: ``alpha_i = max|x| i / candidates``; exact MSE of each; best kept."""
    from .data import mse_sums

    a, g = _prep(x, grid)
    al_max = float(np.abs(a).max()) if g.signed else float(max(a.max(), 0.0))
    if al_max == 0:
        return 1.0
    ss = np.array([_alpha_to_scale(al_max * i / candidates, g) for i in range(1, candidates + 1)])
    return float(ss[int(np.argmin(mse_sums(a, ss, g)))])


def histogram(x, grid, bins: int = 2048, stride: int = 4) -> float:
    """Histogram search: 2048-bin histogram of ``x``; thresholds ``alpha`` at every ``stride``-th
    bin edge of ``|x|``; MSE estimated by quantizing the bin centres (counts as weights)."""
    a, g = _prep(x, grid)
    top = float(np.abs(a).max()) if g.signed else float(max(a.max(), 0.0))
    if top == 0:
        return 1.0
    lo = -top if g.signed else min(float(a.min()), 0.0)
    cnt, edges = np.histogram(a, bins=bins, range=(lo, top))
    cen = 0.5 * (edges[:-1] + edges[1:])
    nz = cnt > 0
    cnt, cen = cnt[nz], cen[nz]
    best, best_s = math.inf, 1.0
    for i in range(1, bins // stride + 1):
        s = _alpha_to_scale(top * i * stride / bins, g)
        u = np.clip(np.rint(cen / s), g.r_b, g.r_t)
        err = float(np.sum(cnt * (cen - u * s) ** 2))
        if err < best:
            best, best_s = err, s
    return float(best_s)


BASELINES = {
    "maxabs": maxabs,
    "percentile": percentile,
    "aciq_gauss": aciq_gauss,
    "aciq_laplace": aciq_laplace,
    "octav": octav,
    "lsq_init": lsq_init,
    "sweep100": sweep,
    "histogram": histogram,
}
"""Name -> function ``f(x, grid) -> scale``."""
