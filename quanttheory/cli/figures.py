"""``quanttheory figures``: regenerate every registered figure into a directory."""

from __future__ import annotations

import os
import time
from pathlib import Path


def add_arguments(p) -> None:
    p.add_argument("--out", default="figures", help="output directory (default: figures)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="only these figures (see --list)")
    p.add_argument("--quick", action="store_true", help="fast low-resolution versions (smoke tests)")
    p.add_argument("--format", default="png", choices=("png", "pdf", "svg"), help="file format")
    p.add_argument("--list", action="store_true", help="list the figure names and exit")


def run(args) -> int:
    from ..figures import registry

    reg = registry()
    if args.list:
        for name, mod in reg.items():
            print(f"{name:28s} {getattr(mod, 'TITLE', '')}")
        return 0
    selected = list(reg)
    if args.only:
        unknown = [n for n in args.only if n not in reg]
        if unknown:
            raise ValueError(f"unknown figure(s) {unknown}; known: {list(reg)}")
        selected = list(args.only)
    out = Path(args.out)
    # the output directory is checked (and created) before any figure is computed
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} exists and is not a directory; give a directory path")
    out.mkdir(parents=True, exist_ok=True)
    if not os.access(out, os.W_OK):
        raise ValueError(f"--out directory {str(out)!r} is not writable")
    # wall-clock and process CPU time: on a shared machine the CPU time is the reproducible number
    t_all, c_all = time.perf_counter(), time.process_time()
    for name in selected:
        t0, c0 = time.perf_counter(), time.process_time()
        paths = reg[name].make(out, quick=args.quick, fmt=args.format)
        print(f"{name:28s} {time.perf_counter() - t0:7.2f} s  (cpu {time.process_time() - c0:6.2f} s)  "
              f"{len(paths)} file(s)", flush=True)
    print(f"{'total':28s} {time.perf_counter() - t_all:7.2f} s  (cpu {time.process_time() - c_all:6.2f} s)",
          flush=True)
    return 0
