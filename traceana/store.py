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

**Every part is checksummed.** The manifest's ``checksums`` maps each part to
its size and the xxh3-64 of its bytes (written once the part is on disk); every
read verifies the parts it opens (once per part per command) and
``traceana check --verify`` all of them, so a flipped bit or a truncated part is
refused by name (exit 3) instead of changing a report's numbers. The manifest
itself is validated on read: wrong types, and part paths that are absolute or
escape the store (``../outside``), are refused, and the manifest carries the
xxh3-64 of its own content (``manifest_xxh3``), so an edited or damaged
manifest (a part dropped from a list) is refused rather than read as fewer rows.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from traceana.errors import StoreCorruptError, StoreError
from traceana.schema import SCHEMA_MAJOR, SCHEMA_VERSION, arrow_schema, polars_dtype

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


def _write_part(dest: Path, tbl: pa.Table, schema: pa.Schema) -> dict:
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
    return part_checksum(dest)  # the bytes just written are in the page cache: ~0.1 ms per MB


_CHUNK = 1 << 20


def part_checksum(path: Path) -> dict:
    """``{"size": bytes, "xxh3_64": hex}`` of a file.

    xxh3-64 is not cryptographic (a store's owner can rewrite it anyway); it
    detects accidental damage, bit flips and truncation, at memory speed.
    """
    import xxhash

    h = xxhash.xxh3_64()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return {"size": size, "xxh3_64": h.hexdigest()}


#: a day with more rows is written as several parts, in parallel; readers see the rows in the same order
PART_ROWS = 512 * 1024


def _slices(tbl: pa.Table) -> list[pa.Table]:
    n = max(1, -(-tbl.num_rows // PART_ROWS))
    size = -(-tbl.num_rows // n)
    return [tbl.slice(i * size, size) for i in range(n)]


def _write_parts(jobs: list[tuple[Path, pa.Table, pa.Schema]]) -> list[dict]:
    """Write the parts on up to ``os.cpu_count()`` threads (Parquet encoding and zstd release the GIL); their checksums."""
    workers = min(len(jobs), os.cpu_count() or 1, 8)
    if workers <= 1:
        return [_write_part(*job) for job in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="traceana-write") as pool:
        # the first failure propagates; commit() then removes the staging directory
        return [f.result() for f in [pool.submit(_write_part, *job) for job in jobs]]


def _empty_manifest() -> dict:
    return {
        "format": "traceana-store",
        "schema_version": SCHEMA_VERSION,
        "sources": {},
        "parts": {t: [] for t in TABLES},
        "checksums": {},
    }


def _corrupt(root: Path, what: str) -> StoreCorruptError:
    return StoreCorruptError(
        f"{root / MANIFEST}: damaged store manifest: {what}. Hint: restore it, or re-ingest the sources into a new store"
    )


def _check_part_path(root: Path, table: str, rel: object) -> None:
    """A listed part must be a relative path inside ``root/table`` naming a .parquet file."""
    if not isinstance(rel, str) or not rel:
        raise _corrupt(root, f"parts.{table}: {rel!r} is not a path")
    p = Path(rel)
    if (
        p.is_absolute()
        or ".." in p.parts
        or "\\" in rel
        or not rel.endswith(".parquet")
        or p.parts[0] != table
    ):
        raise _corrupt(
            root,
            f"parts.{table}: {rel!r} is not a part of this store (parts are {table}/.../*.parquet inside it)",
        )
    resolved = (root / p).resolve()
    if not resolved.is_relative_to((root / table).resolve()):  # a symlinked directory pointing out
        raise _corrupt(root, f"parts.{table}: {rel!r} resolves outside the store")


def _manifest_digest(data: dict) -> str:
    """xxh3-64 of the manifest without its own checksum, in canonical JSON (sorted keys)."""
    import xxhash

    body = {k: v for k, v in data.items() if k != "manifest_xxh3"}
    return xxhash.xxh3_64_hexdigest(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def _validate_manifest(root: Path, data: object) -> dict:
    """The manifest, checked: its own checksum, every field of the right type, every part path inside the store."""
    if not isinstance(data, dict):
        raise _corrupt(root, f"a JSON object expected, found {type(data).__name__}")
    if (
        data.get("checksums") and "manifest_xxh3" not in data
    ):  # written by a checksumming traceana: it must be there
        raise _corrupt(root, "parts have checksums but the manifest's own checksum (manifest_xxh3) is gone")
    if "manifest_xxh3" in data and data["manifest_xxh3"] != _manifest_digest(data):
        raise _corrupt(
            root, "its content does not match its checksum (manifest_xxh3): it was edited or damaged"
        )
    if data.get("format", "traceana-store") != "traceana-store":
        raise _corrupt(root, f"format {data.get('format')!r}, expected 'traceana-store'")
    for key in ("sources", "parts", "checksums"):
        if not isinstance(data.setdefault(key, {}), dict):
            raise _corrupt(root, f"'{key}' must be an object, found {type(data[key]).__name__}")
    if not isinstance(data.get("schema_version", "1.0"), str | int | float):
        raise _corrupt(root, "'schema_version' must be a string")
    unknown = set(data["parts"]) - set(TABLES)
    if unknown:
        raise _corrupt(root, f"unknown table(s) in 'parts': {sorted(unknown)}")
    for t in TABLES:
        parts = data["parts"].setdefault(t, [])
        if not isinstance(parts, list):
            raise _corrupt(root, f"parts.{t} must be a list, found {type(parts).__name__}")
        for rel in parts:
            _check_part_path(root, t, rel)
        if len(set(parts)) != len(parts):
            raise _corrupt(root, f"parts.{t} lists a part twice")
    for rel, c in data["checksums"].items():
        ok = isinstance(c, dict) and isinstance(c.get("xxh3_64"), str)
        ok = ok and isinstance(c.get("size"), int) and not isinstance(c["size"], bool) and c["size"] >= 0
        if not ok:
            raise _corrupt(root, f"checksums[{rel!r}] must be {{size: int >= 0, xxh3_64: str}}")
    for ident, src in data["sources"].items():
        if not isinstance(src, dict):
            raise _corrupt(root, f"sources[{ident!r}] must be an object")
    return data


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

    def __init__(self, root: Path, manifest: dict | None = None):
        self.root = Path(root)
        self._pinned = manifest  # a snapshot: every read of this Store sees this one manifest
        self._verified: dict[str, tuple[int, int, int]] = {}  # relpath -> (size, mtime_ns, inode) checked

    def snapshot(self) -> Store:
        """This store with its manifest read once: a command's reads all see the same parts."""
        return Store(self.root, self.manifest())

    # ----------------------------------------------------------------- manifest
    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def manifest(self) -> dict:
        if self._pinned is not None:
            return self._pinned
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return _empty_manifest()
        except (OSError, ValueError, RecursionError) as exc:
            raise StoreCorruptError(f"{self.manifest_path}: unreadable store manifest: {exc}") from None
        data = _validate_manifest(self.root, data)
        version = str(data.get("schema_version", "1.0"))
        try:
            major = int(version.split(".")[0])
        except ValueError:
            raise _corrupt(self.root, f"schema_version {version!r} is not a version") from None
        if major != SCHEMA_MAJOR:
            raise StoreError(
                f"{self.root}: store schema version {version} is not readable by this traceana "
                f"(reads {SCHEMA_MAJOR}.x). Hint: re-ingest the sources into a new store"
            )
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
        manifest = self.manifest()
        paths = [self.root / p for p in manifest["parts"][table]]
        missing = [p for p in paths if not p.is_file()]
        if missing:
            raise StoreCorruptError(
                f"{self.root}: damaged store: {len(missing)} part(s) of '{table}' listed in {MANIFEST} are missing "
                f"(first: {missing[0].relative_to(self.root)}). Hint: re-ingest the sources into a new store"
            )
        for rel in manifest["parts"][table]:
            self._verify_part(rel, manifest["checksums"].get(rel))
        return paths

    def _verify_part(self, rel: str, expected: dict | None, force: bool = False) -> bool:
        """Check a part against its recorded size and xxh3-64; False when none is recorded (an older store).

        A part whose size, mtime and inode are unchanged since it passed is not hashed again.
        """
        if expected is None:
            return False
        path = self.root / rel
        st = path.stat()
        stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
        if not force and self._verified.get(rel) == stamp:
            return True
        hint = "Hint: restore the store from a backup, or re-ingest the sources into a new store"
        if st.st_size != expected["size"]:
            raise StoreCorruptError(
                f"{path}: damaged store part: {st.st_size:,} bytes, the manifest recorded {expected['size']:,} (truncated or overwritten). {hint}"
            )
        got = part_checksum(path)
        if got["xxh3_64"] != expected["xxh3_64"]:
            raise StoreCorruptError(
                f"{path}: damaged store part: checksum xxh3-64 {got['xxh3_64']} differs from the manifest's {expected['xxh3_64']}. {hint}"
            )
        self._verified[rel] = stamp
        return True

    def verify(self) -> dict:
        """Hash every listed part (nothing cached): ``{"verified": n, "unverified": [parts without a checksum]}``.

        Raises StoreCorruptError naming the first missing, truncated or altered part.
        """
        manifest = self.manifest()
        verified, unverified = 0, []
        for table in TABLES:
            self.files(table)  # missing parts first, by table
            for rel in manifest["parts"][table]:
                if self._verify_part(rel, manifest["checksums"].get(rel), force=True):
                    verified += 1
                else:
                    unverified.append(rel)
        return {"verified": verified, "unverified": unverified}

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
        return (
            pl.scan_parquet([str(f) for f in files], hive_partitioning=False)
            .select("request_id")
            .collect()["request_id"]
        )

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
        manifest = {k: v for k, v in manifest.items() if k != "manifest_xxh3"}
        manifest["manifest_xxh3"] = _manifest_digest(manifest)
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
        self.sums: dict[Path, dict] = {}  # staged path -> checksum of the written part
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
                jobs += [
                    (p, rel, table, piece) for p, rel, piece in self.store._plan_table(self.dir, table, data)
                ]
        self.staged += [(p, rel, table) for p, rel, table, _ in jobs]
        if wait:
            sums = _write_parts([(p, piece, arrow_schema(table)) for p, _, table, piece in jobs])
            self.sums.update(zip([p for p, *_ in jobs], sums, strict=True))
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(max_workers=self.MAX_PENDING, thread_name_prefix="traceana-write")
        for p, _, table, piece in jobs:
            while len(self._pending) >= self.MAX_PENDING:
                self._pending.pop(0).result()  # the first failure propagates
            self._pending.append(self._pool.submit(self._write_one, p, piece, arrow_schema(table)))

    def _write_one(self, path: Path, piece: pa.Table, schema: pa.Schema) -> None:
        self.sums[path] = _write_part(path, piece, schema)

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
        for path, rel, table in self.staged:
            manifest["parts"][table].append(rel)
            manifest["checksums"][rel] = self.sums[path]
        now = datetime.now(UTC).isoformat()
        for c in commits:
            manifest["sources"][c.identity] = {
                "source": c.source,
                "adapter": c.adapter,
                "ingested_at": now,
                **c.summary,
            }
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
            self.sums = {}


def _is_own(name: str) -> bool:
    """Files a store writer makes before the first manifest exists (lock, manifest temp, staging)."""
    return (
        name == ".lock"
        or name.startswith(".staging-")
        or (name.startswith(f".{MANIFEST}.") and name.endswith(".tmp"))
    )


def _refuse_foreign(root: Path) -> None:
    if root.is_dir() and any(not _is_own(p.name) for p in root.iterdir()):
        raise StoreError(
            f"{root}: directory is not empty and holds no traceana store; refusing to write into it"
        )


def open_store(path: str | Path, create: bool = True) -> Store:
    """Open the store at ``path``; create an empty one if ``create`` and it does not exist."""
    root = Path(path)
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root}: not a directory")
    if not (root / MANIFEST).exists():
        if not create:
            raise StoreError(
                f"{root}: no traceana store here (no {MANIFEST}). Hint: traceana ingest PATH --store {root}"
            )
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
