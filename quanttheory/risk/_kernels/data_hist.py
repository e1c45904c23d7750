"""Numba kernel of the fused validation + (count, sum) histogram pass of the data optimum (private).

Same bins and block structure as :func:`quanttheory.risk._kernels.data.hist_stats`, but each
bin keeps only ``(count, sum |x|)``: two scattered additions per value instead of three
(measured at n = 1e7, 2^10 sub-bins, CPU time: ~8 instead of ~11 NumPy passes for float64).
The sum of squares of a bin is bounded from the two (:meth:`quanttheory.risk.data_search._Hist.fused`):
``S**2 / c <= sum v**2 <= (lo + hi) S - c lo hi`` for ``c`` values in ``[lo, hi]``.
float32 data take :func:`hist_ci32` instead: one scattered int64 addition per value (count and the
sum of the values' low mantissa bits per bin, from which the bin's sum of ``|x|`` is exact up to its
conversion to float64; :func:`ci32_flush`, :func:`ci32_shift`, :func:`ci32_to_cs`).
Kept in its own file (the numba cache does not see changes of callees in other files).
"""

from __future__ import annotations

import math

import numba
import numpy as np

BLOCK = 4096  # = quanttheory.risk._kernels.data.BLOCK


@numba.njit(cache=True)
def hist_cs(x, bits, i0, off, sh, sgs, mask, nb, h):
    """``h`` (flat, [side][bin][count, sum |x|]) += the values of ``x`` from position ``i0`` (a
    multiple of ``BLOCK``).  Per block of ``BLOCK`` values a branchless (vectorized) loop writes each
    value's flat offset and ``|x|`` as float64 and the block's largest bin index; a block holding a
    value beyond the last bin (``nb - 1``; NaN and inf included: their IEEE bits exceed any finite
    value's) is not binned and its start is returned, else -1 after the whole chunk.  The scatter
    loop then only adds.  ``bits``: ``x`` viewed as int32/int64, ``sh`` = mantissa bits - m,
    ``sgs`` the sign bit, ``mask`` all bits but the sign, ``off`` = the first bin's exponent and
    sub-bin bits.  No extrema: the caller reads them (to a bin) from the histogram."""
    n = x.size
    kb = np.empty(BLOCK, dtype=np.int64)
    vb = np.empty(BLOCK)
    for b0 in range(i0, n, BLOCK):
        b1 = min(n, b0 + BLOCK)
        jmax = np.int64(0)
        for i in range(b0, b1):
            b = np.int64(bits[i])
            j = max(((b & mask) >> sh) - off + 1, 0)
            jmax = max(jmax, j)
            kb[i - b0] = 2 * (nb * ((b >> sgs) & 1) + j)
            vb[i - b0] = abs(np.float64(x[i]))
        if jmax >= nb:
            return b0
        for t in range(b1 - b0):
            k = kb[t]
            h[k] += 1.0
            h[k + 1] += vb[t]
    return -1


@numba.njit(cache=True)
def _two_sum_step(hi, lo, x):
    t = hi + x
    bp = t - hi
    return t, lo + ((hi - (t - bp)) + (x - bp))


@numba.njit(cache=True)
def finish_cs(h2, nb, e_lo, m, ctot, h3, hu, P0, P1, P0u, P1u):
    """From the (count, sum) histogram ``h2`` (flat [side][bin][2]): ``h3`` and ``hu`` (flat
    [side][bin][3]: count, sum, and a lower / an upper bound of the bin's sum of squares) and their
    double-word prefix sums (layout of :func:`quanttheory.risk._kernels.data.prefix_sums`, the same
    additions in the same order), in one loop.  Bounds for ``c`` values of sum ``S`` in the bin
    ``[lo, hi)``: ``S**2 / c (1 - (2 c + 8) eps)`` and ``((lo + hi) S - c lo hi) (1 + (4 c + 16) eps)``
    (see :func:`quanttheory.risk.data_search._sumsq_bounds`).  ``ctot`` = the total count (only
    for the documentation of the caller; the counts are exact in float64 below 2**53)."""
    eps = 2.0**-52
    sc = 1.0 / (1 << m)
    for side in range(2):
        P = P0 if side == 0 else P1
        Pu = P0u if side == 0 else P1u
        for c in range(6):
            P[0, c] = 0.0
            Pu[0, c] = 0.0
        h0 = 0.0
        l0 = 0.0
        h1 = 0.0
        l1 = 0.0
        h2l = 0.0
        l2l = 0.0
        h2u = 0.0
        l2u = 0.0
        lo = 0.0
        # upper edge of bin j = lower edge of bin j + 1 = 2**(e-1) (1 + sub / 2**m), e = e_lo + (j >> m),
        # sub = j & (2**m - 1): the octave's power of two times (1 + sub sc), both exact (normal range)
        sub_mask = (1 << m) - 1
        octave = math.ldexp(1.0, e_lo - 1)
        for j in range(nb):
            sub = j & sub_mask
            if sub == 0 and j > 0:
                octave *= 2.0
            hi = octave * (1.0 + sub * sc)
            k = 2 * (side * nb + j)
            cnt = h2[k]
            s = h2[k + 1]
            if cnt > 0.0:
                ql = s * s / cnt * (1.0 - (2.0 * cnt + 8.0) * eps)
                qu = ((lo + hi) * s - cnt * (lo * hi)) * (1.0 + (4.0 * cnt + 16.0) * eps)
                if qu < ql:
                    qu = ql
            else:
                ql = 0.0
                qu = 0.0
            kk = 3 * (side * nb + j)
            h3[kk] = cnt
            h3[kk + 1] = s
            h3[kk + 2] = ql
            hu[kk] = cnt
            hu[kk + 1] = s
            hu[kk + 2] = qu
            h0, l0 = _two_sum_step(h0, l0, cnt)
            h1, l1 = _two_sum_step(h1, l1, s)
            h2l, l2l = _two_sum_step(h2l, l2l, ql)
            h2u, l2u = _two_sum_step(h2u, l2u, qu)
            P[j + 1, 0] = h0
            P[j + 1, 1] = h1
            P[j + 1, 2] = h2l
            P[j + 1, 3] = l0
            P[j + 1, 4] = l1
            P[j + 1, 5] = l2l
            Pu[j + 1, 0] = h0
            Pu[j + 1, 1] = h1
            Pu[j + 1, 2] = h2u
            Pu[j + 1, 3] = l0
            Pu[j + 1, 4] = l1
            Pu[j + 1, 5] = l2u
            lo = hi



CNT_SHIFT = 40  # hist_ci32: a bin's int64 = count * 2**40 + sum of the values' low bits


@numba.njit(cache=True)
def hist_ci32(x, bits, i0, i1, off, sh, nb, hi, s0):
    """float32 ``x`` (``bits``: ``x`` viewed as int32): ``hi`` (int64, flat [side][bin]) +=
    ``2**CNT_SHIFT + (bits & (2**sh - 1))`` for every value of ``x[i0:i1]`` (``i0`` a multiple of
    ``BLOCK``; the caller keeps ``i1 - i0 < 2**23`` values per ``hi`` and ``sh <= 17``, so neither
    field overflows).  A bin ``j >= 1`` is one octave and one sub-bin (the bits above the low ``sh``
    bits of ``|x|`` are the bin), so the count and the low-bit sum give the bin's exact sum of
    ``|x|`` (:func:`ci32_flush`).  Bin 0 mixes exponents: its ``|x|`` are also added, in order, to
    ``s0[side]`` (float64).  One scattered integer addition per value (two float64 ones in
    :func:`hist_cs`).  A block holding a value beyond the last bin (NaN/inf included) is not binned
    and its start is returned, else -1 (as :func:`hist_cs`)."""
    # unsigned offsets: numba then indexes without the negative-index wrap-around; the index loop in
    # int32 lanes (measured at n = 1e7, 2^10 sub-bins: 8.4 -> ~5-7 NumPy passes); the addends'
    # low bits are computed in the vectorized loop
    kb = np.empty(BLOCK, dtype=np.uint32)
    ab = np.empty(BLOCK, dtype=np.int32)
    low = np.int32((1 << sh) - 1)
    one = np.int64(1) << CNT_SHIFT
    sh32 = np.int32(sh)
    offm1 = np.int32(off - 1)  # off < 2**21: (e_lo + 126) << m with m <= 12
    nb32 = np.int32(nb)
    for b0 in range(i0, i1, BLOCK):
        b1 = min(i1, b0 + BLOCK)
        jmax = np.int32(0)
        tiny = np.int32(0)
        for i in range(b0, b1):
            b = bits[i]
            a = b & np.int32(0x7FFFFFFF)
            j = max((a >> sh32) - offm1, np.int32(0))
            jmax = max(jmax, j)
            tiny |= (j == 0) & (a != 0)
            kb[i - b0] = np.uint32(nb32 * ((b >> np.int32(31)) & np.int32(1)) + j)
            ab[i - b0] = b & low
        if jmax >= nb32:
            return b0
        for t in range(b1 - b0):
            hi[kb[t]] += one + ab[t]
        if tiny:  # non-zero values in bin 0 (either side; zeros add nothing to the sums)
            for t in range(b1 - b0):
                k = kb[t]
                if k == 0:
                    s0[0] += abs(np.float64(x[b0 + t]))
                elif k == nb32:
                    s0[1] += abs(np.float64(x[b0 + t]))
    return -1


@numba.njit(cache=True)
def ci32_flush(hi, nb, C, L):
    """``C`` += the counts, ``L`` += the low-bit sums of :func:`hist_ci32`'s ``hi``; ``hi`` = 0."""
    msk = (np.int64(1) << CNT_SHIFT) - 1
    for k in range(2 * nb):
        v = hi[k]
        C[k] += v >> CNT_SHIFT
        L[k] += v & msk
        hi[k] = 0


@numba.njit(cache=True)
def ci32_to_cs(C, L, s0, nb, e_lo, m, sh, h):
    """``h`` (flat [side][bin][count, sum |x|], float64) += the bins of :func:`hist_ci32`: bin
    ``j >= 1`` (octave ``e = e_lo + (j - 1) >> m``, lower edge ``lo = 2**(e-1) (1 + sub / 2**m)``)
    holds values ``lo + 2**(e-1-23) r`` with ``r`` their low ``sh`` bits, so its sum is
    ``c lo + 2**(e-24) L``: ``c lo`` is exact (``c < 2**40``, ``lo`` has ``m + 1 <= 13``
    significant bits), ``L`` is rounded once to float64 and the sum once more (``<= 2 u``, ``u =
    2**-53``, relative to the sum).  Bin 0: ``s0[side]`` (a sequential float64 sum)."""
    sc = 1.0 / (1 << m)
    sub_mask = (1 << m) - 1
    for side in range(2):
        k0 = 2 * side * nb
        h[k0] += np.float64(C[side * nb])
        h[k0 + 1] += s0[side]
        octave = math.ldexp(1.0, e_lo - 1)
        ulp = math.ldexp(1.0, e_lo - 24)
        for j in range(1, nb):
            sub = (j - 1) & sub_mask
            if sub == 0 and j > 1:
                octave *= 2.0
                ulp *= 2.0
            c = C[side * nb + j]
            if c != 0:
                lo = octave * (1.0 + sub * sc)
                k = 2 * (side * nb + j)
                h[k] += np.float64(c)
                h[k + 1] += np.float64(c) * lo + np.float64(L[side * nb + j]) * ulp


@numba.njit(cache=True)
def ci32_shift(C, L, s0, nb, e_lo, m, d):
    """Widen :func:`hist_ci32`'s bins (already flushed to ``C``, ``L``) by ``d / 2**m`` whole
    octaves: bins ``1..d`` merge into bin 0 (their exact sums, :func:`ci32_to_cs`'s formula, added
    in order to ``s0[side]``, their counts to bin 0), bin ``j > d`` moves to ``j - d`` (same octave
    and sub-bin: its low-bit sum stays valid), the top ``d`` bins are emptied.  ``e_lo``: the old
    first octave."""
    sc = 1.0 / (1 << m)
    sub_mask = (1 << m) - 1
    for side in range(2):
        base = side * nb
        octave = math.ldexp(1.0, e_lo - 1)
        ulp = math.ldexp(1.0, e_lo - 24)
        for j in range(1, min(d, nb - 1) + 1):  # d >= nb: every bin merges into bin 0
            sub = (j - 1) & sub_mask
            if sub == 0 and j > 1:
                octave *= 2.0
                ulp *= 2.0
            c = C[base + j]
            if c != 0:
                s0[side] += np.float64(c) * (octave * (1.0 + sub * sc)) + np.float64(L[base + j]) * ulp
                C[base] += c
        for j in range(1, nb - d):
            C[base + j] = C[base + j + d]
            L[base + j] = L[base + j + d]
        for j in range(max(nb - d, 1), nb):
            C[base + j] = 0
            L[base + j] = 0
