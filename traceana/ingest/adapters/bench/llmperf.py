"""LLMPerf individual results: ``<run>_individual_responses.json``, a JSON array, one object per request.

Source: ray-project/llmperf ``token_benchmark_ray.py`` and ``llmperf/common_metrics.py``
(keys ``error_code``, ``error_msg``, ``ttft_s``, ``end_to_end_latency_s``,
``inter_token_latency_s``, ``number_input_tokens``, ``number_output_tokens``,
``number_total_tokens``, ``request_output_throughput_token_per_s``); all times in s.

Mapping:

* request_id = ``<file stem>#<index>`` (1-based position in the array; LLMPerf
  stores no id). source_line = the same index.
* arrival_time: LLMPerf records no send time at all (not even a relative one),
  so every row gets the same :data:`RELATIVE_ANCHOR` (2000-01-01T00:00:00Z) and
  a note says so: per-request latencies and token counts are real, but arrival
  rates and concurrency computed from this source are meaningless.
* ttft_s = ttft_s, e2e_latency_s = end_to_end_latency_s, prompt_tokens =
  number_input_tokens, output_tokens = number_output_tokens.
* tpot_s is *derived* as (e2e - ttft) / (output_tokens - 1). LLMPerf's own
  ``inter_token_latency_s`` is not TPOT: the client sums the gaps between
  streamed chunks *including the TTFT* and token_benchmark_ray divides that
  sum by the number of chunks received, so it is roughly e2e / chunks (for a
  non-streaming endpoint it is close to e2e). It is not stored.
* status: error_code null -> ok; else error with error_type = str(error_code).
  A failed request whose ttft_s and end_to_end_latency_s are both 0 never got a
  response: those zeros are LLMPerf's initial values, not measurements, so the
  latencies and number_output_tokens (the re-tokenized empty text) are left
  null. Failed requests with real timings (e.g. "Output too few tokens") keep them.
"""

from __future__ import annotations

import re

from traceana.ingest.adapters._rows import (
    RELATIVE_ANCHOR,
    RELATIVE_ANCHOR_US,
    as_float,
    as_int,
    derive_tpot_row,
    json_documents,
    q_record,
    rows_to_table,
    stem,
)
from traceana.ingest.base import Adapter, AdapterResult, Source

NAME = "llmperf"


def _row(rec: dict, index: int, file_stem: str) -> dict:
    if not isinstance(rec, dict):
        raise ValueError("expected a JSON object")
    for key in ("ttft_s", "end_to_end_latency_s"):
        if key not in rec:
            raise ValueError(f"{key}: missing")
    code = rec.get("error_code")
    failed = code is not None
    ttft = as_float(rec.get("ttft_s"), "ttft_s")
    e2e = as_float(rec.get("end_to_end_latency_s"), "end_to_end_latency_s")
    out = as_int(rec.get("number_output_tokens"), "number_output_tokens")
    no_response = failed and not ttft and not e2e
    row = {
        "request_id": f"{file_stem}#{index}",
        "arrival_time": RELATIVE_ANCHOR_US,
        "prompt_tokens": as_int(rec.get("number_input_tokens"), "number_input_tokens"),
        "output_tokens": None if no_response else out,
        "ttft_s": None if no_response else ttft,
        "e2e_latency_s": None if no_response else e2e,
        "status": "error" if failed else "ok",
        "error_type": str(code) if failed else None,
        "source_line": index,
    }
    derive_tpot_row(row)
    return row


def read(src: Source) -> AdapterResult:
    docs, bad = json_documents(src)
    rows: list[dict] = []
    file_stem = stem(src)
    no_response = 0
    for index, rec in docs:
        try:
            row = _row(rec, index, file_stem)
        except ValueError as exc:
            msg = str(exc)
            field = msg.split(":", 1)[0] if re.match(r"^[a-z_]+:", msg) else None
            bad.append(q_record(index, field, msg, rec))
            continue
        no_response += row["status"] == "error" and row["e2e_latency_s"] is None
        rows.append(row)
    notes = [
        f"LLMPerf records no request send time: all rows have arrival_time = {RELATIVE_ANCHOR.isoformat()} "
        "(a placeholder); latency percentiles are valid, arrival rate / concurrency / Little's law are not",
        "tpot_s derived as (e2e - ttft) / (output_tokens - 1); LLMPerf's inter_token_latency_s "
        "(sum of chunk gaps incl. TTFT / chunks) is not TPOT and is not stored",
    ]
    if no_response:
        notes.append(
            f"{no_response} failed request(s) got no response (ttft_s = end_to_end_latency_s = 0, LLMPerf's "
            "initial values): their latencies and output tokens are null"
        )
    return AdapterResult(requests=rows_to_table(rows, NAME), quarantine=bad, notes=notes)


_KEYS = re.compile(rb'"(end_to_end_latency_s|ttft_s|number_input_tokens|inter_token_latency_s)"\s*:')


def sniff(head: bytes, path) -> bool:
    h = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not h.startswith(b"["):
        return False
    found = {m.group(1) for m in _KEYS.finditer(h[:16384])}
    return {b"end_to_end_latency_s", b"ttft_s"} <= found


ADAPTER = Adapter(
    name=NAME,
    description="LLMPerf individual results JSON array (ttft_s, end_to_end_latency_s, token counts, error_code)",
    sniff=sniff,
    read=read,
    priority=60,
    checklist="2 prompt/output tokens, TTFT, TPOT (derived); 6 status, error type, e2e; no arrival time",
    time_basis="synthetic",
)
