"""Affine optima and baselines of one long unit in bounded memory (quanttheory.affine.stream).

Expected answers come from independent paths: the in-memory library functions
(:func:`quanttheory.affine.data.optimal_affine_data` -- for rows up to 65536 values its fused
kernel, a different algorithm from the streamed engine --, :func:`quanttheory.affine.offset_data.optimal_offset_1d`
on the sorted float64 array, :mod:`quanttheory.affine.baselines`), and brute-force enumeration
on tiny inputs (every piece of the piecewise-quadratic MSE).  Tolerances: MSE to 1e-12 relative
(both sides are exact; they differ by the rounding of sums of n terms, ~n eps ~ 1e-11 at worst in
the cancellation of the quadratic, measured ~1e-15), the same zero-point.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from quanttheory.affine import baselines as AB
from quanttheory.affine import stream as ST
from quanttheory.affine.data import optimal_affine_data
from quanttheory.affine.offset_data import optimal_offset_1d


def _cases(rng, n):
    return {
        "normal": rng.standard_normal(n).astype(np.float32),
        "one_sided": rng.exponential(size=n).astype(np.float32) + 0.25,  # all positive, no value near 0
        "outlier": np.concatenate([rng.laplace(size=n - 1) * 0.01, [50.0]]).astype(np.float32),
        "ties": (rng.integers(-3, 6, n) * 0.5).astype(np.float32),
        "negative": -rng.gamma(2.0, size=n).astype(np.float32),
    }


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 1000 values, so every pass crosses many chunk boundaries."""
    from quanttheory.affine import _stream_offset as SO

    monkeypatch.setattr(ST, "CHUNK", 1000)
    monkeypatch.setattr(SO, "PASS", 1000)


def _rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def _close(got_mse, ref_mse, x):
    """Equal to 1e-12 relative, or within 1e-15 of mean(x^2) (a zero MSE computed at a scale one ulp
    off is ~1e-31, not 0)."""
    return abs(got_mse - ref_mse) <= 1e-12 * abs(ref_mse) + 1e-15 * float(np.mean(np.asarray(x, dtype=np.float64) ** 2))


# --------------------------------------------------------------------------- brute force (tiny inputs)
def _brute_zero_point(x, bits):
    """min over z in 0..N, s > 0 of sum (x - s (clip(rint(x/s) + z, 0, N) - z))^2: for each z every
    breakpoint |x| / (k + 1/2) of the piecewise quadratic, and each piece's quadratic minimized."""
    N = 2**bits - 1
    best = math.inf
    for z in range(N + 1):
        bps = {abs(v) / (k + 0.5) for v in x if v != 0 for k in range(N + 1)}
        edges = sorted(bps | {1e-9, 4 * max(abs(x)) + 1})
        for a, b in zip(edges[:-1], edges[1:]):
            mid = 0.5 * (a + b)
            q = np.clip(np.rint(x / mid) + z, 0, N) - z  # codes on the open piece
            c2, c1 = float(q @ q), float(q @ x)
            s = min(max(c1 / c2, a), b) if c2 > 0 else b
            best = min(best, float(np.sum((x - s * q) ** 2)))
    return best


def _brute_offset(x, N):
    """min over non-decreasing assignments k_i in 0..N (x sorted) of min_{s > 0, m} sum (x - m - k s)^2
    (the nearest assignment at a minimizer is non-decreasing: F* equals this minimum)."""
    x = np.sort(x)
    n = x.size
    best = float(np.sum((x - x.mean()) ** 2))  # s -> 0+ limit of every assignment: attained by k = const
    for ks in itertools.combinations_with_replacement(range(N + 1), n):
        k = np.array(ks, dtype=float)
        vk = float(np.sum((k - k.mean()) ** 2))
        cov = float(np.sum((k - k.mean()) * (x - x.mean())))
        if vk > 0 and cov > 0:
            best = min(best, float(np.sum((x - x.mean()) ** 2)) - cov * cov / vk)
    return best


@pytest.mark.parametrize("bits", [2, 3])
def test_tiny_inputs_match_brute_force(bits):
    rng = np.random.default_rng(bits)
    for trial in range(6):
        x = np.round(rng.standard_normal(7) * 4) / 4 + (0.7 if trial % 2 else 0.0)
        x = x.astype(np.float32)
        x64 = x.astype(np.float64)
        if np.ptp(x) == 0:
            continue
        ref_z = _brute_zero_point(x64, bits)
        got_z = ST.affine_exact(x, bits).sse
        assert abs(got_z - ref_z) <= 1e-12 * max(ref_z, 1e-12), (x, got_z, ref_z)
        ref_o = _brute_offset(x64, 2**bits - 1)
        got_o = ST.offset_exact(x, bits).sse
        assert abs(got_o - ref_o) <= 1e-12 * max(float(np.sum(x64**2)), 1e-12), (x, got_o, ref_o)
        assert got_o <= got_z * (1 + 1e-12)  # the offset form contains the zero-point form


# --------------------------------------------------------------------------- exact optima vs in-memory
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_zero_point_exact_matches_in_memory(bits, small_chunks):
    rng = np.random.default_rng(10 + bits)
    for name, x in _cases(rng, 20000).items():
        ref = optimal_affine_data(x.astype(np.float64), bits)  # fused row kernel (n <= 65536)
        got = ST.affine_exact(x, bits)
        assert _close(got.sse / x.size, float(ref.mse), x), (name, got, ref.mse)
        # the returned (s, z) attains that MSE (summed here independently) ...
        x64, N = x.astype(np.float64), 2**bits - 1
        q = np.clip(np.rint(x64 / got.scale) + got.zero_point, 0, N) - got.zero_point
        assert _close(float(np.sum((x64 - got.scale * q) ** 2)) / x.size, got.sse / x.size, x), name
        # ... and is the in-memory optimum unless several (s, z) tie (e.g. the outlier at 2 bits:
        # s = 25 with z = 0 or 1 gives the same codes to every value)
        if got.zero_point == int(ref.zero_point) and name != "ties":
            assert abs(got.scale - float(ref.scale)) <= max(float(ref.scale_error), 1e-9 * float(ref.scale)), name


@pytest.mark.parametrize("bits,n", [(2, 6000), (4, 6000), (8, 50)])
def test_offset_exact_matches_in_memory(bits, n, small_chunks):
    """(6000 values: above DIRECT_N, so the histogram level runs.  8 bits: 50 values, fewer than the
    256 levels; both searches need minutes for a few thousand values at 8 bits.)"""
    rng = np.random.default_rng(20 + bits)
    for name, x in _cases(rng, n).items():
        if bits == 8 and name not in ("normal", "outlier"):
            continue
        ref = optimal_offset_1d(x.astype(np.float64), bits)
        got = ST.offset_exact(x, bits)
        # both exact: MSE equal to rounding (1e-12 relative of the data's energy, the cancellation scale)
        assert abs(got.sse / x.size - float(ref.mse)) <= 1e-12 * float(np.mean(x.astype(np.float64) ** 2)), \
            (name, got, ref.mse)
        # and the value at the returned point, summed independently, is that MSE
        N = 2**bits - 1
        x64 = x.astype(np.float64)
        lv = got.offset + got.scale * np.arange(N + 1)
        direct = float(np.sum(np.min((x64[:, None] - lv[None, :]) ** 2, axis=1)))
        assert _close(got.sse / x.size, direct / x.size, x), name


def test_constant_and_degenerate_units():
    for v in (0.0, 3.5, -2.0):
        x = np.full(5000, v, dtype=np.float32)
        for fn in (ST.affine_exact, ST.offset_exact, ST.minmax, ST.hqq, ST.llamacpp):
            assert fn(x, 4).sse == 0.0, (fn.__name__, v)
    with pytest.raises(ValueError, match="NaN"):
        ST.minmax(np.array([1.0, np.nan], dtype=np.float32), 4)
    with pytest.raises(TypeError):
        ST.offset_exact(np.ones((2, 2), dtype=np.float32), 4)
    with pytest.raises(ValueError, match="bits"):
        ST.affine_exact(np.arange(4, dtype=np.float32), 9)


def test_two_values_are_exact():
    """Hand-derived: data {0, 1} (any multiplicities) is represented exactly by both forms at every
    bit width (s = 1/N, z = 0; or s = 1, m = 0): SSE 0 (up to the rounding of a scale a few ulps
    from 1/N: ~1e-26 here)."""
    x = np.array([0, 1, 1, 0, 1] * 400, dtype=np.float32)
    for bits in (1, 2, 4, 8):
        assert _close(ST.affine_exact(x, bits).sse / x.size, 0.0, x)
        if bits <= 4:
            assert _close(ST.offset_exact(x, bits).sse / x.size, 0.0, x)


# --------------------------------------------------------------------------- baselines vs in-memory
@pytest.mark.parametrize("bits", [2, 4, 8])
def test_streamed_baselines_equal_in_memory(bits, small_chunks):
    rng = np.random.default_rng(30 + bits)
    for name, x in _cases(rng, 12345).items():
        x64 = x.astype(np.float64)
        for fn in ("minmax", "hqq", "llamacpp"):
            ref = getattr(AB, fn)(x64, bits)
            got = getattr(ST, fn)(x, bits)
            assert _close(got.sse / x.size, ref.mse, x), (name, fn, got, ref)
            assert _rel(got.scale, ref.scale) <= 1e-12, (name, fn)


# --------------------------------------------------------------------------- the model command's hook
def test_analyze_block_long_affine_rows_use_the_streamed_path(monkeypatch):
    """With STREAM_MIN lowered, rows of 5000 values take the streamed path; every method's SSE equals
    the in-memory path's (STREAM_MIN as shipped)."""
    from quanttheory.models import tasks

    rng = np.random.default_rng(5)
    rows = (rng.standard_normal((2, 5000)) * 0.02 + np.array([[0.01], [-0.03]])).astype(np.float32)
    ref = tasks.analyze_block("t", 0, rows, "int4", True)
    calls = []
    real = tasks._affine_long

    def spy(r, fn_name, bits, **kw):
        calls.append(fn_name)
        return real(r, fn_name, bits, **kw)

    monkeypatch.setattr(tasks, "STREAM_MIN", 1000)
    monkeypatch.setattr(tasks, "_affine_long", spy)
    got = tasks.analyze_block("t", 0, rows, "int4", True)
    assert sorted(set(calls)) == ["affine_exact", "hqq", "llamacpp", "minmax", "offset_exact"]
    assert set(got.sse) == set(ref.sse)
    for k in ref.sse:
        assert _close(got.sse[k] / rows.size, ref.sse[k] / rows.size, rows), (k, got.sse[k], ref.sse[k])


_STAGE = r"""
import json, sys, tracemalloc
import numpy as np
from quanttheory.affine import stream as ST
fn, bits, n = getattr(ST, sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
rng = np.random.default_rng(0)
x = np.empty(n, dtype=np.float32)
for i in range(0, n, 1 << 20):
    x[i:i + (1 << 20)] = rng.standard_normal(min(1 << 20, n - i)) * 0.02
fn((rng.standard_normal((1 << 18) + 64) * 0.02).astype(np.float32), bits)  # compilation / cache load
open("/proc/self/clear_refs", "w").write("5")  # reset the RSS high-water mark
before = status("VmRSS:")
tracemalloc.start()
fn(x, bits)
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"numpy": peak, "rss": status("VmHWM:") - before}))
"""


def _stage_peak(fn_name, bits, n):
    """(NumPy peak, RSS added) in bytes of ``affine.stream.<fn_name>`` on n float32 values, in a fresh process."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", _STAGE, fn_name, str(bits), str(n)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return d["numpy"], d["rss"]


@pytest.mark.slow
@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_peak_memory_zero_point_engine_8_bits():
    """The integer zero-point engine at 8 bits (the method that allocated most: see docs/models.md,
    "Where the memory goes") on one 16 MB float32 unit, warmed up first: the RSS it adds on top of
    the unit stays within 0.5x the unit + 4 MB, so the whole run (unit 1x + the largest method)
    stays below 2x.  Measured on this unit: 0.14-0.17x added (one |x| histogram shared by every
    zero-point, a straddler buffer of n/16); it was 1.00x with the n/2 buffer and a histogram per
    zero-point, and 5.4x NumPy when that buffer overflowed into the unbounded candidate pass."""
    n = 1 << 22
    numpy_peak, rss = _stage_peak("affine_exact", 8, n)
    MB = 1 << 20
    assert rss < 0.5 * (4 * n) + 4 * MB, (numpy_peak / (4 * n), rss / (4 * n))
    # allocated (partly untouched pages): the |x| histogram's fixed ~15 MB (2^12 sub-bins x 25 octaves,
    # counts/sums and two prefix tables) + the straddler buffer, n/4 float64 values at 7-8 bits since the
    # sixth round of docs/data_optimum_speed.md (was n/16: 2n bytes instead of n/2; only the straddlers'
    # pages are touched, the RSS bound above is unchanged); measured 1.13x (18.1 MB) with n/16, 1.50x
    # (25.2 MB) with n/4, 3.01x before both
    assert numpy_peak < 0.5 * (4 * n) + 2 * n + 16 * MB, numpy_peak / (4 * n)


@pytest.mark.slow
@pytest.mark.skipif(not __import__("os").path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_peak_memory_affine_8_bits_whole_unit_with_tensor(tmp_path):
    """8-bit ``--affine`` methods of one long unit (exact zero-point optimum, min-max, HQQ, llama.cpp;
    exact_offset is left out: at 8 bits it runs to its search budget for minutes) on a memory-mapped
    16 MB float32 tensor, warmed up, in a fresh process (``benchmarks/mem_affine_whole.py``): RSS
    growth including the tensor's pages < 2x the tensor + 4 MB.  Measured 1.79x; main: 3.53x."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    p = tmp_path / "big.safetensors"
    big = np.empty((1024, 4096), dtype=np.float32)
    for i in range(0, 1024, 256):
        big[i:i + 256] = rng.standard_normal((256, 4096)) * 0.02
    save_file({"big": big}, str(p))
    nbytes = big.nbytes
    del big
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "mem_affine_whole.py"
    out = subprocess.run([sys.executable, str(script), "8", str(p)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    mb = float(re.search(r"\(([0-9.]+) MB\)", out.stdout).group(1))
    assert mb * 2**20 < 2 * nbytes + 4 * 2**20, out.stdout


@pytest.mark.slow
def test_peak_memory_affine_tensor_granularity(tmp_path):
    """One float32 tensor of 16 MB as ONE affine unit (``--affine --granularity tensor``), int4: both
    exact optima (integer zero-point and real offset) and min-max, ``measure_peak`` in a fresh process.

    Budget: the tensor's pages (1x) plus at most 1x for the analysis, plus 16 MB for what does not
    scale with the tensor (compiled code for the memmap's read-only arrays, the histograms); NumPy peak
    < 1x + 16 MB.  Measured at 16 MB: RSS 1.44x, NumPy 1.51x (whole run with every baseline).  The old
    float64-copy path passed 2.5x on the 64 MB version of this test 1.6 s into the tensor."""
    from safetensors.numpy import save_file

    from quanttheory.models.memory import measure_peak

    rng = np.random.default_rng(0)
    p = tmp_path / "big.safetensors"
    big = np.empty((1024, 4096), dtype=np.float32)
    for i in range(0, 1024, 256):
        big[i:i + 256] = rng.standard_normal((256, 4096)) * 0.02
    save_file({"big": big, "small": big[:64, :256].copy()}, str(p))
    nbytes = big.nbytes
    del big
    m = measure_peak(p, granularity="tensor", fmt="int4", affine=True, methods=["minmax"])
    MB = 1 << 20
    assert m.tensors == 2 and m.values == 1024 * 4096 + 64 * 256
    assert m.tracemalloc_peak < 1 * nbytes + 16 * MB, m
    assert m.rss_growth < 2 * nbytes + 16 * MB, m


# --------------------------------------------------------------------------- budget stop: certified bracket
def test_offset_budget_stop_returns_a_certified_bracket(monkeypatch, small_chunks):
    """Past its search budget the streamed real-offset search returns status "bracket": the SSE attained
    at the returned (s, m) (summed here independently), never above the exact integer zero-point
    optimum (a point of the same form), and a lower bound; the exact optimum (in-memory search on the
    sorted float64 copy, an independent algorithm) lies in [sse_lower, sse].  A small box budget forces
    the stop on 6000 values at 4 bits (at 8 bits it happens on real tensors)."""
    from quanttheory.affine import _stream_offset as SO

    rng = np.random.default_rng(41)
    x = (rng.standard_normal(6000) * 0.02 + 0.003).astype(np.float32)
    x64, N = x.astype(np.float64), 15
    exact = ST.offset_exact(x, 4)
    assert exact.status == "exact" and exact.sse * (1 - 1e-9) <= exact.sse_lower <= exact.sse  # rounding allowance only
    monkeypatch.setattr(SO, "MAX_BOXES_1", 10)
    got = ST.offset_exact(x, 4)
    assert got.status == "bracket"
    ref = float(optimal_offset_1d(x64, 4).mse) * x.size
    tol = 1e-12 * float(np.sum(x64**2))
    assert got.sse_lower <= ref + tol <= got.sse + 2 * tol, (got, ref)
    assert 0.0 <= got.sse_lower <= got.sse
    lv = got.offset + got.scale * np.arange(N + 1)
    direct = float(np.sum(np.min((x64[:, None] - lv[None, :]) ** 2, axis=1)))
    assert abs(direct - got.sse) <= tol, (direct, got.sse)
    assert got.sse <= ST.affine_exact(x, 4).sse + tol
    assert abs(exact.sse - ref) <= tol  # the unbudgeted search is exact


def test_budget_stop_is_reported_with_a_status_column(tmp_path, monkeypatch):
    """report.csv gets status_exact_offset / sqnr_db_exact_offset_max, summary.md names the tensor, and
    the --json status is strict JSON (no NaN/Infinity); without a budget stop the status is "exact" and
    the maximum equals the attained SQNR."""
    import csv
    import io
    import json

    from quanttheory.affine import _stream_offset as SO
    from quanttheory.models import tasks
    from quanttheory.models.report import csv_text, status_of, summary_md
    from quanttheory.models.run import analyze_model

    rng = np.random.default_rng(6)
    p = tmp_path / "m.npz"
    np.savez(p, a=(rng.standard_normal((3, 2000)) * 0.02).astype(np.float32))
    monkeypatch.setattr(tasks, "STREAM_MIN", 1000)

    def strict(s):
        return json.loads(s, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))

    def run():
        res = analyze_model(p, fmt="int4", granularity="tensor", affine=True, workers=1)
        row = next(csv.DictReader(io.StringIO(csv_text(res))))
        return res, row

    res, row = run()
    assert row["status_exact_offset"] == "exact"
    assert row["sqnr_db_exact_offset_max"] == row["sqnr_db_exact_offset"]
    assert strict(json.dumps(status_of(res), allow_nan=False))["exact_offset"]["status"] == "exact"
    monkeypatch.setattr(SO, "MAX_BOXES_1", 10)
    res, row2 = run()
    assert row2["status_exact_offset"] == "bracket"
    assert float(row2["sqnr_db_exact_offset"]) <= float(row["sqnr_db_exact_offset"]) + 1e-9
    assert float(row["sqnr_db_exact_offset"]) <= float(row2["sqnr_db_exact_offset_max"]) + 1e-9
    st = strict(json.dumps(status_of(res), allow_nan=False))["exact_offset"]
    assert st["status"] == "bracket" and st["bracketed_tensors"] == ["a"]
    assert "reached the search budget of exact_offset" in summary_md(res)
