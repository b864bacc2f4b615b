"""llm-load-test ``output-<concurrency>.json``: ``{"results": [...], "config": {...}, "summary": {...}}``.

Source: openshift-psap/llm-load-test ``src/llm_load_test/result.py``
(``RequestResult``: ``user_id``, ``input_id``, ``input_tokens``,
``output_tokens``, ``start_time``, ``ack_time``, ``first_token_time``,
``end_time`` in epoch seconds; ``response_time``, ``tt_ack``, ``ttft``,
``itl``, ``tpot`` in ms; ``stop_reason``, ``error_code``, ``error_text``) and
``utils.write_output`` (the document's shape; ``config`` is the run's YAML,
``load_options.concurrency`` the number of closed-loop workers).

Mapping:

* request_id = ``<origin>#<n>`` (position in ``results``; the tool stores no id).
* arrival_time = start_time (a wall clock: time_basis measured).
* ttft_s = first_token_time - start_time, e2e_latency_s = end_time - start_time
  (from the absolute times, not the rounded ms figures).
* tpot_s = llm-load-test's ``itl`` / 1000: (end - first token) / (output_tokens - 1)
  is vLLM's TPOT. llm-load-test's own ``tpot`` (response_time / output_tokens,
  TTFT included) is not TPOT and is not stored.
* prompt_tokens = input_tokens, output_tokens = output_tokens,
  finish_reason = stop_reason, model = config.plugin_options.model_name.
* status: error_code and error_text null -> ok; else error, error_type =
  error_code (or the error text's first 80 characters).
"""

from __future__ import annotations

import re

from traceana.errors import TraceParseError
from traceana.ingest.adapters._rows import as_float, as_int, q_record, rows_to_table, stem
from traceana.ingest.base import Adapter, AdapterResult, Source, load_json_line

NAME = "llm_load_test"


def _us(t: float) -> int:
    return round(t * 1_000_000)


def _row(rec: dict, n: int, prefix: str, model: str | None) -> dict:
    if not isinstance(rec, dict):
        raise ValueError("expected a JSON object")
    start = as_float(rec.get("start_time"), "start_time")
    if start is None:
        raise ValueError("start_time: missing")
    first = as_float(rec.get("first_token_time"), "first_token_time")
    end = as_float(rec.get("end_time"), "end_time")
    failed = rec.get("error_code") is not None or rec.get("error_text") is not None
    itl_ms = as_float(rec.get("itl"), "itl")
    err = rec.get("error_code") if rec.get("error_code") is not None else rec.get("error_text")
    return {
        "request_id": f"{prefix}#{n}",
        "arrival_time": _us(start),
        "prompt_tokens": as_int(rec.get("input_tokens"), "input_tokens"),
        "output_tokens": as_int(rec.get("output_tokens"), "output_tokens"),
        "ttft_s": first - start if first is not None else None,
        "e2e_latency_s": end - start if end is not None else None,
        "tpot_s": itl_ms / 1000.0 if itl_ms is not None and not failed else None,
        "finish_reason": rec.get("stop_reason") if isinstance(rec.get("stop_reason"), str) else None,
        "model": model,
        "status": "error" if failed else "ok",
        "error_type": str(err)[:80] if failed else None,
        "source_line": n,
    }


def read(src: Source) -> AdapterResult:
    try:
        doc = load_json_line(src.data, src.limits.max_json_depth)
    except ValueError as exc:
        raise TraceParseError(src.name, f"not an llm-load-test output JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise TraceParseError(
            src.name, "not an llm-load-test output JSON: no 'results' list", field="results"
        )
    config = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    plugin = config.get("plugin_options") if isinstance(config.get("plugin_options"), dict) else {}
    model = plugin.get("model_name") if isinstance(plugin.get("model_name"), str) else None
    prefix = stem(src)
    rows, bad = [], []
    for n, rec in enumerate(doc["results"], start=1):
        try:
            rows.append(_row(rec, n, prefix, model))
        except ValueError as exc:
            msg = str(exc)
            field = msg.split(":", 1)[0] if re.match(r"^[a-z_]+:", msg) else None
            bad.append(q_record(n, field, msg, rec))
    load = config.get("load_options") if isinstance(config.get("load_options"), dict) else {}
    notes = [
        "tpot_s = llm-load-test's itl / 1000 ((end - first token) / (output_tokens - 1)); its 'tpot' "
        "(response_time / output_tokens, TTFT included) is not TPOT and is not stored"
    ]
    if load.get("concurrency") is not None:
        notes.append(
            f"closed loop: {load.get('concurrency')} concurrent users ({load.get('type', 'constant')} load)"
        )
    return AdapterResult(requests=rows_to_table(rows, NAME), quarantine=bad, notes=notes)


_KEYS = re.compile(
    rb'"(user_id|input_id|start_time|ack_time|first_token_time|end_time|tt_ack|output_tokens_before_timeout)"\s*:'
)


def sniff(head: bytes, path) -> bool:
    h = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not h.startswith(b"{") or b'"results"' not in h[:65536]:
        return False
    found = {m.group(1) for m in _KEYS.finditer(h[:65536])}
    return {b"user_id", b"start_time", b"end_time"} <= found and bool(
        found & {b"ack_time", b"tt_ack", b"input_id"}
    )


ADAPTER = Adapter(
    name=NAME,
    description="llm-load-test output JSON (results[] with absolute start/first-token/end times, TTFT, ITL, errors)",
    sniff=sniff,
    read=read,
    priority=60,
    checklist="1 arrival (wall clock); 2 prompt/output tokens, TTFT, TPOT (its itl); 5 model (config); "
    "6 status, error, finish reason, e2e",
    time_basis="measured",
)
