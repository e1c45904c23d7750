"""Audit F4: optimal_affine on narrow laws far from 0 at 2-3 bits (many near-tied local minima of F_z(s),
one near every scale that puts a level on the mean) against an independent brute force: every z, a
20,000-point log scan in s of the closed-form Normal MSE (scipy.stats), bounded Brent on each scan
minimum within 1e-3 of the best."""
import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import norm

from quanttheory import Normal
from quanttheory.affine import optimal_affine


def _mse(mu, sg, N, z, s):
    s = np.atleast_1d(np.asarray(s, float))
    lv = (np.arange(N + 1)[None, :] - z) * s[:, None]
    inf = np.full((s.size, 1), np.inf)
    th = np.concatenate([-inf, 0.5 * (lv[:, 1:] + lv[:, :-1]), inf], 1)
    al, be, d = (th[:, :-1] - mu) / sg, (th[:, 1:] - mu) / sg, (lv - mu) / sg
    dP = np.where(al > 0, norm.sf(al) - norm.sf(be), norm.cdf(be) - norm.cdf(al))
    with np.errstate(invalid="ignore"):
        pa = np.where(np.isfinite(al), (al - 2 * d) * norm.pdf(al), 0.0)
        pb = np.where(np.isfinite(be), (be - 2 * d) * norm.pdf(be), 0.0)
    return sg**2 * np.sum((1 + d * d) * dP + pa - pb, axis=1)


def _brute(mu, sg, bits, n=20000):
    N = 2**bits - 1
    S = np.geomspace(sg * 1e-3, 4 * (abs(mu) + 8 * sg), n)
    best = np.inf
    for z in range(N + 1):
        v = _mse(mu, sg, N, z, S)
        loc = set((np.flatnonzero((v[1:-1] <= v[:-2]) & (v[1:-1] <= v[2:])) + 1).tolist()) | {int(np.argmin(v))}
        for i in sorted(i for i in loc if v[i] <= v.min() * (1 + 1e-3))[:20]:
            r = minimize_scalar(lambda x: _mse(mu, sg, N, z, x)[0], bounds=(S[max(i - 1, 0)], S[min(i + 1, n - 1)]),
                                method="bounded", options={"xatol": 1e-12 * S[i], "maxiter": 200})
            best = min(best, float(r.fun), float(v[i]))
    return best


def test_audit_f4_exact_numbers():
    r = optimal_affine(Normal(5, 0.2), 2)
    assert r.zero_point == 0
    assert abs(r.scale - 1.666673899) < 1e-8  # audit: top level at the mean (brute force + mpmath)
    assert abs(r.mse - 0.0399977527919247) < 1e-15
    assert (r.mse - r.mse_lower_bound) / r.mse <= 1e-9


@pytest.mark.parametrize("mu,sg,bits", [(5, 0.2, 2), (-5, 0.2, 2), (7, 0.2, 3), (10, 0.1, 2), (10, 0.3, 3),
                                        (4, 0.1, 2), (6, 0.2, 2), (8, 0.2, 3)])
def test_narrow_shifted_laws_match_brute_force(mu, sg, bits):
    F = _brute(mu, sg, bits)
    r = optimal_affine(Normal(mu, sg), bits)
    # the engine's MSE is exact to ~1e-12 relative; the brute force's closed form to ~1e-14
    assert r.mse <= F * (1 + 1e-12)
    assert r.mse_lower_bound <= F * (1 + 1e-13)
    assert (r.mse - r.mse_lower_bound) / r.mse <= 1e-9
    assert r.extra["convex_certified"]
    # the returned point attains the reported MSE (independent closed form)
    assert abs(_mse(mu, sg, 2**bits - 1, r.zero_point, r.scale)[0] - r.mse) <= 1e-12 * r.mse


def test_audit_f5_offset_data_bound_not_above_exact_zero():
    """An exact fit (s = 0.25, m = 0 represents every value; two values always fit at 1 bit) has optimum 0:
    the lower bound must not exceed it (was 7.4e-32 / 3.9e-31, the rounding of the residuals)."""
    from quanttheory.affine import optimal_offset_data

    for x, bits in (([0.75, 1., 0.75, 1.75, 1.75], 3), ([8.37096831, 0.29165805], 1)):
        r = optimal_offset_data(np.array(x), bits)
        assert r.mse_lower_bound == 0.0
        assert r.mse < 1e-29
