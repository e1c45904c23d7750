"""Numbers quoted in docs/linear.md (plain script).  Run: python benchmarks/linear_regimes.py

1. Seed S1 vs exact E_g(inf) and the early-stopped optimum.
2. Where the seed's qualitative claims hold: vanilla / clamp S3 / S8 / S9 simulations at a
   common vanilla time t = eta N x_scale^2 steps, for both input conventions and several
   initial scales, alpha in {0.5, 2}.
3. Learning-rate amplification (dW^/dW)^2 vs n_hat (the table of docs/linear.md; the figure
   linear_lr_gain shows the same law at M = 100, 3000, 1e5).
4. The settings of the figures linear_curves (clamped E_g in the first steps vs the linearized
   theory) and linear_rescale (S8 vs S9 ratios).
5. Finite-N bias of the N -> inf theory: exact conditional expectation given the inputs X,
   averaged over input draws, vs the discrete-map theory.

Every number is from seeded random draws (deterministic); nothing here is a timing.
"""

import math

import numpy as np

from quanttheory.linear import (asymptotic_errors, effective_parameters, learning_curves,
                                measure_amplification, optimal_stopping, seed_s1, simulate)
from quanttheory.linear.amplification import expected_inv_max_sq, expected_sech4


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


def figure_settings():
    print("\n## linear_curves setting (NN units, alpha 0.5, sigma_w0 = 1, sigma_eps 0.3, N = 100, 8 seeds, rng 1)")
    N = 100
    for tr in ("vanilla", "clamp"):
        r = simulate(N=N, alpha=0.5, eta=0.01 / N, steps=1000, transform=tr, sigma_w=1.0, sigma_w0=1.0,
                     sigma_eps=0.3, inputs="unit", seeds=8, rng=1, record=[0, 1, 2, 10, 100, 1000])
        ep = effective_parameters(r)
        th = learning_curves(r.t * ep.time_scale, 0.5, 1.0, ep.sigma_w0_eff, 0.3)
        print(f"{tr:8s} gain {ep.time_scale:.3g}  steps {r.steps.tolist()}  t {[float(f'{x:.3g}') for x in r.t]}")
        print(f"         simulated E_g {np.round(r.mean_g, 3).tolist()}")
        print(f"         (linearized) theory E_g {np.round(th.E_g, 3).tolist()}")
    print("expected clamp gain and init output variance at N = M = 100, c = 1: "
          f"n_hat E[sech^4] E[1/max tanh^2] = {expected_sech4(0.1) * expected_inv_max_sq(100, 0.1):.3g}; "
          f"N E[1/max Z^2] = {100 * expected_inv_max_sq(100):.3g}; N/(2 ln N) = {100 / (2 * math.log(100)):.3g}")
    print("\n## linear_rescale setting (NN units, alpha 0.5, N = 100, 8 seeds, 1000 steps, rng 2): S8 / S9 at t = 10")
    for s0 in (1.0, 0.4):
        r8, r9 = (simulate(N=N, alpha=0.5, eta=0.01 / N, steps=1000, transform=tr, sigma_w=1.0, sigma_w0=s0,
                           sigma_eps=0.3, inputs="unit", seeds=8, rng=2, record=[1000]) for tr in ("const", "std"))
        print(f"sigma_w0 = {s0} (c = {s0 * s0:.2f}): E_g S8/S9 = {r8.mean_g[-1] / r9.mean_g[-1]:.3f}"
              f"  E_t S8/S9 = {r8.mean_t[-1] / r9.mean_t[-1]:.3g}")


def finite_n_bias(draws=300):
    print(f"\n## finite-N bias: exact E[E_g | X], E[E_t | X] averaged over {draws} input draws vs theory"
          " (sigma_w = 1, sigma_w0 = 0.5, sigma_eps = 0.3, eta = 0.1); N x |relative difference|,"
          " max over t in {0.1, 1, 3, 10, 30}")
    S, s2, eta = 1.25, 0.09, 0.1
    ks = np.array([1, 10, 30, 100, 300])
    print("| N | alpha | N max|rel diff E_g| | N max|rel diff E_t| | SE of the draw mean (x N, rel) |")
    print("|---|---|---|---|---|")
    for N in (100, 200, 400):
        for a in (0.5, 1.0, 2.0):
            P = int(round(a * N))
            g = np.random.default_rng(N * 10 + int(10 * a))
            eg = np.empty((draws, ks.size))
            et = np.empty((draws, ks.size))
            for d in range(draws):
                X = g.standard_normal((P, N)) / math.sqrt(N)
                lam = np.clip(np.linalg.eigvalsh(X.T @ X), 0.0, None)
                q = (1.0 - eta * lam[:, None]) ** ks[None, :]
                with np.errstate(divide="ignore", invalid="ignore"):
                    drive = np.where(lam[:, None] > 1e-12, (1 - q) ** 2 / lam[:, None], 0.0)
                eg[d] = (S * (q * q).sum(0) + s2 * drive.sum(0)) / N + s2
                # training residual: P - rank directions keep sigma^2, the others decay with q^2
                pos = lam > 1e-12
                et[d] = ((lam[pos, None] * S + s2) * q[pos] ** 2).sum(0) / P + s2 * (P - pos.sum()) / P
            th = learning_curves(ks * eta, P / N, 1.0, 0.5, 0.3, eta=eta)
            rg = N * np.max(np.abs(eg.mean(0) / th.E_g - 1))
            rt = N * np.max(np.abs(et.mean(0) / th.E_t - 1))
            se = N * np.max(eg.std(0, ddof=1) / math.sqrt(draws) / th.E_g)
            print(f"| {N} | {a} | {rg:.2f} | {rt:.2f} | {se:.2f} |", flush=True)
    print("\nMonte Carlo SE of the seed mean in the validation test (N = 200, 32 seeds, eta 0.1, 300 steps,"
          " rng 11): SE / mean of E_g, range over the recorded times")
    for a in (0.5, 0.9, 1.0, 2.0):
        r = simulate(N=200, alpha=a, eta=0.1, steps=300, sigma_w=1.0, sigma_w0=0.5, sigma_eps=0.3, seeds=32,
                     rng=11, record=12)
        rel = r.E_g.std(axis=0, ddof=1) / math.sqrt(32) / r.mean_g
        print(f"alpha {a}: {100 * rel.min():.2f} % .. {100 * rel.max():.2f} %")


if __name__ == "__main__":
    s1_table()
    regimes()
    amplification()
    figure_settings()
    finite_n_bias()
