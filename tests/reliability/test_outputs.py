"""Rows 'disk full / read-only output dir', 'formula injection in CSV export', 'terminal escape sequences'."""

from __future__ import annotations

import csv
import errno
import json
from pathlib import Path

import pytest

from tests.reliability.conftest import run, write_rows
from traceana.ingest import ingest_paths
from traceana.store import open_store


@pytest.fixture
def small_store(tmp_path) -> Path:
    root = tmp_path / "s"
    ingest_paths(open_store(root), [str(write_rows(tmp_path / "a.jsonl", 200))])
    return root


def _disk_full_after(monkeypatch, n_bytes: int):
    """Every file written through Path.write_text/write_bytes gets n_bytes, then ENOSPC (as a full disk does)."""

    def text(self, data, *a, **kw):
        with open(self, "w", encoding="utf-8") as f:
            f.write(data[:n_bytes])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", text)


def test_disk_full_during_report_is_an_io_error_and_leaves_no_partial_file(
    small_store, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.json").write_text('{"old": true}')  # an earlier report stays whole
    _disk_full_after(monkeypatch, 100)
    res = run("report", "--store", small_store, "--out", out, "--no-fail")
    assert res.exit_code == 4, res.stderr
    assert (
        "No space left on device" in res.stderr and str(out) in res.stderr and "Traceback" not in res.stderr
    )
    monkeypatch.undo()
    assert sorted(p.name for p in out.iterdir()) == ["report.json"]  # no partial report.html, no temp file
    assert json.loads((out / "report.json").read_text()) == {"old": True}


@pytest.mark.parametrize("out", ["/proc/traceana-out", "/dev/null/out"])
def test_unwritable_report_dir_is_an_io_error_naming_it(small_store, out):
    res = run("report", "--store", small_store, "--out", out, "--no-fail")
    assert res.exit_code == 4 and out in res.stderr and "Traceback" not in res.stderr, res.stderr


def test_unwritable_export_is_an_io_error_naming_the_path(small_store, tmp_path):
    res = run("export", "--store", small_store, "--out", "/proc/traceana.csv")
    assert res.exit_code == 4 and "/proc/traceana.csv" in res.stderr, res.stderr


FORMULAS = ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_csv_export_neutralizes_formula_cells(tmp_path):
    names = [*FORMULAS, "plain", "a=b"]
    src = write_rows(tmp_path / "a.jsonl", len(names), model=lambda i: names[i])
    ingest_paths(open_store(tmp_path / "s"), [str(src)])
    res = run("export", "--store", tmp_path / "s", "--out", tmp_path / "x.csv")
    assert res.exit_code == 0, res.stderr
    with open(tmp_path / "x.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    got = {r["request_id"]: r["model"] for r in rows}
    for i, name in enumerate(names):
        expected = "'" + name if name[0] in "=+-@\t\r" else name  # OWASP: prefix with a single quote
        assert got[f"r{i}"] == expected
    assert float(rows[0]["ttft_s"]) > 0  # numbers stay numbers
    assert not list(tmp_path.glob(".x.csv.*"))


def test_terminal_output_escapes_control_sequences(tmp_path):
    evil = "m\x1b[2J\x1b]0;pwned\x07\rX"
    src = write_rows(tmp_path / "a.jsonl", 20, model=lambda i: evil)
    bad = tmp_path / "bad\x1b[31m.jsonl"
    bad.write_text(
        json.dumps(
            {
                "request_id": "x",
                "arrival_time": 1740830400,
                "ttft_s": -1.0,
                "e2e_latency_s": 1.0,
                "status": "ok",
                "model": evil,
            }
        )
        + "\n"
    )  # quarantined: negative TTFT
    ingest_paths(open_store(tmp_path / "s"), [str(src), str(bad)])
    for args in (
        ["report", "--store", tmp_path / "s", "--out", tmp_path / "o", "--no-fail", "--by", "model"],
        ["quarantine", "--store", tmp_path / "s"],
        ["ingest", bad, "--store", tmp_path / "s2"],
    ):
        res = run(*args)
        assert res.exit_code in (0, 2), res.stderr
        for stream in (res.output, res.stderr):
            assert "\x1b" not in stream and "\x07" not in stream and "\r" not in stream, (args, stream)
    res = run("quarantine", "--store", tmp_path / "s")
    assert "bad\\x1b[31m.jsonl" in res.output  # the file name is shown, its escape sequence visibly escaped
