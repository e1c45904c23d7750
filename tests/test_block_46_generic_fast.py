"""The faster telescoped ``4over6`` for Student t / GenNormal / mixtures (docs/blocks.md §2i2).

* the kernel with phasor recurrences across harmonics and interleaved Bessel recurrences
  (``legendre_cf_sum``) against an mpmath evaluation of the same sum (30 digits) at harmonics right after and
  right before a re-anchoring, within its own charge; and against the first kernel (``legendre_cf_sum_direct``)
  within the two charges;
* the dropped trailing Legendre coefficients: the cell's bound stays within its target and still bounds the
  characteristic function's error against direct quadrature;
* the numba ``_alias_L`` against the NumPy version of §2i (same ``L``; bound to 1e-12 relative);
* the ends batched (``_generic_cells_all``, ``_approx_all``) against one end at a time;
* values against main's (the §2i code, commit a3ffb92) recorded here, within the two error estimates.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

import quanttheory as qt
from quanttheory.blocks import get_block_format
from quanttheory.blocks import _expect_46_generic as g
from quanttheory.blocks._expect_46_generic_kernels import legendre_cf_sum, legendre_cf_sum_direct
from quanttheory.blocks.expectation import default_tensor_scale
from quanttheory.blocks.expectation_min import _pieces_4over6, block_mse_4over6


def _cells(seed, C, R):
    rng = np.random.default_rng(seed)
    a = rng.choice([-1.0, 1.0], C) * 10.0 ** rng.uniform(-1.5, 0.5, C)
    b = rng.normal(size=C)
    ctr = rng.normal(size=C) * 3
    h = 10.0 ** rng.uniform(-2, 0.3, C)
    deg = rng.integers(0, R + 1, C).astype(np.int64)
    coef = np.zeros((C, R + 1))
    for c in range(C):
        coef[c, :deg[c] + 1] = rng.normal(size=deg[c] + 1) * 0.6 ** np.arange(deg[c] + 1) * 0.1
    return a, b, ctr, h, coef, deg


def _psi_mp(t, a, b, ctr, h, coef, deg):
    """``sum_cells e^{i t (a c + b)} sum_r coef_r i^r j_r(t a h)`` in mpmath (30 digits), the floats taken as
    exact."""
    tot = mp.mpc(0)
    t = mp.mpf(float(t))
    for c in range(a.size):
        om = t * mp.mpf(float(a[c])) * mp.mpf(float(h[c]))
        x = abs(om)
        sg = 1 if om >= 0 else -1
        s = mp.mpc(0)
        for r in range(int(deg[c]) + 1):
            jr = mp.sqrt(mp.pi / (2 * x)) * mp.besselj(r + mp.mpf(1) / 2, x) if x > 0 else (1 if r == 0 else 0)
            s += mp.mpf(float(coef[c, r])) * (mp.mpc(0, 1) ** r) * (sg ** r) * jr
        ph = t * (mp.mpf(float(a[c])) * mp.mpf(float(ctr[c])) + mp.mpf(float(b[c])))
        tot += mp.expj(ph) * s
    return complex(tot)


@pytest.mark.parametrize("seed, L, H", [(1, 7.3, 400), (2, 0.9, 300), (3, 31.0, 600)])
def test_fast_kernel_against_mpmath(seed, L, H):
    """Harmonics ``t_j = j pi / L`` (odd ``j``) as the code makes them: the sum at the first harmonics (Miller),
    at the first upward ones, just before / after each re-anchoring (every 128) and the last, against mpmath,
    within the kernel's returned charge; every harmonic against the first kernel within both charges."""
    mp.mp.dps = 30
    a, b, ctr, h, coef, deg = _cells(seed, 5, 24)
    j = np.arange(1, 2 * H, 2, dtype=float)
    tt = j * (math.pi / L)
    out = [np.empty(H) for _ in range(3)]
    ref = [np.empty(H) for _ in range(3)]
    legendre_cf_sum(tt, a, b, ctr, h, coef, deg, *out)
    legendre_cf_sum_direct(tt, a, b, ctr, h, coef, deg, *ref)
    d = np.hypot(out[0] - ref[0], out[1] - ref[1])
    assert np.all(d <= out[2] + ref[2]), np.max(d / (out[2] + ref[2]))
    idx = sorted(set([0, 1, 2, 3, 126, 127, 128, 129, 130, 255, 256, 257, H - 2, H - 1]) & set(range(H)))
    worst = 0.0
    for i in idx:
        pm = _psi_mp(tt[i], a, b, ctr, h, coef, deg)
        err = abs(complex(out[0][i], out[1][i]) - pm)
        worst = max(worst, err / out[2][i])
        assert err <= out[2][i], (i, err, out[2][i])
    assert worst > 0.0


def test_fast_kernel_one_harmonic_and_empty():
    a, b, ctr, h, coef, deg = _cells(4, 3, 12)
    for tt in (np.array([0.0]), np.array([3.7]), np.array([2.0e4])):
        o = [np.empty(1) for _ in range(3)]
        r = [np.empty(1) for _ in range(3)]
        legendre_cf_sum(tt, a, b, ctr, h, coef, deg, *o)
        legendre_cf_sum_direct(tt, a, b, ctr, h, coef, deg, *r)
        assert abs(complex(o[0][0], o[1][0]) - complex(r[0][0], r[1][0])) <= o[2][0] + r[2][0]
    o = [np.empty(0) for _ in range(3)]
    legendre_cf_sum(np.empty(0), a, b, ctr, h, coef, deg, *o)


def test_trailing_coefficients_dropped_within_target():
    """A t(3) cell wide against its analyticity strip (degree 32-48): trailing coefficients are dropped, the
    bound stays <= the target, the dropped coefficients are zero, and the cell's characteristic function
    still agrees with direct quadrature within the bound (the reference of tests/test_block_46_generic.py)."""
    law = qt.StudentT(3.0)
    comps = g.components(law)
    lo, hi, a, b = 1.0, 9.0, 0.37, -0.2
    tgt = np.array([1e-11])
    cl, cu, par, coef, deg, dels = g._approx_cells(law, comps, np.array([lo]), np.array([hi]), tgt, 1.0,
                                                   per_cell=True)
    assert float(np.sum(dels)) <= tgt[0] * (1 + 1e-9)
    for c in range(deg.size):
        assert np.all(coef[c, deg[c] + 1:] == 0.0)
    # at least one cell uses fewer orders than the largest degree of the grid it came from
    assert np.any(~np.isin(deg, g._NS)), deg
    z, w = np.polynomial.legendre.leggauss(40)
    for t in (0.0, 1.3, 50.0, 3000.0):
        re, im, rnd = np.empty(1), np.empty(1), np.empty(1)
        legendre_cf_sum(np.array([t]), np.full(cl.size, a), np.full(cl.size, b), 0.5 * (cl + cu), 0.5 * (cu - cl),
                        np.ascontiguousarray(coef), deg, re, im, rnd)
        n = max(1, int(2 * abs(t * a) * (hi - lo)) + 1)
        e = np.linspace(lo, hi, 8 * n + 1)
        c, hh = 0.5 * (e[:-1] + e[1:]), 0.5 * (e[1:] - e[:-1])
        x = c[:, None] + hh[:, None] * z
        ref = complex(np.sum(hh[:, None] * w * np.exp(1j * t * (a * x + b)) * law.pdf(x)))
        assert abs(complex(re[0], im[0]) - ref) <= float(np.sum(dels)) + rnd[0] + 1e-15, t


def test_alias_numba_against_numpy():
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(1, 30))
        p = rng.random(n) / n
        dl, du = rng.normal(size=n) * 3, rng.normal(size=n) * 3
        p0 = 1 - p.sum()
        k = int(rng.choice([3, 16, 32]))
        dmax = float(np.max(np.abs(np.r_[dl, du])))
        tgt = 10.0 ** rng.uniform(-16, -4)
        x = g._alias_L(p, dl, du, p0, k, dmax * 1.0000001, tgt, k * dmax)
        y = g._alias_L_numpy(p, dl, du, p0, k, dmax * 1.0000001, tgt, k * dmax)
        assert x[0] == pytest.approx(y[0], rel=1e-12, abs=0.0)
        assert x[1] == pytest.approx(y[1], rel=1e-10, abs=0.0)
    # no aliasing bound reachable below Lmax: (Lmax, 0), |S| <= Lmax surely
    assert g._alias_L(np.array([0.5]), np.array([1.0]), np.array([2.0]), 0.5, 3, 2.0, 1e-300, 6.0) == (6.0, 0.0)


@pytest.mark.parametrize("law", [qt.StudentT(6.0), qt.Mixture([qt.Normal(), qt.Laplace(0, 2)], [0.7, 0.3]),
                                 qt.GenNormal(0.5, 0.1, 1.0)], ids=["t6", "mix", "gn0.5-shift"])
def test_batched_ends_equal_one_at_a_time(law):
    bf = get_block_format("nvfp4")
    S = default_tensor_scale(law, bf)
    a, b, X6, _, _, X4, _, _ = _pieces_4over6(law, bf, 1.0, S, 0.05, 30.0)
    comps = g.components(law)
    extra = [c[3] for c in comps]
    ends = [(float(m), float(X6[i]), float(X4[i])) for i in range(0, a.size, 3) for m in (a[i], b[i])]
    for got, (m, x6, x4) in zip(g._generic_cells_all(bf.fmt, ends, extra), ends):
        exp = g.generic_cells(bf.fmt, m, x6, x4, extra)
        for u, v in zip(got, exp):
            assert np.array_equal(np.asarray(u), np.asarray(v))
    k = bf.block
    prep = g._prepare_ends(law, comps, bf.fmt, ends, k, [1e-9] * len(ends))
    states = [r[3] for r in prep if r[0] == "curve"]
    assert len(states) > 3
    g._approx_all(law, comps, states)
    for s in states:
        one = g._approx_cells(law, comps, s["ls"][s["cs"]], s["us"][s["cs"]], s["tgt"], s["G"])
        cl, cu, par, coef, deg, delta = s["cells"]
        assert np.array_equal(cl, one[0]) and np.array_equal(cu, one[1]) and np.array_equal(par, one[2])
        assert np.array_equal(deg, one[4])
        # the coefficients' matrix products may round differently with the batch's shapes (BLAS): <= a few
        # eps of each row's size, inside the charged rounding (n + 2) eps sum |A| |f|
        sc = np.max(np.abs(coef), axis=1, keepdims=True) + 1e-300
        assert np.all(np.abs(coef - one[3][:, :coef.shape[1]]) <= 64 * np.finfo(float).eps * sc)
        assert delta == pytest.approx(one[5], rel=1e-9)
        assert delta <= float(np.sum(s["tgt"])) * (1 + 1e-9)


# main's values (commit a3ffb92, the §2i code; the same A/B run as docs/blocks.md §2i2): (mse, error_estimate)
_MAIN = {
    ("t10", 32): (0.011943079927146971, 3.551e-10),
    ("gn0.5", 16): (0.89233342114463454, 4.744e-08),
}


@pytest.mark.parametrize("name, law, k", [("t10", qt.StudentT(10.0), 32), ("gn0.5", qt.GenNormal(0.5), 16)])
def test_values_against_main(name, law, k):
    ref = _MAIN[(name, k)]
    if ref is None:
        pytest.skip("main's value not recorded")
    r = block_mse_4over6(law, "nvfp4", block=k, tol=1e-7)
    assert abs(r.mse - ref[0]) <= r.error_estimate + ref[1], (r.mse, ref)
    assert r.error_estimate <= 1e-6 * r.mse
