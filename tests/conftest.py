"""Test configuration: hypothesis profiles and the pytest-xdist worker count.

``ci`` (default when CI is set) is derandomized so every run checks the same
examples; ``dev`` explores with fresh randomness.  Select with
``HYPOTHESIS_PROFILE=dev``.  ``ci`` keeps no example database (``database=None``):
derandomized runs do not need one, and parallel workers then share no files.

The suite runs in parallel with pytest-xdist (``pytest -q -n 2``; see
docs/test_suite_time.md).  ``-n auto`` is capped at ``MAX_AUTO_WORKERS``: every
worker compiles the numba kernels it touches that are not yet in the on-disk
cache, so on a cold cache many workers mostly duplicate compilation, and the
memory tests' child processes add up.  ``PYTEST_XDIST_AUTO_NUM_WORKERS`` overrides
the cap.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

MAX_AUTO_WORKERS = 4

settings.register_profile(
    "ci", derandomize=True, database=None, max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow], print_blob=True,
)
settings.register_profile("dev", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """``-n auto``: the usable cores, at most ``MAX_AUTO_WORKERS`` (None: xdist decides)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own hook reads the variable
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_AUTO_WORKERS))
