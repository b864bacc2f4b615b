"""ClickHouse DDL generated from the canonical Arrow schema (``traceana schema --clickhouse``).

One MergeTree table per canonical table. ``requests`` is ordered by
(model, instance, arrival_time) and partitioned by day: a report's filters on
model and window prune parts, and the concurrency sweep reads one instance's
rows in time order. ``engine_samples`` (the engine time series) and
``engine_histograms`` are ordered by (instance, time). Nullable columns stay
Nullable, so a null read back is a null (never '' or 0); the sort key may hold
nulls (``allow_nullable_key``).
"""

from __future__ import annotations

import re

import pyarrow as pa

from traceana.errors import ConfigError
from traceana.schema import PUBLISHED, arrow_schema

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")

# sort key and partition per table (the time column is the last sort key)
LAYOUT = {
    "requests": (("model", "instance", "arrival_time"), "arrival_time"),
    "engine_samples": (("instance", "time"), "time"),
    "engine_histograms": (("instance", "metric", "time"), "time"),
}


def identifier(name: str, what: str = "table") -> str:
    """``name`` back-quoted after checking it is a plain identifier (letters, digits, _).

    Table and database names come from a URL: they are never pasted into SQL unchecked.
    """
    if not isinstance(name, str) or not _IDENT.match(name):
        raise ConfigError(
            f"{what} name {name!r} is not a plain identifier. Hint: letters, digits and _ only, "
            "starting with a letter or _",
            what,
        )
    return f"`{name}`"


def column_type(t: pa.DataType, nullable: bool) -> str:
    """ClickHouse type of an Arrow type: string -> String, timestamp[us, UTC] -> DateTime64(6, 'UTC'),
    float64 -> Float64, int64 -> Int64, list<double> -> Array(Nullable(Float64)) (an Array cannot be
    Nullable: a null list is stored as [], which every metric treats alike)."""
    if pa.types.is_list(t):
        return f"Array({column_type(t.value_type, True)})"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        base = "String"
    elif pa.types.is_timestamp(t):
        base = "DateTime64(6, 'UTC')"
    elif pa.types.is_float64(t):
        base = "Float64"
    elif pa.types.is_int64(t):
        base = "Int64"
    elif pa.types.is_boolean(t):
        base = "Bool"
    else:  # pragma: no cover - the canonical schema has no other types
        raise ConfigError(f"no ClickHouse type for Arrow type {t}", "schema")
    return f"Nullable({base})" if nullable else base


def create_table(table: str, name: str | None = None, database: str | None = None) -> str:
    """CREATE TABLE IF NOT EXISTS for canonical ``table`` (named ``name``, default the same)."""
    sch = arrow_schema(table)
    order, part = LAYOUT[table]
    target = identifier(name or table)
    if database:
        target = f"{identifier(database, 'database')}.{target}"
    cols = ",\n".join(f"    {identifier(f.name, 'column')} {column_type(f.type, f.nullable)}" for f in sch)
    return (
        f"CREATE TABLE IF NOT EXISTS {target}\n(\n{cols}\n)\nENGINE = MergeTree\n"
        f"PARTITION BY toDate({identifier(part, 'column')})\n"
        f"ORDER BY ({', '.join(identifier(c, 'column') for c in order)})\n"
        "SETTINGS allow_nullable_key = 1"
    )


def create_all(names: dict[str, str] | None = None, database: str | None = None) -> list[str]:
    """DDL of the published tables (requests, engine_samples, engine_histograms); ``names`` renames them."""
    names = names or {}
    return [create_table(t, names.get(t), database) for t in PUBLISHED]
