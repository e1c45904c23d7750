"""Block-scaled formats (OCP MX v1.0, NVFP4, group-wise INT) and their block-scale rules.

A block format quantizes ``k`` consecutive elements ``x_1..x_k`` (along one axis) with one
shared scale ``X > 0``:  ``Q(x_i) = X * q(x_i / X)`` with ``q`` the element format's
round-to-nearest (ties to the even code), saturating at its extreme levels.  ``X`` is chosen
by a *rule* from the block absmax ``M = max_i |x_i|`` (or, for ``4over6`` / ``oracle``,
from the whole block) and stored in a *scale format*:

===========  =====================================================================
scale format value set of ``X``
===========  =====================================================================
``e8m0``     ``2^E``, ``E`` integer in ``[-127, 127]`` (OCP MX: bias 127, code 255 = NaN)
``e4m3``     ``S * b``, ``b`` a positive finite E4M3 (FN) value (2^-9 .. 448), ``S`` one
             FP32 tensor scale (NVFP4; ``S = amax_tensor / (448 * 6)`` by default)
``fp16``     a positive finite float16 value (group-wise INT)
``real``     any real ``X > 0`` (exact, an idealization of fp16/fp32 scales)
===========  =====================================================================

Rules (``lmax`` = largest level magnitude of the element format, ``emax`` = exponent of
its largest normal, ``c`` the clip multiplier, default 1):

* ``floor`` (OCP MX v1.0):  E8M0 ``E = floor(log2 M) - emax``.  ``M / X`` lies in
  ``[2^emax, 2^(emax+1))``: the top binade of the element format *and beyond*, so blocks
  with ``M / X > lmax`` saturate (e.g. FP4: ``M / X`` in [4, 8), clipped above 6).
  For E4M3/fp16 scales: the largest representable ``X <= c M / lmax``.
* ``ceil`` (RCEIL): the smallest representable ``X >= c M / lmax`` (never saturates for
  ``c = 1``).  E8M0: ``E = ceil(log2(c M / lmax))``.
* ``round``: E8M0 ``E = round(log2 M) - emax`` (log2 rounded to nearest, ties up);
  for E4M3/fp16 scales: the representable value nearest to ``c M / lmax`` (the NVFP4
  recipe ``b = E4M3(amax_block / (6 S))``; ties to even code).
* ``clip``: like ``ceil`` for E8M0 (``X = 2^ceil(log2(c M / lmax))``), like ``round``
  for E4M3/fp16, and ``X = c M / lmax`` for real scales: the block is clipped at
  ``c M``.  (``c < 1`` trades saturation of the largest elements for resolution.)
* ``4over6`` (E2M1 elements only): per block, the candidates ``round`` with ``c = 1``
  (amax maps to 6) and ``c = 6/4`` (amax maps to 4); the one with the smaller block
  squared error is kept (ties: the first).
* ``oracle``: the representable ``X`` minimizing the block's squared error (for real
  scales: the exact minimizer over ``X > 0``, see :mod:`quanttheory.blocks.data`).

Scale out of range: E8M0 ``E`` is clamped to ``[-127, 127]`` (counted as scale
underflow / overflow); E4M3 saturates at 448 (overflow) and rounds to 0 below 2^-10
(underflow: the block is quantized to 0); fp16 likewise (65504, 2^-25).  A block with
``M = 0`` is exactly representable (all zeros) whatever ``X``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

__all__ = ["BlockFormat", "get_block_format", "block_format_names", "RULES", "SCALE_FORMATS",
           "quantize_blocks", "block_scales", "element_format", "BlockQuantized"]

RULES = ("floor", "ceil", "round", "clip", "4over6", "oracle")
SCALE_FORMATS = ("e8m0", "e4m3", "fp16", "real")
E8M0_MIN, E8M0_MAX = -127, 127

# element name -> (Format name / constructor, emax_elem)
_ELEMENTS = {
    "e4m3": 8, "e5m2": 15, "e2m3": 2, "e3m2": 4, "e2m1": 2, "mxint8": 0, "int4n": 2, "int8n": 6,
}


@lru_cache(maxsize=None)
def element_format(name: str):
    """The element :class:`~quanttheory.formats.Format` (``mxint8`` = int8 two's complement
    with an implicit 2^-6: levels ``-128/64 .. 127/64``)."""
    from ..formats import get_format, levelset

    key = str(name).lower()
    if key == "mxint8":
        return levelset(np.arange(-128, 128) / 64.0, name="mxint8")
    if key not in _ELEMENTS:
        raise ValueError(f"unknown element format {name!r}; valid: {sorted(_ELEMENTS)}")
    return get_format(key)


@dataclass(frozen=True)
class BlockFormat:
    """A block-scaled format: ``k`` elements of ``element`` share one scale in ``scale_format``.

    ``default_rule`` is the rule of the format's specification (OCP ``floor`` for MX,
    ``round`` for NVFP4 (the recipe), ``clip`` (= amax / lmax) for group-wise INT).
    """

    name: str
    element: str
    block: int
    scale_format: str
    default_rule: str
    emax: int = field(default=0)

    @property
    def fmt(self):
        return element_format(self.element)

    @property
    def lmax(self) -> float:
        """Largest magnitude representable on BOTH sides (127/64 for MXINT8, whose -2 is
        one-sided): ``ceil`` with ``c = 1`` then never saturates."""
        lv = self.fmt.levels
        return float(min(-lv[0], lv[-1])) if lv[0] < 0 else float(lv[-1])


_PRESETS = {
    "mxfp8_e4m3": ("e4m3", 32, "e8m0", "floor"),
    "mxfp8_e5m2": ("e5m2", 32, "e8m0", "floor"),
    "mxfp6_e2m3": ("e2m3", 32, "e8m0", "floor"),
    "mxfp6_e3m2": ("e3m2", 32, "e8m0", "floor"),
    "mxfp4": ("e2m1", 32, "e8m0", "floor"),
    "mxint8": ("mxint8", 32, "e8m0", "floor"),
    "nvfp4": ("e2m1", 16, "e4m3", "round"),
    "int4_g32": ("int4n", 32, "fp16", "clip"),
    "int4_g64": ("int4n", 64, "fp16", "clip"),
    "int4_g128": ("int4n", 128, "fp16", "clip"),
}
_ALIASES = {"mxfp8": "mxfp8_e4m3", "mxfp6": "mxfp6_e2m3", "int4": "int4_g128"}


def block_format_names() -> list[str]:
    return list(_PRESETS)


def get_block_format(name, *, block=None, scale_format=None) -> BlockFormat:
    """A preset (``mxfp8_e4m3 mxfp8_e5m2 mxfp6_e2m3 mxfp6_e3m2 mxfp4 mxint8 nvfp4 int4_g32
    int4_g64 int4_g128``; aliases ``mxfp8 mxfp6 int4``), or an element name (``e2m1`` ...)
    with ``block`` and ``scale_format`` given; ``block`` / ``scale_format`` override a preset."""
    if isinstance(name, BlockFormat):
        bf = name
    else:
        key = str(name).lower()
        key = _ALIASES.get(key, key)
        if key in _PRESETS:
            el, k, sf, rule = _PRESETS[key]
            bf = BlockFormat(key, el, k, sf, rule, _ELEMENTS[el])
        elif key in _ELEMENTS:
            if block is None or scale_format is None:
                raise ValueError(f"element format {key!r}: give block=k and scale_format= one of {SCALE_FORMATS}")
            bf = BlockFormat(key, key, 1, "real", "floor" if scale_format == "e8m0" else "clip", _ELEMENTS[key])
        else:
            raise ValueError(f"unknown block format {name!r}; valid presets: {block_format_names()} "
                             f"or element formats {sorted(_ELEMENTS)} with block= and scale_format=")
    if block is not None:
        if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or int(block) < 1:
            raise ValueError(f"block size must be an integer >= 1, got {block!r}")
        bf = BlockFormat(bf.name, bf.element, int(block), bf.scale_format, bf.default_rule, bf.emax)
    if scale_format is not None:
        sf = str(scale_format).lower()
        if sf not in SCALE_FORMATS:
            raise ValueError(f"unknown scale format {scale_format!r}; valid: {SCALE_FORMATS}")
        rule = bf.default_rule if (sf == "e8m0") == (bf.scale_format == "e8m0") else (
            "floor" if sf == "e8m0" else "clip")
        bf = BlockFormat(bf.name, bf.element, bf.block, sf, rule, bf.emax)
    return bf


def check_rule(rule, bf: BlockFormat) -> str:
    r = bf.default_rule if rule is None else str(rule).lower()
    r = {"ocp": "floor", "rceil": "ceil", "nearest": "round", "4/6": "4over6", "four_over_six": "4over6",
         "amax": "clip", "optimal": "oracle"}.get(r, r)
    if r not in RULES:
        raise ValueError(f"unknown scale rule {rule!r}; valid: {RULES}")
    if r == "4over6" and bf.element != "e2m1":
        raise ValueError("the 4over6 rule maps the block amax to 6 or 4: it needs E2M1 (FP4) elements")
    return r


# ---------------------------------------------------------------------------- scale sets
@lru_cache(maxsize=None)
def _positive_values(scale_format: str) -> np.ndarray:
    """Sorted positive finite values of an E4M3 / fp16 scale (read-only)."""
    from ..formats import get_format

    lv = np.asarray(get_format(scale_format).levels)
    v = lv[lv > 0].copy()
    v.setflags(write=False)
    return v


@lru_cache(maxsize=None)
def _target_boundaries(scale_format: str) -> np.ndarray:
    """Every point where a rule's choice or flag can change as the block-scale target ``u``
    crosses it: the positive values (floor/ceil, overflow above the largest) and the midpoints
    of consecutive values of ``{0} U values`` (round, underflow to 0)."""
    v = _positive_values(scale_format)
    b = np.unique(np.concatenate([v, 0.5 * (np.concatenate([[0.0], v[:-1]]) + v)]))
    b.setflags(write=False)
    return b


# relative distance of the float target from a boundary below which it is recomputed exactly (the
# float evaluation of u = c M / (lmax S) has at most ~4 roundings, ~1e-15 relative)
_EXACT_WINDOW = 1e-12
# below this a float target's inputs may be subnormal (relative error no longer ~1e-16): recomputed exactly
_LOSSY = 1e-290


def _exact_target_choice(U, vals: list, rule: str, quantize, valsF=None):
    """(q, underflow, overflow) of a rule for an exact (``Fraction``) target ``U > 0``; ``vals`` the sorted
    positive scale values (floats: Python compares Fraction and float exactly); ``valsF`` the same values as
    ``Fraction`` (optional: the comparisons then need no float -> Fraction conversion each; the same results)."""
    import bisect

    F = vals if valsF is None else valsF
    top = vals[-1]
    if rule == "floor":
        j = bisect.bisect_right(F, U) - 1
        q = vals[j] if j >= 0 else 0.0
    elif rule == "ceil":
        q = vals[min(bisect.bisect_left(F, U), len(vals) - 1)]
    elif U >= F[-1]:  # round: saturating at the largest value
        q = top
    else:
        j = bisect.bisect_left(F, U)
        hi = vals[j]
        lo = vals[j - 1] if j > 0 else 0.0
        hiF = F[j]
        loF = F[j - 1] if j > 0 else 0
        if U == hiF:
            q = hi
        elif U - loF != hiF - U:
            q = lo if U - loF < hiF - U else hi
        else:  # a tie: the format's own rounding of the (exactly representable) midpoint, ties to even
            q = float(abs(quantize(np.array([0.5 * (lo + hi)]))[0]))
    return q, q == 0.0, U > F[-1]


@lru_cache(maxsize=None)
def _positive_values_frac(scale_format: str) -> tuple:
    """:func:`_positive_values` as exact ``Fraction`` values (for :func:`_exact_target_choice`)."""
    from fractions import Fraction

    return tuple(Fraction(float(v)) for v in _positive_values(scale_format))


def _scale_from_target(target, bf: BlockFormat, rule: str, tensor_scale: float, exact=None):
    """Representable scale for a real target ``t = c M / lmax`` (array), rule floor/ceil/round.

    ``exact = (M, c, amax)``: targets within ``_EXACT_WINDOW`` (relative) of a point where the choice
    or a flag changes are recomputed in exact rational arithmetic as ``u = c M / (lmax S)``, with
    ``S`` the float ``tensor_scale`` when ``amax`` is None and else the real default tensor scale
    ``S = amax / (448 lmax)`` (``u = 448 c M / amax``: the block holding the tensor amax maps to
    exactly 448 when ``c = 1``).  Returns (X, underflow mask, overflow mask)."""
    t = np.asarray(target, dtype=np.float64)
    sf = bf.scale_format
    if sf == "real":
        return t.copy(), np.zeros(t.shape, bool), np.zeros(t.shape, bool)
    if sf == "e8m0":
        with np.errstate(divide="ignore"):
            lg = np.log2(t)
        if rule == "ceil":
            e = np.ceil(lg)
            # exact powers of two: log2 is exact for them, nothing to fix
        else:  # 'floor'/'round' are on log2 M - emax, handled by the caller; here ceil only
            raise AssertionError
        under = e < E8M0_MIN
        over = e > E8M0_MAX
        return np.exp2(np.clip(e, E8M0_MIN, E8M0_MAX)), under, over
    vals = _positive_values("e4m3" if sf == "e4m3" else "fp16")
    S = tensor_scale if sf == "e4m3" else 1.0
    u = t / S
    if rule == "round":
        from ..formats import get_format

        q = np.abs(get_format("e4m3" if sf == "e4m3" else "fp16").quantize(u))
    elif rule == "floor":
        j = np.searchsorted(vals, u, side="right") - 1
        q = np.where(j >= 0, vals[np.maximum(j, 0)], 0.0)
    else:  # ceil
        j = np.searchsorted(vals, u, side="left")
        q = vals[np.minimum(j, vals.size - 1)]
    over = u > vals[-1]
    under = (q == 0.0) & (u > 0)
    if exact is not None:
        q, under, over = _exact_fixup(u, q, under, over, vals, rule, bf, S, exact)
    return S * q, under, over


def _exact_fixup(u, q, under, over, vals, rule, bf, S, exact):
    """Recompute exactly the targets near a boundary (see :func:`_scale_from_target`)."""
    from fractions import Fraction

    bnd = _target_boundaries("e4m3" if bf.scale_format == "e4m3" else "fp16")
    j = np.clip(np.searchsorted(bnd, u), 1, bnd.size - 1)
    with np.errstate(invalid="ignore"):
        near = np.minimum(np.abs(u - bnd[j - 1]), np.abs(u - bnd[j])) <= _EXACT_WINDOW * u
    M, c, amax = exact
    M = np.broadcast_to(np.asarray(M, dtype=np.float64), u.shape)
    # near the subnormal range t = c M / lmax or S lose relative precision (1e-10 at S ~ 1e-310): the float
    # target says nothing there, so every such target is recomputed (review of 2026-12-01: x = [1e-320, 0...]
    # took the code 352 instead of 448, and 1e-310 flagged an overflow)
    if S < _LOSSY:
        near[...] = True
    else:
        near |= M * float(c) < _LOSSY * bf.lmax
    near &= u > 0
    if not np.any(near):
        return q, under, over
    q, under, over = q.copy(), under.copy(), over.copy()
    idx = np.flatnonzero(near.ravel())
    Mv = M.ravel()[idx]
    if amax is None:
        base = Fraction(float(c)) / (Fraction(bf.lmax) * Fraction(float(S)))
    else:
        base = Fraction(float(vals[-1])) * Fraction(float(c)) / Fraction(float(amax))
    vl = [float(v) for v in vals]
    fmt = None
    if rule == "round":
        from ..formats import get_format

        fmt = get_format("e4m3" if bf.scale_format == "e4m3" else "fp16")
    quant = fmt.quantize if fmt is not None else None
    uniq, inv = np.unique(Mv, return_inverse=True)  # one exact evaluation per distinct absmax
    vF = _positive_values_frac("e4m3" if bf.scale_format == "e4m3" else "fp16")
    res = [_exact_target_choice(base * Fraction(float(m)), vl, rule, quant, vF) for m in uniq]
    qf, uf, of = q.reshape(-1), under.reshape(-1), over.reshape(-1)
    for k, i in enumerate(idx):
        qf[i], uf[i], of[i] = res[inv[k]]
    return q, under, over


def e8m0_exponent(M, bf: BlockFormat, rule: str, c: float = 1.0):
    """Unclamped E8M0 exponent of the rule for block absmax ``M > 0`` (array)."""
    M = np.asarray(M, dtype=np.float64)
    if rule == "floor":
        _, ex = np.frexp(M)  # M = f 2^ex, f in [0.5, 1): floor(log2 M) = ex - 1, exact
        return (ex - 1 - bf.emax).astype(np.float64)
    if rule == "round":
        # round(log2 M) (ties up): floor(log2 M) + (M >= 2^(floor+0.5)) ; compare f >= 2^-0.5
        f, ex = np.frexp(M)
        return (ex - 1 + (f >= 0.5 * math.sqrt(2.0)) - bf.emax).astype(np.float64)
    t = c * M / bf.lmax
    f, ex = np.frexp(t)  # ceil(log2 t): ex if f > 0.5 else ex - 1
    return (ex - (f == 0.5)).astype(np.float64)


def check_clip_multiplier(c) -> None:
    """Validate a clip multiplier ``c`` (a real number, finite, > 0; not a bool)."""
    if isinstance(c, (bool, np.bool_)) or not isinstance(c, (int, float, np.integer, np.floating)):
        raise TypeError(f"clip multiplier c must be a real number, got {type(c).__name__}")
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"clip multiplier c must be a finite number > 0, got {c!r}")


def block_scales(M, bf: BlockFormat, rule: str, *, c: float = 1.0, tensor_scale: float = 1.0,
                 tensor_amax=None):
    """Scale ``X`` of a rule that depends on the block absmax only (floor/ceil/round/clip).

    Returns ``(X, underflow, overflow)`` arrays; ``X`` is 0 where the scale underflows to 0
    (E4M3/fp16); blocks with ``M = 0`` get ``X = 1`` (irrelevant: all elements are 0).
    E4M3/fp16 scales: the choice is that of the exact target ``u = c M / (lmax S)`` (targets
    within 1e-12 of a boundary are recomputed in rational arithmetic).  ``tensor_amax``: the
    tensor ``tensor_scale`` is the default ``amax / (448 lmax)``; the targets then use this real
    ``S`` (``u = 448 c M / amax``, exactly 448 at the amax block for ``c = 1``, never an overflow),
    not its float64 rounding; the scale is ``X = tensor_scale * b``."""
    M = np.asarray(M, dtype=np.float64)
    Mp = np.where(M > 0, M, 1.0)
    if bf.scale_format == "e8m0":
        e = e8m0_exponent(Mp, bf, "ceil" if rule == "clip" else rule, c)
        under = (e < E8M0_MIN) & (M > 0)
        over = (e > E8M0_MAX) & (M > 0)
        X = np.exp2(np.clip(e, E8M0_MIN, E8M0_MAX))
    else:
        r = {"clip": "round" if bf.scale_format != "real" else "round"}.get(rule, rule)
        X, under, over = _scale_from_target(c * Mp / bf.lmax, bf, r, tensor_scale,
                                            exact=None if bf.scale_format == "real" else (Mp, c, tensor_amax))
        # a zero scale quantizes the block to all zeros: an underflow also when the float64 target
        # c M / lmax itself underflowed to 0 (subnormal M, audit 2026-12-01 F5), where u > 0 failed
        under = (under | (X == 0.0)) & (M > 0)
        over &= M > 0
    X = np.where(M > 0, X, 1.0)
    return X, under, over


# ---------------------------------------------------------------------------- quantize
@dataclass(frozen=True)
class BlockQuantized:
    """Result of :func:`quantize_blocks`: ``values`` (float64, the input's shape),
    ``scales`` (one per block, shape ``(..., nblocks)`` with the block axis last),
    ``scale_underflow`` / ``scale_overflow`` (bool per block), ``saturated`` (number of
    elements with ``|x| / X`` beyond the element range), ``rule``, ``block``."""

    values: np.ndarray
    scales: np.ndarray
    scale_underflow: np.ndarray
    scale_overflow: np.ndarray
    saturated: int
    rule: str
    block: int


def as_blocks(x, block: int, axis: int = -1, partial: bool = False):
    """Move ``axis`` last and reshape to ``(..., nblocks, block)``; the partial last block (if
    allowed) is zero-padded (zeros change neither the absmax nor any block error).
    Returns (blocks, n_axis, moved shape)."""
    from .._validate import as_float_array

    x = as_float_array(x, "x")
    if x.ndim == 0:
        x = x.reshape(1)
    if not np.all(np.isfinite(x)):
        raise ValueError("data contains NaN or infinity; remove or replace them before block quantization")
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or int(block) < 1:
        raise ValueError(f"block size must be an integer >= 1, got {block!r}")
    block = int(block)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int, got {type(axis).__name__} {axis!r}")
    if not -x.ndim <= int(axis) < x.ndim:
        raise ValueError(f"axis {axis!r} out of range for data of shape {x.shape}")
    xm = np.moveaxis(x, int(axis), -1)
    n = xm.shape[-1]
    rem = n % block
    if rem and not partial:
        raise ValueError(f"block size {block} does not divide the axis length {n}; pass partial=True "
                         "(the last block then has the remaining elements) or choose another block size")
    if rem:
        pad = np.zeros(xm.shape[:-1] + (block - rem,))
        xm = np.concatenate([xm, pad], axis=-1)
    return xm.reshape(xm.shape[:-1] + (-1, block)), n, xm.shape


def _block_sse(xb, X, fmt, sse=True):
    """Squared error of each block (..., nb) at scales X (..., nb); X == 0 -> all zeros.
    ``sse=False``: the quantized values only (the SSE is None)."""
    Xs = np.where(X > 0, X, 1.0)[..., None]
    q = Xs * fmt.quantize(xb / Xs)
    q = np.where((X > 0)[..., None], q, 0.0)
    if not sse:
        return None, q
    return np.sum((xb - q) ** 2, axis=-1), q


def _block_sse_scaled(xb, q):
    """Block SSE of ``xb`` quantized to ``q`` in units of ``4^-e`` per block (``2^e`` >= the block absmax):
    finite for any finite data.  Scaling by a power of two is exact, so comparing two candidates of the
    same block this way agrees with comparing their float SSEs wherever those do not overflow."""
    M = np.max(np.abs(xb), axis=-1)
    _, e = np.frexp(np.where(M > 0, M, 1.0))
    d = np.ldexp(xb - q, -e[..., None])  # |xb - q| <= 2 M (saturation excepted: < 2 |x|), so |d| < 2
    return np.sum(d * d, axis=-1)


def quantize_blocks(x, element, *, block=None, scale_format=None, rule=None, axis=-1, c=1.0,
                    tensor_scale=None, partial=False, tensor_amax=None) -> BlockQuantized:
    """Block-scaled quantization of ``x`` along ``axis``.

    ``element``: a preset block format name (``"mxfp4"``, ``"nvfp4"``, ``"int4_g128"`` ...) or
    a :class:`BlockFormat`, or an element format name with ``block`` and ``scale_format``.
    ``rule``: one of :data:`RULES` (default: the format's own rule).  ``c``: clip multiplier
    (rules ``clip``; also scales the target of ``ceil``/``round`` for E4M3/fp16/real).
    ``tensor_scale``: NVFP4 FP32 tensor scale ``S`` (default ``amax(x) / (448 * 6)``).
    ``partial``: allow a last block shorter than ``block`` (its scale comes from its own
    elements).  ``tensor_amax``: the amax of the whole tensor when ``x`` is a chunk of it: the
    default tensor scale ``S = tensor_amax / (448 * 6)`` is then used as a real number (the block
    holding ``tensor_amax`` maps to exactly 448), as for ``x`` itself without it (not with
    ``tensor_scale``).  Each block: ``Q(x_i) = X * q(x_i / X)``, ``q`` round to nearest even,
    saturating.
    """
    bf = get_block_format(element, block=block, scale_format=scale_format)
    r = check_rule(rule, bf)
    check_clip_multiplier(c)
    xb, n, padded_shape = as_blocks(x, bf.block, axis, partial)
    M = np.max(np.abs(xb), axis=-1)
    if tensor_amax is not None:
        S, A = _tensor_scale_of_amax(bf, tensor_amax, tensor_scale)
    else:
        S = _tensor_scale(xb, bf, tensor_scale)
        A = _default_tensor_amax(xb, bf, tensor_scale)
    fmt = bf.fmt
    if r in ("floor", "ceil", "round", "clip"):
        X, under, over = block_scales(M, bf, r, c=c, tensor_scale=S, tensor_amax=A)
        _, q = _block_sse(xb, X, fmt, sse=False)
    elif r == "4over6":
        X6, u6, o6 = block_scales(M, bf, "round", c=c, tensor_scale=S, tensor_amax=A)
        X4, u4, o4 = block_scales(M, bf, "round", c=c * 1.5, tensor_scale=S, tensor_amax=A)
        _, q6 = _block_sse(xb, X6, fmt, sse=False)
        _, q4 = _block_sse(xb, X4, fmt, sse=False)
        with np.errstate(over="ignore"):  # |x| ~ 1e200: squares overflow; such blocks are compared scaled
            e6 = np.sum((xb - q6) ** 2, axis=-1)
            e4 = np.sum((xb - q4) ** 2, axis=-1)
        big = ~(np.isfinite(e6) & np.isfinite(e4))
        if np.any(big):
            e6 = np.where(big, _block_sse_scaled(xb, q6), e6)
            e4 = np.where(big, _block_sse_scaled(xb, q4), e4)
        pick4 = e4 < e6
        X = np.where(pick4, X4, X6)
        under = np.where(pick4, u4, u6)
        over = np.where(pick4, o4, o6)
        q = np.where(pick4[..., None], q4, q6)
    else:
        from .data import oracle_scales

        X = oracle_scales(xb, bf, tensor_scale=S)
        over = np.zeros(X.shape, bool)
        _, q = _block_sse(xb, X, fmt, sse=False)
        under = _oracle_underflow(xb, q)
    lo, hi = float(fmt.levels[0]), float(fmt.levels[-1])
    Xs = np.where(X > 0, X, 1.0)[..., None]
    u = xb / Xs
    sat = int(np.count_nonzero(((u > hi * (1 + 1e-12)) | (u < lo * (1 + 1e-12))) & (X > 0)[..., None]))
    vals = q.reshape(padded_shape)[..., :n]
    vals = np.moveaxis(vals, -1, int(axis))
    return BlockQuantized(vals, X, under, over, sat, r, bf.block)


def _oracle_underflow(xb, q):
    """The oracle's ``scale_underflow`` per block: the block has a non-zero value and every value
    quantizes to 0 at the oracle's scale.  Rounding is to nearest with 0 a level, so each error is
    at most ``|x|``: a scale that keeps any value beats all-zero, and the oracle returns all-zero only
    when every representable scale rounds the whole block to 0 (the scale it needs is below the scale
    format's range).  The oracle never overflows (it can always take a smaller scale)."""
    return np.any(xb != 0, axis=-1) & ~np.any(q != 0, axis=-1)


def reject_unused_tensor_scale(bf: BlockFormat, tensor_scale) -> None:
    """A ``ValueError`` when a tensor scale is given for a format without E4M3 block scales (E8M0 /
    fp16 / real scales are not multiplied by one: silently ignoring it would hide a wrong format)."""
    if tensor_scale is not None and bf.scale_format != "e4m3":
        raise ValueError(f"tensor_scale applies only to formats with E4M3 block scales (e.g. nvfp4); this "
                         f"format's block scales are {bf.scale_format}: drop tensor_scale")


def _tensor_scale_of_amax(bf: BlockFormat, tensor_amax, tensor_scale):
    """(S, amax) of a given tensor amax (the default tensor scale of a tensor processed in chunks)."""
    if tensor_scale is not None:
        raise ValueError("give tensor_scale or tensor_amax, not both")
    if isinstance(tensor_amax, bool) or not isinstance(tensor_amax, (int, float, np.integer, np.floating)):
        raise TypeError(f"tensor_amax must be a real number, got {type(tensor_amax).__name__}")
    a = float(tensor_amax)
    if not (math.isfinite(a) and a > 0):
        raise ValueError(f"tensor_amax must be a finite number > 0, got {tensor_amax!r}")
    if bf.scale_format != "e4m3":
        raise ValueError(f"tensor_amax applies only to formats with E4M3 block scales (e.g. nvfp4); this "
                         f"format's block scales are {bf.scale_format}: drop tensor_amax")
    return _checked_default_S(a, bf), a


def _checked_default_S(amax: float, bf: BlockFormat) -> float:
    """The default tensor scale ``amax / (448 lmax)``; a clear ``ValueError`` when it underflows to 0
    in float64 (``amax`` of a few subnormal ulps; audit 2026-12-01 F5: the targets became 0/0 and the
    error blamed NaN input)."""
    S = amax / (448.0 * bf.lmax)
    if S == 0.0:
        raise ValueError(f"the default tensor scale amax / (448 * {bf.lmax:g}) underflows to 0 in float64 "
                         f"(amax = {amax:.3g}): every block scale would be 0; rescale the data by a power of 2 "
                         "or pass tensor_scale=")
    return S


def _default_tensor_amax(xb, bf: BlockFormat, tensor_scale):
    """The tensor amax when the default E4M3 tensor scale ``amax / (448 lmax)`` is used (else None):
    block targets are then computed with this real ``S`` (see :func:`block_scales`)."""
    if tensor_scale is not None or bf.scale_format != "e4m3" or not xb.size:
        return None
    amax = float(np.max(np.abs(xb)))
    return amax if amax > 0 else None


def _tensor_scale(xb, bf: BlockFormat, tensor_scale):
    """The FP32 tensor scale ``S`` of E4M3-scaled formats (NVFP4 style); 1.0 for the others.  A given
    ``tensor_scale`` must be a finite number > 0, and is an error for a format without E4M3 block scales
    (E8M0 / fp16 / real scales have no tensor scale: silently ignoring it would hide a wrong format)."""
    if tensor_scale is not None:
        if isinstance(tensor_scale, bool) or not isinstance(tensor_scale, (int, float, np.integer, np.floating)):
            raise TypeError(f"tensor_scale must be a real number, got {type(tensor_scale).__name__}")
        ts = float(tensor_scale)
        if not (math.isfinite(ts) and ts > 0):
            raise ValueError(f"tensor_scale must be a finite number > 0, got {tensor_scale!r}")
        reject_unused_tensor_scale(bf, ts)
        return ts
    if bf.scale_format != "e4m3":
        return 1.0
    amax = float(np.max(np.abs(xb))) if xb.size else 0.0
    return _checked_default_S(amax, bf) if amax > 0 else 1.0
