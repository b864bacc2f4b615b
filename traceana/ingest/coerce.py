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

import numpy as np
import polars as pl
import pyarrow as pa

from traceana.schema import (
    TIMESTAMP,
    arrow_schema,
    polars_dtype,  # noqa: F401 (re-exported)
)

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


_ISO_HEAD = "YYYY-MM-DDTHH:MM:SS"
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _iso_layout(first: str) -> tuple[int, str] | None:
    """(fraction digits, zone: '' | 'Z' | '+') of an ISO-8601 timestamp the fast parser reads, else None."""
    if len(first) < 19 or first[10] not in "T ":
        return None
    rest = first[19:]
    frac = 0
    if rest[:1] == ".":
        frac = len(rest[1:]) - len(rest[1:].lstrip("0123456789"))
        if not 1 <= frac <= 6:
            return None
        rest = rest[1 + frac :]
    if rest in ("", "Z"):
        return frac, rest
    if len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        return frac, "+"
    return None


def _iso_fast(s: pl.Series) -> pl.Series | None:
    """Timestamps written the one common way, parsed with numpy on the bytes; null where a value is not.

    Reads ``YYYY-MM-DD[T ]HH:MM:SS[.f{1,6}][Z|+HH:MM|-HH:MM]`` in the layout
    (length, separator, fraction digits, zone) of the column's first value,
    with calendar checks (month, day of that month, 23:59:59, offsets up to
    23:59). Every value it reads gets exactly the instant the strptime formats
    give it; the rest (other layouts, whitespace, epoch numbers, garbage) is
    null here and goes through those formats. ~10x faster than strptime.
    None when the first value is not in such a layout.
    """

    first = s.drop_nulls().head(1).to_list()
    layout = _iso_layout(first[0]) if first and first[0].isascii() else None
    if layout is None:
        return None
    frac, zone = layout
    width = 19 + (1 + frac if frac else 0) + {"": 0, "Z": 1, "+": 6}[zone]
    arr = s.to_arrow(compat_level=pl.CompatLevel.oldest())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if not pa.types.is_large_string(arr.type):
        return None
    n = len(arr)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = (
        np.frombuffer(arr.buffers()[2], dtype=np.uint8)
        if arr.buffers()[2] is not None
        else np.zeros(0, np.uint8)
    )
    valid = s.is_not_null().to_numpy()  # (pyarrow's BooleanArray.to_numpy imports pandas: 0.2 s)
    ok = valid & (np.diff(offsets) == width)
    rows = np.flatnonzero(ok)
    starts = offsets[:-1][rows]
    if len(rows) == n and (
        n == 0 or (starts[-1] - starts[0] == width * (n - 1) and np.all(np.diff(starts) == width))
    ):
        block = data[offsets[0] : offsets[0] + width * n].reshape(
            n, width
        )  # no copy: one value after another
    else:
        block = data[starts[:, None] + np.arange(width)]
    digit_cols = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
    fixed = {4: b"-", 7: b"-", 13: b":", 16: b":"}
    if frac:
        fixed[19] = b"."
        digit_cols += list(range(20, 20 + frac))
    z = 19 + (1 + frac if frac else 0)
    if zone == "Z":
        fixed[z] = b"Z"
    elif zone == "+":
        fixed[z + 3] = b":"
        digit_cols += [z + 1, z + 2, z + 4, z + 5]
    good = np.ones(len(rows), dtype=bool)
    for col, ch in fixed.items():
        good &= block[:, col] == ch[0]
    good &= (block[:, 10] == ord("T")) | (block[:, 10] == ord(" "))
    if zone == "+":
        good &= (block[:, z] == ord("+")) | (block[:, z] == ord("-"))
    dig = block[:, digit_cols] - np.uint8(48)  # uint8: a byte below '0' wraps past 9
    good &= (dig <= 9).all(axis=1)

    def num(*cols: int) -> np.ndarray:
        v = dig[:, digit_cols.index(cols[0])].astype(np.int64)
        for c in cols[1:]:
            v *= 10
            v += dig[:, digit_cols.index(c)]
        return v

    year, month, day = num(0, 1, 2, 3), num(5, 6), num(8, 9)
    hour, minute, second = num(11, 12), num(14, 15), num(17, 18)
    good &= (
        (year >= 1000)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
    )
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    good &= day <= _DAYS_IN_MONTH[np.clip(month, 0, 12)] + ((month == 2) & leap)
    # days since 1970-01-01 of the proleptic Gregorian date (H. Hinnant's days_from_civil)
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    us = ((days * 24 + hour) * 60 + minute) * 60 + second
    us *= 1_000_000
    if frac:
        us += num(*range(20, 20 + frac)) * 10 ** (6 - frac)
    if zone == "+":
        oh, om = num(z + 1, z + 2), num(z + 4, z + 5)
        good &= (oh <= 23) & (om <= 59)
        sign = np.where(block[:, z] == ord("-"), -1, 1)
        us -= sign * (oh * 60 + om) * 60_000_000
    values = np.zeros(n, dtype=np.int64)
    values[rows] = us
    parsed = np.zeros(n, dtype=bool)
    parsed[rows] = good
    out = pl.Series(s.name, values, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
    if not parsed.all():  # (pa.array(..., mask=) would import pandas: 0.2 s)
        out = pl.select(pl.when(pl.Series(parsed)).then(out)).to_series()
    return out.alias(s.name)


def parse_timestamps(s: pl.Series, sample: int = 256) -> pl.Series:
    """Text timestamps as Datetime(us, UTC); null where a value does not parse.

    A file writes its timestamps one way: the common ISO layout is read with
    numpy (:func:`_iso_fast`); otherwise the format that parses a sample of
    the values is applied to the whole column in one pass. Only the values
    missed (mixed formats, epoch numbers, garbage) go through every accepted
    format. Trying all formats on every row cost 14 parses of the column.
    """
    if s.null_count() == s.len():
        return pl.Series(s.name, [None] * s.len(), dtype=pl.Datetime("us", "UTC"))
    fast = _iso_fast(s)
    if fast is not None:
        missed = fast.is_null() & s.is_not_null()
        if missed.any():
            idx = missed.arg_true()
            rest = pl.select(_parse_timestamp(pl.lit(s.gather(idx).str.strip_chars()))).to_series()
            fast = fast.scatter(idx, rest)
        return fast.alias(s.name)
    text = s.str.strip_chars()
    head = text.drop_nulls().head(sample)
    out = None
    for fmt in _TS_FORMATS:
        if (
            head.len()
            and head.str.to_datetime(fmt, time_zone="UTC", time_unit="us", strict=False).null_count() == 0
        ):
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
            return (
                col.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
                if src.time_zone
                else col.dt.replace_time_zone("UTC").dt.cast_time_unit("us")
            )
        if src.is_numeric():
            f = col.cast(pl.Float64)
            return (
                pl.when(f.abs() < 1e11)
                .then((f * 1e6).round(0).cast(pl.Int64))
                .otherwise(None)
                .cast(pl.Datetime("us", "UTC"))
            )
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
