"""The canonical Arrow schemas: ``requests``, ``engine_samples``, ``engine_histograms``.

Times are ``timestamp[us, tz=UTC]``; durations are float64 seconds and carry the
unit in their name (``_s``). Every field has Arrow metadata: ``description``,
``unit`` and ``checklist`` (the item 1-6 of the trace checklist it serves, or
``provenance``).

``schemas/*.json`` is generated from this module (``traceana schema --write`` or
``python -m traceana.schema``); a test fails when the files drift.

Schema evolution: ``SCHEMA_VERSION`` is ``major.minor``. A minor bump only adds
nullable fields (recorded in ``ADDED_IN``); :func:`conform` fills fields that an
older store lacks with nulls, so a store written by an older minor version reads.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from traceana.errors import SchemaError

SCHEMA_VERSION = "1.2"
SCHEMA_MAJOR = 1

TIMESTAMP = pa.timestamp("us", tz="UTC")

STATUSES = ("ok", "error", "timeout", "cancelled", "rejected")

CHECKLIST_ITEMS = {
    1: "arrival time, queue time, scheduler decision",
    2: "prompt tokens, output tokens, TTFT, TPOT",
    3: "prefill time and decode time, separately",
    4: "KV-cache memory and batch size over time",
    5: "model version, quantization format, fallback path",
    6: "status, error type, user-visible latency",
}


@dataclass(frozen=True)
class Field:
    name: str
    type: pa.DataType
    description: str
    unit: str
    checklist: str  # "1".."6" or "provenance"
    nullable: bool = True

    def to_arrow(self) -> pa.Field:
        meta = {"description": self.description, "unit": self.unit, "checklist": self.checklist}
        return pa.field(self.name, self.type, nullable=self.nullable, metadata=meta)


_REQUESTS = [
    Field(
        "request_id",
        pa.string(),
        "Request id, unique per source (synthesized as file#index when the source has none)",
        "",
        "1",
        nullable=False,
    ),
    Field(
        "arrival_time",
        TIMESTAMP,
        "When the request arrived at the server or gateway (wall clock)",
        "UTC timestamp",
        "1",
        nullable=False,
    ),
    Field(
        "queue_time_s",
        pa.float64(),
        "Time spent waiting before the scheduler first ran the request",
        "s",
        "1",
    ),
    Field(
        "scheduled_time",
        TIMESTAMP,
        "When the scheduler first admitted the request into a running batch",
        "UTC timestamp",
        "1",
    ),
    Field(
        "scheduler_decision",
        pa.string(),
        "What the scheduler did: admitted, preempted, rejected, ...",
        "",
        "1",
    ),
    Field(
        "num_preemptions", pa.int64(), "How many times the request was preempted (KV exhausted)", "count", "1"
    ),
    Field("prompt_tokens", pa.int64(), "Prompt (input) tokens", "tokens", "2"),
    Field("output_tokens", pa.int64(), "Generated tokens, reasoning tokens included", "tokens", "2"),
    Field("cached_prompt_tokens", pa.int64(), "Prompt tokens served from the prefix cache", "tokens", "2"),
    Field(
        "ttft_s", pa.float64(), "Time to first token: first token time - arrival (includes queue)", "s", "2"
    ),
    Field(
        "tpot_s",
        pa.float64(),
        "Time per output token: (e2e - ttft) / (output_tokens - 1), output_tokens > 1",
        "s",
        "2",
    ),
    Field(
        "itl_s",
        pa.list_(pa.float64()),
        "Individual inter-token (inter-chunk) gaps, where the source records them",
        "s",
        "2",
    ),
    Field("prefill_time_s", pa.float64(), "Prefill: scheduled to first token", "s", "3"),
    Field("decode_time_s", pa.float64(), "Decode: first token to last token", "s", "3"),
    Field("instance", pa.string(), "Serving instance / replica; joins to engine_samples.instance", "", "4"),
    Field("model", pa.string(), "Model name as served", "", "5"),
    Field("model_version", pa.string(), "Model version or deployment revision", "", "5"),
    Field("quantization", pa.string(), "Quantization format (fp16, fp8, awq, ...)", "", "5"),
    Field("route", pa.string(), "Route / endpoint / model group the request took", "", "5"),
    Field(
        "fallback_from",
        pa.string(),
        "Model or route that failed over to this one; null on the primary path",
        "",
        "5",
    ),
    Field("status", pa.string(), "ok, error, timeout, cancelled or rejected", "", "6"),
    Field("error_type", pa.string(), "Error class or code for failed requests", "", "6"),
    Field("finish_reason", pa.string(), "Why generation stopped (stop, length, abort, ...)", "", "6"),
    Field(
        "e2e_latency_s",
        pa.float64(),
        "User-visible end-to-end latency: last token (or error) - arrival",
        "s",
        "6",
    ),
    Field(
        "derived_fields",
        pa.string(),
        "Comma-separated fields traceana derived rather than read (e.g. tpot_s)",
        "",
        "provenance",
    ),
    Field("source_format", pa.string(), "Adapter that read the row", "", "provenance"),
    Field("source_file", pa.string(), "File the row came from", "", "provenance"),
    Field(
        "source_line",
        pa.int64(),
        "Line (text formats) or row number (1-based) in the source file",
        "",
        "provenance",
    ),
    Field(
        "time_basis",
        pa.string(),
        "How arrival_time was obtained: measured (a wall clock), relative (real offsets from an invented date), "
        "synthetic (invented: the source has no send times)",
        "",
        "provenance",
    ),
    Field(
        "tags",
        pa.string(),
        "Tags set at ingest (traceana ingest --set key=value), a JSON object",
        "",
        "provenance",
    ),
]

_ENGINE_SAMPLES = [
    Field("time", TIMESTAMP, "Scrape or log tick time", "UTC timestamp", "4", nullable=False),
    Field(
        "instance",
        pa.string(),
        "Serving instance / replica (Prometheus instance + engine)",
        "",
        "4",
        nullable=False,
    ),
    Field("model", pa.string(), "Model served by the instance", "", "5"),
    Field("num_running", pa.float64(), "Requests in the running batch (gauge)", "requests", "4"),
    Field("num_waiting", pa.float64(), "Requests waiting in the queue (gauge)", "requests", "4"),
    Field("num_preempted", pa.float64(), "Preemptions since the previous sample", "count", "4"),
    Field("kv_cache_usage", pa.float64(), "Fraction of the KV cache in use, 0..1", "fraction", "4"),
    Field("kv_cache_capacity_tokens", pa.int64(), "KV cache capacity", "tokens", "4"),
    Field(
        "prompt_tokens_per_s", pa.float64(), "Prefill throughput since the previous sample", "tokens/s", "4"
    ),
    Field(
        "generation_tokens_per_s",
        pa.float64(),
        "Decode throughput since the previous sample",
        "tokens/s",
        "4",
    ),
    Field("gpu_count", pa.int64(), "GPUs behind the instance", "count", "4"),
    Field(
        "gpu_utilization",
        pa.float64(),
        "GPU busy fraction over the sample (DCGM GPU_UTIL), 0..1",
        "fraction",
        "4",
    ),
    Field("gpu_memory_used_bytes", pa.float64(), "GPU framebuffer memory in use", "bytes", "4"),
    Field("gpu_memory_total_bytes", pa.float64(), "GPU framebuffer memory in total", "bytes", "4"),
    Field("gpu_power_w", pa.float64(), "GPU power draw", "W", "4"),
    Field("gpu_type", pa.string(), "GPU type (H100, A100, ...)", "", "4"),
    Field("source_format", pa.string(), "Adapter that read the row", "", "provenance"),
    Field("source_file", pa.string(), "File the row came from", "", "provenance"),
]

_ENGINE_HISTOGRAMS = [
    Field("time", TIMESTAMP, "Scrape time", "UTC timestamp", "4", nullable=False),
    Field("instance", pa.string(), "Serving instance", "", "4", nullable=False),
    Field("model", pa.string(), "Model served", "", "5"),
    Field(
        "metric",
        pa.string(),
        "Canonical metric the histogram measures (ttft_s, e2e_latency_s, ...)",
        "",
        "provenance",
        nullable=False,
    ),
    Field(
        "source_metric",
        pa.string(),
        "Metric name in the source (vllm:time_to_first_token_seconds, ...)",
        "",
        "provenance",
    ),
    Field("le", pa.float64(), "Bucket upper bound (inf for +Inf)", "s", "provenance", nullable=False),
    Field(
        "cumulative_count",
        pa.float64(),
        "Cumulative count of observations <= le since start",
        "count",
        "provenance",
    ),
    Field("sum", pa.float64(), "Histogram _sum at this scrape", "s", "provenance"),
    Field("count", pa.float64(), "Histogram _count at this scrape", "count", "provenance"),
    Field("source_format", pa.string(), "Adapter that read the row", "", "provenance"),
    Field("source_file", pa.string(), "File the row came from", "", "provenance"),
]

_QUARANTINE = [
    Field("table", pa.string(), "Canonical table the row was meant for", "", "provenance", nullable=False),
    Field("source_format", pa.string(), "Adapter that read the row", "", "provenance"),
    Field("source_file", pa.string(), "File the row came from", "", "provenance", nullable=False),
    Field("source_line", pa.int64(), "Line or row number (1-based) in the source file", "", "provenance"),
    Field("field", pa.string(), "Field that failed validation", "", "provenance"),
    Field(
        "reason", pa.string(), "Rule that failed, with the offending value", "", "provenance", nullable=False
    ),
    Field("raw", pa.string(), "The row as read (JSON), truncated to 4 KiB", "", "provenance"),
    Field("ingested_at", TIMESTAMP, "When the ingest ran", "UTC timestamp", "provenance"),
]

# Fields added after 1.0: a store written by 1.0 lacks them and reads as null.
ADDED_IN = {
    "requests": {"itl_s": "1.1", "derived_fields": "1.1", "time_basis": "1.2", "tags": "1.2"},
    "engine_samples": {
        "gpu_utilization": "1.2",
        "gpu_memory_used_bytes": "1.2",
        "gpu_memory_total_bytes": "1.2",
        "gpu_power_w": "1.2",
    },
}

TABLES: dict[str, list[Field]] = {
    "requests": _REQUESTS,
    "engine_samples": _ENGINE_SAMPLES,
    "engine_histograms": _ENGINE_HISTOGRAMS,
    "quarantine": _QUARANTINE,
}
PUBLISHED = ("requests", "engine_samples", "engine_histograms")


def fields(table: str) -> list[Field]:
    try:
        return TABLES[table]
    except KeyError:
        raise SchemaError(f"unknown table '{table}'. Hint: one of {sorted(TABLES)}") from None


def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of ``table`` with field and schema metadata."""
    meta = {"traceana.table": table, "traceana.schema_version": SCHEMA_VERSION}
    return pa.schema([f.to_arrow() for f in fields(table)], metadata=meta)


REQUESTS = arrow_schema("requests")
ENGINE_SAMPLES = arrow_schema("engine_samples")
ENGINE_HISTOGRAMS = arrow_schema("engine_histograms")
QUARANTINE = arrow_schema("quarantine")


def conform(table: pa.Table, name: str) -> pa.Table:
    """Return ``table`` with exactly the columns of schema ``name``, in order.

    Missing nullable columns are filled with nulls (this is what lets an older
    minor version's store read); extra columns are dropped; types are cast
    safely (a lossy cast raises SchemaError naming the column).
    """
    schema = arrow_schema(name)
    cols = []
    for f in schema:
        if f.name in table.column_names:
            col = table.column(f.name)
            if col.type != f.type:
                try:
                    col = col.cast(f.type)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise SchemaError(f"{name}.{f.name}: cannot cast {col.type} to {f.type}: {exc}") from None
            cols.append(col)
        elif f.nullable:
            cols.append(pa.nulls(table.num_rows, f.type))
        else:
            raise SchemaError(f"{name}: required column '{f.name}' is missing")
    return pa.Table.from_arrays(cols, schema=schema.remove_metadata().with_metadata(schema.metadata))


def to_json(table: str) -> dict:
    """A JSON description of the schema (what ``schemas/<table>.v1.json`` holds)."""
    return {
        "table": table,
        "schema_version": SCHEMA_VERSION,
        "fields": [
            {
                "name": f.name,
                "type": str(f.type),
                "nullable": f.nullable,
                "unit": f.unit,
                "checklist": f.checklist,
                "description": f.description,
                "added_in": ADDED_IN.get(table, {}).get(f.name, "1.0"),
            }
            for f in fields(table)
        ],
    }


def schema_files(root: Path) -> dict[Path, str]:
    """The generated table schema files and their text, keyed by path under ``root``.

    Output schemas of higher layers (``compare.schema.json``) are generated
    beside their code; ``traceana schema --write`` writes them all.
    """
    return {
        root / "schemas" / f"{t}.v{SCHEMA_MAJOR}.json": json.dumps(to_json(t), indent=2) + "\n"
        for t in PUBLISHED
    }


def write_schema_files(root: Path, files: dict[Path, str] | None = None) -> list[Path]:
    """Write ``files`` (default: :func:`schema_files` of ``root``); returns the paths written."""
    written = []
    for path, text in (schema_files(root) if files is None else files).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    root = Path(argv[0]) if argv else Path(__file__).resolve().parent.parent
    for p in write_schema_files(root):
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def polars_dtype(t: pa.DataType):
    """The polars dtype a canonical Arrow type is read as (timestamps as UTC microseconds, lists of float64)."""
    import polars as pl  # here, so that importing the schema stays light

    if pa.types.is_timestamp(t):
        return pl.Datetime("us", "UTC")
    if pa.types.is_floating(t):
        return pl.Float64
    if pa.types.is_integer(t):
        return pl.Int64
    if pa.types.is_boolean(t):
        return pl.Boolean
    if pa.types.is_list(t):
        return pl.List(pl.Float64)
    return pl.String
