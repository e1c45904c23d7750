"""Cost of one training epoch per method, as a ratio to the float baseline (same run).

    OMP_NUM_THREADS=1 python benchmarks/bench_training.py

Plain script (not collected by pytest, never pass/fail).  Setting: the experiment's
spirals data (3000 training points), MLP 2-32-32-3, batch 64 (46 steps/epoch).  Each time is
the minimum over REPEAT runs of 5 epochs (wall clock, after a 1-epoch warm-up that also compiles
the numba user phi), divided by 5; the float baseline is measured the same way in the same run.
"""

from __future__ import annotations

import math
import time

from quanttheory.training.data import make_spirals
from quanttheory.training.train import TrainConfig, pretrain, train


REPEAT = 5


def best_of(fn, repeat=REPEAT):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main():
    data = make_spirals(3000, 3000, rng=0)
    base = pretrain(data, epochs=2, rng=1).params
    epochs = 5
    cases = [("float", dict(method="float")), ("QSin 4b", dict(method="sqr", regularizer="qsin")),
             ("QSin 4b round-free acts", dict(method="sqr", regularizer="qsin", act_ste=False)),
             ("MSQE 4b", dict(method="sqr", regularizer="msqe")), ("LSQ 4b", dict(method="lsq"))]

    def user_qsin(u, r_b, r_t):  # numba-compiled user phi, central-difference phi'
        if u < r_b:
            return math.pi**2 * (u - r_b) ** 2
        if u > r_t:
            return math.pi**2 * (u - r_t) ** 2
        return math.sin(math.pi * u) ** 2

    cases.append(("user QSin 4b (central diff.)", dict(method="sqr", regularizer=user_qsin)))
    times = {}
    for name, kw in cases:
        cfg = TrainConfig(bits=4, epochs=epochs, milestones=(), **kw)
        train(data, TrainConfig(bits=4, epochs=1, milestones=(), **kw), init=base, rng=0)  # warm-up / compile
        times[name] = best_of(lambda: train(data, cfg, init=base, rng=0)) / epochs
    ref = times["float"]
    print(f"ms per epoch, minimum of {REPEAT} runs of {epochs} epochs each")
    print(f"{'method':32s} {'ms/epoch':>9s} {'x float':>8s}")
    for name, t in times.items():
        print(f"{name:32s} {1e3 * t:9.1f} {t / ref:8.2f}")


if __name__ == "__main__":
    main()
