"""Telescoped ``4over6`` for Student t / GenNormal / mixtures (``_expect_46_generic``, docs/blocks.md §2i).

References, each independent of the new path's density-specific parts:

* spherical Bessel functions and the Chebyshev -> Legendre matrix against mpmath;
* one cell's characteristic function (Legendre expansion + Bessel sum) against direct Gauss-Legendre
  quadrature of the definition (sub-intervals of phase <= 1/2, graded towards a cusp), within the returned bound (Student t, GenNormal with beta < 1 / > 1, shifted laws, a mixture,
  a cell at a GenNormal cusp where the uniform fallback is used);
* the whole telescoped value for Normal / Laplace against the compiled kernel (``block_mse_4over6_fast``);
* the 4over6-specific part ``E[(SSE_6 - SSE_4)^+] / k = MSE_round - MSE_4over6`` against a direct NumPy
  simulation of the rule written here from its definition (own E2M1 / E4M3 rounding);
* ``slow``: the old m-quadrature (``method="quadrature"``) at ``tol=1e-7``, within both error estimates.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest

import quanttheory as qt
from quanttheory.blocks import block_mse, get_block_format
from quanttheory.blocks._expect_46_generic import (_approx_cells, _cheb_to_legendre, components,
                                                   telescoped_4over6_generic)
from quanttheory.blocks._expect_46_generic_kernels import legendre_cf_sum, sph_bessel_all
from quanttheory.blocks.expectation import default_tensor_scale
from quanttheory.blocks.expectation_min import block_mse_4over6, block_mse_4over6_fast

EPS = np.finfo(float).eps


def test_sph_bessel_against_mpmath():
    """``j_0 .. j_R`` (upward recurrence for x >= R + 1, Miller below) within a quarter of the kernel's charge
    ``(2 R + 10 + 2 x) eps`` (observed <= 0.10 of it on a denser grid)."""
    mp.mp.dps = 30
    jb = np.empty(64)
    worst = 0.0
    for R in (0, 1, 7, 24, 48):
        xs = list(np.geomspace(1e-7, 3e4, 13)) + [1e-17, 3e-300, 0.0, R + 0.999, R + 1.0, R + 1.5, max(R - 0.5, 0.1), math.pi]
        for x in xs:
            sph_bessel_all(float(x), R, jb)
            for r in range(R + 1):
                ref = float(mp.sqrt(mp.pi / (2 * mp.mpf(x))) * mp.besselj(r + mp.mpf(0.5), mp.mpf(x))) if x > 0 \
                    else float(r == 0)
                worst = max(worst, abs(ref - jb[r]) / ((2 * R + 10 + 2 * x) * EPS))
    assert worst <= 0.25, worst


@pytest.mark.parametrize("n", [6, 12, 16])
def test_cheb_to_legendre_against_mpmath(n):
    """Legendre coefficients of the Chebyshev interpolant of each unit vector, exactly (mpmath: Chebyshev
    coefficients by the exact DCT, then the exact Chebyshev -> Legendre integrals by Gauss-Legendre in 40
    digits), against the double matrix: within 2 eps of the row's largest entry."""
    mp.mp.dps = 40
    y, A = _cheb_to_legendre(n)
    yj = [mp.cos(j * mp.pi / n) for j in range(n + 1)]
    assert np.all(np.abs(y - np.array([float(v) for v in yj])) <= EPS)
    xs, ws = mp.gauss_quadrature(n + 2, "legendre") if hasattr(mp, "gauss_quadrature") else (None, None)
    if xs is None:
        # Gauss-Legendre nodes by Newton in mpmath
        xs = []
        for x0 in np.polynomial.legendre.leggauss(n + 2)[0]:
            x = mp.mpf(x0)
            for _ in range(8):
                p, q = mp.legendre(n + 2, x), mp.legendre(n + 1, x)
                x -= p / ((n + 2) * (x * p - q) / (x * x - 1))
            xs.append(x)
        ws = [2 / ((1 - x * x) * ((n + 2) * (x * mp.legendre(n + 2, x) - mp.legendre(n + 1, x)) / (x * x - 1)) ** 2)
              for x in xs]
    for i in range(n + 1):
        # Chebyshev coefficients of the interpolant of e_i (DCT-I), values at the nodes by the series
        a = [(2 if 0 < kk < n else 1) * (mp.mpf(1) / 2 if i in (0, n) else 1) * mp.cos(kk * i * mp.pi / n) / n
             for kk in range(n + 1)]
        vals = [sum(a[kk] * mp.chebyt(kk, x) for kk in range(n + 1)) for x in xs]
        for r in range(n + 1):
            c = (2 * r + 1) / mp.mpf(2) * sum(w * mp.legendre(r, x) * v for x, w, v in zip(xs, ws, vals))
            assert abs(float(c) - A[r, i]) <= 2 * EPS * max(1.0, float(np.max(np.abs(A[r])))), (i, r)


def _cf_ref(law, lo, hi, a, b, t, cusp=False):
    """int_lo^hi e^{i t (a x + b)} f(x) dx directly: 40-point Gauss-Legendre on sub-intervals of phase <= 1/2
    (the integrand is analytic on each: error ~1e-16 relative), graded geometrically (ratio 1/2, 60 levels)
    towards ``lo`` when ``lo`` is a cusp of the density (GenNormal beta < 1 at its loc)."""
    z, w = np.polynomial.legendre.leggauss(40)
    edges = [lo, hi]
    if cusp:
        edges = [lo] + [lo + (hi - lo) * 0.5 ** j for j in range(60, -1, -1)]
    out = []
    for u, v in zip(edges[:-1], edges[1:]):
        n = max(1, int(2 * abs(t * a) * (v - u)) + 1)
        e = np.linspace(u, v, n + 1)
        c, h = 0.5 * (e[:-1] + e[1:]), 0.5 * (e[1:] - e[:-1])
        x = c[:, None] + h[:, None] * z
        out.append(np.sum(h[:, None] * w * np.exp(1j * t * (a * x + b)) * law.pdf(x)))
    return complex(np.sum(out))


@pytest.mark.parametrize("law, lo, hi, a, b", [
    (qt.StudentT(3.0), 0.75, 1.25, 0.37, -0.2),
    (qt.StudentT(4.0, 0.3, 0.7), -2.0, -1.0, -0.8, 0.5),
    (qt.GenNormal(0.5), 0.4, 1.6, 1.3, 0.1),
    (qt.GenNormal(1.5, -0.2, 2.0), 1.0, 4.0, 0.05, 0.0),
    (qt.Mixture([qt.Normal(), qt.Laplace(0, 2), qt.StudentT(5.0, 1.0)], [0.5, 0.3, 0.2]), 1.0, 1.5, 2.0, -1.0),
    (qt.GenNormal(0.5, 0.1), 0.1, 0.3, 1.0, 0.0),     # cell at the cusp: bisected, then the uniform fallback
], ids=["t3", "t4shift", "gn0.5", "gn1.5shift", "mix", "gn-cusp"])
def test_cell_cf_against_direct_quadrature(law, lo, hi, a, b):
    """One cell's characteristic function from the Legendre expansion, at low and high t, within the
    returned bound ``delta`` (independent of t) + the kernel's rounding charge."""
    comps = components(law)
    assert comps is not None
    G = 1.0
    cusp = isinstance(law, qt.GenNormal) and lo == law.loc
    tgt = np.array([1e-9 if cusp else 1e-13])
    cl, cu, par, coef, deg, delta = _approx_cells(law, comps, np.array([lo]), np.array([hi]), tgt, G)
    assert delta <= tgt[0] * 1.0000001
    for t in (0.0, 0.7, 13.0, 400.0, 2.0e4):
        re, im, rnd = np.empty(1), np.empty(1), np.empty(1)
        legendre_cf_sum(np.array([t]), np.full(cl.size, a), np.full(cl.size, b), 0.5 * (cl + cu), 0.5 * (cu - cl),
                        np.ascontiguousarray(coef), deg, re, im, rnd)
        ref = _cf_ref(law, lo, hi, a, b, t, cusp=cusp)
        got = complex(re[0], im[0])
        mass = law.cdf(hi) - law.cdf(lo)
        # the reference's own rounding: ~1e-15 of the mass (sums over up to ~1e4 sub-intervals)
        assert abs(got - ref) <= delta + rnd[0] + 1e-14 * mass, (t, got, ref, delta, rnd[0])


@pytest.mark.parametrize("law", [qt.Normal(), qt.Laplace(0.3, 0.7)], ids=["normal", "laplace-shift"])
def test_normal_laplace_against_compiled_kernel(law):
    """The generic path (Legendre cells for Normal / Laplace components too) against the compiled
    Normal / Laplace kernel (closed-form / Faddeeva-free cells): within the two error bounds."""
    bf = get_block_format("nvfp4")
    r = block_mse_4over6(law, bf, tol=1e-9, method="telescoped")
    ref, _ = block_mse_4over6_fast(law, bf, tol=1e-10, rates=False)
    assert abs(r.mse - ref.mse) <= r.error_estimate + ref.error_estimate, (r.mse, ref.mse)
    assert r.error_estimate <= 1e-9 * r.mse
    assert math.isnan(r.saturation_rate)


def _e4m3_round(u):
    """Saturating round-to-nearest-even to E4M3 (OCP e4m3fn: 3 mantissa bits, min normal 2^-6, max 448)."""
    u = np.asarray(u, float)
    e = np.floor(np.log2(np.maximum(u, 1e-300)))
    q = np.exp2(np.maximum(e, -6.0) - 3.0)
    return np.minimum(np.round(u / q) * q, 448.0)


_E2M1 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])


def _e2m1_sse(x, X):
    """Block squared error of E2M1 with the per-block scale X (x: (B, k), X: (B,))."""
    Xs = np.where(X > 0, X, 1.0)[:, None]
    y = np.abs(x) / Xs
    mids = 0.5 * (_E2M1[1:] + _E2M1[:-1])
    q = _E2M1[np.searchsorted(mids, y)]
    rec = np.where(X[:, None] > 0, np.sign(x) * q * Xs, 0.0)
    return np.sum((x - rec) ** 2, axis=1)


@pytest.mark.parametrize("law, tol", [(qt.StudentT(6.0), 1e-8), (qt.Mixture([qt.Normal(), qt.Laplace(0, 2)],
                                                                            [0.7, 0.3]), 1e-8)],
                         ids=["t6", "mix"])
def test_4over6_part_against_direct_simulation(law, tol):
    """``E[(SSE_6 - SSE_4)^+] / k = MSE_round - MSE_4over6`` (its per-block values are bounded where not
    zero, so the standard error means something even for heavy tails) against 2^20 NVFP4 blocks simulated
    here from the rule's definition: ``X6 = S e4m3(M / (6 S))``, ``X4 = S e4m3(M / (4 S))``, keep the smaller
    block SSE.  Within 4 standard errors."""
    bf = get_block_format("nvfp4")
    k = bf.block
    S = default_tensor_scale(law, bf)
    # own E4M3 rounding equals the package's scale rounding on these block maxima
    from quanttheory.blocks.spec import block_scales
    mm = np.abs(law.sample(np.random.default_rng(3), 4000)) * 3
    assert np.array_equal(_e4m3_round(mm / (6 * S)) * S, block_scales(mm, bf, "round", c=1.0, tensor_scale=S)[0])
    r = block_mse_4over6(law, bf, tol=tol)
    r6 = block_mse(law, bf, "round", tensor_scale=S, tol=1e-12)
    rng = np.random.default_rng(20261201)
    parts = []
    for _ in range(16):
        x = law.sample(rng, (1 << 16, k))
        M = np.max(np.abs(x), axis=1)
        s6 = _e2m1_sse(x, S * _e4m3_round(M / (6 * S)))
        s4 = _e2m1_sse(x, S * _e4m3_round(M / (4 * S)))
        parts.append(np.maximum(s6 - s4, 0.0) / k)
    d = np.concatenate(parts)
    mean, se = d.mean(), d.std() / math.sqrt(d.size)
    assert abs((r6.mse - r.mse) - mean) <= 4 * se + r.error_estimate + r6.error_estimate, (r6.mse - r.mse, mean, se)


def test_method_argument():
    bf = get_block_format("nvfp4")
    with pytest.raises(ValueError, match="method must be"):
        block_mse_4over6(qt.StudentT(6.0), bf, method="series")
    with pytest.raises(ValueError, match="method='telescoped' needs"):
        block_mse_4over6(qt.StudentT(6.0), get_block_format("nvfp4", block=2), method="telescoped")
    with pytest.raises(ValueError, match="method='telescoped' needs"):
        block_mse_4over6(qt.laws.from_scipy(__import__("scipy.stats").stats.logistic()), bf, method="telescoped")


def test_mixture_of_one_law_equals_the_law():
    """A mixture of two copies of t(6) (the mixture code: summed ellipse bounds and total variations, no
    symmetry shortcut skipped) gives t(6)'s value within both bounds (k = 32: fewer harmonics)."""
    bf = get_block_format("nvfp4", block=32)
    S = default_tensor_scale(qt.StudentT(6.0), bf)
    a = telescoped_4over6_generic(qt.StudentT(6.0), bf, 1.0, S, 1e-8)
    b = telescoped_4over6_generic(qt.Mixture([qt.StudentT(6.0), qt.StudentT(6.0)], [0.5, 0.5]), bf, 1.0, S, 1e-8)
    assert abs(a[0] - b[0]) <= a[1] + b[1]


@pytest.mark.slow
def test_against_m_quadrature():
    """The m-quadrature (``method="quadrature"``, docs/blocks.md §2h; ~22 s CPU at ``tol=1e-6``, ~41 s at
    1e-7) against the telescoped value at ``tol=1e-9``, within both error estimates (measured 2026-12-01:
    |difference| = 0.26 of their sum at either tolerance, the quadrature's estimate 9e-6 relative at 1e-6)."""
    law = qt.StudentT(10.0)
    bf = get_block_format("nvfp4")
    old = block_mse_4over6(law, bf, tol=1e-6, method="quadrature")
    new = block_mse_4over6(law, bf, tol=1e-9)
    assert abs(old.mse - new.mse) <= old.error_estimate + new.error_estimate, (old.mse, new.mse)
