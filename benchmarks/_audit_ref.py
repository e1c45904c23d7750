"""Independent reference computations for the audit (benchmarks/audit_independent.py, tests/test_audit_*.py).

Nothing here imports quanttheory: every reference is written from the definitions, with mpmath
closed forms, scipy quad, plain NumPy Gauss-Legendre, exact rationals or a direct Monte Carlo.

Laws are plain tuples ``(kind, loc, scale, relu)`` with ``kind`` in ``normal``, ``laplace``; a
ReLU law is ``max(xi, 0)`` (atom at 0, whose error is 0 on every grid containing 0).

Integer grid ``[r_b, r_t]`` with scale ``s``: ``Q(x) = s clip(round(x/s), r_b, r_t)``.
Risks (data units squared):

* ``msqe``: ``f E[(xi - Q(xi))^2]`` with ``f = pi^2`` (the package's convention) or ``f = 1``;
* ``qsin``: ``s^2 E[QSin(xi/s)]``, ``QSin(u) = sin^2(pi u)`` on ``[r_b, r_t]`` and
  ``pi^2 (u - r)^2`` beyond the nearer end ``r``.

Both have the same tails: ``pi^2 (x - r s)^2`` beyond ``r s`` (MSQE with ``f = pi^2``).
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import mpmath as mp
import numpy as np

# ---------------------------------------------------------------------------------------------
# closed-form partial moments  int_a^b (x - c)^2 f(x) dx  (mpmath, any precision)


def _normal_piece(mu, sig, a, b, c):
    """int_a^b (x - c)^2 phi((x - mu)/sig)/sig dx; a, b may be -inf/inf.  Antiderivative in
    y = (x - mu)/sig, d = (c - mu)/sig:  sig^2 [(1 + d^2) Phi(y) + (2 d - y) phi(y)]."""
    d = (c - mu) / sig

    def F(x, upper):
        if x == mp.inf:
            return sig**2 * (1 + d**2) if not upper else mp.mpf(0)
        if x == -mp.inf:
            return mp.mpf(0)
        y = (x - mu) / sig
        ph = mp.npdf(y)
        if upper:  # complement form: -(sig^2)[(1+d^2) Phi(-y) - (2d - y) phi(y)]  (no cancellation in tails)
            return -(sig**2) * ((1 + d**2) * mp.ncdf(-y) - (2 * d - y) * ph)
        return sig**2 * ((1 + d**2) * mp.ncdf(y) + (2 * d - y) * ph)

    # use the complement antiderivative when the piece lies right of the mean (F differs by a constant)
    upper = a != -mp.inf and a > mu
    return F(b, upper) - F(a, upper)


def _laplace_piece(mu, bb, a, b, c):
    """int_a^b (x - c)^2 exp(-|x - mu|/bb)/(2 bb) dx, split at mu, elementary antiderivatives
    (t = x - mu, e = c - mu):  right  -(1/2) e^{-t/bb} [(t-e)^2 + 2bb(t-e) + 2bb^2],
    left  (1/2) e^{t/bb} [(t-e)^2 - 2bb(t-e) + 2bb^2]."""
    e = c - mu

    def right(t):
        if t == mp.inf:
            return mp.mpf(0)
        return -mp.mpf(0.5) * mp.exp(-t / bb) * ((t - e) ** 2 + 2 * bb * (t - e) + 2 * bb**2)

    def left(t):
        if t == -mp.inf:
            return mp.mpf(0)
        return mp.mpf(0.5) * mp.exp(t / bb) * ((t - e) ** 2 - 2 * bb * (t - e) + 2 * bb**2)

    ta, tb = a - mu, b - mu
    out = mp.mpf(0)
    if ta < 0:
        out += left(min(tb, mp.mpf(0))) - left(ta)
    if tb > 0:
        out += right(tb) - right(max(ta, mp.mpf(0)))
    return out


def piece(law, a, b, c):
    """int_a^b (x - c)^2 f(x) dx for the law's continuous part (ReLU: restricted to x > 0)."""
    kind, mu, sc, relu = law
    a, b, c = mp.mpf(a), mp.mpf(b), mp.mpf(c)
    if relu:
        a = max(a, mp.mpf(0))
    if not a < b:
        return mp.mpf(0)
    if kind == "normal":
        return _normal_piece(mp.mpf(mu), mp.mpf(sc), a, b, c)
    if kind == "laplace":
        return _laplace_piece(mp.mpf(mu), mp.mpf(sc), a, b, c)
    raise ValueError(kind)


def _support_window(law, width=None):
    """The window ``mu +- width sc`` outside which the references drop the law's mass (default
    ``width``: 14 scales for the Normal, 50 for the Laplace; see :func:`ref_msqe_mp`)."""
    kind, mu, sc, relu = law
    if width is None:
        width = 14.0 if kind == "normal" else 50.0
    lo, hi = (mu - width * sc, mu + width * sc)
    if relu:
        lo = max(lo, 0.0)
        hi = max(hi, 0.0)
    return lo, hi


def ref_msqe_mp(law, s, r_b, r_t, f=None, dps=40, width=None):
    """MSQE risk ``f E[(xi - Q(xi))^2]`` (f = pi^2 default) by closed-form half cells in mpmath.

    Every half cell [k s, (k + 1/2) s], [(k - 1/2) s, k s] whose distance from the law's centre
    is at most ``width`` law scales is summed (default 14 Normal, 50 Laplace: the dropped mass is
    below 1e-40 resp. 1e-21 of the law and weighs at most s^2/4 each), plus the two tails."""
    with mp.workdps(dps):
        s = s if isinstance(s, mp.mpf) else mp.mpf(float(s))
        fr = mp.pi**2 if f is None else mp.mpf(f)
        lo, hi = _support_window(law, width)
        total = piece(law, -mp.inf, r_b * s, r_b * s) + piece(law, r_t * s, mp.inf, r_t * s)
        k0 = max(r_b, int(math.floor(lo / float(s))) - 1)
        k1 = min(r_t, int(math.ceil(hi / float(s))) + 1)
        parts = []
        for k in range(k0, k1 + 1):
            if k > r_b:
                parts.append(piece(law, (k - mp.mpf(0.5)) * s, k * s, k * s))
            if k < r_t:
                parts.append(piece(law, k * s, (k + mp.mpf(0.5)) * s, k * s))
        total += mp.fsum(parts)
        return fr * total


# ---------------------------------------------------------------------------------------------
# QSin by mpmath quad per grid cell (low bits) and plain NumPy Gauss-Legendre (any bits)


def _pdf_mp(law):
    kind, mu, sc, relu = law
    mu, sc = mp.mpf(mu), mp.mpf(sc)
    if kind == "normal":
        return lambda x: mp.npdf((x - mu) / sc) / sc
    return lambda x: mp.exp(-abs(x - mu) / sc) / (2 * sc)


def ref_qsin_mp(law, s, r_b, r_t, dps=25, width=None):
    """QSin risk: tails in closed form, interior cell by cell with mpmath.quad (tanh-sinh; the
    kink of the Laplace density and the ReLU origin are cell ends or added as split points)."""
    with mp.workdps(dps):
        s = mp.mpf(s)
        f = _pdf_mp(law)
        kind, mu, sc, relu = law
        lo, hi = _support_window(law, width)
        total = mp.pi**2 * (piece(law, -mp.inf, r_b * s, r_b * s) + piece(law, r_t * s, mp.inf, r_t * s))
        k0 = max(r_b, int(math.floor(lo / float(s))) - 1)
        k1 = min(r_t - 1, int(math.ceil(hi / float(s))) + 1)
        parts = []
        for k in range(k0, k1 + 1):
            a, b = k * s, (k + 1) * s
            if relu:
                a = max(a, mp.mpf(0))
                if a >= b:
                    continue
            pts = [a, b]
            if kind == "laplace" and a < mu < b:
                pts = [a, mp.mpf(mu), b]
            parts.append(mp.quad(lambda x: mp.sin(mp.pi * x / s) ** 2 * f(x), pts))
        return total + s**2 * mp.fsum(parts)


_GL = {}


def _gl(n):
    if n not in _GL:
        _GL[n] = np.polynomial.legendre.leggauss(n)
    return _GL[n]


def _pdf_np(law, x):
    kind, mu, sc, relu = law[:4]
    if kind == "student":  # law = ("student", loc, scale, relu, df)
        from scipy import stats

        return stats.t.pdf((x - mu) / sc, law[4]) / sc
    if kind == "normal":
        z = (x - mu) / sc
        return np.exp(-0.5 * z * z) / (sc * math.sqrt(2 * math.pi))
    return np.exp(-np.abs(x - mu) / sc) / (2 * sc)


def ref_risk_gl(law, s, r_b, r_t, reg="msqe", nodes=None, width=None, chunk=1 << 20):
    """Risk by plain NumPy Gauss-Legendre on every half cell (MSQE: the error is a polynomial
    times the density on a half cell; QSin: on a whole cell), tails from the mpmath closed form.
    Meant for 12-24 bits (millions of cells); relative error ~1e-14 (float64 summation of
    positive terms, GL error negligible on cells << law scale; for s > scale/16 the mpmath path is
    used instead)."""
    kind, mu, sc, relu = law[:4]
    if kind != "student" and s > sc / 16:
        # cells not small against the law's scale: Gauss-Legendre per cell is not accurate there; the
        # mpmath path is exact and cheap (few cells hold mass)
        return float(ref_msqe_mp(law, s, r_b, r_t, dps=30) if reg == "msqe" else ref_qsin_mp(law, s, r_b, r_t))
    if kind == "student":
        from scipy import integrate

        lo, hi = r_b * s, r_t * s  # every interior cell (at most 2^bits of them)
        if relu:
            lo = max(lo, 0.0)
        pdf = lambda x: float(_pdf_np(law, np.float64(x)))
        up = integrate.quad(lambda x: (x - r_t * s) ** 2 * pdf(x), r_t * s, np.inf, epsabs=0, epsrel=1e-13, limit=200)[0]
        dn = 0.0 if relu else integrate.quad(lambda x: (x - r_b * s) ** 2 * pdf(x), -np.inf, r_b * s, epsabs=0,
                                             epsrel=1e-13, limit=200)[0]
        tails = math.pi**2 * (up + dn)
    else:
        lo, hi = _support_window(law, width)
        with mp.workdps(30):
            tails = float(mp.pi**2 * (piece(law, -mp.inf, r_b * s, r_b * s) + piece(law, r_t * s, mp.inf, r_t * s)))
    k0 = max(r_b, int(math.floor(lo / s)) - 1)
    k1 = min(r_t - 1, int(math.ceil(hi / s)) + 1)
    if nodes is None:  # Student t cells are not << the law's scale at low bits: more nodes (measured:
        # 6 nodes 7e-10 off at 2 bits, 12+ nodes agree to 1e-15)
        nodes = (16 if kind == "student" else 6) if reg == "msqe" else 24
    t, w = _gl(nodes)
    acc = []
    kink = None  # the Laplace kink off the cell ends: that cell is integrated in mpmath instead
    if kind == "laplace" and r_b * s < mu < r_t * s and mu / s != math.floor(mu / s):
        kink = int(math.floor(mu / s))
        with mp.workdps(30):
            if reg == "msqe":
                ss = mp.mpf(s)
                ex = mp.pi**2 * (piece(law, kink * ss, (kink + mp.mpf(0.5)) * ss, kink * ss)
                                 + piece(law, (kink + mp.mpf(0.5)) * ss, (kink + 1) * ss, (kink + 1) * ss))
            else:
                ss = mp.mpf(s)
                f = _pdf_mp(law)
                a = max(kink * ss, mp.mpf(0)) if relu else kink * ss
                ex = ss**2 * mp.quad(lambda x: mp.sin(mp.pi * x / ss) ** 2 * f(x), [a, mp.mpf(mu), (kink + 1) * ss])
        acc.append(float(ex))
    for c0 in range(k0, k1 + 1, chunk):
        ks = np.arange(c0, min(c0 + chunk, k1 + 1), dtype=np.float64)[:, None]
        if reg == "msqe":
            # half cells [k s, (k+1/2) s] (error (x - k s)^2) and [(k+1/2) s, (k+1) s] (error (x - (k+1) s)^2)
            h = 0.5 * s
            for left in (True, False):
                a = ks * s + (0.0 if left else h)
                x = a + 0.5 * h * (t + 1.0)
                c = ks * s if left else (ks + 1) * s
                if relu:
                    m = x > 0
                    val = np.where(m, (x - c) ** 2 * _pdf_np(law, x), 0.0)
                else:
                    val = (x - c) ** 2 * _pdf_np(law, x)
                if kink is not None:
                    val = np.where(ks == kink, 0.0, val)
                acc.append(np.sum(val @ w) * 0.5 * h * math.pi**2)
        else:
            a = ks * s
            # split each cell at the law's kink / ReLU origin is not needed when it sits on a cell end
            x = a + 0.5 * s * (t + 1.0)
            u = x / s
            val = np.sin(np.pi * (u - np.rint(u))) ** 2 * s**2 * _pdf_np(law, x)
            if relu:
                val = np.where(x > 0, val, 0.0)
            if kink is not None:
                val = np.where(ks == kink, 0.0, val)
            acc.append(np.sum(val @ w) * 0.5 * s)
    return tails + math.fsum(acc)


def ref_msqe_deriv_mp(law, s, r_b, r_t, dps=40, width=None):
    """R'(s) of the MSQE risk (f = pi^2):  R' = -2 pi^2 E[K (xi - K s)],  K = clip(round(xi/s)).
    Piecewise: int (x - k s) k f(x) dx over each cell, in mpmath by quad of the linear moment."""
    with mp.workdps(dps):
        s = mp.mpf(s)
        f = _pdf_mp(law)
        kind, mu, sc, relu = law
        lo, hi = _support_window(law, width)

        def lin(a, b, c):  # int_a^b (x - c) f dx
            if relu:
                a = max(a, mp.mpf(0))
            if not a < b:
                return mp.mpf(0)
            pts = [a, b]
            if kind == "laplace" and a < mu < b:
                pts = [a, mp.mpf(mu), b]
            return mp.quad(lambda x: (x - c) * f(x), pts)

        tot = r_b * lin(-mp.inf, (r_b + mp.mpf(0.5)) * s, r_b * s) + r_t * lin((r_t - mp.mpf(0.5)) * s, mp.inf, r_t * s)
        k0 = max(r_b + 1, int(math.floor(lo / float(s))) - 1)
        k1 = min(r_t - 1, int(math.ceil(hi / float(s))) + 1)
        for k in range(k0, k1 + 1):
            if k == 0:
                continue
            tot += k * lin((k - mp.mpf(0.5)) * s, (k + mp.mpf(0.5)) * s, k * s)
        return -2 * mp.pi**2 * tot


def ref_qsin_deriv_mp(law, s, r_b, r_t, dps=40, width=None):
    """d/ds of the QSin risk s^2 E[QSin(xi/s)]: interior  int [2 s sin^2(pi x/s) - pi x sin(2 pi x/s)] f dx
    over [r_b s, r_t s] (the boundary terms vanish: sin^2 = 0 at integers), tails
    -2 pi^2 r int (x - r s) f dx beyond r s (r = r_t above, r_b below)."""
    with mp.workdps(dps):
        s = mp.mpf(s)
        f = _pdf_mp(law)
        kind, mu, sc, relu = law
        lo, hi = _support_window(law, width)

        def q(g, a, b):
            if relu:
                a = max(a, mp.mpf(0))
            if not a < b:
                return mp.mpf(0)
            pts = [a, b]
            if kind == "laplace" and a < mu < b:
                pts = [a, mp.mpf(mu), b]
            return mp.quad(lambda x: g(x) * f(x), pts)

        tot = -2 * mp.pi**2 * (r_t * q(lambda x: x - r_t * s, r_t * s, mp.inf)
                               + r_b * q(lambda x: x - r_b * s, -mp.inf, r_b * s))
        k0 = max(r_b, int(math.floor(lo / float(s))) - 1)
        k1 = min(r_t - 1, int(math.ceil(hi / float(s))) + 1)
        g = lambda x: 2 * s * mp.sin(mp.pi * x / s) ** 2 - mp.pi * x * mp.sin(2 * mp.pi * x / s)
        for k in range(k0, k1 + 1):
            tot += q(g, k * s, (k + 1) * s)
        return tot


def golden_min(fun, a, b, tol=1e-12, it=200):
    """Golden-section minimum of a unimodal fun on [a, b] (mpmath or float); returns (x, fun(x))."""
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = fun(c), fun(d)
    for _ in range(it):
        if abs(b - a) <= tol * abs(c):
            break
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = fun(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = fun(d)
    return (c, fc) if fc < fd else (d, fd)


# ---------------------------------------------------------------------------------------------
# data: exact enumeration with rationals


def data_optimum_exact(x, r_b, r_t):
    """Exact global min over s > 0 of mean (x - s clip(round(x/s), r_b, r_t))^2, in rationals.

    Breakpoints: s = |x_i| / (j + 1/2) where x_i/s crosses a half-integer inside the range.  On
    each open piece the indices K_i are constant, so the MSE is a quadratic in s minimised at
    sum x K / sum K^2 (clamped to the piece).  Returns (best_s as Fraction, best_mse as Fraction).
    Also s -> infinity (all K = 0) is covered by the last piece."""
    xs = [Fraction(float(v)) for v in np.asarray(x, dtype=np.float64).ravel()]
    n = len(xs)
    bps = set()
    for v in xs:
        if v > 0:
            for j in range(0, r_t):
                bps.add(v / (Fraction(2 * j + 1, 2)))
        elif v < 0:
            for j in range(0, -r_b):
                bps.add(-v / (Fraction(2 * j + 1, 2)))
    bps = sorted(b for b in bps if b > 0)
    edges = [Fraction(0)] + bps + [None]
    best = (None, None)

    def kidx(v, s):
        u = v / s
        k = math.floor(u + Fraction(1, 2))
        if u + Fraction(1, 2) == k and k % 2 == 1:  # tie: round half to even
            k -= 1
        return min(max(k, r_b), r_t)

    def mse_at(s):
        return sum((v - s * kidx(v, s)) ** 2 for v in xs) / n

    for i in range(len(edges) - 1):
        lo, hi = edges[i], edges[i + 1]
        mid = (lo + hi) / 2 if hi is not None else lo * 2 + 1
        ks = [kidx(v, mid) for v in xs]
        sk2 = sum(k * k for k in ks)
        if sk2 == 0:
            cand = [mid]
        else:
            sxk = sum(v * k for v, k in zip(xs, ks))
            s0 = sxk / sk2
            if s0 <= lo:
                s0 = lo
            if hi is not None and s0 >= hi:
                s0 = hi
            cand = [s0] if s0 > 0 else [mid]
        for s in cand:
            val = mse_at(s)  # at a piece end this is the true (rounded) assignment's value
            if best[1] is None or val < best[1]:
                best = (s, val)
    return best


def data_mse_exact(x, s, r_b, r_t):
    xs = [Fraction(float(v)) for v in np.asarray(x, dtype=np.float64).ravel()]
    s = Fraction(float(s))
    tot = Fraction(0)
    for v in xs:
        u = v / s
        k = math.floor(u + Fraction(1, 2))
        if u + Fraction(1, 2) == k and k % 2 == 1:
            k -= 1
        k = min(max(k, r_b), r_t)
        tot += (v - s * k) ** 2
    return tot / len(xs)


# ---------------------------------------------------------------------------------------------
# blocks: a direct implementation from the OCP MX v1.0 / NVFP4 text with ml_dtypes casts


def elem_cast(v, name):
    """Round-to-nearest-even, saturating cast of float32 values to an element format."""
    import ml_dtypes

    dt = {"e2m1": ml_dtypes.float4_e2m1fn, "e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
          "e2m3": ml_dtypes.float6_e2m3fn, "e3m2": ml_dtypes.float6_e3m2fn}[name]
    lmax = float(ml_dtypes.finfo(dt).max)
    v = np.clip(np.asarray(v, np.float32), -lmax, lmax)  # saturate first (e5m2 has inf)
    return v.astype(dt).astype(np.float32).astype(np.float64)


ELEM_EMAX = {"e2m1": 2, "e4m3": 8, "e5m2": 15, "e2m3": 2, "e3m2": 4}
ELEM_LMAX = {"e2m1": 6.0, "e4m3": 448.0, "e5m2": 57344.0, "e2m3": 7.5, "e3m2": 28.0}


def mx_quantize_ref(xb, elem, rule):
    """MX block quantization, xb float32 of shape (nb, k), E8M0 scale:
    floor: E = floor(log2 amax) - emax;  ceil (RCEIL): E = ceil(log2(amax / lmax));
    round: E = round-half-up(log2 amax) - emax.  Exponent clamped to [-127, 127]; zero block -> 0."""
    amax = np.max(np.abs(xb.astype(np.float64)), axis=-1)
    out = np.zeros(xb.shape, np.float64)
    for i in range(xb.shape[0]):
        a = float(amax[i])
        if a == 0.0:
            continue
        m, e = math.frexp(a)  # a = m 2^e, m in [0.5, 1): floor(log2 a) = e - 1 exactly
        fl = e - 1
        if rule == "floor":
            E = fl - ELEM_EMAX[elem]
        elif rule == "ceil":
            r = a / ELEM_LMAX[elem]
            m2, e2 = math.frexp(r)
            E = e2 - 1 if m2 == 0.5 else e2  # exact ceil(log2 r)
        elif rule == "round":
            # round-half-up of log2 a: up when a >= 2^(fl + 1/2)
            E = (fl + 1 if a >= 2.0 ** (fl + 0.5) else fl) - ELEM_EMAX[elem]
        else:
            raise ValueError(rule)
        E = min(max(E, -127), 127)
        X = 2.0**E
        out[i] = elem_cast(xb[i].astype(np.float64) / X, elem) * X
    return out


def e4m3_positive_codes():
    import ml_dtypes

    allv = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(np.float64)
    v = np.unique(allv[np.isfinite(allv) & (allv > 0)])
    return v  # 126 values, 2^-9 .. 448


def nvfp4_quantize_ref(xb, S):
    """NVFP4 recipe: block scale b = E4M3(amax / (6 S)) (round to nearest even, saturating at
    448), X = b S, element E2M1(x / X).  b == 0 -> block 0."""
    import ml_dtypes

    amax = np.max(np.abs(xb.astype(np.float64)), axis=-1)
    out = np.zeros(xb.shape, np.float64)
    for i in range(xb.shape[0]):
        t = np.float32(amax[i] / (6.0 * S))
        b = float(np.clip(t, 0, 448).astype(ml_dtypes.float8_e4m3fn).astype(np.float64))
        if b == 0.0:
            continue
        X = b * S
        out[i] = elem_cast(xb[i].astype(np.float64) / X, "e2m1") * X
    return out


def e2m1_levels():
    return np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], np.float64)


def levels_sse(xb, X, levels_pos):
    """Block SSE for scale X with symmetric level set (exact nearest level in float64,
    ties to the even code: for the audit ties have probability 0)."""
    lv = np.concatenate([-levels_pos[::-1][:-1], levels_pos])
    u = xb / X
    idx = np.clip(np.searchsorted(lv, u), 1, len(lv) - 1)
    lo, hi = lv[idx - 1], lv[idx]
    q = np.where(np.abs(u - lo) <= np.abs(hi - u), lo, hi)
    return np.sum((xb - X * q) ** 2, axis=-1)


@functools.lru_cache(maxsize=None)
def levels_of(elem):
    import ml_dtypes

    if elem == "int4n":
        return np.arange(0, 8, dtype=np.float64)
    if elem == "mxint8":
        return np.arange(0, 128, dtype=np.float64) / 64
    dt = {"e2m1": ml_dtypes.float4_e2m1fn, "e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2,
          "e2m3": ml_dtypes.float6_e2m3fn, "e3m2": ml_dtypes.float6_e3m2fn}[elem]
    nb = 8 if elem in ("e4m3", "e5m2") else (6 if elem in ("e2m3", "e3m2") else 4)
    if nb == 8:
        allv = np.arange(2**nb, dtype=np.uint8).view(dt).astype(np.float64)
    else:  # enumerate by casting a dense float32 range (every level is hit exactly by itself)
        allv = np.unique(np.abs(np.linspace(-64, 64, 2**20, dtype=np.float32)).astype(dt).astype(np.float64))
    v = np.unique(np.abs(allv[np.isfinite(allv)]))
    return v


def nearest(u, pos, lowest=None):
    """Nearest level of the symmetric set +-pos (exact in float64; ties to the smaller-magnitude
    level's even code are not needed: ties have probability 0 on the audit's data)."""
    lv = np.concatenate([-pos[::-1][:-1], pos])
    if lowest is not None:  # an extra level below -max(pos) (MXINT8: -2 = -128/64, two's complement)
        lv = np.concatenate([[lowest], lv])
    u = np.clip(u, lv[0], lv[-1])
    idx = np.clip(np.searchsorted(lv, u), 1, len(lv) - 1)
    lo, hi = lv[idx - 1], lv[idx]
    return np.where(np.abs(u - lo) <= np.abs(hi - u), lo, hi)


def block_ref_quant(xb, elem, rule, scale_format, S=1.0, c=1.0):
    """Direct block quantization (rows of xb are blocks), from the docs' definitions."""
    pos = levels_of(elem)
    lmax = pos[-1]
    emax = {"e2m1": 2, "e4m3": 8, "e5m2": 15, "e2m3": 2, "e3m2": 4, "mxint8": 0, "int4n": 2}[elem]
    amax = np.max(np.abs(xb), axis=-1).astype(np.float64)
    X = np.zeros_like(amax)
    nz = amax > 0
    if scale_format == "e8m0":
        fl = np.floor(np.log2(np.where(nz, amax, 1.0)))
        # exact floor(log2) via frexp
        m, e = np.frexp(np.where(nz, amax, 1.0))
        fl = e - 1.0
        if rule == "floor":
            E = fl - emax
        elif rule == "ceil":
            m2, e2 = np.frexp(np.where(nz, c * amax / lmax, 1.0))
            E = np.where(m2 == 0.5, e2 - 1.0, e2 * 1.0)
        elif rule == "round":
            E = np.where(np.where(nz, amax, 1.0) >= 2.0 ** (fl + 0.5), fl + 1, fl) - emax
        elif rule == "clip":
            m2, e2 = np.frexp(np.where(nz, c * amax / lmax, 1.0))
            E = np.where(m2 == 0.5, e2 - 1.0, e2 * 1.0)
        E = np.clip(E, -127, 127)
        X = np.where(nz, 2.0**E, 0.0)
    elif scale_format == "e4m3":
        codes = e4m3_positive_codes()
        t = (c * amax / lmax) / S  # the target c amax / lmax, then in units of S (as the package; see report)
        if rule in ("round", "clip"):
            # nearest E4M3 value (ties to even code) with saturation at 448; below half of 2^-9 -> 0
            allc = np.r_[0.0, codes]
            idx = np.clip(np.searchsorted(allc, t), 1, len(allc) - 1)
            lo, hi = allc[idx - 1], allc[idx]
            b = np.where(t - lo < hi - t, lo, np.where(t - lo > hi - t, hi, np.where(idx % 2 == 0, hi, lo)))
            b = np.where(t >= 448, 448.0, b)
        elif rule == "ceil":
            idx = np.searchsorted(codes, t, side="left")
            b = codes[np.minimum(idx, len(codes) - 1)]
        elif rule == "floor":
            idx = np.searchsorted(codes, t, side="right") - 1
            b = np.where(idx >= 0, codes[np.maximum(idx, 0)], 0.0)
        X = np.where(nz, b * S, 0.0)
    elif scale_format == "fp16":
        t = c * amax / lmax
        X = np.where(nz, np.minimum(t, 65504.0).astype(np.float16).astype(np.float64), 0.0)  # saturating
    elif scale_format == "real":
        X = np.where(nz, c * amax / lmax, 0.0)
    Xs = np.where(X > 0, X, 1.0)[..., None]
    low = -2.0 if elem == "mxint8" else None
    out = np.where(X[..., None] > 0, nearest(xb / Xs, pos, low) * Xs, 0.0)
    return out, X


NF4_QLORA = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                      -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                      0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                      0.7229568362236023, 1.0])  # the QLoRA paper's / bitsandbytes' NF4 code book


def full_levels(name):
    """Sorted level set of a format in its own units (minifloats from ml_dtypes, NF4 from QLoRA)."""
    if name == "nf4":
        return NF4_QLORA.copy()
    pos = levels_of(name)
    return np.concatenate([-pos[::-1][:-1], pos])


def ref_format_msqe_mp(law, s, levels, dps=40):
    """pi^2 E[(xi - s q(xi/s))^2], q = nearest level: cells between consecutive midpoints, closed form."""
    with mp.workdps(dps):
        s = mp.mpf(float(s))
        lv = [mp.mpf(float(v)) for v in levels]
        mids = [(a + b) / 2 for a, b in zip(lv[:-1], lv[1:])]
        edges = [-mp.inf] + [m * s for m in mids] + [mp.inf]
        return mp.pi**2 * mp.fsum(piece(law, edges[j], edges[j + 1], lv[j] * s) for j in range(len(lv)))


def format_data_optimum_bruteforce(x, levels):
    """min over s > 0 of mean (x - s q(x/s))^2 (q nearest level, levels sorted, 0 included): every
    breakpoint s = x_i / m_j (m_j a midpoint with the sign of x_i) and every piece's clamped stationary
    point, evaluated directly in float64.  Returns (s, mse)."""
    x = np.asarray(x, np.float64).ravel()
    lv = np.asarray(levels, np.float64)
    mids = 0.5 * (lv[:-1] + lv[1:])
    bp = []
    for v in x:
        for m in mids:
            if m != 0 and v / m > 0:
                bp.append(v / m)
    bp = np.unique(np.array(bp))

    def q_of(s):
        u = x / s
        idx = np.clip(np.searchsorted(lv, u), 1, len(lv) - 1)
        lo, hi = lv[idx - 1], lv[idx]
        return np.where(np.abs(u - lo) <= np.abs(hi - u), lo, hi)

    def mse(s):
        return float(np.mean((x - s * q_of(s)) ** 2))

    edges = np.r_[bp[0] * 0.5, bp, bp[-1] * 2]
    best = (None, np.inf)
    for a, b in zip(edges[:-1], edges[1:]):
        mid = 0.5 * (a + b)
        q = q_of(mid)
        den = float(np.dot(q, q))
        cands = [a, b, mid]
        if den > 0:
            cands.append(min(max(float(np.dot(x, q)) / den, a), b))
        for c in cands:
            v = mse(c)
            if v < best[1]:
                best = (c, v)
    return best


def data_optimum_sweep(x, r_b, r_t, top=40):
    """Exact-enough global optimum for large n: sweep every breakpoint in ascending s keeping
    Sxk = sum x K and Skk = sum K^2 (cumulative sums), minimise each piece's quadratic, then
    re-evaluate the best ``top`` pieces' minimisers directly (residuals formed one by one).
    Returns (s, mse).  Independent of the package: plain NumPy."""
    x = np.asarray(x, np.float64).ravel()
    pos, neg = x[x > 0], -x[x < 0]
    # events: (s, dSxk, dSkk) when K steps toward 0 by one at s = |x| / (j + 1/2)
    ev_s, ev_dx, ev_dk = [], [], []
    for vals, top_k, sign in ((pos, r_t, 1.0), (neg, -r_b, -1.0)):
        if vals.size == 0 or top_k == 0:
            continue
        j = np.arange(top_k, dtype=np.float64)  # K goes j+1 -> j (magnitude)
        S = vals[:, None] / (j[None, :] + 0.5)
        ev_s.append(S.ravel())
        # signed K: sign*(j+1) -> sign*j ; x K changes by -sign*x = -|x| ; K^2 changes by j^2 - (j+1)^2
        ev_dx.append(np.broadcast_to(-vals[:, None], S.shape).ravel())
        ev_dk.append(np.broadcast_to(-(2 * j + 1)[None, :], S.shape).ravel())
    s_ev = np.concatenate(ev_s)
    order = np.argsort(s_ev, kind="stable")
    s_ev = s_ev[order]
    dx = np.concatenate(ev_dx)[order]
    dk = np.concatenate(ev_dk)[order]
    Sxk0 = float(np.sum(np.abs(pos)) * r_t + np.sum(neg) * (-r_b))
    Skk0 = float(pos.size * r_t**2 + neg.size * r_b**2)
    Sxk = np.r_[Sxk0, Sxk0 + np.cumsum(dx)]
    Skk = np.r_[Skk0, Skk0 + np.cumsum(dk)]
    lo = np.r_[0.0, s_ev]
    hi = np.r_[s_ev, np.inf]
    with np.errstate(divide="ignore", invalid="ignore"):
        st = np.where(Skk > 0, Sxk / Skk, np.inf)
    st = np.minimum(np.maximum(st, lo), hi)
    st = np.where(np.isfinite(st), st, np.where(np.isfinite(hi), hi, lo * 2 + 1))
    sx2 = float(np.dot(x, x))
    val = sx2 - 2 * st * Sxk + st * st * Skk
    idx = np.argsort(val)[:top]
    best = (None, np.inf)
    for i in idx:
        s = float(st[i])
        if not s > 0:
            continue
        for t in (s, np.nextafter(s, 0), np.nextafter(s, np.inf)):
            k = np.clip(np.rint(x / t), r_b, r_t)
            m = float(np.mean((x - t * k) ** 2))
            if m < best[1]:
                best = (t, m)
    return best
