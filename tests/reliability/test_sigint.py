"""Row 'Ctrl-C (SIGINT) during a DuckDB JSON read': exit 130, the store unchanged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest

from tests.reliability.conftest import snapshot, write_rows
from traceana.ingest import ingest_paths
from traceana.store import open_store

ROWS = 1_500_000  # ~200 MB of canonical JSON Lines: DuckDB reads it for a few seconds on 2 cores


def _big_jsonl(path) -> None:
    n = ROWS
    pl.DataFrame(
        {
            "request_id": pl.int_range(n, eager=True).cast(pl.String).str.replace(r"^", "big"),
            "arrival_time": pl.datetime_range(
                pl.datetime(2025, 3, 1),
                pl.datetime(2025, 3, 1) + pl.duration(seconds=n - 1),
                "1s",
                eager=True,
                time_zone="UTC",
            ),
            "ttft_s": pl.Series([0.1, 0.2, 0.3] * (n // 3)),
            "e2e_latency_s": 1.5,
            "status": "ok",
            "model": "m",
            "prompt_tokens": 100,
            "output_tokens": 20,
        }
    ).write_ndjson(path)


@pytest.mark.parametrize("delay_s", [0.0, 0.4])
def test_sigint_during_ingest_exits_130_and_leaves_the_store_unchanged(tmp_path, delay_s):
    root = tmp_path / "store"
    ingest_paths(open_store(root), [str(write_rows(tmp_path / "a.jsonl", 100))])
    before = snapshot(root)
    big = tmp_path / "big.jsonl"
    _big_jsonl(big)
    env = {**os.environ, "POLARS_MAX_THREADS": "2"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "traceana", "ingest", str(big), "--store", str(root), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    # the first of three 512k-row batches is staged while DuckDB reads the next: the read is under way
    deadline = time.monotonic() + 120
    while not list(root.glob(".staging-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(delay_s)
    assert proc.poll() is None, "the ingest finished before the signal: make the file bigger"
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    waited = time.monotonic() - sent
    assert proc.returncode == 130, err.decode()
    assert "interrupted" in err.decode() and "Traceback" not in err.decode()
    assert snapshot(root) == before  # no part, no staging directory, no manifest change
    assert not list(root.glob(".staging-*"))
    print(f"stopped {waited:.2f} s after SIGINT")  # the issue asks for < 1 s; timing is not asserted here
