"""Issue 15, done-when: every sample of sample_traces/ and ../shared/formats/samples in one store.

For each report section: either computed from inputs that support it, or
absent with a one-sentence reason in the warnings. No percentage from zero
measurements, no $0 for an unpriced instance, no utilization above 100%.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import traceana
from tests.conftest import SAMPLE_TRACES, SHARED
from traceana.config import load_config
from traceana.ingest import ingest_paths
from traceana.report.build import build_report

SAMPLES = SHARED / "formats" / "samples"

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared samples missing")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    st = traceana.open_store(tmp_path_factory.mktemp("all") / "s", create=True)
    summary = ingest_paths(st, [SAMPLE_TRACES, SAMPLES])
    assert not summary.refused, [f.error for f in summary.refused]
    return st


def _reason(rep: dict, prefix: str) -> str:
    found = [w for w in rep["warnings"] if w.startswith(prefix)]
    assert found, f"{prefix}: neither a figure nor a reason; warnings: {rep['warnings']}"
    return found[0]


def assert_supported(rep: dict) -> None:
    """The invariants of an honest report (see the module docstring)."""
    for s in rep["slo"]:
        if s["attainment"] is None:
            assert s.get("not_measured") or s["total"] == 0, s
            if s.get("not_measured"):
                assert s["met"] is None and _reason(rep, f"slo {s['name']}: not measured")
        elif s.get("metric"):
            assert s["total"] - s.get("unmeasured", 0) > 0, (
                f"{s['name']}: a percentage from zero measurements"
            )
        if not s["alerts"] and rep["time_support"]["reason"]:
            _reason(rep, f"burn rate {s['name']}")
    gp = rep["goodput"]
    if gp is None:
        _reason(rep, "goodput")
    elif gp["goodput_per_s"] is None:
        _reason(rep, "goodput per second")
    conc = rep["concurrency"]
    if conc is None or conc.get("arrival_rate_per_s") is None:
        assert rep["series"]["concurrency"] == [] or conc is not None
        assert conc is not None and conc.get("verdict") or _reason(rep, "concurrency")
    for key, prefix in (
        ("percentiles_over_time", "percentiles over time"),
        ("queue_vs_utilization", "queue vs utilization"),
    ):
        if not rep["series"][key]:
            _reason(rep, prefix)
    cost = rep["cost"]
    if cost is None:
        _reason(rep, "cost")
    else:
        for r in cost["rows"]:
            assert (r.get("cost_usd") is None) == bool(r.get("unpriced")), r
            name = r.get("instance") or "(unknown instance)"
            if r.get("unpriced"):
                assert _reason(rep, f"cost: instance '{name}' is unpriced")
            assert r.get("utilization") is None or r["utilization"] <= 1.0 + 1e-9, r
        assert set(cost["totals"].get("unpriced") or []) == {
            r.get("instance") or "(unknown instance)" for r in cost["rows"] if r.get("unpriced")
        }
    assert all(r["count"] > 0 for r in rep["latency"])
    assert rep["checklist"]


def test_the_whole_mixed_store(store):
    config = load_config(SAMPLE_TRACES / "traceana.toml")
    rep = build_report(store.requests(), store.engine_samples(), config, by=["model"])
    support = rep["time_support"]
    # a 2023 trace, a 2025 run, a 2025 fleet day, relative and synthetic sources: no one time window
    assert support["reason"] and rep["window"]["seconds"] == 0.0
    assert {s["basis"] for s in support["sources"]} == {"measured", "relative", "synthetic"}
    assert_supported(rep)


def test_one_day_of_the_mixed_store(store):
    config = load_config(SAMPLE_TRACES / "traceana.toml")
    rep = build_report(
        store.requests(),
        store.engine_samples(),
        config,
        by=["model"],
        since=datetime(2025, 11, 17, tzinfo=UTC),
        until=datetime(2025, 11, 18, tzinfo=UTC),
    )
    assert rep["time_support"]["reason"] is None and rep["concurrency"]["arrival_rate_per_s"] > 0
    assert rep["cost"] is not None and rep["cost"]["rows"]
    assert_supported(rep)
