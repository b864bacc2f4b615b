"""Hugging Face TGI router JSON logs (``text-generation-launcher --json-output``).

tracing-subscriber's JSON formatter with ``flatten_event(true)``, one object per line::

    {"timestamp": "2024-...Z", "level": "INFO", "message": "Success",
     "target": "text_generation_router::server", "filename": "router/src/server.rs", "line_number": 299,
     "span": {"total_time": "611.286748ms", ..., "name": "generate"},
     "spans": [{"name": "HTTP request", "trace_id": "...", ...}, {"name": "generate", ...}]}

Field names: TGI ``router/src/server.rs`` (span fields) and ``launcher`` /
``router/src/logging.rs`` (``fmt().json().flatten_event(true)``); the span layout
(``span`` = current span, ``spans`` = the whole stack) is tracing-subscriber's
default. Values recorded with Debug formatting may carry quotes, which are
stripped. An un-flattened event (``"fields": {"message": ...}``) is accepted too.
The mapping is in :mod:`traceana.ingest.adapters.gateways._tgi_events`; non-``Success``
events are skipped and counted, malformed Success events quarantined.
"""

from __future__ import annotations

import re

from traceana.ingest.adapters._rows import first_line, q_record, rows_to_table, stem
from traceana.ingest.adapters.gateways._tgi_events import (
    DURATION_FIELDS,
    HANDLERS,
    NOTES,
    rfc3339_us,
    success_row,
)
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source, load_json_line

NAME = "tgi_json"


def _row(ev: dict, line: int, file_stem: str) -> dict | None:
    fields = ev.get("fields") if isinstance(ev.get("fields"), dict) else {}
    message = ev.get("message", fields.get("message"))
    target = str(ev.get("target", ""))
    if message != "Success" or not target.startswith("text_generation_router"):
        return None
    spans = [s for s in ev.get("spans") or [] if isinstance(s, dict)]
    span = ev.get("span") if isinstance(ev.get("span"), dict) else None
    stack = spans + ([span] if span else [])
    handler_span = next(
        (s for s in reversed(stack) if s.get("name") in HANDLERS or any(k in s for k in DURATION_FIELDS)),
        None,
    )
    if handler_span is None:
        raise ValueError("span: no handler span with total_time")
    trace = next((str(s["trace_id"]) for s in stack if s.get("trace_id")), None)
    ts = ev.get("timestamp")
    ts_us = rfc3339_us(str(ts)) if ts is not None else None
    name = handler_span.get("name")
    return success_row(ts_us, handler_span, name if name in HANDLERS else None, trace, line, file_stem)


def read(src: Source) -> AdapterResult:
    rows: list[dict] = []
    bad: list[QuarantineRow] = []
    other = 0
    file_stem = stem(src)
    for i, raw in enumerate(src.data.splitlines(), start=1):
        if not raw.strip():
            continue
        if len(raw) > src.limits.max_line_bytes:
            bad.append(QuarantineRow(i, None, f"line longer than {src.limits.max_line_bytes} bytes"))
            continue
        try:
            ev = load_json_line(raw, src.limits.max_json_depth)
        except ValueError as exc:
            # a log line that is not JSON: a request record only if it looks like a Success event
            if b"Success" in raw:
                bad.append(QuarantineRow(i, None, str(exc), raw=raw[:4096].decode("utf-8", "replace")))
            else:
                other += 1
            continue
        if not isinstance(ev, dict):
            other += 1
            continue
        try:
            row = _row(ev, i, file_stem)
        except ValueError as exc:
            msg = str(exc)
            bad.append(q_record(i, msg.split(":", 1)[0], msg, ev))
            continue
        if row is None:
            other += 1
        else:
            rows.append(row)
    notes = list(NOTES)
    if other:
        notes.append(f"{other} non-request log event(s) (startup, warnings, errors) skipped")
    return AdapterResult(
        requests=rows_to_table(rows, NAME), quarantine=bad, notes=notes, records_read=len(rows) + len(bad)
    )


_TARGET = re.compile(rb'"target"\s*:\s*"text_generation_(router|launcher)')


def sniff(head: bytes, path) -> bool:
    if not first_line(head).startswith(b"{"):
        return False
    return any(_TARGET.search(ln) for ln in head.splitlines()[:200])


ADAPTER = Adapter(
    name=NAME,
    description="Hugging Face TGI router JSON logs (--json-output; Success events with span timings)",
    sniff=sniff,
    read=read,
    priority=55,
    checklist="1 arrival, queue time, scheduled time; 2 output tokens (derived), no TTFT/TPOT; 6 e2e (successes only)",
)
