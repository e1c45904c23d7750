"""Quantized test accuracy vs bits for the training methods, and how categorical the weights end up."""

from __future__ import annotations

import numpy as np

from ._common import pyplot, savefig
from ._training_data import DATA, results, subtitle  # noqa: F401  (DATA used by tests)

TITLE = "Training: quantized accuracy vs bits (float+PTQ, QSin, MSQE, pi^2 MSQE, SinReQ, LSQ), mean +- std over seeds"
ORDER = 310


def make(outdir, quick: bool = False, fmt: str = "png") -> list:
    res = results(quick, outdir)
    plt = pyplot()
    bits = np.asarray(res["bits"], dtype=int)
    acc = 100 * res["acc"]
    gm = res["grid_msqe"]
    S = acc.shape[2]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    markers = "osDP^v"
    for m, name in enumerate(res["methods"]):
        off = (m - 2.5) * 0.06
        sd = acc[m].std(axis=1, ddof=1) if S > 1 else np.zeros(len(bits))
        a1.errorbar(bits + off, acc[m].mean(axis=1), yerr=sd, marker=markers[m], ms=4, capsize=3,
                    label=str(name))
        a2.plot(bits + off, gm[m].mean(axis=1), marker=markers[m], ms=4, label=str(name))
    fa = 100 * res["float_acc"]
    a1.axhline(fa.mean(), color="k", ls="--", lw=0.8, label="float (unquantized)")
    a1.axhline(100 / 3, color="0.6", ls=":", lw=0.8, label="chance")
    a1.set_xticks(bits)
    a1.set_xlabel("bits (weights and hidden activations)")
    a1.set_ylabel("test accuracy of the quantized network (%)")
    a1.set_title(f"accuracy, mean ± std over {S} seed(s)")
    a1.legend(loc="lower right")
    a2.axhline(1 / 12, color="0.6", ls=":", lw=0.8, label="1/12 (uniform in each cell)")
    a2.set_yscale("log")
    a2.set_xticks(bits)
    a2.set_xlabel("bits")
    a2.set_ylabel("mean MSQE(W / s_w) of final weights (grid units)")
    a2.set_title("distance of the weights from the grid (0 = categorical)")
    a2.legend(loc="best", fontsize=7)
    fig.suptitle(subtitle(res), fontsize=8)
    fig.tight_layout()
    return [savefig(fig, outdir, "training_bits", fmt)]
