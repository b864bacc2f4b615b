"""``traceana quarantine``: the quarantined rows of a store."""

from __future__ import annotations

import json

import click

from traceana.cli._common import _console


@click.command()
@click.option("--store", "store_dir", required=True, type=click.Path())
@click.option("--limit", default=20, show_default=True, help="Rows to show (0 = all).")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
def quarantine(store_dir, limit, as_json):
    """Show the quarantined rows of a store: file, line, field, reason."""
    import polars as pl

    from traceana.store import open_store

    q = open_store(store_dir, create=False).quarantine().sort("source_file", "source_line")
    df = (q.head(limit) if limit else q).collect()
    if as_json:
        for row in df.iter_rows(named=True):
            click.echo(json.dumps(row, default=str))
        return
    from rich.table import Table

    total = q.select(pl.len()).collect().item()
    t = Table(
        title=f"quarantine: {total:,} rows" + (f" (first {len(df)})" if limit and total > limit else ""),
        title_justify="left",
    )
    for c in ("source_file", "source_line", "field", "reason"):
        t.add_column(c, overflow="fold")
    for r in df.iter_rows(named=True):
        t.add_row(str(r["source_file"]), str(r["source_line"]), str(r["field"]), str(r["reason"]))
    _console().print(t)
