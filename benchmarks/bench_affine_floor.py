"""Floors of the fused affine row kernel (issue 16, the 30-pass goal): what the stages cost, and what a perfect
incumbent would save, measured in one process on the benchmark matrix.

Run:  .venv/bin/python benchmarks/bench_affine_floor.py [--bits 4] [--rows 512] [--reps 7] [--landscape 8]

``quanttheory/affine/_rows.py`` of the working tree is loaded several times under other names (numba
``cache=False``), each a variant made by inserting a line at a marked place of ``_solve_range``:

* ``stats+histogram``: every row stops after the first pass and ``_histsort`` (``continue`` before the
  incumbent): the cost of the fixed stages 1-2;
* ``+incumbent``: stops before the scale limits (``s_a``): stages 1-3;
* ``-direct sum``: stops before the final direct sum of the MSE: everything but that sum;
* ``oracle scale``: the first boxes are centred on the row's certified optimal scale (read from ``out_s``,
  pre-filled with the unmodified kernel's answer) instead of the least-squares incumbent's;
* ``oracle scale+value``: the same, and the incumbent value ``best`` starts at the certified optimum
  (``n * MSE * (1 + 1e-12)``, an attained value): the branch and bound then only has to prove it.

The oracle variants cannot be used (they need the answer), but they bound from below what any better incumbent
could give with the same boxes and bounds.  Each time is the minimum over ``--reps`` alternating runs of
``time.process_time`` (CPU; the machine is shared); one NumPy pass = :func:`benchmarks._timing.numpy_pass` over the
whole 4096 x 4096 float32 matrix with the same clock, measured in the same run; "passes" = per-row time x 4096 /
pass.  The oracle variants must return the same zero-points and MSEs (checked, 1e-12 relative).

``--rounds``: instead of the variants above, copies stopped before the branch and bound and after its round 1, 2
and 3 (``while nbx > 0`` limited), with the ``U`` evaluations per row (cached box ends) of the whole kernel and of
round 1: what each round of the branch and bound costs.

``--sweep``: the cost of one exact sweep (``_exact`` at the row's optimal zero-point) over the windows
``s* [1/(1 + W), 1 + W]``, W = 0.5, 1, 2, 5 %: a numba loop over the rows (histogram, then the sweep), the same
loop without the sweep subtracted, CPU us per row, min of reps, and the number of values whose code differs at the
window's ends (the zone values the sweep orders): what an exact bound of a box of that width costs.

``--hist``: the histogram stage alone (a numba loop over the rows calling the kernel's ``_stats`` and ``_histsort``
with 1024 and 256 bins, and a copy of ``_histsort`` without the per-bin sums of squares), CPU us per row, min of reps.

``--landscape K``: for the first K rows, the exact MSE ``min_{z* - 1 <= z <= z* + 1} F_z(s) / F* - 1`` at scales
``s* (1 + d)`` (NumPy, float64, the quantizer's own formula) and the distance of the incumbent's scale (the scale
the first boxes are centred on) from ``s*`` over the timed rows: how flat the curve is at the optimum, and how far
the least-squares incumbent is from it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from quanttheory.affine.data import _fast_params  # noqa: E402
from _timing import load_source_copy as load, numpy_pass  # noqa: E402

CENTRE = "        s0 = min(max(s0, s_a), s_b)\n"
MARKS = {
    "stats+histogram": ("        # incumbent: shrunk min-max grids", "        if True:\n            continue\n"),
    "+incumbent": ("        # scales below s_a: every level", "        if True:\n            continue\n"),
    "-direct sum": ("        # the MSE at the optimum, summed directly", "        if True:\n            continue\n"),
}


LOOP = "        while nbx > 0:\n            rounds += 1\n"
UCOUNT = ("        info[r, 0] = rounds\n",
          "        info[r, 0] = rounds\n        cu = 0\n        for e in range(ne):\n            if ekhi[e] >= eklo[e]:\n"
          "                cu += ekhi[e] - eklo[e] + 1\n        out_tot[r] = cu\n")


def round_variants(src: str) -> dict:
    """The kernel stopped before the branch and bound and after round 1, 2, 3; the U evaluations per row are written
    to ``out_tot`` (kernel and round 1)."""
    assert LOOP in src and UCOUNT[0] in src
    v = {"kernel": src.replace(*UCOUNT), "before the branch and bound": src.replace(LOOP, LOOP.replace(
        "nbx > 0", "nbx > 0 and False"))}
    for k in (1, 2, 3):
        v[f"after round {k}"] = src.replace(LOOP, LOOP.replace("nbx > 0", f"nbx > 0 and rounds < {k}"))
    v["after round 1"] = v["after round 1"].replace(*UCOUNT)
    return v


def _hist_buffers():
    """A numba function ``(n, nb) -> (idx, cnt, S1, S2, start, pos, buf, P0, P1, P2)``: the work arrays of
    ``quanttheory.affine._rows._histsort`` for rows of ``n`` values and ``nb`` bins (both harness loops)."""
    from numba import njit

    @njit
    def hist_buffers(n, nb):
        return (np.empty(n, np.int32), np.zeros(nb, np.int64), np.zeros(nb), np.zeros(nb), np.zeros(nb + 1, np.int64),
                np.zeros(nb, np.int64), np.empty(n), np.zeros(nb + 1), np.zeros(nb + 1), np.zeros(nb + 1))

    return hist_buffers


def sweep_section(X, N, reps):
    """CPU us per row of one exact sweep at the optimal zero-point over s* [1/(1 + W), 1 + W], and its zone values."""
    from numba import njit

    from quanttheory.affine import _rows as K

    R, n = X.shape
    nb, T, G, ni = _fast_params(n, N)
    o = [np.zeros(R), np.zeros(R, np.int64), np.zeros(R), np.zeros(R), np.zeros(R), np.zeros(R, np.int64),
         np.zeros((R, 3))]
    K.solve_rows(X, N, nb, T, G, ni, *o)
    S, Z = o[0], o[1]
    hist_buffers = _hist_buffers()

    @njit
    def loop(X, S, Z, N, nb, W, mode):
        n = X.shape[1]
        idx, cnt, S1, S2, start, pos, buf, P0, P1, P2 = hist_buffers(n, nb)
        bp = np.empty(K.MAXBP)
        bpk = np.empty((K.MAXBP, 3))
        order = np.empty(K.MAXBP, np.int64)
        tmp = np.empty(K.MAXBP, np.int64)
        bcnt = np.empty(K.MAXBP + 1, np.int64)
        acc = 0.0
        nz = 0.0
        for r in range(X.shape[0]):
            x = X[r]
            xmin, xmax, tot = K._stats(x)
            invw = nb / (xmax - xmin)
            K._histsort(x, xmin, invw, float(nb), nb, idx, cnt, S1, S2, start, pos, buf, P0, P1, P2)
            if mode == 0:
                continue
            s1 = S[r] / (1.0 + W)
            s2 = S[r] * (1.0 + W)
            val, sb, st = K._exact(buf, start, P0, P1, P2, xmin, invw, nb, Z[r], N, s1, s2, bp, bpk, order, tmp, bcnt)
            acc += val
            if mode == 2:
                for i in range(n):
                    v = np.float64(x[i])
                    if K._code(v, s1, Z[r], N) != K._code(v, s2, Z[r], N):
                        nz += 1
        return acc, nz

    print(f"exact sweep at z* over s* [1/(1 + W), 1 + W], {R} rows, CPU min of {reps}:")
    for W in (0.005, 0.01, 0.02, 0.05):
        loop(X[:2], S, Z, N, nb, W, 1)
        _, nz = loop(X, S, Z, N, nb, W, 2)
        b0 = b1 = np.inf
        for _ in range(reps):
            c0 = time.process_time()
            loop(X, S, Z, N, nb, W, 0)
            b0 = min(b0, time.process_time() - c0)
            c0 = time.process_time()
            loop(X, S, Z, N, nb, W, 1)
            b1 = min(b1, time.process_time() - c0)
        d = (b1 - b0) / R * 1e6
        print(f"  W = {100 * W:.1f} %: {nz / R:7.1f} values change code per row; sweep {d:6.2f} us CPU per row "
              f"({d * 1e3 / max(nz / R, 1.0):.1f} ns per such value)")


def variants(src: str) -> dict:
    v = {"kernel": src}
    for name, (mark, ins) in MARKS.items():
        assert mark in src, mark
        v[name] = src.replace(mark, ins + mark)
    assert CENTRE in src
    v["oracle scale"] = src.replace(CENTRE, "        s0 = min(max(out_s[r], s_a), s_b)\n")
    v["oracle scale+value"] = src.replace(CENTRE, "        s0 = min(max(out_s[r], s_a), s_b)\n"
                                                  "        best = min(best, out_mse[r] * n * (1.0 + 1e-12))\n")
    # the scale the first boxes are centred on, written to out_lb (landscape section only)
    v["centre"] = src.replace(CENTRE, CENTRE + "        out_lb[r] = s0\n").replace(
        "        out_lb[r] = max(min(acc, fbest) - K * fmag, 0.0) / n\n", "")
    return v


def hist_section(X, reps):
    """CPU us per row of the first pass + histogram stage, as in the kernel, and two cheaper variants."""
    from numba import njit

    from quanttheory.affine._rows import _histsort, _stats

    hist_buffers = _hist_buffers()

    @njit
    def hist_nos2(x, xmin, invw, fnb, nb, idx, cnt, S1, start, pos, buf, P0, P1):
        n = x.size
        for i in range(n):
            t = (np.float64(x[i]) - xmin) * invw
            t = min(max(t, 0.0), fnb - 1.0)
            idx[i] = np.int32(t)
        for j in range(nb):
            cnt[j] = 0
            S1[j] = 0.0
        for i in range(n):
            j = idx[i]
            cnt[j] += 1
            S1[j] += np.float64(x[i])
        c0 = 0
        p0 = 0.0
        p1 = 0.0
        start[0] = 0
        maxcnt = 0
        for j in range(nb):
            pos[j] = c0
            c = cnt[j]
            maxcnt = max(maxcnt, c)
            c0 += c
            p0 += c
            p1 += S1[j]
            start[j + 1] = c0
            P0[j + 1] = p0
            P1[j + 1] = p1
        for i in range(n):
            j = idx[i]
            buf[pos[j]] = x[i]
            pos[j] += 1
        return maxcnt

    @njit
    def loop(X, nb, mode):
        n = X.shape[1]
        idx, cnt, S1, S2, start, pos, buf, P0, P1, P2 = hist_buffers(n, nb)
        acc = 0.0
        for r in range(X.shape[0]):
            x = X[r]
            xmin, xmax, tot = _stats(x)
            acc += tot
            if mode == 0:
                continue
            invw = nb / (xmax - xmin)
            if mode == 1:
                acc += _histsort(x, xmin, invw, float(nb), nb, idx, cnt, S1, S2, start, pos, buf, P0, P1, P2)
            else:
                acc += hist_nos2(x, xmin, invw, float(nb), nb, idx, cnt, S1, start, pos, buf, P0, P1)
        return acc

    cases = {"first pass (_stats)": (1024, 0), "first pass + _histsort, 1024 bins": (1024, 1),
             "first pass + histogram without sums of squares, 1024 bins": (1024, 2),
             "first pass + _histsort, 256 bins": (256, 1),
             "first pass + histogram without sums of squares, 256 bins": (256, 2)}
    for nb, mode in cases.values():
        loop(X[:2], nb, mode)
    best = {k: np.inf for k in cases}
    for _ in range(reps):
        for k, (nb, mode) in cases.items():
            c0 = time.process_time()
            loop(X, nb, mode)
            best[k] = min(best[k], time.process_time() - c0)
    for k in cases:
        print(f"{k:58s} {best[k] / X.shape[0] * 1e6:6.2f} us CPU per row")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", type=int, default=4)
    ap.add_argument("--rows", type=int, default=512)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--landscape", type=int, default=0)
    ap.add_argument("--hist", action="store_true", help="only the histogram-stage loop")
    ap.add_argument("--rounds", action="store_true", help="copies stopped after each round of the branch and bound")
    ap.add_argument("--sweep", action="store_true", help="only the exact-sweep cost by window width")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4096, 4096), dtype=np.float32) * np.float32(0.02) + \
        rng.uniform(-0.01, 0.01, size=(4096, 1)).astype(np.float32)
    X = np.ascontiguousarray(w[:a.rows])
    if a.hist:
        hist_section(X, a.reps)
        return
    if a.sweep:
        sweep_section(X, 2**a.bits - 1, a.reps)
        return
    R, n = X.shape
    N = 2**a.bits - 1
    nb, T, G, ni = _fast_params(n, N)
    src = (ROOT / "quanttheory/affine/_rows.py").read_text()
    with tempfile.TemporaryDirectory() as d:
        vs = round_variants(src) if a.rounds else variants(src)
        mods = {k: load(s, f"floor_{i}", Path(d)) for i, (k, s) in enumerate(vs.items())}

        def fresh():
            return [np.zeros(R), np.zeros(R, np.int64), np.zeros(R), np.zeros(R), np.zeros(R),
                    np.zeros(R, np.int64), np.zeros((R, 3))]

        ref = fresh()
        mods["kernel"].solve_rows(X, N, nb, T, G, ni, *ref)

        def run(m):
            o = fresh()
            o[0][:] = ref[0]  # the oracle variants read the certified scale and MSE from their outputs
            o[2][:] = ref[2]
            m.solve_rows(X, N, nb, T, G, ni, *o)
            return o

        timed = [k for k in mods if k != "centre"]
        for k in timed:
            run(mods[k])
        best = {k: np.inf for k in timed}
        out = {}
        for _ in range(a.reps):
            for k in timed:
                c0 = time.process_time()
                out[k] = run(mods[k])
                best[k] = min(best[k], time.process_time() - c0)
        cen = run(mods["centre"])[3] if "centre" in mods else None
    p = numpy_pass(w, repeat=7, clock=time.process_time)
    print(f"{a.bits} bits, {R} rows of the 4096 x 4096 float32 benchmark matrix, CPU time min of {a.reps}; "
          f"NumPy pass {p * 1e3:.2f} ms CPU = {p / 4096 * 1e6:.2f} us per row (same run)")
    for k in timed:
        o = out[k]
        extra = ""
        if k.startswith("oracle"):
            rel = float(np.max(np.abs(o[2] / ref[2] - 1)))
            extra = (f"; zero-points differing {int((o[1] != ref[1]).sum())}, max rel. MSE diff {rel:.1e}; "
                     f"rounds {o[6][:, 0].mean():.2f}, (z, box) bounds {o[6][:, 1].mean():.1f}, "
                     f"exact sweeps {o[6][:, 2].mean():.2f}")
            assert rel <= 1e-12
        elif k == "kernel":
            extra = (f"; rounds {o[6][:, 0].mean():.2f}, (z, box) bounds {o[6][:, 1].mean():.1f}, "
                     f"exact sweeps {o[6][:, 2].mean():.2f}")
        if a.rounds and k in ("kernel", "after round 1"):
            extra += f"; U evaluations per row {o[4].mean():.0f}"
        print(f"{k:27s} {best[k] / R * 1e6:7.1f} us CPU per row = {best[k] / R * 4096 / p:6.1f} CPU passes "
              f"({best['kernel'] / best[k]:.2f}x the kernel){extra}")
    if cen is None:
        return
    d = cen / ref[0] - 1
    print("incumbent's scale (centre of the first boxes) against s*: |s0/s* - 1| percentiles 10/50/90/99: "
          + " / ".join(f"{100 * v:.2f} %" for v in np.percentile(np.abs(d), [10, 50, 90, 99])))
    if a.landscape:
        ds = np.array([-0.06, -0.04, -0.03, -0.02, -0.015, -0.01, -0.005, 0.005, 0.01, 0.015, 0.02, 0.03, 0.04, 0.06])
        print("F(s* (1 + d)) / F* - 1 in % (exact, best of z* - 1..z* + 1), d = " +
              " ".join(f"{100 * v:+.1f}%" for v in ds))
        for r in range(min(a.landscape, R)):
            x = X[r].astype(np.float64)
            s, z = ref[0][r], int(ref[1][r])
            f0 = ref[2][r]
            vals = []
            for dd in ds:
                t = s * (1 + dd)
                vals.append(min(float(np.mean((x - t * np.clip(np.rint(x / t), -zz, N - zz)) ** 2))
                                for zz in (z - 1, z, z + 1) if 0 <= zz <= N) / f0 - 1)
            print(f"row {r} (z* = {z}): " + " ".join(f"{100 * v:.2f}" for v in vals))


if __name__ == "__main__":
    main()
