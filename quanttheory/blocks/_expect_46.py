"""Characteristic-function statistics of the ``4over6`` block error difference at one block absmax.

Private helper of :mod:`quanttheory.blocks.expectation_min` (telescoped ``4over6``).  For a
fixed pair of candidate scales ``(X6, X4)`` and ``k`` iid elements ``xi_i`` with the law of
``xi`` given ``|xi| <= m``, let ``d(x) = (x - R6(x))^2 - (x - R4(x))^2`` (``R6``, ``R4`` the two
reconstructions) and ``S = sum_i d(xi_i)`` (the block's ``SSE_6 - SSE_4``; the rule keeps
``X4`` iff ``S > 0``).  This module returns

* ``E|S|`` (so ``E min(SSE_6, SSE_4) = (E SSE_6 + E SSE_4 - E|S|) / 2``),
* ``P(S > 0)`` (the probability that the block keeps ``X4``),
* ``E[1{xi_1 saturates under X6}; S <= 0]`` and ``E[1{xi_1 saturates under X4}; S > 0]``,

each with a bound on its error.  ``d`` is linear in ``x`` on each cell of the common refinement
of both rounding grids (cut also at ``+-6 X``, ``0`` and the law's centre); cells where both
reconstructions agree have ``d = 0`` (an atom of mass ``p0``).  In grid units ``y = x / U`` and
standard units ``z = (x - loc) / scale``, ``d / U^2 = a_j z + b_j`` on cell ``j`` and the cell's
characteristic function is in closed form:

* Normal: ``int_l^u e^{i w z} phi(z) dz = F(l, w) - F(u, w)`` for ``0 <= l < u`` with
  ``F(z, w) = (1/2) exp(-z^2/2 + i w z) wofz((w + i z) / sqrt 2)`` (Faddeeva function; the
  argument stays in the upper half plane, so ``|wofz| <= 1``: no overflow or cancellation);
  cells with ``u <= 0`` by ``z -> -z``;
* Laplace: ``(1/2) int_l^u e^{(i w -+ 1) z} dz`` on either side of the kink.

With ``Psi(t) = sum_j cf_j(t) = p0 + psi(t)`` the law of one element's ``d``:

    E|S|     = (2/pi) int_0^inf (1 - Re Psi^k) / t^2 dt,
    P(S > 0) = (1 - p0^k) / 2 + (1/pi) int_0^inf Im Psi^k / t dt           (Gil-Pelaez; P(S = 0) = p0^k),
    nu(S > 0) = (nu_tot - c p0^(k-1)) / 2 + (1/pi) int_0^inf Im(Chi Psi^(k-1)) / t dt,

``Chi = c + chi(t)`` the (sub-stochastic) characteristic function restricted to the saturating
cells (``c`` their atom mass).  Tails: integrating by parts on a cell where the density is
monotone, ``|cf_j(t)| <= 2 max(f(l), f(u)) / (t |a_j|)``, so ``|psi| <= C / t`` and
``|Psi^k - p0^k| <= rho(t) = (p0 + C/t)^k - p0^k``, a polynomial in ``1/t`` with non-negative
coefficients; hence ``int_T^inf rho / t^2 <= rho(T) / T`` and ``int_T^inf rho / t <= rho(T)``,
and ``int_T^inf (1 - p0^k) / t^2 = (1 - p0^k) / T`` exactly.  ``T`` is the smallest value on a
geometric grid with every bound below its target.  ``[0, T]`` is cut into panels of half a
period of ``|E S| + 8 sd(S)`` (in ``t`` units), 16-point Gauss-Legendre per panel; the
difference to a 10-point rule on the same panels is added to the error (an indicator, not a
bound).  Pure NumPy / SciPy (``scipy.special.wofz``): no compilation.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np

_SQRT2 = math.sqrt(2.0)


@lru_cache(maxsize=4)
def _gl(n):
    return np.polynomial.legendre.leggauss(n)


def _cell_cf(law, zl, zu, w):
    """int_zl^zu e^{i w z} f(z) dz for the standard density f (0 Normal, 1 Laplace); zl, zu of shape
    (C,) with every cell on one side of 0; w of shape (..., C).  Returns complex (..., C)."""
    pos = zl >= 0.0
    # reflect cells left of 0: int_zl^zu e^{iwz} f = int_{-zu}^{-zl} e^{-iwz} f  (f even)
    lo = np.where(pos, zl, -zu)
    hi = np.where(pos, zu, -zl)
    ww = np.where(pos, w, -w)
    if law == 0:
        from scipy.special import wofz

        def F(z):
            return 0.5 * np.exp(-0.5 * z * z + 1j * ww * z) * wofz((ww + 1j * z) / _SQRT2)

        return F(lo) - F(hi)
    s = 1j * ww - 1.0
    return 0.5 * (np.exp(s * hi) - np.exp(s * lo)) / s


def _std_pdf(law, z):
    if law == 0:
        return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return 0.5 * np.exp(-np.abs(z))


def cut_points(m, X6, X4, mids, lmin, lmax, extra=0.0):
    """Sorted cell edges of ``[-m, m]`` for the two candidate scales ``X6, X4`` (0: absent): ``0``, ``+-m``,
    ``extra`` (the law's centre, or 0), each candidate's rounding midpoints ``X mids`` and saturation points
    ``X lmin, X lmax``; edges closer than ``1e-15 m`` merged, the ends exactly ``-m, m``."""
    cuts = [np.array([0.0, -m, m, extra])]
    for X in (X6, X4):
        if X > 0:
            cuts.append(X * mids)
            cuts.append(np.array([X * lmin, X * lmax]))
    x = np.unique(np.concatenate(cuts))
    x = x[(x >= -m) & (x <= m)]
    keep = np.concatenate([[True], np.diff(x) > 1e-15 * m])
    x = x[keep]
    x[0], x[-1] = -m, m
    return x


def cells(fmt, m, X6, X4, loc, scale):
    """Cells of [-m, m] on which d is linear (module doc).  Returns a dict of per-cell arrays in
    standard units: zl, zu, a, b (d / U^2 = a z + b), atom (bool), sat6, sat4 (bool), and U."""
    mids = np.asarray(fmt.midpoints, float)
    lmax = float(fmt.levels[-1])
    lmin = float(fmt.levels[0])       # saturation: x / X beyond [lmin, lmax] (MXINT8 is asymmetric)
    U = X6 if X6 > 0 else (X4 if X4 > 0 else m)
    x = cut_points(m, X6, X4, mids, lmin, lmax, loc)
    lo, hi = x[:-1], x[1:]
    ctr = 0.5 * (lo + hi)

    def rec(X):
        if X <= 0:
            return np.zeros_like(ctr)
        return X * np.asarray(fmt.quantize(ctr / X), float)

    R6, R4 = rec(X6), rec(X4)
    atom = np.abs(R4 - R6) <= 1e-12 * (np.abs(R4) + np.abs(R6))
    r6, r4 = R6 / U, R4 / U
    alpha = np.where(atom, 0.0, 2.0 * (r4 - r6))          # d / U^2 = alpha y + beta, y = x / U
    beta = np.where(atom, 0.0, r6 * r6 - r4 * r4)
    # y = (scale z + loc) / U
    a = alpha * scale / U
    b = beta + alpha * loc / U
    sat6 = ((ctr > X6 * lmax) | (ctr < X6 * lmin)) if X6 > 0 else np.zeros(ctr.shape, bool)
    sat4 = ((ctr > X4 * lmax) | (ctr < X4 * lmin)) if X4 > 0 else np.zeros(ctr.shape, bool)
    return dict(zl=(lo - loc) / scale, zu=(hi - loc) / scale, a=a, b=b, atom=atom, sat6=sat6, sat4=sat4, U=U)


def _partial(law, l, u):
    """(int_l^u f, int_l^u z f) for the standard density, cells on one side of 0 (arrays)."""
    if law == 0:
        from scipy.special import ndtr

        pos = l >= 0
        P = np.where(pos, ndtr(-l) - ndtr(-u), ndtr(u) - ndtr(l))
        return P, _std_pdf(0, l) - _std_pdf(0, u)
    pos = l >= 0
    el, eu = np.exp(-np.abs(l)), np.exp(-np.abs(u))
    P = np.where(pos, 0.5 * (el - eu), 0.5 * (eu - el))
    M1 = np.where(pos, 0.5 * ((l + 1) * el - (u + 1) * eu), 0.5 * ((u - 1) * eu - (l - 1) * el))
    return P, M1


def _one_element(law, zl, zu, a, b, sel):
    """Per non-atom cell (indices sel): (E[|d|; cell], P(d > 0; cell)) in units of d / U^2, with the
    unnormalized standard density (d = a z + b, split at the zero z* = -b / a)."""
    l, u, aa, bb = zl[sel], zu[sel], a[sel], b[sel]
    zs = np.clip(-bb / aa, l, u)
    # part above z*: d has the sign of a; below: the opposite sign
    Pu, Mu = _partial(law, zs, u)
    Pl, Ml = _partial(law, l, zs)
    su = np.sign(aa)
    Eabs = su * (aa * Mu + bb * Pu) - su * (aa * Ml + bb * Pl)
    Ppos = np.where(aa > 0, Pu, Pl)
    return np.maximum(Eabs, 0.0), Ppos


def _rho2(p0, C, n, T, c=None, Cc=None):
    """Bound of the characteristic function beyond first order in 1/t (coefficients >= 0):
    (p0 + C/T)^n - p0^n - n p0^(n-1) C / T, or with a factor (c + Cc / T) and its first-order
    terms removed.  Computed from the binomial sum (no cancellation)."""
    x = C / T
    j = np.arange(2, n + 1)
    from scipy.special import comb

    terms = comb(n, j) * p0 ** (n - j) * x ** j if n >= 2 else np.zeros(0)
    s2 = float(np.sum(terms))                        # sum_{j >= 2}
    if c is None:
        return s2
    s1 = n * p0 ** (n - 1) * x if n >= 1 else 0.0   # j = 1 term
    return c * s2 + (Cc / T) * (s1 + s2)


def _endpoint_setup(law, loc, scale, fmt, m, X6, X4, k, need):
    """The parts of one piece end's statistics that both inversions (:func:`endpoint_stats`,
    :func:`endpoint_stats_fs`) share: the cells, their probabilities, the atom, the bounds
    ``|cf_j(t)| <= Cj / t``, the saturating cells, and the exact one-non-atom-element terms."""
    cl = cells(fmt, m, X6, X4, loc, scale)
    U = cl["U"]
    zl, zu, a, b, atom = cl["zl"], cl["zu"], cl["a"], cl["b"], cl["atom"]
    p = np.real(_cell_cf(law, zl, zu, np.zeros(zl.shape)))
    G = float(np.sum(p))
    p = p / G
    p0 = float(np.sum(p[atom]))
    q = 1.0 - p0
    na = ~atom & (p > 0)
    sel = np.nonzero(na)[0]
    fmax = np.maximum(_std_pdf(law, zl), _std_pdf(law, zu)) / G
    Cj = np.where(na, 2.0 * fmax / np.where(na, np.abs(a), 1.0), 0.0)
    C = float(np.sum(Cj))
    sat6, sat4 = cl["sat6"], cl["sat4"]
    c6, C6, n6 = float(np.sum(p[sat6 & atom])), float(np.sum(Cj[sat6])), float(np.sum(p[sat6]))
    c4, C4, n4 = float(np.sum(p[sat4 & atom])), float(np.sum(Cj[sat4])), float(np.sum(p[sat4]))
    E1, P1 = _one_element(law, zl, zu, a, b, sel)
    E1, P1 = E1 / G, P1 / G
    s6, s4 = sat6[sel], sat4[sel]
    n = k
    need_p, need6, need4 = need
    need6 = need6 and n6 > 0
    need4 = need4 and n4 > 0
    # first-order (one non-atom element) parts, exact
    abs1 = n * p0 ** (n - 1) * float(np.sum(E1))
    P_1 = n * p0 ** (n - 1) * float(np.sum(P1))
    nu6_1 = c6 * (n - 1) * p0 ** (n - 2) * float(np.sum(P1)) + p0 ** (n - 1) * float(np.sum(P1[s6])) if n >= 2 else \
        float(np.sum(P1[s6]))
    nu4_1 = c4 * (n - 1) * p0 ** (n - 2) * float(np.sum(P1)) + p0 ** (n - 1) * float(np.sum(P1[s4])) if n >= 2 else \
        float(np.sum(P1[s4]))
    mR = 1.0 - p0 ** n - n * p0 ** (n - 1) * q
    mR6 = n6 - c6 * p0 ** (n - 1) - (c6 * (n - 1) * p0 ** (n - 2) * q if n >= 2 else 0.0) - p0 ** (n - 1) * (n6 - c6)
    mR4 = n4 - c4 * p0 ** (n - 1) - (c4 * (n - 1) * p0 ** (n - 2) * q if n >= 2 else 0.0) - p0 ** (n - 1) * (n4 - c4)
    return (U, zl, zu, a, b, atom, p, G, p0, q, sel, Cj, C, sat6, sat4, c6, C6, n6, c4, C4, n4, E1, P1, s6, s4,
            n, need_p, need6, need4, abs1, P_1, nu6_1, nu4_1, mR, mR6, mR4)


def _d_moments(law, zl, zu, a, b, G, n):
    """Mean and standard deviation of S (the sum of k per-element differences d = a z + b), by a
    16-point Gauss-Legendre rule per cell in z (used only to place the t panels / the period L)."""
    zq, wq = _gl(16)
    zm, zh = 0.5 * (zl + zu), 0.5 * (zu - zl)
    zz = zm[:, None] + zh[:, None] * zq
    ww = zh[:, None] * wq * _std_pdf(law, zz) / G
    dd = a[:, None] * zz + b[:, None]
    e1, e2 = float(np.sum(ww * dd)), float(np.sum(ww * dd * dd))
    mu, sd = n * e1, math.sqrt(max(n * (e2 - e1 * e1), 0.0))
    return mu, sd


def _r2(p0, x, nn, xc=None, c=None):
    """Binomial-expansion remainder bound of order >= 2 (``xc``, ``c``: the saturating cells' variant)."""
    from scipy.special import comb

    j = np.arange(2, nn + 1)
    s2 = (comb(nn, j)[None, :] * p0 ** (nn - j)[None, :] * x[:, None] ** j[None, :]).sum(axis=1) \
        if nn >= 2 else np.zeros(x.shape)
    if xc is None:
        return s2
    s1 = nn * p0 ** (nn - 1) * x if nn >= 1 else np.zeros(x.shape)
    return c * s2 + xc * (s1 + s2)


def _sym_cells(loc, sel, zl, sat6, sat4, s6, s4):
    """Cells to integrate and their weight: for loc = 0 the law and d are even (E2M1 is symmetric),
    the cells mirror each other and carry the same characteristic function, so the cells with
    z >= 0 are integrated twice."""
    wsym = 1.0
    cs = sel
    if loc == 0.0:
        cs = sel[zl[sel] >= 0.0]
        wsym = 2.0
        c6s, c4s = sat6[cs], sat4[cs]
    else:
        c6s, c4s = s6, s4
    return wsym, cs, c6s, c4s


def _cf_sums(law, tt, loc, sel, zl, zu, a, b, sat6, sat4, s6, s4, G, need6, need4, chunk):
    """Characteristic function of one element's non-atom part at the nodes ``tt`` (``psi``) and of its
    saturating cells (``chi6``, ``chi4``; zeros when not needed), summed over the cells chosen by
    :func:`_sym_cells`; ``chunk`` bounds the (nodes x cells) temporaries to about that many entries."""
    wsym, cs, c6s, c4s = _sym_cells(loc, sel, zl, sat6, sat4, s6, s4)
    psi = np.zeros(tt.size, complex)
    chi6 = np.zeros(tt.size, complex)
    chi4 = np.zeros(tt.size, complex)
    step = max(1, chunk // max(cs.size, 1))
    for s0 in range(0, tt.size, step):
        t = tt[s0:s0 + step, None]
        cf = _cell_cf(law, zl[cs], zu[cs], t * a[cs]) * np.exp(1j * t * b[cs]) * (wsym / G)
        psi[s0:s0 + step] = cf.sum(axis=1)
        if need6:
            chi6[s0:s0 + step] = cf[:, c6s].sum(axis=1)
        if need4:
            chi4[s0:s0 + step] = cf[:, c4s].sum(axis=1)
    return psi, chi6, chi4


def endpoint_stats(law, loc, scale, fmt, m, X6, X4, k, eps_abs, eps_p, need=(True, True, True)):
    """Statistics of S at one block absmax m (module doc), the one-non-atom-element terms of the
    binomial expansion in closed form (so the remaining characteristic function is O(t^-2)).
    ``eps_abs``: target absolute error of ``E|S|`` (data units^2); ``eps_p``: of each probability
    requested by ``need = (P(S>0), nu6(S<=0), nu4(S>0))`` (the others are returned as NaN).

    Returns (E|S|, P(S>0), nu6(S<=0), nu4(S>0), err_abs, err_p, number of t nodes)."""
    (U, zl, zu, a, b, atom, p, G, p0, q, sel, Cj, C, sat6, sat4, c6, C6, n6, c4, C4, n4, E1, P1, s6, s4, n, need_p,
     need6, need4, abs1, P_1, nu6_1, nu4_1, mR, mR6, mR4) = _endpoint_setup(law, loc, scale, fmt, m, X6, X4, k, need)
    # moments of one d / U^2 (for the t panels): 16-point GL per cell in z
    mu, sd = _d_moments(law, zl, zu, a, b, G, n)
    ea = eps_abs / (U * U) * math.pi / 2          # target of the t-integral of E|S| / U^2
    ep = eps_p * math.pi

    # |cf_j(t)| <= min(p_j, Cj / t): x(t) = sum_j min(p_j, Cj / t) bounds |psi(t)| (x6, x4: the
    # saturating cells); beyond t_max = max Cj / p_j every min is Cj / t (the polynomial form)
    pj, Cs = p[sel], Cj[sel]
    tmax = float(np.max(Cs / np.maximum(pj, 1e-300))) if sel.size else 1.0

    def xs(t):
        mm = np.minimum(pj[None, :], Cs[None, :] / t[:, None])
        return mm.sum(axis=1), mm[:, s6].sum(axis=1), mm[:, s4].sum(axis=1)

    def r2(x, xc=None, c=None, nn=n):
        return _r2(p0, x, nn, xc, c)

    def bounds(T):
        tN = max(T, tmax) * 1.001
        nseg = int(math.ceil(math.log(tN / T) / math.log(1.1))) if tN > T else 0
        tg = T * 1.1 ** np.arange(nseg + 1)
        tg[-1] = max(tg[-1], tN)
        x, x6, x4 = xs(tg)
        inv = 1.0 / tg[:-1] - 1.0 / tg[1:]
        lg = np.log(tg[1:] / tg[:-1])
        tN = tg[-1]
        out = [float(r2(x)[:-1] @ inv) + _rho2(p0, C, n, tN) / (3 * tN)]
        out.append(float(r2(x)[:-1] @ lg) + _rho2(p0, C, n, tN) / 2 if need_p else 0.0)
        out.append(float(r2(x, x6, c6, n - 1)[:-1] @ lg) + _rho2(p0, C, n - 1, tN, c6, C6) / 2 if need6 else 0.0)
        out.append(float(r2(x, x4, c4, n - 1)[:-1] @ lg) + _rho2(p0, C, n - 1, tN, c4, C4) / 2 if need4 else 0.0)
        return out

    T = 1.0
    for _ in range(2000):
        bA, bP, b6, b4 = bounds(T)
        if bA <= ea and max(bP, b6, b4) <= ep:
            break
        T *= 1.1
    freq = max(abs(mu) + 8.0 * sd, 1e-6)
    npan = int(min(max(math.ceil(T * freq / math.pi), 8), 200000))
    edges = np.linspace(0.0, T, npan + 1)
    hp = 0.5 * np.diff(edges)
    cp = 0.5 * (edges[:-1] + edges[1:])
    z16, w16 = _gl(16)
    z10, w10 = _gl(10)
    tt = np.concatenate([(cp[:, None] + hp[:, None] * z16).ravel(), (cp[:, None] + hp[:, None] * z10).ravel()])
    n16 = npan * 16
    # loc = 0: the law and d are even (E2M1 is symmetric), the cells mirror each other and carry
    # the same characteristic function: integrate the cells with z >= 0 only, twice
    psi, chi6, chi4 = _cf_sums(law, tt, loc, sel, zl, zu, a, b, sat6, sat4, s6, s4, G, need6, need4, 1 << 19)
    Psi = p0 + psi
    PsiN1 = Psi ** (n - 1)
    R = PsiN1 * Psi - p0 ** n - n * p0 ** (n - 1) * psi
    wA = np.concatenate([(hp[:, None] * w16).ravel(), -(hp[:, None] * w10).ravel()])
    wB = np.concatenate([(hp[:, None] * w16).ravel(), np.zeros(tt.size - n16)])

    def integ(v):
        return float(v @ wB), abs(float(v @ wA))

    bA, bP, b6, b4 = bounds(T)
    Iabs, eabs = integ((mR - R.real) / (tt * tt))
    abs_S = (abs1 + (2.0 / math.pi) * (Iabs + mR / T)) * U * U
    err_abs = (2.0 / math.pi) * (eabs + bA) * U * U
    P_pos = nu6_le = nu4_pos = math.nan
    errs = [0.0]
    if need_p:
        IP, eP = integ(R.imag / tt)
        P_pos = P_1 + 0.5 * mR + IP / math.pi
        errs.append((eP + bP) / math.pi)
    pn1 = p0 ** (n - 2) if n >= 2 else 0.0
    if need6:
        R6 = (c6 + chi6) * PsiN1 - c6 * p0 ** (n - 1) - c6 * (n - 1) * pn1 * psi - p0 ** (n - 1) * chi6
        I6, e6 = integ(R6.imag / tt)
        nu6_le = n6 - (nu6_1 + 0.5 * mR6 + I6 / math.pi)
        errs.append((e6 + b6) / math.pi)
    elif need[1]:
        nu6_le = 0.0
    if need4:
        R4 = (c4 + chi4) * PsiN1 - c4 * p0 ** (n - 1) - c4 * (n - 1) * pn1 * psi - p0 ** (n - 1) * chi4
        I4, e4 = integ(R4.imag / tt)
        nu4_pos = nu4_1 + 0.5 * mR4 + I4 / math.pi
        errs.append((e4 + b4) / math.pi)
    elif need[2]:
        nu4_pos = 0.0
    return abs_S, P_pos, nu6_le, nu4_pos, err_abs, max(errs), tt.size


# ------------------------------------------------------------------ Fourier series (odd harmonics)
def _cell_mgf(law, zl, zu, a, b, th):
    """int_zl^zu e^{th (a z + b)} f(z) dz per cell (standard density; th scalar), or an upper bound
    where a factor underflows (Normal: Mills' ratio beyond 30 sd), inf on overflow; computed in
    log space so that no 0 * large product loses mass (the Chernoff bound needs an upper bound)."""
    s = th * a
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if law == 0:
            from scipy.special import ndtr

            lo, hi = zl - s, zu - s
            side = (lo > 0) | (hi < 0)
            x0 = np.where(lo > 0, lo, -hi)
            x1 = np.where(lo > 0, hi, -lo)
            Pside = ndtr(-x0) - ndtr(-x1)
            Pmid = ndtr(hi) - ndtr(lo)
            P = np.where(side, Pside, Pmid)
            lp = np.where(P > 0, np.log(np.maximum(P, 1e-300)), -np.inf)
            mills = -0.5 * x0 * x0 - np.log(np.maximum(x0, 1e-300) * math.sqrt(2 * math.pi))
            lp = np.where(side & (x0 >= 30.0), mills, lp)
            return np.exp(lp + th * b + 0.5 * s * s)
        pos = zl >= 0
        r = np.where(pos, s - 1.0, s + 1.0)
        w = zu - zl
        ar = np.abs(r)
        zt = np.where(r > 0, zu, zl)
        small = ar * w < 1e-8
        lc = np.where(small, np.log(w), np.log(-np.expm1(-ar * w) / np.where(small, 1.0, ar)))
        return 0.5 * np.exp(r * zt + th * b + lc)


def _alias_L(law, zl, zu, a, b, G, p0, k, L0, tgt_abs, tgt_p, Lmax=math.inf):
    """Smallest ``L = L0 1.1^i`` with ``E[|S|; |S| >= L] <= tgt_abs`` and ``P(|S| >= L) <= tgt_p``
    (``S / U^2`` = sum of ``k`` iid ``d / U^2``; ``d / U^2 = a z + b`` on the given non-atom cells, 0
    with mass ``p0``).  Chernoff with the exact moment generating function ``M`` (closed form per
    cell, :func:`_cell_mgf`): for ``s >= L > 0`` and ``th >= 1 / L``, ``s <= L e^{th (s - L)}``
    (``e^x >= 1 + x``), so ``E[S; S >= L] <= L e^{-th L} M(th)^k`` and ``P(S >= L) <= e^{-th L}
    M(th)^k``; likewise for ``-S``; minimum over a geometric grid of ``th``.  ``Lmax``: a bound of
    ``|S|`` (``k max |d|``); ``L = Lmax`` has no aliasing at all and is used when it is smaller
    than the first Chernoff-certified ``L`` or when none is found (small ``k``: the Chernoff bound
    of a sum of few bounded terms need not reach a tiny target on the grid, docs/blocks.md §2d2).
    Returns (L, bound of E[|S|; |S| >= L], bound of P(|S| >= L))."""
    ths = (1.0 / L0) * 1.5 ** np.arange(-2, 30)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lM = []
        for sgn in (1.0, -1.0):
            mg = _cell_mgf(law, zl[None, :], zu[None, :], a[None, :], b[None, :], sgn * ths[:, None])
            M = p0 + np.sum(mg, axis=1) / G
            lM.append(np.where(np.isfinite(M) & (M > 0), k * np.log(M), np.inf))
        Ls = L0 * 1.1 ** np.arange(0, 80)
        ex = [lm[None, :] - ths[None, :] * Ls[:, None] for lm in lM]        # (nL, nth)
        okth = ths[None, :] >= 1.0 / Ls[:, None]
        bA = sum(np.min(np.where(okth, Ls[:, None] * np.exp(np.minimum(e, 700.0)), np.inf), axis=1) for e in ex)
        bP = sum(np.min(np.exp(np.minimum(e, 700.0)), axis=1) for e in ex)
    good = (bA <= tgt_abs) & (bP <= tgt_p)
    if good.any():
        i = int(np.argmax(good))
        if Ls[i] < Lmax:
            return float(Ls[i]), float(bA[i]), float(bP[i])
    if math.isfinite(Lmax) and Lmax > 0:
        return float(Lmax), 0.0, 0.0                    # P(|S| > Lmax) = 0 exactly
    raise RuntimeError("4over6 Fourier series: no aliasing bound found; report this with the arguments")


def endpoint_stats_fs(law, loc, scale, fmt, m, X6, X4, k, eps_abs, eps_p, need=(True, True, True)):
    """Same statistics as :func:`endpoint_stats`, by Fourier series instead of a t-integral.

    With ``L`` such that the mass of ``|S| >= L`` is negligible (bounded by Chernoff with the exact
    moment generating function, :func:`_alias_bound`) and ``L >= max |d|``, on ``|s| <= L``

        |s|     = L/2 - (4 L / pi^2) sum_{j odd} cos(j pi s / L) / j^2,
        sign(s) = (4 / pi) sum_{j odd} sin(j pi s / L) / j,

    so ``E|S| = L/2 - (4L/pi^2) sum_j Re phi(t_j) / j^2`` at the nodes ``t_j = j pi / L`` only
    (Poisson summation: no quadrature error; the error is the aliasing from ``|S| > L``).  The atom
    and the one-non-atom-element terms are exact as in :func:`endpoint_stats`; the remainder ``R``
    is ``O(t^-2)`` and its series is cut at ``t_J`` where the same tail bound as the t-integral's,
    ``(2/pi) int_{t_J}^inf rho_2 / t^2`` (each term ``j > J`` is bounded by the integral over
    ``[t_{j-2}, t_j]``), is below target.  Error = tail bound + aliasing bound + rounding."""
    (U, zl, zu, a, b, atom, p, G, p0, q, sel, Cj, C, sat6, sat4, c6, C6, n6, c4, C4, n4, E1, P1, s6, s4, n, need_p,
     need6, need4, abs1, P_1, nu6_1, nu4_1, mR, mR6, mR4) = _endpoint_setup(law, loc, scale, fmt, m, X6, X4, k, need)
    ea = eps_abs / (U * U) * math.pi / 2          # target of the (2/pi)-scaled tail, as endpoint_stats
    ep = eps_p * math.pi
    if sel.size == 0 or mR <= 0.0:
        # at most one element off the atom (k = 1) or no non-atom cell: everything is exact
        nan = math.nan
        P_pos = P_1 if need_p else nan
        nu6_le = (n6 - nu6_1) if need[1] else nan
        nu4_pos = nu4_1 if need[2] else nan
        return abs1 * U * U, P_pos, nu6_le, nu4_pos, 4 * np.finfo(float).eps * abs1 * U * U, 1e-15, 0
    # L: >= max |d| and aliasing (Chernoff) below a quarter of each target
    dl, du = a * zl + b, a * zu + b
    dmax = float(np.max(np.maximum(np.abs(dl[sel]), np.abs(du[sel]))))
    mu, sd = _d_moments(law, zl, zu, a, b, G, n)
    L0 = max(dmax * 1.0000001, abs(mu) + 6.0 * sd, 1e-300)
    L, al_abs, al_p = _alias_L(law, zl[sel], zu[sel], a[sel], b[sel], G, p0, n, L0, 0.25 * ea * 2 / math.pi,
                               0.25 * eps_p, Lmax=n * dmax * (1.0 + 1e-12))
    # tail bound (same as endpoint_stats): rho_2 on a geometric t grid, all candidate cut points
    pj, Cs = p[sel], Cj[sel]
    tmax = float(np.max(Cs / np.maximum(pj, 1e-300)))
    def r2(x, xc=None, c=None, nn=n):
        return _r2(p0, x, nn, xc, c)

    t0 = math.pi / L
    tN = max(tmax, t0) * 1.001
    ng = int(math.ceil(math.log(tN / t0) / math.log(1.05))) + 1
    tg = t0 * 1.05 ** np.arange(ng + 1)
    tN = float(tg[-1])
    mm = np.minimum(pj[None, :], Cs[None, :] / tg[:, None])
    x, x6, x4 = mm.sum(axis=1), mm[:, s6].sum(axis=1), mm[:, s4].sum(axis=1)
    inv = 1.0 / tg[:-1] - 1.0 / tg[1:]
    lg = np.log(tg[1:] / tg[:-1])

    def suffix(v):
        return np.concatenate([np.cumsum(v[::-1])[::-1], [0.0]])

    bA = suffix(r2(x)[:-1] * inv) + _rho2(p0, C, n, tN) / (3 * tN)
    ok = bA <= ea
    bnds = [bA]
    if need_p:
        bP = suffix(r2(x)[:-1] * lg) + _rho2(p0, C, n, tN) / 2
        ok &= bP <= ep
        bnds.append(bP)
    if need6:
        b6 = suffix(r2(x, x6, c6, n - 1)[:-1] * lg) + _rho2(p0, C, n - 1, tN, c6, C6) / 2
        ok &= b6 <= ep
        bnds.append(b6)
    if need4:
        b4 = suffix(r2(x, x4, c4, n - 1)[:-1] * lg) + _rho2(p0, C, n - 1, tN, c4, C4) / 2
        ok &= b4 <= ep
        bnds.append(b4)
    i_ok = int(np.argmax(ok)) if ok.any() else None
    if i_ok is None:
        # beyond tN the bound is the pure polynomial form, decreasing like tN / T: extend geometrically
        T = tN
        while True:
            T *= 1.5
            vals = [_rho2(p0, C, n, T) / (3 * T)]
            good = vals[0] <= ea
            if need_p:
                good &= _rho2(p0, C, n, T) / 2 <= ep
            if need6:
                good &= _rho2(p0, C, n - 1, T, c6, C6) / 2 <= ep
            if need4:
                good &= _rho2(p0, C, n - 1, T, c4, C4) / 2 <= ep
            if good:
                break
        tailA = _rho2(p0, C, n, T) / (3 * T)
        tailP = max([_rho2(p0, C, n, T) / 2 if need_p else 0.0,
                     _rho2(p0, C, n - 1, T, c6, C6) / 2 if need6 else 0.0,
                     _rho2(p0, C, n - 1, T, c4, C4) / 2 if need4 else 0.0])
    else:
        T = float(tg[i_ok])
        tailA = float(bA[i_ok])
        tailP = max([float(v[i_ok]) for v in bnds[1:]], default=0.0)
    J = int(math.ceil(T * L / math.pi))
    j = np.arange(1, J + 1, 2, dtype=float)
    tt = j * (math.pi / L)
    # cell characteristic functions at the nodes (loc = 0: cells with z >= 0, twice)
    psi, chi6, chi4 = _cf_sums(law, tt, loc, sel, zl, zu, a, b, sat6, sat4, s6, s4, G, need6, need4, 1 << 18)
    Psi = p0 + psi
    PsiN1 = Psi ** (n - 1)
    R = PsiN1 * Psi - p0 ** n - n * p0 ** (n - 1) * psi
    eps = np.finfo(float).eps
    # rounding: each R to (n + 4) eps of the magnitudes it is formed from
    rnd_w = (n + 4) * eps * (np.abs(Psi) ** n + p0 ** n + n * p0 ** (n - 1) * np.abs(psi) + 1e-300)
    Iabs = float(np.sum(R.real / (j * j)))
    abs_S = (abs1 + 0.5 * L * mR - (4.0 * L / math.pi ** 2) * Iabs) * U * U
    err_abs = ((2.0 / math.pi) * tailA + al_abs + (4.0 * L / math.pi ** 2) * float(np.sum(rnd_w / (j * j)))
               + 8 * eps * (abs1 + L * mR)) * U * U
    P_pos = nu6_le = nu4_pos = math.nan
    errs = [0.0]
    # sub-stochastic measure mu without atom at 0: mu(S > 0) = mu_tot / 2 + (2/pi) sum_j Im phi_mu(t_j) / j
    e_alias_p = al_p
    rnd_p = (2.0 / math.pi) * float(np.sum(rnd_w / j)) + 8 * eps
    if need_p:
        P_pos = P_1 + 0.5 * mR + (2.0 / math.pi) * float(np.sum(R.imag / j))
        errs.append(tailP / math.pi + e_alias_p + rnd_p)
    pn1 = p0 ** (n - 2) if n >= 2 else 0.0
    if need6:
        R6 = (c6 + chi6) * PsiN1 - c6 * p0 ** (n - 1) - c6 * (n - 1) * pn1 * psi - p0 ** (n - 1) * chi6
        nu6_le = n6 - (nu6_1 + 0.5 * mR6 + (2.0 / math.pi) * float(np.sum(R6.imag / j)))
        errs.append(tailP / math.pi + e_alias_p + rnd_p)
    elif need[1]:
        nu6_le = 0.0
    if need4:
        R4 = (c4 + chi4) * PsiN1 - c4 * p0 ** (n - 1) - c4 * (n - 1) * pn1 * psi - p0 ** (n - 1) * chi4
        nu4_pos = nu4_1 + 0.5 * mR4 + (2.0 / math.pi) * float(np.sum(R4.imag / j))
        errs.append(tailP / math.pi + e_alias_p + rnd_p)
    elif need[2]:
        nu4_pos = 0.0
    return abs_S, P_pos, nu6_le, nu4_pos, err_abs, max(errs), tt.size


# ------------------------------------------------------------------ numba path (E|S| and the rates)
@lru_cache(maxsize=1)
def _gl_table():
    from ._expect_46_kernels import NQ
    from ._expect_kernels import gl_table

    return gl_table(NQ)


def telescoped_abs(law, loc, scale, fmt, ms, X6s, X4s, k, eps_abs):
    """``E|S|`` (data units^2) at every piece end ``ms[i]`` with scales ``(X6s[i], X4s[i])``, by the
    numba kernel :func:`._expect_46_kernels.telescoped_kernel` (same series and bounds as
    :func:`endpoint_stats_fs` with ``need = (False, False, False)``; module doc there).
    ``eps_abs[i]``: target absolute error at end ``i``.  Returns ``(abs_S, err_abs, harmonics)``
    arrays (``harmonics``: number of odd harmonics evaluated at each end)."""
    res = telescoped_stats(law, loc, scale, fmt, ms, X6s, X4s, k, eps_abs)
    return res.abs_S, res.err_abs, res.harmonics


class TelescopedStats(NamedTuple):
    """Per piece end (arrays of one length): ``abs_S`` = E|S| (data units^2) and ``err_abs`` its
    error bound; ``P_pos`` = P(S > 0), ``nu6_le`` = E[1{xi_1 saturates under X6}; S <= 0],
    ``nu4_pos`` = E[1{xi_1 saturates under X4}; S > 0] (NaN where not requested; 0 where the
    candidate cannot saturate), ``err_p`` the bound of the error of ``P_pos`` and ``err_nu`` of
    ``nu6_le`` and ``nu4_pos`` (0 where not requested); ``harmonics`` = number of odd harmonics
    evaluated."""

    abs_S: np.ndarray
    err_abs: np.ndarray
    P_pos: np.ndarray
    nu6_le: np.ndarray
    nu4_pos: np.ndarray
    err_p: np.ndarray
    err_nu: np.ndarray
    harmonics: np.ndarray


def telescoped_stats(law, loc, scale, fmt, ms, X6s, X4s, k, eps_abs, needs=None, eps_p=None, eps_nu=None, plan=False,
                     group=False, noalias=None):
    """``E|S|`` and the rates ``P(S > 0)``, ``nu6(S <= 0)``, ``nu4(S > 0)`` at every piece end in one
    numba call (:func:`._expect_46_kernels.telescoped_kernel`): the same statistics, series and
    bounds as :func:`endpoint_stats_fs` (module doc there), the rates from the same harmonics
    ``t_j = j pi / L`` (``sign(s) = (4 / pi) sum_{j odd} sin(j pi s / L) / j`` on ``|s| < L``), with
    the characteristic function of the saturating cells summed alongside ``psi``.
    ``needs``: (N, 3) booleans (P(S>0), nu6, nu4) per end (default none); ``eps_p``: target absolute
    error of ``P(S>0)`` per end, ``eps_nu`` of ``nu6`` and ``nu4`` (default ``eps_p``).  Returns
    :class:`TelescopedStats`; ``plan=True``: only the number of odd harmonics each end would need
    for these targets, and without ``P(S > 0)`` (two int arrays; cells and tail bounds at
    ``L = L0``, the start of the aliasing search: no aliasing bound, no harmonic computed).  ``group``:
    cells whose phases ``a z + b`` are equal at both ends (exactly, or a few roundings apart: the gap in the
    bound) share one phasor per end (a uniform grid such as MXINT8's: a handful of groups instead of ~260 cells
    per harmonic; docs/blocks.md §2f).
    ``noalias``: booleans per end; where set, ``L = k max|d|`` (no aliasing, no Chernoff search: cheaper at
    ends that need few harmonics)."""
    from ._expect_46_kernels import telescoped_kernel

    ms = np.ascontiguousarray(ms, dtype=float)
    X6s = np.ascontiguousarray(X6s, dtype=float)
    X4s = np.ascontiguousarray(X4s, dtype=float)
    eps_abs = np.ascontiguousarray(np.broadcast_to(np.asarray(eps_abs, float), ms.shape))
    if law not in (0, 1):
        raise ValueError(f"law code must be 0 (Normal) or 1 (Laplace), got {law!r}")
    if not (math.isfinite(loc) and math.isfinite(scale) and scale > 0):
        raise ValueError(f"loc must be finite and scale finite > 0, got {loc!r}, {scale!r}")
    if not (isinstance(k, (int, np.integer)) and k >= 1):
        raise ValueError(f"block size k must be an integer >= 1, got {k!r}")
    if not (ms.shape == X6s.shape == X4s.shape and ms.ndim == 1):
        raise ValueError("ms, X6s, X4s must be 1-D arrays of one length")
    if not (np.all(np.isfinite(ms)) and np.all(ms > 0)):
        raise ValueError("piece ends must be finite and > 0")
    for X in (X6s, X4s):
        if not (np.all(np.isfinite(X)) and np.all(X >= 0)):
            raise ValueError("scales must be finite and >= 0")
    if not (np.all(np.isfinite(eps_abs)) and np.all(eps_abs > 0)):
        raise ValueError("eps_abs must be finite and > 0")
    if needs is None:
        needs = np.zeros((ms.size, 3), np.int64)
    else:
        needs = np.asarray(needs)
        if needs.shape != (ms.size, 3) or needs.dtype.kind not in "bi":
            raise ValueError("needs must be an (N, 3) array of booleans (P(S>0), nu6, nu4) per end")
        needs = np.ascontiguousarray(needs, dtype=np.int64)
    if eps_p is None:
        if np.any(needs):
            raise ValueError("eps_p (target error of the rates) is required when a rate is requested")
        eps_p = np.ones(ms.size)
    if eps_nu is None:
        eps_nu = eps_p
    eps_p = np.ascontiguousarray(np.broadcast_to(np.asarray(eps_p, float), ms.shape))
    eps_nu = np.ascontiguousarray(np.broadcast_to(np.asarray(eps_nu, float), ms.shape))
    for e in (eps_p, eps_nu):
        if not (np.all(np.isfinite(e)) and np.all(e > 0)):
            raise ValueError("eps_p and eps_nu must be finite and > 0")
    na = np.zeros(ms.size, np.int64)
    if noalias is not None:
        na = np.asarray(noalias)
        if na.shape != ms.shape or na.dtype.kind not in "bi":
            raise ValueError("noalias must be a 1-D array of booleans, one per end")
        na = np.ascontiguousarray(na, dtype=np.int64)
    levels = np.ascontiguousarray(fmt.levels, dtype=float)
    mids = np.ascontiguousarray(fmt.midpoints, dtype=float)
    Z, W = _gl_table()
    res = telescoped_kernel(int(law), float(loc), float(scale), levels, mids, ms, X6s, X4s, int(k), eps_abs,
                            needs, eps_p, eps_nu, Z, W, bool(plan), bool(group), na)
    if plan:
        return res[:, 2].astype(np.int64), res[:, 4].astype(np.int64)
    return TelescopedStats(res[:, 0], res[:, 1], res[:, 8], res[:, 9], res[:, 10], res[:, 11], res[:, 12],
                           res[:, 2].astype(np.int64))
