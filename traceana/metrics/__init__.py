"""The metric library: one module per family, pure functions from a LazyFrame to a small table.

Families: latency, concurrency, utilization, slo, cost, capacity, degradation,
checklist, support, user_visible. Each module's and each function's docstring states its definition,
formula and units (``docs/metrics.md`` collects them). Every public function of a family is
also available here (``traceana.metrics.percentiles``) and listed in
``__all__`` / ``dir()``; :data:`FUNCTIONS` maps each to its family.
"""

from __future__ import annotations

import importlib
import inspect

FAMILIES = (
    "latency",
    "concurrency",
    "utilization",
    "slo",
    "cost",
    "capacity",
    "degradation",
    "checklist",
    "support",
    "user_visible",
)


def _functions() -> dict[str, str]:
    """name -> family of every public function a family module defines (the first family wins a name)."""
    out: dict[str, str] = {}
    for fam in FAMILIES:
        mod = importlib.import_module(f"{__name__}.{fam}")
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            # a function named like a family (cost.cost?) stays reachable as family.name only
            if not name.startswith("_") and fn.__module__ == mod.__name__ and name not in FAMILIES:
                out.setdefault(name, fam)
    return out


FUNCTIONS: dict[str, str] = _functions()

__all__ = [*FAMILIES, *sorted(FUNCTIONS)]


def __getattr__(name: str):
    if name in FAMILIES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in FUNCTIONS:
        return getattr(importlib.import_module(f"{__name__}.{FUNCTIONS[name]}"), name)
    raise AttributeError(name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
