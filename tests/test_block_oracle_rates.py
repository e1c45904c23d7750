"""Exact saturation / scale-range rates of the per-block optimal E8M0 scale (``oracle``) for MX formats
(quanttheory/blocks/expectation_oracle.py, docs/blocks.md §2f, "Rates").

* the tie rule the formula assumes, on sampled blocks: the compiled per-block oracle (``oracle_scales``)
  picks ``2 X0`` iff ``SSE_1 < SSE_0`` (strict: ties go to the smaller scale ``X0``), ``X0/2`` iff
  ``SSE_-1 <= SSE_0`` (ties to the smaller scale ``X0/2``; MXINT8 at k = 2 has many: a negative max
  element in (-(1 + 1/128) X0, -X0] is an atom of ``d``), else ``X0``;
* Monte Carlo with the compiled per-block oracle, >= 2^21 elements, the per-block clipped fraction
  (iid over blocks) within 3 standard errors of the exact rate; MXINT8 k = 2 exercises the tie term
  and the asymmetric clipping (``x / X < -2`` only: the kernel's saturating cells used ``|x| > X l_max``
  before this change, which counts ``x`` in ``(-2, -127/64) X`` as clipped);
* the scale under/overflow rates are 0 (the oracle only picks representable scales, as
  ``block_data_report`` counts them); the bound ``<= rate_tol``; the MSE unchanged within its bound.
"""

import math

import numpy as np
import pytest

from quanttheory.blocks import get_block_format
from quanttheory.blocks.data import oracle_scales
from quanttheory.blocks.expectation import block_mse
from quanttheory.blocks.expectation_oracle import block_mse_oracle, oracle_candidates
from quanttheory.blocks.spec import _block_sse
from quanttheory.laws import Laplace, Normal


def _mc_saturation(law, fmt, k, n, seed):
    """Mean and standard error of the per-block clipped fraction under the compiled oracle."""
    bf = get_block_format(fmt, block=k)
    lo, hi = float(bf.fmt.levels[0]), float(bf.fmt.levels[-1])
    rng = np.random.default_rng(seed)
    nb = n // k
    xb = np.asarray(law.sample(rng, nb * k), float).reshape(nb, k)
    X = oracle_scales(xb, bf)
    u = xb / X[:, None]
    c = np.count_nonzero((u > hi) | (u < lo), axis=1) / k
    return float(np.mean(c)), float(np.std(c) / math.sqrt(nb))


@pytest.mark.parametrize("fmt,law,k,seed", [("mxfp4", Normal(), 32, 31), ("mxfp4", Laplace(0.3, 0.7), 32, 32),
                                            ("mxint8", Laplace(0.3, 0.7), 2, 33), ("mxint8", Normal(), 32, 34),
                                            ("mxfp6_e2m3", Laplace(), 32, 35), ("mxfp8_e5m2", Normal(), 32, 36),
                                            ("mxfp6_e3m2", Normal(), 2, 37), ("mxfp4", Laplace(), 8, 38)],
                         ids=["mxfp4-normal", "mxfp4-laplace-shifted", "mxint8-k2-laplace-shifted", "mxint8-normal",
                              "e2m3-laplace", "e5m2-normal", "e3m2-k2-normal", "mxfp4-k8-laplace"])
def test_saturation_against_monte_carlo(fmt, law, k, seed):
    ex, R = block_mse_oracle(law, fmt, block=k, full=True)
    assert R.scale_underflow == 0.0 and R.scale_overflow == 0.0
    assert ex.saturation_rate == R.saturation and ex.scale_overflow_rate == 0.0
    assert 0.0 < R.error <= 1e-9
    mean, se = _mc_saturation(law, fmt, k, 1 << 21, seed)
    assert abs(mean - R.saturation) <= 3 * se, (mean, se, R.saturation)
    # the oracle clips differently from the floor rule (MXFP4: less, X0 often moves up; MXINT8: more,
    # X0/2 clips the max element) -- the check above would not pass with the floor's rate
    fl = block_mse(law, fmt, "floor", block=k).saturation_rate
    assert abs(fl - R.saturation) > 5 * se
    # the MSE is the one without rates within both bounds (the rates need more harmonics at the same ends)
    ex0 = block_mse_oracle(law, fmt, block=k, rates=False)
    assert math.isnan(ex0.saturation_rate)
    assert abs(ex.mse - ex0.mse) <= ex.error_estimate + ex0.error_estimate


@pytest.mark.parametrize("element,emax,k", [("e2m1", 2, 32), ("mxint8", 0, 2), ("mxint8", 0, 32), ("e2m3", 2, 32)])
def test_tie_rule_of_the_compiled_oracle(element, emax, k):
    # the formula's choice: 2^j X0 (j > 0) iff SSE_j < SSE_0, 2^j X0 (j < 0) iff SSE_j <= SSE_0, else X0
    fmt = {"e2m1": "mxfp4", "e2m3": "mxfp6_e2m3", "mxint8": "mxint8"}[element]
    bf = get_block_format(fmt, block=k)
    kept = oracle_candidates(element, k).kept
    rng = np.random.default_rng(1415)
    n = 1 << 14
    ties = 0
    for xb in (rng.standard_normal((n, k)), rng.laplace(size=(n, k))):
        M = np.max(np.abs(xb), axis=1)
        X0 = np.exp2(np.floor(np.log2(M)) - emax)
        B = _block_sse(xb, X0, bf.fmt)[0]
        want = X0.copy()
        for j in kept:
            if j == 0:
                continue
            Sj = _block_sse(xb, X0 * 2.0 ** j, bf.fmt)[0]
            win = (Sj < B) if j > 0 else (Sj <= B)
            want = np.where(win, X0 * 2.0 ** j, want)
            if j < 0:
                ties += int(np.sum(Sj == B))
        assert np.array_equal(oracle_scales(xb, bf), want)
    if element == "mxint8" and k == 2:
        assert ties > 50           # the tie term of the saturation is exercised


def test_rates_options_and_bad_input():
    # MXFP6 E3M2 k = 32: the saturation series would add ~1.7e6 harmonics: skipped (NaN), MSE unchanged
    ex = block_mse_oracle(Normal(), "mxfp6_e3m2", block=32)
    assert math.isnan(ex.saturation_rate) and math.isfinite(ex.mse)
    with pytest.raises(ValueError, match="rate_tol"):
        block_mse_oracle(Normal(), "mxfp4", rate_tol=0.5)
    # a looser rate target: a bound within it, the same value within both bounds
    a, Ra = block_mse_oracle(Laplace(), "mxfp4", full=True)
    b, Rb = block_mse_oracle(Laplace(), "mxfp4", rate_tol=1e-6, full=True)
    assert Rb.error <= 1e-6 and abs(Ra.saturation - Rb.saturation) <= Ra.error + Rb.error
    # block_mse returns the rates
    r = block_mse(Laplace(), "mxfp4", "oracle")
    assert r.saturation_rate == Ra.saturation and r.scale_underflow_rate == 0.0


def test_e4m3_bracket_against_the_series():
    # MXFP8 E4M3, N(0,1), k = 2: the series fits (1e6 harmonics, ~1 s) -- the bracket's midpoint (returned by
    # default: the series would need > bracket_first harmonics) and the exact series agree within both bounds
    br = block_mse_oracle(Normal(), "mxfp8_e4m3", block=2)
    ex = block_mse_oracle(Normal(), "mxfp8_e4m3", block=2, bracket_first=10 ** 9, rates=False)
    assert math.isnan(br.saturation_rate) and br.error_estimate <= 2e-12 * br.mse
    assert ex.error_estimate <= 1e-10 * ex.mse
    assert abs(br.mse - ex.mse) <= br.error_estimate + ex.error_estimate
