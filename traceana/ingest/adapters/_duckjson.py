"""The fast path for large canonical JSON Lines: DuckDB's reader with typed columns.

polars' reader with every column as a string (the safe default) spends most of
an ingest turning numbers into text and back. DuckDB reads numbers straight
into DOUBLE, in parallel, and *errors* (rather than nulling) on a value that
does not convert, so any surprise sends the file to the string path, which
quarantines row by row. What DuckDB would convert silently is kept off this
path by cheap byte checks:

- JSON ``true``/``false`` (DuckDB turns them into 1.0/0.0): no canonical field
  is boolean, so a file where one may be a canonical field's value takes the
  string path (a literal after a key no table reads, ``"stream": true``, or
  inside a string does not count: :func:`traceana.ingest.reader._harmless`);
- integer fields are read as DOUBLE and checked for integrality in coerce
  (DuckDB rounds 1.5 to 2 when asked for BIGINT);
- timestamps are read as text and parsed by traceana (epoch numbers included).

Only plain files on disk qualify (DuckDB reads the path itself; the file is
never copied into Python); compressed inputs were decompressed into memory
under the size limits and stay on the string path. What the string path
learns from the bytes comes from one pass in a worker thread, beside the
parse (:func:`traceana.ingest.reader.scan_file`, which also hashes the file):

- the number of lines: DuckDB skips blank lines and refuses a line holding
  more or less than one object, so when it returns as many rows as the file
  has lines, row i is line i + 1, exactly;
- whether 'true' or 'false' occurs where it may matter (see above);
- lines over ``--max-line-bytes``: DuckDB refuses longer objects
  (``maximum_object_size``), and a few finds rule out long white space.

Lone surrogate escapes and invalid UTF-8 make DuckDB refuse the file (the
string path then quarantines the lines).
"""

from __future__ import annotations

import mmap

import numpy as np
import polars as pl

from traceana.ingest.base import AdapterResult, Batches, NotFaithful, Source
from traceana.ingest.reader import FileScan, scan_file
from traceana.schema import arrow_schema


def _duck_type(t) -> str:
    import pyarrow as pa

    if pa.types.is_floating(t) or pa.types.is_integer(t):
        return "DOUBLE"
    if pa.types.is_list(t):
        return "DOUBLE[]"
    return "VARCHAR"  # strings, and timestamps (parsed by coerce)


def _line_scan(src: Source) -> FileScan | None:
    """The worker's pass over the file (newlines, 'true'/'false'), or one made now."""
    scan = None
    if src.scan is not None:
        try:
            scan = src.scan.result()
        except OSError:
            return None
    if scan is None or scan.newlines is None:
        try:
            scan = scan_file(src.path, digest=False)
        except OSError:
            return None
    return scan


def may_have_long_line(data, limit: int) -> bool:
    """False only when no line can be longer than ``limit``: a few C-speed finds, no pass per byte.

    A line of >= limit bytes contains a whole window [k*step, (k+1)*step) with
    step = limit // 2, so a newline in every window rules it out.
    """
    if len(data) <= limit:
        return False
    step = max(1, limit // 2)
    return any(data.find(b"\n", p, p + step) == -1 for p in range(0, len(data) - step + 1, step))


def _file_may_have_long_line(src: Source) -> bool:
    limit = src.limits.max_line_bytes
    if src.size <= limit:
        return False
    try:
        with open(src.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            return may_have_long_line(m, limit)
    except (OSError, ValueError):
        return True


#: rows a batch: the size of a store part, so a big file's parts are as large as before
BATCH_ROWS = 512 * 1024


def _interrupted(exc: BaseException) -> bool:
    """DuckDB took the SIGINT: through the Arrow stream it arrives as ArrowInvalid("INTERRUPT Error: Interrupted!").

    Read as a file DuckDB cannot parse, it sent the pipeline on to read the file
    again, and Ctrl-C was ignored (6 in 18 tries).
    """
    return "INTERRUPT Error" in str(exc) or type(exc).__name__ == "InterruptException"


def read_typed(src: Source, table: str) -> Batches | None:
    """The file's rows in batches of polars frames (numeric columns typed, ``source_line`` set), or None to use the string path.

    Memory stays at a few batches whatever the file's size. Row i is taken to
    be line i + 1; ``faithful()`` checks that against the worker's pass once
    the last batch is read, and a line DuckDB refuses part-way through raises
    NotFaithful: either way the pipeline reads the file again exactly.
    """
    if not src.on_disk:
        return None
    import duckdb
    import pyarrow as pa

    columns = {f.name: _duck_type(f.type) for f in arrow_schema(table)}
    try:
        con = duckdb.connect()
        rel = con.read_json(
            str(src.path),
            format="newline_delimited",
            columns=columns,
            maximum_object_size=int(min(src.limits.max_line_bytes, 2**31 - 1)),
        )
        reader = (
            rel.to_arrow_reader(BATCH_ROWS)
            if hasattr(rel, "to_arrow_reader")
            else rel.fetch_record_batch(BATCH_ROWS)
        )
    except duckdb.InterruptException:  # a duckdb.Error, but Ctrl-C: stop, never fall back to another read
        raise KeyboardInterrupt from None
    except (duckdb.Error, OSError, ValueError, RuntimeError) as exc:
        if _interrupted(exc):
            raise KeyboardInterrupt from None
        return None
    rows = 0

    def results():
        nonlocal rows
        try:
            for batch in reader:
                if not batch.num_rows:
                    continue
                df = pl.from_arrow(pa.Table.from_batches([batch]))
                lines = np.arange(rows + 1, rows + batch.num_rows + 1, dtype=np.int64)
                rows += batch.num_rows
                yield AdapterResult(**{table: df.with_columns(pl.Series("source_line", lines))})
        except duckdb.InterruptException:
            raise KeyboardInterrupt from None
        except (duckdb.Error, pa.ArrowException, OSError, ValueError, RuntimeError) as exc:
            if _interrupted(exc):
                raise KeyboardInterrupt from None
            raise NotFaithful(f"DuckDB stopped part-way through: {exc}") from exc
        finally:
            con.close()

    def faithful() -> bool:
        scan = _line_scan(src)  # by now usually done: it ran beside DuckDB
        if scan is None or scan.newlines is None or scan.bool_literal or scan.size != src.size:
            return False
        lines = scan.newlines + (0 if scan.ends_with_newline else 1)
        return rows == lines and not _file_may_have_long_line(src)

    return Batches(results=results(), faithful=faithful)
