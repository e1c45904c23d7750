"""Timing helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``).

* :func:`best_time` -- the minimum over ``repeat`` runs (the least disturbed run on a shared
  machine), with the clock of the caller's choice (``time.perf_counter`` for wall time,
  ``time.process_time`` for the CPU time of this process).
* :func:`numpy_pass` -- the unit "one NumPy pass" over an array: the median of the best times of
  plain reductions over the same array (``x.sum()``, ``x.max()``, ``(x > 1).sum()``).
"""

from __future__ import annotations

import math
import statistics
import time


def best_time(f, repeat: int = 5, clock=time.perf_counter):
    """``(min seconds over repeat runs, last result)``."""
    best, out = math.inf, None
    for _ in range(max(1, int(repeat))):
        t0 = clock()
        out = f()
        best = min(best, clock() - t0)
    return best, out


def numpy_pass(x, repeat: int = 5, clock=time.perf_counter) -> float:
    """Seconds of one NumPy pass over ``x``: median of the best times of three plain reductions."""
    return statistics.median(best_time(f, repeat, clock)[0]
                             for f in (lambda: x.sum(), lambda: x.max(), lambda: (x > 1).sum()))


def load_source_copy(src: str, name: str, directory):
    """Import the module source ``src`` as module ``name`` from a file in ``directory`` (numba's
    ``cache=True`` switched off, so that two versions of one kernel file can be timed side by side
    in one process)."""
    import importlib.util
    from pathlib import Path

    p = Path(directory) / f"{name}.py"
    p.write_text(src.replace("cache=True", "cache=False"))
    spec = importlib.util.spec_from_file_location(name, p)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m
