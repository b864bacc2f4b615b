"""DuckDB's raw JSON Lines -> Parquet, the yardstick for ``traceana ingest`` (no validation at all).

Explicit column types (read_ndjson without sniffing), zstd Parquet like the store.

Usage: python benchmarks/impl_duckdb_ingest.py IN.jsonl OUT.parquet
"""

from __future__ import annotations

import sys

import duckdb

COLUMNS = {
    "request_id": "VARCHAR",
    "arrival_time": "TIMESTAMPTZ",
    "queue_time_s": "DOUBLE",
    "num_preemptions": "BIGINT",
    "prompt_tokens": "BIGINT",
    "output_tokens": "BIGINT",
    "cached_prompt_tokens": "BIGINT",
    "ttft_s": "DOUBLE",
    "tpot_s": "DOUBLE",
    "prefill_time_s": "DOUBLE",
    "decode_time_s": "DOUBLE",
    "instance": "VARCHAR",
    "model": "VARCHAR",
    "model_version": "VARCHAR",
    "quantization": "VARCHAR",
    "route": "VARCHAR",
    "status": "VARCHAR",
    "error_type": "VARCHAR",
    "finish_reason": "VARCHAR",
    "e2e_latency_s": "DOUBLE",
}


def convert(src: str, dest: str) -> None:
    rel = duckdb.read_json(src, format="newline_delimited", columns=COLUMNS)
    rel.write_parquet(dest, compression="zstd")


if __name__ == "__main__":
    convert(sys.argv[1], sys.argv[2])
