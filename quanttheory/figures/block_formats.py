"""Block-scaled formats: SQNR of every block-scale rule, saturation, gap to the per-block oracle.

For N(0,1) and Laplace(0,1) and each block format (MXFP8 E4M3/E5M2, MXFP6 E2M3/E3M2, MXFP4,
MXINT8, NVFP4, INT4 groups of 32/64/128 with exact real scales):

* the absmax rules (``floor`` = OCP, ``ceil`` = RCEIL, ``round``, and ``clip`` at the
  optimal multiplier ``c*``) and NVFP4's ``4over6``: exact expectations
  (:func:`~quanttheory.blocks.expectation.block_mse`; ``4over6`` with its exact saturation rate,
  docs/blocks.md §2d);
* ``oracle`` (per-block optimal scale): exact for the MX formats (E8M0 scales,
  ``block_mse(law, fmt, "oracle")``, docs/blocks.md §2f), so every gap of an MX row is exact (CSV
  ``gap_bound_db``: both values' error estimates in dB; the error estimates are <= 3e-10 relative,
  the oracle's <= 2.1e-10); its saturation rate is exact too (bound <= 1e-9 absolute).
  NVFP4 (E4M3 scales) and INT4 groups (real scales) have no exact oracle: Monte Carlo (``n_mc``
  elements, the compiled per-block optimum of each sampled block), and their gaps carry the
  oracle's standard error (CSV ``gap_se_db``, ``±`` in the table, error bars of 2 s.e. in the figure);
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


def _n_mc(quick):
    """Monte Carlo elements per (law, format): the oracle's MSE and saturation rate where no exact
    oracle exists (NVFP4, INT4 groups)."""
    return 1 << 16 if quick else 1 << 20


def rows(quick: bool = False, seed: int = 2026):
    from ..blocks import get_block_format
    from ..blocks.expectation import block_mse, monte_carlo_block_mse, optimal_clip
    from ..laws import Laplace, Normal

    out = []
    n_mc = _n_mc(quick)
    db = 10 / math.log(10)
    for lname, law in (("normal", Normal()), ("laplace", Laplace())):
        m2 = law.second_moment()
        for label, name, sf in FORMATS:
            if quick and name not in QUICK:
                continue
            bf = get_block_format(name, scale_format=sf)
            pt = _per_tensor_db(law, bf.fmt)
            exact_rules = (["floor", "ceil", "round"] if bf.scale_format == "e8m0" else
                           ["clip"] if bf.scale_format == "real" else ["round", "ceil", "floor"])
            # (rule, sqnr_db, saturation, mse, mse_error, method, c, saturation_method)
            # mse_error: the exact value's error_estimate, or the Monte Carlo standard error
            res = []
            for r in exact_rules:
                b = block_mse(law, bf, r)
                res.append((r, b.sqnr_db, b.saturation_rate, b.mse, b.error_estimate, "exact", 1.0, "exact"))
            if not quick:
                bounds = (0.5, 1.0) if bf.scale_format == "e8m0" else (0.5, 1.3)
                c, b = optimal_clip(law, bf, bounds=bounds)
                res.append(("clip_c*", b.sqnr_db, b.saturation_rate, b.mse, b.error_estimate, "exact", c, "exact"))
            if bf.element == "e2m1" and bf.scale_format == "e4m3":
                b = block_mse(law, bf, "4over6")  # exact, with its exact saturation rate (docs/blocks.md §2d)
                res.append(("4over6", b.sqnr_db, b.saturation_rate, b.mse, b.error_estimate, "exact", 1.0, "exact"))
            if bf.scale_format == "e8m0":
                # exact oracle expectation and saturation rate (docs/blocks.md §2f)
                b = block_mse(law, bf, "oracle")
                res.append(("oracle", b.sqnr_db, b.saturation_rate, b.mse, b.error_estimate, "exact", 1.0,
                            "exact"))
            else:
                mean, se, sat = monte_carlo_block_mse(law, bf, "oracle", n=n_mc, rng=seed)
                res.append(("oracle", 10 * math.log10(m2 / mean), sat, mean, se, "mc", 1.0, "mc"))
            orc = [x for x in res if x[0] == "oracle"][0]
            # the gap's standard error is the Monte Carlo oracle's (every other rule is exact); with an
            # exact oracle the gap is exact up to both values' error estimates (gap_bound_db)
            gap_se = db * orc[4] / orc[3] if orc[5] == "mc" else 0.0
            for r, sq, sat, mse, err, how, c, sat_how in res:
                gap = orc[1] - sq
                bound = db * (err / mse + orc[4] / orc[3]) if orc[5] == "exact" and r != "oracle" else 0.0
                if orc[5] == "exact" and gap < -bound:  # the oracle is at most every E8M0 rule
                    raise RuntimeError(f"{lname} {label} {r}: exact oracle {orc[3]!r} above the rule's {mse!r}")
                out.append(dict(law=lname, format=label, name=name, k=bf.block, scale=bf.scale_format, rule=r,
                                c=c, sqnr_db=sq, sqnr_se_db=db * err / mse if how == "mc" else 0.0,
                                gap_db=gap, gap_se_db=0.0 if r == "oracle" else gap_se, gap_bound_db=bound,
                                saturation=sat, mse=mse, method=how, mse_error=err,
                                saturation_method=sat_how, per_tensor_db=pt))
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


def _md(data, n_mc):
    buf = io.StringIO()
    nmc = f"2^{int(math.log2(n_mc))}"
    rel = max(d["mse_error"] / d["mse"] for d in data if d["method"] == "exact")
    buf.write(f"Exact expectations (error estimates <= {rel:.1e} relative) for every absmax rule, NVFP4 "
              "`4over6` and the MX (E8M0) oracle, so every gap of an MX row is exact. NVFP4 (E4M3 scales) and "
              f"INT4 groups (real scales) have no exact oracle: it is Monte Carlo (marked MC; {nmc} elements, the "
              "exact optimum of each sampled block), and their gaps are shown \u00b1 one standard error. The MX "
              "oracle's saturation rate is exact too.\n\n")
    buf.write("| law | format | k | scale | rule | SQNR dB | gap to oracle dB | saturated | per-tensor opt dB |\n")
    buf.write("|---|---|---|---|---|---|---|---|---|\n")
    for d in data:
        rule = d["rule"] + (f" (c={d['c']:.3f})" if d["rule"] == "clip_c*" else "") + (
            " (MC)" if d["method"] == "mc" else "")
        if d["gap_se_db"] > 0:  # gap to a Monte Carlo oracle
            gap = f"{d['gap_db']:.3f} \u00b1 {d['gap_se_db']:.3f}"
        else:  # exact (0.0 added so that a gap of -1e-10 dB, within the error bound, prints as 0.0000)
            gap = f"{round(d['gap_db'], 4) + 0.0:.4f}"
        sat = f"{d['saturation']:.4f}" + (" (MC)" if d["saturation_method"] == "mc" and d["method"] == "exact"
                                          else "")
        buf.write(f"| {d['law']} | {d['format']} | {d['k']} | {d['scale']} | {rule} | {d['sqnr_db']:.3f} | "
                  f"{gap} | {sat} | {d['per_tensor_db']:.3f} |\n")
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
    md_path.write_text(_md(data, _n_mc(quick)))
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, lname in zip(axes, ("normal", "laplace")):
        sub = [d for d in data if d["law"] == lname and d["rule"] != "oracle"]
        fmts = list(dict.fromkeys(d["format"] for d in sub))
        rules = list(dict.fromkeys(d["rule"] for d in sub))
        width = 0.8 / max(len(rules), 1)
        for i, r in enumerate(rules):
            xs, ys, es = [], [], []
            for j, f in enumerate(fmts):
                v = [d for d in sub if d["format"] == f and d["rule"] == r]
                if v:
                    xs.append(j + (i - (len(rules) - 1) / 2) * width)
                    ys.append(v[0]["gap_db"])
                    es.append(v[0]["gap_se_db"])
            ax.bar(xs, ys, width, label=r)
            mc = [i for i, e in enumerate(es) if e > 0]  # only the gaps to a Monte Carlo oracle
            if mc:
                ax.errorbar([xs[i] for i in mc], [ys[i] for i in mc], yerr=[2 * es[i] for i in mc], fmt="none",
                            ecolor="k", elinewidth=0.8, capsize=1.5)
        ax.set_xticks(range(len(fmts)))
        ax.set_xticklabels(fmts, rotation=45, ha="right", fontsize=8)
        ax.set_title(f"{'N(0,1)' if lname == 'normal' else 'Laplace(0,1)'}: dB below the per-block oracle")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("SQNR gap to oracle (dB)")
    axes[1].legend(fontsize=8)
    sup = str.maketrans("0123456789", "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
    nmc = str(int(math.log2(_n_mc(quick)))).translate(sup)  # unicode superscripts (no mathtext)
    fig.text(0.5, 0.01, "Gaps exact where the oracle is exact (MX formats, E8M0 scales); NVFP4 and INT4 groups: "
             f"oracle by Monte Carlo (2{nmc} elements), error bars \u00b12 standard errors.", ha="center",
             fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    png = savefig(fig, outdir, "block_formats", fmt)
    plt.close(fig)
    return [csv_path, md_path, png]
