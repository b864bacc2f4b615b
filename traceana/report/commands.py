"""``traceana report`` and ``traceana cost``: parse options, call the library, write or print.

Exit codes (``traceana.errors``): 0 ok; 1 an SLO is breached (attainment below
its objective) or its error budget is exhausted in the window; 2 bad input or
usage (the main CLI group turns any TraceanaError into one line and exit 2).
``cost`` evaluates the SLOs of its --config too, so the same gate applies.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime

import click


def _when(ctx, param, value: str | None) -> datetime | None:
    if value is None:
        return None
    from traceana.units import parse_datetime

    try:
        return parse_datetime(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO-8601 time (e.g. 2025-01-01T00:00:00Z)") from None


def _inputs(paths, store_dir):
    if not paths and not store_dir:
        raise click.UsageError("give input PATH... or --store DIR")
    if paths and store_dir:
        raise click.UsageError("give input PATH... or --store DIR, not both")


def _load(config_path, slo_files):
    from traceana.config import Config, load_config
    from traceana.openslo import load_openslo

    config = load_config(config_path) if config_path else Config()
    slos = [s for f in slo_files for s in load_openslo(f)]
    return config, slos


def _check_ingest(st) -> list[str]:
    """Refuse to report on a partial input: a refused file is bad input (exit 2), as in ``traceana ingest``.

    Returns notes for the report (rows quarantined at ingest).
    """
    from traceana.errors import TraceanaError

    summary = getattr(st, "last_ingest", None)
    if summary is None:
        return []
    refused = summary.refused
    if refused:
        first = refused[0].error or refused[0].path
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        raise TraceanaError(
            f"input refused: {first}{more}. Hint: `traceana ingest PATH --store DIR` shows every file's status"
        )
    n = summary.quarantined
    return (
        [
            f"{n:,} input rows were quarantined at ingest (run `traceana ingest` into a store, then `traceana quarantine`)"
        ]
        if n
        else []
    )


def input_options(f):
    f = click.option(
        "--format", "fmt", default=None, help="Adapter name for PATHS; default: detected from the content."
    )(f)
    f = click.option(
        "--store",
        "store_dir",
        default=None,
        type=click.Path(),
        help="Read an existing store instead of PATHS.",
    )(f)
    return click.argument("paths", nargs=-1, type=click.Path())(f)


@click.command()
@input_options
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Directory for report.html, report.md, report.json.",
)
@click.option(
    "--config",
    "config_path",
    default=None,
    type=click.Path(),
    help="traceana.toml: SLOs, GPU prices, deployments, ...",
)
@click.option(
    "--slo", "slo_files", multiple=True, type=click.Path(), help="OpenSLO v1 YAML file (repeatable)."
)
@click.option("--by", default=None, help="Group columns, comma-separated (default: [report] by, else model).")
@click.option(
    "--since", callback=_when, default=None, help="Only requests arriving at or after this ISO-8601 time."
)
@click.option(
    "--until", callback=_when, default=None, help="Only requests arriving before this ISO-8601 time."
)
@click.option("--title", default=None, help="Report title.")
@click.option(
    "--images",
    type=click.Choice(["png", "svg"]),
    default=None,
    help="Also write each chart as PNG or SVG under OUT/charts/.",
)
@click.option("--no-fail", is_flag=True, help="Exit 0 even when an SLO is breached.")
@click.option(
    "--engine",
    "engine_url",
    default=None,
    help="Compute on ClickHouse instead of PATHS / --store: clickhouse://user@host:8123/db?table=requests or chdb:///dir.",
)
@click.option(
    "--approx",
    is_flag=True,
    help="With --engine: t-digest percentiles (up to 5% off, no CI) instead of exact ones.",
)
@click.option(
    "--max-groups",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="Groups shown per --by column: the most requested; the rest are merged as 'other'.",
)
def report(
    paths,
    store_dir,
    fmt,
    out_dir,
    config_path,
    slo_files,
    by,
    since,
    until,
    title,
    images,
    no_fail,
    engine_url,
    approx,
    max_groups,
):
    """Write the SLO report of PATHS (or --store) to --out: report.html (offline), report.md, report.json.

    Exit 1 when an SLO is breached or its error budget is exhausted in the
    window (use --no-fail to always exit 0), 2 on bad input.
    """
    from traceana.ingest.inputs import open_inputs
    from traceana.report import build_report, write_report

    if engine_url and (paths or store_dir):
        raise click.UsageError("give --engine URL, or input PATH... / --store DIR, not both")
    if approx and not engine_url:
        raise click.UsageError("--approx needs --engine (the embedded engine's percentiles are always exact)")
    if not engine_url:
        _inputs(paths, store_dir)
    config, slos = _load(config_path, slo_files)
    group_by = (
        [c.strip() for c in by.split(",") if c.strip()] if by is not None else (config.report.by or ["model"])
    )
    if engine_url:
        rep, notes = _engine_report(engine_url, config, slos, group_by, since, until, title, approx)
    else:
        from traceana.report.topgroups import cap_groups

        with open_inputs(list(paths), store_dir, fmt=fmt) as st:
            notes = _check_ingest(st)
            requests, capped = cap_groups(st.requests(), group_by, [*config.slos, *slos], max_groups)
            notes += capped
            rep = build_report(
                requests,
                st.engine_samples(),
                config=config,
                slos=slos,
                by=group_by,
                since=since,
                until=until,
                title=title,
            )
    rep["warnings"] = notes + rep["warnings"]
    written = write_report(rep, out_dir, images=images)
    _print_summary(rep, written)
    code = rep["verdict"]["exit_code"]
    sys.exit(0 if no_fail else code)


def _engine_report(url, config, slos, by, since, until, title, approx=False) -> tuple[dict, list[str]]:
    """The report with its heavy sections in ClickHouse (report.pushdown.PUSHED_SECTIONS); the rest
    from the rows the engine returns (LOCAL_SECTIONS)."""
    from traceana.engines.clickhouse import ClickHouse
    from traceana.report import build_report

    with ClickHouse(url, approximate=approx) as ch:
        engine_lf = ch.frame("engine_samples", since, until) if ch.exists("engine_samples") else None
        rep = build_report(
            ch.frame("requests", since, until),
            engine_lf,
            config=config,
            slos=slos,
            by=by,
            since=since,
            until=until,
            title=title,
            engine=ch,
        )
    return rep, []


def _print_summary(rep: dict, written) -> None:
    from traceana._console import console
    from traceana.report.tables import fmt_pct, window_text

    con = console(soft_wrap=True, highlight=False)
    r, w = rep["requests"], rep["window"]
    con.print(
        f"window {window_text(w)} ({w['seconds']:,.0f} s); requests {r['total']:,} (ok {r['ok']:,}, failed {r['failed']:,})",
        markup=False,
    )

    for s in rep.get("slo") or []:
        if s.get("not_measured"):
            con.print(f"  n/a      {s['name']}: {s['not_measured']}", markup=False)
            continue
        ok = s.get("met") and not s.get("budget_exhausted")
        con.print(
            f"  {'met     ' if ok else 'BREACHED'} {s['name']}: attainment {fmt_pct(s.get('attainment'), 3)} "
            f"(objective {fmt_pct(s.get('objective'), 3)}), error budget left {fmt_pct(s.get('budget_remaining'), 1)}",
            markup=False,
        )
    for w in rep.get("warnings") or []:
        con.print(f"note: {w}", markup=False)
    for p in written:
        con.print(f"wrote {p}", markup=False)


@click.command()
@input_options
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(),
    help="traceana.toml with [gpu_prices] (and deployments).",
)
@click.option(
    "--slo", "slo_files", multiple=True, type=click.Path(), help="OpenSLO v1 YAML file (repeatable)."
)
@click.option(
    "--since", callback=_when, default=None, help="Only requests arriving at or after this ISO-8601 time."
)
@click.option(
    "--until", callback=_when, default=None, help="Only requests arriving before this ISO-8601 time."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--no-fail", is_flag=True, help="Exit 0 even when an SLO is breached.")
@click.option(
    "--engine",
    "engine_url",
    default=None,
    help="Compute on ClickHouse instead of PATHS / --store (URL as report --engine).",
)
def cost(paths, store_dir, fmt, config_path, slo_files, since, until, as_json, no_fail, engine_url):
    """Cost audit: provisioned GPU-hours, tokens served, effective vs nominal $/1M tokens, utilization,
    and the cost had autoscaling held the target utilization, per model and instance.

    The config's SLOs (and --slo files) are evaluated too: exit 1 when one is
    breached or its budget exhausted, 2 on bad input or when an instance is
    unpriced (no price entry matches it: listed, left out of the totals), 3 when
    the data contradicts a figure (utilization above 100%), else 0.
    """
    from traceana.ingest.inputs import open_inputs
    from traceana.report.build import build_cost
    from traceana.report.series import clean

    if engine_url and (paths or store_dir):
        raise click.UsageError("give --engine URL, or input PATH... / --store DIR, not both")
    if not engine_url:
        _inputs(paths, store_dir)
    config, slos = _load(config_path, slo_files)
    if engine_url:
        from traceana.engines.clickhouse import ClickHouse

        notes = []
        with ClickHouse(engine_url) as ch:
            engine_lf = ch.frame("engine_samples", since, until) if ch.exists("engine_samples") else None
            out = build_cost(
                ch.frame("requests", since, until),
                engine_lf,
                config=config,
                slos=slos,
                since=since,
                until=until,
                engine=ch,
            )
    else:
        with open_inputs(list(paths), store_dir, fmt=fmt) as st:
            notes = _check_ingest(st)
            out = build_cost(
                st.requests(), st.engine_samples(), config=config, slos=slos, since=since, until=until
            )
    out["warnings"] = notes + out["warnings"]
    if as_json:
        click.echo(json.dumps(clean(out), indent=2, allow_nan=False))
    else:
        _print_cost(out)
    sys.exit(out["verdict"].get("cost_exit_code") or (0 if no_fail else out["verdict"]["exit_code"]))


def _print_cost(out: dict) -> None:
    from rich.table import Table

    from traceana._console import console
    from traceana.report.tables import autoscale_table, cost_table

    con = console(soft_wrap=False, highlight=False)
    c = out.get("cost")
    if not c:
        con.print("no cost: the config has no [gpu_prices] (or no GPU-hours could be found)", markup=False)
    else:
        t = cost_table(out, compact=True)
        rt = Table(
            title=f"{t.title} (window {out['window']['start']} -> {out['window']['end']}; tokens counted: {c.get('tokens')})",
            title_justify="left",
        )
        for i, col in enumerate(t.columns):
            rt.add_column(col, justify="left" if i < t.text_cols else "right", overflow="fold")
        for row in t.rows:
            rt.add_row(*[str(x) for x in row])
        con.print(rt)
        if t.note:
            con.print(t.note, markup=False)
        a = autoscale_table(out)
        if a.rows:
            at = Table(title=a.title, title_justify="left")
            for i, col in enumerate(a.columns):
                at.add_column(col, justify="left" if i < a.text_cols else "right", overflow="fold")
            for row in a.rows:
                at.add_row(*[str(x) for x in row])
            con.print(at)
            con.print(a.note, markup=False)
    for w in out.get("warnings") or []:
        con.print(f"note: {w}", markup=False)
    for s in out.get("slo") or []:
        ok = s.get("met") and not s.get("budget_exhausted")
        word = "n/a     " if s.get("not_measured") else "met     " if ok else "BREACHED"
        con.print(f"{word} {s['name']}", markup=False)
