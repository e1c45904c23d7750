"""Zero-point dominance inside a box of the fused per-row kernel (``quanttheory.affine._rows._dominance``, session of
2026-11-30, issue 16): ``F_{z+1}(s) - F_z(s) = 2 s g_z(s)`` with ``g_z(s) = U(s (N - z - 1/2)) - Lam(-s (z + 1/2))``,
checked against the MSE of the quantizer itself (``affine_fake_quantize``), and the zero-points it removes from a
box never beat the ones it keeps at any scale of a dense scan (independent NumPy code, no kernel arithmetic)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quanttheory.affine import affine_fake_quantize


def _sse(x, s, z, bits):
    return float(np.sum((x - affine_fake_quantize(x, s, z, bits)) ** 2))


def _U(x, a):
    return float(np.maximum(x - a, 0.0).sum())


def _ends(x, N, s):
    """U((k + 1/2) s) for k = -N..N-1 at index k + N, in NumPy (the kernel's cache layout)."""
    return np.array([_U(x, (k + 0.5) * s) for k in range(-N, N)])


def _dom(x, bits, s1, s2, zlo=0, zhi=None):
    from quanttheory.affine._rows import _dominance

    N = 2**bits - 1
    zhi = N if zhi is None else zhi
    mg = 1e-12 * (np.abs(x).sum() + x.size * N * s2)  # the kernel's allowance is of this order
    return _dominance(_ends(x, N, s1), _ends(x, N, s2), N, float(x.size), float(x.sum()), s1, s2, zlo, zhi, mg)


def test_identity_against_the_quantizer():
    """F_{z+1}(s) - F_z(s) = 2 s (U(s (N - z - 1/2)) - Lam(-s (z + 1/2))), Lam(c) = sum (c - x)_+, to 1e-9 of the
    sum of squares (float64 sums of 300 terms: rounding ~1e-13; the tolerance is loose on purpose)."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.laplace(0.7, 1.0, 250), rng.normal(-2.0, 0.3, 50)])
    for bits in (2, 3, 4):
        N = 2**bits - 1
        for s in (0.05, 0.31, 0.9, 2.2):
            for z in range(N):
                lam = float(np.maximum(-s * (z + 0.5) - x, 0.0).sum())
                g = _U(x, s * (N - z - 0.5)) - lam
                d = _sse(x, s, z + 1, bits) - _sse(x, s, z, bits)
                assert d == pytest.approx(2 * s * g, rel=0, abs=1e-9 * float(np.sum(x * x)))


def test_hand_derived_non_negative_row_keeps_only_z0():
    """x = (0, 1, 2, 3), 2 bits, s in [0.9, 1.1]: g_0(s) = U(2.5 s) - Lam(-s/2) = (3 - 2.5 s) - 0 >= 0.25 > 0, so
    every z >= 1 is worse than z = 0 on the whole box (F_1 - F_0 = 2 s (3 - 2.5 s), e.g. 1.0 at s = 1); the mirror
    row (0, -1, -2, -3) keeps only z = N = 3."""
    x = np.array([0.0, 1.0, 2.0, 3.0])
    assert _dom(x, 2, 0.9, 1.1) == (0, 0)
    assert _sse(x, 1.0, 1, 2) - _sse(x, 1.0, 0, 2) == pytest.approx(1.0, abs=1e-15)
    assert _dom(-x, 2, 0.9, 1.1) == (3, 3)


def test_hand_derived_symmetric_row_keeps_the_middle_pair():
    """x = (-3, -1, 1, 3), 2 bits (N = 3), s in [0.95, 1.05]: g_z(s) = (3 - (2.5 - z) s)_+ + (1 - (2.5 - z) s)_+
    - (3 - (z + 0.5) s)_+ - (1 - (z + 0.5) s)_+.  g_0 = (3 - 2.5 s) - 0 - (3 - s/2) - (1 - s/2) = -1 - s < 0 (z = 0
    is beaten by z = 1); g_1 = (3 - 1.5 s) - (3 - 1.5 s) = 0 (z = 1 and z = 2 tie: mirror grids); g_2 = -g_0 > 0
    (z = 3 is beaten by z = 2).  Kept: z = 1..2."""
    x = np.array([-3.0, -1.0, 1.0, 3.0])
    assert _dom(x, 2, 0.95, 1.05) == (1, 2)
    for s in (0.95, 1.0, 1.05):
        f = [_sse(x, s, z, 2) for z in range(4)]
        assert f[1] == pytest.approx(f[2], abs=1e-12) and f[0] > f[1] and f[3] > f[2]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([2, 3, 4]), st.floats(0.02, 0.6), st.floats(1e-4, 0.5))
def test_removed_zero_points_never_beat_the_kept_ones(seed, bits, srel, wrel):
    """Skewed / shifted / bimodal rows and random boxes: at 201 scales of the box (ends included) the best kept
    zero-point's MSE is <= every removed one's (directly summed MSE of the quantizer; a removed z may only tie within
    1e-12 relative, the rounding of the direct sums)."""
    rng = np.random.default_rng(seed)
    kind = seed % 3
    n = 40
    if kind == 0:
        x = rng.laplace(rng.uniform(-1, 1), 1.0, n)
    elif kind == 1:
        x = np.abs(rng.normal(0, 1, n)) + rng.uniform(-0.3, 0.3)
    else:
        x = np.concatenate([rng.normal(-2, 0.4, n // 2), rng.normal(1, 0.2, n - n // 2)])
    N = 2**bits - 1
    s1 = srel * float(x.max() - x.min())
    s2 = s1 * (1.0 + wrel)
    zL, zH = _dom(x, bits, s1, s2)
    assert 0 <= zL <= zH <= N
    for s in np.linspace(s1, s2, 201):
        f = np.array([_sse(x, s, z, bits) for z in range(N + 1)])
        kept = f[zL:zH + 1].min()
        assert np.all(f >= kept * (1 - 1e-12))
