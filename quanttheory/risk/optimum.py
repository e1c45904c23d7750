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

import numpy as np

from ..formats.grid import as_grid
from ..formats.regularizers import CODE_MSQE, CODE_QSIN, CODE_SINREQ, CODE_USER, get_regularizer
from ..laws import as_law
from .curve import _tables, expected_phi, risk_curve, significant_local_minima
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


def _convexity_certificate(dist, grid, a, b, pieces: int = 8):
    """Minimizer of the MSQE curve on [a, b] by Newton-free bisection on R', certified by
    strict convexity; returns (s, error bound) or None.

    ``R''(s) = 2 E[K_s^2] - 2 s sum_k (k + 1/2)^2 p((k + 1/2) s)`` is bounded below on
    sub-intervals (the larger of :func:`msqe_curvature_lower_bound`, first order in the
    width, and :func:`msqe_curvature_taylor_bound`, second order); if every bound is > 0 the
    curve is strictly convex on [a, b] with modulus c = min bound, its minimizer there
    is unique, it is found by bisection on the sign of the exact derivative ``R'(s) =
    -2 E[K (xi - K s)]``, and ``|s - s_true| <= (|R'(s)| + err) / c``, where err is
    1e-12 of the size of the terms of R'.  None when the budget (~2^24 boundary
    evaluations) runs out before convexity is shown.
    """
    from ._kernels import cells

    law, mu, sig, relu = dist.kernel_params()
    budget = max(256, 2 ** (24 - grid.bits))
    edges = np.geomspace(a, b, pieces + 1)
    stack = list(zip(edges[:-1], edges[1:]))
    cmin, used = math.inf, 0
    while stack:
        if used >= budget:
            return None
        x, y = stack.pop()
        args = (law, mu, sig, relu, grid.r_b, grid.r_t, float(x), float(y))
        # the larger of the interval bound (first order) and the Taylor bound (second order)
        c = max(cells.msqe_curvature_lower_bound(*args), cells.msqe_curvature_taylor_bound(*args))
        used += 1
        if c > 0:
            cmin = min(cmin, c)
        elif (y - x) / x < 1e-12:
            return None
        else:
            m = math.sqrt(x * y)
            stack += [(x, m), (m, y)]
    lo, hi = float(a), float(b)
    glo, ghi = _dmsqe(dist, grid, lo), _dmsqe(dist, grid, hi)
    if glo >= 0 or ghi <= 0:
        return None  # minimizer not interior to the hull: leave it to the hull bound
    for _ in range(200):
        m = 0.5 * (lo + hi)
        if not lo < m < hi:
            break
        gm = _dmsqe(dist, grid, m)
        if gm == 0:
            lo = hi = m
            break
        if gm < 0:
            lo = m
        else:
            hi = m
    s = lo if abs(_dmsqe(dist, grid, lo)) <= abs(_dmsqe(dist, grid, hi)) else hi
    g = _dmsqe(dist, grid, s)
    m2 = dist.second_moment()
    e2 = float(expected_phi(dist, [s], grid, "msqe")[0])
    g_err = 1e-12 * 2 * (math.sqrt(m2) / s + 1) * math.sqrt(e2) + 1e-300
    return s, (abs(g) + g_err) / cmin


def _golden(f, a, b, fa_b, tol):
    """Golden-section refinement of a bracketed minimum of f on [a, b] (log scale)."""
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


M2_RANGE = (1e-280, 1e280)
"""Domain of :func:`optimal_scale` for laws with a density: ``E[xi**2]`` (data units
squared) in this range, so that every risk value, scale and bound of the search is
a normal float64 (the risk at 24 bits is ~``E[xi**2] 2**-48``).  The optimum is
scale-equivariant (``s*(c xi) = c s*(xi)``): rescale data outside the range."""


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


def optimal_scale(dist, grid, regularizer="msqe", *, axis=None, rtol: float = 1e-10,
                  with_msqe_excess: bool = True) -> OptimalScale:
    """Global minimizer ``s* = argmin_{s > 0} R_phi[xi](s)`` with a certificate.

    How the global minimum is guaranteed (MSQE and QSin on parametric laws):
    branch and bound over ``s`` with rigorous interval lower bounds of ``R`` (each
    an exact integral by the same engine; see ``docs/risk.md``):

    * for ``s`` in ``[s1, s2]`` every grid point ``k s`` lies in ``k [s1, s2]``: the
      pointwise error is bounded below through the distance to the union of those
      intervals (valid on ``[0, s_lo]`` and ``[s_hi, inf)``, which brackets the search);
    * cell by cell, each cell's error integral is bounded below by its value at the
      worst cell position in ``k [s1, s2]`` (gap O((s2 - s1)/s) at any bit width).

    Intervals whose bound exceeds the best value found are discarded: the survivors
    contain every global minimizer.  The outermost survivors are bisected to shrink
    their hull.  For MSQE rigorous lower bounds of
    ``R''(s) = 2 pi^2 [E[K^2] - s sum_k (k + 1/2)^2 p((k + 1/2) s)]`` (an interval bound
    and a second-order Taylor bound with a termwise bound of the fourth derivative)
    then prove the curve strictly convex on the hull, and ``s*`` is the root of the
    exact derivative ``R' = -2 pi^2 E[K (xi - K s)]`` found by bisection, with
    ``scale_error = |R'(s*)| / min R''`` (measured 2e-12..1.7e-9 relative, bits 1..16,
    the four laws of the paper).  If convexity cannot be shown (e.g. a Laplace kink
    off 0 crossed by a cell boundary inside the hull) ``s*`` comes from a
    golden-section search inside the hull and ``scale_error`` is the distance to the
    far end of the hull (~1e-3 relative).  ``risk_lower_bound``: no ``s`` has a lower risk.

    SinReQ has no quadratic tails: ``s^2 E[sin^2(pi xi/s)] <= s^2 -> 0`` as
    ``s -> 0``, so its infimum is 0 and not attained; the lowest local minimum at
    ``s > 0`` is returned with ``risk_lower_bound = 0`` and a method saying so.
    User regularizers, and laws without numba kernels (``kernel_params()`` None,
    integrated by :mod:`quanttheory.risk.generic`), get a dense log-scan plus
    golden refinement (not certified).

    A purely atomic law (``law.has_density`` False: data arrays, ``Empirical``) gets
    the exact data optimum :func:`quanttheory.risk.data.optimal_scale_atoms`
    (``axis`` for per-channel).
    """
    grid = as_grid(grid)
    reg = get_regularizer(regularizer)
    dist = as_law(dist)
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

    def R(s):
        return float(risk_curve(dist, np.array([s]), grid, reg)[0])

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
    best_s, best = float(scan[ib]), float(vals[ib])
    # local minima of the scan (diagnostics / SinReQ)
    loc_idx = significant_local_minima(vals)

    bounds = dist.kernel_params() is not None  # the interval lower bounds need the law's numba kernels
    if reg.code == CODE_SINREQ or reg.code == CODE_USER or not bounds:
        if reg.code == CODE_SINREQ:
            if not loc_idx:
                raise ValueError("SinReQ's curve has no local minimum at s > 0 for this law and grid; "
                                 "its infimum 0 is approached as s -> 0")
            ib = min(loc_idx, key=lambda i: vals[i])
            best_s, best = float(scan[ib]), float(vals[ib])
        elif ib in (0, scan.size - 1) or not loc_idx:
            # the lowest scan value at an end of the scan (or a flat curve) is no optimum:
            # e.g. phi < 0 (R -> -inf as s -> inf) or phi == 0 (R == 0 for every s)
            where = "smallest" if ib == 0 else "largest"
            raise ValueError(
                f"the risk curve of {reg.name!r} on {dist} has no interior minimum over "
                f"s in [{s_min:.3g}, {s_max:.3g}] (lowest value {best:.6g} at the {where} scale, "
                f"{len(loc_idx)} local minima): is phi >= 0, not identically 0, and growing away from "
                "the grid? Evaluate risk_curve(...) on a wider scan to see the curve's shape"
            )
        lo_i, hi_i = max(ib - 1, 0), min(ib + 1, scan.size - 1)
        s_opt, r_opt = _golden(R, float(scan[lo_i]), float(scan[hi_i]), None, 1e-11)
        method = ("lowest local minimum at s > 0 (SinReQ's infimum is 0 as s -> 0)" if reg.code == CODE_SINREQ
                  else "log-scan (161 points) + golden section; not certified for user regularizers"
                  if reg.code == CODE_USER
                  else f"log-scan (161 points) + golden section; not certified ({dist.name} has no interval-bound "
                       "kernels)")
        res = dict(scale=s_opt, risk=r_opt, scale_error=float(scan[hi_i] - scan[lo_i]),
                   risk_lower_bound=0.0 if reg.code == CODE_SINREQ else float("nan"), method=method,
                   extra={"scan_local_minima": [float(scan[i]) for i in loc_idx]})
    else:
        # hull shrinking costs ~1/width lower-bound evaluations; each costs O(2^b)
        iters = 300 if grid.bits <= 10 else 120
        res = _branch_and_bound(dist, grid, reg, R, scan, vals, rtol, hull_iterations=iters)
        res["extra"]["scan_local_minima"] = [float(scan[i]) for i in loc_idx]

    excess = msqe_scale = None
    if reg.code != CODE_MSQE and with_msqe_excess:
        m = optimal_scale(dist, grid, "msqe", rtol=rtol, with_msqe_excess=False)
        msqe_scale = m.scale
        excess = R_msqe = float(risk_curve(dist, np.array([res["scale"]]), grid, "msqe")[0])
        excess = R_msqe / m.risk - 1.0
    return OptimalScale(scale=res["scale"], risk=res["risk"], regularizer=reg.name, grid=grid,
                        method=res["method"], scale_error=res["scale_error"],
                        risk_lower_bound=res["risk_lower_bound"], msqe_excess=excess,
                        msqe_scale=msqe_scale, extra=res["extra"])


def _branch_and_bound(dist, grid, reg, R, scan, vals, rtol, hull_iterations=60, cert_iterations=20):
    counts = {"lb": 0, "risk": 0}

    def LB(a, b):
        counts["lb"] += 1
        return _lower_bound(dist, grid, reg, a, b, above=best)

    def Rc(s):
        counts["risk"] += 1
        return R(s)

    ib = int(np.argmin(vals))
    # 0. a tight upper bound first: golden refinement around the best scan point
    lo_i, hi_i = max(ib - 1, 0), min(ib + 1, scan.size - 1)
    best_s, best = _golden(Rc, float(scan[lo_i]), float(scan[hi_i]), None, 1e-12)
    if vals[ib] < best:
        best_s, best = float(scan[ib]), float(vals[ib])
    # 1. bracket: [0, s_lo] and [s_hi, inf) provably worse than `best`
    s_lo, s_hi = float(scan[0]), float(scan[-1])
    while LB(0.0, s_lo) <= best:
        s_lo /= 8
        if s_lo < 1e-300:
            raise RuntimeError("could not bracket the optimum from below")
    while LB(s_hi, math.inf) <= best:
        s_hi *= 8
        if s_hi > 1e300:
            raise RuntimeError("could not bracket the optimum from above")
    edges = np.concatenate([[s_lo], scan[(scan > s_lo) & (scan < s_hi)], [s_hi]])
    # 2. prune the scan intervals: survivors contain every global minimizer
    live = [[a, b, L] for a, b in zip(edges[:-1], edges[1:]) if (L := LB(a, b)) <= best]

    def split(iv):
        nonlocal best, best_s
        a, b, _ = iv
        m = math.sqrt(a * b)
        rm = Rc(m)
        if rm < best:
            best, best_s = rm, m
        live.remove(iv)
        for x, y in ((a, m), (m, b)):
            L = LB(x, y)
            if L <= best:
                live.append([x, y, L])

    # 3. shrink the hull: bisect the outermost survivors
    for _ in range(hull_iterations):
        live.sort()
        ends = [iv for iv in (live[0], live[-1]) if (iv[1] - iv[0]) / iv[0] > 1e-14]
        if (live[-1][1] - live[0][0]) / best_s < 1e-6 or not ends:
            break
        for iv in ({id(v): v for v in ends}).values():
            if iv in live:
                split(iv)
        live = [iv for iv in live if iv[2] <= best]
    # 4. tighten the certificate: bisect the survivors with the lowest bound (budgeted)
    for _ in range(cert_iterations):
        iv = min(live, key=lambda v: v[2])
        if iv[2] >= best * (1 - rtol) or (iv[1] - iv[0]) / iv[0] < 1e-14:
            break
        split(iv)
        live = [v for v in live if v[2] <= best]
    live.sort()
    hull_a, hull_b = live[0][0], live[-1][1]
    # 5. refine inside the hull (it contains every global minimizer)
    s_opt, r_opt = _golden(Rc, hull_a, hull_b, None, 1e-12) if hull_b > hull_a * (1 + 1e-12) else (best_s, best)
    if r_opt > best:
        s_opt, r_opt = best_s, best
    risk_lb = min(min(iv[2] for iv in live), r_opt)
    scale_error = max(s_opt - hull_a, hull_b - s_opt)
    method = "branch-and-bound with interval lower bounds (certified global), golden refinement"
    if reg.code == CODE_MSQE:
        conv = _convexity_certificate(dist, grid, hull_a, hull_b)
        if conv is not None:
            s_c, err_c = conv
            r_c = R(s_c)
            if r_c <= r_opt * (1 + 1e-13) and err_c < scale_error:
                s_opt, r_opt, scale_error = s_c, min(r_c, r_opt) if r_c <= r_opt else r_c, err_c
                r_opt = r_c
                method = ("branch-and-bound with interval lower bounds (certified global); curve proven "
                          "strictly convex on the surviving hull; root of the exact R' by bisection: "
                          "|s* - s_true| <= |R'(s*)| / min R''")
    return dict(scale=s_opt, risk=r_opt, scale_error=scale_error,
                risk_lower_bound=risk_lb,
                method=method,
                extra={"hull": (hull_a, hull_b), "lower_bound_evaluations": counts["lb"],
                       "risk_evaluations": counts["risk"], "bracket": (s_lo, s_hi)})
