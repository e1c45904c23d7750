"""Short rows at high bit widths (audit of 2026-12-01, F3): the real-offset data optimum
``optimal_offset_data`` against an independent enumeration of the arrangement of breakpoint lines.

Reference (no code of the package): in ``lam = 1/s``, ``mu = m/s`` the nearest code of ``x_i`` is
``clip(rint(lam x_i - mu), 0, N)``; it changes only on the lines ``mu = lam x_i - k - 1/2``
(``k = 0..N-1``).  Every assignment's least-squares value (min over ``s > 0, m`` in closed form) is an
upper bound of ``min F`` and the assignment at a global minimizer attains it, so ``min F`` is the
minimum over the cells of this arrangement that can hold a point with ``F <= U`` (``U``: any
assignment's value), plus the ``s -> 0`` limit (the sum of squares about the mean, ``S``):

* ``s >= 2 span`` gives ``F >= S`` (``F >= sum (e_i - mean e)^2 = (1/n) sum_{i<j} (e_j - e_i)^2`` with
  ``|e_j - e_i| = |d_ij - k s| >= d_ij`` for every integer ``k``): ``lam >= 1/(2 span)``;
* ``F <= U`` needs every residual ``<= sqrt(U)``: ``x_max <= m + N s + sqrt(U)`` and
  ``x_min >= m - sqrt(U)``, i.e. ``lam (x_max - sqrt U) - N <= mu <= lam (x_min + sqrt U)`` (a convex
  window ``W``, empty for ``lam > N / (span - 2 sqrt U)``).

Each cell meeting ``W`` meets it in a convex set with a ``lam``-extent that contains a whole slab
between consecutive vertices of the arrangement refined by the two window lines, hence the midline of
that slab: enumerating, at every slab's midline, the assignments of the segments between consecutive
breakpoints inside ``W`` visits every such cell.  Vertices: ``lam d_ij = D`` (``D = 1..N``), the
window lines against the code lines, and the window's apex.
"""
import numpy as np
import pytest

from quanttheory.affine.data import optimal_offset_data


def _ls(x, Q):
    """Rows of Q: codes; min over s > 0, m of sum (x - m - q s)^2 (s -> 0: the sum of squares)."""
    xc = x - x.mean()
    Qc = Q - Q.mean(axis=1, keepdims=True)
    vk = (Qc * Qc).sum(axis=1)
    cov = Qc @ xc
    base = float(xc @ xc)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = np.where((vk > 0) & (cov > 0), base - cov * cov / np.where(vk > 0, vk, 1.0), base)
    return val


def arrangement_min(x, bits):
    N = 2**bits - 1
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    span = float(x[-1] - x[0])
    S = float(np.sum((x - x.mean()) ** 2))
    # incumbent U: the min-max grid's assignment
    q0 = np.rint((x - x[0]) / (span / N))[None, :]
    U = max(float(min(S, _ls(x, q0)[0])), 0.0)
    r = np.sqrt(U) * (1 + 1e-9)
    assert span > 2 * r
    lam_lo, lam_hi = 1.0 / (2 * span), N / (span - 2 * r)
    vs = [lam_lo, lam_hi]
    i, j = np.triu_indices(n, 1)
    d = x[j] - x[i]
    D = np.arange(1, N + 1)
    v = (D[None, :] / d[:, None]).ravel()
    vs.append(v)
    k = np.arange(N)[None, :] + 0.5
    # window lines lam (x_max - r) - N and lam (x_min + r) against lam x_i - k - 1/2
    with np.errstate(divide="ignore", invalid="ignore"):
        vs.append(((N - k) / (x[-1] - r - x[:, None])).ravel())
        vs.append((-k / (x[0] + r - x[:, None])).ravel())
    lam = np.concatenate([np.atleast_1d(a) for a in vs])
    lam = np.unique(lam[np.isfinite(lam) & (lam >= lam_lo) & (lam <= lam_hi)])
    best = S
    for a, b in zip(lam[:-1], lam[1:]):
        L = 0.5 * (a + b)
        wl, wh = L * (x[-1] - r) - N, L * (x[0] + r)
        if wl >= wh:
            continue
        bp = (L * x[:, None] - k).ravel()
        bp = np.sort(bp[(bp > wl) & (bp < wh)])
        e = np.concatenate([[wl], bp, [wh]])
        mu = 0.5 * (e[:-1] + e[1:])
        Q = np.clip(np.rint(L * x[None, :] - mu[:, None]), 0, N)
        best = min(best, float(_ls(x, Q).min()))
    return best / n


def _cases():
    out = []
    for bits, ns in ((6, range(2, 21)), (7, range(2, 13)), (8, range(2, 9))):
        for n in ns:
            out.append((bits, n))
    return out


@pytest.mark.parametrize("bits,n", _cases())
def test_short_rows_against_the_arrangement(bits, n):
    rng = np.random.default_rng(1000 * bits + n)
    x = rng.normal(size=n) if n % 2 else rng.laplace(size=n) * 3.0 + 1.0
    ref = arrangement_min(x, bits)
    r = optimal_offset_data(x, bits)
    # both sides are sums of n squares of residuals of size ~ s (rounding ~ n eps of the sum; the
    # reference's closed-form LS loses ~ eps * S to cancellation, S / F ~ 4^bits, hence the absolute term)
    S = float(np.sum((x - x.mean()) ** 2)) / n
    assert r.mse == pytest.approx(ref, rel=1e-9, abs=1e-13 * S)
    xh = np.clip(np.rint((x - r.offset) / r.scale), 0, 2**bits - 1) * r.scale + r.offset
    assert float(np.mean((x - xh) ** 2)) == pytest.approx(r.mse, rel=1e-9, abs=1e-13 * S)


def test_the_reference_can_fail():
    """The reference finds assignments the min-max grid misses: at 6 bits on 9 values it is well below
    the min-max grid's MSE (else the comparison above would be vacuous)."""
    x = np.random.default_rng(6009).normal(size=9)
    N = 63
    span = np.ptp(x)
    grid = np.mean((x - (x.min() + np.rint((x - x.min()) / (span / N)) * span / N)) ** 2)
    assert arrangement_min(x, 6) < 0.7 * grid


def _pair_bound(x, bits, a, b):
    from quanttheory.affine._kernels import offset_pair_bounds

    x = np.sort(np.asarray(x, dtype=float))
    i, j = np.triu_indices(x.size, 1)
    out = np.empty(1)
    offset_pair_bounds(np.ascontiguousarray(x[j] - x[i]), x.size, 2**bits - 1, np.array([a]), np.array([b]), out)
    return float(out[0])


def test_pair_bound_by_hand():
    # two values 1 apart, N = 3, s in [0.4, 0.45]: the multiples 2 s <= 0.9 < 1 < 1.2 <= 3 s, so
    # |e_2 - e_1| >= 0.1 and min_m F = (e_2 - e_1)^2 / 2 = 0.005 (attained at s = 0.45, k = 2)
    assert _pair_bound([0.0, 1.0], 2, 0.4, 0.45) == pytest.approx(0.005, rel=1e-12)
    # an interval holding s = 1/2 (2 s = 1) or s = 1/3 (3 s = 1): no bound
    assert _pair_bound([0.0, 1.0], 2, 0.45, 0.55) == 0.0
    assert _pair_bound([0.0, 1.0], 2, 0.3, 0.34) == 0.0
    # beyond N s: s in [0.2, 0.25], 3 s <= 0.75: e_2 - e_1 >= 0.25 -> 0.25^2 / 2
    assert _pair_bound([0.0, 1.0], 2, 0.2, 0.25) == pytest.approx(0.03125, rel=1e-12)
    # s from 0: some s <= b has N s = d
    assert _pair_bound([0.0, 1.0], 2, 0.0, 0.4) == 0.0
    # three values 0, 1, 3 at N = 3, s in [0.9, 0.95]: d = 1 (k = 1: 0.05), 2 (k = 2: 0.1), 3 (k = 3: 0.15)
    assert _pair_bound([0.0, 1.0, 3.0], 2, 0.9, 0.95) == pytest.approx((0.05**2 + 0.1**2 + 0.15**2) / 3, rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_pair_bound_is_below_F_on_the_interval(seed):
    """The bound never exceeds F at any (s, m) with s in the interval (dense grid plus random points)."""
    rng = np.random.default_rng(seed)
    bits = int(rng.integers(2, 7))
    N = 2**bits - 1
    x = np.sort(rng.normal(size=int(rng.integers(2, 12))))
    s0 = np.ptp(x) / N
    pos = 0
    for _ in range(20):
        a = s0 * rng.uniform(0.2, 2.5)
        b = a * (1 + rng.uniform(0, 0.05))
        lb = _pair_bound(x, bits, a, b)
        s = np.concatenate([np.linspace(a, b, 41), rng.uniform(a, b, 40)])
        m = np.linspace(x.min() - N * b, x.max() + b, 4001)
        q = np.clip(np.rint((x[None, None, :] - m[None, :, None]) / s[:, None, None]), 0, N)
        F = np.sum((x[None, None, :] - m[None, :, None] - q * s[:, None, None]) ** 2, axis=2)
        assert lb <= F.min() * (1 + 1e-12)
        pos += lb > 0.05 * F.min()
    assert pos >= 1  # not vacuous: the comparison can fail
