"""Open report.html in headless Chromium with networking off: every chart renders, no script error.

Saves test-artifacts/report.png (1280 x 4000 px screenshot of the sample_traces/ report).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.report.report_fake import fake_report
from traceana.config import load_config
from traceana.report import build_report, write_report
from traceana.report.charts import build_charts

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
HOSTILE = "</script><script>document.title='pwned'</script>"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("headless Chromium not installed (Debian package `chromium`; `make browser` installs it)")


def _run(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--mute-audio",
        "--hide-scrollbars",
        # networking off: every host resolves nowhere, so a CDN script could not load
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=15000",
    ]
    return subprocess.run(
        [_chromium(), *flags, *extra, page.as_uri()], capture_output=True, text=True, timeout=90
    )


def _render(tmp_path: Path, rep: dict) -> tuple[str, int]:
    write_report(rep, tmp_path / "out")
    page = tmp_path / "out" / "report.html"
    dom = _run(page, tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    return dom.stdout, len(build_charts(rep))


def _check_rendered(dom: str, n_charts: int) -> None:
    errors = re.search(r'<div id="traceana-errors">(.*?)</div>', dom, re.S)
    assert errors is not None, "error box missing from the DOM"
    assert errors.group(1).strip() == "", f"script errors in the page: {errors.group(1)[:2000]}"
    assert f'data-charts-rendered="{n_charts}"' in dom
    # one rendered Vega SVG per chart container
    containers = re.findall(r'<div class="chart[^"]*" id="chart-[^"]+"', dom)
    assert len(containers) == n_charts
    assert len(re.findall(r'<svg[^>]*class="marks"', dom)) == n_charts


@pytest.mark.browser
def test_report_renders_offline_with_screenshot(tmp_path):
    from traceana.ingest.inputs import open_inputs

    traces = ROOT / "sample_traces"
    cfg = load_config(traces / "traceana.toml")
    with open_inputs([str(traces / "requests.parquet"), str(traces / "engine_samples.parquet")]) as st:
        rep = build_report(
            st.requests(),
            st.engine_samples(),
            config=cfg,
            by=("model",),
            title="traceana report: sample_traces (simulated fleet day)",
        )
    dom, n = _render(tmp_path, rep)
    assert n >= 10
    _check_rendered(dom, n)
    ARTIFACTS.mkdir(exist_ok=True)
    page = tmp_path / "out" / "report.html"
    shot = _run(
        page, tmp_path / "profile-shot", f"--screenshot={ARTIFACTS / 'report.png'}", "--window-size=1280,4000"
    )
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000


@pytest.mark.browser
def test_hostile_model_name_does_not_execute(tmp_path):
    rep = fake_report(HOSTILE)
    dom, n = _render(tmp_path, rep)
    _check_rendered(dom, n)
    # had the injected script run, document.title would read 'pwned'
    assert (
        re.search(r"<title>(.*?)</title>", dom, re.S)
        .group(1)
        .startswith("report for &lt;/script&gt;&lt;script&gt;")
    )
