"""An adapter that crashes (a bug, not bad input) costs one file, cleanly: one message, nothing stored."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

from hostile.cases import CASES, good, jsonl
from traceana.ingest import ingest_paths, registry
from traceana.ingest.base import Adapter, AdapterResult
from traceana.store import MANIFEST, open_store


def _broken(read) -> Adapter:
    return Adapter(name="broken", description="test", sniff=lambda h, p: True, read=read)


@pytest.mark.parametrize(
    "read,fragment",
    [
        (lambda src: {}["missing"], "adapter 'broken' failed on this file (KeyError"),
        (lambda src: 1 / 0, "ZeroDivisionError"),
        (lambda src: "not a result", "not an AdapterResult"),
        (
            lambda src: AdapterResult(requests=pa.table({"request_id": [[1]], "ttft_s": ["x"]})),
            "do not fit the canonical schema",
        ),
        (
            lambda src: AdapterResult(
                requests=pa.Table.from_arrays(
                    [pa.array(["x"]), pa.array(["y"])], names=["request_id", "request_id"]
                )
            ),
            "cannot be validated",
        ),
        (lambda src: (_ for _ in ()).throw(RecursionError("deep")), "nested too deeply"),
    ],
    ids=[
        "KeyError",
        "ZeroDivision",
        "wrong_return",
        "schema_misfit",
        "unvalidatable_tables",
        "RecursionError",
    ],
)
def test_adapter_crash_refuses_the_file_only(tmp_path, monkeypatch, read, fragment):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_bytes(jsonl(*good("a", 2)))
    b.write_bytes(jsonl(*good("b", 3)))
    store = open_store(tmp_path / "store")
    ingest_paths(store, [a])
    before = (tmp_path / "store" / MANIFEST).read_bytes()
    broken = _broken(read)
    monkeypatch.setattr(registry, "get", lambda name: broken)
    summary = ingest_paths(store, [b], fmt="broken")
    (rep,) = summary.files
    assert rep.status == "refused" and fragment in rep.error and "\n" not in rep.error
    assert (tmp_path / "store" / MANIFEST).read_bytes() == before


SUBPROCESS_CASES = [
    "gzip_bomb",
    "symlink_loop",
    "fifo",
    "missing_path",
    "truncated_json_at_eof",
    "deeply_nested_json",
]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_real_process_prints_no_traceback(tmp_path, name):
    """A few corpus cases through a real `traceana ingest` process (not CliRunner): stderr has no traceback."""
    case = next(c for c in CASES if c.name == name)
    (tmp_path / "in").mkdir()
    paths = [str(p) for p in case.build(tmp_path / "in")]
    res = subprocess.run(
        [sys.executable, "-m", "traceana.cli", "ingest", *paths, "--store", str(tmp_path / "st"), *case.args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in res.stderr and "Traceback" not in res.stdout
    assert res.returncode == (2 if case.kind == "refuse" else 0), res.stderr
    if case.kind == "refuse":
        assert case.message in " ".join(res.stderr.split())  # rich may wrap a long line: see the test below


def test_refusal_is_one_line_even_for_long_paths(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    (deep / "empty.jsonl").write_bytes(b"")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "traceana.cli",
            "ingest",
            str(deep / "empty.jsonl"),
            "--store",
            str(tmp_path / "st"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert res.returncode == 2
    assert len([ln for ln in res.stderr.splitlines() if ln.strip()]) == 1, res.stderr


def test_corpus_kinds_summary(capsys):
    kinds = {k: sum(c.kind == k for c in CASES) for k in ("store", "quarantine", "refuse")}
    with capsys.disabled():
        print(f"\nhostile corpus: {len(CASES)} cases: " + ", ".join(f"{v} {k}" for k, v in kinds.items()))
    assert sum(kinds.values()) == len(CASES) >= 50
