"""One sampled view of ``phi`` shared by every property check.

:class:`PhiView` evaluates ``phi`` once on

* the fine mesh: every checked grid cell ``[n, n+1]`` and ``tail_cells`` unit cells beyond each end,
  at ``points_per_cell`` dyadic points, streamed in blocks of cells (:meth:`PhiView.blocks`), each
  row padded by ``P`` mesh points on both sides for the one-sided stencils;
* the far tails: geometric points out to ``far_tail`` beyond ``r_b`` and ``r_t`` (:attr:`far`);
* the special points (grid integers, half-integers, ``r_b``, ``r_t``): one-sided finite-difference
  derivatives of orders 0..4 from both sides (:attr:`special`);

and owns the value scale ``S`` and the tolerances derived from it.  The property modules only read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .._fd import weights_array
from ..formats.grid import Grid
from ..formats.regularizers import Regularizer

EPS = np.finfo(float).eps

KINDS = ("interior", "near grid point", "half-integer", "tail")
"""Location codes of mesh points (see :meth:`PhiView.kinds`)."""


def msqe(u, r_b, r_t):
    """``(u - clip(round(u), r_b, r_t))^2`` (grid units)."""
    return (u - np.clip(np.rint(u), r_b, r_t)) ** 2


class Evaluator:
    """Calls the regularizer, counts evaluations and names the input that broke it."""

    def __init__(self, reg: Regularizer, grid: Grid):
        self.reg, self.r_b, self.r_t = reg, grid.r_b, grid.r_t
        self.count = 0

    def __call__(self, u: np.ndarray, stage: str) -> np.ndarray:
        u = np.ascontiguousarray(u, dtype=np.float64)
        self.count += u.size
        try:
            return self.reg.evaluate(u, self.r_b, self.r_t)
        except ValueError as exc:  # Regularizer.evaluate already names the failing u
            raise ValueError(f"{exc}; raised while checking {stage} on the "
                             f"[{self.r_b}, {self.r_t}] grid") from exc


def checked_cells(grid: Grid, max_cells: int) -> tuple[np.ndarray, int]:
    """Left ends ``n`` of the inner cells ``[n, n+1]`` to check (all of them when they fit)."""
    total = grid.r_t - grid.r_b
    if total <= max_cells:
        return np.arange(grid.r_b, grid.r_t, dtype=np.int64), total
    q = max_cells // 4
    first = np.arange(grid.r_b, grid.r_b + q)
    last = np.arange(grid.r_t - q, grid.r_t)
    mid = np.unique(np.linspace(grid.r_b + q, grid.r_t - q - 1, max_cells - 2 * q).round().astype(np.int64))
    return np.unique(np.concatenate([first, mid, last])), total


@dataclass
class Track:
    """Running minimum with its location and a tie-break key (smaller key wins ties)."""

    value: float = float("inf")
    u: float = float("nan")
    key: float = float("inf")

    def update_min(self, vals, us, keys=None):
        if vals.size == 0:
            return
        i = int(np.argmin(vals))
        v = float(vals.flat[i])
        if keys is not None:
            ties = np.flatnonzero(vals.ravel() == v)
            j = ties[np.argmin(keys.ravel()[ties])]
            i, k = int(j), float(keys.flat[j])
        else:
            k = 0.0
        if v < self.value or (v == self.value and k < self.key):
            self.value, self.u, self.key = v, float(us.flat[i]), k


def update_extrema(vals2d, u2d, lo, lo_u, hi, hi_u) -> None:
    """Column-wise running min/max of ``vals2d`` (rows: cells) into ``lo``/``hi`` in place,
    with the inputs ``u2d`` where they are attained."""
    cols = np.arange(vals2d.shape[1])
    a = np.argmin(vals2d, axis=0)
    v = vals2d[a, cols]
    better = v < lo
    lo[better] = v[better]
    lo_u[better] = u2d[a, cols][better]
    b = np.argmax(vals2d, axis=0)
    v = vals2d[b, cols]
    better = v > hi
    hi[better] = v[better]
    hi_u[better] = u2d[b, cols][better]


@dataclass
class Block:
    """Fine-mesh values of a block of unit cells.

    ``X``/``V``: mesh points and values, one row per cell ``[n, n+1]``, padded by ``P`` points on each
    side; ``xc``/``core``: the unpadded ``ppc + 1`` points of each cell; ``ms`` = MSQE there;
    ``is_inner``: which rows are cells of ``[r_b, r_t]``.
    """

    cells: np.ndarray
    X: np.ndarray
    V: np.ndarray
    P: int
    xc: np.ndarray
    core: np.ndarray
    ms: np.ndarray
    is_inner: np.ndarray


@dataclass
class FarTail:
    """Far-tail samples of one side: distance ``t`` beyond the end, points ``u``, values, ratios."""

    t: np.ndarray
    u: np.ndarray
    v: np.ndarray
    ratio: np.ndarray


@dataclass
class Special:
    """One-sided derivative estimates at the special points ``x``.

    ``est[(j, side)] = (D, err, noise)``: Richardson value, undivided error ``|D_h - D_2h|`` and the
    rounding allowance of the order-``j`` derivative from the right (``side = 1``) or left (``-1``).
    """

    x: np.ndarray
    center: np.ndarray
    est: dict
    h: float


class PhiView:
    """The sampled view of ``phi`` on a grid (see the module docstring)."""

    M_FINE = 8  # one-sided stencil nodes on the fine mesh (orders 0..4)
    M_SPEC = 8  # nodes at integers / half-integers (orders 0..4)

    def __init__(self, reg: Regularizer, grid: Grid, ppc: int, max_cells: int, tail_cells: int,
                 far_tail: float, chunk: int):
        self.reg, self.g = reg, grid
        self.r_b, self.r_t = grid.r_b, grid.r_t
        self.ev = Evaluator(reg, grid)
        self.ppc, self.h, self.half = ppc, 1.0 / ppc, ppc // 2
        # cells per block: bounded so that a block holds at most ~2M mesh points (memory at fine meshes)
        self.max_cells, self.T, self.far = max_cells, tail_cells, far_tail
        self.chunk = max(1, min(max(8, chunk), (1 << 21) // ppc))
        self.h_spec = 1.0 / 256
        self.notes: list[str] = []
        self.inner, self.cells_total = checked_cells(grid, max_cells)
        if self.inner.size < self.cells_total:
            self.notes.append(f"grid has {self.cells_total} cells: checked {self.inner.size} (first/last "
                              f"{max_cells // 4} and evenly spread ones); the others are covered only by the "
                              "periodicity claim, not by evaluation")
        self._set_scale()

    def _set_scale(self):
        # S: size of phi on one cell (its value at a half-integer inside the grid; 1 if degenerate)
        r_b, r_t = self.r_b, self.r_t
        probe = np.array([r_b + 0.5, r_t - 0.25, r_t + 0.5, r_b - 0.5])
        v = np.abs(self.ev(probe, "the value scale"))
        self.S = float(max(np.max(v), 1e-300))
        umax = float(max(abs(r_b), abs(r_t)) + self.T + 1)
        self.U = umax
        # equality tolerance: 1e-9 relative plus the float64 resolution of u itself
        self.rt_eq = 1e-9 + 64 * EPS * umax
        self.tol_eq = self.S * self.rt_eq
        self.tol_zero = self.S * 1e-12 + self.S * (64 * EPS * umax) ** 2 * 1e4
        self.noise_abs = self.S * 64 * EPS

    # -- evaluation -------------------------------------------------------------------------------
    def phi1(self, u: float) -> float:
        """``phi(u)`` at one point (for witnesses)."""
        return float(self.ev(np.array([u]), "a witness")[0])

    def msqe(self, u):
        return msqe(np.asarray(u, dtype=np.float64), self.r_b, self.r_t)

    def blocks(self):
        """Yield the fine mesh as :class:`Block` s: lower tail cells, inner cells in chunks, upper tail."""
        P, n_core = max(2 * self.M_FINE, self.ppc // 256), self.ppc + 1
        off = np.arange(-P, self.ppc + P + 1) * self.h
        r_b, r_t = self.r_b, self.r_t
        groups = [np.arange(r_b - self.T, r_b)]
        groups += [self.inner[s:s + self.chunk] for s in range(0, self.inner.size, self.chunk)]
        groups.append(np.arange(r_t, r_t + self.T))
        for cells in groups:
            if cells.size == 0:
                continue
            X = cells[:, None].astype(np.float64) + off[None, :]
            V = self.ev(X, "the fine mesh").reshape(X.shape)
            xc = X[:, P:P + n_core]
            yield Block(cells, X, V, P, xc, V[:, P:P + n_core], msqe(xc, r_b, r_t),
                        (cells >= r_b) & (cells < r_t))

    @cached_property
    def far_tails(self) -> dict[str, FarTail]:
        """Geometric far-tail samples, ``t`` from ``tail_cells`` to ``far_tail`` (241 points per side)."""
        t = np.geomspace(self.T, self.far, 241)
        up, lo = self.r_t + t, self.r_b - t
        vu = self.ev(up, "the far upper tail")
        vl = self.ev(lo, "the far lower tail")
        return {"upper": FarTail(t, up, vu, vu / (up - self.r_t) ** 2),
                "lower": FarTail(t, lo, vl, vl / (self.r_b - lo) ** 2)}

    @cached_property
    def special_points(self) -> np.ndarray:
        """Every checked grid integer and half-integer, the tail cells' ones, ``r_b`` and ``r_t``."""
        r_b, r_t, inner = self.r_b, self.r_t, self.inner
        pts = [inner.astype(np.float64), inner + 0.5,
               np.arange(r_b - self.T, r_b, dtype=np.float64), np.arange(r_b - self.T, r_b) + 0.5,
               np.arange(r_t, r_t + self.T + 1, dtype=np.float64), np.arange(r_t, r_t + self.T) + 0.5,
               np.array([float(r_t)])]
        return np.unique(np.concatenate(pts))

    @cached_property
    def special(self) -> Special:
        """One-sided derivatives (orders 0..4, ``m = 8`` nodes, steps ``h`` and ``2h``, Richardson,
        ``h = h_spec = 1/256``) at :attr:`special_points`."""
        return self.special_at(self.h_spec)

    @cached_property
    def special_fine(self) -> Special:
        """The same at ``h = h_spec / 8``: stencils 8x shorter, so a second singularity closer than
        ``16 h_spec`` to a special point does not contaminate them (rounding noise 8^k larger)."""
        return self.special_at(self.h_spec / 8)

    def special_at(self, h: float, x=None) -> Special:
        """One-sided estimates at step ``h`` at the points ``x`` (default: :attr:`special_points`)."""
        x = self.special_points if x is None else x
        m = self.M_SPEC
        node = np.arange(1, 2 * m + 1)
        center = self.ev(x, "the grid points and half-integers")
        right = self.ev(x[:, None] + node[None, :] * h, "one-sided stencils at grid points").reshape(x.size, -1)
        left = self.ev(x[:, None] - node[None, :] * h, "one-sided stencils at grid points").reshape(x.size, -1)
        est = {}
        for j in range(5):
            w = weights_array(m, j)
            p = m - j
            for side, F in ((1, right), (-1, left)):
                dh = (F[:, :m] @ w) * side ** j / h ** j
                d2h = (F[:, 1:2 * m:2] @ w) * side ** j / (2 * h) ** j
                est[(j, side)] = (dh + (dh - d2h) / (2 ** p - 1), np.abs(dh - d2h))
        arg = arg_noise(est, x, 2 * m * h)
        for j in range(5):
            nj = (self.noise_abs * 8 + arg) * np.abs(weights_array(m, j)).sum() / h ** j
            for side in (1, -1):
                est[(j, side)] = est[(j, side)] + (nj,)
        return Special(x, center, est, h)

    # -- locations ---------------------------------------------------------------------------------
    def kinds(self, x):
        """Location codes (indices into :data:`KINDS`): 0 interior, 1 near grid point, 2 half-integer,
        3 tail."""
        frac = np.abs(x - np.rint(x))
        inside = (x >= self.r_b) & (x <= self.r_t)
        return np.where(inside, np.where(frac == 0.5, 2, np.where(frac <= 1.0 / 16, 1, 0)), 3)

    def kind_of(self, u: float) -> str:
        if u < self.r_b or u > self.r_t:
            return "far tail" if min(abs(u - self.r_b), abs(u - self.r_t)) > self.T else "tail"
        return KINDS[int(self.kinds(np.array([u]))[0])]


def arg_noise(ests, x, reach):
    """Rounding of phi's argument: ``|phi(fl(u)) - phi(u)| <~ eps |u| * (local slope on the stencil)``."""
    slope = np.maximum(np.abs(ests[(1, -1)][0]), np.abs(ests[(1, 1)][0])) + reach * np.maximum(
        np.abs(ests[(2, -1)][0]), np.abs(ests[(2, 1)][0]))
    return EPS * (np.abs(x) + 1) * slope
