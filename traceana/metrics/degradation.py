"""Degradation choice: the best-quality way to serve among those whose latency meets the SLO.

Definition: among options whose observed p-latency meets
the SLO, the one with the best quality score; none eligible is a clear answer
too. Ties on quality go to the lower latency, then the name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from traceana.config import MATCH_KEYS, METRIC_COLUMNS, OPS, SLO, DegradationOption
from traceana.errors import ConfigError
from traceana.units import DURATION_UNITS

_MEETS = {
    "lte": lambda x, t: x <= t,
    "lt": lambda x, t: x < t,
    "gte": lambda x, t: x >= t,
    "gt": lambda x, t: x > t,
}
_SYMBOL = {"lte": "<=", "lt": "<", "gte": ">=", "gt": ">"}


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4g}"


def _rows(options: Sequence[tuple] | pl.DataFrame) -> list[dict]:
    if isinstance(options, pl.DataFrame):
        missing = {"name", "latency", "quality"} - set(options.columns)
        if missing:
            raise ConfigError(
                f"options table lacks columns {sorted(missing)}. Allowed: name, latency, quality", "options"
            )
        return options.select("name", "latency", "quality").to_dicts()
    out = []
    for i, o in enumerate(options):
        if len(o) != 3:
            raise ConfigError(f"expected (name, latency, quality), got {o!r}", f"options[{i}]")
        out.append({"name": o[0], "latency": o[1], "quality": o[2]})
    return out


def choose(options: Sequence[tuple] | pl.DataFrame, threshold: float, op: str = "lte") -> dict[str, Any]:
    """Pick the best-quality option whose latency meets ``threshold``.

    Formula:
        eligible = { o : o.latency <op> threshold }     (op lte by default; null latency never eligible)
        choice   = argmax over eligible of quality      (ties: lower latency, then name)
    ``options``: (name, latency, quality) tuples or a DataFrame with those
    columns; latency and threshold in the same unit. Returns {choice (a name
    or None), eligible (names, in input order), reason (plain words)}.
    (SLO 1600 ms; full 2500/1.00, smaller model 900/0.92, shorter context
    1200/0.95, lower retrieval k 1500/0.97 -> "lower retrieval k")
    """
    if op not in _MEETS:
        raise ConfigError(f"'{op}' is not allowed. Allowed: {', '.join(OPS)}", "op")
    rows = _rows(options)
    meets = _MEETS[op]
    eligible = [r for r in rows if r["latency"] is not None and meets(r["latency"], threshold)]
    rankable = [r for r in eligible if r["quality"] is not None]
    sym = _SYMBOL[op]
    if not rows:
        return {"choice": None, "eligible": [], "reason": "no options to choose from"}
    if not eligible:
        seen = [r for r in rows if r["latency"] is not None]
        if not seen:
            return {"choice": None, "eligible": [], "reason": "no option has an observed latency"}
        best = (
            min(seen, key=lambda r: r["latency"])
            if op in ("lte", "lt")
            else max(seen, key=lambda r: r["latency"])
        )
        return {
            "choice": None,
            "eligible": [],
            "reason": f"no option meets latency {sym} {_fmt(threshold)}: the closest, '{best['name']}', "
            f"has {_fmt(best['latency'])}; degrading further or adding capacity is needed",
        }
    names = [r["name"] for r in eligible]
    if not rankable:
        return {
            "choice": None,
            "eligible": names,
            "reason": f"{len(eligible)} option(s) meet latency {sym} {_fmt(threshold)} but none has a quality "
            "score to rank them; give each a quality in [[degradation]]",
        }
    best = min(rankable, key=lambda r: (-r["quality"], r["latency"], str(r["name"])))
    over = [f"{r['name']} ({_fmt(r['latency'])})" for r in rows if r not in eligible]
    reason = (
        f"'{best['name']}' has the best quality ({_fmt(best['quality'])}) among the {len(eligible)} option(s) "
        f"whose latency meets {sym} {_fmt(threshold)}: "
        + ", ".join(f"{r['name']} {_fmt(r['latency'])}/{_fmt(r['quality'])}" for r in eligible)
    )
    if over:
        reason += "; over the threshold: " + ", ".join(over)
    return {"choice": best["name"], "eligible": names, "reason": reason}


def _match_expr(match: dict[str, str]) -> pl.Expr:
    e = pl.lit(True)
    for k, v in match.items():
        e = e & (pl.col(k) == v)
    return e.fill_null(False)


def from_trace(
    data: pl.LazyFrame | pl.DataFrame,
    slo: SLO | tuple[str, float],
    percentile: float = 0.99,
    options: Sequence[DegradationOption] | None = None,
    variant_column: str | None = None,
) -> dict[str, Any]:
    """Observed p-latency of each serving option in the trace, and the choice.

    Options come from the config (``match`` picks the requests of an option;
    ``latency_ms`` gives an observed latency from elsewhere, converted to
    seconds) or, without options, from the distinct values of
    ``variant_column`` (default: the first of model_version, quantization,
    route, model with more than one value), whose quality is then unknown.

    Formula:
        latency = quantile(metric over ok requests of the option, percentile), linear interpolation
        eligible, choice: see :func:`choose` (op and threshold of the SLO)
    Returns {choice, eligible, reason, metric, threshold, percentile, options:
    DataFrame(name, source, count, latency, quality, eligible)}.
    """
    metric, threshold, op = (
        (slo.metric, slo.threshold, slo.op or "lte") if isinstance(slo, SLO) else (*slo, "lte")
    )
    if metric not in METRIC_COLUMNS or threshold is None:
        raise ConfigError(
            f"a degradation choice needs a latency SLO with a metric and threshold, got {metric!r}", "slo"
        )
    if not 0 < percentile <= 1:
        raise ConfigError(f"{percentile} is out of range. Allowed: (0, 1]", "percentile")
    lf = (data.lazy() if isinstance(data, pl.DataFrame) else data).filter(
        (pl.col("status") == "ok") & pl.col(metric).is_not_null()
    )
    lat = pl.col(metric).quantile(percentile, interpolation="linear")
    rows: list[dict] = []
    if options:
        exprs = []
        for i, o in enumerate(options):
            if o.match:
                m = _match_expr(o.match)
                exprs += [
                    m.sum().alias(f"n{i}"),
                    pl.col(metric).filter(m).quantile(percentile, interpolation="linear").alias(f"q{i}"),
                ]
        got = lf.select(exprs).collect().row(0, named=True) if exprs else {}
        for i, o in enumerate(options):
            if o.latency_ms is not None:
                rows.append(
                    {
                        "name": o.name,
                        "source": "config",
                        "count": None,
                        "latency": o.latency_ms * DURATION_UNITS["ms"],
                        "quality": o.quality,
                    }
                )
            else:
                rows.append(
                    {
                        "name": o.name,
                        "source": "trace",
                        "count": int(got[f"n{i}"] or 0),
                        "latency": got[f"q{i}"],
                        "quality": o.quality,
                    }
                )
    else:
        if variant_column is None:
            counts = (
                lf.select(pl.col(c).drop_nulls().n_unique() for c in MATCH_KEYS).collect().row(0, named=True)
            )
            variant_column = next((c for c in MATCH_KEYS if counts[c] > 1), None)
        elif variant_column not in MATCH_KEYS:
            raise ConfigError(
                f"'{variant_column}' is not allowed. Allowed: {', '.join(MATCH_KEYS)}", "variant_column"
            )
        if variant_column is not None:
            g = (
                lf.filter(pl.col(variant_column).is_not_null())
                .group_by(variant_column)
                .agg(count=pl.len(), latency=lat)
                .sort(variant_column)
                .collect()
            )
            rows = [
                {
                    "name": f"{variant_column}={r[variant_column]}",
                    "source": "trace",
                    "count": r["count"],
                    "latency": r["latency"],
                    "quality": None,
                }
                for r in g.to_dicts()
            ]
    picked = choose([(r["name"], r["latency"], r["quality"]) for r in rows], threshold, op)
    table = pl.DataFrame(
        [{**r, "eligible": r["name"] in picked["eligible"]} for r in rows],
        schema={
            "name": pl.String,
            "source": pl.String,
            "count": pl.Int64,
            "latency": pl.Float64,
            "quality": pl.Float64,
            "eligible": pl.Boolean,
        },
    )
    return {**picked, "metric": metric, "threshold": threshold, "percentile": percentile, "options": table}
