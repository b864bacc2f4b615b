"""Effective cost per 1M tokens, base against candidate (needs [gpu_prices] and [[deployment]] or engine samples).

Per side, over its window [first arrival, last completion] (``traceana.metrics.cost``):
    C = provisioned GPU-hours x $/GPU-hour (metrics.cost)        [$, fixed given the fleet]
    K = counted tokens (output, or as [cost] tokens says)         [tokens]
    c = C / (K / 1e6)                                             [$ / 1M tokens]
Interval: the fleet cost is taken as known; K varies as a compound Poisson sum,
Var(K) = sum k_i² over requests, so by the delta method se(c) = c sqrt(sum k_i²) / K;
d = c2 - c1 +- z sqrt(se1² + se2²), p = 2 P(Z > |d| / se). Only the all-requests
group gets a cost row (instances, not requests, carry the price).
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from traceana.compare import stats as st
from traceana.errors import TraceanaError


def _side_cost(
    lf: pl.LazyFrame, engine: pl.LazyFrame | None, config: Any
) -> tuple[float, float, float] | str:
    """(cost $, counted tokens, sum of squared counted tokens), or why there is none."""
    from traceana.metrics import cost as cost_m

    e2e = pl.col("e2e_latency_s").fill_null(0.0)
    end = pl.col("arrival_time") + pl.duration(microseconds=(e2e * 1e6).round().cast(pl.Int64))
    start, stop = lf.select(pl.col("arrival_time").min().alias("a"), end.max().alias("b")).collect().row(0)
    if start is None or stop is None or stop <= start:
        return "the side's window has no length"
    try:
        prov = cost_m.provisioned_hours(engine, list(config.deployments or []), start, stop)
        if prov.height == 0:
            return "no provisioned GPU-hours: give [[deployment]] tables (or a store with engine samples)"
        eff = cost_m.effective_cost(
            lf, prov, dict(config.gpu_prices), config.cost.tokens, config.cost.prompt_weight, start, stop
        )
    except TraceanaError as exc:
        return str(exc)
    tot = cost_m.totals(eff)
    w = {"output": 0.0, "all": 1.0}.get(config.cost.tokens, config.cost.prompt_weight or 0.0)
    k = pl.col("output_tokens").fill_null(0).cast(pl.Float64) + w * pl.col("prompt_tokens").fill_null(0).cast(
        pl.Float64
    )
    sumsq = (
        lf.filter((pl.col("arrival_time") >= start) & (pl.col("arrival_time") < stop))
        .select((k * k).sum())
        .collect()
        .item()
    )
    return float(tot["cost_usd"]), float(tot["counted_tokens"]), float(sumsq or 0.0)


def cost_row(
    base_lf: pl.LazyFrame,
    cand_lf: pl.LazyFrame,
    config: Any,
    engines: tuple = (None, None),
    confidence: float = 0.95,
) -> dict | None:
    """The ``cost_per_1m_tokens`` row (group {}), or None when the config has no prices at all."""
    from traceana.compare.core import _row

    if not getattr(config, "gpu_prices", None):
        return None
    sides = [_side_cost(lf, eng, config) for lf, eng in zip((base_lf, cand_lf), engines, strict=True)]
    why = next((s for s in sides if isinstance(s, str)), None)
    if why is None and any(s[1] <= 0 for s in sides):
        why = "a side counted no tokens"
    if why is not None:
        return _row(
            "cost_per_1m_tokens",
            "",
            "all",
            "lower",
            "$/1M tokens",
            None,
            None,
            st.Diff(None, None, None, None),
            (0, 0),
            why,
            False,
        )
    (c1, k1, q1), (c2, k2, q2) = sides
    v1, v2 = c1 / (k1 / 1e6), c2 / (k2 / 1e6)
    se = math.hypot(v1 * math.sqrt(q1) / k1, v2 * math.sqrt(q2) / k2)
    z = st.normal_ppf(1 - (1 - confidence) / 2)
    d = v2 - v1
    diff = st.Diff(d, d - z * se, d + z * se, st._z_p(d, se))
    return _row(
        "cost_per_1m_tokens",
        "",
        "all",
        "lower",
        "$/1M tokens",
        v1,
        v2,
        diff,
        (int(k1), int(k2)),
        f"{config.cost.tokens} tokens counted; fleet cost taken as known",
        True,
    )
