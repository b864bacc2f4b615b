"""The ingest pipeline: read -> detect -> adapter -> coerce -> validate -> dedupe -> atomic commit.

Every source record ends up either stored or quarantined with file, line,
field and reason: ``records_read == stored + quarantined`` for every file. A
file that cannot be read at all (not a regular file, corrupt compression, over
a size limit, unknown format) is refused whole with one message; the store is
left unchanged for it and the other files still go in.

A large canonical JSON Lines file is read in batches (DuckDB's Arrow reader,
512k rows at a time): each batch is validated, deduplicated (against the
file's earlier batches and the store) and staged as parts while the next is
read, and one manifest write publishes them all. Memory then grows with the
batch, plus ~60 bytes a row of file-wide state (request-id hashes, the
columns the unit notes look at), not with the file.
"""

from __future__ import annotations

import itertools
import stat as stat_mod
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from traceana.errors import InputLimitError, TraceanaError, TraceParseError
from traceana.ingest import registry
from traceana.ingest.base import Adapter, AdapterResult, Limits, NotFaithful, Source
from traceana.ingest.coerce import FAIL_PREFIX, coerce
from traceana.ingest.reader import expand_paths, file_identity, origins, read_head, read_source, scan_file
from traceana.ingest.validate import IdSet, split
from traceana.schema import QUARANTINE, conform

DATA_TABLES = ("requests", "engine_samples", "engine_histograms")
RAW_LIMIT = 4096


@dataclass
class FileReport:
    path: str
    identity: str | None = None
    adapter: str | None = None
    status: str = "stored"  # stored | skipped (already ingested) | refused
    records_read: int = 0
    stored: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "adapter": self.adapter,
            "status": self.status,
            "records_read": self.records_read,
            "stored": self.stored,
            "quarantined": self.quarantined,
            "reasons": dict(self.reasons),
            "notes": self.notes,
            "error": self.error,
        }


@dataclass
class IngestSummary:
    files: list[FileReport] = field(default_factory=list)

    @property
    def records_read(self) -> int:
        return sum(f.records_read for f in self.files)

    @property
    def stored(self) -> int:
        return sum(sum(f.stored.values()) for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def refused(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "refused"]

    def reasons(self) -> Counter:
        total: Counter = Counter()
        for f in self.files:
            total.update(f.reasons)
        return total

    def to_dict(self) -> dict:
        return {
            "records_read": self.records_read,
            "stored": self.stored,
            "quarantined": self.quarantined,
            "refused": len(self.refused),
            "reasons": dict(self.reasons()),
            "files": [f.to_dict() for f in self.files],
        }


class AdapterBugError(TraceParseError):
    """An adapter raised something other than a TraceanaError (a bug in traceana, not in the input).

    The file is refused whole, so nothing half-parsed reaches the store; the
    message names the adapter and the exception so the bug can be reported.
    """


#: a median above these is implausible for seconds (typical of milliseconds given as seconds)
PLAUSIBLE_MEDIAN_S = {"ttft_s": 60.0, "tpot_s": 10.0, "e2e_latency_s": 3600.0}


def _median(v: np.ndarray) -> float | None:
    """pc.quantile(..., q=0.5): linear interpolation; None when empty.

    By selection (np.partition) instead: pc.quantile's scalar conversion imports
    pandas (0.2 s) and polars' median sorts (0.03 s a column of 1M).
    """
    if len(v) == 0:
        return None
    k = (len(v) - 1) * 0.5
    lo, hi = int(np.floor(k)), int(np.ceil(k))
    part = np.partition(v, [lo, hi])
    return float(part[lo] + (part[hi] - part[lo]) * (k - lo))


def _unit_values(requests: pa.Table | None) -> dict[str, np.ndarray]:
    """The non-null values of the columns :func:`unit_notes` looks at."""
    if requests is None:
        return {}
    return {
        col: pl.from_arrow(requests.column(col)).drop_nulls().to_numpy()
        for col in PLAUSIBLE_MEDIAN_S
        if col in requests.column_names
    }


def _unit_notes(values: dict[str, list[np.ndarray]]) -> list[str]:
    notes = []
    for col, limit in PLAUSIBLE_MEDIAN_S.items():
        arrays = values.get(col) or []
        median = _median(np.concatenate(arrays) if len(arrays) > 1 else arrays[0]) if arrays else None
        if median is not None and median > limit:
            notes.append(
                f"{col}: median {median:g} s is implausible for seconds (above {limit:g} s); "
                "were milliseconds given where seconds are expected? Values stored as given"
            )
    return notes


def unit_notes(requests: pa.Table) -> list[str]:
    """Notes (not quarantines) when a whole column looks like milliseconds given as seconds.

    Each row passed validation (< 1 day), so nothing is rejected; the unit is not
    guessed either: the user is told, with the median that raised the question.
    """
    return _unit_notes({c: [v] for c, v in _unit_values(requests).items()})


def source_name(src: Source) -> str:
    """``source_file`` as stored: the path as given, with bytes that are not UTF-8 shown as ``\\xff``.

    (Python keeps such bytes of a file name as lone surrogates, which no UTF-8
    column can hold; this keeps them visible and distinct instead of mangled.)
    """
    return src.name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _reason_key(reason: str) -> str:
    """The rule label that starts every reason ('negative: -0.2 s' -> 'negative')."""
    return reason.split(";")[0].split(":")[0].strip()


def _raw_rows(df: pl.DataFrame) -> pl.Series:
    cols = [c for c in df.columns if not c.startswith("__") and c not in ("field", "reason")]
    try:
        raw = df.select(pl.struct(cols).struct.json_encode().alias("raw"))["raw"]
    except pl.exceptions.PolarsError:
        raw = pl.Series("raw", [str(r) for r in df.select(cols).iter_rows()])
    return raw.str.slice(0, RAW_LIMIT)


def process(
    src: Source,
    adapter: Adapter,
    now: datetime | None = None,
    column_map: dict | None = None,
) -> tuple[dict[str, pa.Table], pa.Table, FileReport]:
    """Run one source through an adapter, coercion and validation (no store involved).

    Returns (canonical tables, quarantine table, report).
    """
    now = now or datetime.now(UTC)
    tables: dict[str, list[pa.Table]] = {}
    quarantines: list[pa.Table] = []

    def take(part: dict[str, pa.Table], quarantine: pa.Table) -> None:
        for name, data in part.items():
            tables.setdefault(name, []).append(data)
        quarantines.append(quarantine)

    def restart() -> None:
        tables.clear()
        quarantines.clear()

    report = _drive(src, adapter, now, column_map, take, restart)
    kept = [q for q in quarantines if q.num_rows] or [pa.Table.from_batches([], schema=QUARANTINE)]
    return {k: _concat(v) for k, v in tables.items()}, _concat(kept), report


def _drive(
    src: Source, adapter: Adapter, now: datetime, column_map: dict | None, take, restart
) -> FileReport:
    """Hand the file's parts to ``take(tables, quarantine)``; its report.

    When a batched read cannot vouch for its rows, ``restart()`` throws away
    what was taken and the file is read again on the exact path.
    """
    while True:
        report = FileReport(path=source_name(src), adapter=adapter.name)
        try:
            for tables, quarantine in _parts(src, adapter, now, column_map, report):
                take(tables, quarantine)
            return report
        except NotFaithful:
            restart()
            _read_exactly(src)


def _concat(tables: list[pa.Table]) -> pa.Table:
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables)


def _read_exactly(src: Source) -> None:
    """After NotFaithful: the next read of ``src`` takes the exact path (which never raises it)."""
    if src.exact:  # pragma: no cover - the exact readers do not batch
        raise AdapterBugError(
            src.name, "a reader raised NotFaithful on the exact path; file refused, nothing stored"
        )
    src.exact = True


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300]}" if text else type(exc).__name__


def _adapter_failure(src: Source, name: str, exc: BaseException) -> TraceanaError:
    """What an adapter's own exception becomes: a clean refusal of the file naming the adapter."""
    if isinstance(exc, RecursionError):
        return InputLimitError(
            src.name,
            f"adapter '{name}': input nested too deeply to parse. Hint: lower nesting, or --max-json-depth",
        )
    if isinstance(exc, MemoryError):
        return InputLimitError(src.name, f"adapter '{name}': out of memory reading this file")
    return AdapterBugError(
        src.name, f"adapter '{name}' failed on this file ({_describe(exc)}); file refused, nothing stored"
    )


_END = object()


def _from_adapter(src: Source, name: str, call: Callable[[], object], verb: str = "returned") -> object:
    """``call()`` (the adapter's read, or its next batch); anything but a TraceanaError is an adapter bug, a clean refusal."""
    try:
        result = call()
    except (TraceanaError, NotFaithful):
        raise
    except Exception as exc:  # noqa: BLE001 - see AdapterBugError
        raise _adapter_failure(src, name, exc) from exc
    if result is not _END and not isinstance(result, AdapterResult):
        raise AdapterBugError(
            src.name, f"adapter '{name}' {verb} {type(result).__name__}, not an AdapterResult; file refused"
        )
    return result


def _run_adapter(src: Source, adapter: Adapter, column_map: dict | None) -> AdapterResult:
    """Call the adapter (or the column-mapped reader)."""
    if column_map is not None:
        from traceana.ingest.adapters.mapped import read_mapped

        return _from_adapter(src, "mapped", lambda: read_mapped(src, column_map))
    return _from_adapter(src, adapter.name, lambda: adapter.read(src))


def _guarded(results: Iterator[AdapterResult], src: Source, name: str) -> Iterator[AdapterResult]:
    """An adapter's batches, with its exceptions turned into refusals as in :func:`_run_adapter`."""
    it = iter(results)
    while (part := _from_adapter(src, name, lambda: next(it, _END), verb="yielded")) is not _END:
        yield part


def _parts(
    src: Source, adapter: Adapter, now: datetime, column_map: dict | None, report: FileReport
) -> Iterator[tuple[dict[str, pa.Table], pa.Table]]:
    """The file's (canonical tables, quarantine): once, or batch by batch for a large file; fills ``report``.

    Raises NotFaithful when a batched read cannot vouch for its rows (the
    caller throws away what it took and reads again with ``src.exact``).
    """
    name = "mapped" if column_map is not None else adapter.name
    result = _run_adapter(src, adapter, column_map)
    report.notes = list(result.notes)
    batched = result.batches is not None
    parts = _guarded(result.batches.results, src, name) if batched else iter([result])
    seen = IdSet() if batched else None  # request ids of the earlier batches
    values: dict[str, list[np.ndarray]] = {}
    records = accounted = 0
    for part in parts:
        try:
            tables, quarantine, n = _finish(src, adapter, part, now, seen)
        except TraceParseError:
            raise
        except TraceanaError as exc:  # e.g. SchemaError from conform: the adapter's tables, not the input
            raise AdapterBugError(
                src.name,
                f"adapter '{name}' returned tables that do not fit the canonical schema ({exc}); file refused, nothing stored",
            ) from exc
        except Exception as exc:  # noqa: BLE001 - an adapter's malformed output must not crash the ingest
            raise AdapterBugError(
                src.name,
                f"adapter '{name}' returned tables that cannot be validated ({_describe(exc)}); file refused, nothing stored",
            ) from exc
        records += n
        accounted += sum(t.num_rows for t in tables.values()) + quarantine.num_rows
        for table, data in tables.items():
            if data.num_rows:
                report.stored[table] = report.stored.get(table, 0) + data.num_rows
        report.quarantined += quarantine.num_rows
        report.reasons.update(_reason_key(r) for r in quarantine.column("reason").to_pylist())
        for col, v in _unit_values(tables.get("requests")).items():
            values.setdefault(col, []).append(v)
        yield tables, quarantine
    if batched and not result.batches.faithful():
        raise NotFaithful("the rows read do not map one to one onto the file's lines")
    report.notes += _unit_notes(values)
    report.records_read = result.records_read if result.records_read is not None and not batched else records
    if report.records_read != accounted:
        # Not the input's fault: the adapter's count and its output disagree. Say so rather than hide it.
        report.notes.append(
            f"adapter '{adapter.name}' reported {report.records_read:,} records but {accounted:,} were stored or "
            "quarantined: a bug in traceana, please report it"
        )


def _finish(src: Source, adapter: Adapter, result: AdapterResult, now: datetime, seen: IdSet | None = None):
    """One AdapterResult (a file, or a batch of one) through coercion and validation.

    Returns (tables, quarantine, source records it holds).
    """
    tables: dict[str, pa.Table] = {}
    bad_frames: list[pl.DataFrame] = []
    rows_in = 0
    for table in DATA_TABLES:
        data = getattr(result, table)
        if data is None:
            continue
        # rechunk: a multi-chunk frame straight from a reader trips polars panics in list ops and in
        # formatting reasons over string views (polars 2.1; test_bad_rows_in_every_chunk_match_the_string_path)
        df = pl.from_arrow(data) if isinstance(data, pa.Table) else data.rechunk()
        if isinstance(df, pl.Series):
            df = df.to_frame()
        rows_in += df.height
        df = df.with_row_index("__row")
        typed = coerce(df, table)
        good, bad = split(typed, table, now=now, seen=seen if table == "requests" else None)
        good = good.drop([c for c in good.columns if c.startswith(FAIL_PREFIX)] + ["__row"])
        good = good.with_columns(
            pl.lit(source_name(src)).alias("source_file"),
            (
                pl.col("source_format").fill_null(adapter.name)
                if "source_format" in good.columns
                else pl.lit(adapter.name)
            ).alias("source_format"),
        )
        if table == "requests" and src.tags is not None:
            from traceana.tags import overlay

            good = overlay(good, src.tags)
        if table == "requests":
            basis = pl.lit(adapter.time_basis, pl.String)
            good = good.with_columns(
                (pl.col("time_basis").fill_null(basis) if "time_basis" in good.columns else basis).alias(
                    "time_basis"
                )
            )
        tables[table] = conform(good.to_arrow(), table)
        if bad.height:
            raw = _raw_rows(df[bad["__row"].to_list()])  # the row as read, before casting
            bad_frames.append(
                pl.DataFrame(
                    {
                        "table": [table] * bad.height,
                        "source_format": [adapter.name] * bad.height,
                        "source_file": [source_name(src)] * bad.height,
                        "source_line": bad["source_line"]
                        if "source_line" in bad.columns
                        else [None] * bad.height,
                        "field": bad["field"],
                        "reason": bad["reason"],
                        "raw": raw,
                    },
                    schema_overrides={"source_line": pl.Int64},
                )
            )
    for q in result.quarantine:
        bad_frames.append(
            pl.DataFrame(
                {
                    "table": [q.table],
                    "source_format": [adapter.name],
                    "source_file": [source_name(src)],
                    "source_line": [q.line],
                    "field": [q.field],
                    "reason": [q.reason],
                    "raw": [q.raw[:RAW_LIMIT] if q.raw else None],
                },
                schema_overrides={"source_line": pl.Int64, "field": pl.String, "raw": pl.String},
            )
        )
    if bad_frames:
        qdf = pl.concat(bad_frames, how="vertical_relaxed").with_columns(pl.lit(now).alias("ingested_at"))
        quarantine = conform(qdf.to_arrow(), "quarantine")
    else:
        quarantine = pa.Table.from_batches(
            [], schema=QUARANTINE
        )  # Schema.empty_table() imports pandas (0.2 s)
    return tables, quarantine, rows_in + len(result.quarantine)


def _days(requests: pa.Table | None) -> set[str]:
    """The ``YYYY-MM-DD`` day partitions (UTC) the rows of ``requests`` fall in."""
    if requests is None or requests.num_rows == 0:
        return set()
    # polars' hash unique of the dates: pc.floor_temporal + pc.unique took 0.18 s a million rows
    days = pl.from_arrow(requests.column("arrival_time")).dt.date().drop_nulls().unique()
    return {str(d) for d in days.to_list()}


def dedupe_against(
    tables: dict[str, pa.Table], quarantine: pa.Table, seen: IdSet | None, src: str, now: datetime
):
    """Quarantine requests whose request_id is already stored from another source (``seen``: the stored ids)."""
    req = tables.get("requests")
    if req is None or req.num_rows == 0 or seen is None or not len(seen):
        return tables, quarantine, 0
    dup_np = seen.contains(pl.from_arrow(req.column("request_id")))
    n = int(dup_np.sum())
    if n == 0:
        return tables, quarantine, 0
    df = pl.from_arrow(req)
    dup = pl.Series(dup_np)
    bad = df.filter(dup)
    q = pl.DataFrame(
        {
            "table": ["requests"] * n,
            "source_format": bad["source_format"],
            "source_file": [src] * n,
            "source_line": bad["source_line"],
            "field": ["request_id"] * n,
            "reason": ["duplicate: request_id already stored from another source"] * n,
            "raw": _raw_rows(bad),
            "ingested_at": [now] * n,
        }
    )
    tables = {**tables, "requests": conform(df.filter(~dup).to_arrow(), "requests")}
    quarantine = pa.concat_tables([quarantine, conform(q.to_arrow(), "quarantine")])
    return tables, quarantine, n


class _StoredIds:
    """The store's request ids of the days a file's rows fall in, loaded a day at a time as batches reach it."""

    def __init__(self, store):
        self.store = store
        self.days: set[str] = set()
        self.ids = IdSet()

    def covering(self, days: set[str]) -> IdSet:
        new = days - self.days
        if new:
            self.ids.add(self.store.request_ids(new))
            self.days |= new
        return self.ids


def _stage(store, stg, src: Source, adapter: Adapter, now: datetime, column_map: dict | None) -> FileReport:
    """Write ``src``'s rows and quarantine into ``stg`` a part at a time (nothing is published); its report."""
    stored = _StoredIds(store)
    ndup = 0

    def take(tables: dict[str, pa.Table], quarantine: pa.Table) -> None:
        nonlocal ndup
        # duplicates of stored rows are looked for in the day partitions these rows fall in
        seen = stored.covering(_days(tables.get("requests")))
        tables, quarantine, n = dedupe_against(tables, quarantine, seen, source_name(src), now)
        ndup += n
        stg.add([*tables.items(), ("quarantine", quarantine)])

    def restart() -> None:
        nonlocal ndup
        stg.discard()  # the batches' parts: the exact read writes its own
        ndup = 0

    report = _drive(src, adapter, now, column_map, take, restart)
    if ndup:
        report.stored["requests"] = report.stored.get("requests", 0) - ndup
        report.quarantined += ndup
        report.reasons["duplicate"] += ndup
    return report


def _no_records(path: Path, adapter: Adapter, forced: Adapter | None) -> str:
    """Why a file that read as zero records is refused (a report on it would be a report on nothing)."""
    if forced is not None and forced.name != "canonical":
        return f"--format {forced.name} read no records from this file: the format does not fit it. Hint: omit --format to detect it"
    if path.name.lower().removesuffix(".gz").removesuffix(".zst").endswith(".csv"):
        return "a CSV header and no rows: no requests to ingest"
    return f"no records: {adapter.name} found nothing to ingest in this file"


# hashlib and file reads release the GIL: the source identity is computed beside the parse
_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="traceana-hash")


def ingest_paths(
    store,
    paths: list[str | Path],
    fmt: str | None = None,
    limits: Limits | None = None,
    column_map: dict | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    tags: dict[str, str] | None = None,
) -> IngestSummary:
    """Ingest files (or directories of them) into ``store``, one atomic commit per file.

    ``tags`` (``--set key=value``) are stored on every request row (column ``tags``, a JSON
    object) and can be grouped on like columns (``--by env``).
    """
    from traceana.tags import encode

    tag_json = encode(tags) if tags else None
    from traceana.store import Commit

    limits = limits or Limits()
    summary = IngestSummary()
    files = expand_paths(paths)
    origin = origins(paths)
    forced = registry.get(fmt) if fmt else None
    # progress goes by bytes on disk, not by files: one 8 GB file and a hundred 1 kB ones are not alike
    sizes = [_size(p) for p in files]
    before = list(itertools.accumulate(sizes, initial=0))
    with store.lock():
        store.clean_orphans()
        for i, path in enumerate(files):
            if progress:
                progress(str(path), before[i], before[-1])
            report = FileReport(path=str(path))
            summary.files.append(report)
            now = datetime.now(UTC)
            try:
                stat = path.stat() if path.is_file() else None
                hashing = None
                if stat is not None and store.seen_file(str(path), stat.st_size, stat.st_mtime_ns):
                    identity = file_identity(path)  # probably a re-ingest: confirm before parsing
                elif stat is not None:
                    # A new file: hash it on the other core while this one parses. The same pass counts
                    # what the JSON Lines fast path needs (newlines, 'true'/'false'), so the file is read once.
                    identity = None
                    hashing = _POOL.submit(scan_file, path)
                else:
                    identity = None
                if identity and store.has_source(identity):
                    report.status = "skipped"
                    report.notes.append("already ingested (same bytes): nothing added")
                    continue
                src = read_source(path, limits, scan=hashing)
                src.origin = origin.get(path)
                src.tags = tag_json
                adapter = registry.choose(forced, read_head(src), path)
                with store.staging() as stg:
                    rep = _stage(store, stg, src, adapter, now, column_map)
                    if not rep.records_read:
                        raise TraceParseError(str(path), _no_records(path, adapter, forced))
                    # a generic format's rows may all be bad (they are quarantined); a system's format that
                    # keeps no row of a file was the wrong format for it
                    if (
                        forced is not None
                        and forced.name not in ("canonical", "mapped")
                        and not sum(rep.stored.values())
                        and rep.quarantined
                    ):
                        top = ", ".join(k for k, _ in rep.reasons.most_common(2))
                        raise TraceParseError(
                            str(path),
                            f"--format {forced.name} does not fit this file: all {rep.quarantined:,} records were rejected "
                            f"({top}). Hint: omit --format to detect it",
                        )
                    if hashing is not None:
                        identity = hashing.result().identity
                        if store.has_source(identity):  # same bytes under another name or mtime
                            report.identity = identity
                            report.status = "skipped"
                            report.notes.append("already ingested (same bytes): nothing added")
                            continue  # leaving the with block throws the staged parts away
                    rep.identity = identity
                    summary.files[-1] = report = rep
                    stg.publish(
                        [
                            Commit(
                                identity=identity,
                                source=source_name(src),
                                adapter=adapter.name,
                                tables={},
                                summary={
                                    "records_read": rep.records_read,
                                    "stored": rep.stored,
                                    "quarantined": rep.quarantined,
                                    "size": stat.st_size if stat else None,
                                    "mtime_ns": stat.st_mtime_ns if stat else None,
                                },
                            )
                        ]
                    )
            except TraceanaError as exc:
                report.status = "refused"
                report.error = str(exc)
            except (OSError, MemoryError) as exc:
                report.status = "refused"
                report.error = f"{path}: {exc}"
            except Exception as exc:  # noqa: BLE001 - one file's unexpected failure must not lose the others
                # Nothing reached the store: the manifest is written last (see traceana.store).
                report.status = "refused"
                report.error = (
                    f"{path}: internal error while ingesting ({_describe(exc)}); file refused, nothing stored"
                )
    if progress and files:
        progress(str(files[-1]), before[-1], before[-1])
    return summary


def _size(path: Path) -> int:
    """Bytes on disk of a regular file (0 for anything else: stdin, a FIFO, a file gone since listing)."""
    try:
        st = path.stat()
    except OSError:
        return 0
    return st.st_size if stat_mod.S_ISREG(st.st_mode) else 0
