"""``traceana simulate``: what-if capacity planning by replay, or a synthetic fleet day.

Registered by the main CLI with ``main.add_command(simulate)``. Heavy imports
stay inside the command so ``traceana --help`` is instant.
"""

from __future__ import annotations

import click

PROFILE_NAMES = ("llama-3.1-8b", "llama-3.1-70b", "llama-3.1-70b-fp8")


def parse_instances(text: str) -> list[int]:
    """'1..8' -> [1..8]; '2,4,8' -> [2, 4, 8]; '4' -> [4]."""
    try:
        if ".." in text:
            lo, hi = (int(x) for x in text.split("..", 1))
            values = list(range(lo, hi + 1))
        else:
            values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"'{text}' is not a replica range. Hint: 1..8, 2,4,8 or 4") from None
    if not values or min(values) < 1 or max(values) > 512:
        raise click.BadParameter(f"'{text}': replica counts must lie in 1..512")
    return values


@click.command("simulate")
@click.option(
    "--replay",
    "replay",
    type=click.Path(exists=True, dir_okay=False),
    help="Arrival trace to replay (what-if).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["azure", "mooncake", "burstgpt", "canonical"]),
    default=None,
    help="Format of --replay (default: detected from the file).",
)
@click.option(
    "--instances", default="1..8", show_default=True, help="Replica counts to simulate: 1..8, 2,4,8 or 4."
)
@click.option(
    "--profile",
    type=click.Choice(PROFILE_NAMES),
    default="llama-3.1-8b",
    show_default=True,
    help="Instance template for the what-if (model, GPUs, service model).",
)
@click.option("--slo-ttft", type=float, default=2.0, show_default=True, help="TTFT threshold in seconds.")
@click.option(
    "--objective", type=float, default=0.99, show_default=True, help="Fraction of requests that must meet it."
)
@click.option("--gpu-price", type=float, default=4.0, show_default=True, help="$ per GPU-hour.")
@click.option(
    "--target-util", type=float, default=0.7, show_default=True, help="Target utilization of the closed form."
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    help="Write a synthetic fleet day (canonical Parquet) here.",
)
@click.option(
    "--requests",
    type=click.IntRange(min=10),
    default=30000,
    show_default=True,
    help="Requests in the synthetic day (--out); the fleet scales with it.",
)
@click.option(
    "--sample-interval",
    type=float,
    default=10.0,
    show_default=True,
    help="Engine sample period in s (--out).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Random seed (default: the samples' seed for --out, 0 for --replay).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def simulate(
    replay,
    fmt,
    instances,
    profile,
    slo_ttft,
    objective,
    gpu_price,
    target_util,
    out_dir,
    requests,
    sample_interval,
    seed,
    as_json,
) -> None:
    """Simulate a vLLM fleet: what-if replicas for a replayed trace, or a synthetic day.

    \b
    traceana simulate --replay trace.csv --instances 1..8 --slo-ttft 2.0 --objective 0.99
    traceana simulate --out DIR --requests 1000000
    """
    # TraceanaError propagates: the main group turns it into one line and exit 2
    import json
    from pathlib import Path

    if (replay is None) == (out_dir is None):
        raise click.UsageError(
            "give exactly one of --replay FILE (what-if) or --out DIR (synthetic fleet day)"
        )
    if replay is not None:
        from traceana.simulate.fleet import PROFILES
        from traceana.simulate.replay import read_arrivals
        from traceana.simulate.whatif import format_whatif, whatif

        arrivals = read_arrivals(replay, fmt)
        res = whatif(
            arrivals,
            PROFILES[profile],
            parse_instances(instances),
            slo_ttft,
            objective,
            gpu_price,
            target_util,
            seed=0 if seed is None else seed,
        )
        click.echo(json.dumps(res.to_dict(), indent=2) if as_json else format_whatif(res))
        return
    from traceana.simulate.samples import write_fleet_day

    kw = {} if seed is None else {"seed": seed}
    ss = write_fleet_day(Path(out_dir), requests, sample_interval_s=sample_interval, **kw)
    summary = {
        "requests": ss.out.requests.num_rows,
        "engine_samples": ss.out.engine_samples.num_rows,
        "instances": len(ss.out.fleet.instances),
        "files": [str(p) for p in ss.files],
    }
    click.echo(
        json.dumps(summary, indent=2)
        if as_json
        else f"wrote {summary['requests']:,} requests and {summary['engine_samples']:,} engine samples "
        f"({summary['instances']} instances) to {out_dir}"
    )
