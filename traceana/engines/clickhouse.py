"""The ClickHouse engine: a server through clickhouse-connect, or chDB (embedded ClickHouse) in process.

URLs (``--engine``):

- ``clickhouse://user[:password]@host:8123/db?table=requests`` - a server or cluster over HTTP
  (password also from ``$CLICKHOUSE_PASSWORD``; ``clickhouses://`` for TLS);
- ``chdb:///path/to/dir?table=requests`` - chDB with its data under the directory
  (``chdb://`` alone: a temporary in-memory session).

Query parameters: ``table`` (requests, default ``requests``), ``engine_table``
(the engine time series, default ``engine_samples``), ``histogram_table``
(default ``engine_histograms``). Every name is checked to be a plain identifier
before it reaches SQL; every value travels as a query parameter
(``{name:Type}``), never as SQL text.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from traceana.engines.ddl import create_table, identifier
from traceana.errors import ConfigError, TraceanaError

# chDB sessions of one process share one embedded server, and a query's parameters are
# state of that server: two threads querying at once (the report runs two sections at a
# time) see each other's parameters. Queries to chDB are therefore one at a time.
_CHDB_LOCK = threading.Lock()

# Arrow inserts go in batches of this many rows (each one INSERT, one new part)
INSERT_BATCH_ROWS = 1_000_000


@dataclass
class ClickHouseTarget:
    """Where the tables live: the scheme (clickhouse, clickhouses, chdb), connection fields and table names."""

    scheme: str
    host: str = "localhost"
    port: int = 8123
    user: str = "default"
    password: str = ""
    database: str = "default"
    path: str = ""
    tables: dict[str, str] = field(
        default_factory=lambda: {
            "requests": "requests",
            "engine_samples": "engine_samples",
            "engine_histograms": "engine_histograms",
        }
    )


_QUERY_KEYS = {"table": "requests", "engine_table": "engine_samples", "histogram_table": "engine_histograms"}


def parse_url(url: str) -> ClickHouseTarget:
    """A :class:`ClickHouseTarget` from an engine URL (see the module docstring); ConfigError when malformed."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("clickhouse", "clickhouses", "chdb"):
        raise ConfigError(
            f"unknown engine URL {url!r}. Hint: clickhouse://user@host:8123/db?table=requests, "
            "chdb:///path?table=requests or 'embedded'",
            "engine",
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - set(_QUERY_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown engine URL parameter(s) {unknown}. Hint: one of {sorted(_QUERY_KEYS)}", "engine"
        )
    t = ClickHouseTarget(scheme=scheme)
    for key, table in _QUERY_KEYS.items():
        if key in query:
            t.tables[table] = query[key][-1]
    for name in t.tables.values():
        identifier(name)
    if scheme == "chdb":
        t.path = unquote(parts.netloc + parts.path)
        return t
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"engine URL {url!r}: the port is not a number", "engine") from None
    t.host = parts.hostname or "localhost"
    t.port = port or (8443 if scheme == "clickhouses" else 8123)
    t.user = unquote(parts.username) if parts.username else "default"
    t.password = unquote(parts.password) if parts.password else os.environ.get("CLICKHOUSE_PASSWORD", "")
    db = parts.path.strip("/")
    t.database = db or "default"
    identifier(t.database, "database")
    return t


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _param_text(value: Any, top: bool = True) -> str:
    """A parameter value in ClickHouse's text form for chDB, which parses it as the declared type
    (TabSeparated "escaped" text: a backslash or tab in a value must be escaped, or it changes the
    value); arrays are written as literals with quoted, escaped elements."""
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_param_text(v, top=False) for v in value) + "]"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return _escaped(value) if top else "'" + _escaped(value).replace("'", "\\'") + "'"
    return str(value)


class _ChdbClient:
    """chDB session: queries with {name:Type} parameters, results as Arrow streams."""

    def __init__(self, path: str) -> None:
        try:
            from chdb import session
        except ImportError:
            raise ConfigError(
                "chDB is not installed. Hint: pip install 'traceana[clickhouse]' (or pip install chdb)",
                "engine",
            ) from None
        self._session = session.Session(path) if path else session.Session()

    def query_arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        text = {k: _param_text(v) for k, v in (params or {}).items()}
        with _CHDB_LOCK:
            res = self._session.query(sql, "ArrowStream", params=text)
        data = res.bytes()
        if not data:
            return pa.table({})
        return pa.ipc.open_stream(data).read_all()

    def command(self, sql: str) -> None:
        with _CHDB_LOCK:
            self._session.query(sql)

    def insert_arrow(self, target: str, batch: pa.Table) -> None:
        # chDB's Python() table function reads the local variable by name
        _traceana_batch = batch  # noqa: F841
        cols = ", ".join(identifier(c, "column") for c in batch.column_names)
        with _CHDB_LOCK:
            self._session.query(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM Python(_traceana_batch)")

    def close(self) -> None:
        self._session.close()


class _ServerClient:
    """clickhouse-connect over HTTP(S): server-side parameter binding, Arrow in and out."""

    def __init__(self, t: ClickHouseTarget) -> None:
        try:
            import clickhouse_connect
        except ImportError:
            raise ConfigError(
                "clickhouse-connect is not installed. Hint: pip install clickhouse-connect", "engine"
            ) from None
        try:
            self._client = clickhouse_connect.get_client(
                host=t.host,
                port=t.port,
                username=t.user,
                password=t.password,
                database=t.database,
                secure=t.scheme == "clickhouses",
            )
        except Exception as exc:  # the driver raises its own types for refused connections and auth
            raise TraceanaError(f"cannot connect to ClickHouse at {t.host}:{t.port}: {exc}") from None
        self._lock = threading.Lock()

    def query_arrow(self, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
        with self._lock:  # one HTTP session: the driver refuses concurrent queries on it
            return self._client.query_arrow(sql, parameters=params or {})

    def command(self, sql: str) -> None:
        with self._lock:
            self._client.command(sql)

    def insert_arrow(self, target: str, batch: pa.Table) -> None:
        with self._lock:
            self._client.insert_arrow(target, batch)  # a dotted, quoted name is used as given

    def close(self) -> None:
        self._client.close()


class ClickHouse:
    """A connection to the canonical tables in ClickHouse or chDB.

    ``query`` returns a polars DataFrame (small result tables only);
    ``table(name)`` is the checked, quoted name of a canonical table.
    """

    def __init__(self, url: str, approximate: bool = False) -> None:
        self.url = url
        # percentiles by t-digest instead of exactly (report --approx); see latency.TDIGEST_MAX_REL_ERROR
        self.approximate = approximate
        self.target = parse_url(url)
        self._client = (
            _ChdbClient(self.target.path) if self.target.scheme == "chdb" else _ServerClient(self.target)
        )
        self.query_count = 0

    def table(self, canonical: str = "requests") -> str:
        name = identifier(self.target.tables[canonical])
        if self.target.scheme == "chdb":
            return name
        return f"{identifier(self.target.database, 'database')}.{name}"

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        self.query_count += 1
        try:
            out = self._client.query_arrow(sql, params)
        except TraceanaError:
            raise
        except Exception as exc:  # chDB and the driver raise their own types for server errors
            raise TraceanaError(
                f"ClickHouse query failed: {str(exc).strip().splitlines()[0][:500]}"
            ) from None
        return pl.from_arrow(out) if out.num_columns else pl.DataFrame()

    def command(self, sql: str) -> None:
        """Run a statement built from checked identifiers only (DDL); no result."""
        self._client.command(sql)

    def exists(self, canonical: str) -> bool:
        name = self.target.tables[canonical]
        db = "currentDatabase()" if self.target.scheme == "chdb" else "{db:String}"
        df = self.query(
            f"SELECT count() AS n FROM system.tables WHERE database = {db} AND name = {{name:String}}",
            {"db": self.target.database, "name": name},
        )
        return bool(df["n"][0])

    def create_tables(self) -> list[str]:
        """CREATE TABLE IF NOT EXISTS for requests, engine_samples, engine_histograms; returns the DDL run."""
        db = None if self.target.scheme == "chdb" else self.target.database
        ddl = [create_table(t, self.target.tables[t], db) for t in self.target.tables]
        for stmt in ddl:
            self._client.command(stmt)
        return ddl

    def insert(
        self, canonical: str, data: pa.Table | pl.DataFrame, batch_rows: int = INSERT_BATCH_ROWS
    ) -> int:
        """Insert validated canonical rows (conformed to the Arrow schema), ``batch_rows`` per INSERT."""
        from traceana.schema import conform

        table = data.to_arrow() if isinstance(data, pl.DataFrame) else data
        table = conform(table, canonical)
        if "itl_s" in table.column_names:  # Array columns cannot be null in ClickHouse: [] stands for null
            itl = table.column("itl_s")
            filled = pc.fill_null(itl, pa.scalar([], type=itl.type))
            table = table.set_column(table.column_names.index("itl_s"), "itl_s", filled)
        target = self.table(canonical)
        for start in range(0, table.num_rows, batch_rows):
            self._client.insert_arrow(target, table.slice(start, batch_rows))
        return table.num_rows

    def frame(self, canonical: str = "requests", since=None, until=None) -> pl.LazyFrame:
        """The rows of a canonical table in [since, until) (by its time column) as canonical Arrow
        columns, for what still runs locally; an empty ``itl_s`` array reads back as null."""
        from traceana.engines.sql import Params, where, window_where
        from traceana.schema import conform

        p = Params()
        col = "arrival_time" if canonical == "requests" else "time"
        table = self._client.query_arrow(
            f"SELECT * FROM {self.table(canonical)} {where(window_where(p, since, until, col))}", p.values
        )
        self.query_count += 1
        if table.num_columns == 0:
            from traceana.schema import arrow_schema

            table = arrow_schema(canonical).empty_table()
        table = conform(table, canonical)
        if "itl_s" in table.column_names:
            itl = table.column("itl_s")
            empty = pc.equal(pc.list_value_length(itl), 0)
            table = table.set_column(
                table.column_names.index("itl_s"), "itl_s", pc.if_else(empty, pa.scalar(None, itl.type), itl)
            )
        return pl.from_arrow(table).lazy()

    def rows(self, canonical: str = "requests") -> int:
        return int(self.query(f"SELECT count() AS n FROM {self.table(canonical)}")["n"][0])

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ClickHouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
