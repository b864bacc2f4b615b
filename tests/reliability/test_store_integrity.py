"""Rows 'bit flip', 'truncated part', 'manifest garbage', 'paths escaping the store', 'check --json snapshot'."""

from __future__ import annotations

import json

import pytest

from tests.reliability.conftest import numbers, parts, run, snapshot, write_rows
from traceana.errors import StoreCorruptError
from traceana.store import MANIFEST


def _flip(path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("where", [0.3, 0.5, 0.7])
def test_a_flipped_bit_in_a_part_is_refused_by_name(store, where):
    part = parts(store)[0]
    _flip(part, int(part.stat().st_size * where))
    with pytest.raises(StoreCorruptError, match=part.name):
        numbers(store)
    res = run("check", "--store", store, "--verify")
    assert res.exit_code == 3 and part.name in res.stderr and "checksum" in res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


def test_an_intact_store_verifies_and_reads_unchanged(store, tmp_path):
    before = numbers(store)
    res = run("check", "--store", store, "--verify")
    assert res.exit_code == 0 and f"verified {len(parts(store))} part(s)" in res.stderr
    # the same figures as the source itself, computed without the store
    import polars as pl

    src = pl.read_ndjson(tmp_path / "a.jsonl")
    assert before["n"] == src.height and before["ttft"] == pytest.approx(src["ttft_s"].sum())


def test_a_truncated_part_is_a_data_error_naming_the_part(store):
    part = parts(store)[0]
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    res = run("report", "--store", store, "--out", store.parent / "out", "--no-fail")
    assert res.exit_code == 3, res.output + res.stderr
    assert part.name in res.stderr and "Traceback" not in res.stderr and res.stderr.count("\n") == 1
    assert not (store.parent / "out" / "report.json").exists()


@pytest.mark.parametrize(
    "text",
    [
        "[1, 2, 3]",
        '{"format": "traceana-store", "parts": "requests/x.parquet"}',
        '{"format": "traceana-store", "parts": {"requests": [42]}}',
        '{"format": "traceana-store", "schema_version": "x.y", "parts": {}}',
        '{"format": "traceana-store", "parts": {}, "sources": []}',
        '{"format": "traceana-store", "checksums": {"requests/a.parquet": 7}, "parts": {}}',
        "\x00\x01garbage",
    ],
)
def test_manifest_garbage_is_one_clear_error_and_the_store_is_untouched(store, tmp_path, text):
    (store / MANIFEST).write_text(text)
    snap = snapshot(store)
    for args in (
        ["check", "--store", store],
        ["ingest", write_rows(tmp_path / "b.jsonl", 5, "b"), "--store", store],
    ):
        res = run(*args)
        assert res.exit_code == 3, (text, res.output, res.stderr)
        assert "manifest" in res.stderr and res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert snapshot(store) == snap


@pytest.mark.parametrize(
    "bad",
    [
        "../outside.parquet",
        "requests/../../outside.parquet",
        "/etc/passwd",
        "requests/day=x/../../../outside.parquet",
    ],
)
def test_part_paths_escaping_the_store_are_refused(store, bad):
    outside = store.parent / "outside.parquet"
    outside.write_bytes(parts(store)[0].read_bytes())  # a valid Parquet file: following the path would "work"
    m = json.loads((store / MANIFEST).read_text())
    m["parts"]["requests"].append(bad)
    m.pop("manifest_xxh3")
    m.pop("checksums")  # as a hand-edited manifest of an older store would look
    (store / MANIFEST).write_text(json.dumps(m))
    res = run("check", "--store", store, "--json")
    assert res.exit_code == 3 and "not a part of this store" in res.stderr and bad in res.stderr, res.stderr


def test_an_edited_manifest_is_refused_not_read_as_fewer_rows(store):
    m = json.loads((store / MANIFEST).read_text())
    m["parts"]["requests"].pop()
    (store / MANIFEST).write_text(json.dumps(m))
    with pytest.raises(StoreCorruptError, match="manifest_xxh3"):
        numbers(store)


def test_check_json_reads_one_snapshot_of_the_store(store, tmp_path, monkeypatch):
    """A concurrent ingest during ``check --json`` must not mix two states of the store."""
    from traceana.ingest import ingest_paths
    from traceana.metrics import checklist
    from traceana.store import open_store

    extra = write_rows(tmp_path / "more.jsonl", 500, "x")
    real = checklist.coverage

    def coverage_then_ingest(*a, **kw):
        out = real(*a, **kw)
        ingest_paths(open_store(store), [str(extra)])  # another process commits in between
        return out

    monkeypatch.setattr(checklist, "coverage", coverage_then_ingest)
    res = run("check", "--store", store, "--json")
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.output)["requests"] == 3000  # the snapshot the command started from
    assert numbers(store)["n"] == 3500  # and the ingest did commit
