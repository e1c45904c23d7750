"""The multi-seed experiment behind the training figures and docs/training.md.

For every seed: draw the spirals data set, pretrain a float MLP ``2-32-32-3``,
then fine-tune a copy of it at each bit width with QSin, MSQE, pi^2*MSQE and
SinReQ regularization (learned log-scales, App. D activation rule, ``lam_w`` x10 and
lr x0.1 at epochs 10 and 20) and with LSQ; the float network is also quantized
post-training with per-tensor MSQE-optimal scales ("float+PTQ").  Every network
is evaluated *quantized* (weights and hidden activations rounded with its own
scales) on a held-out test set.

Regenerate the committed results file (about 170 s of CPU; the seeds run in parallel
child processes, ``--jobs``, default one per core)::

    python -m quanttheory.training.experiments --out quanttheory/figures/data/training.npz

``quanttheory figures`` (full mode) runs the same experiment for the three ``training_*``
figures; ``--quick`` runs a tiny version (about a second).

Determinism.  Every seed is independent (data, pretraining and fine-tuning draw from
``SeedSequence(seed)``) and runs in a child process with single-threaded BLAS
(``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1``), so the result does not depend
on ``--jobs`` or on the machine's thread settings; with the same NumPy/OpenBLAS build on the
same CPU type a rerun is bitwise identical to the committed file (checked by
``--check``).  Another BLAS kernel sums in another order; SGD can amplify that last-bit
difference, so on another machine allow ``ACC_TOL_POINTS`` test points per cell and
``MSQE_TOL_DECADES`` for the grid MSQE (measured with ``--emulate-other-blas``, which computes
every product in another summation order; see docs/training.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
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


ACC_TOL_POINTS = 10
"""Tolerance of a rerun on another machine, in test points (of ``n_test`` = 3000) per
(method, bits, seed) cell.  Measured with ``--emulate-other-blas``: only LSQ cells move, by
at most 6 points (docs/training.md); 10 leaves a margin for other summation orders."""
MSQE_TOL_DECADES = 0.1
"""Tolerance of the final grid MSQE on another machine, in decades (|log10 ratio|); measured
with ``--emulate-other-blas``: at most 0.021 (LSQ), < 1e-4 for QSin, MSQE and PTQ."""

_BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def run(cfg: ExperimentConfig = ExperimentConfig(), verbose: bool = False, *, hist_seed=None,
        emulate_other_blas: bool = False) -> dict:
    """Run the experiment in this process; returns a dict of arrays (the ``.npz`` layout).

    The weight histograms and the sandwich trace are recorded for ``hist_seed`` (default: the
    first seed) at ``cfg.hist_bits``.  BLAS threads are whatever this process has; use
    :func:`run_parallel` for the deterministic single-threaded runs.  ``emulate_other_blas``
    computes every matrix product of the MLP in another summation order
    (:func:`~quanttheory.training.mlp.split_matmul`), to measure the rerun tolerance."""
    if emulate_other_blas:
        saved = _mlp._matmul
        _mlp._matmul = _mlp.split_matmul
        try:
            return run(cfg, verbose, hist_seed=hist_seed)
        finally:
            _mlp._matmul = saved
    hist_seed = cfg.seeds[0] if hist_seed is None else hist_seed
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
                at_hist = seed == hist_seed and bits == cfg.hist_bits
                snaps = cfg.hist_epochs if (at_hist and name in ("QSin", "LSQ")) else ()
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
                if at_hist and name == "QSin":
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


def _worker(cfg: ExperimentConfig, hist_seed, emulate_other_blas) -> dict:
    return run(cfg, hist_seed=hist_seed, emulate_other_blas=emulate_other_blas)


def run_parallel(cfg: ExperimentConfig = ExperimentConfig(), jobs: int | None = None,
                 verbose: bool = False, *, emulate_other_blas: bool = False) -> dict:
    """:func:`run`, one child process per seed (at most ``jobs`` at a time, default
    ``min(#seeds, os.cpu_count())``), each with single-threaded BLAS; results merged.

    Bitwise equal to ``run(cfg)`` in a single-threaded process, whatever ``jobs`` is (tested).
    """
    from concurrent.futures import ProcessPoolExecutor
    import multiprocessing

    seeds = list(cfg.seeds)
    if jobs is None:
        jobs = min(len(seeds), os.cpu_count() or 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    t0 = time.perf_counter()
    saved = {k: os.environ.get(k) for k in _BLAS_ENV}
    try:
        # children are spawned (fresh interpreters) inside submit(): they read these at BLAS load
        os.environ.update({k: "1" for k in _BLAS_ENV})
        with ProcessPoolExecutor(max_workers=min(jobs, len(seeds)),
                                 mp_context=multiprocessing.get_context("spawn")) as ex:
            futs = [ex.submit(_worker, replace(cfg, seeds=(sd,)), seeds[0], emulate_other_blas)
                    for sd in seeds]
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            parts = []
            for sd, f in zip(seeds, futs):
                parts.append(f.result())
                if verbose:
                    p = parts[-1]
                    print(f"seed {sd}: " + "  ".join(f"{m} {' '.join(f'{a:.4f}' for a in p['acc'][i, :, 0])}"
                                                      for i, m in enumerate(METHODS)), flush=True)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    out = dict(parts[0])
    for k in ("acc", "grid_msqe"):
        out[k] = np.concatenate([p[k] for p in parts], axis=2)
    out["float_acc"] = np.concatenate([p["float_acc"] for p in parts])
    out["seeds"] = np.array(cfg.seeds)
    out["config"] = np.array(json.dumps(cfg.as_dict()))
    out["hist_counts"] = parts[0]["hist_counts"]
    out["seconds"] = np.array(time.perf_counter() - t0)
    return out


def compare(new: dict, ref: dict) -> dict:
    """Differences of a rerun ``new`` from the reference ``ref`` (same configuration).

    Returns ``acc_points`` (max |difference| in test points over all cells),
    ``msqe_decades`` (max |log10 ratio| of the final grid MSQEs), ``bitwise`` (every result
    array identical) and ``within_tolerance`` (``ACC_TOL_POINTS``, ``MSQE_TOL_DECADES``)."""
    if json.loads(str(new["config"])) != json.loads(str(ref["config"])):
        raise ValueError("the two results come from different experiment configurations")
    n_test = json.loads(str(ref["config"]))["n_test"]
    dacc = float(np.max(np.abs(new["acc"] - ref["acc"]))) * n_test
    dfl = float(np.max(np.abs(new["float_acc"] - ref["float_acc"]))) * n_test
    dm = float(np.max(np.abs(np.log10(new["grid_msqe"] / ref["grid_msqe"]))))
    keys = [k for k in ref if k not in ("seconds", "config")]
    bitwise = all(np.array_equal(np.asarray(new[k]), np.asarray(ref[k])) for k in keys)
    acc_points = max(dacc, dfl)
    return {"acc_points": round(acc_points, 6), "msqe_decades": dm, "bitwise": bitwise,
            "within_tolerance": acc_points <= ACC_TOL_POINTS and dm <= MSQE_TOL_DECADES}


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
    lines = ["| method | " + " | ".join(f"{b} bits" for b in bits) + " |",
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
    ap.add_argument("--out", help="output .npz file")
    ap.add_argument("--quick", action="store_true", help="tiny configuration (seconds)")
    ap.add_argument("--seeds", type=int, default=None, help="number of seeds 0..N-1 (default 5)")
    ap.add_argument("--jobs", type=int, default=None,
                    help="child processes running seeds in parallel (default: one per core)")
    ap.add_argument("--check", metavar="REF.npz", default=None,
                    help="compare the rerun with this results file (e.g. the committed one) and exit 1 "
                         "if it differs by more than the documented tolerance")
    ap.add_argument("--emulate-other-blas", action="store_true",
                    help="compute every matrix product in another summation order (measures how far "
                         "a rerun on another BLAS/CPU can move the results; use with --check)")
    ap.add_argument("--verbose", action="store_true", help="one line per seed")
    a = ap.parse_args(argv)
    if a.out is None and a.check is None:
        ap.error("give --out FILE.npz and/or --check REF.npz")
    cfg = QUICK if a.quick else ExperimentConfig()
    if a.seeds is not None:
        if a.seeds < 1:
            ap.error("--seeds must be >= 1")
        cfg = replace(cfg, seeds=tuple(range(a.seeds)))
    if a.jobs is not None and a.jobs < 1:
        ap.error("--jobs must be >= 1")
    ref = None
    if a.check is not None:
        if not Path(a.check).exists():
            ap.error(f"--check: no such file {a.check}")
        ref = load(a.check)
    res = run_parallel(cfg, jobs=a.jobs, verbose=a.verbose, emulate_other_blas=a.emulate_other_blas)
    print(table(res))
    print(f"\nmean grid-unit MSQE of the final weights (0 = categorical), bits {list(cfg.bits)}:")
    for m, name in enumerate(res["methods"]):
        print(f"  {name:10s} " + "  ".join(f"{v:.2e}" for v in res["grid_msqe"][m].mean(axis=1)))
    print(f"\nran in {float(res['seconds']):.1f} s wall")
    if a.out is not None:
        path = save(res, a.out)
        print(f"wrote {path} ({path.stat().st_size / 1024:.1f} KiB)")
    if ref is not None:
        c = compare(res, ref)
        print(f"check against {a.check}: bitwise identical: {c['bitwise']}; max accuracy difference "
              f"{c['acc_points']:g} test points (tolerance {ACC_TOL_POINTS}); max grid-MSQE difference "
              f"{c['msqe_decades']:.3g} decades (tolerance {MSQE_TOL_DECADES:g})")
        return 0 if c["within_tolerance"] else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
