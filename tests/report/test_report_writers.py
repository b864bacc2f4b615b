"""HTML / Markdown / JSON writers: schema validity, escaping of hostile strings, self-containment, snapshots.

Update the snapshots after an intended change with:

    UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/report
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest

from tests.report.report_fake import fake_report
from tests.report.report_frames import synthetic_engine, synthetic_requests
from traceana.config import load_config
from traceana.report import build_report, write_report
from traceana.report.charts import build_charts
from traceana.report.html import render_html, script_json
from traceana.report.jsonout import SCHEMA_PATH, render_json
from traceana.report.markdown import md_cell, render_markdown
from traceana.report.series import MAX_ENGINE_ROWS, MAX_WINDOWS

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOTS = Path(__file__).parent / "snapshots"
HOSTILE = "</script><script>alert(1)</script>"
HOSTILE_MD = "a|b\n# heading <img src=x onerror=alert(1)> [link](javascript:alert(1)) *bold*"


def _validator():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


@pytest.fixture(scope="module")
def real_report() -> dict:
    cfg = load_config(ROOT / "sample_traces" / "traceana.toml")
    rep = build_report(
        synthetic_requests(n=1500), synthetic_engine(), config=cfg, by=("model",), title="synthetic"
    )
    rep["generated_at"] = "2025-01-02T00:00:00Z"  # the only non-deterministic field
    return rep


@pytest.fixture(scope="module")
def sample_report() -> dict:
    """The simulated fleet day of sample_traces/ (canonical Parquet) with its traceana.toml."""
    from traceana.ingest.inputs import open_inputs

    traces = ROOT / "sample_traces"
    cfg = load_config(traces / "traceana.toml")
    with open_inputs([str(traces / "requests.parquet"), str(traces / "engine_samples.parquet")]) as st:
        rep = build_report(
            st.requests(), st.engine_samples(), config=cfg, by=("model",), title="sample_traces"
        )
    rep["generated_at"] = "2025-11-18T00:00:00Z"
    return rep


def test_real_report_validates_against_schema(real_report, sample_report):
    _validator().validate(json.loads(render_json(real_report)))
    _validator().validate(json.loads(render_json(sample_report)))


def test_sample_traces_report_is_small(sample_report, tmp_path):
    write_report(sample_report, tmp_path)
    # a day at 2-minute windows: the page carries per-window aggregates, not 30k requests
    assert (tmp_path / "report.html").stat().st_size < 5_000_000
    assert sample_report["filters"]["every"] == "2m"
    sizes = {k: len(v) for k, v in sample_report["series"].items()}
    assert max(sizes.values()) <= MAX_ENGINE_ROWS, sizes
    assert sizes["concurrency"] <= MAX_WINDOWS + 1


def test_fake_report_validates_and_schema_rejects_missing_fields():
    v = _validator()
    v.validate(json.loads(render_json(fake_report())))
    broken = fake_report()
    del broken["requests"]["ok"]
    with pytest.raises(jsonschema.ValidationError):
        v.validate(json.loads(render_json(broken)))


def test_json_has_no_nan():
    rep = fake_report()
    rep["concurrency"]["ratio"] = float("nan")
    rep["slo"][0]["budget_remaining"] = float("-inf")
    text = render_json(rep)
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["concurrency"]["ratio"] is None


def test_script_json_cannot_close_the_script_block():
    text = script_json({"m": HOSTILE, "amp": "a&b", "ls": "\u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"m": HOSTILE, "amp": "a&b", "ls": "\u2028"}


def test_hostile_model_name_is_text_in_html():
    rep = fake_report(HOSTILE)
    page = render_html(rep, build_charts(rep))
    # the only <script> tags are ours: error hook, specs JSON, Vega bundle, embed code
    assert len(re.findall(r"<script\b", page)) == 4
    assert "alert(1)</script>" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text in the tables
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)" in page  # and as data in the chart specs


def test_html_is_self_contained():
    rep = fake_report()
    page = render_html(rep, build_charts(rep))
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"<link\b", page)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page.split("<script", 1)[0]
    assert "vegaEmbed" in page and 'data-charts-expected="13"' in page


def test_markdown_escapes_cells():
    cell = md_cell(HOSTILE_MD)
    assert "\n" not in cell and "<img" not in cell and "|" not in cell.replace("\\|", "")
    assert "\\[link\\]" in cell and "\\*bold\\*" in cell
    md = render_markdown(fake_report(HOSTILE_MD))
    table_lines = [ln for ln in md.splitlines() if ln.startswith(("| model=", "| all (model="))]
    assert table_lines, md
    # every table row keeps its column count: the name's "|" is escaped
    header = next(ln for ln in md.splitlines() if ln.startswith("| group | metric"))
    for ln in table_lines:
        assert len(re.findall(r"(?<!\\)\|", ln)) == len(re.findall(r"(?<!\\)\|", header))
    assert "<img" not in md and "<script" not in render_markdown(fake_report(HOSTILE))


def _snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") or not path.exists():
        path.write_text(text, encoding="utf-8")
        if not os.environ.get("UPDATE_SNAPSHOTS"):
            pytest.fail(f"snapshot {path.name} was missing and has been written; re-run")
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} changed. Update with: UPDATE_SNAPSHOTS=1 pytest tests/report"
    )


def test_markdown_snapshot_synthetic(real_report):
    _snapshot("synthetic.md", render_markdown(real_report))


def test_markdown_snapshot_sample_traces(sample_report):
    _snapshot("sample_traces.md", render_markdown(sample_report))


def test_write_report_files(tmp_path, real_report):
    paths = write_report(real_report, tmp_path)
    assert sorted(p.name for p in paths) == ["report.html", "report.json", "report.md"]
    assert json.loads((tmp_path / "report.json").read_text())["requests"]["total"] == 1500
    assert (tmp_path / "report.html").stat().st_size < 2_000_000


def test_vega_bundle_is_cached_on_disk_and_reused(tmp_path, monkeypatch):
    import vl_convert

    from traceana.report import html as html_mod

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    html_mod.vega_bundle.cache_clear()
    try:
        built = html_mod.vega_bundle()
        cached = tmp_path / "traceana" / f"vega-bundle-{vl_convert.__version__}.js"
        assert cached.read_text(encoding="utf-8") == built and "vegaEmbed" in built
        assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temporary left
        # a later process reads the file instead of rebuilding it
        cached.write_text("/* cached */", encoding="utf-8")
        html_mod.vega_bundle.cache_clear()
        assert html_mod.vega_bundle() == "/* cached */"
        # an empty cache file (e.g. a full disk) is rebuilt, not embedded
        cached.write_text("", encoding="utf-8")
        html_mod.vega_bundle.cache_clear()
        assert html_mod.vega_bundle() == built
        # an unwritable cache location still yields the bundle
        blocker = tmp_path / "file"
        blocker.write_text("x")
        monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
        html_mod.vega_bundle.cache_clear()
        assert html_mod.vega_bundle() == built
    finally:
        html_mod.vega_bundle.cache_clear()
