"""``traceana ingest``: validate files and add them to a store (or ClickHouse)."""

from __future__ import annotations

import json
import sys

import click

from traceana.cli._common import _console, _limits, limit_options


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--store", "store_dir", default=None, type=click.Path(), help="Store directory (created if absent)."
)
@click.option(
    "--engine",
    "engine_url",
    default=None,
    help="Load the validated rows into ClickHouse instead: clickhouse://user@host:8123/db?table=requests or chdb:///dir.",
)
@click.option("--format", "fmt", default=None, help="Adapter name; default: detected from the content.")
@click.option(
    "--map",
    "map_file",
    default=None,
    type=click.Path(),
    help="Column-map TOML for in-house CSV/JSONL/Parquet (implies --format mapped).",
)
@click.option(
    "--set",
    "tag_items",
    multiple=True,
    metavar="KEY=VALUE",
    help="Tag every request row (env, region, run name); repeatable. report --by KEY groups on it.",
)
@click.option("--strict", is_flag=True, help="Exit 2 when any row is quarantined.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@limit_options
def ingest(paths, store_dir, engine_url, **opts):
    """Validate PATHS (files or directories) and add them to the store at --store.

    Bad rows go to the store's quarantine with file, line, field and reason.
    Re-ingesting the same file adds nothing. Exit 2 if a file was refused, or
    (with --strict) if any row was quarantined. With --engine the rows are
    validated the same way and then inserted into ClickHouse (tables created if
    absent; ClickHouse does not deduplicate a file ingested twice).
    """
    import contextlib
    import tempfile

    if (store_dir is None) == (engine_url is None):
        raise click.UsageError("give --store DIR or --engine URL (one of them)")
    tmp = (
        contextlib.nullcontext(store_dir)
        if store_dir
        else tempfile.TemporaryDirectory(prefix="traceana-ingest-")
    )
    with tmp as where:
        _ingest(paths, where, engine_url, **opts)


def _ingest(
    paths,
    store_dir,
    engine_url,
    fmt,
    map_file,
    tag_items,
    strict,
    as_json,
    max_decompressed_bytes,
    max_line_bytes,
    max_json_depth,
):
    from traceana.ingest import ingest_paths
    from traceana.store import open_store
    from traceana.tags import parse

    tags = parse(tag_items)
    column_map = None
    if map_file:
        from traceana.ingest.adapters.mapped import load_column_map

        column_map = load_column_map(map_file)
        fmt = fmt or "mapped"
    store = open_store(store_dir)
    limits = _limits(max_decompressed_bytes, max_line_bytes, max_json_depth)
    progress_cb, progress_ctx = _progress(len(paths), quiet=as_json)
    with progress_ctx:
        summary = ingest_paths(
            store, list(paths), fmt=fmt, limits=limits, column_map=column_map, progress=progress_cb, tags=tags
        )
    loaded = None
    if engine_url:
        from traceana.engines.clickhouse import ClickHouse
        from traceana.engines.load import load_store

        with ClickHouse(engine_url) as ch:
            loaded = load_store(store, ch)
    if as_json:
        click.echo(
            json.dumps(
                summary.to_dict() | ({"loaded": loaded} if loaded is not None else {}), indent=2, default=str
            )
        )
    else:
        _print_ingest(summary, engine_url or store_dir)
        if loaded is not None:
            _console().print(
                "loaded into ClickHouse: " + ", ".join(f"{t} {n:,}" for t, n in loaded.items()), markup=False
            )
    if summary.refused or (strict and summary.quarantined):
        sys.exit(2)


def _progress(n_paths: int, quiet: bool):
    import contextlib

    if quiet or not sys.stderr.isatty():
        return None, contextlib.nullcontext()
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    prog = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=_console(err=True),
    )
    task = prog.add_task("ingest", total=None)

    def cb(path: str, done_bytes: int, total_bytes: int) -> None:  # bytes read so far, not files
        prog.update(task, total=total_bytes or None, completed=done_bytes, description=f"ingest {path[-50:]}")

    return cb, prog


def _print_ingest(summary, store_dir) -> None:
    from rich.table import Table

    from traceana._console import escape_terminal

    con = _console()
    t = Table(title=f"ingest into {store_dir}", title_justify="left")
    for c in ("file", "format", "status", "read", "stored", "quarantined"):
        t.add_column(
            c, justify="right" if c in ("read", "stored", "quarantined") else "left", overflow="fold"
        )
    for f in summary.files:
        stored = sum(f.stored.values())
        t.add_row(
            f.path, f.adapter or "-", f.status, f"{f.records_read:,}", f"{stored:,}", f"{f.quarantined:,}"
        )
    con.print(t)
    con.print(
        f"rows read {summary.records_read:,}  stored {summary.stored:,}  quarantined {summary.quarantined:,}"
        + (f"  files refused {len(summary.refused)}" if summary.refused else "")
    )
    reasons = summary.reasons()
    if reasons:
        r = Table(title="quarantined by reason", title_justify="left")
        r.add_column("reason")
        r.add_column("rows", justify="right")
        for k, v in reasons.most_common():
            r.add_row(k, f"{v:,}")
        con.print(r)
    for f in summary.files:
        for note in f.notes:
            con.print(f"note: {f.path}: {note}", markup=False)
        if f.error:  # one line, never wrapped: scripts grep it
            click.echo(f"refused: {escape_terminal(str(f.error))}", err=True)
