"""The ranges of ``traceana.toml``'s numbers as a JSON Schema, checked with jsonschema.

The typed getters of :mod:`traceana.config` check types and unknown keys (with
did-you-mean hints); this schema adds what comparisons alone miss: every
number must be finite (``nan`` passes ``v < lo`` and ``v > hi`` unnoticed,
``inf`` an open upper end) and within its range, integers within a bound (a
30-digit ``gpu_count`` is a typo, not a fleet). An error names the key path
and the allowed range.
"""

from __future__ import annotations

import math
from typing import Any

from traceana.errors import ConfigError

_BIG = 1e12  # larger than any price, latency in seconds or token count a trace holds


def _num(
    lo: float | None = None, hi: float | None = _BIG, open_lo: bool = False, open_hi: bool = False
) -> dict:
    s: dict[str, Any] = {"finite": True}
    if lo is not None:
        s["exclusiveMinimum" if open_lo else "minimum"] = lo
    if hi is not None:
        s["exclusiveMaximum" if open_hi else "maximum"] = hi
    return s


_COUNT = _num(1, 1_000_000)

SCHEMA: dict = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "traceana.toml numeric ranges",
    "type": "object",
    "properties": {
        "slo": {"items": {"properties": {"objective": _num(0, 1, True, True), "threshold": _num(0)}}},
        "gpu_prices": {"additionalProperties": _num(0, 1e6)},
        "cost": {"properties": {"prompt_weight": _num(0, 1e6), "target_utilization": _num(0, 1, True)}},
        "deployment": {"items": {"properties": {"gpu_count": _COUNT}}},
        "model_shape": {
            "additionalProperties": {
                "properties": {
                    "layers": _COUNT,
                    "kv_heads": _COUNT,
                    "head_dim": _COUNT,
                    "context_tokens": _num(1, 1e9),
                    "dtype_bytes": _num(0, 64, True),
                    "gpu_memory_gb": _num(0, 1e6, True),
                    "weights_gb": _num(0, 1e6),
                    "workspace_gb": _num(0, 1e6),
                }
            }
        },
        "degradation": {"items": {"properties": {"quality": _num(None, None), "latency_ms": _num(0)}}},
    },
}


def _finite(validator, value, instance, schema):
    from jsonschema import ValidationError

    if value and isinstance(instance, float) and not math.isfinite(instance):
        yield ValidationError(f"{instance!r} is not a finite number")


def _validator():
    from jsonschema import Draft202012Validator, validators

    cls = validators.extend(Draft202012Validator, {"finite": _finite})
    return cls(SCHEMA)


def _allowed(schema: dict) -> str:
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    left = "(" if "exclusiveMinimum" in schema or lo is None else "["
    right = ")" if "exclusiveMaximum" in schema or hi is None else "]"
    lo_s = "-inf" if lo is None else f"{lo:g}"
    hi_s = "inf" if hi is None else f"{hi:g}"
    return f"a finite number in {left}{lo_s}, {hi_s}{right}"


def _key(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def validate_ranges(data: dict, path: str | None = None) -> None:
    """Raise ConfigError for the first number (in document order) outside its range."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    for e in errors:
        if isinstance(e.instance, bool) or not isinstance(e.instance, int | float):
            continue  # a wrong type: the typed getters say what was expected
        raise ConfigError(
            f"{e.instance!r} is out of range. Allowed: {_allowed(e.schema)}", _key(e.absolute_path), path
        )
