"""Ingest: source files -> canonical tables + quarantine, into the store.

``ingest_paths(store, paths)`` is the entry point; ``read_file(path)`` runs one
file through detection, its adapter, coercion and validation without a store.
"""

from __future__ import annotations

from pathlib import Path

from traceana.ingest.base import Adapter, AdapterResult, Limits, QuarantineRow, Source
from traceana.ingest.pipeline import FileReport, IngestSummary, ingest_paths, process
from traceana.ingest.reader import read_source

__all__ = [
    "Adapter",
    "AdapterResult",
    "FileReport",
    "IngestSummary",
    "Limits",
    "QuarantineRow",
    "Source",
    "ingest_paths",
    "read_file",
]


def read_file(
    path: str | Path, fmt: str | None = None, limits: Limits | None = None, column_map: dict | None = None
):
    """(canonical tables, quarantine table, FileReport) for one file, without a store."""
    from traceana.ingest import registry

    src = read_source(Path(path), limits or Limits())
    adapter = registry.choose(registry.get(fmt) if fmt else None, src.head(64 << 10), Path(path))
    return process(src, adapter, column_map=column_map)
