"""AIPerf ``server_metrics_export.jsonl``: the inference server's /metrics, scraped during the run.

Layout (ai-dynamo/aiperf ``docs/tutorials/server-metrics.md``): one JSON object per
scrape, ``{endpoint_url, timestamp_ns (epoch ns), endpoint_latency_ns, metrics:
{name: [ {labels?, value} | {labels?, histogram: {le: count}, sum, count} ]}}``.
The metric names are the server's own (vLLM, SGLang, TGI, ...), so the mapping onto
``engine_samples`` / ``engine_histograms`` is the Prometheus one (:mod:`._prom`):
running batch, queue, KV-cache usage, token rates from counters, latency histograms.

- time = ``timestamp_ns``; instance = the series' ``instance`` label, else the
  endpoint's host:port (plus the ``engine``/``dp_rank`` label, as for /metrics)
- AIPerf drops a metric from a scrape when it did not change since the previous one
  (per endpoint); the last value is carried forward so each scrape is complete
- summaries (``{"summary": ...}``) are not read (no canonical column)
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from traceana.ingest.adapters._rows import as_float, first_line, q_record
from traceana.ingest.adapters.prometheus import _metric_map as _prom
from traceana.ingest.base import Adapter, AdapterResult, QuarantineRow, Source, iter_lines, load_json_line

NAME = "aiperf_server_metrics"


def sniff(head: bytes, path: Path) -> bool:
    line = first_line(head)
    return (
        line.startswith(b"{")
        and b'"endpoint_url"' in line
        and b'"timestamp_ns"' in line
        and b'"metrics"' in line
    )


def _endpoint(url: str) -> str:
    parts = urlsplit(url if "//" in url else f"http://{url}")
    return parts.netloc or url


def _series(name: str, item: dict, endpoint: str) -> list[tuple[str, dict, float]]:
    """One metric entry as (sample name, labels, value) triples, histograms expanded to _bucket/_sum/_count."""
    labels = dict(item.get("labels") or {})
    labels.setdefault("instance", endpoint)
    if "histogram" in item:
        out = []
        for le, count in (item.get("histogram") or {}).items():
            out.append((f"{name}_bucket", {**labels, "le": str(le)}, as_float(count, f"{name}.histogram")))
        for key in ("sum", "count"):
            if item.get(key) is not None:
                out.append((f"{name}_{key}", labels, as_float(item[key], f"{name}.{key}")))
        return out
    if "value" in item:
        return [(name, labels, as_float(item["value"], name))]
    return []


def read(src: Source) -> AdapterResult:
    samples = _prom.Samples()
    bad: list[QuarantineRow] = []
    last: dict[str, dict[tuple, tuple[str, dict, float]]] = {}
    for line, text in iter_lines(src):
        if text is None:
            bad.append(QuarantineRow(line, None, "line too long", None, "engine_samples"))
            continue
        try:
            rec = load_json_line(text, src.limits.max_json_depth)
            if not isinstance(rec, dict) or not isinstance(rec.get("metrics"), dict):
                raise ValueError("metrics: expected an object per scrape")
            t = as_float(rec.get("timestamp_ns"), "timestamp_ns")
            if t is None:
                raise ValueError("timestamp_ns: missing")
            endpoint = _endpoint(str(rec.get("endpoint_url") or "unknown"))
            current = last.setdefault(endpoint, {})
            for name, items in rec["metrics"].items():
                wanted = _prom.metric_of_interest(name) or _prom.metric_of_interest(f"{name}_bucket")
                if not wanted or not isinstance(items, list):
                    continue
                for item in items:
                    if isinstance(item, dict):
                        for sname, labels, value in _series(name, item, endpoint):
                            current[(sname, tuple(sorted(labels.items())))] = (sname, labels, value)
        except ValueError as exc:
            msg = str(exc)
            bad.append(q_record(line, msg.split(":", 1)[0], msg, text[:2000].decode("utf-8", "replace")))
            bad[-1].table = "engine_samples"
            continue
        for sname, labels, value in current.values():
            samples.add(t / 1e9, sname, labels, value, line)
    engine, hists, notes, q = _prom.to_tables(samples, "aiperf", NAME)
    notes.insert(
        0,
        "AIPerf server metrics: each scrape's metrics mapped as Prometheus /metrics; values AIPerf "
        "omitted as unchanged are carried forward from the previous scrape of the same endpoint",
    )
    return _prom.adapter_result(engine, hists, notes, bad + q)


ADAPTER = Adapter(
    name=NAME,
    description="AIPerf server_metrics_export.jsonl (the server's /metrics scraped during a run)",
    sniff=sniff,
    read=read,
    priority=60,
    tables=("engine_samples", "engine_histograms"),
    checklist="4 KV-cache usage, running batch, queue, token rates over time; latency histograms as snapshots",
)
