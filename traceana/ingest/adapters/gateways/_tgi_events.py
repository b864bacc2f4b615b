"""Shared mapping of a Hugging Face TGI router ``Success`` event onto a canonical row.

Source: huggingface/text-generation-inference ``router/src/server.rs``. The
handlers (generate, generate_stream, chat_completions, completions) are
``#[instrument(fields(parameters, total_time, validation_time, queue_time,
inference_time, time_per_token, seed))]`` and record, before
``tracing::info!("Success")``::

    total_time      = start_time.elapsed()                  (request received -> now)
    validation_time = queued - start_time                    (validation + tokenization)
    queue_time      = batch start - queued
    inference_time  = now - batch start                      (prefill + decode)
    time_per_token  = inference_time / generated_tokens      (Rust Duration / u32)

each as a Rust ``Duration`` Debug string ('611.286748ms', '754.5µs', '4.06s').

Mapping:

* e2e_latency_s = total_time; queue_time_s = queue_time (validation_time is
  request validation/tokenization before the request enters the queue, so it
  is excluded, as vLLM's time_in_queue excludes front-end work)
* arrival_time = log timestamp - total_time; scheduled_time = log timestamp -
  inference_time (the log timestamp is taken right after the timings)
* output_tokens = inference_time / time_per_token rounded, recorded in
  derived_fields: Duration Debug strings are exact to the ns and the division
  truncates to the ns, so the ratio is the integer generated_tokens (kept only
  when within 0.01 of an integer)
* tpot_s stays null: time_per_token includes the prefill, and TGI logs no TTFT
* route = the handler span name (generate, chat_completions, ...)
* request_id = the OTel ``trace_id`` of the enclosing ``HTTP request`` span when
  present, else ``<file stem>:<line>``; status = ok (only successes are logged
  this way; failures are other log lines)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from traceana.units import parse_duration

DURATION_FIELDS = ("total_time", "validation_time", "queue_time", "inference_time", "time_per_token")
HANDLERS = ("generate", "generate_stream", "chat_completions", "completions", "compat_generate")

_TS = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")


def rfc3339_us(text: str) -> int:
    """An RFC 3339 timestamp (any number of fractional digits; no zone = UTC) as epoch microseconds."""
    m = _TS.match(text.strip())
    if not m:
        raise ValueError(f"timestamp: not an RFC 3339 time: {text!r}")
    date, time, frac, zone = m.groups()
    tz = "+00:00" if zone in (None, "Z") else zone
    dt = datetime.fromisoformat(f"{date}T{time}{tz}").astimezone(UTC)
    frac = (frac or "")[:9].ljust(9, "0")
    ns = int(frac)
    return int(dt.timestamp()) * 1_000_000 + (ns + 500) // 1000


def _duration(fields: dict, name: str) -> float | None:
    v = fields.get(name)
    if v is None:
        return None
    text = str(v).strip().strip('"')
    try:
        return parse_duration(text)
    except ValueError:
        raise ValueError(f"{name}: not a duration: {v!r}") from None


def success_row(
    ts_us: int | None, fields: dict, handler: str | None, trace_id: str | None, line: int, file_stem: str
) -> dict:
    """The canonical row of one Success event; ValueError (field: reason) when it cannot be mapped."""
    if ts_us is None:
        raise ValueError(
            "arrival_time: the line has no timestamp, so arrival (timestamp - total_time) is unknown"
        )
    d = {k: _duration(fields, k) for k in DURATION_FIELDS}
    if d["total_time"] is None:
        raise ValueError("total_time: missing")
    row: dict = {
        "request_id": trace_id or f"{file_stem}:{line}",
        "arrival_time": ts_us - round(d["total_time"] * 1e6),
        "e2e_latency_s": d["total_time"],
        "queue_time_s": d["queue_time"],
        "status": "ok",
        "route": handler,
        "source_line": line,
    }
    if d["inference_time"] is not None:
        row["scheduled_time"] = ts_us - round(d["inference_time"] * 1e6)
        tpt = d["time_per_token"]
        if tpt:
            ratio = d["inference_time"] / tpt
            if ratio >= 1 and abs(ratio - round(ratio)) < 0.01:
                row["output_tokens"] = int(round(ratio))
                row["derived_fields"] = "output_tokens"
    return row


NOTES = [
    "TGI: queue_time_s = queue_time (validation_time excluded); arrival = log time - total_time; "
    "output_tokens = inference_time / time_per_token (derived); time_per_token includes prefill, so tpot_s "
    "and ttft_s are null (TGI logs no TTFT)",
]
