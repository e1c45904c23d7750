"""Certified MSE-optimal scales of any number format, the best power-of-two scale, and
the exact price of the absmax ("amax") scale rule.

For a format with levels ``L`` (grid units) and a law ``xi`` the risk curve is
``R(s) = pi**2 E[(xi - Q_s(xi))**2]`` (:func:`~quanttheory.risk.levels.format_risk_curve`).
A minifloat level set is almost unchanged by ``s -> 2 s``, so ``R`` has near-equal local
minima one octave apart (their values may differ only in the 11th digit): the answer is
a *set* of scales, and the well-posed number is the minimum risk.

:func:`format_optimal_scale` returns every local minimum whose risk is within
``rtol`` (relative) of the best value found, and a certificate:

* ``risk_lower_bound``: no ``s > 0`` has a lower risk;
* ``certified_intervals``: every ``s`` with ``R(s) <= best * (1 + rtol)`` lies in their
  union (every other scale is provably worse than the best by more than ``rtol``).

How (branch and bound over ``s``, rigorous interval lower bounds; ``docs/format_risk.md``):

1. distance bound: for ``s in [s1, s2]`` the level ``l`` sits in ``l [s1, s2]``, so the
   error at ``x`` is at least the distance to the union of those intervals (valid for
   ``s1 = 0`` and ``s2 = inf``: it brackets the search);
2. second-order bound: ``R(m + x) >= R(m) + R'(m) x + c x^2 / 2`` on ``|x| <= h``
   with the exact derivative ``R'(s) = -2 pi^2 E[l(xi) (xi - s l(xi))]`` and
   ``c <= min R''``, ``R''(s) = 2 pi^2 (E[l^2] - s sum_j m_j^2 delta_j p(m_j s))``
   (moving cell boundaries ``m_j s``; the density bounded termwise over ``m_j [s1, s2]``).

Intervals whose bound exceeds ``best (1 + rtol)`` are discarded; the others are bisected
(geometric midpoint) down to a relative width ``resolution``.  The survivors, merged into
clusters, contain every near-optimal scale; in each cluster the local minimum is the
root of the exact ``R'`` (bisection) and is reported if its risk is within ``rtol``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from .levels import _check_dist, _mse_flat, _prepare, _tables, as_levels_format

_PI2 = math.pi ** 2
_SAFETY = 1e-12  # relative allowance for the rounding of the computed curve (<= 1e-13 measured)


class FormatMinimum(NamedTuple):
    """One local minimum of the risk curve: scale (data units), risk (with pi^2), SQNR (dB)
    and the certified interval containing it (every scale of its cluster)."""

    scale: float
    risk: float
    sqnr_db: float
    interval: tuple


@dataclass(frozen=True)
class FormatOptimum:
    """Certified global optimum of ``R(s) = pi**2 E[(xi - Q_s(xi))**2]`` over ``s > 0``.

    Attributes
    ----------
    format, distribution : str
        What was optimized.
    scale, risk, sqnr_db : float
        The best local minimum found: scale (data units), risk (data units squared, with
        the pi**2 factor), ``SQNR = 10 log10(E[xi^2] / (risk / pi^2))`` dB.
    minima : tuple of FormatMinimum
        Every local minimum with ``risk <= best (1 + rtol)``, sorted by risk.
    rtol : float
        The relative tolerance of "near-optimal".
    risk_lower_bound : float
        Certificate: no ``s > 0`` has ``R(s) < risk_lower_bound`` (<= risk).
    certified_intervals : tuple of (lo, hi)
        Every ``s`` with ``R(s) <= risk (1 + rtol)`` lies in their union.
    pow2_scale, pow2_risk, pow2_sqnr_db, pow2_db_loss : float
        Best power-of-two scale ``2**k`` (certified over all integers k), its risk and SQNR,
        and the dB lost against the optimum.
    pow2_near : tuple of float
        Every power of two whose risk is within ``rtol`` of ``pow2_risk``.
    method : str
    extra : dict
        Diagnostics (evaluation counts, bracket, ...).
    """

    format: str
    distribution: str
    scale: float
    risk: float
    sqnr_db: float
    minima: tuple
    rtol: float
    risk_lower_bound: float
    certified_intervals: tuple
    pow2_scale: float
    pow2_risk: float
    pow2_sqnr_db: float
    pow2_db_loss: float
    pow2_near: tuple
    method: str
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-friendly dict (finite floats, lists)."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["minima"] = [m._asdict() | {"interval": list(m.interval)} for m in self.minima]
        d["certified_intervals"] = [list(iv) for iv in self.certified_intervals]
        d["pow2_near"] = list(self.pow2_near)
        return d


class _Problem:
    """The curve, its derivative and interval lower bounds, in MSE units (no pi^2)."""

    def __init__(self, dist, fmt):
        self.dist = dist
        self.fmt = fmt
        self.prep = _prepare(fmt)
        self.law = dist.kernel_params()
        self.p0 = dist.point_mass
        self.m2 = dist.second_moment()
        self.n_f = self.n_d = self.n_lb = 0

    def F(self, s):
        s = np.atleast_1d(np.asarray(s, dtype=float))
        self.n_f += s.size
        return _mse_flat(self.dist, self.prep, np.ascontiguousarray(s), "auto")

    def F1(self, s) -> float:
        return float(self.F([s])[0])

    def dF(self, s) -> float:
        from ._kernels import levels as rk

        self.n_d += 1
        ns, nodes, weights, amax = _tables()
        v = float(rk.curve_cells(*self.law, self.prep.levels, np.array([float(s)]), 3, ns, nodes, weights, amax)[0])
        return v + 2.0 * self.p0 * self.prep.d0 ** 2 * s

    def lb_dist(self, s1, s2) -> float:
        from ._kernels import levels as rk

        self.n_lb += 1
        ns, nodes, weights, amax = _tables()
        v = rk.lower_bound(*self.law, self.prep.levels, float(s1), float(s2), ns, nodes, weights, amax)
        v += self.p0 * (self.prep.d0 * s1) ** 2
        return v * (1.0 - _SAFETY)

    def lb_taylor(self, s1, s2):
        """(lower bound on [s1, s2], F at the midpoint, midpoint): second-order Taylor bound
        with the exact F'(m) and a lower bound c of F'' on the interval."""
        from ._kernels import levels as rk

        m = 0.5 * (s1 + s2)
        h = 0.5 * (s2 - s1)
        fm = self.F1(m)
        g = self.dF(m)
        c = rk.curvature_lower(*self.law, self.prep.levels, float(s1), float(s2), self.prep.d0 == 0.0)
        # min over x in [-h, h] of fm + g x + c x^2 / 2 (F(m + x) is above it)
        cands = [fm - abs(g) * h + 0.5 * c * h * h]
        if c > 0.0 and abs(g) < c * h:
            cands.append(fm - 0.5 * g * g / c)
        return min(cands) - _SAFETY * (fm + abs(g) * m), fm, m


def _golden(f, a, b, tol=1e-12):
    invphi = (math.sqrt(5) - 1) / 2
    la, lb = math.log(a), math.log(b)
    c = lb - invphi * (lb - la)
    d = la + invphi * (lb - la)
    fc, fd = f(math.exp(c)), f(math.exp(d))
    while lb - la > tol:
        if fc <= fd:
            lb, d, fd = d, c, fc
            c = lb - invphi * (lb - la)
            fc = f(math.exp(c))
        else:
            la, c, fc = c, d, fd
            d = la + invphi * (lb - la)
            fd = f(math.exp(d))
    return (math.exp(c), fc) if fc <= fd else (math.exp(d), fd)


def _local_min(P: _Problem, lo, hi, s0, f0):
    """Local minimum in [lo, hi]: root of the exact derivative by bisection when it brackets
    one, else golden section; never worse than the known point (s0, f0)."""
    glo, ghi = P.dF(lo), P.dF(hi)
    if glo < 0.0 < ghi:
        a, b = lo, hi
        for _ in range(100):
            m = 0.5 * (a + b)
            if not a < m < b or (b - a) <= 1e-15 * a:
                break
            gm = P.dF(m)
            if gm == 0.0:
                a = b = m
                break
            if gm < 0.0:
                a = m
            else:
                b = m
        s = 0.5 * (a + b)
        fs = P.F1(s)
    elif hi > lo * (1 + 1e-13):
        s, fs = _golden(P.F1, lo, hi)
    else:
        s, fs = s0, f0
    if f0 < fs * (1.0 - 1e-13):  # (differences below the curve's accuracy do not count)
        s, fs = s0, f0
    return s, fs


def _sqnr(m2, f):
    return 10.0 * math.log10(m2 / f) if f > 0 else math.inf


def _one_sided_split(dist, f, lv, **kw):
    """Normal / Laplace law on a format with a zero level and no level on one side of 0, with mass there.

    Every value on the level-free side quantizes to 0 whatever ``s`` (error ``xi^2``), so
    ``R(s) = R_ReLU(s) + C`` with ``C = pi^2 E[xi^2; xi on that side]`` independent of ``s``: the optimum
    is the one of ``ReLU(law)`` on the format (no negative level), or of ``ReLU(-law)`` on the reflected
    levels ``-L`` (no positive level), plus ``C``.  Certifying ``R_ReLU + C`` directly failed where ``C``
    dominates (its rounding, ~1e-16 C, swamps the dips of ``R_ReLU``: "could not bracket"; docs/audit.md,
    finding 20).  As in the integer engine (``risk.optimum._check_flat_side``) a ``ValueError`` says the
    curve is flat when the ``s``-dependent part ``pi^2 E[xi^2; grid side]`` is at most ``FLAT_SIDE_MSQE``
    (1e-13) of ``E[xi^2]`` and ``P(grid side) <= 1e-6``.  ``rtol``, ``certified_intervals`` and ``pow2_near``
    refer to the ``s``-dependent part ``R_ReLU`` (relative to the full risk every scale would be within
    ``rtol`` once ``C`` dominates).  None where this does not apply."""
    from ..formats.levelset import levelset
    from ..laws.parametric import Laplace, Normal, ReLU
    from .optimum import FLAT_SIDE_MSQE

    if type(dist) not in (Normal, Laplace) or not np.any(lv == 0.0):
        return None
    if lv[0] == 0.0 and dist.cdf(0.0) > 0.0:
        side, inner_law, inner_fmt = +1, ReLU(dist), f
        p_side = float(dist.sf(0.0))
        part = float(dist.partial_moment(2, 0.0, math.inf))
        const = float(dist.partial_moment(2, -math.inf, 0.0))
    elif lv[-1] == 0.0 and dist.sf(0.0) > 0.0:
        side = -1
        inner_law = ReLU(type(dist)(-dist.loc, dist.scale))
        inner_fmt = levelset(-lv[::-1], name=f"-({f.name})")
        p_side = float(dist.cdf(0.0))
        part = float(dist.partial_moment(2, -math.inf, 0.0))
        const = float(dist.partial_moment(2, 0.0, math.inf))
    else:
        return None
    m2 = float(dist.second_moment())
    if p_side <= 1e-6 and _PI2 * part <= FLAT_SIDE_MSQE * m2:
        what, sign, far = ("P(xi > 0)", "negative", "below") if side > 0 else ("P(xi < 0)", "positive", "above")
        raise ValueError(
            f"{dist} has {what} = {p_side:.3g} and format {f.name!r} has no {sign} level: every value {far} 0 "
            f"quantizes to 0 whatever s, the risk is flat in s to {FLAT_SIDE_MSQE:g} relative and no scale is "
            "meaningfully optimal; use a format with levels on both sides or quantize -xi")
    if not (math.isfinite(const) and const >= 0.0):
        return None
    inner = format_optimal_scale(inner_law, inner_fmt, **kw)
    c = _PI2 * const
    eps = np.finfo(float).eps

    def sq(r):
        return _sqnr(m2, r / _PI2)

    minima = tuple(FormatMinimum(m.scale, m.risk + c, sq(m.risk + c), m.interval) for m in inner.minima)
    risk = inner.risk + c
    p2 = inner.pow2_risk + c
    how = "no negative level" if side > 0 else "no positive level (reflected: -xi on the levels -L)"
    method = (f"format with {how}: every value {'below' if side > 0 else 'above'} 0 quantizes to 0 whatever s, "
              f"so R(s) = R_ReLU(s) + pi^2 E[xi^2; xi {'<' if side > 0 else '>'} 0] (a constant); certified as "
              f"{inner_law} on {inner_fmt.name!r} plus that constant (rtol and the intervals refer to R_ReLU); "
              + inner.method)
    extra = dict(inner.extra)
    extra.update(relu_constant=c, relu_law=str(inner_law), relu_format=inner_fmt.name, relu_risk=inner.risk,
                 relu_risk_lower_bound=inner.risk_lower_bound)
    return FormatOptimum(
        format=f.name, distribution=str(dist), scale=inner.scale, risk=risk, sqnr_db=sq(risk), minima=minima,
        rtol=inner.rtol, risk_lower_bound=(inner.risk_lower_bound + c) * (1.0 - 4.0 * eps),
        certified_intervals=inner.certified_intervals, pow2_scale=inner.pow2_scale, pow2_risk=p2,
        pow2_sqnr_db=sq(p2), pow2_db_loss=sq(risk) - sq(p2), pow2_near=inner.pow2_near, method=method,
        extra=extra)


def format_optimal_scale(dist, fmt, *, rtol: float = 1e-9, resolution: float = 1e-5,
                         inner_width: float = 1e-3, max_bounds: int = 200_000) -> FormatOptimum:
    """Certified MSE-optimal scale(s) of a number format for a parametric law.

    Parameters
    ----------
    dist : Distribution
        ``Normal``, ``Laplace`` or ``ReLU(...)`` (any loc/scale).
    fmt : Format, str, Grid, int or array of levels
        ``"e4m3"``, ``"e5m2"``, ``"e2m3"``, ``"e3m2"``, ``"e2m1"``, ``"nf4"``, ``"int8"``,
        ``"int4n"``, ... (see :func:`quanttheory.formats.get_format`).
    rtol : float
        Local minima with ``R <= best (1 + rtol)`` are all reported (default 1e-9: the
        octave-apart minima of minifloats that agree to ~10 digits; the curve itself is
        accurate to ~1e-13, so smaller differences are not resolved).
    resolution : float
        Relative width down to which undecided scale intervals are bisected.
    inner_width : float
        Intervals whose midpoint is already near-optimal are not split below this
        relative width (they belong to the near-optimal set anyway).
    max_bounds : int
        Budget of interval bounds; if exhausted the certificate still holds but its
        intervals are wider (``extra["budget_exhausted"]``).

    Returns
    -------
    FormatOptimum
        See its attributes; ``risk`` and the bounds include the pi**2 factor.
    """
    dist = _check_dist(dist)
    f = as_levels_format(fmt)
    if not (0.0 <= rtol < 1e-2):
        raise ValueError(f"rtol must be in [0, 1e-2), got {rtol}")
    if not (1e-12 <= resolution <= 1e-2):
        raise ValueError(f"resolution must be in [1e-12, 1e-2], got {resolution}")
    lv = np.asarray(f.levels, dtype=float)
    m2 = float(dist.second_moment())
    if not (math.isfinite(m2) and m2 > 0.0):
        # e.g. ReLU(Normal(-40, 1)): E[xi^2] underflows to 0 (formerly ZeroDivisionError)
        raise ValueError(f"{dist}: E[xi^2] = {m2:.3g} in float64, where the risk curve and its search are not "
                         "representable; rescale the law (s*(c xi) = c s*(xi)); a law with (nearly) all its mass "
                         "at 0, e.g. ReLU of a law far below 0, has nothing to quantize")
    if dist.relu and lv[-1] <= 0.0:
        raise ValueError(f"{dist} is >= 0 and format {f.name!r} has no positive level: every value maps to "
                         "the largest level and no scale is optimal; use a format with positive levels")
    split = _one_sided_split(dist, f, lv, rtol=rtol, resolution=resolution, inner_width=inner_width,
                             max_bounds=max_bounds)
    if split is not None:
        return split
    P = _Problem(dist, f)
    rms = math.sqrt(P.m2)
    lmax = float(np.max(np.abs(lv)))
    nz = np.abs(lv[lv != 0.0])
    lnz = float(np.min(nz)) if nz.size else lmax
    s_min, s_max = rms / lmax / 64.0, 64.0 * rms / lnz
    npts = int(math.ceil(32 * math.log2(s_max / s_min))) + 1
    scan = np.geomspace(s_min, s_max, npts)
    vals = P.F(scan)
    ib = int(np.argmin(vals))
    best_s, best = _golden(P.F1, float(scan[max(ib - 1, 0)]), float(scan[min(ib + 1, npts - 1)]))
    if vals[ib] < best:
        best_s, best = float(scan[ib]), float(vals[ib])

    def thr():
        return best * (1.0 + rtol)

    # 1. bracket: [0, s_lo] and [s_hi, inf) provably worse
    s_lo, s_hi = float(scan[0]), float(scan[-1])
    while P.lb_dist(0.0, s_lo) <= thr():
        s_lo /= 4.0
        if s_lo < 1e-300:
            raise ValueError(
                f"could not bracket the optimum of {dist} on format {f.name!r} from below: no scale down to "
                "1e-300 is provably worse than the best found (the risk is flat in s to rounding, e.g. almost "
                "all of the law on a side of 0 with no level); use a format with levels on both sides")
    while P.lb_dist(s_hi, math.inf) <= thr():
        s_hi *= 4.0
        if s_hi > 1e300:
            raise ValueError(
                f"could not bracket the optimum of {dist} on format {f.name!r} from above: no scale up to "
                "1e300 is provably worse than the best found (the risk is flat in s to rounding)")
    edges = np.concatenate([[s_lo], scan[(scan > s_lo) & (scan < s_hi)], [s_hi]])
    # 2. branch and bound
    todo = list(zip(edges[:-1].tolist(), edges[1:].tolist()))
    final = []
    exhausted = False
    while todo:
        a, b = todo.pop()
        if P.n_lb + P.n_d >= max_bounds:
            exhausted = True
            final.append((a, b, -math.inf))
            continue
        lb = P.lb_dist(a, b)
        if lb > thr():
            continue
        lt, fm, m = P.lb_taylor(a, b)
        if fm < best:
            best, best_s = fm, m
        lb = max(lb, lt)
        if lb > thr():
            continue
        if (b - a) / a <= resolution or (fm <= thr() and (b - a) / a <= inner_width):
            # narrow enough, or already inside the near-optimal set (its midpoint is): keep
            final.append((a, b, lb))
            continue
        mid = math.sqrt(a * b)
        todo += [(mid, b), (a, mid)]
    final = sorted(iv for iv in final if iv[2] <= thr())
    # 3. clusters of touching survivors, one local minimum each
    clusters = []
    for a, b, lb in final:
        if clusters and a <= clusters[-1][1] * (1 + 1e-15):
            c = clusters[-1]
            clusters[-1] = (c[0], max(c[1], b), min(c[2], lb))
        else:
            clusters.append((a, b, lb))
    found = []
    for a, b, lb in clusters:
        s0 = math.sqrt(a * b)
        s, fs = _local_min(P, a, b, s0, P.F1(s0))
        if a <= best_s <= b and best < fs * (1.0 - 1e-13):
            s, fs = best_s, best
        found.append((fs, s, (a, b)))
        if fs < best:
            best, best_s = fs, s
    # reported: every local minimum within rtol of the lowest one (plus the curve's rounding, 1e-13)
    fmin = min([fs for fs, _, _ in found] + [best])
    minima = sorted(
        (FormatMinimum(float(s), _PI2 * float(fs), _sqnr(P.m2, fs), (float(iv[0]), float(iv[1])))
         for fs, s, iv in found if fs <= fmin * (1.0 + rtol + 1e-13)), key=lambda m: m.risk)
    risk_lb = max(0.0, min([lb for *_, lb in clusters] + [best]))  # an MSE is >= 0 (and JSON-finite)
    # 4. powers of two: R at every 2^k in a bracket certified for the best power's risk
    k_lo = math.floor(math.log2(s_lo))
    k_hi = math.ceil(math.log2(s_hi))
    ks = np.arange(k_lo, k_hi + 1)
    pv = P.F(np.ldexp(1.0, ks))
    j = int(np.argmin(pv))
    p_best = float(pv[j])
    while ks[0] > -1000 and P.lb_dist(0.0, math.ldexp(1.0, int(ks[0]))) <= p_best:
        ks = np.concatenate([[ks[0] - 1], ks])
        pv = np.concatenate([P.F([math.ldexp(1.0, int(ks[0]))]), pv])
    while ks[-1] < 1000 and P.lb_dist(math.ldexp(1.0, int(ks[-1])), math.inf) <= p_best:
        ks = np.concatenate([ks, [ks[-1] + 1]])
        pv = np.concatenate([pv, P.F([math.ldexp(1.0, int(ks[-1]))])])
    j = int(np.argmin(pv))
    p_best = float(pv[j])
    near = tuple(float(math.ldexp(1.0, int(k))) for k, v in zip(ks, pv) if v <= p_best * (1 + rtol))
    if minima:  # the reported optimum is the best local minimum (equal to `best` to rounding)
        best = minima[0].risk / _PI2
        best_s = minima[0].scale
    sq_best = _sqnr(P.m2, best)
    sq_p2 = _sqnr(P.m2, p_best)
    method = ("branch and bound over s with rigorous interval lower bounds (distance to the union of "
              "l [s1, s2]; second order: R(m) + R'(m) x + c x^2/2 with c <= min R''); local minima by "
              "bisection on the exact R'")
    if exhausted:
        method += "; bound budget exhausted: intervals left unsplit (certificate still valid, wider)"
    return FormatOptimum(
        format=f.name, distribution=str(dist), scale=float(best_s),
        risk=_PI2 * best, sqnr_db=sq_best, minima=tuple(minima), rtol=float(rtol),
        risk_lower_bound=_PI2 * risk_lb,
        certified_intervals=tuple((float(a), float(b)) for a, b, _ in clusters),
        pow2_scale=float(math.ldexp(1.0, int(ks[j]))), pow2_risk=_PI2 * p_best, pow2_sqnr_db=sq_p2,
        pow2_db_loss=sq_best - sq_p2, pow2_near=near, method=method,
        extra={"bracket": (s_lo, s_hi), "risk_evaluations": P.n_f, "derivative_evaluations": P.n_d,
               "lower_bound_evaluations": P.n_lb, "surviving_intervals": len(final),
               "budget_exhausted": exhausted})
