"""``quanttheory model FILE``: optimal scales and baselines for every tensor of a checkpoint (issue 19)."""

from __future__ import annotations

import json
import math
import sys


def add_arguments(p) -> None:
    p.add_argument("file", help="checkpoint: .safetensors, .onnx, .gguf, .npz or .npy")
    p.add_argument("--format", default="int4",
                   help="number format: int<b>, uint<b> (b = 1..16); level sets e4m3, e5m2, e2m3, e3m2, e2m1, nf4, "
                        "int<b>n; block formats mxfp4, mxfp6, mxfp8, mxfp8_e5m2, mxint8, nvfp4, int4-g32/g64/g128 "
                        "(blocks along each row; --granularity is then ignored); default int4")
    p.add_argument("--granularity", default="channel",
                   help="one scale per tensor, per output channel (dim 0) or per group of K values "
                        "(tensor | channel | group:K; default channel)")
    p.add_argument("--affine", action="store_true",
                   help="asymmetric b-bit quantizer (scale + integer zero-point) instead of symmetric")
    p.add_argument("--include", metavar="REGEX", help="analyze only tensors whose name matches (re.search)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores; 1 = in-process)")
    p.add_argument("--dask", metavar="ADDRESS", help="run the tasks on a dask.distributed scheduler "
                   "(e.g. tcp://host:8786)")
    p.add_argument("--allow-nonfinite", action="store_true",
                   help="exit 0 even if tensors with NaN/inf were found (they are always skipped and listed)")
    p.add_argument("--no-figure", action="store_true", help="do not write sqnr.png")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")


def _finite(v):
    return v if isinstance(v, float) and math.isfinite(v) else (None if isinstance(v, float) else v)


def run(args) -> int:
    try:
        from ..models.report import status_of, totals, write_outputs
        from ..models.run import analyze_model
    except ImportError as exc:  # pragma: no cover - numpy etc. are hard deps
        raise ValueError(f"cannot import the model analysis ({exc})") from None
    try:
        res = analyze_model(args.file, fmt=args.format, granularity=args.granularity, affine=args.affine,
                            include=args.include, workers=args.workers, dask=args.dask,
                            quiet=args.quiet or args.json)
    except OSError as exc:
        raise ValueError(f"{args.file}: {exc.strerror or exc}") from None
    try:
        paths = write_outputs(res, args.out, figure=not args.no_figure)
    except OSError as exc:
        raise ValueError(f"cannot write to {args.out!r}: {exc.strerror or exc}") from None
    tot = totals(res)
    if args.json:
        doc = {"file": res.path, "format": res.fmt, "granularity": res.granularity, "affine": res.affine,
               "tensors": len(res.tensors), "values": sum(t.values for t in res.tensors),
               "sqnr_db": {m: _finite(q) for m, (q, _) in tot.items()},
               "seconds": {m: s for m, (_, s) in tot.items()}, "wall_seconds": res.seconds,
               "status": status_of(res),
               "skipped": [{"tensor": n, "reason": r} for n, _, _, r in res.skipped],
               "nonfinite": res.nonfinite, "outputs": paths}
        print(json.dumps(doc, allow_nan=False, indent=1))
    else:
        ex = tot.get("exact", (math.nan, 0))[0]
        print(f"{len(res.tensors)} tensors analyzed, {len(res.skipped)} skipped, {len(res.nonfinite)} non-finite; "
              f"exact {res.fmt} SQNR {ex:.2f} dB; {res.seconds:.1f} s; outputs in {args.out}")
    if res.nonfinite and not args.allow_nonfinite:
        print(f"quanttheory model: error: {len(res.nonfinite)} tensor(s) with NaN/inf skipped: "
              + ", ".join(res.nonfinite[:5]) + (" ..." if len(res.nonfinite) > 5 else "")
              + " (use --allow-nonfinite to exit 0)", file=sys.stderr)
        return 3
    if not res.tensors:
        print("quanttheory model: error: no tensor was analyzed (see the skipped list in summary.md; "
              "check --include)", file=sys.stderr)
        return 2
    return 0
