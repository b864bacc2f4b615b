"""traceana's SLO config as OpenSLO v1 documents (``traceana slo export --openslo``).

A metric SLO becomes ``thresholdMetric`` (metricSource ``type: traceana``, spec.metric
and spec.filter) with one objective {op, value, target}; an availability SLO becomes
``ratioMetric`` with good/total spec.filter. ``traceana.openslo.load_openslo`` reads
them back to the same SLOs.
"""

from __future__ import annotations

from pathlib import Path

from traceana._atomic import write_text
from traceana.config import SLO
from traceana.metrics.slo import _label
from traceana.rules.sloth import dump


def _source(spec: dict) -> dict:
    return {"metricSource": {"type": "traceana", "spec": spec}}


def openslo_doc(slo: SLO, service: str = "llm") -> dict:
    filt = {"filter": slo.total_filter.text} if slo.total_filter is not None else {}
    if slo.metric is not None:
        indicator = {"thresholdMetric": _source({"metric": slo.metric, **filt})}
        objective = {"op": slo.op or "lte", "value": slo.threshold, "target": slo.objective}
    else:
        good = {"filter": slo.good_filter.text} if slo.good_filter is not None else {}
        indicator = {"ratioMetric": {"counter": True, "good": _source(good), "total": _source(filt)}}
        objective = {"target": slo.objective}
    spec = {
        "description": slo.description,
        "service": service,
        "budgetingMethod": "Occurrences",
        "timeWindow": [{"duration": _label(slo.period_s), "isRolling": True}],
        "indicator": {"metadata": {"name": slo.name}, "spec": indicator},
        "objectives": [objective],
    }
    if not slo.description:
        del spec["description"]
    return {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": {"name": slo.name}, "spec": spec}


def write_openslo(slos: list[SLO], path: str | Path, service: str = "llm") -> Path:
    return write_text(path, "---\n".join(dump(openslo_doc(s, service)) for s in slos))
