"""Concurrency family: Little's law against the measured in-flight count.

Utilization (rho) and queue time against it live in :mod:`traceana.metrics.utilization`
and are re-exported here.

Definitions. In a window [a, b) of length T seconds:
lambda = arrivals in [a, b) / T (req/s), W = mean e2e latency of those arrivals
(s), L = lambda * W (requests). The empirical concurrency is the time average of
the in-flight count over [a, b), each request in flight over
[arrival, arrival + e2e) clipped to the window; also its max and time-weighted
p99 (sweep with departures before arrivals at equal times). Over the whole trace
[first arrival, last completion] every request lies inside and L equals the
time average exactly.

Requests with a null (or NaN, or negative) e2e_latency_s are left out: their
occupancy is unknown. Failed requests that have an e2e still occupied the
server and are included.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from traceana.errors import TraceanaError
from traceana.metrics._stats import (
    US,
    as_lazy,
    check_every,
    group_rows,
    inflight_by_window,
    level_stats,
    require_columns,
    to_epoch_us,
    window_grid,
)
from traceana.metrics.utilization import UTILIZATION_COLUMNS, queue_vs_utilization, utilization

__all__ = [
    "CONSISTENT_WITHIN",
    "VERDICTS",
    "verdict",
    "littles_law",
    "mm1_response_time",
    "summary",
    "sweep",
    "in_flight_series",
    "summary_and_series",
    "engine_vs_littles",
    "UTILIZATION_COLUMNS",
    "utilization",
    "queue_vs_utilization",
]

# |empirical / L - 1| within this counts as consistent
CONSISTENT_WITHIN = 0.05

TS = pl.Datetime("us", "UTC")


def littles_law(arrival_rate_per_s: float, mean_latency_s: float) -> float:
    """Formula: L = lambda * W. Units: req/s * s = requests in flight. Worked: 20 * 1.5 = 30."""
    if arrival_rate_per_s < 0 or mean_latency_s < 0:
        raise TraceanaError("arrival rate and latency must be >= 0")
    return float(arrival_rate_per_s) * float(mean_latency_s)


def mm1_response_time(service_s: float, rho: float) -> float:
    """M/M/1 response time. Formula: W = S / (1 - rho), 0 <= rho < 1. Units: s. Worked: 0.2 / 0.2 = 1.0."""
    if not 0 <= rho < 1:
        raise TraceanaError(f"utilization rho must lie in [0, 1) for a stable M/M/1 queue, got {rho}")
    if service_s < 0:
        raise TraceanaError(f"service time must be >= 0 s, got {service_s}")
    return float(service_s) / (1.0 - float(rho))


VERDICTS = {
    "idle": "idle: no requests arrived or were in flight",
    "carried": "no arrivals in the window: the in-flight requests were carried in from before it",
    "consistent": "consistent: L = lambda*W matches the measured in-flight mean within 5%",
    "lower": "measured concurrency is lower than lambda*W: requests that arrived in the window "
    "ran past its end (window cut mid-flight)",
    "higher": "measured concurrency is higher than lambda*W: requests that arrived before the window "
    "were still in flight (window starts mid-flight)",
}


def verdict(ratio: float | None, littles_law_L: float, empirical_mean: float) -> str:
    """Plain words for ratio = empirical_mean / L (consistent within CONSISTENT_WITHIN)."""
    if littles_law_L == 0:
        return VERDICTS["idle" if empirical_mean == 0 else "carried"]
    if abs(ratio - 1) <= CONSISTENT_WITHIN:
        return VERDICTS["consistent"]
    return VERDICTS["lower" if ratio < 1 else "higher"]


def _verdict_expr() -> pl.Expr:
    """verdict() as a polars expression over ratio, littles_law_L, empirical_mean."""
    ratio, big_l, emp = pl.col("ratio"), pl.col("littles_law_L"), pl.col("empirical_mean")
    return (
        pl.when((big_l == 0) & (emp == 0))
        .then(pl.lit(VERDICTS["idle"]))
        .when(big_l == 0)
        .then(pl.lit(VERDICTS["carried"]))
        .when((ratio - 1).abs() <= CONSISTENT_WITHIN)
        .then(pl.lit(VERDICTS["consistent"]))
        .when(ratio < 1)
        .then(pl.lit(VERDICTS["lower"]))
        .otherwise(pl.lit(VERDICTS["higher"]))
    )


def _keys(by: str | Sequence[str]) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _load(lf: pl.LazyFrame | pl.DataFrame, keys: list[str], extra: Sequence[str] = ()) -> pl.DataFrame:
    lf = as_lazy(lf)
    require_columns(lf, list(dict.fromkeys(["arrival_time", "e2e_latency_s", *keys, *extra])))
    schema = lf.collect_schema()
    # string keys load as categoricals (sorted lexically, like strings): no string per row
    # is materialized (100M rows: ~2 GB less); _window_table casts the key table back
    key_cols = [pl.col(k).cast(pl.Categorical) if schema[k] == pl.String else pl.col(k) for k in keys]
    return (
        lf.select(
            *key_cols,
            *extra,
            _arr=pl.col("arrival_time").cast(TS).cast(pl.Int64),
            _e2e=pl.col("e2e_latency_s").cast(pl.Float64),
        )
        .filter(pl.col("_e2e").is_finite() & (pl.col("_e2e") >= 0))
        .collect()
    )


def _empty(keys_schema: dict[str, pl.DataType]) -> pl.DataFrame:
    schema = dict(keys_schema)
    schema.update(
        window_start=TS,
        window_end=TS,
        seconds=pl.Float64(),
        arrivals=pl.Int64(),
        arrival_rate_per_s=pl.Float64(),
        mean_latency_s=pl.Float64(),
        littles_law_L=pl.Float64(),
        empirical_mean=pl.Float64(),
        empirical_max=pl.Int64(),
        empirical_p99=pl.Int64(),
        ratio=pl.Float64(),
        verdict=pl.String(),
    )
    return pl.DataFrame(schema=schema)


def _inflight_per_group(
    a_ns: np.ndarray, d_ns: np.ndarray, sizes: np.ndarray, bounds_ns: np.ndarray, q: float = 0.99
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """:func:`inflight_by_window` one group at a time (rows in group order, ``sizes`` rows each).

    Same results; the sweep's event arrays (several int64 copies of twice the rows)
    then hold one group's requests, not the whole trace's: at 100M requests on 16
    instances that is ~1 GB instead of ~10 GB. Also returns each group's time per
    in-flight level over all its windows (see :func:`level_stats`).
    """
    n_win = len(bounds_ns) - 1
    peak = np.zeros(len(sizes) * n_win, dtype=np.int64)
    p99 = np.zeros(len(sizes) * n_win, dtype=np.int64)
    hists = [np.zeros(0, dtype=np.int64)] * len(sizes)
    at = 0
    for g, n in enumerate(sizes):
        if n:
            rows = slice(at, at + n)
            cells = slice(g * n_win, (g + 1) * n_win)
            peak[cells], p99[cells], (hists[g],) = inflight_by_window(
                np.zeros(n, dtype=np.int64), a_ns[rows], d_ns[rows], bounds_ns, 1, q, totals=True
            )
        at += n
    return peak, p99, hists


# Above this many requests the whole-fleet table is computed a slice of windows at a time
SWEEP_CHUNK_ROWS = 2_000_000


def _window_table(
    df: pl.DataFrame, keys: list[str], every: str | None, start: Any, end: Any, totals: bool = False
) -> pl.DataFrame | tuple[pl.DataFrame, pl.DataFrame]:
    """The per (group, window) Little's law table of :func:`sweep` from loaded rows.

    With ``totals`` also the table of each group over the whole span [start, end)
    as one window (what ``every=None`` gives), from the same sweep.

    Without keys and above SWEEP_CHUNK_ROWS requests the windows are cut into
    consecutive slices of about that many arrivals, each computed from the requests
    that overlap it (:func:`_chunked_fleet_table`): the temporaries then scale with
    a slice, not with the trace (100M requests: ~20 GB -> a few GB).
    """
    if every is not None and not keys and df.height > SWEEP_CHUNK_ROWS:
        out = _chunked_fleet_table(df, every, start, end, SWEEP_CHUNK_ROWS)
        if out is not None:
            return out if totals else out[0]
    out, whole, _, _ = _window_table_at_once(df, keys, every, start, end)
    return (out, whole) if totals else out


def _chunked_fleet_table(
    df: pl.DataFrame, every: str, start: Any, end: Any, chunk_rows: int
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """:func:`_window_table_at_once` (no keys) slice by slice of windows; None when one slice would do.

    A slice [g_i, g_j) of the global window grid takes every request that arrives
    before g_j and is still in flight after g_i, computed with start = g_i and
    end = g_j (the last slice keeps the caller's end, so its last window still
    ends at the last completion). Arrivals are counted only in the slice they
    arrive in; in-flight time is clipped to the slice; the sweep of a slice sees
    every request in flight during it, so per-window max and p99 are exact. The
    whole-span row adds the slices' sums and merges their time-per-level
    histograms. Equal to the one-pass table up to float summation order.
    """
    arr_us = df["_arr"].to_numpy()
    e2e = df["_e2e"].to_numpy()
    start_us = to_epoch_us(start) if start is not None else int(arr_us.min())
    if end is not None:
        end_us = to_epoch_us(end)
    else:
        end_us = start_us + math.ceil(float(((arr_us - start_us) / US + e2e).max()) * US)
    if end_us <= start_us:
        return None  # the one-pass table raises the error
    grid = window_grid(start_us, end_us, every)
    n_win = len(grid) - 1
    k = np.searchsorted(grid, arr_us, side="right") - 1
    per_window = np.bincount(np.clip(k, 0, n_win - 1), minlength=n_win)
    del k
    cuts, acc = [0], 0
    for w, n in enumerate(per_window[:-1]):
        acc += int(n)
        if acc >= chunk_rows:
            cuts.append(w + 1)
            acc = 0
    if len(cuts) == 1:
        return None
    cuts.append(n_win)
    # rows bucketed by the slice they arrive in (a stable radix argsort of small ints), plus
    # the few still in flight when a later slice starts: O(rows) once, not once per slice
    edges = grid[cuts]  # slice boundaries, epoch us
    dep_us = arr_us + e2e * US  # float: only selects the overlapping rows, clipping is exact below
    small = np.int16 if len(cuts) < 2**15 else np.int32  # radix sort for 16 bits
    slice_of = np.clip(np.searchsorted(edges, arr_us, side="right") - 1, 0, len(cuts) - 2).astype(small)
    order = np.argsort(slice_of, kind="stable")
    bounds = np.searchsorted(slice_of[order], np.arange(len(cuts)))
    spill = np.flatnonzero(dep_us > edges[slice_of.astype(np.int64) + 1])  # in flight past their slice
    spill_slice, spill_dep = slice_of[spill], dep_us[spill]
    del slice_of, dep_us
    parts, spans, hist = [], [], np.zeros(0, dtype=np.int64)
    for c, (i, j) in enumerate(zip(cuts[:-1], cuts[1:], strict=True)):
        lo, hi = int(grid[i]), int(grid[j])
        carried = spill[(spill_slice < c) & (spill_dep > lo)]
        sub = df[np.concatenate((carried, order[bounds[c] : bounds[c + 1]]))]
        part, _, span, (h,) = _window_table_at_once(
            sub, [], every, start if i == 0 else lo, end if j == n_win else hi
        )
        del sub
        parts.append(part)
        spans.append(span)
        if len(h) > len(hist):
            hist = np.concatenate((hist, np.zeros(len(h) - len(hist), dtype=np.int64)))
        hist[: len(h)] += h
    del arr_us, e2e, order, spill
    total = {
        "start_us": spans[0]["start_us"],
        "end_us": spans[-1]["end_us"],
        **{k: sum(sp[k] for sp in spans) for k in ("seconds", "arrivals", "e2e_sum", "area")},
    }
    return pl.concat(parts), _whole_table(None, [], total, [hist])


def _window_table_at_once(
    df: pl.DataFrame, keys: list[str], every: str | None, start: Any, end: Any
) -> tuple[pl.DataFrame, pl.DataFrame, dict, list[np.ndarray]]:
    """:func:`_window_table` in one pass: per-window table, whole-span table, and the
    whole span's per-group sums and time-per-level histograms (to merge slices)."""
    arr_us = df["_arr"].to_numpy()
    e2e = df["_e2e"].to_numpy()
    start_us = to_epoch_us(start) if start is not None else int(arr_us.min())
    rel = (arr_us - start_us) / US  # seconds from the window start
    dep = rel + e2e
    if end is not None:
        end_us = to_epoch_us(end)
        last = (end_us - start_us) / US
    else:  # last completion, exactly; the timestamp is rounded up to the microsecond
        last = float(dep.max())
        end_us = start_us + math.ceil(last * US)
    if end_us <= start_us or last <= 0:
        raise TraceanaError("the window is empty: end must be after start (and after the first arrival)")
    grid = window_grid(start_us, end_us, every)
    bounds = (grid - start_us) / US
    bounds[-1] = last
    n_win = len(grid) - 1
    order, sizes, table = group_rows(df, keys)
    n_groups = len(sizes)
    if keys:
        gid = np.empty(len(order), dtype=np.int64)
        gid[order] = np.repeat(np.arange(n_groups, dtype=np.int64), sizes)
    else:
        gid = np.zeros(len(rel), dtype=np.int64)
    cells = n_groups * n_win

    # window of each arrival; those before the start count from the first window (clipping below)
    if n_win > 1:
        k_arr = np.searchsorted(bounds, rel, side="right")
        k_arr -= 1
        np.maximum(k_arr, 0, out=k_arr)

    # arrivals and W: requests arriving in [a, b)
    arrived = (rel >= 0) & (rel < last)
    every_one = bool(arrived.all())
    if n_win > 1:
        cell_a = gid * n_win
        cell_a += k_arr
        if not every_one:
            cell_a = cell_a[arrived]
    else:
        cell_a = gid if every_one else gid[arrived]
    arrivals = np.bincount(cell_a, minlength=cells)
    e2e_sum = np.bincount(cell_a, weights=e2e if every_one else e2e[arrived], minlength=cells)
    del cell_a, arrived

    # time in flight clipped to each window it overlaps (no sweep needed for the mean)
    live = (dep > 0) & (rel < last) & (e2e > 0)
    every_one = bool(live.all())
    rel_l, dep_l, gid_l = (rel, dep, gid) if every_one else (rel[live], dep[live], gid[live])
    if n_win > 1:
        k0 = k_arr if every_one else k_arr[live]
        del k_arr
        k1 = np.searchsorted(bounds, dep_l, side="left")
        k1 -= 1
        np.minimum(k1, n_win - 1, out=k1)
        # the piece in the first window; requests spanning windows add the rest below
        clipped = bounds[1:][k0]
        np.minimum(dep_l, clipped, out=clipped)
        clipped -= np.maximum(rel_l, bounds[k0])
        cell = gid_l * n_win
        cell += k0
        many = np.flatnonzero(k0 != k1)
        clipped[many] = 0.0  # adds +0.0: the sums of one-window pieces keep their bits
        area = np.bincount(cell, weights=clipped, minlength=cells)
        del clipped
        if len(many):  # one piece per window they overlap, k0..k1
            k0m = k0[many]
            span = k1[many] - k0m + 1
            idx = np.repeat(many, span)
            kk = np.repeat(k0m, span) + np.arange(len(idx)) - np.repeat(np.cumsum(span) - span, span)
            clipped = np.minimum(dep_l[idx], bounds[kk + 1]) - np.maximum(rel_l[idx], bounds[kk])
            area += np.bincount(cell[idx] - k0[idx] + kk, weights=clipped, minlength=cells)
        del k0, k1, cell, many
    else:
        clipped = np.minimum(dep_l, bounds[1]) - np.maximum(rel_l, bounds[0])
        area = np.bincount(gid_l, weights=clipped, minlength=cells)
        del clipped
    del rel_l, dep_l, gid_l, rel, dep, live

    # max and p99 of the in-flight count from the event sweep in integer ns, rows in
    # group order (arrival order within a group) so the sort merges a few runs
    a_ns = (arr_us - start_us) * 1000
    d_ns = a_ns + np.rint(e2e * 1e9).astype(np.int64)
    bounds_ns = (grid - start_us) * 1000
    if end is None:
        bounds_ns[-1] = max(int(d_ns.max()), int(bounds_ns[-2]) + 1)
    if keys:
        a_ns, d_ns = a_ns[order], d_ns[order]
    del order, gid
    peak, p99, hists = _inflight_per_group(a_ns, d_ns, sizes, bounds_ns)
    del a_ns, d_ns

    seconds = np.diff(bounds)
    gi = np.repeat(np.arange(n_groups), n_win)
    wi = np.tile(np.arange(n_win), n_groups)
    if keys:
        table = table.with_columns(pl.col(pl.Categorical).cast(pl.String))
    out = _little_table(
        table[gi] if keys else None,
        keys,
        grid[:-1][wi],
        grid[1:][wi],
        seconds[wi],
        arrivals,
        e2e_sum,
        area,
        peak,
        p99,
    )
    per_group = (n_groups, n_win)
    spans = {
        "start_us": np.full(n_groups, grid[0]),
        "end_us": np.full(n_groups, grid[-1]),
        "seconds": np.full(n_groups, float(bounds[-1] - bounds[0])),
        "arrivals": arrivals.reshape(per_group).sum(axis=1),
        "e2e_sum": e2e_sum.reshape(per_group).sum(axis=1),
        "area": area.reshape(per_group).sum(axis=1),
    }
    return out, _whole_table(table if keys else None, keys, spans, hists), spans, hists


def _whole_table(
    key_table: pl.DataFrame | None, keys: list[str], spans: dict, hists: list[np.ndarray]
) -> pl.DataFrame:
    """One row per group over its whole span, from the summed window cells and level histograms."""
    levels = [level_stats(h, 0.99) for h in hists]
    peak = np.array([m for m, _ in levels], dtype=np.int64)
    p99 = np.array([p for _, p in levels], dtype=np.int64)
    return _little_table(
        key_table,
        keys,
        spans["start_us"],
        spans["end_us"],
        spans["seconds"],
        spans["arrivals"],
        spans["e2e_sum"],
        spans["area"],
        peak,
        p99,
    )


def _little_table(
    key_table: pl.DataFrame | None,
    keys: list[str],
    start_us: np.ndarray,
    end_us: np.ndarray,
    seconds: np.ndarray,
    arrivals: np.ndarray,
    e2e_sum: np.ndarray,
    area: np.ndarray,
    peak: np.ndarray,
    p99: np.ndarray,
) -> pl.DataFrame:
    """Rows of :func:`sweep` from per-cell sums: arrivals, sum of their e2e, in-flight area (request-s)."""
    out = pl.DataFrame(
        {
            "window_start": pl.Series(start_us).cast(TS),
            "window_end": pl.Series(end_us).cast(TS),
            "seconds": seconds,
            "arrivals": arrivals.astype(np.int64),
            "_e2e_sum": e2e_sum,
            "empirical_mean": area / seconds,
            "empirical_max": peak,
            "empirical_p99": p99,
        }
    ).with_columns(
        arrival_rate_per_s=pl.col("arrivals") / pl.col("seconds"),
        mean_latency_s=pl.when(pl.col("arrivals") > 0).then(pl.col("_e2e_sum") / pl.col("arrivals")),
    )
    out = out.with_columns(
        littles_law_L=(pl.col("_e2e_sum") / pl.col("seconds")),  # = lambda * W
    ).with_columns(
        ratio=pl.when(pl.col("littles_law_L") > 0).then(pl.col("empirical_mean") / pl.col("littles_law_L")),
    )
    out = out.with_columns(verdict=_verdict_expr())
    if key_table is not None:
        out = pl.concat([key_table, out], how="horizontal")
    return out.select([*keys, *_empty({}).columns])


def sweep(
    lf: pl.LazyFrame | pl.DataFrame,
    by: str | Sequence[str] = ("instance",),
    every: str | None = None,
    start: Any = None,
    end: Any = None,
) -> pl.DataFrame:
    """Little's law and the measured in-flight count per group and window.

    Formula, per group and window [a, b), T = b - a seconds:
        arrival_rate_per_s = arrivals in [a, b) / T
        mean_latency_s     = W = mean e2e of those arrivals (s)
        littles_law_L      = lambda * W (requests)
        empirical_mean     = sum over requests of |[arrival, arrival + e2e) & [a, b)| / T
        empirical_max      = max in-flight count during [a, b)
        empirical_p99      = smallest c with time(in flight <= c) >= 0.99 T
        ratio              = empirical_mean / littles_law_L (null when L = 0)
    Windows: the ``every`` grid (polars duration, truncate-aligned) clipped to
    [start, end); defaults: the first arrival and the last completion of the
    whole frame (all groups share the window). Every group gets every window.
    The verdict calls |ratio - 1| <= 5% consistent.
    """
    keys = _keys(by)
    check_every(every)
    df = _load(lf, keys)
    if not df.height:
        return _empty(dict(df.select(keys).with_columns(pl.col(pl.Categorical).cast(pl.String)).schema))
    return _window_table(df, keys, every, start, end)


def summary(lf: pl.LazyFrame | pl.DataFrame, start: Any = None, end: Any = None) -> dict:
    """Little's law over one window (default: [first arrival, last completion]) as a dict.

    Keys: window_start, window_end, seconds, arrivals, arrival_rate_per_s,
    mean_latency_s, littles_law_L, empirical_mean, empirical_max (int),
    empirical_p99, ratio, verdict; formulas as :func:`sweep`. Over the default
    window littles_law_L = sum(e2e) / T = empirical_mean. Requests without an
    e2e_latency_s are left out.
    """
    return _summary_row(sweep(lf, by=(), every=None, start=start, end=end))


def _summary_row(out: pl.DataFrame) -> dict:
    if not out.height:
        return {c: None for c in out.columns} | {
            "arrivals": 0,
            "verdict": "no requests with a known e2e latency",
        }
    return out.row(0, named=True)


def _series(out: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return out.select(
        "window_start",
        *keys,
        mean_in_flight="empirical_mean",
        max_in_flight="empirical_max",
        arrival_rate_per_s="arrival_rate_per_s",
        mean_latency_s="mean_latency_s",
        littles_law_L="littles_law_L",
    ).sort(["window_start", *keys], nulls_last=False)


def in_flight_series(
    lf: pl.LazyFrame | pl.DataFrame, every: str = "1m", by: str | Sequence[str] = ()
) -> pl.DataFrame:
    """Time series for charts: window_start, by..., mean_in_flight, max_in_flight,
    arrival_rate_per_s, mean_latency_s, littles_law_L (formulas as :func:`sweep`)."""
    keys = _keys(by)
    return _series(sweep(lf, by=keys, every=every), keys)


def summary_and_series(lf: pl.LazyFrame | pl.DataFrame, every: str = "1m") -> tuple[dict, pl.DataFrame]:
    """:func:`summary` and :func:`in_flight_series` (whole fleet) from one load and one sweep.

    The whole-span row adds the windows' arrivals, e2e sums and in-flight areas
    (the same clipped pieces) and takes the max and p99 from the same sweep
    segments, so it equals :func:`summary` up to float summation order.
    """
    check_every(every)
    df = _load(lf, [])
    if not df.height:
        empty = _empty({})
        return _summary_row(empty), _series(empty, [])
    per_window, whole = _window_table(df, [], every, None, None, totals=True)
    return _summary_row(whole), _series(per_window, [])


def engine_vs_littles(
    requests_lf: pl.LazyFrame | pl.DataFrame, engine_lf: pl.LazyFrame | pl.DataFrame, every: str = "1m"
) -> pl.DataFrame:
    """Per instance and window: littles_law_L, empirical_mean (from requests) and
    scraped_mean = mean of (num_running + num_waiting) over the engine samples whose
    time falls in the window (requests; null when no sample). Also samples."""
    per = sweep(requests_lf, by=("instance",), every=every)
    eng = as_lazy(engine_lf)
    require_columns(eng, ["time", "instance", "num_running", "num_waiting"], "engine_samples")
    samples = (
        eng.select(
            "instance",
            _t=pl.col("time").cast(TS),
            _n=pl.col("num_running").fill_null(0) + pl.col("num_waiting").fill_null(0),
            _ok=pl.col("num_running").is_not_null() | pl.col("num_waiting").is_not_null(),
        )
        .filter("_ok")
        .sort("_t")
        .collect()
    )
    windows = per.select("instance", "window_start", "window_end").sort("window_start")
    joined = (
        samples.join_asof(windows, left_on="_t", right_on="window_start", by="instance", strategy="backward")
        .filter(pl.col("window_start").is_not_null() & (pl.col("_t") < pl.col("window_end")))
        .group_by("instance", "window_start")
        .agg(scraped_mean=pl.col("_n").mean(), samples=pl.len().cast(pl.Int64))
    )
    return (
        per.select("instance", "window_start", "window_end", "littles_law_L", "empirical_mean")
        .join(joined, on=["instance", "window_start"], how="left", nulls_equal=True)
        .with_columns(pl.col("samples").fill_null(0))
        .sort(["instance", "window_start"], nulls_last=False)
    )


# ----------------------------------------------------------------- ClickHouse variants
# The same definitions computed in ClickHouse / chDB (traceana.engines); a test holds
# each equal to its polars twin above. Only per-window (and per-level) rows come back.


def _ch_grid_step(grid: np.ndarray, every: str | None) -> tuple[int, int]:
    """(first inner boundary, step) of an aligned window grid, in epoch us; (0, 0) for one window.

    The engine finds a request's window by arithmetic, not by search, so the inner
    boundaries must be evenly spaced (they are for s/m/h/d windows)."""
    from traceana.engines.sql import every_us

    if len(grid) <= 2 or every is None:
        return 0, 0
    step = every_us(every)
    inner = grid[1:-1]
    if not np.array_equal(inner, inner[0] + step * np.arange(len(inner), dtype=np.int64)):
        raise TraceanaError(
            f"window length {every!r}: the windows are not evenly spaced, which ClickHouse needs"
        )
    return int(inner[0]), step


def summary_and_series_ch(
    ch, every: str = "1m", since: Any = None, until: Any = None
) -> tuple[dict, pl.DataFrame]:
    """:func:`summary_and_series` in ClickHouse, over requests with since <= arrival_time < until.

    Formula: as :func:`sweep`. In the engine: per window, the arrivals and their e2e sum,
    and the in-flight area (each request's [arrival, arrival + e2e) clipped to the windows
    it overlaps, ARRAY JOIN over those windows); the sweep as ordered +1 / -1 events
    (departures before arrivals at equal times) plus a zero marker per window boundary,
    a running sum (window function) giving the in-flight level of each segment, and the
    time per (window, level) summed. Back come one row per window and one per
    (window, level); max and p99 per window and over the whole span come from those
    (``_levels_by_window``, ``level_stats``) exactly as in the polars sweep.
    """
    from traceana.engines.sql import Params, column, where, window_where

    check_every(every)
    p = Params()
    e2e = f"toFloat64({column('e2e_latency_s')})"
    clauses = window_where(p, since, until) + [f"isFinite({e2e})", f"{e2e} >= 0"]
    a_us = f"toUnixTimestamp64Micro({column('arrival_time')})"
    base = f"SELECT {a_us} AS a_us, {e2e} AS e2e FROM {ch.table('requests')} {where(clauses)}"
    head = ch.query(f"SELECT count() AS n, min(a_us) AS start_us FROM ({base})", p.values).row(0, named=True)
    if not head["n"]:
        empty = _empty({})
        return _summary_row(empty), _series(empty, [])
    start_us = int(head["start_us"])
    s0 = p.add(start_us, "Int64")
    rows = f"SELECT a_us, e2e, (a_us - {s0}) / {US} AS rel, rel + e2e AS dep FROM ({base})"
    span = ch.query(
        f"SELECT max(dep) AS last, max((a_us - {s0}) * 1000 + toInt64(roundBankers(e2e * 1e9))) AS d_max "
        f"FROM ({rows})",
        p.values,
    ).row(0, named=True)
    last = float(span["last"])
    end_us = start_us + math.ceil(last * US)
    if end_us <= start_us or last <= 0:
        raise TraceanaError("the window is empty: end must be after start (and after the first arrival)")
    grid = window_grid(start_us, end_us, every)
    bounds = (grid - start_us) / US
    bounds[-1] = last
    n_win = len(grid) - 1
    g1, step = _ch_grid_step(grid, every)
    b = p.add([float(x) for x in bounds], "Array(Float64)")
    nw = p.add(n_win, "Int64")
    if step:  # window of a time t (us): 0 before the first inner boundary, then one per step
        g1_p, st_p = p.add(g1, "Int64"), p.add(step, "Int64")
        k_of = f"least(if(a_us >= {g1_p}, intDiv(a_us - {g1_p}, {st_p}) + 1, 0), {nw} - 1)"
        k_dep = f"least(greatest(toInt64(floor((dep * {US} - ({g1_p} - {s0})) / {st_p})) + 1, k0), {nw} - 1)"
    else:
        k_of, k_dep = "0", "0"
    cells = ch.query(
        f"SELECT k0 AS k, count() AS arrivals, sum(e2e) AS e2e_sum FROM (SELECT *, {k_of} AS k0 FROM ({rows})) "
        f"WHERE rel >= 0 AND rel < {p.number(last)} GROUP BY k",
        p.values,
    )
    area_df = ch.query(
        f"SELECT k, sum(piece) AS area FROM (SELECT arrayJoin(range(toUInt64(k0), toUInt64(k1) + 1)) AS k, "
        f"greatest(0., least(dep, {b}[k + 2]) - greatest(rel, {b}[k + 1])) AS piece "
        f"FROM (SELECT *, {k_of} AS k0, {k_dep} AS k1 FROM ({rows}) WHERE dep > 0 AND rel < {p.number(last)} AND e2e > 0)) "
        "GROUP BY k",
        p.values,
    )
    arrivals = np.zeros(n_win, dtype=np.int64)
    e2e_sum = np.zeros(n_win)
    area = np.zeros(n_win)
    arrivals[cells["k"].to_numpy()] = cells["arrivals"].to_numpy()
    e2e_sum[cells["k"].to_numpy()] = cells["e2e_sum"].to_numpy()
    area[area_df["k"].to_numpy().astype(np.int64)] = area_df["area"].to_numpy()
    # the event sweep in integer ns, in the engine
    bounds_ns = (grid - start_us) * 1000
    bounds_ns[-1] = max(int(span["d_max"]), int(bounds_ns[-2]) + 1)
    marks = p.add([int(x) for x in bounds_ns], "Array(Int64)")
    ns = (
        f"SELECT (a_us - {s0}) * 1000 AS a_ns, a_ns + toInt64(roundBankers(e2e * 1e9)) AS d_ns FROM ({base}) "
        f"WHERE d_ns > a_ns AND d_ns > {p.add(int(bounds_ns[0]), 'Int64')} AND a_ns < {p.add(int(bounds_ns[-1]), 'Int64')}"
    )
    ev = (
        f"SELECT a_ns AS t, 1 AS kind FROM ({ns}) UNION ALL SELECT d_ns AS t, 0 AS kind FROM ({ns}) "
        f"UNION ALL SELECT arrayJoin({marks}) AS t, 2 AS kind"
    )
    levels = ch.query(
        "SELECT w, lvl, sum(gap) AS dur FROM ("
        " SELECT sum(multiIf(kind = 0, -1, kind = 1, 1, 0)) OVER o AS lvl, toInt64(sum(kind = 2) OVER o) - 1 AS w,"
        "  leadInFrame(t, 1, t) OVER (ORDER BY t, kind ROWS BETWEEN CURRENT ROW AND 1 FOLLOWING) - t AS gap"
        f" FROM ({ev}) WINDOW o AS (ORDER BY t, kind ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))"
        f" WHERE gap > 0 AND w >= 0 AND w < {nw} GROUP BY w, lvl ORDER BY w, lvl",
        p.values,
    )
    from traceana.metrics._stats import _levels_by_window

    w = levels["w"].to_numpy().astype(np.int64)
    lvl = levels["lvl"].to_numpy().astype(np.int64)
    dur = levels["dur"].to_numpy().astype(np.int64)
    p99, peak = _levels_by_window(w, lvl, dur.astype(np.float64), n_win, 0.99)
    hist = np.bincount(lvl, weights=dur, minlength=int(lvl.max()) + 1 if len(lvl) else 0).astype(np.int64)
    seconds = np.diff(bounds)
    per_window = _little_table(None, [], grid[:-1], grid[1:], seconds, arrivals, e2e_sum, area, peak, p99)
    spans = {
        "start_us": np.full(1, grid[0]),
        "end_us": np.full(1, grid[-1]),
        "seconds": np.full(1, float(bounds[-1] - bounds[0])),
        "arrivals": arrivals.sum(keepdims=True),
        "e2e_sum": e2e_sum.sum(keepdims=True),
        "area": area.sum(keepdims=True),
    }
    whole = _whole_table(None, [], spans, [hist])
    return _summary_row(whole), _series(per_window, [])
