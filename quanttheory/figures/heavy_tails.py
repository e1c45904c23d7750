"""Heavy tails: the optimal clipping table and the format selector (issue 15).

* ``heavy_tails_clipping.csv`` / ``.md``: the MSQE-optimal clipping threshold ``s* r_t`` in units
  of the standard deviation, per-tensor signed INT grid ``[-2^(b-1), 2^(b-1) - 1]``, bits 2..8, for
  Student t with nu in {3, 4, 5, 8, 16, 30}, the Normal (nu = inf), and the generalized Gaussian
  with beta in {0.5, 1, 2} (beta = 1: Laplace, beta = 2: Normal again, a consistency column).  The
  optimum is :func:`quanttheory.optimal_scale`, certified for every column (Normal, Laplace: their
  bit-independent certificates; t / generalized Gaussian: the second-order branch and bound of
  ``risk/heavy_cert.py``, relative scale error <= ~1e-11 at 2..8 bits).
* ``heavy_tails.<fmt>``: the format selector.  SQNR ``10 log10(E[xi^2] / min_s E[(xi - Q_s(xi))^2])``
  of INT4 / FP4 (E2M1) / NF4 and INT8 / FP8 (E4M3, E5M2) against the kurtosis, along two
  families of unit-variance laws: Student t (nu from 60 down to 4.3) and the generalized Gaussian
  (beta from 2 down to 0.4).  Each point's scale is the best of a 60-point log scan refined by
  golden section on the exact curve (minifloats have near-equal minima an octave apart; the scan
  covers them), so the SQNR is exact at that scale and within ~1e-6 dB of the optimum.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ._common import pyplot, savefig

TITLE = "Heavy tails: optimal clipping table (INT, nu and beta) and SQNR of INT/FP/NF4 against kurtosis"
ORDER = 45

NUS = (3.0, 4.0, 5.0, 8.0, 16.0, 30.0, math.inf)
BETAS = (0.5, 1.0, 2.0)
FORMATS4 = (("INT4", "int4"), ("FP4 E2M1", "e2m1"), ("NF4", "nf4"))
FORMATS8 = (("INT8", "int8"), ("FP8 E4M3", "e4m3"), ("FP8 E5M2", "e5m2"))


def _unit(law_kind: str, p: float):
    """Unit-variance law of the family."""
    from ..laws import GenNormal, Normal, StudentT

    if law_kind == "t":
        return Normal() if math.isinf(p) else StudentT(p, 0.0, math.sqrt((p - 2) / p))
    return GenNormal(p, 0.0, math.exp(0.5 * (math.lgamma(1 / p) - math.lgamma(3 / p))))


def clipping_table(bits=range(2, 9)):
    """Rows (bits, column label, s* r_t / sd, method) for the table."""
    from ..formats.grid import Grid
    from ..risk.optimum import optimal_scale

    rows = []
    for b in bits:
        g = Grid(b)
        for kind, vals in (("t", NUS), ("gennorm", BETAS)):
            for p in vals:
                law = _unit(kind, p)
                res = optimal_scale(law, g)
                label = (f"nu={p:g}" if kind == "t" else f"beta={p:g}")
                rows.append((b, label, res.scale * g.r_t, res.method.split(";")[0]))
    return rows


def clipping_markdown(rows) -> str:
    labels = list(dict.fromkeys(r[1] for r in rows))
    bits = sorted({r[0] for r in rows})
    val = {(r[0], r[1]): r[2] for r in rows}
    out = ["| bits | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for b in bits:
        out.append(f"| {b} | " + " | ".join(f"{val[b, lab]:.4f}" for lab in labels) + " |")
    return "\n".join(out) + "\n"


def _sqnr(law, levels, nscan=60):
    """SQNR (dB) at the best scale: log scan of the exact MSE, golden refinement around the best point."""
    from ..risk.heavy import format_mse_shape
    from ..risk.levels import format_mse

    def mse(s):
        s = np.atleast_1d(np.asarray(s, dtype=float))
        if law.shape_kernel() is not None:
            return format_mse_shape(law, s, levels)
        return format_mse(law, s, levels)

    lmax = float(np.max(np.abs(levels)))
    s = np.geomspace(0.5, 40.0, nscan) / lmax
    v = mse(s)
    i = int(np.argmin(v))
    a, b = s[max(i - 1, 0)], s[min(i + 1, s.size - 1)]
    invphi = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        c, d = b - invphi * (b - a), a + invphi * (b - a)
        if mse(c)[0] <= mse(d)[0]:
            b = d
        else:
            a = c
    best = min(float(mse(0.5 * (a + b))[0]), float(v[i]))
    return 10 * math.log10(law.second_moment() / best)


def selector_curves(quick=False):
    """{(family, format label): (kurtosis array, SQNR array)} for both bit widths."""
    from ..formats import get_format

    n = 3 if quick else 24  # quick: both ends and the middle of each family
    fams = {"t": np.geomspace(60.0, 4.3, n), "gennorm": np.geomspace(2.0, 0.4, n)}
    out = {}
    for kind, ps in fams.items():
        laws = [_unit(kind, float(p)) for p in ps]
        kurt = np.array([law.kurtosis() + 3.0 for law in laws])  # plain kurtosis E[xi^4] / sd^4
        for label, name in FORMATS4 + FORMATS8:
            lv = np.asarray(get_format(name).levels, dtype=float)
            out[kind, label] = (kurt, np.array([_sqnr(law, lv) for law in laws]))
    return out


def make(outdir, quick: bool = False, fmt: str = "png") -> list[Path]:
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = clipping_table((4,) if quick else range(2, 9))  # quick: every column (law), one bit width
    csv_path = outdir / "heavy_tails_clipping.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["bits", "law", "clip_over_sd", "method"])
        for r in rows:
            w.writerow([r[0], r[1], repr(float(r[2])), r[3]])
    md = outdir / "heavy_tails_clipping.md"
    md.write_text("Optimal clipping threshold s* r_t / sd (MSQE, signed INT grid, per tensor)\n\n"
                  + clipping_markdown(rows))
    curves = selector_curves(quick)
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.0))
    for ax, fmts, bits in ((axes[0], FORMATS4, 4), (axes[1], FORMATS8, 8)):
        for j, (label, _) in enumerate(fmts):
            for kind, ls, fam in (("t", "-", "Student t"), ("gennorm", "--", "gen. Gaussian")):
                k, q = curves[kind, label]
                ax.semilogx(k, q, ls, color=f"C{j}", marker="o" if kind == "t" else "s", ms=3,
                            label=f"{label}, {fam}")
        ticks = [3, 4, 6, 10, 20, 40]
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.set_xlabel("kurtosis E[xi^4] / sd^4 (Normal: 3)")
        ax.set_ylabel("SQNR at the optimal scale (dB)")
        ax.set_title(f"{bits}-bit formats: which wins as tails get heavier")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return [csv_path, md, savefig(fig, outdir, "heavy_tails", fmt, dpi=80 if quick else None)]
