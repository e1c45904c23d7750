"""``quanttheory linear``: linear-model theory (limits, early stopping, seed S1) and a quick simulation.

Examples::

    quanttheory linear theory --alpha 0.5 --sigma-eps 0.5 --t 1 10 100
    quanttheory linear simulate --alpha 2 --N 200 --eta 0.1 --steps 300 --transform clamp
"""

from __future__ import annotations

import math


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    common = dict(sigma_w=1.0, sigma_w0=0.0, sigma_eps=0.0)
    th = sub.add_parser("theory", help="E_g/E_t at times t, t->inf limits, optimal stopping, seed S1")
    sm = sub.add_parser("simulate", help="full-batch GD simulation (mean and 95%% band over seeds)")
    for q in (th, sm):
        q.add_argument("--alpha", type=float, required=True, help="P/N, examples per weight")
        q.add_argument("--sigma-w", type=float, default=common["sigma_w"], help="teacher weight std")
        q.add_argument("--sigma-w0", type=float, default=None, help="student initial weight std")
        q.add_argument("--sigma-eps", type=float, default=common["sigma_eps"], help="label-noise std")
    th.add_argument("--t", type=float, nargs="*", default=[], help="times t = eta x steps")
    th.add_argument("--eta", type=float, default=None, help="exact discrete map with this eta")
    sm.add_argument("--N", type=int, default=200)
    sm.add_argument("--eta", type=float, default=0.1)
    sm.add_argument("--steps", type=int, default=300)
    sm.add_argument("--seeds", type=int, default=16)
    sm.add_argument("--seed", type=int, default=0)
    sm.add_argument("--transform", default="vanilla", help="vanilla, clamp (S3), const (S8), std (S9)")
    sm.add_argument("--inputs", default="1/N", choices=("1/N", "unit"))
    sm.add_argument("--n-hat", type=float, default=None)
    sm.add_argument("--detach-max", action="store_true")


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.10g}"


def run(args) -> int:
    if args.action is None:
        raise ValueError("choose an action: 'theory' or 'simulate' (see quanttheory linear --help)")
    from . import theory

    s0 = args.sigma_w0
    if args.action == "theory":
        s0 = 0.0 if s0 is None else s0
        kw = dict(sigma_w=args.sigma_w, sigma_w0=s0, sigma_eps=args.sigma_eps)
        lim = theory.asymptotic_errors(args.alpha, **kw)
        opt = theory.optimal_stopping(args.alpha, **kw)
        print(f"alpha = {lim.alpha:g}  S = sigma_w^2 + sigma_w0^2 = {args.sigma_w**2 + s0**2:g}"
              f"  sigma_eps^2 = {args.sigma_eps**2:g}")
        print(f"E_g(t->inf) = {_fmt(lim.E_g_inf)}   E_t(t->inf) = {_fmt(lim.E_t_inf)}")
        print(f"optimal stopping: t_opt = {_fmt(opt.t_opt)}  E_g(t_opt) = {_fmt(opt.E_g_opt)}"
              f"  E_t(t_opt) = {_fmt(opt.E_t_at_opt)}")
        print(f"seed S1 = {_fmt(theory.seed_s1(args.alpha, **kw))}  (the seed's expression)")
        if args.t:
            c = theory.learning_curves(args.t, args.alpha, eta=args.eta, **kw)
            print(f"{'t':>12s} {'E_g':>18s} {'E_t':>18s}")
            for t, g, e in zip(c.t, c.E_g, c.E_t):
                print(f"{t:12.6g} {_fmt(g):>18s} {_fmt(e):>18s}")
        return 0
    from .sim import simulate

    s0 = 1.0 if s0 is None else s0
    r = simulate(N=args.N, alpha=args.alpha, eta=args.eta, steps=args.steps, transform=args.transform,
                 sigma_w=args.sigma_w, sigma_w0=s0, sigma_eps=args.sigma_eps, n_hat=args.n_hat,
                 inputs=args.inputs, seeds=args.seeds, rng=args.seed, record=8, detach_max=args.detach_max)
    print(f"transform {r.transform}  N={r.N} P={r.P}  eta*lambda_max={r.eta_lambda_max:.4g}  "
          f"{r.steps_per_second:.0f} seed-steps/s  init output var {r.init_out_var:.4g}  "
          f"lr gain {r.lr_gain:.4g}")
    print(f"{'step':>7s} {'t':>9s} {'E_g mean':>10s} {'95% band':>21s} {'E_t mean':>10s}")
    for i, s in enumerate(r.steps):
        print(f"{s:7d} {r.t[i]:9.4g} {r.mean_g[i]:10.5g} [{r.band_g[0][i]:9.5g},{r.band_g[1][i]:9.5g}]"
              f" {r.mean_t[i]:10.5g}")
    return 0
