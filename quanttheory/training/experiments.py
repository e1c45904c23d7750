"""The multi-seed experiment behind the training figures and docs/training.md.

For every seed: draw the spirals data set, pretrain a float MLP ``2-32-32-3``,
then fine-tune a copy of it at each bit width with QSin, MSQE, pi^2*MSQE and
SinReQ regularization (learned log-scales, App. D activation rule, ``lam_w`` x10 and
lr x0.1 at epochs 10 and 20) and with LSQ; the float network is also quantized
post-training with per-tensor MSQE-optimal scales ("float+PTQ").  Every network
is evaluated *quantized* (weights and hidden activations rounded with its own
scales) on a held-out test set.

Regenerate the committed results file (about 2-3 minutes on one core)::

    python -m quanttheory.training.experiments --out quanttheory/figures/data/training.npz

``--quick`` runs a tiny version (seconds) used by the figures' quick mode.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..formats.grid import Grid
from . import mlp as _mlp
from .data import make_spirals
from .train import TrainConfig, pretrain, train

METHODS = ("float+PTQ", "QSin", "MSQE", "π²·MSQE", "SinReQ", "LSQ")
_SQR = {"QSin": "qsin", "MSQE": "msqe", "π²·MSQE": "msqe", "SinReQ": "sinreq"}
_LAM_FACTOR = {"π²·MSQE": math.pi**2}
"""``π²·MSQE`` is MSQE with ``lam_w`` and ``lam_a`` multiplied by ``pi**2``, i.e. the
regularizer ``pi**2 MSQE`` that has QSin's curvature at the grid points (the
package's ``curve_factor`` convention): at equal ``lam`` QSin's restoring force
``pi sin(2 pi r) ~ 2 pi**2 r`` near a grid point is ``pi**2`` times MSQE's ``2 r``."""


@dataclass(frozen=True)
class ExperimentConfig:
    """Sizes of the experiment (defaults = the committed results)."""

    seeds: tuple = (0, 1, 2, 3, 4)
    bits: tuple = (2, 3, 4, 8)
    n_train: int = 3000
    n_test: int = 3000
    hidden: tuple = (32, 32)
    pre_epochs: int = 40
    finetune: TrainConfig = field(default_factory=lambda: TrainConfig(
        epochs=30, milestones=(10, 20), lam_w=1.0, lam_a=1.0, lr=0.05, batch_size=64))
    hist_bits: int = 4
    hist_epochs: tuple = (0, 10, 20, 30)
    hist_bin: float = 1.0 / 16.0

    def as_dict(self) -> dict:
        return {"seeds": list(self.seeds), "bits": list(self.bits), "n_train": self.n_train,
                "n_test": self.n_test, "hidden": list(self.hidden), "pre_epochs": self.pre_epochs,
                "finetune": self.finetune.as_dict(), "hist_bits": self.hist_bits,
                "hist_epochs": list(self.hist_epochs), "hist_bin": self.hist_bin}


QUICK = ExperimentConfig(seeds=(0,), bits=(2, 4), n_train=600, n_test=600, hidden=(16, 16), pre_epochs=40,
                         finetune=TrainConfig(epochs=8, milestones=(3, 6), batch_size=32),
                         hist_epochs=(0, 3, 6, 8))
"""Tiny configuration for smoke tests and the figures' quick mode (about a second)."""


def grid_msqe(p: _mlp.MLPParams, bits: int) -> float:
    """Mean over all weights of ``MSQE(W / s_w)`` in grid units (0 = every weight on
    the grid, i.e. a categorical distribution; ~1/12 for weights spread evenly in
    each cell)."""
    g = Grid(bits, True)
    tot = sum(float(np.sum((w / s - _mlp.round_clip(w / s, g)) ** 2)) for w, s in zip(p.W, p.s_w))
    return tot / sum(w.size for w in p.W)


def ptq(p: _mlp.MLPParams, X_calib: np.ndarray, bits: int) -> _mlp.MLPParams:
    """Copy of ``p`` with MSQE-optimal per-tensor scales (weights and activations)."""
    q = p.copy()
    q.s_w[:] = [_mlp.msqe_scale(w, Grid(bits, True)) for w in q.W]
    q.s_a[:] = [_mlp.msqe_scale(a, Grid(bits, False)) for a in _mlp.hidden_activations(q, X_calib)]
    return q


def _hist(snap, edges):
    W, s = snap
    return np.stack([np.histogram(np.clip(w / sl, edges[0], edges[-1]), bins=edges)[0] for w, sl in zip(W, s)])


def run(cfg: ExperimentConfig = ExperimentConfig(), verbose: bool = False) -> dict:
    """Run the experiment; returns a dict of arrays (the layout of the ``.npz`` file)."""
    t0 = time.perf_counter()
    M, B, S = len(METHODS), len(cfg.bits), len(cfg.seeds)
    acc = np.full((M, B, S), np.nan)
    gm = np.full((M, B, S), np.nan)
    float_acc = np.full(S, np.nan)
    g = Grid(cfg.hist_bits, True)
    edges = np.arange(g.r_b - 2.0, g.r_t + 2.0 + 1e-9, cfg.hist_bin) - cfg.hist_bin / 2
    hist = np.zeros((2, len(cfg.hist_epochs), len(cfg.hidden) + 1, len(edges) - 1), dtype=np.int32)
    sandwich = {}
    for j, seed in enumerate(cfg.seeds):
        ss = np.random.SeedSequence(int(seed)).spawn(3)
        data = make_spirals(cfg.n_train, cfg.n_test, rng=np.random.default_rng(ss[0]))
        base = pretrain(data, hidden=cfg.hidden, epochs=cfg.pre_epochs, batch_size=cfg.finetune.batch_size,
                        rng=np.random.default_rng(ss[1]))
        float_acc[j] = _mlp.evaluate(base.params, data.X_test, data.y_test).accuracy
        ft_seed = int(np.random.default_rng(ss[2]).integers(2**62))
        for i, bits in enumerate(cfg.bits):
            q = ptq(base.params, data.X_train[: cfg.finetune.calib], bits)
            acc[0, i, j] = _mlp.evaluate(q, data.X_test, data.y_test, bits).accuracy
            gm[0, i, j] = grid_msqe(q, bits)
            for m, name in enumerate(METHODS[1:], start=1):
                snaps = cfg.hist_epochs if (j == 0 and bits == cfg.hist_bits and name in ("QSin", "LSQ")) else ()
                c = replace(cfg.finetune, method="lsq" if name == "LSQ" else "sqr",
                            regularizer=_SQR.get(name, "qsin"), bits=bits, hidden=cfg.hidden,
                            snapshot_epochs=snaps,
                            lam_w=cfg.finetune.lam_w * _LAM_FACTOR.get(name, 1.0),
                            lam_a=cfg.finetune.lam_a * _LAM_FACTOR.get(name, 1.0))
                r = train(data, c, init=base.params, rng=ft_seed)
                acc[m, i, j] = _mlp.evaluate(r.params, data.X_test, data.y_test, bits).accuracy
                gm[m, i, j] = grid_msqe(r.params, bits)
                if snaps:
                    k = 0 if name == "QSin" else 1
                    for e_i, e in enumerate(cfg.hist_epochs):
                        hist[k, e_i] = _hist(r.snapshots[e], edges)
                if j == 0 and bits == cfg.hist_bits and name == "QSin":
                    sandwich = {"sandwich_epoch": r.steps["epoch"], "sandwich_msqe": r.steps["msqe_w"],
                                "sandwich_lw": r.steps["lw"], "sandwich_lam_w": r.epochs["lam_w"]}
                if verbose:
                    print(f"seed {seed} {bits}b {name:7s} acc {acc[m, i, j]:.4f}  grid MSQE {gm[m, i, j]:.2e}"
                          f"  ({r.seconds:.1f} s)", flush=True)
        if verbose:
            print(f"seed {seed}: float acc {float_acc[j]:.4f}; PTQ acc {acc[0, :, j]}", flush=True)
    out = {"methods": np.array(METHODS), "bits": np.array(cfg.bits), "seeds": np.array(cfg.seeds),
           "acc": acc, "grid_msqe": gm, "float_acc": float_acc, "hist_counts": hist, "hist_edges": edges,
           "hist_epochs": np.array(cfg.hist_epochs), "hist_methods": np.array(["QSin", "LSQ"]),
           "hist_bits": np.array(cfg.hist_bits), "config": np.array(json.dumps(cfg.as_dict())),
           "seconds": np.array(time.perf_counter() - t0)}
    out.update(sandwich)
    return out


def save(results: dict, path) -> Path:
    """Write ``results`` to a compressed ``.npz`` (float32 step traces keep it small)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    res = dict(results)
    for k in ("sandwich_msqe", "sandwich_lw", "sandwich_epoch"):
        if k in res:
            res[k] = np.asarray(res[k])
    np.savez_compressed(path, **res)
    return path


def load(path) -> dict:
    """Read a results file written by :func:`save`."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def table(results: dict, bits=None) -> str:
    """Markdown table: method x bits, test accuracy (%) mean +- std over seeds."""
    b_all = [int(b) for b in results["bits"]]
    bits = b_all if bits is None else [int(b) for b in bits]
    S = results["acc"].shape[2]
    fa = 100 * results["float_acc"]
    lines = [f"| method | " + " | ".join(f"{b} bits" for b in bits) + " |",
             "|---|" + "---|" * len(bits)]
    for m, name in enumerate(results["methods"]):
        cells = []
        for b in bits:
            a = 100 * results["acc"][m, b_all.index(b)]
            cells.append(f"{a.mean():.1f} ± {a.std(ddof=1) if S > 1 else 0.0:.1f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(f"| float (unquantized) | {fa.mean():.1f} ± {fa.std(ddof=1) if S > 1 else 0.0:.1f} (all) |"
                 + " |" * (len(bits) - 1))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m quanttheory.training.experiments", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output .npz file")
    ap.add_argument("--quick", action="store_true", help="tiny configuration (seconds)")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds 0..N-1 (default 5)")
    ap.add_argument("--verbose", action="store_true", help="one line per run")
    a = ap.parse_args(argv)
    cfg = QUICK if a.quick else ExperimentConfig()
    if a.seeds is not None:
        if a.seeds < 1:
            raise SystemExit("--seeds must be >= 1")
        cfg = replace(cfg, seeds=tuple(range(a.seeds)))
    res = run(cfg, verbose=a.verbose)
    path = save(res, a.out)
    print(table(res))
    print(f"\nmean grid-unit MSQE of the final weights (0 = categorical), bits {list(cfg.bits)}:")
    for m, name in enumerate(res["methods"]):
        print(f"  {name:10s} " + "  ".join(f"{v:.2e}" for v in res["grid_msqe"][m].mean(axis=1)))
    print(f"\nwrote {path} ({path.stat().st_size / 1024:.1f} KiB) in {float(res['seconds']):.1f} s")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
