"""Hypothesis strategies and assertions to property-test your own regularizer.

``hypothesis`` is a test extra (``pip install 'quanttheory[test]'``); it is
imported lazily, so the assertion helpers work without it, and the strategies
raise a clear ``ImportError`` if it is missing.

Example (see ``docs/sqr.md``)::

    from hypothesis import given
    from quanttheory import testing as qt

    def my_phi(u, r_b, r_t): ...          # grid units

    @given(qt.grids_and_points())
    def test_my_phi_equivalence(case):
        grid, u = case
        qt.assert_equivalence(my_phi, grid, u, a=0.5, b_prime=1.0)

    @given(qt.grids_and_vectors(), qt.scales())
    def test_my_phi_theorem1(case, s):
        grid, u = case
        qt.assert_theorem1(my_phi, grid, u * s, s, a=0.5, b_prime=1.0)

All points are in grid units ``u = x / s``; ``phi`` may be a callable
``phi(u, r_b, r_t)``, a :class:`~quanttheory.formats.regularizers.Regularizer` or a name.
"""

from __future__ import annotations

import math

import numpy as np

from .formats.grid import Grid, as_grid

__all__ = [
    "grids", "points", "grids_and_points", "grids_and_pairs", "grids_and_vectors", "scales",
    "assert_equivalence", "assert_order_preserving", "assert_periodic", "assert_even",
    "assert_prop2", "assert_theorem1",
]


def _st():
    try:
        from hypothesis import strategies as st
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("quanttheory.testing strategies need hypothesis: pip install 'quanttheory[test]' "
                          "(or pip install hypothesis)") from exc
    return st


_CACHE: dict = {}


def _phi(phi):
    """Resolve once per callable: wrapping a plain function may try a numba compile (slow)."""
    from .sqr import _resolve

    try:
        return _CACHE[phi]
    except (KeyError, TypeError):
        pass
    reg = _resolve(phi)
    try:
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[phi] = reg
    except TypeError:  # unhashable callable
        pass
    return reg


def _eval(phi, grid: Grid, u) -> np.ndarray:
    g = as_grid(grid)
    return _phi(phi).evaluate(np.atleast_1d(np.asarray(u, dtype=np.float64)), g.r_b, g.r_t)


def _msqe(u, g: Grid):
    u = np.atleast_1d(np.asarray(u, dtype=np.float64))
    return (u - np.clip(np.rint(u), g.r_b, g.r_t)) ** 2


# ----------------------------------------------------------------------------- strategies


def grids(min_bits: int = 1, max_bits: int = 8, signed=None):
    """Strategy of :class:`~quanttheory.formats.grid.Grid` with random bit width and signedness."""
    st = _st()
    sg = st.booleans() if signed is None else st.just(bool(signed))
    return st.builds(Grid, st.integers(min_bits, max_bits), sg)


def points(grid: Grid, tails: bool = True, max_tail: float = 1e4):
    """Strategy of points ``u`` (grid units) that stress an SQR on ``grid``.

    Mixes: uniform points of ``[r_b, r_t]``, grid integers plus a tiny offset
    (down to ``1e-6``), exact half-integers, exact integers, and (``tails``)
    points beyond ``r_b``/``r_t`` out to ``max_tail``.
    """
    st = _st()
    g = as_grid(grid)
    n = st.integers(g.r_b, g.r_t)
    off = st.floats(1e-6, 0.5, allow_nan=False) | st.floats(-0.5, -1e-6, allow_nan=False)
    parts = [
        st.floats(g.r_b, g.r_t, allow_nan=False, allow_infinity=False),
        st.builds(lambda k, d: float(k) + d, n, off) if tails else
        st.builds(lambda k, d: float(k) + (abs(d) if k == g.r_b else -abs(d) if k == g.r_t else d), n, off),
        st.builds(lambda k: k + 0.5, st.integers(g.r_b, g.r_t - 1)) if g.r_t > g.r_b else n.map(float),
        n.map(float),
    ]
    if tails:
        t = st.floats(1e-6, max_tail, allow_nan=False, allow_infinity=False)
        parts += [t.map(lambda d: g.r_t + d), t.map(lambda d: g.r_b - d)]
    return st.one_of(*parts)


def grids_and_points(min_bits: int = 1, max_bits: int = 8, signed=None, tails: bool = True):
    """Strategy of ``(grid, u)``."""
    return grids(min_bits, max_bits, signed).flatmap(lambda g: _st().tuples(_st().just(g), points(g, tails)))


def grids_and_pairs(min_bits: int = 1, max_bits: int = 8, signed=None):
    """Strategy of ``(grid, u1, u2)`` with both points in ``[r_b, r_t]`` (for order preservation);
    half of the pairs have equal MSQE (mirror images / integer shifts)."""
    st = _st()

    def pair(g):
        inner = points(g, tails=False)

        def mirror(u, k):
            n = float(np.rint(u))
            d = u - n
            cand = [n - d, float(k) + d, float(k) - d]
            ok = [c for c in cand if g.r_b <= c <= g.r_t]
            return (u, ok[0] if ok else u)

        return st.one_of(st.tuples(st.just(g), inner, inner),
                         st.builds(lambda uv: (g, *uv), st.builds(mirror, inner, st.integers(g.r_b, g.r_t))))

    return grids(min_bits, max_bits, signed).flatmap(pair)


def grids_and_vectors(min_bits: int = 1, max_bits: int = 8, signed=None, max_size: int = 32):
    """Strategy of ``(grid, u)`` with ``u`` a 1-D numpy vector of :func:`points` (grid units)."""
    st = _st()
    return grids(min_bits, max_bits, signed).flatmap(
        lambda g: st.tuples(st.just(g), st.lists(points(g), min_size=1, max_size=max_size).map(np.array)))


def scales(lo: float = 1e-3, hi: float = 1e3):
    """Strategy of scale factors ``s`` log-uniform in ``[lo, hi]``."""
    st = _st()
    return st.floats(math.log10(lo), math.log10(hi), allow_nan=False).map(lambda e: float(10.0 ** e))


# ----------------------------------------------------------------------------- assertions


def assert_equivalence(phi, grid, u, a: float, b_prime: float, rtol: float = 1e-9, atol: float = 1e-15):
    """Assert ``a MSQE(u) <= phi(u) <= b' MSQE(u)`` (elementwise, relative tolerance ``rtol``)."""
    g = as_grid(grid)
    v, m = _eval(phi, g, u), _msqe(u, g)
    lo = v < a * m * (1 - rtol) - atol
    hi = v > b_prime * m * (1 + rtol) + atol
    if lo.any() or hi.any():
        i = int(np.flatnonzero(lo | hi)[0])
        uu = np.atleast_1d(u)[i]
        raise AssertionError(f"equivalence fails at u = {uu!r} on the {g}: phi = {v[i]!r}, MSQE = {m[i]!r}, "
                             f"phi/MSQE = {v[i] / m[i] if m[i] else float('nan')!r} not in [{a}, {b_prime}]")


def assert_order_preserving(phi, grid, u1: float, u2: float, tol: float = 1e-12):
    """Assert ``MSQE(u1) < MSQE(u2) <=> phi(u1) < phi(u2)`` for ``u1, u2`` in ``[r_b, r_t]``
    (MSQE ties within ``tol`` must give phi ties within ``tol * max|phi|``)."""
    g = as_grid(grid)
    for u in (u1, u2):
        if not g.r_b <= u <= g.r_t:
            raise ValueError(f"order preservation is only claimed on [{g.r_b}, {g.r_t}], got u = {u}")
    m1, m2 = _msqe([u1, u2], g)
    p1, p2 = _eval(phi, g, [u1, u2])
    scale = max(abs(p1), abs(p2), 1e-300)
    if abs(m1 - m2) <= tol:
        ok = abs(p1 - p2) <= tol * max(scale, 1.0) * 1e3
        rel = "=="
    else:
        ok = (m1 < m2) == (p1 < p2)
        rel = "<" if m1 < m2 else ">"
    if not ok:
        raise AssertionError(f"order preservation fails on the {g}: MSQE({u1!r}) {rel} MSQE({u2!r}) "
                             f"({m1!r} vs {m2!r}) but phi = {p1!r} vs {p2!r}")


def assert_periodic(phi, grid, u: float, rtol: float = 1e-9):
    """Prop. 1(2): ``phi(u + k) == phi(u)`` for every integer shift keeping ``u + k`` in ``[r_b, r_t]``.

    The shifted point is ``fl(u + k)``, not ``u + k``: near a grid point, where ``phi`` is small, that
    rounding alone changes ``phi`` by far more than ``rtol |phi|`` (QSin at ``u = 1e-9``, ``k = 15``:
    ``2 ulp(15)/2 / 1e-9 ~ 2e-6`` relative).  The allowance is therefore
    ``rtol max(|phi(u)|, |phi(u + k)|) + L delta`` with ``delta = 2 eps (|u| + |u + k|)`` (the rounding
    of the shift plus that of the argument inside a ``phi`` like ``sin(pi u)``) and ``L`` the local
    slope of ``phi`` (finite difference with step ``2^-20``, an upper estimate for smooth ``phi``).
    """
    g = as_grid(grid)
    if not g.r_b <= u <= g.r_t:
        raise ValueError(f"periodicity is only claimed on [{g.r_b}, {g.r_t}], got u = {u}")
    ks = np.arange(math.ceil(g.r_b - u), math.floor(g.r_t - u) + 1)
    ks = ks[np.unique(np.linspace(0, ks.size - 1, min(ks.size, 64)).astype(int))]
    x = u + ks
    v = _eval(phi, g, x)
    ref = _eval(phi, g, u)[0]
    e = 2.0 ** -20
    slope = np.maximum(np.abs(_eval(phi, g, x + e) - v), np.abs(_eval(phi, g, x - e) - v)) / e
    delta = 2 * np.finfo(float).eps * (abs(u) + np.abs(x))
    allow = rtol * np.maximum(np.maximum(abs(ref), np.abs(v)), 1e-300) + slope * delta
    bad = np.abs(v - ref) > allow
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise AssertionError(f"period 1 fails on the {g}: phi({u!r}) = {ref!r} but phi({x[i]!r}) = {v[i]!r} "
                             f"(allowed difference {allow[i]!r})")


def assert_even(phi, grid, n: int, d: float, rtol: float = 1e-9):
    """Prop. 1(3): ``phi(n - d) == phi(n + d)`` for an inner grid point ``r_b < n < r_t`` and ``|d| <= 1/2``."""
    g = as_grid(grid)
    if not (g.r_b < n < g.r_t and abs(d) <= 0.5):
        raise ValueError(f"evenness is claimed for r_b < n < r_t and |d| <= 1/2, got n = {n}, d = {d}")
    x = np.array([n - d, n + d])
    lo, hi = _eval(phi, g, x)
    # fl(n +- d) is not n +- d: allow the local slope times that rounding (see assert_periodic)
    e = 2.0 ** -20
    v = np.array([lo, hi])
    slope = np.max(np.maximum(np.abs(_eval(phi, g, x + e) - v), np.abs(_eval(phi, g, x - e) - v)) / e)
    allow = rtol * max(abs(lo), abs(hi), 1e-300) + slope * 2 * np.finfo(float).eps * (abs(n) + abs(d))
    if abs(lo - hi) > allow:
        raise AssertionError(f"not even about n = {n} on the {g}: phi({n - d!r}) = {lo!r}, phi({n + d!r}) = {hi!r}")


def assert_prop2(phi, grid, n: int, h: float, C: float, K: float):
    """Prop. 2 near a grid point with a rate: ``|phi(n +- h) / h^2 - C| <= K |h|``.

    (Prop. 2 itself only says ``o(1)``; a C^3 regularizer satisfies this with
    ``K = max |phi'''| / 6`` near ``n``.)  ``n`` must be a grid integer.
    """
    g = as_grid(grid)
    if not (g.r_b <= n <= g.r_t and float(n).is_integer()):
        raise ValueError(f"n must be a grid integer in [{g.r_b}, {g.r_t}], got {n}")
    v = _eval(phi, g, [n - h, n + h]) / (h * h)
    err = np.abs(v - C)
    if np.any(err > K * abs(h) + 1e-9 * abs(C)):
        raise AssertionError(f"Prop. 2 fails at n = {n}, h = {h!r} on the {g}: phi(n-h)/h^2 = {v[0]!r}, "
                             f"phi(n+h)/h^2 = {v[1]!r}, C = {C!r}, allowed error {K * abs(h)!r}")


def assert_theorem1(phi, grid, x, s: float, a: float, b_prime: float, rtol: float = 1e-9):
    """Theorem 1's vector bounds in data units:
    ``a MSQE(x, s) <= s^2 mean phi(x/s) <= b' MSQE(x, s)``."""
    g = as_grid(grid)
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    u = x / s
    L = s * s * float(np.mean(_eval(phi, g, u)))
    M = s * s * float(np.mean(_msqe(u, g)))
    if not (a * M * (1 - rtol) - 1e-300 <= L <= b_prime * M * (1 + rtol) + 1e-300):
        raise AssertionError(f"Theorem 1 bounds fail on the {g} for s = {s!r}, x = {x!r}: "
                             f"s^2 phi(x/s) = {L!r}, MSQE(x, s) = {M!r}, ratio {L / M if M else float('nan')!r} "
                             f"not in [{a}, {b_prime}]")
