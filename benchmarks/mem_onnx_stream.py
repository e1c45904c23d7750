"""Peak memory of reading / analyzing an ONNX checkpoint: streamed reader vs a baseline checkout.

    python benchmarks/mem_onnx_stream.py [--baseline DIR] [--repeat N] [--workdir DIR]

Writes a 64 MB ONNX model of 8 float32 tensors of 2048 x 1024 (8 MB each) twice: with the weights
inside the protobuf (``raw_data``) and as external data (``save_as_external_data=True``, one side file).
For each file and each code base (this interpreter's quanttheory; with ``--baseline DIR``, the same
interpreter with ``PYTHONPATH=DIR``, e.g. ``git archive c812034 | tar -x -C DIR``), two numbers, each
measured in a fresh process (minimum over ``--repeat`` runs):

* ``read``: RSS growth while iterating over ``iter_tensors`` and summing every tensor (the reader alone),
  and its CPU time (``time.process_time``; the file is in the page cache after the first run);
* ``model``: :func:`quanttheory.models.memory.measure_peak` of ``quanttheory model`` with
  ``--granularity tensor`` and the amax baseline only (every tensor one unit, chunked passes); its
  NumPy peak (tracemalloc) is printed too.

Both are growth over the process's RSS after imports and warm-up, in MB and in units of the largest
tensor (8 MB).  A baseline that cannot read a file (main rejects external data) is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

_READ_CHILD = r"""
import os, sys, threading, json
import numpy as np
from quanttheory.models.readers import iter_tensors
try:
    import onnx  # noqa: F401  (import cost is not part of the growth)
except ImportError:
    pass
page = os.sysconf("SC_PAGE_SIZE")
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page
import time
base = rss(); top = [base]; stop = threading.Event()
def sample():
    while not stop.wait(0.002):
        top[0] = max(top[0], rss())
th = threading.Thread(target=sample, daemon=True); th.start()
n = 0; s = 0.0
t0 = time.process_time()
for info, a in iter_tensors(sys.argv[1]):
    s += float(np.asarray(a, dtype=np.float32).sum(dtype=np.float64)); n += 1
cpu = time.process_time() - t0
stop.set(); th.join(); top[0] = max(top[0], rss())
print(json.dumps({"growth": top[0] - base, "tensors": n, "sum": s, "cpu": cpu}))
"""

MB = 1 << 20


def make(workdir):
    import numpy as np
    import onnx
    from onnx import TensorProto as T
    from onnx import helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array((rng.standard_normal((2048, 1024)) * 0.02).astype(np.float32), f"w{i}")
             for i in range(8)]
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", T.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", T.FLOAT, [1])], inits)
    m = helper.make_model(g)
    inside = os.path.join(workdir, "in", "big.onnx")
    ext = os.path.join(workdir, "ext", "big.onnx")
    for p in (inside, ext):
        os.makedirs(os.path.dirname(p), exist_ok=True)
    onnx.save_model(m, inside)
    onnx.save_model(m, ext, save_as_external_data=True, all_tensors_to_one_file=True, location="big.bin",
                    size_threshold=0)
    return {"inside": inside, "external": ext}


def run(code, env, path):
    out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, env=env)
    if out.returncode:
        return None, (out.stderr.strip().splitlines() or ["?"])[-1][:160]
    return json.loads(out.stdout.strip().splitlines()[-1]), None


def model_peak(env, path):
    code = ("import json, sys\nfrom quanttheory.models.memory import measure_peak\n"
            "m = measure_peak(sys.argv[1], granularity='tensor', methods=['amax'])\n"
            "print(json.dumps({'growth': m.rss_growth, 'tm': m.tracemalloc_peak, 'tensors': m.tensors}))")
    return run(code, env, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", help="directory holding a baseline quanttheory package (PYTHONPATH)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--workdir")
    a = ap.parse_args()
    work = a.workdir or tempfile.mkdtemp(prefix="onnx_mem_")
    files = make(work)
    bases = {"this": dict(os.environ)}
    if a.baseline:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.abspath(a.baseline)
        bases["baseline"] = env
    tensor = 2048 * 1024 * 4
    print(f"checkpoint 64 MB = 8 tensors of {tensor / MB:.0f} MB; growth in MB (x largest tensor), "
          f"min of {a.repeat} runs")
    for kind, path in files.items():
        for label, env in bases.items():
            for what, fn in (("read", lambda e, p: run(_READ_CHILD, e, p)), ("model", model_peak)):
                vals, tms, cpus, err = [], [], [], None
                for _ in range(a.repeat):
                    d, err = fn(env, path)
                    if d is None:
                        break
                    vals.append(d["growth"])
                    tms.append(d.get("tm", -1))
                    cpus.append(d.get("cpu", -1))
                if not vals:
                    print(f"{kind:9s} {label:9s} {what:6s} fails: {err}")
                    continue
                g = min(vals)
                tm = f"  NumPy peak {min(tms) / MB:6.1f} MB ({min(tms) / tensor:5.2f}x)" if min(tms) >= 0 else ""
                tm += f"  CPU {min(cpus):.3f} s (read + sum)" if min(cpus) >= 0 else ""
                print(f"{kind:9s} {label:9s} {what:6s} {g / MB:7.1f} MB ({g / tensor:5.2f}x){tm}", flush=True)


if __name__ == "__main__":
    main()
