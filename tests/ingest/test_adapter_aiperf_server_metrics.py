"""aiperf_server_metrics: AIPerf server_metrics_export.jsonl -> engine_samples (KV, batch, queue) and histograms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from traceana.ingest.adapters.prometheus import aiperf_server_metrics
from traceana.ingest.base import Source
from traceana.ingest.registry import detect

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "aiperf" / "server_metrics_export.jsonl"


def test_scrapes_become_engine_samples_with_unchanged_values_carried_forward():
    assert detect(FIX.read_bytes(), FIX).name == "aiperf_server_metrics"
    scrapes = [json.loads(line) for line in FIX.read_text().splitlines()]
    res = aiperf_server_metrics.read(Source(FIX, FIX.read_bytes()))
    rows = res.engine_samples.to_pylist()
    assert len(rows) == len(scrapes) == 4
    assert {r["instance"] for r in rows} == {"localhost:8000"}
    last = {}
    for row, scrape in zip(rows, scrapes, strict=True):
        for name, fld in (
            ("vllm:num_requests_running", "num_running"),
            ("vllm:kv_cache_usage_perc", "kv_cache_usage"),
            ("vllm:num_requests_waiting", "num_waiting"),
        ):
            if name in scrape["metrics"]:
                last[fld] = scrape["metrics"][name][0]["value"]
            assert row[fld] == last[fld], (fld, scrape["timestamp_ns"])
        assert row["time"].timestamp() == pytest.approx(scrape["timestamp_ns"] / 1e9, abs=1e-6)
    # counter -> rate per second between scrapes 1 s apart
    counts = [s["metrics"]["vllm:generation_tokens_total"][0]["value"] for s in scrapes]
    assert [r["generation_tokens_per_s"] for r in rows[1:]] == pytest.approx(
        [b - a for a, b in zip(counts, counts[1:], strict=False)]
    )
    hist = res.engine_histograms.to_pylist()
    assert {h["metric"] for h in hist} == {"ttft_s"} and len(hist) == 3 * 4
