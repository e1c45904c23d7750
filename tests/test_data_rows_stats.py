"""The rows kernel's extrema pass on the values' bits (``_row_stats_chk``, risk/_kernels/direct.py):
the same extrema and counts as float comparisons, and its validity check (NaN, inf, ``|x| >
ROW_BIG``) equal to ``rows_ok``'s; the windowed kernel marks an offending row and every later one
with status -2, and the per-channel path then raises naming the channel (tested in
test_data_channels.py)."""

from __future__ import annotations

import numpy as np
import pytest

from quanttheory import Grid, optimal_scale_data
from quanttheory.risk._kernels import direct as D


def _reference(x, Tp, Tn):
    """The statistics by NumPy float comparisons (independent of the bit tricks)."""
    v = x.astype(np.float64)
    pos = v[v >= 0.0]
    neg = -v[v < 0.0]
    max_pos = float(pos.max()) if pos.size else 0.0
    max_neg = float(neg.max()) if neg.size else 0.0
    min_pos = float(pos[pos > 0].min()) if np.any(pos > 0) else np.inf
    min_neg = float(neg.min()) if neg.size else np.inf
    lo, hi = np.inf, 0.0
    if Tp > 0 and max_pos > 0:
        lo, hi = min(lo, min_pos / (Tp + 0.5)), max(hi, max_pos)
    if Tn > 0 and max_neg > 0:
        lo, hi = min(lo, min_neg / (Tn + 0.5)), max(hi, max_neg)
    nbad = int(np.sum(~(np.abs(v) <= D.ROW_BIG)))
    return max_pos, max_neg, int(pos.size), lo, hi, nbad


def _rows():
    rng = np.random.default_rng(5)
    out = [rng.normal(size=257), np.abs(rng.normal(size=100)), -np.abs(rng.normal(size=100)), np.zeros(9),
           np.full(7, -0.0), np.array([0.0, -0.0, 5e-324, -5e-324, 1e-310, -2.5e-308]),
           np.array([-0.0, 3.0, -3.0, 0.0]), np.array([D.ROW_BIG, -D.ROW_BIG, 1.0]),
           np.array([np.nextafter(D.ROW_BIG, np.inf), 1.0]), np.array([-np.nextafter(D.ROW_BIG, np.inf)]),
           np.array([1.0, np.nan, -2.0]), np.array([np.inf, 1.0]), np.array([-np.inf, -1.0]),
           np.array([np.finfo(np.float64).max, -np.finfo(np.float64).tiny]), rng.standard_cauchy(500) * 1e300]
    return out


@pytest.mark.parametrize("tops", [(7, 8), (1, 2), (3, 0), (0, 2), (127, 128)])
def test_row_stats_bits_equal_float_reference(tops):
    Tp, Tn = tops
    for x in _rows():
        for dt in (np.float64, np.float32):
            with np.errstate(over="ignore"):
                xd = x.astype(dt)
            got = D._row_stats_chk(xd, Tp, Tn)
            ref = _reference(xd, Tp, Tn)
            assert got[5] == ref[5], (x, dt)
            if ref[5] == 0:  # the statistics are used only then (else status -2)
                assert got[:5] == ref[:5], (x, dt, got, ref)
                assert D._row_stats(xd, Tp, Tn) == got[:5]
            assert (ref[5] == 0) == D.rows_ok(xd.reshape(1, -1))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 2.0**505])
def test_windowed_kernel_marks_bad_rows(bad):
    """Rows before the offending one are solved as without it; it and every later row get -2."""
    x = np.random.default_rng(3).normal(size=(5, 2500))
    if np.isfinite(bad):
        x[2] *= bad  # valid for scan, above ROW_BIG: the one-channel path
    else:
        x[2, 1234] = bad
    out = np.zeros((5, 6))
    D.exact_rows_checked(x, 7, 8, out)
    ref = np.zeros((2, 6))
    D.exact_rows(np.ascontiguousarray(x[:2]), 7, 8, ref)
    assert np.array_equal(out[:2], ref)
    assert np.all(out[2:, 5] == -2.0)
    if np.isfinite(bad):  # valid data (below scan's limit ~1e154): the one-channel path solves every row
        res = optimal_scale_data(x, Grid(4), axis=0)
        assert res.scale[1] == ref[1, 0] and res.scale[2] == optimal_scale_data(x[2], Grid(4)).scale
        unchecked = np.zeros((5, 6))
        D.exact_rows(x, 7, 8, unchecked)  # exact_rows (validated data, e.g. one channel) does not stop
        assert np.all(unchecked[:, 5] == 0) and np.array_equal(unchecked[:2], ref)
    else:
        with pytest.raises(ValueError, match="channel 2"):
            optimal_scale_data(x, Grid(4), axis=0)
