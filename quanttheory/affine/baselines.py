"""Baseline affine quantizer settings (written from the published descriptions, not copied).

Every function takes 1-D data and a bit width and returns an :class:`AffineSetting`
(``x_hat = s q + m`` with ``q = clip(rint((x - m)/s), 0, N)``; for the integer
zero-point baselines ``m = -s z``).  Exact comparisons use
:func:`quanttheory.affine.data.optimal_affine_data` / ``optimal_offset_data``.

* :func:`minmax` -- PyTorch ``MinMaxObserver`` (affine, ``quant_min = 0``): the range is
  widened to contain 0, ``s = (max(x_max, 0) - min(x_min, 0)) / N``,
  ``z = clip(-rint(min / s), 0, N)``;
* :func:`symmetric_optimum` -- the exact optimum of the signed grid
  ``[-2^(b-1), 2^(b-1) - 1]`` (= affine with ``z = 2^(b-1)``), from
  :func:`quanttheory.risk.data.optimal_scale_data`;
* :func:`hqq` -- HQQ-style half-quadratic alternating solver: scale fixed from min-max,
  real zero-point updated from a proximal ``l_p`` shrinkage of the error
  (``p = 0.7``, ``beta = 10`` growing by ``kappa = 1.01``, 20 iterations);
* :func:`llamacpp` -- llama.cpp K-quant style "scale and min" search
  (``make_qkx2_quants``): ``2 nstep + 1`` inverse scales ``(N + rmin + rdelta i)/(max - min)``
  around min-max, each followed by a least-squares fit of ``(s, m)`` to its codes, with
  the offset constrained to ``m <= 0`` as in the K-quants (``rmin = -1``, ``rdelta = 0.1``,
  ``nstep = 20``, uniform weights);
* :func:`grid374` -- a 17 x 22 grid over (scale, zero-point): 17 shrink factors of the
  min-max scale in ``[0.5, 1]`` times 22 zero-points around the min-max zero-point.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple

import numpy as np


class AffineSetting(NamedTuple):
    """A baseline's choice: ``x_hat = s clip(rint((x - m)/s), 0, N) + m`` (``zero_point`` if integer form)."""

    name: str
    scale: float
    offset: float
    zero_point: int | None
    mse: float
    seconds: float


def _mse_offset(x, s, m, N):
    q = np.clip(np.rint((x - m) / s), 0, N)
    return float(np.mean((x - (s * q + m)) ** 2))


def _mse_z(x, s, z, N):
    q = np.clip(np.rint(x / s) + z, 0, N)
    return float(np.mean((x - s * (q - z)) ** 2))


def _prep(x, bits):
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("baselines need non-empty finite data")
    if np.ptp(x) == 0:
        raise ValueError("constant data: every scale is optimal; baselines are not defined")
    return x, 2**int(bits) - 1


def minmax(x, bits) -> AffineSetting:
    t0 = time.perf_counter()
    x, N = _prep(x, bits)
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    s = (hi - lo) / N
    z = int(np.clip(-np.rint(lo / s), 0, N))
    return AffineSetting("min-max (PyTorch observer)", s, -s * z, z, _mse_z(x, s, z, N), time.perf_counter() - t0)


def symmetric_optimum(x, bits) -> AffineSetting:
    from ..formats.grid import Grid
    from ..risk.data import optimal_scale_data

    t0 = time.perf_counter()
    x, N = _prep(x, bits)
    r = optimal_scale_data(x, Grid(int(bits), signed=True))
    z = 2 ** (int(bits) - 1)
    s = float(r.scale)
    return AffineSetting("symmetric optimum (z = 2^(b-1))", s, -s * z, z, _mse_z(x, s, z, N),
                         time.perf_counter() - t0)


def hqq(x, bits, iters: int = 20, p: float = 0.7, beta: float = 10.0, kappa: float = 1.01) -> AffineSetting:
    t0 = time.perf_counter()
    x, N = _prep(x, bits)
    lo, hi = float(x.min()), float(x.max())
    s = (hi - lo) / N
    zf = -lo / s  # real zero-point: x_hat = s (q - zf)
    best = (math.inf, zf)
    for _ in range(iters):
        q = np.clip(np.rint(x / s + zf), 0, N)
        r = s * (q - zf)
        e = x - r
        ae = np.abs(e)
        with np.errstate(divide="ignore"):
            shrink = np.sign(e) * np.maximum(ae - (1.0 / beta) * np.where(ae > 0, ae, np.inf) ** (p - 1), 0.0)
        zf = float(np.mean(q - (x - shrink) / s))
        beta *= kappa
        cur = _mse_offset(x, s, -s * zf, N)
        if cur < best[0]:
            best = (cur, zf)
    mse, zf = best
    return AffineSetting("HQQ-style alternating (real zero)", s, -s * zf, None, mse, time.perf_counter() - t0)


def llamacpp(x, bits, rmin: float = -1.0, rdelta: float = 0.1, nstep: int = 20) -> AffineSetting:
    t0 = time.perf_counter()
    x, N = _prep(x, bits)
    lo, hi = min(float(x.min()), 0.0), float(x.max())
    n = x.size
    best_s, best_m = (hi - lo) / N, lo
    best = _mse_offset(x, best_s, best_m, N)
    sx = float(x.sum())
    for i in range(2 * nstep + 1):
        iscale = (rmin + rdelta * i + N) / (hi - lo)
        lq = np.clip(np.rint(iscale * (x - lo)), 0, N)
        sl, sl2, sxl = float(lq.sum()), float((lq * lq).sum()), float((lq * x).sum())
        D = n * sl2 - sl * sl
        if D <= 0:
            continue
        s = (n * sxl - sx * sl) / D
        m = (sl2 * sx - sl * sxl) / D
        if m > 0:  # K-quants keep the minimum <= 0
            m = 0.0
            s = sxl / sl2
        if s <= 0:
            continue
        cur = _mse_offset(x, s, m, N)
        if cur < best:
            best, best_s, best_m = cur, s, m
    return AffineSetting("llama.cpp-style scale-and-min search", best_s, best_m, None, best,
                         time.perf_counter() - t0)


def grid374(x, bits) -> AffineSetting:
    t0 = time.perf_counter()
    x, N = _prep(x, bits)
    mm = minmax(x, bits)
    best = (math.inf, mm.scale, mm.zero_point)
    for a in np.linspace(0.5, 1.0, 17):
        s = a * mm.scale
        z0 = int(np.clip(-np.rint(min(float(x.min()), 0.0) / s), 0, N))
        for dz in range(-11, 11):
            z = z0 + dz
            if 0 <= z <= N:
                cur = _mse_z(x, s, z, N)
                if cur < best[0]:
                    best = (cur, s, z)
    mse, s, z = best
    return AffineSetting("17 x 22 grid over (s, z)", s, -s * z, z, mse, time.perf_counter() - t0)


ALL = (minmax, symmetric_optimum, hqq, llamacpp, grid374)


def run_all(x, bits) -> list[AffineSetting]:
    """Every baseline on the same data."""
    return [f(x, bits) for f in ALL]
