"""Results behind the training_* figures: the committed file, or a tiny live run (quick)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data" / "training.npz"
COMMAND = "python -m quanttheory.training.experiments --out quanttheory/figures/data/training.npz"

_quick_cache: dict = {}


def results(quick: bool) -> dict:
    """Full mode: load :data:`DATA` (produced by :data:`COMMAND`).  Quick mode: run
    the tiny ``experiments.QUICK`` configuration live (about a second), once per process."""
    from ..training import experiments

    if quick:
        if "res" not in _quick_cache:
            _quick_cache["res"] = experiments.run(experiments.QUICK)
        return _quick_cache["res"]
    if not DATA.exists():
        raise ValueError(f"training results file {DATA} is missing; regenerate it with: {COMMAND}")
    return experiments.load(DATA)


def subtitle(res: dict) -> str:
    import json

    cfg = json.loads(str(res["config"]))
    ft = cfg["finetune"]
    return (f"spirals, MLP 2-{'-'.join(map(str, cfg['hidden']))}-3, {len(cfg['seeds'])} seed(s); "
            f"fine-tune {ft['epochs']} epochs, lam_w={ft['lam_w']:g} x10 at epochs {ft['milestones']}")
