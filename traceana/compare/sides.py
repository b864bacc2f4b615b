"""One side of a comparison: the requests of a slice, reduced to sorted numpy arrays and counts.

A side is read once (:func:`load_side`); every metric of :mod:`traceana.compare.core`
then works on its sorted arrays. Definitions (as in ``traceana.metrics``):

- served-only latency: requests with status "ok" and a finite value;
- user-visible latency: the served values plus +inf for every failed request
  (status not "ok", or null), so failures cannot flatter the tail (AIPerf #688);
- window T = last completion - first arrival (completion = arrival + e2e);
- error rate = failed / total; tokens per request = mean output_tokens of ok requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

LATENCY = ("ttft_s", "tpot_s", "e2e_latency_s", "queue_time_s")
#: latencies whose user-visible view counts failures as +inf (a failed request has no TPOT or queue time to feel)
USER_VISIBLE = ("ttft_s", "e2e_latency_s")
READ = (*LATENCY, "status", "output_tokens", "arrival_time")


@dataclass
class Side:
    """The arrays one side contributes; ``served[m]`` and ``user[m]`` are sorted ascending."""

    total: int
    failed: int
    seconds: float
    arrival_span_s: float = 0.0  # last arrival - first arrival; 0 when a source records no send times
    served: dict[str, np.ndarray] = field(default_factory=dict)
    user: dict[str, np.ndarray] = field(default_factory=dict)
    itl: np.ndarray | None = None
    output_tokens: np.ndarray | None = None
    e2e_sum: float = 0.0
    e2e_sumsq: float = 0.0
    slo_good: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (good, in scope)
    all_good: int | None = None  # ok and meeting every SLO


def read_columns(lf: pl.LazyFrame, by: Sequence[str], slos: Sequence = (), itl: bool = True) -> pl.DataFrame:
    """The columns compare reads (those the frame has), collected once."""
    from traceana.report.build import named_columns

    names = set(lf.collect_schema().names())
    want = [*by, *READ, *sorted(named_columns(None, slos))] + (["itl_s"] if itl else [])
    cols = [c for c in dict.fromkeys(want) if c in names]
    return lf.select(cols).collect()


def _window_seconds(df: pl.DataFrame) -> float:
    if df.height == 0 or "arrival_time" not in df.columns:
        return 0.0
    e2e = pl.col("e2e_latency_s").fill_null(0.0) if "e2e_latency_s" in df.columns else pl.lit(0.0)
    end = pl.col("arrival_time") + pl.duration(microseconds=(e2e * 1e6).round().cast(pl.Int64))
    start, stop = df.select(pl.col("arrival_time").min().alias("start"), end.max().alias("stop")).row(0)
    return (stop - start).total_seconds() if start is not None and stop is not None else 0.0


def _arrival_span(df: pl.DataFrame) -> float:
    if df.height < 2 or "arrival_time" not in df.columns:
        return 0.0
    a, b = df.select(pl.col("arrival_time").min().alias("a"), pl.col("arrival_time").max().alias("b")).row(0)
    return (b - a).total_seconds() if a is not None and b is not None else 0.0


def _sorted(values: np.ndarray) -> np.ndarray:
    v = values[np.isfinite(values)]
    v.sort()
    return v


def load_side(df: pl.DataFrame, slos: Sequence = ()) -> Side:
    """Reduce one slice's rows to a :class:`Side` (sorted arrays per latency, counts, sums)."""
    from traceana.metrics import slo as slo_m

    total = df.height
    ok = (
        (df["status"] == "ok").fill_null(False).to_numpy()
        if "status" in df.columns
        else np.ones(total, dtype=bool)
    )
    failed = int(total - ok.sum())
    side = Side(total=total, failed=failed, seconds=_window_seconds(df), arrival_span_s=_arrival_span(df))
    for m in LATENCY:
        if m not in df.columns:
            continue
        v = df[m].cast(pl.Float64).to_numpy()[ok]
        side.served[m] = _sorted(v)
        if m in USER_VISIBLE and len(side.served[m]):
            side.user[m] = np.concatenate((side.served[m], np.full(failed, np.inf)))
    if "itl_s" in df.columns:
        gaps = df.filter(pl.Series(ok))["itl_s"].explode().drop_nulls().cast(pl.Float64).to_numpy()
        side.itl = _sorted(gaps) if len(gaps) else None
    if "output_tokens" in df.columns:
        tok = df["output_tokens"].cast(pl.Float64).to_numpy()[ok]
        side.output_tokens = tok[np.isfinite(tok)]
    if "e2e_latency_s" in df.columns:
        e2e = df["e2e_latency_s"].cast(pl.Float64).to_numpy()
        e2e = e2e[np.isfinite(e2e)]
        side.e2e_sum, side.e2e_sumsq = float(e2e.sum()), float(np.dot(e2e, e2e))
    if slos and total:
        exprs = [slo_m.in_scope(s).alias(f"scope{i}") for i, s in enumerate(slos)]
        exprs += [(slo_m.in_scope(s) & slo_m.is_good(s)).alias(f"good{i}") for i, s in enumerate(slos)]
        flags = df.select(exprs)
        for i, s in enumerate(slos):
            side.slo_good[s.name] = (int(flags[f"good{i}"].sum()), int(flags[f"scope{i}"].sum()))
        every = pl.all_horizontal([slo_m.is_good(s) | ~slo_m.in_scope(s) for s in slos]) & (
            pl.col("status") == "ok"
        )
        side.all_good = int(df.select(every.fill_null(False).sum()).item())
    return side
