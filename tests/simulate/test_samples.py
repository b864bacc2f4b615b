"""The bundled sample files: the injected bad rows, and the real-format views against requests.parquet."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime

import numpy as np
import pyarrow.parquet as pq
import pytest

from traceana.schema import STATUSES
from traceana.simulate.realformats import go_float

from .conftest import SAMPLES

DURATIONS = ("queue_time_s", "ttft_s", "tpot_s", "prefill_time_s", "decode_time_s", "e2e_latency_s")


def _readme_bad_lines() -> dict[int, str]:
    text = (SAMPLES / "README.md").read_text()
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^- line (\d+): (.+)$", text, re.M)}


def _problems(rec: dict) -> list[str]:
    """An independent reading of the validation rules, for one canonical JSON record."""
    out = []
    if not rec.get("request_id"):
        out.append("missing request_id")
    for k in DURATIONS + ("prompt_tokens", "output_tokens"):
        v = rec.get(k)
        if v is not None and not isinstance(v, int | float):
            out.append("non-numeric value")
        elif v is not None and v < 0:
            out.append("negative duration")
    if isinstance(rec.get("ttft_s"), float) and rec["ttft_s"] > rec["e2e_latency_s"] + 1e-3:
        out.append("ttft greater than e2e")
    if rec.get("status") not in STATUSES:
        out.append("unknown status")
    if datetime.fromisoformat(rec["arrival_time"].replace("Z", "+00:00")).year < 2000:
        out.append("arrival in 1970")
    return out


def test_bad_rows_are_exactly_the_listed_ones():
    listed = _readme_bad_lines()
    assert len(listed) == 6
    lines = (SAMPLES / "bad_rows.jsonl").read_text().splitlines()
    found = {i: _problems(json.loads(line)) for i, line in enumerate(lines, 1)}
    assert {i: p for i, p in found.items() if p} == {i: [what] for i, what in listed.items()}


def test_ingest_quarantines_exactly_the_bad_rows():
    from traceana.ingest import registry
    from traceana.ingest.base import Source
    from traceana.ingest.pipeline import process

    path = SAMPLES / "bad_rows.jsonl"
    src = Source(path, path.read_bytes())
    tables, quarantine, _ = process(src, registry.detect(src.data[:65536], path))
    assert sorted(set(quarantine.column("source_line").to_pylist())) == sorted(_readme_bad_lines())
    assert tables["requests"].num_rows == 50 - 6


@pytest.fixture(scope="module")
def requests_by_id():
    t = pq.read_table(SAMPLES / "requests.parquet")
    ids = t.column("request_id").to_pylist()
    cols = {
        n: t.column(n).to_pylist()
        for n in (
            "ttft_s",
            "e2e_latency_s",
            "queue_time_s",
            "prompt_tokens",
            "output_tokens",
            "instance",
            "model",
            "fallback_from",
        )
    }
    us = t.column("arrival_time").cast("int64").to_pylist()
    return {rid: {**{n: cols[n][i] for n in cols}, "arrival_us": us[i]} for i, rid in enumerate(ids)}


def test_otlp_spans_match_the_requests(requests_by_id):
    lines = (SAMPLES / "vllm_otlp_spans.jsonl").read_text().splitlines()
    n = 0
    for line in lines:
        doc = json.loads(line)
        for rs in doc["resourceSpans"]:
            res = {a["key"]: a["value"]["stringValue"] for a in rs["resource"]["attributes"]}
            for sp in rs["scopeSpans"][0]["spans"]:
                assert sp["name"] == "llm_request" and sp["kind"] == 2
                attrs = {a["key"]: a["value"] for a in sp["attributes"]}
                assert "gen_ai.response.model" not in attrs  # V1 spans have none
                row = requests_by_id[attrs["gen_ai.request.id"]["stringValue"]]
                assert res["host.name"] == row["instance"] and res["service.name"] == row["model"]
                assert int(sp["startTimeUnixNano"]) == row["arrival_us"] * 1000
                assert attrs["gen_ai.usage.prompt_tokens"] == {"intValue": str(row["prompt_tokens"])}
                assert attrs["gen_ai.latency.time_to_first_token"]["doubleValue"] == row["ttft_s"]
                assert attrs["gen_ai.latency.e2e"]["doubleValue"] == row["e2e_latency_s"]
                n += 1
    assert n == 400


def _scrapes(path):
    """[(time, {series: value})] from a '# scrape <t>' file, parsed here with a plain regex."""
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("# scrape "):
            out.append((int(line.split()[2]), {}))
        elif line and not line.startswith("#"):
            m = re.match(r"^(\S+?)(\{.*\})? (\S+)$", line)
            out[-1][1][m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def test_prometheus_scrapes_are_consistent():
    engine = pq.read_table(SAMPLES / "engine_samples.parquet")
    times = engine.column("time").cast("int64").to_numpy() // 1_000_000
    inst = np.asarray(engine.column("instance").to_pylist(), dtype=object)
    running = engine.column("num_running").to_numpy()
    for path in sorted((SAMPLES / "prometheus").glob("*.prom")):
        scrapes = _scrapes(path)
        assert len(scrapes) == 30
        prev = None
        for t, s in scrapes:
            lab = next(k for k in s if k.startswith("vllm:num_requests_running"))
            assert s[lab] == running[(inst == path.stem) & (times == t)][0]
            buckets = [v for k, v in s.items() if k.startswith("vllm:time_to_first_token_seconds_bucket")]
            assert buckets == sorted(buckets) and buckets[-1] == next(
                v for k, v in s.items() if k.startswith("vllm:time_to_first_token_seconds_count")
            )
            counters = {k: v for k, v in s.items() if k.endswith("}") and "_total{" in k}
            if prev is not None:
                assert all(counters[k] >= prev[k] for k in counters)
            prev = counters


def test_litellm_fallbacks_are_two_records(requests_by_id):
    recs = [json.loads(line) for line in (SAMPLES / "litellm_spend_log.jsonl").read_text().splitlines()]
    by_trace: dict[str, list] = {}
    for r in recs:
        by_trace.setdefault(r["trace_id"], []).append(r)
    fallbacks = [v for v in by_trace.values() if len(v) == 2]
    assert fallbacks and all(len(v) <= 2 for v in by_trace.values())
    for first, second in fallbacks:
        assert first["status"] == "failure" and first["error_information"]["error_class"] == "RateLimitError"
        assert (
            first["model_group"] == "llama-3.1-70b"
            and second["metadata"]["original_model_group"] == "llama-3.1-70b"
        )
        assert first["endTime"] <= second["endTime"]
    for r in recs:
        if r["status"] == "success":
            row = requests_by_id[r["id"]]
            assert (r["prompt_tokens"], r["completion_tokens"]) == (
                row["prompt_tokens"],
                row["output_tokens"],
            )
            assert r["model_id"] == row["instance"]
            assert r["endTime"] == pytest.approx(row["arrival_us"] / 1e6 + row["e2e_latency_s"], abs=2e-6)


def test_go_float_matches_prometheus_client():
    assert go_float(12.0) == "12.0"
    assert go_float(1762000000.0) == "1.762e+09"
    assert go_float(102400.0) == "102400.0"
    assert go_float(math.inf) == "+Inf"
    assert go_float(0.25) == "0.25"
