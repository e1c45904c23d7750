"""Block scaling on data: the exact per-block optimal scale and the MSE of every rule.

Per block (elements ``x_1..x_k``, scale ``X``) the squared error
``SSE(X) = sum_i (x_i - X q(x_i / X))^2`` is piecewise quadratic in ``X``: element ``i``
changes level where ``X = |x_i| / mu_j`` (``mu_j`` the element format's midpoints of the
sign of ``x_i``).  With ``A(X) = sum_i l_i^2`` and ``B(X) = sum_i |x_i| |l_i|`` (``l_i`` the
level of ``x_i / X``, constant between breakpoints)

    SSE(X) = sum_i x_i^2 - 2 X B(X) + X^2 A(X).

* ``real`` scales: on each interval between consecutive breakpoints the minimizer is
  ``B / A`` clamped to the interval; the exact optimum is the best interval optimum (the
  breakpoints sorted per block: ``k * n_mid`` values).
* ``e4m3`` scales (NVFP4): all 126 positive codes (and the 0 code: every element to 0)
  are *evaluated* through ``A, B`` read off the sorted breakpoints (one merged sort of
  ``k * n_mid + 127`` keys per block), not by quantizing the block 126 times.
* ``e8m0`` scales: every exponent that can win, each evaluated directly: from the OCP
  floor exponent upward until ``X >= 2 M / l_+`` (``l_+`` the smallest positive level:
  every element rounds to 0, ``SSE = sum x^2``, and the same for all larger ``X``), and
  downward while the max element's saturation error ``(M - X lmax)^2`` (a lower bound on
  ``SSE``) is below the best value found.
* ``fp16`` scales: the real optimum ``X*`` rounded to its two fp16 neighbours (NOT the exact
  fp16 optimum in general; documented as such).

Blocks are processed in chunks of ``CHUNK_BLOCKS`` so memory stays ``O(chunk * (k n_mid +
127))`` whatever the data size.  A partial last block (``partial=True``) is padded with
zeros: zeros neither change the absmax nor add error (0 is a level of every element
format), so its optimum and its error are those of its own elements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .spec import (E8M0_MAX, E8M0_MIN, BlockFormat, _block_sse, _positive_values, _tensor_scale,
                   as_blocks, block_scales, check_rule, get_block_format)

CHUNK_BLOCKS = 1 << 14


def _tables(fmt):
    """Positive-side and negative-side (magnitude) midpoints with level magnitudes below/above."""
    lv = np.asarray(fmt.levels, dtype=np.float64)
    mid = np.asarray(fmt.midpoints, dtype=np.float64)
    pos_mid = mid[mid > 0]
    pos_lv = lv[lv >= 0]                   # 0, l1, l2, ...
    neg_mid = -mid[mid < 0][::-1]
    neg_lv = -lv[lv <= 0][::-1]
    return pos_mid, pos_lv, neg_mid, neg_lv


def _breakpoints(xb, fmt):
    """For blocks (nb, k): breakpoints X (nb, P) and the jumps dA, dB crossing each one as X
    decreases (element moves one level up in magnitude)."""
    pos_mid, pos_lv, neg_mid, neg_lv = _tables(fmt)
    a = np.abs(xb)
    neg = xb < 0
    J = max(pos_mid.size, neg_mid.size)
    nb, k = xb.shape
    X = np.zeros((nb, k, J))
    dA = np.zeros((nb, k, J))
    dB = np.zeros((nb, k, J))
    for sign_mask, mids, lvs in ((~neg, pos_mid, pos_lv), (neg, neg_mid, neg_lv)):
        for j in range(mids.size):
            with np.errstate(divide="ignore"):
                X[..., j] = np.where(sign_mask, a / mids[j], X[..., j])
            dA[..., j] = np.where(sign_mask, lvs[j + 1] ** 2 - lvs[j] ** 2, dA[..., j])
            dB[..., j] = np.where(sign_mask, a * (lvs[j + 1] - lvs[j]), dB[..., j])
    return X.reshape(nb, -1), dA.reshape(nb, -1), dB.reshape(nb, -1)


def _real_oracle(xb, fmt):
    """Exact minimizer of SSE over X > 0 per block (nb,), and its SSE."""
    X, dA, dB = _breakpoints(xb, fmt)
    order = np.argsort(-X, axis=1, kind="stable")
    Xs = np.take_along_axis(X, order, 1)
    A = np.cumsum(np.take_along_axis(dA, order, 1), axis=1)
    B = np.cumsum(np.take_along_axis(dB, order, 1), axis=1)
    # after crossing breakpoint p (X just below Xs[p]) until Xs[p+1]
    hi = Xs
    lo = np.concatenate([Xs[:, 1:], np.zeros((Xs.shape[0], 1))], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        xo = np.where(A > 0, B / A, hi)
    xo = np.clip(xo, lo, hi)
    s2 = np.sum(xb * xb, axis=1)
    sse = s2[:, None] - 2 * xo * B + xo * xo * A
    sse = np.where(hi > 0, sse, np.inf)
    j = np.argmin(sse, axis=1)
    r = np.arange(xb.shape[0])
    best_x = xo[r, j]
    best = sse[r, j]
    allzero = ~np.isfinite(best) | (best >= s2)
    M = np.max(np.abs(xb), axis=1)
    lplus = float(np.min(np.abs(fmt.levels[fmt.levels != 0])))
    best_x = np.where(allzero, np.where(M > 0, 4 * M / lplus, 1.0), best_x)
    return best_x, np.minimum(np.where(np.isfinite(best), best, s2), s2)


def _e4m3_oracle(xb, fmt, S):
    """Best of the 126 positive E4M3 codes (times S) and the 0 code, per block."""
    X, dA, dB = _breakpoints(xb, fmt)
    cand = S * _positive_values("e4m3")
    nb = xb.shape[0]
    C = cand.size
    keys = np.concatenate([X, np.broadcast_to(cand, (nb, C))], axis=1)
    zA = np.concatenate([dA, np.zeros((nb, C))], axis=1)
    zB = np.concatenate([dB, np.zeros((nb, C))], axis=1)
    # descending X; at equal keys put candidates FIRST (SSE is continuous, any order is exact)
    tag = np.concatenate([np.ones(X.shape), np.zeros((nb, C))], axis=1)
    order = np.argsort(-keys, axis=1, kind="stable")
    A = np.cumsum(np.take_along_axis(zA, order, 1), axis=1)
    B = np.cumsum(np.take_along_axis(zB, order, 1), axis=1)
    ks = np.take_along_axis(keys, order, 1)
    isc = np.take_along_axis(tag, order, 1) == 0
    s2 = np.sum(xb * xb, axis=1)
    sse = s2[:, None] - 2 * ks * B + ks * ks * A
    sse = np.where(isc, sse, np.inf)
    j = np.argmin(sse, axis=1)
    r = np.arange(nb)
    bx = ks[r, j]
    bs = sse[r, j]
    zero = bs > s2  # the 0 code (block to 0) is better
    return np.where(zero, 0.0, bx), np.where(zero, s2, bs)


def _e8m0_oracle(xb, bf: BlockFormat):
    fmt = bf.fmt
    M = np.max(np.abs(xb), axis=1)
    Mp = np.where(M > 0, M, 1.0)
    _, ex = np.frexp(Mp)
    e0 = (ex - 1 - bf.emax).astype(np.int64)
    lplus = float(np.min(np.abs(fmt.levels[fmt.levels != 0])))
    e_top = np.ceil(np.log2(2 * Mp / lplus)).astype(np.int64) + 1
    s2 = np.sum(xb * xb, axis=1)
    best = s2.copy()
    bestE = np.clip(e_top, E8M0_MIN, E8M0_MAX).astype(np.float64)
    lo_e = np.clip(e0, E8M0_MIN, E8M0_MAX)
    hi_e = np.clip(e_top, E8M0_MIN, E8M0_MAX)
    for d in range(int(np.max(hi_e - lo_e)) + 1 if xb.shape[0] else 0):
        E = lo_e + d
        act = E <= hi_e
        X = np.exp2(E.astype(np.float64))
        sse, _ = _block_sse(xb, X, fmt)
        upd = act & (sse < best)
        best = np.where(upd, sse, best)
        bestE = np.where(upd, E, bestE)
    lmax_pos = float(fmt.levels[-1])
    E = lo_e - 1
    while True:
        X = np.exp2(E.astype(np.float64))
        act = (E >= E8M0_MIN) & ((M - X * lmax_pos) ** 2 < best)
        if not act.any():
            break
        sse, _ = _block_sse(xb, X, fmt)
        upd = act & (sse < best)
        best = np.where(upd, sse, best)
        bestE = np.where(upd, E, bestE)
        E = E - 1
    return np.exp2(bestE), best


def oracle_scales(xb, bf: BlockFormat, *, tensor_scale=1.0):
    """Per-block optimal scale for blocks ``xb`` of shape ``(..., nb, k)`` (chunked)."""
    shape = xb.shape[:-1]
    flat = xb.reshape(-1, xb.shape[-1])
    out = np.empty(flat.shape[0])
    for i in range(0, flat.shape[0], CHUNK_BLOCKS):
        ch = flat[i:i + CHUNK_BLOCKS]
        out[i:i + CHUNK_BLOCKS] = _oracle_chunk(ch, bf, tensor_scale)[0]
    return out.reshape(shape)


def _oracle_chunk(ch, bf, S):
    sf = bf.scale_format
    if sf == "e8m0":
        return _e8m0_oracle(ch, bf)
    if sf == "e4m3":
        return _e4m3_oracle(ch, bf.fmt, S)
    X, sse = _real_oracle(ch, bf.fmt)
    if sf == "fp16":
        from ..formats import get_format

        f16 = _positive_values("fp16")
        j = np.searchsorted(f16, X)
        best_x, best = None, None
        for cand in (f16[np.clip(j - 1, 0, f16.size - 1)], f16[np.clip(j, 0, f16.size - 1)]):
            s, _ = _block_sse(ch, cand, bf.fmt)
            if best is None:
                best_x, best = cand, s
            else:
                upd = s < best
                best_x, best = np.where(upd, cand, best_x), np.where(upd, s, best)
        del get_format
        return best_x, best
    return X, sse


@dataclass(frozen=True)
class BlockDataReport:
    """MSE of one rule on data: ``mse`` (mean squared error per element, data units^2),
    ``sqnr_db`` (``10 log10(sum x^2 / sum err^2)``), ``saturation_rate`` (elements with
    ``|x| / X`` beyond the element range / elements), ``scale_underflow_rate`` /
    ``scale_overflow_rate`` (per block), ``gap_db`` (SQNR of the oracle minus this rule)."""

    rule: str
    mse: float
    sqnr_db: float
    saturation_rate: float
    scale_underflow_rate: float
    scale_overflow_rate: float
    gap_db: float


def block_data_report(x, fmt, *, rules=None, axis=-1, block=None, scale_format=None, c=1.0, tensor_scale=None,
                      partial=False) -> list[BlockDataReport]:
    """MSE, SQNR, saturation and scale range failures of every rule on the same data.

    The oracle is included (and ``gap_db`` is measured against it).  Memory: blocks are
    processed in chunks of :data:`CHUNK_BLOCKS`."""
    bf = get_block_format(fmt, block=block, scale_format=scale_format)
    if rules is None:
        rules = ["floor", "ceil", "round", "oracle"] if bf.scale_format == "e8m0" else ["round", "ceil", "floor",
                                                                                          "oracle"]
        if bf.scale_format == "real":
            rules = ["clip", "oracle"]
        if bf.scale_format == "fp16":
            rules = ["clip", "oracle"]
        if bf.element == "e2m1" and bf.scale_format != "e8m0":
            rules.insert(-1, "4over6")
    rules = [check_rule(r, bf) for r in rules]
    if "oracle" not in rules:
        rules = rules + ["oracle"]
    xb, n, _ = as_blocks(x, bf.block, axis, partial)
    S = _tensor_scale(xb, bf, tensor_scale)
    flat = xb.reshape(-1, bf.block)
    rows = flat.shape[0] // max(xb.shape[-2], 1)
    nel = flat.shape[0] * bf.block - rows * (xb.shape[-2] * bf.block - n)  # padding excluded
    s2 = float(np.sum(flat * flat))
    acc = {r: [0.0, 0, 0, 0] for r in rules}
    fmt_e = bf.fmt
    lo, hi = float(fmt_e.levels[0]), float(fmt_e.levels[-1])
    for i in range(0, flat.shape[0], CHUNK_BLOCKS):
        ch = flat[i:i + CHUNK_BLOCKS]
        M = np.max(np.abs(ch), axis=1)
        for r in rules:
            if r in ("floor", "ceil", "round", "clip"):
                X, un, ov = block_scales(M, bf, r, c=c, tensor_scale=S)
                sse, _ = _block_sse(ch, X, fmt_e)
            elif r == "4over6":
                X6, u6, o6 = block_scales(M, bf, "round", c=c, tensor_scale=S)
                X4, u4, o4 = block_scales(M, bf, "round", c=1.5 * c, tensor_scale=S)
                e6, _ = _block_sse(ch, X6, fmt_e)
                e4, _ = _block_sse(ch, X4, fmt_e)
                p4 = e4 < e6
                X, un, ov, sse = np.where(p4, X4, X6), np.where(p4, u4, u6), np.where(p4, o4, o6), np.minimum(e4, e6)
            else:
                X, sse = _oracle_chunk(ch, bf, S)
                sse = _block_sse(ch, X, fmt_e)[0]
                un = np.zeros(X.shape, bool)
                ov = un
            Xs = np.where(X > 0, X, 1.0)[:, None]
            u = ch / Xs
            sat = np.count_nonzero(((u > hi * (1 + 1e-12)) | (u < lo * (1 + 1e-12))) & (X > 0)[:, None])
            a = acc[r]
            a[0] += float(np.sum(sse))
            a[1] += int(sat)
            a[2] += int(np.count_nonzero(un))
            a[3] += int(np.count_nonzero(ov))
    nblk = flat.shape[0]

    def db(e):
        return 10 * math.log10(s2 / e) if e > 0 and s2 > 0 else math.inf

    o = db(acc["oracle"][0])
    out = []
    for r in rules:
        e, sat, un, ov = acc[r]
        sq = db(e)
        out.append(BlockDataReport(r, e / nel, sq, sat / nel, un / nblk, ov / nblk,
                                   (o - sq) if math.isfinite(o) and math.isfinite(sq) else 0.0))
    return out
