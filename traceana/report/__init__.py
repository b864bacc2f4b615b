"""The SLO report and cost audit: report dict -> report.html (offline), report.md, report.json.

from traceana.report import build_report, write_report
rep = build_report(requests_lf, engine_lf, config=cfg, by=("model",))
paths = write_report(rep, "out/")          # report.html, report.md, report.json
"""

from __future__ import annotations

from pathlib import Path

from traceana.report.build import build_report, verdict

__all__ = ["build_report", "verdict", "write_report", "write_images"]


def write_report(report: dict, out_dir: str | Path, images: str | None = None) -> list[Path]:
    """Write report.html, report.md and report.json (and chart images when ``images`` is "png" or "svg")."""
    from traceana._atomic import write_text
    from traceana.report.charts import build_charts
    from traceana.report.html import render_html
    from traceana.report.jsonout import render_json
    from traceana.report.markdown import render_markdown

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from traceana.errors import OutputError

        raise OutputError(str(out), f"cannot create the output directory: {exc.strerror or exc}") from None
    charts = build_charts(report)
    paths = []
    for name, text in (
        ("report.html", render_html(report, charts)),
        ("report.md", render_markdown(report)),
        ("report.json", render_json(report)),
    ):
        paths.append(write_text(out / name, text))  # temp + rename: never a partial report
    if images:
        paths += write_images(charts, out / "charts", images)
    return paths


def write_images(charts: list[tuple[str, str, dict]], out_dir: Path, fmt: str = "png") -> list[Path]:
    """One PNG or SVG per chart via vl-convert (no browser). Container-width charts get a fixed 900 px."""
    import vl_convert

    from traceana._atomic import write_bytes, write_text

    paths = []
    for chart_id, _, spec in charts:
        spec = _fixed_width(spec, 900)
        p = out_dir / f"{chart_id}.{fmt}"
        if fmt == "svg":
            write_text(p, vl_convert.vegalite_to_svg(spec))
        else:
            write_bytes(p, vl_convert.vegalite_to_png(spec, scale=1.5))
        paths.append(p)
    return paths


def _fixed_width(spec: dict, width: int) -> dict:
    """A copy with every ``"container"`` width replaced (a static image has no container)."""
    if isinstance(spec, dict):
        return {
            k: (width if k == "width" and v == "container" else _fixed_width(v, width))
            for k, v in spec.items()
        }
    if isinstance(spec, list):
        return [_fixed_width(v, width) for v in spec]
    return spec
