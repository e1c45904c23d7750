"""Scalar tools of the certified optimum (:mod:`quanttheory.risk.optimum`).

* :class:`_Curve` -- ``R(s)`` and, for MSQE, the exact ``R'(s)`` at single scales of one law
  and grid, straight into the kernels (inputs validated once by ``optimal_scale``);
* :func:`_brent_log` -- Brent's minimization on log s from a bracketing triple;
* :func:`_root` -- safeguarded false position on a sign change of ``R'``.
"""

from __future__ import annotations

import math

import numpy as np

from ..formats.regularizers import CODE_MSQE
from .curve import _tables


class _Curve:
    """``R(s)`` (and, for MSQE, the exact ``R'(s)``) at single scales of one law and grid.

    The inputs are validated once (by :func:`optimal_scale`); each call goes straight
    to the kernels: the bit-independent fast path where it is certified, else the
    per-cell path, exactly as :func:`risk_curve` chooses (same values, bit for bit).
    """

    def __init__(self, dist, grid, reg):
        from ._kernels import cells, fast
        from .fastpath import _eta

        self.dist, self.grid, self.reg = dist, grid, reg
        law, mu, sig, relu = dist.kernel_params()
        self.args = (int(law), float(mu), float(sig), bool(relu), int(grid.r_b), int(grid.r_t))
        self.fast_ok = int(law) in (0, 1)
        self.code, self.factor = reg.code, reg.curve_factor
        self.tables = _tables()
        self.eta = _eta()
        self.cells, self.fast = cells, fast
        # atoms away from 0 (a ReLU atom sits at the grid point 0 and contributes phi(0) = 0)
        self.atoms = [g for g in dist.atoms() if np.any(np.asarray(g.values) != 0)]
        self.buf = np.empty(1)
        self.out = np.empty(1)
        self.handled = np.zeros(1, dtype=np.bool_)
        self.n = 0
        self.nd = 0

    def phi(self, s: float, code=None) -> float:
        """``s^2 E[phi(xi/s)]`` (no curve factor) at one scale."""
        code = self.code if code is None else code
        self.buf[0] = s
        if self.fast_ok:
            self.fast.fast_curve(*self.args, code, self.buf, self.eta, self.out, self.handled)
            if self.handled[0]:
                v = float(self.out[0])
            else:
                v = float(self.cells.curve_builtin(*self.args, code, self.buf, *self.tables)[0])
        else:
            v = float(self.cells.curve_builtin(*self.args, code, self.buf, *self.tables)[0])
        for g in self.atoms:
            from .curve import _atoms_part

            v += float(_atoms_part(g, self.grid, self.reg, self.buf)[0])
        return v

    def __call__(self, s: float) -> float:
        self.n += 1
        return self.factor * self.phi(s)

    def msqe(self, s: float) -> float:
        """Plain MSQE ``E[(xi - Q_s(xi))^2]`` (no pi^2)."""
        return self.phi(s, CODE_MSQE)

    def dmsqe(self, s: float) -> float:
        """Exact ``d/ds E[(xi - Q_s(xi))^2] = -2 E[K (xi - K s)]`` (no pi^2; continuous part)."""
        self.nd += 1
        self.buf[0] = s
        return float(self.cells.curve_builtin(*self.args, self.cells.CODE_DMSQE, self.buf, *self.tables)[0])


def _brent_log(f, a, b, c, fb, tol=1e-11, maxiter=200):
    """Brent's minimization (parabolic steps, golden-section safeguard) of ``f`` over
    ``log s`` in the bracket ``a < b < c`` with ``f(b) <= f(a), f(c)``; returns (s, f(s)).

    ``tol``: relative tolerance on s (the risk is flat to ~tol^2 there)."""
    cg = 0.3819660112501051
    lo, hi = math.log(a), math.log(c)
    x = w = v = math.log(b)
    fx = fw = fv = fb
    d = e = 0.0
    for _ in range(maxiter):
        xm = 0.5 * (lo + hi)
        tol1 = tol * 0.5 + 1e-300
        tol2 = 2.0 * tol1
        if abs(x - xm) <= tol2 - 0.5 * (hi - lo):
            break
        golden = True
        if abs(e) > tol1:
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = 2.0 * (q - r)
            if q > 0:
                p = -p
            q = abs(q)
            if abs(p) < abs(0.5 * q * e) and q * (lo - x) < p < q * (hi - x):
                e, d = d, p / q
                u = x + d
                if u - lo < tol2 or hi - u < tol2:
                    d = tol1 if xm >= x else -tol1
                golden = False
        if golden:
            e = (lo - x) if x >= xm else (hi - x)
            d = cg * e
        u = x + (d if abs(d) >= tol1 else (tol1 if d > 0 else -tol1))
        fu = f(math.exp(u))
        if fu <= fx:
            if u >= x:
                lo = x
            else:
                hi = x
            v, w, x = w, x, u
            fv, fw, fx = fw, fx, fu
        else:
            if u < x:
                lo = u
            else:
                hi = u
            if fu <= fw or w == x:
                v, w = w, u
                fv, fw = fw, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu
    return math.exp(x), fx


def _root(g, lo, hi, glo, ghi, maxiter=200, rtol=4e-16):
    """Root of ``g`` in ``[lo, hi]`` with ``glo < 0 < ghi``: Illinois false position with
    a bisection step whenever two steps did not halve the bracket, down to a few ulps (or to a
    bracket ``rtol`` relative).  Returns (s, g(s)) for the bracket end with the smaller ``|g|``."""
    side = 0
    width = hi - lo
    for it in range(maxiter):
        if not hi - lo > rtol * hi:
            break
        if it % 2 == 1:
            if hi - lo > 0.5 * width:
                m = 0.5 * (lo + hi)
            else:
                m = None
            width = hi - lo
        else:
            m = None
        if m is None:
            m = (lo * ghi - hi * glo) / (ghi - glo)
            if not lo < m < hi:
                m = 0.5 * (lo + hi)
        gm = g(m)
        if gm == 0:
            return m, 0.0
        if gm < 0:
            lo, glo = m, gm
            if side == -1:
                ghi *= 0.5
            side = -1
        else:
            hi, ghi = m, gm
            if side == 1:
                glo *= 0.5
            side = 1
    return (lo, glo) if abs(glo) <= abs(ghi) else (hi, ghi)


def _brent_root(g, a, b, fa, fb, rtol=1e-13, maxiter=100):
    """Root of ``g`` in ``[a, b]`` (``fa``, ``fb`` of opposite signs) by Brent's method (inverse
    quadratic interpolation, secant, bisection safeguard), to ``rtol`` relative to the bracket.
    Returns (x, g(x)) at the best end of the final bracket (smaller ``|g|``)."""
    if fa == 0:
        return a, fa
    if fb == 0:
        return b, fb
    c, fc = a, fa
    d = e = b - a
    for _ in range(maxiter):
        if (fb > 0) == (fc > 0):
            c, fc = a, fa
            d = e = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol = 0.5 * rtol * abs(b) + 1e-300
        xm = 0.5 * (c - b)
        if abs(xm) <= tol or fb == 0:
            break
        if abs(e) >= tol and abs(fa) > abs(fb):
            s = fb / fa
            if a == c:
                p, q = 2.0 * xm * s, 1.0 - s
            else:
                q, r = fa / fc, fb / fc
                p = s * (2.0 * xm * q * (q - r) - (b - a) * (r - 1.0))
                q = (q - 1.0) * (r - 1.0) * (s - 1.0)
            if p > 0:
                q = -q
            p = abs(p)
            if 2.0 * p < min(3.0 * xm * q - abs(tol * q), abs(e * q)):
                e, d = d, p / q
            else:
                d = e = xm
        else:
            d = e = xm
        a, fa = b, fb
        b += d if abs(d) > tol else (tol if xm > 0 else -tol)
        fb = g(b)
    return (b, fb) if abs(fb) <= abs(fc) else (c, fc)
