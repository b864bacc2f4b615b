"""In-house CSV / JSON Lines / Parquet logs mapped onto canonical fields by a column map.

Never auto-detected (``sniff`` is always False): chosen with
``--format mapped --map FILE``; the pipeline calls
``read_mapped(src, load_column_map(FILE))``. The map format is described in
:mod:`traceana.ingest.adapters._column_map`.

Conversions: durations ``value * seconds-per-unit`` (s, ms, us, ns);
timestamps from ISO-8601 strings (no zone = UTC, noted) or epoch numbers in
s/ms/us/ns; counts must be integers; strings as written. A value that does
not convert quarantines its row (line number, field, value). Where the map
gives ttft_s, e2e_latency_s and output_tokens but no tpot_s, tpot_s is derived
((e2e - ttft) / (output_tokens - 1), output_tokens > 1) and flagged in
derived_fields. request_id defaults to ``<file stem>#<line>``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl

from traceana.errors import TraceParseError
from traceana.ingest.adapters._arrival_tables import build, constant, require_columns
from traceana.ingest.adapters._column_map import kind, load_column_map, validate_column_map
from traceana.ingest.adapters._columnar import Caster, Frame, read_csv_strings, read_ndjson
from traceana.ingest.adapters._records import is_json_document, parse_path, records_as_jsonl
from traceana.ingest.base import Adapter, AdapterResult, Source
from traceana.schema import STATUSES
from traceana.units import DURATION_UNITS, EPOCH_TO_US, parse_datetime

NAME = "mapped"
__all__ = ["load_column_map", "read_mapped", "ADAPTER"]


def _file_format(src: Source, declared: str | None) -> str:
    if declared:
        return declared
    if src.data[:4] == b"PAR1":
        return "parquet"
    name = Path(src.path).name.lower()
    for suf in (".gz", ".zst", ".zstd", ".bz2", ".xz"):
        name = name.removesuffix(suf)
    if name.endswith((".jsonl", ".ndjson", ".json")) or src.data.lstrip()[:1] == b"{":
        return "jsonl"
    return "csv"


def _frame(src: Source, fmt: str, needed: list[str]) -> Frame:
    if fmt == "csv":
        return read_csv_strings(src)
    if fmt == "jsonl":
        return read_ndjson(src, {c: pl.String for c in needed})
    try:
        df = pl.read_parquet(io.BytesIO(src.data))
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise TraceParseError(src.name, f"not a readable Parquet file: {exc}") from None
    return Frame(df, np.arange(1, df.height + 1, dtype=np.int64))


def _timestamp_us(c: Caster, col: str, unit: str, field: str, naive: list[int]) -> pl.Series:
    s = c.column(col)
    if unit != "iso":
        num = c.cast(col, pl.Float64, field, f"not an epoch number ({unit})")
        per_us = EPOCH_TO_US[unit.removeprefix("epoch_")]
        # integers stay exact (a float64 holds epoch ns only to ~256 ns); floats are rounded to the us
        ints = (s.str.strip_chars() if s.dtype == pl.String else s).cast(pl.Int64, strict=False)
        exact = ints // int(per_us) if per_us >= 1 else ints * int(round(1 / per_us))
        approx = (num / per_us).round(0).cast(pl.Int64)
        return pl.DataFrame({"i": exact, "f": approx}).select(pl.coalesce("i", "f")).to_series()
    if s.dtype == pl.Datetime or isinstance(s.dtype, pl.Datetime):
        if s.dtype.time_zone is None:
            naive[0] += int(s.is_not_null().sum())
            s = s.dt.replace_time_zone("UTC")
        return s.dt.convert_time_zone("UTC").dt.cast_time_unit("us").cast(pl.Int64)
    text = s.cast(pl.String).str.strip_chars()
    fast = text.str.to_datetime(time_unit="us", time_zone="UTC", strict=False).cast(pl.Int64)
    values = fast.to_list()
    raw = text.to_list()
    for i in np.flatnonzero((text.is_not_null() & fast.is_null()).to_numpy()):
        try:
            dt = parse_datetime(raw[i])
        except ValueError:
            continue
        values[i] = int(dt.timestamp()) * 1_000_000 + dt.microsecond
    out = pl.Series(col, values, dtype=pl.Int64)
    naive[0] += int((text.is_not_null() & ~text.str.contains(r"(Z|[+-]\d{2}:?\d{2})$")).sum())
    c.check(text.is_not_null() & out.is_null(), field, "not an ISO-8601 time", text)
    return out


def read_mapped(src: Source, column_map: dict) -> AdapterResult:
    """Read ``src`` with ``column_map`` (from :func:`load_column_map`, or a raw dict validated here)."""
    cmap = validate_column_map(column_map)
    fmt = _file_format(src, cmap["format"])
    needed = [spec["column"] for spec in cmap["columns"].values()]
    if fmt == "jsonl" and (cmap.get("records") or is_json_document(src, needed)):
        keys = parse_path(cmap["records"]) if cmap.get("records") else None
        src = Source(src.path, records_as_jsonl(src, keys), src.limits)  # line n = the n-th record
    frame = _frame(src, fmt, needed)
    require_columns(src, frame, needed, NAME)
    c = Caster(frame)
    naive = [0]
    cols: dict[str, pl.Series] = {}
    for field, spec in cmap["columns"].items():
        col, unit, k = spec["column"], spec["unit"], kind(field)
        if k == "timestamp":
            cols[field] = _timestamp_us(c, col, unit, field, naive)
        elif k == "duration":
            secs = c.cast(col, pl.Float64, field, "not a number") * DURATION_UNITS[unit]
            c.check(secs.is_nan() | secs.is_infinite(), field, "not a finite number", secs)
            cols[field] = secs
        elif k == "int":
            cols[field] = c.cast(col, pl.Int64, field, "not an integer")
        else:
            cols[field] = c.column(col).cast(pl.String)
    c.require(cols["arrival_time"], "arrival_time")
    if "request_id" in cols:
        c.require(cols["request_id"], "request_id")  # the canonical id is non-null
    n = frame.df.height
    for field, value in cmap["constants"].items():
        cols[field] = constant(value, n, pl.Int64 if kind(field) == "int" else pl.String)
    if "status" in cmap["columns"]:
        st = cols["status"].str.strip_chars()
        if cmap["status_map"]:
            st = st.replace(cmap["status_map"])
        c.check(
            st.is_not_null() & ~st.is_in(list(STATUSES)),
            "status",
            f"not one of {list(STATUSES)} (add a [status_map])",
            st,
        )
        cols["status"] = st
    if "tpot_s" not in cols and {"ttft_s", "e2e_latency_s", "output_tokens"} <= cols.keys():
        out = cols["output_tokens"]
        tpot = (
            pl.DataFrame({"e": cols["e2e_latency_s"], "t": cols["ttft_s"], "o": out})
            .select(
                pl.when(pl.col("o") > 1).then((pl.col("e") - pl.col("t")) / (pl.col("o") - 1)).alias("tpot")
            )
            .to_series()
        )
        cols["tpot_s"] = tpot
        cols["derived_fields"] = (
            pl.DataFrame({"x": tpot})
            .select(pl.when(pl.col("x").is_not_null()).then(pl.lit("tpot_s")).alias("d"))
            .to_series()
        )
    pairs = ", ".join(f"{k} <- {v['column']}" for k, v in cmap["columns"].items())
    notes = [f"mapped {fmt} file: {pairs}"]
    if naive[0]:
        notes.append(f"{naive[0]} timestamp(s) without a zone taken as UTC")
    return build(src, NAME, frame, c, cols, notes)


def _read_without_map(src: Source) -> AdapterResult:
    raise TraceParseError(
        src.name, "the mapped format needs a column map. Hint: --format mapped --map FILE.toml"
    )


def sniff(head: bytes, path) -> bool:
    return False  # chosen explicitly: a column map cannot be guessed


ADAPTER = Adapter(
    name=NAME,
    description="CSV / JSON Lines / Parquet with a column-map TOML (--format mapped --map FILE)",
    sniff=sniff,
    read=_read_without_map,
    priority=0,
    checklist="whatever the column map names (any canonical request field)",
)
