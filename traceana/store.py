"""The embedded trace store: Parquet files partitioned by day, a JSON manifest, DuckDB views.

Layout of a store directory::

    traceana-store.json                     manifest: schema version, sources, parts
    requests/day=2025-01-01/part-<id>.parquet
    engine_samples/day=.../part-<id>.parquet
    engine_histograms/day=.../part-<id>.parquet
    quarantine/part-<id>.parquet
    .lock                                   held (flock) by a writer

**The manifest is the commit point.** A write puts new parts under a staging
directory, renames them into place, then atomically replaces the manifest
(write to a temporary name, fsync, ``os.replace``). Readers only read parts the
manifest lists, so a crash at any moment leaves the store as it was: parts not
yet in the manifest are orphans, removed by the next writer. A large file
is staged batch by batch (:class:`Staging`) and published the same way. Writers serialize
on an exclusive ``flock``; a second ingest waits for the first.

Re-ingesting a file is a no-op: sources are keyed by the sha256 of their bytes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from traceana.errors import StoreError, TraceanaError
from traceana.ingest.coerce import polars_dtype
from traceana.schema import SCHEMA_MAJOR, SCHEMA_VERSION, arrow_schema

MANIFEST = "traceana-store.json"
TABLES = ("requests", "engine_samples", "engine_histograms", "quarantine")
_TIME_COL = {"requests": "arrival_time", "engine_samples": "time", "engine_histograms": "time"}


def _by_day(data: pa.Table, time_col: str) -> list[tuple[str, pa.Table]]:
    """(``day=YYYY-MM-DD``, rows of that day) in day order: one stable sort, then zero-copy slices.

    Traces are usually in time order already, and then no row is moved. (A
    filter per day scans the whole table once per day; a polars round trip
    copies every string column twice.)
    """
    col = data.column(time_col)
    if len(col) == 0:
        return []
    null = np.iinfo(np.int64).max
    # via polars: pyarrow's fill_null(int) and to_numpy import pandas (0.2 s on a first call)
    us = pl.from_arrow(col.cast(pa.int64())).fill_null(null).to_numpy()
    day = np.where(us == null, null, np.floor_divide(us, 86_400_000_000))
    if (np.diff(day) < 0).any():
        order = np.argsort(day, kind="stable")
        data, day = data.take(pa.array(order)), day[order]
    starts = np.flatnonzero(np.diff(day, prepend=day[0] - 1))
    ends = np.append(starts[1:], len(day))
    out = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        d = int(day[a])
        name = "unknown" if d == null else str(np.datetime64(d, "D"))
        out.append((f"day={name}", data.slice(a, b - a)))
    return out


#: columns whose values are (nearly) all distinct: a dictionary is built, then dropped, for nothing
_NO_DICTIONARY = {"request_id", "source_line", "raw"}


def _write_part(dest: Path, tbl: pa.Table, schema: pa.Schema) -> None:
    tbl = tbl.cast(schema) if tbl.schema != schema else tbl
    # dictionaries for text and integer columns only (labels, token counts): floats and timestamps
    # rarely repeat, and trying costs ~15% of the write
    dictionary = [
        f.name
        for f in schema
        if f.name not in _NO_DICTIONARY and (pa.types.is_string(f.type) or pa.types.is_integer(f.type))
    ]
    pq.write_table(tbl, dest, compression="zstd", use_dictionary=dictionary)
    _fsync(dest)  # durable before the manifest names it: after a power cut it never points at lost pages


#: a day with more rows is written as several parts, in parallel; readers see the rows in the same order
PART_ROWS = 512 * 1024


def _slices(tbl: pa.Table) -> list[pa.Table]:
    n = max(1, -(-tbl.num_rows // PART_ROWS))
    size = -(-tbl.num_rows // n)
    return [tbl.slice(i * size, size) for i in range(n)]


def _write_parts(jobs: list[tuple[Path, pa.Table, pa.Schema]]) -> None:
    """Write the parts on up to ``os.cpu_count()`` threads: Parquet encoding and zstd release the GIL."""
    workers = min(len(jobs), os.cpu_count() or 1, 8)
    if workers <= 1:
        for job in jobs:
            _write_part(*job)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="traceana-write") as pool:
        for f in [pool.submit(_write_part, *job) for job in jobs]:
            f.result()  # the first failure propagates; commit() then removes the staging directory


def _empty_manifest() -> dict:
    return {
        "format": "traceana-store",
        "schema_version": SCHEMA_VERSION,
        "sources": {},
        "parts": {t: [] for t in TABLES},
    }


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a directory
        _fsync(path)


@dataclass
class Commit:
    """What one source adds to the store (tables already conformed to the canonical schemas)."""

    identity: str
    source: str
    adapter: str
    tables: dict[str, pa.Table]
    summary: dict


class Store:
    """An opened store. Cheap to create; reads the manifest on demand."""

    def __init__(self, root: Path):
        self.root = Path(root)

    # ----------------------------------------------------------------- manifest
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def manifest(self) -> dict:
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _empty_manifest()
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.manifest_path}: unreadable store manifest: {exc}") from None
        version = str(data.get("schema_version", "1.0"))
        if int(version.split(".")[0]) != SCHEMA_MAJOR:
            raise StoreError(
                f"{self.root}: store schema version {version} is not readable by this traceana "
                f"(reads {SCHEMA_MAJOR}.x). Hint: re-ingest the sources into a new store"
            )
        for t in TABLES:
            data.setdefault("parts", {}).setdefault(t, [])
        return data

    def has_source(self, identity: str) -> bool:
        return identity in self.manifest()["sources"]

    def seen_file(self, source: str, size: int, mtime_ns: int) -> bool:
        """True when a source of this name, size and mtime was ingested (a likely re-ingest)."""
        return any(
            v.get("source") == source and v.get("size") == size and v.get("mtime_ns") == mtime_ns
            for v in self.manifest()["sources"].values()
        )

    def sources(self) -> dict:
        return self.manifest()["sources"]

    def files(self, table: str) -> list[Path]:
        """The parts of ``table`` the manifest lists; a listed part that is gone means a damaged store."""
        paths = [self.root / p for p in self.manifest()["parts"][table]]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise StoreError(
                f"{self.root}: damaged store: {len(missing)} part(s) of '{table}' listed in {MANIFEST} are missing "
                f"(first: {missing[0].relative_to(self.root)}). Hint: re-ingest the sources into a new store"
            )
        return paths

    # -------------------------------------------------------------------- reads
    def scan(self, table: str) -> pl.LazyFrame:
        """A LazyFrame over ``table`` with exactly the current canonical columns.

        Parts written by an older minor version lack newer columns; they read as null.
        """
        schema = arrow_schema(table)
        pl_schema = {f.name: polars_dtype(f.type) for f in schema}
        files = self.files(table)
        if not files:
            return pl.LazyFrame(schema=pl_schema)
        lf = pl.scan_parquet(
            [str(f) for f in files],
            hive_partitioning=False,
            missing_columns="insert",
            extra_columns="ignore",
            schema=pl_schema,
        )
        return lf.select(list(pl_schema))

    def requests(self) -> pl.LazyFrame:
        return self.scan("requests")

    def engine_samples(self) -> pl.LazyFrame:
        return self.scan("engine_samples")

    def engine_histograms(self) -> pl.LazyFrame:
        return self.scan("engine_histograms")

    def quarantine(self) -> pl.LazyFrame:
        return self.scan("quarantine")

    def duckdb(self, con=None):
        """A DuckDB connection with one view per non-empty table (no SQL text is built from paths)."""
        import duckdb

        con = con or duckdb.connect()
        for t in TABLES:
            files = [str(f) for f in self.files(t)]
            if files:
                con.read_parquet(files, union_by_name=True).create_view(t, replace=True)
        return con

    def request_ids(self, days: set[str] | None = None) -> pl.Series:
        """Stored request ids, optionally only those in the given ``YYYY-MM-DD`` day partitions.

        Reading only the days a new file touches keeps the duplicate check of an
        ingest proportional to those days, not to the whole store.
        """
        files = self.files("requests")
        if days is not None:
            files = [f for f in files if f.parent.name.removeprefix("day=") in days]
        if not files:
            return pl.Series("request_id", [], dtype=pl.String)
        return pl.scan_parquet([str(f) for f in files], hive_partitioning=False).select("request_id").collect()["request_id"]

    # ------------------------------------------------------------------- writes
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive writer lock; a concurrent ingest waits here."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _write_manifest(self, manifest: dict) -> None:
        tmp = self.root / f".{MANIFEST}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.manifest_path)  # the commit point
        _fsync_dir(self.root)

    def _plan_table(self, staging: Path, table: str, data: pa.Table) -> list[tuple[Path, str, pa.Table]]:
        """Where ``data`` goes: one part per day (slices of a big day, in row order); (staged path, final relpath, rows)."""
        out: list[tuple[Path, str, pa.Table]] = []
        if table == "quarantine":
            groups = [("", data)]
        else:
            groups = _by_day(data, _TIME_COL[table])
        for subdir, tbl in groups:
            for piece in _slices(tbl):
                part = f"part-{uuid.uuid4().hex}.parquet"
                rel = Path(table) / subdir / part if subdir else Path(table) / part
                dest = staging / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                out.append((dest, rel.as_posix(), piece))
        return out

    def staging(self) -> Staging:
        """A staging area for parts written ahead of one commit (call with the lock held)."""
        return Staging(self)

    def commit(self, commits: list[Commit]) -> None:
        """Atomically add ``commits`` (call with the lock held)."""
        if not commits:
            return
        with self.staging() as stg:
            stg.add([(table, data) for c in commits for table, data in c.tables.items()], wait=True)
            stg.publish(commits)

    def clean_orphans(self) -> int:
        """Remove parts and staging left by a crashed writer (call with the lock held)."""
        listed = {p for parts in self.manifest()["parts"].values() for p in parts}
        removed = 0
        for entry in self.root.glob(".staging-*"):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        for entry in self.root.glob(f".{MANIFEST}.*.tmp"):
            entry.unlink(missing_ok=True)
            removed += 1
        for table in TABLES:
            base = self.root / table
            if not base.is_dir():
                continue
            for f in base.rglob("*.parquet"):
                if f.relative_to(self.root).as_posix() not in listed:
                    f.unlink(missing_ok=True)
                    removed += 1
        return removed


class Staging:
    """Parts written under a staging directory, then published with one manifest write.

    ``add`` writes parts (in the background: the caller goes on reading while
    zstd runs), ``publish`` waits for them, moves them into place and writes
    the manifest (the commit point); leaving the ``with`` block removes what
    was not published. A large file is ingested batch by batch this way, and
    a crash at any point leaves the store as it was.
    """

    #: parts being written at once; each holds its rows in memory until written
    MAX_PENDING = 2

    def __init__(self, store: Store):
        self.store = store
        self.dir = store.root / f".staging-{uuid.uuid4().hex}"
        self.staged: list[tuple[Path, str, str]] = []  # (staged path, final relpath, table)
        self._pending: list = []
        self._pool = None

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc) -> None:
        self.discard()

    def add(self, tables: list[tuple[str, pa.Table | None]], wait: bool = False) -> None:
        """Stage ``tables`` ((table name, conformed rows)): one part per day, big days in slices."""
        jobs = []
        for table, data in tables:
            if data is not None and data.num_rows:
                jobs += [(p, rel, table, piece) for p, rel, piece in self.store._plan_table(self.dir, table, data)]
        self.staged += [(p, rel, table) for p, rel, table, _ in jobs]
        if wait:
            _write_parts([(p, piece, arrow_schema(table)) for p, _, table, piece in jobs])
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self.MAX_PENDING, thread_name_prefix="traceana-write")
        for p, _, table, piece in jobs:
            while len(self._pending) >= self.MAX_PENDING:
                self._pending.pop(0).result()  # the first failure propagates
            self._pending.append(self._pool.submit(_write_part, p, piece, arrow_schema(table)))

    def _drain(self) -> None:
        try:
            while self._pending:
                self._pending.pop(0).result()
        finally:
            for f in self._pending:
                f.cancel()
            self._pending = []

    def publish(self, commits: list[Commit]) -> None:
        """Move the staged parts into the store and list them, with ``commits``' sources, in the manifest."""
        self._drain()
        root = self.store.root
        manifest = self.store.manifest()
        for path, rel, _ in self.staged:
            final = root / rel
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, final)
        for d in sorted({(root / rel).parent for _, rel, _ in self.staged}):
            _fsync_dir(d)  # the renames, before the manifest that lists them
        for _, rel, table in self.staged:
            manifest["parts"][table].append(rel)
        now = datetime.now(UTC).isoformat()
        for c in commits:
            manifest["sources"][c.identity] = {"source": c.source, "adapter": c.adapter, "ingested_at": now, **c.summary}
        manifest["schema_version"] = SCHEMA_VERSION
        self.store._write_manifest(manifest)
        self.staged = []

    def discard(self) -> None:
        """Remove everything staged and not published (waits for writes in flight first)."""
        try:
            if self._pool is not None:
                with contextlib.suppress(Exception):
                    self._drain()
                self._pool.shutdown(wait=True)
                self._pool = None
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.staged = []


def _is_own(name: str) -> bool:
    """Files a store writer makes before the first manifest exists (lock, manifest temp, staging)."""
    return name == ".lock" or name.startswith(".staging-") or (name.startswith(f".{MANIFEST}.") and name.endswith(".tmp"))


def _refuse_foreign(root: Path) -> None:
    if root.is_dir() and any(not _is_own(p.name) for p in root.iterdir()):
        raise StoreError(f"{root}: directory is not empty and holds no traceana store; refusing to write into it")


def open_store(path: str | Path, create: bool = True) -> Store:
    """Open the store at ``path``; create an empty one if ``create`` and it does not exist."""
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root}: not a directory")
    if not (root / MANIFEST).exists():
        if not create:
            raise StoreError(f"{root}: no traceana store here (no {MANIFEST}). Hint: traceana ingest PATH --store {root}")
        _refuse_foreign(root)
        root.mkdir(parents=True, exist_ok=True)
        store = Store(root)
        with store.lock():  # a concurrent creator may have won the race: decide again under the lock
            if not store.manifest_path.exists():
                _refuse_foreign(root)
                store._write_manifest(_empty_manifest())
        return store
    store = Store(root)
    store.manifest()  # validates the version
    return store


@contextlib.contextmanager
def open_inputs(paths: list[str] | None = None, store: str | Path | None = None, fmt: str | None = None, **ingest_kw):
    """A store to read from: ``store`` as is, or ``paths`` ingested into a temporary store.

    Yields the Store; the temporary store is deleted afterwards. The ingest
    summary of the temporary store is available as ``store.last_ingest``.
    """
    if store is not None and paths:
        raise StoreError("give input PATHs or --store, not both")
    if store is not None:
        yield open_store(store, create=False)
        return
    if not paths:
        raise StoreError("no input: give PATH... or --store DIR")
    from traceana.ingest import ingest_paths

    with tempfile.TemporaryDirectory(prefix="traceana-") as tmp:
        st = open_store(Path(tmp) / "store")
        st.last_ingest = ingest_paths(st, paths, fmt=fmt, **ingest_kw)
        refused = st.last_ingest.refused
        if refused:  # a report over part of what was asked for would look complete: refuse instead
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            raise TraceanaError(f"input refused: {refused[0].error or refused[0].path}{more}")
        yield st
