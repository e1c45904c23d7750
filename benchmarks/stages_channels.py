"""In-context stage split of the per-channel rows kernel (``risk/_kernels/direct.py``,
``exact_rows_window``), not a test; prints one table per bit width.

    python benchmarks/stages_channels.py [--rows 200] [--cols 10000] [--bits 2 4] [--dtype float64]
        [--rounds 5] [--source FILE]

``profile_channels.py`` times each stage alone (its own call per row, its own caches); this script
times the whole kernel and copies of it that stop every row after a stage, so each stage is
measured where it runs (the row and the histogram already in cache, the allocations of the
kernel).  The copies are made from the kernel's source (``--source``, default the imported
package's ``direct.py``) by inserting ``out[r, 0] = ...; continue`` before a marker line
(a stage whose marker is missing is reported and skipped), loaded with
:func:`_timing.load_source_copy` (numba's cache off).  Each round runs every copy once over the
same rows, alternating the order; the CPU minimum over ``--rounds`` rounds is kept; a stage's time
is the difference between consecutive cuts (on a loaded machine differences of a few us per row
are noise: repeat the run).  Stages:

* ``stats``: the extrema pass (``_row_stats_chk``) and the row's bracket;
* ``hist``: the histogram and its prefix sums;
* ``pre``: the bounds before the march (initial intervals, far blocks, midpoints, golden section);
* ``march``: the march of the hull ends;
* ``window``: the breakpoint bound ``ne_ub`` and the exact solution of the window (sweep or buckets).

Unit: one NumPy pass (:func:`_timing.numpy_pass`, CPU) over the 1000-row array, scaled to one row.
Data: the rows of ``bench_channels.py`` (``N(0, 1)`` times ``exp(N(0, 1/2))`` per row, seed 0).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np

from _timing import load_source_copy, numpy_pass

CUTS = [  # (stage ending at the cut, marker line before which every row stops)
    ("stats", "        # ---- histogram (active sides only: T > 0 and a non-zero value)\n"),
    ("hist", "        # ---- branch and bound over s-intervals\n"),
    ("pre", "        small = Tm <= ROW_T_MAX\n"),
    ("march", "        # ---- exact sweep of [A, B]; buffers for an upper bound of its breakpoints\n"),
]
KEEP = {  # a value of the stage kept alive (stored) so that the compiler does not drop the work
    "stats": "lo", "hist": "P[1, 1]", "pre": "A + B + U", "march": "A + B + U",
}


def data(rows, cols, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, cols)) * np.exp(0.5 * rng.normal(size=(rows, 1)))
    return np.ascontiguousarray(x.astype(dtype))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--cols", type=int, default=10000)
    ap.add_argument("--bits", type=int, nargs="+", default=[2, 4])
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--source", default=None, metavar="FILE")
    a = ap.parse_args(argv)
    from quanttheory import Grid
    from quanttheory.risk._kernels import direct as D

    path = a.source or D.__file__
    src = open(path).read()
    tmp = tempfile.mkdtemp(prefix="stages_channels_")
    mods = []
    for name, marker in CUTS:
        if src.count(marker) != 1:
            print(f"stage {name}: marker not found once in {path}, skipped")
            continue
        cut = src.replace(marker, f"        out[r, 0] = {KEEP[name]}\n        continue\n" + marker)
        mods.append((name, load_source_copy(cut, f"cut_{name}", tmp)))
    mods.append(("window", load_source_copy(src, "cut_full", tmp)))
    full = data(1000, a.cols, a.dtype)
    X = full[:a.rows].copy()
    unit = numpy_pass(full, 5, time.process_time) / full.shape[0]  # CPU seconds per row
    del full
    print(f"in-context stages of {path}, {a.rows} x {a.cols} {a.dtype}; unit: one NumPy pass per row "
          f"({1e6 * unit:.2f} us CPU); CPU min of {a.rounds} rounds")
    for b in a.bits:
        g = Grid(b)
        Tp, Tn = int(g.r_t), int(-g.r_b)
        out = np.zeros((a.rows, 10))
        for _, m in mods:  # compile
            m.exact_rows_window(X[:2], Tp, Tn, out[:2])
        best = {name: np.inf for name, _ in mods}
        for rd in range(a.rounds):
            for name, m in (mods if rd % 2 == 0 else mods[::-1]):
                t0 = time.process_time()
                m.exact_rows_window(X, Tp, Tn, out)
                best[name] = min(best[name], time.process_time() - t0)
        prev = 0.0
        parts = []
        for name, _ in mods:
            t = best[name] / a.rows
            parts.append(f"{name} {1e6 * (t - prev):6.1f} us ({(t - prev) / unit:5.2f})")
            prev = t
        print(f"{b} bits: total {1e6 * prev:6.1f} us/row ({prev / unit:5.1f} passes) | " + " | ".join(parts),
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
