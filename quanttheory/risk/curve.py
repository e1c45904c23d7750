"""Exact risk curves: the engine entry ``expected_phi`` and ``risk_curve`` for every law.

For a random variable xi and a regularizer phi (grid units), the risk curve is

    R_phi[xi](s) = f_phi * s**2 * E[ phi(xi / s) ]          (data units squared)

with the paper's factor ``f_phi = pi**2`` for MSQE (so ``MSQE[xi](s) = pi**2 s**2
E[MSQE(xi/s)] = pi**2 E[(xi - Q_U(xi))**2]``) and ``f_phi = 1`` otherwise
(``QSin[xi](s) = s**2 E[QSin(xi/s)]``).  Both MSQE and QSin curves tend to
``pi**2 E[xi**2]`` as ``s -> 0`` and as ``s -> inf`` (not ``pi**2 Var(xi)`` as the
ECCV supplement states: the two differ whenever ``E[xi] != 0``, e.g. after ReLU).

Exactness: by default (``method="auto"``) each scale uses the bit-independent
closed forms of :mod:`quanttheory.risk.fastpath` wherever their error bound is
certified, else the per-cell path: the expectation integrated piece by piece
(grid cells, edge half-cells, tails, split at the Laplace kink and subdivided on
the density's scale) with a Gauss-Legendre rule per piece whose order is chosen
from an error bound (:mod:`quanttheory.risk._kernels.cells`).  Both are tested against
mpmath at 50 digits: relative error <= 1e-12 (7e-14 observed) for bits 1..16,
both grid kinds, the four laws, scales from 1e-4x to 100x the optimum; the fast
path also for bits up to 24.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from .._validate import check_scales
from ..formats.grid import Grid, as_grid
from ..formats.regularizers import CODE_MSQE, CODE_QSIN, CODE_SINREQ, Regularizer, get_regularizer
from ..laws import Law, as_law
from ..laws import LAW_NORMAL  # kernel law code

MAX_PERIODIC_PIECES = 1 << 21
_CHUNK_NODES = 1 << 22


@lru_cache(maxsize=1)
def _tables():
    from ._kernels.cells import gauss_tables

    return gauss_tables()


SMALL_ATOMS = 64
"""Atom groups up to this size are summed in numpy (e.g. the ReLU atom at 0); larger
groups (data) go through the chunked data kernels of :mod:`quanttheory.risk.data`."""


def expected_phi(dist, scales, grid: Grid, regularizer="msqe", *, method="auto") -> np.ndarray:
    """``s**2 E[phi(xi / s)]`` for each scale, *without* the curve factor (data units squared).

    One code path for every law (:class:`quanttheory.laws.Law`; an array is its
    :class:`~quanttheory.laws.Empirical` law): the continuous part (if
    ``law.has_density``) by the law's numba kernels (``law.kernel_params()``), or
    by :mod:`quanttheory.risk.generic` for a law without kernels, plus
    ``w s**2 sum_i phi(x_i / s)`` over each group of ``law.atoms()``.

    ``method`` (continuous part): ``"auto"`` (default: the bit-independent fast path
    wherever it is certified, else the per-cell path), ``"fast"``, or ``"cells"``
    (per-cell Gauss-Legendre only, the reference).  User regularizers always use the cells.
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    law = as_law(dist)
    grid = as_grid(grid)
    reg = get_regularizer(regularizer)
    s = check_scales(scales)
    flat = np.ascontiguousarray(s.ravel())
    comps = law.components()
    if comps:  # a finite mixture: the risk is linear in the law
        return sum(w * expected_phi(c, flat, grid, reg, method=method) for w, c in comps).reshape(s.shape)
    out = _density_part(law, grid, reg, flat, method) if law.has_density else np.zeros_like(flat)
    for group in law.atoms():
        out = out + _atoms_part(group, grid, reg, flat)
    return out.reshape(s.shape)


def _density_part(law: Law, grid: Grid, reg: Regularizer, flat: np.ndarray, method: str) -> np.ndarray:
    """``s**2 integral phi(x/s) pdf(x) dx`` over the continuous part of ``law``."""
    params = law.kernel_params()
    shape = law.shape_kernel() if params is None else None
    if shape is not None and reg.code in (CODE_MSQE, CODE_QSIN):  # Student t, generalized Gaussian
        from .heavy import expected_phi_shape

        lc, sh, mu, sig, relu = shape
        return expected_phi_shape(lc, sh, mu, sig, relu, grid, reg.code, flat)
    if params is None:  # no numba kernel: the generic piecewise Gauss-Legendre path
        from .generic import expected_phi_density

        return expected_phi_density(law, grid, reg, flat)
    lc, mu, sig, relu = params
    if reg.code in (CODE_MSQE, CODE_QSIN, CODE_SINREQ):
        return _builtin(lc, mu, sig, relu, grid, reg.code, flat, method)
    return _user(lc, mu, sig, relu, grid, reg, flat)


def _atoms_part(group, grid: Grid, reg: Regularizer, flat: np.ndarray) -> np.ndarray:
    """``w s**2 sum_i phi(x_i / s)`` over one :class:`~quanttheory.laws.atoms.Atoms` group."""
    if group.size > SMALL_ATOMS:
        from .data import reg_sums

        return reg_sums(group.values, flat, grid, reg) * group.weight
    out = np.zeros_like(flat)
    for x in np.asarray(group.values, dtype=np.float64).ravel():
        v = reg.evaluate(x / flat, grid.r_b, grid.r_t)
        with np.errstate(over="ignore", invalid="ignore"):  # s**2 = inf for s > 1e154: an atom with phi = 0 adds 0, not NaN
            out = out + group.weight * np.where(v == 0, 0.0, flat**2 * v)
    return out


_METHODS = ("auto", "fast", "cells")


def _builtin(law, mu, sig, relu, grid, code, flat, method="auto"):
    """Built-in regularizers: the bit-independent fast path (``auto``/``fast``, see
    :mod:`quanttheory.risk.fastpath`) or the per-cell reference path (``cells``)."""
    if method != "cells":
        from .fastpath import hybrid_expected_phi

        return hybrid_expected_phi(law, mu, sig, relu, grid.r_b, grid.r_t, code, flat, method=method)
    from ._kernels import cells

    ns, nodes, weights, amax = _tables()
    if code == CODE_SINREQ:
        # the periodic tails make the piece count ~ window / s: closed form for tiny s
        span = (cells.NORMAL_SPAN if law == LAW_NORMAL else cells.LAPLACE_SPAN) * sig
        with np.errstate(over="ignore"):  # span / s overflows to inf for s ~ 1e-320: "small" is right
            small = 2 * span / flat > MAX_PERIODIC_PIECES
        out = np.empty_like(flat)
        if np.any(small):
            out[small] = _sinreq_closed(law, mu, sig, relu, flat[small])
        if np.any(~small):
            out[~small] = cells.curve_builtin(law, mu, sig, relu, grid.r_b, grid.r_t, code,
                                              np.ascontiguousarray(flat[~small]), ns, nodes, weights, amax)
        return out
    return cells.curve_builtin(law, mu, sig, relu, grid.r_b, grid.r_t, code, flat, ns, nodes, weights, amax)


def _sinreq_closed(law, mu, sig, relu, s):
    """``s^2 E[sin^2(pi xi/s)] = s^2 (P - Re E[e^{i w xi}]) / 2`` with ``w = 2 pi / s``.

    Used only when ``w * scale > 2**21 pi / span`` (no cancellation: Re E[e^{iw xi}]
    is then negligible or tiny next to P).  Normal: ``cos(w mu) e^{-w^2 sig^2/2}``;
    Laplace: ``cos(w mu) / (1 + w^2 b^2)``; ReLU-Laplace and ReLU-Normal: partial
    characteristic functions over (0, inf) (elementary / Faddeeva ``w``).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        out = _sinreq_closed_raw(law, mu, sig, relu, s)
    # s ~ 1e-320: w = inf and Re E[e^{i w xi}] -> 0 (Riemann-Lebesgue); s^2 (P - 0) / 2 ~ 0
    return np.where(np.isfinite(out), out, 0.0)


def _sinreq_closed_raw(law, mu, sig, relu, s):
    from scipy import special

    w = 2 * math.pi / s
    if law == LAW_NORMAL:
        if not relu:
            P, rc = 1.0, np.cos(w * mu) * np.exp(-0.5 * (w * sig) ** 2)
        else:
            tau = mu / sig
            P = float(special.ndtr(tau))
            rc = 0.5 * math.exp(-0.5 * tau * tau) * special.wofz((w * sig - 1j * tau) / math.sqrt(2)).real
    else:
        b = sig
        den = 1 + (w * b) ** 2
        if not relu:
            P, rc = 1.0, np.cos(w * mu) / den
        elif mu <= 0:
            P = 0.5 * math.exp(mu / b)
            rc = P / den
        else:
            e = 0.5 * math.exp(-mu / b)
            P = 1 - e
            rc = (np.cos(w * mu) - e) / den
    return s * s * (P - rc) / 2


MAX_USER_PIECES = 1 << 21
"""Most quadrature pieces per scale for a user regularizer (the piece table takes
40 bytes a row, two rows per grid cell: ~170 MB at the limit).  Enough for every
scale of a 20-bit grid; a 24-bit grid near its optimum needs ~2**25."""


def _user(law, mu, sig, relu, grid, reg: Regularizer, flat):
    from ._kernels import cells

    ns, nodes, weights, amax = _tables()
    out = np.empty_like(flat)
    bad = flat[~((flat > 1.5e-154) & (flat < 1.3e154))]
    if bad.size:
        # phi is evaluated in grid units: s^2 phi(x/s) with s^2 = inf or 0 is inf * 0 (NaN)
        raise ValueError(f"scale {bad[0]:g} is outside 1.5e-154 < s < 1.3e154, where s**2 is a normal float64: "
                         "a user regularizer's s**2 phi(x/s) is not representable there; rescale the data")
    for i, s in enumerate(flat):
        npieces = cells._pieces(law, mu, sig, relu, grid.r_b, grid.r_t, reg.periodic_tails, s, np.empty((0, 5)))
        if npieces > MAX_USER_PIECES:
            raise ValueError(_user_limit_message(law, mu, sig, relu, grid, reg, s, npieces))
        table, cum = cells.user_table(law, mu, sig, relu, grid.r_b, grid.r_t, reg.periodic_tails, s, ns, amax)
        parts = []
        p0, n = 0, table.shape[0]
        while p0 < n:  # chunks of <= _CHUNK_NODES nodes: bounded memory for phi's arrays
            p1 = max(int(np.searchsorted(cum, cum[p0] + _CHUNK_NODES, side="right")) - 1, p0 + 1)
            p1 = min(p1, n)
            m = int(cum[p1] - cum[p0])
            u = np.empty(m)
            wts = np.empty(m)
            cells.user_nodes(law, mu, sig, s, table, p0, p1, ns, nodes, weights, amax, u, wts)
            parts.append(math.fsum(wts * reg.evaluate(u, grid.r_b, grid.r_t)))
            p0 = p1
        out[i] = math.fsum(parts)
    return out


def _user_limit_message(law, mu, sig, relu, grid, reg, s, npieces) -> str:
    span = (13.0 if law == LAW_NORMAL else 90.0) * sig
    lo, hi = mu - span, mu + span
    if relu:
        lo = max(lo, 0.0)
    window_cells = max(hi - lo, 0.0) / s
    if reg.periodic_tails:
        why = (f"periodic tails: one piece per cell of width s over the law's whole window, "
               f"~{window_cells:.3g} cells of width s")
    else:
        why = (f"one piece per grid cell that meets the law's window: ~"
               f"{min(window_cells, grid.r_t - grid.r_b + 1):.3g} of the {grid.r_t - grid.r_b + 1} cells "
               f"of the {grid}")
    return (f"scale {s:g}: the user regularizer {reg.name!r} needs {npieces} quadrature pieces "
            f"({why}), over the limit MAX_USER_PIECES = {MAX_USER_PIECES} (memory). Use at most ~20 bits, "
            f"a larger scale, or a built-in regularizer ('msqe', 'qsin', 'sinreq': O(1) cost per scale)")


def risk_curve(dist, scales, grid, regularizer="msqe", *, method="auto") -> np.ndarray:
    """Risk curve ``R_phi[xi](s) = f_phi s**2 E[phi(xi/s)]`` at each scale (data units squared).

    Parameters
    ----------
    dist : Law or array_like
        Any :class:`quanttheory.laws.Law` (``Normal``, ``Laplace``, ``ReLU(...)``,
        ``Empirical``, ...); an array is taken as its empirical law.
    scales : array_like
        Scale factors ``s > 0`` (any shape; the result has the same shape).
    grid : Grid or int
        The grid (an int is a signed grid of that many bits).
    regularizer : str, Regularizer or callable
        ``"msqe"`` (``f = pi**2``: ``MSQE[xi](s) = pi**2 E[(xi - Q_U(xi))**2]``),
        ``"qsin"``, ``"sinreq"`` or a user ``phi(u, r_b, r_t)``.
    method : {"auto", "fast", "cells"}
        Evaluation path for the built-ins (continuous part): ``auto`` picks the
        bit-independent fast path (:mod:`quanttheory.risk.fastpath`) wherever it is
        certified; ``cells`` forces the per-cell reference path.

    Returns
    -------
    ndarray
        ``R(s)``, relative error <= 1e-12 for the parametric laws with
        ``|loc| / scale <= 1e4`` (beyond, ~``1e-16 |loc| / scale``: docs/risk.md).
    """
    reg = get_regularizer(regularizer)
    return reg.curve_factor * expected_phi(dist, scales, grid, reg, method=method)


def mse(dist, scales, grid) -> np.ndarray:
    """Plain quantization mean squared error ``E[(xi - Q_U(xi))**2]`` (no pi**2 factor)."""
    return expected_phi(dist, scales, grid, "msqe")


def significant_local_minima(values, rel: float = 1e-9) -> list[int]:
    """Indices of local minima of a sampled curve that are deeper than ``rel * value``
    relative to the highest point on *both* sides (numerical ripples on flat parts of a
    curve, at the 1e-16 level, are not minima)."""
    v = np.asarray(values, dtype=float)
    if v.size < 3:
        return []
    left_max = np.maximum.accumulate(v)
    right_max = np.maximum.accumulate(v[::-1])[::-1]
    out = []
    for i in range(1, v.size - 1):
        if v[i] < v[i - 1] and v[i] <= v[i + 1]:
            if min(left_max[i - 1], right_max[i + 1]) - v[i] > rel * abs(v[i]):
                out.append(i)
    return out


