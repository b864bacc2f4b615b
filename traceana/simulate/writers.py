"""Deterministic file writers: canonical Parquet / JSONL, an Azure-format arrival CSV.

Every writer produces the same bytes for the same table (fixed compression,
row-group size and float formatting), which is what lets ``scripts/make_samples.py``
regenerate ``sample_traces/`` bit-identically.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 9, "row_group_size": 1 << 20}


def write_parquet(table: pa.Table, path: Path) -> Path:
    """Write ``table`` as Parquet with fixed options (zstd 9, one row group per 1M rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **PARQUET_OPTIONS)
    return path


def iso_us(us: int) -> str:
    """Epoch microseconds as RFC 3339 with microseconds and a Z."""
    return (_EPOCH + timedelta(microseconds=int(us))).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_records(table: pa.Table) -> list[dict]:
    """Rows of a canonical requests table as JSON-ready dicts (timestamps as RFC 3339)."""
    skip = {"source_format", "source_file", "source_line", "derived_fields", "itl_s"}
    names = [n for n in table.column_names if n not in skip]
    cols = {}
    for n in names:
        col = table.column(n)
        if pa.types.is_timestamp(col.type):
            us = col.cast(pa.int64()).to_pylist()
            cols[n] = [None if v is None else iso_us(v) for v in us]
        else:
            cols[n] = col.to_pylist()
    return [{n: cols[n][i] for n in names} for i in range(table.num_rows)]


def write_jsonl(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    return path


#: the rows injected into the bad-rows sample: (what is wrong, how the row is changed)
BAD_ROWS = (
    ("negative duration", {"queue_time_s": -0.25}),
    ("ttft greater than e2e", "ttft_gt_e2e"),
    ("unknown status", {"status": "succeeded"}),
    ("missing request_id", "drop_request_id"),
    ("arrival in 1970", {"arrival_time": "1970-01-01T00:00:00.000000Z", "scheduled_time": None}),
    ("non-numeric value", {"prompt_tokens": "twelve"}),
)


def bad_rows_records(
    table: pa.Table, rng: np.random.Generator, good: int = 44
) -> tuple[list[dict], list[tuple[int, str]]]:
    """``good`` ok rows of ``table`` with the BAD_ROWS injected at seeded positions.

    Returns the records and [(1-based line, what is wrong)] of the injected rows.
    """
    recs = canonical_records(table)
    ok = [r for r in recs if r["status"] == "ok" and r["output_tokens"] > 1]
    pick = np.sort(rng.choice(len(ok), good + len(BAD_ROWS), replace=False))
    rows = [dict(ok[i]) for i in pick]
    for row in rows:  # own ids: these rows must not collide with requests.parquet in one store
        row["request_id"] = row["request_id"].replace("chatcmpl-", "chatcmpl-jsonl-", 1)
    positions = np.sort(rng.choice(np.arange(2, len(rows)), len(BAD_ROWS), replace=False))
    where = []
    for (what, change), pos in zip(BAD_ROWS, positions, strict=True):
        row = rows[int(pos)]
        if change == "ttft_gt_e2e":
            row["ttft_s"] = row["e2e_latency_s"] + 1.0
        elif change == "drop_request_id":
            del row["request_id"]
        else:
            row.update(change)
        where.append((int(pos) + 1, what))
    return rows, where


def write_azure_csv(table: pa.Table, path: Path) -> Path:
    """Arrival time and token counts only, in the Azure LLM inference trace layout.

    ``TIMESTAMP,ContextTokens,GeneratedTokens`` with 7 fractional digits, as the
    Azure public dataset writes them (naive, UTC).
    """
    us = table.column("arrival_time").cast(pa.int64()).to_numpy()
    prompt = table.column("prompt_tokens").to_numpy()
    out = table.column("output_tokens").to_numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write("TIMESTAMP,ContextTokens,GeneratedTokens\n")
        for u, p, o in zip(us.tolist(), prompt.tolist(), out.tolist(), strict=True):
            stamp = (_EPOCH + timedelta(microseconds=u)).strftime("%Y-%m-%d %H:%M:%S.%f")
            fh.write(f"{stamp}0,{p},{o}\n")
    return path
