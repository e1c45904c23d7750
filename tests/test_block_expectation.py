"""Telescoped exact block expectation (quanttheory/blocks/expectation.py, method "telescoped")
against independent references.

* the m-quadrature of the module doc (method "quadrature": adaptive Gauss-Legendre over the
  block absmax m of the density k g G^(k-1); a different formula, same integrand family):
  agreement <= 1e-11 relative (both claim <= ~1e-12), saturation rates <= 1e-13 absolute;
* k = 2 by hand: MSE = E[e(x1, X(max(|x1|, |x2|)))] = int f(x1) [G(|x1|) e(x1, X(|x1|)) +
  sum_p P(|x2| in piece p, |x2| > |x1|) e(x1, X_p)] dx1 (scipy quad over x1, the x2 part as an
  exact sum over the E8M0 pieces [2^j, 2^(j+1)) of the OCP floor rule): <= 1e-9 relative;
* every preset format x rule x law: the error estimate (rigorous quadrature bounds, truncation
  and rounding) <= 1e-9 relative.
"""

import math

import numpy as np
import pytest
from scipy import integrate

from quanttheory.blocks import get_block_format
from quanttheory.blocks.expectation import block_mse
from quanttheory.blocks.spec import block_format_names
from quanttheory.laws import Laplace, Normal

LAWS = [Normal(), Laplace(0.3, 0.7)]


@pytest.mark.parametrize("law", LAWS, ids=["normal", "laplace-shifted"])
@pytest.mark.parametrize("name,rule", [("mxfp4", "floor"), ("nvfp4", "round"), ("mxint8", "floor"),
                                       ("mxfp8_e5m2", "ceil"), ("mxfp6_e2m3", "clip"), ("nvfp4", "floor")])
def test_telescoped_vs_m_quadrature(law, name, rule):
    t = block_mse(law, name, rule)
    q = block_mse(law, name, rule, method="quadrature")
    assert abs(t.mse - q.mse) <= 1e-11 * q.mse, (t.mse, q.mse)
    assert abs(t.saturation_rate - q.saturation_rate) <= 1e-13
    assert t.scale_overflow_rate == q.scale_overflow_rate and t.scale_underflow_rate == q.scale_underflow_rate
    assert t.error_estimate <= 1e-9 * t.mse


@pytest.mark.slow
def test_telescoped_vs_m_quadrature_fp16_groups():
    """int4 groups with fp16 scales: ~3000 scale pieces (the case that took seconds before)."""
    t = block_mse(Normal(), "int4_g128", "clip")
    q = block_mse(Normal(), "int4_g128", "clip", method="quadrature")
    assert abs(t.mse - q.mse) <= 1e-11 * q.mse, (t.mse, q.mse)
    assert abs(t.saturation_rate - q.saturation_rate) <= 1e-13


@pytest.mark.parametrize("law", [Normal(), Laplace()], ids=["normal", "laplace"])
def test_k2_against_hand_formula(law):
    bf = get_block_format("mxfp4", block=2)
    ex = block_mse(law, bf, "floor")
    fmt = bf.fmt

    def X_of(m):  # OCP floor, E8M0, emax(E2M1) = 2: X = 2^(floor(log2 m) - 2)
        return 2.0 ** (math.floor(math.log2(m)) - 2)

    def P_abs(lo, hi):  # P(lo < |xi| <= hi)
        return float(law.cdf(hi) - law.cdf(lo) + law.cdf(-lo) - law.cdf(-hi))

    weights = {}

    def piece_weights(j):
        """x2's weights for x1 in the piece [2^j, 2^(j+1)): P(|x2| <= 2^(j+1)) (x2 below m1, where the
        scale is X(m1), plus the rest of m1's own piece, where it is the same X(m1)), then
        P(|x2| in [2^jj, 2^(jj+1))) for the pieces jj = j+1..7 above (scale 2^(jj-2)).  They do not
        depend on x1: computed once per piece."""
        if j not in weights:
            weights[j] = np.array([P_abs(0.0, 2.0 ** (j + 1))]
                                  + [P_abs(2.0 ** jj, 2.0 ** (jj + 1)) for jj in range(j + 1, 8)])
        return weights[j]

    def integrand(x1):
        m1 = abs(x1)
        j = math.floor(math.log2(m1))
        assert X_of(m1) == 2.0 ** (j - 2)
        Xs = 2.0 ** (np.arange(j, 8, dtype=float) - 2)  # X(m1), then the pieces above
        e = (x1 - Xs * fmt.quantize(x1 / Xs)) ** 2  # x1's squared error under each scale
        return float(np.dot(piece_weights(j), e)) * float(law.pdf(x1))

    # integrand kinks: powers of two (scale jumps) and x1 / X at element midpoints
    pts = set()
    for j in range(-30, 6):
        X = 2.0 ** (j - 2)
        for u in [0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 4.0, 6.0]:
            v = u * X
            if 2.0 ** j <= v < 2.0 ** (j + 1):
                pts.add(v)
        pts.add(2.0 ** j)
    pts = sorted(p for p in pts if 1e-9 < p < 60)
    tot = 0.0
    for s in (1.0, -1.0):
        a = 0.0
        for b in pts + [60.0]:
            val, _ = integrate.quad(lambda x: integrand(s * x), a, b, epsabs=0, epsrel=1e-13, limit=200)
            tot += val
            a = b
    assert abs(tot - ex.mse) <= 1e-9 * ex.mse, (tot, ex.mse)


@pytest.mark.parametrize("law", [Normal(), Laplace()], ids=["normal", "laplace"])
def test_error_estimate_every_preset(law):
    for name in block_format_names():
        for rule in ("floor", "ceil", "round", "clip"):
            r = block_mse(law, name, rule)
            assert 0 < r.mse < law.second_moment()
            assert r.error_estimate <= 1e-9 * r.mse, (name, rule, r.error_estimate / r.mse)
            assert 0.0 <= r.saturation_rate < 0.5
            assert 0.0 <= r.scale_underflow_rate <= 1.0 and 0.0 <= r.scale_overflow_rate <= 1.0


def test_method_argument_validated():
    with pytest.raises(ValueError, match="method"):
        block_mse(Normal(), "mxfp4", "floor", method="fast")


@pytest.mark.parametrize("law,name", [(Normal(), "mxfp4"), (Laplace(), "mxfp8_e4m3"), (Normal(), "nvfp4")],
                         ids=["normal-mxfp4", "laplace-mxfp8", "normal-nvfp4"])
def test_oracle_bracket_contains_monte_carlo(law, name):
    """lower (each element with its own best scale) <= oracle MC mean <= best exact absmax rule,
    3 standard errors of slack (2^18 elements, seeded)."""
    from quanttheory.blocks.expectation import monte_carlo_block_mse
    from quanttheory.blocks.expectation_min import oracle_bracket

    br = oracle_bracket(law, name)
    assert 0.0 < br.lower <= br.upper * (1 + 1e-12)
    assert br.lower_error <= 1e-4 * br.lower
    mean, se, _ = monte_carlo_block_mse(law, name, "oracle", n=1 << 18, rng=11)
    assert br.lower - 3 * se <= mean <= br.upper + 3 * se, (br, mean, se)


def test_oracle_lower_bound_by_hand():
    """MXFP4 (E2M1 x 2^E): every X l is 2^j or 1.5 * 2^j, so the lower bound is
    E[dist(xi, {0} U {2^j, 1.5 2^j})^2]; computed here directly by quad over the Voronoi cells
    of N(0,1) (cells between consecutive points of the set, |x| <= 40)."""
    from quanttheory.blocks.expectation_min import oracle_bracket

    pts = sorted({s * 2.0 ** j for j in range(-60, 7) for s in (1.0, 1.5)})
    V = [0.0] + pts
    tot = 0.0
    for a_, b_ in zip(V[:-1], V[1:]):
        mid = 0.5 * (a_ + b_)
        for lo, hi, c in ((a_, mid, a_), (mid, b_, b_)):
            if lo >= 40:
                continue
            tot += integrate.quad(lambda x: (x - c) ** 2 * math.exp(-x * x / 2) / math.sqrt(2 * math.pi), lo,
                                  min(hi, 40.0), epsabs=0, epsrel=1e-12)[0]
    tot *= 2  # symmetric
    br = oracle_bracket(Normal(), "mxfp4")
    assert abs(br.lower - tot) <= 1e-9 * tot, (br.lower, tot)
