"""Issue #18 items 7, 12, 13, 15, 16, 17: risk-engine robustness.

Expected values are independent: closed forms (limits ``pi^2 E[xi^2]``), or
mpmath quadrature at 30+ digits split at every non-smooth point by hand."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from quanttheory import Grid, Laplace, Normal, ReLU, optimal_scale, risk_curve

LAWS = [Normal(0, 1), Laplace(0.3, 1), ReLU(Normal(0, 1)), ReLU(Laplace(0.2, 2))]


def _m2(law):
    """E[xi^2] in closed form (independent of the law classes' own second_moment)."""
    if isinstance(law, ReLU):
        b = law.base
        if isinstance(b, Normal):  # mu = 0: half of E[X^2]
            assert b.loc == 0
            return 0.5 * b.scale**2
        mu, s = b.loc, b.scale   # Laplace, mu >= 0: E[X^2; X > 0]
        return (mu * mu + 2 * s * s) - 0.5 * math.exp(-mu / s) * 2 * s * s
    return law.loc**2 + (law.scale**2 if isinstance(law, Normal) else 2 * law.scale**2)


# ------------------------------------------------------------- item 12 (+ extreme scales)
@pytest.mark.parametrize("law", LAWS, ids=str)
@pytest.mark.parametrize("reg", ["msqe", "qsin", "sinreq"])
@pytest.mark.parametrize("method", ["auto", "fast", "cells"])
def test_extreme_scales_no_warning_no_nan(law, reg, method):
    # s -> 0 and s -> inf: R -> pi^2 E[xi^2] (MSQE, QSin; SinReQ: -> 0 as s -> 0, its
    # curve is <= s^2); no RuntimeWarning (it used to leak from the fast path's cell count,
    # 1e-320 / overflow), and no NaN from s^2 = inf times sin^2 = 0 at s = 1e300
    g = Grid(4, not isinstance(law, ReLU))
    s = np.array([5e-324, 1e-320, 1e-300, 1e300, 1.7e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = risk_curve(law, s, g, reg, method=method)
    lim = math.pi**2 * _m2(law)
    assert np.all(np.isfinite(r))
    np.testing.assert_allclose(r[3:], lim, rtol=1e-12)
    if reg == "sinreq":
        assert np.all(r[:3] <= s[:3] ** 2 + 1e-300)
    else:
        np.testing.assert_allclose(r[:3], lim, rtol=1e-12)


def test_issue_example_tiny_scale_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = risk_curve(Normal(0, 1), [1e-320], Grid(4))
    assert r[0] == pytest.approx(math.pi**2, rel=1e-14, abs=0)


# --------------------------------------------------------------------- item 7
def _neg(u, r_b, r_t):
    return -u * u


def _zero(u, r_b, r_t):
    return 0.0 * u


def _shifted_down(u, r_b, r_t):
    # MSQE - 1: negative everywhere near the grid, R(s) = MSQE(s) - s^2 -> -inf
    k = np.clip(np.rint(u), r_b, r_t)
    return (u - k) ** 2 - 1.0


@pytest.mark.parametrize("phi", [_neg, _zero, _shifted_down])
def test_user_phi_without_interior_minimum_raises(phi):
    with pytest.raises(ValueError, match="no interior minimum"):
        optimal_scale(Normal(0, 1), Grid(4), phi)


def test_user_phi_with_a_minimum_still_works():
    def msq(u, r_b, r_t):
        k = np.clip(np.rint(u), r_b, r_t)
        return (u - k) ** 2

    res = optimal_scale(Normal(0, 1), Grid(4), msq)
    ref = optimal_scale(Normal(0, 1), Grid(4), "msqe")
    assert res.scale == pytest.approx(ref.scale, rel=1e-8, abs=0)


# --------------------------------------------------------------------- item 13
def _mp_user_risk(phi_mp, law, s, kmin, kmax, extra=()):
    """s^2 E[phi(xi/s)] by mpmath quad in grid units, split at every half-integer in
    [kmin, kmax] (and the points ``extra``): every place a corner can sit."""
    import mpmath as mp

    mp.mp.dps = 30
    s = mp.mpf(s)
    if isinstance(law, Normal):
        pdf = lambda x: mp.npdf(x, law.loc, law.scale)  # noqa: E731
    else:
        mu, b = mp.mpf(law.loc), mp.mpf(law.scale)
        pdf = lambda x: mp.exp(-abs(x - mu) / b) / (2 * b)  # noqa: E731
    pts = sorted(set([mp.mpf(k) / 2 for k in range(2 * kmin, 2 * kmax + 1)] + [mp.mpf(e) / s for e in extra]))
    return float(s * s * mp.quad(lambda u: phi_mp(u) * s * pdf(s * u), [-mp.inf] + pts + [mp.inf]))


def _abs_err(u, r_b, r_t):
    return np.abs(u - np.clip(np.rint(u), r_b, r_t))


def _abs_sin(u, r_b, r_t):
    return np.abs(np.sin(np.pi * u))


@pytest.mark.parametrize("law,grid,s", [
    (Normal(0, 1), Grid(4), 0.4),           # the audit's case: 0.0399800 against 0.0402527
    (Normal(0.3, 0.7), Grid(3), 0.25),
    (Laplace(0.3, 1), Grid(3, False), 0.7),
    (Laplace(-0.2, 0.5), Grid(2), 0.3),
])
def test_user_phi_with_corners_at_grid_points(law, grid, s):
    import mpmath as mp

    r_b, r_t = grid.r_b, grid.r_t

    def phi_mp(u):
        return abs(u - min(max(mp.nint(u), r_b), r_t))
    ref = _mp_user_risk(phi_mp, law, s, r_b, r_t, extra=[law.loc])
    got = risk_curve(law, [s], grid, _abs_err)[0]
    assert got == pytest.approx(ref, rel=1e-12, abs=0)


def test_user_phi_with_corners_periodic_tails():
    import mpmath as mp

    from quanttheory.formats.regularizers import user_regularizer

    reg = user_regularizer(_abs_sin, periodic_tails=True)
    # |sin(pi u)| has a corner at every integer, also in the tails: split at all of them
    ref = _mp_user_risk(lambda u: abs(mp.sin(mp.pi * u)), Normal(0, 1), 0.4, -40, 40)
    assert risk_curve(Normal(0, 1), [0.4], Grid(4), reg)[0] == pytest.approx(ref, rel=1e-12, abs=0)


# --------------------------------------------------------------------- item 15
def _relu_normal_msqe_mp(mu, sig, s, r_t):
    """pi^2 E[(xi - Q(xi))^2] for xi = ReLU(N(mu, sig^2)) on the unsigned grid [0, r_t]:
    closed form per cell (normal partial moments) in mpmath at 80 digits.  The atom at 0
    contributes 0; upper-tail probabilities avoid the 1 - Phi cancellation."""
    import mpmath as mp

    mp.mp.dps = 80
    mu, sig, s = (mp.mpf(float(v)) for v in (mu, sig, s))

    def piece(a, b, c):  # int_a^b (x - c)^2 p(x) dx
        za, zb = (a - mu) / sig, (b - mu) / sig
        P = mp.ncdf(-za) - mp.ncdf(-zb)
        fa, fb = mp.npdf(za), mp.npdf(zb)
        zfb = 0 if zb == mp.inf else zb * fb
        m = mu - c
        return sig**2 * (P - (zfb - za * fa)) + 2 * sig * m * (fa - fb) + m * m * P

    half = mp.mpf(1) / 2
    tot = piece(mp.mpf(0), s * half, 0)
    for k in range(1, r_t):
        tot += piece((k - half) * s, (k + half) * s, k * s)
    tot += piece((r_t - half) * s, mp.inf, r_t * s)
    return float(mp.pi**2 * tot)


@pytest.mark.parametrize("mu,sig,s,bits", [
    (-2.0, 0.1, 0.1, 4),     # the issue's case: used to return exactly 0 (true 1.34e-92)
    (-12.0, 1.0, 0.5, 4),    # mu/sigma = -12: used to be off by 3e-4
    (-1.2, 0.1, 0.1, 4),
    (-30.0, 1.0, 0.01, 8),
    (-20.0, 1.0, 0.05, 2),
    (-0.5, 1.0, 0.3, 4),     # mildly negative: unchanged behaviour
])
@pytest.mark.parametrize("method", ["auto", "cells"])
def test_relu_normal_far_below_zero(mu, sig, s, bits, method):
    ref = _relu_normal_msqe_mp(mu, sig, s, 2**bits - 1)
    got = risk_curve(ReLU(Normal(mu, sig)), [s], Grid(bits, False), method=method)[0]
    assert got == pytest.approx(ref, rel=1e-12, abs=0)


def test_relu_laplace_far_below_zero():
    # ReLU(Laplace(mu, b)), mu < 0: density e^{mu/b} e^{-x/b} / (2b) on x > 0, MSQE closed
    # form per cell: int_a^b (x - c)^2 e^{-x/B} dx by mpmath quad (smooth pieces)
    import mpmath as mp

    mp.mp.dps = 40
    mu, b, s, r_t = -100.0, 1.0, 0.3, 7
    # e^{mu/b} factored out of the quadrature: mp.quad's tolerance is absolute (~10^-dps),
    # so an integrand of size 1e-44 would only get ~3 correct digits
    pdf = lambda x: mp.exp(-x / b) / (2 * b)  # noqa: E731
    S = mp.mpf(s)
    edges = [mp.mpf(0)] + [(k + mp.mpf(1) / 2) * S for k in range(r_t)] + [mp.inf]
    ref = sum(mp.quad(lambda x, k=k: (x - min(k, r_t) * S) ** 2 * pdf(x), [edges[k], edges[k + 1]])
              for k in range(r_t + 1))
    ref = float(mp.pi**2 * mp.exp(mp.mpf(mu) / b) * ref)
    for method in ("auto", "cells"):  # the per-cell window [0, mu + 90 b] was empty: 0
        got = risk_curve(ReLU(Laplace(mu, b)), [s], Grid(3, False), method=method)[0]
        assert got == pytest.approx(ref, rel=1e-12, abs=0)


@pytest.mark.parametrize("t", [1.5, 2.0, 5.0, 20.0, 30.0, 37.0])
def test_relu_normal_moments_far_below_zero(t):
    # E[X; X>0] and E[X^2; X>0] for X ~ N(-t c, c^2): the direct forms cancelled (6e-4 at t = 30)
    import mpmath as mp

    mp.mp.dps = 80
    c = 0.5
    L = ReLU(Normal(-t * c, c))
    T = mp.mpf(-t)
    m1 = c * (T * mp.ncdf(T) + mp.npdf(T))
    m2 = c * c * ((T * T + 1) * mp.ncdf(T) + T * mp.npdf(T))
    assert L.mean() == pytest.approx(float(m1), rel=1e-14, abs=0)
    assert L.second_moment() == pytest.approx(float(m2), rel=1e-14, abs=0)
    # scipy.special.ndtr: ~3e-14 relative in the far tail
    assert float(L.sf(0.0)) == pytest.approx(float(mp.ncdf(T)), rel=1e-12, abs=0)


@pytest.mark.parametrize("mu,sig", [(-2.0, 0.1), (-30.0, 1.0)])
def test_optimal_scale_relu_far_below_zero(mu, sig):
    # used to raise "could not bracket the optimum from below" (the scan sat at the rms
    # of the whole law, ~1e-46 here, not on the scale of its continuous part)
    law, g = ReLU(Normal(mu, sig)), Grid(4, False)
    res = optimal_scale(law, g)
    assert np.isfinite(res.scale) and res.risk_lower_bound <= res.risk
    # brute force: no scale of a dense scan around s* beats it, and the scan's best
    # point lies within the certified error (plus one scan step)
    scan = np.geomspace(res.scale / 4, res.scale * 4, 1001)
    vals = risk_curve(law, scan, g)
    assert vals.min() >= res.risk * (1 - 1e-12)
    assert abs(scan[np.argmin(vals)] - res.scale) <= res.scale_error + res.scale * (4 ** (2 / 1000) - 1)


# --------------------------------------------------------------------- item 17
def _msq(u, r_b, r_t):
    k = np.clip(np.rint(u), r_b, r_t)
    return (u - k) ** 2


def test_user_phi_limit_message_names_the_limit_and_the_way_out():
    # a phi without periodic tails must not be told about "periodic tails"
    with pytest.raises(ValueError) as e:
        risk_curve(Normal(0, 1), [8 / 2**24], Grid(24), _msq)
    msg = str(e.value)
    assert "periodic" not in msg
    assert "MAX_USER_PIECES" in msg and "grid cell" in msg and "24-bit" in msg
    assert "built-in regularizer" in msg and "bits" in msg


def test_user_phi_limit_message_periodic_tails():
    from quanttheory.formats.regularizers import user_regularizer

    reg = user_regularizer(_msq, periodic_tails=True)
    with pytest.raises(ValueError, match="periodic tails: one piece per cell of width s"):
        risk_curve(Normal(0, 1), [1e-6], Grid(4), reg)


def test_user_phi_chunked_matches_builtin_at_16_bits():
    # 2^16 cells: ~1.7M nodes in one scale (chunked); user MSQE phi = built-in / pi^2
    s = 8 / 2**16
    got = risk_curve(Normal(0, 1), [s], Grid(16), _msq)[0]
    ref = risk_curve(Normal(0, 1), [s], Grid(16), "msqe")[0] / math.pi**2
    assert got == pytest.approx(ref, rel=1e-12, abs=0)


# --------------------------------------------------------------------- item 16
def _mp_msqe(law, s, grid):
    """pi^2 E[(xi - Q(xi))^2] by mpmath quad, split on the law's own scale around loc and
    at every cell boundary (independent of the engine's pieces)."""
    import mpmath as mp

    mp.mp.dps = 40
    mu, sig, s = mp.mpf(law.loc), mp.mpf(law.scale), mp.mpf(s)
    if isinstance(law, Normal):
        pdf, span = (lambda x: mp.npdf(x, mu, sig)), 14
    else:
        pdf, span = (lambda x: mp.exp(-abs(x - mu) / sig) / (2 * sig)), 95
    r_b, r_t = grid.r_b, grid.r_t
    e = lambda x: (x - min(max(mp.nint(x / s), r_b), r_t) * s) ** 2  # noqa: E731
    pts = {mu + sig * span * mp.mpf(i) / 50 for i in range(-50, 51)}
    pts |= {(k + mp.mpf(1) / 2) * s for k in range(r_b, r_t)} | {r_b * s, r_t * s}
    pts = sorted(p for p in pts if mu - span * sig <= p <= mu + span * sig)
    return float(mp.pi**2 * mp.quad(lambda x: e(x) * pdf(x), pts))


@pytest.mark.parametrize("law", [Laplace(0.5, 0.5e-4), Laplace(0.3, 0.3e-4), Laplace(-0.7, 0.7e-4),
                                 Normal(0.5, 0.5e-4), Normal(0.3, 0.3e-4), Normal(1.1, 1.1e-4)], ids=str)
@pytest.mark.parametrize("s", [1.0, 0.37])
def test_accuracy_at_the_edge_of_the_documented_domain(law, s):
    # documented (docs/risk.md): 1e-12 relative holds for |loc| / scale <= 1e4; here the
    # ratio is exactly 1e4, with loc at a cell boundary (0.5 s, the worst case) or inside.
    # Beyond, the float64 positions of the nodes relative to loc (eps |loc| / scale) limit
    # it: measured 3.1e-12 at 5e5 and 3e-8 at 5e8.
    g = Grid(2)
    ref = _mp_msqe(law, s, g)
    for method in ("auto", "cells"):
        assert risk_curve(law, [s], g, method=method)[0] == pytest.approx(ref, rel=1e-12, abs=0)


def test_user_phi_at_unrepresentable_scales_raises_not_nan():
    # s^2 overflows (or underflows) in float64: s^2 phi(x/s) would be inf * 0 = NaN
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for s in (1e300, 1e-300):
            with pytest.raises(ValueError, match="s\\*\\*2 is a normal float64"):
                risk_curve(Normal(0, 1), [1.0, s], Grid(4), _msq)
