"""Item 5 of issue 15: no $0 for what has no price, no utilization above 100%.

On the sample fleet day (sample_traces/: 5 instances, engine samples with
gpu_type H100) with configs that leave instances unmatched, the way a real
config drifts from a fleet.
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from tests.conftest import SAMPLE_TRACES
from traceana.cli import main

REQ = SAMPLE_TRACES / "requests.parquet"
ENG = SAMPLE_TRACES / "engine_samples.parquet"


def _cost(tmp_path, toml: str, *paths):
    cfg = tmp_path / "t.toml"
    cfg.write_text(toml)
    r = CliRunner().invoke(main, ["cost", *map(str, paths), "--config", str(cfg), "--json", "--no-fail"])
    return r.exit_code, json.loads(r.stdout) if r.stdout.startswith("{") else r.output


def test_instance_without_a_price_is_unpriced_not_zero(tmp_path):
    # deployments name only the 8B instances: the 70B ones served tokens but no price entry matches them
    toml = "[gpu_prices]\nH100 = 4.0\n" + "".join(
        f'[[deployment]]\ninstance = "vllm-8b-{i}"\nmodel = "llama-3.1-8b"\ngpu_type = "H100"\ngpu_count = 1\n'
        for i in range(3)
    )
    code, out = _cost(tmp_path, toml, REQ)
    assert code == 2, out
    rows = out["cost"]["rows"]
    unpriced = sorted(r["instance"] for r in rows if r.get("unpriced"))
    assert unpriced == ["vllm-70b-0", "vllm-70b-1"] == out["cost"]["totals"]["unpriced"]
    assert all(r.get("cost_usd") is None for r in rows if r.get("unpriced"))
    assert any("vllm-70b-0' is unpriced" in w for w in out["warnings"])
    # totals: the priced instances only, against the requests counted without traceana's cost code
    served = pl.read_parquet(REQ).filter(pl.col("instance").str.starts_with("vllm-8b"))
    t = out["cost"]["totals"]
    assert t["output_tokens"] == served["output_tokens"].sum() and t["requests"] == served.height
    assert t["cost_usd"] == pytest.approx(sum(r["cost_usd"] for r in rows if not r.get("unpriced")))


def test_gpu_type_without_price_is_unpriced(tmp_path):
    code, out = _cost(tmp_path, "[gpu_prices]\nA100 = 2.5\n", REQ, ENG)
    assert code == 2
    assert all("no price for gpu_type 'H100'" in r["unpriced"] for r in out["cost"]["rows"])
    assert out["cost"]["totals"]["cost_usd"] == 0 and out["cost"]["totals"]["effective_per_million"] is None


def test_utilization_above_100_percent_is_a_data_error(tmp_path):
    # vllm-8b-0 provisioned for one hour, its requests spread over the whole day: busy > provisioned
    toml = (
        '[gpu_prices]\nH100 = 4.0\n[[deployment]]\ninstance = "vllm-8b-0"\nmodel = "llama-3.1-8b"\ngpu_type = "H100"\n'
        'gpu_count = 1\nstart = "2025-11-17T00:00:00Z"\nend = "2025-11-17T01:00:00Z"\n'
    )
    code, out = _cost(tmp_path, toml, REQ)
    assert code == 3
    (row,) = [r for r in out["cost"]["rows"] if r["instance"] == "vllm-8b-0"]
    assert row["utilization"] is None and row["busy_hours"] > row["hours"] == pytest.approx(1.0, abs=0.01)
    assert "instance 'vllm-8b-0'" in row["data_error"] and "exceed 100%" in row["data_error"]
    assert any(w.startswith("cost: data error: instance 'vllm-8b-0'") for w in out["warnings"])
    assert not any((r.get("utilization") or 0) > 1 for r in out["cost"]["rows"])
