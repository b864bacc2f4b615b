"""Canonical files in every container: JSONL, CSV, Parquet, gzip and zstd; broken lines quarantined."""

from __future__ import annotations

import gzip
import json

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from traceana.errors import TraceParseError
from traceana.ingest import read_file
from traceana.ingest.base import Limits

ROWS = [
    {
        "request_id": f"r{i}",
        "arrival_time": f"2025-03-01T12:00:{i:02d}Z",
        "ttft_s": 0.1 * i,
        "e2e_latency_s": 1.0 + i,
        "status": "ok",
    }
    for i in range(5)
]


def _jsonl(rows) -> bytes:
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def _check(tables, n=5):
    t = tables["requests"]
    assert t.num_rows == n
    assert t.column("request_id").to_pylist() == [f"r{i}" for i in range(n)]
    assert t.column("ttft_s").to_pylist() == pytest.approx([0.1 * i for i in range(n)])


@pytest.mark.parametrize("container", ["plain", "gzip", "zstd"])
def test_jsonl_in_every_container(tmp_path, container):
    data = _jsonl(ROWS)
    path = tmp_path / "t.jsonl"
    if container == "gzip":
        data = gzip.compress(data)
    elif container == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    tables, q, rep = read_file(path)
    _check(tables)
    assert q.num_rows == 0 and rep.adapter == "canonical"


def test_csv_with_bom_and_crlf(tmp_path):
    df = pl.DataFrame(ROWS)
    text = df.write_csv().replace("\n", "\r\n")
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    tables, q, _ = read_file(path)
    _check(tables)
    assert tables["requests"].column("source_line").to_pylist() == [2, 3, 4, 5, 6]


def test_parquet_typed(tmp_path):
    t = pa.table(
        {
            "request_id": [r["request_id"] for r in ROWS],
            "arrival_time": pa.array(
                [1740830400_000000 + i * 1_000_000 for i in range(5)], pa.timestamp("us", tz="UTC")
            ),
            "ttft_s": [r["ttft_s"] for r in ROWS],
            "e2e_latency_s": [r["e2e_latency_s"] for r in ROWS],
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(t, path)
    tables, q, _ = read_file(path)
    _check(tables)
    assert tables["requests"].column("source_line").to_pylist() == [1, 2, 3, 4, 5]


def test_blank_lines_keep_line_numbers(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\n" + _jsonl(ROWS[:2]).replace(b"\n", b"\n\n  \n"))
    tables, q, _ = read_file(path)
    assert tables["requests"].column("source_line").to_pylist() == [2, 5]


def test_truncated_last_line_is_quarantined_others_kept(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(_jsonl(ROWS) + b'{"request_id": "r5", "arrival')
    tables, q, rep = read_file(path)
    _check(tables)
    assert rep.records_read == 6
    (row,) = q.to_pylist()
    assert row["source_line"] == 6 and "invalid JSON" in row["reason"]


def test_invalid_utf8_line_is_quarantined(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(
        _jsonl(ROWS[:2]) + b'{"request_id": "\xff\xfe", "arrival_time": "2025-03-01T12:00:00Z"}\n'
    )
    tables, q, _ = read_file(path)
    assert tables["requests"].num_rows == 2
    assert q.to_pylist()[0]["source_line"] == 3


def test_deep_nesting_is_quarantined_not_a_crash(tmp_path):
    path = tmp_path / "t.jsonl"
    deep = "[" * 100_000 + "]" * 100_000
    path.write_bytes(_jsonl(ROWS[:1]) + f'{{"request_id": "x", "arrival_time": {deep}}}\n'.encode())
    tables, q, _ = read_file(path, limits=Limits(max_json_depth=64))
    assert tables["requests"].num_rows == 1
    assert "nested deeper" in q.to_pylist()[0]["reason"]


def test_gzip_bomb_refused(tmp_path):
    path = tmp_path / "bomb.jsonl.gz"
    path.write_bytes(gzip.compress(b" " * (20 << 20)))
    with pytest.raises(TraceParseError, match="decompresses past the limit"):
        read_file(path, limits=Limits(max_decompressed_bytes=1 << 20))


def test_cut_gzip_refused(tmp_path):
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl(ROWS))[:-12])
    with pytest.raises(TraceParseError, match="truncated gzip"):
        read_file(path)


def test_unknown_format_lists_supported(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("hello world\n")
    with pytest.raises(TraceParseError, match="Supported formats: .*canonical"):
        read_file(path)


def test_bad_rows_spread_over_a_multi_chunk_read(tmp_path):
    # polars' JSON reader returns several chunks here; list ops on them panicked before a rechunk
    path = tmp_path / "t.jsonl"
    rows = [
        {
            "request_id": f"r{i}",
            "arrival_time": 1740830400 + i * 7.0,
            "ttft_s": -1.0 if i % 1000 == 999 else 0.1,
            "e2e_latency_s": 0.5,
        }
        for i in range(5000)
    ]
    path.write_bytes(_jsonl(rows))
    tables, q, rep = read_file(path)
    assert tables["requests"].num_rows == 4995
    assert sorted(q.column("source_line").to_pylist()) == [1000, 2000, 3000, 4000, 5000]
