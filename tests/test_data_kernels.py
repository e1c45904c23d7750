"""The branchless data kernels agree with plain NumPy references (float32 and float64)."""

import math

import numpy as np
import pytest

from quanttheory import Grid
from quanttheory.formats.grid import quantize
from quanttheory.risk.data import mse_sums, scan


def _cases():
    rng = np.random.default_rng(7)
    x = rng.standard_normal(10_000)
    x[:5] = [0.0, -0.0, 0.0, 1e-30, -1e-30]
    yield x
    yield np.abs(x)  # no negative values: min_neg = inf
    yield -np.abs(x) - 1.0  # no value >= 0
    yield np.array([-0.0, -0.0])  # -0.0 counts as x >= 0, has no positive minimum
    yield np.array([3.0])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_scan_matches_numpy(dt):
    for x in _cases():
        c = x.astype(dt)
        st = scan(c)
        v = c.astype(np.float64)
        pos, neg = v[v > 0], -v[v < 0]
        assert st.n == v.size
        assert st.n_neg == int(np.sum(v < 0)) and st.n_pos == int(np.sum(v >= 0))
        assert st.max_pos == max(float(v.max()), 0.0)
        assert st.max_neg == max(float(-v.min()), 0.0)
        assert st.min_pos == (float(pos.min()) if pos.size else math.inf)
        assert st.min_neg == (float(neg.min()) if neg.size else math.inf)
        # blocked sums: error <= (BLOCK + n/BLOCK) eps sum|.|, far below 1e-9 relative here
        assert st.sum_sq == pytest.approx(float(np.sum(v * v)), rel=1e-12)
        assert st.sum == pytest.approx(float(np.sum(v)), rel=1e-9, abs=1e-9 * float(np.sum(np.abs(v))))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_scan_rejects_non_finite_float32(dt, bad):
    x = np.ones(9000, dtype=dt)
    x[5000] = bad
    with pytest.raises(ValueError, match=r"non-finite value .* at position 5000 in memory order"):
        scan(x)


def test_scan_rejects_too_large():
    with pytest.raises(ValueError, match="too large to square"):
        scan(np.array([1.0, 1e200, -2.0]))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("bits,signed", [(2, True), (4, True), (8, True), (4, False)])
def test_mse_sums_match_quantize(dt, bits, signed):
    x = np.random.default_rng(bits).standard_normal(5000).astype(dt)
    x[:3] = [0.0, -0.0, 5.0]
    g = Grid(bits, signed=signed)
    ss = np.array([0.01, 0.3, 1.7])
    got = mse_sums(x, ss, g)
    v = x.astype(np.float64)
    for s, val in zip(ss, got):
        ref = float(np.sum((v - quantize(v, s, g)) ** 2))
        # same per-element errors, different summation order: 1e-12 relative
        assert val == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_straddle_mask_matches_numpy(dt):
    # reference: the grid index min(rint(v / s), T) at both ends, with v * (1/s) as the kernels
    # (and data_search._events) compute it; T = r_t for x >= 0, -r_b for x < 0
    from quanttheory.risk._kernels.data import straddle_mask

    rng = np.random.default_rng(4)
    x = rng.standard_normal(20_000).astype(dt)
    x[:4] = [0.0, -0.0, 9.0, -9.0]
    for Tp, Tn, a, b in ((7, 8, 0.3, 0.31), (127, 128, 0.03, 0.0301), (3, 0, 0.5, 0.9)):
        mask = np.empty(x.size, dtype=np.bool_)
        cnt = straddle_mask(x, 1.0 / a, 1.0 / b, Tp, Tn, mask)
        v = np.abs(x.astype(np.float64))
        T = np.where(x >= 0, Tp, Tn)
        ref = np.minimum(np.rint(v * (1.0 / a)), T) > np.minimum(np.rint(v * (1.0 / b)), T)
        assert np.array_equal(mask, ref) and cnt == int(ref.sum())
