"""GuideLLM ``benchmarks.json`` / ``benchmarks.yaml`` (vllm-project/guidellm): per-request records of a sweep.

One report holds ``benchmarks[]``, one per sweep point; each benchmark keeps its
requests grouped by status under ``requests.{successful, errored, incomplete}``
(``total`` is null). Two released layouts:

* 0.3 line (``src/guidellm/benchmark/benchmark.py``, record ``type_`` =
  ``generative_text_response``): ``start_time``, ``first_token_time``,
  ``last_token_time``, ``end_time`` (epoch s), ``prompt_tokens``,
  ``output_tokens``, ``request_latency`` (s), ``time_to_first_token_ms``; the
  sweep point is ``args.strategy`` (``type_``, ``rate``, ``streams``).
* 0.4 and later (``src/guidellm/schemas/request_stats.py``, ``type_`` =
  ``generative_request_stats``): times under ``info.timings``
  (``request_start``, ``first_token_iteration``, ``last_token_iteration``,
  ``request_end``; epoch s), the same token counts and computed fields, the
  error in ``info.error``; the sweep point is ``config.strategy``.

Mapping (s unless noted):

* request_id = ``request_id`` (else ``<origin>#<n>``); arrival_time = request start (epoch s)
* ttft_s = first token - request start; e2e_latency_s = end - start
  (``request_latency``); TPOT (derived) = (e2e - ttft) / (output_tokens - 1).
  GuideLLM's own "time_per_output_token_ms" is (last token - start) /
  output_tokens (prefill included), so it is *not* stored as tpot_s; its
  "inter_token_latency_ms" is (last - first) / (output_tokens - 1), vLLM's TPOT
  without the tail after the last token.
* status: successful -> ok, errored -> error (error_type = the error's first
  line), incomplete -> cancelled (the run ended before the request did).
* tags = the sweep point, ``{"strategy": <type>, "rate": <r>, "streams": <n>}``, so
  ``report --by rate`` and ``compare`` slices can group by it; model = the backend model.
"""

from __future__ import annotations

from pathlib import Path

from traceana.errors import TraceParseError
from traceana.ingest.adapters._rows import (
    as_float,
    as_int,
    derive_tpot_row,
    q_record,
    rows_to_table,
    stem,
)
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source, load_json_line
from traceana.tags import encode

NAME = "guidellm"
STATUS = {"successful": "ok", "errored": "error", "incomplete": "cancelled"}


def sniff(head: bytes, path: Path) -> bool:
    """A report with ``benchmarks`` whose records are GuideLLM request types (JSON or YAML)."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text[:1] == b"{":
        return b'"benchmarks"' in head and b'"generative_benchmark"' in head
    return text.startswith((b"benchmarks:", b"---")) and b"generative_benchmark" in head


def _load(src: Source):
    text = src.data.lstrip(b"\xef\xbb\xbf")
    if text.lstrip()[:1] == b"{":
        try:
            return load_json_line(text, src.limits.max_json_depth)
        except ValueError as exc:
            raise TraceParseError(src.name, f"not a GuideLLM benchmarks JSON: {exc}") from None
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise TraceParseError(
            src.name,
            f"not a GuideLLM benchmarks YAML: {getattr(exc, 'problem', exc)}",
            line=None if mark is None else mark.line + 1,
        ) from None


def run_tags(bench: dict) -> dict[str, str]:
    """The sweep point: strategy type plus its rate or stream count, as ``k=v`` pairs."""
    holder = bench.get("config") if isinstance(bench.get("config"), dict) else bench.get("args")
    strategy = holder.get("strategy") if isinstance(holder, dict) else None
    if not isinstance(strategy, dict):
        return None
    tags = {"strategy": str(strategy["type_"])} if strategy.get("type_") else {}
    for key in ("rate", "streams", "max_concurrency"):
        v = strategy.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            tags[key] = f"{v:g}"
    return tags


def _model(bench: dict) -> str | None:
    for holder in (bench.get("worker"), bench.get("config"), bench.get("backend")):
        if isinstance(holder, dict):
            for key in ("backend_model", "model"):
                if isinstance(holder.get(key), str):
                    return holder[key]
    return None


def _times(rec: dict) -> tuple[float | None, float | None, float | None]:
    """(start, first token, end) in epoch s, from either layout."""
    info = rec.get("info")
    if isinstance(info, dict) and isinstance(info.get("timings"), dict):
        t = info["timings"]
        start = as_float(t.get("request_start", t.get("resolve_start")), "info.timings.request_start")
        first = as_float(t.get("first_token_iteration"), "info.timings.first_token_iteration")
        end = as_float(t.get("request_end", t.get("resolve_end")), "info.timings.request_end")
        return start, first, end
    start = as_float(rec.get("start_time"), "start_time")
    first = as_float(rec.get("first_token_time"), "first_token_time")
    end = as_float(rec.get("end_time"), "end_time")
    return start, first, end


def _error(rec: dict) -> str | None:
    info = rec.get("info")
    err = info.get("error") if isinstance(info, dict) else rec.get("error")
    if not err:
        return None
    return str(err).strip().splitlines()[0][:200] if str(err).strip() else None


def _row(rec: dict, status: str, tag: str | None, model: str | None, ordinal: int, prefix: str) -> dict:
    start, first, end = _times(rec)
    if start is None:
        raise ValueError("start_time: no request start time")
    row = {
        "request_id": str(rec.get("request_id") or f"{prefix}#{ordinal}"),
        "arrival_time": round(start * 1e6),
        "prompt_tokens": as_int(rec.get("prompt_tokens"), "prompt_tokens"),
        "output_tokens": as_int(rec.get("output_tokens"), "output_tokens"),
        "ttft_s": None if first is None else first - start,
        "e2e_latency_s": None if end is None else end - start,
        "status": status,
        "error_type": _error(rec) if status != "ok" else None,
        "model": model,
        "tags": tag,
        "source_line": ordinal,
    }
    if status == "cancelled":  # an incomplete request's end is when the run cut it off, not a latency
        row["e2e_latency_s"] = None
    derive_tpot_row(row)
    return row


def read(src: Source) -> AdapterResult:
    doc = _load(src)
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise TraceParseError(src.name, "not a GuideLLM report: no 'benchmarks' list", field="benchmarks")
    rows: list[dict] = []
    bad: list[QuarantineRow] = []
    ordinal = 0
    tags: list[str] = []
    for b, bench in enumerate(doc["benchmarks"], start=1):
        if not isinstance(bench, dict):
            bad.append(q_record(None, "benchmarks", f"benchmark {b} is not an object", bench))
            continue
        tag, model = (encode(run_tags(bench)) if run_tags(bench) else None), _model(bench)
        if tag:
            tags.append(tag)
        groups = bench.get("requests") if isinstance(bench.get("requests"), dict) else {}
        for group, status in STATUS.items():
            for rec in groups.get(group) or []:
                ordinal += 1
                if not isinstance(rec, dict):
                    bad.append(q_record(ordinal, None, "request record is not an object", rec))
                    continue
                try:
                    rows.append(_row(rec, status, tag, model, ordinal, stem(src)))
                except ValueError as exc:
                    msg = str(exc)
                    bad.append(q_record(ordinal, msg.split(":", 1)[0], msg, rec))
    if not rows and not bad:
        raise TraceParseError(
            src.name,
            "GuideLLM report without per-request records (a summary). "
            "Hint: ingest a benchmarks.json saved with its requests",
        )
    notes = [
        "GuideLLM: ttft = first token - request start, e2e = end - start (client clock, epoch s); "
        "TPOT derived as (e2e - ttft)/(output_tokens - 1); GuideLLM's time_per_output_token_ms "
        "(prefill included) is not stored; source_line numbers the requests across benchmarks in file order",
        f"tags hold each benchmark's sweep point ({len(set(tags))} distinct: "
        f"{', '.join(sorted(set(tags))[:6])})"
        if tags
        else "no strategy recorded per benchmark: tags are null",
    ]
    truncated = _truncation(doc)
    if truncated:
        notes.append(truncated)
    return AdapterResult(requests=rows_to_table(rows, NAME), quarantine=bad, notes=notes)


def _truncation(doc: dict) -> str | None:
    """A note when a benchmark kept fewer request records than it counted (GuideLLM samples them)."""
    short = []
    for b, bench in enumerate(doc["benchmarks"], start=1):
        totals = bench.get("request_totals") if isinstance(bench, dict) else None
        groups = bench.get("requests") if isinstance(bench, dict) else None
        if not isinstance(totals, dict) or not isinstance(groups, dict):
            continue
        kept = sum(len(groups.get(g) or []) for g in STATUS)
        counted = sum(v for g, v in totals.items() if g in STATUS and isinstance(v, int))
        if counted > kept:
            short.append(f"benchmark {b}: {kept} of {counted}")
    if not short:
        return None
    return (
        "GuideLLM kept only a sample of the requests ("
        + "; ".join(short)
        + "): the file's own aggregates cover all of them, traceana's only the records kept"
    )


ADAPTER = Adapter(
    name=NAME,
    description="GuideLLM benchmarks.json / .yaml (per-request records of each sweep benchmark)",
    sniff=sniff,
    read=read,
    priority=60,
    tables=("requests",),
    checklist="1 arrival; 2 prompt/output tokens, TTFT, TPOT (derived); 5 model (backend); "
    "6 status (successful/errored/incomplete), error text, e2e; sweep point in tags",
)
