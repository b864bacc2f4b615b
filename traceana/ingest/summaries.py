"""Summary files: recognised and refused, never ingested as if they were requests.

Benchmark tools write an aggregate next to their per-request export (LLMPerf
``<run>_summary.json`` beside ``<run>_individual_responses.json``, AIPerf
``profile_export_aiperf.json`` / ``.csv`` beside ``profile_export.jsonl``,
GuideLLM's summary tables). An aggregate holds percentiles already computed by
the tool, not requests: reading it as requests would invent rows, and no
adapter can recover the per-request data from it. So detection consults this
table *before* the adapters and refuses the file with one sentence naming what
to ingest instead.

To add a system: append a :class:`Summary` to :data:`SUMMARIES` with a sniff on
the file's first bytes and path (cheap, no parsing of the whole file) and the
per-request file to ingest instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from traceana.errors import TraceParseError


@dataclass(frozen=True)
class Summary:
    """One kind of summary file: its name, how to recognise it, what to ingest instead."""

    system: str  # the tool that writes it (shown in the message)
    sniff: Callable[[bytes, Path], bool]  # first bytes of the (decompressed) file and its path
    instead: str  # the per-request file to ingest instead

    def message(self) -> str:
        return f"this is a {self.system} summary (aggregates, not requests); ingest {self.instead} instead"


def _text(head: bytes, n: int = 8192) -> str:
    return head[:n].decode("utf-8", "replace")


def _llmperf(head: bytes, path: Path) -> bool:
    """``token_benchmark_ray.py`` writes ``<run>_summary.json``: one object of ``results_*`` aggregates."""
    text = _text(head)
    if not text.lstrip().startswith("{"):
        return False
    keys = ('"results_ttft_s_', '"results_end_to_end_latency_s_', '"results_num_completed_requests"')
    return path.name.endswith("_summary.json") or sum(k in text for k in keys) >= 2


def _aiperf(head: bytes, path: Path) -> bool:
    """AIPerf (and GenAI-Perf) aggregate exports: ``profile_export_aiperf.json|csv``, ``profile_export_genai_perf.*``.

    The JSON is one object keyed by metric (``"time_to_first_token": {"unit": "ms", "avg": ..., "p99": ...}``);
    the CSV starts with a ``Metric,`` header row of statistics (avg, min, max, p99, ...).
    """
    name = path.name.lower()
    if re.fullmatch(r"profile_export_(aiperf|genai_perf)\.(json|csv)", name):
        return True
    text = _text(head)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        # {"records": {"<tag>": {"tag": ..., "unit": ..., "header": ..., "avg": ..., "p99": ...}}}
        stats = re.search(r'"avg"\s*:', text) is not None and re.search(r'"p99"\s*:', text) is not None
        return stats and '"unit"' in text and ('"records"' in text or '"header"' in text)
    first = stripped.splitlines()[0] if stripped else ""
    return first.startswith("Metric,") and "avg" in first and "p99" in first


def _guidellm(head: bytes, path: Path) -> bool:
    """GuideLLM summaries: ``benchmarks.csv`` (one row per benchmark) and a benchmarks JSON without requests.

    GuideLLM's ``benchmarks.json`` carries, per benchmark, ``metrics`` with
    ``successful``/``errored`` distributions (mean, median, percentiles); the
    per-request records are under ``requests`` (omitted when the run was saved
    without them). A head with the metric distributions and no request records
    is a summary.
    """
    text = _text(head, 1 << 16)
    if path.suffix.lower() == ".csv":
        first = text.lstrip().splitlines()[0] if text.strip() else ""
        # multi-row header (guidellm/benchmark/outputs/csv.py): groups, then names, then units
        groups = {cell.strip().strip('"') for cell in first.split(",")}
        return "Benchmark" in groups and bool(groups & {"Timings", "Request Counts", "Request Latency"})
    if not text.lstrip().startswith("{") or '"benchmarks"' not in text:
        return False
    has_metrics = '"requests_per_second"' in text and '"metrics"' in text
    has_requests = (
        re.search(
            r'"(request_start_time|first_token_time|scheduler_info|request_start|first_token_iteration)"',
            text,
        )
        is not None
    )
    return has_metrics and not has_requests


def _inference_perf(head: bytes, path: Path) -> bool:
    """inference-perf ``summary_lifecycle_metrics.json`` / ``stage_<n>_lifecycle_metrics.json``.

    One object: ``load_summary``, ``successes{count, latency{...}}``, ``failures``
    (``inference_perf/reportgen/base.py``); the per-request report is a JSON array.
    """
    if re.fullmatch(r"(summary|stage_\d+)_lifecycle_metrics\.json", path.name.lower()):
        return True
    text = _text(head)
    return text.lstrip().startswith("{") and '"load_summary"' in text and '"successes"' in text


def _sglang(head: bytes, path: Path) -> bool:
    """SGLang ``bench_serving --output-file`` lines written without ``--output-details`` (no ``ttfts``)."""
    text = _text(head, 1 << 16)
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    keys = ('"random_input_len"', '"sharegpt_output_len"', '"total_output_tokens_retokenized"')
    return (
        first.startswith("{")
        and '"mean_ttft_ms"' in first
        and sum(k in first for k in keys) >= 2
        and '"ttfts"' not in text
    )


SUMMARIES: tuple[Summary, ...] = (
    Summary("LLMPerf", _llmperf, "the run's <run>_individual_responses.json"),
    Summary("AIPerf", _aiperf, "the run's profile_export.jsonl (per-request records)"),
    Summary("GuideLLM", _guidellm, "a benchmarks JSON saved with its per-request records"),
    Summary(
        "inference-perf",
        _inference_perf,
        "per_request_lifecycle_metrics.json (set report.request_lifecycle.per_request: true)",
    ),
    Summary("SGLang bench_serving", _sglang, "a bench_serving --output-file written with --output-details"),
)


def recognise(head: bytes, path: Path) -> Summary | None:
    """The summary kind the file is, or None. A sniff that fails is ignored (it must not break detection)."""
    for entry in SUMMARIES:
        try:
            if entry.sniff(head, path):
                return entry
        except Exception:  # noqa: BLE001
            continue
    return None


def refuse_summary(head: bytes, path: Path) -> None:
    """Raise a TraceParseError naming the file when it is a summary (the CLI exits 2)."""
    entry = recognise(head, path)
    if entry is not None:
        raise TraceParseError(str(path), entry.message())
