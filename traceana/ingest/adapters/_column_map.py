"""The column map of the ``mapped`` adapter: which source column is which canonical field, in which unit.

A small TOML file (keys are canonical field names)::

    format = "csv"                       # optional: csv | jsonl | parquet (default: from the file)

    [columns]
    request_id    = "req_id"                                   # plain column name
    arrival_time  = { column = "start", unit = "iso" }         # iso | epoch_s | epoch_ms | epoch_us | epoch_ns
    ttft_s        = { column = "ttft_ms", unit = "ms" }        # durations: s | ms | us | ns (required)
    e2e_latency_s = { column = "latency_ms", unit = "ms" }
    prompt_tokens = "in_tokens"
    status        = "outcome"

    [constants]                          # a value for every row
    model = "llama-3.1-8b-instruct"

    [status_map]                         # optional: source status value -> canonical status
    "200" = "ok"
    "504" = "timeout"

Durations and timestamps must name their unit: a silent default would make a
millisecond column a thousand times too long.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from traceana.errors import ConfigError
from traceana.schema import REQUESTS, STATUSES

DURATION_UNITS = ("s", "ms", "us", "ns")
TIMESTAMP_UNITS = ("iso", "epoch_s", "epoch_ms", "epoch_us", "epoch_ns")
FORMATS = ("csv", "jsonl", "parquet")
_NOT_MAPPABLE = {"source_format", "source_file", "source_line", "derived_fields", "itl_s"}
FIELDS = {f.name: f for f in REQUESTS if f.name not in _NOT_MAPPABLE}
TIMESTAMP_FIELDS = {"arrival_time", "scheduled_time"}
DURATION_FIELDS = {n for n in FIELDS if n.endswith("_s")}
INT_FIELDS = {n for n, f in FIELDS.items() if str(f.type) == "int64"}


def kind(field: str) -> str:
    if field in TIMESTAMP_FIELDS:
        return "timestamp"
    if field in DURATION_FIELDS:
        return "duration"
    if field in INT_FIELDS:
        return "int"
    return "string"


def load_column_map(path: str | Path) -> dict:
    """Read and validate a column-map TOML file; ConfigError names the offending key."""
    p = Path(path)
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read column map: {exc.strerror}", path=str(p)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=str(p)) from None
    return validate_column_map(raw, str(p))


def validate_column_map(raw: dict, path: str | None = None) -> dict:
    """Normalize a column map: ``{"format", "columns": {field: {"column", "unit"}}, "constants", "status_map"}``."""
    if not isinstance(raw, dict):
        raise ConfigError("a column map is a table", path=path)
    if raw.get("_validated"):
        return raw
    allowed_top = {"format", "columns", "constants", "status_map", "records"}
    for key in raw:
        if key not in allowed_top:
            raise ConfigError(
                f"unknown key. Hint: allowed top-level keys are {sorted(allowed_top)}", key=key, path=path
            )
    fmt = raw.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}. Hint: one of {list(FORMATS)}", key="format", path=path)
    columns: dict[str, dict] = {}
    for field, spec in _table(raw, "columns", path).items():
        key = f"columns.{field}"
        _check_field(field, key, path)
        if isinstance(spec, str):
            spec = {"column": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("column"), str) or not spec["column"]:
            raise ConfigError(
                'expected a column name or { column = "...", unit = "..." }', key=key, path=path
            )
        extra = set(spec) - {"column", "unit"}
        if extra:
            raise ConfigError(
                f"unknown option(s) {sorted(extra)}. Hint: only 'column' and 'unit'", key=key, path=path
            )
        unit = spec.get("unit")
        k = kind(field)
        if k == "timestamp":
            if unit not in TIMESTAMP_UNITS:
                raise ConfigError(
                    f"unit {unit!r} is not a timestamp unit. Hint: one of {list(TIMESTAMP_UNITS)}",
                    key=key,
                    path=path,
                )
        elif k == "duration":
            if unit not in DURATION_UNITS:
                raise ConfigError(
                    f"unit {unit!r} is not a duration unit. Hint: one of {list(DURATION_UNITS)}",
                    key=key,
                    path=path,
                )
        elif unit is not None:
            raise ConfigError(f"'{field}' takes no unit (got {unit!r})", key=key, path=path)
        columns[field] = {"column": spec["column"], "unit": unit}
    constants: dict[str, object] = {}
    for field, value in _table(raw, "constants", path).items():
        key = f"constants.{field}"
        _check_field(field, key, path)
        if field in columns:
            raise ConfigError("field is both a column and a constant", key=key, path=path)
        if kind(field) in ("timestamp", "duration") or field == "request_id":
            raise ConfigError(f"'{field}' cannot be a constant (it differs per request)", key=key, path=path)
        if kind(field) == "int" and (not isinstance(value, int) or isinstance(value, bool)):
            raise ConfigError(f"expected an integer, got {value!r}", key=key, path=path)
        if kind(field) == "string" and not isinstance(value, str):
            raise ConfigError(f"expected a string, got {value!r}", key=key, path=path)
        if field == "status" and value not in STATUSES:
            raise ConfigError(f"unknown status {value!r}. Hint: one of {list(STATUSES)}", key=key, path=path)
        constants[field] = value
    status_map: dict[str, str] = {}
    for src_value, status in _table(raw, "status_map", path).items():
        if status not in STATUSES:
            raise ConfigError(
                f"unknown status {status!r}. Hint: one of {list(STATUSES)}",
                key=f"status_map.{src_value}",
                path=path,
            )
        status_map[str(src_value)] = status
    if "arrival_time" not in columns:
        raise ConfigError(
            'required: every request needs an arrival time. Hint: arrival_time = { column = "...", unit = "iso" }',
            key="columns.arrival_time",
            path=path,
        )
    records = raw.get("records")
    if records is not None:
        from traceana.ingest.adapters._records import parse_path

        parse_path(records, path)
    return {
        "_validated": True,
        "records": records,
        "format": fmt,
        "columns": columns,
        "constants": constants,
        "status_map": status_map,
    }


def _table(raw: dict, name: str, path: str | None) -> dict:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError("expected a table", key=name, path=path)
    return value


def _check_field(field: str, key: str, path: str | None) -> None:
    if field not in FIELDS:
        raise ConfigError(
            f"unknown canonical field '{field}'. Hint: allowed fields are {sorted(FIELDS)}",
            key=key,
            path=path,
        )
