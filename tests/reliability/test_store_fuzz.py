"""Fuzz a real store: bit flips, truncation, part deletion, manifest edits (fixed seed, a few hundred cases).

Every read must return the original numbers or fail with a clear error (a
TraceanaError, which the CLI prints as one line); none may return different numbers.
"""

from __future__ import annotations

import json
import random
import shutil

import pytest

from tests.reliability.conftest import numbers, parts, write_rows
from traceana.errors import TraceanaError
from traceana.ingest import ingest_paths
from traceana.store import MANIFEST, open_store

CASES = 300


def _flip(path, rng) -> None:
    data = bytearray(path.read_bytes())
    for _ in range(rng.choice([1, 1, 1, 2, 8])):
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


def _manifest_edit(root, rng) -> None:
    p = root / MANIFEST
    m = json.loads(p.read_text())
    t = rng.choice([t for t in m["parts"] if m["parts"][t]])
    edits = [
        lambda: m["parts"][t].pop(rng.randrange(len(m["parts"][t]))),
        lambda: m["parts"][t].append(m["parts"][t][0]),
        lambda: m["parts"][t].append("../../etc/passwd"),
        lambda: m["parts"].__setitem__(t, m["parts"][t][0]),
        lambda: m.__setitem__("schema_version", rng.choice([None, 7, "9.0", [1]])),
        lambda: m.pop(rng.choice(["parts", "sources", "checksums", "manifest_xxh3"])),
        lambda: m["checksums"].__setitem__(rng.choice(list(m["checksums"])), {"size": 1, "xxh3_64": "0"}),
    ]
    rng.choice(edits)()
    text = json.dumps(m)
    if rng.random() < 0.2:  # or raw damage to the JSON text itself
        i = rng.randrange(len(text))
        text = text[:i] + rng.choice(["", "}", "\x00", '"']) + text[i + 1 :]
    p.write_text(text)


def _mutate(root, rng) -> str:
    kind = rng.choice(["flip", "flip", "truncate", "delete", "manifest", "manifest_flip"])
    part = rng.choice(parts(root))
    if kind == "flip":
        _flip(part, rng)
    elif kind == "truncate":
        part.write_bytes(part.read_bytes()[: rng.randrange(part.stat().st_size)])
    elif kind == "delete":
        part.unlink()
    elif kind == "manifest":
        _manifest_edit(root, rng)
    else:
        _flip(root / MANIFEST, rng)
    return kind


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    root = base / "store"
    st = open_store(root)
    ingest_paths(st, [str(write_rows(base / "a.jsonl", 2000, "a"))])
    ingest_paths(st, [str(write_rows(base / "b.jsonl", 1500, "b"))])
    return root, numbers(root)


def test_every_damaged_read_is_the_original_numbers_or_a_clear_error(pristine, tmp_path):
    root, original = pristine
    rng = random.Random(17)
    outcomes: dict[str, int] = {}
    for i in range(CASES):
        work = tmp_path / f"s{i % 2}"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(root, work)
        kind = _mutate(work, rng)
        try:
            got = numbers(work)
        except TraceanaError as exc:
            assert str(exc) and "\n" not in str(exc), (kind, exc)
            outcomes[f"{kind}: refused"] = outcomes.get(f"{kind}: refused", 0) + 1
            continue
        assert got == original, (i, kind, got)  # never different numbers
        outcomes[f"{kind}: original"] = outcomes.get(f"{kind}: original", 0) + 1
    assert sum(v for k, v in outcomes.items() if k.endswith("refused")) > CASES // 2, outcomes
    print(outcomes)
