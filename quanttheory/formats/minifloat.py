"""Minifloat formats E{e}M{m} (FP8 / FP6 / FP4 and friends) as level sets.

Level values (grid units), exponent field ``E = 0 .. 2**e - 1``, mantissa field
``j = 0 .. 2**m - 1``, bias ``b`` (default ``2**(e-1) - 1``):

* ``E = 0`` (subnormals and zero): ``(j / 2**m) * 2**(1 - b)``;
* ``E >= 1`` (normals):            ``(1 + j / 2**m) * 2**(E - b)``;

with a sign bit (``signed=True``).  Which codes are *not* finite numbers is set
by ``special``:

* ``'ieee'``: ``E = 2**e - 1`` is inf/NaN (FP8 E5M2, fp16, bf16);
* ``'fn'``:   only ``E = 2**e - 1, j = 2**m - 1`` is NaN, no infinities
  (OCP FP8 E4M3 "FN": max 448);
* ``'none'``: every code is a finite number (OCP MX FP6 E2M3 / E3M2, FP4 E2M1).

Ties go to the even code ``(E << m) | j``, i.e. the even mantissa (IEEE rule);
overflow saturates to the largest finite magnitude (the OCP "saturating" cast).
"""

from __future__ import annotations

import numpy as np

from .levelset import Format

_SPECIALS = ("none", "fn", "ieee")


def minifloat(exponent_bits: int, mantissa_bits: int, *, bias: int | None = None, special: str = "none",
              finite_max: float | None = None, signed: bool = True, subnormals: bool = True,
              name: str | None = None) -> Format:
    """The minifloat format E{exponent_bits}M{mantissa_bits} as a :class:`Format`.

    Parameters
    ----------
    exponent_bits : int, 1..8
    mantissa_bits : int, 0..10 (``exponent_bits + mantissa_bits <= 15``)
    bias : int, default ``2**(exponent_bits - 1) - 1``
    special : ``'none'`` (all codes finite; OCP MX FP6/FP4), ``'fn'`` (only the all-ones
        code is NaN; OCP FP8 E4M3), ``'ieee'`` (top exponent reserved; E5M2).
    finite_max : float, optional
        Drop levels above this magnitude (a narrower saturation point).
    signed : bool
        Sign bit (levels symmetric about 0); ``False``: non-negative levels only.
    subnormals : bool
        ``False`` flushes subnormals (``E = 0`` represents only 0).
    name : str, default ``'e{e}m{m}'``

    Examples
    --------
    ``minifloat(4, 3, special='fn').hi == 448``; ``minifloat(2, 1).levels[8:]`` is
    ``0, 0.5, 1, 1.5, 2, 3, 4, 6``.
    """
    for nm, v in (("exponent_bits", exponent_bits), ("mantissa_bits", mantissa_bits)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{nm} must be an integer, got {type(v).__name__}")
    e, m = int(exponent_bits), int(mantissa_bits)
    if not 1 <= e <= 8:
        raise ValueError(f"exponent_bits must be in 1..8, got {e}")
    if not 0 <= m <= 10 or e + m > 15:
        raise ValueError(f"mantissa_bits must be in 0..10 with exponent_bits + mantissa_bits <= 15, got e={e}, m={m}")
    if special not in _SPECIALS:
        raise ValueError(f"special must be one of {_SPECIALS} ('none': all codes finite, 'fn': only the all-ones "
                         f"code is NaN, 'ieee': the top exponent is inf/NaN), got {special!r}")
    if bias is None:
        bias = (1 << (e - 1)) - 1
    if isinstance(bias, bool) or not isinstance(bias, (int, np.integer)):
        raise TypeError(f"bias must be an integer, got {type(bias).__name__}")
    bias = int(bias)
    if abs(bias) > 1000:
        raise ValueError(f"bias {bias} is out of the float64 range")
    Emax = (1 << e) - 1
    codes = []
    vals = []
    for E in range(Emax + 1):
        if special == "ieee" and E == Emax:
            break
        for j in range(1 << m):
            if special == "fn" and E == Emax and j == (1 << m) - 1:
                continue
            if E == 0:
                if j and not subnormals:
                    continue
                v = np.ldexp(float(j), 1 - bias - m)
            else:
                v = np.ldexp(float((1 << m) + j), E - bias - m)
            codes.append((E << m) | j)
            vals.append(v)
    codes = np.array(codes, dtype=np.int64)
    vals = np.array(vals, dtype=np.float64)
    if finite_max is not None:
        fm = float(finite_max)
        if not np.isfinite(fm) or fm <= 0:
            raise ValueError(f"finite_max must be a finite positive number, got {finite_max}")
        keep = vals <= fm
        codes, vals = codes[keep], vals[keep]
    if vals.size < 2 and not signed:
        raise ValueError(f"E{e}M{m} with special={special!r} has fewer than two finite levels")
    if vals.size < 1 or (vals.size < 2 and signed and vals[-1] == 0.0):
        raise ValueError(f"E{e}M{m} with special={special!r} has no non-zero finite level")
    # binades of the non-negative magnitudes, in order
    pos_runs = []
    E_of = codes >> m
    for E in np.unique(E_of):
        sel = E_of == E
        v = vals[sel]
        step = np.ldexp(1.0, (1 if E == 0 else int(E)) - bias - m)
        if not subnormals and E == 0:
            step = 0.0
        pos_runs.append((float(v[0]), float(step), int(v.size)))
    if signed:
        neg_runs = []
        for start, step, cnt in reversed(pos_runs):
            if start == 0.0:
                if cnt > 1:
                    neg_runs.append((-(start + (cnt - 1) * step), step, cnt - 1))
            else:
                neg_runs.append((-(start + (cnt - 1) * step), step, cnt))
        levels = np.concatenate((-vals[:0:-1] if vals[0] == 0.0 else -vals[::-1], vals))
        nz = codes[1:] if vals[0] == 0.0 else codes
        even_codes = np.concatenate((nz[::-1], codes)) % 2 == 0
        runs = tuple(neg_runs) + tuple(pos_runs)
    else:
        levels, even_codes, runs = vals, codes % 2 == 0, tuple(pos_runs)
    if name is None:
        name = f"e{e}m{m}"
    params = {"exponent_bits": e, "mantissa_bits": m, "bias": bias, "special": special,
              "finite_max": None if finite_max is None else float(finite_max), "signed": bool(signed),
              "subnormals": bool(subnormals)}
    return Format(name, levels, even_codes, "minifloat", runs, params)
