"""Certified optimal scale factors: ``s* = argmin_{s > 0} R_phi[xi](s)`` for every law.

:func:`optimal_scale` is the engine's entry.  A law with a continuous part goes
through branch and bound with rigorous interval lower bounds from its numba
kernels (``law.kernel_params()``) and, for MSQE, a strict-convexity certificate;
a purely atomic law (``law.has_density`` False, e.g. data) gets the exact
piecewise-quadratic optimum of :mod:`quanttheory.risk.data`.  Nothing here asks
which class a law is: only the :class:`quanttheory.laws.Law` protocol is used.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from ..formats.grid import as_grid
from ..formats.regularizers import CODE_MSQE, CODE_QSIN, CODE_SINREQ, CODE_USER, get_regularizer
from ..laws import Law, as_law
from .curve import _tables, risk_curve, significant_local_minima
from ._scalar import _brent_log, _Curve, _root  # noqa: F401 - re-exported for tests and affine
from .results import OptimalScale


def _lower_bound(dist, grid, reg, s1, s2, above=None) -> float:
    """Rigorous lower bound of ``R(s)`` over ``s in [s1, s2]`` (``s1`` may be 0, ``s2`` inf).

    The larger of two bounds (:mod:`quanttheory.risk._kernels.cells`): the distance to the
    union of the intervals ``k [s1, s2]`` (valid for unbounded intervals, used for the
    bracket), and the cell-by-cell bound with the worst cell position (finite
    intervals; its gap is O((s2 - s1)/s) whatever the bit width).  With ``above``
    the search may stop early at any valid bound exceeding it.
    """
    from ._kernels import cells

    ns, nodes, weights, amax = _tables()
    law, mu, sig, relu = dist.kernel_params()
    args = (law, mu, sig, relu, grid.r_b, grid.r_t, reg.code, float(s1), float(s2), ns, nodes, weights, amax)
    finite = s1 > 0 and math.isfinite(s2)
    if finite and reg.code in (CODE_MSQE, CODE_QSIN):
        # cheap O(1) edge-and-tail bound first: enough to discard scales far below s*
        lb = cells.lower_bound_cells(*args, True)
        if above is not None and reg.curve_factor * lb > above:
            return reg.curve_factor * lb
        lb = cells.lower_bound_cells(*args)
        if grid.bits < 8:
            lb = max(lb, cells.lower_bound(*args))
    else:
        lb = cells.lower_bound(*args)
    return reg.curve_factor * lb


def _dmsqe(dist, grid, s):
    """Exact ``d/ds E[(xi - Q_s(xi))^2] = -2 E[K (xi - K s)]`` (no pi^2 factor)."""
    from ._kernels import cells

    law, mu, sig, relu = dist.kernel_params()
    ns, nodes, weights, amax = _tables()
    return float(cells.curve_builtin(law, mu, sig, relu, grid.r_b, grid.r_t, cells.CODE_DMSQE,
                                     np.array([float(s)]), ns, nodes, weights, amax)[0])


def _dmsqe_error(ev, s):
    """Evaluation error of the exact MSQE slope ``R'(s) = -2 E[K (xi - K s)]`` (no pi^2): 1e-12 of
    the size of its terms, ``2 (sqrt(E xi^2) / s + 1) sqrt(MSQE(s))`` (Cauchy-Schwarz on E[K (xi - K s)])."""
    return 1e-12 * 2 * (math.sqrt(ev.dist.second_moment()) / s + 1) * math.sqrt(ev.msqe(s)) + 1e-300


def _curvature_min(ev, a, b, pieces: int = 8, budget: int = 256):
    """(c, evaluations) with ``R''(s) >= c > 0`` on [a, b] (MSQE curve, no pi^2), proven by
    the curvature lower bounds of :func:`_convexity_certificate` on a geometric subdivision;
    None when the budget runs out or a piece narrower than 1e-12 relative is not shown convex."""
    from ._kernels import cells

    law, mu, sig, relu, r_b, r_t = ev.args
    edges = np.geomspace(a, b, pieces + 1)
    stack = list(zip(edges[:-1], edges[1:]))
    cmin, used = math.inf, 0
    while stack:
        if used >= budget:
            return None
        x, y = stack.pop()
        args = (law, mu, sig, relu, r_b, r_t, float(x), float(y))
        # the larger of the interval bound (first order) and the Taylor bound (second order)
        # wide pieces: the second-order bound first (its loss is O(h^2), the interval bound's O(h))
        if (y - x) / x > 1e-4:
            c = cells.msqe_curvature_taylor_bound(*args)
            if not c > 0:
                c = max(c, cells.msqe_curvature_lower_bound(*args))
        else:
            c = cells.msqe_curvature_lower_bound(*args)
            if not c > 0:
                c = max(c, cells.msqe_curvature_taylor_bound(*args))
        used += 1
        if c > 0:
            cmin = min(cmin, c)
        elif (y - x) / x < 1e-12:
            return None
        else:
            m = math.sqrt(x * y)
            stack += [(x, m), (m, y)]
    return cmin, used


def _convexity_certificate(ev, a, b, pieces: int = 8, budget: int | None = None):
    """Minimizer of the MSQE curve on [a, b], certified by strict convexity; returns
    (s, error bound, curvature evaluations) or None.

    ``R''(s) = 2 E[K_s^2] - 2 s sum_k (k + 1/2)^2 p((k + 1/2) s)`` is bounded below on
    sub-intervals (the larger of :func:`msqe_curvature_lower_bound`, first order in the
    width, and :func:`msqe_curvature_taylor_bound`, second order); if every bound is > 0 the
    curve is strictly convex on [a, b] with modulus c = min bound, its minimizer there
    is unique and is the root of the exact derivative ``R'(s) = -2 E[K (xi - K s)]``
    (found by safeguarded false position, :func:`_root`), and
    ``|s - s_true| <= (|R'(s)| + err) / c``, where err is 1e-12 of the size of the terms
    of R'.  None when the budget (~2^24 boundary evaluations) runs out before
    convexity is shown, or when the minimizer is not interior to [a, b].
    """
    from ._kernels import cells

    law, mu, sig, relu, r_b, r_t = ev.args
    # R' first: no convexity work when the minimizer is not interior
    lo, hi = float(a), float(b)
    glo, ghi = ev.dmsqe(lo), ev.dmsqe(hi)
    if glo >= 0 or ghi <= 0:
        return None
    if budget is None:
        budget = max(256, 2 ** (24 - ev.grid.bits))
    conv = _curvature_min(ev, a, b, pieces, budget)
    if conv is None:
        return None
    cmin, used = conv
    s, g = _root(ev.dmsqe, lo, hi, glo, ghi)
    g_err = _dmsqe_error(ev, s)
    err = (abs(g) + g_err) / cmin
    # s_true lies in J = [s - err, s + err]: the curvature bound on J alone (tight, J is
    # tiny) bounds |R'(s) - R'(s_true)| >= c_J |s - s_true| there
    for _ in range(2):
        x, y = max(s - err, lo), min(s + err, hi)
        if not y > x:
            break
        args = (law, mu, sig, relu, r_b, r_t, float(x), float(y))
        c = max(cells.msqe_curvature_lower_bound(*args), cells.msqe_curvature_taylor_bound(*args))
        used += 1
        if not c > cmin:
            break
        cmin = c
        err = (abs(g) + g_err) / cmin
    return s, err, used


M2_RANGE = (1e-280, 1e280)
"""Domain of :func:`optimal_scale` for laws with a density: ``E[xi**2]`` (data units
squared) in this range, so that every risk value, scale and bound of the search is
a normal float64 (the risk at 24 bits is ~``E[xi**2] 2**-48``).  The optimum is
scale-equivariant (``s*(c xi) = c s*(xi)``): rescale data outside the range."""


def _body_scale(dist):
    """Median of ``|xi - med|`` for a law with a density (bisection on the CDF), or None."""
    if not dist.has_density or dist.atoms() or dist.point_mass > 0:
        return None
    from scipy import optimize

    def root(f, a, b):
        while f(a) > 0:
            a = a * 2 if a > 0 else (a * 2 if a < 0 else -1.0)
        while f(b) < 0:
            b = b * 2 if b > 0 else (b * 2 if b < 0 else 1.0)
        return optimize.brentq(f, a, b, xtol=1e-12 * max(abs(a), abs(b), 1e-300))

    try:
        med = root(lambda x: float(dist.cdf(x)) - 0.5, -1.0, 1.0)
        return root(lambda d: float(dist.cdf(med + d) - dist.cdf(med - d)) - 0.5, 1e-300, 1.0)
    except (ValueError, ArithmeticError, RuntimeError):
        return None


def _checked_second_moment(dist) -> float:
    try:
        m2 = float(dist.second_moment())
    except (OverflowError, FloatingPointError):
        m2 = math.inf
    lo, hi = M2_RANGE
    if not (lo <= m2 <= hi):
        raise ValueError(
            f"{dist}: E[xi^2] = {m2:.3g} (float64) is outside [{lo:g}, {hi:g}], where the risk curve "
            "and its search are representable; rescale the data (s*(c xi) = c s*(xi)); a law with "
            "(nearly) all its mass at 0, e.g. ReLU of a law far below 0, has nothing to quantize"
        )
    return m2


N_REFINE = 4          # uncertified search: local minima Brent-refined (the lowest ones)
REFINE_WITHIN = 0.1   # ... among those within 10 % of the lowest sampled value


def _uncertified_minimum(dist, grid, reg, R, scan, vals, ib):
    """Lowest of Brent refinements around the lowest local minima of the scan merged with the
    lattice-alignment candidates of :func:`quanttheory.risk.offcentre.alignment_scales` (audit F2:
    an off-centre narrow law has one narrow dip per alignment s ~ loc/k, which the log scan misses).

    Returns ``(s, R(s), bracket width, number of candidates, [(s_i, R_i) refined], S, V)`` (``S``, ``V``:
    the sorted scan merged with the candidates and their values).  The scan's
    best bracket is refined first, so a curve whose other sampled minima are not lower gives the
    same scale as the single-bracket search."""
    from .offcentre import alignment_scales

    cand = alignment_scales(dist, grid)
    cand = cand[(cand > scan[0]) & (cand < scan[-1])]
    S, V = scan, vals
    if cand.size:
        cv = np.asarray(risk_curve(dist, cand, grid, reg), dtype=float)
        S = np.concatenate([scan, cand])
        V = np.concatenate([vals, cv])
        order = np.argsort(S, kind="stable")
        S, V = S[order], V[order]
    order_min = [int(np.argmin(V))] + [i for i in sorted(significant_local_minima(V), key=lambda i: V[i])]
    vmin = float(V[order_min[0]])
    picks = []
    for i in order_min:
        if i not in picks and 0 < i < S.size - 1 and V[i] <= vmin + REFINE_WITHIN * abs(vmin):
            picks.append(i)
        if len(picks) == N_REFINE:
            break
    best = None
    refined = []
    # the scan's own best bracket first (identical to the single-bracket search when nothing beats it)
    brackets = [(float(scan[max(ib - 1, 0)]), float(scan[ib]), float(scan[min(ib + 1, scan.size - 1)]),
                 float(vals[ib]))]
    brackets += [(float(S[i - 1]), float(S[i]), float(S[i + 1]), float(V[i])) for i in picks]
    seen = set()
    for a, b, c, fb in brackets:
        if (a, b, c) in seen:
            continue
        seen.add((a, b, c))
        s, r = _brent_log(R, a, b, c, fb, tol=1e-11)
        if r > fb:
            s, r = b, fb
        refined.append((float(s), float(r)))
        if best is None or r < best[1]:
            best = (float(s), float(r), float(c - a))
    return best[0], best[1], best[2], int(cand.size), refined, S, V


def optimal_scale(dist, grid, regularizer="msqe", *, axis=None, rtol: float = 1e-10,
                  with_msqe_excess: bool = True) -> OptimalScale:
    """Global minimizer ``s* = argmin_{s > 0} R_phi[xi](s)`` with a certificate.

    Normal and Laplace laws (any loc/scale, optionally ReLU) first go through the
    bit-independent certificate of :mod:`quanttheory.risk._normal_cert` (pure Python, ~30
    closed-form evaluations of R and R' whatever the bit width; ``scale_error`` ~1e-14
    relative for MSQE and QSin alike; see ``docs/optimum_speed.md``).  Grids with at most 16
    points on the law's support (1-4 bits) use the few-cell certificate of
    :mod:`quanttheory.risk._lowbit_cert` instead where the series one does not apply (exact
    closed forms cell by cell, rigorous R'' bounds, second-order branch and bound; first at
    1-2 bits and for Laplace laws; off centre, ``|loc/scale| > 3``, up to 256 points when the series
    fails; ``docs/optimum_lowbit.md``).  A law with density below 0 on
    an unsigned grid is certified as its ReLU curve plus a constant (Normal and Laplace also where
    those certificates fail, :func:`_relu_split_optimum`; the signed 1-bit grid ``[-1, 0]`` with mass
    above 0 as the unsigned problem of ``-xi``; docs/audit.md finding 18).  Where neither applies
    (other laws, far off-centre laws) or one of its steps fails, the per-cell certificate below
    runs (``rtol`` applies to that path only).

    How the global minimum is guaranteed (MSQE and QSin on parametric laws, per-cell path):
    branch and bound over ``s`` with rigorous interval lower bounds of ``R`` (each
    an exact integral by the same engine; see ``docs/risk.md``):

    * for ``s`` in ``[s1, s2]`` every grid point ``k s`` lies in ``k [s1, s2]``: the
      pointwise error is bounded below through the distance to the union of those
      intervals (valid on ``[0, s_lo]`` and ``[s_hi, inf)``, which brackets the search);
    * cell by cell, each cell's error integral is bounded below by its value at the
      worst cell position in ``k [s1, s2]`` (gap O((s2 - s1)/s) at any bit width).

    Intervals whose bound exceeds the best value found are discarded: the survivors
    contain every global minimizer (see :func:`_branch_and_bound`: Brent on ``log s``
    for the upper bound, then a geometric cover of the other scales).  For MSQE
    rigorous lower bounds of
    ``R''(s) = 2 pi^2 [E[K^2] - s sum_k (k + 1/2)^2 p((k + 1/2) s)]`` (an interval bound
    and a second-order Taylor bound with a termwise bound of the fourth derivative)
    then prove the curve strictly convex on the survivors' hull, and ``s*`` is the root
    of the exact derivative ``R' = -2 pi^2 E[K (xi - K s)]`` (safeguarded false position),
    with ``scale_error = |R'(s*)| / min R''`` over a tiny interval around the root
    (measured 2e-12..1e-9 relative, bits 1..16, the four laws of the paper).  If
    convexity cannot be shown (e.g. a Laplace kink off 0 crossed by a cell boundary
    inside the hull, or a curve with several dips) the hull is shrunk by bisection,
    ``s*`` is the lowest of Brent searches in every surviving component and
    ``scale_error`` is the distance to the far end of the hull (~1e-3 relative).
    ``risk_lower_bound``: no ``s`` has a lower risk.

    SinReQ has no quadratic tails: ``s^2 E[sin^2(pi xi/s)] <= s^2 -> 0`` as
    ``s -> 0``, so its infimum is 0 and not attained; the lowest local minimum at
    ``s > 0``, when the curve has one, is returned with ``risk_lower_bound = 0`` and a method
    saying so; when it has none (e.g. Normal laws on signed grids: the curve rises from 0) a
    ``ValueError`` says so.
    Laws without numba interval-bound kernels (``kernel_params()`` None): Student t, generalized
    Gaussian, their ReLU and mixtures of these with Normal / Laplace components are certified for
    MSQE by :mod:`quanttheory.risk.heavy_cert` (second-order branch and bound) and for QSin by
    :mod:`quanttheory.risk.qsin_cert` (exact ``R''`` bounded by ``2 + 2 pi sqrt(E xi^2)/s +
    2 pi^2 E[xi^2]/s^2``, chord bounds; seeded by the log scan, the lattice alignments of
    off-centre bumps and Brent refinements; ``scale_error`` ~1e-6 relative, the values' 1e-12
    allowance); where their budget ends, and for user regularizers and other laws (``from_scipy``,
    integrated by :mod:`quanttheory.risk.generic`), a dense log-scan plus Brent refinement (not
    certified; the method says so).

    A purely atomic law (``law.has_density`` False: data arrays, ``Empirical``) gets
    the exact data optimum :func:`quanttheory.risk.data.optimal_scale_atoms`
    (``axis`` for per-channel).

    Any other number format (a :class:`~quanttheory.formats.levelset.Format` such as
    ``get_format("e4m3")``, or a preset name ``"e4m3"``, ``"nf4"``, ...) goes to the format
    engine: data to :func:`quanttheory.risk.format_data.optimal_scale_format_data`, laws to
    :func:`quanttheory.risk.levels_optimum.format_optimal_scale` (MSQE only; both results
    list every near-optimal scale).  A Format that is a standard integer grid is its Grid.
    """
    if isinstance(grid, str) or type(grid).__name__ == "Format":
        return _format_optimum(dist, grid, regularizer, axis)
    grid = as_grid(grid)
    reg = get_regularizer(regularizer)
    if not isinstance(dist, Law):  # a data array: straight to the data engine (its fused validation +
        from .data import optimal_scale_data  # histogram pass), not through an Empirical law's own scan

        return optimal_scale_data(dist, grid, reg, axis=axis)
    if not dist.has_density:
        from .data import optimal_scale_atoms

        return optimal_scale_atoms(dist.atoms(), grid, reg, axis=axis)
    if axis is not None:
        raise ValueError("axis= applies to data arrays, not to parametric distributions")
    if not (0 < rtol < 1e-2):
        raise ValueError("rtol must be in (0, 1e-2)")
    if dist.support()[0] >= 0 and grid.r_t == 0:
        raise ValueError(
            f"{dist} is >= 0 and the {grid} has no positive grid point: every value quantizes to 0, "
            "the risk is pi^2 E[xi^2] for every s and no scale is optimal; use an unsigned grid or more bits"
        )

    if reg.code in (CODE_MSQE, CODE_QSIN):
        m2 = _checked_second_moment(dist)  # the domain check (E[xi^2] representable) comes first
        if grid.r_b == 0 and dist.support()[0] < 0:
            _check_flat_side(dist, grid, m2, +1, reg.code)
        if grid.r_t == 0 and dist.support()[1] > 0:
            _check_flat_side(dist, grid, m2, -1, reg.code)
        fast = _normal_optimum(dist, grid, reg, with_msqe_excess, rtol)
        if fast is not None:
            return fast
        split = _relu_split_optimum(dist, grid, reg, with_msqe_excess, rtol)
        if split is not None:
            return split

    bounds = dist.kernel_params() is not None  # the interval lower bounds need the law's numba kernels
    builtin = reg.code in (CODE_MSQE, CODE_QSIN, CODE_SINREQ) and bounds
    ev = _Curve(dist, grid, reg) if builtin else None

    def R(s):
        return ev(s) if builtin else float(risk_curve(dist, np.array([s]), grid, reg)[0])

    rms = math.sqrt(_checked_second_moment(dist))
    # the scan is centred on the continuous part: a ReLU law far below 0 has P(xi > 0) ~ 1e-200
    # and an rms set by that mass, while its density lives on a scale ~ scale / |loc / scale|
    lo = dist.support()[0]
    p_cont = float(dist.sf(lo)) if math.isfinite(lo) else 1.0
    if 0.0 < p_cont < 1.0:
        rms = rms / math.sqrt(p_cont)
    # initial log scan covering the optimum of every bit width (s* ~ 8 rms / 2^b)
    s_min = rms * 2.0 ** (-grid.bits) / 64
    s_max = rms * 64
    scan = np.geomspace(s_min, s_max, 161)
    vals = risk_curve(dist, scan, grid, reg)
    ib = int(np.argmin(vals))
    # local minima of the scan (diagnostics / SinReQ)
    loc_idx = significant_local_minima(vals)

    if reg.code == CODE_SINREQ or reg.code == CODE_USER or not bounds:
        if reg.code == CODE_SINREQ:
            if not loc_idx:
                raise ValueError("SinReQ's curve has no local minimum at s > 0 for this law and grid; "
                                 "its infimum 0 is approached as s -> 0")
            ib = min(loc_idx, key=lambda i: vals[i])
        elif ib in (0, scan.size - 1) or not loc_idx:
            # the lowest scan value at an end of the scan (or a flat curve) is no optimum:
            # e.g. phi < 0 (R -> -inf as s -> inf) or phi == 0 (R == 0 for every s)
            where = "smallest" if ib == 0 else "largest"
            fin = vals[np.isfinite(vals)]
            spread = float((fin.max() - fin.min()) / abs(fin.min())) if fin.size and fin.min() != 0 else math.inf
            flat = (f" The curve is flat to {spread:.1g} relative over that scan: (almost) every value of the law "
                    "quantizes the same way whatever s (e.g. its mass sits on the side of 0 where the grid has no "
                    "point), so no scale is meaningfully optimal; use a grid that covers the law's support."
                    if spread < 1e-6 else "")
            body = _body_scale(dist) if spread < 1e-6 else None
            if body is not None and body * body < 1e-6 * rms * rms:
                # t(2.0000001): E[xi^2] = 2e7 is almost all clipping error of the far tail, nearly the same for
                # every s (~ s^-(df-2) / (df-2)); the s-dependent part (~ body^2 ~ 1) is below the float64
                # resolution of the risk, so the scan is flat.  The optimum exists (finite variance) but cannot be
                # located from R(s) in float64; phi is not the cause (finding 31).
                raise ValueError(
                    f"the risk curve of {reg.name!r} on {dist} is flat to {spread:.1g} relative over s in "
                    f"[{s_min:.3g}, {s_max:.3g}] (value ~{vals[ib]:.6g}): the law's tails are too heavy for float64 "
                    f"here. E[xi^2] = {rms * rms:.6g} is {rms * rms / (body * body):.3g} times the squared body "
                    "scale (median |xi - median|); almost all of the risk is the far tail's clipping error, which "
                    "barely depends on s, and the part that does (the body's rounding error) is below the "
                    "rounding error of the risk itself. The minimum exists but cannot be located in float64; use "
                    "a law with lighter tails (e.g. Student-t with df >= 2.0001) or choose the scale from data."
                    )
            raise ValueError(
                f"the risk curve of {reg.name!r} on {dist} has no interior minimum over "
                f"s in [{s_min:.3g}, {s_max:.3g}] (lowest value {vals[ib]:.6g} at the {where} scale, "
                f"{len(loc_idx)} local minima): is phi >= 0, not identically 0, and growing away from "
                "the grid? Evaluate risk_curve(...) on a wider scan to see the curve's shape." + flat
            )
        lo_i, hi_i = max(ib - 1, 0), min(ib + 1, scan.size - 1)
        extra = {"scan_local_minima": [float(scan[i]) for i in loc_idx]}
        ref = None
        if reg.code == CODE_MSQE and not bounds:  # laws with an exact R' (Student t, gennorm, mixtures)
            from .heavy import refine_msqe

            ref = refine_msqe(dist, grid, float(scan[lo_i]), float(scan[hi_i]))
        if ref is not None:  # Brent's result would be replaced by the root of R' below (issue 20: not computed)
            s_opt, r_opt, s_err = ref[0], R(ref[0]), ref[1]
        elif reg.code == CODE_SINREQ or reg.code == CODE_MSQE:
            s_opt, r_opt = _brent_log(R, float(scan[lo_i]), float(scan[ib]), float(scan[hi_i]), float(vals[ib]),
                                      tol=1e-11)
            if r_opt > vals[ib]:
                s_opt, r_opt = float(scan[ib]), float(vals[ib])
            s_err = float(scan[hi_i] - scan[lo_i])
        else:  # QSin / user regularizer: several local minima, alignment candidates (audit F2)
            s_opt, r_opt, s_err, n_cand, refined, S_all, V_all = _uncertified_minimum(dist, grid, reg, R, scan,
                                                                                     vals, ib)
            extra.update(alignment_candidates=n_cand, refined_minima=refined)
        local = ("; not certified: scale_error is the width of the bracket refined around the returned "
                 "scale, not a bound on the distance to the global minimizer")
        cands = (" + the lattice alignments s = |loc|/k, k = 1, 3/2, 2, ... of each off-centre bump, "
                 "Brent refinement of the lowest local minima" if reg.code not in (CODE_SINREQ, CODE_MSQE)
                 else " + Brent refinement")
        method = ("lowest local minimum at s > 0 (SinReQ's infimum is 0 as s -> 0)" if reg.code == CODE_SINREQ
                  else f"log-scan (161 points){cands}{local} (user regularizer)"
                  if reg.code == CODE_USER
                  else f"log-scan (161 points){cands}{local} ({dist.name} has no interval-bound kernels)")
        res = dict(scale=s_opt, risk=r_opt, scale_error=s_err,
                   risk_lower_bound=0.0 if reg.code == CODE_SINREQ else float("nan"), method=method,
                   extra=extra)
        if reg.code == CODE_MSQE and not bounds:
            if ref is not None:
                res.update(scale=s_opt, risk=r_opt, scale_error=s_err,
                           method="log-scan (161 points) + the root of the exact R' in the best scan bracket "
                                  "(safeguarded false position); "
                                  "not certified (global minimality rests on the scan; scale_error is "
                                  "err(R') / R'' at s*, a local estimate)")
            from .heavy_optimum import certify_into  # Student t / ReLU / t mixtures: certified hull

            certify_into(res, dist, grid, scan, vals)
        if reg.code == CODE_QSIN and not bounds:  # issue 20: second-order branch and bound (qsin_cert.py)
            from .qsin_cert import certify_qsin, covered

            cov = covered(dist)
            cert = certify_qsin(dist, grid, S_all, V_all, s_opt, r_opt) if cov else None
            if cert is not None:
                extra.update(cert["extra"])
                extra["local_scale_error"] = s_err
                res.update(scale=cert["scale"], risk=cert["risk"], scale_error=cert["scale_error"],
                           risk_lower_bound=cert["risk_lower_bound"], method=cert["method"], extra=extra)
            elif cov:
                res["method"] += "; the QSin branch and bound (qsin_cert.py) did not close within its budget"
            else:
                from .heavy_cert import OFFCENTRE_MAX, OFFCENTRE_NOTE, offcentre_ratio

                if offcentre_ratio(dist) > OFFCENTRE_MAX:
                    res["method"] += OFFCENTRE_NOTE
    else:
        res = _branch_and_bound(dist, grid, reg, ev, scan, vals, rtol)
        res["extra"]["scan_local_minima"] = [float(scan[i]) for i in loc_idx]

    excess = msqe_scale = None
    if reg.code != CODE_MSQE and with_msqe_excess:
        m_scale, m_risk = _msqe_optimum(dist, grid, rtol)
        msqe_scale = m_scale
        R_msqe = (ev.msqe(res["scale"]) * reg_msqe_factor() if builtin
                  else float(risk_curve(dist, np.array([res["scale"]]), grid, "msqe")[0]))
        if builtin and ev.atoms:
            R_msqe = float(risk_curve(dist, np.array([res["scale"]]), grid, "msqe")[0])
        excess = R_msqe / m_risk - 1.0
    return OptimalScale(scale=res["scale"], risk=res["risk"], regularizer=reg.name, grid=grid,
                        method=res["method"], scale_error=res["scale_error"],
                        risk_lower_bound=res["risk_lower_bound"], msqe_excess=excess,
                        msqe_scale=msqe_scale, extra=res["extra"])


NORMAL_METHOD = (
    "bit-independent certificate ({law} law): R' in closed form ({how}), s* its root with R' < 0 < R' "
    "certified at s* -+ scale_error; {hull}; the rest of s > 0 excluded by monotone clipping, granular and "
    "interval-union lower bounds (docs/optimum_speed.md)")
FEW_VALUE_REL_MAX = 1e-3
"""A few-cell certificate whose lower bound is more than this fraction of R(s*) below R(s*) is not reported
as certified (audit finding 29: QSin far off centre, e.g. Normal(2e6, 0.47) 1 bit unsigned, the closed form's
stated value error 0.48 of R): its exclusions and lower bound hold only to that error."""

FEW_UNCERT = (
    "not certified (few-cell closed forms, {law} law, {ratio:.3g} law scales off centre): at the scale found "
    "the closed-form value is {rel:.2g} relative off the accurate curve with a stated value error of "
    "{err:.2g} (beyond it, or a lower bound more than FEW_VALUE_REL_MAX below the value: cancellation far off "
    "centre, docs/audit.md finding 29), so the certificate's exclusions and lower bound are not trusted; risk is the accurate curve's value at this scale, which is a local "
    "minimum of the search only")
"""Method of a few-cell result refused for its value error (audit finding 29)."""

FEW_METHOD = (
    "few-cell certificate ({law} law): R and R' in closed form cell by cell, s* the root of R' with R' < 0 < R' "
    "certified at s* -+ scale_error; the curve proven strictly convex (R'' > 0) around s*; every other s > 0 "
    "excluded by second-order lower bounds (R'' bounds per piece), monotone clipping and far-scale bounds "
    "(risk/_lowbit_cert.py, docs/optimum_lowbit.md)")
FEW_TIED = ("; {n} dips tied within their certificates (their minima closer than the value errors): each "
            "one's minimizer certified as above, every other scale excluded; the minimum value is certified "
            "(risk_lower_bound <= min <= risk) and scale_error spans every tied dip's minimizer")
FEW_FAMILY = ("; of them the dips at |loc|/k, k = 1..{k_max} (the mode on grid point k, equal to ~e^(-s/2): "
              "the scales >= {lo:.6g}) are certified at once by a closed form (every quantization error is at least "
              "the distance to the unclipped lattice sZ: R >= c b^2 (2 + z^2 - s cosh(z)/sinh(s/2)) in units of the law's "
              "scale b, z the mode's offset from sZ, c the curve factor), not one by one: each s there with R(s) <= risk lies "
              "within |loc|/k -+ radius/k; extra['tied_family'] summarizes them and extra['tied_minima'] lists them "
              "only when at most {n_list} dips are tied")
TIED_LIST = 64
"""At most this many tied dips are listed in ``extra["tied_minima"]`` (a tied family beyond it is summarized)."""
_HOW = {0: "Hermite series with a rigorous remainder", 1: "exact geometric series, forward-mode derivative"}
_HULL = {True: "the curve proven strictly convex (R'' > 0) on a hull around s*",
         False: "R' < 0 left and R' > 0 right of s* -+ scale_error on a hull around s* (R'' lower bounds "
                "between R' values; the curve is not convex there: a Laplace kink off 0)"}


def _format_optimum(dist, fmt, regularizer, axis):
    """Route a number format to the format engine, or to the Grid path if it is an integer grid."""
    from ..formats.levelset import as_format
    fmt = as_format(fmt)
    try:
        grid = fmt.to_grid()
    except ValueError:
        grid = None
    if grid is not None:
        return optimal_scale(dist, grid, regularizer, axis=axis)
    reg = get_regularizer(regularizer)
    if reg.code != CODE_MSQE:
        raise ValueError(f"{reg.name} is defined on integer grids only and format {fmt.name!r} is not one; "
                         "use regularizer='msqe', or a Grid(bits, signed)")
    if isinstance(dist, (np.ndarray, list, tuple)) or type(dist).__name__ == "Empirical":
        from .format_data import optimal_scale_format_data
        data = dist.data if type(dist).__name__ == "Empirical" else dist
        return optimal_scale_format_data(data, fmt, axis=axis)
    if axis is not None:
        raise ValueError("axis= applies to data arrays only, not to a law")
    from .levels_optimum import format_optimal_scale
    return format_optimal_scale(as_law(dist), fmt)


# the s-dependent part of the risk, relative to E[xi^2], below which a scale is refused (_check_flat_side)
FLAT_SIDE_MSQE = 1e-13
FLAT_SIDE_QSIN = 1e-8


RELU_SPLIT_METHOD = (
    "{how}: every value {side} 0 quantizes to 0 whatever s, so R(s) = R_ReLU(s) + pi^2 E[xi^2; xi {cmp} 0] "
    "(a constant); certified as ReLU({law}) plus that constant, ReLU's certificate: {inner}")


def _relu_split_optimum(dist, grid, reg, with_msqe_excess, rtol):
    """MSQE / QSin of a Normal or Laplace law with mass on the side of 0 where the grid has no point.

    Unsigned grid (``r_b == 0``): every ``x < 0`` quantizes to 0 (error ``x^2``, times ``pi^2`` in both
    curves: MSQE's curve factor, QSin's tail ``pi^2 u^2``), so ``R(s) = R_{ReLU(xi)}(s) + C`` with
    ``C = pi^2 E[xi^2; xi < 0]`` independent of ``s``; the ReLU law has the same minimizer.  The per-cell
    path on the full law minimized ``R_ReLU + C`` directly: where ``C`` dominates, its rounding noise
    (~1e-16 C) swamped the dips of ``R_ReLU`` and it certified wrong scales with tiny ``scale_error``s
    (docs/audit.md finding on unsigned grids below 0).  The signed 1-bit grid ``[-1, 0]`` with mass above
    0 is the unsigned 1-bit problem of ``-xi`` (MSQE and QSin are even; the grid reflects to ``[0, 1]``).
    None where this does not apply (other laws, no mass on the flat side, other grids)."""
    from ..laws.parametric import Laplace, Normal, ReLU

    if type(dist) not in (Normal, Laplace):
        return None
    if grid.r_b == 0 and grid.r_t > 0:
        if not dist.cdf(0.0) > 0.0:
            return None
        inner = optimal_scale(ReLU(dist), grid, reg, rtol=rtol, with_msqe_excess=with_msqe_excess)
        if not (math.isfinite(inner.risk_lower_bound) and inner.risk_lower_bound > 0.0):
            return None  # the ReLU route is not certified: leave the law to the per-cell path
        const = math.pi ** 2 * float(dist.partial_moment(2, -math.inf, 0.0))
        if not (math.isfinite(const) and const > 0.0):
            return None
        eps = np.finfo(float).eps
        excess = inner.msqe_excess
        if excess is not None:
            # MSQE(s)/min MSQE - 1 of the full law: the ReLU law's excess e over its optimum M is
            # (M (1 + e) + C) / (M + C) - 1 = e M / (M + C) (no cancellation)
            m_relu = _msqe_optimum(ReLU(dist), grid, rtol)[1]
            excess = excess * m_relu / (m_relu + const)
        method = RELU_SPLIT_METHOD.format(how="unsigned grid", side="below", cmp="<", law=dist,
                                          inner=inner.method)
        extra = dict(inner.extra or {})
        extra.update(relu_constant=const, relu_risk=inner.risk, relu_risk_lower_bound=inner.risk_lower_bound)
        return OptimalScale(scale=inner.scale, risk=inner.risk + const, regularizer=reg.name, grid=grid,
                            method=method, scale_error=inner.scale_error,
                            risk_lower_bound=(inner.risk_lower_bound + const) * (1.0 - 4.0 * eps),
                            msqe_excess=excess, msqe_scale=inner.msqe_scale, extra=extra)
    if grid.r_b == -1 and grid.r_t == 0:
        if not dist.sf(0.0) > 0.0:
            return None
        from ..formats.grid import Grid

        refl = type(dist)(-dist.loc, dist.scale)
        ugrid = Grid(1, signed=False)
        if (ugrid.r_b, ugrid.r_t) != (0, 1):
            return None
        out = optimal_scale(refl, ugrid, reg, rtol=rtol, with_msqe_excess=with_msqe_excess)
        extra = dict(out.extra or {})
        extra.update(reflected_law=str(refl))
        method = (f"signed 1-bit grid [-1, 0] with mass above 0: the unsigned 1-bit problem [0, 1] of -xi = {refl} "
                  f"(MSQE and QSin are even); {out.method}")
        return OptimalScale(scale=out.scale, risk=out.risk, regularizer=reg.name, grid=grid, method=method,
                            scale_error=out.scale_error, risk_lower_bound=out.risk_lower_bound,
                            msqe_excess=out.msqe_excess, msqe_scale=out.msqe_scale, extra=extra)
    return None


def _check_flat_side(dist, grid, m2, side, code):
    """Refuse a law with (almost) all its mass on the side of 0 where the grid has no point.

    ``side = +1``: the grid has no negative point (unsigned, ``[0, N]``) and the law's mass sits below
    0; ``side = -1``: no positive point (the signed 1-bit grid ``[-1, 0]``) and the mass sits above 0.
    Every value on the far side quantizes to 0 (error ``xi^2``, or ``pi^2 xi^2`` for QSin, whatever
    ``s``), and a value on the grid's side has error at most ``pi^2 xi^2`` (0 is a grid point), so the
    risk is a constant plus an ``s``-dependent part at most ``pi^2 E[xi^2; xi on the grid's side]``.
    When that part is below ``FLAT_SIDE_MSQE = 1e-13`` (MSQE) or ``FLAT_SIDE_QSIN = 1e-8`` (QSin) of
    ``m2 = E[xi^2]`` a ``ValueError`` says the curve is flat instead of returning a certificate of rounding
    noise.  MSQE's certificate rests on the exact R' (no differences of R) and stays correct down to
    ~1e-13 (loose, honest scale errors below ~1e-9); QSin's rests on interval bounds of R itself, which
    exclude on rounding noise below ~1e-9: Laplace(18, 1) on the 1-bit signed grid (part 4.6e-10)
    certified ``s = 2.35666 +- 1.4e-6`` while mpmath's optimum is 2.3565585 (tests/test_optimum_flat_side.py);
    on unsigned grids with 1e-13 Laplace(-22, 1), 2 bits, certified ``1.27436 +- 3.9e-7`` against 1.2950192
    (the optimum of the memoryless tail, the same for every m).  The price: a few laws just below 1e-8 that the
    bounds did certify (Normal(-5, 1), 4 bits unsigned) are refused too.
    """
    flat = FLAT_SIDE_MSQE if code == CODE_MSQE else FLAT_SIDE_QSIN
    p_side = float(dist.sf(0.0) if side > 0 else dist.cdf(0.0))
    if p_side > 1e-6:
        return
    # point masses on the grid's side count too (partial_moment covers the continuous part only)
    atoms_part = 0.0
    for g in dist.atoms():
        v = np.asarray(g.values, dtype=float).ravel()
        atoms_part += g.weight * float(np.sum(np.where(v > 0 if side > 0 else v < 0, v * v, 0.0)))
    if side > 0:
        part = dist.partial_moment(2, 0.0, math.inf) + atoms_part
        what, sign, fix = "P(xi > 0)", "negative", "use a signed grid (Grid(bits, signed=True)) or quantize -xi"
    else:
        part = dist.partial_moment(2, -math.inf, 0.0) + atoms_part
        what, sign, fix = ("P(xi < 0)", "positive",
                           "use an unsigned grid (Grid(bits, signed=False)), more bits, or quantize -xi")
    if np.pi ** 2 * part <= flat * m2:
        far = "below" if side > 0 else "above"
        raise ValueError(
            f"{dist} has {what} = {p_side:.3g} and the {grid} has no {sign} grid point: every value "
            f"{far} 0 quantizes to 0 whatever s, the risk is flat in s to {flat:g} relative and no scale "
            f"is meaningfully optimal; {fix}")


def _certify_params(dist):
    """(law code, m = loc/scale, scale, relu) when the bit-independent certificate applies, else
    None: a Normal or Laplace law (optionally ReLU) with no atom away from 0, no mixture."""
    params = dist.kernel_params()
    if params is None or int(params[0]) not in (0, 1) or dist.components():
        return None
    law, mu, sig, relu = params
    for g in dist.atoms():
        if np.any(np.asarray(g.values) != 0):
            return None
    return int(law), float(mu) / float(sig), float(sig), bool(relu)


# Laplace laws off centre (|loc/scale| > 4): the few-cell certificate's dispatch, in grid points less
# one on the law's support (``span``)
LAP_QSIN_MAX = 1 << 24
"""Largest ``span`` on which a Laplace law's QSin off centre tries the few-cell certificate first."""

LAP_MSQE_MAX = 1 << 24
"""Largest number of points (less one) on which a Laplace law's MSQE off centre (``|m| > 4``) tries the
few-cell certificate first (65,536 before the smooth-part bound of ``FewCells.smooth_lower``: from 17
bits the ripple dips exhausted the budget; now every grid up to 24 bits)."""

LAP_RIPPLE_QSIN = 512
"""Above this ``span`` a Laplace law's QSin curve off centre gets the ripple settings of the few-cell
certificate (``_lowbit_cert.FewCells.ripple``: more restarts, a convex neighbourhood within a tooth,
the excluded pieces kept across restarts, the smooth-part bound); MSQE above 16 points (its
``FewCells.lap_geo`` threshold: the geometric sums)."""


def _normal_optimum(dist, grid, reg, with_msqe_excess, rtol):
    """The certified optimum by :mod:`quanttheory.risk._normal_cert` (pure Python, cost
    independent of the bit width), or None when it does not apply (then the per-cell branch
    and bound runs)."""
    par = _certify_params(dist)
    if par is None:
        return None
    from . import _normal_cert

    law, m, sig, relu = par
    if law == 1 and m < 0.0 and (relu or grid.r_b == 0):
        return _laplace_below_zero(dist, m, sig, relu, grid, reg, with_msqe_excess, rtol)
    qsin = reg.code == CODE_QSIN
    span = grid.r_t - (0 if relu else grid.r_b)  # grid points - 1 on the law's support

    def few_cells():
        # few grid points (1-4 bits): exact closed forms per cell (risk/_lowbit_cert.py); more points
        # off centre, with a smaller budget (when it fails the per-cell path still has to run)
        from . import _lowbit_cert

        try:
            return _lowbit_cert.certify_few(law, m, relu, grid.r_b, grid.r_t, qsin,
                                            max_bounds=3000 if span <= 16 or (law == 1 and (not qsin or span > 512)) else 600)
        except (OverflowError, ZeroDivisionError, ValueError):
            return None

    # the series certificate needs s* small against the law's scale: not at 1-2 bits, nor for
    # Laplace laws at 1-3 bits (and signed 4-bit grids), where the few-cell certificate goes first
    r_a = 0 if relu else grid.r_b
    few_first = span <= 4 or (law == 1 and span <= 16 and (span <= 8 or r_a < 0))
    # a Normal law (Laplace: QSin) off centre (|m| > 4): the few-cell certificate, whose convexity proof off centre
    # uses R'' and its derivative at points (FewCells.curvature_taylor), first, up to 256 points
    # (the series certificate often fails there, slowly: its remainder grows with m)
    # s* ~ |m| / r (r the grid's end on the mean's side) not small: where it is, the series
    # certificate is exact to ~1e-16 and the few-cell sums (O(24/s) cells) round to ~1e-12
    r_side = grid.r_t if m > 0 else -r_a
    # (a Laplace law's QSin curve is a closed form whatever the grid: no such threshold)
    # Laplace laws off centre, MSQE and QSin, up to 24 bits (LAP_MSQE_MAX, LAP_QSIN_MAX): the evaluations
    # are O(1) closed forms (MSQE: geometric sums; the Taylor bound's R'''' has one-signed deltas where a
    # boundary crosses the mode), and the ripple dips near s* (one per boundary crossing the mode) are
    # excluded by the smooth-part bound FewCells.smooth_lower (before it, 17+ bits MSQE and 13+ bits QSin
    # exhausted the budget: Laplace(-50, 1), 20 bits, 3000 bounds in 1.5 s)
    off_first = (abs(m) > 4.0 and r_side > 0
                 and ((law == 0 and span <= 256 and abs(m) / r_side >= 0.25)
                      or (law == 1 and span <= (LAP_QSIN_MAX if qsin else LAP_MSQE_MAX))))
    few_first = few_first or off_first
    cert = few_cells() if few_first else None
    few = cert is not None
    if cert is None:
        try:
            cert = _normal_cert.certify(m, relu, grid.r_b, grid.r_t, qsin, law=law)
        except (OverflowError, ZeroDivisionError, ValueError):  # extreme parameters: the per-cell path decides
            cert = None
    # ... and for a law off centre (|m| > 3: the series' remainder grows with m and s* ~ |m| / r is
    # not small): QSin up to 256 points (the per-cell path only certifies QSin to its hull, ~1e-4),
    # MSQE of a Normal law up to 64 (its cell sums run over the cells near the mean only; beyond 64
    # points, and for a Laplace law's O(points) sums, the per-cell component certificate is faster)
    off = abs(m) > 3.0 and (span <= 256 if qsin else (law == 0 and span <= 64)) and not off_first
    # ... and a Normal law whose s* ~ |m| / r is not small against its scale on any grid (the series
    # certificate needs s* below ~0.8 law scales: N(300, 1) on 9 bits, s* = 1.19; the few-cell
    # evaluation is O(20 / s) cells whatever the grid): it costs 3-9 ms there, the per-cell path 0.2-13 s
    off = off or (law == 0 and abs(m) > 4.0 and r_side > 0 and abs(m) / r_side >= 0.5 and not off_first)
    if cert is None and not few_first and (span <= 16 or off):
        cert = few_cells()
        few = cert is not None
    if cert is None:
        return None
    if not cert["value"] >= 0.0:
        # MSQE and QSin are nonnegative: a negative certified value is a defect of a closed form
        # (docs/audit.md finding 11); never report it, let the per-cell path decide
        return None
    f = reg.curve_factor * sig * sig
    if not all(math.isfinite(v) for v in (cert["scale"] * sig, cert["value"] * f, cert["scale_error"] * sig)):
        return None  # not representable in data units: the per-cell path reports it
    scale = cert["scale"] * sig
    convex = cert["curvature_min"] > 0
    extra = {"hull": (cert["hull"][0] * sig, cert["hull"][1] * sig), "lower_bound_evaluations": cert["bounds"],
             "risk_evaluations": cert["evaluations"], "convex_hull": convex}
    if convex:
        extra["curvature_lower_bound"] = cert["curvature_min"] * reg.curve_factor
    excess = msqe_scale = None
    if qsin and with_msqe_excess:
        m_scale, m_risk = _msqe_optimum(dist, grid, rtol)
        msqe_scale = m_scale
        if few:
            from ._lowbit_cert import FewCells

            mcur = FewCells(law, m, relu, grid.r_b, grid.r_t, False)
        else:
            mcur = type(cert["curve"])(m, relu, grid.r_b, grid.r_t, False)
        excess = reg_msqe_factor() * mcur.value(cert["scale"])[0] * sig * sig / m_risk - 1.0
    risk, lower = cert["value"] * f, cert["value_lower"] * f
    if few:
        # audit finding 29: far off centre the few-cell closed forms (QSin above all) lose ~eps (|m| /
        # scale)^2 of F to cancellation, beyond their stated value error (Normal(1e5, 1) QSin 2 bits:
        # -4.7e-8 relative; Normal(4.3e8, 4.4): +0.7 %, below the lower bound). The value reported is
        # the accurate curve's (risk_curve, ~1e-16 against mpmath); where the closed form at the
        # certified scale is off by more than its own stated error, the certificate's value errors (its
        # exclusions, its lower bound) are not to be trusted: not certified
        acc = float(risk_curve(dist, np.array([scale]), grid, reg)[0])
        f_err = (abs(cert["curve"].value(cert["scale"])[1]) + 1e-15 * abs(cert["value"])) * f
        # (a tied family far off centre: the lower bound is the family's closed form, not F_t - F_err)
        if not (math.isfinite(acc) and abs(risk - acc) <= f_err + 4e-16 * abs(acc)
                and acc * (1 - FEW_VALUE_REL_MAX) <= lower <= acc):
            return OptimalScale(
                scale=scale, risk=acc, regularizer=reg.name, grid=grid,
                method=FEW_UNCERT.format(law="Normal" if law == 0 else "Laplace", ratio=abs(m),
                                         rel=abs(risk - acc) / abs(acc) if acc else math.inf,
                                         err=f_err / abs(acc) if acc else math.inf),
                scale_error=cert["scale_error"] * sig, risk_lower_bound=float("nan"), msqe_excess=None,
                msqe_scale=None, extra=dict(extra, few_cell_value=risk))
        risk, lower = acc, max(0.0, min(lower, acc))  # (MSQE and QSin are >= 0)
    if few:
        method = FEW_METHOD.format(law="Normal" if law == 0 else "Laplace")
        if cert.get("tied"):
            # dips whose minima the value errors cannot separate (issue 20): each one's minimizer certified,
            # every other scale excluded; the minimum value is certified, the minimizer only to their span
            fam = cert.get("tied_family")
            method += FEW_TIED.format(n=cert.get("tied_count") or len(cert["tied"]))
            pairs = [(s * sig, e * sig) for s, e in cert["tied"]]
            if fam:
                # far off centre (issue 20, session lapties2): the family of dips |m|/k in closed form (_lap_family)
                method += FEW_FAMILY.format(k_max=fam["k_max"], lo=fam["lo"] * sig, n_list=TIED_LIST)
                extra["tied_family"] = dict(loc=m * sig, k_max=fam["k_max"], radius=fam["radius"] * sig,
                                            from_scale=fam["lo"] * sig, count=len(pairs) + fam["count"])
                if len(pairs) + fam["count"] <= TIED_LIST:
                    pairs += [(c * sig, r * sig) for c, r in fam["windows"]]
            extra["tied_minima"] = sorted(pairs)
    else:
        method = NORMAL_METHOD.format(law="Normal" if law == 0 else "Laplace", how=_HOW[law], hull=_HULL[convex])
    return OptimalScale(scale=scale, risk=risk, regularizer=reg.name, grid=grid,
                        method=method, scale_error=cert["scale_error"] * sig,
                        risk_lower_bound=lower, msqe_excess=excess, msqe_scale=msqe_scale,
                        extra=extra)


LAP_BELOW_NOTE = ("; ReLU(Laplace({loc:g}, {b:g})) is e^(loc/b) = {w:.6g} times ReLU(Laplace(0, {b:g})) on x > 0, "
                  "its atom at 0 quantizes without error{const} (scale, scale_error as that law's)")


def _laplace_below_zero(dist, m, sig, relu, grid, reg, with_msqe_excess, rtol):
    """Laplace(loc <= 0, b) (issue 20): ReLU'd, or on an unsigned grid. On x > 0 its density is
    ``e^{m} e^{-x/b}/(2b)`` (``m = loc/b``), e^m times ReLU(Laplace(0, b))'s; the mass at or below 0 sits on
    the grid point 0 (ReLU: an atom, zero error for MSQE and QSin, signed grids too) or, unsigned and not
    ReLU'd, quantizes to 0 with the error ``pi^2 x^2`` for both regularizers (QSin: the clipped part below
    ``r_b s = 0``), a constant ``pi^2 E[xi^2; xi < 0] = pi^2 b^2 (m^2 + 2 - e^m)``. So
    ``R(s) = e^m R_0(s) + C``: R_0's minimizer and scale_error, its risk and lower bound mapped. None when
    ``e^m`` underflows or R_0 is not certified (the general path decides)."""
    from ..laws import Laplace, ReLU

    w = math.exp(m)
    if not w > 1e-280:
        return None
    base = optimal_scale(ReLU(Laplace(0.0, sig)), grid, reg, rtol=rtol, with_msqe_excess=with_msqe_excess)
    if not (math.isfinite(base.risk_lower_bound) and math.isfinite(base.risk)):
        return None
    const = 0.0 if relu else float(np.pi) ** 2 * sig * sig * (m * m + 2.0 - w)
    risk = w * base.risk + const
    lower = (w * base.risk_lower_bound + const) * (1 - 1e-15)
    extra = dict(base.extra)
    if "curvature_lower_bound" in extra:
        extra["curvature_lower_bound"] = extra["curvature_lower_bound"] * w * (1 - 1e-15)
    extra["relu_laplace_factor"] = w
    excess = base.msqe_excess
    if excess is not None and const:
        # MSQE(s_q) / min MSQE - 1 with both shifted: (w (1 + x) M0 + C) / (w M0 + C) - 1
        # (MSQE's constant is const: pi^2 E[xi^2; xi < 0] for both regularizers; M0 cached by _msqe_optimum)
        m0 = _msqe_optimum(ReLU(Laplace(0.0, sig)), grid, rtol)[1]
        excess = w * excess * m0 / (w * m0 + const)
    method = base.method + LAP_BELOW_NOTE.format(
        loc=m * sig, b=sig, w=w, const="" if relu else "; the mass below 0 adds pi^2 E[xi^2; xi < 0] = "
        f"{const:.6g}")
    return OptimalScale(scale=base.scale, risk=risk, regularizer=reg.name, grid=grid, method=method,
                        scale_error=base.scale_error, risk_lower_bound=lower, msqe_excess=excess,
                        msqe_scale=base.msqe_scale, extra=extra)


def reg_msqe_factor() -> float:
    return get_regularizer("msqe").curve_factor


_MSQE_CACHE: dict = {}


def _msqe_optimum(dist, grid, rtol):
    """(scale, risk) of the certified MSQE optimum, cached per (law, grid, rtol): the MSQE
    excess of another regularizer's optimum costs one MSQE optimum per law and grid."""
    try:
        key = (type(dist).__name__, str(dist), dist.kernel_params(), tuple((g.weight, tuple(np.ravel(g.values)))
                                                                          for g in dist.atoms()),
               grid.r_b, grid.r_t, rtol)
        hash(key)
    except TypeError:
        key = None
    if key is not None and key in _MSQE_CACHE:
        return _MSQE_CACHE[key]
    m = optimal_scale(dist, grid, "msqe", rtol=rtol, with_msqe_excess=False)
    val = (float(m.scale), float(m.risk))
    if key is not None:
        if len(_MSQE_CACHE) > 256:
            _MSQE_CACHE.clear()
        _MSQE_CACHE[key] = val
    return val


def _components(live):
    """Merge sorted intervals [a, b, L] into connected components [(a, b), ...]."""
    comps = []
    for a, b, _ in sorted(live):
        if comps and a <= comps[-1][1] * (1 + 1e-15):
            comps[-1][1] = max(comps[-1][1], b)
        else:
            comps.append([a, b])
    return comps


def _component_minimum(ev, a, b, budget):
    """The MSQE curve's minimum over one component [a, b], certified by convexity on [a, b];
    returns (s, R(s), lower bound of R over [a, b], lo, hi) with every minimizer over [a, b] in
    [lo, hi] (risk units, curve factor included), or None when convexity is not shown.

    With ``R'' >= c > 0`` on [a, b]: the minimizer is the root of the exact R' when R'(a) < 0 <
    R'(b), else the end where R' points inward; in each case ``|s - s_true| <= (|R'(s)| + e) / c``
    (``e`` the evaluation error of R', as in :func:`_convexity_certificate`) and, by convexity,
    ``R(s_true) >= R(s) - (|R'(s)| + e) |s - s_true|``; R(s) itself is taken 1e-12 relative low
    (the error convention of the whole module)."""
    lo, hi = float(a), float(b)
    conv = _curvature_min(ev, lo, hi, 4, budget)
    if conv is None:
        return None
    cmin = conv[0]
    glo, ghi = ev.dmsqe(lo), ev.dmsqe(hi)
    g_err = partial(_dmsqe_error, ev)
    # R(t) >= R(s) + R'(s) (t - s) (convexity); the slope's worst sign towards the minimizer is gb
    if glo >= 0:  # increasing on [a, b] (up to the error of R'(a)): the minimum is at a
        s = lo
        gb = max(0.0, g_err(s) - glo)
    elif ghi <= 0:  # decreasing: at b
        s = hi
        gb = max(0.0, g_err(s) + ghi)
    else:
        s, g = _root(ev.dmsqe, lo, hi, glo, ghi)
        gb = abs(g) + g_err(s)
    err = gb / cmin
    r = ev(s)
    lb = r * (1 - 1e-12) - ev.factor * gb * min(err, hi - lo)
    if not (math.isfinite(lb) and math.isfinite(err)):
        return None
    return s, r, lb, max(s - err, lo), min(s + err, hi)


def _certify_components(ev, comps, best, LB, budget=4096, max_pieces=64):
    """Certify every component's own minimum (:func:`_component_minimum`), splitting a
    component in two (dropping halves whose interval lower bound exceeds ``best``) where
    convexity is not shown; None when that does not succeed within ``max_pieces`` pieces.

    Returns (winner, survivors, pieces): the pieces are (s, R(s), lower bound, lo, hi); the
    survivors are those whose lower bound does not exceed the lowest R(s) (taken 1e-12
    relative high): every global minimizer lies in a survivor's [lo, hi], and no s has a risk
    below the survivors' smallest lower bound."""
    stack = [tuple(c) for c in comps]
    pieces = []
    tried = 0
    while stack:
        a, b = stack.pop()
        tried += 1
        if tried > max_pieces:
            return None
        cert = _component_minimum(ev, a, b, budget)
        if cert is not None:
            pieces.append(cert)
            continue
        if (b - a) / a < 1e-9:
            return None
        m = math.sqrt(a * b)
        for x, y in ((a, m), (m, b)):
            if LB(x, y) <= best:
                stack.append((x, y))
    if not pieces:
        return None
    win = min(pieces, key=lambda p: p[1])
    top = min(win[1], best) * (1 + 1e-12)
    survivors = [p for p in pieces if p[2] <= top]
    return win, survivors, pieces


def _branch_and_bound(dist, grid, reg, ev, scan, vals, rtol, inner=None, hull_iterations=300,
                      cert_iterations=20):
    """Certified global minimum of a parametric law's MSQE/QSin curve (see :func:`optimal_scale`).

    1. Brent on log s from the best scan point: the upper bound ``best``.
    2. Bracket: ``[0, s_lo]`` and ``[s_hi, inf)`` have lower bounds above ``best``.
    3. Cover the rest but a neighbourhood ``best_s * exp(+-inner)`` by intervals
       growing geometrically away from it; each is discarded when its rigorous lower
       bound exceeds ``best``, else split (the survivors below ``inner / 4`` in log
       width are kept): the survivors and the neighbourhood contain every global minimizer.
    4. MSQE: strict convexity on their hull (curvature lower bounds) + root of the exact
       R': ``|s* - s_true| <= |R'(s*)| / min R''``.
    5. Otherwise (QSin, or convexity not shown, e.g. several dips): the old hull
       shrinking (bisect the outermost survivors, then the lowest bounds), then a Brent
       search in *each* surviving component, the lowest wins; ``scale_error`` is the
       distance to the far end of the hull.
    """
    counts = {"lb": 0}
    best = float("inf")

    def LB(a, b):
        counts["lb"] += 1
        return _lower_bound(dist, grid, reg, a, b, above=best)

    ib = int(np.argmin(vals))
    lo_i, hi_i = max(ib - 1, 0), min(ib + 1, scan.size - 1)
    best_s, best = _brent_log(ev, float(scan[lo_i]), float(scan[ib]), float(scan[hi_i]), float(vals[ib]),
                              tol=1e-10)
    if vals[ib] < best:
        best_s, best = float(scan[ib]), float(vals[ib])
    # bracket: [0, s_lo] and [s_hi, inf) provably worse than `best`
    s_lo, s_hi = float(scan[0]), float(scan[-1])
    while LB(0.0, s_lo) <= best:
        s_lo /= 8
        if s_lo < 1e-300:
            raise RuntimeError("could not bracket the optimum from below")
    while LB(s_hi, math.inf) <= best:
        s_hi *= 8
        if s_hi > 1e300:
            raise RuntimeError("could not bracket the optimum from above")
    # cover [s_lo, s_hi] minus the inner neighbourhood (narrower when the per-cell
    # curvature bounds of step 4 are costly: they cost O(cells) each)
    law, mu, sig, relu = dist.kernel_params()
    ncells = min(2.0 ** grid.bits, (26.0 if law == 0 else 180.0) * sig / best_s)
    if inner is None:
        inner = 0.02 if ncells <= 1024 else 0.004
    c_lo, c_hi = max(best_s * math.exp(-inner), s_lo), min(best_s * math.exp(inner), s_hi)
    stack = []
    u = inner
    while best_s * math.exp(-u) > s_lo:
        stack.append((max(best_s * math.exp(-2 * u), s_lo), best_s * math.exp(-u)))
        u *= 2
    u = inner
    while best_s * math.exp(u) < s_hi:
        stack.append((best_s * math.exp(u), min(best_s * math.exp(2 * u), s_hi)))
        u *= 2
    wmin = inner / 4
    live = []
    while stack:
        a, b = stack.pop()
        L = _check_not_above(LB(a, b), a, b, best_s, best, dist, reg)
        if L > best:
            continue
        if math.log(b / a) < wmin:
            live.append([a, b, L])
            continue
        m = math.sqrt(a * b)
        rm = ev(m)
        if rm < best:
            best, best_s = rm, m
        stack += [(a, m), (m, b)]
    live = [iv for iv in live if iv[2] <= best]
    if not (c_lo <= best_s <= c_hi):
        # a better point was found outside the neighbourhood: it is inside a survivor
        pass
    hull_a = min([c_lo] + [iv[0] for iv in live])
    hull_b = max([c_hi] + [iv[1] for iv in live])
    extra = {"bracket": (s_lo, s_hi)}
    convex_method = ("branch-and-bound with interval lower bounds (certified global); curve proven strictly "
                     "convex on the surviving hull; root of the exact R': |s* - s_true| <= |R'(s*)| / min R''")

    def try_convex(a, b, budget=None):
        """The convexity certificate on [a, b] (which holds every global minimizer)."""
        if not (reg.code == CODE_MSQE and a * (1 + 1e-9) < best_s < b * (1 - 1e-9)):
            return None
        conv = _convexity_certificate(ev, a, b, budget=budget)
        if conv is None:
            return None
        s_c, err_c, used = conv
        r_c = ev(s_c)
        if r_c > best * (1 + 1e-13):
            return None
        extra.update(hull=(a, b), lower_bound_evaluations=counts["lb"], risk_evaluations=ev.n,
                     derivative_evaluations=ev.nd, curvature_bounds=used)
        # convex on the hull (which holds every survivor; the rest of s > 0 has bounds > best):
        # R >= R(s_c) - |R'(s_c)| |s_c - s_true| on the hull, R(s_c) taken 1e-12 relative low
        g_c = ev.dmsqe(s_c)
        g_err = _dmsqe_error(ev, s_c)
        lb = min(r_c * (1 - 1e-12) - ev.factor * (abs(g_c) + g_err) * err_c, best)
        if not math.isfinite(lb):
            lb = min([r_c * (1 - 1e-12)] + [iv[2] for iv in live])
        return dict(scale=s_c, risk=r_c, scale_error=err_c, risk_lower_bound=lb, method=convex_method,
                    extra=extra)

    # the per-cell curvature bounds cost O(cells): on the wide hull only when that is cheap
    if ncells <= 8192:  # else the hull is shrunk first (step 5): curvature bounds cost O(cells)
        out = try_convex(hull_a, hull_b, budget=max(16, int(2**22 / ncells)))
        if out is not None:
            return out
    # several dips (the curve is not convex on the hull, e.g. a law far off centre, one dip per
    # number of levels spanned): certify each component's own minimum, exclude the others
    if reg.code == CODE_MSQE and ncells <= 8192:
        comps = _components(live + [[c_lo, c_hi, 0.0]])
        sep = _certify_components(ev, comps, best, LB, budget=max(64, int(2**20 / ncells)))
        if sep is not None:
            win, survivors, pieces = sep
            s_w, r_w = win[0], win[1]
            lo_w = min(p[3] for p in survivors)
            hi_w = max(p[4] for p in survivors)
            extra.update(hull=(hull_a, hull_b), lower_bound_evaluations=counts["lb"], risk_evaluations=ev.n,
                         derivative_evaluations=ev.nd, components=[tuple(c) for c in comps],
                         component_minima=[(p[0], p[1], p[2]) for p in sorted(pieces)])
            tied = len(survivors) > 1
            method = ("branch-and-bound with interval lower bounds (certified global); each surviving component "
                      "proven strictly convex and its minimum certified (root of the exact R'), ")
            method += ("the components could not be separated (tied minima within their certificates): "
                       "scale_error spans every tied component's minimizer" if tied else
                       "every other component excluded by its certified minimum: "
                       "|s* - s_true| <= |R'(s*)| / min R''")
            return dict(scale=s_w, risk=r_w, scale_error=max(s_w - lo_w, hi_w - s_w),
                        risk_lower_bound=min(p[2] for p in survivors), method=method, extra=extra)
    # fallback: shrink the hull by bisection, then search every surviving component
    # (best_s may have moved out of the first neighbourhood: then its bound is not checked)
    live.append([c_lo, c_hi, _check_not_above(LB(c_lo, c_hi), c_lo, c_hi, best_s, best, dist, reg)])
    live = [iv for iv in live if iv[2] <= best]

    def split(iv):
        nonlocal best, best_s
        a, b, _ = iv
        m = math.sqrt(a * b)
        rm = ev(m)
        if rm < best:
            best, best_s = rm, m
        live.remove(iv)
        for x, y in ((a, m), (m, b)):
            L = _check_not_above(LB(x, y), x, y, best_s, best, dist, reg)
            if L <= best:
                live.append([x, y, L])

    widths = []
    for _ in range(hull_iterations):
        live.sort()
        ends = [iv for iv in (live[0], live[-1]) if (iv[1] - iv[0]) / iv[0] > 1e-14]
        width = (live[-1][1] - live[0][0]) / best_s
        widths.append(width)
        # stop at 1e-6, or when 12 bisections of both ends gained < 0.5 % (the bound's own gap)
        if width < 1e-6 or not ends or (len(widths) > 12 and width > 0.995 * widths[-13]):
            break
        for iv in ({id(v): v for v in ends}).values():
            if iv in live:
                split(iv)
        live = [iv for iv in live if iv[2] <= best]
    for _ in range(cert_iterations):
        iv = min(live, key=lambda v: v[2])
        if iv[2] >= best * (1 - rtol) or (iv[1] - iv[0]) / iv[0] < 1e-14:
            break
        split(iv)
        live = [v for v in live if v[2] <= best]
    # several dips: try to exclude the survivors away from the best point (bounded effort)
    for _ in range(400):
        far = [iv for iv in live if not (iv[0] <= best_s * (1 + 1e-9) and best_s <= iv[1] * (1 + 1e-9))
               and abs(math.log(iv[0] / best_s)) > 0.01 and (iv[1] - iv[0]) / iv[0] > 1e-12]
        if not far:
            break
        split(max(far, key=lambda v: abs(math.log(v[0] / best_s))))
        live = [v for v in live if v[2] <= best]
    live.sort()
    hull_a, hull_b = live[0][0], live[-1][1]
    out = try_convex(hull_a, hull_b)
    if out is not None:
        return out
    # a local search in each surviving component (the curve may have several dips)
    s_opt, r_opt = best_s, best
    comps = _components(live)
    for a, b in comps:
        if b > a * (1 + 1e-12):
            m = math.sqrt(a * b)
            s_c, r_c = _brent_log(ev, a, m, b, ev(m), tol=1e-12)
            if r_c < r_opt:
                s_opt, r_opt = s_c, r_c
    risk_lb = min(min(iv[2] for iv in live), r_opt)
    scale_error = max(s_opt - hull_a, hull_b - s_opt)
    method = ("branch-and-bound with interval lower bounds (certified global: scale_error spans every "
              "survivor), Brent refinement in each surviving component")
    extra.update(hull=(hull_a, hull_b), lower_bound_evaluations=counts["lb"], risk_evaluations=ev.n,
                 components=[tuple(c) for c in comps])
    return dict(scale=s_opt, risk=r_opt, scale_error=scale_error, risk_lower_bound=risk_lb,
                method=method, extra=extra)


def _check_not_above(L, a, b, best_s, best, dist, reg):
    """The bound ``L`` of ``[a, b]`` to use.  An interval holding the best point found (``best_s``, risk
    ``best``) has an exact lower bound ``<= best``;
    a computed one above it means the curve is flat to double-precision rounding there, where no
    certificate is possible (the exclusions would be rounding noise): a ``ValueError`` says so.  Within
    8 ulps of ``best`` the bound is taken as ``best`` (the interval, which holds the best point, is kept).
    Intervals without ``best_s`` are returned as they are."""
    if L <= best or not (a <= best_s <= b):
        return L
    if L - best <= 8 * 2.220446049250313e-16 * abs(best):
        return best
    raise ValueError(
        f"the {reg.name} risk curve of {dist} is flat to double-precision rounding near its minimum "
        f"(risk {best:.17g}; an interval lower bound exceeded it by {L - best:.3g}): no scale can be "
        "certified optimal; evaluate risk_curve(...) to see how flat it is")


def _hull_lb(live, r):
    return min([r] + [iv[2] for iv in live])
