"""The window sweep's buffer guard (risk/_kernels/direct.py ``_sweep_window``): buffers sized from
an estimate (the bucketed window sizes them from its bucket counts, without a counting pass) that
are too small make the sweep report the number needed instead of writing past them; with enough
room the result is that of :func:`exact_window` (buffers sized by an exact count), and both equal
a brute force over every breakpoint of the window."""

import numpy as np

from quanttheory import Grid
from quanttheory.risk._kernels.direct import _sweep_window, count_breakpoints, exact_window


def _F(x, s, Tp, Tn):
    v = np.abs(x)
    T = np.where(x >= 0, Tp, Tn)
    k = np.minimum(np.rint(v / s), T)
    return float(np.sum((v - k * s) ** 2))


def _brute(x, Tp, Tn, A, B):
    """min of F over [A, B]: F is piecewise quadratic between breakpoints v / (k + 1/2); every
    piece's minimum is at an end or at its vertex sum(k v) / sum(k^2) (k fixed on the piece)."""
    v = np.abs(x)
    T = np.where(x >= 0, Tp, Tn)
    bps = [vi / (k + 0.5) for vi, ti in zip(v, T) for k in range(int(ti))]
    e = np.unique(np.clip([A, B] + [b for b in bps if A < b < B], A, B))
    best = min(_F(x, s, Tp, Tn) for s in e)
    for a, b in zip(e[:-1], e[1:]):
        m = 0.5 * (a + b)
        k = np.minimum(np.rint(v / m), T)
        if np.sum(k * k) > 0:
            sv = float(np.sum(k * v) / np.sum(k * k))
            if a < sv < b:
                best = min(best, _F(x, sv, Tp, Tn))
    return best


def _bufs(cap):
    return (np.empty(cap), np.empty(cap), np.empty(cap), np.empty(cap + 1), np.empty(cap + 1),
            np.empty(cap + 1))


def test_sweep_reports_too_small_buffers_then_matches_exact_window():
    rng = np.random.default_rng(7)
    for bits, n in ((2, 300), (4, 400), (8, 120)):
        g = Grid(bits)
        Tp, Tn = int(g.r_t), int(-g.r_b)
        x = rng.normal(size=n)
        sc = np.max(np.abs(x)) / max(Tp, Tn)
        A, B = 0.4 * sc, 0.9 * sc
        ne = int(count_breakpoints(x, Tp, Tn, A, B))
        assert ne > 20
        out = np.zeros(6)
        _sweep_window(x, Tp, Tn, A, B, *_bufs(ne // 2), out)
        assert out[5] == -1.0 and out[4] == ne
        out = np.zeros(6)
        _sweep_window(x, Tp, Tn, A, B, *_bufs(ne), out)
        ref = np.zeros(8)
        exact_window(x, Tp, Tn, A, B, ne, ref)
        assert out[5] == 0.0 and out[4] == ne
        assert np.array_equal(out[:5], ref[:5])
        # the sweep's F is the direct sum at its scale; the brute force over the same window
        # differs only by summation order (relative 1e-12 is ~1e4 times that rounding)
        F_bf = _brute(x, Tp, Tn, A, B)
        assert abs(out[1] - F_bf) <= 1e-12 * F_bf
        assert abs(_F(x, out[0], Tp, Tn) - out[1]) <= 1e-12 * out[1]
        assert out[2] <= F_bf * (1 + 1e-12)
