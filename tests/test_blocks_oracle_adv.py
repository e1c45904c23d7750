"""NVFP4 per-block oracle (E4M3 block scale x tensor scale S) on adversarial blocks, against a
brute-force sweep of the 0 scale and all 126 positive E4M3 codes with float64 SSE (the Format's
own quantizer).  Tie rule (docs/blocks.md, section 3): the smallest exact SSE wins, ties go to
the smaller scale (the 0 scale first); an all-zero block is exact at every scale and reports
the smallest positive code.  Several expected codes are derived by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from quanttheory.blocks import get_block_format, quantize_blocks
from quanttheory.blocks.data import oracle_scales
from quanttheory.formats import get_format

BF = get_block_format("nvfp4")
_E = np.asarray(get_format("e4m3").levels, dtype=np.float64)
E4M3 = _E[_E > 0]                      # the 126 positive codes, ascending


def _sweep(x, S):
    """(nb, 127) float64 SSE of every candidate [0, S * E4M3...], and the brute-force pick:
    the first minimum (candidates ascending: ties -> the smaller scale, 0 first)."""
    cands = np.concatenate([[0.0], S * E4M3])
    sse = np.empty((x.shape[0], cands.size))
    sse[:, 0] = np.sum(x * x, axis=1)
    for j, c in enumerate(cands[1:], 1):
        sse[:, j] = np.sum((x - c * BF.fmt.quantize(x / c)) ** 2, axis=1)
    return cands, sse, cands[np.argmin(sse, axis=1)]


def _check(x, S, exact_arith=False):
    """Kernel pick == brute-force pick.  With float64 roundings in the SSE (``exact_arith``
    False) two codes closer than 1e-13 relative could be ordered differently by the two
    summation orders: there the kernel's pick must reach the minimum within that margin;
    otherwise (dyadic data: every SSE is exact in float64) the codes must be equal."""
    X, sse = oracle_scales(x, BF, tensor_scale=S, return_sse=True)
    cands, table, pick = _sweep(x, S)
    best = table.min(axis=1)
    r = np.arange(x.shape[0])
    j = np.searchsorted(cands, X)
    assert np.all(cands[j] == X), "not a candidate scale"
    got = table[r, j]
    if exact_arith:
        assert np.array_equal(X, pick)
        assert np.array_equal(sse, best)
    else:
        srt = np.sort(table, axis=1)
        clear = srt[:, 1] - srt[:, 0] > 1e-13 * srt[:, 0]
        assert np.array_equal(X[clear], pick[clear])
        assert np.all(got <= best * (1 + 1e-13))
        assert np.allclose(sse, got, rtol=1e-13, atol=0)
    return X


def test_hand_derived_blocks():
    S = 1.0
    x = np.zeros((5, 16))
    # 0: all zero: exact everywhere; the kernel reports the smallest positive code (SSE 0)
    # 1: sixteen 6s: X = 1 maps them to the level 6 exactly; every smaller code saturates
    #    (X = 0.9375: 6 / X = 6.4 -> 6, error 0.375); larger exact codes (1.5, 2, 3, ...) tie at 0
    #    and lose the tie to the smaller scale: expected 1.0
    x[1] = 6.0
    # 2: one element 7: X = 1.75 gives u = 4 (exact); no smaller code is exact (u = 6 needs
    #    X = 7/6, not a code; u in (6, 7) saturates): expected 1.75
    x[2, 3] = 7.0
    # 3: one huge value 1000 and fifteen 1e-3 (round to 0 at every candidate: 1e-3 / X < 0.25 X
    #    ... they add 15e-6 to every code).  Top element: X = 256 -> u = 3.906 -> 4, error 24
    #    (SSE 576); X = 240 -> 4.17 -> 4, error 40; X = 160 -> 6.25 -> 6, error 40; X = 320 ->
    #    3.125 -> 3, error 40; X = 448 -> 2.23 -> 2, error 104: expected 256
    x[3] = 1e-3
    x[3, 7] = 1000.0
    # 4: same with the huge value negative (the grid is symmetric): expected 256
    x[4] = -x[3]
    X = _check(x, S)
    assert X[0] == E4M3[0]
    assert X[1] == 1.0 and X[2] == 1.75 and X[3] == 256.0 and X[4] == 256.0


def test_exact_ties_between_codes_dyadic():
    """Dyadic data (multiples of 1/16 up to 8, S = 1): every SSE is exact in float64, so exact
    ties between codes are real ties; the smaller code must win.  The rows are chosen so that
    many have a tie at the minimum (checked: at least 20 of them)."""
    rng = np.random.default_rng(23)
    x = rng.integers(-128, 129, size=(3000, 16)) / 16.0
    x[:1500, 4:] = 0.0                          # sparse rows: more exact ties
    x[1500:2000] = np.round(x[1500:2000] / 2) * 2
    _, table, _ = _sweep(x, 1.0)
    srt = np.sort(table, axis=1)
    assert np.count_nonzero(srt[:, 1] == srt[:, 0]) >= 20
    _check(x, 1.0, exact_arith=True)


@pytest.mark.parametrize("mag, S", [(1e-300, 1e-303), (1e-310, 1e-312), (1e-40, 1e-42), (3e35, 1e33)])
def test_subnormal_and_extreme_ranges(mag, S):
    """Data in the float64 subnormal range (1e-310, codes ~ 1e-312 and below), float32-subnormal
    magnitudes (1e-40) and near the float32 top (3e35): both stage-1 paths (float32 screening
    and exact float64) and the 0 scale."""
    rng = np.random.default_rng(29)
    x = rng.standard_normal((200, 16)) * mag
    x[0] = 0.0
    x[1, 1:] = 0.0
    x[2] = mag
    _check(x, S)


def test_random_blocks_many_tensor_scales():
    rng = np.random.default_rng(31)
    x = rng.standard_normal((2000, 16)) * rng.choice([1.0, 0.05, 20.0], size=(2000, 1))
    x[::7] = rng.laplace(size=(len(x[::7]), 16))
    for S in (float(np.max(np.abs(x))) / (448 * 6), 2.0 ** -9, 0.3, 7.0):
        _check(x, S)


def test_float32_input_same_as_float64():
    rng = np.random.default_rng(37)
    x = rng.standard_normal((500, 16)).astype(np.float32)
    S = float(np.max(np.abs(x))) / (448 * 6)
    X32 = oracle_scales(x, BF, tensor_scale=S)
    X64 = _check(x.astype(np.float64), S)
    assert np.array_equal(X32, X64)


def test_partial_last_block():
    """40 elements, blocks of 16 with partial=True: the last block holds 8 elements and its
    scale comes from them alone (the brute force sees only those 8)."""
    rng = np.random.default_rng(41)
    x = rng.standard_normal(40)
    x[-3] = 9.0                                 # the last block's absmax
    S = 0.01
    q = quantize_blocks(x, "nvfp4", rule="oracle", tensor_scale=S, partial=True)
    scales = np.ravel(q.scales)
    assert scales.size == 3
    for b, seg in enumerate((x[:16], x[16:32], x[32:])):
        _, table, pick = _sweep(seg[None, :], S)
        assert scales[b] == pick[0]
    with pytest.raises(ValueError):
        quantize_blocks(x, "nvfp4", rule="oracle", tensor_scale=S)


def test_single_survivor_near_the_zero_option():
    """A block whose best code beats the zero scale by less than the float32 screening bound
    (2^-19 relative): the screen alone cannot separate the two, so the single screened code must
    be evaluated exactly.  (Until 2026-11-29 the float32 kernel returned the zero scale here.)

    Hand derivation (S = 1): one element x = 2^-11 (1 + 2^-22), fifteen zeros.  At the smallest
    code X = 2^-9 (E4M3 subnormal, m = 1), u = x / X = 0.25 (1 + 2^-22) is just above the
    midpoint 0.25, so it rounds to 0.5: error 2^-10 - x = 2^-11 (1 - 2^-22) < x.  Every larger
    code gives u < 0.25 (level 0, error x), as does the zero scale.  So X = 2^-9, SSE =
    (2^-11 (1 - 2^-22))^2 (exact in float64).  With x = 2^-11 exactly, u = 0.25 is a tie that
    rounds to the even level 0: every option has error x and the zero scale wins the tie."""
    x = np.zeros((2, 16))
    x[0, 0] = 2.0 ** -11 * (1 + 2.0 ** -22)
    x[1, 0] = 2.0 ** -11
    X, sse = oracle_scales(x, BF, tensor_scale=1.0, return_sse=True)
    assert X[0] == 2.0 ** -9 and sse[0] == (2.0 ** -11 * (1 - 2.0 ** -22)) ** 2
    assert X[1] == 0.0 and sse[1] == 2.0 ** -22
    # float32 input: 2^-11 (1 + 2^-23) is a float32; the same derivation with 2^-23
    x32 = x.astype(np.float32)
    x32[0, 0] = np.float32(2.0 ** -11 * (1 + 2.0 ** -23))
    X, sse = oracle_scales(x32, BF, tensor_scale=1.0, return_sse=True)
    assert X[0] == 2.0 ** -9 and sse[0] == (2.0 ** -11 * (1 - 2.0 ** -23)) ** 2
    assert X[1] == 0.0
    for xx in (x, x32.astype(np.float64)):
        _check(xx, 1.0, exact_arith=True)


def test_all_zero_codes_lose_their_tie_to_the_zero_scale():
    """Every code rounds the block to 0 (M = 2^-14 < 2^-9 / 4, S = 1): each code's SSE is
    sum x^2, the zero scale's too, so the zero scale (the smaller) wins; float32 and float64
    input give the same answer (the kernel screens such codes; their float64 sums must not
    break the tie by a rounding of the summation order)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, size=(64, 16)).astype(np.float32) * np.float32(2.0 ** -14)
    X32 = oracle_scales(x, BF, tensor_scale=1.0)
    X64 = oracle_scales(x.astype(np.float64), BF, tensor_scale=1.0)
    assert np.all(X32 == 0.0) and np.all(X64 == 0.0)


def test_codes_at_the_ends_of_the_e4m3_range():
    """The window at both ends of the code list (S = 1).

    * sixteen elements 10752 = 4 * 448 * 6: every code saturates them; the error 10752 - 6 X
      falls as X grows, so the largest code 448 wins (SSE 16 (10752 - 2688)^2), also negated;
    * sixteen elements 5 * 2^-9: at the subnormal code X = 5 * 2^-9 (m = 5) they sit on the
      level 1 (SSE 0).  Zero error needs X = 5 * 2^-9 / l for a level l in {0.5, 1, 1.5, 2, 3,
      4, 6}: only l = 1 gives an E4M3 value, so that code is the unique optimum;
    * sixteen elements 6 * 2^-9: SSE 0 at 2^-9 (level 6), 2^-8 (3), 1.5 * 2^-8 (2) ...: ties at
      0, the smallest code 2^-9 wins."""
    x = np.empty((4, 16))
    x[0] = 10752.0
    x[1] = -10752.0
    x[2] = 5 * 2.0 ** -9
    x[3] = 6 * 2.0 ** -9
    X, sse = oracle_scales(x, BF, tensor_scale=1.0, return_sse=True)
    assert list(X) == [448.0, 448.0, 5 * 2.0 ** -9, 2.0 ** -9]
    assert sse[0] == sse[1] == 16 * (10752.0 - 2688.0) ** 2 and sse[2] == 0.0 and sse[3] == 0.0
    _check(x, 1.0, exact_arith=True)


def test_rne_step_rounds_to_the_step_inside_fastmath_kernels():
    """The E4M3 kernel's float32 screen rounds by ``(a + C) - C`` (``C = 1.5 2^23 s``) inside a
    reassociating (fastmath) kernel; folded to ``a`` it would give 0 error everywhere (a plain
    ``a - ((a + C) - C)`` in such a kernel does fold to 0).  Expected
    values by hand: multiples of s/4 (quarter steps: exact ties at the odd ones, which go to the
    even multiple of s) and 10^4 random values, against numpy's float32 round-half-even."""
    import numba

    from quanttheory.blocks._kernels import _rne_resid

    @numba.njit(fastmath={"reassoc", "nsz"})
    def resid(a, C, out):
        top = np.float32(np.inf)
        for i in range(a.size):
            out[i] = _rne_resid(a[i], C, top)

    rng = np.random.default_rng(3)
    for s in (0.5, 1.0, 2.0, 2.0 ** -20):
        a = np.concatenate([np.arange(0, 400) * (s / 4), rng.uniform(0, 1000 * s, 10000)]).astype(np.float32)
        out = np.empty_like(a)
        resid(a, np.float32(1.5 * 2.0 ** 23 * s), out)
        expect = a - (np.rint(a / np.float32(s)) * np.float32(s)).astype(np.float32)
        assert np.array_equal(out, expect)
        assert np.any(out != 0)
        # ties by hand: 0.5 s -> 0, 1.5 s -> 2 s, 2.5 s -> 2 s
        assert list(out[[2, 6, 10]]) == [np.float32(0.5 * s), np.float32(-0.5 * s), np.float32(0.5 * s)]


@pytest.mark.parametrize("element", ["mxint8", "int4n", "e2m3"])
def test_e4m3_scales_on_other_grids(element):
    """The E4M3 kernel also serves other element grids with at most two binade starts (E4M3
    block scales chosen explicitly): MXINT8 is asymmetric (levels -2 .. 127/64: a negative
    maximum clips at 2, a positive one at 127/64, per element), INT4 narrow is uniform, E2M3 has
    two binade starts.  Against the brute-force sweep of the 0 scale and all 126 codes, on N(0,1)
    blocks, blocks whose maximum is negative, and blocks with values on the grid of a code
    (ties).  Hand check (MXINT8, S = 1): sixteen -2s are exact at X = 1 (level -2), and at no
    smaller code (saturation at -2 X), so X = 1 unless a smaller code is also exact: -2 = X l
    needs l = -2 / X in the level set {-2, -127/64, ..., 127/64}, i.e. X >= 1: X = 1."""
    bf = get_block_format("nvfp4" if element == "e2m1" else element, block=16, scale_format="e4m3")
    rng = np.random.default_rng(17)
    x = rng.standard_normal((300, 16))
    x[100:150] = -np.abs(x[100:150])
    lv = np.asarray(bf.fmt.levels)
    for i in range(150, 200):
        x[i] = E4M3[rng.integers(40, 90)] * rng.choice(lv, size=16)
    x[200] = -2.0
    S = 1.0
    X, sse = oracle_scales(x, bf, tensor_scale=S, return_sse=True)
    cands = np.concatenate([[0.0], S * E4M3])
    table = np.empty((x.shape[0], cands.size))
    table[:, 0] = np.sum(x * x, axis=1)
    for j, c in enumerate(cands[1:], 1):
        table[:, j] = np.sum((x - c * bf.fmt.quantize(x / c)) ** 2, axis=1)
    best = table.min(axis=1)
    j = np.searchsorted(cands, X)
    assert np.all(cands[j] == X)
    got = table[np.arange(x.shape[0]), j]
    assert np.all(got <= best * (1 + 1e-13))
    srt = np.sort(table, axis=1)
    clear = srt[:, 1] - srt[:, 0] > 1e-13 * srt[:, 0]
    assert np.array_equal(X[clear], cands[np.argmin(table, axis=1)][clear])
    assert np.allclose(sse, got, rtol=1e-13, atol=0)
    if element == "mxint8":
        assert X[200] == 1.0 and sse[200] == 0.0
