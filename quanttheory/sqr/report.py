"""Result types of the SQR checker: witnesses, per-property verdicts, extremes and the report."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

import numpy as np

from ..formats.grid import Grid

@dataclass(frozen=True)
class Witness:
    """A concrete counterexample: the point(s) ``u`` (grid units) and the values that break a property."""

    u: tuple[float, ...]
    values: Mapping[str, float]
    message: str

    def to_dict(self) -> dict:
        return {"u": [float(v) for v in self.u], "values": {k: _jsonable(v) for k, v in self.values.items()},
                "message": self.message}


@dataclass(frozen=True)
class PropertyResult:
    """Verdict of one property or claim.

    ``key`` is a stable identifier (``"equivalence"``, ``"prop1.1"``, ...),
    ``numbers`` the measured quantities, ``witness`` a counterexample when it fails.
    """

    key: str
    title: str
    passed: bool
    summary: str
    numbers: Mapping[str, Any] = field(default_factory=dict)
    witness: Witness | None = None

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "passed": self.passed, "summary": self.summary,
                "numbers": {k: _jsonable(v) for k, v in self.numbers.items()},
                "witness": None if self.witness is None else self.witness.to_dict()}


@dataclass(frozen=True)
class Extreme:
    """An extreme ratio ``phi/MSQE``: its value, where it is reached and how.

    ``kind`` is one of ``"half-integer"``, ``"grid point (limit u->n)"``, ``"near grid point"``,
    ``"interior"``, ``"tail"``, ``"far tail"``, ``"far tail (limit u -> inf)"``; ``kinds`` lists every
    kind of location whose ratio is within ``1e-6`` (relative) of ``value``; ``method`` says how the
    value was obtained (mesh extreme refined by golden section, one-sided limit at a grid point by
    Richardson extrapolation, limit at infinity exactly or by an asymptotic fit, or why it is 0 / inf).
    ``value = inf`` (``b'``) or ``0`` (``a``) when the equivalence fails for lack of a finite constant.
    """

    value: float
    u: float
    kind: str
    kinds: tuple[str, ...]
    method: str = ""


@dataclass(frozen=True)
class Coverage:
    """What the mesh covered."""

    cells_total: int
    cells_checked: int
    points_per_cell: int
    mesh_step: float
    tail_cells: int
    far_tail: float
    special_step: float
    n_evaluations: int

    @property
    def complete(self) -> bool:
        return self.cells_checked == self.cells_total


@dataclass(frozen=True)
class SQRReport:
    """Result of :func:`check`: the definition's properties, the paper's claims and the constants."""

    regularizer: str
    grid: Grid
    is_sqr: bool
    a: Extreme
    b_prime: Extreme
    C: float
    C_points: np.ndarray = field(repr=False, compare=False)
    C_values: np.ndarray = field(repr=False, compare=False)
    smoothness_order: int
    smoothness_order_note: str
    jumps: Mapping[int, Mapping[str, Any]]
    definition: tuple[PropertyResult, ...]
    claims: tuple[PropertyResult, ...]
    coverage: Coverage
    thresholds: Mapping[str, float]
    notes: tuple[str, ...]

    @property
    def results(self) -> tuple[PropertyResult, ...]:
        return self.definition + self.claims

    @property
    def passed(self) -> bool:
        """True when every property AND every claim passes."""
        return all(r.passed for r in self.results)

    def failures(self) -> tuple[PropertyResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def __getitem__(self, key: str) -> PropertyResult:
        for r in self.results:
            if r.key == key:
                return r
        raise KeyError(f"no property {key!r}; keys: {[r.key for r in self.results]}")

    def to_dict(self) -> dict:
        return {
            "regularizer": self.regularizer,
            "grid": {"bits": self.grid.bits, "signed": self.grid.signed, "r_b": self.grid.r_b,
                     "r_t": self.grid.r_t},
            "is_sqr": self.is_sqr, "all_passed": self.passed,
            "a": _jsonable(asdict(self.a)), "b_prime": _jsonable(asdict(self.b_prime)), "C": _jsonable(self.C),
            "C_per_grid_point": {"points": [int(p) for p in self.C_points],
                                 "values": [_jsonable(v) for v in self.C_values]},
            "smoothness_order": self.smoothness_order, "smoothness_order_note": self.smoothness_order_note,
            "jumps": {str(k): {kk: _jsonable(vv) for kk, vv in v.items()} for k, v in self.jumps.items()},
            "definition": [r.to_dict() for r in self.definition],
            "claims": [r.to_dict() for r in self.claims],
            "coverage": {**asdict(self.coverage), "complete": self.coverage.complete},
            "thresholds": dict(self.thresholds), "notes": list(self.notes),
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **({"indent": 2} | kw))

    def exit_status(self, strict: bool = False) -> int:
        """Exit status of ``quanttheory check-regularizer``: 0 when ``phi`` IS an SQR (definition 1-3;
        with ``strict`` also every claim must hold), else 1."""
        return 0 if (self.passed if strict else self.is_sqr) else 1

    def verdict_line(self, strict: bool = False) -> str:
        claims = [r.title.split(" ")[0] for r in self.claims if not r.passed]
        rule = "definition 1-3 and every claim (--strict)" if strict else "definition 1-3"
        line = (f"verdict: {'IS' if self.is_sqr else 'is NOT'} an SQR (definition 1-3: equivalence, order "
                f"preservation, C^2); exit status {self.exit_status(strict)} (covers: {rule})")
        if claims:
            line += (f"; claims failing: {', '.join(claims)}" +
                     ("" if strict else " (reported, not in the exit status; --strict counts them)"))
        else:
            line += "; all claims hold"
        return line

    def format_table(self, strict: bool = False) -> str:
        """Human-readable table of every property and claim."""
        g = self.grid
        lines = [f"SQR check of {self.regularizer!r} on the {g}",
                 self.verdict_line(strict),
                 f"a  = {_fmt(self.a.value)}  at u = {_fmt(self.a.u)} ({', '.join(self.a.kinds)})"
                 + (f"; {self.a.method}" if self.a.method else ""),
                 f"b' = {_fmt(self.b_prime.value)}  at u = {_fmt(self.b_prime.u)} ({', '.join(self.b_prime.kinds)})"
                 + (f"; {self.b_prime.method}" if self.b_prime.method else ""),
                 f"C  = phi''(n)/2 = {_fmt(self.C)}  (per grid point: min {_fmt(np.min(self.C_values))}, "
                 f"max {_fmt(np.max(self.C_values))}, {self.C_points.size} points)",
                 f"highest smoothness order found: C^{self.smoothness_order} ({self.smoothness_order_note})",
                 ""]
        w = max(len(r.title) for r in self.results)
        lines.append(f"{'property':<{w}}  result  numbers")
        lines.append("-" * (w + 60))
        for r in self.results:
            lines.append(f"{r.title:<{w}}  {'PASS' if r.passed else 'FAIL':<6}  {r.summary}")
            if r.witness is not None:
                vals = ", ".join(f"{k} = {_fmt(v)}" for k, v in r.witness.values.items())
                us = ", ".join(_fmt(u) for u in r.witness.u[:6]) + (" ..." if len(r.witness.u) > 6 else "")
                lines.append(f"{'':<{w}}    witness u = ({us}): {vals}")
                lines.append(f"{'':<{w}}    {r.witness.message}")
        c = self.coverage
        lines += ["", f"coverage: {c.cells_checked}/{c.cells_total} grid cells x {c.points_per_cell} points "
                  f"(step {c.mesh_step:g}), {c.tail_cells} tail cells per side, far tails to "
                  f"+-{c.far_tail:g}, integers/half-integers with step {c.special_step:g}; "
                  f"{c.n_evaluations} evaluations of phi"]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if v == 0 or 1e-4 <= abs(v) < 1e7:
        return f"{v:.10g}"
    return f"{v:.6e}"


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else str(v)
    return v
