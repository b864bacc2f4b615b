"""Assemble the report dict (shaped by ``schemas/report.schema.json``) from the metric library.

No statistics are computed here: every number comes from ``traceana.metrics``;
this module filters the window, calls the families, and shapes their small
tables into the JSON contract. Chart series (``report["series"]``) are bounded
aggregates (per window or per bin), never raw rows.

A section whose inputs the trace lacks (no engine samples, no prices, no
SLOs) is ``null``/empty with a line in ``report["warnings"]``; a metric
raising :class:`TraceanaError` on such gaps is reported the same way.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from traceana.config import Config
from traceana.errors import TraceanaError
from traceana.report.series import choose_every, clean, engine_windows, iso, latency_ecdf, records

SCHEMA_VERSION = "1"
LATENCY_METRICS = ("ttft_s", "tpot_s", "e2e_latency_s", "queue_time_s", "prefill_time_s", "decode_time_s")
CHART_METRICS = ("ttft_s", "tpot_s", "e2e_latency_s")


def _window_filter(
    lf: pl.LazyFrame, col: str, since: datetime | None, until: datetime | None
) -> pl.LazyFrame:
    if since is not None:
        lf = lf.filter(pl.col(col) >= _utc(since))
    if until is not None:
        lf = lf.filter(pl.col(col) < _utc(until))
    return lf


def _utc(t: datetime) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def request_counts(lf: pl.LazyFrame) -> dict:
    """total / ok / failed and the count per status (null status counts as failed, key "unknown")."""
    df = lf.group_by("status").agg(pl.len().alias("n")).collect()
    by = {str(s if s is not None else "unknown"): int(n) for s, n in df.iter_rows()}
    total = sum(by.values())
    ok = by.get("ok", 0)
    return {"total": total, "ok": ok, "failed": total - ok, "by_status": dict(sorted(by.items()))}


def window_of(lf: pl.LazyFrame) -> dict:
    """[first arrival, last completion]: completion = arrival + e2e (arrival when e2e is null)."""
    end = pl.col("arrival_time") + pl.duration(
        microseconds=(pl.col("e2e_latency_s").fill_null(0.0) * 1e6).round().cast(pl.Int64)
    )
    row = lf.select(pl.col("arrival_time").min().alias("start"), end.max().alias("end")).collect().row(0)
    start, stop = row
    seconds = (stop - start).total_seconds() if start is not None and stop is not None else 0.0
    return {"start": iso(start), "end": iso(stop), "seconds": seconds}


def request_counts_ch(ch: Any, since: datetime | None = None, until: datetime | None = None) -> dict:
    """:func:`request_counts` counted in ClickHouse (one row per status back)."""
    from traceana.engines.sql import Params, column, where, window_where

    p = Params()
    df = ch.query(
        f"SELECT {column('status')} AS status, count() AS n FROM {ch.table('requests')} "
        f"{where(window_where(p, since, until))} GROUP BY status",
        p.values,
    )
    by = {str(s if s is not None else "unknown"): int(n) for s, n in df.iter_rows()} if df.height else {}
    total = sum(by.values())
    ok = by.get("ok", 0)
    return {"total": total, "ok": ok, "failed": total - ok, "by_status": dict(sorted(by.items()))}


def window_of_ch(ch: Any, since: datetime | None = None, until: datetime | None = None) -> dict:
    """:func:`window_of` in ClickHouse: [min arrival, max(arrival + round(e2e, us))] (half to even, as polars)."""
    from traceana.engines.sql import Params, column, where, window_where

    p = Params()
    a = f"toUnixTimestamp64Micro({column('arrival_time')})"
    end = f"{a} + toInt64(roundBankers(ifNull({column('e2e_latency_s')}, 0) * 1e6))"
    row = ch.query(
        f"SELECT min({a}) AS s, max({end}) AS e, count() AS n FROM {ch.table('requests')} "
        f"{where(window_where(p, since, until))}",
        p.values,
    ).row(0, named=True)
    if not row["n"]:
        return {"start": None, "end": None, "seconds": 0.0}
    start, stop = (
        datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(x)) for x in (row["s"], row["e"])
    )
    return {"start": iso(start), "end": iso(stop), "seconds": (stop - start).total_seconds()}


def _group_dict(row: dict, by: Sequence[str]) -> dict:
    return {k: row[k] for k in by if k in row}


def _latency_rows(df: pl.DataFrame, by: Sequence[str]) -> list[dict]:
    """Long percentiles table -> [{group, metric, count, mean, p50.., ci{p: [lo, hi]}, reliable{p: bool}}]."""
    out = []
    for r in df.iter_rows(named=True):
        row: dict[str, Any] = {
            "group": _group_dict(r, by),
            "metric": r["metric"],
            "count": int(r.get("count") or 0),
            "mean": r.get("mean"),
        }
        ci, rel = {}, {}
        for p in ("p50", "p90", "p95", "p99", "p99_9"):
            row[p] = r.get(p)
            if f"{p}_ci_low" in r:
                ci[p] = [r.get(f"{p}_ci_low"), r.get(f"{p}_ci_high")]
            if f"{p}_reliable" in r:
                rel[p] = bool(r.get(f"{p}_reliable"))
        row["ci"], row["reliable"] = ci, rel
        out.append(clean(row))
    return out


# Above this many requests the sections run one at a time: two at once would add the
# peaks of the two largest (the sweep's event arrays, a metric's grouped copy).
PARALLEL_MAX_ROWS = 25_000_000


def report_workers(rows: int, workers: int | None = None) -> int:
    """Sections computed at once: ``workers`` if given, else 2 up to PARALLEL_MAX_ROWS requests, then 1.

    Two threads pay on a 2-core machine because much of a section is single-threaded
    numpy (sort, partition, bincount) that overlaps with the other's polars scans.
    """
    if workers is not None:
        if workers < 1:
            raise TraceanaError(f"workers must be >= 1, got {workers}")
        return workers
    return 2 if rows <= PARALLEL_MAX_ROWS and (os.cpu_count() or 1) > 1 else 1


# The pool starts the costliest sections first (10M requests: ~3 s down to ~0.2 s) so
# the two threads finish close together.
HEAVY_FIRST = (
    "concurrency",
    "latency_by",
    "cost",
    "latency",
    "percentiles_over_time",
    "latency_budget",
    "queue_vs_utilization",
    "checklist",
    "goodput",
    "slo",
    "latency_ecdf",
)


def _run_sections(
    tasks: dict[str, Callable[[_Sections], Any]], sec: _Sections, workers: int
) -> dict[str, Any]:
    """Run each task with its own warning list; warnings merge in task order, whatever finished first."""
    own = {name: _Sections() for name in tasks}
    if workers == 1:
        out = {name: fn(own[name]) for name, fn in tasks.items()}
    else:
        order = [n for n in HEAVY_FIRST if n in tasks] + [n for n in tasks if n not in HEAVY_FIRST]
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="report") as pool:
            futures = {name: pool.submit(tasks[name], own[name]) for name in order}
            out = {name: futures[name].result() for name in tasks}
    for name in tasks:
        sec.warnings.extend(own[name].warnings)
    return out


# Columns no section reads but the checklist (which gets the lazy frame): left out of the
# in-memory copy unless a `by`, an SLO or a degradation option names them.
NOT_LOADED = (
    "request_id",
    "source_file",
    "source_line",
    "source_format",
    "derived_fields",
    "itl_s",
    "scheduler_decision",
    "model_version",
    "quantization",
    "route",
    "fallback_from",
    "error_type",
    "finish_reason",
    "scheduled_time",
    "num_preemptions",
    "cached_prompt_tokens",
)
# The in-memory copy is made when its estimated size is at most this (10M requests: ~1.1 GB).
LOAD_MAX_BYTES = 2 * 1024**3


def named_columns(config: Config | None, slos: Sequence = ()) -> set[str]:
    """Requests columns the config and SLOs name: SLO metrics, filter columns, degradation matches."""
    from dataclasses import fields, is_dataclass

    from traceana.config import SLO, DegradationOption, Filter

    out: set[str] = set()

    def walk(obj: Any) -> None:
        if isinstance(obj, Filter):
            out.update(c.column for c in obj.conditions)
        elif isinstance(obj, DegradationOption):
            out.update(obj.match)
        elif isinstance(obj, (list, tuple)):
            for x in obj:
                walk(x)
        elif isinstance(obj, dict):
            for x in obj.values():
                walk(x)
        if isinstance(obj, SLO) and obj.metric:
            out.add(obj.metric)
        if is_dataclass(obj) and not isinstance(obj, type):
            for f in fields(obj):
                walk(getattr(obj, f.name))

    walk(config)
    walk(list(slos))
    return out


def load_requests(lf: pl.LazyFrame, keep_named: set[str], load: bool | None = None) -> pl.LazyFrame:
    """The requests the sections read, collected once into memory when they fit (``load`` None:
    estimated size <= LOAD_MAX_BYTES; True / False force it), else ``lf`` itself.

    Every section scans its frame: from the store that is a Parquet decode of the
    same columns a dozen times. In memory, strings as categoricals (4 bytes a row),
    without the columns only the checklist reads. 10M requests: ~1.2 s to load,
    ~3-5 s of scans saved.
    """
    if load is False:
        return lf
    schema = lf.collect_schema()
    keep = [c for c in schema.names() if c not in NOT_LOADED or c in keep_named]
    if load is None:
        rows = lf.select(pl.len()).collect().item()
        if rows * sum(4 if schema[c] == pl.String else 8 for c in keep) > LOAD_MAX_BYTES:
            return lf
    return (
        lf.select(pl.col(c).cast(pl.Categorical) if schema[c] == pl.String else pl.col(c) for c in keep)
        .collect()
        .lazy()
    )


class _Sections:
    """Runs metric calls; a TraceanaError (missing inputs) becomes a warning, not a crash."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def run(self, what: str, fn, *args, default=None, **kw):
        try:
            return fn(*args, **kw)
        except TraceanaError as exc:
            self.warnings.append(f"{what}: {exc}")
            return default


def build_latency(
    lf: pl.LazyFrame,
    by: Sequence[str],
    sec: _Sections,
    itl_lf: pl.LazyFrame | None = None,
    groupings: Sequence[tuple[str, ...]] | None = None,
    m: Any = None,
) -> list[dict]:
    """Latency rows overall and per group (``groupings``: default both); ITL from ``itl_lf`` (default ``lf``).
    ``m``: the engine's metric functions (traceana.report.pushdown; default the polars ones)."""
    from traceana.report.pushdown import local

    m = m or local()

    itl_lf = lf if itl_lf is None else itl_lf
    cols = set(lf.collect_schema().names())
    metrics = [m for m in LATENCY_METRICS if m in cols]
    rows = []
    if groupings is None:
        groupings = ((), tuple(by)) if by else ((),)
    for grouping in groupings:
        df = sec.run("latency", m.percentiles, lf, metrics=metrics, by=grouping, ok_only=True)
        if df is not None:
            rows += [r for r in _latency_rows(df, grouping) if r["count"] > 0]
        itl = sec.run("itl", m.itl_percentiles, itl_lf, by=grouping)
        if itl is not None and itl.height:
            rows += [r for r in _latency_rows(itl, grouping) if r["count"] > 0]
    return _sorted_latency(rows)


def build_user_visible(lf: pl.LazyFrame, by: Sequence[str], sec: _Sections) -> list[dict]:
    """Error-adjusted percentiles (failed requests as +inf) overall and per group; +inf -> null, named in ``infinite``."""
    from traceana.metrics import user_visible

    out = []
    for grouping in ((), tuple(by)) if by else ((),):
        df = sec.run("user-visible latency", user_visible.percentiles, lf, by=grouping)
        for r in df.iter_rows(named=True) if df is not None else ():
            row = {
                "group": _group_dict(r, grouping),
                "metric": r["metric"],
                "count": r["count"],
                "failed": r["failed"],
                "served": r["served"],
            }
            pcts = {p: r[p] for p in ("p50", "p90", "p95", "p99", "p99_9")}
            row.update({p: (None if v == float("inf") else v) for p, v in pcts.items()})
            row["infinite"] = [p for p, v in pcts.items() if v == float("inf")]
            out.append(clean(row))
    return out


def _sorted_latency(rows: list[dict]) -> list[dict]:
    """Metric first, then "all" before the groups: the reader compares groups within one metric."""
    order = {m: i for i, m in enumerate((*LATENCY_METRICS, "itl_s"))}
    return sorted(rows, key=lambda r: (order.get(r["metric"], 99), len(r["group"]) > 0))


def build_budget(lf: pl.LazyFrame, by: Sequence[str], sec: _Sections) -> list[dict]:
    from traceana.metrics import latency

    out = []
    for grouping in ((), tuple(by)) if by else ((),):
        df = sec.run("latency budget", latency.latency_budget, lf, by=grouping)
        if df is None:
            continue
        for r in df.iter_rows(named=True):
            row = {"group": _group_dict(r, grouping), "at": r.get("at") or r.get("percentile")}
            row.update({k: v for k, v in r.items() if k.endswith("_s") or k.startswith("share_")})
            out.append(clean(row))
    return out


#: the bucket of the burn-rate alerts (not the plot's): it divides every window of the alert policies
ALERT_EVERY = "1m"


def build_slo(
    lf: pl.LazyFrame,
    slos: Sequence,
    every: str,
    window_end: str | None,
    sec: _Sections,
    timed: pl.LazyFrame | None = None,
    no_time: str | None = None,
    m: Any = None,
) -> tuple[list[dict], list[dict]]:
    """SLO rows (with their alerts) and the burn series for the charts (``m`` as in build_latency).

    Attainment counts every request; burn rates and alerts need arrival times, so they run on
    ``timed`` (default ``lf``) and are left out, with ``no_time`` as the reason, when it is None
    and ``no_time`` is given. An SLO no request measures is "not measured" (see :func:`_unmeasured`).
    Alerts are computed on 1-minute buckets whatever the plot's, so every window has its exact length.
    """
    from traceana.metrics import slo as slo_m
    from traceana.report.pushdown import local

    m = m or local()

    if not slos:
        return [], []
    ev = sec.run("slo", m.evaluate, lf, list(slos))
    rows = records(ev) if isinstance(ev, pl.DataFrame) else clean(list(ev or []))
    by_name = {s.name: s for s in slos}
    timed = lf if timed is None and no_time is None else timed
    measured = _measured_counts(
        lf, [by_name[r["name"]] for r in rows if r["name"] in by_name and r.get("total")]
    )
    live: list[tuple[dict, Any]] = []
    for row in rows:
        s = by_name.get(row["name"])
        row["alerts"] = []
        if s is None:
            continue
        reason = _unmeasured(lf, s, row, measured.get(s.name))
        if reason is not None:
            row.update(
                attainment=None, budget_remaining=None, met=None, budget_exhausted=False, not_measured=reason
            )
            sec.warnings.append(f"slo {s.name}: {reason}")
            continue
        if timed is None:
            sec.warnings.append(f"burn rate {s.name}: {no_time}")
            continue
        live.append((row, s))
    charted = _charted(live)
    if len(live) > len(charted):
        sec.warnings.append(
            f"burn charts: the {len(charted)} SLOs with the least error budget remaining are charted;"
            f" the other {len(live) - len(charted)} are in the SLO table only"
        )
    plot: dict[str, pl.DataFrame] = {}
    if m.burn_series is slo_m.burn_series:
        # the embedded engine: every SLO's buckets in a few scans (SLOS_PER_PASS SLOs each), one
        # SLO's 1-minute series alive at a time; only the charted SLOs keep their plot series
        pairs = [(r, s) for r, s in live if s.name in charted]
        for s, burn in (
            sec.run(
                "burn rate",
                lambda: list(slo_m.burn_series_many(timed, [s for _, s in pairs], every)),
                default=[],
            )
            or []
        ):
            plot[s.name] = burn
        try:
            exact_of = slo_m.burn_series_many(timed, [s for _, s in live], ALERT_EVERY)
            for (row, s), (_, exact) in zip(live, exact_of, strict=False):
                alerts = sec.run(f"alerts {s.name}", slo_m.alerts, exact, s) or []
                row["alerts"] = clean(list(alerts.to_dicts() if isinstance(alerts, pl.DataFrame) else alerts))
        except TraceanaError as exc:
            sec.warnings.append(f"burn rate (1m): {exc}")
    else:
        for row, s in live:
            burn = (
                sec.run(f"burn rate {s.name}", m.burn_series, timed, s, every=every)
                if s.name in charted or every == ALERT_EVERY
                else None
            )
            if burn is None and (s.name in charted or every == ALERT_EVERY):
                continue
            # alerts at exact window lengths: 1-minute buckets divide every policy window, whatever
            # the plot resolution (a 2-minute plot bucket would make the 5-minute window 4 minutes)
            exact = (
                burn
                if every == ALERT_EVERY
                else sec.run(f"burn rate {s.name} (1m)", m.burn_series, timed, s, every=ALERT_EVERY)
            )
            alerts = (sec.run(f"alerts {s.name}", slo_m.alerts, exact, s) or []) if exact is not None else []
            row["alerts"] = clean(list(alerts.to_dicts() if isinstance(alerts, pl.DataFrame) else alerts))
            if s.name in charted and burn is not None:
                plot[s.name] = burn
    series: list[dict] = []
    for _, s in live:
        if s.name in plot:
            for b in records(plot[s.name]):
                b["slo"] = s.name
                series.append(b)
    return rows, series


#: the most SLOs the burn-down and burn-rate charts (and report.json's series.burn) carry
MAX_CHARTED_SLOS = 10


def _charted(live: Sequence[tuple[dict, Any]], cap: int = MAX_CHARTED_SLOS) -> set[str]:
    """Names of the SLOs whose burn series are charted: the ``cap`` with the highest burn, i.e. the
    least error budget remaining over their period (ties and no budget by name); the rest stay in the table."""

    def key(rs: tuple[dict, Any]) -> tuple:
        b = rs[0].get("budget_remaining")
        return (b is None, b if b is not None else 0.0, rs[1].name)

    return {s.name for _, s in sorted(live, key=key)[:cap]}


def _measured_counts(lf: pl.LazyFrame, slos: Sequence) -> dict[str, int]:
    """In-scope requests recording each latency SLO's metric, all SLOs in one scan (per SLO: one
    ``support.measured_count`` of the scoped frame); a metric with no column counts 0."""
    from traceana.metrics import slo as slo_m

    cols = set(lf.collect_schema().names())
    out = {s.name: 0 for s in slos if s.metric is not None and s.metric not in cols}
    aggs = [
        (slo_m.in_scope(s) & pl.col(s.metric).is_not_null()).sum().alias(f"m{i}")
        for i, s in enumerate(slos)
        if s.metric is not None and s.metric in cols
    ]
    if aggs:
        got = lf.select(aggs).collect().row(0, named=True)
        out.update({s.name: int(got[f"m{i}"] or 0) for i, s in enumerate(slos) if f"m{i}" in got})
    return out


def _unmeasured(lf: pl.LazyFrame, s: Any, row: dict, measured: int | None = None) -> str | None:
    """Why an SLO's attainment is not a measurement, or None: its metric recorded by no in-scope request,
    or (availability) every status assumed by the adapter. Such an SLO shows no percentage."""
    from traceana.metrics import slo as slo_m
    from traceana.metrics import support

    if not row.get("total"):
        return None
    scoped = lf.filter(slo_m.in_scope(s))
    if s.metric is not None:
        if measured is None:
            measured = support.measured_count(scoped, s.metric)
        if row.get("unmeasured", 0) >= row["total"] or measured == 0:
            return f"not measured: no request in scope records {s.metric} (an arrival-only trace has no latencies)"
        return None
    if support.status_assumed(scoped):
        return "not measured: the source records no request outcome (status ok was assumed for every row)"
    return None


def _time_support(lf: pl.LazyFrame, total: int, sec: _Sections):
    from traceana.metrics.support import time_support

    if not total:
        return None
    support = time_support(lf)
    if support.note:
        sec.warnings.append(support.note)
    return support


def build_report(
    requests_lf: pl.LazyFrame,
    engine_lf: pl.LazyFrame | None = None,
    config: Config | None = None,
    slos: Sequence = (),
    by: Sequence[str] = ("model",),
    since: datetime | None = None,
    until: datetime | None = None,
    title: str | None = None,
    workers: int | None = None,
    load: bool | None = None,
    engine: Any = None,
) -> dict:
    """The report dict for the requests in [since, until) (arrival time), grouped by ``by``.

    ``slos`` are added to ``config.slos``; the verdict's exit code is 1 when any
    SLO's attainment is below its objective or its error budget is exhausted.
    ``workers``: sections computed at once (default :func:`report_workers`);
    ``load``: read the requests into memory once (default: when they fit, see
    :func:`load_requests`). ``engine``: a ClickHouse connection
    (:class:`traceana.engines.clickhouse.ClickHouse`) holding the same requests as
    ``requests_lf``: the sections in ``pushdown.PUSHED_SECTIONS`` are computed there.
    """
    from traceana._version import __version__
    from traceana.report.pushdown import Pushed, local

    m = Pushed(engine, since, until) if engine is not None else local()
    sec = _Sections()
    if getattr(m, "approximate", False):
        from traceana.metrics.latency import TDIGEST_MAX_REL_ERROR

        sec.warnings.append(
            "latency percentiles are t-digest approximations (--approx: ClickHouse quantilesTDigest), "
            f"up to {max(TDIGEST_MAX_REL_ERROR.values()):.0%} from the exact value, and have no confidence interval"
        )
    lf = _window_filter(requests_lf, "arrival_time", since, until)
    eng = _window_filter(engine_lf, "time", since, until) if engine_lf is not None else None
    if eng is not None and eng.select(pl.len()).collect().item() == 0:
        eng = None
    from traceana.tags import tag_keys, with_tag_columns

    by = [by] if isinstance(by, str) else list(by)
    lf = with_tag_columns(lf, by)  # --by env groups on the ingest tag env
    cols = set(lf.collect_schema().names())
    by = _check_by(by, cols, tag_keys(lf) if any(b not in cols for b in by) else ())
    config = config if config is not None else Config()  # validated once, at load
    all_slos = [*config.slos, *slos]
    # with an engine, the counts and the window come from ClickHouse; the time basis from the rows
    counts = request_counts_ch(engine, since, until) if engine is not None else request_counts(lf)
    support = _time_support(lf, counts["total"], sec)
    timed = lf.filter(support.keep) if support is not None else lf
    if not counts["total"] or (support is not None and support.reason is not None):
        window = {"start": None, "end": None, "seconds": 0.0}
    else:
        window = window_of_ch(engine, since, until) if engine is not None else window_of(timed)
    every = choose_every(window["seconds"], _preferred_every(config))
    rep: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "title": title or "traceana report",
        "generated_at": iso(datetime.now(UTC).replace(microsecond=0)),
        "traceana_version": __version__,
        "window": window,
        "filters": {
            "since": iso(_utc(since)) if since else None,
            "until": iso(_utc(until)) if until else None,
            "by": list(by),
            "every": every,
        },
        "requests": counts,
    }
    if support is not None:
        rep["time_support"] = {
            "reason": support.reason,
            "excluded": support.excluded,
            "sources": [
                clean({**r, "start": iso(r["start"]), "end": iso(r["end"])}) for r in support.sources
            ],
        }
    if counts["total"] == 0:
        sec.warnings.append("no requests in the window")
        return _finish(rep, sec, all_slos)

    from traceana.report import sections

    names = tuple(m for m in CHART_METRICS if m in cols)
    scan = lf
    # derived_fields: whether a status was read or assumed (an SLO on assumed statuses is not measured)
    lf = load_requests(lf, named_columns(config, all_slos) | set(by) | {"derived_fields"}, load)
    timed = lf.filter(support.keep) if not support.excluded else lf.filter(support.keep).collect().lazy()
    no_time = support.reason

    def timed_only(what: str, fn: Callable[[_Sections], Any], empty: Any) -> Callable[[_Sections], Any]:
        """A section that needs arrival times: on the timed rows, or its reason instead of a figure."""
        if no_time is None:
            return fn

        def skipped(s: _Sections) -> Any:
            s.warnings.append(f"{what}: {no_time}")
            return empty

        return skipped

    # Independent sections in report order (their warnings merge in this order).
    tasks: dict[str, Callable[[_Sections], Any]] = {
        # overall and per group as two tasks: the longest section, split so two threads balance
        "latency": lambda s: build_latency(lf, by, s, itl_lf=scan, groupings=((),), m=m),
        "latency_by": lambda s: build_latency(
            lf, by, s, itl_lf=scan, groupings=(tuple(by),) if by else (), m=m
        ),
        "latency_budget": lambda s: build_budget(lf, by, s),
        "latency_user_visible": lambda s: build_user_visible(lf, by, s),
        "concurrency": timed_only(
            "concurrency", lambda s: sections.concurrency(timed, every, s, m=m), (None, [])
        ),
        "slo": lambda s: build_slo(
            lf, all_slos, every, window["end"], s, timed=None if no_time else timed, no_time=no_time, m=m
        ),
        "goodput": lambda s: sections.goodput(
            lf, all_slos, every, s, timed=None if no_time else timed, no_time=no_time
        ),
        "cost": timed_only(
            "cost",
            lambda s: sections.cost_and_capacity(timed, eng, config, window, every, s, m=m),
            (None, None, []),
        ),
        "kv": lambda s: sections.kv(eng, config, s),
        "degradation": lambda s: sections.degradation(lf, config, all_slos, s),
        "checklist": lambda s: sections.checklist(lf, eng, s, more=None if lf is scan else scan),
        "latency_ecdf": lambda s: latency_ecdf(lf, names),
        "percentiles_over_time": timed_only(
            "percentiles over time", lambda s: sections.percentiles_over_time(timed, every, s, m=m), []
        ),
        "queue_vs_utilization": timed_only(
            "queue vs utilization", lambda s: sections.queue_vs_utilization(timed, every, s), []
        ),
        "engine": lambda s: engine_windows(eng, every, window["seconds"]),
    }
    out = _run_sections(tasks, sec, report_workers(counts["total"], workers))
    rep["latency"] = _sorted_latency(out["latency"] + out["latency_by"])
    rep["latency_budget"] = out["latency_budget"]
    rep["latency_user_visible"] = out["latency_user_visible"]
    rep["concurrency"], concurrency_series = out["concurrency"]
    rep["slo"], burn = out["slo"]
    rep["goodput"], goodput_series = out["goodput"]
    rep["cost"], rep["capacity"], autoscale_series = out["cost"]
    rep["kv"] = out["kv"]
    rep["degradation"] = out["degradation"]
    rep["checklist"] = out["checklist"]
    rep["series"] = {
        "latency_ecdf": out["latency_ecdf"],
        "percentiles_over_time": out["percentiles_over_time"],
        "concurrency": concurrency_series,
        "queue_vs_utilization": out["queue_vs_utilization"],
        "engine": out["engine"],
        "burn": burn,
        "goodput": goodput_series,
        "autoscale": autoscale_series,
    }
    return _finish(rep, sec, all_slos)


def _check_by(by: Sequence[str], cols: set[str], tags: Sequence[str] = ()) -> list[str]:
    if isinstance(by, str):
        by = [by]
    for b in by:
        if b not in cols:
            close = difflib.get_close_matches(b, sorted(cols), n=1)
            hint = f" Hint: did you mean '{close[0]}'?" if close else ""
            valid = ", ".join(
                sorted(
                    c
                    for c in cols
                    if not c.endswith("_s") and c not in ("arrival_time", "scheduled_time", "itl_s")
                )
            )
            tagged = f" Tags: {', '.join(tags)}." if tags else ""
            raise TraceanaError(f"--by: unknown column '{b}'. Valid columns: {valid}.{tagged}{hint}")
    return list(by)


def build_cost(
    requests_lf: pl.LazyFrame,
    engine_lf: pl.LazyFrame | None = None,
    config: Config | None = None,
    slos: Sequence = (),
    since: datetime | None = None,
    until: datetime | None = None,
    engine: Any = None,
) -> dict:
    """The cost audit alone (``traceana cost``): window, cost rows, autoscaling, the config's SLOs and a verdict.
    ``engine``: as in :func:`build_report` (cost sums, SLO counts, request counts in ClickHouse)."""
    from traceana.report.pushdown import Pushed, local

    config = config if config is not None else Config()  # validated once, at load

    m = Pushed(engine, since, until) if engine is not None else local()
    sec = _Sections()
    lf = _window_filter(requests_lf, "arrival_time", since, until)
    eng = _window_filter(engine_lf, "time", since, until) if engine_lf is not None else None
    if eng is not None and eng.select(pl.len()).collect().item() == 0:
        eng = None
    counts = request_counts_ch(engine, since, until) if engine is not None else request_counts(lf)
    support = _time_support(lf, counts["total"], sec)
    timed = lf.filter(support.keep) if support is not None else lf
    no_time = support.reason if support is not None else None
    if not counts["total"] or no_time is not None:
        window = {"start": None, "end": None, "seconds": 0.0}
    else:
        window = window_of_ch(engine, since, until) if engine is not None else window_of(timed)
    every = choose_every(window["seconds"], _preferred_every(config))
    from traceana.report import sections

    out: dict[str, Any] = {"window": window, "requests": counts}
    if no_time is not None:
        sec.warnings.append(f"cost: {no_time}")
        out["cost"], out["capacity"] = None, None
    else:
        out["cost"], out["capacity"], _ = (
            sections.cost_and_capacity(timed, eng, config, window, every, sec, m=m)
            if counts["total"]
            else (None, None, [])
        )
    all_slos = [*config.slos, *slos]
    out["slo"], _ = (
        build_slo(
            lf, all_slos, every, window["end"], sec, timed=None if no_time else timed, no_time=no_time, m=m
        )
        if counts["total"]
        else ([], [])
    )
    out["verdict"] = verdict(out["slo"])
    totals = (out.get("cost") or {}).get("totals") or {}
    # 3: a figure the data contradicts (utilization > 100%); 2: an instance no price entry matches
    out["verdict"]["cost_exit_code"] = 3 if totals.get("data_errors") else 2 if totals.get("unpriced") else 0
    out["warnings"] = sec.warnings
    return clean(out)


def _preferred_every(config: Config) -> str | None:
    windows = config.report.windows
    return windows[0] if windows else None


def verdict(slo_rows: list[dict]) -> dict:
    """breached: SLO names with attainment < objective or budget exhausted; exit_code 1 if any."""
    breached = [s["name"] for s in slo_rows if s.get("met") is False or s.get("budget_exhausted")]
    return {"breached": breached, "exit_code": 1 if breached else 0}


def _finish(rep: dict, sec: _Sections, slos: Sequence) -> dict:
    for key, empty in (
        ("latency", []),
        ("latency_budget", []),
        ("latency_user_visible", []),
        ("concurrency", None),
        ("slo", []),
        ("goodput", None),
        ("cost", None),
        ("capacity", None),
        ("kv", None),
        ("degradation", None),
        ("checklist", []),
    ):
        rep.setdefault(key, empty)
    rep.setdefault(
        "series",
        {
            k: []
            for k in (
                "latency_ecdf",
                "percentiles_over_time",
                "concurrency",
                "queue_vs_utilization",
                "engine",
                "burn",
                "goodput",
                "autoscale",
            )
        },
    )
    rep["verdict"] = verdict(rep["slo"])
    rep["warnings"] = sec.warnings
    return clean(rep)
