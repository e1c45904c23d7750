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
        parser.print_help()
        return 0
    try:
        return int(module.run(args) or 0)
    except (ValueError, TypeError) as exc:
        print(f"quanttheory {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
