"""Block-scaled formats: SQNR of every block-scale rule, saturation, gap to the per-block oracle.

For N(0,1) and Laplace(0,1) and each block format (MXFP8 E4M3/E5M2, MXFP6 E2M3/E3M2, MXFP4,
MXINT8, NVFP4, INT4 groups of 32/64/128 with exact real scales):

* the absmax rules (``floor`` = OCP, ``ceil`` = RCEIL, ``round``, and ``clip`` at the
  optimal multiplier ``c*``): exact expectation (:func:`~quanttheory.blocks.expectation.block_mse`,
  <= 1e-9 relative);
* ``4over6`` (NVFP4) and ``oracle`` (per-block optimal scale): Monte Carlo (they depend on
  the whole block; ``n_mc`` elements, standard error in the CSV);
* ``per_tensor_db``: the same element format with one MSE-optimal scale for the whole tensor
  (exact curve :func:`~quanttheory.risk.levels.format_mse`, grid of 400 scales + Brent; not
  the certified search, which is too slow for FP8 / MXINT8 here).

Files: ``block_formats.csv``, ``block_formats.md``, figure ``block_formats.<fmt>`` (gap to
the oracle per rule, both laws).  Quick mode: fewer formats, smaller Monte Carlo, no c*.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from ._common import pyplot, savefig

TITLE = "Block-scaled formats (MX, NVFP4, INT4 groups): SQNR of each scale rule and gap to the per-block oracle"
ORDER = 45

FORMATS = (("MXFP8 E4M3", "mxfp8_e4m3", None), ("MXFP8 E5M2", "mxfp8_e5m2", None),
           ("MXFP6 E2M3", "mxfp6_e2m3", None), ("MXFP6 E3M2", "mxfp6_e3m2", None), ("MXFP4", "mxfp4", None),
           ("MXINT8", "mxint8", None), ("NVFP4", "nvfp4", None), ("INT4 g32", "int4_g32", "real"),
           ("INT4 g64", "int4_g64", "real"), ("INT4 g128", "int4_g128", "real"))
QUICK = ("mxfp4", "nvfp4", "int4_g32")


def rows(quick: bool = False, seed: int = 2026):
    from ..blocks import get_block_format
    from ..blocks.expectation import block_mse, monte_carlo_block_mse, optimal_clip
    from ..laws import Laplace, Normal

    out = []
    n_mc = 1 << 16 if quick else 1 << 20
    for lname, law in (("normal", Normal()), ("laplace", Laplace())):
        m2 = law.second_moment()
        for label, name, sf in FORMATS:
            if quick and name not in QUICK:
                continue
            bf = get_block_format(name, scale_format=sf)
            pt = _per_tensor_db(law, bf.fmt)
            exact_rules = (["floor", "ceil", "round"] if bf.scale_format == "e8m0" else
                           ["clip"] if bf.scale_format == "real" else ["round", "ceil", "floor"])
            res = []
            for r in exact_rules:
                b = block_mse(law, bf, r)
                res.append((r, b.sqnr_db, b.saturation_rate, b.mse, 0.0, "exact", 1.0))
            if not quick:
                bounds = (0.5, 1.0) if bf.scale_format == "e8m0" else (0.5, 1.3)
                c, b = optimal_clip(law, bf, bounds=bounds)
                res.append(("clip_c*", b.sqnr_db, b.saturation_rate, b.mse, 0.0, "exact", c))
            mc_rules = (["4over6"] if bf.element == "e2m1" and bf.scale_format == "e4m3" else []) + ["oracle"]
            for r in mc_rules:
                mean, se, sat = monte_carlo_block_mse(law, bf, r, n=n_mc, rng=seed)
                res.append((r, 10 * math.log10(m2 / mean), sat, mean, se, "mc", 1.0))
            orc = [x for x in res if x[0] == "oracle"][0]
            for r, sq, sat, mse, se, how, c in res:
                out.append(dict(law=lname, format=label, name=name, k=bf.block, scale=bf.scale_format, rule=r,
                                c=c, sqnr_db=sq, sqnr_se_db=10 / math.log(10) * se / mse if se else 0.0,
                                gap_db=orc[1] - sq, saturation=sat, mse=mse, method=how, per_tensor_db=pt))
    return out


def _per_tensor_db(law, fmt):
    """SQNR at the best single scale of the element format: exact curve (format_mse) on 400
    log-spaced scales, then bounded Brent around the best (local refinement; not certified)."""
    from scipy import optimize

    from ..risk.levels import format_mse

    sd = math.sqrt(law.second_moment())
    s = sd / fmt.level_max * np.geomspace(0.3, 30.0, 400)
    v = format_mse(law, s, fmt)
    i = int(np.argmin(v))
    lo, hi = s[max(i - 1, 0)], s[min(i + 1, s.size - 1)]
    res = optimize.minimize_scalar(lambda x: float(format_mse(law, np.array([x]), fmt)[0]), bounds=(lo, hi),
                                   method="bounded", options={"xatol": 1e-10 * hi})
    best = min(float(res.fun), float(v[i]))
    return 10 * math.log10(law.second_moment() / best)


def _md(data):
    buf = io.StringIO()
    buf.write("| law | format | k | scale | rule | SQNR dB | gap to oracle dB | saturated | per-tensor opt dB |\n")
    buf.write("|---|---|---|---|---|---|---|---|---|\n")
    for d in data:
        rule = d["rule"] + (f" (c={d['c']:.3f})" if d["rule"] == "clip_c*" else "") + (
            " (MC)" if d["method"] == "mc" else "")
        buf.write(f"| {d['law']} | {d['format']} | {d['k']} | {d['scale']} | {rule} | {d['sqnr_db']:.3f} | "
                  f"{d['gap_db']:.3f} | {d['saturation']:.4f} | {d['per_tensor_db']:.3f} |\n")
    return buf.getvalue()


def make(outdir, quick: bool = False, fmt: str = "png") -> list[Path]:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    data = rows(quick=quick)
    csv_path = outdir / "block_formats.csv"
    with open(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(data[0]))
        w.writeheader()
        for d in data:
            w.writerow({k: (f"{v:.10g}" if isinstance(v, float) else v) for k, v in d.items()})
    md_path = outdir / "block_formats.md"
    md_path.write_text(_md(data))
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, lname in zip(axes, ("normal", "laplace")):
        sub = [d for d in data if d["law"] == lname and d["rule"] != "oracle"]
        fmts = list(dict.fromkeys(d["format"] for d in sub))
        rules = list(dict.fromkeys(d["rule"] for d in sub))
        width = 0.8 / max(len(rules), 1)
        for i, r in enumerate(rules):
            xs, ys = [], []
            for j, f in enumerate(fmts):
                v = [d["gap_db"] for d in sub if d["format"] == f and d["rule"] == r]
                if v:
                    xs.append(j + (i - (len(rules) - 1) / 2) * width)
                    ys.append(v[0])
            ax.bar(xs, ys, width, label=r)
        ax.set_xticks(range(len(fmts)))
        ax.set_xticklabels(fmts, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{'N(0,1)' if lname == 'normal' else 'Laplace(0,1)'}: dB below the per-block oracle")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("SQNR gap to oracle (dB)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    png = savefig(fig, outdir, "block_formats", fmt)
    plt.close(fig)
    return [csv_path, md_path, png]
