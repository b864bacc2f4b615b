"""The inputs of a read-only command: an existing store, or files ingested into a temporary one.

Here rather than in the store, which is the lower layer and must not know that
ingest exists.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

from traceana.errors import StoreError, TraceanaError
from traceana.ingest.pipeline import ingest_paths
from traceana.store import open_store


@contextlib.contextmanager
def open_inputs(
    paths: list[str] | None = None, store: str | Path | None = None, fmt: str | None = None, **ingest_kw
):
    """A store to read from: ``store`` as is, or ``paths`` ingested into a temporary store.

    Yields the Store; the temporary store is deleted afterwards. The ingest
    summary of the temporary store is available as ``store.last_ingest``.
    """
    if store is not None and paths:
        raise StoreError("give input PATHs or --store, not both")
    if store is not None:
        yield open_store(store, create=False).snapshot()
        return
    if not paths:
        raise StoreError("no input: give PATH... or --store DIR")
    with tempfile.TemporaryDirectory(prefix="traceana-") as tmp:
        st = open_store(Path(tmp) / "store")
        st.last_ingest = ingest_paths(st, paths, fmt=fmt, **ingest_kw)
        refused = st.last_ingest.refused
        if refused:  # a report over part of what was asked for would look complete: refuse instead
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            raise TraceanaError(f"input refused: {refused[0].error or refused[0].path}{more}")
        yield st


def check_ingest(st) -> list[str]:
    """Refuse to report on a partial input: a refused file is bad input (exit 2), as in ``traceana ingest``.

    Returns notes for the report (rows quarantined at ingest).
    """
    summary = getattr(st, "last_ingest", None)
    if summary is None:
        return []
    refused = summary.refused
    if refused:
        first = refused[0].error or refused[0].path
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise TraceanaError(
            f"input refused: {first}{more}. Hint: `traceana ingest PATH --store DIR` shows every file's status"
        )
    n = summary.quarantined
    return (
        [
            f"{n:,} input rows were quarantined at ingest (run `traceana ingest` into a store, then `traceana quarantine`)"
        ]
        if n
        else []
    )
