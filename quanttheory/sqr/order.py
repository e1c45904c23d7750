"""Property 2, order preservation on ``[r_b, r_t]``: ``MSQE(u1) < MSQE(u2) <=> phi(u1) < phi(u2)``.

On ``[r_b, r_t]`` this is equivalent to ``phi = g(MSQE)`` with ``g`` strictly increasing.  Every inner
cell gives two profiles, ``phi(n + d)`` and ``phi(n + 1 - d)`` for ``d = 0, h, ..., 1/2``;
:class:`OrderScan` compares them column-wise over all profiles (equal MSQE -> equal phi), along each
profile (no decrease beyond ``tol_eq``; no plateau: two consecutive steps of ``1/256`` in ``d`` within
``tol_eq``, a step fixed independently of the mesh) and across columns (``max_j <= min_{j+1}``).
"""

from __future__ import annotations

import numpy as np

from .report import PropertyResult, Witness, _fmt
from .view import PhiView, Track, update_extrema


class OrderScan:
    def __init__(self, view: PhiView):
        self.view = view
        M = view.half
        self.op_min = np.full(M + 1, np.inf)
        self.op_min_u = np.full(M + 1, np.nan)
        self.op_max = np.full(M + 1, -np.inf)
        self.op_max_u = np.full(M + 1, np.nan)
        self.op_inc = Track()
        self.op_inc_pair = (np.nan, np.nan, np.nan, np.nan)
        self.op_plateau = None
        self.stride = max(1, view.ppc // 256)

    def update(self, b) -> None:
        if not b.is_inner.any():
            return
        M, tol = self.view.half, self.view.tol_eq
        ci, xi = b.core[b.is_inner], b.xc[b.is_inner]
        right, right_u = ci[:, :M + 1], xi[:, :M + 1]
        left, left_u = ci[:, ::-1][:, :M + 1], xi[:, ::-1][:, :M + 1]
        for prof, pu in ((right, right_u), (left, left_u)):
            update_extrema(prof, pu, self.op_min, self.op_min_u, self.op_max, self.op_max_u)
            d = np.diff(prof, axis=1)
            i = int(np.argmin(d))
            if d.flat[i] < self.op_inc.value:
                r, c = divmod(i, M)
                self.op_inc.value = float(d.flat[i])
                self.op_inc_pair = (float(pu[r, c]), float(prof[r, c]), float(pu[r, c + 1]), float(prof[r, c + 1]))
            # a plateau: two consecutive steps of 1/256 in d within the tolerance (one tiny step alone
            # is allowed: a profile may be very flat at d = 1/2 or d = 0 and still increase).  The step
            # is fixed, not the mesh step: on a finer mesh a strictly increasing profile has steps below
            # any fixed tolerance (pi^2 h^2 at d = 0), so the plateau test must not shrink with h.
            st = self.stride
            ds = np.diff(prof[:, ::st], axis=1)
            tie = np.abs(ds) <= tol
            plat = tie[:, :-1] & tie[:, 1:]
            if plat.any() and self.op_plateau is None:
                r, c = divmod(int(np.flatnonzero(plat.ravel())[0]), ds.shape[1] - 1)
                c0, c2 = c * st, (c + 2) * st
                self.op_plateau = (float(pu[r, c0]), float(prof[r, c0]), float(pu[r, c2]), float(prof[r, c2]))


def off_mesh_check(view: PhiView, scan: OrderScan, points: np.ndarray):
    """Order preservation at off-mesh points (the refined local extremes of ``phi/MSQE``: narrow dips
    and bumps between mesh points): a point with ``d = |u - n|`` between mesh columns ``j`` and ``j+1``
    must satisfy ``max_j phi <= phi(u) <= min_{j+1} phi``.  Returns a witness tuple or None."""
    u = points[(points > view.r_b) & (points < view.r_t)]
    if u.size == 0 or not np.isfinite(scan.op_max).all():
        return None
    d = np.abs(u - np.rint(u))
    j = np.minimum(np.floor(d / view.h).astype(np.int64), view.half - 1)
    off = d > j * view.h
    u, d, j = u[off], d[off], j[off]
    if u.size == 0:
        return None
    v = view.ev(u, "order preservation at off-mesh extremes")
    low = scan.op_max[j] - v  # > tol: a point of smaller MSQE has larger phi
    high = v - scan.op_min[j + 1]  # > tol: a point of larger MSQE has smaller phi
    i, k = int(np.argmax(low)), int(np.argmax(high))
    if low[i] > view.tol_eq:
        return float(scan.op_max_u[j[i]]), float(scan.op_max[j[i]]), float(u[i]), float(v[i])
    if high[k] > view.tol_eq:
        return float(u[k]), float(v[k]), float(scan.op_min_u[j[k] + 1]), float(scan.op_min[j[k] + 1])
    return None


def verdict(view: PhiView, scan: OrderScan, off_mesh=None) -> PropertyResult:
    r_b, r_t, tol = view.r_b, view.r_t, view.tol_eq
    spread = scan.op_max - scan.op_min
    j = int(np.argmax(spread))
    witness = None
    numbers = {"max_spread_equal_msqe": float(spread[j]), "min_increment": float(scan.op_inc.value),
               "tolerance": tol}

    def pair(u1, p1, u2, p2, msg):
        return Witness((u1, u2), {"MSQE(u1)": float(view.msqe(u1)), "MSQE(u2)": float(view.msqe(u2)),
                                  "phi(u1)": float(p1), "phi(u2)": float(p2)}, msg)

    if spread[j] > tol:
        witness = pair(float(scan.op_max_u[j]), scan.op_max[j], float(scan.op_min_u[j]), scan.op_min[j],
                       "equal MSQE but different phi")
    elif scan.op_inc.value < -tol or scan.op_plateau is not None:
        decreasing = scan.op_inc.value < -tol
        u1, p1, u2, p2 = scan.op_inc_pair if decreasing else scan.op_plateau
        witness = pair(u1, p1, u2, p2, "MSQE(u1) < MSQE(u2) but phi(u1) > phi(u2)" if decreasing else
                       "MSQE(u1) < MSQE(u2) but phi(u1) = phi(u2) within tolerance (plateau)")
    elif off_mesh is not None:
        u1, p1, u2, p2 = off_mesh
        witness = pair(u1, p1, u2, p2, "MSQE(u1) < MSQE(u2) but phi(u1) > phi(u2) (found between mesh points "
                       "by the refinement of a local extreme of phi/MSQE)")
    else:
        cross = scan.op_max[:-1] - scan.op_min[1:]
        i = int(np.argmax(cross))
        if cross[i] > tol:
            witness = pair(float(scan.op_max_u[i]), scan.op_max[i], float(scan.op_min_u[i + 1]),
                           scan.op_min[i + 1], "MSQE(u1) < MSQE(u2) but phi(u1) >= phi(u2)")
    if r_t - r_b < 1:
        witness = None
    return PropertyResult(
        "order", "2. order preservation on [r_b, r_t]", witness is None,
        f"phi = g(MSQE) with g strictly increasing: max |phi(u1)-phi(u2)| at equal MSQE = "
        f"{_fmt(spread[j])}, min step = {_fmt(scan.op_inc.value)}" if witness is None else "fails",
        numbers, witness)
