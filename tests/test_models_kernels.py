"""Batched baseline kernels (quanttheory.models._kernels via tasks.batched_scales) against the
per-row library functions of quanttheory.risk.baselines (the independent reference)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quanttheory.formats.grid import Grid
from quanttheory.models.tasks import batched_scales
from quanttheory.risk import baselines as B

# the reference (library) functions warn on the rows whose squares overflow; the kernels do not
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                                        "ignore:invalid value encountered:RuntimeWarning")

EXACT = [("maxabs", {}), ("percentile", {}), ("sweep", {"candidates": 20}), ("sweep", {"candidates": 39}),
         ("sweep", {"candidates": 80}), ("sweep", {"candidates": 126}), ("histogram", {}), ("aciq_laplace", {})]


def _rows(rng, n):
    X = rng.standard_t(4, (12, n)) * 0.1
    X[0] = 0.0                      # all-zero row: every baseline returns 1.0
    X[1] = 0.3                      # constant row
    X[2] = -np.abs(X[2])            # one sign only
    X[3] = np.round(X[3] * 40) / 40  # many ties (values on a lattice: rint ties at level midpoints)
    X[4, : n // 2] = 0.0
    X[5] *= 1e-160                  # squared errors underflow to subnormals: many near-ties
    X[6] *= 1e160                   # squared errors overflow to inf: the library's first-minimum rules
    X[7, 0] = 1e200                 # one huge value
    return X


@pytest.mark.parametrize("bits,signed", [(4, True), (4, False), (8, True), (2, True), (3, False)])
@pytest.mark.parametrize("n", [1, 3, 64, 384, 5000])
def test_batched_equals_library(bits, signed, n):
    """Sweeps, histogram, percentile, maxabs, Laplace ACIQ: the very same scale as the library."""
    rng = np.random.default_rng(bits * 100 + n)
    g = Grid(bits, signed=signed)
    X = _rows(rng, n)
    for name, kw in EXACT:
        ref = np.array([getattr(B, name)(x, g, **kw) for x in X])
        got = batched_scales(name, X, g, **kw)
        np.testing.assert_array_equal(got, ref, err_msg=f"{name} {kw}")


@pytest.mark.parametrize("bits,signed", [(4, True), (4, False), (8, True)])
def test_batched_octav_aciq_gauss_close(bits, signed):
    """OCTAV sums sequentially where NumPy sums pairwise (1e-16 relative per step; the 1e-12 stopping
    rule may take one step more or less: 1e-11); ACIQ-Gauss uses erfc where the library uses
    scipy.special.ndtr (a few ulp apart): both bounded-Brent runs stop when their bracket is below
    ~4 tol, tol = sqrt(2.2e-16) |alpha| + xatol / 3 (1.5e-8 relative), but the objective is flat at
    its minimum, so ulp-level differences in f move the stopping point within a few brackets; we
    allow 32 tol (observed: up to ~8 tol), i.e. ~5e-7 relative, far below what changes the SQNR."""
    rng = np.random.default_rng(7)
    g = Grid(bits, signed=signed)
    for n in (3, 100, 2000):
        X = np.delete(_rows(rng, n), [6, 7], axis=0)  # overflowing rows: the library's ACIQ-Gauss raises
        ref = np.array([B.octav(x, g) for x in X])
        np.testing.assert_allclose(batched_scales("octav", X, g), ref, rtol=1e-11)
        ref = np.array([B.aciq_gauss(x, g) for x in X])
        got = batched_scales("aciq_gauss", X, g)
        half = 2 ** (bits - 1) if signed else 2**bits - 1
        hi = np.abs(X.mean(1)) + 20 * X.std(1)
        tol = 32 * (math.sqrt(2.2e-16) * ref * half + 1e-10 * hi / 3) / half
        assert np.all(np.abs(got - ref) <= tol + 1e-300)


def test_sweep_near_ties_identical():
    """Adversarial: data on the grid of one candidate, where two candidates give errors equal up to
    rounding; the kernel's estimate window must still hand the decision to the reference's own loop."""
    g = Grid(4)
    top = 1.0
    s = top / 20 * 16 / 8  # candidate 16 of 20: data exactly on its grid -> SSE 0 there
    x = np.concatenate([np.arange(-8, 8) * s, [top], np.arange(-8, 8) * s])
    X = np.stack([x, x[::-1], x * 3.0])
    for k in (20, 39, 126):
        ref = np.array([B.sweep(r, g, candidates=k) for r in X])
        np.testing.assert_array_equal(batched_scales("sweep", X, g, candidates=k), ref)


def test_block_constant_matches_reference():
    from quanttheory.models import _kernels as K
    from quanttheory.risk._kernels import data as D

    assert K.BLOCK == D.BLOCK


from hypothesis import given, strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402

_vals = st.one_of(st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False, width=64),
                  st.sampled_from([0.0, 0.5, -0.5, 1.0, -1.0, 0.25, 1.5]))  # exact ties at level midpoints


@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 40)), elements=_vals),
       st.sampled_from([(4, True), (4, False), (3, True), (8, True)]), st.sampled_from([20, 39, 126]))
def test_property_sweep_histogram_identical(X, gb, k):
    """Any finite rows (ties, zeros, mixed magnitudes): the batched sweep and histogram search pick
    exactly the library's scale."""
    g = Grid(gb[0], signed=gb[1])
    np.testing.assert_array_equal(batched_scales("sweep", X, g, candidates=k),
                                  [B.sweep(x, g, candidates=k) for x in X])
    np.testing.assert_array_equal(batched_scales("histogram", X, g), [B.histogram(x, g) for x in X])
