"""What the input can support: which rows have real arrival times, and which latencies were measured.

A figure is shown only when its inputs support it; otherwise the report says,
in one sentence, what is missing. This module decides that, per source
(``source_file``), from the canonical provenance columns:

* ``time_basis``: measured (wall clock), relative (real offsets from an
  invented date) or synthetic (the adapter invented the arrival: LLMPerf, vllm
  bench without start_times). Null (a store written before schema 1.2) reads
  as measured.
* A section that needs arrival times (request rate, concurrency and Little's
  law, goodput per second, burn windows, percentiles over time, utilization,
  cost per provisioned hour) uses the rows with measured or relative times
  only, and is not computed at all when none are left, when the timed sources'
  time ranges do not overlap (a 2023 trace beside a 2026 run is not one
  window), or when two sources' times are each relative to an invented date
  (their alignment is not real).
* A latency SLO with no in-scope request measuring its metric is "not
  measured", never 0% or 100%; availability is "not measured" when every
  in-scope status was assumed by the adapter (``status`` in derived_fields
  and no failure recorded: Azure, Mooncake).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

BASES = ("measured", "relative", "synthetic")


def basis_expr() -> pl.Expr:
    """time_basis with null (older stores) read as measured."""
    return pl.col("time_basis").cast(pl.String).fill_null("measured")


@dataclass
class TimeSupport:
    """Whether time sections can be computed, and on which rows.

    ``reason`` is None when they can (on the rows ``keep`` selects), else one
    sentence ("not computable: ..."). ``excluded`` names sources left out of
    the time sections (synthetic times) while others remain; ``sources`` is
    one dict per source: source, basis, requests, start, end.
    """

    reason: str | None
    keep: pl.Expr
    excluded: list[str] = field(default_factory=list)
    sources: list[dict] = field(default_factory=list)

    @property
    def note(self) -> str | None:
        """One sentence for the page when some sources were left out of the time sections."""
        if self.reason or not self.excluded:
            return None
        return f"time sections exclude {_names(self.excluded)}: no arrival times (time_basis synthetic)"


def _names(sources: list[str], limit: int = 3) -> str:
    """The sources by file name (their full paths when two share a name), at most ``limit`` of them."""
    short = [s.rsplit("/", 1)[-1] for s in sources]
    if len(set(short)) == len(short):
        sources = short
    shown = ", ".join(sources[:limit])
    return shown + (f" and {len(sources) - limit} more" if len(sources) > limit else "")


def per_source(lf: pl.LazyFrame) -> pl.DataFrame:
    """One row per source_file: basis (the most common), requests, first arrival, last completion."""
    cols = lf.collect_schema().names()
    basis = basis_expr() if "time_basis" in cols else pl.lit("measured")
    src = (
        pl.col("source_file").cast(pl.String).fill_null("(unknown source)")
        if "source_file" in cols
        else pl.lit("(input)")
    )
    e2e = pl.col("e2e_latency_s").fill_null(0.0) if "e2e_latency_s" in cols else pl.lit(0.0)
    end = pl.col("arrival_time") + pl.duration(microseconds=(e2e * 1e6).round().cast(pl.Int64))
    return (
        lf.select(src.alias("source"), basis.alias("basis"), pl.col("arrival_time"), end.alias("_end"))
        .group_by("source", "basis")
        .agg(
            pl.len().alias("requests"),
            pl.col("arrival_time").min().alias("start"),
            pl.col("_end").max().alias("end"),
        )
        .sort("source", "basis")
        .collect()
    )


def _disjoint(rows: list[dict]) -> bool:
    """True when the sources' [start, end] ranges split into groups that do not overlap."""
    rows = sorted(rows, key=lambda r: r["start"])
    reach = rows[0]["end"]
    for r in rows[1:]:
        if r["start"] > reach:
            return True
        reach = max(reach, r["end"])
    return False


def _span(r: dict) -> str:
    return f"{r['source']} [{r['start']:%Y-%m-%d %H:%M} .. {r['end']:%Y-%m-%d %H:%M}]"


def time_support(lf: pl.LazyFrame) -> TimeSupport:
    """Decide whether (and on which rows) sections that need arrival times can be computed."""
    cols = lf.collect_schema().names()
    keep = basis_expr() != "synthetic" if "time_basis" in cols else pl.lit(True)
    df = per_source(lf)
    if df.height == 0:
        return TimeSupport("not computable: no requests", keep)
    rows = df.to_dicts()
    synthetic = sorted({r["source"] for r in rows if r["basis"] == "synthetic"})
    timed = [r for r in rows if r["basis"] != "synthetic"]
    if not timed:
        return TimeSupport(f"not computable: {_names(synthetic)} has no arrival times", keep, synthetic, rows)
    relative = sorted({r["source"] for r in timed if r["basis"] == "relative"})
    if len(relative) > 1 or (relative and len({r["source"] for r in timed}) > 1):
        return TimeSupport(
            f"not computable across sources: {_names(relative)} has only times relative to its own start, which cannot "
            "be aligned with another source; report one source at a time",
            keep,
            synthetic,
            rows,
        )
    if len(timed) > 1 and _disjoint(timed):
        spans = ", ".join(_span(r) for r in sorted(timed, key=lambda r: r["start"])[:4])
        return TimeSupport(
            f"not computable across sources whose time ranges do not overlap ({spans}); report one source at a time "
            "or pick a window with --since/--until",
            keep,
            synthetic,
            rows,
        )
    return TimeSupport(None, keep, synthetic, rows)


def measured_count(lf: pl.LazyFrame, metric: str) -> int:
    """Requests whose ``metric`` was recorded (non-null)."""
    if metric not in lf.collect_schema().names():
        return 0
    return int(lf.select(pl.col(metric).is_not_null().sum()).collect().item())


def status_assumed(lf: pl.LazyFrame) -> bool:
    """True when no row's status was read from the source: every one derived, and none a failure.

    Arrival-only traces (Azure, Mooncake) list what was served and set status
    ok for every row (flagged in derived_fields); an availability computed on
    them is 100% by construction.
    """
    cols = lf.collect_schema().names()
    if "status" not in cols or "derived_fields" not in cols:
        return False
    derived = pl.col("derived_fields").cast(pl.String).fill_null("").str.contains(r"(^|,)status(,|$)")
    row = (
        lf.select(pl.len().alias("n"), derived.sum().alias("d"), (pl.col("status") != "ok").sum().alias("f"))
        .collect()
        .row(0)
    )
    n, d, f = row
    return n > 0 and d == n and not f
