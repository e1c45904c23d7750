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
    from .grid import Grid

    grid = Grid(args.bits, not args.unsigned)
    if args.file is not None:
        if args.dist is not None:
            raise ValueError("give either a FILE or --dist, not both")
        from .empirical import cli_scale_file

        return int(cli_scale_file(args) or 0)
    if args.dist is None:
        raise ValueError("give a .npy FILE or --dist normal|laplace")
    from .distributions import get_distribution
    from .risk import optimal_scale

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
