"""The command line: parse arguments, call the library, render the result. Nothing more.

Exit codes: 0 ok; 1 an SLO is breached or its budget exhausted (report, cost);
2 bad input or usage. Any TraceanaError becomes one line on stderr and exit 2.
Heavy imports live inside the commands so that ``traceana --help`` is instant.
"""

from __future__ import annotations

import json
import sys

import click

from traceana.errors import TraceanaError


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except TraceanaError as exc:
            click.echo(f"traceana: error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("traceana: interrupted", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="traceana")
def main() -> None:
    """traceana: latency percentiles, concurrency, SLO burn and cost per million tokens
    from the logs and traces of LLM serving (vLLM, SGLang, TGI, LiteLLM, OTel, benchmarks)."""


def _limits(max_decompressed_bytes: int, max_line_bytes: int, max_json_depth: int):
    from traceana.ingest.base import Limits

    return Limits(max_decompressed_bytes, max_line_bytes, max_json_depth)


def limit_options(f):
    from traceana.ingest.base import Limits

    d = Limits()
    f = click.option("--max-json-depth", type=int, default=d.max_json_depth, show_default=True, help="Refuse JSON nested deeper than this.")(f)
    f = click.option("--max-line-bytes", type=int, default=d.max_line_bytes, show_default=True, help="Quarantine lines longer than this.")(f)
    f = click.option(
        "--max-decompressed-bytes", type=int, default=d.max_decompressed_bytes, show_default=True, help="Refuse files that decompress past this."
    )(f)
    return f


def _console(err: bool = False):
    from traceana._console import console

    return console(err=err, soft_wrap=False)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--store", "store_dir", required=True, type=click.Path(), help="Store directory (created if absent).")
@click.option("--format", "fmt", default=None, help="Adapter name; default: detected from the content.")
@click.option("--map", "map_file", default=None, type=click.Path(), help="Column-map TOML for in-house CSV/JSONL/Parquet (implies --format mapped).")
@click.option("--strict", is_flag=True, help="Exit 2 when any row is quarantined.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@limit_options
def ingest(paths, store_dir, fmt, map_file, strict, as_json, max_decompressed_bytes, max_line_bytes, max_json_depth):
    """Validate PATHS (files or directories) and add them to the store at --store.

    Bad rows go to the store's quarantine with file, line, field and reason.
    Re-ingesting the same file adds nothing. Exit 2 if a file was refused, or
    (with --strict) if any row was quarantined.
    """
    from traceana.ingest import ingest_paths
    from traceana.store import open_store

    column_map = None
    if map_file:
        from traceana.ingest.adapters.mapped import load_column_map

        column_map = load_column_map(map_file)
        fmt = fmt or "mapped"
    store = open_store(store_dir)
    limits = _limits(max_decompressed_bytes, max_line_bytes, max_json_depth)
    progress_cb, progress_ctx = _progress(len(paths), quiet=as_json)
    with progress_ctx:
        summary = ingest_paths(store, list(paths), fmt=fmt, limits=limits, column_map=column_map, progress=progress_cb)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        _print_ingest(summary, store_dir)
    if summary.refused or (strict and summary.quarantined):
        sys.exit(2)


def _progress(n_paths: int, quiet: bool):
    import contextlib

    if quiet or not sys.stderr.isatty():
        return None, contextlib.nullcontext()
    from rich.progress import Progress

    prog = Progress(transient=True, console=_console(err=True))
    task = prog.add_task("ingest", total=None)

    def cb(path: str, i: int, total: int) -> None:
        prog.update(task, total=total, completed=i, description=f"ingest {path[-50:]}")

    return cb, prog


def _print_ingest(summary, store_dir) -> None:
    from rich.table import Table

    con = _console()
    t = Table(title=f"ingest into {store_dir}", title_justify="left")
    for c in ("file", "format", "status", "read", "stored", "quarantined"):
        t.add_column(c, justify="right" if c in ("read", "stored", "quarantined") else "left", overflow="fold")
    for f in summary.files:
        stored = sum(f.stored.values())
        t.add_row(f.path, f.adapter or "-", f.status, f"{f.records_read:,}", f"{stored:,}", f"{f.quarantined:,}")
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
            click.echo(f"refused: {f.error}", err=True)


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--store", "store_dir", default=None, type=click.Path(), help="Read an existing store instead of files.")
@click.option("--format", "fmt", default=None, help="Adapter name for PATHS; default: detected.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def check(paths, store_dir, fmt, as_json):
    """The six-point trace checklist: which fields the trace records and how completely."""
    from traceana.metrics import checklist
    from traceana.store import open_inputs

    with open_inputs(list(paths), store_dir, fmt=fmt) as st:
        cov = checklist.coverage(st.requests(), st.engine_samples())
        detail = checklist.field_fill(st.requests(), st.engine_samples())
        n_req = st.requests().select(__import__("polars").len()).collect().item()
    if as_json:
        items = cov.to_dicts()
        for it in items:
            it["fields"] = detail.filter(detail["item"] == it["item"]).drop("item").to_dicts()
        click.echo(json.dumps({"requests": n_req, "items": items}, indent=2))
        return
    from rich.table import Table

    colour = {"complete": "green", "partial": "yellow", "missing": "red"}
    t = Table(title=f"trace checklist ({n_req:,} requests)", title_justify="left")
    t.add_column("#")
    t.add_column("checklist item", overflow="fold")
    t.add_column("fields present (fill)", overflow="fold")
    t.add_column("missing", overflow="fold")
    t.add_column("verdict")
    for row in cov.iter_rows(named=True):
        d = detail.filter((detail["item"] == row["item"]) & (detail["fill_fraction"] > 0))
        present = ", ".join(f"{r['field']} {r['fill_fraction']:.0%}" for r in d.iter_rows(named=True))
        v = row["verdict"]
        t.add_row(str(row["item"]), row["name"], present or "-", ", ".join(row["fields_missing"]) or "-", f"[{colour[v]}]{v}[/]")
    _console().print(t)


@main.command()
@click.option("--write", is_flag=True, help="Write schemas/*.json under --root.")
@click.option("--check", "check_only", is_flag=True, help="Exit 1 if schemas/*.json differ from the code.")
@click.option("--root", default=".", type=click.Path(file_okay=False), show_default=True)
def schema(write, check_only, root):
    """Print the canonical schemas, or write / check schemas/*.json."""
    from pathlib import Path

    from traceana import schema as sch

    files = sch.schema_files(Path(root))
    if write:
        for p in sch.write_schema_files(Path(root)):
            click.echo(f"wrote {p}")
        return
    if check_only:
        stale = [str(p) for p, text in files.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        if stale:
            click.echo("out of date: " + ", ".join(stale) + ". Hint: traceana schema --write", err=True)
            sys.exit(1)
        click.echo("schemas up to date")
        return
    click.echo(json.dumps({t: sch.to_json(t) for t in sch.PUBLISHED}, indent=2))


@main.command()
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
    t = Table(title=f"quarantine: {total:,} rows" + (f" (first {len(df)})" if limit and total > limit else ""), title_justify="left")
    for c in ("source_file", "source_line", "field", "reason"):
        t.add_column(c, overflow="fold")
    for r in df.iter_rows(named=True):
        t.add_row(str(r["source_file"]), str(r["source_line"]), str(r["field"]), str(r["reason"]))
    _console().print(t)


@main.command()
@click.option("--store", "store_dir", required=True, type=click.Path())
@click.option("--table", default="requests", type=click.Choice(["requests", "engine_samples", "engine_histograms", "quarantine"]))
@click.option("--out", "out_path", required=True, type=click.Path(), help="Output file: .parquet, .csv or .jsonl")
@click.option("--prometheus", is_flag=True, help="Write the requests as OpenMetrics counter and histogram series (the ones `traceana rules` reads), 1-minute steps.")
@click.option("--slo", "slo_file", default=None, type=click.Path(), help="With --prometheus: traceana.toml whose SLO thresholds become histogram buckets.")
def export(store_dir, table, out_path, prometheus, slo_file):
    """Export one table of a store to Parquet, CSV or JSON Lines (canonical columns), or the requests as OpenMetrics.

    --prometheus output backfills with `promtool tsdb create-blocks-from openmetrics FILE DIR`.
    """
    from traceana.store import open_store

    if prometheus:
        from traceana.rules.openmetrics import export_openmetrics

        export_openmetrics(open_store(store_dir, create=False).scan("requests"), out_path, slo_file)
        click.echo(f"wrote {out_path}")
        return
    if not out_path.endswith((".parquet", ".csv", ".jsonl", ".ndjson")):
        raise click.UsageError("--out must end in .parquet, .csv or .jsonl")
    lf = open_store(store_dir, create=False).scan(table)
    try:
        if out_path.endswith(".parquet"):
            lf.sink_parquet(out_path)
        elif out_path.endswith(".csv"):
            lf.drop("itl_s", strict=False).sink_csv(out_path)  # CSV has no list type
        else:
            lf.sink_ndjson(out_path)
    except OSError as exc:
        raise TraceanaError(f"{out_path}: cannot write: {exc}") from None
    click.echo(f"wrote {out_path}")


@main.command()
@click.option("--slo", "slo_file", required=True, type=click.Path(), help="traceana.toml ([[slo]], [prometheus]) or OpenSLO YAML.")
@click.option("--style", default="sloth", show_default=True, type=click.Choice(["sloth", "pyrra"]), help="Rule names and layout.")
@click.option("-o", "--out", "out_path", required=True, type=click.Path(), help="Rules file to write (YAML).")
@click.option("--service", default=None, help="sloth_service label (default: [prometheus] service, OpenSLO spec.service, or llm).")
def rules(slo_file, style, out_path, service):
    """Write Prometheus recording and multiwindow burn-rate alerting rules for the SLOs in --slo."""
    from traceana.rules import load_prom_slos, write_rules

    slos = load_prom_slos(slo_file, service)
    write_rules(slos, out_path, style, source=slo_file)
    for s in slos:
        for n in s.notes:
            click.echo(f"note: {n}", err=True)
    click.echo(f"wrote {out_path} ({len(slos)} SLOs, {style} layout)")


@main.group()
def slo():
    """SLO definitions: convert traceana's SLO config."""


@slo.command("export")
@click.option("--slo", "slo_file", required=True, type=click.Path(), help="traceana.toml with [[slo]] tables.")
@click.option("--openslo", is_flag=True, required=True, help="Write OpenSLO v1 documents (the only format so far).")
@click.option("-o", "--out", "out_path", required=True, type=click.Path(), help="YAML file to write.")
def slo_export(slo_file, openslo, out_path):
    """Write the SLOs of a traceana.toml as OpenSLO v1 (kind SLO, metricSource type traceana)."""
    from traceana.config import load_config
    from traceana.rules.openslo_out import write_openslo

    slos = load_config(slo_file).slos
    write_openslo(slos, out_path)
    click.echo(f"wrote {out_path} ({len(slos)} SLOs)")


def _register_feature_commands() -> None:
    """Commands whose modules live with their feature; their heavy imports stay inside the commands."""
    from traceana.report.commands import cost, report
    from traceana.simulate_cli import simulate

    for command in (report, cost, simulate):
        main.add_command(command)


_register_feature_commands()


if __name__ == "__main__":
    main()
