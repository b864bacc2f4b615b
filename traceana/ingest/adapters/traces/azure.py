"""Azure LLM inference trace CSV (Azure/AzurePublicDataset, ``AzureLLMInferenceTrace_{code,conv}*.csv``).

Columns (from the dataset's ``AzureLLMInferenceDataset2023.md`` and the files
themselves): ``TIMESTAMP`` (invocation time, 'YYYY-mm-dd HH:MM:SS.fffffff', 7
fractional digits, no zone), ``ContextTokens``, ``GeneratedTokens``.

Arrival-only: arrival_time = TIMESTAMP (naive, taken as UTC; the 7th fractional
digit, 100 ns, is rounded to the microsecond), prompt_tokens = ContextTokens,
output_tokens = GeneratedTokens. Latency columns stay null. The trace lists
served invocations (every one with GeneratedTokens) and has no failure field, so
status = "ok", flagged as derived in derived_fields (noted).
request_id = ``<file stem>#<line>`` (no id in the source); source_line = the
physical line (header = line 1).
"""

from __future__ import annotations

import polars as pl

from traceana.ingest.adapters._arrival_tables import build, constant, require_columns
from traceana.ingest.adapters._columnar import Caster, read_csv_strings
from traceana.ingest.adapters._rows import first_line
from traceana.ingest.base import Adapter, AdapterResult, Source

NAME = "azure"
COLUMNS = ["TIMESTAMP", "ContextTokens", "GeneratedTokens"]
_FMT = "%Y-%m-%d %H:%M:%S%.f"


def read(src: Source) -> AdapterResult:
    frame = read_csv_strings(src)
    require_columns(src, frame, COLUMNS, NAME)
    c = Caster(frame)
    raw = c.column("TIMESTAMP").str.strip_chars()
    ts = raw.str.strptime(pl.Datetime("ns"), _FMT, strict=False)
    c.check(
        raw.is_not_null() & ts.is_null(),
        "arrival_time",
        "TIMESTAMP is not 'YYYY-mm-dd HH:MM:SS.fffffff'",
        raw,
    )
    c.require(ts, "arrival_time")
    arrival_us = (ts.cast(pl.Int64) + 500) // 1000
    prompt = c.cast(
        "ContextTokens", pl.Int64, "prompt_tokens", "ContextTokens is not an integer", required=True
    )
    output = c.cast(
        "GeneratedTokens", pl.Int64, "output_tokens", "GeneratedTokens is not an integer", required=True
    )
    n = frame.df.height
    notes = [
        "Azure trace: arrival-only (latency columns null); TIMESTAMP has no zone and is taken as UTC; "
        "no failure field, status = ok for every listed invocation",
    ]
    cols = {
        "arrival_time": arrival_us,
        "prompt_tokens": prompt,
        "output_tokens": output,
        "status": constant("ok", n),
        "derived_fields": constant("status", n),
    }
    return build(src, NAME, frame, c, cols, notes)


def sniff(head: bytes, path) -> bool:
    cols = [c.strip().strip('"') for c in first_line(head).decode("utf-8", "replace").split(",")]
    return cols[:3] == COLUMNS


ADAPTER = Adapter(
    name=NAME,
    description="Azure LLM inference trace CSV (TIMESTAMP, ContextTokens, GeneratedTokens)",
    sniff=sniff,
    read=read,
    priority=60,
    checklist="1 arrival; 2 prompt/output tokens; no latencies (arrival-only trace)",
)
