"""RSS growth, tensor pages included, of the ``--affine`` methods of one long unit except exact_offset
(whose 8-bit search runs to its budget, > 45 min wall under load) on a memory-mapped safetensors file:

    python benchmarks/mem_affine_whole.py BITS FILE.safetensors

Warm-up on a 2^18-value unit, writable and read-only (numba specializations); then every tensor of
at least 2^18 values, flattened (a view of the mapped pages), goes through affine_exact, minmax, hqq
and llamacpp, while a thread samples ``/proc/self/statm`` every 2 ms.  Run it from outside a
checkout to pick the interpreter's installed quanttheory.
"""
import os, sys, threading, time
import numpy as np
from quanttheory.models.readers import iter_tensors
from quanttheory.affine import stream as ST
bits = int(sys.argv[1])
rng = np.random.default_rng(0)
warm = (rng.standard_normal((1 << 18) + 64) * 0.02).astype(np.float32)
ro = warm.copy(); ro.setflags(write=False)
fns = [ST.affine_exact, ST.minmax, ST.hqq, ST.llamacpp]
for w in (warm, ro):
    for f in fns:
        f(w, bits)
import gc; gc.collect()
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
base = rss(); top = [base]; stop = threading.Event()
def sample():
    while not stop.wait(0.002):
        top[0] = max(top[0], rss())
th = threading.Thread(target=sample, daemon=True); th.start()
t0 = time.process_time()
for info, arr in iter_tensors(sys.argv[2]):
    if arr.size < (1 << 18):
        continue
    x = arr.reshape(-1)
    nbytes = x.nbytes
    out = [f(x, bits).sse for f in fns]
stop.set(); th.join(); top[0] = max(top[0], rss())
print(f"bits {bits}: rss growth incl. tensor {(top[0] - base) / nbytes:.2f}x ({(top[0]-base)/2**20:.1f} MB) cpu {time.process_time()-t0:.1f} s sse {out}")
