"""A/B of ``optimal_scale`` for Normal/Laplace laws against a baseline copy of the package (not a test).

    git -C /work/main archive 2ddb4a7 | tar -x -C /tmp/base
    python benchmarks/ab_optimum.py sweep --base /tmp/base --filter "bits <= 8" --out /tmp/ab
    python benchmarks/ab_optimum.py time --base /tmp/base --rounds 4 --repeat 3 [CASE ...]

``sweep``: every case of the grid (Normal, Laplace; loc in {0, 0.5, 3, 20, 50}; scale in {0.3, 1, 2};
bits 1-16; signed/unsigned; MSQE/QSin; ``--filter`` a Python expression in law, loc, sc, bits,
signed, reg), one ``optimal_scale(..., with_msqe_excess=False)`` each, this checkout and the
baseline each in its own process (JSON lines in ``--out``), then the comparison: a case disagrees
when the scales are further apart than the sum of both ``scale_error``s, the risks differ by more
than 1e-12 relative (unless the baseline's is a Brent value of its hull path, higher than the new
certified one), or a ``risk_lower_bound`` exceeds the other version's risk.

``time``: CASEs ``law,loc,scale,bits,s|u,reg`` (``n``/``l``), each version in a child process per
round (order alternating), warm (one untimed call), CPU ``time.process_time`` minimum over
rounds x repeat, ms; prints a Markdown table with ``scale_error/scale`` and the certificate gap.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CASES = ("n,50,1,4,s,msqe n,-50,1,4,s,msqe n,50,1,4,u,msqe l,50,1,4,s,msqe n,10,1,4,s,msqe "
                 "n,100,1,4,s,msqe n,50,1,5,s,msqe n,50,1,6,s,msqe n,50,1,7,s,msqe n,20,1,5,s,msqe "
                 "l,20,1,6,s,msqe n,20,0.3,8,s,msqe n,50,1,4,s,qsin n,-50,1,4,s,qsin l,50,1,4,s,qsin "
                 "n,50,1,4,u,qsin n,50,1,5,s,qsin n,50,1,6,s,qsin l,20,0.5,6,u,qsin l,-50,1,5,s,qsin "
                 "n,20,1,6,s,qsin n,50,1,6,u,qsin n,50,0.3,6,s,qsin n,0,1,4,s,msqe n,0,1,8,s,msqe "
                 "n,0,1,4,s,qsin l,0,1,3,s,qsin").split()


def _grid_cases():
    for law in ("normal", "laplace"):
        for loc in (0, 0.5, 3, 20, 50):
            for sc in (0.3, 1, 2):
                for bits in range(1, 17):
                    for signed in (True, False):
                        for reg in ("msqe", "qsin"):
                            yield (law, loc, sc, bits, signed, reg)


def _solve(law, loc, sc, bits, signed, reg):
    from quanttheory import Grid, Laplace, Normal
    from quanttheory.risk.optimum import optimal_scale

    d = (Normal if law in ("normal", "n") else Laplace)(float(loc), float(sc))
    return optimal_scale(d, Grid(int(bits), signed), reg, with_msqe_excess=False)


def child_sweep(out, filt):
    with open(out, "w") as f:
        for c in _grid_cases():
            law, loc, sc, bits, signed, reg = c
            if filt and not eval(filt, {"law": law, "loc": loc, "sc": sc, "bits": bits, "signed": signed,
                                        "reg": reg}):
                continue
            try:
                r = _solve(*c)
                row = dict(case=c, scale=r.scale, risk=r.risk, err=r.scale_error, lb=r.risk_lower_bound,
                           method=r.method[:40])
            except Exception as e:  # noqa: BLE001 - recorded and compared
                row = dict(case=c, error=repr(e))
            f.write(json.dumps(row) + "\n")
            f.flush()


def child_time(repeat, specs):
    import time

    out = []
    for spec in specs:
        law, loc, sc, bits, sg, reg = spec.split(",")
        args = (law, loc, sc, bits, sg == "s", reg)
        r = _solve(*args)
        best = math.inf
        for _ in range(repeat):
            t = time.process_time()
            _solve(*args)
            best = min(best, time.process_time() - t)
        out.append(dict(spec=spec, cpu=best * 1e3, errs=r.scale_error / r.scale,
                        gap=(r.risk - r.risk_lower_bound) / r.risk, path=r.method[:5]))
    print(json.dumps(out))


def _run(path, args, capture=False):
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, os.path.abspath(__file__)] + args, env=env, check=True,
                          capture_output=capture, text=True)


def compare(fa, fb):
    def load(p):
        return {tuple(json.loads(x)["case"]): json.loads(x) for x in open(p)}

    A, B = load(fa), load(fb)
    bad, moved, worst = [], 0, 0.0
    keys = [k for k in A if k in B]
    for k in keys:
        a, b = A[k], B[k]
        if "error" in a or "error" in b:
            if a.get("error") != b.get("error"):
                bad.append((k, "error", a.get("error"), b.get("error")))
            continue
        dr = abs(a["risk"] - b["risk"]) / a["risk"]
        if abs(a["scale"] - b["scale"]) > (a["err"] + b["err"]) * (1 + 1e-9) + 1e-15 * a["scale"]:
            bad.append((k, "scale", a["scale"], b["scale"]))
        if dr > 1e-12 and not (b["risk"] < a["risk"] and "branch" in a["method"]):
            bad.append((k, "risk", a["risk"], b["risk"]))
        if b["lb"] > a["risk"] * (1 + 1e-12) or a["lb"] > b["risk"] * (1 + 1e-12):
            bad.append((k, "lower bound", a["lb"], b["lb"]))
        moved += ("branch" in a["method"]) and ("branch" not in b["method"])
        worst = max(worst, dr)
    loose = [sum(r["err"] / r["scale"] > 1e-9 for r in (X[k] for k in keys) if "error" not in r) for X in (A, B)]
    print(f"{len(keys)} cases, {len(bad)} disagreements, max relative risk difference {worst:.2g}, "
          f"{moved} moved off the per-cell path, scale_error/scale > 1e-9: {loose[0]} -> {loose[1]}")
    for x in bad[:40]:
        print("  ", x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("sweep", "time", "_sweep", "_time"))
    ap.add_argument("cases", nargs="*")
    ap.add_argument("--base", help="directory holding the baseline copy of the package")
    ap.add_argument("--filter", default="")
    ap.add_argument("--out", default="/tmp/ab_optimum")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_intermixed_args()
    if a.mode == "_sweep":
        return child_sweep(a.out, a.filter)
    if a.mode == "_time":
        return child_time(a.repeat, a.cases)
    if a.mode == "sweep":
        os.makedirs(a.out, exist_ok=True)
        for name, path in (("base", a.base), ("new", HERE)):
            _run(path, ["_sweep", "--out", os.path.join(a.out, name + ".jsonl"), "--filter", a.filter])
        return compare(os.path.join(a.out, "base.jsonl"), os.path.join(a.out, "new.jsonl"))
    cases = a.cases or DEFAULT_CASES
    res = {"base": {}, "new": {}}
    for r in range(a.rounds):
        order = (("base", a.base), ("new", HERE))
        for name, path in (order if r % 2 == 0 else order[::-1]):
            out = json.loads(_run(path, ["_time", "--repeat", str(a.repeat)] + list(cases), capture=True).stdout)
            for o in out:
                if o["spec"] not in res[name] or o["cpu"] < res[name][o["spec"]]["cpu"]:
                    res[name][o["spec"]] = o
    print(os.popen("uptime").read().strip())
    print("| case | base ms | new ms | base err/s, gap | new err/s, gap | path |")
    print("|---|---:|---:|---|---|---|")
    for c in cases:
        b, n = res["base"][c], res["new"][c]
        print(f"| {c} | {b['cpu']:.1f} | {n['cpu']:.1f} | {b['errs']:.1e}, {b['gap']:.1e} | "
              f"{n['errs']:.1e}, {n['gap']:.1e} | {b['path']} -> {n['path']} |")


if __name__ == "__main__":
    main()
