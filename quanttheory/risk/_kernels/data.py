"""Numba kernels of the empirical (data) scale-factor engine (private).

All inputs are validated by :mod:`quanttheory.laws.atoms` and
:mod:`quanttheory.risk.data` before these run:
1-D contiguous float32/float64 chunks, finite values, positive scales, grid tops
``T >= 0``.  Values are split by sign into two *sides*: side 0 holds ``v = x``
for ``x >= 0`` (grid top ``Tp = r_t``), side 1 holds ``v = -x`` for ``x < 0``
(grid top ``Tn = -r_b``; ``0`` for unsigned grids).  On a side with top ``T``
the error of ``v`` at scale ``s`` is ``(v - s * min(rint(v / s), T))**2``,
exactly ``(x - Q_U(x))**2`` of :func:`quanttheory.formats.grid.quantize`.

Histogram bins are floating-point (log-linear) bins: with ``m`` sub-bits, bin
``j >= 1`` holds ``[2**(e-1) (1 + sub/2**m), 2**(e-1) (1 + (sub+1)/2**m))``
with ``e = e_lo + (j-1) >> m`` and ``sub = (j-1) & (2**m - 1)``; bin 0 holds
``[0, 2**(e_lo-1))``.  The bin of a value is read from its IEEE bits.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

EPS = 2.0**-52
BLOCK = 4096  # blocked-summation size; quanttheory.risk.data.BLOCK and laws._kernels.BLOCK must match (tested)


@numba.njit(cache=True)
def hist_chunk64(x, off, m, nb, h):
    """Add float64 chunk ``x`` to histogram ``h`` (flat, [side][bin][count, sum v, sum v^2])."""
    bits = x.view(np.int64)
    mask = np.int64(0x7FFFFFFFFFFFFFFF)
    sh = 52 - m
    for i in range(x.size):
        b = bits[i]
        side = nb * ((b >> 63) & 1)  # branchless: random signs defeat the branch predictor
        j = max(((b & mask) >> sh) - off + 1, 0)
        v = abs(x[i])
        k = 3 * (side + j)
        h[k] += 1.0
        h[k + 1] += v
        h[k + 2] += v * v


@numba.njit(cache=True)
def hist_chunk32(x, off, m, nb, h):
    """Same as :func:`hist_chunk64` for float32 chunks."""
    bits = x.view(np.int32)
    mask = np.int32(0x7FFFFFFF)
    sh = 23 - m
    for i in range(x.size):
        b = bits[i]
        side = nb * np.int64((b >> 31) & 1)
        j = max(np.int64((b & mask) >> sh) - off + 1, 0)
        v = abs(np.float64(x[i]))
        k = 3 * (side + j)
        h[k] += 1.0
        h[k + 1] += v
        h[k + 2] += v * v


@numba.njit(cache=True)
def prefix_sums(h, nb, side, P):
    """Double-word prefix sums: ``P[j, c] + P[j, c+3] = sum_{i < j} h[side, i, c]``.

    ``P`` has shape (nb+1, 6) (one cache line per bin).  The high word is the float64 running sum, the low
    word accumulates the exact TwoSum rounding errors, so a range sum
    ``(P[j1, c] - P[j0, c]) + (P[j1, c+3] - P[j0, c+3])`` is accurate to about
    ``eps`` times the *range* sum (plus ``nb eps**2`` times the total), not
    ``eps`` times the cumulative total.
    """
    his = np.zeros(3)
    los = np.zeros(3)
    for c in range(6):
        P[0, c] = 0.0
    base = 3 * side * nb
    for j in range(nb):
        for c in range(3):
            x = h[base + 3 * j + c]
            hi = his[c]
            t = hi + x
            bp = t - hi
            los[c] += (hi - (t - bp)) + (x - bp)
            his[c] = t
            P[j + 1, c] = t
            P[j + 1, c + 3] = los[c]


@numba.njit(cache=True)
def bin_of(v, e_lo, m, nb, buf, ibuf):
    """Bin index of value ``v >= 0`` (``nb`` if beyond the last bin); ``ibuf`` is an int64 view of ``buf``."""
    if v == math.inf:
        return nb
    buf[0] = v
    j = (ibuf[0] >> (52 - m)) - ((e_lo + 1022) << m) + 1
    if j < 0:
        j = 0
    if j > nb:
        j = nb
    return j


@numba.njit(cache=True)
def bin_lower(j, e_lo, m):
    if j <= 0:
        return 0.0
    q = j - 1
    e = e_lo + (q >> m)
    sub = q & ((1 << m) - 1)
    return math.ldexp(1.0 + sub / (1 << m), e - 1)


@numba.njit(cache=True)
def eval_pieces(bnd, cen, isz, npc, h, side, P, nb, e_lo, m, buf, ibuf):
    """Bounds on ``sum_v g(v)`` over one side's histogram.

    ``g`` is piecewise: on ``[bnd[p], bnd[p+1])`` (``bnd[npc] = inf``) it is
    ``(v - cen[p])**2``, or 0 if ``isz[p]``.  Interior bins of a piece are summed
    exactly from prefix sums; a bin containing a piece boundary contributes
    ``count * min g`` over the bin to the lower bound and the best single-piece
    sum to the upper bound (valid when ``g = min_p (v - cen[p])**2``).
    Returns (lower, upper, rounding error bound).
    """
    lb = 0.0
    ub = 0.0
    err = 0.0
    base = side * nb
    # walk pieces; jprev = bin of the left boundary of the current piece (-1 for the first)
    jprev = -1
    p = 0
    while p < npc:
        # right boundary bin of piece p
        if p + 1 < npc:
            jr = bin_of(bnd[p + 1], e_lo, m, nb, buf, ibuf)
        else:
            jr = nb
        # interior bins (jprev, jr)
        j0 = jprev + 1
        j1 = jr
        if j1 > nb:
            j1 = nb
        if j1 > j0 and not isz[p]:
            a = cen[p]
            d0 = (P[j1, 0] - P[j0, 0]) + (P[j1, 3] - P[j0, 3])
            d1 = (P[j1, 1] - P[j0, 1]) + (P[j1, 4] - P[j0, 4])
            d2 = (P[j1, 2] - P[j0, 2]) + (P[j1, 5] - P[j0, 5])
            val = d2 - 2.0 * a * d1 + a * a * d0
            # rounding: range sums to ~3 eps relative, the combination to ~4 eps of its terms,
            # stored prefix words to nb eps^2 of the totals
            err += 8.0 * EPS * (d2 + 2.0 * a * abs(d1) + a * a * d0) + 4.0 * nb * EPS * EPS * (
                P[nb, 2] + 2.0 * a * P[nb, 1] + a * a * P[nb, 0])
            if val < 0.0:
                val = 0.0
            lb += val
            ub += val
        if jr >= nb:
            break
        # boundary bin jr: find all pieces q with a boundary in it: p+1 .. r
        r = p + 1
        while r + 1 < npc and bin_of(bnd[r + 1], e_lo, m, nb, buf, ibuf) == jr:
            r += 1
        k = 3 * (base + jr)
        cnt = h[k]
        if cnt > 0.0:
            lo = bin_lower(jr, e_lo, m)
            hi = bin_lower(jr + 1, e_lo, m)
            s1 = h[k + 1]
            s2 = h[k + 2]
            best_lb = math.inf
            best_ub = math.inf
            for q in range(p, r + 1):
                if isz[q]:
                    best_lb = 0.0
                    best_ub = 0.0  # only meaningful for lower-bound use
                    continue
                a = cen[q]
                left = lo if bnd[q] < lo else bnd[q]
                right = hi
                if q + 1 < npc and bnd[q + 1] < hi:
                    right = bnd[q + 1]
                # distance from a to [left, right]
                if a < left:
                    d = left - a
                elif a > right:
                    d = a - right
                else:
                    d = 0.0
                if d * d < best_lb:
                    best_lb = d * d
                full = s2 - 2.0 * a * s1 + a * a * cnt
                err += 4.0 * EPS * (s2 + 2.0 * a * s1 + a * a * cnt)
                if full < 0.0:
                    full = 0.0
                if full < best_ub:
                    best_ub = full
            lb += cnt * best_lb
            ub += best_ub
        jprev = jr
        p = r
    return lb, ub, err


@numba.njit(cache=True)
def _fixed_pieces(s, T, bnd, cen, isz):
    """Pieces of ``g(v) = (v - s min(rint(v/s), T))**2``; returns their number."""
    bnd[0] = 0.0
    cen[0] = 0.0
    isz[0] = False
    for k in range(1, T + 1):
        bnd[k] = (k - 0.5) * s
        cen[k] = k * s
        isz[k] = False
    return T + 1


@numba.njit(cache=True)
def _interval_pieces(s1, s2, T, bnd, cen, isz):
    """Pieces of ``g(v) = dist(v, {0} U [k s1, k s2], k = 1..T)**2``; returns their number."""
    if T == 0:
        bnd[0] = 0.0
        cen[0] = 0.0
        isz[0] = False
        return 1
    n = 0
    if s1 > 0.0:
        bnd[0] = 0.0
        cen[0] = 0.0
        isz[0] = False
        bnd[1] = 0.5 * s1
        cen[1] = s1
        isz[1] = False
        bnd[2] = s1
        cen[2] = 0.0
        isz[2] = True
        n = 3
    else:
        bnd[0] = 0.0
        cen[0] = 0.0
        isz[0] = True
        n = 1
    for k in range(1, T):
        a = k * s2
        c = (k + 1) * s1
        if c > a:
            bnd[n] = a
            cen[n] = a
            isz[n] = False
            bnd[n + 1] = 0.5 * (a + c)
            cen[n + 1] = c
            isz[n + 1] = False
            bnd[n + 2] = c
            cen[n + 2] = 0.0
            isz[n + 2] = True
            n += 3
    bnd[n] = T * s2
    cen[n] = T * s2
    isz[n] = False
    return n + 1


@numba.njit(cache=True)
def interval_lower_bounds(s1s, s2s, h, nb, e_lo, m, P0, P1, Tp, Tn, out):
    """``out[i]`` = rigorous lower bound of ``sum (x - Q(x))**2`` over ``s in [s1s[i], s2s[i]]``."""
    nmax = 3 * max(Tp, Tn) + 4
    buf = np.empty(1)
    ibuf = buf.view(np.int64)
    bnd = np.empty(nmax)
    cen = np.empty(nmax)
    isz = np.empty(nmax, dtype=np.bool_)
    for i in range(s1s.size):
        tot = 0.0
        err = 0.0
        npc = _interval_pieces(s1s[i], s2s[i], Tp, bnd, cen, isz)
        lb, ub, e = eval_pieces(bnd, cen, isz, npc, h, 0, P0, nb, e_lo, m, buf, ibuf)
        tot += lb
        err += e
        npc = _interval_pieces(s1s[i], s2s[i], Tn, bnd, cen, isz)
        lb, ub, e = eval_pieces(bnd, cen, isz, npc, h, 1, P1, nb, e_lo, m, buf, ibuf)
        tot += lb
        err += e
        out[i] = tot - err


@numba.njit(cache=True)
def fixed_bounds(ss, h, nb, e_lo, m, P0, P1, Tp, Tn, lo_out, hi_out):
    """Lower and upper bounds of ``sum (x - Q(x))**2`` at each fixed scale ``ss[i]``."""
    nmax = max(Tp, Tn) + 2
    buf = np.empty(1)
    ibuf = buf.view(np.int64)
    bnd = np.empty(nmax)
    cen = np.empty(nmax)
    isz = np.empty(nmax, dtype=np.bool_)
    for i in range(ss.size):
        npc = _fixed_pieces(ss[i], Tp, bnd, cen, isz)
        lb0, ub0, e0 = eval_pieces(bnd, cen, isz, npc, h, 0, P0, nb, e_lo, m, buf, ibuf)
        npc = _fixed_pieces(ss[i], Tn, bnd, cen, isz)
        lb1, ub1, e1 = eval_pieces(bnd, cen, isz, npc, h, 1, P1, nb, e_lo, m, buf, ibuf)
        lo_out[i] = lb0 + lb1 - e0 - e1
        hi_out[i] = ub0 + ub1 + e0 + e1


# reassociation only (no nnan/ninf/contract): lets LLVM vectorize the block sums; any order of the
# BLOCK additions of a block has the same rounding bound (BLOCK eps of the sum of the terms)
FM_SUM = {"reassoc"}


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` with one rounding (LLVM ``llvm.fma.f64``; a hardware FMA on x86-64 with FMA3,
    else libm's correctly rounded ``fma``).  The call carries the flag ``contract`` only, so the
    fastmath pass of a ``reassoc`` caller leaves it alone and it is never split into a product and
    a sum."""
    if not (a == b == c == types.float64):
        return None

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args, fastmath=("contract",))

    return types.float64(types.float64, types.float64, types.float64), codegen


@numba.njit(cache=True, fastmath=FM_SUM)
def _msqe_block(x, b0, b1, s, Tm, Th):
    acc = 0.0
    for i in range(b0, b1):
        # branchless side (random signs defeat the branch predictor: 4x slower); the side of
        # -0.0 does not matter (k = 0, d = 0)
        xi = np.float64(x[i])
        v = abs(xi)
        T = Tm + Th * math.copysign(1.0, xi)
        k = min(np.rint(v / s), T)
        d = _fma(-k, s, v)  # v - k s with one rounding: a small residual keeps its relative accuracy
        acc += d * d
    return acc


@numba.njit(cache=True)
def msqe_sums(x, ss, Tp, Tn, out):
    """``out[j] += sum_i (x_i - Q(x_i; ss[j]))**2`` (blocked summation; ``x_i / s`` as in grid.quantize).

    Each block's sum is vectorized (:data:`FM_SUM`: the additions of one block in any order)."""
    n = x.size
    Tm = 0.5 * (Tp + Tn)  # exact (integers): T = Tp for x > 0, Tn for x < 0
    Th = 0.5 * (Tp - Tn)
    for b0 in range(0, n, BLOCK):
        b1 = min(n, b0 + BLOCK)
        for j in range(ss.size):
            out[j] += _msqe_block(x, b0, b1, ss[j], Tm, Th)


@numba.njit(cache=True)
def builtin_sums(x, ss, code, r_b, r_t, out):
    """``out[j] += sum_i s**2 phi(x_i / s)`` for built-in QSin (1) / SinReQ (2)."""
    n = x.size
    pi = math.pi
    for j in range(ss.size):
        s = ss[j]
        tot = 0.0
        for b0 in range(0, n, BLOCK):
            b1 = min(n, b0 + BLOCK)
            acc = 0.0
            for i in range(b0, b1):
                u = np.float64(x[i]) / s
                if code == 1 and u < r_b:
                    val = pi * pi * (u - r_b) ** 2
                elif code == 1 and u > r_t:
                    val = pi * pi * (u - r_t) ** 2
                else:
                    sn = math.sin(pi * (u - np.rint(u)))
                    val = sn * sn
                acc += val
            tot += acc
        out[j] += tot * s * s


@numba.njit(cache=True, fastmath=FM_SUM)
def _shist_block(x, b0, b1, iA, iB, s0, Tm, Th, flag):
    """Block part of :func:`shist_chunk`: the sums of the points' states at ``A`` (centred at
    ``s0``) and ``flag[i - b0]`` = number of breakpoints of point ``i`` in ``[A, B]``
    (branchless: vectorized)."""
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    cnt = 0
    if Tm - abs(Th) > 0.0:  # both tops > 0 (signed grids): no side with T = 0, fewer operations
        for i in range(b0, b1):
            xi = np.float64(x[i])
            v = abs(xi)
            T = Tm + Th * math.copysign(1.0, xi)  # branchless side (v = 0 has no breakpoint either way)
            kA = min(np.rint(v * iA), T)
            e = v - kA * s0
            a0 += e * e
            a1 += kA * e
            a2 += kA * kA
            kB = min(np.rint(v * iB), T)
            f = np.int32(kA - kB)
            flag[i - b0] = f
            cnt += f
        return a0, a1, a2, a3, cnt
    for i in range(b0, b1):
        xi = np.float64(x[i])
        v = abs(xi)
        T = Tm + Th * math.copysign(1.0, xi)
        zt = np.float64(T == 0.0)
        a3 += zt * (v * v)
        kA = min(np.rint(v * iA), T)
        e = (v - kA * s0) * (1.0 - zt)  # T = 0: kA = 0 and e = 0, the point is in a3 only
        a0 += e * e
        a1 += kA * e
        a2 += kA * kA
        kB = min(np.rint(v * iB), T)
        f = np.int32(kA - kB)
        flag[i - b0] = f
        cnt += f
    return a0, a1, a2, a3, cnt


@numba.njit(cache=True)
def _shist_events(ev_v, ev_k, w, A, inv, h, s0, M, acc, tmp, jj):
    """The s-histogram updates of the events ``(ev_v[r], ev_k[r])``, ``r < w`` (point ``v``, index
    ``k + 1 -> k`` at ``beta = v / (k + 1/2)``), in order (see :func:`shist_chunk`): the s-bins and
    the seven terms of every event first (a loop without read-modify-writes of ``acc``; LLVM keeps
    it scalar), then added to their s-bins in order."""
    for r in range(w):
        v = ev_v[r]
        k = ev_k[r]
        beta = v / (k + 0.5)
        j = int((beta - A) * inv)
        j = min(max(j, 0), M - 1)
        jj[r] = j
        e_new = v - k * s0
        e_old = v - (k + 1.0) * s0
        tmp[0, r] = e_new * e_new - e_old * e_old
        tmp[1, r] = k * e_new - (k + 1.0) * e_old
        tmp[2, r] = k * k - (k + 1.0) * (k + 1.0)
        tmp[3, r] = e_old * e_old
        tmp[4, r] = (k + 1.0) * e_old
        tmp[5, r] = (k + 1.0) * (k + 1.0)
        sj = A + j * h
        d1 = v - k * (sj + h)
        d2 = (k + 1.0) * sj - v
        d = min(d1, d2)
        d = max(d, 0.0)
        tmp[6, r] = d * d
    for r in range(w):
        j = jj[r]
        acc[j, 0] += tmp[0, r]
        acc[j, 1] += tmp[1, r]
        acc[j, 2] += tmp[2, r]
        acc[j, 3] += tmp[3, r]
        acc[j, 4] += tmp[4, r]
        acc[j, 5] += tmp[5, r]
        if tmp[6, r] > 0.0:
            acc[j, 6] += tmp[6, r]


EV_CAP = 1024 + 2  # events buffered by shist_chunk before they are applied


@numba.njit(cache=True)
def shist_chunk(x, A, B, iA, iB, s0, M, Tp, Tn, base, acc, sbuf, scount):
    """Fine histogram *in s* of the breakpoints inside ``[A, B]`` (``M`` equal s-bins).

    Every point starts in its state at ``A`` (index ``kA``), summed centred at
    ``s0`` into base[0..2] = (sum e**2, sum k e, sum k**2), base[3] += v**2 on
    sides with ``T = 0``.  ``acc`` has shape (M, 8) (one cache line per s-bin).  Each breakpoint ``beta = v/(k+1/2)`` in ``[A, B]``
    (index ``k+1 -> k``) adds, in its s-bin ``j``: acc[0..2] the change of the
    three sums, acc[3..5] the sums of the point's old state (to remove it from
    the fixed part), acc[6] a lower bound of the point's error on the s-bin.
    Points with breakpoints are copied to ``sbuf`` while it has room;
    ``scount[0]`` counts them all.

    Branch-poor: per block the points with breakpoints are compacted (no branch per value), their
    events (one or two per point: two slots written, the cursor advanced by the count; more go
    through a flush and a loop) buffered and applied in order by :func:`_shist_events` (the same
    additions in the same order as one loop over points and their events).
    """
    cap = sbuf.size
    ns = scount[0]
    Tm = 0.5 * (Tp + Tn)
    Th = 0.5 * (Tp - Tn)
    n = x.size
    inv = M / (B - A)
    h = (B - A) / M
    flag = np.empty(BLOCK, dtype=np.int32)
    fw = flag.view(np.int64)  # BLOCK is even
    idx = np.empty(BLOCK, dtype=np.int64)
    ev_v = np.empty(EV_CAP)
    ev_k = np.empty(EV_CAP)
    tmp = np.empty((7, EV_CAP))
    jj = np.empty(EV_CAP, dtype=np.int64)
    for b0 in range(0, n, BLOCK):
        b1 = min(n, b0 + BLOCK)
        # vectorized block sums and per-point breakpoint counts; the points with breakpoints are
        # then visited in a scalar loop (a branch per value in the vectorized loop costs ~2.5 ns)
        a0, a1, a2, a3, cnt = _shist_block(x, b0, b1, iA, iB, s0, Tm, Th, flag)
        if cnt > 0:
            # sparse flags: compaction two at a time (one int64 test per pair; the pair's second
            # slot past an odd block end is zeroed); either way the order of the points is kept
            nf = b1 - b0
            c = 0
            if cnt * 16 > nf:  # dense flags (e.g. many equal values): branchless, one by one
                for t in range(nf):
                    idx[c] = t
                    c += flag[t] != 0
            else:
                if nf & 1:
                    flag[nf] = 0
                for w in range((nf + 1) >> 1):
                    if fw[w] != 0:
                        t = 2 * w
                        idx[c] = t
                        c += flag[t] != 0
                        idx[c] = t + 1
                        c += flag[t + 1] != 0
            w = 0
            for q in range(c):
                t = idx[q]
                xi = np.float64(x[b0 + t])
                v = abs(xi)
                T = Tm + Th * math.copysign(1.0, xi)
                kB = min(np.rint(v * iB), T)
                if ns < cap:
                    sbuf[ns] = xi
                ns += 1
                nev = flag[t]
                if nev <= 2:
                    if w + 2 > EV_CAP:
                        _shist_events(ev_v, ev_k, w, A, inv, h, s0, M, acc, tmp, jj)
                        w = 0
                    ev_v[w] = v
                    ev_k[w] = kB
                    ev_v[w + 1] = v
                    ev_k[w + 1] = kB + 1.0
                    w += nev
                else:
                    _shist_events(ev_v, ev_k, w, A, inv, h, s0, M, acc, tmp, jj)
                    w = 0
                    kA = kB + nev
                    k = kB
                    while k < kA:
                        if w + 1 > EV_CAP:
                            _shist_events(ev_v, ev_k, w, A, inv, h, s0, M, acc, tmp, jj)
                            w = 0
                        ev_v[w] = v
                        ev_k[w] = k
                        w += 1
                        k += 1.0
            _shist_events(ev_v, ev_k, w, A, inv, h, s0, M, acc, tmp, jj)
        base[0] += a0
        base[1] += a1
        base[2] += a2
        base[3] += a3
    scount[0] = ns


@numba.njit(cache=True)
def cand_chunk(x, A, B, iA, iB, M, Tp, Tn, cand, mask):
    """``mask[i] = True`` for points with a breakpoint in a candidate s-bin (``cand[j]``)."""
    inv = M / (B - A)
    nfl = 0
    Tm = 0.5 * (Tp + Tn)
    Th = 0.5 * (Tp - Tn)
    for i in range(x.size):
        xi = np.float64(x[i])
        v = abs(xi)
        T = Tm + Th * math.copysign(1.0, xi)
        mask[i] = False
        kA = min(np.rint(v * iA), T)
        kB = min(np.rint(v * iB), T)
        k = kB
        while k < kA:
            j = int((v / (k + 0.5) - A) * inv)
            if j < 0:
                j = 0
            if j >= M:
                j = M - 1
            if cand[j]:
                mask[i] = True
                nfl += 1
                break
            k += 1.0
    return nfl


@numba.njit(cache=True)
def qsin_val_grad(x, ss, r_b, r_t, f, g, af, ag):
    """Built-in QSin, at each ``s = ss[j]``: ``f[j] += sum_i h_i(s)``, ``g[j] += sum_i h_i'(s)`` with
    ``h(s) = s**2 phi(x/s)``, and magnitudes for rounding bounds: ``af[j] += sum_i (|h_i| + 2 pi |x_i| s
    + s**2)`` (a relative error ``eps |u|`` of ``u = x/s`` moves ``sin(pi r)**2`` by ``<= 2 pi eps |u|``),
    ``ag[j] += sum_i (|terms of h_i'| + 2 pi**2 x_i**2 / s + 2 s)``.
    Inside the grid ``h = s**2 sin(pi r)**2`` with ``r = u - rint(u)`` (exact), ``h' = 2 s sin(pi r)**2
    - pi x sin(2 pi r)``; clipped (u beyond r_b or r_t, level c) ``h = pi**2 (x - c s)**2``,
    ``h' = -2 pi**2 c (x - c s)``.  ``h`` is C^1 in ``s``."""
    n = x.size
    pi = math.pi
    for j in range(ss.size):
        s = ss[j]
        tf = 0.0
        tg = 0.0
        taf = 0.0
        tag = 0.0
        for b0 in range(0, n, BLOCK):
            b1 = min(n, b0 + BLOCK)
            bf = 0.0
            bg = 0.0
            baf = 0.0
            bag = 0.0
            for i in range(b0, b1):
                xi = np.float64(x[i])
                u = xi / s
                if u < r_b or u > r_t:
                    c = r_b if u < r_b else r_t
                    d = xi - c * s
                    hf = pi * pi * d * d
                    hg = -2.0 * pi * pi * c * d
                    bf += hf
                    bg += hg
                    baf += hf + s * s
                    bag += abs(hg) + 2.0 * s
                else:
                    r = u - np.rint(u)
                    sn = math.sin(pi * r)
                    t2 = pi * xi * math.sin(2.0 * pi * r)
                    hf = s * s * sn * sn
                    bf += hf
                    bg += 2.0 * s * sn * sn - t2
                    baf += hf + 2.0 * pi * abs(xi) * s + s * s
                    bag += 2.0 * s * sn * sn + abs(t2) + 2.0 * pi * pi * xi * xi / s + 2.0 * s
            tf += bf
            tg += bg
            taf += baf
            tag += bag
        f[j] += tf
        g[j] += tg
        af[j] += taf
        ag[j] += tag


@numba.njit(cache=True)
def scan_stats(x, st):
    """Branchless twin of :func:`quanttheory.laws._kernels.scan_chunk` (same ``st`` layout, same
    blocked sums, same return codes).  With random signs the branches of ``scan_chunk`` are
    mispredicted on float32 chunks (~8 ns per value); this one runs at ~3 ns for both dtypes.
    Minima use ``v + BIG * excluded`` (``BIG = 1e300``; |x| <= 1e154 is checked through the sum
    of squares), side counts the IEEE sign bit (-0.0 counts on side 0, as ``x >= 0``)."""
    mx0 = st[0]
    mx1 = st[1]
    mn0 = st[2]
    mn1 = st[3]
    c1 = 0.0
    q_tot = 0.0
    l_tot = 0.0
    n = x.size
    big = 1e300
    for b0 in range(0, n, BLOCK):
        b1 = min(n, b0 + BLOCK)
        q = 0.0
        lsum = 0.0
        for i in range(b0, b1):
            xi = np.float64(x[i])
            q += xi * xi
            lsum += xi
            v = abs(xi)
            sg = 0.5 - 0.5 * math.copysign(1.0, xi)  # 1.0 if the sign bit is set
            z = np.float64(v == 0.0)
            mx0 = xi if xi > mx0 else mx0
            mx1 = -xi if -xi > mx1 else mx1
            w0 = v + big * (sg + z)
            mn0 = w0 if w0 < mn0 else mn0
            w1 = v + big * (1.0 - sg + z)
            mn1 = w1 if w1 < mn1 else mn1
            c1 += sg - sg * z
        if not math.isfinite(q):
            for i in range(b0, b1):
                if not math.isfinite(x[i]):
                    return i
            return -2
        q_tot += q
        l_tot += lsum
    st[0] = mx0
    st[1] = mx1
    st[2] = mn0 if mn0 < 1e299 else math.inf
    st[3] = mn1 if mn1 < 1e299 else math.inf
    st[4] += n - c1
    st[5] += c1
    st[6] += q_tot
    st[7] += l_tot
    return -1


# --------------------------------------------------------------------------- joint interval bound
@numba.njit(cache=True)
def _qmin_t(c0, c1, c2, tlo, thi):
    """Minimum over ``t in [tlo, thi]`` of ``c0 - 2 t c1 + t**2 c2`` (``c2 >= 0``)."""
    tc = c1 / c2 if c2 > 0.0 else tlo
    if tc < tlo:
        tc = tlo
    if tc > thi:
        tc = thi
    best = c0 - 2.0 * tlo * c1 + tlo * tlo * c2
    v = c0 - 2.0 * thi * c1 + thi * thi * c2
    if v < best:
        best = v
    v = c0 - 2.0 * tc * c1 + tc * tc * c2
    if v < best:
        best = v
    return best


@numba.njit(cache=True)
def _gold_bin(lo, hi, s1, s2, T):
    """``min over v in [lo, hi]`` of ``dist(v, {0} U k [s1, s2], k = 1..T)**2`` (``0 <= lo <= hi``):
    a lower bound of the squared error of any point of the bin at any scale in ``[s1, s2]``."""
    best = lo * lo
    if T == 0 or best == 0.0:
        return best
    k = math.floor(lo / s2)
    if k < 1.0:
        k = 1.0
    if k > T:
        k = np.float64(T)
    while k <= T:
        a = k * s1
        b = k * s2
        if a > hi:
            d = a - hi
        elif b < lo:
            d = lo - b
        else:
            return 0.0
        if d * d < best:
            best = d * d
        if a > hi:
            break
        k += 1.0
    return best


@numba.njit(cache=True)
def _set_dist(v, a, b):
    """Signed distance of ``v`` to ``[a, b]``: ``v - b`` right of it, ``v - a`` left of it, 0 inside."""
    if v > b:
        return v - b
    if v < a:
        return v - a
    return 0.0


@numba.njit(cache=True)
def _g_at(v, k0, k1, s1, s2):
    """``(g(v), g'(v), nearest k)`` for ``g = min_{k0 <= k <= k1} dist(v, k [s1, s2])**2``."""
    best = math.inf
    dbest = 0.0
    kb = k0
    for k in range(k0, k1 + 1):
        kf = np.float64(k)
        d = _set_dist(v, kf * s1, kf * s2)
        if d * d < best:
            best = d * d
            dbest = d
            kb = k
    return best, 2.0 * dbest, kb


@numba.njit(cache=True)
def _affine_min(lo, hi, mu, sig, k0, k1, s1, s2):
    """``min over v in [lo, hi]`` of ``g(v) - sig (v - mu)``, ``g`` as in :func:`_g_at`: per set
    ``k [s1, s2]`` the convex ``dist**2 - sig (v - mu)`` is smallest at ``k s2 + sig/2`` (``sig > 0``),
    ``k s1 + sig/2`` (``sig < 0``), anywhere in the set (``sig = 0``), clipped to ``[lo, hi]``.  The
    value is taken at that (floating-point) point of ``[lo, hi]``: within rounding above the minimum."""
    best = math.inf
    for k in range(k0, k1 + 1):
        kf = np.float64(k)
        a = kf * s1
        b = kf * s2
        if sig > 0.0:
            v = b + 0.5 * sig
        elif sig < 0.0:
            v = a + 0.5 * sig
        else:
            v = a
        if v < lo:
            v = lo
        if v > hi:
            v = hi
        d = _set_dist(v, a, b)
        f = d * d - sig * (v - mu)
        if f < best:
            best = f
    return best


ENV_MAX_SETS = 8  # level sets k [s1, s2] a bin may meet for the envelope bound (else count * min)


@numba.njit(cache=True)
def _bin_bound(c, S, lo, hi, s1, s2, T, env):
    """Lower bound of ``sum g(v)`` over the ``c`` values of sum ``S`` of the histogram bin ``[lo, hi)``,
    ``g(v) = dist(v, {0} U k [s1, s2], k = 1..T)**2`` (the per-point bound of the interval
    ``[s1, s2]``).  ``env = 0``: ``c min_bin g`` (:func:`_gold_bin`).  ``env = 1``: also the
    *convex-envelope (Jensen) bound*, and the larger of the two.

    Derivation.  For any slope ``sig`` and reference point ``mu``, let
    ``alpha = min over v in [lo, hi] of g(v) - sig (v - mu)``.  The line
    ``l(v) = alpha + sig (v - mu)`` lies below ``g`` on the bin, so
    ``sum g(v_i) >= sum l(v_i) = c alpha + sig (S_true - c mu)``.  The supremum over ``sig`` at
    ``mu = S/c`` is ``c g_env(S/c)`` (``g_env`` = convex envelope of ``g`` on the bin,
    Legendre-Fenchel), i.e. Jensen's inequality for ``g_env``; ``sig = 0`` gives ``c min g``.  The
    bound is rigorous for *any* ``sig``: the slopes tried are heuristics for the envelope's slope
    at ``mu`` (chord of ``g`` over the bin -- exact for the "tent" of two parabolas around a
    gap's midpoint; ``g'(mu)`` -- exact where one set is nearest on the whole bin, ``g`` convex;
    the tangents from ``(hi, g(hi))`` to the left parabola and from ``(lo, g(lo))`` to the right
    one -- exact when the envelope is part parabola, part line).  ``alpha`` is exact per set: the
    convex ``dist(v, [a, b])**2 - sig (v - mu)`` is minimal at ``b + sig/2`` (``sig > 0``) or
    ``a + sig/2`` (``sig < 0``), clipped to the bin; only the sets that are nearest to some point of
    the bin matter (``g = min_k``; a line below every *active* ``dist**2`` is below ``g``): the
    nearest set to ``v`` is ``k(v) = floor(v/s1)`` (clamped to ``T``: the last set with ``k s1 <= v``;
    the distances to the sets left of ``v`` decrease, to those right of it increase with ``k``) or
    ``k(v) + 1``, so ``k in [k(lo), k(hi) + 1] n [0, T]`` (the quotients, to 1 ulp, widened by
    ``4 eps``).  The gap ``c min g`` leaves is first order in the bin width ``w`` (``~ c |g'| w/2``);
    this one is ``c (g_env(mu) - ...)``: for ``g`` convex on the bin ``sum g - c g(mu) <=
    c max|g''| w**2 / 8 = c w**2 / 4`` -- second order.

    Rounding (``X = 2 hi + 4 s2 + |sig|`` bounds ``|v|, |a|, |b|, |d|, |v - mu|`` and ``|sig|``, as
    ``s2 <= 2 s1`` on the intervals of the joint bound): the sets' ends ``k s1, k s2`` to
    ``eps/2``, the evaluation of ``d**2 - sig (v - mu)`` to ``~10 eps X**2``, the computed minimizer
    off the exact one by ``Delta <= 2 eps X`` (costing ``<= 2 Delta**2``: the function is C^1 with a
    2-Lipschitz derivative and zero or outward derivative at the minimizer): ``32 eps X**2`` per
    value; ``|S_true - S| <= c eps S`` (``c`` sequential additions of positive terms) and
    ``|S - c mu| <= eps S``: ``|sig| (c + 2) eps S``; the product ``c alpha``: ``2 eps |c alpha|``.
    All subtracted.  Bin 0 (``lo = 0``, possibly merged bins) and bins meeting more than
    ``ENV_MAX_SETS`` sets keep ``c min g``.
    """
    if c <= 0.0:
        return 0.0
    base = c * _gold_bin(lo, hi, s1, s2, T)
    if env == 0 or not lo > 0.0 or not hi > lo:
        return base
    # the sets nearest to some point of the bin: k(lo) .. k(hi) + 1 (quotients to 1 ulp: widened by 4 eps)
    q0 = lo / s1 * (1.0 - 4.0 * EPS)
    q1 = hi / s1 * (1.0 + 4.0 * EPS)
    k0 = T if q0 >= T else int(math.floor(q0))  # (compared first: no int overflow for huge quotients)
    k1 = T if q1 >= T else int(math.floor(q1)) + 1
    if k0 < 0:
        k0 = 0
    if k1 > T:
        k1 = T
    if k0 > k1:
        k0 = k1
    if k1 - k0 + 1 > ENV_MAX_SETS:
        return base
    mu = S / c
    if mu < lo:
        mu = lo
    if mu > hi:
        mu = hi
    gl, dl, kl = _g_at(lo, k0, k1, s1, s2)
    gh, dh, kh = _g_at(hi, k0, k1, s1, s2)
    best = base
    sc = (gh - gl) / (hi - lo)
    # the chord is the envelope when it leaves both ends below g (dl >= sc >= dh); the same set
    # nearest at both ends (so on the whole bin: g convex there): the tangent at mu is
    r0 = 0 if kh != kl and dl >= sc and sc >= dh else 1
    for r in range(r0, 5):
        if r == 0:
            sig = sc
        elif r == 1:
            sig = _g_at(mu, k0, k1, s1, s2)[1]
        elif kh == kl or r0 == 0:
            break
        elif r == 2:
            sig = sc
        elif r == 3:  # tangent from (hi, g(hi)) to the right branch (v - kl s2)**2 of lo's nearest set
            H = hi - np.float64(kl) * s2
            if not (H > 0.0 and H * H >= gh):
                continue
            sig = 2.0 * (H - math.sqrt(H * H - gh))
        else:  # tangent from (lo, g(lo)) to the left branch (kh s1 - v)**2 of hi's nearest set
            H = np.float64(kh) * s1 - lo
            if not (H > 0.0 and H * H >= gl):
                continue
            sig = -2.0 * (H - math.sqrt(H * H - gl))
        if not math.isfinite(sig):
            continue
        alpha = _affine_min(lo, hi, mu, sig, k0, k1, s1, s2)
        X = 2.0 * hi + 4.0 * s2 + abs(sig)
        val = c * alpha
        val -= 32.0 * EPS * c * X * X + abs(sig) * (c + 2.0) * EPS * S + 2.0 * EPS * abs(val)
        if val > best:
            best = val
        if r == 0:
            break
    return best


@numba.njit(cache=True)
def _range3(P, j0, j1):
    """Double-word range sums over bins ``[j0, j1)``: (count, sum v, sum v**2)."""
    d0 = (P[j1, 0] - P[j0, 0]) + (P[j1, 3] - P[j0, 3])
    d1 = (P[j1, 1] - P[j0, 1]) + (P[j1, 4] - P[j0, 4])
    d2 = (P[j1, 2] - P[j0, 2]) + (P[j1, 5] - P[j0, 5])
    return d0, d1, d2


@numba.njit(cache=True)
def _dist_range(P, nb, j0, j1, a):
    """``sum (v - a)**2`` over bins ``[j0, j1)`` (clamped at 0) and its rounding bound."""
    if j1 <= j0:
        return 0.0, 0.0
    d0, d1, d2 = _range3(P, j0, j1)
    val = d2 - 2.0 * a * d1 + a * a * d0
    err = 8.0 * EPS * (d2 + 2.0 * a * abs(d1) + a * a * d0) + 4.0 * nb * EPS * EPS * (
        P[nb, 2] + 2.0 * a * P[nb, 1] + a * a * P[nb, 0])
    if val < 0.0:
        val = 0.0
    return val, err


@numba.njit(cache=True)
def _joint_side(s1, s2, T, h, side, P, nb, e_lo, m, buf, ibuf, acc, env):
    """One side of :func:`interval_lower_bounds_joint`: adds the exact quadratic (about
    ``s0 = (s1 + s2)/2``) of the points whose grid index is the same at every ``s`` in ``[s1, s2]``
    to ``acc[0..2]`` (``sum e**2, sum k e, sum k**2``), a constant lower bound of the other
    points to ``acc[3]`` and rounding bounds to ``acc[4]``.  Needs ``(T - 1/2)(s2 - s1) <= s1/2``."""
    s0 = 0.5 * (s1 + s2)
    base = side * nb
    j = 0  # first bin not yet accounted
    nreg = 2 * T + 1
    for r in range(nreg):
        k = r // 2
        kf = np.float64(k)
        if r % 2 == 0:  # fixed region F_k = [(k - 1/2) s2, (k + 1/2) s1): index k at every s
            b = math.inf if k == T else (kf + 0.5) * s1
        else:  # switching region S_k = [(k + 1/2) s1, (k + 1/2) s2): index k + 1, then k
            b = (kf + 0.5) * s2
        jb = bin_of(b, e_lo, m, nb, buf, ibuf)
        if jb > j:
            if r % 2 == 0:
                d0, d1, d2 = _range3(P, j, jb)
                ks = kf * s0
                acc[0] += d2 - 2.0 * ks * d1 + ks * ks * d0
                acc[1] += kf * (d1 - ks * d0)
                acc[2] += kf * kf * d0
                # each term to 8 eps of its magnitude bound (v - k s)**2 <= ..., s <= s2; summed over
                # up to 2 nreg terms, then used with |t| <= s2 - s0 in c0 - 2 t c1 + t**2 c2
                ks2 = kf * s2
                acc[4] += (40.0 + 4.0 * nreg) * EPS * (d2 + 2.0 * ks2 * d1 + ks2 * ks2 * d0) + 4.0 * nb * EPS * EPS * (
                    P[nb, 2] + 2.0 * ks2 * P[nb, 1] + ks2 * ks2 * P[nb, 0])
            else:
                # error >= min(v - k s2, (k + 1) s1 - v)**2 (both >= 0 here): split at their midpoint
                a1 = kf * s2
                a2 = (kf + 1.0) * s1
                mid = 0.5 * (a1 + a2)
                jm = bin_of(mid, e_lo, m, nb, buf, ibuf)
                if jm < j:
                    jm = j - 1
                if jm >= jb:
                    jm = jb
                v1, e1 = _dist_range(P, nb, j, min(jm, jb), a1)
                v2, e2 = _dist_range(P, nb, jm + 1, jb, a2)
                acc[3] += v1 + v2
                acc[4] += e1 + e2
                if jm >= j and jm < jb:
                    kk = 3 * (base + jm)
                    if h[kk] > 0.0:
                        acc[3] += _bin_bound(h[kk], h[kk + 1], bin_lower(jm, e_lo, m), bin_lower(jm + 1, e_lo, m),
                                             s1, s2, T, env)
        if jb >= nb:
            return
        if jb >= j:  # the bin holding the region's end: the per-point bound of any point
            kk = 3 * (base + jb)
            if h[kk] > 0.0:
                acc[3] += _bin_bound(h[kk], h[kk + 1], bin_lower(jb, e_lo, m), bin_lower(jb + 1, e_lo, m),
                                     s1, s2, T, env)
            j = jb + 1


@numba.njit(cache=True)
def interval_lower_bounds_joint(s1s, s2s, h, nb, e_lo, m, P0, P1, Tp, Tn, out, env=0.0):
    """Like :func:`interval_lower_bounds`, tighter: the points whose grid index does not change on
    ``[s1, s2]`` contribute the exact quadratic ``sum (v - k s)**2``, minimized over ``s`` jointly
    (both sides), instead of each point's own minimum; the others their per-point bound.  Falls back
    to :func:`interval_lower_bounds` when the interval is too wide
    (``(max T - 1/2)(s2 - s1) > s1/2``).  ``env > 0``: on intervals of relative width
    ``(s2 - s1)/s2 <= env`` the bins holding a region end contribute the convex-envelope (Jensen)
    bound of :func:`_bin_bound` instead of ``count * min``; ``env = 0`` (default): the bound without it."""
    Tm = max(Tp, Tn)
    buf = np.empty(1)
    ibuf = buf.view(np.int64)
    acc = np.zeros(5)
    one1 = np.empty(1)
    one2 = np.empty(1)
    o = np.empty(1)
    for i in range(s1s.size):
        s1 = s1s[i]
        s2 = s2s[i]
        if (Tm - 0.5) * (s2 - s1) > 0.5 * s1 or not s1 > 0.0:
            one1[0] = s1
            one2[0] = s2
            interval_lower_bounds(one1, one2, h, nb, e_lo, m, P0, P1, Tp, Tn, o)
            out[i] = o[0]
            continue
        for c in range(5):
            acc[c] = 0.0
        ev = 1 if env > 0.0 and (s2 - s1) <= env * s2 else 0
        _joint_side(s1, s2, Tp, h, 0, P0, nb, e_lo, m, buf, ibuf, acc, ev)
        _joint_side(s1, s2, Tn, h, 1, P1, nb, e_lo, m, buf, ibuf, acc, ev)
        s0 = 0.5 * (s1 + s2)
        q = _qmin_t(acc[0], acc[1], acc[2], s1 - s0, s2 - s0)
        th = s2 - s0
        nt = 4.0 * (Tp + Tn) + 16.0  # terms summed into acc[3]
        err = acc[4] + 4.0 * EPS * (abs(acc[0]) + 2.0 * th * abs(acc[1]) + th * th * acc[2]) + nt * EPS * acc[3]
        if q < 0.0:
            q = 0.0
        out[i] = q + acc[3] - err


# --------------------------------------------------------------------------- fused validation + histogram
@numba.njit(cache=True)
def _block_index(x, a_bits, b0, b1, sgn_shift, mask, big, off, sh, nb, kb, vb):
    """Per-side max and min non-zero of the IEEE bits of ``|x|`` over ``[b0, b1)``, and for each
    value its flat histogram offset ``kb[i - b0] = 3 (side nb + bin)`` and ``vb[i - b0] = |x|`` as
    float64 (branchless integer code: vectorized; the scatter loop then only adds)."""
    mx0 = np.int64(0)
    mx1 = np.int64(0)
    mn0 = big
    mn1 = big
    for i in range(b0, b1):
        b = np.int64(a_bits[i])
        a = b & mask
        sg = (b >> sgn_shift) & 1
        n1 = -sg  # all ones on side 1
        n0 = sg - 1  # all ones on side 0
        az = a | (big & -np.int64(a == 0))
        mx0 = max(mx0, a & n0)
        mx1 = max(mx1, a & n1)
        mn0 = min(mn0, az | (big & n1))
        mn1 = min(mn1, az | (big & n0))
    for i in range(b0, b1):
        b = np.int64(a_bits[i])
        kb[i - b0] = 3 * (nb * ((b >> sgn_shift) & 1) + max(((b & mask) >> sh) - off + 1, 0))
        vb[i - b0] = abs(np.float64(x[i]))
    return mx0, mx1, mn0, mn1


@numba.njit(cache=True)
def hist_stats(x, bits, i0, top, off, sh, sgs, mask, nb, h, ist):
    """:func:`hist_chunk64` / :func:`hist_chunk32` from position ``i0`` (a multiple of ``BLOCK``)
    that also keeps, per side (IEEE sign bit), the largest and the smallest non-zero ``|x|`` as
    IEEE bits: ``ist = [max0, max1, min0, min1]``.  Each block of ``BLOCK`` values is first
    scanned for its extrema and bin offsets (vectorized); a block holding a value whose bits reach
    ``top`` (beyond the last bin, or NaN/inf: their bits exceed any finite value's) is not binned
    and its start is returned (the caller widens the histogram or reports the bad value), else -1.
    ``bits``: ``x`` viewed as int32/int64, ``sh`` = mantissa bits - m, ``sgs`` the sign bit,
    ``mask`` all bits but the sign.  The same sums in the same order as before the split into an
    index loop and a scatter loop (bit-identical histogram)."""
    big = np.int64(0x7FFFFFFFFFFFFFFF)
    n = x.size
    kb = np.empty(BLOCK, dtype=np.int64)
    vb = np.empty(BLOCK)
    for b0 in range(i0, n, BLOCK):
        b1 = min(n, b0 + BLOCK)
        mx0, mx1, mn0, mn1 = _block_index(x, bits, b0, b1, sgs, mask, big, off, sh, nb, kb, vb)
        if max(mx0, mx1) >= top:
            return b0
        ist[0] = max(ist[0], mx0)
        ist[1] = max(ist[1], mx1)
        ist[2] = min(ist[2], mn0)
        ist[3] = min(ist[3], mn1)
        for t in range(b1 - b0):
            k = kb[t]
            v = vb[t]
            h[k] += 1.0
            h[k + 1] += v
            h[k + 2] += v * v
    return -1


@numba.njit(cache=True)
def straddle_mask(x, iA, iB, Tp, Tn, mask):
    """``mask[i] = True`` for the points with a breakpoint between the scales ``1/iA <= 1/iB``
    (grid index ``min(rint(v * iA), T) > min(rint(v * iB), T)``, as :func:`shist_chunk`); returns
    their number."""
    Tm = 0.5 * (Tp + Tn)
    Th = 0.5 * (Tp - Tn)
    cnt = 0
    for i in range(x.size):
        xi = np.float64(x[i])
        v = abs(xi)
        T = Tm + Th * math.copysign(1.0, xi)
        kA = min(np.rint(v * iA), T)
        kB = min(np.rint(v * iB), T)
        mask[i] = kB < kA
        cnt += kB < kA
    return cnt
