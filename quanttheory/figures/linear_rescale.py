"""Linear model: constant (S8) vs std (S9) rescaling learning curves (SAT Fig. S1 analogue)."""

from __future__ import annotations

from ._common import pyplot, savefig
from ._linear_common import COLORS, LABELS, plot_band, sim_settings

TITLE = "Linear model: constant (S8) vs std (S9) rescaling of clamped weights (SAT Fig. S1)"
ORDER = 201

ALPHA, SIGMA_W, SIGMA_EPS, ETA_TH = 0.5, 1.0, 0.3, 0.01
INIT_STDS = (1.0, 0.4)  # sigma_w0 in output units: W(0) ~ N(0, sigma_w0^2 / N) in NN units


def make(outdir, quick=False, fmt="png"):
    from ..linear import learning_curves, simulate

    plt = pyplot()
    st = sim_settings(quick)
    N = st["N"]
    fig, axes = plt.subplots(2, 2, figsize=(8.6, 6.2))
    for row, s0 in enumerate(INIT_STDS):
        for tr in ("vanilla", "const", "std"):
            r = simulate(N=N, alpha=ALPHA, eta=ETA_TH / N, steps=st["steps"], transform=tr, sigma_w=SIGMA_W,
                         sigma_w0=s0, sigma_eps=SIGMA_EPS, inputs="unit", seeds=st["seeds"], rng=2,
                         record=st["record"])
            for col, which in enumerate("tg"):
                plot_band(axes[row, col], r.t, r, which, COLORS[tr], LABELS[tr])
        tt = r.t[r.t > 0]
        th = learning_curves(tt, ALPHA, SIGMA_W, s0, SIGMA_EPS)
        th1 = learning_curves(tt, ALPHA, SIGMA_W, 1.0, SIGMA_EPS)
        for col, (y, y1) in enumerate(((th.E_t, th1.E_t), (th.E_g, th1.E_g))):
            ax = axes[row, col]
            ax.plot(tt, y, "k--", lw=1.4, label=f"theory, sigma_w0={s0:g}")
            if s0 != 1.0:
                ax.plot(tt, y1, color="tab:blue", ls=":", lw=1.6, label="theory, sigma_w0=1 (S8 target)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("t = eta N steps")
            ax.set_ylabel(("training error E_t", "generalization error E_g")[col])
            ax.set_title(f"NN units, W(0) ~ N(0, {s0:g}^2/N), n_hat = N", fontsize=8)
            ax.grid(alpha=0.3, lw=0.4)
        axes[row, 0].set_ylim(1e-4, None)
        axes[row, 0].legend(loc="lower left", fontsize=6.5)
    fig.suptitle(f"S8 fixes VAR[W*] = 1/n_hat (output variance 1); S9 keeps VAR[W]. alpha={ALPHA}, "
                 f"sigma_eps={SIGMA_EPS}, N={N}, {st['seeds']} seeds, 95% bands", fontsize=8)
    fig.tight_layout()
    return [savefig(fig, outdir, "linear_rescale", fmt)]
