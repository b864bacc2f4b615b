"""langfuse: observation exports (JSON, CSV) -> one row per GENERATION."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from traceana.ingest.adapters.gateways import langfuse
from traceana.ingest.base import Source
from traceana.ingest.registry import detect

DIR = Path(__file__).resolve().parent.parent / "fixtures" / "langfuse"


@pytest.mark.parametrize("name", ["observations.json", "observations.csv"])
def test_generations_match_langfuse_own_latency_and_ttft(name):
    """Langfuse's latency and timeToFirstToken (s, ms-precision dates) equal our e2e and ttft to 1e-9 s."""
    path = DIR / name
    assert detect(path.read_bytes()[:65536], path).name == "langfuse"
    res = langfuse.read(Source(path, path.read_bytes()))
    rows = res.requests.to_pylist()
    gens = [o for o in json.loads((DIR / "observations.json").read_text()) if o["type"] == "GENERATION"]
    assert len(rows) == len(gens) == 2
    for row, obs in zip(rows, gens, strict=True):
        assert row["request_id"] == obs["id"]
        assert row["e2e_latency_s"] == pytest.approx(obs["latency"], abs=1e-9)
        if obs["timeToFirstToken"] is None:
            assert row["ttft_s"] is None
        else:
            assert row["ttft_s"] == pytest.approx(obs["timeToFirstToken"], abs=1e-9)
        assert row["prompt_tokens"] == obs["usageDetails"]["input"]
    ok, err = rows
    assert (ok["output_tokens"], ok["cached_prompt_tokens"], ok["model_version"]) == (146, 512, "v3")
    assert ok["tpot_s"] == pytest.approx((1.8 - 0.34) / 145)
    assert err["status"] == "error" and err["error_type"] == "APITimeoutError: Request timed out."
    assert any("1 observations that are not generations" in n for n in res.notes)
