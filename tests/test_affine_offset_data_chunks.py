"""The real-offset data search evaluates the box centres in chunks (``offset_data.VALUE_CHUNK``): at 8
bits and ~2e5 boxes the unchunked (boxes x 256) level matrix reached ~310 MB (measured: 16,384 values,
tracemalloc peak 311 MB -> 25 MB with the chunks, same result)."""
import numpy as np

from quanttheory.affine import _kernels as K
from quanttheory.affine import offset_data as OD
from quanttheory.affine.data import optimal_offset_data


def test_centre_values_are_chunked_and_give_the_same_optimum(monkeypatch):
    rng = np.random.default_rng(5)
    x = rng.laplace(0.1, 1.0, (1, 300))
    ref = optimal_offset_data(x, 5, axis=0)
    rows = []
    orig = K.data_union_dist_sq

    def spy(xc, lo, hi, out):
        if lo is hi:  # value(): one level matrix for both ends
            rows.append(lo.shape[0])
        return orig(xc, lo, hi, out)

    monkeypatch.setattr(K, "data_union_dist_sq", spy)
    monkeypatch.setattr(OD, "VALUE_CHUNK", 7)
    got = optimal_offset_data(x, 5, axis=0)
    # value() calls: the incumbent scan (21 x 21 points, before any box), then the box centres of every round
    # in chunks of at most VALUE_CHUNK, then the returned point (one row)
    assert rows[0] == 441 and len(rows) >= 3
    assert max(rows[1:]) <= 7, rows
    assert float(np.ravel(got.mse)[0]) == float(np.ravel(ref.mse)[0])
    assert float(np.ravel(got.scale)[0]) == float(np.ravel(ref.scale)[0])
    assert float(np.ravel(got.offset)[0]) == float(np.ravel(ref.offset)[0])
