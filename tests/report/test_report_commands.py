"""`traceana report` and `traceana cost` through click: exit codes 0 / 1 / 2, --no-fail, --images, --json."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from tests.report.report_frames import small_requests, synthetic_engine, synthetic_requests, write_parquet

CONFIG_BREACH = """
[[slo]]
name = "ttft-450ms"
metric = "ttft_s"
threshold = 0.45
objective = 0.8
"""
CONFIG_OK = """
[[slo]]
name = "availability"
objective = 0.75

[gpu_prices]
H100 = 4.0
"""


def _cli() -> click.Group:
    """The real main group when it registers report/cost, else the same error-converting group with just them."""
    from traceana.cli import _Group, main
    from traceana.cli.cost import cost
    from traceana.cli.report import report

    if "report" in main.commands and "cost" in main.commands:
        return main
    group = _Group()
    group.add_command(report)
    group.add_command(cost)
    return group


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    write_parquet(small_requests(), d / "small.parquet")
    write_parquet(synthetic_requests(n=300), d / "synthetic.parquet")
    write_parquet(synthetic_engine(), d / "engine.parquet")
    (d / "breach.toml").write_text(CONFIG_BREACH)
    (d / "ok.toml").write_text(CONFIG_OK)
    (d / "bad.toml").write_text("[[slo]]\nname = 'x'\nobjective = 1.5\n")
    return d


def run(*args):
    return CliRunner().invoke(_cli(), [str(a) for a in args], catch_exceptions=False)


def test_help():
    for cmd in ("report", "cost"):
        r = run(cmd, "--help")
        assert r.exit_code == 0 and "--no-fail" in r.output


def test_breached_slo_exits_1_and_writes_three_files(files, tmp_path):
    r = run("report", files / "small.parquet", "--out", tmp_path, "--config", files / "breach.toml")
    assert r.exit_code == 1, r.output
    assert "BREACHED ttft-450ms" in r.output
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["verdict"] == {"breached": ["ttft-450ms"], "exit_code": 1}
    assert (tmp_path / "report.html").exists() and (tmp_path / "report.md").exists()


def test_no_fail_exits_0(files, tmp_path):
    r = run(
        "report", files / "small.parquet", "--out", tmp_path, "--config", files / "breach.toml", "--no-fail"
    )
    assert r.exit_code == 0, r.output


def test_met_slo_exits_0(files, tmp_path):
    r = run(
        "report", files / "small.parquet", "--out", tmp_path, "--config", files / "ok.toml", "--by", "model"
    )
    assert r.exit_code == 0, r.output


def test_bad_input_exits_2(files, tmp_path):
    assert (
        run("report", files / "small.parquet", "--out", tmp_path, "--config", files / "bad.toml").exit_code
        == 2
    )
    assert run("report", files / "small.parquet", "--out", tmp_path, "--by", "nosuchcolumn").exit_code == 2
    assert (
        run("report", files / "small.parquet", "--out", tmp_path, "--since", "yesterday-ish").exit_code == 2
    )
    assert run("report", "--out", tmp_path).exit_code == 2  # no input at all
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a trace")
    r = run("report", junk, "--out", tmp_path / "o")
    assert r.exit_code == 2 and "refused" in r.output


def test_since_until(files, tmp_path):
    r = run(
        "report",
        files / "small.parquet",
        "--out",
        tmp_path,
        "--since",
        "2025-01-01T00:00:20Z",
        "--until",
        "2025-01-01T00:01:00Z",
        "--no-fail",
    )
    assert r.exit_code == 0
    assert json.loads((tmp_path / "report.json").read_text())["requests"]["total"] == 4


def test_images_svg(files, tmp_path):
    r = run("report", files / "small.parquet", "--out", tmp_path, "--images", "svg", "--no-fail")
    assert r.exit_code == 0, r.output
    svgs = sorted((tmp_path / "charts").glob("*.svg"))
    assert svgs and all(p.read_text().lstrip().startswith("<svg") for p in svgs)


def test_cost_json_and_exit_codes(files):
    r = run(
        "cost", files / "synthetic.parquet", files / "engine.parquet", "--config", files / "ok.toml", "--json"
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    rows = out["cost"]["rows"]
    assert {row["instance"] for row in rows} == {"gpu-0", "gpu-1"}
    # scrapes every 15 s over [0, 1800] s live until 1815 s; provisioned time is clipped to the
    # report window [first arrival, last completion], which lies inside: 1 GPU x window hours x $4
    w = out["window"]
    hours = w["seconds"] / 3600
    assert 0.45 < hours < 0.51
    for row in rows:
        assert row["gpu_hours"] == pytest.approx(hours)
        assert row["cost_usd"] == pytest.approx(4.0 * hours)
        assert row["effective_per_million_output"] == pytest.approx(
            row["cost_usd"] / (row["output_tokens"] / 1e6)
        )
    r = run("cost", files / "small.parquet", "--config", files / "breach.toml")
    assert r.exit_code == 1  # the config's SLO is breached
    assert run("cost", files / "small.parquet", "--config", files / "breach.toml", "--no-fail").exit_code == 0
    assert run("cost", files / "small.parquet", "--config", files / "bad.toml").exit_code == 2


def test_cost_table(files):
    r = run("cost", files / "synthetic.parquet", files / "engine.parquet", "--config", files / "ok.toml")
    assert r.exit_code == 0, r.output
    assert "gpu-0" in r.output and "eff $/1M out" in r.output


def test_openslo_files_are_evaluated(files, tmp_path):
    data = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "openslo"
    r = run(
        "report",
        files / "small.parquet",
        "--out",
        tmp_path,
        "--slo",
        data / "availability_ratio.yaml",
        "--slo",
        data / "ttft_design.yaml",
    )
    assert r.exit_code == 1, r.output
    slos = {s["name"]: s for s in json.loads((tmp_path / "report.json").read_text())["slo"]}
    assert len(slos) == 2
    avail = slos["availability"]
    # ratioMetric: total = status != cancelled (all 10), bad = the 2 failed; 99.5% allows 0.05
    assert (avail["total"], avail["bad"], avail["met"]) == (10, 2, False)
