"""Summary files are refused (exit 2) with a message naming the file and what to ingest instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE_TRACES
from tests.conftest import SHARED as SHARED_ROOT
from traceana.cli import main
from traceana.ingest.summaries import SUMMARIES, recognise

DATA = Path(__file__).resolve().parents[1] / "data"
SUMMARY_FILES = sorted((DATA / "summaries").glob("*/*.*"))
SHARED = SHARED_ROOT / "formats"
PER_REQUEST = sorted(
    p
    for p in [*(SHARED / "samples").glob("*/*"), *(SHARED / "examples").glob("*"), *SAMPLE_TRACES.glob("*.*")]
    if p.is_file()
)

EXPECTED = {
    "llmperf": "LLMPerf",
    "aiperf": "AIPerf",
    "guidellm": "GuideLLM",
    "inference_perf": "inference-perf",
    "sglang": "SGLang bench_serving",
}


@pytest.mark.parametrize("path", SUMMARY_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_summary_is_recognised_and_refused(path, tmp_path):
    entry = recognise(path.read_bytes()[: 1 << 20], path)
    assert entry is not None and entry.system == EXPECTED[path.parent.name]
    result = CliRunner().invoke(main, ["ingest", str(path), "--store", str(tmp_path / "s"), "--json"])
    assert result.exit_code == 2, result.output
    out = json.loads(result.stdout)
    (file,) = out["files"]
    assert file["status"] == "refused"
    assert str(path) in file["error"] and f"this is a {entry.system} summary" in file["error"]
    assert "ingest " in file["error"] and "instead" in file["error"]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("path", SUMMARY_FILES[:2], ids=lambda p: p.name)
def test_summary_is_refused_even_with_format(path, tmp_path):
    result = CliRunner().invoke(main, ["check", str(path), "--format", "canonical"])
    assert result.exit_code == 2 and "summary" in result.output


@pytest.mark.parametrize("path", PER_REQUEST, ids=lambda p: p.name)
def test_per_request_files_are_not_taken_for_summaries(path):
    assert recognise(path.read_bytes()[: 1 << 20], path) is None


def test_every_entry_has_a_fixture():
    assert {e.system for e in SUMMARIES} == set(EXPECTED.values())
