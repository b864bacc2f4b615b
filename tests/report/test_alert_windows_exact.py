"""Burn alerts in the report use exact window lengths whatever the plot's bucket (issue 22 fix a).

A 1-day trace makes the report plot in 2-minute buckets (MAX_WINDOWS); the alerts must still be
the ones 1-minute buckets give (5 m = 5 buckets), not the 2-minute ones (5 m -> 2 buckets = 4 m).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from tests.report.report_frames import requests_frame
from traceana.config import SLO
from traceana.metrics.slo import alerts, burn_series
from traceana.report.build import build_report
from traceana.report.series import clean

T0 = datetime(2025, 3, 1, tzinfo=UTC)
SLO_A = SLO("availability", 0.99, period_s=30 * 86400.0)


def _day() -> pl.LazyFrame:
    rows = []
    for m in range(24 * 60):
        for j in range(4):
            bad = 601 <= m < 604 or (
                900 <= m < 960 and j == 0
            )  # a 3-minute outage at an odd minute; an hour at 25%
            rows.append(
                {
                    "request_id": f"r{m}-{j}",
                    "arrival_time": T0 + timedelta(minutes=m, seconds=15 * j),
                    "status": "error" if bad else "ok",
                }
            )
    return requests_frame(rows)


def test_report_alerts_use_one_minute_buckets_on_a_day():
    lf = _day()
    rep = build_report(lf, slos=[SLO_A])
    assert rep["filters"]["every"] == "2m"  # the plot is coarsened ...
    got = next(r for r in rep["slo"] if r["name"] == "availability")["alerts"]
    exact = clean(alerts(burn_series(lf, SLO_A, every="1m"), SLO_A))
    coarse = clean(alerts(burn_series(lf, SLO_A, every="2m"), SLO_A))
    assert got == exact  # ... the alerts are not
    assert exact != coarse  # (and the trace tells them apart)
