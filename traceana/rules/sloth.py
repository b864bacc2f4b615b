"""Prometheus rule groups in the layout Sloth generates (or Pyrra's names), from :class:`PromSLO`.

Per SLO, three groups (Sloth's names and order, which the evaluation relies on):

1. ``sloth-slo-sli-recordings-<id>``: ``slo:sli_error:ratio_rate<w>`` for w in
   5m, 30m, 1h, 2h, 6h, 1d, 3d and the SLO period, each the SLO's error ratio
   over w, labelled sloth_id, sloth_service, sloth_slo, sloth_window;
2. ``sloth-slo-meta-recordings-<id>``: slo:objective:ratio, slo:error_budget:ratio,
   slo:time_period:days, slo:current_burn_rate:ratio (5m), slo:period_burn_rate:ratio,
   slo:period_error_budget_remaining:ratio, sloth_slo_info;
3. ``sloth-slo-alerts-<id>``: one alert per severity, multiwindow multi-burn-rate::

       page   = (ratio_5m  > 14.4 b and ratio_1h > 14.4 b) or (ratio_30m > 6 b and ratio_6h > 6 b)
       ticket = (ratio_2h  > 3 b    and ratio_1d > 3 b)    or (ratio_6h  > 1 b and ratio_3d > 1 b)
       b = error budget = 1 - objective; factor = budget_fraction * period / long window

   (factors for a 30-day period; ``traceana.metrics.slo.ALERT_POLICIES["sloth"]``
   holds the windows and scales the factors to other periods, the same numbers
   the offline report's alerts use). No ``for:``: an alert fires at the first
   evaluation where its condition holds, as offline.

``style="pyrra"`` writes the same windows and factors with Pyrra's names
(``<slo>:burnrate<w>`` = error ratio, label ``slo``; alert ``ErrorBudgetBurn``
per window pair with labels long, short, severity critical|warning). Pyrra's own
generator picks its factors per period and adds ``for:``; these rules keep
Sloth's so that both styles fire at the offline report's moments.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from traceana._atomic import write_text
from traceana.errors import TraceanaError
from traceana.metrics.slo import ALERT_POLICIES, _label
from traceana.rules.sli import PromSLO

POLICY = "sloth"
STYLES = ("sloth", "pyrra")


def windows(slo: PromSLO) -> list[str]:
    """The recording windows: every window of the alert policy, shortest first, then the SLO period."""
    ws = sorted({w for a in ALERT_POLICIES[POLICY] for w in (a.short_s, a.long_s)})
    return [_label(w) for w in ws] + ([_label(slo.period_s)] if slo.period_s not in ws else [])


def _num(x: float) -> str:
    r = repr(float(x))
    return r[:-2] if r.endswith(".0") else r


def _sel(labels: dict) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _ids(slo: PromSLO) -> dict:
    return {"sloth_id": slo.id, "sloth_service": slo.service, "sloth_slo": slo.name}


def alert_name(slo: PromSLO) -> str:
    """CamelCase of service and SLO name + HighErrorRate (Sloth's example: MyServiceHighErrorRate)."""
    words = re.split(r"[^A-Za-z0-9]+", f"{slo.service} {slo.name}")
    return "".join(w[:1].upper() + w[1:] for w in words if w) + "HighErrorRate"


def _severity_expr(slo: PromSLO, severity: str, rec) -> str:
    parts = []
    for w in ALERT_POLICIES[POLICY]:
        if w.severity != severity:
            continue
        thr = f"({_num(w.factor(slo.period_s))} * {slo.error_budget})"
        short, long_ = rec(_label(w.short_s)), rec(_label(w.long_s))
        parts.append(
            f"(\n    max({short} > {thr}) without (sloth_window)\n    and\n    max({long_} > {thr}) without (sloth_window)\n)"
        )
    return "\nor\n".join(parts)


def annotations(slo: PromSLO, severity: str) -> dict:
    return {
        "summary": f"{slo.service} {slo.name}: error budget burn rate is too fast ({slo.description or 'SLO'})",
        "title": f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} SLO error budget burn rate is too fast.",
    }


def sloth_groups(slo: PromSLO) -> list[dict]:
    ids, extra = _ids(slo), dict(slo.labels)
    sel = _sel(ids)
    sli = [
        {
            "record": f"slo:sli_error:ratio_rate{w}",
            "expr": slo.error_ratio(w) + "\n",
            "labels": {**extra, **ids, "sloth_window": w},
        }
        for w in windows(slo)
    ]
    period = _label(slo.period_s)
    meta_rules = [
        ("slo:objective:ratio", f"vector({_num(slo.objective)})"),
        ("slo:error_budget:ratio", f"vector({slo.error_budget})"),
        ("slo:time_period:days", f"vector({_num(slo.period_s / 86400)})"),
        (
            "slo:current_burn_rate:ratio",
            f"slo:sli_error:ratio_rate5m{sel}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
            f"slo:error_budget:ratio{sel}\n",
        ),
        (
            "slo:period_burn_rate:ratio",
            f"slo:sli_error:ratio_rate{period}{sel}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
            f"slo:error_budget:ratio{sel}\n",
        ),
        ("slo:period_error_budget_remaining:ratio", f"1 - slo:period_burn_rate:ratio{sel}"),
    ]
    meta = [{"record": r, "expr": e, "labels": {**extra, **ids}} for r, e in meta_rules]
    meta.append(
        {
            "record": "sloth_slo_info",
            "expr": "vector(1)",
            "labels": {
                **extra,
                **ids,
                "sloth_mode": "cli-gen-prom",
                "sloth_objective": _num(slo.objective * 100),
                "sloth_spec": "prometheus/v1",
                "sloth_version": "traceana",
            },
        }
    )
    alerts = [
        {
            "alert": alert_name(slo),
            "expr": _severity_expr(slo, sev, lambda w: f"slo:sli_error:ratio_rate{w}{sel}") + "\n",
            "labels": {"sloth_severity": sev},
            "annotations": annotations(slo, sev),
        }
        for sev in ("page", "ticket")
    ]
    return [
        {"name": f"sloth-slo-sli-recordings-{slo.id}", "rules": sli},
        {"name": f"sloth-slo-meta-recordings-{slo.id}", "rules": meta},
        {"name": f"sloth-slo-alerts-{slo.id}", "rules": alerts},
    ]


def pyrra_groups(slo: PromSLO) -> list[dict]:
    metric = re.sub(r"[^a-zA-Z0-9_]", "_", slo.name)
    ids = {"slo": slo.name, **slo.labels}
    rec = [
        {"record": f"{metric}:burnrate{w}", "expr": slo.error_ratio(w) + "\n", "labels": dict(ids)}
        for w in windows(slo)
    ]
    alerts = []
    for w in ALERT_POLICIES[POLICY]:
        thr = f"({_num(w.factor(slo.period_s))} * {slo.error_budget})"
        s, lg = _label(w.short_s), _label(w.long_s)
        alerts.append(
            {
                "alert": "ErrorBudgetBurn",
                "expr": f"{metric}:burnrate{s}{_sel(ids)} > {thr}\nand\n{metric}:burnrate{lg}{_sel(ids)} > {thr}\n",
                "labels": {
                    **ids,
                    "long": lg,
                    "short": s,
                    "severity": "critical" if w.severity == "page" else "warning",
                },
            }
        )
    return [{"name": f"{metric}-increase", "rules": rec}, {"name": metric, "rules": alerts}]


def rule_groups(slos: list[PromSLO], style: str = "sloth") -> dict:
    """``{"groups": [...]}`` for ``promtool check rules`` / Prometheus ``rule_files``."""
    if style not in STYLES:
        raise TraceanaError(f"style '{style}' is not allowed. Allowed: {', '.join(STYLES)}")
    names = [s.id for s in slos]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise TraceanaError(f"two SLOs share the id {sorted(dup)[0]!r}: rename one")
    make = sloth_groups if style == "sloth" else pyrra_groups
    return {"groups": [g for s in slos for g in make(s)]}


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, data: str):
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str)


def dump(doc: dict, header: str = "") -> str:
    return header + yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=1000, allow_unicode=True)


def write_rules(slos: list[PromSLO], path: str | Path, style: str = "sloth", source: str = "") -> Path:
    notes = "".join(f"# note: {n}\n" for s in slos for n in s.notes)
    header = f"# Generated by traceana rules{f' from {source}' if source else ''} ({style} layout). Do not edit.\n{notes}\n"
    return write_text(path, dump(rule_groups(slos, style), header))
