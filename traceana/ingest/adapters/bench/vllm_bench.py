"""``vllm bench serve --save-result --save-detailed`` result JSON (also ``benchmark_serving.py``).

Keys from ``vllm/benchmarks/serve.py`` (older ``benchmarks/benchmark_serving.py``): one
request row per index of the parallel per-request arrays ``input_lens``, ``output_lens``,
``ttfts`` (s), ``itls`` (list of chunk gaps, s), ``errors`` ("" = ok), and where present
``start_times`` (``time.perf_counter()``: monotonic, arbitrary origin) and ``latencies`` (s).

- request_id = ``<file stem>#<index>`` (the source has no request ids)
- status = ok when ``errors[i] == ""``, else "error" ("timeout" when the exception is a
  TimeoutError); error_type = the exception line of a traceback, else the first line
  of the error text (truncated to 200 characters). Failed requests keep ttft, itl, e2e and
  tpot null: the source writes ttft 0.0 for them, which is not a measurement.
- ttft_s = ``ttfts[i]``; itl_s = ``itls[i]``; e2e_latency_s = ``latencies[i]`` where present,
  else ttft + sum(itls) (derived: the client saw the last chunk at send + ttft + sum of gaps);
  TPOT (derived) = (e2e - ttft) / (output_tokens - 1) for output_tokens > 1.
- arrival_time: ``date`` (local "%Y%m%d-%H%M%S"; taken as UTC, the file has no zone) is
  written *after* the run, so the run started at about ``date - duration``:
  arrival_i = (date - duration) + (start_times[i] - min(start_times)). Without
  ``duration`` the anchor is ``date``. Without ``start_times`` there is no per-request
  send time: every request is anchored at the run start and the notes say so (arrival
  rates, concurrency and windows are then meaningless for this file).
- model = ``model_id``; prompt_tokens / output_tokens = ``input_lens`` / ``output_lens``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from traceana.errors import TraceParseError
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source, load_json_line, raw_json
from traceana.schema import TIMESTAMP
from traceana.units import derive_tpot, parse_datetime

NAME = "vllm_bench"
ARRAYS = ("input_lens", "output_lens", "ttfts", "itls", "errors", "start_times", "latencies")


def sniff(head: bytes, path: Path) -> bool:
    if head.lstrip()[:1] != b"{":
        return False
    if b'"ttfts"' in head and b'"itls"' in head:
        return True
    return b'"request_throughput"' in head and b'"completed"' in head and b'"duration"' in head


def parse_date(value) -> datetime:
    """The result's ``date``: "%Y%m%d-%H%M%S" (vLLM) or ISO 8601; naive times taken as UTC."""
    if not isinstance(value, str):
        raise ValueError(f"date is not a string: {value!r}")
    try:
        return datetime.strptime(value, "%Y%m%d-%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        return parse_datetime(value)


def _is_vllm_date(value: str) -> bool:
    try:
        datetime.strptime(value, "%Y%m%d-%H%M%S")
        return True
    except ValueError:
        return False


def error_type(text: str) -> str:
    """A traceback's exception line (its last line), else the first line; at most 200 chars."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    if not lines:
        return text.strip()[:200]
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    return line[:200]


def _number(v, what: str) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError(f"{what} is not a number: {str(v)[:80]}")
    return float(v)


def parse_request(doc: dict, i: int) -> dict:
    """One request's canonical values; raises (field, reason) as ValueError args.

    Shared with ``sglang_bench``, whose ``--output-details`` lists are the same.
    """

    def get(key):
        arr = doc.get(key)
        return None if arr is None else arr[i]

    err = get("errors")
    if err is not None and not isinstance(err, str):
        raise ValueError("errors", f"error is not a string: {str(err)[:80]}")
    failed = bool(err)
    row = {"status": "ok", "error_type": None, "ttft": None, "itl": None, "e2e": None, "e2e_derived": False}
    for key, out in (("input_lens", "prompt"), ("output_lens", "output")):
        v = get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
            raise ValueError(key, f"token count is not an integer: {str(v)[:80]}")
        row[out] = v
    if failed:
        et = error_type(err)
        row["status"] = "timeout" if "TimeoutError" in et else "error"
        row["error_type"] = et
    else:
        try:
            ttft = None if get("ttfts") is None else _number(get("ttfts"), "ttft")
            itl = get("itls")
            if itl is not None:
                if not isinstance(itl, list):
                    raise ValueError("itl list is not a list")
                if not all(type(x) is float or type(x) is int for x in itl):  # noqa: E721 - bool is not a gap
                    bad = next(x for x in itl if type(x) is not float and type(x) is not int)  # noqa: E721
                    raise ValueError(f"itl is not a number: {str(bad)[:80]}")
            lat = None if get("latencies") is None else _number(get("latencies"), "latency")
        except ValueError as exc:
            raise ValueError("ttfts/itls/latencies", str(exc)) from None
        row["ttft"], row["itl"] = ttft, itl
        if lat is not None:
            row["e2e"] = lat
        elif ttft is not None and itl is not None:
            row["e2e"], row["e2e_derived"] = ttft + math.fsum(itl), True
    start = get("start_times")
    try:
        row["start"] = None if start is None else _number(start, "start_time")
    except ValueError as exc:
        raise ValueError("start_times", str(exc)) from None
    return row


def _anchor(doc: dict, src: Source) -> tuple[datetime, str]:
    try:
        date = parse_date(doc.get("date"))
    except ValueError as exc:
        raise TraceParseError(
            src.name, f"no usable 'date' to anchor the run in time: {exc}", field="date"
        ) from None
    duration = doc.get("duration")
    if isinstance(duration, int | float) and not isinstance(duration, bool) and duration >= 0:
        return date - timedelta(
            seconds=float(duration)
        ), "date - duration (the run's start; date is written after the run)"
    return date, "date (no duration in the file)"


def read(src: Source) -> AdapterResult:
    try:
        doc = load_json_line(src.data, src.limits.max_json_depth)
    except ValueError as exc:
        raise TraceParseError(src.name, f"not a vllm bench result JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise TraceParseError(src.name, "not a vllm bench result JSON (expected an object)")
    if doc.get("ttfts") is None or doc.get("input_lens") is None:
        raise TraceParseError(
            src.name,
            "summary-only vllm bench result: no per-request arrays (input_lens, ttfts, itls, errors). "
            "Hint: rerun with --save-result --save-detailed",
        )
    lengths = {k: len(doc[k]) for k in ARRAYS if isinstance(doc.get(k), list)}
    for k in ARRAYS:
        if doc.get(k) is not None and not isinstance(doc[k], list):
            raise TraceParseError(src.name, f"'{k}' is not a list", field=k)
    if len(set(lengths.values())) > 1:
        raise TraceParseError(src.name, f"per-request arrays have different lengths: {lengths}")
    n = lengths["ttfts"]
    anchor, anchor_how = _anchor(doc, src)
    stem = (src.origin or src.path.name).removesuffix(".gz").removesuffix(".zst").removesuffix(".json")
    rows: list[tuple[int, dict]] = []
    quarantine: list[QuarantineRow] = []
    for i in range(n):
        try:
            rows.append((i, parse_request(doc, i)))
        except ValueError as exc:
            fld, reason = exc.args if len(exc.args) == 2 else (None, str(exc))
            rec = {k: doc[k][i] for k in ARRAYS if isinstance(doc.get(k), list)}
            quarantine.append(QuarantineRow(i + 1, fld, reason, raw_json(rec)))
    notes = _status_notes(doc, rows)
    if isinstance(doc.get("date"), str) and _is_vllm_date(doc["date"]):
        notes.insert(0, "date is local time without a zone in vLLM's output; taken as UTC")
    table = _table(rows, doc, anchor, stem, notes, anchor_how)
    return AdapterResult(requests=table, quarantine=quarantine, notes=notes, records_read=n)


def _status_notes(doc: dict, rows: list[tuple[int, dict]]) -> list[str]:
    notes = []
    if doc.get("errors") is None:
        failed = doc.get("failed")
        if failed == 0:
            notes.append("no 'errors' array; the summary reports 0 failed requests, so every row is ok")
        else:
            for _, r in rows:
                r["status"] = None
            notes.append(f"no 'errors' array and the summary reports failed={failed!r}: status left unknown")
    return notes


def _table(rows, doc, anchor: datetime, stem: str, notes: list[str], anchor_how: str) -> pa.Table:
    idx = [i for i, _ in rows]
    r = [row for _, row in rows]
    starts = [x["start"] for x in r]
    anchor_us = round(anchor.timestamp() * 1e6)
    if doc.get("start_times") is not None and all(s is not None for s in starts) and starts:
        t0 = min(v for v in doc["start_times"] if isinstance(v, int | float) and not isinstance(v, bool))
        arrival = [anchor_us + round((s - t0) * 1e6) for s in starts]
        basis = "measured"
        notes.append(
            f"arrival_time = {anchor_how} + (start_time - min(start_times)); start_times are perf_counter"
        )
    else:
        arrival = [anchor_us] * len(r)
        basis = "synthetic"
        notes.append(
            f"no start_times (older vLLM): every request is anchored at {anchor_how}; "
            "per-request arrival times are unknown, so rates, concurrency and time windows are not meaningful"
        )
    e2e = np.array([np.nan if x["e2e"] is None else x["e2e"] for x in r], dtype=float)
    ttft = np.array([np.nan if x["ttft"] is None else x["ttft"] for x in r], dtype=float)
    out = np.array([np.nan if x["output"] is None else x["output"] for x in r], dtype=float)
    tpot = derive_tpot(e2e, ttft, out)
    ok = ~np.isnan(tpot)
    derived = [
        ",".join(f for f, flag in (("e2e_latency_s", x["e2e_derived"]), ("tpot_s", t)) if flag) or None
        for x, t in zip(r, ok, strict=True)
    ]
    model = doc.get("model_id") if isinstance(doc.get("model_id"), str) else None
    return pa.table(
        {
            "request_id": pa.array([f"{stem}#{i}" for i in idx], type=pa.string()),
            "arrival_time": pa.array(arrival, type=pa.int64()).cast(TIMESTAMP),
            "prompt_tokens": pa.array([x["prompt"] for x in r], type=pa.int64()),
            "output_tokens": pa.array([x["output"] for x in r], type=pa.int64()),
            "ttft_s": pa.array([x["ttft"] for x in r], type=pa.float64()),
            "tpot_s": pa.array(tpot, mask=~ok, type=pa.float64()),
            "itl_s": pa.array([x["itl"] for x in r], type=pa.list_(pa.float64())),
            "model": pa.array([model] * len(r), type=pa.string()),
            "status": pa.array([x["status"] for x in r], type=pa.string()),
            "error_type": pa.array([x["error_type"] for x in r], type=pa.string()),
            "e2e_latency_s": pa.array([x["e2e"] for x in r], type=pa.float64()),
            "derived_fields": pa.array(derived, type=pa.string()),
            "source_format": pa.array([NAME] * len(r), type=pa.string()),
            "source_line": pa.array([i + 1 for i in idx], type=pa.int64()),
            "time_basis": pa.array([basis] * len(r), type=pa.string()),
        }
    )


ADAPTER = Adapter(
    name=NAME,
    description="vllm bench serve --save-result --save-detailed JSON (per-request ttfts, itls, errors)",
    sniff=sniff,
    read=read,
    priority=50,
    tables=("requests",),
    checklist="1 arrival (from start_times + date; run start only without them); 2 tokens, TTFT, ITL, TPOT (derived); "
    "5 model; 6 status, error text, e2e (latencies or ttft + sum(itls))",
)
