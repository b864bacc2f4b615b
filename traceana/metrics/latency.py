"""Latency family: exact percentiles with confidence intervals, ITL, latency budget.

Definitions (DESIGN.md section 3): percentiles interpolate linearly between
order statistics (numpy ``method="linear"`` = DuckDB ``quantile_cont``); the
served-latency tables use ok requests only (``ok_only=True``); failed requests
count against SLOs elsewhere. All durations are float seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from traceana.errors import TraceanaError
from traceana.metrics._stats import (
    PERCENTILES,
    as_lazy,
    check_every,
    ci_ranks,
    group_ids,
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


def _values(col: str) -> pl.Expr:
    value = pl.col(col).cast(pl.Float64)
    return value.filter(value.is_finite())


def _ci_index_lists(counts: np.ndarray, confidence: float) -> tuple[list[int], list[list[int]]]:
    """For each distinct n: 0-based indices [l-1, u-1] per percentile (0, 0 when there are no ranks)."""
    sizes = [int(n) for n in np.unique(counts)]
    lists = []
    for n in sizes:
        idx: list[int] = []
        for q in PERCENTILES:
            ranks = ci_ranks(n, q, confidence) if n else None
            idx += [ranks[0] - 1, ranks[1] - 1] if ranks else [0, 0]
        lists.append(idx if n else [])
    return sizes, lists


def _summarize(lf: pl.LazyFrame, keys: list[str], columns: Sequence[str], confidence: float) -> pl.DataFrame:
    """Long table (keys..., metric, stats) for each value column, from two grouped passes.

    Pass 1: count, mean and the linear percentiles (polars group quantiles). Pass 2:
    the CI order statistics, gathered from each group's sorted values at ranks that
    depend only on the group's n (known after pass 1).
    """
    if not 0 < float(confidence) < 1:
        raise TraceanaError(f"confidence must lie in (0, 1), got {confidence}")
    group = keys or ["_all"]
    if not keys:
        lf = lf.with_columns(_all=pl.lit(0))
    first = []
    for i, col in enumerate(columns):
        v = _values(col)
        first += [v.len().cast(pl.Int64).alias(f"{i}|count"), v.mean().alias(f"{i}|mean")]
        first += [v.quantile(q, interpolation="linear").alias(f"{i}|{pct_name(q)}") for q in PERCENTILES]
    stats = lf.group_by(group).agg(first).collect()
    second, plans = [], {}
    for i, col in enumerate(columns):
        counts = stats[f"{i}|count"].to_numpy()
        if not counts.any():
            continue
        sizes, lists = _ci_index_lists(counts, confidence)
        plans[i] = sizes, lists
        v = _values(col)
        where = v.len().replace_strict(sizes, lists, return_dtype=pl.List(pl.Int64)).explode().drop_nulls()
        second.append(v.sort().gather(where).alias(f"{i}|ci"))
    if not plans:
        return _empty(dict(lf.select(keys).collect_schema()))
    cis = lf.group_by(group).agg(second).collect()
    stats = stats.join(cis, on=group, how="left", nulls_equal=True)
    n_q = len(PERCENTILES)
    parts = []
    for i, col in enumerate(columns):
        if i not in plans:
            continue
        part = stats.filter(pl.col(f"{i}|count") > 0)
        counts = part[f"{i}|count"].to_numpy()
        order = part[f"{i}|ci"].list.to_array(2 * n_q).to_numpy().reshape(-1, 2 * n_q)
        out = {"metric": [col] * part.height, "count": counts, "mean": part[f"{i}|mean"].to_numpy()}
        for q in PERCENTILES:
            out[pct_name(q)] = part[f"{i}|{pct_name(q)}"].to_numpy()
        for j, q in enumerate(PERCENTILES):
            has = np.array([ci_ranks(int(n), q, confidence) is not None for n in counts], dtype=bool)
            out[f"{pct_name(q)}_ci_low"] = pl.Series(np.where(has, order[:, 2 * j], np.nan)).fill_nan(None)
            out[f"{pct_name(q)}_ci_high"] = pl.Series(np.where(has, order[:, 2 * j + 1], np.nan)).fill_nan(
                None
            )
            out[f"{pct_name(q)}_reliable"] = counts >= min_reliable_n(q)
        frame = pl.DataFrame(out)
        parts.append(pl.concat([part.select(keys), frame], how="horizontal") if keys else frame)
    order_of = {c: i for i, c in enumerate(columns)}
    return (
        pl.concat(parts)
        .with_columns(_m=pl.col("metric").replace_strict(order_of, return_dtype=pl.Int64))
        .sort([*keys, "_m"], nulls_last=False)
        .drop("_m")
    )


def percentiles(
    lf: pl.LazyFrame | pl.DataFrame,
    metrics: Sequence[str] = LATENCY_METRICS,
    by: str | Sequence[str] = (),
    every: str | None = None,
    ok_only: bool = True,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """Exact latency percentiles per group (and window), one row per metric.

    Formula:
        pXX = linear interpolation at h = (n - 1) * q between order statistics
              (numpy method="linear", DuckDB quantile_cont), q in PERCENTILES;
        mean = sum(x) / n; count = n = non-null finite values of that metric.
        pXX_ci_low / pXX_ci_high = order statistics x_(l), x_(u) with
              P(l <= B < u) >= confidence, B ~ Binomial(n, q), equal-tailed
              (distribution-free); null when n is too small for such ranks.
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
    gid, table = group_ids(df, keys)
    df = df.with_columns(_g=pl.Series(gid)).sort(["_g", "e2e"])
    counts = np.bincount(df["_g"].to_numpy())
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    csum = {
        c: np.concatenate(([0.0], np.cumsum(df[c].to_numpy()))) for c in ("e2e", "queue", "prefill", "decode")
    }
    parts = []
    for label, q in (("p50", 0.5), ("p99", 0.99)):
        lo = np.floor((q - BUDGET_BAND) * (counts - 1) + 0.5).astype(np.int64).clip(0, counts - 1)
        hi = np.floor((q + BUDGET_BAND) * (counts - 1) + 0.5).astype(np.int64).clip(0, counts - 1)
        band = hi - lo + 1
        mean = {c: (s[offsets + hi + 1] - s[offsets + lo]) / band for c, s in csum.items()}
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
                   measured TPOT of DESIGN divides by output_tokens - 1)
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
