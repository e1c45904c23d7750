"""Outputs of ``quanttheory model``: report.csv, summary.md, sqnr.png, each written atomically.

Every file is written to a temporary file in the destination directory and moved into
place with :func:`os.replace` (atomic on POSIX and Windows), so an interrupted run never
leaves a file that looks complete: either the previous version or the new one.
"""

from __future__ import annotations

import csv
import io
import math
import os
import tempfile

from .tasks import sqnr_db


def atomic_write(path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory and ``os.replace``."""
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _fmt(v: float) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return f"{v:.6g}"


def per_tensor(res) -> list[dict]:
    """One dict per analyzed tensor: SQNR (dB) and seconds per method, best baseline, gain (dB)."""
    out = []
    for t in res.tensors:
        d = {"tensor": t.name, "shape": "x".join(map(str, t.shape)), "dtype": t.dtype, "units": t.rows,
             "values": t.values}
        sq = {m: sqnr_db(t.energy, t.sse[m]) for m in res.methods}
        for m in res.methods:
            d[f"sqnr_db_{m}"] = sq[m]
        for m in res.methods:
            d[f"seconds_{m}"] = t.seconds[m]
        for m in _bracketed(res):
            lo = t.sse_lower.get(m, t.sse[m])
            d[f"status_{m}"] = "exact" if lo >= t.sse[m] else "bracket"
            d[f"sqnr_db_{m}_max"] = sqnr_db(t.energy, lo)  # the optimum's SQNR is at most this
        if getattr(res, "gguf", False):
            d["gguf_type"] = t.gguf_type
            from .run import GGUF_SCHEMES

            for q in GGUF_SCHEMES:
                d[f"sqnr_db_gguf_{q.lower()}"] = t.gguf_sqnr.get(f"gguf_{q.lower()}", math.nan)
        def key(m):
            return sq[m] if not math.isnan(sq[m]) else -math.inf
        base = [m for m in res.methods if not m.startswith("exact")]
        ex = max((m for m in res.methods if m.startswith("exact")), key=key)
        best = max(base, key=key) if base else None
        d["best_exact"] = ex
        d["best_baseline"] = best or ""
        if best is None:
            d["gain_db"] = math.nan
        elif math.isfinite(sq[ex]) and math.isfinite(sq[best]):
            d["gain_db"] = sq[ex] - sq[best]
        else:  # lossless or all-zero tensor
            d["gain_db"] = 0.0 if sq[ex] == sq[best] or math.isnan(sq[ex]) else math.inf
        out.append(d)
    return out


def _bracketed(res) -> list:
    """Methods reported with ``status_<m>`` (``exact`` | ``bracket``) and ``sqnr_db_<m>_max`` columns: a
    method past its search budget reports the SQNR attained by the best point found (``sqnr_db_<m>``)
    and a certified upper bound of the optimum's SQNR (``sqnr_db_<m>_max``, from the SSE lower bound)."""
    return [m for m in getattr(res, "may_bracket", ()) if m in res.methods]


def status_of(res) -> dict:
    """JSON-ready status of the methods that may stop at a search budget: ``{m: {"status": "exact" |
    "bracket", "bracketed_tensors": [...], "sqnr_db_max": whole-model certified maximum (null when
    unbounded, i.e. a zero SSE lower bound)}}``."""
    e = sum(t.energy for t in res.tensors)
    out = {}
    for m in _bracketed(res):
        names = [t.name for t in res.tensors if t.sse_lower.get(m, t.sse[m]) < t.sse[m]]
        q = sqnr_db(e, sum(t.sse_lower.get(m, t.sse[m]) for t in res.tensors))
        out[m] = {"status": "bracket" if names else "exact", "bracketed_tensors": names,
                  "sqnr_db_max": q if math.isfinite(q) else None}
    return out


def csv_text(res) -> str:
    rows = per_tensor(res)
    buf = io.StringIO()
    cols = ["tensor", "shape", "dtype", "units", "values", *[f"sqnr_db_{m}" for m in res.methods],
            "best_exact", "best_baseline", "gain_db", *[f"seconds_{m}" for m in res.methods]]
    for m in _bracketed(res):
        cols += [f"status_{m}", f"sqnr_db_{m}_max"]
    if getattr(res, "gguf", False):
        from .run import GGUF_SCHEMES

        cols += ["gguf_type", *[f"sqnr_db_gguf_{q.lower()}" for q in GGUF_SCHEMES]]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for d in rows:
        w.writerow([_fmt(d[c]) if isinstance(d[c], float) else d[c] for c in cols])
    return buf.getvalue()


def totals(res) -> dict:
    """Whole-model SQNR per method (energy and SSE summed over tensors) and total seconds."""
    e = sum(t.energy for t in res.tensors)
    return {m: (sqnr_db(e, sum(t.sse[m] for t in res.tensors)), sum(t.seconds[m] for t in res.tensors))
            for m in res.methods}


def summary_md(res, top: int = 10) -> str:
    rows = per_tensor(res)
    n = sum(t.values for t in res.tensors)
    L = [f"# quanttheory model: {os.path.basename(res.path)}", "",
         f"- format: {res.fmt}{' (affine)' if res.affine else ''}, granularity: {res.granularity}",
         f"- tensors analyzed: {len(res.tensors)} ({n} values), skipped: {len(res.skipped)}, "
         f"non-finite: {len(res.nonfinite)}",
         f"- wall time: {res.seconds:.2f} s on {res.executor}", "",
         "## Whole-model SQNR (all analyzed tensors, energy-weighted)", "",
         "| method | SQNR (dB) | compute seconds |", "|---|---:|---:|"]
    for m, (q, s) in totals(res).items():
        L.append(f"| {m} | {_fmt(q)} | {s:.3f} |")
    L += ["", f"## Tensors where the exact optimum gains most over the best baseline (top {top})", "",
          "Gain = SQNR of the best exact optimum minus SQNR of the best baseline.", "",
         "| tensor | shape | exact SQNR (dB) | best baseline | its SQNR (dB) | gain (dB) |",
          "|---|---|---:|---|---:|---:|"]
    ranked = sorted(rows, key=lambda d: -(d["gain_db"] if math.isfinite(d["gain_db"]) else -math.inf))[:top]
    for d in ranked:
        b = d["best_baseline"]
        L.append(f"| {d['tensor']} | {d['shape']} | {_fmt(d['sqnr_db_' + d['best_exact']])} | {b} | "
                 f"{_fmt(d['sqnr_db_' + b]) if b else ''} | {_fmt(d['gain_db'])} |")
    if getattr(res, "gguf", False):
        from .run import GGUF_SCHEMES

        qn = [t for t in res.tensors if t.gguf_sqnr]
        L += ["", "## GGUF", "",
              "Quantized GGUF tensors (Q8_0, Q4_0, K-quants...) are dequantized and analyzed as the weights: "
              "their original float values are not in the file, so their own quantization error cannot be "
              "measured (re-quantizing a dequantized Q8_0/Q4_0 tensor with its scheme reproduces it exactly). "
              "For float tensors (F32/F16/BF16), report.csv gives the SQNR of llama.cpp's "
              + "/".join(GGUF_SCHEMES) + " quantizers (blocks of 32) in the `sqnr_db_gguf_*` columns, to "
              "compare with the exact optimum of the chosen format.", "",
              "- stored types: " + ", ".join(f"{k}: {v}" for k, v in sorted(
                  {ty: sum(1 for t in res.tensors if t.gguf_type == ty) for ty in
                   {t.gguf_type for t in res.tensors}}.items())),
              f"- float tensors with the llama.cpp scheme columns: {len(qn)}"]
    for m in _bracketed(res):
        br = [d for d in rows if d[f"status_{m}"] == "bracket"]
        L += ["", f"## Status of {m}", ""]
        if not br:
            L.append("exact on every tensor (certified optimum).")
            continue
        L += [f"{len(br)} tensor(s) reached the search budget of {m}: the reported SQNR is attained by the best "
              "point found; the optimum's SQNR lies between it and the certified maximum.", "",
              "| tensor | SQNR attained (dB) | certified max (dB) | gap (dB) |", "|---|---:|---:|---:|"]
        L += [f"| {d['tensor']} | {_fmt(d['sqnr_db_' + m])} | {_fmt(d[f'sqnr_db_{m}_max'])} | "
              f"{_fmt(d[f'sqnr_db_{m}_max'] - d['sqnr_db_' + m])} |" for d in br]
    L += ["", "## Skipped tensors", ""]
    if res.skipped:
        L += ["| tensor | shape | dtype | reason |", "|---|---|---|---|"]
        L += [f"| {nm} | {'x'.join(map(str, sh))} | {dt} | {why} |" for nm, sh, dt, why in res.skipped]
    else:
        L.append("none")
    L += ["", "## Non-finite tensors (NaN/inf; skipped)", ""]
    L += [f"- {nm}" for nm in res.nonfinite] if res.nonfinite else ["none"]
    return "\n".join(L) + "\n"


def figure_png(res) -> bytes:
    """Per-layer SQNR (dB) by method, tensors in file order (deterministic PNG metadata)."""
    from ..figures._common import _METADATA, pyplot

    plt = pyplot()
    rows = per_tensor(res)
    n = len(rows)
    fig, ax = plt.subplots(figsize=(max(6.0, min(0.25 * n + 3, 24.0)), 4.2))
    xs = range(n)
    styles = {"exact": dict(color="black", lw=2.0, marker="o", ms=3, zorder=5)}
    for m in res.methods:
        ys = [d[f"sqnr_db_{m}"] for d in rows]
        ys = [y if math.isfinite(y) else float("nan") for y in ys]
        ax.plot(xs, ys, label=m, **styles.get(m, dict(lw=0.9, marker=".", ms=3, alpha=0.8)))
    ax.set_xlabel("tensor (file order)")
    ax.set_ylabel("SQNR (dB)")
    ax.set_title(f"{os.path.basename(res.path)}: {res.fmt}{' affine' if res.affine else ''}, {res.granularity}")
    if n <= 40:
        ax.set_xticks(list(xs))
        ax.set_xticklabels([d["tensor"] for d in rows], rotation=90, fontsize=6)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata=_METADATA["png"])
    plt.close(fig)
    return buf.getvalue()


def write_outputs(res, outdir, figure: bool = True) -> list[str]:
    """Write report.csv, summary.md and (if any tensor) sqnr.png into ``outdir``; return the paths."""
    os.makedirs(outdir, exist_ok=True)
    paths = []
    for name, text in (("report.csv", csv_text(res)), ("summary.md", summary_md(res))):
        p = os.path.join(outdir, name)
        atomic_write(p, text)
        paths.append(p)
    if figure and res.tensors:
        p = os.path.join(outdir, "sqnr.png")
        atomic_write(p, figure_png(res))
        paths.append(p)
    return paths
