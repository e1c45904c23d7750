"""Numba kernels of the per-block optimal scale (private; see :mod:`quanttheory.blocks.data`).

Inputs are validated and prepared in Python (``data._oracle_tables``): ``levels`` the signed,
strictly increasing element levels, ``mids`` their float64 midpoints, ``even[j]`` the tie rule
(level ``j`` wins a tie), ``T`` the dominance threshold (see ``data``), ``ltop_p``/``ltop_n`` the
largest positive / negative level magnitudes, ``mumin`` the smallest midpoint magnitude.
Every kernel is ``cache=True`` and uses no Python objects; all callees live in this file.

Why these candidate windows are exact (proofs in ``docs/blocks.md``, section 3):

* saturation: if ``X ltop < M`` the block's largest element (magnitude ``M``) saturates, so
  ``SSE(X) >= (M - X ltop)^2``; a scale with ``M - X ltop > sqrt(best)`` cannot win, nor can
  any smaller one;
* dominance: if ``M / X <= T`` and ``X / 2`` is also a representable scale, every element is at
  least as close to the grid ``(X/2) L`` as to ``X L`` (``SSE(X/2) <= SSE(X)``): ``X`` need not be
  tried (ties are resolved toward the smaller scale);
* all-zero: if ``X > M / mumin`` every element rounds to 0 and ``SSE = sum x^2``.

E4M3 and E8M0 scales on grids with at most two binade starts and a power-of-two step (NVFP4,
MXFP4, MXFP6 E2M3, MXINT8) use :func:`oracle_f32` (one code lookup, float32 screen on
magnitudes; for E4M3 a batch of 8 codes in the lanes of one vector, :func:`_screen8`;
docs/blocks.md, sections 7c-7d); other grids use :func:`oracle_codes` (float64 screen).

The code kernels evaluate the window in two stages (docs/blocks.md, section 3, items 4-5): a
screening value ``a`` with a proven error bound ``e`` for every code of the window (float32
SIMD for grids with at most two binade starts, float64 with a multiplication otherwise), then
the exact float64 SSE (exact division, as a brute force) only for the codes with
``a - e <= min(a + e)``; a single such code is the optimum without evaluation.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic


@intrinsic
def _rne_resid(typingctx, a, c, top):
    """``a - min((a + c) - c, top)`` evaluated as written, whatever the caller's fastmath: for
    ``0 <= a < 2^22 s`` and ``c = 1.5 2^23 s`` (float32, ``s`` a power of two) ``(a + c) - c`` is
    ``a`` rounded to the nearest multiple of ``s``, ties to even (``a + c`` lies in the binade of
    ``c``, whose spacing is ``s``; ``c / s`` is even), so this is the signed distance from ``a``
    to its level on a grid of step ``s`` clipped at ``top`` (larger ``a`` round to ``>= top``).
    Every operation carries the LLVM flag ``contract`` only: Numba's fastmath pass flags only
    flag-free instructions, so nothing here is reassociated and ``(a + c) - c`` is not folded to
    ``a`` (a reassociating subtraction ``a - ((a + c) - c)`` would fold to 0; tested)."""
    if not (a == c == top) or a not in (types.float32, types.float64):
        return None

    def codegen(context, builder, signature, args):
        x, cc, tp = args
        t = builder.fadd(x, cc, flags=("contract",))
        q = builder.fsub(t, cc, flags=("contract",))
        lt = builder.fcmp_ordered("<", q, tp, flags=("contract",))
        q = builder.select(lt, q, tp)
        return builder.fsub(x, q, flags=("contract",))

    return a(a, c, top), codegen


@numba.njit(cache=True)
def _stage2_k2(ea, ee, ej, ne, U, zbest, zX, codes, need_sse, xv, is0, s0, t0, t1, lo, hi, Mz, mumin):
    """Stage 2 of the float32 code kernels: ``(best SSE, best scale)`` from the screened codes
    ``ej[:ne]`` (values ``ea``, bounds ``ee``; ``ee = 0``: exact) and the zero option ``(zbest,
    zX)``.  Survivors: codes with ``a - e <= U`` (``U = min(zbest, a + e)``); any other code has an
    exact SSE ``> U >=`` the exact SSE of the option attaining ``U``.  A single survivor with the
    zero option above ``U`` is the optimum (strictly below every other option); otherwise every
    survivor is evaluated exactly (exact division) and the best wins, ties to the smaller scale
    (the zero option first).  With ``need_sse`` the winner's SSE is always the exact value.
    Not inlined: the kernels test the single-survivor case inline and call this only otherwise
    (inlined, it made the MXFP4 kernel's block loop 1.45x slower).  Codes with ``X mu_min > Mz`` (``Mz`` = the block absmax rounded up, ``mu_min`` the smallest
    midpoint magnitude; 0 to disable) round every element to 0: their SSE is ``s2``, never below
    the zero option, so they are skipped (their float64 sum could differ from ``s2`` in the last
    bit and break the tie toward the zero scale)."""
    nsv, c1, best, bestX = _single_survivor(ea, ee, ej, ne, U, zbest, zX, codes)
    if nsv == 1 and zbest > U:
        if need_sse and ee[c1] != 0.0:
            best = _x2_k2(xv, bestX, is0, s0, t0, t1, lo, hi)
        return best, bestX
    for c in range(ne):
        if ea[c] - ee[c] > U:
            continue
        X = codes[ej[c]]
        if X * mumin > Mz:
            continue
        sx = ea[c] if ee[c] == 0.0 else _x2_k2(xv, X, is0, s0, t0, t1, lo, hi)
        if sx < best or (sx == best and X < bestX):
            best = sx
            bestX = X
    return best, bestX


@numba.njit(cache=True, inline="always")
def _single_survivor(ea, ee, ej, ne, U, zbest, zX, codes):
    """Stage 2 of the code kernels: ``nsv`` the number of screened codes with ``a - e <= U``,
    ``c1`` the last of them; if it is the only one and the zero option is not within ``U``, it is
    the optimum (``best = a``, its screening value, and its scale); else ``(zbest, zX)``."""
    nsv = 0
    c1 = 0
    for c in range(ne):
        sv = ea[c] - ee[c] <= U
        nsv += sv
        c1 = c if sv else c1
    if nsv == 1 and zbest > U:
        return nsv, c1, ea[c1], codes[ej[c1]]
    return nsv, c1, zbest, zX


@numba.njit(cache=True, fastmath={"reassoc", "nsz"}, inline="always")
def _x2_k2(xv, X, is0, s0, t0, t1, lo, hi):
    """Exact float64 block SSE at ``X`` (exact division ``x / X``) for grids with at most two
    binade starts ``t0 <= t1`` (inf if absent); only the final sum is reassociated."""
    s = 0.0
    for t in range(xv.size):
        x = xv[t]
        v = x / X
        a = abs(v)
        c0 = a >= t0
        cc = a >= t1
        ist = is0 * (0.5 if c0 else 1.0) * (0.5 if cc else 1.0)
        st = s0 * (2.0 if c0 else 1.0) * (2.0 if cc else 1.0)
        d = x - X * min(max(np.rint(v * ist) * st, lo), hi)
        s += d * d
    return s


@numba.njit(cache=True, inline="always")
def _qlevel(u, levels, mids, even):
    """Nearest level to ``u`` (ties to ``even``), as ``LevelSet.quantize`` (searchsorted left)."""
    n = mids.size
    lo = 0
    hi = n
    while lo < hi:  # first j with mids[j] >= u
        m = (lo + hi) >> 1
        if mids[m] < u:
            lo = m + 1
        else:
            hi = m
    j = lo
    if j < n and mids[j] == u and not even[j]:
        j += 1
    return levels[j]


@numba.njit(cache=True, inline="always")
def _qfast(u, kind, levels, mids, up, th, s0, lo, hi):
    """Nearest level to ``u``.  kind 1: ``levels[#{m: u > mids[m] or (u == mids[m] and up[m])}]``
    (branch-free count); kind 2: ``clip(rint(u / st) st, lo, hi)`` with the step
    ``st = s0 2^#{b: |u| >= th[b]}`` (minifloats and integer grids; verified in Python
    against ``Format.quantize`` at every midpoint); kind 0: binary search."""
    if kind == 2:
        a = abs(u)
        st = s0
        ist = 1.0 / s0
        for b in range(th.size):
            c = a >= th[b]
            st = st * (2.0 if c else 1.0)
            ist = ist * (0.5 if c else 1.0)
        q = np.rint(u * ist) * st
        return min(max(q, lo), hi)
    if kind == 1:
        j = 0
        for m in range(mids.size):
            j += (u > mids[m]) | ((u == mids[m]) & up[m])
        return levels[j]
    return _qlevel(u, levels, mids, ~up)


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _sse_k2(xb, i, X, s0, t0, t1, lo, hi):
    """SSE of block ``i`` at ``X`` for kind 2 with at most two binade starts ``t0 <= t1`` (inf if
    absent): one fused SIMD loop (only ``xb`` is an array argument: no per-call array overhead)."""
    k = xb.shape[1]
    is0 = 1.0 / s0
    s = 0.0
    for t in range(k):
        x = np.float64(xb[i, t])
        v = x / X
        a = abs(v)
        ist = is0 * (0.5 if a >= t0 else 1.0) * (0.5 if a >= t1 else 1.0)
        st = s0 * (2.0 if a >= t0 else 1.0) * (2.0 if a >= t1 else 1.0)
        q = min(max(np.rint(v * ist) * st, lo), hi)
        d = x - X * q
        s += d * d
    return s


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _sse_k2g(xb, i, X, p_lo, emin, nt, lo, hi):
    """SSE of block ``i`` at ``X`` for kind 2 with any number of binade starts: the step
    ``2^(p_lo + clip(floor(log2 |u|) - emin, 0, nt))`` from ``frexp`` (exact)."""
    k = xb.shape[1]
    s = 0.0
    for t in range(k):
        x = np.float64(xb[i, t])
        v = x / X
        f, e = math.frexp(abs(v))
        se = min(max(e - 1 - emin, 0), nt) + p_lo
        q = min(max(np.rint(math.ldexp(v, -se)) * math.ldexp(1.0, se), lo), hi)
        d = x - X * q
        s += d * d
    return s


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _sse_full(xb, i, X, kind, levels, mids, up, th, s0, lo, hi, u, ie, se, par):
    """SSE of block ``i`` at scale ``X > 0`` (every element; exact division ``u = x / X``).

    kind 2 runs as three simple loops over the block (SIMD): the binary exponent ``e`` of
    ``u`` read from its bits, the step ``2^(p_lo + clip(e - emin, 0, nt))`` and its inverse
    built as bits, ``q = clip(rint(u / step) step, lo, hi)`` (``par = (p_lo, emin, nt)``,
    checked in Python to equal the threshold form of :func:`_qfast`).  ``u, ie, se``:
    float64 scratch of size ``k``.  Only the final sum is reassociated (summation order)."""
    k = xb.shape[1]
    s = 0.0
    if kind == 2:
        p_lo = par[0]
        emin = par[1]
        nt = par[2]
        ub = u.view(np.int64)
        ieb = ie.view(np.int64)
        seb = se.view(np.int64)
        for t in range(k):
            u[t] = np.float64(xb[i, t]) / X
        for t in range(k):
            e = ((ub[t] >> 52) & 0x7FF) - 1023 - emin
            e = min(max(e, 0), nt) + p_lo
            ieb[t] = (1023 - e) << 52
            seb[t] = (1023 + e) << 52
        for t in range(k):
            q = min(max(np.rint(u[t] * ie[t]) * se[t], lo), hi)
            d = np.float64(xb[i, t]) - X * q
            s += d * d
        return s
    for t in range(k):
        x = np.float64(xb[i, t])
        d = x - X * _qfast(x / X, kind, levels, mids, up, th, s0, lo, hi)
        s += d * d
    return s


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _block_stats2(xb, i):
    """Largest magnitude ``M``, whether it is attained by a positive element, sum of squares
    (branch-free loops; only the sum is reassociated)."""
    k = xb.shape[1]
    mx = -np.inf
    mn = np.inf
    s2 = 0.0
    for t in range(k):
        x = np.float64(xb[i, t])
        s2 += x * x
        mx = max(mx, x)
        mn = min(mn, x)
    M = max(mx, -mn)
    return M, mx >= -mn, s2


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _load_block(xb, i, xv):
    """Copy block ``i`` into the float64 buffer ``xv``; return ``M``, whether a positive element
    attains it, and the sum of squares (only the sum is reassociated)."""
    k = xb.shape[1]
    mx = -np.inf
    mn = np.inf
    s2 = 0.0
    for t in range(k):
        x = np.float64(xb[i, t])
        xv[t] = x
        s2 += x * x
        mx = max(mx, x)
        mn = min(mn, x)
    M = max(mx, -mn)
    return M, mx >= -mn, s2


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _u2_m0(xv, invX, is0, s0, t0, t1, lo, hi):
    """``sum_t (u_t - q(u_t))^2`` with ``u_t = xv[t] * invX`` (one rounding from ``x / X``), kind 2
    with at most two binade starts ``t0 <= t1``: one branch-free SIMD loop."""
    s = 0.0
    for t in range(xv.size):
        v = xv[t] * invX
        a = abs(v)
        c0 = a >= t0
        c1 = a >= t1
        ist = is0 * (0.5 if c0 else 1.0) * (0.5 if c1 else 1.0)
        st = s0 * (2.0 if c0 else 1.0) * (2.0 if c1 else 1.0)
        d = v - min(max(np.rint(v * ist) * st, lo), hi)
        s += d * d
    return s


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _u2_m1(xv, invX, p_lo, emin, nt, lo, hi, u, ie, se):
    """As :func:`_u2_m0` for any number of binades: the step ``2^(p_lo + clip(e - emin, 0, nt))``
    built from the exponent bits of ``u`` (three SIMD loops over the scratch ``u, ie, se``)."""
    k = xv.size
    ub = u.view(np.int64)
    ieb = ie.view(np.int64)
    seb = se.view(np.int64)
    for t in range(k):
        u[t] = xv[t] * invX
    for t in range(k):
        e = ((ub[t] >> 52) & 0x7FF) - 1023 - emin
        e = min(max(e, 0), nt) + p_lo
        ieb[t] = (1023 - e) << 52
        seb[t] = (1023 + e) << 52
    s = 0.0
    for t in range(k):
        d = u[t] - min(max(np.rint(u[t] * ie[t]) * se[t], lo), hi)
        s += d * d
    return s


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _x2_exact(xv, X, kind, levels, mids, up, th, s0, lo, hi, par, u, ie, se):
    """Exact block SSE ``sum_t (x_t - X q(x_t / X))^2`` (exact division), as :func:`_sse_full`
    on the buffer ``xv``."""
    k = xv.size
    s = 0.0
    if kind == 2:
        p_lo = par[0]
        emin = par[1]
        nt = par[2]
        ub = u.view(np.int64)
        ieb = ie.view(np.int64)
        seb = se.view(np.int64)
        for t in range(k):
            u[t] = xv[t] / X
        for t in range(k):
            e = ((ub[t] >> 52) & 0x7FF) - 1023 - emin
            e = min(max(e, 0), nt) + p_lo
            ieb[t] = (1023 - e) << 52
            seb[t] = (1023 + e) << 52
        for t in range(k):
            q = min(max(np.rint(u[t] * ie[t]) * se[t], lo), hi)
            d = xv[t] - X * q
            s += d * d
        return s
    for t in range(k):
        x = xv[t]
        d = x - X * _qfast(x / X, kind, levels, mids, up, th, s0, lo, hi)
        s += d * d
    return s


@numba.njit(cache=True, inline="always")
def _code_index(codes, first, t, strict, tb, tbi):
    """Smallest ``j`` with ``codes[j] >= t`` (``> t`` if ``strict``), ``codes.size`` if none:
    start at ``first[e + 1100]`` (the first code ``>= 2^e``, ``e = floor(log2 t)`` read from the
    exponent bits of ``t > 0``; ``tb`` a float64 scratch of size 1, ``tbi`` its int64 view) and
    step (a handful of steps: codes per binade)."""
    nc = codes.size
    tb[0] = t
    e = ((tbi[0] >> 52) & 0x7FF) - 1023
    idx = e + 1100
    if idx < 0:
        idx = 0
    if idx >= first.size:
        idx = first.size - 1
    j = first[idx]
    while j > 0 and (codes[j - 1] > t if strict else codes[j - 1] >= t):
        j -= 1
    while j < nc and (codes[j] <= t if strict else codes[j] < t):
        j += 1
    return j


@numba.njit(cache=True, error_model="numpy")
def oracle_codes(xb, codes, first, half_ok, allhalf_from, zero_code, kind, levels, mids, up, th, s0, lo_l, hi_l, par, T,
                 ltop_p, ltop_n, l2_p, l2_n, mumin, need_sse, outX, outS, counts):
    """Per-block optimal scale among the sorted positive ``codes`` (and the 0 scale if
    ``zero_code``): exact, evaluating only the codes of the window (module doc).

    ``half_ok[j]``: ``codes[j] / 2`` is a code; ``allhalf_from``: every code from this index on
    has ``half_ok``.  Two stages per block (docs/blocks.md, section 3, "screening"):

    1. every code of the window is screened with an approximate SSE ``a_j = X^2 sum (u - q(u))^2``,
       ``u = x * (1/X)`` (a multiplication instead of a division: SIMD, no divider), whose
       error is at most ``e_j = (k + 16) 2^-52 (s2 + X^2)``; the saturation bound of the
       downward scan uses ``U = min_j (a_j + e_j)`` (an upper bound on the best exact SSE);
    2. every screened code with ``a_j - e_j <= U`` is evaluated exactly (exact division, as the
       brute force does) and the best exact value wins (ties: the smaller scale).  No code
       outside this set can be the exact optimum; a single survivor (the usual case) is the
       optimum without evaluation (its exact SSE is computed only if ``need_sse``).

    Outputs per block: ``outX`` (0 = the zero scale), ``outS`` the exact SSE, ``counts`` the
    number of codes screened.  The kernel's element quantizer (kind 2) is the one checked in
    Python; kinds 0/1 are evaluated exactly in stage 1 (``e_j = 0``)."""
    nb, k = xb.shape
    nc = codes.size
    slack = 1.0 + 1e-12
    mode = (0 if th.size <= 2 else 1) if kind == 2 else 2
    t0 = th[0] if th.size > 0 else np.inf
    t1 = th[1] if th.size > 1 else np.inf
    is0 = 1.0 / s0
    p_lo = par[0]
    emin = par[1]
    nt = par[2]
    eps = (k + 16) * 2.0 ** -52
    xv = np.empty(k)
    su = np.empty(k)
    si = np.empty(k)
    sj = np.empty(k)
    tb = np.empty(1)
    tbi = tb.view(np.int64)
    cl = np.empty(nc + 3, np.int64)   # codes of the deterministic part of the window
    ej = np.empty(nc + 3, np.int64)   # screened codes, their approximate SSE and error bound
    ea = np.empty(nc + 3)
    ee = np.empty(nc + 3)
    for i in range(nb):
        M, posmax, s2 = _load_block(xb, i, xv)
        if M == 0.0:
            outX[i] = codes[0]
            outS[i] = 0.0
            counts[i] = 0
            continue
        ltop = ltop_p if posmax else ltop_n
        # all-zero: the first code with X > M / mumin gives s2 (so does the zero scale)
        jz = _code_index(codes, first, M / mumin, True, tb, tbi)
        zbest = np.inf
        zX = 0.0
        if zero_code:
            zbest = s2
        elif jz < nc:
            zbest = s2
            zX = codes[jz]
        # seeds: the smallest code >= M / ltop (no saturation), the one below, the smallest
        # code >= M / l2 (amax on the next level down); then upward (dominance), then downward
        j0 = min(_code_index(codes, first, M / ltop, False, tb, tbi), nc - 1)
        j4 = _code_index(codes, first, M / (l2_p if posmax else l2_n), False, tb, tbi)
        nl = 0
        if j0 < jz or zbest == np.inf:
            cl[nl] = j0
            nl += 1
        if j0 >= 1:
            cl[nl] = j0 - 1
            nl += 1
        if j4 > j0 and j4 < nc and j4 < jz:
            cl[nl] = j4
            nl += 1
        j = j0 + 1
        while j < nc and j < jz:
            X = codes[j]
            if half_ok[j] and M * slack <= T * X:
                if j >= allhalf_from:
                    break
                j += 1
                continue
            if j != j4:
                cl[nl] = j
                nl += 1
            j += 1
        U = zbest
        jd = j0 - 2
        pos = 0
        ne = 0
        while True:
            if pos < nl:
                j = cl[pos]
                pos += 1
            else:
                if jd < 0:
                    break
                j = jd
                over = M - codes[j] * ltop
                if over > 0.0 and over * over > U * slack:
                    break
                jd -= 1
            X = codes[j]
            if mode == 2:
                a = _x2_exact(xv, X, kind, levels, mids, up, th, s0, lo_l, hi_l, par, su, si, sj)
                e = 0.0
            else:
                invX = 1.0 / X
                if mode == 0:
                    a = _u2_m0(xv, invX, is0, s0, t0, t1, lo_l, hi_l) * (X * X)
                else:
                    a = _u2_m1(xv, invX, p_lo, emin, nt, lo_l, hi_l, su, si, sj) * (X * X)
                e = eps * (s2 + X * X * 1e-280)
            ej[ne] = j
            ea[ne] = a
            ee[ne] = e
            ne += 1
            if a + e < U:
                U = a + e
        # stage 2: exact values of the codes that can still be the optimum (a single survivor
        # with no zero option within U is the optimum: see _stage2_k2)
        nsv, c1, best, bestX = _single_survivor(ea, ee, ej, ne, U, zbest, zX, codes)
        if nsv == 1 and zbest > U:
            if need_sse and ee[c1] != 0.0:
                best = _x2_exact(xv, bestX, kind, levels, mids, up, th, s0, lo_l, hi_l, par, su, si, sj)
        else:
            for c in range(ne):
                if ea[c] - ee[c] > U:
                    continue
                X = codes[ej[c]]
                if ee[c] == 0.0:
                    s = ea[c]
                else:
                    s = _x2_exact(xv, X, kind, levels, mids, up, th, s0, lo_l, hi_l, par, su, si, sj)
                if s < best or (s == best and X < bestX):
                    best = s
                    bestX = X
        outX[i] = bestX
        outS[i] = best
        counts[i] = ne


@numba.njit(cache=True)
def _fp16_floor(x):
    """Largest float16 value <= x (x > 0, x <= 65504)."""
    if x < 6.103515625e-05:  # 2^-14: subnormal step 2^-24
        step = 5.960464477539063e-08
    else:
        f, e = math.frexp(x)  # x = f 2^e, f in [0.5, 1): binade [2^(e-1), 2^e), step 2^(e-11)
        step = math.ldexp(1.0, e - 11)
    return math.floor(x / step) * step


@numba.njit(cache=True)
def _fp16_ceil(x):
    if x < 6.103515625e-05:
        step = 5.960464477539063e-08
    else:
        f, e = math.frexp(x)
        step = math.ldexp(1.0, e - 11)
    return math.ceil(x / step) * step


@numba.njit(cache=True)
def oracle_pwq(xb, fp16, kind, levels, mids, up, th, s0, lo_l, hi_l, par, T, ltop_p, ltop_n, l2_p, l2_n, mumin,
               pos_mid, pos_lv, neg_mid, neg_lv, outX, outS, counts):
    """Exact per-block optimum over real scales ``X > 0`` (``fp16`` False) or over the positive
    float16 values (``fp16`` True), by the piecewise-quadratic SSE on the window.

    On the window ``[X_lo, X_hi]`` (saturation and dominance bounds, module doc) the breakpoints
    ``|x_i| / mu_j`` cut ``SSE(X) = s2 - 2 X B + X^2 A`` into quadratics with constant ``A, B``;
    each piece's minimum is ``B / A`` clamped to the piece (real), or one of the two float16
    values around it inside the piece (convexity).  The breakpoints are ordered by a bucket
    sort on their value followed by one insertion pass (no allocation per block; exact: the
    insertion pass removes whatever inversions the bucket arithmetic leaves).
    ``pos_mid/pos_lv`` (``neg_mid/neg_lv``):
    positive (negative, as magnitudes) midpoints and the level magnitudes ``0, l_1, ...``."""
    nb, k = xb.shape
    F16MAX = 65504.0
    slack = 1.0 + 1e-12
    J = max(pos_mid.size, neg_mid.size)
    su = np.empty(k)
    si = np.empty(k)
    sj = np.empty(k)
    mode = (0 if th.size <= 2 else 1) if kind == 2 else 2
    t0 = th[0] if th.size > 0 else np.inf
    t1 = th[1] if th.size > 1 else np.inf
    p_lo = par[0]
    emin = par[1]
    nt = par[2]
    keys = np.empty(k * J)
    dA = np.empty(k * J)
    dB = np.empty(k * J)
    order = np.empty(k * J, np.int64)
    bid = np.empty(k * J, np.int64)
    cntb = np.empty(k * J + 1, np.int64)
    for i in range(nb):
        M, posmax, s2 = _block_stats2(xb, i)
        if M == 0.0:
            outX[i] = 1.0
            outS[i] = 0.0
            counts[i] = 0
            continue
        ltop = ltop_p if posmax else ltop_n
        # start: clip scale X0 = M / ltop (fp16: its two neighbours)
        X0 = M / ltop
        best = s2
        bestX = np.inf
        if fp16:
            if X0 > F16MAX:
                X0 = F16MAX
            c1 = _fp16_floor(X0)
            c2 = _fp16_ceil(X0)
            if c2 > F16MAX:
                c2 = F16MAX
            for c in (c1, c2):
                if c > 0.0:
                    s = (_sse_k2(xb, i, c, s0, t0, t1, lo_l, hi_l) if mode == 0 else
                 _sse_k2g(xb, i, c, p_lo, emin, nt, lo_l, hi_l) if mode == 1 else
                 _sse_full(xb, i, c, kind, levels, mids, up, th, s0, lo_l, hi_l, su, si, sj, par))
                    if s < best or (s == best and c < bestX):
                        best = s
                        bestX = c
        else:
            s = (_sse_k2(xb, i, X0, s0, t0, t1, lo_l, hi_l) if mode == 0 else
                 _sse_k2g(xb, i, X0, p_lo, emin, nt, lo_l, hi_l) if mode == 1 else
                 _sse_full(xb, i, X0, kind, levels, mids, up, th, s0, lo_l, hi_l, su, si, sj, par))
            if s < best:
                best = s
                bestX = X0
        # window
        Xhi = M / T * (1.0 + 1e-12)
        if M / mumin < Xhi:
            Xhi = M / mumin
        if fp16:
            if M / T < 1.220703125e-04:  # pruned X >= M/T must be >= 2^-13 (X/2 a normal fp16)
                Xhi = M / mumin
            if Xhi > F16MAX:
                Xhi = F16MAX
        Xlo = (M - math.sqrt(best) * slack) / ltop
        if Xlo < 0.0:
            Xlo = 0.0
        if Xlo >= Xhi:
            outX[i] = bestX if bestX < np.inf else X0
            outS[i] = best
            counts[i] = 0
            continue
        # breakpoints inside (Xlo, Xhi): element t changes level at |x_t| / mu_j
        nk = 0
        for t in range(k):
            x = np.float64(xb[i, t])
            a = abs(x)
            if a == 0.0:
                continue
            if x > 0:
                for jj in range(pos_mid.size):
                    b = a / pos_mid[jj]
                    if b > Xlo and b < Xhi:
                        keys[nk] = b
                        dA[nk] = pos_lv[jj + 1] * pos_lv[jj + 1] - pos_lv[jj] * pos_lv[jj]
                        dB[nk] = a * (pos_lv[jj + 1] - pos_lv[jj])
                        nk += 1
            else:
                for jj in range(neg_mid.size):
                    b = a / neg_mid[jj]
                    if b > Xlo and b < Xhi:
                        keys[nk] = b
                        dA[nk] = neg_lv[jj + 1] * neg_lv[jj + 1] - neg_lv[jj] * neg_lv[jj]
                        dB[nk] = a * (neg_lv[jj + 1] - neg_lv[jj])
                        nk += 1
        # ascending order of the keys (walked from the top): bucket sort by value, then one
        # insertion pass (exact whatever the bucket arithmetic: it only leaves in-bucket inversions)
        if nk > 0:
            sc = nk / (Xhi - Xlo)
            for b in range(nk + 1):
                cntb[b] = 0
            for p in range(nk):
                b = int((keys[p] - Xlo) * sc)
                b = min(max(b, 0), nk - 1)
                bid[p] = b
                cntb[b + 1] += 1
            for b in range(nk):
                cntb[b + 1] += cntb[b]
            for p in range(nk):
                b = bid[p]
                order[cntb[b]] = p
                cntb[b] += 1
            for q in range(1, nk):
                v = order[q]
                kv = keys[v]
                r = q - 1
                while r >= 0 and keys[order[r]] > kv:
                    order[r + 1] = order[r]
                    r -= 1
                order[r + 1] = v
        # A, B on the top piece: levels at a point strictly inside it
        top_lo = keys[order[nk - 1]] if nk > 0 else Xlo
        Xm = 0.5 * (top_lo + Xhi)
        A = 0.0
        B = 0.0
        for t in range(k):
            x = np.float64(xb[i, t])
            lv = _qfast(x / Xm, kind, levels, mids, up, th, s0, lo_l, hi_l)
            A += lv * lv
            B += x * lv
        cnt = 0
        phi = Xhi
        for p in range(nk + 1):
            plo = keys[order[nk - 1 - p]] if p < nk else Xlo
            if phi * ltop < M:  # saturation bound on the whole piece (X <= phi)
                over = M - phi * ltop
                if over * over > best * slack:
                    break
            cnt += 1
            if A > 0.0:
                xs = B / A
                if xs < plo:
                    xs = plo
                if xs > phi:
                    xs = phi
                # the piece's continuous minimum bounds every fp16 value in it from below
                # (1e-13 s2 covers the rounding of s2 - 2 X B + X^2 A)
                qmin = s2 - 2.0 * xs * B + xs * xs * A
                if fp16:
                    if qmin - best <= 1e-13 * s2:
                        c1 = _fp16_floor(min(xs, F16MAX))
                        c2 = _fp16_ceil(xs)
                        for c in (c1, c2):
                            if c >= plo and c <= phi and c > 0.0 and c <= F16MAX:
                                s = s2 - 2.0 * c * B + c * c * A
                                if s < best or (s == best and c < bestX):
                                    best = s
                                    bestX = c
                elif xs > 0.0:
                    s = s2 - 2.0 * xs * B + xs * xs * A
                    if s < best:
                        best = s
                        bestX = xs
            if p < nk:
                A += dA[order[nk - 1 - p]]
                B += dB[order[nk - 1 - p]]
            phi = plo
        if bestX == np.inf:
            bestX = 2.0 * M / mumin if not fp16 else _fp16_ceil(min(2.0 * M / mumin, F16MAX))
        outX[i] = bestX
        outS[i] = (_sse_k2(xb, i, bestX, s0, t0, t1, lo_l, hi_l) if mode == 0 else
                 _sse_k2g(xb, i, bestX, p_lo, emin, nt, lo_l, hi_l) if mode == 1 else
                 _sse_full(xb, i, bestX, kind, levels, mids, up, th, s0, lo_l, hi_l, su, si, sj, par))
        counts[i] = cnt


@numba.njit(cache=True)
def _qfast_py(u, kind, levels, mids, up, th, s0, lo, hi):
    """``_qfast`` callable from Python (used to verify the kernel quantizer)."""
    return _qfast(u, kind, levels, mids, up, th, s0, lo, hi)


@numba.njit(cache=True, inline="always")
def _fine_index(fine, codes, t, strict, tb, tbi):
    """Smallest ``j`` with ``codes[j] >= t`` (``> t`` if ``strict``), ``codes.size`` if none, for
    ``t > 0``: ``fine[key]`` is the first code ``>=`` the sub-binade start of ``t`` (key = the
    exponent and top three mantissa bits of ``t``), then a step or two forward."""
    nc = codes.size
    tb[0] = t
    j = np.int64(fine[(tbi[0] >> 49) & 0x3FFF])
    if strict:
        while j < nc and codes[j] <= t:
            j += 1
    else:
        while j < nc and codes[j] < t:
            j += 1
    return j


_FL = ("contract",)


@intrinsic
def _screen8(typingctx, ax, cl, inv32, jb, C0, t0f, t1f, out):
    """Float32 screening sums of 8 consecutive codes at once, codes in the 8 lanes of one vector:
    ``out[l] = sum_t (a - min((a + C) - C, cl[t]))^2`` with ``a = ax[t] inv32[jb + l]`` (``l < 8``),
    ``C = C0 2^([a >= t0f] + [a >= t1f])`` (as :func:`_rne_resid`: round to the step, ties to even,
    clip at ``cl[t]``), summed over ``t`` in order.  Written as LLVM vector IR (one ``<8 x float>``
    per element: no horizontal sums, no per-code loop); every floating-point instruction carries
    only the ``contract`` flag (nothing reassociated, ``(a + C) - C`` kept).  The caller guarantees
    ``jb + 8 <= inv32.size``, ``out.size >= 8``, ``cl.size >= ax.size`` (all float32, contiguous)."""
    if not (ax == cl and isinstance(ax, types.Array) and ax.dtype == types.float32
            and isinstance(inv32, types.Array) and inv32.dtype == types.float32
            and isinstance(out, types.Array) and out.dtype == types.float32
            and C0 == t0f == t1f == types.float32 and isinstance(jb, types.Integer)):
        return None
    from llvmlite import ir
    from numba.core import cgutils

    def codegen(context, builder, signature, args):
        axv, clv, invv, jbv, c0, t0, t1, outv = args
        f32 = ir.FloatType()
        v8 = ir.VectorType(f32, 8)
        i32 = ir.IntType(32)
        zero8 = ir.Constant(ir.VectorType(i32, 8), [0] * 8)

        def splat(s):
            u = builder.insert_element(ir.Constant(v8, ir.Undefined), s, ir.Constant(i32, 0))
            return builder.shuffle_vector(u, ir.Constant(v8, ir.Undefined), zero8)

        A = context.make_array(signature.args[0])(context, builder, axv)
        Cl = context.make_array(signature.args[1])(context, builder, clv)
        inv = context.make_array(signature.args[2])(context, builder, invv)
        O = context.make_array(signature.args[7])(context, builder, outv)
        n = builder.extract_value(A.shape, 0)
        jb64 = context.cast(builder, jbv, signature.args[3], types.intp)
        w = builder.load(builder.bitcast(builder.gep(inv.data, [jb64]), v8.as_pointer()), align=4)
        two = ir.Constant(f32, 2.0)
        c1 = builder.fmul(c0, two, flags=_FL)
        c0v, c1v, c2v = splat(c0), splat(c1), splat(builder.fmul(c1, two, flags=_FL))
        t0v, t1v = splat(t0), splat(t1)
        acc = cgutils.alloca_once_value(builder, ir.Constant(v8, [0.0] * 8))
        with cgutils.for_range(builder, n) as loop:
            x = builder.load(builder.gep(A.data, [loop.index]))
            top = splat(builder.load(builder.gep(Cl.data, [loop.index])))
            a = builder.fmul(splat(x), w, flags=_FL)
            C = builder.select(builder.fcmp_ordered(">=", a, t1v, flags=_FL), c2v,
                               builder.select(builder.fcmp_ordered(">=", a, t0v, flags=_FL), c1v, c0v))
            q = builder.fsub(builder.fadd(a, C, flags=_FL), C, flags=_FL)
            q = builder.select(builder.fcmp_ordered("<", q, top, flags=_FL), q, top)
            d = builder.fsub(a, q, flags=_FL)
            builder.store(builder.fadd(builder.load(acc), builder.fmul(d, d, flags=_FL), flags=_FL), acc)
        builder.store(builder.load(acc), builder.bitcast(O.data, v8.as_pointer()), align=4)
        return context.get_dummy_value()

    return types.none(ax, cl, inv32, jb, C0, t0f, t1f, out), codegen


@numba.njit(cache=True, fastmath={"reassoc", "nsz"})
def _screen8_py(ax, cl, inv32, jb, C0, t0f, t1f, out):
    """:func:`_screen8` callable from Python (tests), inside a fastmath kernel as in the oracle;
    checks the bounds the oracle guarantees by construction."""
    if jb < 0 or jb + 8 > inv32.size or out.size < 8 or cl.size < ax.size:
        raise ValueError("_screen8_py: index out of range")
    _screen8(ax, cl, inv32, jb, C0, t0f, t1f, out)


@numba.njit(cache=True, fastmath={"reassoc", "nsz"}, error_model="numpy")
def oracle_f32(xb, codes, inv32, ok32, fine, half_ok, allhalf_from, zero_code, batch, s0, t0, t1, lo, hi, rT,
               ltop_p, ltop_n, mumin, need_sse, need_cnt, outX, outS, counts):
    """Per-block optimal scale among the sorted positive ``codes`` (E4M3 codes times the tensor
    scale, with the zero scale: ``zero_code``; or E8M0 powers of two) for element grids with at
    most two binade starts ``t0 <= t1`` (inf if absent), a power-of-two step ``s0`` and both top
    levels below ``2^22 s0`` (checked in Python: ``data._magic_ok``).  Exact; docs/blocks.md,
    section 3 (lemmas 1-3, screening items 4-5) and section 7d.

    * window: one code lookup per block, ``jT`` = the first code ``>= M rT``
      (``rT = (1 + 2e-12) / T``); codes from ``jT`` on with ``half_ok`` are dominated (lemma 2);
      the others are screened from the top down, each lower one tested first against the
      saturation bound (lemma 1: stop at the first code with ``M - X ltop > 0`` and
      ``(M - X ltop)^2 > U``); codes above ``M / mu_min`` (all-zero, SSE ``s2``) may be screened
      and are skipped in stage 2 (lemma 3; they never beat the zero option);
    * screen (float32): ``a_t = fl32(|x_t|) inv32[j]``, the level by ``(a + C) - C`` with
      ``C = 1.5 2^23 step`` (round to the step, ties to even), clipped to the top level of the
      element's sign; screening value ``X^2 sum_t (a_t - level)^2`` with the error bound
      ``e = (k + 12) 2^-24 s2`` (any summation order); codes outside ``ok32``, blocks with
      ``M > 2^100`` or ``M / X > 2^60`` are evaluated exactly here (``e = 0``);
    * ``batch``: if true (E4M3: the window holds ~8 codes), the top 8 codes of the window
      (``jT - 8 .. jT - 1``) are screened at once by :func:`_screen8` (codes in vector lanes);
      lower codes, and every code if false (E8M0: ~2 exponents per block), one by one;
    * stage 2: if every screened value has the bound ``e`` (none exact), the single survivor is
      the smallest value when ``amin + e < s2`` (the zero option is out) and
      ``amin2 - e > amin + e`` (every other code is out): no pass over the list; else
      :func:`_stage2_k2` with the zero option ``(s2, 0)`` (E4M3) or ``(s2, codes[jz])``,
      ``jz`` the first code ``> M / mu_min`` (E8M0; ``(inf, 0)`` if there is none).
      ``U`` starts at ``s2`` in both cases: every scale has ``SSE <= s2`` (0 is a level, so
      each element's error is at most ``|x|``).

    ``outS`` (the exact SSE) is written only if ``need_sse``, ``counts`` (codes screened) only if
    ``need_cnt`` (otherwise they may be empty: no allocation, no write traffic).
    Returns the number of blocks whose ``s2`` is not finite (NaN/inf data, or a float64 sum of
    squares that overflows): their outputs are meaningless and the caller must raise."""
    nb, k = xb.shape
    nc = codes.size
    slack = 1.0 + 1e-12
    C0 = np.float32(1.5 * 2.0 ** 23 * s0)
    w2 = np.float32(2.0)
    o1 = np.float32(1.0)
    f0 = np.float32(0.0)
    t0f = np.float32(t0)
    t1f = np.float32(t1)
    hp = np.float32(hi)
    hn = np.float32(-lo)
    is0 = 1.0 / s0
    epsk = (k + 12) * 2.0 ** -24
    ax = np.empty(k, np.float32)
    cl = np.empty(k, np.float32)
    tb = np.empty(1)
    tbi = tb.view(np.int64)
    ej = np.empty(nc + 8, np.int64)
    ea = np.empty(nc + 8)
    ee = np.empty(nc + 8)
    LB = 8 if batch and nc >= 8 else 0
    r8 = np.empty(8, np.float32)
    nbad = 0
    for i in range(nb):
        mx = -np.inf
        mn = np.inf
        s2 = 0.0
        for t in range(k):
            x = np.float64(xb[i, t])
            x32 = np.float32(xb[i, t])
            ax[t] = abs(x32)
            cl[t] = hp if x32 >= f0 else hn
            s2 += x * x
            mx = x if x > mx else mx
            mn = x if x < mn else mn
        M = max(mx, -mn)
        if not s2 <= 1.7976931348623157e308:  # NaN or inf (NaN fails every comparison)
            nbad += 1
            outX[i] = np.nan
            continue
        if M == 0.0:
            outX[i] = codes[0]
            if need_sse:
                outS[i] = 0.0
            if need_cnt:
                counts[i] = 0
            continue
        ltop = ltop_p if mx >= -mn else ltop_n
        small = M <= 2.0 ** 100
        jT = _fine_index(fine, codes, M * rT, False, tb, tbi)
        U = s2
        e32 = epsk * s2
        ne = 0
        allf = True
        j = max(jT, allhalf_from) - 1
        if j > nc - 1:
            j = nc - 1
        amin = np.inf
        amin2 = np.inf
        cmin = 0
        # batch: the 8 codes below the top of the window at once (any code may be screened: a
        # dominated or all-zero one only adds a candidate that cannot win wrongly)
        jb = max(j - 7, 0)
        if LB > 0 and small and ok32[jb] and ok32[jb + 7] and M <= codes[jb] * 2.0 ** 60:
            _screen8(ax, cl, inv32, jb, C0, t0f, t1f, r8)
            for l in range(8):
                X = codes[jb + l]
                av = np.float64(r8[l]) * (X * X)
                ej[l] = jb + l
                ea[l] = av
                ee[l] = e32
                amin2 = min(amin2, max(amin, av))
                cmin = l if av < amin else cmin
                amin = min(amin, av)
            U = min(U, amin + e32)
            ne = 8
            j = jb - 1
        while j >= 0:
            X = codes[j]
            over = M - X * ltop
            if over > 0.0 and over * over > U * slack:
                break
            if j >= jT and half_ok[j]:
                j -= 1
                continue
            if ok32[j] and small and M <= X * 2.0 ** 60:
                w = inv32[j]
                s32 = f0
                for t in range(k):
                    a = ax[t] * w
                    C = C0 * (w2 if a >= t0f else o1) * (w2 if a >= t1f else o1)
                    d = _rne_resid(a, C, cl[t])
                    s32 += d * d
                av = np.float64(s32) * (X * X)
                e = e32
            else:
                av = _x2_k2(xb[i], X, is0, s0, t0, t1, lo, hi)
                e = 0.0
                allf = False
            ej[ne] = j
            ea[ne] = av
            ee[ne] = e
            amin2 = min(amin2, max(amin, av))
            cmin = ne if av < amin else cmin
            amin = min(amin, av)
            U = min(U, av + e)
            ne += 1
            j -= 1
        if allf and ne > 0 and amin + e32 < s2 and amin2 - e32 > amin + e32:
            best = amin
            bestX = codes[ej[cmin]]
            if need_sse:
                best = _x2_k2(xb[i], bestX, is0, s0, t0, t1, lo, hi)
        else:
            zX = 0.0
            zbest = s2
            if not zero_code:
                jz = _fine_index(fine, codes, M / mumin, True, tb, tbi)
                if jz < nc:
                    zX = codes[jz]
                else:
                    zbest = np.inf
            best, bestX = _stage2_k2(ea, ee, ej, ne, U, zbest, zX, codes, need_sse, xb[i], is0, s0, t0, t1, lo, hi,
                                     M * (1.0 + 2.0 ** -50), mumin)
        outX[i] = bestX
        if need_sse:
            outS[i] = best
        if need_cnt:
            counts[i] = ne
    return nbad
