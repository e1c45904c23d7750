"""Second-order certified MSQE optimum for Student t / generalized Gaussian laws, their ReLU and
mixtures (issue 15, item 2, any bit width 1..16).

Notation: ``F(s) = E[(xi - Q_s(xi))^2]`` (the MSQE curve without its pi^2), ``K = K(x; s) =
clip(round(x/s), r_b, r_t)`` the grid index, ``x_j = c_j s`` the cell boundaries with
``c_j = j + 1/2``, ``j = r_b .. r_t - 1``, ``p`` the density of the continuous part of the law.

**Exact derivatives.**  Differentiating ``F = sum_k int_cell_k (x - k s)^2 p`` (the integrand is
continuous across the boundaries, so the moving ends give no first-order term):

    F'(s)  = -2 E[K (xi - K s)],
    F''(s) = 2 A(s) - B(s),   A(s) = E[K^2] = sum_{c_j > 0} 2 c_j P(xi > c_j s) + sum_{c_j < 0} 2|c_j| P(xi < c_j s),
                              B(s) = 2 s sum_j c_j^2 p(c_j s)

(for the cell k the moving upper end gives ``-2k (s/2) p (k + 1/2)``, the lower one
``-2k (s/2) p (k - 1/2)``; at the boundary between k and k+1 they add to ``-2 c_j^2 s p(x_j)``).

**Interval bounds of F''.**  ``|K(x; s)|`` does not increase with ``s`` (``r_b <= 0 <= r_t``), so
``A(s2) <= A(s) <= A(s1)`` on ``[s1, s2]``; every component density is unimodal (at ``loc``; for the
ReLU on ``(0, inf)``), so over ``x in [c s1, c s2]`` ``p`` lies between the smaller of its end
values and its value at the mode clamped to the interval.  Hence, on ``[s1, s2]``,

    L2 = 2 A(s2) - 2 s2 sum c^2 pmax_c  <=  F''(s)  <=  U2 = 2 A(s1) - 2 s1 sum c^2 pmin_c.

(mixtures: weighted sums of the components' bounds; the ReLU atom at 0 is quantized exactly).

**Chord bound.**  ``F'' <= U2`` on ``[s1, s2]`` gives ``F(s) >= chord(s) - U2+ (s - s1)(s2 - s)/2``,
so ``min F >= min(F(s1), F(s2)) - U2+ (s2 - s1)^2 / 8``: the loss is second order in the width,
so the bound closes onto the curve near the optimum (the first-order monotone bounds of
:mod:`.heavy_optimum` lose ``O(s2 - s1)`` and cannot reach ``1e-9``).  Branch and bound in
``log s``: every interval whose bound exceeds the best curve value found (times ``1 + 2 EPS_R``)
is discarded, the others are halved (geometric midpoint).  The brackets ``(0, s_min]`` and
``[s_max, inf)`` are closed by the monotone clipping error ``C(s) >= C(s_min)`` and by
``F(s) >= E[xi^2; |xi| < s_max/2]`` (every ``|x| < s/2`` quantizes to 0).

**Start and cheap filters (issue 20).**  The initial subdivision is the caller's scan plus the ladder
``s_g (1 -+ 2^-k)``, ``k = 4..22``, around the caller's local minimizer ``s_g`` (one vectorized curve call), so
the intervals near the optimum are narrow from the first round.  Before the exact ``F''`` bounds (2^b terms per
interval) an interval is dropped by the chord bound with the law-free ``F'' <= 2 E[K^2] <= 2 (m2/s1^2 +
sqrt(m2)/s1 + 1/4)``, by the first-order bound of :mod:`.heavy_optimum` (Student t), and by :func:`far_lower`
(granular: ``F(s) >= s1^3/12 sum_k min p`` over each cell's range; clipping: monotone in ``s``).  Intervals
narrower than ``MIN_SPLIT`` whose bound is within ``4 EPS_R`` of the best value are not halved any more.

**Convex finish (issue 20).**  Once the hull is narrower than ``CONVEX_WIDTH``, the interval lower bound ``L2`` of
``F''`` over the whole hull is computed; if it is > 0, ``F'`` increases on the hull and one exact ``F'(s0)`` at the
root ``s0`` of the exact ``R'`` brackets every minimizer: ``F'(s0 - d) <= g0 + e0 - L2 d < 0`` for
``d > (g0 + e0)/L2`` (mirrored on the right), with ``L2`` recomputed over ``s0 -+ 2 d`` (within ~d of ``F''(s0)``).
If the caller's ``s0`` is outside the hull (a lower dip elsewhere), the root of ``R'`` inside the hull is taken.
Where ``L2 > 0`` cannot be shown, the stepping below.

**Scale error (fallback).**  On the surviving hull, ``F'`` is evaluated (exactly, per cell) on a subdivision;
a sub-interval ``[u1, u2]`` has ``F' < 0`` throughout when ``F'(u1) + U2+ (u2 - u1) < 0`` (and
``F' > 0`` when ``F'(u2) - U2+ (u2 - u1) > 0``).  Every global minimizer is a root of ``F'`` inside
the hull, so it lies in the sub-intervals not excluded; their span is ``scale_error``.  Where
that is not reached within the budget, ``scale_error`` is the hull's half-width.

**Risk lower bound.**  The smallest surviving interval bound (``pi^2`` included).

Rounding allowances (the only non-proved inputs, as in the rest of the engine): the curve values
``R(s)`` relative ``EPS_R = 1e-12`` (their tested accuracy against mpmath); ``A``, ``B`` relative
``1e-13`` (sums of positive terms of scipy's ``stdtr`` / ``gammaincc`` / ``exp``); ``F'`` absolute
``1e-12 * 2 sqrt(A F)`` (Cauchy-Schwarz bound of the sum of the magnitudes of the per-cell terms).
"""

from __future__ import annotations

import math

import numpy as np

EPS_R = 1e-12      # relative accuracy allowance of the curve values R(s)
EPS_AB = 1e-13     # relative allowance of the sums A, B
EPS_D1 = 1e-12     # F' allowance, relative to 2 sqrt(A F)
MIN_SPLIT = 2.0**-23  # relative width below which a B&B interval is not halved (the values' 1e-12 allowance keeps
#                       a hull of relative width ~1e-6 alive: halving below ~1e-7 cannot shrink it)


class _Comp:
    """One mixture component: weight, base law (density unimodal at ``mode``), ReLU flag."""

    def __init__(self, w, law):
        from ..laws.parametric import ReLU

        self.w = float(w)
        self.relu = isinstance(law, ReLU)
        self.base = law.base if self.relu else law
        self.mode = float(getattr(self.base, "loc", 0.0))

    def A(self, s, c_pos, c_neg):
        """``E[K^2]`` of this component's continuous part at each scale (array)."""
        out = np.empty(s.size)
        for i, si in enumerate(s):  # fsum: exact sums of the rounded products
            v = 2.0 * math.fsum(c_pos * self.base.sf(c_pos * si))
            if c_neg.size and not self.relu:
                v += 2.0 * math.fsum(c_neg * self.base.cdf(-c_neg * si))
            out[i] = v
        return out

    def B_bounds(self, s1, s2, c, need_hi=True):
        """``(B_lo, B_hi)`` over ``[s1, s2]`` (arrays of intervals); ``c`` = all boundary constants;
        ``need_hi=False``: B_hi is not computed (0).  Numba kernel, compensated sums."""
        from ._kernels.heavy_cert import b_bounds
        from .heavy import log_norm

        if self.relu:
            c = c[c > 0]
        lc, sh, mu, sig = _shape_of(self.base)
        lo = np.empty(s1.size)
        hi = np.empty(s1.size)
        b_bounds(int(lc), float(sh), log_norm(lc, sh), float(mu), float(sig), np.ascontiguousarray(c, dtype=float),
                 np.ascontiguousarray(s1, dtype=float), np.ascontiguousarray(s2, dtype=float), bool(need_hi), lo, hi)
        return lo, hi


def chord_prune(lo, hi, rlo, rhi, curv, ub, best, prev_width):
    """One pruning step of the chord branch and bound on ``[lo, hi]`` (arrays of s-intervals with the curve
    values ``rlo, rhi`` at their ends): the lower bound ``min(R(lo), R(hi)) (1 - EPS_R) - curv (hi - lo)^2 / 8``
    (``curv``: an upper bound of ``R''`` on each interval, >= 0), intervals above ``ub`` dropped.  Returns
    ``(lo, hi, rlo, rhi, lbs, curv, gap, width, stalled)`` (the kept intervals and their ``curv``;
    ``gap = 1 - min lbs / best``, ``width`` the hull's
    relative width, ``stalled`` when it shrank by less than a third since ``prev_width``), or None when
    nothing is left."""
    lbs = np.minimum(rlo, rhi) * (1 - EPS_R) - curv * (hi - lo) ** 2 / 8
    keep = lbs <= ub
    lo, hi, rlo, rhi, lbs, curv = lo[keep], hi[keep], rlo[keep], rhi[keep], lbs[keep], curv[keep]
    if lo.size == 0:  # cannot happen (the best scale lies in a kept interval); be safe
        return None
    width = float(hi.max() / lo.min() - 1)
    return lo, hi, rlo, rhi, lbs, curv, 1 - float(lbs.min()) / best, width, width > 0.67 * prev_width


def _shape_of(base):
    """``(law code, shape, loc, scale)`` of the kernel density: Student t / generalized Gaussian as they
    are; Normal(mu, sig) = GenNormal(2, mu, sig sqrt 2), Laplace(mu, b) = GenNormal(1, mu, b) (issue 20)."""
    from ..laws.parametric import LAW_LAPLACE, LAW_NORMAL
    from .heavy import LAW_GENNORM

    sk = base.shape_kernel()
    if sk is not None:
        return sk[0], float(sk[1]), float(sk[2]), float(sk[3])
    lc, mu, sig, _ = base.kernel_params()
    if lc == LAW_NORMAL:
        return LAW_GENNORM, 2.0, float(mu), float(sig) * math.sqrt(2.0)
    if lc == LAW_LAPLACE:
        return LAW_GENNORM, 1.0, float(mu), float(sig)
    raise ValueError(f"no density kernel for law code {lc}")


OFFCENTRE_MAX = 1e5  # |loc| / scale of a component beyond which the curve values' 1e-12 allowance is not trusted

OFFCENTRE_NOTE = ("; not certified: a component lies more than 1e5 of its scales away from 0, where the curve values' "
                  "rounding (~1e-11 relative at 2e7 scales) exceeds the certificates' 1e-12 allowance")


def offcentre_ratio(law) -> float:
    """``max |loc| / scale`` over the components of ``law`` (their ReLU's base laws); 0 for laws without a
    location-scale kernel.  Far off centre (``> OFFCENTRE_MAX``) the heavy-law curves lose digits to
    ``x - k s`` at ``|x| ~ |loc|``: an independent review (2026-12-01) measured 5.5e-11 absolute (1.2e-11
    relative) on ``StudentT(3, 1e7, 0.4)``, 4 bits, QSin, and a lower bound 1.3e-11 above the true minimum."""
    from ..laws.parametric import ReLU

    worst = 0.0
    for _, c in (law.components() or ((1.0, law),)):
        base = c.base if isinstance(c, ReLU) else c
        try:
            _, _, mu, sig = _shape_of(base)
        except (AttributeError, TypeError, ValueError):
            continue
        if sig > 0:
            worst = max(worst, abs(mu) / sig)
    return worst


def components(law):
    """``[_Comp, ...]`` when every component is a Student t / generalized Gaussian / Normal / Laplace (or its
    ReLU), else None.  (A single Normal / Laplace law has its own certificates: None.)"""
    from ..laws.parametric import LAW_LAPLACE, LAW_NORMAL

    comps = law.components()
    if not comps:
        if law.shape_kernel() is None:
            return None
        comps = ((1.0, law),)
    out = []
    for w, c in comps:
        if c.components():
            return None
        if c.shape_kernel() is None:
            kp = c.kernel_params()
            if kp is None or kp[0] not in (LAW_NORMAL, LAW_LAPLACE):
                return None
        out.append(_Comp(w, c))
    return out


FAR_KMAX = 64  # cells per side summed by the granular bound of far_lower (far from the optimum: few cells)


def far_lower(comps, grid, s1, s2):
    """Cheap lower bound of ``R(s) = pi^2 F(s)`` over each ``[s1, s2]`` (arrays), first order in the width, for
    the intervals far from the optimum that the chord bound cannot discard (issue 20):

    * granular: every cell ``k`` (clipped end cells included: they contain their symmetric part) contributes
      ``int (x - k s)^2 p >= min_cell p * s^3/12``; as ``s`` runs over ``[s1, s2]`` the cell stays inside
      ``[(k - 1/2) s1, (k + 1/2) s2]`` (``k >= 1``; mirrored for ``k <= -1``; ``[-s2/2, s2/2]`` for ``k = 0``), over
      which a unimodal density is smallest at an end: ``F(s) >= s1^3/12 sum_k min(p(left_k), p(right_k))``,
      over ``|k| <= FAR_KMAX`` (the other cells add >= 0);
    * clipping: ``F(s) >= E[(xi - r_t s)^2; xi > r_t s] + E[(xi - r_b s)^2; xi < r_b s]``, which does not increase
      with ``s``: its value at ``s2``, from the closed-form upper partial moments where the clipping point is in
      the component's tail (``z >= 0``: ``sig^2 (S2 - 2 z S1 + z^2 S0)``), less ``1e-11`` of the terms' magnitudes
      (their tested accuracy is 1e-12), else 0.

    Mixtures: weighted sums over the components (the ReLU's continuous part has no density below 0)."""
    from ._kernels.heavy_cert import LAW_T
    from .heavy import log_norm, upper_moments

    s1 = np.asarray(s1, dtype=float)
    s2 = np.asarray(s2, dtype=float)
    if s1.size == 0:
        return np.zeros(0)
    k = np.arange(max(grid.r_b, -FAR_KMAX), min(grid.r_t, FAR_KMAX) + 1, dtype=float)
    a1, a2, kk = s1[:, None], s2[:, None], k[None, :]
    left = np.where(kk >= 1, (kk - 0.5) * a1, np.where(kk <= -1, (kk - 0.5) * a2, -0.5 * a2))
    right = np.where(kk >= 1, (kk + 0.5) * a2, np.where(kk <= -1, (kk + 0.5) * a1, 0.5 * a2))
    gran = np.zeros(s1.size)
    clip = np.zeros(s1.size)
    for cp in comps:
        lc, sh, mu, sig = _shape_of(cp.base)
        ln = log_norm(lc, sh)

        def pdf(x):
            z = (x - mu) / sig
            with np.errstate(over="ignore", under="ignore"):
                if lc == LAW_T:
                    return np.exp(ln - 0.5 * (sh + 1.0) * np.log1p(z * z / sh)) / sig
                return np.exp(ln - np.abs(z) ** sh) / sig

        pm = np.minimum(pdf(left), pdf(right))
        if cp.relu:
            pm = np.where(left < 0, 0.0, pm)
        gran += cp.w * pm.sum(axis=1)
        with np.errstate(all="ignore"):
            zb = (grid.r_t * s2 - mu) / sig
            S0, S1, S2 = upper_moments(lc, sh, np.maximum(zb, 0.0))
            t = S2 - 2 * zb * S1 + zb * zb * S0 - 1e-11 * (S2 + 2 * np.abs(zb) * S1 + zb * zb * S0)
            c = np.where((zb >= 0) & np.isfinite(t), np.maximum(t, 0.0), 0.0)
            if grid.r_b < 0 and not cp.relu:
                za = (grid.r_b * s2 - mu) / sig  # E[(Z - za)^2; Z < za] = E[(Y + za)^2; Y > -za], Y = -Z
                S0, S1, S2 = upper_moments(lc, sh, np.maximum(-za, 0.0))
                t = S2 + 2 * za * S1 + za * za * S0 - 1e-11 * (S2 + 2 * np.abs(za) * S1 + za * za * S0)
                c = c + np.where((za <= 0) & np.isfinite(t), np.maximum(t, 0.0), 0.0)
        clip += cp.w * sig * sig * c
    gran = gran * s1**3 / 12
    return math.pi**2 * np.maximum(gran, clip) * (1 - 1e-12)


class _Bounds:
    """Exact ``A(s)`` at anchor scales (cached) and the F'' interval bounds for a law and grid.

    Between anchors, ``A' = -B/s`` gives ``A(s1) = A(a) - int_a^s1 B(s)/s ds
    <= A(a) - B_lo(a, s1) ln(s1/a)`` for the nearest anchor ``a <= s1``: a second-order loss
    ``~ (B_max - B_min) ln(s1/a)``, so exact ``A`` (2^b special-function calls) is needed only
    where the nearest anchor is farther than ``0.3 sqrt(w/s1)`` relative (``w`` the interval width)."""

    def __init__(self, comps, grid):
        self.comps = comps
        c = np.arange(grid.r_b, grid.r_t, dtype=float) + 0.5
        self.c = c
        self.c_pos = c[c > 0]
        self.c_neg = -c[c < 0][::-1]  # |c| for the negative boundaries
        self.cacheA: dict[float, float] = {}
        self.anchors = np.empty(0)
        self.evals = 0

    def A(self, s):
        """Exact ``A(s) = E[K^2]`` (cached; the scales become anchors)."""
        s = np.asarray(s, dtype=float)
        need = np.array([x for x in np.unique(s) if float(x) not in self.cacheA])
        if need.size:
            tot = np.zeros(need.size)
            for cp in self.comps:
                tot += cp.w * cp.A(need, self.c_pos, self.c_neg)
            for x, v in zip(need, tot):
                self.cacheA[float(x)] = float(v)
            self.anchors = np.sort(np.array(list(self.cacheA)))
            self.evals += need.size
        return np.array([self.cacheA[float(x)] for x in s])

    def B(self, s1, s2, need_hi=True):
        blo = np.zeros(s1.size)
        bhi = np.zeros(s1.size)
        for cp in self.comps:
            lo, hi = cp.B_bounds(s1, s2, self.c, need_hi)
            blo += cp.w * lo
            bhi += cp.w * hi
        return blo, bhi

    def A_up(self, s1, w):
        """Upper bound of ``A(s1)`` (arrays; ``w`` = relative width of the interval it serves)."""
        out = np.empty(s1.size)
        k = np.searchsorted(self.anchors, s1, side="right") - 1
        a = np.where(k >= 0, self.anchors[np.maximum(k, 0)] if self.anchors.size else 0.0, 0.0)
        far = (k < 0) | (s1 / np.where(a > 0, a, 1.0) - 1 > 0.3 * np.sqrt(w))
        exact = far | (a == s1)
        if np.any(exact):
            out[exact] = self.A(s1[exact])
        d = ~exact
        if np.any(d):
            blo, _ = self.B(a[d], s1[d], need_hi=False)
            aa = self.A(a[d])
            out[d] = aa * (1 + EPS_AB) - blo * (1 - EPS_AB) * np.log1p((s1[d] - a[d]) / a[d])
        return out

    def f2(self, s1, s2, lower=True):
        """``(L2, U2)``: rigorous bounds of ``F''`` over each ``[s1[i], s2[i]]`` (no pi^2);
        ``lower=False``: only U2 (L2 is NaN), with ``A(s1)`` from the anchors."""
        s1 = np.asarray(s1, dtype=float)
        s2 = np.asarray(s2, dtype=float)
        blo, bhi = self.B(s1, s2, need_hi=lower)
        if lower:
            a1, a2 = self.A(s1), self.A(s2)
            L2 = 2 * a2 * (1 - EPS_AB) - bhi * (1 + EPS_AB)
        else:
            a1 = self.A_up(s1, s2 / s1 - 1)
            L2 = np.full(s1.size, np.nan)
        U2 = 2 * a1 * (1 + EPS_AB) - blo * (1 - EPS_AB)
        return L2, U2


def certify(law, grid, scan, vals, s_guess, *, gap_target=1e-10, max_rounds=70, max_live=4000,
            hull_target=3e-7):
    """Second-order branch and bound (module docstring): a dict with ``scale``, ``risk``,
    ``scale_error``, ``risk_lower_bound``, ``method``, ``extra``, or None when the law is not covered,
    the brackets do not close, or the budget ends before the bound gap is below ``1e-6``."""
    from .curve import risk_curve

    comps = components(law)
    if comps is None:
        return None
    pi2 = math.pi**2
    Rf = lambda x: risk_curve(law, np.asarray(x, dtype=float), grid, "msqe")  # noqa: E731
    scan = np.asarray(scan, dtype=float)
    vals = np.asarray(vals, dtype=float)
    ib = int(np.argmin(vals))
    best_s, best = float(scan[ib]), float(vals[ib])
    rg = None
    if s_guess is not None:
        rg = float(Rf([s_guess])[0])
        if rg <= best:
            best_s, best = float(s_guess), rg
    bnd = _Bounds(comps, grid)
    # brackets
    s_min, s_max = float(scan[0]), float(scan[-1])
    clip0 = law.partial_moment(2, grid.r_t * s_min, math.inf) - 2 * grid.r_t * s_min * law.partial_moment(
        1, grid.r_t * s_min, math.inf) + (grid.r_t * s_min) ** 2 * law.partial_moment(0, grid.r_t * s_min, math.inf)
    if grid.r_b < 0:
        b = grid.r_b * s_min
        clip0 += (law.partial_moment(2, -math.inf, b) - 2 * b * law.partial_moment(1, -math.inf, b)
                  + b * b * law.partial_moment(0, -math.inf, b))
    lb0 = pi2 * clip0 * (1 - 1e-10)
    lb_inf = pi2 * law.partial_moment(2, -s_max / 2, s_max / 2) * (1 - 1e-12)
    if not (lb0 > best * (1 + 2 * EPS_R) and lb_inf > best * (1 + 2 * EPS_R)):
        return None
    pts, pvals = _seed_ladder(Rf, scan, vals, best_s, best, s_guess)
    j = int(np.argmin(pvals))
    if pvals[j] < best:
        best_s, best = float(pts[j]), float(pvals[j])
    lo, hi = pts[:-1].copy(), pts[1:].copy()
    rlo, rhi = pvals[:-1].copy(), pvals[1:].copy()
    from .heavy_optimum import _t_components, lower_bound as t_lower

    tcomps = _t_components(law)
    # the law-free curvature bound F'' <= 2 E[K^2] <= 2 (m2/s1^2 + sqrt(m2)/s1 + 1/4) on [s1, s2] (|K| <= |xi|/s + 1/2,
    # B >= 0): no 2^b sums, discards the far intervals before the exact bounds (issue 20)
    m2c = sum(cp.w * float(cp.base.second_moment()) for cp in comps)
    rounds = 0
    lbs = None
    prev_width = math.inf
    convex, tried = None, math.inf
    while True:
        ub = best * (1 + 2 * EPS_R)
        # cheap first-order bound (Student t only) first, then the chord bound on what is left
        crude = 2 * (m2c / lo**2 + math.sqrt(m2c) / lo + 0.25) * (1 + 1e-12)
        keep = np.minimum(rlo, rhi) * (1 - EPS_R) - pi2 * crude * (hi - lo) ** 2 / 8 <= ub
        lo, hi, rlo, rhi = lo[keep], hi[keep], rlo[keep], rhi[keep]
        if tcomps is not None:
            pre = t_lower(tcomps, grid, lo, hi)
            keep = pre <= ub
            lo, hi, rlo, rhi = lo[keep], hi[keep], rlo[keep], rhi[keep]
        keep = far_lower(comps, grid, lo, hi) <= ub
        lo, hi, rlo, rhi = lo[keep], hi[keep], rlo[keep], rhi[keep]
        _, U2 = bnd.f2(lo, hi, lower=False)
        step = chord_prune(lo, hi, rlo, rhi, pi2 * np.maximum(U2, 0.0), ub, best, prev_width)
        if step is None:
            return None
        # stop once the bound gap is reached and the hull no longer shrinks (the values' rounding
        # allowance EPS_R keeps a hull of relative width ~ sqrt(EPS_R) alive; R' narrows it below)
        lo, hi, rlo, rhi, lbs, _, gap, width, stalled = step
        prev_width = width
        # a hull on which R'' > 0 is proven needs no further rounds: R' is increasing there and one exact R'
        # value at the local minimizer brackets the root (_convex_finish)
        if s_guess is not None and width <= CONVEX_WIDTH and width < 0.5 * tried:
            tried = width
            a, b = float(lo.min()), float(hi.max())
            if not a <= s_guess <= b:  # the caller's local minimizer is not the global one (two dips):
                from .heavy import refine_msqe  # the root of R' inside the hull instead

                ref = refine_msqe(law, grid, a, b)
                if ref is not None:
                    s_guess, rg = float(ref[0]), float(Rf([ref[0]])[0])
                    if rg <= best:
                        best_s, best = s_guess, rg
            if a <= s_guess <= b:
                convex = _convex_finish(law, grid, bnd, a, b, float(s_guess), rg)
                if convex is not None:
                    break
        if (gap <= gap_target and (width <= hull_target or stalled)) or rounds >= max_rounds \
                or lo.size * 2 > max_live:
            break
        # (intervals below the values' resolution stay whole once their bound is within the gap target)
        wide = (hi / lo - 1 > MIN_SPLIT) | (lbs < best * (1 - gap_target))
        if not wide.any():
            break
        lo0, hi0, rlo0, rhi0 = lo[~wide], hi[~wide], rlo[~wide], rhi[~wide]
        lo, hi, rlo, rhi = lo[wide], hi[wide], rlo[wide], rhi[wide]
        mid = np.sqrt(lo * hi)
        rm = Rf(mid)
        j = int(np.argmin(rm))
        if rm[j] < best:
            best_s, best = float(mid[j]), float(rm[j])
        lo, hi = np.concatenate([lo0, lo, mid]), np.concatenate([hi0, mid, hi])
        rlo, rhi = np.concatenate([rlo0, rlo, rm]), np.concatenate([rhi0, rm, rhi])
        rounds += 1
    a, b = float(lo.min()), float(hi.max())
    lower = float(lbs.min())
    if convex is not None:
        u, v = convex
        s_opt, r_opt = float(s_guess), rg
        scale_err = max(s_opt - u, v - s_opt)
        if v > u:
            _, U2 = bnd.f2(np.array([u]), np.array([v]), lower=False)
            ru, rv = Rf([u, v])
            lower = max(lower, float(min(ru, rv) * (1 - EPS_R) - pi2 * max(float(U2[0]), 0.0) * (v - u) ** 2 / 8))
        gap = 1 - lower / best
        if gap > 1e-6:
            return None
        how = ("sign of the exact R' at the scale, R' increasing on the hull (interval lower bound of R'' > 0 "
               "over it)")
        return dict(scale=s_opt, risk=r_opt, scale_error=scale_err, risk_lower_bound=min(lower, r_opt),
                    method=METHOD.format(how=how),
                    extra={"hull": (a, b), "rounds": rounds, "live_intervals": int(lo.size),
                           "A_evaluations": bnd.evals, "bound_gap": gap})
    if gap > 1e-6:
        return None
    s_opt, r_opt = best_s, best
    if s_guess is not None and a <= s_guess <= b:  # the root of the exact R' (more precise than values)
        s_opt, r_opt = float(s_guess), rg
    scale_err = max(s_opt - a, b - s_opt)
    how = "hull of the surviving intervals"
    # R' per cell costs ~2^b: a smaller budget at > 12 bits (scale_error then ~ the hull, ~1e-6)
    d1 = _root_bracket(law, grid, bnd, a, b, s_opt, budget=120 if grid.bits <= 12 else 40)
    if d1 is not None and d1[0] <= s_opt <= d1[1] and max(s_opt - d1[0], d1[1] - s_opt) < scale_err:
        scale_err = max(s_opt - d1[0], d1[1] - s_opt)
        how = "sign of the exact R' with R'' interval bounds inside the hull"
        # every global minimizer is in [u, v]: the chord bound over it
        u, v = d1
        if v > u:
            _, U2 = bnd.f2(np.array([u]), np.array([v]), lower=False)
            ru, rv = Rf([u, v])
            lower = max(lower, float(min(ru, rv) * (1 - EPS_R) - pi2 * max(float(U2[0]), 0.0) * (v - u) ** 2 / 8))
    return dict(scale=s_opt, risk=r_opt, scale_error=scale_err, risk_lower_bound=min(lower, r_opt),
                method=METHOD.format(how=how),
                extra={"hull": (a, b), "rounds": rounds, "live_intervals": int(lo.size),
                       "A_evaluations": bnd.evals, "bound_gap": gap})


METHOD = ("branch and bound with second-order interval bounds of R: certified (heavy_cert.py); "
          "exact R'' = pi^2 (2 E[K^2] - 2 s sum c^2 p(c s)) bounded by the monotone E[K^2] and the "
          "unimodal densities, chord bound; scale_error from the {how}")

CONVEX_PIECES = 256  # at most this many pieces of the hull for the R'' > 0 proof
CONVEX_WIDTH = 1e-3  # relative hull width below which the branch and bound tries to prove R'' > 0 on the hull


def _convex_finish(law, grid, bnd, a, b, s0, r0):
    """``(u, v)`` with every root of ``F'`` in ``[a, b]`` inside ``[u, v]``, or None (issue 20).

    When the interval lower bound ``L2`` of ``F''`` over the whole hull ``[a, b]`` (or, where that one is <= 0,
    over each of up to ``CONVEX_PIECES`` pieces of it: the bound loses ~ width x 2^b) is > 0, ``F'`` increases
    there, and with ``g0`` the computed ``F'(s0)``, ``e0`` its allowance (``EPS_D1 2 sqrt(A F)``, as in
    :func:`_root_bracket`): ``F'(s0 - d) <= g0 + e0 - L2 d < 0`` for ``d > (g0 + e0)/L2`` and
    ``F'(s0 + d) >= g0 - e0 + L2 d > 0`` for ``d > (e0 - g0)/L2``.  One ``F'`` value replaces the stepping
    (~50 ``F'`` and ``F''``-bound evaluations).  The distances get a relative ``1e-9`` and 4 ulp of ``s0``
    for their own rounding.  ``r0``: the curve value ``R(s0)`` (pi^2 included)."""
    from .heavy import dmsqe

    if r0 is None:
        return None
    L2, U2 = bnd.f2(np.array([a]), np.array([b]), lower=True)
    L2, U2 = float(L2[0]), float(U2[0])
    if not L2 > 0:
        # the bound loses ~ the hull's width times 2^b (first order): at high bit widths prove F'' > 0 piece by
        # piece over a subdivision of the hull (F' then increases on each piece, hence on the hull)
        if not L2 + U2 > 0:
            return None
        n = int(min(CONVEX_PIECES, math.ceil(4 * (U2 - L2) / (U2 + L2))))
        edges = np.geomspace(a, b, n + 1)
        edges[0], edges[-1] = a, b
        L2 = float(bnd.f2(edges[:-1], edges[1:], lower=True)[0].min())
        if not L2 > 0:
            return None
    g0 = dmsqe(law, grid, s0)
    if g0 is None:
        return None
    A0 = float(bnd.A_up(np.array([s0]), np.array([1.0]))[0])
    e0 = EPS_D1 * 2 * math.sqrt(max(A0, 0.0) * max(r0 / math.pi**2, 0.0)) + 1e-300
    pad = 4 * math.ulp(s0)

    def dists(L):
        return max(g0 + e0, 0.0) / L * (1 + 1e-9) + pad, max(e0 - g0, 0.0) / L * (1 + 1e-9) + pad

    dl, dr = dists(L2)
    # the hull's L2 loses ~ its width (first order) against F''(s0): on D = 2 max(dl, dr) around s0 the
    # interval bound is within ~D of F''(s0), and the distances it gives are valid when they are <= D
    D = 2 * max(dl, dr)
    x1, x2 = max(a, s0 - D), min(b, s0 + D)
    if x2 > x1:
        L2s = float(bnd.f2(np.array([x1]), np.array([x2]), lower=True)[0][0])
        if L2s > L2:
            dl2, dr2 = dists(L2s)
            if s0 - dl2 >= x1 and s0 + dr2 <= x2:
                dl, dr = dl2, dr2
    return max(a, s0 - dl), min(b, s0 + dr)


LADDER_K = (4, 22)  # the seed ladder's relative offsets 2^-k around the local minimizer


def _seed_ladder(Rf, scan, vals, best_s, best, s_guess, k_range=LADDER_K):
    """The branch and bound's initial subdivision: the caller's scan plus, when the local minimizer
    ``s_guess`` lies inside it, the ladder ``s_guess (1 -+ 2^-k)``, ``k`` in ``LADDER_K``, and ``s_guess``
    itself, their curve values in one vectorized call (issue 20).  Any subdivision of ``[scan[0], scan[-1]]``
    is a valid start (the bounds hold interval by interval); this one has the narrow intervals the
    bisection rounds would otherwise take ~15 rounds (one curve call each) to reach.  Returns the sorted
    points and their values."""
    if s_guess is None or not scan[0] < s_guess < scan[-1]:
        return scan, vals
    k = np.arange(k_range[0], k_range[1] + 1, dtype=float)
    d = float(s_guess) * 2.0 ** -k
    lad = np.concatenate([float(s_guess) - d, [float(s_guess)], float(s_guess) + d])
    lad = lad[(lad > scan[0]) & (lad < scan[-1])]
    lad = lad[~np.isin(lad, scan)]
    if lad.size == 0:
        return scan, vals
    lv = np.asarray(Rf(lad), dtype=float)
    if not np.all(np.isfinite(lv)):
        return scan, vals
    pts = np.concatenate([scan, lad])
    pv = np.concatenate([vals, lv])
    order = np.argsort(pts, kind="stable")
    return pts[order], pv[order]


def _root_bracket(law, grid, bnd, a, b, s0, budget=120):
    """Interval ``[u, v]`` around ``s0`` outside which ``F'`` has no root in ``[a, b]`` (module
    docstring).  From each far end, steps toward ``s0``: from a point ``x`` left of ``s0`` the
    step ``[x, x + h]`` is excluded when ``F'(x) + err + U2+ h < 0`` (``F' > 0`` mirrored on the
    right); ``h`` is doubled after a success (at most half the distance to ``s0``), halved after a
    failure.  ``budget`` bounds the number of ``F''`` interval evaluations.

    While every step succeeds, ``h`` is exactly half the distance to ``s0``: that ladder of scales is
    known in advance, so its ``F'``, ``F``, ``A`` and ``U2`` values are computed in one vectorized call per
    side (issue 20); from the first failure on, the steps go one at a time as before."""
    from .heavy import dmsqe, dmsqe_many

    used = 0

    def allowance(x, A, F):
        return EPS_D1 * 2 * math.sqrt(max(A, 0.0) * max(F, 0.0)) + 1e-300

    def ladder(x, sign):
        """The all-success path from ``x``: its points and steps (the float operations of the loop below)."""
        xs, hs = [], []
        h = 0.5 * abs(x - s0)
        while abs(x - s0) > 1e-13 * s0 and used + len(xs) < budget:
            h = min(h, 0.5 * abs(x - s0))
            xs.append(x)
            hs.append(h)
            x = x - sign * h
            h = 2 * h
        return np.array(xs), np.array(hs)

    def side(x, sign):  # sign -1: left of s0 (need F' < 0), +1: right (need F' > 0)
        nonlocal used
        g = None
        h = 0.5 * abs(x - s0)
        xs, hs = ladder(x, sign)
        if xs.size:
            gs = dmsqe_many(law, grid, xs)
            if gs is None:
                return x
            As = bnd.A_up(xs, np.ones(xs.size))
            Fs = risk_curve_f_many(law, grid, xs)
            ys = xs - sign * hs
            u1, u2 = (xs, ys) if sign < 0 else (ys, xs)
            _, U2 = bnd.f2(u1, u2, lower=False)
            U2 = np.maximum(U2, 0.0)
            for k in range(xs.size):
                used += 1
                e = allowance(xs[k], float(As[k]), float(Fs[k]))
                g, hk = float(gs[k]), float(hs[k])
                okay = (g + e + U2[k] * hk < 0) if sign < 0 else (g - e - U2[k] * hk > 0)
                if not okay:  # the state of the loop after this failure
                    x, h = float(xs[k]), 0.5 * hk
                    if h <= 1e-14 * s0:
                        return x
                    break
            else:
                x = float(xs[-1] - sign * hs[-1])
                g, h = None, 2 * float(hs[-1])
        while abs(x - s0) > 1e-13 * s0 and used < budget:
            if g is None:
                g = dmsqe(law, grid, x)
                if g is None:
                    return x
                A = float(bnd.A_up(np.array([x]), np.array([1.0]))[0])  # (an upper bound of A suffices)
                e = allowance(x, A, risk_curve_f(law, grid, x))
            h = min(h, 0.5 * abs(x - s0))
            y = x - sign * h
            u1, u2 = (x, y) if sign < 0 else (y, x)
            _, U2 = bnd.f2(np.array([u1]), np.array([u2]), lower=False)
            used += 1
            U2 = max(float(U2[0]), 0.0)
            okay = (g + e + U2 * h < 0) if sign < 0 else (g - e - U2 * h > 0)
            if okay:
                x, g, h = y, None, 2 * h
            else:
                h *= 0.5
                if h <= 1e-14 * s0:
                    break
        return x

    u = side(a, -1)
    v = side(b, +1)
    return u, v


def risk_curve_f(law, grid, x):
    """``F(x) = E[(xi - Q_x(xi))^2]`` at one scale (no pi^2)."""
    from .curve import risk_curve

    return float(risk_curve(law, np.array([float(x)]), grid, "msqe")[0]) / math.pi**2


def risk_curve_f_many(law, grid, xs):
    """:func:`risk_curve_f` at each of ``xs`` (one vectorized curve call)."""
    from .curve import risk_curve

    return np.asarray(risk_curve(law, np.asarray(xs, dtype=float), grid, "msqe"), dtype=float) / math.pi**2
