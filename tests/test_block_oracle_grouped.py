"""Grouped cells in the 4over6 / oracle series kernel (docs/blocks.md §2f, "Grouped cells", issue 14 item 6).

Cells whose phases ``a z + b`` are exactly equal at both ends (same slope, same side, same saturation flags)
share one phasor per end: the kernel's ``E|S|`` and rates with ``group=True`` must agree with the cell-by-cell
sums (``group=False``, the previous kernel) within the two error bounds, and ``noalias`` (``L = k max|d|``,
no Chernoff search) must agree with the searched ``L`` within the bounds.  The oracle expectation with
``group`` / ``noalias`` must agree with the cell-by-cell one within the summed bounds; Monte Carlo checks of
the same values (compiled ``oracle_scales`` on sampled blocks, 3 standard errors) are in
``test_block_oracle_exact.py`` / ``test_block_oracle_rates.py`` and run with the defaults (grouped).
"""

from __future__ import annotations

import numpy as np
import pytest

from quanttheory.blocks import get_block_format
from quanttheory.blocks._expect_46 import telescoped_stats
from quanttheory.blocks._expect_46_kernels import _affine_exact
from quanttheory.blocks.expectation_oracle import block_mse_oracle
from quanttheory.laws import Laplace, Normal


def test_affine_exact():
    # dyadic values: a z + b exactly representable
    assert _affine_exact(1.0 / 64, 3.0 / 256, -1.0 / 16384) == (1.0 / 64 * 3.0 / 256 - 1.0 / 16384, True)
    assert _affine_exact(0.5, 0.25, 0.125)[1]
    # 0.1 * 3 is not exact; neither is 1e16 + 1 (the sum rounds)
    assert not _affine_exact(0.1, 3.0, 0.0)[1]
    assert not _affine_exact(1.0, 1e16, 1.0)[1]
    # product exact, sum exact with cancellation
    assert _affine_exact(2.0 ** -7, 3.0, -3.0 * 2.0 ** -7) == (0.0, True)


@pytest.mark.parametrize("law,loc,scale", [(0, 0.0, 1.0), (1, 0.0, 1.0), (1, 0.3, 0.7)])
@pytest.mark.parametrize("k", [2, 8])
def test_grouped_kernel_against_cell_by_cell(law, loc, scale, k):
    # MXINT8 pairs (X0, X0/2) at r = 1.0098 (the fine candidate's expensive ends) and (X0, 2 X0) at r = 1.99
    fmt = get_block_format("mxint8", block=k).fmt
    X0 = np.array([0.25, 1.0, 2.0, 4.0, 0.5, 1.0])
    Xj = np.array([0.125, 0.5, 1.0, 2.0, 1.0, 2.0])
    ms = X0 * np.array([1.0097656, 1.0097656, 1.0215, 1.0215, 1.9921875, 1.99])
    needs = np.ones((ms.size, 3), bool)
    kw = dict(needs=needs, eps_p=1e-9, eps_nu=1e-9)
    eps = 1e-12 * X0 ** 2
    a = telescoped_stats(law, loc, scale, fmt, ms, X0, Xj, k, eps, group=False, **kw)
    b = telescoped_stats(law, loc, scale, fmt, ms, X0, Xj, k, eps, group=True, **kw)
    c = telescoped_stats(law, loc, scale, fmt, ms, X0, Xj, k, eps, group=True, noalias=np.ones(ms.size, bool), **kw)
    for r in (b, c):
        assert np.all(np.abs(r.abs_S - a.abs_S) <= r.err_abs + a.err_abs)
        for f in ("P_pos", "nu6_le", "nu4_pos"):
            assert np.all(np.abs(getattr(r, f) - getattr(a, f)) <= r.err_p + a.err_p + r.err_nu + a.err_nu)
    # the grouped sums are not the same numbers (other summation order), but close: rounding, not a bug
    assert np.all(np.abs(b.abs_S - a.abs_S) <= 1e-12 * np.abs(a.abs_S))
    assert np.array_equal(a.harmonics, b.harmonics)


def test_ungrouped_is_the_previous_kernel():
    # group=False must be the previous cell-by-cell kernel: NVFP4 / E2M1 pairs (no groups there) give the
    # same harmonics and values with either flag (no two cells with exactly equal phase data)
    fmt = get_block_format("nvfp4").fmt
    ms = np.array([2.5, 5.9, 11.0])
    X6 = ms / 6
    X4 = ms / 4
    a = telescoped_stats(0, 0.0, 1.0, fmt, ms, X6, X4, 16, 1e-12)
    b = telescoped_stats(0, 0.0, 1.0, fmt, ms, X6, X4, 16, 1e-12, group=True)
    assert np.array_equal(a.harmonics, b.harmonics)
    assert np.all(np.abs(a.abs_S - b.abs_S) <= a.err_abs + b.err_abs)


@pytest.mark.parametrize("law", [Normal(), Laplace(0, 1)])
@pytest.mark.parametrize("k", [2, 8])
def test_oracle_grouped_against_cell_by_cell(law, k):
    # ~0.2-0.9 s per ungrouped call
    g, Rg = block_mse_oracle(law, "mxint8", block=k, full=True)
    u, Ru = block_mse_oracle(law, "mxint8", block=k, full=True, group=False)
    assert abs(g.mse - u.mse) <= g.error_estimate + u.error_estimate
    assert abs(Rg.saturation - Ru.saturation) <= Rg.error + Ru.error
    assert g.error_estimate <= 1e-9 * g.mse and Rg.error <= 1e-9


# --- approximate groups (shifted / rescaled laws, 2026-12-01, docs/blocks.md §2f "Grouped cells with a phase gap")

def test_affine_dd_and_phase_gap_bound_the_exact_values():
    # (s, r) with |a z + b - s| <= r for the real a z + b (exact rationals), r = 0 iff exact; the gap of two
    # such phases bounds the exact difference, and is 0 only for exactly equal exact phases
    from fractions import Fraction as F

    from quanttheory.blocks._expect_46_kernels import _affine_dd, _phase_gap

    assert _affine_dd(1.0 / 64, 3.0 / 256, -1.0 / 16384) == (1.0 / 64 * 3.0 / 256 - 1.0 / 16384, 0.0)
    rng = np.random.default_rng(7)
    for _ in range(2000):
        a, z, b = rng.normal(size=3) * 10.0 ** rng.integers(-4, 3, size=3)
        s, r = _affine_dd(a, z, b)
        ex = F(a) * F(z) + F(b)
        assert abs(ex - F(s)) <= F(r)
        assert (r == 0.0) == (ex == F(s))
        # a second phase close to the first: z moved by a few ulps (as (x - loc) / scale rounded)
        z2 = z + rng.integers(-4, 5) * np.spacing(z)
        s2, r2 = _affine_dd(a, z2, b)
        ex2 = F(a) * F(z2) + F(b)
        g = _phase_gap(s, r, s2, r2)
        assert abs(ex - ex2) <= F(g)
        if g == 0.0:
            assert ex == ex2


@pytest.mark.parametrize("law,loc,scale", [(0, 0.0, 1.7), (0, -0.4, 1.3), (1, 0.5, 2.0), (1, 0.3, 1.0)])
@pytest.mark.parametrize("k", [2, 8])
def test_grouped_kernel_shifted_against_cell_by_cell(law, loc, scale, k):
    # shifted / rescaled laws: the cells' phases differ by a few roundings; groups with a phase gap against the
    # cell-by-cell kernel, within the two bounds (MXINT8 pairs at the expensive ends, in units of the law)
    fmt = get_block_format("mxint8", block=k).fmt
    X0 = scale * np.array([0.25, 1.0, 2.0, 4.0, 0.5, 1.0])
    Xj = scale * np.array([0.125, 0.5, 1.0, 2.0, 1.0, 2.0])
    # (scale times a power of 2 is not a power of 2 unless scale is: round X0 down to one)
    X0 = 2.0 ** np.floor(np.log2(X0))
    Xj = 2.0 ** np.floor(np.log2(Xj))
    ms = X0 * np.array([1.0097656, 1.0097656, 1.0215, 1.0215, 1.9921875, 1.99])
    needs = np.ones((ms.size, 3), bool)
    kw = dict(needs=needs, eps_p=1e-9, eps_nu=1e-9)
    eps = 1e-12 * X0 ** 2
    a = telescoped_stats(law, loc, scale, fmt, ms, X0, Xj, k, eps, group=False, **kw)
    b = telescoped_stats(law, loc, scale, fmt, ms, X0, Xj, k, eps, group=True, **kw)
    assert np.all(np.abs(b.abs_S - a.abs_S) <= b.err_abs + a.err_abs)
    for f in ("P_pos", "nu6_le", "nu4_pos"):
        assert np.all(np.abs(getattr(b, f) - getattr(a, f)) <= b.err_p + a.err_p + b.err_nu + a.err_nu)
    assert np.all(np.abs(b.abs_S - a.abs_S) <= 1e-12 * np.abs(a.abs_S))
    # the phase gaps' terms keep the bound where it was (they replace each cell's own phasor rounding)
    assert np.all(b.err_abs <= 1.5 * a.err_abs)


@pytest.mark.parametrize("law", [Normal(0, 1.7), Laplace(0.3, 0.7), Normal(-0.4, 1.3)])
@pytest.mark.parametrize("k", [2, 8])
def test_oracle_shifted_grouped_against_cell_by_cell(law, k):
    # the independent reference at the same accuracy: the cell-by-cell series (the kernel before any grouping)
    g, Rg = block_mse_oracle(law, "mxint8", block=k, full=True)
    u, Ru = block_mse_oracle(law, "mxint8", block=k, full=True, group=False)
    assert abs(g.mse - u.mse) <= g.error_estimate + u.error_estimate
    assert abs(Rg.saturation - Ru.saturation) <= Rg.error + Ru.error
    assert g.error_estimate <= 1e-9 * g.mse and Rg.error <= 1e-9


def _simulate_mxint8_oracle(law, k, n, seed):
    """Direct simulation of the MXINT8 oracle rule from its definition, written here (no package quantizer, no
    ``oracle_scales``): per block the E8M0 scale 2^t X0, X0 = 2^floor(log2 M) (r = M / X0 in [1, 2): emax = 0),
    |t| <= 4 (the candidates -1, 0, 1 are proven; the others checked here as well), with the least block SSE,
    ties to the smaller scale; elements rounded to the nearest level of {-128, ..., 127} / 64 times the scale
    (round half to even, then clipped: the nearest level of the finite set).  Returns the per-element MSE and
    saturation (elements beyond [-2, 127/64] times the chosen scale), each as (mean, standard error) over
    the iid blocks."""
    rng = np.random.default_rng(seed)
    ts = np.arange(-4, 5)
    vals = []
    sats = []
    per = (1 << 20) // k
    done = 0
    while done < n // k:
        nb = min(per, n // k - done)
        x = np.asarray(law.sample(rng, nb * k), float).reshape(nb, k)
        M = np.abs(x).max(axis=1)
        X0 = np.exp2(np.floor(np.log2(M)))
        best = np.full(nb, np.inf)
        sat = np.zeros(nb)
        for t in ts:                       # ascending: a strict < keeps the smaller scale on ties
            X = np.ldexp(X0, int(t))[:, None]
            u = x / X
            q = np.clip(np.rint(u * 64.0), -128.0, 127.0) / 64.0
            sse = ((u - q) ** 2 * X ** 2).sum(axis=1)
            c = ((u > 127.0 / 64.0) | (u < -2.0)).mean(axis=1)
            win = sse < best
            best = np.where(win, sse, best)
            sat = np.where(win, c, sat)
        vals.append(best / k)
        sats.append(sat)
        done += nb
    v = np.concatenate(vals)
    s = np.concatenate(sats)
    return ((v.mean(), v.std() / np.sqrt(v.size)), (s.mean(), s.std() / np.sqrt(s.size)))


@pytest.mark.parametrize("law,k,seed", [(Normal(0, 1.7), 2, 101), (Laplace(0.3, 1.0), 8, 102)])
def test_oracle_shifted_against_direct_simulation(law, k, seed):
    # a rescaled and a shifted law (both group with phase gaps) against the simulation above, 1e7 elements,
    # within 3 standard errors (~1.5e-3 relative for the MSE: checks the value and the formula; the 1e-9
    # accuracy is checked against the cell-by-cell series above)
    r, R = block_mse_oracle(law, "mxint8", block=k, full=True)
    (m, se), (sm, sse) = _simulate_mxint8_oracle(law, k, 10_000_000, seed)
    assert abs(m - r.mse) <= 3 * se, (m, se, r.mse)
    assert abs(sm - R.saturation) <= 3 * sse, (sm, sse, R.saturation)
    # the test can tell the oracle from the floor rule (X0 for every block)
    from quanttheory.blocks.expectation import block_mse

    fl = block_mse(law, "mxint8", "floor", block=k)
    assert abs(m - fl.mse) > 5 * se


@pytest.mark.parametrize("law,loc,scale", [(1, 0.3, 0.7), (0, -0.4, 1.3)])
def test_forced_groups_bound_covers_the_error(law, loc, scale, monkeypatch):
    # adversarial: with GTOL = 1e14 (phase gaps up to ~2% of the phase scale) cells with genuinely different
    # phases are grouped; the value moves by far more than rounding, and the bound (gap terms) must still cover
    # it.  The kernel's Python function (``py_func``) reads GTOL at run time; the cell-by-cell reference is the
    # compiled kernel, called before GTOL is changed (the compiled code keeps the module's value).
    import quanttheory.blocks._expect_46_kernels as K
    from quanttheory.blocks._expect_46 import _gl_table

    fmt = get_block_format("mxint8", block=8).fmt
    lv = np.ascontiguousarray(fmt.levels, float)
    md = np.ascontiguousarray(fmt.midpoints, float)
    Z, W = _gl_table()
    args = (law, loc, scale, lv, md, 1.99 * 0.5, 0.5, 1.0, 8, 1e-12 * 0.25, True, True, True, 1e-9, 1e-9, Z, W)
    ref = np.zeros(K.NOUT)
    K._endpoint(*args, ref, False, False, True)
    monkeypatch.setattr(K, "GTOL", 1e14)
    g = np.zeros(K.NOUT)
    K._endpoint.py_func(*args, g, False, True, True)
    d = abs(g[0] - ref[0])
    assert d <= g[1] + ref[1]
    assert d > 1e3 * ref[1]          # the forced groups did change the value
    for i in (8, 9, 10):
        assert abs(g[i] - ref[i]) <= g[11] + ref[11] + g[12] + ref[12]
