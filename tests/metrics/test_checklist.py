"""The checklist: fill fractions counted by hand on a small frame, verdicts per item."""

from __future__ import annotations

import polars as pl
import pytest

from traceana.metrics.checklist import coverage, field_fill

REQ = pl.LazyFrame(
    {
        "request_id": ["a", "b", "c", "d"],
        "arrival_time": [1, 2, 3, 4],
        "status": ["ok", "error", "ok", "ok"],
        "ttft_s": [0.1, None, 0.2, None],  # 2 of 3 ok rows
        "prompt_tokens": [1, 2, 3, 4],
        "output_tokens": [5, None, 6, 7],
        "tpot_s": [0.01, None, 0.02, 0.03],
        "error_type": [None, "oom", None, None],
        "e2e_latency_s": [1.0, 2.0, 1.0, 1.0],
        "model": ["m"] * 4,
    }
)
ENG = pl.LazyFrame(
    {"time": [1, 2], "instance": ["i", "i"], "num_running": [3.0, 4.0], "kv_cache_usage": [0.5, None]}
)


def fills(requests, engine=None) -> dict:
    return {
        (r["field"]): (r["rows"], r["fill_fraction"])
        for r in field_fill(requests, engine).iter_rows(named=True)
    }


def test_fill_fractions_by_hand():
    f = fills(REQ, ENG)
    assert f["arrival_time"] == (4, 1.0)
    assert f["ttft_s"] == (3, pytest.approx(2 / 3))  # ok rows only
    assert f["error_type"] == (1, 1.0)  # failed rows only
    assert f["output_tokens"] == (3, 1.0)
    assert f["queue_time_s"] == (3, 0.0)  # absent column
    assert f["num_running"] == (2, 1.0) and f["kv_cache_usage"] == (2, 0.5)


def test_verdicts():
    v = {r["item"]: r["verdict"] for r in coverage(REQ, ENG).iter_rows(named=True)}
    assert v == {1: "partial", 2: "partial", 3: "missing", 4: "partial", 5: "partial", 6: "complete"}
    v_no_engine = {r["item"]: r["verdict"] for r in coverage(REQ, None).iter_rows(named=True)}
    assert v_no_engine[4] == "missing"


def test_fraction_never_exceeds_one_on_a_larger_frame():
    big = pl.LazyFrame(
        {
            "request_id": [str(i) for i in range(1600)],
            "arrival_time": list(range(1600)),
            "model": ["m"] * 1600,
        }
    )
    f = fills(big)
    assert f["arrival_time"] == (1600, 1.0) and f["model"] == (1600, 1.0)


def test_without_status_every_row_is_ok_and_none_failed():
    frame = pl.LazyFrame(
        {"arrival_time": [1, 2, 3], "ttft_s": [0.1, None, 0.3], "error_type": ["x", None, None]}
    )
    f = fills(frame)
    assert f["ttft_s"] == (3, pytest.approx(2 / 3))  # "ok" fields count over every row
    assert f["error_type"] == (0, 0.0)  # "failed" fields apply to no row
    assert f["status"] == (3, 0.0)


def test_columns_left_out_of_a_copy_are_counted_from_the_full_frame():
    partial = REQ.select("arrival_time", "status", "ttft_s", "model")  # an in-memory copy of some columns
    assert field_fill(partial, ENG, requests_more=REQ).equals(field_fill(REQ, ENG))
    assert not field_fill(partial, ENG).equals(field_fill(REQ, ENG))  # the copy alone misses error_type etc.
