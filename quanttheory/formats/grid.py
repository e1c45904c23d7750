"""Uniform quantization grid, quantizer and pointwise errors (grid units).

A ``b``-bit grid is the integer range ``[r_b, r_t]``:

* signed:   ``r_b = -2**(b-1)``, ``r_t = 2**(b-1) - 1``
* unsigned: ``r_b = 0``,          ``r_t = 2**b - 1``

With a scale factor ``s > 0`` (same units as the data) the quantizer is
``Q_U(x) = s * clip(round(x / s), r_b, r_t)``.  Rounding is numpy's
round-half-to-even; ties have probability zero for continuous laws.

The pointwise error functions below take ``u = x / s`` in *grid units* and are
dimensionless; multiply by ``s**2`` to get data units squared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_float_array, check_scale

MAX_BITS = 24
"""Largest bit width accepted.  Beyond 24 bits grid integers near ``r_t`` lose
float64 resolution in ``u - round(u)`` (``2**24 * eps ~ 4e-9``) and the 1e-12
accuracy targets of the package could not be met."""


@dataclass(frozen=True)
class Grid:
    """An immutable ``bits``-bit uniform integer grid ``[r_b, r_t]``.

    Parameters
    ----------
    bits : int
        Bit width, ``1 <= bits <= 24``.
    signed : bool
        Signed (two's complement range) or unsigned grid.
    """

    bits: int
    signed: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.bits, bool) or not isinstance(self.bits, (int, np.integer)):
            raise TypeError(f"bits must be an integer, got {type(self.bits).__name__}")
        if not 1 <= int(self.bits) <= MAX_BITS:
            raise ValueError(
                f"bits must be in 1..{MAX_BITS} (float64 cannot resolve finer grids to the "
                f"package's accuracy), got {self.bits}"
            )
        if not isinstance(self.signed, (bool, np.bool_)):
            # bool('no') is True: a string or number here is a mistake, not a choice
            raise TypeError(f"signed must be True or False, got {self.signed!r}")
        object.__setattr__(self, "bits", int(self.bits))
        object.__setattr__(self, "signed", bool(self.signed))

    @property
    def r_b(self) -> int:
        """Lowest grid integer."""
        return -(2 ** (self.bits - 1)) if self.signed else 0

    @property
    def r_t(self) -> int:
        """Highest grid integer."""
        return 2 ** (self.bits - 1) - 1 if self.signed else 2**self.bits - 1

    @property
    def levels(self) -> int:
        """Number of grid points, ``2**bits``."""
        return 2**self.bits

    def __str__(self) -> str:
        kind = "signed" if self.signed else "unsigned"
        return f"{self.bits}-bit {kind} grid [{self.r_b}, {self.r_t}]"


def as_grid(grid: "Grid | int", signed: bool | None = None) -> Grid:
    """Return ``grid`` as a :class:`Grid`; an int is taken as the bit width."""
    if signed is not None and not isinstance(signed, (bool, np.bool_)):
        raise TypeError(f"signed must be True, False or None, got {signed!r}")
    if isinstance(grid, Grid):
        if signed is not None and bool(signed) != grid.signed:
            raise ValueError("signed= contradicts the Grid passed")
        return grid
    if isinstance(grid, (int, np.integer)) and not isinstance(grid, bool):
        return Grid(int(grid), True if signed is None else signed)
    raise TypeError(f"grid must be a Grid or an int bit width, got {type(grid).__name__}")


def quantize_index(u, grid: Grid) -> np.ndarray:
    """Grid integer ``clip(round(u), r_b, r_t)`` of ``u`` in grid units (round half to even)."""
    u = as_float_array(u, "u")
    return np.clip(np.rint(u), grid.r_b, grid.r_t)


def quantize(x, scale: float, grid: Grid) -> np.ndarray:
    """Uniform quantizer ``Q_U(x) = s * clip(round(x / s), r_b, r_t)`` (units of ``x``).

    Rounding is numpy's round-half-to-even.
    """
    grid = as_grid(grid)
    s = check_scale(scale)
    x = as_float_array(x, "x")
    return s * quantize_index(x / s, grid)


def msqe(u, grid: Grid) -> np.ndarray:
    """Pointwise squared quantization error in grid units,
    ``MSQE(u) = (u - clip(round(u), r_b, r_t))**2``."""
    grid = as_grid(grid)
    u = as_float_array(u, "u")
    return (u - quantize_index(u, grid)) ** 2


def qsin(u, grid: Grid) -> np.ndarray:
    """QSin regularizer in grid units: ``sin(pi u)**2`` on ``[r_b, r_t]``,
    ``pi**2 (u - r_b)**2`` below ``r_b`` and ``pi**2 (u - r_t)**2`` above ``r_t``."""
    grid = as_grid(grid)
    u = as_float_array(u, "u")
    inner = np.sin(np.pi * (u - np.rint(u))) ** 2  # periodic: reduce first for accuracy
    lo = np.pi**2 * (u - grid.r_b) ** 2
    hi = np.pi**2 * (u - grid.r_t) ** 2
    return np.where(u < grid.r_b, lo, np.where(u > grid.r_t, hi, inner))


def sinreq(u, grid: Grid | None = None) -> np.ndarray:
    """SinReQ regularizer ``sin(pi u)**2`` on the whole real line (no quadratic tails)."""
    u = as_float_array(u, "u")
    return np.sin(np.pi * (u - np.rint(u))) ** 2


def _residual(x: np.ndarray, s: float, k: np.ndarray) -> np.ndarray:
    """``x - s k`` with one rounding: ``s k = p + e`` exactly (Dekker's split), then ``(x - p) - e``
    (``x - p`` is exact when ``p`` is within a factor 2 of ``x``, Sterbenz).  Plain ``x - s*k`` loses
    ``log10(|x| / |x - s k|)`` digits to the rounding of the product; where the split would
    overflow (``|s|``, ``|k|`` above ~1e300) the plain form is used."""
    p = s * k
    with np.errstate(over="ignore", invalid="ignore"):
        f = 134217729.0  # 2^27 + 1
        t = f * s
        sh = t - (t - s)
        sl = s - sh
        t = f * k
        kh = t - (t - k)
        kl = k - kh
        e = ((sh * kh - p) + sh * kl + sl * kh) + sl * kl
        d = (x - p) - e
    bad = ~np.isfinite(d)
    if np.any(bad):
        d = np.where(bad, x - p, d)
    return d


def mean_msqe(x, scale: float, grid: Grid) -> float:
    """Vector MSQE in data units: ``MSQE(x, s) = s**2 * mean(MSQE(x / s))``
    ``= mean (x - s k(x/s))**2`` with ``k`` the clipped rounded index; each residual is computed
    with one rounding (:func:`_residual`), so a tiny MSE keeps its relative accuracy."""
    grid = as_grid(grid)
    s = check_scale(scale)
    x = as_float_array(x, "x")
    return float(np.mean(_residual(x, s, quantize_index(x / s, grid).astype(np.float64)) ** 2))
