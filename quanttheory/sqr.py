"""Property checker for smooth quantization regularizers (SQR, ECCV App. A).

``phi`` is an SQR for the grid ``[r_b, r_t]`` (all in grid units ``u = x/s``) if

1. *equivalence*: ``a MSQE(u) <= phi(u) <= b' MSQE(u)`` for all real ``u``, ``0 < a <= b'``;
2. *order preservation*: for ``u1, u2`` in ``[r_b, r_t]``:
   ``MSQE(u1) < MSQE(u2)  <=>  phi(u1) < phi(u2)``;
3. *smoothness*: ``phi`` is ``C^2(R)``.

The paper's claims checked as well: Prop. 1 (1: the roots are exactly the grid
integers, all global minima, no other local minima; 2: period 1 on
``[r_b, r_t]``; 3: even about every inner grid point), Prop. 2 (``phi(u) =
C MSQE(u) + o(MSQE)`` near every grid point with ONE constant ``C =
phi''(n)/2``, and ``O(MSQE)`` in the tails) and Theorem 1's vector bounds
``a MSQE(x, s) <= s^2 mean phi(x/s) <= b' MSQE(x, s)``.

:func:`check` is numerical evidence on a finite mesh plus exact checks at the
grid integers and half-integers -- not a proof.  See ``docs/sqr.md`` for the
mesh, the thresholds and what a pass does and does not show.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from ._fd import weights_array
from .formats.grid import Grid, as_grid
from .formats.regularizers import PI2, Regularizer, get_regularizer, user_regularizer

EPS = np.finfo(float).eps

# ----------------------------------------------------------------------------- result types


@dataclass(frozen=True)
class Witness:
    """A concrete counterexample: the point(s) ``u`` (grid units) and the values that break a property."""

    u: tuple[float, ...]
    values: Mapping[str, float]
    message: str

    def to_dict(self) -> dict:
        return {"u": [float(v) for v in self.u], "values": {k: _jsonable(v) for k, v in self.values.items()},
                "message": self.message}


@dataclass(frozen=True)
class PropertyResult:
    """Verdict of one property or claim.

    ``key`` is a stable identifier (``"equivalence"``, ``"prop1.1"``, ...),
    ``numbers`` the measured quantities, ``witness`` a counterexample when it fails.
    """

    key: str
    title: str
    passed: bool
    summary: str
    numbers: Mapping[str, Any] = field(default_factory=dict)
    witness: Witness | None = None

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "passed": self.passed, "summary": self.summary,
                "numbers": {k: _jsonable(v) for k, v in self.numbers.items()},
                "witness": None if self.witness is None else self.witness.to_dict()}


@dataclass(frozen=True)
class Extreme:
    """An extreme ratio ``phi/MSQE``: its value, where it is reached and how.

    ``kind`` is one of ``"half-integer"``, ``"grid point (limit u->n)"``,
    ``"tail"``, ``"far tail"``, ``"interior"``; ``kinds`` lists every kind of
    location whose ratio is within ``1e-6`` (relative) of ``value``.
    """

    value: float
    u: float
    kind: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class Coverage:
    """What the mesh covered."""

    cells_total: int
    cells_checked: int
    points_per_cell: int
    mesh_step: float
    tail_cells: int
    far_tail: float
    special_step: float
    n_evaluations: int

    @property
    def complete(self) -> bool:
        return self.cells_checked == self.cells_total


@dataclass(frozen=True)
class SQRReport:
    """Result of :func:`check`: the definition's properties, the paper's claims and the constants."""

    regularizer: str
    grid: Grid
    is_sqr: bool
    a: Extreme
    b_prime: Extreme
    C: float
    C_points: np.ndarray = field(repr=False, compare=False)
    C_values: np.ndarray = field(repr=False, compare=False)
    smoothness_order: int
    smoothness_order_note: str
    jumps: Mapping[int, Mapping[str, Any]]
    definition: tuple[PropertyResult, ...]
    claims: tuple[PropertyResult, ...]
    coverage: Coverage
    thresholds: Mapping[str, float]
    notes: tuple[str, ...]

    @property
    def results(self) -> tuple[PropertyResult, ...]:
        return self.definition + self.claims

    @property
    def passed(self) -> bool:
        """True when every property AND every claim passes."""
        return all(r.passed for r in self.results)

    def failures(self) -> tuple[PropertyResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def __getitem__(self, key: str) -> PropertyResult:
        for r in self.results:
            if r.key == key:
                return r
        raise KeyError(f"no property {key!r}; keys: {[r.key for r in self.results]}")

    def to_dict(self) -> dict:
        return {
            "regularizer": self.regularizer,
            "grid": {"bits": self.grid.bits, "signed": self.grid.signed, "r_b": self.grid.r_b,
                     "r_t": self.grid.r_t},
            "is_sqr": self.is_sqr, "all_passed": self.passed,
            "a": asdict(self.a), "b_prime": asdict(self.b_prime), "C": _jsonable(self.C),
            "C_per_grid_point": {"points": [int(p) for p in self.C_points],
                                 "values": [_jsonable(v) for v in self.C_values]},
            "smoothness_order": self.smoothness_order, "smoothness_order_note": self.smoothness_order_note,
            "jumps": {str(k): {kk: _jsonable(vv) for kk, vv in v.items()} for k, v in self.jumps.items()},
            "definition": [r.to_dict() for r in self.definition],
            "claims": [r.to_dict() for r in self.claims],
            "coverage": {**asdict(self.coverage), "complete": self.coverage.complete},
            "thresholds": dict(self.thresholds), "notes": list(self.notes),
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **({"indent": 2} | kw))

    def format_table(self) -> str:
        """Human-readable table of every property and claim."""
        g = self.grid
        lines = [f"SQR check of {self.regularizer!r} on the {g}",
                 f"verdict: {'IS' if self.is_sqr else 'is NOT'} an SQR (definition 1-3); "
                 f"{'all claims hold' if self.passed else str(len(self.failures())) + ' property/claim failure(s)'}",
                 f"a  = {_fmt(self.a.value)}  at u = {_fmt(self.a.u)} ({', '.join(self.a.kinds)})",
                 f"b' = {_fmt(self.b_prime.value)}  at u = {_fmt(self.b_prime.u)} ({', '.join(self.b_prime.kinds)})",
                 f"C  = phi''(n)/2 = {_fmt(self.C)}  (per grid point: min {_fmt(np.min(self.C_values))}, "
                 f"max {_fmt(np.max(self.C_values))}, {self.C_points.size} points)",
                 f"highest smoothness order found: C^{self.smoothness_order} ({self.smoothness_order_note})",
                 ""]
        w = max(len(r.title) for r in self.results)
        lines.append(f"{'property':<{w}}  result  numbers")
        lines.append("-" * (w + 60))
        for r in self.results:
            lines.append(f"{r.title:<{w}}  {'PASS' if r.passed else 'FAIL':<6}  {r.summary}")
            if r.witness is not None:
                vals = ", ".join(f"{k} = {_fmt(v)}" for k, v in r.witness.values.items())
                us = ", ".join(_fmt(u) for u in r.witness.u[:6]) + (" ..." if len(r.witness.u) > 6 else "")
                lines.append(f"{'':<{w}}    witness u = ({us}): {vals}")
                lines.append(f"{'':<{w}}    {r.witness.message}")
        c = self.coverage
        lines += ["", f"coverage: {c.cells_checked}/{c.cells_total} grid cells x {c.points_per_cell} points "
                  f"(step {c.mesh_step:g}), {c.tail_cells} tail cells per side, far tails to "
                  f"+-{c.far_tail:g}, integers/half-integers with step {c.special_step:g}; "
                  f"{c.n_evaluations} evaluations of phi"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if v == 0 or 1e-4 <= abs(v) < 1e7:
        return f"{v:.10g}"
    return f"{v:.6e}"


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else str(v)
    return v


# ----------------------------------------------------------------------------- evaluation helpers


def _update_extrema(vals2d, u2d, lo, lo_u, hi, hi_u) -> None:
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


class _Evaluator:
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


def _msqe(u, r_b, r_t):
    return (u - np.clip(np.rint(u), r_b, r_t)) ** 2


def _cells(grid: Grid, max_cells: int) -> tuple[np.ndarray, int]:
    """Left ends ``n`` of the inner cells ``[n, n+1]`` to check (all of them when they fit)."""
    total = grid.r_t - grid.r_b
    if total <= max_cells:
        return np.arange(grid.r_b, grid.r_t, dtype=np.int64), total
    q = max_cells // 4
    first = np.arange(grid.r_b, grid.r_b + q)
    last = np.arange(grid.r_t - q, grid.r_t)
    mid = np.unique(np.linspace(grid.r_b + q, grid.r_t - q - 1, max_cells - 2 * q).round().astype(np.int64))
    return np.unique(np.concatenate([first, mid, last])), total


# ----------------------------------------------------------------------------- the checker


@dataclass
class _Track:
    """Running extreme with location and a tie-break key."""

    value: float
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


def check(phi, grid, *, signed: bool | None = None, points_per_cell: int = 256, max_cells: int = 1 << 16,
          tail_cells: int = 4, far_tail: float = 1e6, n_vectors: int = 300, seed: int = 0,
          chunk_cells: int = 512) -> SQRReport:
    r"""Check ``phi`` against the SQR definition and App. A's claims on ``grid``.

    Parameters
    ----------
    phi : callable, Regularizer or str
        ``phi(u, r_b, r_t)`` in grid units (vectorized or numba-compilable
        scalar), a :class:`~quanttheory.regularizers.Regularizer`, or a
        registered name (``"qsin"``, ``"msqe"``, ``"sinreq"``) or one of
        :data:`EXAMPLES`.
    grid : Grid or int
        The grid, or a bit width (signed unless ``signed=False``).
    points_per_cell : int
        Mesh intervals per grid cell (mesh step ``1/points_per_cell``), a power of
        two >= 64 (keeps every mesh point exact in float64).
    max_cells : int
        Grids with more cells are checked on the first and last ``max_cells/4``
        cells plus ``max_cells/2`` evenly spread ones (reported in ``coverage``).
    tail_cells, far_tail : int, float
        Fine mesh on ``tail_cells`` unit cells beyond each end; geometric far
        tail out to ``far_tail`` grid units beyond ``r_b``/``r_t``.
    n_vectors, seed : int
        Random vectors and scales for the Theorem 1 check (``numpy`` Generator
        seeded with ``seed``: reproducible).

    Returns
    -------
    SQRReport
        Frozen report: verdicts, tightest ``a`` (``inf phi/MSQE``) and ``b'``
        (``sup phi/MSQE``) with where they are reached, ``C = phi''(n)/2`` per
        grid point, smoothness order, witnesses for every failure.
    """
    g = as_grid(grid, signed)
    reg = _resolve(phi)
    ppc = int(points_per_cell)
    if ppc < 64 or ppc & (ppc - 1):
        raise ValueError(f"points_per_cell must be a power of two >= 64 (coarser meshes leave no room for "
                         f"the off-grid-point jump scan), got {points_per_cell}")
    if int(max_cells) < 8:
        raise ValueError(f"max_cells must be >= 8, got {max_cells}")
    if int(tail_cells) < 1:
        raise ValueError(f"tail_cells must be >= 1, got {tail_cells}")
    if not (math.isfinite(far_tail) and far_tail > tail_cells):
        raise ValueError(f"far_tail must be finite and > tail_cells, got {far_tail}")
    return _Checker(reg, g, ppc, int(max_cells), int(tail_cells), float(far_tail), int(n_vectors), int(seed),
                    int(chunk_cells)).run()


def _resolve(phi) -> Regularizer:
    """Name / Regularizer / callable -> Regularizer.  A callable that already works on numpy arrays is
    used as is (no numba compile); a scalar-only one goes through ``user_regularizer`` (numba)."""
    if isinstance(phi, str) and phi.lower() in EXAMPLES:
        return EXAMPLES[phi.lower()]
    if callable(phi) and not isinstance(phi, Regularizer):
        probe = np.array([0.25, -0.75, 1.5])
        try:
            with np.errstate(all="ignore"):
                out = np.asarray(phi(probe, -1, 1))
            vectorized = out.shape == probe.shape and out.dtype.kind in "fiu"
        except Exception:
            vectorized = False
        if vectorized:
            return user_regularizer(phi, use_numba=False)
    return get_regularizer(phi)


class _Checker:
    M_FINE = 6  # one-sided stencil nodes on the fine mesh (orders 0..2)
    M_SPEC = 8  # nodes at integers / half-integers (orders 0..4)
    C_CASCADE = 4.0

    def __init__(self, reg, grid, ppc, max_cells, tail_cells, far_tail, n_vectors, seed, chunk):
        self.reg, self.g = reg, grid
        self.ev = _Evaluator(reg, grid)
        self.ppc, self.h = ppc, 1.0 / ppc
        self.half = ppc // 2
        self.max_cells, self.T, self.far, self.nvec, self.seed, self.chunk = (
            max_cells, tail_cells, far_tail, n_vectors, seed, max(8, chunk))
        self.r_b, self.r_t = grid.r_b, grid.r_t
        self.U = float(max(abs(self.r_b), abs(self.r_t)) + far_tail)
        self.h_spec = 1.0 / 256
        self.notes: list[str] = []

    # -- thresholds -------------------------------------------------------------------------
    def _set_scale(self):
        # S: size of phi on one cell (its value at a half-integer inside the grid; 1 if degenerate)
        r_b, r_t = self.r_b, self.r_t
        probe = np.array([r_b + 0.5 if r_t > r_b else r_b + 0.5, r_t - 0.25, r_t + 0.5, r_b - 0.5])
        v = np.abs(self.ev(probe, "the value scale"))
        self.S = float(max(np.max(v), 1e-300))
        umax = float(max(abs(r_b), abs(r_t)) + self.T + 1)
        # equality tolerance: 1e-9 relative plus the float64 resolution of u itself
        self.rt_eq = 1e-9 + 64 * EPS * umax
        self.tol_eq = self.S * self.rt_eq
        self.tol_zero = self.S * 1e-12 + self.S * (64 * EPS * umax) ** 2 * 1e4
        self.noise_abs = self.S * 64 * EPS

    # -- main -------------------------------------------------------------------------------
    def run(self) -> SQRReport:
        self._set_scale()
        inner, total = _cells(self.g, self.max_cells)
        if inner.size < total:
            self.notes.append(f"grid has {total} cells: checked {inner.size} (first/last {self.max_cells // 4} "
                              "and evenly spread ones); the others are covered only by the periodicity "
                              "claim, not by evaluation")
        self.inner = inner
        self.cells_total = total
        self._mesh_pass(inner)
        self._far_tails()
        self._special_points(inner)
        self._prop2_convergence()
        return self._assemble()

    # -- mesh -------------------------------------------------------------------------------
    def _mesh_pass(self, inner):
        h, P, two_m = self.h, 2 * self.M_FINE, self.ppc
        M = self.half
        k = np.arange(-P, two_m + P + 1)
        off = k * h
        tails = np.concatenate([np.arange(self.r_b - self.T, self.r_b), np.arange(self.r_t, self.r_t + self.T)])
        r_b, r_t = self.r_b, self.r_t
        inf = float("inf")
        # trackers
        self.rmin = _Track(inf)
        self.rmax = _Track(inf)  # stores -max
        self.kind_min: dict[str, float] = {}
        self.kind_max: dict[str, float] = {}
        self.zero_bad = _Track(inf)  # -|phi(n)| at grid integers
        self.neg = _Track(inf)
        self.extra_root = _Track(inf)  # phi at non-grid points (min)
        self.locmins: list[tuple[float, float, float, float]] = []
        self.n_locmin = 0
        # order preservation: column-wise min/max over all profiles
        self.op_min = np.full(M + 1, inf)
        self.op_min_u = np.full(M + 1, np.nan)
        self.op_max = np.full(M + 1, -inf)
        self.op_max_u = np.full(M + 1, np.nan)
        self.op_inc = _Track(inf)
        self.op_inc_pair = (np.nan, np.nan, np.nan, np.nan)
        self.op_plateau = None
        self.per_min = np.full(two_m + 1, inf)
        self.per_min_u = np.full(two_m + 1, np.nan)
        self.per_max = np.full(two_m + 1, -inf)
        self.per_max_u = np.full(two_m + 1, np.nan)
        self.even_worst = (0.0, np.nan, np.nan, np.nan, np.nan)
        self.fine_jumps = {j: (0.0, None) for j in range(3)}
        self.fine_nflag = 0
        wts = {j: weights_array(self.M_FINE, j) for j in range(3)}
        prev_left = None  # left profile of the previous inner cell (for evenness)
        prev_cell = None

        blocks = [tails[: self.T]]
        for s in range(0, inner.size, self.chunk):
            blocks.append(inner[s:s + self.chunk])
        blocks.append(tails[self.T:])
        for cells in blocks:
            if cells.size == 0:
                continue
            X = cells[:, None].astype(np.float64) + off[None, :]
            V = self.ev(X, "the fine mesh").reshape(X.shape)
            core = V[:, P:P + two_m + 1]
            xc = X[:, P:P + two_m + 1]
            ms = _msqe(xc, r_b, r_t)
            is_inner = (cells >= r_b) & (cells < r_t)
            # ---- equivalence ratios
            pos = ms > 0
            ratio = np.where(pos, core / np.where(pos, ms, 1.0), np.nan)
            outside = np.maximum(np.maximum(r_b - xc, xc - r_t), 0.0)
            rr, xx, oo = ratio[pos], xc[pos], outside[pos]
            self.rmin.update_min(rr, xx, oo - 1e-9 * xx)
            self.rmax.update_min(-rr, xx, oo - 1e-9 * xx)
            kinds = self._kinds(xx)
            for code, kname in enumerate(self.KINDS):
                sel = kinds == code
                if sel.any():
                    self.kind_min[kname] = min(self.kind_min.get(kname, inf), float(rr[sel].min()))
                    self.kind_max[kname] = max(self.kind_max.get(kname, -inf), float(rr[sel].max()))
            # ---- zeros at grid integers, negativity, extra roots
            zmask = ~pos
            self.zero_bad.update_min(-np.abs(core[zmask]), xc[zmask])
            self.neg.update_min(core, xc)
            self.extra_root.update_min(core[pos], xc[pos], oo)
            # ---- local minima on the padded rows (core indices only)
            Vc, Vl, Vr = V[:, P:P + two_m + 1], V[:, P - 1:P + two_m], V[:, P + 1:P + two_m + 2]
            lm = (Vc <= Vl) & (Vc <= Vr) & (np.maximum(Vl, Vr) - Vc > self.tol_eq) & pos
            if lm.any():
                idx = np.flatnonzero(lm.ravel())
                self.n_locmin += idx.size
                for i in idx[:4]:
                    self.locmins.append((float(xc.ravel()[i]), float(Vc.ravel()[i]),
                                         float(Vl.ravel()[i]), float(Vr.ravel()[i])))
            # ---- fine-mesh smoothness (orders 0..2)
            self._fine_smoothness(V, X, wts, P)
            # ---- inner-only: order preservation, periodicity, evenness
            if is_inner.any():
                ci, xi = core[is_inner], xc[is_inner]
                right, right_u = ci[:, :M + 1], xi[:, :M + 1]
                left, left_u = ci[:, ::-1][:, :M + 1], xi[:, ::-1][:, :M + 1]
                for prof, pu in ((right, right_u), (left, left_u)):
                    _update_extrema(prof, pu, self.op_min, self.op_min_u, self.op_max, self.op_max_u)
                    d = np.diff(prof, axis=1)
                    i = int(np.argmin(d))
                    if d.flat[i] < self.op_inc.value:
                        r, c = divmod(i, M)
                        self.op_inc.value = float(d.flat[i])
                        self.op_inc_pair = (float(pu[r, c]), float(prof[r, c]), float(pu[r, c + 1]),
                                            float(prof[r, c + 1]))
                    # a plateau: two consecutive steps within the tolerance (one tiny step alone is
                    # allowed: a profile may be very flat at d = 1/2 or d = 0 and still increase)
                    tie = np.abs(d) <= self.tol_eq
                    plat = tie[:, :-1] & tie[:, 1:]
                    if plat.any() and self.op_plateau is None:
                        r, c = divmod(int(np.flatnonzero(plat.ravel())[0]), M - 1)
                        self.op_plateau = (float(pu[r, c]), float(prof[r, c]), float(pu[r, c + 2]),
                                           float(prof[r, c + 2]))
                _update_extrema(ci, xi, self.per_min, self.per_min_u, self.per_max, self.per_max_u)
                # evenness about n (inner grid points r_b < n < r_t): right profile of cell n vs left of n-1
                icells = cells[is_inner]
                if prev_left is not None:
                    lefts = np.vstack([prev_left[None, :], left[:-1]])
                    lcells = np.concatenate([np.array([prev_cell]), icells[:-1]])
                    rights, rcells = right, icells
                else:
                    lefts, lcells, rights, rcells = left[:-1], icells[:-1], right[1:], icells[1:]
                ok = (lcells.astype(np.int64) + 1 == rcells) if rcells.size else np.zeros(0, bool)
                if ok.any():
                    diff = np.abs(rights[ok] - lefts[ok])
                    i = int(np.argmax(diff))
                    r, c = divmod(i, M + 1)
                    if diff.flat[i] > self.even_worst[0]:
                        n = float(rcells[ok][r])
                        d = c * self.h
                        self.even_worst = (float(diff.flat[i]), n, d, float(rights[ok][r, c]),
                                           float(lefts[ok][r, c]))
                prev_left, prev_cell = left[-1], icells[-1]

    KINDS = ("interior", "near grid point", "half-integer", "tail")

    def _kinds(self, x):
        """Location codes: 0 interior, 1 near grid point, 2 half-integer, 3 tail (see KINDS)."""
        r_b, r_t = self.r_b, self.r_t
        frac = np.abs(x - np.rint(x))
        inside = (x >= r_b) & (x <= r_t)
        out = np.where(inside, np.where(frac == 0.5, 2, np.where(frac <= 1.0 / 16, 1, 0)), 3)
        return out

    USE_NUMBA = True

    def _fine_smoothness(self, V, X, wts, P):
        """One-sided derivative jumps (orders 0..2) at every fine-mesh point away from special points."""
        if not self.USE_NUMBA:
            return self._fine_smoothness_numpy(V, X, wts, P)
        from ._kernels.sqr_jumps import fine_jumps

        m, h = self.M_FINE, self.h
        if getattr(self, "_Wk", None) is None:
            Wk = np.zeros((3, 2, 2, m))
            for j in range(3):
                for si, side in enumerate((1, -1)):
                    for sk, step in enumerate((1, 2)):
                        Wk[j, si, sk] = wts[j] * side ** j / (step * h) ** j
            self._Wk = Wk
            self._absw = np.array([np.abs(wts[j]).sum() / h ** j for j in range(3)])
        best = np.zeros((3, 5))
        for j in range(3):
            best[j, 0] = self.fine_jumps[j][0]
        n0 = np.ascontiguousarray(X[:, P] - 0.0)
        nflag = fine_jumps(np.ascontiguousarray(V), n0, float(h), int(P), int(m), self._Wk, self._absw,
                           float(self.noise_abs), float(self.S), float(self.C_CASCADE), best)
        for j in range(3):
            if best[j, 0] > self.fine_jumps[j][0]:
                self.fine_jumps[j] = (float(best[j, 0]), tuple(float(v) for v in best[j, 1:]))
        self.fine_nflag += int(nflag)

    def _fine_smoothness_numpy(self, V, X, wts, P):
        """Reference numpy implementation of :meth:`_fine_smoothness` (BLAS on sliding windows)."""
        m, h = self.M_FINE, self.h
        n_core = self.ppc + 1
        core = slice(P, P + n_core)
        xc = X[:, core]
        frac = np.abs(xc * 2 - np.rint(xc * 2)) / 2  # distance to nearest integer/half-integer
        away = frac > (2 * m + 1) * h
        if not away.any():
            return
        # all 12 one-sided stencils (order j, side, step) as one matrix on sliding windows (BLAS)
        Wm = self._fine_matrix(wts, P)
        win = np.lib.stride_tricks.sliding_window_view(V, 2 * P + 1, axis=1)
        R = (win.reshape(-1, 2 * P + 1) @ Wm).reshape(V.shape[0], n_core, -1)
        ests = {}
        for j in range(3):
            p = m - j
            for si, side in enumerate((1, -1)):
                dh = R[:, :, 4 * j + 2 * si]
                d2h = R[:, :, 4 * j + 2 * si + 1]
                # undivided error: bounds truncation AND argument-rounding noise
                ests[(j, side)] = (dh + (dh - d2h) / (2 ** p - 1), np.abs(dh - d2h))
        arg = self._arg_noise(ests, xc, 2 * m * h)
        D = {}
        for j in range(3):
            (dl, el), (dr, er) = ests[(j, -1)], ests[(j, 1)]
            noise = (self.noise_abs * 8 + arg) * np.abs(wts[j]).sum() / h ** j
            thr = 4.0 * (el + er) + 1e-6 * (np.abs(dl) + np.abs(dr)) + noise + self.S * 1e-12
            D[j] = (np.abs(dl - dr), thr, dl, dr)
        # cascade rule: order-j jump counts only if not explained by an order-(j+1) jump within one step
        flagged_any = np.zeros(xc.shape, bool)
        for j in range(3):
            jump, thr, dl, dr = D[j]
            sig = (jump > thr) & away
            if j < 2:
                sig &= jump > self.C_CASCADE * h * D[j + 1][0]
            flagged_any |= (jump > thr) & away
            if sig.any():
                score = np.where(sig, jump / thr, 0.0)
                i = int(np.argmax(score))
                if score.flat[i] > self.fine_jumps[j][0]:
                    self.fine_jumps[j] = (float(score.flat[i]), (float(xc.flat[i]), float(dl.flat[i]),
                                                                 float(dr.flat[i]), float(thr.flat[i])))
        self.fine_nflag += int(flagged_any.sum())

    @staticmethod
    def _arg_noise(ests, x, reach):
        """Rounding of phi's argument: |phi(fl(u)) - phi(u)| <~ eps |u| * (local slope on the stencil)."""
        slope = np.maximum(np.abs(ests[(1, -1)][0]), np.abs(ests[(1, 1)][0])) + reach * np.maximum(
            np.abs(ests[(2, -1)][0]), np.abs(ests[(2, 1)][0]))
        return EPS * (np.abs(x) + 1) * slope

    def _fine_matrix(self, wts, P):
        if getattr(self, "_Wm", None) is None:
            m, h = self.M_FINE, self.h
            Wm = np.zeros((2 * P + 1, 12))
            for j in range(3):
                for si, side in enumerate((1, -1)):
                    for sk, step in enumerate((1, 2)):
                        for t in range(1, m + 1):
                            Wm[P + side * step * t, 4 * j + 2 * si + sk] = (wts[j][t - 1] * side ** j
                                                                             / (step * h) ** j)
            self._Wm = Wm
        return self._Wm

    # -- far tails ---------------------------------------------------------------------------
    def _far_tails(self):
        t = np.geomspace(self.T, self.far, 241)
        self.far_t = t
        up = self.r_t + t
        lo = self.r_b - t
        vu = self.ev(up, "the far upper tail")
        vl = self.ev(lo, "the far lower tail")
        self.far_vals = {"upper": (up, vu, vu / (up - self.r_t) ** 2), "lower": (lo, vl, vl / (self.r_b - lo) ** 2)}
        for side, (u, v, r) in self.far_vals.items():
            self.rmin.update_min(r, u, np.abs(u) * 0 + t)
            self.rmax.update_min(-r, u, t)
            self.kind_min["far tail"] = min(self.kind_min.get("far tail", np.inf), float(r.min()))
            self.kind_max["far tail"] = max(self.kind_max.get("far tail", -np.inf), float(r.max()))
            self.neg.update_min(v, u)
            self.extra_root.update_min(v, u, t)

    def _tail_trend(self):
        """Heuristic: does phi/MSQE tend to 0 or infinity in a far tail?  Returns list of (side, kind, u, ratio)."""
        out = []
        t = self.far_t
        dec = [np.argmin(np.abs(t - self.far / 10 ** k)) for k in (3, 2, 1, 0)]
        for side, (u, v, r) in self.far_vals.items():
            q = r[dec]
            d = np.diff(q)
            if np.all(d > 0) and d[-1] >= 0.5 * d[-2] and d[-1] > 1e-6 * q[-1]:
                out.append((side, "grows without bound", float(u[dec[-1]]), float(q[-1]), float(q[-2])))
            elif np.all(d < 0) and (q[-1] <= 0.5 * q[-2] or (-d[-1] >= -0.5 * d[-2] and -d[-1] > 1e-6 * q[-1])):
                out.append((side, "tends to 0", float(u[dec[-1]]), float(q[-1]), float(q[-2])))
        return out

    # -- integers and half-integers ---------------------------------------------------------------
    def _special_points(self, inner):
        r_b, r_t = self.r_b, self.r_t
        pts = [inner.astype(np.float64), inner + 0.5,
               np.arange(r_b - self.T, r_b, dtype=np.float64), np.arange(r_b - self.T, r_b) + 0.5,
               np.arange(r_t, r_t + self.T + 1, dtype=np.float64), np.arange(r_t, r_t + self.T) + 0.5,
               np.array([float(r_t)])]
        x = np.unique(np.concatenate(pts))
        m, h = self.M_SPEC, self.h_spec
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
        arg = self._arg_noise(est, x, 2 * m * h)
        for j in range(5):
            nj = (self.noise_abs * 8 + arg) * np.abs(weights_array(m, j)).sum() / h ** j
            for side in (1, -1):
                est[(j, side)] = est[(j, side)] + (nj,)
        self.spec_x, self.spec_center, self.spec_est = x, center, est
        jumps = {}
        for j in range(5):
            dr, er, nr = est[(j, 1)]
            dl, el, _ = est[(j, -1)]
            thr = 4.0 * (el + er) + 1e-6 * (np.abs(dl) + np.abs(dr)) + 2 * nr + self.S * 1e-12
            jump = np.abs(dl - dr)
            if j == 0:
                jump = np.maximum(jump, np.maximum(np.abs(dl - center), np.abs(dr - center)))
            jumps[j] = (jump, thr, dl, dr)
        self.spec_jumps = jumps
        # Prop. 2 constants at grid integers inside [r_b, r_t]
        isg = (x == np.rint(x)) & (x >= r_b) & (x <= r_t)
        self.C_pts = x[isg].astype(np.int64)
        self.C_left = est[(2, -1)][0][isg] / 2
        self.C_right = est[(2, 1)][0][isg] / 2
        self.C_err = (est[(2, -1)][1][isg] + est[(2, 1)][1][isg]) / 2
        self.d1 = (est[(1, -1)][0][isg], est[(1, 1)][0][isg], jumps[1][1][isg])

    def _prop2_convergence(self):
        n = self.C_pts.astype(np.float64)
        hs = 2.0 ** -np.arange(4, 11)
        errs = []
        C = np.concatenate([self.C_left, self.C_right])
        for hh in hs:
            vl = self.ev(n - hh, "Prop. 2 near grid points")
            vr = self.ev(n + hh, "Prop. 2 near grid points")
            ratio = np.concatenate([vl, vr]) / hh ** 2
            e = np.abs(ratio - C)
            errs.append(e)
        self.p2_h = hs
        self.p2_err = np.array([e.max() for e in errs])
        i = int(np.argmax(errs[-1]))
        both = np.concatenate([n, n])
        self.p2_worst_u = float(both[i] + (hs[-1] if i >= n.size else -hs[-1]))

    # -- verdicts ------------------------------------------------------------------------------------
    def _assemble(self) -> SQRReport:
        r_b, r_t, S = self.r_b, self.r_t, self.S
        res: dict[str, PropertyResult] = {}

        # C per grid point
        C_vals = (self.C_left + self.C_right) / 2
        C_all = np.concatenate([self.C_left, self.C_right])
        C_ref = float(np.median(C_all))

        # ---------------- equivalence
        a_val, a_u = self.rmin.value, self.rmin.u
        b_val, b_u = -self.rmax.value, self.rmax.u
        a_kind = self._kind_of(a_u)
        b_kind = self._kind_of(b_u)
        cmin, cmax = float(np.min(C_all)), float(np.max(C_all))
        # the ratio tends to phi''(n)/2 at grid points: include those limits
        if cmin < a_val:
            i = int(np.argmin(C_all))
            a_val, a_u, a_kind = cmin, float(np.concatenate([self.C_pts, self.C_pts])[i]), "grid point (limit u->n)"
        if cmax > b_val:
            i = int(np.argmax(C_all))
            b_val, b_u, b_kind = cmax, float(np.concatenate([self.C_pts, self.C_pts])[i]), "grid point (limit u->n)"
        kinds_a = self._kinds_near(a_val, self.kind_min, cmin)
        kinds_b = self._kinds_near(b_val, self.kind_max, cmax)
        a_ext = Extreme(a_val, a_u, a_kind, kinds_a or (a_kind,))
        b_ext = Extreme(b_val, b_u, b_kind, kinds_b or (b_kind,))
        trend = self._tail_trend()
        numbers = {"a": a_val, "a_at": a_u, "b_prime": b_val, "b_prime_at": b_u,
                   "max_abs_phi_at_grid_points": -self.zero_bad.value}
        witness = None
        if -self.zero_bad.value > self.tol_zero:
            u = self.zero_bad.u
            witness = Witness((u,), {"phi": float(self._phi1(u)), "MSQE": 0.0},
                              f"phi(u) != 0 at a grid integer where MSQE = 0: no b' can bound it")
        elif a_kind.startswith("grid point") and a_val <= 4 * float(np.max(self.C_err)) + 1e-12 * S:
            u = a_u + 2.0 ** -10
            m = float(_msqe(np.array(u), r_b, r_t))
            p = float(self._phi1(u))
            witness = Witness((u,), {"phi": p, "MSQE": m, "phi/MSQE": p / m, "phi''(n)/2 at n": a_val},
                              f"phi/MSQE -> phi''(n)/2 = {_fmt(a_val)} as u -> n = {_fmt(a_u)}: "
                              "no a > 0 with a MSQE <= phi near the grid point")
        elif a_val <= 0 or not np.isfinite(a_val):
            u = a_u
            witness = Witness((u,), {"phi": float(self._phi1(u)), "MSQE": float(_msqe(np.array(u), r_b, r_t)),
                                     "phi/MSQE": a_val},
                              "phi/MSQE <= 0 here, so there is no a > 0 with a MSQE <= phi")
        elif not np.isfinite(b_val):
            witness = Witness((b_u,), {"phi/MSQE": b_val}, "phi/MSQE is unbounded")
        elif trend:
            side, what, u, q1, q0 = trend[0]
            witness = Witness((u,), {"phi": float(self._phi1(u)), "MSQE": float(_msqe(np.array(u), r_b, r_t)),
                                     "phi/MSQE": q1, "phi/MSQE one decade closer": q0},
                              f"phi/MSQE {what} in the {side} tail (far-tail trend test), so no finite "
                              + ("b'" if what.startswith("grows") else "a > 0"))
        ok = witness is None
        res["equivalence"] = PropertyResult(
            "equivalence", "1. equivalence a MSQE <= phi <= b' MSQE", ok,
            f"a = {_fmt(a_val)} ({a_ext.kinds[0]}), b' = {_fmt(b_val)} ({', '.join(b_ext.kinds)})" if ok
            else f"fails: inf phi/MSQE = {_fmt(a_val)}, sup = {_fmt(b_val)}", numbers, witness)

        # ---------------- order preservation
        M = self.half
        spread = self.op_max - self.op_min
        j = int(np.argmax(spread))
        witness = None
        numbers = {"max_spread_equal_msqe": float(spread[j]), "min_increment": float(self.op_inc.value),
                   "tolerance": self.tol_eq}
        if spread[j] > self.tol_eq:
            u1, u2 = float(self.op_max_u[j]), float(self.op_min_u[j])
            witness = Witness((u1, u2), {"MSQE(u1)": float((j * self.h) ** 2), "MSQE(u2)": float((j * self.h) ** 2),
                                         "phi(u1)": float(self.op_max[j]), "phi(u2)": float(self.op_min[j])},
                              "equal MSQE but different phi")
        elif self.op_inc.value < -self.tol_eq or self.op_plateau is not None:
            decreasing = self.op_inc.value < -self.tol_eq
            u1, p1, u2, p2 = self.op_inc_pair if decreasing else self.op_plateau
            witness = Witness((u1, u2), {"MSQE(u1)": float(_msqe(np.array(u1), r_b, r_t)),
                                         "MSQE(u2)": float(_msqe(np.array(u2), r_b, r_t)),
                                         "phi(u1)": p1, "phi(u2)": p2},
                              "MSQE(u1) < MSQE(u2) but phi(u1) > phi(u2)" if decreasing else
                              "MSQE(u1) < MSQE(u2) but phi(u1) = phi(u2) within tolerance (plateau)")
        else:
            cross = self.op_max[:-1] - self.op_min[1:]
            i = int(np.argmax(cross))
            if cross[i] > self.tol_eq:
                u1, u2 = float(self.op_max_u[i]), float(self.op_min_u[i + 1])
                witness = Witness((u1, u2), {"MSQE(u1)": float(_msqe(np.array(u1), r_b, r_t)),
                                             "MSQE(u2)": float(_msqe(np.array(u2), r_b, r_t)),
                                             "phi(u1)": float(self.op_max[i]), "phi(u2)": float(self.op_min[i + 1])},
                                  "MSQE(u1) < MSQE(u2) but phi(u1) >= phi(u2)")
        if r_t - r_b < 1:
            witness = None
        res["order"] = PropertyResult(
            "order", "2. order preservation on [r_b, r_t]", witness is None,
            f"phi = g(MSQE) with g strictly increasing: max |phi(u1)-phi(u2)| at equal MSQE = "
            f"{_fmt(spread[j])}, min step = {_fmt(self.op_inc.value)}" if witness is None
            else "fails", numbers, witness)

        # ---------------- smoothness C^0..C^2 and highest order
        first_jump = {}
        for j in range(5):
            jump, thr, dl, dr = self.spec_jumps[j]
            sig = jump > thr
            if sig.any():
                score = np.where(sig, jump / thr, 0)
                # prefer the most significant, tie-break on proximity to the grid
                i = int(np.argmax(score))
                first_jump[j] = ("special", float(self.spec_x[i]), float(dl[i]), float(dr[i]), float(thr[i]),
                                 int(sig.sum()))
        for j in range(3):
            if j not in first_jump and self.fine_jumps[j][1] is not None:
                u, dl, dr, thr = self.fine_jumps[j][1]
                first_jump[j] = ("mesh", u, dl, dr, thr, None)
        order = 4
        for j in range(5):
            if j in first_jump:
                order = j - 1
                break
        self.order = order
        names = ["phi (continuity)", "phi'", "phi''"]
        for k in range(3):
            bad = [j for j in range(k + 1) if j in first_jump]
            witness = None
            if bad:
                j = bad[0]
                where, u, dl, dr, thr, cnt = first_jump[j]
                vals = {f"left limit of {names[j]}": dl, f"right limit of {names[j]}": dr, "threshold": thr}
                if j == 0:
                    vals["phi(u)"] = float(self._phi1(u))
                msg = (f"{names[j]} jumps at u = {_fmt(u)}" + (f" ({cnt} such grid points/half-integers)" if cnt
                                                                else " (fine-mesh detection; location within "
                                                                f"{(2 * self.M_FINE + 1) * self.h:g})"))
                witness = Witness((u,), vals, msg)
            res[f"C{k}"] = PropertyResult(
                f"C{k}", f"3. smoothness C^{k}", witness is None,
                (f"no jump in orders 0..{k} (one-sided FD, Richardson)" if witness is None else f"fails"),
                {"orders_tested": list(range(k + 1))}, witness)
        note = ("orders 0-2 at every mesh point and at integers/half-integers/r_b/r_t; orders 3-4 only at "
                "integers, half-integers and r_b/r_t")
        if order == 4:
            note += "; no jump found up to order 4 (the highest tested): C^4 at least on this evidence"
        elif order >= 2:
            where, u, dl, dr, thr, cnt = first_jump[order + 1]
            note += f"; order-{order + 1} derivative jumps at u = {_fmt(u)} ({_fmt(dl)} -> {_fmt(dr)})"
        is_sqr = res["equivalence"].passed and res["order"].passed and res["C2"].passed

        # ---------------- Prop. 1
        claims: list[PropertyResult] = []
        witness = None
        numbers = {"n_extra_local_minima_on_mesh": self.n_locmin, "min_phi_off_grid": self.extra_root.value,
                   "min_phi": self.neg.value}
        if -self.zero_bad.value > self.tol_zero:
            u = self.zero_bad.u
            witness = Witness((u,), {"phi": float(self._phi1(u))}, "a grid integer is not a root")
        elif self.neg.value < -self.tol_zero:
            witness = Witness((self.neg.u,), {"phi": self.neg.value}, "phi < 0 = phi(grid point): grid points are "
                              "not global minima")
        elif self.extra_root.value <= self.tol_zero:
            u = self.extra_root.u
            witness = Witness((u,), {"phi": self.extra_root.value, "MSQE": float(_msqe(np.array(u), r_b, r_t))},
                              "root of phi that is not a grid integer in [r_b, r_t]")
        elif self.locmins:
            u, v, vl, vr = min(self.locmins, key=lambda t: abs(t[0]))
            witness = Witness((u - self.h, u, u + self.h), {"phi(u-h)": vl, "phi(u)": v, "phi(u+h)": vr},
                              "local minimum that is not a grid integer"
                              + (" (in a tail: order preservation says nothing outside [r_b, r_t])"
                                 if (u < r_b or u > r_t) else ""))
        else:
            for side, (u, v, r) in self.far_vals.items():
                d = np.diff(v) if side == "upper" else np.diff(v)
                bad = np.flatnonzero(d <= 0) if side == "upper" else np.flatnonzero(d <= 0)
                if bad.size:
                    i = int(bad[0])
                    witness = Witness((float(u[i]), float(u[i + 1])), {"phi(u1)": float(v[i]), "phi(u2)": float(v[i + 1])},
                                      f"phi decreases outwards in the far {side} tail: a local minimum lies beyond")
                    break
        claims.append(PropertyResult("prop1.1", "Prop.1(1) roots = grid integers, only minima", witness is None,
                                     "phi(n) = 0 exactly at the grid integers, > 0 elsewhere, no other local minima "
                                     "on the mesh" if witness is None else "fails", numbers, witness))
        # 1.2 periodicity
        pspread = self.per_max - self.per_min
        j = int(np.argmax(pspread)) if np.isfinite(pspread).any() else 0
        witness = None
        if np.isfinite(pspread[j]) and pspread[j] > self.tol_eq:
            u1, u2 = float(self.per_max_u[j]), float(self.per_min_u[j])
            witness = Witness((u1, u2), {"phi(u1)": float(self.per_max[j]), "phi(u2)": float(self.per_min[j])},
                              f"u2 - u1 = {u2 - u1:g} is an integer but phi differs")
        claims.append(PropertyResult("prop1.2", "Prop.1(2) period 1 on [r_b, r_t]", witness is None,
                                     f"max |phi(u+k)-phi(u)| = {_fmt(np.nanmax(np.where(np.isfinite(pspread), pspread, 0)))}",
                                     {"max_deviation": float(np.nanmax(np.where(np.isfinite(pspread), pspread, 0)))},
                                     witness))
        # 1.3 evenness
        dev, n, d, vr, vl = self.even_worst
        witness = None
        if dev > self.tol_eq:
            witness = Witness((n - d, n + d), {"phi(n-d)": vl, "phi(n+d)": vr}, f"not even about grid point n = {n:g}")
        claims.append(PropertyResult("prop1.3", "Prop.1(3) even about inner grid points", witness is None,
                                     f"max |phi(n+d)-phi(n-d)| = {_fmt(dev)}", {"max_deviation": dev}, witness))

        # ---------------- Prop. 2
        rtol_C = 1e-6
        spreadC = float(np.max(np.abs(C_all - C_ref)))
        numbers = {"C": C_ref, "C_min": cmin, "C_max": cmax, "C_rtol": rtol_C,
                   "o_MSQE_h": self.p2_h.tolist(), "o_MSQE_max_error": self.p2_err.tolist(),
                   "max_abs_phi'(n)": float(np.max(np.abs(np.concatenate(self.d1[:2]))))}
        witness = None
        pts2 = np.concatenate([self.C_pts, self.C_pts])
        if cmin <= 4 * float(np.max(self.C_err)) + 1e-12 * S:
            i = int(np.argmin(C_all))
            witness = Witness((float(pts2[i]),), {"C = phi''(n)/2": cmin, "error estimate": float(np.max(self.C_err))},
                              "C must be > 0 (here it is not distinguishable from 0)")
        elif spreadC > rtol_C * abs(C_ref) + 4 * float(np.max(self.C_err)):
            i, k = int(np.argmin(C_all)), int(np.argmax(C_all))
            side = lambda q: "left" if q < self.C_pts.size else "right"
            witness = Witness((float(pts2[i]), float(pts2[k])),
                              {f"C {side(i)} of u1": float(C_all[i]), f"C {side(k)} of u2": float(C_all[k])},
                              "phi''(n)/2 differs between grid points/sides: no single C with "
                              "s^2 phi(x/s) = C MSQE + o(MSQE)")
        elif np.any(np.abs(np.concatenate(self.d1[:2])) > np.concatenate([self.d1[2], self.d1[2]])):
            i = int(np.argmax(np.abs(np.concatenate(self.d1[:2]))))
            witness = Witness((float(pts2[i]),), {"phi'(n)": float(np.concatenate(self.d1[:2])[i])},
                              "phi'(n) != 0 at a grid point")
        elif not (self.p2_err[-1] <= self.p2_err[0] * (self.p2_h[-1] / self.p2_h[0]) ** 0.5
                  + 1e-7 * abs(C_ref) + self.noise_abs / self.p2_h[-1] ** 2 * 8):
            witness = Witness((self.p2_worst_u,), {"|phi/MSQE - C| at h=2^-4": float(self.p2_err[0]),
                                                   "|phi/MSQE - C| at h=2^-10": float(self.p2_err[-1])},
                              "phi/MSQE does not converge to C near this grid point")
        elif trend and trend[0][1].startswith("grows"):
            side, what, u, q1, q0 = trend[0]
            witness = Witness((u,), {"phi/MSQE": q1}, "phi/MSQE grows in the tail: not O(MSQE)")
        claims.append(PropertyResult(
            "prop2", "Prop.2 s^2 phi(x/s) = C MSQE + o(MSQE)", witness is None,
            f"C = phi''(n)/2 = {_fmt(C_ref)} at all {self.C_pts.size} grid points (spread {_fmt(spreadC)}); "
            f"|phi/MSQE - C| = {_fmt(self.p2_err[0])} (h=1/16) -> {_fmt(self.p2_err[-1])} (h=1/1024)",
            numbers, witness))

        # ---------------- Theorem 1 (vector bounds)
        claims.append(self._theorem1(a_val, b_val, res["equivalence"]))

        definition = (res["equivalence"], res["order"], res["C0"], res["C1"], res["C2"])
        notes = list(self.notes)
        notes.append("Theorem 1's region Omega = {L_w <= C1, L_a <= C2} is not bounded (so not compact): "
                     "W = s * n (a grid integer n != 0) has L_w = s^2 phi(n) = 0 for every s > 0")
        if self.fine_nflag and all(self.fine_jumps[j][1] is None for j in range(3)):
            notes.append(f"{self.fine_nflag} fine-mesh points had jumps explained by higher-order jumps nearby")
        cov = Coverage(self.cells_total, int(self.inner.size), self.ppc, self.h, self.T, self.far, self.h_spec,
                       self.ev.count)
        thresholds = {"equal_tolerance": self.tol_eq, "zero_tolerance": self.tol_zero,
                      "jump_rtol": 1e-6, "C_rtol": rtol_C, "richardson_safety": 4.0,
                      "fine_step": self.h, "special_step": self.h_spec, "theorem1_rtol": 1e-6}
        jumps = {j: {"u": v[1], "left": v[2], "right": v[3], "threshold": v[4], "where": v[0]}
                 for j, v in sorted(first_jump.items())}
        return SQRReport(self.reg.name, self.g, is_sqr, a_ext, b_ext, C_ref, self.C_pts, C_vals,
                         order, note, jumps, definition, tuple(claims), cov, thresholds, tuple(notes))

    def _theorem1(self, a, b, eq: PropertyResult) -> PropertyResult:
        r_b, r_t = self.r_b, self.r_t
        rng = np.random.default_rng(self.seed)
        worst_lo, worst_hi = (np.inf, None), (-np.inf, None)
        n_checked = 0
        span = r_t - r_b
        for _ in range(self.nvec):
            k = int(rng.integers(1, 65))
            kind = rng.integers(0, 5, size=k)
            u = np.where(kind == 0, rng.uniform(r_b, r_t + 1e-300, size=k),
                np.where(kind == 1, rng.integers(r_b, r_t + 1, size=k) + rng.normal(0, 1e-2, size=k),
                np.where(kind == 2, rng.integers(r_b, r_t + 1, size=k) + 0.5 * rng.choice([-1, 1], size=k),
                np.where(kind == 3, r_t + rng.exponential(max(1.0, span / 4), size=k),
                         r_b - rng.exponential(max(1.0, span / 4), size=k)))))
            s = float(10 ** rng.uniform(-3, 3))
            x = u * s
            uu = x / s
            L = s * s * float(np.mean(self.ev(uu, "Theorem 1 vectors")))
            Mq = s * s * float(np.mean(_msqe(uu, r_b, r_t)))
            if Mq <= 0:
                continue
            n_checked += 1
            r = L / Mq
            if r < worst_lo[0]:
                worst_lo = (r, (x, s, L, Mq))
            if r > worst_hi[0]:
                worst_hi = (r, (x, s, L, Mq))
        numbers = {"vectors": n_checked, "min_ratio": worst_lo[0], "max_ratio": worst_hi[0], "a": a, "b_prime": b}
        witness = None
        rtol = 1e-6
        if not eq.passed:
            u0 = eq.witness.u[0] if eq.witness is not None else 0.0
            s = 2.0
            x = np.array([u0, u0]) * s
            L = s * s * float(np.mean(self.ev(x / s, "Theorem 1 witness")))
            Mq = s * s * float(np.mean(_msqe(x / s, r_b, r_t)))
            witness = Witness(tuple(x.tolist()), {"s": s, "s^2 phi(x/s)": L, "MSQE(x, s)": Mq},
                              "the scalar equivalence fails, so no 0 < a <= b' bound the vector regularizer "
                              "(vector x = s * (u, u))")
        elif worst_lo[0] < a * (1 - rtol) or worst_hi[0] > b * (1 + rtol):
            bad = worst_lo if worst_lo[0] < a * (1 - rtol) else worst_hi
            x, s, L, Mq = bad[1]
            witness = Witness(tuple(x.tolist()), {"s": s, "s^2 phi(x/s)": L, "MSQE(x, s)": Mq, "ratio": bad[0]},
                              "vector ratio outside [a, b'] (the mesh missed a sharper scalar extreme)")
        return PropertyResult("theorem1", "Thm.1 a MSQE(x,s) <= s^2 phi(x/s) <= b' MSQE(x,s)", witness is None,
                              f"{n_checked} random vectors/scales: ratio in [{_fmt(worst_lo[0])}, {_fmt(worst_hi[0])}]"
                              f" within [a, b'] = [{_fmt(a)}, {_fmt(b)}]" if witness is None else "fails",
                              numbers, witness)

    # -- utils ----------------------------------------------------------------------------------------
    def _phi1(self, u: float) -> float:
        return float(self.ev(np.array([u]), "a witness")[0])

    def _kind_of(self, u: float) -> str:
        if u < self.r_b or u > self.r_t:
            return "far tail" if min(abs(u - self.r_b), abs(u - self.r_t)) > self.T else "tail"
        return self.KINDS[int(self._kinds(np.array([u]))[0])]

    @staticmethod
    def _kinds_near(value, table, climit, rtol=1e-6):
        out = []
        for k, v in table.items():
            if abs(v - value) <= rtol * abs(value):
                out.append(k)
        if abs(climit - value) <= rtol * abs(value):
            out.append("grid point (limit u->n)")
        order = ["half-integer", "grid point (limit u->n)", "near grid point", "interior", "tail", "far tail"]
        return tuple(sorted(out, key=order.index))


# ----------------------------------------------------------------------------- example regularizers


def _tails(u, r_b, r_t, inner, tail_lo, tail_hi):
    return np.where(u < r_b, tail_lo(r_b - u), np.where(u > r_t, tail_hi(u - r_t), inner))


def quartic(u, r_b, r_t):
    r"""Polynomial SQR: ``d^2 - 2 d^4`` with ``d = u - round(u)`` inside, ``MSQE`` outside.

    ``p'(1/2) = 0`` makes it C^2 at the half-integers (``p'''`` jumps there:
    C^2, not C^3); ``a = 1/2`` (half-integers), ``b' = C = 1`` (grid points, tails).
    """
    u = np.asarray(u, dtype=np.float64)
    d = u - np.rint(u)
    return _tails(u, r_b, r_t, d * d - 2 * d ** 4, lambda t: t * t, lambda t: t * t)


def qsin_msqe_tails(u, r_b, r_t):
    """QSin inside but plain ``MSQE`` tails (no pi^2): ``phi''`` jumps 2 pi^2 -> 2 at r_b, r_t."""
    u = np.asarray(u, dtype=np.float64)
    return _tails(u, r_b, r_t, np.sin(np.pi * (u - np.rint(u))) ** 2, lambda t: t * t, lambda t: t * t)


def tail_minima(u, r_b, r_t):
    r"""Satisfies the three SQR properties but has extra local minima in the tails.

    QSin inside; tails ``pi^2 t^2 (1 + sin^2(pi t)/2)`` with ``t`` the distance
    to ``[r_b, r_t]``: ratio to MSQE in ``[pi^2, 1.5 pi^2]``, C^3 at r_b/r_t,
    but ``t sin(2 pi t)`` makes ``phi`` decrease on parts of ``t > 2``.
    """
    u = np.asarray(u, dtype=np.float64)
    f = lambda t: PI2 * t * t * (1 + 0.5 * np.sin(np.pi * t) ** 2)
    return _tails(u, r_b, r_t, np.sin(np.pi * (u - np.rint(u))) ** 2, f, f)


def lopsided(u, r_b, r_t):
    """``sin^2(pi u)(1 + 0.3 sin(2 pi u))`` inside, QSin tails: C^2, equivalent, but not order preserving."""
    u = np.asarray(u, dtype=np.float64)
    d = u - np.rint(u)
    inner = np.sin(np.pi * d) ** 2 * (1 + 0.3 * np.sin(2 * np.pi * d))
    return _tails(u, r_b, r_t, inner, lambda t: PI2 * t * t, lambda t: PI2 * t * t)


def cubic_tails(u, r_b, r_t):
    """QSin inside, ``pi^2 t^2 + t^3`` tails: C^2 but phi/MSQE -> inf (no finite b')."""
    u = np.asarray(u, dtype=np.float64)
    f = lambda t: PI2 * t * t + t ** 3
    return _tails(u, r_b, r_t, np.sin(np.pi * (u - np.rint(u))) ** 2, f, f)


EXAMPLES: dict[str, Regularizer] = {
    f.__name__: user_regularizer(f, f.__name__, use_numba=False)
    for f in (quartic, qsin_msqe_tails, tail_minima, lopsided, cubic_tails)
}
"""Example regularizers for the checker (not registered for the risk engine)."""


def names() -> list[str]:
    """Names accepted by :func:`check` besides callables: registered regularizers and :data:`EXAMPLES`."""
    from .formats.regularizers import available

    return sorted(set(available()) | set(EXAMPLES))
