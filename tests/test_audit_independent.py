"""Independent audit (fast, decisive cases): the public API against references written from the
definitions in ``benchmarks/_audit_ref.py`` (mpmath closed forms, exact rationals, a direct block
quantizer with ml_dtypes casts, scipy quad).  Nothing on the reference side calls quanttheory.

Tolerances: risk values 1e-12 relative (the package's documented accuracy; the mpmath reference is
exact to ~1e-35); data optima exact to 1e-12 against rational enumeration (the reference minimises the
exact MSE over float64 scales next to the rational optimum, since the returned scale is a float64);
certificates: the exact slope R' (mpmath, 40 digits) must change sign inside [s* - e, s* + e].
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import _audit_ref as R  # noqa: E402

from quanttheory import Grid, Laplace, Normal, ReLU, optimal_scale, risk_curve  # noqa: E402


def _law(L):
    kind, mu, sc, relu = L
    d = Normal(mu, sc) if kind == "normal" else Laplace(mu, sc)
    return ReLU(d) if relu else d


RISK_CASES = [
    (("normal", 0, 1, False), 1, True, 0.8),
    (("normal", 0, 1, False), 4, True, 1e-4),
    (("normal", 3, 0.01, False), 8, True, 0.0237),
    (("normal", -5, 2, False), 4, False, 0.7),
    (("laplace", -2, 5, False), 3, True, 1.7),
    (("laplace", 0, 1e-9, False), 6, True, 3e-11),
    (("normal", 1, 2, True), 4, False, 0.4),
    (("laplace", 0.5, 1, True), 2, True, 0.9),
    (("laplace", 0.5, 1, True), 1, False, 1.3),
]


@pytest.mark.parametrize("L,b,signed,s", RISK_CASES)
@pytest.mark.parametrize("reg", ["msqe", "qsin"])
def test_risk_against_mpmath(L, b, signed, s, reg):
    g = Grid(b, signed)
    ref = R.ref_msqe_mp(L, s, g.r_b, g.r_t) if reg == "msqe" else R.ref_qsin_mp(L, s, g.r_b, g.r_t)
    got = risk_curve(_law(L), [s], g, reg)[0]
    assert abs(got - float(ref)) <= 1e-12 * float(ref)


@pytest.mark.parametrize("L,b,signed,reg", [
    (("normal", 0, 1, False), 4, True, "qsin"), (("laplace", 0, 1, False), 2, True, "qsin"),
    (("laplace", -1, 3, False), 5, True, "msqe"), (("normal", 1, 2, True), 4, False, "msqe"),
    (("laplace", 0.5, 1, True), 3, True, "qsin"), (("normal", 2, 0.5, False), 4, False, "msqe"),
])
def test_optimal_scale_bracket_holds_the_exact_root(L, b, signed, reg):
    g = Grid(b, signed)
    r = optimal_scale(_law(L), g, reg)
    e = max(r.scale_error, 4 * np.spacing(r.scale))
    d = R.ref_msqe_deriv_mp if reg == "msqe" else R.ref_qsin_deriv_mp
    assert d(L, r.scale - e, g.r_b, g.r_t) < 0 < d(L, r.scale + e, g.r_b, g.r_t)
    ref = R.ref_msqe_mp(L, r.scale, g.r_b, g.r_t) if reg == "msqe" else R.ref_qsin_mp(L, r.scale, g.r_b, g.r_t)
    assert abs(r.risk - float(ref)) <= 1e-12 * float(ref)
    assert r.risk_lower_bound <= float(ref)


def test_optimal_scale_laplace_one_bit_hand_derived():
    # Laplace(0, b) on the 1-bit grid {-1, 0}: MSE'(s) = e^{-s/2b}(s/2 - b), so s* = 2b exactly
    r = optimal_scale(Laplace(0.0, 1.5), Grid(1), "msqe")
    assert abs(r.scale - 3.0) <= max(r.scale_error, 1e-15 * 3.0)


def _best_float_scale_mse(x, s_ref, r_b, r_t):
    fl = [float(s_ref)]
    for _ in range(2):
        fl = [np.nextafter(fl[0], 0)] + fl + [np.nextafter(fl[-1], np.inf)]
    return min(R.data_mse_exact(x, t, r_b, r_t) for t in fl)


DATA = {
    "outlier": (np.r_[np.random.default_rng(1).laplace(size=24), 1e3], 3, True),
    "float32": (np.random.default_rng(2).normal(size=20).astype(np.float32), 2, True),
    "one-bit-unsigned-tiny": (np.array([-1, 1.2e-38, 2.5e-272]), 1, False),
    "constant-ish": (1.0 + 1e-12 * np.arange(15), 2, True),
    "midpoint-ties": (np.array([0.5, 1.5, 2.5, -0.5, -3.5, 1.0]), 2, True),
    "relu-unsigned": (np.maximum(np.random.default_rng(3).normal(size=20), 0), 3, False),
}


@pytest.mark.parametrize("name", list(DATA))
def test_data_optimum_against_rational_enumeration(name):
    x, b, signed = DATA[name]
    g = Grid(b, signed)
    r = optimal_scale(x, g)
    s_ref, m_ref = R.data_optimum_exact(x, g.r_b, g.r_t)
    m_float = _best_float_scale_mse(x, s_ref, g.r_b, g.r_t)  # the returned scale is a float64
    assert m_float >= m_ref
    m_ref = m_float
    at_s = R.data_mse_exact(x, r.scale, g.r_b, g.r_t)
    assert float(at_s) <= float(m_ref) * (1 + 1e-12) + 1e-300
    assert abs(r.risk / math.pi**2 - float(at_s)) <= 1e-12 * float(at_s)
    assert r.risk_lower_bound / math.pi**2 <= float(m_ref) * (1 + 1e-13)


def test_data_refuses_underflowing_and_overflowing_magnitudes():
    with pytest.raises(ValueError, match="rescale"):
        optimal_scale(1e-300 * np.arange(1.0, 9.0), Grid(2))
    with pytest.raises(ValueError, match="rescale"):
        optimal_scale(1e300 * np.arange(1.0, 9.0), Grid(2))


# ---------------------------------------------------------------------------------------------
# blocks: quantize_blocks against a direct implementation (ml_dtypes level sets, spec rules)

from quanttheory.blocks import quantize_blocks  # noqa: E402


@pytest.mark.parametrize("fmt,elem,rule,sf,k", [
    ("mxfp4", "e2m1", "floor", "e8m0", 32), ("mxfp4", "e2m1", "ceil", "e8m0", 32),
    ("mxfp4", "e2m1", "round", "e8m0", 32), ("mxfp8_e5m2", "e5m2", "ceil", "e8m0", 32),
    ("mxfp6_e3m2", "e3m2", "round", "e8m0", 32), ("mxint8", "mxint8", "floor", "e8m0", 32),
    ("int4_g32", "int4n", "clip", "fp16", 32),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_quantize_blocks_matches_direct_implementation(fmt, elem, rule, sf, k, dtype):
    rng = np.random.default_rng(5)
    # heavy tails and magnitudes 1e-9..1e9: E8M0 clamping and FP16 scale saturation / underflow occur
    x = (rng.standard_t(3, size=(4, 2 * k)) * np.exp(rng.uniform(-20, 20, size=(4, 1)))).astype(dtype)
    qb = quantize_blocks(x, fmt, rule=rule)
    ref, _ = R.block_ref_quant(x.reshape(-1, k).astype(np.float64), elem, rule, sf)
    np.testing.assert_array_equal(qb.values.reshape(-1, k).astype(np.float64), ref)


def test_mxint8_uses_minus_two():
    # two's complement int8 x 2^-6 has -128/64 = -2: -1.995 is nearer -2 than -127/64 (hand-derived)
    x = np.zeros(32, np.float32)
    x[:3] = [1.996, -1.995, -1.993]
    qb = quantize_blocks(x, "mxint8")
    assert qb.scales[0] == 1.0
    np.testing.assert_array_equal(qb.values[:3], [127 / 64, -2.0, -2.0])


@pytest.mark.parametrize("k,n,partial", [(16, 70, True), (1, 9, False), (2, 10, False), (7, 30, True)])
def test_nvfp4_block_sizes_and_partial_block(k, n, partial):
    rng = np.random.default_rng(k)
    x = rng.laplace(size=(2, n)).astype(np.float32)
    S = float(np.max(np.abs(x))) / (448.0 * 6.0)
    qb = quantize_blocks(x, "nvfp4", block=k, tensor_scale=S, partial=partial)
    xp = np.concatenate([x, np.zeros((2, (-n) % k), np.float32)], axis=1).reshape(-1, k).astype(np.float64)
    ref, _ = R.block_ref_quant(xp, "e2m1", "round", "e4m3", S=S)
    np.testing.assert_array_equal(qb.values.astype(np.float64), ref.reshape(2, -1)[:, :n])


def test_block_mse_k1_against_quad():
    # k = 1: the block absmax is |x| itself, so MSE = int e(x, X(|x|)) f(x) dx, a 1-D integral split at
    # every power of two and every level / midpoint of every binade (scipy quad, epsrel 1e-12)
    from scipy import integrate, stats

    from quanttheory.blocks.expectation import block_mse

    pos = R.levels_of("e2m1")
    pts = sorted({p * 2.0**E for E in range(-30, 8) for p in list(pos[1:]) + [0.5 * (a + b) for a, b in
                  zip(pos[:-1], pos[1:])] + [1.0, 2**0.5]})
    pts = [p for p in pts if 1e-9 < p < 40]
    edges = [0.0] + pts + [60.0]

    def err(m):
        q, _ = R.block_ref_quant(np.array([[m]]), "e2m1", "floor", "e8m0")
        return (m - q[0, 0]) ** 2

    ref = sum(integrate.quad(lambda m: err(m) * 2 * stats.norm.pdf(m), a, b, epsabs=1e-17, epsrel=1e-12)[0]
              for a, b in zip(edges[:-1], edges[1:]))
    got = block_mse(Normal(0, 1), "mxfp4", "floor", block=1).mse
    assert abs(got - ref) <= 1e-9 * ref


# ---------------------------------------------------------------------------------------------
# affine on data: exact enumeration over every zero-point


@pytest.mark.parametrize("name", ["one-sided", "outlier", "float32", "one-bit"])
def test_affine_data_against_enumeration(name):
    from quanttheory.affine import optimal_affine_data

    rng = np.random.default_rng(16)
    x, b = {"one-sided": (-np.abs(rng.normal(size=10)), 2), "outlier": (np.r_[rng.normal(size=11), 40.0], 2),
            "float32": (rng.normal(size=12).astype(np.float32), 3), "one-bit": (rng.normal(size=9), 1)}[name]
    N = 2**b - 1
    r = optimal_affine_data(x, b)
    best = min(R.data_optimum_exact(x, -z, N - z)[1] for z in range(N + 1))
    at = R.data_mse_exact(x, r.scale, -r.zero_point, N - r.zero_point)
    assert float(at) <= float(best) * (1 + 1e-12)
    assert abs(r.mse - float(at)) <= 1e-12 * float(at)
