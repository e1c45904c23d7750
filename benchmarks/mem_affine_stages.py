"""Peak memory of each streamed affine method on ONE long float32 unit, one fresh process per stage.

    python benchmarks/mem_affine_stages.py --mb 16 --bits 2 4 8 [--stages affine_exact offset_exact ...]

Each stage runs in its own subprocess: the unit (``N(0, 0.02^2)`` float32, ``MB`` megabytes, seed 0) is
made and the stage is run once on a small long unit (numba compilation / cache load), then the
kernel's RSS high-water mark is reset (``/proc/self/clear_refs`` = 5) and the stage runs on the unit
with :mod:`tracemalloc` on.  Printed per stage, as ratios to the unit's bytes (``4 n``):

* ``numpy``: tracemalloc peak (NumPy buffers and Python objects allocated by the stage);
* ``rss``: ``VmHWM`` after the stage minus ``VmRSS`` before it (``/proc/self/status``): every extra
  resident page, numba-allocated arrays included, the unit itself excluded (it is resident before);
* ``where`` (with ``--where``): the call stack (functions of the engines, wrapped) when a thread
  sampling ``/proc/self/statm`` every millisecond saw the largest RSS: what holds the peak.

The whole ``quanttheory model --affine`` run holds the unit (1x, its mapped pages) plus the largest
stage's extra, so "peak <= 2x the tensor" means every stage's ``rss`` <= ~1x.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, time, tracemalloc
import numpy as np
from quanttheory.affine import stream as ST
from quanttheory.affine._stream_offset import BudgetExceeded
stage, bits, n, where = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
fn = getattr(ST, stage)
stack, top = [], [0, []]
if where:
    import os, threading
    import quanttheory.affine.data as AD, quanttheory.risk.data as RD, quanttheory.risk.data_search as DS
    from quanttheory.affine import _stream_offset as SO
    def wrap(mod, name):
        f = getattr(mod, name)
        def g(*a, **k):
            stack.append(name)
            try:
                return f(*a, **k)
            finally:
                stack.pop()
        setattr(mod, name, g)
    for mod, names in ((DS, ("_exact_cluster", "_bin_pieces", "_bb_exact", "_gather", "_compact")),
                       (RD, ("_optimal_msqe",)), (AD, ("_solve_one",)), (SO, ("solve",))):
        for nm in names:
            if hasattr(mod, nm):
                wrap(mod, nm)
    RD._bb_exact = DS._bb_exact
    page = os.sysconf("SC_PAGE_SIZE")
    def sample():
        while not stop.wait(0.001):
            with open("/proc/self/statm") as f:
                r = int(f.read().split()[1]) * page
            if r > top[0]:
                top[0], top[1] = r, list(stack)
    stop = threading.Event()
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024
rng = np.random.default_rng(0)
x = np.empty(n, dtype=np.float32)
for i in range(0, n, 1 << 20):
    x[i:i + (1 << 20)] = rng.standard_normal(min(1 << 20, n - i)) * 0.02
warm = (rng.standard_normal((1 << 18) + 64) * 0.02).astype(np.float32)
try:
    fn(warm, bits)
except BudgetExceeded:
    pass
import gc; gc.collect()
open("/proc/self/clear_refs", "w").write("5")
before = status("VmRSS:")
tracemalloc.start()
if where:
    th = threading.Thread(target=sample, daemon=True)
    th.start()
t0, c0 = time.perf_counter(), time.process_time()
res, err = None, None
try:
    r = fn(x, bits)
    res = {"sse": r.sse, "status": getattr(r, "status", "exact")}
except BudgetExceeded as e:
    err = str(e)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
_, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
if where:
    stop.set()
    th.join()
hwm = status("VmHWM:")
print(json.dumps({"stage": stage, "bits": bits, "n": n, "numpy": peak / (4 * n), "rss": (hwm - before) / (4 * n),
                  "numpy_MB": peak / 2**20, "rss_MB": (hwm - before) / 2**20, "wall": wall, "cpu": cpu,
                  "result": res, "error": err, "where": " > ".join(top[1])}))
"""


def run(stage, bits, n, python=sys.executable, where=False):
    out = subprocess.run([python, "-c", CHILD, stage, str(bits), str(n), "1" if where else "0"],
                         capture_output=True, text=True)
    if out.returncode:
        return {"stage": stage, "bits": bits, "failed": out.stderr.strip().splitlines()[-1:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=16.0)
    ap.add_argument("--bits", type=int, nargs="+", default=[2, 4, 8])
    ap.add_argument("--stages", nargs="+", default=["affine_exact", "offset_exact", "minmax", "hqq", "llamacpp"])
    ap.add_argument("--python", default=sys.executable, help="interpreter (e.g. another checkout's venv)")
    ap.add_argument("--where", action="store_true", help="record the call stack at the RSS peak")
    a = ap.parse_args()
    n = int(a.mb * 2**20 / 4)
    print(f"unit: {n} float32 values ({4 * n / 2**20:.1f} MB); ratios to the unit's bytes")
    print(f"{'stage':>14} {'bits':>4} {'numpy':>7} {'rss':>7} {'numpy MB':>9} {'rss MB':>8} {'wall s':>7} "
          f"{'cpu s':>7}  result")
    for b in a.bits:
        for st in a.stages:
            d = run(st, b, n, a.python, a.where)
            if "failed" in d:
                print(f"{st:>14} {b:>4} failed: {d['failed']}")
                continue
            res = d["result"] if d["result"] is not None else f"BudgetExceeded: {d['error'][:60]}"
            print(f"{st:>14} {b:>4} {d['numpy']:7.2f} {d['rss']:7.2f} {d['numpy_MB']:9.1f} {d['rss_MB']:8.1f} "
                  f"{d['wall']:7.1f} {d['cpu']:7.1f}  {res}" + (f"  peak in: {d['where']}" if a.where else ""), flush=True)


if __name__ == "__main__":
    main()
