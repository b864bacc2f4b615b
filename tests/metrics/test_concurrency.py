from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from traceana.errors import TraceanaError
from traceana.metrics import concurrency as cc
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


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def overlap(a: float, d: float, lo: float, hi: float) -> float:
    return max(0.0, min(d, hi) - max(a, lo))


def test_worked_numbers():
    assert cc.littles_law(20, 1.5) == 30.0
    assert cc.mm1_response_time(0.2, 0.8) == pytest.approx(1.0, abs=1e-12)
    for rho in (1.0, 1.5, -0.1):
        with pytest.raises(TraceanaError):
            cc.mm1_response_time(0.2, rho)


def test_whole_trace_littles_law_is_exact():
    rng = np.random.default_rng(2)
    n = 800
    arrival = np.sort(rng.uniform(0, 600, n))
    e2e = rng.lognormal(0, 0.8, n)
    df = requests_frame(arrival_s=arrival, e2e_latency_s=e2e, instance=rng.choice(["i1", "i2"], n))
    s = cc.summary(df)
    t = float((np.round(arrival * 1e6) / 1e6 + e2e).max() - np.round(arrival[0] * 1e6) / 1e6)
    assert s["seconds"] == pytest.approx(t, rel=1e-12)
    assert s["arrivals"] == n
    assert s["littles_law_L"] == pytest.approx(e2e.sum() / t, rel=1e-12)
    assert abs(s["empirical_mean"] - s["littles_law_L"]) < 1e-9
    assert s["verdict"].startswith("consistent")
    # per instance on the shared whole-trace window, still exact
    per = cc.sweep(df, by="instance")
    assert per.height == 2
    for row in per.iter_rows(named=True):
        assert abs(row["empirical_mean"] - row["littles_law_L"]) < 1e-9


def test_window_cut_difference_is_what_clipped_requests_explain():
    rng = np.random.default_rng(4)
    n = 400
    arrival = np.round(np.sort(rng.uniform(0, 100, n)), 6)
    e2e = rng.exponential(3.0, n)
    df = requests_frame(arrival_s=arrival, e2e_latency_s=e2e)
    lo, hi = 30.0, 70.0
    s = cc.summary(df, start=at(lo), end=at(hi))
    t = hi - lo
    inside = (arrival >= lo) & (arrival < hi)
    dep = arrival + e2e
    littles = e2e[inside].sum() / t
    measured = sum(overlap(a, d, lo, hi) for a, d in zip(arrival, dep, strict=True)) / t
    carried_in = sum(overlap(a, d, lo, hi) for a, d in zip(arrival[~inside], dep[~inside], strict=True))
    cut_off = np.maximum(dep[inside] - hi, 0).sum()
    assert s["arrivals"] == inside.sum() and s["seconds"] == t
    assert s["littles_law_L"] == pytest.approx(littles, rel=1e-12)
    assert s["empirical_mean"] == pytest.approx(measured, rel=1e-12)
    assert s["empirical_mean"] - s["littles_law_L"] == pytest.approx((carried_in - cut_off) / t, abs=1e-9)
    assert s["ratio"] == pytest.approx(measured / littles, rel=1e-12)


def brute_grid(arrival_ms, e2e_ms, inst, lo_ms, hi_ms, every_ms):
    """In-flight count sampled mid-way through every millisecond (events lie on whole ms)."""
    mid = np.arange(lo_ms, hi_ms) + 0.5
    out = {}
    for g in sorted(set(inst)):
        sel = inst == g
        count = (
            (arrival_ms[sel][None, :] <= mid[:, None]) & (mid[:, None] < (arrival_ms + e2e_ms)[sel][None, :])
        ).sum(1)
        for w0 in range(lo_ms, hi_ms, every_ms):
            c = count[(mid >= w0) & (mid < w0 + every_ms)]
            srt = np.sort(c)
            p99 = srt[-(-99 * len(srt) // 100) - 1]  # smallest c with time share(<= c) >= 0.99
            out[(g, w0)] = (c.mean(), c.max(), p99)
    return out


def test_sweep_against_grid_brute_force():
    rng = np.random.default_rng(7)
    n = 300
    arrival_ms = np.sort(rng.integers(0, 6000, n))
    e2e_ms = rng.integers(1, 900, n)
    e2e_ms[:20] = 1000 - (arrival_ms[:20] % 1000)  # end exactly on a window boundary
    e2e_ms[20:30] = rng.integers(1500, 3500, 10)  # span three or four windows
    inst = rng.choice(["a", "b"], n)
    df = requests_frame(arrival_s=arrival_ms / 1000, e2e_latency_s=e2e_ms / 1000, instance=inst)
    out = cc.sweep(df, by="instance", every="1s", start=at(0), end=at(7))
    ref = brute_grid(arrival_ms, e2e_ms, inst, 0, 7000, 1000)
    assert out.height == len(ref) == 14
    for row in out.iter_rows(named=True):
        mean, peak, p99 = ref[(row["instance"], round((row["window_start"] - T0).total_seconds() * 1000))]
        assert row["empirical_mean"] == pytest.approx(mean, abs=1e-9)
        assert row["empirical_max"] == peak
        assert row["empirical_p99"] == p99


def test_departure_before_arrival_at_equal_times_and_exclusions():
    df = requests_frame(
        arrival_s=[0.0, 1.0, 2.0, 2.0, 3.0, 4.0],
        e2e_latency_s=[1.0, 1.0, 0.0, None, 1.0, 0.25],
        status=["ok", "ok", "ok", "ok", "error", "timeout"],
    )
    s = cc.summary(df)
    # back-to-back requests never overlap; the zero-length and null-e2e ones are not in flight;
    # the failed ones (with an e2e) are
    assert s["empirical_max"] == 1
    assert s["arrivals"] == 5
    assert s["seconds"] == 4.25
    assert s["empirical_mean"] == pytest.approx(3.25 / 4.25)
    assert s["littles_law_L"] == pytest.approx(3.25 / 4.25)


def test_carried_in_and_cut_verdicts():
    df = requests_frame(arrival_s=[0.0, 9.0], e2e_latency_s=[5.0, 5.0])
    early = cc.summary(df, start=at(2), end=at(8))  # one request carried in, no arrivals
    assert early["arrivals"] == 0 and early["littles_law_L"] == 0 and early["ratio"] is None
    assert early["empirical_mean"] == pytest.approx(0.5) and early["verdict"].startswith("no arrivals")
    late = cc.summary(df, start=at(8), end=at(12))  # an arrival cut at the window end
    assert late["littles_law_L"] == pytest.approx(5 / 4) and late["empirical_mean"] == pytest.approx(3 / 4)
    assert late["verdict"].startswith("measured concurrency is lower")
    mid = cc.summary(df, start=at(3), end=at(10))
    assert mid["ratio"] == pytest.approx((2 + 1) / 5) and mid["verdict"].startswith(
        "measured concurrency is lower"
    )
    both = cc.summary(
        requests_frame(arrival_s=[0.0, 1.0, 4.0], e2e_latency_s=[4.0, 3.5, 0.5]), start=at(2), end=at(6)
    )
    assert both["ratio"] == pytest.approx((2 + 2.5 + 0.5) / 0.5) and "higher" in both["verdict"]
    with pytest.raises(TraceanaError):
        cc.summary(df, start=at(5), end=at(5))
    for bad in ("1 minute", "", 60):
        with pytest.raises(TraceanaError, match="window length"):
            cc.sweep(df, every=bad)
        with pytest.raises(TraceanaError, match="window length"):
            cc.utilization(df, every=bad)


def test_in_flight_series_and_engine_comparison():
    df = requests_frame(
        arrival_s=[0.0, 10.0, 30.0, 70.0],
        e2e_latency_s=[20.0, 40.0, 10.0, 5.0],
        instance=["a", "a", "a", "b"],
    )
    series = cc.in_flight_series(df, every="1m")
    assert series.columns[:3] == ["window_start", "mean_in_flight", "max_in_flight"]
    # window [0, 60): 20 + 40 + 10 = 70 s in flight; [60, 75): 5 s
    assert series["mean_in_flight"].to_list() == pytest.approx([70 / 60, 5 / 15])
    assert series["max_in_flight"].to_list() == [2, 1]
    assert series["littles_law_L"].to_list() == pytest.approx([70 / 60, 5 / 15])
    engine = pl.DataFrame(
        {
            "time": [at(5), at(25), at(65), at(61), at(200)],
            "instance": ["a", "a", "a", "b", "b"],
            "num_running": [1.0, 2.0, 0.0, 1.0, 9.0],
            "num_waiting": [0.0, 1.0, None, 0.0, 0.0],
        }
    )
    out = cc.engine_vs_littles(df, engine, every="1m")
    rows = {(r["instance"], r["window_start"]): r for r in out.iter_rows(named=True)}
    assert rows[("a", at(0))]["scraped_mean"] == pytest.approx(2.0) and rows[("a", at(0))]["samples"] == 2
    assert rows[("a", at(60))]["scraped_mean"] == 0.0
    assert rows[("b", at(0))]["scraped_mean"] is None and rows[("b", at(0))]["samples"] == 0
    assert rows[("b", at(60))]["scraped_mean"] == 1.0  # the sample at 200 s lies past the trace


def test_utilization_and_queue_bins():
    df = requests_frame(
        arrival_s=[0.0, 1.0, 2.0, 3.0, 60.0, 61.0],
        e2e_latency_s=[2.0, 3.0, 2.0, 1.0, 4.0, 2.0],
        queue_time_s=[0.5, None, 1.0, 0.0, 2.0, 0.0],
        instance=["a", "b", "a", "a", "a", None],
        model=["m"] * 6,
    )
    u = cc.utilization(df, every="1m")
    first, second = u.row(0, named=True), u.row(1, named=True)
    # window 1 [0, 60): service = 1.5, 3, 1, 1 -> S = 1.625; 4 arrivals / 60 s; 2 instances
    assert first["arrival_rate_per_s"] == pytest.approx(4 / 60) and first["replicas"] == 2
    assert first["mu_per_replica"] == pytest.approx(1 / 1.625)
    assert first["rho"] == pytest.approx(4 / 60 * 1.625 / 2)
    assert first["mean_queue_s"] == pytest.approx(0.5)
    # window 2 [60, 64): clipped to the last completion (61 + 2 = 63... 60 + 4 = 64)
    assert second["seconds"] == 4.0 and second["replicas"] == 1
    assert second["rho"] == pytest.approx(2 / 4 * 2.0)
    fixed = cc.utilization(df, every="1m", replicas={"m": 4})
    assert fixed["replicas"].to_list() == [4, 4]
    with pytest.raises(TraceanaError):
        cc.utilization(df, replicas={"other": 1})
    q = cc.queue_vs_utilization(df, every="1m", bins=2)
    # rho 0.0542 and 1.0: bins of width 0.5 over [0, 1]
    assert q["rho_bin_mid"].to_list() == pytest.approx([0.25, 0.75])
    assert q["observed_mean_queue_s"].to_list() == pytest.approx([0.5, 1.0])
    s_all = (1.5 + 3 + 1 + 1 + 2 + 2) / 6
    assert q["mm1_response_s"].to_list() == pytest.approx([s_all / 0.75, s_all / 0.25])


@pytest.mark.parametrize("dense_bins", [0, 10**7])
def test_time_weighted_quantile_both_paths(monkeypatch, dense_bins):
    from traceana.metrics import _stats

    monkeypatch.setattr(_stats, "DENSE_BINS", dense_bins)
    rng = np.random.default_rng(1)
    window = np.sort(rng.integers(0, 40, 3000))
    level = rng.integers(0, 25, 3000)
    duration = rng.integers(1, 1000, 3000)
    got = _stats.time_quantile_levels(window, level, duration, 42, 0.99)
    for w in range(42):
        sel = window == w
        if not sel.any():
            assert got[w] == 0
            continue
        # expand every segment to its duration in unit steps: the plain definition of the quantile
        samples = np.sort(np.repeat(level[sel], duration[sel]))
        assert got[w] == samples[-(-99 * len(samples) // 100) - 1]


def test_duckdb_reference_for_a_cut_window():
    import duckdb

    rng = np.random.default_rng(12)
    n = 500
    df = requests_frame(
        arrival_s=np.round(np.sort(rng.uniform(0, 300, n)), 6),
        e2e_latency_s=rng.gamma(2.0, 4.0, n),
        instance=rng.choice(["x", "y", "z"], n),
    )
    lo, hi = at(100), at(200)
    ours = cc.sweep(df, by="instance", start=lo, end=hi)
    con = duckdb.connect()
    con.register("r", df.select("instance", "arrival_time", "e2e_latency_s").to_arrow())
    ref = con.execute(
        """
        select instance,
               count(*) filter (where arrival_time >= $lo and arrival_time < $hi) as arrivals,
               coalesce(sum(e2e_latency_s) filter (where arrival_time >= $lo and arrival_time < $hi), 0)
                   / $t as littles_law_l,
               sum(greatest(0, least(rel + e2e_latency_s, $t) - greatest(rel, 0))) / $t as empirical_mean
        from (select *, (epoch_us(arrival_time) - epoch_us($lo)) / 1e6 as rel from r)
        group by instance order by instance
        """,
        {"lo": lo, "hi": hi, "t": 100.0},
    ).fetchall()
    assert ours["instance"].to_list() == [row[0] for row in ref]
    assert ours["arrivals"].to_list() == [row[1] for row in ref]
    assert ours["littles_law_L"].to_list() == pytest.approx([row[2] for row in ref], rel=1e-9)
    assert ours["empirical_mean"].to_list() == pytest.approx([row[3] for row in ref], rel=1e-9)


def brute_inflight(gid, a, d, bounds, n_groups, q):
    """Max and time-weighted q-quantile of the in-flight count per (group, window) from the
    elementary intervals between all event times (Python ints, exact fractions)."""
    from fractions import Fraction

    peak, p_q = [], []
    for g in range(n_groups):
        reqs = [(int(x), int(y)) for gg, x, y in zip(gid, a, d, strict=True) if gg == g and y > x]
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            points = sorted({lo, hi} | {t for r in reqs for t in r if lo < t < hi})
            time_at: dict[int, int] = {}
            for p0, p1 in zip(points[:-1], points[1:], strict=True):
                level = sum(1 for x, y in reqs if x <= p0 < y)
                time_at[level] = time_at.get(level, 0) + (p1 - p0)
            peak.append(max(time_at))
            total, acc = sum(time_at.values()), 0
            for level in sorted(time_at):
                acc += time_at[level]
                if acc >= Fraction(str(q)) * total:
                    p_q.append(level)
                    break
    return np.array(peak), np.array(p_q)


@pytest.mark.parametrize("scale", [1_000, 2**59])  # 2**59 ns: the packed key does not fit, lexsort path
def test_inflight_by_window_against_elementary_intervals(scale):
    from traceana.metrics import _stats

    rng = np.random.default_rng(scale % 97)
    for _ in range(8):
        n_groups, n = int(rng.integers(1, 4)), int(rng.integers(0, 40))
        a = rng.integers(0, 8, n) * (scale // 8)
        d = a + rng.integers(0, 5, n) * (scale // 8)  # shared times, zero-length requests
        gid = rng.integers(0, n_groups, n)
        bounds = np.unique(rng.integers(1, 12, 4)) * (scale // 8)
        if len(bounds) < 2:
            bounds = np.array([scale // 8, scale], dtype=np.int64)
        order = rng.permutation(n)  # the input order must not matter
        peak, p99 = _stats.inflight_by_window(gid[order], a[order], d[order], bounds, n_groups, 0.99)
        ref_peak, ref_p99 = brute_inflight(gid, a, d, bounds, n_groups, 0.99)
        assert peak.tolist() == ref_peak.tolist()
        assert p99.tolist() == ref_p99.tolist()
        _, p50 = _stats.inflight_by_window(gid, a, d, bounds, n_groups, 0.5)
        assert p50.tolist() == brute_inflight(gid, a, d, bounds, n_groups, 0.5)[1].tolist()


@pytest.mark.parametrize("every", ["1m", "7s", "1h"])
def test_summary_and_series_equal_the_separate_calls(every):
    rng = np.random.default_rng(11)
    n = 4000
    arrival = np.sort(rng.uniform(0, 900, n)).round(6)
    e2e = rng.lognormal(0.5, 1.2, n)
    e2e[rng.random(n) < 0.05] = np.nan  # unknown occupancy: left out by both
    df = requests_frame(
        arrival_s=arrival.tolist(), e2e_latency_s=[None if np.isnan(x) else float(x) for x in e2e]
    )
    whole, series = cc.summary_and_series(df, every=every)
    alone = cc.summary(df)
    assert whole.keys() == alone.keys()
    for k, v in alone.items():
        assert whole[k] == (pytest.approx(v, rel=1e-12) if isinstance(v, float) else v), k
    sep = cc.in_flight_series(df, every=every)
    assert series.columns == sep.columns and series.height == sep.height > 0
    assert series.drop("mean_in_flight").equals(sep.drop("mean_in_flight"))
    assert np.allclose(series["mean_in_flight"].to_numpy(), sep["mean_in_flight"].to_numpy(), rtol=1e-12)
    # and the max over the whole span is the largest window max
    assert whole["empirical_max"] == series["max_in_flight"].max()


def test_summary_and_series_of_nothing():
    df = requests_frame(arrival_s=[1.0], e2e_latency_s=[None])
    whole, series = cc.summary_and_series(df)
    assert whole["arrivals"] == 0 and series.height == 0


@pytest.mark.parametrize("window", [(None, None), (95.0, 1300.0)])
def test_fleet_table_in_time_slices_equals_one_pass(monkeypatch, window):
    """Above SWEEP_CHUNK_ROWS the fleet table is computed slice by slice: same rows, same max/p99."""
    rng = np.random.default_rng(23)
    n = 6000
    arrival = np.concatenate((rng.uniform(0, 500, n // 2), rng.uniform(700, 1200, n // 2)))  # a gap
    e2e = rng.lognormal(0.0, 1.5, n)
    e2e[:40] = rng.uniform(200, 900, 40)  # requests in flight across several slices
    e2e[40:60] = 0.0
    df = requests_frame(arrival_s=arrival.round(6).tolist(), e2e_latency_s=e2e.tolist())
    start, end = (at(window[0]), at(window[1])) if window[0] is not None else (None, None)
    one = cc.sweep(df, by=(), every="1m", start=start, end=end)
    whole_one, series_one = cc.summary_and_series(df, every="1m") if start is None else (None, None)
    monkeypatch.setattr(cc, "SWEEP_CHUNK_ROWS", 700)
    calls = []
    at_once = cc._window_table_at_once
    monkeypatch.setattr(cc, "_window_table_at_once", lambda *a: calls.append(a[0].height) or at_once(*a))
    sliced = cc.sweep(df, by=(), every="1m", start=start, end=end)
    assert len(calls) >= 5 and max(calls) < n  # sliced: each slice holds part of the requests
    assert sliced.height == one.height > 15
    exact = ["window_start", "window_end", "arrivals", "empirical_max", "empirical_p99"]
    assert sliced.select(exact).equals(one.select(exact))
    for c in ("seconds", "empirical_mean", "littles_law_L", "mean_latency_s"):
        assert np.allclose(sliced[c].to_numpy(), one[c].to_numpy(), rtol=1e-9, equal_nan=True), c
    if whole_one is not None:
        whole, series = cc.summary_and_series(df, every="1m")
        assert series.select("window_start", "max_in_flight").equals(
            series_one.select("window_start", "max_in_flight")
        )
        for k, v in whole_one.items():
            assert whole[k] == (pytest.approx(v, rel=1e-9) if isinstance(v, float) else v), k
        assert whole == {**whole, "empirical_p99": cc.summary(df)["empirical_p99"]}
