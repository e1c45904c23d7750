"""The joint interval lower bound of the data histogram (issue 20) against exact MSE values.

:func:`quanttheory.risk._kernels.data.interval_lower_bounds_joint` must be a rigorous lower bound
of ``n MSE(s)`` on ``[s1, s2]``: it is compared with the exact ``n MSE`` (``mse_sums``, the
library's rounding) at a dense set of scales that includes every breakpoint in the interval and
its floating-point neighbours, i.e. with the minimum over the interval (``n MSE`` is a quadratic
between breakpoints, so the dense set plus the closed-form minimum of each piece would be the
exact minimum; the dense set gives an upper bound of it, which is all a lower bound needs).
Tolerance 1e-12 relative: the bound subtracts its own rounding bound, the reference is a sum of
<= 3000 squares (relative error < 1e-12).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from quanttheory import Grid
from quanttheory.laws.atoms import scan
from quanttheory.risk._kernels import data as K
from quanttheory.risk.data import _tops, mse_sums
from quanttheory.risk.data_search import _Hist


def _bounds(x, g, s1, s2):
    Tp, Tn = _tops(g)
    bits = int(np.ceil(np.log2(max(Tp, Tn) + 1))) + 1
    H = _Hist(x, scan(x), bits)
    s1, s2 = np.atleast_1d(np.asarray(s1, float)), np.atleast_1d(np.asarray(s2, float))
    return H.interval_lb(s1, s2, Tp, Tn), H.interval_lb_joint(s1, s2, Tp, Tn)


def _min_on(x, g, a, b, m=301):
    Tp, Tn = _tops(g)
    v = np.abs(x.astype(np.float64))
    T = np.where(x >= 0, Tp, Tn)
    k = np.arange(1, max(Tp, Tn, 1) + 1)
    bp = (v[:, None] / (k[None, :] - 0.5))[k[None, :] <= T[:, None]]
    bp = bp[(bp >= a) & (bp <= b)]
    ss = np.concatenate([np.linspace(a, b, m), bp, np.nextafter(bp, 0), np.nextafter(bp, np.inf)])
    ss = ss[(ss >= a) & (ss <= b)]
    return float(mse_sums(x, ss, g).min())


def test_hand_example_joint_is_exact():
    # x = {1, 2.2}, Grid(3) (T = 3), s in [0.95, 1.05]: 1/s in [0.952, 1.053] -> index 1 and
    # 2.2/s in [2.095, 2.316] -> index 2 at every s, so n MSE(s) = (1 - s)^2 + (2.2 - 2 s)^2
    # = 5 s^2 - 10.8 s + 5.84, decreasing up to s = 1.08: the minimum on the interval is at
    # s = 1.05: 0.05^2 + 0.1^2 = 0.0125.  The per-point bound only gets 0 + 0.1^2 = 0.01.
    x = np.array([1.0, 2.2])
    old, joint = _bounds(x, Grid(3), 0.95, 1.05)
    assert old[0] == pytest.approx(0.01, rel=1e-9)
    assert joint[0] == pytest.approx(0.0125, rel=1e-9)
    assert joint[0] <= 0.0125 * (1 + 1e-12)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("kind", range(3))
def test_joint_bound_below_exact_minimum(dt, kind):
    rng = np.random.default_rng(40 + kind + 7 * (dt == np.float32))
    for _ in range(6):
        bits = int(rng.integers(1, 10))
        g = Grid(bits, bool(rng.integers(0, 2)))
        n = int(rng.integers(5, 2000))
        x = (rng.standard_normal(n), rng.standard_t(2, n), np.round(rng.uniform(-5, 5, n), 1))[kind].astype(dt)
        Tp, Tn = _tops(g)
        s_ref = 4 * float(np.std(x.astype(np.float64))) / max(Tp, 1)
        w = 10 ** rng.uniform(-5, -1, 12)
        s1 = s_ref * 10 ** rng.uniform(-0.5, 0.5, 12)
        s2 = s1 * (1 + w)
        old, joint = _bounds(x, g, s1, s2)
        for i in range(s1.size):
            ref = _min_on(x, g, s1[i], s2[i])
            assert joint[i] <= ref * (1 + 1e-12) + 1e-300
            assert old[i] <= ref * (1 + 1e-12) + 1e-300


@settings(max_examples=40, deadline=None)
@given(xs=st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=20),
       bits=st.integers(1, 8), signed=st.booleans(), lo=st.floats(0.01, 10), w=st.floats(1e-6, 0.3))
def test_property_joint_bound(xs, bits, signed, lo, w):
    x = np.array(xs)
    if not np.any(x != 0):
        return
    g = Grid(bits, signed)
    _, joint = _bounds(x, g, lo, lo * (1 + w))
    assert joint[0] <= _min_on(x, g, lo, lo * (1 + w)) * (1 + 1e-12) + 1e-300
