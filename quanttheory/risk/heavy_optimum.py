"""Certified MSQE optimum for Student t laws, their ReLU and mixtures of these (issue 15, item 2).

Branch and bound over ``s`` with rigorous lower bounds of the MSQE curve
``R(s) = pi^2 F(s)`` on intervals ``[s1, s2]``, from the decomposition of the fast path
(:func:`quanttheory.risk.heavy.t_fast_expected_phi`, docs/heavy_tails.md):

    F(s) = s^2 P_ab(s)/12  +  s^2 E(s)  +  C(s),

* ``P_ab(s) = P(a < xi < b)`` with ``a = r_b s`` (ReLU: 0), ``b = r_t s``: the interval grows with
  ``s`` (``r_b <= 0 <= r_t``), so ``s^2 P_ab(s)/12 >= s1^2 P_ab(s1)/12``;
* ``C(s)`` = the two clipping tails ``E[(xi - b)^2; xi > b] + E[(xi - a)^2; xi < a]``, each
  non-increasing in ``s``: ``C(s) >= C(s2)``;
* ``E(s) = pi^-2 sum_m (-1)^m c'_m / m^2`` with ``c'_m = cos(m w mu) phi(m t) - tail_b,m - tail_a,m``;
  ``|sum_m ...phi(m t)/m^2| <= phi(t) pi^2/6`` (phi decreasing in t, ``t = 2 pi sig/s >= t2``) and two
  integrations by parts of each tail's cosine transform give
  ``|tail_e,m| <= (|p'(z_e)| + TV(p'; tail beyond z_e)) / (m t)^2`` (standardized), hence

      E(s) >= -[phi(t2)/6 + zeta(4) (B_a + B_b) / (pi^2 t2^2)],

  ``B_e`` = max of ``|p'|`` over the end's range on ``[s1, s2]`` plus the total variation of ``p'``
  beyond the innermost position of the end.

The bounds lose ``O((s2 - s1)/s)`` relative (first order) at any bit width, so the survivors
around the optimum have relative width ``~ sqrt((s2 - s1)/s)``.  Two brackets close the search:
``R(s) >= pi^2 C(s_min)`` for ``s <= s_min`` and ``R(s) >= pi^2 E[xi^2; |xi| < s_max/2]`` for
``s >= s_max`` (every ``|x| < s/2`` quantizes to the grid point 0).  Mixtures: the bound is the
weighted sum of the components' bounds.  The upper bound is the fast curve itself (relative error
<= 1e-13, tested), so intervals are discarded only when ``LB > R_best (1 + 1e-12)``.

Result: ``scale`` = Brent minimizer of the curve inside the surviving hull, ``scale_error`` = its
distance to the far end of the hull (a rigorous bound on ``|s - s_true|`` for every global
minimizer, up to the special functions' rounding: scipy ``betainc``/``kve`` assumed accurate to
1e-14 relative), ``risk_lower_bound`` = the smallest surviving interval bound.
"""

from __future__ import annotations

import math

import numpy as np

from .heavy import LAW_T, log_norm

ZETA4 = math.pi**4 / 90
SLACK = 1e-12       # relative: the fast curve's error allowance in the discard test
SF_ERR = 1e-14      # relative error allowance of betainc / kve in the lower bounds


def _t_components(law):
    """``[(weight, nu, mu, sig, relu), ...]`` if every component is a Student t (or its ReLU), else None."""
    comps = law.components() or ((1.0, law),)
    out = []
    for w, c in comps:
        if c.components():
            return None
        sk = c.shape_kernel()
        if sk is None or sk[0] != LAW_T:
            return None
        out.append((float(w), float(sk[1]), float(sk[2]), float(sk[3]), bool(sk[4])))
    return out


def _dp(nu, lnorm, z):
    """Standardized t density derivative ``p'(z) = -(nu + 1) z p(z) / (nu + z^2)``."""
    z = np.asarray(z, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        p = np.exp(lnorm - 0.5 * (nu + 1) * np.log1p(z * z / nu))
        return np.where(np.isinf(z), 0.0, -(nu + 1) * z * p / (nu + z * z))


def _max_abs_dp(nu, lnorm, z1, z2):
    """``max |p'|`` over ``[z1, z2]`` (|p'| is even, increasing in |z| up to z_i = sqrt(nu/(nu+2)))."""
    zi = math.sqrt(nu / (nu + 2))
    peak = abs(float(_dp(nu, lnorm, zi)))
    ends = np.maximum(np.abs(_dp(nu, lnorm, z1)), np.abs(_dp(nu, lnorm, z2)))
    inside = ((z1 <= zi) & (zi <= z2)) | ((z1 <= -zi) & (-zi <= z2))
    return np.where(inside, peak, ends)


def _tv_right(nu, lnorm, z):
    """Total variation of ``p'`` over ``[z, inf)``: p' increases on (-inf, -z_i], decreases on
    [-z_i, z_i], increases on [z_i, inf) to 0."""
    zi = math.sqrt(nu / (nu + 2))
    d = _dp(nu, lnorm, z)
    top = float(_dp(nu, lnorm, -zi))  # > 0
    return np.where(z >= zi, np.abs(d), np.where(z >= -zi, (d + top) + top, (top - d) + 3 * top))


def _t_lower(nu, mu, sig, relu, r_b, r_t, s1, s2):
    """Rigorous lower bound of ``F(s)`` (no pi^2) over each ``[s1[i], s2[i]]`` for one t component."""
    from scipy import special

    lnorm = log_norm(LAW_T, nu)
    half = 0.5 * nu

    def S0H(z):
        zz = np.where(np.isinf(z), 0.0, z * z)
        h = np.where(np.isinf(z), 0.5, 0.5 * special.betainc(0.5, half, zz / (nu + zz)))
        q = np.where(np.isinf(z), 0.0, 0.5 * special.betainc(half, 0.5, nu / (nu + zz)))
        small = h < 0.25
        return np.where(small, 0.5 - h, q), np.where(small, h, 0.5 - q)

    def tail(tau):  # E[(Z - tau)^2; Z > tau] lower bound (closed form minus its rounding allowance)
        a = np.abs(tau)
        s0, _ = S0H(a)
        with np.errstate(over="ignore", invalid="ignore"):
            p = np.exp(lnorm - 0.5 * (nu + 1) * np.log1p(a * a / nu))
            A = s0 * (nu + a * a * (nu - 2)) / (nu - 2)
            B = (nu + a * a) * p * a * (nu - 3) / ((nu - 1) * (nu - 2))
        u = A - B
        sc = np.abs(A) + np.abs(B)
        m2 = nu / (nu - 2) + tau * tau
        val = np.where(tau >= 0, u, m2 - u)
        err = SF_ERR * np.where(tau >= 0, sc, m2 + sc)
        return np.maximum(val - err, 0.0)

    with np.errstate(all="ignore"):
        # granular main term at s1
        za1 = np.full_like(s1, -mu / sig) if relu else (r_b * s1 - mu) / sig
        zb1 = (r_t * s1 - mu) / sig
        (s0a, ha), (s0b, hb) = S0H(np.abs(za1)), S0H(np.abs(zb1))
        across = (za1 <= 0) & (zb1 >= 0)
        pab = np.where(across, ha + hb, np.minimum(np.abs(s0a - s0b), np.abs(hb - ha)))
        pab_err = 4 * SF_ERR * np.where(across, ha + hb, 1.0)
        pab = np.where(zb1 > za1, np.maximum(pab - pab_err, 0.0), 0.0)
        gmain = s1 * s1 * pab / 12
        # clipping at s2
        zb2 = (r_t * s2 - mu) / sig
        clip = tail(zb2)
        za2 = np.full_like(s2, -mu / sig) if relu else (r_b * s2 - mu) / sig
        if not relu:
            clip = clip + tail(-za2)
        clip = sig * sig * clip
        # correction bound over [s1, s2]
        t2 = 2 * math.pi * sig / s2
        x = math.sqrt(nu) * t2
        phi = np.exp(np.log(special.kve(half, x)) - x + half * np.log(x) - math.lgamma(half)
                     - (half - 1) * math.log(2.0))
        phi = np.where(np.isfinite(phi), phi, 1.0)
        Bb = _max_abs_dp(nu, lnorm, zb1, zb2) + _tv_right(nu, lnorm, zb1)
        # left end: range [za2, za1] (za decreases with s); TV of p' over (-inf, za1] = TV over [-za1, inf)
        Ba = _max_abs_dp(nu, lnorm, np.minimum(za1, za2), np.maximum(za1, za2)) + _tv_right(nu, lnorm, -za1)
        ebound = phi / 6 + ZETA4 * (Ba + Bb) / (math.pi**2 * t2 * t2)
        ebound = ebound * (1 + 1e-12) + 1e-300
        mono = gmain - s2 * s2 * ebound + clip
        # every |x| < s1/2 quantizes to the grid point 0: F(s) >= E[xi^2; |xi| < s1/2] (useful for s >~ sig)
        ca, cb = (np.maximum(-s1 / 2, 0.0) if relu else -s1 / 2), s1 / 2
        near = sig * sig * _t_m2(nu, lnorm, S0H, (ca - mu) / sig, (cb - mu) / sig, mu / sig)
    return np.maximum(mono, near)


def _t_m2(nu, lnorm, S0H, za, zb, m):
    """Lower bound of ``E[(m + Z)^2; za < Z < zb]`` (za < zb arrays), the rounding allowance subtracted."""
    def up(z):  # (S0, S1, S2) upper partial moments at |z|
        a = np.abs(z)
        s0, h = S0H(a)
        p = np.exp(lnorm - 0.5 * (nu + 1) * np.log1p(a * a / nu))
        s1 = np.where(np.isinf(a), 0.0, (nu + a * a) * p / (nu - 1))
        s2 = np.where(np.isinf(a), 0.0, (a * (nu + a * a) * p + nu * s0) / (nu - 2))
        return s0, s1, s2

    m2 = nu / (nu - 2)
    a0, a1, a2 = up(za)
    b0, b1, b2 = up(zb)
    # E[Z^j; Z > z] for any z from the |z| values: j even mirrored as m_j - up, j odd as -up... (z < 0)
    def G(z, u0, u1, u2):
        neg = z < 0
        return (np.where(neg, 1.0 - u0, u0), np.where(neg, u1, u1), np.where(neg, m2 - u2, u2))
    ga, gb = G(za, a0, a1, a2), G(zb, b0, b1, b2)
    P, M1, M2 = (ga[j] - gb[j] for j in range(3))
    val = m * m * P + 2 * m * M1 + M2
    err = SF_ERR * 10 * (m * m + 2 * abs(m) * 2 + m2 + 1.0)
    return np.maximum(val - err, 0.0)


def lower_bound(comps, grid, s1, s2):
    """Lower bound of ``R(s) = pi^2 F(s)`` over ``[s1, s2]`` (arrays) for a t mixture."""
    tot = np.zeros_like(s1)
    for w, nu, mu, sig, relu in comps:
        tot = tot + w * _t_lower(nu, mu, sig, relu, grid.r_b, grid.r_t, s1, s2)
    return math.pi**2 * tot


def certified_msqe(law, grid, scan, vals, s_guess=None, *, target=1e-6, max_rounds=80, max_live=40_000,
                   max_width=1e-2):
    """Certified MSQE optimum for a Student t law / its ReLU / a mixture of these: a dict with the
    fields of :class:`quanttheory.risk.results.OptimalScale` (``scale``, ``risk``, ``scale_error``,
    ``risk_lower_bound``, ``method``, ``extra``), or None if the law has other components, the
    brackets cannot be closed, or the surviving hull is wider than ``max_width`` (relative).

    ``scan``/``vals``: the caller's log scan of the curve (pi^2 included); ``s_guess``: a good
    local minimizer (e.g. the root of the exact R'), whose value is the upper bound of the search.
    Rounds split every surviving interval in two (geometric midpoint) and drop those whose lower
    bound exceeds ``R_best (1 + 1e-12)``, until the hull is narrower than ``target`` (relative),
    ``max_rounds`` rounds, or ``max_live`` intervals.
    """
    from .curve import risk_curve

    comps = _t_components(law)
    if comps is None or any(np.any(np.asarray(g.values) != 0) for g in law.atoms()):
        return None  # (a ReLU atom at 0 quantizes exactly: no contribution)
    scan = np.asarray(scan, dtype=float)
    vals = np.asarray(vals, dtype=float)
    ib = int(np.argmin(vals))
    best_s, best = float(scan[ib]), float(vals[ib])
    if s_guess is not None:
        rg = float(risk_curve(law, np.array([s_guess]), grid, "msqe")[0])
        if rg <= best:
            best_s, best = float(s_guess), rg
    ub = best * (1 + SLACK)
    # the bound at the best point itself: its gap R - LB ~ s^2 E_max is the floor of every interval bound;
    # a hull narrower than max_width needs gap / R <~ max_width^2 / 2 (R'' s^2 ~ 2 R): skip hopeless cases
    pt = np.array([best_s])
    gap = 1.0 - float(lower_bound(comps, grid, pt, pt)[0]) / best
    if gap > 0.5 * max_width**2:
        return None
    # brackets: for s <= s_min, F(s) >= 0 - s_min^2 ebound + C(s_min) (the interval bound on (0, s_min]);
    # for s >= s_max every |x| < s_max/2 quantizes to 0
    s_min, s_max = float(scan[0]), float(scan[-1])
    lb0 = float(lower_bound(comps, grid, np.array([s_min * 1e-200]), np.array([s_min]))[0])
    lb_inf = math.pi**2 * law.partial_moment(2, -s_max / 2, s_max / 2) * (1 - 1e-12)
    if not (lb0 > ub and lb_inf > ub):
        return None
    lo, hi = scan[:-1].copy(), scan[1:].copy()
    lbs = lower_bound(comps, grid, lo, hi)
    rounds = bounds = 0
    bounds += lo.size
    while True:
        keep = lbs <= ub
        lo, hi, lbs = lo[keep], hi[keep], lbs[keep]
        if lo.size == 0:  # cannot happen (best_s is in some interval); be safe
            return None
        width = float(hi.max() / lo.min() - 1)
        if width <= target or rounds >= max_rounds or lo.size * 2 > max_live:
            break
        mid = np.sqrt(lo * hi)
        lo, hi = np.concatenate([lo, mid]), np.concatenate([mid, hi])
        lbs = lower_bound(comps, grid, lo, hi)
        bounds += lo.size
        rounds += 1
    a, b = float(lo.min()), float(hi.max())
    if b / a - 1 > max_width:
        return None
    s_opt, r_opt = best_s, best
    if not a <= s_opt <= b:  # refine the returned scale inside the hull (golden section on log s)
        s_opt, r_opt = _golden(lambda x: float(risk_curve(law, np.array([x]), grid, "msqe")[0]), a, b, best_s, best)
    return dict(scale=s_opt, risk=r_opt, scale_error=max(s_opt - a, b - s_opt),
                risk_lower_bound=float(min(lbs.min(), r_opt)),
                method=("branch and bound with monotone interval bounds of R (granular s^2 P_ab/12 increasing, "
                        "clipping decreasing, Fourier and end corrections bounded; heavy_optimum.py): certified, "
                        "every global minimizer lies in [scale - scale_error, scale + scale_error]"),
                extra={"hull": (a, b), "rounds": rounds, "live_intervals": int(lo.size), "interval_bounds": bounds})


def certify_into(res: dict, law, grid, scan, vals) -> None:
    """Hook for :func:`quanttheory.risk.optimum.optimal_scale`: replace the scan result ``res`` by the
    certified one when :func:`certified_msqe` succeeds (the local scale estimate kept in ``extra``)."""
    from .heavy_cert import OFFCENTRE_MAX, OFFCENTRE_NOTE, certify, components, offcentre_ratio

    if offcentre_ratio(law) > OFFCENTRE_MAX:  # curve values beyond the certificates' rounding allowance
        res["method"] += OFFCENTRE_NOTE
        return
    if components(law) is not None:
        cert = certify(law, grid, scan, vals, s_guess=res["scale"])
        if cert is None and _t_components(law) is not None:
            cert = certified_msqe(law, grid, scan, vals, s_guess=res["scale"])
    elif _t_components(law) is None:
        if law.kernel_params() is None and law.shape_kernel() is None and not law.components():
            _quad_note(res, law, grid)  # generic (from_scipy) law: report the quadrature's own estimate
        return
    else:
        cert = certified_msqe(law, grid, scan, vals, s_guess=res["scale"])
    if cert is None:
        return
    extra = dict(res.get("extra") or {})
    extra.update(cert["extra"])
    extra["local_scale_error"] = res["scale_error"]
    res.update(scale=cert["scale"], risk=cert["risk"], scale_error=cert["scale_error"],
               risk_lower_bound=cert["risk_lower_bound"], method=cert["method"], extra=extra)


def _quad_note(res: dict, law, grid) -> None:
    """Add the Gauss-Kronrod error estimate of R(s*) (pi^2 included, data units squared) to ``res``."""
    from ..formats.regularizers import get_regularizer
    from .generic import quad_expected_phi

    reg = get_regularizer("msqe")
    q = quad_expected_phi(law, grid, reg, np.array([float(res["scale"])]))
    extra = dict(res.get("extra") or {})
    extra["quadrature_error_estimate"] = float(reg.curve_factor * q.error[0])
    extra["quadrature_converged"] = bool(q.converged[0])
    res["extra"] = extra
    res["method"] = (res["method"] + "; curve values by adaptive Gauss-Kronrod, conditional on its error estimate "
                     "(extra['quadrature_error_estimate'])")


def _golden(f, a, b, x0, f0, iters=60):
    """Golden-section search of ``f`` on ``[a, b]`` in ``log s``, keeping the best point seen (``x0, f0``)."""
    la, lb = math.log(a), math.log(b)
    g = (math.sqrt(5) - 1) / 2
    c, d = lb - g * (lb - la), la + g * (lb - la)
    fc, fd = f(math.exp(c)), f(math.exp(d))
    bx, bf = (x0, f0)
    for _ in range(iters):
        if fc < bf:
            bx, bf = math.exp(c), fc
        if fd < bf:
            bx, bf = math.exp(d), fd
        if fc <= fd:
            lb, d, fd = d, c, fc
            c = lb - g * (lb - la)
            fc = f(math.exp(c))
        else:
            la, c, fc = c, d, fd
            d = la + g * (lb - la)
            fd = f(math.exp(d))
        if lb - la < 1e-13:
            break
    return bx, bf
