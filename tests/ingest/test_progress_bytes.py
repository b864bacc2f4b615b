"""Issue 15 item 9: the ingest progress callback advances with bytes read, not with files.

The expected sequence is worked out from the sizes of the files the test writes (the callback is
called before each file with the bytes of the files before it, and once at the end with the total);
a refused or skipped file still counts its bytes."""

from __future__ import annotations

import shutil
from pathlib import Path

from traceana import open_store
from traceana.ingest.pipeline import ingest_paths

SAMPLE = Path(__file__).resolve().parents[2] / "sample_traces" / "arrivals_only_azure.csv"


def test_progress_counts_bytes_in_file_order(tmp_path):
    small = tmp_path / "a_small.txt"
    small.write_bytes(b"not a trace\n")  # 12 bytes; refused, but its bytes were read
    azure = tmp_path / "b_azure.csv"
    shutil.copyfile(SAMPLE, azure)
    n_azure = SAMPLE.stat().st_size
    big = tmp_path / "c_big.txt"
    big.write_bytes(b"z" * 3000)  # 3,000 bytes
    total = 12 + n_azure + 3000
    calls: list[tuple[str, int, int]] = []
    store = open_store(tmp_path / "store", create=True)
    ingest_paths(
        store, [small, azure, big], progress=lambda p, done, tot: calls.append((Path(p).name, done, tot))
    )
    assert calls == [
        ("a_small.txt", 0, total),
        ("b_azure.csv", 12, total),
        ("c_big.txt", 12 + n_azure, total),
        ("c_big.txt", total, total),  # the end: the bar is full
    ]
    # not files: the azure file moves the bar by its size, the 12-byte file barely at all
    assert calls[2][1] - calls[1][1] == n_azure


def test_a_skipped_reingest_still_advances(tmp_path):
    azure = tmp_path / "azure.csv"
    shutil.copyfile(SAMPLE, azure)
    n = azure.stat().st_size
    store = open_store(tmp_path / "store", create=True)
    ingest_paths(store, [azure])
    calls: list[tuple[int, int]] = []
    summary = ingest_paths(store, [azure], progress=lambda p, done, tot: calls.append((done, tot)))
    assert summary.files[0].status == "skipped"
    assert calls == [(0, n), (n, n)]
