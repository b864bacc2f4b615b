"""Loading validated canonical rows into ClickHouse: a store's tables, in Arrow batches.

Rows reach ClickHouse only after ingest validated them (the store holds
nothing else); each batch is one Arrow INSERT. ClickHouse does not deduplicate:
loading the same store twice stores its rows twice, so load a store once (or
into fresh tables).
"""

from __future__ import annotations

from traceana.engines.clickhouse import INSERT_BATCH_ROWS, ClickHouse

LOADED_TABLES = ("requests", "engine_samples", "engine_histograms")


def load_store(store, ch: ClickHouse, batch_rows: int = INSERT_BATCH_ROWS) -> dict[str, int]:
    """Create the tables if absent and insert every row of the store's published tables; rows per table."""
    ch.create_tables()
    out = {}
    for table in LOADED_TABLES:
        lf = store.scan(table)
        n = 0
        for batch in lf.collect_batches(chunk_size=batch_rows):
            if batch.height:
                n += ch.insert(table, batch.to_arrow(), batch_rows=batch_rows)
        out[table] = n
    return out
