"""Exact oracle expectation for MX formats (quanttheory/blocks/expectation_oracle.py, docs/blocks.md §2f).

* candidate-set check, MXFP4 numbers derived by hand (module doc / docs): per-element gain of
  X0/2 and X0/4 over X0 is 0.0625 X0^2 (x = 0.25 X0), the max element's loss at r = M/X0 = 4 is
  (4 - 3)^2 = 1 for X0/2 and (4 - 1.5)^2 = 6.25 for X0/4; 2 X0 wins only for r > 7;
* the pairwise identity on sampled and hand-built blocks: the brute-force optimum over 17
  exponents equals min(A, B, C), and A < B and C < B never hold together;
* Monte Carlo with the compiled per-block oracle (exact per block, brute force in its tests) within
  3 standard errors, k = 32 and k = 2 (MXINT8 k = 2: three candidates); inside oracle_bracket;
* k = 2 against an independent double integral (`slow`; outer scipy quad over x1, inner exact over
  x2: lower envelope of the candidate parabolas over every exponent in [-30, 9], Gauss-Legendre 20
  per smooth piece; the inner integral checked against a brute-force trapezoid at x1 = 0.3 in the
  session): agreement 4.6e-12 relative (shifted Laplace) / 4.8e-12 (Normal), a 1e-9 check.
"""

import math

import numpy as np
import pytest
from scipy import integrate

from quanttheory.blocks import get_block_format
from quanttheory.blocks.expectation import block_mse, monte_carlo_block_mse
from quanttheory.blocks.expectation_min import oracle_bracket
from quanttheory.blocks.expectation_oracle import block_mse_oracle, oracle_candidates
from quanttheory.blocks.spec import _block_sse, element_format
from quanttheory.laws import Laplace, Normal


# ------------------------------------------------------------------ candidate-set check, by hand
def test_mxfp4_candidates_by_hand():
    c = oracle_candidates("e2m1", 32)
    assert c.kept == (-1, 0, 1) and c.exact
    gain, loss = dict(c.gain), dict(c.min_loss)
    assert gain[-1] == 0.0625 and gain[-2] == 0.0625          # x = 0.25 X0: e_0 = 0.0625, e_fine = 0
    assert loss[-1] == 1.0 and loss[-2] == 6.25              # r = 4: (4 - 3)^2 and (4 - 1.5)^2, e_0(4) = 0
    how = dict(c.how)
    assert how[2] == "dominated by j = 1 pointwise" and how[-2].startswith("never beats")
    reg = dict(c.regions)
    assert reg[1] == ((7.0, 8.0),)                             # 2 X0 needs an element above 7 X0
    # X0/2 beats X0 only if 31 * 0.0625 > (r - 3)^2 - dist(r, G_X0)^2: r < 4.5 (loss(4.5) = 2.25 - 0.25 = 2)
    (ra, rb), = reg[-1]
    assert ra == 4.0 and 4.4 < rb <= 4.5


def test_gain_of_two_x0_by_hand():
    # e_0(x) - e_1(x) on |x| <= 8: 0 up to 7 (2 X0's levels 0..6 are levels of X0), then (x - 6)^2 - (x - 8)^2
    # = 4x - 28, largest at x = 8: 4.  (The stored gain is its max over |x| <= 8.)
    assert dict(oracle_candidates("e2m1", 32).gain)[1] == 4.0


@pytest.mark.parametrize("k,kept", [(2, (0, 1)), (16, (0, 1)), (17, (0, 1)), (18, (-1, 0, 1)), (64, (-1, 0, 1))])
def test_mxfp4_candidates_depend_on_k(k, kept):
    # X0/2 can win iff (k - 1) 0.0625 > min loss = 1 (r = 4): k - 1 > 16
    c = oracle_candidates("e2m1", k)
    assert c.kept == kept and c.exact


def test_large_k_not_exact_raises():
    # k = 128: X0/4 gains 127 * 0.0625 = 7.94 > 6.25: two fine candidates, no pairwise formula
    c = oracle_candidates("e2m1", 128)
    assert not c.exact and -2 in c.kept
    with pytest.raises(ValueError, match="oracle_bracket"):
        block_mse_oracle(Normal(), "mxfp4", block=128)


def test_bad_input():
    with pytest.raises(ValueError, match="E8M0"):
        block_mse_oracle(Normal(), "nvfp4")
    with pytest.raises(ValueError, match="oracle_bracket"):
        block_mse(Normal(), "nvfp4", "oracle")
    with pytest.raises(ValueError, match="unknown element"):
        oracle_candidates("e9m9", 32)
    with pytest.raises(ValueError, match="block size"):
        oracle_candidates("e2m1", 0)
    with pytest.raises(ValueError, match="tol"):
        block_mse_oracle(Normal(), "mxfp4", tol=1e-20)
    with pytest.raises(ValueError, match="max_harmonics"):
        block_mse_oracle(Normal(), "mxfp4", max_harmonics=10)


# ------------------------------------------------------------------ the identity on blocks
def _sse_offsets(xb, fmt, emax, js):
    M = np.max(np.abs(xb), axis=1)
    X0 = np.exp2(np.floor(np.log2(M)) - emax)
    return {j: _block_sse(xb, X0 * 2.0 ** j, fmt)[0] for j in js}


@pytest.mark.parametrize("element,emax", [("e2m1", 2), ("e2m3", 2), ("mxint8", 0)])
def test_identity_on_sampled_blocks(element, emax):
    rng = np.random.default_rng(1414)
    fmt = element_format(element)
    c = oracle_candidates(element, 32)
    n = 1 << 12
    for xb in (rng.standard_normal((n, 32)), rng.laplace(size=(n, 32)), rng.standard_t(3, size=(n, 32))):
        sse = _sse_offsets(xb, fmt, emax, range(-8, 9))
        brute = np.min(np.stack([sse[j] for j in sse]), axis=0)
        kept = np.min(np.stack([sse[j] for j in c.kept]), axis=0)
        assert np.array_equal(brute, kept)
        A, B, C = sse[1], sse[0], sse[-1]
        assert not np.any((A < B) & (C < B))
        for j, reg in c.regions:       # outside its region, j never beats X0
            r = np.max(np.abs(xb), axis=1) / np.exp2(np.floor(np.log2(np.max(np.abs(xb), axis=1))) - emax)
            inside = np.zeros(n, bool)
            for ra, rb in reg:
                inside |= (r >= ra) & (r <= rb)
            assert not np.any((sse[j] < B) & ~inside)


def test_identity_adversarial_mxfp4_by_hand():
    fmt = element_format("e2m1")
    blocks = np.array([[4.0] + [0.25] * 31,          # C wins: B = A = 31/16, C = (4 - 3)^2 = 1
                       [4.4] + [0.25] * 31,          # C = 1.4^2 = 1.96 < B = 0.16 + 1.9375 = 2.0975
                       [4.5] + [0.25] * 31,          # B = 0.25 + 1.9375 = 2.1875 < C = 2.25
                       [7.5] * 32,                   # A = 32 * 0.25 = 8 < B = 32 * 2.25 = 72
                       [7.0] + [0.25] * 31,          # A = B: 2X0 needs r > 7 to win
                       [7.01] + [0.75] * 31])
    sse = _sse_offsets(blocks, fmt, 2, range(-8, 9))
    A, B, C = sse[1], sse[0], sse[-1]
    np.testing.assert_allclose(B[:4], [1.9375, 2.0975, 2.1875, 72.0], rtol=1e-14)
    np.testing.assert_allclose(C[:4], [1.0, 1.96, 2.25, 32 * 4.5 ** 2], rtol=1e-14)
    np.testing.assert_allclose(A[[0, 3]], [1.9375, 8.0], rtol=1e-14)
    assert A[4] == B[4]
    brute = np.min(np.stack(list(sse.values())), axis=0)
    assert np.array_equal(brute, np.minimum(np.minimum(A, B), C))
    assert not np.any((A < B) & (C < B))


# ------------------------------------------------------------------ k = 2 independent reference
_GLZ, _GLW = np.polynomial.legendre.leggauss(20)


def _ref_k2(law, element, Es, B):
    """E[oracle] per element for k = 2: (1/2) int f(x1) int f(x2) min_E [e_E(x1) + e_E(x2)] dx2 dx1,
    every exponent E in Es (module doc)."""
    lv = np.asarray(element_format(element).levels, float)
    mids = 0.5 * (lv[:-1] + lv[1:])
    sc = np.exp2(np.asarray(Es, float))
    allm = np.unique(np.concatenate([s * mids for s in sc]))
    allm = np.unique(np.concatenate([allm, np.asarray(law.breakpoints(), float)]))   # + the law's kinks
    allm = allm[(allm > -B) & (allm < B)]
    edges = np.concatenate([[-B], allm, [B]])

    def near(x, s):                                   # nearest level of s * lv (vectorized over x)
        return s * lv[np.clip(np.searchsorted(mids, x / s), 0, lv.size - 1)]

    def inner(x1):
        cE = np.array([(x1 - near(np.array([x1]), s)[0]) ** 2 for s in sc])
        lo, hi = edges[:-1], edges[1:]
        ctr = 0.5 * (lo + hi)
        L = np.stack([near(ctr, s) for s in sc], axis=1)            # (panels, E): nearest level
        # value - x^2 = c_E - 2 l x + l^2 (lines): lower envelope, recursion where the ends disagree
        pieces = []
        vlo = cE - 2 * L * lo[:, None] + L ** 2
        vhi = cE - 2 * L * hi[:, None] + L ** 2
        ilo, ihi = np.argmin(vlo, axis=1), np.argmin(vhi, axis=1)
        same = ilo == ihi
        P = np.arange(lo.size)
        pieces.append((lo[same], hi[same], L[P[same], ilo[same]], cE[ilo[same]]))
        for p in P[~same]:
            stack = [(lo[p], hi[p])]
            lp = L[p]
            while stack:
                a, b = stack.pop()
                va, vb = cE - 2 * lp * a + lp ** 2, cE - 2 * lp * b + lp ** 2
                ia, ib = int(np.argmin(va)), int(np.argmin(vb))
                best = ia if vb[ia] <= vb[ib] else (ib if va[ib] <= va[ia] else -1)
                xs = math.nan
                if best < 0:
                    xs = (cE[ib] + lp[ib] ** 2 - cE[ia] - lp[ia] ** 2) / (2 * (lp[ib] - lp[ia]))
                if best < 0 and not (a < xs < b) or b - a < 1e-13:
                    # crossing at an end (a tie there, rounding): the line minimal at the midpoint
                    best = int(np.argmin(cE - 2 * lp * (0.5 * (a + b)) + lp ** 2))
                if best >= 0:
                    pieces.append((np.array([a]), np.array([b]), np.array([lp[best]]), np.array([cE[best]])))
                    continue
                stack += [(a, xs), (xs, b)]
        l, u, lev, c = (np.concatenate(z) for z in zip(*pieces))
        h = 0.5 * (u - l)
        x = 0.5 * (u + l)[:, None] + h[:, None] * _GLZ
        return float(np.sum((((x - lev[:, None]) ** 2 + c[:, None]) * law.pdf(x)) @ _GLW * h))

    # outer: one quad per panel between consecutive kinks of inner(x1) f(x1) (every exponent's midpoints,
    # the law's kinks), so no kink is left inside a panel
    val = err = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        if b > a:
            v, e = integrate.quad(lambda x: inner(x) * float(law.pdf(x)), a, b, epsabs=1e-16, epsrel=1e-13,
                                  limit=200)
            val, err = val + v, err + e
    return 0.5 * val, 0.5 * err


@pytest.mark.slow
@pytest.mark.parametrize("fmt,element,law,B", [("mxfp4", "e2m1", Laplace(0.3, 0.7), 40.0)],
                         ids=["mxfp4-laplace-shifted"])
def test_k2_against_double_integral(fmt, element, law, B):
    # exponents: at E = 9 every |x| <= B rounds to 0 (smallest level 0.5 x 2^9 / 2 = 128 >= B), e = x^2,
    # as for every larger E; E < -20 (levels <= 6 2^-20 ~ 6e-6) only matters for blocks with both
    # |x| < 1e-5 (probability < (2 p(0) 1e-5)^2 ~ 1e-10, error per element < 1e-10): < 1e-20 absolute.
    # (range(-30, 10) gave the same value to the last bit in 26 s CPU against 15 s; measured 2026-12-01)
    ex = block_mse_oracle(law, fmt, block=2)
    ref, qerr = _ref_k2(law, element, range(-20, 10), B)
    print(f"{fmt} k=2: exact {ex.mse!r} (err {ex.error_estimate:.1e}) reference {ref!r} (quad err {qerr:.1e}) "
          f"rel diff {abs(ex.mse - ref) / ref:.1e}")
    # observed (one quad per kink-free panel, the law's kinks among the inner pieces' ends, B = 40 so that
    # the Laplace(0.3, 0.7) tail beyond B, ~e^-56, is negligible): 4.6e-12 relative (Laplace(0.3, 0.7)),
    # 4.8e-12 (N(0,1), B = 12; ~27 s, not in the suite).  The first version of this reference (one quad
    # with at most 900 break points, B = 12, inner pieces not split at the law's kink) was off by 5.4e-8
    # (Normal) and 2.5e-6 (Laplace): errors of the reference, not of the package.  1e-9 is the issue's
    # accuracy target; the reference's own error estimate is ~1e-14 relative.
    assert qerr <= 1e-12 * ref
    assert abs(ex.mse - ref) <= 1e-9 * ref


# ------------------------------------------------------------------ Monte Carlo and the bracket
@pytest.mark.parametrize("fmt,law,k,seed", [("mxfp4", Normal(), 32, 21), ("mxfp4", Laplace(0.3, 0.7), 32, 22),
                                            ("mxint8", Normal(), 32, 23), ("mxfp6_e2m3", Laplace(), 32, 24),
                                            ("mxfp4", Normal(), 2, 25), ("mxint8", Laplace(0.3, 0.7), 2, 26),
                                            ("mxfp6_e3m2", Normal(), 32, 27), ("mxfp8_e5m2", Laplace(), 32, 28)],
                         ids=["mxfp4-normal", "mxfp4-laplace-shifted", "mxint8-normal", "e2m3-laplace",
                              "mxfp4-k2-normal", "mxint8-k2-laplace-shifted", "e3m2-normal", "e5m2-laplace"])
def test_against_monte_carlo_and_bracket(fmt, law, k, seed):
    if k != 32:
        assert len(oracle_candidates(get_block_format(fmt).element, k).kept) == (3 if fmt == "mxint8" else 2)
    ex = block_mse_oracle(law, fmt, block=k)
    if k == 32:
        assert block_mse(law, fmt, "oracle").mse == ex.mse
    # the bound: <= 2.1e-10 relative except MXINT8 (the kernel's rounding bound of E|S| at the ends:
    # 1.6e-9 at k = 32, 5.5e-9 at k = 2, docs/blocks.md §2f)
    assert ex.rule == "oracle" and ex.error_estimate <= (1e-8 if fmt == "mxint8" else 3e-10) * ex.mse
    mean, se, _ = monte_carlo_block_mse(law, fmt, "oracle", n=1 << 21, rng=seed, block=k)
    assert abs(mean - ex.mse) <= 3 * se
    br = oracle_bracket(law, fmt, block=k)
    assert br.lower - br.lower_error - ex.error_estimate <= ex.mse <= br.upper + ex.error_estimate
    # strictly better than every absmax rule (the oracle picks X0 or better per block)
    assert ex.mse < block_mse(law, fmt, "floor", block=k).mse


# ------------------------------------------------------------------ one-signed ends, shared budgets
def test_one_signed_by_hand_and_brute_force():
    # MXINT8 (levels i/64, -2 .. 127/64): X0's grid contains 2 X0's levels (i/32) up to 127/64, so where X0
    # does not clip (|x| <= 127/64 + 1/128) e_0 <= e_1, D_1 <= 0; at r = 2, x in (127/64 + 1/128, 2] rounds
    # to 127/64 under X0 and to 2 under 2 X0: D > 0.
    from quanttheory.blocks.expectation_oracle import _one_signed

    assert _one_signed("mxint8", 1, 1.9921875) and not _one_signed("mxint8", 1, 2.0)
    # E2M1: up to x = 7 both grids round to 6 or X0 is finer: D_1 <= 0; beyond 7, 2 X0 rounds to 8
    assert _one_signed("e2m1", 1, 7.0) and not _one_signed("e2m1", 1, 7.0 + 2.0 ** -20)
    # fine X0/2 of MXINT8 clips at 127/128 < 1: D_-1 < 0 just below 1, never one-signed on r >= 1
    assert not _one_signed("mxint8", -1, 1.0)
    # brute force on a dense grid of x (every level, midpoint and random points)
    lv = np.asarray(element_format("mxint8").levels, float)
    rng = np.random.default_rng(7)
    x = np.concatenate([lv, (lv[1:] + lv[:-1]) / 2, rng.uniform(-1.9921875, 1.9921875, 20000)])
    x = x[np.abs(x) <= 1.9921875]

    def e(x, s):
        q = s * lv
        return np.min((x[:, None] - q[None, :]) ** 2, axis=1)

    assert np.all(e(x, 1.0) - e(x, 2.0) <= 0.0)
    x2 = np.linspace(1.9921875 + 1 / 128 + 1e-6, 2.0, 50)
    assert np.all(e(x2, 1.0) - e(x2, 2.0) > 0.0)


@pytest.mark.parametrize("fmt,r,law", [("mxint8", 1.9921875, Normal()), ("mxint8", 1.9921875, Laplace(0.3, 0.7)),
                                       ("mxfp4", 7.0, Normal())])
@pytest.mark.parametrize("k", [2, 8])
def test_one_signed_closed_form_against_series(fmt, r, law, k):
    # |S| = -S there: G^k E_m|S| = k G^(k-1) (T(m, 2 X0) - T(m, X0)) against the characteristic-function
    # series of the 4over6 kernel (its own bound), at three ends m = r X0
    from quanttheory.blocks._expect_46 import telescoped_stats
    from quanttheory.blocks.expectation import _G, _T_pairs

    bf = get_block_format(fmt)
    _, loc, scale, _ = law.kernel_params()
    X0 = np.array([0.125, 0.25, 0.5]) if fmt == "mxint8" else np.array([0.0625, 0.125, 0.25])
    m = r * X0
    res = telescoped_stats(int(law.kernel_params()[0]), loc, scale, bf.fmt, m, X0, 2 * X0, k, np.full(3, 1e-16))
    T0, _, E0, _ = _T_pairs(law, bf.fmt, m, m * (1 + 2.0 ** -40), X0, (1e-19, 1.0))
    T1, _, E1, _ = _T_pairs(law, bf.fmt, m, m * (1 + 2.0 ** -40), 2 * X0, (1e-19, 1.0))
    closed = k * (T1 - T0) / np.asarray(_G(law, m), float)
    assert np.all(closed > 0)
    assert np.all(np.abs(res.abs_S - closed) <= res.err_abs + k * (E0 + E1) + 1e-14 * closed)


def test_shared_budgets_same_value():
    # the h^(3/4) split of the series budget (MXINT8 Laplace k = 2: ~1.7e5 harmonics at the equal split) moves
    # the value within both bounds, each bound stays below 2 tol relative, saturation within its bounds
    law = Laplace()
    a, A = block_mse_oracle(law, "mxint8", block=2, full=True, share_abs=False)
    b, B = block_mse_oracle(law, "mxint8", block=2, full=True)
    assert abs(a.mse - b.mse) <= a.error_estimate + b.error_estimate
    # (8.4e-10 while E1's cancelling differences were charged at the size of their terms, docs/audit.md
    # finding 12; 9.3e-11 since E1 is formed without cancellation)
    assert b.error_estimate <= 2e-10 * b.mse and a.error_estimate <= 2e-10 * a.mse
    assert abs(A.saturation - B.saturation) <= A.error + B.error and B.error <= 1e-9
