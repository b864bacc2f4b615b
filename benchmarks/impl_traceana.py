"""The core report computed by traceana's metric library (what ``traceana report`` calls).

Usage: python benchmarks/impl_traceana.py DATA_DIR OUT_JSON
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl  # noqa: E402
from bench_common import LATENCY_METRICS, PCT_NAMES, worker_main  # noqa: E402

from traceana.config import load_config  # noqa: E402
from traceana.metrics import concurrency, cost, latency, slo  # noqa: E402
from traceana.store import open_store  # noqa: E402

_LONG_S = {"1h": 3600, "6h": 21600, "1d": 86400, "3d": 259200}


def _us(t) -> int:
    from datetime import UTC, datetime

    return (
        round((t - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000) if t is not None else None
    )


def run(data_dir: Path, phases) -> dict:
    config = load_config(data_dir / "traceana.toml")
    lf = open_store(data_dir / "store", create=False).requests()
    phases.mark("open")

    lat = latency.percentiles(lf, metrics=LATENCY_METRICS, by="model", ok_only=True)
    phases.mark("latency")
    conc = concurrency.sweep(lf, by=("instance",))
    phases.mark("concurrency")
    burn = {}
    for s in config.slos:
        series = slo.burn_series(lf, s, every="1m")
        episodes = slo.alerts(series, s)
        burn[s.name] = (series, episodes)
    phases.mark("burn")
    prov = cost.provisioned_hours(None, config.deployments)
    eff = cost.effective_cost(lf, prov, config.gpu_prices, tokens="output")
    phases.mark("cost")

    result: dict = {"latency": {}, "concurrency": {}, "burn": {}, "cost": {}}
    for r in lat.iter_rows(named=True):
        row = {"count": r["count"], "mean": r["mean"]}
        for p in PCT_NAMES:
            row[p] = r[p]
            lo, hi = r[f"{p}_ci_low"], r[f"{p}_ci_high"]
            row[f"{p}_ci"] = None if lo is None else [lo, hi]
        result["latency"][f"{r['model']}|{r['metric']}"] = row
    for r in conc.iter_rows(named=True):
        result["concurrency"][r["instance"]] = {
            k: r[k]
            for k in (
                "arrivals",
                "arrival_rate_per_s",
                "mean_latency_s",
                "littles_law_L",
                "empirical_mean",
                "empirical_max",
                "empirical_p99",
                "ratio",
            )
        }
    for name, (series, episodes) in burn.items():
        result["burn"][name] = {
            "first_bucket_us": int(series["window_start"].cast(pl.Int64)[0]),
            "total": series["total"].to_list(),
            "bad": series["bad"].to_list(),
            "alerts": sorted(
                (
                    {
                        "severity": e["severity"],
                        "long_s": _LONG_S[e["long_window"]],
                        "factor": e["factor"],
                        "fired_at_us": _us(e["fired_at"]),
                        "cleared_at_us": _us(e["cleared_at"]),
                        "peak_burn_rate": e["peak_burn_rate"],
                    }
                    for e in episodes
                ),
                key=lambda a: (a["fired_at_us"], a["severity"], a["long_s"]),
            ),
        }
    for r in eff.iter_rows(named=True):
        result["cost"][r["instance"]] = {
            "requests": r["requests"],
            "prompt_tokens": r["prompt_tokens"],
            "output_tokens": r["output_tokens"],
            "gpu_hours": r["gpu_hours"],
            "cost_usd": r["cost_usd"],
            "effective_per_million": r["effective_per_million_output"],
            "busy_hours": r["busy_hours"],
            "utilization": r["utilization"],
            "nominal_per_million": r["nominal_per_million"],
        }
    return result


if __name__ == "__main__":
    sys.exit(worker_main(run))
