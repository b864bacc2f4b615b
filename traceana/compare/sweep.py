"""``compare --sweep``: one point per run (configuration), the Pareto frontier, over-saturated runs.

Per run, formulas:
    offered_rate_per_s  = (arrivals - 1) / (last arrival - first arrival)
    achieved_rate_per_s = ok requests / T, T = last completion - first arrival
    output_tokens_per_s = sum(output_tokens of ok requests) / T
    p99_latency_s       = linear p99 of e2e_latency_s (ttft_s when e2e is absent), ok requests
    median_queue_s      = median queue_time_s of ok requests (median ttft_s when the
                          source records no queue time; the table says which)
Pareto frontier: runs no other run dominates (throughput >= and p99 <=, one strict);
throughput is output tokens/s, or achieved requests/s without token counts.
Over-saturated: in order of offered rate, achieved < 0.95 x offered while the
median queue time is above the previous run's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from traceana.compare.sides import read_columns
from traceana.compare.stats import linear_quantile

SATURATION_SHORTFALL = 0.95


def _run_point(label: str, df: pl.DataFrame, latency: str, queue: str) -> dict:
    from traceana.compare.sides import _window_seconds

    n = df.height
    ok = df.filter(pl.col("status") == "ok") if "status" in df.columns else df
    arrivals = df["arrival_time"].sort() if "arrival_time" in df.columns and n else None
    span = (arrivals[-1] - arrivals[0]).total_seconds() if arrivals is not None and n > 1 else 0.0
    # without send times (LLMPerf) every arrival is the same instant: no rate can be measured
    t = _window_seconds(df) if span > 0 else 0.0

    def values(col: str) -> np.ndarray:
        if col not in ok.columns:
            return np.array([])
        v = ok[col].cast(pl.Float64).to_numpy()
        return np.sort(v[np.isfinite(v)])

    lat, q = values(latency), values(queue)
    tokens = (
        float(ok["output_tokens"].sum())
        if "output_tokens" in ok.columns and ok["output_tokens"].null_count() < ok.height
        else None
    )
    return {
        "label": label,
        "requests": n,
        "ok": ok.height,
        "offered_rate_per_s": (n - 1) / span if span > 0 else None,
        "achieved_rate_per_s": ok.height / t if t > 0 else None,
        "output_tokens_per_s": tokens / t if tokens is not None and t > 0 else None,
        "p99_latency_s": linear_quantile(lat, 0.99) if len(lat) else None,
        "median_queue_s": linear_quantile(q, 0.5) if len(q) else None,
    }


def pareto(points: list[dict], x: str, y: str) -> list[bool]:
    """True for the points no other point dominates: x lower-or-equal and y higher-or-equal, one strictly."""
    out = []
    for p in points:
        if p.get(x) is None or p.get(y) is None:
            out.append(False)
            continue
        dominated = any(
            o is not p
            and o.get(x) is not None
            and o.get(y) is not None
            and o[x] <= p[x]
            and o[y] >= p[y]
            and (o[x] < p[x] or o[y] > p[y])
            for o in points
        )
        out.append(not dominated)
    return out


def oversaturated(points: list[dict]) -> list[bool]:
    """Achieved below SATURATION_SHORTFALL x offered while the median queue grows (runs in offered-rate order)."""
    order = sorted(
        range(len(points)),
        key=lambda i: (points[i].get("offered_rate_per_s") is None, points[i].get("offered_rate_per_s") or 0),
    )
    flags = [False] * len(points)
    prev_queue = None
    for i in order:
        p = points[i]
        off, ach, q = p.get("offered_rate_per_s"), p.get("achieved_rate_per_s"), p.get("median_queue_s")
        if off and ach is not None and q is not None and prev_queue is not None:
            flags[i] = ach < SATURATION_SHORTFALL * off and q > prev_queue
        if q is not None:
            prev_queue = q
    return flags


def sweep(runs: Sequence[tuple[str, pl.LazyFrame]]) -> dict:
    """The sweep section: points (one per run), which metrics they use, and a note."""
    frames = [(label, read_columns(lf, (), itl=False)) for label, lf in runs]
    has = set().union(*(set(df.columns) for _, df in frames)) if frames else set()
    latency = "e2e_latency_s" if "e2e_latency_s" in has else "ttft_s"
    queue = (
        "queue_time_s"
        if any(
            df["queue_time_s"].null_count() < df.height for _, df in frames if "queue_time_s" in df.columns
        )
        else "ttft_s"
    )
    points = [_run_point(label, df, latency, queue) for label, df in frames]
    thr = (
        "output_tokens_per_s"
        if all(p["output_tokens_per_s"] is not None for p in points)
        else "achieved_rate_per_s"
    )
    for p, front, sat in zip(
        points, pareto(points, "p99_latency_s", thr), oversaturated(points), strict=True
    ):
        p["pareto"], p["oversaturated"] = front, sat
    note = (
        f"Pareto on {thr} (higher) and p99 {latency} (lower). Over-saturated: achieved rate below "
        f"{SATURATION_SHORTFALL:.0%} of offered while median {queue} grows"
        + (
            "; the sources record no queue time, so median TTFT stands in for it."
            if queue == "ttft_s"
            else "."
        )
    )
    missing = [p["label"] for p in points if p["achieved_rate_per_s"] is None]
    if missing:
        note = (
            f"No rate for {', '.join(missing)}: no send times (every arrival at one instant, as LLMPerf writes). "
            + note
        )
    return {
        "points": points,
        "latency_metric": latency,
        "queue_metric": queue,
        "throughput_metric": thr,
        "note": note,
    }
