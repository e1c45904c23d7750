"""Results behind the training_* figures: a fresh run of the experiment (full mode) or a tiny one (quick).

Full mode reruns ``experiments.ExperimentConfig()`` (5 seeds, about 170 s of CPU; the seeds run
in parallel child processes with single-threaded BLAS, so about 1.5 min on 2 free cores) once
per process, writes the rerun's numbers to ``<outdir>/training_results.npz`` and prints how far
they are from the committed reference :data:`DATA`.  Set the environment variable
``QUANTTHEORY_TRAINING_RESULTS=<file.npz>`` to plot a stored results file instead (e.g. the
committed one, for a re-plot in seconds).  Quick mode runs ``experiments.QUICK`` live (about a
second).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA = Path(__file__).parent / "data" / "training.npz"
COMMAND = "python -m quanttheory.training.experiments --out quanttheory/figures/data/training.npz"
ENV = "QUANTTHEORY_TRAINING_RESULTS"
RESULTS_NAME = "training_results.npz"

_cache: dict = {}


def results(quick: bool, outdir=None) -> dict:
    """The experiment's results for the figures (see the module docstring)."""
    from ..training import experiments

    if quick:
        if "quick" not in _cache:
            _cache["quick"] = experiments.run(experiments.QUICK)
        return _cache["quick"]
    stored = os.environ.get(ENV)
    if stored:
        if not Path(stored).is_file():
            raise ValueError(f"{ENV}={stored!r} is not a file; unset it to rerun the training "
                             f"or point it to a results file written by: {COMMAND}")
        return experiments.load(stored)
    if "full" not in _cache:
        res = experiments.run_parallel(experiments.ExperimentConfig())
        msg = f"training experiment rerun in {float(res['seconds']):.0f} s"
        if outdir is not None:
            path = experiments.save(res, Path(outdir) / RESULTS_NAME)
            msg += f", numbers in {path}"
        if DATA.exists():
            c = experiments.compare(res, experiments.load(DATA))
            msg += (f"; vs committed {DATA.name}: bitwise identical {c['bitwise']}, max difference "
                    f"{c['acc_points']:g} test points (tolerance {experiments.ACC_TOL_POINTS})")
        print(msg, flush=True)
        _cache["full"] = res
    return _cache["full"]


def subtitle(res: dict) -> str:
    import json

    cfg = json.loads(str(res["config"]))
    ft = cfg["finetune"]
    return (f"spirals, MLP 2-{'-'.join(map(str, cfg['hidden']))}-3, {len(cfg['seeds'])} seed(s); "
            f"fine-tune {ft['epochs']} epochs, lam_w={ft['lam_w']:g} x10 at epochs {ft['milestones']}")
