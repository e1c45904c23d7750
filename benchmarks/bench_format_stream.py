"""Streamed vs in-memory exact format data optimum: time and peak NumPy memory, same data, same run.

Baseline: :func:`quanttheory.risk.format_data.optimal_scale_format_data` (float64 copy, sign split,
sort, prefix sums) on the same float32 array.  Reported per format and size: the minimum over
``--repeats`` runs of CPU time (``time.process_time``; the machine is shared, wall time is also
printed), the ratio streamed / in-memory of those minima, the tracemalloc peak of one run of each
(bytes of NumPy buffers beyond the input; divided by the input's bytes), the relative MSE difference
and whether the scales agree.  Units: seconds, bytes, dimensionless ratios.

    python benchmarks/bench_format_stream.py [--sizes 1000000,4000000] [--formats e4m3,nf4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from quanttheory.risk.format_data import optimal_scale_format_data
from quanttheory.risk.format_stream import optimal_scale_format_stream


def _timed(fn, repeats):
    cpu, wall = [], []
    res = None
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        res = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return res, min(cpu), min(wall)


def _peak(fn):
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000000,4000000")
    ap.add_argument("--formats", default="e4m3,nf4")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    warm = (rng.standard_normal(5000) * 0.02).astype(np.float32)
    print(f"{'format':>6} {'n':>9} {'mem cpu s':>9} {'str cpu s':>9} {'ratio':>6} {'mem wall':>8} {'str wall':>8} "
          f"{'mem peak/x':>10} {'str peak/x':>10} {'passes':>6} {'rel dMSE':>9} same-scale")
    for fmt in a.formats.split(","):
        optimal_scale_format_data(warm, fmt)
        optimal_scale_format_stream(warm, fmt)  # compile
        for n in (int(s) for s in a.sizes.split(",")):
            x = (rng.standard_normal(n) * 0.02).astype(np.float32)
            rm, cm, wm = _timed(lambda: optimal_scale_format_data(x, fmt), a.repeats)
            rs, cs, ws = _timed(lambda: optimal_scale_format_stream(x, fmt), a.repeats)
            pm = _peak(lambda: optimal_scale_format_data(x, fmt))
            ps = _peak(lambda: optimal_scale_format_stream(x, fmt))
            same = abs(rs.scale - rm.scale) <= max(rm.scale_error, 1e-12 * rm.scale) or any(
                abs(rs.scale - t) <= 1e-9 * t for t in rm.near_optimal_scales)
            print(f"{fmt:>6} {n:>9} {cm:9.2f} {cs:9.2f} {cs / cm:6.2f} {wm:8.2f} {ws:8.2f} {pm / x.nbytes:10.2f} "
                  f"{ps / x.nbytes:10.2f} {rs.extra.get('data_passes', 0):>6} {rs.mse / rm.mse - 1:9.1e} {same}")


if __name__ == "__main__":
    main()
