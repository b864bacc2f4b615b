"""sglang_bench: SGLang bench_serving --output-details JSONL -> request rows; the file's aggregates recomputed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from traceana.errors import TraceParseError
from traceana.ingest.adapters.bench import sglang_bench
from traceana.ingest.base import Source
from traceana.ingest.registry import detect

FIX = Path(__file__).resolve().parent.parent / "fixtures" / "sglang" / "bench_serving_details.jsonl"
STAT = re.compile(r"^(mean|median|std|p[0-9.]+)_(ttft|tpot|itl|e2e_latency)_ms$")
#: e2e (and so TPOT) here is ttft + sum(itls): SGLang's own latency also holds the stream's end after
#: the last chunk (2 ms per request in the fixture), which the details lists do not carry
TOL_MS = {"ttft": 1e-6, "itl": 1e-6, "e2e_latency": 2.0 + 1e-6, "tpot": 2.0 / 19 + 1e-6}


def _stat(values, how: str) -> float:
    if how in ("mean", "median", "std"):
        return float(getattr(np, how)(values))
    return float(np.percentile(values, float(how[1:])))


def test_detected_without_format():
    assert detect(FIX.read_bytes()[:65536], FIX).name == "sglang_bench"


def test_rows_and_every_aggregate_of_each_run():
    docs = [json.loads(line) for line in FIX.read_text().splitlines()]
    rows = sglang_bench.read(Source(FIX, FIX.read_bytes())).requests.to_pylist()
    assert len(rows) == sum(len(d["ttfts"]) for d in docs) == 12
    compared = 0
    for line, doc in enumerate(docs, start=1):
        run = [r for r in rows if r["source_line"] == line]
        ok = [r for r in run if r["status"] == "ok"]
        assert len(ok) == doc["completed"]
        assert {r["tags"] for r in run} == {json.dumps({"request_rate": f"{doc['request_rate']:g}"})}
        series = {
            "ttft": [r["ttft_s"] for r in ok],
            "itl": [g for r in ok for g in r["itl_s"]],
            "e2e_latency": [r["e2e_latency_s"] for r in ok],
            "tpot": [r["tpot_s"] for r in ok if r["tpot_s"] is not None],
        }
        for key, want in doc.items():
            m = STAT.match(key)
            if m:
                got = _stat(np.array(series[m.group(2)]), m.group(1)) * 1000
                assert got == pytest.approx(want, abs=TOL_MS[m.group(2)]), key
                compared += 1
    assert compared == 2 * 17
    failed = [r for r in rows if r["status"] != "ok"]
    assert len(failed) == 1 and failed[0]["error_type"].startswith(
        "aiohttp.client_exceptions.ServerDisconnectedError"
    )
    assert failed[0]["ttft_s"] is None


def test_summary_only_file_is_refused():
    doc = json.loads(FIX.read_text().splitlines()[0])
    for k in ("input_lens", "output_lens", "ttfts", "itls", "generated_texts", "errors"):
        doc.pop(k)
    data = (json.dumps(doc) + "\n").encode()
    with pytest.raises(TraceParseError, match="--output-details"):  # refused by summaries.py at detection
        detect(data, Path("out.jsonl"))
    with pytest.raises(TraceParseError, match="--output-details"):
        sglang_bench.read(Source(Path("out.jsonl"), data))
