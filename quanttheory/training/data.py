"""Synthetic classification data sets generated in code (no downloads).

Every generator takes an explicit ``numpy.random.Generator`` or int seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validate import as_generator


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/test split of a ``n_classes``-class problem.

    ``X_*`` are float64 ``(n, d)`` arrays, ``y_*`` int64 labels in ``0..n_classes-1``.
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def dim(self) -> int:
        return int(self.X_train.shape[1])


def _check_counts(n_train, n_test, n_classes):
    for v, name in ((n_train, "n_train"), (n_test, "n_test"), (n_classes, "n_classes")):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    if n_train < n_classes or n_test < n_classes:
        raise ValueError(f"n_train and n_test must be >= n_classes ({n_classes}), got {n_train}, {n_test}")


def make_spirals(n_train: int = 3000, n_test: int = 3000, n_classes: int = 3, *,
                 noise: float = 0.03, turns: float = 1.25, rng=0) -> Dataset:
    """Interleaved 2-D spirals, one arm per class.

    A point of class ``k`` is ``r (cos theta, sin theta) + noise * N(0, I_2)`` with
    ``r ~ U(0.05, 1)`` and ``theta = 2 pi (turns * r + k / n_classes)``.
    """
    _check_counts(n_train, n_test, n_classes)
    if not (isinstance(noise, (int, float)) and noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    if not (isinstance(turns, (int, float)) and turns > 0 and math.isfinite(turns)):
        raise ValueError(f"turns must be a finite number > 0, got {turns!r}")
    g = as_generator(rng)

    def draw(n):
        y = g.integers(0, n_classes, size=n)
        r = g.uniform(0.05, 1.0, size=n)
        th = 2 * math.pi * (turns * r + y / n_classes)
        X = np.stack([r * np.cos(th), r * np.sin(th)], axis=1) + noise * g.standard_normal((n, 2))
        return X, y.astype(np.int64)

    Xtr, ytr = draw(int(n_train))
    Xte, yte = draw(int(n_test))
    return Dataset("spirals", Xtr, ytr, Xte, yte, int(n_classes))


def make_teacher(n_train: int = 3000, n_test: int = 3000, n_classes: int = 4, *, dim: int = 8,
                 hidden: int = 32, rng=0) -> Dataset:
    """Labels of a random teacher MLP: ``y = argmax(tanh(x A) B)``, ``x ~ N(0, I_dim)``,
    ``A ~ N(0, 1/dim)``, ``B ~ N(0, 1/hidden)`` (realizable, noiseless)."""
    _check_counts(n_train, n_test, n_classes)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    if isinstance(hidden, bool) or not isinstance(hidden, (int, np.integer)) or hidden < 1:
        raise ValueError(f"hidden must be a positive integer, got {hidden!r}")
    g = as_generator(rng)
    A = g.standard_normal((dim, hidden)) / math.sqrt(dim)
    B = g.standard_normal((hidden, n_classes)) / math.sqrt(hidden)
    X = g.standard_normal((int(n_train) + int(n_test), dim))
    y = np.argmax(np.tanh(X @ A) @ B, axis=1).astype(np.int64)
    return Dataset("teacher", X[:n_train], y[:n_train], X[n_train:], y[n_train:], int(n_classes))
