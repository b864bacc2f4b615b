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

import math
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from traceana.errors import ConfigError
from traceana.filters import _STRING, FILTER_COLUMNS, METRIC_COLUMNS, Condition, Filter, parse_filter  # noqa: F401 (re-exported)
from traceana.slos import _ALIASES, DEFAULT_PERIOD_S, OPS, SLO, _did_you_mean, parse_window  # noqa: F401 (re-exported)
from traceana.units import parse_datetime

TOKEN_MODES = ("output", "all", "weighted")
MATCH_KEYS = ("model_version", "quantization", "route", "model")


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
                raise ConfigError(
                    f"unknown key '{k}'. Allowed: {', '.join(allowed)}.{_did_you_mean(k, allowed)}",
                    self.sub(k),
                    path,
                )
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
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{v!r} is not allowed. Allowed: a finite number", self.sub(k), self.path)
        return v

    def number(
        self,
        k: str,
        default: Any = None,
        required: bool = False,
        lo: float | None = None,
        hi: float | None = None,
        open_lo: bool = False,
        open_hi: bool = False,
    ) -> Any:
        v = self.get(k, (int, float), "a number", default, required)
        if v is None:
            return None
        bad = (lo is not None and (v < lo or (open_lo and v == lo))) or (
            hi is not None and (v > hi or (open_hi and v == hi))
        )
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
    t = _Table(
        data,
        key,
        path,
        ("name", "objective", "metric", "op", "threshold", "period", "filter", "good", "description"),
    )
    name = t.get("name", (str,), "a string", required=True)
    objective = t.number("objective", required=True, lo=0.0, hi=1.0, open_lo=True, open_hi=True)
    metric = t.get("metric", (str,), "a string (a canonical column such as ttft_s)")
    if metric is not None and metric not in METRIC_COLUMNS:
        raise ConfigError(
            f"'{metric}' is not a numeric requests column.{_did_you_mean(metric, METRIC_COLUMNS)}",
            t.sub("metric"),
            path,
        )
    op = t.choice("op", OPS, default="lte" if metric else None)
    threshold = t.number("threshold", lo=0.0)  # every metric column is a duration or a count
    if metric and threshold is None:
        raise ConfigError(
            f"missing required key: a metric SLO needs a threshold in {metric}'s unit",
            t.sub("threshold"),
            path,
        )
    if not metric and (threshold is not None or "op" in t.data):
        raise ConfigError(
            "op/threshold need a metric (an availability SLO has neither)", t.sub("metric"), path
        )
    period = t.get("period", (str,), 'a duration string like "30d"', "30d")
    filt = t.get("filter", (str,), 'a filter string like "model = m"')
    good = t.get("good", (str,), 'a filter string like "finish_reason = stop"')
    return SLO(
        name=name,
        objective=objective,
        metric=metric,
        op=op,
        threshold=threshold,
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
    d = Deployment(
        t.get("instance", (str,), "a string", required=True),
        t.get("model", (str,), "a string"),
        t.get("gpu_type", (str,), "a string", required=True),
        count,
        t.when("start"),
        t.when("end"),
    )
    if d.start and d.end and d.end <= d.start:
        raise ConfigError("end must be after start", t.sub("end"), path)
    return d


def _shape(data: Any, key: str, path: str | None) -> ModelShape:
    ints = ("layers", "kv_heads", "head_dim", "context_tokens")
    floats = ("dtype_bytes", "gpu_memory_gb", "weights_gb", "workspace_gb")
    t = _Table(
        data,
        key,
        path,
        (
            "layers",
            "kv_heads",
            "head_dim",
            "dtype_bytes",
            "gpu_memory_gb",
            "weights_gb",
            "workspace_gb",
            "context_tokens",
        ),
    )
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
    match = t.get("match", (dict,), 'an inline table like {quantization = "fp8"}', {})
    m = _Table(match, t.sub("match"), path, MATCH_KEYS)
    for k in match:
        m.get(k, (str,), "a string")
    latency = t.number("latency_ms", lo=0.0)
    if not match and latency is None:
        raise ConfigError("an option needs match = {...} or latency_ms", t.sub("match"), path)
    return DegradationOption(
        t.get("name", (str,), "a string", required=True),
        t.number("quality", required=True),
        dict(match),
        latency,
    )


def config_from_dict(data: dict, path: str | None = None) -> Config:
    """Validate an already-parsed TOML document (what :func:`load_config` does after reading)."""
    from traceana.config_schema import validate_ranges

    if isinstance(data, dict):
        validate_ranges(data, path)
    top = _Table(
        data,
        "",
        path,
        ("slo", "gpu_prices", "cost", "deployment", "model_shape", "degradation", "report", "prometheus"),
    )  # [prometheus]: read by traceana.rules.sli
    slos = [_slo(d, f"slo[{i}]", path) for i, d in enumerate(_array(data, "slo", path))]
    names = [s.name for s in slos]
    for i, n in enumerate(names):
        if n in names[:i]:
            raise ConfigError(f"duplicate SLO name '{n}'", f"slo[{i}].name", path)
    prices_t = _Table(
        top.get("gpu_prices", (dict,), "a table of gpu_type = $/GPU-hour", {}),
        "gpu_prices",
        path,
        tuple(data.get("gpu_prices", {}) if isinstance(data.get("gpu_prices"), dict) else ()),
    )
    prices = {k: prices_t.number(k, required=True, lo=0.0) for k in prices_t.data}
    cost_t = _Table(
        top.get("cost", (dict,), "a table", {}),
        "cost",
        path,
        ("tokens", "prompt_weight", "target_utilization"),
    )
    cost = CostSettings(
        cost_t.choice("tokens", TOKEN_MODES, "output"),
        cost_t.number("prompt_weight", lo=0.0),
        cost_t.number("target_utilization", 0.7, lo=0.0, hi=1.0, open_lo=True),
    )
    if cost.tokens == "weighted" and cost.prompt_weight is None:
        raise ConfigError(
            'required when tokens = "weighted" (how much one prompt token counts, e.g. 0.25)',
            "cost.prompt_weight",
            path,
        )
    shapes_raw = top.get("model_shape", (dict,), 'a table of [model_shape."model"] tables', {})
    shapes = {m: _shape(v, f"model_shape.{m}", path) for m, v in shapes_raw.items()}
    rep = _Table(top.get("report", (dict,), "a table", {}), "report", path, ("by", "windows"))
    by = rep.get("by", (list,), "an array of column names", [])
    for i, col in enumerate(by):
        if col not in _STRING:
            raise ConfigError(
                f"{col!r} is not a text requests column. Allowed: {', '.join(sorted(_STRING))}."
                f"{_did_you_mean(str(col), _STRING)}",
                f"report.by[{i}]",
                path,
            )
    windows = rep.get("windows", (list,), 'an array of durations like ["1m", "1h"]', [])
    for i, w in enumerate(windows):
        parse_window(w, f"report.windows[{i}]", path)
    return Config(
        slos=slos,
        gpu_prices=prices,
        deployments=[
            _deployment(d, f"deployment[{i}]", path) for i, d in enumerate(_array(data, "deployment", path))
        ],
        model_shapes=shapes,
        degradation_options=[
            _degradation(d, f"degradation[{i}]", path)
            for i, d in enumerate(_array(data, "degradation", path))
        ],
        cost=cost,
        report=ReportSettings(list(by), list(windows)),
    )


def load_config(path: str | Path) -> Config:
    """Read and validate a ``traceana.toml`` file. Raises ConfigError naming the key on any problem."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("file not found", None, str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (invalid byte at offset {exc.start})", None, str(path)) from None
    except OSError as exc:  # a directory, a FIFO, no permission
        raise ConfigError(f"cannot read: {exc.strerror or exc}", None, str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", None, str(path)) from None
    except RecursionError:  # arrays nested thousands deep
        raise ConfigError("not valid TOML: nested too deeply", None, str(path)) from None
    except ValueError as exc:  # an integer of more than 4,300 digits (Python's int-from-string limit)
        raise ConfigError(
            f"not valid TOML: a number is too long ({str(exc).split(':')[0]})", None, str(path)
        ) from None
    return config_from_dict(data, str(path))
