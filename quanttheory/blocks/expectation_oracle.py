"""Exact expected error of the per-block optimal E8M0 scale (``oracle``) for MX formats.

docs/blocks.md §2f.  Normalize the block by the OCP floor scale ``X0 = 2^(floor(log2 M) - emax)``,
so the block absmax is ``r = M / X0`` in ``[2^emax, 2^(emax+1))`` and the E8M0 candidates are
``s_j = 2^j`` (``j`` integer).  ``e_j(x) = dist(x, s_j L)^2`` (``L`` the signed element levels,
saturating round-to-nearest = nearest level of a finite set) and ``SSE_j = sum_i e_j(x_i)``.

**Candidate-set check** (:func:`oracle_candidates`, exact rational arithmetic on the level sets).
On the common refinement of two rounding grids both ``e_j`` and ``e_0`` are quadratics with
``x^2`` coefficient 1, so ``D_j = e_0 - e_j`` (the gain of ``j`` over ``X0`` for one element) is
piecewise *linear*: its maximum over ``|x| <= r`` is attained at a breakpoint or at ``r``.  With
``Gmax_j(r) = max(0, sup_{|x| <= r} D_j(x))`` (non-decreasing) and ``loss_j(r) = min_{+-} -D_j(+-r)``
(the max element),

    SSE_j - SSE_0 >= loss_j(r) - (k - 1) Gmax_j(r),

so ``j`` never beats ``X0`` strictly where ``(k - 1) Gmax_j(r) <= loss_j(r)``.  A fine ``j`` also takes the block on a
tie (ties go to the smaller scale), so it is excluded only where that inequality is strict or ``(k - 1)
Gmax_j(r) > 0`` (:func:`_can_be_taken`: a tie of positive probability needs ``D_j(+-r) = 0`` at the max
element, i.e. ``loss_j(r) <= 0``; at ``k = 1`` MXINT8's ``X0 / 2`` ties ``X0`` for ``x`` in ``(-(1 +
1/128), -1] X0``).  This is checked on
every piece ``[r1, r2]`` of ``[2^emax, 2^(emax+1)]`` between breakpoints (``loss`` linear there:
minimum at an end; ``Gmax(r) <= Gmax(r2)``), bisecting a failing piece up to 40 times.  Coarse
candidates are also excluded by pointwise domination ``e_j >= e_j'`` on ``|x| <= 2^(emax+1)``
(``j' in {0, 1}``), and every ``j`` with ``2^j l_1 / 2 >= 2^(emax+1)`` (all elements round to 0:
``e_j = x^2 >= e_0``).  Fine candidates beyond ``j = -J`` (all levels inside ``[-eps, eps]``) are
covered at once by the lower bound ``e_j(x) >= ((|x| - eps)^+)^2``.  The candidates left,
``K``, can win; the oracle's block error is ``min_{j in K} SSE_j`` exactly.

**Inclusion-exclusion.**  If ``K = {c, 0, f}`` with one coarse ``c > 0`` and one fine ``f < 0``
candidate, and the two can never both beat ``X0`` (checked: on every piece of ``r`` at most one
of "``(k - 1) Gmax_j(r) + max_{+-} D_j(+-r) > 0``" holds, the necessary condition for
``SSE_j < SSE_0``), then with ``A = SSE_c``, ``B = SSE_0``, ``C = SSE_f``
``min(A, B, C) = min(A, B) + min(B, C) - B`` block by block, and

    E[oracle] = E min(A, B) + E min(B, C) - E B = (E A + E C - E|A - B| - E|B - C|) / 2.

Both candidate scales of each pair are fixed functions of ``M`` (constant between powers of two),
so each ``E|A - B|`` is the telescoped two-candidate statistic of the exact ``4over6`` path
(:func:`._expect_46.telescoped_stats`, docs/blocks.md §2d-§2d5) with ``(X6, X4) = (X0, 2^j X0)``,
and ``E A``, ``E C`` are exact absmax-rule expectations (§2c) with the scale ``2^j X0``.
Otherwise (two candidates on one side, or both sides possible at once) a ``ValueError`` says so
and points to :func:`~quanttheory.blocks.expectation_min.oracle_bracket`.

**Sure-win intervals.**  Symmetrically, ``SSE_0 - SSE_j >= min_{+-} D_j(+-r) - (k - 1) Lmax_j(r)`` with
``Lmax_j(r) = max(0, sup_{|x| <= r} -D_j)``: where that is ``> 0`` (:func:`_sure`), ``j`` wins every block,
``min(SSE_j, B) = SSE_j`` and the sub-piece needs no series (MXFP6 E3M2 / MXFP8 E4M3 / E5M2: almost
the whole coarse region).

**Rates.**  The block takes ``2^j X0`` iff ``SSE_j < B`` (coarse ``j``) or ``SSE_j <= B`` (fine ``j``:
ties go to the smaller scale, as :func:`~quanttheory.blocks.data.oracle_scales`), inside ``j``'s region;
so the saturation is the floor rule's, with the region sub-pieces' share replaced by the telescoped
``nu6(S <= 0) + nu4(S > 0)`` of the same kernel (plus the ``S = 0`` atom term for fine ``j``,
:func:`_tie_sat`) and the sure-win sub-pieces' share by the saturation of ``2^j X0``.

**One-signed ends.**  Where ``D_j`` has one sign on all of ``|x| <= m`` (:func:`_one_signed`, exact), ``|S| =
-+S`` and ``G^k E_m|S| = k G^(k-1) |T(m, 2^j X0) - T(m, X0)|`` by the cell sums (MXINT8 ``2 X0`` at ``r =
1.9921875``: ``X0``'s grid contains ``2 X0``'s levels and clips nothing there).

**Shared ends.**  With both ``2 X0`` and ``X0/2`` kept, ``2 X0``'s upper end ``r = 2^(emax+1)`` of one binade and
``X0/2``'s lower end ``r = 2^emax`` of the next are the same ``m`` with the same two grids in swapped roles: ``E_m|S|``
is the same (``S`` changes sign) and so is the oracle's saturation there (the coarse ``nu6(S <= 0) + nu4(S > 0)``
equals the fine one plus its tie term), entering with opposite signs; both ends are left out exactly
(``cancel=True``), only the floor parts ``G^(k-1) P(|xi| <= m, clipped by X0)`` of the rates stay.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

import numpy as np

__all__ = ["OracleCandidates", "OracleRates", "oracle_candidates", "block_mse_oracle"]


@dataclass(frozen=True)
class OracleCandidates:
    """Result of :func:`oracle_candidates` for one element format and block size ``k``.

    ``kept``: the exponent offsets ``j`` (scale ``2^j X0``) that can strictly beat every other
    candidate on some block (0 = the OCP floor scale ``X0`` is always kept); ``exact``: the
    inclusion-exclusion of the module doc applies (at most one coarse and one fine candidate,
    never both better than ``X0`` on one block); ``reason``: why not, if not.  ``gain[j]`` = the
    largest gain ``max D_j`` of one element (in ``X0^2``, over ``|x| <= 2^(emax+1)``),
    ``min_loss[j]`` = the smallest ``loss_j(r)`` of the max element over ``r`` in
    ``[2^emax, 2^(emax+1))`` (negative: ``j`` can be better at the max element too), ``how[j]``
    how ``j`` was excluded or that it is kept (tuples of ``(j, value)`` pairs, ``j`` from
    ``-J`` to the last coarse candidate checked; ``J`` = ``jmin_checked``).  ``regions``: per kept
    ``j != 0``, ``(j, ((r_a, r_b), ...))``: intervals of ``r = M / X0`` outside which ``j`` provably
    never beats ``X0`` (only there does the expectation need ``E|SSE_j - SSE_0|``).  ``sure``: per kept
    ``j != 0``, intervals of ``r`` on which ``j`` beats ``X0`` on every block (:func:`_sure`; there the
    expectation is ``E[SSE_j]``, no series)."""

    element: str
    k: int
    kept: tuple
    exact: bool
    reason: str
    gain: tuple
    min_loss: tuple
    how: tuple
    jmin_checked: int
    regions: tuple = ()
    sure: tuple = ()


def _levels(element):
    from .spec import element_format

    return [Fraction(float(v)) for v in np.asarray(element_format(element).levels, float)]


def _emax(element):
    from .spec import _ELEMENTS

    return _ELEMENTS[element]


class _Grid:
    """``e(x) = dist(x, s L)^2`` (``s`` a power of two) or, with ``eps``, the lower bound
    ``((|x| - eps)^+)^2`` of every grid inside ``[-eps, eps]``."""

    def __init__(self, lv, s=None, eps=None):
        self.eps = eps
        if eps is None:
            self.lv = [s * v for v in lv]
            self.mids = [(self.lv[i] + self.lv[i + 1]) / 2 for i in range(len(self.lv) - 1)]
        else:
            self.lv, self.mids = None, []

    def e(self, x):
        if self.eps is not None:
            d = abs(x) - self.eps
            return d * d if d > 0 else Fraction(0)
        import bisect

        i = bisect.bisect_left(self.mids, x)
        d = x - self.lv[i]
        return d * d

    def breaks(self):
        if self.eps is not None:
            return [self.eps]
        return [abs(m) for m in self.mids]


class _Pair:
    """``D(x) = e_0(x) - e_j(x)`` on ``|x| <= R``, its breakpoints and prefix maxima."""

    def __init__(self, g0, gj, R):
        self.g0, self.gj, self.R = g0, gj, R
        bp = sorted({b for b in g0.breaks() + gj.breaks() if 0 <= b <= R} | {Fraction(0), R})
        self.bp = bp
        vals = [max(self.D(b), self.D(-b)) for b in bp]
        pm, cur = [], None
        for v in vals:
            cur = v if cur is None else max(cur, v)
            pm.append(cur)
        self.pm = pm
        lows = [min(self.D(b), self.D(-b)) for b in bp]
        pn, cur = [], None
        for v in lows:
            cur = v if cur is None else min(cur, v)
            pn.append(cur)
        self.pn = pn

    def D(self, x):
        return self.g0.e(x) - self.gj.e(x)

    def gmax(self, r):
        """max(0, sup_{|x| <= r} D(x)) (exact: D is linear between breakpoints)."""
        import bisect

        i = bisect.bisect_right(self.bp, r) - 1
        v = max(self.pm[i], self.D(r), self.D(-r))
        return max(v, Fraction(0))

    def lmax(self, r):
        """max(0, sup_{|x| <= r} -D(x)): the largest loss of one element (exact, as gmax)."""
        import bisect

        i = bisect.bisect_right(self.bp, r) - 1
        v = min(self.pn[i], self.D(r), self.D(-r))
        return max(-v, Fraction(0))

    def mingain(self, r):
        """min over the sign of D(+-r): the max element's smallest gain."""
        return min(self.D(r), self.D(-r))

    def maxgain(self, r):
        """max over the sign of D(+-r): the max element's gain (minus its loss)."""
        return max(self.D(r), self.D(-r))

    def pieces(self, lo, hi):
        pts = sorted({b for b in self.bp if lo < b < hi} | {lo, hi})
        return list(zip(pts[:-1], pts[1:]))


def _holds_everywhere(intervals, ok, depth):
    """True if ``ok(a, b)`` holds on every interval after bisecting the failing ones at most ``depth``
    times (``ok`` must be a sufficient condition on ``[a, b]``, so it proves the claim on the union)."""
    stack = [(a, b, 0) for a, b in intervals]
    while stack:
        a, b, d = stack.pop()
        if ok(a, b):
            continue
        if d >= depth:
            return False
        c = (a + b) / 2
        stack += [(a, c, d + 1), (c, b, d + 1)]
    return True


def _never_wins(pair, k, lo, hi, depth=40, fine=False):
    """True if ``j`` is never taken for ``r`` in ``[lo, hi]``: coarse (``fine=False``): ``(k-1) Gmax(r) <=
    loss(r) = -maxgain(r)`` (module doc: ``SSE_j >= SSE_0``, ties go to ``X0``); fine: the same with the
    tie-aware test of :func:`_can_be_taken` (ties go to the smaller scale ``2^j X0``)."""
    return _holds_everywhere(pair.pieces(lo, hi), lambda a, b: not _can_be_taken(pair, k, a, b, fine), depth)


def _can_win(pair, k, a, b):
    """Necessary condition for SSE_j < SSE_0 somewhere on r in [a, b] (conservative)."""
    return (k - 1) * pair.gmax(b) + max(pair.maxgain(a), pair.maxgain(b)) > 0


def _can_be_taken(pair, k, a, b, fine):
    """Necessary condition for the block to take ``2^j X0`` over ``X0`` with positive probability for some
    ``r`` in ``[a, b]`` (conservative).  Coarse ``j``: ``SSE_j < SSE_0`` (:func:`_can_win`).  Fine ``j``:
    ``SSE_j <= SSE_0`` (ties go to the smaller scale, as ``oracle_scales``), i.e. ``v = (k - 1) Gmax(b) +
    max_{+-} D(+-r) >= 0``.  Where ``v = 0`` and ``(k - 1) Gmax(b) > 0`` the tie ``SSE_j = SSE_0`` needs
    every other element at a maximum of the piecewise-linear ``D`` where ``D = Gmax > 0`` (``D`` is constant
    only where it is 0): probability 0, so that case is excluded as before and nothing changes where
    ``(k - 1) Gmax > 0`` (every preset at ``k >= 2``).  Where ``(k - 1) Gmax(b) = 0`` (``k = 1``) a tie of
    the max element (``D(+-r) = 0``: both grids give it the same level) has positive probability: MXINT8
    ``X0 / 2`` at ``k = 1``, ``x`` in ``(-(1 + 1/128), -1] X0`` (docs/audit.md finding 7)."""
    g = (k - 1) * pair.gmax(b)
    v = g + max(pair.maxgain(a), pair.maxgain(b))
    if v > 0:
        return True
    return bool(fine and v == 0 and g == 0)


def _exclusive(pc, pf, k, lo, hi, depth=40):
    """True if no r in [lo, hi] lets both candidates be taken over X0 (bisection of the pieces; the fine
    one tie-aware, :func:`_can_be_taken`)."""
    pts = sorted({p for p in pc.bp + pf.bp if lo < p < hi} | {lo, hi})
    return _holds_everywhere(zip(pts[:-1], pts[1:]),
                             lambda a, b: not (_can_win(pc, k, a, b) and _can_be_taken(pf, k, a, b, True)), depth)


def _excluded_at(pair, k, r, fine):
    """The exclusion test of :func:`_region` at the single point ``r``."""
    return not _can_be_taken(pair, k, r, r, fine)


def _region(pair, k, lo, hi, fine, depth=14):
    """Closed intervals of ``r`` in ``[lo, hi]`` outside which candidate ``j`` provably never beats
    ``X0`` (the necessary condition of :func:`_can_be_taken`: strict win for coarse ``j``, win or tie of
    positive probability for fine ``j``, whose ties the block takes);
    bisection to ``depth`` levels below the breakpoint pieces, adjacent intervals merged.  A
    superset of where ``j`` can win, so ``min(SSE_j, SSE_0) = SSE_0`` outside it exactly."""
    out = []
    stack = [(a, b, 0) for a, b in reversed(pair.pieces(lo, hi))]
    while stack:
        a, b, d = stack.pop()
        if not _can_be_taken(pair, k, a, b, fine):
            continue
        if d >= depth or (d >= 2 and not _excluded_at(pair, k, a, fine) and not _excluded_at(pair, k, b, fine)):
            # (both ends can win: keep the whole interval -- a superset is still correct; only the
            # intervals with an excluded end are bisected further, to place the region's boundary)
            if out and out[-1][1] == a:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
            continue
        c = (a + b) / 2
        stack += [(c, b, d + 1), (a, c, d + 1)]
    return tuple((float(a), float(b)) for a, b in out)


def _sure(pair, k, lo, hi, depth=45):
    """Closed intervals of ``r`` in ``[lo, hi]`` on which ``j`` surely beats ``X0`` strictly on every
    block: ``SSE_0 - SSE_j >= min_{+-} D(+-r) - (k - 1) Lmax(r) > 0`` (the max element gains at least
    ``min D(+-r)``, each other element loses at most ``Lmax(r) = max(0, sup_{|x| <= r} -D)``, which is
    non-decreasing; ``D`` is linear between breakpoints, so on ``[a, b]`` inside one piece the gain is
    smallest at an end).  Bisection ``depth`` levels below the breakpoint pieces; a subset of the
    true set (only intervals where the sufficient condition is proven).  There
    ``min(SSE_j, SSE_0) = SSE_j`` exactly and the block takes ``2^j X0``."""
    out = []
    stack = [(a, b, 0) for a, b in reversed(pair.pieces(lo, hi))]
    while stack:
        a, b, d = stack.pop()
        if min(pair.mingain(a), pair.mingain(b)) > (k - 1) * pair.lmax(b):
            if out and out[-1][1] == a:
                out[-1] = (out[-1][0], b)
            else:
                out.append((a, b))
            continue
        # no r in [a, b] can pass: the gain's largest value there (each D(+-r) linear: at an end) is
        # at most the loss bound at a (Lmax non-decreasing)
        top = min(max(pair.D(a), pair.D(b)), max(pair.D(-a), pair.D(-b)))
        if d >= depth or top <= (k - 1) * pair.lmax(a):
            continue
        c = (a + b) / 2
        stack += [(c, b, d + 1), (a, c, d + 1)]
    res = []
    for a, b in out:
        fa, fb = float(a), float(b)
        if Fraction(fa) < a:                 # round inward: the float interval stays inside the proven one
            fa = float(np.nextafter(fa, np.inf))
        if Fraction(fb) > b:
            fb = float(np.nextafter(fb, -np.inf))
        if fa < fb:
            res.append((fa, fb))
    return tuple(res)


@lru_cache(maxsize=None)
def _pair_of(element, j):
    """The exact ``_Pair`` of ``(X0, 2^j X0)`` on ``|x| <= 2^(emax+1)`` (cached)."""
    lv = _levels(element)
    return _Pair(_Grid(lv, Fraction(1)), _Grid(lv, Fraction(2) ** j), Fraction(2) ** (_emax(element) + 1))


@lru_cache(maxsize=4096)
def _one_signed(element, j, r):
    """True if ``D_j = e_0 - e_j`` has the sign that decides the block on all of ``|x| <= r`` (``r = m / X0``
    exact, a float): coarse ``j > 0``: ``D <= 0`` (``sup D = 0``, so ``S = SSE_0 - SSE_j <= 0`` and the block
    never takes ``2^j X0``); fine ``j < 0``: ``D >= 0`` (``S >= 0``: the block always takes it, ties to the
    smaller scale).  Exact: ``D`` is linear between breakpoints (:class:`_Pair`)."""
    pair = _pair_of(element, j)
    rr = Fraction(r)
    if not (0 < rr <= pair.R):
        return False
    return pair.gmax(rr) == 0 if j > 0 else pair.lmax(rr) == 0


def _dominates(g_big, g_small, R):
    """e_big(x) >= e_small(x) on |x| <= R (piecewise linear difference: check at breakpoints)."""
    bp = sorted({b for b in g_big.breaks() + g_small.breaks() if 0 <= b <= R} | {Fraction(0), R})
    return all(g_big.e(s * b) >= g_small.e(s * b) for b in bp for s in (1, -1))


@lru_cache(maxsize=None)
def oracle_candidates(element: str, k: int) -> OracleCandidates:
    """Which E8M0 scales ``2^j X0`` can be the per-block optimum, for element format ``element``
    (``e4m3 e5m2 e2m3 e3m2 e2m1 mxint8 int4n int8n``) and block size ``k >= 1`` (module doc:
    exact rational arithmetic on the level sets; piecewise-linear gains, maxima at breakpoints).

    Example, MXFP4 (E2M1, ``k = 32``, ``r = M / X0`` in [4, 8)): ``j >= 2`` is dominated by
    ``j = 1`` pointwise; ``j <= -2`` gains at most ``0.0625 X0^2`` per element while the max
    element loses ``>= 6.25 X0^2``; ``j = 1`` can win only when ``r > 7`` and ``j = -1`` only when
    ``31 * 0.0625 > loss(r)``, i.e. ``r < 7`` (loss >= 15 beyond 7): ``kept = (-1, 0, 1)``, exact."""
    if not isinstance(element, str):
        raise TypeError(f"element must be a format name (str), got {type(element).__name__}")
    from .spec import _ELEMENTS

    if element not in _ELEMENTS:
        raise ValueError(f"unknown element format {element!r}; valid: {sorted(_ELEMENTS)}")
    if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1):
        raise ValueError(f"block size k must be an integer >= 1, got {k!r}")
    k = int(k)
    lv = _levels(element)
    emax = _emax(element)
    lo, hi = Fraction(2) ** emax, Fraction(2) ** (emax + 1)
    g0 = _Grid(lv, Fraction(1))
    amax = max(abs(lv[0]), abs(lv[-1]))
    l1 = min(abs(v) for v in lv if v != 0)
    how, gain, loss = [], [], []
    kept = [0]

    def stats(pair, j):
        gain.append((j, float(pair.gmax(hi))))
        pts = sorted({p for p in pair.bp if lo <= p <= hi} | {lo, hi})
        loss.append((j, float(min(-pair.maxgain(p) for p in pts))))

    # fine side: j = -1, -2, ... until every level is inside [-eps, eps] with eps <= l1 / 8
    j = -1
    while True:
        s = Fraction(2) ** j
        if s * amax <= l1 / 8:
            break
        pair = _Pair(g0, _Grid(lv, s), hi)
        stats(pair, j)
        if _never_wins(pair, k, lo, hi, fine=True):
            how.append((j, "never beats X0 (gain/loss bound)"))
        else:
            how.append((j, "kept"))
            kept.append(j)
        j -= 1
    jmin = j + 1
    eps = Fraction(2) ** j * amax
    tail = _Pair(g0, _Grid(lv, eps=eps), hi)
    if not _never_wins(tail, k, lo, hi, fine=True):
        return OracleCandidates(element, k, tuple(sorted(kept)), False,
                                f"fine scales below 2^{j} X0 not excluded by the tail bound", tuple(gain), tuple(loss),
                                tuple(how), jmin)
    how.append((j, f"all j <= {j}: never beat X0 (levels inside +-{float(eps):.3g} X0)"))
    # coarse side: j = 1, 2, ... until every |x| <= hi rounds to 0
    g1 = _Grid(lv, Fraction(2))
    j = 1
    while True:
        s = Fraction(2) ** j
        if s * l1 / 2 >= hi:
            how.append((j, f"all j >= {j}: every element rounds to 0 (e_j = x^2 >= e_0)"))
            break
        gj = g1 if j == 1 else _Grid(lv, s)
        pair = _Pair(g0, gj, hi)
        stats(pair, j)
        if j >= 2 and _dominates(gj, g1, hi):
            how.append((j, "dominated by j = 1 pointwise"))
        elif _dominates(gj, g0, hi):
            how.append((j, "dominated by X0 pointwise"))
        elif _never_wins(pair, k, lo, hi):
            how.append((j, "never beats X0 (gain/loss bound)"))
        else:
            how.append((j, "kept"))
            kept.append(j)
        j += 1
    kept = sorted(kept)
    coarse = [j for j in kept if j > 0]
    fine = [j for j in kept if j < 0]
    exact, reason = True, ""
    if len(coarse) > 1 or len(fine) > 1:
        exact, reason = False, f"more than one candidate on one side of X0 can win: {kept}"
    elif coarse and fine:
        pc = _Pair(g0, _Grid(lv, Fraction(2) ** coarse[0]), hi)
        pf = _Pair(g0, _Grid(lv, Fraction(2) ** fine[0]), hi)
        if not _exclusive(pc, pf, k, lo, hi):
            exact, reason = False, f"candidates {coarse[0]} and {fine[0]} may both beat X0 on one block"
    pairs = {j: _Pair(g0, _Grid(lv, Fraction(2) ** j), hi) for j in kept if j != 0}
    regions = tuple((j, _region(pairs[j], k, lo, hi, j < 0)) for j in kept if j != 0)
    sure = tuple((j, _sure(pairs[j], k, lo, hi)) for j in kept if j != 0)
    return OracleCandidates(element, k, tuple(kept), exact, reason, tuple(gain), tuple(loss), tuple(how), jmin,
                            regions, sure)


def _mse_scaled(dist, bf, a, b, X, k, eabs, per_piece=False):
    """Per-element MSE of the absmax rule with scale ``X_p`` on the piece ``(a_p, b_p]`` (the
    telescoped sum of docs/blocks.md §2c, :func:`.expectation._block_mse_telescoped`, for an
    arbitrary piecewise-constant scale; ``eabs`` the target of the summed cell-quadrature bounds).
    Returns (mse, error bound), or with ``per_piece`` the arrays of both per piece."""
    from .expectation import _telescoped_terms

    terms, qerr, _ = _telescoped_terms(dist, bf, a, b, X, k, eabs)
    mse = float(np.sum(terms))
    if per_piece:
        return terms, qerr + 20 * np.finfo(float).eps * terms
    return mse, float(np.sum(qerr)) + 20 * np.finfo(float).eps * mse


def _from_bracket(dist, bf, tol, m2):
    """The oracle from :func:`~quanttheory.blocks.expectation_min.oracle_bracket` when its width is
    already below ``tol`` relative (MXFP8 E4M3: ~1e-12): midpoint, error = half-width + the lower
    bound's quadrature indicator + the upper bound's own error estimate (the exact absmax rule it
    is, :func:`~quanttheory.blocks.expectation.block_mse`, recomputed at ``tol=1e-12``); ``None``
    if the bracket is wider."""
    from .expectation import BlockMSE, block_mse
    from .expectation_min import oracle_bracket

    br = oracle_bracket(dist, bf)
    lo = br.lower - br.lower_error
    if not (br.upper - lo <= tol * br.upper):
        return None
    up = block_mse(dist, bf, br.upper_rule, tol=1e-12)      # the same exact rule, to 1e-12 (its bound included)
    hi = up.mse + float(up.error_estimate)
    if not (hi - lo <= 2 * tol * br.upper):
        return None
    mid = 0.5 * (lo + hi)
    nan = float("nan")
    return BlockMSE(mid, 10 * math.log10(m2 / mid), nan, nan, nan, 0.5 * (hi - lo) + 1e-15 * mid, "oracle",
                    bf.block, 1.0, 1.0)


class OracleRates(NamedTuple):
    """Rates of the per-block optimal E8M0 scale with an absolute error bound: ``saturation``
    (fraction of elements clipped by the chosen scale: ``x / X`` beyond ``[l_min, l_max]``, as
    ``monte_carlo_block_mse`` / ``block_data_report`` count them), ``scale_underflow`` /
    ``scale_overflow`` (fraction of blocks whose chosen scale leaves the E8M0 range: 0, the oracle
    only picks representable scales, as ``block_data_report`` counts it), ``error`` (bound on the
    saturation's absolute error: series bounds + the pieces counted by their mass + the mass of
    ``M`` outside ``[m_lo, m_hi]``)."""

    saturation: float
    scale_underflow: float
    scale_overflow: float
    error: float


def _tie_sat(dist, fmt, ms, X0, Xj, k):
    """Per end ``m`` (arrays ``ms``, ``X0``, ``Xj``): ``P0^(k-1) (Q_j - Q_0)`` with ``P0 = P(|xi| <= m,
    xi in an atom cell)`` (both grids give ``xi`` the same level: ``d = 0``) and ``Q_s = P(|xi| <= m,
    xi in an atom cell, clipped by X_s)``: ``G(m)^k`` times ``E_m[1{xi_1 clipped by Xj} - 1{xi_1 clipped
    by X0}; S = 0]``.  ``S = 0`` has positive probability only when all ``k`` elements sit in atom
    cells (``d`` is linear and not constant on the other cells); the oracle then takes the smaller
    scale (``oracle_scales``): for a fine candidate ``Xj < X0``, the ``S = 0`` blocks pick ``Xj``."""
    lv = np.asarray(fmt.levels, float)
    mids = np.asarray(fmt.midpoints, float)
    lo, hi = lv[0], lv[-1]
    ms, X0, Xj = (np.asarray(v, float)[:, None] for v in (ms, X0, Xj))
    cuts = np.concatenate([X0 * mids, Xj * mids, X0 * np.array([lo, hi]), Xj * np.array([lo, hi]),
                           np.zeros_like(ms), -ms, ms], axis=1)
    cuts = np.sort(np.clip(cuts, -ms, ms), axis=1)
    l, u = cuts[:, :-1], cuts[:, 1:]
    c = 0.5 * (l + u)
    R0 = X0 * lv[np.clip(np.searchsorted(mids, (c / X0).ravel()), 0, lv.size - 1)].reshape(c.shape)
    Rj = Xj * lv[np.clip(np.searchsorted(mids, (c / Xj).ravel()), 0, lv.size - 1)].reshape(c.shape)
    atom = (R0 == Rj) & (u > l)
    p = np.where(atom, np.asarray(dist.cdf(u), float) - np.asarray(dist.cdf(l), float), 0.0)
    cl0 = (c > X0 * hi) | (c < X0 * lo)
    clj = (c > Xj * hi) | (c < Xj * lo)
    P0 = np.sum(p, axis=1)
    Q = np.sum(p * (clj.astype(float) - cl0.astype(float)), axis=1)
    return P0 ** (k - 1) * Q


def _can_clip(fmt, m, X):
    """Per end ``m`` (array): the grid ``X L`` clips some ``|x| <= m`` (``x / X`` beyond the levels)."""
    lo, hi = float(fmt.levels[0]), float(fmt.levels[-1])
    return (X > 0) & ((m > X * hi) | (-m < X * lo))


def block_mse_oracle(dist, fmt="mxfp4", *, block=None, tol: float = 1e-10, max_harmonics: int = 4_000_000,
                     rates: bool = True, rate_tol: float = 1e-9, max_rate_harmonics: int = 300_000,
                     bracket_first: int = 500_000, full: bool = False, share_abs: bool = True,
                     share_from: int = 20_000, min_closed: int = 500,
                     cancel: bool = True, group: bool = True, noalias_below: int = 1000):
    """Exact expected per-element MSE of the per-block optimal E8M0 scale (``oracle``), MX formats,
    Normal and Laplace laws (docs/blocks.md §2f; module doc), and its exact saturation rate.

    ``E[oracle] = E B + sum_{j in K, j != 0} (E min(SSE_j, B) - E B)`` with ``B = SSE_0`` the OCP
    floor scale's block error and ``K`` from :func:`oracle_candidates` (at most one coarse and one
    fine candidate, never both better than ``X0`` on one block); ``E min(SSE_j, B) = (E SSE_j + E B
    - E|SSE_j - B|) / 2`` with ``E|.|`` the telescoped characteristic-function series of the exact
    ``4over6`` path.  Returns :class:`~quanttheory.blocks.expectation.BlockMSE` (``mse`` in data
    units^2 per element, ``sqnr_db``, ``error_estimate`` absolute: quadrature / series bounds + the
    truncation of ``M`` to ``[m_lo, m_hi]``), with ``full=True`` also :class:`OracleRates` (the
    saturation's error bound).  ``tol``: target relative error of the MSE (float in [1e-12, 1e-3)).

    Rates (``rates=True``, docs/blocks.md §2f): the chosen scale is ``2^j X0`` iff ``SSE_j < B``
    (``j`` in ``K``, ties to the smaller scale as :func:`~quanttheory.blocks.data.oracle_scales`;
    inside ``j``'s region only), so on each region sub-piece the saturation of the floor rule is
    replaced by ``E[1{xi_1 clipped by X0}; S <= 0] + E[1{xi_1 clipped by 2^j X0}; S > 0]``
    (``S = B - SSE_j``), the same series at the same harmonics (``nu6``, ``nu4`` of the 4over6
    kernel); ``rate_tol`` (float in [1e-13, 1e-2)) bounds the saturation's absolute error.  The
    scale under/overflow rates are 0 (the oracle picks representable scales only).  ``rates=False``:
    NaN rates (faster); the rates are also skipped (NaN) when their series would add more than
    ``max_rate_harmonics`` odd harmonics to the MSE's (planning pass; MXFP6 E3M2 at k >= 8: 0.7-2.9e6;
    ``rate_tol <= 1e-12``: MXINT8 at k = 2, MXFP4 at k = 32), with a ``RuntimeWarning`` saying so.

    Raises ``ValueError`` if the candidate check fails for this element and ``k`` (then use
    :func:`~quanttheory.blocks.expectation_min.oracle_bracket` or ``monte_carlo_block_mse``), for
    non-E8M0 scale formats, laws other than Normal / Laplace, or if a candidate scale leaves the
    E8M0 range on the relevant ``M`` range, or if the series would need more than ``max_harmonics``
    odd harmonics in all (planning pass of the kernel, before any harmonic is computed) *and* the
    rigorous bracket :func:`~quanttheory.blocks.expectation_min.oracle_bracket` is wider than ``tol``
    relative.  When the MSE's series would need more than ``bracket_first`` harmonics the bracket
    is tried first (MXFP8 E4M3 before the sure-win intervals: 1e6-6e8 harmonics, a bracket ~1e-12
    wide): its midpoint is returned, ``error_estimate`` = half its width (the upper end raised by
    the absmax rule's own bound at ``tol=1e-12``) + the lower bound's quadrature indicator
    (Gauss-Legendre 16 vs 32 per Voronoi cell); its saturation is then NaN (not computed).

    Cost controls (docs/blocks.md §2f, MXINT8 at k = 2 and 8): piece ends where ``e_0 - e_j`` has one sign
    on ``|x| <= m`` (exact test) take ``E|S|`` from the cell sums instead of the series when the series would
    need ``>= min_closed`` harmonics; with ``share_abs`` the series budget is split over the ends as
    ``h^(3/4)`` (``h`` their harmonics at the equal split, planning pass) when those sum to ``> share_from``.
    Neither changes the total budget of the bound.  ``cancel`` (default True): the shared ends of ``2 X0`` and
    ``X0/2`` (module doc) cancel exactly and are not computed (``False``: every end by the series, for checks).
    ``group`` (default True): the series kernel evaluates cells with equal phase data once per group
    (uniform grids: MXINT8; phases exactly equal, or for shifted / rescaled laws a few roundings apart, the
    gap in the bound; ``False``: cell by cell, as before, for checks).  With ``group``, ends whose planned
    harmonics ``h`` have ``(k - 1) h < noalias_below`` take ``L = k max|d|`` (no aliasing) instead of the Chernoff
    search (~0.4 ms per MXINT8 end, more than the <= (k - 1) h harmonics it could save)."""
    from ._expect_46 import telescoped_stats
    from .expectation import BlockMSE, _T_pairs, _check_law, _G, _pieces, _range, _sat_prob
    from .spec import E8M0_MAX, E8M0_MIN, get_block_format

    dist = _check_law(dist)
    bf = get_block_format(fmt, block=block)
    if bf.scale_format != "e8m0":
        raise ValueError(f"block_mse_oracle needs E8M0 block scales (MX formats), got {bf.scale_format!r}; the "
                         "NVFP4 / INT4 oracles (E4M3 / fp16 / real scales) have Monte Carlo + oracle_bracket only")
    kp = dist.kernel_params()
    if kp is None or kp[3] or kp[0] not in (0, 1):
        raise ValueError("block_mse_oracle supports Normal and Laplace laws; use monte_carlo_block_mse(..., 'oracle') "
                         "and oracle_bracket for others")
    if not (isinstance(tol, float) and 1e-12 <= tol < 1e-3):
        raise ValueError(f"tol must be a float in [1e-12, 1e-3), got {tol!r}")
    if not (isinstance(rate_tol, float) and 1e-13 <= rate_tol < 1e-2):
        raise ValueError(f"rate_tol must be a float in [1e-13, 1e-2), got {rate_tol!r}")
    rates = bool(rates)
    k = bf.block
    cand = oracle_candidates(bf.element, k)
    if not cand.exact:
        raise ValueError(f"no exact oracle expectation for {bf.name} with k = {k}: {cand.reason}; use oracle_bracket "
                         "(rigorous bracket) or monte_carlo_block_mse(..., 'oracle')")
    law, loc, scale = int(kp[0]), float(kp[1]), float(kp[2])
    m2 = dist.second_moment()
    tol_r = min(tol, 1e-10)
    mlo, mhi = _range(dist, k, tol_r)
    # the truncation bound of M to [mlo, mhi] is 1e-3 tol_r E[xi^2]: relative to E[xi^2], not to the MSE
    # (MXINT8: mse / E[xi^2] = 6.7e-5, so 1e-13 absolute was 1.5e-9 relative, the largest term of the bound).
    # Range again with tol_r scaled by the floor rule's mse / E[xi^2] (a quick value on the first range)
    a, b, X0 = _pieces(dist, bf, "floor", 1.0, 1.0, mlo, mhi)
    ratio = min(1.0, _mse_scaled(dist, bf, a, b, X0, k, 1e-3 * tol * m2)[0] / m2)
    if ratio < 1.0:
        tol_r *= ratio
        mlo, mhi = _range(dist, k, tol_r)
    if rates:
        # blocks with M < mlo carry a negligible error but not a negligible saturation (small k):
        # extend the pieces down until P(M < mlo) = G(mlo)^k <= 1e-3 rate_tol
        while float(np.clip(_G(dist, mlo), 0.0, 1.0)) ** k > 1e-3 * rate_tol:
            mlo *= 0.5
    a, b, X0 = _pieces(dist, bf, "floor", 1.0, 1.0, mlo, mhi)
    e0 = np.log2(X0)
    others = [j for j in cand.kept if j != 0]
    for j in others + [0]:
        if np.any(e0 + j < E8M0_MIN) or np.any(e0 + j > E8M0_MAX):
            raise ValueError(f"candidate scale 2^{j} X0 leaves the E8M0 range [2^{E8M0_MIN}, 2^{E8M0_MAX}] for block "
                             f"absmax in [{mlo:.3g}, {mhi:.3g}]: rescale the law")
    mB, errB = _mse_scaled(dist, bf, a, b, X0, k, 1e-5 * tol * m2 * ratio)
    mse, err = mB, errB + 1e-3 * tol_r * m2
    nan = float("nan")
    sat, rerr = nan, nan
    if rates:
        # the floor rule's saturation (telescoped, expectation._block_mse_telescoped), replaced below on the
        # region sub-pieces; blocks with M outside [mlo, mhi] count with their whole mass in the bound
        Ga = np.clip(np.asarray(_G(dist, a), float), 0.0, 1.0)
        Gb = np.clip(np.asarray(_G(dist, b), float), 0.0, 1.0)
        sat = float(np.sum(Gb ** (k - 1) * _sat_prob(dist, bf.fmt, b, X0)
                           - Ga ** (k - 1) * _sat_prob(dist, bf.fmt, a, X0)))
        out_mass = 1.0 - float(np.clip(_G(dist, mhi), 0.0, 1.0)) ** k + float(np.clip(_G(dist, mlo), 0.0, 1.0)) ** k
        rerr = out_mass + 1e-15
    regions = dict(cand.regions)
    sures = dict(cand.sure)
    subs = []
    for j in others:
        # sub-pieces (a', b'] of the floor pieces where 2^j X0 can beat X0 (r = M / X0 in a region);
        # elsewhere min(SSE_j, B) = B exactly.  E[(B - SSE_j)^+; sub-piece] = (E[B] - E[SSE_j] + E|S|) / 2.
        # Where j beats X0 on every block (r in a `sure` interval): min(SSE_j, B) = SSE_j exactly, no series
        # (MXFP6 E3M2 k = 32: r in [30.0153, 32] of the region [30, 32]; its series ends at r = 32 needed
        # ~8.5e5 harmonics: the max element's gain 8 r - 240 (X0^2) dwarfs the others' losses <= 31 / 256)
        r_unc, r_sure = [], []
        for ra, rb in regions[j]:
            ins = [(max(ua, ra), min(ub, rb)) for ua, ub in sures.get(j, ()) if min(ub, rb) > max(ua, ra)]
            cur = ra
            for ua, ub in ins:
                if ua > cur:
                    r_unc.append((cur, ua))
                r_sure.append((ua, ub))
                cur = ub
            if rb > cur:
                r_unc.append((cur, rb))

        def cut(rs):
            pa, pb, pX = [np.zeros(0)], [np.zeros(0)], [np.zeros(0)]
            for ra, rb in rs:
                lo_, hi_ = np.maximum(a, X0 * ra), np.minimum(b, X0 * rb)
                sel = hi_ > lo_
                pa.append(lo_[sel]), pb.append(hi_[sel]), pX.append(X0[sel])
            return np.concatenate(pa), np.concatenate(pb), np.concatenate(pX)

        qa, qb, qX = cut(r_sure)
        if qa.size:
            qXj = qX * 2.0 ** j
            mBq, eBq = _mse_scaled(dist, bf, qa, qb, qX, k, 1e-3 * tol * mB)
            mjq, ejq = _mse_scaled(dist, bf, qa, qb, qXj, k, 1e-3 * tol * mB)
            mse += mjq - mBq
            err += eBq + ejq
            if rates:
                Gqa = np.clip(np.asarray(_G(dist, qa), float), 0.0, 1.0) ** (k - 1)
                Gqb = np.clip(np.asarray(_G(dist, qb), float), 0.0, 1.0) ** (k - 1)
                for XX, sg_ in ((qXj, 1.0), (qX, -1.0)):
                    sat += sg_ * float(np.sum(Gqb * _sat_prob(dist, bf.fmt, qb, XX)
                                              - Gqa * _sat_prob(dist, bf.fmt, qa, XX)))
        sa, sb, sX = cut(r_unc)
        if sa.size == 0:
            continue
        # sub-pieces carrying almost no error: 0 <= E[(B - SSE_j)^+; piece] <= E[B; piece]; count
        # E[B; piece] / 2 +- E[B; piece] / 2 instead of two ends whose statistics nearly cancel
        tB, eB = _mse_scaled(dist, bf, sa, sb, sX, k, 1e-3 * tol * mB, per_piece=True)
        # (the smallest pieces first, while their sum stays <= 0.1 tol mse: at most 0.05 tol mse of error)
        order = np.argsort(tB)
        small = np.zeros(sa.size, bool)
        keep_small = np.cumsum(tB[order]) <= 0.1 * tol * mB / len(others)
        if rates:
            # (with rates also while their block mass P(a' < M <= b') sums to <= 0.1 rate_tol: the
            # low pieces of small blocks carry little error but much saturation)
            pm = np.maximum(np.clip(np.asarray(_G(dist, sb), float), 0.0, 1.0) ** k
                            - np.clip(np.asarray(_G(dist, sa), float), 0.0, 1.0) ** k, 0.0)
            keep_small &= np.cumsum(pm[order]) <= 0.1 * rate_tol / len(others)
            keep_small = np.cumprod(keep_small).astype(bool)
        small[order[keep_small]] = True
        # also every piece whose E[B; piece] is below the kernel's rounding floor at its two ends: the
        # series bound of E|S| at an end is ~4e-12 E_m|S| at least (rounding of the harmonics), G^k E_m|S| <=
        # G^k E_m[B + SSE_j] = k G^(k-1) (T(m, X0) + T(m, Xj)); at the top ends (G^k = 1, pieces of mass
        # ~1e-13: MXINT8 Laplace, m = 16-33) that floor was 10-100x E[B; piece] (a heuristic choice between
        # two rigorous bounds)
        from ._expect_kernels import tele_pieces
        from .expectation import _gl_table

        Xjs = sX * 2.0 ** j
        Tb = []
        mids = np.ascontiguousarray(bf.fmt.midpoints, dtype=float)
        lvs = np.ascontiguousarray(bf.fmt.levels, dtype=float)
        Z, W = _gl_table()
        for XX in (sX, Xjs):
            # T(a, X) and the shell T(b, X) - T(a, X) (expectation._T_pairs' kernel; loose cell targets)
            Ta, Sh = tele_pieces(np.ascontiguousarray(sa, float), np.ascontiguousarray(sb, float),
                                 np.ascontiguousarray(XX, float), mids, lvs, law, loc, scale, Z, W,
                                 np.full(sa.shape, math.log(1e-9 * m2)), math.log(1e-9 * m2))[:2]
            Tb.append((Ta, Ta + Sh))
        Ga1 = np.clip(np.asarray(_G(dist, sa), float), 0.0, 1.0) ** (k - 1)
        Gb1 = np.clip(np.asarray(_G(dist, sb), float), 0.0, 1.0) ** (k - 1)
        # (in mse units: 4e-12 G^k E_m|S| / (2k) per end; only where it exceeds the piece's share of the
        # series budget, 0.25 tol mse per candidate, i.e. where the kernel would miss its target anyway)
        floor_ = 2e-12 * (Gb1 * (Tb[0][1] + Tb[1][1]) + Ga1 * (Tb[0][0] + Tb[1][0]))
        more = (~small) & (floor_ > 0.25 * tol * mB / len(others) / sa.size) & (tB <= 2.0 * floor_)
        if rates:
            left = 0.1 * rate_tol / len(others) - (float(np.sum(pm[small])) if np.any(small) else 0.0)
            idx = np.nonzero(more)[0]
            idx = idx[np.argsort(pm[idx])]
            more[idx[np.cumsum(pm[idx]) > left]] = False
        small |= more
        mse -= 0.5 * float(np.sum(tB[small]))
        err += 0.5 * float(np.sum(tB[small])) + float(np.sum(eB[small]))
        if rates and np.any(small):
            # the saturation of a block is in [0, 1] whichever scale it picks: the oracle's and the floor's
            # differ by at most P(a' < M <= b') on such a piece
            Gsa = np.clip(np.asarray(_G(dist, sa[small]), float), 0.0, 1.0) ** k
            Gsb = np.clip(np.asarray(_G(dist, sb[small]), float), 0.0, 1.0) ** k
            rerr += float(np.sum(np.maximum(Gsb - Gsa, 0.0)))
        sa, sb, sX = sa[~small], sb[~small], sX[~small]
        if sa.size:
            subs.append((j, sa, sb, sX))
    # shared ends (docs/blocks.md §2f "Shared ends"): the coarse candidate 2 X0's upper end r = 2^(emax+1) of one
    # binade and the fine candidate X0/2's lower end r = 2^emax of the next are the same m with the same two
    # grids (X0', 2 X0') = (X0/2, X0) in swapped roles: E_m|S| is the same, and so is the oracle's saturation
    # there (nu6(S <= 0) + nu4(S > 0) of the one = nu6 + nu4 + the tie term of the other), and they enter with
    # opposite signs (+ at an upper end, - at a lower one).  Both are left out exactly; only the floor parts
    # G^(k-1) P(|xi| <= m, clipped by X0) of the rates (closed form) stay
    drop = {j: np.zeros(2 * sa.size, bool) for j, sa, sb, sX in subs}
    shared_sat = 0.0
    if cancel and 1 in drop and -1 in drop:
        (_, ca, cb, cX), = [t for t in subs if t[0] == 1]
        (_, fa, fb, fX), = [t for t in subs if t[0] == -1]
        for ic in range(cb.size):
            hit = np.nonzero((fa == cb[ic]) & (fX == 2.0 * cX[ic]))[0]
            if hit.size:
                drop[1][ic] = True                                   # coarse: ends = [sb, sa], the upper end
                drop[-1][fa.size + hit[0]] = True                    # fine: the lower end
                if rates:
                    m_ = cb[ic:ic + 1]
                    G1_ = float(np.clip(np.asarray(_G(dist, m_), float), 0.0, 1.0)[0]) ** (k - 1)
                    for XX, sg_ in ((fX[hit[0]:hit[0] + 1], 1.0), (cX[ic:ic + 1], -1.0)):
                        if bool(_can_clip(bf.fmt, m_, XX)[0]):
                            shared_sat += sg_ * G1_ * float(_sat_prob(dist, bf.fmt, m_, XX)[0])
    # saturation ends: where X0 or 2^j X0 can clip some |x| <= m (elsewhere nu = 0 exactly)
    n_nu = 0
    if rates:
        sat += shared_sat
        for j, sa, sb, sX in subs:
            ends = np.concatenate([sb, sa])
            X0e = np.concatenate([sX, sX])
            n_nu += int(np.sum((_can_clip(bf.fmt, ends, X0e) | _can_clip(bf.fmt, ends, X0e * 2.0 ** j)) & ~drop[j]))
    avail = max(rate_tol - rerr, 0.5 * rate_tol) if rates else 1.0
    # per candidate: the ends, their weights and targets; then one planning pass of the kernel for all
    work = []
    closed = []
    cands = []
    for j, sa, sb, sX in subs:
        Xj = sX * 2.0 ** j
        P = sa.size
        gks = np.concatenate([np.clip(np.asarray(_G(dist, sb), float), 0.0, 1.0) ** k,
                              np.clip(np.asarray(_G(dist, sa), float), 0.0, 1.0) ** k])
        ends = np.concatenate([sb, sa])
        sgn = np.concatenate([np.ones(P), -np.ones(P)])
        ok = (gks > 0) & ~drop[j]
        gw = np.where(ok, gks, 1.0)
        # E|S| at every end, S = SSE_0 - SSE_j; the series' bounds sum to <= tol mse / 4 per candidate
        n_e = max(2 * P - int(np.count_nonzero(drop[j])), 1)
        eps_abs = np.minimum(0.25 * tol * mB * 2 * k / n_e / len(others) / gw, k * m2)
        X0e, Xje = np.concatenate([sX, sX]), np.concatenate([Xj, Xj])
        # one-signed ends (docs/blocks.md §2f, 2026-11-30 late): where D_j = e_0 - e_j has one sign on
        # |x| <= m (exact test, :func:`_one_signed`), |S| = +-S and G^k E_m|S| = k G^(k-1) |T(m, Xj) - T(m, X0)|
        # (the §2c cell sums), no series; MXINT8 (X0, 2 X0) at r = 1.9921875: 2X0's grid is a subset of X0's
        # and no element is clipped by X0, so D <= 0 (half of that candidate's ends, 4e3-6e3 harmonics each)
        cands.append(ok & np.array([_one_signed(bf.element, j, float(e / x)) for e, x in zip(ends, X0e)], bool))
        nd = np.zeros((ends.size, 3), bool)
        nd[:, 1] = _can_clip(bf.fmt, ends, X0e)
        nd[:, 2] = _can_clip(bf.fmt, ends, Xje)
        # saturation: every needed end's bound weighted by G^k; 0.98 of what is left after the mass terms
        en = np.minimum(0.98 * avail / max(n_nu, 1) / gw, 1e-3)
        work.append((j, sa, sb, sX, Xj, gks, ends, sgn, ok, eps_abs, X0e, Xje, nd[ok], en))

    def planned(with_rates):
        """Harmonics each end needs (planning pass of the kernel), per candidate."""
        return [telescoped_stats(law, loc, scale, bf.fmt, ends[ok], X0e[ok], Xje[ok], k, eps_abs[ok],
                                 ndk & with_rates, en[ok], en[ok], plan=True)[0] if np.any(ok)
                else np.zeros(0, np.int64)
                for j, sa, sb, sX, Xj, gks, ends, sgn, ok, eps_abs, X0e, Xje, ndk, en in work]

    hA = planned(False) if work else []
    for i, (j, sa, sb, sX, Xj, gks, ends, sgn, ok, eps_abs, X0e, Xje, ndk, en) in enumerate(work):
        # one-signed ends whose series needs >= min_closed harmonics (below that the series costs less than
        # the two cell sums: E2M3 Laplace k = 2 was 2.5 ms slower with 64; E4M3 / E5M2 ends need 8-89): closed form
        h_full = np.zeros(ends.size, np.int64)
        h_full[ok] = hA[i]
        cf = cands[i] & ok & (h_full >= min_closed)
        if not np.any(cf):
            continue
        nd_full = np.zeros((ends.size, 3), bool)
        nd_full[ok] = ndk
        e_c, X_c, Xj_c = ends[cf], X0e[cf], Xje[cf]
        G1 = np.clip(np.asarray(_G(dist, e_c), float), 0.0, 1.0) ** (k - 1)
        # per-cell targets: each end's two T's within its share eps_abs G^k of the series budget
        ncl = len(bf.fmt.levels) + 8
        tcell = eps_abs[cf] * gks[cf] / (k * np.maximum(G1, 1e-300)) / (4 * ncl)
        T0, _, E0, _ = _T_pairs(dist, bf.fmt, e_c, e_c * (1 + 2.0 ** -40), X_c, (tcell, 1.0))
        Tj, _, Ej, _ = _T_pairs(dist, bf.fmt, e_c, e_c * (1 + 2.0 ** -40), Xj_c, (tcell, 1.0))
        val = k * G1 * ((Tj - T0) if j > 0 else (T0 - Tj))          # G^k E_m|S|
        c_abs = float(np.sum(sgn[cf] * val))
        c_err = float(np.sum(k * G1 * (np.abs(E0) + np.abs(Ej)))) + 20 * np.finfo(float).eps * float(
            np.sum(k * G1 * (np.abs(T0) + np.abs(Tj))))
        # rates: coarse j with S <= 0 never takes 2^j X0 (the floor's saturation stands: 0); fine j with
        # S >= 0 always takes it (ties go to the smaller scale): G^(k-1) [P(clipped by Xj) - P(.. by X0)]
        c_sat = 0.0
        if j < 0:
            c_sat = float(np.sum(sgn[cf] * G1 * (_sat_prob(dist, bf.fmt, e_c, Xj_c)
                                                - _sat_prob(dist, bf.fmt, e_c, X_c))))
        closed.append((c_abs, c_err, c_sat))
        ok = ok & ~cf
        hA[i] = h_full[ok]
        work[i] = (j, sa, sb, sX, Xj, gks, ends, sgn, ok, eps_abs, X0e, Xje, nd_full[ok], en)
    if share_abs and work and sum(int(np.sum(h)) for h in hA) > share_from:
        # E|S| budgets shared over every end of every candidate as h^(3/4) instead of equally (the series'
        # tail is ~ rho(T) / T ~ C^2 / T^3 once p0 > 0 or k = 2: h ~ eps^(-1/3), so sum h(eps_i) under
        # sum G^k eps_i fixed is least for G^k eps_i ~ h_i^(3/4), h_i the harmonics at the equal split).
        # The total sum G^k eps_abs is unchanged, so the bound of the MSE is too (each end's bound is
        # what the kernel returns, <= its target).  MXINT8 N(0,1) k = 2: 3 ends of 34 held 2/3 of them
        tot = sum(float(np.sum(gks[ok] * eps_abs[ok])) for (j, sa, sb, sX, Xj, gks, ends, sgn, ok, eps_abs, *_) in work)
        w = [np.maximum(h, 1).astype(float) ** 0.75 for h in hA]
        sw = float(sum(np.sum(x) for x in w))
        for i, (j, sa, sb, sX, Xj, gks, ends, sgn, ok, eps_abs, X0e, Xje, ndk, en) in enumerate(work):
            e2 = eps_abs.copy()
            e2[ok] = np.minimum(tot * w[i] / sw / gks[ok], k * m2)
            work[i] = (j, sa, sb, sX, Xj, gks, ends, sgn, ok, e2, X0e, Xje, ndk, en)
        hA = planned(False)
    nh = sum(int(np.sum(h)) for h in hA)
    if rates and work:
        hR = planned(True)
        nr = sum(int(np.sum(h)) for h in hR)
        if nr > max_harmonics or nr - nh > max_rate_harmonics:
            # the saturation's 1/j series would need too many harmonics (MXFP6 E3M2: 0.5-3e6 more than
            # the MSE's): MSE alone, rates NaN, said (independent review 2026-11-30 night, F3: rate_tol <= 1e-12
            # gave NaN silently for MXINT8 k = 2 and MXFP4 k = 32)
            warnings.warn(f"block_mse_oracle: the saturation rate of {bf.name} (k = {k}) to rate_tol = {rate_tol:g} "
                          f"would need {nr:.3g} odd harmonics, ~{nr - nh:.3g} more than the MSE (limits: "
                          f"max_harmonics = {max_harmonics}, max_rate_harmonics = {max_rate_harmonics}): rates not "
                          "computed (NaN).  Use a larger rate_tol, raise max_harmonics / max_rate_harmonics, or pass "
                          "rates=False", RuntimeWarning, stacklevel=2)
            rates, sat, rerr = False, nan, nan
        else:
            # where the saturation binds (h > hA at the equal split), share those ends' budgets as
            # h^(2/3) (the 1/j series' tail ~ 1/T^2: h ~ e^(-1/2), so sum h(e_i) under sum e_i fixed is
            # least for e_i ~ h_i^(2/3)); every end still gets a target and its bound is what the kernel
            # returns, so sum G^k err_nu <= 0.98 avail as before.  (MXFP4 N(0,1) k = 32: 2 ends of 14 held
            # 2/3 of the harmonics)
            hb = np.concatenate([np.where((ndk[:, 1] | ndk[:, 2]) & (hr > ha), hr, 0)
                                 for (*_, ndk, en), hr, ha in zip(work, hR, hA)]).astype(float)
            nb_ = int(np.count_nonzero(hb))
            if nb_ > 1:
                w = hb ** (2.0 / 3.0)
                share = nb_ * (0.98 * avail / max(n_nu, 1)) * w / float(np.sum(w))
                pos = 0
                for i, (j, sa, sb, sX, Xj, gks, ends, sgn, ok, eps_abs, X0e, Xje, ndk, en) in enumerate(work):
                    n_ok = int(np.count_nonzero(ok))
                    sh, bind = share[pos:pos + n_ok], hb[pos:pos + n_ok] > 0
                    pos += n_ok
                    en = en.copy()
                    en_ok = en[ok]
                    en_ok[bind] = np.minimum(sh[bind] / gks[ok][bind], 1e-3)
                    en[ok] = en_ok
                    work[i] = (j, sa, sb, sX, Xj, gks, ends, sgn, ok, eps_abs, X0e, Xje, ndk, en)
    if work and nh > bracket_first:
        # the series would take >~ 0.2 s: the rigorous bracket first (MXFP8 E4M3 at k = 2 / 8: 1e6 / 3.5e6
        # harmonics, 1-4 s, against ~25 ms for a bracket 1e-12 wide); its rates are NaN
        fb = _from_bracket(dist, bf, tol, m2)
        if fb is not None:
            return (fb, OracleRates(nan, nan, nan, nan)) if full else fb
    if not rates and work:
        if nh > max_harmonics:
            fb = _from_bracket(dist, bf, tol, m2)
            if fb is not None:
                return (fb, OracleRates(nan, nan, nan, nan)) if full else fb
            raise ValueError(f"the exact oracle expectation of {bf.name} (k = {k}) would need ~{nh:.3g} harmonics "
                             f"(> max_harmonics = {max_harmonics}): use oracle_bracket (rigorous bracket) or "
                             "monte_carlo_block_mse(..., 'oracle'), or raise max_harmonics")
    for c_abs, c_err, c_sat in closed:
        mse -= c_abs / (2 * k)
        err += c_err / (2 * k)
        if rates:
            sat += c_sat
    for i, (j, sa, sb, sX, Xj, gks, ends, sgn, ok, eps_abs, X0e, Xje, ndk, en) in enumerate(work):
        mBr, eBr = _mse_scaled(dist, bf, sa, sb, sX, k, 1e-3 * tol * mB)
        mjr, ejr = _mse_scaled(dist, bf, sa, sb, Xj, k, 1e-3 * tol * mB)
        if not np.any(ok):
            # (every end one-signed: in `closed`)
            mse -= 0.5 * (mBr - mjr)
            err += eBr + ejr
            continue
        ndk = ndk & rates
        # (the planned harmonics at L = L0: the Chernoff search can save at most (k - 1) h of them)
        hpl = np.asarray(hR[i] if rates else hA[i], float)
        noal = (max(k - 1, 1) * hpl < noalias_below) if group else np.zeros(hpl.size, bool)
        res = telescoped_stats(law, loc, scale, bf.fmt, ends[ok], X0e[ok], Xje[ok], k, eps_abs[ok], ndk,
                               en[ok], en[ok], group=group, noalias=noal)
        absS = float(np.sum(sgn[ok] * gks[ok] * res.abs_S))
        mse -= 0.5 * (mBr - mjr) + absS / (2 * k)
        err += eBr + ejr + float(np.sum(gks[ok] * res.err_abs)) / (2 * k)
        if rates:
            # on the sub-pieces the oracle clips E[1{xi_1 clipped by X0}; S <= 0] + E[1{.. by Xj}; S > 0]
            # (telescoped G^k E_m[.]) instead of the floor's G(m)^(k-1) P(|xi| <= m, clipped by X0)
            g, sg = gks[ok], sgn[ok]
            nu = np.where(ndk[:, 1], res.nu6_le, 0.0) + np.where(ndk[:, 2], res.nu4_pos, 0.0)
            e_ok = ends[ok]
            G1 = np.clip(np.asarray(_G(dist, e_ok), float), 0.0, 1.0) ** (k - 1)
            s0 = np.where(ndk[:, 1], G1 * _sat_prob(dist, bf.fmt, e_ok, X0e[ok]), 0.0)
            sat += float(np.sum(sg * g * nu)) - float(np.sum(sg * s0))
            if j < 0:
                # S = 0 (every element in an atom cell): the oracle takes the smaller scale Xj, while
                # nu6_le / nu4_pos count S = 0 with X0 (the kernel's S > 0 is strict)
                sat += float(np.sum(sg * _tie_sat(dist, bf.fmt, e_ok, X0e[ok], Xje[ok], k)))
            rerr += float(np.sum(g * np.where(ndk[:, 1] | ndk[:, 2], res.err_nu, 0.0)))
    und = ovr = 0.0 if rates else nan
    bm = BlockMSE(mse, 10 * math.log10(m2 / mse), sat, und, ovr, err, "oracle", k, 1.0, 1.0)
    if full:
        return bm, OracleRates(sat, und, ovr, rerr)
    return bm
