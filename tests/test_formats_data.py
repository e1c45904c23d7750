"""Exact optimal scale of data for any format (quanttheory.risk.format_data).

References (independent of the code under test):
* ``exact_rational``: every breakpoint ``x_i / m_j`` in exact rational arithmetic (fractions), nearest
  level by exhaustive comparison, exact quadratic minimum on every piece (small inputs);
* ``brute_float``: the same enumeration in float64 with ``argmin |u - levels|`` (medium inputs);
* a dense scan of MSE(s) with ml_dtypes casts for the FP8/FP6/FP4 formats;
* the integer-grid engine :func:`quanttheory.risk.data.optimal_scale_data` for int grids.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction as Fr

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import quanttheory.risk.format_data as D
from quanttheory.risk.data import optimal_scale_data
from quanttheory.formats import get_format, levelset
from quanttheory.formats.grid import Grid

PI2 = math.pi**2


def exact_rational(x, fmt):
    """(min MSE, argmin) as Fractions: all breakpoints, exact nearest level, exact piece minima."""
    lv = [Fr(float(a)) for a in fmt.levels]
    mids = [(a + b) / 2 for a, b in zip(lv[:-1], lv[1:])]
    X = [Fr(float(v)) for v in x]
    bps = sorted({xi / m for xi in X for m in mids if m != 0 and xi / m > 0})
    if not bps:
        bps = [Fr(1)]
    edges = [Fr(0)] + bps + [None]

    def nearest(u):
        return min(lv, key=lambda l: abs(u - l))

    C0 = sum(xi * xi for xi in X)
    best = None
    for a, b in zip(edges[:-1], edges[1:]):
        sm = (a + b) / 2 if b is not None else 2 * a
        q = [nearest(xi / sm) for xi in X]
        C2 = sum(c * c for c in q)
        C1 = sum(xi * c for xi, c in zip(X, q))
        s = max(C1 / C2, a) if C2 > 0 else a
        if b is not None:
            s = min(s, b)
        if s == 0:
            continue
        f = (C0 - 2 * s * C1 + s * s * C2) / len(X)
        if best is None or f < best[0]:
            best = (f, s)
    return best


def brute_float(x, fmt):
    x = np.asarray(x, dtype=float)
    m = fmt.midpoints
    bps = np.concatenate([x[x > 0] / mj for mj in m[m > 0]] + [x[x < 0] / mj for mj in m[m < 0]])
    bps = np.unique(bps[bps > 0])
    edges = np.concatenate(([bps[0] / 2], bps, [bps[-1] * 2]))
    pieces = np.concatenate(([0.0], edges)), np.concatenate((edges, [np.inf]))
    best = (math.inf, None)
    for a, b in zip(*pieces):
        sm = 0.5 * (a + b) if np.isfinite(b) else 2 * a
        q = fmt.levels[np.argmin(np.abs(x[:, None] / sm - fmt.levels[None, :]), axis=1)]
        c2, c1 = float(np.sum(q * q)), float(np.sum(x * q))
        s = min(max(c1 / c2, a), b) if c2 > 0 else a
        if s <= 0:
            continue
        f = float(np.mean((x - s * q) ** 2))
        if f < best[0]:
            best = (f, s)
    return best


FORMATS = ["e2m1", "nf4", "e2m3", "e3m2", "int4n", "int3", "uint3"]


@settings(max_examples=25)
@example("e2m3", [1.0, 0.80078125])  # found by a random run: x - s*q rounded in float64 lost 2.3e-13
@given(st.sampled_from(FORMATS + ["midrise", "asym"]),
       st.lists(st.floats(-50, 50, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-3), min_size=1, max_size=9))
def test_matches_exact_rational(name, xs):
    fmt = {"midrise": levelset([-1.5, -0.5, 0.5, 1.5], require_zero=False),
           "asym": levelset([-1.0, 0.0, 0.25, 0.5, 2.0, 7.0])}.get(name) or get_format(name)
    x = np.array(xs)
    try:
        r = D.optimal_scale_format_data(x, fmt)
    except ValueError as exc:  # only the documented degenerate cases
        assert "no level of the sign" in str(exc) or "all zeros" in str(exc)
        return
    if r.extra.get("degenerate"):
        assert np.all(x == 0) and r.mse == 0
        return
    f, s = exact_rational(x, fmt)
    f = float(f)
    assert abs(r.mse - f) <= 1e-13 * f + 1e-300
    assert r.risk_lower_bound <= PI2 * f * (1 + 1e-13) + 1e-300
    # the reported scale attains the minimum (it may be another of several equal minimizers)
    assert D.format_data_mse(x, r.scale, fmt) <= f * (1 + 1e-12) + 1e-300


@pytest.mark.parametrize("name", ["e2m1", "nf4", "e3m2", "int4n"])
@pytest.mark.parametrize("kind", ["normal", "laplace", "relu"])
def test_branch_and_bound_vs_brute_float(monkeypatch, name, kind):
    # tiny EVENTS_STOP / CLUSTER_EVENTS / SWEEP_MAX: bisection, pruning, clustering and splitting all run
    monkeypatch.setattr(D, "EVENTS_STOP", 8)
    monkeypatch.setattr(D, "CLUSTER_EVENTS", 64)
    monkeypatch.setattr(D, "SWEEP_MAX", 256)
    rng = np.random.default_rng([FORMATS.index(name), ["normal", "laplace", "relu"].index(kind)])
    m = 150 if name == "e3m2" else 400  # the float brute force costs n^2 K^2
    x = {"normal": rng.normal(size=m), "laplace": rng.laplace(size=m),
         "relu": np.maximum(rng.normal(size=m), 0)}[kind]
    fmt = get_format(name)
    r = D.optimal_scale_format_data(x, fmt)
    f, s = brute_float(x, fmt)
    assert r.mse == pytest.approx(f, rel=1e-12)
    assert r.risk_lower_bound <= PI2 * f * (1 + 1e-12)


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "e2m3", "e3m2", "e2m1"])
def test_dense_scan_with_ml_dtypes_casts(name):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    T = {"e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2", "e2m3": "float6_e2m3fn", "e3m2": "float6_e3m2fn",
         "e2m1": "float4_e2m1fn"}[name]
    T = getattr(ml_dtypes, T)
    mx = float(ml_dtypes.finfo(T).max)
    rng = np.random.default_rng(7)
    x = rng.standard_t(4, size=3000).astype(np.float32)
    fmt = get_format(name)
    r = D.optimal_scale_format_data(x, fmt)
    xd = x.astype(np.float64)

    def mse_cast(s):  # float32 x / s, cast through ml_dtypes: the toolkit computation
        u = (xd / s).astype(np.float32)
        q = np.clip(u, -mx, mx).astype(T).astype(np.float64)
        return float(np.mean((xd - s * q) ** 2))

    amax = float(np.max(np.abs(xd)))
    scan = amax / mx * np.exp(np.linspace(math.log(0.25), math.log(1.5), 1500))
    vals = np.array([mse_cast(s) for s in scan])
    assert vals.min() >= r.mse * (1 - 1e-9)
    assert mse_cast(r.scale) == pytest.approx(r.mse, rel=1e-9)
    assert r.amax_mse == pytest.approx(mse_cast(amax / mx), rel=1e-12) and r.amax_mse >= r.mse
    assert r.risk_lower_bound <= r.risk and r.risk_lower_bound >= r.risk * (1 - 1e-6)


def test_octave_equal_minima_by_hand():
    # x = 1, 1.5, 2, 3 is exactly representable in E2M1 at s = 1 and at s = 0.5 (2, 3, 4, 6), at no other
    # scale in between: both are global minimizers with MSE 0 and the near-optimal set holds both
    r = D.optimal_scale_format_data(np.array([1.0, 1.5, 2.0, 3.0]), "e2m1")
    assert r.mse == 0.0
    assert sorted(r.near_optimal_scales) == [0.5, 1.0]
    assert r.near_optimal_mse == (0.0, 0.0)


def test_single_value_by_hand():
    # one value x = 5 on NF4 (top level 1): s = 5 puts it exactly on the top level; MSE 0
    r = D.optimal_scale_format_data([5.0], "nf4")
    assert r.mse == 0.0 and 5.0 in r.near_optimal_scales
    # midrise levels +-0.5, +-1.5 and x = (1, 3): s = 2 maps to 0.5, 1.5 exactly
    r = D.optimal_scale_format_data([1.0, 3.0], levelset([-1.5, -0.5, 0.5, 1.5], require_zero=False))
    assert r.mse == 0.0 and r.scale == 2.0


@pytest.mark.parametrize("bits,signed", [(2, True), (4, True), (3, False), (8, True)])
def test_integer_format_equals_integer_engine(bits, signed):
    rng = np.random.default_rng(bits)
    x = rng.normal(size=2000) + (0 if signed else 1.0)
    a = D.optimal_scale_format_data(x, Grid(bits, signed))
    b = optimal_scale_data(x, Grid(bits, signed))
    assert a.mse == pytest.approx(b.extra["mse"], rel=1e-12)
    assert a.scale == pytest.approx(b.scale, rel=1e-9)


def test_per_channel_equals_per_slice():
    rng = np.random.default_rng(3)
    W = rng.normal(size=(5, 300)) * np.array([1, 2, 0.5, 10, 3])[:, None]
    r = D.optimal_scale_format_data(W, "nf4", axis=0)
    assert r.scale.shape == (5,) and len(r.near_optimal_scales) == 5
    for i in range(5):
        ri = D.optimal_scale_format_data(W[i], "nf4")
        assert r.scale[i] == ri.scale and r.mse[i] == ri.mse
    rT = D.optimal_scale_format_data(W.T.copy(), "nf4", axis=1)
    np.testing.assert_array_equal(rT.scale, r.scale)


def test_bad_inputs():
    with pytest.raises(ValueError, match="non-finite"):
        D.optimal_scale_format_data([1.0, np.nan], "e4m3")
    with pytest.raises(ValueError, match="empty"):
        D.optimal_scale_format_data([], "e4m3")
    with pytest.raises(ValueError, match="unknown format"):
        D.optimal_scale_format_data([1.0], "e9m9")
    with pytest.raises(ValueError, match="no level of the sign"):
        D.optimal_scale_format_data([1.0, 2.0], levelset([-2.0, -1.0, 0.0]))
    with pytest.raises(ValueError, match="no level of the sign"):
        D.optimal_scale_format_data([-1.0, -2.0], "uint4")
    with pytest.raises(ValueError, match="no zero level"):
        D.optimal_scale_format_data([0.0, 0.0], levelset([-1.5, -0.5, 0.5, 1.5], require_zero=False))
    with pytest.raises(ValueError, match="rtol"):
        D.optimal_scale_format_data([1.0], "nf4", rtol=-1)
    with pytest.raises(TypeError, match="axis"):
        D.optimal_scale_format_data([[1.0]], "nf4", axis=0.5)
    with pytest.raises(ValueError, match="out of range"):
        D.optimal_scale_format_data([[1.0]], "nf4", axis=2)
    with pytest.raises(TypeError, match="complex"):
        D.optimal_scale_format_data(np.array([1j]), "nf4")


def test_degenerate_all_zero_and_strict_json():
    r = D.optimal_scale_format_data(np.zeros(5), "e4m3")
    assert r.extra["degenerate"] and r.mse == 0.0 and r.scale == 1.0 and r.scale_error == math.inf
    d = r.as_dict()
    s = json.dumps(d, allow_nan=False)

    def bad(c):
        raise ValueError(c)

    json.loads(s, parse_constant=bad)
    assert d["scale_error"] is None
    r2 = D.optimal_scale_format_data(np.random.default_rng(0).normal(size=(3, 50)), "e2m1", axis=1)
    json.loads(json.dumps(r2.as_dict(), allow_nan=False), parse_constant=bad)


def test_format_mse_matches_numpy():
    rng = np.random.default_rng(11)
    x = rng.normal(size=500)
    fmt = get_format("nf4")
    s = np.array([0.5, 1.0, 2.7])
    ref = [np.mean((x - si * fmt.levels[np.argmin(np.abs(x[:, None] / si - fmt.levels), axis=1)]) ** 2) for si in s]
    np.testing.assert_allclose(D.format_data_mse(x, s, fmt), ref, rtol=1e-14)
    assert isinstance(D.format_data_mse(x, 1.0, fmt), float)


@pytest.mark.parametrize("name", ["e4m3", "nf4", "int4n", "e2m1"])
def test_bounds_valid_and_kernels_match_reference(name):
    """Lower bounds never exceed MSE anywhere in their interval (dense check), upper values are exact,
    and the numba kernels agree with the numpy/longdouble reference implementation."""
    fmt = get_format(name)
    rng = np.random.default_rng(5)
    x = rng.laplace(size=700)
    side = D._sides_of(x, fmt)[0]
    s_star = D.optimal_scale_format_data(x, fmt).scale
    s1 = s_star * np.exp(rng.uniform(-0.3, 0.3, 40))
    s2 = s1 * np.exp(rng.uniform(1e-4, 0.05, 40))
    lb_k = side.k_lower_bound(s1, s2)
    lb_np = side.lower_bound_fixed(s1, s2)
    both = ~np.isnan(lb_np)
    assert both.sum() > 10
    np.testing.assert_allclose(lb_k[both], lb_np[both], rtol=1e-10, atol=1e-13 * np.sum(side.v ** 2 * side.cnt))
    v = side.v[np.repeat(np.arange(side.nu), side.cnt.astype(int))]
    lv_pos = fmt.levels

    def side_sse(s):  # this side's values only: x >= 0, exhaustive nearest level
        return float(np.sum(np.min((v[:, None] - s * lv_pos[None, :]) ** 2, axis=1)))

    for a, b, lk, ld in zip(s1, s2, lb_k, side.lower_bound(s1, s2)):
        dense = min(side_sse(s) for s in np.linspace(a, b, 60))
        assert lk <= dense * (1 + 1e-12) and ld <= dense * (1 + 1e-12)
    val_k, _ = side.k_value(s1)
    val_np, _ = side.value(s1)
    np.testing.assert_allclose(val_k, val_np, rtol=1e-12)
    np.testing.assert_allclose(val_k, [side_sse(s) for s in s1], rtol=1e-12)
    np.testing.assert_array_equal(side.k_events(s1, s2), side.events_count(s1, s2))


def test_reference_path_without_kernels(monkeypatch):
    monkeypatch.setattr(D, "USE_KERNELS", False)
    rng = np.random.default_rng(9)
    x = rng.normal(size=500)
    r = D.optimal_scale_format_data(x, "e3m2")
    monkeypatch.setattr(D, "USE_KERNELS", True)
    r2 = D.optimal_scale_format_data(x, "e3m2")
    assert r.mse == pytest.approx(r2.mse, rel=1e-14) and r.scale == pytest.approx(r2.scale, rel=1e-12)


def test_coarse_index_search_equals_searchsorted():
    # _find_right (local probes, then the coarse index v[::64] and one block) == searchsorted
    # 'right' for every query x and every admissible start lo (v[lo-1] <= x), incl. duplicates,
    # queries outside the range and arrays shorter than one coarse block
    from quanttheory.risk._kernels.format_data import COARSE, _find_right

    rng = np.random.default_rng(11)
    for n in [1, 2, 63, 64, 65, 1000, 20000]:
        v = np.sort(np.round(rng.exponential(size=n), 2 if n > 100 else 6))
        vc = np.ascontiguousarray(v[::COARSE])
        xs = np.concatenate([v, v - 1e-9, v + 1e-9, rng.uniform(-1, v[-1] + 1, 200)])
        for x in xs:
            want = int(np.searchsorted(v, x, side="right"))
            for lo in {0, want // 3, max(want - 1, 0), want, max(want - 40, 0), max(want - 5000, 0)}:
                if lo > want:
                    continue
                assert _find_right(v, vc, x, lo) == want, (n, x, lo)


def test_distinct_prefix_double_double_against_fractions():
    # the fused numba pass (distinct values, counts, double-double prefix sums) vs exact rationals:
    # each prefix within (4 i + 2) u^2 of the exact sum (u = 2^-53), far inside the engine's gamma
    from fractions import Fraction

    from quanttheory.risk._kernels.format_data import distinct_prefix

    rng = np.random.default_rng(21)
    v = np.sort(np.concatenate([rng.lognormal(0, 3, 300), np.round(rng.exponential(size=200), 2), [0.0, 0.0]]))
    n = v.size
    vu, W = np.empty(n), np.empty((n + 1, 5))
    nu = distinct_prefix(v, vu, W)
    P0, H1, L1, H2, L2 = (W[:, k] for k in range(5))
    u_vals, cnt = np.unique(v, return_counts=True)
    assert nu == u_vals.size and np.array_equal(vu[:nu], u_vals)
    np.testing.assert_array_equal(P0[:nu + 1], np.concatenate(([0], np.cumsum(cnt))))
    e1 = e2 = Fraction(0)
    for i in range(nu):
        e1 += int(cnt[i]) * Fraction(float(u_vals[i]))
        e2 += int(cnt[i]) * Fraction(float(u_vals[i])) ** 2
        for H, L, e in ((H1, L1, e1), (H2, L2, e2)):
            got = Fraction(float(H[i + 1])) + Fraction(float(L[i + 1]))
            assert abs(got - e) <= (4 * (i + 1) + 2) * Fraction(1, 2**106) * e


@pytest.mark.parametrize("name", ["e4m3", "nf4", "e2m1"])
def test_direct_pass_kernels_match_quantize(name):
    # the optimum's direct passes (numba: over x, and over each side's sorted distinct values) vs the
    # numpy pass with Format.quantize_index (ties to even; at a tie both levels give the same error)
    fmt = get_format(name)
    rng = np.random.default_rng(4)
    x = np.concatenate([rng.standard_t(3, size=3000), fmt.levels * 0.37, fmt.midpoints * 0.37])
    sides = D._sides_of(x, fmt)
    for s in [1e-3, 0.37, 0.5, 2.0, 40.0]:
        ref = np.mean((x - s * fmt.levels[fmt.quantize_index(x / s)]) ** 2)
        assert D._mse_sides(sides, [s], x.size)[0] == pytest.approx(ref, rel=1e-13)
        assert D._mse_direct(x, [s], fmt)[0] == pytest.approx(ref, rel=1e-13)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["e4m3", "e2m1", "nf4", "user"]), st.sampled_from([np.float32, np.float64]),
       st.lists(st.floats(-300, 300, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-4),
                min_size=2, max_size=25),
       st.booleans())
def test_fast_engine_vs_brute_force_all_breakpoints(name, dtype, xs, force):
    """Global optimum vs the float64 enumeration of every breakpoint x_i / m_j (each piece minimized
    exactly), for float32 and float64 input; ``force``: tiny search thresholds and 2 upper-bound probes
    per level, so bisection, pruning, clustering and splitting all run on these small inputs.
    Tolerance 1e-12 relative: both sides are float64 sums of <= 25 terms."""
    fmt = levelset([-5.0, -2.0, -0.75, 0.0, 0.3, 1.0, 4.0]) if name == "user" else get_format(name)
    x = np.array(xs, dtype=dtype)
    if not np.any(x != 0):
        return
    import contextlib

    with pytest.MonkeyPatch.context() if force else contextlib.nullcontext() as mp:
        if force:
            mp.setattr(D, "EVENTS_STOP", 4)
            mp.setattr(D, "CLUSTER_EVENTS", 8)
            mp.setattr(D, "SWEEP_MAX", 16)
            mp.setattr(D, "UB_PROBES", 2)
        try:
            r = D.optimal_scale_format_data(x, fmt)
        except ValueError as exc:
            assert "no level of the sign" in str(exc)
            return
    f, _ = brute_float(x.astype(np.float64), fmt)
    assert r.mse == pytest.approx(f, rel=1e-12, abs=1e-300)
    assert r.risk_lower_bound <= PI2 * f * (1 + 1e-12)
    assert D.format_data_mse(x, r.scale, fmt) <= f * (1 + 1e-12)


# --------------------------------------------------------------------------- batched rows (per-channel)
def _rows_cases(rng, n):
    mag = 10.0 ** rng.uniform(-3, 3)
    W = rng.standard_t(3, size=(7, n)) * mag
    W[1] = (np.round(rng.normal(size=n) * 3) + 0.5) * mag  # many duplicates
    W[2, : n // 2] = 0.0  # zeros beside other values
    W[3] = np.abs(W[3])  # one-signed rows
    W[4] = -np.abs(W[4])
    W[5] = 0.0  # all-zero row: degenerate, solved by the single-array engine
    return W


@pytest.mark.parametrize("name", ["e4m3", "e5m2", "e2m3", "e2m1", "nf4", "int4n", "user", "midrise"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("octave", [True, False])
def test_rows_kernel_equals_per_row_path(monkeypatch, name, dtype, octave):
    """The batched row kernel against the single-array engine run channel by channel
    (``USE_ROWS = False``): the same scale and MSE bit for bit (both polish the best candidates to
    the exact vertex of their piece and take the direct pass with the same operations), the same
    amax MSE, and a valid certificate: ``lower <= risk`` and not looser than 1e-6 relative
    up to 1e-10 of the mean square (the two engines' rounding allowances differ: float64 with error
    terms vs extended precision).  Near-optimal sets: with the octave cut of doubling-closed formats
    (``ROW_OCTAVE``) the batched set is a subset (the octave copies above twice the no-clipping
    scale are not searched); without it, the same set (up to the last bits of the scales that were
    not re-evaluated)."""
    monkeypatch.setattr(D, "ROW_OCTAVE", octave)
    fmt = {"user": levelset([-5.0, -2.0, -0.75, 0.0, 0.3, 1.0, 4.0]),
           "midrise": levelset([-1.5, -0.5, 0.5, 1.5], require_zero=False)}.get(name) or get_format(name)
    rng = np.random.default_rng(7)
    W = _rows_cases(rng, 41).astype(dtype)
    if name == "midrise":  # no zero level: an all-zero row has no optimum
        W[5] = 1.0
    r = D.optimal_scale_format_data(W, fmt, axis=0)
    assert r.method.startswith("per-channel") and "batched rows" in r.method
    monkeypatch.setattr(D, "USE_ROWS", False)
    ref = D.optimal_scale_format_data(W, fmt, axis=0)
    assert "batched" not in ref.method
    np.testing.assert_array_equal(r.scale, ref.scale)
    np.testing.assert_array_equal(r.mse, ref.mse)
    np.testing.assert_array_equal(r.amax_mse, ref.amax_mse)
    np.testing.assert_array_equal(r.amax_scale, ref.amax_scale)
    assert np.all(r.risk_lower_bound <= r.risk)
    # (rounding allowances scale with the data's mean square: absolute slack 1e-10 of it)
    ms = PI2 * np.mean(W.astype(np.float64) ** 2, axis=1)
    assert np.all(r.risk_lower_bound >= ref.risk * (1 - 1e-6) - 1e-10 * ms)
    for a, b in zip(r.near_optimal_scales, ref.near_optimal_scales):
        assert a[0] == b[0]
        if octave and D._doubling_closed(fmt.levels):
            assert all(np.min(np.abs(np.array(b) / sa - 1)) <= 1e-12 for sa in a)
        else:
            assert len(a) == len(b)
            np.testing.assert_allclose(sorted(a), sorted(b), rtol=1e-12)
    for a, b in zip(r.near_optimal_mse, ref.near_optimal_mse):
        assert a[0] == b[0]
    # every row's MSE is the direct MSE at its scale
    for i in range(W.shape[0]):
        assert D.format_data_mse(W[i], r.scale[i], fmt) == pytest.approx(r.mse[i], rel=1e-13, abs=1e-300)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["e4m3", "e2m1", "nf4", "int3", "user"]), st.sampled_from([np.float32, np.float64]),
       st.integers(1, 9),
       st.lists(st.floats(-300, 300, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-4),
                min_size=3, max_size=27))
def test_rows_kernel_vs_brute_force(name, dtype, n, xs):
    """Each row's optimum vs the float64 enumeration of every breakpoint (``brute_float``; every piece
    minimized exactly).  Tolerance 1e-12 relative: float64 sums of <= 9 terms on both sides."""
    fmt = levelset([-5.0, -2.0, -0.75, 0.0, 0.3, 1.0, 4.0]) if name == "user" else get_format(name)
    m = len(xs) // n
    if m == 0:
        return
    W = np.array(xs[: m * n], dtype=dtype).reshape(m, n)
    try:
        r = D.optimal_scale_format_data(W, fmt, axis=0)
    except ValueError as exc:  # a one-signed row and a format without levels of that sign
        assert "no level of the sign" in str(exc)
        return
    for i in range(m):
        x = W[i].astype(np.float64)
        if not np.any(x != 0):
            assert r.mse[i] == 0.0
            continue
        f, _ = brute_float(x, fmt)
        assert r.mse[i] == pytest.approx(f, rel=1e-12, abs=1e-300)
        assert r.risk_lower_bound[i] <= PI2 * f * (1 + 1e-12)
        assert D.format_data_mse(x, r.scale[i], fmt) <= f * (1 + 1e-12) + 1e-300


def test_doubling_closed_formats_and_octave_monotonicity():
    """``SSE(2t) >= SSE(t)`` once no value clips, for the doubling-closed formats (by hand: e2m1 levels
    0, .5, 1, 1.5, 2, 3, 4, 6 are closed under doubling inside [-6, 6]; NF4's are not), checked on a
    grid of t against the direct MSE."""
    assert D._doubling_closed(get_format("e2m1").levels) and D._doubling_closed(get_format("e4m3").levels)
    assert D._doubling_closed(get_format("int4n").levels) and not D._doubling_closed(get_format("nf4").levels)
    assert not D._doubling_closed(np.array([-1.0, 0.0, 0.3, 1.0]))
    rng = np.random.default_rng(5)
    x = rng.standard_t(3, size=200)
    for name in ["e2m1", "e4m3", "int4n"]:
        fmt = get_format(name)
        t = np.max(np.abs(x)) / fmt.level_max * np.geomspace(1, 8, 97)
        m1 = D.format_data_mse(x, t, fmt)
        m2 = D.format_data_mse(x, 2 * t, fmt)
        assert np.all(m2 >= m1 * (1 - 1e-14))


def test_rows_bad_channel_named():
    W = np.ones((3, 4))
    W[2, 1] = np.nan
    with pytest.raises(ValueError, match="channel 2"):
        D.optimal_scale_format_data(W, "e4m3", axis=0)
    with pytest.raises(ValueError, match="no level of the sign"):
        D.optimal_scale_format_data(np.array([[1.0, 2.0], [-1.0, -2.0]]), "uint3", axis=0)


@pytest.mark.parametrize("rel", [1e-4, 1e-8, 1e-12])
def test_direct_mse_small_residuals(rel):
    # Residuals tiny against |x|: x = s q (1 + rel d) with q on the e2m1 grid.  The exact MSE at s
    # (Fractions) is ~rel^2 |x|^2; float64 x - s*q would lose log10(1/rel) digits, the compensated
    # residual keeps ~1e-15 relative.
    fmt = get_format("e2m1")
    rng = np.random.default_rng(7)
    q = rng.choice(fmt.levels[fmt.levels != 0], size=64)
    s = 0.37
    x = s * q * (1 + rel * rng.uniform(-0.4, 0.4, size=64))
    exact = sum((Fr(float(v)) - Fr(s) * Fr(float(fmt.levels[np.argmin(abs(v / s - fmt.levels))]))) ** 2
                for v in x) / len(x)
    got = D.format_data_mse(x, s, fmt)
    assert abs(got - float(exact)) <= 1e-14 * float(exact)
