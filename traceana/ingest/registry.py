"""The adapter registry: every module under ``traceana.ingest.adapters`` (family folders included) that defines ADAPTER."""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from pathlib import Path

from traceana.errors import TraceParseError
from traceana.ingest.base import Adapter
from traceana.ingest.summaries import refuse_summary


@cache
def adapters() -> tuple[Adapter, ...]:
    import traceana.ingest.adapters as pkg

    found = []
    # one module per format, grouped in family folders (bench/, otel/, ...); "_" modules are shared helpers
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg.__name__}."):
        if info.ispkg or info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        mod = importlib.import_module(info.name)
        adapter = getattr(mod, "ADAPTER", None)
        if isinstance(adapter, Adapter):
            found.append(adapter)
    return tuple(sorted(found, key=lambda a: (-a.priority, a.name)))


def names() -> list[str]:
    return [a.name for a in adapters()]


def choose(forced: Adapter | None, head: bytes, path: Path) -> Adapter:
    """The adapter for a file: ``forced`` (--format) or detected; a summary file is refused either way."""
    if forced is None:
        return detect(head, path)
    refuse_summary(head, path)
    return forced


def get(name: str) -> Adapter:
    for a in adapters():
        if a.name == name:
            return a
    raise TraceParseError(
        "--format", f"unknown format '{name}'. Supported formats: {', '.join(sorted(names()))}"
    )


def detect(head: bytes, path: Path) -> Adapter:
    """The first adapter (by priority) whose sniff accepts the file's first bytes.

    A known summary file (traceana.ingest.summaries) is refused first, naming the per-request file.
    """
    refuse_summary(head, path)
    for a in adapters():
        try:
            if a.sniff(head, path):
                return a
        except Exception:  # a sniffer must never break detection of the others
            continue
    raise TraceParseError(
        str(path),
        "format not recognized. Supported formats: "
        + ", ".join(sorted(names()))
        + ". Hint: pass --format NAME, or a column map (--format mapped --map FILE) for in-house logs",
    )
