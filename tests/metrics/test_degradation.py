"""traceana.metrics.degradation: choose the best-quality option under the SLO."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from traceana.config import SLO, DegradationOption
from traceana.errors import ConfigError
from traceana.metrics import degradation as d

NOTEBOOK = [
    ("full", 2500, 1.00),
    ("smaller model", 900, 0.92),
    ("shorter context", 1200, 0.95),
    ("lower retrieval k", 1500, 0.97),
]


def test_notebook_worked_choice():
    r = d.choose(NOTEBOOK, 1600)
    assert r["choice"] == "lower retrieval k"
    assert r["eligible"] == ["smaller model", "shorter context", "lower retrieval k"]
    assert "best quality (0.97)" in r["reason"] and "full (2500)" in r["reason"]
    df = pl.DataFrame(NOTEBOOK, schema=["name", "latency", "quality"], orient="row")
    assert d.choose(df, 1600)["choice"] == "lower retrieval k"


def test_threshold_moves_the_choice():
    assert d.choose(NOTEBOOK, 3000)["choice"] == "full"
    assert d.choose(NOTEBOOK, 1200)["choice"] == "shorter context"  # 1200 <= 1200 meets
    assert d.choose(NOTEBOOK, 1200, op="lt")["choice"] == "smaller model"


def test_none_eligible_is_an_answer():
    r = d.choose(NOTEBOOK, 800)
    assert r["choice"] is None and r["eligible"] == []
    assert "no option meets" in r["reason"] and "'smaller model'" in r["reason"]
    assert d.choose([], 800)["choice"] is None


def test_ties_and_missing_quality():
    assert d.choose([("b", 900, 0.9), ("a", 800, 0.9), ("c", 800, 0.9)], 1000)["choice"] == "a"
    r = d.choose([("x", 100, None)], 1000)
    assert r["choice"] is None and r["eligible"] == ["x"] and "quality" in r["reason"]
    with pytest.raises(ConfigError):
        d.choose([("x", 1)], 10)


def trace() -> pl.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    quant = np.array(["bf16", "fp8"])[np.arange(n) % 2]
    ttft = np.where(quant == "bf16", rng.uniform(1.0, 3.0, n), rng.uniform(0.2, 1.2, n))
    status = np.where(np.arange(n) % 50 == 7, "error", "ok")
    ttft[np.arange(n) % 50 == 7] = 100.0  # failed requests do not count toward the latency
    return pl.DataFrame(
        {
            "arrival_time": [datetime(2025, 1, 1, tzinfo=UTC) + timedelta(seconds=i) for i in range(n)],
            "quantization": quant,
            "model_version": ["v1"] * n,
            "route": ["r"] * n,
            "model": ["m"] * n,
            "status": status,
            "ttft_s": ttft,
        },
        schema_overrides={"arrival_time": pl.Datetime("us", "UTC")},
    )


def test_from_trace_with_config_options():
    df = trace()
    ok = df.filter(pl.col("status") == "ok")
    p99 = {
        q: float(np.percentile(ok.filter(pl.col("quantization") == q)["ttft_s"].to_numpy(), 99))
        for q in ("bf16", "fp8")
    }
    opts = [
        DegradationOption("full", 1.0, {"quantization": "bf16"}),
        DegradationOption("fp8", 0.97, {"quantization": "fp8"}),
        DegradationOption("tiny", 0.5, {}, latency_ms=300.0),
        DegradationOption("int4", 0.9, {"quantization": "int4"}),
    ]
    r = d.from_trace(df, SLO("ttft", 0.99, "ttft_s", "lte", 2.0), 0.99, opts)
    assert r["choice"] == "fp8" and r["eligible"] == ["fp8", "tiny"]
    t = {row["name"]: row for row in r["options"].to_dicts()}
    assert t["full"]["latency"] == pytest.approx(p99["bf16"]) and t["full"]["latency"] > 2.0
    assert t["fp8"]["latency"] == pytest.approx(p99["fp8"])
    # errors sit at odd indices 7, 57, ..., 357 (8 of them), which are all fp8 rows
    assert t["full"]["count"] == 200 and t["fp8"]["count"] == 192
    assert (t["tiny"]["latency"], t["tiny"]["source"]) == (0.3, "config")
    assert (t["int4"]["count"], t["int4"]["latency"], t["int4"]["eligible"]) == (0, None, False)


def test_from_trace_observed_variants():
    r = d.from_trace(trace(), ("ttft_s", 2.0), 0.5)
    names = r["options"]["name"].to_list()
    assert names == ["quantization=bf16", "quantization=fp8"]  # the only column with > 1 value
    assert r["choice"] is None and r["eligible"] == ["quantization=bf16", "quantization=fp8"]
    with pytest.raises(ConfigError, match="Allowed: model_version"):
        d.from_trace(trace(), ("ttft_s", 2.0), variant_column="status")
