"""Peak memory of :func:`quanttheory.models.run.analyze_model`, measured in a fresh subprocess.

Two numbers, both *growth* during the analysis (after imports and numba compilation, which are
done first on a tiny block of random rows of the same format):

(The warm-up also runs one unit longer than :data:`~quanttheory.models.tasks.STREAM_MIN` unless
``granularity`` is ``channel``, so the float32 specializations of the chunked path are compiled.)

* ``tracemalloc_peak``: the peak of Python and NumPy allocations (NumPy reports its data buffers
  to :mod:`tracemalloc`), bytes;
* ``rss_growth``: the largest resident set size seen during the run minus the resident set size
  just before it (sampled every 2 ms from ``/proc/self/statm`` by a thread; where that file does
  not exist, ``ru_maxrss`` after minus before from :func:`resource.getrusage`, which stays 0 if
  the imports' own high-water mark is never exceeded).  RSS also counts the pages of
  memory-mapped files touched while reading and allocations made outside NumPy; bytes.

Only the in-process executor is measured (``workers=1``): with a pool, each worker holds at most
one block of about ``BLOCK_VALUES`` float64 values plus its temporaries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import NamedTuple

_CHILD = r"""
import json, resource, sys, tracemalloc
import numpy as np
from quanttheory.models.run import analyze_model
from quanttheory.models.tasks import analyze_block
import quanttheory.models.readers
kw = json.loads(sys.argv[2])
rng = np.random.default_rng(0)
from quanttheory.models.tasks import STREAM_MIN
for warm in (rng.standard_normal((4, 64)), rng.standard_normal((1, STREAM_MIN + 64)).astype(np.float32)):
    if warm.shape[1] > STREAM_MIN and kw.get("granularity", "channel") == "channel":
        continue  # long units only occur with --granularity tensor (or very long channels)
    # writable and read-only (memory-mapped tensors are read-only: numba compiles a second
    # specialization for them, which must not happen inside the measured window)
    ro = warm.copy()
    ro.setflags(write=False)
    for w in (warm, ro):
        analyze_block("warm", 0, w, kw.get("fmt", "int4"), kw.get("affine", False),
                      tuple(kw["methods"]) if kw.get("methods") else None, 1.0)
try:
    import safetensors.numpy, onnx, gguf  # noqa: F401  (reader imports, not part of the growth)
except ImportError:
    pass
if kw.get("methods"):
    kw["methods"] = tuple(kw["methods"])
import os, threading, gc
gc.collect()
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
have_proc = os.path.exists("/proc/self/statm")
base_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
base = rss() if have_proc else base_max * 1024
top = [base]
stop = threading.Event()
def sample():
    while not stop.wait(0.002):
        top[0] = max(top[0], rss())
th = threading.Thread(target=sample, daemon=True)
if have_proc:
    th.start()
tracemalloc.start()
res = analyze_model(sys.argv[1], workers=1, **kw)
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
stop.set()
if have_proc:
    th.join()
    top[0] = max(top[0], rss())
    growth = top[0] - base
else:
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base_max) * 1024
print(json.dumps({"tracemalloc_peak": peak, "rss_growth": growth, "rss_before": base,
                  "tensors": len(res.tensors), "values": sum(t.values for t in res.tensors),
                  "seconds": res.seconds}))
"""


class PeakMemory(NamedTuple):
    """Growth of memory during one analysis (bytes), see the module docstring."""

    tracemalloc_peak: int
    rss_growth: int
    rss_before: int
    tensors: int
    values: int
    seconds: float


def measure_peak(path, **kwargs) -> PeakMemory:
    """Run ``analyze_model(path, workers=1, **kwargs)`` in a fresh Python process and return its
    peak memory growth.  ``kwargs`` must be JSON-serializable (fmt, granularity, affine, include,
    methods, block_values)."""
    env = dict(os.environ)
    out = subprocess.run([sys.executable, "-c", _CHILD, os.fspath(path), json.dumps(kwargs)],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"memory measurement failed: {out.stderr.strip().splitlines()[-1:] or out.returncode}")
    d = json.loads(out.stdout.strip().splitlines()[-1])
    return PeakMemory(int(d["tracemalloc_peak"]), int(d["rss_growth"]), int(d["rss_before"]), int(d["tensors"]),
                      int(d["values"]), float(d["seconds"]))
