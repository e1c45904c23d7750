"""Private numba kernel of the telescoped block expectation (:mod:`quanttheory.blocks.expectation`).

For each m-piece ``p`` (scale ``X_p`` constant on ``(a_p, b_p]``) it integrates the
squared rounding error against the law's density, in grid units ``u = x / X_p``, over the
element format's rounding cells cut at ``0``, ``+-a_p / X_p``, ``+-b_p / X_p`` and the
Laplace kink, and returns ``T(a_p, X_p)`` (cells inside ``|u| < a_p / X_p``) and the shell
``T(b_p, X_p) - T(a_p, X_p)`` (the other cells, integrated directly: no cancellation), each
with a rigorous bound on the quadrature error (Gauss-Legendre order chosen per cell from the
Bernstein-ellipse bound of the analytic integrand).

Densities: Normal (code 0) and Laplace (code 1) with loc, scale (the codes of
:mod:`quanttheory.laws.parametric`).  Inputs are validated in Python (finite, X >= 0,
0 < a <= b); ``X_p == 0`` means every element is quantized to 0 (error ``x^2``).
Everything stays in one file (numba's cache does not track callees in other files).
"""

from __future__ import annotations

import math

import numba
import numpy as np

_SQ2PI = math.sqrt(2.0 * math.pi)
_LOG_SQ2PI = 0.5 * math.log(2.0 * math.pi)


@numba.njit(cache=True, fastmath=False)
def _pdf(x, law, loc, scale):
    z = (x - loc) / scale
    if law == 0:
        return math.exp(-0.5 * z * z) / (scale * _SQ2PI)
    return math.exp(-abs(z)) / (2.0 * scale)


NMAX = 40  # largest Gauss-Legendre order of the node table (gl_table)


def gl_table(nmax: int = NMAX):
    """Gauss-Legendre nodes / weights for n = 1..nmax: arrays (nmax + 1, nmax), row n padded
    (also the 4-over-6 kernel's table, with its own ``nmax``)."""
    Z = np.zeros((nmax + 1, nmax))
    W = np.zeros((nmax + 1, nmax))
    for n in range(1, nmax + 1):
        z, w = np.polynomial.legendre.leggauss(n)
        Z[n, :n] = z
        W[n, :n] = w
    return Z, W


@numba.njit(cache=True, fastmath=False)
def _log_bound(xm, h, c, rho, law, loc, scale):
    """log of the Bernstein-ellipse bound M of |(z - c)^2 f(z)| on the ellipse E_rho around
    [xm - h, xm + h] (f continued analytically from the cell: Normal entire; Laplace one side of
    its kink, e^{-+(z - loc)/scale}).  Semi-axes A = h (rho + 1/rho) / 2, B = h (rho - 1/rho) / 2."""
    A = 0.5 * h * (rho + 1.0 / rho)
    B = 0.5 * h * (rho - 1.0 / rho)
    r = abs(xm - c) + A + B
    lp = 2.0 * math.log(r) if r > 0 else -700.0
    d = abs(xm - loc) - A
    if law == 0:
        dd = d if d > 0 else 0.0
        return lp - 0.5 * (dd / scale) ** 2 + 0.5 * (B / scale) ** 2 - math.log(scale) - _LOG_SQ2PI
    return lp - d / scale - math.log(2.0 * scale)


@numba.njit(cache=True, fastmath=False)
def _cell(lo, hi, lev, X, law, loc, scale, Z, W, log_eps):
    """int_lo^hi (u - lev)^2 f(X u) X^3 du (= int (x - X lev)^2 f(x) dx over [X lo, X hi]) by
    Gauss-Legendre with n nodes on each of ns equal sub-cells, n and ns chosen so that the
    Bernstein-ellipse bound (Trefethen, ATAP Thm 19.3: n points, |error| <= (64/15) M
    rho^(-2(n-1)) / (rho^2 - 1) times the half-width) is below exp(log_eps).  Returns (value, error bound)."""
    xl = X * lo
    xh = X * hi
    c = X * lev
    if not (xh - xl > 1e-12 * scale):
        # a sliver (audit finding 14: a cut +-a/X one ulp from an element midpoint, in u units; X * lo
        # and X * hi can then round to the same x when X is not a power of 2): one midpoint node in u
        # units, width X (hi - lo) > 0 (exact difference of close floats).  Over a cell narrower than
        # 1e-12 law scales the integrand (u - lev)^2 f(X u) X^3 varies by a relative < 1e-10 (it is
        # analytic there, or the cell is at the Laplace kink where f is Lipschitz), so the value itself
        # is a (very loose) bound on the error.
        um = 0.5 * (lo + hi)
        d = X * (um - lev)
        v = X * (hi - lo) * d * d * _pdf(X * um, law, loc, scale)
        return v, v
    ns = 1
    while True:
        hs = 0.5 * (xh - xl) / ns
        # rho: the ellipse reaches ~one law scale beyond the sub-cell (capped for wide cells)
        rho = 2.0 * scale / hs
        if rho < 2.0:
            rho = 2.0
        need = 1
        worst = -1e300
        for q in range(ns):
            xm = xl + (2 * q + 1) * hs
            lb = math.log(hs * 64.0 / 15.0 / (rho * rho - 1.0)) + _log_bound(xm, hs, c, rho, law, loc, scale)
            # n points: exact for degree 2n - 1; the theorem's (n + 1)-point form gives rho^(-2(n - 1))
            nq = 1 + int(math.ceil((lb - log_eps) / (2.0 * math.log(rho))))
            if nq > need:
                need = nq
            if lb > worst:
                worst = lb
        if need <= Z.shape[0] - 1 or ns >= 4096:
            break
        ns *= 2
    n = need if need > 2 else 2
    if n > Z.shape[0] - 1:
        n = Z.shape[0] - 1
    tot = 0.0
    for q in range(ns):
        xm = xl + (2 * q + 1) * hs
        s = 0.0
        for i in range(n):
            x = xm + hs * Z[n, i]
            d = x - c
            s += W[n, i] * d * d * _pdf(x, law, loc, scale)
        tot += s * hs
    err = ns * math.exp(worst - 2.0 * (n - 1) * math.log(rho))
    return tot, err


@numba.njit(cache=True, fastmath=False)
def tele_pieces(a, b, X, mids, levels, law, loc, scale, Z, W, log_eps_in, log_eps_shell):
    """Per piece: (T(a, X), T(b, X) - T(a, X), error bound of T(a), error bound of the shell);
    every cell integral's quadrature error is below exp(log_eps_in[p]) (cells of T(a_p)) or
    exp(log_eps_shell) (cells of the shell), absolute, data units^2."""
    P = a.size
    Ta = np.zeros(P)
    Sh = np.zeros(P)
    Ea = np.zeros(P)
    Es = np.zeros(P)
    nm = mids.size
    ed = np.empty(nm + 8)
    ex = np.empty(6)
    for p in range(P):
        Xp = X[p]
        pos = Xp > 0.0
        Xs = Xp if pos else 1.0
        ta = a[p] / Xs
        tb = b[p] / Xs
        # extra cut points (0, +-ta, the Laplace kink), insertion-sorted, merged with the
        # element midpoints inside (-tb, tb); the ends are -tb and tb
        ne = 0
        ex[0] = 0.0
        ex[1] = -ta
        ex[2] = ta
        ne = 3
        if law == 1:
            ex[3] = loc / Xs
            ne = 4
        for q in range(1, ne):
            v = ex[q]
            r = q - 1
            while r >= 0 and ex[r] > v:
                ex[r + 1] = ex[r]
                r -= 1
            ex[r + 1] = v
        n = 0
        ed[n] = -tb
        n += 1
        im = 0
        if pos:
            while im < nm and mids[im] <= -tb:
                im += 1
        jx = 0
        while jx < ne and ex[jx] <= -tb:
            jx += 1
        while True:
            vm = mids[im] if (pos and im < nm and mids[im] < tb) else tb
            vx = ex[jx] if (jx < ne and ex[jx] < tb) else tb
            if vm >= tb and vx >= tb:
                break
            if vm <= vx:
                ed[n] = vm
                im += 1
            else:
                ed[n] = vx
                jx += 1
            n += 1
        ed[n] = tb
        n += 1
        e = ed
        for j in range(n - 1):
            lo = e[j]
            hi = e[j + 1]
            if hi <= lo:
                continue
            c = 0.5 * (lo + hi)
            lev = 0.0
            if pos:
                q = np.searchsorted(mids, c)
                lev = levels[q]
            inner = abs(c) < ta
            v, eb = _cell(lo, hi, lev, Xs, law, loc, scale, Z, W, log_eps_in[p] if inner else log_eps_shell)
            if inner:
                Ta[p] += v
                Ea[p] += eb
            else:
                Sh[p] += v
                Es[p] += eb
    return Ta, Sh, Ea, Es
