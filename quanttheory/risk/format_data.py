"""Exact MSE-optimal scale of data for any number format (level set).

For data ``x_1..x_n`` and a format with levels ``l_0 < ... < l_{K-1}`` (grid units)

    MSE(s) = (1/n) sum_i (x_i - s q(x_i / s))**2        (data units squared),

``q`` = nearest level (saturating).  Because the nearest-level error is
``min_k (x - s l_k)**2``, ``MSE`` is continuous and piecewise quadratic in ``s``:
a value ``x`` changes level where ``x / s`` crosses a midpoint ``m_j`` of the
same sign, i.e. at the breakpoints ``s = x / m_j``.  On each piece

    n MSE(s) = sum_i x_i**2 - 2 s sum_i x_i l_{k_i} + s**2 sum_i l_{k_i}**2

and its minimum is exact.  :func:`optimal_scale_format_data` returns the global
minimum over ``s > 0`` without enumerating the ``n (K - 1)`` breakpoints:

1. the values are split by sign into two *sides* (``x >= 0`` and ``-x`` for
   ``x < 0``, with the mirrored level set), sorted, and reduced in one fused numba
   pass to distinct values with counts and prefix sums of count, ``v`` and ``v**2``
   in double-double arithmetic (float64 high/low words in one row-major table;
   the numpy reference path, ``USE_KERNELS = False``, uses blocked ``np.longdouble``
   cumsums); ``MSE`` at any ``s`` is then a sum over the level groups
   ``(m_j s, m_{j+1} s]`` of range sums (``O(K log n)``);
2. branch and bound over ``s``-intervals ``[s1, s2]``: each level ``l`` sweeps
   ``l [s1, s2]``, so ``MSE(s) >= mean_i dist(x_i, U_k l_k [s1, s2])**2``, also a
   sum of range sums; intervals whose lower bound exceeds the best value found
   (plus the near-optimality tolerance) are discarded, the others bisected until
   they hold few breakpoints (the upper bound of each level: ``MSE`` at the
   midpoints of the ``UB_PROBES`` intervals of least lower bound; the lower-bound
   kernel also counts each interval's breakpoints and runs on intervals sorted by
   ``s``, its searches hinted by the previous interval's);
3. every surviving interval is swept exactly: its breakpoints (distinct values
   only) are enumerated per midpoint from the sorted values, sorted, and applied
   to the three quadratic coefficients (centred at the interval midpoint against
   cancellation); each piece is minimized in closed form;
4. all local minima whose value is within ``rtol`` (default ``1e-9``) of the best
   are re-evaluated by a direct pass (numba, compensated sums) over the sorted
   distinct values with the nearest level found by walking the midpoints
   (``USE_KERNELS = False``: a pass over the data with :meth:`Format.quantize_index`)
   and returned, best first: for minifloats the optimum may be a *set* of
   near-equal scales about an octave apart.

The re-evaluated candidates are first *polished* to the exact vertex of their piece (``sum cnt v c /
sum cnt c**2`` over the level assignment at the candidate, double-double; never a larger MSE) and
exact ties go to the smaller scale.

Per-channel (``axis=``, channels of at most ``ROWS_MAX`` values): all channels in one numba call
(``rows_optimum``: octave lower bounds, exact best-first sweeps of the surviving octaves, for
doubling-closed formats a search up to twice the no-clipping scale since ``SSE(2t) >= SSE(t)`` there;
the same polish, direct pass and tie rule, so the results equal the per-channel loop's bit for bit;
docs/formats.md).

Outside ``[s_lo, s_hi] = [min|x| / m_top, max|x| / m_1]`` (``m_1`` the smallest
positive midpoint, ``m_top`` the largest) no value changes level and ``MSE`` is a
single quadratic on each side, minimized exactly.

Memory: linear in n and nothing of size ``n x K``: per distinct value the sorted
values, five float64 prefix words, a coarse index (1/64), plus O(n) temporaries of
the float64 copy, the sign split and the sort; the traced peak is ~68 bytes per
value for float32 input (n = 1e6 and 1e7,
``benchmarks/bench_formats_data.py --passes``; RSS-growth test
``tests/test_format_data_memory.py``); the breakpoints swept at once are
bounded by ``EVENTS_STOP`` per interval.  Accuracy: every bound carries a rigorous rounding allowance from the
prefix sums (``(BLOCK + n/BLOCK) eps_ld`` of the totals, which also covers the
double-double prefixes: their error is ``<= (4 i + 2) 2^-106`` of the ``i``-th prefix, tested
against exact fractions); reported MSE values come from the direct float64 pass
(compensated summation).

Size (~780 lines, over the package's ~500-line guideline): the search's tuning constants
(``EVENTS_STOP``, ``CLUSTER_EVENTS``, ``SWEEP_MAX``, ``USE_KERNELS``) are read at call time from
this module, and the tests switch them here to force every stage of the search (branch and
bound, cluster sweeps, the numpy/longdouble reference path) on small inputs.  Splitting
:class:`_Side` (the per-sign prefix sums and bounds, ~220 lines) into another module would
make those switches miss it; a split that passes the settings explicitly is planned.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..formats.levelset import Format, as_format

LD = np.longdouble
EPS_LD = float(np.finfo(np.longdouble).eps)
BLOCK = 4096
RTOL = 1e-9
EVENTS_STOP = 1 << 8
CLUSTER_EVENTS = 1 << 18
CLUSTER_WIDTH = 1.0625  # clusters stay narrow: coefficients centred at s0 lose ~(width)^2 to cancellation
SWEEP_MAX = 1 << 20
MAX_LEVELS_BB = 80
MAX_INTERVALS = 1 << 16
MAX_NEAR = 64
UB_PROBES = 64  # MSE evaluations per branch-and-bound level (at the least lower bounds)
NEAR_DIRECT = 4
MAX_DIRECT = 1024  # at most this many candidates indistinguishable from the best get a direct pass
DEGENERATE_SCALE = 1.0
USE_KERNELS = True  # numba bounds (False: the numpy/longdouble reference implementation, tested equal)


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class FormatScale:
    """MSE-optimal scale of data (or a law) for a number format.

    Attributes
    ----------
    scale : float or ndarray
        The best scale ``s*`` (data units); per-channel results are arrays.
    mse : float or ndarray
        ``MSE(s*) = mean (x - Q_s*(x))**2`` (data units squared), from a direct pass.
    risk : float or ndarray
        ``pi**2 * mse`` (the paper's MSQE convention, as :class:`OptimalScale.risk`).
    format : Format
    method : str
    scale_error : float or ndarray
        Bound on ``|s* - s_true|`` for the minimizer reported (rounding of the piece
        coefficients; ``inf`` for degenerate data).  Other near-equal minima are in
        ``near_optimal_scales``.
    risk_lower_bound : float or ndarray
        Certificate: no ``s > 0`` has ``pi**2 MSE(s)`` below this value.
    near_optimal_scales : tuple of float (tuple of tuples per channel)
        Every local minimizer with ``MSE <= (1 + rtol) MSE(s*)``, best first (``s*`` first).
    near_optimal_mse : tuple of float (tuple of tuples per channel)
        Their MSE values (the best ``NEAR_DIRECT`` from the direct pass, any others from the exact
        sweep's extended-precision piece coefficients).
    amax_scale : float or ndarray
        The absmax rule ``max|x| / level_max`` (toolkits' default).
    amax_mse : float or ndarray
        ``MSE`` at the absmax scale: ``amax_mse / mse - 1`` is the price of the amax rule.
    extra : dict
        Diagnostics (intervals, breakpoints swept, timings).
    """

    scale: Any
    mse: Any
    risk: Any
    format: Format
    method: str
    scale_error: Any
    risk_lower_bound: Any
    near_optimal_scales: Any = ()
    near_optimal_mse: Any = ()
    amax_scale: Any = None
    amax_mse: Any = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Strict-JSON-friendly dict: arrays -> lists, non-finite floats -> None (documented in ``extra``)."""
        def conv(v):
            if isinstance(v, Format):
                return {"name": v.name, "kind": v.kind, "level_max": v.level_max, "size": v.size}
            if isinstance(v, np.ndarray):
                return [conv(a) for a in v.tolist()]
            if isinstance(v, (list, tuple)):
                return [conv(a) for a in v]
            if isinstance(v, dict):
                return {str(k): conv(a) for k, a in v.items()}
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v
        return {k: conv(getattr(self, k)) for k in self.__dataclass_fields__}


# --------------------------------------------------------------------------- per-side data
class _Side:
    """Distinct magnitudes of one sign with counts, blocked longdouble prefix sums, and the side's levels."""

    def __init__(self, v: np.ndarray, fmt_levels: np.ndarray):
        # fmt_levels: the level set as seen from this side (ascending; negated+reversed for x < 0)
        v = np.sort(v)
        ip = int(np.searchsorted(v, 0.0, side="right"))
        fast = USE_KERNELS and (ip == v.size or (float(v[ip]) > 1e-140 and float(v[-1]) < 1e140))
        mid = 0.5 * (fmt_levels[:-1] + fmt_levels[1:])
        j0 = int(np.sum(mid <= 0.0))
        self.b = mid[j0:]  # positive midpoints b_1..b_P
        self.c = fmt_levels[j0:]  # group levels c_0..c_P
        self.P = self.b.size
        self.n = float(v.size)
        if fast:
            # one fused numba pass: distinct values, counts, double-double prefix sums (float64 words)
            from ._kernels.format_data import distinct_prefix

            n = v.size
            vu = np.empty(n)
            W = np.empty((n + 1, 5))
            nu = distinct_prefix(np.ascontiguousarray(v, dtype=np.float64), vu, W)
            # views (no copies): with few duplicates nu ~ n; otherwise the buffers stay O(n)
            self.v = vu[:nu]
            self.nu = nu
            W = W[:nu + 1]
            self._ld = None  # longdouble prefixes, built from the words on first use
        else:
            if v.size:
                cut = np.flatnonzero(np.diff(v) != 0.0) + 1
                starts = np.concatenate(([0], cut))
                cnt = np.diff(np.concatenate((starts, [v.size]))).astype(np.float64)
                vu = v[starts]
            else:
                cnt = np.empty(0)
                vu = np.empty(0)
            self.v = vu
            self.nu = vu.size
            w = cnt.astype(LD)
            vl = vu.astype(LD)
            P0, P1, P2 = _bprefix(w), _bprefix(w * vl), _bprefix(w * vl * vl)
            self._ld = (P0, P1, P2)
            self.P0f = P0.astype(np.float64)
            self.P1f = P1.astype(np.float64)
            self.P2f = P2.astype(np.float64)
            # float64 high/low words of the prefix sums for the numba kernels
            self.H1 = self.P1f
            self.L1 = (P1 - self.P1f.astype(LD)).astype(np.float64)
            self.H2 = self.P2f
            self.L2 = (P2 - self.P2f.astype(LD)).astype(np.float64)
            W = np.column_stack((self.P0f, self.H1, self.L1, self.H2, self.L2)) if self.nu else np.zeros((1, 5))
        # the kernels read the five prefix words of a row together: one row-major table (the
        # numpy paths use its column views)
        self.W = W
        self.P0f, self.H1, self.L1, self.H2, self.L2 = (W[:, k] for k in range(5))
        self.P1f, self.P2f = self.H1, self.H2
        vu = self.v
        ip = int(np.searchsorted(vu, 0.0, side="right"))  # first positive distinct value
        self.vmin_pos = float(vu[ip]) if ip < vu.size else math.inf
        self.vmax = float(vu[-1]) if vu.size else 0.0
        # each prefix word is within gamma * (its own value) of the exact prefix (non-negative terms;
        # the double-double prefixes of the fast path are far more accurate than this allowance)
        self.gamma = 2.0 * EPS_LD * (BLOCK + self.nu / BLOCK + 4)
        self.gamma_k = self.gamma + 2.0**-52 * 2.0**-11  # + the low word's own rounding
        self._vc = None  # coarse index of v for the kernels' searches (built on first use)

    @classmethod
    def from_counts(cls, vu: np.ndarray, cnt: np.ndarray, fmt_levels: np.ndarray) -> "_Side":
        """Side from sorted distinct magnitudes ``vu`` (float64, >= 0) with counts ``cnt`` (the
        longdouble prefix path; used by the streamed engine for the straddlers of one cluster)."""
        self = cls.__new__(cls)
        self._set_levels(fmt_levels)
        vu = np.ascontiguousarray(vu, dtype=np.float64)
        cnt = np.asarray(cnt, dtype=np.float64)
        self.n = float(np.sum(cnt))
        self.v = vu
        self.nu = vu.size
        w = cnt.astype(LD)
        vl = vu.astype(LD)
        P0, P1, P2 = _bprefix(w), _bprefix(w * vl), _bprefix(w * vl * vl)
        self._ld = (P0, P1, P2)
        H1, H2 = P1.astype(np.float64), P2.astype(np.float64)
        W = np.column_stack((P0.astype(np.float64), H1, (P1 - H1.astype(LD)).astype(np.float64), H2,
                             (P2 - H2.astype(LD)).astype(np.float64)))
        self._finish(W, 2.0 * EPS_LD * (BLOCK + self.nu / BLOCK + 4))
        return self

    @classmethod
    def from_table(cls, v: np.ndarray, W: np.ndarray, fmt_levels: np.ndarray, gamma: float) -> "_Side":
        """Side from a prefix table ``W`` (rows ``0..nu``) over ordered groups of values whose largest
        values are ``v`` (the streamed engine's histogram bins: :meth:`coeffs` and :meth:`value` are
        then exact wherever no bin holds values of two groups); ``gamma`` bounds the words' error."""
        self = cls.__new__(cls)
        self._set_levels(fmt_levels)
        self.v = np.ascontiguousarray(v, dtype=np.float64)
        self.nu = self.v.size
        self.n = float(W[-1, 0])
        self._ld = None
        self._finish(W, gamma)
        return self

    def _set_levels(self, fmt_levels):
        mid = 0.5 * (fmt_levels[:-1] + fmt_levels[1:])
        j0 = int(np.sum(mid <= 0.0))
        self.b = mid[j0:]
        self.c = fmt_levels[j0:]
        self.P = self.b.size

    def _finish(self, W, gamma):
        self.W = W
        self.P0f, self.H1, self.L1, self.H2, self.L2 = (W[:, k] for k in range(5))
        self.P1f, self.P2f = self.H1, self.H2
        vu = self.v
        ip = int(np.searchsorted(vu, 0.0, side="right"))
        self.vmin_pos = float(vu[ip]) if ip < vu.size else math.inf
        self.vmax = float(vu[-1]) if vu.size else 0.0
        self.gamma = gamma
        self.gamma_k = gamma + 2.0**-52 * 2.0**-11
        self._vc = None

    def _kargs(self):
        if self._vc is None:
            from ._kernels.format_data import COARSE

            self._vc = np.ascontiguousarray(self.v[::COARSE])
        return (self.v, self._vc, self.W, self.b, self.c, self.gamma_k)

    def k_lower_bound(self, s1, s2):
        if self.P == 0:
            val, err = self.value(s1)
            return np.maximum(val - err, 0.0)
        return self.k_lower_bound_events(s1, s2)[0]

    def k_lower_bound_events(self, s1, s2):
        """(lower bound, number of breakpoints or -1) per interval, in one kernel pass (``P > 0``)."""
        from ._kernels import format_data as K

        s1 = np.ascontiguousarray(s1, dtype=np.float64)
        s2 = np.ascontiguousarray(s2, dtype=np.float64)
        o = np.argsort(s1, kind="stable")  # ascending queries: the kernel's searches stay local
        out = np.empty(s1.size)
        ev = np.empty(s1.size, dtype=np.int64)
        K.lb_fixed(*self._kargs(), s1[o], s2[o], out, ev)
        res = np.empty(s1.size)
        rev = np.empty(s1.size, dtype=np.int64)
        res[o] = out
        rev[o] = ev
        return res, rev

    def k_value(self, ss):
        from ._kernels import format_data as K

        ss = np.ascontiguousarray(ss, dtype=np.float64)
        o = np.argsort(ss, kind="stable")
        out = np.empty(ss.size)
        err = np.empty(ss.size)
        K.values(*self._kargs(), ss[o], out, err)
        r1, r2 = np.empty(ss.size), np.empty(ss.size)
        r1[o], r2[o] = out, err
        return r1, r2

    def k_events(self, s1, s2):
        from ._kernels import format_data as K

        s1 = np.ascontiguousarray(s1, dtype=np.float64)
        s2 = np.ascontiguousarray(s2, dtype=np.float64)
        o = np.argsort(s1, kind="stable")
        out = np.empty(s1.size, dtype=np.int64)
        K.events(self.v, self._kargs()[1], self.b, s1[o], s2[o], out)
        res = np.empty(s1.size, dtype=np.int64)
        res[o] = out
        return res

    def _ldp(self):
        if self._ld is None:
            self._ld = (self.P0f.astype(LD), self.H1.astype(LD) + self.L1.astype(LD),
                        self.H2.astype(LD) + self.L2.astype(LD))
        return self._ld

    @property
    def cnt(self):
        """Counts of the distinct values (float64, exact)."""
        return np.diff(self.P0f)

    @property
    def P0(self):
        return self._ldp()[0]

    @property
    def P1(self):
        return self._ldp()[1]

    @property
    def P2(self):
        return self._ldp()[2]

    # range sums over distinct-value index ranges [i0, i1)
    def sums(self, i0, i1):
        if self._ld is None:  # only the entries needed, from the float64 words
            def g(H, L, i):
                return H[i].astype(LD) + L[i].astype(LD)
            return (self.P0f[i1].astype(LD) - self.P0f[i0].astype(LD),
                    g(self.H1, self.L1, i1) - g(self.H1, self.L1, i0),
                    g(self.H2, self.L2, i1) - g(self.H2, self.L2, i0))
        P0, P1, P2 = self._ld
        return (P0[i1] - P0[i0], P1[i1] - P1[i0], P2[i1] - P2[i0])

    def group_index(self, s):
        """``I[..., j]``, j = 0..P+1: groups are index ranges [I_j, I_{j+1}) at scale(s) ``s`` (any shape)."""
        s = np.asarray(s, dtype=np.float64)
        inner = np.searchsorted(self.v, s[..., None] * self.b, side="right")
        z = np.zeros(s.shape + (1,), dtype=np.int64)
        return np.concatenate((z, inner, np.full(s.shape + (1,), self.nu, dtype=np.int64)), axis=-1)

    def coeffs(self, s_eval, s0):
        """Coefficients of ``sum (v - s c_{k(v)})**2 = C0 - 2 t C1 + t**2 C2`` (``s = s0 + t``) with the
        level assignment at ``s_eval`` (scalar), and rounding bounds (e0, e1, e2) on C0, C1, C2."""
        I = self.group_index(np.array(s_eval, dtype=np.float64))
        return self.coeffs_ranges(I[:-1], I[1:], s0)

    def coeffs_ranges(self, i0, i1, s0):
        """As :meth:`coeffs`, group ``k`` being the index range ``[i0[k], i1[k])`` (``i1 >= i0``)."""
        N, S1, S2 = self.sums(i0, i1)
        c = self.c.astype(LD)
        s0l = LD(s0)
        C0 = np.sum(S2 - 2 * s0l * c * S1 + s0l * s0l * c * c * N)
        C1 = np.sum(c * (S1 - s0l * c * N))
        C2 = np.sum(c * c * N)
        ne = i1 > i0  # empty groups are exactly 0
        ac = np.abs(self.c)
        p1 = np.where(ne, self.P1f[i1], 0.0)
        p2 = np.where(ne, self.P2f[i1], 0.0)
        g = 2 * self.gamma
        e0 = float(np.sum(g * (p2 + 2 * s0 * ac * p1)
                          + 8 * EPS_LD * (np.abs(S2.astype(np.float64)) + 2 * s0 * ac * np.abs(S1.astype(np.float64))
                                          + (s0 * ac) ** 2 * N.astype(np.float64))))
        e1 = float(np.sum(ac * g * p1 + 8 * EPS_LD * ac * (np.abs(S1.astype(np.float64)) + s0 * ac * N.astype(np.float64))))
        e2 = float(8 * EPS_LD * np.sum(ac * ac * N.astype(np.float64)))
        return C0, C1, C2, e0, e1, e2

    def value(self, s):
        """``sum (v - s q(v/s))**2`` and its rounding bound at each scale (longdouble sums)."""
        s = np.asarray(s, dtype=np.float64)
        I = self.group_index(s)
        i0, i1 = I[..., :-1], I[..., 1:]
        N, S1, S2 = self.sums(i0, i1)
        c = self.c.astype(LD)
        sl = s.astype(LD)[..., None]
        val = S2 - 2 * sl * c * S1 + sl * sl * c * c * N
        val = np.maximum(val, 0).sum(axis=-1).astype(np.float64)
        ne = i1 > i0
        sa = s[..., None] * np.abs(self.c)
        err = np.where(ne, 2 * self.gamma * (self.P2f[i1] + 2 * sa * self.P1f[i1]) + 8 * EPS_LD * (
            self.P2f[i1] + 2 * sa * self.P1f[i1] + sa * sa * self.P0f[i1]), 0.0).sum(axis=-1)
        return val, err

    def lower_bound(self, s1, s2):
        """Lower bound of ``sum (v - s q(v/s))**2`` over ``s in [s1, s2]`` (minus rounding), per interval."""
        s1 = np.asarray(s1, dtype=np.float64)[:, None]
        s2 = np.asarray(s2, dtype=np.float64)[:, None]
        c = self.c[None, :]
        lo = np.where(c >= 0, c * s1, c * s2)
        hi = np.where(c >= 0, c * s2, c * s1)
        # regions (a, b] with centre: below lo_0; gaps between hi_j and lo_{j+1} split at the middle; above hi_P
        gap_a = hi[:, :-1]
        gap_b = lo[:, 1:]
        gm = 0.5 * (gap_a + gap_b)
        has = gap_b > gap_a
        gm = np.where(has, gm, gap_a)
        gap_b2 = np.where(has, gap_b, gap_a)
        K = s1.shape[0]
        ninf = np.full((K, 1), -np.inf)
        pinf = np.full((K, 1), np.inf)
        A = np.concatenate((ninf, gap_a, gm, hi[:, -1:]), axis=1)
        B = np.concatenate((lo[:, :1], gm, gap_b2, pinf), axis=1)
        C = np.concatenate((lo[:, :1], gap_a, gap_b2, hi[:, -1:]), axis=1)
        ia = np.searchsorted(self.v, A, side="right")
        ib = np.searchsorted(self.v, B, side="right")
        ib = np.maximum(ib, ia)
        N, S1, S2 = self.sums(ia, ib)
        CL = C.astype(LD)
        val = np.maximum(S2 - 2 * CL * S1 + CL * CL * N, 0).sum(axis=1).astype(np.float64)
        ne = ib > ia
        Ca = np.abs(C)
        err = np.where(ne, 2 * self.gamma * (self.P2f[ib] + 2 * Ca * self.P1f[ib]) + 8 * EPS_LD * (
            self.P2f[ib] + 2 * Ca * self.P1f[ib] + Ca * Ca * self.P0f[ib]), 0.0).sum(axis=1)
        return np.maximum(val - err, 0.0)

    def lower_bound_fixed(self, s1, s2):
        """Second-order lower bound over ``s in [s1, s2]`` (per interval), NaN where not applicable.

        Values without a breakpoint in the interval keep their level: their exact quadratic
        ``sum (v - s c)**2`` is minimized over ``[s1, s2]``; the *straddlers* ``v in b_j [s1, s2]``
        are bounded below by their distance to ``c_j [s1, s2] U c_{j+1} [s1, s2]``.  Applicable when
        no value straddles two midpoints (``b_j s2 <= b_{j+1} s1``).
        """
        s1 = np.asarray(s1, dtype=np.float64)
        s2 = np.asarray(s2, dtype=np.float64)
        K = s1.size
        P = self.P
        if P == 0:
            val, err = self.value(s1)
            return np.maximum(val - err, 0.0)
        ia = np.searchsorted(self.v, s1[:, None] * self.b, side="right")  # K x P
        ib = np.searchsorted(self.v, s2[:, None] * self.b, side="right")
        ok = np.all(ib[:, :-1] <= ia[:, 1:], axis=1)
        # fixed groups j = 0..P: [ib_{j-1}, ia_j)
        g0 = np.concatenate((np.zeros((K, 1), dtype=np.int64), ib), axis=1)
        g1 = np.concatenate((ia, np.full((K, 1), self.nu, dtype=np.int64)), axis=1)
        g1 = np.maximum(g1, g0)
        N, S1, S2 = self.sums(g0, g1)
        s0 = 0.5 * (s1 + s2)
        s0l = s0.astype(LD)[:, None]
        c = self.c.astype(LD)[None, :]
        C0 = np.sum(S2 - 2 * s0l * c * S1 + s0l * s0l * c * c * N, axis=1)
        C1 = np.sum(c * (S1 - s0l * c * N), axis=1)
        C2 = np.sum(c * c * N, axis=1)
        _, qmin = _piece_min(s1, s2, s0, C0, C1, C2)
        ne = g1 > g0
        ac = np.abs(self.c)[None, :]
        sa = s0[:, None] * ac
        half = 0.5 * (s2 - s1)
        ha = half[:, None] * ac
        # C0 error + 2|t| C1 error + t^2 C2 error, |t| <= half
        egrp = np.where(ne, 2 * self.gamma * (self.P2f[g1] + 2 * sa * self.P1f[g1] + 2 * ha * self.P1f[g1])
                        + 16 * EPS_LD * (self.P2f[g1] + 2 * (sa + ha) * self.P1f[g1] + (sa + ha) ** 2 * self.P0f[g1]),
                        0.0)
        err = egrp.sum(axis=1)
        # straddlers at b_j (between c_j and c_{j+1}), index range [ia_j, ib_j)
        cl, cu = self.c[None, :-1], self.c[None, 1:]
        hi_l = np.where(cl >= 0, cl * s2[:, None], cl * s1[:, None])
        lo_u = np.where(cu >= 0, cu * s1[:, None], cu * s2[:, None])
        gap = lo_u > hi_l
        gm = np.where(gap, 0.5 * (hi_l + lo_u), hi_l)
        lo_u2 = np.where(gap, lo_u, hi_l)
        r0 = np.clip(np.searchsorted(self.v, hi_l, side="right"), ia, ib)
        r1 = np.clip(np.searchsorted(self.v, gm, side="right"), r0, ib)
        r2 = np.clip(np.searchsorted(self.v, lo_u2, side="left"), r1, ib)
        tot = np.zeros(K, dtype=LD)
        for (i0, i1, cen) in ((r0, r1, hi_l), (r1, r2, lo_u2)):
            n_, a1, a2 = self.sums(i0, i1)
            cc = cen.astype(LD)
            tot += np.sum(np.maximum(a2 - 2 * cc * a1 + cc * cc * n_, 0), axis=1)
            nz = i1 > i0
            ca = np.abs(cen)
            err += np.where(nz, 2 * self.gamma * (self.P2f[i1] + 2 * ca * self.P1f[i1]) + 8 * EPS_LD * (
                self.P2f[i1] + 2 * ca * self.P1f[i1] + ca * ca * self.P0f[i1]), 0.0).sum(axis=1)
        out = np.maximum(qmin + tot.astype(np.float64) - err, 0.0)
        return np.where(ok, out, np.nan)

    def events_count(self, s1, s2):
        ia = np.searchsorted(self.v, np.asarray(s1)[:, None] * self.b, side="right")
        ib = np.searchsorted(self.v, np.asarray(s2)[:, None] * self.b, side="right")
        return (ib - ia).sum(axis=1)


def _bprefix(a: np.ndarray) -> np.ndarray:
    """Blocked prefix sums ``P[k] = sum_{i<k} a[i]`` (length n+1): error <= (BLOCK + n/BLOCK) eps of the total."""
    n = a.size
    nb = -(-n // BLOCK) if n else 0
    pad = np.zeros(nb * BLOCK, dtype=a.dtype)
    pad[:n] = a
    blk = pad.reshape(nb, BLOCK) if nb else pad.reshape(0, BLOCK)
    inner = np.cumsum(blk, axis=1)
    off = np.concatenate((np.zeros(1, dtype=a.dtype), np.cumsum(inner[:, -1])[:-1])) if nb else np.zeros(0, a.dtype)
    P = (inner + off[:, None]).reshape(-1)[:n]
    return np.concatenate((np.zeros(1, dtype=a.dtype), P))


# --------------------------------------------------------------------------- exact sweep of one interval
def _sweep(sides, A, B, extra=None):
    """Pieces of ``[A, B]``: arrays (left, right, s0, C0, C1, C2, err) with F(s0+t) = C0 - 2tC1 + t^2 C2.

    ``extra``: ``(C0, C1, C2, e0, e1, e2)`` of values outside ``sides`` whose level is the same on the
    whole of ``[A, B]`` (centred at ``s0 = (A + B) / 2``, with error bounds), added to every piece."""
    s0 = 0.5 * (A + B)
    s0l = LD(s0)
    C = [LD(0), LD(0), LD(0)]
    E = [0.0, 0.0, 0.0]
    if extra is not None:
        C = [LD(extra[0]), LD(extra[1]), LD(extra[2])]
        E = [float(extra[3]), float(extra[4]), float(extra[5])]
    ev_s, ev_d = [], [[], [], []]
    for sd in sides:
        c0, c1, c2, e0, e1, e2 = sd.coeffs(A, s0)
        C[0] += c0
        C[1] += c1
        C[2] += c2
        E[0] += e0
        E[1] += e1
        E[2] += e2
        if sd.P == 0:
            continue
        ia = np.searchsorted(sd.v, A * sd.b, side="right")
        ib = np.searchsorted(sd.v, B * sd.b, side="right")
        cnt = ib - ia
        tot = int(cnt.sum())
        if tot == 0:
            continue
        jj = np.repeat(np.arange(sd.P), cnt)  # boundary b[jj] lies between levels c[jj] and c[jj+1]
        first = np.repeat(np.cumsum(cnt) - cnt, cnt)
        idx = np.repeat(ia, cnt) + (np.arange(tot) - first)
        v = sd.v[idx]
        s_ev = np.clip(v / sd.b[jj], A, B)
        c_new = sd.c[jj].astype(LD)  # as s grows past v / b, v moves down to c[jj]
        c_old = sd.c[jj + 1].astype(LD)
        vl = v.astype(LD)
        wl = (sd.P0f[idx + 1] - sd.P0f[idx]).astype(LD)  # counts (exact in float64)
        e_new = vl - s0l * c_new
        e_old = vl - s0l * c_old
        ev_s.append(s_ev)
        ev_d[0].append(wl * (e_new * e_new - e_old * e_old))
        ev_d[1].append(wl * (c_new * e_new - c_old * e_old))
        ev_d[2].append(wl * (c_new * c_new - c_old * c_old))
    half = 0.5 * (B - A)
    if ev_s:
        s_ev = np.concatenate(ev_s)
        order = np.argsort(s_ev, kind="stable")
        s_ev = s_ev[order]
        cum = []
        for k in range(3):
            d = np.concatenate(ev_d[k])[order]
            cum.append(np.concatenate(([C[k]], C[k] + np.cumsum(d))))
            # cumsum of m terms: error <= m eps * sum |terms| (plus the deltas' own rounding)
            E[k] += (d.size + 8) * EPS_LD * float(np.sum(np.abs(d)))
        edges = np.concatenate(([A], s_ev, [B]))
    else:
        cum = [np.array([C[k]]) for k in range(3)]
        edges = np.array([A, B])
    left, right = edges[:-1], edges[1:]
    keep = right > left
    if not keep.any():  # A == B
        keep[0] = True
    nev = max(edges.size - 2, 0)
    err = E[0] + 2 * half * E[1] + half * half * E[2]
    return _candidates(left[keep], right[keep], s0, cum[0][keep], cum[1][keep], cum[2][keep], err), nev


def _candidates(left, right, s0, C0, C1, C2, err):
    """Local-minimum candidates of one run of pieces: (s, value, err, C2) arrays and min(value - err).

    ``MSE`` only has concave kinks (at a breakpoint its slope drops by ``2 s b (c_old - c_new) > 0``),
    so its local minima are vertices ``s0 + C1/C2`` lying in their own piece; the run's smallest
    clipped piece minimum is added as a safety net against rounding at piece ends.
    """
    smin, vmin = _piece_min(left, right, s0, C0, C1, C2)
    pos = C2 > 0
    tv = np.where(pos, C1 / np.where(pos, C2, 1), 0)
    vert = (s0 + tv.astype(np.float64))
    inside = pos & (vert >= left) & (vert <= right) & (vert > 0)
    k = int(np.argmin(vmin))
    inside[k] = inside[k] or (smin[k] > 0)
    sel = np.flatnonzero(inside)
    errs = np.broadcast_to(np.asarray(err, dtype=np.float64), left.shape)
    return (smin[sel], vmin[sel], errs[sel].copy(), C2[sel].astype(np.float64),
            float(np.min(vmin - errs)))


def _end_piece(sides, a, b, s_eval):
    """The candidate piece of the outer scale ranges ``(a, b)`` (below every breakpoint, or above all of
    them, ``b = inf``), where the SSE is one quadratic in ``s`` summed over ``sides`` and evaluated at
    ``s_eval``, with its rounding bound."""
    C0 = C1 = C2 = LD(0)
    e = [0.0, 0.0, 0.0]
    for sd in sides:
        c0, c1, c2, e0, e1, e2 = sd.coeffs(s_eval, s_eval)
        C0, C1, C2 = C0 + c0, C1 + c1, C2 + c2
        e = [e[0] + e0, e[1] + e1, e[2] + e2]
    # value error at s = s_eval + t: e0 + 2|t| e1 + t^2 e2, with |t| <= the piece's distance to s_eval
    tmax = max(abs(a - s_eval), abs(min(b, 1e300) - s_eval)) if math.isfinite(b) else 0.0
    err = e[0] + 2 * tmax * e[1] + tmax * tmax * e[2]
    if not math.isfinite(b):  # evaluated later at the minimizer only; bound with |t| up to the vertex
        tv = abs(float(C1 / C2)) if C2 > 0 else 0.0
        err = e[0] + 2 * tv * e[1] + tv * tv * e[2]
    return _candidates(np.array([a]), np.array([b]), s_eval, np.array([C0]), np.array([C1]), np.array([C2]), err)


def _piece_min(left, right, s0, C0, C1, C2):
    """Minimum of C0 - 2 t C1 + t^2 C2 over s = s0 + t in [left, right] (right may be inf)."""
    tl = (left - s0).astype(LD)
    tr = (right - s0).astype(LD)
    pos = C2 > 0
    tv = np.where(pos, C1 / np.where(pos, C2, 1), tl)
    tv = np.minimum(np.maximum(tv, tl), tr)
    # C2 == 0: linear (-2 t C1): minimum at an end; right end may be inf only when C1 <= 0 (flat or increasing)
    lin = ~pos
    tv = np.where(lin & (C1 > 0) & np.isfinite(tr), tr, tv)
    val = C0 - 2 * tv * C1 + tv * tv * C2
    return (s0 + tv.astype(np.float64)), np.maximum(val, 0).astype(np.float64)


def _deriv(s, s0, C1, C2):
    t = (np.asarray(s, dtype=np.float64) - s0).astype(LD)
    return (-2 * C1 + 2 * t * C2).astype(np.float64)


# --------------------------------------------------------------------------- the optimizer
def _sides_of(x: np.ndarray, fmt: Format):
    lv = fmt.levels
    pos = x[x >= 0]
    neg = -x[x < 0]
    sides = []
    if pos.size:
        sides.append(_Side(pos, lv))
    if neg.size:
        sides.append(_Side(neg, -lv[::-1]))
    return sides


def _mse_direct(x: np.ndarray, scales, fmt: Format) -> np.ndarray:
    """``mean (x - s q(x/s))**2`` per scale: one direct float64 pass per scale over the data (numba
    kernel: nearest level by binary search on the midpoints, compensated summation; the numpy
    reference with :meth:`Format.quantize_index` and pairwise sums when ``USE_KERNELS`` is off)."""
    out = np.zeros(len(scales))
    n = x.size
    lv = fmt.levels
    if USE_KERNELS:
        from ._kernels.format_data import direct_sse

        xc = np.ascontiguousarray(x, dtype=np.float64)
        mids = np.ascontiguousarray(fmt.midpoints, dtype=np.float64)
        lvc = np.ascontiguousarray(lv, dtype=np.float64)
        for j, s in enumerate(scales):
            out[j] = direct_sse(xc, float(s), lvc, mids) / n
        return out
    for j, s in enumerate(scales):
        tot = 0.0
        for i in range(0, n, 1 << 20):
            c = x[i:i + (1 << 20)]
            q = lv[fmt.quantize_index(c / s)]
            tot += float(np.sum((c - s * q) ** 2))
        out[j] = tot / n
    return out


def _mse_sides(sides, scales, n) -> np.ndarray:
    """``mean (x - s q(x/s))**2`` per scale by a direct pass over each side's sorted distinct values
    with counts (numba, compensated sums); equal to :func:`_mse_direct` up to rounding (tested)."""
    from ._kernels.format_data import direct_sse_sorted

    out = np.zeros(len(scales))
    for j, s in enumerate(scales):
        out[j] = sum(direct_sse_sorted(sd.v, sd.P0f, sd.b, sd.c, float(s)) for sd in sides) / n
    return out


def _polish_direct(sides, s: float, n: int):
    """``(s', MSE(s'))``: ``s'`` the exact vertex of the piece holding ``s`` (``sum cnt v c / sum cnt
    c**2`` over its level assignment, double-double; ``s`` itself if that is not a positive finite
    number), ``MSE`` by the direct pass over the sides' sorted distinct values (numba kernels)."""
    from ._kernels.format_data import direct_sse_sorted, polish_acc

    acc = np.zeros(4)
    for sd in sides:
        polish_acc(sd.v, sd.P0f, sd.b, sd.c, s, acc)
    den = acc[2] + acc[3]
    sp = s
    if den > 0.0:
        t = (acc[0] + acc[1]) / den
        if 0.0 < t < math.inf:
            sp = t
    d = 0.0
    for sd in sides:
        d = d + direct_sse_sorted(sd.v, sd.P0f, sd.b, sd.c, sp)
    return sp, d / n


# data with max |x| above HUGE_DATA are solved as x 2^-k (exact: a power of 2; max |x 2^-k| in [1/2, 1))
# and the answer scaled back: the piece coefficients and rounding bounds hold s^2 c^2 n, which overflowed
# float64 from |x| ~ 1e153 on (audit 2026-12-01 F3; the scan admits |x| <= 1e154)
HUGE_DATA = 2.0**128


def _optimal_one(x: np.ndarray, fmt: Format, rtol: float, name: str = "data") -> FormatScale:
    amax = float(np.max(np.abs(x))) if x.size else 0.0
    if not amax > HUGE_DATA:
        return _optimal_one_core(x, fmt, rtol, name)
    k = math.frexp(amax)[1]
    # values below 2^(k - 1074) flush to 0: their squares (< 4^(k - 1074) ~ 1e-600 amax^2) are far below
    # the rounding of the MSE (~1e-16 amax^2 / n)
    r = _optimal_one_core(np.ldexp(x, -k), fmt, rtol, name)
    up = lambda v: math.ldexp(v, k)  # noqa: E731
    up2 = lambda v: math.ldexp(v, 2 * k)  # noqa: E731
    extra = dict(r.extra)
    if "sum_sq" in extra:
        extra["sum_sq"] = float(np.sum(x * x))
    extra["rescaled_by_pow2"] = -k
    return FormatScale(up(r.scale), up2(r.mse), up2(r.risk), fmt,
                       r.method + f"; solved on x * 2^{-k} (exact) and scaled back", up(r.scale_error),
                       up2(r.risk_lower_bound), tuple(up(v) for v in r.near_optimal_scales),
                       tuple(up2(v) for v in r.near_optimal_mse), amax / fmt.level_max, up2(r.amax_mse), extra)


# values far below the data's useful magnitudes (audit 2026-12-01 findings 26/27): a non-zero value with
# |x| < hi * TINY_REL (hi the largest magnitude on a side of 0 with non-zero levels) rounds to 0 at every
# scale s >= s_min = hi * TINY_REL / b_1 (b_1 the side's first positive midpoint), where it adds exactly
# x^2 to the sum; below s_min every value clips to |s q| <= s_min * top, which is bounded separately.
# Without this, a subnormal next to O(1) data made the bracket ratio s_hi / s_lo overflow (per tensor:
# OverflowError in log2; per channel: a false certificate from the row kernel).
TINY_REL = 2.0**-200


def _tiny_mask(x: np.ndarray, lv: np.ndarray):
    """``(mask, hi)``: the non-zero values on a side with non-zero levels below ``hi * TINY_REL``."""
    hi = 0.0
    if lv[-1] > 0 and np.any(x > 0):
        hi = max(hi, float(np.max(x)))
    if lv[0] < 0 and np.any(x < 0):
        hi = max(hi, -float(np.min(x)))
    if hi == 0.0:
        return None, hi
    ax = np.abs(x)
    m = (ax < hi * TINY_REL) & (x != 0)
    if lv[-1] <= 0:
        m &= x < 0
    if lv[0] >= 0:
        m &= x > 0
    return (m if np.any(m) else None), hi


def _optimal_one_core(x: np.ndarray, fmt: Format, rtol: float, name: str = "data") -> FormatScale:
    from .data import TINY_DATA

    lv = np.asarray(fmt.levels, dtype=np.float64)
    mask, hi = _tiny_mask(x, lv)
    if mask is None or hi < TINY_DATA:  # (tiny data: the tiny-data guard of the core speaks)
        return _optimal_one_core0(x, fmt, rtol, name)
    if not fmt.has_zero:
        raise ValueError(f"{name}: values below {hi * TINY_REL:.3g} (2^-200 of the largest magnitude {hi:.17g}) "
                         f"and format {fmt.name!r} has no zero level: rescale or drop them")
    n = x.size
    xt = x[mask]
    tsq = float(np.sum(xt * xt))
    tsq_lo = max(0.0, tsq * (1 - 2.0**-50) - xt.size * 2.0**-1074)
    r = _optimal_one_core0(np.where(mask, 0.0, x), fmt, rtol, name)
    mids = 0.5 * (lv[:-1] + lv[1:])
    # first positive midpoint of each side (as _Side.b[0]); the smallest of them
    b1 = min(([float(np.min(mids[mids > 0]))] if np.any(mids > 0) else []) +
             ([float(-np.max(mids[mids < 0]))] if np.any(mids < 0) else []))
    s_min = hi * TINY_REL / b1 * (1 + 2.0**-40)
    top = max(abs(float(lv[0])), abs(float(lv[-1])))
    # below s_min every |error| >= |x| - s_min top on a useful side, |x| on the other (and >= 0 always)
    big = np.abs(x[~mask])
    lb_small = float(np.sum(np.maximum(big - s_min * top, 0.0) ** 2)) * (1 - 2.0**-40) / n
    add = tsq / n
    if not (r.scale >= s_min and lb_small > r.mse + add):
        raise ValueError(f"{name}: values below {hi * TINY_REL:.3g} (2^-200 of the largest magnitude) and the optimum "
                         "could not be separated from them; rescale or drop them")
    pi2 = math.pi**2
    lower = min(r.risk_lower_bound / pi2 + tsq_lo / n, lb_small)
    amax_m = float(_mse_direct(x, [r.amax_scale], fmt)[0])
    extra = dict(r.extra)
    extra["sum_sq"] = float(np.sum(x * x))
    extra["tiny_values_to_zero"] = int(xt.size)
    mse = r.mse + add
    return FormatScale(r.scale, mse, pi2 * mse, fmt,
                       r.method + f"; {xt.size} value(s) below 2^-200 of the largest magnitude round to 0 at every "
                       "candidate scale (their x^2 added)", r.scale_error, pi2 * min(lower, mse),
                       r.near_optimal_scales, tuple(v + add for v in r.near_optimal_mse), r.amax_scale, amax_m,
                       extra)


def _optimal_one_core0(x: np.ndarray, fmt: Format, rtol: float, name: str = "data") -> FormatScale:
    t0 = time.perf_counter()
    n = x.size
    amax = float(np.max(np.abs(x)))
    sumsq = float(np.sum(x * x))
    sides = _sides_of(x, fmt)
    # can some side move its data towards non-zero levels?  (top level of the side positive)
    useful = [sd for sd in sides if sd.vmax > 0 and sd.c[-1] > 0]
    if not useful:
        if amax == 0.0 and fmt.has_zero:
            return FormatScale(DEGENERATE_SCALE, 0.0, 0.0, fmt,
                               "degenerate: all-zero data, MSE(s) = 0 for every s > 0; scale=1.0 by convention",
                               math.inf, 0.0, (DEGENERATE_SCALE,), (0.0,), math.nan, 0.0,
                               {"n": n, "degenerate": True})
        if amax == 0.0:
            raise ValueError(f"{name} is all zeros and format {fmt.name!r} has no zero level: MSE(s) = s^2 * "
                             f"(nearest level to 0)^2 decreases to 0 as s -> 0, so no s > 0 is optimal")
        side = "non-negative" if np.all(x >= 0) else ("non-positive" if np.all(x <= 0) else "mixed")
        raise ValueError(f"format {fmt.name!r} has no level of the sign of the {name}'s non-zero values ({side} data, "
                         f"levels in [{fmt.lo:g}, {fmt.hi:g}]): Q_s(x) is never closer to x than 0 is, so MSE(s) >= mean(x**2) "
                         "= MSE(0+) and no scale s > 0 is optimal; use a format with levels of that sign")
    _check_tiny(max(float(sd.vmax) for sd in useful), amax, name)
    act = [sd for sd in sides if sd.P > 0 and sd.vmax > 0]
    s_lo = min(sd.vmin_pos / sd.b[-1] for sd in act) if act else math.inf
    s_hi = max(sd.vmax / sd.b[0] for sd in act) if act else 0.0
    pieces = []  # (left, right, s0, C0, C1, C2, err)

    def end_piece(a, b, s_eval):
        pieces.append(_end_piece(sides, a, b, s_eval))

    info: dict[str, Any] = {"n": n}
    if not act:  # no breakpoint at all (e.g. only zeros on the active side): one quadratic
        end_piece(0.0, math.inf, 1.0)
        info.update(bb_levels=0, intervals_swept=0, breakpoints_swept=0)
    else:
        end_piece(0.0, s_lo, 0.5 * s_lo)
        end_piece(s_hi, math.inf, 2.0 * s_hi)
        _bb(sides, s_lo, s_hi, pieces, rtol, info)
    cs, cv, ce, cc2 = (np.concatenate([p[k] for p in pieces]) for k in range(4))
    lower_all = min(p[4] for p in pieces)
    if not np.any(cs > 0):  # cannot happen: the global minimum is a vertex of some piece
        raise RuntimeError("internal error: no local minimum found; please report")
    ok = cs > 0
    cs, cv, ce, cc2 = cs[ok], cv[ok], ce[ok], cc2[ok]
    best_est = float(np.min(cv))
    thr = best_est * (1 + rtol) + 2 * float(np.max(ce))
    near = np.flatnonzero(cv <= thr)
    near = near[np.lexsort((cs[near], cv[near]))]  # by value, exact ties by scale (as the row kernel)
    _, first = np.unique(cs[near], return_index=True)
    near = near[np.sort(first)]
    truncated = near.size > MAX_NEAR
    near_all = near
    near = near[:MAX_NEAR]
    # the best few are re-evaluated by a direct pass; the set is ranked by the swept (longdouble) values
    # (kernels) also every candidate the swept values cannot tell from the best, each at its polished
    # scale (the exact vertex of its piece: never a larger MSE); least MSE wins, exact ties to the
    # smaller scale -- the batched row kernel makes the same choice with the same operations
    ntop = NEAR_DIRECT
    if USE_KERNELS:
        ib0 = int(np.argmin(cv))
        indist = np.flatnonzero(cv[near_all] <= best_est + ce[ib0] + ce[near_all])
        if indist.size:
            ntop = max(ntop, min(int(indist[-1]) + 1, MAX_DIRECT))
    top = near_all[:ntop]
    pol = cs.copy()
    if USE_KERNELS:
        direct = np.empty(top.size)
        for q, t in enumerate(top):
            pol[t], direct[q] = _polish_direct(sides, float(cs[t]), n)
        i = min(range(top.size), key=lambda q: (direct[q], pol[top[q]]))
    else:
        direct = _mse_direct(x, cs[top], fmt)
        i = int(np.argmin(direct))
    best = float(direct[i])
    s_best = float(pol[top[i]])
    near_vals = cv[near] / n
    keep = cv[near] <= best_est * (1 + rtol) + ce[near] + float(ce[np.argmin(cv)])  # within rtol, up to rounding
    keep[np.flatnonzero(near == top[i])] = True
    rest = [k for k in np.flatnonzero(keep) if near[k] != top[i]][:MAX_NEAR - 1]
    near_s = (s_best,) + tuple(float(pol[near[k]]) for k in rest)
    dmap = {int(t): float(d) for t, d in zip(top, direct)}  # direct-pass values where computed
    near_m = (best,) + tuple(dmap.get(int(near[k]), float(near_vals[k])) for k in rest)
    s_star = near_s[0]
    lower = max(0.0, lower_all / n)
    lower = min(lower, best)
    j = top[i]
    c2 = float(cc2[j]) / n
    # a quadratic with curvature C2 exceeds its minimum by e at distance sqrt(e / C2)
    scale_err = max(4 * np.finfo(float).eps * s_star, math.sqrt(2 * float(ce[j]) / n / c2) if c2 > 0 else 0.0)
    amax_s = amax / fmt.level_max
    amax_m = float((_mse_sides(sides, [amax_s], n) if USE_KERNELS else _mse_direct(x, [amax_s], fmt))[0])
    info.update(seconds=time.perf_counter() - t0, local_minima_near=int(near.size),
                near_optimal_truncated=bool(truncated), rtol=rtol, sum_sq=sumsq)
    method = ("exact: branch and bound on sorted distinct values + exact sweep of the remaining breakpoints "
              "(global, certified); near-optimal set within rtol of the best")
    pi2 = math.pi**2
    return FormatScale(s_star, best, pi2 * best, fmt, method, scale_err, pi2 * lower, near_s, near_m,
                       amax_s, amax_m, info)


def _chunked(fn, *arrays, k=2048):
    outs = [fn(*(a[i:i + k] for a in arrays)) for i in range(0, arrays[0].size, k)]
    if isinstance(outs[0], tuple):
        return tuple(np.concatenate([o[j] for o in outs]) for j in range(len(outs[0])))
    return np.concatenate(outs)


def _bb(sides, s_lo, s_hi, pieces, rtol, info):
    """Branch and bound on [s_lo, s_hi]; appends the swept pieces of every interval that may hold a
    near-optimal minimum.  Breadth-first while cheap, then best-first with bounded sweeps."""
    import heapq

    act = [sd for sd in sides if sd.P > 0]
    nint = max(8, int(math.ceil(8 * math.log2(s_hi / s_lo)))) if s_hi > s_lo else 1
    nint = min(nint, 1 << 13)
    edges = s_lo * (s_hi / s_lo) ** (np.arange(nint + 1) / nint)
    edges[0], edges[-1] = s_lo, s_hi
    s1, s2 = edges[:-1].copy(), edges[1:].copy()

    def F1(ss):
        tot = np.zeros(ss.size)
        err = np.zeros(ss.size)
        for sd in sides:
            v, e = sd.k_value(ss) if USE_KERNELS else sd.value(ss)
            tot += v
            err += e
        return tot, err

    def LB1(a, b):
        """Lower bounds and (kernels) the breakpoint counts, -1 where not computed."""
        tot = np.zeros(a.size)
        evs = np.zeros(a.size, dtype=np.int64)
        for sd in sides:
            if USE_KERNELS and sd.P > 0:
                l2, e2 = sd.k_lower_bound_events(a, b)
            else:
                l2 = sd.k_lower_bound(a, b) if USE_KERNELS else sd.lower_bound_fixed(a, b)
                e2 = np.zeros(a.size, dtype=np.int64) if sd.P == 0 else np.full(a.size, -1, dtype=np.int64)
            bad = np.isnan(l2)
            if bad.any():
                l2[bad] = sd.lower_bound(a[bad], b[bad])
            tot += l2
            evs = np.where((evs < 0) | (e2 < 0), -1, evs + e2)
        return tot, evs

    def EV1(a, b):
        tot = np.zeros(a.size, dtype=np.int64)
        for sd in act:
            tot += sd.k_events(a, b) if USE_KERNELS else sd.events_count(a, b)
        return tot

    def F(ss):
        return _chunked(F1, ss)

    def LB(a, b):
        return _chunked(LB1, a, b)

    def EV(a, b):
        return _chunked(EV1, a, b)

    v0, e0 = F(edges)
    best_ub = float(np.min(v0 + e0))
    levels = 0
    bound_evals = 0
    while True:
        levels += 1
        lb, ev = LB(s1, s2)
        # upper bound: MSE at the midpoints of the UB_PROBES intervals of least lower bound (where the
        # minimum is; any value of MSE is a valid upper bound, so fewer probes never prune wrongly)
        pick = np.argpartition(lb, UB_PROBES)[:UB_PROBES] if lb.size > UB_PROBES else np.arange(lb.size)
        mid = np.sqrt(s1[pick] * s2[pick])
        v, e = F(mid)
        bound_evals += s1.size + pick.size
        best_ub = min(best_ub, float(np.min(v + e)))
        keep = lb <= best_ub * (1 + 2 * rtol)
        s1, s2, lb, ev = s1[keep], s2[keep], lb[keep], ev[keep]
        miss = ev < 0
        if miss.any():
            ev[miss] = EV(s1[miss], s2[miss])
        wide = (ev > EVENTS_STOP) & (s2 > s1 * (1 + 1e-13))
        if not wide.any() or levels >= MAX_LEVELS_BB or s1.size + int(wide.sum()) > MAX_INTERVALS:
            break
        m = np.sqrt(s1[wide] * s2[wide])
        s1 = np.concatenate((s1[~wide], s1[wide], m))
        s2 = np.concatenate((s2[~wide], m, s2[wide]))
    # merge adjacent survivors into clusters (one sweep each) while their breakpoints stay few
    order = np.argsort(s1)
    s1, s2, lb, ev = s1[order], s2[order], lb[order], ev[order]
    cl = []
    for a, b, l, e in zip(s1, s2, lb, ev):
        if cl and cl[-1][2] == a and cl[-1][3] + e <= CLUSTER_EVENTS and b <= cl[-1][1] * CLUSTER_WIDTH:
            cl[-1] = [min(cl[-1][0], l), cl[-1][1], b, cl[-1][3] + e]
        else:
            cl.append([l, a, b, e])
    heap = [(float(l), float(a), float(b), int(e)) for l, a, b, e in cl]
    heapq.heapify(heap)
    best = best_ub
    swept = 0
    nsw = 0
    while heap:
        l, a, b, e = heapq.heappop(heap)
        if l > best * (1 + 2 * rtol):
            break  # every remaining interval has a larger lower bound
        if e > SWEEP_MAX and b > a * (1 + 1e-13):
            m = math.sqrt(a * b)
            aa, bb = np.array([a, m]), np.array([m, b])
            lbs, evs = LB(aa, bb)
            evs = EV(aa, bb)
            vm, em = F(np.sqrt(aa * bb))
            bound_evals += 4
            best = min(best, float(np.min(vm + em)))
            for k in range(2):
                heapq.heappush(heap, (float(lbs[k]), float(aa[k]), float(bb[k]), int(evs[k])))
            continue
        out, nev = _sweep(sides, a, b)
        swept += nev
        nsw += 1
        if out[0].size:
            best = min(best, float(np.min(out[1] + out[2])))
            near = out[1] - out[2] <= best * (1 + 2 * rtol)
            out = tuple(o[near] for o in out[:4]) + (out[4],)
        pieces.append(out)
    info.update(bb_levels=levels, bound_evals=bound_evals, intervals_swept=nsw, breakpoints_swept=int(swept),
                bracket=(s_lo, s_hi))


# --------------------------------------------------------------------------- batched rows
ROWS_MAX = 1 << 16  # per-channel units up to this many values go through the batched row kernel
ROW_SUB = 1  # sub-intervals per surviving octave of the batched kernel (each swept exactly)
ROW_OCTAVE = True  # doubling-closed formats: search up to 2 t_clip only (False: the whole bracket)
USE_ROWS = True  # False: every channel through _optimal_one (the reference the tests compare with)
ROWS_METHOD = ("exact (batched rows): per-row lower bounds on octaves of the scale bracket, exact sweep "
               "of the breakpoints of the surviving sub-intervals, best first (global, certified); "
               "near-optimal set within rtol of the best")


def _doubling_closed(levels: np.ndarray) -> bool:
    """Every level ``l`` with ``2 l`` inside ``[levels[0], levels[-1]]`` has ``2 l`` a level (FP8/FP6/FP4
    minifloats, integer grids; not NF4): then ``SSE(2t) >= SSE(t)`` for every ``t`` at which no value
    clips, and the batched kernel searches ``s`` up to twice the no-clipping scale only."""
    lv = np.asarray(levels, dtype=np.float64)
    d = 2.0 * lv
    d = d[(d >= lv[0]) & (d <= lv[-1])]
    return bool(np.all(np.isin(d, lv)))


def _side_levels(levels: np.ndarray):
    """Positive midpoints ``b`` and group levels ``c`` of one side (as :class:`_Side`)."""
    mid = 0.5 * (levels[:-1] + levels[1:])
    j0 = int(np.sum(mid <= 0.0))
    return np.ascontiguousarray(mid[j0:], dtype=np.float64), np.ascontiguousarray(levels[j0:], dtype=np.float64)


def _check_tiny(hi: float, amax: float, name: str) -> None:
    """The integer engine's tiny-data guard (``risk.data.check_not_tiny``, audit 2026-12-01 F2/F4) on
    ``hi``, the largest magnitude on a side of 0 with non-zero levels (``0 < hi``): below ``TINY_DATA``
    (2^-490 ~ 3.13e-148) the squared errors underflow and MSE(s) is 0 or rounding noise."""
    from .data import TINY_DATA, check_not_tiny

    if hi >= TINY_DATA:
        return
    if amax < TINY_DATA:
        check_not_tiny(hi, name)
    who = "the data's" if name == "data" else f"{name}:"
    raise ValueError(f"{who} magnitudes on the side(s) of 0 with non-zero levels are all below {TINY_DATA:.3g} "
                     "(the other values quantize to 0 whatever s): squared errors underflow in float64 and "
                     "MSE(s) is flat in s to rounding; no scale is meaningfully optimal")


def _optimal_rows(M: np.ndarray, fmt: Format, rtol: float) -> list:
    """Per-row optimum of the 2-D float32/float64 array ``M`` (finite, validated) in one kernel call;
    rows the kernel leaves (degenerate or one-sided rows, candidate overflow) go through
    :func:`_optimal_one`.  Returns one :class:`FormatScale` per row."""
    from ._kernels.format_data import rows_optimum

    m, n = M.shape
    lv = np.ascontiguousarray(fmt.levels, dtype=np.float64)
    # tiny rows (F2): the guard of _optimal_one, before the kernel (which would return underflowed MSEs)
    hi = np.zeros(m)
    if lv[-1] > 0:
        hi = np.maximum(hi, np.max(np.where(M > 0, M, 0), axis=1))
    if lv[0] < 0:
        hi = np.maximum(hi, np.max(np.where(M < 0, -M, 0), axis=1))
    for i in np.flatnonzero(hi > 0):
        if hi[i] < 2.0**-490:
            _check_tiny(float(hi[i]), float(np.max(np.abs(M[i]))), f"channel {i}")
    # rows holding values far below their largest magnitude (audit 2026-12-01 finding 26: a subnormal gave
    # the row kernel a false certificate) go through _optimal_one, which sets those values aside
    tiny_rows = np.flatnonzero(np.any((M != 0) & (np.abs(M) < (hi * TINY_REL)[:, None]), axis=1))
    if tiny_rows.size:  # the kernel does not see them (it could divide by an underflowed bracket)
        M_all, M = M, M.copy()
        M[tiny_rows] = 1.0
    else:
        M_all = M
    bP, cP = _side_levels(lv)
    bN, cN = _side_levels(-lv[::-1].copy())
    f = [np.zeros(m) for _ in range(6)]
    near_s = np.zeros((m, MAX_NEAR))
    near_m = np.zeros((m, MAX_NEAR))
    near_c = np.zeros(m, dtype=np.int64)
    status = np.zeros(m, dtype=np.int64)
    stats = np.zeros((m, 3), dtype=np.int64)
    t0 = time.perf_counter()
    rows_optimum(M, lv, np.ascontiguousarray(fmt.midpoints, dtype=np.float64), float(fmt.level_max),
                 bP, cP, bN, cN, float(rtol), int(ROW_SUB), int(MAX_NEAR), int(NEAR_DIRECT), int(MAX_DIRECT),
                 bool(ROW_OCTAVE and _doubling_closed(lv)), *f,
                 near_s, near_m, near_c, status, stats)
    sec = (time.perf_counter() - t0) / max(m, 1)
    scale, mse, lower, serr, amax_s, amax_m = f
    pi2 = math.pi**2
    out = []
    tiny_set = set(tiny_rows.tolist())
    for i in range(m):
        if status[i] != 0 or i in tiny_set:
            out.append(_optimal_one(M_all[i].astype(np.float64), fmt, rtol, name=f"channel {i}"))
            continue
        k = int(near_c[i])
        info = {"n": n, "seconds": sec, "intervals_bounded": int(stats[i, 0]),
                "intervals_swept": int(stats[i, 1]), "breakpoints_swept": int(stats[i, 2]), "rtol": rtol}
        out.append(FormatScale(float(scale[i]), float(mse[i]), pi2 * float(mse[i]), fmt, ROWS_METHOD,
                               float(serr[i]), pi2 * float(lower[i]), tuple(near_s[i, :k].tolist()),
                               tuple(near_m[i, :k].tolist()), float(amax_s[i]), float(amax_m[i]), info))
    return out


# --------------------------------------------------------------------------- public API
def optimal_scale_format_data(data, fmt, axis=None, *, rtol: float = RTOL) -> FormatScale:
    """Exact global minimizer ``s*`` of ``MSE(s) = mean (x - s q(x/s))**2`` for format ``fmt``.

    Parameters
    ----------
    data : array-like of real numbers (NumPy array, memory-mapped ``.npy``) — NaN/inf rejected
    fmt : Format, Grid, format name (``'e4m3'``, ``'nf4'``, ``'int8n'``...) or int bit width
    axis : int or None
        Channel axis: one scale per index along ``axis`` (fields become arrays, the
        near-optimal sets tuples of tuples).
    rtol : float
        Relative tolerance of the near-optimal set (default ``1e-9``): every local
        minimum with ``MSE <= (1 + rtol) min MSE`` is returned in ``near_optimal_scales``.

    Returns
    -------
    FormatScale
        ``scale`` (data units), ``mse`` (data units squared), ``risk = pi**2 mse``,
        certificate ``risk_lower_bound``, the near-optimal set, and the amax rule's
        scale and MSE for comparison.
    """
    from ..laws.atoms import as_data_array as _as_array, iter_chunks as _iter_chunks, scan as _scan

    fmt = as_format(fmt)
    if isinstance(rtol, bool) or not isinstance(rtol, (int, float, np.floating)) or not 0 <= float(rtol) < 1e-2:
        raise ValueError(f"rtol must be a number in [0, 0.01), got {rtol!r}")
    rtol = float(rtol)
    arr = _as_array(data)

    def load(a, name):
        _scan(a, name)  # validation: NaN/inf rejected, overflow checked
        return np.concatenate([c.astype(np.float64) for c in _iter_chunks(a)])

    if axis is None:
        return _optimal_one(load(arr, "data"), fmt, rtol)
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int or None, got {type(axis).__name__}")
    if not -arr.ndim <= axis < arr.ndim:
        raise ValueError(f"axis {axis} is out of range for data with {arr.ndim} dimension(s) (shape {arr.shape})")
    moved = np.moveaxis(arr, int(axis), 0)
    if moved.shape[0] == 0 or moved[0].size == 0:
        raise ValueError(f"data of shape {arr.shape} has empty channels along axis {axis}")
    m = moved.shape[0]
    batched = USE_ROWS and USE_KERNELS and moved[0].size <= ROWS_MAX
    if batched:
        try:  # validation first, in one pass over the data (on failure the loop names the channel)
            _scan(arr, "data")
        except ValueError:
            batched = False
    if batched:  # all channels in one kernel call
        M = moved.reshape(m, -1)
        if M.dtype not in (np.float32, np.float64) or not M.dtype.isnative:
            M = M.astype(np.float64)
        res = _optimal_rows(np.ascontiguousarray(M), fmt, rtol)
    else:
        res = [_optimal_one(load(moved[i], f"channel {i}"), fmt, rtol, name=f"channel {i}") for i in range(m)]

    def stack(f):
        return np.array([getattr(r, f) for r in res], dtype=float)

    methods = sorted({r.method for r in res})
    return FormatScale(stack("scale"), stack("mse"), stack("risk"), fmt,
                       f"per-channel along axis {axis}: " + " | ".join(methods), stack("scale_error"),
                       stack("risk_lower_bound"), tuple(r.near_optimal_scales for r in res),
                       tuple(r.near_optimal_mse for r in res), stack("amax_scale"), stack("amax_mse"),
                       {"axis": int(axis), "channels": len(res)})


def format_data_mse(data, scale, fmt) -> np.ndarray | float:
    """Exact ``MSE(s) = mean (x - s q(x / s))**2`` (data units squared) at each scale (any shape)."""
    from .._validate import check_scales
    from ..laws.atoms import as_data_array as _as_array, iter_chunks as _iter_chunks, scan as _scan

    fmt = as_format(fmt)
    arr = _as_array(data)
    _scan(arr)
    x = np.concatenate([c.astype(np.float64) for c in _iter_chunks(arr)])
    s = check_scales(scale)
    vals = _mse_direct(x, s.ravel(), fmt)
    return float(vals[0]) if np.ndim(scale) == 0 else vals.reshape(np.shape(scale))
