"""Command-line interface ``quanttheory`` (argparse; subcommands import lazily).

Each subcommand lives in a module exposing ``add_arguments(parser)`` and
``run(args) -> int``: :mod:`quanttheory.cli.scale`, :mod:`quanttheory.cli.figures`,
:mod:`quanttheory.cli.linear` and :mod:`quanttheory.cli.check_regularizer`.
Only the chosen subcommand's module is imported, and nothing heavy (numba,
matplotlib) until it runs, so ``quanttheory --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "scale": ("quanttheory.cli.scale", "optimal scale factor of a distribution or of a .npy tensor"),
    "figures": ("quanttheory.cli.figures", "regenerate the supplementary figures and tables"),
    "check-regularizer": ("quanttheory.cli.check_regularizer",
                          "property-check a regularizer against the SQR definition"),
    "linear": ("quanttheory.cli.linear", "linear-model theory of training/generalization error"),
    "blocks": ("quanttheory.cli.blocks", "block-scaled formats (MX, NVFP4, group INT): exact error of each scale rule"),
    "model": ("quanttheory.cli.model", "optimal scales and toolkit baselines for every tensor of a checkpoint"),
}


def build_parser(argv: list[str]) -> tuple[argparse.ArgumentParser, object | None]:
    parser = argparse.ArgumentParser(
        prog="quanttheory",
        description="Exact theory of uniform quantization: risk curves, optimal scales, SQR checks.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"quanttheory {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    chosen = next((a for a in argv if not a.startswith("-")), None)
    module = None
    for name, (modname, helptext) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=helptext, description=helptext)
        if name == chosen:
            module = importlib.import_module(modname)
            module.add_arguments(p)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, module = build_parser(argv)
    args = parser.parse_args(argv)
    if module is None:
        # no subcommand is a usage error (exit 2, like argparse's own); --help exits 0
        parser.print_help(sys.stderr)
        print("quanttheory: error: give a COMMAND (see the list above)", file=sys.stderr)
        return 2
    try:
        return int(module.run(args) or 0)
    except (ValueError, TypeError, OSError, ArithmeticError) as exc:
        # expected failures (bad input, unreadable/unwritable paths, values outside float64)
        # are one line on stderr and exit status 2, never a traceback
        msg = str(exc) or type(exc).__name__
        if isinstance(exc, OSError) and exc.filename is not None:
            msg = f"{exc.strerror or exc}: {exc.filename}"
        print(f"quanttheory {args.command}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
