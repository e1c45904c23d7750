"""Certification table of heavy-law optima: per law and bit width, whether optimal_scale certifies,
the relative scale error, the relative gap (risk - risk_lower_bound) / risk, and wall / CPU time of one call
(the first call of a law/bit width includes numba compilation and caches).

    .venv/bin/python benchmarks/cert_heavy.py [bits,comma,separated] [law names,comma,separated]
"""
import sys
import time
from quanttheory import Grid, optimal_scale, ReLU
from quanttheory.laws import StudentT, GenNormal, Mixture

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
            print(f"{name:<16} {b:>2} ERROR {e}"); continue
        w, c = time.perf_counter() - t0, time.process_time() - c0
        cert = "NOTcert" if "not certified" in r.method else "cert"
        lb = r.risk_lower_bound
        gap = (r.risk - lb) / r.risk if lb == lb else float("nan")
        print(f"{name:<16} {b:>2} {cert:<8} srel={r.scale_rel_error:.2e} gap={gap:.2e} s={r.scale:.12g} "
              f"wall={w:.2f} cpu={c:.2f}", flush=True)
