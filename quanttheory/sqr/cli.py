"""``quanttheory check-regularizer``: property-check a regularizer against the SQR definition.

Examples::

    quanttheory check-regularizer qsin --bits 4
    quanttheory check-regularizer mymodule:my_phi --bits 4          # mymodule.py in the current directory
    quanttheory check-regularizer mypkg.regs:my_phi --bits 8 --unsigned --json
    quanttheory check-regularizer ./my_phi.py:phi --bits 4

Exit status: 0 when ``phi`` IS an SQR (the definition: equivalence, order preservation, C^2), 1 when it
is not, 2 on bad input.  The paper's claims (Props. 1-2, Theorem 1) are reported but only count for the
exit status with ``--strict`` (then 0 needs every property and claim to pass).  The verdict line of the
table says which exit status it implies.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import pathlib
import sys


def add_arguments(parser) -> None:
    parser.add_argument("regularizer",
                        help="a built-in name (qsin, msqe, sinreq or an example: quartic, qsin_msqe_tails, "
                             "tail_minima, lopsided, cubic_tails), MODULE:FUNC (MODULE importable or a .py file "
                             "in the current directory), or path/to/file.py:FUNC; FUNC(u, r_b, r_t) works in "
                             "grid units")
    parser.add_argument("--bits", type=int, required=True, help="bit width of the grid (1..24)")
    parser.add_argument("--unsigned", action="store_true", help="unsigned grid [0, 2^b - 1] (default signed)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--points-per-cell", type=int, default=256,
                        help="fine-mesh points per grid cell (power of two 64..2^20, default 256)")
    parser.add_argument("--max-cells", type=int, default=1 << 16,
                        help="check every cell up to this many; larger grids are sampled (default 65536)")
    parser.add_argument("--seed", type=int, default=0, help="seed (>= 0) of the Theorem 1 random vectors")
    parser.add_argument("--strict", action="store_true",
                        help="exit status 1 also when a claim (Prop. 1, Prop. 2, Theorem 1) fails")


@contextlib.contextmanager
def _cwd_on_path():
    """``python -m`` puts the current directory on sys.path, a console script does not: add it while
    importing a user module, so ``mymodule:phi`` next to ``mymodule.py`` works either way."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(cwd)


def _import(mod_name: str):
    try:
        with _cwd_on_path():
            return importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and mod_name.split(".")[0] == exc.name.split(".")[0]:
            raise ValueError(
                f"cannot import module {mod_name!r}: no module {exc.name!r} on sys.path or in the current "
                f"directory {os.getcwd()!r}; run from the directory holding {exc.name.split('.')[0]}.py, "
                f"install the package, or pass a file: path/to/{mod_name.split('.')[-1]}.py:FUNC") from exc
        raise ValueError(f"cannot import module {mod_name!r}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise ValueError(f"cannot import module {mod_name!r}: {type(exc).__name__}: {exc}") from exc


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
        module = _import(mod_name)
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {mod_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise TypeError(f"{spec} is a {type(obj).__name__}, not a callable phi(u, r_b, r_t)")
    return obj


def run(args) -> int:
    from ..grid import Grid
    from .checker import check, validate_options

    # every argument is checked before any work (loading the module, evaluating phi)
    grid = Grid(args.bits, not args.unsigned)
    validate_options(args.points_per_cell, args.max_cells, 4, 1e6, 300, args.seed)
    phi = load_callable(args.regularizer)
    report = check(phi, grid, points_per_cell=args.points_per_cell, max_cells=args.max_cells, seed=args.seed)
    if args.json:
        print(report.to_json())
    else:
        print(report.format_table(strict=args.strict))
    sys.stdout.flush()
    return report.exit_status(strict=args.strict)
