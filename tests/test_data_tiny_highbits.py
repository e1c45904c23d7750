"""Tiny arrays at high bit widths (audit F4, session of 2026-12-01).

Before: 2-64 values on 9+ bit grids with ``n T`` between ``2**22`` and ``2**26`` went to the
histogram search, which degrades there (5 values at 21 bits: > 150 s; 2 values at 24 bits: not
finished after 900 s); now the rows kernel, whose bucketed window sweeps at most
``BUCKET_RUN_MAX`` breakpoints at a time (memory O(n), not O(n T)).

References: an independent brute force (every breakpoint ``v / (k + 1/2)`` enumerated in NumPy,
sorted, each quadratic piece minimized and its value summed from the residuals ``v - k s``),
and a hand-derived case.  Tolerances: the pieces' values are sums of ``n`` squared residuals
(each residual rounded once: relative error ~``n eps``); the package's value must not exceed the
brute-force minimum (nor fall below it) by more than ``1e-9`` relative plus the rounding of the
residuals: each ``v - k s`` is computed to ~``2 eps max|v|``, and the two minimizers' scales differ
by ~``eps s`` (``F`` moves by ``2 sum |k e| eps s`` at a kink), so ``F`` is known to
``16 eps max|v| sqrt(n F)`` (plus ``1e-26 sum v**2``: a minimum at ~``1e-24`` has no meaningful
relative accuracy); its lower bound must not exceed the brute-force minimum.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from quanttheory import Grid, optimal_scale
from quanttheory.risk import data as D
from quanttheory.risk.data import mse_sums

EPS = 2.0**-52


def _brute_min(x, grid, chunk=1 << 17):
    """min over s > 0 of sum (x - Q(x; s))**2 by enumerating every breakpoint (NumPy, chunked)."""
    Tp, Tn = int(grid.r_t), int(-grid.r_b)
    v = np.abs(x)
    T = np.where(x >= 0, Tp, Tn)
    act = (T > 0) & (v > 0)
    const = float(np.sum(v[~act] ** 2))
    va, Ta = v[act], T[act]
    bps = np.concatenate([vi / (np.arange(ti) + 0.5) for vi, ti in zip(va, Ta)])
    bps = np.unique(bps)
    edges = np.concatenate(([bps[0] / 2], bps, [bps[-1] * 2]))  # beyond: monotone (see data.py)
    best = np.inf
    for i in range(0, edges.size - 1, chunk):
        a = edges[i:i + chunk + 1][:-1]
        b = edges[i + 1:i + chunk + 1]
        mid = 0.5 * (a + b)
        k = np.minimum(np.rint(va[None, :] / mid[:, None]), Ta[None, :])
        KE = k @ va
        K2 = np.sum(k * k, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sc = np.where(K2 > 0, KE / np.where(K2 > 0, K2, 1), a)
        sc = np.clip(sc, a, b)
        for s in (a, b, sc):
            F = np.sum((va[None, :] - k * s[:, None]) ** 2, axis=1)
            best = min(best, float(F.min()))
    # every point rounded to 0 (s large) and every point clipped (s -> 0) are covered by the ends
    best = min(best, float(np.sum(va ** 2)))
    return best + const


CASES = [
    (2, 20, 0, True), (3, 20, 1, True), (2, 21, 2, True), (4, 18, 3, False),
    (5, 21, 1, True),  # the audit's reproducer (> 150 s before)
    (3, 22, 4, True), (9, 20, 5, True),
]


@pytest.mark.parametrize("n,bits,seed,signed", CASES)
def test_tiny_arrays_match_brute_force(n, bits, seed, signed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * np.exp(rng.uniform(-3, 3))
    if not signed:
        x = np.abs(x)
    g = Grid(bits, signed=signed)
    r = optimal_scale(x, g)
    Fb = _brute_min(x, g)
    Fp = r.extra["mse"] * n
    sq = float(np.sum(x * x))
    tol = 1e-9 * Fb + 16 * EPS * float(np.max(np.abs(x))) * np.sqrt(n * Fb) + 1e-26 * sq
    assert "every breakpoint enumerated" in r.method
    assert Fp <= Fb + tol, (Fp, Fb)
    assert Fp >= Fb - tol, (Fp, Fb)  # the brute force is a true minimum (to its rounding)
    # the returned risk is the exact MSE at the returned scale, the bound below the true minimum
    exact = float(mse_sums(x, np.array([r.scale]), g)[0])
    assert abs(exact - Fp) <= tol
    assert r.risk_lower_bound <= np.pi**2 * (Fb + tol) / n


def test_tiny_arrays_are_routed_to_the_rows_kernel():
    """The routing: ``n <= DIRECT_SMALL_N`` on 9+ bit grids up to ``DIRECT_SMALL_NT``."""
    assert D._direct_one(5, (1 << 20) - 1)  # 5 values at 21 bits (formerly the histogram search)
    assert D._direct_one(2, (1 << 23) - 1)  # 2 values at 24 bits
    assert D._direct_one(40, (1 << 23) - 1)  # 40 values at 24 bits (formerly the windowed search)
    assert not D._direct_one(D.DIRECT_SMALL_N + 1, (1 << 23) - 1)


@pytest.mark.parametrize("bits", [20, 24])
def test_x_and_2x_hand_derived(bits):
    """Data ``{a, 2a}`` (a > 0) on a signed grid with top ``T = 2**(b-1) - 1``: every scale
    ``s = a / k`` with ``1 <= k <= T / 2`` puts both values on grid points (``k s = a``,
    ``2 k s = 2a``), so the minimum MSE is 0 and the minimizers are those scales.  The result must
    have MSE 0 to rounding (residuals ``a - k s`` are ~``eps a``) and a scale with ``a / s`` an
    integer ``<= T / 2`` to ~``1e-6`` (relative error of ``s`` ~ eps: ``a / s`` off by ~``k eps``)."""
    a = 0.7
    x = np.array([a, 2 * a])
    g = Grid(bits)
    T = int(g.r_t)
    r = optimal_scale(x, g)
    assert r.extra["mse"] <= 1e-28 * a * a
    assert 0.0 <= r.risk_lower_bound <= r.risk
    k = a / r.scale
    assert abs(k - round(k)) < 1e-6 and 1 <= round(k) <= T // 2


_RSS_SCRIPT = r"""
import json, resource, sys, time
import numpy as np
from quanttheory import Grid, optimal_scale
n, bits = int(sys.argv[1]), int(sys.argv[2])
optimal_scale(np.random.default_rng(9).standard_normal(2), Grid(16))  # the kernels, small memory
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
x = np.random.default_rng(1).standard_normal(n)
r = optimal_scale(x, Grid(bits))
r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"growth_kb": r1 - r0, "mse": r.extra["mse"], "method": r.method}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("n,bits", [(2, 24), (40, 22)])
def test_tiny_high_bits_rss_growth_is_bounded(n, bits):
    """The rows kernel at ``n T`` = 2^24 (2 values at 24 bits) and 2^26.3 (40 at 22 bits): the peak
    RSS of a fresh process grows by < 128 MB (a buffer for every breakpoint would take 0.9 and
    4.7 GB); the method is the exact enumeration (certified global)."""
    out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT, str(n), str(bits)], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["growth_kb"] < 128 * 1024, f"RSS grew by {r['growth_kb'] / 1024:.0f} MB"
    assert "every breakpoint enumerated" in r["method"]
