"""OpenSLO v1 documents (kind SLO, and SLI referenced by name) as traceana SLOs.

Threshold indicators name a trace column (``metricSource: {type: traceana, spec:
{metric: ttft_s}}``), one SLO per objective; ratio indicators name good/total
request sets by a parsed filter. Only Occurrences budgeting is supported.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from traceana.errors import ConfigError
from traceana.filters import METRIC_COLUMNS, parse_filter
from traceana.slos import DEFAULT_PERIOD_S, OPS, SLO, _did_you_mean, parse_window

#: an OpenSLO file is a few kB; past these it is hostile (a "billion laughs" alias bomb took 27 s, then MemoryError)
MAX_YAML_BYTES = 4 * 1024 * 1024
MAX_YAML_NODES = 100_000

#: the keys OpenSLO v1 defines, per object; anything else is a misspelling (an ignored key silently changes an SLO)
_KEYS = {
    "document": ("apiVersion", "kind", "metadata", "spec"),
    "metadata": ("name", "displayName", "labels", "annotations"),
    "spec": (
        "description",
        "service",
        "indicator",
        "indicatorRef",
        "timeWindow",
        "budgetingMethod",
        "objectives",
        "alertPolicies",
    ),
    "indicator": ("metadata", "spec"),
    "sli_spec": ("description", "thresholdMetric", "ratioMetric"),
    "objective": (
        "displayName",
        "name",
        "op",
        "value",
        "target",
        "targetPercent",
        "timeSliceTarget",
        "timeSliceWindow",
        "indicator",
        "indicatorRef",
        "compositeWeight",
    ),
    "timeWindow": ("duration", "isRolling", "calendar"),
    "metricSource": ("metricSourceRef", "type", "spec"),
    "traceana_spec": ("metric", "filter"),
    "thresholdMetric": ("metricSource",),
    "ratioMetric": ("counter", "good", "bad", "total", "raw", "rawType"),
    "ratio_part": ("metricSource",),
}


def _known(d: Any, kind: str, key: str, path: str) -> None:
    """Refuse keys OpenSLO does not define for ``kind``, naming the first and the allowed ones."""
    if not isinstance(d, dict):
        return
    allowed = _KEYS[kind]
    for k in d:
        if k not in allowed:
            raise ConfigError(
                f"unknown key '{k}'. Allowed: {', '.join(allowed)}.{_did_you_mean(str(k), allowed)}",
                f"{key}.{k}",
                path,
            )


def _need(d: Any, k: str, key: str, path: str, expected: str = "a mapping") -> Any:
    if not isinstance(d, dict) or k not in d:
        raise ConfigError(f"missing required key (expected {expected})", f"{key}.{k}", path)
    return d[k]


def _source_spec(ms: Any, key: str, path: str) -> dict:
    """The ``spec`` of a ``metricSource`` whose type must be traceana."""
    if not isinstance(ms, dict):
        raise ConfigError("expected a mapping with type and spec", key, path)
    _known(ms, "metricSource", key, path)
    typ = str(ms.get("type", ""))
    if typ.lower() != "traceana":
        raise ConfigError(
            f"metric source type '{typ}' cannot be evaluated from traces. Allowed: traceana",
            f"{key}.type",
            path,
        )
    spec = ms.get("spec", {})
    if not isinstance(spec, dict):
        raise ConfigError("expected a mapping", f"{key}.spec", path)
    _known(spec, "traceana_spec", f"{key}.spec", path)
    return spec


def _target(obj: dict, key: str, path: str) -> float:
    if "target" in obj:
        t = obj["target"]
    elif "targetPercent" in obj:
        t = obj["targetPercent"]
        if isinstance(t, int | float) and not isinstance(t, bool):
            t = float(Fraction(str(t)) / 100)
    else:
        raise ConfigError("missing target (or targetPercent)", f"{key}.target", path)
    if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t < 1:
        raise ConfigError(
            f"{t!r} is not allowed. Allowed: target in (0, 1) or targetPercent in (0, 100)",
            f"{key}.target",
            path,
        )
    return float(t)


def _period(spec: dict, key: str, path: str) -> float:
    tw = spec.get("timeWindow")
    if tw is None:
        return DEFAULT_PERIOD_S
    if isinstance(tw, dict):
        tw = [tw]
    if not isinstance(tw, list) or len(tw) != 1 or not isinstance(tw[0], dict) or "duration" not in tw[0]:
        raise ConfigError("expected [{duration: 30d, isRolling: true}]", f"{key}.timeWindow", path)
    _known(tw[0], "timeWindow", f"{key}.timeWindow[0]", path)
    return parse_window(tw[0]["duration"], f"{key}.timeWindow[0].duration", path)


def _slos_from_doc(doc: dict, key: str, path: str, slis: dict[str, dict]) -> list[SLO]:
    _known(doc, "document", key, path)
    meta = doc.get("metadata") or {}
    _known(meta, "metadata", f"{key}.metadata", path)
    name = str(meta.get("name") or key)
    spec = _need(doc, "spec", key, path)
    key = f"{key}.spec"
    _known(spec, "spec", key, path)
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        raise ConfigError(
            f"'{method}' is not supported: traceana evaluates request-based SLOs. Allowed: Occurrences",
            f"{key}.budgetingMethod",
            path,
        )
    period = _period(spec, key, path)
    if "indicator" in spec:
        ind, ikey = spec["indicator"], f"{key}.indicator"
        _known(ind, "indicator", ikey, path)
        ind_spec = _need(ind, "spec", ikey, path)
        _known(ind_spec, "sli_spec", f"{ikey}.spec", path)
    elif "indicatorRef" in spec:
        ref, ikey = spec["indicatorRef"], f"{key}.indicatorRef"
        if ref not in slis:
            raise ConfigError(
                f"no kind: SLI named '{ref}' in this file.{_did_you_mean(str(ref), slis)}", ikey, path
            )
        ind_spec = slis[ref]
    else:
        raise ConfigError("missing indicator (or indicatorRef)", f"{key}.indicator", path)
    objectives = _need(spec, "objectives", key, path, "a list of objectives")
    if not isinstance(objectives, list) or not objectives:
        raise ConfigError("expected a non-empty list", f"{key}.objectives", path)
    desc = str(spec.get("description") or "")
    out = []
    for j, obj in enumerate(objectives):
        okey = f"{key}.objectives[{j}]"
        if not isinstance(obj, dict):
            raise ConfigError("expected a mapping", okey, path)
        _known(obj, "objective", okey, path)
        label = obj.get("name") or obj.get("displayName") or str(j)
        sname = name if len(objectives) == 1 else f"{name}/{label}"
        target = _target(obj, okey, path)
        odesc = str(obj.get("displayName") or desc)
        if "thresholdMetric" in ind_spec:
            _known(ind_spec["thresholdMetric"], "thresholdMetric", f"{ikey}.spec.thresholdMetric", path)
            src = _source_spec(
                _need(ind_spec["thresholdMetric"], "metricSource", f"{ikey}.spec.thresholdMetric", path),
                f"{ikey}.spec.thresholdMetric.metricSource",
                path,
            )
            metric = src.get("metric")
            if metric not in METRIC_COLUMNS:
                raise ConfigError(
                    f"{metric!r} is not a numeric requests column.{_did_you_mean(str(metric), METRIC_COLUMNS)}",
                    f"{ikey}.spec.thresholdMetric.metricSource.spec.metric",
                    path,
                )
            op = obj.get("op")
            if op not in OPS:
                raise ConfigError(f"{op!r} is not allowed. Allowed: {', '.join(OPS)}", f"{okey}.op", path)
            value = obj.get("value")
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 0
            ):
                raise ConfigError(
                    f"expected a finite number >= 0 (the threshold in {metric}'s unit), got {value!r}",
                    f"{okey}.value",
                    path,
                )
            filt = src.get("filter")
            out.append(
                SLO(
                    sname,
                    target,
                    metric,
                    op,
                    float(value),
                    period,
                    None,
                    odesc,
                    parse_filter(filt, f"{ikey}.spec.thresholdMetric.metricSource.spec.filter", path)
                    if filt
                    else None,
                )
            )
        elif "ratioMetric" in ind_spec:
            rm, rkey = ind_spec["ratioMetric"], f"{ikey}.spec.ratioMetric"
            _known(rm, "ratioMetric", rkey, path)
            for part in ("good", "total"):
                _known(rm.get(part) if isinstance(rm, dict) else None, "ratio_part", f"{rkey}.{part}", path)
            if not isinstance(rm, dict) or "good" not in rm:
                raise ConfigError(
                    "traceana needs good (and optionally total); bad/raw are not supported",
                    f"{rkey}.good",
                    path,
                )
            good = _source_spec(
                _need(rm["good"], "metricSource", f"{rkey}.good", path), f"{rkey}.good.metricSource", path
            )
            total = (
                _source_spec(rm["total"]["metricSource"], f"{rkey}.total.metricSource", path)
                if isinstance(rm.get("total"), dict) and "metricSource" in rm["total"]
                else {}
            )
            gf, tf = good.get("filter"), total.get("filter")
            out.append(
                SLO(
                    sname,
                    target,
                    None,
                    None,
                    None,
                    period,
                    parse_filter(gf, f"{rkey}.good.metricSource.spec.filter", path) if gf else None,
                    odesc,
                    parse_filter(tf, f"{rkey}.total.metricSource.spec.filter", path) if tf else None,
                )
            )
        else:
            raise ConfigError("expected thresholdMetric or ratioMetric", f"{ikey}.spec", path)
    return out


def slos_from_openslo(docs: list, path: str = "<openslo>") -> list[SLO]:
    """SLOs from parsed OpenSLO v1 documents; kinds other than SLO and SLI are ignored."""
    slis = {}
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "SLI":
            slis[str((d.get("metadata") or {}).get("name"))] = d.get("spec") or {}
    out: list[SLO] = []
    for i, d in enumerate(docs):
        if d is None:
            continue
        if not isinstance(d, dict):
            raise ConfigError("expected a mapping", f"document[{i}]", path)
        if d.get("kind") != "SLO":
            continue
        if d.get("apiVersion") != "openslo/v1":
            raise ConfigError(
                f"{d.get('apiVersion')!r} is not supported. Allowed: openslo/v1",
                f"document[{i}].apiVersion",
                path,
            )
        out.extend(_slos_from_doc(d, f"document[{i}]", path, slis))
    seen: set[str] = set()
    for s in out:
        if s.name in seen:  # last-wins would silently drop an SLO
            raise ConfigError(
                f"duplicate SLO name '{s.name}': each SLO (and objective) needs its own name",
                "metadata.name",
                path,
            )
        seen.add(s.name)
    if not out:
        raise ConfigError("no 'kind: SLO' document found", None, path)
    return out


def _expanded_size(node, memo: dict) -> int:
    """Nodes in ``node`` with every alias expanded (what constructing it and walking it costs); -1 for a cycle."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = -1  # in progress: met again below means a recursive alias
    if isinstance(node, yaml.SequenceNode):
        parts = [_expanded_size(n, memo) for n in node.value]
    elif isinstance(node, yaml.MappingNode):
        parts = [_expanded_size(n, memo) for kv in node.value for n in kv]
    else:
        parts = []
    size = -1 if -1 in parts else 1 + sum(parts)
    memo[key] = size
    return size


def _load_yaml(text: str) -> list:
    """The documents of ``text`` (safe loader), refusing an alias bomb before anything is built.

    The composed node graph is linear in the text (an alias is a reference);
    the bomb is its expansion, so the expanded size is counted first, memoized
    per node, and a document past MAX_YAML_NODES (or a recursive alias) is refused.
    """
    docs = []
    for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
        if node is None:
            docs.append(None)
            continue
        size = _expanded_size(node, {})
        if size < 0 or size > MAX_YAML_NODES:
            what = "a recursive alias" if size < 0 else f"{size:,} nodes once aliases are expanded"
            raise yaml.YAMLError(
                f"document {len(docs)} holds {what}; refused past {MAX_YAML_NODES:,} (an alias bomb?)"
            )
        docs.append(yaml.SafeLoader("").construct_document(node))
    return docs


def load_openslo(path: str | Path) -> list[SLO]:
    """Read one or more OpenSLO v1 YAML documents (``kind: SLO``, ``apiVersion: openslo/v1``).

    thresholdMetric (metricSource type traceana, spec.metric a requests column)
    gives one SLO per objective {op, value, target | targetPercent}; ratioMetric
    with good/total spec.filter gives an availability SLO. Only budgetingMethod
    Occurrences is supported; timeWindow[0].duration sets the period.
    """

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", None, str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (invalid byte at offset {exc.start})", None, str(path)) from None
    except OSError as exc:  # a directory, a FIFO, no permission
        raise ConfigError(f"cannot read: {exc.strerror or exc}", None, str(path)) from None
    if len(text) > MAX_YAML_BYTES:
        raise ConfigError(
            f"{len(text):,} characters; an OpenSLO file is refused past {MAX_YAML_BYTES:,}", None, str(path)
        )
    try:
        docs = _load_yaml(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", None, str(path)) from None
    except RecursionError:
        raise ConfigError("YAML nested too deeply", None, str(path)) from None
    return slos_from_openslo(docs, str(path))
