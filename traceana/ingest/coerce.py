"""Turning text columns into canonical types, recording every value that does not parse.

Text formats (CSV, JSON Lines) are read with every column as a string so that
one bad value cannot make a whole file unreadable; :func:`coerce` then casts
each column and reports the rows whose non-null text did not parse.

Timestamps accept ISO-8601 (any offset, converted to UTC; naive taken as UTC),
'YYYY-mm-dd HH:MM:SS[.f]' and epoch seconds. A number in epoch milliseconds is
*not* guessed: it lands thousands of years ahead and the plausibility rule in
validation quarantines it.
"""

from __future__ import annotations

import json

import polars as pl
import pyarrow as pa

from traceana.schema import TIMESTAMP, arrow_schema

_TS_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)

_MAX_ABS_US = 10**17

#: one type-failure marker column per coerced column
FAIL_PREFIX = "__fail__"


def polars_dtype(t: pa.DataType) -> pl.DataType:
    if pa.types.is_timestamp(t):
        return pl.Datetime("us", "UTC")
    if pa.types.is_floating(t):
        return pl.Float64
    if pa.types.is_integer(t):
        return pl.Int64
    if pa.types.is_boolean(t):
        return pl.Boolean
    if pa.types.is_list(t):
        return pl.List(pl.Float64)
    return pl.String


def _parse_timestamp(col: pl.Expr) -> pl.Expr:
    s = col.str.strip_chars()
    parsed = [s.str.to_datetime(f, time_zone="UTC", time_unit="us", strict=False) for f in _TS_FORMATS]
    # Replace a trailing 'Z' so '%#z' formats see an offset; handle >6 fractional digits by truncation.
    s_norm = s.str.replace(r"Z$", "+00:00").str.replace(r"(\.\d{6})\d+", "$1")
    parsed += [s_norm.str.to_datetime(f, time_zone="UTC", time_unit="us", strict=False) for f in _TS_FORMATS]
    epoch = s.cast(pl.Float64, strict=False)
    # Epoch seconds; outside +-1e11 s the microsecond value would overflow: leave it unparsed (null -> failure).
    epoch_us = (
        pl.when(epoch.abs() < 1e11)
        .then((epoch * 1e6).round(0).cast(pl.Int64, strict=False))
        .otherwise(None)
        .cast(pl.Datetime("us", "UTC"))
    )
    return pl.coalesce(*parsed, epoch_us)


def parse_timestamps(s: pl.Series, sample: int = 256) -> pl.Series:
    """Text timestamps as Datetime(us, UTC); null where a value does not parse.

    A file writes its timestamps one way: the format that parses a sample of
    the values is applied to the whole column in one pass, and only the values
    it misses (mixed formats, epoch numbers, garbage) go through every accepted
    format. Trying all formats on every row cost 14 parses of the column.
    """
    if s.null_count() == s.len():
        return pl.Series(s.name, [None] * s.len(), dtype=pl.Datetime("us", "UTC"))
    text = s.str.strip_chars()
    head = text.drop_nulls().head(sample)
    out = None
    for fmt in _TS_FORMATS:
        if head.len() and head.str.to_datetime(fmt, time_zone="UTC", time_unit="us", strict=False).null_count() == 0:
            out = text.str.to_datetime(fmt, time_zone="UTC", time_unit="us", strict=False)
            break
    if out is None:
        return pl.select(_parse_timestamp(pl.lit(text))).to_series().alias(s.name)
    missed = out.is_null() & text.is_not_null()
    if missed.any():
        idx = missed.arg_true()
        rest = pl.select(_parse_timestamp(pl.lit(text.gather(idx)))).to_series()
        out = out.scatter(idx, rest)
    return out.alias(s.name)


def _cast_expr(name: str, dtype: pl.DataType, src: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if src == dtype:
        return col
    if dtype == pl.Datetime("us", "UTC"):
        if src == pl.String:
            return _parse_timestamp(col)
        if isinstance(src, pl.Datetime):
            return col.dt.convert_time_zone("UTC").dt.cast_time_unit("us") if src.time_zone else col.dt.replace_time_zone("UTC").dt.cast_time_unit("us")
        if src.is_numeric():
            f = col.cast(pl.Float64)
            return pl.when(f.abs() < 1e11).then((f * 1e6).round(0).cast(pl.Int64)).otherwise(None).cast(pl.Datetime("us", "UTC"))
        return col.cast(pl.String).pipe(_parse_timestamp)
    if dtype == pl.Int64:
        if src == pl.String:
            s = col.str.strip_chars()
            f = s.cast(pl.Float64, strict=False)
            # "12" and "12.0" are integers; "12.5" is not.
            return pl.when(f == f.floor()).then(f.cast(pl.Int64, strict=False)).otherwise(None)
        if src.is_float():
            return pl.when(col == col.floor()).then(col.cast(pl.Int64, strict=False)).otherwise(None)
        return col.cast(pl.Int64, strict=False)
    if dtype == pl.Float64:
        if src == pl.String:
            return col.str.strip_chars().cast(pl.Float64, strict=False)
        return col.cast(pl.Float64, strict=False)
    if dtype == pl.String:
        return col.cast(pl.String, strict=False)
    if isinstance(dtype, pl.List):
        if src == pl.String:
            return col.str.json_decode(pl.List(pl.Float64))
        return col.cast(dtype, strict=False)
    return col.cast(dtype, strict=False)


def coerce(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """Cast the canonical columns of ``df`` to their canonical types.

    Adds a boolean ``__fail__<col>`` column for each column where some non-null
    source value did not parse (the value becomes null). Non-canonical columns
    are kept (the caller drops them).
    """
    schema = arrow_schema(table)
    exprs = []
    fails = []
    for f in schema:
        if f.name not in df.columns:
            continue
        dtype = polars_dtype(f.type)
        src = df.schema[f.name]
        if src == dtype and dtype == pl.Datetime("us", "UTC"):
            # An adapter's timestamp can fit int64 yet lie past what polars can format (year ~262,000):
            # validation would panic printing it. Beyond +-1e17 us (year ~5100) it is not a time.
            far = pl.col(f.name).dt.epoch("us").abs() > _MAX_ABS_US
            if df.select(far.any()).item():
                df = df.with_columns(far.fill_null(False).alias(FAIL_PREFIX + f.name)).with_columns(
                    pl.when(~pl.col(FAIL_PREFIX + f.name)).then(pl.col(f.name)).alias(f.name)
                )
                fails.append(f.name)
            continue
        if src == dtype:
            continue
        if dtype == pl.Datetime("us", "UTC") and src == pl.String:
            df = df.with_columns(pl.col(f.name).is_not_null().alias(FAIL_PREFIX + f.name))
            df = df.with_columns(parse_timestamps(df[f.name]).alias(f.name))
            fails.append(f.name)
            continue
        if isinstance(dtype, pl.List) and src == pl.String:
            # Lists are parsed strictly, up front: polars' json_decode reads '[true]' and '1' as numbers.
            df = df.with_columns(pl.col(f.name).is_not_null().alias(FAIL_PREFIX + f.name))
            df = df.with_columns(float_lists(df[f.name]).alias(f.name))
            fails.append(f.name)
            continue
        exprs.append(_cast_expr(f.name, dtype, src).alias(f.name))
        fails.append(f.name)
    if not fails:
        return df
    pre = {n for n in fails if FAIL_PREFIX + n in df.columns}
    fails_cast = [n for n in fails if n not in pre]
    try:
        out = df.with_columns(
            [pl.col(n).is_not_null().alias(FAIL_PREFIX + n) for n in fails_cast]
        ).with_columns(exprs)
    except pl.exceptions.PolarsError:
        # A column polars cannot cast in bulk: go column by column, then value by value.
        out = df.with_columns([pl.col(n).is_not_null().alias(FAIL_PREFIX + n) for n in fails_cast])
        for n in fails_cast:
            dtype = polars_dtype(schema.field(n).type)
            try:
                out = out.with_columns(_cast_expr(n, dtype, out.schema[n]).alias(n))
            except pl.exceptions.PolarsError:
                out = out.with_columns(
                    pl.col(n).map_elements(lambda v, d=dtype: _one(v, d), return_dtype=dtype).alias(n)
                )
    return out.with_columns(
        [(pl.col(FAIL_PREFIX + n) & pl.col(n).is_null()).alias(FAIL_PREFIX + n) for n in fails]
    )


def _one(value, dtype):
    """Cast one value (via its text); None when it does not parse."""
    try:
        s = pl.Series("v", [value])
        if s.dtype != pl.String:
            s = s.cast(pl.String, strict=False)
        res = s.to_frame().select(_cast_expr("v", dtype, pl.String)).to_series()
    except pl.exceptions.PolarsError:
        return None
    if len(res) != 1:
        return None
    out = res[0]
    return out.to_list() if isinstance(out, pl.Series) else out


_NUM = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_NUM_LIST = rf"^\s*\[\s*(?:{_NUM}(?:\s*,\s*{_NUM})*)?\s*\]\s*$"


def _one_list(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        v = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(v, list) or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v):
        return None
    try:
        return [float(x) for x in v]
    except OverflowError:  # an integer beyond float range
        return None


def float_lists(s: pl.Series) -> pl.Series:
    """JSON arrays of numbers -> list<float64>; anything else (including '[true]', '1', '[null]') -> null."""
    ok = s.str.contains(_NUM_LIST).fill_null(False)
    masked = s.zip_with(ok, pl.Series([None] * len(s), dtype=pl.String))
    try:
        return masked.str.json_decode(pl.List(pl.Float64))
    except pl.exceptions.PolarsError:  # e.g. 1e999: parse those in Python (they become inf, flagged later)
        return pl.Series(s.name, [_one_list(v) for v in masked], dtype=pl.List(pl.Float64))


def type_failures(df: pl.DataFrame) -> list[str]:
    return [c for c in df.columns if c.startswith(FAIL_PREFIX)]


__all__ = ["coerce", "polars_dtype", "FAIL_PREFIX", "TIMESTAMP"]
