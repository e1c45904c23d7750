"""Audit of 2026-12-01 (docs/audit.md findings 26-28): subnormal values next to O(1) data in the format
data engine (per channel: a false certificate; per tensor: OverflowError), and the real-offset engine's
lower bound at the rounding level (large mean, tiny spread).  Expected answers from an exact Fraction
brute force written here (independent of the engines)."""
import bisect
import itertools
from fractions import Fraction as Fr

import numpy as np
import pytest

from quanttheory import optimal_scale_format_data
from quanttheory.affine import optimal_offset_data



def _levels(name):
    from quanttheory.formats import as_format

    return [Fr(float(v)) for v in as_format(name).levels]


def fmt_bf(x, lv):
    """Exact min over s > 0 of sum (x - s q(x/s))^2 / n, q = nearest level: on every piece between
    breakpoints x_i / midpoint_j the assignment is fixed and SSE a quadratic in s; its vertex clamped
    into the (closed) piece, and every breakpoint, are the candidates (SSE is continuous in s)."""
    xs = [Fr(float(v)) for v in x]
    n = len(xs)
    mids = [(a + b) / 2 for a, b in zip(lv[:-1], lv[1:])]
    bps = sorted({v / m for v in xs for m in mids if m != 0 and v / m > 0})

    def assign(t):
        return [lv[bisect.bisect_left(mids, v / t)] for v in xs]

    def sse(s, cs):
        return sum((v - s * c) ** 2 for v, c in zip(xs, cs))

    best = None
    edges = [Fr(0)] + bps + [None]
    for a, b in zip(edges[:-1], edges[1:]):
        t = (a + b) / 2 if b is not None else (2 * a if a > 0 else Fr(1))
        if b is not None and a == 0:
            t = b / 2
        cs = assign(t)
        den = sum(c * c for c in cs)
        s = sum(v * c for v, c in zip(xs, cs)) / den if den else t
        if s < a:
            s = a
        if b is not None and s > b:
            s = b
        if s <= 0:
            s = t if b is None else b / 2  # infimum at 0+: a value of the piece is an upper bound; 0+ handled below
        val = sse(s, cs)
        best = val if best is None or val < best else best
    # s -> 0+: every value clips to 0 or the nearest level of 0's sign -- the limit is sum x^2 if 0 is a level
    if Fr(0) in lv:
        best = min(best, sum(v * v for v in xs))
    return best / n


SUB_ROWS = [[1.0, 1e-310, -3.0, 0.7], [0.5, 0.2, -0.1, 2.0], [2.0, 2.5e-320, 0.3, -0.6],
            [-1e-309, 1.5, 0.25, 0.9]]


@pytest.mark.parametrize("fmt", ["e2m1", "nf4", "int4n", "e4m3", "uint4"])
def test_subnormal_channel_exact(fmt):
    lv = _levels(fmt)
    x = np.array(SUB_ROWS)
    r = optimal_scale_format_data(x, fmt, axis=0)
    for i, row in enumerate(SUB_ROWS):
        ex = fmt_bf(row, lv)
        # absolute tolerance: each computed residual x - s c is off by ~1 ulp of |x|, so an (almost)
        # exact fit (e4m3: exact MSE ~1e-34) shows as ~eps^2 mean x^2 (the same without the subnormal)
        assert r.mse[i] == pytest.approx(float(ex), rel=1e-12, abs=64 * 2.0**-104 * np.mean(np.square(row)))
        # the certificate may not exceed the exact minimum (finding 26: it was 1400x above for e2m1)
        assert Fr(float(r.risk_lower_bound[i] / np.pi**2)) <= ex * (1 + Fr(1, 10**14)) + Fr(1, 10**300)
    if fmt == "e2m1":  # the audit's hand-checked number
        assert r.mse[0] == pytest.approx(0.000591715976331, rel=1e-9)
        assert r.scale[0] == pytest.approx(0.49822485, rel=1e-7)


@pytest.mark.parametrize("fmt", ["e2m1", "nf4", "int4n", "e4m3", "uint4"])
@pytest.mark.parametrize("row", [[1.0, 1e-310], [2.0, 1.1e-308], [1.0, 5e-324], [1.0, 1e-310, -3.0, 0.7],
                                 [-1e-309, 1.5, 0.25, 0.9]])
def test_subnormal_tensor_no_overflow(fmt, row):
    # finding 27: OverflowError (log2 of an infinite bracket ratio); now the exact answer
    r = optimal_scale_format_data(np.array(row), fmt)
    ex = fmt_bf(row, _levels(fmt))
    assert r.mse == pytest.approx(float(ex), rel=1e-12, abs=64 * 2.0**-104 * np.mean(np.square(row)))
    assert Fr(float(r.risk_lower_bound / np.pi**2)) <= ex * (1 + Fr(1, 10**14)) + Fr(1, 10**300)


def off_bf(x, bits):
    """Exact min over s > 0, real m of sum (x - m - k s)^2 / n: least squares over every non-decreasing
    code assignment of the sorted data (the nearest assignment of any (s, m) is one of them)."""
    N = 2**bits - 1
    xs = sorted(Fr(float(v)) for v in x)
    n = len(xs)
    mx = sum(xs) / n
    base = sum((v - mx) ** 2 for v in xs)
    best = base
    for ks in itertools.combinations_with_replacement(range(N + 1), n):
        mk = Fr(sum(ks), n)
        vk = sum((k - mk) ** 2 for k in ks)
        cov = sum((k - mk) * (v - mx) for k, v in zip(ks, xs))
        if vk > 0 and cov > 0:
            best = min(best, base - cov * cov / vk)
    return best / n


@pytest.mark.parametrize("x,bits", [([24.25360158095183, 24.234770687527504, 24.19713017185052], 2),
                                    ([3.98431035931902, 4.226982894025065, 3.660233692747248], 3),
                                    ([1e6 + 0.125, 1e6 + 0.25, 1e6 + 0.3, 1e6 + 0.5], 2)])
def test_offset_lower_bound_rounding(x, bits):
    # finding 28: the lower bound was 6.5e-13 (2.1e-13) relative above the exact minimum
    r = optimal_offset_data(np.array(x), bits)
    ex = off_bf(x, bits)
    assert Fr(float(r.mse_lower_bound)) <= ex
    assert r.mse == pytest.approx(float(ex), rel=1e-9, abs=1e-30)
    assert float(r.mse_lower_bound) >= float(ex) * (1 - 1e-6) - 1e-30  # still a tight certificate
