"""A ``promtool test rules`` file whose expected alerts are traceana's offline alerts.

Input series: :func:`traceana.rules.openmetrics.trace_series` at 1-minute steps.
Expected alerts: :func:`traceana.metrics.slo.alerts` over 1-minute
:func:`~traceana.metrics.slo.burn_series` buckets with the Sloth policy. Bucket i
covers arrivals in [start + i m, start + (i + 1) m); its trailing windows are the
ranges Prometheus reads at t = start + (i + 1) m (a counter sample at t counts
arrivals before t), so an offline episode over buckets [a, b) is a firing alert
at every evaluation t in [start + (a + 1) m, start + (b + 1) m). A severity
fires when any of its window pairs does (Sloth's ``or``).
"""

from __future__ import annotations

from datetime import datetime

from traceana.config import SLO
from traceana.metrics.slo import alerts, burn_series
from traceana.rules.openmetrics import Series
from traceana.rules.sli import PromSLO
from traceana.rules.sloth import POLICY, alert_name, annotations

STEP_S = 60


def offline_firing(data, slo: SLO, start: datetime, end: datetime) -> dict[str, set[int]]:
    """Per severity, the evaluation indexes k (t = start + k * 1m) at which the offline alert fires."""
    series = burn_series(data, slo, every="1m", start=start, end=end)
    origin = series["window_start"][0]
    out: dict[str, set[int]] = {"page": set(), "ticket": set()}
    for ep in alerts(series, slo, policy=POLICY):
        a = int((ep["fired_at"] - origin).total_seconds() // STEP_S)
        b = (
            int((ep["cleared_at"] - origin).total_seconds() // STEP_S)
            if ep["cleared_at"] is not None
            else series.height
        )
        out[ep["severity"]].update(range(a + 1, b + 1))
    return out


def _expand(text: str, labels: dict) -> str:
    for k, v in labels.items():
        text = text.replace(f"{{{{$labels.{k}}}}}", v)
    return text


def expected_alerts(pslo: PromSLO, firing: dict[str, set[int]], k: int) -> list[dict]:
    out = []
    for sev in ("page", "ticket"):
        if k in firing[sev]:
            labels = {
                **pslo.labels,
                "sloth_id": pslo.id,
                "sloth_service": pslo.service,
                "sloth_slo": pslo.name,
                "sloth_severity": sev,
            }
            out.append(
                {
                    "exp_labels": labels,
                    "exp_annotations": {a: _expand(t, labels) for a, t in annotations(pslo, sev).items()},
                }
            )
    return out


def promtool_test_file(
    rules_file: str, series: list[Series], cases: list[tuple[PromSLO, dict[str, set[int]]]], n_steps: int
) -> dict:
    """The test document: input_series (explicit values, one per minute) and one alert_rule_test per SLO and minute 1..n."""
    inputs = [{"series": s.selector(), "values": " ".join(repr(float(v)) for v in s.values)} for s in series]
    tests = [
        {"eval_time": f"{k}m", "alertname": alert_name(p), "exp_alerts": expected_alerts(p, f, k)}
        for p, f in cases
        for k in range(1, n_steps + 1)
    ]
    # promtool evaluates groups by name unless told (alerts < meta < sli): Sloth's order puts the
    # recordings first, so an alert reads this minute's ratios. A live Prometheus runs groups
    # independently, so there an alert may lag by up to one evaluation interval.
    order = [
        f"sloth-slo-{g}-{p.id}" for p, _ in cases for g in ("sli-recordings", "meta-recordings", "alerts")
    ]
    return {
        "rule_files": [rules_file],
        "evaluation_interval": "1m",
        "group_eval_order": order,
        "tests": [{"interval": "1m", "input_series": inputs, "alert_rule_test": tests}],
    }
