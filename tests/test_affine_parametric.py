"""Certified joint optima (s, z) and (s, m) for the parametric laws.

References: the per-zero-point certified 1-D optimum of quanttheory.risk (min over z by
enumeration), scipy quad evaluations of the MSE at the optimum, dense brute-force scans
of the MSE landscape (risk engine), mpmath for the closed-form pieces.
"""

import math

import mpmath as mp
import numpy as np
import pytest

from quanttheory.affine import grid as A
from quanttheory.affine._moments import seg_sq, union_dist_sq
from quanttheory.affine.parametric import optimal_affine, optimal_offset
from quanttheory.laws import Laplace, Normal, ReLU
from quanttheory.risk import mse as engine_mse
from quanttheory.risk import optimal_scale

from test_affine_grid import _quad_mse

LAWS = [Normal(0.0, 1.0), Laplace(1.0, 1.0), ReLU(Normal(0.0, 1.0)), ReLU(Laplace(0.5, 1.0)), Normal(-0.8, 0.5)]


def _mp_seg(law, mu, sig, relu, a, b, c):
    mp.mp.dps = 40

    def p(x):
        if relu and x <= 0:
            return mp.mpf(0)
        if law == 0:
            return mp.exp(-((x - mu) / sig) ** 2 / 2) / (sig * mp.sqrt(2 * mp.pi))
        return mp.exp(-abs(x - mu) / sig) / (2 * sig)

    lo = -mp.inf if a == -np.inf else mp.mpf(a)
    hi = mp.inf if b == np.inf else mp.mpf(b)
    pts = [lo] + sorted(q for q in ([mu] if law == 1 else []) + ([0] if relu else []) if lo < q < hi) + [hi]
    return mp.quad(lambda x: (x - c) ** 2 * p(x), pts)


def test_closed_form_pieces_against_mpmath():
    """Each closed-form piece against mpmath quad at 40 digits; the returned error bound must cover
    the actual error (that is what makes the lower bounds rigorous)."""
    rng = np.random.default_rng(7)
    for law in (0, 1):
        for relu in (False, True):
            for _ in range(12):
                mu, sig = float(rng.normal()), float(rng.uniform(0.3, 2.0))
                a = float(rng.normal(scale=3))
                b = a + float(rng.exponential(1.5))
                c = float(rng.normal(scale=3))
                if rng.random() < 0.25:
                    a = -np.inf
                if rng.random() < 0.25:
                    b = np.inf
                v, e = seg_sq(law, mu, sig, relu, a, b, c)
                ref = float(_mp_seg(law, mu, sig, relu, a, b, c))
                assert abs(float(v) - ref) <= float(e) + 1e-300
                assert float(e) <= 1e-6 * ref + 1e-11 * sig**2  # the bound is not vacuous


def test_kernel_matches_numpy_union_bound():
    from quanttheory.affine._kernels import union_dist_sq as K
    from quanttheory.affine._moments import reach

    rng = np.random.default_rng(0)
    for law in (0, 1):
        for relu in (False, True):
            lo = np.sort(rng.normal(size=(20, 8)) * 2, axis=1)
            hi = np.maximum.accumulate(lo + rng.exponential(0.1, size=lo.shape), axis=1)
            v, _ = union_dist_sq(law, 0.2, 1.3, relu, 0.3 if relu else 0.0, lo, hi)
            vo, eo = np.empty(20), np.empty(20)
            K(law, 0.2, 1.3, relu, 0.3 if relu else 0.0, reach(law, 0.2, 1.3), lo, hi, vo, eo)
            np.testing.assert_allclose(vo, v, rtol=1e-12)


@pytest.mark.parametrize("dist", LAWS)
def test_joint_optimum_equals_enumeration_of_certified_1d_optima(dist):
    """Independent reference: min over every z of the risk engine's certified 1-D optimum on the
    ShiftedGrid (2 bits: 4 zero-points).  MSE equal to 1e-11 relative (both certified to ~1e-12)."""
    bits = 2
    r = optimal_affine(dist, bits)
    per_z = []
    for z in range(2**bits):
        g = A.ShiftedGrid(bits, False, z)
        try:
            o = optimal_scale(dist, g)
            per_z.append((o.risk / math.pi**2, z, o.scale))
        except ValueError:  # ReLU law on [-3, 0]: every s gives E[xi^2]
            per_z.append((dist.second_moment(), z, math.nan))
    F, z, s = min(per_z)
    assert r.mse == pytest.approx(F, rel=1e-11)
    assert r.mse_lower_bound <= r.mse * (1 + 1e-15) and r.mse_lower_bound >= F * (1 - 1e-10)
    assert r.zero_point in [zz for v, zz, _ in per_z if v <= F * (1 + 1e-11)]
    assert r.scale == pytest.approx(s, rel=1e-6)


@pytest.mark.slow
def test_four_bits_against_enumeration_and_quad():
    dist = Laplace(1.0, 1.0)
    r = optimal_affine(dist, 4)
    per_z = [(optimal_scale(dist, A.ShiftedGrid(4, False, z)).risk / math.pi**2, z) for z in range(16)]
    F, z = min(per_z)
    assert r.mse == pytest.approx(F, rel=1e-11) and r.zero_point == z
    assert r.mse == pytest.approx(_quad_mse(dist, r.scale, r.zero_point, 4), rel=1e-10)


@pytest.mark.parametrize("dist", LAWS[:3])
def test_dense_scan_never_beats_the_optimum(dist):
    """Brute force: 4-bit MSE (risk engine) on 16 zero-points x 600 scales around the optimum."""
    bits = 4
    r = optimal_affine(dist, bits)
    ss = r.scale * np.geomspace(0.5, 2.0, 600)
    scan = min(float(np.min(engine_mse(dist, ss, A.ShiftedGrid(bits, False, z)))) for z in range(16))
    assert r.mse <= scan * (1 + 1e-12)
    assert r.mse_lower_bound <= scan
    assert r.mse == pytest.approx(_quad_mse(dist, r.scale, r.zero_point, bits), rel=1e-10)


def test_symmetric_law_ties_and_shifted_law_hand_derived():
    r = optimal_affine(Normal(0.0, 1.0), 4)
    # x -> -x maps z to N - z: 7 and 8 tie
    assert set(r.extra["tied_zero_points"]) == {7, 8}
    # Normal(10, 1): for any z >= 1 the levels of z = 0 at the same s contain the positive levels of z,
    # and P(xi < 0) ~ 7.6e-24: z = 0 is optimal
    r = optimal_affine(Normal(10.0, 1.0), 4)
    assert r.zero_point == 0
    # ReLU law with 1 bit: z = 1 maps every value to 0 (MSE = E[xi^2]); z = 0 is better
    d = ReLU(Normal(0.0, 1.0))
    r = optimal_affine(d, 1)
    assert r.zero_point == 0 and r.mse < d.second_moment()


def test_affine_beats_symmetric_signed_grid_on_relu():
    """The signed grid is the affine grid with z = 2^(b-1): the joint optimum can only be better."""
    d = ReLU(Normal(0.0, 1.0))
    sym = optimal_scale(d, 4)  # signed 4-bit grid = ShiftedGrid z = 8
    r = optimal_affine(d, 4)
    assert r.mse <= sym.risk / math.pi**2 * (1 + 1e-12)
    assert r.mse < 0.5 * sym.risk / math.pi**2  # 8 levels wasted on negatives: far worse


def test_bad_inputs():
    with pytest.raises(TypeError):
        optimal_affine(np.ones(3), 4)
    with pytest.raises(ValueError):
        optimal_affine(Normal(), 9)
    with pytest.raises(TypeError):
        optimal_affine(Normal(), 4.0)


@pytest.mark.parametrize("dist", [Normal(0.0, 1.0), Laplace(1.0, 1.0), ReLU(Normal(0.0, 1.0))])
def test_real_offset_optimum(dist):
    bits = 2
    r = optimal_offset(dist, bits)
    a = optimal_affine(dist, bits)
    N = 2**bits - 1
    # relaxation: m = -s z is one admissible offset
    assert r.mse <= a.mse * (1 + 1e-12)
    assert r.mse_lower_bound <= r.mse
    # value by quad (the law's MSE on levels m + k s)
    lv = r.offset + r.scale * np.arange(N + 1)
    ref = sum(float(_mp_seg(*dist.kernel_params(), *(lambda t: (t[k], t[k + 1]))(
        np.concatenate([[-np.inf], 0.5 * (lv[1:] + lv[:-1]), [np.inf]])), lv[k])) for k in range(N + 1))
    ref += dist.point_mass * float(np.min(np.abs(lv))) ** 2
    assert r.mse == pytest.approx(ref, rel=1e-10)
    # brute force: dense scan over (s, m) around the optimum never beats it, nor the certificate
    ss = r.scale * np.linspace(0.8, 1.25, 61)
    ms = r.offset + r.scale * np.linspace(-0.5, 0.5, 61)
    S, M = np.meshgrid(ss, ms, indexing="ij")
    lvs = M.ravel()[:, None] + S.ravel()[:, None] * np.arange(N + 1)[None, :]
    law, mu, sig, relu = dist.kernel_params()
    vals, _ = union_dist_sq(law, mu, sig, relu, dist.point_mass, lvs, lvs)
    assert r.mse <= float(vals.min()) * (1 + 1e-9)
    assert r.mse_lower_bound <= float(vals.min())
    # convexity certificate on every cluster of surviving boxes: the gap is the engine's accuracy
    assert r.extra["convexity_certified"]
    assert (r.mse - r.mse_lower_bound) / r.mse < 2e-12


@pytest.mark.parametrize("dist", [Normal(0.3, 1.2), Laplace(1.0, 0.8), ReLU(Normal(0.2, 1.0)),
                                  ReLU(Laplace(0.5, 1.0))])
def test_gradient_and_hessian_formulas_against_finite_differences(dist):
    """The exact gradient / Hessian of F(s, m) used by the certificate, against central differences
    of the Gauss-Legendre MSE (1e-7 relative for the gradient at h = 1e-6, 1e-4 for the Hessian at
    h = 1e-4: the differences' own truncation and rounding errors)."""
    from quanttheory.affine._convex2d import gradient, hessian, lambda_lower
    from quanttheory.affine._moments import point_mse

    law, mu, sig, relu = dist.kernel_params()
    p0, N = dist.point_mass, 7
    s, m = 0.5, (0.04 if relu else -1.3)

    def F(s, m):
        return point_mse(law, mu, sig, relu, p0, m + s * np.arange(N + 1))

    h = 1e-6
    g = gradient(law, mu, sig, relu, p0, N, s, m)
    fd = ((F(s + h, m) - F(s - h, m)) / (2 * h), (F(s, m + h) - F(s, m - h)) / (2 * h))
    np.testing.assert_allclose(g, fd, rtol=1e-7, atol=1e-9)
    h = 1e-4
    H = hessian(law, mu, sig, relu, N, s, m)
    Hss = (F(s + h, m) - 2 * F(s, m) + F(s - h, m)) / h**2
    Hmm = (F(s, m + h) - 2 * F(s, m) + F(s, m - h)) / h**2
    Hsm = (F(s + h, m + h) - F(s + h, m - h) - F(s - h, m + h) + F(s - h, m - h)) / (4 * h * h)
    np.testing.assert_allclose(H.ravel(), [Hss, Hsm, Hsm, Hmm], rtol=1e-4, atol=1e-6)
    lam = lambda_lower(law, mu, sig, relu, p0, N, [s - 1e-3], [s + 1e-3], [m - 1e-3], [m + 1e-3])[0]
    assert lam <= np.linalg.eigvalsh(H)[0]


def test_real_offset_mirror_optima_of_a_symmetric_law():
    """Laplace(1, 1) is symmetric about 1: m -> 2 - m - N s maps optima to optima."""
    r = optimal_offset(Laplace(1.0, 1.0), 2)
    ms = sorted(c[1] for c in r.extra["per_cluster"] if c[2] <= r.mse * (1 + 1e-12))
    assert len(ms) == 2
    assert ms[0] + ms[1] == pytest.approx(2 - 3 * r.scale, rel=1e-9)
    assert r.offset_error >= abs(ms[1] - ms[0])


def _closed_form_mse(dist, s, z, bits):
    """Independent closed-form MSE(s, z) on arrays s, z (same shape), written here from the textbook
    integrals (not the package's kernels): Normal cells
    ``sig^2 [(1 + d^2) dPhi - d(u phi) + 2 d dphi]``, Laplace half-lines with the antiderivative
    ``-e^{-u} ((u - d)^2 + 2 (u - d) + 2)``; ReLU laws: continuous part on x > 0 (the atom at 0 sits
    on the level of code z, which is 0 in this form, so it costs nothing)."""
    from scipy.special import ndtr

    N = 2**bits - 1
    base = dist.base if dist.relu else dist
    mu, sig = float(base.loc), float(base.scale)
    s = np.asarray(s, dtype=float)[..., None]
    j = np.arange(N + 1) - np.asarray(z)[..., None]
    c = j * s
    a = np.where(j == -np.asarray(z)[..., None], -np.inf, (j - 0.5) * s)
    b = np.where(j == N - np.asarray(z)[..., None], np.inf, (j + 0.5) * s)
    if dist.relu:
        a = np.maximum(a, 0.0)
        b = np.maximum(b, a)
    if isinstance(base, Normal):
        al, be, d = (a - mu) / sig, (b - mu) / sig, (c - mu) / sig
        ph = lambda u: np.where(np.isfinite(u), np.exp(-0.5 * np.where(np.isfinite(u), u, 0) ** 2), 0) / math.sqrt(2 * math.pi)  # noqa: E731
        uph = lambda u: np.where(np.isfinite(u), np.where(np.isfinite(u), u, 0) * ph(u), 0)  # noqa: E731
        dP = np.where(al > 0, ndtr(-al) - ndtr(-be), ndtr(be) - ndtr(al))
        cell = sig**2 * ((1 + d * d) * dP - (uph(be) - uph(al)) + 2 * d * (ph(be) - ph(al)))
    else:
        def A(u, dd):  # int_0^u (v - dd)^2 e^{-v} dv
            uf = np.where(np.isfinite(u), u, 0.0)
            tail = np.where(np.isfinite(u), np.exp(-uf) * ((uf - dd) ** 2 + 2 * (uf - dd) + 2), 0.0)
            return (dd * dd - 2 * dd + 2) - tail
        d = (c - mu) / sig
        r0, r1 = (np.maximum(a, mu) - mu) / sig, (np.maximum(b, mu) - mu) / sig  # right of mu
        l0, l1 = (mu - np.minimum(b, mu)) / sig, (mu - np.minimum(a, mu)) / sig  # left: x - c = -sig (v + d)
        cell = 0.5 * sig**2 * ((A(r1, d) - A(r0, d)) + (A(l1, -d) - A(l0, -d)))
    return cell.sum(-1)


EIGHT = [Normal(0.0, 1.0), Laplace(1.0, 1.0), ReLU(Normal(0.0, 1.0))]


@pytest.mark.parametrize("dist", EIGHT)
def test_eight_bits_against_quad_and_independent_dense_scan(dist):
    """8 bits (256 zero-points): the reported MSE equals scipy quad at the reported (s, z) (rtol 1e-9:
    256 cells at epsrel 1e-13 each); the certificate gap is <= 1e-11 relative; an independent
    closed-form MSE (checked against quad at two points) scanned densely over (s, z) never goes below
    the certified lower bound (rtol 1e-9: rounding of 256 cell terms of size <= sig^2, cancellation
    in the tails included, is below 1e-12 absolute, i.e. < 1e-8 of the smallest MSE here)."""
    r = optimal_affine(dist, 8)
    q = _quad_mse(dist, r.scale, r.zero_point, 8)
    assert r.mse == pytest.approx(q, rel=1e-9)
    assert 0 <= r.mse - r.mse_lower_bound <= 1.0001e-11 * r.mse
    for s_, z_ in ((r.scale, r.zero_point), (1.3 * r.scale, max(r.zero_point - 7, 0))):
        assert _closed_form_mse(dist, np.array(s_), np.array(z_), 8) == pytest.approx(
            _quad_mse(dist, s_, z_, 8), rel=1e-9)
    # coarse: every zero-point, 80 scales over a factor 16; fine: 17 zero-points around z*, 401 scales
    Z, S = np.meshgrid(np.arange(256), r.scale * np.geomspace(0.25, 4.0, 80), indexing="ij")
    coarse = _closed_form_mse(dist, S, Z, 8)
    zf = np.clip(np.arange(r.zero_point - 8, r.zero_point + 9), 0, 255)
    Z, S = np.meshgrid(zf, r.scale * np.geomspace(0.9, 1.1, 401), indexing="ij")
    fine = _closed_form_mse(dist, S, Z, 8)
    assert min(coarse.min(), fine.min()) >= r.mse_lower_bound * (1 - 1e-9)
    # the scan's best point is close to the optimum (it is a scan: within its grid resolution)
    assert fine.min() <= r.mse * (1 + 1e-5)


@pytest.mark.parametrize("dist", [ReLU(Normal(0.0, 1.0)), ReLU(Laplace(0.5, 1.0))])
def test_eight_bits_relu_zero_point_is_zero_hand_derived(dist):
    """Hand-derived: for xi >= 0 and any s, z > 0, MSE(s, 0) < MSE(s, z): the levels of z are
    ``s (k - z)``; the negative ones never beat level 0 for xi >= 0, and z = 0 replaces them by the
    extra positive levels ``s (N - z + 1), .., s N`` (strictly better on xi > s (N - z + 1/2), an event
    of positive probability).  So the unique optimal zero-point is 0 at every bit width."""
    r = optimal_affine(dist, 8)
    assert r.zero_point == 0
    assert r.extra["surviving_zero_points"] == [0]
    assert r.extra["tied_zero_points"] == [0]


def test_eight_bits_symmetric_law_mirror_tie_hand_derived():
    """Hand-derived: for a law symmetric about 0, x -> -x maps the grid of z to the grid of N - z,
    so MSE(s, z) = MSE(s, N - z); with N = 255 odd no zero-point is its own mirror, so optima come in
    pairs (z, 255 - z) with the same scale; for N(0, 1) the pair is the centred (127, 128)."""
    r = optimal_affine(Normal(0.0, 2.0), 8)
    assert sorted(r.extra["tied_zero_points"]) == [127, 128]
    per = {z: (s, f) for z, s, f in r.extra["per_zero_point"]}
    assert per[127][0] == pytest.approx(per[128][0], rel=1e-9)
    assert per[127][1] == pytest.approx(per[128][1], rel=1e-12)


@pytest.mark.parametrize("dist", [Normal(0.0, 1.0), Laplace(1.0, 1.0), ReLU(Normal(0.0, 1.0)),
                                  ReLU(Laplace(0.5, 1.0)), Normal(2.0, 0.5)])
def test_zero_point_taylor_terms(dist):
    """The pieces of the second-order box bound: F_z' (numba kernel) equals the NumPy formula and a
    central finite difference of the exact MSE; the lower bound of F_z'' on a box never exceeds
    second differences of the MSE inside the box (checked on boxes of relative width 1e-3, where the
    bound is nearly tight) and the kernel equals the NumPy formula."""
    from quanttheory.affine._convex2d import zp_curvature_lower, zp_gradient_many, zp_taylor_terms
    from quanttheory.affine.parametric import _Law

    L = _Law(dist)
    rng = np.random.default_rng(3)
    for N in (3, 15, 255):
        z = rng.integers(0, N + 1, 12)
        s1 = rng.uniform(0.02, 1.0, 12) * (4.0 / (N + 1)) ** 0.5
        s2 = s1 * 1.001
        g, e, lam = zp_taylor_terms(L.law, L.mu, L.sig, L.relu, L.p0, N, z, s1, s2)
        g0, e0 = zp_gradient_many(L.law, L.mu, L.sig, L.relu, L.p0, N, z, 0.5 * (s1 + s2))
        lam0 = zp_curvature_lower(L.law, L.mu, L.sig, L.relu, N, z, s1, s2)
        assert np.all(np.abs(g - g0) <= e + e0)
        assert np.allclose(lam, lam0, rtol=1e-11, atol=1e-11 * np.abs(lam0).max())
        for i in range(12):
            F = lambda s: float(np.sum(L.value(((np.arange(N + 1) - z[i]) * s)[None, :])[0]))  # noqa: E731
            c, h = 0.5 * (s1[i] + s2[i]), 0.5 * (s2[i] - s1[i])
            fd = (F(c + h / 10) - F(c - h / 10)) / (h / 5)
            assert g[i] == pytest.approx(fd, rel=1e-5, abs=1e-7)
            d2 = (F(s2[i]) - 2 * F(c) + F(s1[i])) / h**2  # = F''(x) for some x in the box
            assert lam[i] <= d2 + 1e-6 * (abs(d2) + 1)
