"""Cost per million tokens: nominal, utilization-adjusted and effective (from GPU-hours provisioned).

Every figure says which tokens it counts (``tokens_counted``): "output" (output
tokens only), "prompt+output", or "output+<w>*prompt" (weighted). Tokens of
every request count whatever its status: the GPU spent time producing them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np
import polars as pl

from traceana.config import TOKEN_MODES, Deployment
from traceana.errors import ConfigError

_US_PER_H = 3_600_000_000


def nominal_cost_per_million(price_per_hour: float, tokens_per_s: float) -> float:
    """$ per 1M tokens of a machine kept busy at ``tokens_per_s``.

    Formula:
        nominal = 1e6 * price_per_hour / (3600 * tokens_per_s)     [$ / 1M tokens]
    ($4.00/h at 1200 tok/s -> $0.9259)
    """
    if tokens_per_s <= 0:
        raise ConfigError(f"tokens_per_s must be > 0, got {tokens_per_s}", "tokens_per_s")
    return 1e6 * price_per_hour / (3600.0 * tokens_per_s)


def utilization_adjusted(
    nominal: float, utilizations: Sequence[float] = (0.3, 0.5, 0.7, 0.9), observed: float | None = None
) -> pl.DataFrame:
    """What a token really costs when the machine is busy only a fraction of the time.

    Formula:
        adjusted = nominal / utilization                 [$ / 1M tokens]
    Columns: utilization, cost_per_million, observed (True on the row for the
    measured utilization, when given). ($0.9259 at 0.3/0.5/0.7/0.9 -> 3.086/1.852/1.323/1.029)
    """
    utils = [(float(u), False) for u in utilizations] + (
        [(float(observed), True)] if observed is not None else []
    )
    for u, _ in utils:
        if not 0 < u <= 1:
            raise ConfigError(f"utilization {u} is out of range. Allowed: (0, 1]", "utilization")
    return pl.DataFrame(
        {
            "utilization": [u for u, _ in utils],
            "cost_per_million": [nominal / u for u, _ in utils],
            "observed": [o for _, o in utils],
        },
        schema={"utilization": pl.Float64, "cost_per_million": pl.Float64, "observed": pl.Boolean},
    )


_PROV_SCHEMA = {
    "instance": pl.String,
    "model": pl.String,
    "gpu_type": pl.String,
    "gpu_count": pl.Int64,
    "start": pl.Datetime("us", "UTC"),
    "end": pl.Datetime("us", "UTC"),
    "hours": pl.Float64,
    "gpu_hours": pl.Float64,
    "source": pl.String,
}


def _lazy(data: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    return data.lazy() if isinstance(data, pl.DataFrame) else data


def provisioned_hours(
    engine_lf: pl.LazyFrame | pl.DataFrame | None = None,
    deployments: Sequence[Deployment] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pl.DataFrame:
    """Wall-clock hours and GPU-hours each instance was provisioned, clipped to [start, end].

    From ``deployments`` when given (an open start/end takes the window's), else
    from the engine samples: an instance lives from its first sample to its
    last sample plus one scrape interval (the median spacing of its samples;
    the median over all instances for an instance seen once).

    Formula:
        hours     = (end - start) / 3600 s                 [h]
        gpu_hours = hours * gpu_count                      [GPU-h]
    Columns: instance, model, gpu_type, gpu_count, start, end, hours, gpu_hours,
    source ("deployment" | "engine_samples"). gpu_type / gpu_count are null when
    the samples do not carry them.
    """
    if deployments:
        rows = []
        for i, d in enumerate(deployments):
            s = max(x for x in (d.start, start) if x is not None) if (d.start or start) else None
            e = min(x for x in (d.end, end) if x is not None) if (d.end or end) else None
            if s is None or e is None:
                which = "start" if s is None else "end"
                raise ConfigError(
                    f"deployment '{d.instance}' has no {which} and no report window to take it from",
                    f"deployment[{i}].{which}",
                )
            rows.append(
                {
                    "instance": d.instance,
                    "model": d.model,
                    "gpu_type": d.gpu_type,
                    "gpu_count": d.gpu_count,
                    "start": s,
                    "end": max(s, e),
                    "source": "deployment",
                }
            )
        df = pl.DataFrame(
            rows, schema={k: v for k, v in _PROV_SCHEMA.items() if k not in ("hours", "gpu_hours")}
        )
    elif engine_lf is not None:
        lf = (
            _lazy(engine_lf)
            .select("time", "instance", "model", "gpu_type", "gpu_count")
            .sort("instance", "time")
        )
        per = (
            lf.group_by("instance")
            .agg(
                model=pl.col("model").drop_nulls().mode().first(),
                gpu_type=pl.col("gpu_type").drop_nulls().last(),
                gpu_count=pl.col("gpu_count").max().cast(pl.Int64),
                first=pl.col("time").min(),
                last=pl.col("time").max(),
                spacing_us=pl.col("time").cast(pl.Int64).diff().drop_nulls().median(),
            )
            .collect()
        )
        fallback = per["spacing_us"].median()
        per = per.with_columns(pl.col("spacing_us").fill_null(fallback if fallback is not None else 0.0))
        df = per.select(
            "instance",
            "model",
            "gpu_type",
            "gpu_count",
            start=pl.col("first"),
            end=pl.col("last") + pl.duration(microseconds=pl.col("spacing_us").round().cast(pl.Int64)),
            source=pl.lit("engine_samples"),
        )
        if start is not None:
            df = df.with_columns(start=pl.max_horizontal("start", pl.lit(start)))
        if end is not None:
            df = df.with_columns(end=pl.min_horizontal("end", pl.lit(end)))
        df = df.with_columns(end=pl.max_horizontal("start", "end"))
    else:
        return pl.DataFrame(schema=_PROV_SCHEMA)
    hours = (pl.col("end") - pl.col("start")).dt.total_microseconds() / _US_PER_H
    return (
        df.with_columns(hours=hours)
        .with_columns(gpu_hours=pl.col("hours") * pl.col("gpu_count"))
        .select(list(_PROV_SCHEMA))
        .sort("instance")
    )


def busy_hours(
    requests: pl.LazyFrame | pl.DataFrame, start: datetime | None = None, end: datetime | None = None
) -> pl.DataFrame:
    """Per instance, the time with at least one request in flight.

    Formula:
        busy_hours = |union of [arrival_time, arrival_time + e2e_latency_s)| / 3600 s   [h]
                   = (max end - min start - sum_i max(0, start_i - max_(j<i) end_j)) / 3600 s
                     with the instance's intervals in start order
    Requests without e2e latency or instance are left out; intervals are
    clipped to [start, end) when given. Columns: instance, busy_hours.
    """
    lf = _lazy(requests).filter(pl.col("e2e_latency_s").is_not_null() & pl.col("instance").is_not_null())
    a = pl.col("arrival_time").cast(pl.Int64)
    # categorical: no string per row is materialized (100M rows: ~2 GB less)
    lf = lf.select(
        pl.col("instance").cast(pl.Categorical),
        s=a,
        e=a + (pl.col("e2e_latency_s") * 1e6).round().cast(pl.Int64),
    )
    if start is not None:
        lo = int(pl.Series([start]).cast(pl.Datetime("us", "UTC")).cast(pl.Int64)[0])
        lf = lf.with_columns(s=pl.max_horizontal("s", pl.lit(lo)))
    if end is not None:
        hi = int(pl.Series([end]).cast(pl.Datetime("us", "UTC")).cast(pl.Int64)[0])
        lf = lf.with_columns(e=pl.min_horizontal("e", pl.lit(hi)))
    # each instance's intervals in row order (a list per instance; no sort of the rows)
    groups = lf.filter(pl.col("e") > pl.col("s")).group_by("instance").agg("s", "e").collect()
    names = groups["instance"].cast(pl.String).to_list()
    busy = [
        _union_us(s.to_numpy(), e.to_numpy()) / _US_PER_H
        for s, e in zip(groups["s"], groups["e"], strict=True)
    ]
    return pl.DataFrame(
        {"instance": names, "busy_hours": busy}, schema={"instance": pl.String, "busy_hours": pl.Float64}
    ).sort("instance")


def _union_us(s: np.ndarray, e: np.ndarray) -> int:
    """|union of [s_i, e_i)| for non-empty intervals: span minus the gaps left by a running max of ends.

    With the starts in order, nothing is in flight on [max(e_0..e_(i-1)), s_i)
    where that is not empty. Traces come in arrival order, so the starts are
    usually sorted already and no sort is made.
    """
    if len(s) > 1 and (np.diff(s) < 0).any():
        order = np.argsort(s, kind="stable")
        s, e = s[order], e[order]
    reach = np.maximum.accumulate(e)
    gaps = int(np.maximum(s[1:] - reach[:-1], 0).sum())
    return int(reach[-1] - s[0]) - gaps


def tokens_label(tokens: str, prompt_weight: float | None = None) -> str:
    """The ``tokens_counted`` label of a token-counting mode."""
    return {"output": "output", "all": "prompt+output"}.get(tokens) or f"output+{prompt_weight:g}*prompt"


def _check_mode(tokens: str, prompt_weight: float | None) -> None:
    if tokens not in TOKEN_MODES:
        raise ConfigError(f"'{tokens}' is not allowed. Allowed: {', '.join(TOKEN_MODES)}", "cost.tokens")
    if tokens == "weighted" and prompt_weight is None:
        raise ConfigError('required when tokens = "weighted"', "cost.prompt_weight")


def effective_cost(
    requests_lf: pl.LazyFrame | pl.DataFrame,
    provisioned_df: pl.DataFrame,
    gpu_prices: dict[str, float],
    tokens: str = "output",
    prompt_weight: float | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pl.DataFrame:
    """Effective $/1M tokens per instance (with its model), from provisioned GPU-hours and tokens served.

    Formula:
        cost_usd              = gpu_hours * price[gpu_type]                      [$]
        counted_tokens        = output | prompt + output | output + w * prompt   [tokens]
        effective_per_million = cost_usd / (counted_tokens / 1e6)                [$ / 1M tokens]
        utilization           = busy_hours / hours     (busy: >= 1 request in flight, see busy_hours)
        measured_tokens_per_s = output_tokens / (busy_hours * 3600)              [tokens/s]
        nominal_per_million   = 1e6 * gpu_count * price / (3600 * measured_tokens_per_s)
    Requests arriving in [start, end) count. An instance no price matches (not
    in ``provisioned_df``, no gpu_type / gpu_count, or a gpu_type without a
    price) is *unpriced*: ``unpriced`` says why, its cost and $/1M are null
    (never $0) and :func:`totals` leaves it out. Utilization above 100% (busy
    longer than provisioned) is not a figure: ``utilization`` is null and
    ``data_error`` says which instance and why.
    """
    _check_mode(tokens, prompt_weight)
    lf = _lazy(requests_lf)
    if start is not None:
        lf = lf.filter(pl.col("arrival_time") >= pl.lit(start))
    if end is not None:
        lf = lf.filter(pl.col("arrival_time") < pl.lit(end))
    sums = lf.group_by("instance").agg(
        requests=pl.len().cast(pl.Int64),
        prompt_tokens=pl.col("prompt_tokens").fill_null(0).sum().cast(pl.Int64),
        output_tokens=pl.col("output_tokens").fill_null(0).sum().cast(pl.Int64),
    )
    # the model an instance served most, ties to the first name: a count per (instance, model)
    # is ~5x faster than mode() over the strings of each instance
    model = (
        lf.filter(pl.col("model").is_not_null())
        .group_by("instance", "model")
        .agg(n=pl.len())
        .sort(["instance", "n", "model"], descending=[False, True, False], nulls_last=False)
        .group_by("instance", maintain_order=True)
        .first()
        .select("instance", served_model="model")
    )
    sums, model = pl.collect_all([sums, model])  # one scan for both
    served = sums.join(model, on="instance", how="left", nulls_equal=True).with_columns(
        pl.col("instance", "served_model").cast(pl.String)
    )
    busy = busy_hours(lf, start, end)
    return _priced(served, busy, provisioned_df, gpu_prices, tokens, prompt_weight)


def _priced(
    served: pl.DataFrame,
    busy: pl.DataFrame,
    provisioned_df: pl.DataFrame,
    gpu_prices: dict[str, float],
    tokens: str,
    prompt_weight: float | None,
) -> pl.DataFrame:
    """:func:`effective_cost`'s table from the per-instance sums (``served``: instance, requests,
    prompt_tokens, output_tokens, served_model) and busy hours (instance, busy_hours)."""
    prov = provisioned_df.with_columns(provisioned=pl.lit(True))
    price = pl.col("gpu_type").replace_strict(gpu_prices, default=None, return_dtype=pl.Float64)
    w = {"output": 0.0, "all": 1.0}.get(tokens, prompt_weight)
    df = (
        prov.join(served, on="instance", how="full", coalesce=True)
        .join(busy, on="instance", how="left")
        .with_columns(
            model=pl.coalesce("model", "served_model"),
            provisioned=pl.col("provisioned").fill_null(False),
            hours=pl.col("hours").fill_null(0.0),
            gpu_hours=pl.col("gpu_hours").fill_null(0.0),
            requests=pl.col("requests").fill_null(0),
            prompt_tokens=pl.col("prompt_tokens").fill_null(0),
            output_tokens=pl.col("output_tokens").fill_null(0),
            busy_hours=pl.col("busy_hours").fill_null(0.0),
            price_per_gpu_hour=price,
        )
    )
    per_m = lambda num, den: pl.when(den > 0).then(num / (den / 1e6))  # noqa: E731
    busy_s = pl.col("busy_hours") * 3600
    known = ", ".join(sorted(gpu_prices)) or "none"
    unpriced = (
        pl.when(~pl.col("provisioned"))
        .then(
            pl.lit(
                "not provisioned: no [[deployment]] and no engine samples with gpu_type/gpu_count for this instance"
            )
        )
        .when(pl.col("gpu_type").is_null() | pl.col("gpu_count").is_null())
        .then(pl.lit("no gpu_type or gpu_count: describe the instance with a [[deployment]] table"))
        .when(pl.col("price_per_gpu_hour").is_null())
        .then(
            pl.format(
                "no price for gpu_type '{}' in [gpu_prices] (known: "
                + known.replace("{", "{{").replace("}", "}}")
                + ")",
                pl.col("gpu_type"),
            )
        )
    )
    over = pl.col("busy_hours") > pl.col("hours") * (1 + 1e-9)
    df = (
        df.with_columns(unpriced=unpriced)
        .with_columns(
            cost_usd=pl.when(pl.col("unpriced").is_null()).then(
                pl.col("gpu_hours") * pl.col("price_per_gpu_hour")
            ),
            counted_tokens=pl.col("output_tokens") + w * pl.col("prompt_tokens"),
            tokens_counted=pl.lit(tokens_label(tokens, prompt_weight)),
            utilization=pl.when((pl.col("hours") > 0) & ~over).then(pl.col("busy_hours") / pl.col("hours")),
            data_error=pl.when(pl.col("provisioned") & over).then(
                pl.format(
                    "instance '{}': busy {} h is longer than its {} provisioned h, so utilization would exceed 100%: requests "
                    "outside its provisioned period, or overlapping requests of several replicas counted under one instance",
                    pl.col("instance"),
                    pl.col("busy_hours").round(3),
                    pl.col("hours").round(3),
                )
            ),
            measured_tokens_per_s=pl.when(busy_s > 0).then(pl.col("output_tokens") / busy_s),
        )
        .with_columns(
            effective_per_million=per_m(pl.col("cost_usd"), pl.col("counted_tokens")),
            effective_per_million_output=per_m(pl.col("cost_usd"), pl.col("output_tokens")),
            effective_per_million_all=per_m(
                pl.col("cost_usd"), pl.col("prompt_tokens") + pl.col("output_tokens")
            ),
            nominal_per_million=pl.when(pl.col("measured_tokens_per_s") > 0).then(
                1e6
                * pl.col("gpu_count")
                * pl.col("price_per_gpu_hour")
                / (3600 * pl.col("measured_tokens_per_s"))
            ),
        )
    )
    return df.select(
        "model",
        "instance",
        "provisioned",
        "gpu_type",
        "gpu_count",
        "price_per_gpu_hour",
        "hours",
        "gpu_hours",
        "cost_usd",
        "requests",
        "prompt_tokens",
        "output_tokens",
        "tokens_counted",
        "counted_tokens",
        "effective_per_million",
        "effective_per_million_output",
        "effective_per_million_all",
        "busy_hours",
        "utilization",
        "measured_tokens_per_s",
        "nominal_per_million",
        "unpriced",
        "data_error",
    ).sort("model", "instance", nulls_last=True)


def totals(cost: pl.DataFrame) -> dict:
    """Fleet totals of an :func:`effective_cost` table (same formulas over the sums).

    utilization = sum busy_hours / sum hours (time-weighted over instances).
    Unpriced instances are left out of every total (listed in ``unpriced``);
    instances with a data error are left out of the utilization.
    """
    unpriced = (
        sorted(
            i if i is not None else "(unknown instance)"
            for i in cost.filter(pl.col("unpriced").is_not_null())["instance"].to_list()
        )
        if cost.height
        else []
    )
    errors = cost.filter(pl.col("data_error").is_not_null())["data_error"].to_list() if cost.height else []
    timed = (
        cost.filter(pl.col("data_error").is_null() & pl.col("unpriced").is_null()) if cost.height else cost
    )
    cost = cost.filter(pl.col("unpriced").is_null()) if cost.height else cost
    u = (
        timed.select(pl.col("busy_hours", "hours").sum()).row(0, named=True)
        if timed.height
        else {"busy_hours": 0.0, "hours": 0.0}
    )
    s = cost.select(
        pl.col(
            "hours",
            "gpu_hours",
            "cost_usd",
            "requests",
            "prompt_tokens",
            "output_tokens",
            "counted_tokens",
            "busy_hours",
        ).sum()
    ).row(0, named=True)
    label = cost["tokens_counted"][0] if cost.height else "output"
    usd = s["cost_usd"]

    def per_m(n):
        return usd / (n / 1e6) if n else None

    return {
        "tokens_counted": label,
        "instances": cost.height,
        "hours": s["hours"],
        "gpu_hours": s["gpu_hours"],
        "cost_usd": usd,
        "requests": int(s["requests"]),
        "prompt_tokens": int(s["prompt_tokens"]),
        "output_tokens": int(s["output_tokens"]),
        "counted_tokens": float(s["counted_tokens"]),
        "effective_per_million": per_m(s["counted_tokens"]),
        "effective_per_million_output": per_m(s["output_tokens"]),
        "effective_per_million_all": per_m(s["prompt_tokens"] + s["output_tokens"]),
        "busy_hours": s["busy_hours"],
        "utilization": u["busy_hours"] / u["hours"] if u["hours"] else None,
        "unprovisioned_instances": len(unpriced),
        "unpriced": unpriced,
        "data_errors": errors,
    }


# ----------------------------------------------------------------- ClickHouse variants
# The same definitions computed in ClickHouse / chDB (traceana.engines); a test holds
# each equal to its polars twin above.


def busy_hours_ch(
    ch,
    start: datetime | None = None,
    end: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """:func:`busy_hours` in ClickHouse: per instance, the union of [arrival, arrival + e2e) as
    span minus the gaps before each interval to the running max of earlier ends (a window
    function ordered by start); intervals clipped to [start, end), one row per instance back.
    ``since`` / ``until`` only select the rows (by arrival time)."""
    from traceana.engines.sql import Params, column, epoch_us, where, window_where

    p = Params()
    s = f"toUnixTimestamp64Micro({column('arrival_time')})"
    e = f"{s} + toInt64(roundBankers({column('e2e_latency_s')} * 1e6))"  # half to even, as polars round()
    if start is not None:
        s_c = f"greatest({s}, {p.add(epoch_us(start), 'Int64')})"
    else:
        s_c = s
    e_c = f"least({e}, {p.add(epoch_us(end), 'Int64')})" if end is not None else e
    clauses = [
        f"{column('e2e_latency_s')} IS NOT NULL",
        f"{column('instance')} IS NOT NULL",
        *window_where(p, since, until),
    ]
    if start is not None:
        clauses.append(f"{column('arrival_time')} >= {p.time(start)}")
    if end is not None:
        clauses.append(f"{column('arrival_time')} < {p.time(end)}")
    sql = (
        "SELECT instance, toFloat64(max(e) - min(s) - sum(gap)) / 3600e6 AS busy_hours FROM ("
        " SELECT instance, s, e, if(row_number() OVER w = 1, 0,"
        "  greatest(0, s - max(e) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))) AS gap"
        f" FROM (SELECT assumeNotNull({column('instance')}) AS instance, {s_c} AS s, {e_c} AS e"
        f"  FROM {ch.table('requests')} {where(clauses)}) WHERE e > s"
        " WINDOW w AS (PARTITION BY instance ORDER BY s)"
        ") GROUP BY instance ORDER BY instance"
    )
    out = ch.query(sql, p.values)
    schema = {"instance": pl.String, "busy_hours": pl.Float64}
    return out.cast(schema) if out.height else pl.DataFrame(schema=schema)


def effective_cost_ch(
    ch,
    provisioned_df: pl.DataFrame,
    gpu_prices: dict[str, float],
    tokens: str = "output",
    prompt_weight: float | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pl.DataFrame:
    """:func:`effective_cost` with the per-instance sums, the most-served model and the busy hours
    computed in ClickHouse (one row per instance back); the same prices and ratios (``_priced``).
    ``since`` / ``until`` only select the rows (the frame :func:`effective_cost` would be given)."""
    from traceana.engines.sql import Params, column, where, window_where

    _check_mode(tokens, prompt_weight)
    p = Params()
    clauses = window_where(p, start, end) + window_where(p, since, until)
    t = ch.table("requests")
    sums = ch.query(
        f"SELECT {column('instance')} AS instance, toInt64(count()) AS requests, "
        f"toInt64(sum(ifNull({column('prompt_tokens')}, 0))) AS prompt_tokens, "
        f"toInt64(sum(ifNull({column('output_tokens')}, 0))) AS output_tokens FROM {t} {where(clauses)} GROUP BY instance",
        p.values,
    )
    # the model an instance served most, ties to the first name (as effective_cost)
    model = ch.query(
        f"SELECT instance, model AS served_model FROM (SELECT {column('instance')} AS instance, {column('model')} AS model, "
        f"count() AS n FROM {t} {where([*clauses, column('model') + ' IS NOT NULL'])} GROUP BY instance, model) "
        "ORDER BY instance, n DESC, model LIMIT 1 BY instance",
        p.values,
    )
    sums = (
        sums.cast({"instance": pl.String})
        if sums.height
        else pl.DataFrame(
            schema={
                "instance": pl.String,
                "requests": pl.Int64,
                "prompt_tokens": pl.Int64,
                "output_tokens": pl.Int64,
            }
        )
    )
    model = (
        model.cast(pl.String)
        if model.height
        else pl.DataFrame(schema={"instance": pl.String, "served_model": pl.String})
    )
    served = sums.join(model, on="instance", how="left", nulls_equal=True)
    return _priced(
        served, busy_hours_ch(ch, start, end, since, until), provisioned_df, gpu_prices, tokens, prompt_weight
    )


def autoscaled_cost(replica_hours: dict, mu: dict, rows: list[dict]) -> list[dict]:
    """What the autoscaled fleet would have cost, per model, beside what it did cost.

    Formula (per model):
        price_per_replica_hour = price_per_gpu_hour x gpu_count    [$/h, of the model's first provisioned row]
        cost_usd = replica_hours x price_per_replica_hour          [$]
        actual_cost_usd = sum of the model's provisioned cost_usd  [$]
        per_million_output = cost_usd / (output_tokens / 1e6)      [$ per 1M output tokens; None without tokens]

    ``replica_hours`` and ``mu`` come from :func:`traceana.metrics.capacity.autoscale`
    (summed per model), ``rows`` from :func:`effective_cost`. A model with no priced,
    provisioned row is left out (no $0 for what has no price).
    """
    autoscaled = []
    for model, hours in replica_hours.items():
        mine = [r for r in rows if r.get("model") == model and r.get("provisioned")]
        if not mine or not mine[0].get("price_per_gpu_hour"):
            continue
        per_replica = mine[0]["price_per_gpu_hour"] * (mine[0].get("gpu_count") or 1)
        out_tokens = sum(r.get("output_tokens") or 0 for r in rows if r.get("model") == model)
        usd = hours * per_replica
        actual = sum(r.get("cost_usd") or 0.0 for r in mine)
        autoscaled.append(
            {
                "model": model,
                "mu_per_replica": mu.get(model),
                "replica_hours": hours,
                "price_per_replica_hour": per_replica,
                "cost_usd": usd,
                "actual_cost_usd": actual,
                "per_million_output": usd / (out_tokens / 1e6) if out_tokens else None,
            }
        )
    return autoscaled
