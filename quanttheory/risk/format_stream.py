"""Exact MSE-optimal scale of a long array for a level-set format, in bounded memory.

:func:`optimal_scale_format_stream` returns the same global minimizer of

    MSE(s) = (1/n) sum_i (x_i - s q(x_i / s))**2        (data units squared)

as :func:`quanttheory.risk.format_data.optimal_scale_format_data` (same :class:`FormatScale`
fields), without a float64 copy or a sort of the data: it reads ``x`` as given (any real dtype,
1-D or not, e.g. a float32 memory map) in chunks of :data:`CHUNK` values, and its working memory
is bounded by the histogram and the per-pass straddler buffer, whatever ``n``:

1. a validation pass (NaN/inf rejected; per sign: count, zeros, ``min |x| > 0``, ``max |x|``);
2. a histogram pass: per sign, the magnitudes ``v`` are binned by their binary exponent, with
   ``2**m`` equal bins per octave in the top :data:`FINE_OCTAVES` octaves (``m`` as large as
   :data:`HIST_BINS` allows, at most :data:`M_MAX` = 14) and one bin per octave below, plus a bin
   of zeros.  Each
   bin keeps its count, the compensated sums of ``v - r`` and ``(v - r)**2`` about its lower edge
   ``r`` (exact differences), and its observed ``min`` and ``max``; the non-empty bins get
   double-double prefix sums of count, ``v`` and ``v**2``;
3. branch and bound over ``s``-intervals on the histogram (kernels in
   :mod:`quanttheory.risk._kernels.format_stream`): bins whose values keep their level on the
   whole interval form one exact quadratic in ``s``, minimized jointly over the interval; bins across
   a midpoint's sweep ``b_j [s1, s2]`` are bounded by their distance to the gap between the two
   levels' sweeps; upper bounds at points put a bin across a midpoint on its best level.  Intervals
   are bisected while they hold many straddling values, then merged into clusters;
4. clusters whose bound is below the best value found are resolved exactly, best first, several
   per data pass: values whose level is the same at both ends of a cluster ``[A, B]`` are summed
   (compensated) into one quadratic centred at ``(A + B) / 2``; the *straddlers* (at most
   :data:`PASS_BUDGET` per pass, bins of equal values taken from the histogram instead) are
   collected, and the exact sweep of :mod:`quanttheory.risk.format_data` over their breakpoints
   gives every piece of ``MSE`` on ``[A, B]`` in closed form;
5. the near-optimal minima (``rtol``) are ranked as in the in-memory engine and the best
   :data:`~quanttheory.risk.format_data.NEAR_DIRECT` re-evaluated by a direct pass (nearest level
   by binary search, compensated sums per chunk, chunk totals summed exactly with ``math.fsum``).

Outside ``[s_lo, s_hi]`` (no breakpoint) ``MSE`` is one quadratic per side, from the bins' sums.
Memory (bytes): ``7 x 8`` per bin while the histogram is filled (at most ``2 x 2**18`` bins: ~30 MB;
``~ 6 x 8`` per non-empty bin afterwards), ``8 x PASS_TOTAL`` for one pass's straddler buffer (8 MB
per side) and ``~300 x`` (straddlers of one cluster, at most ~``PASS_BUDGET``) for its exact sweep,
plus one chunk: nothing grows with ``n``.  The data are read ``3 +`` (cluster passes) times
(``extra['data_passes']``); finer bins make the bounds tighter (the bound of a bin across a
midpoint loses about ``count x width x gap``) and the cluster passes fewer.  Magnitudes outside
``[1e-140, 1e140]`` (whose squares the bounds cannot sum safely) fall back to the in-memory engine.
"""

from __future__ import annotations

import heapq
import math
import time
from typing import Any

import numpy as np

from ..formats.levelset import as_format
from . import format_data as FD

CHUNK = 1 << 16
HIST_BINS = 1 << 18  # fine bins per side, at most
FINE_OCTAVES = 16
M_MAX = 14
PASS_BUDGET = 1 << 17  # straddling values (histogram estimate) per cluster, and collected per pass
PASS_TOTAL = 1 << 20  # straddling values (estimate) collected by one data pass, all its clusters
MAX_CLUSTERS_PASS = 64  # one bit each in a uint64 mask per bin
EVENTS_STOP = 1 << 8
MAX_LEVELS = 80
MAX_INTERVALS = 1 << 15
UB_PROBES = 64
GAMMA = 64 * 2.0**-52  # relative error allowance of the prefix words (bin sums: compensated, ~2 eps)
EPS = 2.0**-52
RANGE = (1e-140, 1e140)


def _chunks64(x):
    for i in range(0, x.size, CHUNK):
        yield np.ascontiguousarray(x[i:i + CHUNK], dtype=np.float64)


class _Hist:
    """Histogram of the magnitudes of one sign of the data (see the module docstring)."""

    def __init__(self, sign, levels, vmin_pos, vmax, count, zeros):
        self.sign = sign
        self.levels = levels
        mid = 0.5 * (levels[:-1] + levels[1:])
        j0 = int(np.sum(mid <= 0.0))
        self.b = np.ascontiguousarray(mid[j0:])
        self.c = np.ascontiguousarray(levels[j0:])
        self.P = self.b.size
        self.count, self.zeros = count, zeros
        self.vmin_pos, self.vmax = vmin_pos, vmax
        if vmax > 0:
            e_max = math.frexp(vmax)[1]
            e_min = math.frexp(vmin_pos)[1]
        else:
            e_max = e_min = 0
        self.e_cut = max(e_min, e_max - FINE_OCTAVES + 1)
        octs = e_max - self.e_cut + 1
        self.m = int(max(0, min(M_MAX, math.floor(math.log2(HIST_BINS / octs)))))
        self.e_min = e_min
        self.nco = self.e_cut - e_min
        self.nfull = 1 + self.nco + (octs << self.m)
        z = np.zeros(self.nfull)
        self.N, self.D1, self.C1, self.D2, self.C2 = z, z.copy(), z.copy(), z.copy(), z.copy()
        self.lo, self.hi = z.copy(), z.copy()

    def fill(self, c):
        from ._kernels.format_stream import hist_fill

        hist_fill(c, self.sign, self.e_min, self.e_cut, self.m, self.nco, self.N, self.D1, self.C1, self.D2,
                  self.C2, self.lo, self.hi)

    def _refs(self):
        """Lower edge of every (full) bin."""
        k = np.arange(self.nfull)
        r = np.zeros(self.nfull)
        co = (k >= 1) & (k <= self.nco)
        r[co] = np.ldexp(0.5, self.e_min + (k[co] - 1))
        fi = k > self.nco
        kk = k[fi] - 1 - self.nco
        e = self.e_cut + (kk >> self.m)
        r[fi] = np.ldexp(0.5 + (kk & ((1 << self.m) - 1)) / float(1 << (self.m + 1)), e)
        return r

    def finish(self):
        from ._kernels.format_stream import hist_prefix

        nz = np.flatnonzero(self.N > 0)
        self.full_index = nz
        R = self._refs()[nz]
        N = self.N[nz]
        D1 = self.D1[nz] + self.C1[nz]
        D2 = self.D2[nz] + self.C2[nz]
        self.blo = np.ascontiguousarray(self.lo[nz])
        self.bhi = np.ascontiguousarray(self.hi[nz])
        del self.D1, self.C1, self.D2, self.C2, self.lo, self.hi
        self.nb = nz.size
        self.W = np.empty((self.nb + 1, 5))
        self.Pc = np.empty(self.nb + 1)
        hist_prefix(N, R, D1, D2, self.W, self.Pc, self.blo, self.bhi)
        del self.N
        # the histogram as a format_data side: exact coefficients where no bin spans two groups
        self.side = FD._Side.from_table(self.bhi, self.W, self.levels, GAMMA)

    def lb(self, s1, s2):
        from ._kernels.format_stream import hist_lb

        out = np.empty(s1.size)
        ev = np.empty(s1.size)
        if self.P == 0:
            v, e = self.side.value(s1)
            return np.maximum(v - e, 0.0), np.zeros(s1.size)
        hist_lb(self.blo, self.bhi, self.W, self.Pc, self.b, self.c, GAMMA,
                np.ascontiguousarray(s1, dtype=np.float64), np.ascontiguousarray(s2, dtype=np.float64), out, ev)
        return out, ev

    def ub(self, ss):
        from ._kernels.format_stream import hist_ub

        out = np.empty(ss.size)
        if self.P == 0:
            v, e = self.side.value(ss)
            return v + e
        hist_ub(self.blo, self.bhi, self.W, self.b, self.c, GAMMA, np.ascontiguousarray(ss, dtype=np.float64), out)
        return out


def _scan(x):
    """Validation pass: per sign (count, zeros, min |x| > 0, max |x|); NaN/inf -> ValueError."""
    st = {1: [0, 0, math.inf, 0.0], -1: [0, 0, math.inf, 0.0]}
    for i, c in enumerate(_chunks64(x)):
        if not np.isfinite(c).all():
            j = i * CHUNK + int(np.flatnonzero(~np.isfinite(c))[0])
            raise ValueError(f"data contains NaN or infinity (first at flat index {j}); remove or replace "
                             "non-finite values before computing a scale")
        for sg, v in ((1, c[c >= 0]), (-1, -c[c < 0])):
            if v.size:
                a = st[sg]
                a[0] += v.size
                nzv = v[v > 0]
                a[1] += v.size - nzv.size
                if nzv.size:
                    a[2] = min(a[2], float(nzv.min()))
                    a[3] = max(a[3], float(nzv.max()))
    return st


def _direct(x, scales, fmt):
    """``sum (x - s q(x/s))**2`` per scale: one chunked pass, compensated per chunk, chunks summed exactly."""
    from ._kernels.format_data import direct_sse

    mids = np.ascontiguousarray(fmt.midpoints, dtype=np.float64)
    lv = np.ascontiguousarray(fmt.levels, dtype=np.float64)
    ss = [float(s) for s in scales]
    parts = [[] for _ in ss]
    for c in _chunks64(x):
        for j, s in enumerate(ss):
            parts[j].append(direct_sse(c, s, lv, mids))
    return np.array([math.fsum(p) for p in parts])


def _bb(hists, s_lo, s_hi, rtol, info):
    """Histogram branch and bound: clusters ``(lb, A, B, cost)`` that may hold a near-optimal minimum,
    and the best upper bound found."""
    nint = max(8, int(math.ceil(8 * math.log2(s_hi / s_lo)))) if s_hi > s_lo else 1
    nint = min(nint, 1 << 13)
    edges = s_lo * (s_hi / s_lo) ** (np.arange(nint + 1) / nint)
    edges[0], edges[-1] = s_lo, s_hi
    s1, s2 = edges[:-1].copy(), edges[1:].copy()
    mwidth = 2.0 ** -(max(h.m for h in hists) + 2)

    def UB(ss):
        return sum(h.ub(ss) for h in hists)

    def LB(a, b):
        lb = np.zeros(a.size)
        ev = np.zeros(a.size)
        for h in hists:
            l2, e2 = h.lb(a, b)
            lb += l2
            ev += e2
        return lb, ev

    best = float(np.min(UB(edges)))
    levels = 0
    evals = 0
    while True:
        levels += 1
        lb, ev = LB(s1, s2)
        pick = np.argpartition(lb, UB_PROBES)[:UB_PROBES] if lb.size > UB_PROBES else np.arange(lb.size)
        best = min(best, float(np.min(UB(np.sqrt(s1[pick] * s2[pick])))))
        evals += s1.size + pick.size
        keep = lb <= best * (1 + 2 * rtol)
        s1, s2, lb, ev = s1[keep], s2[keep], lb[keep], ev[keep]
        wide = (ev > EVENTS_STOP) & (s2 > s1 * (1 + mwidth))
        if not wide.any() or levels >= MAX_LEVELS or s1.size + int(wide.sum()) > MAX_INTERVALS:
            break
        m = np.sqrt(s1[wide] * s2[wide])
        s1 = np.concatenate((s1[~wide], s1[wide], m))
        s2 = np.concatenate((s2[~wide], m, s2[wide]))
    order = np.argsort(s1)
    cl = []
    for a, b, l, e in zip(s1[order], s2[order], lb[order], ev[order]):
        if cl and cl[-1][2] == a and cl[-1][3] + e <= PASS_BUDGET and b <= cl[-1][1] * FD.CLUSTER_WIDTH:
            cl[-1] = [min(cl[-1][0], l), cl[-1][1], b, cl[-1][3] + e]
        else:
            cl.append([l, a, b, e])
    info.update(bb_levels=levels, bound_evals=evals, clusters=len(cl))
    return [(float(l), float(a), float(b), float(e)) for l, a, b, e in cl], best, LB, UB


def _cluster_plan(h, A, B, s0, q, rel):
    """Bins of side ``h`` that keep their group on ``[A, B]``: their exact quadratic (centred at
    ``s0``, longdouble from the prefix words, with error bounds); the other bins: equal-value bins
    resolved here (fixed part added, straddling values returned), the rest flagged in ``rel`` (bit
    ``q``) for the data pass.  Returns (coefficients + errors, straddling (v, count), capacity)."""
    sd = h.side
    nb = h.nb
    if h.P == 0:
        return list(sd.coeffs_ranges(np.array([0]), np.array([nb]), s0)), (np.empty(0), np.empty(0)), 0
    ia = np.searchsorted(h.bhi, h.b * A, side="right")
    ib = np.searchsorted(h.blo, h.b * B, side="right")
    g0 = np.concatenate(([0], ib))
    g1 = np.maximum(np.concatenate((ia, [nb])), g0)
    co = list(sd.coeffs_ranges(g0, g1, s0))
    mark = np.zeros(nb + 1, dtype=np.int64)
    np.add.at(mark, g0, 1)
    np.add.at(mark, g1, -1)
    strad = np.cumsum(mark)[:nb] == 0
    deg = h.blo == h.bhi
    cnt = np.diff(h.W[:, 0])
    nd = np.flatnonzero(strad & ~deg)
    rel[h.full_index[nd]] |= np.uint64(1) << np.uint64(q)
    cap = int(np.sum(cnt[nd]))
    dg = np.flatnonzero(strad & deg)
    v, n_ = h.blo[dg], cnt[dg]
    ga = np.searchsorted(h.b * A, v, side="left")
    gb = np.searchsorted(h.b * B, v, side="left")
    fx = ga == gb
    if fx.any():
        cl = h.c[ga[fx]].astype(FD.LD)
        d = v[fx].astype(FD.LD) - FD.LD(s0) * cl
        w = n_[fx].astype(FD.LD)
        co[0] += np.sum(w * d * d)
        co[1] += np.sum(w * cl * d)
        co[2] += np.sum(w * cl * cl)
        mag = float(np.sum(n_[fx] * (v[fx] + s0 * np.abs(h.c[ga[fx]])) ** 2))
        co[3] += 8 * FD.EPS_LD * mag
        co[4] += 8 * FD.EPS_LD * mag / max(s0, 1e-300)
        co[5] += 8 * FD.EPS_LD * float(np.sum(n_[fx] * h.c[ga[fx]] ** 2))
    return co, (v[~fx], n_[~fx]), cap


def _run_pass(x, hists, batch):
    """One data pass resolving the clusters of ``batch`` exactly: ``(pieces, breakpoints)`` per cluster."""
    from ._kernels.format_stream import cluster_pass

    K = len(batch)
    As = np.array([c[1] for c in batch])
    Bs = np.array([c[2] for c in batch])
    s0s = 0.5 * (As + Bs)
    per = []
    for h in hists:
        rel = np.zeros(h.nfull, dtype=np.uint64)
        plans = [_cluster_plan(h, float(As[q]), float(Bs[q]), float(s0s[q]), q, rel) for q in range(K)]
        cap = np.array([p[2] for p in plans], dtype=np.int64)
        off = np.concatenate(([0], np.cumsum(cap)[:-1])).astype(np.int64)
        per.append((plans, rel, np.zeros((K, 8)), np.empty(int(cap.sum())), off, np.zeros(K, dtype=np.int64), cap))
    if any(int(p[6].sum()) for p in per):
        for c in _chunks64(x):
            for h, (plans, rel, acc, buf, off, nbuf, cap) in zip(hists, per):
                if cap.sum() and not cluster_pass(c, h.sign, h.b, h.c, As, Bs, s0s, h.e_min, h.e_cut, h.m, h.nco,
                                                  rel, acc, buf, off, nbuf, cap):
                    raise RuntimeError("internal error: straddler buffer overflow; please report")
    out = []
    for q in range(K):
        A, B = float(As[q]), float(Bs[q])
        s0 = float(s0s[q])
        sides = []
        ex = [FD.LD(0)] * 3
        ee = [0.0, 0.0, 0.0]
        for h, (plans, rel, acc, buf, off, nbuf, cap) in zip(hists, per):
            co, (dv, dn), _ = plans[q]
            a = acc[q]
            ex[0] += co[0] + FD.LD(a[0]) + FD.LD(a[1])
            ex[1] += co[1] + FD.LD(a[2]) + FD.LD(a[3])
            ex[2] += co[2] + FD.LD(a[4]) + FD.LD(a[5])
            g = 4 * EPS + 4 * h.count * EPS * EPS
            ee[0] += float(co[3]) + 4 * EPS * (a[6] + s0 * a[7]) + g * a[6]
            ee[1] += float(co[4]) + 4 * EPS * (a[7] + s0 * abs(a[4])) + g * a[7]
            ee[2] += float(co[5]) + g * abs(a[4])
            vals = buf[off[q]:off[q] + nbuf[q]]
            if vals.size or dv.size:
                u, cnt = np.unique(vals, return_counts=True)
                v = np.concatenate((u, dv))
                n_ = np.concatenate((cnt.astype(np.float64), dn))
                o = np.argsort(v, kind="stable")
                sides.append(FD._Side.from_counts(v[o], n_[o], h.levels))
        out.append(FD._sweep(sides, A, B, extra=(ex[0], ex[1], ex[2], ee[0], ee[1], ee[2])))
    return out


def optimal_scale_format_stream(data, fmt, *, rtol: float = FD.RTOL) -> FD.FormatScale:
    """Exact global minimizer ``s*`` of ``MSE(s) = mean (x - s q(x/s))**2`` over ``s > 0`` for the
    level-set format ``fmt``, reading ``data`` in chunks (bounded memory, see the module docstring).

    Parameters
    ----------
    data : array-like of real numbers (any shape, e.g. a float32 memory map; flattened) -- NaN/inf rejected
    fmt : Format, Grid, format name (``'e4m3'``, ``'nf4'``, ``'int8n'``...) or int bit width
    rtol : float
        Relative tolerance of the near-optimal set (default ``1e-9``), as in
        :func:`~quanttheory.risk.format_data.optimal_scale_format_data`.

    Returns
    -------
    FormatScale
        The fields of :func:`~quanttheory.risk.format_data.optimal_scale_format_data` (``scale`` in
        data units, ``mse`` in data units squared from a direct pass, ``risk = pi**2 mse``, certificate
        ``risk_lower_bound``, near-optimal set, amax rule); ``extra`` adds the data passes, histogram
        bins and clusters.
    """
    fmt = as_format(fmt)
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.floating)) or not 0 <= float(rtol) < 1e-2:
        raise ValueError(f"rtol must be a number in [0, 0.01), got {rtol!r}")
    rtol = float(rtol)
    x = np.asarray(data)
    if x.dtype == np.bool_ or x.dtype.kind not in "fiu" and x.dtype.name not in ("bfloat16",):
        raise TypeError(f"data must be an array of real numbers, got dtype {x.dtype}")
    if x.size == 0:
        raise ValueError("data is empty: at least one value is needed")
    x = x.reshape(-1)
    t0 = time.perf_counter()
    st = _scan(x)
    n = x.size
    amax = max(st[1][3], st[-1][3])
    mags = [st[s][2] for s in (1, -1) if st[s][3] > 0] + [st[s][3] for s in (1, -1) if st[s][3] > 0]
    if mags and (min(mags) < RANGE[0] or max(mags) > RANGE[1]):
        res = FD.optimal_scale_format_data(np.concatenate(list(_chunks64(x))), fmt, rtol=rtol)
        return FD.FormatScale(res.scale, res.mse, res.risk, res.format, res.method + " (in memory: magnitudes "
                              "outside [1e-140, 1e140])", res.scale_error, res.risk_lower_bound,
                              res.near_optimal_scales, res.near_optimal_mse, res.amax_scale, res.amax_mse,
                              dict(res.extra, streamed=False))
    lv = np.asarray(fmt.levels, dtype=np.float64)
    hists = []
    for sg, levels in ((1, lv), (-1, -lv[::-1])):
        cnt, zeros, vmin, vmax = st[sg]
        if cnt:
            hists.append(_Hist(sg, np.ascontiguousarray(levels), vmin if vmax > 0 else 0.0, vmax, cnt, zeros))
    useful = [h for h in hists if h.vmax > 0 and h.c[-1] > 0]
    if not useful:
        if amax == 0.0 and fmt.has_zero:
            return FD.FormatScale(FD.DEGENERATE_SCALE, 0.0, 0.0, fmt,
                                  "degenerate: all-zero data, MSE(s) = 0 for every s > 0; scale=1.0 by convention",
                                  math.inf, 0.0, (FD.DEGENERATE_SCALE,), (0.0,), math.nan, 0.0,
                                  {"n": n, "degenerate": True})
        if amax == 0.0:
            raise ValueError(f"data is all zeros and format {fmt.name!r} has no zero level: MSE(s) = s^2 * "
                             f"(nearest level to 0)^2 decreases to 0 as s -> 0, so no s > 0 is optimal")
        side = ("non-negative" if st[-1][0] == 0 else ("non-positive" if st[1][0] == st[1][1] else "mixed"))
        raise ValueError(f"format {fmt.name!r} has no level of the sign of the data's non-zero values ({side} data, "
                         f"levels in [{fmt.lo:g}, {fmt.hi:g}]): Q_s(x) is never closer to x than 0 is, so MSE(s) >= "
                         "mean(x**2) = MSE(0+) and no scale s > 0 is optimal; use a format with levels of that sign")
    for c in _chunks64(x):
        for h in hists:
            h.fill(c)
    for h in hists:
        h.finish()
    sides = [h.side for h in hists]
    act = [h for h in hists if h.P > 0 and h.vmax > 0]
    s_lo = min(h.vmin_pos / h.b[-1] for h in act) if act else math.inf
    s_hi = max(h.vmax / h.b[0] for h in act) if act else 0.0
    pieces = []
    info: dict[str, Any] = {"n": n, "streamed": True, "bins": [int(h.nb) for h in hists],
                            "bins_per_octave": [1 << h.m for h in hists]}

    def end_piece(a, b, s_eval):
        pieces.append(FD._end_piece(sides, a, b, s_eval))

    passes = 2
    swept = 0
    nclusters = 0
    if not act:
        end_piece(0.0, math.inf, 1.0)
    else:
        end_piece(0.0, s_lo, 0.5 * s_lo)
        end_piece(s_hi, math.inf, 2.0 * s_hi)
        clusters, best, LB, UB = _bb(hists, s_lo, s_hi, rtol, info)
        mwidth = 2.0 ** -(max(h.m for h in hists) + 2)
        for p in pieces:
            best = min(best, float(np.min(p[1] + p[2])) if p[1].size else best)
        heap = list(clusters)
        heapq.heapify(heap)
        while heap:
            batch = []
            cost = 0.0
            while heap and len(batch) < MAX_CLUSTERS_PASS:
                l, a, b, e = heap[0]
                if l > best * (1 + 2 * rtol):
                    heap = []
                    break
                if e > PASS_BUDGET and b > a * (1 + mwidth):  # narrower: its straddling bins stay
                    heapq.heappop(heap)
                    m = math.sqrt(a * b)
                    aa, bb = np.array([a, m]), np.array([m, b])
                    lbs, evs = LB(aa, bb)
                    best = min(best, float(np.min(UB(np.sqrt(aa * bb)))))
                    for k in range(2):
                        heapq.heappush(heap, (float(lbs[k]), float(aa[k]), float(bb[k]), float(evs[k])))
                    continue
                if batch and cost + e > PASS_TOTAL:
                    break
                heapq.heappop(heap)
                batch.append((l, a, b, e))
                cost += e
            if not batch:
                break
            passes += 1
            for out, nev in _run_pass(x, hists, batch):  # noqa: B007
                swept += nev
                nclusters += 1
                if out[0].size:
                    best = min(best, float(np.min(out[1] + out[2])))
                    near = out[1] - out[2] <= best * (1 + 2 * rtol)
                    out = tuple(o[near] for o in out[:4]) + (out[4],)
                pieces.append(out)
    cs, cv, ce, cc2 = (np.concatenate([p[k] for p in pieces]) for k in range(4))
    lower_all = min(p[4] for p in pieces)
    ok = cs > 0
    if not ok.any():
        raise RuntimeError("internal error: no local minimum found; please report")
    cs, cv, ce, cc2 = cs[ok], cv[ok], ce[ok], cc2[ok]
    best_est = float(np.min(cv))
    thr = best_est * (1 + rtol) + 2 * float(np.max(ce))
    near = np.flatnonzero(cv <= thr)
    near = near[np.argsort(cv[near], kind="stable")]
    _, first = np.unique(cs[near], return_index=True)
    near = near[np.sort(first)]
    truncated = near.size > FD.MAX_NEAR
    near = near[:FD.MAX_NEAR]
    top = near[:FD.NEAR_DIRECT]
    amax_s = amax / fmt.level_max
    dv = _direct(x, list(cs[top]) + [amax_s], fmt) / n
    passes += 1
    direct, amax_m = dv[:-1], float(dv[-1])
    i = int(np.argmin(direct))
    best_m = float(direct[i])
    s_best = float(cs[top[i]])
    near_vals = cv[near] / n
    keep = cv[near] <= best_est * (1 + rtol) + ce[near] + float(ce[np.argmin(cv)])
    keep[np.flatnonzero(near == top[i])] = True
    rest = [k for k in np.flatnonzero(keep) if near[k] != top[i]]
    near_s = (s_best,) + tuple(float(cs[near[k]]) for k in rest)
    dmap = {int(t): float(d) for t, d in zip(top, direct)}
    near_m = (best_m,) + tuple(dmap.get(int(near[k]), float(near_vals[k])) for k in rest)
    lower = min(max(0.0, lower_all / n), best_m)
    j = top[i]
    c2 = float(cc2[j]) / n
    scale_err = max(4 * np.finfo(float).eps * s_best, math.sqrt(2 * float(ce[j]) / n / c2) if c2 > 0 else 0.0)
    info.update(seconds=time.perf_counter() - t0, data_passes=passes, clusters_swept=nclusters,
                breakpoints_swept=int(swept), local_minima_near=int(near.size), near_optimal_truncated=bool(truncated),
                rtol=rtol)
    method = ("exact (streamed): histogram branch and bound + exact sweep of the remaining breakpoints in "
              "chunked passes (global, certified); near-optimal set within rtol of the best")
    pi2 = math.pi**2
    return FD.FormatScale(s_best, best_m, pi2 * best_m, fmt, method, scale_err, pi2 * lower, near_s, near_m,
                          amax_s, amax_m, info)
