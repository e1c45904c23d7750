"""A/B timing of optimal_scale(law, Grid(b), reg) for the laws of issue 20 (QSin certificate, qsin_cert.py),
this checkout against a baseline tree, in the same run (CPU time, time.process_time, minimum of
``--repeat`` warm runs; each side in its own subprocess, interleaved).

    python benchmarks/bench_qsin_cert.py --base /tmp/base_tree [--bits 2,4,8,12] [--repeat 3]

Prints per law, bits and regularizer: cpu ms before -> after, ratio, relative scale_error and
whether the method is certified.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from quanttheory import Grid, Laplace, Normal, optimal_scale
from quanttheory.laws import GenNormal, Mixture, StudentT
LAWS = {"t(3)": StudentT(3), "t(6)": StudentT(6), "GenNormal(0.5)": GenNormal(0.5),
        "GenNormal(1.5)": GenNormal(1.5), "0.7 N(0,1) + 0.3 Laplace(0,2)": Mixture([Normal(0, 1), Laplace(0, 2)], [0.7, 0.3])}
name, bits, reg, rep = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
law, g = LAWS[name], Grid(bits)
optimal_scale(law, g, reg, with_msqe_excess=False)  # warm (numba caches, first-call imports)
best = 1e99
for _ in range(rep):
    t0 = time.process_time()
    r = optimal_scale(law, g, reg, with_msqe_excess=False)
    best = min(best, time.process_time() - t0)
m = r.method
cert = "not certified" not in m and "certified" in m
print(json.dumps(dict(ms=1e3 * best, scale=r.scale, rel_err=r.scale_error / r.scale, cert=cert)))
"""


def run(tree, name, bits, reg, rep):
    out = subprocess.run([sys.executable, "-c", CHILD, tree, name, str(bits), reg, str(rep)], capture_output=True,
                         text=True, check=True, cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--bits", default="2,4,8,12")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reg", default="qsin,msqe")
    ap.add_argument("--laws", default="t(3);t(6);GenNormal(0.5);GenNormal(1.5);0.7 N(0,1) + 0.3 Laplace(0,2)")
    a = ap.parse_args()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    print("| law | reg | bits | before cpu ms | after cpu ms | after/before | before: rel. err, cert | "
          "after: rel. err, cert |")
    print("|---|---|---|---|---|---|---|---|")
    for name in a.laws.split(";"):
        for reg in a.reg.split(","):
            for b in [int(x) for x in a.bits.split(",")]:
                rb = run(a.base, name, b, reg, a.repeat)
                ra = run(here, name, b, reg, a.repeat)
                print(f"| {name} | {reg} | {b} | {rb['ms']:.0f} | {ra['ms']:.0f} | {ra['ms'] / rb['ms']:.2f} | "
                      f"{rb['rel_err']:.1e}, {'yes' if rb['cert'] else 'no'} | "
                      f"{ra['rel_err']:.1e}, {'yes' if ra['cert'] else 'no'} |", flush=True)


if __name__ == "__main__":
    main()
