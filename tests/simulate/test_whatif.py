"""What-if planning and the `traceana simulate` command."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from traceana.cli import main
from traceana.cli.simulate import parse_instances
from traceana.errors import TraceanaError
from traceana.simulate.arrivals import Arrivals
from traceana.simulate.fleet import InstanceSpec, ServiceModel
from traceana.simulate.whatif import format_whatif, whatif

from .test_replay import AZURE


def _arrivals(n=4000, rate=6.0, seed=1) -> Arrivals:
    rng = np.random.default_rng(seed)
    t = np.cumsum(rng.exponential(1 / rate, n))
    return Arrivals.sorted(t, rng.integers(200, 2000, n), rng.integers(1, 60, n), t0_epoch_s=1.7e9)


TEMPLATE = InstanceSpec(
    "gpu",
    "m",
    ServiceModel(
        prefill_s_per_token=0.0002, prefill_base_s=0.01, decode_base_s=0.01, decode_s_per_seq=0.0002
    ),
    gpu_count=2,
)


def test_whatif_table_and_closed_form():
    arr = _arrivals()
    res = whatif(
        arr, TEMPLATE, range(1, 5), slo_ttft_s=1.0, objective=0.95, gpu_price_per_hour=3.0, target_util=0.7
    )
    assert [r.instances for r in res.rows] == [1, 2, 3, 4]
    # attainment does not fall as replicas are added, and the answer is the first N that meets the objective
    att = [r.slo_attainment for r in res.rows]
    assert all(b >= a - 1e-9 for a, b in zip(att, att[1:], strict=False))
    assert res.smallest_meeting == next(r.instances for r in res.rows if r.slo_attainment >= 0.95)
    # cost = N * gpus * hours * price, hours = first to last arrival
    hours = (arr.t_s[-1] - arr.t_s[0]) / 3600
    assert [r.cost_usd for r in res.rows] == pytest.approx([n * 2 * hours * 3.0 for n in (1, 2, 3, 4)])
    # lambda_p95 from an independent per-minute count, then the closed form by hand
    counts = np.bincount(((arr.t_s - arr.t_s[0]) // 60).astype(int)) / 60
    assert res.lambda_p95_per_s == pytest.approx(np.percentile(counts, 95))
    assert res.closed_form_replicas == math.ceil(res.lambda_p95_per_s / (0.7 * res.mu_per_replica))
    text = format_whatif(res)
    assert "Closed form" in text and "Smallest fleet meeting the SLO (simulated)" in text


def test_whatif_rejects_bad_arguments():
    with pytest.raises(TraceanaError):
        whatif(_arrivals(50), TEMPLATE, [0, 1])
    with pytest.raises(TraceanaError):
        whatif(_arrivals(50), TEMPLATE, [1], objective=1.5)


def test_parse_instances():
    assert parse_instances("1..4") == [1, 2, 3, 4]
    assert parse_instances("2,4,8") == [2, 4, 8]
    assert parse_instances("3") == [3]


@pytest.mark.skipif(not AZURE.is_file(), reason="shared Azure sample not present")
def test_cli_replay_json():
    res = CliRunner().invoke(main, ["simulate", "--replay", str(AZURE), "--instances", "5..6", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["requests"] == 8819 and [r["instances"] for r in d["rows"]] == [5, 6]
    assert d["closed_form_replicas"] >= 1 and d["note"]


def test_cli_out_and_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["simulate", "--out", str(tmp_path / "day"), "--requests", "2000"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "day" / "requests.parquet").is_file() and (
        tmp_path / "day" / "engine_samples.parquet"
    ).is_file()
    assert runner.invoke(main, ["simulate"]).exit_code == 2
    bad = tmp_path / "x.csv"
    bad.write_text("nothing here\n")
    res = runner.invoke(main, ["simulate", "--replay", str(bad)])
    assert res.exit_code == 2 and "cannot tell" in res.output
    assert runner.invoke(main, ["simulate", "--help"]).exit_code == 0
