"""Input validation shared by the public API (private).

Every public function validates here, in Python, before any numba kernel runs:
kernels never see NaN, inf, wrong dtypes or non-positive scales.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np


def check_finite_real(value, name: str) -> float:
    """Return ``value`` as a finite float or raise ``TypeError``/``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def check_positive(value, name: str) -> float:
    """Return ``value`` as a finite float > 0 or raise."""
    v = check_finite_real(value, name)
    if v <= 0.0:
        raise ValueError(f"{name} must be > 0, got {v}")
    return v


def check_scale(scale) -> float:
    """A single quantization scale factor: finite and > 0."""
    return check_positive(scale, "scale")


def as_float_array(x, name: str, *, allow_empty: bool = True) -> np.ndarray:
    """Convert ``x`` to a float64 array, rejecting complex, non-numeric and non-finite data."""
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got a complex array; pass x.real or abs(x) explicitly")
    if arr.dtype.kind == "b":  # as the data optimizers (laws.atoms.as_data_array): no silent 0/1 cast
        raise TypeError(f"{name} is boolean; convert it explicitly (e.g. x.astype(float)) if you mean 0/1 values")
    if arr.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr.ravel()))[0]
        raise ValueError(
            f"{name} contains a non-finite value ({arr.ravel()[bad]} at flat index {bad}); "
            "remove or replace NaN/inf before quantizing"
        )
    return arr


def check_scales(scales) -> np.ndarray:
    """An array of scale factors (any shape): finite and all > 0."""
    arr = as_float_array(scales, "scales", allow_empty=False)
    if np.any(arr <= 0):
        bad = arr.ravel()[np.flatnonzero(arr.ravel() <= 0)[0]]
        raise ValueError(f"scales must all be > 0, got {bad}")
    return arr


def as_generator(rng) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from a Generator or an int seed."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError("rng must be a numpy.random.Generator or an int seed (no global RNG is used)")
