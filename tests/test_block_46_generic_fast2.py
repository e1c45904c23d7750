"""The telescoped ``4over6`` for Student t / GenNormal / mixtures without a Python step per end
(docs/blocks.md §2i3).

* all ends in one pass (``_ends_all``: ``end_curves``, ``finish_all``, the flat cells) against the §2i2 path
  one end at a time (``_ends_stepwise``, kept as the reference): the same number of harmonics, error estimates
  equal to 1e-9 relative, values within 1e-3 of the summed estimates (they differ by rounding only);
* the flat cut points (``cut_points_all`` via ``_generic_cells_all``) equal to ``generic_cells`` end by end,
  also with candidates absent (``X = 0``) and laws whose components have other centres (cuts inserted);
* the numba multiplier search equal to the NumPy one;
* the Miller harmonics four at a time (``_miller4``, ``(2r + 1)(1/x)``) against mpmath within a quarter of the
  kernel's charge ``(2R + 10 + 2x) eps`` (as ``sph_bessel_all`` in tests/test_block_46_generic.py), and the
  kernel (``legendre_cf_sum``) on cells with many Miller harmonics against mpmath within its own charge;
* ``_range``'s vectorized tail moments (Student t / GenNormal) equal to the scalar loop;
* the exact scale choice with cached ``Fraction`` values equal to the float-compare version.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest

import quanttheory as qt
from quanttheory.blocks import _expect_46_generic as g
from quanttheory.blocks import _expect_46_generic_kernels as K
from quanttheory.blocks import expectation as EX
from quanttheory.blocks import spec
from quanttheory.blocks import get_block_format
from quanttheory.blocks.expectation import default_tensor_scale
from quanttheory.blocks.expectation_min import _pieces_4over6
from quanttheory.formats import get_format

EPS = float(np.finfo(float).eps)


_LAWS = [
    ("t6", qt.StudentT(6.0), 16),
    ("t10", qt.StudentT(10.0), 32),
    ("gn0.5-shift", qt.GenNormal(0.5, 0.1, 1.0), 16),
    ("mix-shift", qt.Mixture([qt.StudentT(5.0, 0.4, 1.0), qt.Normal(-0.3, 0.5)], [0.5, 0.5]), 8),
]


@pytest.mark.parametrize("name, law, k", _LAWS, ids=[x[0] for x in _LAWS])
def test_all_ends_against_stepwise(name, law, k):
    bf = get_block_format("nvfp4", block=k)
    S = default_tensor_scale(law, bf)
    a = g.telescoped_4over6_generic(law, bf, 1.0, S, 1e-7, fast=True)
    b = g.telescoped_4over6_generic(law, bf, 1.0, S, 1e-7, fast=False)
    assert a[2] == b[2] and a[3] == b[3]                       # ends, harmonics
    assert a[1] == pytest.approx(b[1], rel=1e-9)
    assert abs(a[0] - b[0]) <= 1e-3 * (a[1] + b[1]), (a, b)


@pytest.mark.parametrize("name, law, k", _LAWS, ids=[x[0] for x in _LAWS])
def test_flat_cells_equal_generic_cells(name, law, k):
    bf = get_block_format("nvfp4", block=k)
    S = default_tensor_scale(law, bf)
    a, b, X6, _, _, X4, _, _ = _pieces_4over6(law, bf, 1.0, S, 0.01, 60.0)
    extra = [c[3] for c in g.components(law)]
    ends = [(float(m), float(X6[i]), float(X4[i])) for i in range(a.size) for m in (a[i], b[i])]
    # candidates absent, tiny and large ends, an end right at a cut
    ends += [(1.0, 0.0, 0.25), (1.0, 0.2, 0.0), (0.5, 0.0, 0.0), (1e-9, 2e-10, 3e-10), (3.0, 0.5, 0.5),
             (6.0 * 0.3, 0.3, 0.45)]
    got = g._generic_cells_all(bf.fmt, ends, extra)
    assert len(got) == len(ends)
    for gv, (m, x6, x4) in zip(got, ends):
        exp = g.generic_cells(bf.fmt, m, x6, x4, extra)
        for u, v in zip(gv, exp):
            assert np.array_equal(np.asarray(u), np.asarray(v)), (m, x6, x4)


def test_split_bisect_equals_numpy():
    rng = np.random.default_rng(5)
    for trial in range(20):
        n = int(rng.integers(1, 40))
        harm, errc = [], []
        for _ in range(n):
            L = int(rng.integers(1, 60))
            harm.append(np.sort(rng.integers(1, 10 ** 5, L)).astype(float))
            errc.append(np.sort(10.0 ** rng.uniform(-14, -3, L))[::-1].copy())
        gw = 10.0 ** rng.uniform(-3, 0, n)
        default = [float(e[min(e.size - 1, int(rng.integers(0, e.size)))]) * rng.uniform(0.5, 2) for e in errc]
        H, E = g._pad_curves(harm, errc)
        ref = g._split_tail_budget_mat(gw, default, H, E)
        new = g._split_tail_budget_mat(gw, default, H, E, numba_split=True)
        assert ref == new


def _jref(r, x):
    return float(mp.sqrt(mp.pi / (2 * mp.mpf(x))) * mp.besselj(r + mp.mpf(0.5), mp.mpf(x))) if x > 0 else float(r == 0)


def test_miller4_against_mpmath():
    """Each lane's ``j_0 .. j_R`` within a quarter of the charge ``(2R + 10 + 2x) eps`` (x < R + 1: Miller;
    lanes at ``x >= R + 1`` and ``x = 1e-17`` mixed in: those go through ``sph_bessel_all``)."""
    mp.mp.dps = 30
    rng = np.random.default_rng(11)
    jb4 = np.zeros((4, 64))
    worst = 0.0
    for R in list(range(0, 49, 4)) + [1, 5, 13, 47, 48]:
        for trial in range(6):
            xs = np.sort(rng.uniform(0.0, R + 1.0, 4))
            if trial == 0:
                xs = np.array([1e-17, 0.3, 0.999, 1.0])[:4] * min(1.0, R + 1.0)
            if trial == 1:
                xs = np.array([R + 0.999, R + 0.5, max(R - 0.5, 0.1), R + 1.0])
            g4 = int(rng.integers(1, 5)) if trial > 1 else 4
            K._miller4(xs, 0, g4, 1.0, R, jb4)
            for l in range(g4):
                x = float(xs[l])
                for r in range(R + 1):
                    worst = max(worst, abs(_jref(r, x) - jb4[l, r]) / ((2 * R + 10 + 2 * x) * EPS))
    assert worst <= 0.25, worst


def test_kernel_miller_harmonics_against_mpmath():
    """Cells whose first ~100 harmonics are Miller ones (small ``|a h|``, degrees up to 40): the kernel's sum
    against mpmath (30 digits) at the first harmonics, around the Miller/upward switch and the last, within
    its charge."""
    mp.mp.dps = 30
    rng = np.random.default_rng(3)
    C, R = 5, 40
    a = rng.choice([-1.0, 1.0], C) * 10.0 ** rng.uniform(-2, -1, C)
    b = rng.normal(size=C)
    ctr = rng.normal(size=C) * 3
    h = 10.0 ** rng.uniform(-1, 0.3, C)
    deg = np.array([40, 33, 12, 5, 0], np.int64)
    coef = np.zeros((C, R + 1))
    for c in range(C):
        coef[c, :deg[c] + 1] = rng.normal(size=deg[c] + 1) * 0.7 ** np.arange(deg[c] + 1) * 0.1
    L = 0.9
    H = 400
    tt = (2 * np.arange(H) + 1) * (math.pi / L)
    re, im, rnd = np.empty(H), np.empty(H), np.empty(H)
    K.legendre_cf_sum(tt, a, b, ctr, h, coef, deg, re, im, rnd)
    xs = np.abs(tt[:, None] * (a * h)[None, :])
    nm = int(np.sum(xs < (deg + 1.0)[None, :]))
    assert nm > 300                                   # many Miller cell-harmonics
    for i in sorted(set([0, 1, 2, 3, 4, 5, 6, 7, 50, 99, 100, 101, 150, 250, 398, 399])):
        t = mp.mpf(float(tt[i]))
        tot = mp.mpc(0)
        for c in range(C):
            w = t * mp.mpf(float(a[c])) * mp.mpf(float(h[c]))
            s = mp.mpc(0)
            for r in range(deg[c] + 1):
                jr = mp.sqrt(mp.pi / (2 * abs(w))) * mp.besselj(r + mp.mpf(0.5), abs(w)) * (mp.sign(w) ** r)
                s += mp.mpf(float(coef[c, r])) * (mp.mpc(0, 1) ** r) * jr
            tot += mp.expj(t * (mp.mpf(float(a[c])) * mp.mpf(float(ctr[c])) + mp.mpf(float(b[c])))) * s
        err = abs(complex(tot) - complex(re[i], im[i]))
        assert err <= rnd[i], (i, err, rnd[i])


def _range_hi_scalar(dist, k, tol):
    m2 = dist.second_moment()
    hi = math.sqrt(m2)
    while k * (dist.partial_moment(2, hi, math.inf) + dist.partial_moment(2, -math.inf, -hi)) > 1e-3 * tol * m2:
        hi *= 1.25
    return hi


@pytest.mark.parametrize("law", [qt.StudentT(10.0), qt.StudentT(3.0), qt.StudentT(2.5, 0.3, 0.7),
                                 qt.StudentT(4.0, -5.0, 2.0), qt.GenNormal(0.5), qt.GenNormal(1.5, -0.2, 2.0),
                                 qt.GenNormal(0.3, 3.0, 0.1)], ids=str)
def test_range_vectorized_equals_scalar(law):
    for k in (1, 16, 128):
        for tol in (1e-6, 1e-10, 1e-14):
            assert EX._range(law, k, tol)[1] == _range_hi_scalar(law, k, tol)


def test_exact_choice_with_fractions_equals_floats():
    rng = np.random.default_rng(0)
    for sf in ("e4m3", "fp16"):
        vals = [float(v) for v in spec._positive_values(sf)]
        vF = spec._positive_values_frac(sf)
        q = get_format(sf).quantize
        bnd = spec._target_boundaries(sf)
        Us = [Fraction(float(x)) for x in bnd]
        Us += [Fraction(float(x)) * Fraction(1 + 2 ** -52) for x in bnd[::3]]
        Us += [Fraction(float(x)) * Fraction(1 - 2 ** -53) for x in bnd[::3]]
        Us += [Fraction(float(x)) for x in 10 ** rng.uniform(-12, 6, 200)]
        Us += [Fraction(1, 3) * Fraction(float(x)) for x in bnd[:40]] + [Fraction(10 ** 9)]
        for rule in ("floor", "ceil", "round"):
            for U in Us:
                assert spec._exact_target_choice(U, vals, rule, q) == spec._exact_target_choice(U, vals, rule, q, vF)


@pytest.mark.parametrize("law", [qt.StudentT(6.0), qt.StudentT(3.0, 0.3, 0.7), qt.GenNormal(0.5, 0.1, 1.0),
                                 qt.Mixture([qt.Normal(), qt.Laplace(0, 2)], [0.7, 0.3]),
                                 qt.Mixture([qt.StudentT(5.0, 0.4, 1.0), qt.Normal(-0.3, 0.5)], [0.5, 0.5])],
                         ids=str)
def test_cell_poly_moment_pts_equals_per_cell(law):
    """Shared end points give the same numbers as :func:`_cell_poly_moment` cell by cell (bit for bit)."""
    rng = np.random.default_rng(2)
    pts = np.concatenate([np.sort(rng.normal(size=60) * 3), [-50.0, 0.0, 0.1, 1e-9, 40.0]])
    il = rng.integers(0, pts.size, 200)
    ih = rng.integers(0, pts.size, 200)
    ok = pts[ih] > pts[il]
    il, ih = il[ok], ih[ok]
    A = rng.normal(size=il.size)
    B = rng.normal(size=il.size)
    cache = {}
    for lev, c2, c1, c0 in ((0.0, 0.0, 0.0, 1.0), (0.0, 0.0, A, B), (0.3, 1.0, 0.0, 0.0)):
        v, e = EX._cell_poly_moment_pts(law, pts, il, ih, lev, c2, c1, c0, cache)
        v2, e2 = EX._cell_poly_moment(law, pts[il], pts[ih], lev, c2, c1, c0)
        assert np.array_equal(v, v2) and np.array_equal(e, e2)
