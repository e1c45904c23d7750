"""``quanttheory scale``: optimal scale factor of a law, or of a tensor in a .npy file.

``--json`` prints one JSON object (strict JSON: no ``NaN``/``Infinity``; a value
that is not a finite number is ``null``).  Keys (``docs/cli.md``):

``scale``, ``risk``, ``regularizer``, ``grid`` (``bits``, ``signed``, ``r_b``,
``r_t``), ``method``, ``scale_error`` (absolute bound on ``|s - s_true|``, data
units; ``null`` when no finite bound exists, e.g. all-zero data where every
``s`` is optimal), ``scale_rel_error`` (``scale_error / scale``),
``risk_lower_bound``, ``msqe_excess``, ``msqe_scale``, ``extra`` (method
diagnostics), and ``distribution`` (law input) or ``file`` (tensor input).
"""

from __future__ import annotations

import json
import math


def add_arguments(p) -> None:
    p.add_argument("file", nargs="?", help="a .npy tensor (omit to use --dist)")
    p.add_argument("--dist", choices=("normal", "laplace"), help="parametric law")
    p.add_argument("--loc", type=float, default=None, help="location of the law (default 0; --dist only)")
    p.add_argument("--dist-scale", type=float, default=None,
                   help="scale of the law (default 1; --dist only)")
    p.add_argument("--relu", action="store_true", help="apply ReLU to the law (--dist only)")
    p.add_argument("--bits", type=int, required=True, help="bit width (1..24)")
    p.add_argument("--unsigned", action="store_true", help="unsigned grid [0, 2^b - 1]")
    p.add_argument("--regularizer", default="msqe", help="msqe (default), qsin or sinreq")
    p.add_argument("--axis", type=int, default=None, help="per-channel axis (FILE input only)")
    p.add_argument("--json", action="store_true", help="machine-readable output (strict JSON; see docs/cli.md)")


def json_safe(v):
    """``v`` with every non-finite float replaced by ``None`` (JSON ``null``), recursively."""
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def dumps(d: dict, **kw) -> str:
    """Strict JSON text of a result dict (``allow_nan=False`` after :func:`json_safe`)."""
    return json.dumps(json_safe(d), allow_nan=False, default=float, **kw)


def _validate(args):
    """Every argument check, before any work (file reading, compilation, search)."""
    from ..formats.grid import Grid
    from ..formats.regularizers import get_regularizer

    grid = Grid(args.bits, not args.unsigned)
    reg = get_regularizer(args.regularizer)
    if args.file is not None:
        if args.dist is not None:
            raise ValueError("give either a FILE or --dist, not both")
        given = [f for f, v in (("--loc", args.loc), ("--dist-scale", args.dist_scale),
                                ("--relu", args.relu or None)) if v is not None]
        if given:
            raise ValueError(f"{', '.join(given)} describe a --dist law and do not apply to a FILE; "
                             "transform the data before saving it instead")
        return grid, reg, None
    if args.dist is None:
        raise ValueError("give a .npy FILE or --dist normal|laplace")
    if args.axis is not None:
        raise ValueError("--axis selects channels of a FILE tensor; a --dist law has no axes")
    from ..laws.parametric import get_distribution

    dist = get_distribution(args.dist, 0.0 if args.loc is None else args.loc,
                            1.0 if args.dist_scale is None else args.dist_scale, args.relu)
    return grid, reg, dist


def run(args) -> int:
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
    print(f"optimal scale  {res.scale:.12g}  (certified within +-{res.scale_error:.2g} absolute, "
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
    path = _npy_path(args.file)
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - report any reader error cleanly
        raise ValueError(f"cannot read {str(path)!r} as a .npy array: {exc}") from exc
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
