"""Linear model: the seed's S1 against the exact t->inf limit and the early-stopped optimum of E_g."""

from __future__ import annotations

import numpy as np

from ._common import pyplot, savefig

TITLE = "Linear model: seed S1 vs exact E_g(inf) and optimal early stopping, versus alpha"
ORDER = 202

NOISES = (0.1, 0.5)


def make(outdir, quick=False, fmt="png"):
    from ..linear import s1_comparison

    plt = pyplot()
    n = 8 if quick else 50
    alphas = np.unique(np.concatenate([np.geomspace(0.05, 0.98, n // 2), [1.0], np.geomspace(1.02, 8, n // 2)]))
    fig, axes = plt.subplots(1, 2, figsize=(8.6, 3.5))
    for ax, se in zip(axes, NOISES):
        c = s1_comparison(alphas, sigma_w=1.0, sigma_w0=0.0, sigma_eps=se)
        ax.plot(c.alpha, c.exact_inf, "k-", lw=1.5, label="exact E_g(t -> inf)")
        ax.plot(c.alpha, c.exact_opt, color="tab:green", lw=1.5, label="exact E_g at optimal stopping")
        ax.plot(c.alpha, c.seed, color="tab:red", ls="--", lw=1.5, label="seed S1")
        one = np.flatnonzero(c.alpha == 1.0)
        ax.plot(c.alpha[one], c.seed[one], "o", color="tab:red", ms=4)
        ax.axhline(se * se, color="gray", lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(se * se * 0.7, 30)
        ax.set_xlabel("alpha = P / N")
        ax.set_ylabel("generalization error")
        ax.set_title(f"sigma_w = 1, sigma_w0 = 0, sigma_eps = {se:g}", fontsize=8)
        ax.grid(alpha=0.3, lw=0.4)
    axes[0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return [savefig(fig, outdir, "linear_s1", fmt)]
