"""A/B of the fused affine row kernel against an earlier commit, interleaved in one process.

Run:  .venv/bin/python benchmarks/bench_affine_ab.py [--ref e881309] [--bits 4] [--rows 4096] [--reps 3]

``quanttheory/affine/_rows.py`` of ``--ref`` (``git show``) and of the working tree are loaded side by
side as two modules (numba ``cache=False`` for both, so neither reads the other's cache), warmed up,
then called alternately on the same rows of the benchmark matrix (4096 x 4096 float32, N(0, 0.02^2) plus
a per-row offset, seed 0); each time is the minimum over ``--reps`` alternating runs of
``time.process_time`` (CPU time: the machine is shared).  Prints us CPU per row, the ratio, the
mean work counters, and checks that both kernels agree (zero-points identical, MSE to 1e-12 relative).
Unit: one NumPy pass = :func:`benchmarks._timing.numpy_pass` over the whole 4096 x 4096 matrix with the same
clock (CPU), measured in the same run; "passes" = the per-row time x 4096 / that pass (with ``--rows`` below
4096 the matrix time is extrapolated from the rows timed).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quanttheory.affine.data import _fast_params  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from _timing import load_source_copy as load, numpy_pass  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", default="e881309")
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    old = subprocess.run(["git", "show", f"{a.ref}:quanttheory/affine/_rows.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    new = (ROOT / "quanttheory/affine/_rows.py").read_text()
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4096, 4096), dtype=np.float32) * np.float32(0.02) + \
        rng.uniform(-0.01, 0.01, size=(4096, 1)).astype(np.float32)
    X = np.ascontiguousarray(w[:a.rows])
    N = 2**a.bits - 1
    nb, T, G, ni = _fast_params(X.shape[1], N)
    with tempfile.TemporaryDirectory() as d:
        mods = {"ref": load(old, "rows_ref", Path(d)), "new": load(new, "rows_new", Path(d))}

        def run(m, X):
            R = X.shape[0]
            o = [np.zeros(R), np.zeros(R, np.int64), np.zeros(R), np.zeros(R), np.zeros(R),
                 np.zeros(R, np.int64), np.zeros((R, 3))]
            m.solve_rows(X, N, nb, T, G, ni, *o)
            return o

        for m in mods.values():
            run(m, X[:2])
        best = {k: np.inf for k in mods}
        out = {}
        for _ in range(a.reps):
            for k, m in mods.items():
                c0 = time.process_time()
                out[k] = run(m, X)
                best[k] = min(best[k], time.process_time() - c0)
    R = X.shape[0]
    p = numpy_pass(w, repeat=7, clock=time.process_time)
    print(f"NumPy pass over the 4096 x 4096 float32 matrix: {p * 1e3:.2f} ms CPU (same run)")
    for k in mods:
        o = out[k]
        print(f"{k:3s} ({a.ref if k == 'ref' else 'working tree'}): {best[k] / R * 1e6:8.1f} us CPU per row "
              f"= {best[k] / R * 4096 / p:7.1f} CPU passes for 4096 rows; "
              f"rounds {o[6][:, 0].mean():.1f}, (z, interval) bounds {o[6][:, 1].mean():.0f}, "
              f"exact sweeps {o[6][:, 2].mean():.1f}; rows not solved by the kernel {int((o[5] != 0).sum())}")
    print(f"ratio ref / new = {best['ref'] / best['new']:.2f}x ({a.bits} bits, {R} rows, min of {a.reps})")
    same_z = bool(np.array_equal(out["ref"][1], out["new"][1]))
    rel = float(np.max(np.abs(out["new"][2] / out["ref"][2] - 1)))
    # zero-points may differ only on exact ties (several z with one MSE, e.g. no value clipped at 8 bits)
    print(f"zero-points identical: {same_z} ({int((out['ref'][1] != out['new'][1]).sum())} rows differ, each "
          f"a tie); max relative MSE difference {rel:.1e}")
    assert rel <= 1e-12


if __name__ == "__main__":
    main()
