"""Tests of the O(1)-per-scale fast path (quanttheory.risk.fastpath) against two independent references.

* the per-cell Gauss-Legendre path (quanttheory.risk._kernels.cells.curve_builtin, error <= ~1e-14),
  wherever it is cheap (cells in the window <= ~3e4), and at 24 bits from precomputed values;
* mpmath at 40 digits (tests/mpref.py): QSin/SinReQ in O(1) at every bit width (1..24) and
  MSQE live at small widths, from tests/data/fastpath_mp_msqe.json at 12 and 16 bits
  (made by tests/make_fastpath_mpref.py; mpmath MSQE is O(2^b)).

Tolerance: 1e-12 relative, the package's accuracy target.  Both references are accurate to
<= 1e-13, and the fast path's truncation error is bounded by 1e-16 of the result, so the
only other error is float64 rounding (~1e-14 observed): 1e-12 leaves a margin of ~100 and
still catches any wrong term (the smallest correction term the formulas add is > 1e-10
relative at the scales tested near the handled threshold).
"""

from __future__ import annotations

import json
import math
import pathlib
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from quanttheory.risk import fastpath as fp

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from mpref import mp_risk  # noqa: E402

RTOL = 1e-12
DATA = pathlib.Path(__file__).parent / "data"
REG = {0: "msqe", 1: "qsin", 2: "sinreq"}

# (law, loc, relu) with scale 1: the four laws, centred and shifted
LAWS = [(0, 0.0, False), (0, 0.7, False), (1, 0.0, False), (1, -0.6, False),
        (0, 0.0, True), (0, -0.4, True), (0, 0.9, True), (1, 0.0, True), (1, 0.5, True), (1, -0.3, True)]


def grid(bits, signed):
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)


def rms(law, loc):
    return math.sqrt(loc * loc + (1.0 if law == 0 else 2.0))


def scan(law, loc, bits, n=25):
    """1e-4x .. 100x the optimum estimate 8 rms / 2^b (checked against optimal_scale below)."""
    s_opt = 8 * rms(law, loc) / 2**bits
    return np.geomspace(1e-4 * s_opt, 100 * s_opt, n)


def cells_ref(law, loc, relu, r_b, r_t, code, s):
    from quanttheory.risk._kernels import cells
    from quanttheory.risk.curve import _tables

    ns, nodes, weights, amax = _tables()
    return cells.curve_builtin(law, loc, 1.0, relu, r_b, r_t, code, np.ascontiguousarray(s, dtype=float),
                               ns, nodes, weights, amax)


def rel(a, b):
    return np.abs(np.asarray(a) / np.asarray(b) - 1.0)


@pytest.mark.parametrize("bits", [1, 2, 3, 5, 8, 12, 16, 20, 24])
@pytest.mark.parametrize("law,loc,relu", LAWS[::2] + [LAWS[5]])
def test_against_cells(bits, law, loc, relu):
    """Scan 1e-4x..100x the optimum; at >= 16 bits the per-cell path is too slow near the
    optimum (2^b cells), so scales 2e-3..0.7 (where it is cheap) are added."""
    checked = 0
    for signed in (True, False):
        r_b, r_t = grid(bits, signed)
        s = scan(law, loc, bits, 15)
        if bits >= 16:
            s = np.concatenate([s, np.geomspace(2e-3, 0.7, 5)])
        for code in (0, 1, 2):
            res = fp.fast_expected_phi(law, loc, 1.0, relu, r_b, r_t, code, s)
            ok = res.handled & (fp.percell_cells(law, loc, 1.0, relu, r_b, r_t, code, s) <= 5e3)
            assert np.all(np.isnan(res.values[~res.handled]))
            if ok.any():
                ref = cells_ref(law, loc, relu, r_b, r_t, code, s[ok])
                err = rel(res.values[ok], ref)
                assert err.max() <= RTOL, (code, signed, s[ok][np.argmax(err)], err.max())
                checked += int(ok.sum())
    assert checked > 0


@pytest.mark.parametrize("bits", [1, 2, 5, 8, 12, 16, 20, 24])
def test_qsin_sinreq_against_mpmath(bits):
    """mpmath QSin/SinReQ are O(1) in b: check every law at several scales and both grids."""
    n = 0
    for law, loc, relu in LAWS:
        for signed in (True, False):
            r_b, r_t = grid(bits, signed)
            s = scan(law, loc, bits, 7)
            for code in (1, 2):
                res = fp.fast_expected_phi(law, loc, 1.0, relu, r_b, r_t, code, s)
                for i in np.flatnonzero(res.handled)[:: 2 if bits < 20 else 3]:
                    ref = float(mp_risk(law, loc, 1.0, relu, r_b, r_t, REG[code], s[i], dps=40))
                    assert rel(res.values[i], ref) <= RTOL, (law, loc, relu, signed, code, s[i])
                    n += 1
    assert n > 50


@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_msqe_against_mpmath_small_bits(bits):
    n = 0
    for law, loc, relu in LAWS:
        r_b, r_t = grid(bits, not relu)
        s = scan(law, loc, bits, 9)
        res = fp.fast_expected_phi(law, loc, 1.0, relu, r_b, r_t, 0, s)
        for i in np.flatnonzero(res.handled)[::2]:
            ref = float(mp_risk(law, loc, 1.0, relu, r_b, r_t, "msqe", s[i], dps=30)) / math.pi**2
            assert rel(res.values[i], ref) <= RTOL, (law, loc, relu, s[i])
            n += 1
    assert n > 10


def test_msqe_against_precomputed_mpmath_12_16_bits():
    rows = json.loads((DATA / "fastpath_mp_msqe.json").read_text())
    assert len(rows) >= 20
    for r in rows:
        res = fp.fast_expected_phi(r["law"], r["loc"], r["scale"], r["relu"], r["r_b"], r["r_t"], 0,
                                   np.array([r["s"]]))
        if not res.handled[0]:
            continue
        assert rel(res.values[0], float(r["value"])) <= RTOL, r
    # the optimum-scale points are all handled
    assert all(fp.fast_expected_phi(r["law"], r["loc"], r["scale"], r["relu"], r["r_b"], r["r_t"], 0,
                                    np.array([r["s"]])).handled[0] for r in rows if r["s"] < 0.1)


def test_msqe_24_bits_against_precomputed_cells():
    """The per-cell path takes ~10 s per scale at 24 bits: values precomputed by
    tests/make_fastpath_mpref.py (per-cell path, not the fast path)."""
    rows = json.loads((DATA / "fastpath_cells24.json").read_text())
    assert len(rows) >= 4
    for r in rows:
        res = fp.fast_expected_phi(r["law"], r["loc"], r["scale"], r["relu"], r["r_b"], r["r_t"], r["code"],
                                   np.array([r["s"]]))
        assert res.handled[0]
        assert rel(res.values[0], r["value"]) <= RTOL, r


def test_scan_covers_the_true_optimum():
    """The scan 1e-4x..100x of 8 rms/2^b brackets optimal_scale with margin (bits <= 12)."""
    from quanttheory.laws.parametric import Laplace, Normal
    from quanttheory.risk import optimal_scale

    for dist, law in ((Normal(0.0, 1.0), 0), (Laplace(0.0, 1.0), 1)):
        for bits in (2, 8):
            s_star = optimal_scale(dist, bits, "msqe").scale
            s = scan(law, 0.0, bits)
            assert s[0] * 100 < s_star < s[-1] / 10


def test_cancellation_regimes():
    """Near the handled threshold (largest t-corrections), a kink on / between grid points,
    far-shifted ReLU laws (tiny mass), a huge loc/s (phase) and 1-bit grids."""
    cases = []
    for law in (0, 1):
        # scales just inside the handled region
        s = np.geomspace(0.05, 3.5, 60)
        for code in (0, 1, 2):
            for relu, loc in ((False, 0.3), (True, 0.3), (True, -2.5)):
                cases.append((law, loc, relu, -8, 7, code, s))
        # Laplace kink exactly on a grid point and at a half-integer
        cases.append((1, 0.25, False, -128, 127, 0, np.array([0.05, 0.1, 0.125, 0.5 / 3])))
        cases.append((1, 0.25, True, 0, 255, 1, np.array([0.05, 0.1, 0.125, 0.5 / 3])))
        # 1-bit grids (signed [-1, 0]: ReLU interior empty)
        for relu in (False, True):
            cases.append((law, 0.2, relu, -1, 0, 0, np.geomspace(1e-3, 0.5, 7)))
            cases.append((law, 0.2, relu, -1, 0, 1, np.geomspace(1e-3, 0.5, 7)))
        # large loc/s
        cases.append((law, 40.0, False, -(2**15), 2**15 - 1, 0, np.array([1e-3, 3.3e-3])))
    n = 0
    for law, loc, relu, r_b, r_t, code, s in cases:
        res = fp.fast_expected_phi(law, loc, 1.0, relu, r_b, r_t, code, s)
        h = res.handled
        if h.any():
            ref = cells_ref(law, loc, relu, r_b, r_t, code, s[h])
            assert rel(res.values[h], ref).max() <= RTOL, (law, loc, relu, r_b, r_t, code)
            n += int(h.sum())
    assert n > 200


def test_not_handled_when_s_is_large():
    for law in (0, 1):
        # Normal: handled iff 2 pi sig/s >= ~8.7; Laplace: iff 2 pi b/s >= 2
        res = fp.fast_expected_phi(law, 0.0, 1.0, False, -128, 127, 0, np.array([1.0 if law == 0 else 3.5, 10.0, 1e3]))
        assert not res.handled.any()
        assert np.isnan(res.values).all()
    # small s relative to the law's scale is always handled, whatever the bit width
    for bits in (1, 8, 24):
        r_b, r_t = grid(bits, True)
        for law in (0, 1):
            assert fp.fast_expected_phi(law, 0.0, 1.0, False, r_b, r_t, 0, np.array([1e-3, 0.1])).handled.all()


def test_hybrid_matches_cells_and_selects():
    s = np.geomspace(1e-4, 100, 41) * 8 / 256
    for law in (0, 1):
        for code in (0, 1, 2):
            if code == 2:  # per-cell SinReQ visits window/s periodic cells: keep s >= 1e-3
                s = s[s > 1e-3]
            auto = fp.hybrid_expected_phi(law, 0.1, 1.0, False, -128, 127, code, s)
            ref = fp.hybrid_expected_phi(law, 0.1, 1.0, False, -128, 127, code, s, method="cells")
            fast = fp.hybrid_expected_phi(law, 0.1, 1.0, False, -128, 127, code, s, method="fast")
            assert rel(auto, ref).max() <= RTOL and rel(fast, ref).max() <= RTOL
    s = np.geomspace(1e-4, 100, 41) * 8 / 256
    better = fp.fast_is_better(0, 0.0, 1.0, False, -128, 127, 0, s)
    assert better[:20].all() and not better[-1]
    # the rule is "handled and >= MIN_CELLS per-cell cells"
    for bits in (1, 8):
        r_b, r_t = grid(bits, True)
        h = fp.fast_expected_phi(0, 0.0, 1.0, False, r_b, r_t, 0, s).handled
        n = fp.percell_cells(0, 0.0, 1.0, False, r_b, r_t, 0, s)
        assert np.array_equal(fp.fast_is_better(0, 0.0, 1.0, False, r_b, r_t, 0, s), h & (n >= fp.MIN_CELLS))
    # shape is preserved
    assert fp.hybrid_expected_phi(0, 0.0, 1.0, False, -8, 7, 0, s[:6].reshape(2, 3)).shape == (2, 3)


@settings(max_examples=60, deadline=None)
@given(law=st.sampled_from([0, 1]), loc=st.floats(-2, 2), sig=st.floats(0.1, 10), relu=st.booleans(),
       bits=st.integers(1, 12), signed=st.booleans(), code=st.sampled_from([0, 1, 2]),
       lm=st.floats(-4, 2))
def test_property_fast_equals_cells(law, loc, sig, relu, bits, signed, code, lm):
    r_b, r_t = grid(bits, signed)
    s = np.array([10**lm * 8 * sig / 2**bits])
    res = fp.fast_expected_phi(law, loc, sig, relu, r_b, r_t, code, s)
    if not res.handled[0] or fp.percell_cells(law, loc, sig, relu, r_b, r_t, code, s)[0] > 1.5e4:
        return
    from quanttheory.risk._kernels import cells
    from quanttheory.risk.curve import _tables

    ns, nodes, weights, amax = _tables()
    ref = cells.curve_builtin(law, loc, sig, relu, r_b, r_t, code, s, ns, nodes, weights, amax)[0]
    assert rel(res.values[0], ref) <= RTOL


def test_validation():
    s = np.array([0.1])
    with pytest.raises(ValueError, match="law"):
        fp.fast_expected_phi(2, 0.0, 1.0, False, -8, 7, 0, s)
    with pytest.raises(ValueError, match="sig"):
        fp.fast_expected_phi(0, 0.0, -1.0, False, -8, 7, 0, s)
    with pytest.raises(ValueError, match="finite"):
        fp.fast_expected_phi(0, math.nan, 1.0, False, -8, 7, 0, s)
    with pytest.raises(ValueError, match="grid range"):
        fp.fast_expected_phi(0, 0.0, 1.0, False, 1, 7, 0, s)
    with pytest.raises(ValueError, match="code"):
        fp.fast_expected_phi(0, 0.0, 1.0, False, -8, 7, -1, s)
    with pytest.raises(ValueError, match="scales"):
        fp.fast_expected_phi(0, 0.0, 1.0, False, -8, 7, 0, np.array([0.1, -1.0]))
    with pytest.raises(TypeError):
        fp.fast_expected_phi(0, 0.0, 1.0, "yes", -8, 7, 0, s)
    with pytest.raises(ValueError, match="method"):
        fp.hybrid_expected_phi(0, 0.0, 1.0, False, -8, 7, 0, s, method="fastest")
