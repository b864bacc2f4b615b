"""Prometheus ``/metrics`` text-exposition scrapes of vLLM, SGLang or TGI over time.

Times, in order of precedence, for each sample:

1. an explicit exposition timestamp (``metric{labels} value <ms since epoch>``);
2. the last ``# scrape <time>`` line above it, where ``<time>`` is Unix seconds or
   RFC 3339 (naive = UTC). This separator is traceana's own convention for saving a
   series of scrapes in one file, e.g.
   ``while sleep 15; do echo "# scrape $(date -u +%s)"; curl -s host:8000/metrics; done``;
   Prometheus parsers read it as a plain comment;
3. otherwise (a single scrape) the file's modification time (stated in the notes).

A directory of scrape files is ingested one file at a time; counter rates need two
scrapes of the same instance in one file. See ``_prom`` for the metric mapping.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from traceana.errors import TraceParseError
from traceana.ingest.adapters.prometheus import _metric_map as _prom
from traceana.ingest.base import Adapter, AdapterResult, Source

NAME = "prometheus_text"
_KNOWN = re.compile(rb"^(?:vllm:|sglang:|tgi_)", re.M)
_SUFFIXES = (".gz", ".zst", ".bz2", ".xz", ".prom", ".txt", ".metrics", ".scrape", ".json", ".jsonl")


def sniff(head: bytes, path: Path) -> bool:
    lines = head.splitlines()
    if len(head) >= 65536 and lines:
        lines = lines[:-1]  # the last line may be cut
    samples = typed = bad = 0
    for raw in lines[:200]:
        line = raw.strip()
        if not line:
            continue
        if line.startswith(b"#"):
            typed += line.startswith((b"# TYPE ", b"# HELP "))
            continue
        if _prom._SAMPLE.match(line.decode("utf-8", "replace")):
            samples += 1
        else:
            bad += 1  # a few broken lines are quarantined by read(); mostly-other text is not ours
    return samples > 0 and bad * 10 <= samples and (typed > 0 or bool(_KNOWN.search(head)))


def instance_from_path(path: Path) -> str:
    name = path.name
    changed = True
    while changed:
        changed = False
        for suf in _SUFFIXES:
            if name.endswith(suf) and len(name) > len(suf):
                name, changed = name[: -len(suf)], True
    return name


def combine_scrapes(scrapes: list[tuple[float, bytes]]) -> bytes:
    """Several single-scrape files as one multi-scrape text, in time order.

    ``scrapes`` are (time in Unix seconds, e.g. each file's mtime; decompressed bytes).
    Reading the result with this adapter gives counter rates across the files, which
    reading them one by one cannot (a rate needs two scrapes of an instance).
    """
    parts = []
    for t, data in sorted(scrapes, key=lambda x: x[0]):
        parts.append(f"# scrape {t!r}\n".encode())
        parts.append(data if data.endswith(b"\n") else data + b"\n")
    return b"".join(parts)


def _mtime_us(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns // 1000
    except OSError:
        return None


def read(src: Source) -> AdapterResult:
    mtime_us = _mtime_us(src.path)
    mtime = None if mtime_us is None else mtime_us / 1e6
    samples, bad, separators, used_default = _prom.parse_text(src.data, mtime, src.limits.max_line_bytes)
    if not samples.time and not bad:
        raise TraceParseError(
            src.name,
            "no vLLM, SGLang or TGI metric found in this scrape. "
            "Hint: vllm:*, sglang:* (--enable-metrics) or tgi_* metrics are read",
        )
    engine, hists, notes, bad2 = _prom.to_tables(samples, instance_from_path(src.path), NAME)
    if used_default and mtime is not None:
        when = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=mtime_us)).isoformat()
        notes.insert(
            0,
            f"samples without a timestamp or '# scrape' line are timed at the file's "
            f"modification time ({when})",
        )
    if separators == 0 and not used_default:
        notes.insert(0, "times from the samples' own exposition timestamps")
    elif separators:
        notes.insert(0, f"{separators} scrapes separated by '# scrape <time>' lines")
    notes.append(
        "counter rates (tokens/s, preemptions per interval) need two scrapes of an instance; "
        "the first scrape of each instance has none"
    )
    return _prom.adapter_result(engine, hists, notes, bad + bad2)


ADAPTER = Adapter(
    name=NAME,
    description="Prometheus /metrics text scrapes (vLLM V0/V1, SGLang, TGI); '# scrape <time>' separates scrapes",
    sniff=sniff,
    read=read,
    priority=55,
    tables=("engine_samples", "engine_histograms"),
    checklist="4 KV-cache usage and capacity, running batch, queue, token rates over time; "
    "latency histograms (TTFT, queue, prefill, decode, e2e) as snapshots",
)
