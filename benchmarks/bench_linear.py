"""Speed of the linear-model theory and simulation (plain script, not collected by pytest).

Run: python benchmarks/bench_linear.py
Ratios are against baselines measured in the same run:
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


def bench_theory(alpha=0.5, S=1.25, s2=0.09):
    t = np.geomspace(0.01, 100, 200)
    learning_curves(t, alpha, 1, 0.5, 0.3)  # warm the rule cache? no: measure cold below
    from quanttheory.linear import theory

    theory._rule.cache_clear()
    t0 = time.perf_counter()
    c = learning_curves(t, alpha, 1, 0.5, 0.3)
    fast = time.perf_counter() - t0
    lo, hi = mp_edges(alpha)

    def eg(tt):
        f = lambda x: float(mp_density(np.array([x]), alpha)[0]) * (  # noqa: E731
            S * math.exp(-2 * x * tt) + s2 * math.expm1(-x * tt) ** 2 / x)
        return (1 - alpha) * S + quad(f, lo, hi, epsabs=0, epsrel=1e-10, limit=200)[0] + s2

    t0 = time.perf_counter()
    ref = np.array([eg(tt) for tt in t])
    slow = time.perf_counter() - t0
    err = np.max(np.abs(c.E_g - ref) / ref)
    print(f"theory  200 times: Gauss-MP {fast*1e3:8.2f} ms   quad {slow*1e3:8.1f} ms   "
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
    for N in (100, 200, 400):
        seeds, steps = 16, 300
        for tr in ("vanilla", "clamp", "std"):
            r = simulate(N=N, alpha=2.0, eta=0.05, steps=steps, transform=tr, sigma_w0=0.5, sigma_eps=0.3,
                         seeds=seeds, rng=0, record=[steps])
            line = f"sim N={N:4d} {tr:8s} {r.steps_per_second:10.0f} seed-steps/s"
            if tr == "vanilla":
                t0 = time.perf_counter()
                ref = naive_sim(N, 2.0, 0.05, steps, seeds)
                base = seeds * steps / (time.perf_counter() - t0)
                same = np.allclose(ref, r.E_g[:, -1], rtol=1e-9)
                line += f"   naive loop {base:10.0f} seed-steps/s   ratio {r.steps_per_second/base:5.2f}x" \
                        f"   identical result: {same}"
            print(line, flush=True)


if __name__ == "__main__":
    bench_theory()
    bench_sim()
