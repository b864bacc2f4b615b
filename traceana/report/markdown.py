"""The Markdown report: the headline and the tables, for a pull-request comment or a chat message.

Cells are escaped (:func:`md_cell`): HTML special characters become entities
(GitHub renders inline HTML), ``|`` is escaped, newlines become spaces, and
Markdown emphasis / link characters are backslash-escaped, so a hostile model
name stays text.
"""

from __future__ import annotations

import re
from typing import Any

from traceana.report.tables import Table, fmt_pct, report_tables, window_text

_MD_SPECIAL = re.compile(r"([\\`*_\[\]#!~])")

SECTION_TITLES = {
    "latency": "Latency",
    "budget": "Latency budget",
    "concurrency": "Concurrency",
    "engine": "KV cache and batch",
    "slo": "SLOs",
    "goodput": "Goodput",
    "cost": "Cost",
    "degradation": "Degradation choice",
    "checklist": "Trace checklist",
    "warnings": "Notes",
}


def md_cell(value: Any) -> str:
    """One table cell or inline text, safe in GitHub-flavoured Markdown."""
    s = "" if value is None else str(value)
    s = re.sub(r"[\r\n\t]+", " ", s)
    s = s.replace("&", "&amp;").replace("<", "&lt;")  # no tag, no entity; a bare ">" is harmless mid-line
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return s.replace("|", "\\|")


def _cell(c: Any) -> str:
    if isinstance(c, tuple):
        value, ci, reliable = c
        text = md_cell(value) + (f" <sub>{md_cell(ci)}</sub>" if ci else "")
        return text if reliable else f"<sub>~</sub>{text}"
    return md_cell(c)


def table_md(t: Table) -> str:
    align = ["---" if i < t.text_cols else "---:" for i in range(len(t.columns))]
    lines = [
        f"**{md_cell(t.title)}**",
        "",
        "| " + " | ".join(md_cell(c) for c in t.columns) + " |",
        "|" + "|".join(align) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    if t.note:
        lines += ["", f"_{md_cell(t.note)}_"]
    return "\n".join(lines)


def render_markdown(report: dict) -> str:
    """The Markdown document (deterministic for a given report dict, apart from ``generated_at``)."""
    w, r = report["window"], report["requests"]
    out = [f"# {md_cell(report.get('title') or 'traceana report')}", ""]
    out.append(f"Window: **{md_cell(window_text(w))}** ({(w.get('seconds') or 0):,.0f} s)  ")
    failed_by = ", ".join(
        f"{md_cell(k)} {v:,}" for k, v in sorted((r.get("by_status") or {}).items()) if k != "ok"
    )
    out.append(
        f"Requests: **{r['total']:,}** (ok {r['ok']:,}, failed {r['failed']:,}{'; ' + failed_by if failed_by else ''})  "
    )
    verdict = report.get("verdict") or {}
    if report.get("slo"):
        marks = []
        for s in report["slo"]:
            if s.get("not_measured"):
                marks.append(f"➖ {md_cell(s['name'])} not measured")
                continue
            ok = s.get("met") and not s.get("budget_exhausted")
            marks.append(
                f"{'✅' if ok else '❌'} {md_cell(s['name'])} {fmt_pct(s.get('attainment'), 3)} (objective {fmt_pct(s.get('objective'), 3)})"
            )
        out.append("SLOs: " + "; ".join(marks) + "  ")
        out.append(
            f"Verdict: **{'breached: ' + md_cell(', '.join(verdict.get('breached') or [])) if verdict.get('breached') else 'all SLOs met'}** "
            f"(exit code {verdict.get('exit_code', 0)})"
        )
    else:
        out.append("SLOs: none configured (exit code 0)")
    for key, tables in report_tables(report).items():
        out += ["", f"## {SECTION_TITLES.get(key, key)}", ""]
        out.append("\n\n".join(table_md(t) for t in tables))
    out += [
        "",
        f"<sub>traceana {md_cell(report.get('traceana_version'))}, report schema {md_cell(report.get('schema_version'))}</sub>",
        "",
    ]
    return "\n".join(out)
