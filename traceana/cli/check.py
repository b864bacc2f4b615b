"""``traceana check``: the six-point trace checklist of files or a store."""

from __future__ import annotations

import json

import click

from traceana.cli._common import _console


@click.command()
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
