"""``quanttheory scale``: optimal scale factor of a law, or of a tensor in a .npy file."""

from __future__ import annotations

import json
import math


def add_arguments(p) -> None:
    p.add_argument("file", nargs="?", help="a .npy tensor (omit to use --dist)")
    p.add_argument("--dist", choices=("normal", "laplace"), help="parametric law")
    p.add_argument("--loc", type=float, default=0.0, help="location of the law (default 0)")
    p.add_argument("--dist-scale", type=float, default=1.0, help="scale of the law (default 1)")
    p.add_argument("--relu", action="store_true", help="apply ReLU to the law")
    p.add_argument("--bits", type=int, required=True, help="bit width (1..24)")
    p.add_argument("--unsigned", action="store_true", help="unsigned grid [0, 2^b - 1]")
    p.add_argument("--regularizer", default="msqe", help="msqe (default), qsin or sinreq")
    p.add_argument("--axis", type=int, default=None, help="per-channel axis (tensor input)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def run(args) -> int:
    from ..formats.grid import Grid

    grid = Grid(args.bits, not args.unsigned)
    if args.file is not None:
        if args.dist is not None:
            raise ValueError("give either a FILE or --dist, not both")
        return int(run_file(args) or 0)
    if args.dist is None:
        raise ValueError("give a .npy FILE or --dist normal|laplace")
    from ..laws.parametric import get_distribution
    from ..risk.optimum import optimal_scale

    dist = get_distribution(args.dist, args.loc, args.dist_scale, args.relu)
    res = optimal_scale(dist, grid, args.regularizer)
    if args.json:
        d = res.as_dict()
        d["distribution"] = str(dist)
        print(json.dumps(d, indent=2, default=float))
        return 0
    print(f"distribution   {dist}")
    print(f"grid           {grid}")
    print(f"regularizer    {res.regularizer}")
    print(f"optimal scale  {res.scale:.12g}  (certified within +-{res.scale_error:.2g})")
    print(f"risk at s*     {res.risk:.12g}")
    print(f"risk >=        {res.risk_lower_bound:.12g}  (lower bound over all s)")
    if res.msqe_excess is not None:
        print(f"MSQE optimum   s = {res.msqe_scale:.12g}")
        print(f"MSQE excess    {res.msqe_excess:.3e}  (relative MSQE lost by using this s* instead)")
    print(f"method         {res.method}")
    if not math.isfinite(res.risk):
        return 1
    return 0


def run_file(args) -> int:
    """``quanttheory scale FILE.npy --bits B [--unsigned] [--axis A] [--regularizer R] [--json]``."""
    import pathlib

    import numpy as np

    from ..formats.grid import Grid
    from ..risk.data import optimal_scale_data

    path = pathlib.Path(args.file)
    if not path.exists():
        raise ValueError(f"file {str(path)!r} does not exist")
    if path.suffix != ".npy":
        raise ValueError(f"expected a .npy file (np.save), got {path.name!r}")
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - report any reader error cleanly
        raise ValueError(f"cannot read {str(path)!r} as a .npy array: {exc}") from exc
    grid = Grid(int(args.bits), signed=not bool(getattr(args, "unsigned", False)))
    res = optimal_scale_data(arr, grid, getattr(args, "regularizer", "msqe") or "msqe", axis=getattr(args, "axis", None))
    if getattr(args, "json", False):
        d = res.as_dict()
        d["file"] = str(path)
        print(json.dumps(d, default=float))
    else:
        mse = res.extra.get("mse") if res.extra else None
        print(f"file: {path}  shape {arr.shape} dtype {arr.dtype}")
        print(f"grid: {grid}   regularizer: {res.regularizer}")
        if np.ndim(res.scale) == 0:
            print(f"optimal scale s* = {res.scale:.17g}  (+- {res.scale_error:.3g})")
            print(f"risk R(s*) = {res.risk:.17g}   mse = {mse:.17g}" if mse is not None else f"risk = {res.risk}")
            print(f"certified lower bound: {res.risk_lower_bound:.17g}")
        else:
            print(f"per-channel along axis {args.axis}: {np.size(res.scale)} channels")
            for i, (s, r) in enumerate(zip(res.scale, res.risk)):
                print(f"  [{i}] s* = {s:.17g}  risk = {r:.17g}")
        print(f"method: {res.method}")
    return 0
