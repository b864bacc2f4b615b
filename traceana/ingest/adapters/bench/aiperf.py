"""NVIDIA AIPerf ``profile_export.jsonl``: one JSON record per request.

Source: ai-dynamo/aiperf ``record_models.py::MetricRecordInfo`` and
``docs/tutorials/working-with-profile-exports.md``. Each line is
``{"metadata": {...}, "metrics": {name: {"value", "unit"}}, "error": null | {code, type, message}}``.

Mapping (every metric converted by its own ``unit`` string):

* request_id = metadata.x_request_id (else ``<file stem>#<line>``)
* arrival_time = metadata.request_start_ns (newer) or metadata.timestamp_ns
  (older exports, e.g. the ai-dynamo/aiperf example run), epoch ns
* ttft_s = time_to_first_token (newer) or ttft (older)
* e2e_latency_s = request_latency
* tpot_s = inter_token_latency. AIPerf's "ITL" is (request_latency - ttft) /
  (output_sequence_length - 1), which is vLLM's TPOT; derived with the same
  formula (and flagged in derived_fields) only when the record lacks it.
* itl_s = inter_chunk_latency (the list of per-chunk gaps)
* output_tokens = output_sequence_length (reasoning tokens included; NOT
  output_token_count, which excludes them); prompt_tokens =
  input_sequence_length (error_isl on failed records)
* status: metadata.was_cancelled, or an error of type RequestCancellationError
  (how older exports mark cancellation) -> "cancelled"; any other error ->
  "error"; else "ok". error_type = error.type, else error.code.

A key repeated inside one ``metrics`` object (the docs example repeats
time_to_first_token) keeps the last value, as JSON parsers do, with a note.
"""

from __future__ import annotations

import json
import re

from traceana.ingest.adapters._rows import (
    as_float,
    as_int,
    derive_tpot_row,
    first_line,
    q_record,
    rows_to_table,
    stem,
)
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source, load_json_line
from traceana.units import DURATION_UNITS

NAME = "aiperf"
_CANCELLED_TYPES = {"RequestCancellationError"}
_TOKEN_UNITS = {"tokens", "token"}


class _Dupes(dict):
    """A dict built from JSON pairs that remembers which keys were repeated."""

    repeated: list[str]


def _pairs(pairs):
    d = _Dupes()
    d.repeated = []
    for k, v in pairs:
        if k in d:
            d.repeated.append(k)
        d[k] = v
    return d


def _metric(metrics: dict, names: tuple[str, ...]):
    for n in names:
        if n in metrics:
            return n, metrics[n]
    return None, None


def _duration_s(metrics: dict, names: tuple[str, ...]) -> float | None:
    name, m = _metric(metrics, names)
    if m is None:
        return None
    if not isinstance(m, dict) or "value" not in m:
        raise ValueError(f"{name}: expected {{value, unit}}, got {m!r}")
    unit = m.get("unit")
    if unit not in DURATION_UNITS:
        raise ValueError(f"{name}: unknown time unit {unit!r} (expected one of ns, us, ms, s)")
    v = as_float(m["value"], name)
    return None if v is None else v * DURATION_UNITS[unit]


def _durations_s(metrics: dict, name: str) -> list[float] | None:
    m = metrics.get(name)
    if m is None:
        return None
    unit = m.get("unit") if isinstance(m, dict) else None
    if unit not in DURATION_UNITS or not isinstance(m.get("value"), list):
        raise ValueError(f"{name}: expected a list value with a time unit, got {m!r}")
    return [as_float(v, name) * DURATION_UNITS[unit] for v in m["value"]]


def _tokens(metrics: dict, names: tuple[str, ...]) -> int | None:
    name, m = _metric(metrics, names)
    if m is None:
        return None
    if not isinstance(m, dict) or m.get("unit") not in _TOKEN_UNITS:
        raise ValueError(f"{name}: expected a value in tokens, got {m!r}")
    return as_int(m.get("value"), name)


def _row(rec: dict, line: int, file_stem: str) -> dict:
    md = rec.get("metadata")
    metrics = rec.get("metrics") or {}
    if not isinstance(md, dict) or not isinstance(metrics, dict):
        raise ValueError("metadata/metrics: expected objects")
    start_ns = md.get("request_start_ns", md.get("timestamp_ns"))
    if start_ns is None:
        raise KeyError("arrival_time: no metadata.request_start_ns / timestamp_ns")
    start_ns = as_int(start_ns, "request_start_ns")
    row: dict = {
        "request_id": str(md.get("x_request_id") or f"{file_stem}#{line}"),
        "arrival_time": start_ns // 1000,
        "ttft_s": _duration_s(metrics, ("time_to_first_token", "ttft")),
        "e2e_latency_s": _duration_s(metrics, ("request_latency",)),
        "tpot_s": _duration_s(metrics, ("inter_token_latency",)),
        "itl_s": _durations_s(metrics, "inter_chunk_latency"),
        "output_tokens": _tokens(metrics, ("output_sequence_length",)),
        "prompt_tokens": _tokens(metrics, ("input_sequence_length", "error_isl")),
        "source_line": line,
    }
    err = rec.get("error")
    if md.get("was_cancelled"):
        row["status"] = "cancelled"
    elif err:
        etype = err.get("type") if isinstance(err, dict) else None
        row["status"] = "cancelled" if etype in _CANCELLED_TYPES else "error"
    else:
        row["status"] = "ok"
    if isinstance(err, dict):
        code = err.get("code")
        row["error_type"] = err.get("type") or (str(code) if code is not None else None)
    elif err:
        row["error_type"] = str(err)
    if row["tpot_s"] is None:
        derive_tpot_row(row)
    return row


def read(src: Source) -> AdapterResult:
    rows: list[dict] = []
    bad: list[QuarantineRow] = []
    repeated: dict[str, int] = {}
    file_stem = stem(src)
    for line, text in enumerate(src.data.splitlines(), start=1):
        if not text.strip():
            continue
        if len(text) > src.limits.max_line_bytes:
            bad.append(QuarantineRow(line, None, f"line longer than {src.limits.max_line_bytes} bytes"))
            continue
        try:
            load_json_line(text, src.limits.max_json_depth)  # depth guard and syntax check
            rec = json.loads(text, object_pairs_hook=_pairs)
        except ValueError as exc:
            bad.append(QuarantineRow(line, None, str(exc), raw=text[:4096].decode("utf-8", "replace")))
            continue
        if not isinstance(rec, dict):
            bad.append(q_record(line, None, "expected a JSON object per line", rec))
            continue
        for k in getattr(rec.get("metrics"), "repeated", []):
            repeated[k] = repeated.get(k, 0) + 1
        try:
            rows.append(_row(rec, line, file_stem))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            msg = exc.args[0] if exc.args else repr(exc)
            field = msg.split(":", 1)[0] if re.match(r"^[a-z_]+:", str(msg)) else None
            bad.append(q_record(line, field, str(msg), rec))
    notes = [
        "AIPerf inter_token_latency ((request_latency - ttft) / (output_sequence_length - 1)) is stored as tpot_s; "
        "inter_chunk_latency as itl_s; output_tokens = output_sequence_length (reasoning tokens included)",
    ]
    for k, n in repeated.items():
        notes.append(f"metric '{k}' repeated within a record in {n} record(s): the last value was kept")
    return AdapterResult(requests=rows_to_table(rows, NAME), quarantine=bad, notes=notes)


_HEAD = re.compile(rb'"metadata"\s*:\s*\{')


def sniff(head: bytes, path) -> bool:
    line = first_line(head)
    return (
        line.startswith(b"{")
        and _HEAD.search(line) is not None
        and b'"metrics"' in line
        and (b'"x_request_id"' in line or b'"request_start_ns"' in line)
    )


ADAPTER = Adapter(
    name=NAME,
    description="NVIDIA AIPerf profile_export.jsonl (per-request metrics with units, errors, cancellations)",
    sniff=sniff,
    read=read,
    priority=60,
    checklist="1 arrival; 2 prompt/output tokens, TTFT, TPOT, ITL; 6 status, error type, e2e",
)
