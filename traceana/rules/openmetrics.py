"""A trace as the Prometheus series the rules read: counters and histograms at fixed steps.

For sample times t_k = start + k * step (k = 0..n, n = ceil((end - start) / step)),
each series holds the cumulative count of requests with start <= arrival_time < t_k
(requests are put in time by arrival, as the offline SLO report does):

- ``<requests>{finished_reason="stop"}``: status ok; ``{finished_reason="abort"}``: any other status
  (vLLM's ``vllm:request_success_total`` labels);
- per latency column: ``<hist>_bucket{le}`` (ok requests with value <= le), ``_count``
  (ok requests with a value), ``_sum`` (seconds). Bounds: :data:`BUCKETS` (vLLM's
  TTFT ladder) plus every SLO threshold, so the rules' ``le`` always exists.

Formula:
    rate(requests{abort}[w]) / rate(requests[w]) at t_k
      = bad / total over arrivals in [t_k - w, t_k)      (the offline burn window)
Written as OpenMetrics text (``# TYPE``, samples with timestamps in seconds, ``# EOF``),
which ``promtool tsdb create-blocks-from openmetrics`` backfills.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from traceana._atomic import write_text
from traceana.config import SLO
from traceana.ingest.adapters.prometheus._metric_map import VLLM_TTFT_BUCKETS as BUCKETS
from traceana.rules.sli import PromMetrics, le_label


@dataclass(frozen=True)
class Series:
    """Cumulative samples of one series at ``times`` (the same grid for every series)."""

    name: str
    labels: tuple[tuple[str, str], ...]
    values: np.ndarray

    def selector(self) -> str:
        return self.name + ("{" + ",".join(f'{k}="{v}"' for k, v in self.labels) + "}" if self.labels else "")


def _lazy(data) -> pl.LazyFrame:
    return data.lazy() if isinstance(data, pl.DataFrame) else data


def _floor(t: datetime, step_s: int) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + timedelta(seconds=(int((t - epoch).total_seconds()) // step_s) * step_s)


def trace_series(
    data,
    slos: list[SLO] = (),
    metrics: PromMetrics | None = None,
    step_s: int = 60,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[list[datetime], list[Series]]:
    """The sample times and the counter / histogram series of a requests table (see the module docstring)."""
    m = metrics or PromMetrics()
    lf = _lazy(data)
    cols = lf.collect_schema().names()
    span = (
        lf.select(pl.col("arrival_time").min().alias("a"), pl.col("arrival_time").max().alias("b"))
        .collect()
        .row(0)
    )
    if span[0] is None:
        return [], []
    start = start or _floor(span[0], step_s)
    end = end or span[1] + timedelta(microseconds=1)
    n = max(1, math.ceil((end - start).total_seconds() / step_s))
    times = [start + timedelta(seconds=k * step_s) for k in range(n + 1)]
    lf = lf.filter((pl.col("arrival_time") >= start) & (pl.col("arrival_time") < end)).with_columns(
        _k=(
            (pl.col("arrival_time") - pl.lit(start)).dt.total_microseconds() // (step_s * 1_000_000) + 1
        ).cast(pl.Int64),
        _ok=(pl.col("status") == "ok").fill_null(False),
    )

    def cum(expr: pl.Expr, weight: pl.Expr | None = None) -> np.ndarray:
        agg = (
            pl.len() if weight is None else weight.fill_null(0).sum()
        )  # a literal's sum is 1 per group, not its length
        per = lf.filter(expr).group_by("_k").agg(agg.cast(pl.Float64).alias("v")).collect()
        out = np.zeros(n + 1)
        np.add.at(out, per["_k"].to_numpy(), per["v"].to_numpy().astype(float))
        return np.cumsum(out)

    base = m.requests[:-6] if m.requests.endswith("_total") else m.requests
    out = [
        Series(base + "_total", (("finished_reason", "stop"),), cum(pl.col("_ok"))),
        Series(base + "_total", (("finished_reason", "abort"),), cum(~pl.col("_ok"))),
    ]
    thresholds: dict[str, set] = {}
    for s in slos:
        if s.metric is not None and s.threshold is not None:
            thresholds.setdefault(s.metric, set()).add(float(s.threshold))
    for col, hist in m.histograms.items():
        if col not in cols:
            continue
        has = pl.col("_ok") & pl.col(col).is_not_null()
        if lf.filter(has).select(pl.len()).collect().item() == 0:
            continue
        for b in sorted(set(BUCKETS) | thresholds.get(col, set())) + [math.inf]:
            out.append(Series(hist + "_bucket", (("le", le_label(b)),), cum(has & (pl.col(col) <= b))))
        out.append(Series(hist + "_count", (), cum(has)))
        out.append(Series(hist + "_sum", (), cum(has, pl.col(col))))
    return times, out


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def openmetrics_text(times: list[datetime], series: list[Series]) -> str:
    """OpenMetrics exposition: one family per metric (``# TYPE``), each series' samples in time order."""
    fams: dict[str, tuple[str, list[Series]]] = {}
    for s in series:
        for suffix, typ in (
            ("_total", "counter"),
            ("_bucket", "histogram"),
            ("_count", "histogram"),
            ("_sum", "histogram"),
        ):
            if s.name.endswith(suffix):
                fams.setdefault(s.name[: -len(suffix)], (typ, []))[1].append(s)
                break
    ts = [f"{t.timestamp():.3f}".rstrip("0").rstrip(".") for t in times]
    lines = []
    for fam, (typ, members) in fams.items():
        lines.append(f"# TYPE {fam} {typ}")
        for s in members:
            sel = s.selector()
            lines.extend(f"{sel} {_fmt(v)} {t}" for v, t in zip(s.values, ts, strict=True))
    return "\n".join(lines + ["# EOF"]) + "\n"


def write_openmetrics(
    data, path: str | Path, slos: list[SLO] = (), metrics: PromMetrics | None = None, step_s: int = 60
) -> Path:
    times, series = trace_series(data, slos, metrics, step_s)
    return write_text(path, openmetrics_text(times, series))


def export_openmetrics(data, path: str | Path, slo_file: str | None = None) -> Path:
    """``traceana export --prometheus``: the series for the SLOs (and [prometheus] names) of ``slo_file``."""
    slos, metrics = [], None
    if slo_file:
        import tomllib

        from traceana.config import load_config
        from traceana.rules.sli import metrics_from_dict

        slos = load_config(slo_file).slos
        metrics = metrics_from_dict(
            tomllib.loads(Path(slo_file).read_text(encoding="utf-8")).get("prometheus"), slo_file
        )
    return write_openmetrics(data, path, slos, metrics)
