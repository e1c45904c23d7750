"""The branch-poor s-histogram pass of the data optimum and the 1-D optimum on five laws (issue 20).

* :func:`quanttheory.risk._kernels.data.shist_chunk` (points with breakpoints compacted per block,
  their events buffered -- two slots per point, a flush and a loop for points with more -- and
  applied by :func:`_shist_events` in a store-free loop then a scatter) against an independent
  NumPy reference written from the definition in its docstring: every breakpoint
  ``beta = v / (k + 1/2)`` in ``[A, B]`` (index ``k+1 -> k``, ``kB <= k < kA``) adds its change of
  ``(e**2, k e, k**2)``, its old state and its per-s-bin lower bound to its s-bin, with
  ``np.add.at`` in point order then ``k`` order (the order of the kernel, so the per-bin sums agree
  to a few ulps: tolerance 1e-12 of the bin's absolute sum).  Clusters from narrow (<= 1 event per
  point) to wide (up to ~115 events per point, more events per block than the kernel's buffer).
* the 1-D optimum through the histogram search (``DIRECT_ONE_FACTOR = 0``) on five laws x two
  dtypes x 2/4/8 bits against the brute force over every piece of the piecewise quadratic
  (:func:`test_data_exact.brute_all`): MSE within the certificate + 1e-12 relative, and the scale
  equal to the brute force's unless the brute force's MSE ties with the optimum's (1e-12 relative).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import quanttheory.risk.data as D
from quanttheory import Grid
from quanttheory.risk.data import optimal_scale_data

from test_data_exact import PI2, brute_all


def _shist_reference(x, A, B, M, Tp, Tn):
    x = np.asarray(x, dtype=np.float64)
    v = np.abs(x)
    T = np.where(np.copysign(1.0, x) > 0, Tp, Tn).astype(np.float64)
    s0 = 0.5 * (A + B)
    kA = np.minimum(np.rint(v * (1.0 / A)), T)
    kB = np.minimum(np.rint(v * (1.0 / B)), T)
    nev = (kA - kB).astype(np.int64)
    idx = np.repeat(np.arange(x.size), nev)
    first = np.repeat(np.cumsum(nev) - nev, nev)
    k = np.repeat(kB, nev) + (np.arange(idx.size) - first)
    vv = v[idx]
    inv = M / (B - A)
    h = (B - A) / M
    j = np.clip(((vv / (k + 0.5) - A) * inv).astype(np.int64), 0, M - 1)
    e_new, e_old = vv - k * s0, vv - (k + 1.0) * s0
    sj = A + j * h
    d = np.maximum(np.minimum(vv - k * (sj + h), (k + 1.0) * sj - vv), 0.0)
    terms = [e_new * e_new - e_old * e_old, k * e_new - (k + 1.0) * e_old, k * k - (k + 1.0) ** 2,
             e_old * e_old, (k + 1.0) * e_old, (k + 1.0) ** 2, d * d]
    acc = np.zeros((M, 8))
    mag = np.zeros((M, 8))
    for c, t in enumerate(terms):
        np.add.at(acc[:, c], j, t)
        np.add.at(mag[:, c], j, np.abs(t))
    act = T > 0
    e = (v - kA * s0) * act
    base = np.array([np.sum(e * e), np.sum(kA * e), np.sum(kA * kA), np.sum((v * v)[~act])])
    straddlers = x[nev > 0]
    return base, acc, mag, straddlers, int(nev.sum())


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("A, width, Tp, Tn", [
    (1.04, 3.5e-3, 1, 2),     # 2 bits, narrow: <= 1 event per point
    (0.0306, 1.2e-2, 127, 128),  # 8 bits, the wide first cluster of N(0,1): 1-2 events per point
    (0.05, 0.9, 127, 0),      # unsigned side only, very wide: up to ~115 events per point
    (0.3, 0.5, 7, 8),         # 4 bits, wide
])
def test_shist_chunk_equals_numpy_reference(dt, A, width, Tp, Tn):
    from quanttheory.risk._kernels import data as K

    rng = np.random.default_rng(7)
    x = (rng.standard_normal(12000) * rng.choice([0.5, 1.0, 3.0], 12000)).astype(dt)
    B = A * (1 + width)
    M = 512
    base = np.zeros(4)
    acc = np.zeros((M, 8))
    sbuf = np.empty(3000)  # smaller than the number of straddlers in the wide cases: count continues
    sc = np.zeros(1, dtype=np.int64)
    for c0 in range(0, x.size, 5000):  # several chunks, the last one shorter than a block
        K.shist_chunk(x[c0:c0 + 5000], A, B, 1.0 / A, 1.0 / B, 0.5 * (A + B), M, Tp, Tn, base, acc, sbuf, sc)
    rb, racc, rmag, rstr, nev = _shist_reference(x, A, B, M, Tp, Tn)
    assert nev > 0
    assert sc[0] == rstr.size
    np.testing.assert_array_equal(sbuf[:min(sc[0], sbuf.size)], rstr[:sbuf.size].astype(np.float64))
    # per-bin sums in the same order: a few ulps of each bin's sum of magnitudes
    assert np.all(np.abs(acc[:, :7] - racc[:, :7]) <= 1e-12 * rmag[:, :7] + 1e-300)
    assert np.all(acc[:, 7] == 0)
    # block sums (reassociated within blocks of 4096): n eps of the magnitudes
    for c in range(4):
        assert abs(base[c] - rb[c]) <= 1e-11 * (abs(rb[c]) + 1.0)


LAWS = ["normal", "laplace", "student3", "uniform", "relu"]


def _law(name, n, rng):
    return {"normal": lambda: rng.standard_normal(n), "laplace": lambda: rng.laplace(size=n),
            "student3": lambda: rng.standard_t(3, n), "uniform": lambda: rng.uniform(-1, 1, n),
            "relu": lambda: np.maximum(rng.standard_normal(n), 0.0)}[name]()


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("law", LAWS)
def test_histogram_search_five_laws_equal_brute_force(monkeypatch, law, bits, dt):
    monkeypatch.setattr(D, "DIRECT_ONE_FACTOR", 0)  # every array through the histogram search
    rng = np.random.default_rng(LAWS.index(law) * 100 + bits)
    x = _law(law, 120, rng).astype(dt)
    r = optimal_scale_data(x, Grid(bits))
    ref_mse, ref_s = brute_all(x, Grid(bits))
    mse = r.extra["mse"]
    gap = (r.risk - r.risk_lower_bound) / PI2
    assert "branch-and-bound" in r.method
    assert abs(mse - ref_mse) <= 1e-12 * ref_mse + gap
    assert mse <= ref_mse * (1 + 1e-12) + 1e-300
    assert r.risk_lower_bound / PI2 <= ref_mse * (1 + 1e-12)
    # the same scale, unless the brute force's minimum ties with the optimum's
    if abs(r.scale - ref_s) > max(r.scale_error, 4e-16 * ref_s):
        assert math.isclose(mse, ref_mse, rel_tol=1e-12)
