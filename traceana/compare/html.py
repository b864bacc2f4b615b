"""compare.html: the report's offline page shell (inline Vega bundle, escaped tables) with two charts.

- forest plot: each tested metric's relative difference with its interval
  (interval / |base|), coloured by verdict, a rule at 0 (a metric whose base
  is 0, such as an error rate from 0%, has no relative scale and is left out);
- overlaid ECDFs of TTFT and e2e latency (ok requests), base against candidate;
- with ``--sweep``: throughput against p99 latency per run, the Pareto frontier
  as a line, over-saturated runs marked.

Chart data are bounded (one point per metric row, 101 ECDF levels per side and
metric); specs are embedded with :func:`traceana.report.html.script_json`.
"""

from __future__ import annotations

from typing import Any

import altair as alt

from traceana.compare.render import compare_tables, headline
from traceana.report.html import CSS, EMBED, ONERROR, _table_html, e, script_json, vega_bundle
from traceana.report.tables import group_label

VERDICT_COLOURS = {
    "better": "#1a7f37",
    "worse": "#cf222e",
    "changed": "#9a6700",
    "no significant change": "#6e7781",
}


def _forest_rows(cmp: dict) -> list[dict]:
    rows = []
    for r in cmp.get("metrics") or []:
        base, ci = r.get("base"), r.get("ci")
        if not ci or not base or r.get("verdict") == "not enough data":
            continue
        rows.append(
            {
                "label": f"{r['id']} [{group_label(r.get('group'))}]",
                "rel": r.get("rel_diff"),
                "low": ci[0] / abs(base),
                "high": ci[1] / abs(base),
                "verdict": r["verdict"],
            }
        )
    return rows


def forest_plot(cmp: dict) -> dict | None:
    rows = _forest_rows(cmp)
    if not rows:
        return None
    colour = alt.Color(
        "verdict:N", scale=alt.Scale(domain=list(VERDICT_COLOURS), range=list(VERDICT_COLOURS.values()))
    )
    y = alt.Y("label:N", sort=None, title=None)
    base = alt.Chart(alt.Data(values=rows))
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("low:Q", axis=alt.Axis(format="%"), title="candidate vs base (relative)"),
        x2="high:Q",
        y=y,
        color=colour,
    )
    dots = base.mark_point(filled=True, size=50).encode(
        x="rel:Q",
        y=y,
        color=colour,
        tooltip=[
            alt.Tooltip("label:N"),
            alt.Tooltip("rel:Q", format="+.2%"),
            alt.Tooltip("low:Q", format="+.2%"),
            alt.Tooltip("high:Q", format="+.2%"),
            alt.Tooltip("verdict:N"),
        ],
    )
    zero = (
        alt.Chart(alt.Data(values=[{"x": 0}])).mark_rule(color="#57606a", strokeDash=[4, 3]).encode(x="x:Q")
    )
    chart = (bars + dots + zero).properties(
        width="container",
        height=max(120, 16 * len(rows)),
        title=f"Differences with {cmp['confidence']:.0%} intervals (relative to base)",
    )
    return chart.to_dict()


def ecdf_plot(cmp: dict) -> dict | None:
    rows = (cmp.get("series") or {}).get("ecdf") or []
    if not rows:
        return None
    chart = (
        alt.Chart(alt.Data(values=rows))
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("value:Q", title="seconds"),
            y=alt.Y("fraction:Q", title="fraction of ok requests", axis=alt.Axis(format="%")),
            color=alt.Color("side:N", title=None),
            tooltip=[
                "side:N",
                "metric:N",
                alt.Tooltip("value:Q", format=".4g"),
                alt.Tooltip("fraction:Q", format=".0%"),
            ],
        )
        .properties(width=480, height=220)
        .facet(column=alt.Column("metric:N", title=None))
        .resolve_scale(x="independent")
    )
    return chart.properties(title="Latency ECDFs, base against candidate (ok requests)").to_dict()


def sweep_plot(cmp: dict) -> dict | None:
    pts = (cmp.get("sweep") or {}).get("points") or []
    pts = [p for p in pts if p.get("output_tokens_per_s") is not None and p.get("p99_latency_s") is not None]
    if not pts:
        return None
    data = alt.Data(values=pts)
    x = alt.X("p99_latency_s:Q", title=f"p99 {cmp['sweep'].get('latency_metric')} (s)")
    y = alt.Y("output_tokens_per_s:Q", title="output tokens/s")
    front = (
        alt.Chart(data)
        .transform_filter("datum.pareto")
        .mark_line(color="#1a7f37")
        .encode(x=x, y=y, order="p99_latency_s:Q")
    )
    dots = (
        alt.Chart(data)
        .mark_point(filled=True, size=70)
        .encode(
            x=x,
            y=y,
            shape=alt.Shape("oversaturated:N", title="over-saturated"),
            color=alt.Color("pareto:N", title="Pareto"),
            tooltip=[
                "label:N",
                alt.Tooltip("offered_rate_per_s:Q", format=".3g"),
                alt.Tooltip("achieved_rate_per_s:Q", format=".3g"),
                alt.Tooltip("output_tokens_per_s:Q", format=".4g"),
                alt.Tooltip("p99_latency_s:Q", format=".4g"),
            ],
        )
    )
    return (
        (front + dots)
        .properties(width="container", height=300, title="Throughput against latency; line: Pareto frontier")
        .to_dict()
    )


def charts(cmp: dict) -> list[tuple[str, dict]]:
    out = []
    for cid, fn in (("forest", forest_plot), ("ecdf", ecdf_plot), ("sweep", sweep_plot)):
        spec = fn(cmp)
        if spec is not None:
            out.append((cid, spec))
    return out


def render_html(cmp: dict) -> str:

    specs: dict[str, Any] = dict(charts(cmp))
    title = cmp.get("title") or "traceana compare"
    gate = ""
    if cmp.get("rules"):
        fired = (cmp.get("verdict") or {}).get("fired") or []
        gate = (
            f'<span class="badge breached">gate failed: {e(", ".join(fired))}</span>'
            if fired
            else '<span class="badge met">gate passed</span>'
        )
    parts = [
        f"<h1>{e(title)}</h1>",
        f'<p class="note">generated {e(cmp.get("generated_at"))} by traceana {e(cmp.get("traceana_version"))}</p>',
        '<div id="traceana-errors"></div>',
        f'<div class="card">{e(headline(cmp))} {gate}</div>',
    ]
    parts += [f'<div class="card"><div class="chart" id="chart-{e(cid)}"></div></div>' for cid in specs]
    parts += [_table_html(t) for t in compare_tables(cmp)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style><script>{ONERROR}</script></head>"
        f'<body data-charts-expected="{len(specs)}"><main>' + "".join(parts) + "</main>"
        f'<script type="application/json" id="traceana-specs">{script_json(specs)}</script>'
        f"<script>{vega_bundle()}</script><script>{EMBED}</script></body></html>\n"
    )
