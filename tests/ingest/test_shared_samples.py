"""Every real run in ../shared/formats/samples/ ingests with no --format; rows = source records.

Samples (see ../shared/formats/README.md for origin and license): AIPerf
(ai-dynamo/aiperf examples), LLMPerf leaderboard raw results (ray-project),
Azure LLM inference trace (Azure/AzurePublicDataset), Mooncake trace (kvcache-ai).
"""

from __future__ import annotations

import csv
import json

import pytest

import traceana
from tests.conftest import SHARED
from traceana.ingest import ingest_paths
from traceana.metrics import checklist

SAMPLES = (
    sorted(p for p in (SHARED / "formats" / "samples").rglob("*") if p.is_file()) if SHARED.is_dir() else []
)

EXPECTED_ADAPTER = {"aiperf": "aiperf", "llmperf": "llmperf", "azure": "azure", "mooncake": "mooncake"}


def source_records(path) -> int:
    """Count records independently of traceana: JSON array items, JSONL lines, CSV data rows."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        return sum(1 for _ in csv.DictReader(text.splitlines()))
    if path.suffix == ".jsonl":
        return sum(1 for line in text.splitlines() if line.strip())
    data = json.loads(text)
    return len(data)


@pytest.mark.parametrize("path", SAMPLES, ids=[p.parent.name + "/" + p.name for p in SAMPLES])
def test_sample_ingests_with_every_record_accounted_for(tmp_path, path):
    store = traceana.open_store(tmp_path / "s", create=True)
    summary = ingest_paths(store, [path])
    (rep,) = summary.files
    assert rep.status == "stored", rep.error
    assert rep.adapter == EXPECTED_ADAPTER[path.parent.name]
    n = source_records(path)
    assert rep.records_read == n
    stored = store.requests().collect()
    assert stored.height + rep.quarantined == n
    assert rep.quarantined == 0, rep.reasons  # real runs are clean
    cov = {
        r["item"]: r["verdict"]
        for r in checklist.coverage(store.requests(), store.engine_samples()).iter_rows(named=True)
    }
    if path.parent.name in ("azure", "mooncake"):
        # arrival-only traces: tokens and arrivals, no latency
        assert stored["ttft_s"].null_count() == n and stored["e2e_latency_s"].null_count() == n
        assert cov[3] == "missing" and cov[2] == "partial"
    else:
        assert cov[2] in ("complete", "partial") and stored["e2e_latency_s"].null_count() < n
    assert cov[4] == "missing"  # no engine time series in any of them


def test_llmperf_failures_are_rows_not_dropped(tmp_path):
    path = SHARED / "formats" / "samples" / "llmperf" / "lepton_7b.json"
    if not path.exists():
        pytest.skip("../shared missing")
    store = traceana.open_store(tmp_path / "s", create=True)
    ingest_paths(store, [path])
    df = store.requests().collect()
    assert df.height == 150
    assert (df["status"] != "ok").sum() == 130
