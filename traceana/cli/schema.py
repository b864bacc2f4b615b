"""``traceana schema``: print, write or check the generated schemas; ClickHouse DDL."""

from __future__ import annotations

import json
import sys

import click


@click.command()
@click.option("--write", is_flag=True, help="Write schemas/*.json under --root.")
@click.option("--check", "check_only", is_flag=True, help="Exit 1 if schemas/*.json differ from the code.")
@click.option("--root", default=".", type=click.Path(file_okay=False), show_default=True)
@click.option(
    "--clickhouse",
    "clickhouse_ddl",
    is_flag=True,
    help="Print the ClickHouse CREATE TABLE statements instead.",
)
def schema(write, check_only, root, clickhouse_ddl):
    """Print the canonical schemas, or write / check schemas/*.json."""
    from pathlib import Path

    from traceana import schema as sch

    if clickhouse_ddl:
        from traceana.engines.ddl import create_all

        click.echo(";\n\n".join(create_all()) + ";")
        return

    from traceana.compare import schema as compare_schema

    files = {**sch.schema_files(Path(root)), **compare_schema.schema_files(Path(root))}
    if write:
        for p in sch.write_schema_files(Path(root), files):
            click.echo(f"wrote {p}")
        return
    if check_only:
        stale = [
            str(p) for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text
        ]
        if stale:
            click.echo("out of date: " + ", ".join(stale) + ". Hint: traceana schema --write", err=True)
            sys.exit(1)
        click.echo("schemas up to date")
        return
    click.echo(json.dumps({t: sch.to_json(t) for t in sch.PUBLISHED}, indent=2))
