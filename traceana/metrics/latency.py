"""Latency family: exact percentiles with confidence intervals, ITL, latency budget.

Definitions: percentiles interpolate linearly between
order statistics (numpy ``method="linear"`` = DuckDB ``quantile_cont``); the
served-latency tables use ok requests only (``ok_only=True``); failed requests
count against SLOs elsewhere. All durations are float seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from traceana.errors import TraceanaError
from traceana.metrics._stats import (
    PERCENTILES,
    as_lazy,
    check_every,
    ci_ranks,
    group_rows,
    min_reliable_n,
    pct_name,
    require_columns,
)

__all__ = [
    "PERCENTILES",
    "LATENCY_METRICS",
    "BUDGET_BAND",
    "percentiles",
    "itl_percentiles",
    "latency_budget",
    "budget_from_components",
]

LATENCY_METRICS = ("ttft_s", "tpot_s", "e2e_latency_s", "queue_time_s", "prefill_time_s", "decode_time_s")

# latency_budget averages the requests whose e2e rank lies within +-0.5
# percentile points of the target percentile (at least the nearest-rank request).
BUDGET_BAND = 0.005


def _keys(by: str | Sequence[str]) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _prepare(
    lf: pl.LazyFrame | pl.DataFrame, by: Sequence[str], every: str | None, ok_only: bool, cols: Sequence[str]
) -> tuple[pl.LazyFrame, list[str]]:
    lf = as_lazy(lf)
    check_every(every)
    keys = _keys(by)
    need = keys + list(cols) + (["status"] if ok_only else []) + (["arrival_time"] if every else [])
    require_columns(lf, list(dict.fromkeys(need)))
    if ok_only:
        lf = lf.filter(pl.col("status") == "ok")
    if every:
        lf = lf.with_columns(window_start=pl.col("arrival_time").dt.truncate(every))
        keys = keys + ["window_start"]
    return lf, keys


def _stat_columns() -> list[str]:
    cols = ["count", "mean"] + [pct_name(q) for q in PERCENTILES]
    for q in PERCENTILES:
        cols += [f"{pct_name(q)}_ci_low", f"{pct_name(q)}_ci_high", f"{pct_name(q)}_reliable"]
    return cols


def _empty(key_schema: dict[str, pl.DataType]) -> pl.DataFrame:
    schema: dict[str, pl.DataType] = dict(key_schema)
    schema["metric"] = pl.String()
    for c in _stat_columns():
        schema[c] = pl.Int64() if c == "count" else pl.Boolean() if c.endswith("_reliable") else pl.Float64()
    return pl.DataFrame(schema=schema)


def _order_stats(seg: np.ndarray, confidence: float | None) -> tuple[list[float], list[float | None]]:
    """Linear percentiles and CI order statistics of one group's values (``seg`` is reordered in place).

    One ``np.partition`` with every needed rank as kth: the floor/ceil ranks of
    h = (n - 1) q and the CI ranks l - 1, u - 1. Interpolation lo + (hi - lo) * f
    (polars / numpy ``method="linear"``).
    """
    n = len(seg)
    lows, fracs, cis, kth = [], [], [], set()
    for q in PERCENTILES:
        h = (n - 1) * q
        i = min(int(math.floor(h)), n - 1)
        lows.append(i)
        fracs.append(h - i)
        kth.update((i, min(i + 1, n - 1)))
        ranks = ci_ranks(n, q, confidence) if confidence is not None else None
        cis.append(ranks)
        if ranks:
            kth.update((ranks[0] - 1, ranks[1] - 1))
    seg.partition(sorted(kth))
    pcts = []
    for i, f in zip(lows, fracs, strict=True):
        lo = float(seg[i])
        pcts.append(lo if f == 0 else lo + (float(seg[min(i + 1, n - 1)]) - lo) * f)
    bounds: list[float | None] = []
    for ranks in cis:
        bounds += [float(seg[ranks[0] - 1]), float(seg[ranks[1] - 1])] if ranks else [None, None]
    return pcts, bounds


def _summarize(
    lf: pl.LazyFrame, keys: list[str], columns: Sequence[str], confidence: float | None
) -> pl.DataFrame:
    """Long table (keys..., metric, stats) for each value column, from one collect.

    The rows are grouped once (hash group-by -> row order per group); per metric the
    grouped values are gathered, non-finite values dropped, and each group's
    percentiles and CI order statistics come from one multi-kth ``np.partition``
    (O(n) selection, no sort); mean = pairwise sum / n.
    """
    if confidence is not None and not 0 < float(confidence) < 1:
        raise TraceanaError(f"confidence must lie in (0, 1), got {confidence}")
    schema = lf.collect_schema()
    # string keys load as categoricals (sorted lexically, like strings): no string per row is
    # materialized (100M rows: ~2 GB less); the key table is cast back below
    key_cols = [pl.col(k).cast(pl.Categorical) if schema[k] == pl.String else pl.col(k) for k in keys]
    df = lf.select(*key_cols, *(pl.col(c).cast(pl.Float64) for c in columns)).collect()
    if keys:
        order, sizes, table = group_rows(df, keys)
        table = table.with_columns(pl.col(pl.Categorical).cast(pl.String))
    else:  # one group: no index array, no gather (100M rows: 0.8 GB and ~2 s per metric less)
        order, sizes, table = None, np.array([df.height], dtype=np.int64), pl.DataFrame()
    ends = np.cumsum(sizes)
    n_q = len(PERCENTILES)
    rows: list[tuple[int, int]] = []  # (group, metric)
    counts, means, pcts, bounds = [], [], [], []
    for m, col in enumerate(columns):
        # a fresh writable copy in group order (nulls are NaN); the column leaves the frame
        series = df.drop_in_place(col)
        values = series.to_numpy(writable=True) if order is None else series.to_numpy()[order]
        del series
        finite = np.isfinite(values)
        if finite.all():
            per = sizes
        else:  # few non-finite values as a rule: count them per group by position
            bad = np.flatnonzero(~finite)
            per = sizes - np.bincount(np.searchsorted(ends, bad, side="right"), minlength=len(sizes))
            del bad
            values = values[finite]
        del finite
        cut = np.concatenate(([0], np.cumsum(per)))
        for g in np.nonzero(per)[0]:
            seg = values[cut[g] : cut[g + 1]]
            rows.append((int(g), m))
            counts.append(int(per[g]))
            means.append(float(np.sum(seg)) / len(seg))
            p, b = _order_stats(seg, confidence)
            pcts.append(p)
            bounds.append(b)
    if not rows:
        return _empty(dict(lf.select(keys).collect_schema()))
    rows_sorted = sorted(range(len(rows)), key=lambda r: rows[r])
    count = np.array(counts, dtype=np.int64)[rows_sorted]
    out: dict[str, object] = {
        "metric": [columns[rows[r][1]] for r in rows_sorted],
        "count": count,
        "mean": np.array(means, dtype=np.float64)[rows_sorted],
    }
    pct = np.array(pcts, dtype=np.float64).reshape(-1, n_q)[rows_sorted]
    for j, q in enumerate(PERCENTILES):
        out[pct_name(q)] = pct[:, j]
    for j, q in enumerate(PERCENTILES):
        name = pct_name(q)
        out[f"{name}_ci_low"] = pl.Series([bounds[r][2 * j] for r in rows_sorted], dtype=pl.Float64)
        out[f"{name}_ci_high"] = pl.Series([bounds[r][2 * j + 1] for r in rows_sorted], dtype=pl.Float64)
        out[f"{name}_reliable"] = count >= min_reliable_n(q)
    frame = pl.DataFrame(out)
    if not keys:
        return frame
    which = pl.Series([rows[r][0] for r in rows_sorted], dtype=pl.Int64)
    return pl.concat([table[which], frame], how="horizontal")


def percentiles(
    lf: pl.LazyFrame | pl.DataFrame,
    metrics: Sequence[str] = LATENCY_METRICS,
    by: str | Sequence[str] = (),
    every: str | None = None,
    ok_only: bool = True,
    confidence: float | None = 0.95,
) -> pl.DataFrame:
    """Exact latency percentiles per group (and window), one row per metric.

    Formula:
        pXX = linear interpolation at h = (n - 1) * q between order statistics
              (numpy method="linear", DuckDB quantile_cont), q in PERCENTILES;
        mean = sum(x) / n; count = n = non-null finite values of that metric.
        pXX_ci_low / pXX_ci_high = order statistics x_(l), x_(u) with
              P(l <= B < u) >= confidence, B ~ Binomial(n, q), equal-tailed
              (distribution-free); null when n is too small for such ranks, and
              for every row with ``confidence=None`` (a chart's many small
              windows: no CI work at all).
        pXX_reliable = n * (1 - q) >= 10: p50 needs n >= 20, p90 100, p95 200,
              p99 1000, p99.9 10000.
    Units: seconds (as the metric columns).

    Rows: (by..., [window_start], metric); ``every`` is a polars duration
    ("1m", "1h") truncating arrival_time. ``ok_only`` keeps status == "ok".
    Null / NaN values are left out per metric; a group with no value for a
    metric has no row for it.
    """
    metrics = list(metrics)
    lf, keys = _prepare(lf, by, every, ok_only, metrics)
    return _summarize(lf.select(keys + metrics), keys, metrics, confidence)


def itl_percentiles(
    lf: pl.LazyFrame | pl.DataFrame,
    by: str | Sequence[str] = (),
    ok_only: bool = True,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Percentiles of individual inter-token gaps, pooled over requests (token-weighted).

    Formula: every element of every ``itl_s`` list is one observation; then as
    :func:`percentiles` (metric "itl_s"). Units: seconds. Empty frame when no
    request carries ITL data.
    """
    lf, keys = _prepare(lf, by, None, ok_only, ["itl_s"])
    gaps = lf.select(keys + ["itl_s"]).filter(pl.col("itl_s").list.len() > 0).explode("itl_s")
    return _summarize(gaps, keys, ["itl_s"], confidence)


def _rank_band(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Positions in ``x`` of the values whose stable ascending rank (ties by position) is lo..hi.

    A selection (np.partition, O(n)) instead of a sort: the values strictly between
    the lo-th and the hi-th are all in; of the values equal to either end, the ones
    a stable sort would rank inside the band, in position order.
    """
    part = np.partition(x, (lo, hi))
    v_lo, v_hi = part[lo], part[hi]
    below = int(np.count_nonzero(x < v_lo))
    at_lo = np.flatnonzero(x == v_lo)
    if v_lo == v_hi:
        return at_lo[lo - below : hi - below + 1]
    inside = np.flatnonzero((x > v_lo) & (x < v_hi))
    at_hi = np.flatnonzero(x == v_hi)
    first_hi = below + len(at_lo) + len(inside)  # rank of the first value equal to v_hi
    return np.concatenate((at_lo[lo - below :], inside, at_hi[: hi - first_hi + 1]))


def latency_budget(
    lf: pl.LazyFrame | pl.DataFrame, by: str | Sequence[str] = (), ok_only: bool = True
) -> pl.DataFrame:
    """Where the time goes for the p50 and the p99 request: e2e = queue + prefill + decode + post.

    Formula, per group, over requests with e2e, queue, prefill and decode all known
    (prefill falls back to ttft - queue when prefill_time_s is null):
        sort by e2e (0-based rank r, n requests); for q in (0.5, 0.99) take the band
        of ranks round((q - 0.005)(n - 1)) .. round((q + 0.005)(n - 1)) (half up):
        the nearest-rank request for small n, the mean of ~1% of requests for large n.
        queue_s, prefill_s, decode_s, e2e_s = band means; post_s = e2e_s - queue_s
        - prefill_s - decode_s (the remainder: network, detokenization, gateway);
        share_x = x_s / e2e_s (the four shares sum to 1; post may be negative when
        a source's components overlap).
    Units: seconds; shares are fractions. Columns: by..., at ("p50"/"p99"),
    requests (complete rows in the group), band_requests, the components, shares.
    """
    lf, keys = _prepare(
        lf, by, None, ok_only, ["e2e_latency_s", "queue_time_s", "prefill_time_s", "ttft_s", "decode_time_s"]
    )
    comp = lf.select(
        *keys,
        e2e=pl.col("e2e_latency_s").cast(pl.Float64),
        queue=pl.col("queue_time_s").cast(pl.Float64),
        prefill=pl.coalesce(pl.col("prefill_time_s"), pl.col("ttft_s") - pl.col("queue_time_s")).cast(
            pl.Float64
        ),
        decode=pl.col("decode_time_s").cast(pl.Float64),
    ).filter(pl.all_horizontal(pl.col(c).is_finite() for c in ("e2e", "queue", "prefill", "decode")))
    df = comp.collect()
    if not df.height:
        schema = dict(df.select(keys).schema)
        schema.update({"at": pl.String(), "requests": pl.Int64(), "band_requests": pl.Int64()})
        for c in (
            "queue_s",
            "prefill_s",
            "decode_s",
            "post_s",
            "e2e_s",
            "share_queue",
            "share_prefill",
            "share_decode",
            "share_post",
        ):
            schema[c] = pl.Float64()
        return pl.DataFrame(schema=schema)
    # rows by group (key order); per group the band of e2e ranks by selection (_rank_band).
    # Only e2e is copied out whole; the other components are gathered at the band rows
    # (~1% of them): 100M requests, one 0.8 GB array instead of four, no index array.
    if keys:
        order, counts, table = group_rows(df, keys)
    else:
        order, counts, table = None, np.array([df.height], dtype=np.int64), pl.DataFrame()
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    e2e_all = df.drop_in_place("e2e").to_numpy()
    parts_of = {c: df.drop_in_place(c) for c in ("queue", "prefill", "decode")}
    del df
    bands = {}
    for label, q in (("p50", 0.5), ("p99", 0.99)):
        lo = np.floor((q - BUDGET_BAND) * (counts - 1) + 0.5).astype(np.int64).clip(0, counts - 1)
        hi = np.floor((q + BUDGET_BAND) * (counts - 1) + 0.5).astype(np.int64).clip(0, counts - 1)
        bands[label] = lo, hi
    names = ("e2e", "queue", "prefill", "decode")
    sums = {label: {c: np.zeros(len(counts)) for c in names} for label in bands}
    for g, (at, n) in enumerate(zip(offsets, counts, strict=True)):
        rows = None if order is None else order[at : at + n]
        e2e = e2e_all if rows is None else e2e_all[rows]
        for label, (lo, hi) in bands.items():
            pos = _rank_band(e2e, int(lo[g]), int(hi[g]))
            band = pos if rows is None else rows[pos]
            sums[label]["e2e"][g] = e2e[pos].sum()
            for c, series in parts_of.items():
                sums[label][c][g] = series.gather(band).to_numpy().sum()
    parts = []
    for label, (lo, hi) in bands.items():
        band = hi - lo + 1
        mean = {c: s / band for c, s in sums[label].items()}
        post = mean["e2e"] - mean["queue"] - mean["prefill"] - mean["decode"]
        frame = pl.DataFrame(
            {
                "at": [label] * len(counts),
                "requests": counts.astype(np.int64),
                "band_requests": band.astype(np.int64),
                "queue_s": mean["queue"],
                "prefill_s": mean["prefill"],
                "decode_s": mean["decode"],
                "post_s": post,
                "e2e_s": mean["e2e"],
            }
        ).with_columns(
            (pl.col(f"{c}_s") / pl.col("e2e_s")).alias(f"share_{c}")
            for c in ("queue", "prefill", "decode", "post")
        )
        parts.append(pl.concat([table, frame], how="horizontal") if keys else frame)
    return pl.concat(parts).sort([*keys, "at"], nulls_last=False)


def budget_from_components(
    queue_s: float, prefill_s: float, output_tokens: int, tpot_s: float, post_s: float
) -> dict[str, float]:
    """The latency budget of one request built from its parts (the seed notebook's model).

    Formula:
        ttft_s = queue_s + prefill_s
        decode_s = output_tokens * tpot_s   (the notebook counts every token; the
                   measured tpot_s (vLLM's) divides by output_tokens - 1)
        e2e_s = ttft_s + decode_s + post_s; share_x = x / e2e_s.
    Units: seconds. Worked: 0.030 + 0.250, 80 x 0.025, 0.015 -> ttft 0.280, e2e 2.295.
    """
    values = {"queue_s": queue_s, "prefill_s": prefill_s, "tpot_s": tpot_s, "post_s": post_s}
    for name, v in values.items():
        if v is None or not np.isfinite(v) or v < 0:
            raise TraceanaError(f"{name} must be a finite duration >= 0 seconds, got {v!r}")
    if output_tokens is None or output_tokens < 0:
        raise TraceanaError(f"output_tokens must be >= 0, got {output_tokens!r}")
    ttft = queue_s + prefill_s
    decode = output_tokens * tpot_s
    e2e = ttft + decode + post_s
    out = {
        "queue_s": queue_s,
        "prefill_s": prefill_s,
        "ttft_s": ttft,
        "decode_s": decode,
        "post_s": post_s,
        "e2e_s": e2e,
    }
    for name in ("queue", "prefill", "decode", "post"):
        out[f"share_{name}"] = out[f"{name}_s"] / e2e if e2e > 0 else float("nan")
    return out


# ----------------------------------------------------------------- ClickHouse variants
# The same definitions computed in ClickHouse / chDB (traceana.engines); a test holds
# each equal to its polars twin above. Only per-group result rows come back.


def _ch_levels() -> str:
    """PERCENTILES as the constant level list of quantilesExactInclusive (code constants, not user text)."""
    return ", ".join(repr(float(q)) for q in PERCENTILES)


# t-digest (quantilesTDigest) instead of the exact quantile: a few KB of state per group, which
# merges across shards; its error against the exact R-7 percentile on the 100k-request
# simulated day was <= TDIGEST_MAX_REL_ERROR (tests/engines pin it). Only behind a flag.
TDIGEST_MAX_REL_ERROR = {0.5: 0.02, 0.9: 0.02, 0.95: 0.02, 0.99: 0.02, 0.999: 0.05}


def _ch_frame(
    ch,
    keys: list[str],
    every: str | None,
    value_sql: dict[str, str],
    where: list[str],
    p,
    confidence: float | None,
    source: str,
    approximate: bool = False,
) -> pl.DataFrame:
    """Rows of :func:`_summarize` (same columns, same order) from two grouped ClickHouse queries."""
    from traceana.engines.sql import column, window_start_sql
    from traceana.engines.sql import where as where_sql

    if confidence is not None and not 0 < float(confidence) < 1:
        raise TraceanaError(f"confidence must lie in (0, 1), got {confidence}")
    group = [column(k) for k in keys]
    names = list(keys)
    if every:
        group.append(f"{window_start_sql(every, p)} AS window_start")
        names.append("window_start")
    select = [*group]
    metrics = list(value_sql)
    for i, x in enumerate(value_sql.values()):
        ok = f"isFinite({x})"
        quantiles = "quantilesTDigestIf" if approximate else "quantilesExactInclusiveIf"
        select += [
            f"countIf({ok}) AS n{i}",
            f"sumIf({x}, {ok}) AS s{i}",
            f"{quantiles}({_ch_levels()})(toFloat64({x}), {ok}) AS q{i}",
        ]
    gb = f"GROUP BY {', '.join(str(i + 1) for i in range(len(group)))}" if group else ""
    df = ch.query(f"SELECT {', '.join(select)} FROM {source} {where_sql(where)} {gb}", p.values)
    cis = None
    if confidence is not None and df.height and not approximate:  # no order statistics from a digest
        cis = _ch_ci(ch, df, group, metrics, value_sql, where, p, confidence, source, names)
    rows: list[dict] = []
    for r_i, r in enumerate(df.iter_rows(named=True)):
        for i, m in enumerate(metrics):
            n = int(r[f"n{i}"] or 0)
            if n == 0:
                continue
            row = {k: r[k] for k in names}
            row.update(metric=m, count=n, mean=float(r[f"s{i}"]) / n)
            for q, v in zip(PERCENTILES, r[f"q{i}"], strict=True):
                row[pct_name(q)] = float(v)
            for j, q in enumerate(PERCENTILES):
                b = cis[(r_i, i)] if cis is not None else None
                row[f"{pct_name(q)}_ci_low"] = b[2 * j] if b else None
                row[f"{pct_name(q)}_ci_high"] = b[2 * j + 1] if b else None
                row[f"{pct_name(q)}_reliable"] = n >= min_reliable_n(q)
            rows.append(row)
    key_schema = {k: df.schema[k] for k in names} if df.width else {k: pl.String() for k in names}
    empty = _empty(key_schema)
    if not rows:
        return empty
    out = pl.DataFrame(rows, schema=empty.schema)
    order = {m: i for i, m in enumerate(metrics)}
    out = out.with_columns(_m=pl.col("metric").replace_strict(order, return_dtype=pl.Int64))
    return out.sort([*names, "_m"], nulls_last=False).drop("_m")


def _ch_ci(
    ch,
    df: pl.DataFrame,
    group: list[str],
    metrics: list[str],
    value_sql: dict[str, str],
    where: list[str],
    p,
    confidence: float,
    source: str,
    names: list[str],
) -> dict[tuple[int, int], list[float | None]]:
    """CI order statistics x_(l), x_(u) per (result row, metric): the ranks depend on n only, so one
    n -> ranks table per metric goes in as array parameters and ClickHouse picks the elements of the
    group's sorted values (only those come back)."""
    from traceana.engines.sql import where as where_sql

    select = list(group)
    lookups = []
    for i, (_m, x) in enumerate(value_sql.items()):
        ns = sorted({int(n) for n in df[f"n{i}"].to_list() if n})
        ranks = []
        for n in ns:
            rk = []
            for q in PERCENTILES:
                lu = ci_ranks(n, q, confidence)
                rk += [lu[0], lu[1]] if lu else [0, 0]
            ranks.append(rk)
        ns_p, rk_p = p.add(ns, "Array(UInt64)"), p.add(ranks, "Array(Array(UInt64))")
        sorted_vals = f"arraySort(groupArrayIf({x}, isFinite({x})))"
        select.append(
            f"arrayMap(r -> if(r = 0, NULL, toNullable(s{i}[r])), {rk_p}[indexOf({ns_p}, length(s{i}))]) AS c{i}"
        )
        lookups.append(f"{sorted_vals} AS s{i}")
    gb = f"GROUP BY {', '.join(str(i + 1) for i in range(len(group)))}" if group else ""
    sel = ", ".join(select + lookups)
    ci = ch.query(f"SELECT {sel} FROM {source} {where_sql(where)} {gb}", p.values)
    key = [k for k in names]
    lookup = {tuple(r[k] for k in key): r for r in ci.iter_rows(named=True)}
    out: dict[tuple[int, int], list[float | None]] = {}
    for r_i, r in enumerate(df.iter_rows(named=True)):
        got = lookup.get(tuple(r[k] for k in key))
        for i in range(len(metrics)):
            vals = (got or {}).get(f"c{i}") or []
            out[(r_i, i)] = [None if v is None else float(v) for v in vals]
    return out


def percentiles_ch(
    ch,
    metrics: Sequence[str] = LATENCY_METRICS,
    by: str | Sequence[str] = (),
    every: str | None = None,
    ok_only: bool = True,
    confidence: float | None = 0.95,
    since=None,
    until=None,
    approximate: bool = False,
) -> pl.DataFrame:
    """:func:`percentiles` computed in ClickHouse (``ch``: a :class:`traceana.engines.clickhouse.ClickHouse`).

    Formula: as :func:`percentiles`; pXX = quantileExactInclusive (R-7: h = (n - 1) q,
    linear between order statistics = numpy "linear"), over the finite values per
    metric (``-If(isFinite(x))``); CI bounds are the sorted values at the ranks of
    ``ci_ranks(n, q)`` (computed here from each group's n, picked in the engine).
    Requests with since <= arrival_time < until. ``approximate``: quantilesTDigest
    instead (error up to TDIGEST_MAX_REL_ERROR), and no CI bounds (null).
    """
    from traceana.engines.sql import Params, column, window_where

    check_every(every)
    keys = _keys(by)
    p = Params()
    where = window_where(p, since, until)
    if ok_only:
        where.append(f"{column('status')} = {p.add('ok', 'String')}")
    value_sql = {m: f"toFloat64({column(m)})" for m in metrics}
    return _ch_frame(ch, keys, every, value_sql, where, p, confidence, ch.table("requests"), approximate)


def itl_percentiles_ch(
    ch,
    by: str | Sequence[str] = (),
    ok_only: bool = True,
    confidence: float = 0.95,
    since=None,
    until=None,
    approximate: bool = False,
) -> pl.DataFrame:
    """:func:`itl_percentiles` in ClickHouse: every element of every ``itl_s`` array is one observation
    (ARRAY JOIN in the engine), then as :func:`percentiles_ch` (metric "itl_s")."""
    from traceana.engines.sql import Params, column, window_where

    keys = _keys(by)
    p = Params()
    where = window_where(p, since, until)
    if ok_only:
        where.append(f"{column('status')} = {p.add('ok', 'String')}")
    source = (
        f"(SELECT {', '.join([column(k) for k in keys] + [column('arrival_time'), column('status')])}, gap "
        f"FROM {ch.table('requests')} ARRAY JOIN {column('itl_s')} AS gap)"
    )
    return _ch_frame(ch, keys, None, {"itl_s": "gap"}, where, p, confidence, source, approximate)
