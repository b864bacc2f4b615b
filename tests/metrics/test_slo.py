"""traceana.metrics.slo: error budget, attainment, burn series, multi-window alerts, goodput."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from traceana.config import SLO, parse_filter
from traceana.errors import ConfigError, TraceanaError
from traceana.metrics import slo as m

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DAY = 86400.0


def minute(i: int) -> datetime:
    return T0 + timedelta(minutes=i)


def requests(rows: list[tuple]) -> pl.DataFrame:
    """rows: (arrival offset s, status, ttft_s, e2e_latency_s)."""
    return pl.DataFrame(
        {
            "arrival_time": [T0 + timedelta(seconds=r[0]) for r in rows],
            "status": [r[1] for r in rows],
            "ttft_s": [r[2] for r in rows],
            "e2e_latency_s": [r[3] for r in rows],
            "model": ["a" if i % 2 == 0 else "b" for i in range(len(rows))],
        },
        schema_overrides={
            "arrival_time": pl.Datetime("us", "UTC"),
            "ttft_s": pl.Float64,
            "e2e_latency_s": pl.Float64,
        },
    )


# --------------------------------------------------------------------------- error budget


def test_error_budget_worked_number():
    b = m.error_budget(2_000_000, 0.995)
    assert b == 10000 and isinstance(b, int)
    assert m.error_budget(1234, 0.99) == pytest.approx(12.34)
    assert m.error_budget(1000, 0.999) == 1 and isinstance(m.error_budget(1000, 0.999), int)
    assert m.error_budget(0, 0.99) == 0


# --------------------------------------------------------------------------- good / evaluate


def test_is_good_failed_and_null_are_bad():
    df = requests(
        [
            (0, "ok", 1.0, 2.0),
            (1, "ok", 3.0, 4.0),
            (2, "error", 0.1, 0.2),
            (3, "ok", None, 1.0),
            (4, None, 0.1, 0.1),
            (5, "ok", 2.0, 3.0),
        ]
    )
    slo = SLO("t", 0.9, "ttft_s", "lte", 2.0)
    assert df.select(m.is_good(slo))["status"].to_list() == [True, False, False, False, False, True]
    lt = SLO("t", 0.9, "ttft_s", "lt", 2.0)
    assert df.select(m.is_good(lt))["status"].to_list() == [True, False, False, False, False, False]
    gte = SLO("t", 0.9, "ttft_s", "gte", 2.0)
    assert df.select(m.is_good(gte))["status"].to_list() == [False, True, False, False, False, True]
    avail = SLO("a", 0.9)
    assert df.select(m.is_good(avail))["status"].to_list() == [True, True, False, True, False, True]


def test_evaluate_hand_counts():
    # 10 requests: 1 error, 1 ok without ttft, 2 ok over 2 s, 6 ok under.
    rows = [(i, "ok", 0.5, 1.0) for i in range(6)] + [
        (6, "ok", 2.5, 3.0),
        (7, "ok", 9.0, 9.5),
        (8, "ok", None, 1.0),
        (9, "error", None, None),
    ]
    slos = [
        SLO("ttft", 0.8, "ttft_s", "lte", 2.0),
        SLO("avail", 0.95),
        SLO("a-only", 0.5, total_filter=parse_filter("model = a")),
    ]
    out = {r["name"]: r for r in m.evaluate(requests(rows), slos).to_dicts()}
    t = out["ttft"]
    assert (t["total"], t["bad"], t["unmeasured"]) == (10, 4, 1)
    assert t["attainment"] == pytest.approx(0.6)
    assert t["allowed_bad"] == pytest.approx(2.0)
    assert t["budget_remaining"] == pytest.approx(1 - 4 / 2)
    assert t["met"] is False and t["budget_exhausted"] is True
    a = out["avail"]
    assert (a["total"], a["bad"], a["attainment"]) == (10, 1, 0.9)
    assert a["allowed_bad"] == pytest.approx(0.5) and a["met"] is False
    # model a = even rows 0,2,4,6,8: all ok
    s = out["a-only"]
    assert (s["total"], s["bad"], s["met"], s["budget_remaining"]) == (5, 0, True, 1.0)


def test_evaluate_window_and_exact_met():
    # 200 requests at 0.995: exactly 1 bad allowed. Met at 1 bad, not at 2.
    rows = [(i, "ok", 0.1, 0.2) for i in range(200)]
    rows[5] = (5, "error", None, None)
    slo = SLO("avail", 0.995)
    r = m.evaluate(requests(rows), [slo]).row(0, named=True)
    assert (r["bad"], r["allowed_bad"], r["met"], r["budget_exhausted"], r["budget_remaining"]) == (
        1,
        1.0,
        True,
        True,
        0.0,
    )
    rows[6] = (6, "timeout", None, None)
    r = m.evaluate(requests(rows), [slo]).row(0, named=True)
    assert (r["met"], r["budget_remaining"]) == (False, -1.0)
    # window [start, end) excludes both failures (arrivals at 5 s and 6 s)
    r = m.evaluate(
        requests(rows), [slo], start=T0 + timedelta(seconds=7), end=T0 + timedelta(seconds=107)
    ).row(0, named=True)
    assert (r["total"], r["bad"], r["met"]) == (100, 0, True)


def test_evaluate_empty():
    r = m.evaluate(requests([]), [SLO("a", 0.99)]).row(0, named=True)
    assert (r["total"], r["attainment"], r["budget_remaining"], r["met"]) == (0, None, None, True)


# --------------------------------------------------------------------------- burn series


def test_burn_series_fills_gaps_and_burns_down():
    # minute 0: 4 requests, 1 bad; minute 1: none; minute 2: 2 requests, 2 bad. objective 0.9.
    rows = [
        (0, "ok", 1, 1),
        (10, "ok", 1, 1),
        (20, "error", None, None),
        (59, "ok", 1, 1),
        (125, "error", None, None),
        (170, "ok", 5, 6),
    ]
    s = m.burn_series(requests(rows), SLO("t", 0.9, "ttft_s", "lte", 2.0))
    assert s["window_start"].to_list() == [minute(0), minute(1), minute(2)]
    assert s["total"].to_list() == [4, 0, 2]
    assert s["bad"].to_list() == [1, 0, 2]
    assert s["bad_fraction"].to_list() == [0.25, None, 1.0]
    assert (
        s["burn_rate"][0] == pytest.approx(2.5)
        and s["burn_rate"][1] is None
        and s["burn_rate"][2] == pytest.approx(10.0)
    )
    # allowed over 6 requests = 0.6; remaining 1 - 1/0.6, then 1 - 3/0.6 = -4
    assert s["budget_remaining"].to_list() == pytest.approx([1 - 1 / 0.6, 1 - 1 / 0.6, -4.0])


# --------------------------------------------------------------------------- alert policies


def test_factors_reproduce_sre_table_for_30_days():
    w = m.alert_windows(SLO("x", 0.999, period_s=30 * DAY), "sloth").to_dicts()
    got = [(r["severity"], r["long_window"], r["short_window"], r["budget_fraction"], r["factor"]) for r in w]
    assert got == [
        ("page", "1h", "5m", 0.02, 14.4),
        ("page", "6h", "30m", 0.05, 6.0),
        ("ticket", "1d", "2h", 0.1, 3.0),
        ("ticket", "3d", "6h", 0.1, 1.0),
    ]
    assert [r["factor"] for r in m.alert_windows(SLO("x", 0.999), "sre").to_dicts()] == [14.4, 6.0, 1.0]


def test_factors_scale_to_a_7_day_slo():
    # 7 d = 168 h: 0.02*168/1 = 3.36, 0.05*168/6 = 1.4, 0.1*168/24 = 0.7, 0.1*168/72 = 0.2333...
    w = m.alert_windows(SLO("x", 0.999, period_s=7 * DAY), "sloth")
    assert w["factor"].to_list() == pytest.approx([3.36, 1.4, 0.7, 7 / 30], rel=1e-12)


def test_unknown_policy():
    with pytest.raises(ConfigError, match="Allowed: sre, sloth"):
        m.alert_windows(SLO("x", 0.99), "google")


def hand_series() -> pl.DataFrame:
    """180 minutes of 100 requests each; minutes 60..69 are all bad; objective 0.99 (30 d).

    Hand computation (burn = bad fraction / 0.01):
    - page 1h/5m @14.4: the 1h window ending at minute i holds min(10, i-59) bad minutes of 60.
      9 bad minutes -> 900/6000 -> 15 > 14.4 first at i=68 (8 -> 13.3). The 5m window is
      clean (0 bad) first at i=74 (minutes 70..74) -> clears at 74. Peak 1h burn 1000/6000 -> 16.67.
    - page 6h/30m @6: the 6h window is truncated to minutes 0..i: 400/6400 -> 6.25 first at i=63
      (62: 300/6300 -> 4.76). The 30m window (i-29..i) holds one bad minute at i=98: 100/3000
      -> 3.33, two at i=97 -> 6.67: clears at 98. Peak 6h burn at i=69: 1000/7000 -> 14.2857.
    - ticket 3d/6h @1: both windows are 0..i: 100/6100 -> 1.64 at i=60; never back to 1 within
      180 minutes (needs i+1 >= 1000): still firing at the end.
    """
    n = 180
    bad = np.zeros(n, dtype=np.int64)
    bad[60:70] = 100
    return pl.DataFrame(
        {
            "window_start": pl.datetime_range(
                minute(0), minute(n - 1), "1m", time_unit="us", time_zone="UTC", eager=True
            ),
            "total": np.full(n, 100, dtype=np.int64),
            "bad": bad,
        }
    )


def test_alerts_fire_and_clear_at_hand_computed_minutes():
    got = m.alerts(hand_series(), SLO("t", 0.99, "ttft_s", "lte", 2.0), "sre")
    simple = [
        (a["severity"], a["long_window"], a["short_window"], a["factor"], a["fired_at"], a["cleared_at"])
        for a in got
    ]
    assert simple == [
        ("ticket", "3d", "6h", 1.0, minute(60), None),
        ("page", "6h", "30m", 6.0, minute(63), minute(98)),
        ("page", "1h", "5m", 14.4, minute(68), minute(74)),
    ]
    assert got[2]["peak_burn_rate"] == pytest.approx(1000 / 6000 / 0.01)
    assert got[1]["peak_burn_rate"] == pytest.approx(1000 / 7000 / 0.01)


def test_alerts_from_burn_series_of_raw_requests():
    # The same story built from requests: one request per 0.6 s, 100 per minute.
    rows = [(i * 0.6, "error" if 60 * 100 <= i < 70 * 100 else "ok", 0.1, 0.2) for i in range(180 * 100)]
    series = m.burn_series(requests(rows), SLO("t", 0.99, "ttft_s", "lte", 2.0))
    assert series["total"].to_list() == [100] * 180
    page = [a for a in m.alerts(series, SLO("t", 0.99, "ttft_s", "lte", 2.0)) if a["long_window"] == "1h"]
    assert [(a["fired_at"], a["cleared_at"]) for a in page] == [(minute(68), minute(74))]


def test_alerts_need_contiguous_buckets():
    s = hand_series().filter(pl.col("window_start") != minute(5))
    with pytest.raises(TraceanaError, match="contiguous"):
        m.alerts(s, SLO("t", 0.99))


def test_quiet_series_no_alerts():
    s = hand_series().with_columns(bad=pl.lit(0, pl.Int64))
    assert m.alerts(s, SLO("t", 0.99)) == []


# --------------------------------------------------------------------------- goodput


def test_goodput_whole_trace():
    # arrivals 0, 10, 20, 30 s; last completion 30 + 10 = 40 s -> window 40 s.
    rows = [(0, "ok", 1.0, 5.0), (10, "ok", 3.0, 5.0), (20, "error", 0.5, 1.0), (30, "ok", 0.5, 10.0)]
    g = m.goodput(requests(rows), {"ttft_s": 2.0, "e2e_latency_s": 30}).row(0, named=True)
    assert (g["window_s"], g["total"], g["good"]) == (40.0, 4, 2)
    assert g["goodput_per_s"] == pytest.approx(2 / 40) and g["fraction"] == 0.5
    g = m.goodput(requests(rows), {"ttft_s": 2.0, "e2e_latency_s": 6}).row(0, named=True)
    assert g["good"] == 1


def test_goodput_per_window_and_bad_threshold():
    rows = [(0, "ok", 1.0, 5.0), (10, "ok", 3.0, 5.0), (70, "ok", 0.5, 1.0)]
    g = m.goodput(requests(rows), {"ttft_s": 2.0}, every="1m")
    assert g["window_start"].to_list() == [minute(0), minute(1)]
    assert g["good"].to_list() == [1, 1] and g["goodput_per_s"].to_list() == pytest.approx([1 / 60, 1 / 60])
    with pytest.raises(ConfigError, match="thresholds.ttft"):
        m.goodput(requests(rows), {"ttft": 2.0})


def test_evaluate_counts_only_the_last_period():
    # 3 days of hourly requests; a 1-day SLO sees the last 24 h (arrival >= last - 1 d: 25 requests).
    # Errors in day 1 are outside it; one error at hour 60 is inside.
    rows = [(h * 3600, "error" if h < 24 or h == 60 else "ok", 0.1, 0.2) for h in range(72)]
    day, month = SLO("day", 0.9, period_s=DAY), SLO("month", 0.9)
    out = {r["name"]: r for r in m.evaluate(requests(rows), [day, month]).to_dicts()}
    assert (out["day"]["total"], out["day"]["bad"]) == (25, 1)
    assert out["day"]["period_start"] == T0 + timedelta(hours=71) - timedelta(days=1)
    assert (out["month"]["total"], out["month"]["bad"]) == (72, 25)
    # an explicit end anchors the period: [end - 1 d, end) = hours 24..47
    r = m.evaluate(requests(rows), [day], end=T0 + timedelta(hours=48)).row(0, named=True)
    assert (r["total"], r["bad"]) == (24, 0)


def brute_force_episodes(total, bad, objective, long_k, short_k, factor):
    """Explicit loops, no cumsum: (fire index, clear index or None) pairs."""

    def burn(i, k):
        lo = max(0, i - k + 1)
        t, b = sum(total[lo : i + 1]), sum(bad[lo : i + 1])
        return (b / t if t else 0.0) / (1 - objective)

    firing = [burn(i, long_k) > factor and burn(i, short_k) > factor for i in range(len(total))]
    out, start = [], None
    for i, f in enumerate(firing):
        if f and start is None:
            start = i
        if not f and start is not None:
            out.append((start, i))
            start = None
    if start is not None:
        out.append((start, None))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_alerts_match_brute_force_on_random_series(seed):
    rng = np.random.default_rng(seed)
    n = 400
    total = rng.integers(0, 30, n)
    rate = np.where((np.arange(n) // 40) % 3 == 1, 0.3, 0.002)  # bursts of bad minutes
    bad = rng.binomial(total, rate)
    series = pl.DataFrame(
        {
            "window_start": pl.datetime_range(
                minute(0), minute(n - 1), "1m", time_unit="us", time_zone="UTC", eager=True
            ),
            "total": total.astype(np.int64),
            "bad": bad.astype(np.int64),
        }
    )
    slo = SLO("t", 0.99, period_s=7 * DAY)
    got = m.alerts(series, slo, "sloth")
    for w in m.ALERT_POLICIES["sloth"]:
        want = brute_force_episodes(
            total.tolist(), bad.tolist(), 0.99, int(w.long_s // 60), int(w.short_s // 60), w.factor(7 * DAY)
        )
        mine = [(a["fired_at"], a["cleared_at"]) for a in got if a["long_window"] == m._label(w.long_s)]
        assert mine == [(minute(a), minute(b) if b is not None else None) for a, b in want]
