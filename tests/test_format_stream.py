"""The streamed (bounded-memory) format data optimum equals the in-memory exact engine and a brute force.

References: (1) :func:`optimal_scale_format_data` on the same array in memory (sorted distinct values,
exact prefix sums); (2) on small inputs, a brute force independent of both engines: every breakpoint
``s = |x_i| / m_j`` enumerated, on every piece between consecutive breakpoints the level assignment
taken at the piece's midpoint and its quadratic minimized in closed form (clipped to the piece), the
value evaluated directly.  Tolerances: MSE values are sums of ``n`` squared errors with compensated
(or float64 direct) summation, so they agree to ``1e-12`` relative; the scale agrees within the
certified ``scale_error``, or (near-equal minima about an octave apart, as for minifloats) the two
scales are both in each other's near-optimal set with MSE equal to ``1e-12``.
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from quanttheory.formats import get_format
from quanttheory.risk import format_stream as FS
from quanttheory.risk.format_data import format_data_mse, optimal_scale_format_data
from quanttheory.risk.format_stream import optimal_scale_format_stream

FORMATS = ["e4m3", "e5m2", "e2m1", "nf4", "int4n"]


def _slack(x, mse=0.0):
    """Absolute MSE slack of a scale one rounding away from the exact vertex (see :func:`_same`):
    each residual moves by up to ``d = 4 eps max|x|``, so ``mean(r^2)`` moves by at most
    ``2 sqrt(mse) d + d^2`` (Cauchy-Schwarz).  The first-order term matters when the optimum is small
    but not 0: ``[174.487, 0.24609375]`` on e4m3 (MSE 6.4e-10 at residuals ~2.5e-5 of values ~174) differs
    by 1.0e-12 relative between two evaluations of the same vertex (hypothesis found it, 2026-12-01)."""
    if not np.size(x):
        return 1e-300
    d = 4 * np.finfo(float).eps * float(np.max(np.abs(x)))
    return max(2 * math.sqrt(max(float(mse), 0.0)) * d + d * d, 1e-300)


def _same(x, a, b, tol=1e-12):
    """``b`` (streamed) is the optimum ``a`` (in memory) reports: MSE to ``tol``, the scale within the
    certified error or among ``a``'s near-optimal minima.  Absolute slack ``(4 eps max|x|)^2``: the
    in-memory path polishes its scale to the exact vertex of its piece, the streamed one does not, and a
    scale one rounding away changes each residual ``x - s q`` by up to ``|q| ulp(s) <~ 2 eps |x|`` --
    visible when the optimum is 0 (one float32 value: ``x = s q`` exactly at the vertex), now that
    residuals are formed with one rounding (a zero optimum used to hide it)."""
    assert b.mse == pytest.approx(a.mse, rel=tol, abs=_slack(x, a.mse)), (a.mse, b.mse)
    assert a.amax_mse == pytest.approx(b.amax_mse, rel=1e-12, abs=1e-300)
    if abs(b.scale - a.scale) <= max(a.scale_error, b.scale_error, 1e-12 * a.scale):
        return
    # another minimizer: its MSE, recomputed independently, is the optimum
    assert format_data_mse(x, b.scale, a.format) == pytest.approx(a.mse, rel=tol, abs=_slack(x))
    if a.extra.get("near_optimal_truncated") or a.mse == 0.0:
        return  # e.g. exactly representable data: a continuum of optimal scales
    near = np.array(a.near_optimal_scales, dtype=float)
    assert np.min(np.abs(near - b.scale) / b.scale) <= 1e-9, (a.scale, b.scale, a.near_optimal_scales)


def _brute(x, fmt):
    """Global minimum of MSE(s) by enumerating every breakpoint (small inputs only)."""
    x = np.asarray(x, dtype=np.float64)
    lv = np.asarray(fmt.levels, dtype=np.float64)
    mids = np.asarray(fmt.midpoints, dtype=np.float64)

    def mse(s):
        q = lv[fmt.quantize_index(x / s)]
        return float(np.mean((x - s * q) ** 2))

    bp = []
    for m in mids:
        if m > 0:
            bp.append(x[x > 0] / m)
        elif m < 0:
            bp.append(x[x < 0] / m)
    bp = np.unique(np.concatenate(bp + [np.array([])]))
    bp = bp[bp > 0]
    edges = np.concatenate(([0.0], bp, [np.inf]))
    best = math.inf
    for lft, rgt in zip(edges[:-1], edges[1:]):
        sm = 0.5 * (lft + rgt) if math.isfinite(rgt) else 2 * lft + 1.0
        if sm <= 0:
            continue
        q = lv[fmt.quantize_index(x / sm)]
        den = float(np.sum(q * q))
        s = float(np.sum(x * q)) / den if den > 0 else sm
        s = min(max(s, lft), rgt)
        if s > 0 and math.isfinite(s):
            best = min(best, mse(s))
        for t in (lft, rgt):
            if t > 0 and math.isfinite(t):
                best = min(best, mse(t))
    return best


LAWS = {
    "normal": lambda rng, n: rng.standard_normal(n),
    "laplace": lambda rng, n: rng.laplace(size=n),
    "student3": lambda rng, n: rng.standard_t(3, n),
    "uniform": lambda rng, n: rng.uniform(-1, 1, n),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("law", list(LAWS))
def test_equals_in_memory(fmt, law):
    rng = np.random.default_rng(zlib.crc32(f"{fmt}-{law}".encode()))  # str hash() varies per process
    for n in (1, 2, 37, 3000, 40000):
        x = (LAWS[law](rng, n) * 0.02).astype(np.float32)
        _same(x, optimal_scale_format_data(x, fmt), optimal_scale_format_stream(x, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_equals_brute_force(fmt):
    f = get_format(fmt)
    rng = np.random.default_rng(7)
    for n in (1, 3, 20, 40):
        x = rng.standard_normal(n) * rng.exponential(1.0, n)
        b = optimal_scale_format_stream(x, f)
        assert b.mse == pytest.approx(_brute(x, f), rel=1e-12, abs=_slack(x))
        assert b.risk_lower_bound <= math.pi**2 * b.mse * (1 + 1e-12)


def _adversarial(fmt):
    f = get_format(fmt)
    mids = np.asarray(f.midpoints)
    rng = np.random.default_rng(3)
    yield "all equal", np.full(5000, 0.3)
    yield "all equal negative", np.full(3000, -1.7, dtype=np.float32)
    # every value exactly on a breakpoint of s = 1 and of s = 2 (many ties)
    ties = np.repeat(mids[mids > 0], 40)
    yield "ties on breakpoints", np.concatenate((ties, -ties[::3], 2 * ties))
    x = rng.standard_normal(20000)
    x[123] = 1e4
    yield "one huge outlier", x
    z = rng.standard_normal(6000)
    z[::2] = 0.0
    yield "half zeros", z
    yield "negative only", -np.abs(rng.laplace(size=8000))
    yield "two values", np.array([1.0, -3.0] * 500)
    yield "float64 wide range", rng.standard_normal(5000) * np.exp(rng.uniform(-40, 40, 5000))
    yield "integers", rng.integers(-7, 8, 4000).astype(np.float64)


@pytest.mark.parametrize("fmt", FORMATS)
def test_adversarial_inputs(fmt):
    for name, x in _adversarial(fmt):
        a = optimal_scale_format_data(x, fmt)
        b = optimal_scale_format_stream(x, fmt)
        _same(x, a, b)
        if x.size <= 40:
            assert b.mse == pytest.approx(_brute(x, get_format(fmt)), rel=1e-12)


def test_small_budgets_force_every_stage(monkeypatch):
    """Coarse bins (32 or 256 per octave), tiny pass budget and many clusters per pass: many data passes,
    bisection of expensive clusters, bins of equal values taken from the histogram; same optimum."""
    monkeypatch.setattr(FS, "PASS_BUDGET", 1500)
    monkeypatch.setattr(FS, "PASS_TOTAL", 3000)
    monkeypatch.setattr(FS, "MAX_CLUSTERS_PASS", 3)
    monkeypatch.setattr(FS, "CHUNK", 1000)
    rng = np.random.default_rng(11)
    for fmt in FORMATS:
        monkeypatch.setattr(FS, "M_MAX", 8 if fmt in ("e4m3", "e5m2") else 5)  # bounds weak, not useless
        x = (rng.standard_normal(12000) * 0.02).astype(np.float32)
        x[:2000] = x[0]  # many equal values
        b = optimal_scale_format_stream(x, fmt)
        assert b.extra["data_passes"] > 4
        _same(x, optimal_scale_format_data(x, fmt), b)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=32), min_size=1, max_size=30),
       st.sampled_from(FORMATS))
@example([174.487, 0.24609375], "e4m3")  # small non-zero optimum: the first-order slack (see _slack)
def test_property_equals_brute_force(vals, fmt):
    x = np.array(vals, dtype=np.float32)
    f = get_format(fmt)
    if not np.any(np.abs(x) > 1e-30):
        return  # all zero (degenerate; covered below) or below the engine's range
    b = optimal_scale_format_stream(x, f)
    ref = _brute(x.astype(np.float64), f)
    assert b.mse == pytest.approx(ref, rel=1e-12, abs=_slack(x, ref))


def test_degenerate_and_bad_input():
    r = optimal_scale_format_stream(np.zeros(100), "e4m3")
    assert r.mse == 0.0 and r.scale == 1.0 and r.scale_error == math.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        optimal_scale_format_stream(np.array([1.0, np.nan]), "e4m3")
    with pytest.raises(ValueError, match="empty"):
        optimal_scale_format_stream(np.array([]), "e4m3")
    with pytest.raises(TypeError, match="real numbers"):
        optimal_scale_format_stream(np.array([1 + 1j]), "e4m3")
    with pytest.raises(ValueError, match="rtol"):
        optimal_scale_format_stream(np.ones(3), "e4m3", rtol=0.5)
    unsigned = get_format("uint4") if _has("uint4") else None
    if unsigned is not None:
        with pytest.raises(ValueError):
            optimal_scale_format_stream(-np.ones(10), unsigned)


def _has(name):
    try:
        get_format(name)
    except (ValueError, TypeError):
        return False
    return True


def test_bf16_input():
    ml = pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(5000) * 0.02).astype(ml.bfloat16)
    x32 = x.astype(np.float32)
    _same(x32, optimal_scale_format_data(x32, "e4m3"), optimal_scale_format_stream(x, "e4m3"))


def test_model_hook_long_unit(monkeypatch):
    """``quanttheory model --granularity tensor``: a unit longer than STREAM_MIN uses the streamed
    engine; its SSE equals the in-memory path's (same unit below the threshold)."""
    from quanttheory.models import tasks
    from quanttheory.models.tasks import analyze_block

    rng = np.random.default_rng(2)
    rows = (rng.standard_normal((1, 5000)) * 0.02).astype(np.float32)
    ref = analyze_block("t", 0, rows, "e4m3", False, ("amax",))
    monkeypatch.setattr(tasks, "STREAM_MIN", 1000)
    got = analyze_block("t", 0, rows, "e4m3", False, ("amax",))
    assert got.sse["exact"] == pytest.approx(ref.sse["exact"], rel=1e-12)
    assert got.sse["amax"] == pytest.approx(ref.sse["amax"], rel=1e-12)
