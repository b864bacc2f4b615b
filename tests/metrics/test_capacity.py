from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from traceana.errors import TraceanaError
from traceana.metrics import capacity as cap
from traceana.schema import conform

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def requests_frame(**cols) -> pl.DataFrame:
    """A canonical requests frame from a few columns; arrival_s (seconds after T0) sets arrival_time."""
    if "arrival_s" in cols:
        cols["arrival_time"] = [T0 + dt.timedelta(microseconds=round(s * 1e6)) for s in cols.pop("arrival_s")]
    n = len(next(iter(cols.values())))
    cols.setdefault("request_id", [f"r{i}" for i in range(n)])
    cols.setdefault("status", ["ok"] * n)
    return pl.from_arrow(conform(pa.table(cols), "requests"))


def test_replicas_worked_number():
    replicas, util = cap.replicas_needed(180, 40, 0.70)
    assert replicas == 7 and round(util, 6) == 0.642857 and util == pytest.approx(180 / 280)


@pytest.mark.parametrize(
    ("lam", "mu", "target", "expect"),
    [
        (2.1, 3, 0.7, 1),  # float: 2.1 / (0.7 * 3) = 1.0000000000000002 -> 2 wrongly
        (12.6, 3, 0.7, 6),
        (196, 40, 0.7, 7),
        (196.0001, 40, 0.7, 8),
        (0, 40, 0.7, 0),
        ("28", "40", "0.7", 1),
    ],
)
def test_replicas_exact_ceiling(lam, mu, target, expect):
    assert cap.replicas_needed(lam, mu, target)[0] == expect
    exact = Fraction(str(lam)) / (Fraction(str(target)) * Fraction(str(mu)))
    assert math.ceil(exact) == expect  # the reference: decimal rationals


def test_replicas_bad_input():
    for args in ((10, 0, 0.7), (10, 40, 0), (10, 40, 1.5), (-1, 40, 0.7), (10, float("nan"), 0.7)):
        with pytest.raises(TraceanaError):
            cap.replicas_needed(*args)


def test_kv_worked_number_is_exact():
    assert 44 // 0.55 == 79.0  # what the float notebook says
    out = cap.kv_max_concurrency(cap.gb(80), cap.gb(28), cap.gb(8), cap.gb("0.55"))
    assert out["available_bytes"] == 44_000_000_000 and out["available_gb"] == 44.0
    assert out["max_concurrent"] == 80
    assert cap.kv_max_concurrency("80e9", "28e9", "8e9", "0.55e9")["max_concurrent"] == 80
    assert cap.kv_max_concurrency(cap.gb(80), cap.gb(28), cap.gb(8), cap.gb("0.5501"))["max_concurrent"] == 79
    assert cap.kv_max_concurrency(cap.gb(30), cap.gb(28), cap.gb(8), cap.gb(1))["max_concurrent"] == 0
    assert cap.gb("0.55") == 550_000_000 and cap.gib(1) == 1 << 30
    with pytest.raises(TraceanaError):
        cap.kv_max_concurrency(cap.gb(80), cap.gb(28), cap.gb(8), 0)
    with pytest.raises(TraceanaError):
        cap.gb("1e-10")


def test_kv_bytes_per_request():
    # Llama-3-8B shape: 32 layers, 8 KV heads, head dim 128, fp16, 4096 tokens = 512 MiB
    assert cap.kv_bytes_per_request(32, 8, 128, 2, 4096) == 536_870_912
    assert cap.kv_bytes_per_request(32, 8, 128, "0.5", 1) == 32 * 8 * 128
    with pytest.raises(TraceanaError):
        cap.kv_bytes_per_request(32, 8, 128, 2, -1)


def test_batch_proxy_worked_number():
    out = cap.batch_proxy(32)
    assert (
        round(out["throughput_tokens_per_s"], 2) == 864.66
        and out["throughput"] == out["throughput_tokens_per_s"]
    )
    assert out["wait_s"] == pytest.approx(0.064)


def test_autoscale_percentile_of_minute_rates_with_empty_minutes():
    # model a: hour 0 has arrivals in minutes 0..59 with k*3 requests in minute k (k < 20), none after;
    # hour 1 (last minute 60): 30 requests. model b: 6 requests in minute 0 only.
    arrivals, models = [], []
    for k in range(20):
        arrivals += [k * 60 + i * 0.1 for i in range(3 * k)]
        models += ["a"] * (3 * k)
    arrivals += [3600 + i * 0.5 for i in range(30)]
    models += ["a"] * 30
    arrivals += [1.0] * 6
    models += ["b"] * 6
    df = requests_frame(arrival_s=arrivals, model=models)
    out = cap.autoscale(df, mu_per_replica={"a": 0.5, "b": 0.2}, target_util=0.5, every="1h", percentile=0.95)
    rows = {(r["model"], r["window_start"]): r for r in out.iter_rows(named=True)}
    hour0 = np.array([3 * k for k in range(20)] + [0] * 40) / 60
    a0 = rows[("a", T0)]
    assert a0["minutes"] == 60 and a0["arrival_rate_p"] == pytest.approx(np.quantile(hour0, 0.95))
    expect = math.ceil(Fraction(np.quantile(hour0, 0.95)) / Fraction(1, 4))
    assert a0["replicas"] == expect and a0["replica_hours"] == pytest.approx(expect)
    assert a0["utilization"] == pytest.approx(np.quantile(hour0, 0.95) / (expect * 0.5))
    a1 = rows[("a", T0 + dt.timedelta(hours=1))]  # a one-minute window
    assert a1["minutes"] == 1 and a1["arrival_rate_p"] == pytest.approx(0.5)
    assert a1["replicas"] == 2 and a1["replica_hours"] == pytest.approx(2 / 60)
    b0 = rows[("b", T0)]
    assert b0["arrival_rate_p"] == 0.0 and b0["replicas"] == 1 and b0["utilization"] == 0.0  # min_replicas
    with pytest.raises(TraceanaError):
        cap.autoscale(df, mu_per_replica={"a": 0.5})
    with pytest.raises(TraceanaError, match="window length"):
        cap.autoscale(df, mu_per_replica=1.0, every="hourly")


def test_autoscale_measures_mu_when_not_given():
    df = requests_frame(
        arrival_s=[0.0, 10.0, 20.0, 30.0],
        e2e_latency_s=[2.0, 4.0, 3.0, 5.0],
        queue_time_s=[1.0, None, 0.0, 1.0],
        model=["m"] * 4,
    )
    out = cap.autoscale(df, mu_per_replica=None, every="1h", percentile=0.5)
    # service = 1, 4, 3, 4 -> S = 3, mu = 1/3 req/s; one minute with 4 arrivals -> 4/60 req/s
    row = out.row(0, named=True)
    assert row["mu_per_replica"] == pytest.approx(1 / 3) and row["arrival_rate_p"] == pytest.approx(4 / 60)
    assert row["replicas"] == 1 and row["utilization"] == pytest.approx(4 / 60 * 3)


def test_kv_headroom_and_batch_throughput():
    engine = pl.DataFrame(
        {
            "instance": ["a", "a", "a", "b"],
            "kv_cache_usage": [0.5, 0.25, 0.0, 0.8],
            "kv_cache_capacity_tokens": [100_000, 100_000, 100_000, None],
            "num_running": [10.0, 3.0, 0.0, 4.0],
            "generation_tokens_per_s": [900.0, 400.0, None, 500.0],
        }
    )
    h = {r["instance"]: r for r in cap.kv_headroom(engine).iter_rows(named=True)}
    # a: (50000 + 25000) tokens / 13 running = 5769.2 per request -> floor(100000 / 5769.2) = 17
    assert h["a"]["kv_tokens_per_running_request"] == pytest.approx(75_000 / 13)
    assert h["a"]["implied_max_concurrent"] == 17 and h["a"]["headroom"] == 7
    assert h["a"]["max_kv_cache_usage"] == 0.5 and h["a"]["samples"] == 3
    assert h["b"]["implied_max_concurrent"] is None
    b = cap.batch_throughput(engine, bins=(1, 4, 8))
    assert b.select("batch_low", "batch_high", "samples", "mean_generation_tokens_per_s").rows() == [
        (1.0, 4.0, 1, 400.0),
        (4.0, 8.0, 1, 500.0),
        (8.0, math.inf, 1, 900.0),
    ]
    with pytest.raises(TraceanaError):
        cap.batch_throughput(engine, bins=(4, 2))


def test_batched_service_rate_is_running_batch_over_service_time():
    """mu = B / S: B the median over a model's instances of each one's largest running batch."""
    from traceana.metrics.capacity import batched_service_rate

    eng = pl.LazyFrame(
        {
            "instance": ["a", "a", "b", "b", "c"],
            "model": ["m", "m", "m", "m", "n"],
            "num_running": [3.0, 8.0, 4.0, 6.0, 1.0],
        }
    )
    auto = [{"model": "m", "mu_per_replica": 0.5}, {"model": "n", "mu_per_replica": 2.0}]
    # m: instance maxima 8 and 6, median 7 -> 0.5 * 7; n: a batch of 1 leaves 1 / S
    assert batched_service_rate(auto, eng) == {"m": 3.5, "n": 2.0}
    assert batched_service_rate(auto, None) is None
    single = pl.LazyFrame({"instance": ["c"], "model": ["n"], "num_running": [1.0]})
    assert batched_service_rate([{"model": "n", "mu_per_replica": 2.0}], single) is None  # nothing batched
