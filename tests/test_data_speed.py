"""The faster kernels of the data optimum's histogram path (issue 20, speed of the n = 1e7 case).

Changed: the s-histogram pass (:func:`shist_chunk`: vectorized block sums + a scalar visit of
the points with breakpoints), the exact MSE (:func:`msqe_sums`: vectorized block sums) and the
histogram resolution up to 4 bits.  References, none sharing code with the changed kernels:

* the direct enumeration of every breakpoint (``exact_rows``, selected by a large
  ``DIRECT_ONE_FACTOR``) on n = 70,000 values, float32 and float64, five laws;
* the brute force of ``tests/test_data_exact.py`` (every piece of the piecewise quadratic,
  ``quantize_index``) on tiny inputs pushed through the histogram path (``DIRECT_ONE_FACTOR = 0``);
* hand-derived answers for adversarial inputs (all values equal, values on breakpoints).

Tolerances: both results carry a rigorous certificate ``risk - risk_lower_bound``; the risks
must agree within the sum of the two certificates plus 1e-13 relative (float64 rounding of
sums of <= 1e5 terms in blocks of 4096: < 1e-13 in practice), and the reported risk must be the
exact MSE at the reported scale (``mse_sums``, 1e-13 relative).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import quanttheory.risk.data as D
from quanttheory import Grid
from quanttheory.risk._kernels import data as K
from quanttheory.risk.data import mse_sums

from test_data_exact import brute_all

PI2 = math.pi**2


def _laws(n, rng):
    return {
        "normal": rng.standard_normal(n),
        "laplace": rng.laplace(size=n),
        "student3": rng.standard_t(3, n),
        "uniform": rng.uniform(-1, 1, n),
        "relu": np.maximum(rng.standard_normal(n), 0.0),
    }


def _both(monkeypatch, x, g):
    monkeypatch.setattr(D, "DIRECT_ONE_FACTOR", 1 << 10)
    direct = D.optimal_scale_data(x, g)
    assert direct.method in (D.DIRECT_METHOD, D.DIRECT_WINDOW_METHOD)
    monkeypatch.setattr(D, "DIRECT_ONE_FACTOR", 0)
    fast = D.optimal_scale_data(x, g)
    assert "histogram branch-and-bound" in fast.method
    return direct, fast


def _agree(direct, fast, x, g, same_scale=True):
    tol = (direct.risk - direct.risk_lower_bound) + (fast.risk - fast.risk_lower_bound) + 1e-13 * direct.risk
    assert abs(direct.risk - fast.risk) <= tol
    assert fast.risk_lower_bound <= direct.risk * (1 + 1e-13)
    exact = float(mse_sums(x, np.array([fast.scale]), g)[0]) / x.size
    assert abs(fast.risk - PI2 * exact) <= 1e-13 * fast.risk + 1e-300
    if same_scale:
        assert math.isclose(fast.scale, direct.scale, rel_tol=max(1e-9, 2 * fast.scale_error / fast.scale))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("bits", [2, 4])
def test_histogram_path_matches_direct_enumeration_five_laws(monkeypatch, dt, bits):
    g = Grid(bits)
    for name, x in _laws(70_000, np.random.default_rng(bits)).items():
        x = x.astype(dt)
        direct, fast = _both(monkeypatch, x, g)
        _agree(direct, fast, x, g)


@pytest.mark.slow
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_histogram_path_matches_direct_enumeration_8_bits(monkeypatch, dt):
    g = Grid(8)
    laws = _laws(70_000, np.random.default_rng(8))
    for name in ("normal", "student3", "relu"):
        x = laws[name].astype(dt)
        direct, fast = _both(monkeypatch, x, g)
        _agree(direct, fast, x, g)


def test_all_equal_values(monkeypatch):
    # hand derivation: Grid(2) has levels -2..1, so on x >= 0 the top is 1: every point maps to
    # 0 or s (clipped), n MSE(s) = n (0.7 - s)^2 for s < 1.4 and 0.49 n beyond: the minimum is
    # 0 at s = 0.7 exactly (its only zero).  On Grid(4) (top 7) every s = 0.7 / k, k = 1..7, gives 0.
    x = np.full(70_000, 0.7)
    monkeypatch.setattr(D, "DIRECT_ONE_FACTOR", 0)
    r = D.optimal_scale_data(x, Grid(2))
    assert r.scale == pytest.approx(0.7, rel=1e-12)
    assert r.extra["mse"] <= 1e-24 and r.risk_lower_bound <= r.risk
    r4 = D.optimal_scale_data(x.astype(np.float32), Grid(4))
    k = 0.7 / r4.scale  # (float32(0.7) ~ 0.7 to 1e-8)
    assert abs(k - round(k)) < 1e-6 and 1 <= round(k) <= 7
    assert r4.extra["mse"] <= 1e-15


def test_values_on_breakpoints(monkeypatch):
    # every |x| is (k + 1/2) c, a breakpoint of s = c (a tie: both neighbours err by c/2), plus a
    # few exact lattice points k c.  Compared with the direct enumeration (ties resolved either
    # way give the same error) and, on 60 of the values, with the brute force.
    rng = np.random.default_rng(11)
    c = 0.375
    k = rng.integers(0, 7, 70_000)
    x = (k + 0.5) * c * rng.choice([-1.0, 1.0], k.size)
    x[::97] = rng.integers(-6, 7, x[::97].size) * c
    g = Grid(4)
    direct, fast = _both(monkeypatch, x, g)
    _agree(direct, fast, x, g, same_scale=False)
    small = x[:60]
    r = D.optimal_scale_data(small, g)
    ref = brute_all(small, g)
    assert r.extra["mse"] <= ref[0] * (1 + 1e-12) + (r.risk - r.risk_lower_bound) / PI2


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_one_huge_outlier(monkeypatch, dt):
    x = np.random.default_rng(4).standard_normal(70_000)
    x[12_345] = 1e6 if dt == np.float64 else 3e4
    x = x.astype(dt)
    for b in (2, 4):
        direct, fast = _both(monkeypatch, x, Grid(b))
        _agree(direct, fast, x, Grid(b))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_denormals(monkeypatch, dt):
    # subnormal values (all in the histogram's bottom bin) mixed with normal ones
    x = np.random.default_rng(6).standard_normal(70_000)
    x[::7] *= 1e-310 if dt == np.float64 else 1e-40
    x = x.astype(dt)
    assert np.any((x != 0) & (np.abs(x) < np.finfo(dt).tiny))
    direct, fast = _both(monkeypatch, x, Grid(4))
    _agree(direct, fast, x, Grid(4))


@pytest.mark.parametrize("n", [1, 2, 3, 17, 64])
def test_tiny_n_through_the_histogram_path(monkeypatch, n):
    rng = np.random.default_rng(n)
    monkeypatch.setattr(D, "DIRECT_ONE_FACTOR", 0)
    for g in (Grid(2), Grid(4), Grid(3, signed=False)):
        x = rng.laplace(size=n)
        r = D.optimal_scale_data(x, g)
        ref = brute_all(x, g)
        if ref is None:
            assert r.extra["degenerate"]
            continue
        gap = (r.risk - r.risk_lower_bound) / PI2
        assert r.extra["mse"] <= ref[0] * (1 + 1e-12) + gap + 1e-300
        assert r.risk_lower_bound / PI2 <= ref[0] * (1 + 1e-12) + 1e-300


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("T", [(1, 2), (7, 8), (15, 0)])
def test_shist_chunk_against_numpy(dt, T):
    # base sums: the points' states at A, summed in NumPy (float64, pairwise) -> 1e-12 relative;
    # per s-bin sums: every breakpoint v / (k + 1/2) in [A, B], accumulated with np.add.at
    rng = np.random.default_rng(9)
    x = rng.standard_normal(50_000).astype(dt)
    Tp, Tn = T
    A, B = (0.9, 0.93) if Tp == 1 else (0.3, 0.31)
    s0, M = 0.5 * (A + B), 512
    base, acc = np.zeros(4), np.zeros((M, 8))
    sbuf, sc = np.empty(50_000), np.zeros(1, dtype=np.int64)
    K.shist_chunk(x, A, B, 1 / A, 1 / B, s0, M, Tp, Tn, base, acc, sbuf, sc)
    xf = x.astype(np.float64)
    v = np.abs(xf)
    Tv = np.where(np.signbit(xf), Tn, Tp).astype(np.float64)
    kA = np.minimum(np.rint(v * (1 / A)), Tv)
    kB = np.minimum(np.rint(v * (1 / B)), Tv)
    e = np.where(Tv > 0, v - kA * s0, 0.0)
    np.testing.assert_allclose(base[:3], [np.sum(e * e), np.sum(kA * e), np.sum(kA * kA)], rtol=1e-12)
    assert base[3] == pytest.approx(np.sum(np.where(Tv == 0, v * v, 0.0)), rel=1e-12)
    strad = kB < kA
    assert sc[0] == strad.sum() and np.array_equal(sbuf[:sc[0]], xf[strad])
    nev = (kA - kB).astype(np.int64)
    idx = np.repeat(np.arange(v.size), nev)
    k = np.repeat(kB, nev) + (np.arange(idx.size) - np.repeat(np.cumsum(nev) - nev, nev))
    vv = v[idx]
    j = np.clip(((vv / (k + 0.5) - A) * (M / (B - A))).astype(np.int64), 0, M - 1)
    cnt = np.zeros(M)
    np.add.at(cnt, j, k * k - (k + 1) * (k + 1))
    np.testing.assert_allclose(acc[:, 2], cnt, rtol=1e-12, atol=0)
    ref3 = np.zeros(M)
    np.add.at(ref3, j, (vv - (k + 1) * s0) ** 2)
    np.testing.assert_allclose(acc[:, 3], ref3, rtol=1e-12, atol=1e-300)
