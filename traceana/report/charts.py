"""Altair chart specs built from the report dict (never from raw rows).

Every chart reads one pre-aggregated series of ``report["series"]`` (per-window
or per-bin rows, bounded in size whatever the trace length), so the HTML stays
small for a 10-million-request trace. Time axes are UTC, zoom and pan along x
(an interval selection bound to the scales), and every mark has a tooltip.

:func:`build_charts` returns ``[(chart_id, title, vega_lite_dict), ...]`` for the
charts whose data exists; the HTML writer embeds them, ``--images`` renders them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import altair as alt

from traceana.report.tables import one_all

WIDTH = "container"  # charts fill their <div>: no sideways scrolling on narrow screens
HEIGHT = 240
UTC_T = "%Y-%m-%d %H:%M:%S"


#: readable legend labels for the series ids the metric library uses
LABELS = {
    "ttft_s": "TTFT",
    "tpot_s": "TPOT",
    "itl_s": "inter-token latency",
    "e2e_latency_s": "end-to-end latency",
    "in_flight_mean": "in flight (measured)",
    "littles_law_L": "Little's L = lambda x W",
    "goodput_per_s": "goodput",
    "throughput_per_s": "all arrivals",
}

#: legend order of the latency metrics: as a request sees them, not alphabetical
METRIC_ORDER = [LABELS[m] for m in ("ttft_s", "tpot_s", "itl_s", "e2e_latency_s")]


def label(series_id: Any) -> str:
    """The legend text for a series id: 'TTFT' for 'ttft_s'; an id not in LABELS is shown as is."""
    return LABELS.get(str(series_id), str(series_id))


def time_axis(window_s: float | None) -> tuple[str, dict | int]:
    """(label format, tick count) for a time axis spanning ``window_s`` seconds.

    Chosen so a 1400 px chart shows at most about 12 labels: a 1-day window gets one tick per 2 hours,
    not one per hour in %H:%M that overlap; a multi-day window labels days.
    """
    s = window_s or 0
    if s <= 600:
        return "%H:%M:%S", 10
    if s <= 2 * 3600:
        return "%H:%M", 12
    if s <= 12 * 3600:
        return "%H:%M", {"interval": "hour", "step": 1}
    if s <= 1.5 * 86400:
        return "%H:%M", {"interval": "hour", "step": 2}
    if s <= 14 * 86400:
        return "%b %d", {"interval": "day", "step": 1}
    return "%b %d", 10


def _time_x(rep: dict | None = None, field: str = "window_start", title: str = "time (UTC)") -> alt.X:
    fmt, ticks = time_axis(((rep or {}).get("window") or {}).get("seconds"))
    return alt.X(
        f"{field}:T",
        title=title,
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(format=fmt, formatType="utc", tickCount=ticks, labelOverlap="greedy", labelFlush=True),
    )


def _long(
    rows: list[dict], fields: tuple[str, ...], value: str, keep: tuple[str, ...] = ("window_start",)
) -> list[dict]:
    """Wide rows -> one row per (row, field) with a readable 'series' label; None values are left out."""
    return [
        {**{k: r.get(k) for k in keep}, "series": label(f), value: r[f]}
        for r in rows
        for f in fields
        if r.get(f) is not None
    ]


def _line(chart: alt.Chart, n_x: int, **kw: Any) -> alt.Chart:
    """A line mark; with fewer than 2 x values a line draws nothing, so points are drawn as well."""
    return chart.mark_line(point=n_x < 2 or kw.pop("point", False), **kw)


def _time_tip(field: str = "window_start") -> alt.Tooltip:
    return alt.Tooltip(f"{field}:T", title="window (UTC)", format=UTC_T, formatType="utc")


def _zoom() -> alt.Parameter:
    return alt.selection_interval(bind="scales", encodings=["x"])


def _data(ds: dict, rows: list[dict], name: str = "main") -> alt.Data:
    """A named dataset: the rows go into the spec's top-level ``datasets`` after validation (fast for big series)."""
    ds[name] = rows
    return alt.Data(name=name)


def _base(ds: dict, rows: list[dict], title: str, subtitle: str | None = None) -> alt.Chart:
    t = alt.TitleParams(title, subtitle=subtitle or "", anchor="start")
    return alt.Chart(_data(ds, rows), title=t).properties(width=WIDTH, height=HEIGHT)


def latency_ecdf(rep: dict, ds: dict) -> alt.Chart | None:
    """ECDF of TTFT / TPOT / e2e from pre-binned log-spaced counts (ok requests)."""
    rows = [{**r, "metric": label(r.get("metric"))} for r in rep["series"].get("latency_ecdf") or []]
    if not rows:
        return None
    return (
        _base(
            ds,
            rows,
            "Latency distributions (ok requests)",
            "cumulative fraction of requests at or under x; log scale",
        )
        .mark_line(interpolate="step-after", point=False)
        .encode(
            x=alt.X("le:Q", title="seconds (log scale)", scale=alt.Scale(type="log")),
            y=alt.Y("cum_fraction:Q", title="fraction of requests <= x", scale=alt.Scale(domain=[0, 1])),
            color=alt.Color("metric:N", title="metric", sort=METRIC_ORDER),
            tooltip=[
                alt.Tooltip("metric:N"),
                alt.Tooltip("le:Q", title="<= seconds", format=".4g"),
                alt.Tooltip("cum_fraction:Q", title="fraction", format=".4f"),
                alt.Tooltip("cum_count:Q", title="requests", format=","),
            ],
        )
        .add_params(alt.selection_interval(bind="scales", encodings=["x"]))
    )


def percentiles_over_time(rep: dict, ds: dict) -> alt.Chart | None:
    """p50 and p99 per window for TTFT, TPOT and e2e (log y), one line per metric and percentile."""
    rows = [
        {
            "window_start": r.get("window_start"),
            "metric": label(r.get("metric")),
            "count": r.get("count"),
            "percentile": p,
            "seconds": r[p],
        }
        for r in rep["series"].get("percentiles_over_time") or []
        for p in ("p50", "p99")
        if isinstance(r.get(p), (int, float)) and r[p] > 0
    ]
    if not rows:
        return None
    return (
        _line(
            _base(
                ds,
                rows,
                "Percentiles over time",
                "solid p50, dashed p99; log scale; drag to pan, scroll to zoom",
            ),
            len({r["window_start"] for r in rows}),
        )
        .encode(
            x=_time_x(rep),
            y=alt.Y("seconds:Q", title="seconds (log scale)", scale=alt.Scale(type="log")),
            color=alt.Color("metric:N", sort=METRIC_ORDER),
            strokeDash=alt.StrokeDash("percentile:N", sort=["p50", "p99"]),
            tooltip=[
                _time_tip(),
                "metric:N",
                "percentile:N",
                alt.Tooltip("seconds:Q", format=".4g"),
                alt.Tooltip("count:Q", format=","),
            ],
        )
        .add_params(_zoom())
    )


def latency_budget(rep: dict, ds: dict) -> alt.Chart | None:
    """Stacked bars: queue / prefill / decode / post seconds at the p50 and p99 request."""
    rows = []
    for r in one_all(rep.get("latency_budget") or [], ("at",)):
        row = f"{r.get('label') or _group_label(r.get('group') or {})} @ {r['at']}"
        for comp in ("queue", "prefill", "decode", "post"):
            v = r.get(f"{comp}_s")
            if v is not None:
                rows.append({"row": row, "component": comp, "seconds": v, "share": r.get(f"share_{comp}")})
    if not rows:
        return None
    comps = ["queue", "prefill", "decode", "post"]
    return (
        _base(ds, rows, "Latency budget", "e2e = queue + prefill + decode + post (post is the remainder)")
        .mark_bar()
        .encode(
            y=alt.Y("row:N", title=None, sort=None),
            x=alt.X("seconds:Q", title="seconds", stack="zero"),
            color=alt.Color("component:N", sort=comps, scale=alt.Scale(domain=comps)),
            order=alt.Order("component_order:Q"),
            tooltip=[
                "row:N",
                "component:N",
                alt.Tooltip("seconds:Q", format=".4g"),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
        .transform_calculate(component_order="indexof(['queue','prefill','decode','post'], datum.component)")
        .properties(height=max(80, 36 * len({r["row"] for r in rows})))
    )


def concurrency_over_time(rep: dict, ds: dict) -> alt.Chart | None:
    """Empirical in-flight requests per window against Little's L = lambda * W."""
    rows = rep["series"].get("concurrency") or []
    if not rows:
        return None
    conc = rep.get("concurrency") or {}
    sub = f"whole window: L = {_fmt(conc.get('littles_law_L'))}, empirical {_fmt(conc.get('empirical_mean'))}, ratio {_fmt(conc.get('ratio'))} ({conc.get('verdict', 'n/a')})"
    long = _long(rows, ("in_flight_mean", "littles_law_L"), "requests")
    if not long:
        return None
    return (
        _line(_base(ds, long, "Concurrency over time", sub), len({r["window_start"] for r in long}))
        .encode(
            x=_time_x(rep),
            y=alt.Y("requests:Q", title="requests in flight"),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=[label("in_flight_mean"), label("littles_law_L")]),
            ),
            tooltip=[_time_tip(), "series:N", alt.Tooltip("requests:Q", format=".3f")],
        )
        .add_params(_zoom())
    )


def queue_vs_utilization(rep: dict, ds: dict) -> alt.Chart | None:
    """Observed mean queue time per utilization bin, beside the M/M/1 response curve W = S / (1 - rho)."""
    # a bin with no measured queue time has no point to draw (arrival-only or no-queue-field traces)
    rows = [
        r
        for r in rep["series"].get("queue_vs_utilization") or []
        if r.get("observed_mean_queue_s") is not None
    ]
    if not rows:
        return None
    drawn = any(r.get("mm1_response_s") is not None for r in rows)
    subtitle = (
        "points: observed mean queue time per rho bin; line: M/M/1 W = S / (1 - rho), drawn where rho < 1"
        if drawn
        else "points: observed mean queue time per rho bin; no M/M/1 line: every bin has rho >= 1 (rho counts each "
        "request's whole service time against one slot, and a batching engine serves many at once)"
    )
    base = _base(ds, rows, "Queue time vs utilization", subtitle)
    x = alt.X("rho_bin_mid:Q", title="utilization rho = lambda x S / replicas")
    pts = base.mark_circle(size=60).encode(
        x=x,
        y=alt.Y("observed_mean_queue_s:Q", title="seconds"),
        tooltip=[
            alt.Tooltip("rho_bin_mid:Q", format=".2f"),
            alt.Tooltip("observed_mean_queue_s:Q", format=".4g"),
            alt.Tooltip("observed_mean_latency_s:Q", format=".4g"),
            alt.Tooltip("windows:Q"),
        ],
    )
    if not drawn:  # a line layer with no points renders as an empty legend-less axis: leave it out
        return pts.properties(width=WIDTH, height=HEIGHT)
    line = base.mark_line(color="#d62728").encode(
        x=x,
        y="mm1_response_s:Q",
        tooltip=[alt.Tooltip("rho_bin_mid:Q", format=".2f"), alt.Tooltip("mm1_response_s:Q", format=".4g")],
    )
    return alt.layer(pts, line).properties(width=WIDTH, height=HEIGHT)


def _engine_chart(rep: dict, ds: dict, field: str, title: str, y_title: str) -> alt.Chart | None:
    rows = [r for r in rep["series"].get("engine") or [] if r.get(field) is not None]
    if not rows:
        return None
    return (
        _line(
            _base(
                ds, _only(rows, ("window_start", "instance", field)), title, "per instance, mean per window"
            ),
            len({r.get("window_start") for r in rows}),
        )
        .encode(
            x=_time_x(rep),
            y=alt.Y(f"{field}:Q", title=y_title),
            color=alt.Color("instance:N"),
            tooltip=[_time_tip(), "instance:N", alt.Tooltip(f"{field}:Q", format=".3f")],
        )
        .add_params(_zoom())
    )


def kv_usage(rep: dict, ds: dict) -> alt.Chart | None:
    return _engine_chart(rep, ds, "kv_cache_usage", "KV-cache usage over time", "KV cache used (fraction)")


def batch_size(rep: dict, ds: dict) -> alt.Chart | None:
    return _engine_chart(rep, ds, "num_running", "Batch size over time", "running requests")


def gpu_utilization(rep: dict, ds: dict) -> alt.Chart | None:
    return _engine_chart(rep, ds, "gpu_utilization", "GPU utilization over time", "GPU busy (fraction)")


def burn_down(rep: dict, ds: dict) -> alt.Chart | None:
    """Error budget remaining over the window, one line per SLO; below the 0 rule the budget is spent."""
    rows = [r for r in rep["series"].get("burn") or [] if r.get("budget_remaining") is not None]
    if not rows:
        return None
    line = (
        _line(
            _base(
                ds,
                _only(rows, ("window_start", "slo", "budget_remaining", "bad", "total")),
                "Error budget burn-down",
                "budget remaining = 1 - cumulative bad / allowed bad; below 0 the window's budget is spent",
            ),
            len({r.get("window_start") for r in rows}),
        )
        .encode(
            x=_time_x(rep),
            y=alt.Y("budget_remaining:Q", title="budget remaining", axis=alt.Axis(format="%")),
            color=alt.Color("slo:N"),
            tooltip=[
                _time_tip(),
                "slo:N",
                alt.Tooltip("budget_remaining:Q", format=".1%"),
                alt.Tooltip("bad:Q"),
                alt.Tooltip("total:Q"),
            ],
        )
        .add_params(_zoom())
    )
    zero = (
        alt.Chart(_data(ds, [{"y": 0.0}], "zero"))
        .mark_rule(color="#cf222e", strokeDash=[4, 4])
        .encode(y="y:Q")
    )
    return alt.layer(line, zero).properties(width=WIDTH, height=HEIGHT)


def burn_rate(rep: dict, ds: dict) -> alt.Chart | None:
    """Burn rate per window with the alert windows (fired -> cleared) shaded."""
    rows = [r for r in rep["series"].get("burn") or [] if r.get("burn_rate") is not None]
    if not rows:
        return None
    charted = {r["slo"] for r in rows}
    alerts = [
        {
            "slo": s["name"],
            "severity": a.get("severity"),
            "fired_at": a.get("fired_at"),
            "cleared_at": a.get("cleared_at") or rep["window"]["end"],
            "factor": a.get("factor"),
            "windows": f"{a.get('long_window')} & {a.get('short_window')}",
        }
        for s in rep.get("slo") or []
        if s["name"] in charted  # only the SLOs the chart has a line for (MAX_CHARTED_SLOS)
        for a in s.get("alerts") or []
        if a.get("fired_at")
    ]
    line = (
        _line(
            _base(
                ds,
                _only(rows, ("window_start", "slo", "burn_rate")),
                "Burn rate",
                "bad fraction per window / (1 - objective); shaded: multi-window alerts firing; rule: 1x",
            ),
            len({r.get("window_start") for r in rows}),
        )
        .encode(
            x=_time_x(rep),
            y=alt.Y("burn_rate:Q", title="burn rate"),
            color=alt.Color("slo:N"),
            tooltip=[_time_tip(), "slo:N", alt.Tooltip("burn_rate:Q", format=".3g")],
        )
        .add_params(_zoom())
    )
    rule = (
        alt.Chart(_data(ds, [{"y": 1.0}], "one")).mark_rule(strokeDash=[4, 4], color="grey").encode(y="y:Q")
    )
    layers = [line, rule]
    if alerts:
        shade = (
            alt.Chart(_data(ds, alerts, "alerts"))
            .mark_rect(opacity=0.15)
            .encode(
                x=alt.X("fired_at:T", scale=alt.Scale(type="utc")),
                x2="cleared_at:T",
                fill=alt.Fill(
                    "severity:N",
                    title="alert firing",
                    scale=alt.Scale(domain=["page", "ticket"], range=["#cf222e", "#bf8700"]),
                ),
                tooltip=[
                    "slo:N",
                    "severity:N",
                    "windows:N",
                    alt.Tooltip("factor:Q"),
                    alt.Tooltip("fired_at:T", format=UTC_T, formatType="utc"),
                ],
            )
        )
        layers.insert(0, shade)
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT)


def goodput_over_time(rep: dict, ds: dict) -> alt.Chart | None:
    rows = _long(rep["series"].get("goodput") or [], ("goodput_per_s", "throughput_per_s"), "per_s")
    if not rows:
        return None
    return (
        _line(
            _base(
                ds,
                rows,
                "Goodput over time",
                "requests/s that are ok and meet every SLO threshold, vs all arrivals/s",
            ),
            len({r["window_start"] for r in rows}),
        )
        .encode(
            x=_time_x(rep),
            y=alt.Y("per_s:Q", title="requests / s"),
            color=alt.Color("series:N", title=None),
            tooltip=[_time_tip(), "series:N", alt.Tooltip("per_s:Q", format=".3f")],
        )
        .add_params(_zoom())
    )


def cost_panel(rep: dict, ds: dict) -> alt.Chart | None:
    """Effective vs nominal $/1M output tokens per model and instance, and the autoscaled what-if per model."""
    c = rep.get("cost") or {}
    rows = []
    for r in c.get("rows") or []:
        who = f"{r.get('model') or 'n/a'} / {r.get('instance') or 'n/a'}"
        for key, label in (("effective_per_million_output", "effective"), ("nominal_per_million", "nominal")):
            if r.get(key) is not None:
                rows.append({"who": who, "kind": label, "usd": r[key], "utilization": r.get("utilization")})
    for a in c.get("autoscaling") or []:
        if a.get("per_million_output") is not None:
            rows.append(
                {
                    "who": f"{a.get('model') or 'n/a'} / autoscaled",
                    "kind": "autoscaled",
                    "usd": a["per_million_output"],
                    "utilization": c.get("target_utilization"),
                }
            )
    if not rows:
        return None
    kinds = ["effective", "nominal", "autoscaled"]
    return (
        _base(
            ds,
            rows,
            "Cost per million output tokens",
            "effective (provisioned GPU-hours) vs nominal (at measured throughput) vs autoscaled",
        )
        .mark_bar()
        .encode(
            y=alt.Y("who:N", title=None),
            yOffset=alt.YOffset("kind:N", sort=kinds),
            x=alt.X("usd:Q", title="$ per 1M output tokens"),
            color=alt.Color("kind:N", scale=alt.Scale(domain=kinds)),
            tooltip=[
                "who:N",
                "kind:N",
                alt.Tooltip("usd:Q", format="$.4f"),
                alt.Tooltip("utilization:Q", format=".1%"),
            ],
        )
        .properties(height=max(90, 42 * len({r["who"] for r in rows})))
    )


def autoscaling(rep: dict, ds: dict) -> alt.Chart | None:
    rows = [r for r in rep["series"].get("autoscale") or [] if r.get("replicas") is not None]
    if not rows:
        return None
    return (
        _line(
            _base(
                ds,
                rows,
                "Replicas needed at the target utilization",
                "replicas = ceil(lambda / (target_util x mu)) per window",
            ),
            len({r.get("window_start") for r in rows}),
            interpolate="step-after",
        )
        .encode(
            x=_time_x(rep),
            y=alt.Y("replicas:Q", title="replicas"),
            color=alt.Color("group:N", title=None),
            tooltip=[_time_tip(), "group:N", "replicas:Q"],
        )
        .add_params(_zoom())
    )


def _only(rows: list[dict], fields: tuple[str, ...]) -> list[dict]:
    """The fields a chart draws, nothing else (the page carries every chart's data)."""
    return [{k: r.get(k) for k in fields} for r in rows]


def _slim(row: dict) -> dict:
    """Chart rows with floats at 4 significant digits (what a chart can show; keeps the page small)."""
    return {k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in row.items() if v is not None}


def _fmt(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _group_label(group: dict) -> str:
    """A legend/axis label for a group: its values ('llama-3.1-8b, chat'); a missing value is '(unknown model)'."""
    return ", ".join(str(v) if v is not None else f"(unknown {k})" for k, v in group.items()) or "all"


#: (id, section, builder) in page order; the id is the <div> id and the image file stem
CHARTS: list[tuple[str, str, Callable[[dict, dict], alt.Chart | None]]] = [
    ("latency_ecdf", "latency", latency_ecdf),
    ("percentiles_over_time", "latency", percentiles_over_time),
    ("latency_budget", "budget", latency_budget),
    ("concurrency", "concurrency", concurrency_over_time),
    ("queue_vs_utilization", "concurrency", queue_vs_utilization),
    ("kv_usage", "engine", kv_usage),
    ("batch_size", "engine", batch_size),
    ("gpu_utilization", "engine", gpu_utilization),
    ("burn_down", "slo", burn_down),
    ("burn_rate", "slo", burn_rate),
    ("goodput", "goodput", goodput_over_time),
    ("cost", "cost", cost_panel),
    ("autoscaling", "cost", autoscaling),
]


#: why a chart is not drawn, one sentence each (shown in its section instead of an empty chart)
MISSING = {
    "latency_ecdf": "No latency distribution chart: no ok request has a measured TTFT, TPOT or e2e latency.",
    "percentiles_over_time": "No percentiles-over-time chart: no window has a measured latency.",
    "latency_budget": "No latency budget chart: the trace has no queue, prefill or decode times.",
    "concurrency": "No concurrency chart: it needs requests with both arrival and end times.",
    "queue_vs_utilization": "No queue-vs-utilization chart: no window has a measured queue time.",
    "kv_usage": "No KV-cache chart: the store has no engine samples with KV-cache usage.",
    "batch_size": "No batch-size chart: the store has no engine samples with running requests.",
    "gpu_utilization": "No GPU-utilization chart: the store has no engine samples with GPU utilization (AIPerf GPU telemetry, DCGM).",
    "burn_down": "No burn-down chart: no SLO has a window with a measured SLI.",
    "burn_rate": "No burn-rate chart: no SLO has a window with a measured SLI.",
    "goodput": "No goodput chart: goodput needs windows with measured latencies.",
    "cost": "No cost chart: no instance matched a price entry.",
    "autoscaling": "No autoscaling chart: no model has a service rate to size replicas from.",
}


def _chart(report: dict, fn: Callable[[dict, dict], alt.Chart | None]) -> tuple[alt.Chart | None, dict]:
    ds: dict[str, list[dict]] = {}
    chart = fn(report, ds)
    if chart is not None and not ds.get("main"):  # a chart whose data has no row draws an empty frame
        chart = None
    return chart, ds


def missing_charts(report: dict) -> list[tuple[str, str, str]]:
    """``[(chart_id, section, sentence)]`` for the charts not drawn, saying why in one sentence."""
    return [(cid, sec, MISSING[cid]) for cid, sec, fn in CHARTS if _chart(report, fn)[0] is None]


def build_charts(report: dict) -> list[tuple[str, str, dict]]:
    """``[(chart_id, section, vega_lite_spec_dict)]`` for every chart with at least one data row, in page order."""
    out = []
    for chart_id, section, fn in CHARTS:
        chart, ds = _chart(report, fn)
        if chart is None:
            continue
        spec = chart.to_dict()  # validates the structure; the data is attached after
        spec["datasets"] = {name: [_slim(r) for r in rows] for name, rows in ds.items()}
        spec["autosize"] = {"type": "fit-x", "contains": "padding"}
        out.append((chart_id, section, spec))
    return out
