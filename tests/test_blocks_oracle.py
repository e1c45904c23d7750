"""Per-block optimal scale (the compiled oracle) against brute force over every scale value:
every E4M3 code (and 0) times the tensor scale, every E8M0 exponent, every float16 value in a
range around the block, and the exact real optimum from a full breakpoint sort (NumPy)."""

from __future__ import annotations

import numpy as np
import pytest

from quanttheory.blocks import get_block_format
from quanttheory.blocks.data import _real_oracle, oracle_scales
from quanttheory.formats import get_format


def _sse(x, X, fmt):
    """Block SSE at scales X (nb,) computed directly with the Format's quantizer; X = 0: zeros."""
    Xs = np.where(X > 0, X, 1.0)[:, None]
    q = np.where((X > 0)[:, None], Xs * fmt.quantize(x / Xs), 0.0)
    return np.sum((x - q) ** 2, axis=1)


def _brute(x, fmt, cands, with_zero):
    best = np.sum(x * x, axis=1) if with_zero else np.full(x.shape[0], np.inf)
    for c in cands:
        best = np.minimum(best, _sse(x, np.full(x.shape[0], c), fmt))
    return best


def _adversarial_blocks(rng, k, n=240):
    x = rng.standard_normal((n, k)) * rng.choice([1.0, 3.0, 0.01, 1e-4], size=(n, 1))
    x[0] = 0.0                                  # all-zero block
    x[1, 1:] = 0.0                              # one non-zero element
    x[2] = 1.0                                  # all equal
    x[3] = np.linspace(-1, 1, k)                # symmetric ramp
    x[4, :] = 0.01
    x[4, 0] = 5.0                               # one outlier
    x[5] = rng.laplace(size=k) * 7
    x[6] = -np.abs(x[6])                        # max on the negative side (asymmetric formats)
    x[7] = np.round(x[7] * 8) / 8               # values on a coarse grid (ties)
    return x


@pytest.mark.parametrize("name", ["nvfp4", "mxfp4", "mxfp6_e2m3", "mxfp6_e3m2", "mxfp8_e4m3", "mxint8"])
def test_code_oracle_equals_brute_force(name):
    rng = np.random.default_rng(17)
    bf = get_block_format(name)
    x = _adversarial_blocks(rng, bf.block)
    if bf.scale_format == "e4m3":
        e = np.asarray(get_format("e4m3").levels)
        cands_b = e[e > 0]
        for S in (float(np.max(np.abs(x))) / (448 * 6), 1e-3, 0.37, 50.0):   # incl. scale under/overflow
            X, sse = oracle_scales(x, bf, tensor_scale=S, return_sse=True)
            ref = _brute(x, bf.fmt, S * cands_b, True)
            got = _sse(x, X, bf.fmt)
            assert np.allclose(got, ref, rtol=1e-12, atol=0), S
            assert np.allclose(sse, got, rtol=1e-12, atol=0)
            # X is a code times S (or 0)
            assert np.all(np.isin(X[X > 0], S * cands_b) | (X[X > 0] == 0))
    else:
        X, sse = oracle_scales(x, bf, return_sse=True)
        ref = _brute(x, bf.fmt, np.exp2(np.arange(-127.0, 128.0)), False)
        got = _sse(x, X, bf.fmt)
        assert np.allclose(got, ref, rtol=1e-12, atol=0)
        assert np.all(np.log2(X) == np.round(np.log2(X)))


def test_code_oracle_float32_input_and_shape():
    rng = np.random.default_rng(3)
    bf = get_block_format("nvfp4")
    x32 = rng.standard_normal((6, 4, 16)).astype(np.float32)
    S = float(np.max(np.abs(x32))) / (448 * 6)
    X32 = oracle_scales(x32, bf, tensor_scale=S)
    X64 = oracle_scales(x32.astype(np.float64), bf, tensor_scale=S)
    assert X32.shape == (6, 4) and np.array_equal(X32, X64)


def _fp16_values(lo, hi):
    v = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)
    return v[(v >= lo) & (v <= hi) & (v > 0)]


@pytest.mark.parametrize("name", ["int4_g32", "int4_g64"])
def test_fp16_oracle_equals_brute_force(name):
    """Exact best float16 scale: brute force over EVERY positive float16 value in
    [M / 4096, 4 M] per block.  Above 2 M every element rounds to 0 (SSE = sum x^2, also
    covered); below M / 4096 the largest element alone costs (M - 7 X)^2 > ref (asserted)."""
    rng = np.random.default_rng(23)
    bf = get_block_format(name)
    x = _adversarial_blocks(rng, bf.block, n=40)
    x[x.shape[0] // 2:] *= 1e-3                  # fp16 subnormal scales
    X, sse = oracle_scales(x, bf, return_sse=True)
    assert np.all(np.isin(X, _fp16_values(0, 65504)))
    M = np.max(np.abs(x), axis=1)
    f16 = _fp16_values(0, 65504)
    for i in range(x.shape[0]):
        if M[i] == 0:
            assert sse[i] == 0
            continue
        lo = M[i] / 4096
        v = f16[(f16 >= lo) & (f16 <= 4 * M[i])]
        q = v[:, None] * bf.fmt.quantize(x[i][None, :] / v[:, None])
        ref = min(float(np.min(np.sum((x[i][None, :] - q) ** 2, axis=1))), float(np.sum(x[i] ** 2)))
        assert (M[i] - 7 * lo) ** 2 > ref
        got = _sse(x[i:i + 1], X[i:i + 1], bf.fmt)[0]
        assert abs(got - ref) <= 1e-12 * ref, (i, got, ref)


def test_fp16_oracle_beats_neighbours_of_real_optimum():
    """The old rule (the real optimum's two fp16 neighbours) is never better, sometimes worse."""
    rng = np.random.default_rng(5)
    bf = get_block_format("int4_g32")
    x = rng.standard_normal((2000, 32))
    X, sse = oracle_scales(x, bf, return_sse=True)
    Xr, _ = _real_oracle(x, bf.fmt)
    lo = Xr.astype(np.float16).astype(np.float64)
    nb = [np.nextafter(lo.astype(np.float16), np.float16(np.inf)).astype(np.float64),
          np.nextafter(lo.astype(np.float16), np.float16(0)).astype(np.float64), lo]
    old = np.min([_sse(x, c, bf.fmt) for c in nb], axis=0)
    assert np.all(sse <= old * (1 + 1e-12))
    assert np.all(np.isin(X, _fp16_values(0, 65504)))


@pytest.mark.parametrize("el", ["int4n", "e2m1", "mxint8"])
def test_real_oracle_equals_full_sort(el):
    rng = np.random.default_rng(29)
    bf = get_block_format(el, block=32, scale_format="real")
    x = _adversarial_blocks(rng, 32, n=300)
    x = x[np.max(np.abs(x), axis=1) > 0]
    X, sse = oracle_scales(x, bf, return_sse=True)
    Xr, sr = _real_oracle(x, bf.fmt)
    ref = _sse(x, Xr, bf.fmt)
    got = _sse(x, X, bf.fmt)
    tiny = 1e-20 * np.sum(x * x, axis=1)  # rounding noise of an exactly-zero optimum (one element)
    assert np.all(np.abs(got - ref) <= 1e-11 * ref + tiny)
    assert np.all(np.abs(sse - got) <= 1e-10 * got + tiny)


def test_dominance_threshold_by_hand():
    from quanttheory.blocks.data import _dominance_threshold

    # E2M1: L/2 = {0, .25, .5, .75, 1, 1.5, 2, 3} contains every level of [-3, 3], not 4; for
    # |u| <= 3.5 (the midpoint of 3 and 4) the level 3 is still (one of) the nearest: T = 3.5
    assert _dominance_threshold(np.asarray(get_format("e2m1").levels)) == 3.5
    assert _dominance_threshold(np.asarray(get_format("e2m1").levels), extend=False) == 3.0
    # INT4 narrow [-7, 7]: L/2 has the integers up to 3 (and 3.5), not 4: T = (3 + 4) / 2
    assert _dominance_threshold(np.arange(-7.0, 8.0)) == 3.5
    # MXINT8 k/64, k in [-128, 127]: L/2 = k/128 tops out at 127/128, so 1 = 64/64 is missing;
    # contained: [-63/64, 63/64], extended to the midpoints with +-1: 127/128
    assert _dominance_threshold(np.arange(-128, 128) / 64.0) == 127 / 128


@pytest.mark.parametrize("el", ["e2m1", "e2m3", "e3m2", "e4m3", "int4n", "mxint8"])
def test_dominance_lemma_brute_force(el):
    """SSE(X/2) <= SSE(X) for every block with M / X <= T (the dominance lemma), checked with
    the Format's own quantizer on random blocks, blocks with an element exactly at +-T (the
    tie of the extended threshold) and elements on the midpoints; and T is sharp enough to
    matter: just above the next level the lemma fails for some block."""
    from quanttheory.blocks.data import _dominance_threshold
    from quanttheory.blocks.spec import element_format

    fmt = element_format(el)
    lv = np.asarray(fmt.levels, dtype=np.float64)
    T = _dominance_threshold(lv)
    rng = np.random.default_rng(5)
    k = 16
    u = rng.uniform(-T, T, size=(4000, k))
    u[:1000, 0] = T
    u[1000:2000, 0] = -T
    mids = np.asarray(fmt.midpoints, dtype=np.float64)
    mids = mids[np.abs(mids) <= T]
    u[2000:3000, 1:] = rng.choice(mids, size=(1000, k - 1))
    u[2000:3000, 0] = rng.choice([T, -T], size=1000)
    u[3000:] *= rng.uniform(0.0, 1.0, size=(1000, 1))
    X = 0.37  # any positive scale: u = x / X; x / (X/2) = 2u
    x = u * X
    e_X = np.sum((x - X * fmt.quantize(x / X)) ** 2, axis=1)
    e_h = np.sum((x - (X / 2) * fmt.quantize(x / (X / 2))) ** 2, axis=1)
    assert np.all(e_h <= e_X * (1 + 1e-12) + 1e-300)
    # beyond: an element just above the level after g+ (u = next level): X/2 saturates or is
    # coarser for it, and the block of that element alone is worse at X/2
    nxt = float(np.min(lv[lv > T]))
    one = np.array([[nxt * X]])
    assert np.sum((one - X * fmt.quantize(one / X)) ** 2) == 0.0
    assert np.sum((one - (X / 2) * fmt.quantize(one / (X / 2))) ** 2) > 0.0


def test_oracle_and_4over6_monte_carlo_bracket_exact_rules():
    """Monte Carlo estimates of 4over6 and the oracle (docs/blocks.md; 4over6 also has an exact, slow, expectation):
    must lie below the exact expectation of the absmax rule they improve on (NVFP4, N(0,1)):
    4over6 <= round pathwise (it keeps the better of round and amax->4), oracle <= 4over6
    pathwise; checked on the same blocks and, for the means, against the exact round MSE."""
    from quanttheory.blocks.data import block_data_report
    from quanttheory.blocks.expectation import block_mse, monte_carlo_block_mse
    from quanttheory.laws import Normal

    ex = block_mse(Normal(), "nvfp4", "round")
    m46, se46, _ = monte_carlo_block_mse(Normal(), "nvfp4", "4over6", n=1 << 20, rng=5)
    mor, seor, _ = monte_carlo_block_mse(Normal(), "nvfp4", "oracle", n=1 << 20, rng=5)
    assert m46 + 3 * se46 < ex.mse
    assert mor < m46
    x = np.random.default_rng(8).standard_normal((512, 256))
    rep = {r.rule: r for r in block_data_report(x, "nvfp4", rules=["round", "4over6", "oracle"])}
    assert rep["oracle"].mse <= rep["4over6"].mse <= rep["round"].mse


# --- two-stage code search (float32 screening + exact stage): adversarial blocks -------------------------

_E4M3 = np.asarray(get_format("e4m3").levels)
_E4M3_POS = _E4M3[_E4M3 > 0]


def _brute_codes(x, bf, S):
    """Exact SSE of every E4M3 code times S (columns) and of the zero scale (last column)."""
    cands = S * _E4M3_POS
    cols = [_sse(x, np.full(x.shape[0], c), bf.fmt) for c in cands]
    cols.append(np.sum(x * x, axis=1))
    return np.stack(cols, axis=1), np.append(cands, 0.0)


def _check_codes(x, bf, S):
    """The oracle's SSE equals the brute-force minimum (1e-12 relative: the two sums round
    differently), its X is a code (or 0), and its returned SSE is the SSE of its X."""
    X, sse = oracle_scales(x, bf, tensor_scale=S, return_sse=True)
    Xn = oracle_scales(x, bf, tensor_scale=S)                 # without the exact SSE: same picks
    assert np.array_equal(X, Xn)
    table, vals = _brute_codes(x, bf, S)
    ref = table.min(axis=1)
    got = _sse(x, X, bf.fmt)
    assert np.all(np.isin(X, vals))
    assert np.all(np.abs(got - ref) <= 1e-12 * ref), np.flatnonzero(np.abs(got - ref) > 1e-12 * ref)
    assert np.all(np.abs(sse - got) <= 1e-12 * got)
    return X, table, vals


def test_nvfp4_near_ties_are_resolved_exactly():
    """Blocks whose two best codes are closer than the float32 screening tolerance
    ((k + 12) 2^-24 s2 ~ 1.7e-6 s2, so both survive to the exact stage), including exact ties:
    found by brute force among 4 10^4 N(0,1) blocks (about 1% of them; at least 50 asserted),
    then the oracle must give the brute-force minimum on each of them."""
    bf = get_block_format("nvfp4")
    rng = np.random.default_rng(99)
    x = rng.standard_normal((40000, 16)).astype(np.float32).astype(np.float64)
    S = float(np.max(np.abs(x))) / (448 * 6)
    table, vals = _brute_codes(x, bf, S)
    two = np.sort(table, axis=1)[:, :2]
    near = (two[:, 1] - two[:, 0]) <= 2 * 28 * 2.0 ** -24 * np.sum(x * x, axis=1)
    assert np.count_nonzero(near) >= 50
    _check_codes(x[near], bf, S)


def test_nvfp4_exact_zero_ties_pick_the_smallest_code():
    """Blocks on the grid of several codes (SSE exactly 0 at each): the oracle must return the
    smallest code with SSE 0 (ties go to the smaller scale), found here by brute force."""
    bf = get_block_format("nvfp4")
    S = 0.125
    rng = np.random.default_rng(41)
    x = np.zeros((60, 16))
    for i in range(60):
        c = S * _E4M3_POS[rng.integers(20, 110)]
        x[i] = c * rng.choice(np.asarray(bf.fmt.levels), size=16)
        x[i, 0] = 6 * c
    X, table, vals = _check_codes(x, bf, S)
    for i in range(x.shape[0]):
        zero = vals[(table[i] == 0) & (vals > 0)]
        assert X[i] == zero.min()


@pytest.mark.parametrize("mag,S", [(1e35, None), (1e-33, None), (1e-30, 1e-33), (1e-42, None), (3.0, 1e-5),
                                   (3.0, 50.0), (1e30, 1e27), (1e-33, 1e-36)])
def test_nvfp4_extreme_magnitudes(mag, S):
    """Float32 screening needs 2^-120 <= X <= 2^120, M <= 2^100 and M / X <= 2^60; beyond that
    (huge blocks, tiny blocks and codes, scale overflow and underflow of the code range)
    codes are evaluated exactly in stage 1.  Both paths, and blocks whose codes straddle the
    limit, must agree with brute force (float64 data: the float32 copy rounds too)."""
    bf = get_block_format("nvfp4")
    rng = np.random.default_rng(7)
    x = _adversarial_blocks(rng, 16, n=120) * mag
    S = float(np.max(np.abs(x))) / (448 * 6) if S is None else S
    _check_codes(x, bf, S)


def test_nvfp4_float32_data_ties_and_subnormal_scales():
    """float32 input (the kernel reads it natively): values on the E2M1 midpoints of a code
    (ties: round half to even on the element grid), blocks whose best code is an E4M3
    subnormal code, and blocks that underflow to the zero scale."""
    bf = get_block_format("nvfp4")
    rng = np.random.default_rng(11)
    S = 1.0
    x = rng.standard_normal((300, 16)).astype(np.float32)
    mids = np.asarray(bf.fmt.midpoints)
    for i in range(0, 100):                         # ties: x / code exactly on a midpoint
        c = _E4M3_POS[rng.integers(30, 100)]
        x[i] = (c * rng.choice(mids, size=16)).astype(np.float32)
    x[100:150] *= np.float32(2.0 ** -9)             # best codes among the E4M3 subnormals
    x[150:170] *= np.float32(2.0 ** -14)            # below every code: zero scale or the smallest code
    x[170] = 0.0
    _check_codes(x.astype(np.float64), bf, S)
    X32 = oracle_scales(x, bf, tensor_scale=S)
    X64 = oracle_scales(x.astype(np.float64), bf, tensor_scale=S)
    assert np.array_equal(X32, X64)


def test_nvfp4_random_blocks_many_scales():
    """10^4 N(0,1) and Laplace blocks against the 126-code brute force, tensor scale from amax."""
    bf = get_block_format("nvfp4")
    rng = np.random.default_rng(2024)
    x = np.concatenate([rng.standard_normal((5000, 16)), rng.laplace(size=(5000, 16))]).astype(np.float32)
    S = float(np.max(np.abs(x))) / (448 * 6)
    _check_codes(x.astype(np.float64), bf, S)


def test_partial_last_block_oracle():
    """A partial last block (partial=True) is zero-padded: its oracle SSE is that of its own
    elements (brute force on the unpadded 5 elements), and the report's MSE counts only real
    elements."""
    from quanttheory.blocks.data import block_data_report

    bf = get_block_format("nvfp4")
    rng = np.random.default_rng(13)
    x = rng.standard_normal(16 * 7 + 5)
    S = float(np.max(np.abs(x))) / (448 * 6)
    rep = {r.rule: r for r in block_data_report(x, "nvfp4", rules=["oracle"], tensor_scale=S, partial=True)}
    full = x[:112].reshape(7, 16)
    last = x[112:][None, :]
    e4 = np.asarray(get_format("e4m3").levels)
    cands = S * e4[e4 > 0]
    ref = float(np.sum(_brute(full, bf.fmt, cands, True)) + np.sum(_brute(last, bf.fmt, cands, True)))
    assert abs(rep["oracle"].mse * x.size - ref) <= 1e-12 * ref


@pytest.mark.parametrize("name", ["mxfp4", "mxfp8_e4m3", "mxint8"])
def test_e8m0_oracle_extreme_and_float32(name):
    """E8M0 blocks at the ends of the exponent range (2^-127 .. 2^127 scales), float32 input."""
    rng = np.random.default_rng(19)
    bf = get_block_format(name)
    x = _adversarial_blocks(rng, bf.block, n=60)
    x = np.concatenate([x * 1e-38, x * 1e37, x.astype(np.float32).astype(np.float64)])
    X, sse = oracle_scales(x, bf, return_sse=True)
    assert np.array_equal(X, oracle_scales(x, bf))
    ref = _brute(x, bf.fmt, np.exp2(np.arange(-127.0, 128.0)), False)
    got = _sse(x, X, bf.fmt)
    assert np.all(np.abs(got - ref) <= 1e-12 * ref)
    assert np.all(np.abs(sse - got) <= 1e-12 * got)
