"""``quanttheory check-regularizer`` (the logic lives in :mod:`quanttheory.sqr.cli`)."""

from .sqr.cli import add_arguments, load_callable, run  # noqa: F401
