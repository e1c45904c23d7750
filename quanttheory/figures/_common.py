"""Shared plotting set-up: deterministic output (fixed metadata, fonts, hash salt)."""

from __future__ import annotations

from pathlib import Path

FORMATS = ("png", "pdf", "svg")

_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None, "ModDate": None},
    "svg": {"Creator": None, "Date": None},
}


def pyplot():
    """Import matplotlib with the Agg backend and a fixed, deterministic style."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update({
        "svg.hashsalt": "quanttheory",
        "font.family": "DejaVu Sans",
        "font.size": 9,
        "axes.titlesize": 9,
        "axes.labelsize": 9,
        "legend.fontsize": 8,
        "xtick.labelsize": 8,
        "ytick.labelsize": 8,
        "figure.dpi": 100,
        "savefig.dpi": 150,
        "path.simplify": False,
    })
    return plt


def savefig(fig, outdir, stem: str, fmt: str = "png", dpi: float | None = None) -> Path:
    """Save ``fig`` as ``outdir/stem.fmt`` with reproducible bytes; close it; return the path.

    ``dpi`` overrides ``savefig.dpi`` (150) for raster output, e.g. low-resolution quick mode.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}; choose one of {FORMATS}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / f"{stem}.{fmt}"
    kw = {} if dpi is None else {"dpi": dpi}
    fig.savefig(path, format=fmt, metadata=_METADATA[fmt], **kw)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
