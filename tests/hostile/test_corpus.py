"""Every hostile case through the real CLI: no traceback; stored, quarantined or refused as stated."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from hostile.cases import CASES, Case, good, jsonl
from traceana.cli import main
from traceana.store import MANIFEST, open_store

KINDS = ("store", "quarantine", "refuse")


def _counts(store) -> tuple[int, int]:
    rows = sum(
        store.scan(t).select(pl.len()).collect().item()
        for t in ("requests", "engine_samples", "engine_histograms")
    )
    return rows, store.quarantine().select(pl.len()).collect().item()


def _snapshot(root: Path) -> tuple[bytes, list[str]]:
    return (root / MANIFEST).read_bytes(), sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*.parquet")
    )


def run_ingest(args: list[str]):
    res = CliRunner().invoke(main, ["ingest", *args], catch_exceptions=True)
    # No traceback may reach the user: the only exception allowed out of the CLI is SystemExit.
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output and "Traceback" not in res.stderr
    return res


@pytest.fixture
def baseline(tmp_path):
    """A store already holding 3 rows (base-0..2), so 'unchanged' and cross-file duplicates mean something."""
    src = tmp_path / "base.jsonl"
    src.write_bytes(jsonl(*good("base-", 3)))
    store_dir = tmp_path / "store"
    run_ingest([str(src), "--store", str(store_dir)])
    return open_store(store_dir, create=False)


def test_corpus_size_and_kinds():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)) and len(CASES) >= 50
    assert all(c.kind in KINDS for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, tmp_path, baseline):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    paths = [str(p) for p in case.build(inputs)]
    rows0, q0 = _counts(baseline)
    snap0 = _snapshot(baseline.root)
    for _ in range(case.runs):
        res = run_ingest([*paths, "--store", str(baseline.root), "--json", *case.args])
    expected_exit = case.exit if case.exit is not None else (2 if case.kind == "refuse" else 0)
    if case.exit is not None or case.kind != "quarantine" or case.quarantined is not None:
        assert res.exit_code == expected_exit, res.output + res.stderr
    assert res.exit_code in (0, 2)
    try:
        summary = json.loads(res.output)
    except ValueError:
        summary = None  # refused before any file was read: one line on stderr
    st = open_store(baseline.root, create=False)
    rows1, q1 = _counts(st)
    if summary is None:
        assert (
            res.exit_code == 2 and res.stderr.startswith("traceana: error: ") and res.stderr.count("\n") == 1
        ), res.stderr
        assert case.kind == "refuse" and case.message in res.stderr
        assert _snapshot(st.root) == snap0
        return
    # Accounting: every record read is stored or quarantined; the store holds exactly what was reported.
    for f in summary["files"]:
        if f["status"] == "stored":
            assert f["records_read"] == sum(f["stored"].values()) + f["quarantined"], f
    if case.runs == 1:
        assert rows1 - rows0 == summary["stored"]
        assert q1 - q0 == summary["quarantined"]
    if case.stored is not None:
        assert rows1 - rows0 == case.stored
    if case.kind == "refuse":
        refused = [f for f in summary["files"] if f["status"] == "refused"]
        assert refused and all(case.message in f["error"] for f in refused), summary
        assert all("\n" not in f["error"] for f in refused)
        if not case.stored:
            assert _snapshot(st.root) == snap0  # the store is unchanged
        return
    assert not [f for f in summary["files"] if f["status"] == "refused"], summary
    if case.quarantined is not None:
        assert summary["quarantined"] == case.quarantined
    q = st.quarantine().collect().slice(q0)
    if q.height:
        # each bad row: file, line, reason (and a field unless the whole line is unreadable)
        assert q["source_file"].null_count() == 0 and q["reason"].null_count() == 0
        assert q["source_line"].null_count() == 0
        assert set(q["source_file"]) <= set(paths) | {str(p) for p in Path(paths[0]).rglob("*")}
    if case.fields is not None:
        assert set(q["field"].to_list()) == case.fields
    for frag in case.reasons:
        assert any(frag in r for r in q["reason"]), (frag, q["reason"].to_list())
    if case.lines is not None:
        assert sorted(q["source_line"].to_list()) == case.lines
    if case.note:
        notes = [n for f in summary["files"] for n in f["notes"]]
        assert any(case.note in n for n in notes), notes
    else:
        assert not [n for f in summary["files"] for n in f["notes"] if "implausible" in n]
    if case.check:
        case.check(st, tmp_path)
