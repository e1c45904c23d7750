"""Fused numba kernel: exact (s, z) optimum of every row of a matrix (private).

Per row ``x`` (``n`` values, ``N = 2**bits - 1``):

1. per-bin count / sum / sum of squares and the actual min / max of a uniform histogram
   (``nbins`` bins over ``[min x, max x]``);
2. branch and bound over boxes ``(z, [s1, s2])``: a bin whose code ``clip(rint(v/s), -z, N-z)``
   is the same at the four corners (``v`` in {bin min, bin max}, ``s`` in {s1, s2}; the code is
   monotone in ``v`` and, for fixed sign, in ``s``) is "fixed": its part of the MSE is the exact
   quadratic ``S2 - 2 s k S1 + s^2 k^2 cnt``, minimized exactly over ``[s1, s2]`` together with the
   other fixed bins; other bins contribute ``cnt * dist(bin, levels' intervals)^2``.  Upper bound
   at the box midpoint: every bin assigned whole to its best candidate level;
3. every surviving box is solved exactly from the raw values: points whose code is constant on
   ``[s1, s2]`` are summed into one quadratic, the others' breakpoints ``|x| / (j + 1/2)`` are
   sorted and swept, each quadratic piece minimized in closed form.

The minimum over the exactly solved boxes is the global optimum (every box not solved had a
lower bound above a value that was attained).  A row that overflows a buffer or whose
survivors contain ``s = 0`` is flagged (``status != 0``) and handled by the reference solver.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

EPS = 2.0**-52
MAXBOX = 8192
MAXBP = 1 << 16


@njit(cache=True)
def _code(v, s, z, N):
    if s <= 0.0:  # the limit s -> 0+: every non-zero value is clipped
        return float(N - z) if v > 0.0 else (float(-z) if v < 0.0 else 0.0)
    k = np.rint(v / s)
    if k < -z:
        k = -z
    if k > N - z:
        k = N - z
    return k


@njit(cache=True)
def _qmin(A, B, C, s1, s2):
    """min over s in [s1, s2] of A - 2 s B + s^2 C (C >= 0), and its argmin."""
    if C > 0.0:
        s = B / C
        if s < s1:
            s = s1
        elif s > s2:
            s = s2
    else:
        s = s2 if B > 0.0 else s1
    return A - 2.0 * s * B + s * s * C, s


@njit(cache=True)
def _box_bounds(cnt, S1, S2, bmin, bmax, nb, z, N, s1, s2):
    """(lower bound over [s1, s2], upper bound at the midpoint, number of non-fixed bins)."""
    A = 0.0
    B = 0.0
    C = 0.0
    mag = 0.0
    strad = 0.0
    nstr = 0
    sm = 0.5 * (s1 + s2)
    ub = 0.0
    for i in range(nb):
        c = cnt[i]
        if c == 0.0:
            continue
        lo_v = bmin[i]
        hi_v = bmax[i]
        k1 = _code(lo_v, s1, z, N)
        k2 = _code(lo_v, s2, z, N)
        k3 = _code(hi_v, s1, z, N)
        k4 = _code(hi_v, s2, z, N)
        kmin = min(min(k1, k2), min(k3, k4))
        kmax = max(max(k1, k2), max(k3, k4))
        if kmin == kmax:
            A += S2[i]
            B += kmin * S1[i]
            C += kmin * kmin * c
            mag += S2[i] + abs(kmin * S1[i]) * s2 + kmin * kmin * c * s2 * s2
            v = S2[i] - 2.0 * sm * kmin * S1[i] + sm * sm * kmin * kmin * c
            ub += v
        else:
            nstr += 1
            # distance from the bin [lo_v, hi_v] to the union of k [s1, s2], k in [kmin, kmax]
            dmin = np.inf
            k = kmin
            while k <= kmax:
                lo = k * s1 if k >= 0 else k * s2
                hi = k * s2 if k >= 0 else k * s1
                d = max(lo - hi_v, lo_v - hi, 0.0)
                if d < dmin:
                    dmin = d
                k += 1.0
            strad += c * dmin * dmin
            # upper bound: the whole bin to its best level at the midpoint
            ka = _code(lo_v, sm, z, N)
            kb = _code(hi_v, sm, z, N)
            best = np.inf
            k = ka
            while k <= kb:
                v = S2[i] - 2.0 * sm * k * S1[i] + sm * sm * k * k * c
                if v < best:
                    best = v
                k += 1.0
            ub += best
    q, _ = _qmin(A, B, C, s1, s2)
    lb = max(q, 0.0) - 8.0 * EPS * (mag + 1.0) * 64.0 + strad * (1.0 - 1e-12)
    return lb, ub, nstr


@njit(cache=True)
def _exact_box(x, z, N, s1, s2, bp, bpk):
    """Exact min over s in [s1, s2] of sum (x - s code(x, s))^2; returns (value, s, status)."""
    n = x.size
    A = 0.0
    B = 0.0
    C = 0.0
    nbp = 0
    for i in range(n):
        v = np.float64(x[i])
        A += v * v
        ka = _code(v, s1, z, N)
        kb = _code(v, s2, z, N)
        # code at s1 (the sweep starts at s1 and moves up)
        B += ka * v
        C += ka * ka
        if ka != kb:
            # breakpoints s = |v| / (j + 1/2) where the code steps from j+1 to j (|code| decreases with s)
            step = -1.0 if ka > kb else 1.0
            k = ka
            while k != kb:
                # crossing between k and k + step happens at s = v / (k + step / 2)
                sb = v / (k + 0.5 * step)
                if nbp >= bp.size:
                    return 0.0, 0.0, 1
                bp[nbp] = sb
                bpk[nbp, 0] = v
                bpk[nbp, 1] = k
                bpk[nbp, 2] = k + step
                nbp += 1
                k += step
    order = np.argsort(bp[:nbp])
    best = np.inf
    bs = s1
    lo = s1
    for t in range(nbp + 1):
        hi = bp[order[t]] if t < nbp else s2
        if hi > s2:
            hi = s2
        if hi < lo:
            hi = lo
        val, s = _qmin(A, B, C, lo, hi)
        if val < best:
            best = val
            bs = s
        if t < nbp:
            j = order[t]
            v = bpk[j, 0]
            k0 = bpk[j, 1]
            k1 = bpk[j, 2]
            B += (k1 - k0) * v
            C += k1 * k1 - k0 * k0
            lo = hi
    return max(best, 0.0), bs, 0


@njit(cache=True)
def solve_rows(X, N, nbins, stop, ni, out_s, out_z, out_mse, status, info):
    R = X.shape[0]
    n = X.shape[1]
    cnt = np.zeros(nbins)
    S1 = np.zeros(nbins)
    S2 = np.zeros(nbins)
    bmin = np.zeros(nbins)
    bmax = np.zeros(nbins)
    bz = np.empty(MAXBOX)
    b1 = np.empty(MAXBOX)
    b2 = np.empty(MAXBOX)
    blb = np.empty(MAXBOX)
    nz = np.empty(MAXBOX)
    n1 = np.empty(MAXBOX)
    n2 = np.empty(MAXBOX)
    bp = np.empty(MAXBP)
    bpk = np.empty((MAXBP, 3))
    for r in range(R):
        x = X[r]
        status[r] = 0
        xmin = np.inf
        xmax = -np.inf
        tot = 0.0
        for i in range(n):
            v = np.float64(x[i])
            if v < xmin:
                xmin = v
            if v > xmax:
                xmax = v
            tot += v * v
        if xmin == xmax:
            status[r] = 2  # constant row
            continue
        for i in range(nbins):
            cnt[i] = 0.0
            S1[i] = 0.0
            S2[i] = 0.0
            bmin[i] = np.inf
            bmax[i] = -np.inf
        w = (xmax - xmin) / nbins
        for i in range(n):
            v = np.float64(x[i])
            j = int((v - xmin) / w)
            if j >= nbins:
                j = nbins - 1
            if j < 0:
                j = 0
            cnt[j] += 1.0
            S1[j] += v
            S2[j] += v * v
            if v < bmin[j]:
                bmin[j] = v
            if v > bmax[j]:
                bmax[j] = v
        amax = max(abs(xmin), abs(xmax))
        s_hi = 2.0 * amax
        s_a = (xmax - xmin) / (N * 64.0)
        best = tot  # every s >= 2 max|x| gives sum x^2
        # incumbent: shrunk min-max ranges (histogram upper bounds)
        for q in range(12):
            sg = (0.35 + 0.06 * q) * (xmax - xmin) / N
            zg = int(min(max(np.rint(-xmin / sg), 0.0), float(N)))
            _, ubg, _ = _box_bounds(cnt, S1, S2, bmin, bmax, nbins, zg, N, sg, sg)
            if ubg < best:
                best = ubg
        nbx = 0
        for z in range(N + 1):
            bz[nbx] = z
            b1[nbx] = 0.0
            b2[nbx] = s_a
            nbx += 1
            for t in range(ni):
                bz[nbx] = z
                b1[nbx] = s_a * (s_hi / s_a) ** (t / ni)
                b2[nbx] = s_a * (s_hi / s_a) ** ((t + 1) / ni)
                nbx += 1
        rounds = 0
        while True:
            rounds += 1
            m = 0
            info[r, 1] += nbx
            for b in range(nbx):
                lb, ub, ns = _box_bounds(cnt, S1, S2, bmin, bmax, nbins, bz[b], N, b1[b], b2[b])
                blb[b] = lb
                if ub < best:
                    best = ub
            nsplit = 0
            for b in range(nbx):
                if blb[b] > best * (1.0 + 1e-12):
                    continue
                wide = (b2[b] - b1[b]) > stop * b2[b]
                if wide and rounds < 60:
                    sm = 0.5 * (b1[b] + b2[b]) if b1[b] == 0.0 else math.sqrt(b1[b] * b2[b])
                    if m + 2 > MAXBOX:
                        status[r] = 1
                        break
                    nz[m] = bz[b]
                    n1[m] = b1[b]
                    n2[m] = sm
                    m += 1
                    nz[m] = bz[b]
                    n1[m] = sm
                    n2[m] = b2[b]
                    m += 1
                    nsplit += 1
                else:
                    if m + 1 > MAXBOX:
                        status[r] = 1
                        break
                    nz[m] = bz[b]
                    n1[m] = b1[b]
                    n2[m] = b2[b]
                    m += 1
            if status[r] != 0:
                break
            for b in range(m):
                bz[b] = nz[b]
                b1[b] = n1[b]
                b2[b] = n2[b]
            nbx = m
            if nsplit == 0:
                break
        info[r, 0] = rounds
        if status[r] != 0:
            continue
        # exact phase: per surviving zero-point, one exact sweep over the hull of its boxes,
        # zero-points in order of their lowest bound (bounds recomputed for the final boxes)
        for b in range(nbx):
            lb, ub, ns = _box_bounds(cnt, S1, S2, bmin, bmax, nbins, bz[b], N, b1[b], b2[b])
            blb[b] = lb
            if ub < best:
                best = ub
        zlb = np.full(N + 1, np.inf)
        zlo = np.full(N + 1, np.inf)
        zhi = np.zeros(N + 1)
        for b in range(nbx):
            if blb[b] > best * (1.0 + 1e-12):
                continue
            zz = int(bz[b])
            zlb[zz] = min(zlb[zz], blb[b])
            zlo[zz] = min(zlo[zz], b1[b])
            zhi[zz] = max(zhi[zz], b2[b])
        order = np.argsort(zlb)
        fbest = np.inf
        sbest = 0.0
        zbest = 0
        for t in range(N + 1):
            zz = order[t]
            if not zlb[zz] <= min(fbest, best) * (1.0 + 1e-12):
                break
            if zlo[zz] <= 0.0:
                status[r] = 3
                break
            val, s, st = _exact_box(x, zz, N, zlo[zz], zhi[zz], bp, bpk)
            info[r, 2] += 1
            if st != 0:
                status[r] = 1
                break
            if val < fbest:
                fbest = val
                sbest = s
                zbest = zz
        if status[r] != 0:
            continue
        if fbest >= tot:
            status[r] = 4
            continue
        # the MSE at the optimum, summed directly (no cancellation)
        acc = 0.0
        for i in range(n):
            v = np.float64(x[i])
            d = v - sbest * _code(v, sbest, zbest, N)
            acc += d * d
        out_s[r] = sbest
        out_z[r] = zbest
        out_mse[r] = min(acc, fbest) / n if acc <= fbest * (1 + 1e-9) else acc / n
