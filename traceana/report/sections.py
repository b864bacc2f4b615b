"""Report sections beyond latency and SLOs: concurrency, goodput, cost and capacity, KV, degradation,
checklist, and the per-window series the charts draw. Each function calls the metric library and
shapes its small table into JSON-ready dicts (see build.py for the contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from traceana.report.series import clean, records

PCT_SERIES_METRICS = ("ttft_s", "tpot_s", "e2e_latency_s")


def _rows(obj: Any) -> list[dict]:
    if obj is None:
        return []
    if isinstance(obj, pl.DataFrame):
        return records(obj)
    if isinstance(obj, pl.LazyFrame):
        return records(obj.collect())
    if isinstance(obj, dict):
        return [clean(obj)]
    return clean(list(obj))


def concurrency(lf: pl.LazyFrame, sec) -> dict | None:
    from traceana.metrics import concurrency as conc

    out = sec.run("concurrency", conc.summary, lf)
    return clean(dict(out)) if out is not None else None


def concurrency_series(lf: pl.LazyFrame, every: str, sec) -> list[dict]:
    """Per window: time-average in flight (sweep) and Little's L = lambda x W of that window."""
    from traceana.metrics import concurrency as conc

    df = sec.run("concurrency over time", conc.sweep, lf, by=(), every=every)
    rows = _rows(df)
    out = []
    for r in rows:
        out.append({
            "window_start": r.get("window_start"),
            "in_flight_mean": r.get("empirical_mean"),
            "littles_law_L": r.get("littles_law_L"),
            "arrival_rate_per_s": r.get("arrival_rate_per_s"),
        })
    return out


def queue_vs_utilization(lf: pl.LazyFrame, every: str, sec) -> list[dict]:
    from traceana.metrics import concurrency as conc

    return _rows(sec.run("queue vs utilization", conc.queue_vs_utilization, lf, every=every))


def percentiles_over_time(lf: pl.LazyFrame, every: str, sec) -> list[dict]:
    from traceana.metrics import latency

    cols = set(lf.collect_schema().names())
    metrics = [m for m in PCT_SERIES_METRICS if m in cols]
    df = sec.run("percentiles over time", latency.percentiles, lf, metrics=metrics, every=every, ok_only=True)
    if df is None:
        return []
    return records(df.select("window_start", "metric", "count", "p50", "p90", "p99").sort("metric", "window_start"))


def goodput_thresholds(slos: Sequence) -> dict[str, float]:
    """Upper thresholds of the latency SLOs (lte / lt): the tightest per metric."""
    out: dict[str, float] = {}
    for s in slos:
        if getattr(s, "metric", None) and getattr(s, "op", None) in ("lte", "lt") and s.threshold is not None:
            out[s.metric] = min(out.get(s.metric, s.threshold), s.threshold)
    return out


def goodput(lf: pl.LazyFrame, slos: Sequence, every: str, sec) -> tuple[dict | None, list[dict]]:
    from traceana.metrics import slo as slo_m

    th = goodput_thresholds(slos)
    whole = sec.run("goodput", slo_m.goodput, lf, th)
    if whole is None or whole.height == 0:
        return None, []
    w = records(whole)[0]
    summary = {"thresholds": th, "total": w["total"], "good": w["good"], "good_fraction": w["fraction"],
               "goodput_per_s": w["goodput_per_s"], "throughput_per_s": w["throughput_per_s"], "window_s": w["window_s"]}
    series = _rows(sec.run("goodput over time", slo_m.goodput, lf, th, every=every))
    return clean(summary), series


def cost_and_capacity(lf: pl.LazyFrame, eng: pl.LazyFrame | None, config: Any, window: dict, every: str, sec) -> tuple[dict | None, dict | None, list[dict]]:
    """Cost rows per model and instance (needs GPU prices), the autoscaling what-if, and its series."""
    from traceana.metrics import capacity
    from traceana.metrics import cost as cost_m

    target = getattr(getattr(config, "cost", None), "target_utilization", 0.7)
    auto = sec.run("autoscaling", capacity.autoscale, lf, target_util=target, every=every)
    auto_rows = _rows(auto)
    auto_series = [{"window_start": r.get("window_start"), "group": str(r.get("model") or "all"), "replicas": r.get("replicas")}
                   for r in auto_rows]
    capacity_out = {"target_utilization": target, "autoscale": auto_rows[:0]} if auto_rows else None
    if capacity_out is not None:
        capacity_out["replica_hours"] = sum((r.get("replica_hours") or 0.0) for r in auto_rows)
    prices = dict(getattr(config, "gpu_prices", None) or {})
    if not prices:
        sec.warnings.append("cost: no [gpu_prices] in the config; cost panel left out")
        return None, capacity_out, auto_series
    deployments = list(getattr(config, "deployments", None) or [])
    tokens = getattr(getattr(config, "cost", None), "tokens", "output")
    prov = sec.run("provisioned GPU-hours", cost_m.provisioned_hours, eng, deployments)
    if prov is None:
        return None, capacity_out, auto_series
    eff = sec.run("effective cost", cost_m.effective_cost, lf, prov, prices, tokens=tokens)
    return {"tokens": tokens, "prices": prices, "rows": _rows(eff)}, capacity_out, auto_series


def kv(eng: pl.LazyFrame | None, config: Any, sec) -> dict | None:
    if eng is None:
        return None
    from traceana.metrics import capacity

    head = _rows(sec.run("kv headroom", capacity.kv_headroom, eng))
    batch = _rows(sec.run("batch throughput", capacity.batch_throughput, eng))
    return {"instances": head, "batch": batch}


def degradation(lf: pl.LazyFrame, config: Any, slos: Sequence, sec) -> dict | None:
    options = list(getattr(config, "degradation_options", None) or [])
    if not options:
        return None
    from traceana.metrics import degradation as deg

    out = sec.run("degradation", deg.from_trace, lf, options, slos=list(slos))
    return clean(dict(out)) if out is not None else None


def checklist(lf: pl.LazyFrame, eng: pl.LazyFrame | None, sec) -> list[dict]:
    from traceana.metrics import checklist as ck

    return _rows(sec.run("checklist", ck.coverage, lf, eng))
