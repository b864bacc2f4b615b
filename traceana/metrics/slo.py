"""SLO attainment, error budget, burn rate, multi-window burn-rate alerts and goodput.

Definitions:

- A request is **good** for an SLO when ``status == "ok"``, its metric meets the
  threshold (``metric <op> threshold``) and the SLO's good filter matches.
  Failed requests are bad for every SLO. An ok request whose metric is **null**
  is **bad** too: it cannot be shown to meet the threshold (``evaluate`` counts
  these separately as ``unmeasured`` so a report can say why).
- The SLO's filter (``total_filter``) decides which requests count at all.
- Requests are assigned to time by ``arrival_time`` (the only time every source has).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np
import polars as pl

from traceana.config import METRIC_COLUMNS, SLO, parse_window
from traceana.errors import ConfigError, TraceanaError

_CMP = {"lte": "le", "lt": "lt", "gte": "ge", "gt": "gt"}


def _lazy(data: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    return data.lazy() if isinstance(data, pl.DataFrame) else data


def _window(lf: pl.LazyFrame, start: datetime | None, end: datetime | None) -> pl.LazyFrame:
    """Requests with start <= arrival_time < end."""
    if start is not None:
        lf = lf.filter(pl.col("arrival_time") >= pl.lit(start))
    if end is not None:
        lf = lf.filter(pl.col("arrival_time") < pl.lit(end))
    return lf


def error_budget(total: int, objective: float) -> int | float:
    """Allowed bad requests.

    Formula:
        allowed_bad = (1 - objective) * total          [requests]

    Computed in decimal from the objective as written (0.995, not the binary
    float nearest it), so 2,000,000 at 0.995 is exactly 10000. An int when integral.
    """
    allowed = (1 - Decimal(repr(float(objective)))) * int(total)
    return int(allowed) if allowed == allowed.to_integral_value() else float(allowed)


def in_scope(slo: SLO) -> pl.Expr:
    """Which requests the SLO counts (its filter; all requests when it has none)."""
    return slo.total_filter.expr() if slo.total_filter is not None else pl.lit(True)


def is_good(slo: SLO) -> pl.Expr:
    """Boolean expression: the request is good for ``slo``.

    Formula:
        good = status == "ok" AND metric <op> threshold AND good_filter
    A null status or a null metric makes the request bad (never null).
    """
    good = pl.col("status") == "ok"
    if slo.metric is not None:
        col, thr = pl.col(slo.metric), slo.threshold
        good = (
            good
            & {"le": col <= thr, "lt": col < thr, "ge": col >= thr, "gt": col > thr}[_CMP[slo.op or "lte"]]
        )
    if slo.good_filter is not None:
        good = good & slo.good_filter.expr()
    return good.fill_null(False)


def evaluate(
    data: pl.LazyFrame | pl.DataFrame,
    slos: list[SLO],
    start: datetime | None = None,
    end: datetime | None = None,
) -> pl.DataFrame:
    """Attainment and error budget of each SLO over its period, within [start, end).

    Each SLO counts the requests of its last period: arrival_time in
    [max(start, anchor - period_s), end), anchor = end or the last arrival
    (a rolling window, OpenSLO isRolling). A trace shorter than the period is
    counted whole, so the budget is the one those requests earned.

    Columns: name, objective, metric, op, threshold, period_s, period_start (the rolling period's lower bound),
    total, bad, unmeasured (ok requests with a null metric, counted bad),
    attainment, allowed_bad, budget_remaining, met, budget_exhausted.

    Formula:
        attainment       = (total - bad) / total
        allowed_bad      = (1 - objective) * total
        budget_remaining = 1 - bad / allowed_bad       (1.0 = untouched, < 0 = overspent)
        met              = bad <= allowed_bad          (i.e. attainment >= objective, exactly)
        budget_exhausted = bad >= allowed_bad and bad > 0
    With no requests, attainment and budget_remaining are null and met is true.
    """
    lf = _window(_lazy(data), start, end)
    anchor = pl.lit(end) if end is not None else pl.col("arrival_time").max()
    aggs = [pl.col("arrival_time").max().alias("_last")]
    for i, s in enumerate(slos):
        scope = in_scope(s) & (
            pl.col("arrival_time") >= anchor - pl.duration(microseconds=round(s.period_s * 1e6))
        )
        aggs += [scope.sum().alias(f"t{i}"), (scope & ~is_good(s)).sum().alias(f"b{i}")]
        if s.metric is not None:
            aggs.append(
                (scope & (pl.col("status") == "ok") & pl.col(s.metric).is_null()).sum().alias(f"u{i}")
            )
    counts = lf.select(aggs).collect().row(0, named=True)
    return _evaluate_table(slos, counts, start, end)


def _evaluate_table(
    slos: list[SLO], counts: dict, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    """:func:`evaluate`'s rows from its counts: ``_last`` (last arrival) and t<i>, b<i>, u<i> per SLO."""
    last = end if end is not None else counts["_last"]
    rows = []
    for i, s in enumerate(slos):
        total, bad = int(counts[f"t{i}"] or 0), int(counts[f"b{i}"] or 0)
        allowed = error_budget(total, s.objective)
        lo = last - timedelta(seconds=s.period_s) if last is not None else None
        rows.append(
            {
                "name": s.name,
                "objective": s.objective,
                "metric": s.metric,
                "op": s.op,
                "threshold": s.threshold,
                "period_s": s.period_s,
                "period_start": max(lo, start) if start is not None and lo is not None else lo,
                "total": total,
                "bad": bad,
                "unmeasured": int(counts.get(f"u{i}") or 0),
                "attainment": (total - bad) / total if total else None,
                "allowed_bad": float(allowed),
                "budget_remaining": 1 - bad / allowed
                if allowed
                else (None if total == 0 else (1.0 if bad == 0 else float("-inf"))),
                "met": bad <= allowed,
                "budget_exhausted": bad > 0 and bad >= allowed,
            }
        )
    schema = {
        "name": pl.String,
        "objective": pl.Float64,
        "metric": pl.String,
        "op": pl.String,
        "threshold": pl.Float64,
        "period_s": pl.Float64,
        "period_start": pl.Datetime("us", "UTC"),
        "total": pl.Int64,
        "bad": pl.Int64,
        "unmeasured": pl.Int64,
        "attainment": pl.Float64,
        "allowed_bad": pl.Float64,
        "budget_remaining": pl.Float64,
        "met": pl.Boolean,
        "budget_exhausted": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema)


def burn_series(
    data: pl.LazyFrame | pl.DataFrame,
    slo: SLO,
    every: str = "1m",
    start: datetime | None = None,
    end: datetime | None = None,
) -> pl.DataFrame:
    """Per-bucket bad counts and burn rate, with the cumulative budget for a burn-down chart.

    Columns: window_start, total, bad, bad_fraction, burn_rate, cumulative_bad,
    budget_remaining. Buckets are contiguous (empty ones have total 0 and null
    bad_fraction / burn_rate) from the first to the last arrival (or start/end).

    Formula:
        bad_fraction     = bad / total                               (per bucket)
        burn_rate        = bad_fraction / (1 - objective)            (1 = spending exactly the budget)
        budget_remaining = 1 - cumulative_bad / allowed_bad(whole series total)
    The last budget_remaining equals ``evaluate``'s over the same window.
    """
    every_s = parse_window(every, "every")
    step = f"{int(every_s * 1e6)}us"
    lf = _window(_lazy(data), start, end).filter(in_scope(slo))
    counts = (
        lf.select(window_start=pl.col("arrival_time").dt.truncate(step), bad=~is_good(slo))
        .group_by("window_start")
        .agg(total=pl.len().cast(pl.Int64), bad=pl.col("bad").sum().cast(pl.Int64))
        .collect()
    )
    return _burn_table(counts, slo, step, start, end)


#: SLOs counted per pass of :func:`burn_series_many`: bounds its per-bucket frame whatever the number of SLOs
SLOS_PER_PASS = 64


def burn_series_many(
    data: pl.LazyFrame | pl.DataFrame,
    slos: list[SLO],
    every: str = "1m",
    start: datetime | None = None,
    end: datetime | None = None,
    per_pass: int = SLOS_PER_PASS,
):
    """:func:`burn_series` of each SLO, yielded as (slo, table) in order, ``per_pass`` SLOs per scan.

    One group_by per time bucket counts every SLO of a pass at once (total = in scope,
    bad = in scope and not good), so memory is bounded by ``per_pass``, not by ``len(slos)``;
    each table equals :func:`burn_series` of that SLO alone.
    """
    every_s = parse_window(every, "every")
    step = f"{int(every_s * 1e6)}us"
    lf = _window(_lazy(data), start, end)
    for lo in range(0, len(slos), per_pass):
        chunk = slos[lo : lo + per_pass]
        cols: dict[str, pl.Expr] = {"window_start": pl.col("arrival_time").dt.truncate(step)}
        for i, s in enumerate(chunk):
            scope = in_scope(s).fill_null(False)
            cols[f"t{i}"] = scope.cast(pl.Int64)
            cols[f"b{i}"] = (scope & ~is_good(s)).cast(pl.Int64)
        wide = (
            lf.select(**cols)
            .group_by("window_start")
            .agg(
                [pl.col(f"t{i}").sum() for i in range(len(chunk))]
                + [pl.col(f"b{i}").sum() for i in range(len(chunk))]
            )
            .collect()
        )
        for i, s in enumerate(chunk):
            counts = wide.select(
                "window_start", total=pl.col(f"t{i}").cast(pl.Int64), bad=pl.col(f"b{i}").cast(pl.Int64)
            ).filter(pl.col("total") > 0)
            yield s, _burn_table(counts, s, step, start, end)
        del wide


def _burn_table(
    counts: pl.DataFrame, slo: SLO, step: str, start: datetime | None, end: datetime | None
) -> pl.DataFrame:
    """:func:`burn_series`'s table from the per-bucket counts (window_start, total, bad)."""
    lo = pl.Series([start]).dt.truncate(step)[0] if start is not None else counts["window_start"].min()
    hi = counts["window_start"].max()
    if end is not None:
        hi = pl.Series([end - timedelta(microseconds=1)]).dt.truncate(step)[0]
    schema = {"window_start": pl.Datetime("us", "UTC"), "total": pl.Int64, "bad": pl.Int64}
    if lo is None or hi is None:
        grid = pl.DataFrame(schema=schema)
    else:
        grid = pl.DataFrame(
            {"window_start": pl.datetime_range(lo, hi, step, time_unit="us", time_zone="UTC", eager=True)}
        )
        grid = grid.join(counts, on="window_start", how="left").with_columns(
            pl.col("total", "bad").fill_null(0)
        )
    allowed = float(error_budget(int(grid["total"].sum()), slo.objective))
    return (
        grid.with_columns(
            bad_fraction=pl.when(pl.col("total") > 0).then(pl.col("bad") / pl.col("total")),
            cumulative_bad=pl.col("bad").cum_sum(),
        )
        .with_columns(
            burn_rate=pl.col("bad_fraction") / (1 - slo.objective),
            budget_remaining=(1 - pl.col("cumulative_bad") / allowed)
            if allowed
            else pl.lit(None, pl.Float64),
        )
        .select(
            "window_start", "total", "bad", "bad_fraction", "burn_rate", "cumulative_bad", "budget_remaining"
        )
    )


# --------------------------------------------------------------------------- alerts


@dataclass(frozen=True)
class AlertWindow:
    """One row of a multi-window burn-rate alert policy."""

    severity: str
    long_s: float
    short_s: float
    budget_fraction: float  # of the period's budget spent within long_s when the alert fires

    def factor(self, period_s: float) -> float:
        """Burn-rate threshold for an SLO period.

        Formula:
            factor = budget_fraction * period_s / long_s
        (30 days, 1 h, 2% -> 0.02 * 720 h / 1 h = 14.4)
        """
        return float(
            Fraction(repr(self.budget_fraction))
            * Fraction(repr(float(period_s)))
            / Fraction(repr(float(self.long_s)))
        )


_H = 3600.0
#: Google SRE workbook table 5-8 (30-day SLO); "sloth" adds Sloth's 1d/2h ticket window.
ALERT_POLICIES: dict[str, tuple[AlertWindow, ...]] = {
    "sre": (
        AlertWindow("page", 1 * _H, 5 * 60.0, 0.02),
        AlertWindow("page", 6 * _H, 30 * 60.0, 0.05),
        AlertWindow("ticket", 72 * _H, 6 * _H, 0.10),
    ),
}
ALERT_POLICIES["sloth"] = (
    *ALERT_POLICIES["sre"][:2],
    AlertWindow("ticket", 24 * _H, 2 * _H, 0.10),
    ALERT_POLICIES["sre"][2],
)


def _label(seconds: float) -> str:
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= n and seconds % n == 0:
            return f"{int(seconds // n)}{unit}"
    return f"{seconds:g}s"


def _policy(policy: str) -> tuple[AlertWindow, ...]:
    if policy not in ALERT_POLICIES:
        raise ConfigError(f"'{policy}' is not allowed. Allowed: {', '.join(ALERT_POLICIES)}", "policy")
    return ALERT_POLICIES[policy]


def alert_windows(slo: SLO, policy: str = "sre") -> pl.DataFrame:
    """The policy's windows with burn-rate factors scaled to ``slo.period_s`` (see AlertWindow.factor)."""
    return pl.DataFrame(
        [
            {
                "severity": w.severity,
                "long_window": _label(w.long_s),
                "short_window": _label(w.short_s),
                "budget_fraction": w.budget_fraction,
                "factor": w.factor(slo.period_s),
            }
            for w in _policy(policy)
        ],
        schema={
            "severity": pl.String,
            "long_window": pl.String,
            "short_window": pl.String,
            "budget_fraction": pl.Float64,
            "factor": pl.Float64,
        },
    )


def _trailing_burn(total: np.ndarray, bad: np.ndarray, k: int, objective: float) -> np.ndarray:
    """Burn rate over the k buckets ending at each bucket (fewer at the start: what is available)."""
    ct, cb = np.concatenate([[0], np.cumsum(total)]), np.concatenate([[0], np.cumsum(bad)])
    idx = np.arange(len(total))
    lo = np.maximum(idx + 1 - k, 0)
    t, b = ct[idx + 1] - ct[lo], cb[idx + 1] - cb[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(t > 0, b / np.where(t > 0, t, 1), 0.0) / (1 - objective)


def alerts(series: pl.DataFrame, slo: SLO, policy: str = "sre") -> list[dict]:
    """Multi-window burn-rate alert episodes over a :func:`burn_series` table.

    For each policy window, at every bucket the long- and short-window burn
    rates are computed over the trailing windows ending with that bucket
    (rolling sums of total and bad; at the start of the trace a window uses the
    buckets available). The alert fires at the first bucket where both exceed
    the factor (strictly) and clears at the first bucket where that stops
    holding. ``fired_at`` / ``cleared_at`` are bucket starts; ``cleared_at`` is
    None when still firing at the end; ``peak_burn_rate`` is the highest
    long-window burn rate during the episode. Windows are whole buckets
    (round(window / bucket), at least one), so with 1 h buckets a 5 m short
    window is one bucket. Truncated windows at the start make early alerts
    noisier (a 3 d window over the first 20 minutes is a 20-minute window).

    Formula:
        burn(window) = (sum bad / sum total over window) / (1 - objective)
        firing       = burn(long) > factor AND burn(short) > factor
    """
    windows = _policy(policy)
    if series.height == 0:
        return []
    starts = series["window_start"].to_list()
    steps = np.diff(series["window_start"].cast(pl.Int64).to_numpy())
    if len(steps) and (steps <= 0).any() | (steps != steps[0]).any():
        raise TraceanaError("alerts() needs contiguous, equally spaced buckets (use burn_series)")
    every_s = float(steps[0]) / 1e6 if len(steps) else 60.0
    total, bad = series["total"].to_numpy().astype(float), series["bad"].to_numpy().astype(float)
    out = []
    for w in windows:
        factor = w.factor(slo.period_s)
        long_b = _trailing_burn(total, bad, max(1, round(w.long_s / every_s)), slo.objective)
        short_b = _trailing_burn(total, bad, max(1, round(w.short_s / every_s)), slo.objective)
        firing = (long_b > factor) & (short_b > factor)
        edges = np.diff(np.concatenate([[0], firing.astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
            out.append(
                {
                    "severity": w.severity,
                    "long_window": _label(w.long_s),
                    "short_window": _label(w.short_s),
                    "factor": factor,
                    "fired_at": starts[a],
                    "cleared_at": starts[b] if b < len(starts) else None,
                    "peak_burn_rate": float(long_b[a:b].max()),
                }
            )
    return sorted(out, key=lambda r: (r["fired_at"], r["severity"]))


# --------------------------------------------------------------------------- goodput


def goodput(
    data: pl.LazyFrame | pl.DataFrame,
    thresholds: dict[str, float],
    every: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    one_token_tpot: str = "missing",
) -> pl.DataFrame:
    """Requests per second that are ok and meet every threshold (DistServe, vLLM ``--goodput``).

    ``one_token_tpot`` says what a request with one output token (no TPOT) does against a
    TPOT threshold: "missing" (traceana's default: it cannot be shown to meet it, so it is
    not good) or "zero" (vLLM ``bench serve`` ``calculate_metrics``: TPOT = 0 when
    output_len <= 1, so it meets any TPOT SLO).

    Formula:
        good          = status == "ok" AND metric <= threshold for every metric given (null -> not good)
        tpot (zero)   = 0 when output_tokens <= 1 and tpot_s is null, else tpot_s
        goodput_per_s = good / window_s
        fraction      = good / total
    Whole trace (``every`` None): one row, window_s = last completion - first
    arrival, completion = arrival_time + e2e_latency_s (arrival when e2e is
    null). With ``every``: one row per bucket of arrival time, window_s = every.
    Columns: window_start, window_s, total, good, fraction, goodput_per_s, throughput_per_s.
    """
    for k, v in thresholds.items():
        if k not in METRIC_COLUMNS:
            raise ConfigError(
                f"'{k}' is not a numeric requests column. Allowed: ttft_s, tpot_s, e2e_latency_s, ...",
                f"thresholds.{k}",
            )
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigError(f"expected a number, got {v!r}", f"thresholds.{k}")
    if one_token_tpot not in ("missing", "zero"):
        raise ConfigError(f"'{one_token_tpot}' is not allowed. Allowed: missing, zero", "one_token_tpot")
    good = pl.col("status") == "ok"
    for k, v in thresholds.items():
        col = pl.col(k)
        if k == "tpot_s" and one_token_tpot == "zero":
            col = pl.when(col.is_null() & (pl.col("output_tokens") <= 1)).then(0.0).otherwise(col)
        good = good & (col <= v)
    lf = _window(_lazy(data), start, end).with_columns(_good=good.fill_null(False))
    if every is None:
        done = pl.col("arrival_time") + pl.duration(
            microseconds=(pl.col("e2e_latency_s").fill_null(0) * 1e6).round()
        )
        df = lf.select(
            window_start=pl.col("arrival_time").min(),
            window_s=(done.max() - pl.col("arrival_time").min()).dt.total_microseconds() / 1e6,
            total=pl.len().cast(pl.Int64),
            good=pl.col("_good").sum().cast(pl.Int64),
        ).collect()
    else:
        every_s = parse_window(every, "every")
        df = (
            lf.group_by(window_start=pl.col("arrival_time").dt.truncate(f"{int(every_s * 1e6)}us"))
            .agg(total=pl.len().cast(pl.Int64), good=pl.col("_good").sum().cast(pl.Int64))
            .sort("window_start")
            .with_columns(window_s=pl.lit(every_s))
            .collect()
        )
    return df.with_columns(
        fraction=pl.when(pl.col("total") > 0).then(pl.col("good") / pl.col("total")),
        goodput_per_s=pl.when(pl.col("window_s") > 0).then(pl.col("good") / pl.col("window_s")),
        throughput_per_s=pl.when(pl.col("window_s") > 0).then(pl.col("total") / pl.col("window_s")),
    ).select("window_start", "window_s", "total", "good", "fraction", "goodput_per_s", "throughput_per_s")


# ----------------------------------------------------------------- ClickHouse variants
# The same definitions computed in ClickHouse / chDB (traceana.engines); a test holds
# each equal to its polars twin above.

_SQL_CMP = {"le": "<=", "lt": "<", "ge": ">=", "gt": ">"}


def is_good_sql(slo: SLO, p) -> str:
    """:func:`is_good` as SQL (0/1, never NULL): status = 'ok' AND metric <op> threshold AND good filter."""
    from traceana.engines.sql import column, filter_sql

    good = [f"ifNull({column('status')} = {p.add('ok', 'String')}, 0)"]
    if slo.metric is not None:
        good.append(
            f"ifNull({column(slo.metric)} {_SQL_CMP[_CMP[slo.op or 'lte']]} {p.number(slo.threshold)}, 0)"
        )
    if slo.good_filter is not None:
        good.append(f"({filter_sql(slo.good_filter, p)})")
    return " AND ".join(good)


def evaluate_ch(
    ch,
    slos: list[SLO],
    start: datetime | None = None,
    end: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """:func:`evaluate` in ClickHouse: one countIf per SLO (in scope, bad, unmeasured) over
    start <= arrival_time < end; the same rows from the same counts (``_evaluate_table``).
    ``since`` / ``until`` only select the rows (the frame :func:`evaluate` would be given)."""
    from traceana.engines.sql import Params, column, filter_sql, where, window_where

    table = ch.table("requests")
    p = Params()
    clauses = window_where(p, start, end) + window_where(p, since, until)
    last = end
    if last is None:
        last = ch.query(
            f"SELECT max({column('arrival_time')}) AS last, count() AS n FROM {table} {where(clauses)}",
            p.values,
        ).row(0, named=True)
        last = last["last"] if last["n"] else None
    aggs = []
    for i, s in enumerate(slos):
        scope = f"({filter_sql(s.total_filter, p)})"
        if last is not None:
            lo = last - timedelta(microseconds=round(s.period_s * 1e6))
            scope += f" AND {column('arrival_time')} >= {p.time(lo)}"
        else:
            scope += " AND 0"
        aggs += [f"countIf({scope}) AS t{i}", f"countIf({scope} AND NOT ({is_good_sql(s, p)})) AS b{i}"]
        if s.metric is not None:
            aggs.append(
                f"countIf({scope} AND ifNull({column('status')} = {p.add('ok', 'String')}, 0) "
                f"AND {column(s.metric)} IS NULL) AS u{i}"
            )
    counts = ch.query(f"SELECT {', '.join(aggs) or '0 AS none'} FROM {table} {where(clauses)}", p.values).row(
        0, named=True
    )
    counts["_last"] = last
    return _evaluate_table(slos, counts, start, end)


def burn_series_ch(
    ch,
    slo: SLO,
    every: str = "1m",
    start: datetime | None = None,
    end: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """:func:`burn_series` in ClickHouse: time-bucketed counts (total, bad) per window, then the same
    grid, burn rate and budget (``_burn_table``) on those few rows. ``since`` / ``until`` only
    select the rows."""
    from traceana.engines.sql import Params, filter_sql, where, window_start_sql, window_where

    every_s = parse_window(every, "every")
    step = f"{int(every_s * 1e6)}us"
    p = Params()
    clauses = window_where(p, start, end) + window_where(p, since, until) + [filter_sql(slo.total_filter, p)]
    ws = window_start_sql(step, p)
    counts = ch.query(
        f"SELECT {ws} AS window_start, toInt64(count()) AS total, toInt64(countIf(NOT ({is_good_sql(slo, p)}))) AS bad "
        f"FROM {ch.table('requests')} {where(clauses)} GROUP BY window_start ORDER BY window_start",
        p.values,
    )
    if not counts.height:
        counts = pl.DataFrame(
            schema={"window_start": pl.Datetime("us", "UTC"), "total": pl.Int64, "bad": pl.Int64}
        )
    return _burn_table(counts, slo, step, start, end)
