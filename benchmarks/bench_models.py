"""Throughput of ``quanttheory model`` on a synthetic transformer-shaped checkpoint (issue 19).

Writes a float32 .safetensors file of about ``--params`` parameters (layers of four
``d x d`` attention matrices and two ``4d x d`` / ``d x 4d`` MLP matrices, heavy-tailed
Student-t(5) weights, seeded), then runs per-channel INT4 analysis (exact optimum plus every
baseline) with ``--workers`` processes, and compares with one NumPy pass over the same bytes
(read each tensor, ``max |x|``), measured in the same run.  Prints the minimum of ``--repeat`` runs.

Units: parameters per second = analyzed values / wall seconds (reading included).  CPU
seconds per method are ``time.process_time`` inside the workers, summed (on a machine shared
with other jobs, wall time is inflated by waiting; CPU time is not).

``--memory``: also the peak memory growth (NumPy allocations by tracemalloc, and the RSS
high-water mark) of an in-process run over a safetensors file of 8 float32 tensors of
``--memory-mb`` MB each (largest tensor known), in a fresh subprocess
(:func:`quanttheory.models.memory.measure_peak`).

    python benchmarks/bench_models.py --params 22e6 --workers 2 --repeat 2 --memory
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def make_checkpoint(path, params: float, d: int = 512, seed: int = 0) -> int:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    per_layer = 4 * d * d + 2 * 4 * d * d
    layers = max(1, int(round(params / per_layer)))
    tensors = {}
    for i in range(layers):
        for k in ("q", "k", "v", "o"):
            tensors[f"layer{i}.attn.{k}.weight"] = (rng.standard_t(5, (d, d)) * 0.02).astype(np.float32)
        tensors[f"layer{i}.mlp.up.weight"] = (rng.standard_t(5, (4 * d, d)) * 0.02).astype(np.float32)
        tensors[f"layer{i}.mlp.down.weight"] = (rng.standard_t(5, (d, 4 * d)) * 0.02).astype(np.float32)
        tensors[f"layer{i}.norm.weight"] = np.ones(d, dtype=np.float32)
    save_file(tensors, str(path))
    return layers * per_layer


def numpy_pass(path) -> float:
    from quanttheory.models.readers import iter_tensors

    t0 = time.perf_counter()
    acc = 0.0
    for _, a in iter_tensors(path):
        acc = max(acc, float(np.abs(np.asarray(a, dtype=np.float64)).max()))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=float, default=22e6)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--granularity", default="channel")
    ap.add_argument("--memory", action="store_true", help="measure peak memory (8 tensors of --memory-mb MB)")
    ap.add_argument("--memory-mb", type=float, default=16.0)
    ap.add_argument("--memory-big", nargs="*", default=None, metavar="GRAN:FMT",
                    help="peak memory on one float32 tensor of --memory-mb MB (plus a small one) for each "
                         "granularity:format, e.g. tensor:int4 channel:int4 group:128:int4 tensor:nvfp4")
    args = ap.parse_args()
    from quanttheory.models.report import totals
    from quanttheory.models.run import analyze_model

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "synthetic.safetensors")
        n = make_checkpoint(path, args.params)
        analyze_model(path, include=r"layer0\.attn\.q", workers=1)  # warm numba caches (not timed)
        base = min(numpy_pass(path) for _ in range(max(args.repeat, 3)))
        best, res = None, None
        for _ in range(args.repeat):
            r = analyze_model(path, fmt="int4", granularity=args.granularity, workers=args.workers)
            if best is None or r.seconds < best:
                best, res = r.seconds, r
    print(f"checkpoint: {n / 1e6:.2f} M parameters in 2-D tensors, float32 safetensors, "
          f"{len(res.tensors)} tensors, {sum(t.rows for t in res.tensors)} channels")
    print(f"analysis (exact INT4 per-channel + {len(res.methods) - 1} baselines), {args.workers} workers: "
          f"{best:.2f} s wall = {n / best / 1e6:.3f} M params/s")
    print(f"one NumPy pass over the same tensors (read + max|x|): {base:.3f} s = {n / base / 1e6:.1f} M params/s; "
          f"ratio analysis/NumPy pass = {best / base:.0f}x")
    cpu = {m: sum(t.cpu_seconds.get(m, 0.0) for t in res.tensors) for m in res.methods}
    tot_cpu = sum(cpu.values())
    print(f"CPU seconds of the analysis (process_time summed over workers): {tot_cpu:.2f} s = "
          f"{n / tot_cpu / 1e6:.3f} M params per CPU-second; CPU/NumPy pass = {tot_cpu / base:.0f}x")
    print("per method: CPU seconds (share), wall seconds summed over workers, whole-model SQNR (dB):")
    for m, (q, s) in totals(res).items():
        print(f"  {m:13s} {cpu[m]:8.2f} s ({100 * cpu[m] / tot_cpu:4.1f} %)  {s:8.2f} s  {q:8.3f} dB")
    if args.memory:
        memory(args.memory_mb)
    if args.memory_big:
        memory_big(args.memory_mb, args.memory_big)


def memory(mb: float) -> None:
    from safetensors.numpy import save_file

    from quanttheory.models.memory import measure_peak

    rows = 1024
    cols = max(1, int(mb * (1 << 20) / 4 / rows))
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "mem.safetensors")
        save_file({f"t{i}": (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32) for i in range(8)}, p)
        big = rows * cols * 4
        m = measure_peak(p, granularity="channel")
    MB = float(1 << 20)
    print(f"peak memory, in-process, per-channel INT4 exact + every baseline, 8 float32 tensors of "
          f"{big / MB:.1f} MB ({8 * big / MB:.0f} MB file): NumPy peak (tracemalloc) {m.tracemalloc_peak / MB:.1f} MB "
          f"= {m.tracemalloc_peak / big:.2f}x the largest tensor; RSS growth {m.rss_growth / MB:.1f} MB "
          f"= {m.rss_growth / big:.2f}x (bound checked in tests: 2x + 64 MB = {(2 * big + 64 * MB) / MB:.0f} MB); "
          f"{m.seconds:.1f} s")


def memory_big(mb: float, cases) -> None:
    """Peak memory growth on a checkpoint with one big float32 tensor (the issue's "2x the largest
    tensor"), per ``granularity:format``; ratios are to the big tensor's float32 bytes."""
    from safetensors.numpy import save_file

    from quanttheory.models.memory import measure_peak

    cols = 4096
    rows = max(1, int(mb * (1 << 20) / 4 / cols))
    rng = np.random.default_rng(2)
    MB = float(1 << 20)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "big.safetensors")
        save_file({"big": (rng.standard_normal((rows, cols)) * 0.02).astype(np.float32),
                   "small": (rng.standard_normal((64, 256)) * 0.02).astype(np.float32)}, p)
        big = rows * cols * 4
        print(f"peak memory growth, in-process, one float32 tensor of {big / MB:.1f} MB (+ one of 64 KB); "
              "ratios to the big tensor's float32 bytes")
        for case in cases:
            gran, fmt = case.rsplit(":", 1)
            m = measure_peak(p, granularity=gran, fmt=fmt)
            print(f"  {gran:10s} {fmt:6s} NumPy peak {m.tracemalloc_peak / MB:7.1f} MB = {m.tracemalloc_peak / big:5.2f}x"
                  f"   RSS growth {m.rss_growth / MB:7.1f} MB = {m.rss_growth / big:5.2f}x   {m.seconds:7.1f} s wall",
                  flush=True)


if __name__ == "__main__":
    main()
