"""Streaming (chunked) versions of the per-unit computations, for units too large to copy.

With ``--granularity tensor`` (or a very long channel) one unit is a whole tensor.  The batched
path of :func:`quanttheory.models.tasks.batched_scales` works on float64 copies of its rows and
sorts them; for a unit of ``n`` values that is several ``8 n``-byte arrays.  The functions here
take the unit as it was loaded (a 1-D float32 array, or float64 for float64 checkpoints; never
copied whole) and make passes over chunks of :data:`CHUNK` values, so their extra memory is
``O(CHUNK)``, whatever ``n``:

* ``maxabs``, sums of squares, moments: chunked reductions in float64;
* ``percentile`` (NumPy's default ``linear`` method) and ACIQ-Laplace's median: the needed order
  statistics by a radix selection on the values' bit patterns (16 bits per pass, two passes for
  float32, four for float64, one more for the right neighbour): exact, ties included, then the
  same interpolation formula as :func:`numpy.percentile` (``a + (b - a) g``, or ``b - (b - a)(1 - g)``
  for ``g >= 1/2``) -- bit-identical to ``numpy.percentile`` / ``numpy.median`` (tested);
* MSE sweeps: every candidate of the four sweeps in one call of
  :func:`quanttheory.risk.data.mse_sums` (one chunked pass, the library's own blocked sums): the
  same scale as :func:`quanttheory.risk.baselines.sweep`, and costs ``n x candidates`` operations
  instead of a sort;
* histogram search and OCTAV: the numba kernels of :mod:`quanttheory.models._kernels`, which read the
  float32 unit directly (no float64 copy);
* ACIQ-Normal's mean and standard deviation: two chunked passes (``sqrt(mean((x - mean)**2))``,
  as NumPy, summed by chunks instead of pairwise: ~1e-16 relative).
"""

from __future__ import annotations

import math

import numpy as np

CHUNK = 1 << 16  # values per chunk (512 KB as float64)


def chunks(x: np.ndarray, size: int = CHUNK):
    """Consecutive 1-D pieces of the flat array ``x`` (views, no copy)."""
    for i in range(0, x.size, size):
        yield x[i:i + size]


def all_finite(x: np.ndarray) -> bool:
    """True if no value of ``x`` is NaN/inf (chunked: no ``n``-byte boolean temporary)."""
    a = np.asarray(x).reshape(-1)
    return all(bool(np.isfinite(c).all()) for c in chunks(a, 1 << 20))


def count_nonfinite(x: np.ndarray) -> int:
    a = np.asarray(x).reshape(-1)
    return int(sum(c.size - np.count_nonzero(np.isfinite(c)) for c in chunks(a, 1 << 20)))


def sum_sq(x: np.ndarray) -> float:
    """``sum x**2`` in float64 (chunked)."""
    tot = 0.0
    for c in chunks(x):
        c = c.astype(np.float64)
        tot += float(np.einsum("i,i->", c, c))
    return tot


def extrema(x: np.ndarray) -> tuple[float, float]:
    """``(min x, max x)`` as floats (exact; NumPy reductions on the stored dtype make no temporary)."""
    return float(x.min()), float(x.max())


# --------------------------------------------------------------------------- order statistics
def _keys(c: np.ndarray, mode: str):
    """Unsigned keys whose order is the order of the transformed values: ``abs`` (``|x|``),
    ``pos`` (``max(x, 0)``), ``signed`` (``x`` itself)."""
    ut = np.uint32 if c.dtype == np.float32 else np.uint64
    u = c.view(ut)
    sign = ut(1) << ut(8 * c.itemsize - 1)
    if mode == "abs":
        return u & ~sign
    if mode == "pos":
        return np.where(u & sign, ut(0), u)
    return np.where(u & sign, ~u, u | sign)


def _unkey(key: int, dtype, mode: str) -> float:
    ut = np.uint32 if dtype == np.float32 else np.uint64
    k = ut(key)
    sign = ut(1) << ut(8 * np.dtype(dtype).itemsize - 1)
    if mode == "signed":
        k = (k ^ sign) if (k & sign) else ~k
    return float(np.array([k], dtype=ut).view(dtype)[0])


def select(x: np.ndarray, k: int, mode: str = "signed") -> tuple[float, float]:
    """``(v_(k), v_(k+1))``: the values of rank ``k`` and ``k + 1`` (0-based, ascending) of the
    transformed data (``mode``: ``signed`` = ``x``, ``abs`` = ``|x|``, ``pos`` = ``max(x, 0)``), as
    float64; ``v_(k+1) = v_(k)`` when ``k + 1 = n``.  Radix selection on the bit patterns, 16 bits per
    chunked pass (memory: one 65536-bin histogram and a chunk)."""
    n = x.size
    if not 0 <= k < n:
        raise ValueError(f"rank {k} out of range for {n} values")
    bits = 8 * x.itemsize
    ut = np.uint32 if x.dtype == np.float32 else np.uint64
    prefix = 0
    r = k
    for p in range(bits // 16):
        shift = bits - 16 * (p + 1)
        hist = np.zeros(1 << 16, dtype=np.int64)
        for c in chunks(x):
            key = _keys(c, mode)
            if p:
                key = key[(key >> ut(shift + 16)) == ut(prefix)]
            hist += np.bincount(((key >> ut(shift)) & ut(0xFFFF)).astype(np.int64), minlength=1 << 16)
        cum = np.cumsum(hist)
        d = int(np.searchsorted(cum, r, side="right"))  # first digit with cum > r
        r -= int(cum[d - 1]) if d else 0
        prefix = (prefix << 16) | d
    vk = _unkey(prefix, x.dtype, mode)
    if k + 1 >= n:
        return vk, vk
    le = 0
    nxt = None
    for c in chunks(x):
        key = _keys(c, mode)
        le += int(np.count_nonzero(key <= ut(prefix)))
        above = key[key > ut(prefix)]
        if above.size:
            m = int(above.min())
            nxt = m if nxt is None else min(nxt, m)
    if le > k + 1 or nxt is None:
        return vk, vk
    return vk, _unkey(nxt, x.dtype, mode)


def percentile(x: np.ndarray, q: float, mode: str) -> float:
    """``numpy.percentile(v, q)`` (method ``linear``) of ``v`` = the transformed data (see :func:`select`)."""
    n = x.size
    vi = float((n - 1) * np.true_divide(q, 100))
    if vi >= n - 1:
        return select(x, n - 1, mode)[0]
    if vi < 0:
        return select(x, 0, mode)[0]
    prev = math.floor(vi)
    a, b = select(x, int(prev), mode)
    g = vi - prev
    diff = b - a
    return b - diff * (1 - g) if g >= 0.5 else a + diff * g


def median(x: np.ndarray) -> float:
    """``numpy.median(x)`` (the mean of the two middle values for even ``n``)."""
    n = x.size
    a, b = select(x, (n - 1) // 2, "signed")
    return a if n % 2 else float(np.mean(np.array([a, b])))


# --------------------------------------------------------------------------- integer-grid baselines
def _half(g) -> float:
    return float(2 ** (g.bits - 1) if g.signed else 2**g.bits - 1)


def _alpha_scale(alpha: float, g) -> float:
    alpha = float(alpha)
    return (alpha if alpha > 0 else 1.0) / _half(g)


def maxabs_scale(x: np.ndarray, g) -> float:
    lo, hi = extrema(x)
    s = hi / g.r_t if g.r_t > 0 else 0.0
    if g.signed:
        s = max(s, -lo / -g.r_b)
    return s if s > 0 else 1.0


def sweep_scales(x: np.ndarray, g, cands) -> list:
    """The scale of ``baselines.sweep(x, g, candidates=K)`` for every ``K`` of ``cands``: all
    candidates' exact SSEs in one chunked :func:`quanttheory.risk.data.mse_sums` call, then NumPy's
    first argmin per sweep (as the library)."""
    from ..risk.data import mse_sums

    lo, hi = extrema(x)
    al_max = max(abs(lo), abs(hi)) if g.signed else max(hi, 0.0)
    if al_max == 0:
        return [1.0 for _ in cands]
    ss = [np.array([_alpha_scale(al_max * i / K, g) for i in range(1, K + 1)]) for K in cands]
    vals = mse_sums(x, np.concatenate(ss), g)
    out, j = [], 0
    for s in ss:
        out.append(float(s[int(np.argmin(vals[j:j + s.size]))]))
        j += s.size
    return out


def stream_scale(name: str, x: np.ndarray, g, **kw) -> float:
    """The scale of ``quanttheory.risk.baselines.<name>(x, g)`` for one large unit ``x`` (1-D float32
    or float64, finite), in chunked passes (see the module docstring)."""
    from . import _kernels as K

    Tp, Tn = int(g.r_t), int(-g.r_b)
    if name == "maxabs":
        return maxabs_scale(x, g)
    if name == "percentile":
        return _alpha_scale(percentile(x, kw.get("q", 99.99), "abs" if g.signed else "pos"), g)
    if name == "sweep":
        return sweep_scales(x, g, [int(kw.get("candidates", 100))])[0]
    lo, hi = extrema(x)
    if name == "histogram":
        bins, stride = int(kw.get("bins", 2048)), int(kw.get("stride", 4))
        top = max(abs(lo), abs(hi)) if g.signed else max(hi, 0.0)
        if top == 0:
            return 1.0
        hlo = -top if g.signed else min(lo, 0.0)
        out = np.empty(1)
        K.histogram_scales(x.reshape(1, -1), np.array([hlo]), np.array([top]), Tp, Tn, _half(g), bins, stride, out)
        return float(out[0])
    if name == "octav":
        al = np.empty(1)
        K.octav_alphas(x.reshape(1, -1), bool(g.signed), int(g.bits), int(kw.get("iters", 30)), al)
        return _alpha_scale(al[0], g)
    if name in ("aciq_gauss", "aciq_laplace"):
        n = x.size
        if name == "aciq_gauss":
            p1 = sum(float(c.sum(dtype=np.float64)) for c in chunks(x)) / n
            var = 0.0
            for c in chunks(x):
                d = c.astype(np.float64) - p1
                var += float(np.einsum("i,i->", d, d))
            p2 = math.sqrt(var / n)
            hi_, kind = abs(p1) + 20 * p2, 0
        else:
            p1 = median(x)
            p2 = sum(float(np.abs(c.astype(np.float64) - p1).sum()) for c in chunks(x)) / n
            hi_, kind = abs(p1) + 60 * p2, 1
        if p2 == 0:
            return maxabs_scale(x, g)
        al = np.empty(1)
        K.aciq_alphas(kind, np.array([p1]), np.array([p2]), np.array([hi_]), bool(g.signed), int(g.bits), al)
        return _alpha_scale(al[0], g)
    raise ValueError(f"unknown baseline {name!r}")


def int_sse(x: np.ndarray, s: float, g) -> float:
    """``sum (x - s clip(rint(x / s), r_b, r_t))**2`` (chunked, the library's blocked sums)."""
    from ..risk.data import mse_sums

    return float(mse_sums(x, np.array([float(s)]), g)[0])


# --------------------------------------------------------------------------- level-set formats
def levelset_sse(x: np.ndarray, scales, fmt) -> np.ndarray:
    """``sum (x - s q(x / s))**2`` for every scale (chunked float64 passes of the library's
    ``direct_sse`` kernel: nearest level, compensated sums)."""
    from ..risk._kernels.format_data import direct_sse

    mids = np.ascontiguousarray(fmt.midpoints, dtype=np.float64)
    lv = np.ascontiguousarray(fmt.levels, dtype=np.float64)
    ss = [float(s) for s in np.atleast_1d(scales)]
    out = np.zeros(len(ss))
    for c in chunks(x, 1 << 18):
        c = np.ascontiguousarray(c, dtype=np.float64)
        for j, s in enumerate(ss):
            out[j] += direct_sse(c, s, lv, mids)
    return out
