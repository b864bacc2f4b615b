"""LiteLLM proxy logs: StandardLoggingPayload records and LiteLLM_SpendLogs rows.

Sources: BerriAI/litellm ``litellm/types/utils.py::StandardLoggingPayload`` (what
callbacks, the GCS bucket and Pub/Sub loggers write) and
``litellm/proxy/schema.prisma::LiteLLM_SpendLogs`` (the DB table, also returned
by ``/spend/logs``). Accepted containers: a JSON array, one JSON object, or
JSON Lines, of either record kind (a record with ``request_id`` and ``spend``
is a SpendLogs row).

Times: ``startTime``, ``endTime``, ``completionStartTime`` are epoch seconds
(floats) in the typed payload and datetime strings ('2025-01-24 09:20:46.847371'
or ISO) in the GCS/Pub/Sub bodies and SpendLogs; naive strings are taken as UTC
(LiteLLM writes ``datetime.now()`` of the proxy host: a note says so).

Mapping:

* request_id = ``id`` (payload) or ``request_id`` (SpendLogs), else ``<stem>#<n>``
* arrival_time = startTime; e2e_latency_s = endTime - startTime
* ttft_s = completionStartTime - startTime only for streaming calls: ``stream``
  true, or (SpendLogs, which has no stream flag) completionStartTime earlier
  than endTime. Non-streaming calls set completionStartTime = endTime, which is
  not a first token: ttft stays null. decode_time_s = endTime -
  completionStartTime where ttft is set; tpot_s derived from them.
* prompt_tokens / output_tokens = prompt_tokens / completion_tokens;
  cached_prompt_tokens = usage ``prompt_tokens_details.cached_tokens`` (response
  usage or metadata.usage_object) where present
* model = ``model`` (the deployment actually called); route = ``model_group``
  (the public alias the client asked for); instance = ``model_id`` (deployment
  id), else ``api_base``, else ``hidden_params.api_base``
* fallback_from = metadata.original_model_group when it is set and differs from
  model_group (LiteLLM persists original_model_group / attempted_fallbacks in
  the metadata since PR #38107); otherwise null
* status: "success" -> ok, "failure" -> error (timeout when the error class is
  a Timeout); error_type = error_information.error_class, else error_code
* finish_reason = response.choices[0].finish_reason where the response is kept
* response_cost / spend are not canonical and are ignored.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from traceana.ingest.adapters._rows import (
    as_float,
    as_int,
    derive_tpot_row,
    json_documents,
    nonempty,
    q_record,
    rows_to_table,
    stem,
)
from traceana.ingest.base import Adapter, AdapterResult, Source

NAME = "litellm"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIMEOUT_CLASSES = {"Timeout", "APITimeoutError", "TimeoutError"}
_DT = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?\s*(Z|[+-]\d{2}:?\d{2})?$")


def _time_us(value, field: str, naive: list[int]) -> int | None:
    """Epoch seconds (number) or a datetime string as epoch microseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return round(as_float(value, field) * 1_000_000)
    if isinstance(value, str):
        m = _DT.match(value.strip())
        if not m:
            try:
                return round(as_float(value, field) * 1_000_000)
            except ValueError:
                raise ValueError(f"{field}: not a time: {value!r}") from None
        date, time, frac, zone = m.groups()
        if zone is None:
            naive[0] += 1
        tz = "+00:00" if zone in (None, "Z") else zone
        dt = datetime.fromisoformat(f"{date}T{time}{tz}")
        whole = (dt - _EPOCH) // _ONE_S
        frac_us = int((frac or "")[:6].ljust(6, "0"))
        return whole * 1_000_000 + frac_us
    raise ValueError(f"{field}: not a time: {value!r}")


_ONE_S = datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC) - _EPOCH


def _obj(value):
    """A dict field that SpendLogs stores as a JSON string."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            v = json.loads(value)
        except ValueError:
            return {}
        return v if isinstance(v, dict) else {}
    return {}


def _cached(*usages) -> int | None:
    for u in usages:
        details = _obj(u).get("prompt_tokens_details")
        if isinstance(details, dict) and details.get("cached_tokens") is not None:
            return as_int(details["cached_tokens"], "cached_tokens")
    return None


def _row(rec: dict, n: int, file_stem: str, naive: list[int]) -> dict:
    if not isinstance(rec, dict):
        raise ValueError("expected a JSON object")
    meta = _obj(rec.get("metadata"))
    response = _obj(rec.get("response"))
    hidden = _obj(rec.get("hidden_params"))
    start = _time_us(rec.get("startTime"), "startTime", naive)
    if start is None:
        raise ValueError("startTime: missing")
    end = _time_us(rec.get("endTime"), "endTime", naive)
    first = _time_us(rec.get("completionStartTime"), "completionStartTime", naive)
    stream = rec.get("stream")
    if stream is None:
        stream = _obj(rec.get("proxy_server_request")).get("stream")
    row: dict = {
        "request_id": str(nonempty(rec.get("id")) or nonempty(rec.get("request_id")) or f"{file_stem}#{n}"),
        "arrival_time": start,
        "e2e_latency_s": (end - start) / 1e6 if end is not None else None,
        "prompt_tokens": as_int(rec.get("prompt_tokens"), "prompt_tokens"),
        "output_tokens": as_int(rec.get("completion_tokens"), "completion_tokens"),
        "cached_prompt_tokens": _cached(response.get("usage"), meta.get("usage_object")),
        "model": nonempty(rec.get("model")),
        "route": nonempty(rec.get("model_group")),
        "instance": nonempty(rec.get("model_id"))
        or nonempty(rec.get("api_base"))
        or nonempty(hidden.get("api_base")),
        "source_line": n,
    }
    streaming = stream is True or (stream is None and first is not None and end is not None and first < end)
    if streaming and first is not None:
        row["ttft_s"] = (first - start) / 1e6
        if end is not None:
            row["decode_time_s"] = (end - first) / 1e6
    original = nonempty(meta.get("original_model_group"))
    if original and original != row["route"]:
        row["fallback_from"] = original
    err = _obj(rec.get("error_information")) or _obj(meta.get("error_information"))
    status = rec.get("status")
    if status == "success":
        row["status"] = "ok"
    elif status == "failure":
        cls = nonempty(err.get("error_class"))
        row["status"] = "timeout" if cls in _TIMEOUT_CLASSES else "error"
        row["error_type"] = cls or nonempty(err.get("error_code")) or "failure"
    elif status is not None:
        raise ValueError(f"status: unknown LiteLLM status {status!r} (expected 'success' or 'failure')")
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        row["finish_reason"] = nonempty(choices[0].get("finish_reason"))
    derive_tpot_row(row)
    return row


def read(src: Source) -> AdapterResult:
    docs, bad = json_documents(src)
    rows: list[dict] = []
    naive = [0]
    file_stem = stem(src)
    for n, rec in docs:
        try:
            rows.append(_row(rec, n, file_stem, naive))
        except ValueError as exc:
            msg = str(exc)
            field = msg.split(":", 1)[0] if re.match(r"^[A-Za-z_]+:", msg) else None
            bad.append(q_record(n, field, msg, rec))
    notes = [
        "LiteLLM: ttft only for streaming calls (completionStartTime = endTime otherwise); model = deployment "
        "called, route = model_group, instance = model_id or api_base; response_cost/spend ignored",
    ]
    if naive[0]:
        notes.append(
            f"{naive[0]} datetime string(s) without a zone taken as UTC (LiteLLM writes the proxy's local time)"
        )
    return AdapterResult(requests=rows_to_table(rows, NAME), quarantine=bad, notes=notes)


_KEYS = re.compile(rb'"(startTime|endTime|completionStartTime|model_group|call_type|spend)"\s*:')


def sniff(head: bytes, path) -> bool:
    found = {m.group(1) for m in _KEYS.finditer(head)}
    return {b"startTime", b"completionStartTime"} <= found and bool(found & {b"model_group", b"call_type"})


ADAPTER = Adapter(
    name=NAME,
    description="LiteLLM StandardLoggingPayload / SpendLogs rows (JSON, JSON array or JSON Lines)",
    sniff=sniff,
    read=read,
    priority=55,
    checklist="1 arrival; 2 tokens, cached, TTFT (streaming), TPOT (derived); 5 model, route, fallback; 6 status, error, e2e",
)
