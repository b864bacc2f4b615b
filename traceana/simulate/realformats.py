"""Write simulated requests in the formats real systems write (for the bundled samples).

- vLLM V1 ``llm_request`` spans as the OpenTelemetry Collector ``file`` exporter
  writes them: one ``ExportTraceServiceRequest`` JSON object per line.
- vLLM V1 ``/metrics`` text exposition, scraped over time.
- LiteLLM proxy ``StandardLoggingPayload`` records, JSON Lines.

Field names and layouts follow ../shared/formats/NOTES.md and NOTES-released.md
(vLLM 0.10.2+, LiteLLM 1.110). Only the writers decide the layout; the rows
come from a canonical requests table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from traceana.ingest.adapters.prometheus._metric_map import VLLM_TTFT_BUCKETS as TTFT_BUCKETS
from traceana.simulate.fleet import Fleet

_SDK = (
    ("telemetry.sdk.language", "python"),
    ("telemetry.sdk.name", "opentelemetry"),
    ("telemetry.sdk.version", "1.26.0"),
)


def _cols(table: pa.Table, names: list[str]) -> dict[str, list]:
    out = {n: table.column(n).to_pylist() for n in names}
    for n in ("arrival_time", "scheduled_time"):
        if n in names:
            out[n] = table.column(n).cast(pa.int64()).to_pylist()
    return out


def _hex(rng: np.random.Generator, nbytes: int) -> str:
    return rng.bytes(nbytes).hex()


def _attr(key: str, value) -> dict:
    if isinstance(value, str):
        return {"key": key, "value": {"stringValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}  # protojson writes int64 as a string
    return {"key": key, "value": {"doubleValue": value}}


def write_vllm_otlp(
    table: pa.Table, max_tokens: dict[str, int], path: Path, rng: np.random.Generator, batch: int = 32
) -> int:
    """vLLM V1 spans of the ok rows of ``table``, batched per instance as the collector exports them.

    The model goes in resource ``service.name`` (OTEL_SERVICE_NAME=<served model>) and the
    instance in ``host.name``: V1 spans carry no model or instance attribute.
    Returns the number of spans written.
    """
    names = [
        "request_id",
        "arrival_time",
        "queue_time_s",
        "ttft_s",
        "e2e_latency_s",
        "prefill_time_s",
        "decode_time_s",
        "prompt_tokens",
        "output_tokens",
        "instance",
        "model",
        "status",
    ]
    c = _cols(table, names)
    per_inst: dict[str, list[tuple[int, dict]]] = {}
    models: dict[str, str] = {}
    for i in range(table.num_rows):
        if c["status"][i] != "ok":
            continue
        start_ns = c["arrival_time"][i] * 1000
        end_ns = start_ns + round(c["e2e_latency_s"][i] * 1e9)
        prefill, decode = c["prefill_time_s"][i], c["decode_time_s"][i]
        attrs = [
            _attr("gen_ai.latency.time_to_first_token", c["ttft_s"][i]),
            _attr("gen_ai.latency.e2e", c["e2e_latency_s"][i]),
            _attr("gen_ai.latency.time_in_queue", c["queue_time_s"][i]),
            _attr("gen_ai.usage.prompt_tokens", c["prompt_tokens"][i]),
            _attr("gen_ai.usage.completion_tokens", c["output_tokens"][i]),
            _attr("gen_ai.latency.time_in_model_prefill", prefill),
            _attr("gen_ai.latency.time_in_model_decode", decode),
            _attr("gen_ai.latency.time_in_model_inference", prefill + decode),
            _attr("gen_ai.request.id", c["request_id"][i]),
            _attr("gen_ai.request.top_p", 0.9),
            _attr("gen_ai.request.max_tokens", int(max_tokens.get(c["request_id"][i], 1024))),
            _attr("gen_ai.request.temperature", 0.7),
            _attr("gen_ai.request.n", 1),
        ]
        span = {
            "traceId": _hex(rng, 16),
            "spanId": _hex(rng, 8),
            "name": "llm_request",
            "kind": 2,
            "startTimeUnixNano": str(start_ns),
            "endTimeUnixNano": str(end_ns),
            "attributes": attrs,
            "status": {},
        }
        per_inst.setdefault(c["instance"][i], []).append((end_ns, span))
        models[c["instance"][i]] = c["model"][i]
    lines: list[tuple[int, str, str]] = []
    for inst, spans in per_inst.items():
        spans.sort(key=lambda s: s[0])
        resource = {
            "attributes": [_attr("service.name", models[inst]), _attr("host.name", inst)]
            + [_attr(k, v) for k, v in _SDK]
        }
        for k in range(0, len(spans), batch):
            chunk = spans[k : k + batch]
            doc = {
                "resourceSpans": [
                    {
                        "resource": resource,
                        "scopeSpans": [
                            {"scope": {"name": "vllm.llm_engine"}, "spans": [s for _, s in chunk]}
                        ],
                    }
                ]
            }
            lines.append((chunk[-1][0], inst, json.dumps(doc, separators=(",", ":"))))
    lines.sort(key=lambda x: (x[0], x[1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(text + "\n" for _, _, text in lines), encoding="utf-8")
    return sum(len(s) for s in per_inst.values())


# --- Prometheus text exposition (prometheus_client 0.0.4 format, as vLLM serves it) ------------------


def go_float(d: float) -> str:
    """prometheus_client's floatToGoString: repr, with a Go-style exponent for big numbers."""
    if d == float("inf"):
        return "+Inf"
    if d == float("-inf"):
        return "-Inf"
    if d != d:
        return "NaN"
    s = repr(float(d))
    dot = s.find(".")
    if d > 0 and dot > 6:
        mantissa = f"{s[0]}.{s[1:dot]}{s[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+0{dot - 1}"
    return s


def _labels(**kv: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(kv.items())) + "}"


def prometheus_scrape(inst: str, model: str, state: dict, created: float) -> str:
    """One vLLM V1 /metrics body (the subset of families traceana reads, plus their _created)."""
    lab = _labels(engine="0", model_name=model)
    out: list[str] = []

    def family(name: str, kind: str, help_: str, samples: list[tuple[str, str, float]]) -> None:
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {kind}")
        out.extend(f"{n}{lbl} {go_float(v)}" for n, lbl, v in samples)

    family(
        "vllm:num_requests_running",
        "gauge",
        "Number of requests in model execution batches.",
        [("vllm:num_requests_running", lab, state["running"])],
    )
    family(
        "vllm:num_requests_waiting",
        "gauge",
        "Number of requests waiting to be processed.",
        [("vllm:num_requests_waiting", lab, state["waiting"])],
    )
    family(
        "vllm:kv_cache_usage_perc",
        "gauge",
        "KV-cache usage. 1 means 100 percent usage.",
        [("vllm:kv_cache_usage_perc", lab, state["kv"])],
    )
    for base, help_, key in (
        ("vllm:num_preemptions", "Cumulative number of preemption from the engine.", "preempt"),
        ("vllm:prompt_tokens", "Number of prefill tokens processed.", "prompt"),
        ("vllm:generation_tokens", "Number of generation tokens processed.", "gen"),
    ):
        family(f"{base}_total", "counter", help_, [(f"{base}_total", lab, float(state[key]))])
        family(f"{base}_created", "gauge", help_, [(f"{base}_created", lab, created)])
    fr = [(r, _labels(engine="0", finished_reason=r, model_name=model)) for r in ("stop", "length", "abort")]
    family(
        "vllm:request_success_total",
        "counter",
        "Count of successfully processed requests.",
        [("vllm:request_success_total", lbl, float(state["finished"][r])) for r, lbl in fr],
    )
    family(
        "vllm:request_success_created",
        "gauge",
        "Count of successfully processed requests.",
        [("vllm:request_success_created", lbl, created) for _, lbl in fr],
    )
    h = "vllm:time_to_first_token_seconds"
    buckets = [
        (f"{h}_bucket", _labels(engine="0", le=go_float(le), model_name=model), float(n))
        for le, n in zip((*TTFT_BUCKETS, float("inf")), state["ttft_cum"], strict=True)
    ]
    family(
        h,
        "histogram",
        "Histogram of time to first token in seconds.",
        buckets + [(f"{h}_count", lab, float(state["ttft_cum"][-1])), (f"{h}_sum", lab, state["ttft_sum"])],
    )
    family(
        f"{h}_created",
        "gauge",
        "Histogram of time to first token in seconds.",
        [(f"{h}_created", lab, created)],
    )
    cap = state["cap"]
    info = _labels(
        block_size="16",
        cache_dtype="fp8" if state["fp8"] else "auto",
        enable_prefix_caching="True",
        engine="0",
        gpu_memory_utilization="0.9",
        kv_cache_size_tokens=str(cap),
        num_gpu_blocks=str(cap // 16),
    )
    family(
        "vllm:cache_config_info",
        "gauge",
        "Information of the LLMEngine CacheConfig",
        [("vllm:cache_config_info", info, 1.0)],
    )
    return "\n".join(out) + "\n"


def write_prometheus_scrapes(
    out_dir: Path,
    requests: pa.Table,
    samples: dict[str, np.ndarray],
    fleet: Fleet,
    t0_epoch_s: float,
    t_from_s: float,
    t_to_s: float,
    every_s: float,
) -> list[Path]:
    """One file per instance (``<instance>.prom``): ``# scrape <unix s>`` then that scrape's body.

    ``samples`` is the engine's raw per-tick state (s since t0); scrape times are
    the ticks in [t_from_s, t_to_s) that fall on multiples of ``every_s``.
    """
    arr_us = requests.column("arrival_time").cast(pa.int64()).to_numpy()
    ttft = requests.column("ttft_s").to_numpy(zero_copy_only=False)
    e2e = requests.column("e2e_latency_s").to_numpy()
    inst_col = np.asarray(requests.column("instance").to_pylist(), dtype=object)
    status = np.asarray(requests.column("status").to_pylist(), dtype=object)
    reason = np.asarray(requests.column("finish_reason").to_pylist(), dtype=object)
    rel = (arr_us - round(t0_epoch_s * 1e6)) / 1e6
    paths = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for k, spec in enumerate(fleet.instances):
        mine = inst_col == spec.name
        has_ft = mine & ~np.isnan(ttft)
        ft_time, ft_val = rel[has_ft] + ttft[has_ft], ttft[has_ft]
        done = mine & ((status == "ok") | (status == "error")) & ~np.isnan(ttft)
        done_time = rel[done] + e2e[done]
        done_reason = np.where(status[done] == "ok", reason[done], "abort")
        sel = (samples["instance"] == k) & (samples["time_s"] >= t_from_s) & (samples["time_s"] < t_to_s)
        sel &= np.isclose(np.mod(samples["time_s"], every_s), 0.0) | np.isclose(
            np.mod(samples["time_s"], every_s), every_s
        )
        created = t0_epoch_s - 2 * 86400 + 37.0 * k
        text = []
        for j in np.flatnonzero(sel):
            t = float(samples["time_s"][j])
            seen = ft_time <= t
            state = {
                "running": float(samples["running"][j]),
                "waiting": float(samples["waiting"][j]),
                "kv": min(1.0, float(samples["kv_used"][j]) / spec.service.kv_capacity_tokens),
                "preempt": int(samples["preempt_cum"][j]),
                "prompt": int(samples["prompt_cum"][j]),
                "gen": int(samples["gen_cum"][j]),
                "finished": {
                    r: int(np.sum((done_time <= t) & (done_reason == r))) for r in ("stop", "length", "abort")
                },
                "ttft_cum": [int(np.sum(seen & (ft_val <= le))) for le in TTFT_BUCKETS] + [int(seen.sum())],
                "ttft_sum": float(np.sum(ft_val[seen])),
                "cap": spec.service.kv_capacity_tokens,
                "fp8": spec.quantization == "fp8",
            }
            text.append(
                f"# scrape {t0_epoch_s + t:.0f}\n" + prometheus_scrape(spec.name, spec.model, state, created)
            )
        path = out_dir / f"{spec.name}.prom"
        path.write_text("".join(text), encoding="utf-8")
        paths.append(path)
    return paths
