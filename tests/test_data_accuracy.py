"""The reported MSE is the exact MSE at the reported scale even when it is tiny against the data.

Near-lattice data (x = s k (1 + rel u), rel down to 1e-9) and high bit widths make ``x - s k`` a
small difference of large numbers: float64 ``x - s*k`` loses ``log10(|x| / |x - s k|)`` digits to the
rounding of the product (1e-7 relative error of the MSE at rel = 1e-9, n = 50, before the fix).  The
reference is exact rational arithmetic (``fractions``) at the returned float scale; the tolerance
1e-14 relative covers the blocked float64 summation of n <= 500 non-negative terms (~n eps / 2)."""

from __future__ import annotations

from fractions import Fraction as Fr

import numpy as np
import pytest

import quanttheory.risk.data as D
from quanttheory.formats.grid import Grid, mean_msqe


def exact_mse(x, s, grid):
    Tp, Tn = D._tops(grid)
    S = Fr(float(s))
    tot = Fr(0)
    for v in x:
        u = Fr(float(v)) / S
        k = min(abs(round(u)), Tp if v >= 0 else Tn)  # round half even = np.rint; |ties| irrelevant here
        tot += (abs(Fr(float(v))) - S * k) ** 2
    return tot / len(x)


def near_lattice(n, rel, seed, bits=4):
    rng = np.random.default_rng(seed)
    T = 2 ** (bits - 1) - 1
    k = rng.integers(-T, T + 1, size=n).astype(float)
    return 0.3711 * k * (1 + rel * rng.uniform(-0.4, 0.4, size=n))


@pytest.mark.parametrize("rel", [1e-3, 1e-6, 1e-9])
@pytest.mark.parametrize("path", ["direct", "histogram"])
def test_near_lattice_reported_mse_is_exact(monkeypatch, rel, path):
    if path == "histogram":
        monkeypatch.setattr(D, "DIRECT_LIMIT", 0)
    x = near_lattice(300, rel, 1)
    g = Grid(4)
    r = D.optimal_scale_data(x, g)
    ex = float(exact_mse(x, r.scale, g))
    assert abs(r.extra["mse"] - ex) <= 1e-14 * ex
    assert r.risk_lower_bound <= r.risk


@pytest.mark.parametrize("bits", [12, 16])
def test_high_bits_reported_mse_is_exact(bits):
    x = np.random.default_rng(bits).normal(size=50)
    g = Grid(bits)
    r = D.optimal_scale_data(x, g)
    ex = float(exact_mse(x, r.scale, g))
    assert abs(r.extra["mse"] - ex) <= 1e-14 * ex


def test_per_channel_matches_single_and_exact():
    x = np.stack([near_lattice(200, 1e-9, i) for i in range(4)])
    g = Grid(4)
    r = D.optimal_scale_data(x, g, axis=0)
    for i in range(4):
        one = D.optimal_scale_data(x[i], g)
        assert r.scale[i] == one.scale and r.risk[i] == one.risk
        ex = float(exact_mse(x[i], r.scale[i], g))
        assert abs(one.extra["mse"] - ex) <= 1e-14 * ex


def test_mean_msqe_and_empirical_mse_exact_on_tiny_residuals():
    x = near_lattice(500, 1e-10, 9)
    g = Grid(4)
    s = 0.3711
    ex = float(exact_mse(x, s, g))
    assert abs(mean_msqe(x, s, g) - ex) <= 1e-14 * ex
    assert abs(D.empirical_mse(x, s, g) - ex) <= 1e-14 * ex
