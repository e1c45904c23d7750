"""quanttheory model --format: level-set and block formats (issue 19, item 1).

References are computed here without the package's optimizers: level-set optima by enumerating
every breakpoint and every piece's closed-form minimizer with the format's own rounding
(Format.quantize), block optima by trying every representable block scale (all E8M0 exponents,
all E4M3 codes times the tensor scale) on each block.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from quanttheory.cli import main
from quanttheory.models.tasks import analyze_block, get_format

LEVELSET = ["e4m3", "e5m2", "e2m1", "nf4", "e2m3"]
BLOCKS = ["mxfp4", "mxfp8", "mxfp8_e5m2", "nvfp4", "int4-g128", "int4_g32", "mxint8"]


def _q(fmt, x, s):
    return s * fmt.quantize(x / s)


def _brute_levelset(x, fmt):
    """min over s > 0 of sum (x - s q(x/s))^2: on each piece between consecutive breakpoints
    s = |x_i| / |m_j| the levels are fixed, SSE is a quadratic in s minimized by sum(x l)/sum(l^2)
    (clamped to the piece); the minimum over all pieces (and the breakpoints) is the global one."""
    mids = np.abs(np.asarray(fmt.midpoints))
    mids = mids[mids > 0]
    bp = np.unique((np.abs(x)[:, None] / mids[None, :]).ravel())
    bp = bp[bp > 0]
    edges = np.concatenate([[bp[0] * 0.5], bp, [bp[-1] * 2.0]])
    best = np.inf
    for a, b in zip(edges[:-1], edges[1:]):
        for s in (a, b):
            best = min(best, float(np.sum((x - _q(fmt, x, s)) ** 2)))
        m = 0.5 * (a + b)
        lv = fmt.quantize(x / m)
        den = float(np.sum(lv * lv))
        if den > 0:
            s = min(max(float(np.sum(x * lv)) / den, a), b)
            best = min(best, float(np.sum((x - _q(fmt, x, s)) ** 2)))
    return best


@pytest.mark.parametrize("name", LEVELSET)
def test_levelset_exact_vs_brute_force_and_baselines(name):
    from quanttheory.formats import get_format as fmt_get

    fmt = fmt_get(name)
    rng = np.random.default_rng(3)
    rows = rng.standard_t(4, (3, 9)) * 0.1
    rows[2, :4] = 0.0
    r = analyze_block("t", 0, rows, name, False)
    brute = sum(_brute_levelset(x, fmt) for x in rows)
    # tolerance: the exact engine and the enumeration both end in a direct float64 pass over 9 values
    assert r.sse["exact"] == pytest.approx(brute, rel=1e-10)
    for m, v in r.sse.items():
        assert r.sse["exact"] <= v * (1 + 1e-12), m
    assert set(r.sse) == {"exact", "amax", "sweep39", "sweep126"}
    # amax by hand: s = max|x| / level_max per row
    amax = sum(float(np.sum((x - _q(fmt, x, np.abs(x).max() / fmt.level_max)) ** 2)) for x in rows)
    assert r.sse["amax"] == pytest.approx(amax, rel=1e-12)


def _e4m3_positive():
    from quanttheory.formats import get_format as fmt_get

    lv = np.asarray(fmt_get("e4m3").levels)
    return lv[lv > 0]


def _brute_blocks(x, name, amax):
    """Per block, the best representable scale by trying them all (fp16 scales: not enumerated)."""
    from quanttheory.blocks import get_block_format

    bf = get_block_format(name)
    fmt = bf.fmt
    k = bf.block
    xb = np.concatenate([x, np.zeros((x.shape[0], (-x.shape[1]) % k))], axis=1).reshape(-1, k)
    if bf.scale_format == "e8m0":
        cands = 2.0 ** np.arange(-127, 128)
    else:
        S = amax / (448.0 * bf.lmax)
        cands = S * _e4m3_positive()
    tot = 0.0
    for b in xb:
        best = float(np.sum(b * b))  # the zero code / every element to 0
        for X in cands:
            best = min(best, float(np.sum((b - X * fmt.quantize(b / X)) ** 2)))
        tot += best
    return tot


@pytest.mark.parametrize("name", BLOCKS)
def test_block_exact_vs_brute_force_and_rules(name):
    rng = np.random.default_rng(11)
    rows = rng.standard_t(4, (2, 72)) * 0.05  # 72 is not a multiple of 32: a padded last block
    rows[1, :40] *= 1e-3
    amax = float(np.abs(rows).max()) * 1.5  # a tensor amax larger than these rows' (NVFP4 tensor scale)
    r = analyze_block("t", 0, rows, name, False, None, amax)
    spec = get_format(name)
    assert spec.block > 0 and set(r.sse) == set(spec.methods())
    for m, v in r.sse.items():
        if m != "exact_real":
            assert r.sse["exact"] <= v * (1 + 1e-12), m
    if "exact_real" in r.sse:  # the real-scale optimum bounds every representable choice
        assert all(r.sse["exact_real"] <= v * (1 + 1e-12) for v in r.sse.values())
    else:
        assert r.sse["exact"] == pytest.approx(_brute_blocks(rows, name, amax), rel=1e-12)


def test_block_rule_by_hand_mxfp4_floor():
    """OCP MX floor rule by hand: X = 2^(floor(log2 M) - 2) per block of 32, E2M1 levels."""
    e2m1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6])
    rng = np.random.default_rng(5)
    rows = rng.standard_normal((2, 64))
    r = analyze_block("t", 0, rows, "mxfp4", False)
    sse = 0.0
    for b in rows.reshape(-1, 32):
        X = 2.0 ** (math.floor(math.log2(np.abs(b).max())) - 2)
        u = np.abs(b) / X
        q = e2m1[np.argmin(np.abs(u[:, None] - e2m1[None, :]), axis=1)]  # no ties in continuous data
        sse += float(np.sum((np.abs(b) - X * q) ** 2))
    assert r.sse["floor"] == pytest.approx(sse, rel=1e-12)


def test_format_names_and_errors():
    assert get_format("int4-g128").name == "int4_g128"
    assert get_format("INT4").name == "int4" and get_format("int4").block == 0  # an integer grid, not a block format
    with pytest.raises(ValueError, match="--affine"):
        get_format("nvfp4", affine=True)
    with pytest.raises(ValueError, match="unknown format.*nvfp4"):
        get_format("fp3")


@pytest.mark.parametrize("fmt", ["e2m1", "nvfp4", "int4-g128"])
def test_cli_formats_report(tmp_path, fmt):
    rng = np.random.default_rng(2)
    p = tmp_path / "m.npz"
    np.savez(p, a=rng.standard_normal((8, 64)).astype(np.float32), b=rng.laplace(0, 1, (4, 48)))
    out = tmp_path / "o"
    assert main(["model", str(p), "--format", fmt, "--out", str(out), "--workers", "1", "--quiet",
                 "--no-figure"]) == 0
    rows = list(csv.DictReader(open(out / "report.csv")))
    assert [r["tensor"] for r in rows] == ["a", "b"]
    spec = get_format(fmt)
    for r in rows:
        for m in spec.methods():
            assert math.isfinite(float(r[f"sqnr_db_{m}"])) and float(r[f"seconds_{m}"]) >= 0
        assert float(r["sqnr_db_exact"]) >= float(r[f"sqnr_db_{list(spec.baselines)[0]}"]) - 1e-9


@pytest.mark.slow
def test_peak_memory_streams_tensors(tmp_path):
    """8 float32 tensors of 4 MB (32 MB in all, 64 MB as float64): the analysis holds one tensor as
    loaded (the float32 memmap, 1x) plus float64 blocks of ~2 MB, so NumPy's peak (tracemalloc)
    stays below 2 x 4 MB + 16 MB (holding every tensor would need 64 MB), and the process's RSS
    growth (also counting the memory-mapped file pages and numba's buffers) below 2 x 4 MB + 64 MB."""
    from safetensors.numpy import save_file

    from quanttheory.models.memory import measure_peak

    rng = np.random.default_rng(0)
    p = tmp_path / "m.safetensors"
    save_file({f"t{i}": (rng.standard_normal((256, 4096)) * 0.02).astype(np.float32) for i in range(8)}, str(p))
    m = measure_peak(p, granularity="channel", methods=["maxabs"])
    MB = 1 << 20
    assert m.tensors == 8 and m.values == 8 * 256 * 4096
    assert m.tracemalloc_peak < 2 * 4 * MB + 16 * MB, m
    assert m.rss_growth < 2 * 4 * MB + 64 * MB, m


@pytest.mark.slow
def test_peak_memory_tensor_granularity_one_big_tensor(tmp_path):
    """One float32 tensor of 64 MB analyzed as ONE unit (``--granularity tensor``, INT4, the exact
    optimum and every kind of baseline: maxabs, percentile, an MSE sweep, histogram, OCTAV, both ACIQ).

    Budget: the tensor as loaded for analysis (float32; here its memory-mapped pages, 64 MB = 1x)
    plus at most 1x for the analysis, plus a fixed allowance of 32 MB (the interpreter's and numba's
    buffers, and the exact engine's capped working arrays of ``quanttheory.risk.data``: histogram,
    s-bins, straddler buffer).  Before the chunked path this run grew the RSS by ~9x the tensor
    (float64 copies and sorts of the whole unit), which fails both bounds.  The three longer sweeps
    (39/80/126 candidates) run the same chunked pass as sweep20 (same memory, 13x the time) and are
    left out to keep the test short."""
    from safetensors.numpy import save_file

    from quanttheory.models.memory import measure_peak

    rng = np.random.default_rng(0)
    p = tmp_path / "big.safetensors"
    big = (rng.standard_normal((4096, 4096)) * 0.02).astype(np.float32)
    save_file({"big": big, "small": big[:64, :256].copy()}, str(p))
    nbytes = big.nbytes
    del big
    methods = ["maxabs", "percentile", "sweep20", "histogram", "octav", "aciq_gauss", "aciq_laplace"]
    m = measure_peak(p, granularity="tensor", fmt="int4", methods=methods)
    MB = 1 << 20
    assert m.tensors == 2 and m.values == 4096 * 4096 + 64 * 256
    assert m.tracemalloc_peak < 1 * nbytes + 32 * MB, m  # NumPy: no O(n) float64 copy, no sort
    assert m.rss_growth < 2 * nbytes + 32 * MB, m
