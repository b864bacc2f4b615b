"""vllm_otlp and otel_genai: OTLP JSON spans -> canonical request rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from traceana.errors import TraceanaError, TraceParseError
from traceana.ingest.adapters.otel import otel_genai, vllm_otlp
from traceana.ingest.base import Source
from traceana.ingest.registry import detect
from traceana.schema import conform

DATA = Path(__file__).resolve().parent.parent / "data" / "otlp"
EXAMPLES = Path("/work/shared/formats/examples")


def read(mod, path: Path):
    return mod.ADAPTER.read(Source(path, path.read_bytes()))


def rows_by_id(table: pa.Table) -> dict[str, dict]:
    return {r["request_id"]: r for r in table.to_pylist()}


# --- vLLM V1 (collector file exporter: one ExportTraceServiceRequest per line) -------------


def test_vllm_v1_pinned_row():
    res = read(vllm_otlp, DATA / "vllm_v1_collector.jsonl")
    r = rows_by_id(res.requests)["chatcmpl-a1"]
    arrival = datetime(2025, 10, 9, 8, 53, 20, 123456, tzinfo=UTC)  # 1760000000123456789 ns, truncated to us
    assert r["arrival_time"] == arrival
    # V1: scheduled = arrival + (ttft - prefill) = arrival + (0.25 - 0.2)
    assert r["scheduled_time"] == arrival + timedelta(microseconds=50_000)
    assert r["queue_time_s"] == 0.01
    assert r["ttft_s"] == 0.25
    assert r["e2e_latency_s"] == 1.75
    assert r["prefill_time_s"] == 0.2
    assert r["decode_time_s"] == 1.5
    assert (r["prompt_tokens"], r["output_tokens"], r["cached_prompt_tokens"]) == (512, 101, None)
    assert r["tpot_s"] == pytest.approx((1.75 - 0.25) / 100, abs=1e-15)
    assert r["instance"] == "gpu-node-7"  # resource host.name (no service.instance.id)
    assert r["model"] == "vllm-llama"  # V1 has no gen_ai.response.model: resource service.name
    assert (r["status"], r["error_type"], r["finish_reason"]) == ("ok", None, None)
    assert r["derived_fields"] == "scheduled_time,tpot_s"
    assert (r["source_format"], r["source_line"]) == ("vllm_otlp", 1)


def test_vllm_v1_status_finish_and_cached_tokens():
    rows = rows_by_id(read(vllm_otlp, DATA / "vllm_v1_collector.jsonl").requests)
    a2 = rows["chatcmpl-a2"]
    assert (a2["cached_prompt_tokens"], a2["finish_reason"], a2["status"]) == (48, "stop", "ok")
    assert a2["tpot_s"] is None and a2["derived_fields"] == "scheduled_time"  # one output token: no TPOT
    a3 = rows["chatcmpl-a3"]
    assert (a3["status"], a3["finish_reason"]) == ("cancelled", "abort")
    # ttft - prefill = 0.35 s, not time_in_queue (0.3 s, measured from the engine core's queue entry)
    assert a3["scheduled_time"] - a3["arrival_time"] == timedelta(milliseconds=350)
    a4 = rows["chatcmpl-a4"]
    assert (a4["status"], a4["error_type"]) == ("error", "EngineDeadError: engine core died")


def test_vllm_v1_quarantine_and_counts():
    res = read(vllm_otlp, DATA / "vllm_v1_collector.jsonl")
    q = sorted((x.line, x.field) for x in res.quarantine)
    assert q == [(3, None), (5, "startTimeUnixNano"), (7, "gen_ai.usage.completion_tokens")]
    assert all(x.raw for x in res.quarantine)
    assert res.requests.num_rows == 4
    assert res.records_read == res.requests.num_rows + len(res.quarantine) == 7
    assert any("1 spans" in n and "skipped" in n for n in res.notes)  # the HTTP parent span
    conform(res.requests, "requests")


# --- vLLM V0 (one pretty-printed document) -------------------------------------------------


def test_vllm_v0_single_document():
    res = read(vllm_otlp, DATA / "vllm_v0_single_document.json")
    assert res.quarantine == []
    rows = rows_by_id(res.requests)
    r = rows["cmpl-0a"]
    arrival = datetime(2025, 1, 30, 6, 8, 55, tzinfo=UTC)  # 1738217335 s
    assert r["arrival_time"] == arrival
    assert r["scheduled_time"] == arrival + timedelta(microseconds=31_250)  # V0: arrival + time_in_queue
    assert (r["queue_time_s"], r["ttft_s"], r["e2e_latency_s"]) == (0.03125, 0.0625, 1.5625)
    assert r["prefill_time_s"] is None and r["decode_time_s"] is None  # V1-only attributes
    assert r["tpot_s"] == (1.5625 - 0.0625) / 32
    assert r["model"] == "Qwen/Qwen2.5-Coder-1.5B-Instruct"  # gen_ai.response.model
    assert r["instance"] == "replica-3"  # service.instance.id beats service.name
    assert (r["status"], r["source_line"]) == ("ok", 1)
    assert rows["cmpl-0b"]["source_line"] == 2  # span ordinal in a single document


def test_numbers_instead_of_strings_and_status_names():
    span = {
        "traceId": "ab",
        "spanId": "cd",
        "name": "llm_request",
        "kind": 2,
        "startTimeUnixNano": 1544712660000000000,
        "endTimeUnixNano": 1544712661000000000,
        "attributes": [
            {"key": "gen_ai.request.id", "value": {"stringValue": "r1"}},
            {"key": "gen_ai.usage.completion_tokens", "value": {"intValue": 3}},
            {"key": "gen_ai.latency.e2e", "value": {"doubleValue": 1}},
            {"key": "error.type", "value": {"stringValue": "ValueError"}},
        ],
        "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
    }
    doc = json.dumps({"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [span]}]}]}).encode()
    res = vllm_otlp.read(Source(Path("x.json"), doc))
    r = res.requests.to_pylist()[0]
    assert r["arrival_time"] == datetime(2018, 12, 13, 14, 51, tzinfo=UTC)
    assert (r["output_tokens"], r["e2e_latency_s"], r["status"], r["error_type"]) == (
        3,
        1.0,
        "error",
        "ValueError",
    )
    assert r["instance"] is None and r["model"] is None and r["scheduled_time"] is None


def _doc(*spans) -> bytes:
    """One pretty-printed document: records are numbered by span (1-based)."""
    doc = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": list(spans)}]}]}
    return json.dumps(doc, indent=1).encode()


def _vllm_span(span_id, **attrs) -> dict:
    kv = [{"key": "gen_ai.latency.e2e", "value": {"doubleValue": 1.5}}]
    kv += [{"key": k.replace("__", "."), "value": v} for k, v in attrs.items()]
    return {
        "spanId": span_id,
        "name": "llm_request",
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": "1544712661500000000",
        "attributes": kv,
    }


def test_vllm_numeric_span_id_becomes_a_string():
    # fuzz finding: a numeric spanId reached pyarrow as an int (ArrowTypeError)
    res = vllm_otlp.read(Source(Path("x.json"), _doc(_vllm_span(1), _vllm_span(True))))
    assert [r["request_id"] for r in res.requests.to_pylist()] == ["1"]
    assert [(q.line, q.field) for q in res.quarantine] == [(2, "spanId")]


def test_vllm_out_of_range_numbers_are_quarantined_per_span():
    huge = _vllm_span("a", gen_ai__usage__completion_tokens={"intValue": str(2**64)})
    inf = _vllm_span("b", gen_ai__latency__time_to_first_token={"doubleValue": "Infinity"})
    late = _vllm_span("c")
    late["startTimeUnixNano"] = str(10**22)
    array = _vllm_span("d", gen_ai__request__model={"arrayValue": 5})
    far = _vllm_span("e", gen_ai__latency__time_in_queue={"doubleValue": 1e300})
    # -9.2e12 s fits int64 microseconds but not polars' datetimes (validation panicked on it)
    past = _vllm_span("p", gen_ai__latency__time_in_queue={"doubleValue": -9.2e12})
    res = vllm_otlp.read(Source(Path("x.json"), _doc(huge, inf, late, array, far, _vllm_span("f"), past)))
    q = [(q.line, q.field) for q in res.quarantine]
    assert q == [
        (1, "gen_ai.usage.completion_tokens"),
        (2, "gen_ai.latency.time_to_first_token"),
        (3, "startTimeUnixNano"),
        (4, "gen_ai.request.model"),
    ]
    e, f, p = res.requests.to_pylist()
    assert (p["scheduled_time"], p["derived_fields"]) == (None, None)
    # a queue time of 1e300 s puts scheduled_time outside timestamp[us]: left unknown, not derived
    assert (e["request_id"], e["queue_time_s"], e["scheduled_time"], e["derived_fields"]) == (
        "e",
        1e300,
        None,
        None,
    )
    assert f["e2e_latency_s"] == 1.5 and res.records_read == 7


def test_broken_single_document_is_a_parse_error():
    with pytest.raises(TraceParseError, match="not an OTLP JSON document"):
        vllm_otlp.read(Source(Path("x.json"), b'{\n "resourceSpans": [\n'))


# --- OTel GenAI semantic conventions ------------------------------------------------------


def test_otel_genai_pinned_row():
    res = read(otel_genai, DATA / "otel_genai_spans.jsonl")
    r = rows_by_id(res.requests)["chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"]
    assert r["arrival_time"] == datetime(2025, 10, 9, 8, 55, tzinfo=UTC)  # 1760000100 s
    assert r["e2e_latency_s"] == 2.375  # end - start: 2 375 000 000 ns
    assert r["ttft_s"] == 0.375  # gen_ai.response.time_to_first_chunk
    assert r["tpot_s"] == (2.375 - 0.375) / 80
    assert (r["prompt_tokens"], r["output_tokens"], r["cached_prompt_tokens"]) == (1200, 81, 1024)
    assert r["model"] == "gpt-4o-mini-2024-07-18"  # response model beats request model
    assert r["instance"] == "api.openai.com:443"
    assert (r["status"], r["error_type"], r["finish_reason"]) == ("ok", None, "stop")
    assert (r["derived_fields"], r["source_format"], r["source_line"]) == ("tpot_s", "otel_genai", 1)


def test_otel_genai_old_names_errors_and_quarantine():
    res = read(otel_genai, DATA / "otel_genai_spans.jsonl")
    rows = rows_by_id(res.requests)
    old = rows["4444444444444444"]  # no gen_ai.response.id: the spanId
    assert (old["prompt_tokens"], old["output_tokens"], old["ttft_s"], old["tpot_s"]) == (50, 20, None, None)
    assert (old["instance"], old["model"]) == ("vllm.internal", "llama-3.1-8b")
    err = rows["5555555555555555"]
    assert (err["status"], err["error_type"], err["e2e_latency_s"]) == ("error", "RateLimitError", 0.25)
    assert sorted((q.line, q.field) for q in res.quarantine) == [(4, None), (5, "gen_ai.usage.input_tokens")]
    assert res.requests.num_rows == 3 and res.records_read == 5
    assert any("2 spans" in n for n in res.notes)  # invoke_agent and execute_tool
    conform(res.requests, "requests")


def test_otel_genai_non_string_operation_name_is_quarantined():
    # fuzz finding: an arrayValue gen_ai.operation.name crashed the agent-span test (unhashable list)
    def span(span_id, op):
        return {
            "spanId": span_id,
            "startTimeUnixNano": "1760000100000000000",
            "endTimeUnixNano": "1760000101000000000",
            "attributes": [
                {"key": "gen_ai.operation.name", "value": op},
                {"key": "gen_ai.request.model", "value": {"stringValue": "m"}},
            ],
        }

    arr = {"arrayValue": {"values": [{"stringValue": "chat"}]}}
    doc = _doc(
        span("a1", arr), span("b2", {"stringValue": "chat"}), span("c3", {"stringValue": "execute_tool"})
    )
    res = otel_genai.read(Source(Path("x.jsonl"), doc))
    assert [r["request_id"] for r in res.requests.to_pylist()] == ["b2"]
    assert [(q.line, q.field) for q in res.quarantine] == [(1, "gen_ai.operation.name")]
    assert "chat" in res.quarantine[0].reason and res.records_read == 2


def test_otel_genai_reads_a_plain_otlp_example_with_no_model_calls():
    res = read(otel_genai, EXAMPLES / "otlp_trace_proto_example.json")
    assert res.requests.num_rows == 0 and res.quarantine == []
    assert any("no GenAI model-call span" in n for n in res.notes)


# --- detection ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("vllm_v1_collector.jsonl", "vllm_otlp"),
        ("vllm_v0_single_document.json", "vllm_otlp"),
        ("otel_genai_spans.jsonl", "otel_genai"),
    ],
)
def test_detect_picks_the_span_adapters(name, expected):
    path = DATA / name
    assert detect(path.read_bytes()[:65536], path).name == expected


def test_sniffers_refuse_other_json():
    head = b'{"date": "20260722-060114", "ttfts": [0.1], "itls": [[0.1]]}'
    assert not vllm_otlp.sniff(head, Path("x.json"))
    assert not otel_genai.sniff(head, Path("x.json"))


# --- hostile input: a result or a TraceanaError, never a crash -------------------------------

_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 2**64),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.sampled_from(["0", "+Inf", "NaN", "llm_request", "1760000000000000000", "success", "matrix"]),
)
_keys = st.sampled_from(
    "resourceSpans resource attributes scopeSpans spans key value stringValue intValue doubleValue arrayValue "
    "values startTimeUnixNano endTimeUnixNano status code name spanId gen_ai.request.id gen_ai.latency.e2e "
    "gen_ai.request.model data result resultType metric __name__ date duration ttfts itls input_lens "
    "output_lens errors start_times latencies".split()
)
_json = st.recursive(
    _leaf, lambda c: st.one_of(st.lists(c, max_size=4), st.dictionaries(_keys, c, max_size=5)), max_leaves=25
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(_json, st.booleans())
def test_hostile_json_gives_a_result_or_a_traceana_error(doc, as_lines):
    from traceana.ingest.adapters.bench import vllm_bench
    from traceana.ingest.adapters.prometheus import prometheus_range

    data = (json.dumps(doc) + "\n" + json.dumps(doc)) if as_lines else json.dumps(doc, indent=1)
    for mod in (vllm_otlp, otel_genai, prometheus_range, vllm_bench):
        try:
            res = mod.read(Source(Path("x.json"), data.encode()))
        except TraceanaError:
            continue
        assert res.records_read is not None
