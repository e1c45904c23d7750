"""Bit-independent certified optimum of the MSQE and QSin curves of Normal and Laplace laws (issue 20).

Pure Python (``math`` only; no numba, no scipy): a ``quanttheory scale --dist normal`` call
compiles nothing.  The Normal part is below; Laplace laws (:class:`LaplaceCurve`, at the end)
use the same certificate with the exact geometric-series curve of the fast path, its
forward-mode derivative, and first-order R'' bounds.  Everything is in standard units
(``sigma = 1``, ``m = loc / scale``, ``s`` in units of the law's scale; the optimum is
scale-equivariant).

The curve (continuous part; ReLU's atom sits on the grid point 0 and adds nothing) is

    F(s) = s^2 J(s) + tf T(s),   J(s) = int_a^b phi_g(x/s) p(x) dx,

with the interior ``[a, b] = [r_a s, r_t s]`` (``r_a = r_b``, or 0 for a ReLU law), the
granular part ``phi_g = saw^2`` (MSQE) or ``sin^2(pi u)`` (QSin), the clipping tails
``T = E[(xi - B)^2; xi > B] + E[(A - xi)^2; xi < A]`` and ``tf = 1`` (MSQE) or ``pi^2`` (QSin).
Writing ``s^2 J(s) = int_{r_a}^{r_t} phi_g(u) s^3 p(s u) du`` (fixed limits) and
differentiating under the integral:

    R'(s)  = s int_a^b phi_g(x/s) g1(x) dx + tf T'(s),     g1 = 3p + x p'
    R''(s) =   int_a^b phi_g(x/s) g2(x) dx + tf T''(s),    g2 = 6p + 6x p' + x^2 p''
    T'  = -2 r_t E[(xi - B)_+] + 2 r_b E[(A - xi)_+],      T'' = 2 r_t^2 P(xi > B) + 2 r_b^2 P(xi < A).

With ``h_n(z) = He_n(z) phi(z)`` (``z = x - m``): ``p^(n) = (-1)^n h_n``,
``(-1)^n g1^(n) = 2 h_n - m h_{n+1} - h_{n+2}`` and
``(-1)^n g2^(n) = 2 h_n - 2m h_{n+1} + (m^2 - 1) h_{n+2} + 2m h_{n+3} + h_{n+4}``.
``phi_g = gamma + sum_k`` Fourier modes (``saw^2 = 1/12 + sum_j (-1)^j cos(2 pi j u)/(pi j)^2``,
``sin^2(pi u) = (1 - cos 2 pi u)/2``); each mode is integrated by parts ``2K`` times at the two
ends (grid points, where every mode is 1), with the remainder ``int |g^(2K)|`` bounded by
Cauchy-Schwarz, ``E|sum_j c_j He_j(Z)| <= sqrt(sum_j c_j^2 j!)``:

    int_a^b phi_g(x/s) g = gamma int_a^b g + sum_{k<=K} c_k (-1)^k w^-2k D_k[g] + rem,
    D_k[g] = g^(2k-1)(a) - g^(2k-1)(b),   w = 2 pi / s,
    MSQE: c_k = -eta(2k+2)/pi^2, |rem| <= zeta(2K+2)/pi^2 w^-2K int|g^(2K)|;
    QSin: c_k = -1/2,            |rem| <= 1/2 w^-2K int|g^(2K)|.

The certificate (every step a rigorous inequality; rounding covered by relative slacks of
1e-13 on values that are accurate to ~1e-15):

1. ``s_t``: root of ``R'`` (bracket from the guess ``clip_guess / r_t`` in steps of 4x in ``s``,
   below ``s = 0.8``; then safeguarded false position); ``e``: from ``2 |R'(s_t)| / slope``,
   times 4 until ``R'(s_t - e) < -err`` and ``R'(s_t + e) > err`` (``err`` bounds the error of R').
2. ``(0, x]``: ``R(s) >= tf T(s) >= tf T(x)`` (``T`` decreases) exceeds ``R(s_t)``.
3. ``[x, y]`` (``y = 1.5 s_t``, else 1.3 or 1.15 ``s_t`` when steps 3-5 fail with 1.5): ``R'' > 0``
   on a cover by small intervals (lower bound: ``gamma (2P + [4xp + x^2 p']_a^b)`` at the worst
   end positions, ``- kappa (s2/2pi)^2 (|g2'(a)| + |g2'(b)| + int|g2''|)`` with Cramer's bound
   ``|h_n| <= 1.09 sqrt(n!/2pi)``, ``+ tf T''``): strictly convex there, so its minimizer is in
   ``(s_t - e, s_t + e)``.  If convexity fails (a Laplace kink off 0 makes R'' oscillate), the
   sign of R' instead: ``R' < 0`` on ``[x, s_t - e]`` and ``> 0`` on ``[s_t + e, y]``, from R' at
   the inner end of each piece and the (possibly negative) R'' bound on it.
4. ``[y, 1]``: ``R(s) >= s^2 J(s) + tf T(s) >= s1^2 (gamma P(s1) - kappa (s2/2pi)^2 (2 max|p'| + int|p''|))
   + tf T(s2)``.
4'. (tried first) ``[y, 2 (|m| + window)]`` in pieces of ratio 2 by the lattice bound
   (:func:`lattice_lower`, no evaluation), then step 5 from ``2 (|m| + window)`` on; off centre
   steps 4-5 alone needed pieces ~``s / |m|`` wide (every dip ``s ~ |m| / k`` on its own).  In the
   sign cover of step 3 a piece right of ``s_t`` may be excluded by it instead (``R > R(s_t)``);
   for a Normal law off centre whose crude R'' bound fails near ``s_t``, R'' > 0 on
   ``s_t (1 -+ d)`` comes from the few-cell certificate's pointwise Taylor bound
   (:func:`_taylor_neighbourhood`) and the sign cover runs outside it.
5. ``[1, inf)``: every grid point ``k s`` lies in ``k [s1, s2]``; ``R >= c E[d(xi, U)^2]`` over
   ``|xi - m| <= 13`` (Laplace 25; ``c = 1`` MSQE, ``4`` QSin since ``sin^2(pi d) >= 4 d^2``), the squared
   distance integrated against the smallest density of each piece (width <= 1/4); the clipping
   regions beyond the first and last interval exactly (``tf`` times the tail moment).

A law with density below 0 on an unsigned grid is certified as its ReLU curve plus the constant
``tf E[xi^2; xi < 0]``.  Any step that fails returns ``None`` (the caller tries the few-cell
certificate of :mod:`._lowbit_cert` at <= 16 grid points, then the per-cell branch and bound):
low bit widths whose optimum is not small against the law's scale, far-off-centre laws.
The file name is historical (Normal first); both laws live here so that the first call of a
``--dist normal``/``laplace`` optimum imports one small module.
"""

from __future__ import annotations

import math

_SQRT2 = math.sqrt(2.0)
_INV_SQRT2PI = 1.0 / math.sqrt(2.0 * math.pi)
_PI2 = math.pi * math.pi
_CRAMER = 1.09 * _INV_SQRT2PI  # |h_n(z)| <= 1.09 sqrt(n!) / sqrt(2 pi)  (Cramer's inequality)
_KMAX = 24
_CF = 120
S_HI = 0.8       # largest scale (units of the law's scale) where R' is evaluated
S_UNION = 1.0    # from here on the union-of-intervals bound (step 5)
WINDOW = 13.0

_ZETA_EVEN = None
_ETA_EVEN = None


def _tables():
    """zeta(2k) and eta(2k) = (1 - 2^(1-2k)) zeta(2k), k = 0..KMAX + 2 (no scipy)."""
    global _ZETA_EVEN, _ETA_EVEN
    if _ZETA_EVEN is None:
        z = [0.0]
        for k in range(1, _KMAX + 3):
            p = 2 * k
            closed = {2: _PI2 / 6, 4: _PI2**2 / 90, 6: _PI2**3 / 945, 8: _PI2**4 / 9450}
            z.append(closed[p] if p in closed else math.fsum(n ** -float(p) for n in range(64, 0, -1)))
        _ZETA_EVEN = z
        _ETA_EVEN = [(1.0 - 2.0 ** (1 - 2 * k)) * z[k] for k in range(len(z))]
    return _ZETA_EVEN, _ETA_EVEN


def _pdf(z):
    return math.exp(-0.5 * z * z) * _INV_SQRT2PI if abs(z) < 40 else 0.0


def _q(z):
    return 0.5 * math.erfc(z / _SQRT2)


def _mass(alpha, beta):
    if alpha >= 0.0:
        return _q(alpha) - _q(beta)
    if beta <= 0.0:
        return _q(-beta) - _q(-alpha)
    return 1.0 - _q(-alpha) - _q(beta)


def _cf(beta):
    """(D_1, D_2) of the Mills-ratio continued fraction R = 1/(beta + D_1), beta >= 2."""
    d = 0.0
    for n in range(_CF, 1, -1):
        d = n / (beta + d)
    return 1.0 / (beta + d), d


def _mills(beta):
    return math.sqrt(0.5 * math.pi) * math.exp(0.5 * beta * beta) * math.erfc(beta / _SQRT2)


def _tail2(beta):
    """E[(Z - beta)^2; Z > beta] for Z ~ N(0, 1) (continued fraction: no cancellation)."""
    if beta < 0.0:
        return (1.0 + beta * beta) - _tail2(-beta)
    if beta >= 40.0:
        return 0.0
    if beta < 2.0:
        j2 = (1.0 + beta * beta) * _mills(beta) - beta
    else:
        d1, d2 = _cf(beta)
        j2 = d2 / ((beta + d2) * (beta + d1))
    return _pdf(beta) * j2


def _tail1(beta):
    """E[(Z - beta)_+] for Z ~ N(0, 1) (no cancellation)."""
    if beta < 0.0:
        return -beta + _tail1(-beta)
    if beta >= 40.0:
        return 0.0
    if beta < 2.0:
        j1 = 1.0 - beta * _mills(beta)
    else:
        d1, _ = _cf(beta)
        j1 = d1 / (beta + d1)
    return _pdf(beta) * j1


def _hermite_fns(z, n):
    """[h_0(z), ..., h_n(z)], h_j = He_j(z) phi(z) (recurrence scaled by phi from the start)."""
    h = [_pdf(z), 0.0]
    h[1] = z * h[0]
    for j in range(1, n):
        h.append(z * h[j] - j * h[j - 1])
    return h


class NormalCurve:
    """MSQE (``qsin=False``) or QSin curve of ``Normal(m, 1)`` (ReLU-restricted if ``relu``)
    on the grid ``[r_b, r_t]``, continuous part, no curve factor; standard units."""

    s_hi, s_union, window, clip_guess = S_HI, S_UNION, WINDOW, 8.0
    pdf = staticmethod(_pdf)

    @staticmethod
    def pdf_np(z):
        import numpy as np

        return np.exp(-0.5 * z * z) * _INV_SQRT2PI

    def __init__(self, m, relu, r_b, r_t, qsin=False):
        self.m, self.relu, self.r_b, self.r_t, self.qsin = float(m), bool(relu), int(r_b), int(r_t), bool(qsin)
        self.r_a = 0 if relu else self.r_b
        zeta, eta = _tables()
        if qsin:
            self.gamma, self.kappa, self.tf = 0.5, 0.5, _PI2
            self.c = [0.0] + [-0.5] * _KMAX
            self.remc = [0.5] * (_KMAX + 1)
        else:
            self.gamma, self.kappa, self.tf = 1.0 / 12.0, zeta[2] / _PI2, 1.0
            self.c = [0.0] + [-eta[k + 1] / _PI2 for k in range(1, _KMAX + 1)]
            self.remc = [zeta[k + 1] / _PI2 for k in range(_KMAX + 1)]
        m = self.m
        fact = [1.0]
        for j in range(1, 2 * _KMAX + 8):
            fact.append(fact[-1] * j)
        # int |g^(2K)| bounds (Cauchy-Schwarz with the Hermite expansion)
        self.rem0 = [math.sqrt(fact[2 * K]) for K in range(_KMAX + 1)]
        self.rem1 = [math.sqrt(4 * fact[2 * K] + m * m * fact[2 * K + 1] + fact[2 * K + 2]) for K in range(_KMAX + 1)]
        # global sup of |g2'| and int |g2''| (for the crude R'' bound), |p'| <= phi(1), int|p''| = 4 phi(1)
        sq = [math.sqrt(f) for f in fact[:8]]
        self.g2p_sup = _CRAMER * (2 * sq[1] + 2 * abs(m) * sq[2] + abs(m * m - 1) * sq[3] + 2 * abs(m) * sq[4] + sq[5])
        self.g2pp_int = math.sqrt(4 * fact[2] + 4 * m * m * fact[3] + (m * m - 1) ** 2 * fact[4]
                                  + 4 * m * m * fact[5] + fact[6])
        self.p1_sup = _pdf(1.0)
        self.p2_int = 4.0 * _pdf(1.0)
        self.n_eval = 0

    # ----- pieces -----------------------------------------------------------------------
    def _ends(self, s):
        a = self.r_a * s
        b = self.r_t * s
        return a, b, a - self.m, b - self.m

    def _series(self, s, za, zb, which, scale_hint):
        """sum_k c_k (-1)^k w^-2k D_k[g] (g = p for which 0, g1 for 1) and its remainder bound."""
        w2 = (2.0 * math.pi / s) ** 2
        m = self.m
        nmax = 2 * _KMAX + 3
        ha = _hermite_fns(za, nmax)
        hb = _hermite_fns(zb, nmax)
        acc = 0.0
        absacc = 0.0
        tp = 1.0
        best = math.inf
        rem_tab = self.rem0 if which == 0 else self.rem1
        for k in range(1, _KMAX + 1):
            n = 2 * k - 1
            tp /= w2
            # (-1)^n g^(n) with n odd: g^(n) = -(...)
            if which == 0:
                ga, gb = -ha[n], -hb[n]
            else:
                ga = -(2 * ha[n] - m * ha[n + 1] - ha[n + 2])
                gb = -(2 * hb[n] - m * hb[n + 1] - hb[n + 2])
            term = self.c[k] * (-1.0 if k & 1 else 1.0) * tp * (ga - gb)
            acc += term
            absacc += abs(term)
            rem = self.remc[k] * tp * rem_tab[k]
            if rem < best:
                best = rem
            if rem <= 1e-18 * scale_hint:
                break
            if rem > 4 * best:  # the asymptotic series started to diverge
                break
        return acc, rem, absacc

    def value(self, s):
        """(F(s), error bound)."""
        self.n_eval += 1
        a, b, za, zb = self._ends(s)
        P = _mass(za, zb)
        T = _tail2(zb) + (0.0 if self.relu else _tail2(-za))
        acc, rem, absacc = self._series(s, za, zb, 0, self.gamma * P + 1e-300)
        gran = self.gamma * P + acc
        F = s * s * gran + self.tf * T
        err = s * s * (rem + 1e-15 * (self.gamma * P + absacc)) + 1e-15 * self.tf * T
        return F, err

    def tails(self, s):
        """tf T(s) (clipping part; decreasing in s)."""
        a, b, za, zb = self._ends(s)
        return self.tf * (_tail2(zb) + (0.0 if self.relu else _tail2(-za)))

    def deriv(self, s):
        """(R'(s), error bound) (no curve factor)."""
        self.n_eval += 1
        a, b, za, zb = self._ends(s)
        P = _mass(za, zb)
        pa, pb = _pdf(za), _pdf(zb)
        lead = self.gamma * (2.0 * P + b * pb - a * pa)
        acc, rem, absacc = self._series(s, za, zb, 1, abs(lead) + 1e-300)
        tp = -2.0 * self.r_t * _tail1(zb)
        if not self.relu:
            tp += 2.0 * self.r_b * _tail1(-za)
        g = s * (lead + acc) + self.tf * tp
        scale = s * (self.gamma * (2.0 * P + abs(b * pb) + abs(a * pa)) + absacc) + self.tf * abs(tp)
        err = s * rem + 1e-13 * scale
        return g, err

    # ----- rigorous bounds over [s1, s2] -----------------------------------------------------
    def _w_bounds(self, c1, c2):
        """(min, max) of w(c) = 4 c p(c) + c^2 p'(c) over c in [c1, c2]."""
        m = self.m

        def w(c):
            z = c - m
            return (4.0 * c - c * c * z) * _pdf(z)

        z1, z2 = c1 - m, c2 - m
        cmax = max(abs(c1), abs(c2))
        zmax = max(abs(z1), abs(z2))
        pmax = _pdf(0.0) if z1 <= 0.0 <= z2 else _pdf(min(abs(z1), abs(z2)))
        lip = (4.0 + 6.0 * cmax * zmax + cmax * cmax * (zmax * zmax + 1.0)) * pmax
        w1, w2 = w(c1), w(c2)
        half = 0.5 * (c2 - c1) * lip
        slack = 1e-14 * (abs(w1) + abs(w2))
        return 0.5 * (w1 + w2) - half - slack, 0.5 * (w1 + w2) + half + slack

    def curvature_lower(self, s1, s2):
        """Rigorous lower bound of R''(s) over s in [s1, s2] (no curve factor)."""
        m = self.m
        # P increases with s (the interior grows): its value at s1
        P = _mass(self.r_a * s1 - m, self.r_t * s1 - m) if self.r_a < 0 else _mass(-m, self.r_t * s1 - m)
        wb_lo, _ = self._w_bounds(self.r_t * s1, self.r_t * s2) if self.r_t > 0 else (0.0, 0.0)
        if self.r_a < 0:
            _, wa_hi = self._w_bounds(self.r_a * s2, self.r_a * s1)
        else:
            wa_hi = 0.0
        lead = self.gamma * (2.0 * P * (1 - 1e-15) + wb_lo - wa_hi)
        # T'' decreases with s: its value at s2
        t2 = 2.0 * self.r_t * self.r_t * _q(self.r_t * s2 - m)
        if not self.relu and self.r_b < 0:
            t2 += 2.0 * self.r_b * self.r_b * _q(-(self.r_b * s2 - m))
        fourier = self.kappa * (s2 / (2.0 * math.pi)) ** 2 * (2.0 * self.g2p_sup + self.g2pp_int)
        return lead + self.tf * t2 * (1 - 1e-14) - fourier - 1e-14 * abs(lead)

    def granular_lower(self, s1, s2):
        """Rigorous lower bound of F(s) over [s1, s2]: granular part at its worst plus tf T(s2)."""
        m = self.m
        P = _mass(self.r_a * s1 - m, self.r_t * s1 - m) if self.r_a < 0 else _mass(-m, self.r_t * s1 - m)
        fourier = self.kappa * (s2 / (2.0 * math.pi)) ** 2 * (2.0 * self.p1_sup + self.p2_int)
        # plus the clipping part at s2 (it decreases with s)
        return (s1 * s1 * (self.gamma * P - fourier) + self.tails(s2)) * (1 - 1e-13)

    def lattice_lower(self, s1, s2):
        """Rigorous lower bound of F over ``s in [s1, s2]`` by :func:`lattice_lower` (no evaluation)."""
        return lattice_lower(0, self.qsin, self.relu, self._q_above, s1, s2)

    def _q_above(self, c):
        """P(xi > c) of the law without ReLU."""
        return _q(c - self.m)

    def union_lower(self, s1, s2):
        """Rigorous lower bound of F(s) over s in [s1, s2] (s2 may be inf): every grid point
        k s lies in k [s1, s2]; the squared distance to the union of those intervals,
        integrated against the smallest density of each piece, over |x - m| <= WINDOW."""
        m = self.m
        lo, hi = m - self.window, m + self.window
        if self.relu:
            lo = max(lo, 0.0)
        if not hi > lo:
            return 0.0
        inf2 = math.isinf(s2)

        def kdiv(x, s):
            return 0.0 if math.isinf(s) else x / s

        k_lo = max(self.r_b, math.floor(min(lo / s1, kdiv(lo, s2))) - 1)
        k_hi = min(self.r_t, math.ceil(max(hi / s1, kdiv(hi, s2))) + 1)
        ivs = []
        for k in range(k_lo, k_hi + 1):
            if k == 0:
                ivs.append((0.0, 0.0))
            elif k > 0:
                ivs.append((k * s1, math.inf if inf2 else k * s2))
            else:
                ivs.append((-math.inf if inf2 else k * s2, k * s1))
        ivs.sort()
        merged = []
        for u, v in ivs:
            if merged and u <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], v)
            else:
                merged.append([u, v])
        total = 0.0
        # region below the first interval and above the last (clipping: distance to the end)
        segs = []
        # the clipping regions beyond the first and last interval: integrated exactly (the
        # squared distance to the end of the union is at most the clipping error); the
        # granular factor c is not needed there, the tail factor tf applies
        tails = 0.0
        if k_lo == self.r_b:
            A = merged[0][0]
            if not self.relu and not math.isinf(A):
                tails += self._tail_sq(A, below=True)
            elif A > lo:
                segs.append((lo, A, None, A))
        for i in range(len(merged) - 1):
            u, v = merged[i][1], merged[i + 1][0]
            segs.append((u, v, u, v))
        if k_hi == self.r_t and not math.isinf(merged[-1][1]):
            tails += self._tail_sq(merged[-1][1], below=False)
        X0, X1, AN = [], [], []
        for u, v, left, right in segs:
            if left is not None and right is not None:
                mid = 0.5 * (u + v)
                parts = ((u, mid, left), (mid, v, right))
            elif left is None:
                parts = ((u, v, right),)
            else:
                parts = ((u, v, left),)
            for x0, x1, anchor in parts:
                x0, x1 = max(x0, lo), min(x1, hi)
                if x1 > x0:
                    X0.append(x0)
                    X1.append(x1)
                    AN.append(anchor)
        if X0:
            # every part in pieces of width <= 1/4, each integrated against its smallest density
            # (the density is unimodal: at an end of the piece); the distance to the anchor (an end
            # of the part) is monotone on the piece
            import numpy as np

            x0, x1, an = np.array(X0), np.array(X1), np.array(AN)
            n = np.maximum(1, np.ceil((x1 - x0) / 0.25)).astype(np.int64)
            idx = np.repeat(np.arange(n.size), n)
            j = np.arange(idx.size) - np.repeat(np.cumsum(n) - n, n)
            h = ((x1 - x0) / n)[idx]
            l = x0[idx] + j * h
            r = np.where(j == n[idx] - 1, x1[idx], l + h)
            pmin = np.minimum(self.pdf_np(l - m), self.pdf_np(r - m))
            d0, d1 = np.abs(l - an[idx]), np.abs(r - an[idx])
            lo3, hi3 = np.minimum(d0, d1) ** 3, np.maximum(d0, d1) ** 3
            total = float(np.sum(pmin * (hi3 - lo3))) / 3.0
        c = 4.0 if self.qsin else 1.0
        return (c * total + self.tf * tails) * (1 - 1e-12)

    def _tail_sq(self, c, below):
        """E[(xi - c)^2; xi > c] (``below``: E[(c - xi)^2; xi < c]) of Normal(m, 1), exact."""
        return _tail2(self.m - c) if below else _tail2(c - self.m)


def lattice_lower(law, qsin, relu, q_above, s1, s2):
    """Rigorous lower bound of F over ``s in [s1, s2]`` from the unclipped lattice ``s Z`` for
    ``Normal(m, 1)`` (``law`` 0) or ``Laplace(m, 1)`` (``law`` 1), ``q_above(c) = P(xi > c)`` of
    the law without ReLU (no cell sum, no evaluation of F; strong for ``s`` up to a few law
    scales, whatever the offset of the mean from the grid):

    * the error of a clipped value exceeds its distance to the lattice (MSQE:
      ``|x - B| >= d(x, s Z)``; QSin: ``pi |x - B| >= s |sin(pi x / s)|``, ``B`` a grid point),
      so ``F >= E[s^2 phi_g(x / s)]`` over the whole law (ReLU: less the part below 0, at most
      ``s^2 max phi_g P(xi < 0)``);
    * Poisson summation with the law's characteristic function ``|c(w)|`` (``e^{-w^2/2}``
      Normal, ``1/(1 + w^2)`` Laplace), ``w_n = 2 pi n / s``: MSQE
      ``s^2/12 + s^2/pi^2 sum_n (-1)^n Re E[e^{i w_n x}] / n^2 >= s1^2/12 - s2^2/pi^2 sum_n |c(w_n)| / n^2``
      (``|c(2 pi n / s)|`` increases with ``s``: taken at ``s2``), QSin
      ``s^2 (1 - Re E[e^{i w_1 x}]) / 2 >= s^2 (1 - |c(2 pi / s)|) / 2``, which increases with
      ``s``: its value at ``s1``; for MSQE also that bound over ``pi^2``
      (``d(x, sZ) >= (s/pi) |sin(pi x/s)|``), the stronger one at large ``s``.

    Shared by the few-cell certificate (:meth:`._lowbit_cert.FewCells.lattice_lower`, its
    branch and bound) and the series certificate (:func:`_cover`, the scales above the hull).
    """
    if qsin:
        # g(s) = s^2 (1 - |c(2 pi / s)|) / 2 increases with s (Normal: g' = s (1 - e^{-u} (1 + u)),
        # u = 2 pi^2 / s^2; Laplace: g = 2 pi^2 / (1 + 4 pi^2 / s^2)): its value at s1
        w = 2.0 * math.pi / s1
        c = math.exp(-0.5 * w * w) if law == 0 else 1.0 / (1.0 + w * w)
        lb = 0.5 * s1 * s1 * (1.0 - c)
        top = 1.0
    else:
        a = 2.0 * _PI2 / (s2 * s2)
        tot = 0.0
        N = 12
        for n in range(1, N + 1):
            tot += (math.exp(-a * n * n) if law == 0 else 1.0 / (1.0 + 2.0 * a * n * n)) / (n * n)
        # the tail n > N: sum 1/n^2 <= 1/N times e^{-a (N+1)^2} (Normal); Laplace:
        # 1/(1 + 2 a n^2) <= 1/(2 a n^2) and sum_{n > N} 1/n^4 <= 1/(3 N^3)
        tot += math.exp(-a * (N + 1) ** 2) / N if law == 0 else 1.0 / (2.0 * a * 3.0 * N**3)
        lb = s1 * s1 / 12.0 - s2 * s2 / _PI2 * tot
        # large s, where the series above is weak: d(x, s Z)^2 >= (s/pi)^2 sin^2(pi x / s), so F
        # is at least the QSin bound g(s1) / pi^2 (g increasing, tends to pi^2 Var)
        w = 2.0 * math.pi / s1
        c = math.exp(-0.5 * w * w) if law == 0 else 1.0 / (1.0 + w * w)
        lb = max(lb, 0.5 * s1 * s1 * (1.0 - c) / _PI2)
        top = 0.25
    if relu:  # the atom at 0 has no error; the law's part below 0 (at most top s^2 each) is gone
        lb -= top * s2 * s2 * (1.0 - q_above(0.0))
    return lb - 1e-13 * (s2 * s2) - 1e-300


def _root(g, lo, hi, glo, ghi, maxiter=200, rtol=4e-16):
    from ._scalar import _root as root

    return root(g, lo, hi, glo, ghi, maxiter, rtol)


def _memoise(cur):
    """R' evaluations cached per scale on this curve (the root search, the sign change and the
    covers ask for the same scales)."""
    deriv = cur.deriv
    memo = {}

    def cached(s):
        out = memo.get(s)
        if out is None:
            out = memo[s] = deriv(s)
        return out

    cur.deriv = cached


def _sign_cover(cur, x, y, s_t, e, max_bounds, F_up=math.inf, inner=None):
    """Step 3 without convexity: R' < 0 on [x, s_t - e] and R' > 0 on [s_t + e, y], from R' at the
    inner end of each piece and a lower bound c of R'' on it (R'(s) <= R'(v) + max(0, -c)(v - s)
    left of s_t, R'(s) >= R'(u) - max(0, -c)(s - u) right of it); pieces bisected on failure.
    Right of ``s_t`` a piece may instead be excluded outright, ``R > F_up >= R(s_t)`` on it by the
    lattice bound (tried first: no evaluation): every piece is then increasing or excluded, so
    ``R(s) >= min(R(s_t + e), F_up)`` on ``[s_t + e, y]`` (an increasing piece's minimum is at its
    left end, which is ``s_t + e`` or the right end of an increasing or excluded piece), which
    is all the certificate uses.  Off centre (``|m| > 40``) R' > 0 is hard to show there (the
    crude R'' bound loses ``O((s m)^2)``), while ``lattice_lower > F_up`` holds from
    ``s ~ s_t (1 + 0.003)`` on.  ``inner = (a, b)``: a neighbourhood of ``s_t`` (containing
    ``[s_t - e, s_t + e]``) where R is shown strictly convex: R' < 0 on ``[a, s_t - e]`` and > 0 on
    ``[s_t + e, b]`` there already, the cover is of ``[x, a]`` and ``[b, y]`` only.  Returns the
    number of bounds used, or None."""
    nb = 0
    lo, hi = inner if inner is not None else (s_t - e, s_t + e)
    stack = [iv for iv in ((x, lo, -1), (hi, y, 1)) if iv[1] > iv[0]]
    while stack:
        u, v, side = stack.pop()
        nb += 1
        if nb > max_bounds:
            return None
        if side > 0 and cur.lattice_lower(u, v) > F_up:
            continue
        c = cur.curvature_lower(u, v)
        lip = max(0.0, -c)
        g, err = cur.deriv(v if side < 0 else u)
        if side < 0 and g + lip * (v - u) < -err:
            continue
        if side > 0 and g - lip * (v - u) > err:
            continue
        if (v - u) < 1e-9 * u:
            return None
        mid = 0.5 * (u + v)
        stack += [(u, mid, side), (mid, v, side)]
    return nb


def _taylor_neighbourhood(cur, s_t, e):
    """``(a, b, bounds used)`` with ``a < s_t - e``, ``s_t + e < b`` and R'' > 0 on ``[a, b]`` by the
    pointwise Taylor bound of :class:`._lowbit_cert.FewCells` (R'' and R''' exact at points from
    the cells within 10 law scales of the mean, ``|R''''|`` bounded over the piece), or None: a
    Normal law off centre (``|m| > 4``) only.  The half-width is chosen as in the few-cell
    certificate (``_certify_at``, step 3): where R'' stays above about half its value at ``s_t``
    by the R''' and R'''' terms, at most 1 %, at least 1e-5 relative."""
    if type(cur) is not NormalCurve or not abs(cur.m) > 4.0:
        return None
    memo = cur.__dict__.setdefault("_near", {})  # one per s_t: _cover runs for up to 3 hulls
    if s_t in memo:
        near = memo[s_t]
        return None if near is None else (near[0], near[1], 0)  # its bounds counted once
    near = memo[s_t] = _taylor_neighbourhood_at(cur, s_t, e)
    return near


def _taylor_neighbourhood_at(cur, s_t, e):
    from ._lowbit_cert import FewCells, _convex

    fc = FewCells(0, cur.m, cur.relu, cur.r_b, cur.r_t, cur.qsin)
    if not fc.taylor_ok():
        return None
    c2, _, c3, _ = fc.curv_point(s_t)
    if not c2 > 0.0:
        return None
    d0 = min(0.01, 0.5 * c2 / (abs(c3) * s_t + 1e-300))
    m4 = fc.fourth_bound(s_t * 0.99, s_t * 1.01)
    d0 = max(1e-5, min(d0, math.sqrt(c2 / (m4 + 1e-300)) / s_t))
    nb = 0
    for d in (d0, 0.2 * d0):
        a, b = s_t * (1 - d), s_t * (1 + d)
        if not (a < s_t - e and s_t + e < b):
            continue
        ok, _, used = _convex(fc, a, b, 64)
        nb += used
        if ok:
            return a, b, nb
    return None


def _cover(cur, x, y, F_up, max_bounds, s_t, e):
    """Steps 3-5 of the certificate for a hull [x, y]: (y, min R'' bound or -inf when step 3 used
    the sign cover, bounds used) or None."""
    nb = 0
    stack = []
    edges = [x * (y / x) ** (i / 4) for i in range(5)]
    stack = list(zip(edges[:-1], edges[1:]))
    cmin = math.inf
    convex = True
    while stack:
        s1, s2 = stack.pop()
        nb += 1
        if nb > max_bounds:
            return None
        c = cur.curvature_lower(s1, s2)
        if c > 0:
            cmin = min(cmin, c)
            continue
        if (s2 - s1) < 1e-5 * s1:
            convex = False
            break
        mid = math.sqrt(s1 * s2)
        stack += [(s1, mid), (mid, s2)]
    if not convex:
        # off centre the crude R'' bound can fail at s_t itself (it loses O((s m)^2)): R'' > 0 near
        # s_t from the few-cell certificate's pointwise Taylor bound, the sign cover outside
        # (its cell sums cost O(20 / s*) cells per point: with more than 256 cells the plain sign
        # cover first, which succeeds there unless |m| s* is large: N(300, 1), 16 bits, s* = 0.0093,
        # 35 -> 2 ms)
        many = 20.0 / s_t > 256
        near = None if many else _taylor_neighbourhood(cur, s_t, e)
        if near is not None:
            nb += near[2]
        used = _sign_cover(cur, x, y, s_t, e, min(150, max_bounds - nb), F_up,
                           None if near is None else near[:2])
        if used is None and many:
            near = _taylor_neighbourhood(cur, s_t, e)
            if near is not None:
                nb += near[2]
                used = _sign_cover(cur, x, y, s_t, e, min(150, max(0, max_bounds - nb)), F_up, near[:2])
        if used is None:
            return None
        nb += used
        cmin = -math.inf
    # 4-5 at once by the lattice bound (no evaluation): [y, Y] in pieces of ratio 2 (a handful),
    # Y = 2 (|m| + window); from Y on the union bound below needs one or two calls.  Off centre the
    # bounds of steps 4-5 need pieces ~ s / |m| wide (every dip s ~ |m| / k excluded on its own):
    # 200+ union bounds at 9 bits for N(50, 1).  When a piece fails, steps 4-5 run as before.
    stack = []
    s_union = cur.s_union
    y_lat = 2.0 * (abs(cur.m) + cur.window)
    lattice = y < y_lat
    u = y
    while lattice and u < y_lat:
        v = min(y_lat, 2.0 * u)
        nb += 1
        lattice = cur.lattice_lower(u, v) > F_up
        u = v
    y4 = y_lat if lattice else y  # where steps 4-5 start (y stays the hull's end)
    # 4. [y, S_UNION]: the granular part exceeds R(s_t)
    if y4 < s_union:
        nb += 1
        if not cur.granular_lower(y4, s_union) > F_up:  # one bound on the whole range first
            edges = [y4 * (s_union / y4) ** (i / 8) for i in range(9)]
            stack = list(zip(edges[:-1], edges[1:]))
    while stack:
        s1, s2 = stack.pop()
        nb += 1
        if nb > max_bounds:
            return None
        if cur.granular_lower(s1, s2) > F_up:
            continue
        if (s2 - s1) < 1e-3 * s1:
            return None
        mid = math.sqrt(s1 * s2)
        stack += [(s1, mid), (mid, s2)]
    # 5. [max(y, S_UNION), inf): the union-of-intervals bound (one bound on the whole range
    # first: enough when R(s_t) is small, i.e. at high bit widths)
    start = max(y4, s_union)
    nb += 1
    if cur.union_lower(start, math.inf) > F_up:
        stack = []
    else:
        edges = [start * 4.0**i for i in range(0, 7)]
        stack = [(edges[-1], math.inf)] + list(zip(edges[:-1], edges[1:]))
    while stack:
        s1, s2 = stack.pop()
        nb += 1
        if nb > max_bounds:
            return None
        if cur.union_lower(s1, s2) > F_up:
            continue
        if math.isinf(s2) or (s2 - s1) < 1e-2 * s1:
            return None
        mid = math.sqrt(s1 * s2)
        stack += [(s1, mid), (mid, s2)]
    return y, cmin, nb


def sign_change_radius(cur, s_t):
    """Smallest ``e = e0 * 4**j <= 1e-9 s_t`` with a certified sign change of R' around ``s_t``
    (``R'(s_t - e) < -err`` and ``R'(s_t + e) > err``, ``cur.deriv`` giving ``(R', err)``);
    ``e0`` from the error of R' at ``s_t`` over a finite-difference slope.  None if there is none."""
    g_t, err_t = cur.deriv(s_t)
    g_h, _ = cur.deriv(s_t * (1 + 1e-6))
    slope = (g_h - g_t) / (s_t * 1e-6)
    e = max(1e-15 * s_t, 2.0 * (abs(g_t) + err_t) / slope) if slope > 0 else 1e-15 * s_t
    for _ in range(40):
        gm, em = cur.deriv(s_t - e)
        gp, ep = cur.deriv(s_t + e)
        if gm < -em and gp > ep:
            break
        e *= 4.0
    else:
        return None
    return e if e <= 1e-9 * s_t else None


def certify(m, relu, r_b, r_t, qsin=False, max_bounds=400, law=0):
    """Certified global minimizer of the MSQE/QSin curve of Normal(m, 1) (ReLU if ``relu``)
    on ``[r_b, r_t]``, standard units.  Returns a dict (scale, scale_error, value, value_lower,
    diagnostics) or None when the bit-independent certificate does not apply (see module doc).

    A law with density below 0 on an unsigned grid (``r_b = 0``, not ReLU) quantizes every
    ``xi < 0`` to 0 whatever ``s``: its curve is the ReLU curve plus the constant
    ``tf E[xi^2; xi < 0]``, certified as such (the constant would swamp the variable part,
    ~2^-2b of it, in the rounding of the certificate at 20+ bits)."""
    if not relu and r_b == 0:
        out = certify(m, True, r_b, r_t, qsin, max_bounds, law)
        if out is not None:
            base = (NormalCurve if law == 0 else LaplaceCurve)(m, False, r_b, r_t, qsin)
            const = base.tf * base._tail_sq(0.0, below=True)
            out.update(value=out["value"] + const, value_lower=(out["value_lower"] + const) * (1 - 1e-15), curve=base)
        return out
    cur = (NormalCurve if law == 0 else LaplaceCurve)(m, relu, r_b, r_t, qsin)
    if cur.r_t <= 0 and cur.r_a == 0:
        return None
    _memoise(cur)
    # 1. bracket and root of R': a first guess from the grid range (the optimal clipping point
    # r_t s* is a few law scales: ~2-7 Normal, ~4-20 Laplace), then steps of 4x in s
    r_eff = max(cur.r_t, -cur.r_b, 1)
    hi = min(cur.s_hi, cur.clip_guess / r_eff)
    ghi, ehi = cur.deriv(hi)
    while not ghi > ehi:
        if hi >= cur.s_hi:
            return None
        hi = min(cur.s_hi, 4.0 * hi)
        ghi, ehi = cur.deriv(hi)
    lo = hi
    for _ in range(300):
        lo *= 0.25
        glo, elo = cur.deriv(lo)
        if glo < -elo:
            break
        if lo < 1e-300:
            return None
        hi, ghi = lo, glo
    else:
        return None
    if not ghi > 0:
        return None

    def gfun(s):
        return cur.deriv(s)[0]

    from ._scalar import _brent_root

    s_t, g_t = _brent_root(gfun, lo, hi, glo, ghi, rtol=1e-13)
    F_t, F_err = cur.value(s_t)
    F_up = (F_t + F_err) * (1 + 1e-13)
    # certified sign change of R' around s_t: e from the error of R' over a slope estimate
    e = sign_change_radius(cur, s_t)
    if e is None:
        return None
    nb = 0
    # 2. (0, x]: the clipping part alone exceeds R(s_t)
    x = s_t
    for _ in range(400):
        x *= 0.97
        if cur.tails(x) * (1 - 1e-13) > F_up:
            break
    else:
        return None
    for fy in (1.5, 1.3, 1.15):
        out = _cover(cur, x, fy * s_t, F_up, max_bounds - nb, s_t, e)
        if out is not None:
            break
    else:
        return None
    y, cmin, used = out
    nb += used
    # the minimizer is in (s_t - e, s_t + e) (R decreases left of it and increases right of it on
    # [x, y]); there |R'(s)| <= |R'(s_t)| + err + max(0, -R'') e
    g_t, g_err = cur.deriv(s_t)
    lip = max(0.0, -cur.curvature_lower(s_t - e, s_t + e))
    lower = (F_t - F_err - (abs(g_t) + g_err + lip * e) * e) * (1 - 1e-13)
    return dict(scale=s_t, scale_error=e, value=F_t, value_lower=lower, bounds=nb, evaluations=cur.n_eval,
                curvature_min=cmin, hull=(x, y), curve=cur)


# ---------------------------------------------------------------------------------------------
# Laplace laws (density exp(-|x - m|)/2 in standard units): the exact geometric-series curve of
# the fast path (risk/_kernels/fast.py, ported to Python), differentiated in forward mode
# (dual numbers) for R'; first-order bounds for R'' (Laplace's density has a kink at m).
# ---------------------------------------------------------------------------------------------

class _Dual:
    """Forward-mode derivative ``v + d eps`` (eps^2 = 0); comparisons use the value."""

    __slots__ = ("v", "d")

    def __init__(self, v, d=0.0):
        self.v, self.d = v, d

    def __add__(self, o):
        return _Dual(self.v + o.v, self.d + o.d) if isinstance(o, _Dual) else _Dual(self.v + o, self.d)

    __radd__ = __add__

    def __sub__(self, o):
        return _Dual(self.v - o.v, self.d - o.d) if isinstance(o, _Dual) else _Dual(self.v - o, self.d)

    def __rsub__(self, o):
        return _Dual(o - self.v, -self.d)

    def __neg__(self):
        return _Dual(-self.v, -self.d)

    def __mul__(self, o):
        if isinstance(o, _Dual):
            return _Dual(self.v * o.v, self.d * o.v + self.v * o.d)
        return _Dual(self.v * o, self.d * o)

    __rmul__ = __mul__

    def __truediv__(self, o):
        if isinstance(o, _Dual):
            return _Dual(self.v / o.v, (self.d * o.v - self.v * o.d) / (o.v * o.v))
        return _Dual(self.v / o, self.d / o)

    def __rtruediv__(self, o):
        return _Dual(o / self.v, -o * self.d / (self.v * self.v))

    def __pow__(self, n):
        return _Dual(self.v**n, n * self.v ** (n - 1) * self.d)

    def __lt__(self, o):
        return self.v < (o.v if isinstance(o, _Dual) else o)

    def __le__(self, o):
        return self.v <= (o.v if isinstance(o, _Dual) else o)

    def __gt__(self, o):
        return self.v > (o.v if isinstance(o, _Dual) else o)

    def __ge__(self, o):
        return self.v >= (o.v if isinstance(o, _Dual) else o)


def _val(x):
    return x.v if isinstance(x, _Dual) else x


def _dexp(x):
    if isinstance(x, _Dual):
        e = math.exp(x.v)
        return _Dual(e, e * x.d)
    return math.exp(x)


def _dexpm1(x):
    if isinstance(x, _Dual):
        return _Dual(math.expm1(x.v), math.exp(x.v) * x.d)
    return math.expm1(x)


def _dcos(x):
    if isinstance(x, _Dual):
        return _Dual(math.cos(x.v), -math.sin(x.v) * x.d)
    return math.cos(x)


def _dsin(x):
    if isinstance(x, _Dual):
        return _Dual(math.sin(x.v), math.cos(x.v) * x.d)
    return math.sin(x)


def _e_series(z, n):
    """int_0^1 v^n e^{z v} dv (float z): series for |z| <= 2, closed forms beyond (n = 2, 3)."""
    if abs(z) <= 2.0:
        term = 1.0
        acc = 1.0 / (n + 1)
        for k in range(1, 40):
            term *= z / k
            acc += term / (k + n + 1)
            if abs(term) < 1e-18:
                break
        return acc
    ez = math.exp(z)
    if n == 2:
        return (ez * (z * z - 2.0 * z + 2.0) - 2.0) / (z * z * z)
    return (ez * (z * z * z - 3.0 * z * z + 6.0 * z - 6.0) + 6.0) / (z * z * z * z)


E_BIG = 700.0
E_BIG_MSG = ("Laplace MSQE closed form at s = {s:.6g} law scales: its full-cell integral E_2(s/2) ~ e^(s/2) overflows "
             "above s = 1400 (the few-cell certificate evaluates F by cell sums there; only the clipping part T is "
             "taken from this form, LaplaceCurve.tails)")
"""Above ``s/2 = E_BIG`` the geometric closed form's products ``e^c E_2(w)`` overflow (``OverflowError``) or
give ``inf * 0 = nan`` (s = 1400: a silent wrong number); :meth:`LaplaceCurve._curve` and
:func:`._lowbit_cert._lap_msqe_vd` raise a clear OverflowError there instead."""


def _le2(z):
    """E_2(z) = int_0^1 v^2 e^{z v} dv (fast._e2); for a dual z, E_2' = E_3."""
    if isinstance(z, _Dual):
        return _Dual(_e_series(z.v, 2), _e_series(z.v, 3) * z.d)
    return _e_series(z, 2)


def _li2(d1, d2, z):
    if _val(d2) <= _val(d1):
        return 0.0
    if _val(d1) >= 0.0:
        return d2**3 * _le2(z * d2) - d1**3 * _le2(z * d1)
    if _val(d2) <= 0.0:
        return (-d1) ** 3 * _le2(z * d1) - (-d2) ** 3 * _le2(z * d2)
    return (-d1) ** 3 * _le2(z * d1) + d2**3 * _le2(z * d2)


def _lseg_right(ku, du, kv, dv, vinf, kmu, dmu, kap, t, qsin):
    """fast._seg_right (b = 1): (mass, cos-mode, int saw^2 p) of a segment right of the mode."""
    eu = ((ku - kmu) + (du - dmu)) * kap
    mass = 0.5 * _dexp(-eu)
    cosm = 0.0
    msq = 0.0
    if qsin:
        thu = 2.0 * math.pi * du
        xu = _dcos(thu) * _dexp(-eu)
        yu = _dsin(thu) * _dexp(-eu)
        cosm = cosm - (-xu + t * yu) / (2.0 * (1.0 + t * t))
    if not vinf:
        ev = ((kv - kmu) + (dv - dmu)) * kap
        mass = 0.5 * _dexp(-eu) * (-_dexpm1(-(ev - eu)))
        if qsin:
            thv = 2.0 * math.pi * dv
            xv = _dcos(thv) * _dexp(-ev)
            yv = _dsin(thv) * _dexp(-ev)
            cosm = cosm + (-xv + t * yv) / (2.0 * (1.0 + t * t))
    if not qsin:
        pref = kap / 2.0
        if 0.5 * _val(kap) > E_BIG:
            raise OverflowError(E_BIG_MSG.format(s=_val(kap)))
        if (not vinf) and kv == ku:
            msq = pref * _dexp(-((ku - kmu) - dmu) * kap) * _li2(du, dv, -kap)
        else:
            msq = pref * _dexp(-((ku - kmu) - dmu) * kap) * _li2(du, 0.5, -kap)
            m_full = 0.125 * (_le2(0.5 * kap) + _le2(-0.5 * kap))
            k1 = ku + 1
            e1 = ((k1 - kmu) - dmu) * kap
            if vinf:
                geo = 1.0 / (-_dexpm1(-kap))
            else:
                nfull = kv - ku - 1
                geo = _dexpm1(-kap * nfull) / _dexpm1(-kap) if nfull > 0 else 0.0
                msq = msq + pref * _dexp(-((kv - kmu) - dmu) * kap) * _li2(-0.5, dv, -kap)
            msq = msq + pref * _dexp(-e1) * m_full * geo
    return mass, cosm, msq


def _ltail(kB, kmu, dmu, kap):
    e = ((kB - kmu) - dmu) * kap
    if _val(e) >= 0.0:
        return _dexp(-e)
    return 2.0 + e * e - _dexp(e)


def _lbefore(k1, d1, k2, d2):
    dk = k1 - k2
    d1, d2 = _val(d1), _val(d2)
    if dk != 0.0:
        return (dk + (d1 - d2)) < 0.0 if abs(dk) == 1.0 else dk < 0.0
    return d1 < d2


def _lpdf(z):
    return 0.5 * math.exp(-abs(z)) if abs(z) < 700 else 0.0


def _lcdf(x):
    return 0.5 * math.exp(x) if x < 0 else 1.0 - 0.5 * math.exp(-x)


def _lmass(za, zb):
    """P(za < Y < zb), Y standard Laplace, without cancellation."""
    if za >= 0.0:
        return 0.5 * (math.exp(-za) - math.exp(-zb)) if math.isfinite(zb) else 0.5 * math.exp(-za)
    if zb <= 0.0:
        return 0.5 * (math.exp(zb) - math.exp(za))
    return 1.0 - 0.5 * math.exp(za) - 0.5 * math.exp(-zb)


_C1_MSQE = 1.0 / (18.0 * math.sqrt(12.0))  # max |int_0^u (saw^2 - 1/12)| = 0.016038
_C1_QSIN = 1.0 / (4.0 * math.pi)            # max |int_0^u (sin^2(pi v) - 1/2) dv|


class LaplaceCurve(NormalCurve):
    """MSQE/QSin curve of Laplace(m, 1) (density exp(-|x - m|)/2; ReLU-restricted if ``relu``)
    on ``[r_b, r_t]``; continuous part, no curve factor, standard units.  F is the exact
    geometric-series form of the fast path; R' its forward-mode derivative (rounding-level
    error, allowed for by a 1e-12 relative slack); R'' bounds to first order in s:
    ``|int_a^b (phi_g(x/s) - gamma) g dx| <= c1 s TV(g)`` (``c1`` = max of the periodic
    antiderivative, which vanishes at the grid points)."""

    s_hi, s_union, window, clip_guess = 0.8, 1.0, 25.0, 24.0
    pdf = staticmethod(_lpdf)

    @staticmethod
    def pdf_np(z):
        import numpy as np

        return 0.5 * np.exp(-np.abs(z))

    def __init__(self, m, relu, r_b, r_t, qsin=False):
        self.m, self.relu, self.r_b, self.r_t, self.qsin = float(m), bool(relu), int(r_b), int(r_t), bool(qsin)
        self.r_a = 0 if relu else self.r_b
        self.gamma = 0.5 if qsin else 1.0 / 12.0
        self.c1 = _C1_QSIN if qsin else _C1_MSQE
        self.tf = _PI2 if qsin else 1.0
        self.phimax = 1.0 if qsin else 0.25
        m = abs(self.m)
        self.g2_tv = 22.0 + 13.0 * m + m * m  # TV of the regular part of g2 = 6p + 6x p' + x^2 p''
        self.n_eval = 0

    def _curve(self, s):
        """F(s) (s float or _Dual) by fast._laplace_one (codes MSQE/QSin, b = 1) and tf T(s)."""
        mu, relu, r_b, r_t, qsin = self.m, self.relu, self.r_b, self.r_t, self.qsin
        t = 2.0 * math.pi / s
        kap = s
        q = mu / s
        kmu = math.floor(_val(q) + 0.5)
        dmu = q - kmu
        ka = kb = 0.0
        ainf = binf = False
        kb = float(r_t)
        if relu:
            ka = 0.0
            T = _ltail(kb, kmu, dmu, kap)
        else:
            ka = float(r_b)
            T = _ltail(kb, kmu, dmu, kap) + _ltail(-ka, -kmu, -dmu, kap)
        if relu and r_t <= 0:
            return self.tf * T, self.tf * T
        mass = cosm = msq = 0.0
        if _lbefore(ka, 0.0, kmu, dmu):
            ku, du = kmu, dmu
        else:
            ku, du = ka, 0.0
        if _lbefore(ku, du, kb, 0.0):
            m1, c1, q1 = _lseg_right(ku, du, kb, 0.0, binf, kmu, dmu, kap, t, qsin)
            mass, cosm, msq = mass + m1, cosm + c1, msq + q1
        if _lbefore(kmu, dmu, kb, 0.0):
            kv, dv = kmu, dmu
        else:
            kv, dv = kb, 0.0
        if _lbefore(ka, 0.0, kv, dv):
            m2, c2, q2 = _lseg_right(-kv, -dv, -ka, 0.0, ainf, -kmu, -dmu, kap, t, qsin)
            mass, cosm, msq = mass + m2, cosm + c2, msq + q2
        gran = 0.5 * s * s * (mass - cosm) if qsin else s * s * msq
        return gran + self.tf * T, self.tf * T

    def value(self, s):
        self.n_eval += 1
        F, _ = self._curve(float(s))
        return F, 1e-13 * abs(F)

    def tails(self, s):
        """``tf T(s)``, the clipping part alone: the same float operations as :meth:`_curve`'s (bit-identical),
        without its cell integrals (which overflow above s = 1400: Laplace(1e5, 1) at 6 bits raised an
        OverflowError at the certificate's first step, the clipping bound of (0, x])."""
        s = float(s)
        q = self.m / s
        kmu = math.floor(q + 0.5)
        dmu = q - kmu
        T = _ltail(float(self.r_t), kmu, dmu, s)
        if not self.relu:
            T = T + _ltail(-float(self.r_b), -kmu, -dmu, s)
        return self.tf * T

    def deriv(self, s):
        self.n_eval += 1
        F, T = self._curve(_Dual(float(s), 1.0))
        F = F if isinstance(F, _Dual) else _Dual(F, 0.0)
        T = T if isinstance(T, _Dual) else _Dual(T, 0.0)
        # terms of R' have the size of F/s (granular part) and |T'|: a rounding slack of 1e-12 of those
        err = 1e-12 * (4.0 * abs(F.v) / s + abs(T.d))
        return F.d, err

    def _P(self, s):
        m = self.m
        return _lmass(self.r_a * s - m, self.r_t * s - m) if self.r_a < 0 else _lmass(-m, self.r_t * s - m)

    def _w_bounds(self, c1, c2):
        """(min, max) of w(c) = 4 c p(c) + c^2 p'(c), p'(c) = -sign(c - m) p(c), over [c1, c2]."""
        m = self.m

        def w(c):
            return (4.0 * c - c * c * (1.0 if c > m else -1.0)) * _lpdf(c - m)

        cmax = max(abs(c1), abs(c2))
        z1, z2 = c1 - m, c2 - m
        pmax = 0.5 if z1 <= 0.0 <= z2 else _lpdf(min(abs(z1), abs(z2)))
        if z1 <= 0.0 <= z2:  # the kink: |w| <= (4|c| + c^2) p
            bound = (4.0 * cmax + cmax * cmax) * pmax
            return -bound, bound
        lip = (4.0 + 6.0 * cmax + cmax * cmax) * pmax
        w1, w2 = w(c1), w(c2)
        half = 0.5 * (c2 - c1) * lip
        slack = 1e-14 * (abs(w1) + abs(w2))
        return 0.5 * (w1 + w2) - half - slack, 0.5 * (w1 + w2) + half + slack

    def _tail_sq(self, c, below):
        """E[(xi - c)^2; xi > c] (``below``: E[(c - xi)^2; xi < c]) of Laplace(m, 1), exact."""
        e = (self.m - c) if below else (c - self.m)
        return math.exp(-e) if e >= 0.0 else 2.0 + e * e - math.exp(e)

    def lattice_lower(self, s1, s2):
        return lattice_lower(1, self.qsin, self.relu, self._q_above, s1, s2)

    def _q_above(self, c):
        """P(xi > c)."""
        return 1.0 - _lcdf(c - self.m) if c - self.m < 0 else 0.5 * math.exp(-(c - self.m))

    def curvature_lower(self, s1, s2):
        m = self.m
        P = self._P(s1)
        wb_lo = self._w_bounds(self.r_t * s1, self.r_t * s2)[0] if self.r_t > 0 else 0.0
        wa_hi = self._w_bounds(self.r_a * s2, self.r_a * s1)[1] if self.r_a < 0 else 0.0
        # the kink at m inside the interior for every s in [s1, s2]: int g2_reg = 2P + [w] + m^2,
        # and the delta part of x^2 p'' adds -phi_g(m/s) m^2 >= -phimax m^2
        inside = (self.r_a * s1 < m if self.r_a < 0 else 0.0 < m) and m < self.r_t * s1
        maybe = (self.r_a * s2 <= m if self.r_a < 0 else 0.0 <= m) and m <= self.r_t * s2
        kink = (self.gamma * m * m if inside else 0.0) - (self.phimax * m * m if maybe else 0.0)
        lead = self.gamma * (2.0 * P * (1 - 1e-15) + wb_lo - wa_hi) + kink
        t2 = 2.0 * self.r_t * self.r_t * self._q_above(self.r_t * s2)
        if not self.relu and self.r_b < 0:
            t2 += 2.0 * self.r_b * self.r_b * (1.0 - self._q_above(self.r_b * s2))
        return lead + self.tf * t2 * (1 - 1e-14) - self.c1 * s2 * self.g2_tv - 1e-14 * abs(lead)

    def granular_lower(self, s1, s2):
        # int (phi_g - gamma) p >= -c1 s TV(p), TV(p) = 1
        return (s1 * s1 * (self.gamma * self._P(s1) - self.c1 * s2) + self.tails(s2)) * (1 - 1e-13)
