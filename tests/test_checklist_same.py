"""Item 8 of issue 15: `check` and `report` show the same checklist fill rates (one function)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE_TRACES
from traceana.cli import main


@pytest.mark.parametrize(
    "inputs",
    [
        ["requests.parquet", "engine_samples.parquet"],
        ["arrivals_only_azure.csv"],
        ["vllm_otlp_spans.jsonl", "prometheus"],
    ],
)
def test_check_and_report_agree(tmp_path, inputs):
    paths = [str(SAMPLE_TRACES / p) for p in inputs]
    store = str(tmp_path / "s")
    assert CliRunner().invoke(main, ["ingest", *paths, "--store", store]).exit_code == 0
    checked = json.loads(CliRunner().invoke(main, ["check", "--store", store, "--json"]).stdout)["items"]
    r = CliRunner().invoke(main, ["report", "--store", store, "--out", str(tmp_path / "o"), "--no-fail"])
    assert r.exit_code == 0, r.output
    reported = json.loads((tmp_path / "o" / "report.json").read_text())["checklist"]
    assert [(i["item"], i["verdict"]) for i in checked] == [(i["item"], i["verdict"]) for i in reported]
    for a, b in zip(checked, reported, strict=True):
        assert a["fill_fraction"] == pytest.approx(b["fill_fraction"])
        assert {f["field"]: f["fill_fraction"] for f in a["fields"]} == pytest.approx(
            {f["field"]: f["fill_fraction"] for f in b["fields"]}
        )
