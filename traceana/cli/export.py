"""``traceana export``: a store's table as Parquet/CSV/JSONL, OpenMetrics, or into ClickHouse."""

from __future__ import annotations

import click


@click.command()
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
