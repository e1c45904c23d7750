"""Shared settings of the linear-model figures (private)."""

from __future__ import annotations

COLORS = {"vanilla": "black", "clamp": "tab:red", "const": "tab:blue", "std": "tab:green"}
LABELS = {"vanilla": "vanilla", "clamp": "clamp S3", "const": "const rescale S8", "std": "std rescale S9"}


def sim_settings(quick: bool) -> dict:
    """Simulation sizes: quick mode for smoke tests, full mode a few seconds per figure."""
    if quick:
        return dict(N=40, seeds=3, steps=150, record=8)
    return dict(N=100, seeds=8, steps=1000, record=22)


def plot_band(ax, x, res, which, color, label, ls="-"):
    mean = res.mean_g if which == "g" else res.mean_t
    lo, hi = res.band_g if which == "g" else res.band_t
    m = x > 0
    ax.plot(x[m], mean[m], color=color, ls=ls, lw=1.3, label=label)
    ax.fill_between(x[m], lo[m], hi[m], color=color, alpha=0.18, lw=0)
