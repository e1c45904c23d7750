"""MSE landscape of a 4-bit affine quantizer over (scale, zero-point) for two skewed laws.

Left: Laplace(1, 1) (shifted, both tails clipped asymmetrically); right: ReLU(N(0.3, 1))
(an atom at 0 and one long tail).  Colour: ``log10(MSE(s, z) / MSE*)`` from the exact
closed-form MSE (:mod:`quanttheory.affine._kernels`).  Markers: the certified joint optimum
(:func:`quanttheory.affine.optimal_affine`, star), the real-offset optimum plotted at its real
zero-point ``-m/s`` (diamond), and the baselines run on a seeded sample of 10^5 values
(:mod:`quanttheory.affine.baselines`; 2 x 10^4 in quick mode): min-max observer, the symmetric optimum (z = 8),
the 17 x 22 grid, HQQ-style and llama.cpp-style (real offsets at ``-m/s``).
The legend gives each one's MSE excess over the optimum of its form (exact, under the law).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import pyplot, savefig

TITLE = "Affine 4-bit MSE landscape over (scale, zero-point) with the optimum and the baselines"
ORDER = 60
BITS = 4


def _landscape(dist, ss, bits):
    from ..affine.parametric import _Law

    L = _Law(dist)
    N = 2**bits - 1
    zs = np.arange(N + 1)
    Z, S = np.meshgrid(zs, ss, indexing="ij")
    lv = (np.arange(N + 1)[None, :] - Z.ravel()[:, None]) * S.ravel()[:, None]
    v, _ = L.value(lv)
    return v.reshape(Z.shape)


def make(outdir, quick: bool = False, fmt: str = "png") -> list[Path]:
    from ..affine import baselines as BL
    from ..affine.parametric import _Law, _offset_mse_exact, optimal_affine, optimal_offset
    from ..affine.grid import ShiftedGrid
    from ..laws import Laplace, Normal, ReLU
    from ..risk import mse as engine_mse

    plt = pyplot()
    laws = [Laplace(1.0, 1.0), ReLU(Normal(0.3, 1.0))]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    rng = np.random.default_rng(0)
    N = 2**BITS - 1
    for ax, d in zip(axes, laws):
        a = optimal_affine(d, BITS)
        o = optimal_offset(d, BITS, max_boxes=2000 if quick else 20000)
        ss = a.scale * np.geomspace(0.4, 2.5, 80 if quick else 300)
        V = _landscape(d, ss, BITS)
        im = ax.pcolormesh(ss, np.arange(N + 1), np.log10(V / a.mse), shading="nearest", cmap="viridis",
                           vmin=0.0, vmax=1.5)
        ax.set_xscale("log")
        ax.plot([a.scale], [a.zero_point], marker="*", ms=14, color="red", ls="",
                label=f"optimum (s, z): MSE {a.mse:.4g}")
        ax.plot([o.scale], [-o.offset / o.scale], marker="D", ms=7, mfc="none", mec="red", ls="",
                label=f"real-offset optimum: {100 * (o.mse / a.mse - 1):+.1f} %")
        x = d.sample(rng, 20_000 if quick else 100_000)
        marks = {"minmax": ("o", "white"), "symmetric_optimum": ("s", "orange"), "grid374": ("^", "cyan"),
                 "hqq": ("v", "magenta"), "llamacpp": ("P", "yellow")}
        for f in BL.ALL:
            st = f(x, BITS)
            if st.zero_point is not None:
                v = float(engine_mse(d, np.array([st.scale]), ShiftedGrid(BITS, False, st.zero_point))[0])
                ex = 100 * (v / a.mse - 1)
                zz = st.zero_point
            else:
                v = _offset_mse_exact(d, _Law(d), BITS, st.scale, st.offset)
                ex = 100 * (v / o.mse - 1)
                zz = -st.offset / st.scale
            mk, col = marks[f.__name__]
            s_plot = min(max(st.scale, ss[0]), ss[-1])
            ax.plot([s_plot], [zz], marker=mk, ms=7, color=col, mec="black", mew=0.5, ls="",
                    label=f"{st.name}: {ex:+.1f} %" + ("" if s_plot == st.scale else " (s off-axis)"))
        ax.set_xlabel("scale s (log)")
        ax.set_ylabel("zero-point z  (real offsets at -m/s)")
        ax.set_ylim(-0.7, N + 0.7)
        ax.set_title(f"{d}, {BITS} bits: log10 MSE(s, z) / MSE*")
        ax.legend(loc="upper left", fontsize=6.5, framealpha=0.85)
        fig.colorbar(im, ax=ax, shrink=0.85)
    return [savefig(fig, outdir, "affine", fmt, dpi=80 if quick else None)]
