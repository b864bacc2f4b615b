"""The ClickHouse engine (through chDB) against the embedded one: every metric twin equal to its
polars definition, and the whole report.json equal number by number (floats to 1e-9 relative,
counts and everything else exact), on sample_traces/ and a 100k-request simulated day."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

pytest.importorskip("chdb")

from traceana.config import load_config  # noqa: E402
from traceana.engines.clickhouse import ClickHouse, parse_url  # noqa: E402
from traceana.engines.ddl import create_all, create_table  # noqa: E402
from traceana.errors import ConfigError, TraceanaError  # noqa: E402
from traceana.filters import parse_filter  # noqa: E402
from traceana.metrics import concurrency, cost, latency, slo  # noqa: E402
from traceana.schema import arrow_schema  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "sample_traces" / "traceana.toml")
REL = 1e-9


def mismatches(x, y, path: str = "") -> list[str]:
    """Differences between two report dicts: floats beyond 1e-9 relative, anything else not equal."""
    if isinstance(x, dict) and isinstance(y, dict):
        if set(x) != set(y):
            return [f"{path}: keys {sorted(set(x) ^ set(y))}"]
        return [m for k in x if k != "generated_at" for m in mismatches(x[k], y[k], f"{path}.{k}")]
    if isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            return [f"{path}: {len(x)} vs {len(y)} items"]
        return [
            m for i, (u, v) in enumerate(zip(x, y, strict=True)) for m in mismatches(u, v, f"{path}[{i}]")
        ]
    if isinstance(x, float) and isinstance(y, float):
        return [] if math.isclose(x, y, rel_tol=REL, abs_tol=1e-12) else [f"{path}: {x!r} vs {y!r}"]
    return [] if (x == y and type(x) is type(y)) else [f"{path}: {x!r} vs {y!r}"]


def test_mismatches_catches_differences():
    assert mismatches({"a": [1.0, 2]}, {"a": [1.0 + 1e-7, 2]}) and mismatches({"a": 1}, {"a": 1.0})
    assert not mismatches({"a": [1.0, 2]}, {"a": [1.0 + 1e-13, 2]})


# ----------------------------------------------------------------- DDL, URLs, parameters


def test_ddl_has_every_canonical_column_and_the_layout():
    for table in ("requests", "engine_samples", "engine_histograms"):
        ddl = create_table(table)
        for f in arrow_schema(table):
            assert f"`{f.name}` " in ddl
            assert (f"`{f.name}` Nullable(" in ddl) == (f.nullable and f.name != "itl_s")
    req = create_table("requests")
    assert (
        "ORDER BY (`model`, `instance`, `arrival_time`)" in req
        and "PARTITION BY toDate(`arrival_time`)" in req
    )
    assert "`arrival_time` DateTime64(6, 'UTC')" in req and "`itl_s` Array(Nullable(Float64))" in req
    assert len(create_all()) == 3


def test_schema_clickhouse_command_prints_the_ddl():
    from click.testing import CliRunner

    from traceana.cli import main

    res = CliRunner().invoke(main, ["schema", "--clickhouse"])
    assert res.exit_code == 0 and res.output.count("CREATE TABLE IF NOT EXISTS") == 3


def test_url_parsing_and_identifier_checks():
    t = parse_url("clickhouse://alice@ch.example:9000/traces?table=reqs&engine_table=eng")
    assert (t.host, t.port, t.user, t.database, t.tables["requests"], t.tables["engine_samples"]) == (
        "ch.example",
        9000,
        "alice",
        "traces",
        "reqs",
        "eng",
    )
    assert parse_url("chdb:///var/lib/x").path == "/var/lib/x"
    for bad in (
        "chdb://?table=requests;DROP",
        "chdb://?table=a%60b",
        "clickhouse://h/db-x",
        "chdb://?tabel=x",
        "postgres://h/db",
    ):
        with pytest.raises(ConfigError):
            parse_url(bad)


@pytest.mark.parametrize(
    "value", ["plain", "it's", "a\\b", "tab\there", "new\nline", "'; DROP TABLE requests; --", "ü{x:String}"]
)
def test_parameters_carry_hostile_text_unchanged(sample_data, value):
    ch = sample_data[2]
    got = ch.query("SELECT {v:String} AS s, {a:Array(String)} AS a", {"v": value, "a": [value, "x"]}).row(0)
    assert got == (value, [value, "x"])


def test_a_filter_value_is_a_parameter_not_sql(sample_data):
    lf, _, ch = sample_data
    s = dataclasses.replace(CONFIG.slos[2], name="inj", total_filter=parse_filter("model = 'x OR 1=1'"))
    assert slo.evaluate_ch(ch, [s])["total"][0] == 0 == slo.evaluate(lf, [s])["total"][0]


def test_query_errors_are_one_line_traceana_errors(sample_data):
    with pytest.raises(TraceanaError, match="ClickHouse query failed"):
        sample_data[2].query("SELECT no_such_column FROM system.one")


# ----------------------------------------------------------------- metric twins


def test_quantile_exact_inclusive_is_numpy_linear(sample_data):
    """quantileExactInclusive against numpy's linear method, on values with many ties."""
    ch = sample_data[2]
    rng = np.random.default_rng(3)
    x = np.round(rng.lognormal(0, 1, 997), 2)
    got = ch.query(
        "SELECT quantilesExactInclusive(0.5, 0.9, 0.99, 0.999)(arrayJoin({x:Array(Float64)})) AS q",
        {"x": x.tolist()},
    )["q"][0].to_list()
    np.testing.assert_allclose(got, np.quantile(x, [0.5, 0.9, 0.99, 0.999], method="linear"), rtol=1e-12)


@pytest.mark.parametrize(
    "by, every",
    [((), None), (("model",), None), (("model", "route"), None), ((), "5m"), (("instance",), "1h")],
)
def test_percentiles_twin(data, by, every):
    lf, _, ch = data
    a = latency.percentiles(lf, by=by, every=every)
    b = latency.percentiles_ch(ch, by=by, every=every)
    assert a.height > 0
    assert_frame_equal(a, b, check_exact=False, rel_tol=REL, abs_tol=0)


def test_percentiles_twin_in_a_window(data):
    lf, _, ch = data
    t0 = lf.select(pl.col("arrival_time").min()).collect().item()
    since, until = t0.replace(minute=0, second=0, microsecond=0), t0.replace(hour=t0.hour + 6)
    a = latency.percentiles(
        lf.filter(pl.col("arrival_time").is_between(since, until, closed="left")), by=("model",)
    )
    b = latency.percentiles_ch(ch, by=("model",), since=since, until=until)
    assert_frame_equal(a, b, check_exact=False, rel_tol=REL, abs_tol=0)


def test_itl_twin_with_nulls_nan_and_empty_lists():
    frame = pl.DataFrame(
        {
            "request_id": [str(i) for i in range(6)],
            "arrival_time": pl.datetime_range(
                datetime(2025, 1, 1, tzinfo=UTC),
                datetime(2025, 1, 1, 0, 0, 5, tzinfo=UTC),
                "1s",
                eager=True,
                time_unit="us",
            ),
            "status": ["ok", "ok", "ok", "error", "ok", "ok"],
            "model": ["a", "a", "b", "a", None, "b"],
            "itl_s": [[0.01, 0.02, None], [0.03, float("nan")], [], [0.5], None, [0.04, 0.04, 0.05]],
        }
    )
    ch = ClickHouse("chdb://?table=itl_requests&engine_table=itl_engine&histogram_table=itl_hist")
    ch.command(f"DROP TABLE IF EXISTS {ch.table()}")
    ch.create_tables()
    ch.insert("requests", frame)
    for by in ((), ("model",)):
        assert_frame_equal(
            latency.itl_percentiles(frame, by=by),
            latency.itl_percentiles_ch(ch, by=by),
            check_exact=False,
            rel_tol=REL,
            abs_tol=0,
        )
    assert latency.itl_percentiles_ch(ch)["count"].to_list() == [6]


def _slos():
    extra = dataclasses.replace(
        CONFIG.slos[0],
        name="filtered",
        total_filter=parse_filter("model in (llama-3.1-8b, x) and route != batch"),
        good_filter=parse_filter("finish_reason != length"),
    )
    return [*CONFIG.slos, extra]


def test_slo_evaluate_twin(data):
    lf, _, ch = data
    a, b = slo.evaluate(lf, _slos()), slo.evaluate_ch(ch, _slos())
    assert a["total"].sum() > 0 and a["bad"].sum() > 0
    assert_frame_equal(a, b)
    t0 = lf.select(pl.col("arrival_time").min()).collect().item()
    start = t0.replace(hour=t0.hour + 3)
    assert_frame_equal(slo.evaluate(lf, _slos(), start=start), slo.evaluate_ch(ch, _slos(), start=start))


@pytest.mark.parametrize("every", ["1m", "15m", "1h"])
def test_burn_series_twin(data, every):
    lf, _, ch = data
    for s in _slos():
        assert_frame_equal(slo.burn_series(lf, s, every=every), slo.burn_series_ch(ch, s, every=every))


@pytest.mark.parametrize("every", ["1m", "10m", "1h"])
def test_concurrency_twin(data, every):
    lf, _, ch = data
    (a, sa), (b, sb) = (
        concurrency.summary_and_series(lf, every=every),
        concurrency.summary_and_series_ch(ch, every=every),
    )
    assert a["arrivals"] > 0 and a["empirical_max"] > 1
    assert not mismatches(a, b)
    assert_frame_equal(sa, sb, check_exact=False, rel_tol=REL, abs_tol=1e-12)


def test_cost_twin(data):
    lf, eng, ch = data
    prov = cost.provisioned_hours(eng, [])
    for kw in ({}, {"tokens": "all"}, {"tokens": "weighted", "prompt_weight": 0.25}):
        a = cost.effective_cost(lf, prov, dict(CONFIG.gpu_prices), **kw)
        b = cost.effective_cost_ch(ch, prov, dict(CONFIG.gpu_prices), **kw)
        assert a["busy_hours"].sum() > 0
        assert_frame_equal(a, b, check_exact=False, rel_tol=REL, abs_tol=0)
    t0 = lf.select(pl.col("arrival_time").min()).collect().item()
    start, end = t0.replace(hour=t0.hour + 2), t0.replace(hour=t0.hour + 9)
    assert_frame_equal(cost.busy_hours(lf, start, end), cost.busy_hours_ch(ch, start, end))


# ----------------------------------------------------------------- the whole report


def _report(lf, eng, ch=None, **kw):
    from traceana.report import build_report

    if ch is not None:
        return build_report(
            ch.frame("requests", kw.get("since"), kw.get("until")),
            ch.frame("engine_samples", kw.get("since"), kw.get("until")),
            config=CONFIG,
            engine=ch,
            **kw,
        )
    return build_report(lf, eng, config=CONFIG, **kw)


@pytest.mark.parametrize("by", [["model"], ["model", "route"]])
def test_report_equal_through_both_engines(data, by):
    lf, eng, ch = data
    a, b = _report(lf, eng, by=by), _report(lf, eng, ch, by=by)
    assert b["warnings"] == a["warnings"]
    assert a["requests"]["total"] > 0 and a["slo"] and a["cost"] and a["concurrency"]
    assert mismatches(json.loads(json.dumps(a, default=str)), json.loads(json.dumps(b, default=str))) == []


def test_report_equal_in_a_window(sample_data):
    lf, eng, ch = sample_data
    kw = {
        "since": datetime(2025, 11, 17, 6, tzinfo=UTC),
        "until": datetime(2025, 11, 17, 18, tzinfo=UTC),
        "by": ["model"],
    }
    a, b = _report(lf, eng, **kw), _report(lf, eng, ch, **kw)
    assert 0 < a["requests"]["total"] < lf.select(pl.len()).collect().item()
    assert mismatches(json.loads(json.dumps(a, default=str)), json.loads(json.dumps(b, default=str))) == []


def test_cli_ingest_engine_then_report_matches_the_store(tmp_path):
    """The two README commands (load, report) through the real entry point, in a fresh process
    (a chDB directory session cannot share a process with the in-memory ones above)."""
    exe = [sys.executable, "-m", "traceana.cli"]
    files = [str(ROOT / "sample_traces" / f) for f in ("requests.parquet", "engine_samples.parquet")]
    cfg = str(ROOT / "sample_traces" / "traceana.toml")
    url = f"chdb://{tmp_path / 'ch'}?table=requests"
    run = lambda *a: subprocess.run([*exe, *a], capture_output=True, text=True, cwd=tmp_path, timeout=300)  # noqa: E731
    r = run("ingest", *files, "--engine", url)
    assert r.returncode == 0, r.stderr
    assert "loaded into ClickHouse: requests 30,021" in r.stdout
    r = run("report", "--engine", url, "--out", str(tmp_path / "ch_out"), "--config", cfg, "--no-fail")
    assert r.returncode == 0, r.stderr
    r = run("report", *files, "--out", str(tmp_path / "local_out"), "--config", cfg, "--no-fail")
    assert r.returncode == 0, r.stderr
    a = json.loads((tmp_path / "local_out" / "report.json").read_text())
    b = json.loads((tmp_path / "ch_out" / "report.json").read_text())
    assert mismatches(a, b) == []
    r = run("report", "--engine", url, "--store", str(tmp_path), "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "not both" in r.stderr


def test_tdigest_error_is_within_the_documented_bound(sim100k):
    """--approx: quantilesTDigest against the exact percentile, per model, within TDIGEST_MAX_REL_ERROR
    (the bound docs/scale-out.md states); no CI bounds from a digest."""
    lf, _, ch = sim100k
    exact = latency.percentiles(lf, by=("model",), metrics=("ttft_s", "e2e_latency_s", "tpot_s"))
    approx = latency.percentiles_ch(
        ch, by=("model",), metrics=("ttft_s", "e2e_latency_s", "tpot_s"), approximate=True
    )
    assert approx.select(pl.col("model", "metric", "count")).equals(
        exact.select(pl.col("model", "metric", "count"))
    )
    worst = {}
    for q, bound in latency.TDIGEST_MAX_REL_ERROR.items():
        name = latency.pct_name(q)
        rel = ((approx[name] - exact[name]).abs() / exact[name].abs()).max()
        worst[name] = rel
        assert rel <= bound, (name, rel)
    assert any(v > 0 for v in worst.values())  # really an approximation, not the exact state
    assert approx["p99_ci_low"].is_null().all()


def test_report_approx_says_so(sim100k):
    from traceana.report import build_report

    lf, eng, ch = sim100k
    approx_ch = ClickHouse(ch.url, approximate=True)
    rep = build_report(lf, eng, config=CONFIG, engine=approx_ch, by=["model"])
    assert any("t-digest" in w for w in rep["warnings"])


def test_no_value_reaches_clickhouse_as_sql_text(monkeypatch):
    """The whole report through the engine with hostile text in the data, the SLO filters, the
    window and the group values: no value appears in any SQL text sent, each travels as a
    parameter, and the report still equals the embedded one."""
    from traceana.report import build_report

    evil_model = "m'); DROP TABLE requests; --"
    evil_filter = "x OR 1=1; DROP TABLE requests --"
    req = pl.read_parquet(ROOT / "sample_traces" / "requests.parquet").head(3000)
    req = req.with_columns(
        model=pl.when(pl.col("model").str.contains("70b")).then(pl.lit(evil_model)).otherwise("model"),
        route=pl.when(pl.int_range(pl.len()) % 7 == 0).then(pl.lit(evil_filter)).otherwise("route"),
    )
    eng = pl.read_parquet(ROOT / "sample_traces" / "engine_samples.parquet")
    ch = ClickHouse("chdb://?table=evil_requests&engine_table=evil_engine&histogram_table=evil_hist")
    for t in ("requests", "engine_samples"):
        ch.command(f"DROP TABLE IF EXISTS {ch.table(t)}")
    ch.create_tables()
    ch.insert("requests", req)
    ch.insert("engine_samples", eng)
    slos = [
        dataclasses.replace(
            CONFIG.slos[0],
            name="evil",
            total_filter=parse_filter(f"route != '{evil_filter}'"),
            good_filter=parse_filter("model not in ('m); DROP TABLE x; --', x)"),
        )
    ]
    sent: list[tuple[str, dict]] = []
    real = type(ch._client).query_arrow

    def spy(self, sql, params=None):
        sent.append((sql, dict(params or {})))
        return real(self, sql, params)

    monkeypatch.setattr(type(ch._client), "query_arrow", spy)
    since = req["arrival_time"].min()
    a = build_report(req.lazy(), eng.lazy(), config=CONFIG, slos=slos, by=["model", "route"], since=since)
    b = build_report(
        ch.frame("requests", since),
        ch.frame("engine_samples", since),
        config=CONFIG,
        slos=slos,
        by=["model", "route"],
        since=since,
        engine=ch,
    )
    assert mismatches(json.loads(json.dumps(a, default=str)), json.loads(json.dumps(b, default=str))) == []
    assert any(r["group"].get("model") == evil_model for r in b["latency"])
    assert len(sent) > 20
    values = [str(v) for _, params in sent for v in params.values()]
    assert evil_filter in values and any("m); DROP TABLE x; --" in v for v in values)
    for sql, _ in sent:
        assert evil_filter not in sql and "DROP" not in sql and "m')" not in sql


def test_cost_audit_equal_through_both_engines(data):
    from traceana.report.build import build_cost

    lf, eng, ch = data
    a = build_cost(lf, eng, config=CONFIG)
    b = build_cost(ch.frame("requests"), ch.frame("engine_samples"), config=CONFIG, engine=ch)
    assert a["cost"]["rows"] and a["slo"]
    assert mismatches(json.loads(json.dumps(a, default=str)), json.loads(json.dumps(b, default=str))) == []
