"""prometheus_text and prometheus_range: engine metrics -> engine_samples / engine_histograms."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from traceana.errors import TraceanaError
from traceana.ingest.adapters.prometheus import _metric_map as _prom
from traceana.ingest.adapters.prometheus import prometheus_range, prometheus_text
from traceana.ingest.base import Source
from traceana.ingest.registry import detect
from traceana.schema import conform

DATA = Path(__file__).resolve().parent.parent / "data" / "prometheus"
EXAMPLES = Path("/work/shared/formats/examples")
PROM_EXAMPLES = sorted(EXAMPLES.glob("*.prom"))


def read_text(path: Path):
    return prometheus_text.read(Source(path, path.read_bytes()))


def read_bytes(mod, data: bytes, name: str = "nowhere/host-a.prom"):
    return mod.read(Source(Path(name), data))  # a path that does not exist: no mtime


def by_instance(table) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for r in table.to_pylist():
        out.setdefault(r["instance"], []).append(r)
    return out


# --- every real scrape in the shared examples -----------------------------------------------


@pytest.mark.parametrize("path", PROM_EXAMPLES, ids=lambda p: p.name)
def test_every_example_scrape_is_detected_and_read(path):
    assert detect(path.read_bytes()[:65536], path).name == "prometheus_text"
    res = read_text(path)
    assert res.quarantine == []
    assert res.engine_samples.num_rows >= 1
    conform(res.engine_samples, "engine_samples")
    conform(res.engine_histograms, "engine_histograms")
    # a single scrape without a '# scrape' line is timed at the file's modification time
    mtime_us = os.stat(path).st_mtime_ns // 1000
    times = {t.timestamp() for t in res.engine_samples.column("time").to_pylist()}
    assert times == {mtime_us / 1e6}
    assert any("modification time" in n for n in res.notes)
    assert res.records_read == res.engine_samples.num_rows + res.engine_histograms.num_rows


def test_sglang_docs_example():
    res = read_text(EXAMPLES / "sglang_metrics_docs_example.prom")
    (row,) = res.engine_samples.to_pylist()
    assert row["instance"] == "sglang_metrics_docs_example"  # no instance label: the file stem
    assert row["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert (row["num_running"], row["num_waiting"], row["kv_cache_usage"]) == (162.0, 2826.0, 0.28)
    assert row["kv_cache_capacity_tokens"] == 442354  # num_used_tokens / token_usage = 123859 / 0.28
    assert (
        row["generation_tokens_per_s"] == 86.50814177726902
    )  # sglang:gen_throughput (one scrape: no counter rate)
    assert row["prompt_tokens_per_s"] is None and row["num_preempted"] is None
    h = res.engine_histograms.to_pylist()
    assert {(r["metric"], r["source_metric"]) for r in h} == {
        ("ttft_s", "sglang:time_to_first_token_seconds"),
        ("e2e_latency_s", "sglang:e2e_request_latency_seconds"),
        ("itl_s", "sglang:time_per_output_token_seconds"),
    }  # sglang:func_latency_seconds is not a request latency
    ttft = [r for r in h if r["metric"] == "ttft_s"]
    assert len(ttft) == 21
    assert [r["le"] for r in ttft] == sorted(r["le"] for r in ttft) and ttft[-1]["le"] == math.inf
    assert (
        ttft[-1]["cumulative_count"] == 11008.0
        and ttft[4]["le"] == 0.04
        and ttft[4]["cumulative_count"] == 1.0
    )
    assert {(r["sum"], r["count"]) for r in ttft} == {(2.3518979474117756e06, 11008.0)}


def test_vllm_examples_capacity_engines_and_v0_names():
    cfg = read_text(EXAMPLES / "vllm_cache_config_info_fixture.prom").engine_samples.to_pylist()[0]
    # kv_cache_size_tokens (2197339) is preferred to num_gpu_blocks * block_size (2917 * 768)
    assert (cfg["kv_cache_capacity_tokens"], cfg["model"], cfg["num_running"]) == (
        2197339,
        "model with spaces",
        7.0,
    )
    assert cfg["instance"] == "vllm_cache_config_info_fixture"  # engine "0" alone adds nothing
    multi = by_instance(read_text(EXAMPLES / "vllm_metrics_multi_engine_fixture.prom").engine_samples)
    stem = "vllm_metrics_multi_engine_fixture"
    assert set(multi) == {f"{stem}:0", f"{stem}:1"}
    assert [(r["num_running"], r["num_waiting"], r["kv_cache_usage"]) for r in multi[f"{stem}:0"]] == [
        (12.0, 3.0, 0.25)
    ]
    assert [(r["num_running"], r["num_waiting"], r["kv_cache_usage"]) for r in multi[f"{stem}:1"]] == [
        (9.0, 0.0, 0.5)
    ]
    v0 = read_text(EXAMPLES / "vllm_metrics_v0_scrape.prom")
    row = v0.engine_samples.to_pylist()[0]
    assert row["kv_cache_capacity_tokens"] == 81767 * 16  # V0 cache_config_info: blocks * block_size
    assert (row["kv_cache_usage"], row["model"]) == (
        0.0,
        "Qwen/Qwen2.5-Coder-1.5B-Instruct",
    )  # gpu_cache_usage_perc
    assert v0.engine_histograms.num_rows == 0  # iteration_tokens_total counts tokens, not latency


# --- several scrapes in one file, with a counter reset -------------------------------------


def test_multi_scrape_rates_and_counter_reset():
    path = DATA / "vllm_v1_scrapes.prom"
    res = read_text(path)
    rows = res.engine_samples.to_pylist()
    assert [r["time"] for r in rows] == [
        datetime.fromtimestamp(1760000000, UTC),
        datetime(2025, 10, 9, 8, 53, 35, tzinfo=UTC),  # RFC 3339 separator = 1760000015
        datetime.fromtimestamp(1760000030, UTC),
    ]
    # prompt_tokens_total 1000 -> 2500 -> 300 (restart): (2500-1000)/15, then 300/15 (a drop is a reset)
    assert [r["prompt_tokens_per_s"] for r in rows] == [None, 100.0, 20.0]
    assert [r["generation_tokens_per_s"] for r in rows] == [None, 600 / 15, 60 / 15]
    assert [r["num_preempted"] for r in rows] == [None, 2.0, 0.0]
    assert [r["num_running"] for r in rows] == [4.0, 12.0, 1.0]
    assert {r["kv_cache_capacity_tokens"] for r in rows} == {2917 * 16}
    assert {r["instance"] for r in rows} == {"vllm_v1_scrapes"}
    h = res.engine_histograms.to_pylist()
    assert [r["cumulative_count"] for r in h if r["le"] == math.inf] == [10.0, 20.0, 1.0]
    assert [r["sum"] for r in h if r["le"] == 0.1] == [1.5, 6.0, 0.25]
    broken = (
        path.read_text()
        .splitlines()
        .index('vllm:num_requests_running{engine="0",model_name="llama-3.1-8b-instruct" 7.0')
        + 1
    )
    assert [(q.line, q.table) for q in res.quarantine] == [(broken, "engine_samples")]
    assert res.records_read == 3 + 9 + 1
    assert detect(path.read_bytes()[:65536], path).name == "prometheus_text"


def test_explicit_sample_timestamps():
    data = (
        b'vllm:num_requests_running{model_name="m"} 3 1760000000000\n'
        b'vllm:prompt_tokens_total{model_name="m"} 10 1760000000000\n'
        b'vllm:num_requests_running{model_name="m"} 5 1760000010000\n'
        b'vllm:prompt_tokens_total{model_name="m"} 60 1760000010000\n'
    )
    rows = read_bytes(prometheus_text, data).engine_samples.to_pylist()
    assert [(r["time"].timestamp(), r["num_running"], r["prompt_tokens_per_s"]) for r in rows] == [
        (1760000000.0, 3.0, None),
        (1760000010.0, 5.0, 5.0),
    ]
    assert {r["instance"] for r in rows} == {"host-a"}


def test_no_time_at_all_is_quarantined():
    res = read_bytes(prometheus_text, b"vllm:num_requests_running 3\n")
    assert [(q.line, q.field) for q in res.quarantine] == [(1, "time")]
    assert res.engine_samples.num_rows == 0


def test_instance_label_engine_suffix_and_escaped_labels():
    data = (
        b"# scrape 1760000000\n"
        b'vllm:num_requests_running{engine="1",instance="10.0.0.5:8000",model_name="a \\"b\\", c"} 2\n'
        b'sglang:num_running_reqs{instance="10.0.0.6:30000",model_name="q"} 4\n'
    )
    rows = by_instance(read_bytes(prometheus_text, data).engine_samples)
    assert rows["10.0.0.5:8000:1"][0]["model"] == 'a "b", c'  # engine "1" is named even when alone
    assert rows["10.0.0.6:30000"][0]["num_running"] == 4.0


def test_deprecated_itl_histogram_dropped_when_the_new_name_is_present():
    lines = ["# scrape 1760000000"]
    for name in ("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"):
        lines += [
            f'{name}_bucket{{le="0.05"}} 7',
            f'{name}_bucket{{le="+Inf"}} 9',
            f"{name}_sum 0.3",
            f"{name}_count 9",
        ]
    h = read_bytes(prometheus_text, "\n".join(lines).encode()).engine_histograms.to_pylist()
    assert {r["source_metric"] for r in h} == {"vllm:inter_token_latency_seconds"}
    assert [(r["metric"], r["le"], r["cumulative_count"]) for r in h] == [
        ("itl_s", 0.05, 7.0),
        ("itl_s", math.inf, 9.0),
    ]


def test_text_sniff_refuses_other_text():
    for head in (
        b"2024-06-01T10:00:00Z  INFO text_generation_router::server: Success\n",
        b"TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n",
        b'{"resourceSpans": []}\n',
    ):
        assert not prometheus_text.sniff(head, Path("x.txt"))


def test_scrape_time_formats():
    assert _prom.parse_scrape_time("1760000015") == 1760000015.0
    assert _prom.parse_scrape_time("2025-10-09T08:53:35Z") == 1760000015.0
    assert _prom.parse_scrape_time("2025-10-09T10:53:35+02:00") == 1760000015.0


# --- range-query JSON ---------------------------------------------------------------------


def test_range_query_jsonl():
    path = DATA / "vllm_range_query.jsonl"
    assert detect(path.read_bytes()[:65536], path).name == "prometheus_range"
    res = prometheus_range.read(Source(path, path.read_bytes()))
    rows = by_instance(res.engine_samples)
    a, b = rows["10.0.0.5:8000"], rows["10.0.0.6:8000"]
    assert [r["time"].timestamp() for r in a] == [1760000000.0, 1760000015.0, 1760000030.0]
    assert [r["num_running"] for r in a] == [5.0, 7.0, 6.0]
    assert [r["generation_tokens_per_s"] for r in a] == [None, 450 / 15, 450 / 15]
    assert [r["prompt_tokens_per_s"] for r in a] == [None, 1500 / 15, 0.0]
    # 80 -> 110 -> 20: the drop is a restart, so the last interval's increase is 20
    assert [r["generation_tokens_per_s"] for r in b] == [None, 30 / 15, 20 / 15]
    assert [r["kv_cache_usage"] for r in b] == [0.0625, 0.0, 0.125]
    h = res.engine_histograms.to_pylist()
    assert [
        (r["le"], r["cumulative_count"], r["sum"], r["count"])
        for r in h
        if r["time"].timestamp() == 1760000015
    ] == [(1.0, 9.0, 8.25, 11.0), (math.inf, 11.0, 8.25, 11.0)]
    assert {r["metric"] for r in h} == {"e2e_latency_s"}
    assert sorted((q.line, q.field) for q in res.quarantine) == [(3, "__name__"), (4, "status")]
    assert res.records_read == 6 + 6 + 2
    conform(res.engine_samples, "engine_samples")
    conform(res.engine_histograms, "engine_histograms")


def test_range_json_array_and_vector_result():
    docs = [
        {
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [
                    {
                        "metric": {"__name__": "sglang:num_queue_reqs", "model_name": "q"},
                        "value": [1760000000.5, "3"],
                    }
                ],
            },
        },
        {
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [
                    {
                        "metric": {"__name__": "sglang:token_usage", "model_name": "q"},
                        "values": [[1760000000.5, "NaN"]],
                    }
                ],
            },
        },
    ]
    res = read_bytes(prometheus_range, json.dumps(docs, indent=1).encode(), "dumps/sglang-a.json")
    (row,) = res.engine_samples.to_pylist()
    assert (row["instance"], row["model"], row["num_waiting"]) == ("sglang-a", "q", 3.0)
    assert row["kv_cache_usage"] is None  # NaN is Prometheus' "no value"
    assert any("1 NaN samples" in n for n in res.notes)
    assert row["time"] == datetime(2025, 10, 9, 8, 53, 20, 500000, tzinfo=UTC)


def test_range_bad_values_times_and_capacities_are_quarantined():
    # fuzz finding: "values": true crashed the adapter (bool not iterable); also times and capacities
    # that do not fit int64 microseconds / a token count must be quarantined, not crash pyarrow
    def series(name, values):
        return {"metric": {"__name__": name, "instance": "h:1"}, "values": values}

    result = [
        series("vllm:num_requests_running", True),
        series(
            "vllm:num_requests_running", [[1760000000, "2"], [1e300, "3"], ["inf", "4"], [2**2000, "1"], 7]
        ),
        series("sglang:max_total_num_tokens", [[1760000000, "+Inf"], [1760000000, "1e30"]]),
        series("vllm:num_requests_waiting", {"a": 1}),
    ]
    doc = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    res = read_bytes(prometheus_range, json.dumps(doc, indent=1).encode(), "dumps/h.json")
    (row,) = res.engine_samples.to_pylist()
    assert (row["num_running"], row["kv_cache_capacity_tokens"]) == (2.0, None)
    assert row["time"] == datetime.fromtimestamp(1760000000, tz=UTC)
    fields = sorted(q.field for q in res.quarantine)
    assert fields == sorted(
        ["vllm:num_requests_running", "vllm:num_requests_waiting"]  # values not a list
        + ["vllm:num_requests_running", "vllm:num_requests_running"]  # 2**2000 and 7: bad samples
        + ["time", "time"]  # 1e300 and inf
        + ["kv_cache_capacity_tokens", "kv_cache_capacity_tokens"]
    )
    assert res.records_read == 1 + len(res.quarantine)


def test_tgi_gauges_and_histograms():
    data = (
        b"# scrape 1760000000\n"
        b"# TYPE tgi_batch_current_size gauge\ntgi_batch_current_size 3\n"
        b"# TYPE tgi_queue_size gauge\ntgi_queue_size 5\n"
        b"# TYPE tgi_batch_max_total_tokens gauge\ntgi_batch_max_total_tokens 16000\n"
        b"# TYPE tgi_request_queue_duration histogram\n"
        b'tgi_request_queue_duration_bucket{le="0.5"} 4\ntgi_request_queue_duration_bucket{le="+Inf"} 6\n'
        b"tgi_request_queue_duration_sum 2.5\ntgi_request_queue_duration_count 6\n"
        b"# TYPE tgi_request_mean_time_per_token_duration histogram\n"
        b'tgi_request_mean_time_per_token_duration_bucket{le="+Inf"} 6\n'
    )
    assert prometheus_text.sniff(data, Path("tgi.prom"))
    res = read_bytes(prometheus_text, data, "scrapes/tgi-0.prom")
    (row,) = res.engine_samples.to_pylist()
    assert (row["instance"], row["num_running"], row["num_waiting"], row["kv_cache_capacity_tokens"]) == (
        "tgi-0",
        3.0,
        5.0,
        16000,
    )
    h = res.engine_histograms.to_pylist()
    # time_per_token includes prefill in TGI: not canonical TPOT, so not mapped
    assert [(r["metric"], r["le"], r["cumulative_count"], r["sum"], r["count"]) for r in h] == [
        ("queue_time_s", 0.5, 4.0, 2.5, 6.0),
        ("queue_time_s", math.inf, 6.0, 2.5, 6.0),
    ]


def test_sglang_dp_ranks_become_instances():
    data = (
        b"# scrape 1760000000\n"
        b'sglang:num_running_reqs{dp_rank="0",model_name="q",tp_rank="0"} 2\n'
        b'sglang:num_running_reqs{dp_rank="1",model_name="q",tp_rank="0"} 3\n'
    )
    rows = by_instance(read_bytes(prometheus_text, data, "node-1.prom").engine_samples)
    assert {k: v[0]["num_running"] for k, v in rows.items()} == {"node-1:0": 2.0, "node-1:1": 3.0}


_LINES = [
    "# scrape 1760000000",
    "# scrape x",
    'vllm:num_requests_running{engine="0"} 3',
    "vllm:prompt_tokens_total 5",
    'vllm:time_to_first_token_seconds_bucket{le="x"} 1',
    'vllm:time_to_first_token_seconds_bucket{le="+Inf"} NaN',
    "vllm:x{",
    "garbage",
    "vllm:e2e_request_latency_seconds_sum 3 17600000000",
    "sglang:token_usage 0",
    "sglang:num_used_tokens 5",
    "# TYPE a gauge",
    "",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(_LINES), max_size=12))
def test_hostile_text_gives_a_result_or_a_traceana_error(lines):
    try:
        res = read_bytes(prometheus_text, "\n".join(lines).encode())
    except TraceanaError:
        return
    assert res.records_read == res.engine_samples.num_rows + res.engine_histograms.num_rows + len(
        res.quarantine
    )


def test_combine_single_scrape_files_gives_rates_across_them():
    one = b'vllm:prompt_tokens_total{model_name="m"} 100\nvllm:num_requests_running{model_name="m"} 1\n'
    two = b'vllm:prompt_tokens_total{model_name="m"} 400\nvllm:num_requests_running{model_name="m"} 2'
    data = prometheus_text.combine_scrapes([(1760000010.5, two), (1760000000.5, one)])
    rows = read_bytes(prometheus_text, data, "scrapes/pod-a.prom").engine_samples.to_pylist()
    assert [(r["time"].timestamp(), r["num_running"], r["prompt_tokens_per_s"]) for r in rows] == [
        (1760000000.5, 1.0, None),
        (1760000010.5, 2.0, 30.0),
    ]
