"""``quanttheory check-regularizer``: property-check a regularizer against the SQR definition.

Examples::

    quanttheory check-regularizer qsin --bits 4
    quanttheory check-regularizer mypkg.regs:my_phi --bits 8 --unsigned --json
    quanttheory check-regularizer ./my_phi.py:phi --bits 4

Exit status: 0 when every property and claim passes, 1 when one fails, 2 on bad input.
"""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import sys


def add_arguments(parser) -> None:
    parser.add_argument("regularizer",
                        help="a built-in name (qsin, msqe, sinreq or an example: quartic, qsin_msqe_tails, "
                             "tail_minima, lopsided, cubic_tails), MODULE:FUNC, or path/to/file.py:FUNC; "
                             "FUNC(u, r_b, r_t) works in grid units")
    parser.add_argument("--bits", type=int, required=True, help="bit width of the grid (1..24)")
    parser.add_argument("--unsigned", action="store_true", help="unsigned grid [0, 2^b - 1] (default signed)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--points-per-cell", type=int, default=256,
                        help="fine-mesh points per grid cell (power of two, default 256)")
    parser.add_argument("--max-cells", type=int, default=1 << 16,
                        help="check every cell up to this many; larger grids are sampled (default 65536)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Theorem 1 random vectors")


def load_callable(spec: str):
    """Resolve ``name``, ``MODULE:FUNC`` or ``file.py:FUNC`` to a name or a callable."""
    if ":" not in spec:
        from .examples import names

        if spec.lower() in names():
            return spec.lower()
        raise ValueError(f"unknown regularizer {spec!r}: use one of {names()} or MODULE:FUNC / file.py:FUNC")
    mod_name, _, attr = spec.rpartition(":")
    if not mod_name or not attr:
        raise ValueError(f"expected MODULE:FUNC, got {spec!r}")
    if mod_name.endswith(".py"):
        path = pathlib.Path(mod_name)
        if not path.is_file():
            raise ValueError(f"no such file {mod_name!r}")
        s = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(s)
        try:
            s.loader.exec_module(module)
        except Exception as exc:
            raise ValueError(f"importing {mod_name!r} failed: {type(exc).__name__}: {exc}") from exc
    else:
        try:
            module = importlib.import_module(mod_name)
        except ImportError as exc:
            raise ValueError(f"cannot import module {mod_name!r}: {exc}") from exc
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {mod_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise TypeError(f"{spec} is a {type(obj).__name__}, not a callable phi(u, r_b, r_t)")
    return obj


def run(args) -> int:
    from ..grid import Grid
    from .checker import check

    phi = load_callable(args.regularizer)
    report = check(phi, Grid(args.bits, not args.unsigned), points_per_cell=args.points_per_cell,
                   max_cells=args.max_cells, seed=args.seed)
    if args.json:
        print(report.to_json())
    else:
        print(report.format_table())
    sys.stdout.flush()
    return 0 if report.passed else 1
