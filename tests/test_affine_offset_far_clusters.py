"""Audit 2026-12-01 finding 32: real-offset data optimum on clusters far apart (0 and ~1.5e8).

The leaf's quadratic in raw sums cancelled terms ~1e19 down to a minimum ~700: a wrong optimum
(MSE 265.018) was returned with a "certified" lower bound 265.0175 above the true minimum 176.978.
Reference: exact Fraction least squares over every non-decreasing code assignment (the optimal
nearest-level assignment of sorted data is non-decreasing), min over s >= 0 and m.
"""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from quanttheory.affine.offset_data import optimal_offset_1d


def brute_offset_mse(x, bits):
    xs = sorted(Fraction(float(v)) for v in x)
    n = len(xs)
    N = 2**bits - 1
    mx = sum(xs) / n
    base = sum((v - mx) ** 2 for v in xs)
    best = base  # s -> 0+: every value at one level (all codes equal)
    for ks in itertools.combinations_with_replacement(range(N + 1), n):
        mk = Fraction(sum(ks), n)
        vk = sum((k - mk) ** 2 for k in ks)
        if vk == 0:
            continue
        cov = sum((v - mx) * (k - mk) for v, k in zip(xs, ks))
        if cov > 0:
            best = min(best, base - cov * cov / vk)
    return best / n


def test_hand_case_finding_32():
    x = np.array([0, 153216885.68869522, 153216923.31616145, 0])
    # by hand: codes (0, 0, 15, 15) (or any (k, k, k + j, k + j)): the two zeros on one level, the large
    # pair on another at their mean: MSE = 2 (d / 2)^2 / 4 = d^2 / 8, d = 37.627...
    d = Fraction(153216923.31616145) - Fraction(153216885.68869522)
    hand = d * d / 8
    assert brute_offset_mse(x, 4) == hand
    r = optimal_offset_1d(x, 4)
    # tolerance: the residuals are rounded to ~ulps of 1.5e8 (3e-8) each, so MSE is exact to ~1e-6 relative
    assert abs(r.mse - float(hand)) <= 1e-6 * float(hand)
    assert r.mse_lower_bound <= float(hand)
    assert r.mse_lower_bound >= 0.99 * float(hand)
    # the returned point attains the reported MSE (direct sum)
    N = 15
    q = np.clip(np.rint((x - r.offset) / r.scale), 0, N)
    assert np.mean((x - r.scale * q - r.offset) ** 2) == pytest.approx(r.mse, rel=1e-9)


@pytest.mark.parametrize("seed", range(12))
def test_far_clusters_random(seed):
    rng = np.random.default_rng(1000 + seed)
    n = int(rng.integers(3, 6))
    bits = int(rng.integers(2, 4))
    big = 10.0 ** rng.uniform(2, 12)
    nlo = int(rng.integers(1, n))
    lo = rng.normal(0, 1, nlo) * rng.uniform(0, 50)
    hi = big + rng.normal(0, 1, n - nlo) * rng.uniform(0, 50)
    x = rng.permutation(np.concatenate([lo, hi]))
    if x.min() == x.max():
        pytest.skip("constant")
    ref = float(brute_offset_mse(x, bits))
    r = optimal_offset_1d(x, bits)
    # absolute slack: each residual is rounded to a few ulps of the magnitudes (|x| + |levels| <~ 4 big)
    slack = n * (64 * 2.0**-52 * 4 * big) ** 2 + 64 * 2.0**-52 * 4 * big * math.sqrt(ref) * 2
    assert r.mse <= ref * (1 + 1e-7) + slack, (x.tolist(), bits, r.mse, ref)
    assert r.mse_lower_bound <= ref * (1 + 1e-12) + slack, (x.tolist(), bits, r.mse_lower_bound, ref)
