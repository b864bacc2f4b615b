"""Canonical ingest under fuzzing: any JSON in any field never crashes; the books balance; valid rows round-trip exactly."""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzz.conftest import count, examples
from traceana.cli import main
from traceana.ingest import ingest_paths, registry
from traceana.ingest.base import Limits, Source
from traceana.ingest.pipeline import process
from traceana.schema import STATUSES, arrow_schema
from traceana.store import open_store

CANONICAL = registry.get("canonical")
FIELDS = [
    f.name for f in arrow_schema("requests") if f.name not in ("source_format", "source_file", "source_line")
]
UTC = UTC

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "",
            " ",
            "NaN",
            "inf",
            "-1",
            "1e400",
            "12.5",
            "2025-03-01T12:00:00Z",
            "2025-03-01T12:00:00+05:30",
            "1740830400",
            "1740830400123",
            "[0.1, 0.2]",
            "[",
            "ok",
            "error",
            "\u202e",
            "\x00",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=5,
)
record = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=len(FIELDS)).map(
    lambda d: {"request_id": "r", "arrival_time": "2025-03-01T12:00:00Z", **d}
)


def _fresh_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="traceana-fz-"))


@settings(max_examples=examples(60))
@given(rows=st.lists(record, min_size=1, max_size=8), blank_every=st.integers(0, 3))
def test_any_json_in_any_field_never_crashes_and_books_balance(rows, blank_every):
    count("canonical.any_json")
    lines = [json.dumps(r, allow_nan=True).encode() for r in rows]
    if blank_every:
        lines = [
            x for i, line in enumerate(lines) for x in ([b"  "] if i % blank_every == 0 else []) + [line]
        ]
    data = b"\n".join(lines) + b"\n"
    d = _fresh_dir()
    try:
        p = d / "x.jsonl"
        p.write_bytes(data)
        tables, quarantine, rep = process(Source(p, data, Limits()), CANONICAL)  # no exception at all
        stored = tables["requests"].num_rows
        assert rep.records_read == len(rows) == stored + quarantine.num_rows
        q = quarantine.to_pylist()
        assert all(r["reason"] and r["source_file"] == str(p) and r["source_line"] for r in q)
        nonblank = [i + 1 for i, line in enumerate(lines) if line.strip()]
        assert (
            sorted(tables["requests"].column("source_line").to_pylist() + [r["source_line"] for r in q])
            == nonblank
        )
    finally:
        shutil.rmtree(d)


@settings(max_examples=examples(12))
@given(rows=st.lists(record, min_size=1, max_size=6), as_csv=st.booleans())
def test_ingest_into_store_rows_in_equal_stored_plus_quarantined(rows, as_csv):
    count("canonical.store_books")
    d = _fresh_dir()
    try:
        if as_csv:
            # CSV: every value as its JSON text (strings bare); the header names every field.
            cols = sorted({k for r in rows for k in r}, key=FIELDS.index)
            df = pl.DataFrame(
                {
                    c: [
                        None if r.get(c) is None else (r[c] if isinstance(r[c], str) else json.dumps(r[c]))
                        for r in rows
                    ]
                    for c in cols
                },
                schema={c: pl.String for c in cols},
            )
            p = d / "x.csv"
            df.write_csv(p)
        else:
            p = d / "x.jsonl"
            p.write_bytes(b"".join(json.dumps(r, allow_nan=True).encode() + b"\n" for r in rows))
        st_ = open_store(d / "store")
        summary = ingest_paths(st_, [p], fmt="canonical")
        assert not summary.refused, summary.files[0].error
        n_req = st_.requests().select(pl.len()).collect().item()
        n_q = st_.quarantine().select(pl.len()).collect().item()
        assert n_req + n_q == len(rows) == summary.records_read
    finally:
        shutil.rmtree(d)


# ------------------------------------------------------------------ exact round trip of valid rows
offsets = st.integers(-14 * 4, 14 * 4).map(lambda q: timezone(timedelta(minutes=15 * q)))
times = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2025, 6, 1), timezones=offsets)
finite = st.floats(min_value=0.0, max_value=86_400.0, allow_nan=False, allow_infinity=False)
text = st.text(max_size=40)
tokens = st.integers(0, 2**40)


@st.composite
def valid_row(draw, i: int):
    arrival = draw(times)
    e2e = draw(st.none() | finite)
    ttft = None if e2e is None else draw(st.none() | st.floats(0.0, e2e))
    prompt = draw(st.none() | tokens)
    row = {
        "request_id": f"r{i}-" + draw(text),
        "arrival_time": arrival,
        "e2e_latency_s": e2e,
        "ttft_s": ttft,
        "tpot_s": draw(st.none() | finite),
        "decode_time_s": draw(st.none() | finite),
        "prompt_tokens": prompt,
        "output_tokens": draw(st.none() | tokens),
        "cached_prompt_tokens": None if prompt is None else draw(st.none() | st.integers(0, prompt)),
        "num_preemptions": draw(st.none() | st.integers(0, 1000)),
        "status": draw(st.none() | st.sampled_from(sorted(STATUSES))),
        "itl_s": draw(st.none() | st.lists(finite, max_size=4)),
    }
    for name in (
        "model",
        "instance",
        "route",
        "model_version",
        "quantization",
        "fallback_from",
        "error_type",
        "finish_reason",
        "scheduler_decision",
    ):
        row[name] = draw(st.none() | text)
    return row


rows_strategy = st.integers(1, 6).flatmap(lambda n: st.tuples(*[valid_row(i) for i in range(n)])).map(list)


def _expected(row: dict) -> dict:
    return {**row, "arrival_time": row["arrival_time"].astimezone(UTC)}


def _as_json(row: dict, epoch: bool) -> dict:
    out = dict(row)
    t = row["arrival_time"]
    out["arrival_time"] = int(t.timestamp()) if epoch and t.microsecond == 0 else t.isoformat()
    return out


def _as_parquet(rows: list[dict], path: Path) -> None:
    schema = arrow_schema("requests")
    cols = {k: [r[k] for r in rows] for k in rows[0]}
    cols["arrival_time"] = [r["arrival_time"].astimezone(UTC) for r in rows]
    pq.write_table(pa.table({k: pa.array(v, schema.field(k).type) for k, v in cols.items()}), path)


def _assert_same(stored: list[dict], rows: list[dict]) -> None:
    assert len(stored) == len(rows)
    by_id = {r["request_id"]: r for r in stored}
    for row in rows:
        got = by_id[row["request_id"]]
        for k, v in _expected(row).items():
            g = got[k]
            if isinstance(v, float):
                assert g == v or (math.isnan(v) and math.isnan(g)), (k, g, v)  # exact, no tolerance
            else:
                assert g == v, (k, g, v)


@settings(max_examples=examples(25))
@given(rows=rows_strategy, container=st.sampled_from(["jsonl", "jsonl-epoch", "parquet"]))
def test_valid_rows_round_trip_exactly(rows, container):
    count("canonical.round_trip")
    d = _fresh_dir()
    try:
        if container == "parquet":
            p = d / "x.parquet"
            _as_parquet(rows, p)
        else:
            p = d / "x.jsonl"
            p.write_text(
                "".join(
                    json.dumps(_as_json(r, container == "jsonl-epoch"), ensure_ascii=False) + "\n"
                    for r in rows
                ),
                encoding="utf-8",
            )
        store = open_store(d / "store")
        summary = ingest_paths(store, [p], fmt="canonical")
        assert summary.quarantined == 0, store.quarantine().collect().to_dicts()
        _assert_same(store.requests().collect().to_dicts(), rows)
        # ... and out again through `traceana export`, as Parquet and as JSON Lines
        for ext in ("parquet", "jsonl"):
            out = d / f"out.{ext}"
            res = CliRunner().invoke(main, ["export", "--store", str(d / "store"), "--out", str(out)])
            assert res.exit_code == 0, res.output
            back = (
                pl.read_parquet(out)
                if ext == "parquet"
                else pl.read_ndjson(out, schema=store.requests().collect_schema())
            )
            _assert_same(back.to_dicts(), rows)
    finally:
        shutil.rmtree(d)
