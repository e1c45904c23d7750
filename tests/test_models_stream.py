"""The chunked (streaming) path of ``quanttheory model`` for long units equals the batched/sorted path.

References: ``numpy.percentile`` / ``numpy.median`` / ``numpy.sort`` (order statistics, bit-identical
expected), the batched kernels of :func:`quanttheory.models.tasks.batched_scales` (themselves tested
equal to :mod:`quanttheory.risk.baselines`), and the library functions of ``risk.baselines``.
"""

import math
import zlib

import numpy as np
import pytest

from quanttheory.formats.grid import Grid
from quanttheory.models import stream as S
from quanttheory.models import tasks as T


def _data(rng, n, kind):
    x = rng.standard_normal(n)
    if kind == "ties":
        x = np.round(x * 3) / 3  # few distinct values: many ties at every order statistic
    elif kind == "zeros":
        x = np.where(rng.random(n) < 0.5, 0.0, x)
        x[rng.random(n) < 0.2] = -0.0
    elif kind == "heavy":
        x = rng.standard_t(2, n)
    elif kind == "positive":
        x = np.abs(x)
    return x


@pytest.mark.parametrize("kind", ["normal", "ties", "zeros", "heavy", "positive"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_order_statistics_equal_numpy(kind, dt):
    rng = np.random.default_rng(zlib.crc32(f"{kind}-{np.dtype(dt).name}".encode()))  # str hash() varies per process
    for n in (1, 2, 3, 17, 1000, 4099):
        x = _data(rng, n, kind).astype(dt)
        x64 = x.astype(np.float64)
        srt = np.sort(x64)
        for k in sorted({0, n - 1, n // 2, int(rng.integers(0, n))}):
            a, b = S.select(x, k, "signed")
            assert a == srt[k] and b == srt[min(k + 1, n - 1)]
        for q in (99.99, 99.9, 50.0, 0.0, 100.0, 12.5):
            assert S.percentile(x, q, "abs") == np.percentile(np.abs(x64), q)
            assert S.percentile(x, q, "pos") == np.percentile(np.maximum(x64, 0.0), q)
        assert S.median(x) == np.median(x64)


def test_select_adversarial_by_hand():
    # |x| = [0, 0, 1, 2, 2, 2, 3]: rank 3 and 4 are both 2, rank 5 is 2 and its neighbour 3
    x = np.array([2.0, -0.0, 3.0, -2.0, 0.0, -1.0, 2.0], dtype=np.float32)
    assert S.select(x, 3, "abs") == (2.0, 2.0)
    assert S.select(x, 5, "abs") == (2.0, 3.0)
    assert S.select(x, 6, "abs") == (3.0, 3.0)
    # signed: [-2, -1, -0, 0, 2, 2, 3]; max(x, 0): [0, 0, 0, 0, 2, 2, 3]
    assert S.select(x, 0, "signed") == (-2.0, -1.0)
    assert S.select(x, 3, "pos") == (0.0, 2.0)
    # numpy's linear percentile of |x| at q = 50: index 3 exactly -> 2.0; q = 75: index 4.5 -> 2.0
    assert S.percentile(x, 50, "abs") == 2.0 and S.percentile(x, 75, "abs") == 2.0
    # q = 90: index 5.4 between 2 and 3 -> 2.4 (g < 1/2: a + (b - a) g)
    assert S.percentile(x, 90, "abs") == pytest.approx(2.4, rel=1e-15)
    with pytest.raises(ValueError):
        S.select(x, 7)


NAMES = [("maxabs", {}), ("percentile", {}), ("sweep", {"candidates": 20}), ("sweep", {"candidates": 39}),
         ("sweep", {"candidates": 80}), ("sweep", {"candidates": 126}), ("histogram", {}), ("octav", {}),
         ("aciq_gauss", {}), ("aciq_laplace", {})]


@pytest.mark.parametrize("bits,signed", [(4, True), (8, True), (4, False), (3, True)])
@pytest.mark.parametrize("kind", ["normal", "ties", "heavy", "zeros"])
def test_streamed_baselines_equal_batched(bits, signed, kind):
    """Same scale as the old sorted/prefix batched kernels on the float64 copy: exactly for every
    method whose arithmetic is the same (maxabs, percentile, sweeps, histogram, OCTAV); ACIQ's moments
    are summed by chunks instead of pairwise, so within Brent's tolerance (xatol = 1e-10 of the bracket,
    plus the moments' ~1e-15 relative change amplified by at most the objective's flatness: 1e-7)."""
    rng = np.random.default_rng(bits * 100 + signed + len(kind))
    g = Grid(bits, signed=signed)
    for n in (5, 3000, 70001):
        x32 = (_data(rng, n, kind) * 0.05).astype(np.float32)
        x64 = x32.astype(np.float64)[None, :]
        for name, kw in NAMES:
            new = S.stream_scale(name, x32, g, **kw)
            old = float(T.batched_scales(name, x64, g, **kw)[0])
            if name.startswith("aciq"):
                assert new == pytest.approx(old, rel=1e-7), (name, n)
            else:
                assert new == old, (name, kw, n, new, old)


def test_streamed_sweeps_equal_library():
    from quanttheory.risk import baselines as B

    rng = np.random.default_rng(7)
    g = Grid(4, signed=True)
    x = (rng.standard_normal(20000) * 0.02).astype(np.float32)
    got = S.sweep_scales(x, g, [20, 39, 80, 126])
    assert got == [B.sweep(x.astype(np.float64), g, candidates=k) for k in (20, 39, 80, 126)]
    assert S.stream_scale("histogram", x, g) == B.histogram(x.astype(np.float64), g)
    assert S.stream_scale("percentile", x, g) == B.percentile(x.astype(np.float64), g)


@pytest.mark.parametrize("fmt", ["int4", "uint4", "e4m3", "nf4", "mxfp4", "nvfp4"])
def test_analyze_block_streamed_equals_batched(fmt, monkeypatch):
    """``analyze_block`` on one long unit (float32, chunked path: STREAM_MIN lowered) gives the same
    per-method SSE as the float64 batched path, to summation rounding (1e-9 relative: the exact
    optima are the same minimizer; sums differ in order only)."""
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((1, 6000)) * 0.02).astype(np.float32)
    amax = float(np.abs(x).max())
    ref = T.analyze_block("t", 0, x.astype(np.float64), fmt, False, None, amax)
    monkeypatch.setattr(T, "STREAM_MIN", 1000)
    monkeypatch.setattr("quanttheory.models.formats.BLOCK_COLS", 1024)
    got = T.analyze_block("t", 0, x, fmt, False, None, amax)
    assert got.energy == pytest.approx(ref.energy, rel=1e-12)
    assert set(got.sse) == set(ref.sse)
    for m in ref.sse:
        assert got.sse[m] == pytest.approx(ref.sse[m], rel=1e-9), m
    assert math.isfinite(got.sse["exact"]) and got.sse["exact"] <= min(got.sse.values()) * (1 + 1e-9)


def test_chunk_helpers():
    x = np.arange(10, dtype=np.float32)
    assert S.sum_sq(x) == 285.0
    y = np.ones((3, 5), dtype=np.float32)
    y[1, 2] = np.nan
    y[2, 4] = np.inf
    assert not S.all_finite(y) and S.count_nonfinite(y) == 2 and S.all_finite(x)


def test_octav_unbuffered_long_row_equals_library():
    """Rows longer than OCTAV_BUF recompute |x| every pass (no buffer): same threshold as the library
    (sequential vs pairwise sums: 1e-11 relative, as for the buffered kernel)."""
    from quanttheory.models._kernels import OCTAV_BUF
    from quanttheory.risk import baselines as B

    rng = np.random.default_rng(11)
    x = (rng.standard_t(4, OCTAV_BUF + 5) * 0.02).astype(np.float32)
    for signed in (True, False):
        g = Grid(4, signed=signed)
        assert S.stream_scale("octav", x, g) == pytest.approx(B.octav(x.astype(np.float64), g), rel=1e-11)


@pytest.mark.slow
def test_tensor_granularity_long_unit_end_to_end(tmp_path, monkeypatch):
    """A 2^19-value tensor as ONE unit through ``analyze_model``: the process pool (float32 blocks
    pickled to workers) gives the same totals as in-process, and both equal the old float64 batched
    path (STREAM_MIN raised in-process) to summation rounding."""
    from safetensors.numpy import save_file

    from quanttheory.models.run import analyze_model

    rng = np.random.default_rng(5)
    p = tmp_path / "m.safetensors"
    save_file({"w": (rng.standard_t(5, (512, 1024)) * 0.02).astype(np.float32)}, str(p))
    one = analyze_model(p, granularity="tensor", workers=1)
    two = analyze_model(p, granularity="tensor", workers=2)
    assert one.tensors[0].sse == two.tensors[0].sse and one.tensors[0].energy == two.tensors[0].energy
    monkeypatch.setattr(T, "STREAM_MIN", 1 << 30)
    ref = analyze_model(p, granularity="tensor", workers=1)
    for m, v in ref.tensors[0].sse.items():
        assert one.tensors[0].sse[m] == pytest.approx(v, rel=1e-9), m
    assert one.tensors[0].energy == pytest.approx(ref.tensors[0].energy, rel=1e-12)
