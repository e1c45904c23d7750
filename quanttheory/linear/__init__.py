"""Linear student–teacher model: exact GD learning curves and clamped-weight simulation (SAT S1).

Light to import (no scipy/matplotlib/numba until used).  Main entry points::

    from quanttheory.linear import learning_curves, asymptotic_errors, optimal_stopping
    from quanttheory.linear import seed_s1, s1_comparison, simulate, measure_amplification

See docs/linear.md for the formulas, the seed errors and the regimes where the
seed's qualitative claims hold.
"""

from __future__ import annotations

_LAZY = {
    # theory
    "mp_edges": "theory", "mp_density": "theory", "mp_atom": "theory", "mp_rule": "theory",
    "mp_integrate": "theory", "generalization_error": "theory", "training_error": "theory",
    "learning_curves": "theory", "LearningCurves": "theory", "asymptotic_errors": "theory",
    "Limits": "theory", "optimal_stopping": "theory", "OptimalStopping": "theory",
    "seed_s1": "theory", "s1_comparison": "theory", "S1Comparison": "theory",
    # simulation
    "simulate": "sim", "SimResult": "sim", "TRANSFORMS": "sim", "transform_forward": "sim",
    "transform_backward": "sim", "effective_parameters": "sim", "EffectiveParameters": "sim",
    # learning-rate amplification
    "measure_amplification": "amplification", "Amplification": "amplification",
    "expected_inv_max_sq": "amplification", "amplification_law": "amplification",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(mod, name)
    raise AttributeError(f"module 'quanttheory.linear' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = sorted(_LAZY)
