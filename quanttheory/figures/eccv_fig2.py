"""ECCV 2022 supplement, Fig. 2: ``QSin[xi](s)`` and ``MSQE[xi](s)`` for four laws, 4 and 8 bits.

Curves (exact, :func:`quanttheory.risk.risk_curve`, relative error <= 1e-12)::

    MSQE[xi](s) = pi**2 s**2 E[MSQE(xi / s)] = pi**2 E[(xi - Q_U(xi))**2]
    QSin[xi](s) = s**2 E[QSin(xi / s)]

on a log ``s`` axis wide enough to show both limits: as ``s -> 0`` and as
``s -> inf`` both curves tend to ``pi**2 E[xi**2]`` (drawn solid grey).  The
seed states ``pi**2 Var(xi)``; for the ReLU laws (``E[xi] != 0``) that value is
drawn dashed red for contrast.  Both minima are marked and labelled with ``s*``.

Grids: N(0,1) and Laplace(0,1) use the signed grid ``[-2^(b-1), 2^(b-1)-1]``;
the ReLU laws use the unsigned grid ``[0, 2^b - 1]`` in the main figure (natural
for ReLU outputs) and the signed grid in the ``*_signed`` variant files.

Files: ``eccv_fig2.<fmt>`` (2x4 grid: rows 4 and 8 bits), one file per panel
``eccv_fig2_<law>_<b>bit.<fmt>``, and the signed-grid ReLU variants
``eccv_fig2_<relu law>_<b>bit_signed.<fmt>`` plus their 2x2 grid
``eccv_fig2_relu_signed.<fmt>``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..formats.grid import Grid
from ._common import pyplot, savefig
from ._optima import LAWS, grid_label, optimum, pow10_label

TITLE = "ECCV Fig. 2: QSin[xi](s) vs MSQE[xi](s), N / Laplace (+ReLU), 4 and 8 bits"
ORDER = 10

LAW_ORDER = ("normal", "relu_normal", "laplace", "relu_laplace")
BITS = (4, 8)
S_RANGE = {4: (1e-5, 1e3), 8: (1e-6, 1e3)}
"""Plotted ``s`` range per bit width: at the left end both curves are within
~1e-3 of their limit (clipping dominates), at the right end QSin is within ~1e-5."""

COLORS = {"msqe": "#1f77b4", "qsin": "#d62728"}
CAPTION = ("Exact QSin[xi](s) and MSQE[xi](s) (the latter with the paper's pi^2 factor). "
           "Grids: N(0,1), Laplace(0,1) signed [-2^(b-1), 2^(b-1)-1]; "
           "ReLU laws unsigned [0, 2^b-1]. Solid grey: the true limit pi^2 E[xi^2] (s->0 and s->inf); "
           "dashed: the seed's pi^2 Var(xi), wrong when E[xi] != 0.")


class Panel(NamedTuple):
    law: str
    bits: int
    signed: bool


def panels(signed_relu: bool = False) -> list[Panel]:
    """The eight panels of the main figure (or, ``signed_relu=True``, the four signed ReLU variants)."""
    if signed_relu:
        return [Panel(law, b, True) for b in BITS for law in LAW_ORDER if LAWS[law][0].relu]
    return [Panel(law, b, not LAWS[law][0].relu) for b in BITS for law in LAW_ORDER]


def stem(p: Panel) -> str:
    suffix = "_signed" if (LAWS[p.law][0].relu and p.signed) else ""
    return f"eccv_fig2_{p.law}_{p.bits}bit{suffix}"


class PanelData(NamedTuple):
    scales: np.ndarray
    msqe: np.ndarray
    qsin: np.ndarray
    opt_msqe: object
    opt_qsin: object
    limit: float
    seed_limit: float
    msqe_at_qsin: float


def panel_data(p: Panel, npoints: int) -> PanelData:
    """Curves on ``npoints`` log-spaced scales plus both optima and both limits."""
    from ..risk import risk_curve

    dist = LAWS[p.law][0]
    grid = Grid(p.bits, p.signed)
    s = np.geomspace(*S_RANGE[p.bits], npoints)
    om, oq = optimum(p.law, p.bits, p.signed, "msqe"), optimum(p.law, p.bits, p.signed, "qsin")
    return PanelData(s, risk_curve(dist, s, grid, "msqe"), risk_curve(dist, s, grid, "qsin"), om, oq,
                     math.pi**2 * dist.second_moment(), math.pi**2 * dist.var(),
                     float(risk_curve(dist, [oq.scale], grid, "msqe")[0]))


def _ticks(ax) -> None:
    """Major ticks only (every other decade on x): keeps the log axes legible and fast to render."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    ax.xaxis.set_major_locator(LogLocator(base=100.0))
    ax.yaxis.set_major_locator(LogLocator(base=10.0, numticks=8))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(pow10_label))
    ax.yaxis.set_major_formatter(FuncFormatter(pow10_label))


def _draw(ax, p: Panel, d: PanelData, *, big: bool) -> None:
    dist, tex, _ = LAWS[p.law]
    grid = Grid(p.bits, p.signed)
    fs = 8.0 if big else 7.0
    ax.loglog(d.scales, d.msqe, color=COLORS["msqe"], lw=1.4, label="MSQE[\u03be](s)")
    ax.loglog(d.scales, d.qsin, color=COLORS["qsin"], lw=1.4, label="QSin[\u03be](s)")
    # limits: the curves approach them from below; the legend sits in the empty band above
    ax.axhline(d.limit, color="0.4", lw=1.0, label=f"limit \u03c0\u00b2E[\u03be\u00b2] = {d.limit:.3f}")
    if dist.relu:
        ax.axhline(d.seed_limit, color="#8c1010", lw=1.0, ls=(0, (4, 3)),
                   label=f"seed: \u03c0\u00b2Var(\u03be) = {d.seed_limit:.3f} (wrong)")
    lo = min(d.opt_msqe.risk, d.opt_qsin.risk)
    ax.set_ylim(lo / 4, d.limit * 10 ** (0.35 * math.log10(d.limit * 4 / lo)))
    ax.set_xlim(d.scales[0], d.scales[-1])
    # minima: markers at (s*, R*); labels stacked at the lower right
    for k, (o, name) in enumerate(((d.opt_msqe, "msqe"), (d.opt_qsin, "qsin"))):
        c = COLORS[name]
        ax.plot([o.scale], [o.risk], "o" if name == "msqe" else "s", ms=5 if big else 4, mfc="none", mec=c,
                mew=1.3, zorder=5)
        ax.axvline(o.scale, color=c, lw=0.6, ls=":", zorder=1)
        lab = "MSQE" if name == "msqe" else "QSin"
        ax.annotate(f"s* {lab} = {o.scale:.4g}", xy=(0.985, 0.25 - 0.09 * k),
                    xycoords="axes fraction", ha="right", va="bottom", color=c, fontsize=fs + 0.5)
    excess = d.msqe_at_qsin / d.opt_msqe.risk - 1
    ax.annotate(f"MSQE excess: {100 * excess:.2f}%", xy=(0.985, 0.04),
                xycoords="axes fraction", ha="right", va="bottom", color="0.15", fontsize=fs)
    ax.set_xlabel("scale factor s")
    ax.set_ylabel("risk (data units\u00b2)")
    ax.set_title(f"{tex}, {p.bits} bit ({grid_label(grid)} grid)", fontsize=9.5 if big else 8.5)
    ax.grid(True, which="major", lw=0.3, color="0.85")
    _ticks(ax)
    ax.legend(loc="upper center", ncol=2, fontsize=fs, framealpha=0.95, columnspacing=1.0,
              handlelength=1.8, borderaxespad=0.3)


def make(outdir, quick: bool = False, fmt: str = "png") -> list[Path]:
    """Write the eight panels, the 2x4 grid and the signed-grid ReLU variants; return the paths."""
    plt = pyplot()
    npts = 60 if quick else 600
    dpi = 50 if quick else None
    out: list[Path] = []
    for signed_relu in (False, True):
        ps = panels(signed_relu)
        data = [panel_data(p, npts) for p in ps]
        for p, d in zip(ps, data):
            fig, ax = plt.subplots(figsize=(5.2, 3.8))
            fig.subplots_adjust(left=0.13, right=0.97, bottom=0.13, top=0.92)
            _draw(ax, p, d, big=True)
            out.append(savefig(fig, outdir, stem(p), fmt, dpi=dpi))
        ncol = len(ps) // len(BITS)
        fig, axes = plt.subplots(len(BITS), ncol, figsize=(4.1 * ncol, 6.9))
        fig.subplots_adjust(left=0.06 if ncol > 2 else 0.1, right=0.99, bottom=0.08, top=0.89, wspace=0.25,
                            hspace=0.32)
        for ax, p, d in zip(axes.ravel(), ps, data):
            _draw(ax, p, d, big=False)
        if signed_relu:
            fig.suptitle("ECCV Fig. 2 variant: ReLU laws on the SIGNED grid [-2^(b-1), 2^(b-1)-1] "
                         "(half of the levels unused)", fontsize=10)
            out.append(savefig(fig, outdir, "eccv_fig2_relu_signed", fmt, dpi=dpi))
        else:
            fig.suptitle("ECCV Fig. 2 (exact): N, Laplace on signed grids; ReLU laws on unsigned grids "
                         "[0, 2^b-1]. Both curves tend to \u03c0\u00b2E[\u03be\u00b2] as s \u2192 0 and s \u2192 \u221e",
                         fontsize=10)
            out.append(savefig(fig, outdir, "eccv_fig2", fmt, dpi=dpi))
    return out


# ---------------------------------------------------------------------------
# the seed's "monotonically tend to pi^2 Var(xi)" claim, checked numerically
# ---------------------------------------------------------------------------

class LimitCheck(NamedTuple):
    """How a risk curve approaches its limits (see :func:`limit_check`).

    dev_small, dev_large : ``R(s)/L - 1`` at the smallest / largest scale tried (``L = pi^2 E[xi^2]``).
    max_above : ``max_s R(s)/L - 1`` (<= 0 means the limit is approached from below).
    rises_left : largest relative increase ``(R(s_{i+1}) - R(s_i)) / L`` for ``s_{i+1} <= s*``
        (<= noise means ``R`` decreases monotonically from ``s -> 0`` to ``s*``).
    falls_right : largest relative decrease for ``s_i >= s*`` (<= noise: monotone increase to the limit).
    seed_gap : ``Var(xi)/E[xi**2] - 1``, the seed's relative error on the limit.
    """

    dev_small: float
    dev_large: float
    max_above: float
    rises_left: float
    falls_right: float
    seed_gap: float


def limit_check(law: str, bits: int, signed: bool, reg: str, s_min: float = 1e-9, s_max: float = 1e7,
                per_decade: int = 200) -> LimitCheck:
    """Check numerically that ``R(s) -> pi^2 E[xi^2]`` monotonically at both ends.

    The curve is evaluated on ``per_decade`` log-spaced points per decade of
    ``[s_min, s_max]``; monotonicity is checked on each side of the minimizer.
    """
    from ..risk import risk_curve

    dist = LAWS[law][0]
    grid = Grid(bits, signed)
    L = math.pi**2 * dist.second_moment()
    n = int(round(per_decade * math.log10(s_max / s_min))) + 1
    s = np.geomspace(s_min, s_max, n)
    r = risk_curve(dist, s, grid, reg)
    i = int(np.argmin(r))
    dl = np.diff(r[: i + 1]) / L
    dr = np.diff(r[i:]) / L
    return LimitCheck(float(r[0] / L - 1), float(r[-1] / L - 1), float(r.max() / L - 1),
                      float(dl.max()) if dl.size else -math.inf, float((-dr).max()) if dr.size else -math.inf,
                      float(dist.var() / dist.second_moment() - 1))
