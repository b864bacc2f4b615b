"""An SLO as a Prometheus error-ratio query, and the metric names traceana's SLIs map to.

A traceana SLO (``[[slo]]`` in traceana.toml) maps to the series vLLM exposes
(and ``traceana export --prometheus`` writes), overridable in ``[prometheus]``:

- latency SLO ``metric <= threshold`` (op lte): the metric's histogram, bucket ``le = threshold``
  (the threshold must be a bucket bound of the live histogram)::

      error_ratio(w) = 1 - sum(rate(<hist>_bucket{le="<threshold>"}[w])) / sum(rate(<requests>[w]))

  ``<requests>`` counts every finished request, so a failed request is bad, as offline.
- availability SLO (no metric)::

      error_ratio(w) = sum(rate(<requests>{<error selector>}[w])) / sum(rate(<requests>[w]))

Defaults (vLLM): requests = ``vllm:request_success_total`` (every finished request,
label ``finished_reason``), errors = ``finished_reason="abort"``; histograms
ttft_s -> ``vllm:time_to_first_token_seconds``, tpot_s ->
``vllm:request_time_per_output_token_seconds``, e2e_latency_s ->
``vllm:e2e_request_latency_seconds``, queue_time_s -> ``vllm:request_queue_time_seconds``.
``engine = "sglang"`` takes the ``sglang:`` histograms of the same names.
A filter on an SLO cannot be written in PromQL: such an SLO takes the
histogram's own ``_count`` as its total (requests the histogram observed) and
carries a note saying so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from traceana.config import SLO
from traceana.errors import ConfigError

WINDOW = "{{.window}}"  # Sloth's placeholder for the range of each recording rule

HISTOGRAMS = {
    "vllm": {
        "ttft_s": "vllm:time_to_first_token_seconds",
        "tpot_s": "vllm:request_time_per_output_token_seconds",
        "e2e_latency_s": "vllm:e2e_request_latency_seconds",
        "queue_time_s": "vllm:request_queue_time_seconds",
    },
    "sglang": {
        "ttft_s": "sglang:time_to_first_token_seconds",
        "tpot_s": "sglang:request_time_per_output_token_seconds",
        "e2e_latency_s": "sglang:e2e_request_latency_seconds",
        "queue_time_s": "sglang:queue_time_seconds",
    },
}
REQUESTS = {"vllm": "vllm:request_success_total", "sglang": "sglang:num_requests_total"}
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_SELECTOR = re.compile(r'^\s*([a-zA-Z_]\w*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*,?\s*)*$')


def le_label(x: float) -> str:
    """The ``le`` label value Prometheus client libraries write for a bound (2 -> "2.0", inf -> "+Inf")."""
    return "+Inf" if x == float("inf") else repr(float(x))


@dataclass(frozen=True)
class PromMetrics:
    """Which series the rules read (``[prometheus]`` in traceana.toml overrides each)."""

    engine: str = "vllm"
    requests: str = REQUESTS["vllm"]
    error_selector: str = 'finished_reason="abort"'
    selector: str = ""  # added to every series, e.g. model_name="llama-3.1-8b"
    histograms: dict = field(default_factory=lambda: dict(HISTOGRAMS["vllm"]))
    service: str = "llm"
    labels: dict = field(default_factory=dict)  # extra labels on every rule

    def series(self, name: str, extra: str = "") -> str:
        sel = ", ".join(s for s in (self.selector, extra) if s)
        return f"{name}{{{sel}}}" if sel else name


def _check_name(v, key: str, path: str | None) -> str:
    if not isinstance(v, str) or not _NAME.match(v):
        raise ConfigError(f"{v!r} is not a Prometheus metric name", key, path)
    return v


def _check_selector(v, key: str, path: str | None) -> str:
    if not isinstance(v, str) or not _SELECTOR.match(v):
        raise ConfigError(f'{v!r} is not a label selector list (name="value", ...)', key, path)
    return v.strip().rstrip(",")


def metrics_from_dict(data: dict | None, path: str | None = None) -> PromMetrics:
    """``[prometheus]``: engine, requests, error_selector, selector, service, labels, [prometheus.histograms]."""
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError("expected a table", "prometheus", path)
    allowed = ("engine", "requests", "error_selector", "selector", "histograms", "service", "labels")
    for k in data:
        if k not in allowed:
            raise ConfigError(f"unknown key. Allowed: {', '.join(allowed)}", f"prometheus.{k}", path)
    engine = data.get("engine", "vllm")
    if engine not in HISTOGRAMS:
        raise ConfigError(
            f"{engine!r} is not allowed. Allowed: {', '.join(HISTOGRAMS)}", "prometheus.engine", path
        )
    hist = dict(HISTOGRAMS[engine])
    for k, v in (data.get("histograms") or {}).items():
        hist[str(k)] = _check_name(v, f"prometheus.histograms.{k}", path)
    labels = data.get("labels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(v, str) and re.match(r"^[a-zA-Z_]\w*$", k) for k, v in labels.items()
    ):
        raise ConfigError('expected a table of label = "value"', "prometheus.labels", path)
    service = data.get("service", "llm")
    if not isinstance(service, str) or not service:
        raise ConfigError("expected a non-empty string", "prometheus.service", path)
    return PromMetrics(
        engine=engine,
        requests=_check_name(data.get("requests", REQUESTS[engine]), "prometheus.requests", path),
        error_selector=_check_selector(
            data.get("error_selector", 'finished_reason="abort"'), "prometheus.error_selector", path
        ),
        selector=_check_selector(data.get("selector", ""), "prometheus.selector", path),
        histograms=hist,
        service=service,
        labels=dict(labels),
    )


@dataclass(frozen=True)
class PromSLO:
    """One SLO as Prometheus sees it: an error-ratio query with ``{{.window}}`` in every range."""

    name: str
    service: str
    objective: float
    period_s: float
    error_query: str
    description: str = ""
    labels: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """Sloth's ``sloth_id``: service-name, lower case, [a-z0-9-]."""
        return re.sub(r"[^a-z0-9]+", "-", f"{self.service}-{self.name}".lower()).strip("-")

    def error_ratio(self, window: str) -> str:
        """The query with the window put into each range selector."""
        return self.error_query.replace(WINDOW, window)

    @property
    def error_budget(self) -> str:
        """1 - objective, in decimal as written (0.99 -> "0.01", not 0.010000000000000009)."""
        return str(Decimal(1) - Decimal(repr(float(self.objective))))


def prom_slo(slo: SLO, m: PromMetrics) -> PromSLO:
    """A traceana SLO as a PromQL error ratio over the series in ``m`` (see the module docstring)."""
    notes = []
    total = f"sum(rate({m.series(m.requests)}[{WINDOW}]))"
    if slo.total_filter is not None or slo.good_filter is not None:
        notes.append(
            f"SLO '{slo.name}': its filter cannot be written in PromQL; the total is the requests "
            "the histogram observed" + ("" if slo.metric else " (filter ignored)")
        )
    if slo.metric is None:
        bad = f"sum(rate({m.series(m.requests, m.error_selector)}[{WINDOW}]))"
        query = f"({bad})\n/\n({total})"
    else:
        if slo.metric not in m.histograms:
            raise ConfigError(
                f"no Prometheus histogram for '{slo.metric}'. Allowed: {', '.join(m.histograms)}"
                " (or add it under [prometheus.histograms])",
                f"slo '{slo.name}'.metric",
            )
        if (slo.op or "lte") != "lte":
            raise ConfigError(
                f"op '{slo.op}' cannot be read from histogram buckets (le means <=). Allowed: lte",
                f"slo '{slo.name}'.op",
            )
        hist = m.histograms[slo.metric]
        if slo.total_filter is not None:
            total = f"sum(rate({m.series(hist + '_count')}[{WINDOW}]))"
        le = 'le="' + le_label(slo.threshold) + '"'
        good = f"sum(rate({m.series(hist + '_bucket', le)}[{WINDOW}]))"
        query = f"1 - (\n({good})\n/\n({total})\n)"
    return PromSLO(
        slo.name, m.service, slo.objective, slo.period_s, query, slo.description, dict(m.labels), tuple(notes)
    )


def prom_slos(slos: list[SLO], m: PromMetrics | None = None) -> list[PromSLO]:
    m = m or PromMetrics()
    return [prom_slo(s, m) for s in slos]
