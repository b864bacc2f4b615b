"""What the commands share: option groups, the console, loading the config and SLO files."""

from __future__ import annotations

from datetime import datetime

import click


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
