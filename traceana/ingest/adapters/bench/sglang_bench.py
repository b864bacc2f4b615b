"""SGLang ``python -m sglang.bench_serving --output-file F [--output-details]`` JSON Lines.

Source: sgl-project/sglang ``python/sglang/bench_serving.py`` (``benchmark()``):
one line is *appended per run*: the run's arguments (``tag``, ``backend``,
``dataset_name``, ``request_rate``, ``max_concurrency``, ...), its results
(``duration`` s, ``completed``, ``{mean,median,std,p99}_{ttft,tpot,itl,e2e_latency}_ms``,
``p95_itl_ms``) and, with ``--output-details``, the per-request lists
``input_lens``, ``output_lens``, ``ttfts`` (s), ``itls`` (list of chunk gaps, s),
``generated_texts``, ``errors`` ("" = ok). The same parallel lists as
``vllm bench``, so each request is parsed by :func:`vllm_bench.parse_request`.

- request_id = ``<file stem>#<line>.<index>``; source_line = the run's line
- no per-request send time and no run date in the file: every request of a run is
  anchored at 2000-01-01 + the summed ``duration`` of the runs before it (noted);
  rates, concurrency and windows are therefore not meaningful
- e2e_latency_s = ttft + sum(itls) (derived: SGLang's per-request ``latency`` is
  not written; the gap between the last chunk and the end of the stream is lost)
- TPOT (derived) = (e2e - ttft) / (output_tokens - 1) for output_tokens > 1
- tags = ``tag`` (``--tag``), ``request_rate``, ``max_concurrency`` as a JSON object (``report --by request_rate``)
- a line without ``ttfts`` is a summary (run without ``--output-details``): refused
  when no line has per-request lists, else skipped with a note
"""

from __future__ import annotations

from pathlib import Path

from traceana.errors import TraceParseError
from traceana.ingest.adapters._rows import (
    RELATIVE_ANCHOR_US,
    derive_tpot_row,
    first_line,
    q_record,
    rows_to_table,
    stem,
)
from traceana.ingest.adapters.bench import vllm_bench
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source, iter_lines, load_json_line
from traceana.tags import encode

NAME = "sglang_bench"
_KEYS = (b'"random_input_len"', b'"sharegpt_output_len"', b'"total_output_tokens_retokenized"')
LISTS = ("input_lens", "output_lens", "ttfts", "itls", "errors")


def sniff(head: bytes, path: Path) -> bool:
    line = first_line(head)
    return line.startswith(b"{") and b'"mean_ttft_ms"' in line and sum(k in line for k in _KEYS) >= 2


def run_tags(doc: dict) -> dict[str, str]:
    """The run's tags (``--tag``, request rate, concurrency), stored in ``tags`` for ``--by``."""
    tags = {}
    for key in ("tag", "request_rate", "max_concurrency"):
        v = doc.get(key)
        if v is not None and not isinstance(v, dict | list):
            tags[key] = f"{v:g}" if isinstance(v, float) else str(v)
    return tags


def _run_rows(doc: dict, line: int, file_stem: str, anchor_us: int) -> tuple[list[dict], list[QuarantineRow]]:
    lengths = {k: len(doc[k]) for k in LISTS if isinstance(doc.get(k), list)}
    if len(set(lengths.values())) > 1:
        return [], [q_record(line, None, f"per-request lists have different lengths: {lengths}", {})]
    model = None
    info = doc.get("server_info")
    if isinstance(info, dict) and isinstance(info.get("model_path"), str):
        model = info["model_path"]
    tag = encode(run_tags(doc)) if run_tags(doc) else None
    rows, bad = [], []
    for i in range(lengths.get("ttfts", 0)):
        try:
            r = vllm_bench.parse_request(doc, i)
        except ValueError as exc:
            fld, reason = exc.args if len(exc.args) == 2 else (None, str(exc))
            bad.append(q_record(line, fld, f"request {i}: {reason}", {k: doc[k][i] for k in lengths}))
            continue
        row = {
            "request_id": f"{file_stem}#{line}.{i}",
            "arrival_time": anchor_us,
            "prompt_tokens": r["prompt"],
            "output_tokens": r["output"],
            "ttft_s": r["ttft"],
            "itl_s": r["itl"],
            "e2e_latency_s": r["e2e"],
            "status": r["status"],
            "error_type": r["error_type"],
            "model": model,
            "tags": tag,
            "source_line": line,
        }
        if r["e2e_derived"]:
            row["derived_fields"] = "e2e_latency_s"
        derive_tpot_row(row)
        rows.append(row)
    return rows, bad


def read(src: Source) -> AdapterResult:
    rows: list[dict] = []
    bad: list[QuarantineRow] = []
    summaries = runs = 0
    anchor_us = RELATIVE_ANCHOR_US
    file_stem = stem(src)
    for line, text in iter_lines(src):
        if text is None:
            bad.append(QuarantineRow(line, None, f"line longer than {src.limits.max_line_bytes} bytes"))
            continue
        try:
            doc = load_json_line(text, src.limits.max_json_depth)
        except ValueError as exc:
            bad.append(QuarantineRow(line, None, str(exc), raw=text[:4096].decode("utf-8", "replace")))
            continue
        if not isinstance(doc, dict):
            bad.append(q_record(line, None, "expected one JSON object per run", doc))
            continue
        if not isinstance(doc.get("ttfts"), list):
            summaries += 1
            continue
        runs += 1
        got, q = _run_rows(doc, line, file_stem, anchor_us)
        rows.extend(got)
        bad.extend(q)
        duration = doc.get("duration")
        if isinstance(duration, int | float) and not isinstance(duration, bool) and duration > 0:
            anchor_us += round(duration * 1e6)
    if runs == 0 and not bad:
        raise TraceParseError(
            src.name,
            "summary-only SGLang bench_serving output: no per-request lists (ttfts, itls, errors). "
            "Hint: rerun with --output-details",
        )
    notes = [
        "SGLang bench_serving writes no send times or run date: each run's requests are anchored at "
        "2000-01-01 + the durations of the runs before it; rates, concurrency and windows are not meaningful",
        "e2e = ttft + sum(itls) (derived; SGLang's per-request latency is not written); "
        "TPOT derived as (e2e - ttft)/(output_tokens - 1); tags = tag, request_rate, max_concurrency",
    ]
    if summaries:
        notes.append(f"{summaries} run line(s) without --output-details lists were skipped (summaries)")
    return AdapterResult(requests=rows_to_table(rows, NAME), quarantine=bad, notes=notes)


ADAPTER = Adapter(
    name=NAME,
    description="SGLang bench_serving --output-file JSONL with --output-details (per-request ttfts, itls, errors)",
    sniff=sniff,
    read=read,
    priority=55,  # before vllm_bench, whose summary sniff also matches these lines
    tables=("requests",),
    checklist="1 arrival (run anchor only); 2 tokens, TTFT, ITL, TPOT (derived); 5 model (server_info); "
    "6 status, error text, e2e (ttft + sum(itls)); sweep point in tags",
)
