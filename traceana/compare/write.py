"""Writing a comparison: compare.html (offline), compare.md and compare.json, each atomically."""

from __future__ import annotations

from pathlib import Path

from traceana._atomic import write_text
from traceana.compare.html import render_html
from traceana.compare.render import render_json, render_markdown


def write_compare(cmp: dict, out_dir: str | Path) -> list[Path]:
    """compare.html (offline), compare.md and compare.json under ``out_dir`` (temp + rename each)."""
    out = Path(out_dir)
    return [
        write_text(out / name, text)
        for name, text in (
            ("compare.json", render_json(cmp)),
            ("compare.md", render_markdown(cmp)),
            ("compare.html", render_html(cmp)),
        )
    ]
