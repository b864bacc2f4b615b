"""SQL text for the ClickHouse variants of the metrics: parameters, the window and filter clauses.

No value is ever pasted into SQL: :class:`Params` hands out ``{pN:Type}``
placeholders (ClickHouse / chDB server-side binding) and keeps the values;
column names come from the canonical schema only (:func:`column`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from traceana.engines.ddl import identifier
from traceana.errors import ConfigError, TraceanaError
from traceana.schema import fields

REQUEST_COLUMNS = frozenset(f.name for f in fields("requests"))
ENGINE_COLUMNS = frozenset(f.name for f in fields("engine_samples"))


def column(name: str, table: str = "requests") -> str:
    """The quoted column ``name`` after checking it is a column of the canonical ``table``."""
    allowed = REQUEST_COLUMNS if table == "requests" else ENGINE_COLUMNS
    if name not in allowed:
        raise ConfigError(f"'{name}' is not a {table} column. Hint: one of {sorted(allowed)}", "column")
    return identifier(name, "column")


def epoch_us(t: datetime) -> int:
    """Epoch microseconds of a datetime (naive = UTC), exactly (no float)."""
    t = t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    delta = t - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class Params:
    """Query parameters collected while SQL text is built: ``add(value, type)`` -> ``{pN:type}``."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any, ch_type: str) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"{{{name}:{ch_type}}}"

    def time(self, t: datetime) -> str:
        """A DateTime64(6, 'UTC') value (sent as epoch microseconds: no timezone text to parse)."""
        return f"fromUnixTimestamp64Micro({self.add(epoch_us(t), 'Int64')}, 'UTC')"

    def number(self, x: float) -> str:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise TraceanaError(f"expected a finite number, got {x!r}")
        return self.add(float(x), "Float64")


def window_where(
    p: Params, since: datetime | None, until: datetime | None, col: str = "arrival_time"
) -> list[str]:
    """Clauses for since <= col < until (each bound optional)."""
    out = []
    if since is not None:
        out.append(f"{identifier(col, 'column')} >= {p.time(since)}")
    if until is not None:
        out.append(f"{identifier(col, 'column')} < {p.time(until)}")
    return out


def where(clauses: list[str]) -> str:
    return ("WHERE " + " AND ".join(f"({c})" for c in clauses)) if clauses else ""


_OPS = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def filter_sql(flt: Any, p: Params) -> str:
    """A :class:`traceana.filters.Filter` as a SQL condition that is 0 (never NULL) when a compared value is null.

    Same truth table as ``Filter.expr()``: each clause null -> false, clauses joined by AND.
    """
    if flt is None:
        return "1"
    parts = []
    for c in flt.conditions:
        col = column(c.column)
        if c.op in ("in", "not_in"):
            numeric = all(isinstance(v, float) for v in c.values)
            arr = p.add(
                [float(v) for v in c.values] if numeric else [str(v) for v in c.values],
                "Array(Float64)" if numeric else "Array(String)",
            )
            cond = f"has({arr}, {col})"
            # polars: is_in on a null is null -> false for both in and not in
            parts.append(f"ifNull({col} IS NOT NULL AND {'' if c.op == 'in' else 'NOT '}{cond}, 0)")
            continue
        v = c.values[0]
        val = p.number(v) if isinstance(v, float) else p.add(str(v), "String")
        parts.append(f"ifNull({col} {_OPS[c.op]} {val}, 0)")
    return " AND ".join(parts) if parts else "1"


def every_us(every: str) -> int:
    """Fixed window length of a duration string ("30s", "1m", "1h", "1d") in microseconds.

    Windows are aligned to the epoch, as polars ``dt.truncate`` aligns these. Calendar
    weeks ("1w": polars aligns them to Mondays) are refused rather than misaligned.
    """
    from traceana.config import parse_window

    if isinstance(every, str) and every.endswith("us") and every[:-2].isdigit():
        return int(every[:-2])  # a polars microsecond duration, as burn_series builds it
    if not isinstance(every, str) or every.strip().endswith("w"):
        raise TraceanaError(f"window length {every!r} is not supported on ClickHouse. Hint: use s, m, h or d")
    seconds = parse_window(every, "every")
    us = round(seconds * 1_000_000)
    if us <= 0:
        raise TraceanaError(f"window length {every!r} must be positive")
    return us


def window_start_sql(every: str, p: Params, col: str = "arrival_time") -> str:
    """The epoch-aligned window start of ``col`` as DateTime64(6, 'UTC') (= polars dt.truncate(every))."""
    step = p.add(every_us(every), "Int64")
    return f"fromUnixTimestamp64Micro(intDiv(toUnixTimestamp64Micro({identifier(col, 'column')}), {step}) * {step}, 'UTC')"
