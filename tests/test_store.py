"""The embedded store: atomic commits, idempotent re-ingest, duplicates, locking, older versions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import traceana
from traceana.errors import StoreError
from traceana.ingest import ingest_paths
from traceana.store import MANIFEST, open_store


def write_rows(path, n, prefix="r", start_s=1740830400):
    with open(path, "w") as f:
        for i in range(n):
            f.write(
                json.dumps(
                    {
                        "request_id": f"{prefix}{i}",
                        "arrival_time": start_s + i * 7.0,  # spans several days for large n
                        "ttft_s": 0.1,
                        "e2e_latency_s": 0.5,
                        "status": "ok",
                        "model": "m",
                    }
                )
                + "\n"
            )
    return path


def count(store) -> int:
    return store.requests().select(pl.len()).collect().item()


def test_ingest_twice_same_count(tmp_path):
    src = write_rows(tmp_path / "a.jsonl", 100)
    st = traceana.open_store(tmp_path / "store", create=True)
    s1 = ingest_paths(st, [src])
    s2 = ingest_paths(st, [src])
    assert (s1.stored, s2.stored) == (100, 0)
    assert s2.files[0].status == "skipped"
    assert count(st) == 100


def test_partitioned_by_day_hive_layout(tmp_path):
    src = write_rows(tmp_path / "a.jsonl", 30_000)  # 7 s apart: ~2.4 days
    st = traceana.open_store(tmp_path / "store", create=True)
    ingest_paths(st, [src])
    days = sorted(p.name for p in (tmp_path / "store" / "requests").iterdir())
    assert days == ["day=2025-03-01", "day=2025-03-02", "day=2025-03-03"]
    assert count(st) == 30_000
    con = st.duckdb()
    assert con.execute("select count(*) from requests").fetchone()[0] == 30_000


def test_big_day_is_written_as_several_parts_in_row_order(tmp_path, monkeypatch):
    monkeypatch.setattr("traceana.store.PART_ROWS", 1000)
    src = write_rows(tmp_path / "a.jsonl", 30_000)  # from noon, 7 s apart: 6,172 + 12,343 + 11,485 rows a day
    st = traceana.open_store(tmp_path / "store", create=True)
    ingest_paths(st, [src])
    parts = json.loads((tmp_path / "store" / MANIFEST).read_text())["parts"]["requests"]
    per_day = {d: sum(p.split("/")[1] == d for p in parts) for d in {p.split("/")[1] for p in parts}}
    assert per_day == {"day=2025-03-01": 7, "day=2025-03-02": 13, "day=2025-03-03": 12}  # ceil(rows / 1000)
    assert all(pq.read_metadata(tmp_path / "store" / p).num_rows <= 1000 for p in parts)
    got = st.requests().select("request_id", "source_line").collect()
    assert got["request_id"].to_list() == [f"r{i}" for i in range(30_000)]  # every row, in file order
    assert got["source_line"].to_list() == list(range(1, 30_001))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc to name an fd's file")
def test_parts_and_their_directories_are_fsynced_before_the_manifest(tmp_path, monkeypatch):
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        return real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", str(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr("traceana.store.os.fsync", fsync)
    monkeypatch.setattr("traceana.store.os.replace", replace)
    st = traceana.open_store(tmp_path / "store", create=True)
    ingest_paths(st, [write_rows(tmp_path / "a.jsonl", 30_000)])  # three days
    root = (tmp_path / "store").resolve()
    commit = max(
        i for i, ev in enumerate(events) if ev == ("replace", str(root / MANIFEST))
    )  # the ingest's, not the creation's
    synced = {path for kind, path in events[:commit] if kind == "fsync"}
    parts = json.loads((root / MANIFEST).read_text())["parts"]
    listed = [root / p for table in parts.values() for p in table]
    assert len(listed) == 3  # one part a day, no quarantine
    # each part fsynced (under its staging name, before the rename), then each final directory
    staged = sorted(Path(p).name for p in synced if p.endswith(".parquet") and "/.staging-" in p)
    assert staged == sorted(p.name for p in listed)
    assert {str(p.parent) for p in listed} <= synced


def test_same_request_id_from_another_file_is_quarantined(tmp_path):
    a = write_rows(tmp_path / "a.jsonl", 10)
    b = write_rows(tmp_path / "b.jsonl", 12)  # r0..r9 collide, r10, r11 new
    st = traceana.open_store(tmp_path / "store", create=True)
    summary = ingest_paths(st, [a, b])
    assert count(st) == 12
    rep = summary.files[1]
    assert rep.records_read == 12 and rep.stored["requests"] == 2 and rep.quarantined == 10
    q = st.quarantine().collect()
    assert set(q["reason"].str.split(":").list.first()) == {"duplicate"}
    assert sorted(q["source_line"].to_list()) == list(range(1, 11))


def test_duplicates_are_found_in_every_day_the_file_touches(tmp_path):
    # 30,000 rows 7 s apart span three UTC days; the second file repeats a row of each day
    st = traceana.open_store(tmp_path / "store", create=True)
    ingest_paths(st, [write_rows(tmp_path / "a.jsonl", 30_000)])
    again = tmp_path / "b.jsonl"
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    again.write_text("\n".join([lines[0], lines[15_000], lines[29_999]]) + "\n")
    rep = ingest_paths(st, [again]).files[0]
    assert rep.quarantined == 3 and rep.reasons["duplicate"] == 3


def test_days_are_the_utc_dates_of_arrival():
    from datetime import UTC, datetime

    from traceana.ingest.pipeline import _days

    times = [
        datetime(2025, 3, 3, 23, 59, 59, 999_999, tzinfo=UTC),
        None,
        datetime(2025, 3, 4, tzinfo=UTC),
        datetime(1999, 12, 31, 12, tzinfo=UTC),
    ]
    table = pa.table({"arrival_time": pa.array(times, pa.timestamp("us", "UTC"))})
    assert _days(table) == {t.date().isoformat() for t in times if t is not None}
    assert _days(table.slice(1, 1)) == set()


def test_failure_between_write_and_rename_leaves_store_unchanged(tmp_path, monkeypatch):
    st = traceana.open_store(tmp_path / "store", create=True)
    ingest_paths(st, [write_rows(tmp_path / "a.jsonl", 10)])
    before = (tmp_path / "store" / MANIFEST).read_bytes()

    real_replace = os.replace

    def boom(src, dst):
        if str(dst).endswith(MANIFEST):
            raise OSError("simulated crash before the manifest rename")
        return real_replace(src, dst)

    monkeypatch.setattr("traceana.store.os.replace", boom)
    with pytest.raises(OSError, match="simulated crash"):
        st.commit_test_hook = None
        from traceana.ingest import registry
        from traceana.ingest.base import Limits
        from traceana.ingest.pipeline import process
        from traceana.ingest.reader import file_identity, read_source
        from traceana.store import Commit

        path = write_rows(tmp_path / "b.jsonl", 10, prefix="b")
        src = read_source(path, Limits())
        tables, quarantine, rep = process(src, registry.get("canonical"))
        st.commit(
            [Commit(file_identity(path), str(path), "canonical", {**tables, "quarantine": quarantine}, {})]
        )
    monkeypatch.undo()
    assert (tmp_path / "store" / MANIFEST).read_bytes() == before
    reopened = open_store(tmp_path / "store")
    assert count(reopened) == 10  # the renamed-but-uncommitted part is invisible
    with reopened.lock():
        assert reopened.clean_orphans() >= 1
    summary = ingest_paths(reopened, [tmp_path / "b.jsonl"])
    assert summary.stored == 10 and count(reopened) == 20


_KILL_SCRIPT = """
import sys, traceana
from traceana.ingest import ingest_paths
ingest_paths(traceana.open_store(sys.argv[1], create=True), [sys.argv[2]])
"""


def test_sigkill_mid_ingest_store_holds_old_or_new(tmp_path):
    store_dir = tmp_path / "store"
    st = traceana.open_store(store_dir, create=True)
    ingest_paths(st, [write_rows(tmp_path / "base.jsonl", 50, prefix="base")])
    big = write_rows(tmp_path / "big.jsonl", 200_000, prefix="big")
    outcomes = set()
    for delay in (0.3, 0.6, 0.9, 1.2):
        p = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(store_dir), str(big)])
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        n = count(open_store(store_dir))
        assert n in (50, 200_050), n  # never half a file
        outcomes.add(n)
        if n == 200_050:
            break
    summary = ingest_paths(open_store(store_dir), [big])  # a re-run completes it
    assert count(open_store(store_dir)) == 200_050
    assert summary.files[0].status in ("stored", "skipped")


def test_concurrent_ingests_serialize(tmp_path):
    store_dir = tmp_path / "store"
    traceana.open_store(store_dir, create=True)
    files = [write_rows(tmp_path / f"f{i}.jsonl", 20_000, prefix=f"f{i}-") for i in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(store_dir), str(f)]) for f in files]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    st = open_store(store_dir)
    assert count(st) == 40_000
    assert len(st.sources()) == 2


def test_store_written_by_older_minor_version_reads(tmp_path):
    root = tmp_path / "old"
    (root / "requests" / "day=2025-03-01").mkdir(parents=True)
    t = pa.table(
        {
            "request_id": ["a", "b"],
            "arrival_time": pa.array([1740830400_000000, 1740830401_000000], pa.timestamp("us", tz="UTC")),
            "ttft_s": [0.1, 0.2],
            "e2e_latency_s": [1.0, 2.0],
        }
    )
    pq.write_table(t, root / "requests" / "day=2025-03-01" / "part-0.parquet")
    (root / MANIFEST).write_text(
        json.dumps(
            {
                "format": "traceana-store",
                "schema_version": "1.0",
                "sources": {},
                "parts": {"requests": ["requests/day=2025-03-01/part-0.parquet"]},
            }
        )
    )
    df = open_store(root, create=False).requests().collect()
    assert df.height == 2 and df["itl_s"].null_count() == 2 and df["derived_fields"].null_count() == 2
    assert df["ttft_s"].to_list() == [0.1, 0.2]


def test_newer_major_version_refused(tmp_path):
    root = tmp_path / "new"
    root.mkdir()
    (root / MANIFEST).write_text(
        json.dumps({"format": "traceana-store", "schema_version": "2.0", "sources": {}, "parts": {}})
    )
    with pytest.raises(StoreError, match="schema version 2.0"):
        open_store(root).requests()


def test_refuses_non_store_directory(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "precious.txt").write_text("keep me")
    with pytest.raises(StoreError, match="not empty"):
        open_store(tmp_path / "x")


def test_damaged_store_is_one_clear_error(tmp_path):
    """A part listed in the manifest but deleted, or a manifest cut short: StoreError, exit 2, one line."""
    from click.testing import CliRunner

    from traceana.cli import main

    st = traceana.open_store(tmp_path / "store", create=True)
    ingest_paths(st, [write_rows(tmp_path / "a.jsonl", 10)])
    part = st.files("requests")[0]
    part.unlink()
    with pytest.raises(StoreError, match="damaged store: 1 part"):
        st.requests()
    res = CliRunner().invoke(main, ["check", "--store", str(tmp_path / "store")])
    assert res.exit_code == 3 and res.stderr.count("\n") == 1 and "damaged store" in res.stderr  # data error
    (tmp_path / "store" / MANIFEST).write_text('{"format": "traceana')
    res = CliRunner().invoke(main, ["ingest", str(tmp_path / "a.jsonl"), "--store", str(tmp_path / "store")])
    assert res.exit_code == 3 and "unreadable store manifest" in res.stderr and res.stderr.count("\n") == 1
