"""Capacity family: replicas for a target utilization, autoscaling, KV-cache room, batching.

Definitions. Replica counts and KV arithmetic are exact
(rationals from the decimal text of each input), so 180 / (0.7 * 40) = 6.43 -> 7
and 44 GB / 0.55 GB = 80 exactly (the seed notebook's float ``44 // 0.55`` says 79).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

import numpy as np
import polars as pl

from traceana.errors import TraceanaError
from traceana.metrics._stats import as_lazy, check_every, exact, require_columns

__all__ = [
    "replicas_needed",
    "autoscale",
    "gb",
    "gib",
    "kv_bytes_per_request",
    "kv_max_concurrency",
    "kv_headroom",
    "batch_throughput",
    "batch_proxy",
    "BATCH_BINS",
]

TS = pl.Datetime("us", "UTC")
Number = int | float | str | Decimal | Fraction


def _positive(name: str, x: Number) -> Fraction:
    value = exact(x)
    if value <= 0:
        raise TraceanaError(f"{name} must be > 0, got {x!r}")
    return value


def replicas_needed(
    arrival_rate_per_s: Number, mu_per_replica: Number, target_util: Number
) -> tuple[int, float]:
    """Replicas for a target utilization and the utilization they give.

    Formula: replicas = ceil(lambda / (target_util * mu)); utilization = lambda / (replicas * mu).
    Units: lambda and mu in req/s; utilization a fraction. Computed on exact rationals
    (floats by their decimal repr), so an exact ratio is never pushed up by float error.
    Worked: 180 req/s, 40 req/s per replica, 0.70 -> (7, 0.642857...). lambda = 0 -> (0, 0.0).
    """
    lam = exact(arrival_rate_per_s)
    if lam < 0:
        raise TraceanaError(f"arrival rate must be >= 0 req/s, got {arrival_rate_per_s!r}")
    mu = _positive("mu_per_replica", mu_per_replica)
    target = _positive("target_util", target_util)
    if target > 1:
        raise TraceanaError(f"target_util must lie in (0, 1], got {target_util!r}")
    replicas = math.ceil(lam / (target * mu))
    return replicas, float(lam / (replicas * mu)) if replicas else 0.0


def _measured_mu(lf: pl.LazyFrame, keys: list[str]) -> dict:
    """1 / mean service time per group (service = e2e - queue, e2e when the queue is unknown)."""
    require_columns(lf, ["e2e_latency_s", "queue_time_s"])
    queue = pl.col("queue_time_s")
    svc = pl.when(queue.is_finite()).then(pl.col("e2e_latency_s") - queue).otherwise(pl.col("e2e_latency_s"))
    frame = (
        lf.filter(pl.col("e2e_latency_s").is_finite() & (pl.col("e2e_latency_s") >= 0))
        .group_by(keys or pl.lit(0).alias("_all"))
        .agg(_s=svc.mean())
        .collect()
    )
    out = {}
    for row in frame.iter_rows(named=True):
        key = tuple(row[k] for k in keys) if keys else ()
        if row["_s"] and row["_s"] > 0:
            out[key] = 1.0 / row["_s"]
    return out


def autoscale(
    lf: pl.LazyFrame | pl.DataFrame,
    mu_per_replica: Number | dict[str, Number] | None,
    target_util: Number = 0.7,
    every: str = "1h",
    percentile: float = 0.95,
    by: str | Sequence[str] = ("model",),
    min_replicas: int = 1,
) -> pl.DataFrame:
    """What autoscaling at a target utilization would have provisioned, per window.

    Formula, per group and window (``every`` grid, truncate-aligned):
        per-minute rate r_m = arrivals in minute m / 60 s (every request that arrived,
              failed ones too, for every minute between the first and the last arrival of
              the whole frame, empty minutes counting 0)
        arrival_rate_p = the ``percentile`` of r_m over the window's minutes (linear)
        replicas = max(min_replicas, ceil(arrival_rate_p / (target_util * mu)))
        utilization = arrival_rate_p / (replicas * mu)
        replica_hours = replicas * minutes in the window / 60
    ``mu_per_replica`` (req/s per replica) is a number, a dict keyed by the first
    ``by`` column, or None to measure it per group as 1 / mean service time
    (service = e2e - queue_time_s), as :func:`traceana.metrics.concurrency.utilization`.
    """
    keys = [by] if isinstance(by, str) else list(by)
    lf = as_lazy(lf)
    require_columns(lf, ["arrival_time", *keys])
    check_every(every)
    if not 0 < percentile < 1:
        raise TraceanaError(f"percentile must lie in (0, 1), got {percentile}")
    minute = pl.col("arrival_time").cast(TS).dt.truncate("1m")
    counts = lf.group_by(*keys, minute.alias("minute")).agg(n=pl.len().cast(pl.Int64)).collect()
    if not counts.height:
        return pl.DataFrame(
            schema={
                **dict(counts.select(keys).schema),
                "window_start": TS,
                "window_end": TS,
                "minutes": pl.Int64,
                "arrival_rate_p": pl.Float64,
                "mu_per_replica": pl.Float64,
                "replicas": pl.Int64,
                "utilization": pl.Float64,
                "replica_hours": pl.Float64,
            }
        )
    grid = pl.datetime_range(counts["minute"].min(), counts["minute"].max(), "1m", eager=True, time_unit="us")
    groups = counts.select(keys).unique() if keys else pl.DataFrame({"_all": [0]})
    full = groups.join(pl.DataFrame({"minute": grid}), how="cross")
    if not keys:
        full = full.drop("_all")
    full = full.join(counts, on=[*keys, "minute"], how="left", nulls_equal=True).with_columns(
        pl.col("n").fill_null(0)
    )
    per = (
        full.group_by(*keys, pl.col("minute").dt.truncate(every).alias("window_start"))
        .agg(
            minutes=pl.len().cast(pl.Int64),
            arrival_rate_p=(pl.col("n") / 60.0).quantile(percentile, interpolation="linear"),
            window_end=pl.col("minute").max().dt.offset_by("1m"),
        )
        .sort([*keys, "window_start"], nulls_last=False)
    )
    if mu_per_replica is None:
        measured = _measured_mu(lf, keys)
        mus = [measured.get(tuple(r[k] for k in keys)) for r in per.iter_rows(named=True)]
    elif isinstance(mu_per_replica, dict):
        if not keys:
            raise TraceanaError("mu_per_replica given per group needs a `by` column to look it up")
        missing = set(per[keys[0]].unique().to_list()) - set(mu_per_replica)
        if missing:
            raise TraceanaError(f"mu_per_replica: no rate for {sorted(missing, key=str)}")
        mus = [mu_per_replica[v] for v in per[keys[0]]]
    else:
        mus = [mu_per_replica] * per.height
    replicas, utils = [], []
    for rate, mu in zip(per["arrival_rate_p"], mus, strict=True):
        if mu is None:
            replicas.append(None)
            utils.append(None)
            continue
        n, _ = replicas_needed(rate, mu, target_util)
        n = max(n, int(min_replicas))
        replicas.append(n)
        utils.append(float(exact(rate) / (n * exact(mu))) if n else 0.0)
    return (
        per.with_columns(
            mu_per_replica=pl.Series(
                [float(exact(m)) if m is not None else None for m in mus], dtype=pl.Float64
            ),
            replicas=pl.Series(replicas, dtype=pl.Int64),
            utilization=pl.Series(utils, dtype=pl.Float64),
        )
        .with_columns(replica_hours=pl.col("replicas") * pl.col("minutes") / 60.0)
        .select(
            *keys,
            "window_start",
            "window_end",
            "minutes",
            "arrival_rate_p",
            "mu_per_replica",
            "replicas",
            "utilization",
            "replica_hours",
        )
    )


# ---------------------------------------------------------------- KV cache


def gb(x: Number) -> int:
    """Decimal gigabytes as exact bytes: gb("0.55") = 550_000_000 (1 GB = 10**9 bytes)."""
    value = exact(x) * 10**9
    if value.denominator != 1:
        raise TraceanaError(f"{x!r} GB is not a whole number of bytes")
    return int(value)


def gib(x: Number) -> int:
    """Binary gibibytes as exact bytes (1 GiB = 2**30 bytes)."""
    value = exact(x) * 2**30
    if value.denominator != 1:
        raise TraceanaError(f"{x!r} GiB is not a whole number of bytes")
    return int(value)


def kv_bytes_per_request(layers: int, kv_heads: int, head_dim: int, dtype_bytes: Number, tokens: int) -> int:
    """KV-cache bytes one request holds.

    Formula: 2 (K and V) * layers * kv_heads * head_dim * dtype_bytes * tokens, in bytes
    (rounded up when dtype_bytes is fractional, e.g. 0.5 for 4-bit).
    """
    for name, v in (("layers", layers), ("kv_heads", kv_heads), ("head_dim", head_dim), ("tokens", tokens)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
            raise TraceanaError(f"{name} must be an int >= 0, got {v!r}")
    return math.ceil(2 * layers * kv_heads * head_dim * _positive("dtype_bytes", dtype_bytes) * tokens)


def kv_max_concurrency(
    gpu_memory_bytes: Number, weights_bytes: Number, workspace_bytes: Number, kv_per_request_bytes: Number
) -> dict:
    """How many requests' KV cache fits next to the weights.

    Formula: available = GPU memory - weights - workspace (bytes);
    max_concurrent = floor(available / KV per request), 0 when nothing is left.
    Exact rational arithmetic on the inputs (ints, decimal strings, Fractions; see gb()).
    Worked: gb(80), gb(28), gb(8), gb("0.55") -> available 44e9 bytes, 80 requests.
    """
    total, weights, work = exact(gpu_memory_bytes), exact(weights_bytes), exact(workspace_bytes)
    per = _positive("kv_per_request_bytes", kv_per_request_bytes)
    if min(total, weights, work) < 0:
        raise TraceanaError("memory sizes must be >= 0 bytes")
    available = total - weights - work
    max_conc = max(0, math.floor(available / per))
    return {
        "available_bytes": int(available) if available.denominator == 1 else float(available),
        "available_gb": float(available / 10**9),
        "kv_per_request_bytes": int(per) if per.denominator == 1 else float(per),
        "max_concurrent": max_conc,
    }


def kv_headroom(engine_lf: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """KV-cache use and the concurrency it implies, per instance (from engine samples).

    Formula:
        kv_tokens_per_running_request = sum(kv_cache_usage * kv_cache_capacity_tokens)
            / sum(num_running) over samples where both usage and num_running > 0 (tokens)
        implied_max_concurrent = floor(capacity / kv_tokens_per_running_request)
        headroom = implied_max_concurrent - max_num_running (requests)
    plus samples, mean/max kv_cache_usage (fraction), mean/max num_running.
    """
    lf = as_lazy(engine_lf)
    require_columns(
        lf, ["instance", "kv_cache_usage", "kv_cache_capacity_tokens", "num_running"], "engine_samples"
    )
    usage, cap, run = pl.col("kv_cache_usage"), pl.col("kv_cache_capacity_tokens"), pl.col("num_running")
    both = (usage > 0) & (run > 0) & cap.is_not_null()
    out = (
        lf.group_by("instance")
        .agg(
            samples=pl.len().cast(pl.Int64),
            mean_kv_cache_usage=usage.mean(),
            max_kv_cache_usage=usage.max(),
            mean_num_running=run.mean(),
            max_num_running=run.max(),
            kv_cache_capacity_tokens=cap.max(),
            _kv=(usage * cap).filter(both).sum(),
            _run=run.filter(both).sum(),
        )
        .with_columns(
            kv_tokens_per_running_request=pl.when(pl.col("_run") > 0).then(pl.col("_kv") / pl.col("_run"))
        )
        .with_columns(
            implied_max_concurrent=(
                pl.col("kv_cache_capacity_tokens") / pl.col("kv_tokens_per_running_request")
            )
            .floor()
            .cast(pl.Int64)
        )
        .with_columns(headroom=pl.col("implied_max_concurrent") - pl.col("max_num_running"))
        .drop("_kv", "_run")
        .sort("instance", nulls_last=False)
        .collect()
    )
    return out


GPU_COLUMNS = ("gpu_utilization", "gpu_memory_used_bytes", "gpu_memory_total_bytes", "gpu_power_w")


def gpu_usage(engine_lf: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    """GPU utilization, memory and power per instance (from engine samples with any GPU column).

    Formula, over the samples where at least one GPU column is not null:
        mean/max gpu_utilization (fraction 0..1, DCGM GPU_UTIL)
        max gpu_memory_used_bytes, max gpu_memory_total_bytes (bytes)
        max_memory_fraction = max gpu_memory_used_bytes / max gpu_memory_total_bytes
        mean/max gpu_power_w (W)
    Empty when no sample carries a GPU column (or the columns are absent).
    """
    lf = as_lazy(engine_lf)
    have = set(lf.collect_schema().names())
    if "instance" not in have or not any(c in have for c in GPU_COLUMNS):
        return pl.DataFrame(schema={"instance": pl.String, "samples": pl.Int64})
    lf = lf.with_columns(pl.lit(None, pl.Float64).alias(c) for c in GPU_COLUMNS if c not in have)
    util, used, total, power = (pl.col(c) for c in GPU_COLUMNS)
    return (
        lf.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in GPU_COLUMNS))
        .group_by("instance")
        .agg(
            samples=pl.len().cast(pl.Int64),
            mean_gpu_utilization=util.mean(),
            max_gpu_utilization=util.max(),
            max_gpu_memory_used_bytes=used.max(),
            gpu_memory_total_bytes=total.max(),
            mean_gpu_power_w=power.mean(),
            max_gpu_power_w=power.max(),
        )
        .with_columns(
            max_memory_fraction=pl.when(pl.col("gpu_memory_total_bytes") > 0).then(
                pl.col("max_gpu_memory_used_bytes") / pl.col("gpu_memory_total_bytes")
            )
        )
        .sort("instance", nulls_last=False)
        .collect()
    )


# ---------------------------------------------------------------- batching

BATCH_BINS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def batch_throughput(
    engine_lf: pl.LazyFrame | pl.DataFrame, bins: Sequence[float] = BATCH_BINS, by: str | Sequence[str] = ()
) -> pl.DataFrame:
    """Decode throughput against the running batch size, binned.

    Formula: bins [0, b1), [b1, b2), ..., [b_last, inf) of num_running; per bin the
    mean generation_tokens_per_s (tokens/s) and mean num_running over engine samples
    having both. Only bins with samples appear.
    """
    keys = [by] if isinstance(by, str) else list(by)
    edges = [float(b) for b in bins]
    if not edges or any(b <= a for a, b in zip(edges, edges[1:], strict=False)) or edges[0] < 0:
        raise TraceanaError(f"bins must be increasing lower edges >= 0, got {list(bins)}")
    if edges[0] > 0:
        edges = [0.0, *edges]
    lf = as_lazy(engine_lf)
    require_columns(lf, ["num_running", "generation_tokens_per_s", *keys], "engine_samples")
    df = (
        lf.select(*keys, "num_running", "generation_tokens_per_s")
        .drop_nulls(["num_running", "generation_tokens_per_s"])
        .collect()
    )
    idx = np.searchsorted(np.array(edges), df["num_running"].to_numpy(), side="right") - 1
    lows = np.array(edges)[np.maximum(idx, 0)]
    highs = np.array([*edges[1:], math.inf])[np.maximum(idx, 0)]
    return (
        df.with_columns(batch_low=pl.Series(lows), batch_high=pl.Series(highs))
        .filter(pl.Series(idx >= 0))
        .group_by(*keys, "batch_low", "batch_high")
        .agg(
            samples=pl.len().cast(pl.Int64),
            mean_num_running=pl.col("num_running").mean(),
            mean_generation_tokens_per_s=pl.col("generation_tokens_per_s").mean(),
        )
        .sort([*keys, "batch_low"], nulls_last=False)
    )


def batch_proxy(
    batch_size: float,
    peak_tokens_per_s: float = 1000.0,
    scale: float = 16.0,
    wait_per_request_s: float = 0.002,
) -> dict[str, float]:
    """The seed notebook's batching trade-off model.

    Formula: throughput = peak * (1 - exp(-b / scale)) (tokens/s); wait_s = wait_per_request_s * b (s).
    Worked: b = 32 -> 864.66 tokens/s and 0.064 s. ``throughput`` repeats
    ``throughput_tokens_per_s`` for callers that use the notebook's name.
    """
    if batch_size < 0 or scale <= 0:
        raise TraceanaError("batch size must be >= 0 and scale > 0")
    tput = peak_tokens_per_s * (1.0 - math.exp(-batch_size / scale))
    return {
        "batch_size": batch_size,
        "throughput_tokens_per_s": tput,
        "throughput": tput,
        "wait_s": wait_per_request_s * batch_size,
    }


def batched_service_rate(auto_rows: list[dict], eng: pl.LazyFrame | None) -> dict | None:
    """Service rate per replica under continuous batching, per model.

    Formula:
        mu = B / S  [requests/s per replica]

    A replica holding up to B requests at once, each for S seconds, completes B / S
    requests per second (Little's law at a full batch). S comes from :func:`autoscale`'s
    measured mu = 1 / S (``auto_rows``' ``mu_per_replica``); B is the median over the model's instances of the largest running
    batch the engine samples saw. Returns {model: mu}, or None without engine samples or when no
    batch exceeds 1 (then mu = 1 / S stands). A model with no running-batch sample keeps 1 / S.
    """
    if eng is None or not auto_rows:
        return None
    per_instance = eng.group_by("instance").agg(
        model=pl.col("model").drop_nulls().first(), b=pl.col("num_running").max()
    )
    batch = dict(per_instance.group_by("model").agg(pl.col("b").median()).collect().iter_rows())
    measured = {r.get("model"): r.get("mu_per_replica") for r in auto_rows}
    out: dict = {}
    for model, m1 in measured.items():
        b = batch.get(model)
        out[model] = m1 * b if m1 is not None and b is not None and b >= 1 else m1
    return out if any(out.get(m) != measured[m] for m in measured) else None
