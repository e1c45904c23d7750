"""Generate tests/data/risk_reference.json: mpmath (50-digit) risk-curve values.

Run from the repository root:  python tests/make_reference.py  [--jobs 2]
(takes a few minutes; the 13-16-bit MSQE points dominate).

Scales: s_ref x {1e-4, 1e-2, 0.3, 1, 3, 100} where s_ref is the MSQE optimum
found by quanttheory (only used to place the test points; any value would do),
or 8 rms / 2^b for the degenerate ReLU + signed 1-bit case.  Bits 13-16 use the
factors {1e-4, 1, 100} for MSQE (mpmath MSQE costs O(2^b) per point).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import mpmath as mp  # noqa: E402

from mpref import mp_risk  # noqa: E402

FACTORS = (1e-4, 1e-2, 0.3, 1.0, 3.0, 100.0)
HIGH_FACTORS = (1e-4, 1.0, 100.0)


def laws():
    from quanttheory import Laplace, Normal, ReLU

    base = [Normal(), ReLU(Normal()), Laplace(), ReLU(Laplace())]
    extra = [Normal(0.5, 2.0), ReLU(Laplace(-0.3, 0.7)), ReLU(Normal(0.4, 0.6)), Laplace(0.25, 1.5)]
    return base, extra


def s_ref(d, g):
    from quanttheory.risk import optimal_scale

    if d.relu and g.r_t == 0:
        return 8 * math.sqrt(d.second_moment()) / 2**g.bits
    return optimal_scale(d, g, "msqe", with_msqe_excess=False).scale


def one(job):
    law, loc, scale, relu, r_b, r_t, reg, s = job
    val = mp_risk(law, loc, scale, relu, r_b, r_t, reg, s, dps=50)
    return mp.nstr(val, 25)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "data" / "risk_reference.json"))
    args = ap.parse_args()
    from quanttheory import Grid

    base, extra = laws()
    cases = []
    for d in base:
        for bits in range(1, 17):
            for signed in (True, False):
                cases.append((d, Grid(bits, signed)))
    for d in extra:
        for bits in (1, 3, 8, 12):
            for signed in (True, False):
                cases.append((d, Grid(bits, signed)))
    jobs, meta = [], []
    for d, g in cases:
        sr = s_ref(d, g)
        for reg in ("msqe", "qsin", "sinreq"):
            facs = HIGH_FACTORS if (reg == "msqe" and g.bits > 12) else FACTORS
            for f in facs:
                s = float(sr * f)
                jobs.append((d.law, d.loc, d.scale, d.relu, g.r_b, g.r_t, reg, s))
                meta.append(dict(law=("normal" if d.law == 0 else "laplace"), loc=d.loc, scale=d.scale,
                                 relu=d.relu, bits=g.bits, signed=g.signed, regularizer=reg, factor=f, s=s))
    # longest first
    order = sorted(range(len(jobs)), key=lambda i: -(2 ** meta[i]["bits"] if jobs[i][6] == "msqe" else 1))
    results = [None] * len(jobs)
    with ProcessPoolExecutor(args.jobs) as ex:
        for i, val in zip(order, ex.map(one, [jobs[i] for i in order], chunksize=1)):
            results[i] = val
    for m, v in zip(meta, results):
        m["reference"] = v
    Path(args.out).write_text(json.dumps({"dps": 50, "generator": "tests/make_reference.py", "records": meta},
                                         indent=0))
    print(f"wrote {len(meta)} reference values to {args.out}")


if __name__ == "__main__":
    main()
