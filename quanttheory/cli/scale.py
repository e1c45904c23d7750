"""``quanttheory scale``: optimal scale factor of a law, or of a tensor in a .npy file.

``--json`` prints one JSON object (strict JSON: no ``NaN``/``Infinity``; a value
that is not a finite number is ``null``).  Keys (``docs/cli.md``):

``scale``, ``risk``, ``regularizer``, ``grid`` (``bits``, ``signed``, ``r_b``,
``r_t``), ``method``, ``scale_error`` (absolute bound on ``|s - s_true|``, data
units; ``null`` when no finite bound exists, e.g. all-zero data where every
``s`` is optimal), ``scale_rel_error`` (``scale_error / scale``),
``risk_lower_bound``, ``msqe_excess``, ``msqe_scale``, ``extra`` (method
diagnostics), and ``distribution`` (law input) or ``file`` (tensor input).
With ``--format`` the keys are those of ``FormatScale``/``FormatOptimum`` (every
near-optimal scale included), with ``--affine`` those of the affine results, plus
``input`` (see docs/cli.md, docs/formats.md, docs/affine.md).
"""

from __future__ import annotations

import json
import math


def add_arguments(p) -> None:
    p.add_argument("file", nargs="?", help="a .npy tensor (omit to use --dist)")
    p.add_argument("--dist", choices=("normal", "laplace", "student-t", "gennorm"), help="parametric law")
    p.add_argument("--df", type=float, default=None, help="degrees of freedom of --dist student-t (> 2)")
    p.add_argument("--beta", type=float, default=None, help="shape of --dist gennorm (> 0; 2 Normal, 1 Laplace)")
    p.add_argument("--loc", type=float, default=None, help="location of the law (default 0; --dist only)")
    p.add_argument("--dist-scale", type=float, default=None,
                   help="scale of the law (default 1; --dist only)")
    p.add_argument("--relu", action="store_true", help="apply ReLU to the law (--dist only)")
    p.add_argument("--bits", type=int, default=None, help="bit width of the integer grid (1..24)")
    p.add_argument("--format", default=None, metavar="NAME",
                   help="number format instead of --bits: e4m3, e5m2, e2m3, e3m2, e2m1, nf4, fp16, bf16, "
                        "int<b>, int<b>n (narrow), uint<b>")
    p.add_argument("--unsigned", action="store_true", help="unsigned grid [0, 2^b - 1]")
    p.add_argument("--regularizer", default="msqe", help="msqe (default), qsin or sinreq")
    p.add_argument("--axis", type=int, default=None, help="per-channel axis (FILE input only)")
    p.add_argument("--affine", nargs="?", const="zero_point", choices=("zero_point", "offset"), default=None,
                   help="joint optimum of an affine grid x_hat = s (q - z) (integer zero-point, default) or "
                        "x_hat = s q + m ('--affine offset'); codes 0..2^b - 1 (see docs/affine.md)")
    p.add_argument("--group", type=int, default=None,
                   help="with --affine and a FILE: one (s, z) per group of this many consecutive elements")
    p.add_argument("--allow-constant", action="store_true",
                   help="with --affine and a FILE: accept constant data / constant channels or groups (e.g. an "
                        "all-zero pruned channel; every scale is then optimal, one is returned and flagged "
                        "'degenerate')")
    p.add_argument("--json", action="store_true", help="machine-readable output (strict JSON; see docs/cli.md)")


def json_safe(v):
    """JSON-safe copy: numpy scalars/arrays to Python, non-finite floats to None (strict JSON)."""
    import numpy as np

    if isinstance(v, dict):
        return {str(k): json_safe(a) for k, a in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(a) for a in v]
    if isinstance(v, np.ndarray):
        return [json_safe(a) for a in v.tolist()]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)


def dumps(d: dict, **kw) -> str:
    """Strict JSON text of a result dict (``allow_nan=False`` after :func:`json_safe`)."""
    return json.dumps(json_safe(d), allow_nan=False, default=float, **kw)


def _check_input(args) -> None:
    """Flags that only one kind of input takes (before any work)."""
    if args.file is not None:
        if args.dist is not None:
            raise ValueError("give either a FILE or --dist, not both")
        given = [f for f, v in (("--loc", args.loc), ("--dist-scale", args.dist_scale),
                                ("--relu", args.relu or None), ("--df", args.df), ("--beta", args.beta))
                 if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} describe a --dist law and do not apply to a FILE; "
                             "transform the data before saving it instead")
        return
    if args.dist is None:
        raise ValueError("give a .npy FILE or --dist normal|laplace|student-t|gennorm")
    if args.axis is not None or getattr(args, "group", None) is not None:
        raise ValueError("--axis / --group apply to a FILE tensor (its channels or groups); a --dist law has no axes")


def _law(args):
    from ..laws.parametric import get_distribution

    return get_distribution(args.dist, 0.0 if args.loc is None else args.loc,
                            1.0 if args.dist_scale is None else args.dist_scale, args.relu,
                            df=args.df, beta=args.beta)


def _validate(args):
    """Every argument check of the integer-grid path, before any work (file reading, compilation, search)."""
    from ..formats.grid import Grid
    from ..formats.regularizers import get_regularizer

    if args.bits is None:
        raise ValueError("give --bits B (integer grid) or --format NAME (e.g. e4m3, nf4, int8n)")
    grid = Grid(args.bits, not args.unsigned)
    reg = get_regularizer(args.regularizer)
    return grid, reg, (None if args.file is not None else _law(args))


def run(args) -> int:
    if args.group is not None and args.affine is None:
        raise ValueError("--group applies to affine grids: add --affine")
    if getattr(args, "allow_constant", False) and (args.affine is None or args.file is None):
        raise ValueError("--allow-constant applies to --affine with a FILE (constant data, channels or groups)")
    _check_input(args)
    if args.affine is not None:
        if args.format is not None:
            raise ValueError("--affine takes --bits B (codes 0..2^B - 1), not --format")
        if args.bits is None:
            raise ValueError("--affine needs --bits B (codes 0..2^B - 1)")
        return run_affine(args)
    if args.format is not None:
        return run_format(args)
    grid, reg, dist = _validate(args)
    if dist is None:
        return int(run_file(args, grid, reg) or 0)
    from ..risk.optimum import optimal_scale

    res = optimal_scale(dist, grid, reg)
    if args.json:
        d = res.as_dict()
        d["distribution"] = str(dist)
        print(dumps(d, indent=2))
        return 0
    print(f"distribution   {dist}")
    print(f"grid           {grid}")
    print(f"regularizer    {res.regularizer}")
    cert = "certified within" if math.isfinite(res.risk_lower_bound) else "not certified; local error estimate (not global)"
    print(f"optimal scale  {res.scale:.12g}  ({cert} +-{res.scale_error:.2g} absolute, "
          f"{res.scale_rel_error:.2g} relative)")
    print(f"risk at s*     {res.risk:.12g}")
    print(f"risk >=        {res.risk_lower_bound:.12g}  (lower bound over all s)")
    if res.msqe_excess is not None:
        print(f"MSQE optimum   s = {res.msqe_scale:.12g}")
        print(f"MSQE excess    {res.msqe_excess:.3e}  (relative MSQE lost by using this s* instead)")
    print(f"method         {res.method}")
    if not math.isfinite(res.risk):
        return 1
    return 0


def _npy_path(name: str):
    import pathlib

    path = pathlib.Path(name)
    if path.suffix.lower() != ".npy":
        raise ValueError(f"expected a .npy file (np.save), got {path.name!r}")
    if not path.exists():
        raise ValueError(f"file {str(path)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a directory, not a .npy file")
    return path


def run_file(args, grid=None, reg=None) -> int:
    """``quanttheory scale FILE.npy --bits B [--unsigned] [--axis A] [--regularizer R] [--json]``."""
    import numpy as np

    from ..formats.grid import Grid
    from ..risk.data import optimal_scale_data

    if grid is None:
        grid = Grid(int(args.bits), signed=not bool(getattr(args, "unsigned", False)))
    if reg is None:
        reg = getattr(args, "regularizer", "msqe") or "msqe"
    path, arr = _load(args)
    res = optimal_scale_data(arr, grid, reg, axis=getattr(args, "axis", None))
    if getattr(args, "json", False):
        d = res.as_dict()
        d["file"] = str(path)
        print(dumps(d))
    else:
        mse = res.extra.get("mse") if res.extra else None
        print(f"file: {path}  shape {arr.shape} dtype {arr.dtype}")
        print(f"grid: {grid}   regularizer: {res.regularizer}")
        if np.ndim(res.scale) == 0:
            print(f"optimal scale s* = {res.scale:.17g}  (+- {res.scale_error:.3g} absolute, "
                  f"{res.scale_rel_error:.3g} relative)")
            print(f"risk R(s*) = {res.risk:.17g}   mse = {mse:.17g}" if mse is not None else f"risk = {res.risk}")
            print(f"certified lower bound: {res.risk_lower_bound:.17g}")
        else:
            print(f"per-channel along axis {args.axis}: {np.size(res.scale)} channels")
            for i, (s, r) in enumerate(zip(res.scale, res.risk)):
                print(f"  [{i}] s* = {s:.17g}  risk = {r:.17g}")
        print(f"method: {res.method}")
    return 0


NPY_MAGIC = b"\x93NUMPY"


def _check_npy_magic(path) -> None:
    """A clear message for a file that is not in the .npy format (numpy's own reads such a file as a
    pickle and says 'pickled (object) data', or raises EOFError on an empty file)."""
    with open(path, "rb") as fh:
        head = fh.read(len(NPY_MAGIC))
    if not head:
        raise ValueError(f"cannot read {str(path)!r} as a .npy array: the file is empty")
    if head != NPY_MAGIC:
        raise ValueError(f"cannot read {str(path)!r} as a .npy array: it does not start with the .npy magic "
                         "string (save arrays with numpy.save)")


def _load(args):
    import numpy as np

    path = _npy_path(args.file)
    _check_npy_magic(path)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - report any reader error cleanly
        raise ValueError(f"cannot read {str(path)!r} as a .npy array: {exc}") from exc
    return path, arr


def run_affine(args) -> int:
    """``quanttheory scale (FILE.npy | --dist D) --bits B --affine [offset] [--axis A | --group K] [--json]``."""
    import numpy as np

    form = args.affine
    if args.unsigned:
        raise ValueError("affine grids always use the codes 0..2^b - 1: drop --unsigned")
    if (args.regularizer or "msqe") != "msqe":
        raise ValueError("--affine optimizes the MSE only: drop --regularizer")
    if args.file is not None:
        from ..affine.data import optimal_affine_data, optimal_offset_data

        path, arr = _load(args)
        f = optimal_affine_data if form == "zero_point" else optimal_offset_data
        try:
            res = f(arr, args.bits, axis=args.axis, group=args.group, allow_constant=args.allow_constant)
        except ValueError as exc:  # the API's advice, in CLI terms
            raise ValueError(str(exc).replace("pass allow_constant=True", "pass --allow-constant")) from exc
        what = f"file {path}  shape {arr.shape} dtype {arr.dtype}"
    else:
        from ..affine.parametric import optimal_affine, optimal_offset

        dist = _law(args)
        res = (optimal_affine if form == "zero_point" else optimal_offset)(dist, args.bits)
        what = f"distribution {dist}"
    if args.json:
        # strict JSON with null for non-finite values (docs/cli.md), not as_dict()'s "inf" strings
        # (a degenerate constant channel has scale_error inf)
        d = {k: getattr(res, k) for k in res.__dataclass_fields__}
        d["input"] = what
        print(dumps(d))
        return 0
    print(what)
    print(f"affine grid    {args.bits} bits, codes 0..{2**args.bits - 1}, form "
          + ("x_hat = s (q - z)" if form == "zero_point" else "x_hat = s q + m"))
    if np.ndim(res.scale) == 0:
        print(f"optimal scale  {res.scale:.12g}  (+- {res.scale_error:.2g})")
        if res.zero_point is not None:
            print(f"zero-point     {res.zero_point}")
        print(f"offset m       {res.offset:.12g}")
        print(f"MSE at optimum {res.mse:.12g}")
        print(f"MSE >=         {res.mse_lower_bound:.12g}  (certified lower bound over every (s, "
              + ("z" if form == "zero_point" else "m") + "))")
    else:
        print(f"{np.size(res.scale)} {'groups' if args.group else 'channels'}")
        for i in range(np.size(res.scale)):
            zp = f"  z = {res.zero_point[i]}" if res.zero_point is not None else f"  m = {res.offset[i]:.12g}"
            print(f"  [{i}] s* = {res.scale[i]:.12g}{zp}  mse = {res.mse[i]:.12g}")
    print(f"method         {res.method}")
    return 0


def run_format(args) -> int:
    """``quanttheory scale (FILE.npy | --dist LAW) --format NAME [--axis A] [--json]``: MSE-optimal scale(s)."""
    import numpy as np

    from ..formats.levelset import get_format

    if args.bits is not None:
        raise ValueError("give either --bits or --format, not both (integer grids are formats too: "
                         "--format int8, int8n, uint8)")
    if args.unsigned:
        raise ValueError("--unsigned is for --bits; with --format name an unsigned format, e.g. --format uint4")
    if (args.regularizer or "msqe") != "msqe":
        raise ValueError("--format optimizes the MSE (msqe) only; QSin/SinReQ are defined on integer grids (--bits)")
    fmt = get_format(args.format)
    if args.file is not None:
        from ..risk.format_data import optimal_scale_format_data

        path, arr = _load(args)
        res = optimal_scale_format_data(arr, fmt, axis=args.axis)
        if args.json:
            d = res.as_dict()
            d["file"] = str(path)
            print(dumps(d))
            return 0
        print(f"file: {path}  shape {arr.shape} dtype {arr.dtype}")
        print(f"format: {fmt}   (MSE-optimal scale, exact and certified)")
        if np.ndim(res.scale) == 0:
            print(f"optimal scale s* = {res.scale:.17g}  (+- {res.scale_error:.3g})")
            print(f"mse(s*) = {res.mse:.17g}   risk pi^2 mse = {res.risk:.17g}")
            print(f"certified lower bound on the risk: {res.risk_lower_bound:.17g}")
            near = res.near_optimal_scales
            print(f"near-optimal scales (local minima within rtol {res.extra.get('rtol', 1e-9):g}): {len(near)}")
            for s_, m_ in zip(near, res.near_optimal_mse):
                print(f"  s = {s_:.17g}   mse = {m_:.17g}")
            if res.mse > 0:
                print(f"amax rule s = {res.amax_scale:.12g}: mse {res.amax_mse:.12g} "
                      f"(+{100 * (res.amax_mse / res.mse - 1):.4g}% vs optimum)")
        else:
            print(f"per-channel along axis {args.axis}: {np.size(res.scale)} channels")
            for i, (s_, m_, nr) in enumerate(zip(res.scale, res.mse, res.near_optimal_scales)):
                print(f"  [{i}] s* = {s_:.17g}  mse = {m_:.17g}  near-optimal: {len(nr)}")
        print(f"method: {res.method}")
        return 0
    from ..risk.levels_optimum import format_optimal_scale

    dist = _law(args)
    res = format_optimal_scale(dist, fmt)
    if args.json:
        d = res.as_dict()
        d["distribution"] = str(dist)
        print(dumps(d, indent=2))
        return 0
    print(f"distribution   {dist}")
    print(f"format         {fmt}")
    print(f"optimal scale  {res.scale:.12g}   SQNR {res.sqnr_db:.6f} dB")
    print(f"risk at s*     {res.risk:.12g}")
    print(f"risk >=        {res.risk_lower_bound:.12g}  (lower bound over all s)")
    print(f"near-optimal   {len(res.minima)} local minim{'um' if len(res.minima) == 1 else 'a'} within rtol {res.rtol:g}:")
    for m in res.minima:
        print(f"  s = {m.scale:.12g}   risk = {m.risk:.15g}   SQNR {m.sqnr_db:.9f} dB")
    print(f"best power of 2 s = {res.pow2_scale:.12g}: SQNR {res.pow2_sqnr_db:.6f} dB ({res.pow2_db_loss:.4f} dB lost)")
    print(f"method         {res.method}")
    return 0
