"""The paper's Props. 1 and 2 (Prop. 3, "QSin is an SQR", is the verdict of ``check("qsin", ...)``).

* Prop. 1(1): the roots of ``phi`` are exactly the grid integers, all global minima, no other local
  minima (:class:`Prop1Scan` for the local minima, :class:`~.equivalence.RootScan` for the roots);
* Prop. 1(2): period 1 on ``[r_b, r_t]``; Prop. 1(3): even about every inner grid point;
* Prop. 2: ``s^2 phi(x/s) = C MSQE + o(MSQE)`` with ONE constant ``C = phi''(n)/2`` at every grid point
  (both sides), and ``O(MSQE)`` in the tails.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .report import PropertyResult, Witness, _fmt
from .view import PhiView, update_extrema


class Prop1Scan:
    """Discrete local minima (away from grid integers), column-wise spread across inner cells
    (periodicity) and mirror differences about inner grid points (evenness)."""

    def __init__(self, view: PhiView):
        self.view = view
        n = view.ppc + 1
        self.locmins: list[tuple[float, float, float, float, float]] = []
        self.n_locmin = 0
        self.per_min, self.per_max = np.full(n, np.inf), np.full(n, -np.inf)
        self.per_min_u, self.per_max_u = np.full(n, np.nan), np.full(n, np.nan)
        self.even_worst = (0.0, np.nan, np.nan, np.nan, np.nan)
        self.prev_left = None  # left profile of the previous inner cell (for evenness)
        self.prev_cell = None

    def update(self, b) -> None:
        v, P, n = self.view, b.P, self.view.ppc + 1
        # discrete local minima at the mesh step and (finer meshes) at the fixed step 1/256, whose rises
        # do not vanish below the tolerance as the mesh is refined
        for st in sorted({1, max(1, v.ppc // 256)}):
            Vc, Vl, Vr = b.V[:, P:P + n], b.V[:, P - st:P + n - st], b.V[:, P + st:P + n + st]
            lm = (Vc <= Vl) & (Vc <= Vr) & (np.maximum(Vl, Vr) - Vc > v.tol_eq) & (b.ms > 0)
            if st > 1:  # a bracket [x - st h, x + st h] around a grid integer holds its minimum, not x
                nn = np.rint(b.xc)
                lm &= ~((np.abs(b.xc - nn) < st * v.h) & (nn >= v.r_b) & (nn <= v.r_t))
            if lm.any():
                idx = np.flatnonzero(lm.ravel())
                self.n_locmin += idx.size
                for i in idx[:4]:
                    self.locmins.append((float(b.xc.ravel()[i]), float(Vc.ravel()[i]), float(Vl.ravel()[i]),
                                         float(Vr.ravel()[i]), st * v.h))
        if b.is_inner.any():
            self._inner(b)

    def _inner(self, b):
        M = self.view.half
        ci, xi = b.core[b.is_inner], b.xc[b.is_inner]
        right, left = ci[:, :M + 1], ci[:, ::-1][:, :M + 1]
        update_extrema(ci, xi, self.per_min, self.per_min_u, self.per_max, self.per_max_u)
        # evenness about n (inner grid points r_b < n < r_t): right profile of cell n vs left of n-1
        icells = b.cells[b.is_inner]
        if self.prev_left is not None:
            lefts = np.vstack([self.prev_left[None, :], left[:-1]])
            lcells = np.concatenate([np.array([self.prev_cell]), icells[:-1]])
            rights, rcells = right, icells
        else:
            lefts, lcells, rights, rcells = left[:-1], icells[:-1], right[1:], icells[1:]
        ok = (lcells.astype(np.int64) + 1 == rcells) if rcells.size else np.zeros(0, bool)
        if ok.any():
            diff = np.abs(rights[ok] - lefts[ok])
            i = int(np.argmax(diff))
            r, c = divmod(i, M + 1)
            if diff.flat[i] > self.even_worst[0]:
                self.even_worst = (float(diff.flat[i]), float(rcells[ok][r]), c * self.view.h,
                                   float(rights[ok][r, c]), float(lefts[ok][r, c]))
        self.prev_left, self.prev_cell = left[-1], icells[-1]


def off_mesh_minima(view: PhiView, points: np.ndarray):
    """Local minima of phi between mesh points: at each refined local minimum ``u*`` of ``phi/MSQE``
    (a narrow dip shows there), ``phi(u*)`` below ``phi(u* +- h/8)`` and ``phi(u* +- h/2)`` by more
    than ``tol_eq``, away from the grid integers.  Returns ``(u - h/8, u, u + h/8, values)`` or None."""
    nn = np.rint(points)
    u = points[~((np.abs(points - nn) < view.h) & (nn >= view.r_b) & (nn <= view.r_t))]
    if u.size == 0:
        return None
    offs = np.array([0.0, -0.125, 0.125, -0.5, 0.5]) * view.h
    V = view.ev(u[:, None] + offs[None, :], "Prop. 1(1) at off-mesh extremes").reshape(u.size, -1)
    rise = np.min(V[:, 1:], axis=1) - V[:, 0]
    i = int(np.argmax(rise))
    if rise[i] > view.tol_eq:
        return float(u[i]), V[i]
    return None


def prop1_verdicts(view: PhiView, scan: Prop1Scan, roots, refined_min=None) -> list[PropertyResult]:
    r_b, r_t, tol = view.r_b, view.r_t, view.tol_eq
    out = []
    # 1.1 roots and minima
    witness = None
    numbers = {"n_extra_local_minima_on_mesh": scan.n_locmin, "min_phi_over_zero_tolerance": roots.root.value,
               "min_phi": roots.neg.value}
    if roots.grid_nonzero():
        u = roots.zero_bad.u
        witness = Witness((u,), {"phi": view.phi1(u)}, "a grid integer is not a root")
    elif roots.neg.value < -view.tol_zero:
        witness = Witness((roots.neg.u,), {"phi": roots.neg.value},
                          "phi < 0 = phi(grid point): grid points are not global minima")
    elif roots.off_grid_root():
        u = roots.root.u
        witness = Witness((u,), {"phi": roots.root_phi, "MSQE": float(view.msqe(u))},
                          "root of phi that is not a grid integer in [r_b, r_t] (phi within the zero tolerance)")
    elif scan.locmins:
        u, v, vl, vr, step = min(scan.locmins, key=lambda t: abs(t[0]))
        witness = Witness((u - step, u, u + step), {"phi(u-h)": vl, "phi(u)": v, "phi(u+h)": vr},
                          "local minimum that is not a grid integer"
                          + (" (in a tail: order preservation says nothing outside [r_b, r_t])"
                             if (u < r_b or u > r_t) else ""))
    elif refined_min is not None and (hit := off_mesh_minima(view, refined_min)) is not None:
        u, V = hit
        e = view.h / 8
        witness = Witness((u - e, u, u + e), {"phi(u-h)": float(V[1]), "phi(u)": float(V[0]), "phi(u+h)": float(V[2])},
                          "local minimum that is not a grid integer (between mesh points: found by refining a "
                          "local minimum of phi/MSQE)")
    else:
        for side, ft in view.far_tails.items():
            bad = np.flatnonzero(np.diff(ft.v) <= 0)
            if bad.size:
                i = int(bad[0])
                witness = Witness((float(ft.u[i]), float(ft.u[i + 1])),
                                  {"phi(u1)": float(ft.v[i]), "phi(u2)": float(ft.v[i + 1])},
                                  f"phi decreases outwards in the far {side} tail: a local minimum lies beyond")
                break
    out.append(PropertyResult("prop1.1", "Prop.1(1) roots = grid integers, only minima", witness is None,
                              "phi(n) = 0 exactly at the grid integers, > 0 elsewhere, no other local minima "
                              "on the mesh" if witness is None else "fails", numbers, witness))
    # 1.2 periodicity
    pspread = scan.per_max - scan.per_min
    finite = np.where(np.isfinite(pspread), pspread, 0)
    j = int(np.argmax(finite))
    witness = None
    if finite[j] > tol:
        u1, u2 = float(scan.per_max_u[j]), float(scan.per_min_u[j])
        witness = Witness((u1, u2), {"phi(u1)": float(scan.per_max[j]), "phi(u2)": float(scan.per_min[j])},
                          f"u2 - u1 = {u2 - u1:g} is an integer but phi differs")
    out.append(PropertyResult("prop1.2", "Prop.1(2) period 1 on [r_b, r_t]", witness is None,
                              f"max |phi(u+k)-phi(u)| = {_fmt(finite.max())}",
                              {"max_deviation": float(finite.max())}, witness))
    # 1.3 evenness
    dev, n, d, vr, vl = scan.even_worst
    witness = None
    if dev > tol:
        witness = Witness((n - d, n + d), {"phi(n-d)": vl, "phi(n+d)": vr}, f"not even about grid point n = {n:g}")
    out.append(PropertyResult("prop1.3", "Prop.1(3) even about inner grid points", witness is None,
                              f"max |phi(n+d)-phi(n-d)| = {_fmt(dev)}", {"max_deviation": dev}, witness))
    return out


@dataclass
class Curvature:
    """One-sided ``phi''(n)/2`` (``left``, ``right``) and ``phi'(n)`` at the grid points ``pts``."""

    pts: np.ndarray
    left: np.ndarray
    right: np.ndarray
    err: np.ndarray
    d1_left: np.ndarray
    d1_right: np.ndarray
    d1_thr: np.ndarray

    @property
    def all(self) -> np.ndarray:
        return np.concatenate([self.left, self.right])

    @property
    def per_point(self) -> np.ndarray:
        return (self.left + self.right) / 2


def curvature(view: PhiView, gl, spec_fine: dict) -> Curvature:
    """``C = phi''(n)/2`` per grid point and side: the one-sided limits of ``phi/MSQE`` (for a ``C^2``
    ``phi`` with ``phi(n) = phi'(n) = 0`` they are ``phi''(n+-)/2``); ``phi'(n+-)`` from the fine
    special-point stencils."""
    sp = view.special_fine
    x = sp.x
    isg = (x == np.rint(x)) & (x >= view.r_b) & (x <= view.r_t)
    est = sp.est
    return Curvature(gl.pts, gl.left, gl.right, gl.err, est[(1, -1)][0][isg], est[(1, 1)][0][isg],
                     spec_fine[1][1][isg])


def prop2_convergence(view: PhiView, cv: Curvature):
    """``max |phi(n +- h)/h^2 - C|`` over the grid points for ``h = 2^-4 .. 2^-10``, and the worst ``u``."""
    n = cv.pts.astype(np.float64)
    hs = 2.0 ** -np.arange(4, 11)
    C = cv.all
    errs = []
    for hh in hs:
        vl = view.ev(n - hh, "Prop. 2 near grid points")
        vr = view.ev(n + hh, "Prop. 2 near grid points")
        errs.append(np.abs(np.concatenate([vl, vr]) / hh ** 2 - C))
    i = int(np.argmax(errs[-1]))
    worst = float(np.concatenate([n, n])[i] + (hs[-1] if i >= n.size else -hs[-1]))
    return hs, np.array([e.max() for e in errs]), worst


def prop2_verdict(view: PhiView, cv: Curvature, conv, trend) -> PropertyResult:
    S, rtol_C = view.S, 1e-6
    C_all = cv.all
    C_ref = float(np.median(C_all))
    cmin, cmax = float(np.min(C_all)), float(np.max(C_all))
    hs, errs, worst_u = conv
    spreadC = float(np.max(np.abs(C_all - C_ref)))
    d1 = np.concatenate([cv.d1_left, cv.d1_right])
    numbers = {"C": C_ref, "C_min": cmin, "C_max": cmax, "C_rtol": rtol_C,
               "o_MSQE_h": hs.tolist(), "o_MSQE_max_error": errs.tolist(),
               "max_abs_phi'(n)": float(np.max(np.abs(d1)))}
    witness = None
    pts2 = np.concatenate([cv.pts, cv.pts])
    cerr = float(np.max(cv.err))
    if cmin <= 4 * cerr + 1e-12 * S:
        i = int(np.argmin(C_all))
        witness = Witness((float(pts2[i]),), {"C = phi''(n)/2": cmin, "error estimate": cerr},
                          "C must be > 0 (here it is not distinguishable from 0)")
    elif spreadC > rtol_C * abs(C_ref) + 4 * cerr:
        i, k = int(np.argmin(C_all)), int(np.argmax(C_all))
        side = lambda q: "left" if q < cv.pts.size else "right"
        witness = Witness((float(pts2[i]), float(pts2[k])),
                          {f"C {side(i)} of u1": float(C_all[i]), f"C {side(k)} of u2": float(C_all[k])},
                          "phi''(n)/2 differs between grid points/sides: no single C with "
                          "s^2 phi(x/s) = C MSQE + o(MSQE)")
    elif np.any(np.abs(d1) > np.concatenate([cv.d1_thr, cv.d1_thr])):
        i = int(np.argmax(np.abs(d1)))
        witness = Witness((float(pts2[i]),), {"phi'(n)": float(d1[i])}, "phi'(n) != 0 at a grid point")
    elif not (errs[-1] <= errs[0] * (hs[-1] / hs[0]) ** 0.5 + 1e-7 * abs(C_ref)
              + view.noise_abs / hs[-1] ** 2 * 8):
        witness = Witness((worst_u,), {"|phi/MSQE - C| at h=2^-4": float(errs[0]),
                                       "|phi/MSQE - C| at h=2^-10": float(errs[-1])},
                          "phi/MSQE does not converge to C near this grid point")
    elif trend and trend[0][1].startswith("grows"):
        side, what, u, q1, q0 = trend[0]
        witness = Witness((u,), {"phi/MSQE": q1}, "phi/MSQE grows in the tail: not O(MSQE)")
    return PropertyResult(
        "prop2", "Prop.2 s^2 phi(x/s) = C MSQE + o(MSQE)", witness is None,
        f"C = phi''(n)/2 = {_fmt(C_ref)} at all {cv.pts.size} grid points (spread {_fmt(spreadC)}); "
        f"|phi/MSQE - C| = {_fmt(errs[0])} (h=1/16) -> {_fmt(errs[-1])} (h=1/1024)", numbers, witness)
