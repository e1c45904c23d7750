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
                                            ("mxfp6_e3m2", Normal(), 2, 37), ("mxfp4", Laplace(), 8, 38),
                                            ("mxfp6_e3m2", Laplace(), 32, 39), ("mxfp8_e4m3", Normal(), 32, 40)],
                         ids=["mxfp4-normal", "mxfp4-laplace-shifted", "mxint8-k2-laplace-shifted", "mxint8-normal",
                              "e2m3-laplace", "e5m2-normal", "e3m2-k2-normal", "mxfp4-k8-laplace", "e3m2-laplace",
                              "e4m3-normal"])
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
                # a tie takes the fine scale: the formula counts it only inside j's region, so ties must
                # not happen outside it
                r = M / X0
                inside = np.zeros(n, bool)
                for ra, rb in dict(oracle_candidates(element, k).regions)[j]:
                    inside |= (r >= ra) & (r <= rb)
                assert not np.any((Sj <= B) & ~inside)
        assert np.array_equal(oracle_scales(xb, bf), want)
    if element == "mxint8" and k == 2:
        assert ties > 50           # the tie term of the saturation is exercised


def test_rates_options_and_bad_input():
    # the saturation series is skipped (NaN) when it would add more than max_rate_harmonics; MSE unchanged
    with pytest.warns(RuntimeWarning, match="max_rate_harmonics"):
        ex = block_mse_oracle(Normal(), "mxfp4", block=32, max_rate_harmonics=0)
    ex1 = block_mse_oracle(Normal(), "mxfp4", block=32)
    assert math.isnan(ex.saturation_rate) and math.isfinite(ex1.saturation_rate)
    assert abs(ex.mse - ex1.mse) <= ex.error_estimate + ex1.error_estimate
    with pytest.raises(ValueError, match="rate_tol"):
        block_mse_oracle(Normal(), "mxfp4", rate_tol=0.5)
    # a looser rate target: a bound within it, the same value within both bounds
    a, Ra = block_mse_oracle(Laplace(), "mxfp4", full=True)
    b, Rb = block_mse_oracle(Laplace(), "mxfp4", rate_tol=1e-6, full=True)
    assert Rb.error <= 1e-6 and abs(Ra.saturation - Rb.saturation) <= Ra.error + Rb.error
    # block_mse returns the rates
    r = block_mse(Laplace(), "mxfp4", "oracle")
    assert r.saturation_rate == Ra.saturation and r.scale_underflow_rate == 0.0


@pytest.mark.parametrize("law,k", [(Normal(), 32), (Laplace(), 2)], ids=["normal-k32", "laplace-k2"])
def test_e4m3_series_against_the_bracket(law, k):
    # MXFP8 E4M3: the exact series (cheap since the sure-win intervals: 464.002 <= r <= 512 needs no series)
    # against the rigorous bracket's midpoint (oracle_bracket, upper end raised by its own bound), both bounds
    from quanttheory.blocks.expectation_oracle import _from_bracket

    bf = get_block_format("mxfp8_e4m3", block=k)
    ex = block_mse_oracle(law, bf)
    br = _from_bracket(law, bf, 1e-10, law.second_moment())
    assert math.isfinite(ex.saturation_rate) and ex.error_estimate <= 1e-10 * ex.mse
    assert br is not None and br.error_estimate <= 1e-11 * br.mse
    assert abs(br.mse - ex.mse) <= br.error_estimate + ex.error_estimate


@pytest.mark.parametrize("element,emax,k,r0", [("e3m2", 4, 32, 30 + 31 / 2048), ("e3m2", 4, 2, 30 + 1 / 2048),
                                               ("e2m1", 2, 2, 7 + 1 / 16), ("e2m1", 2, 8, 7 + 7 / 16)])
def test_sure_win_intervals(element, emax, k, r0):
    # by hand: E3M2, 2 X0 against X0 (r = M / X0 in [30, 32]): the grids agree on |x| <= 30 except below
    # 0.5 X0, where 2 X0 loses at most (1/16)^2 = 1/256 per element; the max element gains
    # (r - 28)^2 - (r - 32)^2 = 8 r - 240, so 2 X0 wins every block iff 8 r - 240 > (k - 1) / 256.
    # E2M1: gain 4 r - 28, loss <= 0.25 (x = 0.5 X0 or 1.5 X0): 4 r - 28 > (k - 1) / 4.
    (j, sure), = oracle_candidates(element, k).sure
    (ra, rb), = sure
    assert j == 1 and rb == 2.0 ** (emax + 1) and r0 <= ra <= r0 * (1 + 1e-12)   # (bisection: 45 levels)
    # brute force on blocks built to lose the most: the max element at r in the interval, the others at the
    # worst-loss points and at random
    fmt = {"e3m2": "mxfp6_e3m2", "e2m1": "mxfp4"}[element]
    bf = get_block_format(fmt, block=k)
    rng = np.random.default_rng(1416)
    n = 4096
    worst = {"e3m2": [1 / 16, 3 / 16, 5 / 16, 7 / 16], "e2m1": [0.5, 1.5]}[element]
    r = rng.uniform(ra, rb, n)
    others = np.where(rng.random((n, k - 1)) < 0.7, rng.choice(worst, (n, k - 1)), rng.uniform(-ra, ra, (n, k - 1)))
    others *= rng.choice([-1.0, 1.0], (n, k - 1))
    xb = np.concatenate([r[:, None] * rng.choice([-1.0, 1.0], (n, 1)), others], axis=1)
    B = _block_sse(xb, np.ones(n), bf.fmt)[0]
    A = _block_sse(xb, 2 * np.ones(n), bf.fmt)[0]
    assert np.all(A < B)
    # and just below the interval's start some block is not won (the interval is tight to the bisection grid)
    xb[:, 0] = np.sign(xb[:, 0]) * (r0 - 1e-3 if element == "e3m2" else r0 - 1e-2)
    xb[:, 1:] = np.array(worst)[np.arange(k - 1) % len(worst)]
    B = _block_sse(xb, np.ones(n), bf.fmt)[0]
    A = _block_sse(xb, 2 * np.ones(n), bf.fmt)[0]
    assert np.any(A >= B)


def test_rates_unreachable_rate_tol_warns():
    # rate_tol = 1e-12 is accepted, but MXFP4 k = 32's saturation series then exceeds max_rate_harmonics: NaN,
    # no longer silently (independent review 2026-11-30 night, F3)
    with pytest.warns(RuntimeWarning, match="rate_tol = 1e-12"):
        ex = block_mse_oracle(Normal(), "mxfp4", block=32, rate_tol=1e-12)
    assert math.isnan(ex.saturation_rate) and math.isfinite(ex.mse)
