"""Item 1 of issue 15: a request's identity includes where it came from, so runs never collide.

LLMPerf writes ``<model>_<in>_<out>_individual_responses.json`` in every run
folder, its positions restarting at 1; the real runs in
../shared/formats/samples/llmperf are laid out that way here.
"""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from click.testing import CliRunner

import traceana
from tests.conftest import SHARED
from traceana.cli import main
from traceana.ingest import ingest_paths
from traceana.ingest.identity import IDENTITY
from traceana.ingest.registry import names

LLMPERF = sorted((SHARED / "formats" / "samples" / "llmperf").glob("*.json"))


@pytest.fixture
def runs(tmp_path):
    if not LLMPERF:
        pytest.skip("../shared samples missing")
    root = tmp_path / "runs"
    for i, f in enumerate(LLMPERF, start=1):
        (root / f"run{i:02d}").mkdir(parents=True)
        shutil.copy(f, root / f"run{i:02d}" / "llama2_550_150_individual_responses.json")
    return root


def test_runs_sharing_a_file_name_all_stored(runs, tmp_path):
    expected = sum(len(json.loads(f.read_text())) for f in LLMPERF)  # records, counted without traceana
    store = traceana.open_store(tmp_path / "s", create=True)
    summary = ingest_paths(store, [runs])
    assert summary.stored == expected and summary.quarantined == 0
    ids = store.requests().select("request_id").collect().to_series()
    assert ids.n_unique() == expected
    assert set(ids.str.extract(r"^(run\d\d)/", 1).unique().to_list()) == {
        f"run{i:02d}" for i in range(1, len(LLMPERF) + 1)
    }
    # the same folder again, and one run named directly: nothing is stored twice
    again = ingest_paths(store, [runs, runs / "run01" / "llama2_550_150_individual_responses.json"])
    assert again.stored == 0 and all(f.status == "skipped" for f in again.files)
    assert store.requests().select(pl.len()).collect().item() == expected


def test_check_states_identity_per_format(runs):
    result = CliRunner().invoke(main, ["check", str(runs), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["identity"] == {"llmperf": IDENTITY["llmperf"]}
    text = CliRunner().invoke(main, ["check", str(runs)]).output
    assert "request identity (llmperf): <origin>#" in text and "relative to the directory ingested" in text


def test_every_request_format_states_its_identity():
    from traceana.ingest.registry import adapters

    request_formats = {a.name for a in adapters() if "requests" in a.tables}
    assert request_formats <= set(IDENTITY), sorted(request_formats - set(IDENTITY))
    assert set(IDENTITY) - {"llm_load_test"} <= set(names()) | {"mapped"}
