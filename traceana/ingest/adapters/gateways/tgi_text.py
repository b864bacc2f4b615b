"""Hugging Face TGI router plain-text logs (the default tracing-subscriber format).

A request record is a ``Success`` event of ``text_generation_router::server``::

    2024-02-14T06:49:51.437631Z  INFO generate{parameters=GenerateParameters { ... } total_time="611.286748ms"
    validation_time="754.5µs" queue_time="127.337µs" inference_time="610.405028ms" time_per_token="43.600359ms"
    seed="None"}: text_generation_router::server: router/src/server.rs:299: Success

(one line; optionally prefixed by an ``HTTP request{... trace_id=...}:`` span when
OTel is on, and possibly with ANSI colour codes). Field names and the layout
come from TGI's ``router/src/server.rs`` and the public log excerpts in
``../shared/formats/examples/tgi_router_success_*.log``. The mapping is in
:mod:`traceana.ingest.adapters.gateways._tgi_events`.

Other lines (startup, warnings, errors) are not request records: they are
skipped and counted in the notes. A ``Success`` line that cannot be mapped
(no timestamp, a malformed duration) is quarantined.
"""

from __future__ import annotations

import re

from traceana.ingest.adapters._rows import rows_to_table, stem
from traceana.ingest.adapters.gateways._tgi_events import (
    DURATION_FIELDS,
    HANDLERS,
    NOTES,
    rfc3339_us,
    success_row,
)
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source

NAME = "tgi_text"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SUCCESS = re.compile(r"text_generation_router(::server)?\b.*:\s*Success\s*$")
_FIELD = re.compile(r"\b(" + "|".join(DURATION_FIELDS) + r')=("[^"]*"|[^\s}]+)')
_HANDLER = re.compile(r"(?:^|[\s:])(" + "|".join(HANDLERS) + r")\{")
_TRACE = re.compile(r"\btrace_id=([0-9A-Fa-f]+)")


def parse_line(text: str, line: int, file_stem: str) -> dict | None:
    """The row of a Success line, None for a non-record line; ValueError when a Success line is malformed."""
    text = _ANSI.sub("", text).strip()
    if not _SUCCESS.search(text):
        return None
    first = text.split(None, 1)[0]
    ts = rfc3339_us(first) if first[:1].isdigit() else None
    fields = {m.group(1): m.group(2) for m in _FIELD.finditer(text)}
    handlers = _HANDLER.findall(text)
    trace = _TRACE.search(text)
    return success_row(
        ts, fields, handlers[-1] if handlers else None, trace.group(1) if trace else None, line, file_stem
    )


def read(src: Source) -> AdapterResult:
    rows: list[dict] = []
    bad: list[QuarantineRow] = []
    other = 0
    file_stem = stem(src)
    for i, raw in enumerate(src.data.splitlines(), start=1):
        if not raw.strip():
            continue
        text = raw.decode("utf-8", "replace")
        try:
            row = parse_line(text, i, file_stem)
        except ValueError as exc:
            msg = str(exc)
            bad.append(QuarantineRow(i, msg.split(":", 1)[0], msg, raw=text[:4096]))
            continue
        if row is None:
            other += 1
        else:
            rows.append(row)
    notes = list(NOTES)
    if other:
        notes.append(f"{other} non-request log line(s) (startup, warnings, errors) skipped")
    return AdapterResult(
        requests=rows_to_table(rows, NAME), quarantine=bad, notes=notes, records_read=len(rows) + len(bad)
    )


def sniff(head: bytes, path) -> bool:
    for raw in head.splitlines()[:200]:
        s = raw.strip()
        if not s or s.startswith(b"{"):
            continue
        if b"text_generation_router" in s:
            return True
    return False


ADAPTER = Adapter(
    name=NAME,
    description="Hugging Face TGI router text logs (Success lines with total/validation/queue/inference times)",
    sniff=sniff,
    read=read,
    priority=55,
    checklist="1 arrival, queue time, scheduled time; 2 output tokens (derived), no TTFT/TPOT; 6 e2e (successes only)",
)
