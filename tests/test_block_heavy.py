"""Heavy-tailed laws with block-scale overflow (docs/audit.md finding on block_mse's NumPy cell path).

References are independent of the package's cell code: for k = 1 the block absmax is |x| itself, so
MSE = 2 int_0^inf (x - X(x) q(x / X(x)))^2 f(x) dx (symmetric law and element format), computed by
scipy quad split at every scale jump (midpoints of consecutive E4M3 scale values, cast with ml_dtypes),
every cell edge of the element format inside each piece, and the clipping tail to infinity.
"""
import math

import ml_dtypes
import numpy as np
import pytest
from scipy import integrate, stats

import quanttheory as qt
from quanttheory.blocks import block_mse, monte_carlo_block_mse

E2M1 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0])


def _e4m3_values():
    v = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e4m3fn).astype(float)
    v = np.unique(v[np.isfinite(v) & (v >= 0)])
    return v  # 0, 2^-9, ..., 448


def _ref_nvfp4_k1(pdf, S):
    """2 int_0^inf (x - Q(x))^2 f: NVFP4 'round' (X = S E4M3(|x| / (6 S)), saturating at 448), k = 1."""
    v = _e4m3_values()
    jumps = 6 * S * 0.5 * (v[:-1] + v[1:])          # X changes from v[i] S to v[i+1] S at these m
    edges = np.concatenate([[0.0], jumps])
    mids_u = 0.5 * (E2M1[:-1] + E2M1[1:])
    total = 0.0
    for i, (a, b) in enumerate(zip(edges, np.concatenate([jumps, [np.inf]]))):
        X = v[i] * S
        if X == 0:
            total += integrate.quad(lambda x: x * x * pdf(x), a, b, epsabs=0, epsrel=1e-13, limit=200)[0]
            continue
        cuts = [a] + [X * t for t in np.concatenate([mids_u, [6.0]]) if a < X * t < b] + [b]
        for x0, x1 in zip(cuts[:-1], cuts[1:]):
            def fn(x, X=X):
                u = min(x / X, 6.0)
                lev = E2M1[np.argmin(np.abs(E2M1 - u))]
                return (x - X * lev) ** 2 * pdf(x)
            lev0 = E2M1[np.argmin(np.abs(E2M1 - min(0.5 * (x0 + x1) / X if math.isfinite(x1) else 7.0, 6.0)))]
            if math.isfinite(x1):
                total += integrate.quad(lambda x: (x - X * lev0) ** 2 * pdf(x), x0, x1, epsabs=0, epsrel=1e-13,
                                        limit=200)[0]
            else:
                # the clipping tail, split geometrically (heavy tails reach x ~ 1e15)
                g = [x0 * 2.0 ** j for j in range(0, 100, 4)] + [np.inf]
                for y0, y1 in zip(g[:-1], g[1:]):
                    total += integrate.quad(lambda x: (x - X * lev0) ** 2 * pdf(x), y0, y1, epsabs=0,
                                            epsrel=1e-12, limit=500)[0]
    return 2 * total


def _t_pdf(df):
    """Student t density from its formula (scalar; scipy's stats.t.pdf is ~10x slower per quad node)."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    return lambda x: c * (1 + x * x / df) ** (-(df + 1) / 2)


@pytest.mark.parametrize("df, S", [(3, 0.01 * math.sqrt(3)), (3, None), (2.5, None)])
def test_nvfp4_k1_heavy_against_quad(df, S):
    # before the fix: 0.0020034 / 0.0020934 / 0.0033510 against 0.0493602 / 0.0079509 / 0.122357,
    # with error estimates ~1e-11 (the saturation cell out to m_hi ~ 1e15 had one 16-point rule)
    R = block_mse(qt.StudentT(df), "nvfp4", "round", block=1, tensor_scale=S)
    ref = _ref_nvfp4_k1(_t_pdf(df), R.tensor_scale)
    # quad's own accuracy is ~1e-12 relative: allow it on top of the package's estimate
    assert abs(R.mse - ref) <= R.error_estimate + 1e-11 * ref
    assert R.error_estimate < 1e-9 * ref


@pytest.mark.parametrize("beta", [0.5, 0.3])
def test_nvfp4_k1_gennormal_against_quad(beta):
    R = block_mse(qt.GenNormal(beta), "nvfp4", "round", block=1)
    c = beta / (2 * math.gamma(1 / beta))
    ref = _ref_nvfp4_k1(lambda x: c * math.exp(-abs(x) ** beta), R.tensor_scale)
    assert abs(R.mse - ref) <= R.error_estimate + 1e-11 * ref


def _clip_tail(df, a):
    """E[(|x| - a)_+^2] for Student t(df): every element beyond a = l_max * (largest scale) is clipped at a
    or below, so this is a rigorous lower bound of the per-element MSE for every block size."""
    f = _t_pdf(df)
    g = [a * 2.0 ** j for j in range(0, 100, 4)] + [np.inf]
    return sum(2 * integrate.quad(lambda x: (x - a) ** 2 * f(x), y0, y1, epsabs=0, epsrel=1e-12,
                                  limit=500)[0] for y0, y1 in zip(g[:-1], g[1:]))


def test_nvfp4_k16_lower_bound():
    S = 0.01 * math.sqrt(3)
    R = block_mse(qt.StudentT(3), "nvfp4", "round", tensor_scale=S)   # before: 0.0241969
    assert R.mse >= _clip_tail(3, 6 * 448 * S)                        # 0.0473544


def test_int4_fp16_overflow_bracket():
    # k = 1, X = fp16(|x| / 7) saturating at 65504: below overflow |x - 7 X| <= |x| 2^-11 (normal fp16) or
    # 7 2^-25 (subnormal); above, the error is (|x| - 7 * 65504)^2.  So
    # LB <= mse <= LB + 2^-22 E[x^2] + 49 2^-50 with LB = E[(|x| - 7 * 65504)_+^2].
    R = block_mse(qt.StudentT(3), "int4_g32", "clip", block=1)       # before: 1.29e-7
    lb = _clip_tail(3, 7 * 65504.0)                                   # 4.81e-6
    assert lb <= R.mse <= lb + 2.0 ** -22 * 3.0 + 49 * 2.0 ** -50


def test_nvfp4_k16_monte_carlo():
    # Student t(6): finite 4th moment, so the per-block error has a variance and the standard error is valid.
    # before the fix: 0.012627 against MC 0.01886 +- 0.00042 (-15 s.e.)
    L, S = qt.StudentT(6), 0.002
    R = block_mse(L, "nvfp4", "round", tensor_scale=S)
    m, se, _ = monte_carlo_block_mse(L, "nvfp4", "round", tensor_scale=S, n=4 * 10 ** 6, rng=20261130)
    assert abs(R.mse - m) <= 4 * se
