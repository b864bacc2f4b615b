"""guidellm: GuideLLM benchmarks.json / .yaml -> request rows, with the sweep point in tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from traceana.errors import TraceParseError
from traceana.ingest.adapters.bench import guidellm
from traceana.ingest.base import Source
from traceana.ingest.registry import detect

DATA = Path(__file__).resolve().parent.parent / "fixtures" / "guidellm"
V03_JSON = DATA / "benchmarks_v0.3.json"
V03_YAML = DATA / "benchmarks_v0.3.yaml"


def read(path: Path):
    return guidellm.read(Source(path, path.read_bytes()))


@pytest.mark.parametrize("path", [V03_JSON, V03_YAML])
def test_detected_without_format(path):
    assert detect(path.read_bytes()[:65536], path).name == "guidellm"


@pytest.mark.parametrize("path", [V03_JSON, V03_YAML])
def test_rows_match_guidellm_own_per_request_figures(path):
    """Every request's figures GuideLLM wrote, recomputed from its timestamps.

    Tolerance 1e-9 s: GuideLLM computed them from the same float64 epoch seconds
    (its time_to_first_token_ms is 1000 * (first_token_time - start_time)).
    """
    doc = json.loads(V03_JSON.read_text())
    recs = [
        r
        for b in doc["benchmarks"]
        for g in ("successful", "errored", "incomplete")
        for r in b["requests"][g]
    ]
    res = read(path)
    rows = res.requests.to_pylist()
    assert len(rows) == len(recs) == 1
    for row, rec in zip(rows, recs, strict=True):
        assert row["request_id"] == rec["request_id"]
        assert row["ttft_s"] == pytest.approx(rec["time_to_first_token_ms"] / 1000, abs=1e-9)
        assert row["e2e_latency_s"] == pytest.approx(rec["request_latency"], abs=1e-9)
        assert (row["prompt_tokens"], row["output_tokens"]) == (rec["prompt_tokens"], rec["output_tokens"])
        # TPOT here = (e2e - ttft)/(out - 1); GuideLLM's inter_token_latency_ms = (last - first)/(out - 1):
        # they differ by (end_time - last_token_time)/(out - 1), the tail after the last token
        tail = (rec["end_time"] - rec["last_token_time"]) / (rec["output_tokens"] - 1)
        assert row["tpot_s"] == pytest.approx(rec["inter_token_latency_ms"] / 1000 + tail, abs=1e-9)
        assert row["status"] == "ok" and row["model"] == "example_model"
        assert json.loads(row["tags"]) == {"strategy": "synchronous"}


def test_aggregates_cannot_be_compared_on_the_stripped_fixture():
    """The file's metrics cover 46 successful requests but it keeps 1: the adapter says so.

    The one kept request's TTFT is the distribution's max (21.2820 ms), which is
    as far as the file's own aggregates can be checked from its records.
    """
    doc = json.loads(V03_JSON.read_text())
    ttft = doc["benchmarks"][0]["metrics"]["time_to_first_token_ms"]["successful"]
    assert ttft["count"] == 46
    res = read(V03_JSON)
    assert any("1 of 47" in n for n in res.notes)
    assert res.requests.column("ttft_s")[0].as_py() * 1000 == pytest.approx(ttft["max"], abs=1e-9)


def _v04_record(i: int, start: float, status_error: str | None = None) -> dict:
    """A 0.4+ GenerativeRequestStats dump: field names from guidellm src/guidellm/schemas/{request_stats,info}.py."""
    return {
        "type_": "generative_request_stats",
        "request_id": f"r{i}",
        "info": {
            "request_id": f"r{i}",
            "timings": {
                "request_start": start,
                "first_token_iteration": start + 0.1,
                "last_token_iteration": start + 0.1 + 0.02 * 9,
                "request_end": start + 0.3,
            },
            "error": status_error,
        },
        "prompt_tokens": 100,
        "output_tokens": 10,
    }


def test_v04_layout_two_sweep_points():
    benches = []
    for k, rate in enumerate((2.0, 8.0)):
        benches.append(
            {
                "type_": "generative_benchmark",
                "config": {"strategy": {"type_": "constant", "rate": rate}},
                "requests": {
                    "successful": [_v04_record(10 * k + j, 1.7e9 + j) for j in range(3)],
                    "errored": [_v04_record(10 * k + 9, 1.7e9 + 5, "ReadTimeout: timed out\ntrace")],
                    "incomplete": [],
                    "total": None,
                },
            }
        )
    data = json.dumps({"benchmarks": benches}).encode()
    assert detect(data, Path("benchmarks.json")).name == "guidellm"
    rows = guidellm.read(Source(Path("benchmarks.json"), data)).requests.to_pylist()
    assert len(rows) == 8
    assert {r["tags"] for r in rows} == {
        '{"rate": "2", "strategy": "constant"}',
        '{"rate": "8", "strategy": "constant"}',
    }
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 6
    assert ok[0]["ttft_s"] == pytest.approx(0.1) and ok[0]["e2e_latency_s"] == pytest.approx(0.3)
    assert ok[0]["tpot_s"] == pytest.approx(0.2 / 9)
    err = [r for r in rows if r["status"] == "error"]
    assert [r["error_type"] for r in err] == ["ReadTimeout: timed out"] * 2


def test_summary_only_report_is_refused():
    data = json.dumps({"benchmarks": [{"type_": "generative_benchmark", "requests": {}}]}).encode()
    with pytest.raises(TraceParseError, match="summary"):
        guidellm.read(Source(Path("b.json"), data))
