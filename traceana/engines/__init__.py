"""Engines the metrics run on: the embedded one (polars / DuckDB over the Parquet store, the
default) and ClickHouse (a server via clickhouse-connect, or chDB in process).

See :mod:`traceana.engines.clickhouse` for the URLs and :mod:`traceana.engines.ddl`
for the tables.
"""
