"""Property 3, smoothness: ``phi`` in ``C^2(R)``, and the highest smoothness order found.

A derivative-jump test: one-sided derivatives of order ``k`` from exact rational one-sided
finite-difference weights on nodes ``x +- j h`` (``j = 1..m``, ``x`` itself excluded), at steps ``h``
and ``2h``, Richardson-extrapolated; a jump is significant when it exceeds the Richardson error, a
``1e-6`` relative floor and the rounding noise (see ``docs/sqr.md``).

* :class:`FineJumpScan`: every fine-mesh point away from integers/half-integers (numba kernel, or the
  numpy/BLAS reference when ``USE_NUMBA`` is False), with the cascade rule;
* :func:`special_jumps`: the special points of :attr:`PhiView.special`, orders 0..4;
* :func:`verdict`: ``C0``, ``C1``, ``C2``, the smoothness order and the first jump per order.
"""

from __future__ import annotations

import numpy as np

from .._fd import weights_array
from .report import PropertyResult, Witness, _fmt
from .view import PhiView, arg_noise

USE_NUMBA = True
"""Use the fused numba kernel for the fine-mesh scan (False: the numpy reference)."""

C_CASCADE = 4.0
AWAY_STEPS = 0.0
"""Fine-mesh points closer than this many steps to an integer/half-integer are skipped (0: only the
integers and half-integers themselves, which the multi-level special-point test covers)."""
NAMES = ["phi (continuity)", "phi'", "phi''"]


def _stencil_matrix(m: int, K: int, h: float, P: int) -> np.ndarray:
    """All 4K one-sided stencils (order j, side +-, step h/2h) as columns of one (2P+1, 4K) matrix."""
    Wm = np.zeros((2 * P + 1, 4 * K))
    for j in range(K):
        w = weights_array(m, j)
        for si, side in enumerate((1, -1)):
            for sk, step in enumerate((1, 2)):
                for t in range(1, m + 1):
                    Wm[P + side * step * t, 4 * j + 2 * si + sk] = w[t - 1] * side ** j / (step * h) ** j
    return Wm


def scan_numpy(V, xc, core, h, m, K, P, noise_abs, S):
    """Jump test at every core point of the rows of ``V`` (padded by ``P``; numpy/BLAS reference of the
    kernel): ``{j: (jump, threshold, left, right, significant after the cascade)}``."""
    n_core = xc.shape[1]
    win = np.lib.stride_tricks.sliding_window_view(V, 2 * P + 1, axis=1)
    R = (win.reshape(-1, 2 * P + 1) @ _stencil_matrix(m, K, h, P)).reshape(V.shape[0], n_core, -1)
    ests = {}
    for j in range(K):
        p = m - j
        for si, side in enumerate((1, -1)):
            dh, d2h = R[:, :, 4 * j + 2 * si], R[:, :, 4 * j + 2 * si + 1]
            # undivided error: bounds truncation AND argument-rounding noise
            ests[(j, side)] = (dh + (dh - d2h) / (2 ** p - 1), np.abs(dh - d2h))
    arg = arg_noise(ests, xc, 2 * m * h)
    D = {}
    for j in range(K):
        (dl, el), (dr, er) = ests[(j, -1)], ests[(j, 1)]
        noise = (noise_abs * 8 + arg) * np.abs(weights_array(m, j)).sum() / h ** j
        thr = 4.0 * (el + er) + 1e-6 * (np.abs(dl) + np.abs(dr)) + noise + S * 1e-12
        jump = np.abs(dl - dr)
        if j == 0:
            jump = np.maximum(jump, np.maximum(np.abs(dl - core), np.abs(dr - core)))
        D[j] = [jump, thr, dl, dr]
    for j in range(K):
        sig = D[j][0] > D[j][1]
        if j < K - 1:
            sig &= D[j][0] > C_CASCADE * h * D[j + 1][0]
        D[j].append(sig)
    return D


class FineJumpScan:
    """One-sided derivative jumps (orders 0..K-1) at every fine-mesh point, with the cascade rule:
    an order-``j`` jump only counts if it exceeds ``C_CASCADE h`` times the order-``j+1`` jump at the
    same point (a jump of order ``k`` at ``xi`` shows at a point ``x`` within one step as order-``j``
    shadows of size ``|x - xi|^(k-j)/(k-j)!`` times the jump, so the ratio of consecutive orders is
    ``<= h``).  Every flagged point is then re-examined on local meshes 16x and 64x finer
    (:meth:`confirm`)."""

    K = 5  # orders 0..4
    NF = 4096  # flagged points kept for the local re-examination

    def __init__(self, view: PhiView):
        self.view = view
        m, h, K = view.M_FINE, view.h, self.K
        self.wts = {j: weights_array(m, j) for j in range(K)}
        self.fine_jumps = {j: (0.0, None) for j in range(K)}
        self.nflag = 0
        Wk = np.zeros((K, 2, 2, m))
        for j in range(K):
            for si, side in enumerate((1, -1)):
                for sk, step in enumerate((1, 2)):
                    Wk[j, si, sk] = self.wts[j] * side ** j / (step * h) ** j
        self.Wk = Wk
        self.absw = np.array([np.abs(self.wts[j]).sum() / h ** j for j in range(K)])
        self.away = AWAY_STEPS * h
        self.flags = np.zeros((self.NF, 6))  # x, order, score, left, right, threshold
        self.nf = np.zeros(1, dtype=np.int64)

    def update(self, b) -> None:
        if USE_NUMBA:
            self._update_numba(b)
        else:
            self._update_numpy(b)

    def _record(self, j, score, info):
        if score > self.fine_jumps[j][0]:
            self.fine_jumps[j] = (float(score), tuple(float(v) for v in info))

    def _update_numba(self, b):
        from ._kernel import fine_jumps

        v, K = self.view, self.K
        best = np.zeros((K, 5))
        for j in range(K):
            best[j, 0] = self.fine_jumps[j][0]
        n0 = np.ascontiguousarray(b.X[:, b.P] - 0.0)
        nflag = fine_jumps(np.ascontiguousarray(b.V), n0, float(v.h), int(b.P), int(v.M_FINE), self.Wk,
                           self.absw, float(v.noise_abs), float(v.S), float(C_CASCADE), float(self.away), best,
                           self.flags, self.nf)
        for j in range(K):
            self._record(j, best[j, 0], best[j, 1:])
        self.nflag += int(nflag)

    def _update_numpy(self, b):
        """Reference numpy implementation (BLAS on sliding windows): same formulas as the kernel."""
        v, K = self.view, self.K
        xc = b.xc
        away = np.abs(xc * 2 - np.rint(xc * 2)) / 2 > self.away  # distance to nearest integer/half-integer
        if not away.any():
            return
        D = scan_numpy(b.V, xc, b.core, v.h, v.M_FINE, K, b.P, v.noise_abs, v.S)
        flagged_any = np.zeros(xc.shape, bool)
        for j in range(K):
            jump, thr, dl, dr, sig = D[j]
            sig = sig & away
            flagged_any |= (jump > thr) & away
            if sig.any():
                score = np.where(sig, jump / thr, 0.0)
                i = int(np.argmax(score))
                self._record(j, score.flat[i], (xc.flat[i], dl.flat[i], dr.flat[i], thr.flat[i]))
            # same order of recording as the kernel: row by row, point by point, order by order
        idx = np.argwhere(np.stack([D[j][4] & away for j in range(K)], axis=-1))  # (row, point, order)
        for r, k, j in idx:
            if self.nf[0] < self.NF:
                jump, thr, dl, dr, _ = (D[j][q][r, k] for q in range(5))
                self.flags[self.nf[0]] = (xc[r, k], j, jump / thr, dl, dr, thr)
            self.nf[0] += 1
        self.nflag += int(flagged_any.sum())

    def confirm(self) -> None:
        """Re-examine every flagged point on local meshes 16x, then 64x finer (``+-2h``): a jump
        stands if the finer scan finds a jump of the same or lower order there, or if the finer
        scan could not have seen it anyway (its threshold is not below half the jump); it is dropped
        when the finer mesh resolves the neighbourhood and sees no jump (a smooth feature narrower
        than a few coarse steps, e.g. a spline segment of width 0.001).  Skipped when more than
        ``NF`` points were flagged (then every flag stands)."""
        n = int(self.nf[0])
        if n == 0 or n > self.NF:
            return
        v, K = self.view, self.K
        F = self.flags[:n]
        x = np.unique(F[:, 0])
        m = v.M_FINE
        P = 2 * m
        keep = np.ones(n, bool)
        for div in (16, 64):  # local meshes covering +-2h around each flagged point
            hf, C = v.h / div, 2 * div
            X = x[:, None] + np.arange(-(C + P), C + P + 1)[None, :] * hf
            V = v.ev(X, "the local refinement of the jump scan").reshape(X.shape)
            D = scan_numpy(V, X[:, P:P + 2 * C + 1], V[:, P:P + 2 * C + 1], hf, m, K, P, v.noise_abs, v.S)
            near = np.abs(np.arange(-C, C + 1)) <= div  # local points within h of x
            for i in np.flatnonzero(keep):
                r = int(np.searchsorted(x, F[i, 0]))
                j = int(F[i, 1])
                found = any(D[k][4][r].any() for k in range(j + 1))
                resolved = np.max(D[j][1][r, near]) < 0.5 * F[i, 2] * F[i, 5]
                keep[i] = found or not resolved
        self.fine_jumps = {j: (0.0, None) for j in range(K)}
        for i in np.flatnonzero(keep):
            self._record(int(F[i, 1]), F[i, 2], (F[i, 0], F[i, 3], F[i, 4], F[i, 5]))
        self.dropped = int(n - keep.sum())


def _level_jumps(view: PhiView, sp) -> dict:
    """Per order: [jump, threshold, left, right, significant (with the cascade)] at one step level."""
    jumps = {}
    for j in range(5):
        dr, er, nr = sp.est[(j, 1)]
        dl, el, _ = sp.est[(j, -1)]
        thr = 4.0 * (el + er) + 1e-6 * (np.abs(dl) + np.abs(dr)) + 2 * nr + view.S * 1e-12
        jump = np.abs(dl - dr)
        if j == 0:
            jump = np.maximum(jump, np.maximum(np.abs(dl - sp.center), np.abs(dr - sp.center)))
        jumps[j] = [jump, thr, dl, dr]
    for j in range(5):
        sig = jumps[j][0] > jumps[j][1]
        if j < 4:
            sig &= jumps[j][0] > C_CASCADE * sp.h * jumps[j + 1][0]
        jumps[j].append(sig)
    return jumps


def special_jumps(view: PhiView) -> dict:
    """``{order j: (jump, threshold, left, right, significant)}`` arrays over the special points
    (order 0 also compares ``phi(x)`` itself with both limits; cascade rule as on the mesh).

    Step levels: ``h_spec = 1/256`` (every point), ``h_spec/4`` (only where the coarse level shows a
    jump or an inflated Richardson error at some order), ``h_spec/8`` (every point), and ``h_spec/32``,
    ``h_spec/128`` where a jump is still flagged.  A jump
    counts if it is significant on a level and no finer level could have resolved it (threshold below
    half the jump) without finding it: then the longer stencils were contaminated by a singularity near,
    but not at, the point.  A finer level also separates a true order-k jump at the point from the
    shadow of an order-(k+1) jump one coarse step away (the cascade bound ``4 h J_(k+1)`` shrinks with
    ``h``).  The values reported are those of the finest level that found the jump."""
    x = view.special_points
    co = _level_jumps(view, view.special)
    fi = _level_jumps(view, view.special_fine)
    # points needing the middle level: any coarse jump, or a Richardson error above the noise
    need = np.zeros(x.size, bool)
    for j in range(5):
        need |= co[j][0] > co[j][1]
        el, er = view.special.est[(j, -1)][1], view.special.est[(j, 1)][1]
        need |= 4 * (el + er) > 2 * view.special.est[(j, 1)][2]
    mid = {j: [np.zeros(x.size), np.full(x.size, np.inf), np.zeros(x.size), np.zeros(x.size),
               np.zeros(x.size, bool)] for j in range(5)}
    if need.any():
        sub = _level_jumps(view, view.special_at(view.h_spec / 4, x[need]))
        for j in range(5):
            for k in range(5):
                mid[j][k][need] = sub[j][k]
    levels = [co, mid, fi]  # coarse to fine
    # points still flagged: two deeper levels (h_spec/32, /128; stencils reach 16 steps), so that a
    # smooth feature narrower than the coarse stencils (a spline segment of width 0.002) is resolved
    flagged = np.zeros(x.size, bool)
    for L in levels:
        for j in range(5):
            flagged |= L[j][4]
    for div in (32, 128):
        deep = {j: [np.zeros(x.size), np.full(x.size, np.inf), np.zeros(x.size), np.zeros(x.size),
                    np.zeros(x.size, bool)] for j in range(5)}
        if flagged.any():
            sub = _level_jumps(view, view.special_at(view.h_spec / div, x[flagged]))
            for j in range(5):
                for k in range(5):
                    deep[j][k][flagged] = sub[j][k]
        levels.append(deep)
    out = {"fine": fi}
    for j in range(5):
        sig = np.zeros(x.size, bool)
        vals = [np.array(co[j][k], dtype=float) for k in range(4)]
        for li, L in enumerate(levels):
            jump, thr, dl, dr, sg = L[j]
            contra = np.zeros(x.size, bool)
            for F in levels[li + 1:]:
                contra |= (F[j][1] < 0.5 * jump) & ~F[j][4]
            ok = sg & ~contra
            sig |= ok
            for k, arr in enumerate((jump, thr, dl, dr)):
                vals[k] = np.where(ok, arr, vals[k])
        out[j] = (*vals, sig)
    return out


def verdict(view: PhiView, fine: FineJumpScan, spec: dict):
    """Returns ``(results C0..C2, order, note, first_jump)``; ``first_jump[j] = (where, u, left,
    right, threshold, count)`` for every order ``j`` with a significant jump."""
    first_jump = {}
    for j in range(5):
        jump, thr, dl, dr, sig = spec[j]
        if sig.any():
            i = int(np.argmax(np.where(sig, jump / thr, 0)))
            first_jump[j] = ("special", float(view.special.x[i]), float(dl[i]), float(dr[i]), float(thr[i]),
                             int(sig.sum()))
    for j in range(fine.K):
        if j not in first_jump and fine.fine_jumps[j][1] is not None:
            u, dl, dr, thr = fine.fine_jumps[j][1]
            first_jump[j] = ("mesh", u, dl, dr, thr, None)
    order = next((j - 1 for j in range(5) if j in first_jump), 4)
    results = []
    for k in range(3):
        bad = [j for j in range(k + 1) if j in first_jump]
        witness = None
        if bad:
            j = bad[0]
            where, u, dl, dr, thr, cnt = first_jump[j]
            vals = {f"left limit of {NAMES[j]}": dl, f"right limit of {NAMES[j]}": dr, "threshold": thr}
            if j == 0:
                vals["phi(u)"] = view.phi1(u)
            msg = (f"{NAMES[j]} jumps at u = {_fmt(u)}"
                   + (f" ({cnt} such grid points/half-integers)" if cnt else
                      f" (fine-mesh detection, step {view.h:g}: a jump between mesh points is located "
                      "within one step)"))
            witness = Witness((u,), vals, msg)
        results.append(PropertyResult(
            f"C{k}", f"3. smoothness C^{k}", witness is None,
            f"no jump in orders 0..{k} (one-sided FD, Richardson)" if witness is None else "fails",
            {"orders_tested": list(range(k + 1))}, witness))
    note = "orders 0-4 at every mesh point, at integers/half-integers and r_b/r_t"
    if order == 4:
        note += "; no jump found up to order 4 (the highest tested): C^4 at least on this evidence"
    elif order >= 2:
        _, u, dl, dr, _, _ = first_jump[order + 1]
        note += f"; order-{order + 1} derivative jumps at u = {_fmt(u)} ({_fmt(dl)} -> {_fmt(dr)})"
    return results, order, note, first_jump
