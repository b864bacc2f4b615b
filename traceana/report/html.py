"""The self-contained HTML report: one file, opens offline, no network URL.

The Vega, Vega-Lite and vega-embed JavaScript is inlined from vl-convert's
bundle. Security: every user string in tables and text goes through
``html.escape``; chart specs are embedded as JSON in a ``<script>`` block with
``<``, ``>`` and ``&`` written as ``\\u003c``-style escapes (:func:`script_json`),
so a model named ``</script><script>alert(1)</script>`` stays data. A
``window.onerror`` hook writes any script error into ``#traceana-errors`` so a
headless browser test can read it from the DOM.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import os
from pathlib import Path
from typing import Any

from traceana.report.charts import missing_charts
from traceana.report.tables import Table, report_tables, window_text

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;background:#f6f8fa;line-height:1.45}
main{max-width:1100px;margin:0 auto;padding:16px}
h1{font-size:1.6rem;margin:.2rem 0}
h3{font-size:.95rem;margin:0 0 .4rem}
h2{font-size:1.2rem;margin:1.6rem 0 .4rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:12px 14px;margin:10px 0;overflow-wrap:anywhere}
.headline{display:flex;flex-wrap:wrap;gap:10px}
.kpi{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:8px 12px;min-width:140px;flex:1 1 140px}
.kpi .v{font-size:1.35rem;font-weight:600}.kpi .k{font-size:.8rem;color:#57606a}
.badge{display:inline-block;border-radius:12px;padding:2px 10px;margin:2px 4px 2px 0;font-size:.85rem;font-weight:600;color:#fff}
.badge.met{background:#1a7f37}.badge.breached{background:#cf222e}.badge.warn{background:#9a6700}.badge.na{background:#6e7781}
table{border-collapse:collapse;width:100%;table-layout:auto;font-size:.85rem}
th,td{border-bottom:1px solid #eaeef2;padding:4px 6px;text-align:right;vertical-align:top;overflow-wrap:break-word}
td:not(.t){white-space:nowrap}td:not(.t) .ci{white-space:normal}.nw{white-space:nowrap}
.tablewrap{overflow-x:auto}
th{background:#f6f8fa;font-weight:600}
td.t,th.t{text-align:left}
.ci{display:block;color:#57606a;font-size:.72rem}
.unreliable{color:#8c959f}
.note{color:#57606a;font-size:.85rem}
.window{font-size:1.05rem;margin:.2rem 0 .6rem}
.chart{width:100%;min-height:120px}
.v-ok{color:#1a7f37;font-weight:600}.v-bad{color:#cf222e;font-weight:600}.v-warn{color:#9a6700;font-weight:600}
#traceana-errors{color:#cf222e;white-space:pre-wrap}
"""

ONERROR = """
window.__traceanaErrors=[];
function __traceanaErr(m){window.__traceanaErrors.push(String(m));var e=document.getElementById('traceana-errors');if(e){e.textContent=window.__traceanaErrors.join('\\n');}}
window.onerror=function(msg,src,line,col){__traceanaErr(msg+' @'+line+':'+col);};
window.addEventListener('unhandledrejection',function(ev){__traceanaErr('unhandled rejection: '+(ev.reason&&ev.reason.message||ev.reason));});
"""

EMBED = """
(function(){
  var specs = JSON.parse(document.getElementById('traceana-specs').textContent);
  var done = 0, ids = Object.keys(specs);
  ids.forEach(function(id){
    vegaEmbed('#chart-' + id, specs[id], {actions:false, renderer:'svg'})
      .then(function(){ done += 1; document.body.setAttribute('data-charts-rendered', String(done)); })
      .catch(function(err){ __traceanaErr('chart ' + id + ': ' + (err && err.message || err)); });
  });
})();
"""


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "traceana"


@functools.lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one inline script (vl-convert's bundle, no network).

    vl-convert builds the bundle in ~1.8 s holding the GIL; it depends only on the
    vl-convert version, so it is kept in ``$XDG_CACHE_HOME/traceana`` (written
    atomically, skipped when that is not writable) and later reports read it.
    """
    import vl_convert

    version = getattr(vl_convert, "__version__", None)
    cached = _cache_dir() / f"vega-bundle-{version}.js" if version else None
    if cached is not None:
        try:
            js = cached.read_text(encoding="utf-8")
            if js:
                return js
        except (OSError, UnicodeDecodeError):
            pass
    # The bundle holds no "</script"; guard anyway so it can never end our <script> early.
    js = vl_convert.javascript_bundle().replace("</script", "<\\/script")
    if cached is not None:
        from traceana._atomic import write_text
        from traceana.errors import OutputError

        with contextlib.suppress(OutputError):  # a cache we cannot write is only slower next time
            write_text(cached, js)
    return js


def script_json(obj: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: ``<``, ``>``, ``&`` escaped as \\uXXXX."""
    text = json.dumps(obj, allow_nan=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _table_html(t: Table) -> str:
    head = "".join(
        f'<th class="{"t" if i < t.text_cols else ""}">{e(c)}</th>' for i, c in enumerate(t.columns)
    )
    body = []
    for row, meta in zip(t.rows, t.row_meta, strict=True):
        cells = []
        for i, cell in enumerate(row):
            cls = ["t"] if i < t.text_cols else []
            sub = ""
            if isinstance(cell, tuple):  # (value, ci text, reliable)
                value, ci, reliable = cell
                if not reliable:
                    cls.append("unreliable")
                # wrap a long interval only between its bounds, never inside "98.44 ms"
                halves = (
                    " ".join(f'<span class="nw">{e(h)}</span>' for h in ci.replace(", ", ",\n").split("\n"))
                    if ci
                    else ""
                )
                sub = f'<span class="ci">{halves}</span>' if ci else ""
                cell = value
            vcls = meta.get("verdict_col") == i and meta.get("verdict_class")
            if vcls:
                cls.append(vcls)
            cells.append(f'<td class="{" ".join(cls)}">{e(cell)}{sub}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = f'<p class="note">{e(t.note)}</p>' if t.note else ""
    return (
        f'<div class="card"><h3>{e(t.title)}</h3><div class="tablewrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{note}</div>"
    )


def _p99(rep: dict, metric: str) -> float | None:
    for r in rep.get("latency") or []:
        if not r.get("group") and r.get("metric") == metric:
            return r.get("p99")
    return None


def _headline(rep: dict) -> str:
    from traceana.report.tables import fmt_s

    w, r = rep["window"], rep["requests"]
    kpis = [
        ("requests", f"{r['total']:,}"),
        ("ok / failed", f"{r['ok']:,} / {r['failed']:,}"),
        ("p99 TTFT", fmt_s(_p99(rep, "ttft_s"))),
        ("p99 e2e latency", fmt_s(_p99(rep, "e2e_latency_s"))),
    ]
    gp = rep.get("goodput") or {}
    if gp.get("goodput_per_s") is not None:
        kpis.append(("goodput", f"{gp['goodput_per_s']:.3g} req/s"))
    boxes = "".join(
        f'<div class="kpi"><div class="k">{e(k)}</div><div class="v">{e(v)}</div></div>' for k, v in kpis
    )
    badges = []
    for s in rep.get("slo") or []:
        if s.get("not_measured"):
            cls, word = "na", "not measured"
        elif s.get("attainment") is None:
            cls, word = "na", "no data"
        elif not s.get("met"):
            cls, word = "breached", "breached"
        elif s.get("budget_exhausted"):
            cls, word = "breached", "budget exhausted"
        else:
            cls, word = "met", "met"
        att = s.get("attainment")
        att_s = f"{att:.3%}" if isinstance(att, float) else "n/a"
        obj = s.get("objective")
        obj_s = f"{obj:.3%}" if isinstance(obj, float) else "n/a"
        badges.append(
            f'<span class="badge {cls}">{e(s.get("name"))}: {e(word)} ({e(att_s)}, objective {e(obj_s)})</span>'
        )
    verdict = rep.get("verdict") or {}
    if verdict.get("breached"):
        vtext = f'<span class="badge breached">exit {verdict.get("exit_code")}: {len(verdict["breached"])} of {len(rep.get("slo") or [])} SLOs breached</span>'
    elif rep.get("slo"):
        vtext = '<span class="badge met">all SLOs met</span>'
    else:
        vtext = '<span class="badge na">no SLOs configured (give --config or --slo)</span>'
    return (
        f'<p class="window">{e(window_text(w))} ({(w.get("seconds") or 0):,.0f} s)</p>'
        f'<div class="headline">{boxes}</div><div class="card"><b>SLOs</b> {vtext}<br>{"".join(badges)}</div>'
    )


SECTIONS = [
    ("latency", "Latency"),
    ("budget", "Latency budget"),
    ("concurrency", "Concurrency and utilization"),
    ("engine", "KV cache and batch"),
    ("slo", "SLOs, error budget and alerts"),
    ("goodput", "Goodput"),
    ("cost", "Cost"),
    ("degradation", "Degradation choice"),
    ("checklist", "Trace checklist coverage"),
    ("warnings", "Notes"),
]


#: the report's notes that concern each section start with one of these (e.g. "concurrency: not computable: ...")
SECTION_NOTES = {
    "latency": ("latency",),
    "budget": ("latency budget",),
    "concurrency": ("concurrency", "queue vs utilization", "percentiles over time"),
    "engine": ("kv", "engine", "batch"),
    "slo": ("slo", "burn rate"),
    "goodput": ("goodput",),
    "cost": ("cost", "autoscaling"),
    "degradation": ("degradation",),
    "checklist": ("checklist",),
}


def empty_section_reasons(report: dict, key: str) -> list[str]:
    """Why a section shows neither a table nor a chart: its own notes, its charts' reasons, or one sentence."""
    prefixes = SECTION_NOTES.get(key, (key,))
    notes = [w for w in report.get("warnings") or [] if str(w).lower().startswith(prefixes)]
    charts = [why for _, sec, why in missing_charts(report) if sec == key]
    reasons = list(dict.fromkeys(notes + charts))
    return reasons or [
        "Nothing to show: the input holds none of the fields this section needs (see the trace checklist)."
    ]


def render_html(report: dict, charts: list[tuple[str, str, dict]]) -> str:
    """The full HTML document for ``report`` with ``charts`` (from charts.build_charts)."""
    tables = report_tables(report)
    parts = [
        f"<h1>{e(report.get('title') or 'traceana report')}</h1>",
        f'<p class="note">generated {e(report.get("generated_at"))} by traceana {e(report.get("traceana_version"))}</p>',
        '<div id="traceana-errors"></div>',
        _headline(report),
    ]
    for key, title in SECTIONS:
        body = [_table_html(t) for t in tables.get(key, [])]
        body += [
            f'<div class="card"><div class="chart" id="chart-{e(cid)}"></div></div>'
            for cid, sec, _ in charts
            if sec == key
        ]
        drawn = {cid for cid, _, _ in charts}
        body += [
            f'<p class="note chart-missing">{e(why)}</p>'
            for cid, sec, why in missing_charts(report)
            if sec == key and cid not in drawn and tables.get(key)
        ]
        if not body and key != "warnings":
            body = [
                f'<p class="note section-empty">{e(why)}</p>' for why in empty_section_reasons(report, key)
            ]
        if body:
            parts.append(f'<section id="sec-{key}"><h2>{e(title)}</h2>{"".join(body)}</section>')
    specs = {cid: spec for cid, _, spec in charts}
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(report.get('title') or 'traceana report')}</title><style>{CSS}</style>"
        f'<script>{ONERROR}</script></head><body data-charts-expected="{len(charts)}"><main>'
        + "".join(parts)
        + "</main>"
        f'<script type="application/json" id="traceana-specs">{script_json(specs)}</script>'
        f"<script>{vega_bundle()}</script><script>{EMBED}</script></body></html>\n"
    )
