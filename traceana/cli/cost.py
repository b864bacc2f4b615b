"""``traceana cost``: the cost audit (effective vs nominal $/1M tokens, utilization, autoscaling)."""

from __future__ import annotations

import json
import sys

import click

from traceana.cli._common import _inputs, _load, _when, input_options


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
    from traceana.ingest.inputs import check_ingest, open_inputs
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
            notes = check_ingest(st)
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
