"""Property 1, equivalence: ``a MSQE(u) <= phi(u) <= b' MSQE(u)`` for all real ``u``, ``0 < a <= b'``.

* :class:`RootScan`: ``phi`` where ``MSQE`` vanishes (must vanish too) and where it does not (must be
  ``> 0``), with ONE zero tolerance shared with Prop. 1(1): ``phi(u) <= tol_zero(u)`` is a root,
  ``tol_zero(u) = tol_zero min(1, MSQE(u) 2^16)`` (scaled down within ``1/256`` of a grid point, where
  ``phi ~ C MSQE`` is legitimately small at fine meshes);
* :class:`RatioScan`: extremes of ``phi/MSQE`` on the mesh, overall and per kind of location, and the
  discrete local extremes (where the discrete derivative of the ratio changes sign) as candidates;
* :func:`refine`: golden-section search of every candidate on ``[u - h, u + h]`` (far tail: between
  the neighbouring samples) to ``~1e-11`` in ``u``, i.e. the value to ``1e-9`` relative or better;
* :func:`verdict`: ``a``, ``b'`` from the refined extremes, the one-sided grid-point limits and the
  limits at infinity (:mod:`.limits`), and a witness when the property fails.
"""

from __future__ import annotations

import numpy as np

from .limits import GridLimits, TailLimit
from .report import Extreme, PropertyResult, Witness, _fmt
from .view import KINDS, PhiView, Track

KIND_ORDER = ["half-integer", "grid point (limit u->n)", "near grid point", "interior", "tail", "far tail",
              "far tail (limit u -> inf)"]
N_CANDIDATES = 2048
GOLD = (np.sqrt(5.0) - 1) / 2


def zero_tolerance(view: PhiView, ms):
    """The root tolerance at points with MSQE ``ms`` (shared by equivalence and Prop. 1(1))."""
    return view.tol_zero * np.minimum(1.0, ms * 65536.0)


class RootScan:
    """``phi`` at the grid integers (must vanish), its minimum (must be >= 0) and the most root-like
    point where ``MSQE > 0`` (smallest ``phi / tol_zero(u)``: a root when ``<= 1``)."""

    def __init__(self, view: PhiView):
        self.view = view
        self.zero_bad = Track()  # -|phi(n)| at grid integers
        self.neg = Track()
        self.root = Track()  # min of phi / tol_zero(u) where MSQE > 0
        self.root_phi = np.nan

    def add(self, u, v, ms, keys=None) -> None:
        pos = ms > 0
        self.zero_bad.update_min(-np.abs(v[~pos]), u[~pos])
        self.neg.update_min(v, u)
        # tol_zero scales with phi's magnitude: 0 for phi == 0, where 0/0 gave NaN and a RuntimeWarning (finding
        # 31); phi <= tol (here 0 <= 0) is a root by definition, so the score is 0 there, +inf for phi > tol = 0
        tol = zero_tolerance(self.view, ms[pos])
        vp = v[pos]
        with np.errstate(divide="ignore", invalid="ignore"):
            score = np.where(tol > 0, vp / np.where(tol > 0, tol, 1.0), np.where(vp <= 0, 0.0, np.inf))
        before = self.root.value
        self.root.update_min(score, u[pos], None if keys is None else keys[pos])
        if self.root.value < before:
            self.root_phi = float(v[pos].flat[int(np.argmin(score))])

    def update(self, b) -> None:
        outside = np.maximum(np.maximum(self.view.r_b - b.xc, b.xc - self.view.r_t), 0.0)
        self.add(b.xc, b.core, b.ms, outside - 1e-9 * b.xc)

    def add_far_tails(self) -> None:
        for ft in self.view.far_tails.values():
            self.add(ft.u, ft.v, self.view.msqe(ft.u), ft.t)

    @property
    def max_abs_at_grid(self) -> float:
        return -self.zero_bad.value

    def grid_nonzero(self) -> bool:
        return self.max_abs_at_grid > self.view.tol_zero

    def off_grid_root(self) -> bool:
        return self.root.value <= 1.0


class RatioScan:
    """Running extremes of ``phi/MSQE`` on the mesh (overall and per kind) and local-extreme candidates."""

    def __init__(self, view: PhiView):
        self.view = view
        self.kind_min: dict[str, float] = {}
        self.kind_max: dict[str, float] = {}
        self.cand = {"min": (np.empty(0), np.empty(0), np.empty(0)), "max": (np.empty(0), np.empty(0), np.empty(0))}
        self.refined: dict[str, np.ndarray] = {}

    def _kind(self, kname, r):
        self.kind_min[kname] = min(self.kind_min.get(kname, np.inf), float(r.min()))
        self.kind_max[kname] = max(self.kind_max.get(kname, -np.inf), float(r.max()))

    def _candidates(self, which, r, u, lo, hi):
        """Keep the N_CANDIDATES most extreme local extremes (value, point, bracket)."""
        v, uu, br = self.cand[which]
        sgn = 1.0 if which == "min" else -1.0
        v, uu = np.concatenate([v, r]), np.concatenate([uu, u])
        br = np.concatenate([br.reshape(-1, 2), np.stack([lo, hi], axis=1)]) if br.size else np.stack([lo, hi], 1)
        # one candidate per (position in the cell, value): periodic copies of an extreme would crowd out
        # the others (QSin has the same minimum at every half-integer)
        if v.size:
            frac = np.round((uu - np.floor(uu)) * self.view.ppc)
            key = np.round(v * 1e12 / max(1e-300, float(np.max(np.abs(v)))))
            _, first = np.unique(np.stack([frac, key], axis=1), axis=0, return_index=True)
            v, uu, br = v[first], uu[first], br[first]
        if v.size > N_CANDIDATES:
            keep = np.argpartition(sgn * v, N_CANDIDATES)[:N_CANDIDATES]
            v, uu, br = v[keep], uu[keep], br[keep]
        self.cand[which] = (v, uu, br)

    def update(self, b) -> None:
        v = self.view
        P, n = b.P, v.ppc + 1
        cols = slice(P - 1, P + n + 1)  # the core and one neighbour on each side
        ms_all = v.msqe(b.X[:, cols])
        with np.errstate(divide="ignore", invalid="ignore"):
            R = np.where(ms_all > 0, b.V[:, cols] / ms_all, np.nan)
        rc, rl, rr = R[:, 1:n + 1], R[:, :n], R[:, 2:n + 2]
        pos = b.ms > 0
        kinds = v.kinds(b.xc[pos])
        for code, kname in enumerate(KINDS):
            sel = kinds == code
            if sel.any():
                self._kind(kname, rc[pos][sel])
        h = v.h
        # local extremes of the ratio (neighbours with MSQE = 0 count as +-inf: a grid point's limit)
        lo_n, hi_n = np.nan_to_num(rl, nan=np.inf), np.nan_to_num(rr, nan=np.inf)
        m = pos & (rc <= lo_n) & (rc <= hi_n) & ((rc < lo_n) | (rc < hi_n))  # strict on one side: no plateaus
        self._candidates("min", rc[m], b.xc[m], b.xc[m] - h, b.xc[m] + h)
        lo_n, hi_n = np.nan_to_num(rl, nan=-np.inf), np.nan_to_num(rr, nan=-np.inf)
        m = pos & (rc >= lo_n) & (rc >= hi_n) & ((rc > lo_n) | (rc > hi_n))
        self._candidates("max", rc[m], b.xc[m], b.xc[m] - h, b.xc[m] + h)

    def add_far_tails(self) -> None:
        for ft in self.view.far_tails.values():
            self._kind("far tail", ft.ratio)
            r = ft.ratio
            for which, cmp in (("min", np.less_equal), ("max", np.greater_equal)):
                i = np.arange(1, r.size - 1)
                m = cmp(r[i], r[i - 1]) & cmp(r[i], r[i + 1])
                i = i[m]
                lo, hi = np.minimum(ft.u[i - 1], ft.u[i + 1]), np.maximum(ft.u[i - 1], ft.u[i + 1])
                self._candidates(which, r[i], ft.u[i], lo, hi)
                # the ends of the sampled range are candidates too (refined inside their interval)
                for e, o in ((0, 1), (r.size - 1, r.size - 2)):
                    lo, hi = min(ft.u[e], ft.u[o]), max(ft.u[e], ft.u[o])
                    self._candidates(which, r[[e]], ft.u[[e]], np.array([lo]), np.array([hi]))


def _ratio(view, u):
    v = view.ev(u, "the refinement of the extremes of phi/MSQE")
    ms = view.msqe(u)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ms > 0, v / ms, np.nan), v, ms


def refine(view: PhiView, scan: RatioScan, roots: RootScan, which: str, iters: int = 48):
    """Golden-section refinement of the candidates; returns (value, u) of the best point found.
    Every evaluated point also goes through the root scan (an off-mesh zero is found here)."""
    r0, u0, br = scan.cand[which]
    if r0.size == 0:
        return np.nan, np.nan
    sgn = 1.0 if which == "min" else -1.0
    a, b = br[:, 0].copy(), br[:, 1].copy()
    c, d = b - GOLD * (b - a), a + GOLD * (b - a)

    def f(x):
        r, v, ms = _ratio(view, x)
        roots.add(x, v, ms)
        return np.nan_to_num(sgn * r, nan=np.inf)

    fc, fd = f(c), f(d)
    best_v, best_u = sgn * r0, u0.copy()
    for _ in range(iters):
        for fx, x in ((fc, c), (fd, d)):
            better = fx < best_v
            best_v, best_u = np.where(better, fx, best_v), np.where(better, x, best_u)
        left = fc < fd  # minimum in [a, d]
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        new = np.where(left, b - GOLD * (b - a), a + GOLD * (b - a))
        fn = f(new)
        c, d, fc, fd = (np.where(left, new, d), np.where(left, c, new), np.where(left, fn, fd),
                        np.where(left, fc, fn))
    i = int(np.argmin(best_v))
    scan.refined[which] = best_u  # for the order-preservation cross-check
    return sgn * float(best_v[i]), float(best_u[i])


def ratio_noise(view: PhiView, u: float, r: float) -> float:
    """Rounding allowance of ``phi/MSQE`` at ``u``: an absolute ``64 eps S`` on phi and the argument's
    ``eps |u|`` times ``|phi'| ~ 2 |r| d``, divided by ``MSQE = d^2`` (large next to a grid point)."""
    ms = float(view.msqe(u))
    if not ms > 0:
        return np.inf
    eps = np.finfo(float).eps
    return 64 * eps * view.S / ms + 8 * eps * (abs(u) + 1) * 2 * abs(r) / np.sqrt(ms)


def tail_trend(view: PhiView):
    """Heuristic: does ``phi/MSQE`` tend to 0 or infinity in a far tail?
    Returns a list of ``(side, what, u, ratio, ratio one decade closer)``."""
    out = []
    for side, ft in view.far_tails.items():
        dec = [int(np.argmin(np.abs(ft.t - view.far / 10 ** k))) for k in (3, 2, 1, 0)]
        q = ft.ratio[dec]
        d = np.diff(q)
        if np.all(d > 0) and d[-1] >= 0.5 * d[-2] and d[-1] > 1e-6 * q[-1]:
            out.append((side, "grows without bound", float(ft.u[dec[-1]]), float(q[-1]), float(q[-2])))
        elif np.all(d < 0) and (q[-1] <= 0.5 * q[-2] or (-d[-1] >= -0.5 * d[-2] and -d[-1] > 1e-6 * q[-1])):
            out.append((side, "tends to 0", float(ft.u[dec[-1]]), float(q[-1]), float(q[-2])))
    return out


def _kinds_near(value, table, climit, tail_lims, rtol=1e-6):
    out = [k for k, v in table.items() if abs(v - value) <= rtol * abs(value)]
    if abs(climit - value) <= rtol * abs(value):
        out.append("grid point (limit u->n)")
    if any(abs(t.value - value) <= rtol * abs(value) for t in tail_lims):
        out.append("far tail (limit u -> inf)")
    return tuple(sorted(set(out), key=KIND_ORDER.index))


def _witness_ratio(view, u, msg, **extra):
    p, m = view.phi1(u), float(view.msqe(u))
    vals = {"phi": p, "MSQE": m}
    if m > 0:
        vals["phi/MSQE"] = p / m
    return Witness((u,), {**vals, **extra}, msg)


def verdict(view: PhiView, ratios: RatioScan, roots: RootScan, gl: GridLimits, tails: dict[str, TailLimit],
            trend):
    """Tightest ``a``, ``b'`` (as :class:`Extreme`) and the equivalence :class:`PropertyResult`."""
    refined = "mesh extreme refined by golden section on [u - h, u + h] (|du| < 1e-11)"
    cands_a = [(*refine(view, ratios, roots, "min"), refined)]
    cands_b = [(*refine(view, ratios, roots, "max"), refined)]
    lims = gl.all
    ok_l = np.concatenate([gl.unbounded_left == "", gl.unbounded_right == ""])
    pts2 = np.concatenate([gl.pts, gl.pts]).astype(float)
    glim = "one-sided limit at a grid point (Richardson extrapolation of phi(n+-d)/d^2 to d = 0)"
    if ok_l.any():
        i = int(np.argmin(np.where(ok_l, lims, np.inf)))
        k = int(np.argmax(np.where(ok_l, lims, -np.inf)))
        cands_a.append((float(lims[i]), float(pts2[i]), glim))
        cands_b.append((float(lims[k]), float(pts2[k]), glim))
    converged = [t for t in tails.values() if t.err <= 1e-9 * abs(t.value) + 1e-300]
    for t in converged:
        cands_a.append((t.value, t.u, f"limit at infinity ({t.method})"))
        cands_b.append((t.value, t.u, f"limit at infinity ({t.method})"))
    # a refined value that beats the other candidates by less than its own rounding allowance (next to a
    # grid point, for a phi computed with cancellation such as (1 - cos 2 pi u)/2) does not count
    for cands, sgn in ((cands_a, -1.0), (cands_b, 1.0)):
        if len(cands) > 1 and np.isfinite(cands[0][0]):
            others = max(sgn * c[0] for c in cands[1:])
            if 0 < sgn * cands[0][0] - others < ratio_noise(view, cands[0][1], cands[0][0]):
                cands.pop(0)
    a_val, a_u, a_how = min(cands_a, key=lambda c: (c[0], c[2] != glim))
    b_val, b_u, b_how = max(cands_b, key=lambda c: (c[0], c[2] == glim))

    def kind(u, how):
        if how == glim:
            return "grid point (limit u->n)"
        if how.startswith("limit at infinity"):
            return "far tail (limit u -> inf)"
        return view.kind_of(u)

    a_kind, b_kind = kind(a_u, a_how), kind(b_u, b_how)
    cmin = float(np.min(np.where(ok_l, lims, np.inf))) if ok_l.any() else np.nan
    cmax = float(np.max(np.where(ok_l, lims, -np.inf))) if ok_l.any() else np.nan
    numbers = {"a": a_val, "a_at": a_u, "a_method": a_how, "b_prime": b_val, "b_prime_at": b_u,
               "b_prime_method": b_how, "max_abs_phi_at_grid_points": roots.max_abs_at_grid,
               "zero_tolerance": view.tol_zero,
               "tail_limits": {s: {"value": t.value, "error": t.err, "method": t.method} for s, t in tails.items()}}
    witness = None
    unb = gl.unbounded()
    if roots.grid_nonzero():
        u = roots.zero_bad.u
        witness = Witness((u,), {"phi": view.phi1(u), "MSQE": 0.0},
                          "phi(u) != 0 at a grid integer where MSQE = 0: no b' can bound it")
        b_val, b_u, b_kind, b_how = np.inf, u, "grid point (limit u->n)", "phi(n) != 0"
    elif unb is not None:
        n, side, reason, R = unb
        dd = gl.d[-4]
        u = n - dd if side == "left" else n + dd
        witness = _witness_ratio(view, u, f"phi/MSQE is unbounded as u -> {_fmt(n)} from the {side}: {reason}",
                                 **{f"phi/MSQE at d = {_fmt(gl.d[k])}": float(R[k]) for k in (-8, -4)})
        b_val, b_u, b_kind, b_how = np.inf, n, "grid point (limit u->n)", reason
    elif ok_l.any() and cmin <= 4 * float(np.max(gl.err)) + 1e-12 * view.S:
        i = int(np.argmin(np.where(ok_l, lims, np.inf)))
        a_val, a_u, a_kind, a_how = cmin, float(pts2[i]), "grid point (limit u->n)", glim
        u = a_u + (2.0 ** -10 if i >= gl.pts.size else -(2.0 ** -10))
        witness = _witness_ratio(view, u, f"phi/MSQE -> {_fmt(a_val)} as u -> n = {_fmt(a_u)}: "
                                 "no a > 0 with a MSQE <= phi near the grid point", **{"limit at n": a_val})
    elif roots.off_grid_root():
        u = roots.root.u
        witness = _witness_ratio(view, u, "phi vanishes here (|phi| <= the zero tolerance of the root search, "
                                 f"{_fmt(float(zero_tolerance(view, view.msqe(u))))}) although MSQE > 0: "
                                 "no a > 0 with a MSQE <= phi")
        a_val, a_u, a_kind, a_how = 0.0, u, view.kind_of(u), "phi = 0 within the root tolerance where MSQE > 0"
    elif a_val <= 0 or not np.isfinite(a_val):
        witness = _witness_ratio(view, a_u, "phi/MSQE <= 0 here, so there is no a > 0 with a MSQE <= phi")
    elif not np.isfinite(b_val):
        witness = Witness((b_u,), {"phi/MSQE": b_val}, "phi/MSQE is unbounded")
    elif trend:
        side, what, u, q1, q0 = trend[0]
        witness = _witness_ratio(view, u, f"phi/MSQE {what} in the {side} tail (far-tail trend test), so no "
                                 "finite " + ("b'" if what.startswith("grows") else "a > 0"),
                                 **{"phi/MSQE one decade closer": q0})
        if what.startswith("grows"):
            b_val, b_u, b_kind, b_how = np.inf, u, "far tail (limit u -> inf)", "far-tail trend: grows without bound"
        else:
            a_val, a_u, a_kind, a_how = 0.0, u, "far tail (limit u -> inf)", "far-tail trend: tends to 0"
    a_ext = Extreme(a_val, a_u, a_kind, _kinds_near(a_val, ratios.kind_min, cmin, converged) or (a_kind,), a_how)
    b_ext = Extreme(b_val, b_u, b_kind, _kinds_near(b_val, ratios.kind_max, cmax, converged) or (b_kind,), b_how)
    ok = witness is None
    res = PropertyResult(
        "equivalence", "1. equivalence a MSQE <= phi <= b' MSQE", ok,
        f"a = {_fmt(a_val)} ({a_ext.kinds[0]}), b' = {_fmt(b_val)} ({', '.join(b_ext.kinds)})" if ok
        else f"fails: inf phi/MSQE = {_fmt(a_val)}, sup = {_fmt(b_val)}", numbers, witness)
    return res, a_ext, b_ext
