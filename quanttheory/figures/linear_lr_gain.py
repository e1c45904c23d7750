"""Learning-rate amplification by the clamp S3: measured (dW^/dW)^2 vs n_hat, seed vs corrected law."""

from __future__ import annotations

import numpy as np

from ._common import pyplot, savefig

TITLE = "Clamp S3 learning-rate gain (dW^/dW)^2 vs n_hat: order n_hat/(2c ln M), not 'twofold'"
ORDER = 203

C = 1.0


def make(outdir, quick=False, fmt="png"):
    from ..linear import measure_amplification

    plt = pyplot()
    nh = np.geomspace(1, 1e4, 5 if quick else 17)
    Ms = (100, 10_000) if quick else (100, 3_000, 100_000)
    r = measure_amplification(nh, M=Ms, c=C, reps=3 if quick else 4, rng=3)
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    cols = ("tab:blue", "tab:orange", "tab:purple")
    for i, M in enumerate(r.M):
        ax.errorbar(nh, r.measured[i], yerr=2 * r.stderr[i], fmt="o", ms=3, color=cols[i],
                    label=f"measured, M = {M:,}")
        ax.plot(nh, r.exact_tanh[i], "-", color=cols[i], lw=1, label=f"E[sech^4] E[1/max tanh^2], M = {M:,}")
        ax.plot(nh, r.log_law[i], ":", color=cols[i], lw=1.2, label=f"n_hat/(2c ln M), M = {M:,}")
    ax.plot(nh, nh, "k--", lw=1, label="seed S7 squared: n_hat")
    ax.axhline(2.0, color="tab:red", lw=1.2, ls="-.", label="seed: 'twofold'")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("n_hat   (weights ~ N(0, c/n_hat), c = 1)")
    ax.set_ylabel("mean (dW^/dW)^2 = sech^4 W / max tanh^2 W")
    ax.grid(alpha=0.3, lw=0.4)
    ax.legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    return [savefig(fig, outdir, "linear_lr_gain", fmt)]
