"""Full-batch gradient descent on the linear student–teacher model with weight transforms.

Model (``inputs="1/N"``, SPEC section 4): ``X`` is ``P x N`` with i.i.d. ``N(0, 1/N)``
entries, ``y = X wbar + eps``, ``wbar ~ N(0, sigma_w^2 I)``, ``eps ~ N(0, sigma_eps^2 I)``.
The student's raw weights ``W`` (``W(0) ~ N(0, sigma_w0^2 I)``) are passed through a
transform ``T`` and predict ``yhat = X T(W)``; loss ``L = 1/2 ||y - X T(W)||^2``;
update ``W <- W - eta dL/dW`` with the gradient taken *through* ``T``.

With ``inputs="unit"`` (neural-network units) ``X`` has i.i.d. ``N(0, 1)`` entries and
every weight variance is divided by ``N`` (``wbar ~ N(0, sigma_w^2/N)``, ``W(0) ~
N(0, sigma_w0^2/N)``), so the label signal still has variance ``sigma_w^2``; vanilla GD
is then the same dynamics with ``eta_theory = N eta``.  In both conventions the
reported time is ``t = eta N x_scale^2 steps`` (``x_scale^2 = 1/N`` or ``1``), the time
of :mod:`quanttheory.linear.theory`.

Transforms (``n_hat`` = number of neurons the layer feeds; default ``N x_scale^2``,
i.e. ``1`` in the ``1/N`` convention and the fan-in ``N`` in unit convention, the
choice for which S8 gives an output of unit variance):

* ``vanilla``: ``T(W) = W``
* ``clamp`` (S3): ``W^ = tanh(W) / max_r |tanh(W_r)|``
* ``const`` (S8): ``W* = W^ / sqrt(n_hat VAR[W^])``
* ``std`` (S9): ``W* = sqrt(VAR[W] / VAR[W^]) W^``, ``VAR[v] = mean(v^2)``

``detach_max`` treats ``max|tanh W|`` as a constant in the backward pass;
``detach_scale`` does the same for the S8/S9 rescaling factor.

Errors recorded per seed: ``E_g = x_scale^2 ||T(W) - wbar||^2 + sigma_eps^2`` (the exact
population error over fresh inputs and noise) and ``E_t = ||y - X T(W)||^2 / P``, computed
from the residual itself at the recorded steps (a sum of squares, never negative; ``X`` and
``y`` are kept, ``seeds x P x N`` floats).  Expanding ``w^T C w - 2 b^T w + y^T y`` instead
cancels catastrophically near convergence (it gave ``-8.5e-16``).  The
means over seeds come with a Student-t confidence band for the mean.

The seed-to-seed spread is the Monte Carlo error; the finite-``N`` bias of the
spectrum (the theory is the ``N -> inf`` limit) is ``O(1/N)`` for ``alpha`` away from 1.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .._validate import check_finite_real, check_positive

__all__ = ["TRANSFORMS", "simulate", "SimResult", "transform_forward", "transform_backward",
           "effective_parameters", "EffectiveParameters"]

TRANSFORMS = ("vanilla", "clamp", "const", "std")
_ALIASES = {"s3": "clamp", "s8": "const", "s9": "std", "none": "vanilla"}


def _transform_name(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"transform must be a string, one of {TRANSFORMS}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in TRANSFORMS:
        raise ValueError(f"unknown transform {name!r}; choose one of {TRANSFORMS} (or S3/S8/S9)")
    return key


# ----------------------------------------------------------------------------- transforms
def transform_forward(W, transform="vanilla", n_hat=1.0):
    """Apply the transform row-wise to ``W`` of shape ``(B, N)``; returns ``(T(W), cache)``."""
    tr = _transform_name(transform)
    W = np.asarray(W, dtype=float)
    if tr == "vanilla":
        return W.copy(), None
    u = np.tanh(W)
    au = np.abs(u)
    k = np.argmax(au, axis=1)
    rows = np.arange(W.shape[0])
    m = au[rows, k]
    if np.any(m == 0):
        raise ValueError("all weights of a row are 0: max|tanh W| = 0, the clamp S3 is undefined")
    What = u / m[:, None]
    cache = {"u": u, "k": k, "m": m, "What": What, "rows": rows}
    if tr == "clamp":
        return What, cache
    Vh = np.mean(What * What, axis=1)
    if tr == "const":
        a = 1.0 / np.sqrt(n_hat * Vh)
    else:
        VW = np.mean(W * W, axis=1)
        a = np.sqrt(VW / Vh)
        cache["VW"] = VW
    cache.update(a=a, Vh=Vh)
    return What * a[:, None], cache


def transform_backward(g, W, cache, transform="vanilla", *, detach_max=False, detach_scale=False):
    """Backpropagate ``g = dL/dT(W)`` to ``dL/dW`` (shape ``(B, N)``), through max and VAR unless detached.

    Formulas (``N`` weights per row, ``u = tanh W``, ``m = |u_k|``, ``W^ = u/m``):
    clamp ``dL/du_j = g_j/m - delta_jk sign(u_k) (g . u)/m^2``, ``dL/dW = dL/du (1 - u^2)``;
    rescale ``W* = a W^``: ``dL/dW^_j = a g_j - a W^_j (g . W^) / (N VAR[W^])``; for S9 the
    factor also depends on ``W``: ``+ a (g . W^) W_j / (N VAR[W])``.
    """
    tr = _transform_name(transform)
    if tr == "vanilla":
        return np.array(g, dtype=float, copy=True)
    N = W.shape[1]
    direct = 0.0
    if tr in ("const", "std"):
        a, What, Vh = cache["a"], cache["What"], cache["Vh"]
        gh = g * a[:, None]
        if not detach_scale:
            gW = np.einsum("bi,bi->b", g, What)
            gh = gh - (a * gW / (N * Vh))[:, None] * What
            if tr == "std":
                direct = (a * gW / (N * cache["VW"]))[:, None] * W
    else:
        gh = g
    u, m, k, rows = cache["u"], cache["m"], cache["k"], cache["rows"]
    gu = gh / m[:, None]
    if not detach_max:
        gu[rows, k] -= np.sign(u[rows, k]) * np.einsum("bi,bi->b", gh, u) / (m * m)
    return gu * (1.0 - u * u) + direct


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class SimResult:
    """Simulation output.  Arrays ``E_g``, ``E_t`` have shape ``(seeds, len(steps))``.

    ``t = eta N x_scale^2 steps`` is the theory time; ``band_*`` are the ``level``
    Student-t confidence bands of the seed mean; ``eta_lambda_max`` the largest
    ``eta_theory lambda_max(X^T X)`` over seeds (vanilla GD diverges above 2);
    ``steps_per_second`` counts GD steps of all seeds (seed-steps) per wall second;
    ``weights`` are the final effective weights ``T(W)``, shape ``(seeds, N)``.
    """

    steps: np.ndarray
    t: np.ndarray
    E_g: np.ndarray
    E_t: np.ndarray
    mean_g: np.ndarray
    mean_t: np.ndarray
    band_g: tuple[np.ndarray, np.ndarray]
    band_t: tuple[np.ndarray, np.ndarray]
    level: float
    N: int
    P: int
    alpha: float
    transform: str
    n_hat: float
    eta: float
    eta_lambda_max: float
    seconds: float
    steps_per_second: float
    init_out_var: float
    lr_gain: float
    weights: np.ndarray | None = None
    params: dict = field(default_factory=dict)


def _band(x: np.ndarray, level: float):
    from scipy.special import stdtrit  # Student-t quantile (lighter import than scipy.stats)

    n = x.shape[0]
    mean = x.mean(axis=0)
    if n < 2:
        return mean, (mean.copy(), mean.copy())
    se = x.std(axis=0, ddof=1) / math.sqrt(n)
    z = float(stdtrit(n - 1, 0.5 + level / 2))
    return mean, (mean - z * se, mean + z * se)


def _seed_sequence(rng) -> np.random.SeedSequence:
    if isinstance(rng, np.random.Generator):
        return np.random.SeedSequence(int(rng.integers(0, 2**63 - 1)))
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError("rng seed must be >= 0")
        return np.random.SeedSequence(int(rng))
    raise TypeError("rng must be a numpy.random.Generator or an int seed (no global RNG is used)")


def _int(value, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < lo:
        raise ValueError(f"{name} must be >= {lo}, got {value}")
    return int(value)


def simulate(*, N: int, alpha: float, eta: float, steps: int, transform="vanilla",
             sigma_w=1.0, sigma_w0=1.0, sigma_eps=0.0, n_hat=None, inputs="1/N",
             seeds: int = 16, rng=0, record=60, detach_max=False, detach_scale=False,
             level=0.95, check_stability=True) -> SimResult:
    """Run full-batch GD for ``seeds`` independent draws of (X, wbar, eps, W(0)); see module docstring.

    Parameters
    ----------
    N, alpha : weights and examples per weight (``P = round(alpha N)``; the realized
        ``P/N`` is reported as ``SimResult.alpha``).
    eta, steps : learning rate (raw, in the chosen input convention) and number of GD steps.
    sigma_w, sigma_w0, sigma_eps : teacher, initial-student and label-noise standard
        deviations in output units (see ``inputs``).
    n_hat : S8's neuron count (default ``N x_scale^2``).
    inputs : ``"1/N"`` (x ~ N(0, I/N), O(1) weights) or ``"unit"`` (x ~ N(0, I), weights O(1/sqrt N)).
    record : number of (log-spaced, plus 0) recording steps, or an explicit array of steps.
    rng : int seed or Generator; seed ``i`` uses ``SeedSequence(rng).spawn(seeds)[i]`` so the
        first ``k`` seeds do not depend on ``seeds``.
    check_stability : for vanilla GD raise if ``eta_theory lambda_max > 2`` (the discrete map
        diverges); for the other transforms, raise if the weights become non-finite.
    """
    tr = _transform_name(transform)
    N = _int(N, "N", 1)
    seeds = _int(seeds, "seeds", 1)
    steps = _int(steps, "steps", 0)
    alpha = check_positive(alpha, "alpha")
    eta = check_positive(eta, "eta")
    sw = check_finite_real(sigma_w, "sigma_w")
    s0 = check_finite_real(sigma_w0, "sigma_w0")
    se = check_finite_real(sigma_eps, "sigma_eps")
    for v, nm in ((sw, "sigma_w"), (s0, "sigma_w0"), (se, "sigma_eps")):
        if v < 0:
            raise ValueError(f"{nm} is a standard deviation and must be >= 0, got {v}")
    level = check_finite_real(level, "level")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if inputs not in ("1/N", "unit"):
        raise ValueError(f"inputs must be '1/N' or 'unit', got {inputs!r}")
    x2 = 1.0 / N if inputs == "1/N" else 1.0          # x_scale^2
    n_hat = N * x2 if n_hat is None else check_positive(n_hat, "n_hat")
    if tr != "vanilla" and s0 == 0:
        raise ValueError("sigma_w0 = 0 makes max|tanh W| = 0: the clamp S3 needs a nonzero initialisation")
    P = int(round(alpha * N))
    if P < 1:
        raise ValueError(f"alpha * N = {alpha * N:.4g} rounds to no training example (P = round(alpha N) = 0); "
                         f"use N >= {math.ceil(0.5 / alpha)} or a larger alpha")
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool):
        rec = np.unique(np.concatenate([[0], np.round(np.geomspace(1, max(steps, 1), int(record)))]))
        rec = rec[rec <= steps].astype(np.int64)
    else:
        rec = np.unique(np.asarray(record, dtype=np.int64))
        if rec.size == 0 or rec.min() < 0 or rec.max() > steps:
            raise ValueError("record steps must lie in [0, steps]")

    ss = _seed_sequence(rng).spawn(seeds)
    xs = math.sqrt(x2)
    wstd = 1.0 / math.sqrt(N * x2)                    # weight scale so that x.w has unit variance
    C = np.empty((seeds, N, N))
    b = np.empty((seeds, N))
    Xs = np.empty((seeds, P, N))                      # kept for the training residual
    ys = np.empty((seeds, P))
    wbar = np.empty((seeds, N))
    W = np.empty((seeds, N))
    for i, s in enumerate(ss):
        g = np.random.default_rng(s)
        X = g.standard_normal((P, N)) * xs
        wbar[i] = g.standard_normal(N) * (sw * wstd)
        y = X @ wbar[i] + g.standard_normal(P) * se
        W[i] = g.standard_normal(N) * (s0 * wstd)
        C[i] = X.T @ X
        b[i] = X.T @ y
        Xs[i] = X
        ys[i] = y
    lam_max = float(np.max(np.linalg.eigvalsh(C)[:, -1]))
    eta_lmax = eta * lam_max
    if check_stability and tr == "vanilla" and eta_lmax > 2.0:
        raise ValueError(
            f"gradient descent is unstable: eta * lambda_max(X^T X) = {eta_lmax:.4g} > 2 "
            f"(lambda_max = {lam_max:.4g}); use eta < {2.0 / lam_max:.4g}"
        )

    What, cache = transform_forward(W, tr, n_hat)
    init_out_var = float(np.mean(np.sum(What * What, axis=1)) * x2)
    if tr == "vanilla":
        gain = 1.0
    else:
        # diagonal (d T_i / d W_i)^2 at initialisation with max and VAR held fixed (seed S6),
        # averaged over weights and seeds
        a0 = cache.get("a", np.ones(seeds))
        Jd = a0[:, None] * (1.0 - cache["u"] ** 2) / cache["m"][:, None]
        gain = float(np.mean(Jd * Jd))
    nrec = rec.size
    Eg = np.empty((seeds, nrec))
    Et = np.empty((seeds, nrec))
    ri = 0
    t0 = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected below
        for step in range(steps + 1):
            if step > 0:
                What, cache = transform_forward(W, tr, n_hat)
            CW = np.matmul(C, What[:, :, None])[:, :, 0]
            if ri < nrec and step == rec[ri]:
                d = What - wbar
                Eg[:, ri] = x2 * np.einsum("bi,bi->b", d, d) + se * se
                res = ys - np.matmul(Xs, What[:, :, None])[:, :, 0]
                Et[:, ri] = np.einsum("bi,bi->b", res, res) / P
                ri += 1
            if step == steps:
                break
            grad = transform_backward(CW - b, W, cache, tr, detach_max=detach_max, detach_scale=detach_scale)
            W -= eta * grad
            if not np.all(np.isfinite(W)):
                raise ValueError(
                    f"gradient descent diverged at step {step + 1} (non-finite weights); "
                    f"eta * lambda_max = {eta_lmax:.4g}, linearized learning-rate gain {gain:.4g}: lower eta"
                )
    seconds = time.perf_counter() - t0
    mg, bg = _band(Eg, level)
    mt, bt = _band(Et, level)
    return SimResult(
        steps=rec, t=eta * N * x2 * rec, E_g=Eg, E_t=Et, mean_g=mg, mean_t=mt, band_g=bg, band_t=bt,
        level=level, N=N, P=P, alpha=P / N, transform=tr, n_hat=float(n_hat), eta=eta,
        eta_lambda_max=eta_lmax, seconds=seconds,
        steps_per_second=(steps * seeds / seconds) if seconds > 0 else math.inf,
        init_out_var=init_out_var, lr_gain=gain, weights=What,
        params=dict(sigma_w=sw, sigma_w0=s0, sigma_eps=se, inputs=inputs, seeds=seeds,
                    detach_max=detach_max, detach_scale=detach_scale),
    )


# ----------------------------------------------------------------------------- linearized theory
@dataclass(frozen=True)
class EffectiveParameters:
    """Linearized theory for a transformed student: vanilla theory with these parameters.

    ``sigma_w0_eff``: std of the transformed initial weights in output units
    (``sqrt(N x_scale^2 VAR[T(W0)])``); ``time_scale``: multiply the raw time
    ``eta N x_scale^2 steps`` by this (the mean ``(dT/dW)^2`` at initialisation, seed S6).
    Valid while tanh is in its linear range and the max / VAR factors barely move.
    """

    sigma_w0_eff: float
    time_scale: float


def effective_parameters(sim: SimResult) -> EffectiveParameters:
    """Effective initial variance and learning-rate gain measured at the simulation's initialisation."""
    return EffectiveParameters(math.sqrt(sim.init_out_var), sim.lr_gain)
