"""Arrival-only traces: Azure LLM inference CSV, Mooncake JSONL, BurstGPT CSV.

Samples: ../shared/formats/samples/azure (Azure/AzurePublicDataset @ b469a113, CC-BY-4.0) and
samples/mooncake (kvcache-ai/Mooncake @ 3b5a5941, Apache-2.0); BurstGPT excerpt in tests/data
(see tests/data/PROVENANCE-adapters-e.md).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from traceana.errors import TraceParseError
from traceana.ingest import registry
from traceana.ingest.adapters.traces import azure, burstgpt, mooncake
from traceana.ingest.base import Source
from traceana.schema import conform

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "formats" / "samples"
AZURE = SAMPLES / "azure" / "AzureLLMInferenceTrace_code.csv"
MOONCAKE = SAMPLES / "mooncake" / "synthetic_trace.jsonl"
BURST = Path(__file__).resolve().parents[1] / "data" / "burstgpt_excerpt.csv"
UTC = UTC
ANCHOR = datetime(2000, 1, 1, tzinfo=UTC)
needs_shared = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/formats missing")
LATENCY = ("ttft_s", "tpot_s", "e2e_latency_s", "queue_time_s", "prefill_time_s", "decode_time_s")


def read(adapter, path: Path, data: bytes | None = None):
    res = adapter.read(Source(path, path.read_bytes() if data is None else data))
    return res, conform(res.requests, "requests")


@needs_shared
def test_azure_sample_every_row_and_pinned_first_row():
    assert registry.detect(AZURE.read_bytes()[:65536], AZURE).name == "azure"
    res, t = read(azure.ADAPTER, AZURE)
    with AZURE.open(newline="") as f:
        n = sum(1 for _ in csv.DictReader(f))
    assert n == 8819 and t.num_rows == n and res.quarantine == []
    r = t.slice(0, 1).to_pylist()[0]
    # line 2: 2023-11-16 18:17:03.9799600,4808,10
    assert r["request_id"] == "AzureLLMInferenceTrace_code#2" and r["source_line"] == 2
    assert r["arrival_time"] == datetime(2023, 11, 16, 18, 17, 3, 979960, tzinfo=UTC)
    assert (r["prompt_tokens"], r["output_tokens"], r["status"]) == (4808, 10, "ok")
    assert r["derived_fields"] == "status"
    assert all(t.column(c).null_count == n for c in LATENCY)
    last = t.slice(n - 1, 1).to_pylist()[0]
    assert last["source_line"] == n + 1


def test_azure_seven_digit_fractions_and_quarantine():
    data = (
        b"TIMESTAMP,ContextTokens,GeneratedTokens\n"
        b"2023-11-16 18:17:04.0319605,3180,8\n"
        b"2023-11-16 18:17:04.0319604,abc,8\n"
        b"\n"
        b"yesterday,10,1\n"
        b"2023-11-16 18:17:05,12,\n"
        b"2023-11-16 18:17:06.5,7,3\n"
    )
    res, t = read(azure.ADAPTER, Path("AzureLLMInferenceTrace_conv.csv"), data)
    got = t.to_pylist()
    # .0319605 s = 31960.5 us -> rounded to 31961 us; .5 s -> 500000 us
    assert [r["arrival_time"].microsecond for r in got] == [31961, 500000]
    assert [r["source_line"] for r in got] == [2, 7]
    assert sorted((q.line, q.field) for q in res.quarantine) == [
        (3, "prompt_tokens"),
        (5, "arrival_time"),
        (6, "output_tokens"),
    ]
    assert t.num_rows + len(res.quarantine) == 5  # five non-blank data lines


def test_azure_wrong_columns_is_a_clear_error():
    with pytest.raises(TraceParseError, match="columns not found"):
        azure.read(Source(Path("x.csv"), b"TIMESTAMP,Foo\n2023-11-16 18:17:04,1\n"))


@needs_shared
def test_mooncake_sample_every_row_and_pinned_row():
    assert registry.detect(MOONCAKE.read_bytes()[:65536], MOONCAKE).name == "mooncake"
    res, t = read(mooncake.ADAPTER, MOONCAKE)
    n = sum(1 for line in MOONCAKE.read_text().splitlines() if line.strip())
    assert n == 3993 and t.num_rows == n and res.quarantine == []
    r = t.slice(2, 1).to_pylist()[0]
    # line 3: {"timestamp": 40, "input_length": 23769, "output_length": 3, ...}
    assert r["source_line"] == 3 and r["request_id"] == "synthetic_trace#3"
    assert r["arrival_time"] == ANCHOR + timedelta(milliseconds=40)
    assert (r["prompt_tokens"], r["output_tokens"]) == (23769, 3)
    assert any("no absolute clock" in note for note in res.notes)
    assert all(t.column(c).null_count == n for c in LATENCY)


def test_mooncake_bad_lines_found_by_line_number():
    data = (
        b'{"timestamp": 0, "input_length": 10, "output_length": 2, "hash_ids": [1]}\n'
        b'{"timestamp": 12.5, "input_length": 11, "output_length": 3}\n'
        b"\n"
        b'{"timestamp": "later", "input_length": 12, "output_length": 4}\n'
        b'{"timestamp": 30, "input_length": 13\n'
        b'{"timestamp": 40, "input_length": 14.5, "output_length": 4}\n'
    )
    res, t = read(mooncake.ADAPTER, Path("trace.jsonl"), data)
    got = t.to_pylist()
    assert [r["source_line"] for r in got] == [1, 2]
    assert got[1]["arrival_time"] == ANCHOR + timedelta(microseconds=12500)
    assert sorted((q.line, q.field) for q in res.quarantine) == [
        (4, "arrival_time"),
        (5, None),
        (6, "prompt_tokens"),
    ]


def test_burstgpt_excerpt_rows_and_failures():
    assert registry.detect(BURST.read_bytes(), BURST).name == "burstgpt"
    res, t = read(burstgpt.ADAPTER, BURST)
    got = t.to_pylist()
    assert len(got) == 5 and res.quarantine == []
    r = got[1]
    # line 3: 45,ChatGPT,1087,230,1317,Conversation log
    assert r["request_id"] == "burstgpt_excerpt#3" and r["source_line"] == 3
    assert r["arrival_time"] == ANCHOR + timedelta(seconds=45)
    assert (r["prompt_tokens"], r["output_tokens"], r["model"], r["route"]) == (
        1087,
        230,
        "ChatGPT",
        "Conversation log",
    )
    assert r["status"] == "ok" and r["error_type"] is None
    failed = got[3]  # line 5: Response tokens 0 = a failure per the BurstGPT README
    assert (failed["status"], failed["error_type"], failed["output_tokens"]) == (
        "error",
        "zero_response_tokens",
        0,
    )
    assert got[4]["route"] == "API log" and got[2]["model"] == "GPT-4"


def test_burstgpt_quoted_and_ragged_rows_use_the_line_reader():
    data = (
        b"Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
        b'5,"ChatGPT",472,18,490,Conversation log\n'
        b"6,ChatGPT,1,2\n"
        b"7,GPT-4,x,2,3,API log\n"
        b"8,GPT-4,4,2,6,API log\n"
    )
    res, t = read(burstgpt.ADAPTER, Path("BurstGPT_1.csv"), data)
    assert [r["source_line"] for r in t.to_pylist()] == [2, 5]
    assert sorted((q.line, q.field) for q in res.quarantine) == [(3, None), (4, "prompt_tokens")]


def test_unquoted_ragged_and_empty_rows_are_quarantined_not_dropped():
    data = b"TIMESTAMP,ContextTokens,GeneratedTokens\r\n2023-11-16 18:17:04,1,2\r\n2023-11-16 18:17:05,3\r\n,,\r\n\r\n2023-11-16 18:17:06,5,6\r\n"
    res, t = read(azure.ADAPTER, Path("AzureLLMInferenceTrace_conv.csv"), data)
    assert [r["source_line"] for r in t.to_pylist()] == [2, 6]
    assert sorted((q.line, q.field) for q in res.quarantine) == [(3, None), (4, "arrival_time")]


# --- fuzz findings (tests/fuzz): out-of-range numbers and compression magic are rows, not crashes


def test_burstgpt_out_of_range_timestamps_are_quarantined_per_row():
    data = (
        b"Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
        b"1e34,ChatGPT,472,18,490,Conversation log\n"
        b"NaN,ChatGPT,1,2,3,Conversation log\n"
        b"inf,ChatGPT,1,2,3,Conversation log\n"
        b"2.5,GPT-4,4,2,6,API log\n"
        b"-inf,ChatGPT,1,2,3,Conversation log\n"
    )
    res, t = read(burstgpt.ADAPTER, Path("BurstGPT_1.csv"), data)
    got = t.to_pylist()
    assert [r["source_line"] for r in got] == [5]
    assert got[0]["arrival_time"] == ANCHOR + timedelta(seconds=2.5)
    q = sorted(res.quarantine, key=lambda r: r.line)
    assert [(r.line, r.field) for r in q] == [
        (2, "arrival_time"),
        (3, "arrival_time"),
        (4, "arrival_time"),
        (6, "arrival_time"),
    ]
    assert "1e+34" in q[0].reason and "nan" in q[1].reason and "-inf" in q[3].reason


@pytest.mark.parametrize("magic", [b"\x28\xb5\x2f\xfd", b"\x1f\x8b", b"x^"])
def test_csv_starting_with_compression_magic_is_read_as_text(magic):
    # polars would decompress such bytes itself (OSError "incomplete frame"); the file is text here
    data = magic + b"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:04,1,2\n"
    with pytest.raises(TraceParseError) as err:  # the first column is not TIMESTAMP any more
        read(azure.ADAPTER, Path("AzureLLMInferenceTrace_conv.csv"), data)
    assert "AzureLLMInferenceTrace_conv.csv" in str(err.value) and "columns not found" in str(err.value)


def test_burstgpt_header_starting_like_zlib_is_still_csv():
    # b"x^" is zlib's magic to polars; a header may well start with it
    data = b"x^,Timestamp,Model,Request tokens,Response tokens\n1,3,ChatGPT,10,20\n"
    res, t = read(burstgpt.ADAPTER, Path("BurstGPT_x.csv"), data)
    r = t.to_pylist()[0]
    assert (r["arrival_time"], r["prompt_tokens"], r["output_tokens"]) == (
        ANCHOR + timedelta(seconds=3),
        10,
        20,
    )
    assert res.quarantine == []
