"""Linear model: training / generalization curves for vanilla, clamp S3, S8 and S9 (SAT Fig. 2a/2b analogue)."""

from __future__ import annotations


from ._common import pyplot, savefig
from ._linear_common import COLORS, LABELS, plot_band, sim_settings

TITLE = "Linear model: E_t, E_g under clamping/rescaling, theory vs simulation (SAT S1)"
ORDER = 200

ALPHA = 0.5
SIGMA_W, SIGMA_W0, SIGMA_EPS = 1.0, 1.0, 0.3
REGIMES = (
    ("unit", 0.01, "NN units: x~N(0,I), W(0)~N(0,1/N), n_hat=N"),
    ("1/N", 0.01, "spec units: x~N(0,I/N), W(0)~N(0,1), n_hat=1"),
)


def make(outdir, quick=False, fmt="png"):
    from ..linear import learning_curves, simulate, TRANSFORMS, effective_parameters

    plt = pyplot()
    st = sim_settings(quick)
    fig, axes = plt.subplots(2, 2, figsize=(8.6, 6.4))
    for row, (inputs, eta_th, title) in enumerate(REGIMES):
        N = st["N"]
        x2 = 1.0 if inputs == "unit" else 1.0 / N
        eta = eta_th / (N * x2)
        for tr in TRANSFORMS:
            r = simulate(N=N, alpha=ALPHA, eta=eta, steps=st["steps"], transform=tr, sigma_w=SIGMA_W,
                         sigma_w0=SIGMA_W0, sigma_eps=SIGMA_EPS, inputs=inputs, seeds=st["seeds"],
                         rng=1, record=st["record"])
            for col, which in enumerate("tg"):
                plot_band(axes[row, col], r.t, r, which, COLORS[tr], LABELS[tr])
            if tr in ("vanilla", "clamp"):
                ep = effective_parameters(r)
                tt = r.t[r.t > 0]
                th = learning_curves(tt * ep.time_scale, ALPHA, SIGMA_W, ep.sigma_w0_eff, SIGMA_EPS)
                lab = "exact theory" if tr == "vanilla" else f"linearized theory (gain {ep.time_scale:.3g})"
                for col, y in enumerate((th.E_t, th.E_g)):
                    axes[row, col].plot(tt, y, color=COLORS[tr], ls="--" if tr == "vanilla" else ":",
                                        lw=1.6, label=lab)
        for col, name in enumerate(("training error E_t", "generalization error E_g")):
            ax = axes[row, col]
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("t = eta N x_scale^2 steps (vanilla time)")
            ax.set_ylabel(name)
            ax.set_title(title, fontsize=8)
            ax.grid(alpha=0.3, lw=0.4)
        axes[row, 0].set_ylim(1e-4, None)
    axes[0, 0].legend(loc="lower left", fontsize=6.5)
    fig.suptitle(f"alpha={ALPHA}, sigma_w={SIGMA_W}, sigma_w0={SIGMA_W0}, sigma_eps={SIGMA_EPS}, "
                 f"eta N x_scale^2={REGIMES[0][1]}; N={st['N']}, {st['seeds']} seeds, 95% bands", fontsize=8)
    fig.tight_layout()
    return [savefig(fig, outdir, "linear_curves", fmt)]
