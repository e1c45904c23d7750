"""Bit-independent Student t fast path (issue 15, item 1).

References and tolerances:
* tests/data/heavy_mpref.json (mpmath, cell-by-cell incomplete beta partial moments at 32 digits,
  a different method): relative 1e-12 on every point the fast path handles, and every point of the
  public entry (fast + per-cell fallback);
* nu = 5 (not in the file): mpmath references computed here the same way (bits 3..8);
* the per-cell walk (``method="cells"``, itself tested to 1e-12 against mpmath) for MSQE and QSin,
  ReLU, off-centre locations: relative 1e-12;
* the full-line characteristic function of the t law against mpmath's besselk: 1e-13;
* property (hypothesis): any nu in [2.05, 200], loc, scale, ReLU, grid, scale: where the fast path says
  "handled" it matches the per-cell walk to 1e-12, else it returns NaN.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanttheory import Grid, ReLU
from quanttheory.laws import StudentT
from quanttheory.risk import expected_phi
from quanttheory.risk.heavy import _t_log_cf, expected_phi_shape, t_fast_expected_phi

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from heavy_mpref import T, mp_msqe  # noqa: E402

REF_FILE = pathlib.Path(__file__).parent / "data" / "heavy_mpref.json"


def _grid(r_b, r_t):
    return Grid(int(round(math.log2(r_t - r_b + 1))), signed=r_b < 0)


def test_fast_path_matches_mpmath_where_handled():
    rows = [r for r in json.loads(REF_FILE.read_text()) if r[0] == T]
    handled = 0
    for law, nu, loc, scale, relu, r_b, r_t, s, v in rows:
        vals, ok = t_fast_expected_phi(nu, loc, scale, relu, _grid(r_b, r_t), 0, np.array([s]))
        if ok[0]:
            handled += 1
            assert abs(vals[0] / float(v) - 1) <= 1e-12, (nu, loc, scale, relu, r_b, r_t, s)
        else:
            assert math.isnan(vals[0])
    # measured: 210 of the 323 t points are handled (the rest: 1..4 bits, or s >= 3x the nominal optimum)
    assert handled >= 200


@pytest.mark.parametrize("bits,mult", [(3, 1.0), (5, 0.01), (6, 1.0), (8, 0.3), (8, 3.0), (8, 1e-4)])
def test_nu5_against_mpmath(bits, mult):
    nu, loc, scale = 5.0, 0.25, 1.5
    rms = math.sqrt(loc**2 + scale**2 * nu / (nu - 2))
    s = mult * 8 * rms / 2**bits
    g = Grid(bits)
    want = float(mp_msqe(T, nu, loc, scale, False, g.r_b, g.r_t, s, dps=30))
    got = float(expected_phi(StudentT(nu, loc, scale), np.array([s]), g, "msqe")[0])
    assert abs(got / want - 1) <= 1e-12


CASES = [(2.5, 0.0, 1.0, False), (3.0, 0.3, 0.7, False), (4.0, 0.2, 1.0, True), (5.0, -0.4, 2.0, False),
         (8.0, 0.0, 2.0, False), (30.0, 0.0, 1.0, False), (30.0, 1.5, 1.0, True)]


@pytest.mark.parametrize("nu,mu,sig,relu", CASES)
def test_fast_path_matches_cells(nu, mu, sig, relu):
    for bits in (2, 4, 7, 10):
        g = Grid(bits, signed=not relu)
        s = np.geomspace(1e-3, 30, 13) * 8 * math.sqrt(nu / (nu - 2)) * sig / 2**bits
        for code in (0, 1):
            f, ok = t_fast_expected_phi(nu, mu, sig, relu, g, code, s)
            c = expected_phi_shape(2, nu, mu, sig, relu, g, code, s, method="cells")
            np.testing.assert_allclose(f[ok], c[ok], rtol=1e-12, atol=0)
            # the public path (fast + fallback) equals the per-cell path everywhere
            a = expected_phi_shape(2, nu, mu, sig, relu, g, code, s)
            np.testing.assert_allclose(a, c, rtol=1e-12, atol=0)


def test_walked_tails_nu30_12_bits():
    # nu = 30, clip points near 4..8 sd: the closed-form tail cancels (|A| + |B| ~ 100 U), the fast path
    # walks those tails; compared with the per-cell walk
    g = Grid(12)
    s = np.geomspace(0.3, 0.8, 5) * 8 * math.sqrt(30 / 28) / 2**12
    f, ok = t_fast_expected_phi(30.0, 0.0, 1.0, False, g, 0, s)
    assert ok.all()
    np.testing.assert_allclose(f, expected_phi_shape(2, 30.0, 0.0, 1.0, False, g, 0, s, method="cells"), rtol=1e-12)


def test_fast_path_handles_high_bits_entirely():
    # the benchmark's scales (1e-2x .. 10x of 8 rms / 2^b) at 8 and 16 bits: no per-cell fallback needed
    for nu in (3.0, 4.0, 30.0):
        for bits in (8, 16):
            s = np.geomspace(0.01, 10, 50) * 8 * math.sqrt(nu / (nu - 2)) / 2**bits
            _, ok = t_fast_expected_phi(nu, 0.0, 1.0, False, Grid(bits), 0, s)
            assert ok.all(), (nu, bits)


@pytest.mark.parametrize("nu", [2.5, 3.0, 5.0, 30.0])
def test_characteristic_function(nu):
    u = np.array([1e-3, 0.1, 1.0, 3.0, 10.0])
    got = np.exp(_t_log_cf(nu, u))
    a = mp.mpf(nu) / 2
    with mp.workdps(30):
        want = [float(mp.besselk(a, mp.sqrt(nu) * x) * (mp.sqrt(nu) * x) ** a / (mp.gamma(a) * 2 ** (a - 1)))
                for x in u]
    np.testing.assert_allclose(got, want, rtol=1e-13)


def test_relu_r_t_zero_falls_back():
    # ReLU on a 1-bit signed grid: no positive grid point, empty interior: not handled, per-cell path used
    g = Grid(1)
    s = np.array([0.5, 1.0])
    _, ok = t_fast_expected_phi(4.0, 0.2, 1.0, True, g, 0, s)
    assert not ok.any()
    got = expected_phi(ReLU(StudentT(4.0, 0.2)), s, g, "msqe")
    want = [float(mp_msqe(T, 4.0, 0.2, 1.0, True, g.r_b, g.r_t, x, dps=30)) for x in s]
    np.testing.assert_allclose(got, want, rtol=1e-12)



@settings(max_examples=25, deadline=None)
@given(lognu=st.floats(math.log(2.05), math.log(200.0)), mu=st.floats(-40.0, 40.0), lsig=st.floats(-3.0, 3.0),
       relu=st.booleans(), bits=st.integers(1, 10), signed=st.booleans(), lmult=st.floats(-9.0, 4.6),
       code=st.sampled_from([0, 1]))
def test_fast_path_property_against_cells(lognu, mu, lsig, relu, bits, signed, lmult, code):
    # wherever the fast path says "handled" it agrees with the per-cell walk to 1e-12 (any nu, loc, scale, grid)
    nu, sig = math.exp(lognu), math.exp(lsig)
    g = Grid(bits, signed=signed)
    rms = math.sqrt(mu**2 + sig**2 * nu / (nu - 2))
    s = np.array([math.exp(lmult) * 8 * rms / 2**bits])
    f, ok = t_fast_expected_phi(nu, mu, sig, relu, g, code, s)
    if ok[0]:
        c = expected_phi_shape(2, nu, mu, sig, relu, g, code, s, method="cells")
        assert abs(f[0] / c[0] - 1) <= 1e-12
    else:
        assert math.isnan(f[0])
