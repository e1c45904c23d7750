"""Theorem 1 in practice: L_w between 4 MSQE_w and pi^2 MSQE_w along QSin training."""

from __future__ import annotations

import math

from ._common import pyplot, savefig
from ._training_data import results, subtitle

TITLE = "Training: Theorem-1 sandwich 4 MSQE_w <= L_w <= pi^2 MSQE_w along a QSin run"
ORDER = 320


def make(outdir, quick: bool = False, fmt: str = "png") -> list:
    res = results(quick, outdir)
    plt = pyplot()
    ep = res["sandwich_epoch"].astype(float)
    ms = res["sandwich_msqe"].astype(float)
    lw = res["sandwich_lw"].astype(float)
    lam = res["sandwich_lam_w"].astype(float)
    bits = int(res["hist_bits"])
    changes = [i for i in range(1, len(lam)) if lam[i] != lam[i - 1]]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.6))
    a1.plot(ep, math.pi**2 * ms.sum(axis=1), color="C3", lw=1.2, ls="--", zorder=3, label="π² · MSQE_w (upper)")
    a1.plot(ep, lw.sum(axis=1), color="k", lw=1.4, label="L_w = Σ s² mean QSin(W/s)")
    a1.plot(ep, 4 * ms.sum(axis=1), color="C0", lw=1, label="4 · MSQE_w (lower)")
    a1.set_yscale("log")
    a1.set_xlabel("epoch")
    a1.set_ylabel("data units²")
    a1.set_title(f"{bits}-bit QSin run, sum over layers")
    a1.legend(loc="lower left")
    for l in range(lw.shape[1]):
        a2.plot(ep, lw[:, l] / ms[:, l], lw=1, label=f"layer {l + 1}")
    a2.axhline(4, color="C0", ls="--", lw=0.8)
    a2.axhline(math.pi**2, color="C3", ls="--", lw=0.8)
    a2.text(ep[-1], 4, " a = 4", va="bottom", ha="right", fontsize=8, color="C0")
    a2.text(ep[-1], math.pi**2, "b' = π² ", va="top", ha="right", fontsize=8, color="C3")
    a2.set_ylim(3.5, 10.5)
    a2.set_xlabel("epoch")
    a2.set_ylabel("L_w / MSQE_w per layer")
    a2.set_title("ratio stays in [4, π²]; → π² as weights reach the grid")
    a2.legend(loc="center right")
    for ax in (a1, a2):
        for e in changes:
            ax.axvline(e, color="0.6", ls=":", lw=0.8)
    fig.suptitle(subtitle(res) + "  (dotted: lam_w x10)", fontsize=8)
    fig.tight_layout()
    return [savefig(fig, outdir, "training_sandwich", fmt)]
