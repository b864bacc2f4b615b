"""Item 10 of issue 15: ingest --set key=value tags every row; report --by groups on a tag."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
from click.testing import CliRunner

import traceana
from tests.conftest import SAMPLE_TRACES
from traceana.cli import main

REQ = SAMPLE_TRACES / "requests.parquet"


def test_set_tags_every_row_and_by_groups_on_it(tmp_path):
    store = tmp_path / "s"
    day = pl.read_parquet(REQ)
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    day.filter(pl.col("instance").str.starts_with("vllm-8b")).write_parquet(a)
    day.filter(pl.col("instance").str.starts_with("vllm-70b")).write_parquet(b)
    r = CliRunner().invoke(
        main, ["ingest", str(a), "--store", str(store), "--set", "env=prod", "--set", "run=r1"]
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["ingest", str(b), "--store", str(store), "--set", "env=canary"])
    assert r.exit_code == 0, r.output
    tags = traceana.open_store(store).requests().select("tags").collect().to_series()
    assert tags.null_count() == 0
    assert sorted(set(tags.to_list())) == [
        json.dumps({"env": "canary"}),
        json.dumps({"env": "prod", "run": "r1"}),
    ]
    r = CliRunner().invoke(
        main, ["report", "--store", str(store), "--out", str(tmp_path / "o"), "--by", "env", "--no-fail"]
    )
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "o" / "report.json").read_text())
    p99 = {
        row["group"]["env"]: row["p99"]
        for row in rep["latency"]
        if row["metric"] == "ttft_s" and row["group"]
    }
    for env, part in (("prod", a), ("canary", b)):
        ok = pl.read_parquet(part).filter(pl.col("status") == "ok")["ttft_s"].drop_nulls().to_numpy()
        assert p99[env] == np.percentile(ok, 99) or abs(p99[env] - np.percentile(ok, 99)) < 1e-9


def test_bad_tag_is_a_usage_error(tmp_path):
    r = CliRunner().invoke(main, ["ingest", str(REQ), "--store", str(tmp_path / "s"), "--set", "no-equals"])
    assert r.exit_code == 2 and "--set 'no-equals'" in r.output
    assert not (tmp_path / "s").exists()


def test_set_tags_are_laid_over_a_sources_own_tags(tmp_path):
    """GuideLLM's sweep point is the row's own tag; --set adds its keys beside it."""
    fixture = Path(__file__).parent / "fixtures" / "guidellm" / "benchmarks_v0.3.json"
    store = tmp_path / "s"
    r = CliRunner().invoke(main, ["ingest", str(fixture), "--store", str(store), "--set", "env=prod"])
    assert r.exit_code == 0, r.output
    tags = traceana.open_store(store).requests().select("tags").collect().to_series().to_list()
    own = json.loads(pl.read_parquet(_read_alone(fixture, tmp_path))["tags"][0])
    assert own.get("strategy") == "synchronous"  # what the file says, before --set
    assert [json.loads(t) for t in tags] == [{"strategy": "synchronous", "env": "prod"}]


def _read_alone(fixture: Path, tmp_path: Path) -> Path:
    """The same file ingested without --set, exported: the source's own tags."""
    store, out = tmp_path / "plain", tmp_path / "plain.parquet"
    assert CliRunner().invoke(main, ["ingest", str(fixture), "--store", str(store)]).exit_code == 0
    assert CliRunner().invoke(main, ["export", "--store", str(store), "--out", str(out)]).exit_code == 0
    return out


def test_overlay_keeps_the_sources_keys_and_set_wins_on_a_shared_key():
    from traceana.tags import overlay

    df = pl.DataFrame({"tags": ['{"rate": "2", "strategy": "constant"}', None]})
    out = overlay(df, json.dumps({"env": "prod", "rate": "9"}))["tags"].to_list()
    assert [json.loads(t) for t in out] == [
        {"rate": "9", "strategy": "constant", "env": "prod"},
        {"env": "prod", "rate": "9"},
    ]
