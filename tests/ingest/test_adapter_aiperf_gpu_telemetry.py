"""aiperf_gpu_telemetry: AIPerf gpu_telemetry_export.jsonl -> engine_samples GPU columns, one row per GPU per scrape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from traceana.cli import main
from traceana.ingest.adapters.prometheus import aiperf_gpu_telemetry
from traceana.ingest.base import Source
from traceana.ingest.registry import detect

DIR = Path(__file__).resolve().parent.parent / "fixtures" / "aiperf"
FIX = DIR / "gpu_telemetry_export.jsonl"


def _read(path: Path, data: bytes | None = None):
    return aiperf_gpu_telemetry.read(Source(path, path.read_bytes() if data is None else data))


def test_detected_and_not_confused_with_server_metrics():
    assert detect(FIX.read_bytes(), FIX).name == "aiperf_gpu_telemetry"
    srv = DIR / "server_metrics_export.jsonl"
    assert detect(srv.read_bytes(), srv).name == "aiperf_server_metrics"


def test_one_row_per_gpu_sample_with_units_converted():
    recs = [json.loads(line) for line in FIX.read_text().splitlines()]
    res = _read(FIX)
    assert res.quarantine == []
    rows = res.engine_samples.to_pylist()
    assert len(rows) == len(recs) == 6
    got = {(r["instance"], round(r["time"].timestamp() * 1e6)): r for r in rows}
    assert len(got) == 6
    for rec in recs:
        row = got[(f"node1/gpu{rec['gpu_index']}", rec["timestamp_ns"] // 1000)]
        d = rec["telemetry_data"]
        # AIPerf: utilization in percent, memory in GB (10^9 bytes), power in W
        assert row["gpu_utilization"] == pytest.approx(d["gpu_utilization"] / 100)
        assert row["gpu_memory_used_bytes"] == pytest.approx(d["gpu_memory_used"] * 1e9)
        assert row["gpu_power_w"] == pytest.approx(d["gpu_power_usage"])
        assert row["gpu_memory_total_bytes"] is None  # the newer layout has no total
        assert row["gpu_type"] == "NVIDIA H100 80GB HBM3" and row["gpu_count"] == 1
    # hand-worked: GPU 1, second scrape: 45 % -> 0.45, 58.5 GB -> 58.5e9 B, 300 W
    r = got[("node1/gpu1", recs[3]["timestamp_ns"] // 1000)]
    assert (r["gpu_utilization"], r["gpu_memory_used_bytes"], r["gpu_power_w"]) == pytest.approx(
        (0.45, 58.5e9, 300.0)
    )


def test_older_flat_layout_with_total_memory(tmp_path):
    rec = {
        "timestamp_ns": 1_700_000_000_000_000_000,
        "dcgm_url": "http://gpu-node:9401/metrics",
        "gpu_index": 3,
        "gpu_uuid": "GPU-x",
        "gpu_model_name": "NVIDIA A100-SXM4-40GB",
        "gpu_power_usage": 250.5,
        "gpu_utilization": 50.0,
        "gpu_memory_used": 20.0,
        "total_gpu_memory": 42.5,
    }
    p = tmp_path / "gpu_telemetry_export.jsonl"
    p.write_text(json.dumps(rec) + "\n")
    assert detect(p.read_bytes(), p).name == "aiperf_gpu_telemetry"
    (row,) = _read(p).engine_samples.to_pylist()
    assert row["instance"] == "gpu-node:9401/gpu3"  # no hostname: the DCGM endpoint
    assert (row["gpu_utilization"], row["gpu_memory_used_bytes"], row["gpu_memory_total_bytes"]) == (
        pytest.approx(0.5),
        pytest.approx(20e9),
        pytest.approx(42.5e9),
    )
    assert row["gpu_power_w"] == 250.5


def test_bad_lines_quarantined_with_reasons():
    good = FIX.read_text().splitlines()[0]
    base = json.loads(good)
    bad = [
        "[1, 2]",
        json.dumps({k: v for k, v in base.items() if k != "timestamp_ns"}),
        json.dumps({**base, "telemetry_data": {"gpu_utilization": "n/a"}}),
        json.dumps({**base, "telemetry_data": {"gpu_utilization": 150.0}}),
        json.dumps({**base, "telemetry_data": {"gpu_temperature": 40.0}}),
        "{not json",
    ]
    data = "\n".join([good, *bad]).encode() + b"\n"
    res = _read(FIX, data)
    assert res.engine_samples.num_rows == 1
    assert res.records_read == 7
    reasons = [q.reason for q in res.quarantine]
    assert [q.line for q in res.quarantine] == [2, 3, 4, 5, 6, 7]
    assert "expected one JSON object" in reasons[0]
    assert reasons[1] == "timestamp_ns: missing"
    assert "not a number" in reasons[2]
    assert "over 100 percent" in reasons[3]
    assert "none of gpu_utilization" in reasons[4]
    assert all(q.table == "engine_samples" for q in res.quarantine)


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _item4(store):
    res = _run("check", "--store", store, "--json")
    assert res.exit_code == 0, res.output
    (item,) = [i for i in json.loads(res.output)["items"] if i["item"] == 4]
    return item, {f["field"]: f["fill_fraction"] for f in item["fields"]}


def test_check_item4_lists_gpu_fields_filled(tmp_path):
    store = tmp_path / "s"
    assert _run("ingest", FIX, "--store", store, "--json").exit_code == 0
    item, fill = _item4(store)
    # GPU samples alone: GPU columns fully filled, but no batch or KV gauge, so item 4 stays missing
    assert fill["gpu_utilization"] == 1.0 and fill["gpu_memory_used_bytes"] == 1.0
    assert {"gpu_utilization", "gpu_memory_used_bytes"} <= set(item["fields_present"])
    assert item["verdict"] == "missing"
    # with the same run's server metrics (4 scrapes): batch and KV filled, GPU columns on 6 of 10 rows
    assert _run("ingest", DIR / "server_metrics_export.jsonl", "--store", store, "--json").exit_code == 0
    item, fill = _item4(store)
    assert item["verdict"] == "partial"
    assert fill["gpu_utilization"] == pytest.approx(6 / 10)
    assert fill["kv_cache_usage"] == pytest.approx(4 / 10)


def test_gpu_usage_hand_worked():
    import polars as pl

    from traceana.metrics.capacity import gpu_usage

    eng = pl.DataFrame(
        {
            "instance": ["a", "a", "a", "b"],
            "gpu_utilization": [0.2, 0.6, None, None],
            "gpu_memory_used_bytes": [10e9, 30e9, None, None],
            "gpu_memory_total_bytes": [40e9, 40e9, None, None],
            "gpu_power_w": [100.0, 300.0, None, None],
            "kv_cache_usage": [None, None, 0.5, 0.5],  # a KV-only sample is not a GPU sample
        }
    )
    (a,) = gpu_usage(eng).to_dicts()
    assert a["instance"] == "a" and a["samples"] == 2
    assert a["mean_gpu_utilization"] == pytest.approx(0.4) and a["max_gpu_utilization"] == pytest.approx(0.6)
    assert a["max_memory_fraction"] == pytest.approx(30 / 40)
    assert (a["mean_gpu_power_w"], a["max_gpu_power_w"]) == (200.0, 300.0)
    assert gpu_usage(
        eng.drop("gpu_utilization", "gpu_memory_used_bytes", "gpu_memory_total_bytes", "gpu_power_w")
    ).is_empty()


def test_report_of_an_aiperf_run_has_the_gpu_table(tmp_path):
    """GPU telemetry + server metrics + requests in the same window: the engine section lists each GPU."""
    recs = [json.loads(line) for line in FIX.read_text().splitlines()]
    req = tmp_path / "requests.jsonl"
    req.write_text(
        "".join(
            json.dumps(
                {
                    "request_id": f"r{i}",
                    "arrival_time": f"2025-11-19T22:26:5{5 + i}Z",
                    "status": "ok",
                    "e2e_latency_s": 0.5,
                    "ttft_s": 0.1,
                }
            )
            + "\n"
            for i in range(4)
        )
    )
    store = tmp_path / "s"
    for f in (FIX, DIR / "server_metrics_export.jsonl", req):
        assert _run("ingest", f, "--store", store).exit_code == 0
    out = tmp_path / "r"
    res = _run("report", "--store", store, "--out", out, "--no-fail")
    assert res.exit_code == 0, res.output
    gpu = {r["instance"]: r for r in json.loads((out / "report.json").read_text())["kv"]["gpu"]}
    assert set(gpu) == {"node1/gpu0", "node1/gpu1"}
    for idx in (0, 1):
        mine = [r["telemetry_data"] for r in recs if r["gpu_index"] == idx]
        g = gpu[f"node1/gpu{idx}"]
        assert g["samples"] == len(mine) == 3
        assert g["mean_gpu_utilization"] == pytest.approx(sum(d["gpu_utilization"] for d in mine) / 300)
        assert g["max_gpu_memory_used_bytes"] == pytest.approx(max(d["gpu_memory_used"] for d in mine) * 1e9)
        assert g["mean_gpu_power_w"] == pytest.approx(sum(d["gpu_power_usage"] for d in mine) / 3)
        assert g["gpu_memory_total_bytes"] is None
    md = (out / "report.md").read_text()
    assert (
        "GPU per instance" in md and "| node1/gpu0 | 3 | 64.0% | 93.0% | 72.01 | n/a | 417.1 | 640.2 |" in md
    )


def test_canonical_engine_rows_with_impossible_gpu_values_quarantined(tmp_path):
    rows = [
        {"time": "2025-11-19T22:26:55Z", "instance": "a", "num_running": 1, "gpu_utilization": 0.5},
        {"time": "2025-11-19T22:26:56Z", "instance": "a", "num_running": 1, "gpu_utilization": 1.5},
        {"time": "2025-11-19T22:26:57Z", "instance": "a", "num_running": 1, "gpu_power_w": -3.0},
    ]
    p = tmp_path / "engine_samples.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = _run("ingest", p, "--format", "canonical", "--store", tmp_path / "s", "--json")
    out = json.loads(res.output)
    assert out["stored"] == 1 and out["quarantined"] == 2, out
    assert out["reasons"] == {"not_fraction": 1, "negative": 1}  # 1.5 is not a fraction; -3 W is negative


def test_gpu_utilization_chart_only_with_gpu_samples(tmp_path):
    from traceana.report.charts import gpu_utilization

    rows = [
        {"window_start": "2025-11-19T22:26:55Z", "instance": "node1/gpu0", "gpu_utilization": 0.5},
        {"window_start": "2025-11-19T22:26:56Z", "instance": "node1/gpu0", "gpu_utilization": None},
    ]
    ds: dict = {}
    assert gpu_utilization({"series": {"engine": rows}}, ds) is not None
    assert gpu_utilization({"series": {"engine": [{**rows[0], "gpu_utilization": None}]}}, {}) is None
