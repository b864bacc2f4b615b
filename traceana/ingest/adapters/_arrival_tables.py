"""Assembling canonical tables from columnar traces (Azure, BurstGPT, Mooncake, mapped files)."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from traceana.errors import TraceParseError
from traceana.ingest.adapters._columnar import Caster, Frame, arrow
from traceana.ingest.adapters._rows import stem
from traceana.ingest.base import AdapterResult, Source
from traceana.schema import REQUESTS

_TYPES = {f.name: f.type for f in REQUESTS}


def require_columns(src: Source, frame: Frame, needed: list[str], fmt: str) -> None:
    missing = [c for c in needed if c not in frame.df.columns]
    if missing:
        raise TraceParseError(
            src.name,
            f"{fmt}: columns not found: {missing}; found {frame.df.columns}. Hint: is this a {fmt} file? "
            "Otherwise pass --format NAME, or --format mapped --map FILE",
        )


def build(
    src: Source, fmt: str, frame: Frame, caster: Caster, cols: dict[str, pl.Series], notes: list[str]
) -> AdapterResult:
    """Rows that passed every cast become the requests table; the others are quarantined.

    ``cols`` maps canonical names to polars series aligned with ``frame.df``
    (timestamps as integer epoch microseconds). request_id defaults to
    ``<file stem>#<line>``.
    """
    keep, quarantine = caster.finish()
    lines = frame.lines[keep]
    out: dict[str, pa.Array] = {}
    if "request_id" not in cols:
        prefix = f"{stem(src)}#"
        ids = pl.select(pl.lit(prefix) + pl.Series(lines, dtype=pl.Int64).cast(pl.String)).to_series()
        out["request_id"] = ids.to_arrow().cast(pa.string())
    for name, series in cols.items():
        out[name] = arrow(series, _TYPES[name], keep)
    out["source_line"] = pa.array(lines, type=pa.int64())
    out["source_format"] = pa.repeat(pa.scalar(fmt, pa.string()), len(lines))
    if frame.skipped_blank:
        notes = [*notes, f"{frame.skipped_blank} blank line(s) skipped"]
    return AdapterResult(requests=pa.table(out), quarantine=quarantine, notes=notes)


def constant(value, n: int, dtype: pl.DataType = pl.String) -> pl.Series:
    return pl.select(pl.repeat(pl.lit(value, dtype=dtype), n)).to_series()
