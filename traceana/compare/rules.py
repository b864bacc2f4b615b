"""``--fail-on`` gate rules: ``p99(ttft) > +10%``, ``error_rate > +0.5pp``, ``goodput < -5%``.

Grammar::

    rule      := metric op threshold
    metric    := stat "(" latency ["," "user-visible"] ")" | "shift(" latency ")"
               | "error_rate" | "attainment(" slo name ")" | "throughput" | "goodput"
               | "output_tokens_per_s" | "tokens_per_request" | "mean_concurrency" | "cost_per_1m_tokens"
    stat      := p50 | p90 | p95 | p99 | p99.9
    latency   := ttft | tpot | e2e | queue (or the column: ttft_s, e2e_latency_s, ...)
    op        := ">" | "<"
    threshold := signed number with unit: "%" (relative to base), "pp" (percentage
                 points, proportions only), "ms" / "s" (latencies), none (metric units)

A rule fires when, for some compared group, the difference is significant
(adjusted p < alpha, i.e. the row's verdict is better / worse / changed) and
beyond the threshold in the rule's direction: ``>`` fires when diff > threshold,
``<`` when diff < threshold. A bad rule is a ConfigError naming it (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from traceana.errors import ConfigError

ALIASES = {
    "ttft": "ttft_s",
    "tpot": "tpot_s",
    "e2e": "e2e_latency_s",
    "e2e_latency": "e2e_latency_s",
    "latency": "e2e_latency_s",
    "queue": "queue_time_s",
    "queue_time": "queue_time_s",
    "itl": "itl_s",
}
LATENCIES = ("ttft_s", "tpot_s", "e2e_latency_s", "queue_time_s", "itl_s")
STATS = {
    "p50": "p50",
    "p90": "p90",
    "p95": "p95",
    "p99": "p99",
    "p99.9": "p99_9",
    "p99_9": "p99_9",
    "p999": "p99_9",
}
PLAIN = (
    "error_rate",
    "throughput",
    "goodput",
    "output_tokens_per_s",
    "tokens_per_request",
    "mean_concurrency",
    "cost_per_1m_tokens",
)
PROPORTIONS = ("error_rate", "attainment")
SIGNIFICANT = ("better", "worse", "changed")

_RULE = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_.]*(?:\((?P<arg>[^()]*)\))?)\s*(?P<op>[<>])\s*"
    r"(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(?P<unit>%|pp|ms|s)?\s*$"
)


@dataclass(frozen=True)
class Rule:
    text: str
    metric_id: str  # the compare row id it reads, e.g. "p99(ttft_s)"
    op: str  # ">" or "<"
    threshold: float  # in the unit below
    unit: str  # "relative" (fraction), "absolute" (metric units)


def _latency(name: str, text: str) -> str:
    col = ALIASES.get(name, name)
    if col not in LATENCIES:
        raise ConfigError(
            f"rule {text!r}: unknown latency '{name}'. Allowed: ttft, tpot, e2e, queue, itl", "--fail-on"
        )
    return col


def _metric_id(metric: str, arg: str | None, text: str) -> tuple[str, str]:
    """(row id, kind: latency / proportion / other)."""
    head = metric.split("(")[0].lower()
    if head in STATS or head == "shift":
        if arg is None:
            raise ConfigError(f"rule {text!r}: {head} needs a latency, e.g. {head}(ttft)", "--fail-on")
        parts = [p.strip().lower() for p in arg.split(",")]
        col = _latency(parts[0], text)
        view = parts[1] if len(parts) > 1 else ""
        if view not in ("", "user-visible", "served") or len(parts) > 2:
            raise ConfigError(f"rule {text!r}: the second argument may only be 'user-visible'", "--fail-on")
        if head == "shift":
            return f"shift({col})", "other"
        return f"{STATS[head]}({col}{', user-visible' if view == 'user-visible' else ''})", "latency"
    if head == "attainment":
        if not arg or not arg.strip():
            raise ConfigError(
                f"rule {text!r}: attainment needs an SLO name, e.g. attainment(ttft-2s)", "--fail-on"
            )
        return f"attainment({arg.strip()})", "proportion"
    if head in PLAIN and arg is None:
        return head, "proportion" if head == "error_rate" else "other"
    allowed = "p50(ttft), p99(e2e), p99(ttft, user-visible), shift(ttft), attainment(NAME), " + ", ".join(
        PLAIN
    )
    raise ConfigError(f"rule {text!r}: unknown metric '{metric}'. Allowed: {allowed}", "--fail-on")


def parse_rule(text: str) -> Rule:
    """Parse one ``--fail-on`` rule (see the module docstring)."""
    m = _RULE.match(text or "")
    if not m:
        raise ConfigError(
            f"cannot parse rule {text!r}. Expected METRIC > THRESHOLD, e.g. 'p99(ttft) > +10%' or "
            "'error_rate > +0.5pp'",
            "--fail-on",
        )
    metric_id, kind = _metric_id(m["metric"], m["arg"], text)
    num, unit = float(m["num"]), m["unit"]
    if unit == "%":
        return Rule(text, metric_id, m["op"], num / 100.0, "relative")
    if unit == "pp":
        if kind != "proportion":
            raise ConfigError(
                f"rule {text!r}: 'pp' (percentage points) only applies to error_rate and attainment(...)",
                "--fail-on",
            )
        return Rule(text, metric_id, m["op"], num / 100.0, "absolute")
    if unit in ("ms", "s"):
        if kind != "latency":
            raise ConfigError(f"rule {text!r}: '{unit}' only applies to latency percentiles", "--fail-on")
        return Rule(text, metric_id, m["op"], num / 1000.0 if unit == "ms" else num, "absolute")
    return Rule(text, metric_id, m["op"], num, "absolute")


def evaluate(rules: list[Rule], rows: list[dict]) -> list[dict]:
    """Each rule's outcome: fired, and per matching group the difference it read and why."""
    out = []
    for rule in rules:
        checks = []
        for r in rows:
            if r["id"] != rule.metric_id:
                continue
            value = r["rel_diff"] if rule.unit == "relative" else r["diff"]
            beyond = value is not None and (
                value > rule.threshold if rule.op == ">" else value < rule.threshold
            )
            significant = r["verdict"] in SIGNIFICANT
            checks.append(
                {
                    "group": r["group"],
                    "value": value,
                    "verdict": r["verdict"],
                    "p_adjusted": r.get("p_adjusted"),
                    "significant": significant,
                    "beyond_threshold": beyond,
                    "fired": bool(beyond and significant),
                }
            )
        fired = any(c["fired"] for c in checks)
        if not checks:
            status = "not evaluated: the data has no such metric"
        elif all(c["verdict"] == "not enough data" for c in checks):
            status = "not evaluated: not enough data for this metric"
        elif fired:
            status = "fired"
        elif any(c["beyond_threshold"] for c in checks):
            status = "passed: beyond the threshold but not significant"
        else:
            status = "passed"
        out.append(
            {
                "rule": rule.text,
                "metric": rule.metric_id,
                "op": rule.op,
                "threshold": rule.threshold,
                "unit": rule.unit,
                "fired": fired,
                "status": status,
                "groups": checks,
            }
        )
    return out
