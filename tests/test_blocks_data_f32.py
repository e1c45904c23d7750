"""The float32 code kernel ``oracle_f32`` (NVFP4 E4M3 scales, MXFP4 / MXFP6 E2M3 / MXINT8 E8M0
scales), checked against an independent brute force: every candidate scale (0 and the 126
positive E4M3 codes times S, or all 255 E8M0 exponents), float64 SSE, with the element levels
enumerated from ``ml_dtypes`` (every bit pattern of the element dtype) and the nearest one
taken by brute force over all levels, ties to the even bit pattern (round-to-nearest-even,
saturating).  (``astype`` of float64 to ``float4_e2m1fn`` is not used: it rounds through
float32 first, a double rounding: ``u = 1.25000002`` becomes 1.25, then 1.0 instead of 1.5.)  Tolerance: the kernel's SSE and the brute force's
minimum differ only by the float64 summation order (16-32 terms: < 1e-14 relative), so
1e-12 relative; the picked scale must equal the brute-force pick wherever the two best
candidates are more than 1e-12 apart (ties go to the smaller scale, 0 first; dyadic data with
exact ties: identical picks)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from quanttheory.blocks import get_block_format
from quanttheory.blocks.data import oracle_scales
from quanttheory.formats import get_format

_E = np.asarray(get_format("e4m3").levels, dtype=np.float64)
E4M3 = _E[_E > 0]
E8M0 = np.exp2(np.arange(-127.0, 128.0))


def _levels(dt, nbits):
    """(levels, even) of an ml_dtypes element type: every bit pattern's value (-0 dropped), and
    whether its pattern is even (the tie winner of round-to-nearest-even)."""
    codes = np.arange(1 << nbits, dtype=np.uint8)
    v = codes.view(dt).astype(np.float64)
    keep = ~((v == 0) & (codes >= (1 << (nbits - 1))))
    return v[keep], (codes[keep] % 2 == 0)


LEVELS = {"e2m1": _levels(ml_dtypes.float4_e2m1fn, 4), "e2m3": _levels(ml_dtypes.float6_e2m3fn, 6)}


def _q(u, element):
    """Nearest ml_dtypes level of every ``u`` by brute force over the levels, ties to even."""
    lv, even = LEVELS[element]
    u = np.asarray(u, dtype=np.float64)
    d = np.abs(u[..., None] - lv)
    dmin = d.min(axis=-1, keepdims=True)
    pick = np.argmax((d == dmin) & even, axis=-1)
    # a tie has one even and one odd neighbour; without a tie the single nearest level wins
    single = np.sum(d == dmin, axis=-1) == 1
    pick = np.where(single, np.argmin(d, axis=-1), pick)
    return lv[pick]


def _brute(x, element, cands):
    """(nb, nc) float64 SSE of every candidate (0 = the whole block to zero)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty((x.shape[0], cands.size))
    for j, c in enumerate(cands):
        out[:, j] = np.sum(x * x, axis=1) if c == 0 else np.sum((x - c * _q(x / c, element)) ** 2, axis=1)
    return out


def _check(x, name, S=1.0, exact=False):
    bf = get_block_format(name)
    cands = np.concatenate([[0.0], S * E4M3]) if bf.scale_format == "e4m3" else E8M0
    X, sse = oracle_scales(x, bf, tensor_scale=S, return_sse=True)
    assert np.array_equal(X, oracle_scales(x, bf, tensor_scale=S)), "return_sse changed the picks"
    table = _brute(x, bf.element, cands)
    best = table.min(axis=1)
    pick = cands[np.argmin(table, axis=1)]
    r = np.arange(x.shape[0])
    j = np.searchsorted(cands, X)
    assert np.all(cands[np.minimum(j, cands.size - 1)] == X), "not a candidate scale"
    got = table[r, j]
    assert np.all(got <= best * (1 + 1e-12)), "not the optimum"
    assert np.all(np.abs(sse - got) <= 1e-12 * got), "reported SSE is not the exact one"
    srt = np.sort(table, axis=1)
    clear = srt[:, 1] - srt[:, 0] > 1e-12 * srt[:, 0]
    assert np.array_equal(X[clear], pick[clear]), "wrong scale where the optimum is clear"
    if exact:
        assert np.array_equal(X, pick) and np.array_equal(sse, best)
    return X


def _blocks(rng, k, n):
    """N(0,1), Laplace, heavy-tailed and adversarial blocks (float32-representable)."""
    rows = [rng.standard_normal((n, k)), rng.laplace(size=(n, k)), rng.standard_t(2, size=(n, k))]
    adv = np.zeros((8, k))
    adv[1, 3] = 1.0                                   # one non-zero element
    adv[2] = 6.0                                      # all on the top grid point
    adv[3] = np.resize([0.5, 1, 1.5, 2, 3, 4, 6, -6], k)   # every E2M1 grid point
    adv[4] = np.resize([1.75, -0.25, 3.5, 5], k)      # midpoints: ties inside the element grid
    adv[5, 0] = 1000.0
    adv[5, 1:] = 1e-3                                 # one outlier
    adv[6] = np.linspace(-1, 1, k)                    # ramp
    adv[7] = -np.linspace(0, 1, k) ** 3
    return np.concatenate(rows + [adv]).astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("S", [1.0, 1e-3, 3.7e-5, 2.0 ** -20])
def test_nvfp4_equals_ml_dtypes_brute_force(S):
    rng = np.random.default_rng(140)
    x = _blocks(rng, 16, 300)
    _check(x, "nvfp4", S)
    _check(x.astype(np.float32), "nvfp4", S)


def test_nvfp4_dyadic_exact_ties():
    """Dyadic data (every SSE exact in float64): identical picks, ties to the smaller code.  Hand
    check: sixteen 3s at S = 1: the codes 0.5 (3/0.5 = 6) and 1 (3/1 = 3) are both exact (SSE 0),
    also 0.75 (4 -> 3 exactly): the smallest, 0.5, wins."""
    rng = np.random.default_rng(141)
    x = rng.integers(-48, 49, size=(400, 16)).astype(np.float64) / 16
    x[0] = 3.0
    X = _check(x, "nvfp4", 1.0, exact=True)
    assert X[0] == 0.5


def test_nvfp4_subnormal_codes_and_zero_scale():
    """Blocks whose best code is an E4M3 subnormal (2^-9 .. 7 2^-9) times S, and blocks below every
    code (the zero scale wins: every code rounds them to 0, SSE = sum x^2, tie -> 0)."""
    rng = np.random.default_rng(142)
    x = rng.standard_normal((200, 16)) * 2.0 ** -9
    tiny = rng.standard_normal((50, 16)) * 2.0 ** -14
    X = _check(np.concatenate([x, tiny]), "nvfp4", 1.0)
    assert np.all(X[200:] == 0.0)
    assert np.any(X[:200] < 2.0 ** -6)            # subnormal codes do win


@pytest.mark.parametrize("name,element", [("mxfp4", "e2m1"), ("mxfp6_e2m3", "e2m3")])
def test_e8m0_equals_ml_dtypes_brute_force(name, element):
    """All 255 E8M0 exponents; magnitudes from float32 subnormals (every exponent rounds the block
    to 0: the smallest exponent wins the tie) to 3e38 (no exponent maps the block to 0)."""
    rng = np.random.default_rng(143)
    k = get_block_format(name).block
    x = _blocks(rng, k, 100)
    m = np.max(np.abs(x), axis=1, keepdims=True)
    unit = x / np.where(m > 0, m, 1.0)                # block absmax 1 (or an all-zero block)
    x = np.concatenate([x, unit * 1e-36, unit * 3e38, np.full((1, k), 3e38), np.full((1, k), 1e-45)])
    x = x.astype(np.float32)
    X = _check(x, name)
    assert X[-1] == 2.0 ** -127


def test_all_zero_block_and_partial_block():
    """All-zero block: every scale is exact; the kernel reports the smallest candidate (E4M3: the
    smallest positive code times S; E8M0: 2^-127) with SSE 0.  A partial last block (zero padded)
    gets the optimum of its own elements."""
    for name, first in (("nvfp4", 2.0 ** -9), ("mxfp4", 2.0 ** -127)):
        bf = get_block_format(name)
        X, s = oracle_scales(np.zeros((2, bf.block)), bf, return_sse=True)
        assert np.all(X == first) and np.all(s == 0)
    rng = np.random.default_rng(144)
    x = rng.standard_normal(16 * 20 + 7)
    pad = np.concatenate([x, np.zeros(9)]).reshape(-1, 16)
    own = _check(pad, "nvfp4", 0.01)
    alone = oracle_scales(x[-7:].reshape(1, 7), get_block_format("nvfp4", block=7), tensor_scale=0.01)
    assert own[-1] == alone[0]


@pytest.mark.parametrize("name", ["nvfp4", "mxfp4", "mxfp8_e4m3", "int4_g32"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_data_raise(name, bad):
    bf = get_block_format(name)
    x = np.ones((3, bf.block), np.float32)
    x[1, 2] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        oracle_scales(x, bf)


def test_sum_of_squares_overflow_raises():
    x = np.full((2, 16), 1e160)
    with pytest.raises(ValueError, match="overflows float64"):
        oracle_scales(x, get_block_format("nvfp4"), tensor_scale=1e150)


def test_screen8_values_within_the_bound():
    """The 8-lane screen equals the per-code float32 screen up to the summation order: each value
    within the documented bound (k + 12) 2^-24 sum u^2 of the exact float64 sum of squared
    distances (u = x / X, reference: ml_dtypes cast, float64)."""
    from quanttheory.blocks import _kernels as K
    from quanttheory.blocks.data import _code_table

    codes, *_, inv32, _ = _code_table("e4m3", 1.0)
    rng = np.random.default_rng(145)
    for _ in range(200):
        x = rng.standard_normal(16).astype(np.float32)
        ax = np.abs(x)
        cl = np.full(16, 6.0, np.float32)
        jb = int(rng.integers(40, 100))
        out = np.empty(8, np.float32)
        K._screen8_py(ax, cl, inv32, jb, np.float32(1.5 * 2.0 ** 23 * 0.5), np.float32(2.0), np.float32(4.0), out)
        for l in range(8):
            X = codes[jb + l]
            u = x.astype(np.float64) / X
            ref = np.sum((u - _q(u, "e2m1")) ** 2)
            assert abs(float(out[l]) - ref) <= (16 + 12) * 2.0 ** -24 * np.sum(u * u)
