"""``quanttheory linear``: linear-model theory (limits, early stopping, seed S1) and a quick simulation.

Examples::

    quanttheory linear theory --alpha 0.5 --sigma-eps 0.5 --t 1 10 100
    quanttheory linear theory --alpha 1 --eta 0.45 --t 9.45        # 21 steps of the discrete map
    quanttheory linear simulate --alpha 2 --N 200 --eta 0.1 --steps 300 --transform clamp

Every argument is validated before any computation starts: a bad value gives a one-line
``quanttheory linear: error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import math

TRANSFORM_NAMES = ("vanilla", "clamp", "const", "std", "S3", "S8", "S9")


def add_arguments(p) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    th = sub.add_parser("theory", help="E_g/E_t at times t, t->inf limits, optimal stopping, seed S1",
                        description="Exact N -> inf learning curves of gradient descent (SPEC section 4).")
    sm = sub.add_parser("simulate", help="full-batch GD simulation (mean and 95%% band over seeds)",
                        description="Full-batch GD on random draws of the student-teacher model; "
                                    "prints the seed mean and its Student-t 95% band.")
    for q in (th, sm):
        q.add_argument("--alpha", type=float, required=True, help="P/N, examples per weight (> 0)")
        q.add_argument("--sigma-w", type=float, default=1.0, help="teacher weight std (default: %(default)s)")
        q.add_argument("--sigma-eps", type=float, default=0.0, help="label-noise std (default: %(default)s)")
    th.add_argument("--sigma-w0", type=float, default=0.0,
                    help="student initial weight std (default: %(default)s)")
    th.add_argument("--t", type=float, nargs="*", default=[],
                    help="times t = eta x steps (>= 0); with --eta each t/eta must be a whole number")
    th.add_argument("--eta", type=float, default=None,
                    help="use the exact discrete map of GD with this learning rate "
                         "(default: continuous time)")
    sm.add_argument("--sigma-w0", type=float, default=1.0,
                    help="student initial weight std (default: %(default)s)")
    sm.add_argument("--N", type=int, default=200, help="number of weights, >= 1 (default: %(default)s)")
    sm.add_argument("--eta", type=float, default=0.1,
                    help="learning rate, > 0, in the --inputs convention (default: %(default)s)")
    sm.add_argument("--steps", type=int, default=300, help="GD steps, >= 1 (default: %(default)s)")
    sm.add_argument("--seeds", type=int, default=16,
                    help="independent draws averaged, >= 1 (default: %(default)s)")
    sm.add_argument("--seed", type=int, default=0, help="base random seed, >= 0 (default: %(default)s)")
    sm.add_argument("--transform", default="vanilla", metavar="NAME",
                    help="vanilla, clamp (S3), const (S8) or std (S9) (default: %(default)s)")
    sm.add_argument("--inputs", default="1/N", choices=("1/N", "unit"),
                    help="input variance convention: x ~ N(0, I/N) or N(0, I) (default: %(default)s)")
    sm.add_argument("--n-hat", type=float, default=None,
                    help="S8's neuron count n_hat, > 0 (default: N x_scale^2, i.e. 1 or N)")
    sm.add_argument("--detach-max", action="store_true",
                    help="treat max|tanh W| as a constant in the backward pass")


def _fmt(x: float) -> str:
    return "inf" if math.isinf(x) else f"{x:.10g}"


def _finite(v: float, name: str) -> float:
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    return v


def _positive(v: float, name: str) -> float:
    if not _finite(v, name) > 0:
        raise ValueError(f"{name} must be > 0, got {v}")
    return v


def _nonneg(v: float, name: str) -> float:
    if not _finite(v, name) >= 0:
        raise ValueError(f"{name} must be >= 0, got {v}")
    return v


def _validate(args) -> None:
    """All argument checks, before any import or computation (one-line errors, exit 2)."""
    _positive(args.alpha, "--alpha")
    for name in ("sigma_w", "sigma_w0", "sigma_eps"):
        _nonneg(getattr(args, name), "--" + name.replace("_", "-") + " (a standard deviation)")
    if args.action == "theory":
        if args.eta is not None:
            _positive(args.eta, "--eta")
        for t in args.t:
            if math.isnan(t) or t < 0:
                raise ValueError(f"--t values must be >= 0 (inf allowed), got {t}")
        return
    _positive(args.eta, "--eta")
    if args.N < 1:
        raise ValueError(f"--N must be >= 1, got {args.N}")
    if args.steps < 1:
        raise ValueError(f"--steps must be >= 1, got {args.steps}")
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    if args.seed < 0:
        raise ValueError(f"--seed must be >= 0, got {args.seed}")
    if args.n_hat is not None:
        _positive(args.n_hat, "--n-hat")
    if args.transform.lower() not in {n.lower() for n in TRANSFORM_NAMES} | {"none"}:
        raise ValueError(f"--transform must be one of vanilla, clamp, const, std (or S3, S8, S9), "
                         f"got {args.transform!r}")
    if args.transform.lower() not in ("vanilla", "none") and args.sigma_w0 == 0:
        raise ValueError("--sigma-w0 0 makes max|tanh W| = 0: the clamp S3 needs a nonzero initialisation")


def run(args) -> int:
    if args.action is None:
        raise ValueError("choose an action: 'theory' or 'simulate' (see quanttheory linear --help)")
    _validate(args)
    if args.action == "theory":
        return _theory(args)
    return _simulate(args)


def _theory(args) -> int:
    from ..linear import theory

    kw = dict(sigma_w=args.sigma_w, sigma_w0=args.sigma_w0, sigma_eps=args.sigma_eps)
    # compute everything (this also validates --t against --eta) before printing anything
    c = theory.learning_curves(args.t, args.alpha, eta=args.eta, **kw) if args.t else None
    lim = theory.asymptotic_errors(args.alpha, **kw)
    opt = theory.optimal_stopping(args.alpha, **kw)
    s1 = theory.seed_s1(args.alpha, **kw)
    print(f"alpha = {lim.alpha:g}  S = sigma_w^2 + sigma_w0^2 = {args.sigma_w**2 + args.sigma_w0**2:g}"
          f"  sigma_eps^2 = {args.sigma_eps**2:g}")
    print(f"E_g(t->inf) = {_fmt(lim.E_g_inf)}   E_t(t->inf) = {_fmt(lim.E_t_inf)}")
    print(f"optimal stopping: t_opt = {_fmt(opt.t_opt)}  E_g(t_opt) = {_fmt(opt.E_g_opt)}"
          f"  E_t(t_opt) = {_fmt(opt.E_t_at_opt)}")
    print(f"seed S1 = {_fmt(s1)}  (the seed's expression)")
    if c is not None:
        print(f"{'t':>12s} {'E_g':>18s} {'E_t':>18s}")
        for t, g, e in zip(c.t, c.E_g, c.E_t):
            print(f"{t:12.6g} {_fmt(g):>18s} {_fmt(e):>18s}")
    return 0


def _simulate(args) -> int:
    from ..linear.sim import simulate

    r = simulate(N=args.N, alpha=args.alpha, eta=args.eta, steps=args.steps, transform=args.transform,
                 sigma_w=args.sigma_w, sigma_w0=args.sigma_w0, sigma_eps=args.sigma_eps, n_hat=args.n_hat,
                 inputs=args.inputs, seeds=args.seeds, rng=args.seed, record=8, detach_max=args.detach_max)
    alpha_eff = r.P / r.N
    if abs(alpha_eff - args.alpha) > 1e-12 * args.alpha:  # P = round(alpha N): say which alpha was simulated
        print(f"note: P = round(alpha N) = {r.P}, so the simulated alpha is P/N = {alpha_eff:.6g}, not {args.alpha:.6g}")
    print(f"transform {r.transform}  N={r.N} P={r.P}  eta*lambda_max={r.eta_lambda_max:.4g}  "
          f"{r.steps_per_second:.0f} seed-steps/s  init output var {r.init_out_var:.4g}  "
          f"lr gain {r.lr_gain:.4g}")
    print(f"{'step':>7s} {'t':>9s} {'E_g mean':>10s} {'95% band':>21s} {'E_t mean':>10s}")
    for i, s in enumerate(r.steps):
        print(f"{s:7d} {r.t[i]:9.4g} {r.mean_g[i]:10.5g} [{r.band_g[0][i]:9.5g},{r.band_g[1][i]:9.5g}]"
              f" {r.mean_t[i]:10.5g}")
    return 0
