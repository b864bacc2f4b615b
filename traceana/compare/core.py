"""``compare``: base against candidate, metric by metric, with intervals and corrected verdicts.

For every group (all requests, then each ``by`` group present on both sides)
and every metric the data supports, a row holds base, candidate,
``diff = candidate - base``, ``rel_diff = diff / base``, a 95% interval for the
difference, its p-value, the p-value adjusted over the whole family of rows
(Holm by default, or Benjamini-Hochberg) and a verdict:

- ``better`` / ``worse``: adjusted p < alpha, in the metric's good / bad direction;
- ``changed``: adjusted p < alpha for a metric with no good direction
  (tokens per request, mean concurrency);
- ``no significant change``: adjusted p >= alpha;
- ``not enough data``: the metric cannot be compared (too few requests for
  that percentile: n (1 - q) < 10 on a side; no value; an infinite
  user-visible percentile; pooled ITL gaps, which are not independent draws).

Interval methods: quantiles - order-statistic bootstrap (stats.quantile_diff);
proportions (error rate, SLO attainment) - Newcombe hybrid score; rates
(throughput, goodput, mean concurrency = sum(e2e) / T) - compound Poisson;
tokens per request - Welch. Distribution shift per latency: Mann-Whitney U (in
the family; its effect P(cand > base) gives the direction) and KS (shown).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from traceana.compare import stats as st
from traceana.compare.sides import LATENCY, USER_VISIBLE, Side, load_side, read_columns
from traceana.errors import TraceanaError
from traceana.metrics._stats import PERCENTILES, min_reliable_n, pct_name

SCHEMA_VERSION = "1"
ALPHA = 0.05
ECDF_POINTS = 101


def _row(
    metric: str,
    stat: str,
    view: str,
    better: str | None,
    unit: str,
    base: float | None,
    cand: float | None,
    diff: st.Diff,
    n: tuple[int, int],
    note: str = "",
    enough: bool = True,
    **extra: Any,
) -> dict:
    rel = (
        diff.estimate / base
        if diff.estimate is not None and base not in (None, 0) and math.isfinite(base) and stat != "shift"
        else None
    )
    ident = f"{stat}({metric}{', user-visible' if view == 'user-visible' else ''})" if stat else metric
    return {
        "id": ident,
        "metric": metric,
        "stat": stat,
        "view": view,
        "better": better,
        "unit": unit,
        "base": base,
        "candidate": cand,
        "diff": diff.estimate,
        "rel_diff": rel,
        "ci": [diff.low, diff.high] if diff.low is not None else None,
        "p_value": diff.p_value if enough else None,
        "n_base": n[0],
        "n_candidate": n[1],
        "note": note,
        "enough": enough,
        **extra,
    }


def _finite(v: float) -> float | None:
    return v if math.isfinite(v) else None


def _quantile_rows(
    metric: str, view: str, b: np.ndarray, c: np.ndarray, rng, confidence: float, resamples: int
) -> list[dict]:
    rows = []
    for q in PERCENTILES:
        need = min_reliable_n(q)
        n = (len(b), len(c))
        if min(n) == 0:
            continue
        vb, vc = st.linear_quantile(b, q), st.linear_quantile(c, q)
        enough = min(n) >= need
        note = "" if enough else f"needs >= {need:,} requests per side for {pct_name(q)} (n (1 - q) >= 10)"
        if enough and not (math.isfinite(vb) and math.isfinite(vc)):
            enough, note = False, "the percentile falls among failed requests (+inf); compare error_rate"
        diff = (
            st.quantile_diff(b, c, q, rng, confidence, resamples)
            if enough
            else st.Diff(
                _finite(vc - vb) if math.isfinite(vb) and math.isfinite(vc) else None, None, None, None
            )
        )
        rows.append(
            _row(
                metric,
                pct_name(q),
                view,
                "lower",
                "s",
                _finite(vb),
                _finite(vc),
                diff,
                n,
                note,
                enough,
                base_infinite=math.isinf(vb),
                candidate_infinite=math.isinf(vc),
            )
        )
    return rows


def _shift_row(metric: str, b: np.ndarray, c: np.ndarray) -> dict | None:
    if min(len(b), len(c)) == 0:
        return None
    enough = min(len(b), len(c)) >= 8
    merged = st.merge_sorted(b, c)
    u, p, effect = st.mann_whitney(b, c, merged)
    d, ks_p, ks_method = st.ks_2samp(b, c, merged)
    diff = st.Diff(effect - 0.5, None, None, p)
    return _row(
        metric,
        "shift",
        "served",
        "lower",
        "probability",
        0.5,
        effect,
        diff,
        (len(b), len(c)),
        "" if enough else "needs >= 8 requests per side",
        enough,
        mann_whitney_u=u,
        mann_whitney_p=p,
        ks_d=d,
        ks_p=ks_p,
        ks_method=ks_method,
    )


def _latency_rows(b: Side, c: Side, rng, confidence: float, resamples: int) -> list[dict]:
    rows: list[dict] = []
    for m in LATENCY:
        if m in b.served and m in c.served:
            rows += _quantile_rows(m, "served", b.served[m], c.served[m], rng, confidence, resamples)
            if m in USER_VISIBLE and m in b.user and m in c.user:
                rows += _quantile_rows(m, "user-visible", b.user[m], c.user[m], rng, confidence, resamples)
            shift = _shift_row(m, b.served[m], c.served[m])
            if shift:
                rows.append(shift)
    if b.itl is not None and c.itl is not None:
        for q in PERCENTILES:
            vb, vc = st.linear_quantile(b.itl, q), st.linear_quantile(c.itl, q)
            rows.append(
                _row(
                    "itl_s",
                    pct_name(q),
                    "served",
                    "lower",
                    "s",
                    vb,
                    vc,
                    st.Diff(vc - vb, None, None, None),
                    (len(b.itl), len(c.itl)),
                    "pooled gaps are not independent draws: no interval",
                    False,
                )
            )
    return rows


def _count_rows(b: Side, c: Side, confidence: float) -> list[dict]:
    rows = [
        _row(
            "error_rate",
            "",
            "all",
            "lower",
            "fraction",
            b.failed / b.total if b.total else None,
            c.failed / c.total if c.total else None,
            st.newcombe(b.failed, b.total, c.failed, c.total, confidence),
            (b.total, c.total),
            "failed = status not ok (null counts as failed)",
            min(b.total, c.total) > 0,
        )
    ]
    for name, (gb, nb) in b.slo_good.items():
        gc, nc = c.slo_good.get(name, (0, 0))
        rows.append(
            _row(
                f"attainment({name})",
                "",
                "all",
                "higher",
                "fraction",
                gb / nb if nb else None,
                gc / nc if nc else None,
                st.newcombe(gb, nb, gc, nc, confidence),
                (nb, nc),
                "",
                min(nb, nc) > 0,
            )
        )
    tb, tc = b.seconds, c.seconds
    timed = tb > 0 and tc > 0 and b.arrival_span_s > 0 and c.arrival_span_s > 0
    why = (
        ""
        if timed
        else "a side has no arrival spread (one request, or a source without send times, e.g. LLMPerf): no rate"
    )

    def rate(
        metric: str,
        better: str | None,
        unit: str,
        s1: float,
        q1: float,
        s2: float,
        q2: float,
        n,
        note: str = "",
    ) -> dict:
        d = st.rate_diff(s1, q1, tb, s2, q2, tc, confidence)
        return _row(
            metric,
            "",
            "all",
            better,
            unit,
            s1 / tb if timed else None,
            s2 / tc if timed else None,
            d if timed else st.Diff(None, None, None, None),
            n,
            why or note,
            timed,
        )

    ok_b, ok_c = b.total - b.failed, c.total - c.failed
    rows.append(
        rate(
            "throughput", "higher", "requests/s", ok_b, ok_b, ok_c, ok_c, (ok_b, ok_c), "ok requests / window"
        )
    )
    if b.all_good is not None and c.all_good is not None:
        rows.append(
            rate(
                "goodput",
                "higher",
                "requests/s",
                b.all_good,
                b.all_good,
                c.all_good,
                c.all_good,
                (ok_b, ok_c),
                "ok requests meeting every SLO / window",
            )
        )
    if (
        b.output_tokens is not None
        and c.output_tokens is not None
        and len(b.output_tokens)
        and len(c.output_tokens)
    ):
        tb_, tc_ = b.output_tokens, c.output_tokens
        rows.append(
            rate(
                "output_tokens_per_s",
                "higher",
                "tokens/s",
                float(tb_.sum()),
                float(np.dot(tb_, tb_)),
                float(tc_.sum()),
                float(np.dot(tc_, tc_)),
                (len(tb_), len(tc_)),
            )
        )
        d = st.mean_diff(tb_, tc_, confidence)
        rows.append(
            _row(
                "tokens_per_request",
                "",
                "all",
                None,
                "tokens",
                float(tb_.mean()),
                float(tc_.mean()),
                d,
                (len(tb_), len(tc_)),
                "mean output tokens of ok requests",
                d.estimate is not None,
            )
        )
    if "e2e_latency_s" in b.served and "e2e_latency_s" in c.served:
        rows.append(
            rate(
                "mean_concurrency",
                None,
                "requests",
                b.e2e_sum,
                b.e2e_sumsq,
                c.e2e_sum,
                c.e2e_sumsq,
                (b.total, c.total),
                "sum(e2e) / window (Little's L over the whole window)",
            )
        )
    return rows


def metric_rows(
    b: Side,
    c: Side,
    rng: np.random.Generator,
    confidence: float = 0.95,
    resamples: int = st.BOOTSTRAP_RESAMPLES,
) -> list[dict]:
    """Every comparable metric of one group, before the family adjustment."""
    return _latency_rows(b, c, rng, confidence, resamples) + _count_rows(b, c, confidence)


def adjust_and_judge(rows: list[dict], method: str = "holm", alpha: float = ALPHA) -> None:
    """Adjust the rows' p-values as one family (in place) and set each row's verdict."""
    if method not in st.ADJUSTMENTS:
        raise TraceanaError(f"unknown adjustment '{method}'. Hint: one of {sorted(st.ADJUSTMENTS)}")
    adjusted = st.ADJUSTMENTS[method]([r["p_value"] for r in rows])
    for r, p in zip(rows, adjusted, strict=True):
        r["p_adjusted"] = p
        r["verdict"] = verdict(r, alpha)


def verdict(r: dict, alpha: float = ALPHA) -> str:
    """better / worse / changed / no significant change / not enough data (see the module docstring)."""
    p, d = r.get("p_adjusted"), r.get("diff")
    if not r.get("enough") or p is None or d is None:
        return "not enough data"
    if p >= alpha or d == 0:
        return "no significant change"
    if r.get("better") is None:
        return "changed"
    worse = d > 0 if r["better"] == "lower" else d < 0
    return "worse" if worse else "better"


def _groups(df_b: pl.DataFrame, df_c: pl.DataFrame, by: Sequence[str]) -> list[dict]:
    if not by:
        return []
    keys_b = df_b.select(by).unique()
    keys_c = df_c.select(by).unique()
    both = keys_b.join(keys_c, on=list(by), how="inner", nulls_equal=True).sort(list(by), nulls_last=True)
    return both.to_dicts()


def _slice(df: pl.DataFrame, group: dict) -> pl.DataFrame:
    expr = pl.lit(True)
    for k, v in group.items():
        expr = expr & (pl.col(k).is_null() if v is None else pl.col(k) == v)
    return df.filter(expr)


def _ecdf(side: Side, metric: str) -> list[dict]:
    v = side.served.get(metric)
    if v is None or not len(v):
        return []
    qs = np.linspace(0, 1, ECDF_POINTS)
    return [
        {"metric": metric, "value": float(x), "fraction": float(q)}
        for x, q in zip(np.quantile(v, qs), qs, strict=True)
    ]


def _side_info(label: str, side: Side) -> dict:
    return {"label": label, "requests": side.total, "failed": side.failed, "seconds": side.seconds}


def compare(
    base_lf: pl.LazyFrame,
    cand_lf: pl.LazyFrame,
    by: Sequence[str] = (),
    slos: Sequence = (),
    labels: tuple[str, str] = ("base", "candidate"),
    seed: int = 0,
    confidence: float = 0.95,
    adjust: str = "holm",
    resamples: int = st.BOOTSTRAP_RESAMPLES,
    extra_rows: Sequence[dict] = (),
) -> dict:
    """The comparison dict (schema ``schemas/compare.schema.json``): sides, metric rows, ECDF series.

    ``seed`` seeds the bootstrap's generator: the same inputs give the same
    intervals. Groups of ``by`` present on only one side are listed in warnings.
    ``extra_rows`` (all-requests rows, e.g. the cost row) join the family before the adjustment.
    """
    if not 0 < confidence < 1:
        raise TraceanaError(f"confidence must lie in (0, 1), got {confidence}")
    by = list(by)
    for lf, label in ((base_lf, labels[0]), (cand_lf, labels[1])):
        missing = [b for b in by if b not in lf.collect_schema().names()]
        if missing:
            raise TraceanaError(
                f"{label}: --by column(s) {missing} not in the requests. Hint: e.g. model, route, model_version"
            )
    df_b, df_c = read_columns(base_lf, by, slos), read_columns(cand_lf, by, slos)
    rng = np.random.default_rng(seed)
    warnings: list[str] = []
    side_b, side_c = load_side(df_b, slos), load_side(df_c, slos)
    for s, label in ((side_b, labels[0]), (side_c, labels[1])):
        if s.total == 0:  # a gate must not pass because a filter or window matched nothing
            raise TraceanaError(
                f"{label}: no requests to compare. Hint: check the filter or window (traceana check shows the columns)"
            )
    rows = (
        [dict(r, group={}) for r in metric_rows(side_b, side_c, rng, confidence, resamples)]
        if min(side_b.total, side_c.total)
        else []
    )
    if rows:
        rows += [dict(r, group={}) for r in extra_rows]
    groups = _groups(df_b, df_c, by)
    for g in groups:
        gb, gc = load_side(_slice(df_b, g), slos), load_side(_slice(df_c, g), slos)
        rows += [dict(r, group=g) for r in metric_rows(gb, gc, rng, confidence, resamples)]
    if by:
        n_b, n_c = df_b.select(by).unique().height, df_c.select(by).unique().height
        if n_b > len(groups) or n_c > len(groups):
            warnings.append(
                f"groups of {', '.join(by)} on one side only are not compared ({n_b - len(groups)} base, {n_c - len(groups)} candidate)"
            )
    adjust_and_judge(rows, adjust, round(1 - confidence, 12))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    ecdf = [
        dict(p, side=("base", "candidate")[i])
        for i, s in enumerate((side_b, side_c))
        for m in ("ttft_s", "e2e_latency_s")
        for p in _ecdf(s, m)
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "base": _side_info(labels[0], side_b),
        "candidate": _side_info(labels[1], side_c),
        "by": by,
        "confidence": confidence,
        "adjustment": {
            "method": adjust,
            "name": st.ADJUSTMENT_NAMES[adjust],
            "alpha": round(1 - confidence, 12),
            "family_size": sum(1 for r in rows if r["p_value"] is not None),
        },
        "bootstrap": {
            "resamples": resamples,
            "seed": seed,
            "method": "percentile bootstrap of quantile differences, drawn exactly from order statistics",
        },
        "metrics": rows,
        "summary": dict(sorted(counts.items())),
        "series": {"ecdf": ecdf},
        "warnings": warnings,
    }
