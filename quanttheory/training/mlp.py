"""A ReLU MLP with quantized layers: forward passes, losses and hand-written gradients.

Notation: layer ``l`` maps ``a_l -> h_l = a_l W_l + b_l``; hidden layers output
``A_l = relu(h_l)`` which is the (possibly quantized) input ``a_{l+1}`` of the next
layer.  *Every* weight matrix is quantized on a signed ``b``-bit grid with its own
scale ``s_w[l]``; every hidden activation ``A_l`` on an unsigned ``b``-bit grid with
scale ``s_a[l]``.  Biases and the network input stay in float (the paper keeps the
first and last layers in float; quantizing them too is a stricter test).

Three training objectives (all averaged over the mini-batch):

* ``float``: cross-entropy ``CE`` of the float network.
* ``sqr``:   ``CE(float net) + lam_w L_w + lam_a L_a`` with
  ``L_w = sum_l s_w[l]**2 mean_i phi(W_l,i / s_w[l])`` and
  ``L_a = sum_l s_a[l]**2 mean_{batch, units} phi(A_l / s_a[l])`` (ECCV eq. (1)).
  The forward pass is float ("round free", App. D).  Following App. D, the
  gradient of ``L_a`` flows *only* to ``s_a``: ``A_l`` is treated as a constant
  in ``L_a``.  Scales are trained in log space, ``t = log s``:
  ``d/dt [s**2 phi(w/s)] = s**2 (2 phi(u) - u phi'(u))``, ``u = w / s``.
* ``lsq``:   ``CE`` of the network with quantized weights *and* activations,
  ``v_q = s clip(round(v / s), r_b, r_t)``, gradients by LSQ (Esser et al. 2020):
  ``dv_q/dv = 1[r_b <= v/s <= r_t]`` (straight-through) and
  ``dv_q/ds = round(v/s) - v/s`` inside, ``r_b`` / ``r_t`` when clipped, the scale
  gradient multiplied by ``g = 1 / sqrt(N * r_t)`` (``N`` = number of weights of the
  layer, or number of units for an activation).  ``s`` is trained directly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..formats.grid import Grid
from .phi import phi_and_grad

SCALE_FLOOR = 1e-12
"""Scales are kept >= this value (LSQ trains ``s`` directly and could cross 0)."""


@dataclass(eq=False)
class MLPParams:
    """Trainable state: weights ``W[l]`` (``fan_in x fan_out``), biases ``b[l]``,
    weight scales ``s_w`` (one per layer) and activation scales ``s_a`` (one per
    hidden layer).  Scales are in the units of the quantity they quantize."""

    W: list
    b: list
    s_w: np.ndarray
    s_a: np.ndarray

    @property
    def n_layers(self) -> int:
        return len(self.W)

    def copy(self) -> "MLPParams":
        return MLPParams([w.copy() for w in self.W], [v.copy() for v in self.b],
                         self.s_w.copy(), self.s_a.copy())

    def sizes(self) -> tuple[int, ...]:
        return (self.W[0].shape[0],) + tuple(w.shape[1] for w in self.W)


def init_mlp(sizes, rng) -> MLPParams:
    """He-normal weights ``N(0, 2 / fan_in)``, zero biases, unit scales.

    ``sizes = (d_in, h_1, ..., d_out)``, at least two layers.
    """
    sizes = tuple(sizes)
    if len(sizes) < 3:
        raise ValueError(f"an MLP needs at least two layers: sizes=(d_in, hidden..., d_out), got {sizes}")
    for v in sizes:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"layer sizes must be positive integers, got {sizes}")
    W = [rng.standard_normal((m, n)) * math.sqrt(2.0 / m) for m, n in zip(sizes[:-1], sizes[1:])]
    b = [np.zeros(n) for n in sizes[1:]]
    return MLPParams(W, b, np.ones(len(W)), np.ones(len(W) - 1))


# --------------------------------------------------------------------------- basics
def relu(x):
    return np.maximum(x, 0.0)


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient with respect to the logits."""
    z = logits - logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    n = logits.shape[0]
    loss = float(np.mean(lse - z[np.arange(n), y]))
    p = np.exp(z - lse[:, None])
    p[np.arange(n), y] -= 1.0
    return loss, p / n


def round_clip(u: np.ndarray, grid: Grid) -> np.ndarray:
    """``clip(round(u), r_b, r_t)``, numpy round-half-to-even (as :func:`quanttheory.grid.quantize`)."""
    return np.clip(np.rint(u), grid.r_b, grid.r_t)


class LSQQuant(NamedTuple):
    """Quantized values and LSQ derivatives of ``v_q = s clip(round(v/s), r_b, r_t)``."""

    vq: np.ndarray
    inside: np.ndarray  # dv_q/dv (straight-through): 1 inside [r_b, r_t], 0 when clipped
    dvq_ds: np.ndarray  # round(u) - u inside, r_b or r_t when clipped


def lsq_quantize(v: np.ndarray, s: float, grid: Grid) -> LSQQuant:
    u = v / s
    q = round_clip(u, grid)
    inside = (u >= grid.r_b) & (u <= grid.r_t)
    dvq_ds = np.where(inside, q - u, q)
    return LSQQuant(s * q, inside.astype(np.float64), dvq_ds)


def lsq_grad_scale(n: int, grid: Grid) -> float:
    """LSQ's step-size gradient scale ``g = 1 / sqrt(N * Q_P)`` with ``Q_P = r_t``."""
    return 1.0 / math.sqrt(n * grid.r_t)


# --------------------------------------------------------------------------- passes
def _forward(W, b, X, act=None):
    """Forward pass; ``act[l](A)`` (optional) transforms hidden activation ``A_l``."""
    a = X
    cache = []
    L = len(W)
    for l in range(L):
        h = a @ W[l] + b[l]
        if l < L - 1:
            A = relu(h)
            cache.append((a, h, A))
            a = A if act is None else act[l](A)
        else:
            cache.append((a, h, None))
    return h, cache


def _backward(W, cache, dlogits, act_inside=None):
    """Gradients of the loss w.r.t. ``W``, ``b`` and each hidden layer's *output*
    ``a_{l+1}`` (after the activation transform).  ``act_inside[l]`` multiplies the
    gradient flowing back through that transform (straight-through mask)."""
    L = len(W)
    dW = [None] * L
    db = [None] * L
    da_out = [None] * (L - 1)
    dh = dlogits
    for l in range(L - 1, -1, -1):
        a, h, _ = cache[l]
        dW[l] = a.T @ dh
        db[l] = dh.sum(axis=0)
        if l > 0:
            da = dh @ W[l].T
            da_out[l - 1] = da
            if act_inside is not None:
                da = da * act_inside[l - 1]
            dh = da * (cache[l - 1][1] > 0)
    return dW, db, da_out


class LossGrads(NamedTuple):
    """Objective value, its parts and gradients.

    ``ds_w``/``ds_a`` are gradients with respect to ``log s`` for ``sqr`` (``scale_param
    == "log"``) and with respect to ``s`` times LSQ's gradient scale for ``lsq``
    (``scale_param == "lsq"``); zeros for ``float``.  ``lw``/``la`` are ``L_w``, ``L_a``
    (``nan`` when the method has none)."""

    loss: float
    ce: float
    lw: float
    la: float
    dW: list
    db: list
    ds_w: np.ndarray
    ds_a: np.ndarray
    scale_param: str


def float_loss_grads(p: MLPParams, X, y) -> LossGrads:
    """Cross-entropy of the float network and its gradient."""
    logits, cache = _forward(p.W, p.b, X)
    ce, dlog = cross_entropy(logits, y)
    dW, db, _ = _backward(p.W, cache, dlog)
    return LossGrads(ce, ce, math.nan, math.nan, dW, db, np.zeros_like(p.s_w), np.zeros_like(p.s_a), "none")


def weight_reg(reg, W: np.ndarray, s: float, grid: Grid) -> tuple[float, np.ndarray, float]:
    """``L = s**2 mean phi(W / s)``, ``dL/dW = s phi'(u) / n`` and ``dL/dlog s =
    s**2 mean(2 phi(u) - u phi'(u))``."""
    u = W / s
    pg = phi_and_grad(reg, u, grid.r_b, grid.r_t)
    n = W.size
    val = s * s * float(np.mean(pg.phi))
    dW = s * pg.dphi / n
    dlogs = s * s * float(np.mean(2.0 * pg.phi - u * pg.dphi))
    return val, dW, dlogs


def sqr_loss_grads(p: MLPParams, X, y, reg, wgrid: Grid, agrid: Grid, lam_w: float,
                   lam_a: float, act_ste: bool = False) -> LossGrads:
    """``CE + lam_w L_w + lam_a L_a`` and its gradients; the ``L_a`` gradient goes
    to ``log s_a`` only (App. D).  Weights are float in the forward pass ("round
    free").  ``act_ste``: hidden activations are quantized in the forward pass with
    the current ``s_a`` and the CE gradient passes them straight through
    (``1[A / s_a <= r_t]``), as the paper does at 4 bits; ``s_a`` still receives
    only the ``L_a`` gradient."""
    L = p.n_layers
    if act_ste:
        inside: list = [None] * (L - 1)

        def make_act(l):
            def f(A):
                q = lsq_quantize(A, float(p.s_a[l]), agrid)
                inside[l] = q.inside
                return q.vq
            return f

        logits, cache = _forward(p.W, p.b, X, act=[make_act(l) for l in range(L - 1)])
        ce, dlog = cross_entropy(logits, y)
        dW, db, _ = _backward(p.W, cache, dlog, act_inside=inside)
    else:
        logits, cache = _forward(p.W, p.b, X)
        ce, dlog = cross_entropy(logits, y)
        dW, db, _ = _backward(p.W, cache, dlog)
    lw = 0.0
    ds_w = np.zeros(L)
    for l in range(L):
        v, g, gs = weight_reg(reg, p.W[l], float(p.s_w[l]), wgrid)
        lw += v
        dW[l] = dW[l] + lam_w * g
        ds_w[l] = lam_w * gs
    la = 0.0
    ds_a = np.zeros(L - 1)
    for l in range(L - 1):
        v, _, gs = weight_reg(reg, cache[l][2], float(p.s_a[l]), agrid)  # A_l held constant
        la += v
        ds_a[l] = lam_a * gs
    return LossGrads(ce + lam_w * lw + lam_a * la, ce, lw, la, dW, db, ds_w, ds_a, "log")


def lsq_loss_grads(p: MLPParams, X, y, wgrid: Grid, agrid: Grid) -> LossGrads:
    """CE of the quantized network with LSQ straight-through gradients (module doc)."""
    L = p.n_layers
    wq = [lsq_quantize(p.W[l], float(p.s_w[l]), wgrid) for l in range(L)]
    aq_store: list = [None] * (L - 1)

    def make_act(l):
        def f(A):
            q = lsq_quantize(A, float(p.s_a[l]), agrid)
            aq_store[l] = q
            return q.vq
        return f

    logits, cache = _forward([q.vq for q in wq], p.b, X, act=[make_act(l) for l in range(L - 1)])
    ce, dlog = cross_entropy(logits, y)
    dWq, db, daq = _backward([q.vq for q in wq], cache, dlog, act_inside=[q.inside for q in aq_store])
    dW = [dWq[l] * wq[l].inside for l in range(L)]
    ds_w = np.array([lsq_grad_scale(p.W[l].size, wgrid) * float(np.sum(dWq[l] * wq[l].dvq_ds))
                     for l in range(L)])
    ds_a = np.array([lsq_grad_scale(p.W[l].shape[1], agrid) * float(np.sum(daq[l] * aq_store[l].dvq_ds))
                     for l in range(L - 1)])
    return LossGrads(ce, ce, math.nan, math.nan, dW, db, ds_w, ds_a, "lsq")


# --------------------------------------------------------------------------- evaluation
def quantized_params(p: MLPParams, bits: int) -> list:
    """Weights rounded with the learned scales: ``s_w[l] clip(round(W_l / s_w[l]))``."""
    g = Grid(int(bits), True)
    return [float(p.s_w[l]) * round_clip(p.W[l] / p.s_w[l], g) for l in range(p.n_layers)]


def predict(p: MLPParams, X, bits: int | None = None) -> np.ndarray:
    """Logits of the float network (``bits=None``) or of the network quantized
    post-training with its own scales at ``bits`` (weights signed, activations unsigned)."""
    if bits is None:
        logits, _ = _forward(p.W, p.b, X)
        return logits
    ag = Grid(int(bits), False)
    act = [(lambda A, s=float(p.s_a[l]): s * round_clip(A / s, ag)) for l in range(p.n_layers - 1)]
    logits, _ = _forward(quantized_params(p, bits), p.b, X, act=act)
    return logits


class Evaluation(NamedTuple):
    accuracy: float
    loss: float


def evaluate(p: MLPParams, X, y, bits: int | None = None) -> Evaluation:
    """Accuracy and mean cross-entropy (float network or quantized at ``bits``)."""
    logits = predict(p, X, bits)
    loss, _ = cross_entropy(logits, y)
    return Evaluation(float(np.mean(np.argmax(logits, axis=1) == y)), loss)


def msqe_scale(x: np.ndarray, grid: Grid, n_candidates: int = 600) -> float:
    """Scale minimizing the data MSQE ``mean((x - Q_U(x))**2)`` over a log grid of
    ``n_candidates`` values in ``[max|x| / (64 r), 2 max|x| / r]``, ``r = max(|r_b|, r_t)``
    (post-training quantization of the float baseline; also LSQ-free scale init)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    m = float(np.max(np.abs(x)))
    if m == 0.0:
        return 1.0
    r = max(abs(grid.r_b), grid.r_t)
    cands = np.geomspace(m / (64 * r), 2 * m / r, n_candidates)
    best, best_s = math.inf, cands[-1]
    for s in cands:
        e = float(np.mean((x - s * round_clip(x / s, grid)) ** 2))
        if e < best:
            best, best_s = e, s
    return float(best_s)


def hidden_activations(p: MLPParams, X) -> list:
    """Float hidden activations ``A_l`` (for scale calibration)."""
    _, cache = _forward(p.W, p.b, X)
    return [c[2] for c in cache[:-1]]
