"""Tests of quanttheory.training: gradients vs finite differences, LSQ's STE
formulas, the Theorem-1 sandwich along training, reproducibility, bad inputs.

Finite differences: central, step h = 1e-6 on O(1) parameters, so the truncation
error is ~h**2 |f'''| ~ 1e-12 and the rounding error ~eps |f| / h ~ 1e-10; the
tolerance 1e-6 (relative to the gradient's max norm) leaves a wide margin and
still catches any missing factor or term (those are O(1) relative errors).
The reference objectives below are written independently of the package code
(their own forward pass, loss and regularizer formulas).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from quanttheory.formats.grid import Grid
from quanttheory.training import mlp
from quanttheory.training.data import make_spirals, make_teacher
from quanttheory.training.phi import dphi_builtin, phi_and_grad, sandwich_constants
from quanttheory.training.train import TrainConfig, train

H = 1e-6
TOL = 1e-6


# ----------------------------------------------------------------- reference code
def ref_phi(name, u, r_b, r_t):
    """Regularizers written out from SPEC section 1 (no package code)."""
    if name == "qsin":
        out = np.sin(np.pi * u) ** 2
        out = np.where(u < r_b, np.pi**2 * (u - r_b) ** 2, out)
        return np.where(u > r_t, np.pi**2 * (u - r_t) ** 2, out)
    if name == "msqe":
        return (u - np.clip(np.round(u), r_b, r_t)) ** 2
    if name == "sinreq":
        return np.sin(np.pi * u) ** 2
    raise KeyError(name)


def ref_ce(logits, y):
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return float(np.mean(lse - logits[np.arange(len(y)), y]))


def ref_forward(W, b, X, act=None):
    a, hidden = X, []
    for l in range(len(W)):
        h = a @ W[l] + b[l]
        if l < len(W) - 1:
            A = np.maximum(h, 0)
            hidden.append(A)
            a = A if act is None else act(l, A)
    return h, hidden


def small_problem(seed=0, sizes=(3, 5, 4, 3), n=17):
    g = np.random.default_rng(seed)
    X = g.standard_normal((n, sizes[0]))
    y = g.integers(0, sizes[-1], n)
    p = mlp.init_mlp(sizes, g)
    for v in p.b:
        v[:] = 0.1 * g.standard_normal(v.shape)
    return p, X, y, g


def fd(f, arr, idx):
    old = arr[idx]
    arr[idx] = old + H
    fp = f()
    arr[idx] = old - H
    fm = f()
    arr[idx] = old
    return (fp - fm) / (2 * H)


def fd_array(f, arr):
    out = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        out[idx] = fd(f, arr, idx)
    return out


def assert_grad(analytic, numeric, what):
    scale = max(1.0, float(np.max(np.abs(numeric))))
    err = float(np.max(np.abs(np.asarray(analytic) - numeric))) / scale
    assert err < TOL, f"{what}: max relative error {err:.2e}"


def my_qsin(u, r_b, r_t):
    """A user QSin written as a plain scalar function (numba-compilable)."""
    if u < r_b:
        return math.pi**2 * (u - r_b) ** 2
    if u > r_t:
        return math.pi**2 * (u - r_t) ** 2
    return math.sin(math.pi * u) ** 2


# ----------------------------------------------------------------- phi'
@pytest.mark.parametrize("name", ["qsin", "msqe", "sinreq"])
@pytest.mark.parametrize("bits", [2, 4])
def test_dphi_builtin_matches_mpmath(name, bits):
    """Analytic phi' vs mpmath's numerical derivative of an mpmath phi (50 digits)."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    g = Grid(bits)

    def mp_phi(u):
        if name == "msqe":
            q = min(max(mpmath.nint(u), g.r_b), g.r_t)
            return (u - q) ** 2
        if name == "qsin" and u < g.r_b:
            return mpmath.pi**2 * (u - g.r_b) ** 2
        if name == "qsin" and u > g.r_t:
            return mpmath.pi**2 * (u - g.r_t) ** 2
        return mpmath.sin(mpmath.pi * u) ** 2

    u = np.random.default_rng(1).uniform(g.r_b - 3, g.r_t + 3, 200)
    # stay away from the kinks of MSQE (half-integers) and the tails' joins
    u = u[np.abs(u - np.round(u * 2) / 2) > 1e-3]
    got = dphi_builtin({"qsin": 1, "msqe": 0, "sinreq": 2}[name], u, g.r_b, g.r_t)
    want = np.array([float(mpmath.diff(mp_phi, mpmath.mpf(float(x)))) for x in u])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # and phi itself equals the reference formula
    np.testing.assert_allclose(phi_and_grad(name, u, g.r_b, g.r_t).phi, ref_phi(name, u, g.r_b, g.r_t),
                               rtol=1e-12, atol=1e-12)


def test_dphi_user_central_difference():
    """A user QSin (numba scalar) gets phi' by central difference: matches the analytic
    QSin derivative within the error bound of quanttheory.training.phi
    (1.5e-13 * 12**2 * 4 pi**3 + 2.3e-10 * (pi + 2 pi**2 * 4) ~ 2e-8 at |u| = 12)."""

    u = np.random.default_rng(2).uniform(-12, 12, 500)
    pg = phi_and_grad(my_qsin, u, -8, 7)
    np.testing.assert_allclose(pg.dphi, dphi_builtin(1, u, -8, 7), rtol=0, atol=3e-8)
    np.testing.assert_allclose(pg.phi, ref_phi("qsin", u, -8, 7), atol=1e-12)


def test_sandwich_constants_pointwise():
    u = np.linspace(-12, 12, 200001)
    g = Grid(4)
    ms = ref_phi("msqe", u, g.r_b, g.r_t)
    a, b = sandwich_constants("qsin")
    q = ref_phi("qsin", u, g.r_b, g.r_t)
    assert np.all(a * ms <= q * (1 + 1e-12)) and np.all(q <= b * ms * (1 + 1e-12) + 1e-26)  # sin(pi n) ~ 1e-15, squared
    assert np.isclose(np.min(q[ms > 1e-6] / ms[ms > 1e-6]), 4.0, rtol=1e-6)  # tight at half-integers
    assert sandwich_constants("sinreq") is None


# ----------------------------------------------------------------- SQR gradients
@pytest.mark.parametrize("reg", ["qsin", "msqe", "sinreq"])
@pytest.mark.parametrize("act_ste", [False, True])
def test_sqr_gradients_vs_finite_differences(reg, act_ste):
    p, X, y, g = small_problem(3)
    wg, ag = Grid(3, True), Grid(3, False)
    p.s_w[:] = [0.3, 0.2, 0.25]
    p.s_a[:] = [0.15, 0.2]
    lam_w, lam_a = 0.7, 1.3
    lg = mlp.sqr_loss_grads(p, X, y, reg, wg, ag, lam_w, lam_a, act_ste)

    # STE surrogate: A_q = s_a (clip(A/s_a, 0, r_t) + c), c = round_clip(A/s_a) - clip(A/s_a)
    # frozen at the current point (recorded along the quantized forward pass), whose
    # derivative in A is exactly the straight-through mask 1[0 <= A/s_a <= r_t]
    c = []

    def rec(l, A):
        u = A / p.s_a[l]
        c.append(np.clip(np.round(u), ag.r_b, ag.r_t) - np.clip(u, ag.r_b, ag.r_t))
        return p.s_a[l] * np.clip(np.round(u), ag.r_b, ag.r_t)

    if act_ste:
        ref_forward(p.W, p.b, X, rec)

    def act(l, A):
        if not act_ste:
            return A
        return p.s_a[l] * (np.clip(A / p.s_a[l], ag.r_b, ag.r_t) + c[l])

    def lw():
        return sum(s**2 * np.mean(ref_phi(reg, W / s, wg.r_b, wg.r_t)) for W, s in zip(p.W, p.s_w))

    def la():
        _, hid = ref_forward(p.W, p.b, X, act)
        return sum(s**2 * np.mean(ref_phi(reg, A / s, ag.r_b, ag.r_t)) for A, s in zip(hid, p.s_a))

    def ce():
        return ref_ce(ref_forward(p.W, p.b, X, act)[0], y)

    def main_obj():  # what W, b and s_w descend: CE + lam_w L_w
        return ce() + lam_w * lw()

    assert lg.loss == pytest.approx(main_obj() + lam_a * la(), rel=1e-12)
    assert lg.lw == pytest.approx(lw(), rel=1e-12) and lg.la == pytest.approx(la(), rel=1e-12)
    for l in range(p.n_layers):
        assert_grad(lg.dW[l], fd_array(main_obj, p.W[l]), f"dW[{l}]")
        assert_grad(lg.db[l], fd_array(main_obj, p.b[l]), f"db[{l}]")
    # log-scale gradients: d/dt f(s e^t) at t = 0
    logs_w = np.log(p.s_w)
    logs_a = np.log(p.s_a)

    def with_logs(f, arr, logs):
        def g_():
            arr[:] = np.exp(logs)
            return f()
        return g_

    assert_grad(lg.ds_w, fd_array(with_logs(main_obj, p.s_w, logs_w), logs_w), "dlog s_w")
    p.s_w[:] = np.exp(logs_w)
    # App. D: s_a receives only lam_a L_a's gradient with the activations A held fixed
    # (not CE's, even when the forward pass quantizes with s_a) ...
    _, hid_fixed = ref_forward(p.W, p.b, X, act)

    def la_fixed():
        return sum(s**2 * np.mean(ref_phi(reg, A / s, ag.r_b, ag.r_t)) for A, s in zip(hid_fixed, p.s_a))

    assert_grad(lg.ds_a, fd_array(with_logs(lambda: lam_a * la_fixed(), p.s_a, logs_a), logs_a), "dlog s_a")
    p.s_a[:] = np.exp(logs_a)
    # ... and W gets none of it: the full objective's W-gradient differs (the rule is active)
    full = fd_array(lambda: main_obj() + lam_a * la(), p.W[0])
    assert np.max(np.abs(full - lg.dW[0])) > 1e-4


def test_float_gradients_vs_finite_differences():
    p, X, y, _ = small_problem(5)
    lg = mlp.float_loss_grads(p, X, y)

    def obj():
        return ref_ce(ref_forward(p.W, p.b, X)[0], y)

    assert lg.loss == pytest.approx(obj(), rel=1e-12)
    for l in range(p.n_layers):
        assert_grad(lg.dW[l], fd_array(obj, p.W[l]), f"dW[{l}]")
        assert_grad(lg.db[l], fd_array(obj, p.b[l]), f"db[{l}]")


# ----------------------------------------------------------------- LSQ
def test_lsq_quantize_formula_by_hand():
    g = Grid(4, True)  # [-8, 7]
    v = np.array([0.26, -3.0, 10.0, -4.6])
    q = mlp.lsq_quantize(v, 0.5, g)  # u = 0.52, -6, 20, -9.2
    np.testing.assert_array_equal(q.vq, [0.5, -3.0, 3.5, -4.0])
    np.testing.assert_array_equal(q.inside, [1, 1, 0, 0])
    np.testing.assert_allclose(q.dvq_ds, [1 - 0.52, 0.0, 7.0, -8.0], atol=1e-15)
    assert mlp.lsq_grad_scale(300, g) == pytest.approx(1 / math.sqrt(300 * 7))


def test_lsq_ste_gradients_vs_surrogate_finite_differences():
    """LSQ's gradients are exact derivatives of the straight-through surrogate
    v_q = s (clip(v/s, r_b, r_t) + c) with c = round_clip(v/s) - clip(v/s) frozen at
    the current point: dv_q/dv = 1[r_b <= v/s <= r_t], dv_q/ds = round(v/s) - v/s
    inside and r_b / r_t when clipped (LSQ's formulas); the scale gradients carry
    LSQ's factor g = 1/sqrt(N r_t)."""
    p, X, y, _ = small_problem(7)
    wg, ag = Grid(3, True), Grid(3, False)
    p.s_w[:] = [0.25, 0.2, 0.3]  # some weights clip (|W| up to ~2 > 4 * 0.25)
    _, hid0 = ref_forward(p.W, p.b, X)
    p.s_a[:] = [float(np.max(h)) / 5 for h in hid0]  # some activations clip too
    lg = mlp.lsq_loss_grads(p, X, y, wg, ag)
    cw = [np.clip(np.round(W / s), wg.r_b, wg.r_t) - np.clip(W / s, wg.r_b, wg.r_t) for W, s in zip(p.W, p.s_w)]
    W0 = [w.copy() for w in p.W]
    s0 = p.s_w.copy()
    assert any(np.any(np.abs(W / s) > 4) for W, s in zip(W0, s0)), "test needs clipped weights"

    def obj():
        Wq = [s * (np.clip(W / s, wg.r_b, wg.r_t) + c) for W, s, c in zip(p.W, p.s_w, cw)]
        act = lambda l, A: p.s_a[l] * (np.clip(A / p.s_a[l], ag.r_b, ag.r_t) + ca[l])  # noqa: E731
        return ref_ce(ref_forward(Wq, p.b, X, act)[0], y)

    s_a0 = p.s_a.copy()
    # frozen activation offsets at the current point (forward through quantized weights/acts)
    Wq0 = [s * np.clip(np.round(W / s), wg.r_b, wg.r_t) for W, s in zip(W0, s0)]
    ca = []

    def rec(l, A):
        u = A / s_a0[l]
        ca.append(np.clip(np.round(u), ag.r_b, ag.r_t) - np.clip(u, ag.r_b, ag.r_t))
        return s_a0[l] * np.clip(np.round(A / s_a0[l]), ag.r_b, ag.r_t)

    logits0, _ = ref_forward(Wq0, p.b, X, rec)
    assert lg.loss == pytest.approx(ref_ce(logits0, y), rel=1e-12)
    assert obj() == pytest.approx(lg.loss, rel=1e-12)
    for l in range(p.n_layers):
        assert_grad(lg.dW[l], fd_array(obj, p.W[l]), f"dW[{l}]")
        assert_grad(lg.db[l], fd_array(obj, p.b[l]), f"db[{l}]")
    gw = np.array([mlp.lsq_grad_scale(W.size, wg) for W in p.W])
    ga = np.array([mlp.lsq_grad_scale(W.shape[1], ag) for W in p.W[:-1]])
    assert_grad(lg.ds_w / gw, fd_array(obj, p.s_w), "ds_w / g")
    assert_grad(lg.ds_a / ga, fd_array(obj, p.s_a), "ds_a / g")


# ----------------------------------------------------------------- training runs
@pytest.fixture(scope="module")
def tiny():
    data = make_spirals(600, 600, rng=11)
    base = train(data, TrainConfig(method="float", hidden=(16, 16), epochs=40, milestones=(30,), batch_size=32),
                 rng=1)
    assert base.epochs["test_acc"][-1] > 0.95
    return data, base


def _cfg(**kw):
    base = dict(hidden=(16, 16), epochs=6, milestones=(2, 4), batch_size=32, snapshot_epochs=())
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_theorem1_sandwich_along_training_qsin(tiny, bits):
    """4 MSQE_w <= L_w <= pi^2 MSQE_w (per layer) at every recorded step of a QSin run
    (Theorem 1 with QSin's tight constants, SPEC section 3)."""
    data, base = tiny
    r = train(data, _cfg(method="sqr", regularizer="qsin", bits=bits), init=base.params, rng=3)
    ms, lw = r.steps["msqe_w"], r.steps["lw"]
    assert ms.shape == lw.shape == (6 * (600 // 32) + 1, 3)
    assert np.all(4 * ms <= lw * (1 + 1e-12)), np.min(lw / ms)
    assert np.all(lw <= math.pi**2 * ms * (1 + 1e-12)), np.max(lw / ms)
    # the package's grid functions give the same MSQE_w at the end
    from quanttheory.formats.grid import mean_msqe
    want = [mean_msqe(W, s, Grid(bits)) for W, s in zip(r.params.W, r.params.s_w)]
    np.testing.assert_allclose(ms[-1], want, rtol=1e-12)
    # and the regularizer pulled the weights towards the grid
    assert ms[-1].sum() < 0.1 * ms[0].sum()


def test_sandwich_msqe_is_equality_and_sinreq_breaks(tiny):
    data, base = tiny
    r = train(data, _cfg(method="sqr", regularizer="msqe", bits=4), init=base.params, rng=3)
    np.testing.assert_allclose(r.steps["lw"], r.steps["msqe_w"], rtol=1e-12)
    # SinReQ has no quadratic tails: with a learned scale it shrinks s, pushes weights
    # outside the grid, and no a > 0 bounds it below by MSQE (SPEC section 3)
    r = train(data, _cfg(method="sqr", regularizer="sinreq", bits=2), init=base.params, rng=3)
    sin_lw = np.array([s**2 * np.mean(ref_phi("sinreq", W / s, -2, 1)) for W, s in zip(r.params.W, r.params.s_w)])
    assert np.allclose(sin_lw, r.steps["lw"][-1], rtol=1e-12)
    assert np.min(r.steps["lw"][-1] / r.steps["msqe_w"][-1]) < 1.0
    assert np.all(r.steps["lw"] <= math.pi**2 * r.steps["msqe_w"] * (1 + 1e-12))  # upper bound survives


def test_qsin_closer_to_categorical_than_lsq(tiny):
    """App. C's claim at toy scale: QSin-trained weights sit on the grid, LSQ's latent
    weights do not (grid-unit MSQE ~1/12 = spread evenly in each cell)."""
    from quanttheory.training.experiments import grid_msqe

    data, base = tiny
    q = train(data, _cfg(method="sqr", regularizer="qsin", bits=4, epochs=10, milestones=(4, 7)),
              init=base.params, rng=3)
    s = train(data, _cfg(method="lsq", bits=4, epochs=10, milestones=(4, 7)), init=base.params, rng=3)
    assert grid_msqe(q.params, 4) < 0.01 < 0.04 < grid_msqe(s.params, 4)
    for r in (q, s):  # both keep the pretrained accuracy (> 0.95) roughly (chance: 1/3)
        assert mlp.evaluate(r.params, data.X_test, data.y_test, 4).accuracy > 0.9


def test_reproducible_from_seed(tiny):
    data, base = tiny
    for method in ("sqr", "lsq"):
        a = train(data, _cfg(method=method, epochs=2, milestones=()), init=base.params, rng=5)
        b = train(data, _cfg(method=method, epochs=2, milestones=()), init=base.params, rng=np.random.default_rng(5))
        c = train(data, _cfg(method=method, epochs=2, milestones=()), init=base.params, rng=6)
        for x, y_ in zip(a.params.W + [a.params.s_w, a.params.s_a], b.params.W + [b.params.s_w, b.params.s_a]):
            np.testing.assert_array_equal(x, y_)
        assert not np.array_equal(a.params.W[1], c.params.W[1])
    d1, d2 = make_spirals(50, 50, rng=3), make_spirals(50, 50, rng=3)
    np.testing.assert_array_equal(d1.X_train, d2.X_train)
    t1, t2 = make_teacher(50, 50, rng=4), make_teacher(50, 50, rng=4)
    np.testing.assert_array_equal(t1.y_test, t2.y_test)
    # init is copied, never modified
    w0 = base.params.W[0].copy()
    train(data, _cfg(epochs=1, milestones=()), init=base.params, rng=1)
    np.testing.assert_array_equal(base.params.W[0], w0)


def test_user_regularizer_trains_like_builtin(tiny):
    """A user QSin (central-difference phi') follows the built-in's trajectory closely."""
    data, base = tiny

    a = train(data, _cfg(regularizer="qsin", epochs=1, milestones=()), init=base.params, rng=2)
    b = train(data, _cfg(regularizer=my_qsin, epochs=1, milestones=()), init=base.params, rng=2)
    np.testing.assert_allclose(b.steps["lw"], a.steps["lw"], rtol=1e-5)
    np.testing.assert_allclose(b.params.W[1], a.params.W[1], rtol=0, atol=1e-6)


def test_schedule_and_verbose(tiny, capsys):
    data, base = tiny
    r = train(data, _cfg(lam_w=2.0, lr=0.04, snapshot_epochs=(0, 6)), init=base.params, rng=1, verbose=True)
    np.testing.assert_allclose(r.epochs["lam_w"], [2, 2, 20, 20, 200, 200])
    np.testing.assert_allclose(r.epochs["lr"], [0.04, 0.04, 0.004, 0.004, 0.0004, 0.0004])
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 6 and "epoch   6/6" in out[-1] and "test acc" in out[-1]
    assert set(r.snapshots) == {0, 6}


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize("kw, exc, msg", [
    ({"method": "adam"}, ValueError, "method"),
    ({"bits": 0}, ValueError, "bits"),
    ({"bits": 1, "method": "lsq"}, ValueError, "bits must be >= 2"),
    ({"bits": 2.5}, TypeError, "bits"),
    ({"lr": -1.0}, ValueError, "lr"),
    ({"momentum": 1.0}, ValueError, "momentum"),
    ({"lam_w": 0.0}, ValueError, "lam_w"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"snapshot_epochs": (31,)}, ValueError, "snapshot_epochs"),
    ({"regularizer": "nope"}, ValueError, "unknown regularizer"),
    ({"regularizer": 3}, TypeError, "regularizer"),
    ({"hidden": ()}, ValueError, "hidden"),
    ({"act_ste": "yes"}, ValueError, "act_ste"),
])
def test_bad_config(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        TrainConfig(**kw)


def test_bad_train_inputs(tiny):
    data, base = tiny
    with pytest.raises(TypeError, match="Dataset"):
        train((data.X_train, data.y_train), TrainConfig())
    with pytest.raises(TypeError, match="TrainConfig"):
        train(data, {"method": "sqr"})
    with pytest.raises(TypeError, match="Generator or an int seed"):
        train(data, TrainConfig(epochs=1), rng=None)
    other = mlp.init_mlp((2, 8, 5), np.random.default_rng(0))
    with pytest.raises(ValueError, match="incompatible"):
        train(data, TrainConfig(epochs=1), init=other)
    with pytest.raises(ValueError, match="n_classes"):
        make_spirals(10, 10, n_classes=1)
    with pytest.raises(ValueError, match="noise"):
        make_spirals(10, 10, noise=-1.0)
    with pytest.raises(ValueError, match="at least two layers"):
        mlp.init_mlp((2, 3), np.random.default_rng(0))

    def bad(u, r_b, r_t):
        return np.full_like(u, np.nan)

    with pytest.raises(ValueError, match="finite"):
        train(data, TrainConfig(regularizer=bad, epochs=1, hidden=(16, 16)), init=base.params)


# ----------------------------------------------------------------- experiments / figures
def test_experiments_quick_cli_and_table(tmp_path, capsys):
    from quanttheory.training import experiments

    out = tmp_path / "t.npz"
    assert experiments.main(["--quick", "--out", str(out)]) == 0
    res = experiments.load(out)
    assert res["acc"].shape == (len(experiments.METHODS), 2, 1) and np.all((res["acc"] >= 0) & (res["acc"] <= 1))
    assert res["hist_counts"].sum(axis=-1).min() > 0
    txt = capsys.readouterr().out
    assert "| QSin |" in txt and "| LSQ |" in txt


def test_committed_results_file():
    """The committed results (figures' full mode) have the documented layout and
    satisfy the sandwich; QSin's final weights are far closer to the grid than LSQ's."""
    from quanttheory.training import experiments
    from quanttheory.figures.training_bits import DATA

    res = experiments.load(DATA)
    M, B, S = res["acc"].shape
    assert list(res["methods"]) == list(experiments.METHODS) and S >= 3
    ms, lw = res["sandwich_msqe"].astype(float), res["sandwich_lw"].astype(float)
    assert np.all(4 * ms <= lw * (1 + 1e-6)) and np.all(lw <= math.pi**2 * ms * (1 + 1e-6))
    q, s = list(res["methods"]).index("QSin"), list(res["methods"]).index("LSQ")
    assert np.all(res["grid_msqe"][q] < res["grid_msqe"][s])
    assert DATA.stat().st_size < 200_000


@pytest.mark.parametrize("name", ["training_histograms", "training_bits", "training_sandwich"])
def test_figures_quick(tmp_path, name):
    import importlib

    mod = importlib.import_module(f"quanttheory.figures.{name}")
    paths = mod.make(tmp_path, quick=True)
    assert paths and all(p.exists() and p.stat().st_size > 1000 for p in paths)
    assert mod.ORDER >= 300


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, quanttheory.training; "
            "print(any(m.startswith(('numba', 'matplotlib', 'quanttheory.training.')) for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_committed_results_reproduce_from_code():
    """Re-run seed 0 at 4 bits with the committed configuration: the stored accuracies
    and final grid MSQEs come out again (tolerance: 2 test points, 1e-6 relative, to
    allow for a different BLAS summation order on another machine)."""
    import json
    from dataclasses import replace

    from quanttheory.figures.training_bits import DATA
    from quanttheory.training import experiments

    res = experiments.load(DATA)
    cfg = experiments.ExperimentConfig()
    assert json.loads(str(res["config"])) == json.loads(json.dumps(cfg.as_dict()))
    sub = experiments.run(replace(cfg, seeds=(0,), bits=(4,)))
    i = list(res["bits"]).index(4)
    j = list(res["seeds"]).index(0)
    np.testing.assert_allclose(sub["acc"][:, 0, 0], res["acc"][:, i, j], atol=2.5 / cfg.n_test)
    np.testing.assert_allclose(sub["grid_msqe"][:, 0, 0], res["grid_msqe"][:, i, j], rtol=1e-6)
    np.testing.assert_allclose(sub["hist_counts"], res["hist_counts"], atol=2)
