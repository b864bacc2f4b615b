"""Which metric calls the report hands to its engine.

The report's heavy sections call their metrics through a :class:`Metrics`
object: :data:`LOCAL` (the polars functions, the embedded engine) or
:class:`Pushed` (their ClickHouse twins over the engine's table, the report's
[since, until) window as a WHERE clause). Both take the same arguments; the
pushed ones ignore the frame (the rows live in the engine) and return the same
small tables, so the report's shaping code is one.

Pushed to ClickHouse: latency percentiles (overall, per group, per window;
ITL), SLO attainment and burn series, the concurrency sweep (Little's law
summary and series), effective cost (token sums, busy hours per instance),
request counts and the window. Everything else (see :data:`LOCAL_SECTIONS`)
runs on the rows the engine hands back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: report sections computed in the engine (their numbers come back as small tables)
PUSHED_SECTIONS = (
    "requests",
    "window",
    "latency",
    "percentiles_over_time",
    "slo",
    "series.burn",
    "concurrency",
    "series.concurrency",
    "cost",
)
#: report sections still computed in Python from the requests the engine returns
# (latency_user_visible, issue 19's error-adjusted percentiles, is local too once both are merged)
LOCAL_SECTIONS = (
    "latency_budget",
    "latency_user_visible",
    "goodput",
    "capacity (autoscaling)",
    "kv",
    "degradation",
    "checklist",
    "series.latency_ecdf",
    "series.queue_vs_utilization",
    "series.engine",
    "series.autoscale",
)


@dataclass(frozen=True)
class Metrics:
    """The metric functions of the pushed sections (the embedded engine's: the polars ones)."""

    percentiles: Any
    itl_percentiles: Any
    evaluate: Any
    burn_series: Any
    summary_and_series: Any
    effective_cost: Any


def local() -> Metrics:
    """The embedded engine's metric functions."""
    from traceana.metrics import concurrency, cost, latency, slo

    return Metrics(
        latency.percentiles,
        latency.itl_percentiles,
        slo.evaluate,
        slo.burn_series,
        concurrency.summary_and_series,
        cost.effective_cost,
    )


class Pushed:
    """The ClickHouse twins bound to one connection and the report window [since, until)."""

    def __init__(self, ch: Any, since: datetime | None = None, until: datetime | None = None) -> None:
        self.ch, self.since, self.until = ch, since, until
        self.approximate = bool(getattr(ch, "approximate", False))  # t-digest percentiles (--approx)

    def percentiles(self, _lf: Any, metrics, by=(), every=None, ok_only=True, confidence=0.95):
        from traceana.metrics import latency

        return latency.percentiles_ch(
            self.ch,
            metrics=metrics,
            by=by,
            every=every,
            ok_only=ok_only,
            confidence=confidence,
            since=self.since,
            until=self.until,
            approximate=self.approximate,
        )

    def itl_percentiles(self, _lf: Any, by=(), ok_only=True, confidence=0.95):
        from traceana.metrics import latency

        return latency.itl_percentiles_ch(
            self.ch,
            by=by,
            ok_only=ok_only,
            confidence=confidence,
            since=self.since,
            until=self.until,
            approximate=self.approximate,
        )

    def evaluate(self, _lf: Any, slos, start=None, end=None):
        from traceana.metrics import slo

        return slo.evaluate_ch(self.ch, slos, start=start, end=end, since=self.since, until=self.until)

    def burn_series(self, _lf: Any, slo_, every="1m", start=None, end=None):
        from traceana.metrics import slo

        return slo.burn_series_ch(
            self.ch, slo_, every=every, start=start, end=end, since=self.since, until=self.until
        )

    def summary_and_series(self, _lf: Any, every="1m"):
        from traceana.metrics import concurrency

        return concurrency.summary_and_series_ch(self.ch, every=every, since=self.since, until=self.until)

    def effective_cost(
        self, _lf: Any, provisioned_df, gpu_prices, tokens="output", prompt_weight=None, start=None, end=None
    ):
        from traceana.metrics import cost

        return cost.effective_cost_ch(
            self.ch,
            provisioned_df,
            gpu_prices,
            tokens=tokens,
            prompt_weight=prompt_weight,
            start=start,
            end=end,
            since=self.since,
            until=self.until,
        )
