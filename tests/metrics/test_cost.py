"""traceana.metrics.cost: nominal, utilization-adjusted, provisioned hours, effective $/1M tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from traceana.config import Deployment
from traceana.errors import ConfigError
from traceana.metrics import cost as c

T0 = datetime(2025, 1, 1, tzinfo=UTC)
H = timedelta(hours=1)


def test_nominal_worked_number():
    assert round(c.nominal_cost_per_million(4.00, 1200), 4) == 0.9259
    assert c.nominal_cost_per_million(4.00, 1200) == pytest.approx(1e6 * 4 / (3600 * 1200))
    with pytest.raises(ConfigError):
        c.nominal_cost_per_million(4.0, 0)


def test_utilization_adjusted_worked_numbers():
    df = c.utilization_adjusted(c.nominal_cost_per_million(4.00, 1200))
    assert df["utilization"].to_list() == [0.3, 0.5, 0.7, 0.9]
    assert [round(x, 3) for x in df["cost_per_million"]] == [3.086, 1.852, 1.323, 1.029]
    df = c.utilization_adjusted(1.0, (0.5,), observed=0.25)
    assert df.to_dicts() == [
        {"utilization": 0.5, "cost_per_million": 2.0, "observed": False},
        {"utilization": 0.25, "cost_per_million": 4.0, "observed": True},
    ]
    with pytest.raises(ConfigError):
        c.utilization_adjusted(1.0, (0.0,))


DEPLOY = [
    Deployment("gpu-a0", "m-small", "H100", 1, T0, T0 + 10 * H),  # 10 GPU-h x $4 = $40
    Deployment("gpu-b0", "m-large", "A100", 2, T0 + 2 * H, T0 + 6 * H),  # 8 GPU-h x $2.5 = $20
]
PRICES = {"H100": 4.0, "A100": 2.5}


def two_instance_requests() -> pl.DataFrame:
    # gpu-a0: busy [0, 150) s and [3600, 3650) s -> 200 s; 1M prompt, 3M output tokens.
    # gpu-b0: busy [2 h, 2 h + 360 s) -> 360 s; 1M prompt, 1M output tokens.
    rows = [
        ("gpu-a0", "m-small", 0, 100.0, 400_000, 1_000_000),
        ("gpu-a0", "m-small", 50, 100.0, 300_000, 1_000_000),
        ("gpu-a0", "m-small", 3600, 50.0, 300_000, 1_000_000),
        ("gpu-b0", "m-large", 7200, 360.0, 1_000_000, 1_000_000),
    ]
    return pl.DataFrame(
        {
            "instance": [r[0] for r in rows],
            "model": [r[1] for r in rows],
            "arrival_time": [T0 + timedelta(seconds=r[2]) for r in rows],
            "e2e_latency_s": [r[3] for r in rows],
            "prompt_tokens": [r[4] for r in rows],
            "output_tokens": [r[5] for r in rows],
            "status": ["ok", "ok", "error", "ok"],
        },
        schema_overrides={"arrival_time": pl.Datetime("us", "UTC")},
    )


def test_provisioned_from_deployments():
    p = c.provisioned_hours(deployments=DEPLOY)
    assert p.select("instance", "gpu_count", "hours", "gpu_hours").rows() == [
        ("gpu-a0", 1, 10.0, 10.0),
        ("gpu-b0", 2, 4.0, 8.0),
    ]
    # clipped to a window: [1 h, 3 h) -> a0 2 h, b0 1 h
    p = c.provisioned_hours(deployments=DEPLOY, start=T0 + H, end=T0 + 3 * H)
    assert p["gpu_hours"].to_list() == [2.0, 2.0]
    with pytest.raises(ConfigError, match=r"deployment\[0\]\.start"):
        c.provisioned_hours(deployments=[Deployment("x", None, "H100")])
    open_ended = c.provisioned_hours(deployments=[Deployment("x", None, "H100", 4)], start=T0, end=T0 + 3 * H)
    assert open_ended["gpu_hours"].to_list() == [12.0]


def test_provisioned_from_engine_samples():
    # e0: samples every 15 s at 0..45 s -> 60 s; e1: one sample -> the fleet median spacing (15 s).
    times = [T0 + timedelta(seconds=s) for s in (0, 15, 30, 45)] + [T0 + H]
    eng = pl.DataFrame(
        {
            "time": times,
            "instance": ["e0"] * 4 + ["e1"],
            "model": ["m"] * 5,
            "gpu_type": ["H100"] * 4 + [None],
            "gpu_count": [2, 2, 2, 2, None],
        },
        schema_overrides={"time": pl.Datetime("us", "UTC"), "gpu_count": pl.Int64},
    )
    p = c.provisioned_hours(eng)
    assert p["hours"].to_list() == pytest.approx([60 / 3600, 15 / 3600])
    assert p["gpu_hours"][0] == pytest.approx(120 / 3600) and p["gpu_hours"][1] is None
    assert p["end"][0] == T0 + timedelta(seconds=60)
    # e1 has no gpu_type: unpriced (a reason, null cost), never costed at $0
    df = c.effective_cost(two_instance_requests(), p, PRICES)
    e1 = df.filter(pl.col("instance") == "e1").row(0, named=True)
    assert "no gpu_type or gpu_count" in e1["unpriced"] and e1["cost_usd"] is None


def test_busy_hours_union():
    b = c.busy_hours(two_instance_requests())
    assert b["busy_hours"].to_list() == pytest.approx([200 / 3600, 360 / 3600])


def test_effective_cost_two_instances_hand_computed():
    df = c.effective_cost(two_instance_requests(), c.provisioned_hours(deployments=DEPLOY), PRICES)
    rows = {r["instance"]: r for r in df.to_dicts()}
    a, b = rows["gpu-a0"], rows["gpu-b0"]
    assert (a["model"], a["gpu_hours"], a["cost_usd"]) == ("m-small", 10.0, 40.0)
    assert (b["model"], b["gpu_hours"], b["cost_usd"]) == ("m-large", 8.0, 20.0)
    assert a["effective_per_million_output"] == pytest.approx(40 / 3)  # $40 / 3M output
    assert a["effective_per_million_all"] == pytest.approx(10.0)  # $40 / 4M
    assert b["effective_per_million_output"] == pytest.approx(20.0)
    assert a["tokens_counted"] == "output" and a["effective_per_million"] == a["effective_per_million_output"]
    assert a["utilization"] == pytest.approx((200 / 3600) / 10)
    assert b["utilization"] == pytest.approx(0.1 / 4)
    assert a["measured_tokens_per_s"] == pytest.approx(15000.0)  # 3M / 200 s
    assert a["nominal_per_million"] == pytest.approx(1e6 * 4 / (3600 * 15000))
    assert b["nominal_per_million"] == pytest.approx(0.5)  # $5/h at 1M/360 s
    t = c.totals(df)
    assert (t["cost_usd"], t["gpu_hours"], t["output_tokens"], t["prompt_tokens"]) == (
        60.0,
        18.0,
        4_000_000,
        2_000_000,
    )
    assert t["effective_per_million_output"] == pytest.approx(15.0)  # $60 / 4M
    assert t["effective_per_million_all"] == pytest.approx(10.0)  # $60 / 6M
    assert t["utilization"] == pytest.approx((560 / 3600) / 14)
    assert t["tokens_counted"] == "output" and t["unprovisioned_instances"] == 0


def test_effective_cost_token_modes():
    prov = c.provisioned_hours(deployments=DEPLOY)
    t = c.totals(c.effective_cost(two_instance_requests(), prov, PRICES, tokens="all"))
    assert (t["tokens_counted"], t["effective_per_million"]) == ("prompt+output", pytest.approx(10.0))
    t = c.totals(
        c.effective_cost(two_instance_requests(), prov, PRICES, tokens="weighted", prompt_weight=0.5)
    )
    assert t["tokens_counted"] == "output+0.5*prompt"
    assert t["effective_per_million"] == pytest.approx(12.0)  # $60 / (4M + 0.5 * 2M)
    with pytest.raises(ConfigError, match="prompt_weight"):
        c.effective_cost(two_instance_requests(), prov, PRICES, tokens="weighted")
    with pytest.raises(ConfigError, match="Allowed: output, all, weighted"):
        c.effective_cost(two_instance_requests(), prov, PRICES, tokens="input")


def test_unknown_gpu_price_is_unpriced_and_left_out_of_totals():
    df = c.effective_cost(
        two_instance_requests(), c.provisioned_hours(deployments=DEPLOY), {"H100": 4.0, "L4": 0.8}
    )
    bad = df.filter(pl.col("unpriced").is_not_null())
    assert bad.height == 1 and bad["cost_usd"][0] is None and bad["effective_per_million"][0] is None
    msg = bad["unpriced"][0]
    assert "gpu_prices" in msg and "'A100'" in msg and "known: H100, L4" in msg
    t = c.totals(df)
    priced = df.filter(pl.col("unpriced").is_null()).row(0, named=True)
    assert t["unpriced"] == [bad["instance"][0]]
    assert (
        t["cost_usd"] == pytest.approx(priced["cost_usd"]) and t["output_tokens"] == priced["output_tokens"]
    )


def test_unprovisioned_instance_is_flagged():
    prov = c.provisioned_hours(deployments=DEPLOY[:1])
    df = c.effective_cost(two_instance_requests(), prov, PRICES)
    b = df.filter(pl.col("instance") == "gpu-b0").row(0, named=True)
    assert (b["provisioned"], b["cost_usd"], b["output_tokens"]) == (False, None, 1_000_000)
    assert b["unpriced"].startswith("not provisioned")
    t = c.totals(df)
    assert t["unprovisioned_instances"] == 1 and t["unpriced"] == ["gpu-b0"]
    assert t["output_tokens"] == df.filter(pl.col("instance") != "gpu-b0")["output_tokens"].sum()


def test_autoscaled_cost_prices_replica_hours_at_the_models_gpus():
    from traceana.metrics.cost import autoscaled_cost

    rows = [
        {
            "model": "m",
            "provisioned": True,
            "price_per_gpu_hour": 4.0,
            "gpu_count": 2,
            "cost_usd": 96.0,
            "output_tokens": 2_000_000,
        },
        {
            "model": "m",
            "provisioned": True,
            "price_per_gpu_hour": 4.0,
            "gpu_count": 2,
            "cost_usd": 48.0,
            "output_tokens": 1_000_000,
        },
        {
            "model": "x",
            "provisioned": True,
            "price_per_gpu_hour": None,
            "gpu_count": 1,
            "cost_usd": None,
            "output_tokens": 5,
        },
    ]
    out = autoscaled_cost({"m": 10.0, "x": 3.0}, {"m": 1.5, "x": 0.2}, rows)
    # m: 10 replica-hours x (4 $/GPU-h x 2 GPUs) = 80 $; 80 / 3M tokens x 1e6 = 26.67 $/1M; x has no price
    assert out == [
        {
            "model": "m",
            "mu_per_replica": 1.5,
            "replica_hours": 10.0,
            "price_per_replica_hour": 8.0,
            "cost_usd": 80.0,
            "actual_cost_usd": 144.0,
            "per_million_output": 80.0 / 3.0,
        }
    ]
