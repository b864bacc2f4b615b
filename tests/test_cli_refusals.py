"""Item 8 of issue 15: the CLI refuses what it cannot do, exit 2, naming the file (no tracebacks)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE_TRACES, SHARED
from traceana.cli import main

AZURE = SHARED / "formats" / "samples" / "azure" / "AzureLLMInferenceTrace_code.csv"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_unknown_format_lists_the_known_ones(tmp_path):
    r = run("check", SAMPLE_TRACES / "arrivals_only_azure.csv", "--format", "nope")
    assert r.exit_code == 2 and "unknown format 'nope'" in r.output and "azure" in r.output


@pytest.mark.skipif(not AZURE.is_file(), reason="../shared samples missing")
@pytest.mark.parametrize("cmd", ["check", "ingest"])
def test_a_format_that_does_not_fit_the_file(tmp_path, cmd):
    extra = ["--store", tmp_path / "s"] if cmd == "ingest" else []
    r = run(cmd, AZURE, "--format", "aiperf", *extra)
    assert r.exit_code == 2, r.output
    assert str(AZURE) in r.output and "--format aiperf does not fit this file" in r.output
    assert "Traceback" not in r.output


def test_csv_with_a_header_and_no_rows(tmp_path):
    f = tmp_path / "empty.csv"
    f.write_text("request_id,arrival_time,ttft_s\n")
    r = run("ingest", f, "--store", tmp_path / "s", "--json")
    assert r.exit_code == 2
    (rep,) = json.loads(r.stdout)["files"]
    assert (
        rep["status"] == "refused" and rep["error"] == f"{f}: a CSV header and no rows: no requests to ingest"
    )


def test_map_on_a_nested_json_document_needs_a_record_path(tmp_path):
    doc = {
        "run": "r1",
        "results": [{"id": f"q{i}", "t": 1_763_337_600 + i, "lat_ms": 100 + i} for i in range(3)],
    }
    f = tmp_path / "nested.json"
    f.write_text(json.dumps(doc, indent=2))
    cmap = tmp_path / "map.toml"
    body = '[columns]\nrequest_id = "id"\narrival_time = { column = "t", unit = "epoch_s" }\ne2e_latency_s = { column = "lat_ms", unit = "ms" }\n'
    cmap.write_text(body)
    r = run("ingest", f, "--map", cmap, "--store", tmp_path / "s")
    assert r.exit_code == 2
    assert f"{f}: a nested JSON document" in r.output and 'records = "$.results[*]"' in r.output
    cmap.write_text('records = "$.results[*]"\n' + body)
    r = run("ingest", f, "--map", cmap, "--store", tmp_path / "s", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["stored"] == len(doc["results"])
    cmap.write_text('records = "results"\n' + body)
    r = run("ingest", f, "--map", cmap, "--store", tmp_path / "s2")
    assert r.exit_code == 2 and "not a record path" in r.output


def test_by_an_unknown_column_names_it_and_lists_the_valid_ones(tmp_path):
    r = run("report", SAMPLE_TRACES / "requests.parquet", "--out", tmp_path / "o", "--by", "modle")
    assert r.exit_code == 2
    assert (
        "--by: unknown column 'modle'. Valid columns:" in r.output
        and "model" in r.output
        and "key '" not in r.output
    )
