"""BurstGPT trace CSV (HPMLL/BurstGPT, ``data/BurstGPT_*.csv``).

Columns (the dataset's header and README): ``Timestamp`` (seconds since the
start of the trace), ``Model`` (ChatGPT or GPT-4), ``Request tokens``,
``Response tokens``, ``Total tokens``, ``Log Type`` ("Conversation log" or
"API log"); newer releases may add columns, which are ignored.

Arrival-only: arrival_time = 2000-01-01T00:00:00Z + Timestamp s (relative clock,
noted); prompt_tokens = Request tokens; output_tokens = Response tokens; model
= Model; route = Log Type. The README says the files "with some failure" mark
failed requests by ``Response tokens`` = 0, so those rows get status "error",
error_type "zero_response_tokens" (and output_tokens 0 as written); others "ok";
status is flagged as derived in derived_fields.
request_id = ``<file stem>#<line>``.
"""

from __future__ import annotations

import polars as pl

from traceana.ingest.adapters._arrival_tables import build, constant, require_columns
from traceana.ingest.adapters._columnar import Caster, read_csv_strings
from traceana.ingest.adapters._rows import RELATIVE_ANCHOR_US, anchor_note, first_line
from traceana.ingest.base import Adapter, AdapterResult, Source

NAME = "burstgpt"
REQUIRED = ["Timestamp", "Model", "Request tokens", "Response tokens"]
#: largest Timestamp offset accepted (1e11 s, ~3000 years): anchor + offset stays inside int64 microseconds
_MAX_OFFSET_S = 1e11


def read(src: Source) -> AdapterResult:
    frame = read_csv_strings(src)
    require_columns(src, frame, REQUIRED, NAME)
    c = Caster(frame)
    secs = c.cast(
        "Timestamp", pl.Float64, "arrival_time", "Timestamp is not a number of seconds", required=True
    )
    c.check(secs < 0, "arrival_time", "Timestamp is negative", secs)
    # NaN, inf and offsets past _MAX_OFFSET_S would not fit timestamp[us]: quarantined, and null here
    out_of_range = secs.is_nan() | (secs > _MAX_OFFSET_S)
    c.check(
        out_of_range,
        "arrival_time",
        f"Timestamp is not a finite offset of at most {_MAX_OFFSET_S:.0e} s",
        secs,
    )
    usable = pl.select(pl.when(secs.is_finite() & (secs.abs() <= _MAX_OFFSET_S)).then(secs)).to_series()
    arrival_us = (usable * 1_000_000).round(0).cast(pl.Int64) + RELATIVE_ANCHOR_US
    prompt = c.cast(
        "Request tokens", pl.Int64, "prompt_tokens", "Request tokens is not an integer", required=True
    )
    output = c.cast(
        "Response tokens", pl.Int64, "output_tokens", "Response tokens is not an integer", required=True
    )
    failed = output == 0
    cols = {
        "arrival_time": arrival_us,
        "prompt_tokens": prompt,
        "output_tokens": output,
        "model": c.column("Model").str.strip_chars(),
        "status": _status(failed),
        "error_type": _error_type(failed),
        "derived_fields": constant("status", frame.df.height),
    }
    if "Log Type" in frame.df.columns:
        cols["route"] = c.column("Log Type").str.strip_chars()
    notes = [
        anchor_note("BurstGPT (Timestamp = seconds from the start of the trace)"),
        "BurstGPT: arrival-only (latency columns null); Response tokens = 0 marks a failed request (status error)",
    ]
    return build(src, NAME, frame, c, cols, notes)


def _status(failed: pl.Series) -> pl.Series:
    return (
        pl.DataFrame({"f": failed})
        .select(
            pl.when(pl.col("f")).then(pl.lit("error")).when(pl.col("f").not_()).then(pl.lit("ok")).alias("s")
        )
        .to_series()
    )


def _error_type(failed: pl.Series) -> pl.Series:
    return (
        pl.DataFrame({"f": failed})
        .select(
            pl.when(pl.col("f"))
            .then(pl.lit("zero_response_tokens"))
            .otherwise(pl.lit(None, dtype=pl.String))
            .alias("e")
        )
        .to_series()
    )


def sniff(head: bytes, path) -> bool:
    cols = {c.strip().strip('"') for c in first_line(head).decode("utf-8", "replace").split(",")}
    return set(REQUIRED) <= cols


ADAPTER = Adapter(
    name=NAME,
    description="BurstGPT trace CSV (Timestamp, Model, Request tokens, Response tokens, Total tokens, Log Type)",
    sniff=sniff,
    read=read,
    priority=60,
    checklist="1 arrival (relative); 2 prompt/output tokens; 5 model; 6 status (failures = 0 response tokens); no latencies",
    time_basis="relative",
)
