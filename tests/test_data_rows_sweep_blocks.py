"""The block pruning of the vectorized window sweep (``_sweep_blocks``, risk/_kernels/direct.py,
2026-11-30 evening): windows holding at least ``SWEEP_BLOCK_MIN`` breakpoints and narrow enough
for no recentring are cut into s-blocks whose rigorous lower bounds (the quadratic at the block's
left edge minus ``sum (2k + 1) R (R - beta)``) exclude most of them before the sort.  Checked
against the unpruned reference sweep ``_sweep_window`` and the enumeration of every breakpoint and
piece vertex of the window (``_true_min``): the same minimum (the chosen scale's direct sum within
1e-12 relative, the sweep's own tolerance), a scale inside the window, and a certificate at most
the enumerated minimum, on adversarial rows (lattice data with exact ties, Cauchy tails, one
outlier, one-signed, constant, float32 subnormals, ``round(20 N) / 7``), float64 and float32."""

import numpy as np
import pytest

from quanttheory.risk._kernels import direct as D

from test_data_rows_bucket_bounds import _F, _true_min  # noqa: E402  (the enumeration reference)
from test_data_rows_joint import KINDS, _row, _tops  # noqa: E402


def _bufs(cap):
    return (np.empty(cap), np.empty(cap), np.empty(cap), np.empty(cap + 1), np.empty(cap + 1),
            np.empty(cap + 1))


def _rows(rng, n):
    for kind in KINDS:
        yield kind, _row(kind, n, rng)
    yield "lattice7", np.round(20 * rng.normal(size=n)) / 7


@pytest.mark.parametrize("bits,signed", [(2, True), (3, False), (4, True), (4, False), (5, True)])
def test_block_pruned_sweep_equals_the_sweep_and_the_enumeration(bits, signed):
    rng = np.random.default_rng(7 + bits + 10 * signed)
    Tp, Tn = _tops(bits, signed)
    Tm = max(Tp, Tn)
    W = min(0.25, 4.0 / Tm)
    n = 4000 if bits <= 3 else 1500
    taken = 0
    for kind, x in _rows(rng, n):
        opt = np.zeros((1, 6))
        D.exact_rows_full(np.ascontiguousarray(x[None, :]), Tp, Tn, opt)
        s_opt = opt[0, 0]
        if not s_opt > 0:
            continue
        # windows around the optimum (narrow, wide) and one beside it (minimum at an edge)
        h = 0.45 * W
        for A, B in ((0.97 * s_opt, 1.03 * s_opt), ((1 - h) * s_opt, (1 + h) * s_opt), (1.02 * s_opt, (1.02 + 2 * h) * s_opt)):
            ne = int(D.count_breakpoints(x, Tp, Tn, A, B))
            blocks = ne >= D.SWEEP_BLOCK_MIN and B - A <= W * 0.5 * (A + B)
            taken += blocks
            for xx in (x, x.astype(np.float32)):
                x64 = xx.astype(np.float64)
                ref = np.zeros(6)
                D._sweep_window(xx, Tp, Tn, A, B, *_bufs(ne + 64), ref)
                out = np.zeros(6)
                D._sweep_window_fast(xx, Tp, Tn, A, B, *_bufs(ne + 64), np.empty(n), np.empty(n, np.int32), out)
                assert out[5] == 0.0 and out[4] == ref[4]
                const = float(np.sum((np.abs(x64) ** 2)[np.where(x64 >= 0, Tp, Tn) == 0]))
                tol = 1e-12 * (ref[1] + const) + 1e-24 * float(np.sum(x64 * x64)) + 1e-300
                assert abs(out[1] - ref[1]) <= tol, (kind, A, B)
                assert A <= out[0] <= B
                assert abs(_F(x64, out[0], Tp, Tn) + const - out[1]) <= tol
                if blocks and xx is x:  # the enumeration (O(n ne) in Python): float64 only
                    best = _true_min(x64, Tp, Tn, A, B) + const
                    assert abs(out[1] - best) <= 1e-12 * best + 1e-24 * float(np.sum(x64 * x64)) + 1e-300
                    assert out[2] <= best * (1 + 1e-12) + 1e-300, (kind, A, B)  # the certificate
                else:
                    assert out[2] <= ref[1] * (1 + 1e-12) + 1e-300
    assert taken >= 5  # the block path was exercised


def test_block_pruned_zero_error_rows():
    """Rows fitting the grid exactly: the optimum F = 0 is found through the blocks (its block is
    never excluded) and the certificate is 0."""
    Tp, Tn = _tops(4, True)
    rng = np.random.default_rng(3)
    x = rng.integers(-8, 8, size=3000) * 0.25  # F(0.25) = 0
    A, B = 0.23, 0.27
    ne = int(D.count_breakpoints(x, Tp, Tn, A, B))
    assert ne >= D.SWEEP_BLOCK_MIN
    out = np.zeros(6)
    D._sweep_window_fast(x, Tp, Tn, A, B, *_bufs(ne + 64), np.empty(3000), np.empty(3000, np.int32), out)
    assert out[1] <= 1e-28 * float(np.sum(x * x)) and out[2] == 0.0
    assert _F(x, out[0], Tp, Tn) <= 1e-28 * float(np.sum(x * x))
