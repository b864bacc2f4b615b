"""openinference: Arize Phoenix / OpenInference OTLP JSON spans -> one row per LLM span."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from traceana.ingest.adapters.otel import openinference
from traceana.ingest.base import Source
from traceana.ingest.registry import detect

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "openinference" / "phoenix_langchain_spans.jsonl"


def _spans():
    doc = json.loads(FIX.read_text())
    return [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"] for s in ss["spans"]]


def test_detected_before_the_generic_genai_adapter():
    assert detect(FIX.read_bytes(), FIX).name == "openinference"


def test_llm_spans_only_with_latency_from_span_times():
    res = openinference.read(Source(FIX, FIX.read_bytes()))
    rows = res.requests.to_pylist()
    llm = [
        s
        for s in _spans()
        if {"key": "openinference.span.kind", "value": {"stringValue": "LLM"}} in s["attributes"]
    ]
    assert len(rows) == len(llm) == 2
    for row, span in zip(rows, llm, strict=True):
        assert row["request_id"] == span["spanId"]
        want = (int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])) / 1e9
        assert row["e2e_latency_s"] == pytest.approx(want, abs=1e-9)
    ok, err = rows
    assert (ok["prompt_tokens"], ok["output_tokens"], ok["cached_prompt_tokens"]) == (412, 88, 256)
    assert ok["model"] == "gpt-4o-mini-2024-07-18" and ok["route"] == "openai" and ok["status"] == "ok"
    assert err["status"] == "error" and err["error_type"] == "RateLimitError: Error code: 429"
    assert err["output_tokens"] is None
    assert any("1 non-LLM" in n for n in res.notes)
