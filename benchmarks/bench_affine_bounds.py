"""Two bounds tried for the 30-pass goal of issue 16 (session of 2026-12-01 early morning), measured; neither is
used by the package (docs/affine.md, that session's section, has the numbers and the verdict).

Run:  .venv/bin/python benchmarks/bench_affine_bounds.py [--boxes] [--buckets] [--scan] [--kernel] [--rows 512]
      [--reps 7]   (no option: --boxes --buckets)

The functions are in ``benchmarks/_affine_bounds_src.py`` (written as if inside ``quanttheory/affine/_rows.py``):

* ``--boxes``: the bin-level sweep bound (``_binsweep``: ``U`` replaced by its bin-level upper bound, the resulting
  piecewise quadratic minimized exactly by merging the thresholds' bin-edge events) on boxes ``s* [a, b]`` at the
  row's optimal zero-point: checked against the exact minimum over the box (``_rows._exact``: the bound must not
  exceed it), its slack in % of the optimum, the fraction of rows on which it prunes the box (bound above the
  optimum ``F*``; the exact minimum is above it on every box that does not hold ``s*``), events per box, and its
  CPU time per row (a numba loop over the rows: histogram, table, sweep; the loop without the sweep subtracted);
  and the same for ``_binchord`` (the box cut into sub-boxes, each with the chord bound on the bin-edge upper bounds
  of ``U`` of ``_uedge``: no merge, no table), with 1 and 2 bins per sub-box at the top threshold;
* ``--buckets``: the exact minimum over ``s* [1/(1 + W), 1 + W]`` by ``_rows._exact`` (every breakpoint ordered)
  and by ``_bexact`` (crossings counted into 64 buckets, a chord bound per bucket, only the buckets that can beat
  ``F*`` ordered and swept): same value (1e-12 relative) and CPU time per row;
* ``--kernel``: copies of ``_rows.py`` with one of the bounds inserted, interleaved with the unmodified kernel on the
  benchmark matrix (as ``bench_affine_ab.py``): ``bucket D0/WB`` = first box ``s0 [1/(1 + D0), 1 + D0]`` and every
  box at most ``WB`` wide (relative) solved by ``_bexact`` instead of being split; ``binsweep BSW`` = every box at
  least ``BSW`` wide whose chord bound does not prune it gets ``_binsweep`` before a split; ``binchord BSW/BMMAX``
  the same with ``_binchord`` (sub-boxes of ~2 bins at the top threshold, at most ``BMMAX``; ``--binchord``: only
  these).  Same answers checked (zero-points identical, MSE to 1e-12 relative);
* ``--scan``: the floor of an exact window read from the raw row instead of the counting-sorted histogram: a numba
  loop computing every value's code at both ends of ``s* [1/(1 + W), 1 + W]`` (``rint(v / s)`` by a reciprocal,
  clipped) and the code-0.. sums, and the same with each crossing's bucket sums accumulated branch-free (a division
  per value); against a plain sum loop over the same rows.

Rows: the benchmark matrix of ``bench_affine.py`` (4096 x 4096 float32, N(0, 0.02^2) plus a per-row offset, seed 0),
4 bits; the reference optimum ``(s*, z*, F*)`` from the package's kernel.  CPU time (``time.process_time``), minimum
over ``--reps`` runs; one NumPy pass over the matrix is measured in the same run for ``--kernel``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from numba import njit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from quanttheory.affine import _rows as R  # noqa: E402
from quanttheory.affine.data import _fast_params  # noqa: E402
from _timing import load_source_copy as load, numpy_pass  # noqa: E402

EPS = 2.0**-52
SRC = (ROOT / "benchmarks" / "_affine_bounds_src.py").read_text()
MARK = "# --- kernel source ---\n"


def matrix(rows):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4096, 4096), dtype=np.float32) * np.float32(0.02) + \
        rng.uniform(-0.01, 0.01, size=(4096, 1)).astype(np.float32)
    return w, np.ascontiguousarray(w[:rows])


def solve(m, X, N):
    nb, T, G, ni = _fast_params(X.shape[1], N)
    n = X.shape[0]
    o = [np.zeros(n), np.zeros(n, np.int64), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n, np.int64),
         np.zeros((n, 3))]
    m.solve_rows(X, N, nb, T, G, ni, *o)
    return o


def make_loop(B):
    @njit
    def loop(X, N, nb, sst, zst, fst, a, b, mode, out):
        """mode 0: histogram only; 1: + _binsweep on s* [a, b]; 2: + _exact there too; 3: histogram + _exact on
        s* [a, b]; 4: histogram + _bexact there (best = F*); 5 / 6: histogram + _binchord (the top threshold moves
        about 1 / 2 bins per sub-box)."""
        n = X.shape[1]
        idx = np.empty(n, dtype=np.int32)
        buf = np.empty(n)
        cnt = np.zeros(nb, dtype=np.int64)
        start = np.zeros(nb + 1, dtype=np.int64)
        pos = np.zeros(nb, dtype=np.int64)
        S1 = np.zeros(nb)
        S2 = np.zeros(nb)
        P0 = np.zeros(nb + 1)
        P1 = np.zeros(nb + 1)
        P2 = np.zeros(nb + 1)
        MB = 1 << 16
        bp = np.empty(MB)
        bpk = np.empty((MB, 3))
        order = np.empty(MB, dtype=np.int64)
        tmp = np.empty(MB, dtype=np.int64)
        bcnt = np.empty(MB + 1, dtype=np.int64)
        bcnt2 = np.empty(MB + 1, dtype=np.int64)
        bk = np.empty((64, 5))
        hz = np.empty(N + 1)
        jk = np.zeros(N + 1, dtype=np.int64)
        hk = np.zeros(N + 1)
        rk = np.zeros(N + 1)
        nx = np.zeros(N + 1)
        TA = np.zeros(nb + 2)
        TB = np.zeros(nb + 2)
        for r in range(X.shape[0]):
            x = X[r]
            xmin, xmax, tot = R._stats(x)
            rng = xmax - xmin
            invw = nb / rng
            w = rng / nb
            dlt = 16.0 * EPS * (abs(xmin) + abs(xmax) + rng)
            maxcnt = R._histsort(x, xmin, invw, float(nb), nb, idx, cnt, S1, S2, start, pos, buf, P0, P1, P2)
            K = 4.0 * EPS * (maxcnt + nb + N + 16)
            s1 = sst[r] * a
            s2 = sst[r] * b
            z = zst[r]
            if mode == 1 or mode == 2:
                B._bin_table(P0, P1, xmin, w, dlt, xmax, nb, n, P1[nb], TA, TB)
                lb, nev = B._binsweep(TA, TB, xmin, invw, w, dlt, xmax, nb, N, n, P1[nb], P2[nb], z, s1, s2, 1 << 20,
                                      jk, nx, hk, rk)
                out[r, 0] = lb
                out[r, 1] = nev
            if mode == 5 or mode == 6:
                hmax = max(abs(-z + 0.5), abs(N - z - 0.5))
                M = max(1, int(np.ceil((s2 - s1) * hmax / w * (1.0 if mode == 5 else 0.5))))
                out[r, 0] = B._binchord(P0, P1, xmin, invw, w, dlt, xmax, nb, N, n, P1[nb], P2[nb], z, s1, s2, M)
                out[r, 1] = M
            if mode == 2 or mode == 3:
                v, s, st = R._exact(buf, start, P0, P1, P2, xmin, invw, nb, z, N, s1, s2, bp, bpk, order, tmp, bcnt)
                out[r, 2] = v
                out[r, 3] = s
            if mode == 4:
                Tabs = 1.01 * np.sqrt(n * tot)
                qmag = P2[nb] + 2.0 * N * s2 * Tabs + N * N * n * s2 * s2
                v, s, st = B._bexact(buf, start, P0, P1, P2, xmin, invw, nb, z, N, s1, s2, fst[r] * n * (1 + 1e-12),
                                     K * (qmag + tot), 64, bp, order, bpk, tmp, bcnt2, bcnt, bk, hz)
                out[r, 2] = v
                out[r, 3] = s
                out[r, 4] = st
        return 0

    return loop


def timed(loop, args, modes, reps):
    best = {m: np.inf for m in modes}
    for _ in range(reps):
        for m in modes:
            t0 = time.process_time()
            loop(*args[:-1], m, args[-1])
            best[m] = min(best[m], time.process_time() - t0)
    return best


def per_box(B, X, N, ref, reps, boxes, buckets):
    nb = _fast_params(X.shape[1], N)[0]
    R_ = X.shape[0]
    loop = make_loop(B)
    F = ref[2] * X.shape[1]
    out = np.zeros((R_, 5))

    def args(a, b):
        return (X, N, nb, ref[0], ref[1], ref[2], a, b)

    if boxes:
        print("bin-level sweep bound (_binsweep) on boxes s* [a, b] at z*, 4 bits:")
        for a, b in [(1 / 1.05, 1.05), (1.01, 1.1), (1 / 1.1, 1 / 1.01), (1.03, 1.3), (1 / 1.3, 1 / 1.03),
                     (1.3, 2.0), (0.5, 1 / 1.3)]:
            loop(*args(a, b), 2, out)
            lb, ev, ex = out[:, 0].copy(), out[:, 1].copy(), out[:, 2].copy()
            assert np.all(lb <= ex * (1 + 1e-12)), "bound above the exact minimum"
            t = timed(loop, args(a, b) + (out,), (0, 1), reps)
            print(f"  s* [{a:.3f}, {b:.3f}]: slack (exact - bound) / F* median {np.median((ex - lb) / F) * 100:.3f} %, "
                  f"90th pct {np.quantile((ex - lb) / F, 0.9) * 100:.3f} %; prunes (bound > F*) "
                  f"{np.mean(lb > F * (1 + 1e-10)) * 100:.1f} % of rows (exact min > F*: "
                  f"{np.mean(ex > F * (1 + 1e-10)) * 100:.1f} %); events {ev.mean():.0f}; "
                  f"{(t[1] - t[0]) / R_ * 1e6:.2f} us CPU per row (table + sweep)", flush=True)
            for mode, lab in ((5, "1 bin"), (6, "2 bins")):
                loop(*args(a, b), mode, out)
                lc = out[:, 0].copy()
                assert np.all(lc <= ex * (1 + 1e-12)), "bound above the exact minimum"
                t = timed(loop, args(a, b) + (out,), (0, mode), reps)
                print(f"    _binchord ({lab} per sub-box, {out[:, 1].mean():.0f} sub-boxes): slack median "
                      f"{np.median((ex - lc) / F) * 100:.3f} %, 90th pct {np.quantile((ex - lc) / F, 0.9) * 100:.3f} %; "
                      f"prunes {np.mean(lc > F * (1 + 1e-10)) * 100:.1f} %; {(t[mode] - t[0]) / R_ * 1e6:.2f} us CPU "
                      f"per row", flush=True)
    if buckets:
        print("exact minimum over s* [1/(1+W), 1+W] at z*: _exact (all breakpoints ordered) vs _bexact (64 buckets):")
        for W in (0.01, 0.02, 0.05):
            a, b = 1 / (1 + W), 1 + W
            loop(*args(a, b), 3, out)
            ex = out[:, 2:4].copy()
            loop(*args(a, b), 4, out)
            assert np.all(out[:, 4] == 0)
            rel = float(np.max(np.abs(out[:, 2] / ex[:, 0] - 1)))
            assert rel <= 1e-12
            t = timed(loop, args(a, b) + (out,), (0, 3, 4), reps)
            print(f"  W = {W * 100:.0f} %: _exact {(t[3] - t[0]) / R_ * 1e6:.2f} us CPU per row, _bexact "
                  f"{(t[4] - t[0]) / R_ * 1e6:.2f}; values equal to {rel:.1e} relative", flush=True)


@njit
def _scan(X, sst, zst, W, N, M, mode, out):
    bk0 = np.zeros(M)
    bk1 = np.zeros(M)
    for r in range(X.shape[0]):
        x = X[r]
        s1 = sst[r] / (1.0 + W)
        s2 = sst[r] * (1.0 + W)
        z = zst[r]
        r1 = 1.0 / s1
        r2 = 1.0 / s2
        lo = -float(z)
        hi = float(N - z)
        sc = M / (s2 - s1)
        fM1 = M - 1.0
        A = 0.0
        B = 0.0
        C = 0.0
        nc = 0.0
        for m in range(M):
            bk0[m] = 0.0
            bk1[m] = 0.0
        for i in range(x.size):
            v = np.float64(x[i])
            k1 = min(max(np.rint(v * r1), lo), hi)
            k2 = min(max(np.rint(v * r2), lo), hi)
            A += v * v
            B += k1 * v
            C += k1 * k1
            if mode == 1:
                d = k1 - k2
                cr = d != 0.0
                h = k1 - 0.5 * np.sign(d) if cr else 1.0
                t = min(max((v / h - s1) * sc, 0.0), fM1)
                m = int(t)
                bk0[m] += -abs(v) if cr else 0.0
                bk1[m] += -2.0 * abs(h) if cr else 0.0
                nc += 1.0 if cr else 0.0
        out[r, 0] = A + B + C
        out[r, 1] = nc
        out[r, 2] = bk0[0] + bk1[M - 1]


@njit
def _plain(X, out):
    for r in range(X.shape[0]):
        acc = 0.0
        for i in range(X.shape[1]):
            acc += X[r, i]
        out[r, 0] = acc


def scan(X, N, ref, reps):
    out = np.zeros((X.shape[0], 3))
    n = X.shape[0]
    print("raw-row window scan (codes at both ends of s* [1/(1+W), 1+W], z*), us CPU per row:")
    for W in (0.02, 0.05):
        for mode in (0, 1):
            _scan(X[:2], ref[0], ref[1], W, N, 64, mode, out)
        _plain(X[:2], out)
        bt = [np.inf] * 3
        for _ in range(reps):
            for mode in (0, 1):
                t0 = time.process_time()
                _scan(X, ref[0], ref[1], W, N, 64, mode, out)
                bt[mode] = min(bt[mode], time.process_time() - t0)
                if mode == 1:
                    nc = out[:, 1].mean()
            t0 = time.process_time()
            _plain(X, out)
            bt[2] = min(bt[2], time.process_time() - t0)
        print(f"  W = {W * 100:.0f} %: two codes per value {bt[0] / n * 1e6:.2f}; with the bucket sums "
              f"{bt[1] / n * 1e6:.2f} ({nc:.0f} crossings); plain sum loop {bt[2] / n * 1e6:.2f}", flush=True)


def kernel_source(base, kind, p):
    """A copy of _rows.py with one of the bounds inserted (kind 'bucket': p = (D0, WB); 'binsweep': p = BSW)."""
    s = base
    anchor = "\n\n@njit(cache=True)\ndef _direct(x, s, z, N):"
    s = s.replace(anchor, "\n\n" + SRC.split(MARK)[1] + anchor, 1)

    def rep(old, new):
        nonlocal s
        assert old in s, old
        s = s.replace(old, new, 1)

    grow = "GROW = 1.7  # growth of the first boxes' widths away from it\n"
    alloc = "    csc = np.zeros(N + 1)\n"
    if kind == "bucket":
        rep("DELTA0 = 0.01 ", f"DELTA0 = {p[0]} ")
        rep(grow, grow + f"WB = {p[1]}\nTB = 4096.0\nBM = 64\n")
        rep(alloc, alloc + "    bk = np.empty((BM, 5))\n    hzr = np.empty(N + 1)\n"
                           "    bcnt2 = np.empty(MAXBP + 1, dtype=np.int64)\n")
        rep("""                    if (znz[zz] <= Tr and (s2 - s1) * WF * N <= s2) or znz[zz] <= ZMIN or tiny or rounds > 80:
                        val, s, st = _exact(buf, start, P0, P1, P2, xmin, invw, nb, zz, N, s1, s2, bp, bpk, border,
                                            btmp, bcnt)
""", """                    small = (znz[zz] <= Tr and (s2 - s1) * WF * N <= s2) or znz[zz] <= ZMIN or tiny or rounds > 80
                    if small or ((s2 - s1) <= WB * s1 and znz[zz] <= TB):
                        if small:
                            val, s, st = _exact(buf, start, P0, P1, P2, xmin, invw, nb, zz, N, s1, s2, bp, bpk,
                                                border, btmp, bcnt)
                        else:
                            val, s, st = _bexact(buf, start, P0, P1, P2, xmin, invw, nb, zz, N, s1, s2, best, allow,
                                                 BM, bp, border, bpk, btmp, bcnt2, bcnt, bk, hzr)
""")
    elif kind == "binchord":
        rep(grow, grow + f"BSW = {p[0]}\nBMMAX = {p[1]}\n")
        rep("""                    else:
                        nal[zz] = True
                        keep = True
""", """                    else:
                        if (s2 - s1) >= BSW * s1:
                            hmax = max(zz + 0.5, N - zz - 0.5)
                            Mb = int(math.ceil((s2 - s1) * hmax / w * 0.5))
                            if Mb <= BMMAX:
                                lbb = _binchord(P0, P1, xmin, invw, w, dlt, xmax, nb, N, fn, T1, T2, zz, s1, s2, max(Mb, 1))
                                if lbb - allow2 > best:
                                    continue
                        nal[zz] = True
                        keep = True
""")
    else:
        rep(grow, grow + f"BSW = {p}\nBSWEV = 4096\n")
        rep(alloc, alloc + "    TA = np.zeros(nb + 2)\n    TB = np.zeros(nb + 2)\n"
                           "    jk = np.zeros(N + 1, dtype=np.int64)\n    nxk = np.zeros(N + 1)\n"
                           "    hkk = np.zeros(N + 1)\n    rkk = np.zeros(N + 1)\n")
        rep("        zero = False\n        while nbx > 0:",
            "        zero = False\n        tabled = False\n        while nbx > 0:")
        rep("""                    else:
                        nal[zz] = True
                        keep = True
""", """                    else:
                        if (s2 - s1) >= BSW * s1:
                            if not tabled:
                                _bin_table(P0, P1, xmin, w, dlt, xmax, nb, fn, T1, TA, TB)
                                tabled = True
                            lbb, nev = _binsweep(TA, TB, xmin, invw, w, dlt, xmax, nb, N, fn, T1, T2, zz, s1, s2,
                                                 BSWEV, jk, nxk, hkk, rkk)
                            qm = T2 + 4.0 * N * Tabs * s2 + 3.0 * N * N * fn * s2 * s2
                            if lbb - allow2 - 8.0 * EPS * (nev + N) * qm > best:
                                continue
                        nal[zz] = True
                        keep = True
""")
    return s


def kernels(w, X, N, reps, variants):
    base = (ROOT / "quanttheory/affine/_rows.py").read_text()
    with tempfile.TemporaryDirectory() as d:
        mods = {"kernel": load(base, "rows_base", Path(d))}
        for i, (kind, p) in enumerate(variants):
            mods[f"{kind} {p}"] = load(kernel_source(base, kind, p), f"rows_var{i}", Path(d))
        for m in mods.values():
            solve(m, X[:2], N)
        best = {k: np.inf for k in mods}
        out = {}
        for _ in range(reps):
            for k, m in mods.items():
                t0 = time.process_time()
                out[k] = solve(m, X, N)
                best[k] = min(best[k], time.process_time() - t0)
    p = numpy_pass(w, repeat=7, clock=time.process_time)
    n = X.shape[0]
    print(f"whole kernel, 4 bits, {n} rows, min of {reps}; NumPy pass {p * 1e3:.2f} ms CPU (same run):")
    for k, o in out.items():
        same = bool(np.array_equal(o[1], out["kernel"][1]))
        rel = float(np.max(np.abs(o[2] / out["kernel"][2] - 1)))
        assert same and rel <= 1e-12
        print(f"  {k:22s} {best[k] / n * 1e6:7.1f} us CPU per row = {best[k] / n * 4096 / p:6.1f} CPU passes; "
              f"{best['kernel'] / best[k]:.2f}x; rounds {o[6][:, 0].mean():.2f}, "
              f"(z, box) bounds {o[6][:, 1].mean():.1f}, "
              f"exact sweeps {o[6][:, 2].mean():.2f}; same answers (MSE to {rel:.0e})", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--boxes", action="store_true")
    ap.add_argument("--buckets", action="store_true")
    ap.add_argument("--kernel", action="store_true")
    ap.add_argument("--scan", action="store_true")
    ap.add_argument("--binchord", action="store_true", help="with --kernel: only the _binchord variants")
    ap.add_argument("--rows", type=int, default=512)
    ap.add_argument("--reps", type=int, default=7)
    a = ap.parse_args()
    if not (a.boxes or a.buckets or a.kernel or a.scan):
        a.boxes = a.buckets = True
    N = 15
    w, X = matrix(a.rows)
    ref = solve(R, X, N)
    if a.boxes or a.buckets:
        with tempfile.TemporaryDirectory() as d:
            B = load(SRC, "affine_bounds_src", Path(d))
            per_box(B, X, N, ref, a.reps, a.boxes, a.buckets)
    if a.scan:
        scan(X, N, ref, a.reps)
    if a.kernel:
        kernels(w, X, N, max(1, a.reps // 2), [("bucket", (0.01, 0.04)), ("bucket", (0.03, 0.07)),
                                              ("binsweep", 0.01), ("binchord", (0.01, 32)), ("binchord", (0.02, 96))]
                if not a.binchord else [("binchord", (0.01, 32)), ("binchord", (0.02, 96)), ("binchord", (0.005, 16))])


if __name__ == "__main__":
    main()
