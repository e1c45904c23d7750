"""Exact 4over6 rates in the numba kernel (quanttheory/blocks/_expect_46.telescoped_stats) against
independent references.

* k = 2 at one piece end, by hand (the double integral of tests/test_block_expectation_46.py,
  :func:`_k2_reference`: d from direct quantization, Gauss-Legendre split at every kink): P(S > 0)
  and E[1{xi_1 saturates under X6}; S <= 0] within the kernel's bound + 1e-10 (the reference's own
  accuracy is 1e-12, checked there);
* single ends against the NumPy Fourier series (endpoint_stats_fs: Faddeeva-function / complex
  closed-form cells, a different code path for every part), centred and shifted laws, a small tensor
  scale where X4 overflows E4M3 and X6 does not: within the sum of both error bounds + 1e-15
  (X4 saturates only where both candidates are clipped to the same largest scale, S = 0: nu4 = 0);
* the whole telescoped sum (block_mse_4over6_fast, rates from the kernel) against the same sum with
  every end's rates from endpoint_stats_fs (the previous implementation, re-done here as a loop):
  each rate within both error bounds;
* every bound below its target; bad input rejected.
The Monte Carlo / direct-simulation checks of the rates are in tests/test_block_expectation_46.py
(test_fast_against_monte_carlo, test_small_blocks_against_monte_carlo); they now run through the kernel.
"""

import math

import numpy as np
import pytest

from quanttheory.blocks import get_block_format
from quanttheory.blocks._expect_46 import endpoint_stats_fs, telescoped_stats
from quanttheory.blocks.expectation import _G, _range, block_mse, default_tensor_scale
from quanttheory.blocks.spec import block_scales
from quanttheory.laws import Laplace, Normal

from test_block_expectation_46 import _k2_reference, _setup


def _scales(law, k, m, S=None):
    bf = get_block_format("nvfp4", block=k)
    S = default_tensor_scale(law, bf) if S is None else S
    X6 = float(block_scales(np.array([m]), bf, "round", tensor_scale=S)[0][0])
    X4 = float(block_scales(np.array([m]), bf, "round", c=1.5, tensor_scale=S)[0][0])
    return bf, X6, X4


@pytest.mark.parametrize("law, m", [(Normal(), 2.8), (Laplace(0.3, 0.7), 3.05)], ids=["normal", "laplace-shifted"])
def test_kernel_rates_k2_by_hand(law, m):
    bf, fmt, X6, X4, d, edges = _setup(law, m)
    assert 6 * X6 < m                      # the element at the absmax saturates under X6
    G = float(_G(law, np.array(m)))
    kp = law.kernel_params()
    ref = _k2_reference(law, m, d, edges, G, X6, 24)
    assert ref[2] > 1e-4
    r = telescoped_stats(kp[0], kp[1], kp[2], fmt, np.array([m]), np.array([X6]), np.array([X4]), 2, 1e-13,
                         np.ones((1, 3), bool), 1e-10)
    assert r.err_p[0] <= 1e-10 and r.err_nu[0] <= 1e-10 and r.err_abs[0] <= 1e-12
    assert abs(r.abs_S[0] - ref[0]) <= r.err_abs[0] + 1e-12, (r.abs_S[0], ref[0])
    assert abs(r.P_pos[0] - ref[1]) <= r.err_p[0] + 1e-12, (r.P_pos[0], ref[1], r.err_p[0])
    assert abs(r.nu6_le[0] - ref[2]) <= r.err_nu[0] + 1e-12, (r.nu6_le[0], ref[2], r.err_nu[0])
    assert r.nu4_pos[0] == 0.0             # 6 X4 >= m: X4 cannot saturate, exactly 0


_SMALL_S = 2.2 / (448 * 6)   # tensor scale with X4 clipped at the E4M3 maximum (block overflow) for m > 1.47


@pytest.mark.parametrize("law, k, m, S", [(Normal(), 16, 2.8, None), (Normal(0.2, 1.3), 16, 2.8, None),
                                          (Laplace(), 16, 4.0, None), (Laplace(0.3, 0.7), 16, 2.8, None),
                                          (Normal(), 8, 2.0, _SMALL_S), (Laplace(), 5, 1.9, None)],
                         ids=["n16", "nshift16", "l16", "lshift16", "n8-smallS", "l5"])
def test_kernel_rates_against_numpy_series(law, k, m, S):
    bf, X6, X4 = _scales(law, k, m, S)
    kp = law.kernel_params()
    ref = endpoint_stats_fs(kp[0], kp[1], kp[2], bf.fmt, m, X6, X4, k, 1e-13, 1e-11, (True, True, True))
    r = telescoped_stats(kp[0], kp[1], kp[2], bf.fmt, np.array([m]), np.array([X6]), np.array([X4]), k, 1e-13,
                         np.ones((1, 3), bool), 1e-11)
    assert r.err_p[0] <= 1e-11 and r.err_nu[0] <= 1e-11
    if S is not None:
        assert X4 == 448 * S and X6 < X4          # X4 overflows E4M3, X6 does not: P(S > 0) = overflow rate
        assert 0.01 < ref[1] < 0.99
    for got, want, eb in ((r.P_pos[0], ref[1], r.err_p[0]), (r.nu6_le[0], ref[2], r.err_nu[0]),
                          (r.nu4_pos[0], ref[3], r.err_nu[0])):
        assert abs(got - want) <= eb + ref[5] + 1e-15, (got, want, eb, ref[5])
    assert abs(r.abs_S[0] - ref[0]) <= r.err_abs[0] + ref[4] + 1e-15


def _numpy_loop_rates(law, bf, S, rate_tol):
    """The telescoped rates with every end's statistics from endpoint_stats_fs (the NumPy / Faddeeva
    path; the previous implementation, as a loop): (saturation, underflow, overflow, error bound)."""
    from quanttheory.blocks.expectation_min import _pieces_4over6

    k = bf.block
    kp = law.kernel_params()
    mlo, mhi = _range(law, k, 1e-10)
    a, b, X6, u6, o6, X4, u4, o4 = _pieces_4over6(law, bf, 1.0, S, mlo, mhi)
    need_p = (o6 != o4) | (u6 != u4)
    need6 = (X6 > 0) & (X6 * bf.lmax < b)
    need4 = (X4 > 0) & (X4 * bf.lmax < b)
    sat = und = ovr = err = 0.0
    for i in range(a.size):
        nd = (bool(need_p[i]), bool(need6[i]), bool(need4[i]))
        for m, sg in ((b[i], 1.0), (a[i], -1.0)):
            Gk = float(np.clip(_G(law, np.array(m)), 0, 1)) ** k
            if Gk <= 0:
                continue
            if any(nd):
                _, Pp, nu6, nu4, _, eP, _ = endpoint_stats_fs(kp[0], kp[1], kp[2], bf.fmt, float(m), float(X6[i]),
                                                              float(X4[i]), k, 1.0, rate_tol, nd)
                err += Gk * eP
            if nd[0]:
                ovr += sg * Gk * (o6[i] * (1 - Pp) + o4[i] * Pp)
                und += sg * Gk * (u6[i] * (1 - Pp) + u4[i] * Pp)
            else:
                ovr += sg * Gk * o6[i]
                und += sg * Gk * u6[i]
            sat += sg * Gk * ((nu6 if nd[1] else 0.0) + (nu4 if nd[2] else 0.0))
    Gmlo = float(np.clip(_G(law, np.array(mlo)), 0, 1)) ** k
    Gmhi = float(np.clip(_G(law, np.array(mhi)), 0, 1)) ** k
    ovr += (1.0 - Gmhi) if o6[-1] else 0.0
    und += Gmlo if u4[0] else 0.0
    return sat, und, ovr, err + (1.0 - Gmhi) + Gmlo


@pytest.mark.parametrize("law, k, S", [(Normal(), 32, None), (Laplace(), 32, None), (Normal(), 16, 2.2 / (448 * 6)),
                                       (Laplace(), 16, None)],
                         ids=["normal32", "laplace32", "normal16-smallS", "laplace16"])
def test_telescoped_rates_against_numpy_loop(law, k, S):
    from quanttheory.blocks.expectation_min import block_mse_4over6_fast

    bf = get_block_format("nvfp4", block=k)
    bm, R = block_mse_4over6_fast(law, bf, tensor_scale=S)
    S = bm.tensor_scale
    sat, und, ovr, err = _numpy_loop_rates(law, bf, S, 1e-11)
    assert R.error <= 1e-9
    for got, want in ((R.saturation, sat), (R.scale_underflow, und), (R.scale_overflow, ovr)):
        assert abs(got - want) <= R.error + err + 1e-15, (got, want, R.error, err)
    # block_mse's 4over6 dispatch returns the same numbers
    b2 = block_mse(law, bf, "4over6", tensor_scale=S)
    assert (b2.mse, b2.saturation_rate, b2.scale_overflow_rate) == (bm.mse, R.saturation, R.scale_overflow)


def test_rates_in_one_kernel_call_bounds_and_targets():
    """Several ends in one call: each requested rate's bound is below its own target (P(S>0) and the
    saturation terms have separate targets), unrequested rates are NaN (0 if impossible), bounds 0."""
    law = Laplace()
    kp = law.kernel_params()
    bf = get_block_format("nvfp4", block=16)
    ms = np.array([1.3, 2.9, 6.1])
    X6 = np.array([_scales(law, 16, m)[1] for m in ms])
    X4 = np.array([_scales(law, 16, m)[2] for m in ms])
    needs = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]], bool)
    r = telescoped_stats(kp[0], kp[1], kp[2], bf.fmt, ms, X6, X4, 16, 1e-12, needs, np.array([1e-10, 1e-10, 3e-11]),
                         np.array([1e-10, 2e-12, 1e-11]))
    # not requested: NaN, or exactly 0 where the candidate cannot saturate (6 X6 >= m)
    assert (math.isnan(r.nu6_le[0]) or (r.nu6_le[0] == 0.0 and 6 * X6[0] >= ms[0])) and r.err_nu[0] == 0.0
    assert r.err_p[0] <= 1e-10
    assert math.isnan(r.P_pos[1]) and r.err_p[1] == 0.0 and r.err_nu[1] <= 2e-12
    assert r.err_p[2] <= 3e-11 and r.err_nu[2] <= 1e-11
    assert np.all(r.err_abs <= 2e-12)      # target 1e-12; the rounding floor (~1e-12 here) may exceed it
    # the same ends one by one agree (no state carried between ends)
    for i in range(3):
        ri = telescoped_stats(kp[0], kp[1], kp[2], bf.fmt, ms[i:i + 1], X6[i:i + 1], X4[i:i + 1], 16, 1e-12,
                              needs[i:i + 1], 1e-10 if i < 2 else 3e-11, [1e-10, 2e-12, 1e-11][i])
        assert np.array_equal(ri.abs_S, r.abs_S[i:i + 1])


def test_telescoped_stats_validates_input():
    law = Normal()
    kp = law.kernel_params()
    fmt = get_block_format("nvfp4").fmt
    one = np.array([2.0])
    with pytest.raises(ValueError, match="eps_p"):
        telescoped_stats(kp[0], kp[1], kp[2], fmt, one, one / 6, one / 4, 16, 1e-12, np.ones((1, 3), bool))
    with pytest.raises(ValueError, match="needs"):
        telescoped_stats(kp[0], kp[1], kp[2], fmt, one, one / 6, one / 4, 16, 1e-12, np.ones((2, 3), bool), 1e-9)
    with pytest.raises(ValueError, match="eps_p"):
        telescoped_stats(kp[0], kp[1], kp[2], fmt, one, one / 6, one / 4, 16, 1e-12, np.ones((1, 3), bool), -1.0)
    with pytest.raises(ValueError, match="law code"):
        telescoped_stats(2, 0.0, 1.0, fmt, one, one / 6, one / 4, 16, 1e-12)


def test_e8m0_4over6_is_round():
    # E8M0 "round" is E = round(log2 M) - emax whatever c, so the two 4-over-6 candidates are one scale:
    # quantize_blocks gives the same blocks, and block_mse answers with round's exact value (fast).
    from quanttheory.blocks import quantize_blocks
    from quanttheory.blocks.expectation import block_mse
    from quanttheory.laws import Laplace, Normal

    x = np.random.default_rng(3).standard_normal((64, 32)) * np.geomspace(0.01, 100, 64)[:, None]
    a = quantize_blocks(x, "mxfp4", rule="4over6")
    b = quantize_blocks(x, "mxfp4", rule="round")
    assert np.array_equal(a.values, b.values) and np.array_equal(a.scales, b.scales) and a.saturated == b.saturated
    for law in (Normal(0, 1), Laplace(0, 1)):
        r46 = block_mse(law, "mxfp4", "4over6")
        rr = block_mse(law, "mxfp4", "round")
        assert r46.rule == "4over6" and r46.mse == rr.mse and r46.saturation_rate == rr.saturation_rate


def test_plan_pass_and_budget_split():
    """The kernel's planning pass (``plan=True``: cells and tail bounds at ``L = L0``, no aliasing
    bound) returns at most the harmonics the full computation uses (``L`` is found from ``L0`` up),
    the most at the same end; each end's rate bound
    meets its own target (tail by bisection + the rest within the 10% kept); the budget split
    (``_split_p_budget``) keeps the total (weights of the P(S > 0) ends sum to at most their count,
    all > 0) and gives the top ends of Laplace k = 16 (the overflow window, the slow ones) more."""
    from quanttheory.blocks.expectation_min import _pieces_4over6, _split_p_budget

    law = Laplace()
    bf = get_block_format("nvfp4", block=16)
    S = default_tensor_scale(law, bf)
    kp = law.kernel_params()
    mlo, mhi = _range(law, 16, 1e-10)
    a, b, X6, u6, o6, X4, u4, o4 = _pieces_4over6(law, bf, 1.0, S, mlo, mhi)
    ip = np.nonzero((o6 != o4) | (u6 != u4))[0]
    assert ip.size >= 3
    ms, x6, x4 = b[ip], X6[ip], X4[ip]
    nd = np.stack([np.ones(ip.size, bool), (x6 * bf.lmax < ms), (x4 * bf.lmax < ms)], axis=1)
    g = np.clip(np.asarray(_G(law, ms), float), 0, 1) ** 16
    ea = np.full(ip.size, 1e-13)
    h, hA = telescoped_stats(kp[0], kp[1], kp[2], bf.fmt, ms, x6, x4, 16, ea, nd, 5e-11, 5e-12, plan=True)
    r = telescoped_stats(kp[0], kp[1], kp[2], bf.fmt, ms, x6, x4, 16, ea, nd, 5e-11, 5e-12)
    ndA = nd.copy()
    ndA[:, 0] = False
    rA = telescoped_stats(kp[0], kp[1], kp[2], bf.fmt, ms, x6, x4, 16, ea, ndA, 5e-11, 5e-12)
    # the plan is at L = L0 <= L (the aliasing search starts there and only grows L): fewer or as many
    # harmonics, proportional to L, and the same without P(S > 0); P binds at the top ends
    assert np.all(h <= r.harmonics) and np.all(hA <= rA.harmonics) and np.all(hA <= h)
    assert r.harmonics.max() > 10000 and int(np.argmax(h)) == int(np.argmax(r.harmonics))
    assert np.any(h > 2 * hA)
    assert np.all(r.err_p <= 5e-11) and np.all(r.err_nu <= 5e-12)
    w = _split_p_budget(kp[0], kp[1], kp[2], bf.fmt, ms, x6, x4, 16, ea, nd, g, 5e-11, np.full(ip.size, 5e-12))
    assert np.all(w > 0) and float(np.sum(w)) <= ip.size * (1 + 1e-12)
    top = int(np.argmax(h))
    assert w[top] > 1.0 and w[top] == w.max()
