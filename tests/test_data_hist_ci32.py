"""The integer-bin histogram pass for float32 data (issue 20, 2026-12-01 morning).

:func:`quanttheory.risk._kernels.data_hist.hist_ci32` keeps per bin one int64: the count times
``2**40`` plus the sum of the values' low ``sh = 23 - m`` mantissa bits.  A bin ``j >= 1`` is one
octave and one sub-bin, so ``sum |x| = c lo + 2**(e-24) L`` exactly (``lo`` the bin's lower edge,
``L`` the low-bit sum); only the conversion to float64 rounds (``<= 2 u`` relative, ``u = 2**-53``).
Bin 0 (values below the first octave: subnormals, zeros, merged octaves after a widening) sums its
``|x|`` in float64, in order.  References, independent of the kernels:

* the count of every bin against ``np.searchsorted`` on the bin edges + ``np.add.at`` (exact);
* every bin's sum against its exact rational sum (:class:`fractions.Fraction` of the float32
  values): within ``2 u`` relative for bins ``j >= 1`` (the derivation above; a sequential float64
  sum of the same values can be off by ``(c - 1) u``, so the test can tell the two apart on the
  duplicate-heavy bins), within ``c eps`` for bin 0 (the bound the sum-of-squares bounds assume);
* the optimum of float32 data through the fused path against the same values as float64 (their
  histogram comes from :func:`hist_cs`, a different kernel): the same optimum (scale, MSE to 1e-12);
* flushes every ``BLOCK`` values (``CI32_FLUSH`` patched) and widenings by more octaves than the
  histogram holds give the same bins.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import quanttheory.risk.data as D
import quanttheory.risk.data_search as S
from quanttheory import Grid
from quanttheory.risk.data import optimal_scale_data

U = 2.0**-53


def _exact_bins(x, H):
    lo, hi = S._bin_edges(H.e_lo, H.m, H.nb)
    v = np.abs(x.astype(np.float64))
    j = np.searchsorted(hi, v, side="right")
    side = np.signbit(x).astype(np.int64)
    return side * H.nb + j, v


def _check_bins(x, bits=4):
    got = S._Hist.fused(x, bits)
    assert got is not None
    H, st = got
    key, v = _exact_bins(x, H)
    a = H.h.reshape(-1, 3)
    c = np.zeros(2 * H.nb)
    np.add.at(c, key, 1.0)
    np.testing.assert_array_equal(a[:, 0], c)
    order = np.argsort(key, kind="stable")
    ks, starts = np.unique(key[order], return_index=True)
    ends = np.append(starts[1:], key.size)
    worst = 0.0
    for k, s0, s1 in zip(ks, starts, ends):
        ex = sum((Fraction(float(t)) for t in v[order[s0:s1]]), Fraction(0))
        err = abs(Fraction(float(a[k, 1])) - ex)
        cnt = s1 - s0
        if k % H.nb == 0:
            assert err <= cnt * 2 * U * ex
        else:
            assert err <= 2 * U * ex, (k, cnt, float(err / ex) if ex else err)
            worst = max(worst, float(err / ex) if ex else 0.0)
    return H, st, worst


@pytest.fixture
def ci_on(monkeypatch):
    monkeypatch.setattr(D, "FUSED_MIN", 1)
    return monkeypatch


def test_bins_exact_normal_and_duplicates(ci_on):
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.standard_normal(50_000),
                        np.repeat(rng.standard_normal(40), 2_000)]).astype(np.float32)
    rng.shuffle(x)
    _check_bins(x, 4)
    _check_bins(x, 6)


def test_bins_exact_with_flushes_every_block(ci_on):
    ci_on.setattr(S, "CI32_FLUSH", S.BLOCK)
    rng = np.random.default_rng(4)
    x = np.concatenate([np.full(30_000, 1.2345678, dtype=np.float32),
                        rng.standard_normal(30_000).astype(np.float32)])
    _check_bins(x, 3)


@pytest.mark.parametrize("scale", [1e3, 1e30])
def test_bins_exact_after_widening(ci_on, scale):
    # the range comes from the first 65536 values; a later block with larger values widens the
    # histogram by whole octaves (by more octaves than it holds at 1e30: every bin merges into 0)
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.standard_normal(70_000) * 1e-3, rng.standard_normal(20_000) * scale,
                        rng.standard_normal(5_000)]).astype(np.float32)
    H, st, _ = _check_bins(x, 4)
    assert st.max_pos >= float(np.max(x))


def test_bins_exact_subnormals_and_zeros(ci_on):
    rng = np.random.default_rng(6)
    x = rng.standard_normal(70_000).astype(np.float32)
    x[:500] = (rng.standard_normal(500) * 2.0**-140).astype(np.float32)  # subnormal: bin 0
    x[500:600] = 0.0
    x[600:700] = -0.0
    H, _, _ = _check_bins(x, 4)
    assert H.h.reshape(2, H.nb, 3)[:, 0, 0].sum() == 700


@pytest.mark.parametrize("bits", [2, 3, 4, 6, 8])
@pytest.mark.parametrize("kind", ["normal", "student3", "lattice"])
def test_float32_optimum_equals_float64_of_same_values(ci_on, bits, kind):
    # the float64 copy takes hist_cs (float64 bins), the float32 array hist_ci32: the optimum is a
    # property of the values, so the two must agree (scale bit-identical unless the MSE ties)
    ci_on.setattr(D, "DIRECT_ONE_FACTOR", 0)
    rng = np.random.default_rng(bits * 7 + len(kind))
    n = 80_000
    x = {"normal": rng.standard_normal(n), "student3": rng.standard_t(3, n),
         "lattice": np.round(rng.standard_normal(n) * 16) / 16}[kind].astype(np.float32)
    r32 = optimal_scale_data(x, Grid(bits))
    r64 = optimal_scale_data(x.astype(np.float64), Grid(bits))
    assert r32.extra["fused_scan"] and r64.extra["fused_scan"]
    m32, m64 = r32.extra["mse"], r64.extra["mse"]
    assert abs(m32 - m64) <= 1e-12 * m64 + 1e-300
    assert abs(r32.scale - r64.scale) <= r32.scale_error + r64.scale_error
