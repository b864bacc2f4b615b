"""The report's tables, format-neutral: the HTML and Markdown writers render the same rows.

A cell is a display string, or ``(value, ci_text, reliable)`` for a percentile
with its confidence interval (rendered greyed when not reliable). Escaping is
the writer's job, never done here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PCTS = ("p50", "p90", "p95", "p99", "p99_9")


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    text_cols: int = 1  # leading columns that are text (left-aligned)
    note: str = ""
    row_meta: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.row_meta:
            self.row_meta = [{} for _ in self.rows]


def fmt_s(v: Any) -> str:
    """Seconds for people: '807.1 ms' under one second, '2.233 s' above, 'n/a' for None."""
    if v is None:
        return "n/a"
    v = float(v)
    if abs(v) < 1.0:
        return f"{v * 1e3:.4g} ms"
    return f"{v:.4g} s"


def fmt_num(v: Any, spec: str = ".4g") -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    return format(float(v), spec)


def fmt_pct(v: Any, digits: int = 2) -> str:
    return "n/a" if v is None else f"{float(v) * 100:.{digits}f}%"


def fmt_usd(v: Any) -> str:
    """Dollars: cents from $10 up, four significant digits below ($0.9259)."""
    if v is None:
        return "n/a"
    v = float(v)
    return f"${v:,.2f}" if abs(v) >= 10 else f"${v:#.4g}"


def short_time(iso_text: str | None) -> str:
    """'2025-01-01T00:00:01.182165Z' -> '2025-01-01 00:00:01' (UTC, whole seconds)."""
    return (iso_text or "n/a").replace("T", " ").split(".")[0].rstrip("Z")


def window_text(w: dict) -> str:
    """'2025-01-01 00:00:01 → 00:30:05 UTC' (the end's date only when it differs).

    No start: the input has no time window (no arrival times, or sources that do not overlap).
    """
    if not w.get("start"):
        return "none (no arrival times to span, or sources that do not overlap: see the notes)"
    a, b = short_time(w.get("start")), short_time(w.get("end"))
    if a[:10] == b[:10]:
        b = b[11:]
    return f"{a} → {b} UTC"


def group_label(group: dict | None) -> str:
    """'model=llama, route=chat'; a value the trace lacks is '(unknown model)', not 'model=None'."""
    return (
        ", ".join(f"{k}={v}" if v is not None else f"(unknown {k})" for k, v in (group or {}).items())
        or "all"
    )


_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def window_seconds(text: Any) -> float:
    """'5m' -> 300, '1h' -> 3600, '1d' -> 86400: a sort key so windows order by length, not by string
    ('1d' < '1h' < '5m' as text). Anything unparseable sorts last."""
    t = str(text or "").strip()
    try:
        return float(t[:-1]) * _UNIT_S[t[-1]]
    except (KeyError, ValueError, IndexError):
        return float("inf")


def percentile_key(text: Any) -> float:
    """'p99.9' or 'p99_9' -> 99.9: percentiles order numerically (p50 < p90 < p99 < p99.9)."""
    try:
        return float(str(text).lstrip("p").replace("_", "."))
    except ValueError:
        return float("inf")


def one_all(rows: list[dict], key: tuple[str, ...] = ("metric",)) -> list[dict]:
    """Rows with one "all" row per ``key``, not two: where a key has exactly one group besides "all"
    (one model, or every model unknown), that group is the whole population, so the two rows are
    the same numbers; the group row is dropped and the "all" row names the group: 'all (model=x)'."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r.get("group"):
            groups.setdefault(tuple(r.get(k) for k in key), []).append(r)
    has_all = {tuple(r.get(k) for k in key) for r in rows if not r.get("group")}
    out = []
    for r in rows:
        k = tuple(r.get(c) for c in key)
        single = len(groups.get(k, [])) == 1 and k in has_all
        if single and r.get("group"):
            continue
        if single:
            r = {**r, "label": f"all ({group_label(groups[k][0]['group']).strip('()')})"}
        out.append(r)
    return out


def _verdict_class(word: str) -> str:
    return {
        "met": "v-ok",
        "complete": "v-ok",
        "ok": "v-ok",
        "consistent": "v-ok",
        "partial": "v-warn",
        "breached": "v-bad",
        "budget exhausted": "v-bad",
        "missing": "v-bad",
    }.get(word, "v-warn")


USER_METRICS = ("ttft_s", "tpot_s", "itl_s", "e2e_latency_s")
NOTE_CI = (
    "Brackets: 95% confidence interval of the percentile; grey (~ in Markdown): too few requests for that "
    "percentile to be reliable. Failed requests are excluded here and counted as bad in every SLO."
)


def latency_table(rep: dict, components: bool = False) -> Table:
    """User-visible metrics (TTFT, TPOT, ITL, e2e), or with ``components`` the server-side parts (queue, prefill, decode)."""
    rows = []
    for r in one_all(rep.get("latency") or []):
        if (r["metric"] in USER_METRICS) == components:
            continue
        ci, rel = r.get("ci") or {}, r.get("reliable") or {}
        cells: list[Any] = [
            r.get("label") or group_label(r.get("group")),
            r["metric"],
            fmt_num(r.get("count")),
            fmt_s(r.get("mean")),
        ]
        for p in PCTS:
            lo_hi = ci.get(p)
            ci_text = f"[{fmt_s(lo_hi[0])}, {fmt_s(lo_hi[1])}]" if lo_hi and lo_hi[0] is not None else ""
            cells.append((fmt_s(r.get(p)), ci_text, rel.get(p, True) is not False))
        rows.append(cells)
    title = (
        "Where the time goes: queue, prefill, decode (ok requests)"
        if components
        else "Latency percentiles (ok requests)"
    )
    return Table(
        title,
        ["group", "metric", "count", "mean", "p50", "p90", "p95", "p99", "p99.9"],
        rows,
        text_cols=2,
        note="" if components else NOTE_CI,
    )


def user_visible_table(rep: dict) -> Table:
    """Error-adjusted percentiles: failed requests count as +inf ("∞": the percentile falls among failures)."""
    rows = []
    for r in one_all(rep.get("latency_user_visible") or []):
        inf = set(r.get("infinite") or [])
        rows.append(
            [
                r.get("label") or group_label(r.get("group")),
                r["metric"],
                fmt_num(r.get("count")),
                fmt_num(r.get("failed")),
            ]
            + ["∞" if p in inf else fmt_s(r.get(p)) for p in PCTS]
        )
    return Table(
        "User-visible latency percentiles (failed requests count as +inf)",
        ["group", "metric", "requests", "failed", "p50", "p90", "p95", "p99", "p99.9"],
        rows,
        text_cols=2,
        note="∞: the percentile falls among failed or timed-out requests, which never answered the user.",
    )


def budget_table(rep: dict) -> Table:
    rows = []
    for r in one_all(rep.get("latency_budget") or [], ("at",)):
        rows.append(
            [r.get("label") or group_label(r.get("group")), r.get("at"), fmt_s(r.get("e2e_s"))]
            + [
                f"{fmt_s(r.get(f'{c}_s'))} ({fmt_pct(r.get(f'share_{c}'), 0)})"
                for c in ("queue", "prefill", "decode", "post")
            ]
        )
    return Table(
        "Latency budget at the p50 and p99 request",
        ["group", "at", "e2e", "queue", "prefill", "decode", "post"],
        rows,
        text_cols=2,
        note="e2e = queue + prefill + decode + post; post is the remainder.",
    )


def concurrency_table(rep: dict) -> Table:
    c = rep.get("concurrency") or {}
    items = [
        ("arrival rate lambda", f"{fmt_num(c.get('arrival_rate_per_s'))} req/s"),
        ("mean latency W", fmt_s(c.get("mean_latency_s"))),
        ("Little's law L = lambda x W", fmt_num(c.get("littles_law_L"))),
        ("empirical mean in flight", fmt_num(c.get("empirical_mean"))),
        ("empirical max in flight", fmt_num(c.get("empirical_max"))),
        ("ratio empirical / L", fmt_num(c.get("ratio"))),
        ("verdict", str(c.get("verdict") or "n/a")),
    ]
    return Table("Concurrency against Little's law", ["quantity", "value"], [list(i) for i in items])


def slo_table(rep: dict) -> Table:
    rows, meta = [], []
    for s in rep.get("slo") or []:
        word = (
            "not measured"
            if s.get("not_measured")
            else "no data"
            if s.get("met") is None
            else "breached"
            if not s["met"]
            else "budget exhausted"
            if s.get("budget_exhausted")
            else "met"
        )
        rows.append(
            [
                s["name"],
                fmt_pct(s.get("objective"), 3),
                fmt_num(s.get("total")),
                fmt_num(s.get("bad")),
                fmt_pct(s.get("attainment"), 3),
                fmt_num(s.get("allowed_bad")),
                fmt_pct(s.get("budget_remaining"), 1),
                str(len(s.get("alerts") or [])),
                word,
            ]
        )
        meta.append({"verdict_col": 8, "verdict_class": _verdict_class(word)})
    return Table(
        "SLO attainment and error budget",
        [
            "SLO",
            "objective",
            "requests",
            "bad",
            "attainment",
            "allowed bad",
            "budget left",
            "alerts",
            "verdict",
        ],
        rows,
        row_meta=meta,
        note="Failed requests count as bad. Budget left = 1 - bad / allowed bad, allowed bad = (1 - objective) x requests.",
    )


def alerts_table(rep: dict) -> Table:
    rows = []
    for s in rep.get("slo") or []:
        alerts = sorted(
            s.get("alerts") or [],
            key=lambda a: (
                str(a.get("fired_at") or ""),
                window_seconds(a.get("long_window")),
                window_seconds(a.get("short_window")),
            ),
        )
        for a in alerts:
            rows.append(
                [
                    s["name"],
                    str(a.get("severity")),
                    f"{a.get('long_window')} & {a.get('short_window')}",
                    fmt_num(a.get("factor")),
                    short_time(a.get("fired_at")),
                    short_time(a.get("cleared_at")) if a.get("cleared_at") else "still firing at the end",
                    fmt_num(a.get("peak_burn_rate")),
                ]
            )
    return Table(
        "Multi-window burn-rate alerts that fired",
        ["SLO", "severity", "windows", "burn rate >", "fired at (UTC)", "cleared at (UTC)", "peak burn rate"],
        rows,
        text_cols=3,
        note="An alert fires when the burn rate over both its long and its short window exceeds the factor "
        "(Google SRE workbook; factors scaled to each SLO's period).",
    )


def goodput_table(rep: dict) -> Table:
    g = rep.get("goodput") or {}
    th = (
        ", ".join(f"{k} <= {fmt_s(v)}" for k, v in (g.get("thresholds") or {}).items())
        or "none (ok requests)"
    )
    return Table(
        "Goodput",
        ["quantity", "value"],
        [
            ["thresholds", th],
            ["good requests", fmt_num(g.get("good"))],
            ["goodput", f"{fmt_num(g.get('goodput_per_s'))} req/s"],
            ["throughput (all arrivals)", f"{fmt_num(g.get('throughput_per_s'))} req/s"],
            ["good fraction", fmt_pct(g.get("good_fraction"))],
        ],
    )


COST_COLUMNS = [
    "model",
    "instance",
    "GPU-hours",
    "output tokens",
    "prompt tokens",
    "cost",
    "effective $/1M output tokens",
    "effective $/1M prompt+output tokens",
    "utilization (busy time)",
    "nominal $/1M output tokens at measured throughput",
]
#: the same columns, short enough for an 80-column terminal
COST_COLUMNS_SHORT = [
    "model",
    "instance",
    "GPU-h",
    "out tok",
    "prompt tok",
    "cost",
    "eff $/1M out",
    "eff $/1M all",
    "util",
    "nominal $/1M out",
]


def cost_table(rep: dict, compact: bool = False) -> Table:
    c = rep.get("cost") or {}
    rows = []
    for r in c.get("rows") or []:
        unpriced = "unpriced" if r.get("unpriced") else None
        rows.append(
            [
                str(r.get("model") or "(unknown model)"),
                str(r.get("instance") or "(unknown instance)"),
                fmt_num(r.get("gpu_hours"), ".2f"),
                fmt_num(r.get("output_tokens")),
                fmt_num(r.get("prompt_tokens")),
                unpriced or fmt_usd(r.get("cost_usd")),
                unpriced or fmt_usd(r.get("effective_per_million_output")),
                unpriced or fmt_usd(r.get("effective_per_million_all")),
                "data error" if r.get("data_error") else fmt_pct(r.get("utilization"), 1),
                unpriced or fmt_usd(r.get("nominal_per_million")),
            ]
        )
    t = c.get("totals") or {}
    if len(rows) > 1 and t:  # one priced row is its own total: no second "all" row with the same numbers
        rows.append(
            [
                "all",
                "all",
                fmt_num(t.get("gpu_hours"), ".2f"),
                fmt_num(t.get("output_tokens")),
                fmt_num(t.get("prompt_tokens")),
                fmt_usd(t.get("cost_usd")),
                fmt_usd(t.get("effective_per_million_output")),
                fmt_usd(t.get("effective_per_million_all")),
                fmt_pct(t.get("utilization"), 1),
                "",
            ]
        )
    return Table(
        "Cost per million tokens",
        COST_COLUMNS_SHORT if compact else COST_COLUMNS,
        rows,
        text_cols=2,
        note="Effective = provisioned GPU-hours x $/GPU-hour / tokens served. Nominal = the same GPUs' price / output "
        "tokens per busy second (what a token would cost at 100% utilization); utilization = time with a request in flight / provisioned time. "
        "Unpriced instances (no price entry matches) are left out of the totals.",
    )


def autoscale_table(rep: dict) -> Table:
    c = rep.get("cost") or {}
    rows = [
        [
            str(a.get("model") or "n/a"),
            fmt_num(a.get("mu_per_replica"), ".3g"),
            fmt_num(a.get("replica_hours"), ".2f"),
            fmt_usd(a.get("price_per_replica_hour")),
            fmt_usd(a.get("cost_usd")),
            fmt_usd(a.get("actual_cost_usd")),
            fmt_usd(a.get("per_million_output")),
        ]
        for a in c.get("autoscaling") or []
    ]
    target = c.get("target_utilization")
    return Table(
        "What autoscaling would have cost",
        [
            "model",
            "mu per replica (req/s)",
            "replica-hours",
            "$/replica-hour",
            "cost at target utilization",
            "actual cost",
            "$/1M output tokens",
        ],
        rows,
        note=f"replicas = ceil(lambda / (target_util x mu)) per window, lambda = p95 of the per-minute arrival rate, "
        f"target utilization {fmt_pct(target, 0)}; mu = {c.get('mu_basis') or 'not computable (see the notes)'}.",
    )


def kv_tables(rep: dict) -> list[Table]:
    k = rep.get("kv") or {}
    inst = [
        [
            str(r.get("instance")),
            str(r.get("model") or "n/a"),
            fmt_num(r.get("samples")),
            fmt_pct(r.get("mean_kv_cache_usage"), 1),
            fmt_pct(r.get("max_kv_cache_usage"), 1),
            fmt_num(r.get("mean_num_running"), ".3g"),
            fmt_num(r.get("max_num_running"), ".4g"),
            fmt_num(r.get("kv_tokens_per_running_request"), ".4g"),
            fmt_num(r.get("implied_max_concurrent")),
            fmt_num(r.get("headroom")),
        ]
        for r in k.get("instances") or []
    ]
    shapes = [
        [
            str(r.get("model")),
            fmt_num(r.get("context_tokens")),
            fmt_num((r.get("kv_per_request_bytes") or 0) / 1e9, ".4g"),
            fmt_num(r.get("available_gb"), ".4g"),
            fmt_num(r.get("max_concurrent")),
            fmt_num(r.get("observed_max_running"), ".4g"),
        ]
        for r in k.get("shapes") or []
    ]
    return [
        Table(
            "KV cache and batch per instance (engine samples)",
            [
                "instance",
                "model",
                "samples",
                "mean KV",
                "max KV",
                "mean batch",
                "max batch",
                "KV tokens / request",
                "implied max batch",
                "headroom",
            ],
            inst,
            text_cols=2,
            note="implied max batch = floor(KV capacity tokens / KV tokens per running request); headroom = that - max batch seen.",
        ),
        Table(
            "KV capacity from the model shape",
            [
                "model",
                "context tokens",
                "KV per request (GB)",
                "available for KV (GB)",
                "max concurrent requests",
                "max batch seen",
            ],
            shapes,
            note="KV per request = 2 x layers x kv_heads x head_dim x bytes x tokens; available = GPU memory - weights - workspace.",
        ),
    ]


def gpu_table(rep: dict) -> Table:
    rows = [
        [
            str(r.get("instance")),
            fmt_num(r.get("samples")),
            fmt_pct(r.get("mean_gpu_utilization"), 1),
            fmt_pct(r.get("max_gpu_utilization"), 1),
            fmt_num(
                None if r.get("max_gpu_memory_used_bytes") is None else r["max_gpu_memory_used_bytes"] / 1e9,
                ".4g",
            ),
            fmt_num(
                None if r.get("gpu_memory_total_bytes") is None else r["gpu_memory_total_bytes"] / 1e9, ".4g"
            ),
            fmt_num(r.get("mean_gpu_power_w"), ".4g"),
            fmt_num(r.get("max_gpu_power_w"), ".4g"),
        ]
        for r in (rep.get("kv") or {}).get("gpu") or []
    ]
    return Table(
        "GPU per instance (engine samples)",
        [
            "instance",
            "samples",
            "mean GPU util",
            "max GPU util",
            "max memory used (GB)",
            "memory total (GB)",
            "mean power (W)",
            "max power (W)",
        ],
        rows,
        note="GPU util = DCGM GPU_UTIL (fraction of time a kernel ran); GB = 10^9 bytes; n/a where the source has no such field.",
    )


def degradation_table(rep: dict) -> Table:
    d = rep.get("degradation") or {}
    rows, meta = [], []
    for o in d.get("options") or []:
        chosen = o.get("name") == d.get("choice")
        rows.append(
            [
                str(o.get("name")),
                fmt_num(o.get("quality")),
                fmt_s(o.get("latency")),
                str(o.get("source") or ""),
                fmt_num(o.get("count")),
                "yes" if o.get("eligible") else "no",
                "chosen" if chosen else "",
            ]
        )
        meta.append({"verdict_col": 6, "verdict_class": "v-ok"} if chosen else {})
    pct = d.get("percentile")
    head = (
        (
            f"Judged by SLO {d.get('slo')}: p{fmt_num(pct * 100 if pct is not None else None, 'g')} {d.get('metric')} "
            f"must be <= {fmt_s(d.get('threshold'))}. "
        )
        if d.get("slo")
        else ""
    )
    choice = f"Choice: {d.get('choice')}." if d.get("choice") else "Choice: none."
    return Table(
        "Degradation options",
        ["option", "quality", "observed latency", "from", "requests", "meets SLO", ""],
        rows,
        row_meta=meta,
        note=f"{head}{choice} {d.get('reason') or ''}".strip(),
    )


def checklist_table(rep: dict) -> Table:
    rows, meta = [], []
    for r in rep.get("checklist") or []:
        rows.append(
            [
                str(r.get("item")),
                str(r.get("name")),
                ", ".join(r.get("fields_present") or []) or "none",
                fmt_pct(r.get("fill_fraction"), 0),
                str(r.get("verdict")),
            ]
        )
        meta.append({"verdict_col": 4, "verdict_class": _verdict_class(str(r.get("verdict")))})
    return Table(
        "What the trace records (the six-item checklist)",
        ["item", "what", "fields present", "filled", "verdict"],
        rows,
        text_cols=3,
        row_meta=meta,
    )


def report_tables(rep: dict) -> dict[str, list[Table]]:
    """Tables per report section (keys as in the HTML writer's SECTIONS); empty sections are left out."""
    out: dict[str, list[Table]] = {}

    def add(key: str, t: Table, keep_empty: bool = False) -> None:
        if t.rows or keep_empty:
            out.setdefault(key, []).append(t)

    add("latency", latency_table(rep))
    add("latency", user_visible_table(rep))
    add("latency", latency_table(rep, components=True))
    add("budget", budget_table(rep))
    if rep.get("concurrency"):
        add("concurrency", concurrency_table(rep))
    for t in kv_tables(rep):
        add("engine", t)
    add("engine", gpu_table(rep))
    add("slo", slo_table(rep))
    add("slo", alerts_table(rep))
    if rep.get("goodput"):
        add("goodput", goodput_table(rep))
    add("cost", cost_table(rep))
    add("cost", autoscale_table(rep))
    if rep.get("degradation"):
        add("degradation", degradation_table(rep), keep_empty=True)
    add("checklist", checklist_table(rep))
    if rep.get("warnings"):
        add("warnings", Table("Notes", ["note"], [[w] for w in rep["warnings"]]))
    return out
