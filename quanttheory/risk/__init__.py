"""Risk curves and certified optimal scale factors, for every law of :mod:`quanttheory.laws`.

* :mod:`~quanttheory.risk.curve`: ``expected_phi`` / ``risk_curve``, the one
  engine path (continuous part by the law's kernels + sums over its atoms);
* :mod:`~quanttheory.risk.optimum`: ``optimal_scale``, certified branch and bound
  (continuous laws) or the exact data optimum (atomic laws);
* :mod:`~quanttheory.risk.fastpath`: the bit-independent closed forms;
* :mod:`~quanttheory.risk.data`, :mod:`~quanttheory.risk.data_search`: exact MSE
  sums and the exact optimum of a data tensor;
* :mod:`~quanttheory.risk.baselines`: the scale heuristics used in practice;
* :mod:`~quanttheory.risk.results`: :class:`OptimalScale`;
* :mod:`~quanttheory.risk.levels`, :mod:`~quanttheory.risk.levels_optimum`,
  :mod:`~quanttheory.risk.amax_rule`: any number format (minifloats, NF4, narrow INT,
  level sets): exact curves, certified optimal scale(s), powers of two, the amax rule;
* ``risk._kernels``: their numba kernels (compiled lazily, ``cache=True``).

Importing this package loads neither numba nor scipy.
"""

from __future__ import annotations

from .curve import expected_phi, mse, risk_curve, significant_local_minima
from .data import empirical_mse, mse_sums, optimal_scale_data
from .optimum import optimal_scale
from .results import OptimalScale
from .amax_rule import AmaxRule, amax_rule_mse
from .levels import format_mse, format_risk_curve
from .levels_optimum import FormatMinimum, FormatOptimum, format_optimal_scale
from .format_data import FormatScale, format_data_mse, optimal_scale_format_data

__all__ = ["FormatScale", "format_data_mse", "optimal_scale_format_data", "expected_phi", "mse", "risk_curve", "significant_local_minima", "optimal_scale", "OptimalScale",
           "optimal_scale_data", "empirical_mse", "mse_sums", "format_risk_curve", "format_mse",
           "format_optimal_scale", "FormatOptimum", "FormatMinimum", "amax_rule_mse", "AmaxRule"]
