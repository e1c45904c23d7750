"""First-call benchmark (not a test): ``quanttheory scale --dist normal --bits 4`` in a child process.

    python benchmarks/bench_first_call.py [--repeat 3] [--args scale --dist laplace --bits 4]

* cold: an empty numba cache (a fresh ``NUMBA_CACHE_DIR`` for every cold run), i.e. what a new
  user waits for the first time;
* warm: the same command again with that cache filled;
* baseline in the same run: ``python -c "import numpy"`` (the interpreter and numpy alone).

Each is the minimum over ``--repeat`` runs, wall time (``time.perf_counter`` around the child) and
CPU time of the child (user + sys from ``resource.getrusage(RUSAGE_CHILDREN)``), seconds; plus the
number of numba functions compiled by the cold run (``NUMBA_DEBUG_CACHE``'s "data saved" lines).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time


def run(cmd, env):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    compiled = sum("data saved" in ln for ln in (out.stdout + out.stderr).splitlines())
    return wall, cpu, compiled


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--args", nargs=argparse.REMAINDER, default=["scale", "--dist", "normal", "--bits", "4"])
    a = ap.parse_args(argv)
    cmd = [sys.executable, "-m", "quanttheory", *a.args]
    cold = [math.inf, math.inf]
    warm = [math.inf, math.inf]
    base = [math.inf, math.inf]
    ncomp = 0
    for _ in range(a.repeat):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, NUMBA_CACHE_DIR=d, NUMBA_DEBUG_CACHE="1")
            w, c, ncomp = run(cmd, env)
            cold = [min(cold[0], w), min(cold[1], c)]
            env.pop("NUMBA_DEBUG_CACHE")
            w, c, _ = run(cmd, env)
            warm = [min(warm[0], w), min(warm[1], c)]
            w, c, _ = run([sys.executable, "-c", "import numpy"], env)
            base = [min(base[0], w), min(base[1], c)]
    print(f"command: quanttheory {' '.join(a.args)}   (min of {a.repeat} runs; seconds)")
    print(f"{'':>26} {'wall':>7} {'cpu':>7}")
    print(f"{'cold (empty numba cache)':>26} {cold[0]:>7.2f} {cold[1]:>7.2f}   numba functions compiled: {ncomp}")
    print(f"{'warm':>26} {warm[0]:>7.2f} {warm[1]:>7.2f}")
    print(f"{'python -c import numpy':>26} {base[0]:>7.2f} {base[1]:>7.2f}")
    print(f"cold / import-numpy baseline: wall {cold[0] / base[0]:.2f}, cpu {cold[1] / base[1]:.2f}")


if __name__ == "__main__":
    main()
