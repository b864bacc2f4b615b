"""Chart specs: every chart has data only in named datasets, tooltips, x-zoom on time axes; PNG export."""

from __future__ import annotations

import json

import pytest

from tests.report.report_fake import fake_report
from traceana.report import write_images
from traceana.report.charts import CHARTS, build_charts


def _walk(node):
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


@pytest.fixture(scope="module")
def charts():
    return build_charts(fake_report())


def test_every_chart_is_built_from_the_fake_report(charts):
    assert [c[0] for c in charts] == [cid for cid, _, _ in CHARTS]


def test_data_lives_in_named_datasets(charts):
    for cid, _, spec in charts:
        assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
        inline = [
            n for n in _walk(spec) if "values" in n and isinstance(n.get("values"), list) and n is not spec
        ]
        assert not inline, f"{cid}: inline data outside datasets"
        names = {n["name"] for n in _walk(spec) if set(n) >= {"name"} and n.get("name") in spec["datasets"]}
        assert names == set(spec["datasets"]), cid


def test_tooltips_and_time_zoom(charts):
    for cid, _, spec in charts:
        encodings = [n["encoding"] for n in _walk(spec) if "encoding" in n]
        assert any("tooltip" in enc for enc in encodings), f"{cid}: no tooltip"
        temporal = any(
            isinstance(v, dict) and v.get("type") == "temporal" and k == "x"
            for enc in encodings
            for k, v in enc.items()
        )
        zoom = [
            p
            for n in _walk(spec)
            for p in n.get("params", [])
            if isinstance(p, dict) and p.get("bind") == "scales"
        ]
        if temporal:
            assert zoom and all(p["select"]["encodings"] == ["x"] for p in zoom), (
                f"{cid}: time axis without x zoom"
            )


def test_chart_rows_are_trimmed(charts):
    spec = dict((c[0], c[2]) for c in charts)["kv_usage"]
    row = spec["datasets"]["main"][0]
    assert set(row) == {"window_start", "instance", "kv_cache_usage"}
    pct = dict((c[0], c[2]) for c in charts)["percentiles_over_time"]["datasets"]["main"][0]
    assert all(len(repr(v)) <= 8 for v in pct.values() if isinstance(v, float))  # 4 significant digits


def test_no_chart_when_series_is_empty():
    rep = fake_report()
    rep["series"] = {k: [] for k in rep["series"]}
    rep["latency_budget"], rep["cost"] = [], None
    assert build_charts(rep) == []


def test_png_export(tmp_path, charts):
    paths = write_images(charts[:1], tmp_path, "png")
    assert paths[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.dumps(charts[0][2]).count('"container"') >= 1  # the HTML spec stays responsive
