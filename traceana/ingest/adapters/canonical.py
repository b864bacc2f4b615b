"""Files already in canonical columns: Parquet, CSV or JSON Lines (requests or engine_samples).

Text files are read with every column as a string (one bad value must not make
the file unreadable); the pipeline casts and validates. JSON Lines go through
polars' reader first and fall back to a line-by-line parse, which quarantines
the lines that are not JSON objects, when the fast path rejects the file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from traceana.ingest.adapters._duckjson import may_have_long_line, read_typed
from traceana.ingest.base import (
    Adapter,
    AdapterResult,
    Batches,
    QuarantineRow,
    Source,
    iter_lines,
    load_json_line,
    raw_json,
)
from traceana.schema import arrow_schema

NAME = "canonical"
_REQ_KEYS = {"request_id", "arrival_time"}
_ENG_KEYS = {"time", "instance"}
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _table_for(columns) -> str | None:
    cols = set(columns)
    if _REQ_KEYS <= cols:
        return "requests"
    if _ENG_KEYS <= cols and ("num_running" in cols or "kv_cache_usage" in cols):
        return "engine_samples"
    return None


def _first_json_keys(head: bytes) -> set[str]:
    """Keys of the first JSON object; for a first line cut by the head (a huge line), keys seen in it."""
    for line in head.splitlines():
        if line.strip():
            try:
                obj = json.loads(line)
            except (ValueError, RecursionError):
                if b"\n" not in head.lstrip():  # the first line is longer than the head
                    return {k for k in _REQ_KEYS | _ENG_KEYS if b'"%s"' % k.encode() in line}
                return set()
            return set(obj) if isinstance(obj, dict) else set()
    return set()


def _header(data: bytes) -> list[str]:
    """The names in the first line read as a CSV header ([] when it is not one)."""
    first = data.split(b"\n", 1)[0].rstrip(b"\r").decode("utf-8", "replace")
    try:
        return [h.strip() for h in next(csv.reader([first]), [])]
    except csv.Error:
        return []


def sniff(head: bytes, path: Path) -> bool:
    if head.startswith(b"PAR1"):
        return True  # the read decides the table from the Parquet schema
    stripped = head.lstrip()
    if stripped.startswith(b"{"):
        return _table_for(_first_json_keys(stripped)) is not None
    return _table_for(_header(stripped)) is not None


def _lines(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes as uint8, start, end) of every physical line (end excludes the newline)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(arr)]))
    return arr, starts, ends


def _per_line(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """How many True in each line of ``mask`` (1 byte per input byte; no 8-byte running sums).

    An empty line's start points at its own newline (never True in these masks);
    the start past the end of the data is an empty last line.
    """
    out = np.zeros(len(starts), dtype=np.int64)
    ok = starts < len(mask)
    if ok.any():
        out[ok] = np.add.reduceat(mask, starts[ok], dtype=np.int64)
        # reduceat sums up to the next index given: the next line's start, so each line alone
    return out


def _nonblank_line_numbers(data: bytes) -> np.ndarray:
    """1-based numbers of the lines that hold something other than white space."""
    arr, starts, _ = _lines(data)
    ws = (arr == 32) | (arr == 9) | (arr == 13) | (arr == 10)
    return np.flatnonzero(_per_line(~ws, starts) > 0) + 1


def _line_lengths(data: bytes) -> np.ndarray:
    """Byte length of every physical line (without its newline)."""
    _, starts, ends = _lines(data)
    return ends - starts


def _over_limits(data: bytes, limits) -> bool:
    """True when some line may pass a limit: longer than max_line_bytes, or more '[' and '{' than max_json_depth.

    The bracket count bounds the nesting depth from above (brackets inside strings
    count too), so a False here is exact and a True sends the file to the slow path,
    which measures each line exactly.
    """
    arr, starts, ends = _lines(data)
    if (ends - starts).max() > limits.max_line_bytes:
        return True
    return bool((_per_line((arr == 0x5B) | (arr == 0x7B), starts) > limits.max_json_depth).any())


def _simple_csv_lines(data: bytes) -> np.ndarray | None:
    """Line numbers of the data rows when polars' fast CSV reader maps rows to lines one to one.

    That holds when the file has no quotes (no quoted newlines), no blank line
    before the last row (polars reads one as a row of nulls) and every row has
    as many commas as the header (polars pads short rows with nulls silently).
    Otherwise None: the caller uses the csv module, which reports each problem.
    """
    if b'"' in data:
        return None
    arr, starts, _ = _lines(data)
    ws = (arr == 32) | (arr == 9) | (arr == 13) | (arr == 10)
    nonblank = np.flatnonzero(_per_line(~ws, starts) > 0)
    if len(nonblank) == 0 or nonblank[-1] + 1 != len(nonblank):
        return None  # a blank line somewhere before the last row
    commas = _per_line(arr == 44, starts)[nonblank]
    if (commas != commas[0]).any():
        return None
    return nonblank[1:] + 1


def _string_schema(table: str) -> dict[str, pl.DataType]:
    return {f.name: pl.String for f in arrow_schema(table)}


_BLANK_LINE = re.compile(rb"\n[ \t\r]*\n")


def _simple_line_numbers(data: bytes) -> np.ndarray | None:
    """Line numbers of the rows when every line is a row (no blank or white-space-only line).

    C-speed checks on the bytes, no pass of Python or numpy per byte; None sends
    the caller to the exact numpy bookkeeping.
    """
    if not data or data[:1] in b" \t\r\n" or _BLANK_LINE.search(data):
        return None
    n = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    return np.arange(1, n + 1, dtype=np.int64)


def _longest_line(data: bytes) -> int:
    nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    bounds = np.concatenate(([-1], nl, [len(data)]))
    return int((np.diff(bounds) - 1).max())


#: below this size polars' string path is as fast and DuckDB's start-up is not worth it
_DUCKDB_FROM_BYTES = 4 << 20


def _read_jsonl(src: Source, table: str) -> AdapterResult:
    if src.size >= _DUCKDB_FROM_BYTES and not src.exact:
        typed = read_typed(src, table)  # None: DuckDB refused the file
        if typed is not None:
            batches = (_without_deep(getattr(r, table), table, src.limits) for r in typed.results)
            return AdapterResult(batches=Batches(results=batches, faithful=typed.faithful))
    data = src.data
    if _SURROGATE_ESCAPE.search(data):
        # polars turns a lone "\ud800" into "\x00"; the slow path quarantines such lines.
        return _read_jsonl_slow(src, table)
    lines = _simple_line_numbers(data)
    if lines is not None and may_have_long_line(data, src.limits.max_line_bytes):
        lines = None if _longest_line(data) > src.limits.max_line_bytes else lines
    if lines is None:
        if _over_limits(data, src.limits):
            return _read_jsonl_slow(src, table)  # quarantines over-long lines exactly
        lines = _nonblank_line_numbers(data)
    try:
        # polars refuses pathological nesting itself (DepthLimitExceeded), which lands in the slow path
        df = pl.read_ndjson(io.BytesIO(data), schema=_string_schema(table))
        if df.height == len(lines):
            df = df.with_columns(pl.Series("source_line", lines, dtype=pl.Int64))
            return _without_deep(df, table, src.limits)  # the pipeline works in polars: no Arrow round trip
    except (pl.exceptions.PolarsError, OSError, ValueError, OverflowError):
        pass
    return _read_jsonl_slow(src, table)


def _json_depth(text: str) -> int:
    """Bracket nesting depth of JSON text (brackets inside strings skipped)."""
    depth = deepest = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _without_deep(df: pl.DataFrame, table: str, limits) -> AdapterResult:
    """Quarantine rows whose nested JSON value (read into a text column) is deeper than the limit.

    The fast readers have their own depth guards, so this only enforces the
    user's --max-json-depth: a value can only be that deep if its text is longer
    than the limit, which a vectorized length test finds; the rare candidates
    are measured exactly.
    """
    limit = limits.max_json_depth
    text_cols = [c for c, t in df.schema.items() if t == pl.String and c != "source_line"]
    if not text_cols or df.height == 0:
        return AdapterResult(**{table: df})
    longest = df.select(pl.col(c).str.len_bytes().max() for c in text_cols).row(
        0
    )  # a quarter of a row mask's cost
    text_cols = [c for c, n in zip(text_cols, longest, strict=True) if n is not None and n > limit]
    if not text_cols:
        return AdapterResult(**{table: df})
    long = df.select(
        pl.any_horizontal([pl.col(c).str.len_bytes() > limit for c in text_cols]).fill_null(False)
    ).to_series()
    quarantine = []
    deep = [False] * df.height
    for i in long.arg_true().to_list():
        row = df.row(i, named=True)
        for c in text_cols:
            v = row[c]
            if v and v[:1] in "[{" and _json_depth(v) > limit:
                deep[i] = True
                quarantine.append(
                    QuarantineRow(
                        row["source_line"], c, f"JSON nested deeper than {limit} levels", v[:4096], table
                    )
                )
                break
    if not quarantine:
        return AdapterResult(**{table: df})
    mask = pl.Series(deep)
    return AdapterResult(**{table: df.filter(~mask)}, quarantine=quarantine)


def _read_jsonl_slow(src: Source, table: str) -> AdapterResult:
    names = [f.name for f in arrow_schema(table)]
    cols: dict[str, list] = {n: [] for n in names}
    line_nos: list[int] = []
    quarantine: list[QuarantineRow] = []
    for line_no, line in iter_lines(src):
        if line is None:
            quarantine.append(
                QuarantineRow(
                    line_no, None, f"line longer than {src.limits.max_line_bytes:,} bytes", None, table
                )
            )
            continue
        try:
            obj = load_json_line(line, src.limits.max_json_depth)
        except ValueError as exc:
            quarantine.append(
                QuarantineRow(line_no, None, str(exc), line[:4096].decode("utf-8", "replace"), table)
            )
            continue
        if not isinstance(obj, dict):
            quarantine.append(QuarantineRow(line_no, None, "not a JSON object", raw_json(obj), table))
            continue
        if any(isinstance(v, str) and _has_surrogate(v) for v in obj.values()):
            quarantine.append(
                QuarantineRow(
                    line_no,
                    None,
                    "invalid UTF-8: a lone surrogate escape (\\udXXX) in a string",
                    json.dumps(obj)[:4096],
                    table,
                )
            )
            continue
        line_nos.append(line_no)
        for n in names:
            v = obj.get(n)
            if v is None or isinstance(v, str):
                cols[n].append(v)
            elif isinstance(v, bool):
                cols[n].append(str(v).lower())
            elif isinstance(v, int | float):
                cols[n].append(repr(v))
            else:
                cols[n].append(json.dumps(v))
    df = pl.DataFrame(cols, schema=_string_schema(table)).with_columns(
        pl.Series("source_line", line_nos, dtype=pl.Int64)
    )
    return AdapterResult(**{table: df.to_arrow()}, quarantine=quarantine)


def _read_csv(src: Source, table: str) -> AdapterResult:
    lines = None
    if (
        len(src.data) <= src.limits.max_line_bytes
        or _line_lengths(src.data).max() <= src.limits.max_line_bytes
    ):
        lines = _simple_csv_lines(src.data)
    if lines is not None:
        try:
            df = pl.read_csv(io.BytesIO(src.data), infer_schema=False, truncate_ragged_lines=False)
        except (pl.exceptions.PolarsError, OSError, ValueError):
            df = None
        if df is not None and df.height == len(lines):
            keep = [c for c in df.columns if c in _string_schema(table)]
            df = df.select(keep).with_columns(pl.Series("source_line", lines, dtype=pl.Int64))
            return AdapterResult(**{table: df.to_arrow()})
    return _read_csv_slow(src, table)


def _read_csv_slow(src: Source, table: str) -> AdapterResult:
    """The csv module: physical line numbers; ragged rows, over-long lines and bad bytes quarantined."""
    # surrogateescape keeps invalid bytes visible (as lone surrogates) so their rows can be quarantined.
    csv.field_size_limit(max(csv.field_size_limit(), src.limits.max_line_bytes))  # per row, checked below
    text = src.data.decode("utf-8", errors="surrogateescape")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None) or []
    except csv.Error as exc:
        from traceana.errors import TraceParseError

        raise TraceParseError(src.name, f"unreadable CSV header: {exc}", line=1) from None
    header = [h.strip() for h in header]
    names = set(_string_schema(table))
    where = {h: i for i, h in reversed(list(enumerate(header))) if h in names}  # first of duplicate names
    cols: dict[str, list] = {h: [] for h in where}
    line_nos: list[int] = []
    quarantine: list[QuarantineRow] = []
    while True:
        line_no = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            quarantine.append(QuarantineRow(line_no, None, f"malformed CSV: {exc}", None, table))
            continue
        if not row:
            continue
        if sum(len(v) for v in row) > src.limits.max_line_bytes:
            quarantine.append(
                QuarantineRow(
                    line_no, None, f"line longer than {src.limits.max_line_bytes:,} bytes", None, table
                )
            )
            continue
        if any(_has_surrogate(v) for v in row):
            raw = ",".join(row).encode("utf-8", "surrogateescape")[:4096].decode("utf-8", "replace")
            quarantine.append(QuarantineRow(line_no, None, "invalid UTF-8 in this row", raw, table))
            continue
        if len(row) != len(header):
            quarantine.append(
                QuarantineRow(
                    line_no, None, f"expected {len(header)} fields, found {len(row)}", raw_json(row), table
                )
            )
            continue
        line_nos.append(line_no)
        for h, i in where.items():
            cols[h].append(row[i] if row[i] != "" else None)
    df = pl.DataFrame({"source_line": pl.Series(line_nos, dtype=pl.Int64)}).with_columns(
        pl.Series(h, v, dtype=pl.String) for h, v in cols.items()
    )
    return AdapterResult(**{table: df.to_arrow()}, quarantine=quarantine)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def read(src: Source) -> AdapterResult:
    if src.head(4) == b"PAR1":
        data = src.data
        try:
            t = pq.read_table(io.BytesIO(data))
        except (pa.ArrowException, OSError) as exc:
            from traceana.errors import TraceParseError

            raise TraceParseError(src.name, f"unreadable Parquet: {exc}") from None
        table = _table_for(t.column_names)
        if table is None:
            from traceana.errors import TraceParseError

            raise TraceParseError(
                src.name,
                "Parquet file without canonical columns (requests need request_id and arrival_time; "
                "engine_samples need time, instance and num_running or kv_cache_usage)",
            )
        keep = [c for c in t.column_names if c in _string_schema(table)]
        t = t.select(keep).append_column("source_line", pa.array(np.arange(1, t.num_rows + 1), pa.int64()))
        return AdapterResult(**{table: t})
    # Strip only the head: bytes.lstrip() on the whole file copies all of it.
    stripped = src.head(1 << 20).lstrip()
    if stripped.startswith(b"{"):
        table = _table_for(_first_json_keys(stripped[: 1 << 20])) or "requests"
        return _read_jsonl(src, table)
    table = _table_for(_header(stripped))
    if table is None:
        from traceana.errors import TraceParseError

        raise TraceParseError(
            src.name,
            "CSV header without canonical columns (requests need request_id and arrival_time; "
            "engine_samples need time, instance and num_running or kv_cache_usage). "
            "Hint: a column map (--map FILE) for other column names",
            line=1,
        )
    return _read_csv(src, table)


ADAPTER = Adapter(
    name=NAME,
    description="Canonical columns in Parquet, CSV or JSON Lines (requests or engine_samples)",
    sniff=sniff,
    read=read,
    priority=10,
    tables=("requests", "engine_samples"),
    checklist="whatever canonical columns the file holds",
)
