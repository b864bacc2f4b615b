"""`traceana export --prometheus`: the series promtool backfills, and whose totals are the trace's."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner

from tests.rules.conftest import run_promtool
from tests.rules.test_parity import SLOS, T0, _trace
from traceana.cli import main
from traceana.rules.openmetrics import openmetrics_text, trace_series


def test_series_are_cumulative_counts_of_the_trace():
    df = _trace("fast_burn")
    times, series = trace_series(df, SLOS, start=T0, end=T0 + timedelta(hours=6))
    by = {s.selector(): s.values for s in series}
    ok = int((df["status"] == "ok").sum())
    assert by['vllm:request_success_total{finished_reason="stop"}'][-1] == ok
    assert by['vllm:request_success_total{finished_reason="abort"}'][-1] == df.height - ok
    fast = int(((df["status"] == "ok") & (df["ttft_s"] <= 2.0)).sum())
    assert by['vllm:time_to_first_token_seconds_bucket{le="2.0"}'][-1] == fast
    # sample k counts arrivals before T0 + k minutes
    k = 100
    assert by["vllm:time_to_first_token_seconds_count"][k] == int(
        ((df["arrival_time"] < T0 + timedelta(minutes=k)) & (df["status"] == "ok")).sum()
    )


def test_promtool_backfills_the_export(tmp_path, promtool):
    df = _trace("short_burst")
    times, series = trace_series(df, SLOS, start=T0, end=T0 + timedelta(hours=6))
    om = tmp_path / "trace.om"
    om.write_text(openmetrics_text(times, series))
    res = run_promtool(promtool, "tsdb", "create-blocks-from", "openmetrics", str(om), str(tmp_path / "data"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert any((tmp_path / "data").iterdir())


def test_export_command_writes_openmetrics(tmp_path):
    df = _trace("quiet")
    src = tmp_path / "trace.parquet"
    df.with_columns(request_id=df["arrival_time"].cast(str)).write_parquet(src)
    store = tmp_path / "store"
    r = CliRunner().invoke(main, ["ingest", str(src), "--store", str(store)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out.om"
    r = CliRunner().invoke(
        main,
        [
            "export",
            "--store",
            str(store),
            "--prometheus",
            "--slo",
            "sample_traces/traceana.toml",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert text.endswith("# EOF\n") and "# TYPE vllm:request_success counter" in text
