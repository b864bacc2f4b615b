"""vLLM ``llm_request`` spans in OTLP JSON (the OpenTelemetry Collector ``file`` exporter).

Attribute names are vLLM's ``SpanAttributes`` (``vllm/tracing.py``, later
``vllm/tracing/utils.py``); spans are emitted by V0 ``LLMEngine.create_trace_span``
and V1 ``OutputProcessor.do_tracing`` (released from 0.10.2). Mapping (units: s):

- request_id = ``gen_ai.request.id`` (else the spanId); arrival_time = ``startTimeUnixNano``
  (vLLM sets the span start to the request's arrival, epoch ns)
- queue_time_s = ``gen_ai.latency.time_in_queue``; ttft_s = ``gen_ai.latency.time_to_first_token``;
  e2e_latency_s = ``gen_ai.latency.e2e``; prefill_time_s / decode_time_s =
  ``gen_ai.latency.time_in_model_prefill`` / ``_decode`` (V1 only)
- prompt/output/cached tokens = ``gen_ai.usage.prompt_tokens`` / ``completion_tokens`` /
  ``cached_tokens`` (the last only in the newest builds)
- scheduled_time (derived) = arrival + (ttft - prefill) where both are known (V1: prefill is
  first token - scheduled, so this lands on the scheduling instant in the front end's clock);
  else arrival + queue (V0: time_in_queue = first scheduled - arrival). V1's time_in_queue is
  measured from the engine core's queued timestamp, which is later than the arrival by the
  front end's processing, so arrival + queue would be early by that much.
- TPOT (derived) = (e2e - ttft) / (output_tokens - 1) for output_tokens > 1.
- instance: resource ``service.instance.id``, else ``host.name``, else ``service.name``
  (the SDK default ``unknown_service*`` is ignored). vLLM puts no instance on the span.
- model: ``gen_ai.response.model`` (V0), else ``gen_ai.request.model`` (semconv opt-in builds),
  else resource ``service.name``.
- status: span status code 2 -> "error" (error_type = ``error.type`` attribute, else the status
  message); finish reason "abort" -> "cancelled", "error" -> "error"; else "ok" (V1 only
  exports spans of finished requests).

Not canonical, ignored: V0 ``time_in_scheduler``, ``time_in_model_forward`` /
``time_in_model_execute``, ``gen_ai.usage.num_sequences``, V1 ``time_in_model_inference``
(= prefill + decode), sampling parameters (max_tokens, n, temperature, top_p).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa

from traceana.ingest.adapters.otel import _otlp_reader as otlp
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source, raw_json
from traceana.schema import TIMESTAMP
from traceana.units import derive_tpot

NAME = "vllm_otlp"
#: |scheduled_time| bound, epoch us (~3170 years from 1970): polars cannot even show times near int64
MAX_TIME_US = 10**17
SPAN_NAME = "llm_request"
INSTANCE_KEYS = ("service.instance.id", "host.name", "service.name")
FLOATS = {
    "queue_time_s": "gen_ai.latency.time_in_queue",
    "ttft_s": "gen_ai.latency.time_to_first_token",
    "e2e_latency_s": "gen_ai.latency.e2e",
    "prefill_time_s": "gen_ai.latency.time_in_model_prefill",
    "decode_time_s": "gen_ai.latency.time_in_model_decode",
}
INTS = {
    "prompt_tokens": "gen_ai.usage.prompt_tokens",
    "output_tokens": "gen_ai.usage.completion_tokens",
    "cached_prompt_tokens": "gen_ai.usage.cached_tokens",
}
STRINGS = ("request_id", "instance", "model", "status", "error_type", "finish_reason")


def sniff(head: bytes, path: Path) -> bool:
    return otlp.sniff_otlp(head) and (b'"llm_request"' in head or b'"gen_ai.latency.' in head)


def is_vllm_span(span: otlp.Span) -> bool:
    return span.name == SPAN_NAME or "gen_ai.latency.e2e" in span.attrs


def _first_line(text: str | None, limit: int = 200) -> str | None:
    if not text:
        return None
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit] or None


def _row(span: otlp.Span) -> dict:
    a = span.attrs
    row = {k: otlp.get_float(a, key) for k, key in FLOATS.items()}
    row.update({k: otlp.get_int(a, key) for k, key in INTS.items()})
    row["request_id"] = otlp.get_str(a, "gen_ai.request.id") or span.span_id
    if not row["request_id"]:
        raise otlp.FieldError("gen_ai.request.id", "no request id (gen_ai.request.id or spanId)")
    if span.start_ns is None:
        raise otlp.FieldError("startTimeUnixNano", "no span start time (the request's arrival)")
    row["arrival_ns"] = span.start_ns
    row["instance"] = otlp.resource_name(span.resource, INSTANCE_KEYS)
    row["model"] = (
        otlp.get_str(a, "gen_ai.response.model")
        or otlp.get_str(a, "gen_ai.request.model")
        or otlp.resource_name(span.resource, ("service.name",))
    )
    finish = otlp.finish_reasons(a, "gen_ai.response.finish_reasons")
    row["finish_reason"] = finish
    error_type = otlp.get_str(a, "error.type")
    if span.status_code == otlp.STATUS_ERROR:
        row["status"] = "error"
        row["error_type"] = _first_line(error_type or span.status_message)
    elif finish == "abort":
        row["status"], row["error_type"] = "cancelled", None
    elif finish == "error" or error_type:
        row["status"], row["error_type"] = "error", _first_line(error_type)
    else:
        row["status"], row["error_type"] = "ok", None
    row["source_line"] = span.record
    return row


def _scheduled(rows: dict[str, list]) -> tuple[list, list[bool]]:
    """scheduled_time in us: arrival + (ttft - prefill), else arrival + queue."""
    out, derived = [], []
    for arr, ttft, prefill, queue in zip(
        rows["arrival_ns"], rows["ttft_s"], rows["prefill_time_s"], rows["queue_time_s"], strict=True
    ):
        delay = ttft - prefill if ttft is not None and prefill is not None else queue
        us = None if delay is None or not math.isfinite(delay) else arr // 1000 + round(delay * 1e6)
        if us is None or abs(us) > MAX_TIME_US:
            out.append(None)  # unknown, or latencies so large the time does not fit timestamp[us]
            derived.append(False)
        else:
            out.append(us)
            derived.append(True)
    return out, derived


def build_table(rows: dict[str, list]) -> pa.Table:
    n = len(rows["request_id"])
    sched_us, sched_derived = _scheduled(rows)
    e2e = np.array([np.nan if v is None else v for v in rows["e2e_latency_s"]], dtype=float)
    ttft = np.array([np.nan if v is None else v for v in rows["ttft_s"]], dtype=float)
    out_tok = np.array([np.nan if v is None else v for v in rows["output_tokens"]], dtype=float)
    tpot = derive_tpot(e2e, ttft, out_tok)
    tpot_ok = ~np.isnan(tpot)
    derived = [
        ",".join(name for name, flag in (("scheduled_time", s), ("tpot_s", t)) if flag) or None
        for s, t in zip(sched_derived, tpot_ok, strict=True)
    ]
    cols = {
        "arrival_time": otlp.ns_to_timestamp(rows["arrival_ns"]),
        "scheduled_time": pa.array(sched_us, type=pa.int64()).cast(TIMESTAMP),
        "tpot_s": pa.array(tpot, mask=~tpot_ok, type=pa.float64()),
        "derived_fields": pa.array(derived, type=pa.string()),
        "source_format": pa.array([NAME] * n, type=pa.string()),
        "source_line": pa.array(rows["source_line"], type=pa.int64()),
        **otlp.typed_columns(rows, floats=FLOATS, ints=INTS, strings=STRINGS),
    }
    return pa.table(cols)


def read(src: Source) -> AdapterResult:
    keys = (*FLOATS, *INTS, *STRINGS, "arrival_ns", "source_line")
    rows: dict[str, list] = {k: [] for k in keys}
    quarantine: list[QuarantineRow] = []
    skipped = 0
    for span in otlp.iter_spans(src):
        if isinstance(span, QuarantineRow):
            quarantine.append(span)
            continue
        if not is_vllm_span(span):
            skipped += 1
            continue
        try:
            row = _row(span)
        except otlp.FieldError as exc:
            quarantine.append(QuarantineRow(span.record, exc.field, exc.reason, raw_json(span.raw)))
            continue
        for k in keys:
            rows[k].append(row[k])
    table = build_table(rows)
    notes = [
        "vLLM spans: scheduled_time derived as arrival + (ttft - prefill) where both are known, "
        "else arrival + time_in_queue; TPOT derived as (e2e - ttft)/(output_tokens - 1)",
        "instance from resource service.instance.id > host.name > service.name; "
        "model from gen_ai.response.model > gen_ai.request.model > service.name",
    ]
    if skipped:
        notes.append(f"{skipped} spans that are not vLLM '{SPAN_NAME}' spans were skipped (not requests)")
    return AdapterResult(
        requests=table,
        quarantine=quarantine,
        notes=notes,
        records_read=table.num_rows + len(quarantine),
    )


ADAPTER = Adapter(
    name=NAME,
    description="vLLM llm_request spans (V0 and V1 attributes) in OTLP JSON from the OpenTelemetry Collector file exporter",
    sniff=sniff,
    read=read,
    priority=70,
    tables=("requests",),
    checklist="1 arrival+queue+scheduled (derived); 2 tokens, TTFT, TPOT (derived); 3 prefill/decode (V1); "
    "5 model (V0/resource); 6 status (finished spans only), finish_reason (newest), e2e",
)
