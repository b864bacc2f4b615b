"""vllm_bench: `vllm bench serve --save-result --save-detailed` JSON -> request rows."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from traceana.errors import TraceParseError
from traceana.ingest.adapters.bench import vllm_bench
from traceana.ingest.base import Source
from traceana.ingest.registry import detect
from traceana.schema import conform

DATA = Path(__file__).resolve().parent.parent / "data" / "vllm_bench"
EXAMPLES = Path("/work/shared/formats/examples")
OLD = DATA / "vllm_bench_0.11_detailed.json"
NEW = DATA / "vllm_bench_0.33_detailed.json"


def read(path: Path):
    return vllm_bench.read(Source(path, path.read_bytes()))


def read_doc(doc: dict, name: str = "run.json"):
    return vllm_bench.read(Source(Path(name), json.dumps(doc).encode()))


def test_pinned_row_without_start_times():
    res = read(OLD)
    r = res.requests.to_pylist()[0]
    # date 20260722-060114 is written after the run; duration 12.5 s: the run started at 06:01:01.5
    run_start = datetime(2026, 7, 22, 6, 1, 14, tzinfo=UTC) - timedelta(seconds=12.5)
    assert r["request_id"] == "vllm_bench_0.11_detailed#0"
    assert r["arrival_time"] == run_start
    assert (r["prompt_tokens"], r["output_tokens"]) == (256, 128)
    assert r["ttft_s"] == 0.125
    assert r["itl_s"] == [0.03125] * 127
    assert r["e2e_latency_s"] == 0.125 + 127 * 0.03125  # ttft + sum(itls) = 4.09375
    assert r["tpot_s"] == 127 * 0.03125 / 127
    assert (r["status"], r["error_type"], r["model"]) == ("ok", None, "meta-llama/Llama-3.1-8B-Instruct")
    assert r["derived_fields"] == "e2e_latency_s,tpot_s"
    assert (r["source_format"], r["source_line"]) == ("vllm_bench", 1)
    # no start_times: every request at the run start, and the notes say so
    assert {x["arrival_time"] for x in res.requests.to_pylist()} == {run_start}
    assert any("no start_times" in n for n in res.notes)
    assert any("taken as UTC" in n for n in res.notes)
    conform(res.requests, "requests")


def test_failed_requests_keep_latencies_null():
    rows = read(OLD).requests.to_pylist()
    assert len(rows) == 4
    disconnected, bad_request = rows[2], rows[3]
    for r in (disconnected, bad_request):
        # the source writes ttft 0.0 and an empty itl list for failures: not measurements
        assert (r["ttft_s"], r["e2e_latency_s"], r["tpot_s"], r["itl_s"]) == (None, None, None, None)
        assert r["status"] == "error" and r["output_tokens"] == 0 and r["prompt_tokens"] == 256
    # a traceback's exception line, not "Traceback (most recent call last):"
    assert (
        disconnected["error_type"] == "aiohttp.client_exceptions.ServerDisconnectedError: Server disconnected"
    )
    assert bad_request["error_type"] == "Bad Request"


def test_start_times_and_latencies():
    res = read(NEW)
    rows = res.requests.to_pylist()
    run_start = datetime(2026, 3, 1, 12, 0, 10, tzinfo=UTC) - timedelta(seconds=10)
    # start_times 80321.5, 80322.0, 80324.25 (perf_counter): offsets from the first
    assert [r["arrival_time"] for r in rows] == [
        run_start,
        run_start + timedelta(seconds=0.5),
        run_start + timedelta(seconds=2.75),
    ]
    assert rows[0]["e2e_latency_s"] == 1.75  # latencies[i], not ttft + sum(itls) = 1.625
    assert rows[0]["tpot_s"] == (1.75 - 0.5) / 9
    assert rows[0]["derived_fields"] == "tpot_s"
    assert (rows[2]["status"], rows[2]["error_type"]) == ("timeout", "TimeoutError")
    assert res.records_read == 3 and res.quarantine == []


def test_shared_detailed_fixture():
    res = read(EXAMPLES / "vllm_bench_serve_detailed_fixture.json")
    rows = res.requests.to_pylist()
    t0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)  # ISO date, no duration: anchored at the date
    assert [r["arrival_time"] for r in rows] == [t0, t0 + timedelta(seconds=1.5)]
    assert [r["e2e_latency_s"] for r in rows] == pytest.approx([0.1 + 0.05 + 0.07, 0.2 + 0.1], abs=1e-12)
    assert [r["tpot_s"] for r in rows] == pytest.approx([0.12 / 2, 0.1 / 1], abs=1e-12)
    assert [r["status"] for r in rows] == ["ok", "ok"]  # no errors array, summary says failed 0
    assert rows[0]["model"] is None  # no model_id in this fixture


def test_summary_only_result_is_a_clear_error():
    path = EXAMPLES / "vllm_bench_serve_result.json"
    assert detect(path.read_bytes()[:65536], path).name == "vllm_bench"
    with pytest.raises(TraceParseError, match="--save-detailed"):
        read(path)


def test_malformed_entry_quarantined_and_counts_add_up():
    doc = json.loads(NEW.read_text())
    doc["ttfts"][1] = "fast"
    doc["output_lens"][0] = 2.5
    res = read_doc(doc)
    assert sorted((q.line, q.field) for q in res.quarantine) == [
        (1, "output_lens"),
        (2, "ttfts/itls/latencies"),
    ]
    assert res.requests.column("request_id").to_pylist() == ["run#2"]
    assert res.records_read == res.requests.num_rows + len(res.quarantine) == 3


def test_inconsistent_arrays_and_missing_date_raise():
    doc = json.loads(OLD.read_text())
    doc["errors"] = doc["errors"][:3]
    with pytest.raises(TraceParseError, match="different lengths"):
        read_doc(doc)
    doc = json.loads(OLD.read_text())
    del doc["date"]
    with pytest.raises(TraceParseError, match="date"):
        read_doc(doc)


@pytest.mark.parametrize(
    "path", [OLD, NEW, EXAMPLES / "vllm_bench_serve_detailed_fixture.json"], ids=lambda p: p.name
)
def test_detect_picks_vllm_bench(path):
    assert detect(path.read_bytes()[:65536], path).name == "vllm_bench"


def test_error_type_helper():
    assert (
        vllm_bench.error_type("Traceback (most recent call last):\n  File x\nValueError: bad\n")
        == "ValueError: bad"
    )
    assert vllm_bench.error_type("Internal Server Error\nmore") == "Internal Server Error"
    assert len(vllm_bench.error_type("x" * 500)) == 200


def test_non_numeric_itl_is_quarantined():
    doc = json.loads(NEW.read_text())
    doc["itls"][0] = [0.125, True, 0.125]
    res = read_doc(doc)
    assert [(q.line, q.field) for q in res.quarantine] == [(1, "ttfts/itls/latencies")]
    assert "itl is not a number: True" in res.quarantine[0].reason
    assert res.requests.num_rows == 2
