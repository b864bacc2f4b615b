"""Replay readers against the real samples and hand-made files, read independently with the csv/json modules."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime

import numpy as np
import pyarrow.parquet as pq
import pytest

from traceana.errors import TraceParseError
from traceana.simulate.fleet import demo_fleet
from traceana.simulate.replay import detect_format, read_arrivals
from traceana.simulate.tables import simulate

from .conftest import ROOT

AZURE = ROOT.parent / "shared" / "formats" / "samples" / "azure" / "AzureLLMInferenceTrace_code.csv"
MOONCAKE = ROOT.parent / "shared" / "formats" / "samples" / "mooncake" / "synthetic_trace.jsonl"


@pytest.mark.skipif(not AZURE.is_file(), reason="shared Azure sample not present")
def test_azure_sample_replays():
    a = read_arrivals(AZURE)
    with AZURE.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(a) == len(rows) == 8819
    assert a.prompt_tokens.sum() == sum(int(r["ContextTokens"]) for r in rows)
    first = datetime.fromisoformat(rows[0]["TIMESTAMP"][:26]).replace(tzinfo=UTC)  # 7 digits -> microseconds
    assert a.t0_epoch_s + a.t_s[0] == pytest.approx(first.timestamp(), abs=1e-6)
    assert detect_format(AZURE) == "azure"
    out = simulate(a, demo_fleet().replicated(2), np.random.default_rng(0))
    assert out.requests.num_rows == 8819
    assert out.requests.column("prompt_tokens").to_pylist() == a.prompt_tokens.tolist()


@pytest.mark.skipif(not MOONCAKE.is_file(), reason="shared Mooncake sample not present")
def test_mooncake_sample_times_are_milliseconds():
    a = read_arrivals(MOONCAKE)
    recs = [json.loads(line) for line in MOONCAKE.read_text().splitlines()]
    assert len(a) == len(recs)
    assert a.duration_s == pytest.approx((recs[-1]["timestamp"] - recs[0]["timestamp"]) / 1000.0)
    assert a.t0_epoch_s == 1704067200.0  # relative trace anchored at 2024-01-01T00:00:00Z


def test_burstgpt_and_canonical(tmp_path, day):
    p = tmp_path / "burst.csv"
    p.write_text(
        "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
        "5,ChatGPT,100,20,120,Conversation log\n0,GPT-4,300,0,300,API log\n2.5,ChatGPT,50,7,57,Conversation log\n"
    )
    a = read_arrivals(p)
    assert a.t_s.tolist() == [0.0, 2.5, 5.0]
    assert a.prompt_tokens.tolist() == [300, 50, 100]
    assert a.output_tokens.tolist() == [
        1,
        7,
        20,
    ]  # a failed (0-token) response still generates one when replayed
    assert [a.models[m] for m in a.model] == ["GPT-4", "ChatGPT", "ChatGPT"]

    q = tmp_path / "req.parquet"
    pq.write_table(day.requests.slice(0, 500), q)
    b = read_arrivals(q)
    assert len(b) == 500
    assert b.prompt_tokens.tolist() == day.requests.column("prompt_tokens").to_pylist()[:500]
    assert set(b.models) <= {"llama-3.1-8b", "llama-3.1-70b"}


def test_unreadable_files_raise(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("hello\n")
    with pytest.raises(TraceParseError, match="cannot tell"):
        read_arrivals(p)
    with pytest.raises(TraceParseError, match="not a valid azure"):
        read_arrivals(p, "azure")
    with pytest.raises(TraceParseError, match="no such file"):
        read_arrivals(tmp_path / "missing.csv")
