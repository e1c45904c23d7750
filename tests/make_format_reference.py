"""Generate tests/data/format_risk_reference.json: mpmath (50-digit) risk values of number formats.

Run from the repository root:  python tests/make_format_reference.py  [--jobs 2]   (about a minute)

Method: :func:`mpref_formats.mp_format_mse` (closed-form partial moments per cell at 50
digits).  Scales: s_ref x {1e-4, 1e-2, 0.3, 1, 3, 100} where s_ref is the argmin of a
2000-point log scan of quanttheory's curve (only used to place the test points).
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import mpmath as mp  # noqa: E402

from mpref_formats import mp_format_mse  # noqa: E402

FACTORS = (1e-4, 1e-2, 0.3, 1.0, 3.0, 100.0)
FORMATS = ("int4n", "int8", "uint4", "e2m1", "nf4", "e2m3", "e3m2", "e4m3", "e5m2")
# a user level set without 0 whose middle run straddles 0 (ReLU atom and per-cell paths)
CUSTOM = (-2.5, -1.0, 0.25, 0.75, 1.25, 3.0)


def laws():
    from quanttheory import Laplace, Normal, ReLU

    return [Normal(), ReLU(Normal()), Laplace(), ReLU(Laplace()), Normal(0.5, 2.0), ReLU(Laplace(-0.3, 0.7)),
            Laplace(0.25, 1.5)]


def fmt_levels(name):
    from quanttheory.formats import get_format

    if name == "custom":
        return list(CUSTOM)
    return [float(x) for x in get_format(name).levels]


def s_ref(d, levels):
    import numpy as np

    from quanttheory.risk.levels import format_mse

    rms = float(np.sqrt(d.second_moment()))
    sc = np.geomspace(rms / max(abs(levels[0]), abs(levels[-1])) / 100, rms * 100, 2000)
    return float(sc[int(np.argmin(format_mse(d, sc, np.array(levels))))])


def one(job):
    law, loc, scale, relu, levels, s = job
    return mp.nstr(mp_format_mse(law, loc, scale, relu, levels, s, dps=50), 25)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "data" / "format_risk_reference.json"))
    args = ap.parse_args()
    jobs, meta = [], []
    for d in laws():
        for name in FORMATS + ("custom",):
            lv = fmt_levels(name)
            sr = s_ref(d, lv)
            for f in FACTORS:
                s = float(sr * f)
                jobs.append((d.law, d.loc, d.scale, d.relu, lv, s))
                meta.append(dict(law=("normal" if d.law == 0 else "laplace"), loc=d.loc, scale=d.scale,
                                 relu=d.relu, format=name, factor=f, s=s))
    with ProcessPoolExecutor(args.jobs) as ex:
        results = list(ex.map(one, jobs, chunksize=4))
    for m, v in zip(meta, results):
        m["mse_reference"] = v
    Path(args.out).write_text(json.dumps({"dps": 50, "generator": "tests/make_format_reference.py",
                                          "quantity": "E[(xi - Q_s(xi))^2] (no pi^2)",
                                          "custom_levels": list(CUSTOM), "records": meta}, indent=0))
    print(f"wrote {len(meta)} reference values to {args.out}")


if __name__ == "__main__":
    main()
