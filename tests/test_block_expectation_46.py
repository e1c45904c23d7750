"""Telescoped exact 4over6 (quanttheory/blocks/expectation_min.block_mse_4over6_fast, kernels in
quanttheory/blocks/_expect_46.py) against independent references.

* one piece end, k = 1 and k = 2, by hand: with S = d(xi_1) + d(xi_2) (d the difference of the
  two candidates' squared errors, computed here by direct quantization, not from the cells of the
  module), E|S|, P(S > 0) and E[1{xi_1 saturates under X6}; S <= 0] are 1-D integrals over x_1
  (scipy quad, breakpoints at every cell edge) of inner integrals over x_2 computed by
  Gauss-Legendre on the cells of x_2 split at the root of s + d (d is linear on each cell, so the
  inner integrand is smooth on each sub-cell);
* the full NVFP4 value against the m-quadrature of block_mse_4over6 (slow; a different formula:
  characteristic function at each m node, no telescoping): <= 1e-9 relative;
* Monte Carlo (seeded, 3 standard errors) of the MSE and of the three rates, with the default tensor
  scale and with a small one (overflow common).
"""

import math

import numpy as np
import pytest
from scipy import integrate

from quanttheory.blocks import get_block_format
from quanttheory.blocks._expect_46 import endpoint_stats
from quanttheory.blocks.expectation import _G, default_tensor_scale
from quanttheory.blocks.spec import block_scales
from quanttheory.laws import Laplace, Normal


def _setup(law, m):
    bf = get_block_format("nvfp4")
    S = default_tensor_scale(law, bf)
    X6 = float(block_scales(np.array([m]), bf, "round", tensor_scale=S)[0][0])
    X4 = float(block_scales(np.array([m]), bf, "round", c=1.5, tensor_scale=S)[0][0])
    fmt = bf.fmt

    def d(x):
        x = np.asarray(x, float)
        return (x - X6 * fmt.quantize(x / X6)) ** 2 - (x - X4 * fmt.quantize(x / X4)) ** 2

    edges = sorted({float(v) for X in (X6, X4) for v in X * np.asarray(fmt.midpoints) if -m < v < m}
                   | {0.0, -m, m, float(getattr(law, "loc", 0.0)), -6 * X6, 6 * X6})
    edges = [e for e in edges if -m <= e <= m]
    return bf, fmt, X6, X4, d, edges


def _inner_factory(law, d, edges, G):
    """s -> (E|s + d(xi)|, P(s + d(xi) > 0)) for xi with the law given |xi| <= m: d is linear on each
    cell between the edges (slope and intercept from two direct evaluations inside the cell), the
    cell is split at the root of s + d, 24-point Gauss-Legendre on each part."""
    lo = np.array(edges[:-1])
    hi = np.array(edges[1:])
    x1, x2 = lo + 0.25 * (hi - lo), lo + 0.75 * (hi - lo)
    al = (d(x2) - d(x1)) / (x2 - x1)
    be = d(x1) - al * x1
    z, w = np.polynomial.legendre.leggauss(24)

    def inner(s):
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(al != 0, (-s - be) / np.where(al != 0, al, 1.0), lo)
        r = np.clip(np.nan_to_num(r, nan=0.0), lo, hi)
        ea = pp = 0.0
        for a, b in ((lo, r), (r, hi)):
            x = (0.5 * (a + b))[:, None] + (0.5 * (b - a))[:, None] * z
            v = s + al[:, None] * x + be[:, None]
            fw = (0.5 * (b - a))[:, None] * w * law.pdf(x)
            ea += float(np.sum(np.abs(v) * fw))
            pp += float(np.sum((v > 0) * fw))
        return ea / G, pp / G

    return inner


@pytest.mark.parametrize("law, m", [(Normal(), 2.8), (Laplace(0.3, 0.7), 3.05)], ids=["normal", "laplace-shifted"])
def test_endpoint_k1_by_hand(law, m):
    bf, fmt, X6, X4, d, edges = _setup(law, m)
    assert 6 * X6 < m  # the element at the absmax saturates under X6: the saturation term is exercised
    G = float(_G(law, np.array(m)))
    kp = law.kernel_params()
    # k = 1: E|d|, P(d > 0), E[1{sat6}; d <= 0]
    inner = _inner_factory(law, d, edges, G)
    e1, p1 = inner(0.0)
    r = endpoint_stats(kp[0], kp[1], kp[2], fmt, m, X6, X4, 1, 1e-14, 1e-13)
    assert abs(r[0] - e1) <= 1e-12 and abs(r[1] - p1) <= 1e-12, (r, e1, p1)


@pytest.mark.slow
@pytest.mark.parametrize("law, m", [(Normal(), 2.8)], ids=["normal"])
def test_endpoint_k2_by_hand(law, m):
    """k = 2 (nested quad, ~45 s CPU; Laplace not run before the deadline)."""
    bf, fmt, X6, X4, d, edges = _setup(law, m)
    G = float(_G(law, np.array(m)))
    kp = law.kernel_params()
    inner = _inner_factory(law, d, edges, G)
    r2 = endpoint_stats(kp[0], kp[1], kp[2], fmt, m, X6, X4, 2, 1e-13, 1e-11)

    def outer(fun):
        tot = 0.0
        for lo, hi in zip(edges[:-1], edges[1:]):
            tot += integrate.quad(fun, lo, hi, epsabs=1e-13, epsrel=1e-12, limit=200)[0]
        return tot / G

    # the three outer quads evaluate the same x nodes wherever their subdivisions agree (their first
    # 21-point rule on every cell, and most refinements): (pdf(x), inner(d(x))) is memoized by x, so the
    # references are bit-identical to three independent evaluations at ~1/3 of the cost
    memo = {}

    def pdf_inner(x):
        v = memo.get(x)
        if v is None:
            v = memo[x] = (float(law.pdf(x)), inner(float(d(x))))
        return v

    def f_abs(x):
        p, (ea, _) = pdf_inner(x)
        return p * ea

    def f_p(x):
        p, (_, pp) = pdf_inner(x)
        return p * pp

    def f_nu6(x):
        p, (_, pp) = pdf_inner(x)
        return p * (abs(x) > 6 * X6) * (1.0 - pp)

    ref_abs = outer(f_abs)
    ref_p = outer(f_p)
    ref_nu6 = outer(f_nu6)
    assert abs(r2[0] - ref_abs) <= r2[4] + 1e-10, (r2[0], ref_abs, r2[4])
    assert abs(r2[1] - ref_p) <= r2[5] + 1e-10, (r2[1], ref_p)
    assert abs(r2[2] - ref_nu6) <= r2[5] + 1e-10, (r2[2], ref_nu6)
    assert ref_nu6 > 1e-4


@pytest.mark.slow
def test_fast_against_m_quadrature():
    """The telescoped value against the m-quadrature of block_mse_4over6 (characteristic function
    at every m node; ~1 min): <= 1e-9 relative."""
    from quanttheory.blocks.expectation_min import block_mse_4over6, block_mse_4over6_fast

    from quanttheory.blocks.expectation import monte_carlo_block_mse

    fast, _ = block_mse_4over6_fast(Normal(), "nvfp4", rates=False)
    slow = block_mse_4over6(Normal(), "nvfp4")
    assert abs(fast.mse - slow.mse) <= 1e-9 * slow.mse, (fast.mse, slow.mse)
    assert fast.error_estimate <= 1e-9 * fast.mse
    # the m-quadrature on its own against the package's Monte Carlo (1e6 blocks, seeded); it leaves the
    # rates NaN (only the telescoped method computes them)
    mean, se, _ = monte_carlo_block_mse(Normal(), "nvfp4", "4over6", n=16 * 10 ** 6, rng=np.random.default_rng(20261129))
    assert abs(slow.mse - mean) <= 3 * se, (slow.mse, mean, se)
    assert slow.error_estimate < 1e-5 * slow.mse
    assert math.isnan(slow.saturation_rate)
    assert math.isnan(slow.scale_underflow_rate) and math.isnan(slow.scale_overflow_rate)


def _mc_rates(law, S, nb, seed):
    """Direct simulation of NVFP4 4over6 blocks: per-element MSE (mean, se), saturation rate, and
    overflow / underflow rates of the chosen scale (independent of the package's Monte Carlo)."""
    bf = get_block_format("nvfp4")
    fmt = bf.fmt
    rng = np.random.default_rng(seed)
    s1 = s2 = 0.0
    sat = over = under = 0
    done = 0
    while done < nb:
        n = min(1 << 16, nb - done)
        x = np.asarray(law.sample(rng, 16 * n), float).reshape(n, 16)
        M = np.max(np.abs(x), axis=1)
        X6, u6, o6 = block_scales(M, bf, "round", tensor_scale=S)
        X4, u4, o4 = block_scales(M, bf, "round", c=1.5, tensor_scale=S)

        def sse(X):
            Xs = np.where(X > 0, X, 1.0)[:, None]
            q = np.where(X[:, None] > 0, Xs * fmt.quantize(x / Xs), 0.0)
            return np.sum((x - q) ** 2, axis=1)

        e6, e4 = sse(X6), sse(X4)
        pick4 = e4 < e6
        X = np.where(pick4, X4, X6)
        e = np.minimum(e6, e4) / 16
        s1 += float(e.sum())
        s2 += float((e * e).sum())
        sat += int(np.count_nonzero((np.abs(x) > 6 * X[:, None]) & (X[:, None] > 0)))
        over += int(np.count_nonzero(np.where(pick4, o4, o6)))
        under += int(np.count_nonzero(np.where(pick4, u4, u6)))
        done += n
    mean = s1 / nb
    return mean, math.sqrt(max(s2 / nb - mean * mean, 0.0) / nb), sat / (16 * nb), over / nb, under / nb


@pytest.mark.slow
@pytest.mark.parametrize("law, small_S", [(Normal(), False), (Normal(), True)], ids=["normal", "normal-small-S"])
def test_fast_against_monte_carlo(law, small_S):
    """MSE within 3 standard errors, rates within 3 binomial standard errors (+ the rate bound),
    2^20 blocks (1.7e7 elements), seeded."""
    from quanttheory.blocks.expectation_min import block_mse_4over6_fast

    S = 2.2 / (448 * 6) * math.sqrt(law.second_moment()) if small_S else None
    bm, R = block_mse_4over6_fast(law, "nvfp4", tensor_scale=S)
    Sx = bm.tensor_scale
    nb = 1 << 20
    mean, se, sat, over, under = _mc_rates(law, Sx, nb, 20261129)
    assert abs(bm.mse - mean) <= 3 * se, (bm.mse, mean, se)
    assert bm.error_estimate <= 1e-9 * bm.mse
    for ex, mc, n in ((R.saturation, sat, 16 * nb), (R.scale_overflow, over, nb), (R.scale_underflow, under, nb)):
        sd = math.sqrt(max(ex * (1 - ex), 1e-12) / n)
        assert abs(ex - mc) <= 3 * sd + R.error, (ex, mc, sd)
    assert bm.saturation_rate == R.saturation and bm.scale_overflow_rate == R.scale_overflow
    if small_S:
        assert R.scale_overflow > 0.1  # the overflow rate is exercised where the bracket was wide


def test_fast_validates_input():
    from quanttheory.blocks.expectation_min import block_mse_4over6_fast

    with pytest.raises(ValueError, match="tol"):
        block_mse_4over6_fast(Normal(), "nvfp4", tol=0.5)
    with pytest.raises(ValueError, match="tensor_scale"):
        block_mse_4over6_fast(Normal(), "nvfp4", tensor_scale=-1.0)
    with pytest.raises(ValueError, match="E4M3"):
        block_mse_4over6_fast(Normal(), "mxfp4")
