"""`quanttheory linear` CLI and the linear figures in quick mode."""

import numpy as np
import pytest

from quanttheory.cli import main
from quanttheory.linear import theory as th


def test_theory_prints_limits_and_optimal_stopping(capsys):
    assert main(["linear", "theory", "--alpha", "0.5", "--sigma-eps", "0.5", "--t", "1", "10"]) == 0
    out = capsys.readouterr().out
    lim = th.asymptotic_errors(0.5, 1.0, 0.0, 0.5)
    opt = th.optimal_stopping(0.5, 1.0, 0.0, 0.5)
    assert f"E_g(t->inf) = {lim.E_g_inf:.10g}" in out
    assert f"t_opt = {opt.t_opt:.10g}" in out
    assert "seed S1 = 0.75" in out
    assert f"{th.generalization_error(10.0, 0.5, 1.0, 0.0, 0.5):.10g}" in out


def test_alpha_one_limit_is_inf(capsys):
    assert main(["linear", "theory", "--alpha", "1", "--sigma-eps", "0.1"]) == 0
    assert "E_g(t->inf) = inf" in capsys.readouterr().out


@pytest.mark.parametrize("argv,msg", [
    (["linear", "theory", "--alpha", "-1"], "alpha"),
    (["linear", "theory", "--alpha", "1", "--sigma-w", "-2"], "--sigma-w"),
    (["linear", "theory", "--alpha", "1", "--eta", "1", "--t", "2"], "unstable"),
    (["linear", "simulate", "--alpha", "2", "--eta", "1", "--N", "20", "--steps", "3"], "unstable"),
    (["linear"], "choose an action"),
])
def test_bad_input_clean_error(argv, msg, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "error" in err and msg in err


def test_simulate_runs(capsys):
    assert main(["linear", "simulate", "--alpha", "0.5", "--N", "30", "--steps", "20", "--seeds", "3",
                 "--transform", "S3"]) == 0
    out = capsys.readouterr().out
    assert "transform clamp" in out and "seed-steps/s" in out


def test_linear_figures_quick(tmp_path):
    from quanttheory.figures import registry

    reg = registry()
    names = [n for n in reg if n.startswith("linear_")]
    assert set(names) >= {"linear_curves", "linear_rescale", "linear_s1", "linear_lr_gain"}
    assert all(getattr(reg[n], "ORDER", 0) >= 200 and callable(reg[n].make) for n in names)
    # one full quick render (the others share the code path; `quanttheory figures --quick` runs all)
    paths = reg["linear_curves"].make(tmp_path, quick=True)
    assert all(p.exists() and p.stat().st_size > 1000 for p in paths)


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, quanttheory.linear as L; "
            "bad = [m for m in ('quanttheory.linear.theory', 'quanttheory.linear.sim', 'matplotlib', 'numba') "
            "if m in sys.modules]; assert not bad, bad; assert callable(L.learning_curves)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_theory_overshooting_eta_prints_numbers_not_nan(capsys):
    """Issue #18 item 1: `--alpha 1 --eta 0.45 --t 9.45` printed nan with exit 0 (21 steps, eta lambda_+ = 1.8)."""
    assert main(["linear", "theory", "--alpha", "1", "--sigma-w0", "0.5", "--sigma-eps", "0.4",
                 "--eta", "0.45", "--t", "9.45", "0.45", "4.5"]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower()
    c = th.learning_curves(np.array([21, 1, 10]) * 0.45, 1.0, 1.0, 0.5, 0.4, eta=0.45)
    for g, e in zip(c.E_g, c.E_t):
        assert f"{g:.10g}" in out and f"{e:.10g}" in out


def test_theory_fractional_step_count_is_an_error(capsys):
    assert main(["linear", "theory", "--alpha", "1", "--eta", "0.45", "--t", "1"]) == 2
    err = capsys.readouterr().err
    assert "whole number of steps" in err


def test_simulate_help_shows_every_option_with_default(capsys):
    """Issue #18 item 9: --N, --eta, --steps, --seeds had no help text and no defaults."""
    with pytest.raises(SystemExit) as e:
        main(["linear", "simulate", "--help"])
    assert e.value.code == 0
    out = " ".join(capsys.readouterr().out.split())   # undo argparse line wrapping
    for opt, default in (("--N N", "200"), ("--eta ETA", "0.1"), ("--steps STEPS", "300"),
                         ("--seeds SEEDS", "16"), ("--seed SEED", "0"), ("--sigma-w0 SIGMA_W0", "1.0")):
        i = out.index(opt + " ")
        assert f"(default: {default})" in out[i:i + 160], opt


@pytest.mark.parametrize("extra,msg", [
    (["--seeds", "-1"], "--seeds must be >= 1"), (["--seeds", "0"], "--seeds must be >= 1"),
    (["--seed", "-3"], "--seed must be >= 0"), (["--N", "0"], "--N must be >= 1"),
    (["--N", "-5"], "--N must be >= 1"), (["--eta", "0"], "--eta must be > 0"),
    (["--eta", "-0.1"], "--eta must be > 0"), (["--eta", "nan"], "--eta must be finite"),
    (["--steps", "0"], "--steps must be >= 1"), (["--steps", "-2"], "--steps must be >= 1"),
    (["--alpha", "inf"], "--alpha must be finite"), (["--sigma-eps", "-1"], "--sigma-eps"),
    (["--n-hat", "0"], "--n-hat must be > 0"), (["--transform", "relu"], "--transform must be one of"),
])
def test_simulate_rejects_bad_arguments_before_any_work(extra, msg, capsys, monkeypatch):
    """One-line error, exit 2, and the simulation is never started (sim.simulate is booby-trapped)."""
    from quanttheory.linear import sim

    def trap(**kw):
        raise AssertionError("simulate() was called before the arguments were validated")

    monkeypatch.setattr(sim, "simulate", trap)
    assert main(["linear", "simulate", "--alpha", "2", *extra]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quanttheory linear: error:") and msg in lines[0]


def test_theory_validates_before_printing(capsys):
    """A bad --t with --eta gives only the error (no partial table on stdout)."""
    assert main(["linear", "theory", "--alpha", "1", "--eta", "0.45", "--t", "0.9", "1"]) == 2
    cap = capsys.readouterr()
    assert cap.out == "" and "nearest: t = 0.9" in cap.err
    assert main(["linear", "theory", "--alpha", "1", "--t", "-1"]) == 2
    assert "--t values must be >= 0" in capsys.readouterr().err
