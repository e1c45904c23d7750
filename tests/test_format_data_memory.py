"""Bounded memory of the exact data optimum for any format (issue 13, item 4: "the same memory
bounds as the integer case").

The engine keeps per distinct value the sorted magnitudes, extended-precision prefix sums and
their float64 words, plus O(n) temporaries of the sort and of the final direct passes: measured
~190 bytes per value (float32 input, n = 1e6, tracemalloc and RSS; ``benchmarks/bench_formats_data.py
--passes``).  Nothing of size ``n x K`` (K levels) may appear: for E4M3 (K = 253) a single
float64 ``n x K`` temporary is 2 KB per value.  The limit below, 600 bytes per value of RSS growth
in a fresh subprocess (after the kernels are loaded), is 3x the measured use and fails on any such
temporary.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from quanttheory.risk.format_data import optimal_scale_format_data
    n, name = int(sys.argv[1]), sys.argv[2]
    x = np.random.default_rng(3).standard_t(4, size=n).astype(np.float32)
    optimal_scale_format_data(x[:2000], name)  # load the kernels outside the measurement
    r0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    res = optimal_scale_format_data(x, name)
    r1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"growth_bytes": (r1 - r0) * 1024, "scale": res.scale, "mse": res.mse}))
""")


@pytest.mark.parametrize("name", ["e4m3", "nf4"])
def test_rss_growth_is_linear_and_small(name):
    from quanttheory.formats import get_format

    n = 300_000
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(n), name], capture_output=True, text=True,
                         timeout=600, check=True)
    rec = json.loads(out.stdout.strip().splitlines()[-1])
    per_value = rec["growth_bytes"] / n
    assert per_value < 600, f"{name}: RSS grew by {per_value:.0f} bytes per value"
    # an n x K float64 temporary would be K * 8 bytes per value: far above the limit for E4M3
    assert get_format("e4m3").size * 8 > 3 * 600
    assert rec["mse"] > 0 and rec["scale"] > 0
