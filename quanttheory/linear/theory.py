"""Exact learning curves of gradient descent on the linear student–teacher model.

Setting (Advani & Saxe 2017; SAT supplement S1; SPEC section 4).  ``N`` weights,
``P = alpha N`` examples, inputs ``x ~ N(0, I/N)``, teacher ``y = wbar . x + eps``
with ``wbar ~ N(0, sigma_w^2 I)`` and label noise ``eps ~ N(0, sigma_eps^2)``;
student ``yhat = w . x`` with ``w(0) ~ N(0, sigma_w0^2 I)``; loss
``L = 1/2 sum_mu (y_mu - yhat_mu)^2``; gradient descent ``w <- w - eta grad L``.

Derivation (used by every function here).  With ``C = X^T X`` and the error
``e = w - wbar``, ``grad L = C e - X^T eps``.  In an eigenvector ``v`` of ``C`` with
eigenvalue ``lambda`` the component ``e_v`` obeys ``e_v <- (1 - eta lambda) e_v +
eta (X^T eps)_v``; ``(X^T eps)_v`` has variance ``lambda sigma_eps^2``.  Hence after
``k`` steps, with ``q = (1 - eta lambda)^k``,

    E[e_v^2] = S q^2 + sigma_eps^2 (1 - q)^2 / lambda,     S = sigma_w^2 + sigma_w0^2,

and the residual of the left singular direction decays as ``r_v <- (1 - eta lambda) r_v``
with ``E[r_v(0)^2] = lambda S + sigma_eps^2`` (the ``P - N`` directions orthogonal to
the column space keep ``sigma_eps^2``).  For ``eta -> 0`` at fixed ``t = eta k``,
``q -> exp(-lambda t)``: this is the continuous-time law, and ``t = eta x steps``
exactly when the loss is the *sum* (not the mean) over examples and the inputs
have variance ``1/N``.  Averaging over the spectrum of ``C`` (Marchenko–Pastur,
below):

    E_g(t) = int rho(l) [S q^2 + sigma_eps^2 (1-q)^2 / l] dl + sigma_eps^2
    E_t(t) = (1/alpha) int_{l>0} rho(l) (l S + sigma_eps^2) q^2 dl
             + (1 - 1/alpha) sigma_eps^2 1[alpha > 1]

``E_g = E_{x, eps}[(y - yhat)^2]`` is the population error (per fresh example) and
``E_t = (1/P) sum_mu (y_mu - yhat_mu)^2`` the mean squared training residual
(``= 2 L / P``), both in units of the label variance.

Marchenko–Pastur.  ``lambda_pm = (1 pm sqrt(alpha))^2``;
``rho(l) = sqrt((l_+ - l)(l - l_-)) / (2 pi l)`` on ``[l_-, l_+]`` (mass
``min(1, alpha)``) plus a point mass ``1 - alpha`` at 0 when ``alpha < 1``.

Quadrature.  The continuous part is a (scaled) free-Poisson law whose monic
orthogonal polynomials have *constant* recurrence coefficients:
``a_0 = max(1, alpha)``, ``a_k = 1 + alpha`` (k >= 1), ``b_k^2 = alpha``.  The
Gauss rule of this measure (Golub–Welsch nodes, Christoffel weights) integrates
``rho`` itself, so the square-root endpoints and the ``1/l`` factor (a ``1/sqrt(l)``
singularity at ``l_- = 0`` when ``alpha = 1``) are absorbed in the weight; the
integrands above are entire functions of ``l`` (``(1-q)^2/l`` has a removable
singularity) and converge geometrically.  The node count grows like
``sqrt(t sqrt(alpha))``; results agree with 30-digit mpmath quadrature to 1e-9 relative
(tests/test_linear_theory.py; observed <= 6.3e-12, and 1.4e-10 for E_t ~ 1e-183 at t = 1000).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .._validate import as_float_array, check_finite_real, check_positive

__all__ = [
    "mp_edges", "mp_density", "mp_atom", "mp_rule", "mp_integrate",
    "generalization_error", "training_error", "learning_curves", "LearningCurves",
    "asymptotic_errors", "Limits", "optimal_stopping", "OptimalStopping",
    "seed_s1", "s1_comparison", "S1Comparison", "MAX_NODES",
]

MAX_NODES = 4000  # Gauss nodes allowed per rule (limits t to about 1e5 / sqrt(alpha))


# ----------------------------------------------------------------------------- validation
def _alpha(alpha) -> float:
    return check_positive(alpha, "alpha (= P/N, examples per weight)")


def _std(value, name: str) -> float:
    v = check_finite_real(value, name)
    if v < 0:
        raise ValueError(f"{name} is a standard deviation and must be >= 0, got {v}")
    return v


def _params(alpha, sigma_w, sigma_w0, sigma_eps):
    a = _alpha(alpha)
    sw = _std(sigma_w, "sigma_w (teacher weight std)")
    s0 = _std(sigma_w0, "sigma_w0 (student initial weight std)")
    se = _std(sigma_eps, "sigma_eps (label-noise std)")
    return a, sw * sw + s0 * s0, se * se


def _times(t) -> tuple[np.ndarray, bool]:
    arr = np.asarray(t)
    if arr.dtype.kind == "c" or arr.dtype.kind not in "fiub":
        as_float_array(arr, "t")  # raises the standard message
    arr = arr.astype(np.float64)
    if np.any(np.isnan(arr)):
        raise ValueError("t contains NaN; pass finite times >= 0 (or inf for the limit)")
    if np.any(arr < 0):
        raise ValueError(f"t must be >= 0 (continuous time t = eta x steps), got {arr.min()}")
    return arr, arr.ndim == 0


# ----------------------------------------------------------------------------- Marchenko–Pastur
def mp_edges(alpha) -> tuple[float, float]:
    """Edges ``(lambda_-, lambda_+) = ((1 - sqrt(alpha))^2, (1 + sqrt(alpha))^2)`` of the MP law."""
    a = _alpha(alpha)
    r = math.sqrt(a)
    return (1.0 - r) ** 2, (1.0 + r) ** 2


def mp_atom(alpha) -> float:
    """Point mass ``max(0, 1 - alpha)`` of the MP law at ``lambda = 0``."""
    return max(0.0, 1.0 - _alpha(alpha))


def mp_density(lam, alpha) -> np.ndarray:
    """Continuous part ``rho(l) = sqrt((l_+ - l)(l - l_-)) / (2 pi l)`` (0 outside the support).

    Eigenvalue density of ``X^T X`` for ``X`` with i.i.d. ``N(0, 1/N)`` entries,
    ``P/N = alpha``, as ``N -> inf``.  Its mass is ``min(1, alpha)``; add
    :func:`mp_atom` at 0 for ``alpha < 1``.
    """
    lo, hi = mp_edges(alpha)
    x = as_float_array(lam, "lam")
    out = np.zeros_like(x)
    inside = (x > lo) & (x < hi) & (x > 0)
    xi = x[inside]
    out[inside] = np.sqrt((hi - xi) * (xi - lo)) / (2.0 * math.pi * xi)
    return out


@dataclass(frozen=True)
class QuadratureRule:
    """Gauss rule ``sum_i weights[i] f(nodes[i]) ~ int rho_c(l) f(l) dl`` (continuous MP part)."""

    nodes: np.ndarray
    weights: np.ndarray
    alpha: float


@functools.lru_cache(maxsize=1024)
def _rule(alpha: float, n: int) -> QuadratureRule:
    from scipy.linalg import eigvalsh_tridiagonal

    diag = np.full(n, 1.0 + alpha)
    diag[0] = max(1.0, alpha)
    b = math.sqrt(alpha)
    off = np.full(n - 1, b)
    nodes = eigvalsh_tridiagonal(diag, off)
    # Christoffel weights w_i = mass / sum_k p_k(x_i)^2 with orthonormal p_k
    p_prev = np.zeros(n)
    p = np.ones(n)
    ssum = np.ones(n)
    for k in range(n - 1):
        p_next = ((nodes - diag[k]) * p - (b if k > 0 else 0.0) * p_prev) / b
        p_prev, p = p, p_next
        ssum += p * p
    mass = min(1.0, alpha)
    weights = mass / ssum
    nodes.setflags(write=False)
    weights.setflags(write=False)
    return QuadratureRule(nodes, weights, alpha)


def _nodes_for(alpha: float, tmax: float) -> int:
    """Nodes so that exp(-2 l t) is resolved on [l_-, l_+] to double precision.

    The Chebyshev coefficients of exp(-a u) on [-1, 1] (a = 2 t x half-width
    = 4 t sqrt(alpha)) decay like exp(-k^2 / (2a)); a Gauss rule with n nodes is
    exact to degree 2n - 1, so n ~ sqrt(18.5 a) reaches 1e-16; we take 5 sqrt(a) + 40.
    """
    a = 4.0 * tmax * math.sqrt(alpha)
    return int(40 + math.ceil(5.0 * math.sqrt(a)))


def mp_rule(alpha, n: int = 64) -> QuadratureRule:
    """Gauss quadrature rule with ``n`` nodes for the continuous MP part (cached in memory).

    The measure's Jacobi matrix is known exactly (constant recurrence, see module
    docstring); nodes by ``scipy.linalg.eigvalsh_tridiagonal``, weights by the
    Christoffel formula.  Exact for polynomials of degree ``<= 2n - 1``.
    """
    a = _alpha(alpha)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise TypeError(f"n must be a positive int, got {n!r}")
    if n > MAX_NODES:
        raise ValueError(f"n = {n} nodes exceeds MAX_NODES = {MAX_NODES}")
    return _rule(a, int(n))


def mp_integrate(func, alpha, n: int = 64) -> float:
    """``int rho_c(l) func(l) dl`` over the continuous MP part by the Gauss rule of :func:`mp_rule`.

    ``func`` must be vectorized and smooth (ideally entire) on ``[l_-, l_+]``; the
    MP point mass at 0 is *not* included.
    """
    rule = mp_rule(alpha, n)
    vals = np.asarray(func(rule.nodes), dtype=float)
    if vals.shape != rule.nodes.shape or not np.all(np.isfinite(vals)):
        raise ValueError("func must return finite values of the same shape as its input")
    return float(rule.weights @ vals)


# ----------------------------------------------------------------------------- learning curves
def _decay(lam: np.ndarray, t: np.ndarray, eta, k: np.ndarray | None = None):
    """Return ``q`` and ``1 - q`` on the grid lam x t.

    Continuous time (``eta is None``): ``q = exp(-l t)``.  Discrete map: ``q = (1 - eta l)^k``
    with the *integer* step counts ``k`` (from :func:`_check_eta`; never recomputed as
    ``t / eta``, whose rounding would turn an integer into a non-integer power of a negative
    base, i.e. NaN).  ``|1 - eta l|^k`` is ``exp(k log|1 - eta l|)`` (``log1p`` for a positive
    base) and the sign is ``(-1)^k`` for a negative base (overshooting steps, ``1 < eta l < 2``).
    """
    L = lam[:, None]
    if eta is None:
        x = -L * t[None, :]
        return np.exp(x), -np.expm1(x)
    K = k[None, :]
    base = 1.0 - eta * L
    pos = base > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        logabs = np.where(pos, np.log1p(-eta * L), np.log(np.abs(base)))
        x = K * logabs                            # -inf where base == 0 and k > 0
        x = np.where(K == 0, 0.0, x)              # (1 - eta l)^0 = 1, also when base == 0
        odd = np.fmod(K, 2.0) == 1.0
        sign = np.where((base < 0) & odd, -1.0, 1.0)
        q = sign * np.exp(x)
        one_minus = np.where(pos, -np.expm1(x), 1.0 - q)
    return q, one_minus


STEP_RTOL = 1e-9  # t/eta within this relative distance of an integer counts as that integer


def _check_eta(eta, alpha, t):
    """Validate ``eta`` and return ``(eta, k)``: the whole step counts ``k = round(t/eta)``.

    ``t / eta`` is accepted as ``k`` steps when ``|t/eta - k| <= STEP_RTOL max(1, k)`` (the
    floating-point error of forming ``t = k eta``); any other ``t`` is not a whole number of
    steps of the discrete map and is rejected (the map is not defined between steps).
    """
    if eta is None:
        return None, None
    e = check_positive(eta, "eta (learning rate of the discrete map)")
    lam_plus = mp_edges(alpha)[1]
    if e * lam_plus > 2.0:
        raise ValueError(
            f"gradient descent is unstable: eta * lambda_max = {e * lam_plus:.4g} > 2 "
            f"(lambda_max = (1 + sqrt(alpha))^2 = {lam_plus:.4g}); use eta < {2.0 / lam_plus:.4g}"
        )
    k = t / e
    finite = np.isfinite(k)
    kr = np.where(finite, np.round(np.where(finite, k, 0.0)), k)
    with np.errstate(invalid="ignore"):  # t = inf: k - kr = inf - inf, masked by `finite`
        off = finite & (np.abs(k - kr) > STEP_RTOL * np.maximum(1.0, kr))
    if np.any(off):
        i = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"with eta given (discrete GD), t/eta must be a whole number of steps: t = {float(t[i])!r}, "
            f"eta = {e!r} gives t/eta = {float(k[i])!r}; pass t = k * eta for an integer k "
            f"(nearest: t = {float(kr[i] * e)!r}, k = {kr[i]:.0f})"
        )
    return e, kr


def _curves(t, alpha, S, s2, eta, k=None):
    """E_g and E_t at finite times (vectorized), by the MP Gauss rule.

    With ``eta``, ``k`` holds the integer step counts of the finite entries of ``t``.
    """
    fin = np.isfinite(t)
    tf = t[fin]
    tmax = float(tf.max()) if tf.size else 0.0
    n = _nodes_for(alpha, tmax)
    kf = None
    if eta is not None:
        kf = k[fin]
        # q^2 is a polynomial of degree 2 kmax in l: kmax + 1 Gauss nodes integrate it exactly
        n = min(n, int(kf.max() if kf.size else 0) + 2)
    if n > MAX_NODES:
        raise ValueError(
            f"t = {tmax:.4g} is too large for the exact quadrature (needs {n} > {MAX_NODES} "
            f"nodes); use t = inf for the limit (asymptotic_errors)"
        )
    rule = _rule(alpha, max(n, 2))
    lam, w = rule.nodes, rule.weights
    q, omq = _decay(lam, tf, eta, kf)
    q2 = q * q
    atom = max(0.0, 1.0 - alpha)
    Eg = atom * S + S * (w @ q2) + s2 * (w @ (omq * omq / lam[:, None])) + s2
    Et = (S * ((w * lam) @ q2) + s2 * (w @ q2)) / alpha + (1.0 - 1.0 / alpha) * s2 * (alpha > 1)
    return Eg, Et


@dataclass(frozen=True)
class Limits:
    """``t -> inf`` limits of the learning curves (exact).

    ``E_g_inf``: ``(1-alpha) S + sigma_eps^2 / (1-alpha)`` (alpha < 1), ``inf`` at alpha = 1
    with noise (``0`` without), ``sigma_eps^2 alpha / (alpha - 1)`` (alpha > 1).
    ``E_t_inf``: ``0`` (alpha <= 1), ``(1 - 1/alpha) sigma_eps^2`` (alpha > 1).
    """

    alpha: float
    E_g_inf: float
    E_t_inf: float


def asymptotic_errors(alpha, sigma_w=1.0, sigma_w0=0.0, sigma_eps=0.0) -> Limits:
    """Exact ``t -> inf`` limits of E_g and E_t (see :class:`Limits`).

    Derivation: ``q -> 0`` for ``l > 0``; ``int rho_c / l = alpha/(1-alpha)`` (alpha < 1)
    or ``1/(alpha-1)`` (alpha > 1), divergent at alpha = 1; the atom keeps ``S``.
    """
    a, S, s2 = _params(alpha, sigma_w, sigma_w0, sigma_eps)
    if a < 1:
        eg = (1 - a) * S + s2 / (1 - a)
    elif a == 1:
        eg = math.inf if s2 > 0 else 0.0
    else:
        eg = s2 * a / (a - 1)
    et = (1 - 1 / a) * s2 if a > 1 else 0.0
    return Limits(a, eg, et)


def generalization_error(t, alpha, sigma_w=1.0, sigma_w0=0.0, sigma_eps=0.0, *, eta=None):
    """Expected generalization error ``E_g(t)`` (label-variance units) of GD at time ``t``.

    ``E_g(t) = (1-alpha)_+ S + int rho_c(l) [S q^2 + sigma_eps^2 (1-q)^2 / l] dl + sigma_eps^2``
    with ``q = exp(-l t)`` (continuous time, ``t = eta x steps``) or, if ``eta`` is given,
    the exact discrete map ``q = (1 - eta l)^k`` after ``k = t/eta`` steps (``t/eta`` must be a
    whole number up to a relative ``STEP_RTOL = 1e-9``, so ``t = k * eta`` formed in floating
    point is accepted and rounded to ``k``; other ``t`` raise ``ValueError``; overshooting
    steps ``1 < eta l < 2`` give the sign ``(-1)^k``).  ``t`` may be an array (vectorized)
    and may contain ``inf`` (the limit).  Standard deviations (not variances) are passed.
    """
    return learning_curves(t, alpha, sigma_w, sigma_w0, sigma_eps, eta=eta).E_g


def training_error(t, alpha, sigma_w=1.0, sigma_w0=0.0, sigma_eps=0.0, *, eta=None):
    """Expected training error ``E_t(t) = (1/P) sum_mu (y_mu - yhat_mu)^2`` (seed S2, corrected).

    ``E_t(t) = (1/alpha) int rho_c(l) (l S + sigma_eps^2) q^2 dl + (1 - 1/alpha) sigma_eps^2 1[alpha>1]``.
    """
    return learning_curves(t, alpha, sigma_w, sigma_w0, sigma_eps, eta=eta).E_t


@dataclass(frozen=True)
class LearningCurves:
    """Theory curves: ``t`` (continuous time), ``E_g``, ``E_t`` (arrays or floats) and parameters."""

    t: np.ndarray
    E_g: np.ndarray
    E_t: np.ndarray
    alpha: float
    S: float
    sigma_eps2: float
    eta: float | None


def learning_curves(t, alpha, sigma_w=1.0, sigma_w0=0.0, sigma_eps=0.0, *, eta=None) -> LearningCurves:
    """Both curves at once (one quadrature rule, vectorized over ``t``); see the module docstring."""
    a, S, s2 = _params(alpha, sigma_w, sigma_w0, sigma_eps)
    tt, scalar = _times(t)
    flat = tt.ravel()
    eta_v, steps = _check_eta(eta, a, flat)
    if eta_v is not None:
        flat = np.where(np.isfinite(steps), steps * eta_v, flat)   # t of the whole step count
    Eg = np.empty_like(flat)
    Et = np.empty_like(flat)
    fin = np.isfinite(flat)
    if np.any(fin):
        Eg[fin], Et[fin] = _curves(flat[fin], a, S, s2, eta_v, None if steps is None else steps[fin])
    if np.any(~fin):
        lim = asymptotic_errors(a, sigma_w, sigma_w0, sigma_eps)
        Eg[~fin], Et[~fin] = lim.E_g_inf, lim.E_t_inf
    if np.isnan(Eg).any() or np.isnan(Et).any():  # never hand out a NaN as a number
        raise RuntimeError(f"internal error: NaN learning curve at alpha={a}, eta={eta_v}; please report")
    Eg = Eg.reshape(tt.shape)
    Et = Et.reshape(tt.shape)
    if scalar:
        return LearningCurves(float(tt), float(Eg), float(Et), a, S, s2, eta_v)
    return LearningCurves(tt, Eg, Et, a, S, s2, eta_v)


# ----------------------------------------------------------------------------- early stopping
@dataclass(frozen=True)
class OptimalStopping:
    """Optimal early stopping: ``t_opt = argmin_t E_g(t)`` (``inf`` if E_g decreases forever)."""

    t_opt: float
    E_g_opt: float
    E_g_inf: float
    E_t_at_opt: float


def _dEg_dt(t, alpha, S, s2, n):
    """dE_g/dt = int rho_c 2 e^{-l t} [sigma^2 (1 - e^{-l t}) - l S e^{-l t}] dl (entire integrand)."""
    rule = _rule(alpha, n)
    lam, w = rule.nodes, rule.weights
    q, omq = _decay(lam, np.atleast_1d(np.asarray(t, float)), None)
    return 2.0 * (w @ (q * (s2 * omq - lam[:, None] * S * q)))


def optimal_stopping(alpha, sigma_w=1.0, sigma_w0=0.0, sigma_eps=0.0, *, t_max=1e4) -> OptimalStopping:
    """Global minimum of ``E_g(t)`` over ``0 <= t <= t_max`` (continuous time) and ``t = inf``.

    Scans ``dE_g/dt`` on log grids decade by decade (nodes adapted to each decade) and
    refines the first sign change ``- -> +`` with Brent's method (``rtol`` 1e-12).  The
    scan stops at the first minimum (E_g is not proven unimodal; the tests scan the whole
    range on a fine grid for several parameter sets and find a single minimum).  If
    E_g still decreases at ``t_max`` the limit ``E_g(inf)`` is returned with ``t_opt = inf``.  Without label noise
    E_g decreases monotonically and ``t_opt = inf``.
    """
    from scipy.optimize import brentq

    a, S, s2 = _params(alpha, sigma_w, sigma_w0, sigma_eps)
    t_max = check_positive(t_max, "t_max")
    lim = asymptotic_errors(a, sigma_w, sigma_w0, sigma_eps)
    if s2 == 0.0 or S == 0.0:
        t_opt = math.inf if s2 == 0.0 else 0.0
        eg = lim.E_g_inf if s2 == 0.0 else float(generalization_error(0.0, a, sigma_w, sigma_w0, sigma_eps))
        et = float(training_error(t_opt, a, sigma_w, sigma_w0, sigma_eps))
        return OptimalStopping(t_opt, eg, lim.E_g_inf, et)
    if _nodes_for(a, t_max) > MAX_NODES:
        raise ValueError(f"t_max = {t_max:g} is beyond the quadrature range (more than {MAX_NODES} nodes)")
    best_t, best = math.inf, lim.E_g_inf
    lo = 1e-4
    ends = [e for e in (10.0, 1e2, 1e3, 1e4, 1e5) if e < t_max] + [t_max]
    for hi in ends:
        n = _nodes_for(a, hi)
        grid = np.geomspace(lo, hi, 120)
        d = _dEg_dt(grid, a, S, s2, n)
        idx = np.flatnonzero((d[:-1] < 0) & (d[1:] >= 0))
        if idx.size:
            cands = []
            for i in idx:
                f = lambda x: float(_dEg_dt(np.array([x]), a, S, s2, n)[0])  # noqa: E731
                cands.append(brentq(f, grid[i], grid[i + 1], xtol=1e-14, rtol=1e-12))
            vals = generalization_error(np.array(cands), a, sigma_w, sigma_w0, sigma_eps)
            j = int(np.argmin(vals))
            if vals[j] < best:
                best_t, best = float(cands[j]), float(vals[j])
            break
        lo = hi
    if not math.isfinite(best_t) and not math.isfinite(lim.E_g_inf):
        raise ValueError(f"no minimum of E_g found on (0, {t_max:g}]; increase t_max")
    et = float(training_error(best_t, a, sigma_w, sigma_w0, sigma_eps))
    return OptimalStopping(best_t, best, lim.E_g_inf, et)


# ----------------------------------------------------------------------------- seed S1
def seed_s1(alpha, sigma_w=1.0, sigma_w0=0.0, sigma_eps=0.0) -> float:
    """The seed's equation S1, verbatim (it is NOT the ``t -> inf`` limit for alpha <= 1).

    ``(1-alpha)(sigma_w^2 + sigma_w0^2) + sigma_eps^2`` (alpha < 1);
    ``sqrt(sigma_w^2 + sigma_w0^2) sigma_eps + sigma_eps^2`` (alpha = 1);
    ``sigma_eps^2 alpha / (alpha - 1)`` (alpha > 1).
    """
    a, S, s2 = _params(alpha, sigma_w, sigma_w0, sigma_eps)
    if a < 1:
        return (1 - a) * S + s2
    if a == 1:
        return math.sqrt(S) * math.sqrt(s2) + s2
    return s2 * a / (a - 1)


@dataclass(frozen=True)
class S1Comparison:
    """Seed S1 next to the exact asymptote and the exact early-stopped optimum, per alpha."""

    alpha: np.ndarray
    seed: np.ndarray
    exact_inf: np.ndarray
    exact_opt: np.ndarray
    t_opt: np.ndarray


def s1_comparison(alphas, sigma_w=1.0, sigma_w0=0.0, sigma_eps=0.0, *, t_max=1e4) -> S1Comparison:
    """Evaluate :func:`seed_s1`, :func:`asymptotic_errors` and :func:`optimal_stopping` over alphas."""
    al = as_float_array(alphas, "alphas", allow_empty=False).ravel()
    seed = np.array([seed_s1(a, sigma_w, sigma_w0, sigma_eps) for a in al])
    inf = np.array([asymptotic_errors(a, sigma_w, sigma_w0, sigma_eps).E_g_inf for a in al])
    opts = [optimal_stopping(a, sigma_w, sigma_w0, sigma_eps, t_max=t_max) for a in al]
    return S1Comparison(al, seed, inf, np.array([o.E_g_opt for o in opts]),
                        np.array([o.t_opt for o in opts]))
