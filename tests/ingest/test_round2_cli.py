"""Issue 20's formats through the real CLI: `ingest` detects each without --format; `check` says what each fills."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from traceana.cli import main

FIX = Path(__file__).resolve().parent.parent / "fixtures"
#: file -> (format, rows stored, {checklist item: verdict}) as `check` reports them for that file alone
CASES = {
    "guidellm/benchmarks_v0.3.json": (
        "guidellm",
        1,
        {1: "partial", 2: "complete", 3: "missing", 6: "complete"},
    ),
    "guidellm/benchmarks_v0.3.yaml": ("guidellm", 1, {2: "complete", 6: "complete"}),
    "sglang/bench_serving_details.jsonl": ("sglang_bench", 12, {2: "complete", 3: "missing", 6: "complete"}),
    "inference_perf/per_request_lifecycle_metrics.json": (
        "inference_perf",
        6,
        {1: "partial", 2: "complete", 6: "complete"},
    ),
    "langfuse/observations.json": ("langfuse", 2, {2: "complete", 6: "complete"}),
    "langfuse/observations.csv": ("langfuse", 2, {2: "complete", 6: "complete"}),
    # engine time series only: item 4 filled (KV, batch) but partial, since nothing joins it to requests
    "aiperf/server_metrics_export.jsonl": ("aiperf_server_metrics", 0, {4: "partial", 2: "missing"}),
    "openinference/phoenix_langchain_spans.jsonl": (
        "openinference",
        2,
        {2: "partial", 3: "missing", 6: "complete"},
    ),
}


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("name", sorted(CASES))
def test_ingest_autodetects_and_check_reports_items(name, tmp_path):
    fmt, rows, verdicts = CASES[name]
    res = run("ingest", FIX / name, "--store", tmp_path / "s", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    files = out["files"] if "files" in out else out
    assert fmt in json.dumps(files)
    res = run("check", "--store", tmp_path / "s", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["requests"] == rows
    got = {i["item"]: i["verdict"] for i in report["items"]}
    for item, verdict in verdicts.items():
        assert got[item] == verdict, (item, got)
