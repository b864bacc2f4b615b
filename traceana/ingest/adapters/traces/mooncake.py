"""Mooncake trace JSON Lines (kvcache-ai/Mooncake, ``FAST25-release/traces/*.jsonl``).

One object per line: ``timestamp`` (ms since the start of the trace),
``input_length``, ``output_length`` (tokens), ``hash_ids`` (prefix-cache block
hashes; not canonical, ignored). Field names from the repository's traces and
its README.

Arrival-only: arrival_time = 2000-01-01T00:00:00Z + timestamp ms (relative clock,
noted); prompt_tokens = input_length; output_tokens = output_length. Latency
columns stay null; the trace has no failure field, so status = "ok", flagged as
derived in derived_fields (noted).
request_id = ``<file stem>#<line>``.
"""

from __future__ import annotations

import re

import polars as pl

from traceana.ingest.adapters._arrival_tables import build, constant, require_columns
from traceana.ingest.adapters._columnar import Caster, read_ndjson
from traceana.ingest.adapters._rows import RELATIVE_ANCHOR_US, anchor_note, first_line
from traceana.ingest.base import Adapter, AdapterResult, Source
from traceana.units import DURATION_UNITS

NAME = "mooncake"
#: largest offset accepted (1e14 ms, ~3000 years): anchor + offset stays inside int64 microseconds
_MAX_OFFSET_MS = 1e14
SCHEMA = {"timestamp": pl.Float64, "input_length": pl.Int64, "output_length": pl.Int64}


def read(src: Source) -> AdapterResult:
    frame = read_ndjson(src, SCHEMA)
    require_columns(src, frame, list(SCHEMA), NAME)
    c = Caster(frame)
    ms = c.cast("timestamp", pl.Float64, "arrival_time", "timestamp is not a number of ms", required=True)
    c.check(ms < 0, "arrival_time", "timestamp is negative", ms)
    # NaN, inf and offsets past _MAX_OFFSET_MS would not fit timestamp[us] (as in burstgpt): quarantined, null here
    c.check(
        ms.is_nan() | (ms > _MAX_OFFSET_MS),
        "arrival_time",
        f"timestamp is not a finite offset of at most {_MAX_OFFSET_MS:.0e} ms",
        ms,
    )
    usable = pl.select(pl.when(ms.is_finite() & (ms.abs() <= _MAX_OFFSET_MS)).then(ms)).to_series()
    us_per_ms = DURATION_UNITS["ms"] / DURATION_UNITS["us"]
    arrival_us = (usable * us_per_ms).round(0).cast(pl.Int64) + RELATIVE_ANCHOR_US
    prompt = c.cast(
        "input_length", pl.Int64, "prompt_tokens", "input_length is not an integer", required=True
    )
    output = c.cast(
        "output_length", pl.Int64, "output_tokens", "output_length is not an integer", required=True
    )
    notes = [
        anchor_note("Mooncake (timestamp = ms from the start of the trace)"),
        "Mooncake: arrival-only (latency columns null); no failure field, status = ok; hash_ids ignored",
    ]
    n = frame.df.height
    cols = {
        "arrival_time": arrival_us,
        "prompt_tokens": prompt,
        "output_tokens": output,
        "status": constant("ok", n),
        "derived_fields": constant("status", n),
    }
    return build(src, NAME, frame, c, cols, notes)


_KEY = re.compile(rb'"(timestamp|input_length|output_length|hash_ids)"\s*:')


def sniff(head: bytes, path) -> bool:
    line = first_line(head)
    if not line.startswith(b"{"):
        return False
    keys = {m.group(1) for m in _KEY.finditer(line)}
    return {b"timestamp", b"input_length", b"output_length"} <= keys


ADAPTER = Adapter(
    name=NAME,
    description="Mooncake trace JSON Lines (timestamp ms, input_length, output_length, hash_ids)",
    sniff=sniff,
    read=read,
    priority=60,
    checklist="1 arrival (relative); 2 prompt/output tokens; no latencies (arrival-only trace)",
    time_basis="relative",
)
