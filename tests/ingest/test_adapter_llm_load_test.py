"""llm-load-test output JSON (issue 15 item 10): mapping, and in-flight of a 20-user closed loop by hand."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import traceana
from traceana.ingest import ingest_paths
from traceana.ingest.registry import detect
from traceana.report.build import build_report

FILE = Path(__file__).resolve().parents[1] / "data" / "llm_load_test" / "output-020.json"
DOC = json.loads(FILE.read_text())


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    st = traceana.open_store(tmp_path_factory.mktemp("llt") / "s", create=True)
    summary = ingest_paths(st, [FILE])
    assert summary.stored == len(DOC["results"]) and summary.quarantined == 0
    return st


def test_detected():
    assert detect(FILE.read_bytes()[: 1 << 20], FILE).name == "llm_load_test"


def test_mapping_against_the_source_fields(store):
    df = store.requests().sort("source_line").collect()
    res = DOC["results"]
    assert df["time_basis"].unique().to_list() == ["measured"]
    assert df["model"].unique().to_list() == ["granite-3.1-8b-instruct"]
    for row, rec in zip(df.iter_rows(named=True), res, strict=True):
        assert row["arrival_time"].timestamp() == pytest.approx(rec["start_time"], abs=1e-6)
        assert row["e2e_latency_s"] == pytest.approx(rec["end_time"] - rec["start_time"], abs=1e-6)
        if rec["error_code"] is None:
            assert row["status"] == "ok"
            assert row["ttft_s"] * 1000 == pytest.approx(rec["ttft"], rel=1e-9)
            # llm-load-test's itl is TPOT: (end - first token) / (output_tokens - 1)
            assert row["tpot_s"] * 1000 == pytest.approx(rec["itl"], rel=1e-9)
        else:
            assert (row["status"], row["error_type"], row["ttft_s"]) == ("error", "500", None)


def test_mean_in_flight_equals_the_sweep_by_hand(store):
    rep = build_report(store.requests(), None, None, by=["model"])
    c = rep["concurrency"]
    ws, we = (datetime.fromisoformat(c[k]).timestamp() for k in ("window_start", "window_end"))
    # by hand: each request is in flight on [start, end); integrate the count over the window
    s = np.array([r["start_time"] for r in DOC["results"]])
    e = np.array([r["end_time"] for r in DOC["results"]])
    busy = np.clip(np.minimum(e, we) - np.maximum(s, ws), 0, None).sum()
    assert c["empirical_mean"] == pytest.approx(busy / (we - ws), rel=1e-6)
    # 20 users, no think time: 20 in flight at most, fewer as users finish their 6 requests at different times
    assert c["empirical_max"] == 20 and 10 < c["empirical_mean"] < 20
    n = store.requests().select(pl.len()).collect().item()
    assert n == len(DOC["results"])
