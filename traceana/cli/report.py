"""``traceana report``: the SLO report (HTML, Markdown, JSON) of files, a store or ClickHouse."""

from __future__ import annotations

import sys

import click

from traceana.cli._common import _inputs, _load, _when, input_options


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
    from traceana.ingest.inputs import check_ingest, open_inputs
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
            notes = check_ingest(st)
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
