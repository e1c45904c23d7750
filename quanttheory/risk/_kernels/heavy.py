"""Private numba kernels: risk curves of the Student t and generalized Gaussian laws.

Computes ``F(s) = s**2 E[phi(xi / s)]`` over the continuous part (no curve factor,
no ReLU atom) for MSQE, QSin and the MSQE derivative (code 3), for

* law 2, Student t: ``p(x) = C exp(-(nu+1)/2 log(1 + z**2/nu)) / sig``, ``z = (x - mu)/sig``;
* law 3, generalized Gaussian (scipy's ``gennorm``): ``p(x) = beta/(2 Gamma(1/beta)) exp(-|z|**beta) / sig``.

Every grid cell (and both clipping tails) is anchored at its grid point ``c = k s``
(offsets ``d = x - c``, no cancellation) and walked in *pieces* chosen so that the
integrand is analytic with a known margin on each piece:

* the log-density's variation bound ``a = h max|d log p/dz|`` (``h`` the half
  width in units of ``sig``, evaluated on the piece widened by ``h``) is <= 1.5,
  as in :mod:`.cells`; the Gauss-Legendre order comes from the same bound
  ``a**(2n) / ((2n)! 4**n) <= 1e-19``;
* the nearest singularity (Student t: the poles ``+-i sqrt(nu)``; generalized
  Gaussian with non-integer beta: the branch point ``z = 0``) lies outside the
  Bernstein ellipse of parameter ``rho >= 3`` of the piece, and ``n >= 22 / ln(rho)``
  (error factor ``rho**(-2n) <= 1e-19``).

Pieces are halved until both hold and doubled again after each accepted piece, so
they grade geometrically toward the kink ``z = 0`` of the generalized Gaussian
(pieces narrower than ``1e-13`` of the cell are accepted as they are).

Clipping tails: the walk covers ``[tau, T]`` (standardized, ``T = max(8|tau|, tau + 8)``
for the t, where ``(z - tau)**2 >= z**2 / 4`` beyond ``T`` so the closed-form
remainder ``E[(Z - tau)**2; Z > T]`` has cancellation <= 9); the remainder is
added in Python from incomplete beta / gamma functions (the kernel returns the cut
points).  The generalized Gaussian's walk stops where a rigorous bound of what is
left is below ``1e-19`` of the running total (its remainder is then 0).  Grid cells
far out are dropped by the same rule (MSQE, QSin).
"""

from __future__ import annotations

import cmath
import math

import numba
import numpy as np

LAW_T = 2
LAW_GENNORM = 3

CODE_MSQE = 0
CODE_QSIN = 1
CODE_DMSQE = 3

P_LTAIL = 0
P_CELL = 1
P_RTAIL = 2

MAX_A = 1.5
MIN_RHO = 3.0
DROP = 1e-19
TINY = 1e-13


@numba.njit(cache=True)
def _logp(law, shape, lnorm, z):
    """log of the standardized density (times sig) at z."""
    if law == LAW_T:
        return lnorm - 0.5 * (shape + 1.0) * math.log1p(z * z / shape)
    return lnorm - abs(z) ** shape


@numba.njit(cache=True)
def _rho(zc, h, wr, wi):
    """Bernstein-ellipse parameter of the singular point wr + i wi for the piece zc +- h."""
    zeta = complex((wr - zc) / h, wi / h)
    r = cmath.sqrt(zeta * zeta - 1.0)
    return max(abs(zeta + r), abs(zeta - r))


@numba.njit(cache=True)
def _pick_n(a, amax, ns, shift, nmin):
    """Smallest table index j meeting the e^{a t} bound, plus shift, with ns[j] >= nmin; -1 if none."""
    last = amax.shape[0] - 1
    j = last + 1
    for i in range(last + 1):
        if a <= amax[i]:
            j = i
            break
    if j > last:
        return -1
    j = j + shift
    while j <= last and ns[j] < nmin:
        j += 1
    if j > last:
        return -1
    return j


@numba.njit(cache=True)
def _piece_rule(law, shape, z1, z2, aphi, shift, amax, ns):
    """Rule index for the standardized piece [z1, z2] (same side of 0 for gennorm), or -1."""
    h = 0.5 * (z2 - z1)
    zc = 0.5 * (z1 + z2)
    if h <= 0.0:
        return 0
    zmax = max(abs(z1), abs(z2))
    if z1 < 0.0 and 0.0 < z2:
        zmin = 0.0
    else:
        zmin = min(abs(z1), abs(z2))
    nmin = 2
    if law == LAW_T:
        den = shape + zmin * zmin - h * h
        if den <= 0.5 * (shape + zmin * zmin):
            return -1
        a = h * (shape + 1.0) * (zmax + h) / den
        rho = _rho(zc, h, 0.0, math.sqrt(shape))
        if rho < MIN_RHO:
            return -1
        nmin = int(math.ceil(22.0 / math.log(rho))) + 1
    else:
        # generalized Gaussian: Bernstein-ellipse rule.  On the ellipse E_rho of the piece (semi-major
        # axis R = h (rho + 1/rho) / 2) the log-density moves by at most V (binomial bound, beta >= 1;
        # derivative bound beta |w|^(beta-1) for beta < 1), the polynomial weight by a factor <= (R/h)^2,
        # and the n-point Gauss-Legendre error is <= ~ e^V (R/h)^2 rho^(-2n): n = (V + 46) / (2 ln rho)
        # for 1e-20 relative; the best rho in 4..128 (inside the branch point's ellipse for
        # non-integer beta) is used.
        b = shape
        uc = abs(zc)
        if zmin ** b > 800.0:
            # the density is below e^(lnorm - 800) on the whole piece (lnorm = log(beta / (2 Gamma(1/beta)))
            # < 25 for every beta < 1e10): each node's exp() underflows to exactly 0, so every rule gives
            # the same 0 and the cheapest is taken; without this the rule search halved the piece down to
            # TINY far out in a cell of a steep law (GenNormal(6, -1, 1), 4-bit unsigned grid at s = 30)
            return 0
        rho_b = math.inf
        if b != math.floor(b):
            if z1 < 0.0 and 0.0 < z2:
                return -1
            rho_b = _rho(zc, h, 0.0, 0.0)
            if rho_b < MIN_RHO:
                return -1
        best = 1 << 30
        rho0 = 4.0
        for _ in range(6):
            if rho0 > 0.8 * rho_b:
                break
            R = 0.5 * h * (rho0 + 1.0 / rho0)
            if b >= 1.0:
                V = (uc + R) ** b - uc ** b
            else:
                V = b * R * (uc - R) ** (b - 1.0)
            # kept a float until it is known to be small: far out V reaches 1e19 and more (or inf), and
            # math.ceil in compiled code converts to int64 (INT_MIN on overflow), a negative table index:
            # GenNormal(4) on a 4-bit unsigned grid at s = 30 read out of bounds (a segfault)
            nf = (V + 46.0 + 2.0 * math.log(rho0)) / (2.0 * math.log(rho0))
            if nf < best:
                best = int(math.ceil(nf))
            rho0 *= 2.0
        if best > ns[ns.shape[0] - 1]:
            return -1
        if aphi > 0.0:  # QSin: sin^2 over the cell, entire with variation pi
            best = max(best, ns[_pick_n(aphi, amax, ns, 0, 2)])
        return best - ns[0]
    if a > MAX_A:
        return -1
    return _pick_n(a + aphi, amax, ns, shift, nmin)


@numba.njit(cache=True)
def _s2phi(code, ptype, d, s, k):
    if code == CODE_DMSQE:
        return -2.0 * k * d
    if ptype == P_CELL:
        if code == CODE_MSQE:
            return d * d
        v = math.sin(math.pi * d / s)
        return s * s * v * v
    if code == CODE_MSQE:
        return d * d
    return math.pi * math.pi * d * d


@numba.njit(cache=True)
def _tail_bound(law, shape, lnorm, z, k):
    """Upper bound of ``int_z^inf t**k p(t) dt`` (standardized, z > 0, k = 0 or 2); inf if unknown."""
    if z <= 0.0:
        return math.inf
    if law == LAW_T:
        nu = shape
        if k == 0:
            # S0 <= E[Z; Z > z] / z = (nu + z^2) p(z) / ((nu - 1) z)
            return (nu + z * z) * math.exp(_logp(law, shape, lnorm, z)) / ((nu - 1.0) * z)
        return math.inf
    b = shape
    x = z ** b
    a = (k + 1.0) / b
    # int_z^inf t^k e^{-t^b} dt = Gamma(a, x) / b;  Gamma(a, x) <= x^{a-1} e^{-x} max(1, x / (x - a + 1))
    if a > 1.0:
        if x <= a - 1.0:
            return math.inf
        f = x / (x - a + 1.0)
    else:
        f = 1.0
    return math.exp(lnorm + (a - 1.0) * math.log(x) - x) * f / b


@numba.njit(cache=True)
def _walk(law, shape, lnorm, mu, sig, code, ptype, s, k, c, d0, d1, direction, stop_code, stop_ref,
          ns, nodes, weights, amax):
    """int over d in [d0, d1] (d0 < d1) of s^2 phi(d) p(c + d), walking from the d0 end
    (direction +1) or the d1 end (-1).  stop_code > 0: stop once the bound of what is
    left (k-th moment bound, k = stop_code - 1 in {0, 2}, plus tau^2 times the mass) is below
    DROP * stop_ref.  Returns (integral, last position reached)."""
    cmu = c - mu
    aphi = 0.0
    shift = 1
    if ptype == P_CELL and code == CODE_QSIN:
        aphi = math.pi
        shift = 0
    total = 0.0
    comp = 0.0
    length = d1 - d0
    tiny = TINY * length
    w = length
    done = 0.0
    while done < length:
        w = min(w, length - done)
        if direction > 0:
            pa = d0 + done
            pb = pa + w
        else:
            pb = d1 - done
            pa = pb - w
        j = -1
        while True:
            za = (cmu + pa) / sig
            zb = (cmu + pb) / sig
            j = _piece_rule(law, shape, za, zb, aphi, shift, amax, ns)
            if j >= 0:
                break
            if w <= tiny:
                j = amax.shape[0] - 1
                break
            w *= 0.5
            if direction > 0:
                pb = pa + w
            else:
                pa = pb - w
        mid = 0.5 * (pa + pb)
        hw = 0.5 * (pb - pa)
        acc = 0.0
        for q in range(ns[j]):
            d = mid + hw * nodes[j, q]
            z = (cmu + d) / sig
            acc += weights[j, q] * math.exp(_logp(law, shape, lnorm, z)) * _s2phi(code, ptype, d, s, k)
        acc *= hw / sig
        t = total + acc
        if abs(total) >= abs(acc):
            comp += (total - t) + acc
        else:
            comp += (acc - t) + total
        total = t
        done += w
        w *= 2.0
        if stop_code > 0:
            # standardized distance of the current end from mu, outward
            if direction > 0:
                zc = (cmu + d0 + done) / sig
            else:
                zc = -(cmu + d1 - done) / sig
            if zc > 0.0:
                kk = stop_code - 1
                bnd = _tail_bound(law, shape, lnorm, zc, kk)
                if kk == 2:
                    tau = abs(cmu) / sig
                    bnd = sig * sig * (4.0 * bnd + 4.0 * tau * tau * _tail_bound(law, shape, lnorm, zc, 0))
                    if code == CODE_QSIN:
                        bnd *= math.pi * math.pi
                else:
                    bnd *= (s * s if code == CODE_QSIN else 0.25 * s * s)
                if bnd <= DROP * abs(stop_ref + total):
                    break
    if direction > 0:
        return total + comp, d0 + done
    return total + comp, d1 - done


@numba.njit(cache=True)
def _cell(law, shape, lnorm, mu, sig, code, s, k, c, da, db, ns, nodes, weights, amax):
    """One cell [c + da, c + db], split at the gennorm kink mu."""
    if not db > da:
        return 0.0
    kink = mu - c
    if law == LAW_GENNORM and da < kink and kink < db:
        v1, _ = _walk(law, shape, lnorm, mu, sig, code, P_CELL, s, k, c, da, kink, -1, 0, 0.0,
                      ns, nodes, weights, amax)
        v2, _ = _walk(law, shape, lnorm, mu, sig, code, P_CELL, s, k, c, kink, db, 1, 0, 0.0,
                      ns, nodes, weights, amax)
        return v1 + v2
    # walk away from the kink / mode
    direction = 1 if c + da >= mu else -1
    v, _ = _walk(law, shape, lnorm, mu, sig, code, P_CELL, s, k, c, da, db, direction, 0, 0.0,
                 ns, nodes, weights, amax)
    return v


@numba.njit(cache=True)
def curve(law, shape, lnorm, mu, sig, relu, r_b, r_t, code, scales, ns, nodes, weights, amax,
          out, cut_r, tau_r, cut_l, tau_l):
    """Per scale: ``out`` = the walked part of F(s); the clipping-tail remainders beyond the
    standardized cuts ``cut_r`` (right, z > cut_r, anchor tau_r) and ``cut_l`` (left,
    z < -cut_l, anchor tau_l) are added by the caller (inf: no remainder)."""
    trunc = code != CODE_DMSQE
    for i in range(scales.shape[0]):
        s = scales[i]
        half = 0.5 * s
        total = 0.0
        k0 = int(min(max(math.floor(mu / s + 0.5), r_b), r_t)) if abs(mu / s) < 9e18 else (
            r_t if mu > 0 else r_b)
        if relu and k0 * s + half <= 0.0:
            k0 = int(min(max(math.floor(half / s + 0.5), r_b), r_t))
        # right sweep (k0 included)
        for k in range(k0, r_t + 1):
            c = k * s
            da = 0.0 if k == r_b else -half
            db = 0.0 if k == r_t else half
            if relu:
                da = max(da, -c)
            total += _cell(law, shape, lnorm, mu, sig, code, s, k, c, da, db, ns, nodes, weights, amax)
            if trunc and k < r_t:
                ze = (c + half - mu) / sig
                if ze > 0.0:
                    bnd = _tail_bound(law, shape, lnorm, ze, 0) * (s * s if code == CODE_QSIN else 0.25 * s * s)
                    if bnd <= DROP * total:
                        break
        # left sweep
        for k in range(k0 - 1, r_b - 1, -1):
            c = k * s
            if relu and c + half <= 0.0:
                break
            da = 0.0 if k == r_b else -half
            db = half
            if relu:
                da = max(da, -c)
            total += _cell(law, shape, lnorm, mu, sig, code, s, k, c, da, db, ns, nodes, weights, amax)
            if trunc and k > r_b:
                ze = (mu - (c - half)) / sig
                if ze > 0.0:
                    bnd = _tail_bound(law, shape, lnorm, ze, 0) * (s * s if code == CODE_QSIN else 0.25 * s * s)
                    if bnd <= DROP * total:
                        break
        v, cut_r[i], tau_r[i] = _right_tail(law, shape, lnorm, mu, sig, relu, code, s, r_t, r_t * s, total,
                                            ns, nodes, weights, amax)
        total += v
        v, cut_l[i], tau_l[i] = _left_tail(law, shape, lnorm, mu, sig, relu, code, s, r_b, r_b * s, total,
                                           ns, nodes, weights, amax)
        total += v
        out[i] = total


@numba.njit(cache=True)
def _right_tail(law, shape, lnorm, mu, sig, relu, code, s, k, c, stop_ref, ns, nodes, weights, amax):
    """Walked part of the right clipping tail x > c (anchor c, grid integer k): (value, cut, tau);
    the caller adds the closed-form remainder beyond the standardized cut."""
    tau = (c - mu) / sig
    d0 = 0.0
    if relu:
        d0 = max(0.0, -c)
    zcut = max(8.0 * abs(tau), tau + 8.0)
    if law == LAW_T and code != CODE_DMSQE:
        # beyond 2 tau (tau > 0) (z - tau)^2 >= z^2 / 4, so the closed-form remainder cancels <= 9 times;
        # tau <= 0: its terms are all >= 0 beyond 0
        zcut = max(2.0 * tau, 0.0)
    if law == LAW_T or code == CODE_DMSQE:
        v, _ = _walk(law, shape, lnorm, mu, sig, code, P_RTAIL, s, k, c, d0, (zcut - tau) * sig, 1, 0, 0.0,
                     ns, nodes, weights, amax)
        return v, zcut, tau
    # generalized Gaussian: walk outward until what is left is negligible; split at the kink
    v = 0.0
    kink = mu - c
    if d0 < kink:
        v1, _ = _walk(law, shape, lnorm, mu, sig, code, P_RTAIL, s, k, c, d0, kink, -1, 0, 0.0,
                      ns, nodes, weights, amax)
        v += v1
        d0 = kink
    zcut = max(zcut, (d0 - kink) / sig + 8.0)
    v2, _ = _walk(law, shape, lnorm, mu, sig, code, P_RTAIL, s, k, c, d0, (zcut - tau) * sig, 1,
                  3, stop_ref, ns, nodes, weights, amax)
    return v + v2, zcut, tau


@numba.njit(cache=True)
def _left_tail(law, shape, lnorm, mu, sig, relu, code, s, k, c, stop_ref, ns, nodes, weights, amax):
    """Walked part of the left clipping tail x < c: (value, cut, tau), cut = inf for ReLU (no density)."""
    tau = (c - mu) / sig
    if relu:
        return 0.0, math.inf, tau
    zcut = max(8.0 * abs(tau), -tau + 8.0)  # mirrored: z < -zcut
    if law == LAW_T and code != CODE_DMSQE:
        zcut = max(-2.0 * tau, 0.0)  # as in _right_tail, mirrored
    if law == LAW_T or code == CODE_DMSQE:
        v, _ = _walk(law, shape, lnorm, mu, sig, code, P_LTAIL, s, k, c, (-zcut - tau) * sig, 0.0, -1,
                     0, 0.0, ns, nodes, weights, amax)
        return v, zcut, tau
    v = 0.0
    kink = mu - c
    d1 = 0.0
    if kink < 0.0:
        v1, _ = _walk(law, shape, lnorm, mu, sig, code, P_LTAIL, s, k, c, kink, 0.0, 1, 0, 0.0,
                      ns, nodes, weights, amax)
        v += v1
        d1 = kink
    zcut = max(zcut, -(d1 - kink) / sig + 8.0)
    v2, _ = _walk(law, shape, lnorm, mu, sig, code, P_LTAIL, s, k, c, (-zcut - tau) * sig, d1, -1,
                  3, stop_ref, ns, nodes, weights, amax)
    return v + v2, zcut, tau


@numba.njit(cache=True)
def levels_curve(law, shape, lnorm, mu, sig, relu, levels, scales, ns, nodes, weights, amax,
                 out, cut_r, tau_r, cut_l, tau_l):
    """``E[(xi - Q_s(xi))**2]`` for the level set ``levels`` (grid units, sorted): each level's
    interval between midpoints anchored at ``s L_j``, plus the two clipping tails (walked part;
    remainders beyond the cuts as in :func:`curve`)."""
    K = levels.shape[0]
    for i in range(scales.shape[0]):
        s = scales[i]
        total = 0.0
        for j in range(K):
            c = s * levels[j]
            da = 0.0 if j == 0 else s * (0.5 * (levels[j - 1] + levels[j]) - levels[j])
            db = 0.0 if j == K - 1 else s * (0.5 * (levels[j] + levels[j + 1]) - levels[j])
            if relu:
                if c + db <= 0.0:
                    continue
                da = max(da, -c)
            total += _cell(law, shape, lnorm, mu, sig, CODE_MSQE, s, 0, c, da, db, ns, nodes, weights, amax)
        v, cut_r[i], tau_r[i] = _right_tail(law, shape, lnorm, mu, sig, relu, CODE_MSQE, s, 0, s * levels[K - 1],
                                            total, ns, nodes, weights, amax)
        total += v
        v, cut_l[i], tau_l[i] = _left_tail(law, shape, lnorm, mu, sig, relu, CODE_MSQE, s, 0, s * levels[0],
                                           total, ns, nodes, weights, amax)
        out[i] = total + v


# ---------------------------------------------------------------------------------------------
# Student t fast path (bit-independent cost): Fourier series of the sawtooth + expansions at the
# two ends + closed-form clipping tails.  See quanttheory/risk/heavy.py (`_t_fast`) and
# docs/heavy_tails.md ("Fast path") for the formulas and the error bound.
# ---------------------------------------------------------------------------------------------

KMAX = 60
DELTA_SF = 1e-15  # assumed relative accuracy of scipy's betainc / kve (and of exp / log1p here)
FAST_TOL = 1e-13  # accepted estimated relative error of a fast value (else the per-cell path)


@numba.njit(cache=True)
def _t_tail_closed(nu, lnorm, tau, s0):
    """``U(tau) = E[(Z - tau)^2; Z > tau]`` for tau >= 0 from ``s0 = P(Z > tau)``:
    ``(value, |A| + |B|)`` with U = A - B (the second output bounds the rounding amplification)."""
    p = math.exp(lnorm - 0.5 * (nu + 1.0) * math.log1p(tau * tau / nu))
    A = s0 * (nu + tau * tau * (nu - 2.0)) / (nu - 2.0)
    B = (nu + tau * tau) * p * tau * (nu - 3.0) / ((nu - 1.0) * (nu - 2.0))
    return A - B, abs(A) + abs(B)


@numba.njit(cache=True)
def _t_tail_any(nu, lnorm, tau, s0abs):
    """``E[(Z - tau)^2; Z > tau]`` for any tau (s0abs = P(Z > |tau|)): (value, error scale)."""
    if tau >= 0.0:
        return _t_tail_closed(nu, lnorm, tau, s0abs)
    u, sc = _t_tail_closed(nu, lnorm, -tau, s0abs)
    m2 = nu / (nu - 2.0) + tau * tau
    return m2 - u, m2 + sc


@numba.njit(cache=True)
def _t_end_terms(nu, lnorm, z, t, out_q, nmax):
    """``out_q[n] = p^(n)(z) / t^n`` for n = 0..nmax (standardized t density), by the recurrence
    ``p^(n+1) = -[(nu + 1 + 2n) z p^(n) + n (nu + n) p^(n-1)] / (nu + z^2)``."""
    d = nu + z * z
    out_q[0] = math.exp(lnorm - 0.5 * (nu + 1.0) * math.log1p(z * z / nu))
    if nmax >= 1:
        out_q[1] = -(nu + 1.0) * z * out_q[0] / (d * t)
    for n in range(1, nmax):
        out_q[n + 1] = -((nu + 1.0 + 2.0 * n) * z * out_q[n] / t + n * (nu + n) * out_q[n - 1] / (t * t)) / d


@numba.njit(cache=True)
def _t_rem_log(nu, K, t, zeta_e, mass):
    """log of the bound of ``int_{tail beyond the end} |p^(2K)(z)| dz / t^(2K)``
    (Cauchy estimate on discs of radius theta sqrt(nu + z^2), theta = 2K/(2K + nu + 1))."""
    if mass <= 0.0:
        return -math.inf
    n = 2.0 * K
    th = n / (n + nu + 1.0)
    return (math.lgamma(n + 1.0) - (nu + 1.0) * math.log1p(-th)
            - n * math.log(th * t * math.sqrt(nu + zeta_e * zeta_e)) + math.log(mass))


@numba.njit(cache=True)
def t_fast(nu, lnorm, mu, sig, relu, r_b, r_t, code, scales, za, zb, pab, pab_err, qa, qb, s0a, s0b,
           cf, cf_abs, eta, out, ok, walk_r, walk_l):
    """Per scale: ``out[i]`` = F(s) for MSQE (code 0) or QSin (code 1), ``ok[i]`` False where the
    error bound is not met (the caller uses the per-cell path there).  Inputs from the caller
    (scipy special functions, vectorized): standardized ends ``za`` (left end of the interior;
    -inf never: the interior always has two finite ends), ``zb``; ``pab = P(za < Z < zb)`` and its
    rounding scale ``pab_err``; outer tail masses ``qa = P(Z < za)``, ``qb = P(Z > zb)``;
    ``s0a = P(Z > |za|)``, ``s0b = P(Z > |zb|)``; ``cf`` = the full-line Fourier part
    (MSQE: ``sum_m (-1)^m cos(2 pi m mu/s) phi(m t)/m^2``; QSin: ``cos(2 pi mu/s) phi(t)``) and the
    sum of its terms' magnitudes ``cf_abs``; ``eta[k] = eta(2k + 2)`` (Dirichlet eta).
    ``walk_r[i]`` / ``walk_l[i]`` True: the clipping tail's closed form cancels too much and
    must be walked by the caller (the value here excludes that tail)."""
    qz = np.empty(2 * KMAX + 2)
    qw = np.empty(2 * KMAX + 2)
    for i in range(scales.shape[0]):
        s = scales[i]
        t = 2.0 * math.pi * sig / s
        ok[i] = False
        walk_r[i] = False
        walk_l[i] = False
        out[i] = 0.0
        # clipping tails (data units)
        vr, er = _t_tail_any(nu, lnorm, zb[i], s0b[i])
        tail_r = sig * sig * vr
        err_r = DELTA_SF * 4.0 * sig * sig * er
        tail_l = 0.0
        err_l = 0.0
        if not relu:
            vl, el = _t_tail_any(nu, lnorm, -za[i], s0a[i])
            tail_l = sig * sig * vl
            err_l = DELTA_SF * 4.0 * sig * sig * el
        if code == CODE_QSIN:
            tail_r *= math.pi * math.pi
            err_r *= math.pi * math.pi
            tail_l *= math.pi * math.pi
            err_l *= math.pi * math.pi
        base = s * s * pab[i] / (12.0 if code == CODE_MSQE else 2.0)
        est = base + tail_r + tail_l
        # ends: zeta_e = distance of the outer tail region from the mode
        zr = max(zb[i], 0.0)
        zl = max(-za[i], 0.0)
        _t_end_terms(nu, lnorm, zb[i], t, qz, 1)
        _t_end_terms(nu, lnorm, za[i], t, qw, 1)
        corr = 0.0
        corr_abs = 0.0
        found = False
        last = math.inf
        nmax = 1
        for K in range(1, KMAX + 1):
            n = 2 * K - 1
            if n > nmax:
                _t_end_terms(nu, lnorm, zb[i], t, qz, n)
                _t_end_terms(nu, lnorm, za[i], t, qw, n)
                nmax = n
            D = (qz[n] - qw[n]) / t
            sg = -1.0 if K % 2 == 1 else 1.0
            if code == CODE_MSQE:
                term = sg * eta[K - 1] * D / (math.pi * math.pi)
                rem_f = 1.0823232337111382 / (math.pi * math.pi)  # zeta(4) / pi^2 >= zeta(2K+2) / pi^2
            else:  # QSin: -(1/2) of the m = 1 coefficient
                term = 0.5 * sg * D
                rem_f = 0.5
            corr += term
            corr_abs += abs(term)
            lr = max(_t_rem_log(nu, K, t, zr, qb[i]), _t_rem_log(nu, K, t, zl, qa[i]))
            rem = rem_f * 2.0 * math.exp(lr) if lr > -700.0 else 0.0
            if s * s * rem <= 1e-17 * est:
                found = True
                break
            if rem > last:
                break
            last = rem
        if not found:
            continue
        if code == CODE_MSQE:
            gran = s * s * (pab[i] / 12.0 + cf[i] / (math.pi * math.pi) + corr)
            err = s * s * (pab_err[i] / 12.0 + DELTA_SF * 8.0 * (pab[i] / 12.0 + cf_abs[i] / (math.pi * math.pi))
                           + 1e-15 * corr_abs + rem)
        else:
            gran = 0.5 * s * s * (pab[i] - cf[i]) + s * s * corr
            err = s * s * (0.5 * pab_err[i] + DELTA_SF * 8.0 * (pab[i] + cf_abs[i]) + 1e-15 * corr_abs + rem)
        total = gran + tail_r + tail_l
        if not total > 0.0:
            continue
        full = total  # the walked tails below are ~ their closed forms: the scale of F for the tolerance
        if err_r > 0.25 * FAST_TOL * full:
            walk_r[i] = True
            total -= tail_r
        if err_l > 0.25 * FAST_TOL * full:
            walk_l[i] = True
            total -= tail_l
        if err > 0.5 * FAST_TOL * full:
            continue
        out[i] = total
        ok[i] = True


@numba.njit(cache=True)
def tails_walk(law, shape, lnorm, mu, sig, relu, r_b, r_t, code, scales, want_r, want_l, ref, ns, nodes, weights,
               amax, out, cut_r, tau_r, cut_l, tau_l):
    """The walked parts of the flagged clipping tails (as in :func:`curve`); ``cut = inf`` where not
    walked (no closed-form remainder to add)."""
    for i in range(scales.shape[0]):
        s = scales[i]
        out[i] = 0.0
        cut_r[i] = math.inf
        tau_r[i] = 0.0
        cut_l[i] = math.inf
        tau_l[i] = 0.0
        if want_r[i]:
            v, cut_r[i], tau_r[i] = _right_tail(law, shape, lnorm, mu, sig, relu, code, s, r_t, r_t * s, ref[i],
                                                ns, nodes, weights, amax)
            out[i] += v
        if want_l[i]:
            v, cut_l[i], tau_l[i] = _left_tail(law, shape, lnorm, mu, sig, relu, code, s, r_b, r_b * s, ref[i],
                                               ns, nodes, weights, amax)
            out[i] += v
