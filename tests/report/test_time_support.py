"""Items 2-4 of issue 15, on the real runs in ../shared/formats/samples:

2. LLMPerf has no send times: its rows are time_basis synthetic and every
   section that needs arrival times says why instead of showing a figure.
3. Azure is arrival-only: latency SLOs, availability and goodput are "not
   measured", never 0% or 100%.
4. Azure (2023) beside AIPerf (2025) in one store: time sections are not
   computed across the 23-month gap; --since/--until picks one source.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

import traceana
from tests.conftest import SHARED
from traceana.config import load_config
from traceana.ingest import ingest_paths
from traceana.metrics.support import time_support
from traceana.report.build import build_report

SAMPLES = SHARED / "formats" / "samples"
TIME_SECTIONS = (
    "concurrency",
    "burn rate",
    "goodput per second",
    "cost",
    "percentiles over time",
    "queue vs utilization",
)

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared samples missing")


@pytest.fixture
def config():
    from tests.conftest import SAMPLE_TRACES

    return load_config(SAMPLE_TRACES / "traceana.toml")


def _store(tmp_path, *paths):
    st = traceana.open_store(tmp_path / "s", create=True)
    ingest_paths(st, list(paths))
    return st


@pytest.mark.parametrize(
    ("sample", "basis"),
    [("llmperf", "synthetic"), ("mooncake", "relative"), ("azure", "measured"), ("aiperf", "measured")],
)
def test_every_row_carries_its_time_basis(tmp_path, sample, basis):
    st = _store(tmp_path, SAMPLES / sample)
    assert st.requests().select(pl.col("time_basis").unique()).collect().to_series().to_list() == [basis]


def test_llmperf_time_sections_say_there_are_no_arrival_times(tmp_path, config):
    st = _store(tmp_path, SAMPLES / "llmperf")
    rep = build_report(st.requests(), None, config, by=["model"])
    assert rep["window"] == {"start": None, "end": None, "seconds": 0.0}
    assert rep["concurrency"] is None and rep["cost"] is None
    assert rep["goodput"]["goodput_per_s"] is None and rep["goodput"]["good_fraction"] is not None
    assert all(
        rep["series"][k] == []
        for k in ("concurrency", "burn", "goodput", "percentiles_over_time", "queue_vs_utilization")
    )
    assert all(not s["alerts"] for s in rep["slo"])
    for what in TIME_SECTIONS:
        assert any(w.startswith(f"{what}") and "has no arrival times" in w for w in rep["warnings"]), what
    # latencies are real: the percentiles are still there, matching numpy on the same rows
    import numpy as np

    ttft = (
        st.requests()
        .filter(pl.col("status") == "ok")
        .select("ttft_s")
        .collect()
        .to_series()
        .drop_nulls()
        .to_numpy()
    )
    (row,) = [r for r in rep["latency"] if r["metric"] == "ttft_s" and not r["group"]]
    assert row["p99"] == pytest.approx(np.percentile(ttft, 99))


def test_arrival_only_trace_is_not_measured_never_a_percentage(tmp_path, config):
    st = _store(tmp_path, SAMPLES / "azure")
    rep = build_report(st.requests(), None, config, by=["model"])
    assert rep["slo"], "the sample config has SLOs"
    for s in rep["slo"]:
        assert s["attainment"] is None and s["met"] is None and s["not_measured"].startswith("not measured")
    assert rep["goodput"] is None and any(w.startswith("goodput: not measured") for w in rep["warnings"])
    assert rep["verdict"] == {"breached": [], "exit_code": 0}
    # the arrivals are real: the window and the request rate stand
    assert rep["window"]["seconds"] > 3000


def test_sources_that_do_not_overlap_are_not_one_window(tmp_path, config):
    st = _store(tmp_path, SAMPLES / "azure", SAMPLES / "aiperf")
    support = time_support(st.requests())
    assert support.reason and "do not overlap" in support.reason
    assert "AzureLLMInferenceTrace_code.csv" in support.reason and "profile_export.jsonl" in support.reason
    rep = build_report(st.requests(), None, config, by=["model"])
    assert (
        rep["window"]["seconds"] == 0.0 and rep["concurrency"] is None and rep["series"]["concurrency"] == []
    )
    assert any("do not overlap" in w for w in rep["warnings"])
    # picking the AIPerf run's day with a window gives it back its time sections
    one = build_report(st.requests(), None, config, by=["model"], since=datetime(2025, 1, 1, tzinfo=UTC))
    assert one["time_support"]["reason"] is None and one["concurrency"]["arrivals"] == 89
    assert 0 < one["window"]["seconds"] < 60


def test_synthetic_rows_are_left_out_of_time_sections_beside_measured_ones(tmp_path, config):
    st = _store(tmp_path, SAMPLES / "aiperf", SAMPLES / "llmperf" / "lepton_7b.json")
    rep = build_report(st.requests(), None, config, by=["model"])
    assert rep["time_support"]["reason"] is None and rep["time_support"]["excluded"]
    assert any(w.startswith("time sections exclude lepton_7b.json") for w in rep["warnings"])
    assert (
        rep["concurrency"]["arrivals"] == 89
    )  # the AIPerf requests with a known e2e; LLMPerf rows are not in it
    assert rep["requests"]["total"] == 250  # every request still counts in the totals and percentiles
