"""Risk curves whose cost per scale does not grow with the bit width (issue 8).

The per-cell engine (:mod:`quanttheory.risk._kernels.cells`) integrates every grid cell
that meets the law's window: ``min(2**b, window / s)`` cells per scale.  This
module evaluates the same quantity

    F(s) = s**2 E[phi(xi / s)]     (continuous part only: no curve factor, no ReLU atom)

for the built-in regularizers (MSQE, QSin, SinReQ) and the Normal / Laplace laws
(optionally ReLU-restricted) in O(1) operations per scale:

* Normal: Fourier series of the periodic error integrated by parts at the two
  ends of the grid range (Hermite functions, eta(2k+2) weights) with a rigorous
  remainder bound used to pick the order; clipping tails from the Mills-ratio
  continued fraction.
* Laplace: geometric series over the cells on each side of ``loc`` and the
  elementary Fourier mode.

Formulas and their checks are in ``docs/fastpath.md``.  A scale is *handled*
only where the method is provably accurate (``s`` small against the law's scale:
``2 pi sig / s >= ~6..9`` for the Normal, ``>= 2`` for the Laplace); there the
per-cell path has few cells anyway, and :func:`hybrid_expected_phi` uses it.

Functions
---------
fast_expected_phi(law, mu, sig, relu, r_b, r_t, code, scales) -> FastResult
    values (NaN where not handled) and the boolean mask ``handled``.
fast_is_better(law, mu, sig, relu, r_b, r_t, code, scales) -> bool ndarray
    handled and the per-cell path would visit >= ``MIN_CELLS`` cells (0: every handled scale).
hybrid_expected_phi(law, mu, sig, relu, r_b, r_t, code, scales) -> ndarray
    automatic selection; the remaining scales (s comparable to the law's scale) get
    the per-cell quadrature of the cells with the clipping tails in closed form
    (drop-in for ``risk._builtin``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .._validate import check_finite_real, check_positive, check_scales

MIN_CELLS = 0
"""The fast path is chosen when the per-cell path would integrate at least this
many grid cells.  0: measured, the fast path wins wherever it is handled, even on
a 1-bit grid (0.1-0.4 us per scale against 15-40 us for the per-cell path, whose
two tail pieces are subdivided on the density's scale; SinReQ 270-580 us)."""

_SPAN = {0: 13.0, 1: 90.0}  # the per-cell window half-widths (cells.NORMAL_SPAN / LAPLACE_SPAN)


class FastResult(NamedTuple):
    """``values[i] = s_i^2 E[phi(xi/s_i)]`` where ``handled[i]``, NaN elsewhere."""

    values: np.ndarray
    handled: np.ndarray


@lru_cache(maxsize=1)
def _eta():
    from ._kernels.fast import eta_table

    return eta_table()


@lru_cache(maxsize=1)
def _gauss():
    from ._kernels.cells import gauss_tables

    return gauss_tables()


def _check(law, mu, sig, relu, r_b, r_t, code):
    if law not in (0, 1) or isinstance(law, bool):
        raise ValueError(f"law must be 0 (Normal) or 1 (Laplace), got {law!r}")
    mu = check_finite_real(mu, "mu (loc)")
    sig = check_positive(sig, "sig (scale of the law)")
    if not isinstance(relu, (bool, np.bool_)):
        raise TypeError(f"relu must be a bool, got {type(relu).__name__}")
    for name, v in (("r_b", r_b), ("r_t", r_t), ("code", code)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int, got {type(v).__name__}")
    r_b, r_t, code = int(r_b), int(r_t), int(code)
    if not (r_b <= 0 <= r_t) or r_t - r_b < 1 or r_t - r_b >= 2**24:
        raise ValueError(f"grid range must satisfy r_b <= 0 <= r_t, 1 <= r_t - r_b < 2**24; got [{r_b}, {r_t}]")
    if code not in (0, 1, 2):
        raise ValueError(f"code must be 0 (MSQE), 1 (QSin) or 2 (SinReQ) for the fast path, got {code}")
    return int(law), mu, sig, bool(relu), r_b, r_t, code


def fast_expected_phi(law, mu, sig, relu, r_b, r_t, code, scales) -> FastResult:
    """``s**2 E[phi(xi/s)]`` at each scale by the O(1)-per-scale formulas.

    Same quantity as ``quanttheory.risk._kernels.cells.curve_builtin`` (data units
    squared, no curve factor, ReLU atom excluded).  ``law``: 0 Normal(mu, sig),
    1 Laplace(mu, sig) (density ``exp(-|x-mu|/sig)/(2 sig)``); ``relu`` restricts
    the density to ``(0, inf)``; ``code``: 0 MSQE, 1 QSin, 2 SinReQ; grid
    ``[r_b, r_t]``.  Returns a :class:`FastResult`; ``handled`` is False (value NaN)
    where the fast formulas are not certified accurate (large ``s / sig``).
    """
    law, mu, sig, relu, r_b, r_t, code = _check(law, mu, sig, relu, r_b, r_t, code)
    s = check_scales(scales)
    flat = np.ascontiguousarray(s.ravel(), dtype=np.float64)
    from ._kernels.fast import fast_curve

    out = np.empty_like(flat)
    handled = np.zeros(flat.shape, dtype=np.bool_)
    fast_curve(law, mu, sig, relu, r_b, r_t, code, flat, _eta(), out, handled)
    return FastResult(out.reshape(s.shape), handled.reshape(s.shape))


def percell_cells(law, mu, sig, relu, r_b, r_t, code, scales) -> np.ndarray:
    """Estimated number of grid cells the per-cell path integrates at each scale."""
    law, mu, sig, relu, r_b, r_t, code = _check(law, mu, sig, relu, r_b, r_t, code)
    s = check_scales(scales)
    lo, hi = mu - _SPAN[law] * sig, mu + _SPAN[law] * sig
    if relu:
        lo = max(lo, 0.0)
    width = max(hi - lo, 0.0)
    with np.errstate(over="ignore"):  # width / s overflows to inf for s ~ 1e-320: inf cells is right
        n = np.ceil(width / s) + 1
    if code != 2:
        n = np.minimum(n, r_t - r_b + 1)
    return n


def fast_is_better(law, mu, sig, relu, r_b, r_t, code, scales) -> np.ndarray:
    """Boolean mask: the fast path is certified *and* cheaper than the per-cell path.

    Rule: ``handled`` and ``percell_cells >= MIN_CELLS``.  The fast path costs a
    bounded number of operations per scale, 0.1-1 us, less than the per-cell path's
    two tail pieces alone, so ``MIN_CELLS = 0``: every handled scale.
    """
    res = fast_expected_phi(law, mu, sig, relu, r_b, r_t, code, scales)
    return res.handled & (percell_cells(law, mu, sig, relu, r_b, r_t, code, scales) >= MIN_CELLS)


def hybrid_expected_phi(law, mu, sig, relu, r_b, r_t, code, scales, *, method="auto") -> np.ndarray:
    """``s**2 E[phi(xi/s)]`` choosing per scale between the fast path and the per-cell path.

    ``method``: ``"auto"`` (fast where :func:`fast_is_better`), ``"fast"`` (fast
    wherever handled) or ``"cells"`` (``cells.curve_builtin`` only, the reference).
    With "auto"/"fast" the other scales use the per-cell path ``cells.curve_builtin``.  Drop-in replacement for ``quanttheory.risk.curve._builtin``'s kernel call.
    """
    if method not in ("auto", "fast", "cells"):
        raise ValueError(f"method must be 'auto', 'fast' or 'cells', got {method!r}")
    law, mu, sig, relu, r_b, r_t, code = _check(law, mu, sig, relu, r_b, r_t, code)
    s = check_scales(scales)
    flat = np.ascontiguousarray(s.ravel(), dtype=np.float64)
    out = np.empty_like(flat)
    if method == "cells":
        use = np.zeros(flat.shape, dtype=bool)
    else:
        res = fast_expected_phi(law, mu, sig, relu, r_b, r_t, code, flat)
        use = res.handled.copy()
        if method == "auto":
            use &= percell_cells(law, mu, sig, relu, r_b, r_t, code, flat) >= MIN_CELLS
        out[use] = res.values[use]
    rest = ~use
    if np.any(rest):
        ns, nodes, weights, amax = _gauss()
        sub = np.ascontiguousarray(flat[rest])
        from ._kernels import cells

        # the per-cell path (closed-form tails and cell recurrences where they apply)
        out[rest] = cells.curve_builtin(law, mu, sig, relu, r_b, r_t, code, sub, ns, nodes, weights, amax)
    return out.reshape(s.shape)
