"""validate.split against an independent row-by-row oracle written from the rules in its docstring."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz.conftest import count, examples
from traceana.ingest.coerce import FAIL_PREFIX, polars_dtype
from traceana.ingest.validate import split
from traceana.schema import STATUSES, arrow_schema

NOW = datetime(2025, 6, 1, tzinfo=UTC)
DURS = ("queue_time_s", "ttft_s", "tpot_s", "prefill_time_s", "decode_time_s", "e2e_latency_s")
TOKS = ("prompt_tokens", "output_tokens", "cached_prompt_tokens", "num_preemptions")


def mostly(good: list, bad: list, k: int = 6):
    """Good values (edges just inside each threshold) k times as likely as bad ones (just outside)."""
    return st.sampled_from(good * k + bad)


# Mostly good rows, so that each rule, alone, decides some rows.
dur = mostly(
    [None, 0.0, 0.05, 0.1, 0.2, 1.0, 86_400.0], [-0.001, 86_400.5, math.nan, math.inf, -math.inf], k=10
)
tok = mostly([None, 0, 5, 10, 11, 100], [-1], k=3)
T = datetime(2025, 3, 1, 12, tzinfo=UTC)
good_times = [
    T,
    T + timedelta(microseconds=500),
    T - timedelta(microseconds=500),
    datetime(2000, 1, 1, tzinfo=UTC),
    NOW + timedelta(days=1),
]
bad_times = [
    T - timedelta(microseconds=2000),
    datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC),
    NOW + timedelta(days=1, seconds=1),
]


@st.composite
def row(draw):
    """One row; related fields are drawn near each other so the relational rules sit on their edges."""
    ttft = draw(dur)
    fin = ttft is not None and math.isfinite(ttft)
    e2e = draw(mostly([None, ttft + 0.5, ttft, ttft - 0.0005], [ttft - 0.002]) if fin else dur)
    queue = draw(mostly([None, 0.0, ttft / 2], [-0.001]) if fin else dur)
    room = ttft - (queue or 0.0) if fin and queue is not None and math.isfinite(queue) else None
    prefill = draw(mostly([None, room, room + 0.0005], [room + 0.002]) if room is not None else dur)
    prompt = draw(tok)
    cached = draw(mostly([None, prompt, prompt - 1], [prompt + 1]) if prompt is not None else tok)
    return {
        "request_id": draw(mostly(["UNIQUE"], ["a", "b", None, "", "  "], k=5)),
        "arrival_time": draw(mostly(good_times, [None, *bad_times[1:]], k=6)),
        "scheduled_time": draw(mostly([None, *good_times], bad_times, k=3)),
        "status": draw(mostly([None, *sorted(STATUSES)], ["OK", "success"])),
        "itl_s": draw(
            st.none() | st.lists(mostly([0.0, 0.01], [-0.01, math.nan, math.inf], k=6), max_size=3)
        ),
        "__fail__ttft_s": draw(mostly([False], [True], k=20)),
        "queue_time_s": queue,
        "ttft_s": ttft,
        "tpot_s": draw(dur),
        "prefill_time_s": prefill,
        "decode_time_s": draw(dur),
        "e2e_latency_s": e2e,
        "prompt_tokens": prompt,
        "output_tokens": draw(tok),
        "cached_prompt_tokens": cached,
        "num_preemptions": draw(tok),
    }


def _ids(rows: list[dict]) -> list[dict]:
    return [{**r, "request_id": f"u{i}"} if r["request_id"] == "UNIQUE" else r for i, r in enumerate(rows)]


rows_st = st.lists(row(), min_size=1, max_size=12).map(_ids)


def oracle_bad(rows: list[dict]) -> list[bool]:
    """Each rule of traceana.ingest.validate, written out per row in plain Python."""
    out, seen = [], set()
    lo, hi = datetime(2000, 1, 1, tzinfo=UTC), NOW + timedelta(days=1)
    for r in rows:
        bad = r["__fail__ttft_s"]
        rid = r["request_id"]
        bad |= rid is None or rid.strip() == ""
        bad |= r["arrival_time"] is None
        for k in ("arrival_time", "scheduled_time"):
            bad |= r[k] is not None and not (lo <= r[k] <= hi)
        if r["arrival_time"] is not None and r["scheduled_time"] is not None:
            bad |= r["scheduled_time"] < r["arrival_time"] - timedelta(milliseconds=1)
        for d in DURS:
            v = r[d]
            bad |= v is not None and (not math.isfinite(v) or v < 0 or v > 86_400.0)
        bad |= r["itl_s"] is not None and any(not math.isfinite(x) or x < 0 for x in r["itl_s"])
        for t in TOKS:
            bad |= r[t] is not None and r[t] < 0
        if r["cached_prompt_tokens"] is not None and r["prompt_tokens"] is not None:
            bad |= r["cached_prompt_tokens"] > r["prompt_tokens"]
        if r["ttft_s"] is not None and r["e2e_latency_s"] is not None:
            bad |= r["ttft_s"] > r["e2e_latency_s"] + 1e-3
        if None not in (r["queue_time_s"], r["prefill_time_s"], r["ttft_s"]):
            bad |= r["queue_time_s"] + r["prefill_time_s"] > r["ttft_s"] + 1e-3
        bad |= r["status"] is not None and r["status"] not in STATUSES
        if rid is not None:
            bad |= rid in seen  # a later duplicate, whatever became of the first
            seen.add(rid)
        out.append(bool(bad))
    return out


@settings(max_examples=examples(80))
@given(rows=rows_st)
def test_split_matches_the_oracle(rows):
    count("validate.split")
    schema = arrow_schema("requests")
    types = {k: polars_dtype(schema.field(k).type) for k in rows[0] if not k.startswith(FAIL_PREFIX)}
    df = pl.DataFrame(rows, schema={**types, FAIL_PREFIX + "ttft_s": pl.Boolean}).with_row_index("__row")
    good, bad = split(df, "requests", now=NOW)
    assert good.height + bad.height == len(rows)
    expected = oracle_bad(rows)
    assert sorted(bad["__row"].to_list()) == [i for i, b in enumerate(expected) if b]
    assert bad["field"].null_count() == 0 and bad["reason"].null_count() == 0
    assert good.columns == df.columns
