"""Learning-rate amplification by the clamp S3 (seed S5–S7), measured and predicted.

For ``W^ = tanh(W) / max|tanh W|`` the clamped weights move with the effective learning
rate ``eta^ = eta (dW^_ij / dW_ij)^2`` (S6; max held fixed), with

    (dW^_ij / dW_ij)^2 = sech^4(W_ij) / max_kl tanh^2(W_kl).

For ``M`` i.i.d. weights ``N(0, c / n_hat)`` with ``c / n_hat`` small, ``sech^4 ~ 1`` and
``max tanh^2 ~ max W^2 ~ (c / n_hat) 2 ln M``, so

    (dW^/dW)^2 ~ n_hat / (2 c ln M)          (order n_hat, not "twofold")

The seed's S7 writes ``dW^/dW ~ 1/max|W| ~ sqrt(n_hat)`` (i.e. a squared gain ``~ n_hat``,
dropping the ``2 c ln M`` factor) and then calls the effect "twofold".  A sharper
prediction uses the exact law of the maximum: ``E[1 / max_k Z_k^2]`` for ``M`` i.i.d.
standard normals (``P(max |Z| <= z) = erf(z / sqrt 2)^M``), times ``n_hat / c``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validate import as_float_array, check_positive

__all__ = ["measure_amplification", "Amplification", "expected_inv_max_sq", "expected_sech4",
           "amplification_law"]


def _max_density(M: int):
    """Density of ``max_k |Z_k|`` for ``M`` i.i.d. standard normals (stable in the far tail)."""
    from scipy.special import log_ndtr

    def dens(y):
        if y <= 0:
            return 0.0
        p = math.exp(log_ndtr(-y))            # P(Z > y)
        le = math.log1p(-2.0 * p)             # log P(|Z| <= y)
        return math.exp(math.log(M) + (M - 1) * le - 0.5 * y * y) * math.sqrt(2 / math.pi)

    return dens


def _quad_max(M: int, g) -> float:
    from scipy.integrate import quad

    dens = _max_density(M)
    mode = math.sqrt(2 * math.log(M))
    pts = [0.0, max(mode - 3, 1e-3), mode, mode + 3, mode + 12]
    return sum(quad(lambda y: g(y) * dens(y), a, b, epsabs=0, epsrel=1e-11, limit=200)[0]
               for a, b in zip(pts[:-1], pts[1:]))


def expected_inv_max_sq(M: int, sigma: float | None = None) -> float:
    """``E[1 / max_k Z_k^2]`` (``sigma=None``) or ``E[1 / max_k tanh^2(sigma Z_k)]`` for M i.i.d. N(0,1).

    Integrated with ``scipy.integrate.quad`` against the law of ``Y = max|Z_k|``:
    density ``M erf(y/sqrt2)^(M-1) sqrt(2/pi) exp(-y^2/2)``.
    """
    if isinstance(M, bool) or not isinstance(M, (int, np.integer)) or M < 2:
        raise ValueError(f"M (number of weights) must be an int >= 2, got {M!r}")
    if sigma is None:
        return _quad_max(int(M), lambda y: 1.0 / (y * y))
    sg = check_positive(sigma, "sigma")
    return _quad_max(int(M), lambda y: 1.0 / math.tanh(sg * y) ** 2)


def expected_sech4(sigma: float) -> float:
    """``E[sech^4(sigma Z)]`` for ``Z ~ N(0, 1)`` (``scipy.integrate.quad``)."""
    from scipy.integrate import quad

    sg = check_positive(sigma, "sigma")
    f = lambda z: math.exp(-0.5 * z * z) / math.cosh(sg * z) ** 4 / math.sqrt(2 * math.pi)  # noqa: E731
    return 2 * quad(f, 0, 40, epsabs=0, epsrel=1e-12, limit=200)[0]


@dataclass(frozen=True)
class Amplification:
    """Measured mean ``(dW^/dW)^2`` and predictions, per ``(M, n_hat)``.

    Arrays have shape ``(len(M), len(n_hat))``: ``measured`` (mean over weights and
    repetitions), ``stderr`` (standard error over repetitions), ``seed_sqrt`` (``n_hat``,
    the square of S7's ``sqrt(n_hat)``), ``twofold`` (2), ``log_law``
    (``n_hat / (2 c ln M)``), ``exact_max`` (``n_hat E[1/max Z^2] / c``; ignores sech^4 and
    tanh saturation, exact as ``c / n_hat -> 0``), ``exact_tanh`` (``E[sech^4(sigma Z)]
    E[1/max tanh^2(sigma Z)]``, ``sigma^2 = c/n_hat``: exact up to the O(1/M) correlation of
    one weight with the max).
    """

    M: np.ndarray
    n_hat: np.ndarray
    c: float
    measured: np.ndarray
    stderr: np.ndarray
    seed_sqrt: np.ndarray
    twofold: np.ndarray
    log_law: np.ndarray
    exact_max: np.ndarray
    exact_tanh: np.ndarray


def amplification_law(n_hat, M, c=1.0) -> np.ndarray:
    """The corrected order-``n_hat`` law ``n_hat / (2 c ln M)``."""
    n = as_float_array(n_hat, "n_hat")
    c = check_positive(c, "c")
    if M < 2:
        raise ValueError("M must be >= 2")
    return n / (2.0 * c * math.log(M))


def measure_amplification(n_hat, M=(100, 10_000), c=1.0, reps=8, rng=0) -> Amplification:
    """Draw ``reps`` matrices of ``M`` weights ``N(0, c/n_hat)`` and average ``sech^4(W)/max tanh^2(W)``.

    The same standard-normal draws are reused across ``n_hat`` (common random numbers), so
    the curves over ``n_hat`` are smooth.
    """
    from .._validate import as_generator

    nh = as_float_array(n_hat, "n_hat", allow_empty=False).ravel()
    if np.any(nh <= 0):
        raise ValueError("n_hat must be > 0")
    c = check_positive(c, "c")
    Ms = np.asarray([int(m) for m in np.atleast_1d(M)])
    if np.any(Ms < 2):
        raise ValueError("every M (number of weights) must be >= 2")
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 2:
        raise ValueError("reps must be an int >= 2")
    g = as_generator(rng)
    meas = np.empty((Ms.size, nh.size))
    se = np.empty_like(meas)
    for i, m in enumerate(Ms):
        vals = np.empty((reps, nh.size))
        for r in range(reps):
            z = g.standard_normal(int(m))
            for j, n in enumerate(nh):
                w = z * math.sqrt(c / n)
                th = np.tanh(w)
                sech2 = 1.0 - th * th
                vals[r, j] = np.mean(sech2 * sech2) / np.max(th * th)
        meas[i] = vals.mean(axis=0)
        se[i] = vals.std(axis=0, ddof=1) / math.sqrt(reps)
    exact = np.array([[n / c * expected_inv_max_sq(int(m)) for n in nh] for m in Ms])
    law = np.array([amplification_law(nh, int(m), c) for m in Ms])
    ex_t = np.array([[expected_sech4(math.sqrt(c / n)) * expected_inv_max_sq(int(m), math.sqrt(c / n))
                      for n in nh] for m in Ms])
    return Amplification(Ms, nh, c, meas, se, np.broadcast_to(nh, meas.shape).copy(),
                         np.full(meas.shape, 2.0), law, exact, ex_t)
