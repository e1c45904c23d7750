"""Shared helpers of the risk-curve figures: the paper's four laws and a fast minimizer.

The figures and the optimal-scale table need ``argmin_s R(s)`` for ~150
(law, grid, regularizer) triples.  :func:`quanttheory.risk.optimal_scale`
certifies the global minimum by branch and bound, which costs a few hundred
risk evaluations (seconds per 16-bit call).  Here the minimum is located by a
dense log-scan of the exact curve (one vectorized :func:`risk_curve` call) and
refined by bounded Brent in ``log s``.  ``tests/test_figures.py`` checks the
results against the certified ``optimal_scale`` (scale within its
``scale_error``, risk equal to 1e-10 relative).

Nothing is cached on disk; an in-process ``lru_cache`` lets the Fig. 2 module
and the table module share the optima when both run in one command.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from ..formats.grid import Grid
from ..laws.parametric import Laplace, Normal, ReLU

# key -> (distribution, plot label, short text label); plain text: mathtext parsing is slow

LAWS = {
    "normal": (Normal(0.0, 1.0), "N(0,1)", "N(0,1)"),
    "relu_normal": (ReLU(Normal(0.0, 1.0)), "N(0,1) + ReLU", "ReLU(N(0,1))"),
    "laplace": (Laplace(0.0, 1.0), "Laplace(0,1)", "Laplace(0,1)"),
    "relu_laplace": (ReLU(Laplace(0.0, 1.0)), "Laplace(0,1) + ReLU", "ReLU(Laplace(0,1))"),
}

LOG_XTOL = 1e-8
"""Brent's absolute tolerance in ``log s``.  The curves are known to ~1e-12
relative, so near a quadratic minimum ``s*`` is only determined to ~1e-6
relative anyway; 1e-8 keeps the optimizer from being the limiting factor."""


class Optimum(NamedTuple):
    """Minimizer of one risk curve.

    scale : ``s*`` (data units); risk : ``R(s*)`` (data units squared, with the
    regularizer's curve factor, pi**2 for MSQE); evaluations : risk evaluations used.
    """

    scale: float
    risk: float
    evaluations: int


_SUP = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


def pow10_label(value, _pos=None) -> str:
    """Tick label ``10^k`` with unicode superscripts (no mathtext: rendering stays fast)."""
    if value <= 0:
        return ""
    k = math.log10(value)
    if abs(k - round(k)) > 1e-9:
        return f"{value:g}"
    return "10" + str(int(round(k))).translate(_SUP)


def grid_label(grid: Grid) -> str:
    kind = "signed" if grid.signed else "unsigned"
    return f"{kind} [{grid.r_b}, {grid.r_t}]"


def _curve(dist, scales, grid, reg) -> np.ndarray:
    from ..risk import risk_curve

    return risk_curve(dist, np.asarray(scales, dtype=float), grid, reg)


def refine(dist, grid: Grid, reg: str, scan: np.ndarray, vals: np.ndarray | None = None) -> Optimum:
    """Brent refinement around the lowest point of ``scan`` (increasing scales).

    Raises ``RuntimeError`` if the lowest scan point is an end point (the scan
    does not bracket the minimum).
    """
    from scipy.optimize import minimize_scalar

    scan = np.asarray(scan, dtype=float)
    if vals is None:
        vals = _curve(dist, scan, grid, reg)
    i = int(np.argmin(vals))
    if i == 0 or i == scan.size - 1:
        raise RuntimeError(f"scan [{scan[0]:g}, {scan[-1]:g}] does not bracket the {reg} minimum "
                           f"of {dist} on the {grid}")
    n = [scan.size]

    def f(logs):
        n[0] += 1
        return float(_curve(dist, [math.exp(logs)], grid, reg)[0])

    res = minimize_scalar(f, bounds=(math.log(scan[i - 1]), math.log(scan[i + 1])), method="bounded",
                          options={"xatol": LOG_XTOL, "maxiter": 200})
    s, r = math.exp(res.x), float(res.fun)
    if vals[i] < r:  # never return worse than the scan
        s, r = float(scan[i]), float(vals[i])
    return Optimum(s, r, n[0])


def _wide_scan(dist, grid: Grid) -> np.ndarray:
    rms = math.sqrt(dist.second_moment())
    return np.geomspace(rms * 2.0 ** (-grid.bits) / 16, rms * 16, 40 * (grid.bits + 8) // 2)


def expensive(grid: Grid) -> bool:
    """Grids where one exact risk evaluation costs milliseconds (cost grows like 2**bits)."""
    return grid.bits > 10


@lru_cache(maxsize=None)
def optimum(law: str, bits: int, signed: bool, reg: str, guess: float | None = None) -> Optimum:
    """``argmin_s R_reg[law](s)`` on the ``bits``-bit grid.

    Cheap grids (<= 10 bits): global minimum of a dense log-scan of the whole
    range ``[rms 2^-b / 16, 16 rms]`` (hundreds of points, one vectorized call),
    then Brent.  Expensive grids: a short scan around ``guess`` (required),
    widened until it brackets a minimum, then Brent; the global minimum is
    then not searched for (the tests compare with the certified optimizer).
    """
    dist = LAWS[law][0]
    grid = Grid(bits, signed)
    if dist.relu and grid.r_t == 0:
        raise ValueError(f"{LAWS[law][2]} on the {grid}: degenerate (no positive grid point)")
    if not expensive(grid):
        return refine(dist, grid, reg, _wide_scan(dist, grid))
    if guess is None:
        raise ValueError("an expensive grid needs a guess of the optimum")
    lo, hi, n = guess / 1.04, guess * 1.04, 5
    for _ in range(12):
        scan = np.geomspace(lo, hi, n)
        vals = _curve(dist, scan, grid, reg)
        i = int(np.argmin(vals))
        if 0 < i < n - 1:
            return refine(dist, grid, reg, scan, vals)
        lo, hi = (lo / 1.5, scan[1]) if i == 0 else (scan[-2], hi * 1.5)
    raise RuntimeError(f"could not bracket the {reg} minimum of {dist} on the {grid} near {guess:g}")


def optimum_pair(law: str, bits: int, signed: bool) -> tuple[Optimum, Optimum]:
    """(MSQE optimum, QSin optimum).  For expensive grids the MSQE guess is
    extrapolated from the 7- and 8-bit optima (``s* 2^b`` is smooth in ``b``)
    and the QSin search starts from the MSQE optimum."""
    grid = Grid(bits, signed)
    if not expensive(grid):
        return optimum(law, bits, signed, "msqe"), optimum(law, bits, signed, "qsin")
    a, b = (optimum(law, k, signed, "msqe").scale * 2.0**k for k in (7, 8))
    guess = (b + (b - a) * (bits - 8)) * 2.0**-bits
    m = optimum(law, bits, signed, "msqe", guess)
    q = optimum(law, bits, signed, "qsin", m.scale * 1.02)
    return m, q
