"""Throughput of ``quanttheory model`` on a synthetic transformer-shaped checkpoint (issue 19).

Writes a float32 .safetensors file of about ``--params`` parameters (layers of four
``d x d`` attention matrices and two ``4d x d`` / ``d x 4d`` MLP matrices, heavy-tailed
Student-t(5) weights, seeded), then runs per-channel INT4 analysis (exact optimum plus every
baseline) with ``--workers`` processes, and compares with one NumPy pass over the same bytes
(read each tensor, ``max |x|``), measured in the same run.  Prints the minimum of ``--repeat`` runs.

Units: parameters per second = analyzed values / wall seconds (reading included).

    python benchmarks/bench_models.py --params 22e6 --workers 2
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
    print("per-method compute seconds (summed over workers) and whole-model SQNR (dB):")
    for m, (q, s) in totals(res).items():
        print(f"  {m:13s} {s:9.2f} s  {q:8.3f} dB")


if __name__ == "__main__":
    main()
