"""The large-file JSON Lines path (DuckDB reads the path; one worker pass hashes and counts the bytes).

It must give exactly what the string path gives: same rows, same line numbers,
same quarantine. Files here are over the 4 MiB threshold of the fast path.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from traceana.ingest import read_file
from traceana.ingest.adapters import _duckjson, canonical
from traceana.ingest.base import Batches, NotFaithful
from traceana.ingest.reader import _CARRY, _CHUNK, _has_bool_literal, scan_file

ROWS = 30_000  # ~5 MB of rows: over canonical._DUCKDB_FROM_BYTES
T0 = datetime(2025, 3, 3, tzinfo=UTC)


def _row(i: int, **over) -> dict:
    r = {
        "request_id": f"r{i:07d}",
        "arrival_time": (T0 + timedelta(microseconds=1_000_017 * i)).isoformat().replace("+00:00", "Z"),
        "queue_time_s": 0.01,
        "num_preemptions": 0,
        "prompt_tokens": 100 + i % 7,
        "output_tokens": 20,
        "cached_prompt_tokens": 0,
        "ttft_s": 0.05,
        "tpot_s": 0.01,
        "prefill_time_s": 0.02,
        "decode_time_s": 0.19,
        "instance": f"gpu-{i % 4}",
        "model": "llama-3.1-8b-instruct",
        "status": "ok",
        "error_type": None,
        "finish_reason": "stop",
        "e2e_latency_s": 0.25,
        "route": "/v1/chat/completions?truncate=else",  # 'ru' and 'ls' bigrams that are not literals
    }
    r.update(over)
    return r


def _write(path, lines: list[str], end: str = "\n"):
    path.write_bytes(("\n".join(lines) + end).encode())
    assert path.stat().st_size >= canonical._DUCKDB_FROM_BYTES
    return path


def _lines(n=ROWS, bad=None) -> list[str]:
    return [json.dumps(_row(i, **(bad or {}).get(i, {}))) for i in range(n)]


@pytest.fixture(autouse=True, params=[_duckjson.BATCH_ROWS, 3_000], ids=["one batch", "batches of 3000"])
def batch_rows(request, monkeypatch):
    """Every test here runs with the file in one batch and in ten: batch edges must change nothing."""
    monkeypatch.setattr(_duckjson, "BATCH_ROWS", request.param)
    return request.param


@pytest.fixture
def fast_used(monkeypatch):
    """Records whether the DuckDB path's rows were kept (True) or the file went to the exact path (False)."""
    seen: list[bool] = []
    real = canonical.read_typed

    def spy(src, table):
        out = real(src, table)
        if out is None:  # DuckDB refused the file at the start
            seen.append(False)
            return None

        def results():
            try:
                yield from out.results
            except NotFaithful:  # DuckDB refused a line part-way through
                seen.append(False)
                raise

        def faithful():
            seen.append(out.faithful())
            return seen[-1]

        return Batches(results=results(), faithful=faithful)

    monkeypatch.setattr(canonical, "read_typed", spy)
    return seen


def _string_path(monkeypatch, path):
    """The same file through the string path only (the reference)."""
    with monkeypatch.context() as m:
        m.setattr(canonical, "_DUCKDB_FROM_BYTES", 1 << 62)
        return read_file(path)


def _same(a, b):
    ta, qa, ra = a
    tb, qb, rb = b
    assert ta["requests"].drop_columns(["source_file"]).equals(tb["requests"].drop_columns(["source_file"]))
    cols = ["source_line", "field", "reason"]  # raw: the fast path shows numbers as read (0.0, not 0)
    assert qa.select(cols).to_pylist() == qb.select(cols).to_pylist()
    assert ra.records_read == rb.records_read
    assert (ra.stored, ra.quarantined, ra.reasons, ra.notes) == (
        rb.stored,
        rb.quarantined,
        rb.reasons,
        rb.notes,
    )


def test_clean_file_takes_the_fast_path_and_matches_the_string_path(tmp_path, monkeypatch, fast_used):
    path = _write(tmp_path / "r.jsonl", _lines(bad={17: {"ttft_s": -1.0}, 29_999: {"status": "weird"}}))
    got = read_file(path)
    assert fast_used == [True]
    assert got[0]["requests"].num_rows == ROWS - 2
    assert got[1].column("source_line").to_pylist() == [18, 30_000]
    _same(got, _string_path(monkeypatch, path))


def test_bad_rows_in_every_chunk_match_the_string_path(tmp_path, monkeypatch, fast_used):
    # DuckDB hands over many chunks (polars 2.1 panics formatting reasons over them unless the
    # pipeline rechunks): every kind of reason, from strings and numbers, in rows spread over all of them
    kinds = [
        {"ttft_s": -1.0},
        {"status": "weird"},
        {"request_id": "r0000003"},  # a duplicate of line 4
        {"cached_prompt_tokens": 500},
        {"arrival_time": "not a time"},
        {"prompt_tokens": 1.5},
        {"e2e_latency_s": 0.01},
    ]
    bad = {i: kinds[k % len(kinds)] for k, i in enumerate(range(10, ROWS, 997))}
    path = _write(tmp_path / "r.jsonl", _lines(bad=bad))
    got = read_file(path)
    assert fast_used == [True]
    assert got[1].num_rows == len(bad)
    assert sorted(got[1].column("source_line").to_pylist()) == [i + 1 for i in bad]
    _same(got, _string_path(monkeypatch, path))


def test_duplicates_across_batches_match_the_string_path(tmp_path, monkeypatch, fast_used):
    bad = {
        100: {"ttft_s": -1.0, "request_id": "dup-a"},  # a bad first occurrence still comes first
        9_100: {"request_id": "dup-a"},
        200: {"request_id": "dup-b"},
        29_000: {"request_id": "dup-b"},
        15_000: {"request_id": "dup-c"},
        15_001: {"request_id": "dup-c"},  # within one batch
        21_000: {"request_id": "dup-c", "status": "weird"},  # a duplicate with a reason of its own
    }
    path = _write(tmp_path / "r.jsonl", _lines(bad=bad))
    got = read_file(path)
    assert fast_used == [True]
    q = got[1].to_pylist()
    assert sorted(r["source_line"] for r in q) == [101, 9_101, 15_002, 21_001, 29_001]
    both = next(r for r in q if r["source_line"] == 21_001)["reason"]
    assert "status" in both and "duplicate" in both
    _same(got, _string_path(monkeypatch, path))


def test_unit_note_over_every_batch(tmp_path, monkeypatch, fast_used):
    # milliseconds given as seconds in the later two thirds: the median, over all batches, says so
    bad = {i: {"ttft_s": 150.0, "e2e_latency_s": 300.0} for i in range(10_000, ROWS)}
    path = _write(tmp_path / "r.jsonl", _lines(bad=bad))
    got = read_file(path)
    assert fast_used == [True]
    assert any(n.startswith("ttft_s: median 150 s") for n in got[2].notes), got[2].notes
    _same(got, _string_path(monkeypatch, path))


def test_store_gets_the_exact_rows_when_the_batches_cannot_be_vouched_for(
    tmp_path, monkeypatch, fast_used, batch_rows
):
    # a 'true' in a number on line 25,001: every batch is staged before the check at the end says no
    from traceana.ingest import ingest_paths
    from traceana.store import Staging, open_store

    adds = []
    real_add = Staging.add
    monkeypatch.setattr(
        Staging, "add", lambda self, tables, wait=False: adds.append(1) or real_add(self, tables, wait)
    )
    lines = _lines()
    lines[25_000] = lines[25_000].replace('"num_preemptions": 0', '"num_preemptions": true')
    path = _write(tmp_path / "r.jsonl", lines)
    st = open_store(tmp_path / "store")
    rep = ingest_paths(st, [path]).files[0]
    assert fast_used == [False] and rep.status == "stored"
    assert len(adds) == -(-ROWS // batch_rows) + 1  # the batches', then the exact read's
    assert rep.stored == {"requests": ROWS - 1} and rep.quarantined == 1
    assert st.requests().select(pl.len()).collect().item() == ROWS - 1
    assert st.quarantine().collect()["source_line"].to_list() == [25_001]
    assert not list((tmp_path / "store").glob(".staging-*"))
    stored_lines = st.requests().select("source_line").collect()["source_line"]
    assert stored_lines.n_unique() == ROWS - 1 and 25_001 not in stored_lines.to_list()


def test_no_trailing_newline(tmp_path, monkeypatch, fast_used):
    path = _write(tmp_path / "r.jsonl", _lines(bad={ROWS - 1: {"ttft_s": -2.0}}), end="")
    got = read_file(path)
    assert fast_used == [True]
    assert got[1].column("source_line").to_pylist() == [ROWS]
    _same(got, _string_path(monkeypatch, path))


@pytest.mark.parametrize(
    "name, edit",
    [
        (
            "bool in a number",
            lambda ls: ls.__setitem__(
                1234, ls[1234].replace('"num_preemptions": 0', '"num_preemptions": true')
            ),
        ),
        (
            "false in a number",
            lambda ls: ls.__setitem__(99, ls[99].replace('"output_tokens": 20', '"output_tokens": false')),
        ),
        ("blank line", lambda ls: ls.insert(500, "")),
        ("white space line", lambda ls: ls.insert(7, " \t\r")),
        ("lone surrogate", lambda ls: ls.__setitem__(3000, ls[3000].replace('"gpu-', '"\\ud800gpu-'))),
        ("not JSON", lambda ls: ls.__setitem__(4000, ls[4000][:-5])),
        ("two objects on a line", lambda ls: ls.__setitem__(10, ls[10] + " " + ls[11])),
    ],
)
def test_what_the_fast_path_cannot_number_goes_to_the_exact_path(
    tmp_path, monkeypatch, fast_used, name, edit
):
    lines = _lines()
    edit(lines)
    path = _write(tmp_path / "r.jsonl", lines)
    got = read_file(path)
    assert fast_used == [False], name
    _same(got, _string_path(monkeypatch, path))
    assert got[1].num_rows >= 1 or name in ("blank line", "white space line")


def test_booleans_of_fields_no_table_reads_keep_the_fast_path(tmp_path, monkeypatch, fast_used):
    # real logs carry flags of their own, and URLs and messages with the words in them
    bad = {
        i: {"stream": i % 2 == 0, "route": "/v1/chat?stream=true", "error_type": "not true"}
        for i in range(ROWS)
    }
    path = _write(tmp_path / "r.jsonl", _lines(bad=bad))
    got = read_file(path)
    assert fast_used == [True]
    assert got[0]["requests"].num_rows == ROWS
    _same(got, _string_path(monkeypatch, path))


def test_bool_literal_quarantined_with_its_line(tmp_path, fast_used):
    lines = _lines()
    lines[1234] = lines[1234].replace('"num_preemptions": 0', '"num_preemptions": true')
    tables, q, _ = read_file(_write(tmp_path / "r.jsonl", lines))
    assert q.column("source_line").to_pylist() == [1235]
    assert q.column("field").to_pylist() == ["num_preemptions"]


def test_long_line_limit_still_applies(tmp_path, fast_used):
    from traceana.ingest.base import Limits

    lines = _lines()
    lines[20] = lines[20][:-1] + ', "pad": "' + "x" * 5000 + '"}'
    path = _write(tmp_path / "r.jsonl", lines)
    tables, q, _ = read_file(path, limits=Limits(max_line_bytes=4096))
    assert q.column("source_line").to_pylist() == [21]
    assert "longer than" in q.column("reason")[0].as_py()


def test_scan_file_counts_and_hashes(tmp_path):
    data = b"".join(json.dumps(_row(i)).encode() + b"\n" for i in range(20_000))
    path = tmp_path / "a.jsonl"
    path.write_bytes(data)
    s = scan_file(path)
    assert s.identity == hashlib.sha256(data).hexdigest()
    assert s.size == len(data)
    assert s.newlines == data.count(b"\n")
    assert s.ends_with_newline
    assert s.bool_literal is False


@pytest.mark.parametrize("word", [b"true", b"false"])
@pytest.mark.parametrize("key, counts", [(b"ttft_s", True), (b"stream", False)])
@pytest.mark.parametrize("shift", [-60, -33, -14, -9, -6, -3, -1, 0, 1])
def test_scan_file_judges_a_literal_across_a_chunk_boundary(tmp_path, word, key, counts, shift):
    # the chunk boundary falls in the word, in the key before it, or just before the key
    size = 4 * _CHUNK + 4096
    buf = bytearray(b" " * size)
    at = 4 * _CHUNK + shift  # the reads are 4 * _CHUNK bytes long
    member = b'{"' + key + b'": ' + word + b"}"
    start = at - len(member) + len(word) + 1
    buf[start : start + len(member)] = member
    path = tmp_path / "b.bin"
    path.write_bytes(bytes(buf))
    assert scan_file(path).bool_literal is counts
    assert _CARRY >= len(member)


LITERALS = {
    '{"stream": true, "ttft_s": 0.1}': False,  # a key no table reads
    '{"a":1,"cache_hit":false}': False,
    '{"stream"  :  true}': False,
    '{"route": "/v1?stream=true"}': False,  # inside strings
    '{"msg": "it is untrue, falsely"}': False,
    '{"truex": 1}': False,
    '{"ttft_s": true}': True,
    '{"a":1,"ttft_s":false}': True,
    '{"ttft_s":      true}': True,  # more white space than the check skips
    '{"itl_s": [0.1, true]}': True,  # array elements always count
    '{"x": {"ttft_s": true}}': True,
    '{"tags": [true]}': True,
    '{"ttft\\u005fs": true}': True,  # an escape in the key
    '{"x": "\\"stream\\": true"}': True,  # (harmless, but not told apart)
    '{"' + "k" * 48 + '": true}': False,
    '{"' + "k" * 49 + '": true}': True,  # a key too long to be read back
    "true": True,
}


@pytest.mark.parametrize("line", list(LITERALS))
def test_bool_literal_examples(line):
    assert _has_bool_literal(np.frombuffer(line.encode(), dtype=np.uint8)) is LITERALS[line]


def test_bool_literal_check_never_misses_a_canonical_value():
    # soundness: whenever a canonical top-level key holds a boolean, or a list with one at any
    # depth (what DuckDB would turn into 1.0 or 'true'), the check says so; a harmless literal
    # may count too, never the other way round. (An object under a canonical key is no number:
    # DuckDB refuses it for a DOUBLE column, and a text column keeps it as JSON text.)
    from traceana.schema import TABLES

    canonical = sorted({f.name for fs in TABLES.values() for f in fs})
    rng = np.random.default_rng(11)
    spaces = ["", " ", "  ", "\t", "      "]
    texts = ["true", "false", "it is true", ": true", '\\"k\\": false', "untrue", "x,true", "[false]"]

    def value(depth=0):
        r = rng.integers(0, 7 if depth < 2 else 4)
        if r == 0:
            return bool(rng.integers(0, 2))
        if r == 1:
            return float(rng.normal())
        if r == 2:
            return str(rng.choice(texts))
        if r == 3:
            return None
        if r in (4, 5):
            return [value(depth + 1) for _ in range(rng.integers(0, 3))]
        return {str(rng.choice([*canonical, "stream", "k"])): value(depth + 1)}

    def has_bool(v, objects=True):
        if isinstance(v, bool):
            return True
        if isinstance(v, list):
            return any(has_bool(x, objects) for x in v)
        if isinstance(v, dict) and objects:
            return any(has_bool(x) for x in v.values())
        return False

    missed = told = 0
    for _ in range(4000):
        keys = [*canonical, "stream", "cache_hit", "k.v", "x-y"]
        obj = {str(rng.choice(keys)): value() for _ in range(rng.integers(1, 5))}
        sp = str(rng.choice(spaces))
        line = (
            "{"
            + ("," + sp).join(
                f"{json.dumps(k)}{rng.choice(spaces)}:{sp}{json.dumps(v)}" for k, v in obj.items()
            )
            + "}"
        )
        assert json.loads(line) == obj
        relevant = any(k in canonical and has_bool(v, objects=False) for k, v in obj.items())
        got = _has_bool_literal(np.frombuffer(line.encode(), dtype=np.uint8))
        missed += relevant and not got
        told += (not got) and any(has_bool(v) for v in obj.values())
    assert missed == 0
    assert told >= 20  # and it lets harmless literals through (25 of these lines; 0 without _harmless)


def test_compressed_file_gets_no_line_scan(tmp_path):
    import gzip

    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"a": true}\n' * 10))
    s = scan_file(path)
    assert s.newlines is None and s.bool_literal is None and s.identity


def test_read_typed_refuses_in_memory_content(tmp_path):
    from traceana.ingest.base import Source

    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"request_id": "a", "arrival_time": "2025-01-01T00:00:00Z"}\n')
    assert _duckjson.read_typed(Source(path, b'{"request_id": "b"}\n'), "requests") is None
    batches = _duckjson.read_typed(Source(path, path.read_bytes()), "requests")
    frames = [r.requests for r in batches.results]
    assert (
        len(frames) == 1 and isinstance(frames[0], pl.DataFrame) and frames[0]["source_line"].to_list() == [1]
    )
    assert batches.faithful()


def test_an_adapter_failing_part_way_through_its_batches_stores_nothing(tmp_path, monkeypatch):
    from traceana.ingest import ingest_paths, pipeline
    from traceana.ingest.base import Adapter, AdapterResult
    from traceana.store import open_store

    def batches():
        yield AdapterResult(
            requests=pl.DataFrame(
                {"request_id": ["a"], "arrival_time": ["2025-03-03T00:00:00Z"], "source_line": [1]}
            )
        )
        raise ValueError("boom in batch 2")

    broken = Adapter(
        name="broken",
        description="",
        sniff=lambda head, path: True,
        read=lambda src: AdapterResult(batches=Batches(results=batches(), faithful=lambda: True)),
    )
    monkeypatch.setattr(pipeline.registry, "detect", lambda head, path: broken)
    path = tmp_path / "x.jsonl"
    path.write_text('{"request_id": "a"}\n')
    st = open_store(tmp_path / "store")
    rep = ingest_paths(st, [path]).files[0]
    assert (
        rep.status == "refused"
        and "adapter 'broken' failed on this file (ValueError: boom in batch 2)" in rep.error
    )
    assert st.requests().select(pl.len()).collect().item() == 0
    assert not list((tmp_path / "store").glob(".staging-*")) and not list(
        (tmp_path / "store").rglob("*.parquet")
    )
