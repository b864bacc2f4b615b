"""OpenInference (Arize Phoenix) spans in OTLP JSON: one request row per LLM span.

Attribute names from Arize-ai/openinference
``python/openinference-semantic-conventions/src/openinference/semconv/trace/__init__.py``
(``SpanAttributes``). A span is a model call when ``openinference.span.kind`` is
``LLM``; CHAIN, AGENT, TOOL, RETRIEVER, EMBEDDING, ... spans wrap or surround
model calls and are skipped (counted in the notes). Mapping (s):

- request_id = the spanId (OpenInference records no response id)
- arrival_time = ``startTimeUnixNano``; e2e_latency_s = (end - start) / 1e9 (client side)
- prompt_tokens = ``llm.token_count.prompt``; output_tokens = ``llm.token_count.completion``
  (reasoning included, as ``completion_details.reasoning`` is a part of it);
  cached_prompt_tokens = ``llm.token_count.prompt_details.cache_read``
- model = ``llm.response.model_name``, else ``llm.model_name``, else ``llm.request.model_name``
- route = ``llm.provider`` (else ``llm.system``): the provider the call went to
- status: span status code 2 -> "error", error_type = the status message's first line
- finish_reason = ``llm.finish_reason``
- No TTFT: OpenInference has no first-token attribute, so TTFT and TPOT stay null.

The OTLP reading (layout, int64 strings, status) is shared with the other span
adapters (:mod:`._otlp`).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from traceana.ingest.adapters.otel import _otlp_reader as otlp
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source, raw_json

NAME = "openinference"
KIND = "openinference.span.kind"
STRINGS = ("request_id", "model", "route", "status", "error_type", "finish_reason")
INTS = ("prompt_tokens", "output_tokens", "cached_prompt_tokens")


def sniff(head: bytes, path: Path) -> bool:
    return otlp.sniff_otlp(head) and b'"openinference.span.kind"' in head


def _first_line(text: str | None) -> str | None:
    return text.strip().splitlines()[0][:200] if text and text.strip() else None


def _row(span: otlp.Span) -> dict:
    a = span.attrs
    if not span.span_id:
        raise otlp.FieldError("spanId", "no spanId")
    if span.start_ns is None:
        raise otlp.FieldError("startTimeUnixNano", "no span start time")
    is_error = span.status_code == otlp.STATUS_ERROR
    model = (
        otlp.get_str(a, "llm.response.model_name")
        or otlp.get_str(a, "llm.model_name")
        or otlp.get_str(a, "llm.request.model_name")
    )
    return {
        "request_id": span.span_id,
        "arrival_ns": span.start_ns,
        "e2e_latency_s": None if span.end_ns is None else (span.end_ns - span.start_ns) / 1e9,
        "prompt_tokens": otlp.get_int(a, "llm.token_count.prompt"),
        "output_tokens": otlp.get_int(a, "llm.token_count.completion"),
        "cached_prompt_tokens": otlp.get_int(a, "llm.token_count.prompt_details.cache_read"),
        "model": model,
        "route": otlp.get_str(a, "llm.provider") or otlp.get_str(a, "llm.system"),
        "status": "error" if is_error else "ok",
        "error_type": _first_line(span.status_message) if is_error else None,
        "finish_reason": otlp.get_str(a, "llm.finish_reason"),
        "source_line": span.record,
    }


def read(src: Source) -> AdapterResult:
    keys = (*STRINGS, *INTS, "arrival_ns", "e2e_latency_s", "source_line")
    rows: dict[str, list] = {k: [] for k in keys}
    quarantine: list[QuarantineRow] = []
    skipped = 0
    for span in otlp.iter_spans(src):
        if isinstance(span, QuarantineRow):
            quarantine.append(span)
            continue
        try:
            if otlp.get_str(span.attrs, KIND) != "LLM":
                skipped += 1
                continue
            row = _row(span)
        except otlp.FieldError as exc:
            quarantine.append(QuarantineRow(span.record, exc.field, exc.reason, raw_json(span.raw)))
            continue
        for k in keys:
            rows[k].append(row[k])
    n = len(rows["request_id"])
    table = pa.table(
        {
            "arrival_time": otlp.ns_to_timestamp(rows["arrival_ns"]),
            "e2e_latency_s": pa.array(rows["e2e_latency_s"], type=pa.float64()),
            "source_format": pa.array([NAME] * n, type=pa.string()),
            "source_line": pa.array(rows["source_line"], type=pa.int64()),
            **otlp.typed_columns(rows, ints=INTS, strings=STRINGS),
        }
    )
    notes = [
        "OpenInference LLM spans: e2e = span end - start (client side); no first-token time in "
        "OpenInference, so TTFT and TPOT are not available; route = llm.provider"
    ]
    if skipped:
        notes.append(f"{skipped} non-LLM spans (CHAIN, AGENT, TOOL, RETRIEVER, ...) were skipped")
    return AdapterResult(requests=table, quarantine=quarantine, notes=notes, records_read=n + len(quarantine))


ADAPTER = Adapter(
    name=NAME,
    description="OpenInference (Arize Phoenix) LLM spans in OTLP JSON (token counts, latency, model, provider)",
    sniff=sniff,
    read=read,
    priority=65,  # before otel_genai, which accepts any OTLP trace file
    tables=("requests",),
    checklist="1 arrival; 2 prompt/output/cached tokens (no TTFT/TPOT); 5 model, route (provider); "
    "6 status, error message, finish_reason, e2e",
)
