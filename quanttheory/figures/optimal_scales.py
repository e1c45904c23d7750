"""Optimal-scale table (MSQE vs QSin) and the MSQE excess of the QSin optimum against bits.

For each law of the paper (N(0,1), Laplace(0,1) and both after ReLU), each grid
kind (signed ``[-2^(b-1), 2^(b-1)-1]``, unsigned ``[0, 2^b-1]``) and bits 2..8 and 16:

* ``s_msqe = argmin_s MSQE[xi](s)`` and ``s_qsin = argmin_s QSin[xi](s)``;
* ``rel_gap = s_qsin / s_msqe - 1``;
* ``msqe_min_pi2 = MSQE[xi](s_msqe) = pi**2 E[(xi - Q(xi))**2]`` (the paper's convention)
  and ``mse_min = E[(xi - Q(xi))**2]`` (plain MSE);
* ``msqe_excess = MSQE[xi](s_qsin) / MSQE[xi](s_msqe) - 1``, the relative MSQE lost
  by using QSin's optimum (the same number as ``optimal_scale(..., "qsin").msqe_excess``),
  and ``bits_lost = log2(1 + msqe_excess) / 2``: MSQE scales like ``4**-b``, so this
  is the bit width the excess is worth.

N(0,1) and Laplace(0,1) on an *unsigned* grid: every ``xi < 0`` quantizes to 0
and costs ``pi**2 xi**2`` under both MSQE and QSin (QSin's lower tail is
``pi**2 (u - 0)**2``), so both risk curves equal the ReLU law's plus the
constant ``pi**2 E[xi**2; xi < 0]``: the minimizers are those of the ReLU law
(computed on that better-conditioned curve) and the risks are reported for the
law itself.  Their excess is tiny only because the constant dominates.

Files: ``optimal_scales.csv`` (every row, 10 significant digits),
``optimal_scales.md`` (summaries + full table, for the README) and the figure
``optimal_scales_excess.<fmt>`` (gap and excess against bits).
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..formats.grid import Grid
from ._common import pyplot, savefig
from ._optima import LAWS, optimum_pair

TITLE = "Optimal-scale table (s*_MSQE, s*_QSin, gap, MSQE excess) and excess-vs-bits figure"
ORDER = 20

LAW_ORDER = ("normal", "relu_normal", "laplace", "relu_laplace")
BITS = (2, 3, 4, 5, 6, 7, 8, 16)
QUICK_BITS = (2, 3, 4, 5, 6, 7, 8)
"""Quick mode drops the 16-bit rows (one 16-bit QSin evaluation costs ~50-90 ms)."""

COLUMNS = ("law", "grid", "bits", "r_b", "r_t", "s_msqe", "s_qsin", "rel_gap", "msqe_min_pi2", "mse_min",
           "qsin_min", "msqe_at_s_qsin_pi2", "msqe_excess", "bits_lost", "note")

NOTE_DEGENERATE = "degenerate: ReLU law on a grid without positive level (every s gives pi^2 E[xi^2])"
NOTE_CLIPPED = "negative half clipped to 0: risks include pi^2 E[xi^2; xi<0]; argmin = ReLU law's"


class Row(NamedTuple):
    """One row of the table (see the module docstring; NaN in a degenerate row)."""

    law: str
    grid: str
    bits: int
    r_b: int
    r_t: int
    s_msqe: float
    s_qsin: float
    rel_gap: float
    msqe_min_pi2: float
    mse_min: float
    qsin_min: float
    msqe_at_s_qsin_pi2: float
    msqe_excess: float
    bits_lost: float
    note: str


def compute_row(law: str, bits: int, signed: bool) -> Row:
    """One table row, computed from the exact risk curves."""
    from ..risk import risk_curve

    dist, _, label = LAWS[law]
    grid = Grid(bits, signed)
    kind = "signed" if signed else "unsigned"
    if dist.relu and grid.r_t == 0:
        nan = math.nan
        return Row(label, kind, bits, grid.r_b, grid.r_t, *([nan] * 9), NOTE_DEGENERATE)
    clipped = not signed and not dist.relu
    m, q = optimum_pair("relu_" + law if clipped else law, bits, signed)
    if clipped:  # same minimizers, risks of the law itself
        r_m, r_mq = risk_curve(dist, [m.scale, q.scale], grid, "msqe")
        r_q = float(risk_curve(dist, [q.scale], grid, "qsin")[0])
    else:
        r_m, r_q = m.risk, q.risk
        r_mq = float(risk_curve(dist, [q.scale], grid, "msqe")[0])
    excess = float(r_mq / r_m - 1.0)
    return Row(label, kind, bits, grid.r_b, grid.r_t, m.scale, q.scale, q.scale / m.scale - 1.0, float(r_m),
               float(r_m) / math.pi**2, float(r_q), float(r_mq), excess, 0.5 * math.log2(1.0 + excess),
               NOTE_CLIPPED if clipped else "")


def compute_table(bits=BITS, laws=LAW_ORDER, grids=(True, False)) -> list[Row]:
    """All rows: for each law, for signed then unsigned grids, for each bit width."""
    return [compute_row(law, b, signed) for law in laws for signed in grids for b in bits]


# ---------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------

def _g(x, digits=10) -> str:
    if isinstance(x, str):
        return x
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return "" if math.isnan(x) else f"{x:.{digits}g}"


CSV_DIGITS = {"s_msqe": 8, "s_qsin": 8, "rel_gap": 7, "msqe_excess": 7, "bits_lost": 7}
"""Significant digits written per column (default 10).  A flat minimum pins ``s*`` only to
~1e-8..1e-7 relative (risks are exact to ~1e-12), so scales, gap and excess get fewer digits:
the committed CSV then does not churn when the engine's last bits change."""


def to_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_g(v, CSV_DIGITS.get(k, 10)) for k, v in zip(COLUMNS, r)])
    return buf.getvalue()


def read_csv(path) -> list[dict]:
    """Read a table written by :func:`to_csv` (numbers as float, bits/r_b/r_t as int)."""
    out = []
    with open(path, newline="") as fh:
        for d in csv.DictReader(fh):
            for k in COLUMNS[2:5]:
                d[k] = int(d[k])
            for k in COLUMNS[5:-1]:
                d[k] = float(d[k]) if d[k] else math.nan
            out.append(d)
    return out


def _pct(x: float) -> str:
    if math.isnan(x):
        return "–"
    return f"{100 * x:.2f}" if abs(x) >= 1e-4 else f"{100 * x:.1e}"


SUMMARY_CASES = (("N(0,1)", "signed"), ("Laplace(0,1)", "signed"), ("ReLU(N(0,1))", "unsigned"),
                 ("ReLU(Laplace(0,1))", "unsigned"), ("ReLU(N(0,1))", "signed"), ("ReLU(Laplace(0,1))", "signed"))


def to_markdown(rows: list[Row]) -> str:
    bits = sorted({r.bits for r in rows})
    by = {(r.law, r.grid, r.bits): r for r in rows}
    head = "| law | grid | " + " | ".join(f"{b} bit" for b in bits) + " |\n"
    sep = "|---|---|" + "---:|" * len(bits) + "\n"
    out = ["### Optimal scale factors: MSQE vs QSin (exact)\n\n",
           "Laws N(0,1), Laplace(0,1) (density e^{-|x|}/2) and their ReLU; signed grid [-2^(b-1), 2^(b-1)-1], "
           "unsigned grid [0, 2^b-1]. `s*` minimizes the exact risk curve; MSQE[xi](s) = pi^2 E[(xi - Q(xi))^2]. "
           "Regenerate with `quanttheory figures --only optimal_scales` (files `figures/optimal_scales.csv`, "
           "`.md`).\n\n"]

    def summary(title, key):
        lines = [f"**{title}**\n\n", head, sep]
        for law, grid in SUMMARY_CASES:
            cells = [_pct(getattr(by[(law, grid, b)], key)) if (law, grid, b) in by else "" for b in bits]
            lines.append(f"| {law} | {grid} | " + " | ".join(cells) + " |\n")
        return lines + ["\n"]

    out += summary("MSQE excess (%) of using s*_QSin instead of s*_MSQE: MSQE[xi](s*_QSin) / min MSQE - 1",
                   "msqe_excess")
    out += summary("Relative gap (%) s*_QSin / s*_MSQE - 1", "rel_gap")
    out.append("N(0,1) and Laplace(0,1) on unsigned grids are in the full table only: their negative half is "
               "clipped to 0, the minimizers equal the ReLU law's and the constant clipping error hides the "
               "excess.\n\n")
    out.append("**Full table** (MSQE with the pi^2 factor; MSE = MSQE / pi^2 in data units^2)\n\n")
    out.append("| law | grid | bits | s*_MSQE | s*_QSin | gap (%) | min MSQE | min MSE | MSQE excess (%) |\n")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
    for r in rows:
        if math.isnan(r.s_msqe):
            out.append(f"| {r.law} | {r.grid} | {r.bits} | – | – | – | – | – | – (degenerate) |\n")
            continue
        out.append(f"| {r.law} | {r.grid} | {r.bits} | {r.s_msqe:.6g} | {r.s_qsin:.6g} | {_pct(r.rel_gap)} | "
                   f"{r.msqe_min_pi2:.5g} | {r.mse_min:.5g} | {_pct(r.msqe_excess)} |\n")
    return "".join(out)


STYLE = {  # (law, grid) -> (color, linestyle, marker)
    ("N(0,1)", "signed"): ("#1f77b4", "-", "o"),
    ("Laplace(0,1)", "signed"): ("#2ca02c", "-", "s"),
    ("ReLU(N(0,1))", "unsigned"): ("#d62728", "-", "^"),
    ("ReLU(Laplace(0,1))", "unsigned"): ("#9467bd", "-", "D"),
    ("ReLU(N(0,1))", "signed"): ("#d62728", "--", "^"),
    ("ReLU(Laplace(0,1))", "signed"): ("#9467bd", "--", "D"),
}


def plot_excess(rows: list[Row], outdir, fmt: str = "png", dpi: float | None = None) -> Path:
    """Two panels against bits: the relative gap of s* and the MSQE excess (both in %)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    plt = pyplot()
    bits = sorted({r.bits for r in rows})
    by = {(r.law, r.grid, r.bits): r for r in rows}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0))
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.25, top=0.86, wspace=0.22)
    for ax, key, ylabel in ((axes[0], "rel_gap", r"$s^*_{\rm QSin}/s^*_{\rm MSQE} - 1$ (%)"),
                            (axes[1], "msqe_excess", r"MSQE$(s^*_{\rm QSin})$ / min MSQE $- 1$ (%)")):
        for (law, grid), (c, ls, mk) in STYLE.items():
            xs = [b for b in bits if (law, grid, b) in by]
            ys = [100 * getattr(by[(law, grid, b)], key) for b in xs]
            ax.semilogy(xs, ys, color=c, ls=ls, marker=mk, ms=4, lw=1.2, label=f"{law}, {grid} grid")
        ax.set_xlabel("bits $b$")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(FixedLocator(bits))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_locator(FixedLocator([0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 5, 7, 10, 15, 20]))
        ax.yaxis.set_minor_locator(NullLocator())
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.grid(True, which="both", lw=0.3, color="0.85")
        if bits[-1] > 8:
            ax.axvspan(8.5, bits[-1] - 0.5, color="0.95", zorder=0)
            ax.text(0.5 * (8.5 + bits[-1] - 0.5), 0.97, "(9-15 bit not computed)", transform=ax.get_xaxis_transform(),
                    ha="center", va="top", fontsize=7, color="0.4")
    axes[0].set_title("Gap between the two optimal scales")
    axes[1].set_title("MSQE lost by using QSin's optimal scale")
    h, lab = axes[0].get_legend_handles_labels()
    fig.legend(h, lab, loc="lower center", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("How close is 'close enough'? Exact MSQE vs QSin optimal scales (solid: natural grid; "
                 "dashed: ReLU on signed grid)", fontsize=10)
    return savefig(fig, outdir, "optimal_scales_excess", fmt, dpi=dpi)


def make(outdir, quick: bool = False, fmt: str = "png") -> list[Path]:
    """Write ``optimal_scales.csv``, ``optimal_scales.md`` and the excess figure; return the paths."""
    rows = compute_table(QUICK_BITS if quick else BITS)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in (("optimal_scales.csv", to_csv(rows)), ("optimal_scales.md", to_markdown(rows))):
        p = outdir / name
        p.write_text(text, encoding="utf-8", newline="\n")
        paths.append(p)
    paths.append(plot_excess(rows, outdir, fmt, dpi=50 if quick else None))
    return paths
