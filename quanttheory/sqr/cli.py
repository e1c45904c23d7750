"""Loading the regularizer of ``quanttheory check-regularizer`` (the subcommand itself is
:mod:`quanttheory.cli.check_regularizer`): built-in names, ``MODULE:FUNC`` (the current directory is
searched too) and ``path/to/file.py:FUNC``.

The examples and the exit status are documented in :mod:`quanttheory.cli.check_regularizer`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import pathlib
import sys


@contextlib.contextmanager
def _cwd_on_path():
    """``python -m`` puts the current directory on sys.path, a console script does not: add it while
    importing a user module, so ``mymodule:phi`` next to ``mymodule.py`` works either way."""
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(cwd)


def _import(mod_name: str):
    try:
        with _cwd_on_path():
            return importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and mod_name.split(".")[0] == exc.name.split(".")[0]:
            raise ValueError(
                f"cannot import module {mod_name!r}: no module {exc.name!r} on sys.path or in the current "
                f"directory {os.getcwd()!r}; run from the directory holding {exc.name.split('.')[0]}.py, "
                f"install the package, or pass a file: path/to/{mod_name.split('.')[-1]}.py:FUNC") from exc
        raise ValueError(f"cannot import module {mod_name!r}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:
        raise ValueError(f"cannot import module {mod_name!r}: {type(exc).__name__}: {exc}") from exc


def load_callable(spec: str):
    """Resolve ``name``, ``MODULE:FUNC`` or ``file.py:FUNC`` to a name or a callable."""
    if ":" not in spec:
        from .examples import names

        if spec.lower() in names():
            return spec.lower()
        raise ValueError(f"unknown regularizer {spec!r}: use one of {names()} or MODULE:FUNC / file.py:FUNC")
    mod_name, _, attr = spec.rpartition(":")
    if not mod_name or not attr:
        raise ValueError(f"expected MODULE:FUNC, got {spec!r}")
    if mod_name.endswith(".py"):
        path = pathlib.Path(mod_name)
        if not path.is_file():
            raise ValueError(f"no such file {mod_name!r}")
        s = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(s)
        try:
            s.loader.exec_module(module)
        except Exception as exc:
            raise ValueError(f"importing {mod_name!r} failed: {type(exc).__name__}: {exc}") from exc
    else:
        module = _import(mod_name)
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"module {mod_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise TypeError(f"{spec} is a {type(obj).__name__}, not a callable phi(u, r_b, r_t)")
    return obj
