"""Small aggregations that exist only to feed charts (the metric library has the statistics).

Everything here reduces a LazyFrame to a bounded number of rows before it is
collected: log-spaced histogram bins for the ECDF (at most ~20 bins per decade
per metric), per-window engine means (at most :data:`MAX_WINDOWS` windows per
instance). Raw rows never reach the report.
"""

from __future__ import annotations

import math
from datetime import datetime

import polars as pl

#: the report's time series never hold more windows than this
MAX_WINDOWS = 720
#: candidate window sizes, smallest first (polars duration strings, seconds)
_EVERY = [
    ("1m", 60),
    ("2m", 120),
    ("5m", 300),
    ("10m", 600),
    ("15m", 900),
    ("30m", 1800),
    ("1h", 3600),
    ("2h", 7200),
    ("6h", 21600),
    ("12h", 43200),
    ("1d", 86400),
    ("7d", 604800),
]
BINS_PER_DECADE = 20


def choose_every(seconds: float | None, preferred: str | None = None) -> str:
    """The smallest window size from a fixed ladder that keeps the series at or under MAX_WINDOWS windows.

    ``preferred`` (e.g. from ``[report] windows``) wins when it also fits.
    """
    seconds = float(seconds or 0.0)
    fits = [name for name, s in _EVERY if seconds / s <= MAX_WINDOWS]
    if preferred and preferred in dict(_EVERY) and seconds / dict(_EVERY)[preferred] <= MAX_WINDOWS:
        return preferred
    return fits[0] if fits else _EVERY[-1][0]


def every_seconds(every: str) -> int:
    return dict(_EVERY)[every]


def latency_ecdf(lf: pl.LazyFrame, metrics: tuple[str, ...]) -> list[dict]:
    """Cumulative fraction of ok requests at or under each log-spaced bin edge, per metric.

    Bin k of a metric holds values in (10^((k-1)/B), 10^(k/B)] with B = BINS_PER_DECADE,
    so ``le`` = 10^(k/B) seconds and ``cum_fraction`` = count(x <= le) / count(x > 0).
    Values <= 0 and nulls are left out (a log axis cannot show them).
    """
    ok = lf.filter(pl.col("status") == "ok")
    out: list[dict] = []
    for m in metrics:
        binned = (
            ok.select(pl.col(m).alias("x"))
            .filter(pl.col("x").is_not_null() & (pl.col("x") > 0) & pl.col("x").is_finite())
            .select((pl.col("x").log10() * BINS_PER_DECADE).ceil().cast(pl.Int64).alias("k"))
            .group_by("k")
            .agg(pl.len().alias("n"))
            .sort("k")
            .collect()
        )
        if binned.height == 0:
            continue
        total = int(binned["n"].sum())
        cum = 0
        for k, n in binned.iter_rows():
            cum += int(n)
            out.append(
                {
                    "metric": m,
                    "le": 10 ** (k / BINS_PER_DECADE),
                    "cum_count": cum,
                    "cum_fraction": cum / total,
                }
            )
    return out


#: the engine series never hold more rows than this (instances x windows): a 100-instance fleet gets coarser windows
MAX_ENGINE_ROWS = 7200


def engine_windows(engine_lf: pl.LazyFrame | None, every: str, seconds: float = 0.0) -> list[dict]:
    """Per instance and window: mean KV-cache usage, running batch and waiting queue.

    The window is ``every``, coarsened until instances x windows <= MAX_ENGINE_ROWS.
    """
    if engine_lf is None:
        return []
    cols = engine_lf.collect_schema().names()
    if "time" not in cols:
        return []
    instances = engine_lf.select(pl.col("instance").n_unique()).collect().item() or 1
    coarse = choose_every(seconds * instances * MAX_WINDOWS / MAX_ENGINE_ROWS)
    if every_seconds(coarse) > every_seconds(every):
        every = coarse
    df = (
        engine_lf.filter(pl.col("time").is_not_null())
        .sort("time")
        .group_by_dynamic("time", every=every, group_by="instance", label="left")
        .agg(
            pl.col("kv_cache_usage").mean(),
            pl.col("num_running").mean(),
            pl.col("num_waiting").mean(),
            *(pl.col(c).mean() for c in ("gpu_utilization",) if c in cols),
        )
        .rename({"time": "window_start"})
        .sort("instance", "window_start")
        .collect()
    )
    return records(df)


def records(df: pl.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: datetimes as ISO-8601 UTC strings, NaN/inf as None."""
    out = []
    for row in df.iter_rows(named=True):
        out.append({k: clean(v) for k, v in row.items()})
    return out


def clean(v):
    """One value made JSON-safe (datetime -> ISO string, non-finite float -> None, numpy -> python)."""
    if isinstance(v, datetime):
        return iso(v)
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if hasattr(v, "item") and not isinstance(v, list | dict | str):  # numpy scalars
        return clean(v.item())
    if isinstance(v, dict):
        return {str(k): clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [clean(x) for x in v]
    return v


def iso(t: datetime | None) -> str | None:
    if t is None:
        return None
    s = t.isoformat()
    return s.replace("+00:00", "Z")
