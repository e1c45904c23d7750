"""``quanttheory check-regularizer``: property-check a regularizer against the SQR definition.

(The loading of ``MODULE:FUNC`` / ``file.py:FUNC`` is :func:`quanttheory.sqr.cli.load_callable`.)

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


def run(args) -> int:
    from ..formats.grid import Grid
    from ..sqr.checker import check, validate_options
    from ..sqr.cli import load_callable

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
