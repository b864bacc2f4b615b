"""inference_perf: per_request_lifecycle_metrics.json -> rows; the run's own summary recomputed from them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from traceana.errors import TraceParseError
from traceana.ingest.adapters.bench import inference_perf
from traceana.ingest.base import Source
from traceana.ingest.registry import detect
from traceana.ingest.summaries import recognise

DIR = Path(__file__).resolve().parent.parent / "fixtures" / "inference_perf"
PER_REQUEST = DIR / "per_request_lifecycle_metrics.json"
SUMMARY = DIR / "summary_lifecycle_metrics.json"


def _stats(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {
        "mean": v.mean(),
        "min": v.min(),
        "max": v.max(),
        "median": np.median(v),
        "p90": np.percentile(v, 90),
    }


def _rows():
    return inference_perf.read(Source(PER_REQUEST, PER_REQUEST.read_bytes())).requests.to_pylist()


def test_detected_and_summary_refused():
    assert detect(PER_REQUEST.read_bytes()[:65536], PER_REQUEST).name == "inference_perf"
    entry = recognise(SUMMARY.read_bytes()[:65536], SUMMARY)
    assert entry is not None and "per_request_lifecycle_metrics.json" in entry.message()


def test_every_summary_statistic_recomputed_from_rows():
    """inference-perf's summary (np.percentile, linear) vs traceana's rows: float rounding only (1e-12 s).

    Its time_per_output_token is (last token - first token)/(output_tokens - 1), which
    excludes the tail after the last token; traceana's tpot_s = (e2e - ttft)/(out - 1)
    includes it, so that statistic is recomputed with inference-perf's own definition.
    """
    rows = _rows()
    summary = json.loads(SUMMARY.read_text())
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] != "ok"]
    assert (len(rows), len(ok), len(failed)) == (
        6,
        summary["successes"]["count"],
        summary["failures"]["count"],
    )
    lat = summary["successes"]["latency"]
    ours = {
        "time_to_first_token": _stats([r["ttft_s"] for r in ok]),
        "request_latency": _stats([r["e2e_latency_s"] for r in ok]),
        "inter_token_latency": _stats([g for r in ok for g in r["itl_s"]]),
        "normalized_time_per_output_token": _stats([r["e2e_latency_s"] / r["output_tokens"] for r in ok]),
        "time_per_output_token": _stats([sum(r["itl_s"]) / (r["output_tokens"] - 1) for r in ok]),
    }
    for metric, got in ours.items():
        for stat, value in got.items():
            assert value == pytest.approx(lat[metric][stat], abs=1e-12), (metric, stat)
    for stat, value in _stats([r["prompt_tokens"] for r in ok]).items():
        assert value == pytest.approx(summary["successes"]["prompt_len"][stat], abs=1e-12)
    for stat, value in _stats([r["output_tokens"] for r in ok]).items():
        assert value == pytest.approx(summary["successes"]["output_len"][stat], abs=1e-12)
    assert failed[0]["e2e_latency_s"] == pytest.approx(summary["failures"]["request_latency"]["mean"])
    assert failed[0]["error_type"] == "HTTP Error 500"


def test_not_an_array_is_a_data_error():
    with pytest.raises(TraceParseError):
        inference_perf.read(Source(Path("x.json"), b'{"start_time": 1}'))
