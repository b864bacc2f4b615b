"""Utilization family: rho = lambda / (replicas * mu) per window, and queue time against it.

Split from :mod:`traceana.metrics.concurrency` (which re-exports these names).
Definitions: requests with a null, NaN or negative
e2e_latency_s are left out; service time = e2e - queue_time_s (e2e when the
queue time is unknown). Windows are arrival windows on the truncate-aligned
``every`` grid, clipped to [first arrival, last completion].
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from traceana.errors import TraceanaError
from traceana.metrics._stats import US, as_lazy, check_every, require_columns

__all__ = ["UTILIZATION_COLUMNS", "utilization", "queue_vs_utilization"]

TS = pl.Datetime("us", "UTC")


def _keys(by: str | Sequence[str]) -> list[str]:
    return [by] if isinstance(by, str) else list(by)


def _service() -> pl.Expr:
    queue = pl.col("queue_time_s")
    return pl.when(queue.is_finite()).then(pl.col("e2e_latency_s") - queue).otherwise(pl.col("e2e_latency_s"))


def _util_table(
    lf: pl.LazyFrame | pl.DataFrame, replicas: int | dict[str, int] | None, every: str, keys: list[str]
) -> pl.DataFrame:
    lf = as_lazy(lf)
    check_every(every)
    require_columns(
        lf, list(dict.fromkeys(["arrival_time", "e2e_latency_s", "queue_time_s", "instance", *keys]))
    )
    base = lf.filter(pl.col("e2e_latency_s").is_finite() & (pl.col("e2e_latency_s") >= 0)).with_columns(
        pl.col("arrival_time").cast(TS)
    )
    done = pl.col("arrival_time") + pl.duration(
        microseconds=(pl.col("e2e_latency_s") * US).ceil().cast(pl.Int64)
    )
    span = base.select(lo=pl.col("arrival_time").min(), hi=done.max()).collect()
    lo, hi = span["lo"][0], span["hi"][0]
    queue = pl.col("queue_time_s")
    table = (
        base.with_columns(window_start=pl.col("arrival_time").dt.truncate(every), _svc=_service())
        .group_by(*keys, "window_start")
        .agg(
            arrivals=pl.len().cast(pl.Int64),
            _svc_sum=pl.col("_svc").sum(),
            _queue_sum=queue.filter(queue.is_finite()).sum(),
            _queue_n=queue.is_finite().sum().cast(pl.Int64),
            _e2e_sum=pl.col("e2e_latency_s").sum(),
            _instances=pl.col("instance").drop_nulls().n_unique().cast(pl.Int64),
        )
        .collect()
    )
    clip_lo = pl.max_horizontal(pl.col("window_start"), pl.lit(lo, TS))
    clip_hi = pl.min_horizontal(pl.col("window_end"), pl.lit(hi, TS))
    table = table.with_columns(window_end=pl.col("window_start").dt.offset_by(every)).with_columns(
        window_start=clip_lo, window_end=clip_hi, seconds=(clip_hi - clip_lo).dt.total_microseconds() / US
    )
    if replicas is None:
        rep = pl.max_horizontal(pl.col("_instances"), pl.lit(1))
    elif isinstance(replicas, dict):
        if not keys:
            raise TraceanaError("replicas given per group needs a `by` column to look them up")
        missing = set(table[keys[0]].unique().to_list()) - set(replicas)
        if missing:
            raise TraceanaError(
                f"replicas: no count for {sorted(missing, key=str)}. Hint: give every {keys[0]} a count"
            )
        rep = pl.col(keys[0]).replace_strict(replicas, return_dtype=pl.Int64)
    else:
        if isinstance(replicas, bool) or int(replicas) < 1:
            raise TraceanaError(f"replicas must be an int >= 1, got {replicas!r}")
        rep = pl.lit(int(replicas))
    return (
        table.with_columns(
            arrival_rate_per_s=pl.when(pl.col("seconds") > 0).then(pl.col("arrivals") / pl.col("seconds")),
            mean_service_s=pl.col("_svc_sum") / pl.col("arrivals"),
            mean_latency_s=pl.col("_e2e_sum") / pl.col("arrivals"),
            mean_queue_s=pl.when(pl.col("_queue_n") > 0).then(pl.col("_queue_sum") / pl.col("_queue_n")),
            replicas=rep.cast(pl.Int64),
        )
        .with_columns(
            mu_per_replica=pl.when(pl.col("mean_service_s") > 0).then(1 / pl.col("mean_service_s")),
            rho=pl.col("arrival_rate_per_s") * pl.col("mean_service_s") / pl.col("replicas"),
        )
        .sort([*keys, "window_start"], nulls_last=False)
    )


UTILIZATION_COLUMNS = (
    "window_start",
    "window_end",
    "seconds",
    "arrivals",
    "arrival_rate_per_s",
    "mean_service_s",
    "mu_per_replica",
    "replicas",
    "rho",
    "mean_queue_s",
    "mean_latency_s",
)


def utilization(
    lf: pl.LazyFrame | pl.DataFrame,
    replicas: int | dict[str, int] | None = None,
    every: str = "1m",
    by: str | Sequence[str] = ("model",),
) -> pl.DataFrame:
    """Utilization per group and window: rho = lambda / (replicas * mu).

    Formula, over requests with a known e2e, by arrival window (``every`` grid,
    truncate-aligned, clipped to [first arrival, last completion] as in :func:`sweep`;
    T = its length in s):
        service_s = e2e - queue_time_s (e2e when the queue time is unknown)
        arrival_rate_per_s = arrivals / T
        mean_service_s = S = mean(service_s); mu_per_replica = 1 / S (req/s)
        replicas = distinct instances seen in the window (1 when none is named),
                   unless given: an int, or a dict keyed by the first ``by`` column
        rho = lambda / (replicas * mu) = lambda * S / replicas
        mean_queue_s = mean queue_time_s where known; mean_latency_s = mean e2e.
    With continuous batching a replica serves many requests at once, so this rho is
    the mean number of requests in service per replica (the seed notebook's M/M/1
    proxy), not a fraction capped at 1.
    """
    keys = _keys(by)
    table = _util_table(lf, replicas, every, keys)
    return table.select(*keys, *UTILIZATION_COLUMNS)


def queue_vs_utilization(lf: pl.LazyFrame | pl.DataFrame, every: str = "1m", bins: int = 10) -> pl.DataFrame:
    """Observed queue time against utilization, binned, beside the M/M/1 curve.

    Formula: windows of :func:`utilization` (whole fleet, replicas = instances seen)
    binned by rho into ``bins`` equal bins over [0, max rho]; per bin the
    request-weighted observed_mean_queue_s and observed_mean_latency_s, and
    mm1_response_s = S / (1 - rho_bin_mid) with S the mean service time of all
    requests (null where rho_bin_mid >= 1). Units: s.
    """
    if int(bins) < 1:
        raise TraceanaError(f"bins must be >= 1, got {bins}")
    u = _util_table(lf, None, every, []).filter(pl.col("rho").is_not_null())
    if not u.height:
        return pl.DataFrame(
            schema={
                "rho_bin_mid": pl.Float64,
                "windows": pl.Int64,
                "observed_mean_queue_s": pl.Float64,
                "observed_mean_latency_s": pl.Float64,
                "mm1_response_s": pl.Float64,
            }
        )
    width = (float(u["rho"].max()) or 1.0) / bins
    s_all = float(u["_svc_sum"].sum() / u["arrivals"].sum())
    out = (
        u.with_columns(_bin=(pl.col("rho") / width).floor().clip(0, bins - 1).cast(pl.Int64))
        .group_by("_bin")
        .agg(
            windows=pl.len().cast(pl.Int64),
            observed_mean_queue_s=pl.col("_queue_sum").sum() / pl.col("_queue_n").sum(),
            observed_mean_latency_s=pl.col("_e2e_sum").sum() / pl.col("arrivals").sum(),
        )
        .with_columns(
            rho_bin_mid=(pl.col("_bin") + 0.5) * width,
            observed_mean_queue_s=pl.col("observed_mean_queue_s").fill_nan(None),
        )
        .with_columns(
            mm1_response_s=pl.when(pl.col("rho_bin_mid") < 1).then(s_all / (1 - pl.col("rho_bin_mid")))
        )
        .sort("_bin")
    )
    return out.select(
        "rho_bin_mid", "windows", "observed_mean_queue_s", "observed_mean_latency_s", "mm1_response_s"
    )
