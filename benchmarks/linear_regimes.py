"""Numbers quoted in docs/linear.md (plain script).  Run: python benchmarks/linear_regimes.py

1. Seed S1 vs exact E_g(inf) and the early-stopped optimum.
2. Where the seed's qualitative claims hold: vanilla / clamp S3 / S8 / S9 simulations at a
   common vanilla time t = eta N x_scale^2 steps, for both input conventions and several
   initial scales, alpha in {0.5, 2}.
3. Learning-rate amplification (dW^/dW)^2 vs n_hat.
"""

import math

import numpy as np

from quanttheory.linear import (asymptotic_errors, measure_amplification, optimal_stopping, seed_s1,
                                simulate)


def s1_table():
    print("## S1 vs exact (sigma_w = 1, sigma_w0 = 0)")
    print("| sigma_eps | alpha | seed S1 | exact E_g(inf) | exact E_g(t_opt) | t_opt |")
    print("|---|---|---|---|---|---|")
    for se in (0.1, 0.5):
        for a in (0.25, 0.5, 0.9, 1.0, 1.5, 2.0, 4.0):
            o = optimal_stopping(a, 1.0, 0.0, se)
            lim = asymptotic_errors(a, 1.0, 0.0, se).E_g_inf
            print(f"| {se} | {a} | {seed_s1(a, 1.0, 0.0, se):.4f} | {lim:.4f} | {o.E_g_opt:.4f} | {o.t_opt:.3g} |")


def regimes():
    print("\n## Claims by regime (N = 100, 16 seeds, sigma_w = 1, sigma_eps = 0.3, eta N x^2 = 0.01,"
          " 1200 steps -> t = 12; errors at t = 1 and t = 12; +- = 2 standard errors)")
    print("| inputs | alpha | sigma_w0 | transform | lr gain | init out var | E_t(1) | E_t(12) | E_g(12) |")
    print("|---|---|---|---|---|---|---|---|---|")
    N, steps = 100, 1200
    for inputs in ("unit", "1/N"):
        for a in (0.5, 2.0):
            for s0 in (0.3, 1.0, 3.0):
                x2 = 1.0 if inputs == "unit" else 1.0 / N
                for tr in ("vanilla", "clamp", "const", "std"):
                    r = simulate(N=N, alpha=a, eta=0.01 / (N * x2), steps=steps, transform=tr, sigma_w=1.0,
                                 sigma_w0=s0, sigma_eps=0.3, inputs=inputs, seeds=16, rng=5,
                                 record=[100, steps])
                    sem = lambda v: 2 * v.std(ddof=1) / math.sqrt(v.size)  # noqa: E731
                    print(f"| {inputs} | {a} | {s0} | {tr} | {r.lr_gain:.3g} | {r.init_out_var:.3g} | "
                          f"{r.E_t[:, 0].mean():.3g} | {r.E_t[:, 1].mean():.3g} | "
                          f"{r.E_g[:, 1].mean():.3f} +- {sem(r.E_g[:, 1]):.3f} |", flush=True)


def amplification():
    print("\n## (dW^/dW)^2, c = 1, 8 repetitions")
    nh = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    r = measure_amplification(nh, M=(100, 10_000, 1_000_000), c=1.0, reps=8, rng=0)
    print("| M | n_hat | measured | +- SE | exact (sech^4, max tanh^2) | n_hat/(2c ln M) | seed n_hat | seed 2 |")
    print("|---|---|---|---|---|---|---|---|")
    for i, M in enumerate(r.M):
        for j, n in enumerate(nh):
            print(f"| {M} | {n:g} | {r.measured[i, j]:.4g} | {r.stderr[i, j]:.2g} | {r.exact_tanh[i, j]:.4g} |"
                  f" {r.log_law[i, j]:.4g} | {n:g} | 2 |")


if __name__ == "__main__":
    s1_table()
    regimes()
    amplification()
