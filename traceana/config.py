"""Read ``traceana.toml`` and OpenSLO YAML into plain dataclasses, validating every key.

``traceana.toml`` layout (every table is optional)::

    [[slo]]                        # one per SLO
    name = "ttft-2s"
    metric = "ttft_s"              # a canonical requests column (seconds); omit for availability
    op = "lte"                     # lte | lt | gte | gt  (good when metric <op> threshold)
    threshold = 2.0                # in the metric's unit (seconds for *_s columns)
    objective = 0.99               # target fraction of good requests, 0 < objective < 1
    period = "30d"                 # SLO period: s, m, h, d or w suffix (default 30d)
    filter = "model = llama-3.1-8b"   # optional: which requests the SLO covers
    good = "finish_reason != length"  # optional: an extra condition a good request meets
    description = "..."

    [[slo]]
    name = "availability"          # no metric: good = status ok
    objective = 0.995

    [gpu_prices]                   # $ per GPU-hour, by gpu_type
    H100 = 4.00
    A100 = 2.50

    [cost]
    tokens = "output"              # which tokens count: output | all | weighted
    prompt_weight = 0.25           # weighted only (required then): a prompt token counts this much
    target_utilization = 0.7       # for the autoscaling what-if

    [[deployment]]                 # GPU-hours provisioned; else taken from engine samples
    instance = "gpu-a0"
    model = "llama-3.1-8b"
    gpu_type = "H100"
    gpu_count = 1
    start = 2025-01-01T00:00:00Z   # TOML datetime or ISO-8601 string; optional
    end = "2025-01-02T00:00:00Z"   # optional (open ends take the report window)

    [model_shape."llama-3.1-8b"]   # for KV-cache capacity
    layers = 32
    kv_heads = 8
    head_dim = 128
    dtype_bytes = 2
    gpu_memory_gb = 80
    weights_gb = 16
    workspace_gb = 8
    context_tokens = 4096

    [[degradation]]                # a cheaper way to serve, for the degradation choice
    name = "fp8"
    quality = 0.97                 # quality score, higher is better
    match = {quantization = "fp8"} # keys: model_version, quantization, route, model
    # latency_ms = 1500            # or an observed latency instead of matching the trace

    [report]
    by = ["model", "route"]        # group columns
    windows = ["1m", "1h"]         # time-series bucket sizes

Filters (``filter``, ``good``, OpenSLO ``spec.filter``) are parsed into a small
AST and evaluated as polars expressions, never pasted into SQL. Grammar::

    filter  := clause ("and" clause)*
    clause  := column op value | column ("in" | "not in") "(" value ("," value)* ")"
    op      := = | != | < | <= | > | >=
    value   := bare word [A-Za-z0-9_.:/+-]+ or a '...' / "..." string without quotes inside

Failed requests (status != ok) are bad for every SLO whatever the filters say;
``filter = "status != cancelled"`` is how to leave client cancellations out.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from traceana.errors import ConfigError
from traceana.schema import fields as schema_fields
from traceana.units import parse_datetime

OPS = ("lte", "lt", "gte", "gt")
TOKEN_MODES = ("output", "all", "weighted")
MATCH_KEYS = ("model_version", "quantization", "route", "model")
DEFAULT_PERIOD_S = 30 * 86400.0

_NUMERIC = {f.name for f in schema_fields("requests") if pa.types.is_floating(f.type) or pa.types.is_integer(f.type)}
_STRING = {f.name for f in schema_fields("requests") if pa.types.is_string(f.type)}
#: columns a filter or an SLO metric may name
FILTER_COLUMNS = tuple(sorted(_NUMERIC | _STRING))
METRIC_COLUMNS = tuple(sorted(_NUMERIC))


#: names users bring from OpenSLO or other tools, mapped to ours for the did-you-mean hint
_ALIASES = {"target": "objective", "targetPercent": "objective", "timeWindow": "period", "window": "period",
            "value": "threshold", "indicator": "metric", "price": "gpu_prices", "deployments": "deployment",
            "slos": "slo", "model_shapes": "model_shape"}


def _did_you_mean(word: str, choices) -> str:
    if _ALIASES.get(word) in choices:
        return f" Hint: did you mean '{_ALIASES[word]}'?"
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" Hint: did you mean '{close[0]}'?" if close else ""


# --------------------------------------------------------------------------- durations

_PERIOD = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_PERIOD_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_window(text: str, key: str = "period", path: str | None = None) -> float:
    """A window or SLO period like '30d', '28d', '7d', '1h', '5m', '90s', '2w' as seconds."""
    m = _PERIOD.match(str(text))
    if not m:
        raise ConfigError(f"{text!r} is not a duration. Allowed: a number with s, m, h, d or w (e.g. 30d, 1h)", key, path)
    return float(Fraction(m.group(1)) * _PERIOD_UNITS[m.group(2)])


# --------------------------------------------------------------------------- filters

_TOKEN = re.compile(r"""\s*(?:(?P<str>'[^']*'|"[^"]*")|(?P<op><=|>=|!=|=|<|>)|(?P<punct>[(),])|(?P<word>[A-Za-z0-9_.:/+\-]+))""")
_CMP = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}


@dataclass(frozen=True)
class Condition:
    """One parsed clause: ``column op values`` (op: eq ne lt le gt ge in not_in)."""

    column: str
    op: str
    values: tuple

    def expr(self) -> pl.Expr:
        col = pl.col(self.column)
        if self.op == "in":
            return col.is_in(list(self.values))
        if self.op == "not_in":
            return ~col.is_in(list(self.values))
        v = self.values[0]
        return {"eq": col == v, "ne": col != v, "lt": col < v, "le": col <= v, "gt": col > v, "ge": col >= v}[self.op]


@dataclass(frozen=True)
class Filter:
    """A conjunction of conditions; ``text`` keeps the source for display."""

    conditions: tuple[Condition, ...]
    text: str = ""

    def expr(self) -> pl.Expr:
        """The polars expression; a null comparison counts as not matching."""
        out = pl.lit(True)
        for c in self.conditions:
            out = out & c.expr()
        return out.fill_null(False)


def _tokens(text: str, key: str, path: str | None) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = text[pos:].strip()[:20]
            raise ConfigError(f"cannot parse filter {text!r} at {bad!r}. Allowed: column op value clauses joined by 'and' "
                              "(ops: = != < <= > >= in, not in)", key, path)
        kind = m.lastgroup
        val = m.group(kind)
        out.append((kind, val[1:-1] if kind == "str" else val))
        pos = m.end()
    return out


def _value(kind: str, raw: str, column: str, text: str, key: str, path: str | None):
    if kind not in ("word", "str"):
        raise ConfigError(f"filter {text!r}: expected a value after '{column}', got {raw!r}", key, path)
    if column in _NUMERIC:
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(f"filter {text!r}: column '{column}' is numeric, {raw!r} is not a number", key, path) from None
    return raw


def parse_filter(text: str, key: str = "filter", path: str | None = None) -> Filter:
    """Parse a filter expression (see the module docstring) into a :class:`Filter`."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("a filter must be a non-empty string like \"status = ok\"", key, path)
    toks = _tokens(text, key, path)
    conds, i = [], 0
    while True:
        if i >= len(toks) or toks[i][0] != "word":
            raise ConfigError(f"filter {text!r}: expected a column name. Allowed: {', '.join(FILTER_COLUMNS)}", key, path)
        column = toks[i][1]
        if column not in FILTER_COLUMNS:
            raise ConfigError(f"filter {text!r}: unknown column '{column}'.{_did_you_mean(column, FILTER_COLUMNS)}", key, path)
        i += 1
        negate = i + 1 < len(toks) and toks[i] == ("word", "not") and toks[i + 1][1].lower() == "in"
        if negate:
            i += 1
        if i < len(toks) and toks[i][0] == "word" and toks[i][1].lower() == "in":
            i += 1
            if i >= len(toks) or toks[i] != ("punct", "("):
                raise ConfigError(f"filter {text!r}: 'in' needs a list like (ok, cancelled)", key, path)
            i += 1
            values = []
            while True:
                if i >= len(toks):
                    raise ConfigError(f"filter {text!r}: unclosed '('", key, path)
                values.append(_value(*toks[i], column, text, key, path))
                i += 1
                if i < len(toks) and toks[i] == ("punct", ","):
                    i += 1
                    continue
                if i < len(toks) and toks[i] == ("punct", ")"):
                    i += 1
                    break
                raise ConfigError(f"filter {text!r}: expected ',' or ')' in the list", key, path)
            conds.append(Condition(column, "not_in" if negate else "in", tuple(values)))
        elif i < len(toks) and toks[i][0] == "op":
            op = _CMP[toks[i][1]]
            if column in _STRING and op not in ("eq", "ne"):
                raise ConfigError(f"filter {text!r}: '{column}' is text; only = != in are allowed on it", key, path)
            if i + 1 >= len(toks):
                raise ConfigError(f"filter {text!r}: missing value after '{toks[i][1]}'", key, path)
            conds.append(Condition(column, op, (_value(*toks[i + 1], column, text, key, path),)))
            i += 2
        else:
            raise ConfigError(f"filter {text!r}: expected an operator after '{column}'. Allowed: = != < <= > >= in, not in", key, path)
        if i == len(toks):
            return Filter(tuple(conds), text.strip())
        if toks[i][0] == "word" and toks[i][1].lower() == "and":
            i += 1
            continue
        raise ConfigError(f"filter {text!r}: unexpected {toks[i][1]!r}; clauses are joined with 'and'", key, path)


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class SLO:
    """A request-based SLO (OpenSLO budgetingMethod Occurrences).

    A request is good when status == "ok", ``metric <op> threshold`` holds (if a
    metric is set) and ``good_filter`` matches (if set). ``total_filter`` limits
    which requests the SLO counts at all.
    """

    name: str
    objective: float
    metric: str | None = None
    op: str | None = None
    threshold: float | None = None
    period_s: float = DEFAULT_PERIOD_S
    good_filter: Filter | None = None
    description: str = ""
    total_filter: Filter | None = None


@dataclass(frozen=True)
class Deployment:
    instance: str
    model: str | None
    gpu_type: str
    gpu_count: int = 1
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True)
class ModelShape:
    """Model and GPU shape for KV capacity: KV bytes/token = 2 * layers * kv_heads * head_dim * dtype_bytes."""

    layers: int
    kv_heads: int
    head_dim: int
    dtype_bytes: float
    gpu_memory_gb: float
    weights_gb: float
    workspace_gb: float
    context_tokens: int


@dataclass(frozen=True)
class DegradationOption:
    name: str
    quality: float
    match: dict[str, str] = field(default_factory=dict)
    latency_ms: float | None = None


@dataclass(frozen=True)
class CostSettings:
    tokens: str = "output"
    prompt_weight: float | None = None
    target_utilization: float = 0.7


@dataclass(frozen=True)
class ReportSettings:
    by: list[str] = field(default_factory=list)
    windows: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Config:
    slos: list[SLO] = field(default_factory=list)
    gpu_prices: dict[str, float] = field(default_factory=dict)
    deployments: list[Deployment] = field(default_factory=list)
    model_shapes: dict[str, ModelShape] = field(default_factory=dict)
    degradation_options: list[DegradationOption] = field(default_factory=list)
    cost: CostSettings = field(default_factory=CostSettings)
    report: ReportSettings = field(default_factory=ReportSettings)


# --------------------------------------------------------------------------- validation helpers


class _Table:
    """A TOML table being read: typed getters that name the key and its path in errors."""

    def __init__(self, data: Any, key: str, path: str | None, allowed: tuple[str, ...]):
        self.key, self.path = key, path
        if not isinstance(data, dict):
            raise ConfigError(f"expected a table, got {type(data).__name__}", key, path)
        for k in data:
            if k not in allowed:
                raise ConfigError(f"unknown key '{k}'. Allowed: {', '.join(allowed)}.{_did_you_mean(k, allowed)}",
                                  self.sub(k), path)
        self.data = data

    def sub(self, k: str) -> str:
        return f"{self.key}.{k}" if self.key else k

    def get(self, k: str, types: tuple, expected: str, default: Any = None, required: bool = False) -> Any:
        if k not in self.data:
            if required:
                raise ConfigError(f"missing required key (expected {expected})", self.sub(k), self.path)
            return default
        v = self.data[k]
        if isinstance(v, bool) and bool not in types or not isinstance(v, types):
            raise ConfigError(f"expected {expected}, got {type(v).__name__} {v!r}", self.sub(k), self.path)
        return v

    def number(self, k: str, default: Any = None, required: bool = False, lo: float | None = None,
               hi: float | None = None, open_lo: bool = False, open_hi: bool = False) -> Any:
        v = self.get(k, (int, float), "a number", default, required)
        if v is None:
            return None
        bad = (lo is not None and (v < lo or (open_lo and v == lo))) or (hi is not None and (v > hi or (open_hi and v == hi)))
        if bad:
            rng = f"{'(' if open_lo else '['}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}{')' if open_hi else ']'}"
            raise ConfigError(f"{v!r} is out of range. Allowed: {rng}", self.sub(k), self.path)
        return float(v)

    def choice(self, k: str, allowed: tuple[str, ...], default: Any = None, required: bool = False) -> Any:
        v = self.get(k, (str,), "a string", default, required)
        if v is not None and v not in allowed:
            raise ConfigError(f"'{v}' is not allowed. Allowed: {', '.join(allowed)}", self.sub(k), self.path)
        return v

    def when(self, k: str) -> datetime | None:
        v = self.get(k, (str, datetime), "a datetime (TOML datetime or ISO-8601 string)")
        if isinstance(v, str):
            try:
                return parse_datetime(v)
            except ValueError:
                raise ConfigError(f"{v!r} is not an ISO-8601 datetime", self.sub(k), self.path) from None
        if isinstance(v, datetime):
            return (v.replace(tzinfo=UTC) if v.tzinfo is None else v).astimezone(UTC)
        return None


def _array(data: dict, k: str, path: str | None) -> list:
    v = data.get(k, [])
    if not isinstance(v, list):
        raise ConfigError(f"expected an array of tables ([[{k}]]), got {type(v).__name__}", k, path)
    return v


def _slo(data: Any, key: str, path: str | None) -> SLO:
    t = _Table(data, key, path, ("name", "objective", "metric", "op", "threshold", "period", "filter", "good", "description"))
    name = t.get("name", (str,), "a string", required=True)
    objective = t.number("objective", required=True, lo=0.0, hi=1.0, open_lo=True, open_hi=True)
    metric = t.get("metric", (str,), "a string (a canonical column such as ttft_s)")
    if metric is not None and metric not in METRIC_COLUMNS:
        raise ConfigError(f"'{metric}' is not a numeric requests column.{_did_you_mean(metric, METRIC_COLUMNS)}",
                          t.sub("metric"), path)
    op = t.choice("op", OPS, default="lte" if metric else None)
    threshold = t.number("threshold")
    if metric and threshold is None:
        raise ConfigError(f"missing required key: a metric SLO needs a threshold in {metric}'s unit", t.sub("threshold"), path)
    if not metric and (threshold is not None or "op" in t.data):
        raise ConfigError("op/threshold need a metric (an availability SLO has neither)", t.sub("metric"), path)
    period = t.get("period", (str,), "a duration string like \"30d\"", "30d")
    filt = t.get("filter", (str,), "a filter string like \"model = m\"")
    good = t.get("good", (str,), "a filter string like \"finish_reason = stop\"")
    return SLO(
        name=name, objective=objective, metric=metric, op=op, threshold=threshold,
        period_s=parse_window(period, t.sub("period"), path),
        good_filter=parse_filter(good, t.sub("good"), path) if good is not None else None,
        description=t.get("description", (str,), "a string", ""),
        total_filter=parse_filter(filt, t.sub("filter"), path) if filt is not None else None,
    )


def _deployment(data: Any, key: str, path: str | None) -> Deployment:
    t = _Table(data, key, path, ("instance", "model", "gpu_type", "gpu_count", "start", "end"))
    count = t.get("gpu_count", (int,), "an integer", 1)
    if count < 1:
        raise ConfigError(f"{count} is out of range. Allowed: an integer >= 1", t.sub("gpu_count"), path)
    d = Deployment(t.get("instance", (str,), "a string", required=True), t.get("model", (str,), "a string"),
                   t.get("gpu_type", (str,), "a string", required=True), count, t.when("start"), t.when("end"))
    if d.start and d.end and d.end <= d.start:
        raise ConfigError("end must be after start", t.sub("end"), path)
    return d


def _shape(data: Any, key: str, path: str | None) -> ModelShape:
    ints = ("layers", "kv_heads", "head_dim", "context_tokens")
    floats = ("dtype_bytes", "gpu_memory_gb", "weights_gb", "workspace_gb")
    t = _Table(data, key, path, ("layers", "kv_heads", "head_dim", "dtype_bytes", "gpu_memory_gb", "weights_gb",
                                 "workspace_gb", "context_tokens"))
    vals: dict[str, Any] = {}
    for k in ints:
        vals[k] = t.get(k, (int,), "a positive integer", required=True)
        if vals[k] < 1:
            raise ConfigError(f"{vals[k]} is out of range. Allowed: an integer >= 1", t.sub(k), path)
    for k in floats:
        vals[k] = t.number(k, required=True, lo=0.0, open_lo=(k == "dtype_bytes" or k == "gpu_memory_gb"))
    return ModelShape(**vals)


def _degradation(data: Any, key: str, path: str | None) -> DegradationOption:
    t = _Table(data, key, path, ("name", "quality", "match", "latency_ms"))
    match = t.get("match", (dict,), "an inline table like {quantization = \"fp8\"}", {})
    m = _Table(match, t.sub("match"), path, MATCH_KEYS)
    for k in match:
        m.get(k, (str,), "a string")
    latency = t.number("latency_ms", lo=0.0)
    if not match and latency is None:
        raise ConfigError("an option needs match = {...} or latency_ms", t.sub("match"), path)
    return DegradationOption(t.get("name", (str,), "a string", required=True), t.number("quality", required=True),
                             dict(match), latency)


def config_from_dict(data: dict, path: str | None = None) -> Config:
    """Validate an already-parsed TOML document (what :func:`load_config` does after reading)."""
    top = _Table(data, "", path, ("slo", "gpu_prices", "cost", "deployment", "model_shape", "degradation", "report"))
    slos = [_slo(d, f"slo[{i}]", path) for i, d in enumerate(_array(data, "slo", path))]
    names = [s.name for s in slos]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise ConfigError(f"duplicate SLO name '{n}'", f"slo[{i}].name", path)
    prices_t = _Table(top.get("gpu_prices", (dict,), "a table of gpu_type = $/GPU-hour", {}), "gpu_prices", path,
                      tuple(data.get("gpu_prices", {}) if isinstance(data.get("gpu_prices"), dict) else ()))
    prices = {k: prices_t.number(k, required=True, lo=0.0) for k in prices_t.data}
    cost_t = _Table(top.get("cost", (dict,), "a table", {}), "cost", path, ("tokens", "prompt_weight", "target_utilization"))
    cost = CostSettings(cost_t.choice("tokens", TOKEN_MODES, "output"), cost_t.number("prompt_weight", lo=0.0),
                        cost_t.number("target_utilization", 0.7, lo=0.0, hi=1.0, open_lo=True))
    if cost.tokens == "weighted" and cost.prompt_weight is None:
        raise ConfigError("required when tokens = \"weighted\" (how much one prompt token counts, e.g. 0.25)",
                          "cost.prompt_weight", path)
    shapes_raw = top.get("model_shape", (dict,), "a table of [model_shape.\"model\"] tables", {})
    shapes = {m: _shape(v, f"model_shape.{m}", path) for m, v in shapes_raw.items()}
    rep = _Table(top.get("report", (dict,), "a table", {}), "report", path, ("by", "windows"))
    by = rep.get("by", (list,), "an array of column names", [])
    for i, col in enumerate(by):
        if col not in _STRING:
            raise ConfigError(f"{col!r} is not a text requests column. Allowed: {', '.join(sorted(_STRING))}."
                              f"{_did_you_mean(str(col), _STRING)}", f"report.by[{i}]", path)
    windows = rep.get("windows", (list,), "an array of durations like [\"1m\", \"1h\"]", [])
    for i, w in enumerate(windows):
        parse_window(w, f"report.windows[{i}]", path)
    return Config(
        slos=slos, gpu_prices=prices,
        deployments=[_deployment(d, f"deployment[{i}]", path) for i, d in enumerate(_array(data, "deployment", path))],
        model_shapes=shapes,
        degradation_options=[_degradation(d, f"degradation[{i}]", path) for i, d in enumerate(_array(data, "degradation", path))],
        cost=cost, report=ReportSettings(list(by), list(windows)),
    )


def load_config(path: str | Path) -> Config:
    """Read and validate a ``traceana.toml`` file. Raises ConfigError naming the key on any problem."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found", None, str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", None, str(path)) from None
    return config_from_dict(data, str(path))


# --------------------------------------------------------------------------- OpenSLO v1


def _need(d: Any, k: str, key: str, path: str, expected: str = "a mapping") -> Any:
    if not isinstance(d, dict) or k not in d:
        raise ConfigError(f"missing required key (expected {expected})", f"{key}.{k}", path)
    return d[k]


def _source_spec(ms: Any, key: str, path: str) -> dict:
    """The ``spec`` of a ``metricSource`` whose type must be traceana."""
    if not isinstance(ms, dict):
        raise ConfigError("expected a mapping with type and spec", key, path)
    typ = str(ms.get("type", ""))
    if typ.lower() != "traceana":
        raise ConfigError(f"metric source type '{typ}' cannot be evaluated from traces. Allowed: traceana", f"{key}.type", path)
    spec = ms.get("spec", {})
    if not isinstance(spec, dict):
        raise ConfigError("expected a mapping", f"{key}.spec", path)
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
        raise ConfigError(f"{t!r} is not allowed. Allowed: target in (0, 1) or targetPercent in (0, 100)", f"{key}.target", path)
    return float(t)


def _period(spec: dict, key: str, path: str) -> float:
    tw = spec.get("timeWindow")
    if tw is None:
        return DEFAULT_PERIOD_S
    if isinstance(tw, dict):
        tw = [tw]
    if not isinstance(tw, list) or len(tw) != 1 or not isinstance(tw[0], dict) or "duration" not in tw[0]:
        raise ConfigError("expected [{duration: 30d, isRolling: true}]", f"{key}.timeWindow", path)
    return parse_window(tw[0]["duration"], f"{key}.timeWindow[0].duration", path)


def _slos_from_doc(doc: dict, key: str, path: str, slis: dict[str, dict]) -> list[SLO]:
    meta = doc.get("metadata") or {}
    name = str(meta.get("name") or key)
    spec = _need(doc, "spec", key, path)
    key = f"{key}.spec"
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        raise ConfigError(f"'{method}' is not supported: traceana evaluates request-based SLOs. Allowed: Occurrences",
                          f"{key}.budgetingMethod", path)
    period = _period(spec, key, path)
    if "indicator" in spec:
        ind, ikey = spec["indicator"], f"{key}.indicator"
        ind_spec = _need(ind, "spec", ikey, path)
    elif "indicatorRef" in spec:
        ref, ikey = spec["indicatorRef"], f"{key}.indicatorRef"
        if ref not in slis:
            raise ConfigError(f"no kind: SLI named '{ref}' in this file.{_did_you_mean(str(ref), slis)}", ikey, path)
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
        label = obj.get("name") or obj.get("displayName") or str(j)
        sname = name if len(objectives) == 1 else f"{name}/{label}"
        target = _target(obj, okey, path)
        odesc = str(obj.get("displayName") or desc)
        if "thresholdMetric" in ind_spec:
            src = _source_spec(_need(ind_spec["thresholdMetric"], "metricSource", f"{ikey}.spec.thresholdMetric", path),
                               f"{ikey}.spec.thresholdMetric.metricSource", path)
            metric = src.get("metric")
            if metric not in METRIC_COLUMNS:
                raise ConfigError(f"{metric!r} is not a numeric requests column.{_did_you_mean(str(metric), METRIC_COLUMNS)}",
                                  f"{ikey}.spec.thresholdMetric.metricSource.spec.metric", path)
            op = obj.get("op")
            if op not in OPS:
                raise ConfigError(f"{op!r} is not allowed. Allowed: {', '.join(OPS)}", f"{okey}.op", path)
            value = obj.get("value")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"expected a number (the threshold in {metric}'s unit), got {value!r}", f"{okey}.value", path)
            filt = src.get("filter")
            out.append(SLO(sname, target, metric, op, float(value), period, None, odesc,
                           parse_filter(filt, f"{ikey}.spec.thresholdMetric.metricSource.spec.filter", path) if filt else None))
        elif "ratioMetric" in ind_spec:
            rm, rkey = ind_spec["ratioMetric"], f"{ikey}.spec.ratioMetric"
            if not isinstance(rm, dict) or "good" not in rm:
                raise ConfigError("traceana needs good (and optionally total); bad/raw are not supported", f"{rkey}.good", path)
            good = _source_spec(_need(rm["good"], "metricSource", f"{rkey}.good", path), f"{rkey}.good.metricSource", path)
            total = _source_spec(rm["total"]["metricSource"], f"{rkey}.total.metricSource", path) if isinstance(
                rm.get("total"), dict) and "metricSource" in rm["total"] else {}
            gf, tf = good.get("filter"), total.get("filter")
            out.append(SLO(sname, target, None, None, None, period,
                           parse_filter(gf, f"{rkey}.good.metricSource.spec.filter", path) if gf else None, odesc,
                           parse_filter(tf, f"{rkey}.total.metricSource.spec.filter", path) if tf else None))
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
            raise ConfigError(f"{d.get('apiVersion')!r} is not supported. Allowed: openslo/v1", f"document[{i}].apiVersion", path)
        out.extend(_slos_from_doc(d, f"document[{i}]", path, slis))
    if not out:
        raise ConfigError("no 'kind: SLO' document found", None, path)
    return out


def load_openslo(path: str | Path) -> list[SLO]:
    """Read one or more OpenSLO v1 YAML documents (``kind: SLO``, ``apiVersion: openslo/v1``).

    thresholdMetric (metricSource type traceana, spec.metric a requests column)
    gives one SLO per objective {op, value, target | targetPercent}; ratioMetric
    with good/total spec.filter gives an availability SLO. Only budgetingMethod
    Occurrences is supported; timeWindow[0].duration sets the period.
    """
    import yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("file not found", None, str(path)) from None
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise ConfigError(f"not valid YAML: {exc}", None, str(path)) from None
    return slos_from_openslo(docs, str(path))
