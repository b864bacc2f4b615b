"""traceana: latency, concurrency, SLO burn and cost per million tokens from LLM-serving traces.

Data flows one way: sources -> ingest (adapters) -> store -> metrics -> report -> cli.
"""

from __future__ import annotations

from traceana._version import __version__  # noqa: F401 (the package version)
from traceana.errors import (
    ConfigError,
    InputLimitError,
    SchemaError,
    StoreError,
    TraceanaError,
    TraceParseError,
)
from traceana.schema import ENGINE_SAMPLES, REQUESTS, SCHEMA_VERSION

__all__ = [
    "ConfigError",
    "ENGINE_SAMPLES",
    "InputLimitError",
    "REQUESTS",
    "SCHEMA_VERSION",
    "SchemaError",
    "StoreError",
    "TraceParseError",
    "TraceanaError",
    "open_store",
    "metrics",
]


def open_store(path, create: bool = False):
    """Open the embedded trace store at ``path`` (see traceana.store.Store).

    Reading never creates a store: a path with no store is a StoreError. Pass
    ``create=True`` to make an empty one to ingest into (``traceana ingest`` does).
    """
    from traceana.store import open_store as _open

    return _open(path, create=create)


def __getattr__(name: str):
    # Lazy so that `traceana --help` and `import traceana` stay fast.
    if name == "metrics":
        import importlib

        return importlib.import_module("traceana.metrics")
    raise AttributeError(name)
