"""Prometheus HTTP API query results (``/api/v1/query_range`` matrix, ``/api/v1/query`` vector).

Layout (Prometheus ``docs/querying/api.md``): ``{"status": "success", "data":
{"resultType": "matrix", "result": [{"metric": {"__name__": ..., labels}, "values":
[[<unix s float>, "<value string>"], ...]}]}}``; a vector result has ``"value": [ts, "v"]``.
One file may hold several such documents (one per query): JSON Lines, or a JSON array of
them. Series are mapped by their ``__name__`` (see ``_prom``); a series without one (the
result of an expression such as ``rate(...)``) cannot be identified and is quarantined.
Query raw counters and histogram ``_bucket`` series, not rates: traceana computes the
rates itself, with counter-reset handling.
"""

from __future__ import annotations

from pathlib import Path

from traceana.errors import TraceParseError
from traceana.ingest.adapters.prometheus import _metric_map as _prom
from traceana.ingest.adapters.prometheus.prometheus_text import instance_from_path
from traceana.ingest.base import (
    Adapter,
    AdapterResult,
    QuarantineRow,
    Source,
    iter_lines,
    load_json_line,
    raw_json,
)

NAME = "prometheus_range"
TABLE = "engine_samples"


def sniff(head: bytes, path: Path) -> bool:
    text = head.lstrip()
    return text[:1] in (b"{", b"[") and b'"resultType"' in head and b'"result"' in head


def _documents(src: Source):
    """(line or None, document) pairs; bad lines as QuarantineRow."""
    depth = src.limits.max_json_depth
    text = src.data.lstrip()
    lines = list(iter_lines(src))
    single = text[:1] == b"[" or len(lines) <= 1
    if not single:
        try:
            if lines[0][1] is None:
                raise ValueError
            load_json_line(lines[0][1], depth)
        except ValueError:
            single = True  # a pretty-printed document
    if single:
        try:
            doc = load_json_line(src.data, depth)
        except ValueError as exc:
            raise TraceParseError(src.name, f"not a Prometheus API JSON document: {exc}") from None
        for d in doc if isinstance(doc, list) else [doc]:
            yield None, d
        return
    for lineno, line in lines:
        if line is None:
            yield (
                lineno,
                QuarantineRow(
                    lineno, None, f"line longer than {src.limits.max_line_bytes} bytes", None, TABLE
                ),
            )
            continue
        try:
            yield lineno, load_json_line(line, depth)
        except ValueError as exc:
            yield lineno, QuarantineRow(lineno, None, str(exc), line[:4096].decode("utf-8", "replace"), TABLE)


def _series(doc, line: int | None, out: _prom.Samples, bad: list[QuarantineRow]) -> int:
    """Add one API response's samples to ``out``; returns the number of series."""
    if not isinstance(doc, dict) or doc.get("status") != "success":
        reason = doc.get("error") if isinstance(doc, dict) else None
        bad.append(
            QuarantineRow(
                line,
                "status",
                f"not a successful query result: {reason or 'no status'}",
                raw_json(doc),
                TABLE,
            )
        )
        return 0
    data = doc.get("data")
    kind = data.get("resultType") if isinstance(data, dict) else None
    result = data.get("result") if isinstance(data, dict) else None
    if kind not in ("matrix", "vector") or not isinstance(result, list):
        bad.append(
            QuarantineRow(
                line, "resultType", f"resultType {kind!r} is not matrix or vector", raw_json(doc), TABLE
            )
        )
        return 0
    for series in result:
        metric = series.get("metric") if isinstance(series, dict) else None
        if not isinstance(metric, dict) or not isinstance(metric.get("__name__"), str):
            bad.append(
                QuarantineRow(
                    line,
                    "__name__",
                    "series has no __name__ label (an expression result?): cannot tell which metric it is",
                    raw_json(series),
                    TABLE,
                )
            )
            continue
        name = metric["__name__"]
        if not _prom.metric_of_interest(name):
            continue
        labels = {k: str(v) for k, v in metric.items() if k != "__name__"}
        points = series.get("values") if kind == "matrix" else [series.get("value")]
        if points is None:
            points = []
        if not isinstance(points, list):
            bad.append(
                QuarantineRow(
                    line,
                    name,
                    f"values is not a list of [time, value] pairs: {str(points)[:80]}",
                    raw_json(series),
                    TABLE,
                )
            )
            continue
        for p in points:
            try:
                if not isinstance(p, list):
                    raise TypeError
                t, v = float(p[0]), float(p[1])
            except (TypeError, ValueError, IndexError, KeyError, OverflowError):
                bad.append(QuarantineRow(line, name, f"bad sample {str(p)[:80]}", raw_json(p), TABLE))
                continue
            out.add(t, name, labels, v, line or 0)
    return len(result)


def read(src: Source) -> AdapterResult:
    samples = _prom.Samples()
    bad: list[QuarantineRow] = []
    n_series = 0
    for line, doc in _documents(src):
        if isinstance(doc, QuarantineRow):
            bad.append(doc)
            continue
        n_series += _series(doc, line, samples, bad)
    engine, hists, notes, bad2 = _prom.to_tables(samples, instance_from_path(src.path), NAME)
    notes.insert(0, f"{n_series} series read; times are the query's evaluation steps")
    return _prom.adapter_result(engine, hists, notes, bad + bad2)


ADAPTER = Adapter(
    name=NAME,
    description="Prometheus HTTP API range/instant query results (JSON) of vLLM, SGLang or TGI metrics",
    sniff=sniff,
    read=read,
    priority=60,
    tables=("engine_samples", "engine_histograms"),
    checklist="4 KV-cache usage and capacity, running batch, queue, token rates over time; "
    "latency histograms as snapshots",
)
