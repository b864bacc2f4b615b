"""``traceana rules`` and ``traceana slo export``: Prometheus rules and OpenSLO from the SLO config."""

from __future__ import annotations

import click


@click.command()
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


@click.group()
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
