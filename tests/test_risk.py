"""Risk curves against independent references.

References and tolerances
-------------------------
* mpmath at 50 digits (``tests/mpref.py``: closed-form partial moments per cell,
  complex-erfc Fourier form for QSin/SinReQ), stored by ``tests/make_reference.py``
  in ``tests/data/risk_reference.json``: relative error <= 1e-12 (the issue's
  target; the engine's per-piece quadrature error bound is 1e-19, so what remains
  is float64 rounding, ~1e-14 observed).
* scipy.integrate.quad with every grid breakpoint: <= 1e-9 (quad's own accuracy).
* Monte Carlo with 4e5 samples: within 5 standard errors.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import integrate

import mpref
from quanttheory import Grid, Laplace, Normal, ReLU, msqe, qsin, sinreq
from quanttheory.formats.regularizers import user_regularizer
from quanttheory.risk import expected_phi, mse, risk_curve

REF = Path(__file__).parent / "data" / "risk_reference.json"
PI2 = math.pi**2


def _law(rec):
    base = (Normal if rec["law"] == "normal" else Laplace)(rec["loc"], rec["scale"])
    return ReLU(base) if rec["relu"] else base


def _groups():
    data = json.loads(REF.read_text())["records"]
    groups = defaultdict(list)
    for r in data:
        groups[(r["law"], r["loc"], r["scale"], r["relu"], r["bits"], r["signed"], r["regularizer"])].append(r)
    return groups


GROUPS = _groups() if REF.exists() else {}


def test_reference_file_present_and_complete():
    assert REF.exists(), "run python tests/make_reference.py"
    n = sum(len(v) for v in GROUPS.values())
    bits = {k[4] for k in GROUPS}
    assert bits == set(range(1, 17)) and n > 2000


@pytest.mark.parametrize("key", sorted(GROUPS, key=str), ids=lambda k: "-".join(map(str, k)))
def test_against_mpmath_reference(key):
    recs = GROUPS[key]
    d = _law(recs[0])
    g = Grid(recs[0]["bits"], recs[0]["signed"])
    s = np.array([r["s"] for r in recs])
    ref = np.array([float(r["reference"]) for r in recs])
    for method in ("auto", "cells"):
        got = risk_curve(d, s, g, recs[0]["regularizer"], method=method)
        rel = np.abs(got / ref - 1)
        assert rel.max() <= 1e-12, (method, rel, s)


@pytest.mark.parametrize("law,bits,signed,reg,s", [
    (ReLU(Laplace(0.2, 0.9)), 3, False, "msqe", 0.37),
    (Normal(-0.4, 1.3), 5, True, "qsin", 0.05),
    (ReLU(Normal(0.3, 1.1)), 16, True, "qsin", 2e-4),
    (Laplace(0.0, 1.0), 20, True, "sinreq", 3e-6),
])
def test_live_mpmath(law, bits, signed, reg, s):
    # recomputed in the test: the stored file is not the only reference
    g = Grid(bits, signed)
    ref = float(mpref.mp_risk(law.law, law.loc, law.scale, law.relu, g.r_b, g.r_t, reg, s))
    assert risk_curve(law, [s], g, reg)[0] == pytest.approx(ref, rel=1e-12)


def _quad_ref(d, g, fn, s):
    """scipy.quad over every breakpoint (grid integers and half-integers, loc, 0)."""
    lo = 0.0 if d.relu else d.loc - 40 * d.scale
    hi = d.loc + 40 * d.scale
    pts = {lo, hi}
    pts.update(k * s / 2 for k in range(2 * g.r_b - 2, 2 * g.r_t + 3) if lo < k * s / 2 < hi)
    if lo < d.loc < hi:
        pts.add(d.loc)
    pts = sorted(pts)
    tot = 0.0
    for a, b in zip(pts[:-1], pts[1:]):
        tot += integrate.quad(lambda x: fn(x / s, g) * d.pdf(x), a, b, epsabs=0, epsrel=1e-13, limit=200)[0]
    return s * s * tot


@pytest.mark.parametrize("d", [Normal(0.3, 1.2), Laplace(-0.2, 0.7), ReLU(Normal()), ReLU(Laplace(0.5, 1.0))],
                         ids=str)
@pytest.mark.parametrize("bits,signed", [(1, True), (2, True), (3, False)])
def test_against_scipy_quad(d, bits, signed):
    g = Grid(bits, signed)
    for s in (0.3, 1.1):
        assert expected_phi(d, [s], g, "msqe")[0] == pytest.approx(_quad_ref(d, g, msqe, s), rel=1e-9)
        assert expected_phi(d, [s], g, "qsin")[0] == pytest.approx(_quad_ref(d, g, qsin, s), rel=1e-9)


@pytest.mark.parametrize("d", [Normal(0.3, 1.2), Laplace(-0.2, 0.7), ReLU(Normal())], ids=str)
@pytest.mark.parametrize("power", [1, 3])
def test_user_phi_with_kinks_at_the_integers(d, power):
    """A user phi may have kinks at the integers (docs): |u - Q(u)|**power.  The per-cell path must split
    each cell at its grid point (it did not: errors up to 7e-3 relative for |u - Q(u)| before the fix).
    Reference: scipy.quad split at every integer and half-integer, rel 1e-9."""
    g = Grid(3, not d.relu)

    def fn(u, grid):
        u = np.asarray(u, dtype=float)
        return np.abs(u - np.clip(np.rint(u), grid.r_b, grid.r_t)) ** power

    reg = user_regularizer(lambda u, r_b, r_t: np.abs(u - np.clip(np.rint(u), r_b, r_t)) ** power, f"abs{power}")
    for s in (0.3, 1.1):
        assert expected_phi(d, [s], g, reg)[0] == pytest.approx(_quad_ref(d, g, fn, s), rel=1e-9)


@pytest.mark.parametrize("d", [Normal(0.2, 1.0), ReLU(Laplace(0.1, 1.0))], ids=str)
def test_monte_carlo(d):
    g = Grid(3, False)
    s = 0.4
    x = d.sample(np.random.default_rng(7), 400_000)
    for name, fn in (("msqe", msqe), ("qsin", qsin)):
        vals = s * s * fn(x / s, g)
        se = vals.std() / math.sqrt(x.size)
        assert abs(expected_phi(d, [s], g, name)[0] - vals.mean()) < 5 * se


def test_mse_is_plain_error_and_curve_has_pi2():
    d, g = Normal(), Grid(4)
    assert risk_curve(d, [0.3], g, "msqe")[0] == pytest.approx(PI2 * mse(d, [0.3], g)[0], rel=1e-15)


# ---------------------------------------------------------------- properties

laws = st.sampled_from(["normal", "laplace"])


@st.composite
def cases(draw):
    law = draw(laws)
    loc = draw(st.floats(-2, 2))
    sc = draw(st.floats(0.2, 5))
    relu = draw(st.booleans())
    base = (Normal if law == "normal" else Laplace)(loc, sc)
    d = ReLU(base) if relu else base
    g = Grid(draw(st.integers(1, 10)), draw(st.booleans()))
    s = draw(st.floats(1e-3, 10)) * sc
    return d, g, s


@given(cases(), st.floats(0.01, 100))
def test_scaling_law(case, c):
    """R[c xi](c s) = c^2 R[xi](s)."""
    d, g, s = case
    base = d.base if d.relu else d
    cb = type(base)(c * base.loc, c * base.scale)
    cd = ReLU(cb) if d.relu else cb
    for reg in ("msqe", "qsin"):
        lhs = risk_curve(cd, [c * s], g, reg)[0]
        rhs = c * c * risk_curve(d, [s], g, reg)[0]
        assert lhs == pytest.approx(rhs, rel=1e-12)


@given(cases())
def test_sandwich_carries_over(case):
    """4 MSQE <= QSin <= pi^2 MSQE pointwise  =>  (4/pi^2) MSQE[xi] <= QSin[xi] <= MSQE[xi]
    with the paper's pi^2 factor in MSQE[xi]."""
    d, g, s = case
    m = risk_curve(d, [s], g, "msqe")[0]
    q = risk_curve(d, [s], g, "qsin")[0]
    assert 4 / PI2 * m * (1 - 1e-12) <= q <= m * (1 + 1e-12)


@pytest.mark.parametrize("d", [Normal(), ReLU(Normal()), Laplace(), ReLU(Laplace()), Normal(1.0, 0.5)], ids=str)
@pytest.mark.parametrize("reg", ["msqe", "qsin"])
def test_limits_are_pi2_second_moment(d, reg):
    """Both curves tend to pi^2 E[xi^2] as s -> 0 and s -> inf (SPEC section 2)."""
    g = Grid(4, False) if d.relu else Grid(4)
    lim = PI2 * d.second_moment()
    small, large = risk_curve(d, [1e-9, 1e7], g, reg)
    assert small == pytest.approx(lim, rel=1e-6)
    assert large == pytest.approx(lim, rel=1e-6)


# ---------------------------------------------------------------- user regularizers

def qsin_scalar(u, r_b, r_t):
    if u < r_b:
        return math.pi**2 * (u - r_b) ** 2
    if u > r_t:
        return math.pi**2 * (u - r_t) ** 2
    return math.sin(math.pi * (u - round(u))) ** 2


def qsin_numpy(u, r_b, r_t):
    return qsin(u, Grid(int(round(math.log2(r_t - r_b + 1))), r_b < 0))


@pytest.mark.parametrize("phi", [qsin_scalar, qsin_numpy], ids=["numba-scalar", "numpy-vectorized"])
def test_user_regularizer_matches_builtin(phi):
    reg = user_regularizer(phi, "myqsin")
    for d, g in ((Normal(), Grid(4)), (ReLU(Laplace()), Grid(3, False))):
        s = np.array([0.05, 0.3, 2.0])
        np.testing.assert_allclose(risk_curve(d, s, g, reg), risk_curve(d, s, g, "qsin"), rtol=1e-12)


def test_user_regularizer_atom_counts():
    # phi(0) != 0: the ReLU atom P(xi <= 0) s^2 phi(0) must be included
    reg = user_regularizer(lambda u, r_b, r_t: 1.0 + 0.0 * u, "one", use_numba=False)
    d = ReLU(Normal())
    assert risk_curve(d, [0.7], Grid(4, False), reg)[0] == pytest.approx(0.49, rel=1e-12)


def test_sinreq_closed_form_branch_matches_cells():
    # tiny scales switch to the closed form (periodic tails); continuity across the switch
    from quanttheory.risk import curve as risk

    for d in (Normal(0.1, 1.0), ReLU(Normal(0.2, 1.0)), Laplace(0.3, 1.0), ReLU(Laplace(0.3, 1.0)),
              ReLU(Laplace(-0.3, 1.0))):
        law, mu, sig, relu = d.kernel_params()
        s = np.array([2e-5, 5e-5])
        closed = risk._sinreq_closed(law, mu, sig, relu, s)
        cells = risk._builtin(law, mu, sig, relu, Grid(8), 2, np.array([1e-4]), "cells")
        closed_1e4 = risk._sinreq_closed(law, mu, sig, relu, np.array([1e-4]))
        assert closed_1e4[0] == pytest.approx(cells[0], rel=1e-12)
        assert np.all(closed > 0)


def test_scalar_only_python_phi_falls_back_to_elementwise():
    # numba cannot compile it (import inside) and it is not array-safe (`if u < r_b`)
    def phi(u, r_b, r_t):
        import math as m

        if u < r_b:
            return m.pi**2 * (u - r_b) ** 2
        if u > r_t:
            return m.pi**2 * (u - r_t) ** 2
        return m.sin(m.pi * u) ** 2

    reg = user_regularizer(phi, "scalar_only")
    d, g = Normal(), Grid(2)
    np.testing.assert_allclose(risk_curve(d, [0.4, 1.3], g, reg), risk_curve(d, [0.4, 1.3], g, "qsin"), rtol=1e-12)
