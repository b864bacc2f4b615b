from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from traceana.errors import SchemaError, TraceanaError
from traceana.metrics import latency
from traceana.metrics._stats import ci_ranks
from traceana.schema import conform

T0 = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
QS = (0.5, 0.9, 0.95, 0.99, 0.999)
NAMES = ("p50", "p90", "p95", "p99", "p99_9")


def requests_frame(**cols) -> pl.DataFrame:
    """A canonical requests frame from a few columns; the rest null (test helper)."""
    n = len(next(iter(cols.values())))
    cols.setdefault("request_id", [f"r{i}" for i in range(n)])
    cols.setdefault("arrival_time", [T0 + dt.timedelta(seconds=i) for i in range(n)])
    cols.setdefault("status", ["ok"] * n)
    return pl.from_arrow(conform(pa.table(cols), "requests"))


def brute_ranks(n: int, q: float, confidence: float) -> tuple[int, int] | None:
    """Equal-tailed order-statistic CI ranks from the exact binomial CDF (fractions, math.comb)."""
    qf = Fraction(str(q))
    half = (1 - Fraction(str(confidence))) / 2
    cdf, acc = [], Fraction(0)
    for k in range(n + 1):
        acc += math.comb(n, k) * qf**k * (1 - qf) ** (n - k)
        cdf.append(acc)  # P(B <= k)
    lows = [r for r in range(1, n + 1) if cdf[r - 1] <= half]
    highs = [u for u in range(1, n + 1) if 1 - cdf[u - 1] <= half]
    if not lows or not highs:
        return None
    return max(lows), min(highs)


def test_percentiles_match_numpy_with_groups_and_windows():
    rng = np.random.default_rng(1)
    n = 600
    e2e = rng.gamma(2.0, 0.7, n)
    ttft = rng.uniform(0.01, 0.5, n)
    ttft[rng.choice(n, 40, replace=False)] = np.nan  # nulls are left out per metric
    model = rng.choice(["a", "b", "c"], n)
    arrivals = [T0 + dt.timedelta(seconds=float(s)) for s in np.sort(rng.uniform(0, 7200, n))]
    df = requests_frame(
        e2e_latency_s=e2e, ttft_s=pa.array(ttft, from_pandas=True), model=model, arrival_time=arrivals
    )
    out = latency.percentiles(df, metrics=["e2e_latency_s", "ttft_s"], by="model", every="1h")
    hours = np.array([(a - T0).total_seconds() // 3600 for a in arrivals])
    rows = 0
    for m in ("a", "b", "c"):
        for h in (0, 1):
            for metric, values in (("e2e_latency_s", e2e), ("ttft_s", ttft)):
                sel = (model == m) & (hours == h) & ~np.isnan(values)
                row = out.filter(
                    (pl.col("model") == m)
                    & (pl.col("window_start") == T0 + dt.timedelta(hours=h))
                    & (pl.col("metric") == metric)
                )
                assert row.height == 1
                x = values[sel]
                assert row["count"][0] == len(x)
                assert row["mean"][0] == pytest.approx(x.mean(), rel=1e-12)
                for name, q in zip(NAMES, QS, strict=True):
                    assert row[name][0] == pytest.approx(np.quantile(x, q, method="linear"), rel=1e-12)
                rows += 1
    assert out.height == rows == 12


@pytest.mark.parametrize(
    "values",
    [[3.0], [5.0, 1.0], [2.0, 2.0, 2.0, 7.0, 7.0, 1.0], [0.0, 0.0], list(np.arange(10.0))],
)
def test_percentiles_small_samples_and_ties(values):
    out = latency.percentiles(requests_frame(e2e_latency_s=values), metrics=["e2e_latency_s"])
    for name, q in zip(NAMES, QS, strict=True):
        assert out[name][0] == pytest.approx(np.quantile(values, q, method="linear"), abs=1e-15)
    assert out["count"][0] == len(values)
    # far too few values for any interval or trust in the tail
    assert out["p99_ci_low"][0] is None and out["p99_9_reliable"][0] is False


def test_literal_percentiles_n2():
    out = latency.percentiles(requests_frame(e2e_latency_s=[1.0, 3.0]), metrics=["e2e_latency_s"])
    assert out.select(NAMES).row(0) == pytest.approx((2.0, 2.8, 2.9, 2.98, 2.998))


def test_ok_only_and_nulls():
    df = requests_frame(
        e2e_latency_s=[1.0, 2.0, 100.0, None],
        ttft_s=[0.1, None, 0.5, 0.2],
        status=["ok", "ok", "error", "ok"],
    )
    ok = latency.percentiles(df, metrics=["e2e_latency_s", "ttft_s"])
    assert ok.select("metric", "count", "p50").rows() == [
        ("e2e_latency_s", 2, 1.5),
        ("ttft_s", 2, pytest.approx(0.15)),
    ]
    every = latency.percentiles(df, metrics=["e2e_latency_s"], ok_only=False)
    assert every["count"][0] == 3 and every["p50"][0] == 2.0


@pytest.mark.parametrize("n", [1, 5, 36, 37, 59, 60, 100, 299, 300, 500, 1500])
@pytest.mark.parametrize("q", QS)
def test_ci_ranks_against_exact_binomial(n, q):
    assert ci_ranks(n, q, 0.95) == brute_ranks(n, q, 0.95)


def test_ci_values_are_those_order_statistics_and_cover():
    rng = np.random.default_rng(5)
    x = rng.exponential(1.0, 400)
    out = latency.percentiles(requests_frame(e2e_latency_s=x), metrics=["e2e_latency_s"], confidence=0.9)
    s = np.sort(x)
    for name, q in zip(NAMES, QS, strict=True):
        ranks = brute_ranks(400, q, 0.9)
        if ranks is None:
            assert out[f"{name}_ci_low"][0] is None and out[f"{name}_ci_high"][0] is None
            continue
        assert out[f"{name}_ci_low"][0] == s[ranks[0] - 1]
        assert out[f"{name}_ci_high"][0] == s[ranks[1] - 1]
        assert out[f"{name}_ci_low"][0] <= out[name][0] <= out[f"{name}_ci_high"][0]
    # p50, n = 400, 90%: ranks 184 and 217, as the normal approximation 200 +- 1.645 * 10 suggests
    assert brute_ranks(400, 0.5, 0.9) == (184, 217)


def test_large_n_ci_ranks_cover_at_least_the_confidence():
    # n too large for the brute force: check coverage with a normal-free exact sum in numpy logs
    n, q = 200_000, 0.99
    lo, hi = ci_ranks(n, q, 0.95)
    k = np.arange(n + 1)
    logpmf = (
        np.array([math.lgamma(n + 1)])
        - np.vectorize(math.lgamma)(k + 1)
        - np.vectorize(math.lgamma)(n - k + 1)
        + k * math.log(q)
        + (n - k) * math.log1p(-q)
    )
    pmf = np.exp(logpmf)
    assert pmf[lo:hi].sum() >= 0.95
    assert pmf[:lo].sum() <= 0.025 < pmf[: lo + 1].sum()
    assert pmf[hi:].sum() <= 0.025 < pmf[hi - 1 :].sum()


def test_reliable_rule_thresholds():
    for n, expect in ((999, (True, True, True, False, False)), (1000, (True, True, True, True, False))):
        out = latency.percentiles(
            requests_frame(e2e_latency_s=np.linspace(0, 1, n)), metrics=["e2e_latency_s"]
        )
        assert tuple(out[f"{p}_reliable"][0] for p in NAMES) == expect
    out = latency.percentiles(
        requests_frame(e2e_latency_s=np.linspace(0, 1, 10_000)), metrics=["e2e_latency_s"]
    )
    assert out["p99_9_reliable"][0] is True
    out = latency.percentiles(requests_frame(e2e_latency_s=np.linspace(0, 1, 19)), metrics=["e2e_latency_s"])
    assert out["p50_reliable"][0] is False


def test_tail_latency_worked_number():
    rng = np.random.default_rng(9)
    x_ms = rng.lognormal(mean=np.log(800), sigma=0.45, size=5000)
    out = latency.percentiles(requests_frame(e2e_latency_s=x_ms / 1000), metrics=["e2e_latency_s"])
    got = [round(out[p][0] * 1000, 1) for p in ("p50", "p90", "p95", "p99")]
    assert got == [807.1, 1437.6, 1688.6, 2232.7]


def test_duckdb_quantile_cont_agrees():
    rng = np.random.default_rng(11)
    df = requests_frame(e2e_latency_s=rng.lognormal(0, 1, 3000), model=rng.choice(["x", "y"], 3000))
    ours = latency.percentiles(df, metrics=["e2e_latency_s"], by="model")
    con = duckdb.connect()
    con.register("r", df.to_arrow())
    for q, name in zip(QS, NAMES, strict=True):
        ref = dict(
            con.execute(
                "select model, quantile_cont(e2e_latency_s, ?) from r where status = ? group by model",
                [q, "ok"],
            ).fetchall()
        )
        for model, value in zip(ours["model"], ours[name], strict=True):
            assert value == pytest.approx(ref[model], rel=1e-12)


def test_itl_pools_every_gap():
    df = requests_frame(
        itl_s=[[0.01, 0.02, 0.03], [0.5], None, [0.04, 0.05]],
        status=["ok", "ok", "ok", "error"],
    )
    out = latency.itl_percentiles(df)
    pooled = [0.01, 0.02, 0.03, 0.5]
    assert out["metric"].to_list() == ["itl_s"] and out["count"][0] == 4
    assert out["p90"][0] == pytest.approx(np.percentile(pooled, 90))
    assert out["mean"][0] == pytest.approx(np.mean(pooled))
    assert latency.itl_percentiles(requests_frame(e2e_latency_s=[1.0])).height == 0


def test_latency_budget_small_literal():
    # five requests sorted by e2e; the p50 request is the third, the p99 one the fifth
    df = requests_frame(
        e2e_latency_s=[2.0, 1.0, 3.0, 10.0, 4.0],
        queue_time_s=[0.2, 0.1, 0.5, 4.0, 0.4],
        prefill_time_s=[0.3, 0.2, None, 1.0, 0.6],
        ttft_s=[0.5, 0.3, 1.5, 5.0, 1.0],
        decode_time_s=[1.4, 0.6, 1.2, 4.5, 2.9],
    )
    out = latency.latency_budget(df)
    p50 = out.filter(pl.col("at") == "p50").row(0, named=True)
    # rank 2 is the e2e 3.0 request: prefill from ttft - queue = 1.0, post = 3 - .5 - 1 - 1.2
    assert (p50["queue_s"], p50["prefill_s"], p50["decode_s"], p50["e2e_s"]) == pytest.approx(
        (0.5, 1.0, 1.2, 3.0)
    )
    assert p50["post_s"] == pytest.approx(0.3) and p50["band_requests"] == 1
    p99 = out.filter(pl.col("at") == "p99").row(0, named=True)
    assert (p99["e2e_s"], p99["post_s"]) == pytest.approx((10.0, 0.5))
    shares = [p99[f"share_{c}"] for c in ("queue", "prefill", "decode", "post")]
    assert shares == pytest.approx([0.4, 0.1, 0.45, 0.05]) and sum(shares) == pytest.approx(1.0)


def test_latency_budget_band_against_numpy():
    rng = np.random.default_rng(3)
    n = 2000
    q_, p_, d_, post = (
        rng.exponential(0.1, n),
        rng.exponential(0.2, n),
        rng.exponential(1.0, n),
        rng.uniform(0, 0.05, n),
    )
    e2e = q_ + p_ + d_ + post
    out = latency.latency_budget(
        requests_frame(e2e_latency_s=e2e, queue_time_s=q_, prefill_time_s=p_, decode_time_s=d_)
    )
    order = np.argsort(e2e, kind="stable")
    for at, lo, hi in (("p50", 0.495, 0.505), ("p99", 0.985, 0.995)):
        band = order[int(np.floor(lo * (n - 1) + 0.5)) : int(np.floor(hi * (n - 1) + 0.5)) + 1]
        row = out.filter(pl.col("at") == at).row(0, named=True)
        assert row["band_requests"] == len(band) > 10
        assert row["queue_s"] == pytest.approx(q_[band].mean())
        assert row["decode_s"] == pytest.approx(d_[band].mean())
        assert row["post_s"] == pytest.approx(post[band].mean())


def test_budget_from_components_worked_number():
    b = latency.budget_from_components(
        queue_s=0.030, prefill_s=0.250, output_tokens=80, tpot_s=0.025, post_s=0.015
    )
    assert round(b["ttft_s"] * 1000, 6) == 280.0
    assert round(b["decode_s"] * 1000, 6) == 2000.0
    assert round(b["e2e_s"] * 1000, 6) == 2295.0
    with pytest.raises(TraceanaError):
        latency.budget_from_components(-1.0, 0.2, 3, 0.1, 0.0)


def test_bad_input():
    with pytest.raises(SchemaError, match="ttft"):
        latency.percentiles(pl.DataFrame({"status": ["ok"]}), metrics=["ttft_s"])
    with pytest.raises(TraceanaError):
        latency.percentiles([1, 2, 3])
    with pytest.raises(TraceanaError):
        latency.percentiles(requests_frame(e2e_latency_s=[1.0]), metrics=["e2e_latency_s"], confidence=1.5)
    with pytest.raises(TraceanaError, match="window length"):
        latency.percentiles(requests_frame(e2e_latency_s=[1.0]), every="banana")
    empty = latency.percentiles(requests_frame(e2e_latency_s=[1.0], status=["error"]), by="model")
    assert empty.height == 0 and "p99_9_ci_high" in empty.columns and "model" in empty.columns


def test_group_without_values_for_a_metric_has_no_row():
    df = requests_frame(
        e2e_latency_s=[1.0, 2.0, 3.0, 4.0],
        ttft_s=[0.1, 0.3, None, float("nan")],
        model=["a", "a", "b", "b"],
    )
    out = latency.percentiles(df, metrics=["ttft_s", "e2e_latency_s"], by="model")
    assert out.select("model", "metric", "count").rows() == [
        ("a", "ttft_s", 2),
        ("a", "e2e_latency_s", 2),
        ("b", "e2e_latency_s", 2),
    ]
    assert out["p50"].to_list() == pytest.approx([0.2, 1.5, 3.5])
    none = latency.percentiles(df, metrics=["queue_time_s"], by="model")
    assert none.height == 0 and "p50_ci_low" in none.columns


def test_two_keys_with_nulls_sort_nulls_first_and_match_numpy():
    rng = np.random.default_rng(4)
    n = 500
    model = [None if x == "-" else x for x in rng.choice(["b", "a", "-"], n)]
    route = [None if x == "-" else x for x in rng.choice(["chat", "batch", "-"], n)]
    e2e = rng.lognormal(0.0, 1.0, n)
    df = requests_frame(e2e_latency_s=e2e, model=model, route=route)
    out = latency.percentiles(df, metrics=["e2e_latency_s"], by=["model", "route"])

    def sort_key(k):  # nulls first within each key, then text order
        return tuple((v is not None, v or "") for v in k)

    groups = sorted({(m, r) for m, r in zip(model, route, strict=True)}, key=sort_key)
    assert list(zip(out["model"], out["route"], strict=True)) == groups
    for row, (m, r) in zip(out.iter_rows(named=True), groups, strict=True):
        x = e2e[[mm == m and rr == r for mm, rr in zip(model, route, strict=True)]]
        assert row["count"] == len(x)
        for q, name in zip(QS, NAMES, strict=True):
            assert row[name] == np.quantile(x, q, method="linear") or row[name] == pytest.approx(
                np.quantile(x, q, method="linear"), rel=1e-15
            )


def test_without_confidence_same_percentiles_and_no_intervals():
    rng = np.random.default_rng(5)
    n = 3000
    ttft = rng.lognormal(-1, 0.8, n)
    ttft[rng.choice(n, 300, replace=False)] = np.nan  # per-group finite counts differ
    arrivals = [T0 + dt.timedelta(seconds=float(s)) for s in np.sort(rng.uniform(0, 3600, n))]
    df = requests_frame(ttft_s=pa.array(ttft, from_pandas=True), arrival_time=arrivals)
    with_ci = latency.percentiles(df, metrics=["ttft_s"], every="5m")
    bare = latency.percentiles(df, metrics=["ttft_s"], every="5m", confidence=None)
    same = ["window_start", "metric", "count", "mean", *NAMES]
    assert bare.select(same).equals(with_ci.select(same)) and bare.height == 12
    assert with_ci["p50_ci_low"].null_count() == 0
    for name in NAMES:
        assert bare[f"{name}_ci_low"].null_count() == bare[f"{name}_ci_high"].null_count() == bare.height
