"""Property 1, equivalence: ``a MSQE(u) <= phi(u) <= b' MSQE(u)`` for all real ``u``, ``0 < a <= b'``.

:class:`RatioScan` tracks ``phi/MSQE`` on the fine mesh, :class:`RootScan` the values of ``phi`` where
``MSQE`` vanishes or should not (shared with Prop. 1(1)); :func:`verdict` combines them with the far
tails and the grid-point limits ``phi''(n)/2`` into the tightest ``a``, ``b'`` and a witness.
"""

from __future__ import annotations

import numpy as np

from .report import Extreme, PropertyResult, Witness, _fmt
from .view import KINDS, PhiView, Track

KIND_ORDER = ["half-integer", "grid point (limit u->n)", "near grid point", "interior", "tail", "far tail"]


class RatioScan:
    """Running extremes of ``phi/MSQE`` on the mesh, overall and per kind of location."""

    def __init__(self, view: PhiView):
        self.view = view
        self.rmin, self.rmax = Track(), Track()  # rmax stores -max
        self.kind_min: dict[str, float] = {}
        self.kind_max: dict[str, float] = {}

    def update(self, b) -> None:
        v = self.view
        pos = b.ms > 0
        ratio = np.where(pos, b.core / np.where(pos, b.ms, 1.0), np.nan)
        outside = np.maximum(np.maximum(v.r_b - b.xc, b.xc - v.r_t), 0.0)
        rr, xx, oo = ratio[pos], b.xc[pos], outside[pos]
        self.rmin.update_min(rr, xx, oo - 1e-9 * xx)
        self.rmax.update_min(-rr, xx, oo - 1e-9 * xx)
        kinds = v.kinds(xx)
        for code, kname in enumerate(KINDS):
            sel = kinds == code
            if sel.any():
                self._kind(kname, rr[sel])

    def _kind(self, kname, r):
        self.kind_min[kname] = min(self.kind_min.get(kname, np.inf), float(r.min()))
        self.kind_max[kname] = max(self.kind_max.get(kname, -np.inf), float(r.max()))

    def add_far_tails(self) -> None:
        for ft in self.view.far_tails.values():
            self.rmin.update_min(ft.ratio, ft.u, ft.t)
            self.rmax.update_min(-ft.ratio, ft.u, ft.t)
            self._kind("far tail", ft.ratio)


class RootScan:
    """``phi`` at the grid integers (must vanish), its minimum (must be >= 0) and its minimum where
    ``MSQE > 0`` (must be > 0)."""

    def __init__(self, view: PhiView):
        self.view = view
        self.zero_bad = Track()  # -|phi(n)| at grid integers
        self.neg = Track()
        self.extra_root = Track()  # phi at non-grid points (min)

    def update(self, b) -> None:
        pos = b.ms > 0
        outside = np.maximum(np.maximum(self.view.r_b - b.xc, b.xc - self.view.r_t), 0.0)
        self.zero_bad.update_min(-np.abs(b.core[~pos]), b.xc[~pos])
        self.neg.update_min(b.core, b.xc)
        self.extra_root.update_min(b.core[pos], b.xc[pos], outside[pos])

    def add_far_tails(self) -> None:
        for ft in self.view.far_tails.values():
            self.neg.update_min(ft.v, ft.u)
            self.extra_root.update_min(ft.v, ft.u, ft.t)

    @property
    def max_abs_at_grid(self) -> float:
        return -self.zero_bad.value

    def grid_nonzero(self) -> bool:
        return self.max_abs_at_grid > self.view.tol_zero


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


def _kinds_near(value, table, climit, rtol=1e-6):
    out = [k for k, v in table.items() if abs(v - value) <= rtol * abs(value)]
    if abs(climit - value) <= rtol * abs(value):
        out.append("grid point (limit u->n)")
    return tuple(sorted(out, key=KIND_ORDER.index))


def verdict(view: PhiView, ratios: RatioScan, roots: RootScan, C_pts, C_all, C_err, trend):
    """Tightest ``a``, ``b'`` (as :class:`Extreme`) and the equivalence :class:`PropertyResult`.

    ``C_all``: one-sided limits ``phi''(n)/2`` (left then right) at the grid points ``C_pts``."""
    S = view.S
    a_val, a_u = ratios.rmin.value, ratios.rmin.u
    b_val, b_u = -ratios.rmax.value, ratios.rmax.u
    a_kind, b_kind = view.kind_of(a_u), view.kind_of(b_u)
    cmin, cmax = float(np.min(C_all)), float(np.max(C_all))
    pts2 = np.concatenate([C_pts, C_pts])
    # the ratio tends to phi''(n)/2 at grid points: include those limits
    if cmin < a_val:
        a_val, a_u, a_kind = cmin, float(pts2[int(np.argmin(C_all))]), "grid point (limit u->n)"
    if cmax > b_val:
        b_val, b_u, b_kind = cmax, float(pts2[int(np.argmax(C_all))]), "grid point (limit u->n)"
    a_ext = Extreme(a_val, a_u, a_kind, _kinds_near(a_val, ratios.kind_min, cmin) or (a_kind,))
    b_ext = Extreme(b_val, b_u, b_kind, _kinds_near(b_val, ratios.kind_max, cmax) or (b_kind,))
    numbers = {"a": a_val, "a_at": a_u, "b_prime": b_val, "b_prime_at": b_u,
               "max_abs_phi_at_grid_points": roots.max_abs_at_grid}
    witness = None
    if roots.grid_nonzero():
        u = roots.zero_bad.u
        witness = Witness((u,), {"phi": view.phi1(u), "MSQE": 0.0},
                          "phi(u) != 0 at a grid integer where MSQE = 0: no b' can bound it")
    elif a_kind.startswith("grid point") and a_val <= 4 * float(np.max(C_err)) + 1e-12 * S:
        u = a_u + 2.0 ** -10
        m = float(view.msqe(u))
        p = view.phi1(u)
        witness = Witness((u,), {"phi": p, "MSQE": m, "phi/MSQE": p / m, "phi''(n)/2 at n": a_val},
                          f"phi/MSQE -> phi''(n)/2 = {_fmt(a_val)} as u -> n = {_fmt(a_u)}: "
                          "no a > 0 with a MSQE <= phi near the grid point")
    elif a_val <= 0 or not np.isfinite(a_val):
        witness = Witness((a_u,), {"phi": view.phi1(a_u), "MSQE": float(view.msqe(a_u)), "phi/MSQE": a_val},
                          "phi/MSQE <= 0 here, so there is no a > 0 with a MSQE <= phi")
    elif not np.isfinite(b_val):
        witness = Witness((b_u,), {"phi/MSQE": b_val}, "phi/MSQE is unbounded")
    elif trend:
        side, what, u, q1, q0 = trend[0]
        witness = Witness((u,), {"phi": view.phi1(u), "MSQE": float(view.msqe(u)),
                                 "phi/MSQE": q1, "phi/MSQE one decade closer": q0},
                          f"phi/MSQE {what} in the {side} tail (far-tail trend test), so no finite "
                          + ("b'" if what.startswith("grows") else "a > 0"))
    ok = witness is None
    res = PropertyResult(
        "equivalence", "1. equivalence a MSQE <= phi <= b' MSQE", ok,
        f"a = {_fmt(a_val)} ({a_ext.kinds[0]}), b' = {_fmt(b_val)} ({', '.join(b_ext.kinds)})" if ok
        else f"fails: inf phi/MSQE = {_fmt(a_val)}, sup = {_fmt(b_val)}", numbers, witness)
    return res, a_ext, b_ext
