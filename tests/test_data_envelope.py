"""The convex-envelope (Jensen) bound of the joint interval bound (issue 20, 8 bits).

:func:`quanttheory.risk._kernels.data._bin_bound` bounds the sum over a histogram bin of the
per-point bound ``g(v) = dist(v, {0} U k [s1, s2], k = 1..T)**2`` by ``c g_env(S/c)`` (``g_env`` the
convex envelope of ``g`` on the bin) instead of ``c min g``.  Checked here:

* hand-derived bins (a convex bin, a bin holding exactly one gap midpoint, asymmetric), with the
  expected values computed by hand in the comments;
* ``_bin_bound`` against the exact ``sum g(v_i)`` of random points (a lower bound) and against
  ``c min g`` (never below it);
* the whole joint bound (:func:`interval_lower_bounds_joint`) against the exact minimum of
  ``n MSE(s)`` over ``[s1, s2]`` (a NumPy reference written here: every breakpoint of the interval,
  its floating-point neighbours, and the closed-form minimizer of every quadratic piece between
  breakpoints, with ``math.fsum``), and against the bound without the envelope (never below it),
  through the exact-sum histogram and the fused (count, sum) histogram, float32 and float64.

Tolerances: the bounds subtract their own rounding bounds, so ``bound <= exact`` is checked with
``1e-12`` relative slack only for the reference's own rounding (<= 40 squares summed with
``fsum``, each to a few ulp); ``new >= old`` to ``1e-12`` relative (the two sum the same terms in
the same order, the new rounding term is at most a few ``eps`` larger per bin).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from quanttheory import Grid
from quanttheory.laws.atoms import scan
from quanttheory.risk._kernels import data as K
from quanttheory.risk.data import _tops
from quanttheory.risk.data_search import _Hist, _hist_bits


def _g(v, s1, s2, T):
    """Reference per-point bound: squared distance to {0} U [k s1, k s2], k = 1..T (NumPy)."""
    v = np.atleast_1d(np.asarray(v, dtype=np.float64))
    best = v * v
    for k in range(1, T + 1):
        d = np.maximum(np.maximum(k * s1 - v, v - k * s2), 0.0)
        best = np.minimum(best, d * d)
    return best


# ----------------------------------------------------------------------------- hand-derived bins
def test_convex_bin_two_points():
    # s1 = s2 = 1, T = 3, bin [1.25, 1.375): the nearest level is 1 on the whole bin, g(v) = (v-1)^2
    # (convex).  Points 1.26 and 1.30: sum g = 0.26^2 + 0.30^2 = 0.1576; Jensen: c g(mean) =
    # 2 * 0.28^2 = 0.1568; the old bound c min g = 2 * 0.25^2 = 0.125.
    v = np.array([1.26, 1.30])
    new = K._bin_bound(2.0, float(v.sum()), 1.25, 1.375, 1.0, 1.0, 3, 1)
    old = K._bin_bound(2.0, float(v.sum()), 1.25, 1.375, 1.0, 1.0, 3, 0)
    assert old == pytest.approx(0.125, rel=1e-15)
    assert new == pytest.approx(0.1568, rel=1e-12)
    assert new <= 0.1568


def test_bin_holding_one_gap_midpoint():
    # s1 = s2 = 1, T = 3, bin [1.25, 1.625) holds the midpoint 1.5 between levels 1 and 2 (a
    # "tent": g = (v-1)^2 left of 1.5, (2-v)^2 right of it).  g(lo) = 0.0625, g(hi) = 0.140625,
    # chord slope 0.078125 / 0.375 = 0.208333...; the chord is the envelope (g'(lo) = 0.5 >= slope
    # >= g'(hi) = -0.75).  Points 1.3, 1.6 (mean 1.45): c * chord(1.45) = 2 (0.0625 + 0.2083333 *
    # 0.2) = 0.2083333...; exact sum 0.09 + 0.16 = 0.25; old 2 * 0.0625 = 0.125.
    new = K._bin_bound(2.0, 2.9, 1.25, 1.625, 1.0, 1.0, 3, 1)
    old = K._bin_bound(2.0, 2.9, 1.25, 1.625, 1.0, 1.0, 3, 0)
    assert old == pytest.approx(0.125, rel=1e-15)
    assert new == pytest.approx(2 * (0.0625 + 0.078125 / 0.375 * 0.2), rel=1e-12)
    assert new <= 0.25


def test_bin_on_an_interval_of_scales():
    # s in [1, 1.01], T = 3: level sets [1, 1.01], [2, 2.02], [3, 3.03].  Bin [1.25, 1.625):
    # g(lo) = (1.25 - 1.01)^2 = 0.0576, g(hi) = (2 - 1.625)^2 = 0.140625, chord slope
    # (0.140625 - 0.0576) / 0.375 = 0.2214; g'(lo) = 0.48 >= 0.2214 >= g'(hi) = -0.75: the chord is
    # the envelope.  Points 1.3, 1.6: bound 2 (0.0576 + 0.2214 * 0.2) = 0.20376; exact sum
    # (1.3 - 1.01)^2 + (2 - 1.6)^2 = 0.0841 + 0.16 = 0.2441.
    new = K._bin_bound(2.0, 2.9, 1.25, 1.625, 1.0, 1.01, 3, 1)
    slope = (0.140625 - 0.0576) / 0.375
    assert new == pytest.approx(2 * (0.0576 + slope * 0.2), rel=1e-12)
    assert new <= 0.0841 + 0.16


def test_single_point_is_exact():
    # one point: Jensen is exact, c g_env(v) = g(v) when g is convex on the bin (v = 2.3, nearest
    # level 2, g = 0.09); inside a tent the envelope is below g (v = 1.5 in [1.25, 1.625):
    # chord at 1.5 = 0.0625 + 0.2083333 * 0.25 = 0.1145833 < g(1.5) = 0.25)
    assert K._bin_bound(1.0, 2.3, 2.25, 2.375, 1.0, 1.0, 3, 1) == pytest.approx(0.09, rel=1e-12)
    assert K._bin_bound(1.0, 1.5, 1.25, 1.625, 1.0, 1.0, 3, 1) == pytest.approx(0.0625 + 0.078125 / 0.375 * 0.25,
                                                                                rel=1e-12)


def test_clipped_top_and_zero():
    # beyond the top level (T = 2, s = 1): g(v) = (v - 2)^2 convex, points 3.1, 3.3: 2 * 1.2^2 = 2.88
    assert K._bin_bound(2.0, 6.4, 3.0, 3.5, 1.0, 1.0, 2, 1) == pytest.approx(2.88, rel=1e-12)
    # T = 0 (a side without levels): g(v) = v^2, points 0.2, 0.4: 2 * 0.3^2 = 0.18
    assert K._bin_bound(2.0, 0.6, 0.125, 0.5, 1.0, 1.0, 0, 1) == pytest.approx(0.18, rel=1e-12)


# ----------------------------------------------------------------------------- random bins
@settings(max_examples=150, deadline=None)
@given(lo=st.floats(0.01, 40.0), wrel=st.floats(1e-4, 0.6), s1=st.floats(0.05, 3.0), w=st.floats(0.0, 0.05),
       T=st.integers(0, 255), c=st.integers(1, 6), seed=st.integers(0, 2**31))
def test_bin_bound_between_min_and_exact_sum(lo, wrel, s1, w, T, c, seed):
    hi = lo * (1 + wrel)
    s2 = s1 * (1 + w)
    rng = np.random.default_rng(seed)
    kind = seed % 3
    if kind == 0:
        v = rng.uniform(lo, hi, c)
    elif kind == 1:  # points at the bin's ends (the envelope's worst case)
        v = np.where(rng.random(c) < 0.5, lo, np.nextafter(hi, 0))
    else:  # points near a gap midpoint inside the bin
        k = max(1, min(T, int((lo + hi) / 2 / s1)))
        mid = 0.5 * (k * s2 + (k + 1) * s1)
        v = np.clip(mid + (hi - lo) * 0.05 * rng.standard_normal(c), lo, np.nextafter(hi, 0))
    S = float(np.sum(v))  # sequential-order rounding is within the kernel's c eps S allowance
    exact = math.fsum(_g(v, s1, s2, T))
    new = K._bin_bound(float(c), S, lo, hi, s1, s2, T, 1)
    old = K._bin_bound(float(c), S, lo, hi, s1, s2, T, 0)
    assert new <= exact * (1 + 1e-12) + 1e-300
    assert new >= old
    # the old bound is c min g (reference: min over a fine grid of the bin plus its ends, an
    # upper bound of the minimum)
    grid_min = float(np.min(_g(np.linspace(lo, hi, 2001), s1, s2, T)))
    assert old <= c * grid_min * (1 + 1e-12) + 1e-300


# ----------------------------------------------------------------------------- whole joint bound
def _exact_min_on(x, Tp, Tn, a, b):
    """Exact minimum of n MSE(s) over [a, b] (NumPy reference, independent of the kernels): every
    breakpoint in the interval and its neighbours, and each quadratic piece's closed-form minimizer."""
    v = np.abs(x.astype(np.float64))
    T = np.where(x >= 0, Tp, Tn)

    def F(s):
        q = np.minimum(np.rint(v / s), T)
        return math.fsum((v - s * q) ** 2)

    kmax = max(Tp, Tn, 1)
    k = np.arange(1, kmax + 1)
    bp = (v[:, None] / (k[None, :] - 0.5))[k[None, :] <= T[:, None]]
    bp = np.sort(bp[(bp > a) & (bp < b)])
    edges = np.concatenate(([a], bp, [b]))
    cands = list(edges) + list(np.nextafter(bp, 0)) + list(np.nextafter(bp, np.inf))
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = 0.5 * (lo + hi)
        q = np.minimum(np.rint(v / m), T)
        den = float(np.sum(q * q))
        if den > 0:
            cands.append(min(max(float(np.sum(q * v)) / den, lo), hi))
    return min(F(s) for s in cands if a <= s <= b)


def _joint(x, g, s1, s2, fused):
    Tp, Tn = _tops(g)
    bits = _hist_bits(Tp, Tn)
    if fused:
        H = _Hist.fused(x, bits)[0]
    else:
        H = _Hist(x, scan(x), bits)
    s1, s2 = np.atleast_1d(np.asarray(s1, float)), np.atleast_1d(np.asarray(s2, float))
    return H.interval_lb_joint(s1, s2, Tp, Tn, 0.0), H.interval_lb_joint(s1, s2, Tp, Tn, 1.0)


@settings(max_examples=60, deadline=None)
@given(xs=st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=1, max_size=25),
       bits=st.integers(1, 8), signed=st.booleans(), at=st.floats(0.3, 3.0), w=st.floats(1e-7, 1e-2),
       dt=st.sampled_from(["float32", "float64"]), fused=st.booleans())
def test_joint_envelope_bound_property(xs, bits, signed, at, w, dt, fused):
    x = np.array(xs, dtype=dt)
    if not np.any(x != 0):
        return
    g = Grid(bits, signed)
    Tp, Tn = _tops(g)
    # scales around the data's natural scale (max |x| / T), where the regions cross the bins
    s1 = at * float(np.max(np.abs(x.astype(np.float64)))) / max(Tp, Tn, 1)
    s2 = s1 * (1 + w)
    old, new = _joint(x, g, s1, s2, fused)
    ref = _exact_min_on(x, Tp, Tn, s1, s2)
    assert new[0] <= ref * (1 + 1e-12) + 1e-300
    assert new[0] >= old[0] - 1e-12 * abs(old[0])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("bits", [6, 8])
def test_joint_envelope_normal_data(dt, bits):
    """Normal data, 2000 values, narrow intervals around the optimum (where the envelope matters):
    the new bound is below the exact minimum of each interval, never below the old one, and
    strictly tighter on most intervals."""
    rng = np.random.default_rng(20 + bits + (dt == np.float32))
    x = rng.standard_normal(2000).astype(dt)
    g = Grid(bits)
    Tp, Tn = _tops(g)
    s_ref = 2.0 * 3.3 / (2**bits - 1)
    s1 = s_ref * (1 + 0.02 * np.linspace(-1, 1, 9))
    for fused in (False, True):
        for w in (1e-5, 1e-4):
            s2 = s1 * (1 + w)
            old, new = _joint(x, g, s1, s2, fused)
            ref = np.array([_exact_min_on(x, Tp, Tn, a, b) for a, b in zip(s1, s2)])
            assert np.all(new <= ref * (1 + 1e-12))
            assert np.all(new >= old - 1e-12 * np.abs(old))
            assert np.mean(new > old) > 0.5


# ----------------------------------------------------------------------------- search (7-8 bits)
def test_interior_intervals_hand_example():
    # 20 adjacent intervals of relative width 1e-4 from s = 1, then a gap of 1 % and 3 more: with
    # k = 6 only positions 6..13 of the first cluster have 6 intervals on both sides; the second
    # cluster is too short; a wide interval is never interior
    from quanttheory.risk.data_search import _interior

    e = 1.0 * (1 + 1e-4) ** np.arange(21)
    s1 = np.concatenate((e[:-1], 1.02 * e[:3]))
    s2 = np.concatenate((e[1:], 1.02 * e[1:4]))
    perm = np.random.default_rng(0).permutation(s1.size)  # order of the input does not matter
    got = _interior(s1[perm], s2[perm], 2.0**-10, 6)
    want = np.zeros(s1.size, dtype=bool)
    want[6:14] = True
    assert np.array_equal(got, want[perm])
    assert not _interior(s1, s2, 1e-5, 6).any()  # intervals wider than rtol


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("bits", [7, 8])
def test_search_with_envelope_and_hull_same_optimum(monkeypatch, dt, bits):
    """The 7-8 bit search (envelope bound, bisection to 2^-14, only the clusters' ends refined,
    n/4 straddler buffer) against the search without them (ENV_BOUND = HULL_RTOL = 0) and an
    independent NumPy evaluation: the same optimum (MSE within 1e-12 relative; both sums of
    squares are rounded to ~1e-14), and no scale of a dense scan around it is better."""
    import quanttheory.risk.data_search as D
    from quanttheory.risk.data import optimal_scale_data

    rng = np.random.default_rng(bits + 10 * (dt == np.float32))
    x = rng.standard_normal(70000).astype(dt)  # above FUSED_MIN: the fused histogram path
    g = Grid(bits)
    Tp, Tn = _tops(g)
    monkeypatch.setattr(D, "STOP_RTOL", 2.0**-14)
    new = optimal_scale_data(x, g)
    monkeypatch.setattr(D, "ENV_BOUND", 0.0)
    monkeypatch.setattr(D, "HULL_RTOL", 0.0)
    monkeypatch.setattr(D, "STRADDLER_PER_N_HIGH", 16)
    old = optimal_scale_data(x, g)
    m_new, m_old = new.extra["mse"], old.extra["mse"]
    assert abs(m_new - m_old) <= 1e-12 * m_old
    assert abs(new.scale - old.scale) <= new.scale_error + old.scale_error
    v = np.abs(x.astype(np.float64))
    T = np.where(x >= 0, Tp, Tn)

    def F(s):
        return math.fsum((v - s * np.minimum(np.rint(v / s), T)) ** 2) / v.size

    assert F(new.scale) == pytest.approx(m_new, rel=1e-12)
    for s in new.scale * (1 + np.linspace(-0.02, 0.02, 81)):
        assert F(s) >= m_new * (1 - 1e-12)


def test_tiny_interval_scale_huge_quotients():
    # s1 = 1e-300: every bin lies far beyond the top level (quotients ~1e300, no integer overflow):
    # g(v) = (v - T s2)^2 ~ v^2, convex; points 1.1 and 1.2 (T = 3): 2 * 1.15^2 = 2.645 (to the
    # 1e-300 shift of the levels)
    got = K._bin_bound(2.0, 2.3, 1.0, 1.25, 1e-300, 1e-300, 3, 1)
    assert got == pytest.approx(2.645, rel=1e-12)


def test_kernel_default_is_the_bound_without_envelope():
    # callers that do not pass ``env`` (default 0.0) get the fifth-round bound, bit for bit
    x = np.random.default_rng(3).standard_normal(3000)
    H = _Hist(x, scan(x), _hist_bits(127, 128))
    s1 = 0.0307 * (1 + 1e-4 * np.arange(6))
    s2 = s1 * (1 + 1e-5)
    a, b, c = np.empty(6), np.empty(6), np.empty(6)
    K.interval_lower_bounds_joint(s1, s2, H.h, H.nb, H.e_lo, H.m, H.P0, H.P1, 127, 128, a)
    K.interval_lower_bounds_joint(s1, s2, H.h, H.nb, H.e_lo, H.m, H.P0, H.P1, 127, 128, b, 0.0)
    K.interval_lower_bounds_joint(s1, s2, H.h, H.nb, H.e_lo, H.m, H.P0, H.P1, 127, 128, c, 1.0)
    assert np.array_equal(a, b)
    assert np.all(c >= b)
