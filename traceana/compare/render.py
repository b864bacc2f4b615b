"""The comparison's tables (format-neutral), its Markdown, and the writer of compare.{html,md,json}.

Tables reuse :class:`traceana.report.tables.Table`, so the report's Markdown and
HTML cell escaping apply unchanged (every user string is escaped by the writer).
Files are written atomically (temporary file + rename).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from traceana.report.series import clean
from traceana.report.tables import Table, fmt_num, fmt_pct, fmt_s, group_label

VERDICT_CLASS = {
    "better": "v-ok",
    "worse": "v-bad",
    "changed": "v-warn",
    "no significant change": "",
    "not enough data": "v-warn",
}


def fmt_value(v: Any, unit: str, infinite: bool = False) -> str:
    """A metric value in its unit: seconds as ms / s, fractions as %, rates with their unit."""
    if infinite:
        return "∞ (failed)"
    if v is None:
        return "n/a"
    if unit == "s":
        return fmt_s(v)
    if unit in ("fraction", "probability"):
        return fmt_pct(v, 2)
    return f"{fmt_num(float(v))} {unit}"


def fmt_p(p: float | None) -> str:
    """A p-value; 0 (below the smallest double the normal tail reaches) as '< 1e-300'."""
    if p is None:
        return "n/a"
    return "< 1e-300" if p == 0 else f"{p:.3g}"


def fmt_diff(v: Any, unit: str) -> str:
    if v is None:
        return "n/a"
    sign = "+" if v > 0 else ""
    if unit == "s":
        return sign + fmt_s(v) if v >= 0 else "-" + fmt_s(-v)
    if unit in ("fraction", "probability"):
        return f"{sign}{v * 100:.2f}pp"
    return f"{sign}{fmt_num(float(v))}"


def metrics_table(cmp: dict) -> Table:
    rows, meta = [], []
    for r in cmp["metrics"]:
        ci = r.get("ci")
        unit = r["unit"]
        ci_text = f"[{fmt_diff(ci[0], unit)}, {fmt_diff(ci[1], unit)}]" if ci else "n/a"
        rel = f"{r['rel_diff'] * 100:+.1f}%" if r.get("rel_diff") is not None else "n/a"
        p = r.get("p_adjusted")
        rows.append(
            [
                group_label(r.get("group")),
                r["id"],
                fmt_value(r["base"], unit, r.get("base_infinite", False)),
                fmt_value(r["candidate"], unit, r.get("candidate_infinite", False)),
                fmt_diff(r["diff"], unit),
                rel,
                ci_text,
                fmt_p(p),
                r["verdict"],
                r.get("note") or "",
            ]
        )
        meta.append({"verdict_col": 8, "verdict_class": VERDICT_CLASS.get(r["verdict"], "")})
    adj = cmp["adjustment"]
    note = (
        f"diff = candidate - base; interval: {cmp['confidence']:.0%} for the difference (unadjusted); p: adjusted by "
        f"{adj['name']} over {adj['family_size']} tests; a verdict other than 'no significant change' needs adjusted p < "
        f"{adj['alpha']:g}. Quantile intervals: {cmp['bootstrap']['method']} ({cmp['bootstrap']['resamples']} resamples, "
        f"seed {cmp['bootstrap']['seed']}). shift(x): P(candidate > base) by Mann-Whitney U; KS in the JSON."
    )
    return Table(
        "Metrics: base against candidate",
        [
            "group",
            "metric",
            "base",
            "candidate",
            "diff",
            "relative",
            "95% CI of diff",
            "p (adjusted)",
            "verdict",
            "note",
        ],
        rows,
        text_cols=2,
        note=note,
        row_meta=meta,
    )


def rules_table(cmp: dict) -> Table:
    rows, meta = [], []
    for r in cmp.get("rules") or []:
        rows.append([r["rule"], r["metric"], r["status"]])
        meta.append({"verdict_col": 2, "verdict_class": "v-bad" if r["fired"] else "v-ok"})
    return Table(
        "CI gate (--fail-on)",
        ["rule", "reads", "outcome"],
        rows,
        text_cols=3,
        row_meta=meta,
        note="A rule fires only when the difference is significant and beyond its threshold.",
    )


def sweep_table(cmp: dict) -> Table:
    rows = []
    for p in (cmp.get("sweep") or {}).get("points") or []:
        rows.append(
            [
                p["label"],
                fmt_num(p.get("offered_rate_per_s")),
                fmt_num(p.get("achieved_rate_per_s")),
                fmt_num(p.get("output_tokens_per_s")),
                fmt_s(p.get("p99_latency_s")),
                fmt_s(p.get("median_queue_s")),
                "yes" if p.get("pareto") else "no",
                "yes" if p.get("oversaturated") else "no",
            ]
        )
    sw = cmp.get("sweep") or {}
    return Table(
        "Sweep: throughput against latency",
        [
            "run",
            "offered req/s",
            "achieved req/s",
            "output tok/s",
            f"p99 {sw.get('latency_metric', '')}",
            f"median {sw.get('queue_metric', 'queue')}",
            "Pareto",
            "over-saturated",
        ],
        rows,
        text_cols=1,
        note=sw.get("note", ""),
    )


def compare_tables(cmp: dict) -> list[Table]:
    out = []
    if cmp.get("metrics"):
        out.append(metrics_table(cmp))
    if cmp.get("rules"):
        out.append(rules_table(cmp))
    if cmp.get("sweep"):
        out.append(sweep_table(cmp))
    if cmp.get("warnings"):
        out.append(Table("Notes", ["note"], [[w] for w in cmp["warnings"]]))
    return out


def headline(cmp: dict) -> str:
    """One line: the sides and the verdict counts."""
    if cmp.get("sweep"):
        pts = cmp["sweep"]["points"]
        return f"sweep of {len(pts)} runs; on the Pareto frontier: {', '.join(p['label'] for p in pts if p['pareto']) or 'none'}"
    b, c = cmp.get("base") or {}, cmp.get("candidate") or {}
    counts = ", ".join(f"{k} {v}" for k, v in (cmp.get("summary") or {}).items())
    return (
        f"base: {b.get('label')} ({b.get('requests', 0):,} requests) against candidate: {c.get('label')} "
        f"({c.get('requests', 0):,} requests): {counts or 'nothing compared'}"
    )


def render_markdown(cmp: dict) -> str:
    from traceana.report.markdown import md_cell, table_md

    out = [f"# {md_cell(cmp.get('title') or 'traceana compare')}", "", md_cell(headline(cmp)), ""]
    v = cmp.get("verdict") or {}
    if cmp.get("rules"):
        fired = v.get("fired") or []
        out += [
            f"Gate: **{'failed: ' + md_cell(', '.join(fired)) if fired else 'passed'}** (exit code {v.get('exit_code', 0)})",
            "",
        ]
    out.append("\n\n".join(table_md(t) for t in compare_tables(cmp)))
    out += [
        "",
        f"<sub>traceana {md_cell(cmp.get('traceana_version'))}, compare schema {md_cell(cmp.get('schema_version'))}</sub>",
        "",
    ]
    return "\n".join(out)


def render_json(cmp: dict) -> str:
    return json.dumps(clean(cmp), indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def summary_lines(cmp: dict, written: list[Path] = ()) -> list[str]:
    """The terminal summary: the headline, each significant difference, the gate, the files written."""
    lines = [headline(cmp)]
    for r in cmp.get("metrics") or []:
        if r["verdict"] in ("better", "worse", "changed"):
            rel = f" ({r['rel_diff'] * 100:+.1f}%)" if r.get("rel_diff") is not None else ""
            lines.append(
                f"  {r['verdict']:<7} {group_label(r.get('group'))}: {r['id']} {fmt_value(r['base'], r['unit'])} -> "
                f"{fmt_value(r['candidate'], r['unit'])}{rel}, adjusted p {fmt_p(r['p_adjusted'])}"
            )
    if cmp.get("metrics"):
        lines.append(
            f"  p-values adjusted by {cmp['adjustment']['name']} over {cmp['adjustment']['family_size']} tests"
        )
    for p in (cmp.get("sweep") or {}).get("points") or []:
        flags = ", ".join(
            f for f, on in (("Pareto", p["pareto"]), ("over-saturated", p["oversaturated"])) if on
        )
        lines.append(
            f"  {p['label']}: {fmt_num(p.get('output_tokens_per_s'))} tok/s, p99 {fmt_s(p.get('p99_latency_s'))}"
            + (f" [{flags}]" if flags else "")
        )
    for r in cmp.get("rules") or []:
        lines.append(f"  {'FAILED' if r['fired'] else 'ok    '} {r['rule']}: {r['status']}")
    lines += [f"note: {w}" for w in cmp.get("warnings") or []]
    lines += [f"wrote {p}" for p in written]
    return lines
