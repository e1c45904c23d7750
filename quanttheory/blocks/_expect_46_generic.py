"""Telescoped ``4over6`` for laws with a density off the compiled Normal / Laplace kernel (docs/blocks.md §2i).

Student t, GenNormal, Normal, Laplace and mixtures of them (location-scale, any ``loc`` / ``scale``), E4M3
block scales, blocks of ``k >= 3`` (``k = 1, 2`` have closed forms in :func:`expectation_min.block_mse_4over6`).
Same telescoping (§2d: ``E[F; a < M <= b] = G(b)^k E_b F - G(a)^k E_a F`` on the pieces where both candidate
scales are constant) and the same odd-harmonic series per end (§2d2):

    E|S| = k p0^(k-1) E1 + (L/2) mR - (4 L / pi^2) sum_{j odd <= J} Re R(t_j) / j^2,   t_j = j pi / L,

``R = Psi^k - p0^k - k p0^(k-1) psi`` (``psi`` the characteristic function of one element's ``d / U^2`` on
the non-atom cells, ``p0`` the atom ``d = 0``), ``E1 = E|d|`` on the non-atom cells from the closed-form
partial moments (``expectation._cell_poly_moment``), ``mR = 1 - p0^k - k p0^(k-1) (1 - p0)``.  What differs
from the Normal / Laplace kernel is each cell's characteristic function and two bounds:

* **cells by a Legendre expansion of the density** (:mod:`._expect_46_generic_kernels`): ``f`` on a cell is
  replaced by its Chebyshev interpolant ``p`` of degree ``n`` (``n + 1`` Chebyshev points), written in the
  Legendre basis; then ``int e^{i t d} p`` is a finite sum of spherical Bessel functions at every ``t``.  Error:
  ``|int e^{i t d} (f - p)| <= int |f - p| <= 2 h ||f - p||_inf <= 2 h 4 M rho^(-n) / (rho - 1)`` (Trefethen,
  ATAP Thm 8.2; ``f`` analytic inside the Bernstein ellipse ``E_rho`` of the cell with ``|f| <= M`` there),
  *independent of t*.  ``M`` is bounded on the rectangle enclosing ``E_rho`` per component
  (:func:`_ellipse_max`); a cell where no ``(n <= 48, rho)`` meets its target is bisected, and a cell of mass
  ``P`` with ``2 P`` below its target (GenNormal with ``beta < 1`` next to a kink at ``loc``, where ``f`` is not
  analytic) is replaced by the uniform density of the same mass (``int |f - p| <= 2 P``).
  The summed error ``delta`` moves each ``R(t_j)`` by at most ``k delta ((1 + delta)^(k-1) + p0^(k-1))``,
  so ``E|S|`` by at most ``(L k delta / 2) ((1 + delta)^(k-1) + p0^(k-1))`` (``sum_{j odd} 1/j^2 = pi^2/8``).
* **tail constant** ``|cf_j(t)| <= (f(l) + f(u) + TV_[l,u] f) / (G t |a|)`` (integration by parts), with
  ``TV`` summed over the components, each monotone on the cell (cells are cut at every component's ``loc``).
* **aliasing**: Chernoff with an upper bound of the moment generating function, ``E[e^{th d}; cell] <=
  P(cell) e^{th max_cell d}`` (``d`` linear on the cell: the larger end value).

Targets per end: tail 0.6, aliasing 0.2, cells 0.1 of ``eps_abs``; rounding as in §2d2 plus the kernel's
charge.  Rates are not computed on this path (NaN, as in §2h).

Speed (docs/blocks.md §2i2): the NumPy stage is batched over all ends (:func:`_prepare_ends`,
:func:`_approx_all`: one partial-moment / density / quantize call for every end's cells), the Chernoff search
is a numba loop, trailing Legendre coefficients within half a cell's slack are dropped (their sum, ``|j_r| <=
1``, joins the cell's bound), and the kernel advances ``e^{i t (a c + b)}`` and ``sin x, cos x`` by phasor
recurrences across harmonics with four Bessel recurrences interleaved.  Since docs/blocks.md §2i3 the default
path (:func:`_ends_all`) has no Python step per end: the tail curves (``end_curves``), the budget split
(``split_bisect``) and every end's harmonics and bound (``finish_all``) are one numba call each, the cut points
of all ends one more (``cut_points_all``); :func:`_ends_stepwise` (``telescoped_4over6_generic(..., fast=False)``)
is the §2i2 path, the tests' reference.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

_EPS = float(np.finfo(float).eps)
_NS = (6, 8, 12, 16, 20, 24, 32, 40, 48)
_RHOS = np.array([1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0, 24.0, 32.0, 48.0, 64.0])


def components(dist):
    """``[(weight, kind, shape, loc, scale)]`` with kind in normal / laplace / t / gennorm, or None if the law
    (or one of its components) has no supported density."""
    from ..laws.heavy import GenNormal, StudentT
    from ..laws.parametric import Laplace, Normal

    comps = dist.components() if dist.components() else ((1.0, dist),)
    out = []
    for w, c in comps:
        if not c.has_density or c.atoms() or c.point_mass > 0:
            return None
        t = type(c)
        if t is Normal and not c.relu:
            out.append((float(w), "normal", 0.0, float(c.loc), float(c.scale)))
        elif t is Laplace and not c.relu:
            out.append((float(w), "laplace", 1.0, float(c.loc), float(c.scale)))
        elif t is StudentT:
            out.append((float(w), "t", float(c.df), float(c.loc), float(c.scale)))
        elif t is GenNormal:
            out.append((float(w), "gennorm", float(c.beta), float(c.loc), float(c.scale)))
        else:
            return None
    return out


def _lc(kind, sh):
    if kind == "normal":
        return -0.5 * math.log(2 * math.pi)
    if kind == "laplace":
        return math.log(0.5)
    if kind == "t":
        return math.lgamma((sh + 1) / 2) - math.lgamma(sh / 2) - 0.5 * math.log(sh * math.pi)
    return math.log(sh / 2) - math.lgamma(1 / sh)


def _pdf(comps, x, with_err=False, cell_pos=None):
    """Density at ``x``; with ``with_err`` also a bound of the absolute error of the value as computed here
    *and* of moving ``x`` by ``eps cell_pos`` (the rounding of the node): per component
    ``f_i eps (6 + 3 |g|)`` (``f = e^g / s``, ``g`` the log-density's terms) ``+ |f_i'| eps (cell_pos + |mu| +
    |x - mu|)`` with ``|f'|`` in closed form (Normal ``|z| f / s``, Laplace ``f / s``, t ``(nu + 1) |z| /
    (nu + z^2) f / s``, GenNormal ``beta |z|^(beta - 1) f / s``)."""
    x = np.asarray(x, float)
    f = np.zeros(x.shape)
    err = np.zeros(x.shape)
    for w, kind, sh, mu, s in comps:
        z = (x - mu) / s
        lc = _lc(kind, sh)
        az = np.abs(z)
        if kind == "normal":
            g = 0.5 * z * z
            dl = az
        elif kind == "laplace":
            g = az
            dl = np.ones(x.shape)
        elif kind == "t":
            g = 0.5 * (sh + 1) * np.log1p(z * z / sh)
            dl = (sh + 1) * az / (sh + z * z)
        else:
            g = az ** sh
            with np.errstate(divide="ignore"):
                dl = np.where(az > 0, sh * az ** (sh - 1.0), np.where(sh >= 1.0, sh if sh == 1.0 else 0.0, np.inf))
        fc = w * np.exp(lc - g) / s
        f += fc
        if with_err:
            err += fc * _EPS * (6.0 + 3.0 * (np.abs(g) + abs(lc)))
            if cell_pos is not None:
                err += fc * dl / s * _EPS * (cell_pos + abs(mu) + np.abs(x - mu))
    if with_err:
        return f, err
    return f


def _ellipse_max(comps, lo, hi, rho):
    """Upper bound of ``|f|`` on the Bernstein ellipse ``E_rho`` of each cell ``[lo, hi]`` (inf where ``f`` may
    not be analytic there); ``rho`` broadcasts against the cells (e.g. a column: one row per ``rho``).  The ellipse lies in the rectangle ``Re x in [c - h A, c + h A]``, ``|Im x| <= h B``,
    ``A = (rho + 1/rho) / 2``, ``B = (rho - 1/rho) / 2``; per component in ``z = (x - loc) / s``:

    * Normal: ``|e^{-z^2/2}| = e^{-(X^2 - Y^2)/2} <= e^{-(Xmin^2 - Yb^2)/2}`` (entire);
    * Laplace, GenNormal (cell on one side of ``loc``, mirrored to ``z > 0``): ``|e^{-z^beta}| = e^{-Re z^beta}``,
      analytic for ``Re z > 0`` (needs ``X1 > 0``); with ``|arg z| <= th = atan(Yb / X1)``: ``Re z^beta >=
      X1^beta cos(beta th)`` if ``cos(beta th) >= 0`` (``|z| >= X1``), else ``>= |z|max^beta cos(beta th)``;
      Laplace (``beta = 1``) is entire: ``Re z = X >= X1``;
    * Student t: ``(1 + z^2/nu)^(-(nu+1)/2)`` is analytic for ``|Im z| < sqrt(nu)`` (its branch cuts are
      ``z = i y``, ``|y| >= sqrt(nu)``) and ``|1 + z^2/nu| = |z - i sqrt nu| |z + i sqrt nu| / nu >= (Xmin^2 +
      (sqrt nu - Yb)^2) / nu``.

    ``Xmin`` = distance from 0 to ``[X1, X2]``.  Rounded up by a factor ``1 + 1e-12``."""
    lo = np.asarray(lo, float)
    hi = np.asarray(hi, float)
    rho = np.asarray(rho, float)
    c, h = 0.5 * (lo + hi), 0.5 * (hi - lo)
    A, B = 0.5 * (rho + 1.0 / rho), 0.5 * (rho - 1.0 / rho)
    M = 0.0
    for w, kind, sh, mu, s in comps:
        X1 = (c - h * A - mu) / s
        X2 = (c + h * A - mu) / s
        Yb = h * B / s + 0.0 * X1
        neg = X2 <= 0.0
        if kind != "normal":
            # mirror cells left of loc (the density is even in z)
            X1, X2 = np.where(neg, -X2, X1), np.where(neg, -X1, X2)
        Xmin = np.where((X1 <= 0.0) & (X2 >= 0.0), 0.0, np.minimum(np.abs(X1), np.abs(X2)))
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if kind == "normal":
                v = np.exp(-0.5 * (Xmin * Xmin - Yb * Yb)) / (s * math.sqrt(2 * math.pi))
            elif kind == "t":
                sq = math.sqrt(sh)
                D = (Xmin * Xmin + np.maximum(sq - Yb, 0.0) ** 2) / sh
                lc = math.lgamma((sh + 1) / 2) - math.lgamma(sh / 2) - 0.5 * math.log(sh * math.pi)
                v = np.where(Yb < sq, np.exp(lc - 0.5 * (sh + 1) * np.log(D)) / s, np.inf)
            else:
                lc = math.log(sh / 2) - math.lgamma(1 / sh)
                if kind == "laplace" or sh == 1.0:
                    v = np.exp(lc - X1) / s                 # e^{-z} is entire: |e^{-z}| = e^{-Re z} <= e^{-X1}
                else:
                    th = np.arctan2(Yb, np.maximum(X1, 1e-300))
                    cb = np.cos(np.minimum(sh * th, math.pi))
                    rmax = np.hypot(np.maximum(np.abs(X1), np.abs(X2)), Yb)
                    low = np.where(cb >= 0.0, np.maximum(X1, 0.0) ** sh * cb, rmax ** sh * cb)
                    v = np.where((X1 > 0.0) & (sh * th < math.pi), np.exp(lc - low) / s, np.inf)
                    if sh == math.floor(sh):
                        # integer beta: z^beta is entire, Re z^beta >= -|z|^beta on the whole rectangle
                        v = np.where(np.isfinite(v), v, np.exp(lc + rmax ** sh) / s)
            v = np.where(np.isfinite(v), v, np.inf)
        M = M + w * v
    return M * (1.0 + 1e-12)


def _tv_bound(comps, lo, hi):
    """``f(lo) + f(hi) + TV_[lo, hi] f`` bounded by the sum over components of ``w (f_i(lo) + f_i(hi) +
    |f_i(hi) - f_i(lo)|)`` (each component monotone on the cell: cells are cut at every ``loc``)."""
    tot = np.zeros(np.shape(lo))
    for comp in comps:
        fl = _pdf([comp], lo)
        fu = _pdf([comp], hi)
        tot += fl + fu + np.abs(fu - fl)
    return tot * (1.0 + 1e-12)


@lru_cache(maxsize=None)
def _cheb_to_legendre(n):
    """``(y, A)``: ``y`` the ``n + 1`` Chebyshev points ``cos(j pi / n)`` and ``A`` with ``A @ f(y)`` = Legendre
    coefficients of the interpolant (barycentric interpolation to ``n + 1`` Gauss-Legendre nodes, then the
    discrete Legendre transform, exact for degree <= ``2 n + 1``), computed in extended precision (``longdouble``:
    Gauss-Legendre nodes by Newton from numpy's, every step there) and rounded to double: entries within
    ``eps / 2`` relative (up to the extended precision's own ~1e-17; ``tests/test_block_46_generic.py`` checks
    ``A`` against mpmath)."""
    if n == 0:
        return np.array([0.0]), np.array([[1.0]])
    ld = np.longdouble
    pi = ld("3.14159265358979323846264338327950288")
    j = np.arange(n + 1)
    y = np.cos(j.astype(ld) * pi / ld(n))
    wb = np.where(j % 2 == 0, ld(1), ld(-1))
    wb[0] /= 2
    wb[-1] /= 2
    z = np.polynomial.legendre.leggauss(n + 1)[0].astype(ld)
    N = n + 1

    def leg(zz):                     # P_N, P_{N-1} by the three-term recurrence
        p0, p1 = np.ones_like(zz), zz.copy()
        for r in range(1, N):
            p0, p1 = p1, ((2 * r + 1) * zz * p1 - r * p0) / (r + 1)
        return p1, p0

    for _ in range(4):
        pN, pN1 = leg(z)
        dp = N * (z * pN - pN1) / (z * z - 1)
        z = z - pN / dp
    pN, pN1 = leg(z)
    dp = N * (z * pN - pN1) / (z * z - 1)
    wq = 2 / ((1 - z * z) * dp * dp)
    D = z[:, None] - y[None, :]
    Lm = wb[None, :] / D
    Lm = Lm / Lm.sum(axis=1, keepdims=True)                    # (Q, n+1): interpolant's values at the nodes
    V = np.empty((N, n + 1), dtype=ld)                          # P_r(z_q)
    V[:, 0] = 1
    if n >= 1:
        V[:, 1] = z
    for r in range(1, n):
        V[:, r + 1] = ((2 * r + 1) * z * V[:, r] - r * V[:, r - 1]) / (r + 1)
    A = ((2 * np.arange(n + 1) + 1) / ld(2))[:, None] * ((V.T * wq[None, :]) @ Lm)
    return y.astype(float), A.astype(float)


def _lebesgue(n):
    """Upper bound of the Lebesgue constant of the n + 1 Chebyshev points: ``(2/pi) log(n + 1) + 1``."""
    return (2.0 / math.pi) * math.log(n + 1) + 1.0


def _approx_cells(dist, comps, lo, hi, tgt, G, per_cell=False):
    """Legendre coefficients (``coef[c, r] = 2 h c_r / G``) of a polynomial per cell (bisecting where needed) with
    ``sum int |f - p| / G <= sum tgt``.  Returns (lo, hi, idx of the parent cell, coef, deg, delta); ``G`` a
    number or one per cell (cells of several ends at once, :func:`_approx_all`); with ``per_cell`` the last
    item is the array of each output cell's ``int |f - p| / G`` bound instead of their sum."""
    from .expectation import _cell_poly_moment

    out_lo, out_hi, out_par, out_coef, out_deg, out_del = [], [], [], [], [], []
    lo, hi, tgt = np.asarray(lo, float), np.asarray(hi, float), np.asarray(tgt, float)
    G = np.array(np.broadcast_to(np.asarray(G, float), lo.shape))
    par0 = np.arange(lo.size)
    # cells ending at the cusp / kink of a GenNormal component with non-integer beta (its loc): not analytic
    # there, so graded towards it (cuts at loc +- w 2^-j): each graded cell stays >= its own width from the
    # point (an ellipse with rho ~ 5), and the last, of width w 2^-J, has mass <= fmax w 2^-J <= 1/4 of its
    # target (the uniform fallback below).  Half the cell's target goes to that last cell.
    sing = [mu for _, kind, sh, mu, _ in comps if kind == "gennorm" and sh != math.floor(sh)]
    if sing:
        nl, nh, nt, npar = [], [], [], []
        for i in range(lo.size):
            pt = next((mu for mu in sing if mu in (lo[i], hi[i])), None)
            if pt is None:
                nl.append(lo[i]); nh.append(hi[i]); nt.append(tgt[i]); npar.append(par0[i])   # noqa: E702
                continue
            w = hi[i] - lo[i]
            fmax = float(np.max(_pdf(comps, np.array([pt]))))
            J = max(1, int(math.ceil(math.log2(max(8 * w * fmax / (G[i] * tgt[i]), 2.0)))))
            fr = 0.5 ** np.arange(J, -1, -1)                       # w 2^-J .. w
            d = w * np.concatenate([[0.0], fr])
            e = pt + d if pt == lo[i] else pt - d[::-1]
            e[0], e[-1] = lo[i], hi[i]
            wi = np.diff(e)
            tiny = 0 if pt == lo[i] else wi.size - 1
            ti = 0.5 * tgt[i] * wi / w
            ti[tiny] += 0.5 * tgt[i]
            nl.extend(e[:-1]); nh.extend(e[1:]); nt.extend(ti); npar.extend([par0[i]] * wi.size)   # noqa: E702
        lo, hi, tgt, par0 = np.array(nl), np.array(nh), np.array(nt), np.array(npar, np.int64)
    todo = [(lo, hi, tgt, par0)]
    Gp = G                                     # G of each cell, by its parent index
    for _depth in range(200):
        if not todo:
            break
        l, u, tg, par = todo.pop()
        if l.size == 0:
            continue
        G = Gp[par]
        h = 0.5 * (u - l)
        best_n = np.full(l.size, -1)
        best_b = np.full(l.size, np.inf)
        rc = _RHOS[:, None]
        with np.errstate(over="ignore", invalid="ignore"):
            base = 8 * h * _ellipse_max(comps, l, u, rc) / ((rc - 1.0) * G)       # (rho, cells)
            for n in _NS:
                bnd = np.min(base * rc ** (-float(n)), axis=0)
                okn = (best_n < 0) & (bnd <= tg)
                best_n = np.where(okn, n, best_n)
                best_b = np.where(okn, bnd, best_b)
        done = best_n >= 0
        # cells too hard: uniform density of the same mass if 2 P <= target, else bisect
        hard = ~done
        if np.any(hard):
            P, _ = _cell_poly_moment(dist, l[hard], u[hard], 0.0, 0.0, 0.0, 1.0)
            P = np.maximum(P, 0.0) / G[hard]
            uni = np.zeros(l.size, bool)
            uni[np.nonzero(hard)[0]] = 2 * P * (1 + 1e-12) <= tg[hard]
            if np.any(uni):
                Pu = np.zeros(l.size)
                Pu[np.nonzero(hard)[0]] = P
                iu = np.nonzero(uni)[0]
                out_lo.append(l[iu])
                out_hi.append(u[iu])
                out_par.append(par[iu])
                out_coef.append(Pu[iu][:, None])          # 2 h c_0 / G with c_0 = P G / (2 h)
                out_deg.append(np.zeros(iu.size, np.int64))
                out_del.append(2 * Pu[iu] * (1 + 1e-12) + 4 * _EPS * Pu[iu])
            bis = hard & ~uni
            if np.any(bis):
                m = 0.5 * (l[bis] + u[bis])
                todo.append((np.concatenate([l[bis], m]), np.concatenate([m, u[bis]]),
                             np.concatenate([0.5 * tg[bis], 0.5 * tg[bis]]), np.concatenate([par[bis], par[bis]])))
        for n in np.unique(best_n[done]):
            sel = np.nonzero(done & (best_n == n))[0]
            y, A = _cheb_to_legendre(int(n))
            cc, hc = 0.5 * (l[sel] + u[sel]), h[sel]
            x = cc[:, None] + hc[:, None] * y[None, :]
            # node rounding: |x~ - x| <= eps (h / 2 + 2 (|c| + h))  (y rounded, then c + h y)
            fv, fe = _pdf(comps, x, True, (2.0 * np.abs(cc) + 2.5 * hc)[:, None])   # (cells, n+1)
            cr = fv @ A.T                                         # Legendre coefficients c_r
            co = 2 * hc[:, None] * cr / G[sel][:, None]
            # int |f - p~| <= int |f - p| (interpolation bound, best_b) + 2 h Lambda_n max |f~ - f| (values and
            # nodes, the interpolant of the perturbation) + int |p - p~| (coefficients' rounding: |dc_r| <=
            # beta_r = (n + 2) eps sum_i |A_ri| |f_i|, and int_{-1}^{1} |sum dc_r P_r| <= 2 sqrt(sum beta_r^2 /
            # (2 r + 1)) by Cauchy-Schwarz and orthogonality), over G
            beta = (n + 2) * _EPS * (np.abs(fv) @ np.abs(A).T) * (1 + 1e-10)
            r21 = 2 * np.arange(int(n) + 1) + 1.0
            rnd = (2 * hc * _lebesgue(int(n)) * np.max(fe, axis=1)
                   + hc * 2 * np.sqrt(np.sum(beta ** 2 / r21[None, :], axis=1))) / G[sel]
            # trailing coefficients within half the cell's slack are dropped (docs/blocks.md §2i2): |j_r| <= 1, so
            # dropping r >= r* moves the cell's characteristic function by <= sum_{r >= r*} |coef_r| at every t,
            # added to the cell's bound (which stays <= its target); fewer Bessel orders per harmonic
            dc = best_b[sel] + rnd
            slack = 0.5 * np.maximum(tg[sel] - dc, 0.0)
            tail = np.cumsum(np.abs(co[:, ::-1]), axis=1)[:, ::-1] * (1.0 + 1e-12)     # sum_{q >= r} |co_q|
            okt = tail <= slack[:, None]
            okt[:, 0] = False                                                             # keep c_0
            rs = np.where(okt.any(axis=1), np.argmax(okt, axis=1), int(n) + 1)            # first r* dropped
            drop = np.where(rs <= int(n), tail[np.arange(sel.size), np.minimum(rs, int(n))], 0.0)
            co = np.where(np.arange(int(n) + 1)[None, :] < rs[:, None], co, 0.0)
            out_lo.append(l[sel])
            out_hi.append(u[sel])
            out_par.append(par[sel])
            out_coef.append(co)
            out_deg.append((rs - 1).astype(np.int64))
            out_del.append(dc + drop)
    else:
        raise RuntimeError("4over6 generic cells: bisection did not converge; report this with the arguments")
    if todo:
        raise RuntimeError("4over6 generic cells: bisection did not converge; report this with the arguments")
    # (blocks of cells, in the order the first version appended them one by one)
    deg = np.concatenate(out_deg) if out_deg else np.zeros(0, np.int64)
    R1 = int(np.max(deg, initial=0)) + 1
    coef = np.zeros((deg.size, R1))
    i0 = 0
    for cf in out_coef:
        w = min(cf.shape[1], R1)                 # (columns beyond a row's degree are zero)
        coef[i0:i0 + cf.shape[0], :w] = cf[:, :w]
        i0 += cf.shape[0]
    cat = (lambda v, dt: np.concatenate(v).astype(dt) if v else np.zeros(0, dt))
    dels = cat(out_del, float)
    return (cat(out_lo, float), cat(out_hi, float), cat(out_par, np.int64), coef, deg,
            dels if per_cell else float(np.sum(dels)))


@lru_cache(maxsize=1)
def _gl16():
    return np.polynomial.legendre.leggauss(16)


def generic_cells(fmt, m, X6, X4, extra):
    """Cells of ``[-m, m]`` (data units) on which ``d / U^2 = a x + b``, also cut at the points ``extra``."""
    from ._expect_46 import cells

    cl = cells(fmt, m, X6, X4, 0.0, 1.0)
    lo, hi, a, b, atom = cl["zl"], cl["zu"], cl["a"], cl["b"], cl["atom"]
    ex = np.array(sorted(set(float(e) for e in extra if -m < e < m)))
    ex = ex[~np.isin(ex, lo)] if ex.size else ex
    if ex.size:
        e = np.unique(np.concatenate([lo, [hi[-1]], ex]))
        i = np.searchsorted(lo, e[:-1], side="right") - 1          # parent cell of each new cell
        lo, hi, a, b, atom = e[:-1], e[1:], a[i], b[i], atom[i]
    return lo, hi, a, b, atom, cl["U"]


def _alias_L(p, dl, du, p0, k, L0, tgt_abs, Lmax):
    """As :func:`._expect_46._alias_L`, with ``M(th) <= p0 + sum_j p_j e^{th max(d_l, d_u)}`` (an upper bound):
    ``(L, bound)``, the loops in numba (:func:`._expect_46_generic_kernels.alias_L`, docs/blocks.md §2i2; the
    NumPy version of §2i is :func:`_alias_L_numpy`, the reference in the tests)."""
    from ._expect_46_generic_kernels import alias_L

    L, b = alias_L(np.ascontiguousarray(p, float), np.ascontiguousarray(np.maximum(dl, du), float),
                   np.ascontiguousarray(-np.minimum(dl, du), float), float(p0), float(k), float(L0),
                   float(tgt_abs), float(Lmax))
    return float(L), float(b)


def _alias_L_numpy(p, dl, du, p0, k, L0, tgt_abs, Lmax):
    """The first (NumPy) version of :func:`_alias_L` (§2i)."""
    ths = (1.0 / L0) * 1.5 ** np.arange(-2, 30)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        lM = []
        for dmx in (np.maximum(dl, du), -np.minimum(dl, du)):
            M = (p0 + np.sum(p[None, :] * np.exp(ths[:, None] * dmx[None, :]), axis=1)) * (1 + 1e-12)
            lM.append(np.where(np.isfinite(M) & (M > 0), k * np.log(M), np.inf))
        Ls = L0 * 1.1 ** np.arange(0, 80)
        ex = [lm[None, :] - ths[None, :] * Ls[:, None] for lm in lM]
        okth = ths[None, :] >= 1.0 / Ls[:, None]
        bA = sum(np.min(np.where(okth, Ls[:, None] * np.exp(np.minimum(e, 700.0)), np.inf), axis=1) for e in ex)
    good = bA <= tgt_abs
    if good.any():
        i = int(np.argmax(good))
        if Ls[i] < Lmax:
            return float(Ls[i]), float(bA[i])
    return float(Lmax), 0.0


@lru_cache(maxsize=None)
def _comb_row(nn):
    from scipy.special import comb

    j = np.arange(2, nn + 1)
    return comb(nn, j), j


def _r2(p0, x, nn):
    """:func:`._expect_46._r2` (no saturating cells) with the binomial coefficients cached per ``nn``."""
    if nn < 2:
        return np.zeros(x.shape)
    cb, j = _comb_row(nn)
    return (cb[None, :] * p0 ** (nn - j)[None, :] * x[:, None] ** j[None, :]).sum(axis=1)


def _generic_cells_all(fmt, ends, extra):
    """:func:`generic_cells` for every end ``(m, X6, X4)`` of ``ends``, the rounding of the cells' centres in one
    ``fmt.quantize`` call per candidate (the same cells as :func:`._expect_46.cells` with ``loc = 0``,
    ``scale = 1``, then cut at ``extra``).  Returns a list of ``(lo, hi, a, b, atom, U)`` (from
    :func:`_generic_cells_flat`)."""
    lo, hi, a, b, atom, off, U = _generic_cells_flat(fmt, ends, extra)
    return [(lo[off[e]:off[e + 1]], hi[off[e]:off[e + 1]], a[off[e]:off[e + 1]], b[off[e]:off[e + 1]],
             atom[off[e]:off[e + 1]], float(U[e])) for e in range(len(ends))]


def _generic_cells_flat(fmt, ends, extra):
    """:func:`_generic_cells_all` flattened: ``(lo, hi, a, b, atom, off, U)``, end ``e``'s cells at
    ``off[e]:off[e + 1]``; the cut points of all ends in one numba call
    (:func:`._expect_46_generic_kernels.cut_points_all`, the steps of :func:`._expect_46.cut_points`), the
    cuts at ``extra`` inserted only in the ends that need them (docs/blocks.md §2i3)."""
    from ._expect_46_generic_kernels import cut_points_all

    mids = np.ascontiguousarray(np.asarray(fmt.midpoints, float))
    lmax = float(fmt.levels[-1])
    lmin = float(fmt.levels[0])
    E = len(ends)
    ms = np.array([e[0] for e in ends], float)
    X6s = np.array([e[1] for e in ends], float)
    X4s = np.array([e[2] for e in ends], float)
    U = np.where(X6s > 0, X6s, np.where(X4s > 0, X4s, ms))
    x, xo = cut_points_all(ms, X6s, X4s, mids, lmin, lmax)
    nc = np.diff(xo) - 1                                   # cells per end
    endc = np.repeat(np.arange(E), nc)
    first = np.zeros(x.size, bool)
    first[xo[1:] - 1] = True                               # the last edge of each end starts no cell
    li = np.nonzero(~first)[0]
    lo, hi = x[li], x[li + 1]
    CT = 0.5 * (lo + hi)
    RR = []
    for Xv in (X6s[endc], X4s[endc]):
        pos = Xv > 0
        R = np.zeros(CT.shape)
        if np.any(pos):
            R[pos] = Xv[pos] * np.asarray(fmt.quantize(CT[pos] / Xv[pos]), float)
        RR.append(R)
    R6, R4 = RR
    Uc = U[endc]
    atom = np.abs(R4 - R6) <= 1e-12 * (np.abs(R4) + np.abs(R6))
    r6, r4 = R6 / Uc, R4 / Uc
    alpha = np.where(atom, 0.0, 2.0 * (r4 - r6))
    beta = np.where(atom, 0.0, r6 * r6 - r4 * r4)
    a, b = alpha * 1.0 / Uc, beta + alpha * 0.0 / Uc
    off = np.concatenate([[0], np.cumsum(nc)]).astype(np.int64)
    exs = sorted(set(float(v) for v in extra))
    if not exs:
        return lo, hi, a, b, atom, off, U
    # ends where a point of extra lies strictly inside a cell (not already an edge): re-cut those ends
    need = []
    for v in exs:
        inside = (lo < v) & (hi > v)
        if np.any(inside):
            need.append(endc[inside])
    if not need:
        return lo, hi, a, b, atom, off, U
    redo = set(np.unique(np.concatenate(need)).tolist())
    parts = []
    for e in range(E):
        sl = slice(off[e], off[e + 1])
        l_, h_, a_, b_, t_ = lo[sl], hi[sl], a[sl], b[sl], atom[sl]
        if e in redo:
            m = ms[e]
            ex = np.array([v for v in exs if -m < v < m])
            ex = ex[~np.isin(ex, l_)] if ex.size else ex
            if ex.size:
                ee = np.unique(np.concatenate([l_, [h_[-1]], ex]))
                i = np.searchsorted(l_, ee[:-1], side="right") - 1
                l_, h_, a_, b_, t_ = ee[:-1], ee[1:], a_[i], b_[i], t_[i]
        parts.append((l_, h_, a_, b_, t_))
    nc = np.array([p_[0].size for p_ in parts], np.int64)
    off = np.concatenate([[0], np.cumsum(nc)]).astype(np.int64)
    cat = [np.concatenate([p_[j] for p_ in parts]) for j in range(5)]
    return cat[0], cat[1], cat[2], cat[3], cat[4], off, U


def endpoint_abs(dist, comps, fmt, m, X6, X4, k, eps_abs):
    """``(E|S|, error bound, harmonics)`` at one piece end ``m`` (data units^2; module doc), the series' tail
    at 0.6 ``eps_abs``."""
    r = _prepare_ends(dist, comps, fmt, [(m, X6, X4)], k, [eps_abs])[0]
    if r[0] == "done":
        return r[1]
    _approx_all(dist, comps, [r[3]])
    return _finish(r[3], 0.6 * eps_abs)


def _prepare_ends(dist, comps, fmt, ends, k, eas):
    """First stage of :func:`endpoint_abs` for every end ``(m, X6, X4)`` in ``ends`` (targets ``eas``), the
    NumPy work batched over the ends (docs/blocks.md §2i2; the same numbers as one end at a time): everything
    up to the tail bound.  Per end ``("done", (E|S|, error, 0))`` where no harmonic is needed, else
    ``("curve", harmonics, tail bounds, state)``: for each candidate cut ``T`` (the geometric grid of the tail
    bound, extended by ``1.25^i`` beyond it) the number of odd harmonics and the tail's error bound (data
    units^2, decreasing); ``state`` goes to :func:`_approx_all` (all ends at once) and then
    :func:`_finish` ``(state, tail_abs)``, which completes the end with the first ``T`` whose tail bound is
    ``<= tail_abs``."""
    from ._expect_46 import _rho2
    from .expectation import _G, _cell_poly_moment

    n = k
    E = len(ends)
    if E == 0:
        return []
    extra = [mu for _, _, _, mu, _ in comps]
    cl = _generic_cells_all(fmt, [(float(m), float(X6), float(X4)) for m, X6, X4 in ends], extra)
    off = np.concatenate([[0], np.cumsum([c[0].size for c in cl])])
    LO = np.concatenate([c[0] for c in cl])
    HI = np.concatenate([c[1] for c in cl])
    Gs = np.clip(np.asarray(_G(dist, np.array([float(e[0]) for e in ends])), float), 1e-300, 1.0)
    P_all, _ = _cell_poly_moment(dist, LO, HI, 0.0, 0.0, 0.0, 1.0)
    # per end: probabilities, atom, selected cells and the split at the root of d
    st = []
    pl_, pu_, A2_, B2_ = [], [], [], []
    for e in range(E):
        lo, hi, a, b, atom, U = cl[e]
        G = float(Gs[e])
        p = np.maximum(P_all[off[e]:off[e + 1]], 0.0) / G
        p0 = float(min(np.sum(p[atom]), 1.0))
        na = ~atom & (p > 0)
        sel = np.nonzero(na)[0]
        q = 1.0 - p0
        mR = 1.0 - p0 ** n - n * p0 ** (n - 1) * q
        ls, us, aa, bb = lo[sel], hi[sel], a[sel], b[sel]
        zs = np.clip(-bb / aa, ls, us)
        pl = np.concatenate([ls, zs])
        pu = np.concatenate([zs, us])
        A2, B2 = np.concatenate([aa, aa]), np.concatenate([bb, bb])
        okp = pu > pl
        pl_.append(pl[okp]); pu_.append(pu[okp]); A2_.append(A2[okp]); B2_.append(B2[okp])   # noqa: E702
        st.append(dict(G=G, U=U, p=p, p0=p0, sel=sel, mR=mR, ls=ls, us=us, aa=aa, bb=bb, ea=eas[e]))
    offv = np.concatenate([[0], np.cumsum([x.size for x in pl_])])
    V, VE = _cell_poly_moment(dist, np.concatenate(pl_), np.concatenate(pu_), 0.0, 0.0, np.concatenate(A2_),
                              np.concatenate(B2_))
    # tail constants and the Gauss-Legendre nodes of every end's selected cells at once
    offs = np.concatenate([[0], np.cumsum([s["sel"].size for s in st])])
    LS = np.concatenate([s["ls"] for s in st])
    US = np.concatenate([s["us"] for s in st])
    TV = _tv_bound(comps, LS, US)
    zq, wq = _gl16()
    XX = 0.5 * (LS + US)[:, None] + 0.5 * (US - LS)[:, None] * zq
    FX = _pdf(comps, XX)
    out = []
    for e in range(E):
        s = st[e]
        G, U, p0, sel, mR = s["G"], s["U"], s["p0"], s["sel"], s["mR"]
        ls, us, aa, bb = s["ls"], s["us"], s["aa"], s["bb"]
        v, ve = V[offv[e]:offv[e + 1]], VE[offv[e]:offv[e + 1]]
        E1 = float(np.sum(np.abs(v))) / G
        E1e = float(np.sum(ve)) / G + 8 * _EPS * E1
        abs1 = n * p0 ** (n - 1) * E1
        if sel.size == 0 or mR <= 0.0:
            out.append(("done", (abs1 * U * U, (n * p0 ** (n - 1) * E1e + 4 * _EPS * abs1) * U * U, 0)))
            continue
        ea = s["ea"] / (U * U)                       # target of E|S| / U^2
        # tail constants |cf_j(t)| <= Cj / t
        Cj = TV[offs[e]:offs[e + 1]] / (G * np.abs(aa))
        C = float(np.sum(Cj))
        pj = s["p"][sel]
        dl, du = aa * ls + bb, aa * us + bb
        dmax = float(np.max(np.maximum(np.abs(dl), np.abs(du))))
        # mean / sd of S (placement of L only): 16-point Gauss-Legendre per cell
        xx = XX[offs[e]:offs[e + 1]]
        ww = 0.5 * (us - ls)[:, None] * wq * FX[offs[e]:offs[e + 1]] / G
        dd = aa[:, None] * xx + bb[:, None]
        e1, e2 = float(np.sum(ww * dd)), float(np.sum(ww * dd * dd))
        mu, sd = n * e1, math.sqrt(max(n * (e2 - e1 * e1), 0.0))
        L0 = max(dmax * 1.0000001, abs(mu) + 6.0 * sd, 1e-300)
        L, al_abs = _alias_L(pj, dl, du, p0, n, L0, 0.2 * ea, n * dmax * (1.0 + 1e-12))
        # tail: (2/pi) int_T^inf rho_2 / t^2 on a geometric grid (as endpoint_stats_fs)
        tmax = float(np.max(Cj / np.maximum(pj, 1e-300)))
        t0 = math.pi / L
        tN = max(tmax, t0) * 1.001
        ng = int(math.ceil(math.log(tN / t0) / math.log(1.05))) + 1
        tg = t0 * 1.05 ** np.arange(ng + 1)
        tN = float(tg[-1])
        x = np.minimum(pj[None, :], Cj[None, :] / tg[:, None]).sum(axis=1)
        inv = 1.0 / tg[:-1] - 1.0 / tg[1:]
        bA = np.concatenate([np.cumsum((_r2(p0, x, n)[:-1] * inv)[::-1])[::-1], [0.0]]) \
            + _rho2(p0, C, n, tN) / (3 * tN)
        # beyond tN every min(p_j, Cj / t) is Cj / t: the pure form rho_2(T) / (3 T)
        Te = tN * 1.25 ** np.arange(1, 61)
        Tc = np.concatenate([tg, Te])
        bc = np.concatenate([bA, _r2(p0, C / Te, n) / (3 * Te)])
        harm = np.ceil(np.ceil(Tc * L / math.pi) / 2)
        errc = (2.0 / math.pi) * bc * U * U
        # cells' polynomials (built by _approx_all): sum delta <= 0.1 ea / (L k (1 + p0^(k-1)) 1.05 / 2)
        sym = all(mu_ == 0.0 for _, _, _, mu_, _ in comps)
        if sym:
            cs = np.nonzero(ls >= 0.0)[0]
            wsym = 2.0
        else:
            cs = np.arange(sel.size)
            wsym = 1.0
        dtot = 0.1 * ea / (L * n * 0.5 * (1.05 + p0 ** (n - 1)))
        wid = us[cs] - ls[cs]
        tgt = dtot / wsym * wid / float(np.sum(wid))
        out.append(("curve", harm, errc, dict(
            n=n, U=U, G=G, p0=p0, mR=mR, L=L, al_abs=al_abs, abs1=abs1, E1e=E1e, C=C, Tc=Tc, Te=Te, bc=bc,
            cs=cs, wsym=wsym, tgt=tgt, ls=ls, us=us, aa=aa, bb=bb)))
    return out


def _approx_all(dist, comps, states):
    """The cells' polynomials (:func:`_approx_cells`) of every end's state in one call (the same cells, in
    the same order, as one end at a time: each cell's choice depends on its own bounds only), stored in the
    states."""
    if not states:
        return
    lo = np.concatenate([s["ls"][s["cs"]] for s in states])
    hi = np.concatenate([s["us"][s["cs"]] for s in states])
    tgt = np.concatenate([s["tgt"] for s in states])
    G = np.concatenate([np.full(s["cs"].size, s["G"]) for s in states])
    endi = np.concatenate([np.full(s["cs"].size, i, np.int64) for i, s in enumerate(states)])
    offc = np.concatenate([[0], np.cumsum([s["cs"].size for s in states])])
    cl_, cu_, par, coef, deg, dels = _approx_cells(dist, comps, lo, hi, tgt, G, per_cell=True)
    owner = endi[par]
    for i, s in enumerate(states):
        w = np.nonzero(owner == i)[0]
        dg = deg[w]
        R1 = int(np.max(dg, initial=0)) + 1
        s["cells"] = (cl_[w], cu_[w], par[w] - offc[i], np.ascontiguousarray(coef[w, :R1]), dg,
                      float(np.sum(dels[w])))


def _finish(s, tail_abs):
    """Last stage of an end (:func:`_prepare_ends`): the cut ``T`` for the tail target ``tail_abs`` (data
    units^2), the harmonics (numba kernel) and the end's value and error bound."""
    from ._expect_46 import _rho2
    from ._expect_46_generic_kernels import legendre_cf_sum

    n, U, L, p0, C = s["n"], s["U"], s["L"], s["p0"], s["C"]
    Tc, Te, bc = s["Tc"], s["Te"], s["bc"]
    eat = tail_abs / (U * U) * math.pi / 2
    ok = bc <= eat
    if ok.any():
        i_ok = int(np.argmax(ok))
        T, tailA = float(Tc[i_ok]), float(bc[i_ok])
    else:
        T = float(Te[-1])
        while _rho2(p0, C, n, T) / (3 * T) > eat:
            T *= 1.25
        tailA = _rho2(p0, C, n, T) / (3 * T)
    J = int(math.ceil(T * L / math.pi))
    j = np.arange(1, J + 1, 2, dtype=float)
    tt = j * (math.pi / L)
    cl_, cu_, par, coef, deg, delta = s["cells"]
    wsym = s["wsym"]
    cs = s["cs"]
    delta *= wsym
    coef = np.ascontiguousarray(coef * wsym)
    ctr = 0.5 * (cl_ + cu_)
    hh = 0.5 * (cu_ - cl_)
    re = np.empty(tt.size)
    im = np.empty(tt.size)
    rnd_c = np.empty(tt.size)
    legendre_cf_sum(tt, np.ascontiguousarray(s["aa"][cs][par]), np.ascontiguousarray(s["bb"][cs][par]), ctr, hh,
                    coef, deg, re, im, rnd_c)
    psi = re + 1j * im
    Psi = p0 + psi
    R = Psi ** (n - 1) * Psi - p0 ** n - n * p0 ** (n - 1) * psi
    fac = (1.0 + delta + np.abs(rnd_c)) ** (n - 1) + p0 ** (n - 1)
    rnd_w = (3 * n + 4) * _EPS * (np.abs(Psi) ** n + p0 ** n + n * p0 ** (n - 1) * np.abs(psi) + 1e-300) \
        + n * rnd_c * fac
    Iabs = float(np.sum(R.real / (j * j)))
    abs1, mR = s["abs1"], s["mR"]
    abs_S = (abs1 + 0.5 * L * mR - (4.0 * L / math.pi ** 2) * Iabs) * U * U
    d_err = 0.5 * L * n * delta * ((1.0 + delta) ** (n - 1) + p0 ** (n - 1))
    err_abs = ((2.0 / math.pi) * tailA + s["al_abs"] + (4.0 * L / math.pi ** 2) * float(np.sum(rnd_w / (j * j)))
               + 8 * _EPS * (abs1 + L * mR) * (1 + J * _EPS) + d_err + n * p0 ** (n - 1) * s["E1e"]) * U * U
    return abs_S, err_abs, int(tt.size)


def _split_tail_budget(g, default, harm, errc):
    """Tail targets ``e_i`` (data units^2) per end with ``sum g_i e_i <= sum g_i default_i`` (the equal split's
    total, so the summed bound is unchanged) and few harmonics in all: each end's cost curve is the number of odd
    harmonics against its tail bound at the candidate cuts (``harm``, ``errc``: arrays, the bound decreasing);
    for a multiplier ``lam`` each end takes the cut minimizing ``harmonics + lam g_i bound``, and ``lam`` is the
    smallest (bisection in log scale) whose choices fit the budget.  A heuristic for *where* the budget goes;
    every end's bound is the one its cut gives, summed (docs/blocks.md §2i)."""
    if len(g) == 0:
        return []
    return _split_tail_budget_mat(g, default, *_pad_curves(harm, errc))


def _pad_curves(harm, errc):
    """The ends' cut curves as two ``(n, K)`` matrices padded with ``inf`` (harmonics, bounds)."""
    n = len(harm)
    K = max(h.size for h in harm)
    H = np.full((n, K), np.inf)
    E = np.full((n, K), np.inf)
    for i in range(n):
        H[i, :harm[i].size] = harm[i]
        E[i, :errc[i].size] = errc[i]
    return H, E


def _split_tail_budget_mat(g, default, H, E, numba_split=False):
    """:func:`_split_tail_budget` with the curves as rows of ``H``, ``E`` (padded with ``inf``); with
    ``numba_split`` the multiplier search in one numba call (:func:`._expect_46_generic_kernels.split_bisect`,
    the same steps; docs/blocks.md §2i3)."""
    n = len(g)
    if n == 0:
        return []
    g = np.asarray(g, float)
    B = float(np.sum(g * np.asarray(default, float)))
    GE = g[:, None] * E
    if numba_split:
        from ._expect_46_generic_kernels import split_bisect

        fin = np.isfinite(H)
        lens = np.where(fin.any(axis=1), H.shape[1] - np.argmax(fin[:, ::-1], axis=1), 0).astype(np.int64)
        idx = split_bisect(np.ascontiguousarray(H, float), np.ascontiguousarray(GE), B, lens)
        if idx[0] < 0:
            return list(default)
        return list(E[np.arange(n), idx] * (1.0 + 1e-12))

    def pick(lam):
        with np.errstate(invalid="ignore"):
            idx = np.argmin(np.where(np.isfinite(H), H + lam * GE, np.inf), axis=1)
        return idx, float(np.sum(GE[np.arange(n), idx]))

    lo, hi = -80.0, 80.0                       # log10 lam
    idx, tot = pick(10.0 ** hi)
    if tot > B:
        return list(default)                    # the budget is below what the curves reach: the equal split
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        i2, t2 = pick(10.0 ** mid)
        if t2 <= B:
            hi, idx = mid, i2
        else:
            lo = mid
    return list(E[np.arange(n), idx] * (1.0 + 1e-12))


def telescoped_4over6_generic(dist, bf, c, S, tol, fast=True):
    """``(mse, error bound, ends, harmonics)`` of the ``4over6`` rule for a law accepted by :func:`components`
    (E4M3 scales, ``k >= 3``): telescoped over the pieces of ``_pieces_4over6``, as
    ``expectation_min._telescoped_4over6`` without the rates."""
    from .expectation import _G, _range, block_mse
    from .expectation_min import _pieces_4over6

    comps = components(dist)
    if comps is None:
        raise ValueError("this law has no supported density for the generic telescoped 4over6")
    k = bf.block
    m2 = dist.second_moment()
    r6 = block_mse(dist, bf, "round", c=c, tensor_scale=S, tol=1e-12)
    r4 = block_mse(dist, bf, "round", c=1.5 * c, tensor_scale=S, tol=1e-12)
    rrel = min(1.0, 50.0 * 0.5 * (r6.mse + r4.mse) / m2)
    mlo, mhi = _range(dist, k, min(tol, 1e-10) * rrel)
    a, b, X6, u6, o6, X4, u4, o4 = _pieces_4over6(dist, bf, c, S, mlo, mhi)
    Gk_a = np.clip(np.asarray(_G(dist, a), float), 0.0, 1.0) ** k
    Gk_b = np.clip(np.asarray(_G(dist, b), float), 0.0, 1.0) ** k
    P = a.size
    mse_ref = 0.5 * (r6.mse + r4.mse)
    eps_abs = 0.25 * tol * mse_ref * 2 * k / (2 * P)
    tot = 0.0
    err = 0.0
    harm = 0
    elist, einfo = [], []
    for i in range(P):
        for m, g, sg in ((b[i], Gk_b[i], 1.0), (a[i], Gk_a[i], -1.0)):
            if g <= 0:
                continue
            ea = min(eps_abs / g, k * m2)
            elist.append((float(m), float(X6[i]), float(X4[i])))
            einfo.append((g, sg, ea))
    ends = len(elist)
    if fast:
        t_, e_, harm = _ends_all(dist, comps, bf.fmt, elist, k, [e[2] for e in einfo], [e[0] for e in einfo],
                                 [e[1] for e in einfo])
        tot += t_
        err += e_
    else:
        tot, err, harm = _ends_stepwise(dist, comps, bf.fmt, elist, einfo, k)
    mse = mse_ref - tot / (2 * k)
    err_m = (err / (2 * k) + 0.5 * (r6.error_estimate + r4.error_estimate) + 1e-3 * tol * rrel * m2
             + 20 * _EPS * mse)
    return mse, err_m, ends, harm


def _ends_stepwise(dist, comps, fmt, elist, einfo, k):
    """The ends one stage at a time with a Python step per end (§2i2; the reference of :func:`_ends_all`)."""
    tot = 0.0
    err = 0.0
    harm = 0
    pend = []
    prep = _prepare_ends(dist, comps, fmt, elist, k, [e[2] for e in einfo])
    for (g, sg, ea), r in zip(einfo, prep):
        if r[0] == "done":
            v, e, h = r[1]
            tot += sg * g * v
            err += g * e
            continue
        pend.append((g, sg, ea, r[1], r[2], r[3]))
    _approx_all(dist, comps, [p[5] for p in pend])
    tails = _split_tail_budget([p[0] for p in pend], [0.6 * p[2] for p in pend], [p[3] for p in pend],
                               [p[4] for p in pend])
    for (g, sg, ea, _, _, state), ta in zip(pend, tails):
        v, e, h = _finish(state, ta)
        tot += sg * g * v
        err += g * e
        harm += h
    return tot, err, harm


def _ends_all(dist, comps, fmt, ends, k, eas, g, sgn):
    """``sum_e sgn_e g_e E|S|_e`` and ``sum_e g_e err_e`` (data units^2) and the harmonics over every end ``(m,
    X6, X4)`` of ``ends`` (targets ``eas``): :func:`_prepare_ends`, :func:`_approx_all`,
    :func:`_split_tail_budget` and :func:`_finish` without a Python step per end (docs/blocks.md §2i3): the
    per-end loops of the first two in NumPy over all ends at once (``bincount`` by end) and in one numba call
    (:func:`._expect_46_generic_kernels.end_curves`), the harmonics of all ends in one numba call
    (:func:`._expect_46_generic_kernels.finish_all`).  The same cells, the same bounds and the same series;
    the functions above stay as the reference (tests)."""
    from ._expect_46_generic_kernels import end_curves, finish_all
    from .expectation import _G, _cell_poly_moment_pts

    n = k
    E = len(ends)
    if E == 0:
        return 0.0, 0.0, 0
    g = np.asarray(g, float)
    sgn = np.asarray(sgn, float)
    eas = np.asarray(eas, float)
    extra = [mu for _, _, _, mu, _ in comps]
    LO, HI, AA, BB, ATOM, coff0, U = _generic_cells_flat(fmt, ends, extra)
    endc = np.repeat(np.arange(E), np.diff(coff0))
    Gs = np.clip(np.asarray(_G(dist, np.array([float(e[0]) for e in ends])), float), 1e-300, 1.0)
    # the cells' edges as points (a cell's upper edge is the next cell's lower edge within an end), then the
    # roots of d: the partial moments once per point (:func:`expectation._cell_poly_moment_pts`, the same
    # numbers as per cell)
    nC = LO.size
    ii = np.arange(nC)
    cont = np.zeros(nC, bool)
    cont[:-1] = (endc[1:] == endc[:-1]) & (LO[1:] == HI[:-1])
    last = np.nonzero(~cont)[0]
    ihc = np.where(cont, ii + 1, 0)
    ihc[last] = nC + np.arange(last.size)
    P_pts = np.concatenate([LO, HI[last]])
    # the roots of d on the non-atom cells (known before the probabilities: atom is a property of the cell)
    cand = np.nonzero(~ATOM)[0]
    zc = np.clip(-BB[cand] / AA[cand], LO[cand], HI[cand])
    pts = np.concatenate([P_pts, zc])
    cache = {}
    P_all, _ = _cell_poly_moment_pts(dist, pts, ii, ihc, 0.0, 0.0, 0.0, 1.0, cache)
    p = np.maximum(P_all, 0.0) / Gs[endc]
    p0 = np.minimum(np.bincount(endc, weights=np.where(ATOM, p, 0.0), minlength=E), 1.0)
    mR = 1.0 - p0 ** n - n * p0 ** (n - 1) * (1.0 - p0)
    okc = p[cand] > 0
    sel = cand[okc]
    es = endc[sel]
    ls, us, aa, bb, pj = LO[sel], HI[sel], AA[sel], BB[sel], p[sel]
    izs = P_pts.size + np.nonzero(okc)[0]                 # index of each root zc[okc] in pts
    il2 = np.concatenate([sel, izs])
    ih2 = np.concatenate([izs, ihc[sel]])
    pl, pu = pts[il2], pts[ih2]
    A2, B2, own = np.concatenate([aa, aa]), np.concatenate([bb, bb]), np.concatenate([es, es])
    okp = pu > pl
    V, VE = _cell_poly_moment_pts(dist, pts, il2[okp], ih2[okp], 0.0, 0.0, A2[okp], B2[okp], cache)
    E1 = np.bincount(own[okp], weights=np.abs(V), minlength=E) / Gs
    E1e = np.bincount(own[okp], weights=VE, minlength=E) / Gs + 8 * _EPS * E1
    abs1 = n * p0 ** (n - 1) * E1
    nsel = np.bincount(es, minlength=E)
    done = (nsel == 0) | (mR <= 0.0)
    tot = 0.0
    err = 0.0
    if np.any(done):
        dv = abs1[done] * U[done] ** 2
        de = (n * p0[done] ** (n - 1) * E1e[done] + 4 * _EPS * abs1[done]) * U[done] ** 2
        tot += float(np.sum(sgn[done] * g[done] * dv))
        err += float(np.sum(g[done] * de))
    cv = np.nonzero(~done)[0]
    if cv.size == 0:
        return tot, err, 0
    keep = ~done[es]
    ls, us, aa, bb, pj, es = ls[keep], us[keep], aa[keep], bb[keep], pj[keep], es[keep]
    remap = np.full(E, -1, np.int64)
    remap[cv] = np.arange(cv.size)
    ec = remap[es]                                   # the curve end of each selected cell
    off = np.concatenate([[0], np.cumsum(np.bincount(ec, minlength=cv.size))]).astype(np.int64)
    TV = _tv_bound(comps, ls, us)
    zq, wq = _gl16()
    XX = 0.5 * (ls + us)[:, None] + 0.5 * (us - ls)[:, None] * zq
    FX = _pdf(comps, XX)
    Gc, Uc, p0c = Gs[cv], U[cv], p0[cv]
    eac = eas[cv] / (Uc * Uc)
    sym = all(mu_ == 0.0 for _, _, _, mu_, _ in comps)
    C, L, al, coff, Tc, bc, harm, errc, tgt, csm = end_curves(
        off, ls, us, aa, bb, pj, TV, np.ascontiguousarray(XX), np.ascontiguousarray(FX), wq, Gc, Uc, p0c, eac,
        n, sym)
    # the cells' polynomials of every end at once (:func:`_approx_all`), grouped back by end (stable)
    ci = np.nonzero(csm)[0]
    cl_, cu_, par, coef, deg, dels = _approx_cells(dist, comps, ls[ci], us[ci], tgt[ci], Gc[ec[ci]],
                                                   per_cell=True)
    owner = ec[ci[par]]
    order = np.argsort(owner, kind="stable")
    cl_, cu_, par, coef, deg, dels, owner = (cl_[order], cu_[order], par[order], coef[order], deg[order],
                                             dels[order], owner[order])
    cof = np.concatenate([[0], np.cumsum(np.bincount(owner, minlength=cv.size))]).astype(np.int64)
    delta = np.bincount(owner, weights=dels, minlength=cv.size)
    src = ci[par]                                    # the selected cell each polynomial cell lies in
    # tail budget split (:func:`_split_tail_budget` on the padded curves)
    gc = g[cv]
    lens = np.diff(coff)
    K = int(np.max(lens))
    idx = coff[:-1, None] + np.arange(K)[None, :]
    valid = np.arange(K)[None, :] < lens[:, None]
    idx = np.where(valid, idx, 0)
    Hm = np.where(valid, harm[idx], np.inf)
    Em = np.where(valid, errc[idx], np.inf)
    tails = np.asarray(_split_tail_budget_mat(gc, 0.6 * eas[cv], Hm, Em, numba_split=True), float)
    wsym = 2.0 if sym else 1.0
    vo = np.empty(cv.size)
    eo = np.empty(cv.size)
    ho = np.empty(cv.size, np.int64)
    finish_all(n, Uc, L, p0c, C, coff, Tc, bc, tails, cof, np.ascontiguousarray(aa[src]),
               np.ascontiguousarray(bb[src]), 0.5 * (cl_ + cu_), 0.5 * (cu_ - cl_), np.ascontiguousarray(coef),
               np.ascontiguousarray(deg), delta, wsym, abs1[cv], mR[cv], al, E1e[cv], vo, eo, ho)
    tot += float(np.sum(sgn[cv] * gc * vo))
    err += float(np.sum(gc * eo))
    return tot, err, int(np.sum(ho))
