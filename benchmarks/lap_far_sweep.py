"""Sweep of ``optimal_scale`` for Laplace laws far off centre (issue 20; not a test).

    python benchmarks/lap_far_sweep.py --out /tmp/s.jsonl [--base DIR] [--mode full|few] [--timeout 60]
        [--bits 6,8,10,12,13-24] [--m 5,20,50,300,1e3,1e4,1e5] [--b 1,0.3] [--reg msqe,qsin]

Cases ``Laplace(m b, b)`` (``m`` in law scales, both signs; unsigned grids for ``m > 0`` only), one
call per case in a worker process (``PYTHONPATH`` = this checkout or ``--base``); a case that exceeds
``--timeout`` seconds (wall) kills the worker (its own pid), is recorded as ``timeout``, and a new worker
takes the next case. Per case: warm CPU ms (``time.process_time`` of a second call when the first took
< 2 s, else the first), the method's first word, ``scale_error/scale``, the certificate gap.
``--mode few`` calls ``_lowbit_cert.certify_few`` alone (no fallback): ``ok`` says whether it certified.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _bits(spec):
    out = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


def worker(mode):
    import math

    from quanttheory import Grid, Laplace
    from quanttheory.risk import _lowbit_cert
    from quanttheory.risk.optimum import optimal_scale

    for line in sys.stdin:
        m, b, bits, signed, reg = json.loads(line)
        g = Grid(int(bits), bool(signed))

        def call():
            if mode == "few":
                return _lowbit_cert.certify_few(1, m * b / b, False, g.r_b, g.r_t, reg == "qsin")
            return optimal_scale(Laplace(m * b, b), g, reg, with_msqe_excess=False)

        row = dict(case=[m, b, bits, signed, reg])
        try:
            t = time.process_time()
            r = call()
            dt = time.process_time() - t
            if dt < 2.0:
                t = time.process_time()
                r = call()
                dt = time.process_time() - t
            row["ms"] = dt * 1e3
            if mode == "few":
                row["ok"] = r is not None
                if r is not None:
                    row.update(errs=r["scale_error"] / r["scale"], gap=(r["value"] - r["value_lower"]) / r["value"],
                               bounds=r["bounds"], scale=r["scale"], value=r["value"])
            else:
                row.update(method=r.method.split()[0], errs=r.scale_error / r.scale, scale=r.scale, risk=r.risk,
                           gap=(r.risk - r.risk_lower_bound) / r.risk,
                           ok=r.scale_error / r.scale <= 1e-9 and math.isfinite(r.scale_error))
        except Exception as e:  # noqa: BLE001 - recorded
            row["error"] = repr(e)[:200]
        print(json.dumps(row), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--base")
    ap.add_argument("--mode", default="full", choices=("full", "few", "_worker_full", "_worker_few"))
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--bits", default="6,8,10,12,13-24")
    ap.add_argument("--m", default="5,20,50,300,1e3,1e4,1e5")
    ap.add_argument("--b", default="1")
    ap.add_argument("--reg", default="msqe,qsin")
    ap.add_argument("--unsigned", default="yes")
    ap.add_argument("--cases", help="a JSON-lines file (e.g. an earlier --out): run only its cases")
    a = ap.parse_args()
    if a.mode.startswith("_worker"):
        return worker(a.mode.split("_")[-1])
    cases = []
    for reg in a.reg.split(","):
        for bits in _bits(a.bits):
            for m0 in (float(x) for x in a.m.split(",")):
                for m in (m0, -m0):
                    for b in (float(x) for x in a.b.split(",")):
                        for signed in ((True, False) if a.unsigned == "yes" else (True,)):
                            if not signed and m < 0:
                                continue
                            cases.append([m, b, bits, signed, reg])
    if a.cases:
        cases = [json.loads(x)["case"] for x in open(a.cases)]
    env = dict(os.environ, PYTHONPATH=a.base or HERE, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = [sys.executable, os.path.abspath(__file__), "--out", a.out, "--mode", "_worker_" + a.mode]
    proc = None
    with open(a.out, "w") as f:
        for c in cases:
            if proc is None:
                proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        cwd=a.base or HERE)
            proc.stdin.write(json.dumps(c) + "\n")
            proc.stdin.flush()
            r, _, _ = select.select([proc.stdout], [], [], a.timeout * (2 if a.mode == "full" else 1) + 5)
            line = proc.stdout.readline() if r else ""
            if not line:
                proc.kill()
                proc.wait()
                proc = None
                line = json.dumps(dict(case=c, timeout=True)) + "\n"
            f.write(line)
            f.flush()
    if proc is not None:
        proc.stdin.close()
        proc.wait()


if __name__ == "__main__":
    main()
