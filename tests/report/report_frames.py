"""Canonical frames for the report tests: a small hand-computable one and a deterministic larger one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa

from traceana.schema import conform

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def requests_frame(rows: list[dict]) -> pl.LazyFrame:
    """Canonical requests (every schema column, nulls where a row does not say)."""
    cols = sorted({k for r in rows for k in r})
    table = pa.Table.from_pylist([{k: r.get(k) for k in cols} for r in rows])
    return pl.from_arrow(conform(table, "requests")).lazy()


PROVENANCE = ("source_format", "source_file", "source_line", "derived_fields")


def write_parquet(lf: pl.LazyFrame, path) -> None:
    """A canonical Parquet file as a source would write it (no provenance columns: ingest adds those)."""
    lf.drop([c for c in PROVENANCE if c in lf.collect_schema().names()]).collect().write_parquet(path)


def engine_frame(rows: list[dict]) -> pl.LazyFrame:
    cols = sorted({k for r in rows for k in r})
    table = pa.Table.from_pylist([{k: r.get(k) for k in cols} for r in rows])
    return pl.from_arrow(conform(table, "engine_samples")).lazy()


#: ten requests: model a (6), b (4); request 6 failed with an error, request 9 timed out.
SMALL = [
    # i, model, status, ttft_s, e2e_s, queue_s, prefill_s, decode_s, output_tokens, prompt_tokens
    (0, "a", "ok", 0.10, 1.0, 0.01, 0.09, 0.80, 41, 100),
    (1, "a", "ok", 0.20, 1.5, 0.02, 0.18, 1.20, 61, 100),
    (2, "a", "ok", 0.30, 2.0, 0.05, 0.25, 1.60, 81, 100),
    (3, "a", "ok", 0.40, 2.5, 0.10, 0.30, 2.00, 101, 100),
    (4, "a", "ok", 0.50, 3.0, 0.20, 0.30, 2.40, 121, 100),
    (5, "a", "ok", 2.50, 5.0, 2.00, 0.50, 2.40, 121, 100),
    (6, "a", "error", None, 0.2, None, None, None, 0, 100),
    (7, "b", "ok", 0.15, 0.5, 0.01, 0.14, 0.30, 11, 50),
    (8, "b", "ok", 0.25, 0.9, 0.02, 0.23, 0.60, 21, 50),
    (9, "b", "timeout", None, 30.0, None, None, None, None, 50),
]


def small_requests() -> pl.LazyFrame:
    rows = []
    for i, model, status, ttft, e2e, q, pf, dec, out, prompt in SMALL:
        tpot = (e2e - ttft) / (out - 1) if ttft is not None and out and out > 1 else None
        rows.append(
            {
                "request_id": f"r{i}",
                "arrival_time": T0 + timedelta(seconds=10 * i),
                "model": model,
                "status": status,
                "ttft_s": ttft,
                "tpot_s": tpot,
                "e2e_latency_s": e2e,
                "queue_time_s": q,
                "prefill_time_s": pf,
                "decode_time_s": dec,
                "output_tokens": out,
                "prompt_tokens": prompt,
                "instance": f"gpu-{model}",
                "error_type": "InternalError" if status == "error" else None,
            }
        )
    return requests_frame(rows)


def synthetic_requests(
    n: int = 2000,
    model_names: tuple[str, ...] = ("llama-3.1-8b", "llama-3.1-70b"),
    seed: int = 7,
    minutes: int = 30,
) -> pl.LazyFrame:
    """A deterministic trace: Poisson-ish arrivals over ``minutes``, lognormal latencies, 2% errors."""
    rng = np.random.default_rng(seed)
    arrivals = np.sort(rng.uniform(0, minutes * 60, n))
    model_idx = rng.integers(0, len(model_names), n)
    out_tok = rng.integers(2, 400, n)
    queue = rng.exponential(0.05, n)
    prefill = rng.lognormal(np.log(0.15), 0.4, n)
    tpot = rng.lognormal(np.log(0.02), 0.3, n) * (1 + model_idx)
    post = rng.uniform(0.001, 0.02, n)
    ttft = queue + prefill
    decode = tpot * (out_tok - 1)
    e2e = ttft + decode + post
    failed = rng.uniform(0, 1, n) < 0.02
    rows = []
    for i in range(n):
        ok = not failed[i]
        rows.append(
            {
                "request_id": f"s{i}",
                "arrival_time": T0 + timedelta(seconds=float(arrivals[i])),
                "model": model_names[model_idx[i]],
                "instance": f"gpu-{model_idx[i]}",
                "status": "ok" if ok else "error",
                "queue_time_s": float(queue[i]) if ok else None,
                "prefill_time_s": float(prefill[i]) if ok else None,
                "decode_time_s": float(decode[i]) if ok else None,
                "ttft_s": float(ttft[i]) if ok else None,
                "tpot_s": float(tpot[i]) if ok else None,
                "e2e_latency_s": float(e2e[i]) if ok else 0.5,
                "output_tokens": int(out_tok[i]) if ok else 0,
                "prompt_tokens": 200,
                "quantization": "bf16",
                "error_type": None if ok else "EngineError",
            }
        )
    return requests_frame(rows)


def synthetic_engine(
    minutes: int = 30, model_names: tuple[str, ...] = ("llama-3.1-8b", "llama-3.1-70b")
) -> pl.LazyFrame:
    rows = []
    for k, model in enumerate(model_names):
        for s in range(0, minutes * 60 + 1, 15):
            rows.append(
                {
                    "time": T0 + timedelta(seconds=s),
                    "instance": f"gpu-{k}",
                    "model": model,
                    "num_running": float(4 + (s // 60) % 5 + k),
                    "num_waiting": float((s // 60) % 3),
                    "kv_cache_usage": 0.2 + 0.02 * ((s // 60) % 10) + 0.1 * k,
                    "gpu_count": 1,
                    "gpu_type": "H100",
                    "generation_tokens_per_s": 500.0 + k,
                }
            )
    return engine_frame(rows)
