"""A hand-built report dict that exercises every section and chart (no metric code involved)."""

from __future__ import annotations


def fake_report(model: str = "llama-3.1-8b") -> dict:
    t = [f"2025-01-01T00:{m:02d}:00Z" for m in range(10)]
    lat = []
    for metric, base in (("ttft_s", 0.2), ("tpot_s", 0.02), ("e2e_latency_s", 2.0)):
        for group in ({}, {"model": model}):
            lat.append(
                {
                    "group": group,
                    "metric": metric,
                    "count": 100,
                    "mean": base,
                    "p50": base,
                    "p90": base * 1.5,
                    "p95": base * 2,
                    "p99": base * 3,
                    "p99_9": base * 4,
                    "ci": {"p50": [base * 0.9, base * 1.1], "p99": [None, None]},
                    "reliable": {"p50": True, "p90": True, "p95": False, "p99": False, "p99_9": False},
                }
            )
    slo = [
        {
            "name": "ttft-2s",
            "objective": 0.99,
            "metric": "ttft_s",
            "op": "lte",
            "threshold": 2.0,
            "total": 110,
            "bad": 12,
            "unmeasured": 0,
            "attainment": 98 / 110,
            "allowed_bad": 1.1,
            "budget_remaining": 1 - 12 / 1.1,
            "met": False,
            "budget_exhausted": True,
            "alerts": [
                {
                    "severity": "page",
                    "long_window": "1h",
                    "short_window": "5m",
                    "factor": 14.4,
                    "fired_at": t[2],
                    "cleared_at": t[5],
                    "peak_burn_rate": 30.0,
                }
            ],
        },
        {
            "name": "availability",
            "objective": 0.9,
            "metric": None,
            "op": None,
            "threshold": None,
            "total": 110,
            "bad": 10,
            "unmeasured": 0,
            "attainment": 100 / 110,
            "allowed_bad": 11.0,
            "budget_remaining": 1 - 10 / 11,
            "met": True,
            "budget_exhausted": False,
            "alerts": [],
        },
    ]
    return {
        "schema_version": "1",
        "title": f"report for {model}",
        "generated_at": "2025-01-02T00:00:00Z",
        "traceana_version": "0.1.0",
        "window": {"start": t[0], "end": "2025-01-01T00:10:00Z", "seconds": 600.0},
        "filters": {"since": None, "until": None, "by": ["model"], "every": "1m"},
        "requests": {
            "total": 110,
            "ok": 100,
            "failed": 10,
            "by_status": {"error": 7, "ok": 100, "timeout": 3},
        },
        "latency": lat,
        "latency_budget": [
            {
                "group": {},
                "at": at,
                "queue_s": 0.03,
                "prefill_s": 0.25,
                "decode_s": 2.0,
                "post_s": 0.015,
                "e2e_s": 2.295,
                "share_queue": 0.03 / 2.295,
                "share_prefill": 0.25 / 2.295,
                "share_decode": 2.0 / 2.295,
                "share_post": 0.015 / 2.295,
            }
            for at in ("p50", "p99")
        ],
        "concurrency": {
            "arrival_rate_per_s": 20.0,
            "mean_latency_s": 1.5,
            "littles_law_L": 30.0,
            "empirical_mean": 29.5,
            "empirical_max": 41,
            "ratio": 29.5 / 30,
            "verdict": "consistent",
        },
        "slo": slo,
        "goodput": {
            "thresholds": {"ttft_s": 2.0},
            "total": 110,
            "good": 90,
            "good_fraction": 90 / 110,
            "goodput_per_s": 0.15,
            "throughput_per_s": 110 / 600,
            "window_s": 600.0,
        },
        "cost": {
            "tokens": "output",
            "prices": {"H100": 4.0},
            "rows": [
                {
                    "model": model,
                    "instance": "gpu-a0",
                    "gpu_hours": 1.0,
                    "output_tokens": 4_320_000,
                    "cost_usd": 4.0,
                    "effective_per_million_output": 4.0 / 4.32,
                    "effective_per_million_all": 0.5,
                    "utilization": 0.3,
                    "nominal_per_million": 0.9259,
                    "provisioned": True,
                    "price_per_gpu_hour": 4.0,
                    "gpu_count": 1,
                    "prompt_tokens": 8_000_000,
                }
            ],
            "totals": {
                "gpu_hours": 1.0,
                "output_tokens": 4_320_000,
                "prompt_tokens": 8_000_000,
                "cost_usd": 4.0,
                "effective_per_million_output": 4.0 / 4.32,
                "effective_per_million_all": 0.5,
                "utilization": 0.3,
            },
            "autoscaling": [
                {
                    "model": model,
                    "replica_hours": 0.5,
                    "price_per_replica_hour": 4.0,
                    "cost_usd": 2.0,
                    "actual_cost_usd": 4.0,
                    "per_million_output": 2.0 / 4.32,
                }
            ],
            "target_utilization": 0.7,
        },
        "capacity": {"target_utilization": 0.7, "replica_hours": 0.5},
        "kv": None,
        "degradation": {
            "choice": "lower-k",
            "eligible": ["lower-k"],
            "reason": "best quality under the threshold",
            "metric": "e2e_latency_s",
            "threshold": 1.6,
            "percentile": 0.99,
            "slo": "e2e-1.6s",
            "options": [
                {
                    "name": "full",
                    "source": "config",
                    "count": None,
                    "quality": 1.0,
                    "latency": 2.5,
                    "eligible": False,
                },
                {
                    "name": "lower-k",
                    "source": "trace",
                    "count": 40,
                    "quality": 0.97,
                    "latency": 1.5,
                    "eligible": True,
                },
            ],
        },
        "checklist": [
            {
                "item": i,
                "name": f"item {i}",
                "fields_present": ["a", "b"],
                "fields_missing": [],
                "fill_fraction": 1.0 - i / 10,
                "verdict": ["complete", "partial", "missing"][i % 3],
            }
            for i in range(1, 7)
        ],
        "series": {
            "latency_ecdf": [
                {"metric": m, "le": 10 ** (k / 20), "cum_count": (k + 30), "cum_fraction": (k + 30) / 60}
                for m in ("ttft_s", "e2e_latency_s")
                for k in range(-30, 30, 3)
            ],
            "percentiles_over_time": [
                {
                    "window_start": x,
                    "metric": m,
                    "count": 10,
                    "p50": 0.2 + i / 100,
                    "p90": 0.3,
                    "p99": 0.5 + i / 50,
                }
                for i, x in enumerate(t)
                for m in ("ttft_s", "e2e_latency_s")
            ],
            "concurrency": [
                {
                    "window_start": x,
                    "in_flight_mean": 29 + i % 3,
                    "littles_law_L": 30.0,
                    "arrival_rate_per_s": 20.0,
                }
                for i, x in enumerate(t)
            ],
            "queue_vs_utilization": [
                {
                    "rho_bin_mid": (b + 0.5) / 10,
                    "observed_mean_queue_s": 0.01 * b,
                    "mm1_response_s": 0.2 / (1 - (b + 0.5) / 10),
                    "windows": 3,
                }
                for b in range(9)
            ],
            "engine": [
                {
                    "window_start": x,
                    "instance": inst,
                    "kv_cache_usage": 0.1 * i % 1,
                    "num_running": i + 1,
                    "num_waiting": 0,
                    "gpu_utilization": 0.5,
                }
                for i, x in enumerate(t)
                for inst in ("gpu-a0", "gpu-a1")
            ],
            "burn": [
                {
                    "window_start": x,
                    "slo": "ttft-2s",
                    "total": 11,
                    "bad": i % 3,
                    "burn_rate": (i % 3) / 11 / 0.01,
                    "budget_remaining": 1 - i / 9,
                }
                for i, x in enumerate(t)
            ],
            "goodput": [
                {
                    "window_start": x,
                    "window_s": 60.0,
                    "total": 11,
                    "good": 9,
                    "fraction": 9 / 11,
                    "goodput_per_s": 0.15,
                    "throughput_per_s": 11 / 60,
                }
                for x in t
            ],
            "autoscale": [
                {"window_start": x, "group": model, "replicas": 1 + i % 2} for i, x in enumerate(t)
            ],
        },
        "verdict": {"breached": ["ttft-2s"], "exit_code": 1},
        "warnings": ["kv: no engine samples"],
    }
