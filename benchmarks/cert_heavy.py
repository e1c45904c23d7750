"""Certification table of heavy-law optima: per law and bit width, whether optimal_scale certifies,
the relative scale error, the relative gap (risk - risk_lower_bound) / risk, and wall / CPU time of one call
(the first call of a law/bit width includes numba compilation and caches).

    .venv/bin/python benchmarks/cert_heavy.py [bits,comma,separated] [law names,comma,separated]

A/B mode (issue 20): this checkout against a baseline tree (e.g. ``git archive main | tar -x -C /tmp/base``),
each side in its own subprocess, interleaved per law, same run:

    .venv/bin/python benchmarks/cert_heavy.py --base /tmp/base [--bits 1,2,4,8,12] [--regs msqe,qsin]
        [--repeat 3] [--laws "t(3);t(6)"] [--sweep]

prints per law, grid (signed / unsigned), regularizer and bits the CPU time (``time.process_time``, minimum
of ``--repeat`` warm calls) before -> after and their ratio, both relative scale errors and gaps, and checks
that the two optima agree within their certificates (``|s_after - s_before| <= err_after + err_before``, both
being certified intervals for the same global minimizer); exits 1 if any pair disagrees.  ``--sweep`` adds
ReLU laws, mixtures (two separated components: two near-equal dips) and off-centre locations, both grid kinds.
"""
import argparse
import json
import os
import subprocess
import sys
import time

CORE = ["t(3)", "t(6)", "t(30)", "gn(0.5)", "gn(1.5)"]
SWEEP = ["relu t(4,0.2)", "relu gn(0.8)", "mix t4/gn.5", "mix t3 -2/+2", "t(5) loc 3", "gn(0.7) loc -1.5",
         "mix N/t4 wide", "mix t6/N off"]

CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from quanttheory import Grid, Laplace, Normal, ReLU, optimal_scale
from quanttheory.laws import GenNormal, Mixture, StudentT
LAWS = {"t(3)": StudentT(3.0), "t(4)": StudentT(4.0), "t(6)": StudentT(6.0), "t(30)": StudentT(30.0),
        "gn(0.5)": GenNormal(0.5), "gn(1.5)": GenNormal(1.5),
        "relu t(4,0.2)": ReLU(StudentT(4.0, 0.2)), "relu gn(0.8)": ReLU(GenNormal(0.8)),
        "mix t4/gn.5": Mixture([StudentT(4.0), GenNormal(0.5, 0.5, 0.3)], [0.4, 0.6]),
        "mix t3 -2/+2": Mixture([StudentT(3.0, -2.0, 0.5), StudentT(3.0, 2.0, 0.5)], [0.5, 0.5]),
        "t(5) loc 3": StudentT(5.0, 3.0, 0.5), "gn(0.7) loc -1.5": GenNormal(0.7, -1.5, 1.0),
        "mix N/t4 wide": Mixture([Normal(0, 1), StudentT(4.0, 0.0, 2.0)], [0.7, 0.3]),
        "mix t6/N off": Mixture([StudentT(6.0, 1.0, 0.3), Normal(-0.5, 0.2)], [0.6, 0.4])}
name, cases, rep = sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4])
law = LAWS[name]
out = []
for signed, reg, bits in cases:
    g = Grid(bits, signed=signed)
    try:
        r = optimal_scale(law, g, reg, with_msqe_excess=False)  # warm (numba caches, first-call imports)
        best = 1e99
        for _ in range(rep):
            t0 = time.process_time()
            r = optimal_scale(law, g, reg, with_msqe_excess=False)
            best = min(best, time.process_time() - t0)
    except ValueError as e:
        out.append(dict(err=str(e)[:80]))
        continue
    cert = "not certified" not in r.method and "certified" in r.method
    out.append(dict(ms=1e3 * best, scale=r.scale, scale_error=r.scale_error, risk=r.risk,
                    lb=r.risk_lower_bound, cert=cert))
print(json.dumps(out))
"""


def _child(tree, name, cases, rep):
    res = subprocess.run([sys.executable, "-c", CHILD, tree, name, json.dumps(cases), str(rep)],
                         capture_output=True, text=True, cwd=tree)
    if res.returncode:
        raise RuntimeError(res.stderr[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def ab_main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--bits", default="1,2,4,8,12")
    ap.add_argument("--regs", default="msqe,qsin")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--laws", default=";".join(CORE))
    ap.add_argument("--sweep", action="store_true", help="add the ReLU / mixture / off-centre laws, both grids")
    a = ap.parse_args(argv)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    laws = a.laws.split(";") + (SWEEP if a.sweep else [])
    print("| law | grid | reg | bits | before cpu ms | after cpu ms | after/before | before: rel. err, gap, cert | "
          "after: rel. err, gap, cert | agree |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    bad = 0
    for name in laws:
        signs = (True, False) if a.sweep else (True,)
        cases = [(sg, reg, int(b)) for sg in signs for reg in a.regs.split(",") for b in a.bits.split(",")]
        rb = _child(a.base, name, cases, a.repeat)
        ra = _child(here, name, cases, a.repeat)
        for (sg, reg, b), x, y in zip(cases, rb, ra):
            kind = "signed" if sg else "unsigned"
            if "err" in x or "err" in y:
                same = ("err" in x) == ("err" in y)
                bad += not same
                print(f"| {name} | {kind} | {reg} | {b} | ValueError: {x.get('err', 'ok')} | {y.get('err', 'ok')} "
                      f"| | | | {'yes' if same else 'NO'} |")
                continue
            agree = abs(y["scale"] - x["scale"]) <= (y["scale_error"] + x["scale_error"]) * (1 + 1e-9)
            bad += not agree

            def f(r):
                gap = (r["risk"] - r["lb"]) / r["risk"] if r["lb"] == r["lb"] else float("nan")
                return f"{r['scale_error'] / r['scale']:.2e}, {gap:.1e}, {'yes' if r['cert'] else 'no'}"

            print(f"| {name} | {kind} | {reg} | {b} | {x['ms']:.1f} | {y['ms']:.1f} | {y['ms'] / x['ms']:.3f} | "
                  f"{f(x)} | {f(y)} | {'yes' if agree else 'NO'} |", flush=True)
    print(f"\n{bad} disagreement(s)")
    return 1 if bad else 0


def table_main():
    from quanttheory import Grid, ReLU, optimal_scale
    from quanttheory.laws import GenNormal, Mixture, StudentT

    bits_list = [int(b) for b in sys.argv[1].split(",")] if len(sys.argv) > 1 else [1, 2, 3, 4, 5, 6, 8, 12, 16]
    laws = [("t(3)", StudentT(3.0), True), ("t(4)", StudentT(4.0), True), ("t(30)", StudentT(30.0), True),
            ("gn(0.5)", GenNormal(0.5), True), ("gn(1.5)", GenNormal(1.5), True),
            ("relu t(4,0.2)", ReLU(StudentT(4.0, 0.2)), False),
            ("relu gn(0.8)", ReLU(GenNormal(0.8)), False),
            ("mix t4/gn.5", Mixture([StudentT(4.0), GenNormal(0.5, 0.5, 0.3)], [0.4, 0.6]), True)]
    sel = sys.argv[2].split(",") if len(sys.argv) > 2 else None
    for name, law, signed in laws:
        if sel and name not in sel:
            continue
        for b in bits_list:
            g = Grid(b, signed=signed)
            t0, c0 = time.perf_counter(), time.process_time()
            try:
                r = optimal_scale(law, g)
            except Exception as e:
                print(f"{name:<16} {b:>2} ERROR {e}")
                continue
            w, c = time.perf_counter() - t0, time.process_time() - c0
            cert = "NOTcert" if "not certified" in r.method else "cert"
            lb = r.risk_lower_bound
            gap = (r.risk - lb) / r.risk if lb == lb else float("nan")
            print(f"{name:<16} {b:>2} {cert:<8} srel={r.scale_rel_error:.2e} gap={gap:.2e} s={r.scale:.12g} "
                  f"wall={w:.2f} cpu={c:.2f}", flush=True)


if __name__ == "__main__":
    if any(x.startswith("--") for x in sys.argv[1:]):
        sys.exit(ab_main(sys.argv[1:]))
    table_main()
