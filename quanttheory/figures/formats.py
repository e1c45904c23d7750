"""Number formats table and figure: SQNR at the certified optimum, and what the amax rule
and power-of-two scales cost.

For each law (N(0,1), Laplace(0,1)) and each format -- INT4, INT6, INT8 (signed, narrow
symmetric range ``[-(2^(b-1)-1), 2^(b-1)-1]``), FP4 E2M1, NF4, FP6 E2M3 / E3M2,
FP8 E4M3 / E5M2 -- computed from the exact risk curves
(:mod:`quanttheory.risk.levels`):

* ``sqnr_opt_db = 10 log10(E[xi^2] / min_s E[(xi - Q_s(xi))^2])`` at the certified global
  optimum (:func:`~quanttheory.risk.levels_optimum.format_optimal_scale`), the optimal
  scale and ``n_minima``, the number of local minima within 1e-9 of the best (minifloats:
  near-equal minima one octave apart);
* ``amax_loss_1e3_db``, ``amax_loss_1e6_db``: dB lost by the absmax rule
  ``s = max_{i<=n} |xi_i| / level_max`` with n = 1e3, 1e6 calibration samples (exact
  expectation over the law of the max, :func:`~quanttheory.risk.amax_rule.amax_rule_mse`);
* ``pow2_loss_db``: dB lost by the best power-of-two scale (certified over all ``2^k``).

Files: ``formats.csv`` (every number), ``formats.md`` (the README table) and the figure
``formats.<fmt>``: SQNR bars per law with the amax and power-of-two markers, and the SQNR
curve of E4M3 / E5M2 / INT8 against the scale (the minifloats' octave-periodic plateau).
Quick mode drops the FP8 formats and INT8 (the slowest certified searches) and draws
coarser curves.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._common import pyplot, savefig

TITLE = "Number formats: SQNR at the certified optimum, dB lost by the amax rule (n=1e3, 1e6) and power-of-two scales"
ORDER = 40

FORMATS = (("INT4", "int4n"), ("E2M1", "e2m1"), ("NF4", "nf4"), ("INT6", "int6n"), ("E2M3", "e2m3"),
           ("E3M2", "e3m2"), ("INT8", "int8n"), ("E4M3", "e4m3"), ("E5M2", "e5m2"))
QUICK_FORMATS = FORMATS[:6]
AMAX_N = (10 ** 3, 10 ** 6)
COLUMNS = ("law", "format", "preset", "sqnr_opt_db", "scale_opt", "n_minima", "mse_opt", "amax_sqnr_1e3_db",
           "amax_loss_1e3_db", "amax_sqnr_1e6_db", "amax_loss_1e6_db", "pow2_scale", "pow2_loss_db")


def _laws():
    from ..laws import Laplace, Normal

    return (("N(0,1)", Normal()), ("Laplace(0,1)", Laplace()))


class Row(NamedTuple):
    """One table row (see the module docstring)."""

    law: str
    format: str
    preset: str
    sqnr_opt_db: float
    scale_opt: float
    n_minima: int
    mse_opt: float
    amax_sqnr_1e3_db: float
    amax_loss_1e3_db: float
    amax_sqnr_1e6_db: float
    amax_loss_1e6_db: float
    pow2_scale: float
    pow2_loss_db: float


def compute_row(law_label: str, dist, label: str, preset: str) -> Row:
    from ..risk.amax_rule import amax_rule_mse
    from ..risk.levels_optimum import format_optimal_scale

    o = format_optimal_scale(dist, preset)
    a3, a6 = (amax_rule_mse(dist, preset, n) for n in AMAX_N)
    return Row(law_label, label, preset, o.sqnr_db, o.scale, len(o.minima), o.risk / math.pi ** 2,
               a3.sqnr_db, o.sqnr_db - a3.sqnr_db, a6.sqnr_db, o.sqnr_db - a6.sqnr_db, o.pow2_scale, o.pow2_db_loss)


def compute_table(formats=FORMATS) -> list[Row]:
    return [compute_row(ll, d, label, preset) for ll, d in _laws() for label, preset in formats]


def _g(x, digits=8):
    if isinstance(x, str):
        return x
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{x:.{digits}g}"


def write_csv(rows, path: Path) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_g(v) for v in r])
    path.write_text(buf.getvalue())
    return path


def markdown(rows) -> str:
    laws = [ll for ll, _ in _laws() if any(r.law == ll for r in rows)]
    fmts = [f for f, _ in FORMATS if any(r.format == f for r in rows)]
    by = {(r.law, r.format): r for r in rows}
    out = ["SQNR (dB) at the certified MSE-optimal scale, and dB lost by the amax rule "
           "(s = max|x| / level_max over n samples; exact expectation) and by the best power-of-two scale.",
           "INT formats: signed, narrow symmetric range.  `minima`: local minima within 1e-9 of the best.", ""]
    head = "| format |" + "".join(f" {ll} SQNR | minima | amax 1e3 | amax 1e6 | pow2 |" for ll in laws)
    out.append(head)
    out.append("|---|" + "---:|---:|---:|---:|---:|" * len(laws))
    for f in fmts:
        cells = []
        for ll in laws:
            r = by[(ll, f)]
            cells.append(f" {r.sqnr_opt_db:.3f} | {r.n_minima} | -{r.amax_loss_1e3_db:.3f} | "
                         f"-{r.amax_loss_1e6_db:.3f} | -{r.pow2_loss_db:.3f} |")
        out.append(f"| {f} |" + "".join(cells))
    return "\n".join(out) + "\n"


def make(outdir, quick: bool = False, fmt: str = "png") -> list[Path]:
    from ..risk.levels import format_mse

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = compute_table(QUICK_FORMATS if quick else FORMATS)
    paths = [write_csv(rows, outdir / "formats.csv")]
    md = outdir / "formats.md"
    md.write_text(markdown(rows))
    paths.append(md)

    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.0), gridspec_kw={"width_ratios": [1, 1, 1.1]})
    for ax, (ll, _) in zip(axes[:2], _laws()):
        rs = [r for r in rows if r.law == ll]
        x = np.arange(len(rs))
        ax.bar(x, [r.sqnr_opt_db for r in rs], color="0.8", edgecolor="0.3", label="optimal scale")
        ax.plot(x, [r.sqnr_opt_db - r.pow2_loss_db for r in rs], "s", mfc="none", color="C2", label="best 2^k scale")
        ax.plot(x, [r.amax_sqnr_1e6_db for r in rs], "^", color="C1", label="amax rule, n=1e6")
        ax.plot(x, [r.amax_sqnr_1e3_db for r in rs], "v", color="C3", label="amax rule, n=1e3")
        ax.set_xticks(x, [r.format for r in rs], rotation=45)
        ax.set_ylabel("SQNR (dB)")
        ax.set_title(f"{ll}: SQNR by format")
        ax.grid(axis="y", alpha=0.3)
        lo = min(min(r.amax_sqnr_1e3_db, r.amax_sqnr_1e6_db, r.sqnr_opt_db - r.pow2_loss_db) for r in rs)
        ax.set_ylim(max(0.0, lo - 3.0), max(r.sqnr_opt_db for r in rs) + 3.0)
    axes[0].legend(loc="upper left")
    # SQNR curves: octave-periodic plateau of the minifloats vs the single optimum of INT8
    from ..laws import Normal

    d = Normal()
    npts = 400 if quick else 3000
    s = np.geomspace(1e-5, 1e3, npts)
    curves = (("E4M3", "e4m3"), ("E5M2", "e5m2"), ("INT8", "int8n")) if not quick else (
        ("E3M2", "e3m2"), ("E2M3", "e2m3"), ("INT6", "int6n"))
    ax = axes[2]
    for label, preset in curves:
        ax.semilogx(s, 10 * np.log10(1.0 / format_mse(d, s, preset)), label=label)
    for r in rows:
        if r.law == "N(0,1)" and r.format in [c[0] for c in curves]:
            ax.plot([r.scale_opt], [r.sqnr_opt_db], "k.", ms=5)
    ax.set_xlabel("scale s (data units)")
    ax.set_ylabel("SQNR (dB)")
    ax.set_title("N(0,1): SQNR against the scale")
    ax.set_ylim(0, 45)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    paths.append(savefig(fig, outdir, "formats", fmt, dpi=80 if quick else None))
    return paths
