"""The CLI through its real entry point: help of every command, exit codes, README in sync."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from traceana.cli import main

runner = CliRunner()


def run(*args):
    return runner.invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.mark.parametrize("command", sorted(main.commands))
def test_help_of_every_command(command):
    res = run(command, "--help")
    assert res.exit_code == 0
    assert f"Usage: main {command}" in res.output or "Usage:" in res.output


def test_readme_cli_and_schema_sections_are_current():
    res = subprocess.run(
        [sys.executable, "scripts/readme.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr


def test_schema_check_command_passes_on_repo():
    res = run("schema", "--check", "--root", ROOT)
    assert res.exit_code == 0, res.output


def _rows(path, bad=0):
    lines = [
        json.dumps(
            {
                "request_id": f"r{i}",
                "arrival_time": 1740830400 + i,
                "ttft_s": 0.1,
                "e2e_latency_s": 0.5,
                "status": "ok",
            }
        )
        for i in range(10)
    ]
    lines += [
        json.dumps({"request_id": f"b{i}", "arrival_time": 1740830400, "ttft_s": -1}) for i in range(bad)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_ingest_summary_counts_add_up(tmp_path):
    src = _rows(tmp_path / "a.jsonl", bad=3)
    res = run("ingest", src, "--store", tmp_path / "s", "--json")
    assert res.exit_code == 0
    out = json.loads(res.output)
    assert (out["records_read"], out["stored"], out["quarantined"]) == (13, 10, 3)
    assert out["reasons"] == {"negative": 3}


def test_strict_turns_quarantine_into_exit_2(tmp_path):
    src = _rows(tmp_path / "a.jsonl", bad=1)
    assert run("ingest", src, "--store", tmp_path / "s", "--strict").exit_code == 2


def test_refused_file_exit_2_one_line_no_traceback(tmp_path):
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"\x00\x01 not a trace")
    proc = subprocess.run(
        [sys.executable, "-m", "traceana.cli", "ingest", str(bad), "--store", str(tmp_path / "s")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "format not recognized" in proc.stderr and str(bad) in proc.stderr


def test_missing_store_is_a_clear_error(tmp_path):
    res = runner.invoke(main, ["check", "--store", str(tmp_path / "nope")])
    assert res.exit_code == 2
    assert "no traceana store here" in res.output


def test_check_json_reports_six_items(tmp_path):
    src = _rows(tmp_path / "a.jsonl")
    res = run("check", src, "--json")
    assert res.exit_code == 0
    out = json.loads(res.output)
    assert [i["item"] for i in out["items"]] == [1, 2, 3, 4, 5, 6]
    verdicts = {i["item"]: i["verdict"] for i in out["items"]}
    assert verdicts[3] == "missing" and verdicts[6] == "complete"
    item2 = {f["field"]: f["fill_fraction"] for f in out["items"][1]["fields"]}
    assert item2["ttft_s"] == 1.0 and item2["tpot_s"] == 0.0


def test_export_round_trip(tmp_path):
    src = _rows(tmp_path / "a.jsonl")
    run("ingest", src, "--store", tmp_path / "s")
    out = tmp_path / "out.jsonl"
    assert run("export", "--store", tmp_path / "s", "--out", out).exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["request_id"] for r in rows] == [f"r{i}" for i in range(10)]


def test_export_to_missing_directory_is_one_line(tmp_path):
    src = _rows(tmp_path / "a.jsonl")
    run("ingest", src, "--store", tmp_path / "s")
    res = runner.invoke(
        main, ["export", "--store", str(tmp_path / "s"), "--out", str(tmp_path / "nope" / "x.parquet")]
    )
    assert res.exit_code == 4  # the I/O error code
    assert "cannot write" in res.output and "Traceback" not in res.output


def test_readme_column_map_example_is_valid(tmp_path):
    from traceana.ingest.adapters.mapped import load_column_map

    text = (ROOT / "README.md").read_text()
    block = text.split("In-house logs", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    path = tmp_path / "map.toml"
    path.write_text(block)
    cmap = load_column_map(path)
    csv = tmp_path / "logs.csv"
    csv.write_text("req,ts,first_token_ms,total_ms,model_name\nq1,2025-03-01T12:00:00Z,250,1500,m\n")
    res = run("ingest", csv, "--map", path, "--store", tmp_path / "s", "--json")
    out = json.loads(res.output)
    assert res.exit_code == 0 and out["stored"] == 1, out
    assert cmap is not None


def test_docs_metrics_md_is_generated_from_the_docstrings():
    r = subprocess.run(
        [sys.executable, "scripts/metrics_doc.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr


def test_every_public_metric_function_documents_itself():
    import importlib

    import traceana.metrics as metrics

    bare = [
        name
        for name, fam in metrics.FUNCTIONS.items()
        if len((getattr(importlib.import_module(f"traceana.metrics.{fam}"), name).__doc__ or "").strip()) < 40
    ]
    assert not bare, f"metric functions without a definition in their docstring: {bare}"
