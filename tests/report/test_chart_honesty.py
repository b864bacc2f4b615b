"""Issue 15 item 7: no empty chart (one sentence instead), readable legends, ticks that fit a 1-day
axis, numeric order of windows and percentiles, one "all" row. Checked on the chart specs and the
table rows of hand-built reports; the expected values are worked out by hand in each test."""

from __future__ import annotations

import copy

import pytest

from tests.report.report_fake import fake_report
from traceana.report.charts import MISSING, build_charts, missing_charts, time_axis
from traceana.report.html import render_html
from traceana.report.tables import (
    alerts_table,
    cost_table,
    latency_table,
    one_all,
    percentile_key,
    window_seconds,
)


def _spec(rep: dict, cid: str) -> dict:
    return {c: s for c, _, s in build_charts(rep)}[cid]


def test_every_chart_drawn_has_a_data_row():
    charts = build_charts(fake_report())
    assert len(charts) == 13  # the fake report carries every series, GPU utilization included
    for cid, _, spec in charts:
        assert spec["datasets"]["main"], cid


def test_queue_chart_without_measured_queue_time_is_a_sentence():
    rep = fake_report()
    for r in rep["series"]["queue_vs_utilization"]:
        r["observed_mean_queue_s"] = None  # e.g. AIPerf: utilization bins exist, queue time is not recorded
    ids = [c for c, _, _ in build_charts(rep)]
    assert "queue_vs_utilization" not in ids and len(ids) == 12
    assert [(c, why) for c, _, why in missing_charts(rep)] == [
        ("queue_vs_utilization", MISSING["queue_vs_utilization"])
    ]
    page = render_html(rep, build_charts(rep))
    assert 'id="chart-queue_vs_utilization"' not in page
    assert page.count("No queue-vs-utilization chart: no window has a measured queue time.") == 1
    assert 'data-charts-expected="12"' in page


def test_series_of_only_nulls_draws_no_chart():
    rep = fake_report()
    for r in rep["series"]["goodput"]:
        r["goodput_per_s"] = r["throughput_per_s"] = None
    assert "goodput" not in [c for c, _, _ in build_charts(rep)]
    assert "goodput" in [c for c, _, _ in missing_charts(rep)]


def test_legends_show_readable_labels_not_ids():
    rep = fake_report()
    ecdf = {r["metric"] for r in _spec(rep, "latency_ecdf")["datasets"]["main"]}
    assert ecdf <= {"TTFT", "TPOT", "inter-token latency", "end-to-end latency"} and ecdf
    pot = {r["metric"] for r in _spec(rep, "percentiles_over_time")["datasets"]["main"]}
    assert pot == {"TTFT", "end-to-end latency"}  # the fake's series: ttft_s and e2e_latency_s
    conc = {r["series"] for r in _spec(rep, "concurrency")["datasets"]["main"]}
    assert conc == {"in flight (measured)", "Little's L = lambda x W"}
    good = {r["series"] for r in _spec(rep, "goodput")["datasets"]["main"]}
    assert good == {"goodput", "all arrivals"}


def test_budget_chart_labels_a_missing_model():
    rep = fake_report()
    alls = [r for r in rep["latency_budget"] if not r.get("group")]
    rep["latency_budget"] = (
        alls
        + [{**r, "group": {"model": None}} for r in alls]
        + [{**r, "group": {"model": "m2"}} for r in alls]
    )
    rows = {r["row"] for r in _spec(rep, "latency_budget")["datasets"]["main"]}
    assert not any("None" in r for r in rows)
    assert any(r.startswith("(unknown model) @") for r in rows) and any(r.startswith("m2 @") for r in rows)


def test_time_ticks_fit_a_one_day_axis():
    fmt, ticks = time_axis(86_375.0)  # the sample trace: 00:00:05 -> 23:59:40
    assert fmt == "%H:%M"
    assert ticks == {"interval": "hour", "step": 2}  # 24 h / 2 h = 12 labels, not 24
    assert time_axis(9.3)[0] == "%H:%M:%S"  # a 9-second run: minutes alone would repeat one label
    assert time_axis(5 * 86400)[0] == "%b %d"
    x = _spec(fake_report(), "concurrency")["encoding"]["x"]["axis"]
    assert x["labelOverlap"] == "greedy" and x["formatType"] == "utc"


def test_a_single_window_draws_points_not_an_invisible_line():
    rep = fake_report()
    rep["series"]["concurrency"] = rep["series"]["concurrency"][:1]
    mark = _spec(rep, "concurrency")["mark"]
    assert mark["type"] == "line" and mark["point"] is True
    assert _spec(fake_report(), "concurrency")["mark"]["point"] is False  # 10 windows: a line


def test_windows_and_percentiles_sort_numerically():
    assert sorted(["1d", "5m", "1h", "1m", "6h", "30m"], key=window_seconds) == [
        "1m",
        "5m",
        "30m",
        "1h",
        "6h",
        "1d",
    ]
    assert window_seconds("3d") == 259_200
    assert sorted(["p99.9", "p50", "p99", "p90", "p99_9"], key=percentile_key)[:4] == [
        "p50",
        "p90",
        "p99",
        "p99.9",
    ]


def test_alerts_with_the_same_start_order_by_window_length():
    rep = fake_report()
    a = rep["slo"][0]["alerts"][0]
    rep["slo"][0]["alerts"] = [
        {**a, "long_window": "3d", "short_window": "6h", "severity": "ticket"},
        {**a, "long_window": "6h", "short_window": "30m"},
        {**a, "long_window": "1h", "short_window": "5m"},
    ]
    assert [r[2] for r in alerts_table(rep).rows] == ["1h & 5m", "6h & 30m", "3d & 6h"]


def test_one_all_row_when_the_only_group_is_everyone():
    rep = fake_report()
    for r in rep["latency"]:
        if r["group"]:
            r["group"] = {"model": None}
    rows = latency_table(rep).rows
    assert [r[0] for r in rows] == ["all (unknown model)"] * 3  # ttft, tpot, e2e: one row each
    assert [r[1] for r in rows] == ["ttft_s", "tpot_s", "e2e_latency_s"]


def test_two_groups_keep_all_and_both_groups():
    base = [{"group": {}, "metric": "ttft_s"}, {"group": {"model": "a"}, "metric": "ttft_s"}]
    two = base + [{"group": {"model": "b"}, "metric": "ttft_s"}]
    assert [r.get("label") for r in one_all(base)] == ["all (model=a)"]
    assert len(one_all(two)) == 3 and not any(r.get("label") for r in one_all(two))


def test_cost_has_no_total_row_repeating_its_only_instance():
    rep = fake_report()
    one = copy.deepcopy(rep)
    one["cost"]["rows"] = one["cost"]["rows"][:1]
    assert sum(r[0] == "all" for r in cost_table(one).rows) == 0
    two = copy.deepcopy(rep)
    two["cost"]["rows"] = [two["cost"]["rows"][0], {**two["cost"]["rows"][0], "instance": "i-2"}]
    assert sum(r[0] == "all" for r in cost_table(two).rows) == 1


def test_every_chart_can_say_why_it_is_missing():
    """A chart added to CHARTS without its sentence in MISSING broke every report that lacked it."""
    from traceana.report.charts import CHARTS, MISSING

    assert {cid for cid, _, _ in CHARTS} == set(MISSING)


def test_an_arrival_only_trace_has_no_goodput_and_every_empty_section_says_why(tmp_path):
    """Azure's trace records arrivals and tokens only: goodput with no SLO would count assumed statuses."""
    import json

    from click.testing import CliRunner

    from tests.conftest import SHARED
    from traceana.cli import main

    azure = SHARED / "formats" / "samples" / "azure" / "AzureLLMInferenceTrace_code.csv"
    if not azure.exists():
        pytest.skip("../shared/formats/samples missing")
    r = CliRunner().invoke(main, ["report", str(azure), "--out", str(tmp_path), "--no-fail"])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep.get("goodput") is None
    assert any(w.startswith("goodput: not measured") for w in rep["warnings"])
    html = (tmp_path / "report.html").read_text()
    # the latency section has no table and no chart: it is still on the page, with its reasons
    section = html.split('<section id="sec-latency">', 1)[1].split("</section>", 1)[0]
    assert "No latency distribution chart" in section and "<table" not in section
