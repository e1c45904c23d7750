"""The deep-binade path of the format curves (issue 13, item 2: speed without losing accuracy).

Below ``c <= 1 law scale`` the binades of a minifloat are summed in one Taylor series
against a moment table (``quanttheory.risk.levels._deep_tables``, kernel
``quanttheory.risk._kernels.levels._deep_value``).  References and tolerances:

* the moment table against the exact antiderivative of the normalised deep grid's squared
  error, cell by cell (mpmath, 80 digits): <= 1e-14 relative (the table is built from positive terms: a few ulp);
* the curve against the mpmath reference of ``tests/mpref_formats.py`` (closed-form partial
  moments per cell, 40 digits) at scales where the deep region is active and large, for
  laws that exercise every branch (centred and folded, off-centre Normal with odd Taylor
  terms, ReLU with loc < 0, Laplace with the region on one side of loc, unsigned and
  mantissa-free minifloats): <= 1e-12 relative (the issue's target);
* the remainder bound: with the series forced to stop early (huge ``floor``), the error
  against the exact deep-region integral (mpmath) stays below the bound ``1e-17 floor``.
"""

from __future__ import annotations


import mpmath as mp
import numpy as np
import pytest

from mpref import Law
from mpref_formats import mp_format_mse
from quanttheory import Laplace, Normal, ReLU
from quanttheory.formats import minifloat
from quanttheory.risk.levels import _prepare, as_levels_format, format_mse


def _prep(fmt):
    return _prepare(as_levels_format(fmt))


def _deep_grid(prep, k):
    lv = np.asarray(prep.levels)
    c = prep.deep_d[k]
    return [x for x in lv if 0.0 <= x <= c], c


def test_deep_structure_by_hand():
    # E4M3: subnormal spacing 2^-9, N = 8 levels per binade: boundaries 2^-5, 2^-4, ..., 2^8 = 256
    p = _prep("e4m3")
    assert p.deep_d[1:].tolist() == [2.0 ** k for k in range(-5, 9)]
    assert p.neg and p.sym
    # E2M1: 0, .5, 1, 1.5, 2, 3, 4, 6 -> N = 2, boundaries 2 and 4 (6 ends an incomplete binade)
    p = _prep("e2m1")
    assert p.deep_d[1:].tolist() == [2.0, 4.0]
    # E5M2: 2^-16 spacing, N = 4: 2^-13 .. 2^15
    assert _prep("e5m2").deep_d[1:].tolist() == [2.0 ** k for k in range(-13, 16)]
    # no deep structure: integer grids, NF4, flushed subnormals, fp16 (N = 1024 > 64)
    for f in ["int8", "nf4", minifloat(4, 3, subnormals=False), "fp16", np.array([-1.0, 0.0, 0.5, 2.0])]:
        assert _prep(f).deep_d.size == 1
    # unsigned: positive side only
    p = _prep(minifloat(3, 2, signed=False))
    assert p.deep_d.size > 1 and not p.neg and not p.sym


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2", "e2m1", "e3m2", minifloat(3, 0)], ids=str)
def test_moment_table_against_mpmath(fmt):
    p = _prep(fmt)
    K = p.deep_d.size - 1
    def prim(u, a, j):  # antiderivative of (u - a)^2 u^j
        return u ** (j + 3) / (j + 3) - 2 * a * u ** (j + 2) / (j + 2) + a * a * u ** (j + 1) / (j + 1)

    with mp.workdps(80):  # the antiderivative differences cancel: 80 digits for ~1e-30 results
        for k in sorted({1, (K + 1) // 2, K}):
            grid, c = _deep_grid(p, k)
            L = [mp.mpf(x) / mp.mpf(c) for x in grid]
            for j in [0, 1, 2, 7, 23, p.deep_w.shape[1] - 1]:
                tot = mp.mpf(0)
                for a, b in zip(L[:-1], L[1:]):
                    m = (a + b) / 2
                    tot += prim(m, a, j) - prim(a, a, j) + prim(b, b, j) - prim(m, b, j)
                assert abs(p.deep_w[k, j] - tot) <= 1e-14 * tot, (k, j)


UNSIGNED = minifloat(4, 3, special="fn", signed=False)
CASES = [
    # (law, format, scales: deep region active, c = deep_d[k] s in (sig/2, sig])
    (Normal(), "e4m3", [3e-4, 2e-3, 0.0204, 0.2]),
    (Normal(), "e5m2", [1e-5, 1.26e-3, 0.05, 3.0]),
    (Normal(0.3, 1.5), "e4m3", [1e-3, 0.03, 0.5]),
    (Normal(-2.0, 0.5), "e5m2", [1e-4, 0.01]),
    (ReLU(Normal()), "e5m2", [1e-4, 0.323]),
    (ReLU(Normal(-0.5, 1.0)), "e4m3", [0.005, 0.05]),
    (ReLU(Normal(-3.0, 1.0)), "e4m3", [1e-3, 0.01]),  # steep density ~e^{-3x}: cancelling Taylor terms
    (Normal(4.0, 0.5), "e5m2", [1e-4, 0.01]),
    (ReLU(Normal(-5.0, 1.0)), "e4m3", [1e-3, 0.01]),  # sum declined (|terms| >> result): runs one by one
    (Laplace(), "e4m3", [1e-3, 0.0939, 1.0]),
    (Laplace(), "e5m2", [0.0116, 2.98]),
    (Laplace(0.05, 1.0), "e4m3", [1e-3, 0.05]),
    (Laplace(-2.0, 1.0), "e5m2", [3e-3, 0.3]),
    (ReLU(Laplace()), "e5m2", [2.98, 0.01]),
    (ReLU(Laplace(0.4, 2.0)), "e3m2", [0.01, 0.1]),
    (Normal(), UNSIGNED, [0.002, 0.02]),
    (Laplace(0.2, 1.0), minifloat(3, 0), [0.01, 0.1]),
]


def _code(d):
    law, mu, sig, relu = d.kernel_params()
    return int(law), float(mu), float(sig), bool(relu)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]!r}-{c[1]}")
def test_deep_path_against_mpmath(case):
    d, fmt, scales = case
    f = as_levels_format(fmt)
    p = _prepare(f)
    code, loc, scale, relu = _code(d)
    s = np.array(scales)
    assert np.all(p.deep_d[1] * s <= scale)  # the deep region is used at every scale
    got = format_mse(d, s, f)
    lv = [float(x) for x in p.levels]
    for si, g in zip(s, got):
        ref = mp_format_mse(code, loc, scale, relu, lv, float(si), dps=40)
        assert abs(g - float(ref)) <= 1e-12 * float(ref), (si, g, float(ref))


def _exact_deep(code, loc, scale, relu, grid, s, neg):
    """int over [-c, c] of the squared error (cells of the deep grid), mpmath."""
    law = Law(code, loc, scale, relu)
    total = mp.mpf(0)
    sides = [1, -1] if (neg and not relu) else [1]
    for sg in sides:
        L = sorted(mp.mpf(sg * x) * s for x in grid)
        for a, b in zip(L[:-1], L[1:]):
            m = (a + b) / 2
            for lo, hi, c in ((a, m, a), (m, b, b)):
                Ml, Mh = law.M(lo), law.M(hi)
                d0, d1, d2 = (Mh[j] - Ml[j] for j in range(3))
                total += d2 - 2 * c * d1 + c * c * d0
    return total


@pytest.mark.parametrize("law", [(0, 0.0, 1.0, False), (0, 0.4, 1.0, False), (1, 0.0, 1.0, False),
                                 (1, -1.5, 1.0, False), (0, 0.0, 1.0, True)])
def test_remainder_bound_is_rigorous(law):
    from quanttheory.risk._kernels.levels import _deep_value

    code, loc, scale, relu = law
    p = _prep("e4m3")
    s = 2e-3
    k = max(i for i in range(1, p.deep_d.size) if p.deep_d[i] * s <= scale)
    grid, cg = _deep_grid(p, k)
    with mp.workdps(40):
        exact = float(_exact_deep(code, loc, scale, relu, grid, mp.mpf(s), True))
    # full accuracy
    v, ok = _deep_value(code, loc, scale, relu, True, cg * s, p.deep_w[k], 0.0)
    assert ok and abs(v - exact) <= 1e-14 * exact
    # truncated early by a large floor: error <= 1e-17 floor (+ rounding)
    for floor in [1e8 * exact, 1e12 * exact]:
        v, ok = _deep_value(code, loc, scale, relu, True, cg * s, p.deep_w[k], floor)
        assert ok
        assert abs(v - exact) <= 1e-17 * floor + 1e-14 * exact


def test_auto_agrees_with_cells_on_a_dense_scan():
    # every law branch x the deep formats, 40 scales spanning the deep region's on/off switch
    s = np.geomspace(1e-6, 30.0, 40)
    for d in [Normal(), Normal(0.7, 0.3), ReLU(Normal(0.2, 1.0)), Laplace(), Laplace(0.3, 0.5), ReLU(Laplace())]:
        for fmt in ["e4m3", "e5m2", "e2m3", "e2m1"]:
            a = format_mse(d, s, fmt)
            b = format_mse(d, s, fmt, method="cells")
            np.testing.assert_allclose(a, b, rtol=1e-12, err_msg=f"{d!r} {fmt}")


@pytest.mark.parametrize("d", [Normal(), ReLU(Normal(0.2, 1.0)), Laplace(), Laplace(0.3, 0.5)], ids=repr)
def test_declined_deep_sum_falls_back_to_the_runs(d):
    # a moment table of NaN makes _deep_value decline at every scale: the deep runs are then
    # summed one by one (both sides, also when the law is folded); same curve to 1e-12
    from quanttheory.risk._kernels import levels as rk
    from quanttheory.risk.levels import _eta, _tables

    p = _prep("e5m2")
    law, mu, sig, relu = d.kernel_params()
    ns, nodes, weights, amax = _tables()
    s = np.geomspace(1e-6, 3.0, 25)
    outs = []
    for w in (p.deep_w, np.full_like(p.deep_w, np.nan)):
        out = np.empty_like(s)
        nf = np.empty(s.shape, dtype=np.int64)
        rk.curve_runs(law, mu, sig, relu, p.levels, p.run_i0, p.run_i1, p.run_h, p.order, s, _eta(), ns, nodes,
                      weights, amax, p.deep_d, w, p.neg, p.sym, out, nf)
        outs.append(out)
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-12)
    np.testing.assert_allclose(outs[0], format_mse(d, s, "e5m2", method="cells"), rtol=1e-12)
