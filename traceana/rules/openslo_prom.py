"""OpenSLO documents whose SLIs are already Prometheus queries, as :class:`PromSLO`.

Two spellings are read:

- OpenSLO v1 (``apiVersion: openslo/v1``): ``indicator.spec.ratioMetric`` with
  ``good``/``total`` or ``bad``/``total``, each ``metricSource: {type: prometheus,
  spec: {query: ...}}``; ``timeWindow[0].duration`` is the period;
- OpenSLO v1alpha as in Sloth's examples: ``objectives[].ratioMetrics`` with
  ``good``/``total`` ``{source: prometheus, query: ...}``; ``timeWindows[0]: {count, unit}``.

Formula (per window w):
    error_ratio(w) = 1 - good(w) / total(w)        (good/total)
    error_ratio(w) = bad(w) / total(w)             (bad/total)
The window goes into each range selector: Sloth's ``{{.window}}`` placeholder
when the query has one, otherwise every plain range ``[5m]`` is replaced.
Documents of ``type: traceana`` are handed to :func:`traceana.openslo.load_openslo`
and mapped like ``[[slo]]`` tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from traceana.config import DEFAULT_PERIOD_S, parse_window
from traceana.errors import ConfigError
from traceana.rules.sli import WINDOW, PromMetrics, PromSLO, prom_slos

_RANGE = re.compile(r"\[\s*\d+(?:ms|[smhdwy])\s*\]")  # a plain range selector, not a subquery [5m:1m]
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}


def _windowed(query, key: str, path: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise ConfigError("expected a PromQL query", key, path)
    q = query.strip()
    if WINDOW in q:
        return q
    if not _RANGE.search(q):
        raise ConfigError(
            "the query has no range selector ([5m] or [{{.window}}]) to put the window in", key, path
        )
    return _RANGE.sub(f"[{WINDOW}]", q)


def _source(m, key: str, path: str) -> str:
    """The PromQL of one v1 ``{metricSource: {type: prometheus, spec: {query}}}`` (or v1alpha ``{source, query}``)."""
    if not isinstance(m, dict):
        raise ConfigError("expected a mapping", key, path)
    if "metricSource" in m:
        ms = m["metricSource"]
        typ = str((ms or {}).get("type", "")) if isinstance(ms, dict) else ""
        if typ.lower() != "prometheus":
            raise ConfigError(
                f"metric source type '{typ}' is not a Prometheus query. Allowed: prometheus",
                f"{key}.metricSource.type",
                path,
            )
        return _windowed((ms.get("spec") or {}).get("query"), f"{key}.metricSource.spec.query", path)
    if str(m.get("source", "")).lower() != "prometheus":
        raise ConfigError(
            f"source '{m.get('source')}' is not allowed. Allowed: prometheus", f"{key}.source", path
        )
    return _windowed(m.get("query"), f"{key}.query", path)


def _ratio(rm, key: str, path: str) -> str:
    if not isinstance(rm, dict) or "total" not in rm or ("good" in rm) == ("bad" in rm):
        raise ConfigError("expected good/total or bad/total", key, path)
    total = _source(rm["total"], f"{key}.total", path)
    if "bad" in rm:
        return f"({_source(rm['bad'], f'{key}.bad', path)})\n/\n({total})"
    return f"1 - (\n({_source(rm['good'], f'{key}.good', path)})\n/\n({total})\n)"


def _period(spec: dict, key: str, path: str) -> float:
    if "timeWindow" in spec:  # v1
        tw = spec["timeWindow"]
        tw = tw[0] if isinstance(tw, list) and tw else tw
        if not isinstance(tw, dict) or "duration" not in tw:
            raise ConfigError("expected [{duration: 30d, isRolling: true}]", f"{key}.timeWindow", path)
        return parse_window(tw["duration"], f"{key}.timeWindow[0].duration", path)
    if "timeWindows" in spec:  # v1alpha
        tw = spec["timeWindows"]
        tw = tw[0] if isinstance(tw, list) and tw else tw
        unit = str((tw or {}).get("unit", "")).lower().rstrip("s") if isinstance(tw, dict) else ""
        count = tw.get("count") if isinstance(tw, dict) else None
        if unit not in _UNITS or isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise ConfigError("expected [{count: 30, unit: Day}]", f"{key}.timeWindows", path)
        return float(count * _UNITS[unit])
    return DEFAULT_PERIOD_S


def _target(obj: dict, key: str, path: str) -> float:
    t = obj.get("target", obj.get("targetPercent"))
    if "target" not in obj and isinstance(t, int | float) and not isinstance(t, bool):
        t = t / 100
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t < 1:
        raise ConfigError(
            f"{t!r} is not allowed. Allowed: target in (0, 1) or targetPercent in (0, 100)",
            f"{key}.target",
            path,
        )
    return float(t)


def _is_prometheus(docs: list) -> bool:
    text = yaml.safe_dump(docs)
    return bool(re.search(r"(?i)(type|source): prometheus", text))


def slos_from_docs(docs: list, path: str = "<openslo>", service: str | None = None) -> list[PromSLO]:
    """PromSLOs from parsed documents (kind SLO; SLI documents referenced by indicatorRef)."""
    slis = {
        str((d.get("metadata") or {}).get("name")): d.get("spec") or {}
        for d in docs
        if isinstance(d, dict) and d.get("kind") == "SLI"
    }
    out = []
    for i, d in enumerate(docs):
        key = f"document[{i}]"
        if not isinstance(d, dict) or d.get("kind") != "SLO":
            continue
        if d.get("apiVersion") not in ("openslo/v1", "openslo/v1alpha"):
            raise ConfigError(
                f"{d.get('apiVersion')!r} is not supported. Allowed: openslo/v1, openslo/v1alpha",
                f"{key}.apiVersion",
                path,
            )
        meta, spec = d.get("metadata") or {}, d.get("spec")
        if not isinstance(spec, dict):
            raise ConfigError("expected a mapping", f"{key}.spec", path)
        name, svc = str(meta.get("name") or key), str(service or spec.get("service") or "llm")
        if spec.get("budgetingMethod", "Occurrences") != "Occurrences":
            raise ConfigError(
                f"'{spec.get('budgetingMethod')}' is not supported. Allowed: Occurrences",
                f"{key}.spec.budgetingMethod",
                path,
            )
        period = _period(spec, f"{key}.spec", path)
        ind = (
            spec.get("indicator", {}).get("spec")
            if isinstance(spec.get("indicator"), dict)
            else slis.get(str(spec.get("indicatorRef")))
        )
        objectives = spec.get("objectives")
        if not isinstance(objectives, list) or not objectives:
            raise ConfigError("expected a non-empty list", f"{key}.spec.objectives", path)
        for j, obj in enumerate(objectives):
            okey = f"{key}.spec.objectives[{j}]"
            if not isinstance(obj, dict):
                raise ConfigError("expected a mapping", okey, path)
            if "ratioMetrics" in obj:  # v1alpha: the ratio lives in the objective
                query = _ratio(obj["ratioMetrics"], f"{okey}.ratioMetrics", path)
            elif isinstance(ind, dict) and "ratioMetric" in ind:
                query = _ratio(ind["ratioMetric"], f"{key}.spec.indicator.spec.ratioMetric", path)
            else:
                raise ConfigError(
                    "expected an indicator with ratioMetric (or ratioMetrics in the objective)", okey, path
                )
            label = obj.get("name") or obj.get("displayName") or str(j)
            sname = name if len(objectives) == 1 else f"{name}-{label}"
            out.append(
                PromSLO(
                    sname,
                    svc,
                    _target(obj, okey, path),
                    period,
                    query,
                    str(spec.get("description") or meta.get("displayName") or ""),
                )
            )
    if not out:
        raise ConfigError("no 'kind: SLO' document found", None, path)
    return out


def load_openslo_prom(path: str | Path, service: str | None = None) -> list[PromSLO]:
    """Read an OpenSLO YAML file: Prometheus-query SLIs pass through, ``type: traceana`` ones map to vLLM series."""
    p = str(path)
    try:
        docs = [d for d in yaml.safe_load_all(Path(p).read_text(encoding="utf-8")) if d is not None]
    except FileNotFoundError:
        raise ConfigError("file not found", None, p) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read: {exc}", None, p) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", None, p) from None
    if _is_prometheus(docs):
        return slos_from_docs(docs, p, service)
    from traceana.openslo import slos_from_openslo

    m = PromMetrics(service=service) if service else PromMetrics()
    return prom_slos(slos_from_openslo(docs, p), m)
