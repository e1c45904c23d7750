"""Theorem 1: the scalar bounds transfer to vectors,
``a MSQE(x, s) <= s^2 mean phi(x/s) <= b' MSQE(x, s)`` for every vector ``x`` and scale ``s > 0``.

Checked on ``n_vectors`` seeded random vectors (length 1-64; components uniform in the grid, near grid
points, at half-integers and in both tails) with log-uniform ``s`` in ``[1e-3, 1e3]``.  When the scalar
equivalence fails the witness is the vector ``x = s (u, u)`` built from the scalar witness.
"""

from __future__ import annotations

import numpy as np

from .report import PropertyResult, Witness, _fmt
from .view import PhiView

RTOL = 1e-6


def random_vectors(view: PhiView, n_vectors: int, seed: int):
    """Yield ``(u, s)``: grid-unit vectors and scales (``numpy`` Generator seeded with ``seed``)."""
    r_b, r_t = view.r_b, view.r_t
    rng = np.random.default_rng(seed)
    span = r_t - r_b
    for _ in range(n_vectors):
        k = int(rng.integers(1, 65))
        kind = rng.integers(0, 5, size=k)
        u = np.where(kind == 0, rng.uniform(r_b, r_t + 1e-300, size=k),
            np.where(kind == 1, rng.integers(r_b, r_t + 1, size=k) + rng.normal(0, 1e-2, size=k),
            np.where(kind == 2, rng.integers(r_b, r_t + 1, size=k) + 0.5 * rng.choice([-1, 1], size=k),
            np.where(kind == 3, r_t + rng.exponential(max(1.0, span / 4), size=k),
                     r_b - rng.exponential(max(1.0, span / 4), size=k)))))
        yield u, float(10 ** rng.uniform(-3, 3))


def check_theorem1(view: PhiView, a: float, b: float, eq: PropertyResult, n_vectors: int,
                   seed: int) -> PropertyResult:
    worst_lo, worst_hi = (np.inf, None), (-np.inf, None)
    n_checked = 0
    for u, s in random_vectors(view, n_vectors, seed):
        x = u * s
        uu = x / s
        L = s * s * float(np.mean(view.ev(uu, "Theorem 1 vectors")))
        Mq = s * s * float(np.mean(view.msqe(uu)))
        if Mq <= 0:
            continue
        n_checked += 1
        r = L / Mq
        if r < worst_lo[0]:
            worst_lo = (r, (x, s, L, Mq))
        if r > worst_hi[0]:
            worst_hi = (r, (x, s, L, Mq))
    numbers = {"vectors": n_checked, "min_ratio": worst_lo[0], "max_ratio": worst_hi[0], "a": a, "b_prime": b}
    witness = None
    if not eq.passed:
        u0 = eq.witness.u[0] if eq.witness is not None else 0.0
        s = 2.0
        x = np.array([u0, u0]) * s
        L = s * s * float(np.mean(view.ev(x / s, "Theorem 1 witness")))
        Mq = s * s * float(np.mean(view.msqe(x / s)))
        witness = Witness(tuple(x.tolist()), {"s": s, "s^2 phi(x/s)": L, "MSQE(x, s)": Mq},
                          "the scalar equivalence fails, so no 0 < a <= b' bound the vector regularizer "
                          "(vector x = s * (u, u))")
    elif worst_lo[0] < a * (1 - RTOL) or worst_hi[0] > b * (1 + RTOL):
        bad = worst_lo if worst_lo[0] < a * (1 - RTOL) else worst_hi
        x, s, L, Mq = bad[1]
        witness = Witness(tuple(x.tolist()), {"s": s, "s^2 phi(x/s)": L, "MSQE(x, s)": Mq, "ratio": bad[0]},
                          "vector ratio outside [a, b'] (the mesh missed a sharper scalar extreme)")
    return PropertyResult("theorem1", "Thm.1 a MSQE(x,s) <= s^2 phi(x/s) <= b' MSQE(x,s)", witness is None,
                          f"{n_checked} random vectors/scales: ratio in [{_fmt(worst_lo[0])}, {_fmt(worst_hi[0])}]"
                          f" within [a, b'] = [{_fmt(a)}, {_fmt(b)}]" if witness is None else "fails",
                          numbers, witness)
