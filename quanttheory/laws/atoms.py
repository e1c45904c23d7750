"""Point masses of a law: groups of equally weighted atoms, and the data access they need.

An :class:`Atoms` group is ``n`` point masses of equal weight ``w`` stored as a
real array of any shape (a memory-mapped ``.npy`` is read in chunks of
``CHUNK`` values, never copied whole).  The empirical law of a tensor is one
group with ``w = 1/n``; the ReLU of a continuous law has one group, the atom
``P(base <= 0)`` at 0.  The risk engine sums ``w * s**2 * phi(x/s)`` over the
atoms (:mod:`quanttheory.risk.curve`) and finds the exact data optimum of a purely
atomic law (:mod:`quanttheory.risk.data`) through :func:`iter_chunks` and
:func:`scan`, so it never needs to know which law the atoms came from.

Input conventions: any float dtype (float16 and longdouble are converted to
float64 chunk by chunk), integers are accepted (exact for ``|x| <= 2**53``);
booleans, complex, object arrays, NaN/inf and empty arrays are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CHUNK = 1 << 22


def as_data_array(data, name: str = "data") -> np.ndarray:
    """Validate the dtype of ``data`` without copying ndarrays / memmaps."""
    if isinstance(data, (str, bytes)):
        raise TypeError(f"{name} must be an array of numbers; to read a .npy file use np.load(path, mmap_mode='r')")
    arr = data if isinstance(data, np.ndarray) else np.asarray(data)
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} is complex; quantize the real and imaginary parts separately "
                        "(pass x.real / x.imag) or pass abs(x)")
    if kind == "b":
        raise TypeError(f"{name} is boolean; convert it explicitly (e.g. x.astype(float)) if you mean 0/1 values")
    if kind not in "fiu":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; the scale factor of no data is undefined")
    return arr


def iter_chunks(arr: np.ndarray, chunk: int | None = None):
    """Yield 1-D contiguous float32/float64 pieces of ``arr`` (bounded memory; ``chunk`` values, default
    :data:`CHUNK` read at call time)."""
    chunk = CHUNK if chunk is None else chunk
    native = arr.dtype.isnative and arr.dtype in (np.float64, np.float32)
    if arr.flags.c_contiguous or arr.flags.f_contiguous:
        flat = arr.ravel(order="K")
        for i in range(0, flat.size, chunk):
            c = flat[i:i + chunk]
            yield c if native else c.astype(np.float64)
        return
    if arr.ndim == 1:
        for i in range(0, arr.size, chunk):
            c = np.ascontiguousarray(arr[i:i + chunk])
            yield c if native else c.astype(np.float64)
        return
    row = max(1, arr[0].size)
    step = max(1, chunk // row)
    for i in range(0, arr.shape[0], step):
        c = np.ascontiguousarray(arr[i:i + step]).reshape(-1)
        yield c if native else c.astype(np.float64)


@dataclass(frozen=True)
class DataStats:
    """One-pass summary of a tensor (side 0: ``x >= 0``, side 1: ``x < 0`` as ``|x|``)."""

    n: int
    max_pos: float
    max_neg: float
    min_pos: float  # smallest x > 0 (inf if none)
    min_neg: float  # smallest |x| with x < 0 (inf if none)
    n_pos: int  # x >= 0 (zeros included)
    n_neg: int
    sum_sq: float
    sum: float


def scan(arr: np.ndarray, name: str = "data") -> DataStats:
    """One pass over ``arr``: :class:`DataStats`; NaN/inf or values too large to square raise ``ValueError``."""
    from ._kernels import scan_chunk

    st = np.array([0.0, 0.0, np.inf, np.inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    pos = 0
    for c in iter_chunks(arr):
        bad = scan_chunk(c, st)
        if bad == -2:
            raise ValueError(f"{name} has values too large to square in float64 (|x| > 1e154); rescale the data")
        if bad >= 0:
            raise ValueError(
                f"{name} contains a non-finite value ({c[bad]} at position {pos + bad} in memory order); "
                "remove or replace NaN/inf before computing a scale")
        pos += c.size
    return DataStats(int(st[4] + st[5]), float(st[0]), float(st[1]), float(st[2]), float(st[3]),
                     int(st[4]), int(st[5]), float(st[6]), float(st[7]))


@dataclass(frozen=True)
class Atoms:
    """``values.size`` point masses of equal probability ``weight`` each.

    ``values`` is a real array of any shape (validated: see :func:`as_data_array`);
    ``stats`` is its one-pass :class:`DataStats` when known (computed on demand by
    :meth:`summary` otherwise).
    """

    values: np.ndarray
    weight: float
    stats: DataStats | None = field(default=None, compare=False)

    @property
    def size(self) -> int:
        return int(self.values.size)

    def chunks(self, chunk: int | None = None):
        """1-D contiguous float32/float64 pieces of ``values`` (bounded memory)."""
        return iter_chunks(self.values, chunk)

    def summary(self, name: str = "data") -> DataStats:
        """The one-pass statistics of the values (NaN/inf raise ``ValueError``)."""
        return self.stats if self.stats is not None else scan(self.values, name)
