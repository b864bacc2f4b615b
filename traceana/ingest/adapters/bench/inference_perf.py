"""inference-perf (kubernetes-sigs/inference-perf) ``per_request_lifecycle_metrics.json``.

Written with ``report.request_lifecycle.per_request: true`` by
``inference_perf/reportgen/base.py``: a JSON array of ``RequestLifecycleMetric``
(``inference_perf/apis/base.py``), one per request:
``{start_time, end_time, request, response, info{input_tokens,
request_metrics{text{input_tokens}}, response_metrics{output_tokens,
server_usage{prompt_tokens, completion_tokens}, chunk_times[], output_token_times[]},
lora_adapter, labels}, error{error_type, error_msg} | null}``.
All times are ``time.perf_counter()`` seconds (monotonic, arbitrary origin).

- request_id = ``<file stem>#<index>`` (the record has no id)
- arrival_time = 2000-01-01 + (start_time - min(start_time)) (noted: relative clock)
- e2e_latency_s = end_time - start_time (inference-perf's ``request_latency``)
- ttft_s = output_token_times[0] - start_time; itl_s = the gaps of output_token_times
- TPOT (derived) = (e2e - ttft) / (output_tokens - 1), output_tokens > 1
- prompt_tokens = server_usage.prompt_tokens, else info.input_tokens;
  output_tokens = response_metrics.output_tokens (server_usage.completion_tokens when absent)
- status = "error" when ``error`` is set (error_type = error.error_type), else "ok"
- route = lora_adapter (the LoRA the request asked for), where set
"""

from __future__ import annotations

from pathlib import Path

from traceana.errors import TraceParseError
from traceana.ingest.adapters._rows import (
    RELATIVE_ANCHOR_US,
    anchor_note,
    as_float,
    as_int,
    derive_tpot_row,
    q_record,
    rows_to_table,
    stem,
)
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source, load_json_line

NAME = "inference_perf"


def sniff(head: bytes, path: Path) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return (
        text[:1] == b"["
        and b'"start_time"' in head
        and b'"end_time"' in head
        and b'"request_metrics"' in head
        and (b'"response_metrics"' in head or b'"error_type"' in head)
    )


def _dict(obj, key: str) -> dict:
    v = obj.get(key) if isinstance(obj, dict) else None
    return v if isinstance(v, dict) else {}


def _row(rec: dict) -> dict:
    start = as_float(rec.get("start_time"), "start_time")
    end = as_float(rec.get("end_time"), "end_time")
    if start is None:
        raise ValueError("start_time: missing")
    info = _dict(rec, "info")
    resp = _dict(info, "response_metrics")
    usage = _dict(resp, "server_usage")
    times = resp.get("output_token_times")
    if times is not None and not isinstance(times, list):
        raise ValueError("output_token_times: not a list")
    times = [as_float(t, "output_token_times") for t in times or []]
    err = rec.get("error")
    prompt = as_int(usage.get("prompt_tokens"), "server_usage.prompt_tokens")
    if prompt is None:
        prompt = as_int(
            info.get("input_tokens", _dict(_dict(info, "request_metrics"), "text").get("input_tokens")),
            "input_tokens",
        )
    output = as_int(resp.get("output_tokens"), "output_tokens")
    if output is None:
        output = as_int(usage.get("completion_tokens"), "server_usage.completion_tokens")
    row = {
        "start": start,
        "prompt_tokens": prompt,
        "output_tokens": output,
        "ttft_s": times[0] - start if times else None,
        "itl_s": [b - a for a, b in zip(times, times[1:], strict=False)] if times else None,
        "e2e_latency_s": None if end is None else end - start,
        "status": "error" if err else "ok",
        "error_type": None,
        "route": info.get("lora_adapter") if isinstance(info.get("lora_adapter"), str) else None,
    }
    if err:
        et = err.get("error_type") if isinstance(err, dict) else str(err)
        row["error_type"] = str(et)[:200] if et else "error"
        row["ttft_s"] = row["itl_s"] = None
    derive_tpot_row(row)
    return row


def read(src: Source) -> AdapterResult:
    try:
        doc = load_json_line(src.data, src.limits.max_json_depth)
    except ValueError as exc:
        raise TraceParseError(src.name, f"not an inference-perf per-request report: {exc}") from None
    if not isinstance(doc, list):
        raise TraceParseError(src.name, "not an inference-perf per-request report (expected a JSON array)")
    rows: list[dict] = []
    bad: list[QuarantineRow] = []
    file_stem = stem(src)
    for i, rec in enumerate(doc):
        if not isinstance(rec, dict):
            bad.append(q_record(i + 1, None, "record is not an object", rec))
            continue
        try:
            row = _row(rec)
        except ValueError as exc:
            msg = str(exc)
            bad.append(q_record(i + 1, msg.split(":", 1)[0], msg, rec))
            continue
        row["request_id"] = f"{file_stem}#{i}"
        row["source_line"] = i + 1
        rows.append(row)
    t0 = min((r["start"] for r in rows), default=0.0)
    for r in rows:
        r["arrival_time"] = RELATIVE_ANCHOR_US + round((r.pop("start") - t0) * 1e6)
    notes = [
        anchor_note("inference-perf (time.perf_counter)"),
        "ttft = first output_token_time - start_time; itl = gaps of output_token_times; e2e = end_time - start_time; "
        "TPOT derived as (e2e - ttft)/(output_tokens - 1)",
    ]
    return AdapterResult(requests=rows_to_table(rows, NAME), quarantine=bad, notes=notes)


ADAPTER = Adapter(
    name=NAME,
    description="inference-perf per_request_lifecycle_metrics.json (per-request start/end and token times)",
    sniff=sniff,
    read=read,
    priority=60,
    tables=("requests",),
    checklist="1 arrival (relative clock); 2 tokens, TTFT, ITL, TPOT (derived); 5 route (LoRA adapter); "
    "6 status, error type, e2e",
)
