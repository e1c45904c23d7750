"""Limits of ``phi/MSQE``: one-sided at every grid point, and at infinity in both tails.

Grid points.  ``r(d) = phi(n +- d)/d^2`` is sampled at ``d = 2^-3 .. 2^-16`` and extrapolated to
``d -> 0`` by Richardson/Neville in ``d`` (one-sided expansions ``C + c1 d + c2 d^2 + ...`` of a
``phi`` that is smooth on each side), from the window of 5 consecutive ``d`` whose estimated error
(difference of the degree-4 and degree-3 extrapolations plus the rounding ``~ noise/d^2``) is
smallest.  The limit is *unbounded* when ``phi`` itself or ``+-phi'`` has a non-zero one-sided limit
at ``n`` (a jump or a kink where ``phi`` vanishes; ``phi/MSQE ~ 1/d^2`` or ``1/d``; decided with the
jump thresholds of the fine special-point stencils), or when ``r`` keeps growing as ``d`` halves
without its increments shrinking (e.g. ``|d|^1.5``).

Tails.  ``rho(t) = phi(r_t + t)/t^2`` (and the lower mirror) is extrapolated to ``t -> inf`` by the
same Richardson scheme in ``1/t`` on ``t = far_tail 2^-k`` (asymptotic fit), or read off exactly when
it is constant on the far tail to rounding (``phi = L MSQE`` there: e.g. QSin's ``pi^2 t^2``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .view import PhiView

KS = np.arange(3, 17)  # d = 2^-k
WIN = 5


def _richardson(R: np.ndarray, x: np.ndarray):
    """Neville extrapolation to x = 0 along the last axis (nodes ``x`` decreasing by 2 each step).
    Returns (degree-(n-1) value, degree-(n-2) value) for the n nodes given."""
    T = [R[..., i] for i in range(R.shape[-1])]
    prev = None
    n = len(T)
    for j in range(1, n):
        prev = T[-1]
        T = [(x[i] * T[i + 1] - x[i + j] * T[i]) / (x[i] - x[i + j]) for i in range(len(T) - 1)]
    return T[0], prev


def _best_window(R, x, noise):
    """Per row: the extrapolated limit and error from the best window of ``WIN`` consecutive nodes."""
    best_v = np.full(R.shape[0], np.nan)
    best_e = np.full(R.shape[0], np.inf)
    for s in range(R.shape[1] - WIN + 1):
        xs = x[s:s + WIN]
        v4, v3 = _richardson(R[:, s:s + WIN], xs)
        e = np.abs(v4 - v3) + noise[:, s + WIN - 1] * 8.0
        better = e < best_e
        best_v[better], best_e[better] = v4[better], e[better]
    return best_v, best_e


@dataclass
class GridLimits:
    """One-sided limits of ``phi/MSQE`` at the grid points ``pts`` (``left``/``right``) with their
    error estimates, and where they are unbounded (``unbounded_*``: a reason string or "")."""

    pts: np.ndarray
    left: np.ndarray
    right: np.ndarray
    err_left: np.ndarray
    err_right: np.ndarray
    unbounded_left: np.ndarray
    unbounded_right: np.ndarray
    d: np.ndarray
    r_left: np.ndarray
    r_right: np.ndarray

    @property
    def all(self):
        return np.concatenate([self.left, self.right])

    @property
    def err(self):
        return np.maximum(self.err_left, self.err_right)

    def unbounded(self):
        """``(u, side, reason, d, ratio at d)`` of the first unbounded one-sided limit, or None."""
        for side, ub, R in (("left", self.unbounded_left, self.r_left), ("right", self.unbounded_right, self.r_right)):
            idx = np.flatnonzero(ub != "")
            if idx.size:
                i = int(idx[0])
                return float(self.pts[i]), side, str(ub[i]), R[i]
        return None


def grid_limits(view: PhiView) -> GridLimits:
    """``lim phi(n +- d)/d^2`` at every grid integer of the special points (see module docstring);
    the one-sided ``phi(n+-)`` and ``phi'(n+-)`` come from the fine stencils ``view.special_fine``."""
    sp = view.special_fine
    x = sp.x
    isg = (x == np.rint(x)) & (x >= view.r_b) & (x <= view.r_t)
    n = x[isg]
    d = 2.0 ** -KS
    out = {}
    for side in (-1, 1):
        U = n[:, None] + side * d[None, :]
        V = view.ev(U, "the limits phi/MSQE at grid points").reshape(U.shape)
        R = V / d ** 2
        # rounding of r: relative eps of phi's value, and of its argument u (|phi'| ~ 2 |r| d) divided by d^2
        eps = np.finfo(float).eps
        noise = 8 * eps * (np.abs(R) + (np.abs(U) + 1) * np.abs(R) / d) + view.noise_abs / d ** 2
        lim, err = _best_window(R, d, noise)
        # unbounded: a non-zero one-sided limit of phi, or of side*phi' (phi grows linearly from 0)
        d0, e0, n0 = sp.est[(0, side)]
        d1, e1, n1 = sp.est[(1, side)]
        thr0 = 4 * e0[isg] + 2 * n0[isg] + view.tol_zero
        thr1 = 4 * e1[isg] + 2 * n1[isg] + 1e-9 * view.S
        reason = np.full(n.size, "", dtype=object)
        reason[side * d1[isg] > thr1] = "phi' has a non-zero one-sided limit where phi = 0: phi/MSQE ~ 1/d"
        reason[np.abs(d0[isg]) > thr0] = "phi jumps at the grid point where MSQE = 0: phi/MSQE ~ 1/d^2"
        # growth without shrinking increments on the rounding-safe part (noise << ratio)
        # (the safe d form a prefix: the noise grows as d shrinks)
        nsafe = np.cumprod(noise * 1e4 < np.abs(R), axis=1).sum(axis=1)
        cols = np.clip(nsafe[:, None] - 4 + np.arange(4)[None, :], 0, R.shape[1] - 1)
        dq = np.diff(np.take_along_axis(R, cols, axis=1), axis=1)
        q_last = np.take_along_axis(R, cols[:, -1:], axis=1)[:, 0]
        nz = 100 * np.take_along_axis(noise, cols[:, -1:], axis=1)[:, 0]  # increments far above rounding
        grows = ((nsafe >= 4) & np.all(dq > nz[:, None], axis=1) & (dq[:, -1] >= 0.9 * dq[:, -2])
                 & (dq[:, -1] > 1e-6 * np.abs(q_last)))
        reason[grows & (reason == "")] = "phi/MSQE grows without bound as u -> n (increments do not shrink)"
        out[side] = (lim, err, reason, R)
    return GridLimits(n.astype(np.int64), out[-1][0], out[1][0], out[-1][1], out[1][1], out[-1][2],
                      out[1][2], d, out[-1][3], out[1][3])


@dataclass
class TailLimit:
    """``lim_{t->inf} phi/MSQE`` on one side: value, error estimate, how it was obtained."""

    side: str
    value: float
    err: float
    method: str
    u: float


def tail_limits(view: PhiView) -> dict[str, TailLimit]:
    """Limits of the ratio at infinity (see the module docstring)."""
    t = view.far * 2.0 ** -np.arange(0, 10)  # far .. far/512, decreasing
    out = {}
    for side, sign, end in (("upper", 1, view.r_t), ("lower", -1, view.r_b)):
        u = end + sign * t
        v = view.ev(u, f"the {side} tail limit")
        rho = v / t ** 2
        spread = float(np.max(rho) - np.min(rho))
        if spread <= 64 * np.finfo(float).eps * float(np.max(np.abs(rho))):
            out[side] = TailLimit(side, float(rho[0]), spread, "exact: phi/MSQE is constant on the far tail", float(u[0]))
            continue
        noise = np.full((1, t.size), 64 * np.finfo(float).eps * float(np.max(np.abs(rho))))
        lim, err = _best_window(rho[None, :], 1.0 / t, noise)
        out[side] = TailLimit(side, float(lim[0]), float(err[0]),
                              "asymptotic fit: Richardson extrapolation in 1/t on t = far_tail/2^k", float(u[0]))
    return out
