"""Certified joint optima of affine quantizers for the parametric laws.

Integer zero-point form (:func:`optimal_affine`)::

    min over s > 0, z in {0..N} of  MSE(s, z) = E[(xi - s (clip(rint(xi/s) + z, 0, N) - z))^2]

For a fixed ``z`` the quantizer is the integer grid ``[-z, N - z]`` at scale ``s``
(SPEC section 7), i.e. the nearest-level quantizer with levels ``s (k - z)``,
``k = 0..N``.  The code range bounds ``z`` (``0 <= z <= N``: only ``N + 1``
candidates), and the search is a branch and bound over boxes ``{z} x [s1, s2]``:

* lower bound of a box: for ``s in [s1, s2]`` level ``j = k - z`` lies in
  ``I_j = j [s1, s2]`` (``j >= 0``) or ``j [s2, s1]`` (``j < 0``), so
  ``MSE(s, z) >= E[dist(xi, U I_j)^2]``, an integral computed in closed form
  piece by piece (Normal: ``Phi``/``phi``; Laplace: exponentials; ReLU: the density
  on ``x > 0`` plus the atom at 0), minus a rounding-error bound
  (:mod:`quanttheory.affine._kernels`).  Unbounded boxes ``[0, s_lo]`` and
  ``[s_hi, inf)`` bound the scale from both sides;
* upper bounds: the same integral with zero-width intervals (the exact MSE) plus
  its error bound;
* boxes whose lower bound exceeds the best upper bound are discarded; the others
  are bisected (geometric midpoint) until their relative width is below
  ``hull_rtol`` or no bound can separate them (rounding).  Every global
  minimizer lies in a surviving box: the result lists the surviving zero-points
  and the hull of the surviving scales (``scale_error``).

Zero-point ranges (docs/affine.md, section 2c): ``F_{z+1}(s) - F_z(s) = 2 s [pi(s (N - 1/2 - z))
- lam(-s (z + 1/2))]`` with the tail partial moments ``pi(a) = E[(xi - a)_+]``, ``lam(c) = E[(c - xi)_+]``;
so ``z -> F_z(s)`` is convex and, for Normal/Laplace laws, ``z`` can be optimal at ``s`` only if
``(N - 1)/2 - z <= mu/s <= (N + 1)/2 - z`` (ReLU laws: only ``z = 0``).  Each zero-point is searched on
its range only; when at most two zero-points remain, the risk engine's certified 1-D optimum of each
is the answer (:func:`zero_point_ranges`, :func:`_engine_optimum`).

The returned scale is refined inside that hull (bounded Brent on the exact MSE)
and its MSE is recomputed by the certified risk engine of
:mod:`quanttheory.risk` on :class:`~quanttheory.affine.grid.ShiftedGrid`
(relative error <= 1e-12).

Real-offset form (:func:`optimal_offset`)::

    min over s > 0, m real of  E[(xi - m - s clip(rint((xi - m)/s), 0, N))^2]

is a two-dimensional branch and bound over boxes ``[s1, s2] x [m1, m2]`` with
level ``k`` in ``[m1 + k s1, m2 + k s2]`` and the same union-distance bound.  The
search region is bounded first (proofs in ``docs/affine.md``):

* ``s >= S``: levels are ``S`` apart, so a window ``[w, w + S)`` holds at most one
  level and one of its two halves holds none; in that half every point is at
  least its distance to the half's ends from any level:
  ``MSE >= min(E[tent_L^2; left half], E[tent_R^2; right half])``; or, sharper (the half bound never
  exceeds the optimum of Laplace laws at 1 bit), the window's single level ``q`` is covered by
  intervals ``I_j`` and ``MSE >= min_j E[dist(xi, (-inf, w] U I_j U [w + S, inf))^2]``;
* for ``s <= S`` every level lies in ``[m, m + N S]``: ``m >= M`` costs at least
  ``E[(M - xi)_+^2]``, ``m <= M'`` at least ``E[(xi - M' - N S)_+^2]``.
* Normal / Laplace laws: the optimal centre ``m + s N / 2`` lies within ``s / 2`` of ``mu`` at every
  scale (the zero-point ranges applied to the law shifted by a fraction of ``s``); only that wedge
  is searched.

Since the fast path (``USE_FAST_OFFSET``, :func:`_offset_fast`, docs/affine_offset.md) the real-offset
optimum is found by Newton on the exact gradient and Hessian, certified on a rectangle around it by a
second-order interval Hessian in (scale, centre) coordinates, and a branch and bound with an
anisotropic second-order box bound closes the rest of the region; the search above is its fallback.

Size (~1200 lines, over the package's ~500-line guideline): the two certified searches,
integer zero-point and real offset, share the law adapter ``_Law`` and its closed-form box
bounds; each search is one long function whose steps (bounds, pruning, certificate) are kept
together so that the certificate argument in docs/affine.md can be read against the code.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..formats.grid import Grid
from ..laws import Laplace, Normal, ReLU
from .grid import ShiftedGrid, _check_bits

MAX_PARAMETRIC_BITS = 8
TAYLOR_RW = 0.03  # boxes narrower than this (relative width) also get the second-order bound
LB_RTOL = 1e-12  # relative slack when comparing a lower bound with the incumbent
GAP_RTOL = 1e-9  # 2-5 bits: a certificate gap above this hands the surviving zero-points to the 1-D engine
WEDGE_WIDEN = 1e-9  # relative widening of the offset form's centre wedge |c - mu| <= s / 2 (rounding)
ENGINE_ZS = 2  # at most this many zero-points left: the risk engine's 1-D certified optimum of each
# zero-point ranges and offset centre wedge (section 2c of docs/affine.md); False: the previous searches
USE_ZP_RANGES = True
# real offset: Newton incumbent, convex rectangle around it (second-order Hessian bound), branch and
# bound outside it (_offset_fast); False: the previous search only (benchmark baseline)
USE_FAST_OFFSET = True
OFFSET_RELU_ANCHOR = 0.0  # ReLU laws: box coordinates c = m + a N s with a = this (0: the lowest level)
OFFSET_ONE_START = True  # Newton from the better of the two starts only (False: both, the better result)
OFFSET_RELU_SPLIT = 4.0  # ReLU laws, N >= 63: split a box along s only when kappa (s2 - s1) >= this * (c2 - c1)
#   (twice this from N >= 127; else along c; measured: ReLU(Laplace(0.5, 1)) 8 bits 889 -> 347 boxes; below
#   6 bits 1.0 needs fewer)
OFFSET_GAP_RTOL = 1e-12  # boxes whose lower bound is within this of the incumbent are closed (the engine's accuracy)


@dataclass(frozen=True)
class AffineOptimum:
    """Joint optimum of an affine quantizer (fields are arrays for per-channel / per-group results).

    Attributes
    ----------
    bits : int
    form : str
        ``"zero_point"`` (``x_hat = s (q - z)``, integer ``z``) or ``"offset"`` (``x_hat = s q + m``).
    scale : float or ndarray
        ``s*`` (data units).
    zero_point : int or ndarray or None
        ``z*`` for the integer form, None for the real-offset form.
    offset : float or ndarray
        ``m*`` with ``x_hat = s q + m`` (``m = -s z`` in the integer form).
    mse : float or ndarray
        ``E[(xi - x_hat)^2]`` at the optimum, data units squared (no ``pi^2`` factor).
    mse_lower_bound : float or ndarray
        Certificate: no admissible ``(s, z)`` / ``(s, m)`` has a smaller MSE.
    scale_error, offset_error : float or ndarray
        Bounds on the distance from the returned ``s`` / ``m`` to every global minimizer
        (``inf`` when every scale is optimal).
    method : str
    extra : dict
        Diagnostics (surviving zero-points, box counts, timings, ties).
    """

    bits: int
    form: str
    scale: Any
    zero_point: Any
    offset: Any
    mse: Any
    mse_lower_bound: Any
    scale_error: Any
    offset_error: Any
    method: str
    extra: dict | None = None

    @property
    def risk(self):
        """``pi^2 * mse`` (the package's MSQE risk convention)."""
        return math.pi**2 * np.asarray(self.mse) if isinstance(self.mse, np.ndarray) else math.pi**2 * self.mse

    def as_dict(self) -> dict:
        """JSON-friendly dict (arrays become lists; non-finite floats become strings)."""
        def conv(v):
            if isinstance(v, np.ndarray):
                return [conv(x) for x in v.tolist()]
            if isinstance(v, (list, tuple)):
                return [conv(x) for x in v]
            if isinstance(v, np.generic):
                return conv(v.item())
            if isinstance(v, float) and not math.isfinite(v):
                return "inf" if v > 0 else ("-inf" if v < 0 else "nan")
            if isinstance(v, dict):
                return {str(k): conv(x) for k, x in v.items()}
            if isinstance(v, Grid):
                return str(v)
            return v
        return {k: conv(getattr(self, k)) for k in self.__dataclass_fields__}


def _check_law(dist):
    if not isinstance(dist, (Normal, Laplace, ReLU)):
        raise TypeError(f"dist must be a parametric law (Normal, Laplace, ReLU(...)), got {type(dist).__name__}; "
                        "for data use quanttheory.affine.optimal_affine_data")
    return dist


def _bits(bits) -> int:
    b = _check_bits(bits)
    if b > MAX_PARAMETRIC_BITS:
        raise ValueError(f"the parametric affine optimizers support bits 1..{MAX_PARAMETRIC_BITS} (the bounds cost "
                         f"O(2**bits) per box), got {b}")
    return b


class _Law:
    """Kernel parameters of a law and the bound / value evaluators."""

    LB_REACH = {0: 9.0, 1: 40.0}  # lower bounds may drop the tails beyond (dropping mass keeps them valid)

    def __init__(self, dist):
        from ._moments import reach

        self.dist = dist
        self.law, self.mu, self.sig, self.relu = dist.kernel_params()
        self.p0 = float(dist.point_mass)
        self.full_reach = reach(self.law, self.mu, self.sig)
        self.lb_reach = self.LB_REACH[self.law] * self.sig
        self.m2 = float(dist.second_moment())
        self.evals = 0

    def lower(self, lo, hi):
        """Safe lower bounds of E[dist(xi, U)^2] (rows of lo/hi)."""
        from ._kernels import union_dist_sq

        lo = np.ascontiguousarray(lo, dtype=np.float64)
        hi = np.ascontiguousarray(hi, dtype=np.float64)
        v = np.empty(lo.shape[0])
        e = np.empty(lo.shape[0])
        union_dist_sq(self.law, self.mu, self.sig, self.relu, self.p0, self.lb_reach, lo, hi, v, e)
        self.evals += lo.shape[0]
        return np.maximum(v - e, 0.0)

    def point(self, N, s, m):
        """``(F, err, dF/ds, dF/dm, gradient err)`` of the real-offset grid ``m + s k`` (``k = 0..N``) at each
        ``(s_i, m_i)`` in one pass over the cells (:func:`._convex2d.point_value_grad`)."""
        from ._convex2d import point_value_grad

        out = point_value_grad(self.law, self.mu, self.sig, self.relu, self.p0, self.full_reach, N, s, m)
        self.evals += out[0].size
        return out

    def value(self, levels):
        """(value, error bound) of the exact MSE of each row of sorted levels."""
        from ._kernels import union_dist_sq

        lv = np.ascontiguousarray(levels, dtype=np.float64)
        v = np.empty(lv.shape[0])
        e = np.empty(lv.shape[0])
        union_dist_sq(self.law, self.mu, self.sig, self.relu, self.p0, self.full_reach, lv, lv, v, e)
        self.evals += lv.shape[0]
        return v, e


def zero_point_ranges(L: "_Law", N: int, widen: float = 1e-9):
    """Scales at which each zero-point can be optimal: arrays ``A, B`` (length ``N + 1``) such that
    for every ``s > 0`` outside ``[A_z, B_z]`` some other zero-point has a strictly smaller MSE
    (``A_z > B_z``: never optimal).

    Identity (docs/affine.md, section 2c): with ``pi(a) = E[(xi - a)_+]`` and ``lam(c) = E[(c - xi)_+]``,
    ``F_{z+1}(s) - F_z(s) = 2 s [pi(s (N - 1/2 - z)) - lam(-s (z + 1/2))]``: the bracket increases with
    ``z`` (``pi`` falls, ``lam`` rises), so ``z -> F_z(s)`` is discretely convex and ``z`` is optimal
    at ``s`` iff ``g_{z-1}(s) <= 0 <= g_z(s)``.

    * Normal / Laplace ``(mu, sig)``: ``lam(c) = pi(2 mu - c)`` (symmetry about ``mu``) and ``pi`` is
      strictly decreasing, so ``g_z(s) >= 0`` iff ``z >= c(s) = (N - 1)/2 - mu/s``: ``z`` is optimal iff
      ``(N - 1)/2 - z <= mu/s <= (N + 1)/2 - z`` (no lower limit at ``z = N``, no upper one at ``z = 0``);
      ``z*(s) = clip(ceil(c(s)), 0, N)`` is monotone in ``s``.
    * ReLU laws (``xi >= 0``): ``lam(c) = 0`` for ``c < 0`` and ``pi > 0``: ``F_{z+1} > F_z`` at every
      scale, ``z = 0`` is the only optimal zero-point.

    The ends are widened by the relative ``widen`` (rounding of ``mu / alpha``); widening only keeps more."""
    A = np.full(N + 1, np.inf)
    B = np.zeros(N + 1)
    if L.relu:
        A[0], B[0] = 0.0, np.inf
        return A, B
    mu = float(L.mu)
    z = np.arange(N + 1, dtype=float)
    al = (N - 1) / 2 - z  # need al <= mu / s (not at z = N)
    be = al + 1.0         # need mu / s <= be (not at z = 0)
    al[-1] = -np.inf
    be[0] = np.inf
    if mu == 0.0:
        ok = (al <= 0) & (be >= 0)
        A[ok], B[ok] = 0.0, np.inf
        return A, B
    with np.errstate(divide="ignore"):
        if mu > 0:  # mu / s decreases from +inf to 0 as s grows
            hi = np.where(al <= 0, np.inf, mu / np.where(al > 0, al, 1.0))   # mu / s >= al
            lo = np.where(be > 0, np.where(np.isinf(be), 0.0, mu / np.where(be > 0, be, 1.0)), np.inf)
        else:       # mu / s increases from -inf to 0
            lo = np.where(al < 0, np.where(np.isinf(al), 0.0, mu / np.where(al < 0, al, -1.0)), np.inf)
            hi = np.where(be >= 0, np.inf, mu / np.where(be < 0, be, -1.0))
    ok = (lo <= hi) & np.isfinite(lo)
    A[ok] = lo[ok] * (1 - widen)
    B[ok] = hi[ok] * (1 + widen)
    return A, B


def _z_intervals(N, z, s1, s2):
    """lo, hi (B, N+1) of the level intervals (k - z) [s1, s2] for boxes (z, s1, s2)."""
    j = np.arange(N + 1)[None, :] - np.asarray(z)[:, None]
    s1 = np.asarray(s1, dtype=float)[:, None]
    s2 = np.asarray(s2, dtype=float)[:, None]
    if np.isfinite(s2).all():  # fast path: j >= 0 -> [j s1, j s2], j < 0 -> [j s2, j s1]
        jp = np.maximum(j, 0).astype(float)
        jn = np.minimum(j, 0).astype(float)
        return jp * s1 + jn * s2, jp * s2 + jn * s1
    with np.errstate(invalid="ignore"):
        a = j * s1
        b = j * s2
    a = np.where(j == 0, 0.0, a)
    b = np.where(j == 0, 0.0, b)
    return np.minimum(a, b), np.maximum(a, b)


def _zp_taylor_lb(L: "_Law", N, z, s1, s2):
    """Taylor lower bound of ``F_z(s) = MSE(s, z)`` on boxes ``{z} x [s1, s2]``:
    ``F_z(s) >= F_z(c) + F_z'(c) d + lam d^2 / 2`` with ``c`` the box centre, ``d = s - c``,
    ``|d| <= h = (s2 - s1) / 2`` and ``lam`` a lower bound of ``F_z''`` on the box
    (:func:`._convex2d.zp_curvature_lower`, numba kernel ``zp_taylor_terms``); minimized over ``d`` in closed form, minus the
    rounding bounds of the value and of the derivative (times ``h``)."""
    from ._convex2d import zp_taylor_terms

    out = np.full(np.shape(s1), -np.inf)
    if out.size == 0:
        return out
    c = 0.5 * (s1 + s2)
    h = 0.5 * (s2 - s1)
    v, e = L.value((np.arange(N + 1)[None, :] - z[:, None]) * c[:, None])
    g, ge, lam = zp_taylor_terms(L.law, L.mu, L.sig, L.relu, L.p0, N, z, s1, s2)
    pos = lam > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(pos, np.clip(-g / np.where(pos, lam, 1.0), -h, h), -np.sign(g) * h)
    out = v - e + g * d + 0.5 * lam * d * d - ge * h
    return np.where(np.isfinite(out), out, -np.inf)


def _engine_optimum(dist, bits, zs, symmetric, t0, rounds=0, evals=0, accept_ties=False):
    """Joint optimum from the risk engine's certified 1-D optimum ``min_s F_z(s)`` of each zero-point in
    ``zs`` (all others excluded at every scale: ranges, or the branch and bound); None when the engine
    cannot certify one of them (the caller then runs the hull certificate).  The global minimizer
    ``(z*, s*)`` has ``s*`` the global 1-D minimizer of ``F_{z*}``, so ``min_z min_s F_z`` over the
    survivors is the joint minimum; the certificate is the smallest 1-D ``risk_lower_bound``.
    ``accept_ties``: also accept a 1-D optimum whose scale the engine could not pin down because separate
    local minima tie within rounding (its ``risk_lower_bound`` still certifies the minimum value; its
    ``scale_error`` spans the tied minimizers and is reported)."""
    from ..risk import mse as engine_mse
    from ..risk import optimal_scale

    N = 2**bits - 1
    cands = []
    for z in zs:
        g = ShiftedGrid(bits, False, int(z))
        try:
            o = optimal_scale(dist, g)
        except ValueError:
            return None
        if not (math.isfinite(o.scale_error) and o.scale_error < 1e-6 * o.scale):
            if not (accept_ties and math.isfinite(o.scale_error) and math.isfinite(o.risk_lower_bound)
                    and o.risk_lower_bound <= o.risk):
                return None
        F_z = float(engine_mse(dist, np.array([o.scale]), g)[0])
        lb_z = min(float(o.risk_lower_bound) / math.pi**2, F_z * (1 - 1e-12))
        cands.append((F_z, int(z), float(o.scale), float(o.scale_error), lb_z))
    if symmetric:
        cands += [(c[0], N - c[1], c[2], c[3], c[4]) for c in cands if N - c[1] != c[1]]
    cands.sort()
    F, z_star, s_star, err_star, _ = cands[0]
    ties = [c[1] for c in cands if c[0] <= F * (1 + 1e-12)]
    lbmin = min(c[4] for c in cands)
    scale_err = max([err_star] + [abs(c[2] - s_star) + c[3] for c in cands[1:] if c[0] <= F * (1 + 1e-12)])
    tied_scales = bool(scale_err >= 1e-6 * s_star)
    method = ("zero-points restricted to the scales where they can be optimal (closed-form ranges from "
              "F_{z+1} - F_z = 2 s [pi(s (N - 1/2 - z)) - lam(-s (z + 1/2))])"
              + (", then a branch and bound over (zero-point, scale interval) boxes with closed-form "
                 "union-distance and Taylor lower bounds" if rounds else "")
              + f"; {len(zs)} zero-point(s) left: the risk engine's certified 1-D optimum of each "
              "(quanttheory.risk.optimal_scale on the ShiftedGrid); MSE from the certified risk engine"
              + ("; separate local minima tie within rounding: the minimum value is certified, scale_error "
                 "spans the tied minimizers" if tied_scales else ""))
    return AffineOptimum(bits, "zero_point", s_star, z_star, -s_star * z_star, F, min(lbmin, F), scale_err,
                         scale_err * z_star, method,
                         extra={"surviving_zero_points": sorted({c[1] for c in cands}), "tied_zero_points": ties,
                                "scale_hull": (s_star - scale_err, s_star + scale_err), "rounds": rounds,
                                "bound_evaluations": evals, "seconds": time.perf_counter() - t0,
                                "convex_certified": True, "tied_scales": tied_scales,
                                "per_zero_point": [(c[1], c[2], c[0]) for c in cands]})


def optimal_affine(dist, bits, *, hull_rtol: float = 1e-3) -> AffineOptimum:
    """Certified global minimizer of ``E[(xi - s (clip(rint(xi/s) + z, 0, N) - z))^2]`` over ``s > 0``
    and integer zero-points ``z in 0..N`` (``N = 2**bits - 1``).

    Parameters
    ----------
    dist : Normal, Laplace or ReLU(...) law (any location and scale).
    bits : int, 1..8.
    hull_rtol : relative width at which the branch and bound stops bisecting.

    Returns
    -------
    AffineOptimum with ``form="zero_point"``; ``mse`` in data units squared,
    ``mse_lower_bound`` the certificate, ``extra["surviving_zero_points"]`` every
    zero-point that may hold a global minimizer.
    """
    t0 = time.perf_counter()
    dist = _check_law(dist)
    bits = _bits(bits)
    if not (0 < hull_rtol < 1e-2):
        raise ValueError("hull_rtol must be in (0, 1e-2)")
    N = 2**bits - 1
    L = _Law(dist)
    rms = math.sqrt(L.m2)
    zs = np.arange(N + 1)

    def values(z, s):
        z = np.asarray(z)
        s = np.asarray(s, dtype=float)
        lv = (np.arange(N + 1)[None, :] - z[:, None]) * s[:, None]
        return L.value(lv)

    if USE_ZP_RANGES:
        A, B = zero_point_ranges(L, N)
    else:  # previous search (benchmark baseline): every zero-point on every scale
        A, B = np.zeros(N + 1), np.full(N + 1, np.inf)
    symmetric = L.mu == 0.0 and not L.relu
    if USE_ZP_RANGES and ENGINE_ZS > 0:
        # one or two zero-points possible at all (ReLU laws: z = 0; laws symmetric about 0: the centred pair,
        # mirrors of each other): the 1-D certified optimum of each is the answer, no two-dimensional search
        act0 = np.flatnonzero(A <= B)
        reps = act0[act0 <= N - act0] if symmetric else act0
        if reps.size <= (ENGINE_ZS if N > 31 else 1):  # few levels: one engine call beats the search, two do not
            out = _engine_optimum(dist, bits, reps, symmetric, t0)
            if out is not None:
                return out
    # 1. incumbent: a log scan per zero-point (only at the scales where it can be optimal)
    scan = rms * np.geomspace(2.0 ** (-bits) / 8, 4.0, 25)
    Z, S = np.meshgrid(zs, scan, indexing="ij")
    near = (S >= A[:, None]) & (S <= B[:, None])
    if N > 31:  # many zero-points: only the one-sided ones and those near the centred grid (an incumbent)
        zc = np.rint(0.5 * N - L.mu / S)
        near &= (np.abs(Z - zc) <= 4) | (Z == 0) | (Z == N)
    if not near.any():
        near = (S >= A[:, None]) & (S <= B[:, None])
    Z, S = Z[near], S[near]
    v, e = values(Z.ravel(), S.ravel())
    i = int(np.argmin(v + e))
    best = float(v[i] + e[i])
    zb, sb = int(Z.ravel()[i]), float(S.ravel()[i])
    # many zero-points: a near-optimal incumbent makes the pruning effective from the first rounds:
    # bounded Brent in s for the best scanned zero-point and its neighbours (any attained value + error bound is valid)
    if N > 31 and USE_ZP_RANGES:
        # one Brent on the lower envelope min_z F_z(s) = F_{z*(s)}(s) (z*(s) from the ranges)
        def zstar(s):
            return int(np.flatnonzero((A <= s) & (s <= B))[0])

        s_b, _ = _brent(lambda s: float(np.sum(values([zstar(s)], [s]))), sb / 2, sb * 2, xtol=1e-4)
        vb = float(np.sum(values([zstar(s_b)], [s_b])))
        if vb < best:
            best, zb, sb = vb, zstar(s_b), s_b
    for zz in (range(max(zb - 2, 0), min(zb + 2, N) + 1) if N > 31 and not USE_ZP_RANGES else ()):
        s_b, _ = _brent(lambda s: float(np.sum(values([zz], [s]))), sb / 2, sb * 2, xtol=1e-6)
        vb = float(np.sum(values([zz], [s_b])))
        if vb < best:
            best, zb, sb = vb, zz, s_b
    # 2. bracket every zero-point that can be optimal: [A_z, s_lo] and [s_hi, B_z] provably worse than `best`
    act = np.flatnonzero(A <= B)
    zs, A, B = zs[act], A[act], B[act]
    # bounded ranges need no bracket: the box [A_z, B_z] itself is searched
    s_lo = np.where(A > 0, A, np.minimum(scan[0], B))
    s_hi = np.where(np.isfinite(B), B, np.maximum(scan[-1], A))
    for _ in range(200):
        need = s_lo > A
        if not need.any():
            break
        lb = L.lower(*_z_intervals(N, zs[need], A[need], s_lo[need]))
        bad = np.zeros(zs.size, dtype=bool)
        bad[need] = lb <= best * (1 + LB_RTOL)
        if not bad.any():
            break
        s_lo = np.where(bad, np.maximum(s_lo / 4, A), s_lo)
        s_lo = np.where(bad & (s_lo < 1e-300), A, s_lo)
    for _ in range(200):
        need = s_hi < B
        if not need.any():
            break
        lb = L.lower(*_z_intervals(N, zs[need], s_hi[need], B[need]))
        # zero-points whose upper tail cannot be excluded: all levels but 0 run off to infinity
        bad = np.zeros(zs.size, dtype=bool)
        bad[need] = lb <= best * (1 + LB_RTOL)
        if not bad.any():
            break
        s_hi = np.where(bad, np.minimum(s_hi * 4, B), s_hi)
    else:
        raise RuntimeError("could not bracket the optimal scale from above; please report")
    # 3. branch and bound over (z, [s1, s2])
    nint = 16 if N <= 31 else 4  # many zero-points: coarse first boxes, most zero-points go in the first rounds
    # a zero-point confined to a bounded range of scales starts with that range as one box (narrow for the
    # zero-points far from the centred grid: their bound is nearly exact and most go in the first round)
    nb = np.where((A > 0) & np.isfinite(B), 1, nint)
    bz = np.repeat(zs, nb)
    nbr = np.repeat(nb, nb)
    idx = np.arange(nbr.size) - np.repeat(np.cumsum(nb) - nb, nb)  # piece index within its zero-point
    t, t2 = idx / nbr, (idx + 1) / nbr
    lo_r, hi_r = np.repeat(s_lo, nb), np.repeat(s_hi, nb)
    pos = lo_r > 0
    ratio = hi_r / np.where(pos, lo_r, 1.0)
    b1 = np.where(pos, lo_r * ratio**t, hi_r * t)
    b2 = np.where(pos, lo_r * ratio**t2, hi_r * t2)
    if L.mu == 0.0 and not L.relu:
        # a law symmetric about 0 has MSE(s, z) = MSE(s, N - z): search z <= N - z only (the mirrors of
        # the surviving zero-points are added back below)
        half = bz <= N - bz
        bz, b1, b2 = bz[half], b1[half], b2[half]
    rounds = 0
    while True:
        rounds += 1
        lb = L.lower(*_z_intervals(N, bz, b1, b2))
        if (rounds > 1 or USE_ZP_RANGES) and N > 31:
            # second-order bound (its slack shrinks like the square of the box width); with few levels the
            # union bound is already tight (level intervals overlap only when N * width > 1)
            pre = (lb <= best * (1 + LB_RTOL)) & ((b2 - b1) < TAYLOR_RW * b1)
            lb[pre] = np.maximum(lb[pre], _zp_taylor_lb(L, N, bz[pre], b1[pre], b2[pre]))
        keep = lb <= best * (1 + LB_RTOL)
        bz, b1, b2, lb = bz[keep], b1[keep], b2[keep], lb[keep]
        mid = np.sqrt(b1 * b2)
        # upper bounds at the midpoints of the most promising boxes only (any attained value is valid)
        top = np.argsort(lb)[:16] if lb.size > 16 else np.arange(lb.size)
        v, e = values(bz[top], mid[top])
        j = int(np.argmin(v + e))
        if v[j] + e[j] < best:
            best = float(v[j] + e[j])
            zb, sb = int(bz[top][j]), float(mid[top][j])
        # (more than 32 levels: below, the hull certificate is cheaper than the engine's 1-D search)
        if USE_ZP_RANGES and ENGINE_ZS > 0 and N > 31 and np.unique(bz).size <= ENGINE_ZS:
            out = _engine_optimum(dist, bits, np.unique(bz), symmetric, t0, rounds, L.evals)
            if out is not None:
                return out
        wide = (b2 - b1) > hull_rtol * b1
        # stop when nothing is wide or the bounds can no longer separate the boxes (rounding floor)
        if not wide.any() or rounds >= 200:
            break
        bz = np.concatenate([bz[~wide], bz[wide], bz[wide]])
        b1n = np.concatenate([b1[~wide], b1[wide], mid[wide]])
        b2n = np.concatenate([b2[~wide], mid[wide], b2[wide]])
        b1, b2 = b1n, b2n
        if bz.size > 20000:
            break
    # 4. per surviving zero-point: convexity certificate on its hull (risk engine), else Brent in the hull;
    #    the MSE of the result from the certified risk engine
    from ..risk import mse as engine_mse
    from ..formats.regularizers import MSQE
    from ..risk.optimum import _convexity_certificate, _Curve

    # a law symmetric about 0 has MSE(s, z) = MSE(s, N - z) (x -> -x): certify one of each mirror pair
    cands = []
    for z in np.unique(bz):
        if symmetric and N - z < z and (N - z) in bz:
            continue
        sel = bz == z
        ha, hb = float(b1[sel].min()), float(b2[sel].max())
        g = ShiftedGrid(bits, False, int(z))
        conv = _convexity_certificate(_Curve(dist, g, MSQE), ha, hb)
        if conv is not None:
            s_r, err = float(conv[0]), float(conv[1])
        else:
            s_r, _ = _brent(lambda s: float(values([z], [s])[0][0]), ha, hb)
            err = max(s_r - ha, hb - s_r)
        cands.append((float(engine_mse(dist, np.array([s_r]), g)[0]), int(z), s_r, err, conv is not None))
    if symmetric:
        cands += [(c[0], N - c[1], c[2], c[3], c[4]) for c in cands if N - c[1] != c[1]]
    cands.sort()
    F, z_star, s_star, err_star, convex = cands[0]
    ties = [c[1] for c in cands if c[0] <= F * (1 + 1e-12)]
    # certificate: on a hull proven convex the minimum is the engine value at the certified root
    # (relative error <= 1e-12, plus |R'| err ~ 0); elsewhere the boxes' lower bounds
    cert = {c[1]: c[0] * (1 - 1e-11) for c in cands if c[4]}
    lb_other = [float(lb[bz == z].min()) for z in np.unique(bz) if int(z) not in cert]
    lbmin = min(list(cert.values()) + lb_other)
    if F - min(lbmin, F) > GAP_RTOL * F and USE_ZP_RANGES:
        # the boxes could not separate the local minima of F_z (a narrow law far from 0 has one near every
        # scale that puts a level on the mean, equal to ~1e-5 relative or to rounding; audit F4) and a hull
        # not proven convex was refined by Brent (a local minimum): the certified 1-D optimum of each
        # surviving zero-point from the risk engine (global in s) gives the joint minimum and its certificate
        zsv = np.unique(bz).astype(int)
        reps = zsv[zsv <= N - zsv] if symmetric else zsv
        out = _engine_optimum(dist, bits, reps, symmetric, t0, rounds, L.evals, accept_ties=True)
        if out is not None and out.mse <= F * (1 + 1e-12):
            out.extra["hull_fallback"] = True  # the branch and bound's hull was not certified
            return out
    hull = (float(b1.min()), float(b2.max()))
    # every global minimizer is within err of a candidate; candidates not tied are strictly worse only if
    # their certified minimum exceeds F: otherwise report the distance to them as well
    scale_err = max([err_star] + [abs(c[2] - s_star) + c[3] for c in cands[1:] if c[0] <= F * (1 + 1e-12)])
    method = ("certified branch and bound over (zero-point, scale interval) boxes with closed-form "
              "union-distance lower bounds; " + ("MSE curve proven strictly convex on the surviving hull, "
              "minimizer by bisection on the exact derivative (quanttheory.risk)" if convex else
              "Brent refinement in the surviving hull (scale_error = hull); NOT certified: the minimum may "
              "be a local one, mse_lower_bound is the box bound") +
              "; MSE from the certified risk engine on the ShiftedGrid")
    return AffineOptimum(bits, "zero_point", s_star, z_star, -s_star * z_star, F, min(lbmin, F), scale_err,
                         scale_err * z_star, method,
                         extra={"surviving_zero_points": sorted({int(z) for z in np.unique(bz)}
                                                       | ({N - int(z) for z in np.unique(bz)} if symmetric else set())),
                                "tied_zero_points": ties, "scale_hull": hull, "rounds": rounds,
                                "bound_evaluations": L.evals, "seconds": time.perf_counter() - t0,
                                "convex_certified": convex,
                                "per_zero_point": [(c[1], c[2], c[0]) for c in cands]})


def _brent(f, a, b, xtol=1e-12):
    """Bounded scalar minimization (scipy's bounded Brent); returns (x, f(x)), never worse than the ends' mid."""
    from scipy.optimize import minimize_scalar

    if not b > a:
        return a, f(a)
    r = minimize_scalar(f, bounds=(a, b), method="bounded", options={"xatol": xtol * b})
    return float(r.x), float(r.fun)


def _offset_levels(N, s, m):
    k = np.arange(N + 1)[None, :]
    return np.asarray(m, dtype=float)[:, None] + k * np.asarray(s, dtype=float)[:, None]


def _offset_mse_exact(dist, L: "_Law", bits, s, m) -> float:
    """Accurate MSE of the real-offset quantizer: the risk engine on the law shifted by -m (unsigned grid)
    for Normal/Laplace; Gauss-Legendre cells + closed-form tails (``_moments.point_mse``) for ReLU laws."""
    if not L.relu:
        from ..risk import mse as engine_mse

        shifted = (Normal if L.law == 0 else Laplace)(L.mu - m, L.sig)
        return float(engine_mse(shifted, np.array([s]), Grid(bits, signed=False))[0])
    from ._moments import point_mse

    N = 2**bits - 1
    return float(point_mse(L.law, L.mu, L.sig, True, L.p0, m + s * np.arange(N + 1)))


def _clusters(s1, s2, m1, m2):
    """Index arrays of the connected groups of touching boxes (union-find on rectangle overlap)."""
    n = s1.size
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tol_s = 1e-12 * float(np.max(s2)) if n else 0.0
    tol_m = 1e-12 * float(np.max(np.abs(np.concatenate([m1, m2])))) + 1e-300 if n else 0.0
    for i in range(n):
        ov = np.flatnonzero((s1 <= s2[i] + tol_s) & (s2 >= s1[i] - tol_s) & (m1 <= m2[i] + tol_m)
                            & (m2 >= m1[i] - tol_m))
        for j in ov:
            ri, rj = find(i), find(int(j))
            if ri != rj:
                parent[ri] = rj
    groups = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [np.array(g) for g in groups.values()]


def _second_order_lb(L: "_Law", N, s1, s2, c1, c2):
    """Taylor lower bound on (s, c) boxes: F(x) >= F(x0) + g.d + lam |d|^2 / 2 with x0 the centre,
    g the exact gradient and lam a lower bound of the Hessian's smallest eigenvalue over the box
    (``_convex2d.lambda_lower``; F is C^1 where no threshold crosses a ReLU atom, else -inf: no
    bound).  In (s, c = m + s N/2) coordinates the Hessian is J^T H J, J = [[1, 0], [-N/2, 1]]."""
    from ._convex2d import gradient_many, lambda_lower

    out = np.full(s1.size, -np.inf)
    ok = s1 > 0
    if not ok.any():
        return out
    a1, a2, b1, b2 = s1[ok], s2[ok], c1[ok], c2[ok]
    sc, cc = 0.5 * (a1 + a2), 0.5 * (b1 + b2)
    mcen = cc - sc * N / 2
    v, e = L.value(_offset_levels(N, sc, mcen))
    gs, gm, ge = gradient_many(L.law, L.mu, L.sig, L.relu, L.p0, N, sc, mcen)
    lam = lambda_lower(L.law, L.mu, L.sig, L.relu, L.p0, N, a1, a2, b1 - a2 * N / 2, b2 - a1 * N / 2)
    sv = np.linalg.svd(np.array([[1.0, 0.0], [-N / 2, 1.0]]), compute_uv=False)
    lam_t = np.where(lam >= 0, lam * sv[-1] ** 2, lam * sv[0] ** 2)
    g1 = gs - (N / 2) * gm  # d/ds at fixed c
    g2 = gm                 # d/dc
    h1, h2 = 0.5 * (a2 - a1), 0.5 * (b2 - b1)
    tot = v - e
    for g, h in ((g1, h1), (g2, h2)):
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(lam_t > 0, np.clip(-g / np.where(lam_t > 0, lam_t, 1.0), -h, h), -np.sign(g) * h)
        tot = tot + g * d + 0.5 * lam_t * d * d - ge * h
    out[ok] = np.where(np.isfinite(lam_t), tot, -np.inf)
    return out


def _window_lower_bound(L: "_Law", mean: float, sd: float, S: float, pieces: int = 256) -> float:
    """Lower bound of the real-offset MSE over every ``s >= S`` (any ``m``, any ``N``).

    For ``s >= S`` the open window ``(lo, hi) = (mean - S/2, mean + S/2)`` holds at most one level
    ``q`` and every other level is ``<= lo`` or ``>= hi``, so ``MSE >= min_q E[dist(xi, (-inf, lo] U
    {q} U [hi, inf))^2]``.  ``q`` is covered by intervals ``I_j`` (``pieces`` of them on ``mean +- 8 sd``,
    plus the remainders of the window); each gives the closed-form union-distance bound of
    ``(-inf, lo] U I_j U [hi, inf)`` with its rounding error subtracted (``L.lower``), and the minimum
    over ``j`` is the bound (a window without a level is dominated by any ``q``).  As ``S`` grows it
    tends to the law's variance, above the optimum of ``N + 1 >= 2`` levels.
    """
    lo, hi = mean - S / 2, mean + S / 2
    a, b = max(lo, mean - 8 * sd), min(hi, mean + 8 * sd)
    edges = np.linspace(a, b, pieces + 1) if b > a else np.array([lo, hi])
    edges = np.unique(np.concatenate([[lo], edges, [hi]]))
    q1, q2 = edges[:-1], edges[1:]
    n = q1.size
    lo_r = np.stack([np.full(n, -np.inf), q1, np.full(n, hi)], axis=1)
    hi_r = np.stack([np.full(n, lo), q2, np.full(n, np.inf)], axis=1)
    return float(L.lower(lo_r, hi_r).min())


def optimal_offset(dist, bits, *, box_rtol: float = 1e-3, max_boxes: int = 20000) -> AffineOptimum:
    """Global minimizer of ``E[(xi - m - s clip(rint((xi - m)/s), 0, N))^2]`` over ``s > 0`` and real ``m``.

    Two-dimensional branch and bound over boxes ``[s1, s2] x [m1, m2]`` (level ``k`` in
    ``[m1 + k s1, m2 + k s2]``, closed-form union-distance lower bounds), on a search
    region bounded as described in the module docstring; boxes are bisected along the
    side that moves the levels most (``N (s2 - s1)`` against ``m2 - m1``) until both are
    below ``box_rtol * s``; from the second round on, the bound is also the Taylor bound
    ``F(x0) + g.d + lam |d|^2 / 2`` (exact gradient at the centre, interval-Hessian eigenvalue
    bound ``lam``), which is second order in the box size.  The surviving boxes are grouped
    into connected clusters; on each cluster's rectangle a convexity certificate (interval
    Hessian > 0) makes the minimizer there unique and Newton's method on the exact gradient
    finds it, with ``|x - x*| <= |grad F(x)| / lam`` and ``F(x) - F(x*) <= |grad F|^2 / (2 lam)``.
    ``mse_lower_bound``: the smallest cluster bound (no ``(s, m)`` has a smaller MSE);
    ``scale_error`` / ``offset_error``: distance to every possible global minimizer (mirror
    optima of symmetric laws are listed in ``extra["per_cluster"]`` and widen the errors).
    Uncertified clusters (e.g. a threshold crossing a ReLU atom) fall back to Nelder-Mead and
    the clusters' box lower bounds.
    """
    from scipy.optimize import minimize

    from ._moments import seg_sq

    t0 = time.perf_counter()
    dist = _check_law(dist)
    bits = _bits(bits)
    N = 2**bits - 1
    L = _Law(dist)
    mean = float(dist.mean())
    sd = math.sqrt(max(float(dist.var()), 0.0)) or math.sqrt(L.m2)

    def ub(s, m):
        v, e = L.point(N, s, m)[:2]
        return v + e

    # 1. incumbent: scan (s, m) and Nelder-Mead on the exact MSE
    # Normal / Laplace: at every scale the optimal centre c = m + s N / 2 lies within s / 2 of mu
    # (offset_centre_wedge); the search is confined to that wedge
    wedge = USE_ZP_RANGES and not L.relu
    ss = sd * np.geomspace(2.0 ** (-bits) / 4, 4.0, 25)
    relu_scan = L.relu and USE_FAST_OFFSET
    dl = np.linspace(-1.0, 1.0, 9 if (wedge or relu_scan) else 33)
    S, D = np.meshgrid(ss, dl, indexing="ij")
    if relu_scan:  # ReLU laws: every minimizer has m >= -s/2 (docs/affine_offset.md); m from -s/2 to the mean
        M = -S / 2 + (D + 1) / 2 * (mean + S / 2)
    else:
        M = (L.mu + D * S / 2 if wedge else mean + D * S * N / 2) - S * N / 2
    vals = ub(S.ravel(), M.ravel())
    i = int(np.argmin(vals))
    best = float(vals[i])
    x0 = np.array([S.ravel()[i], M.ravel()[i]])

    def f(p):
        s, m = p
        if s <= 0:
            return math.inf
        return float(ub([s], [m])[0])


    def seg(a, b, c):
        v, e = seg_sq(L.law, L.mu, L.sig, L.relu, a, b, c)
        return float(v) - float(e)

    def atom(c):  # the ReLU atom's squared distance to a single point c
        return L.p0 * c * c

    # 2. s <= s_hi: a window of width S around the mean holds at most one level; one half holds none
    def lb_big(S_):
        lo, mid, hi = mean - S_ / 2, mean, mean + S_ / 2
        out = []
        for a, b in ((lo, mid), (mid, hi)):
            c = 0.5 * (a + b)
            t = seg(a, c, a) + seg(c, b, b)
            if L.p0 > 0 and a <= 0.0 < b:
                t += L.p0 * min(0.0 - a, b - 0.0) ** 2
            out.append(t)
        return min(out)

    # the tent bound above keeps only one half of the window: when half the law's mass carries as much
    # error as the optimum (Laplace / ReLU laws at 1 bit: E[X^2; X > 0] = 1 = MSE* for Laplace(0, 1)) it
    # never exceeds the incumbent; the window bound (_window_lower_bound) tends to the variance
    def lb_window(S_):
        return _window_lower_bound(L, mean, sd, S_)

    s_hi = float(ss[-1])
    for _ in range(200):
        if lb_big(s_hi) > best * (1 + LB_RTOL) or lb_window(s_hi) > best * (1 + LB_RTOL):
            break
        s_hi *= 2
    else:
        raise RuntimeError("could not bound the scale from above; please report")
    # 3. offsets: m >= m_hi puts every level above m_hi; m <= m_lo every level below m_lo + N s_hi
    def lb_above(Mv):  # all levels >= Mv
        return seg(-np.inf, Mv, Mv) + (atom(Mv) if Mv > 0 else 0.0)

    def lb_below(Mv):  # all levels <= Mv
        return seg(Mv, np.inf, Mv) + (atom(Mv) if Mv < 0 else 0.0)

    step = sd
    m_hi = mean
    while lb_above(m_hi) <= best * (1 + LB_RTOL):
        m_hi += step
        step *= 2
    step = sd
    m_lo = mean - N * s_hi
    while lb_below(m_lo + N * s_hi) <= best * (1 + LB_RTOL):
        m_lo -= step
        step *= 2
    if USE_FAST_OFFSET:
        out = _offset_fast(dist, L, bits, x0, s_hi, m_lo, m_hi, float(ss[0]) / 4, t0)
        if out is not None:
            return out
    # 4. branch and bound over (s, c) with the centre c = m + s N / 2 (level k = c + (k - N/2) s: the
    #    level intervals of a box are half as wide as in (s, m)); region: s in [0, s_hi],
    #    m in [m_lo, m_hi] -> c in [m_lo, m_hi + s_hi N / 2]
    ns, nc = 24, 24
    s_min = float(ss[0]) / 4
    se = np.concatenate([[0.0], s_min * (s_hi / s_min) ** (np.arange(ns) / (ns - 1))])
    if wedge:  # per scale box, the centres [mu - s2 / 2, mu + s2 / 2] in 4 pieces
        nc = 4
        tt = np.arange(nc + 1) / nc
        s1, s2 = np.repeat(se[:-1], nc), np.repeat(se[1:], nc)
        hw = 0.5 * s2 * (1 + WEDGE_WIDEN)
        c1 = L.mu - hw + 2 * hw * np.tile(tt[:-1], ns)
        c2 = L.mu - hw + 2 * hw * np.tile(tt[1:], ns)
    else:
        ce = np.linspace(m_lo, m_hi + s_hi * N / 2, nc + 1)
        S1, C1 = np.meshgrid(se[:-1], ce[:-1], indexing="ij")
        S2, C2 = np.meshgrid(se[1:], ce[1:], indexing="ij")
        s1, s2, c1, c2 = S1.ravel(), S2.ravel(), C1.ravel(), C2.ravel()
    j = np.arange(N + 1)[None, :] - N / 2
    jp, jn = np.maximum(j, 0.0), np.minimum(j, 0.0)
    rounds = 0
    capped = False
    while True:
        rounds += 1
        lo = c1[:, None] + jp * s1[:, None] + jn * s2[:, None]
        hi = c2[:, None] + jp * s2[:, None] + jn * s1[:, None]
        lb = L.lower(lo, hi)
        if rounds > 1:
            lb = np.maximum(lb, _second_order_lb(L, N, s1, s2, c1, c2))
        # outside m in [m_lo, m_hi] nothing can win (step 3): such boxes may be dropped, but keeping
        # them is harmless; drop only by the bound
        keep = lb <= best * (1 + LB_RTOL)
        if wedge:  # boxes outside the wedge |c - mu| <= s / 2 hold no minimizer
            hw = 0.5 * s2 * (1 + WEDGE_WIDEN) + 1e-12 * abs(L.mu)
            keep &= (c1 <= L.mu + hw) & (c2 >= L.mu - hw)
        s1, s2, c1, c2, lb = s1[keep], s2[keep], c1[keep], c2[keep], lb[keep]
        sc, cc = 0.5 * (s1 + s2), 0.5 * (c1 + c2)
        v = ub(sc, cc - sc * N / 2)
        jb = int(np.argmin(v))
        if v[jb] < best:
            best, x0 = float(v[jb]), np.array([sc[jb], cc[jb] - sc[jb] * N / 2])
        ws, wc = N / 2 * (s2 - s1), c2 - c1
        tol = box_rtol * np.maximum(sc, s_min)
        split_s = (ws >= wc) & (ws > tol)
        split_c = (~split_s) & (wc > tol)
        if not (split_s.any() or split_c.any()) or rounds >= 400:
            break
        if s1.size > max_boxes:
            capped = True
            break
        rest = ~(split_s | split_c)
        s1n = np.concatenate([s1[rest], s1[split_s], sc[split_s], s1[split_c], s1[split_c]])
        s2n = np.concatenate([s2[rest], sc[split_s], s2[split_s], s2[split_c], s2[split_c]])
        c1n = np.concatenate([c1[rest], c1[split_s], c1[split_s], c1[split_c], cc[split_c]])
        c2n = np.concatenate([c2[rest], c2[split_s], c2[split_s], cc[split_c], c2[split_c]])
        s1, s2, c1, c2 = s1n, s2n, c1n, c2n
    # 5. the incumbent (it lies in a surviving box or beats them all)
    nm = (float(x0[0]), float(x0[1]))
    # 6. clusters of surviving boxes (every global minimizer lies in one); on each cluster's rectangle a
    #    convexity certificate (interval Hessian) makes the minimizer unique there: Newton on the exact
    #    gradient from the cluster's best point, |x - x*| <= |grad F(x)| / lam,
    #    F(x) - F(x*) <= |grad F(x)|^2 / (2 lam); uncertified clusters keep their box lower bound
    from ._convex2d import certify, gradient, hessian

    m1b, m2b = c1 - s2 * N / 2, c2 - s1 * N / 2  # (s, m) bounding rectangle of each box
    clusters = _clusters(s1, s2, m1b, m2b)
    cand = []  # (F, s, m, lower bound, error, certified)
    for idx in clusters:
        sa, sb_ = float(s1[idx].min()), float(s2[idx].max())
        ma, mb = float(m1b[idx].min()), float(m2b[idx].max())
        lam = certify(L.law, L.mu, L.sig, L.relu, L.p0, N, sa, sb_, ma, mb) if sa > 0 else None
        if sa <= nm[0] <= sb_ and ma <= nm[1] <= mb:
            x = np.array(nm)
        else:
            scn, ccn = 0.5 * (s1[idx] + s2[idx]), 0.5 * (c1[idx] + c2[idx])
            vv = ub(scn, ccn - scn * N / 2)
            jb = int(np.argmin(vv))
            x = np.array([scn[jb], ccn[jb] - scn[jb] * N / 2])
        if lam is None:
            r = minimize(f, x, method="Nelder-Mead", options={"xatol": 1e-10 * x[0], "fatol": 0.0, "maxiter": 300})
            if r.fun < f(x):
                x = np.array(r.x)
            Fx = _offset_mse_exact(dist, L, bits, float(x[0]), float(x[1]))
            cand.append((Fx, float(x[0]), float(x[1]), min(float(lb[idx].min()), Fx),
                         (sb_ - sa, mb - ma), False))
            continue
        for _ in range(8):
            g = np.array(gradient(L.law, L.mu, L.sig, L.relu, L.p0, N, x[0], x[1]))
            try:
                xn = x - np.linalg.solve(hessian(L.law, L.mu, L.sig, L.relu, N, x[0], x[1]), g)
            except np.linalg.LinAlgError:
                break
            if not (sa <= xn[0] <= sb_ and ma <= xn[1] <= mb):
                break
            x = xn
        g = np.array(gradient(L.law, L.mu, L.sig, L.relu, L.p0, N, x[0], x[1]))
        gn = float(np.hypot(*g))
        Fx = _offset_mse_exact(dist, L, bits, float(x[0]), float(x[1]))
        err = gn / lam + 4 * 2.0**-52 * max(abs(x[0]), abs(x[1]))
        # engine / Gauss-Legendre values are accurate to 1e-12 relative
        cand.append((Fx, float(x[0]), float(x[1]), Fx * (1 - 1e-12) - gn * gn / (2 * lam), (err, err), True))
    cand.sort()
    F, s_star, m_star, _, (s_err, m_err), certified = cand[0]
    lbmin = min(c[3] for c in cand)
    # another cluster whose lower bound is below F may hold the minimizer: widen the errors to it
    for c in cand[1:]:
        if c[3] <= F:
            s_err = max(s_err, abs(c[1] - s_star) + c[4][0])
            m_err = max(m_err, abs(c[2] - m_star) + c[4][1])
            certified = certified and c[5]
    certified = certified and all(c[5] for c in cand if c[3] <= F)
    method = ("certified two-dimensional branch and bound over (scale, centre) boxes with closed-form "
              "union-distance lower bounds; "
              + ("MSE proven strictly convex on the rectangle holding every surviving box (interval Hessian), "
                 "Newton on the exact gradient: |x - x*| <= |grad F| / lambda; " if certified else
                 "Nelder-Mead refinement (no convexity certificate: the gap is the box bound); ")
              + "MSE from " + ("the certified risk engine (law shifted by -m, unsigned grid)" if not L.relu else
                               "Gauss-Legendre cells and closed-form tails"))
    if capped:
        method += f"; stopped at {max_boxes} boxes (the certificate gap is wider)"
    return AffineOptimum(bits, "offset", s_star, None, m_star, F, lbmin, s_err, m_err, method,
                         extra={"boxes": int(lb.size), "rounds": rounds, "bound_evaluations": L.evals,
                                "convexity_certified": certified, "clusters": len(clusters),
                                "per_cluster": [(c[1], c[2], c[0], c[3], c[5]) for c in cand],
                                "region": {"s_hi": s_hi, "m_lo": m_lo, "m_hi": m_hi},
                                "seconds": time.perf_counter() - t0})


_FAST_LOG: list = []  # why the fast offset search gave up (diagnostics, last entries)


def _newton_sc(L: "_Law", N, s, c, iters=40):
    """Damped Newton on the exact gradient / Hessian of F(s, c) (c = m + s N / 2) from (s, c); returns
    (s, c, converged).  Steps that do not decrease F are halved; a Hessian that is not positive
    definite falls back to a gradient step (scaled coordinates)."""
    from ._convex2d import gradient, hessian

    kap = max(N / 2, 0.5)
    J = np.array([[1.0, 0.0], [-N / 2, 1.0]])

    def val(s_, c_):
        return float(L.point(N, [s_], [c_ - s_ * N / 2])[0][0])

    f = val(s, c)
    for _ in range(iters):
        m = c - s * N / 2
        g = J.T @ np.array([x[0] for x in L.point(N, [s], [m])[2:4]])
        H = J.T @ hessian(L.law, L.mu, L.sig, L.relu, N, s, m) @ J
        try:
            ev = np.linalg.eigvalsh(H)
            step = -np.linalg.solve(H, g) if ev[0] > 1e-14 * abs(ev[1]) else None
        except np.linalg.LinAlgError:
            step = None
        if step is None:
            D = np.array([1 / kap**2, 1.0])
            step = -D * g / max(abs(ev[1]), 1e-300)
        if abs(step[0]) <= 1e-15 * s and abs(step[1]) <= 1e-15 * (abs(c) + s):
            break  # converged to rounding: no line search on noise
        t = 1.0
        for _ in range(30):
            sn, cn = s + t * step[0], c + t * step[1]
            if sn > 0:
                fn = val(sn, cn)
                if fn <= f * (1 + 1e-14):
                    break
            t *= 0.5
        else:
            break
        done = abs(step[0]) * t <= 1e-13 * s and abs(step[1]) * t <= 1e-13 * (abs(c) + s)
        s, c, f = sn, cn, fn
        if done:
            break
    gy = np.abs(J.T @ np.array(gradient(L.law, L.mu, L.sig, L.relu, L.p0, N, s, c - s * N / 2)))
    ok = gy[0] / kap + gy[1] <= 1e-7 * (f + 1e-300) / (s + 1e-300)
    return s, c, ok


def _box_qp_min(g1, g2, m11, m12, m22, h1, h2):
    """Exact minimum of ``q(d) = g.d + d^T M d / 2`` over ``|d1| <= h1, |d2| <= h2`` (arrays): the interior
    stationary point when ``M`` is positive definite and it lies in the box, else the minimum over the
    four edges (each a 1-D quadratic: its clipped stationary point and both ends)."""
    def q(d1, d2):
        return g1 * d1 + g2 * d2 + 0.5 * (m11 * d1 * d1 + 2 * m12 * d1 * d2 + m22 * d2 * d2)

    best = np.full(np.shape(g1), np.inf)
    det = m11 * m22 - m12 * m12
    pd = (m11 > 0) & (det > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1 = np.where(pd, (-g1 * m22 + g2 * m12) / np.where(pd, det, 1.0), 0.0)
        d2 = np.where(pd, (-g2 * m11 + g1 * m12) / np.where(pd, det, 1.0), 0.0)
    inb = pd & (np.abs(d1) <= h1) & (np.abs(d2) <= h2)
    best = np.where(inb, q(d1, d2), best)
    for e in (-1.0, 1.0):
        # edges d1 = e h1 (free d2) and d2 = e h2 (free d1)
        a1 = e * h1
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(m22 > 0, np.clip(-(g2 + m12 * a1) / np.where(m22 > 0, m22, 1.0), -h2, h2), h2)
        best = np.minimum(best, np.minimum(q(a1, t), np.minimum(q(a1, h2), q(a1, -h2))))
        a2 = e * h2
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(m11 > 0, np.clip(-(g1 + m12 * a2) / np.where(m11 > 0, m11, 1.0), -h1, h1), h1)
        best = np.minimum(best, q(t, a2))
    return best


def _offset_taylor_lb(L: "_Law", N, s1, s2, c1, c2, cont=False, anchor=None):
    """Second-order lower bound of F on (s, c) boxes in the scaled coordinates ``y = (kappa s, c)``:
    ``F(y0 + d) = F(y0) + g.d + d^T H(zeta) d / 2`` with ``zeta`` in the box and
    ``H(zeta) >= H0 - diag(u_ss + u_sc, u_cc + u_sc)`` in the quadratic-form sense (``|H - H0| <= U``
    elementwise, :func:`._convex2d.hessian_bounds_sc`; ``2 |d1 d2| <= d1^2 + d2^2``); the quadratic is
    minimized exactly over the box (:func:`_box_qp_min`), minus the rounding bounds of the value and of
    the gradient (times the half-widths).  Anisotropic: a narrow valley costs no more than a round one."""
    from ._convex2d import anchor_kappa
    from ._convex2d import hessian_bounds_sc_nb as hessian_bounds_sc

    an, kap = anchor_kappa(N, anchor)
    sc, cc = 0.5 * (s1 + s2), 0.5 * (c1 + c2)
    mcen = cc - sc * an
    v, e, gs, gm, ge = L.point(N, sc, mcen)
    cont = bool(cont and L.relu and L.p0 > 0)
    lam, H0, U = hessian_bounds_sc(L.law, L.mu, L.sig, L.relu, L.p0, N, s1, s2, c1, c2, cont_only=cont,
                                   anchor=an)
    atom_lb = 0.0
    if cont:
        # ReLU: F = F_cont + G with the atom term G = p0 dist(0, levels)^2 (not C^1 where a threshold
        # crosses 0); the Taylor bound is applied to F_cont, G is bounded by p0 dist(0, U)^2 with U the
        # union of the box's level intervals
        k0 = np.clip(np.rint(-mcen / sc), 0, N)
        d0 = mcen + k0 * sc
        v = v - L.p0 * d0 * d0
        gm = gm - 2 * L.p0 * d0
        gs = gs - 2 * L.p0 * k0 * d0
        jj = np.arange(N + 1)[None, :] - an
        lo = c1[:, None] + np.maximum(jj, 0) * s1[:, None] + np.minimum(jj, 0) * s2[:, None]
        hi = c2[:, None] + np.maximum(jj, 0) * s2[:, None] + np.minimum(jj, 0) * s1[:, None]
        dist0 = np.min(np.maximum(np.maximum(lo, -hi), 0.0), axis=1)
        atom_lb = L.p0 * dist0 * dist0 * (1 - 1e-15)
        e = e + 4 * 2.0**-52 * L.p0 * d0 * d0
    g1 = (gs - an * gm) / kap  # d/dy1 = (d/ds at fixed c) / kappa
    g2 = gm                         # d/dc
    h1, h2 = 0.5 * (s2 - s1) * kap, 0.5 * (c2 - c1)
    m11 = H0[0] - U[0] - U[1]
    m22 = H0[2] - U[2] - U[1]
    with np.errstate(invalid="ignore"):
        qmin = _box_qp_min(g1, g2, m11, H0[1], m22, h1, h2)
    tot = v - e + qmin - ge * (1 + an) / kap * h1 - ge * h2 + atom_lb
    return np.where(np.isfinite(lam) & np.isfinite(tot), tot, -np.inf)


def _cut_out(s1, s2, c1, c2, rect):
    """Boxes minus the rectangle ``rect = (a1, a2, b1, b2)``: each box that overlaps it is cut along
    the rectangle's edges into up to 9 pieces and the piece inside is dropped (the union of the
    returned boxes is the union of the given ones minus the open rectangle's interior part)."""
    a1, a2, b1, b2 = rect
    ov = (s1 < a2) & (s2 > a1) & (c1 < b2) & (c2 > b1)
    if not ov.any():
        return s1, s2, c1, c2
    x1, x2, y1, y2 = s1[ov], s2[ov], c1[ov], c2[ov]
    sx = [(x1, np.minimum(x2, a1)), (np.maximum(x1, a1), np.minimum(x2, a2)), (np.maximum(x1, a2), x2)]
    sy = [(y1, np.minimum(y2, b1)), (np.maximum(y1, b1), np.minimum(y2, b2)), (np.maximum(y1, b2), y2)]
    out = [[s1[~ov]], [s2[~ov]], [c1[~ov]], [c2[~ov]]]
    for i, (p1, p2) in enumerate(sx):
        for j, (q1, q2) in enumerate(sy):
            if i == 1 and j == 1:
                continue
            ok = (p2 > p1) & (q2 > q1)
            for lst, arr in zip(out, (p1, p2, q1, q2)):
                lst.append(arr[ok])
    return tuple(np.concatenate(lst) for lst in out)


def _offset_fast(dist, L: "_Law", bits, x0, s_hi, m_lo, m_hi, s_min, t0, max_boxes=60000, max_rounds=100):
    """Real-offset optimum: Newton incumbent, convex rectangle around it, branch and bound outside it.

    1. Damped Newton on the exact gradient / Hessian (:func:`_newton_sc`) from the scan's best point.
    2. Rectangle ``R = [s* -+ h / kappa] x [c* -+ h]`` (``h = rho s*``, largest of rho = 0.1, 0.03, ...)
       on which :func:`._convex2d.lambda_lower_sc` proves ``lam > 0``: on ``R``,
       ``F >= F(x*) - |grad F(x*)|^2 / (2 lam)`` and every minimizer in ``R`` is within ``|grad| / lam``.
    3. Branch and bound over (s, c) boxes of the search region (Normal / Laplace: the half wedge
       ``mu <= c <= mu + s / 2``, the other half by the mirror ``c -> 2 mu - c``; ReLU laws: the
       bounded region of :func:`optimal_offset`) outside ``R``: union-distance and second-order
       (:func:`_offset_taylor_lb`) bounds; a box is closed when its bound is at least
       ``F* (1 - OFFSET_GAP_RTOL)`` or it lies in ``R``; a box centre better than the incumbent
       restarts step 1-2 from it (the old rectangle keeps its bound).
    Returns None (caller runs the previous search) when Newton does not converge, no rectangle is
    certified or the caps are reached."""
    from ._convex2d import anchor_kappa, offset_taylor_lb_nb

    N = 2**bits - 1
    sym = not L.relu
    # box coordinates (s, c = m + an s): the grid's centre for Normal / Laplace (mirror symmetry), the
    # lowest level for ReLU laws (their mass sits at 0, where the lowest levels are: a box's lowest
    # level intervals are then the narrow ones)
    an, kap = anchor_kappa(N, None if sym else OFFSET_RELU_ANCHOR * N)
    mu = float(L.mu)
    gap = OFFSET_GAP_RTOL
    rects = []  # (s1, s2, c1, c2, lower bound, s*, c*, F*, |g|/lam)

    def relu_floor(s1, s2):  # ReLU laws: m >= -s/2, i.e. c >= (an - 1/2) s, on the box's scales (widened)
        f = np.minimum((an - 0.5) * s1, (an - 0.5) * s2)
        return f - WEDGE_WIDEN * np.abs(f) - 1e-12 * abs(m_hi)

    def incumbent(s, c):  # c = m + an s
        s, c, ok = _newton_sc(L, N, s, c + (N / 2 - an) * s)  # Newton in centre coordinates
        if not ok:
            return None
        if sym and c < mu:
            c = 2 * mu - c
        c = c - (N / 2 - an) * s
        v, e = L.point(N, [s], [c - s * an])[:2]
        from ._convex2d import gradient, hessian_bounds_sc_nb

        gsm = np.array(gradient(L.law, L.mu, L.sig, L.relu, L.p0, N, s, c - s * an))
        gy = np.array([(gsm[0] - an * gsm[1]) / kap, gsm[1]])
        gn = float(np.hypot(*gy)) + 1e-13 * float(np.abs(gsm).sum())
        # the incumbent's MSE from the certified engine (relative error <= 1e-12); the closed-form
        # value's own bound e is far more conservative
        Fx = min(_offset_mse_exact(dist, L, bits, s, c - s * an), float(v[0] + e[0]))
        for rho in (0.2, 0.1, 0.03, 0.01, 0.003, 0.001):
            h = rho * s
            lam = float(hessian_bounds_sc_nb(L.law, L.mu, L.sig, L.relu, L.p0, N, [s - h / kap], [s + h / kap],
                                        [c - h], [c + h], anchor=an)[0][0])
            if lam > 0 and gn / lam < 0.5 * h:
                lbR = Fx * (1 - 1e-12) - gn * gn / (2 * lam)
                return (s - h / kap, s + h / kap, c - h, c + h, lbR, s, c, Fx * (1 + 1e-12), gn / lam)
        return None

    # starts: the scan's best point, and the same scale with the lowest level on the atom (ReLU laws:
    # m = 0) or the grid centred on mu (Normal / Laplace)
    sx = float(x0[0])
    starts = [(sx, float(x0[1]) + sx * an), (sx, sx * an if L.relu else mu + 0.25 * sx)]
    # Newton from the better start only (the other when it fails): a better basin elsewhere is found
    # by the branch and bound below (a box centre better than the incumbent restarts from there)
    sv = L.point(N, [st[0] for st in starts], [st[1] - st[0] * an for st in starts])[0]
    R = None
    for st in sorted(starts, key=lambda st_: sv[starts.index(st_)]) if OFFSET_ONE_START else starts:
        Rs = incumbent(*st)
        if Rs is not None and (R is None or Rs[7] < R[7]):
            R = Rs
        if R is not None and OFFSET_ONE_START:
            break
    if R is None:
        _FAST_LOG.append("no incumbent rectangle")
        return None
    rects.append(R)
    best = R[7]
    # initial boxes
    ns = 24
    se = np.concatenate([[0.0], s_min * (s_hi / s_min) ** (np.arange(ns) / (ns - 1))])
    if sym:
        nc = 2
        tt = np.arange(nc + 1) / nc
        s1, s2 = np.repeat(se[:-1], nc), np.repeat(se[1:], nc)
        hw = 0.5 * s2 * (1 + WEDGE_WIDEN) + 1e-12 * abs(mu)
        c1 = mu + hw * np.tile(tt[:-1], ns)
        c2 = mu + hw * np.tile(tt[1:], ns)
    else:
        # ReLU laws (xi >= 0): a grid with m < -s/2 never uses its lowest level and m + s is strictly
        # better (the levels m + s .. m + N s stay, a level m + (N + 1) s is added), so every minimizer
        # has m >= -s/2, i.e. c >= s (N - 1) / 2; per scale box, c from there to m_hi + s2 N / 2
        nc = 8
        tt = np.arange(nc + 1) / nc
        s1, s2 = np.repeat(se[:-1], nc), np.repeat(se[1:], nc)
        lo_c = relu_floor(s1, s2)
        hi_c = m_hi + s2 * an
        c1 = lo_c + (hi_c - lo_c) * np.tile(tt[:-1], ns)
        c2 = lo_c + (hi_c - lo_c) * np.tile(tt[1:], ns)
    j = np.arange(N + 1)[None, :] - an
    jp, jn = np.maximum(j, 0.0), np.minimum(j, 0.0)
    closed_lb = math.inf  # smallest bound of a box closed below the incumbent (gap)
    near = []             # boxes closed with a bound below the incumbent: may hold near-ties
    rounds = 0
    taylor_boxes = 0
    while s1.size:
        rounds += 1
        if rounds > max_rounds or s1.size > max_boxes:
            _FAST_LOG.append(f"caps: round {rounds}, {s1.size} boxes")
            return None
        # boxes inside a certified rectangle are covered by its bound
        inside = np.zeros(s1.size, dtype=bool)
        if L.relu:  # below the line c = s (N - 1) / 2 (m < -s/2): no minimizer
            inside |= c2 < relu_floor(s1, s2)
        s1, s2, c1, c2 = s1[~inside], s2[~inside], c1[~inside], c2[~inside]
        for r in rects:  # cut the boxes that overlap a rectangle along its edges; drop the pieces inside
            s1, s2, c1, c2 = _cut_out(s1, s2, c1, c2, r[:4])
        lo = c1[:, None] + jp * s1[:, None] + jn * s2[:, None]
        hi = c2[:, None] + jp * s2[:, None] + jn * s1[:, None]
        lb = L.lower(lo, hi)
        cut = best * (1 - gap)
        tay = (lb < cut) & (s1 > 0)
        if tay.any():
            taylor_boxes += int(tay.sum())
            # _offset_taylor_lb in one numba loop; ReLU laws: where a threshold crosses the atom, the bound on
            # the continuous part plus the atom's
            lt = offset_taylor_lb_nb(L.law, L.mu, L.sig, L.relu, L.p0, L.full_reach, N, s1[tay], s2[tay],
                                     c1[tay], c2[tay], anchor=an)
            L.evals += lt.size
            lb[tay] = np.maximum(lb[tay], lt)
        shut = lb >= cut
        nb = shut & (lb < best)
        if nb.any():
            closed_lb = min(closed_lb, float(lb[nb].min()))
            near += list(zip(s1[nb], s2[nb], c1[nb], c2[nb]))
        keep = ~shut
        s1, s2, c1, c2, lb = s1[keep], s2[keep], c1[keep], c2[keep], lb[keep]
        if not s1.size:
            break
        # upper bounds at the centres of the most promising boxes: a better point restarts Newton
        sc, cc = 0.5 * (s1 + s2), 0.5 * (c1 + c2)
        top = np.argsort(lb)[:8]
        v, e = L.point(N, sc[top], cc[top] - sc[top] * an)[:2]
        jb = int(np.argmin(v + e))
        if v[jb] + e[jb] < best * (1 - 1e-9):
            Rn = incumbent(float(sc[top][jb]), float(cc[top][jb]))
            if Rn is None or Rn[7] >= best:
                _FAST_LOG.append("restart failed")
                return None
            rects.append(Rn)
            best = Rn[7]
            continue
        # split along the side that moves the levels most (kappa (s2 - s1) against c2 - c1; ReLU laws from
        # 6 bits: against OFFSET_RELU_SPLIT (c2 - c1), from 7 bits twice that: with the lowest level
        # anchored, the top levels that kappa measures carry little mass)
        ws, wc = kap * (s2 - s1), c2 - c1
        sp = ws >= wc * ((2 * OFFSET_RELU_SPLIT if N >= 127 else OFFSET_RELU_SPLIT) if not sym and N >= 63 else 1.0)
        s1n = np.concatenate([s1[sp], sc[sp], s1[~sp], s1[~sp]])
        s2n = np.concatenate([sc[sp], s2[sp], s2[~sp], s2[~sp]])
        c1n = np.concatenate([c1[sp], c1[sp], c1[~sp], cc[~sp]])
        c2n = np.concatenate([c2[sp], c2[sp], cc[~sp], c2[~sp]])
        s1, s2, c1, c2 = s1n, s2n, c1n, c2n
    # the best rectangle holds the incumbent; earlier rectangles are certified worse than their own
    # incumbent's bound (>= best unless near-ties)
    Rb = min(rects, key=lambda r: r[7])
    s_star, c_star = Rb[5], Rb[6]
    m_star = c_star - s_star * an
    F = _offset_mse_exact(dist, L, bits, s_star, m_star)
    lbs = [r[4] for r in rects] + ([closed_lb] if math.isfinite(closed_lb) else [])
    lbmin = min(min(lbs), F)
    err = Rb[8] + 4 * 2.0**-52 * (abs(s_star) * kap + abs(c_star))
    s_err, m_err = err / kap, err * (1 + an / kap)
    per = [(s_star, m_star, F, lbmin, True)]
    if sym and abs(c_star - mu) > err:
        m_mir = 2 * mu - c_star - s_star * N / 2
        per.append((s_star, m_mir, F, lbmin, True))
        m_err = abs(m_mir - m_star) + m_err
    # other rectangles / near-tie boxes whose bound is below F may hold a minimizer: widen the errors
    for r in rects:
        if r is not Rb and r[4] <= F:
            s_err = max(s_err, abs(r[5] - s_star) + r[8] / kap)
            m_err = max(m_err, abs(r[6] - r[5] * an - m_star) + r[8] * (1 + an / kap))
    for (a1, a2, b1, b2) in near:
        if True:
            s_err = max(s_err, abs(a1 - s_star), abs(a2 - s_star))
            ms = [b1 - a2 * an, b2 - a1 * an]
            m_err = max(m_err, *(abs(x - m_star) for x in ms))
            if sym:
                ms = [2 * mu - b2 - a2 * N / 2, 2 * mu - b1 - a1 * N / 2]
                m_err = max(m_err, *(abs(x - m_star) for x in ms))
    method = ("Newton on the exact gradient / Hessian; strict convexity proven on a rectangle around it "
              "(second-order interval Hessian in (scale, centre) coordinates): |x - x*| <= |grad F| / lambda; "
              "outside it a branch and bound over (scale, centre) boxes with closed-form union-distance and "
              "second-order Taylor lower bounds" + ("; centres restricted to the wedge |c - mu| <= s/2, "
                                                   "mirror c -> 2 mu - c" if sym else "")
              + "; MSE from " + ("the certified risk engine (law shifted by -m, unsigned grid)" if not L.relu
                                 else "Gauss-Legendre cells and closed-form tails"))
    return AffineOptimum(bits, "offset", s_star, None, m_star, F, lbmin, s_err, m_err, method,
                         extra={"boxes": 0, "rounds": rounds, "bound_evaluations": L.evals,
                                "taylor_boxes": taylor_boxes, "rectangles": len(rects),
                                "near_tie_boxes": len(near),
                                "convexity_certified": True, "clusters": len(per),
                                "per_cluster": [(p[0], p[1], p[2], p[3], p[4]) for p in per],
                                "region": {"s_hi": s_hi, "m_lo": m_lo, "m_hi": m_hi},
                                "seconds": time.perf_counter() - t0})
