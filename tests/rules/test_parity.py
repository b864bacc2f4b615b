"""Offline alerts == live alerts: promtool evaluates traceana's rules over the trace's series and
checks, minute by minute, the alerts traceana's offline burn-alert computation says fire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import yaml

from tests.rules.conftest import run_promtool
from traceana.config import SLO
from traceana.rules import prom_slos, write_rules
from traceana.rules.openmetrics import trace_series
from traceana.rules.promtest import offline_firing, promtool_test_file

T0 = datetime(2025, 3, 1, tzinfo=UTC)
HOURS = 6
SLOS = [
    SLO("availability", 0.99, period_s=30 * 86400.0),
    SLO("ttft-2s", 0.99, "ttft_s", "lte", 2.0, 30 * 86400.0),
]


def _trace(shape: str, seed: int = 7) -> pl.DataFrame:
    """About 7 requests a minute for 6 hours; ``shape`` sets the bad fraction per minute."""
    rng = np.random.default_rng(seed)
    minutes = HOURS * 60
    p_err, p_slow = np.zeros(minutes), np.zeros(minutes)
    if shape == "fast_burn":  # 25 minutes at 40% failed, 30% slow
        p_err[90:115], p_slow[90:115] = 0.4, 0.3
    elif shape == "slow_burn":  # the whole trace at 2% failed and 1.5% slow: ticket, not page
        p_err[:], p_slow[:] = 0.02, 0.015
    elif shape == "short_burst":  # 3 minutes of everything failing or slow, inside 5 m
        p_err[150:153], p_slow[150:153] = 0.6, 0.4
    elif shape == "quiet":  # 0.2% bad: within budget, no alert
        p_err[:], p_slow[:] = 0.002, 0.002
    rows = []
    for m in range(minutes):
        for _ in range(int(rng.integers(6, 9))):
            t = T0 + timedelta(minutes=m, seconds=float(rng.uniform(0, 60)))
            failed = rng.random() < p_err[m]
            slow = rng.random() < p_slow[m]
            rows.append(
                {
                    "arrival_time": t,
                    "status": "error" if failed else "ok",
                    "ttft_s": None
                    if failed
                    else (float(rng.uniform(2.1, 6)) if slow else float(rng.uniform(0.05, 1.9))),
                }
            )
    return pl.DataFrame(
        rows, schema={"arrival_time": pl.Datetime("us", "UTC"), "status": pl.String, "ttft_s": pl.Float64}
    )


@pytest.mark.parametrize("shape", ["fast_burn", "slow_burn", "short_burst", "quiet"])
def test_promtool_fires_when_traceana_does(shape, tmp_path, promtool):
    df = _trace(shape)
    end = T0 + timedelta(hours=HOURS)
    pslos = prom_slos(SLOS)
    write_rules(pslos, tmp_path / "rules.yaml")
    times, series = trace_series(df, SLOS, start=T0, end=end)
    firing = [offline_firing(df, s, T0, end) for s in SLOS]
    doc = promtool_test_file("rules.yaml", series, list(zip(pslos, firing, strict=True)), len(times) - 1)
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, width=10**6))
    res = run_promtool(promtool, "test", "rules", "test.yaml", cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    pages = {s.name: len(f["page"]) for s, f in zip(SLOS, firing, strict=True)}
    tickets = {s.name: len(f["ticket"]) for s, f in zip(SLOS, firing, strict=True)}
    # the shape did what it was designed to do (so a pass above is not a pass of empty expectations)
    if shape == "fast_burn":
        assert pages["availability"] > 0 and pages["ttft-2s"] > 0
    elif shape == "slow_burn":
        # (the first hour's truncated windows are noisy: a bad request in minute 1 is a 1-minute 1h window)
        late_pages = [k for f in firing for k in f["page"] if k > 60]
        assert late_pages == [] and tickets["availability"] > 0 and tickets["ttft-2s"] > 0
    elif shape == "short_burst":
        assert pages["availability"] == 0 or min(_first(firing[0]["page"])) >= 151
        assert tickets["availability"] + pages["availability"] > 0
    else:
        assert pages == {"availability": 0, "ttft-2s": 0} and tickets == {"availability": 0, "ttft-2s": 0}


def _first(ks: set[int]) -> list[int]:
    return sorted(ks)[:1] or [10**9]


def test_promtool_notices_a_wrong_expectation(tmp_path, promtool):
    """The harness can fail: shift the offline alerts one minute late and promtool must reject them."""
    df = _trace("fast_burn")
    end = T0 + timedelta(hours=HOURS)
    pslos = prom_slos(SLOS[:1])
    write_rules(pslos, tmp_path / "rules.yaml")
    times, series = trace_series(df, SLOS[:1], start=T0, end=end)
    f = offline_firing(df, SLOS[0], T0, end)
    late = {sev: {k + 1 for k in ks} for sev, ks in f.items()}
    doc = promtool_test_file("rules.yaml", series, [(pslos[0], late)], len(times) - 1)
    (tmp_path / "test.yaml").write_text(yaml.safe_dump(doc, sort_keys=False, width=10**6))
    assert run_promtool(promtool, "test", "rules", "test.yaml", cwd=tmp_path).returncode != 0
