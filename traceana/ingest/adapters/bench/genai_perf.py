"""GenAI-Perf / perf_analyzer ``profile_export.json``: per-request send and response timestamps.

Source: triton-inference-server/perf_analyzer (the writer) and genai-perf
``llm_profile_data_parser.py`` (the reader). Layout::

    {"service_kind", "endpoint", "experiments": [{"experiment": {mode, value},
      "requests": [{"timestamp": ns, "request_inputs": {...},
                    "response_timestamps": [ns, ...], "response_outputs": [{...}]}],
      "window_boundaries": [...]}]}

One row per request (all experiments, in file order):

* request_id = ``<file stem>#<n>``, n = 1-based position over all experiments
  (perf_analyzer stores no id); source_line = n.
* arrival_time = timestamp. perf_analyzer's clock is "epoch-ish" ns: when every
  timestamp is after 2000-01-01 it is taken as epoch, otherwise the values are
  offsets and are placed at 2000-01-01T00:00:00Z + offset (noted).
* ttft_s = response_timestamps[0] - timestamp; e2e_latency_s =
  response_timestamps[-1] - timestamp; itl_s = successive differences of
  response_timestamps (per response chunk).
* output_tokens: genai-perf re-tokenizes the text; traceana has no tokenizer,
  so output_tokens (and hence tpot_s) stay null unless a response carries an
  OpenAI ``usage`` object (prompt_tokens, completion_tokens), which is used.
* model = the ``model`` of the OpenAI request payload, when present.
* status: ok when the request has response timestamps; a request with none
  got no response: status error, error_type "no_response".
"""

from __future__ import annotations

import json
import re

from traceana.ingest.adapters._rows import (
    PLAUSIBLE_EPOCH_NS,
    RELATIVE_ANCHOR_US,
    anchor_note,
    as_int,
    derive_tpot_row,
    json_documents,
    q_record,
    rows_to_table,
    stem,
)
from traceana.ingest.base import Adapter, AdapterResult, Source
from traceana.units import DURATION_UNITS

NAME = "genai_perf"
_NS = DURATION_UNITS["ns"]
#: |timestamp| bound in ns (2^62, year ~2116): keeps arrival_time + the relative anchor inside int64 us
_NS_LIMIT = 1 << 62


def _json_text(text):
    """Parse a JSON string field (payloads and SSE bodies); None when it is not JSON."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: pathologically nested text
        return None


def _ns(value, field: str) -> int | None:
    """An integer ns timestamp that fits int64 (so arrival_time fits timestamp[us]); else ValueError."""
    v = as_int(value, field)
    if v is not None and not -_NS_LIMIT <= v <= _NS_LIMIT:
        raise ValueError(f"{field}: out of range for a ns timestamp: {v!r}")
    return v


def _usage(outputs) -> dict | None:
    """The last OpenAI ``usage`` object found in the response outputs (SSE chunks or a JSON body)."""
    found = None
    if not isinstance(outputs, list):
        return None
    for out in outputs:
        body = out.get("response") if isinstance(out, dict) else None
        if not isinstance(body, str):
            continue
        for part in body.split("\n"):
            part = part.strip()
            if part.startswith("data:"):
                part = part[5:].strip()
            if not part.startswith("{"):
                continue
            obj = _json_text(part)
            if isinstance(obj, dict) and isinstance(obj.get("usage"), dict):
                found = obj["usage"]
    return found


def _row(req: dict, n: int, file_stem: str) -> tuple[dict, int]:
    if not isinstance(req, dict):
        raise ValueError("expected a request object")
    ts = _ns(req.get("timestamp"), "timestamp")
    if ts is None:
        raise ValueError("timestamp: missing")
    stamps = req.get("response_timestamps")
    if stamps is None:
        stamps = []
    if not isinstance(stamps, list):
        raise ValueError(f"response_timestamps: expected a list of ns timestamps, found {stamps!r:.80}")
    resp = []
    for t in stamps:
        v = _ns(t, "response_timestamps")
        if v is None:
            raise ValueError("response_timestamps: a null entry")
        resp.append(v)
    row: dict = {"request_id": f"{file_stem}#{n}", "source_line": n}
    if resp:
        row["ttft_s"] = (resp[0] - ts) * _NS
        row["e2e_latency_s"] = (resp[-1] - ts) * _NS
        row["itl_s"] = [(b - a) * _NS for a, b in zip(resp, resp[1:], strict=False)]
        row["status"] = "ok"
    else:
        row["status"] = "error"
        row["error_type"] = "no_response"
    inputs = req.get("request_inputs") or {}
    payload = _json_text(inputs.get("payload")) if isinstance(inputs, dict) else None
    if isinstance(payload, dict) and isinstance(payload.get("model"), str):
        row["model"] = payload["model"]
    usage = _usage(req.get("response_outputs"))
    if usage:
        row["output_tokens"] = as_int(usage.get("completion_tokens"), "usage.completion_tokens")
        row["prompt_tokens"] = as_int(usage.get("prompt_tokens"), "usage.prompt_tokens")
        derive_tpot_row(row)
    return row, ts


def read(src: Source) -> AdapterResult:
    docs, bad = json_documents(src)
    rows: list[dict] = []
    stamps: list[int] = []
    file_stem = stem(src)
    n = 0
    for _, doc in docs:
        experiments = doc.get("experiments") if isinstance(doc, dict) else None
        if not isinstance(experiments, list):
            bad.append(
                q_record(None, "experiments", "expected a profile_export object with experiments[]", doc)
            )
            continue
        for exp in experiments:
            reqs = exp.get("requests") if isinstance(exp, dict) else None
            if reqs is not None and not isinstance(reqs, list):
                bad.append(q_record(None, "requests", f"requests is not a list: {reqs!r:.80}", exp))
                continue
            for req in reqs or []:
                n += 1
                try:
                    row, ts = _row(req, n, file_stem)
                except ValueError as exc:
                    msg = str(exc)
                    field = msg.split(":", 1)[0] if re.match(r"^[a-z_.]+:", msg) else None
                    bad.append(q_record(n, field, msg, req))
                    continue
                rows.append(row)
                stamps.append(ts)
    notes = []
    relative = bool(stamps) and min(stamps) < PLAUSIBLE_EPOCH_NS
    for row, ts in zip(rows, stamps, strict=True):
        row["arrival_time"] = (RELATIVE_ANCHOR_US + ts // 1000) if relative else ts // 1000
    for row in rows:
        row["time_basis"] = "relative" if relative else "measured"
    if relative:
        notes.append(anchor_note("perf_analyzer's timestamp clock (values before 2000 as epoch ns)"))
    if not any(r.get("output_tokens") is not None for r in rows):
        notes.append(
            "output tokens unknown: genai-perf re-tokenizes the response text and no usage object was present; "
            "output_tokens and tpot_s are null"
        )
    return AdapterResult(requests=rows_to_table(rows, NAME), quarantine=bad, notes=notes)


def sniff(head: bytes, path) -> bool:
    h = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return (
        h.startswith(b"{")
        and re.search(rb'"experiments"\s*:\s*\[', h) is not None
        and (b'"response_timestamps"' in h or b'"service_kind"' in h)
    )


ADAPTER = Adapter(
    name=NAME,
    description="GenAI-Perf / perf_analyzer profile_export.json (per-request send and response timestamps)",
    sniff=sniff,
    read=read,
    priority=60,
    checklist="1 arrival (epoch-ish); 2 TTFT, ITL (tokens only with usage); 6 e2e, status",
)
