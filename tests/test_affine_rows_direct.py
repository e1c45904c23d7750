"""The final direct sum of the fused per-row (s, z) kernel by runs of bins of one code (``_rows._direct_bins``,
session of 2026-11-30, issue 16) against the plain definition ``sum (x - s clip(rint(x / s), -z, N - z))^2``:
random rows, lattice rows whose values sit exactly on the code thresholds (ties of ``rint``), an outlier row, and
float32 subnormals.  The terms are the same numbers in another order, so the sums agree to 1e-13 relative (sums
of at most a few hundred non-negative terms; rounding <= n eps of the sum)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_affine_rows import _tables, _true_sum  # noqa: E402

EPS = 2.0**-52


def _bins(x, s, z, N, nb):
    """``_direct_bins`` on the kernel's tables of ``x`` (bin edges and rounding margin as in ``_solve_range``)."""
    from quanttheory.affine import _rows as RK

    _, _, _, buf, start, xmin, xmax, invw = _tables(x, nb)
    rng = xmax - xmin
    w = rng / nb
    dlt = 16.0 * EPS * (abs(xmin) + abs(xmax) + rng)
    return RK._direct_bins(buf, start, xmin, xmax, invw, w, dlt, nb, s, z, N)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=2, max_size=60), st.floats(0.01, 5.0),
       st.integers(1, 8), st.integers(1, 40))
def test_direct_bins_is_the_direct_sum(xs, s, bits, nb):
    x = np.array(xs, dtype=np.float64)
    if x.min() == x.max():
        return  # constant rows never reach the sum (status 2)
    N = 2**bits - 1
    for z in (0, N // 2, N):
        assert _bins(x, s, z, N, nb) == pytest.approx(_true_sum(x, s, z, N), rel=1e-13, abs=1e-300)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_direct_bins_lattice_ties_outlier_subnormal(bits):
    """Hand-built rows where a run test could go wrong: values exactly on the thresholds ``(c + 1/2) s``
    (``s`` a power of two, so ``v / s`` is exact and ``rint`` rounds half to even), bins wider than a cell, one
    far outlier (all other values in one bin), and float32 subnormals next to zero."""
    N = 2**bits - 1
    s = 0.25
    lattice = np.arange(-2 * N, 2 * N + 1) * (s / 2)  # every half-step: codes and thresholds alternate
    rows = [lattice, np.concatenate([lattice, lattice[::3]]),
            np.concatenate([np.linspace(-1.0, 1.0, 101), [1e6]]),
            np.array([0.0, 1.4e-45, -1.4e-45, 1e-38, 2.8e-45, 0.3], dtype=np.float32).astype(np.float64)]
    for x in rows:
        for z in (0, N // 2, N):
            for ss in (s, s * 3.0, 1e-40, 7.0):
                ref = _true_sum(x, ss, z, N)
                for nb in (1, 2, 7, 64):
                    assert _bins(x, ss, z, N, nb) == pytest.approx(ref, rel=1e-13, abs=1e-300)


def test_kernel_rows_long_enough_for_the_run_sum_match_brute_force():
    """Whole kernel on rows long enough that the final sum goes by runs of bins (2 bits: 8 (N + 1) <= n / 4 bins
    needs n >= 128): lattice values with ties, one outlier, a one-signed row with exact zeros, against the brute
    force of ``test_affine_rows`` (MSE 1e-10, the returned (s, z) reproduce it to 1e-12)."""
    from test_affine_rows import _check

    rng = np.random.default_rng(7)
    n = 160
    lattice = np.round(rng.normal(size=n) * 2) / 2
    outlier = np.concatenate([rng.normal(size=n - 1) * 0.1, [25.0]])
    onesided = np.maximum(rng.normal(size=n), 0.0)
    _check(np.vstack([lattice, outlier, onesided]), 2)


def test_kernel_float32_subnormal_rows():
    """float32 subnormals (multiples of 2^-149): the row {0, 1, 2, 3} x 2^-149 (repeated) is represented exactly
    by z = 0, s = 2^-149 at 2 bits (MSE 0, derived by hand; the optimum z is 0 since every value is >= 0); a row
    mixing subnormals and normal values against the brute force."""
    from quanttheory.affine import optimal_affine_data
    from test_affine_rows import _check

    t = np.float32(2.0**-149)
    x = (np.arange(160) % 4).astype(np.float32) * t
    r = optimal_affine_data(x[None, :], 2, axis=0)
    assert r.mse[0] == 0.0 and int(r.zero_point[0]) == 0
    assert r.scale[0] == pytest.approx(2.0**-149, rel=1e-12)
    mixed = np.concatenate([(np.arange(80) % 7).astype(np.float32) * t, np.linspace(-1, 2, 80, dtype=np.float32)])
    _check(mixed[None, :], 2)
