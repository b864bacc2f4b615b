"""Columnar parsing of large line-oriented traces (CSV, JSON Lines) with per-row quarantine.

The fast path reads with polars (every CSV column as a string, then explicit
casts); a value that fails its cast marks its row bad and the row goes to the
quarantine with its physical line number. When the fast path cannot keep rows
aligned with lines (quoted fields spanning lines, ragged rows, a JSON line that
does not parse) a Python per-line reader takes over, which locates the bad lines.

Line numbers: the CSV header is line 1, so data row i (0-based) is line i + 2
on the fast path; JSON Lines rows carry their own line number.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from traceana.ingest.base import QuarantineRow, Source, load_json_line
from traceana.schema import TIMESTAMP


@dataclass
class Frame:
    """Parsed rows, their physical line numbers and what could not be split into fields."""

    df: pl.DataFrame
    lines: np.ndarray
    quarantine: list[QuarantineRow] = field(default_factory=list)
    skipped_blank: int = 0


#: leading bytes polars takes as a compressed stream and decompresses itself (gzip, zlib, zstd);
#: the data here is already decompressed (within the limits), so such content is parsed by the
#: Python readers as text instead. ``x^`` (zlib) can begin a legitimate CSV header.
_POLARS_MAGIC = (b"\x1f\x8b", b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"\x28\xb5\x2f\xfd")


def _text(src: Source) -> bytes:
    return src.data[3:] if src.data.startswith(b"\xef\xbb\xbf") else src.data


def _polars_safe(data: bytes) -> bool:
    """False when polars would sniff ``data`` as compressed (it must then not see it)."""
    return not data.startswith(_POLARS_MAGIC)


def read_csv_strings(src: Source) -> Frame:
    """A CSV file with a header, every column as a string."""
    data = _text(src)
    if b'"' not in data and _polars_safe(data):
        shape = _line_shape(data)
        if shape is not None:
            blank, n_rows = shape
            try:
                df = pl.read_csv(io.BytesIO(data), infer_schema=False, has_header=True)
            except (pl.exceptions.PolarsError, ValueError):
                df = None
            if df is not None and df.height == n_rows and df.width > 0:
                lines = np.arange(2, df.height + 2, dtype=np.int64)
                if blank.any():
                    df, lines = df.filter(~pl.Series(blank)), lines[~blank]
                return Frame(df, lines, skipped_blank=int(blank.sum()))
    return _read_csv_python(src, data)


def _line_shape(data: bytes) -> tuple[np.ndarray, int] | None:
    """(blank mask of the data lines, number of data lines), or None when a line has the wrong field count.

    Unquoted CSV only: a line's field count is its comma count + 1, so ragged
    lines are found without parsing; the per-line reader then quarantines them.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(arr == 0x0A)
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(arr)]))
    if len(arr) and ends[-1] == starts[-1]:  # a final newline does not open another line
        starts, ends = starts[:-1], ends[:-1]
    if len(starts) == 0:
        return None
    length = ends - starts
    last = arr[np.maximum(ends - 1, 0)] if len(arr) else np.zeros(0, dtype=np.uint8)
    blank = (length == 0) | ((length == 1) & (last == 0x0D))
    commas = np.bincount(
        np.searchsorted(starts, np.flatnonzero(arr == 0x2C), side="right") - 1, minlength=len(starts)
    )
    if np.any(commas[1:][~blank[1:]] != commas[0]):
        return None
    return blank[1:], len(starts) - 1


def _read_csv_python(src: Source, data: bytes) -> Frame:
    text = data.decode("utf-8", "replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    bad: list[QuarantineRow] = []
    try:
        header = next(reader)
    except StopIteration:
        return Frame(pl.DataFrame(), np.zeros(0, dtype=np.int64))
    cols: list[list[str | None]] = [[] for _ in header]
    lines: list[int] = []
    blank = 0
    start = reader.line_num + 1
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            if not row or all(not c.strip() for c in row) and len(row) <= 1:
                blank += 1
                continue
            if len(row) != len(header):
                bad.append(
                    QuarantineRow(
                        line,
                        None,
                        f"expected {len(header)} fields, found {len(row)}",
                        raw=json.dumps(row)[:4096],
                    )
                )
                continue
            for c, v in zip(cols, row, strict=True):
                c.append(v if v != "" else None)
            lines.append(line)
    except csv.Error as exc:
        bad.append(QuarantineRow(start, None, f"CSV error: {exc}; the rest of the file was not read"))
    df = pl.DataFrame({h: pl.Series(h, c, dtype=pl.String) for h, c in zip(header, cols, strict=True)})
    return Frame(df, np.array(lines, dtype=np.int64), bad, blank)


def read_ndjson(src: Source, schema: dict[str, pl.DataType]) -> Frame:
    """JSON Lines restricted to ``schema``'s keys (others ignored); values that do not fit are quarantined."""
    data = _text(src)
    lines_all = data.splitlines()
    nonblank = [i for i, ln in enumerate(lines_all, start=1) if ln.strip()]
    if _polars_safe(data):
        try:
            df = pl.read_ndjson(io.BytesIO(data), schema=schema)
            if df.height == len(nonblank):
                return Frame(df, np.array(nonblank, dtype=np.int64))
        except (pl.exceptions.PolarsError, ValueError):
            pass  # a line that does not parse or fit: the per-line reader finds it
    return _read_ndjson_python(src, lines_all, schema)


def _read_ndjson_python(src: Source, lines_all: list[bytes], schema: dict[str, pl.DataType]) -> Frame:
    cols: dict[str, list] = {k: [] for k in schema}
    lines: list[int] = []
    bad: list[QuarantineRow] = []
    for i, raw in enumerate(lines_all, start=1):
        if not raw.strip():
            continue
        if len(raw) > src.limits.max_line_bytes:
            bad.append(QuarantineRow(i, None, f"line longer than {src.limits.max_line_bytes} bytes"))
            continue
        try:
            obj = load_json_line(raw, src.limits.max_json_depth)
        except ValueError as exc:
            bad.append(QuarantineRow(i, None, str(exc), raw=raw[:4096].decode("utf-8", "replace")))
            continue
        if not isinstance(obj, dict):
            bad.append(
                QuarantineRow(i, None, "expected a JSON object", raw=raw[:4096].decode("utf-8", "replace"))
            )
            continue
        for k in schema:
            v = obj.get(k)
            cols[k].append(None if v is None else (v if isinstance(v, str) else json.dumps(v)))
        lines.append(i)
    # values as text, cast afterwards by the caller's Caster (same failure handling as CSV)
    df = pl.DataFrame({k: pl.Series(k, v, dtype=pl.String) for k, v in cols.items()})
    return Frame(df, np.array(lines, dtype=np.int64), bad)


class Caster:
    """Casts columns of a Frame and remembers, per row, the first field that failed."""

    def __init__(self, frame: Frame):
        self.frame = frame
        self.bad = np.zeros(frame.df.height, dtype=bool)
        self.reasons: dict[int, tuple[str, str]] = {}

    def _mark(self, mask: np.ndarray, field: str, why: str, values: pl.Series | None) -> None:
        new = mask & ~self.bad
        for i in np.flatnonzero(new):
            shown = "" if values is None else f": {values[int(i)]!r}"
            self.reasons[int(i)] = (field, f"{field}: {why}{shown}")
        self.bad |= mask

    def column(self, name: str) -> pl.Series:
        return self.frame.df.get_column(name)

    def cast(self, name: str, dtype: pl.DataType, field: str, why: str, required: bool = False) -> pl.Series:
        s = self.column(name)
        if s.dtype == pl.String:
            out = s.str.strip_chars().cast(dtype, strict=False)
        else:
            out = s.cast(dtype, strict=False)
        failed = (s.is_not_null() & out.is_null()).to_numpy()
        self._mark(failed, field, why, s)
        if required:
            self.require(out, field)
        return out

    def check(
        self, mask: pl.Series | np.ndarray, field: str, why: str, values: pl.Series | None = None
    ) -> None:
        m = mask.fill_null(False).to_numpy() if isinstance(mask, pl.Series) else np.asarray(mask, dtype=bool)
        self._mark(m, field, why, values)

    def require(self, series: pl.Series, field: str) -> None:
        self._mark(series.is_null().to_numpy(), field, "missing", None)

    def finish(self) -> tuple[np.ndarray, list[QuarantineRow]]:
        """(rows to keep, quarantine rows for the others, plus the frame's own)."""
        q = list(self.frame.quarantine)
        if self.bad.any():
            rows = self.frame.df.filter(pl.Series(self.bad)).to_dicts()
            for r, i in zip(rows, np.flatnonzero(self.bad), strict=True):
                fld, reason = self.reasons[int(i)]
                q.append(
                    QuarantineRow(
                        int(self.frame.lines[i]), fld, reason, raw=json.dumps(r, default=str)[:4096]
                    )
                )
        return ~self.bad, q


def arrow(series: pl.Series, typ: pa.DataType, keep: np.ndarray) -> pa.Array:
    """A polars column, filtered to the kept rows, as an Arrow array of the canonical type."""
    arr = series.filter(pl.Series(keep)).to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if typ == TIMESTAMP:
        return arr.cast(pa.int64()).cast(TIMESTAMP)
    return arr.cast(typ)
