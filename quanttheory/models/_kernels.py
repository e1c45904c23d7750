"""Batched numba kernels for the baselines of ``quanttheory model``: all rows of a block in one call.

Each kernel reproduces one function of :mod:`quanttheory.risk.baselines` applied to every row
of ``X`` (2-D float64, C-contiguous, finite; validated by the caller), without a Python loop
over rows:

* ``sweep_scales``: the MSE sweeps (``sweep``, ``candidates`` = 20/39/80/126 ...).  The sum of
  squared errors of every candidate is *estimated* from sorted magnitudes and prefix sums
  (``O(groups log n)`` per candidate instead of ``O(n)``), with a rigorous bound ``delta`` on
  the estimate's rounding error; every candidate whose estimate is within ``3 delta`` of the
  smallest is then evaluated by the reference's own loop (``risk._kernels.data.msqe_sums``:
  the same operations, the same 4096-value blocks), and the first minimum of those values is
  returned.  The chosen scale is therefore *identical* to the library function's.
* ``histogram_scales``: the 2048-bin histogram search (``histogram``): the histogram is built
  with NumPy's uniform-bin algorithm (same edges, same index corrections), the candidate errors
  are estimated from prefix sums over the occupied bins and the near-minimal ones re-evaluated
  directly (a sequential sum, where NumPy sums pairwise: the choice can differ from the library
  only between two thresholds whose errors agree to ~1e-15 relative).
* ``octav_alphas``: the OCTAV fixed point (sums sequential instead of pairwise: ~1e-16 relative).
* ``aciq_alphas``: ACIQ's scalar minimization, a line-by-line port of SciPy's bounded Brent
  method (``minimize_scalar(method="bounded")``) with the same objective; the Normal tail uses
  ``erfc`` where the library uses ``scipy.special.ndtr`` (a few ulp apart).

The callees live in this file (numba's cache does not see changes in other files), which is why it
is a little over the package's ~500-line guideline.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..risk._kernels.data import _fma  # an LLVM intrinsic (inlined, nothing cached in that file)

BLOCK = 4096  # = quanttheory.risk._kernels.data.BLOCK (tested): blocked summation of msqe_sums
EPS = 2.0**-53
TINY = 2.0**-1074  # underflow: every operation may also err by half the smallest subnormal


# --------------------------------------------------------------------------- shared helpers
@numba.njit(cache=True)
def _direct_sse(x, s, Tp, Tn):
    """``sum (x - Q(x; s))**2`` exactly as ``risk._kernels.data.msqe_sums`` computes it."""
    n = x.size
    out = 0.0
    for b0 in range(0, n, BLOCK):
        b1 = min(n, b0 + BLOCK)
        acc = 0.0
        for i in range(b0, b1):
            xi = x[i]
            if xi >= 0.0:
                v = xi
                T = Tp
            else:
                v = -xi
                T = Tn
            k = np.rint(v / s)
            if k > T:
                k = T
            d = _fma(-k, s, v)  # one rounding, as msqe_sums
            acc += d * d
        out += acc
    return out


@numba.njit(cache=True)
def rows_sse(X, S, Tp, Tn, out):
    """``out[r] = sum_i (X[r, i] - Q(X[r, i]; S[r]))**2`` (the grid ``[-Tn, Tp]``), by
    :func:`_direct_sse` (4096-value blocked sums, no temporaries)."""
    for r in range(X.shape[0]):
        out[r] = _direct_sse(X[r], S[r], Tp, Tn)


@numba.njit(cache=True)
def _first_above(v, lo, hi, s, k):
    """Smallest index j in [lo, hi) with rint(v[j] / s) > k (hi if none); v ascending, rint(v[lo-1]/s) <= k.

    Binary search on the comparison ``v > (k + 1/2) s`` (no division), then the exact predicate
    (monotone in v) fixes the few values where ``v / s`` rounds differently."""
    thr = (k + 0.5) * s
    a = lo
    b = hi
    while a < b:
        mid = (a + b) // 2
        if v[mid] > thr:
            b = mid
        else:
            a = mid + 1
    j = a
    while j > lo and np.rint(v[j - 1] / s) > k:
        j -= 1
    while j < hi and not np.rint(v[j] / s) > k:
        j += 1
    return j


@numba.njit(cache=True)
def _side_est(v, P0, P1, P2, m, s, T, gam):
    """Estimate of ``sum w (v - min(rint(v/s), T) s)**2`` over the ``m`` sorted magnitudes ``v``
    (prefix sums ``P0`` of weights, ``P1`` of ``w v``, ``P2`` of ``w v**2``, each within ``gam``
    relative of the exact prefix), and a rigorous bound on the estimate's rounding error.
    Walks only the non-empty level groups."""
    tot = 0.0
    err = 0.0
    groups = 0
    start = 0
    while start < m:
        k = np.rint(v[start] / s)
        if k >= T:
            end = m
            k = T
        else:
            end = _first_above(v, start + 1, m, s, k)
        S0 = P0[end] - P0[start]
        S1 = P1[end] - P1[start]
        S2 = P2[end] - P2[start]
        ks = k * s
        tot += S2 - 2.0 * ks * S1 + ks * ks * S0
        # prefix words: gam relative each; the difference and the combination: 6 eps of the terms
        err += gam * (P2[end] + P2[start] + 2.0 * ks * (P1[end] + P1[start]) + ks * ks * (P0[end] + P0[start]))
        err += 6.0 * EPS * (S2 + 2.0 * ks * S1 + ks * ks * S0)
        groups += 1
        start = end
    err += 2.0 * groups * EPS * (abs(tot) + err)
    return tot, err


TWO_POINTER_T = 64  # grids with tops up to this use the merged walk over all candidates


@numba.njit(cache=True)
def _side_all(v, P0, P1, P2, m, ss, T, gam, est, err):
    """``est[i] +=`` the estimate of ``_side_est`` at every scale ``ss[i]`` (``ss`` ascending),
    ``err[i] +=`` its bound.  The level boundaries only move up as ``s`` grows, so one pointer
    per level walks the values once over all candidates: ``O(T (m + len(ss)))``."""
    ptr = np.zeros(max(T, 1), dtype=np.int64)
    for i in range(ss.size):
        s = ss[i]
        tot = 0.0
        bnd = 0.0
        groups = 0
        prev = 0
        for k in range(T + 1):
            if k < T:
                j = ptr[k]
                if j < prev:
                    j = prev
                thr = (k + 0.5) * s
                lo_thr = thr * (1.0 - 8.0 * EPS)  # v <= lo_thr  =>  rint(v / s) <= k
                hi_thr = thr * (1.0 + 8.0 * EPS)  # v >  hi_thr  =>  rint(v / s) >  k
                while j < m:
                    vj = v[j]
                    if vj > hi_thr:
                        break
                    if vj > lo_thr and np.rint(vj / s) > k:
                        break
                    j += 1
                ptr[k] = j
            else:
                j = m
            if j > prev:
                ks = k * s
                S0 = P0[j] - P0[prev]
                S1 = P1[j] - P1[prev]
                S2 = P2[j] - P2[prev]
                tot += S2 - 2.0 * ks * S1 + ks * ks * S0
                bnd += gam * (P2[j] + P2[prev] + 2.0 * ks * (P1[j] + P1[prev]) + ks * ks * (P0[j] + P0[prev]))
                bnd += 6.0 * EPS * (S2 + 2.0 * ks * S1 + ks * ks * S0)
                groups += 1
                prev = j
            if prev >= m:
                break
        est[i] += tot
        err[i] += bnd + 2.0 * groups * EPS * (abs(tot) + bnd)


@numba.njit(cache=True)
def _side_into(v, P0, P1, P2, ss, T, gam, est, dl):
    """``est[i] +=`` the estimate of one side's SSE at every scale ``ss[i]`` (ascending), ``dl[i] +=``
    its bound: the merged walk of :func:`_side_all` for tops up to ``TWO_POINTER_T``, else
    :func:`_side_est` per scale."""
    if T <= TWO_POINTER_T:
        _side_all(v, P0, P1, P2, v.size, ss, T, gam, est, dl)
    else:
        for i in range(ss.size):
            t, e = _side_est(v, P0, P1, P2, v.size, ss[i], T, gam)
            est[i] += t
            dl[i] += e


@numba.njit(cache=True)
def _estimates(pv, Pp0, Pp1, Pp2, nv, Pn0, Pn1, Pn2, ss, Tp, Tn, gam, est, dl):
    """Estimates of the SSE at every scale of ``ss`` (ascending) and their bounds (both sides)."""
    est[:] = 0.0
    dl[:] = 0.0
    _side_into(pv, Pp0, Pp1, Pp2, ss, Tp, gam, est, dl)
    _side_into(nv, Pn0, Pn1, Pn2, ss, Tn, gam, est, dl)


@numba.njit(cache=True)
def _prefix(v, w, P0, P1, P2):
    m = v.size
    P0[0] = 0.0
    P1[0] = 0.0
    P2[0] = 0.0
    for i in range(m):
        P0[i + 1] = P0[i] + w[i]
        P1[i + 1] = P1[i] + w[i] * v[i]
        P2[i + 1] = P2[i] + w[i] * v[i] * v[i]


@numba.njit(cache=True)
def _split_sorted(xs):
    """Ascending magnitudes of x >= 0 and of x < 0 (as -x), from the ascending row ``xs``."""
    n = xs.size
    nneg = 0
    while nneg < n and xs[nneg] < 0.0:
        nneg += 1
    pos = xs[nneg:].copy()
    neg = np.empty(nneg)
    for i in range(nneg):
        neg[i] = -xs[nneg - 1 - i]
    return pos, neg


# --------------------------------------------------------------------------- MSE sweeps
@numba.njit(cache=True)
def sweep_scales(X, XS, cands, Tp, Tn, half, signed, out):
    """``out[r, c]`` = the scale of ``baselines.sweep(X[r], grid, candidates=cands[c])``;
    ``XS`` = ``numpy.sort(X, axis=1)`` (NumPy's sort is several times faster than numba's).

    ``Tp = r_t``, ``Tn = -r_b`` (grid tops), ``half`` = ``2**(b-1)`` (signed) or ``2**b - 1``."""
    nr, n = X.shape
    for r in range(nr):
        x = X[r]
        top = 0.0
        mx = 0.0
        for i in range(n):
            a = abs(x[i])
            if a > top:
                top = a
            if x[i] > mx:
                mx = x[i]
        al_max = top if signed else mx
        if al_max == 0.0:
            for c in range(cands.size):
                out[r, c] = 1.0
            continue
        pos, neg = _split_sorted(XS[r])
        ones_p = np.ones(pos.size)
        ones_n = np.ones(neg.size)
        Pp0 = np.empty(pos.size + 1)
        Pp1 = np.empty(pos.size + 1)
        Pp2 = np.empty(pos.size + 1)
        Pn0 = np.empty(neg.size + 1)
        Pn1 = np.empty(neg.size + 1)
        Pn2 = np.empty(neg.size + 1)
        _prefix(pos, ones_p, Pp0, Pp1, Pp2)
        _prefix(neg, ones_n, Pn0, Pn1, Pn2)
        gam = 2.0 * (n + 4) * EPS / (1.0 - 2.0 * (n + 4) * EPS)  # sequential prefix sums of n terms
        for c in range(cands.size):
            K = cands[c]
            ss = np.empty(K)
            est = np.empty(K)
            dl = np.empty(K)
            for i in range(1, K + 1):
                alpha = al_max * i / K
                if not alpha > 0.0:
                    alpha = 1.0
                ss[i - 1] = alpha / half
            # candidates that may be the minimum: est_i - dl_i <= min_j (est_j + dl_j), dl = 2 bound
            _estimates(pos, Pp0, Pp1, Pp2, neg, Pn0, Pn1, Pn2, ss, Tp, Tn, gam, est, dl)
            lim = np.inf
            for i in range(K):
                dl[i] = 2.0 * dl[i] + (2.0 * n + 12.0) * EPS * abs(est[i]) + (64.0 * n + 16.0 * (Tp + Tn) + 256.0) * TINY
                if est[i] + dl[i] < lim:
                    lim = est[i] + dl[i]
            allc = not math.isfinite(lim)  # overflow (x**2 > 1.8e308): evaluate every candidate
            for i in range(K):
                if not math.isfinite(est[i]):
                    allc = True
            first = True
            bv = np.inf
            bs = 1.0
            for i in range(K):
                if allc or est[i] - dl[i] <= lim:
                    v = _direct_sse(x, ss[i], Tp, Tn)
                    if first or v < bv:  # numpy.argmin: the first minimum (all inf -> the first)
                        first = False
                        bv = v
                        bs = ss[i]
            out[r, c] = bs


# --------------------------------------------------------------------------- histogram search
@numba.njit(cache=True)
def _np_histogram(a, first, last, edges, cnt):
    """``numpy.histogram(a, bins=cnt.size, range=(first, last))`` counts (NumPy's uniform-bin path)."""
    nb = cnt.size
    cnt[:] = 0
    denom = last - first
    for i in range(a.size):
        t = np.float64(a[i])  # float32 rows: the float64 value, as numpy.histogram sees it
        if not (t >= first and t <= last):
            continue
        j = int(((t - first) / denom) * nb)
        if j == nb:
            j -= 1
        if t < edges[j]:
            j -= 1
        if t >= edges[j + 1] and j != nb - 1:
            j += 1
        cnt[j] += 1


@numba.njit(cache=True)
def histogram_scales(X, LO, TOP, Tp, Tn, half, bins, stride, out):
    """``out[r]`` = ``baselines.histogram(X[r], grid, bins, stride)`` for the histogram range
    ``(LO[r], TOP[r])``; ``TOP[r] = 0`` -> 1.0."""
    nr, n = X.shape
    cnt = np.empty(bins, dtype=np.int64)
    edges = np.empty(bins + 1)
    ncand = bins // stride
    ss = np.empty(ncand)
    est = np.empty(ncand)
    dl = np.empty(ncand)
    for r in range(nr):
        top = TOP[r]
        if top == 0.0:
            out[r] = 1.0
            continue
        # numpy.linspace(lo, top, bins + 1) as numpy.histogram calls it (scalar start/stop)
        lo = LO[r]
        delta = top - lo
        step = delta / bins
        for i in range(bins + 1):
            edges[i] = (i * step if step != 0.0 else (i / bins) * delta) + lo
        edges[bins] = top
        _np_histogram(X[r], LO[r], top, edges, cnt)
        npos = 0
        nneg = 0
        for j in range(bins):
            if cnt[j] > 0:
                c = 0.5 * (edges[j] + edges[j + 1])
                if c >= 0.0:
                    npos += 1
                else:
                    nneg += 1
        pv = np.empty(npos)
        pw = np.empty(npos)
        nv = np.empty(nneg)
        nw = np.empty(nneg)
        cen = np.empty(npos + nneg)
        cw = np.empty(npos + nneg)
        a = 0
        b = nneg - 1
        q = 0
        for j in range(bins):
            if cnt[j] > 0:
                c = 0.5 * (edges[j] + edges[j + 1])
                cen[q] = c
                cw[q] = cnt[j]
                q += 1
                if c >= 0.0:
                    pv[a] = c
                    pw[a] = cnt[j]
                    a += 1
                else:  # ascending centres: negative magnitudes come in descending order
                    nv[b] = -c
                    nw[b] = cnt[j]
                    b -= 1
        Pp0 = np.empty(npos + 1)
        Pp1 = np.empty(npos + 1)
        Pp2 = np.empty(npos + 1)
        Pn0 = np.empty(nneg + 1)
        Pn1 = np.empty(nneg + 1)
        Pn2 = np.empty(nneg + 1)
        _prefix(pv, pw, Pp0, Pp1, Pp2)
        _prefix(nv, nw, Pn0, Pn1, Pn2)
        m = npos + nneg
        gam = 2.0 * (m + 4) * EPS / (1.0 - 2.0 * (m + 4) * EPS)
        for i in range(1, ncand + 1):
            alpha = top * i * stride / bins
            if not alpha > 0.0:
                alpha = 1.0
            ss[i - 1] = alpha / half
        _estimates(pv, Pp0, Pp1, Pp2, nv, Pn0, Pn1, Pn2, ss, Tp, Tn, gam, est, dl)
        lim = np.inf
        for i in range(ncand):
            dl[i] = 2.0 * dl[i] + (2.0 * m + 12.0) * EPS * abs(est[i]) + (64.0 * (m + n) + 16.0 * (Tp + Tn) + 256.0) * TINY * (1.0 + n)
            if est[i] + dl[i] < lim:
                lim = est[i] + dl[i]
        allc = not math.isfinite(lim)  # overflow: evaluate every candidate, as the library does
        for i in range(ncand):
            if not math.isfinite(est[i]):
                allc = True
        bv = np.inf
        bs = 1.0
        for i in range(ncand):
            if allc or est[i] - dl[i] <= lim:
                s = ss[i]
                v = 0.0
                for j in range(m):
                    u = np.rint(cen[j] / s)
                    if u > Tp:
                        u = Tp
                    if u < -Tn:
                        u = -Tn
                    d = cen[j] - u * s
                    v += cw[j] * (d * d)
                if v < bv:
                    bv = v
                    bs = s
        out[r] = bs


# --------------------------------------------------------------------------- OCTAV
OCTAV_BUF = 1 << 18  # rows up to this length keep |x| in a buffer; longer rows recompute it per pass


@numba.njit(cache=True)
def octav_alphas(X, signed, bits, iters, out):
    """``out[r]`` = the clipping threshold ``alpha`` of ``baselines.octav(X[r], grid, iters)``.

    ``X``: float64 or float32 rows (each value taken as its float64).  Rows longer than ``OCTAV_BUF``
    are not copied: every iteration recomputes ``|x|`` (or ``max(x, 0)``) on the fly (memory O(1));
    shorter rows keep it in a buffer (faster).  Same values either way."""
    nr, n = X.shape
    c = (4.0 ** -bits) / 3.0 if signed else (4.0 ** -bits) / 12.0
    buf = n <= OCTAV_BUF
    v = np.empty(n if buf else 0)
    for r in range(nr):
        x = X[r]
        sm = 0.0
        for i in range(n):
            xi = np.float64(x[i])
            vi = abs(xi) if signed else max(xi, 0.0)
            if buf:
                v[i] = vi
            sm += vi
        al = sm / n
        if al == 0.0:
            al = 1.0
        for _ in range(iters):
            nb = 0
            sb = 0.0
            for i in range(n):
                if buf:
                    vi = v[i]
                else:
                    xi = np.float64(x[i])
                    vi = abs(xi) if signed else max(xi, 0.0)
                if vi > al:
                    nb += 1
                    sb += vi
            pb = nb / n
            new = (sb / n) / (c * (1 - pb) + pb) if pb > 0 else al
            if not new > 0 or abs(new - al) <= 1e-12 * al:
                al = new if new > 0 else al
                break
            al = new
        out[r] = al


# --------------------------------------------------------------------------- ACIQ
@numba.njit(cache=True)
def _aciq_obj(kind, p1, p2, signed, bits, al):
    if signed:
        noise = al * al / (3 * 4.0 ** bits)
    else:
        noise = al * al / (12 * 4.0 ** bits)
    if kind == 0:  # Normal(mu = p1, sigma = p2)
        mu = p1
        sig = p2
        z = (al - mu) / sig
        t = sig * sig * ((1 + z * z) * 0.5 * math.erfc(z / math.sqrt(2.0))
                         - z * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))
        if signed:
            z = (al + mu) / sig
            t += sig * sig * ((1 + z * z) * 0.5 * math.erfc(z / math.sqrt(2.0))
                              - z * math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))
        return t + noise
    mu = p1
    b = p2
    t = b * b * math.exp(-(al - mu) / b) if al > mu else (mu - al) ** 2 + b * b
    if signed:
        t += b * b * math.exp(-(al + mu) / b) if al > -mu else (mu + al) ** 2 + b * b
    return t + noise


@numba.njit(cache=True)
def _fminbound(kind, p1, p2, signed, bits, x1, x2, xatol, maxfun):
    """SciPy's ``_minimize_scalar_bounded`` (bounded Brent), same steps and stopping rule."""
    sqrt_eps = math.sqrt(2.2e-16)
    golden_mean = 0.5 * (3.0 - math.sqrt(5.0))
    a = x1
    b = x2
    fulc = a + golden_mean * (b - a)
    nfc = fulc
    xf = fulc
    rat = 0.0
    e = 0.0
    x = xf
    fx = _aciq_obj(kind, p1, p2, signed, bits, x)
    num = 1
    ffulc = fx
    fnfc = fx
    xm = 0.5 * (a + b)
    tol1 = sqrt_eps * abs(xf) + xatol / 3.0
    tol2 = 2.0 * tol1
    while abs(xf - xm) > (tol2 - 0.5 * (b - a)):
        golden = True
        if abs(e) > tol1:
            golden = False
            r = (xf - nfc) * (fx - ffulc)
            q = (xf - fulc) * (fx - fnfc)
            p = (xf - fulc) * q - (xf - nfc) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            r = e
            e = rat
            if (abs(p) < abs(0.5 * q * r)) and (p > q * (a - xf)) and (p < q * (b - xf)):
                rat = (p + 0.0) / q
                x = xf + rat
                if ((x - a) < tol2) or ((b - x) < tol2):
                    d = xm - xf
                    si = (1.0 if d > 0 else (-1.0 if d < 0 else 0.0)) + (1.0 if d == 0 else 0.0)
                    rat = tol1 * si
            else:
                golden = True
        if golden:
            if xf >= xm:
                e = a - xf
            else:
                e = b - xf
            rat = golden_mean * e
        si = (1.0 if rat > 0 else (-1.0 if rat < 0 else 0.0)) + (1.0 if rat == 0 else 0.0)
        x = xf + si * max(abs(rat), tol1)
        fu = _aciq_obj(kind, p1, p2, signed, bits, x)
        num += 1
        if fu <= fx:
            if x >= xf:
                a = xf
            else:
                b = xf
            fulc, ffulc = nfc, fnfc
            nfc, fnfc = xf, fx
            xf, fx = x, fu
        else:
            if x < xf:
                a = x
            else:
                b = x
            if (fu <= fnfc) or (nfc == xf):
                fulc, ffulc = nfc, fnfc
                nfc, fnfc = x, fu
            elif (fu <= ffulc) or (fulc == xf) or (fulc == nfc):
                fulc, ffulc = x, fu
        xm = 0.5 * (a + b)
        tol1 = sqrt_eps * abs(xf) + xatol / 3.0
        tol2 = 2.0 * tol1
        if num >= maxfun:
            break
    return xf


@numba.njit(cache=True)
def aciq_alphas(kind, P1, P2, HI, signed, bits, out):
    """``out[r]`` = ACIQ's ``alpha`` for the fit ``(P1[r], P2[r])`` (``kind`` 0 Normal (mu, sigma),
    1 Laplace (mu, b)) over ``(1e-12 HI[r], HI[r])``, ``xatol = 1e-10 HI[r]``."""
    for r in range(P1.size):
        hi = HI[r]
        out[r] = _fminbound(kind, P1[r], P2[r], signed, bits, 1e-12 * hi, hi, 1e-10 * hi, 500)
