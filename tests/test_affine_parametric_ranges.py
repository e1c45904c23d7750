"""Zero-point ranges of the parametric (s, z) optimum (docs/affine.md, section 2c).

Identity checked here against independent references:

    F_{z+1}(s) - F_z(s) = 2 s [pi(s (N - 1/2 - z)) - lam(-s (z + 1/2))],
    pi(a) = E[(xi - a)_+],  lam(c) = E[(c - xi)_+],

with ``F_z`` from scipy quad (cell by cell) and ``pi``, ``lam`` from mpmath quad at 30 digits.
Consequences (derived by hand in the docs, checked by brute force here): for Normal/Laplace laws
``z`` can be optimal at ``s`` only if ``(N - 1)/2 - z <= mu/s <= (N + 1)/2 - z``; for ReLU laws only
``z = 0``.  The optimum itself is compared with the enumeration of the risk engine's certified 1-D
optimum over every zero-point (an independent search), up to 8 bits.
"""

import math

import mpmath as mp
import numpy as np
import pytest

from quanttheory.affine import parametric as PM
from quanttheory.affine.grid import ShiftedGrid
from quanttheory.affine.parametric import _Law, optimal_affine, zero_point_ranges
from quanttheory.laws import Laplace, Normal, ReLU
from quanttheory.risk import mse as engine_mse
from quanttheory.risk import optimal_scale

from test_affine_grid import _quad_mse


def _mp_pdf(dist):
    law, mu, sig, relu = dist.kernel_params()

    def p(x):
        if relu and x <= 0:
            return mp.mpf(0)
        if law == 0:
            return mp.exp(-((x - mu) / sig) ** 2 / 2) / (sig * mp.sqrt(2 * mp.pi))
        return mp.exp(-abs(x - mu) / sig) / (2 * sig)

    return p, mu, law, relu


def _mp_pi(dist, a):
    """E[(xi - a)_+] (the ReLU atom at 0 contributes (0 - a)_+ times its mass)."""
    mp.mp.dps = 30
    p, mu, law, relu = _mp_pdf(dist)
    pts = [mp.mpf(a)] + sorted(q for q in ([mu] if law == 1 else []) + ([0.0] if relu else []) if q > a) + [mp.inf]
    v = mp.quad(lambda x: (x - a) * p(x), pts)
    return float(v) + dist.point_mass * max(0.0 - a, 0.0)


def _mp_lam(dist, c):
    """E[(c - xi)_+]."""
    mp.mp.dps = 30
    p, mu, law, relu = _mp_pdf(dist)
    pts = [-mp.inf] + sorted(q for q in ([mu] if law == 1 else []) + ([0.0] if relu else []) if q < c) + [mp.mpf(c)]
    v = mp.quad(lambda x: (c - x) * p(x), pts)
    return float(v) + dist.point_mass * max(c - 0.0, 0.0)


@pytest.mark.parametrize("dist", [Normal(0.6, 1.2), Laplace(-0.5, 0.8), ReLU(Normal(0.3, 1.0)),
                                  ReLU(Laplace(0.5, 1.0))])
def test_difference_identity_against_quad(dist):
    """F_{z+1} - F_z (scipy quad, epsrel 1e-13 per cell) against 2 s [pi(top) - lam(bottom)]
    (mpmath); tolerance 1e-9 of F_z: the difference of two quad values, each ~1e-12 relative."""
    bits = 3
    N = 2**bits - 1
    for s in (0.15, 0.6, 1.7):
        for z in (0, 2, 5, 6):
            Fz = _quad_mse(dist, s, z, bits)
            Fz1 = _quad_mse(dist, s, z + 1, bits)
            rhs = 2 * s * (_mp_pi(dist, s * (N - 0.5 - z)) - _mp_lam(dist, -s * (z + 0.5)))
            assert Fz1 - Fz == pytest.approx(rhs, abs=1e-9 * Fz), (s, z)


def test_ranges_hand_derived():
    """N(2, 1), 3 bits (N = 7): z optimal iff 3 - z <= 2/s <= 4 - z, i.e. z = 0 on (0, 2/3],
    z = 1 on [2/3, 1], z = 2 on [1, 2], z = 3 on [2, inf); z >= 4 never (the centre of the clip range
    s (N - 1 - 2z)/2 must be the one nearest mu = 2).  Mirror for mu = -2; mu = 0: z = 3 and 4 at every s;
    ReLU: z = 0 only."""
    A, B = zero_point_ranges(_Law(Normal(2.0, 1.0)), 7)
    exp = {0: (0.0, 2 / 3), 1: (2 / 3, 1.0), 2: (1.0, 2.0), 3: (2.0, math.inf)}
    for z in range(8):
        if z in exp:
            assert A[z] == pytest.approx(exp[z][0], rel=1e-8) and B[z] == pytest.approx(exp[z][1], rel=1e-8)
            assert A[z] <= exp[z][0] and B[z] >= exp[z][1]  # widened, never narrowed
        else:
            assert A[z] > B[z]
    A2, B2 = zero_point_ranges(_Law(Laplace(-2.0, 3.0)), 7)
    for z in range(8):
        np.testing.assert_array_equal([A2[7 - z], B2[7 - z]], [A[z], B[z]])
    A0, B0 = zero_point_ranges(_Law(Normal(0.0, 1.0)), 7)
    assert [z for z in range(8) if A0[z] <= B0[z]] == [3, 4]
    Ar, Br = zero_point_ranges(_Law(ReLU(Normal(-1.0, 1.0))), 7)
    assert [z for z in range(8) if Ar[z] <= Br[z]] == [0]


@pytest.mark.parametrize("dist", [Normal(2.0, 1.0), Laplace(-3.0, 2.0), Normal(0.0, 1.0), Laplace(0.4, 1.0),
                                  ReLU(Normal(0.0, 1.0)), ReLU(Laplace(-0.5, 1.0))])
@pytest.mark.parametrize("bits", [2, 5, 8])
def test_ranges_hold_every_pointwise_argmin(dist, bits):
    """At 40 scales, the zero-points minimizing the risk engine's MSE (ShiftedGrid, an independent
    evaluator) over all z lie in the ranges, and every zero-point outside its range is strictly
    worse than the best one (1e-12 relative: the engine's accuracy)."""
    N = 2**bits - 1
    A, B = zero_point_ranges(_Law(dist), N)
    rng = np.random.default_rng(bits)
    ss = np.exp(rng.uniform(math.log(1e-3), math.log(5.0), 40))
    V = np.array([engine_mse(dist, ss, ShiftedGrid(bits, False, z)) for z in range(N + 1)])
    for s, v in zip(ss, V.T):
        inside = (A <= s) & (s <= B)
        assert inside.any()
        best_in = v[inside].min()
        assert v.min() >= best_in * (1 - 1e-12)
        # convexity in z: the differences increase
        assert np.all(np.diff(np.diff(v)) >= -1e-11 * v.max())


def _enumerate(dist, bits, zs=None):
    """min over z of the risk engine's certified 1-D optimum on the ShiftedGrid (all z by default)."""
    out = []
    for z in (range(2**bits) if zs is None else zs):
        try:
            o = optimal_scale(dist, ShiftedGrid(bits, False, z))
            out.append((o.risk / math.pi**2, z, o.scale))
        except ValueError:  # every scale gives the same MSE (e.g. ReLU law on a non-positive grid)
            out.append((dist.second_moment(), z, math.nan))
    return min(out), out


CASES = [
    (Normal(5.0, 1.0), 2),        # z* = 0: every level >= 0, code range edge
    (Normal(-5.0, 1.0), 2),       # z* = N: mirror, other edge
    (Normal(2.0, 1.0), 3),        # shifted, z* inside
    (ReLU(Normal(0.0, 1.0)), 6),  # z* = 0 proven for every s
    (ReLU(Laplace(0.5, 1.0)), 7),
    (Normal(0.0, 1.0), 5),        # symmetric: z = 15 and 16 tie at every s
    (Normal(2.0, 1.0), 6),
    (Laplace(1.0, 1.0), 7),
]


@pytest.mark.parametrize("dist,bits", CASES)
def test_optimum_against_enumeration(dist, bits):
    """The certified (s, z) optimum against the enumeration over every z of the risk engine's
    certified 1-D optimum: MSE within 1e-11 relative (both certified to ~1e-12), z among the tied
    minimizers, scale within 1e-6 relative (the engine's root tolerance); the certificate is below
    the enumerated minimum."""
    (F, z, s), per = _enumerate(dist, bits)
    r = optimal_affine(dist, bits)
    assert r.mse == pytest.approx(F, rel=1e-11)
    ties = {zz for v, zz, _ in per if v <= F * (1 + 1e-11)}
    assert r.zero_point in ties
    assert set(r.extra["tied_zero_points"]) <= ties
    sz = {zz: ss for _, zz, ss in per}
    assert r.scale == pytest.approx(sz[r.zero_point], rel=1e-6)
    assert r.mse_lower_bound <= F * (1 + 1e-12)
    if dist.relu:
        assert r.zero_point == 0 and r.extra["surviving_zero_points"] == [0]
    if (dist.loc, bits) == (5.0, 2):
        assert r.zero_point == 0
    if (dist.loc, bits) == (-5.0, 2):
        assert r.zero_point == 3
    if dist.loc == 0.0 and not dist.relu:
        N = 2**bits - 1
        assert set(r.extra["tied_zero_points"]) == {(N - 1) // 2, (N + 1) // 2}


@pytest.mark.slow
@pytest.mark.parametrize("dist", [Normal(0.0, 1.0), Normal(2.0, 1.0), ReLU(Normal(0.0, 1.0))])
def test_eight_bits_against_enumeration_and_quad(dist):
    """8 bits: enumeration over all 256 zero-points (risk engine, certified 1-D), and the MSE at the
    returned (s, z) by scipy quad (1e-10 relative: quad over 256 cells at epsrel 1e-13)."""
    (F, z, s), per = _enumerate(dist, 8)
    r = optimal_affine(dist, 8)
    assert r.mse == pytest.approx(F, rel=1e-11)
    assert r.zero_point in {zz for v, zz, _ in per if v <= F * (1 + 1e-11)}
    assert r.mse == pytest.approx(_quad_mse(dist, r.scale, r.zero_point, 8), rel=1e-10)


@pytest.mark.parametrize("dist,bits", [(Normal(2.0, 1.0), 6), (Laplace(1.0, 1.0), 6), (ReLU(Normal(0.0, 1.0)), 6),
                                       (Normal(0.0, 1.0), 7), (Normal(-0.8, 0.5), 4)])
def test_same_answer_as_previous_search(dist, bits, monkeypatch):
    """The range-restricted search and the previous one (every zero-point on every scale,
    ``USE_ZP_RANGES = False``) return the same zero-point, scales within their certificates and
    the same MSE to 1e-12."""
    new = optimal_affine(dist, bits)
    monkeypatch.setattr(PM, "USE_ZP_RANGES", False)
    old = optimal_affine(dist, bits)
    assert new.mse == pytest.approx(old.mse, rel=1e-12)
    assert set(new.extra["tied_zero_points"]) == set(old.extra["tied_zero_points"])
    assert new.zero_point == old.zero_point
    assert abs(new.scale - old.scale) <= new.scale_error + old.scale_error + 1e-12 * new.scale
    assert new.mse_lower_bound <= old.mse * (1 + 1e-12) and old.mse_lower_bound <= new.mse * (1 + 1e-12)


@pytest.mark.parametrize("dist", [Normal(0.0, 1.0), Normal(1.5, 0.7), Laplace(1.0, 1.0), Laplace(-2.0, 0.5)])
@pytest.mark.parametrize("bits", [2, 4, 6])
def test_offset_centre_wedge_by_brute_force(dist, bits):
    """Real-offset form: at a fixed scale the optimal centre c = m + s N / 2 is within s / 2 of mu
    (the zero-point identity applied to the law shifted by a fraction of s).  Brute force: the risk
    engine's MSE (law shifted by -m, unsigned grid) on 222 centres over mu +- 3 s N / 2 at 6 scales;
    the best centre outside the wedge never beats the best one inside (1e-12 relative)."""
    from quanttheory.formats.grid import Grid

    N = 2**bits - 1
    law, mu, sig, relu = dist.kernel_params()
    ref = optimal_affine(dist, bits).scale
    for s in ref * np.array([0.3, 0.7, 1.0, 1.3, 2.0, 5.0]):
        cs = mu + s * np.concatenate([np.linspace(-1.5 * N, 1.5 * N, 201), np.linspace(-0.5, 0.5, 21)])
        v = np.array([float(engine_mse(type(dist)(mu - (c - s * N / 2), sig), np.array([s]),
                                       Grid(bits, signed=False))[0]) for c in cs])
        inside = np.abs(cs - mu) <= 0.5 * s * (1 + 1e-12)
        assert v[~inside].min() >= v[inside].min() * (1 - 1e-12), s


def test_offset_optimum_same_as_previous_search(monkeypatch):
    """Wedge-restricted (s, m) search against the previous full-region search (4 bits, both
    certified): same MSE to 1e-12, offsets within the certificates (up to the mirror optimum)."""
    for dist in (Normal(0.5, 1.0), Laplace(1.0, 1.0)):
        new = PM.optimal_offset(dist, 4)
        monkeypatch.setattr(PM, "USE_ZP_RANGES", False)
        old = PM.optimal_offset(dist, 4)
        monkeypatch.setattr(PM, "USE_ZP_RANGES", True)
        assert new.extra["convexity_certified"] and old.extra["convexity_certified"]
        assert new.mse == pytest.approx(old.mse, rel=1e-12)
        assert abs(new.scale - old.scale) <= new.scale_error + old.scale_error + 1e-12
        assert new.mse_lower_bound <= old.mse * (1 + 1e-12)
