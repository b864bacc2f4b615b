"""Shared helpers of the reliability tests: a small real store, CLI runs, a snapshot of a store's files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from traceana.cli import main
from traceana.ingest import ingest_paths
from traceana.store import MANIFEST, open_store


def write_rows(path: Path, n: int, prefix: str = "r", model=lambda i: f"m{i % 3}") -> Path:
    """Canonical JSON Lines: n ok requests over ~2 days, TTFT/e2e varying so that any changed row changes a sum."""
    with open(path, "w") as f:
        for i in range(n):
            f.write(
                json.dumps(
                    {
                        "request_id": f"{prefix}{i}",
                        "arrival_time": 1740830400 + i * (172800 / max(n, 1)),
                        "ttft_s": 0.05 + (i % 97) / 100,
                        "e2e_latency_s": 1.1 + (i % 89) / 10,
                        "status": "ok",  # e2e > every ttft_s: no row is quarantined
                        "model": model(i),
                        "prompt_tokens": 100 + i % 50,
                        "output_tokens": 20 + i % 30,
                    }
                )
                + "\n"
            )
    return path


def numbers(store_dir: Path) -> dict:
    """The figures a report is built from, read through the store API (every read path verifies)."""
    st = open_store(store_dir, create=False)
    df = (
        st.requests()
        .select(
            pl.len().alias("n"),
            pl.col("ttft_s").sum().alias("ttft"),
            pl.col("e2e_latency_s").sum().alias("e2e"),
            pl.col("output_tokens").sum().alias("out"),
            pl.col("request_id").n_unique().alias("ids"),
        )
        .collect()
    )
    return df.to_dicts()[0]


def snapshot(root: Path) -> dict[str, str]:
    """sha256 of every file of a store (the lock file aside): equal snapshots = an unchanged store."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture
def store(tmp_path) -> Path:
    """A store of 3,000 requests over two days (several parts)."""
    root = tmp_path / "store"
    ingest_paths(open_store(root), [str(write_rows(tmp_path / "a.jsonl", 3000))])
    return root


def run(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def parts(root: Path) -> list[Path]:
    m = json.loads((root / MANIFEST).read_text())
    return [root / p for t in m["parts"].values() for p in t]
