"""Langfuse observation exports (batch export of the Observations table): CSV, JSON array or JSON Lines.

Fields: langfuse/langfuse ``worker/src/features/database-read-stream/observation-stream.ts``
(the export query) and ``packages/shared/src/server/repositories/observations_converters.ts``
(``convertObservation``: the camelCase names the file holds). One request row per
observation of ``type`` GENERATION (SPAN, EVENT, TOOL, ... are skipped and counted).

- request_id = ``id``; arrival_time = ``startTime`` (ISO 8601, UTC)
- e2e_latency_s = ``endTime`` - ``startTime`` (Langfuse's ``latency``, s, is the same difference)
- ttft_s = ``completionStartTime`` - ``startTime`` (Langfuse's ``timeToFirstToken``); null when
  the SDK did not record a first token
- TPOT (derived) = (e2e - ttft) / (output_tokens - 1), output_tokens > 1
- prompt_tokens = ``usageDetails.input`` (else ``inputUsage``); output_tokens =
  ``usageDetails.output`` (else ``outputUsage``); cached_prompt_tokens =
  ``usageDetails.input_cached_tokens`` / ``cache_read_input_tokens`` where a provider key holds it
- model = ``model`` (the provided model name); model_version = ``version``
- status: ``level`` ERROR -> "error" (error_type = ``statusMessage``'s first line); else "ok"
- the cost (``totalCost``, USD) has no canonical column and is not stored (noted)

In CSV the objects (``usageDetails``, ``costDetails``) are JSON strings.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from traceana.errors import TraceParseError
from traceana.ingest.adapters._rows import (
    as_int,
    derive_tpot_row,
    json_documents,
    q_record,
    rows_to_table,
)
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source
from traceana.units import parse_datetime

NAME = "langfuse"
_CACHED = ("input_cached_tokens", "cache_read_input_tokens", "input_cache_read")
_MARKERS = (b"completionStartTime", b"traceId", b"startTime")


def sniff(head: bytes, path: Path) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not all(m in head for m in _MARKERS):
        return False
    if text[:1] in (b"{", b"["):
        return b'"GENERATION"' in head or b'"usageDetails"' in head
    first = text.splitlines()[0] if text else b""
    return first.count(b",") >= 3 and b"usageDetails" in first


def _records(src: Source) -> tuple[list[tuple[int, object]], list[QuarantineRow]]:
    text = src.data.lstrip(b"\xef\xbb\xbf")
    if text.lstrip()[:1] in (b"{", b"["):
        return json_documents(src)
    try:
        reader = csv.DictReader(io.StringIO(text.decode("utf-8")))
        # line numbers: header is line 1; a quoted field may span lines, so use the reader's count
        return [(reader.line_num, rec) for rec in reader], []
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TraceParseError(src.name, f"not a Langfuse CSV export: {exc}") from None


def _obj(value, field: str) -> dict:
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f"{field}: not a JSON object: {value[:80]!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{field}: not an object: {value!r:.80}")
    return value


def _time(value, field: str):
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"{field}: not an ISO 8601 time: {value!r:.80}")
    try:
        return parse_datetime(value)
    except ValueError:
        raise ValueError(f"{field}: not an ISO 8601 time: {value[:80]!r}") from None


def _row(rec: dict, line: int) -> dict:
    start = _time(rec.get("startTime"), "startTime")
    if start is None:
        raise ValueError("startTime: missing")
    end = _time(rec.get("endTime"), "endTime")
    first = _time(rec.get("completionStartTime"), "completionStartTime")
    usage = _obj(rec.get("usageDetails"), "usageDetails")
    cached = next((usage[k] for k in _CACHED if k in usage), None)
    level = str(rec.get("level") or "DEFAULT").upper()
    message = rec.get("statusMessage")
    row = {
        "request_id": str(rec.get("id") or ""),
        "arrival_time": round(start.timestamp() * 1e6),
        "e2e_latency_s": None if end is None else (end - start).total_seconds(),
        "ttft_s": None if first is None else (first - start).total_seconds(),
        "prompt_tokens": as_int(usage.get("input", rec.get("inputUsage") or None), "usageDetails.input"),
        "output_tokens": as_int(usage.get("output", rec.get("outputUsage") or None), "usageDetails.output"),
        "cached_prompt_tokens": as_int(cached, "usageDetails.cached"),
        "model": rec.get("model") or None,
        "model_version": rec.get("version") or None,
        "status": "error" if level == "ERROR" else "ok",
        "error_type": (str(message).strip().splitlines()[0][:200] if level == "ERROR" and message else None),
        "source_line": line,
    }
    if not row["request_id"]:
        raise ValueError("id: missing")
    derive_tpot_row(row)
    return row


def read(src: Source) -> AdapterResult:
    records, bad = _records(src)
    rows: list[dict] = []
    skipped = 0
    for line, rec in records:
        if not isinstance(rec, dict):
            bad.append(q_record(line, None, "expected an observation object", rec))
            continue
        if str(rec.get("type") or "").upper() != "GENERATION":
            skipped += 1
            continue
        try:
            rows.append(_row(rec, line))
        except ValueError as exc:
            msg = str(exc)
            bad.append(q_record(line, msg.split(":", 1)[0], msg, rec))
    notes = [
        "Langfuse generations: e2e = endTime - startTime, ttft = completionStartTime - startTime (SDK clock); "
        "TPOT derived as (e2e - ttft)/(output_tokens - 1); Langfuse's cost (totalCost, USD) is not stored",
    ]
    if skipped:
        notes.append(f"{skipped} observations that are not generations (SPAN, EVENT, ...) were skipped")
    return AdapterResult(
        requests=rows_to_table(rows, NAME), quarantine=bad, notes=notes, records_read=len(rows) + len(bad)
    )


ADAPTER = Adapter(
    name=NAME,
    description="Langfuse observation export (CSV, JSON or JSON Lines; GENERATION rows)",
    sniff=sniff,
    read=read,
    priority=60,
    tables=("requests",),
    checklist="1 arrival; 2 tokens (usageDetails), TTFT (completionStartTime), TPOT (derived); "
    "5 model, version; 6 status (level), statusMessage, e2e",
)
