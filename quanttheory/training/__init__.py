"""Small-scale CPU training with smooth quantization regularizers (ECCV App. C/D).

A NumPy-only reproduction, at toy scale, of the paper's training recipe::

    E[L] + lambda_w * sum_l s_l**2 mean phi(W_l / s_l)
         + lambda_a * sum_l E[s_a**2 mean phi(A_l / s_a)]      (App. D: the activation
                                                                 term updates s_a only)

next to LSQ (straight-through estimator, learned step size with LSQ's gradient
scale) and a float baseline with post-training quantization.

Modules (import on use; ``import quanttheory.training`` only loads this file):

* :mod:`~quanttheory.training.phi`  -- phi and phi'(u) of a regularizer (analytic for
  the built-ins, central difference for user functions).
* :mod:`~quanttheory.training.data` -- data sets generated in code (spirals, teacher MLP).
* :mod:`~quanttheory.training.mlp`  -- the MLP, its losses and hand-written gradients.
* :mod:`~quanttheory.training.train` -- :func:`train`, :class:`TrainConfig`, :class:`TrainResult`.
* :mod:`~quanttheory.training.experiments` -- the multi-seed experiment behind the figures
  (``python -m quanttheory.training.experiments --out FILE.npz``).
"""

from __future__ import annotations

_LAZY = {
    "phi_and_grad": "phi",
    "PhiGrad": "phi",
    "make_spirals": "data",
    "make_teacher": "data",
    "Dataset": "data",
    "MLPParams": "mlp",
    "init_mlp": "mlp",
    "evaluate": "mlp",
    "quantized_params": "mlp",
    "TrainConfig": "train",
    "TrainResult": "train",
    "train": "train",
    "pretrain_and_finetune": "train",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module 'quanttheory.training' has no attribute {name!r}")


__all__ = sorted(_LAZY)
