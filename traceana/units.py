"""Unit conversions, in one place (never a scattered ``* 1000``).

Canonical units: durations in float seconds, times as ``timestamp[us, UTC]``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from traceana.schema import TIMESTAMP

#: seconds per unit, for every duration unit a source may use
DURATION_UNITS = {
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ns": 1e-9,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
}
#: the divisor that turns an epoch number in this unit into microseconds
EPOCH_TO_US = {"s": 1e-6, "ms": 1e-3, "us": 1.0, "ns": 1e3}


def to_seconds(values, unit: str) -> pa.Array:
    """Durations in ``unit`` (s, ms, us, ns) as float64 seconds."""
    try:
        factor = DURATION_UNITS[unit]
    except KeyError:
        raise ValueError(f"unknown duration unit '{unit}'. Hint: one of {sorted(DURATION_UNITS)}") from None
    arr = pa.array(values) if not isinstance(values, pa.Array | pa.ChunkedArray) else values
    return pc.multiply(pc.cast(arr, pa.float64()), factor)


def epoch_to_timestamp(values, unit: str) -> pa.Array:
    """Epoch numbers in ``unit`` (s, ms, us, ns) as timestamp[us, UTC]. Floats keep sub-us precision out."""
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if unit == "ns" and pa.types.is_integer(arr.type):
        us = pc.divide(pc.cast(arr, pa.int64()), 1000)  # integer division: exact
    elif unit == "us" and pa.types.is_integer(arr.type):
        us = pc.cast(arr, pa.int64())
    else:
        f = pc.cast(arr, pa.float64())
        scale = {"s": 1e6, "ms": 1e3, "us": 1.0, "ns": 1e-3}[unit]
        us = pc.cast(pc.round(pc.multiply(f, scale)), pa.int64())
    return pc.cast(us, TIMESTAMP)


def epoch_scalar_to_datetime(value: float, unit: str = "s") -> datetime:
    scale = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}[unit]
    return datetime.fromtimestamp(float(value) * scale, tz=UTC)


_RUST_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*(ns|µs|μs|us|ms|s|m|h)\s*$")


def parse_duration(text: str) -> float:
    """A Rust ``Duration`` Debug string ('611.286748ms', '754.5µs', '4.06s') as seconds.

    Raises ValueError for anything else.
    """
    m = _RUST_DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (expected a number with a unit: ns, µs, ms, s)")
    return float(m.group(1)) * DURATION_UNITS[m.group(2)]


def parse_datetime(text: str, naive_tz: timezone = UTC) -> datetime:
    """ISO-8601 or 'YYYY-mm-dd HH:MM:SS[.ffffff]' as an aware UTC datetime (naive taken as UTC)."""
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1] + "+00:00"
    dt = datetime.fromisoformat(t)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=naive_tz)
    return dt.astimezone(UTC)


def datetimes_to_timestamp(values: list[datetime | None]) -> pa.Array:
    return pa.array(values, type=TIMESTAMP)


def derive_tpot(e2e_s: np.ndarray, ttft_s: np.ndarray, output_tokens: np.ndarray) -> np.ndarray:
    """TPOT = (e2e - ttft) / (output_tokens - 1) where output_tokens > 1, else NaN (vLLM's definition)."""
    e2e = np.asarray(e2e_s, dtype=float)
    ttft = np.asarray(ttft_s, dtype=float)
    out = np.asarray(output_tokens, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(out > 1, (e2e - ttft) / (out - 1), np.nan)
