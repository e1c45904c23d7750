"""Numba kernel of the generic-law telescoped ``4over6`` (:mod:`._expect_46_generic`): the characteristic
function of one element's error difference from a Legendre expansion of the density per cell.

On a cell ``[c - h, c + h]`` where ``d / U^2 = a x + b`` and the density is replaced by a polynomial
``p(c + h y) = sum_r c_r P_r(y)`` (``|y| <= 1``),

    int e^{i t (a x + b)} p(x) dx = e^{i t (a c + b)} h sum_r c_r int_{-1}^{1} e^{i w y} P_r(y) dy
                                  = e^{i t (a c + b)} sum_r (2 h c_r) i^r j_r(w),      w = t a h,

``j_r`` the spherical Bessel functions (``int_{-1}^{1} e^{i w y} P_r(y) dy = 2 i^r j_r(w)``, DLMF 18.17.19
with 10.47.3), and ``j_r(-w) = (-1)^r j_r(w)``.  The polynomial's error ``int |f - p|`` bounds the error of
the cell's characteristic function at every ``t`` (computed in Python, :mod:`._expect_46_generic`).

``j_0 .. j_R`` at one ``x = |w|``: upward recurrence ``j_{r+1} = (2r + 1) j_r / x - j_{r-1}`` from
``sin x / x`` and ``sin x / x^2 - cos x / x`` when ``x >= R + 1`` (no ``r <= R`` is beyond the turning
point, where the recurrence is stable); otherwise Miller's backward recurrence from ``N = R + 40 + x``
(rescaled against overflow), normalized by whichever of ``j_0``, ``j_1`` (direct formulas) is larger in
magnitude (``j_0`` for ``x < 1``, where the formula of ``j_1`` cancels).  Both checked against mpmath (``tests/test_block_46_generic.py``).

Rounding: the kernel returns, per harmonic, ``sum_cells [(sum_r |coef_r|) (2 R + 10 + 2 x) + |s_c| (3 |t|
(|a c| + |b|) + 4)] eps``, ``s_c`` the cell's sum: the recurrences and the sum over ``r`` (a model charge,
>= 4x the error of ``j_r`` observed against mpmath on the test grid), the Bessel argument ``x = |t a h|``
(relative ``2 eps``; ``|j_r'| <= 1``) and the phase ``t (a c + b)`` (three roundings) times the size of the
term it turns.  The Bessel part is not a proof of the recurrences' rounding (docs/blocks.md §2i).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..risk._kernels.cells import _neumaier  # one step of Neumaier's compensated sum
from ._expect_46_kernels import _cpow, _r2, _rpow_up  # z^n, sum_{j>=2} C(n,j) p0^(n-j) x^j, an upper bound of x^n
#                                                   (one copy for both 4over6 kernels)

_EPS = 2.220446049250313e-16


@njit(cache=True)
def sph_bessel_all(x, R, jb):
    """``jb[r] = j_r(x)`` for ``r = 0 .. R`` (``x >= 0``; ``jb`` of length >= ``R + 1``)."""
    if x < 1e-300:
        jb[0] = 1.0
        for r in range(1, R + 1):
            jb[r] = 0.0
        return
    s = math.sin(x)
    c = math.cos(x)
    j0 = s / x
    if x >= R + 1.0:
        jb[0] = j0
        if R >= 1:
            jb[1] = s / (x * x) - c / x
        for r in range(1, R):
            jb[r + 1] = (2.0 * r + 1.0) / x * jb[r] - jb[r - 1]
        return
    N = R + 40 + int(x)
    jp1 = 0.0
    jc = 1e-300
    for r in range(N, -1, -1):
        if r <= R:
            jb[r] = jc
        jm1 = (2.0 * r + 1.0) / x * jc - jp1
        jp1 = jc
        jc = jm1
        if abs(jc) > 1e150:
            jc *= 1e-150
            jp1 *= 1e-150
            for q in range(r, R + 1):
                jb[q] *= 1e-150
    # normalize by the larger (in magnitude) of the direct j_0, j_1 (j_1's formula cancels for x < 1, where
    # j_0 >= sin(1) > |j_1| anyway: there j_0)
    if R >= 1 and x >= 1.0:
        j1 = s / (x * x) - c / x
        if abs(j1) > abs(j0) and jb[1] != 0.0:
            f = j1 / jb[1]
        else:
            f = j0 / jb[0]
    else:
        f = j0 / jb[0]
    for r in range(R + 1):
        jb[r] *= f


_MILLER_TAIL = 1e-30


_INV_ODD2 = 1.0 / ((2.0 * np.arange(512) - 1.0) * (2.0 * np.arange(512) + 1.0))


@njit(cache=True)
def _miller_start(x, R):
    """Start of Miller's backward recurrence for ``j_0 .. j_R(x)``, ``x < R + 1``: the first ``N > R`` with
    ``prod_{n=R+1}^{N} x^2 / ((2n - 1)(2n + 1)) <= 1e-30`` (the small-argument size of ``j_N / y_N`` over
    ``j_R / y_R``, the relative weight of the unwanted solution), never beyond :func:`sph_bessel_all`'s
    ``R + 40 + int(x)``.  A heuristic like that one: checked against mpmath (``j_r`` within a quarter of the
    kernel's charge ``(2R + 10 + 2x) eps`` for every ``R <= 48`` on a grid of ``x < R + 1``, worst 0.09 at a
    threshold of 1e-24; tests/test_block_46_generic_fast2.py); ~45% fewer steps than ``R + 40 + x``."""
    Nold = R + 40 + int(x)
    P = 1.0
    N = R
    x2 = x * x
    while True:
        N += 1
        P *= x2 * (_INV_ODD2[N] if N < 512 else 1.0 / ((2.0 * N - 1.0) * (2.0 * N + 1.0)))
        if P <= _MILLER_TAIL or N >= Nold:
            return N


@njit(cache=True)
def _miller4(tt, i0, g, ah, R, jb4):
    """``jb4[l, r] = j_r(|tt[i0 + l] ah|)``, ``r = 0 .. R``, for the lanes ``l < g`` (``g <= 4``): the Miller
    branch of :func:`sph_bessel_all` (the same normalization; rescaling per lane) with the four lanes'
    recurrences interleaved from one start ``N`` (the largest of the lanes' :func:`_miller_start`, at most
    ``sph_bessel_all``'s ``R + 40 + int(x)``: a later start only shrinks the unwanted solution), and
    ``(2r + 1) / x`` as ``(2r + 1) (1/x)`` (one more rounding of the coefficient, as in the upward branch of
    :func:`legendre_cf_sum`).  Checked against mpmath within a quarter of the kernel's charge
    (tests/test_block_46_generic_fast2.py).  A lane with ``x < 1e-300`` or ``x >= R + 1`` goes through
    :func:`sph_bessel_all` itself; unused lanes compute ``x = 1`` (discarded)."""
    x0 = x1 = x2 = x3 = 1.0
    u0 = u1 = u2 = u3 = False
    xmax = -1.0
    for l in range(g):
        x = abs(tt[i0 + l] * ah)
        if x < 1e-300 or x >= R + 1.0:
            continue                          # (sph_bessel_all below, after the shared loop writes every row)
        if x > xmax:
            xmax = x
        if l == 0:
            x0, u0 = x, True
        elif l == 1:
            x1, u1 = x, True
        elif l == 2:
            x2, u2 = x, True
        else:
            x3, u3 = x, True
    if xmax < 0.0:
        for l in range(g):
            sph_bessel_all(abs(tt[i0 + l] * ah), R, jb4[l])
        return
    Nmax = _miller_start(xmax, R)          # nondecreasing in x: the largest of the lanes' starts
    i0_ = 1.0 / x0
    i1 = 1.0 / x1
    i2 = 1.0 / x2
    i3 = 1.0 / x3
    p0 = p1 = p2 = p3 = 0.0
    c0 = c1 = c2 = c3 = 1e-300
    BIG = 1e150
    SM = 1e-150
    for r in range(Nmax, -1, -1):
        if r <= R:
            jb4[0, r] = c0
            jb4[1, r] = c1
            jb4[2, r] = c2
            jb4[3, r] = c3
        f = 2.0 * r + 1.0
        m0 = f * i0_ * c0 - p0
        m1 = f * i1 * c1 - p1
        m2 = f * i2 * c2 - p2
        m3 = f * i3 * c3 - p3
        p0, p1, p2, p3 = c0, c1, c2, c3
        c0, c1, c2, c3 = m0, m1, m2, m3
        if abs(c0) > BIG:
            c0 *= SM
            p0 *= SM
            for q in range(r, R + 1):
                jb4[0, q] *= SM
        if abs(c1) > BIG:
            c1 *= SM
            p1 *= SM
            for q in range(r, R + 1):
                jb4[1, q] *= SM
        if abs(c2) > BIG:
            c2 *= SM
            p2 *= SM
            for q in range(r, R + 1):
                jb4[2, q] *= SM
        if abs(c3) > BIG:
            c3 *= SM
            p3 *= SM
            for q in range(r, R + 1):
                jb4[3, q] *= SM
    for l in range(g):
        if l == 0:
            x, u = x0, u0
        elif l == 1:
            x, u = x1, u1
        elif l == 2:
            x, u = x2, u2
        else:
            x, u = x3, u3
        if not u:
            sph_bessel_all(abs(tt[i0 + l] * ah), R, jb4[l])
            continue
        s = math.sin(x)
        c = math.cos(x)
        j0 = s / x
        if R >= 1 and x >= 1.0:
            j1 = s / (x * x) - c / x
            if abs(j1) > abs(j0) and jb4[l, 1] != 0.0:
                fc = j1 / jb4[l, 1]
            else:
                fc = j0 / jb4[l, 0]
        else:
            fc = j0 / jb4[l, 0]
        for r in range(R + 1):
            jb4[l, r] *= fc


@njit(cache=True)
def legendre_cf_sum_direct(tt, a, b, ctr, h, coef, deg, out_re, out_im, rnd):
    """``psi(t_i) = sum_cells e^{i t (a c + b)} sum_r coef[c, r] i^r j_r(t a h)`` for every ``t_i`` in ``tt``
    (``coef[c, r] = 2 h c_r`` times any weight, real), and the rounding charge per ``t_i`` (module doc).  The
    first version (direct ``sin`` / ``cos`` per cell and harmonic); the reference of :func:`legendre_cf_sum`."""
    H = tt.size
    C = a.size
    R1 = coef.shape[1]
    jb = np.empty(R1 + 1)
    absc = np.zeros(C)
    for c in range(C):
        s = 0.0
        for r in range(deg[c] + 1):
            s += abs(coef[c, r])
        absc[c] = s
    for i in range(H):
        t = tt[i]
        sre = 0.0
        sim = 0.0
        rr = 0.0
        for c in range(C):
            R = deg[c]
            om = t * a[c] * h[c]
            sg = 1.0 if om >= 0.0 else -1.0
            x = abs(om)
            sph_bessel_all(x, R, jb)
            re = 0.0
            im = 0.0
            for r in range(R + 1):
                v = coef[c, r] * jb[r]
                q = r & 3
                if q == 0:
                    re += v
                elif q == 1:
                    im += sg * v
                elif q == 2:
                    re -= v
                else:
                    im -= sg * v
            ph = t * (a[c] * ctr[c] + b[c])
            cs = math.cos(ph)
            sn = math.sin(ph)
            sre += cs * re - sn * im
            sim += sn * re + cs * im
            rr += absc[c] * (2.0 * R + 10.0 + 2.0 * x) \
                + math.sqrt(re * re + im * im) * (3.0 * abs(t) * (abs(a[c] * ctr[c]) + abs(b[c])) + 4.0)
        out_re[i] = sre
        out_im[i] = sim
        rnd[i] = rr * _EPS


_NB = 128          # harmonics per phasor anchor


@njit(cache=True)
def _miller_term(coef, c, R, j, sg, t, thp, absc, x, phb, i, out_re, out_im, rnd):
    """Add cell ``c``'s term at harmonic ``i`` from its Bessel values ``j[0..R]`` (a Miller harmonic, x < R + 1):
    ``e^{i t thp} sum_r coef[c, r] i^r j_r`` (``sg``: the sign of ``a h``, i^r's sign for odd r) to
    ``out_re/out_im[i]`` and its rounding charge to ``rnd[i]`` (as :func:`legendre_cf_sum_direct`)."""
    re = 0.0
    im = 0.0
    for r in range(R + 1):
        v = coef[c, r] * j[r]
        q = r & 3
        if q == 0:
            re += v
        elif q == 1:
            im += sg * v
        elif q == 2:
            re -= v
        else:
            im -= sg * v
    ph = t * thp
    cs = math.cos(ph)
    sn = math.sin(ph)
    out_re[i] += cs * re - sn * im
    out_im[i] += sn * re + cs * im
    rnd[i] += (absc * (2.0 * R + 10.0 + 2.0 * x)
               + math.sqrt(re * re + im * im) * (3.0 * abs(t) * phb + 4.0)) * _EPS


@njit(cache=True)
def legendre_cf_sum(tt, a, b, ctr, h, coef, deg, out_re, out_im, rnd):
    """As :func:`legendre_cf_sum_direct` (same sums, same charges), faster (docs/blocks.md §2i2): cells outer,
    harmonics inner (``x = |t a h|`` grows with ``t``: the Miller harmonics come first, then the upward ones);
    on the upward harmonics ``sin x, cos x`` and ``e^{i t (a c + b)}`` by phasor recurrences across harmonics
    (``tt`` increasing, nearly equally spaced; re-anchored by direct ``sin`` / ``cos`` every ``_NB``
    harmonics), four harmonics' Bessel recurrences interleaved, the ``r`` sum fused into the recurrence,
    ``(2r + 1) / x`` as ``(2r + 1) (1/x)``.

    Extra charges of the recurrences, per harmonic ``n`` steps after its anchor: the phasor of argument
    ``theta t`` is off by ``e_n = n (8 + |theta dt|) eps + |theta| dev`` (relative), ``dev = |t - t_0 - n dt|
    + 4 eps (|t| + n |dt|)`` the spacing's deviation (``dt`` the mean spacing; 8 eps per step: the step
    phasor's ``sin`` / ``cos`` and one complex product); moving ``(sin x, cos x)`` by ``e`` moves every
    ``j_r`` by ``<= e |h_r(x)| <= e`` for ``x >= r + 1`` (``j_r = P_r sin x + Q_r cos x`` with the rotated
    pair giving ``y_r``), charged ``2 e sum_r |coef_r|``; the phase's ``e`` times ``|s_c|``."""
    H = tt.size
    C = a.size
    for i in range(H):
        out_re[i] = 0.0
        out_im[i] = 0.0
        rnd[i] = 0.0
    if H == 0:
        return
    R1 = coef.shape[1]
    jb = np.empty(R1 + 1)
    jb4 = np.empty((4, R1 + 1))
    bx = np.empty(_NB)
    bs = np.empty(_NB)
    bc_ = np.empty(_NB)
    bps = np.empty(_NB)
    bpc = np.empty(_NB)
    biv = np.empty(_NB)
    ba = np.empty(_NB)
    bb_ = np.empty(_NB)
    bre = np.empty(_NB)
    bim = np.empty(_NB)
    dt = 0.0
    if H >= 2:
        dt = (tt[H - 1] - tt[0]) / (H - 1)
    for c in range(C):
        R = deg[c]
        absc = 0.0
        for r in range(R + 1):
            absc += abs(coef[c, r])
        ac = a[c]
        hc = h[c]
        thp = ac * ctr[c] + b[c]
        phb = abs(ac * ctr[c]) + abs(b[c])
        thx = abs(ac * hc)
        sg = 1.0
        # Miller harmonics (x < R + 1) first: as the direct kernel, four harmonics' backward recurrences
        # interleaved (:func:`_miller4`, the same numbers as :func:`sph_bessel_all`)
        iM = 0
        while iM < H and abs(tt[iM] * ac * hc) < R + 1.0:
            iM += 1
        if iM >= 2:
            for i4 in range(0, iM, 4):
                g4 = min(4, iM - i4)
                _miller4(tt, i4, g4, ac * hc, R, jb4)
                for l in range(g4):
                    i = i4 + l
                    t = tt[i]
                    om = t * ac * hc
                    x = abs(om)
                    sg = 1.0 if om >= 0.0 else -1.0
                    _miller_term(coef, c, R, jb4[l], sg, t, thp, absc, x, phb, i, out_re, out_im, rnd)
        i = iM if iM >= 2 else 0
        while i < H:
            t = tt[i]
            om = t * ac * hc
            x = abs(om)
            if x >= R + 1.0:
                break
            sg = 1.0 if om >= 0.0 else -1.0
            sph_bessel_all(x, R, jb)
            _miller_term(coef, c, R, jb, sg, t, thp, absc, x, phb, i, out_re, out_im, rnd)
            i += 1
        if i >= H:
            continue
        sg = 1.0 if tt[i] * ac * hc >= 0.0 else -1.0    # tt > 0: the sign of a h from here on
        sdx = math.sin(thx * dt)
        cdx = math.cos(thx * dt)
        sdp = math.sin(thp * dt)
        cdp = math.cos(thp * dt)
        stx = (8.0 + abs(thx * dt)) * _EPS
        stp = (8.0 + abs(thp * dt)) * _EPS
        # blocks of _NB harmonics from one anchor; inside a block, the lanes' (harmonics') recurrences as loops
        # over the block (vectorizable: the sign pattern of i^r is fixed per order r), the same operations per
        # harmonic as the four-lane version of §2i2 (docs/blocks.md §2i3)
        while i < H:
            i0 = i
            g = min(_NB, H - i)
            x0 = abs(tt[i] * ac * hc)
            sx = math.sin(x0)
            cx = math.cos(x0)
            ph0 = tt[i] * thp
            sp = math.sin(ph0)
            cp = math.cos(ph0)
            for l in range(g):
                bx[l] = abs(tt[i + l] * ac * hc)
                bs[l] = sx
                bc_[l] = cx
                bps[l] = sp
                bpc[l] = cp
                nsx = sx * cdx + cx * sdx
                cx = cx * cdx - sx * sdx
                sx = nsx
                nsp = sp * cdp + cp * sdp
                cp = cp * cdp - sp * sdp
                sp = nsp
            c0r = coef[c, 0]
            for l in range(g):
                iv = 1.0 / bx[l]
                biv[l] = iv
                av = bs[l] * iv
                ba[l] = av
                bre[l] = c0r * av
                bim[l] = 0.0
            if R >= 1:
                cr = coef[c, 1]
                for l in range(g):
                    bv = (ba[l] - bc_[l]) * biv[l]       # j_1 = (sin x / x - cos x) / x
                    bb_[l] = bv
                    bim[l] = cr * bv
                for r in range(1, R):
                    f = 2.0 * r + 1.0
                    cr = coef[c, r + 1]
                    q = (r + 1) & 3
                    if q == 0:
                        for l in range(g):
                            nv = f * biv[l] * bb_[l] - ba[l]
                            ba[l] = bb_[l]
                            bb_[l] = nv
                            bre[l] += cr * nv
                    elif q == 1:
                        for l in range(g):
                            nv = f * biv[l] * bb_[l] - ba[l]
                            ba[l] = bb_[l]
                            bb_[l] = nv
                            bim[l] += cr * nv
                    elif q == 2:
                        for l in range(g):
                            nv = f * biv[l] * bb_[l] - ba[l]
                            ba[l] = bb_[l]
                            bb_[l] = nv
                            bre[l] -= cr * nv
                    else:
                        for l in range(g):
                            nv = f * biv[l] * bb_[l] - ba[l]
                            ba[l] = bb_[l]
                            bb_[l] = nv
                            bim[l] -= cr * nv
            t0b = tt[i0]
            for l in range(g):
                re = bre[l]
                im = sg * bim[l]
                x = bx[l]
                ps = bps[l]
                pc = bpc[l]
                ii = i0 + l
                t = tt[ii]
                n = l
                out_re[ii] += pc * re - ps * im
                out_im[ii] += ps * re + pc * im
                dev = abs(t - t0b - n * dt) + 4.0 * _EPS * (abs(t) + n * abs(dt))
                ex = n * stx + thx * dev
                ep = n * stp + abs(thp) * dev
                mag = math.sqrt(re * re + im * im)
                rnd[ii] += (absc * (2.0 * R + 10.0 + 2.0 * x) + mag * (3.0 * abs(t) * phb + 4.0)) * _EPS \
                    + 2.0 * absc * ex + mag * ep
            i += g


@njit(cache=True)
def alias_L(p, dmx_pos, dmx_neg, p0, k, L0, tgt_abs, Lmax):
    """:func:`._expect_46_generic._alias_L` in one loop (docs/blocks.md §2i2): the Chernoff bound of the
    aliasing ``sum_{+-} min_{th >= 1/L} L e^{k log M_+-(th) - th L}`` with ``M_+-(th) <= (p0 + sum_j p_j e^{th
    dmx_j}) (1 + 1e-12)`` (``dmx_pos = max(d_l, d_u)``, ``dmx_neg = -min(d_l, d_u)``), ``th = 1.5^i / L0``
    (``i = -2 .. 29``), on ``L = L0 1.1^q`` (``q = 0 .. 79``): the first ``L`` whose bound is ``<= tgt_abs``
    and below ``Lmax``, else ``(Lmax, 0)`` (``|S| <= Lmax`` surely).  Returns ``(L, bound)``."""
    NT = 32
    ths = np.empty(NT)
    lM = np.empty((2, NT))
    for i in range(NT):
        ths[i] = (1.0 / L0) * 1.5 ** float(i - 2)
    for s in range(2):
        inf_from = NT
        for i in range(NT):
            th = ths[i]
            M = 0.0
            for j in range(p.size):
                M += p[j] * math.exp(th * (dmx_pos[j] if s == 0 else dmx_neg[j]))
            M = (p0 + M) * (1 + 1e-12)
            if math.isfinite(M) and M > 0:
                lM[s, i] = k * math.log(M)
            else:
                lM[s, i] = math.inf
                if M == math.inf:
                    inf_from = i + 1
                    break
        # M(th) is nondecreasing in th once it overflows (an infinite term stays infinite for larger th):
        # the rest is inf without the exps
        for i in range(inf_from, NT):
            lM[s, i] = math.inf
    for q in range(80):
        L = L0 * 1.1 ** float(q)
        tot = 0.0
        for s in range(2):
            # min_i L e^{min(e_i, 700)} = L e^{min(min_i e_i, 700)} (exp increasing): one exp per side
            emin = math.inf
            for i in range(NT):
                if ths[i] >= 1.0 / L:
                    e = lM[s, i] - ths[i] * L
                    if e < emin:
                        emin = e
            best = L * math.exp(min(emin, 700.0)) if emin < math.inf else math.inf
            tot += best
        if tot <= tgt_abs:
            if L < Lmax:
                return L, tot
            return Lmax, 0.0
    return Lmax, 0.0


# ---------------------------------------------------------------------------------------------------------------
# Per-end stages of all ends in one call each (docs/blocks.md §2i3): the tail curves (:func:`end_curves`, the
# second loop of ``_expect_46_generic._prepare_ends``) and the harmonics with the end's value and bound
# (:func:`finish_all`, ``_expect_46_generic._finish``), the same arithmetic without a Python step per end.


@njit(cache=True)
def _powers(p0, n):
    pw = np.empty(n + 1)
    pw[0] = 1.0
    for i in range(1, n + 1):
        pw[i] = pw[i - 1] * p0
    return pw


@njit(cache=True)
def end_curves(off, ls, us, aa, bb, pj, tv, xx, fx, wq, G, U, p0, ea, n, sym):
    """For every end ``e`` (its selected non-atom cells ``off[e] .. off[e + 1]``): the tail constants, the
    period ``L`` (Chernoff search :func:`alias_L`), and the tail-bound curve of ``_prepare_ends`` (geometric
    grid ``t0 1.05^i`` up to ``max C_j / p_j``, then ``1.25^q``, q = 1..60), plus each cell's polynomial target.
    Returns ``(C, L, al, coff, Tc, bc, harm, errc, tgt, csm)``: per end ``C``, ``L``, the aliasing bound;
    the curves flattened with offsets ``coff``; per cell the target (``0`` where not approximated) and whether it
    is (``csm``: ``ls >= 0`` for laws symmetric about 0, else every cell)."""
    E = off.size - 1
    Cv = np.empty(E)
    Lv = np.empty(E)
    al = np.empty(E)
    t0v = np.empty(E)
    ngv = np.empty(E, np.int64)
    coff = np.zeros(E + 1, np.int64)
    cjv = np.empty(ls.size)
    NQ = wq.size
    for e in range(E):
        o0 = off[e]
        o1 = off[e + 1]
        Ge = G[e]
        C = 0.0
        dmax = 0.0
        e1 = 0.0
        e2 = 0.0
        tmax = 0.0
        for c in range(o0, o1):
            cj = tv[c] / (Ge * abs(aa[c]))
            cjv[c] = cj
            C += cj
            dl = aa[c] * ls[c] + bb[c]
            du = aa[c] * us[c] + bb[c]
            dmax = max(dmax, max(abs(dl), abs(du)))
            hw = 0.5 * (us[c] - ls[c])
            for q in range(NQ):
                w = hw * wq[q] * fx[c, q] / Ge
                d = aa[c] * xx[c, q] + bb[c]
                e1 += w * d
                e2 += w * d * d
            tmax = max(tmax, cj / max(pj[c], 1e-300))
        mu = n * e1
        sd = math.sqrt(max(n * (e2 - e1 * e1), 0.0))
        L0 = max(dmax * 1.0000001, abs(mu) + 6.0 * sd, 1e-300)
        dpos = np.empty(o1 - o0)
        dneg = np.empty(o1 - o0)
        for c in range(o0, o1):
            dl = aa[c] * ls[c] + bb[c]
            du = aa[c] * us[c] + bb[c]
            dpos[c - o0] = max(dl, du)
            dneg[c - o0] = -min(dl, du)
        L, ab = alias_L(pj[o0:o1], dpos, dneg, p0[e], float(n), L0, 0.2 * ea[e], n * dmax * (1.0 + 1e-12))
        t0 = math.pi / L
        tN = max(tmax, t0) * 1.001
        ng = int(math.ceil(math.log(tN / t0) / math.log(1.05))) + 1
        Cv[e] = C
        Lv[e] = L
        al[e] = ab
        t0v[e] = t0
        ngv[e] = ng
        coff[e + 1] = coff[e] + ng + 1 + 60
    NT = coff[E]
    Tc = np.empty(NT)
    bc = np.empty(NT)
    harm = np.empty(NT)
    errc = np.empty(NT)
    tgt = np.zeros(ls.size)
    csm = np.zeros(ls.size, np.bool_)
    for e in range(E):
        o0 = off[e]
        o1 = off[e + 1]
        pw = _powers(p0[e], n)
        ng = ngv[e]
        t0 = t0v[e]
        L = Lv[e]
        C = Cv[e]
        b0 = coff[e]
        for i in range(ng + 1):
            Tc[b0 + i] = t0 * 1.05 ** float(i)
        tN = Tc[b0 + ng]
        suf = _r2(pw, C / tN, n) / (3 * tN)
        acc = 0.0
        bc[b0 + ng] = 0.0 + suf
        for i in range(ng - 1, -1, -1):
            t = Tc[b0 + i]
            x = 0.0
            for c in range(o0, o1):
                x += min(pj[c], cjv[c] / t)
            acc += _r2(pw, x, n) * (1.0 / t - 1.0 / Tc[b0 + i + 1])
            bc[b0 + i] = acc + suf
        for q in range(1, 61):
            T = tN * 1.25 ** float(q)
            Tc[b0 + ng + q] = T
            bc[b0 + ng + q] = _r2(pw, C / T, n) / (3 * T)
        for i in range(b0, coff[e + 1]):
            harm[i] = math.ceil(math.ceil(Tc[i] * L / math.pi) / 2)
            errc[i] = (2.0 / math.pi) * bc[i] * U[e] * U[e]
        dtot = 0.1 * ea[e] / (L * n * 0.5 * (1.05 + pw[n - 1]))
        wsum = 0.0
        for c in range(o0, o1):
            if (not sym) or ls[c] >= 0.0:
                csm[c] = True
                wsum += us[c] - ls[c]
        wsym = 2.0 if sym else 1.0
        for c in range(o0, o1):
            if csm[c]:
                tgt[c] = dtot / wsym * (us[c] - ls[c]) / wsum
    return Cv, Lv, al, coff, Tc, bc, harm, errc, tgt, csm


@njit(cache=True)
def finish_all(n, U, L, p0, C, coff, Tc, bc, tail_abs, cof, ca, cb, ctr, hh, coef, deg, delta, wsym, abs1, mR,
               al_abs, E1e, v_out, e_out, h_out):
    """``_expect_46_generic._finish`` for every end ``e``: the cut ``T`` (first curve point whose tail bound is
    ``<= tail_abs[e]``, else ``1.25``-steps of the pure form beyond the curve), the odd harmonics
    (:func:`legendre_cf_sum` on the end's cells ``cof[e] .. cof[e + 1]``, coefficients times ``wsym``), then
    ``E|S|`` and its bound, as there; the two sums over harmonics compensated (Neumaier: error ``<= 2 eps``
    of the sum's size, below the pairwise sum's ``log2(J) eps``)."""
    E = L.size
    pi = math.pi
    for e in range(E):
        Ue = U[e]
        Le = L[e]
        pe = p0[e]
        eat = tail_abs[e] / (Ue * Ue) * pi / 2
        i_ok = -1
        for i in range(coff[e], coff[e + 1]):
            if bc[i] <= eat:
                i_ok = i
                break
        pw = _powers(pe, n)
        if i_ok >= 0:
            T = Tc[i_ok]
            tailA = bc[i_ok]
        else:
            T = Tc[coff[e + 1] - 1]
            while _r2(pw, C[e] / T, n) / (3 * T) > eat:
                T *= 1.25
            tailA = _r2(pw, C[e] / T, n) / (3 * T)
        J = int(math.ceil(T * Le / pi))
        H = (J + 1) // 2
        jj = np.empty(H)
        tt = np.empty(H)
        for q in range(H):
            jj[q] = 1.0 + 2.0 * q
            tt[q] = jj[q] * (pi / Le)
        c0 = cof[e]
        c1 = cof[e + 1]
        cw = np.ascontiguousarray(coef[c0:c1]) * wsym
        de = delta[e] * wsym
        re = np.empty(H)
        im = np.empty(H)
        rnd_c = np.empty(H)
        legendre_cf_sum(tt, ca[c0:c1], cb[c0:c1], ctr[c0:c1], hh[c0:c1], cw, deg[c0:c1], re, im, rnd_c)
        pn = pe ** n
        pn1 = pe ** (n - 1)
        s_i = 0.0
        k_i = 0.0
        s_r = 0.0
        k_r = 0.0
        for q in range(H):
            psi = complex(re[q], im[q])
            Ps = pe + psi
            Pn = _cpow(Ps, n - 1) * Ps
            R = Pn - pn - n * pn1 * psi
            # (integer powers of the charges by binary powering, rounded up: _rpow_up)
            fac = _rpow_up(1.0 + de + abs(rnd_c[q]), n - 1) + pn1
            rw = (3 * n + 4) * _EPS * (_rpow_up(abs(Ps), n) + pn + n * pn1 * abs(psi) + 1e-300) + n * rnd_c[q] * fac
            j2 = jj[q] * jj[q]
            s_i, k_i = _neumaier(s_i, k_i, R.real / j2)
            s_r, k_r = _neumaier(s_r, k_r, rw / j2)
        Iabs = s_i + k_i
        Srnd = (s_r + k_r) * (1.0 + 4.0 * _EPS)
        a1 = abs1[e]
        v_out[e] = (a1 + 0.5 * Le * mR[e] - (4.0 * Le / pi ** 2) * Iabs) * Ue * Ue
        d_err = 0.5 * Le * n * de * ((1.0 + de) ** (n - 1) + pn1)
        e_out[e] = ((2.0 / pi) * tailA + al_abs[e] + (4.0 * Le / pi ** 2) * Srnd
                    + 8 * _EPS * (a1 + Le * mR[e]) * (1 + J * _EPS) + d_err + n * pn1 * E1e[e]) * Ue * Ue
        h_out[e] = H


@njit(cache=True)
def cut_points_all(ms, X6s, X4s, mids, lmin, lmax):
    """``._expect_46.cut_points(m, X6, X4, mids, lmin, lmax)`` (``extra = 0``) of every end, flattened:
    ``(x, off)`` with the end ``e``'s edges ``x[off[e]:off[e + 1]]``.  The same steps: the candidates' points,
    sorted, exact duplicates removed, kept in ``[-m, m]``, then a point dropped where it is within ``1e-15 m``
    of the point before it (before dropping), the ends set to ``-m, m``."""
    E = ms.size
    nm = mids.size
    cap = 4 + 2 * (nm + 2)
    buf = np.empty(E * cap)
    off = np.zeros(E + 1, np.int64)
    tmp = np.empty(cap)
    for e in range(E):
        m = ms[e]
        q = 0
        tmp[0] = 0.0
        tmp[1] = -m
        tmp[2] = m
        tmp[3] = 0.0
        q = 4
        for w in range(2):
            X = X6s[e] if w == 0 else X4s[e]
            if X > 0:
                for i in range(nm):
                    tmp[q] = X * mids[i]
                    q += 1
                tmp[q] = X * lmin
                tmp[q + 1] = X * lmax
                q += 2
        srt = np.sort(tmp[:q])
        o = off[e]
        r = 0
        prev = 0.0
        have = False
        for i in range(q):
            v = srt[i]
            if i > 0 and v == srt[i - 1]:
                continue                                  # np.unique
            if v < -m or v > m:
                continue
            if have and not (v - prev > 1e-15 * m):
                prev = v
                continue                                  # diff against the previous point of the unique array
            buf[o + r] = v
            r += 1
            prev = v
            have = True
        buf[o] = -m
        buf[o + r - 1] = m
        off[e + 1] = o + r
    return buf[:off[E]].copy(), off


@njit(cache=True)
def split_pick(H, GE, lam, idx, lens):
    """Per row ``i`` the first column minimizing ``H[i] + lam GE[i]`` over the finite ``H`` (``np.argmin`` of
    ``where(isfinite(H), H + lam GE, inf)``, index 0 if none is finite) into ``idx``; returns ``sum_i
    GE[i, idx[i]]``.  ``lens[i]``: row ``i`` has no finite ``H`` from that column on."""
    n, K = H.shape
    tot = 0.0
    for i in range(n):
        best = math.inf
        bi = 0
        for j in range(lens[i]):
            if math.isfinite(H[i, j]):
                v = H[i, j] + lam * GE[i, j]
                if v < best:
                    best = v
                    bi = j
        idx[i] = bi
        tot += GE[i, bi]
    return tot


@njit(cache=True)
def split_bisect(H, GE, B, lens):
    """The multiplier search of ``_expect_46_generic._split_tail_budget_mat`` (60 bisection steps in
    ``log10 lam`` on ``[-80, 80]``): the columns of the smallest ``lam`` found whose total is ``<= B``, or
    ``-1`` in ``idx[0]`` if even ``lam = 1e80`` exceeds ``B``."""
    n = H.shape[0]
    idx = np.empty(n, np.int64)
    i2 = np.empty(n, np.int64)
    lo = -80.0
    hi = 80.0
    tot = split_pick(H, GE, 10.0 ** hi, idx, lens)
    if tot > B:
        idx[0] = -1
        return idx
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        t2 = split_pick(H, GE, 10.0 ** mid, i2, lens)
        if t2 <= B:
            hi = mid
            for i in range(n):
                idx[i] = i2[i]
        else:
            lo = mid
    return idx
