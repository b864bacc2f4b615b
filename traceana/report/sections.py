"""Report sections beyond latency and SLOs: concurrency, goodput, cost and capacity, KV, degradation,
checklist, and the per-window series the charts draw. Each function calls the metric library and
shapes its small table into JSON-ready dicts (see build.py for the contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from traceana.config import Config
from traceana.report.series import clean, every_seconds, records

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


def concurrency(lf: pl.LazyFrame, every: str, sec, m: Any = None) -> tuple[dict | None, list[dict]]:
    """The whole-window Little's law check and, per window, the time-average in flight
    (sweep) against Little's L = lambda x W of that window: one load, one sweep.
    ``m``: the engine's metric functions (traceana.report.pushdown; default the polars ones)."""
    from traceana.report.pushdown import local

    out = sec.run("concurrency", (m or local()).summary_and_series, lf, every=every)
    if out is None:
        return None, []
    whole, df = out
    return clean(dict(whole)), records(
        df.select(
            "window_start",
            in_flight_mean="mean_in_flight",
            littles_law_L="littles_law_L",
            max_in_flight="max_in_flight",
            arrival_rate_per_s="arrival_rate_per_s",
        )
    )


def queue_vs_utilization(lf: pl.LazyFrame, every: str, sec) -> list[dict]:
    from traceana.metrics import concurrency as conc

    return _rows(sec.run("queue vs utilization", conc.queue_vs_utilization, lf, every=every))


def percentiles_over_time(lf: pl.LazyFrame, every: str, sec, m: Any = None) -> list[dict]:
    from traceana.report.pushdown import local

    cols = set(lf.collect_schema().names())
    metrics = [c for c in PCT_SERIES_METRICS if c in cols]
    df = sec.run(
        "percentiles over time",
        (m or local()).percentiles,
        lf,
        metrics=metrics,
        every=every,
        ok_only=True,
        confidence=None,
    )  # the chart draws p50, p90, p99 only
    if df is None:
        return []
    return records(
        df.select("window_start", "metric", "count", "p50", "p90", "p99").sort("metric", "window_start")
    )


def goodput_thresholds(slos: Sequence) -> dict[str, float]:
    """Upper thresholds of the latency SLOs (lte / lt): the tightest per metric."""
    out: dict[str, float] = {}
    for s in slos:
        if getattr(s, "metric", None) and getattr(s, "op", None) in ("lte", "lt") and s.threshold is not None:
            out[s.metric] = min(out.get(s.metric, s.threshold), s.threshold)
    return out


def goodput(
    lf: pl.LazyFrame,
    slos: Sequence,
    every: str,
    sec,
    timed: pl.LazyFrame | None = None,
    no_time: str | None = None,
) -> tuple[dict | None, list[dict]]:
    """Goodput: the fraction of requests within every latency threshold, and per second on ``timed``.

    Not measured (None, with the reason as a warning) when a threshold's metric is recorded by no
    request, or when there is no threshold and every status was assumed (an arrival-only trace); the per-second figures are null, with ``no_time`` as the reason, when there are no
    arrival times to divide by.
    """
    from traceana.metrics import slo as slo_m
    from traceana.metrics.support import measured_count, status_assumed

    th = goodput_thresholds(slos)
    unmeasured = [m for m in th if measured_count(lf, m) == 0]
    if unmeasured:
        sec.warnings.append(f"goodput: not measured: no request records {', '.join(unmeasured)}")
        return None, []
    if not th and status_assumed(lf):  # with no latency threshold, goodput is the ok requests: unknown here
        sec.warnings.append(
            "goodput: not measured: the source records no request outcome (status ok was assumed for every row)"
        )
        return None, []
    whole = sec.run("goodput", slo_m.goodput, lf, th)
    if whole is None or whole.height == 0:
        return None, []
    w = records(whole)[0]
    summary = {
        "thresholds": th,
        "total": w["total"],
        "good": w["good"],
        "good_fraction": w["fraction"],
        "goodput_per_s": w["goodput_per_s"],
        "throughput_per_s": w["throughput_per_s"],
        "window_s": w["window_s"],
    }
    timed = lf if timed is None and no_time is None else timed
    if timed is None:
        sec.warnings.append(f"goodput per second: {no_time}")
        summary.update(goodput_per_s=None, throughput_per_s=None, window_s=None)
        return clean(summary), []
    if timed is not lf:
        t = records(sec.run("goodput", slo_m.goodput, timed, th))[0]
        summary.update(
            goodput_per_s=t["goodput_per_s"], throughput_per_s=t["throughput_per_s"], window_s=t["window_s"]
        )
    series = _rows(sec.run("goodput over time", slo_m.goodput, timed, th, every=every))
    return clean(summary), series


def _dt(iso_text: str | None) -> datetime | None:
    return datetime.fromisoformat(iso_text) if iso_text else None


def _autoscale_rows(
    lf: pl.LazyFrame, eng: pl.LazyFrame | None, target: float, every: str, sec
) -> tuple[list[dict], str | None]:
    """The autoscaling rows and the basis of their service rate mu, or ([], None) with a reason.

    mu per replica needs to know how many requests a replica serves at once: the engine
    samples' running batch says it (mu = B / S, S the mean service time). Without them
    1 / S would assume one request at a time, which continuous batching makes wrong by
    the batch size, so the what-if is refused rather than guessed.
    """
    from traceana.metrics import capacity

    if eng is None:
        sec.warnings.append(
            "autoscaling: not computable: no engine samples to give the service rate per replica "
            "(mu = running batch / mean service time); 1 / mean service time would assume one "
            "request at a time per replica"
        )
        return [], None
    auto = _rows(
        sec.run("autoscaling", capacity.autoscale, lf, None, target_util=target, every=every, by=("model",))
    )
    batched = capacity.batched_service_rate(auto, eng)
    if batched:
        again = sec.run(
            "autoscaling (batched)",
            capacity.autoscale,
            lf,
            batched,
            target_util=target,
            every=every,
            by=("model",),
        )
        if again is not None:
            return _rows(
                again
            ), "engine samples: max running batch x 1 / mean service time (Little's law at a full batch)"
    return auto, "engine samples: running batch of 1, so mu = 1 / mean service time"


def autoscale_every(every: str) -> str:
    """Autoscaling decides per window of at least 15 minutes (a high percentile of the per-minute rates inside)."""
    return every if every_seconds(every) >= 900 else "15m"


def cost_and_capacity(
    lf: pl.LazyFrame, eng: pl.LazyFrame | None, config: Config, window: dict, every: str, sec, m: Any = None
) -> tuple[dict | None, dict | None, list[dict]]:
    """Cost rows per model and instance (needs GPU prices), the autoscaling what-if, and its series.

    The what-if prices each model's replica-hours (capacity.autoscale at the
    config's target utilization) at that model's GPUs per replica x $/GPU-hour
    (from its provisioned instances).
    """
    from traceana.metrics import cost as cost_m

    target = config.cost.target_utilization

    auto_every = autoscale_every(every)
    auto, mu_basis = _autoscale_rows(lf, eng, target, auto_every, sec)
    auto_series = [
        {
            "window_start": r.get("window_start"),
            "group": str(r.get("model") or "(no model)"),
            "replicas": r.get("replicas"),
        }
        for r in auto
    ]
    replica_hours: dict[Any, float] = {}
    mu: dict[Any, float | None] = {}
    for r in auto:
        replica_hours[r.get("model")] = replica_hours.get(r.get("model"), 0.0) + (
            r.get("replica_hours") or 0.0
        )
        mu[r.get("model")] = r.get("mu_per_replica")
    capacity_out = (
        {
            "target_utilization": target,
            "every": auto_every,
            "percentile": 0.95,
            "mu_basis": mu_basis,
            "mu_per_replica": [{"model": m, "mu_per_replica": v} for m, v in mu.items()],
            "replica_hours": [{"model": m, "replica_hours": h} for m, h in replica_hours.items()],
        }
        if auto
        else None
    )
    prices = dict(config.gpu_prices)
    if not prices:
        sec.warnings.append("cost: no [gpu_prices] in the config, so no cost panel")
        return None, capacity_out, auto_series
    tokens = config.cost.tokens
    weight = config.cost.prompt_weight
    start, end = _dt(window.get("start")), _dt(window.get("end"))
    prov = sec.run(
        "provisioned GPU-hours",
        cost_m.provisioned_hours,
        eng,
        list(config.deployments),
        start=start,
        end=end,
    )
    if prov is None or prov.height == 0:
        sec.warnings.append(
            "cost: no GPU-hours found (no engine samples with gpu_type/gpu_count, no [[deployment]])"
        )
        return None, capacity_out, auto_series
    from traceana.report.pushdown import local

    eff = sec.run(
        "effective cost", (m or local()).effective_cost, lf, prov, prices, tokens=tokens, prompt_weight=weight
    )
    if eff is None:
        return None, capacity_out, auto_series
    rows = _rows(eff)
    tot = cost_m.totals(eff)
    for r in rows:
        if r.get("unpriced"):
            name = r.get("instance") if r.get("instance") is not None else "(unknown instance)"
            sec.warnings.append(
                f"cost: instance '{name}' is unpriced and left out of the totals: {r['unpriced']}"
            )
    for err in tot["data_errors"]:
        sec.warnings.append(f"cost: data error: {err}")
    autoscaled = cost_m.autoscaled_cost(replica_hours, mu, rows)
    out = {
        "tokens": tokens,
        "tokens_counted": cost_m.tokens_label(tokens, weight),
        "prices": prices,
        "rows": rows,
        "totals": clean(tot),
        "autoscaling": clean(autoscaled),
        "target_utilization": target,
        "mu_basis": mu_basis,
    }
    return clean(out), capacity_out, auto_series


def kv(eng: pl.LazyFrame | None, config: Config, sec) -> dict | None:
    """KV capacity from the configured model shapes, and the KV use / batch seen in the engine samples."""
    from traceana.metrics import capacity

    shapes = []
    for model, sh in config.model_shapes.items():
        per = sec.run(
            f"kv shape {model}",
            capacity.kv_bytes_per_request,
            sh.layers,
            sh.kv_heads,
            sh.head_dim,
            repr(float(sh.dtype_bytes)),
            sh.context_tokens,
        )
        if per is None:
            continue
        fit = sec.run(
            f"kv capacity {model}",
            capacity.kv_max_concurrency,
            capacity.gb(repr(float(sh.gpu_memory_gb))),
            capacity.gb(repr(float(sh.weights_gb))),
            capacity.gb(repr(float(sh.workspace_gb))),
            per,
        )
        if fit is not None:
            shapes.append({"model": model, "context_tokens": sh.context_tokens, **fit})
    if eng is None and not shapes:
        return None
    out: dict[str, Any] = {"shapes": shapes, "instances": [], "batch": []}
    if eng is not None:
        models = dict(
            eng.group_by("instance").agg(pl.col("model").drop_nulls().first()).collect().iter_rows()
        )
        out["instances"] = [
            {"model": models.get(r.get("instance")), **r}
            for r in _rows(sec.run("kv headroom", capacity.kv_headroom, eng))
        ]
        out["batch"] = _rows(sec.run("batch throughput", capacity.batch_throughput, eng))
        out["gpu"] = _rows(sec.run("gpu usage", capacity.gpu_usage, eng))
        observed: dict[Any, float] = {}
        for r in out["instances"]:
            observed[r.get("model")] = max(observed.get(r.get("model")) or 0, r.get("max_num_running") or 0)
        for s in shapes:
            s["observed_max_running"] = observed.get(s["model"])
    return clean(out)


def degradation(lf: pl.LazyFrame, config: Config, slos: Sequence, sec) -> dict | None:
    """The configured degradation options against the first latency SLO, at the SLO's objective as percentile
    (an SLO "99% of TTFT <= 2 s" holds when the p99 TTFT is <= 2 s)."""
    options = list(config.degradation_options)
    if not options:
        return None
    slo = next(
        (s for s in slos if getattr(s, "metric", None) and s.threshold is not None and s.op in ("lte", "lt")),
        None,
    )
    if slo is None:
        sec.warnings.append(
            "degradation: options are configured but no latency SLO (metric + threshold) to judge them by"
        )
        return None
    from traceana.metrics import degradation as deg

    out = sec.run("degradation", deg.from_trace, lf, slo, percentile=slo.objective, options=options)
    if out is None:
        return None
    res = dict(out)
    res["options"] = _rows(res.get("options"))
    res["slo"] = slo.name
    return clean(res)


def checklist(
    lf: pl.LazyFrame, eng: pl.LazyFrame | None, sec, more: pl.LazyFrame | None = None
) -> list[dict]:
    """Checklist coverage; ``more``: the same requests with the columns ``lf`` leaves out."""
    from traceana.metrics import checklist as ck

    return clean(sec.run("checklist", ck.summary, lf, eng, requests_more=more) or [])
