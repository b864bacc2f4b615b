"""The adapter contract: a source file in, canonical Arrow tables and quarantined rows out.

Every format lives in its own module under ``traceana/ingest/adapters/`` and
defines a module-level ``ADAPTER = Adapter(...)``. The registry discovers them;
auto-detection calls each ``sniff`` on the first bytes of the (decompressed)
file, highest ``priority`` first.

An adapter only *parses*: it maps source fields and units onto canonical
columns and quarantines what it cannot parse (a malformed line, a field of the
wrong type). Row validation (durations >= 0, ttft <= e2e, ...) happens once,
for every adapter, in ``traceana.ingest.validate``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa


@dataclass(frozen=True)
class Limits:
    """Safety limits for hostile input; every one can be raised by a CLI flag."""

    max_decompressed_bytes: int = 8 << 30  # 8 GiB
    max_line_bytes: int = 64 << 20  # 64 MiB
    max_json_depth: int = 64


class Source:
    """One input file: its bytes, already decompressed (within the limits).

    A plain file on disk is not read into memory up front: ``data`` reads it on
    first use, and readers that can open the path themselves (DuckDB) check
    :attr:`on_disk` and never touch ``data``. ``scan`` is the future of the
    pass over the file that hashes it (:func:`traceana.ingest.reader.scan_file`),
    when the pipeline started one.
    """

    def __init__(
        self,
        path: Path,
        data: bytes | None = None,
        limits: Limits | None = None,
        *,
        size: int | None = None,
        head: bytes = b"",
        scan=None,
    ):
        self.path = path
        self.limits = limits if limits is not None else Limits()
        self._data = data
        self._head = head if data is None else b""
        self.size = len(data) if data is not None else int(size or 0)  # bytes of the content
        self.scan = scan
        self.exact = False  # set when a fast reader could not vouch for its rows: readers take the exact path
        # where the file sits in what was ingested: its path relative to the directory named on the command
        # line (the file name when the file itself was named); synthesized request ids start with it
        self.origin: str | None = None
        self.tags: str | None = (
            None  # JSON object of the ingest's --set key=value tags, for every request row
        )

    @property
    def name(self) -> str:
        """What goes into ``source_file``."""
        return str(self.path)

    @property
    def data(self) -> bytes:
        if self._data is None:
            from traceana.errors import TraceParseError

            try:
                with open(self.path, "rb") as f:
                    self._data = f.read()
            except OSError as exc:
                raise TraceParseError(str(self.path), f"cannot read: {exc.strerror or exc}") from None
            self.size = len(self._data)
        return self._data

    def head(self, n: int) -> bytes:
        """The first ``n`` bytes of the content (without reading a plain file whole)."""
        if self._data is None and n <= len(self._head):
            return self._head[:n]
        return self.data[:n]

    @property
    def on_disk(self) -> bool:
        """True when the content is the file's bytes as stored: a reader may open ``path`` itself."""
        if self._data is None:
            return True
        try:
            return (
                self.path.is_file()
                and self.path.stat().st_size == len(self._data)
                and not self._data.startswith((b"\x1f\x8b", b"\x28\xb5\x2f\xfd"))
            )
        except OSError:
            return False


@dataclass
class QuarantineRow:
    line: int | None
    field: str | None
    reason: str
    raw: str | None = None
    table: str = "requests"


@dataclass
class AdapterResult:
    """Canonical columns (any subset, plus ``source_line``) and what could not be parsed.

    Tables may hold any subset of the canonical columns of their schema with the
    canonical types; missing columns become nulls. ``notes`` tell the user what
    was assumed (e.g. an anchor for a source with no absolute times).
    """

    # pyarrow Tables, or polars DataFrames (no conversion needed: the pipeline works in polars)
    requests: pa.Table | pl.DataFrame | None = None
    engine_samples: pa.Table | pl.DataFrame | None = None
    engine_histograms: pa.Table | pl.DataFrame | None = None
    quarantine: list[QuarantineRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records_read: int | None = None  # source records (rows in + rows quarantined); None = rows of the tables
    batches: Batches | None = (
        None  # a large file read in batches: the rows are there, not in the tables above
    )


class NotFaithful(Exception):
    """A batched fast read cannot vouch for its rows; the pipeline reads the file again with ``src.exact``.

    Raised while iterating :attr:`Batches.results` (the reader refused a line
    part-way through the file) or when :attr:`Batches.faithful` says no.
    """


@dataclass
class Batches:
    """A large file's rows, read a batch at a time so memory does not grow with the file.

    ``results`` yields one AdapterResult per batch (its rows with
    ``source_line``, and what it quarantined); it may raise NotFaithful. After
    the last batch, ``faithful()`` says whether the rows are exactly the
    file's records, one per line (else the pipeline throws the batches' work
    away and reads the file again on the exact path).
    """

    results: Iterator[AdapterResult]
    faithful: Callable[[], bool]


@dataclass(frozen=True)
class Adapter:
    name: str
    description: str
    sniff: Callable[[bytes, Path], bool]
    read: Callable[[Source], AdapterResult]
    priority: int = 50  # higher sniffs first; generic formats (canonical, mapped) are low
    tables: tuple[str, ...] = ("requests",)
    checklist: str = ""  # one line: what of the six checklist items this format fills
    # how the format's arrival times are obtained (schema field time_basis): measured, relative or synthetic;
    # a file whose rows differ (e.g. vllm_bench without start_times) sets the column itself
    time_basis: str = "measured"


def raw_json(obj, limit: int = 4096) -> str:
    """A JSON rendering of a source record for the quarantine (truncated)."""
    try:
        text = json.dumps(obj, default=str, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(obj)
    return text if len(text) <= limit else text[:limit] + "...[truncated]"


def iter_lines(src: Source):
    """Yield (line_number, bytes) for the non-blank lines of a text source (1-based).

    A line longer than the limit is yielded as None so the caller quarantines it.
    """
    limit = src.limits.max_line_bytes
    for i, line in enumerate(src.data.splitlines(), start=1):
        if not line.strip():
            continue
        yield i, (line if len(line) <= limit else None)


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _check_unicode(obj) -> None:
    """Raise ValueError if a string holds a lone surrogate (a '\\ud800' escape with no pair).

    json.loads accepts such escapes, but the text is not valid Unicode and
    cannot be stored (Arrow strings are UTF-8). Valid pairs (emoji) are fine.
    """
    stack = [obj]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"invalid Unicode: a lone surrogate escape in {value[:40]!r}") from None
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _depth(obj, limit: int) -> int:
    """Container nesting depth of a parsed JSON value, walking containers only (iterative)."""
    deepest = 0
    stack = [(obj, 1)]
    while stack:
        value, d = stack.pop()
        if d > deepest:
            deepest = d
            if deepest > limit:
                return deepest
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, d + 1))
    return deepest


def load_json_line(line: bytes, max_depth: int):
    """json.loads with a nesting-depth limit; raises ValueError with a readable reason.

    Cheap when the text cannot be deep (fewer opening brackets than the limit);
    otherwise the parsed value's containers are walked. CPython's parser itself
    raises RecursionError (not a crash) on pathological nesting.
    """
    try:
        obj = json.loads(line)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"invalid UTF-8: {exc.reason} at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    if isinstance(obj, dict | list) and line.count(b"[") + line.count(b"{") > max_depth:
        if _depth(obj, max_depth) > max_depth:
            raise ValueError(f"JSON nested deeper than {max_depth} levels")
    if _SURROGATE_ESCAPE.search(line):  # rare: only then walk the strings
        _check_unicode(obj)
    return obj
