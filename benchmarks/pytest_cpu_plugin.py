"""Per-test CPU time and numba compile time of a pytest run (measurement tool, not a test).

Usage (the machine may be loaded: CPU time, not wall, is the comparable number)::

    CI=true NUMBA_CACHE_DIR=/tmp/cold_cache CPUPLUG_OUT=/tmp/cpu.json PYTHONPATH=benchmarks \\
        .venv/bin/python -m pytest -q -p no:cacheprovider -p pytest_cpu_plugin

Writes one JSON line per test to ``$CPUPLUG_OUT.lines`` as it goes,
``[nodeid, cpu_s, wall_s, compile_cpu_s]`` (setup + call + teardown; ``time.process_time``),
and at the end ``$CPUPLUG_OUT`` with the compile CPU per outermost jitted function.  Compile time
is the CPU spent inside outermost ``numba:compile`` events (nested callee compiles are included
in their caller's), so on an empty ``NUMBA_CACHE_DIR`` it is the cold-cache compile cost of each test.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from numba.core import event

_OUT = os.environ.get("CPUPLUG_OUT", "pytest_cpu.json")
_rec: dict = {}
_compile = {"top": 0.0}
_stack: list = []
_per_fn: dict = {}


class _Listener(event.Listener):
    def on_start(self, ev):
        _stack.append(time.process_time())

    def on_end(self, ev):
        t0 = _stack.pop()
        if not _stack:
            dt = time.process_time() - t0
            _compile["top"] += dt
            d = ev.data["dispatcher"]
            key = f"{d.py_func.__module__}.{d.py_func.__qualname__}"
            _per_fn[key] = _per_fn.get(key, 0.0) + dt


event.register("numba:compile", _Listener())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    c0, w0, k0 = time.process_time(), time.perf_counter(), _compile["top"]
    yield
    r = (time.process_time() - c0, time.perf_counter() - w0, _compile["top"] - k0)
    _rec[item.nodeid] = r
    with open(_OUT + ".lines", "a") as f:
        f.write(json.dumps([item.nodeid, *r]) + "\n")


def pytest_sessionfinish(session, exitstatus):
    with open(_OUT, "w") as f:
        json.dump({"tests": _rec, "compile_by_fn": _per_fn}, f)
