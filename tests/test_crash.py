"""Crash safety: SIGKILL `traceana ingest` at random moments; the store is always whole.

After every kill the store opens, and every input file is in it either entirely
or not at all (never half); a re-run completes the ingest. Concurrent ingests of
one store wait for each other (flock), including when the lock holder is killed.

TRACEANA_CRASH_KILLS sets the number of kills (default 6, kept small for CI);
TRACEANA_CRASH_SEED the seed of the kill times.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from traceana.store import MANIFEST, open_store

KILLS = int(os.environ.get("TRACEANA_CRASH_KILLS", "6"))
SEED = int(os.environ.get("TRACEANA_CRASH_SEED", "20250301"))
ROWS_PER_FILE = 40_000
N_FILES = 3


def write_rows(path: Path, n: int, prefix: str) -> Path:
    with open(path, "w") as f:
        for i in range(n):
            bad = i % 1000 == 999  # one row in a thousand is quarantined: the quarantine must be atomic too
            f.write(
                json.dumps(
                    {
                        "request_id": f"{prefix}{i}",
                        "arrival_time": 1740830400 + i * 7.0,  # several days: several partitions per commit
                        "ttft_s": -1.0 if bad else 0.1,
                        "e2e_latency_s": 0.5,
                        "status": "ok",
                        "model": "m",
                    }
                )
                + "\n"
            )
    return path


def ingest_cmd(store: Path, *paths: Path) -> list[str]:
    return [sys.executable, "-m", "traceana.cli", "ingest", *map(str, paths), "--store", str(store), "--json"]


def per_file(store_dir: Path) -> tuple[dict[str, int], dict[str, int], set[str]]:
    """(requests per source file, quarantined per source file, sources named in the manifest)."""
    st = open_store(store_dir, create=False)  # must always open
    req = st.requests().group_by("source_file").len().collect()
    q = st.quarantine().group_by("source_file").len().collect()
    names = {v["source"] for v in st.sources().values()}
    rid = st.requests().select(pl.col("request_id").is_duplicated().any()).collect().item()
    assert not rid, "a request stored twice"
    return (
        dict(zip(req["source_file"], req["len"], strict=True)),
        dict(zip(q["source_file"], q["len"], strict=True)),
        names,
    )


def assert_whole(store_dir: Path, files: list[Path]) -> int:
    """Every file entirely present (rows + quarantine + manifest source) or entirely absent; return how many are in."""
    req, q, names = per_file(store_dir)
    complete = 0
    for f in files:
        n_req, n_q = req.get(str(f), 0), q.get(str(f), 0)
        if str(f) in names:
            assert (n_req, n_q) == (ROWS_PER_FILE - ROWS_PER_FILE // 1000, ROWS_PER_FILE // 1000), (
                f,
                n_req,
                n_q,
            )
            complete += 1
        else:
            assert (n_req, n_q) == (0, 0), f"half a file in the store: {f}: {n_req} rows, {n_q} quarantined"
    return complete


def listed_parts_only(store_dir: Path) -> None:
    manifest = json.loads((store_dir / MANIFEST).read_text())
    listed = {p for parts in manifest["parts"].values() for p in parts}
    on_disk = {p.relative_to(store_dir).as_posix() for p in store_dir.rglob("*.parquet")}
    assert on_disk == listed, on_disk ^ listed
    assert not list(store_dir.glob(".staging-*"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("crash-inputs")
    return [write_rows(d / f"f{i}.jsonl", ROWS_PER_FILE, f"f{i}-") for i in range(N_FILES)]


def test_sigkill_loop_never_half_a_file(tmp_path, inputs):
    rng = random.Random(SEED)
    store_dir = tmp_path / "store"
    survived = 0
    outcomes: list[int] = []
    t0 = time.monotonic()  # an uninterrupted run tells how long a whole ingest takes here
    subprocess.run(ingest_cmd(tmp_path / "timing", *inputs), capture_output=True, check=True, timeout=300)
    full = time.monotonic() - t0
    while survived < KILLS:
        p = subprocess.Popen(
            ingest_cmd(store_dir, *inputs), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.0, full))  # anywhere from start-up to the last commit
        finished = p.poll() is not None
        p.send_signal(signal.SIGKILL)
        p.wait()
        if not store_dir.exists() or not (store_dir / MANIFEST).exists():
            continue  # killed before the store was created: nothing to check
        n = assert_whole(store_dir, inputs)
        outcomes.append(n)
        if not finished:
            survived += 1
        if n == len(inputs) or rng.random() < 0.3:  # start over now and then so kills land at every stage
            shutil.rmtree(store_dir)
    # A re-run completes whatever the last kill interrupted, and leaves no orphan behind.
    res = subprocess.run(ingest_cmd(store_dir, *inputs), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    assert assert_whole(store_dir, inputs) == len(inputs)
    listed_parts_only(store_dir)
    print(f"crash: {survived} kills survived, files complete after each kill: {outcomes}")


def test_concurrent_ingest_of_the_same_file_stores_it_once(tmp_path, inputs):
    store_dir = tmp_path / "store"
    procs = [
        subprocess.Popen(
            ingest_cmd(store_dir, inputs[0]), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    statuses = sorted(json.loads(o)["files"][0]["status"] for o, _ in outs)
    assert statuses == ["skipped", "stored"]  # the second waited for the lock, then saw the file stored
    assert assert_whole(store_dir, inputs) == 1


def test_killing_the_lock_holder_lets_the_waiter_finish(tmp_path, inputs):
    store_dir = tmp_path / "store"
    open_store(store_dir)
    lock = open(store_dir / ".lock", "a+b")
    import fcntl

    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # we hold the lock: both ingests must wait
    try:
        a = subprocess.Popen(
            ingest_cmd(store_dir, inputs[0], inputs[1]), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        b = subprocess.Popen(
            ingest_cmd(store_dir, inputs[1], inputs[2]),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        assert a.poll() is None and b.poll() is None  # both are waiting, nothing written
        assert assert_whole(store_dir, inputs) == 0
    finally:
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
        lock.close()
    time.sleep(0.3)
    a.send_signal(signal.SIGKILL)  # kill whichever state a is in; the kernel releases its lock
    a.wait()
    out, err = b.communicate(timeout=300)
    assert b.returncode == 0 and "Traceback" not in err, err
    assert assert_whole(store_dir, inputs) >= 2  # b's two files, whatever a managed
    listed_before = json.loads((store_dir / MANIFEST).read_text())
    res = subprocess.run(ingest_cmd(store_dir, *inputs), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0
    assert assert_whole(store_dir, inputs) == len(inputs)
    assert set(listed_before["sources"]) <= set(json.loads((store_dir / MANIFEST).read_text())["sources"])
    listed_parts_only(store_dir)
