"""The vectorized pieces of the rows kernel (risk/_kernels/direct.py, 2026-11-30 second morning):
``_sq_err_fast`` and ``_window_sums_fast`` (reductions compiled with fastmath reassoc: only the
order of the additions may change) against exactly rounded sums (``math.fsum``) within the
sequential-sum bound ``4 eps (n + 16)`` of the terms' magnitudes; ``_sweep_window_fast`` against
``_sweep_window`` and against the enumeration of every breakpoint and piece vertex of the window;
the far-interval block bounds of ``exact_rows_window`` (``_row_bounds`` over ``[A0, hi]`` and
``[lo, B0]``) never above the enumerated minimum of F over those wide intervals."""

import math

import numpy as np
import pytest

from quanttheory.risk._kernels import direct as D

from test_data_rows_bucket_bounds import _F, _true_min  # noqa: E402  (the enumeration reference)
from test_data_rows_joint import KINDS, _hist_args, _row, _tops  # noqa: E402

EPS = 2.0**-52


def _bufs(cap):
    return (np.empty(cap), np.empty(cap), np.empty(cap), np.empty(cap + 1), np.empty(cap + 1),
            np.empty(cap + 1))


def _k(x, s, Tp, Tn):
    v = np.abs(x.astype(np.float64))
    T = np.where(x >= 0, Tp, Tn).astype(float)
    return v, T, np.minimum(np.rint(v / s), T)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_sums_are_exactly_rounded_sums_up_to_order(dtype):
    rng = np.random.default_rng(3)
    for bits, signed in ((2, True), (4, False), (8, True)):
        Tp, Tn = _tops(bits, signed)
        for kind in KINDS:
            x = _row(kind, 5003, rng).astype(dtype)
            v = np.abs(x.astype(np.float64))
            vmax = float(v.max())
            A = 0.3 * vmax / max(Tp, Tn)
            B = 0.45 * vmax / max(Tp, Tn)
            s0 = 0.5 * (A + B)
            # the final sum: every term (v - k s)^2 as in the kernel, summed exactly
            for s in (A, s0, B):
                vv, T, k = _k(x, s, Tp, Tn)
                terms = (vv - k * s) ** 2
                ref = math.fsum(terms)
                got = D._sq_err_fast(x, s, Tp, Tn, 0, x.size)
                assert abs(got - ref) <= 4 * EPS * (x.size + 16) * ref
                assert D._sq_err_fast(x, s, Tp, Tn, 7, 3000) == pytest.approx(math.fsum(terms[7:3000]),
                                                                              rel=4 * EPS * 3000, abs=0)
            # the window's base sums (indices at A, centred at s0), T = 0 sides in const
            vv, T, kA = _k(x, 1.0, Tp, Tn)
            kA = np.minimum(np.rint(vv * (1.0 / A)), T)
            kB = np.minimum(np.rint(vv * (1.0 / B)), T)
            act = T > 0
            e = np.where(act, vv - kA * s0, 0.0)
            ND = np.empty(x.size)
            const, c0, c1, c2, ne = D._window_sums_fast(x, Tp, Tn, 1.0 / A, 1.0 / B, s0, ND)
            assert np.array_equal(ND, kA - kB) and ne == float(np.sum(kA - kB))
            bound = 4 * EPS * (x.size + 16)
            assert abs(const - math.fsum((vv * vv)[~act])) <= bound * math.fsum((vv * vv)[~act])
            assert abs(c0 - math.fsum(e * e)) <= bound * math.fsum(e * e)
            assert abs(c1 - math.fsum(kA * e)) <= bound * math.fsum(np.abs(kA * e))
            assert c2 == math.fsum(kA * kA)  # integers: exact in any order


@pytest.mark.parametrize("bits,signed", [(2, True), (2, False), (4, True), (4, False), (8, True)])
def test_sweep_window_fast_equals_the_sweep_and_the_enumeration(bits, signed):
    rng = np.random.default_rng(bits + 100 * signed)
    Tp, Tn = _tops(bits, signed)
    for kind in KINDS:
        for n in ((7, 300) if bits < 8 else (7, 50)):  # the enumeration is O(n^2 T) in Python
            x = _row(kind, n, rng)
            vmax = float(np.max(np.abs(x)))
            if vmax == 0.0:
                continue
            sc = vmax / (max(Tp, Tn) + 0.5)
            for A, B in ((0.45 * sc, 0.9 * sc), (0.7 * sc, 0.71 * sc), (0.2 * sc, 2.1 * sc)):
                ne = int(D.count_breakpoints(x, Tp, Tn, A, B))
                ref = np.zeros(6)
                D._sweep_window(x, Tp, Tn, A, B, *_bufs(ne + 1), ref)
                for xx in (x, x.astype(np.float32).astype(np.float64)):
                    out = np.zeros(6)
                    if xx is not x:  # the float32 copy read as float32 (exact values)
                        xx = xx.astype(np.float32)
                        ref = np.zeros(6)
                        D._sweep_window(xx, Tp, Tn, A, B, *_bufs(ne + 64), ref)
                    nd = np.empty(n)
                    g = np.empty(n, np.int32)
                    D._sweep_window_fast(xx, Tp, Tn, A, B, *_bufs(ne + 64), nd, g, out)
                    assert out[5] == 0.0 and out[4] == ref[4]
                    x64 = xx.astype(np.float64)
                    best = _true_min(x64, Tp, Tn, A, B)
                    const = float(np.sum((np.abs(x64) ** 2)[np.where(x64 >= 0, Tp, Tn) == 0]))
                    # F is the direct sum at the chosen scale (with the T = 0 sides): the same
                    # minimum as the sweep and the enumeration within 1e-12 relative (plus 1e-24 of
                    # sum v^2: a zero minimum is found by the references as ~eps^2 sum v^2)
                    tol = 1e-12 * (best + const) + 1e-24 * float(np.sum(x64 * x64)) + 1e-300
                    assert abs(out[1] - ref[1]) <= tol
                    assert abs(out[1] - (best + const)) <= tol
                    assert abs(_F(x64, out[0], Tp, Tn) + const - out[1]) <= tol
                    assert A <= out[0] <= B
                    assert out[2] <= (best + const) * (1 + 1e-12) + 1e-300  # the certificate


def test_sweep_window_fast_reports_too_small_buffers():
    rng = np.random.default_rng(5)
    Tp, Tn = _tops(4, True)
    x = rng.normal(size=400)
    sc = np.max(np.abs(x)) / Tp
    A, B = 0.4 * sc, 0.9 * sc
    ne = int(D.count_breakpoints(x, Tp, Tn, A, B))
    assert ne > 20
    out = np.zeros(6)
    D._sweep_window_fast(x, Tp, Tn, A, B, *_bufs(ne // 2), np.empty(400), np.empty(400, np.int32), out)
    assert out[5] == -1.0 and out[4] == ne


@pytest.mark.parametrize("bits,signed", [(2, True), (4, True), (4, False), (8, True), (8, False)])
def test_far_block_bounds_rigorous(bits, signed):
    """The bounds that prune the far initial intervals in blocks: over [A0, hi] (small scales, the
    clipped points) and over [lo, B0] (large scales, points rounded to zero), for hi and lo all
    over the bracket, on 40-value rows (12 at 8 bits) of every kind: never above the enumerated minimum of F."""
    rng = np.random.default_rng(bits + 7 * signed)
    Tp, Tn = _tops(bits, signed)
    for kind in KINDS:
        x = _row(kind, 40 if bits < 8 else 12, rng)  # the enumeration is O(n^2 T) in Python
        args = _hist_args(x, Tp, Tn)
        mp, mn, npos, lo, hi = D._row_stats(x, Tp, Tn)
        if not (0.0 < hi < np.inf):
            continue
        A0, B0 = max(lo, D.S_FLOOR), 2.0 * hi
        sc = max(args[6], args[7]) / (max(Tp, Tn) + 0.5)
        for f in (0.05, 0.3, 0.6, 0.9, 1.0, 1.4, 2.5):
            s = f * sc
            if A0 < s < B0:
                lbL = D._row_bounds(A0, s, True, *args)
                assert lbL <= _true_min(x, Tp, Tn, A0, s) * (1 + 1e-12) + 1e-300
                lbR = D._row_bounds(s, B0, True, *args)
                assert lbR <= _true_min(x, Tp, Tn, s, B0) * (1 + 1e-12) + 1e-300


def test_rows_kernel_equals_full_enumeration_on_long_adversarial_rows():
    """exact_rows_window (block-pruned far intervals, 8 golden steps at <= 5 bits, vectorized sweep)
    against exact_rows_full on 2,500-value rows of every kind, float64 and float32."""
    rng = np.random.default_rng(11)
    X = np.stack([_row(kind, 2500, rng) for kind in KINDS])
    for bits, signed in ((2, True), (3, False), (4, True), (5, True)):
        Tp, Tn = _tops(bits, signed)
        for XX in (X, X.astype(np.float32)):
            a = np.zeros((len(KINDS), 10))
            b = np.zeros((len(KINDS), 6))
            D.exact_rows_window(np.ascontiguousarray(XX), Tp, Tn, a)
            D.exact_rows_full(np.ascontiguousarray(XX), Tp, Tn, b)
            for r in range(len(KINDS)):
                if b[r, 5] != 0:
                    assert a[r, 5] == b[r, 5]
                    continue
                assert a[r, 5] == 0
                # 1e-12 relative, plus 1e-24 of sum v^2 for the lattice and constant rows (true
                # minimum 0, found by both as rounding noise ~eps^2 sum v^2)
                x64 = np.asarray(XX[r], np.float64)
                tol = 1e-12 * b[r, 1] + 1e-24 * float(np.sum(x64 * x64)) + 1e-300
                assert abs(a[r, 1] - b[r, 1]) <= tol
                assert a[r, 2] <= b[r, 1] + tol
                if a[r, 1] != b[r, 1]:  # different scales only where F ties within rounding
                    assert abs(_F(x64, b[r, 0], Tp, Tn) - _F(x64, a[r, 0], Tp, Tn)) <= tol
