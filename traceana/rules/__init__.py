"""Prometheus rules, OpenMetrics series and OpenSLO documents from traceana's SLOs.

The offline report (``traceana.metrics.slo``) and the live rules written here
share one definition of each SLO, so both fire at the same moments:

- :mod:`traceana.rules.sli`: an SLO as a PromQL error-ratio query (:class:`PromSLO`),
  from a traceana SLO (metric names of vLLM / SGLang, overridable) or an OpenSLO
  document whose SLIs already are Prometheus queries (:mod:`traceana.rules.openslo_prom`);
- :mod:`traceana.rules.sloth`: recording and alerting rule groups in Sloth's (or Pyrra's) layout;
- :mod:`traceana.rules.openmetrics`: a trace as the counter and histogram series those rules read;
- :mod:`traceana.rules.promtest`: a ``promtool test rules`` file whose expected alerts
  come from the offline burn-alert computation;
- :mod:`traceana.rules.openslo_out`: traceana's SLO config as OpenSLO v1.
"""

from traceana.rules.load import load_prom_slos
from traceana.rules.sli import PromMetrics, PromSLO, prom_slos
from traceana.rules.sloth import rule_groups, write_rules

__all__ = ["PromMetrics", "PromSLO", "load_prom_slos", "prom_slos", "rule_groups", "write_rules"]
