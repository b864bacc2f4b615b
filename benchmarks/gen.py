"""Generate a seeded synthetic serving trace for the benchmarks.

Writes, under ``benchmarks/data/n<ROWS>/`` (git-ignored):

    store/            a traceana store (day-partitioned Parquet, canonical ``requests``)
    traceana.toml     the SLOs, GPU prices and deployments the core report uses
    meta.json         seed, rows, span, start
    requests.jsonl    (with --jsonl N) the first N rows as canonical JSON Lines

The trace is generated directly with numpy (the discrete-event simulator in
``traceana/simulate`` is far too slow for 10^7-10^8 requests): 4 models on 16
instances, diurnal arrivals over a day or more (~107 req/s at 10M rows),
lognormal prompt/output tokens, queue, prefill and TPOT, ~1% failures
(error, timeout, cancelled, rejected), a one-hour incident (30% errors
fleet-wide, 4x prefill on one model) so the burn-rate alerts fire. Generated in chunks of
``--chunk`` rows, each with its own Generator seeded by (seed, first row), so
memory stays bounded (the 100M-row store is written chunk by chunk); the same
seed and chunk size give the same trace.

Usage:
    python benchmarks/gen.py --rows 10000000 [--jsonl 1000000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CHUNK_ROWS = 2_000_000
START = datetime(2025, 3, 3, tzinfo=UTC)
RATE_PER_S = 107.0  # mean arrivals per second; the span is at least 26 h
MIN_SPAN_S = 26 * 3600

# name, share, instances, prefill s/token, tpot s, gpu_type, gpu_count, version, quantization
MODELS = (
    ("llama-3.1-8b", 0.45, 6, 0.00008, 0.012, "H100", 1, "v2", "bf16"),
    ("llama-3.1-70b", 0.25, 5, 0.00040, 0.035, "H100", 4, "v1", "fp8"),
    ("qwen2.5-32b", 0.20, 3, 0.00025, 0.025, "A100", 2, "v1", "bf16"),
    ("mistral-7b", 0.10, 2, 0.00010, 0.015, "L40S", 1, "v3", "bf16"),
)
INCIDENT_MODEL = 1  # llama-3.1-70b: 4x prefill time during the incident
INCIDENT_AT = 0.4  # fraction of the span
INCIDENT_S = 60 * 60
INCIDENT_ERROR_P = 0.3  # every model
ROUTES = ("chat", "completions", "batch")
STATUSES = ("ok", "error", "timeout", "cancelled", "rejected")
FAIL_P = (0.004, 0.002, 0.003, 0.001)  # error, timeout, cancelled, rejected
GPU_PRICES = {"H100": 4.0, "A100": 2.5, "L40S": 1.2}
# name, metric, threshold (s), objective
SLOS = (
    ("ttft-2500ms", "ttft_s", 2.5, 0.98),
    ("e2e-60s", "e2e_latency_s", 60.0, 0.98),
    ("availability", None, None, 0.985),
)
JSONL_COLUMNS = (
    "request_id",
    "arrival_time",
    "queue_time_s",
    "num_preemptions",
    "prompt_tokens",
    "output_tokens",
    "cached_prompt_tokens",
    "ttft_s",
    "tpot_s",
    "prefill_time_s",
    "decode_time_s",
    "instance",
    "model",
    "model_version",
    "quantization",
    "route",
    "status",
    "error_type",
    "finish_reason",
    "e2e_latency_s",
)


def instances() -> list[tuple[str, int]]:
    """(instance name, model index) for every instance."""
    out = []
    for m, spec in enumerate(MODELS):
        short = spec[0].replace(".", "").replace("-", "")
        out += [(f"{short}-{i}", m) for i in range(spec[2])]
    return out


def span_seconds(rows: int) -> float:
    return max(float(MIN_SPAN_S), rows / RATE_PER_S)


def _cumulative_rate(span: float) -> tuple[np.ndarray, np.ndarray]:
    """Grid times (s) and the normalized cumulative arrival intensity (diurnal, +-60%)."""
    grid = np.linspace(0.0, span, int(span // 60) + 2)
    mid = (grid[:-1] + grid[1:]) / 2
    rate = 1.0 + 0.6 * np.sin(2 * np.pi * (mid / 86400.0 - 0.3))
    cum = np.concatenate(([0.0], np.cumsum(rate * np.diff(grid))))
    return grid, cum / cum[-1]


def _dict_strings(codes: np.ndarray, labels: list[str | None]) -> pa.Array:
    """Strings from integer codes (label None -> null), without one Python object per row."""
    arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(labels, pa.string()))
    return arr.cast(pa.string())


def chunk(rows: int, first: int, n: int, seed: int) -> pa.Table:
    """Rows [first, first + n) of the trace as a canonical ``requests`` Arrow table."""
    from traceana.schema import arrow_schema

    rng = np.random.default_rng([seed, first])
    span = span_seconds(rows)
    grid, cum = _cumulative_rate(span)
    u = (first + np.sort(rng.random(n)) * n) / rows
    t = np.interp(u, cum, grid)
    arr_us = int(START.timestamp()) * 1_000_000 + np.floor(t * 1e6).astype(np.int64)

    shares = np.array([m[1] for m in MODELS])
    model = rng.choice(len(MODELS), size=n, p=shares / shares.sum())
    n_inst = np.array([m[2] for m in MODELS])
    inst_off = np.concatenate(([0], np.cumsum(n_inst)[:-1]))
    instance = inst_off[model] + (rng.random(n) * n_inst[model]).astype(np.int64)
    prefill_rate = np.array([m[3] for m in MODELS])[model]
    tpot_med = np.array([m[4] for m in MODELS])[model]

    prompt = np.clip(np.rint(rng.lognormal(np.log(600), 0.9, n)), 1, 32000).astype(np.int64)
    output = np.clip(np.rint(rng.lognormal(np.log(180), 0.9, n)), 1, 4096).astype(np.int64)
    cached = np.where(rng.random(n) < 0.3, (prompt * rng.random(n)).astype(np.int64), 0)
    queue = rng.lognormal(np.log(0.03), 1.0, n)
    prefill = (prompt - cached) * prefill_rate * rng.lognormal(0.0, 0.15, n) + 0.005
    incident = np.abs(t - (INCIDENT_AT * span + INCIDENT_S / 2)) < INCIDENT_S / 2
    prefill = np.where(incident & (model == INCIDENT_MODEL), prefill * 4, prefill)
    ttft = queue + prefill
    tpot = tpot_med * rng.lognormal(0.0, 0.2, n)
    decode = tpot * (output - 1)
    e2e = ttft + decode + rng.lognormal(np.log(0.004), 0.4, n)

    # status: ~1% failures, 20% errors for the incident model during the incident
    r = rng.random(n)
    edges = np.cumsum(FAIL_P)
    status = np.zeros(n, dtype=np.int64)
    for k, edge in enumerate(edges):
        status = np.where(
            (status == 0) & (r >= 1 - edge) & (r < 1 - (edges[k - 1] if k else 0)), k + 1, status
        )
    status = np.where(incident & (rng.random(n) < INCIDENT_ERROR_P), 1, status)
    ok, err, tmo, can, rej = (status == k for k in range(5))
    frac = rng.uniform(0.05, 1.0, n)
    e2e = np.where(err | can, e2e * frac, e2e)
    e2e = np.where(tmo, np.maximum(60.0 + rng.random(n) * 0.01, ttft), e2e)
    # a request cut before its first token has no TTFT
    ttft_null = (err & (rng.random(n) < 0.5)) | rej | (ok & (rng.random(n) < 0.002)) | (ttft > e2e)
    tpot_null = ~ok | (output <= 1)
    output = np.where(rej, 0, output)

    def masked(x: np.ndarray, null: np.ndarray) -> pa.Array:
        return pa.array(x, mask=null)

    idx = np.arange(first, first + n, dtype=np.int64)
    route = np.searchsorted(np.array([0.7, 0.9]), rng.random(n), side="right")
    finish = np.where(ok, np.where((output >= 4096) | (rng.random(n) < 0.1), 1, 0), np.where(rej | tmo, 3, 2))
    error_type = np.select([err, tmo, rej], [np.where(rng.random(n) < 0.7, 0, 1), 2, 3], 4)
    names = instances()
    cols = {
        "request_id": pl.Series(idx).cast(pl.String).str.zfill(10).to_arrow(),
        "arrival_time": pa.array(arr_us, pa.timestamp("us", tz="UTC")),
        "queue_time_s": masked(queue, rej),
        "num_preemptions": masked(rng.poisson(0.02, n).astype(np.int64), rej),
        "prompt_tokens": pa.array(prompt),
        "output_tokens": pa.array(output),
        "cached_prompt_tokens": pa.array(cached),
        "ttft_s": masked(ttft, ttft_null),
        "tpot_s": masked(tpot, tpot_null),
        "prefill_time_s": masked(prefill, rej),
        "decode_time_s": masked(decode, ~ok),
        "instance": _dict_strings(instance, [name for name, _ in names]),
        "model": _dict_strings(model, [m[0] for m in MODELS]),
        "model_version": _dict_strings(model, [m[7] for m in MODELS]),
        "quantization": _dict_strings(model, [m[8] for m in MODELS]),
        "route": _dict_strings(route, list(ROUTES)),
        "status": _dict_strings(status, list(STATUSES)),
        "error_type": _dict_strings(
            error_type, ["internal_error", "cuda_oom", "timeout", "queue_full", None]
        ),
        "finish_reason": _dict_strings(finish, ["stop", "length", "abort", None]),
        "e2e_latency_s": masked(e2e, rej),
        "source_format": _dict_strings(np.zeros(n, np.int64), ["canonical"]),
        "source_file": _dict_strings(np.zeros(n, np.int64), ["benchmarks/gen.py"]),
        "source_line": pa.array(idx + 1),
    }
    schema = arrow_schema("requests")
    arrays = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in schema]
    return pa.Table.from_arrays([a.cast(f.type) for a, f in zip(arrays, schema, strict=True)], schema=schema)


def write_config(out: Path, rows: int) -> None:
    span = span_seconds(rows)
    end = START + timedelta(seconds=span) + timedelta(hours=1)
    lines = [
        "# generated by benchmarks/gen.py",
        "[report]",
        'by = ["model"]',
        'windows = ["1m"]',
        "",
        "[gpu_prices]",
    ]
    lines += [f"{k} = {v}" for k, v in GPU_PRICES.items()]
    lines += ["", "[cost]", 'tokens = "output"', ""]
    for name, metric, thr, obj in SLOS:
        lines += ["[[slo]]", f'name = "{name}"', f"objective = {obj}"]
        if metric:
            lines += [f'metric = "{metric}"', 'op = "lte"', f"threshold = {thr}"]
        lines.append("")
    for name, m in instances():
        spec = MODELS[m]
        lines += [
            "[[deployment]]",
            f'instance = "{name}"',
            f'model = "{spec[0]}"',
            f'gpu_type = "{spec[5]}"',
            f"gpu_count = {spec[6]}",
            f'start = "{START.isoformat()}"',
            f'end = "{end.isoformat()}"',
            "",
        ]
    (out / "traceana.toml").write_text("\n".join(lines), encoding="utf-8")


def generate(
    rows: int, seed: int = 7, jsonl: int = 0, chunk_rows: int = CHUNK_ROWS, out: Path | None = None, log=print
) -> Path:
    """Write the store (and optionally JSON Lines) for ``rows`` requests; return the data directory."""
    from traceana.store import Commit, open_store

    out = out or DATA / f"n{rows}"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    store = open_store(out / "store")
    jsonl_left = jsonl
    jf = open(out / "requests.jsonl", "wb") if jsonl else None
    t0 = time.perf_counter()
    try:
        for first in range(0, rows, chunk_rows):
            n = min(chunk_rows, rows - first)
            table = chunk(rows, first, n, seed)
            with store.lock():
                store.commit(
                    [
                        Commit(
                            f"benchmarks-gen:{seed}:{rows}:{first}",
                            "benchmarks/gen.py",
                            "canonical",
                            {"requests": table},
                            {"rows": n},
                        )
                    ]
                )
            if jf is not None and jsonl_left > 0:
                part = pl.from_arrow(table.slice(0, min(n, jsonl_left)).select(list(JSONL_COLUMNS)))
                part = part.with_columns(pl.col("arrival_time").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ"))
                part.write_ndjson(jf)
                jsonl_left -= part.height
            log(f"  {first + n:>12,} rows  {time.perf_counter() - t0:7.1f} s")
    finally:
        if jf is not None:
            jf.close()
    write_config(out, rows)
    meta = {
        "rows": rows,
        "seed": seed,
        "span_s": span_seconds(rows),
        "start": START.isoformat(),
        "jsonl_rows": jsonl,
        "chunk_rows": chunk_rows,
        "generated_at": datetime.now(UTC).isoformat(),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument(
        "--jsonl", type=int, default=0, help="also write the first N rows as canonical JSON Lines"
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--chunk", type=int, default=CHUNK_ROWS)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    out = generate(args.rows, args.seed, args.jsonl, args.chunk, args.out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
