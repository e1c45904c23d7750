"""``check(phi, grid)``: run every property module on one shared sampled view and assemble the report."""

from __future__ import annotations

import math

import numpy as np

from ..formats.grid import as_grid
from ..formats.regularizers import Regularizer, get_regularizer, user_regularizer
from . import equivalence, limits, order, propositions, smoothness, theorem1
from .examples import EXAMPLES
from .report import Coverage, SQRReport
from .view import PhiView


def check(phi, grid, *, signed: bool | None = None, points_per_cell: int = 256, max_cells: int = 1 << 16,
          tail_cells: int = 4, far_tail: float = 1e6, n_vectors: int = 300, seed: int = 0,
          chunk_cells: int = 512) -> SQRReport:
    r"""Check ``phi`` against the SQR definition and App. A's claims on ``grid``.

    Parameters
    ----------
    phi : callable, Regularizer or str
        ``phi(u, r_b, r_t)`` in grid units (vectorized or numba-compilable
        scalar), a :class:`~quanttheory.formats.regularizers.Regularizer`, or a
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
        (``sup phi/MSQE``) with where they are reached and how (refined mesh
        extreme, grid-point limit, limit at infinity; ``b' = inf`` / ``a = 0``
        when no finite constant exists), ``C = phi''(n)/2`` per grid point,
        smoothness order, witnesses for every failure.

    Raises
    ------
    ValueError, TypeError
        Bad options (checked before phi is evaluated), or a phi that raises,
        returns NaN/inf or the wrong shape (naming the input ``u``).
    """
    g = as_grid(grid, signed)
    validate_options(points_per_cell, max_cells, tail_cells, far_tail, n_vectors, seed)
    reg = resolve(phi)
    ppc = int(points_per_cell)
    view = PhiView(reg, g, ppc, int(max_cells), int(tail_cells), float(far_tail), int(chunk_cells))
    return run(view, int(n_vectors), int(seed))


def _int(name, v, lo, hi=None):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
    if v < lo or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in {lo}..{hi}"
        raise ValueError(f"{name} must be {rng}, got {v}")
    return int(v)


def validate_options(points_per_cell, max_cells, tail_cells, far_tail, n_vectors, seed) -> None:
    """Check every option of :func:`check` before any work starts (ValueError/TypeError saying what to do)."""
    ppc = _int("points_per_cell", points_per_cell, 64, 1 << 20)
    if ppc & (ppc - 1):
        raise ValueError(f"points_per_cell must be a power of two in 64..2^20 (keeps every mesh point exact "
                         f"in float64; coarser meshes leave no room for the jump scan), got {points_per_cell}")
    _int("max_cells", max_cells, 8)
    t = _int("tail_cells", tail_cells, 1)
    if not (isinstance(far_tail, (int, float, np.integer, np.floating)) and math.isfinite(far_tail)
            and far_tail > t):
        raise ValueError(f"far_tail must be finite and > tail_cells, got {far_tail}")
    _int("n_vectors", n_vectors, 1)
    _int("seed", seed, 0)


def resolve(phi) -> Regularizer:
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


def run(view: PhiView, n_vectors: int, seed: int) -> SQRReport:
    """One pass over the fine mesh feeding every scan, then each property's verdict."""
    ratios, roots = equivalence.RatioScan(view), equivalence.RootScan(view)
    op, p1, fine = order.OrderScan(view), propositions.Prop1Scan(view), smoothness.FineJumpScan(view)
    for block in view.blocks():
        for scan in (ratios, roots, p1, fine, op):
            scan.update(block)
    fine.confirm()
    ratios.add_far_tails()
    roots.add_far_tails()
    spec = smoothness.special_jumps(view)
    gl = limits.grid_limits(view)
    cv = propositions.curvature(view, gl, spec["fine"])
    conv = propositions.prop2_convergence(view, cv)
    trend = equivalence.tail_trend(view)

    eq, a_ext, b_ext = equivalence.verdict(view, ratios, roots, gl, limits.tail_limits(view), trend)
    refined = np.concatenate([ratios.refined.get("min", np.empty(0)), ratios.refined.get("max", np.empty(0))])
    op_res = order.verdict(view, op, order.off_mesh_check(view, op, refined))
    smooth, order_k, note, first_jump = smoothness.verdict(view, fine, spec)
    is_sqr = eq.passed and op_res.passed and smooth[2].passed
    claims = propositions.prop1_verdicts(view, p1, roots, ratios.refined.get("min"))
    claims.append(propositions.prop2_verdict(view, cv, conv, trend))
    claims.append(theorem1.check_theorem1(view, a_ext.value, b_ext.value, eq, n_vectors, seed))

    notes = list(view.notes)
    notes.append("Theorem 1's region Omega = {L_w <= C1, L_a <= C2} is not bounded (so not compact): "
                 "W = s * n (a grid integer n != 0) has L_w = s^2 phi(n) = 0 for every s > 0")
    if fine.nflag and all(fine.fine_jumps[j][1] is None for j in range(fine.K)):
        notes.append(f"{fine.nflag} fine-mesh points had jumps explained by higher-order jumps nearby")
    cov = Coverage(view.cells_total, int(view.inner.size), view.ppc, view.h, view.T, view.far, view.h_spec,
                   view.ev.count)
    thresholds = {"equal_tolerance": view.tol_eq, "zero_tolerance": view.tol_zero, "jump_rtol": 1e-6,
                  "C_rtol": 1e-6, "richardson_safety": 4.0, "fine_step": view.h, "special_step": view.h_spec,
                  "theorem1_rtol": theorem1.RTOL}
    jumps = {j: {"u": v[1], "left": v[2], "right": v[3], "threshold": v[4], "where": v[0]}
             for j, v in sorted(first_jump.items())}
    C_ref = float(np.median(cv.all))
    return SQRReport(view.reg.name, view.g, is_sqr, a_ext, b_ext, C_ref, cv.pts, cv.per_point, order_k, note,
                     jumps, (eq, op_res, *smooth), tuple(claims), cov, thresholds, tuple(notes))
