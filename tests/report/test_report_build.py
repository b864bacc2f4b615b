"""build_report on a ten-request canonical frame whose numbers are worked out by hand (see frames.SMALL)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from tests.report.report_frames import SMALL, T0, small_requests, synthetic_engine, synthetic_requests
from traceana.config import SLO, Config, CostSettings
from traceana.errors import TraceanaError
from traceana.report import build_report
from traceana.report.series import MAX_WINDOWS, choose_every

TTFT_SLO = SLO(name="ttft-450ms", objective=0.8, metric="ttft_s", op="lte", threshold=0.45)
AVAIL_SLO = SLO(name="availability", objective=0.75)


def _row(rep, metric, group=None):
    rows = [r for r in rep["latency"] if r["metric"] == metric and r["group"] == (group or {})]
    assert len(rows) == 1, rows
    return rows[0]


@pytest.fixture(scope="module")
def rep():
    return build_report(small_requests(), slos=[TTFT_SLO, AVAIL_SLO], by=("model",))


def test_request_counts_and_window(rep):
    assert rep["schema_version"] == "1"
    assert rep["requests"] == {
        "total": 10,
        "ok": 8,
        "failed": 2,
        "by_status": {"error": 1, "ok": 8, "timeout": 1},
    }
    # first arrival T0; last completion: r9 arrives at 90 s and times out after 30 s
    assert rep["window"] == {"start": "2025-01-01T00:00:00Z", "end": "2025-01-01T00:02:00Z", "seconds": 120.0}


def test_latency_uses_ok_requests_only(rep):
    ttft_ok = sorted(r[3] for r in SMALL if r[2] == "ok")  # 0.1 .15 .2 .25 .3 .4 .5 2.5
    row = _row(rep, "ttft_s")
    assert row["count"] == 8
    assert row["p50"] == pytest.approx(0.275)  # h = 3.5: halfway between 0.25 and 0.3
    assert row["p90"] == pytest.approx(1.1)  # h = 6.3: 0.5 + 0.3 * (2.5 - 0.5)
    assert row["mean"] == pytest.approx(0.55)
    for p, q in (("p95", 95), ("p99", 99), ("p99_9", 99.9)):
        assert row[p] == pytest.approx(np.percentile(ttft_ok, q))
    # 8 values are too few for a reliable p99 (needs n >= 1000)
    assert row["reliable"]["p99"] is False and row["reliable"]["p50"] is False


def test_latency_per_group(rep):
    a = _row(rep, "ttft_s", {"model": "a"})
    b = _row(rep, "ttft_s", {"model": "b"})
    assert (a["count"], b["count"]) == (6, 2)
    assert a["p50"] == pytest.approx(0.35)  # .1 .2 .3 .4 .5 2.5 -> h = 2.5
    assert b["p50"] == pytest.approx(0.2)
    metrics = [r["metric"] for r in rep["latency"]]
    assert metrics.index("ttft_s") < metrics.index("tpot_s") < metrics.index("e2e_latency_s")


def test_latency_budget_p50(rep):
    # ok requests by e2e: .5 .9 1.0 1.5 2.0 2.5 3.0 5.0; the p50 band is ranks 3..4 (r1, r2)
    p50 = next(r for r in rep["latency_budget"] if r["group"] == {} and r["at"] == "p50")
    assert p50["e2e_s"] == pytest.approx(1.75)
    assert p50["queue_s"] == pytest.approx(0.035)
    assert p50["prefill_s"] == pytest.approx(0.215)
    assert p50["decode_s"] == pytest.approx(1.4)
    assert p50["post_s"] == pytest.approx(0.1)


def test_slo_rows_and_verdict(rep):
    by = {s["name"]: s for s in rep["slo"]}
    t = by["ttft-450ms"]
    # bad = 2 failed + 2 ok over 0.45 s (0.5, 2.5); allowed = 0.2 * 10 = 2
    assert (t["total"], t["bad"]) == (10, 4)
    assert t["attainment"] == pytest.approx(0.6)
    assert t["allowed_bad"] == pytest.approx(2.0)
    assert t["budget_remaining"] == pytest.approx(-1.0)
    assert t["met"] is False and t["budget_exhausted"] is True
    a = by["availability"]
    assert (a["bad"], a["met"], a["budget_exhausted"]) == (2, True, False)
    assert a["budget_remaining"] == pytest.approx(1 - 2 / 2.5)
    assert rep["verdict"] == {"breached": ["ttft-450ms"], "exit_code": 1}


def test_availability_alone_passes():
    rep = build_report(small_requests(), slos=[AVAIL_SLO])
    assert rep["verdict"] == {"breached": [], "exit_code": 0}


def test_goodput_and_concurrency(rep):
    g = rep["goodput"]
    assert g["thresholds"] == {"ttft_s": 0.45}
    assert g["good"] == 6  # ok and TTFT <= 0.45: .1 .2 .3 .4 .15 .25
    assert g["goodput_per_s"] == pytest.approx(6 / 120)
    c = rep["concurrency"]
    e2e_sum = sum(r[4] for r in SMALL)  # 46.6 s, every request has an e2e
    assert c["littles_law_L"] == pytest.approx(e2e_sum / 120)
    assert c["arrival_rate_per_s"] == pytest.approx(10 / 120)
    assert c["empirical_mean"] == pytest.approx(e2e_sum / 120)


def test_since_until_filters_arrivals():
    rep = build_report(small_requests(), since=T0 + timedelta(seconds=20), until=T0 + timedelta(seconds=60))
    assert rep["requests"]["total"] == 4  # r2..r5
    assert rep["filters"]["since"] == "2025-01-01T00:00:20Z"


def test_empty_window_is_a_report_not_a_crash():
    rep = build_report(small_requests(), since=T0 + timedelta(days=1), slos=[AVAIL_SLO])
    assert rep["requests"]["total"] == 0
    assert rep["verdict"]["exit_code"] == 0
    assert "no requests in the window" in rep["warnings"]


def test_unknown_group_column_names_it():
    # names the column and lists the valid ones (not a config key: --by is a command-line option)
    with pytest.raises(
        TraceanaError, match=r"--by: unknown column 'modle'\. Valid columns: .*model.*did you mean 'model'"
    ) as exc:
        build_report(small_requests(), by=("modle",))
    assert "key '" not in str(exc.value) and "request_id" in str(exc.value)


def test_checklist_and_series_are_bounded():
    reqs = synthetic_requests(n=600)
    rep = build_report(
        reqs,
        synthetic_engine(),
        config=Config(gpu_prices={"H100": 4.0}, cost=CostSettings()),
        slos=[TTFT_SLO],
    )
    assert [r["item"] for r in rep["checklist"]] == [1, 2, 3, 4, 5, 6]
    s = rep["series"]
    for name in ("percentiles_over_time", "concurrency", "burn", "goodput", "engine", "latency_ecdf"):
        assert s[name], name
    # 30 minutes at 1m: at most 31 windows per metric / instance, never one row per request
    assert len(s["concurrency"]) <= 31
    assert {r["instance"] for r in s["engine"]} == {"gpu-0", "gpu-1"}
    assert len(s["latency_ecdf"]) < 3 * 120
    last = [r["cum_fraction"] for r in s["latency_ecdf"] if r["metric"] == "ttft_s"][-1]
    assert last == pytest.approx(1.0)
    assert rep["cost"]["rows"] and rep["cost"]["totals"]["gpu_hours"] > 0


def test_ecdf_matches_numpy():
    reqs = synthetic_requests(n=500)
    rep = build_report(reqs)
    ttft = reqs.filter(status="ok").select("ttft_s").collect().to_series().to_numpy()
    for r in (x for x in rep["series"]["latency_ecdf"] if x["metric"] == "ttft_s"):
        assert r["cum_fraction"] == pytest.approx(np.mean(ttft <= r["le"] * (1 + 1e-12)))


@pytest.mark.parametrize(
    ("seconds", "every"),
    [(0, "1m"), (1800, "1m"), (86400, "2m"), (30 * 86400, "1h"), (10 * 365 * 86400, "7d")],
)
def test_choose_every_keeps_series_small(seconds, every):
    assert choose_every(seconds) == every
    assert choose_every(seconds, preferred="1m") == ("1m" if seconds / 60 <= MAX_WINDOWS else every)


def test_budget_exactly_spent_is_exhausted_and_fails():
    # 2 failed of 10 at objective 0.8: allowed bad = 2 exactly, so the SLO is met but its budget is gone
    rep = build_report(small_requests(), slos=[SLO(name="avail-80", objective=0.8)])
    s = rep["slo"][0]
    assert (s["bad"], s["met"], s["budget_exhausted"]) == (2, True, True)
    assert rep["verdict"] == {"breached": ["avail-80"], "exit_code": 1}


def test_engine_series_coarsen_for_many_instances():
    from tests.report.report_frames import engine_frame
    from traceana.report.series import MAX_ENGINE_ROWS, engine_windows

    rows = [
        {
            "time": T0 + timedelta(minutes=10 * k),
            "instance": f"i{j}",
            "num_running": 1.0,
            "kv_cache_usage": 0.5,
        }
        for j in range(20)
        for k in range(288)
    ]  # 20 instances, two days of 10-minute samples
    out = engine_windows(engine_frame(rows), choose_every(2 * 86400), seconds=2 * 86400)
    assert choose_every(2 * 86400) == "5m"  # 576 windows x 20 instances would pass the cap
    assert 0 < len(out) <= MAX_ENGINE_ROWS
    assert {r["instance"] for r in out} == {f"i{j}" for j in range(20)}


def test_one_or_two_workers_give_the_same_report():
    from traceana.report.build import report_workers

    req, eng = synthetic_requests(), synthetic_engine()
    kw = dict(config=Config(gpu_prices={"H100": 4.0}), slos=[TTFT_SLO, AVAIL_SLO], by=("model",))
    one = build_report(req, eng, workers=1, **kw)
    two = build_report(req, eng, workers=2, **kw)
    for r in (one, two):
        r.pop("generated_at")
    assert one["warnings"] == two["warnings"]
    _same(one, two)
    assert (
        report_workers(10_000_000) in (1, 2)
        and report_workers(100_000_000) == 1
        and report_workers(5, 3) == 3
    )
    with pytest.raises(Exception, match="workers"):
        report_workers(5, 0)


def test_in_memory_load_gives_the_same_report_on_the_sample_traces():
    """build_report reads the requests into memory (strings as categoricals) when they fit: same report."""
    import polars as pl

    from traceana.config import load_config
    from traceana.report.build import named_columns

    root = __import__("pathlib").Path(__file__).resolve().parents[2] / "sample_traces"
    cfg = load_config(root / "traceana.toml")
    req, eng = pl.scan_parquet(root / "requests.parquet"), pl.scan_parquet(root / "engine_samples.parquet")
    # the degradation options match on quantization, an SLO filters on output_tokens: both stay loaded
    assert {"quantization", "output_tokens", "ttft_s"} <= named_columns(cfg)
    for by in (("model",), ("model", "route")):
        lazy = build_report(req, eng, config=cfg, by=by, workers=1, load=False)
        loaded = build_report(req, eng, config=cfg, by=by, workers=2, load=True)
        for r in (lazy, loaded):
            r.pop("generated_at")
        assert lazy["degradation"] and lazy["checklist"] and lazy["cost"]  # the sections compared are there
        _same(lazy, loaded)


def _same(a, b, path="") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-12, abs=1e-15), path
    else:
        assert a == b, path
