"""Per-channel exact optimum of level-set formats (FP8/FP6/FP4/NF4) on weight matrices: the batched
row kernel vs a 100-candidate NumPy sweep of the same rows, and vs the per-row path.

Run:  .venv/bin/python benchmarks/bench_formats_rows.py [--formats e4m3,nf4] [--repeats 3] [--rows 2000,256]
      /work/main/.venv/bin/python benchmarks/bench_formats_rows.py --per-row 20    (main's code: "before")

Data (seeded): float32 Student-t(4) * 0.02 "weights" of shape 30000 x 384 and 4096 x 4096, one scale
per row (``optimal_scale_format_data(W, fmt, axis=0)``).  Units and methods, measured in the same run
on the same rows (the first ``--rows`` rows of each matrix; CPU time ``time.process_time`` and wall
time, minimum of ``--repeats`` runs after one warm-up call; the machine is shared, the minimum is the
least noisy):

* ``exact``: the per-channel exact optimum (global, certified; all rows in one kernel call);
* ``sweep100``: for ``i = 1..100`` the scale ``s_i = max|x| i / 100 / level_max`` of every row, the
  exact SSE of each (``Format.quantize`` on float64 rows, all rows at once per candidate, in blocks of
  1024 rows), best kept per row -- the candidate search of ``quanttheory model``'s ``sweep39``/
  ``sweep126`` baselines with 100 candidates;
* ``cast100`` (FP formats with an ml_dtypes type): the same 100 candidates with the toolkit cast
  (float32 ``x / s`` clipped and cast through ``ml_dtypes``; float64 SSE);
* ``--per-row K``: the per-channel API on the first K rows with the per-row path only (``USE_ROWS =
  False`` where it exists; main's code has no batched path): the "before" time per row.

Columns: time per row in milliseconds (CPU and wall), ``ratio`` = sweep100 time / exact time (> 1:
exact faster), ``passes`` = exact time / time of one NumPy pass over the same rows (``x.sum()``, min
of 5), and the estimate for a 22M-parameter checkpoint with rows of 384 (57,300 rows x the CPU time
per row).  The script checks that no sweep candidate beats the exact optimum (1e-12 relative).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import quanttheory.risk.format_data as D  # noqa: E402
from quanttheory.formats import get_format  # noqa: E402

ML_NAMES = {"e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2", "e2m3": "float6_e2m3fn",
            "e3m2": "float6_e3m2fn", "e2m1": "float4_e2m1fn"}


def timed(fn, repeats):
    """(min CPU seconds, min wall seconds, last result) over ``repeats`` runs."""
    cpu, wall, out = [], [], None
    for _ in range(repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return min(cpu), min(wall), out


def sweep100(W, fmt, K=100, block=1024):
    best = np.full(W.shape[0], np.inf)
    for r0 in range(0, W.shape[0], block):
        X = W[r0:r0 + block].astype(np.float64)
        top = np.abs(X).max(axis=1)
        b = np.full(X.shape[0], np.inf)
        for i in range(1, K + 1):
            s = top * i / K / fmt.level_max
            s = np.where(s > 0, s, 1.0)[:, None]
            e = X - s * fmt.quantize(X / s)
            b = np.minimum(b, np.einsum("ij,ij->i", e, e))
        best[r0:r0 + block] = b
    return best / W.shape[1]


def cast100(W, fmt, name, K=100, block=1024):
    import ml_dtypes

    T = getattr(ml_dtypes, ML_NAMES[name])
    mx = np.float32(fmt.level_max)
    best = np.full(W.shape[0], np.inf)
    for r0 in range(0, W.shape[0], block):
        X = W[r0:r0 + block]
        X64 = X.astype(np.float64)
        top = np.abs(X64).max(axis=1)
        b = np.full(X.shape[0], np.inf)
        for i in range(1, K + 1):
            s = top * i / K / fmt.level_max
            s = np.where(s > 0, s, 1.0)[:, None]
            q = np.clip(X / s.astype(np.float32), -mx, mx).astype(T).astype(np.float64)
            e = X64 - s * q
            b = np.minimum(b, np.einsum("ij,ij->i", e, e))
        best[r0:r0 + block] = b
    return best / W.shape[1]


def one_pass(W, repeats=5):
    return min(timed(lambda: W.sum(), 1)[0] for _ in range(repeats))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--formats", default="e4m3,nf4")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rows", default="2000,256", help="rows timed of the 30000x384 and 4096x4096 matrices")
    ap.add_argument("--per-row", type=int, default=0, help="time only the per-row path on this many rows")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    shapes = [(30000, 384), (4096, 4096)]
    nrows = [int(v) for v in a.rows.split(",")]
    mats = [(rng.standard_t(4, size=(nr, sh[1])) * 0.02).astype(np.float32) for sh, nr in zip(shapes, nrows)]
    has_rows = hasattr(D, "USE_ROWS")
    print(f"exact per-channel optimum; CPU / wall ms per row = min of {a.repeats} runs; batched rows: {has_rows}")
    for name in a.formats.split(","):
        fmt = get_format(name)
        for sh, W in zip(shapes, mats):
            tag = f"{name:5s} {sh[0]}x{sh[1]}"
            if a.per_row:
                Wk = W[:a.per_row]
                if has_rows:
                    D.USE_ROWS = False
                D.optimal_scale_format_data(Wk[:1], fmt, axis=0)
                c, w, _ = timed(lambda: D.optimal_scale_format_data(Wk, fmt, axis=0), a.repeats)
                if has_rows:
                    D.USE_ROWS = True
                print(f"{tag}  per-row path  cpu {1e3 * c / len(Wk):9.3f}  wall {1e3 * w / len(Wk):9.3f} ms/row "
                      f"(rows {len(Wk)})", flush=True)
                continue
            D.optimal_scale_format_data(W[:2], fmt, axis=0)  # warm-up (compile / cache load)
            ce_, we_, r = timed(lambda: D.optimal_scale_format_data(W, fmt, axis=0), a.repeats)
            cs_, ws_, sw = timed(lambda: sweep100(W, fmt), max(1, a.repeats - 1))
            assert np.all(r.mse <= sw * (1 + 1e-12) + 1e-300), "a sweep candidate beats the exact optimum"
            p1 = one_pass(W)
            m = W.shape[0]
            line = (f"{tag}  exact cpu {1e3 * ce_ / m:8.3f} wall {1e3 * we_ / m:8.3f}  |  sweep100 cpu "
                    f"{1e3 * cs_ / m:8.3f} wall {1e3 * ws_ / m:8.3f} ms/row  |  ratio(cpu) {cs_ / ce_:6.2f}  "
                    f"passes {ce_ / p1:8.0f}  gain vs sweep100 {100 * np.mean(sw / r.mse - 1):6.3f}%")
            if name in ML_NAMES:
                try:
                    cc_, wc_, cw = timed(lambda: cast100(W, fmt, name), max(1, a.repeats - 1))
                    line += f"  |  cast100 cpu {1e3 * cc_ / m:8.3f} ms/row ratio {cc_ / ce_:6.2f}"
                except ImportError:
                    pass
            print(line, flush=True)
            if sh == (30000, 384):
                print(f"      22M-parameter checkpoint, rows of 384 (57,300 rows): exact ~{57300 * ce_ / m:7.1f} s "
                      f"CPU, sweep100 ~{57300 * cs_ / m:7.1f} s CPU", flush=True)


if __name__ == "__main__":
    main()
