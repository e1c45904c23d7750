"""Speed of the linear-model theory and simulation (plain script, not collected by pytest).

Run: OMP_NUM_THREADS=1 python benchmarks/bench_linear.py
Every time printed is the minimum over REPEAT runs (the least disturbed run on a shared machine);
ratios are against baselines measured in the same run, each also the minimum of REPEAT runs:
* theory: E_g at 200 times by scipy.integrate.quad per time (the obvious implementation)
  vs the MP Gauss rule vectorized over t;
* simulation: a per-seed Python loop with X^T (X w) matvecs (no Gram matrix, no batching)
  vs the batched Gram-matrix GD of quanttheory.linear.simulate.
"""

import math
import time

import numpy as np
from scipy.integrate import quad

from quanttheory.linear import learning_curves, mp_density, mp_edges, simulate

REPEAT = 5


def best_of(fn, repeat=REPEAT):
    """(minimum wall time over ``repeat`` calls, last result)."""
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_theory(alpha=0.5, S=1.25, s2=0.09):
    t = np.geomspace(0.01, 100, 200)
    from quanttheory.linear import theory

    def cold():  # the quadrature rule is built from scratch every time (no cache)
        theory._rule.cache_clear()
        return learning_curves(t, alpha, 1, 0.5, 0.3)

    fast, c = best_of(cold)
    lo, hi = mp_edges(alpha)

    def eg(tt):
        f = lambda x: float(mp_density(np.array([x]), alpha)[0]) * (  # noqa: E731
            S * math.exp(-2 * x * tt) + s2 * math.expm1(-x * tt) ** 2 / x)
        return (1 - alpha) * S + quad(f, lo, hi, epsabs=0, epsrel=1e-10, limit=200)[0] + s2

    slow, ref = best_of(lambda: np.array([eg(tt) for tt in t]), repeat=2)
    err = np.max(np.abs(c.E_g - ref) / ref)
    print(f"theory  200 times (min of {REPEAT} / 2 runs): Gauss-MP {fast*1e3:8.2f} ms   quad {slow*1e3:8.1f} ms   "
          f"ratio {slow/fast:6.1f}x   max rel diff {err:.1e}")


def naive_sim(N, alpha, eta, steps, seeds, rng=0):
    P = int(round(alpha * N))
    out = []
    for s in np.random.SeedSequence(rng).spawn(seeds):
        g = np.random.default_rng(s)
        X = g.standard_normal((P, N)) / math.sqrt(N)
        wbar = g.standard_normal(N)
        y = X @ wbar + g.standard_normal(P) * 0.3
        w = g.standard_normal(N) * 0.5
        for _ in range(steps):
            w -= eta * (X.T @ (X @ w - y))
        out.append(np.mean((w - wbar) ** 2) + 0.09)
    return np.array(out)


def bench_sim():
    """Whole-call wall time (draws, Gram matrices and GD), best of REPEAT runs, for the package and
    the naive loop; "seed-steps/s" = seeds x steps / that time.  The package's own
    ``steps_per_second`` (GD loop only, setup excluded) is printed as "loop"."""
    print(f"simulation, alpha = 2, 16 seeds x 300 steps, whole call, best of {REPEAT} runs")
    seeds, steps = 16, 300
    for N in (100, 200, 400):
        for tr in ("vanilla", "clamp", "std"):
            sec, r = best_of(lambda: simulate(N=N, alpha=2.0, eta=0.05, steps=steps, transform=tr,
                                              sigma_w0=0.5, sigma_eps=0.3, seeds=seeds, rng=0,
                                              record=[steps]))
            line = (f"sim N={N:4d} {tr:8s} {seeds * steps / sec:10.0f} seed-steps/s"
                    f" (loop {r.steps_per_second:8.0f})")
            if tr == "vanilla":
                bsec, ref = best_of(lambda: naive_sim(N, 2.0, 0.05, steps, seeds))
                same = np.allclose(ref, r.E_g[:, -1], rtol=1e-9)
                line += (f"   naive loop {seeds * steps / bsec:8.0f} seed-steps/s   ratio {bsec / sec:5.2f}x"
                         f"   same result (rtol 1e-9): {same}")
            print(line, flush=True)


if __name__ == "__main__":
    bench_theory()
    bench_sim()
