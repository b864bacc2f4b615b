"""The metric library: one module per family, pure functions from a LazyFrame to a small table.

Families: latency, concurrency, utilization, slo, cost, capacity, degradation, checklist.
Definitions follow DESIGN.md section 3; each function's docstring states its
formula and units.
"""

from __future__ import annotations

import importlib

FAMILIES = ("latency", "concurrency", "utilization", "slo", "cost", "capacity", "degradation", "checklist")

__all__ = list(FAMILIES)


def __getattr__(name: str):
    if name in FAMILIES:
        return importlib.import_module(f"traceana.metrics.{name}")
    raise AttributeError(name)
