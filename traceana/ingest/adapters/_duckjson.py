"""The fast path for large canonical JSON Lines: DuckDB's reader with typed columns.

polars' reader with every column as a string (the safe default) spends most of
an ingest turning numbers into text and back. DuckDB reads numbers straight
into DOUBLE, in parallel, and *errors* (rather than nulling) on a value that
does not convert, so any surprise sends the file to the string path, which
quarantines row by row. What DuckDB would convert silently is kept off this
path by cheap byte checks:

- JSON ``true``/``false`` (DuckDB turns them into 1.0/0.0): no canonical field
  is boolean, so a file containing them takes the string path;
- integer fields are read as DOUBLE and checked for integrality in coerce
  (DuckDB rounds 1.5 to 2 when asked for BIGINT);
- timestamps are read as text and parsed by traceana (epoch numbers included).

Only plain files on disk qualify (DuckDB reads the path itself); compressed
inputs were decompressed into memory under the size limits and stay on the
string path.
"""

from __future__ import annotations

import polars as pl

from traceana.ingest.base import Source
from traceana.schema import arrow_schema


def _duck_type(t) -> str:
    import pyarrow as pa

    if pa.types.is_floating(t) or pa.types.is_integer(t):
        return "DOUBLE"
    if pa.types.is_list(t):
        return "DOUBLE[]"
    return "VARCHAR"  # strings, and timestamps (parsed by coerce)


def read_typed(src: Source, table: str, rows_expected: int) -> pl.DataFrame | None:
    """The file as a polars frame with numeric columns typed, or None to use the string path."""
    try:
        on_disk = src.path.is_file() and src.path.stat().st_size == len(src.data)
    except OSError:
        return None
    # A plain substring search (memmem) is ~20x faster than a word-boundary regex; a 'true' inside
    # some text value only costs this file the fast path.
    if not on_disk or src.data.startswith((b"\x1f\x8b", b"\x28\xb5\x2f\xfd")) or b"true" in src.data or b"false" in src.data:
        return None
    import duckdb

    columns = {f.name: _duck_type(f.type) for f in arrow_schema(table)}
    try:
        con = duckdb.connect()
        rel = con.read_json(
            str(src.path),
            format="newline_delimited",
            columns=columns,
            maximum_object_size=int(min(src.limits.max_line_bytes, 2**31 - 1)),
        )
        df = pl.from_arrow(rel.to_arrow_table())
    except (duckdb.Error, OSError, ValueError, RuntimeError):
        return None
    if not isinstance(df, pl.DataFrame) or df.height != rows_expected:
        return None
    return df
