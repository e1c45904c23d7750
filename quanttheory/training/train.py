"""Mini-batch SGD (momentum) training of the quantized MLP: float, SQR and LSQ.

Schedule (ECCV App. D, 4-bit recipe): ``lam_w`` is multiplied by ``lam_factor``
(10) and the learning rate by ``lr_factor`` (0.1) at the epochs listed in
``milestones``.  Scale initialisation for a fine-tuning run (``init`` given):
weights ``s_w = 2 mean|W| / sqrt(r_t)`` (LSQ's rule, used for every method so
that SQR and LSQ start from the same point) and activations likewise from the
float activations of the first ``calib`` training examples.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .._validate import check_finite_real, check_positive
from .._validate import as_generator
from ..formats.grid import Grid
from ..formats.regularizers import get_regularizer
from . import mlp as _mlp
from .data import Dataset

METHODS = ("float", "sqr", "lsq")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one training run (all epochs are 0-based counts).

    method : ``"float"``, ``"sqr"`` (smooth regularizer ``regularizer``) or ``"lsq"``.
    bits : target bit width (weights signed, activations unsigned grid).
    lam_w, lam_a : initial ``lambda_w`` and the constant ``lambda_a`` (sqr only).
    milestones : epochs at whose start ``lam_w *= lam_factor`` and ``lr *= lr_factor``.
    snapshot_epochs : epochs at whose *end* the weights are stored (``0`` = before training).
    """

    method: str = "sqr"
    regularizer: object = "qsin"
    bits: int = 4
    hidden: tuple = (32, 32)
    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    lam_w: float = 1.0
    lam_a: float = 1.0
    milestones: tuple = (10, 20)
    lam_factor: float = 10.0
    lr_factor: float = 0.1
    snapshot_epochs: tuple = ()
    calib: int = 1000
    act_ste: object = "auto"

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        object.__setattr__(self, "bits", Grid(self.bits).bits)  # validates 1..24
        if self.method != "float":
            get_regularizer(self.regularizer)  # raises on a bad regularizer
            if self.bits < 2:
                raise ValueError("bits must be >= 2 for quantized training (a 1-bit signed grid {-1, 0} "
                                 "has r_t = 0 and LSQ's gradient scale 1/sqrt(N r_t) is undefined)")
        for name in ("epochs", "batch_size", "calib"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        check_positive(self.lr, "lr")
        m = check_finite_real(self.momentum, "momentum")
        if not 0 <= m < 1:
            raise ValueError(f"momentum must be in [0, 1), got {m}")
        for name in ("lam_w", "lam_a", "lam_factor", "lr_factor"):
            check_positive(getattr(self, name), name)
        if any(not isinstance(h, (int, np.integer)) or h < 1 for h in self.hidden) or len(self.hidden) < 1:
            raise ValueError(f"hidden must be a non-empty tuple of positive layer widths, got {self.hidden!r}")
        if self.act_ste not in ("auto", True, False):
            raise ValueError(f"act_ste must be 'auto', True or False, got {self.act_ste!r}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        object.__setattr__(self, "milestones", tuple(sorted(int(e) for e in self.milestones)))
        object.__setattr__(self, "snapshot_epochs", tuple(sorted(int(e) for e in self.snapshot_epochs)))
        if any(e < 0 or e > self.epochs for e in self.snapshot_epochs):
            raise ValueError(f"snapshot_epochs must lie in 0..epochs={self.epochs}, got {self.snapshot_epochs}")

    @property
    def use_act_ste(self) -> bool:
        """SQR only: quantize activations in the forward pass with STE (``act_ste=True``),
        or train round-free (``False``); ``"auto"`` = STE at <= 4 bits, round-free above
        (the paper's 4-bit / 8-bit recipes, App. D)."""
        if self.act_ste == "auto":
            return self.bits <= 4
        return bool(self.act_ste)

    def as_dict(self) -> dict:
        d = asdict(self)
        r = self.regularizer
        d["regularizer"] = r if isinstance(r, str) else get_regularizer(r).name
        return d


@dataclass(frozen=True, eq=False)
class TrainResult:
    """Outcome of :func:`train`.

    params : final :class:`~quanttheory.training.mlp.MLPParams`.
    steps : per-step arrays, recorded *before* each update and once after the last
        one (``n_steps + 1`` rows): ``msqe_w`` ``(n, L)`` = ``s_l**2 mean MSQE(W_l / s_l)``
        and ``lw`` ``(n, L)`` = ``s_l**2 mean phi(W_l / s_l)`` for the run's regularizer
        (QSin for ``lsq``/``float`` runs, measured only), ``epoch`` (fractional).
    epochs : per-epoch arrays ``loss`` (mean objective), ``ce``, ``test_acc`` (the
        network evaluated as it will be deployed: quantized at ``bits`` with its
        learned scales for sqr/lsq, float for float), ``lam_w``, ``lr``.
    snapshots : ``{epoch: (list of W_l copies, s_w copy)}``.
    """

    config: TrainConfig
    params: _mlp.MLPParams
    steps: dict
    epochs: dict
    snapshots: dict = field(default_factory=dict)
    seconds: float = 0.0


def init_scales(p: _mlp.MLPParams, X: np.ndarray, bits: int) -> None:
    """LSQ's initial step sizes ``2 mean|v| / sqrt(r_t)`` for every weight matrix and
    hidden activation (activations from the float network on ``X``), in place."""
    wg, ag = Grid(bits, True), Grid(bits, False)
    p.s_w[:] = [max(2 * float(np.mean(np.abs(w))) / math.sqrt(wg.r_t), _mlp.SCALE_FLOOR) for w in p.W]
    acts = _mlp.hidden_activations(p, X)
    p.s_a[:] = [max(2 * float(np.mean(np.abs(a))) / math.sqrt(ag.r_t), 1e-6) for a in acts]


def _measure(p, reg, wgrid):
    msq = np.empty(p.n_layers)
    lw = np.empty(p.n_layers)
    for l in range(p.n_layers):
        s = float(p.s_w[l])
        u = p.W[l] / s
        msq[l] = s * s * float(np.mean((u - _mlp.round_clip(u, wgrid)) ** 2))
        lw[l] = s * s * float(np.mean(reg.evaluate(u, wgrid.r_b, wgrid.r_t)))
    return msq, lw


def train(data: Dataset, config: TrainConfig = TrainConfig(), *, init: _mlp.MLPParams | None = None,
          rng=0, verbose: bool = False) -> TrainResult:
    """Train on ``data`` with ``config``; returns a :class:`TrainResult`.

    ``init``: starting parameters (copied; e.g. a pretrained float network).  For
    sqr/lsq runs the scales are (re)initialised with :func:`init_scales`.  Without
    ``init`` a He-initialised network of widths ``(dim, *hidden, n_classes)`` is drawn
    from ``rng``.  ``rng`` (Generator or int seed) also drives the mini-batch order,
    so a run is reproducible from its seed.  ``verbose`` prints one line per epoch.
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a training.data.Dataset, got {type(data).__name__}")
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    g = as_generator(rng)
    c = config
    if init is None:
        p = _mlp.init_mlp((data.dim, *c.hidden, data.n_classes), g)
    else:
        if not isinstance(init, _mlp.MLPParams):
            raise TypeError(f"init must be MLPParams, got {type(init).__name__}")
        if init.sizes() != (data.dim, *init.sizes()[1:-1], data.n_classes):
            raise ValueError(f"init has layer sizes {init.sizes()}, incompatible with the data "
                             f"(dim {data.dim}, {data.n_classes} classes)")
        p = init.copy()
    wgrid, agrid = Grid(c.bits, True), Grid(c.bits, False)
    reg = get_regularizer(c.regularizer if c.method == "sqr" else "qsin")
    if c.method != "float":
        init_scales(p, data.X_train[: c.calib], c.bits)

    n = data.X_train.shape[0]
    nb = max(1, n // c.batch_size)  # drop the last partial batch
    vel = {"W": [np.zeros_like(w) for w in p.W], "b": [np.zeros_like(v) for v in p.b],
           "s_w": np.zeros_like(p.s_w), "s_a": np.zeros_like(p.s_a)}
    msq_hist, lw_hist, ep_hist = [], [], []
    ep = {k: [] for k in ("loss", "ce", "test_acc", "lam_w", "lr")}
    snaps = {}
    if 0 in c.snapshot_epochs:
        snaps[0] = ([w.copy() for w in p.W], p.s_w.copy())
    lam_w, lr = float(c.lam_w), float(c.lr)
    eval_bits = None if c.method == "float" else c.bits
    t0 = time.perf_counter()
    for e in range(c.epochs):
        if e in c.milestones:
            lam_w *= c.lam_factor
            lr *= c.lr_factor
        order = g.permutation(n)
        tot = ce_sum = 0.0
        for k in range(nb):
            idx = order[k * c.batch_size:(k + 1) * c.batch_size]
            X, y = data.X_train[idx], data.y_train[idx]
            m, lv = _measure(p, reg, wgrid)
            msq_hist.append(m)
            lw_hist.append(lv)
            ep_hist.append(e + k / nb)
            if c.method == "float":
                lg = _mlp.float_loss_grads(p, X, y)
            elif c.method == "sqr":
                lg = _mlp.sqr_loss_grads(p, X, y, reg, wgrid, agrid, lam_w, c.lam_a, c.use_act_ste)
            else:
                lg = _mlp.lsq_loss_grads(p, X, y, wgrid, agrid)
            if not math.isfinite(lg.loss):
                raise FloatingPointError(f"training diverged at epoch {e} (loss {lg.loss}); lower lr or lam_w")
            tot += lg.loss
            ce_sum += lg.ce
            mom = c.momentum
            for l in range(p.n_layers):
                vel["W"][l] = mom * vel["W"][l] + lg.dW[l]
                p.W[l] -= lr * vel["W"][l]
                vel["b"][l] = mom * vel["b"][l] + lg.db[l]
                p.b[l] -= lr * vel["b"][l]
            if c.method != "float":
                vel["s_w"] = mom * vel["s_w"] + lg.ds_w
                vel["s_a"] = mom * vel["s_a"] + lg.ds_a
                if lg.scale_param == "log":
                    p.s_w *= np.exp(-lr * vel["s_w"])
                    p.s_a *= np.exp(-lr * vel["s_a"])
                else:
                    p.s_w[:] = np.maximum(p.s_w - lr * vel["s_w"], _mlp.SCALE_FLOOR)
                    p.s_a[:] = np.maximum(p.s_a - lr * vel["s_a"], _mlp.SCALE_FLOOR)
        acc = _mlp.evaluate(p, data.X_test, data.y_test, eval_bits).accuracy
        for key, val in (("loss", tot / nb), ("ce", ce_sum / nb), ("test_acc", acc),
                         ("lam_w", lam_w), ("lr", lr)):
            ep[key].append(val)
        if e + 1 in c.snapshot_epochs:
            snaps[e + 1] = ([w.copy() for w in p.W], p.s_w.copy())
        if verbose:
            m, lv = _measure(p, reg, wgrid)
            tag = c.method if c.method != "sqr" else get_regularizer(c.regularizer).name
            print(f"[{tag} {c.bits}b] epoch {e + 1:3d}/{c.epochs}  lr {lr:.3g}  lam_w {lam_w:.3g}  "
                  f"loss {tot / nb:.4f}  ce {ce_sum / nb:.4f}  L_w {lv.sum():.3e}  MSQE_w {m.sum():.3e}  "
                  f"test acc {acc:.4f}  ({time.perf_counter() - t0:.1f} s)", flush=True)
    m, lv = _measure(p, reg, wgrid)
    msq_hist.append(m)
    lw_hist.append(lv)
    ep_hist.append(float(c.epochs))
    steps = {"msqe_w": np.array(msq_hist), "lw": np.array(lw_hist), "epoch": np.array(ep_hist)}
    epochs = {k: np.array(v) for k, v in ep.items()}
    return TrainResult(c, p, steps, epochs, snaps, time.perf_counter() - t0)


def pretrain(data: Dataset, *, hidden=(32, 32), epochs: int = 40, lr: float = 0.05,
             batch_size: int = 64, rng=0, verbose: bool = False) -> TrainResult:
    """Float pre-training (the paper fine-tunes pretrained float models); lr drops
    x0.1 at 2/3 of the epochs."""
    cfg = TrainConfig(method="float", hidden=tuple(hidden), epochs=epochs, lr=lr, batch_size=batch_size,
                      milestones=(int(2 * epochs // 3),))
    return train(data, cfg, rng=rng, verbose=verbose)


def pretrain_and_finetune(data: Dataset, configs, *, pre_epochs: int = 40, rng=0,
                          verbose: bool = False) -> tuple[TrainResult, list]:
    """Pretrain a float network, then fine-tune a copy with each config (same
    starting point and the same seed-derived batch order for every config)."""
    g = as_generator(rng)
    seeds = g.integers(0, 2**63 - 1, size=2)
    configs = list(configs)
    hidden = configs[0].hidden if configs else (32, 32)
    base = pretrain(data, hidden=hidden, epochs=pre_epochs, rng=int(seeds[0]), verbose=verbose)
    runs = [train(data, c, init=base.params, rng=int(seeds[1]), verbose=verbose) for c in configs]
    return base, runs
