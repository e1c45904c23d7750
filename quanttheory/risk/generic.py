"""Generic integration of a law's continuous part: any :class:`~quanttheory.laws.Law` with a density.

Used by the engine for a law whose ``kernel_params()`` is None (no numba kernel),
so that a new law is one new class: only ``pdf``, ``cdf``/``sf``, ``mean``,
``second_moment`` (or their generic fallbacks), ``support`` and ``breakpoints`` are
needed.  For each scale ``s`` the quantity

    F(s) = s**2 * integral phi(x / s) pdf(x) dx       (continuous part, data units squared)

is split into pieces on which the integrand is analytic (the regularizer's
half-cells ``[m s/2, (m+1) s/2]`` inside the grid range, everywhere for periodic
tails; the grid ends ``r_b s``, ``r_t s``; the law's support ends and
breakpoints), the pieces are further cut to widths of at most ``1/8`` of
``max(sd, |x - mean|)`` (the density's scale, growing geometrically in the tails),
and each piece gets a ``NODES``-point Gauss-Legendre rule.  The window leaves out
tails carrying at most ``TAIL_MASS`` of ``E[xi**2]`` (``x**2 sf(x)`` test).

The window/Gauss-Legendre description above is the path of periodic-tail regularizers
(SinReQ).  Regularizers with quadratic tails (MSQE, QSin, user) use the adaptive
Gauss-Kronrod :func:`quad_expected_phi` (infinite tails mapped, error estimate reported).
Accuracy: not certified (the Gauss-Kronrod estimate is not a bound).  Tested against the
numba kernels (Student t, Normal, Laplace, generalized Gaussian: relative error <= 1e-10).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

from ..formats.regularizers import CODE_MSQE, CODE_QSIN

import numpy as np

TAIL_MASS = 1e-20
NODES = 20
MAX_PIECES = 1 << 22
REFINE = 8.0


@lru_cache(maxsize=1)
def _gauss():
    return np.polynomial.legendre.leggauss(NODES)


def window(law) -> tuple[float, float]:
    """``(lo, hi)`` inside the support with ``x**2 cdf(lo)`` and ``x**2 sf(hi)`` at most ``TAIL_MASS E[xi**2]``
    (doubling search from the mean): the second moment left out is negligible, heavy tails included."""
    sup_lo, sup_hi = law.support()
    m, sd = law.mean(), math.sqrt(max(law.var(), 0.0))
    sd = sd if sd > 0 else max(abs(m), 1.0)
    tol = TAIL_MASS * (m * m + sd * sd)
    lo, hi = sup_lo, sup_hi
    if not math.isfinite(hi):
        hi = max(m, sup_lo) + sd
        for _ in range(2000):
            if (hi * hi + sd * sd) * float(law.sf(hi)) <= tol:
                break
            hi = max(m, sup_lo) + 2 * (hi - max(m, sup_lo))
        else:
            raise ValueError(f"{law.name}: sf(x) stays above {TAIL_MASS:g} for every float x; "
                             "the risk engine needs a law with finite second moment")
    if not math.isfinite(lo):
        lo = min(m, hi) - sd
        for _ in range(2000):
            if (lo * lo + sd * sd) * float(law.cdf(lo)) <= tol:
                break
            lo = min(m, hi) - 2 * (min(m, hi) - lo)
        else:
            raise ValueError(f"{law.name}: cdf(x) stays above {TAIL_MASS:g} for every float x; "
                             "the risk engine needs a law with finite second moment")
    return float(lo), float(hi)


def _cuts(law, lo, hi, s, r_b, r_t, periodic):
    """Sorted piece boundaries in ``[lo, hi]`` for scale ``s`` (see the module docstring)."""
    a, b = (lo, hi) if periodic else (max(lo, r_b * s), min(hi, r_t * s))
    pts = [lo, hi] + [c for c in law.breakpoints() if lo < c < hi]
    if not periodic:
        pts += [c for c in (r_b * s, r_t * s) if lo < c < hi]
    if a < b:
        m0, m1 = math.floor(2 * a / s), math.ceil(2 * b / s)
        if m1 - m0 > MAX_PIECES:
            raise ValueError(f"scale {s:g} needs {m1 - m0} half-cells for {law.name} (window [{lo:g}, {hi:g}]); "
                             "use a larger scale or a law with a numba kernel")
        half = np.arange(m0, m1 + 1) * (s / 2)
        pts = np.concatenate([np.asarray(pts, dtype=float), half[(half > lo) & (half < hi)]])
    return np.unique(np.asarray(pts, dtype=float))


def _refinement(lo, hi, m, sd):
    """Points splitting ``[lo, hi]`` into widths <= max(sd, |x - m|) / REFINE: a step ``sd / REFINE``
    within ``8 sd`` of ``m``, then geometric steps of ratio ``1 + 1 / REFINE``."""
    inner = m + sd * np.arange(-8 * REFINE, 8 * REFINE + 1) / REFINE
    far = max(hi - m, m - lo)
    pts = [inner]
    if far > 8 * sd:
        j = np.arange(int(math.ceil(math.log(far / (8 * sd)) / math.log1p(1 / REFINE))) + 2)
        r = 8 * sd * (1 + 1 / REFINE) ** j
        pts += [m + r, m - r]
    pts = np.concatenate(pts)
    return pts[(pts > lo) & (pts < hi)]


def expected_phi_density(law, grid, reg, flat: np.ndarray) -> np.ndarray:
    """``s**2 integral phi(x/s) pdf(x) dx`` at each scale of ``flat``.

    Regularizers with quadratic (non-periodic) tails: adaptive Gauss-Kronrod
    (:func:`quad_expected_phi`, estimated relative error <= ``GK_RTOL``; a ``RuntimeWarning`` when the
    estimate is not met).  Periodic tails (SinReQ): piecewise Gauss-Legendre on a truncated window."""
    if reg.periodic_tails:
        return _gl_expected_phi(law, grid, reg, flat)
    res = quad_expected_phi(law, grid, reg, flat)
    if not res.converged.all():
        import warnings

        bad = np.flatnonzero(~res.converged)
        warnings.warn(f"{law}: the Gauss-Kronrod error estimate stays above {GK_RTOL:g} relative at "
                      f"{bad.size} scale(s) (worst estimate {np.max(res.error[bad] / np.abs(res.values[bad])):.2g}); "
                      "declare the density's kinks / jumps with from_scipy(..., breakpoints=...)", RuntimeWarning,
                      stacklevel=3)
    return res.values


def _gl_expected_phi(law, grid, reg, flat: np.ndarray) -> np.ndarray:
    """Fixed-order piecewise Gauss-Legendre on the window (periodic-tail regularizers)."""
    t, w = _gauss()
    lo, hi = window(law)
    m, sd = law.mean(), math.sqrt(max(law.var(), 0.0))
    sd = sd if sd > 0 else max(abs(m), 1.0)
    extra = _refinement(lo, hi, m, sd)
    out = np.empty_like(flat)
    for i, s in enumerate(flat):
        pts = np.union1d(_cuts(law, lo, hi, float(s), grid.r_b, grid.r_t, reg.periodic_tails), extra)
        half = 0.5 * np.diff(pts)
        x = (pts[:-1] + half)[:, None] + half[:, None] * t[None, :]
        f = np.asarray(law.pdf(x), dtype=float) * reg.evaluate(x / s, grid.r_b, grid.r_t)
        out[i] = s * s * math.fsum((f * (half[:, None] * w[None, :])).ravel())
    return out


# --- adaptive Gauss-Kronrod (G7-K15) -------------------------------------------------------------

GK_RTOL = 1e-10
GK_MAX_PIECES = 200_000
GK_MAX_ROUNDS = 60

_XGK = np.array([0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
                 0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
                 0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
                 0.207784955007898467600689403773245, 0.0])
_WGK = np.array([0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
                 0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
                 0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
                 0.204432940075298892414161999234649, 0.209482141084727828012999174891714])
_WG = np.array([0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
                0.381830050505118944950369775488975, 0.417959183673469387755102040816327])
# symmetric 15 nodes; the Gauss 7-point rule uses the odd-indexed Kronrod nodes and the centre
NODES15 = np.concatenate([-_XGK[:7], [0.0], _XGK[6::-1]])
WK15 = np.concatenate([_WGK[:7], [_WGK[7]], _WGK[6::-1]])
WG15 = np.zeros(15)
WG15[[1, 3, 5]] = _WG[:3]
WG15[7] = _WG[3]
WG15[[9, 11, 13]] = _WG[2::-1]


class QuadCurve(NamedTuple):
    """Result of :func:`quad_expected_phi`: ``values`` (``s**2 E[phi(xi/s)]``, data units squared),
    ``error`` (the Gauss-Kronrod estimate ``sum |K15 - G7|`` over the pieces, same units),
    ``converged`` (``error <= GK_RTOL |values|``), ``pieces`` (final number of pieces per scale)."""

    values: np.ndarray
    error: np.ndarray
    converged: np.ndarray
    pieces: np.ndarray


def _integrand(law, reg, grid, s, kind, a, b):
    """K15 and G7 sums of each piece; ``kind`` 0: x in [a, b]; 1: right tail x = c + d (u^-q - 1) on
    u in [a, b] (``c, d, q`` from ``_TAIL``); 2: left tail, mirrored.  On the tails of MSQE / QSin
    (quadratic clipping error beyond the grid) the integrand is formed in logs from ``law.logpdf``
    when the law has one, so that x up to ~1e299 is reached without overflow of x^2 or underflow
    of the density (t(2.05) keeps 1e-5 of E[xi^2] beyond x = 1e100)."""
    half = 0.5 * (b - a)
    mid = 0.5 * (a + b)
    u = mid[:, None] + half[:, None] * NODES15[None, :]
    f = np.zeros_like(u)
    inner = kind == 0
    if np.any(inner):
        x = u[inner]
        with np.errstate(all="ignore"):
            f[inner] = np.asarray(law.pdf(x), dtype=float) * reg.evaluate(x / s, grid.r_b, grid.r_t)
    logpdf = getattr(law, "logpdf", None)
    for k, sign in ((1, 1.0), (2, -1.0)):
        sel = kind == k
        if not np.any(sel):
            continue
        c, d, q = _TAIL[k]
        uu = u[sel]
        lu = np.log(uu)
        lxq = -q * lu  # log of u^-q
        ok = lxq + math.log(d) < 689.0  # x < ~1e299
        uq = np.exp(np.where(ok, lxq, 0.0))
        x = c + sign * d * (uq - 1.0)
        ljac = math.log(q * d) + lxq - lu
        with np.errstate(all="ignore"):
            if logpdf is not None and reg.code in (CODE_MSQE, CODE_QSIN):
                edge = grid.r_t * s if k == 1 else grid.r_b * s
                lphi = 2 * np.log(np.abs(x - edge) / s) + (2 * math.log(math.pi) if reg.code == CODE_QSIN else 0.0)
                lp = np.asarray(logpdf(x), dtype=float)
                val = np.exp(lp + lphi + ljac)
                dropped = ~ok | np.isneginf(lp)  # beyond ~1e299, or a logpdf that underflows (x^2 overflow)
            else:
                ok &= np.abs(x / s) < 1e150
                xs = np.where(ok, x, c)
                val = np.asarray(law.pdf(xs), dtype=float) * reg.evaluate(xs / s, grid.r_b, grid.r_t) * np.exp(ljac)
                dropped = ~ok
        good = ok & np.isfinite(val)
        val = np.where(good, val, 0.0)
        f[sel] = val
        dropped &= uu < 0.5
        if np.any(dropped) and np.any(val > 0):
            # mass left out near u = 0 (x -> inf): estimated as 2 u f(u) at the smallest u kept
            uf, vf = uu.ravel(), val.ravel()
            j = np.flatnonzero(vf > 0)
            jm = j[np.argmin(uf[j])]
            _LOST[k] = max(_LOST.get(k, 0.0), 2.0 * float(uf[jm]) * float(vf[jm]))
    K = (f @ WK15) * half
    G = (f @ WG15) * half
    return K, G


_TAIL: dict = {}
_LOST: dict = {}


def _tail_power(sf, c, d) -> float:
    """Power ``q`` of the tail map ``x = c + d (u^-q - 1)``: with a tail ``sf(x) ~ x^-alpha`` the
    integrand ``x^2 p(x) dx`` becomes ``~ u^(q (alpha - 2) - 1) du``; ``q = 2 / (alpha - 2)`` makes it
    ``~ u`` (bounded), q in [1, 60]; alpha estimated from sf at ``c + d`` and ``c + 100 d``."""
    x1, x2 = c + d, c + 100 * d
    f1, f2 = sf(x1), sf(x2)
    if not (f1 > 0 and f2 > 0):
        return 1.0
    alpha = math.log(f1 / f2) / math.log(x2 / x1) if x1 > 0 else math.inf
    if alpha > 4:
        return 1.0
    return 60.0 if alpha <= 2 + 2 / 60 else max(1.0, 2 / (alpha - 2))


def quad_expected_phi(law, grid, reg, flat: np.ndarray, rtol: float = GK_RTOL) -> QuadCurve:
    """Adaptive Gauss-Kronrod for ``s**2 integral phi(x/s) pdf(x) dx`` (non-periodic regularizers).

    Pieces per scale: the half-cells of the grid range ``[r_b s, r_t s]`` (where phi is analytic),
    a core ``mean +- 8 sd`` cut at the law's breakpoints, and the two outer tails mapped to
    ``u in (0, 1]`` by ``x = c +- d (1/u - 1)`` (``d = max(sd, |c|)``), so heavy tails are integrated
    to infinity, not truncated.  Every piece gets the 15-point Kronrod rule and its embedded 7-point
    Gauss rule; the error estimate is ``sum |K - G|`` (QUADPACK's raw estimate, pessimistic for
    smooth pieces) plus, on a tail whose far nodes had to be dropped (x beyond ~1e299, or a
    ``logpdf`` that returns -inf at finite x, as scipy's t does beyond ~1e154), ``2 u f(u)`` at the
    smallest mapped ``u`` kept (the mass left out, estimated).  Pieces whose estimate exceeds their share ``rtol |total| / (4 n)`` are halved
    until ``sum |K - G| <= rtol |total|``, at most ``GK_MAX_ROUNDS`` rounds / ``GK_MAX_PIECES``
    pieces (then ``converged`` is False).  The certificate of an optimum found from these values is
    conditional on the estimate (it is not a bound)."""
    sup_lo, sup_hi = (float(v) for v in law.support())
    m = float(law.mean())
    sd = math.sqrt(max(float(law.var()), 0.0)) or max(abs(m), 1.0)
    n = flat.size
    vals, errs, conv, npc = np.empty(n), np.empty(n), np.zeros(n, dtype=bool), np.zeros(n, dtype=int)
    bps = [b for b in law.breakpoints() if sup_lo < b < sup_hi]
    for i, s in enumerate(np.asarray(flat, dtype=float)):
        A, B = grid.r_b * s, grid.r_t * s
        lo = max(sup_lo, min(m - 8 * sd, A))
        hi = min(sup_hi, max(m + 8 * sd, B))
        pts = [lo, hi] + [b for b in bps if lo < b < hi] + [v for v in (A, B) if lo < v < hi]
        a_in, b_in = max(lo, A), min(hi, B)
        if a_in < b_in:
            k0, k1 = math.floor(2 * a_in / s), math.ceil(2 * b_in / s)
            if k1 - k0 > GK_MAX_PIECES:
                raise ValueError(f"scale {s:g} needs {k1 - k0} half-cells for {law}; use a larger scale or a "
                                 "law with a numba kernel")
            hc = np.arange(k0, k1 + 1) * (s / 2)
            pts = np.concatenate([np.asarray(pts, dtype=float), hc[(hc > lo) & (hc < hi)]])
        pts = np.unique(np.asarray(pts, dtype=float))
        a = list(pts[:-1])
        b = list(pts[1:])
        kind = [0] * len(a)
        if math.isinf(sup_hi):
            d = max(sd, abs(hi))
            _TAIL[1] = (hi, d, _tail_power(lambda x: float(law.sf(x)), hi, d))
            a.append(0.0), b.append(1.0), kind.append(1)
        if math.isinf(sup_lo):
            d = max(sd, abs(lo))
            _TAIL[2] = (lo, d, _tail_power(lambda x: float(law.cdf(-x)), -lo, d))
            a.append(0.0), b.append(1.0), kind.append(2)
        a, b, kind = np.array(a), np.array(b), np.array(kind)
        _LOST.clear()
        K, G = _integrand(law, reg, grid, s, kind, a, b)
        E = np.abs(K - G)
        for _ in range(GK_MAX_ROUNDS):
            total = math.fsum(K)
            err = math.fsum(E) + sum(_LOST.values())
            if err <= rtol * abs(total) or a.size >= GK_MAX_PIECES:
                break
            bad = E > rtol * abs(total) / (4 * a.size)
            bad[int(np.argmax(E))] = True
            mid = 0.5 * (a[bad] + b[bad])
            na = np.concatenate([a[bad], mid])
            nb = np.concatenate([mid, b[bad]])
            nk = np.concatenate([kind[bad], kind[bad]])
            K2, G2 = _integrand(law, reg, grid, s, nk, na, nb)
            keep = ~bad
            a, b, kind = np.concatenate([a[keep], na]), np.concatenate([b[keep], nb]), np.concatenate([kind[keep], nk])
            K, E = np.concatenate([K[keep], K2]), np.concatenate([E[keep], np.abs(K2 - G2)])
        total, err = math.fsum(K), math.fsum(E) + sum(_LOST.values())
        vals[i], errs[i] = s * s * total, s * s * err
        conv[i] = err <= rtol * abs(total)
        npc[i] = a.size
    return QuadCurve(vals, errs, conv, npc)
