"""goodput(one_token_tpot="zero") equals vLLM bench serve's own good-request count on the shared vLLM run.

The reference is vLLM's ``calculate_metrics`` (vllm/benchmarks/serve.py) re-done from the run's
per-request arrays: successful requests only; tpot = (latency - ttft) / (output_len - 1) when
output_len > 1, else 0; good when every given SLO value >= the request's.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from traceana.ingest.adapters.bench import vllm_bench
from traceana.ingest.base import Source
from traceana.metrics.slo import goodput
from traceana.schema import conform

# the shared examples' run is summary-only (no per-request arrays); these detailed runs have them
RUNS = sorted((Path(__file__).resolve().parents[1] / "data/vllm_bench").glob("*_detailed.json"))


def _vllm_good(doc: dict, ttft_s: float, tpot_s: float) -> int:
    good = 0
    for i, err in enumerate(doc["errors"]):
        if err:  # failed requests never count (vLLM: outputs[i].success)
            continue
        n, ttft = doc["output_lens"][i], doc["ttfts"][i]
        latency = ttft + sum(doc["itls"][i])
        tpot = (latency - ttft) / (n - 1) if n > 1 else 0
        good += tpot_s >= tpot and ttft_s >= ttft
    return good


def _frame(path: Path, doc: dict | None = None) -> pl.DataFrame:
    res = vllm_bench.read(Source(path, json.dumps(doc).encode() if doc else path.read_bytes()))
    tables = res if isinstance(res, list | tuple) else [res]
    for t in tables:
        tab = getattr(t, "requests", None) or getattr(t, "table", None) or t
        try:
            return pl.from_arrow(conform(tab, "requests"))
        except Exception:  # noqa: BLE001 - try the next shape of the adapter's result
            continue
    pytest.skip("cannot read the vLLM run")


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_one_token_requests_meet_tpot_as_in_vllm(run):
    doc = json.loads(run.read_text())
    df = _frame(run)
    for ttft, tpot in ((0.2, 0.05), (1.0, 0.02), (10.0, 1.0)):
        zero = goodput(df, {"ttft_s": ttft, "tpot_s": tpot}, one_token_tpot="zero")["good"][0]
        assert zero == _vllm_good(doc, ttft, tpot)
        missing = goodput(df, {"ttft_s": ttft, "tpot_s": tpot})["good"][0]
        one_token_ok = df.filter(
            (pl.col("status") == "ok") & (pl.col("output_tokens") <= 1) & (pl.col("ttft_s") <= ttft)
        ).height
        assert zero - missing == one_token_ok


def test_a_one_token_request_tells_the_definitions_apart():
    """The recorded runs have no one-token success; make the second request one token long."""
    run = RUNS[-1]
    doc = json.loads(run.read_text())
    doc["output_lens"][1], doc["itls"][1] = 1, []
    df = _frame(run, doc)
    zero = goodput(df, {"ttft_s": 10.0, "tpot_s": 0.001}, one_token_tpot="zero")["good"][0]
    missing = goodput(df, {"ttft_s": 10.0, "tpot_s": 0.001})["good"][0]
    assert zero == _vllm_good(doc, 10.0, 0.001) and zero == missing + 1
