"""In-process A/B of the sixth-round 8-bit search (issue 20; docs/data_optimum_speed.md).

``optimal_scale_data(x, Grid(b))`` on n standard normal values, alternately with

* ``old``: the fifth-round search parameters (no envelope bound, ``ENV_BOUND = 0``; bisection to
  2^-12; straddler buffer n/16; every interval bisected, ``HULL_RTOL = 0``, hence no 4-way cut);
* ``new``: this package's defaults (envelope bound below 2^-12, bisection to 2^-14 at 7-8 bits,
  buffer n/4, only the clusters' ends refined, 4-way cut near the joint bound's limit),

in one process on the same array (the machine's load hits both alike).  The only difference
left in ``old`` is that an interval's bound is not recomputed at later levels (same values).
Unit: one NumPy pass (``benchmarks._timing.numpy_pass``, CPU time, same array and dtype).
Printed: the minimum CPU time over ``--repeat`` interleaved rounds, in passes, with the stages of
that call (``bench_optimum_data._Stages``), the data passes, bound evaluations and straddlers,
and the relative MSE difference between the two (must be <= 1e-12).

    python benchmarks/bench_data_envelope.py --n 1e7 --bits 6 7 8 --repeat 5
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from _timing import numpy_pass  # noqa: E402
from bench_optimum_data import _Stages  # noqa: E402

from quanttheory import Grid  # noqa: E402
from quanttheory.risk.data import optimal_scale_data  # noqa: E402
import quanttheory.risk.data_search as D  # noqa: E402

NAMES = ("ENV_BOUND", "STOP_RTOL_HIGH", "STRADDLER_PER_N_HIGH", "HULL_RTOL")
CONFIGS = {"old": (0.0, 2.0**-12, 16, 0.0), "new": tuple(getattr(D, k) for k in NAMES)}


def _set(cfg):
    for k, v in zip(NAMES, CONFIGS[cfg]):
        setattr(D, k, v)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=float, default=1e7)
    ap.add_argument("--bits", type=int, nargs="*", default=[6, 7, 8])
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(int(a.n))
    stages = _Stages()
    for dt in (np.float64, np.float32):
        x = x0.astype(dt)
        p = numpy_pass(x, 7, clock=time.process_time)
        for b in a.bits:
            g = Grid(b)
            best, res = {}, {}
            for cfg in CONFIGS:
                _set(cfg)
                res[cfg] = optimal_scale_data(x, g)  # warm
            for _ in range(a.repeat):
                for cfg in CONFIGS:
                    _set(cfg)
                    tot, st = stages.run(lambda: optimal_scale_data(x, g), 1)
                    if cfg not in best or tot < best[cfg][0]:
                        best[cfg] = (tot, st)
            m_old, m_new = res["old"].extra["mse"], res["new"].extra["mse"]
            for cfg in CONFIGS:
                tot, st = best[cfg]
                e = res[cfg].extra
                print(f"{np.dtype(dt).name:>7} bits={b} {cfg}: CPU {tot * 1e3:7.1f} ms = {tot / p:5.1f} passes "
                      f"(hist {st.get('hist', 0) / p:.1f}, search {st.get('search', 0) / p:.1f}, "
                      f"cluster {st.get('cluster', 0) / p:.1f}); data passes {e['data_passes']}, "
                      f"bound evals {e['bb_bound_evals']}, straddlers {e['straddlers']}")
            print(f"        ratio old/new {best['old'][0] / best['new'][0]:.2f}; scales {res['old'].scale!r} "
                  f"{res['new'].scale!r}; MSE rel. diff {abs(m_new - m_old) / m_old:.1e} (pass {p * 1e3:.2f} ms)")
    _set("new")


if __name__ == "__main__":
    main()
