"""Random small cases of the format data engine (per tensor / per channel) and the real-offset engine against
exact Fraction brute forces (the ones of tests/test_audit7_datafix.py): sizes 2-12 (offset: 2-6), bits 1-8
(offset: 1-3, the brute force enumerates assignments), offsets up to 1e6 x spread, subnormals mixed in.
Prints every case whose certificate exceeds the exact minimum or whose MSE misses it.
Usage: python benchmarks/sweep_datafix.py [cases] [seed]"""
import os
import sys
import time
from fractions import Fraction as Fr

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
from test_audit7_datafix import _levels, fmt_bf, off_bf  # noqa: E402

from quanttheory import optimal_scale_format_data  # noqa: E402
from quanttheory.affine import optimal_offset_data  # noqa: E402

FMTS = ["e2m1", "nf4", "int4n", "uint4", "e4m3", "e3m2", "int3", "int8"]


def sample(rng, n):
    x = rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3)
    if rng.random() < 0.4:
        x = x + rng.choice([-1, 1]) * 10.0 ** rng.uniform(0, 6) * np.std(x)
    if rng.random() < 0.5:
        k = rng.integers(1, max(2, n // 3) + 1)
        x[rng.choice(n, k, replace=False)] = rng.choice([5e-324, 1e-310, -2.5e-320, 1e-309, -1e-300], k)
    return x


def main(cases=200, seed=0):
    rng = np.random.default_rng(seed)
    bad = 0
    t0 = time.process_time()
    lvc = {}
    for c in range(cases):
        n = int(rng.integers(2, 13))
        f = FMTS[c % len(FMTS)]
        lv = lvc.setdefault(f, _levels(f))
        x = sample(rng, n)
        try:
            r = optimal_scale_format_data(x, f)
            ex = fmt_bf(x, lv)
            tol = 64 * 2.0**-104 * float(np.mean(x * x))
            lb = Fr(float(r.risk_lower_bound / np.pi**2))
            if lb > ex * (1 + Fr(1, 10**14)) or abs(r.mse - float(ex)) > 1e-12 * float(ex) + tol:
                bad += 1
                print("FORMAT", f, x.tolist(), r.mse, float(ex), float(lb))
        except ValueError as e:
            print("FORMAT ValueError", f, x.tolist(), e)
        if c % 4 == 0:  # per channel: 3 rows
            X = np.stack([sample(rng, n) for _ in range(3)])
            try:
                r = optimal_scale_format_data(X, f, axis=0)
            except ValueError as e:  # e.g. a channel of only tiny values (the documented refusal)
                print("ROWS ValueError", f, X.tolist(), e)
                continue
            for i in range(3):
                ex = fmt_bf(X[i], lv)
                tol = 64 * 2.0**-104 * float(np.mean(X[i] ** 2))
                lb = Fr(float(r.risk_lower_bound[i] / np.pi**2))
                if lb > ex * (1 + Fr(1, 10**14)) or abs(r.mse[i] - float(ex)) > 1e-12 * float(ex) + tol:
                    bad += 1
                    print("ROWS", f, X[i].tolist(), r.mse[i], float(ex), float(lb))
        no = int(rng.integers(2, 7))
        b = int(rng.integers(1, 4 if no > 4 else 5))
        xo = sample(rng, no)
        if np.ptp(xo) == 0 or np.max(np.abs(xo - np.mean(xo))) < 1e-140:
            continue
        try:
            r = optimal_offset_data(xo, b)
        except ValueError as e:
            print("OFFSET ValueError", b, xo.tolist(), e)
            continue
        ex = off_bf(xo, b)
        if Fr(float(r.mse_lower_bound)) > ex or abs(r.mse - float(ex)) > 1e-9 * float(ex) + 64 * 2.0**-104 * float(np.mean((xo - np.mean(xo))**2)) * no:
            bad += 1
            print("OFFSET", b, xo.tolist(), r.mse, r.mse_lower_bound, float(ex))
    print(f"{cases} cases, {bad} bad, cpu {time.process_time() - t0:.1f} s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
