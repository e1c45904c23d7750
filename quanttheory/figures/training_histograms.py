"""Weight histograms over training, QSin vs LSQ (analogue of ECCV App. C, Fig. 1)."""

from __future__ import annotations

from ._common import pyplot, savefig
from ._training_data import results, subtitle

TITLE = "Training: per-layer weight histograms (grid units) over epochs, QSin vs LSQ"
ORDER = 300


def make(outdir, quick: bool = False, fmt: str = "png") -> list:
    res = results(quick, outdir)
    plt = pyplot()
    counts = res["hist_counts"]  # (method, epoch, layer, bin)
    edges = res["hist_edges"]
    epochs = res["hist_epochs"]
    methods = [str(m) for m in res["hist_methods"]]
    bits = int(res["hist_bits"])
    r_b, r_t = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    n_m, n_e, n_l, _ = counts.shape
    fig, axes = plt.subplots(n_l * n_m, n_e, figsize=(2.6 * n_e, 1.35 * n_l * n_m + 0.8),
                             sharex=True, squeeze=False)
    colors = {"QSin": "C0", "LSQ": "C1"}
    for li in range(n_l):
        for mi, name in enumerate(methods):
            row = li * n_m + mi
            for ei in range(n_e):
                ax = axes[row, ei]
                c = counts[mi, ei, li].astype(float)
                frac = c / max(c.sum(), 1.0)
                ax.stairs(frac, edges, fill=True, color=colors.get(name, "C2"), lw=0)
                ax.axvline(r_b, color="0.5", lw=0.6, ls=":")
                ax.axvline(r_t, color="0.5", lw=0.6, ls=":")
                ax.set_ylim(0, max(frac.max() * 1.1, 1e-3))
                ax.tick_params(labelleft=False, left=False)
                if row == 0:
                    ax.set_title(f"epoch {int(epochs[ei])}")
                if ei == 0:
                    ax.set_ylabel(f"{name}\nlayer {li + 1}", rotation=0, ha="right", va="center")
    for ax in axes[-1]:
        ax.set_xlabel("W / s_w (grid units)")
        ax.set_xticks(range(r_b, r_t + 1, max(1, (r_t - r_b + 1) // 8)))
    fig.suptitle(f"{bits}-bit weights W/s_w with the learned scale (seed 0): QSin pulls them onto the grid "
                 f"(categorical); LSQ's latent weights stay spread\n{subtitle(res)}", fontsize=9)
    fig.tight_layout()
    return [savefig(fig, outdir, "training_histograms", fmt)]
