"""AIPerf, GenAI-Perf and LLMPerf adapters: pinned rows, real-sample counts, detection, quarantine.

Samples: ../shared/formats/samples/aiperf (ai-dynamo/aiperf @ 7c31f579 examples/artifacts/run1,
Apache-2.0) and samples/llmperf (ray-project/llmperf-leaderboard @ 27aa9b6a raw_data/individual,
Apache-2.0); fixtures from ../shared/formats/examples (AIPerf docs, genai-perf test fixture).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from traceana.ingest import registry
from traceana.ingest.adapters.bench import aiperf, genai_perf, llmperf
from traceana.ingest.base import Source
from traceana.schema import conform

FORMATS = Path(__file__).resolve().parents[3] / "shared" / "formats"
AIPERF = FORMATS / "samples" / "aiperf" / "profile_export.jsonl"
AIPERF_DOCS = FORMATS / "examples" / "aiperf_profile_export_docs_example.jsonl"
GENAI = FORMATS / "examples" / "genai_perf_profile_export_triton_fixture.json"
LLMPERF = FORMATS / "samples" / "llmperf"
UTC = UTC

needs_shared = pytest.mark.skipif(not FORMATS.is_dir(), reason="../shared/formats missing")


def run(adapter, path: Path, data: bytes | None = None):
    return adapter.read(Source(path, path.read_bytes() if data is None else data))


def rows(result) -> list[dict]:
    """The requests as canonical rows (conform: canonical types, every column present)."""
    return conform(result.requests, "requests").to_pylist()


# ---------------------------------------------------------------- AIPerf


@needs_shared
def test_aiperf_sample_counts_and_detection():
    head = AIPERF.read_bytes()[:65536]
    assert registry.detect(head, AIPERF).name == "aiperf"
    res = run(aiperf.ADAPTER, AIPERF)
    t = rows(res)
    assert len(t) == 100 and res.quarantine == []
    assert sum(r["status"] == "ok" for r in t) == 89
    assert sum(r["status"] == "cancelled" for r in t) == 11
    assert {r["error_type"] for r in t if r["status"] == "cancelled"} == {"RequestCancellationError"}
    assert len({r["request_id"] for r in t}) == 100


@needs_shared
def test_aiperf_pinned_row_line_12():
    # line 12 of the raw file: metadata.timestamp_ns 1759522419159192408, ttft 1680.543782 ms,
    # request_latency 7936.968269 ms, inter_token_latency 32.585544203124996 ms, osl 193 (61 + 132 reasoning),
    # isl 550, first inter_chunk_latency 134.440792 ms
    (r,) = [r for r in rows(run(aiperf.ADAPTER, AIPERF)) if r["source_line"] == 12]
    assert r["request_id"] == "1ed40a0d-e708-434d-bb8e-fb1b44cb8717"
    assert r["arrival_time"] == datetime(2025, 10, 3, 20, 13, 39, 159192, tzinfo=UTC)
    assert r["ttft_s"] == pytest.approx(1.680543782, rel=1e-12)
    assert r["e2e_latency_s"] == pytest.approx(7.936968269, rel=1e-12)
    assert r["tpot_s"] == pytest.approx(0.032585544203124996, rel=1e-12)
    assert r["output_tokens"] == 193  # output_sequence_length, not output_token_count (61)
    assert r["prompt_tokens"] == 550
    assert len(r["itl_s"]) == 192 and r["itl_s"][0] == pytest.approx(0.134440792, rel=1e-12)
    assert r["status"] == "ok" and r["error_type"] is None and r["derived_fields"] is None


@needs_shared
def test_aiperf_percentiles_match_raw_file():
    """p50/p90/p99 over ok requests: raw JSON + numpy vs numpy on the adapter's output."""
    raw = [json.loads(line) for line in AIPERF.read_text().splitlines() if line.strip()]
    ok = [r["metrics"] for r in raw if r["error"] is None]
    assert {m[k]["unit"] for m in ok for k in ("request_latency", "ttft", "inter_token_latency")} == {"ms"}
    by_hand = {
        "e2e": np.array([m["request_latency"]["value"] for m in ok]) / 1000.0,
        "ttft": np.array([m["ttft"]["value"] for m in ok]) / 1000.0,
        "itl": np.array([m["inter_token_latency"]["value"] for m in ok]) / 1000.0,
        "chunks": np.concatenate([m["inter_chunk_latency"]["value"] for m in ok]) / 1000.0,
    }
    t = [r for r in rows(run(aiperf.ADAPTER, AIPERF)) if r["status"] == "ok"]
    ours = {
        "e2e": np.array([r["e2e_latency_s"] for r in t]),
        "ttft": np.array([r["ttft_s"] for r in t]),
        "itl": np.array([r["tpot_s"] for r in t]),
        "chunks": np.concatenate([r["itl_s"] for r in t]),
    }
    for key in by_hand:
        np.testing.assert_allclose(
            np.percentile(ours[key], [50, 90, 99]), np.percentile(by_hand[key], [50, 90, 99]), rtol=1e-12
        )
    # the literal values (seconds), rounded to the ms, as reported in the closing note
    assert np.round(np.percentile(ours["e2e"], [50, 90, 99]), 3).tolist() == [9.097, 9.278, 9.298]
    assert np.round(np.percentile(ours["ttft"], [50, 90, 99]), 3).tolist() == [2.369, 3.797, 3.833]
    assert np.round(np.percentile(ours["itl"] * 1000, [50, 90, 99]), 3).tolist() == [27.615, 32.872, 33.732]


@needs_shared
def test_aiperf_docs_example_duplicate_key_and_cancelled():
    res = run(aiperf.ADAPTER, AIPERF_DOCS)
    a, b = rows(res)
    # the docs example repeats time_to_first_token: 255.886568 ms then 4.898437 ms; the last one is kept
    assert a["ttft_s"] == pytest.approx(0.0048984369999999995, rel=1e-12)
    assert any("time_to_first_token" in n and "last value" in n for n in res.notes)
    assert a["arrival_time"] == datetime.fromtimestamp(1759813207, tz=UTC).replace(microsecond=532900)
    assert a["e2e_latency_s"] == pytest.approx(0.297525228, rel=1e-12)
    assert a["output_tokens"] == 9 and a["prompt_tokens"] == 550
    assert b["status"] == "cancelled" and b["error_type"] == "RequestCancellationError"
    assert b["prompt_tokens"] == 550 and b["e2e_latency_s"] is None


def test_aiperf_malformed_lines_quarantined_with_line_numbers():
    good = {
        "metadata": {"x_request_id": "r1", "request_start_ns": 1759813207532900363},
        "metrics": {
            "time_to_first_token": {"value": 250_000, "unit": "us"},
            "request_latency": {"value": 1.5, "unit": "s"},
            "output_sequence_length": {"value": 11, "unit": "tokens"},
        },
        "error": None,
    }
    bad_unit = json.loads(json.dumps(good))
    bad_unit["metrics"]["request_latency"]["unit"] = "furlongs"
    no_start = {"metadata": {"x_request_id": "r3"}, "metrics": {}, "error": None}
    data = "\n".join([json.dumps(good), "{not json", "", json.dumps(bad_unit), json.dumps(no_start)]).encode()
    res = aiperf.read(Source(Path("x.jsonl"), data))
    (r,) = rows(res)
    assert r["ttft_s"] == 0.25 and r["e2e_latency_s"] == 1.5
    # no inter_token_latency in the record: derived (1.5 - 0.25) / (11 - 1)
    assert r["tpot_s"] == pytest.approx(0.125) and r["derived_fields"] == "tpot_s"
    assert sorted(q.line for q in res.quarantine) == [2, 4, 5]
    assert {q.line: q.field for q in res.quarantine}[4] == "request_latency"
    assert len(rows(res)) + len(res.quarantine) == 4  # four non-blank source lines


# ---------------------------------------------------------------- GenAI-Perf


@needs_shared
def test_genai_perf_fixture_rows_and_detection():
    assert registry.detect(GENAI.read_bytes(), GENAI).name == "genai_perf"
    res = run(genai_perf.ADAPTER, GENAI)
    t = rows(res)
    assert len(t) == 4 and res.quarantine == []
    # request 3 = experiments[1].requests[0]: timestamp 5e6 ns, responses 7e6, 8e6, 13e6, 18e6 ns
    r = t[2]
    assert r["request_id"] == "genai_perf_profile_export_triton_fixture#3"
    assert r["ttft_s"] == pytest.approx(0.002) and r["e2e_latency_s"] == pytest.approx(0.013)
    assert r["itl_s"] == pytest.approx([0.001, 0.005, 0.005])
    # timestamps before 2000 are offsets: anchored at 2000-01-01 + 5 ms, and said so
    assert r["arrival_time"] == datetime(2000, 1, 1, 0, 0, 0, 5000, tzinfo=UTC)
    assert any("no absolute clock" in n for n in res.notes)
    assert r["output_tokens"] is None and r["tpot_s"] is None


def test_genai_perf_openai_usage_and_epoch_timestamps():
    sse = 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'
    last = 'data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5}}\n\ndata: [DONE]\n\n'
    doc = {
        "service_kind": "openai",
        "endpoint": "v1/chat/completions",
        "experiments": [
            {
                "experiment": {"mode": "concurrency", "value": 1},
                "requests": [
                    {
                        "timestamp": 1_700_000_000_000_000_000,
                        "request_inputs": {"payload": json.dumps({"model": "llama-3-8b", "stream": True})},
                        "response_timestamps": [1_700_000_000_100_000_000, 1_700_000_000_500_000_000],
                        "response_outputs": [{"response": sse}, {"response": last}],
                    },
                    {
                        "timestamp": 1_700_000_001_000_000_000,
                        "response_timestamps": [],
                        "response_outputs": [],
                    },
                    {"timestamp": "soon", "response_timestamps": []},
                ],
            }
        ],
    }
    res = genai_perf.read(Source(Path("pa.json"), json.dumps(doc).encode()))
    a, b = rows(res)
    assert a["arrival_time"] == datetime.fromtimestamp(1_700_000_000, tz=UTC)
    assert a["model"] == "llama-3-8b" and a["output_tokens"] == 5 and a["prompt_tokens"] == 12
    assert a["tpot_s"] == pytest.approx((0.5 - 0.1) / 4) and a["derived_fields"] == "tpot_s"
    assert b["status"] == "error" and b["error_type"] == "no_response"
    assert [(q.line, q.field) for q in res.quarantine] == [(3, "timestamp")]


def test_genai_perf_bad_response_timestamps_are_quarantined():
    # fuzz findings: response_timestamps = 5, a null inside it, or numbers past int64 crashed the adapter
    good = {"timestamp": 5_000_000, "response_timestamps": [7_000_000, 8_000_000]}
    reqs = [
        {"timestamp": 1_000_000, "response_timestamps": 5},
        {"timestamp": 1_000_000, "response_timestamps": [2_000_000, None]},
        {"timestamp": 2**70, "response_timestamps": []},
        {"timestamp": 1_000_000, "response_timestamps": [2**64]},
        {"timestamp": 1_000_000, "response_timestamps": [2_000_000], "response_outputs": 7},
        good,
    ]
    doc = {"experiments": [{"requests": reqs}, {"requests": True}]}  # thorough fuzzing: requests = true
    res = genai_perf.read(Source(Path("pa.json"), json.dumps(doc).encode()))
    t = rows(res)
    assert [r["request_id"] for r in t] == ["pa#5", "pa#6"]
    assert t[1]["ttft_s"] == pytest.approx(0.002) and t[1]["e2e_latency_s"] == pytest.approx(0.003)
    q = [(r.line, r.field) for r in res.quarantine]
    assert q == [
        (1, "response_timestamps"),
        (2, "response_timestamps"),
        (3, "timestamp"),
        (4, "response_timestamps"),
        (None, "requests"),
    ]
    assert "5" in res.quarantine[0].reason and str(2**70) in res.quarantine[2].reason


def test_genai_perf_deeply_nested_payload_text_is_not_json():
    # the payload and SSE bodies are JSON inside strings: 100k levels of nesting made json.loads
    # raise RecursionError; such text is now "not JSON" (no model, no usage), the request is kept
    req = {
        "timestamp": 1_000_000,
        "response_timestamps": [3_000_000],
        "request_inputs": {"payload": "[" * 100_000},
        "response_outputs": [{"response": "data: {" + "[" * 100_000}],
    }
    res = genai_perf.read(
        Source(Path("pa.json"), json.dumps({"experiments": [{"requests": [req]}]}).encode())
    )
    (r,) = rows(res)
    assert (r["model"], r["output_tokens"], r["ttft_s"]) == (None, None, pytest.approx(0.002))
    assert res.quarantine == []


# ---------------------------------------------------------------- LLMPerf


@needs_shared
@pytest.mark.parametrize(("name", "failed"), [("anyscale_13b", 0), ("bedrock_13b", 97), ("lepton_7b", 130)])
def test_llmperf_samples_keep_every_request(name, failed):
    path = LLMPERF / f"{name}.json"
    assert registry.detect(path.read_bytes()[:65536], path).name == "llmperf"
    res = run(llmperf.ADAPTER, path)
    t = rows(res)
    assert len(t) == 150 and res.quarantine == []
    assert sum(r["status"] == "error" for r in t) == failed
    assert {r["arrival_time"] for r in t} == {datetime(2000, 1, 1, tzinfo=UTC)}
    assert any("no request send time" in n for n in res.notes)


@needs_shared
def test_llmperf_pinned_rows():
    t = rows(run(llmperf.ADAPTER, LLMPERF / "anyscale_13b.json"))
    r = t[0]
    # raw: ttft_s 0.5575600349999945, end_to_end_latency_s 1.5281514210000182, 550 in, 151 out
    assert r["request_id"] == "anyscale_13b#1" and r["source_line"] == 1
    assert r["ttft_s"] == 0.5575600349999945 and r["e2e_latency_s"] == 1.5281514210000182
    assert r["prompt_tokens"] == 550 and r["output_tokens"] == 151
    assert (
        r["tpot_s"] == pytest.approx(0.9705913860000237 / 150, rel=1e-12) and r["derived_fields"] == "tpot_s"
    )
    lepton = rows(run(llmperf.ADAPTER, LLMPERF / "lepton_7b.json"))
    raw = json.loads((LLMPERF / "lepton_7b.json").read_text())
    i = next(i for i, x in enumerate(raw) if x["error_code"] == 429)
    f = lepton[i]
    assert f["status"] == "error" and f["error_type"] == "429"
    assert f["ttft_s"] is None and f["e2e_latency_s"] is None and f["output_tokens"] is None
    bedrock = rows(run(llmperf.ADAPTER, LLMPERF / "bedrock_13b.json"))[0]
    # a failure with real timings ("Output too few tokens 39") keeps them
    assert bedrock["error_type"] == "-100" and bedrock["e2e_latency_s"] == 1.7281653640002332


def test_llmperf_bad_record_quarantined():
    data = json.dumps(
        [
            {
                "error_code": None,
                "ttft_s": 0.5,
                "end_to_end_latency_s": 2.5,
                "number_input_tokens": 10,
                "number_output_tokens": 5,
            },
            {"error_code": None, "ttft_s": "fast", "end_to_end_latency_s": 1.0},
            "oops",
        ]
    ).encode()
    res = llmperf.read(Source(Path("run_individual_responses.json"), data))
    (r,) = rows(res)
    assert r["tpot_s"] == pytest.approx(0.5)
    assert [(q.line, q.field) for q in res.quarantine] == [(2, "ttft_s"), (3, None)]
