"""``fit_law(x, grid)``: which parametric law carries a sample, and how far its optimal scale is from the data's.

Candidates, each fitted by maximum likelihood (closed form or ``scipy.stats.<law>.fit``):
``Normal`` (mean, sd), ``Laplace`` (median, mean absolute deviation), ``StudentT``
(df, loc, scale; kept only if df > 2, finite variance) and ``GenNormal`` (beta, loc,
scale).  The choice is the largest maximized log-likelihood penalized by the parameter
count (AIC = 2 k - 2 log L; the 3-parameter laws contain the 2-parameter ones only in
limits).  For a grid, each candidate's predicted optimal scale ``s_law``
(:func:`quanttheory.optimal_scale` of the fitted law) is set beside the exact optimum of
the data ``s_data`` (:func:`quanttheory.risk.optimal_scale_data`) with the MSE gap

    gap = MSE_data(s_law) / MSE_data(s_data) - 1      (>= 0; the data's own MSE, exact)

so a user with samples sees how far a parametric model carries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._validate import as_float_array, as_generator


@dataclass(frozen=True)
class Candidate:
    """One fitted law: ``loglik`` (sum over the fitted sample), ``aic``, and, with a grid,
    ``scale`` (the law's optimal s), ``mse_gap`` (relative excess of the data's MSE at that s)."""

    law: object
    loglik: float
    aic: float
    scale: float | None = None
    mse_gap: float | None = None


@dataclass(frozen=True)
class FitResult:
    """``best``: the chosen law; ``candidates``: every fit (best first); ``data_scale`` and ``data_mse``:
    the exact optimum of the data and its MSE (with a grid); ``n_fit``: values used for the fit."""

    best: object
    candidates: tuple = field(default_factory=tuple)
    data_scale: float | None = None
    data_mse: float | None = None
    n_fit: int = 0

    def table(self) -> str:
        rows = [f"{'law':<34} {'log L':>14} {'AIC':>14} {'s_law':>12} {'MSE gap':>10}"]
        for c in self.candidates:
            sc = "" if c.scale is None else f"{c.scale:12.6g}"
            gp = "" if c.mse_gap is None else f"{c.mse_gap:10.3e}"
            rows.append(f"{str(c.law):<34} {c.loglik:14.6g} {c.aic:14.6g} {sc:>12} {gp:>10}")
        if self.data_scale is not None:
            rows.append(f"data optimum s = {self.data_scale:.6g}, MSE = {self.data_mse:.6g}")
        return "\n".join(rows)


def _fit_t(x, med, mad):
    """Student t maximum likelihood over (log(df - 1), loc, log scale) by Nelder-Mead (scipy's t.fit is
    ~100x slower on large samples); df may come out <= 2 (then the law has no finite variance)."""
    from scipy import optimize, special

    def nll(p):
        df = 1.0 + math.exp(min(p[0], 50.0))
        loc, sc = p[1], math.exp(p[2])
        z = (x - loc) / sc
        lc = special.gammaln((df + 1) / 2) - special.gammaln(df / 2) - 0.5 * math.log(df * math.pi) - math.log(sc)
        return -(x.size * lc - 0.5 * (df + 1) * float(np.sum(np.log1p(z * z / df))))

    best = None
    for df0 in (3.0, 8.0, 30.0):
        r = optimize.minimize(nll, [math.log(df0 - 1), med, math.log(mad)], method="Nelder-Mead",
                              options={"xatol": 1e-8, "fatol": 1e-9, "maxiter": 4000})
        if best is None or r.fun < best.fun:
            best = r
    p = best.x
    return 1.0 + math.exp(min(p[0], 50.0)), float(p[1]), math.exp(p[2])


def fit_law(x, grid=None, *, max_fit: int = 20_000, rng=0) -> FitResult:
    """Maximum-likelihood choice among Normal, Laplace, StudentT, GenNormal for the sample ``x``.

    ``grid`` (a :class:`~quanttheory.Grid` or bit width): also compute each law's optimal scale and its
    MSE gap on the data.  ``max_fit``: at most this many values (a random subsample drawn with
    ``rng``, an int seed or ``numpy.random.Generator``) are used for the t / gennorm fits.
    """
    from scipy import stats

    from .heavy import GenNormal, StudentT
    from .parametric import Laplace, Normal

    arr = as_float_array(x, "x").ravel()
    if arr.size < 8:
        raise ValueError(f"fit_law needs at least 8 values, got {arr.size}")
    if not np.ptp(arr) > 0:
        raise ValueError("fit_law: all values are equal; no continuous law fits a constant sample")
    sub = arr
    if arr.size > max_fit:
        sub = as_generator(rng).choice(arr, size=max_fit, replace=False)
    n = sub.size
    cands = []
    m, sd = float(np.mean(sub)), float(np.std(sub))
    cands.append((Normal(m, sd), float(np.sum(stats.norm.logpdf(sub, m, sd))), 2))
    med = float(np.median(sub))
    b = float(np.mean(np.abs(sub - med)))
    cands.append((Laplace(med, b), float(np.sum(stats.laplace.logpdf(sub, med, b))), 2))
    df, loc, sc = _fit_t(sub, med, b)
    if df > 2.0:
        law = StudentT(float(df), float(loc), float(sc))
        cands.append((law, float(np.sum(stats.t.logpdf(sub, df, loc, sc))), 3))
    with np.errstate(all="ignore"):
        beta, loc, sc = stats.gennorm.fit(sub)
    if 0.05 <= beta <= 200:
        cands.append((GenNormal(float(beta), float(loc), float(sc)),
                      float(np.sum(stats.gennorm.logpdf(sub, beta, loc, sc))), 3))
    cands.sort(key=lambda c: 2 * c[2] - 2 * c[1])
    data_scale = data_mse = None
    out = []
    if grid is not None:
        from ..formats.grid import as_grid
        from ..risk.data import empirical_mse, optimal_scale_data
        from ..risk.optimum import optimal_scale

        grid = as_grid(grid)
        d = optimal_scale_data(arr, grid)
        data_scale = d.scale
        data_mse = float(empirical_mse(arr, d.scale, grid))
    for law, ll, k in cands:
        scale = gap = None
        if grid is not None:
            scale = optimal_scale(law, grid).scale
            gap = float(empirical_mse(arr, scale, grid)) / data_mse - 1.0 if data_mse > 0 else 0.0
        out.append(Candidate(law, ll, 2 * k - 2 * ll, scale, gap))
    return FitResult(out[0].law, tuple(out), data_scale, data_mse, int(n))
