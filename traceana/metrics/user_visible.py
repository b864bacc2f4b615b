"""User-visible (error-adjusted) latency percentiles: failed requests count as +inf.

The served-latency tables (latency.py) keep ok requests only, as vLLM and AIPerf
do; an overloaded server that sheds load then looks fast. Here every failed or
timed-out request is a latency the user waited for without an answer (AIPerf
issue 688), so it enters the distribution as +inf.

Formula, per group and metric:
    values = {metric of ok requests where finite} ∪ {+inf for each request with
             status != "ok" (null status counts as failed)}; n = |values|
    pXX = linear interpolation at h = (n - 1) q between order statistics (numpy's
          "linear"); an order statistic that is +inf makes the
          percentile +inf (interpolating towards +inf is +inf).
Units: seconds. A percentile past the share of ok requests (q > 1 - failed / n,
roughly) is +inf: the report shows it as "∞" and report.json as null, listed
in the row's ``infinite``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from traceana.metrics._stats import PERCENTILES, as_lazy, pct_name, require_columns

#: latencies a failed request leaves the user waiting on (TPOT and queue time have no user-visible meaning for a failure)
METRICS = ("ttft_s", "e2e_latency_s")


def _percentiles_with_failures(served: np.ndarray, failed: int) -> list[float]:
    """Linear percentiles of ``served`` (finite, any order; reordered in place) plus ``failed`` values of +inf.

    Only the order statistics the percentiles need are selected (one multi-kth
    ``np.partition``, O(n)); a rank at or past len(served) is one of the +inf values.
    """
    m = len(served)
    n = m + failed
    plan, kth = [], set()
    for q in PERCENTILES:
        h = (n - 1) * q
        k = int(math.floor(h))
        plan.append((k, h - k))
        kth.update(r for r in (k, k + 1) if r < m)
    if kth:
        served.partition(sorted(kth))
    out = []
    for k, f in plan:
        lo = float(served[k]) if k < m else math.inf
        if f == 0 or k + 1 >= n or math.isinf(lo):
            out.append(lo)
            continue
        hi = float(served[k + 1]) if k + 1 < m else math.inf
        out.append(math.inf if math.isinf(hi) else lo + (hi - lo) * f)
    return out


def percentiles(
    lf: pl.LazyFrame | pl.DataFrame, metrics: Sequence[str] = METRICS, by: Sequence[str] = ()
) -> pl.DataFrame:
    """One row per (by..., metric): count (ok with a value + failed), failed, served (ok with a value), pXX (may be inf)."""
    lf = as_lazy(lf)
    by = list(by)
    names = lf.collect_schema().names()
    metrics = [m for m in metrics if m in names]
    require_columns(lf, [*by, "status", *metrics])
    df = lf.select(
        *by,
        (pl.col("status") == "ok").fill_null(False).alias("_ok"),
        *(pl.col(m).cast(pl.Float64) for m in metrics),
    ).collect()
    parts = df.partition_by(by, as_dict=True, maintain_order=True) if by else {(): df}
    rows = []
    for key, part in sorted(parts.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        ok = part["_ok"].to_numpy()
        failed = int((~ok).sum())
        for m in metrics:
            v = part[m].to_numpy()[ok]
            v = v[np.isfinite(v)]
            if not len(v):
                continue
            row = dict(zip(by, key, strict=True))
            row.update({"metric": m, "count": len(v) + failed, "failed": failed, "served": len(v)})
            row.update(
                zip((pct_name(q) for q in PERCENTILES), _percentiles_with_failures(v, failed), strict=True)
            )
            rows.append(row)
    schema = {
        **{b: df.schema[b] for b in by},
        "metric": pl.String,
        "count": pl.Int64,
        "failed": pl.Int64,
        "served": pl.Int64,
        **{pct_name(q): pl.Float64 for q in PERCENTILES},
    }
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)
