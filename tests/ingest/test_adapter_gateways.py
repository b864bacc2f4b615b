"""LiteLLM and TGI router adapters: pinned rows (hand-computed), detection, quarantine.

Fixtures: ../shared/formats/examples (LiteLLM tests/logging_callback_tests/gcs_pub_sub_body, real TGI log
lines from public docs) and tests/data (see tests/data/PROVENANCE-adapters-e.md).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from traceana.ingest import registry
from traceana.ingest.adapters.gateways import litellm, tgi_json, tgi_text
from traceana.ingest.base import Source
from traceana.schema import conform

FORMATS = Path(__file__).resolve().parents[3] / "shared" / "formats" / "examples"
DATA = Path(__file__).resolve().parents[1] / "data"
UTC = UTC
needs_shared = pytest.mark.skipif(not FORMATS.is_dir(), reason="../shared/formats missing")


def rows(result) -> list[dict]:
    return conform(result.requests, "requests").to_pylist()


def detect(path: Path) -> str:
    return registry.detect(path.read_bytes()[:65536], path).name


# ---------------------------------------------------------------- LiteLLM


@needs_shared
@pytest.mark.parametrize("name", ["litellm_standard_logging_payload.json", "litellm_spend_logs_payload.json"])
def test_litellm_upstream_fixtures(name):
    path = FORMATS / name
    assert detect(path) == "litellm"
    res = litellm.ADAPTER.read(Source(path, path.read_bytes()))
    (r,) = rows(res)
    # startTime '2025-01-24 09:20:46.847371', endTime '... 46.851954' (naive -> UTC, noted)
    assert r["arrival_time"] == datetime(2025, 1, 24, 9, 20, 46, 847371, tzinfo=UTC)
    assert r["e2e_latency_s"] == pytest.approx(0.004583, abs=1e-12)
    assert r["prompt_tokens"] == 10 and r["output_tokens"] == 20 and r["model"] == "gpt-4o"
    assert r["status"] == "ok" and r["route"] is None  # model_group "" is unknown, not a value
    assert any("taken as UTC" in n for n in res.notes)
    if "standard" in name:
        assert r["request_id"] == "chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f"
        assert r["ttft_s"] == pytest.approx(0.004583, abs=1e-12)  # stream true
        assert r["instance"] == "https://api.openai.com"  # hidden_params.api_base
        assert r["finish_reason"] == "stop"
    else:
        assert r["request_id"] == "chatcmpl-2283081b-dc89-41f6-93e6-d4f914774027"
        # SpendLogs has no stream flag and completionStartTime == endTime: no first-token time
        assert r["ttft_s"] is None and r["instance"] is None


def test_litellm_jsonl_streaming_fallback_and_timeout():
    path = DATA / "litellm_payloads.jsonl"
    assert detect(path) == "litellm"
    res = litellm.ADAPTER.read(Source(path, path.read_bytes()))
    a, b, c = rows(res)
    # a: start 1737710446.5, first chunk .75, end 1737710448.25 (epoch s floats), 71 tokens out
    assert a["arrival_time"] == datetime(2025, 1, 24, 9, 20, 46, 500000, tzinfo=UTC)
    assert a["ttft_s"] == 0.25 and a["e2e_latency_s"] == 1.75 and a["decode_time_s"] == 1.5
    assert a["tpot_s"] == pytest.approx(1.5 / 70, rel=1e-12) and a["derived_fields"] == "tpot_s"
    assert a["cached_prompt_tokens"] == 1024 and a["prompt_tokens"] == 1200
    assert (a["model"], a["route"], a["instance"]) == ("gpt-4o-mini", "chat-default", "deploy-mini-eastus")
    assert a["fallback_from"] == "chat-premium" and a["finish_reason"] == "length"
    assert b["status"] == "timeout" and b["error_type"] == "Timeout" and b["e2e_latency_s"] == 60.0
    assert b["ttft_s"] is None  # stream false: completionStartTime = endTime is not a first token
    assert c["status"] == "ok" and c["ttft_s"] is None and c["fallback_from"] is None and c["tpot_s"] is None
    assert [r["source_line"] for r in (a, b, c)] == [1, 2, 3]


def test_litellm_malformed_records_quarantined():
    good = {
        "id": "x1",
        "startTime": 1737710446.0,
        "endTime": 1737710447.0,
        "completionStartTime": 1737710447.0,
        "status": "success",
        "model": "m",
        "call_type": "completion",
    }
    lines = [
        json.dumps(good),
        "{broken",
        json.dumps({**good, "id": "x3", "startTime": "yesterday"}),
        json.dumps({**good, "id": "x4", "status": "maybe"}),
    ]
    res = litellm.read(Source(Path("logs.jsonl"), "\n".join(lines).encode()))
    assert [r["request_id"] for r in rows(res)] == ["x1"]
    assert [(q.line, q.field) for q in res.quarantine] == [(2, None), (3, "startTime"), (4, "status")]


# ---------------------------------------------------------------- TGI


@needs_shared
def test_tgi_text_log_rows():
    path = FORMATS / "tgi_router_success_log.txt"
    assert detect(path) == "tgi_text"
    res = tgi_text.ADAPTER.read(Source(path, path.read_bytes()))
    t = rows(res)
    assert [r["source_line"] for r in t] == [3, 4, 6]
    r = t[0]
    # 2024-02-14T06:49:51.437631Z, total_time 611.286748ms, queue 127.337µs, inference 610.405028ms,
    # time_per_token 43.600359ms -> 610.405028 / 43.600359 = 14.0000 tokens
    assert r["request_id"] == "tgi_router_success_log:3"
    assert r["arrival_time"] == datetime(2024, 2, 14, 6, 49, 50, 826344, tzinfo=UTC)  # .437631 - .611286748
    assert r["scheduled_time"] == datetime(2024, 2, 14, 6, 49, 50, 827226, tzinfo=UTC)  # .437631 - .610405028
    assert r["e2e_latency_s"] == pytest.approx(0.611286748, rel=1e-12)
    assert r["queue_time_s"] == pytest.approx(127.337e-6, rel=1e-12)
    assert r["output_tokens"] == 14 and r["derived_fields"] == "output_tokens"
    assert r["tpot_s"] is None and r["ttft_s"] is None
    assert r["route"] == "generate" and t[2]["route"] == "chat_completions" and r["status"] == "ok"
    # the last Success line has no timestamp: quarantined, not given an invented arrival
    assert [(q.line, q.field) for q in res.quarantine] == [(7, "arrival_time")]
    assert any("3 non-request log line" in n for n in res.notes)
    assert res.records_read == 4


def test_tgi_text_ansi_trace_id_and_malformed():
    ok = (
        "\x1b[2m2024-02-14T06:49:51.437631Z\x1b[0m \x1b[32m INFO\x1b[0m HTTP request{otel.name=POST /generate "
        'trace_id=d6e2778955d17bf523e3dc568754ef3e}:generate{total_time="4.065504959s" validation_time="440.038965ms" '
        'queue_time="94.981µs" inference_time="3.625371193s" time_per_token="38.982485ms" seed="None"}: '
        "text_generation_router::server: router/src/server.rs:402: Success"
    )
    bad = (
        '2024-02-14T06:49:52.000000Z  INFO generate{total_time="lots" queue_time="1ms"}: '
        "text_generation_router::server: router/src/server.rs:402: Success"
    )
    warn = (
        "2024-02-14T06:49:53.000000Z  WARN text_generation_router::infer: router/src/infer.rs:1: overloaded"
    )
    res = tgi_text.read(Source(Path("router.log"), "\n".join([ok, bad, warn]).encode()))
    (r,) = rows(res)
    assert r["request_id"] == "d6e2778955d17bf523e3dc568754ef3e"
    assert r["e2e_latency_s"] == pytest.approx(4.065504959) and r["output_tokens"] == 93
    assert [(q.line, q.field) for q in res.quarantine] == [(2, "total_time")]


def test_tgi_json_log_rows():
    path = DATA / "tgi_router_json_output.jsonl"
    assert detect(path) == "tgi_json"
    res = tgi_json.ADAPTER.read(Source(path, path.read_bytes()))
    a, b = rows(res)
    assert a["request_id"] == "d6e2778955d17bf523e3dc568754ef3e"  # trace_id of the HTTP request span
    assert a["arrival_time"] == datetime(2024, 2, 14, 6, 49, 50, 826344, tzinfo=UTC)
    assert a["e2e_latency_s"] == pytest.approx(0.611286748, rel=1e-12) and a["output_tokens"] == 14
    assert b["request_id"] == "tgi_router_json_output:4" and b["route"] == "chat_completions"
    # 2024-12-10T21:50:03.478010Z - 735.200735ms
    assert b["arrival_time"] == datetime(2024, 12, 10, 21, 50, 2, 742809, tzinfo=UTC)
    assert b["output_tokens"] == 20 and res.quarantine == []
    assert any("2 non-request log event" in n for n in res.notes)


def test_tgi_json_malformed_success_quarantined():
    ev = {
        "timestamp": "2024-02-14T06:49:51.437631Z",
        "level": "INFO",
        "message": "Success",
        "target": "text_generation_router::server",
        "span": {"name": "generate", "total_time": "12 parsecs"},
    }
    lines = [
        json.dumps(ev),
        '{"message": "Success", "target": "text_generation_router::server", "span": {',
        "not json at all",
    ]
    res = tgi_json.read(Source(Path("tgi.jsonl"), "\n".join(lines).encode()))
    assert rows(res) == []
    assert [(q.line, q.field) for q in res.quarantine] == [(1, "total_time"), (2, None)]
    assert res.records_read == 2
