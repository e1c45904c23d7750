"""Block scaling on data: the exact per-block optimal scale and the MSE of every rule.

Per block (elements ``x_1..x_k``, scale ``X``) the squared error
``SSE(X) = sum_i (x_i - X q(x_i / X))^2`` is piecewise quadratic in ``X``: element ``i``
changes level where ``X = |x_i| / mu_j`` (``mu_j`` the element format's midpoints of the
sign of ``x_i``).  With ``A(X) = sum_i l_i^2`` and ``B(X) = sum_i |x_i| |l_i|`` (``l_i`` the
level of ``x_i / X``, constant between breakpoints)

    SSE(X) = sum_i x_i^2 - 2 X B(X) + X^2 A(X).

The per-block optimum (:func:`oracle_scales`) runs in compiled kernels
(:mod:`quanttheory.blocks._kernels`, one pass over the blocks, memory ``O(nb)``) and only
looks at scales that can win (proofs in ``docs/blocks.md``, section 3):

* saturation: a scale with ``X ltop < M`` costs at least ``(M - X ltop)^2`` (the largest
  element saturates), so scales below ``(M - sqrt(best)) / ltop`` cannot win;
* dominance: if ``M <= T X`` (``T`` from :func:`_dominance_threshold`: 3.5 for E2M1 and INT4)
  and ``X / 2`` is representable, ``SSE(X / 2) <= SSE(X)``: larger scales need no look;
* all-zero: ``X > M / mu_min`` rounds every element to 0 (``SSE = sum x^2``).

* ``e4m3`` (times the tensor scale) and ``e8m0``: every code of that window is evaluated
  exactly (the code nearest the clip rule and the one mapping amax to the next level down
  first: the usual winners);
* ``real``: on the window the breakpoints cut ``SSE`` into quadratics; each piece's minimum
  is ``B / A`` clamped to the piece; the exact optimum is the best piece;
* ``fp16``: the same pieces; by convexity the best float16 value of a piece is one of the two
  float16 values around its clamped minimizer: the exact best float16 scale.

``block_data_report`` processes blocks in chunks of ``CHUNK_BLOCKS`` (memory
``O(chunk k)``).  A partial last block (``partial=True``) is padded with zeros: zeros
neither change the absmax nor add error (0 is a level of every element format), so its
optimum and its error are those of its own elements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .spec import (E8M0_MAX, E8M0_MIN, BlockFormat, _block_sse, _default_tensor_amax, _oracle_underflow,
                   _positive_values, _tensor_scale, as_blocks, block_scales, check_clip_multiplier, check_rule,
                   get_block_format)

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


@lru_cache(maxsize=None)
def _oracle_tables(element: str):
    """Element tables of the oracle kernels (see :mod:`quanttheory.blocks._kernels`):
    levels, midpoints, tie rule, dominance threshold ``T``, top levels, smallest midpoint
    magnitude, positive / negative (magnitude) midpoints and levels."""
    from .spec import element_format

    fmt = element_format(element)
    lv = np.ascontiguousarray(fmt.levels, dtype=np.float64)
    mids = np.ascontiguousarray(fmt.midpoints, dtype=np.float64)
    even = np.ascontiguousarray(fmt.even, dtype=np.bool_)
    T = _dominance_threshold(lv)
    pos_mid, pos_lv, neg_mid, neg_lv = _tables(fmt)
    # tie rule per midpoint m (between levels m and m+1): u == mids[m] goes up iff level m is odd
    up = np.ascontiguousarray(~even[:-1])
    kind, th, s0, lo, hi = _fast_params(fmt, lv, mids, up)
    par = np.zeros(3, np.int64)
    if kind == 2:  # step 2^(p_lo + clip(e - emin, 0, nt)): th = 2^(emin + 1), ..., 2^(emin + nt)
        p_lo = int(round(math.log2(s0)))
        emin = int(round(math.log2(th[0]))) - 1 if th.size else 0
        if 2.0 ** p_lo == s0 and np.array_equal(th, 2.0 ** (emin + 1 + np.arange(th.size))):
            par[:] = (p_lo, emin, th.size)
        else:
            kind = 1 if mids.size <= 32 else 0
    quant = (kind, lv, mids, up, th, s0, lo, hi, par)
    pos = lv[lv > 0]
    neg = -lv[lv < 0][::-1]
    l2p = float(pos[-2]) if pos.size > 1 else float(pos[-1])
    l2n = float(neg[-2]) if neg.size > 1 else (float(neg[-1]) if neg.size else 1.0)
    return quant, (max(T, 1e-300), float(lv[-1]), float(-lv[0]) if lv[0] < 0 else 0.0, l2p, l2n,
                   float(np.min(np.abs(mids)))), (pos_mid, pos_lv, neg_mid, neg_lv)


def _fast_params(fmt, lv, mids, up):
    """Kernel quantizer of the element format, verified against ``fmt.quantize``.

    kind 2 (arithmetic): ``clip(rint(u / st) st, lo, hi)`` with ``st = s0 2^#{b: |u| >= th[b]}``,
    for level sets that are a uniform grid (``th`` empty) or a symmetric minifloat (``th`` the
    binade starts where the step doubles); kind 1 (count over <= 32 midpoints); kind 0 (binary
    search).  The arithmetic form is accepted only if it reproduces ``fmt.quantize`` at every
    midpoint, one ulp either side of it, every level and 2000 points in and beyond the range."""
    from . import _kernels as K

    th = np.empty(0)
    lo, hi = float(lv[0]), float(lv[-1])
    d = np.diff(lv)
    cand = None
    if np.all(d == d[0]):
        cand = (np.empty(0), float(d[0]))
    elif lo == -hi:
        pos = lv[lv >= 0]
        st = np.diff(pos)
        jumps = np.flatnonzero(st[1:] != st[:-1]) + 1
        if np.all(st[jumps] == 2 * st[jumps - 1]) and np.all(np.isin(st, st[0] * 2.0 ** np.arange(64))):
            cand = (np.ascontiguousarray(pos[jumps], dtype=np.float64), float(st[0]))
    if cand is not None:
        th, s0 = cand
        test = np.concatenate([mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf), lv,
                               np.linspace(1.5 * lo - 1, 1.5 * hi + 1, 2001)])
        got = np.array([K._qfast_py(u, 2, lv, mids, up, th, s0, lo, hi) for u in test])
        if np.array_equal(got, np.asarray(fmt.quantize(test), dtype=np.float64) + 0.0):
            return 2, th, s0, lo, hi
    return (1 if mids.size <= 32 else 0), np.empty(0), 1.0, lo, hi


def _dominance_threshold(lv, extend: bool = True) -> float:
    """A ``T`` such that for every block with ``M / X <= T`` every element is at least as
    close to the grid ``(X/2) L`` as to ``X L`` (E2M1 and INT4: 3.5; ``extend=False``: the
    contained range only, 3 -- the earlier threshold, kept for the benchmark's A/B).

    Sufficient (and what is checked): with ``g+`` the smallest level ``>= T`` and ``g-`` the
    largest level ``<= -T``, every level in ``[g-, g+]`` is also in ``L / 2``.  Then for
    ``|x| <= M <= T X`` the nearest level of ``X L`` to ``x`` lies in ``X [g-, g+]`` (``X g+ >= x``
    and ``X g- <= x`` are levels), so it is a level of ``(X/2) L`` too.  The condition is
    monotone in ``T`` (a smaller ``T`` gives a sub-interval), so the scan stops at the first
    failure.  0 if no positive ``T`` works."""
    half = set((lv / 2.0).tolist())
    levels = lv.tolist()
    cands = sorted({abs(v) for v in levels if v != 0})
    T = 0.0
    ends = None
    for t in cands:
        up = [v for v in levels if v >= t]
        dn = [v for v in levels if v <= -t]
        if not up or not dn:
            break
        g_up, g_dn = min(up), max(dn)
        if all(v in half for v in levels if g_dn <= v <= g_up):
            T = t
            ends = (g_dn, g_up)
        else:
            break
    if ends is None or not extend:
        return T
    # extension to the midpoints beyond g- and g+: for g+ <= u <= (g+ + next level) / 2 the level
    # g+ is (one of) the nearest, so dist(u, L) = dist(u, L n [g-, g+]) >= dist(u, L / 2) still
    # (ties at the midpoint: equal distances).  g+ < max(L) (g+ is in L / 2), so a next level exists.
    g_dn, g_up = ends
    nxt_up = min(v for v in levels if v > g_up)
    nxt_dn = max(v for v in levels if v < g_dn)
    return min((g_up + nxt_up) / 2.0, -(g_dn + nxt_dn) / 2.0)


@lru_cache(maxsize=64)
def _code_table(scale_format: str, S: float):
    """Sorted positive scale values (E4M3 codes times ``S``; E8M0 ``2^E``), ``half_ok[j]``
    (``codes[j] / 2`` is also a value), the index from which every value has ``half_ok``, and
    whether the 0 scale (block to zero) exists."""
    if scale_format == "e8m0":
        codes = np.exp2(np.arange(E8M0_MIN, E8M0_MAX + 1, dtype=np.float64))
        half = np.ones(codes.size, np.bool_)
        half[0] = False
        zero = False
    else:
        b = np.asarray(_positive_values(scale_format), dtype=np.float64)
        bs = set(b.tolist())
        half = np.array([(v / 2.0) in bs for v in b.tolist()], dtype=np.bool_)
        codes = S * b
        zero = True
        if not (np.all(np.isfinite(codes)) and codes[0] > 0 and np.all(np.diff(codes) > 0)):
            raise ValueError(f"tensor scale {S!r} makes E4M3 block scales overflow or underflow float64; "
                             "rescale the data or pass a tensor_scale between 1e-290 and 1e290")
    bad = np.flatnonzero(~half)
    allhalf = int(bad[-1]) + 1 if bad.size else 0
    # first[e + 1100]: index of the first code >= 2^e (a starting point for the kernels' searches)
    first = np.searchsorted(codes, np.exp2(np.arange(-1100, 1024, dtype=np.float64)), side="left")
    first = first.astype(np.int64)
    # fine[key]: the first code >= the float64 with exponent and top 3 mantissa bits key (and
    # zero lower bits), key = (bits >> 49) & 0x3FFF: a start for the f32 kernel's searches
    starts = (np.arange(1 << 14, dtype=np.int64) << 49).view(np.float64)
    fine = np.searchsorted(codes, starts, side="left").astype(np.int16)
    fine[~np.isfinite(starts)] = codes.size
    with np.errstate(over="ignore", divide="ignore"):
        inv32 = (1.0 / codes).astype(np.float32)
    ok32 = (codes >= 2.0 ** -120) & (codes <= 2.0 ** 120)
    for a in (codes, half, first, fine, inv32, ok32):
        a.setflags(write=False)
    return codes, first, half, allhalf, zero, fine, inv32, ok32


def _magic_ok(s0, lo, hi) -> bool:
    """The float32 screen of ``oracle_f32`` rounds by ``(a + C) - C`` with
    ``C = 1.5 2^23 s0 2^b``: exact for a power-of-two step ``s0`` (C is then a float32 with
    spacing ``s0 2^b`` in its binade) and levels below ``2^22 s0`` (larger magnitudes clip)."""
    m, e = math.frexp(s0)
    f32 = all(float(np.float32(v)) == v for v in (lo, hi))   # the clip levels compared in float32
    return m == 0.5 and 2.0 ** -100 < s0 < 2.0 ** 80 and max(hi, -lo) < 2.0 ** 22 * s0 and f32


def _check_finite(flat):
    if not np.all(np.isfinite(flat)):
        raise ValueError("data contains NaN or infinity; remove or replace them before computing block scales")


def _as_2d_blocks(xb):
    flat = np.asarray(xb).reshape(-1, np.shape(xb)[-1])
    if flat.dtype not in (np.float32, np.float64):
        flat = flat.astype(np.float64)
    return np.ascontiguousarray(flat)


def oracle_scales(xb, bf: BlockFormat, *, tensor_scale=1.0, return_sse=False, return_counts=False):
    """Per-block optimal scale for blocks ``xb`` of shape ``(..., nb, k)`` (float32 or float64).

    E8M0 / E4M3 (times ``tensor_scale``): the exact best value of the scale set, trying only
    the values of a provably sufficient window (:mod:`quanttheory.blocks._kernels`);
    ``real``: the exact minimizer over ``X > 0``; ``fp16``: the exact best float16 value
    (piecewise-quadratic SSE on the window).  Ties: the smaller scale (E4M3/E8M0/fp16 start
    value excepted: the first found).  A zero E4M3 scale means the block is quantized to 0.
    One pass over the data in a compiled kernel; memory ``O(nb)``.  With ``return_sse`` also
    the blocks' squared errors; with ``return_counts`` the number of values (pieces) tried.
    NaN or infinite data raise ``ValueError`` (detected inside the float32 kernel at no extra
    pass; the other kernels check first).  ``xb`` must have at least 2 dimensions and a last
    axis of the format's block size ``bf.block`` (else ``ValueError``: use :func:`as_blocks`);
    bool arrays raise ``TypeError``."""
    from . import _kernels as K

    if not isinstance(bf, BlockFormat):
        raise TypeError(f"bf must be a BlockFormat (quanttheory.blocks.get_block_format(...)), got "
                        f"{type(bf).__name__}")
    if np.ndim(xb) < 2 or np.shape(xb)[-1] != bf.block:
        raise ValueError(f"xb must have shape (..., nblocks, {bf.block}) (blocks of the format's size "
                         f"k = {bf.block}), got shape {np.shape(xb)}; use quanttheory.blocks.as_blocks(x, "
                         f"{bf.block}) or get_block_format(..., block=k)")
    if np.asarray(xb).dtype.kind not in "fiu":
        raise TypeError(f"xb must be a real numeric array (cast bool with .astype(float)), got dtype "
                        f"{np.asarray(xb).dtype}")
    if bf.scale_format == "e4m3":  # validated (finite, > 0); ignored by the other scale formats
        tensor_scale = _tensor_scale(None, bf, 1.0 if tensor_scale is None else tensor_scale)
    shape = np.shape(xb)[:-1]
    flat = _as_2d_blocks(xb)
    nb = flat.shape[0]
    outX = np.empty(nb)
    outS = np.empty(nb if return_sse else 0)            # the float32 kernel writes these only if asked
    cnt = np.empty(nb if return_counts else 0, np.int64)
    quant, bounds, sides = _oracle_tables(bf.element)
    sf = bf.scale_format
    if sf in ("e8m0", "e4m3"):
        codes, first, half, allhalf, zero, fine, inv32, ok32 = _code_table(sf, float(tensor_scale) if sf == "e4m3"
                                                                            else 1.0)
        kind, lv, mids, up, th, s0, lo, hi, par = quant
        if kind == 2 and th.size <= 2 and _magic_ok(s0, lo, hi):
            t0 = float(th[0]) if th.size > 0 else math.inf
            t1 = float(th[1]) if th.size > 1 else math.inf
            T, ltop_p, ltop_n, mumin = bounds[0], bounds[1], bounds[2], bounds[5]
            nbad = K.oracle_f32(flat, codes, inv32, ok32, fine, half, allhalf, zero, sf == "e4m3", s0, t0, t1, lo,
                                hi, (1.0 + 2e-12) / T, ltop_p, ltop_n, mumin, bool(return_sse), bool(return_counts),
                                outX, outS, cnt)
            if nbad:
                _check_finite(flat)
                raise ValueError(f"{nbad} block(s) have a sum of squares that overflows float64 (|x| above ~1e154); "
                                 "rescale the data before computing block scales")
        else:
            _check_finite(flat)
            outS, cnt = np.empty(nb), np.empty(nb, np.int64)
            K.oracle_codes(flat, codes, first, half, allhalf, zero, *quant, *bounds, bool(return_sse), outX, outS, cnt)
    else:
        _check_finite(flat)
        outS, cnt = np.empty(nb), np.empty(nb, np.int64)
        K.oracle_pwq(flat, sf == "fp16", *quant, *bounds, *sides, outX, outS, cnt)
    out = (outX.reshape(shape),)
    if return_sse:
        out += (outS.reshape(shape),)
    if return_counts:
        out += (cnt.reshape(shape),)
    return out[0] if len(out) == 1 else out


def _oracle_chunk(ch, bf, S):
    """(X, SSE) of the oracle for blocks ``ch`` (nb, k)."""
    return oracle_scales(ch, bf, tensor_scale=S, return_sse=True)


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
    check_clip_multiplier(c)
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
    if xb.size == 0:
        raise ValueError(f"data is empty (shape {np.shape(x)}): a report of no data is undefined")
    amax = float(np.max(np.abs(xb)))
    if amax > 0:  # (all-zero data is exact: MSE 0) squares below TINY_DATA underflow: MSE 0, SQNR inf
        from ..risk.data import check_not_tiny

        check_not_tiny(amax)
    S = _tensor_scale(xb, bf, tensor_scale)
    A = _default_tensor_amax(xb, bf, tensor_scale)
    flat = xb.reshape(-1, bf.block)
    rows = flat.shape[0] // max(xb.shape[-2], 1)
    nel = flat.shape[0] * bf.block - rows * (xb.shape[-2] * bf.block - n)  # padding excluded
    # validate before computing: values whose squares overflow would print numpy warnings and give inf
    big = ValueError("data has values too large to square in float64 (the sum of squares overflows; |x| above "
                     "~1e154); rescale the data before computing block scales")
    with np.errstate(over="ignore"):
        s2 = float(np.sum(flat * flat))
    if not math.isfinite(s2):
        raise big
    acc = {r: [0.0, 0, 0, 0] for r in rules}
    fmt_e = bf.fmt
    lo, hi = float(fmt_e.levels[0]), float(fmt_e.levels[-1])
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is detected below and raised
        for i in range(0, flat.shape[0], CHUNK_BLOCKS):
            ch = flat[i:i + CHUNK_BLOCKS]
            M = np.max(np.abs(ch), axis=1)
            for r in rules:
                if r in ("floor", "ceil", "round", "clip"):
                    X, un, ov = block_scales(M, bf, r, c=c, tensor_scale=S, tensor_amax=A)
                    sse, _ = _block_sse(ch, X, fmt_e)
                elif r == "4over6":
                    X6, u6, o6 = block_scales(M, bf, "round", c=c, tensor_scale=S, tensor_amax=A)
                    X4, u4, o4 = block_scales(M, bf, "round", c=1.5 * c, tensor_scale=S, tensor_amax=A)
                    e6, _ = _block_sse(ch, X6, fmt_e)
                    e4, _ = _block_sse(ch, X4, fmt_e)
                    p4 = e4 < e6
                    X, un, ov, sse = np.where(p4, X4, X6), np.where(p4, u4, u6), np.where(p4, o4, o6), np.minimum(e4, e6)
                else:
                    X, sse = _oracle_chunk(ch, bf, S)
                    sse, q = _block_sse(ch, X, fmt_e)
                    un = _oracle_underflow(ch, q)
                    ov = np.zeros(X.shape, bool)
                Xs = np.where(X > 0, X, 1.0)[:, None]
                u = ch / Xs
                sat = np.count_nonzero(((u > hi * (1 + 1e-12)) | (u < lo * (1 + 1e-12))) & (X > 0)[:, None])
                a = acc[r]
                a[0] += float(np.sum(sse))
                a[1] += int(sat)
                a[2] += int(np.count_nonzero(un))
                a[3] += int(np.count_nonzero(ov))
    if not all(math.isfinite(acc[r][0]) for r in rules):
        raise big
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
