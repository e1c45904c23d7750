"""Fast real-offset (s, m) optimum of the parametric laws (docs/affine.md, section 3b).

Independent references: scipy quad cell by cell (``_quad_mse``) at the returned point; a dense 2-D
grid of the MSE by quad-free closed forms of the *risk engine* (law shifted by ``-m``, unsigned grid,
quanttheory.risk, not the affine kernels) polished by scipy Nelder-Mead; the previous certified
search (``USE_FAST_OFFSET = False``); hand-derived equivariances (translation, scale); central second
differences of the MSE for the interval-Hessian bounds; brute-force evaluation inside boxes for the
second-order box bound.
"""

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from quanttheory.affine import parametric as PM
from quanttheory.affine._convex2d import (gradient_many, hessian, hessian_bounds_sc, hessian_bounds_sc_nb,
                                          lambda_lower_sc, offset_taylor_lb_nb, point_value_grad)
from quanttheory.affine._moments import point_mse
from quanttheory.affine.parametric import _Law, _offset_taylor_lb, optimal_affine, optimal_offset
from quanttheory.formats.grid import Grid
from quanttheory.laws import Laplace, Normal, ReLU
from quanttheory.risk import mse as engine_mse

from test_affine_grid import _quad_mse


def _engine_F(dist, bits, s, m):
    """MSE of levels m + k s by the risk engine (Normal / Laplace: the law shifted by -m on the unsigned
    grid); ReLU laws by Gauss-Legendre cells (point_mse)."""
    N = 2**bits - 1
    if dist.relu:
        law, mu, sig, relu = dist.kernel_params()
        return point_mse(law, mu, sig, relu, dist.point_mass, m + s * np.arange(N + 1))
    shifted = type(dist)(dist.loc - m, dist.scale)
    return float(engine_mse(shifted, np.array([s]), Grid(bits, signed=False))[0])


@pytest.mark.parametrize("dist", [Normal(0.0, 1.0), Laplace(1.0, 1.0), ReLU(Normal(0.0, 1.0)),
                                  ReLU(Laplace(0.5, 1.0)), Normal(-0.8, 0.5)])
@pytest.mark.parametrize("bits", [2, 3])
def test_fast_equals_previous_search(dist, bits):
    """Both searches certified: same MSE to 1e-11 (each is the engine value at its point, 1e-12), the
    new certificate at least as tight (gap <= 2e-12), same scale within the reported errors (+1e-9)."""
    r = optimal_offset(dist, bits)
    PM.USE_FAST_OFFSET = False
    try:
        r0 = optimal_offset(dist, bits)
    finally:
        PM.USE_FAST_OFFSET = True
    assert "Newton" in r.method and r0.extra["convexity_certified"]
    assert r.mse == pytest.approx(r0.mse, rel=1e-11)
    assert 0 <= r.mse - r.mse_lower_bound <= 2e-12 * r.mse
    assert r.mse_lower_bound <= r0.mse and r0.mse_lower_bound <= r.mse
    assert abs(r.scale - r0.scale) <= r.scale_error + r0.scale_error + 1e-9 * r.scale
    # the offset: one of the (mirror) optima of the previous search
    ms = [c[1] for c in r0.extra["per_cluster"] if c[2] <= r0.mse * (1 + 1e-11)]
    assert min(abs(r.offset - m) for m in ms) <= 1e-7 * (1 + abs(r.offset))


@pytest.mark.parametrize("dist,bits", [(Normal(0.0, 1.0), 4), (Laplace(1.0, 1.0), 5), (ReLU(Laplace(0.5, 1.0)), 3),
                                       (Normal(2.0, 1.0), 6), (ReLU(Normal(0.0, 1.0)), 4)])
def test_against_quad_and_polished_dense_grid(dist, bits):
    """MSE equals scipy quad at the returned (s, m) (1e-10: N + 1 cells at epsrel 1e-13); a dense grid
    over (s, m) (25 x 25 around the optimum, +-30 % in s, +-1.5 steps in m, plus a coarse 15 x 15 grid
    over a factor 16 in s) of the engine MSE, then Nelder-Mead from its best point, never goes below
    the certified lower bound (1e-12: the engine's accuracy) and ends within 1e-9 of the optimum."""
    r = optimal_offset(dist, bits)
    assert r.mse == pytest.approx(_quad_mse(dist, r.scale, -r.offset / r.scale, bits), rel=1e-10)
    N = 2**bits - 1
    cand = []
    for S in list(r.scale * np.linspace(0.7, 1.3, 25)):
        for M in r.offset + r.scale * np.linspace(-1.5, 1.5, 25):
            cand.append((_engine_F(dist, bits, S, M), S, M))
    mean = float(dist.mean())
    for S in r.scale * np.geomspace(0.25, 4.0, 15):
        for D in np.linspace(-1, 1, 15):
            M = mean + D * S * N / 2 - S * N / 2
            cand.append((_engine_F(dist, bits, S, M), S, M))
    f0, s0, m0 = min(cand)
    assert f0 >= r.mse_lower_bound * (1 - 1e-12)
    res = minimize(lambda p: _engine_F(dist, bits, p[0], p[1]) if p[0] > 0 else math.inf, [s0, m0],
                   method="Nelder-Mead", options={"xatol": 1e-12, "fatol": 1e-16, "maxiter": 2000})
    assert res.fun >= r.mse_lower_bound * (1 - 1e-12)
    assert res.fun == pytest.approx(r.mse, rel=1e-9)


def test_translation_and_scale_equivariance_hand_derived():
    """Hand-derived: x -> a x + b maps the quantizer (s, m) to (a s, a m + b) and the MSE to a^2 MSE.
    N(5, 0.3) is N(0, 1) scaled by 0.3 and shifted by 5: s* = 0.3 s*_0, MSE = 0.09 MSE_0, and
    m* = 0.3 m*_0 + 5 (the centre c = m + s N / 2 is 5 + 0.3 c_0); 4 bits."""
    r0 = optimal_offset(Normal(0.0, 1.0), 4)
    r = optimal_offset(Normal(5.0, 0.3), 4)
    assert r.mse == pytest.approx(0.09 * r0.mse, rel=1e-11)
    assert r.scale == pytest.approx(0.3 * r0.scale, rel=1e-9)
    N = 15
    c0, c = r0.offset + r0.scale * N / 2, r.offset + r.scale * N / 2
    assert abs(c - (5 + 0.3 * c0)) <= 1e-9 + r.offset_error
    # N(0, 1) is symmetric about 0 and the optimum is the centred grid here (c* = 0 to rounding)
    assert abs(c0) <= 1e-9


def test_laplace_mirror_optima_and_relu_offset_hand_derived():
    """Laplace(1, 1) at 4 bits: the optimum is off-centre, so c -> 2 - c gives a second optimum with
    the same scale and MSE (both listed, the offset error covers both).  ReLU laws: m >= -s/2 at the
    optimum (a lower level below -s/2 is never used, the proof in docs/affine.md), and the real offset
    is never worse than the integer zero-point (m = -s z is admissible)."""
    r = optimal_offset(Laplace(1.0, 1.0), 4)
    per = r.extra["per_cluster"]
    assert len(per) == 2
    (s1, m1, F1, _, _), (s2, m2, F2, _, _) = per
    N = 15
    assert s1 == s2 and F1 == F2
    assert (m1 + s1 * N / 2) + (m2 + s2 * N / 2) == pytest.approx(2.0, rel=1e-12)
    assert r.offset_error >= abs(m2 - m1)
    assert _engine_F(Laplace(1.0, 1.0), 4, s2, m2) == pytest.approx(F1, rel=1e-11)
    for d in (ReLU(Normal(0.0, 1.0)), ReLU(Laplace(0.5, 1.0))):
        r = optimal_offset(d, 3)
        assert r.offset >= -r.scale / 2
        assert r.mse <= optimal_affine(d, 3).mse * (1 + 1e-12)


@pytest.mark.slow
def test_eight_bits_relu_certified():
    """8 bits, ReLU(N(0, 1)): the previous search stops at its box cap with an uncertified incumbent;
    the new one certifies the optimum (gap <= 2e-12), equal to scipy quad at the point (1e-9: 256 cells),
    and never worse than the integer zero-point optimum (an admissible offset)."""
    d = ReLU(Normal(0.0, 1.0))
    r = optimal_offset(d, 8)
    assert "Newton" in r.method
    assert 0 <= r.mse - r.mse_lower_bound <= 2e-12 * r.mse
    assert r.mse == pytest.approx(_quad_mse(d, r.scale, -r.offset / r.scale, 8), rel=1e-9)
    assert r.mse <= optimal_affine(d, 8).mse * (1 + 1e-12)


def _scaled_hessian(L, N, s, c, a=None):
    """Exact Hessian in y = (kappa s, c), c = m + a s (default a = N / 2), kappa = max(a, N - a, 1/2)."""
    a = N / 2 if a is None else a
    H = hessian(L.law, L.mu, L.sig, L.relu, N, s, c - s * a)
    J = np.array([[1.0, 0.0], [-a, 1.0]])
    k = max(a, N - a, 0.5)
    D = np.diag([1 / k, 1.0])
    return D @ J.T @ H @ J @ D


@pytest.mark.parametrize("dist", [Normal(0.0, 1.0), Laplace(1.0, 1.0), ReLU(Normal(0.0, 1.0)),
                                  ReLU(Laplace(0.5, 1.0)), Normal(2.0, 0.5)])
@pytest.mark.parametrize("anchor", [None, 0.0])
def test_second_order_hessian_bounds_hold(dist, anchor):
    """lambda_lower_sc never exceeds the smallest eigenvalue of the exact Hessian (itself checked
    against finite differences in test_affine_parametric.py) at 20 random points of each box, and
    |H - H0| <= U elementwise there (1e-10 absolute slack: rounding of sums of N terms); boxes of
    relative widths 1e-5 .. 1e-1 in s and 1e-4 .. 1 steps in c, N = 1 .. 255; coordinates anchored at
    the grid's centre (default) or at the lowest level (``anchor = 0``, the ReLU search).  The numba
    form ``hessian_bounds_sc_nb`` gives the same numbers (1e-12 of the entries' scale: summation order)."""
    L = _Law(dist)
    rng = np.random.default_rng(5)
    checked = 0
    for N in (1, 3, 15, 63, 255):
        a = N / 2 if anchor is None else anchor
        for _ in range(25):
            s0 = rng.uniform(0.3, 3) * 2 / (N + 1) ** 0.8
            m0 = L.mu + rng.uniform(-1, 1) * s0 - (0.0 if L.relu else s0 * N / 2)
            c0 = m0 + a * s0
            hs, hc = s0 * 10 ** rng.uniform(-5, -1), s0 * 10 ** rng.uniform(-4, 0)
            box = ([s0 - hs], [s0 + hs], [c0 - hc], [c0 + hc])
            lam, H0, U = hessian_bounds_sc(L.law, L.mu, L.sig, L.relu, L.p0, N, *box, anchor=anchor)
            lam_nb, H0_nb, U_nb = hessian_bounds_sc_nb(L.law, L.mu, L.sig, L.relu, L.p0, N, *box, anchor=anchor)
            scale = abs(H0[0][0]) + abs(H0[1][0]) + abs(H0[2][0]) + 1.0
            for x, y in zip((lam, *H0, *U), (lam_nb, *H0_nb, *U_nb)):
                assert (x[0] == y[0]) or abs(x[0] - y[0]) <= 1e-12 * scale
            if not np.isfinite(lam[0]):
                continue
            checked += 1
            Hc = _scaled_hessian(L, N, s0, c0, a)
            np.testing.assert_allclose([Hc[0, 0], Hc[0, 1], Hc[1, 1]], [H0[0][0], H0[1][0], H0[2][0]],
                                       rtol=1e-9, atol=1e-10)
            for _ in range(20):
                s, c = s0 + hs * rng.uniform(-1, 1), c0 + hc * rng.uniform(-1, 1)
                H = _scaled_hessian(L, N, s, c, a)
                assert np.linalg.eigvalsh(H)[0] >= lam[0] - 1e-10
                assert abs(H[0, 0] - H0[0][0]) <= U[0][0] + 1e-10
                assert abs(H[0, 1] - H0[1][0]) <= U[1][0] + 1e-10
                assert abs(H[1, 1] - H0[2][0]) <= U[2][0] + 1e-10
    assert checked >= 60


@pytest.mark.parametrize("dist", [Laplace(1.0, 1.0), Laplace(-0.3, 0.6), ReLU(Laplace(0.5, 1.0))])
@pytest.mark.parametrize("anchor", [None, 0.0])
def test_kink_hessian_bound_holds(dist, anchor):
    """Boxes built so that a chosen threshold's interval straddles the Laplace kink at mu (its centre
    t0 = mu + u D, |u| < 1, so the far side of the kink is reached by D - |t0 - mu| > 0): the first-order
    kink term keeps lambda_lower_sc below the smallest eigenvalue of the exact Hessian and |H - H0| <= U
    elementwise at the four corners (the farthest reach past the kink) and 12 random points of each box
    (1e-10 absolute slack as above); numpy and numba forms agree; and the whole second-order box bound
    of the search stays below the exact MSE (engine / Gauss-Legendre) on a 5 x 5 grid of the box."""
    L = _Law(dist)
    rng = np.random.default_rng(17)
    checked = n_ty = 0
    for N in (3, 15, 63, 255):
        a = N / 2 if anchor is None else anchor
        for _ in range(12):
            s0 = rng.uniform(0.3, 3) * 2 / (N + 1) ** 0.8
            k = int(rng.integers(0, N))
            v = k + 0.5 - a
            hs, hc = s0 * 10 ** rng.uniform(-4, -1.5), s0 * 10 ** rng.uniform(-3, -0.3)
            D = hc + abs(v) * hs
            t0 = L.mu + rng.uniform(-0.95, 0.95) * D
            c0 = t0 - v * s0
            box = ([s0 - hs], [s0 + hs], [c0 - hc], [c0 + hc])
            lam, H0, U = hessian_bounds_sc(L.law, L.mu, L.sig, L.relu, L.p0, N, *box, anchor=anchor)
            lam_nb, H0_nb, U_nb = hessian_bounds_sc_nb(L.law, L.mu, L.sig, L.relu, L.p0, N, *box, anchor=anchor)
            scale = abs(H0[0][0]) + abs(H0[1][0]) + abs(H0[2][0]) + 1.0
            for x, y in zip((lam, *H0, *U), (lam_nb, *H0_nb, *U_nb)):
                assert (x[0] == y[0]) or abs(x[0] - y[0]) <= 1e-12 * scale
            if not np.isfinite(lam[0]):  # a threshold also on the ReLU atom
                continue
            checked += 1
            pts = [(s0 + es * hs, c0 + ec * hc) for es in (-1, 1) for ec in (-1, 1)]
            pts += [(s0 + hs * rng.uniform(-1, 1), c0 + hc * rng.uniform(-1, 1)) for _ in range(12)]
            for s, c in pts:
                H = _scaled_hessian(L, N, s, c, a)
                assert np.linalg.eigvalsh(H)[0] >= lam[0] - 1e-10
                assert abs(H[0, 0] - H0[0][0]) <= U[0][0] + 1e-10
                assert abs(H[0, 1] - H0[1][0]) <= U[1][0] + 1e-10
                assert abs(H[1, 1] - H0[2][0]) <= U[2][0] + 1e-10
            if N <= 63:
                bits = int(round(math.log2(N + 1)))
                lb = float(offset_taylor_lb_nb(L.law, L.mu, L.sig, L.relu, L.p0, L.full_reach, N, *box,
                                               anchor=anchor)[0])
                if np.isfinite(lb):
                    n_ty += 1
                    vals = [_engine_F(dist, bits, s, c - s * a) for s in np.linspace(s0 - hs, s0 + hs, 5)
                            for c in np.linspace(c0 - hc, c0 + hc, 5)]
                    assert lb <= min(vals) * (1 + 1e-12) + 1e-300
    assert checked >= 30 and n_ty >= 10


@pytest.mark.parametrize("dist", [Normal(0.3, 1.0), Laplace(1.0, 1.0), ReLU(Normal(0.0, 1.0)),
                                  ReLU(Laplace(0.5, 1.0))])
def test_box_taylor_bound_is_below_the_mse_in_the_box(dist):
    """Brute force: the second-order box bound (with and, for ReLU laws, without the atom split) never
    exceeds the MSE (engine / Gauss-Legendre) at a 5 x 5 grid of points of the box; boxes around and
    away from the optimum, 3 and 6 bits, including boxes where a threshold crosses the ReLU atom."""
    L = _Law(dist)
    rng = np.random.default_rng(11)
    for bits in (3, 6):
        N = 2**bits - 1
        r = optimal_offset(dist, bits)
        cs = r.offset + r.scale * N / 2
        n_fin = 0
        for _ in range(8):
            s0 = r.scale * math.exp(rng.uniform(-0.3, 0.3))
            c0 = cs + r.scale * rng.uniform(-2, 2)
            hs, hc = s0 * 10 ** rng.uniform(-3, -1.3), s0 * 10 ** rng.uniform(-2, -0.3)
            box = [np.array([x]) for x in (s0 - hs, s0 + hs, c0 - hc, c0 + hc)]
            vals = [_engine_F(dist, bits, s, c - s * N / 2) for s in np.linspace(s0 - hs, s0 + hs, 5)
                    for c in np.linspace(c0 - hc, c0 + hc, 5)]
            for cont in ((False, True) if L.relu else (False,)):
                lb = float(_offset_taylor_lb(L, N, *box, cont=cont)[0])
                if not np.isfinite(lb):
                    continue
                n_fin += 1
                assert lb <= min(vals) * (1 + 1e-12) + 1e-300
            # the numba bound of the search (plain, else the atom split): the Python one, bit for bit
            nb = float(offset_taylor_lb_nb(L.law, L.mu, L.sig, L.relu, L.p0, L.full_reach, N, *box)[0])
            py = float(_offset_taylor_lb(L, N, *box)[0])
            if L.relu and not np.isfinite(py):
                py = float(_offset_taylor_lb(L, N, *box, cont=True)[0])
            assert nb == py or (not np.isfinite(nb) and not np.isfinite(py))
            assert nb <= min(vals) * (1 + 1e-12) + 1e-300
            # the same box in coordinates anchored at the lowest level (c' = m + 0 s is the same set
            # of (s, m) only for a parallelogram: take the (s, c') box holding the (s, c) box's corners)
            m_lo, m_hi = c0 - hc - (s0 + hs) * N / 2, c0 + hc - (s0 - hs) * N / 2
            box0 = [np.array([x]) for x in (s0 - hs, s0 + hs, m_lo, m_hi)]
            nb0 = float(offset_taylor_lb_nb(L.law, L.mu, L.sig, L.relu, L.p0, L.full_reach, N, *box0,
                                            anchor=0.0)[0])
            vals0 = [_engine_F(dist, bits, s, m) for s in np.linspace(s0 - hs, s0 + hs, 5)
                     for m in np.linspace(m_lo, m_hi, 5)]
            assert nb0 <= min(vals0) * (1 + 1e-12) + 1e-300
        assert n_fin >= 4


@pytest.mark.parametrize("dist", [Normal(0.3, 1.2), Laplace(1.0, 0.7), ReLU(Normal(0.0, 1.0)),
                                  ReLU(Laplace(0.5, 1.0))])
def test_point_kernel_value_and_gradient(dist):
    """The one-pass point kernel (value, gradient at (s, m)) agrees with the independent references within
    its stated error bounds: the value with Gauss-Legendre cells (``point_mse``, relative 1e-12 of its
    own accuracy added), the gradient with the numpy cell moments (``gradient_many``); random points with
    N = 1 .. 255, grids inside and far outside the mass, ReLU grids with the lowest level near the atom."""
    L = _Law(dist)
    rng = np.random.default_rng(7)
    for N in (1, 3, 15, 255):
        n = 12
        s = rng.uniform(0.2, 3, n) * L.sig * 4 / N
        m = L.mu + rng.normal(0, 2, n) * L.sig - rng.uniform(0, 1, n) * s * N
        if L.relu:
            m[:4] = rng.uniform(-0.5, 0.5, 4) * s[:4]
        v, e, gs, gm, ge = point_value_grad(L.law, L.mu, L.sig, L.relu, L.p0, L.full_reach, N, s, m)
        gs0, gm0, ge0 = gradient_many(L.law, L.mu, L.sig, L.relu, L.p0, N, s, m)
        for i in range(n):
            ref = point_mse(L.law, L.mu, L.sig, L.relu, L.p0, m[i] + s[i] * np.arange(N + 1))
            assert abs(v[i] - ref) <= e[i] + 1e-12 * ref + 1e-300
        assert np.all(np.abs(gs - gs0) <= ge + ge0) and np.all(np.abs(gm - gm0) <= ge + ge0)


def test_symmetric_law_gradient_vanishes_at_the_centred_grid_hand_derived():
    """Hand-derived: for a law symmetric about mu, F(s, m) = F(s, 2 mu - m - N s) (reflect x -> 2 mu - x:
    the grid maps onto the grid with levels reversed), so dF/dm = 0 at the centred grid m = mu - s N / 2
    for every s and every N (an even number N + 1 of levels included); the kernel's dF/dm there is 0 to
    its rounding bound, and F at mirrored offsets agrees to its error bound."""
    for dist in (Normal(0.7, 1.3), Laplace(-0.4, 0.6)):
        L = _Law(dist)
        for N in (1, 3, 15, 255):
            s = np.array([0.1, 0.5, 2.0]) * 8 / (N + 1) * L.sig
            m = L.mu - s * N / 2
            v, e, gs, gm, ge = point_value_grad(L.law, L.mu, L.sig, L.relu, L.p0, L.full_reach, N, s, m)
            assert np.all(np.abs(gm) <= ge)
            d = 0.3 * s
            v1, e1 = point_value_grad(L.law, L.mu, L.sig, L.relu, L.p0, L.full_reach, N, s, m + d)[:2]
            v2, e2 = point_value_grad(L.law, L.mu, L.sig, L.relu, L.p0, L.full_reach, N, s, m - d)[:2]
            assert np.all(np.abs(v1 - v2) <= e1 + e2)


@pytest.mark.parametrize("dist", [Normal(0.0, 1.0), Laplace(1.0, 1.0), Normal(2.0, 1.0), ReLU(Normal(0.0, 1.0)),
                                  ReLU(Laplace(0.5, 1.0))])
def test_every_law_and_width_against_quad_and_a_dense_grid(dist):
    """2..8 bits: certified (gap (mse - lower bound) / mse <= 1e-11), MSE = scipy quad at the point
    (1e-10 up to 6 bits, 1e-9 above: N + 1 cells at epsrel 1e-13), and a dense 2-D grid of Gauss-Legendre
    MSEs (``point_mse``, independent of the search's closed forms; 13 x 13 points, +-20 % in s and
    +-2 steps in m around the optimum, plus 9 x 9 over a factor 8 in s) never below the lower bound
    (1e-12: the bound's accuracy)."""
    N_ = lambda b: 2**b - 1  # noqa: E731
    law, mu, sig, relu = dist.kernel_params()
    for bits in range(2, 9):
        r = optimal_offset(dist, bits)
        N = N_(bits)
        assert "Newton" in r.method
        assert 0 <= r.mse - r.mse_lower_bound <= 1e-11 * r.mse
        q = _quad_mse(dist, r.scale, -r.offset / r.scale, bits)
        assert r.mse == pytest.approx(q, rel=1e-10 if bits <= 6 else 1e-9)
        pts = [(S, M) for S in r.scale * np.linspace(0.8, 1.2, 13) for M in r.offset + r.scale * np.linspace(-2, 2, 13)]
        mean = float(dist.mean())
        pts += [(S, mean + D * S * N / 2 - S * N / 2 if not relu else -S / 2 + (D + 1) * (mean + S / 2))
                for S in r.scale * np.geomspace(0.35, 2.8, 9) for D in np.linspace(-1, 1, 9)]
        vals = [point_mse(law, mu, sig, relu, dist.point_mass, M + S * np.arange(N + 1)) for S, M in pts]
        assert min(vals) >= r.mse_lower_bound * (1 - 1e-12)


@pytest.mark.parametrize("dist,bits", [(ReLU(Normal(0.0, 1.0)), 4), (ReLU(Laplace(0.5, 1.0)), 5)])
def test_relu_anchor_choice_same_certified_optimum(dist, bits):
    """The ReLU search in boxes anchored at the lowest level (c = m, the default) and at the grid's centre
    (c = m + s N / 2, the previous coordinates): two different branch and bounds, the same certified
    optimum (MSE 1e-12, scale within the errors)."""
    r = optimal_offset(dist, bits)
    PM.OFFSET_RELU_ANCHOR = 0.5
    try:
        r2 = optimal_offset(dist, bits)
    finally:
        PM.OFFSET_RELU_ANCHOR = 0.0
    assert r.mse == pytest.approx(r2.mse, rel=1e-12)
    assert r.mse_lower_bound <= r2.mse and r2.mse_lower_bound <= r.mse
    assert abs(r.scale - r2.scale) <= r.scale_error + r2.scale_error + 1e-12 * r.scale


def test_point_mse_relu_left_tail_against_quad():
    """``point_mse`` with the ReLU left tail [0, L0] integrated by Gauss-Legendre: equals scipy quad
    (1e-12 relative) for lowest levels just above the atom (the 8-bit optimum's m* ~ 1e-5, where the
    closed form lost ~5e-12), between 0 and a Laplace kink, and above the kink (the piece is split there)."""
    for dist in (ReLU(Normal(0.0, 1.0)), ReLU(Laplace(0.5, 1.0))):
        law, mu, sig, relu = dist.kernel_params()
        for bits, s, m in ((8, 0.0165, 1.4e-5), (2, 0.4, 0.3), (2, 0.6, 1.3), (1, 2.0, 3.1), (3, 0.3, 0.0)):
            N = 2**bits - 1
            v = point_mse(law, mu, sig, relu, dist.point_mass, m + s * np.arange(N + 1))
            assert v == pytest.approx(_quad_mse(dist, s, -m / s, bits), rel=1e-12)
