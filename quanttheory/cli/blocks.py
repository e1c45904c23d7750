"""``quanttheory blocks``: block-scaled formats (MX, NVFP4, group INT).

    quanttheory blocks --dist normal --format mxfp4 [--rule floor] [--block 32] [--json]
    quanttheory blocks W.npy --format nvfp4 [--axis -1] [--partial] [--json]

With ``--dist``: the exact expected per-element MSE / SQNR / saturation rate of each
absmax rule (or the one given; ``--rule 4over6``: exact MSE and rates for Normal/Laplace, seconds; MSE only for other laws).  With a ``.npy`` file: every rule's MSE on the data, with
the exact per-block oracle and the gap to it.
"""

from __future__ import annotations

import json
import math


def add_arguments(p) -> None:
    p.add_argument("file", nargs="?", help=".npy tensor to quantize (omit with --dist)")
    p.add_argument("--dist", choices=["normal", "laplace"], help="iid law N(0, sigma) or Laplace(0, sigma)")
    p.add_argument("--sigma", type=float, default=None, help="scale of the law (--dist only; default 1)")
    p.add_argument("--format", required=True, help="mxfp8_e4m3 mxfp8_e5m2 mxfp6_e2m3 mxfp6_e3m2 mxfp4 mxint8 nvfp4 "
                                                   "int4_g32 int4_g64 int4_g128 (aliases mxfp8 mxfp6 int4)")
    p.add_argument("--rule", help="floor ceil round clip 4over6 oracle (default: all that apply)")
    p.add_argument("--c", type=float, default=1.0,
                   help="clip multiplier c > 0 (default 1): the block's scale is computed from c * amax, for every "
                        "rule (the clip rule maps c * amax to the largest element; docs/blocks.md section 1)")
    p.add_argument("--block", type=int, help="block size (default: the format's)")
    p.add_argument("--scale-format", choices=["e8m0", "e4m3", "fp16", "real"], help="override the scale format")
    p.add_argument("--axis", type=int, default=None, help="block axis of the FILE tensor (default -1)")
    p.add_argument("--partial", action="store_true", help="allow a last block shorter than --block")
    p.add_argument("--json", action="store_true", help="print JSON")


def _finite(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def run(args) -> int:
    from ..blocks import get_block_format

    if (args.file is None) == (args.dist is None):
        raise ValueError("give either a .npy file or --dist normal|laplace (not both)")
    if args.dist is not None:
        given = [f for f, v in (("--axis", args.axis), ("--partial", args.partial or None)) if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} apply to a FILE tensor (its blocks); a --dist law has iid elements "
                             "and no axes")
    elif args.sigma is not None:
        raise ValueError("--sigma is the scale of a --dist law and does not apply to a FILE; rescale the data instead")
    from ..blocks.spec import check_clip_multiplier

    check_clip_multiplier(args.c)
    bf = get_block_format(args.format, block=args.block, scale_format=args.scale_format)
    if args.dist is not None:
        from ..blocks.expectation import block_mse
        from ..laws import Laplace, Normal

        sigma = 1.0 if args.sigma is None else args.sigma
        law = (Normal if args.dist == "normal" else Laplace)(0.0, sigma)
        if args.rule:
            rules = [args.rule]
        elif bf.scale_format == "e8m0":
            rules = ["floor", "ceil", "round"]
        elif bf.scale_format in ("real",):
            rules = ["clip"]
        else:
            rules = ["round", "ceil", "floor"]
        rows = []
        for r in rules:
            if r in ("4/6", "four_over_six"):
                r = "4over6"
            # 4over6: exact with its rates (telescoped characteristic functions, < 0.1 s for
            # Normal/Laplace); MSE only for Student t / GenNormal / mixtures (telescoped with Legendre cells,
            # ~1-100 s, docs/blocks.md §2i) and the m-quadrature for other laws
            res = block_mse(law, bf, r, c=args.c)
            rows.append({"rule": res.rule, "mse": float(res.mse), "sqnr_db": res.sqnr_db,
                         "saturation_rate": _finite(float(res.saturation_rate)), "scale_underflow_rate": _finite(float(res.scale_underflow_rate)),
                         "scale_overflow_rate": _finite(float(res.scale_overflow_rate)), "error_estimate": float(res.error_estimate),
                         "c": res.c, "tensor_scale": res.tensor_scale})
        out = {"format": bf.name, "element": bf.element, "block": bf.block, "scale_format": bf.scale_format,
               "dist": args.dist, "sigma": sigma, "rules": rows}
    else:
        from ..blocks.data import block_data_report
        from .scale import _load

        axis = -1 if args.axis is None else args.axis
        _, x = _load(args)
        rules = [args.rule] if args.rule else None
        try:
            reps = block_data_report(x, bf, rules=rules, axis=axis, c=args.c, partial=args.partial)
        except ValueError as exc:  # the API's keyword in its message is the CLI's flag here
            raise ValueError(str(exc).replace("pass partial=True", "pass --partial")) from exc
        rows = [{"rule": r.rule, "mse": r.mse, "sqnr_db": _finite(r.sqnr_db), "saturation_rate": r.saturation_rate,
                 "scale_underflow_rate": r.scale_underflow_rate, "scale_overflow_rate": r.scale_overflow_rate,
                 "gap_to_oracle_db": r.gap_db} for r in reps]
        out = {"format": bf.name, "element": bf.element, "block": bf.block, "scale_format": bf.scale_format,
               "file": args.file, "shape": list(x.shape), "axis": axis, "rules": rows}
    if args.json:
        print(json.dumps(out, allow_nan=False))
        return 0
    print(f"{out['format']}: {bf.element} elements, blocks of {bf.block}, {bf.scale_format} scales")
    hdr = f"{'rule':8s} {'SQNR dB':>9s} {'MSE':>12s} {'saturated':>10s} {'scale uf':>9s} {'scale of':>9s}"
    if args.file is not None:
        hdr += f" {'gap dB':>8s}"
    print(hdr)
    for r in rows:
        sq = r["sqnr_db"]
        line = (f"{r['rule']:8s} {sq if sq is not None else float('inf'):9.4f} {r['mse']:12.6g} "
                f"{_num(r['saturation_rate']):10.5f} {_num(r['scale_underflow_rate']):9.2e} {_num(r['scale_overflow_rate']):9.2e}")
        if args.file is not None:
            line += f" {r['gap_to_oracle_db']:8.4f}"
        print(line)
    return 0


def _num(v):
    """A table cell: None (not computed) prints as nan."""
    return float("nan") if v is None else v
