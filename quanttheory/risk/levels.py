"""Exact risk curves of any number format (minifloats, NF4, narrow INT, any level set).

For a format with levels ``L`` (grid units, sorted) and a scale ``s > 0`` the quantizer
is ``Q_s(x) = s * (level nearest to x / s)`` (saturating at the extreme levels), and

    MSQE[xi](s) = pi**2 E[(xi - Q_s(xi))**2]          (data units squared)

the paper's curve (``pi**2`` factor, as :func:`quanttheory.risk.risk_curve`);
:func:`format_mse` is the plain ``E[(xi - Q_s(xi))**2]``.  The signal-to-quantization
noise ratio is ``SQNR = 10 log10(E[xi**2] / E[(xi - Q_s(xi))**2])`` dB.

Method (``method="auto"``): the clipping tails in closed form, and the range
``[L_0 s, L_{K-1} s]`` split into *runs* of equally spaced levels (a minifloat binade
plus the first level of the next binade; an integer grid is one run; NF4 has 15
one-interval runs).  On a run the error is a periodic sawtooth square whose integral
against the Normal / Laplace density has O(1) closed forms (the integer grid's fast
path, :mod:`quanttheory.risk._kernels.fast`, applied to the run's interior): a 1000-point
E4M3 curve costs ~30 runs per scale, whatever the number of levels.  Below ``c <= 1`` law
scale the binades of a minifloat are self-similar (binade ``[c 2^-k, c 2^(1-k)]`` is binade
``[c/2, c]`` shrunk by ``2^(1-k)``): all of them, with the subnormals, are one Taylor sum
``c^3 sum_j p_j c^j W_k[j]`` against a moment table of the normalised region (``_deep_tables``;
rigorous remainder bound), and for a law centred at 0 on a symmetric format only the positive
side is computed (doubled): a 1000-point E4M3 or E5M2 curve costs ~1-4 runs + the sum per
scale, 1.1-2x an 8-bit integer curve (``docs/format_risk.md``).  Runs where the
closed forms are not certified fall back to per-cell Gauss-Legendre with error-bounded
orders (:mod:`quanttheory.risk._kernels.cells`).  ``method="cells"`` integrates every cell by
Gauss-Legendre (the reference path).  Both agree with an mpmath reference (partial
moments per cell, 50 digits) to <= 1e-12 relative; see ``docs/format_risk.md``.

The ReLU laws' atom at 0 contributes ``P(xi <= 0) (s d0)**2`` with ``d0`` the distance
from 0 to the nearest level (0 for every preset: they all contain 0).

QSin and SinReQ are defined on integer grids only: for an integer-grid format they are
delegated to the integer engine; on any other format a ``ValueError`` says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from .._validate import check_scales
from ..laws.base import Law

_METHODS = ("auto", "cells")


@dataclass(frozen=True)
class _Prepared:
    levels: np.ndarray
    run_i0: np.ndarray
    run_i1: np.ndarray
    run_h: np.ndarray
    order: np.ndarray  # runs by decreasing spacing (largest contributions first)
    d0: float  # distance from 0 to the nearest level (grid units)
    deep_d: np.ndarray  # deep_d[k], k >= 1: boundaries of the minifloat's deep region (grid units); size 1: none
    deep_w: np.ndarray  # deep_w[k, j]: moment table of the deep region [0, deep_d[k]] normalised to 1
    neg: bool  # the deep region is mirrored on the negative side
    sym: bool  # the level set is symmetric about 0


def _runs(levels: np.ndarray):
    """Maximal runs of equal consecutive spacing: (first index, last index, spacing)."""
    d = np.diff(levels)
    starts = [0]
    for j in range(1, d.size):
        if d[j] != d[j - 1]:
            starts.append(j)
    i0 = np.array(starts, dtype=np.int64)
    i1 = np.append(i0[1:], d.size).astype(np.int64)
    return i0, i1, d[i0].astype(np.float64)


@lru_cache(maxsize=64)
def _prepare_cached(fmt) -> _Prepared:
    return _prepare_levels(np.asarray(fmt.levels, dtype=np.float64))


def _prepare_levels(levels: np.ndarray) -> _Prepared:
    lv = np.ascontiguousarray(levels, dtype=np.float64)
    if lv.ndim != 1 or lv.size < 2 or not np.all(np.isfinite(lv)) or not np.all(np.diff(lv) > 0):
        raise ValueError("a format needs >= 2 finite, strictly increasing levels (grid units)")
    i0, i1, h = _runs(lv)
    lv.setflags(write=False)
    order = np.argsort(-h, kind="stable").astype(np.int64)
    deep_d, n_per, neg = _deep_structure(lv)
    deep_w = _deep_tables(n_per, deep_d.size - 1)
    sym = bool(np.array_equal(lv, -lv[::-1]))
    return _Prepared(lv, i0, i1, h, order, float(np.min(np.abs(lv))), deep_d, deep_w, neg, sym)


DEEP_JMAX = 40     # Taylor terms available for the deep region (the kernel stops far earlier: ~10-25)
DEEP_NMAX = 64     # largest number of levels per binade (2^6) for which the table is built


def _deep_structure(lv: np.ndarray):
    """Deep region of a minifloat-like level set: ``(deep_d, N, neg)``.

    With ``h0`` the smallest positive level and ``2N`` the number of leading intervals of
    spacing ``h0`` from 0 (subnormals and the first normal binade), ``deep_d[k] = 2^k N h0``
    (k = 1..K) are the largest boundaries such that the levels in ``[0, deep_d[k]]`` are exactly
    ``{i h0: i <= 2N}`` and the binades ``deep_d[k'] + i 2^k' h0`` (``i = 1..N``, ``k' < k``),
    compared exactly (dyadic values).  ``neg``: the negative levels of ``[-deep_d[K], 0]`` mirror
    them (else, when negative levels exist there, no deep region).  ``deep_d = [nan]`` when
    there is no such structure (integer grids have one run; NF4 and user sets are irregular).
    """
    none = (np.array([math.nan]), 0, False)
    if not np.any(lv == 0.0):
        return none
    pos = lv[lv >= 0.0]
    if pos.size < 3:
        return none
    h0 = float(pos[1])
    d = np.diff(pos)
    L = int(np.argmax(d != h0)) if np.any(d != h0) else d.size
    if L < 2 or L % 2 or L // 2 > DEEP_NMAX:
        return none
    N = L // 2
    if not np.array_equal(pos[:L + 1], h0 * np.arange(L + 1)):
        return none
    D = [math.nan, 2.0 * N * h0]
    j = L  # index of D[-1] in pos
    while j + N < pos.size:
        k = len(D) - 1
        step = 2.0 ** k * h0
        want = D[-1] + step * np.arange(1, N + 1)
        if not np.array_equal(pos[j + 1:j + N + 1], want):
            break
        D.append(float(want[-1]))
        j += N
    negl = -lv[lv < 0.0][::-1]
    neg = negl.size > 0
    if neg:
        # largest K whose region is mirrored
        while len(D) > 1:
            m = negl[negl <= D[-1]]
            if np.array_equal(m, pos[(pos > 0.0) & (pos <= D[-1])]):
                break
            D.pop()
        if len(D) < 2:
            return none
    return np.array(D, dtype=np.float64), N, neg


def _cell_moments(N: int, jmax: int):
    """``S_j = int_0^N saw^2(u) u^j du`` and ``M_j = int_N^{2N} saw^2(u) u^j du`` (saw = distance
    to the nearest integer), j = 0..jmax.  Per cell ``[i, i+1]``:
    ``sum_k C(j,k) i^(j-k) g_k``, ``g_k = 2^-(k+3)/(k+3) + int_{1/2}^1 (1-w)^2 w^k dw > 0`` (exact
    rationals), all terms positive: float terms summed by ``math.fsum`` (a few ulp)."""
    g = []
    for k in range(jmax + 1):
        half = Fraction(1, 2)
        left = half ** (k + 3) / (k + 3)
        right = sum((Fraction(1, k + 1) - half ** (k + 1) / (k + 1),
                     -2 * (Fraction(1, k + 2) - half ** (k + 2) / (k + 2)),
                     Fraction(1, k + 3) - half ** (k + 3) / (k + 3)))
        g.append(float(left + right))
    S = np.empty(jmax + 1)
    M = np.empty(jmax + 1)
    for j in range(jmax + 1):
        cells = []
        for i in range(2 * N):
            cells.append(math.fsum(float(math.comb(j, k) * i ** (j - k)) * g[k] for k in range(j + 1)))
        S[j] = math.fsum(cells[:N])
        M[j] = math.fsum(cells[N:])
    return S, M


@lru_cache(maxsize=16)
def _deep_w_rows(N: int, K: int) -> np.ndarray:
    jn = DEEP_JMAX + 2
    W = np.full((K + 1, jn), math.nan)
    if K < 1:
        return W
    S, M = _cell_moments(N, jn - 1)
    for j in range(jn):
        q = 2.0 ** -(j + 3)
        for k in range(1, K + 1):
            geo = q * (1.0 - q ** k) / (1.0 - q)  # sum_{i=1}^{k} 2^{-i(j+3)}
            W[k, j] = (M[j] * geo + S[j] * q ** k) / float(N) ** (j + 3)
    W.setflags(write=False)
    return W


def _deep_tables(N: int, K: int) -> np.ndarray:
    """``W[k, j] = int_0^1 E_k(u) u^j du``: the deep region ``[0, deep_d[k]]`` normalised to
    ``[0, 1]`` (subnormal run of N cells of spacing ``2^-k/N``, then k binades of N cells, spacing
    ``2^-i/N`` for the binade ``[2^-i, 2^(1-i)]``), ``E_k`` its squared error:
    ``N^-(j+3) [M_j sum_{i=1}^{k} 2^{-i(j+3)} + S_j 2^{-k(j+3)}]`` (:func:`_cell_moments`)."""
    if K < 1:
        return np.full((1, DEEP_JMAX + 2), math.nan)
    return _deep_w_rows(int(N), int(K))


@dataclass(frozen=True)
class UserLevels:
    """A user level set given as an array (grid units): what the curve engine needs of a
    format (``name``, ``levels``, ``level_max``, ``is_integer_grid``, ``r_b``, ``r_t``),
    validated here and independent of the preset machinery."""

    key: tuple

    @property
    def levels(self) -> np.ndarray:
        return np.array(self.key, dtype=np.float64)

    @property
    def name(self) -> str:
        return f"levels[{len(self.key)}]"

    @property
    def level_max(self) -> float:
        return float(max(abs(self.key[0]), abs(self.key[-1])))

    @property
    def is_integer_grid(self) -> bool:
        lv = self.levels
        return bool(np.all(lv == np.round(lv)) and np.all(np.diff(lv) == 1.0))

    @property
    def r_b(self) -> int:
        return int(self.key[0])

    @property
    def r_t(self) -> int:
        return int(self.key[-1])


def as_levels_format(fmt):
    """The format of ``fmt``: a :class:`~quanttheory.formats.Format`, preset name, Grid or int bit
    width (via :func:`quanttheory.formats.as_format`), or a 1-D array of levels in grid units
    (a set: sorted here; NaN/inf or duplicates raise ``ValueError``)."""
    from ..formats import as_format

    if isinstance(fmt, UserLevels):
        return fmt
    if isinstance(fmt, (np.ndarray, list, tuple)):
        arr = np.asarray(fmt)
        if arr.dtype.kind not in "fiu" or arr.ndim != 1:
            raise TypeError(f"levels must be a 1-D array of real numbers, got dtype {arr.dtype}, shape {arr.shape}")
        lv = np.sort(arr.astype(np.float64))
        if lv.size < 2 or not np.all(np.isfinite(lv)):
            raise ValueError("a level set needs at least 2 finite levels (grid units); remove NaN/inf")
        if np.any(np.diff(lv) == 0):
            raise ValueError("the levels contain duplicates; pass each level once")
        return UserLevels(tuple(float(x) for x in lv))
    return as_format(fmt)


def _prepare(fmt) -> _Prepared:
    return _prepare_cached(fmt)


def _check_dist(dist) -> Law:
    if not isinstance(dist, Law):
        raise TypeError(
            f"dist must be a quanttheory law (Normal, Laplace, ReLU), got {type(dist).__name__}; "
            "for data arrays use the empirical/data functions")
    atoms_off_zero = any(np.any(np.asarray(a.values) != 0.0) for a in dist.atoms())
    if dist.kernel_params() is None or atoms_off_zero:
        raise ValueError(
            f"format risk curves need a law with numba kernels (Normal, Laplace or ReLU of either), got "
            f"{type(dist).__name__}")
    return dist


@lru_cache(maxsize=1)
def _tables():
    from ._kernels.cells import gauss_tables

    return gauss_tables()


@lru_cache(maxsize=1)
def _eta():
    from ._kernels.levels import eta_table

    return eta_table()


def _mse_flat(dist, prep: _Prepared, flat: np.ndarray, method: str) -> np.ndarray:
    from ._kernels import levels as rk

    law, mu, sig, relu = dist.kernel_params()
    ns, nodes, weights, amax = _tables()
    if method == "cells":
        out = rk.curve_cells(law, mu, sig, relu, prep.levels, flat, 0, ns, nodes, weights, amax)
    else:
        out = np.empty_like(flat)
        nfast = np.empty(flat.shape, dtype=np.int64)
        rk.curve_runs(law, mu, sig, relu, prep.levels, prep.run_i0, prep.run_i1, prep.run_h, prep.order, flat, _eta(),
                      ns, nodes, weights, amax, prep.deep_d, prep.deep_w, prep.neg, prep.sym, out, nfast)
    p0 = dist.point_mass
    if p0 > 0.0 and prep.d0 > 0.0:
        out = out + p0 * (prep.d0 * flat) ** 2
    return out


def format_mse(dist, scales, fmt, *, method: str = "auto") -> np.ndarray:
    """Plain quantization MSE ``E[(xi - Q_s(xi))**2]`` (data units squared) at each scale.

    ``fmt``: a :class:`~quanttheory.formats.Format`, a preset name (``"e4m3"``, ``"nf4"``,
    ``"int4n"`` ...), a :class:`~quanttheory.grid.Grid`, an int bit width, or a sorted
    array of levels (grid units).  ``method``: ``"auto"`` (closed forms per run, per-cell
    fallback) or ``"cells"`` (per-cell Gauss-Legendre, the reference).
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    dist = _check_dist(dist)
    f = as_levels_format(fmt)
    s = check_scales(scales)
    flat = np.ascontiguousarray(s.ravel(), dtype=np.float64)
    return _mse_flat(dist, _prepare(f), flat, method).reshape(s.shape)


def format_risk_curve(dist, scales, fmt, regularizer: str = "msqe", *, method: str = "auto") -> np.ndarray:
    """Risk curve ``MSQE[xi](s) = pi**2 E[(xi - Q_s(xi))**2]`` of a number format (data units squared).

    Parameters
    ----------
    dist : Distribution
        ``Normal``, ``Laplace`` or ``ReLU(...)`` of either (any loc/scale).
    scales : array_like
        Scale factors ``s > 0`` (any shape; the result has the same shape).
    fmt : Format, str, Grid, int or array
        The number format (see :func:`format_mse`).
    regularizer : str
        ``"msqe"``.  ``"qsin"`` / ``"sinreq"`` only for integer-grid formats (they are
        defined on integer grids; delegated to :func:`quanttheory.risk.risk_curve`'s engine).
    method : {"auto", "cells"}

    Returns
    -------
    ndarray
        Relative error <= 1e-12 (tested against mpmath at 50 digits).
    """
    f = as_levels_format(fmt)
    reg = str(regularizer).lower() if isinstance(regularizer, str) else regularizer
    if reg != "msqe":
        return _integer_regularizer(dist, scales, f, regularizer, method)
    return math.pi ** 2 * format_mse(dist, scales, f, method=method)


def _integer_regularizer(dist, scales, f, regularizer, method):
    from ..formats.regularizers import get_regularizer

    reg = get_regularizer(regularizer)
    if not f.is_integer_grid:
        raise ValueError(
            f"the {reg.name!r} regularizer is defined on integer grids (sin^2(pi u) vanishes on the integers); "
            f"format {f.name!r} has non-integer levels: use regularizer='msqe' (any format), or an integer "
            "format such as 'int8' / 'int4n'")
    r_b, r_t = int(f.r_b), int(f.r_t)
    if not r_b <= 0 <= r_t:
        raise ValueError(f"the {reg.name!r} regularizer needs an integer grid containing 0, got [{r_b}, {r_t}]")
    dist = _check_dist(dist)
    s = check_scales(scales)
    flat = np.ascontiguousarray(s.ravel(), dtype=np.float64)
    law, mu, sig, relu = dist.kernel_params()
    from .fastpath import hybrid_expected_phi

    meth = "cells" if method == "cells" else "auto"
    out = hybrid_expected_phi(law, mu, sig, relu, r_b, r_t, reg.code, flat, method=meth)
    # the atom at 0 is on the grid: phi(0) = 0 for the built-ins
    return (reg.curve_factor * out).reshape(s.shape)


def format_sqnr_db(dist, mse) -> np.ndarray:
    """``SQNR = 10 log10(E[xi**2] / mse)`` in dB (``mse`` without the pi**2 factor)."""
    m2 = _check_dist(dist).second_moment()
    return 10.0 * np.log10(m2 / np.asarray(mse, dtype=float))


def format_dmse(dist, scales, fmt) -> np.ndarray:
    """Exact derivative ``d/ds E[(xi - Q_s(xi))**2] = -2 E[l(xi) (xi - s l(xi))]`` (per-cell
    Gauss-Legendre; ``l(x)`` the level of x; no boundary terms: the error is continuous)."""
    dist = _check_dist(dist)
    f = as_levels_format(fmt)
    prep = _prepare(f)
    s = check_scales(scales)
    flat = np.ascontiguousarray(s.ravel(), dtype=np.float64)
    from ._kernels import levels as rk

    law, mu, sig, relu = dist.kernel_params()
    ns, nodes, weights, amax = _tables()
    out = rk.curve_cells(law, mu, sig, relu, prep.levels, flat, 3, ns, nodes, weights, amax)
    p0 = dist.point_mass
    if p0 > 0.0 and prep.d0 > 0.0:
        out = out + 2.0 * p0 * prep.d0 ** 2 * flat
    return out.reshape(s.shape)
