"""Peak memory of ``quanttheory model --granularity tensor`` for level-set formats (e4m3, nf4).

One float32 tensor of 64 MB analyzed as ONE unit: the exact optimum (the streamed engine
:mod:`quanttheory.risk.format_stream`) and the amax baseline, measured in a fresh subprocess
(:func:`quanttheory.models.memory.measure_peak`).  Budget, as the integer test in
``tests/test_models_formats.py``: the tensor as loaded (its memory-mapped float32 pages, 1x) plus at most
1x for the analysis, plus 32 MB (interpreter and numba buffers, and the engine's histograms and
straddler buffers, which do not grow with the tensor).  Before the streamed engine the in-memory
exact path copied the unit to float64, split it by sign and sorted it with prefix sums: the RSS grew
by ~17x the tensor (e4m3), which fails both bounds.  The sweeps (``sweep39``, ``sweep126``) make the
same chunked passes as ``amax`` (one more chunk-sized buffer) and are left out to keep the test short.
"""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["e4m3", "nf4"])
def test_peak_memory_levelset_tensor_granularity(tmp_path, fmt):
    from safetensors.numpy import save_file

    from quanttheory.models.memory import measure_peak

    rng = np.random.default_rng(0)
    p = tmp_path / "big.safetensors"
    big = (rng.standard_normal((4096, 4096)) * 0.02).astype(np.float32)
    save_file({"big": big, "small": big[:64, :256].copy()}, str(p))
    nbytes = big.nbytes
    del big
    m = measure_peak(p, granularity="tensor", fmt=fmt, methods=["amax"])
    MB = 1 << 20
    assert m.tensors == 2 and m.values == 4096 * 4096 + 64 * 256
    assert m.tracemalloc_peak < 1 * nbytes + 32 * MB, m  # NumPy: no O(n) float64 copy, no sort
    assert m.rss_growth < 2 * nbytes + 32 * MB, m
