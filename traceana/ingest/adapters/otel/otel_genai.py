"""OpenTelemetry GenAI semantic-convention spans (any client or gateway) in OTLP JSON.

Attribute names from open-telemetry/semantic-conventions ``docs/gen-ai/gen-ai-spans.md``
(Development status). One request row per model-call span: a span with a ``gen_ai.*``
request/response/usage attribute, except agent and tool spans
(``gen_ai.operation.name`` in invoke_agent, create_agent, execute_tool), which wrap
model calls and are skipped (counted in the notes). Mapping (units: s):

- request_id = ``gen_ai.response.id``, else the spanId
- arrival_time = ``startTimeUnixNano``; e2e_latency_s = (end - start) / 1e9
- ttft_s = ``gen_ai.response.time_to_first_chunk`` (newest semconv) where present
- prompt_tokens = ``gen_ai.usage.input_tokens`` (older: ``prompt_tokens``); output_tokens =
  ``gen_ai.usage.output_tokens`` (older: ``completion_tokens``); cached_prompt_tokens =
  ``gen_ai.usage.cache_read.input_tokens``
- TPOT (derived) = (e2e - ttft) / (output_tokens - 1), output_tokens > 1, where ttft is known
- model = ``gen_ai.response.model``, else ``gen_ai.request.model``
- instance = ``server.address[:server.port]`` (the server the client called)
- status: span status code 2 or an ``error.type`` attribute -> "error", error_type =
  ``error.type`` else the status message (first line); otherwise "ok".
- finish_reason = ``gen_ai.response.finish_reasons`` (a string array) joined with ",".

The protobuf encoding of OTLP is not supported (opentelemetry-proto is not a dependency):
export JSON (collector ``file`` exporter, or ``otlphttp`` with ``encoding: json``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from traceana.ingest.adapters.otel import _otlp_reader as otlp
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source, raw_json
from traceana.units import derive_tpot

NAME = "otel_genai"
NOT_MODEL_CALLS = {"invoke_agent", "create_agent", "execute_tool"}
MODEL_CALL_KEYS = (
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.response.id",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.prompt_tokens",
    "gen_ai.usage.completion_tokens",
)
STRINGS = ("request_id", "instance", "model", "status", "error_type", "finish_reason")
INTS = ("prompt_tokens", "output_tokens", "cached_prompt_tokens")


def sniff(head: bytes, path: Path) -> bool:
    # any OTLP trace export: spans without gen_ai attributes are skipped and counted in the notes
    return otlp.sniff_otlp(head)


def is_model_call(span: otlp.Span) -> bool:
    """True for a model-call span; FieldError when ``gen_ai.operation.name`` is not a string."""
    if otlp.get_str(span.attrs, "gen_ai.operation.name") in NOT_MODEL_CALLS:
        return False
    return any(k in span.attrs for k in MODEL_CALL_KEYS)


def _first_line(text: str | None, limit: int = 200) -> str | None:
    if not text or not text.strip():
        return None
    return text.strip().splitlines()[0][:limit]


def _row(span: otlp.Span) -> dict:
    a = span.attrs
    rid = otlp.get_str(a, "gen_ai.response.id") or span.span_id
    if not rid:
        raise otlp.FieldError("gen_ai.response.id", "no request id (gen_ai.response.id or spanId)")
    if span.start_ns is None:
        raise otlp.FieldError("startTimeUnixNano", "no span start time")
    e2e = None
    if span.end_ns is not None:
        e2e = (span.end_ns - span.start_ns) / 1e9
    address = otlp.get_str(a, "server.address")
    port = otlp.get_int(a, "server.port")
    error_type = otlp.get_str(a, "error.type")
    is_error = span.status_code == otlp.STATUS_ERROR or error_type is not None
    return {
        "request_id": rid,
        "arrival_ns": span.start_ns,
        "e2e_latency_s": e2e,
        "ttft_s": otlp.get_float(a, "gen_ai.response.time_to_first_chunk"),
        "prompt_tokens": otlp.get_first(a, "gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"),
        "output_tokens": otlp.get_first(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"),
        "cached_prompt_tokens": otlp.get_int(a, "gen_ai.usage.cache_read.input_tokens"),
        "model": otlp.get_str(a, "gen_ai.response.model") or otlp.get_str(a, "gen_ai.request.model"),
        "instance": None if address is None else (address if port is None else f"{address}:{port}"),
        "status": "error" if is_error else "ok",
        "error_type": _first_line(error_type or span.status_message) if is_error else None,
        "finish_reason": otlp.finish_reasons(a, "gen_ai.response.finish_reasons"),
        "source_line": span.record,
    }


def build_table(rows: dict[str, list]) -> pa.Table:
    n = len(rows["request_id"])

    def f(key: str) -> np.ndarray:
        return np.array([np.nan if v is None else v for v in rows[key]], dtype=float)

    tpot = derive_tpot(f("e2e_latency_s"), f("ttft_s"), f("output_tokens"))
    ok = ~np.isnan(tpot)
    cols = {
        "arrival_time": otlp.ns_to_timestamp(rows["arrival_ns"]),
        "e2e_latency_s": pa.array(rows["e2e_latency_s"], type=pa.float64()),
        "ttft_s": pa.array(rows["ttft_s"], type=pa.float64()),
        "tpot_s": pa.array(tpot, mask=~ok, type=pa.float64()),
        "derived_fields": pa.array(["tpot_s" if x else None for x in ok], type=pa.string()),
        "source_format": pa.array([NAME] * n, type=pa.string()),
        "source_line": pa.array(rows["source_line"], type=pa.int64()),
        **otlp.typed_columns(rows, ints=INTS, strings=STRINGS),
    }
    return pa.table(cols)


def read(src: Source) -> AdapterResult:
    keys = (*STRINGS, *INTS, "arrival_ns", "e2e_latency_s", "ttft_s", "source_line")
    rows: dict[str, list] = {k: [] for k in keys}
    quarantine: list[QuarantineRow] = []
    skipped = 0
    for span in otlp.iter_spans(src):
        if isinstance(span, QuarantineRow):
            quarantine.append(span)
            continue
        try:
            if not is_model_call(span):
                skipped += 1
                continue
            row = _row(span)
        except otlp.FieldError as exc:
            quarantine.append(QuarantineRow(span.record, exc.field, exc.reason, raw_json(span.raw)))
            continue
        for k in keys:
            rows[k].append(row[k])
    table = build_table(rows)
    notes = [
        "GenAI spans: e2e = span end - start (client-side); ttft only where "
        "gen_ai.response.time_to_first_chunk is set; TPOT derived as (e2e - ttft)/(output_tokens - 1); "
        "instance = server.address:server.port; no queue, prefill or decode split in this source",
    ]
    if skipped:
        notes.append(
            f"{skipped} spans that are not model calls (agent, tool or non-GenAI spans) were skipped"
        )
    if skipped and table.num_rows == 0 and not quarantine:
        notes.append("no GenAI model-call span (gen_ai.request.model, gen_ai.usage.*, ...) in this OTLP file")
    return AdapterResult(
        requests=table, quarantine=quarantine, notes=notes, records_read=table.num_rows + len(quarantine)
    )


ADAPTER = Adapter(
    name=NAME,
    description="OpenTelemetry GenAI semantic-convention spans (chat/completion calls) in OTLP JSON",
    sniff=sniff,
    read=read,
    priority=60,
    tables=("requests",),
    checklist="1 arrival; 2 tokens, TTFT (newest semconv), TPOT (derived); 5 model; "
    "6 status, error.type, finish_reasons, e2e",
)
