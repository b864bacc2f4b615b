"""Shared helpers for the metric families: percentile names and reliability, the
order-statistic confidence ranks, exact rationals, group ids, time windows and the
in-flight sweep.

Everything here works on whole numpy / polars columns: no Python object per row.
Percentiles themselves (latency.py) are order statistics from a multi-kth
``np.partition`` with linear interpolation (= numpy ``method="linear"`` = DuckDB
``quantile_cont``).
"""

from __future__ import annotations

import datetime as dt
import math
import sys
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

import numpy as np
import polars as pl

from traceana.errors import SchemaError, TraceanaError

PERCENTILES = (0.5, 0.9, 0.95, 0.99, 0.999)

# A percentile q is "reliable" when at least this many observations are
# expected above it: n * (1 - q) >= 10. p50 needs 20, p90 100, p95 200,
# p99 1000, p99.9 10000 observations.
RELIABLE_TAIL_COUNT = 10


def pct_name(q: float) -> str:
    """Column name of percentile ``q``: 0.5 -> "p50", 0.999 -> "p99_9"."""
    text = f"{Decimal(repr(q)) * 100:f}".rstrip("0").rstrip(".")
    return "p" + text.replace(".", "_")


def min_reliable_n(q: float) -> int:
    """Smallest n with n * (1 - q) >= RELIABLE_TAIL_COUNT, in exact decimal arithmetic."""
    tail = 1 - Fraction(Decimal(repr(q)))
    return math.ceil(RELIABLE_TAIL_COUNT / tail)


def as_lazy(data: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    if isinstance(data, pl.LazyFrame):
        return data
    if isinstance(data, pl.DataFrame):
        return data.lazy()
    raise TraceanaError(f"expected a polars LazyFrame or DataFrame, got {type(data).__name__}")


def require_columns(lf: pl.LazyFrame, cols: Sequence[str], table: str = "requests") -> None:
    names = lf.collect_schema().names()
    missing = [c for c in cols if c not in names]
    if missing:
        raise SchemaError(
            f"{table}: columns not found: {missing}. Hint: the frame has {names}; "
            f"conform it to the canonical '{table}' schema first"
        )


def exact(x: int | float | str | Decimal | Fraction) -> Fraction:
    """An exact rational for a number or decimal string; floats by their shortest repr (0.7 -> 7/10)."""
    if isinstance(x, bool):
        raise TraceanaError(f"expected a number, got {x!r}")
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    if isinstance(x, float):
        if not math.isfinite(x):
            raise TraceanaError(f"expected a finite number, got {x!r}")
        return Fraction(Decimal(repr(x)))
    if isinstance(x, (str, Decimal)):
        try:
            d = Decimal(str(x).strip())
        except ArithmeticError:
            raise TraceanaError(f"not a decimal number: {x!r}") from None
        if not d.is_finite():
            raise TraceanaError(f"expected a finite number, got {x!r}")
        return Fraction(d)
    raise TraceanaError(f"expected a number or decimal string, got {type(x).__name__}")


# ---------------------------------------------------------------- order-statistic CI


@lru_cache(maxsize=65536)
def ci_ranks(n: int, q: float, confidence: float = 0.95) -> tuple[int, int] | None:
    """1-based ranks (l, u) of the distribution-free confidence interval for quantile q.

    Formula (equal-tailed, B ~ Binomial(n, q), alpha = 1 - confidence):
        l = max{ l >= 1 : P(B <= l - 1) <= alpha / 2 }
        u = min{ u <= n : P(B >= u)     <= alpha / 2 }
        so P(l <= B < u) = P(x_(l) <= x_q < x_(u)) >= confidence.
    None when n is too small for such ranks: (1-q)^n > alpha/2 or q^n > alpha/2.
    """
    if not 0 < q < 1 or not 0 < confidence < 1:
        raise TraceanaError(f"quantile and confidence must lie in (0, 1), got {q}, {confidence}")
    if n < 1:
        return None
    half = (1 - confidence) / 2
    # Only ranks within ~12 sd of n*q can matter; outside that the mass is < 1e-30.
    sd = math.sqrt(n * q * (1 - q))
    lo = max(0, math.floor(n * q - 12 * sd - 40))
    hi = min(n, math.ceil(n * q + 12 * sd + 40))
    k = np.arange(lo, hi + 1, dtype=np.float64)
    anchor = math.lgamma(n + 1) - math.lgamma(lo + 1) - math.lgamma(n - lo + 1)
    anchor += lo * math.log(q) + (n - lo) * math.log1p(-q)
    step = np.log((n - k[:-1]) / (k[:-1] + 1)) + (math.log(q) - math.log1p(-q))
    pmf = np.exp(anchor + np.concatenate(([0.0], np.cumsum(step))))
    below = np.cumsum(pmf)  # P(B <= k), k = lo..hi
    above = np.cumsum(pmf[::-1])[::-1]  # P(B >= k)
    # l - 1 = largest k with P(B <= k) <= half
    ok_low = np.nonzero(below <= half)[0]
    if lo > 0 and not len(ok_low):
        return None  # cannot happen with the 12 sd margin; be safe
    if not len(ok_low):
        return None
    rank_l = int(k[ok_low[-1]]) + 1
    # u = smallest k with P(B >= k) <= half
    ok_high = np.nonzero(above <= half)[0]
    if not len(ok_high) or int(k[ok_high[0]]) > n:
        return None
    rank_u = int(k[ok_high[0]])
    if rank_u > n or rank_u < 1 or rank_l > n:
        return None
    return rank_l, rank_u


# ---------------------------------------------------------------- groups


def group_rows(df: pl.DataFrame, keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
    """Rows of ``df`` grouped by ``keys``: (order, counts, table).

    ``order`` lists the row indices group by group, groups in sorted key order
    (nulls first), rows in their original order within a group; group g has
    ``counts[g]`` rows; ``table`` holds the keys, one row per group. One hash
    group-by (no sort of the rows); without keys the whole frame is one group.
    """
    if not keys:
        return np.arange(df.height, dtype=np.int64), np.array([df.height], dtype=np.int64), pl.DataFrame()
    grouped = (
        df.select(keys)
        .with_row_index("_row")
        .group_by(list(keys))
        .agg("_row")
        .sort(list(keys), nulls_last=False, maintain_order=True)
    )
    counts = grouped["_row"].list.len().to_numpy().astype(np.int64)
    order = grouped["_row"].explode().to_numpy().astype(np.int64) if df.height else np.zeros(0, np.int64)
    return order, counts, grouped.drop("_row")


# ---------------------------------------------------------------- time windows

US = 1_000_000
# time_quantile_levels counts (window, level) cells in a dense array up to this many cells
DENSE_BINS = 8_000_000


def check_every(every: str | None) -> None:
    """Raise TraceanaError unless ``every`` is None or a polars duration string ("1m", "1h", "1d")."""
    if every is None:
        return
    probe = pl.Series([0]).cast(pl.Datetime("us", "UTC"))
    try:
        if not isinstance(every, str):
            raise TypeError(every)
        probe.dt.truncate(every)
        if not every.strip() or not (probe.dt.offset_by(every) > probe)[0]:
            raise ValueError(every)
    except Exception:  # polars raises several types for a bad duration string
        raise TraceanaError(
            f"invalid window length {every!r}. Hint: a polars duration string such as '30s', '1m', '1h', '1d'"
        ) from None


def window_grid(start_us: int, end_us: int, every: str | None) -> np.ndarray:
    """Window boundaries in epoch microseconds: start, aligned steps of ``every``, end.

    Windows are [b_k, b_k+1): the calendar grid of ``every`` (polars truncate
    alignment) clipped to [start, end); without ``every`` one window [start, end).
    """
    if end_us <= start_us:
        return np.array([start_us, max(end_us, start_us)], dtype=np.int64)
    if every is None:
        return np.array([start_us, end_us], dtype=np.int64)
    start = pl.Series([start_us]).cast(pl.Datetime("us", "UTC"))
    end = pl.Series([end_us]).cast(pl.Datetime("us", "UTC"))
    try:
        first = start.dt.truncate(every)[0]
        grid = pl.datetime_range(first, end[0], every, closed="left", eager=True, time_unit="us")
    except (pl.exceptions.ComputeError, pl.exceptions.InvalidOperationError, ValueError) as exc:
        raise TraceanaError(
            f"invalid window length {every!r}: {exc}. Hint: a polars duration like '1m', '1h'"
        ) from None
    inner = grid.cast(pl.Int64).to_numpy()
    inner = inner[(inner > start_us) & (inner < end_us)]
    return np.concatenate(([start_us], inner, [end_us])).astype(np.int64)


def time_quantile_levels(
    window: np.ndarray, level: np.ndarray, duration: np.ndarray, n_windows: int, q: float
) -> np.ndarray:
    """Time-weighted quantile of an integer level per window.

    Formula: the smallest level c with (time at level <= c) >= q * (total time), from
    (window, level, duration) segments; exact integer arithmetic on integer durations.
    Windows without segments get 0.
    """
    return _levels_by_window(window, level, duration, n_windows, q)[0]


def _levels_by_window(
    window: np.ndarray, level: np.ndarray, duration: np.ndarray, n_windows: int, q: float
) -> tuple[np.ndarray, np.ndarray]:
    """(time-weighted q-quantile, max) of the level per window from segments of positive duration."""
    out = np.zeros(n_windows, dtype=np.int64)
    peak = np.zeros(n_windows, dtype=np.int64)
    if not len(level):
        return out, peak
    frac = Fraction(Decimal(repr(q)))
    span = int(level.max()) + 1
    key = window.astype(np.int64)
    key *= span
    key += level
    # float sums are exact: each bin's total is at most one window length in integer units (< 2**53)
    if n_windows * span <= DENSE_BINS:  # dense bins: O(n), no sort
        dense = np.bincount(key, weights=duration, minlength=n_windows * span)
        del key
        uniq = np.nonzero(dense)[0]
        dur = dense[uniq].astype(np.int64)
    else:
        uniq, inv = np.unique(key, return_inverse=True)
        del key
        dur = np.bincount(inv, weights=duration, minlength=len(uniq)).astype(np.int64)
    w = uniq // span
    lv = uniq % span
    if not len(w):  # only zero-length segments
        return out, peak
    last = np.flatnonzero(np.diff(w))
    peak[w[last]] = lv[last]
    peak[w[-1]] = lv[-1]  # levels ascend within a window: its last entry is the max
    total = np.bincount(w, weights=dur.astype(np.float64), minlength=n_windows).astype(np.int64)
    cum = np.cumsum(dur)
    before = np.concatenate(([0], cum))[np.searchsorted(w, w, side="left")]
    within = cum - before
    if int(total.max(initial=0)) < 2**62 // max(frac.denominator, 1):
        reached = within * frac.denominator >= total[w] * frac.numerator
    else:  # astronomically long windows: float comparison, exactness is moot there
        reached = within.astype(np.float64) >= total[w].astype(np.float64) * float(frac)
    hit = np.nonzero(reached)[0]
    hit_w, first = np.unique(w[hit], return_index=True)
    out[hit_w] = lv[hit[first]]
    return out, peak


def to_epoch_us(value: object) -> int:
    """A datetime (naive = UTC), ISO-8601 string or epoch-microsecond int as epoch microseconds."""
    from traceana.units import parse_datetime

    if isinstance(value, bool):
        raise TraceanaError(f"not a time: {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            value = parse_datetime(value)
        except ValueError:
            raise TraceanaError(f"not an ISO-8601 time: {value!r}") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds
    raise TraceanaError(f"not a time: {value!r}. Hint: pass a datetime or an ISO-8601 string")


def inflight_by_window(
    gid: np.ndarray,
    a_ns: np.ndarray,
    d_ns: np.ndarray,
    bounds_ns: np.ndarray,
    n_groups: int,
    q: float = 0.99,
    totals: bool = False,
) -> tuple[np.ndarray, ...]:
    """Max and time-weighted q-quantile of the in-flight count per (group, window).

    Sweep over intervals [a, d) (integer ns): +1 at a, -1 at d, departures before
    arrivals at equal times, plus a zero marker per group at every window boundary
    so no constant segment crosses a window. Only segments of positive duration
    count, which is what "departures before arrivals at equal times" asks: a
    request ending at t and one starting at t are never both counted. The events
    sort once as a packed int64 key (group, time, kind) when the bits fit, else a
    lexsort; the window of each segment is the last marker before it (a running
    count of markers, no search). Input in group order with arrivals in time order
    (a trace as read, grouped) makes the stable sort a merge of a few runs.
    Returns two int64 arrays indexed group * W + window (W = len(bounds_ns) - 1);
    with ``totals`` also, per group, the time (ns) spent at each level over all
    its windows together (int64 array indexed by level; the same segments, one
    more bincount, no second sweep): :func:`level_stats` gives its max and
    quantile, and histograms of disjoint time slices add up.
    """
    n_windows = len(bounds_ns) - 1
    size = n_groups * n_windows
    keep = (d_ns > a_ns) & (d_ns > bounds_ns[0]) & (a_ns < bounds_ns[-1])
    if not keep.all():
        gid, a_ns, d_ns = gid[keep], a_ns[keep], d_ns[keep]
    del keep
    if not len(gid):
        zeros = (np.zeros(size, dtype=np.int64), np.zeros(size, dtype=np.int64))
        return zeros + (([np.zeros(0, dtype=np.int64) for _ in range(n_groups)],) if totals else ())
    gid = gid.astype(np.int64, copy=False)
    origin = min(int(a_ns.min()), int(bounds_ns[0]))
    n, n_marks = len(gid), n_groups * len(bounds_ns)
    marks_t = np.tile(bounds_ns - origin, n_groups)
    marks_g = np.repeat(np.arange(n_groups, dtype=np.int64), len(bounds_ns))
    tbits = max(int(d_ns.max()) - origin, int(marks_t.max())).bit_length()
    gbits = max(n_groups - 1, 0).bit_length()
    if tbits + 2 + gbits <= 62:
        shift = tbits + 2
        key = np.empty(2 * n + n_marks, dtype=np.int64)
        dep, arr = key[:n], key[n : 2 * n]
        np.subtract(d_ns, origin, out=dep)
        np.subtract(a_ns, origin, out=arr)
        dep <<= 2
        arr <<= 2
        arr |= 1
        if n_groups > 1:
            high = gid << shift
            dep |= high
            arr |= high
            del high
        key[2 * n :] = (marks_g << shift) | (marks_t << 2) | 2
        # stable = timsort: near-linear on grouped, time-ordered runs
        key.sort(kind="stable")
        if sys.byteorder == "little":  # the kind bits are in the lowest byte: a strided view, no copy
            kinds = key.view(np.uint8)[::8] & 3
        else:
            kinds = (key & 3).astype(np.uint8)
        key >>= 2  # (group, time)
        # gaps across groups start after a group's end marker: their cell is -1 below
        gap = np.diff(key)
        del key
    else:
        times = np.concatenate((d_ns - origin, a_ns - origin, marks_t))
        groups = np.concatenate((gid, gid, marks_g))
        kinds = np.concatenate((np.zeros(n, np.uint8), np.ones(n, np.uint8), np.full(n_marks, 2, np.uint8)))
        order = np.lexsort((kinds, times, groups))
        kinds, times, groups = kinds[order], times[order], groups[order]
        gap = np.where(groups[1:] == groups[:-1], np.diff(times), 0)
        del times, groups, order
    small = np.int32 if 2 * n + n_marks < 2**31 else np.int64
    level = np.cumsum(np.array([-1, 1, 0], dtype=small)[kinds[:-1]], dtype=small)
    # cell of the window opened by each marker (group-major, as built); -1 after a group's last boundary
    cell_of_mark = np.full((n_groups, n_windows + 1), -1, dtype=np.int64)
    cell_of_mark[:, :n_windows] = np.arange(size, dtype=np.int64).reshape(n_groups, n_windows)
    cell_of_mark = np.concatenate(([-1], cell_of_mark.ravel())).astype(small)
    cell = cell_of_mark[np.cumsum(kinds[:-1] == 2, dtype=small)]
    del kinds
    counted = gap > 0
    counted &= cell >= 0
    duration, cell, level = gap[counted], cell[counted], level[counted]
    del gap, counted
    p_q, peak = _levels_by_window(cell, level, duration, size, q)
    if not totals:
        return peak, p_q
    span = int(level.max()) + 1 if len(level) else 0
    key = (cell // n_windows).astype(np.int64)
    key *= span
    key += level
    # exact: each group's total is at most its span in ns (< 2**53 for ~104 days)
    hist = np.bincount(key, weights=duration, minlength=n_groups * span).astype(np.int64)
    return peak, p_q, list(hist.reshape(n_groups, span))


def level_stats(hist: np.ndarray, q: float) -> tuple[int, int]:
    """(max level, time-weighted q-quantile) of a time-per-level histogram (ns per level).

    The quantile is the smallest level c with (time at level <= c) >= q * (total time),
    in exact integer arithmetic, as :func:`time_quantile_levels`; (0, 0) when no time.
    """
    hist = np.asarray(hist, dtype=np.int64)
    filled = np.flatnonzero(hist)
    if not len(filled):
        return 0, 0
    frac = Fraction(Decimal(repr(q)))
    cum = [int(x) for x in np.cumsum(hist)]  # Python ints: no overflow in the products
    need = cum[-1] * frac.numerator
    level = next(i for i, c in enumerate(cum) if c * frac.denominator >= need)
    return int(filled[-1]), level
