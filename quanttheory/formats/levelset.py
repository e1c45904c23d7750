"""Number formats as level sets: the :class:`Format` type (grid units).

A *format* is a finite, strictly increasing set of real levels
``L = (l_0 < l_1 < ... < l_{K-1})`` in **grid units**.  With a scale factor
``s > 0`` (data units) the quantizer is

    Q_s(x) = s * q(x / s),   q(u) = the level nearest to u,

with **saturation** (``u`` beyond the extreme levels maps to them, which is
just "nearest level") and **ties to the even code** at a midpoint
``(l_j + l_{j+1}) / 2``:

* integer grids: the even integer (numpy's round-half-to-even);
* minifloats: the level whose mantissa code is even (IEEE / OCP rule; the
  magnitude code of the k-th non-negative level is k, so "even code" means
  even position among the non-negative magnitudes, mirrored for negatives);
* NF4 and user level sets: by definition, the level with the **even index**
  ``j`` in the sorted array ``levels``.

Decision boundaries are the float64 midpoints ``fl((l_j + l_{j+1}) / 2)``
(exact for integer grids, minifloats and NF4, whose levels are float32
values).  A zero result carries the sign of the input when the input lies in
the zero level's rounding cell (mirrored about 0 when 0 is the lowest level):
``-0.0`` for ``-0.3`` as numpy's ``rint`` and the ml_dtypes casts give, ``+0.0``
for ``-2.5`` on an unsigned grid as :func:`quanttheory.formats.grid.quantize` gives.

Constructors: :func:`integer`, :func:`quanttheory.formats.minifloat.minifloat`,
:func:`levelset`; presets by name with :func:`get_format`; :func:`as_format`
converts a Format, a :class:`~quanttheory.formats.grid.Grid`, a name or an int (signed
grid of that many bits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_LEVELS = 1 << 17
"""Largest level set accepted (fp16/bf16 have 2**16 - 2**11 + 1 finite values)."""

MAX_INT_BITS = 24  # as quanttheory.formats.grid.MAX_BITS


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Format:
    """A number format: a named, strictly increasing, finite level set in grid units.

    Prefer the constructors (:func:`integer`, :func:`minifloat`, :func:`levelset`,
    :func:`get_format`); ``Format(name, levels)`` validates like :func:`levelset`
    (ties to the level of even index, no zero required).

    Attributes
    ----------
    name : str
        Canonical name (``'e4m3'``, ``'int8'``, ``'nf4'``, ...).
    levels : ndarray
        1-D float64, strictly increasing, finite, read-only (grid units).
    even : ndarray of bool
        ``even[j]``: level ``j`` has an even code (wins ties), read-only.
    kind : str
        ``'integer'``, ``'minifloat'`` or ``'levelset'``.
    binades : tuple of (start, step, count)
        Uniform runs partitioning ``levels`` in order: run ``r`` holds the levels
        ``start + i * step``, ``i = 0..count-1`` (``step = 0`` when ``count == 1``).
        Minifloats: one run per binade and sign (the subnormals with zero form the
        first non-negative run); integer grids: a single run; level sets: maximal
        runs of equal spacing (greedy, left to right).
    params : dict
        Constructor parameters (exponent_bits, mantissa_bits, bias, bits, ...).
    """

    name: str
    levels: np.ndarray
    even: np.ndarray | None = None
    kind: str = "levelset"
    binades: tuple = ()
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError("Format name must be a non-empty string")
        lv = _check_levels(self.levels, self.name)
        object.__setattr__(self, "levels", _readonly(lv))
        if self.even is None:
            ev = (np.arange(lv.size) % 2) == 0
        else:
            ev = np.asarray(self.even, dtype=bool).ravel()
            if ev.size != lv.size:
                raise ValueError(f"even has {ev.size} entries, levels has {lv.size}")
        object.__setattr__(self, "even", _readonly(ev.copy()))
        if self.kind not in ("integer", "minifloat", "levelset"):
            raise ValueError(f"kind must be 'integer', 'minifloat' or 'levelset', got {self.kind!r}")
        runs = tuple(self.binades) if self.binades else _uniform_runs(lv)
        runs = tuple((float(a), float(b) if int(c) > 1 else 0.0, int(c)) for a, b, c in runs)
        rebuilt = np.concatenate([a + b * np.arange(c) for a, b, c in runs]) if runs else np.empty(0)
        if rebuilt.shape != lv.shape or not np.array_equal(rebuilt, lv):
            raise ValueError("binades do not partition the levels in order")
        object.__setattr__(self, "binades", runs)
        object.__setattr__(self, "params", dict(self.params))
        mid = 0.5 * (lv[:-1] + lv[1:])
        object.__setattr__(self, "_midpoints", _readonly(mid))

    # ------------------------------------------------------------------ basic properties
    @property
    def lo(self) -> float:
        """Smallest level ``levels[0]``."""
        return float(self.levels[0])

    @property
    def hi(self) -> float:
        """Largest level ``levels[-1]``."""
        return float(self.levels[-1])

    @property
    def level_max(self) -> float:
        """Largest magnitude ``max(|lo|, |hi|)`` (the divisor of the amax rule ``s = amax / level_max``)."""
        return max(abs(self.lo), abs(self.hi))

    @property
    def size(self) -> int:
        """Number of levels ``K``."""
        return int(self.levels.size)

    @property
    def midpoints(self) -> np.ndarray:
        """Decision boundaries ``(l_j + l_{j+1}) / 2``, ``K - 1`` values (read-only)."""
        return self._midpoints  # type: ignore[attr-defined]

    @property
    def has_zero(self) -> bool:
        return bool(np.any(self.levels == 0.0))

    @property
    def is_integer_grid(self) -> bool:
        """True when the levels are the consecutive integers ``r_b..r_t``."""
        lv = self.levels
        return bool(np.all(lv == np.rint(lv)) and np.all(np.diff(lv) == 1.0) and abs(lv[0]) < 2.0**53)

    @property
    def r_b(self) -> int:
        """Lowest grid integer (integer grids only)."""
        if not self.is_integer_grid:
            raise AttributeError(f"format {self.name!r} is not an integer grid (no r_b)")
        return int(self.levels[0])

    @property
    def r_t(self) -> int:
        """Highest grid integer (integer grids only)."""
        if not self.is_integer_grid:
            raise AttributeError(f"format {self.name!r} is not an integer grid (no r_t)")
        return int(self.levels[-1])

    # ------------------------------------------------------------------ quantizer
    def quantize_index(self, u) -> np.ndarray:
        """Index ``j`` (int64 array) of the level nearest to ``u`` (grid units), ties to the even code."""
        from .._validate import as_float_array

        u = as_float_array(u, "u")
        mid = self.midpoints
        j = np.searchsorted(mid, u, side="left")  # u <= mid[j] and u > mid[j-1]
        jc = np.minimum(j, mid.size - 1)
        tie = (j < mid.size) & (mid[jc] == u)
        # at a tie the candidates are j (below) and j + 1 (above): take the even code
        j = j + (tie & ~self.even[np.minimum(j, self.levels.size - 1)])
        return j.astype(np.int64)

    def quantize(self, u) -> np.ndarray:
        """Nearest level to ``u`` (grid units), ties to the even code, saturating; float64 array.

        ``Q_s(x) = s * fmt.quantize(x / s)``; a zero result has the sign of ``u``.
        """
        from .._validate import as_float_array

        u = as_float_array(u, "u")
        out = self.levels[self.quantize_index(u)]
        iz = np.flatnonzero(self.levels == 0.0)
        if iz.size:  # -0.0 for negative inputs in the zero level's (mirrored) rounding cell, as numpy's rint
            k = int(iz[0])
            z_lo = self.midpoints[k - 1] if k > 0 else -self.midpoints[0]
            out = np.where((out == 0.0) & (u >= z_lo), np.copysign(0.0, u), out)
        return out

    def error(self, u) -> np.ndarray:
        """Pointwise squared error ``(u - q(u))**2`` in grid units (multiply by ``s**2`` for data units)."""
        from .._validate import as_float_array

        u = as_float_array(u, "u")
        return (u - self.levels[self.quantize_index(u)]) ** 2

    def quantize_data(self, x, scale: float) -> np.ndarray:
        """``Q_s(x) = s * q(x / s)`` in the units of ``x``."""
        from .._validate import as_float_array, check_scale

        s = check_scale(scale)
        return s * self.quantize(as_float_array(x, "x") / s)

    # ------------------------------------------------------------------ conversions
    def to_grid(self):
        """The equivalent :class:`~quanttheory.formats.grid.Grid` (standard signed/unsigned integer grids only)."""
        if self.is_integer_grid:
            lo, hi = self.r_b, self.r_t
            b = (hi - lo + 1).bit_length() - 1
            if hi - lo + 1 == 1 << b and 1 <= b <= MAX_INT_BITS and lo in (0, -(1 << (b - 1))):
                from .grid import Grid
                return Grid(b, lo < 0)
        raise ValueError(f"format {self.name!r} is not a standard b-bit integer grid; it has no Grid equivalent")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Format):
            return NotImplemented
        return (self.name == other.name and self.levels.shape == other.levels.shape
                and bool(np.array_equal(self.levels, other.levels)) and bool(np.array_equal(self.even, other.even)))

    def __hash__(self) -> int:
        return hash((self.name, self.levels.tobytes(), self.even.tobytes()))

    def __repr__(self) -> str:
        return f"Format({self.name!r}, {self.size} levels in [{self.lo:g}, {self.hi:g}], kind={self.kind!r})"

    def __str__(self) -> str:
        return f"{self.name} ({self.size} levels, [{self.lo:g}, {self.hi:g}])"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly description (levels as a list)."""
        return {"name": self.name, "kind": self.kind, "levels": self.levels.tolist(),
                "level_max": self.level_max, "params": dict(self.params)}


# ---------------------------------------------------------------------- validation helpers
def _check_levels(values, name: str = "levels") -> np.ndarray:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"levels of {name!r} must be an array of numbers, got a string")
    arr = np.asarray(values)
    if arr.dtype.kind == "c":
        raise TypeError(f"levels of {name!r} are complex; a format's levels must be real numbers")
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"levels of {name!r} must be real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64).ravel()
    if arr.size < 2:
        raise ValueError(f"a format needs at least two levels, {name!r} has {arr.size}")
    if arr.size > MAX_LEVELS:
        raise ValueError(f"{name!r} has {arr.size} levels; at most {MAX_LEVELS} are supported")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(f"levels of {name!r} must be finite; got {arr[bad][0]} at position "
                         f"{int(np.flatnonzero(bad)[0])} (drop NaN/inf codes: a format's levels are its finite values)")
    srt = np.sort(arr)
    dup = np.flatnonzero(np.diff(srt) == 0.0)
    if dup.size:
        raise ValueError(f"levels of {name!r} contain the duplicate value {srt[dup[0]]!r}; each level must appear once "
                         "(-0.0 and 0.0 are the same level)")
    if np.max(np.abs(srt)) > 1e150:
        raise ValueError(f"levels of {name!r} exceed 1e150 in magnitude; squared errors would overflow float64")
    return srt + 0.0  # -0.0 -> 0.0


def _uniform_runs(lv: np.ndarray) -> tuple:
    """Greedy maximal runs of equal spacing, left to right: ((start, step, count), ...)."""
    runs = []
    i = 0
    K = lv.size
    while i < K:
        if i == K - 1:
            runs.append((lv[i], 0.0, 1))
            break
        step = lv[i + 1] - lv[i]
        j = i + 1
        while j + 1 < K and lv[j + 1] - lv[j] == step:
            j += 1
        runs.append((lv[i], step, j - i + 1))
        i = j + 1
    return tuple(runs)


# ---------------------------------------------------------------------- constructors
def integer(bits: int, signed: bool = True, narrow: bool = False) -> Format:
    """The ``bits``-bit integer grid as a Format.

    * signed: ``[-2**(b-1), 2**(b-1) - 1]`` (name ``'int<b>'``);
    * narrow (symmetric) signed: ``[-(2**(b-1) - 1), 2**(b-1) - 1]`` (``'int<b>n'``), needs ``b >= 2``;
    * unsigned: ``[0, 2**b - 1]`` (``'uint<b>'``).

    Ties go to the even integer (numpy's round-half-to-even), as in :class:`Grid`.
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"bits must be an integer, got {type(bits).__name__}")
    bits = int(bits)
    if not 1 <= bits <= MAX_INT_BITS:
        raise ValueError(f"bits must be in 1..{MAX_INT_BITS}, got {bits}")
    if narrow and not signed:
        raise ValueError("narrow=True is for signed grids (the symmetric range [-(2^(b-1)-1), 2^(b-1)-1]); "
                         "an unsigned grid has no narrow variant")
    if narrow and bits < 2:
        raise ValueError("a narrow signed grid needs bits >= 2 (1 bit would leave the single level 0)")
    if signed:
        lo, hi = -(1 << (bits - 1)) + (1 if narrow else 0), (1 << (bits - 1)) - 1
        name = f"int{bits}" + ("n" if narrow else "")
    else:
        lo, hi = 0, (1 << bits) - 1
        name = f"uint{bits}"
    lv = np.arange(lo, hi + 1, dtype=np.float64)
    even = (np.arange(lo, hi + 1) % 2) == 0
    return Format(name, lv, even, "integer", ((float(lo), 1.0, hi - lo + 1),),
                  {"bits": bits, "signed": bool(signed), "narrow": bool(narrow)})


def levelset(values, name: str | None = None, *, require_zero: bool = True) -> Format:
    """A user format from its levels (any order; grid units).

    Ties go to the level of even index in the sorted levels.  Raises ``ValueError``
    for NaN/inf, duplicates (``-0.0`` equals ``0.0``), fewer than two values, or a
    missing zero level when ``require_zero`` (default: a format without 0 cannot
    represent 0 and is rarely intended; pass ``require_zero=False`` for e.g. a
    mid-rise quantizer ``{-1.5, -0.5, 0.5, 1.5}``).
    """
    nm = name if name is not None else "levelset"
    lv = _check_levels(values, nm)
    if require_zero and not np.any(lv == 0.0):
        raise ValueError(f"the levels of {nm!r} do not contain 0; add 0 to the levels, or pass "
                         "require_zero=False if the format intentionally cannot represent zero")
    if name is None:
        name = f"levelset{lv.size}"
    return Format(name, lv, None, "levelset", (), {"require_zero": bool(require_zero)})


# QLoRA / bitsandbytes NormalFloat4 levels (float32 values, exact as float64 decimals below)
NF4_LEVELS = (
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
)


def nf4() -> Format:
    """NF4 (QLoRA NormalFloat, 16 levels in [-1, 1]); ties to the level of even index."""
    return Format("nf4", np.array(NF4_LEVELS), None, "levelset", (), {"source": "QLoRA / bitsandbytes"})


_MINIFLOAT_PRESETS = {
    # name: (exponent_bits, mantissa_bits, special)
    "e4m3": (4, 3, "fn"),
    "e5m2": (5, 2, "ieee"),
    "e2m3": (2, 3, "none"),
    "e3m2": (3, 2, "none"),
    "e2m1": (2, 1, "none"),
    "fp16": (5, 10, "ieee"),
    "bf16": (8, 7, "ieee"),
}

_ALIASES = {
    "float8_e4m3fn": "e4m3", "fp8_e4m3": "e4m3", "e4m3fn": "e4m3", "fp8e4m3": "e4m3",
    "float8_e5m2": "e5m2", "fp8_e5m2": "e5m2", "fp8e5m2": "e5m2",
    "float6_e2m3fn": "e2m3", "fp6_e2m3": "e2m3", "e2m3fn": "e2m3",
    "float6_e3m2fn": "e3m2", "fp6_e3m2": "e3m2", "e3m2fn": "e3m2",
    "float4_e2m1fn": "e2m1", "fp4_e2m1": "e2m1", "e2m1fn": "e2m1", "fp4": "e2m1", "mxfp4": "e2m1",
    "float16": "fp16", "half": "fp16", "bfloat16": "bf16",
    "normalfloat4": "nf4",
}

_INT_RE = re.compile(r"^(u?)int(\d+)(n|_narrow)?$")


def format_names() -> list[str]:
    """Canonical preset names accepted by :func:`get_format` (integer grids as patterns)."""
    return sorted(_MINIFLOAT_PRESETS) + ["nf4", "int<b>", "int<b>n", "uint<b>"]


_CACHE: dict[str, Format] = {}


def get_format(name: str) -> Format:
    """Preset format by name (case-insensitive).

    ``'e4m3'`` (OCP FP8 E4M3FN, max 448), ``'e5m2'`` (max 57344), ``'e2m3'`` (FP6, max 7.5),
    ``'e3m2'`` (FP6, max 28), ``'e2m1'`` (FP4, max 6), ``'fp16'``, ``'bf16'``, ``'nf4'``,
    ``'int<b>'`` (signed), ``'int<b>n'`` (narrow symmetric), ``'uint<b>'``, ``b = 1..24``;
    aliases such as ``'float8_e4m3fn'`` (ml_dtypes names), ``'fp4'``, ``'mxfp4'``.
    """
    if not isinstance(name, str):
        raise TypeError(f"format name must be a string, got {type(name).__name__}")
    key = name.strip().lower().replace("-", "_")
    key = _ALIASES.get(key, key)
    if key in _CACHE:
        return _CACHE[key]
    m = _INT_RE.match(key)
    if key in _MINIFLOAT_PRESETS:
        from .minifloat import minifloat

        e, mb, sp = _MINIFLOAT_PRESETS[key]
        fmt = minifloat(e, mb, special=sp, name=key)
    elif key == "nf4":
        fmt = nf4()
    elif m:
        bits = int(m.group(2))
        if not 1 <= bits <= MAX_INT_BITS:
            raise ValueError(f"format {name!r}: integer bit width must be in 1..{MAX_INT_BITS}")
        fmt = integer(bits, signed=not m.group(1), narrow=bool(m.group(3)))
    else:
        raise ValueError(f"unknown format {name!r}; valid formats: {', '.join(format_names())} "
                         f"(aliases: {', '.join(sorted(_ALIASES))}), or build one with "
                         "quanttheory.formats.minifloat(e, m) / levelset(values)")
    _CACHE[key] = fmt
    return fmt


def as_format(x) -> Format:
    """``x`` as a :class:`Format`: a Format (unchanged), a Grid (its integer grid), a preset name,
    or an int (signed integer grid of that many bits)."""
    if isinstance(x, Format):
        return x
    if isinstance(x, str):
        return get_format(x)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return integer(int(x), signed=True)
    if type(x).__name__ == "Grid" and hasattr(x, "bits") and hasattr(x, "signed"):
        return integer(int(x.bits), signed=bool(x.signed))
    raise TypeError(f"cannot interpret {type(x).__name__} as a number format; pass a Format, a Grid, "
                    "a format name such as 'e4m3' / 'nf4' / 'int8', or an int bit width")
