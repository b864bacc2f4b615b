"""``traceana compare``: two inputs or slices, metric by metric, with intervals and a gate."""

from __future__ import annotations

import sys

import click


@click.command()
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
    from traceana.cli._common import _load
    from traceana.compare import inputs, render, run_compare, run_sweep, write_compare

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
