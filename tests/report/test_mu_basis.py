"""Item 6 of issue 15: the autoscaling what-if states the basis of mu, and refuses when none holds."""

from __future__ import annotations

import polars as pl

from tests.conftest import SAMPLE_TRACES
from traceana.config import load_config
from traceana.report.build import build_report

CONFIG = load_config(SAMPLE_TRACES / "traceana.toml")
REQ = pl.scan_parquet(SAMPLE_TRACES / "requests.parquet")
ENG = pl.scan_parquet(SAMPLE_TRACES / "engine_samples.parquet")


def test_with_engine_samples_mu_comes_from_the_running_batch():
    rep = build_report(REQ, ENG, CONFIG, by=["model"])
    basis = rep["capacity"]["mu_basis"]
    assert basis.startswith("engine samples: max running batch")
    assert rep["cost"]["mu_basis"] == basis and rep["cost"]["autoscaling"]
    # mu = B / S with B the median over a model's instances of their largest running batch
    eng = ENG.collect()
    b = (
        eng.group_by("instance")
        .agg(pl.col("model").first(), pl.col("num_running").max())
        .group_by("model")
        .agg(pl.col("num_running").median())
    )
    assert b.height and all(v >= 1 for v in b["num_running"])


def test_without_engine_samples_there_is_no_guessed_mu():
    rep = build_report(REQ, None, CONFIG, by=["model"])
    assert rep["capacity"] is None and rep["series"]["autoscale"] == []
    assert any(w.startswith("autoscaling: not computable: no engine samples") for w in rep["warnings"])
    assert not (rep["cost"] or {}).get("autoscaling")


def test_queue_chart_says_why_it_has_no_mm1_line():
    from traceana.report.charts import build_charts

    rep = build_report(REQ, ENG, CONFIG, by=["model"])
    rows = rep["series"]["queue_vs_utilization"]
    assert rows and all(
        r.get("mm1_response_s") is None for r in rows
    )  # rho >= 1 in every bin of the fleet day
    (spec,) = [s for cid, _, s in build_charts(rep) if cid.startswith("queue")]
    assert "layer" not in spec and "no M/M/1 line: every bin has rho >= 1" in str(spec["title"])
