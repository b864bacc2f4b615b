"""The command line: parse arguments, call the library, render the result. Nothing more.

Errors are converted to one line on stderr and an exit code in one place,
:func:`_exit_for` (the codes are defined in :mod:`traceana.errors`): 0 ok; 1 an
SLO is breached or its budget exhausted (report, cost); 2 usage or config; 3
data (a damaged store); 4 I/O (a path that cannot be read or written); 130
interrupted. No traceback is printed unless ``--debug``.
Heavy imports live inside the commands so that ``traceana --help`` is instant.
"""

from __future__ import annotations

import json
import sys

import click

from traceana.errors import EXIT_DATA, EXIT_INTERRUPTED, EXIT_IO, TraceanaError


def _exit_for(exc: BaseException) -> tuple[int, str]:
    """(exit code, one-line message) for an exception that reached the CLI."""
    from traceana._console import escape_terminal

    if isinstance(exc, KeyboardInterrupt) or type(exc).__name__ == "InterruptException":  # duckdb's Ctrl-C
        return EXIT_INTERRUPTED, "interrupted"
    if isinstance(exc, TraceanaError):
        return exc.exit_code, escape_terminal(str(exc))
    if isinstance(exc, OSError):
        where = exc.filename if exc.filename is not None else "I/O"
        return EXIT_IO, escape_terminal(f"{where}: {exc.strerror or exc}")
    if isinstance(exc, RecursionError):
        return (
            EXIT_DATA,
            "input nested too deeply to evaluate (RecursionError). Hint: simplify the expression or input",
        )
    if isinstance(exc, OverflowError):
        return EXIT_DATA, escape_terminal(f"a number is out of range: {exc}")
    if isinstance(exc, MemoryError):
        return (
            EXIT_DATA,
            "out of memory. Hint: narrow the input (--since/--until) or raise the machine's memory",
        )
    return EXIT_DATA, escape_terminal(
        f"internal error ({type(exc).__name__}: {exc}). Hint: rerun with --debug for the traceback"
    )


class _Group(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            if ctx.params.get("debug"):
                raise
            code, message = _exit_for(exc)
            click.echo(f"traceana: {'' if code == EXIT_INTERRUPTED else 'error: '}{message}", err=True)
            ctx.exit(code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="traceana")
@click.option("--debug", is_flag=True, help="Show the Python traceback of an error instead of one line.")
def main(debug: bool) -> None:
    """traceana: latency percentiles, concurrency, SLO burn and cost per million tokens
    from the logs and traces of LLM serving (vLLM, SGLang, TGI, LiteLLM, OTel, benchmarks).

    Exit codes: 0 ok, 1 SLO breached, 2 usage/config error, 3 data error, 4 I/O error, 130 interrupted.
    """


def _limits(max_decompressed_bytes: int, max_line_bytes: int, max_json_depth: int):
    from traceana.ingest.base import Limits

    return Limits(max_decompressed_bytes, max_line_bytes, max_json_depth)


def limit_options(f):
    from traceana.ingest.base import Limits

    d = Limits()
    f = click.option(
        "--max-json-depth",
        type=int,
        default=d.max_json_depth,
        show_default=True,
        help="Refuse JSON nested deeper than this.",
    )(f)
    f = click.option(
        "--max-line-bytes",
        type=int,
        default=d.max_line_bytes,
        show_default=True,
        help="Quarantine lines longer than this.",
    )(f)
    f = click.option(
        "--max-decompressed-bytes",
        type=int,
        default=d.max_decompressed_bytes,
        show_default=True,
        help="Refuse files that decompress past this.",
    )(f)
    return f


def _console(err: bool = False):
    from traceana._console import console

    return console(err=err, soft_wrap=False)


@main.command()
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
def ingest(
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
        _ingest(
            paths,
            where,
            engine_url,
            fmt,
            map_file,
            tag_items,
            strict,
            as_json,
            max_decompressed_bytes,
            max_line_bytes,
            max_json_depth,
        )


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


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--store", "store_dir", default=None, type=click.Path(), help="Read an existing store instead of files."
)
@click.option("--format", "fmt", default=None, help="Adapter name for PATHS; default: detected.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--verify",
    is_flag=True,
    help="Hash every stored part against the manifest first (exit 3 naming a damaged part).",
)
def check(paths, store_dir, fmt, as_json, verify):
    """The six-point trace checklist: which fields the trace records and how completely."""
    import polars as pl

    from traceana.ingest import identity
    from traceana.ingest.inputs import open_inputs
    from traceana.metrics import checklist

    with open_inputs(list(paths), store_dir, fmt=fmt) as st:  # one manifest snapshot for every read below
        if verify:
            v = st.verify()
            unverified = (
                f", {len(v['unverified'])} without a checksum (older store)" if v["unverified"] else ""
            )
            click.echo(f"verified {v['verified']} part(s){unverified}", err=True)
        items = checklist.summary(st.requests(), st.engine_samples())  # the report's checklist too
        n_req = st.requests().select(pl.len()).collect().item()
        fmts = sorted(
            st.requests()
            .select(pl.col("source_format").unique())
            .collect()
            .to_series()
            .drop_nulls()
            .to_list()
        )
    ids = {f: identity.describe(f) for f in fmts}
    if as_json:
        click.echo(json.dumps({"requests": n_req, "items": items, "identity": ids}, indent=2, default=str))
        return
    from rich.table import Table

    colour = {"complete": "green", "partial": "yellow", "missing": "red"}
    t = Table(title=f"trace checklist ({n_req:,} requests)", title_justify="left")
    t.add_column("#")
    t.add_column("checklist item", overflow="fold")
    t.add_column("fields present (fill)", overflow="fold")
    t.add_column("missing", overflow="fold")
    t.add_column("verdict")
    for row in items:
        present = ", ".join(
            f"{r['field']} {r['fill_fraction']:.0%}" for r in row["fields"] if r["fill_fraction"] > 0
        )
        v = row["verdict"]
        t.add_row(
            str(row["item"]),
            row["name"],
            present or "-",
            ", ".join(row["fields_missing"]) or "-",
            f"[{colour[v]}]{v}[/]",
        )
    con = _console()
    con.print(t)
    for f, how in ids.items():
        con.print(f"request identity ({f}): {how}", markup=False)
    if any(identity.ORIGIN in how for how in ids.values()):
        con.print(identity.ORIGIN_NOTE, markup=False)


@main.command()
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
    t = Table(
        title=f"quarantine: {total:,} rows" + (f" (first {len(df)})" if limit and total > limit else ""),
        title_justify="left",
    )
    for c in ("source_file", "source_line", "field", "reason"):
        t.add_column(c, overflow="fold")
    for r in df.iter_rows(named=True):
        t.add_row(str(r["source_file"]), str(r["source_line"]), str(r["field"]), str(r["reason"]))
    _console().print(t)


@main.command()
@click.option("--store", "store_dir", required=True, type=click.Path())
@click.option(
    "--table",
    default="requests",
    type=click.Choice(["requests", "engine_samples", "engine_histograms", "quarantine"]),
)
@click.option(
    "--out", "out_path", default=None, type=click.Path(), help="Output file: .parquet, .csv or .jsonl"
)
@click.option(
    "--clickhouse",
    "clickhouse_url",
    default=None,
    help="Load the store's requests, engine samples and histograms into ClickHouse instead (URL as ingest --engine).",
)
@click.option(
    "--prometheus",
    is_flag=True,
    help="Write the requests as OpenMetrics counter and histogram series (the ones `traceana rules` reads), 1-minute steps.",
)
@click.option(
    "--slo",
    "slo_file",
    default=None,
    type=click.Path(),
    help="With --prometheus: traceana.toml whose SLO thresholds become histogram buckets.",
)
def export(store_dir, table, out_path, clickhouse_url, prometheus, slo_file):
    """Export one table of a store to Parquet, CSV or JSON Lines (canonical columns), the requests as
    OpenMetrics, or the store to ClickHouse.

    --prometheus output backfills with `promtool tsdb create-blocks-from openmetrics FILE DIR`.
    """
    from traceana.store import open_store

    if clickhouse_url:
        from traceana.engines.clickhouse import ClickHouse
        from traceana.engines.load import load_store

        with ClickHouse(clickhouse_url) as ch:
            loaded = load_store(open_store(store_dir, create=False), ch)
        click.echo("loaded into ClickHouse: " + ", ".join(f"{t} {n:,}" for t, n in loaded.items()))
        return
    if not out_path:
        raise click.UsageError("give --out FILE or --clickhouse URL")
    if prometheus:
        from traceana.rules.openmetrics import export_openmetrics

        export_openmetrics(
            open_store(store_dir, create=False).snapshot().scan("requests"), out_path, slo_file
        )
        click.echo(f"wrote {out_path}")
        return
    if not out_path.endswith((".parquet", ".csv", ".jsonl", ".ndjson")):
        raise click.UsageError("--out must end in .parquet, .csv or .jsonl")
    from traceana._atomic import atomic_path
    from traceana.report.csvsafe import neutralize_formulas

    lf = open_store(store_dir, create=False).snapshot().scan(table)
    with atomic_path(
        out_path, make_parents=False
    ) as tmp:  # temp + rename: a full disk never leaves a partial export
        if out_path.endswith(".parquet"):
            lf.sink_parquet(tmp)
        elif out_path.endswith(".csv"):
            neutralize_formulas(lf.drop("itl_s", strict=False)).sink_csv(tmp)  # CSV has no list type
        else:
            lf.sink_ndjson(tmp)
    click.echo(f"wrote {out_path}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--store", "store_dir", default=None, type=click.Path(), help="One store whose two slices are compared."
)
@click.option(
    "--format", "fmt", default=None, help="Adapter name for PATHS; default: detected from the content."
)
@click.option(
    "--base", "base_filter", default=None, help="Filter selecting the base slice, e.g. 'model_version=v1'."
)
@click.option(
    "--candidate",
    "cand_filter",
    default=None,
    help="Filter selecting the candidate slice, e.g. 'model_version=v2'.",
)
@click.option(
    "--base-window", default=None, help="Base arrival window START..END (ISO-8601; an end may be empty)."
)
@click.option("--candidate-window", default=None, help="Candidate arrival window START..END.")
@click.option(
    "--by", default=None, help="Also compare per group of these columns, comma-separated (e.g. model,route)."
)
@click.option(
    "--config",
    "config_path",
    default=None,
    type=click.Path(),
    help="traceana.toml (its SLOs give attainment and goodput).",
)
@click.option(
    "--slo", "slo_files", multiple=True, type=click.Path(), help="OpenSLO v1 YAML file (repeatable)."
)
@click.option(
    "--fail-on",
    "rules",
    multiple=True,
    help="Gate rule, e.g. 'p99(ttft) > +10%' or 'error_rate > +0.5pp' (repeatable).",
)
@click.option(
    "--adjust",
    type=click.Choice(["holm", "bh"]),
    default="holm",
    show_default=True,
    help="Multiple-comparison adjustment: Holm (family-wise) or Benjamini-Hochberg (false discovery rate).",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the bootstrap (same inputs, same intervals).",
)
@click.option(
    "--sweep",
    is_flag=True,
    help="PATHS are runs of a sweep: throughput vs latency, Pareto frontier, over-saturation.",
)
@click.option(
    "--out",
    "out_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Write compare.html, compare.md, compare.json here.",
)
@click.option("--json", "as_json", is_flag=True, help="Print compare.json to stdout.")
@click.option("--title", default=None, help="Title of the comparison.")
def compare(
    paths,
    store_dir,
    fmt,
    base_filter,
    cand_filter,
    base_window,
    candidate_window,
    by,
    config_path,
    slo_files,
    rules,
    adjust,
    seed,
    sweep,
    out_dir,
    as_json,
    title,
):
    """Compare BASE and CANDIDATE (two files or stores, or two slices of one) metric by metric: difference,
    95% interval, and a verdict (better / worse / no significant change / not enough data) after a
    multiple-comparison adjustment.

    Exit 1 when a --fail-on rule fires (significant and beyond its threshold), 2 on bad input or a bad rule.
    """
    from traceana.compare import inputs, render, run_compare, run_sweep, write_compare
    from traceana.report.commands import _load

    if sweep:
        with inputs.open_runs(list(paths), fmt) as runs:
            cmp = run_sweep(runs, title=title)
    else:
        from traceana.compare.rules import parse_rule

        for r in rules:  # a bad rule is a usage error before any data is read
            parse_rule(r)
        config, slos = _load(config_path, slo_files)
        group_by = [c.strip() for c in by.split(",") if c.strip()] if by else []
        base = inputs.SliceSpec(base_filter, inputs.parse_window(base_window, "--base-window"))
        cand = inputs.SliceSpec(cand_filter, inputs.parse_window(candidate_window, "--candidate-window"))
        with inputs.open_sides(list(paths), store_dir, fmt, base, cand) as ((lb, lf_b), (lc, lf_c)):
            cmp = run_compare(
                lf_b,
                lf_c,
                by=group_by,
                slos=list(config.slos) + slos,
                rules=rules,
                labels=(lb, lc),
                title=title,
                seed=seed,
                adjust=adjust,
                config=config,
            )
    written = write_compare(cmp, out_dir) if out_dir else []
    if as_json:
        click.echo(render.render_json(cmp), nl=False)
    else:
        for line in render.summary_lines(cmp, written):
            click.echo(line)
    sys.exit(cmp["verdict"]["exit_code"])


@main.command()
@click.option(
    "--slo",
    "slo_file",
    required=True,
    type=click.Path(),
    help="traceana.toml ([[slo]], [prometheus]) or OpenSLO YAML.",
)
@click.option(
    "--style",
    default="sloth",
    show_default=True,
    type=click.Choice(["sloth", "pyrra"]),
    help="Rule names and layout.",
)
@click.option("-o", "--out", "out_path", required=True, type=click.Path(), help="Rules file to write (YAML).")
@click.option(
    "--service",
    default=None,
    help="sloth_service label (default: [prometheus] service, OpenSLO spec.service, or llm).",
)
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
@click.option(
    "--slo", "slo_file", required=True, type=click.Path(), help="traceana.toml with [[slo]] tables."
)
@click.option(
    "--openslo", is_flag=True, required=True, help="Write OpenSLO v1 documents (the only format so far)."
)
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
